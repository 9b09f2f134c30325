"""``luchtwacht adsb``: Mode S / ADS-B tools for the manned-aircraft feed.

``decode FILE`` reads a dump1090/readsb capture (AVR text, Beast binary or SBS-1 CSV, detected
from its content) and writes one JSON object per decoded message to stdout: icao, df, tc, kind
and every decoded field in SI units and degrees (``alt_baro_m``, ``gs_ms``, ``vrate_ms``, ``lat``,
``lon``, …). Rejected input is counted; a JSON summary line goes to stderr. Decoding is
:mod:`luchtwacht.ingest.modes`, the same code the live feed pipe runs.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, Literal

import typer

if TYPE_CHECKING:  # pyModeS loads when a decode runs, not with every ``luchtwacht`` command
    from luchtwacht.ingest.modes import Format, ModeSReport, ModeSStream

CHUNK_BYTES = 1 << 16

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Mode S / ADS-B (manned aircraft) tools: decode dump1090/readsb captures.",
)


class InputFormat(StrEnum):
    """Capture formats of ``decode``; ``auto`` detects from the content."""

    AUTO = "auto"
    AVR = "avr"
    BEAST = "beast"
    SBS = "sbs"


_STREAM_FORMAT: dict[InputFormat, Format | Literal["auto"]] = {
    InputFormat.AUTO: "auto",
    InputFormat.AVR: "avr",
    InputFormat.BEAST: "beast",
    InputFormat.SBS: "sbs",
}


@app.callback()
def _adsb() -> None:
    """Mode S / ADS-B (manned aircraft) tools."""


def _write(reports: list[ModeSReport]) -> None:
    if reports:
        lines = (json.dumps(r.as_json(), separators=(",", ":")) for r in reports)
        sys.stdout.write("\n".join(lines) + "\n")


def _decode_stream(source: BinaryIO, stream: ModeSStream) -> None:
    """Decode a whole capture chunk by chunk; times come from the capture, not the clock."""
    while chunk := source.read(CHUNK_BYTES):
        _write(stream.reports(chunk, t_rx_s=0.0))
    _write(stream.finish(t_rx_s=0.0))


@app.command()
def decode(
    file: Annotated[
        Path,
        typer.Argument(help="Capture to decode (AVR, Beast or SBS); '-' reads stdin."),
    ],
    fmt: Annotated[
        InputFormat, typer.Option("--format", "-f", help="Capture format.")
    ] = InputFormat.AUTO,
    lat: Annotated[
        float | None,
        typer.Option(help="Receiver latitude, degrees (with --lon).", min=-90.0, max=90.0),
    ] = None,
    lon: Annotated[
        float | None,
        typer.Option(help="Receiver longitude, degrees (with --lat).", min=-180.0, max=180.0),
    ] = None,
    max_range_nm: Annotated[
        float,
        typer.Option(
            help="With --lat/--lon: farthest position accepted, NM. Up to 180 NM the receiver "
            "also serves as reference for single-frame (local) CPR decoding.",
            min=1.0,
        ),
    ] = 180.0,
) -> None:
    """Decode a capture to JSON lines on stdout, one per decoded message; summary on stderr.

    Exits 0 when at least one message decoded, 1 otherwise. Without timestamps in the capture
    (plain AVR), even/odd CPR frames pair in arrival order.
    """
    if (lat is None) != (lon is None):
        raise typer.BadParameter("give both --lat and --lon, or neither", param_hint="--lat/--lon")
    if str(file) != "-" and not file.is_file():
        raise typer.BadParameter(f"no such file: {file}", param_hint="FILE")
    receiver = (lat, lon) if lat is not None and lon is not None else None
    from luchtwacht.ingest.modes import NM_M, ModeSStream

    stream = ModeSStream(
        _STREAM_FORMAT[fmt],
        receiver,
        label=str(file),
        max_range_m=max_range_nm * NM_M,
        resync_s=None,
    )
    if str(file) == "-":
        _decode_stream(sys.stdin.buffer, stream)
    else:
        with file.open("rb") as source:
            _decode_stream(source, stream)
    summary = {"file": str(file), "format": stream.fmt, **stream.counters.as_dict()}
    typer.echo(json.dumps(summary, separators=(",", ":")), err=True)
    raise typer.Exit(0 if stream.counters.decoded else 1)
