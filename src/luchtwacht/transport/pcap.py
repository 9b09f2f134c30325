"""Dependency-free reader for classic pcap and pcapng capture files, plus radiotap stripping.

Supported: classic pcap in both byte orders with microsecond (``a1b2c3d4``) or nanosecond
(``a1b23c4d``) timestamps; pcapng Section Header, Interface Description, Enhanced Packet and
Simple Packet blocks in both byte orders (other blocks are skipped), honouring the interface
options ``if_tsresol`` and ``if_tsoffset``. Packets are yielded as :class:`PcapRecord`
``(timestamp_s, linktype, data)``; Simple Packet Blocks carry no time and yield ``nan``.
Anything malformed or truncated raises :class:`PcapError`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Final, NamedTuple

__all__ = [
    "LINKTYPE_BLUETOOTH_LE_LL",
    "LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IEEE802_11",
    "LINKTYPE_IEEE802_11_RADIOTAP",
    "PcapError",
    "PcapRecord",
    "ieee80211_frame",
    "iter_records",
    "read_records",
    "strip_radiotap",
]

LINKTYPE_ETHERNET: Final = 1
LINKTYPE_IEEE802_11: Final = 105
LINKTYPE_IEEE802_11_RADIOTAP: Final = 127
LINKTYPE_BLUETOOTH_LE_LL: Final = 251
LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR: Final = 256

_PCAP_MAGIC_US: Final = 0xA1B2C3D4
_PCAP_MAGIC_NS: Final = 0xA1B23C4D
_PCAPNG_SHB: Final = 0x0A0D0D0A
_PCAPNG_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
_PCAPNG_IDB: Final = 0x00000001
_PCAPNG_SPB: Final = 0x00000003
_PCAPNG_EPB: Final = 0x00000006
_OPT_IF_TSRESOL: Final = 9
_OPT_IF_TSOFFSET: Final = 14
_RADIOTAP_FLAG_FCS: Final = 0x10


class PcapError(ValueError):
    """The capture file is malformed, truncated or in an unsupported format."""


class PcapRecord(NamedTuple):
    """One captured packet: capture time (Unix seconds), link-layer type, packet bytes."""

    timestamp_s: float
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True)
class _Interface:
    linktype: int
    snaplen: int
    ticks_per_second: float
    offset_s: int


def iter_records(data: bytes) -> Iterator[PcapRecord]:
    """Yield every packet of a classic pcap or pcapng capture held in ``data``."""
    data = bytes(data)
    if len(data) < 4:
        raise PcapError("file too short for a capture header")
    if int.from_bytes(data[:4], "little") == _PCAPNG_SHB:
        yield from _iter_pcapng(data)
    else:
        yield from _iter_pcap(data)


def read_records(path: str | PathLike[str]) -> list[PcapRecord]:
    """Read a capture file from disk and return all its packets."""
    return list(iter_records(Path(path).read_bytes()))


# --------------------------------------------------------------------------------------------
# classic pcap
# --------------------------------------------------------------------------------------------


def _iter_pcap(data: bytes) -> Iterator[PcapRecord]:
    magic_le = int.from_bytes(data[:4], "little")
    magic_be = int.from_bytes(data[:4], "big")
    if magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
        endian, magic = "<", magic_le
    elif magic_be in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
        endian, magic = ">", magic_be
    else:
        raise PcapError(f"unknown capture magic 0x{magic_le:08x}")
    if len(data) < 24:
        raise PcapError("truncated pcap global header")
    major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
        endian + "HHiIII", data, 4
    )
    if major != 2:
        raise PcapError(f"unsupported pcap version {major}")
    linktype = network & 0xFFFF
    divisor = 1e9 if magic == _PCAP_MAGIC_NS else 1e6
    pos = 24
    while pos < len(data):
        if pos + 16 > len(data):
            raise PcapError(f"truncated record header at byte {pos}")
        seconds, fraction, captured, _original = struct.unpack_from(endian + "IIII", data, pos)
        pos += 16
        if pos + captured > len(data):
            raise PcapError(f"record at byte {pos - 16} overruns the file")
        yield PcapRecord(seconds + fraction / divisor, linktype, data[pos : pos + captured])
        pos += captured


# --------------------------------------------------------------------------------------------
# pcapng
# --------------------------------------------------------------------------------------------


def _iter_options(body: bytes, endian: str) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(endian + "HH", body, pos)
        if code == 0:  # opt_endofopt
            return
        start = pos + 4
        if start + length > len(body):
            raise PcapError(f"option {code} overruns its block")
        yield code, body[start : start + length]
        pos = start + length + (-length % 4)


def _parse_interface(body: bytes, endian: str) -> _Interface:
    if len(body) < 8:
        raise PcapError("truncated interface description block")
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", body, 0)
    ticks = 1e6
    offset_s = 0
    for code, value in _iter_options(body[8:], endian):
        if code == _OPT_IF_TSRESOL:
            if len(value) != 1:
                raise PcapError("if_tsresol option must be 1 byte")
            exponent = value[0] & 0x7F
            ticks = float(2**exponent) if value[0] & 0x80 else float(10**exponent)
        elif code == _OPT_IF_TSOFFSET:
            if len(value) != 8:
                raise PcapError("if_tsoffset option must be 8 bytes")
            offset_s = struct.unpack(endian + "q", value)[0]
    return _Interface(linktype, snaplen, ticks, offset_s)


def _iter_pcapng(data: bytes) -> Iterator[PcapRecord]:
    endian = "<"
    interfaces: list[_Interface] = []
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise PcapError(f"truncated block header at byte {pos}")
        # the SHB type 0A 0D 0D 0A reads the same in either byte order
        block_type = struct.unpack_from(endian + "I", data, pos)[0]
        if block_type == _PCAPNG_SHB:
            order = data[pos + 8 : pos + 12]
            if int.from_bytes(order, "little") == _PCAPNG_BYTE_ORDER_MAGIC:
                endian = "<"
            elif int.from_bytes(order, "big") == _PCAPNG_BYTE_ORDER_MAGIC:
                endian = ">"
            else:
                raise PcapError("bad pcapng byte-order magic")
        elif pos == 0:
            raise PcapError("pcapng file does not start with a section header block")
        total = struct.unpack_from(endian + "I", data, pos + 4)[0]
        if total < 12 or total % 4:
            raise PcapError(f"bad block length {total} at byte {pos}")
        end = pos + total
        if end > len(data):
            raise PcapError(f"block at byte {pos} overruns the file")
        if struct.unpack_from(endian + "I", data, end - 4)[0] != total:
            raise PcapError(f"trailing block length mismatch at byte {pos}")
        body = data[pos + 8 : end - 4]
        if block_type == _PCAPNG_SHB:
            if len(body) < 16:
                raise PcapError("truncated section header block")
            major = struct.unpack_from(endian + "H", body, 4)[0]
            if major != 1:
                raise PcapError(f"unsupported pcapng version {major}")
            interfaces = []
        elif block_type == _PCAPNG_IDB:
            interfaces.append(_parse_interface(body, endian))
        elif block_type == _PCAPNG_EPB:
            yield _enhanced_packet(body, endian, interfaces)
        elif block_type == _PCAPNG_SPB:
            yield _simple_packet(body, endian, interfaces)
        pos = end


def _enhanced_packet(body: bytes, endian: str, interfaces: list[_Interface]) -> PcapRecord:
    if len(body) < 20:
        raise PcapError("truncated enhanced packet block")
    interface_id, ts_high, ts_low, captured, _original = struct.unpack_from(
        endian + "IIIII", body, 0
    )
    if interface_id >= len(interfaces):
        raise PcapError(f"packet refers to undeclared interface {interface_id}")
    if 20 + captured > len(body):
        raise PcapError("enhanced packet data overruns its block")
    interface = interfaces[interface_id]
    ticks = (ts_high << 32) | ts_low
    timestamp = ticks / interface.ticks_per_second + interface.offset_s
    return PcapRecord(timestamp, interface.linktype, body[20 : 20 + captured])


def _simple_packet(body: bytes, endian: str, interfaces: list[_Interface]) -> PcapRecord:
    if len(body) < 4:
        raise PcapError("truncated simple packet block")
    if not interfaces:
        raise PcapError("simple packet block without an interface description")
    original = struct.unpack_from(endian + "I", body, 0)[0]
    captured = min(original, len(body) - 4)
    if interfaces[0].snaplen:
        captured = min(captured, interfaces[0].snaplen)
    return PcapRecord(math.nan, interfaces[0].linktype, body[4 : 4 + captured])


# --------------------------------------------------------------------------------------------
# link layers
# --------------------------------------------------------------------------------------------


def strip_radiotap(packet: bytes) -> bytes:
    """Remove the radiotap header (linktype 127) and, if flagged, the trailing 4-byte FCS.

    Returns the bare 802.11 frame. Only the Flags field is interpreted; the data-pad flag
    (padding between 802.11 header and body) is not undone.
    """
    data = bytes(packet)
    if len(data) < 8:
        raise PcapError("packet too short for a radiotap header")
    version, _pad, length, present = struct.unpack_from("<BBHI", data, 0)
    if version != 0:
        raise PcapError(f"unsupported radiotap version {version}")
    if length < 8 or length > len(data):
        raise PcapError(f"radiotap length {length} invalid for a {len(data)}-byte packet")
    offset = 8
    word = present
    while word & 0x80000000:  # extended presence bitmaps
        if offset + 4 > length:
            raise PcapError("radiotap presence bitmaps overrun the header")
        word = int.from_bytes(data[offset : offset + 4], "little")
        offset += 4
    flags = 0
    if present & 0x01:  # TSFT: 8 bytes, 8-byte aligned
        offset += -offset % 8 + 8
    if present & 0x02:
        if offset >= length:
            raise PcapError("radiotap flags field outside the header")
        flags = data[offset]
    frame = data[length:]
    if flags & _RADIOTAP_FLAG_FCS:
        if len(frame) < 4:
            raise PcapError("frame too short for its flagged FCS")
        frame = frame[:-4]
    return frame


def ieee80211_frame(record: PcapRecord) -> bytes:
    """Return the bare 802.11 frame of a linktype 105 or 127 (radiotap) record."""
    if record.linktype == LINKTYPE_IEEE802_11:
        return record.data
    if record.linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        return strip_radiotap(record.data)
    raise PcapError(f"linktype {record.linktype} is not 802.11")
