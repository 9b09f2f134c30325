"""Operator-facing views: the live terminal view now; the web console joins it later."""
