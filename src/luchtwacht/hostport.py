"""``HOST:PORT`` addresses in configuration files: parsed and checked when a file is read.

Kept apart from ``site`` so that the parts a site file configures (the publishers among them)
can use it without importing the site file's model.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def parse_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); port 0 asks the OS for a free one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r}: port {port!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"{text!r}: port out of range")
    return host.strip("[]"), number


def _checked_hostport(text: str) -> str:
    parse_hostport(text)
    return text


HostPort = Annotated[str, AfterValidator(_checked_hostport)]
"""A ``HOST:PORT`` string, checked when the file is read."""
