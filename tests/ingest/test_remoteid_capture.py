"""Remote ID from captures: real Wi-Fi sniffs, and BLE captures built here with the real layouts.

The BLE fixtures in tests/data/remoteid/ are written by ``build_ble_ll_capture`` and
``build_ble_phdr_nordic_capture`` below (regenerate with ``python -m
tests.ingest.test_remoteid_capture``); a test checks the committed files are byte-identical to
what the builders produce. The builders share no code with the module under test: the link-layer
CRC here is the Core spec's LFSR (Vol 6 Part B §3.1.1) run bit by bit, checked against the
published CRC-24/BLE check value, and the pcap / pcapng writers follow the file format specs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest.remoteid_capture import (
    ADVERTISING_ACCESS_ADDRESS,
    LINKTYPE_NORDIC_BLE,
    CaptureStats,
    NoRemoteIdError,
    ble_crc24,
    decode_record,
    iter_capture_messages,
    message_fields,
    parse_ble_ll,
    parse_ble_phdr,
    parse_ble_record,
    parse_nordic_ble,
)
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.transport.pcap import PcapError, PcapRecord

REAL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "remoteid"
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "remoteid"
LL_FIXTURE = FIXTURES / "ble_ll_odid.pcap"
PHDR_NORDIC_FIXTURE = FIXTURES / "ble_phdr_nordic_odid.pcapng"
REAL_MAC = "84:cc:a8:60:43:24"

# ---------------------------------------------------------------------------------------------
# independent builders
# ---------------------------------------------------------------------------------------------

AA_ADV = bytes.fromhex("d6be898e")  # 0x8E89BED6 little-endian
AA_DATA = bytes.fromhex("1c3a5f71")  # a connection's access address
LEGACY_MAC = "e4:7a:2c:91:5d:30"  # random static device address (two top bits set)
BT5_MAC = "d2:19:6b:0e:a4:c8"
T0 = dt.datetime(2026, 3, 14, 10, 0, tzinfo=dt.UTC).timestamp()


def crc_spec_lfsr(pdu: bytes, init: int = 0x555555) -> bytes:
    """The Core spec CRC circuit: input LSB first into position 0, feedback from position 23.

    The CRC is sent from position 23 down to 0; a capture byte holds the first bit sent in its
    least significant bit.
    """
    state = init
    for byte in pdu:
        for i in range(8):
            feedback = ((byte >> i) & 1) ^ (state >> 23)
            state = ((state << 1) & 0xFFFFFF) ^ (0x00065B if feedback else 0)
    sent = [(state >> (23 - k)) & 1 for k in range(24)]
    return bytes(sum(sent[8 * j + i] << i for i in range(8)) for j in range(3))


def addr(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))[::-1]


def ll_packet(
    pdu_type: int, payload: bytes, *, tx_add: bool = True, aa: bytes = AA_ADV, ci: int | None = None
) -> bytes:
    """Access address, [coding indicator], PDU header, payload, CRC."""
    pdu = bytes([pdu_type | (0x40 if tx_add else 0), len(payload)]) + payload
    return aa + (bytes([ci]) if ci is not None else b"") + pdu + crc_spec_lfsr(pdu)


def adv_nonconn(mac: str, adv_data: bytes, **kw) -> bytes:
    return ll_packet(0x2, addr(mac) + adv_data, **kw)


def extended_payload(
    *,
    adv_a: str | None = None,
    adi: tuple[int, int] | None = None,
    aux_ptr: bytes | None = None,
    tx_power: int | None = None,
    adv_data: bytes = b"",
    adv_mode: int = 0,
) -> bytes:
    """Common extended advertising payload: header length | AdvMode, flags, fields, AdvData."""
    flags, fields = 0, b""
    if adv_a is not None:
        flags |= 0x01
        fields += addr(adv_a)
    if adi is not None:
        did, sid = adi
        flags |= 0x08
        fields += (did | sid << 12).to_bytes(2, "little")
    if aux_ptr is not None:
        flags |= 0x10
        fields += aux_ptr
    if tx_power is not None:
        flags |= 0x40
        fields += struct.pack("<b", tx_power)
    header = bytes([flags]) + fields
    return bytes([len(header) | adv_mode << 6]) + header + adv_data


def aux_ptr_bytes(channel: int, ca: int, units: int, offset: int, phy: int) -> bytes:
    return (channel | ca << 6 | units << 7 | offset << 8 | phy << 21).to_bytes(3, "little")


def phdr(ll: bytes, *, rf_channel: int, phy: int = 0, kind: int = 0, aux: int = 0, signal=None):
    """LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR: 10-byte pseudo header, then the LE packet."""
    flags = 0x0001 | 0x0010 | 0x0400 | 0x0800 | kind << 7 | phy << 14  # dewhitened, ref AA, CRC ok
    if kind == 1:
        flags |= aux << 12
    if signal is not None:
        flags |= 0x0002
    head = bytes([rf_channel, (signal or 0) & 0xFF, 0, 0]) + AA_ADV + flags.to_bytes(2, "little")
    return head + ll


def nordic(
    ll: bytes,
    *,
    version: int = 3,
    channel: int = 37,
    phy: int = 0,
    aux: int = 0,
    rssi: int = 60,
    packet_id: int | None = None,
    counter: int = 1,
) -> bytes:
    """nRF Sniffer for Bluetooth LE record (linktype 272), header versions 1..3."""
    if packet_id is None:
        packet_id = 0x02 if version >= 3 else 0x06
    flags = 0x01 | aux << 1 | phy << 4  # CRC ok
    event = bytes([10, flags, channel, rssi]) + struct.pack("<HI", 0, 123_456 + counter)
    payload = event + ll
    if version == 1:
        header = bytes([0x00, 6, len(payload), 1]) + struct.pack("<HB", counter, packet_id)
    else:
        header = bytes([0x00]) + struct.pack("<HBHB", len(payload), version, counter, packet_id)
    return header + payload


def pcap_bytes(linktype: int, records: list[tuple[float, bytes]]) -> bytes:
    """Classic little-endian microsecond pcap."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for t, data in records:
        sec = math.floor(t)
        out += struct.pack("<IIII", sec, round((t - sec) * 1e6), len(data), len(data)) + data
    return out


def _block(block_type: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def pcapng_bytes(linktypes: list[int], records: list[tuple[int, float, bytes]]) -> bytes:
    """Little-endian pcapng: one section, one interface per linktype, enhanced packet blocks."""
    out = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for linktype in linktypes:
        out += _block(0x00000001, struct.pack("<HHI", linktype, 0, 0))
    for interface, t, data in records:
        ticks = round(t * 1e6)
        body = struct.pack(
            "<IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
        )
        out += _block(0x00000006, body + data)
    return out


# --------------------------------------------------------------------------------------------
# the Remote ID content of the BLE fixtures
# --------------------------------------------------------------------------------------------

BASIC = rid.encode_basic_id(
    rid.IdType.SERIAL_NUMBER, rid.UaType.HELICOPTER_OR_MULTIROTOR, "1596F3Q8X21400023"
)
LOCATION = rid.encode_location(
    status=rid.Status.AIRBORNE, height_type=rid.HeightType.ABOVE_TAKEOFF, track_direction_deg=215.0,
    speed_ms=7.25, vertical_speed_ms=-1.5, lat=51.6612345, lon=5.7123456, alt_baro_m=131.5,
    alt_geo_m=178.0, height_m=112.5, horizontal_accuracy=rid.HorizontalAccuracy.M_3,
    vertical_accuracy=rid.VerticalAccuracy.M_10, baro_accuracy=rid.VerticalAccuracy.M_3,
    speed_accuracy=rid.SpeedAccuracy.MS_1, timestamp_s=1234.5, timestamp_accuracy_s=0.2,
)  # fmt: skip
AUTH = rid.encode_authentication(
    auth_type=rid.AuthType.UAS_ID_SIGNATURE, page_number=0, data=bytes(range(1, 18)),
    last_page_index=0, length=17, timestamp=1_773_482_400,
)  # fmt: skip
SELF_ID = rid.encode_self_id(rid.DescriptionType.TEXT, "Roof inspection EHVK")
SYSTEM = rid.encode_system(
    operator_location_type=rid.OperatorLocationType.LIVE_GNSS,
    classification_type=rid.ClassificationType.EU, operator_lat=51.6601234, operator_lon=5.7101234,
    area_count=1, area_radius_m=0, ua_category=rid.UaCategory.OPEN, ua_class=rid.UaClass.CLASS_2,
    operator_alt_geo_m=66.5, timestamp=1_773_482_400,
)  # fmt: skip
OPERATOR = rid.encode_operator_id(rid.OperatorIdType.OPERATOR_ID, "NLDrp4fg67b2kc9x")
SINGLE_MESSAGES = [BASIC, LOCATION, AUTH, SELF_ID, SYSTEM, OPERATOR]
PACK = rid.encode_message_pack([BASIC, LOCATION, SYSTEM, OPERATOR, SELF_ID])
PHONE_ADV = bytes.fromhex("020106") + b"\x08\x09Pixel 8"  # Flags + Complete Local Name


def build_ble_ll_capture() -> bytes:
    """pcap, linktype 251: the six message types as legacy ADV_NONCONN_IND, plus noise."""
    packets = [
        adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(m, counter))
        for counter, m in enumerate(SINGLE_MESSAGES, start=40)
    ]
    packets.append(ll_packet(0x0, addr("5c:f3:70:aa:01:02") + PHONE_ADV, tx_add=False))  # ADV_IND
    packets.append(ll_packet(0x3, addr("5c:f3:70:aa:01:02") + addr(LEGACY_MAC)))  # SCAN_REQ
    packets.append(AA_DATA + b"\x01\x00" + crc_spec_lfsr(b"\x01\x00", 0x123456))  # empty data PDU
    bad = bytearray(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(LOCATION, 47)))
    bad[20] ^= 0x04  # one bit flipped in the air: the CRC no longer matches
    packets.append(bytes(bad))
    return pcap_bytes(251, [(T0 + 0.1 * k, p) for k, p in enumerate(packets)])


def build_ble_phdr_nordic_capture() -> bytes:
    """pcapng, interface 0 linktype 256 (Sniffle / Ubertooth), interface 1 linktype 272 (nRF)."""
    aux_pack = extended_payload(
        adv_a=BT5_MAC, adi=(0x2A5, 3), tx_power=-4, adv_data=rid.encode_ble_advertising(PACK, 9)
    )
    adv_ext = extended_payload(adi=(0x2A5, 3), aux_ptr=aux_ptr_bytes(10, 1, 0, 100, 2))
    records = [
        # linktype 256: legacy on channel 38 (RF 12), then an extended advert on the coded PHY:
        # ADV_EXT_IND on channel 37 (RF 0) pointing to an AUX_ADV_IND on channel 10 (RF 11)
        (0, phdr(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(BASIC, 1)), rf_channel=12, signal=-67)),
        (0, phdr(ll_packet(0x7, adv_ext, tx_add=False, ci=0), rf_channel=0, phy=2, signal=-91)),
        (0, phdr(ll_packet(0x7, aux_pack, ci=0), rf_channel=11, phy=2, kind=1, aux=0, signal=-90)),
        # linktype 272, header version 3: legacy on channel 39, AUX_ADV_IND (coded, S=2) on 22
        (1, nordic(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(OPERATOR, 2)), channel=39, rssi=58)),
        (1, nordic(ll_packet(0x7, aux_pack, ci=1), channel=22, phy=2, aux=0, rssi=88, counter=2)),
        # header version 2 (any packet ID 0x06), a version 3 data channel packet, version 1
        (1, nordic(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(LOCATION, 3)), version=2, channel=37)),
        (1, nordic(AA_DATA + b"\x01\x00" + crc_spec_lfsr(b"\x01\x00", 0x123456), channel=5, packet_id=0x06)),
        (1, nordic(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(SYSTEM, 4)), version=1, channel=38)),
    ]  # fmt: skip
    return pcapng_bytes(
        [256, LINKTYPE_NORDIC_BLE],
        [(iface, T0 + 0.25 * k, data) for k, (iface, data) in enumerate(records)],
    )


def write_fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    LL_FIXTURE.write_bytes(build_ble_ll_capture())
    PHDR_NORDIC_FIXTURE.write_bytes(build_ble_phdr_nordic_capture())


def real_capture(name: str) -> Path:
    path = REAL_DIR / name
    if not path.is_file():
        pytest.skip(f"real Remote ID capture {path} not available (../shared/data/remoteid)")
    return path


# ---------------------------------------------------------------------------------------------
# CRC
# ---------------------------------------------------------------------------------------------


def test_crc24_matches_the_published_crc24_ble_check_value():
    # CRC catalogue, CRC-24/BLE: poly 0x00065b, init 0x555555, reflected, check 0xc25a56
    check = (0xC25A56).to_bytes(3, "little")
    assert ble_crc24(b"123456789") == check
    assert crc_spec_lfsr(b"123456789") == check


@given(st.binary(max_size=260), st.integers(0, 0xFFFFFF))
def test_crc24_table_equals_the_spec_lfsr(pdu, init):
    assert ble_crc24(pdu, init) == crc_spec_lfsr(pdu, init)


def test_committed_fixtures_are_what_the_builders_write():
    assert LL_FIXTURE.read_bytes() == build_ble_ll_capture()
    assert PHDR_NORDIC_FIXTURE.read_bytes() == build_ble_phdr_nordic_capture()


# ---------------------------------------------------------------------------------------------
# real Wi-Fi captures
# ---------------------------------------------------------------------------------------------


def test_real_wifi_beacon_capture():
    stats = CaptureStats()
    frames = list(iter_capture_messages(real_capture("odid_wifi_bcn_sample.pcap"), stats))
    assert (stats.records, stats.frames, stats.messages) == (21, 21, 105)
    assert not stats.skipped and not stats.errors and stats.truncated is None
    assert {f.transport for f in frames} == {"wifi-beacon"} and {f.mac for f in frames} == {
        REAL_MAC
    }
    assert [f.index for f in frames] == list(range(21))
    assert frames[0].timestamp_s == pytest.approx(1621633931.161999)  # 2021-05-21T21:52:11Z
    for f in frames:
        kinds = [type(m) for m in f.messages]
        assert kinds == [rid.BasicId, rid.LocationVector, rid.SelfId, rid.System, rid.OperatorId]
        basic, loc, self_id, system, operator = f.messages
        assert isinstance(basic, rid.BasicId) and basic.uas_id == "MFG1A0123456789"
        assert (basic.id_type, basic.ua_type) == (rid.IdType.NONE, rid.UaType.NONE)
        assert isinstance(operator, rid.OperatorId) and operator.operator_id == "GBR-OP-123ABCD"
        assert isinstance(self_id, rid.SelfId) and self_id.description == "Recreational"
        assert isinstance(system, rid.System)
        assert (system.operator_lat, system.operator_lon) == (45.5443876, -122.9726866)
        assert (system.classification_type, system.ua_category, system.ua_class) == (
            rid.ClassificationType.EU, rid.UaCategory.OPEN, rid.UaClass.CLASS_4,
        )  # fmt: skip
        assert isinstance(loc, rid.LocationVector) and loc.lat is not None and loc.lon is not None
        assert 45.5457 < loc.lat < 45.5471 and -122.9682 < loc.lon < -122.9666
        assert (loc.alt_geo_m, loc.height_m, loc.speed_ms) == (237.0, 100.0, 20.5)
    first = frames[0].messages[1]
    assert isinstance(first, rid.LocationVector)
    assert (first.lat, first.lon, first.track_direction_deg) == (45.5457468, -122.9681496, 92.0)


def test_real_wifi_nan_and_beacon_capture_skips_the_nan_sync_beacons():
    stats = CaptureStats()
    frames = list(iter_capture_messages(real_capture("odid_wifi_sample.pcap").read_bytes(), stats))
    assert (stats.records, stats.frames, stats.messages) == (63, 42, 42)
    # every third frame is a NAN synchronisation beacon: a beacon without the ODID element
    assert stats.skipped == {"vendor_ie": 21} and not stats.errors
    nan = [f for f in frames if f.transport == "wifi-nan"]
    beacon = [f for f in frames if f.transport == "wifi-beacon"]
    assert len(nan) == len(beacon) == 21 and {f.mac for f in frames} == {REAL_MAC}
    # the transmitter sends each message pack over NAN and, 1..2 ms later, in a beacon; the
    # capture missed a few of either kind (records 33, 35, 46 and 62 have no partner)
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(frames)
        if (a.transport, b.transport) == ("wifi-nan", "wifi-beacon")
        and b.timestamp_s - a.timestamp_s < 0.005
    ]
    assert len(pairs) == 19 and all(a.messages == b.messages for a, b in pairs)
    paired = {f.index for pair in pairs for f in pair}
    assert sorted(f.index for f in frames if f.index not in paired) == [33, 35, 46, 62]
    first = nan[0].messages[0]
    assert isinstance(first, rid.OperatorId) and first.operator_id == "GBR-OP-123ABCD"
    locations = [m for f in nan for m in f.messages if isinstance(m, rid.LocationVector)]
    assert len(locations) == 16
    positions = [(m.lat, m.lon) for m in locations if m.lat is not None and m.lon is not None]
    assert len(positions) == 16
    assert all(45.5448 < lat < 45.5457 and -122.9737 < lon < -122.9722 for lat, lon in positions)


# ---------------------------------------------------------------------------------------------
# built BLE captures
# ---------------------------------------------------------------------------------------------


def test_ble_ll_capture_decodes_each_legacy_message_type():
    stats = CaptureStats()
    frames = list(iter_capture_messages(LL_FIXTURE, stats))
    assert (stats.records, stats.frames, stats.messages) == (10, 6, 6)
    assert stats.skipped == {"adv_data": 2, "access_address": 1}
    (error,) = stats.errors
    assert (error.index, error.linktype, error.error.field) == (9, 251, "crc")
    assert [f.messages[0] for f in frames] == [rid.decode_message(m) for m in SINGLE_MESSAGES]
    assert [f.counter for f in frames] == list(range(40, 46))
    for k, f in enumerate(frames):
        assert (f.transport, f.mac, f.pdu_type, f.phy, f.rssi_dbm) == (
            "bt4-legacy", LEGACY_MAC, "ADV_NONCONN_IND", None, None,
        )  # fmt: skip
        assert f.timestamp_s == pytest.approx(T0 + 0.1 * k)
    basic, loc, auth, self_id, system, operator = (f.messages[0] for f in frames)
    assert isinstance(basic, rid.BasicId) and basic.uas_id == "1596F3Q8X21400023"
    assert isinstance(loc, rid.LocationVector)
    assert (loc.lat, loc.lon, loc.alt_geo_m, loc.alt_baro_m, loc.height_m) == (
        51.6612345, 5.7123456, 178.0, 131.5, 112.5,
    )  # fmt: skip
    assert (loc.speed_ms, loc.vertical_speed_ms, loc.track_direction_deg) == (7.25, -1.5, 215.0)
    assert isinstance(auth, rid.Authentication) and auth.data == bytes(range(1, 18))
    assert isinstance(self_id, rid.SelfId) and self_id.description == "Roof inspection EHVK"
    assert isinstance(system, rid.System) and system.operator_alt_geo_m == 66.5
    assert isinstance(operator, rid.OperatorId) and operator.operator_id == "NLDrp4fg67b2kc9x"


def test_ble_phdr_and_nordic_capture_decodes_legacy_and_long_range_packs():
    stats = CaptureStats()
    frames = list(iter_capture_messages(PHDR_NORDIC_FIXTURE.read_bytes(), stats))
    assert (stats.records, stats.frames) == (8, 6) and not stats.errors
    assert stats.skipped == {"adv_data": 1, "nordic_packet_id": 1}  # ADV_EXT_IND, data PDU
    summary = [(f.index, f.transport, f.mac, f.pdu_type, f.phy, f.rssi_dbm) for f in frames]
    assert summary == [
        (0, "bt4-legacy", LEGACY_MAC, "ADV_NONCONN_IND", "1M", -67.0),
        (2, "bt5-long-range", BT5_MAC, "AUX_ADV_IND", "coded", -90.0),
        (3, "bt4-legacy", LEGACY_MAC, "ADV_NONCONN_IND", "1M", -58.0),
        (4, "bt5-long-range", BT5_MAC, "AUX_ADV_IND", "coded", -88.0),
        (5, "bt4-legacy", LEGACY_MAC, "ADV_NONCONN_IND", "1M", -60.0),
        (7, "bt4-legacy", LEGACY_MAC, "ADV_NONCONN_IND", "1M", -60.0),
    ]
    pack = rid.decode_message_pack(PACK).messages
    assert frames[1].messages == frames[3].messages == pack and len(pack) == 5
    assert frames[1].counter == 9
    assert [type(f.messages[0]) for f in frames if f.transport == "bt4-legacy"] == [
        rid.BasicId, rid.OperatorId, rid.LocationVector, rid.System,
    ]  # fmt: skip
    assert frames[2].timestamp_s == pytest.approx(T0 + 0.75)


# opendroneid-core-c's encoded pack is a fixed 228 bytes (3 + 9 slots of 25), zero-filled past
# the declared messages; a transmitter built on it sends all of it.
PADDED_PACK = PACK.ljust(228, b"\0")


def long_range_ad(pack: bytes, counter: int) -> bytes:
    """The ODID service data AD structure, built by hand so a damaged pack can be framed too."""
    return bytes([5 + len(pack)]) + bytes.fromhex("16faff0d") + bytes([counter]) + pack


def build_padded_long_range_capture() -> bytes:
    """pcap, linktype 256: a BLE4 legacy advert, then BLE5 Long Range packs unpadded, padded to
    228 bytes, and padded with one non-zero byte in the padding."""
    damaged = bytearray(PADDED_PACK)
    damaged[200] = 0x5A
    packs = [(PACK, 10), (PADDED_PACK, 11), (bytes(damaged), 12)]
    records = [phdr(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(BASIC, 1)), rf_channel=12)]
    for pack, counter in packs:
        aux = extended_payload(adv_a=BT5_MAC, adi=(0x2A5, 3), adv_data=long_range_ad(pack, counter))
        records.append(phdr(ll_packet(0x7, aux, ci=0), rf_channel=11, phy=2, kind=1, signal=-90))
    return pcap_bytes(256, [(T0 + 0.25 * k, r) for k, r in enumerate(records)])


def test_long_range_packs_padded_to_228_bytes_decode_in_captures():
    stats = CaptureStats()
    frames = list(iter_capture_messages(build_padded_long_range_capture(), stats))
    assert [(f.index, f.transport, f.counter) for f in frames] == [
        (0, "bt4-legacy", 1), (1, "bt5-long-range", 10), (2, "bt5-long-range", 11),
    ]  # fmt: skip
    pack = rid.decode_message_pack(PACK).messages
    assert frames[1].messages == frames[2].messages == pack and len(pack) == 5
    assert (stats.frames, stats.messages) == (3, 11)
    assert [(e.index, e.error.field) for e in stats.errors] == [(3, "padding")]
    assert "byte 200 past the 5 declared messages is 0x5a" in str(stats.errors[0].error)


def test_long_range_packs_padded_to_228_bytes_decode_in_the_live_feed():
    """The receiver feed forwards the AUX_ADV_IND AdvData: a padded pack is a detection."""

    def line(k: int, payload: bytes) -> str:
        return json.dumps({
            "time": f"2026-03-14T10:00:0{k}.000Z", "transport": "bt5-long-range",
            "mac": BT5_MAC, "payload": payload.hex(),
        })  # fmt: skip

    damaged = bytearray(PADDED_PACK)
    damaged[-1] = 0x01
    lines = [
        line(0, long_range_ad(PADDED_PACK, 1)),
        line(1, long_range_ad(PACK, 2)),
        line(2, long_range_ad(bytes(damaged), 3)),
    ]
    pipe = RemoteIdPipe("rx", SiteOrigin(51.6564, 5.7087, 65.0))
    batches = pipe.feed(("\n".join(lines) + "\n").encode())
    assert pipe.counters.decoded == 2 and pipe.counters.rejected == 1
    (reason,) = pipe.counters.rejected_by_reason
    # Counted under one reason (the detail, with the byte's position, goes to the log once).
    assert reason == "padding: non-zero bytes after the pack's messages"
    assert [b.ident for b in batches] == [("1596F3Q8X21400023",)] * 2


# ---------------------------------------------------------------------------------------------
# link-layer parsers
# ---------------------------------------------------------------------------------------------


def test_parse_legacy_adv_nonconn_ind():
    adv = parse_ble_ll(adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(BASIC, 7)))
    assert adv.access_address == ADVERTISING_ACCESS_ADDRESS == 0x8E89BED6
    assert (adv.pdu_type_code, adv.pdu_type, adv.adv_a, adv.tx_add_random) == (
        2, "ADV_NONCONN_IND", LEGACY_MAC, True,
    )  # fmt: skip
    assert adv.legacy and adv.transport == "bt4-legacy" and adv.extended is None
    assert len(adv.adv_data) == 31 and rid.decode_ble_advertising(adv.adv_data)[0] == 7
    assert (adv.phy, adv.channel, adv.coding, adv.rssi_dbm) == (None, None, None, None)


@pytest.mark.parametrize(
    ("pdu_type", "name"), [(0x0, "ADV_IND"), (0x4, "SCAN_RSP"), (0x6, "ADV_SCAN_IND")]
)
def test_parse_other_legacy_pdus_with_adv_data(pdu_type, name):
    adv = parse_ble_ll(ll_packet(pdu_type, addr(LEGACY_MAC) + PHONE_ADV, tx_add=False))
    assert (adv.pdu_type, adv.adv_a, adv.adv_data, adv.tx_add_random) == (
        name, LEGACY_MAC, PHONE_ADV, False,
    )  # fmt: skip


def test_parse_address_only_legacy_pdus():
    other = "00:1b:dc:0f:aa:01"
    direct = parse_ble_ll(ll_packet(0x1, addr(LEGACY_MAC) + addr(other)))
    scan_req = parse_ble_ll(ll_packet(0x3, addr(other) + addr(LEGACY_MAC)))
    connect = parse_ble_ll(ll_packet(0x5, addr(other) + addr(LEGACY_MAC) + bytes(22)))
    assert [(a.pdu_type, a.adv_a, a.adv_data) for a in (direct, scan_req, connect)] == [
        ("ADV_DIRECT_IND", LEGACY_MAC, b""), ("SCAN_REQ", LEGACY_MAC, b""),
        ("CONNECT_IND", LEGACY_MAC, b""),
    ]  # fmt: skip


def test_parse_extended_header_fields():
    ad = rid.encode_ble_advertising(PACK, 200)
    payload = extended_payload(adv_a=BT5_MAC, adi=(0xABC, 0xD), tx_power=-12, adv_data=ad)
    adv = parse_ble_ll(ll_packet(0x7, payload, ci=1), phy="coded", channel=3)
    ext = adv.extended
    assert ext is not None and (adv.pdu_type, adv.coding, adv.transport) == (
        "AUX_ADV_IND", "S2", "bt5-long-range",
    )  # fmt: skip
    assert (ext.adv_a, ext.did, ext.sid, ext.tx_power_dbm, ext.adv_mode) == (
        BT5_MAC, 0xABC, 0xD, -12, 0,
    )  # fmt: skip
    assert (ext.target_a, ext.aux_ptr, ext.cte_info, ext.sync_info, ext.acad) == (
        None, None, None, None, b"",
    )  # fmt: skip
    assert adv.adv_a == BT5_MAC and adv.adv_data == ad


def test_parse_adv_ext_ind_aux_pointer():
    payload = extended_payload(adi=(1, 2), aux_ptr=aux_ptr_bytes(10, 1, 1, 8191, 2), adv_mode=2)
    adv = parse_ble_ll(ll_packet(0x7, payload, tx_add=False))
    assert adv.pdu_type == "ADV_EXT_IND" and adv.adv_a is None and adv.adv_data == b""
    assert adv.extended is not None and adv.extended.adv_mode == 2
    aux = adv.extended.aux_ptr
    assert aux is not None
    assert (aux.channel_index, aux.clock_accuracy_ppm, aux.offset_us, aux.phy) == (
        10, 50, 8191 * 300, "coded",
    )  # fmt: skip
    short = parse_ble_ll(ll_packet(0x7, extended_payload(aux_ptr=aux_ptr_bytes(3, 0, 0, 10, 1))))
    assert short.extended is not None and short.extended.aux_ptr is not None
    assert (short.extended.aux_ptr.clock_accuracy_ppm, short.extended.aux_ptr.offset_us) == (
        500,
        300,
    )
    assert short.extended.aux_ptr.phy == "2M"


def test_extended_pdu_names_follow_channel_and_aux_type():
    with_data = ll_packet(0x7, extended_payload(adv_a=BT5_MAC, adv_data=PHONE_ADV))
    chain = ll_packet(0x7, extended_payload(adi=(5, 1), adv_data=PHONE_ADV))
    assert parse_ble_ll(with_data).pdu_type == "AUX_ADV_IND"
    assert parse_ble_ll(chain).pdu_type == "AUX_CHAIN_IND"
    assert parse_ble_ll(with_data, channel=38).pdu_type == "ADV_EXT_IND"
    assert parse_ble_ll(chain, channel=4).pdu_type == "AUX_CHAIN_IND"
    for aux, name in enumerate(["AUX_ADV_IND", "AUX_CHAIN_IND", "AUX_SYNC_IND", "AUX_SCAN_RSP"]):
        assert parse_ble_ll(with_data, channel=4, aux_type=aux).pdu_type == name
    connect_rsp = ll_packet(0x8, extended_payload(adv_a=BT5_MAC, adv_mode=0))
    assert parse_ble_ll(connect_rsp).pdu_type == "AUX_CONNECT_RSP"


def test_parse_phdr_channel_signal_phy_and_data_packets():
    legacy = adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(BASIC, 1))
    for rf_channel, index in [(0, 37), (1, 0), (11, 10), (12, 38), (13, 11), (38, 36), (39, 39)]:
        adv = parse_ble_phdr(phdr(legacy, rf_channel=rf_channel, signal=-70))
        assert (adv.channel, adv.rssi_dbm, adv.phy) == (index, -70.0, "1M")
    assert parse_ble_phdr(phdr(legacy, rf_channel=12)).rssi_dbm is None  # signal not valid
    assert parse_ble_phdr(phdr(legacy, rf_channel=12, phy=1)).phy == "2M"
    coded = parse_ble_phdr(phdr(ll_packet(0x2, addr(LEGACY_MAC), ci=0), rf_channel=39, phy=2))
    assert (coded.phy, coded.coding) == ("coded", "S8")
    for kind in range(2, 7):
        with pytest.raises(NoRemoteIdError) as exc:
            parse_ble_phdr(phdr(legacy, rf_channel=20, kind=kind))
        assert exc.value.field == "phdr_pdu_type"


def test_parse_nordic_versions_and_flags():
    legacy = adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(OPERATOR, 1))
    for version in (1, 2, 3):
        adv = parse_nordic_ble(nordic(legacy, version=version, channel=38, rssi=77))
        assert (adv.pdu_type, adv.adv_a, adv.channel, adv.rssi_dbm, adv.phy) == (
            "ADV_NONCONN_IND", LEGACY_MAC, 38, -77.0, "1M",
        )  # fmt: skip
    aux = ll_packet(0x7, extended_payload(adv_a=BT5_MAC, adv_data=PHONE_ADV), ci=1)
    for aux_type, name in enumerate(
        ["AUX_ADV_IND", "AUX_CHAIN_IND", "AUX_SYNC_IND", "AUX_SCAN_RSP"]
    ):
        adv = parse_nordic_ble(nordic(aux, channel=8, phy=2, aux=aux_type))
        assert (adv.pdu_type, adv.phy, adv.coding) == (name, "coded", "S2")
    # version 2: the access address tells data channel packets apart
    with pytest.raises(NoRemoteIdError) as exc:
        parse_nordic_ble(nordic(AA_DATA + b"\x01\x00\x00\x00\x00", version=2, channel=3))
    assert exc.value.field == "access_address"
    with pytest.raises(NoRemoteIdError) as exc:
        parse_nordic_ble(nordic(legacy, packet_id=0x01))  # EVENT_FOLLOW
    assert exc.value.field == "nordic_packet_id"


def test_parse_ble_record_dispatches_on_linktype():
    ll = adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(BASIC, 1))
    for linktype, data in [
        (251, ll),
        (256, phdr(ll, rf_channel=39)),
        (272, nordic(ll, channel=39)),
    ]:
        assert parse_ble_record(PcapRecord(0.0, linktype, data)).adv_a == LEGACY_MAC
    with pytest.raises(rid.RemoteIdError) as exc:
        parse_ble_record(PcapRecord(0.0, 1, ll))
    assert exc.value.field == "linktype"


def _field(call, *args, **kw) -> str:
    with pytest.raises(rid.RemoteIdError) as exc:
        call(*args, **kw)
    assert not isinstance(exc.value, NoRemoteIdError), exc.value
    return exc.value.field


def test_malformed_packets_name_the_field():
    good = adv_nonconn(LEGACY_MAC, rid.encode_ble_advertising(BASIC, 1))
    assert _field(parse_ble_ll, good[:3]) == "length"
    assert _field(parse_ble_ll, good[:-1]) == "length"
    assert _field(parse_ble_ll, good + b"\0") == "length"
    assert _field(parse_ble_ll, good[:-1] + bytes([good[-1] ^ 0x80])) == "crc"
    assert _field(parse_ble_ll, AA_ADV + b"\x02") == "length"
    assert _field(parse_ble_ll, ll_packet(0x2, bytes(40))) == "length"  # legacy payload > 37
    assert _field(parse_ble_ll, ll_packet(0x2, bytes(5))) == "length"  # shorter than AdvA
    assert _field(parse_ble_ll, ll_packet(0x1, bytes(6))) == "length"
    assert _field(parse_ble_ll, ll_packet(0x7, b"")) == "extended_header"
    assert _field(parse_ble_ll, ll_packet(0x7, b"\x05\x01abc")) == "extended_header"
    assert _field(parse_ble_ll, ll_packet(0x7, b"\x03\x01abc")) == "extended_header"  # AdvA cut
    assert (
        _field(parse_ble_ll, ll_packet(0x7, extended_payload(aux_ptr=aux_ptr_bytes(1, 0, 0, 0, 3))))
        == "aux_ptr"
    )
    assert (
        _field(parse_ble_ll, ll_packet(0x2, addr(LEGACY_MAC), ci=2), phy="coded")
        == "coding_indicator"
    )
    assert _field(parse_ble_ll, AA_ADV, phy="coded") == "coding_indicator"
    assert _field(parse_ble_ll, good, channel=40) == "channel"
    assert _field(parse_ble_ll, good, aux_type=4) == "aux_type"
    assert _field(parse_ble_phdr, good[:9]) == "length"
    assert _field(parse_ble_phdr, phdr(good, rf_channel=40)) == "rf_channel"
    assert _field(parse_ble_phdr, phdr(good, rf_channel=1, phy=3)) == "phdr_flags"
    record = nordic(good)
    assert _field(parse_nordic_ble, record[:16]) == "length"
    assert _field(parse_nordic_ble, record + b"\0") == "nordic_payload_length"
    assert _field(parse_nordic_ble, b"\xbe\xef" + record[2:]) == "nordic_version"
    assert _field(parse_nordic_ble, record[:3] + b"\x04" + record[4:]) == "nordic_version"
    assert _field(parse_nordic_ble, record[:7] + b"\x0b" + record[8:]) == "nordic_event_length"
    assert _field(parse_nordic_ble, nordic(good, phy=5)) == "nordic_flags"
    assert _field(parse_nordic_ble, nordic(good, channel=41)) == "channel"
    v1 = nordic(good, version=1)
    assert _field(parse_nordic_ble, v1[:1] + b"\x07" + v1[2:]) == "nordic_header_length"
    assert _field(ble_crc24, b"", 1 << 24) == "crc_init"


def test_not_remote_id_reasons():
    with pytest.raises(NoRemoteIdError) as exc:
        parse_ble_ll(AA_DATA + b"\x01\x00\x00\x00\x00")
    assert exc.value.field == "access_address" and isinstance(exc.value, rid.RemoteIdError)
    with pytest.raises(NoRemoteIdError) as exc:
        parse_ble_ll(ll_packet(0xC, b"\x00" * 6))
    assert exc.value.field == "pdu_type"


# ---------------------------------------------------------------------------------------------
# Wi-Fi records and per-frame decisions
# ---------------------------------------------------------------------------------------------

WIFI_MAC = "60:60:1f:a3:5c:21"


def wifi_records() -> list[tuple[str, bytes]]:
    pack = rid.encode_message_pack([BASIC, LOCATION])
    beacon = rid.encode_beacon_frame(pack, 3, WIFI_MAC, ssid="drone")
    ap_beacon = beacon[:36] + b"\x00\x04home"  # SSID only, no ODID element
    return [
        ("beacon", beacon),
        ("nan", rid.encode_nan_action_frame(pack, 4, WIFI_MAC)),
        ("data", b"\x08\x01" + bytes(22) + b"payload"),
        ("ack", b"\xd4\x00" + bytes(8)),
        ("probe_response", b"\x50\x00" + bytes(34)),
        ("ap_beacon", ap_beacon),
        ("other_action", beacon[:24].replace(b"\x80", b"\xd0", 1) + b"\x03\x00\x01\x10\x02\x00"),
        ("protected_action", b"\xd0\x40" + bytes(22) + b"\x04\x09"),
        ("short_beacon", beacon[:20]),
        ("bad_version", b"\x81\x00" + bytes(30)),
        ("bad_ie", beacon[:36] + b"\xdd\x30\xfa\x0b"),
        ("bad_pack", beacon[:-25] + b"\x60" + beacon[-24:]),
    ]


def test_wifi_frames_decoded_skipped_or_malformed():
    outcomes: dict[str, tuple[object, ...]] = {}
    for name, frame in wifi_records():
        try:
            decoded = decode_record(PcapRecord(1.5, 105, frame), 3)
        except NoRemoteIdError as exc:
            outcomes[name] = ("skip", exc.field)
        except rid.RemoteIdError as exc:
            outcomes[name] = ("error", exc.field)
        else:
            outcomes[name] = (decoded.transport, decoded.mac, len(decoded.messages))
            assert decoded.index == 3 and decoded.timestamp_s == 1.5 and decoded.counter is None
    assert outcomes == {
        "beacon": ("wifi-beacon", WIFI_MAC, 2),
        "nan": ("wifi-nan", WIFI_MAC, 2),
        "data": ("skip", "frame_type"),
        "ack": ("skip", "frame_type"),
        "probe_response": ("skip", "frame_subtype"),
        "ap_beacon": ("skip", "vendor_ie"),
        "other_action": ("skip", "category"),
        "protected_action": ("skip", "frame_control"),
        "short_beacon": ("error", "length"),
        "bad_version": ("error", "frame_control"),
        "bad_ie": ("error", "ie_length"),
        "bad_pack": ("error", "message_type"),
    }


def test_radiotap_and_other_linktypes():
    beacon = wifi_records()[0][1]
    radiotap = bytes([0, 0, 8, 0, 0, 0, 0, 0])  # version 0, length 8, nothing present
    assert decode_record(PcapRecord(0.0, 127, radiotap + beacon)).transport == "wifi-beacon"
    with pytest.raises(rid.RemoteIdError) as exc:
        decode_record(PcapRecord(0.0, 127, b"\x01" + radiotap[1:] + beacon))
    assert exc.value.field == "radiotap"
    with pytest.raises(rid.RemoteIdError) as exc:
        decode_record(PcapRecord(0.0, 105, b"\x80"))
    assert exc.value.field == "length"
    with pytest.raises(NoRemoteIdError) as skip:
        decode_record(PcapRecord(0.0, 1, beacon))
    assert skip.value.field == "linktype"


def test_ble_advertising_data_that_is_not_open_drone_id_is_skipped_but_broken_odid_is_an_error():
    record = PcapRecord(0.0, 251, adv_nonconn(LEGACY_MAC, PHONE_ADV))
    with pytest.raises(NoRemoteIdError) as skip:
        decode_record(record)
    assert skip.value.field == "adv_data"
    broken = bytearray(rid.encode_ble_advertising(LOCATION, 1))
    broken[6] = 0x71  # message type 7 is reserved
    with pytest.raises(rid.RemoteIdError) as exc:
        decode_record(PcapRecord(0.0, 251, adv_nonconn(LEGACY_MAC, bytes(broken))))
    assert exc.value.field == "message_type" and not isinstance(exc.value, NoRemoteIdError)
    overrun = PHONE_ADV + b"\x09\x16"
    with pytest.raises(rid.RemoteIdError) as exc:
        decode_record(PcapRecord(0.0, 251, adv_nonconn(LEGACY_MAC, overrun)))
    assert exc.value.field == "ad_length" and not isinstance(exc.value, NoRemoteIdError)


def test_mixed_pcapng_with_simple_packet_time_and_damaged_tail():
    beacon = wifi_records()[0][1]
    capture = pcapng_bytes([105, 251], [(0, 10.0, beacon), (1, 11.0, b"\x00")])
    capture += _block(0x00000003, struct.pack("<I", len(beacon)) + beacon)  # simple packet: no time
    stats = CaptureStats()
    frames = list(iter_capture_messages(capture + b"\x06\x00\x00\x00\xff", stats))
    assert [f.transport for f in frames] == ["wifi-beacon", "wifi-beacon"] and stats.records == 3
    assert frames[0].timestamp_s == 10.0 and math.isnan(frames[1].timestamp_s)
    assert [(e.index, e.linktype, e.error.field) for e in stats.errors] == [(1, 251, "length")]
    assert stats.truncated is not None and "truncated" in stats.truncated


def test_unreadable_captures_raise_pcap_error():
    with pytest.raises(PcapError):
        list(iter_capture_messages(b"not a capture at all"))
    with pytest.raises(PcapError):  # header fine, first record overruns the file
        list(iter_capture_messages(pcap_bytes(251, [(0.0, b"abc")])[:-1]))
    assert list(iter_capture_messages(pcap_bytes(251, []))) == []


def test_message_fields_are_json_scalars_in_si_units():
    loc = message_fields(rid.decode_location(LOCATION))
    assert loc["message_type"] == "LOCATION" and loc["status"] == "AIRBORNE"
    assert (loc["lat"], loc["lon"], loc["alt_geo_m"], loc["alt_baro_m"], loc["height_m"]) == (
        51.6612345, 5.7123456, 178.0, 131.5, 112.5,
    )  # fmt: skip
    assert (loc["speed_ms"], loc["vertical_speed_ms"], loc["track_direction_deg"]) == (
        7.25,
        -1.5,
        215.0,
    )
    assert (loc["horizontal_accuracy"], loc["horizontal_accuracy_m"]) == ("M_3", 3.0)
    assert (loc["speed_accuracy"], loc["speed_accuracy_ms"]) == ("MS_1", 1.0)
    assert loc["timestamp_after_hour_s"] == 1234.5 and "timestamp_s" not in loc
    basic = message_fields(rid.decode_basic_id(BASIC))
    assert basic == {
        "message_type": "BASIC_ID", "protocol_version": "F3411_22A", "id_type": "SERIAL_NUMBER",
        "ua_type": "HELICOPTER_OR_MULTIROTOR", "uas_id": "1596F3Q8X21400023",
    }  # fmt: skip
    system = message_fields(rid.decode_system(SYSTEM))
    assert (system["operator_lat"], system["operator_lon"], system["operator_alt_geo_m"]) == (
        51.6601234, 5.7101234, 66.5,
    )  # fmt: skip
    assert system["timestamp"] == "2026-03-14T10:00:00.000000Z" and system["ua_class"] == "CLASS_2"
    auth = message_fields(rid.decode_authentication(AUTH))
    assert auth["data"] == bytes(range(1, 18)).hex() and auth["auth_type"] == "UAS_ID_SIGNATURE"
    private = message_fields(rid.decode_self_id(rid.encode_self_id(210, "x")))
    assert private["description_type"] == 210


def test_feed_doc_example_lines_decode_in_the_live_pipe():
    """docs/remoteid-feed.md's example lines are real frames the live receiver pipe accepts."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "remoteid-feed.md").read_text()
    block = doc.split("```json\n", 1)[1].split("```", 1)[0]
    lines = block.strip().splitlines()
    assert len(lines) == 2
    pipe = RemoteIdPipe("rx", SiteOrigin(51.6564, 5.7087, 65.0))
    (batch,) = pipe.feed(block.encode())
    assert pipe.counters.rejected == 0 and pipe.counters.decoded == 2
    assert batch.ident == ("1581F5FJD229V00QZ7",)
    assert batch.t_s[0] % 3600 == pytest.approx(1810.0)
    basic, location = (
        rid.decode_ble_advertising(bytes.fromhex(line.split('"payload": "')[1][:62]))[1]
        for line in lines
    )
    assert isinstance(basic, rid.BasicId) and isinstance(location, rid.LocationVector)
    assert (location.lat, location.lon, location.alt_geo_m, location.speed_ms, location.track_direction_deg) == (
        51.6612345, 5.7123456, 178.0, 7.25, 215.0,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# fuzz: only typed errors, never a hang
# ---------------------------------------------------------------------------------------------

PHYS = st.sampled_from([None, "1M", "2M", "coded"])


@settings(max_examples=300)
@given(st.binary(max_size=300), PHYS, st.one_of(st.none(), st.integers(0, 39)))
def test_fuzz_ll_parser_raises_only_remote_id_errors(data, phy, channel):
    with contextlib.suppress(rid.RemoteIdError):
        parse_ble_ll(data, phy=phy, channel=channel)


@settings(max_examples=300)
@given(st.integers(0, 255), st.binary(max_size=255), st.booleans(), PHYS)
def test_fuzz_crc_valid_advertising_packets(header0, payload, coded, phy):
    """Past the CRC check: arbitrary PDU types and payloads reach the PDU and AD parsers."""
    pdu = bytes([header0, len(payload)]) + payload
    packet = AA_ADV + (b"\x00" if coded else b"") + pdu + crc_spec_lfsr(pdu)
    try:
        adv = parse_ble_ll(packet, phy="coded" if coded else phy)
    except rid.RemoteIdError:
        return
    with contextlib.suppress(rid.RemoteIdError):
        decode_record(PcapRecord(0.0, 251, packet))
    assert adv.access_address == ADVERTISING_ACCESS_ADDRESS


@settings(max_examples=300)
@given(st.binary(min_size=25, max_size=25), st.integers(0, 255))
def test_fuzz_odid_message_bytes_in_a_valid_advertisement(message, counter):
    ad = bytes([30, 0x16, 0xFA, 0xFF, 0x0D, counter]) + message
    try:
        frame = decode_record(PcapRecord(0.0, 251, adv_nonconn(LEGACY_MAC, ad)))
    except rid.RemoteIdError:
        return
    assert frame.mac == LEGACY_MAC and len(frame.messages) == 1


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_fuzz_pseudo_header_parsers(data):
    for parser in (parse_ble_phdr, parse_nordic_ble):
        with contextlib.suppress(rid.RemoteIdError):
            parser(data)


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_fuzz_whole_capture_of_arbitrary_bytes(data):
    with contextlib.suppress(PcapError):
        list(iter_capture_messages(data))


@settings(max_examples=200)
@given(
    st.sampled_from([105, 127, 251, 256, 272, 1]),
    st.lists(st.binary(max_size=80), max_size=6),
)
def test_fuzz_records_of_every_linktype_are_counted_never_raised(linktype, payloads):
    stats = CaptureStats()
    frames = list(iter_capture_messages(pcap_bytes(linktype, [(1.0, p) for p in payloads]), stats))
    assert stats.records == len(payloads)
    assert len(frames) + sum(stats.skipped.values()) + len(stats.errors) == len(payloads)


if __name__ == "__main__":
    write_fixtures()
