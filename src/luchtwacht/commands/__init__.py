"""Sub-command apps of the ``luchtwacht`` command line, one module per tool."""
