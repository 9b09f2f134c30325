"""Logs to a file as JSON lines (``--log-file``): one object per record, for journald or a SIEM.

Each line holds ``ts`` (ISO 8601 UTC, milliseconds), ``level``, ``logger`` and ``message``;
an exception adds ``error`` (its type and text in one line, never a multi-line traceback, so a
line is always one record). The file takes INFO and above whatever the terminal shows.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (no trailing newline; the handler adds it)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out: dict[str, object] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error"] = f"{type(exc).__name__}: {exc}"
        return json.dumps(out, ensure_ascii=False)


_ours: list[logging.Handler] = []  # what configure() added, replaced when it is called again


def configure(verbose: bool, log_file: Path | None) -> None:
    """Terminal logging (errors, or warnings with ``-v``) and, if given, the JSON-lines file."""
    root = logging.getLogger()
    for old in _ours:
        root.removeHandler(old)
        old.close()
    _ours.clear()
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING if verbose else logging.ERROR)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.INFO)
        file_handler.setFormatter(JsonLineFormatter())
        handlers.append(file_handler)
    for h in handlers:
        root.addHandler(h)
    _ours.extend(handlers)
    # The handlers choose what each shows; the root lets through what the most talkative needs,
    # and never less than Python's default (WARNING), so a second call in one process (tests)
    # leaves other code's warnings visible.
    root.setLevel(logging.INFO if log_file is not None else logging.WARNING)
