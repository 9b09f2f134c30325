"""``luchtwacht asterix``: look inside ASTERIX recordings (CAT048/034, CAT062/065, CAT021).

``decode FILE`` reads raw ASTERIX (data blocks back to back, as a recorder writes a UDP feed) or a
pcap/pcapng capture of the UDP datagrams, and writes one JSON object per record per line, every
value in SI units or degrees. Errors go to standard error naming the item at fault; data blocks
of a category Luchtwacht does not read are named there too, and skipped.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:  # imported where used: libasterix's generated specs take ~1 s to load
    from luchtwacht.ingest.asterix import AsterixError, AsterixRecord

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(
        "ASTERIX tools: CAT048/034 (radar plots, service messages), CAT062/065 (system tracks,"
        " SDPS service messages) and CAT021 (ADS-B reports)."
    ),
)


@app.callback()
def _group() -> None:
    """ASTERIX tools (kept a group so ``decode`` stays a sub-command)."""


LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101  # bare IPv4/IPv6 packet
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_ETHERTYPE_VLAN = (0x8100, 0x88A8, 0x9100)
_IPPROTO_UDP = 17


class Cat021Edition(StrEnum):
    """Which CAT021 UAP ``decode`` reads (the data does not say)."""

    v2 = "2.x"
    v0 = "0.26"


class InputFormat(StrEnum):
    """How ``decode`` reads its file."""

    auto = "auto"
    raw = "raw"
    pcap = "pcap"


_PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
)


def udp_payload(linktype: int, frame: bytes) -> bytes | None:
    """The UDP payload of a captured frame (Ethernet/VLAN, Linux SLL or raw IP), else ``None``.

    IPv4 fragments after the first and IPv6 packets with extension headers are not reassembled
    and give ``None``, like anything that is not UDP.
    """
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype, offset = struct.unpack_from("!H", frame, 12)[0], 14
        while ethertype in _ETHERTYPE_VLAN and len(frame) >= offset + 4:
            ethertype, offset = struct.unpack_from("!H", frame, offset + 2)[0], offset + 4
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        ethertype, offset = struct.unpack_from("!H", frame, 14)[0], 16
    elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        if not frame:
            return None
        ethertype = _ETHERTYPE_IPV4 if frame[0] >> 4 == 4 else _ETHERTYPE_IPV6
        offset = 0
    else:
        return None
    packet = frame[offset:]
    if ethertype == _ETHERTYPE_IPV4 and len(packet) >= 20 and packet[0] >> 4 == 4:
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        frag = struct.unpack_from("!H", packet, 6)[0]
        if packet[9] != _IPPROTO_UDP or frag & 0x3FFF or ihl < 20:
            return None  # not UDP, or a fragment (offset ≠ 0 or more-fragments set)
        segment = packet[ihl : min(total, len(packet))]
    elif ethertype == _ETHERTYPE_IPV6 and len(packet) >= 40 and packet[0] >> 4 == 6:
        if packet[6] != _IPPROTO_UDP:
            return None
        segment = packet[40 : 40 + struct.unpack_from("!H", packet, 4)[0]]
    else:
        return None
    if len(segment) < 8:
        return None
    udp_len = struct.unpack_from("!H", segment, 4)[0]
    return bytes(segment[8 : max(udp_len, 8)])


def _is_capture(data: bytes) -> bool:
    return data[:4] in _PCAP_MAGICS


def _datagrams(data: bytes, fmt: InputFormat) -> Iterator[tuple[float | None, bytes]]:
    """(capture time UTC s or None, ASTERIX bytes) per UDP datagram, or the whole raw file."""
    from luchtwacht.transport.pcap import iter_records

    if fmt == InputFormat.raw or (fmt == InputFormat.auto and not _is_capture(data)):
        yield None, data
        return
    for rec in iter_records(data):
        payload = udp_payload(rec.linktype, rec.data)
        if payload:
            yield (None if math.isnan(rec.timestamp_s) else rec.timestamp_s), payload


def _line(record: AsterixRecord, t_capture_s: float | None) -> str:
    from luchtwacht.ingest.asterix import resolve_time_of_day

    out = record.to_json()
    if t_capture_s is not None:
        out["capture_time_s"] = t_capture_s
        tod = record.time_of_day_s
        out["time_utc_s"] = None if tod is None else resolve_time_of_day(tod, t_capture_s)
    return json.dumps(out, ensure_ascii=False)


def _error_line(exc: AsterixError, index: int) -> str:
    return f"datagram {index}: {exc}"


def _write(
    data: bytes,
    fmt: InputFormat,
    out: TextIO,
    err: TextIO,
    cat021: Cat021Edition = Cat021Edition.v2,
) -> tuple[int, int, int, Counter[int]]:
    """Decode and write; return (datagrams, records, errors, skipped blocks by category).

    A data block of a category not read is named on ``err`` and counted apart: it is not an
    error in the data, and the blocks after it are still decoded.
    """
    from luchtwacht.ingest.asterix import (
        EVERY_SOURCE,
        AsterixError,
        UnsupportedCategoryError,
        iter_records,
    )

    v0 = EVERY_SOURCE if cat021 == Cat021Edition.v0 else ()
    n_dgram = n_rec = n_err = 0
    skipped: Counter[int] = Counter()
    for n_dgram, (t_cap, payload) in enumerate(_datagrams(data, fmt), start=1):
        for item in iter_records(payload, v0):
            if isinstance(item, UnsupportedCategoryError):
                skipped[item.category] += 1
                err.write(_error_line(item, n_dgram) + " (block skipped)\n")
            elif isinstance(item, AsterixError):
                n_err += 1
                err.write(_error_line(item, n_dgram) + "\n")
            else:
                n_rec += 1
                out.write(_line(item, t_cap) + "\n")
    return n_dgram, n_rec, n_err, skipped


@app.command()
def decode(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="Raw ASTERIX or a pcap/pcapng file."
        ),
    ],
    fmt: Annotated[
        InputFormat,
        typer.Option("--format", "-f", help="Input format; auto tells pcap by its magic number."),
    ] = InputFormat.auto,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON lines here, not stdout.")
    ] = None,
    cat021: Annotated[
        Cat021Edition,
        typer.Option("--cat021-edition", help="CAT021 edition of the recording: 2.x or 0.26."),
    ] = Cat021Edition.v2,
) -> None:
    """Decode CAT048/034, CAT062/065 and CAT021 records to JSON lines (SI units, degrees).

    Lines from a capture add capture_time_s and time_utc_s (time of day on the capture's date).
    Blocks of other categories are named on stderr and skipped; exit 1 on any malformed data.
    """
    from luchtwacht.transport.pcap import PcapError

    data = file.read_bytes()
    try:
        if output is None:
            n_dgram, n_rec, n_err, skipped = _write(data, fmt, sys.stdout, sys.stderr, cat021)
        else:
            with output.open("w", encoding="utf-8") as fh:
                n_dgram, n_rec, n_err, skipped = _write(data, fmt, fh, sys.stderr, cat021)
    except PcapError as exc:
        typer.echo(f"error: {file}: not a readable capture: {exc}", err=True)
        raise typer.Exit(2) from None
    summary = f"{n_rec} records from {n_dgram} datagrams, {n_err} errors"
    if skipped:
        kinds = ", ".join(f"CAT{c:03d}: {n}" for c, n in sorted(skipped.items()))
        summary += f", {sum(skipped.values())} blocks of unsupported categories skipped ({kinds})"
    typer.echo(summary, err=True)
    if n_err:
        raise typer.Exit(1)
