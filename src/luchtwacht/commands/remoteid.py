"""``remoteid`` commands: broadcast Remote ID (ASTM F3411 / Open Drone ID) from capture files.

``decode CAPTURE`` reads a pcap or pcapng file (Wi-Fi beacon / NAN via radiotap or bare 802.11,
Bluetooth LE via linktypes 251, 256 and 272) and writes one JSON object per decoded message to
stdout, so a recorded flight can be piped into ``jq``, a spreadsheet or a replay tool. The first
keys of every line are ``time`` (capture time, ISO 8601 UTC), ``transport``, ``mac`` and
``message_type``, followed by every field of the message in SI units and degrees (see
:func:`luchtwacht.ingest.remoteid_capture.message_fields`) and by what the capture knew about the
frame (``record``, and for Bluetooth ``counter``, ``pdu_type``, ``phy``, ``rssi_dbm``). A summary
of records, decoded frames, skipped frames and malformed frames goes to stderr.

Exit status: 0 when at least one message was decoded (even if other frames were skipped or
malformed), 1 when the file could not be read or yielded no Remote ID message at all, so a
script or a pipeline notices a capture that decodes to nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from luchtwacht.ingest.remoteid_capture import (
    CaptureStats,
    DecodedFrame,
    JsonValue,
    iter_capture_messages,
    message_fields,
    utc_iso,
)
from luchtwacht.transport.pcap import PcapError

__all__ = ["app", "frame_records"]

_MAX_ERROR_LINES = 20

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Broadcast Remote ID (ASTM F3411 / Open Drone ID) tools.",
)


@app.callback()
def _group() -> None:
    """Broadcast Remote ID (ASTM F3411 / Open Drone ID) tools."""


def frame_records(frame: DecodedFrame) -> list[dict[str, JsonValue]]:
    """The JSON objects written for one decoded frame, one per message it carried."""
    records = []
    for message in frame.messages:
        record: dict[str, JsonValue] = {
            "time": utc_iso(frame.timestamp_s),
            "transport": frame.transport,
            "mac": frame.mac,
        }
        record.update(message_fields(message))
        record["record"] = frame.index
        if frame.transport.startswith("bt"):
            record["counter"] = frame.counter
            record["pdu_type"] = frame.pdu_type
            record["phy"] = frame.phy
            record["rssi_dbm"] = frame.rssi_dbm
        records.append(record)
    return records


def _summary(capture: Path, stats: CaptureStats, kinds: Counter[str], senders: Counter[str]) -> str:
    """Human summary for stderr: totals, per-transmitter counts, skips and malformed frames."""
    out = [
        f"{capture}: {stats.records} records, {stats.frames} frames with Remote ID, "
        f"{stats.messages} messages"
        + (f" ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})" if kinds else "")
    ]
    for sender, count in sorted(senders.items()):
        out.append(f"  {sender}: {count} frames")
    skipped = sum(stats.skipped.values())
    if skipped:
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(stats.skipped.items()))
        out.append(f"  skipped {skipped} frames without Open Drone ID ({reasons})")
    if stats.errors:
        by_field = Counter(e.error.field for e in stats.errors)
        fields_text = ", ".join(f"{k} {n}" for k, n in sorted(by_field.items()))
        out.append(f"  malformed {len(stats.errors)} frames ({fields_text})")
        for err in stats.errors[:_MAX_ERROR_LINES]:
            out.append(f"    record {err.index} (linktype {err.linktype}): {err.error}")
        if len(stats.errors) > _MAX_ERROR_LINES:
            out.append(f"    ... {len(stats.errors) - _MAX_ERROR_LINES} more")
    if stats.truncated:
        out.append(f"  capture damaged after record {stats.records - 1}: {stats.truncated}")
    return "\n".join(out)


@app.command()
def decode(
    capture: Annotated[
        Path, typer.Argument(help="pcap or pcapng capture (802.11 / radiotap or Bluetooth LE).")
    ],
) -> None:
    """Decode every Remote ID message in a capture to JSON lines on stdout (summary on stderr)."""
    try:
        data = capture.read_bytes()
    except OSError as exc:
        typer.echo(f"remoteid decode: cannot read {capture}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    stats = CaptureStats()
    kinds: Counter[str] = Counter()
    senders: Counter[str] = Counter()
    try:
        for frame in iter_capture_messages(data, stats):
            senders[f"{frame.mac or '(no address)'} {frame.transport}"] += 1
            for record in frame_records(frame):
                kinds[str(record["message_type"])] += 1
                typer.echo(json.dumps(record, allow_nan=False))
    except PcapError as exc:
        typer.echo(f"remoteid decode: {capture} is not a readable capture: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(_summary(capture, stats, kinds, senders), err=True)
    if stats.messages == 0:
        typer.echo(f"remoteid decode: no Remote ID message in {capture}", err=True)
        raise typer.Exit(1)
