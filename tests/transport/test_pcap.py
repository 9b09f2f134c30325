"""Tests for the dependency-free pcap / pcapng reader and radiotap stripping."""

from __future__ import annotations

import contextlib
import itertools
import math
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.transport.pcap import (
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_ETHERNET,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    PcapError,
    PcapRecord,
    ieee80211_frame,
    iter_records,
    read_records,
    strip_radiotap,
)

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "remoteid"

PACKETS = [b"\x80\x00" + bytes(30), b"", b"\x01\x02\x03", bytes(range(256))]

# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------


def _pcap(
    endian: str, nanoseconds: bool, linktype: int, packets: list[tuple[int, int, bytes]]
) -> bytes:
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for seconds, fraction, data in packets:
        out += struct.pack(endian + "IIII", seconds, fraction, len(data), len(data)) + data
    return out


def _block(endian: str, block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(endian + "II", block_type, total) + body + struct.pack(endian + "I", total)


def _option(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def _shb(endian: str, options: bytes = b"") -> bytes:
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options
    return _block(endian, 0x0A0D0D0A, body)


def _idb(endian: str, linktype: int, options: bytes = b"", snaplen: int = 0) -> bytes:
    return _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, snaplen) + options)


def _epb(endian: str, interface: int, ticks: int, data: bytes) -> bytes:
    header = struct.pack(
        endian + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return _block(endian, 6, header + data)


def _spb(endian: str, data: bytes, original: int | None = None) -> bytes:
    length = len(data) if original is None else original
    return _block(endian, 3, struct.pack(endian + "I", length) + data)


def _pcapng(endian: str) -> bytes:
    nanosecond = _option(endian, 9, b"\x09") + _option(endian, 14, struct.pack(endian + "q", 100))
    return (
        _shb(endian, _option(endian, 4, b"test writer") + _option(endian, 0, b""))
        + _idb(endian, LINKTYPE_IEEE802_11_RADIOTAP)
        + _idb(endian, LINKTYPE_BLUETOOTH_LE_LL, nanosecond + _option(endian, 0, b""))
        + _idb(endian, LINKTYPE_ETHERNET, _option(endian, 9, b"\x8a"))  # 2^-10 s ticks
        + _epb(endian, 0, 1_600_000_000_123_456, PACKETS[0])
        + _block(endian, 0x00000BAD, b"custom block, skipped")
        + _epb(endian, 1, 1_600_000_000_123_456_789, PACKETS[2])
        + _epb(endian, 2, 1024 * 1_600_000_000 + 512, PACKETS[1])
        + _spb(endian, PACKETS[3])
    )


# --------------------------------------------------------------------------------------------
# Classic pcap
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanoseconds", [False, True])
def test_classic_pcap_both_byte_orders_and_resolutions(endian: str, nanoseconds: bool) -> None:
    fraction = 123_456_789 if nanoseconds else 123_456
    raw = [(1_600_000_000 + i, fraction, data) for i, data in enumerate(PACKETS)]
    records = list(iter_records(_pcap(endian, nanoseconds, LINKTYPE_IEEE802_11, raw)))
    assert [r.data for r in records] == PACKETS
    assert {r.linktype for r in records} == {LINKTYPE_IEEE802_11}
    expected = 1_600_000_000.123456789 if nanoseconds else 1_600_000_000.123456
    assert records[0].timestamp_s == pytest.approx(expected, abs=1e-6)
    assert records[3].timestamp_s == pytest.approx(expected + 3, abs=1e-6)


def test_classic_pcap_without_packets() -> None:
    assert list(iter_records(_pcap("<", False, 1, []))) == []


# --------------------------------------------------------------------------------------------
# pcapng
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_blocks_and_options(endian: str) -> None:
    records = list(iter_records(_pcapng(endian)))
    assert [r.data for r in records] == [PACKETS[0], PACKETS[2], PACKETS[1], PACKETS[3]]
    assert [r.linktype for r in records] == [
        LINKTYPE_IEEE802_11_RADIOTAP,
        LINKTYPE_BLUETOOTH_LE_LL,
        LINKTYPE_ETHERNET,
        LINKTYPE_IEEE802_11_RADIOTAP,  # simple packet blocks belong to interface 0
    ]
    assert records[0].timestamp_s == pytest.approx(1_600_000_000.123456, abs=1e-6)
    assert records[1].timestamp_s == pytest.approx(1_600_000_100.1234568, abs=1e-6)
    assert records[2].timestamp_s == 1_600_000_000.5
    assert math.isnan(records[3].timestamp_s)


def test_pcapng_sections_reset_interfaces_and_byte_order() -> None:
    first = _shb("<") + _idb("<", LINKTYPE_IEEE802_11) + _epb("<", 0, 5_000_000, b"a")
    second = _shb(">") + _idb(">", LINKTYPE_ETHERNET) + _epb(">", 0, 7_000_000, b"b")
    records = list(iter_records(first + second))
    assert records == [
        PcapRecord(5.0, LINKTYPE_IEEE802_11, b"a"),
        PcapRecord(7.0, LINKTYPE_ETHERNET, b"b"),
    ]
    with pytest.raises(PcapError, match="undeclared interface 1"):
        list(iter_records(first + _shb("<") + _epb("<", 1, 0, b"c")))


def test_pcapng_simple_packet_truncated_to_snaplen() -> None:
    data = _shb("<") + _idb("<", 1, snaplen=4) + _spb("<", b"abcdefgh", original=100)
    assert next(iter_records(data)).data == b"abcd"


# --------------------------------------------------------------------------------------------
# Malformed files
# --------------------------------------------------------------------------------------------

_GOOD_PCAP = _pcap("<", False, LINKTYPE_IEEE802_11, [(1, 2, b"abc")])
_GOOD_PCAPNG = _pcapng("<")


def _replace(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


MALFORMED: list[tuple[str, bytes, str]] = [
    ("empty", b"", "too short"),
    ("unknown magic", b"\x00\x01\x02\x03" + bytes(20), "unknown capture magic"),
    ("short header", _GOOD_PCAP[:20], "global header"),
    ("pcap version", _replace(_GOOD_PCAP, 4, b"\x03\x00"), "version"),
    ("short record header", _GOOD_PCAP[:30], "record header"),
    ("record overrun", _GOOD_PCAP[:-1], "overruns"),
    ("shb only magic", _GOOD_PCAPNG[:8], "block header"),
    ("byte order", _replace(_GOOD_PCAPNG, 8, b"\x00\x00\x00\x00"), "byte-order"),
    ("block length 13", _replace(_GOOD_PCAPNG, 4, struct.pack("<I", 13)), "block length"),
    ("block length 8", _replace(_GOOD_PCAPNG, 4, struct.pack("<I", 8)), "block length"),
    ("block overrun", _GOOD_PCAPNG[:-4], "overruns"),
    ("trailer mismatch", _GOOD_PCAPNG[:-4] + b"\x00\x00\x00\x00", "mismatch"),
    ("pcapng version", _replace(_GOOD_PCAPNG, 12, b"\x02\x00"), "version"),
    ("short shb", _block("<", 0x0A0D0D0A, struct.pack("<I", 0x1A2B3C4D)), "section header"),
    ("epb before idb", _shb("<") + _epb("<", 0, 0, b"x"), "undeclared interface"),
    ("spb before idb", _shb("<") + _spb("<", b"x"), "without an interface"),
    ("short epb", _shb("<") + _idb("<", 1) + _block("<", 6, bytes(16)), "enhanced packet"),
    (
        "epb overrun",
        _shb("<") + _idb("<", 1) + _block("<", 6, struct.pack("<IIIII", 0, 0, 0, 9, 9)),
        "overruns",
    ),
    ("short spb", _shb("<") + _idb("<", 1) + _block("<", 3, b""), "simple packet"),
    ("short idb", _shb("<") + _block("<", 1, b"\x01\x00"), "interface description"),
    (
        "option overrun",
        _shb("<") + _block("<", 1, struct.pack("<HHIHH", 1, 0, 0, 9, 8) + b"\x06\x00\x00\x00"),
        "overruns",
    ),
    ("tsresol size", _shb("<") + _idb("<", 1, _option("<", 9, b"\x06\x00")), "if_tsresol"),
    ("tsoffset size", _shb("<") + _idb("<", 1, _option("<", 14, b"\x06")), "if_tsoffset"),
    ("no shb", _idb("<", 1), "unknown capture magic"),
]


@pytest.mark.parametrize(
    ("data", "message"), [pytest.param(d, m, id=name) for name, d, m in MALFORMED]
)
def test_malformed_files_raise_pcap_error(data: bytes, message: str) -> None:
    with pytest.raises(PcapError, match=message):
        list(iter_records(data))


def test_pcapng_must_start_with_section_header() -> None:
    data = _replace(_GOOD_PCAPNG, 0, struct.pack("<I", 0x0A0D0D0A))
    assert list(iter_records(data))  # sanity: unchanged file parses
    with pytest.raises(PcapError):
        list(iter_records(b"\x0a\x0d\x0d\x0a" + bytes(8)))


# --------------------------------------------------------------------------------------------
# Radiotap
# --------------------------------------------------------------------------------------------


def _radiotap(present: int, fields: bytes, extra_words: tuple[int, ...] = ()) -> bytes:
    words = struct.pack("<I", present) + b"".join(struct.pack("<I", w) for w in extra_words)
    length = 4 + len(words) + len(fields)
    return struct.pack("<BBH", 0, 0, length) + words + fields


FRAME = b"\x80\x00" + bytes(34)


def test_strip_radiotap_plain() -> None:
    header = _radiotap(0x00000002, b"\x00")  # flags only, no FCS
    assert strip_radiotap(header + FRAME) == FRAME


def test_strip_radiotap_removes_flagged_fcs_after_aligned_tsft() -> None:
    # present: TSFT + flags + extended bitmap; 8-byte TSFT aligned at offset 16, flags at 24
    header = _radiotap(0x80000003, bytes(4) + bytes(8) + b"\x10", extra_words=(0,))
    assert header[24] == 0x10
    assert strip_radiotap(header + FRAME + b"FCS!") == FRAME


def test_ieee80211_frame_by_linktype() -> None:
    header = _radiotap(0, b"")
    assert ieee80211_frame(PcapRecord(0.0, LINKTYPE_IEEE802_11_RADIOTAP, header + FRAME)) == FRAME
    assert ieee80211_frame(PcapRecord(0.0, LINKTYPE_IEEE802_11, FRAME)) == FRAME
    with pytest.raises(PcapError, match=r"not 802\.11"):
        ieee80211_frame(PcapRecord(0.0, LINKTYPE_ETHERNET, FRAME))


RADIOTAP_ERRORS: list[tuple[str, bytes, str]] = [
    ("short", b"\x00\x00\x08", "too short"),
    ("version", b"\x01\x00\x08\x00" + bytes(4), "version"),
    ("length small", b"\x00\x00\x04\x00" + bytes(4), "length"),
    ("length big", b"\x00\x00\x40\x00" + bytes(4), "length"),
    ("bitmaps overrun", _radiotap(0x80000000, b""), "bitmaps"),
    ("flags outside", _radiotap(0x00000003, bytes(8)), "flags"),
    ("fcs too short", _radiotap(0x00000002, b"\x10") + b"ab", "FCS"),
]


@pytest.mark.parametrize(
    ("data", "message"), [pytest.param(d, m, id=name) for name, d, m in RADIOTAP_ERRORS]
)
def test_radiotap_errors(data: bytes, message: str) -> None:
    with pytest.raises(PcapError, match=message):
        strip_radiotap(data)


# --------------------------------------------------------------------------------------------
# Real captures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capture_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"Remote ID sample captures not found at {DATA_DIR}")
    return DATA_DIR


def test_real_beacon_capture(capture_dir: Path) -> None:
    records = read_records(capture_dir / "odid_wifi_bcn_sample.pcap")
    assert len(records) == 21
    assert {r.linktype for r in records} == {LINKTYPE_IEEE802_11_RADIOTAP}
    assert records[0].timestamp_s == pytest.approx(1621633931.161999, abs=1e-6)
    assert all(a.timestamp_s < b.timestamp_s for a, b in itertools.pairwise(records))
    frames = [ieee80211_frame(r) for r in records]
    assert all(len(f) == 190 and f[0] == 0x80 for f in frames)  # 17-byte radiotap removed
    assert frames[0][10:16] == bytes.fromhex("84cca8604324")


def test_real_nan_capture(capture_dir: Path) -> None:
    records = read_records(capture_dir / "odid_wifi_sample.pcap")
    assert len(records) == 63
    assert records[0].timestamp_s == pytest.approx(1620849805.191866, abs=1e-6)
    subtypes = [ieee80211_frame(r)[0] for r in records]
    assert (subtypes.count(0x80), subtypes.count(0xD0)) == (42, 21)


# --------------------------------------------------------------------------------------------
# Fuzz: only PcapError may escape
# --------------------------------------------------------------------------------------------


def _only_pcap_errors(call: Callable[[], object]) -> None:
    with contextlib.suppress(PcapError):
        call()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_reader_on_arbitrary_bytes_raises_only_pcap_error(data: bytes) -> None:
    _only_pcap_errors(lambda: list(iter_records(data)))
    _only_pcap_errors(lambda: strip_radiotap(data))
    _only_pcap_errors(lambda: list(iter_records(b"\xd4\xc3\xb2\xa1" + data)))
    _only_pcap_errors(lambda: list(iter_records(b"\x0a\x0d\x0d\x0a" + data)))


@settings(max_examples=250, deadline=None)
@given(
    st.sampled_from(
        [_GOOD_PCAP, _GOOD_PCAPNG, _pcapng(">"), _radiotap(0x80000003, bytes(13), (0,))]
    ),
    st.data(),
)
def test_reader_on_mutated_files_raises_only_pcap_error(
    original: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    for candidate in (bytes(mutated), bytes(mutated[:cut])):
        _only_pcap_errors(lambda c=candidate: list(iter_records(c)))  # type: ignore[misc]
        _only_pcap_errors(lambda c=candidate: strip_radiotap(c))  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Streaming: a capture read as it arrives (a pipe) gives the same packets as the whole file
# --------------------------------------------------------------------------------------------

_STREAM_FILES = [
    _GOOD_PCAP,
    _GOOD_PCAPNG,
    _pcap(">", True, LINKTYPE_IEEE802_11, [(1, 2, b"abc"), (3, 4, bytes(300))]),
    *(p.read_bytes() for p in sorted((Path(__file__).parents[1] / "data").rglob("*.pcap*"))),
]


@settings(max_examples=60, deadline=None)
@given(
    which=st.integers(0, len(_STREAM_FILES) - 1),
    cuts=st.lists(st.integers(0, 1 << 16), max_size=12),
)
def test_a_stream_in_any_chunking_gives_the_files_packets(which: int, cuts: list[int]) -> None:
    from luchtwacht.transport.pcap import PcapStream

    data = _STREAM_FILES[which]
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    stream = PcapStream()
    got = []
    for a, b in itertools.pairwise(points):
        got += stream.feed(data[a:b])
    stream.end()
    assert got == list(iter_records(data))


def test_a_stream_cut_inside_a_record_says_so_at_its_end() -> None:
    from luchtwacht.transport.pcap import PcapStream

    stream = PcapStream()
    assert stream.feed(_GOOD_PCAP[:-1]) == []  # waits for the rest of the record
    with pytest.raises(PcapError, match="overruns"):
        stream.end()
    with pytest.raises(PcapError, match="unknown capture magic"):
        PcapStream().feed(b"GET / HTTP/1.1\r\n")  # not a capture at all: at once
    with pytest.raises(PcapError, match="claims"):
        PcapStream().feed(_GOOD_PCAP[:24] + struct.pack("<IIII", 0, 0, 1 << 30, 1 << 30))
