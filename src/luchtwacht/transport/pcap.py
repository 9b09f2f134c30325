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
    "PcapStream",
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


MAX_BLOCK_BYTES: Final = 1 << 20  # a record or block longer than this is refused, not awaited


def iter_records(data: bytes) -> Iterator[PcapRecord]:
    """Yield every packet of a classic pcap or pcapng capture held in ``data``."""
    stream = PcapStream()
    stream.buffer = bytearray(data)
    while (record := stream.next_record()) is not None:
        yield record
    stream.end()


def read_records(path: str | PathLike[str]) -> list[PcapRecord]:
    """Read a capture file from disk and return all its packets."""
    return list(iter_records(Path(path).read_bytes()))


class PcapStream:
    """A classic pcap or pcapng capture read as it arrives (a pipe: ``tcpdump -w -``).

    :meth:`feed` takes bytes in any chunking and returns the packets completed by them; a
    record still arriving waits in the buffer. :meth:`end` says the stream ended and raises
    :class:`PcapError` if it ended inside a header or a record. Anything malformed raises
    :class:`PcapError` naming the byte offset in the stream.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.offset = 0  # stream offset of buffer[0]
        self._pos = 0  # parse position in the buffer
        self._kind = ""  # "pcap" or "pcapng" once the header is read
        self._endian = "<"
        self._linktype = 0
        self._divisor = 1e6
        self._interfaces: list[_Interface] = []

    def feed(self, data: bytes) -> list[PcapRecord]:
        """Take the next bytes of the stream; return the packets they complete."""
        self.buffer += data
        out = []
        while (record := self.next_record()) is not None:
            out.append(record)
        del self.buffer[: self._pos]  # drop what was parsed
        self.offset += self._pos
        self._pos = 0
        return out

    def end(self) -> None:
        """The stream ended: raise :class:`PcapError` if it ended inside a header or record."""
        left = len(self.buffer) - self._pos
        at = self.offset + self._pos
        if not self._kind:
            if len(self.buffer) < 4:
                raise PcapError("file too short for a capture header")
            raise PcapError("truncated pcap global header")
        if left == 0:
            return
        if self._kind == "pcap":
            if left < 16:
                raise PcapError(f"truncated record header at byte {at}")
            raise PcapError(f"record at byte {at} overruns the file")
        if left < 12:
            raise PcapError(f"truncated block header at byte {at}")
        raise PcapError(f"block at byte {at} overruns the file")

    def next_record(self) -> PcapRecord | None:
        """Parse the next packet from the buffer; None when more bytes are needed."""
        if not self._kind and not self._header():
            return None
        if self._kind == "pcap":
            return self._pcap_record()
        while True:  # pcapng: skip blocks that are not packets
            record, more = self._pcapng_block()
            if record is not None or not more:
                return record

    # -- classic pcap -----------------------------------------------------------------------

    def _header(self) -> bool:
        buf = self.buffer
        if len(buf) < 4:
            return False
        if int.from_bytes(buf[:4], "little") == _PCAPNG_SHB:
            self._kind = "pcapng"
            return True
        magic_le, magic_be = int.from_bytes(buf[:4], "little"), int.from_bytes(buf[:4], "big")
        if magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
            self._endian, magic = "<", magic_le
        elif magic_be in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
            self._endian, magic = ">", magic_be
        else:
            raise PcapError(f"unknown capture magic 0x{magic_le:08x}")
        if len(buf) < 24:
            return False
        major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack_from(
            self._endian + "HHiIII", buf, 4
        )
        if major != 2:
            raise PcapError(f"unsupported pcap version {major}")
        self._linktype = network & 0xFFFF
        self._divisor = 1e9 if magic == _PCAP_MAGIC_NS else 1e6
        self._kind, self._pos = "pcap", 24
        return True

    def _pcap_record(self) -> PcapRecord | None:
        buf, pos = self.buffer, self._pos
        if pos + 16 > len(buf):
            return None
        seconds, fraction, captured, _original = struct.unpack_from(self._endian + "IIII", buf, pos)
        if captured > MAX_BLOCK_BYTES:
            raise PcapError(f"record at byte {self.offset + pos} claims {captured} bytes")
        if pos + 16 + captured > len(buf):
            return None
        self._pos = pos + 16 + captured
        return PcapRecord(
            seconds + fraction / self._divisor, self._linktype, bytes(buf[pos + 16 : self._pos])
        )

    # -- pcapng -----------------------------------------------------------------------------

    def _pcapng_block(self) -> tuple[PcapRecord | None, bool]:
        """(the packet of the next block or None, whether a whole block was consumed)."""
        buf, pos = self.buffer, self._pos
        at = self.offset + pos
        if pos + 12 > len(buf):
            return None, False
        # the SHB type 0A 0D 0D 0A reads the same in either byte order
        block_type = struct.unpack_from(self._endian + "I", buf, pos)[0]
        if block_type == _PCAPNG_SHB:
            order = int.from_bytes(buf[pos + 8 : pos + 12], "little")
            if order == _PCAPNG_BYTE_ORDER_MAGIC:
                self._endian = "<"
            elif int.from_bytes(buf[pos + 8 : pos + 12], "big") == _PCAPNG_BYTE_ORDER_MAGIC:
                self._endian = ">"
            else:
                raise PcapError("bad pcapng byte-order magic")
        elif at == 0:
            raise PcapError("pcapng file does not start with a section header block")
        endian = self._endian
        total = struct.unpack_from(endian + "I", buf, pos + 4)[0]
        if total < 12 or total % 4:
            raise PcapError(f"bad block length {total} at byte {at}")
        if total > MAX_BLOCK_BYTES:
            raise PcapError(f"block at byte {at} claims {total} bytes")
        end = pos + total
        if end > len(buf):
            return None, False
        if struct.unpack_from(endian + "I", buf, end - 4)[0] != total:
            raise PcapError(f"trailing block length mismatch at byte {at}")
        body = bytes(buf[pos + 8 : end - 4])
        self._pos = end
        if block_type == _PCAPNG_SHB:
            if len(body) < 16:
                raise PcapError("truncated section header block")
            major = struct.unpack_from(endian + "H", body, 4)[0]
            if major != 1:
                raise PcapError(f"unsupported pcapng version {major}")
            self._interfaces = []
        elif block_type == _PCAPNG_IDB:
            self._interfaces.append(_parse_interface(body, endian))
        elif block_type == _PCAPNG_EPB:
            return _enhanced_packet(body, endian, self._interfaces), True
        elif block_type == _PCAPNG_SPB:
            return _simple_packet(body, endian, self._interfaces), True
        return None, True


# --------------------------------------------------------------------------------------------
# pcapng blocks
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
