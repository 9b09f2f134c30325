"""Transport helpers: capture-file readers and link-layer framing."""
