"""The one error type of the evidence package: a one-line message naming the file or value."""

from __future__ import annotations


class EvidenceError(Exception):
    """A recording, key, folder or argument the evidence commands cannot use (usage, exit 2)."""
