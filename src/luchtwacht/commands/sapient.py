"""``luchtwacht sapient``: check SAPIENT (BSI Flex 335 v2.0) messages against the ICD's rules.

``validate FILE...`` reads protobuf JSON (camelCase or original field names, UTF-8 with or without
a byte-order mark) or, with ``--binary``, serialized ``SapientMessage`` bytes: one bare message, or
the TCP framing (4-byte little-endian length before each message) with one or more frames. It
prints one line per message — ``PATH: OK (kind)`` or ``PATH: INVALID field: rule (detail)``, with
``#n`` after the path for the n-th frame of a multi-frame file — and exits 1 if any is invalid.
The rules are those of :mod:`luchtwacht.ingest.sapient_rules`; a file that is not even protobuf
is invalid with the parser's reason.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the protobuf bindings load when a check runs, not with every command
    from luchtwacht.ingest.sapient import SapientError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="SAPIENT (BSI Flex 335 v2.0) tools.",
)


@app.callback()
def _group() -> None:
    """SAPIENT tools (kept a group so ``validate`` stays a sub-command)."""


_LEN = struct.Struct("<I")


def _one_line(text: str) -> str:
    """The parser's reason on one line (its messages may list every field on further lines)."""
    first = text.strip().splitlines()[0] if text.strip() else text
    return " ".join(first.split())


def check_json(text: str) -> str:
    """Validate one protobuf-JSON SapientMessage; return its kind or raise :class:`SapientError`."""
    from google.protobuf import json_format

    from luchtwacht.ingest.sapient import SapientError, SapientMessage, validate

    msg = SapientMessage()
    try:
        json_format.Parse(text, msg)
    except json_format.ParseError as exc:
        raise SapientError("SapientMessage", "not protobuf JSON", _one_line(str(exc))) from None
    return validate(msg)


def check_binary(body: bytes) -> str:
    """Validate one serialized SapientMessage; return its kind or raise :class:`SapientError`."""
    from luchtwacht.ingest.sapient import parse_message, validate

    return validate(parse_message(body))


def binary_messages(data: bytes) -> list[bytes]:
    """The messages of a binary file: its frames if it is framed, else the whole file as one.

    A file is framed when its first four bytes (little-endian) give the length of what follows,
    or when length-prefixed frames cover it exactly; a bare ``SapientMessage`` starts with a field
    tag whose bytes read as an absurd length, so the two do not mix up.
    """
    from luchtwacht.transport.sapient_tcp import split_frames

    if len(data) >= 4 and _LEN.unpack_from(data, 0)[0] == len(data) - 4:
        return [data[4:]]
    frames = split_frames(data)
    return frames if frames is not None else [data]


def _results(path: Path, binary: bool) -> Iterator[tuple[str, str | SapientError]]:
    """(label, kind or error) for every message in ``path``."""
    from luchtwacht.ingest.sapient import SapientError

    label = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        yield label, SapientError("file", "unreadable", exc.strerror or str(exc))
        return
    if not binary:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield label, SapientError("file", "not UTF-8 text", str(exc))
            return
        try:
            yield label, check_json(text)
        except SapientError as exc:
            yield label, exc
        return
    bodies = binary_messages(raw)
    for i, body in enumerate(bodies, start=1):
        name = f"{label}#{i}" if len(bodies) > 1 else label
        try:
            yield name, check_binary(body)
        except SapientError as exc:
            yield name, exc


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Messages to check (protobuf JSON).")],
    binary: Annotated[
        bool,
        typer.Option(
            "--binary",
            help="Files hold serialized SapientMessage bytes (bare, or length-prefixed frames).",
        ),
    ] = False,
) -> None:
    """Check each message against the BSI Flex 335 v2.0 rules; exit 1 if any is invalid."""
    from luchtwacht.ingest.sapient import SapientError

    invalid = 0
    for label, result in (r for path in files for r in _results(path, binary)):
        if isinstance(result, SapientError):
            invalid += 1
            typer.echo(f"{label}: INVALID {result}")
        else:
            typer.echo(f"{label}: OK ({result})")
    if invalid:
        raise typer.Exit(code=1)
