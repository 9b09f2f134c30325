"""Tests for the ASTM F3411 Remote ID codec: real captures, golden vectors, round trips, fuzz."""

from __future__ import annotations

import contextlib
import itertools
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.ingest.remoteid import (
    ASD_STAN_OUI,
    F3411_EPOCH_UNIX_S,
    NAN_SERVICE_ID,
    Authentication,
    AuthType,
    BasicId,
    ClassificationType,
    DescriptionType,
    HeightType,
    HorizontalAccuracy,
    IdType,
    LocationVector,
    MessagePack,
    OperatorId,
    OperatorIdType,
    OperatorLocationType,
    ProtocolVersion,
    RemoteIdError,
    SelfId,
    SingleMessage,
    SpeedAccuracy,
    Status,
    System,
    UaCategory,
    UaClass,
    UaType,
    VerticalAccuracy,
    decode_authentication,
    decode_basic_id,
    decode_beacon_frame,
    decode_ble_advertising,
    decode_location,
    decode_message,
    decode_nan_action_frame,
    decode_operator_id,
    decode_self_id,
    decode_system,
    decode_wifi_frame,
    decode_wifi_vendor_ie,
    encode_authentication,
    encode_basic_id,
    encode_beacon_frame,
    encode_ble_advertising,
    encode_location,
    encode_message,
    encode_message_pack,
    encode_nan_action_frame,
    encode_operator_id,
    encode_self_id,
    encode_system,
    encode_wifi_beacon_ie,
)
from luchtwacht.transport.pcap import ieee80211_frame, read_records

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "remoteid"
DRONE_MAC = "84:cc:a8:60:43:24"

# --------------------------------------------------------------------------------------------
# Golden vectors, built by hand from the F3411 layouts (see the module docstring)
# --------------------------------------------------------------------------------------------

# Basic ID, v2: id_type 1 (serial) | ua_type 2 (multirotor), "1ABCD2EFGH3IJKL", NUL pad, reserved
BASIC_ID_HEX = "02123141424344324546474833494a4b4c0000000000000000"
# Location, v2: status 2 | height type AGL | E/W flag | multiplier 0 = 0x26; 270 deg -> 90 = 0x5a;
# 12.5 m/s / 0.25 = 50; -2.5 m/s / 0.5 = -5; lat 52.0907374; lon 5.1214201;
# baro 120.5 m -> 2241 = 0x08c1; geo 165 m -> 2330 = 0x091a; height 40 m -> 2080 = 0x0820;
# vert acc 5 (<3 m) | horiz acc 11 (<3 m); baro acc 4 (<10 m) | speed acc 3 (<1 m/s);
# timestamp 1234.5 s -> 12345 = 0x3039; timestamp accuracy 0.2 s -> 2; reserved
LOCATION_HEX = "12265a32fb6e6a0c1f79770d03c1081a0920085b4339300200"
# Authentication page 0, v2: auth type 1 | page 0; last page index 1; length 30;
# timestamp 1700000000 - 1546300800 = 153699200 = 0x09294380; data 00..10
AUTH_PAGE0_HEX = "2210011e80432909000102030405060708090a0b0c0d0e0f10"
# Authentication page 1, v2: auth type 1 | page 1; 13 data bytes 11..1d then NUL padding
AUTH_PAGE1_HEX = "22111112131415161718191a1b1c1d00000000000000000000"
# Self-ID, v2: description type 0 (text), "Drone delivery" NUL padded to 23 bytes
SELF_ID_HEX = "320044726f6e652064656c6976657279000000000000000000"
# System, v2: classification EU (1 << 2) | operator location live GNSS (1) = 0x05;
# operator 52.09 N 5.12 E; area count 3; radius 25 x 10 m; ceiling 300 m -> 2600 = 0x0a28;
# floor 50 m -> 2100 = 0x0834; category specific (2) | class C2 (3); operator alt 10 m -> 2020
# = 0x07e4; timestamp 153699200 (Unix 1700000000); reserved
SYSTEM_HEX = "4205a04d0c1f00400d03030019280a340823e4078043290900"
# Operator ID, v2: type 0, "FIN87astrdge12k8" NUL padded to 20 bytes, reserved
OPERATOR_ID_HEX = "520046494e38376173747264676531326b3800000000000000"
# Message Pack, v2: message size 25, 2 messages
PACK_HEX = "f21902" + BASIC_ID_HEX + OPERATOR_ID_HEX

GOLDEN_HEX = [
    BASIC_ID_HEX,
    LOCATION_HEX,
    AUTH_PAGE0_HEX,
    AUTH_PAGE1_HEX,
    SELF_ID_HEX,
    SYSTEM_HEX,
    OPERATOR_ID_HEX,
]
V2 = ProtocolVersion.F3411_22A


def _patch(hex_string: str, offset: int, value: int) -> bytes:
    data = bytearray.fromhex(hex_string)
    data[offset] = value
    return bytes(data)


def test_golden_vectors_are_25_bytes() -> None:
    assert all(len(bytes.fromhex(h)) == 25 for h in GOLDEN_HEX)


def test_golden_basic_id() -> None:
    message = decode_basic_id(bytes.fromhex(BASIC_ID_HEX))
    assert message == BasicId(
        V2, IdType.SERIAL_NUMBER, UaType.HELICOPTER_OR_MULTIROTOR, "1ABCD2EFGH3IJKL"
    )
    encoded = encode_basic_id(
        IdType.SERIAL_NUMBER, UaType.HELICOPTER_OR_MULTIROTOR, "1ABCD2EFGH3IJKL"
    )
    assert encoded.hex() == BASIC_ID_HEX


def test_golden_location() -> None:
    message = decode_location(bytes.fromhex(LOCATION_HEX))
    assert message == LocationVector(
        protocol_version=V2,
        status=Status.AIRBORNE,
        height_type=HeightType.ABOVE_GROUND,
        track_direction_deg=270.0,
        speed_ms=12.5,
        vertical_speed_ms=-2.5,
        lat=52.0907374,
        lon=5.1214201,
        alt_baro_m=120.5,
        alt_geo_m=165.0,
        height_m=40.0,
        horizontal_accuracy=HorizontalAccuracy.M_3,
        vertical_accuracy=VerticalAccuracy.M_3,
        baro_accuracy=VerticalAccuracy.M_10,
        speed_accuracy=SpeedAccuracy.MS_1,
        timestamp_s=1234.5,
        timestamp_accuracy_s=0.2,
    )
    assert message.horizontal_accuracy.bound_m == 3.0
    assert message.speed_accuracy.bound_ms == 1.0
    assert encode_message(message).hex() == LOCATION_HEX


def test_golden_authentication_pages() -> None:
    page0 = decode_authentication(bytes.fromhex(AUTH_PAGE0_HEX))
    assert page0 == Authentication(
        V2, AuthType.UAS_ID_SIGNATURE, 0, 1, 30, 1_700_000_000, bytes(range(17))
    )
    page1 = decode_authentication(bytes.fromhex(AUTH_PAGE1_HEX))
    assert page1.page_number == 1
    assert (page1.last_page_index, page1.length, page1.timestamp) == (None, None, None)
    assert page1.data == bytes(range(0x11, 0x1E)) + bytes(10)
    assert (
        encode_authentication(
            auth_type=AuthType.UAS_ID_SIGNATURE,
            page_number=0,
            data=bytes(range(17)),
            last_page_index=1,
            length=30,
            timestamp=1_700_000_000,
        ).hex()
        == AUTH_PAGE0_HEX
    )
    encoded1 = encode_authentication(auth_type=1, page_number=1, data=bytes(range(0x11, 0x1E)))
    assert encoded1.hex() == AUTH_PAGE1_HEX


def test_golden_self_id() -> None:
    message = decode_self_id(bytes.fromhex(SELF_ID_HEX))
    assert message == SelfId(V2, DescriptionType.TEXT, "Drone delivery")
    assert encode_self_id(DescriptionType.TEXT, "Drone delivery").hex() == SELF_ID_HEX


def test_golden_system() -> None:
    message = decode_system(bytes.fromhex(SYSTEM_HEX))
    assert message == System(
        protocol_version=V2,
        operator_location_type=OperatorLocationType.LIVE_GNSS,
        classification_type=ClassificationType.EU,
        operator_lat=52.09,
        operator_lon=5.12,
        area_count=3,
        area_radius_m=250,
        area_ceiling_m=300.0,
        area_floor_m=50.0,
        ua_category=UaCategory.SPECIFIC,
        ua_class=UaClass.CLASS_2,
        operator_alt_geo_m=10.0,
        timestamp=1_700_000_000,
    )
    assert encode_message(message).hex() == SYSTEM_HEX


def test_golden_operator_id() -> None:
    message = decode_operator_id(bytes.fromhex(OPERATOR_ID_HEX))
    assert message == OperatorId(V2, OperatorIdType.OPERATOR_ID, "FIN87astrdge12k8")
    assert encode_operator_id(0, "FIN87astrdge12k8").hex() == OPERATOR_ID_HEX


def test_golden_message_pack() -> None:
    pack = decode_message(bytes.fromhex(PACK_HEX))
    assert isinstance(pack, MessagePack)
    assert pack.protocol_version == V2
    assert [type(m) for m in pack.messages] == [BasicId, OperatorId]
    encoded = encode_message_pack([bytes.fromhex(BASIC_ID_HEX), bytes.fromhex(OPERATOR_ID_HEX)])
    assert encoded.hex() == PACK_HEX


def test_golden_ble_legacy_advertising() -> None:
    # Flags AD (02 01 06), then the ODID service data AD: 0x1e bytes, type 0x16, UUID FA FF,
    # app code 0D, counter 7, Basic ID.
    adv = bytes.fromhex("0201061e16faff0d07" + BASIC_ID_HEX)
    counter, message = decode_ble_advertising(adv)
    assert counter == 7
    assert message == decode_basic_id(bytes.fromhex(BASIC_ID_HEX))
    assert encode_ble_advertising(bytes.fromhex(BASIC_ID_HEX), 7) == adv[3:]


def test_golden_ble5_message_pack() -> None:
    pack = bytes.fromhex(PACK_HEX)
    adv = bytes([5 + len(pack)]) + bytes.fromhex("16faff0d2a") + pack
    counter, message = decode_ble_advertising(adv + bytes(4))  # zero padding is allowed
    assert counter == 0x2A
    assert isinstance(message, MessagePack)
    assert len(message.messages) == 2


# opendroneid-core-c's ODID_MessagePack_encoded: header, size, count, then nine 25-byte slots;
# transmitters send all 228 bytes with the unused slots zero-filled.
ODID_ENCODED_PACK_SIZE = 3 + 9 * 25


def _ble5_ad(pack: bytes, counter: int) -> bytes:
    """The Bluetooth 5 Long Range ODID AD structure, built by hand (len | 16 FA FF 0D | counter)."""
    return bytes([5 + len(pack)]) + bytes.fromhex("16faff0d") + bytes([counter]) + pack


def test_fixed_228_byte_pack_is_read_by_its_message_count() -> None:
    pack = bytes.fromhex(PACK_HEX)
    padded = pack.ljust(ODID_ENCODED_PACK_SIZE, b"\0")
    assert len(padded) == 228
    assert decode_message(padded) == decode_message(pack)
    counter, message = decode_ble_advertising(b"\x02\x01\x06" + _ble5_ad(padded, 3))
    assert counter == 3 and isinstance(message, MessagePack)
    assert [type(m) for m in message.messages] == [BasicId, OperatorId]
    # Wi-Fi carries the same pack: the padded one decodes there too
    frame = encode_beacon_frame(padded, 5, "84:cc:a8:60:43:24")
    assert padded in frame and bytes([221, 5 + len(padded)]) in frame
    assert decode_beacon_frame(frame)[1] == list(message.messages)
    # the BLE4 legacy framing (one 25-byte message, no pack) is unchanged
    legacy = decode_ble_advertising(encode_ble_advertising(bytes.fromhex(BASIC_ID_HEX), 1))
    assert legacy == (1, decode_basic_id(bytes.fromhex(BASIC_ID_HEX)))


@settings(max_examples=200)
@given(
    st.lists(st.sampled_from(GOLDEN_HEX), min_size=1, max_size=9),
    st.integers(0, 255),
    st.data(),
)
def test_zero_padding_of_any_length_is_accepted_non_zero_is_not(
    messages_hex: list[str], counter: int, data: st.DataObject
) -> None:
    messages = [bytes.fromhex(h) for h in messages_hex]
    pack = encode_message_pack(messages)
    room = 255 - 5 - len(pack)  # the AD length byte bounds what a BLE5 advert can carry
    pad = data.draw(st.integers(0, room), label="padding")
    padded = pack + bytes(pad)
    expected = decode_message(pack)
    assert decode_message(padded) == expected
    assert decode_ble_advertising(_ble5_ad(padded, counter)) == (counter, expected)
    if pad:
        at = data.draw(st.integers(0, pad - 1), label="non-zero at")
        bad = bytearray(padded)
        bad[len(pack) + at] = data.draw(st.integers(1, 255), label="byte")
        for decode in (decode_message, lambda b: decode_ble_advertising(_ble5_ad(b, counter))):
            with pytest.raises(RemoteIdError) as excinfo:
                decode(bytes(bad))
            assert excinfo.value.field == "padding"
            assert f"byte {len(pack) + at} " in str(excinfo.value)


def test_golden_special_values_decode_to_none() -> None:
    # Location v0, status 0, E/W flag + multiplier set: direction 181 + 180 = 361 (unknown),
    # speed 255 x 0.75 + 63.75 = 255 (unknown), vertical 126 x 0.5 = 63 (unknown), lat/lon 0,
    # altitudes 0 (-1000 m), accuracies 0, timestamp 0xFFFF, timestamp accuracy 0.
    data = bytes.fromhex("1003b5ff7e0000000000000000000000000000")
    data += bytes.fromhex("0000ffff0000")
    message = decode_location(data)
    assert message.track_direction_deg is None
    assert message.speed_ms is None
    assert message.vertical_speed_ms is None
    assert (message.lat, message.lon) == (None, None)
    assert (message.alt_baro_m, message.alt_geo_m, message.height_m) == (None, None, None)
    assert message.timestamp_s is None
    assert message.timestamp_accuracy_s is None
    assert message.horizontal_accuracy.bound_m is None
    assert encode_location(protocol_version=0) == data


def test_binary_uas_ids() -> None:
    uuid_text = "12345678-9abc-4def-8123-456789abcdef"
    encoded = encode_basic_id(IdType.UTM_ASSIGNED_UUID, UaType.AEROPLANE, uuid_text)
    assert encoded[2:18] == bytes.fromhex(uuid_text.replace("-", ""))
    assert decode_basic_id(encoded).uas_id == uuid_text
    session = encode_basic_id(IdType.SPECIFIC_SESSION_ID, UaType.OTHER, "e1" + "ab" * 10)
    assert decode_basic_id(session).uas_id == "e1" + "ab" * 10 + "00" * 9


def test_private_use_values_decode_as_int() -> None:
    self_id = decode_self_id(_patch(SELF_ID_HEX, 1, 250))
    assert self_id.description_type == 250
    assert not isinstance(self_id.description_type, DescriptionType)
    auth = decode_authentication(_patch(AUTH_PAGE1_HEX, 1, 0xA1))
    assert auth.auth_type == 0xA
    assert decode_operator_id(_patch(OPERATOR_ID_HEX, 1, 201)).operator_id_type == 201


def test_system_timestamp_only_from_protocol_version_2() -> None:
    older = decode_system(_patch(SYSTEM_HEX, 0, 0x41))  # same bytes, protocol version 1
    assert older.protocol_version == ProtocolVersion.F3411_20
    assert older.timestamp is None
    assert older.ua_class == UaClass.CLASS_2


def test_reserved_bits_and_bytes_are_ignored() -> None:
    noisy = bytearray.fromhex(LOCATION_HEX)
    noisy[1] |= 0x08  # reserved flag bit
    noisy[23] |= 0xF0  # reserved nibble
    noisy[24] = 0x5A  # reserved byte
    assert decode_location(bytes(noisy)) == decode_location(bytes.fromhex(LOCATION_HEX))


@pytest.mark.parametrize(
    ("speed", "raw", "multiplier", "decoded"),
    [
        (0.0, 0, 0, 0.0),
        (12.6, 50, 0, 12.5),
        (63.75, 255, 0, 63.75),
        (63.9, 255, 0, 63.75),  # nearer to 63.75 than to 64.5: canonical low-range form
        (64.2, 1, 1, 64.5),
        (254.25, 254, 1, 254.25),
    ],
)
def test_speed_multiplier_encoding(speed: float, raw: int, multiplier: int, decoded: float) -> None:
    data = encode_location(speed_ms=speed)
    assert (data[3], data[1] & 1) == (raw, multiplier)
    message = decode_location(data)
    assert message.speed_ms == decoded
    assert encode_message(message) == data


def test_direction_360_from_rounding_encoders_is_north() -> None:
    # Some encoders round 359.6 deg to 360 and send E/W flag 1 with 180.
    assert decode_location(_patch(LOCATION_HEX, 2, 180)).track_direction_deg == 0.0


# --------------------------------------------------------------------------------------------
# Malformed input: every error is a RemoteIdError naming the field
# --------------------------------------------------------------------------------------------


def _location_with(offset: int, fmt: str, value: int) -> bytes:
    data = bytearray.fromhex(LOCATION_HEX)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


DECODE_ERRORS: list[tuple[str, Callable[[bytes], object], bytes, str]] = [
    ("empty", decode_message, b"", "length"),
    ("short", decode_message, bytes.fromhex(BASIC_ID_HEX)[:24], "length"),
    ("long", decode_message, bytes.fromhex(BASIC_ID_HEX) + b"\0", "length"),
    ("type 6", decode_message, _patch(BASIC_ID_HEX, 0, 0x62), "message_type"),
    ("version 3", decode_message, _patch(BASIC_ID_HEX, 0, 0x03), "protocol_version"),
    ("version 15", decode_message, _patch(BASIC_ID_HEX, 0, 0x0F), "protocol_version"),
    ("wrong decoder", decode_location, bytes.fromhex(BASIC_ID_HEX), "message_type"),
    ("id type 5", decode_message, _patch(BASIC_ID_HEX, 1, 0x52), "id_type"),
    ("uas id 8 bit", decode_message, _patch(BASIC_ID_HEX, 3, 0xC3), "uas_id"),
    ("status 5", decode_message, _patch(LOCATION_HEX, 1, 0x56), "status"),
    ("east 200 deg", decode_message, _location_with(1, "<H", 0xC824), "track_direction_deg"),
    ("west 182", decode_message, _patch(LOCATION_HEX, 2, 182), "track_direction_deg"),
    ("vspeed 127", decode_message, _patch(LOCATION_HEX, 4, 0x7F), "vertical_speed_ms"),
    ("vspeed -128", decode_message, _patch(LOCATION_HEX, 4, 0x80), "vertical_speed_ms"),
    ("lat", decode_message, _location_with(5, "<i", 900_000_001), "lat"),
    ("lon", decode_message, _location_with(9, "<i", -1_800_000_001), "lon"),
    ("h acc 13", decode_message, _patch(LOCATION_HEX, 19, 0x5D), "horizontal_accuracy"),
    ("v acc 7", decode_message, _patch(LOCATION_HEX, 19, 0x7B), "vertical_accuracy"),
    ("baro acc 9", decode_message, _patch(LOCATION_HEX, 20, 0x93), "baro_accuracy"),
    ("speed acc 5", decode_message, _patch(LOCATION_HEX, 20, 0x45), "speed_accuracy"),
    ("time > 1 h", decode_message, _location_with(21, "<H", 36001), "timestamp_s"),
    ("auth type 6", decode_message, _patch(AUTH_PAGE0_HEX, 1, 0x60), "auth_type"),
    ("auth last 16", decode_message, _patch(AUTH_PAGE0_HEX, 2, 16), "last_page_index"),
    ("auth length", decode_message, _patch(AUTH_PAGE0_HEX, 3, 41), "length"),
    ("desc type 3", decode_message, _patch(SELF_ID_HEX, 1, 3), "description_type"),
    ("desc ctrl", decode_message, _patch(SELF_ID_HEX, 2, 0x07), "description"),
    ("op loc 3", decode_message, _patch(SYSTEM_HEX, 1, 0x07), "operator_location_type"),
    ("class type 2", decode_message, _patch(SYSTEM_HEX, 1, 0x09), "classification_type"),
    ("op lat", decode_message, _patch(SYSTEM_HEX, 5, 0x7F), "operator_lat"),
    ("category 4", decode_message, _patch(SYSTEM_HEX, 17, 0x43), "ua_category"),
    ("class 8", decode_message, _patch(SYSTEM_HEX, 17, 0x28), "ua_class"),
    ("op id type 1", decode_message, _patch(OPERATOR_ID_HEX, 1, 1), "operator_id_type"),
    ("pack header", decode_message, bytes.fromhex("f219"), "length"),
    ("pack size", decode_message, _patch(PACK_HEX, 1, 24), "message_size"),
    ("pack count 0", decode_message, bytes.fromhex("f21900"), "message_count"),
    ("pack count 10", decode_message, _patch(PACK_HEX, 2, 10), "message_count"),
    ("pack count 1", decode_message, _patch(PACK_HEX, 2, 1), "padding"),
    ("pack truncated", decode_message, bytes.fromhex(PACK_HEX)[:-1], "length"),
    ("pack nested", decode_message, bytes.fromhex("f21901f21901") + bytes(22), "message_type"),
    ("pack inner", decode_message, _patch(PACK_HEX, 4, 0x52), "id_type"),
    ("ble none", decode_ble_advertising, bytes.fromhex("020106"), "adv_data"),
    ("ble overrun", decode_ble_advertising, bytes.fromhex("1e16faff0d07") + b"\2", "ad_length"),
    ("ble counter", decode_ble_advertising, bytes.fromhex("0416faff0d"), "counter"),
    ("ble message", decode_ble_advertising, bytes.fromhex("0516faff0d07"), "length"),
    ("ie short", decode_wifi_vendor_ie, ASD_STAN_OUI, "length"),
    ("ie oui", decode_wifi_vendor_ie, bytes.fromhex("506f9a0d00") + bytes.fromhex(PACK_HEX), "oui"),
    ("ie type", decode_wifi_vendor_ie, ASD_STAN_OUI + b"\x0e\x00" + bytes(3), "oui_type"),
    ("ie counter", decode_wifi_vendor_ie, ASD_STAN_OUI + b"\x0d", "counter"),
    ("ie single", decode_wifi_vendor_ie, ASD_STAN_OUI + b"\x0d\x00" + bytes(25), "message_type"),
    ("ie len byte", decode_wifi_vendor_ie, b"\xdd\x09" + ASD_STAN_OUI + b"\x0d", "length"),
]


@pytest.mark.parametrize(
    ("decoder", "data", "field"),
    [pytest.param(d, b, f, id=name) for name, d, b, f in DECODE_ERRORS],
)
def test_decoder_errors_name_the_field(
    decoder: Callable[[bytes], object], data: bytes, field: str
) -> None:
    with pytest.raises(RemoteIdError) as excinfo:
        decoder(data)
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field}: ")


def _beacon(pack_hex: str = PACK_HEX) -> bytes:
    return encode_beacon_frame(bytes.fromhex(pack_hex), 1, DRONE_MAC, ssid="odid")


def _nan(pack_hex: str = PACK_HEX) -> bytes:
    return encode_nan_action_frame(bytes.fromhex(pack_hex), 1, DRONE_MAC)


FRAME_ERRORS: list[tuple[str, Callable[[bytes], object], bytes, str]] = [
    ("beacon short", decode_beacon_frame, _beacon()[:20], "length"),
    ("beacon fixed", decode_beacon_frame, _beacon()[:30], "length"),
    ("beacon is data", decode_beacon_frame, b"\x08" + _beacon()[1:], "frame_control"),
    ("beacon proto", decode_beacon_frame, b"\x81" + _beacon()[1:], "frame_control"),
    (
        "beacon protected",
        decode_beacon_frame,
        _beacon()[:1] + b"\x40" + _beacon()[2:],
        "frame_control",
    ),
    ("beacon no odid", decode_beacon_frame, _beacon()[:36] + b"\x00\x04odid", "vendor_ie"),
    ("beacon trunc ie", decode_beacon_frame, _beacon()[:36] + b"\x00\x09odid", "ie_length"),
    ("beacon trunc hdr", decode_beacon_frame, _beacon()[:36] + b"\x00", "ie_length"),
    ("nan is beacon", decode_nan_action_frame, _beacon(), "frame_control"),
    ("nan short", decode_nan_action_frame, _nan()[:28], "length"),
    ("nan category", decode_nan_action_frame, _nan()[:24] + b"\x07" + _nan()[25:], "category"),
    ("nan oui", decode_nan_action_frame, _nan()[:29] + b"\x12" + _nan()[30:], "oui"),
    ("nan no sda", decode_nan_action_frame, _nan()[:30], "service_id"),
    ("nan other sid", decode_nan_action_frame, _nan()[:33] + b"\x00" + _nan()[34:], "service_id"),
    ("nan trunc attr", decode_nan_action_frame, _nan()[:32], "nan_attribute"),
    ("nan sda overrun", decode_nan_action_frame, _nan()[:40], "nan_attribute"),
    ("nan no info", decode_nan_action_frame, _nan()[:41] + b"\x00" + _nan()[42:], "service_info"),
    ("wifi short", decode_wifi_frame, b"\x80", "length"),
]


@pytest.mark.parametrize(
    ("decoder", "data", "field"),
    [pytest.param(d, b, f, id=name) for name, d, b, f in FRAME_ERRORS],
)
def test_frame_errors_name_the_field(
    decoder: Callable[[bytes], object], data: bytes, field: str
) -> None:
    with pytest.raises(RemoteIdError) as excinfo:
        decoder(data)
    assert excinfo.value.field == field


ENCODE_ERRORS: list[tuple[str, Callable[[], object], str]] = [
    ("lat > 90", lambda: encode_location(lat=90.5, lon=0.0), "lat"),
    ("lon < -180", lambda: encode_location(lat=0.0, lon=-180.5), "lon"),
    ("lat only", lambda: encode_location(lat=1.0), "lon"),
    ("lon only", lambda: encode_location(lon=1.0), "lat"),
    ("lat nan", lambda: encode_location(lat=math.nan, lon=1.0), "lat"),
    ("lat str", lambda: encode_location(lat="52", lon=1.0), "lat"),  # type: ignore[arg-type]
    ("direction", lambda: encode_location(track_direction_deg=361.0), "track_direction_deg"),
    ("speed", lambda: encode_location(speed_ms=254.5), "speed_ms"),
    ("negative speed", lambda: encode_location(speed_ms=-0.1), "speed_ms"),
    ("vertical", lambda: encode_location(vertical_speed_ms=62.5), "vertical_speed_ms"),
    ("alt low", lambda: encode_location(alt_geo_m=-1000.5), "alt_geo_m"),
    ("alt high", lambda: encode_location(alt_baro_m=31768.0), "alt_baro_m"),
    ("height inf", lambda: encode_location(height_m=math.inf), "height_m"),
    ("time", lambda: encode_location(timestamp_s=3600.1), "timestamp_s"),
    ("time acc", lambda: encode_location(timestamp_accuracy_s=1.6), "timestamp_accuracy_s"),
    ("status", lambda: encode_location(status=5), "status"),
    ("height type", lambda: encode_location(height_type=2), "height_type"),
    ("h acc", lambda: encode_location(horizontal_accuracy=13), "horizontal_accuracy"),
    ("version 15", lambda: encode_location(protocol_version=15), "protocol_version"),
    ("uas id long", lambda: encode_basic_id(1, 2, "X" * 21), "uas_id"),
    ("uas id utf8", lambda: encode_basic_id(1, 2, "ÄBC"), "uas_id"),
    ("uas id nul", lambda: encode_basic_id(1, 2, "A\0B"), "uas_id"),
    ("uuid", lambda: encode_basic_id(3, 2, "not-a-uuid"), "uas_id"),
    ("session hex", lambda: encode_basic_id(4, 2, "zz"), "uas_id"),
    ("session long", lambda: encode_basic_id(4, 2, "00" * 21), "uas_id"),
    ("id type", lambda: encode_basic_id(5, 2, "X"), "id_type"),
    ("ua type", lambda: encode_basic_id(1, 16, "X"), "ua_type"),
    ("ua type bool", lambda: encode_basic_id(1, True, "X"), "ua_type"),
    (
        "auth page",
        lambda: encode_authentication(auth_type=1, page_number=16, data=b""),
        "page_number",
    ),
    ("auth type", lambda: encode_authentication(auth_type=7, page_number=0, data=b""), "auth_type"),
    (
        "auth data0",
        lambda: encode_authentication(auth_type=1, page_number=0, data=bytes(18)),
        "data",
    ),
    (
        "auth data1",
        lambda: encode_authentication(auth_type=1, page_number=1, data=bytes(24)),
        "data",
    ),
    (
        "auth data str",
        lambda: encode_authentication(auth_type=1, page_number=0, data="x"),  # type: ignore[arg-type]
        "data",
    ),
    (
        "auth length",
        lambda: encode_authentication(
            auth_type=1, page_number=0, data=b"", length=41, last_page_index=1
        ),
        "length",
    ),
    (
        "auth last",
        lambda: encode_authentication(auth_type=1, page_number=0, data=b"", last_page_index=16),
        "last_page_index",
    ),
    (
        "auth page1 ts",
        lambda: encode_authentication(auth_type=1, page_number=1, data=b"", timestamp=1),
        "timestamp",
    ),
    (
        "auth old ts",
        lambda: encode_authentication(auth_type=1, page_number=0, data=b"", timestamp=1),
        "timestamp",
    ),
    ("desc long", lambda: encode_self_id(0, "x" * 24), "description"),
    ("desc type", lambda: encode_self_id(3, "x"), "description_type"),
    ("desc str", lambda: encode_self_id(0, b"x"), "description"),  # type: ignore[arg-type]
    ("op id long", lambda: encode_operator_id(0, "x" * 21), "operator_id"),
    ("op id type", lambda: encode_operator_id(200, "x"), "operator_id_type"),
    ("op lat", lambda: encode_system(operator_lat=-91.0, operator_lon=0.0), "operator_lat"),
    ("radius", lambda: encode_system(area_radius_m=2556.0), "area_radius_m"),
    ("radius neg", lambda: encode_system(area_radius_m=-1.0), "area_radius_m"),
    ("area count", lambda: encode_system(area_count=65536), "area_count"),
    ("ceiling", lambda: encode_system(area_ceiling_m=-2000.0), "area_ceiling_m"),
    ("category", lambda: encode_system(ua_category=4), "ua_category"),
    ("class", lambda: encode_system(ua_class=8), "ua_class"),
    ("op loc", lambda: encode_system(operator_location_type=3), "operator_location_type"),
    ("classification", lambda: encode_system(classification_type=2), "classification_type"),
    ("sys ts", lambda: encode_system(timestamp=F3411_EPOCH_UNIX_S + 2**32), "timestamp"),
    ("sys ts v1", lambda: encode_system(timestamp=1_700_000_000, protocol_version=1), "timestamp"),
    ("pack empty", lambda: encode_message_pack([]), "message_count"),
    ("pack 10", lambda: encode_message_pack([bytes.fromhex(BASIC_ID_HEX)] * 10), "message_count"),
    (
        "pack bytes",
        lambda: encode_message_pack(bytes.fromhex(BASIC_ID_HEX)),  # type: ignore[arg-type]
        "messages",
    ),
    ("pack nested", lambda: encode_message_pack([bytes.fromhex(PACK_HEX)]), "message_type"),
    ("pack short", lambda: encode_message_pack([bytes(24)]), "length"),
    ("ble counter", lambda: encode_ble_advertising(bytes.fromhex(BASIC_ID_HEX), 256), "counter"),
    ("ble message", lambda: encode_ble_advertising(b"\x62" + bytes(24), 0), "message_type"),
    ("ble str", lambda: encode_ble_advertising("x", 0), "message"),  # type: ignore[arg-type]
    ("ie pack", lambda: encode_wifi_beacon_ie(bytes.fromhex(BASIC_ID_HEX), 0), "message_type"),
    ("ie counter", lambda: encode_wifi_beacon_ie(bytes.fromhex(PACK_HEX), -1), "counter"),
    ("ie pack str", lambda: encode_wifi_beacon_ie("x", 0), "pack"),  # type: ignore[arg-type]
    (
        "nan mac",
        lambda: encode_nan_action_frame(bytes.fromhex(PACK_HEX), 0, "84:cc"),
        "transmitter_mac",
    ),
    (
        "nan mac hex",
        lambda: encode_nan_action_frame(bytes.fromhex(PACK_HEX), 0, "zz:" * 5 + "zz"),
        "transmitter_mac",
    ),
    ("bcn mac", lambda: encode_beacon_frame(bytes.fromhex(PACK_HEX), 0, 1), "transmitter_mac"),  # type: ignore[arg-type]
    (
        "bcn ssid",
        lambda: encode_beacon_frame(bytes.fromhex(PACK_HEX), 0, DRONE_MAC, ssid="s" * 33),
        "ssid",
    ),
    (
        "bcn interval",
        lambda: encode_beacon_frame(bytes.fromhex(PACK_HEX), 0, DRONE_MAC, beacon_interval_tu=0),
        "beacon_interval_tu",
    ),
    ("not a message", lambda: encode_message("x"), "message"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "field"),
    [pytest.param(c, f, id=name) for name, c, f in ENCODE_ERRORS],
)
def test_encoder_errors_name_the_field(call: Callable[[], object], field: str) -> None:
    with pytest.raises(RemoteIdError) as excinfo:
        call()
    assert excinfo.value.field == field


def test_error_is_value_error_and_picklable() -> None:
    import pickle

    error = RemoteIdError("lat", "outside -90..90")
    assert isinstance(error, ValueError)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.field, str(clone)) == ("lat", "lat: outside -90..90")


# --------------------------------------------------------------------------------------------
# Round trips, parametrised over every message type and every transport
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hex_string", [*GOLDEN_HEX, PACK_HEX])
def test_message_round_trip(hex_string: str) -> None:
    data = bytes.fromhex(hex_string)
    message = decode_message(data)
    assert encode_message(message) == data
    assert decode_message(encode_message(message)) == message


TRANSPORTS: list[tuple[str, Callable[[bytes, int], bytes], Callable[[bytes], list[Any]]]] = [
    (
        "ble",
        encode_ble_advertising,
        lambda adv: _as_list(decode_ble_advertising(adv)[1]),
    ),
    (
        "wifi vendor ie",
        encode_wifi_beacon_ie,
        lambda ie: decode_wifi_vendor_ie(ie)[1],
    ),
    (
        "wifi vendor ie payload",
        encode_wifi_beacon_ie,
        lambda ie: decode_wifi_vendor_ie(ie[2:])[1],
    ),
    (
        "wifi beacon",
        lambda pack, counter: encode_beacon_frame(pack, counter, DRONE_MAC, ssid="UAS"),
        lambda frame: _checked_mac(decode_beacon_frame(frame)),
    ),
    (
        "wifi nan",
        lambda pack, counter: encode_nan_action_frame(pack, counter, DRONE_MAC),
        lambda frame: _checked_mac(decode_nan_action_frame(frame)),
    ),
    (
        "wifi any",
        lambda pack, counter: encode_nan_action_frame(pack, counter, DRONE_MAC),
        lambda frame: decode_wifi_frame(frame)[1],
    ),
]


def _as_list(message: object) -> list[Any]:
    return list(message.messages) if isinstance(message, MessagePack) else [message]


def _checked_mac(result: tuple[str, list[SingleMessage]]) -> list[SingleMessage]:
    assert result[0] == DRONE_MAC
    return result[1]


@pytest.mark.parametrize(
    ("encoder", "decoder"),
    [pytest.param(e, d, id=name) for name, e, d in TRANSPORTS],
)
def test_transport_round_trip(
    encoder: Callable[[bytes, int], bytes], decoder: Callable[[bytes], list[Any]]
) -> None:
    messages = [bytes.fromhex(h) for h in GOLDEN_HEX]
    pack = encode_message_pack(messages)
    assert decoder(encoder(pack, 200)) == [decode_message(m) for m in messages]


def test_ble_counter_round_trip() -> None:
    for counter in (0, 1, 255):
        adv = encode_ble_advertising(bytes.fromhex(LOCATION_HEX), counter)
        assert adv[:5] == bytes.fromhex("1e16faff0d")
        assert decode_ble_advertising(adv)[0] == counter


def test_wifi_ie_counter_and_layout() -> None:
    ie = encode_wifi_beacon_ie(bytes.fromhex(PACK_HEX), 77)
    assert ie[:6] == bytes([221, len(ie) - 2]) + ASD_STAN_OUI + b"\x0d"
    assert decode_wifi_vendor_ie(ie)[0] == 77


def test_nan_frame_layout() -> None:
    frame = _nan()
    assert frame[:4] == b"\xd0\x00\x00\x00"
    assert frame[4:10] == bytes.fromhex("516f9a010000")
    assert frame[24:30] == bytes.fromhex("0409506f9a13")
    assert frame[33:39] == NAN_SERVICE_ID == bytes.fromhex("8869199d9209")


# --------------------------------------------------------------------------------------------
# Real captures from the opendroneid wireshark-dissector repository
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capture_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.skip(f"Remote ID sample captures not found at {DATA_DIR}")
    return DATA_DIR


def _odid_ie(frame: bytes) -> bytes:
    start = frame.index(ASD_STAN_OUI + b"\x0d") - 2
    return frame[start : start + 2 + frame[start + 1]]


def test_capture_wifi_beacon_message_packs(capture_dir: Path) -> None:
    records = read_records(capture_dir / "odid_wifi_bcn_sample.pcap")
    assert len(records) == 21
    counters = []
    tracks = []
    for record in records:
        frame = ieee80211_frame(record)
        transmitter, messages = decode_beacon_frame(frame)
        assert transmitter == DRONE_MAC
        basic, location, self_id, system, operator = messages
        assert basic == BasicId(
            ProtocolVersion.F3411_19, IdType.NONE, UaType.NONE, "MFG1A0123456789"
        )
        assert isinstance(location, LocationVector)
        assert location.protocol_version == ProtocolVersion.F3411_19
        assert location.status == Status.UNDECLARED
        assert location.lat is not None
        assert 45.544 < location.lat < 45.548
        assert location.lon is not None
        assert -122.975 < location.lon < -122.966
        assert (location.speed_ms, location.vertical_speed_ms) == (20.5, None)
        assert (location.alt_baro_m, location.alt_geo_m, location.height_m) == (None, 237.0, 100.0)
        assert location.horizontal_accuracy == HorizontalAccuracy.M_30
        assert location.vertical_accuracy == VerticalAccuracy.M_25
        assert (location.timestamp_s, location.timestamp_accuracy_s) == (0.0, 1.0)
        assert self_id == SelfId(ProtocolVersion.F3411_19, DescriptionType.TEXT, "Recreational")
        assert system == System(
            protocol_version=ProtocolVersion.F3411_19,
            operator_location_type=OperatorLocationType.TAKEOFF,
            classification_type=ClassificationType.EU,
            operator_lat=45.5443876,
            operator_lon=-122.9726866,
            area_count=1,
            area_radius_m=500,
            area_ceiling_m=None,
            area_floor_m=None,
            ua_category=UaCategory.OPEN,
            ua_class=UaClass.CLASS_4,
            operator_alt_geo_m=None,
            timestamp=None,
        )
        assert operator == OperatorId(
            ProtocolVersion.F3411_19, OperatorIdType.OPERATOR_ID, "GBR-OP-123ABCD"
        )
        counter, again = decode_wifi_vendor_ie(_odid_ie(frame))
        assert again == messages
        counters.append(counter)
        tracks.append(location.track_direction_deg)
        # re-encoding reproduces the content (reserved bytes hold junk in the capture)
        pack = MessagePack(ProtocolVersion.F3411_19, tuple(messages))
        assert decode_message(encode_message(pack)) == pack
    assert counters[0] == 0xD0
    assert all((b - a) % 256 in (1, 2, 3, 4) for a, b in itertools.pairwise(counters))
    # first frame decoded by hand: 92 deg, 45.5457468 N, 122.9681496 W
    first = decode_beacon_frame(ieee80211_frame(records[0]))[1][1]
    assert isinstance(first, LocationVector)
    assert (first.track_direction_deg, first.lat, first.lon) == (92.0, 45.5457468, -122.9681496)
    assert 280.0 in tracks  # E/W flag set (0x64 + 180)


def test_capture_wifi_nan_and_beacon(capture_dir: Path) -> None:
    records = read_records(capture_dir / "odid_wifi_sample.pcap")
    assert len(records) == 63
    nan: list[list[SingleMessage]] = []
    beacons: list[list[SingleMessage]] = []
    sync_beacons = 0
    for record in records:
        frame = ieee80211_frame(record)
        if frame[0] == 0xD0:
            transmitter, messages = decode_nan_action_frame(frame)
            nan.append(messages)
        elif bytes.fromhex("dd22506f9a13") in frame:  # NAN sync beacon: no ODID data
            with pytest.raises(RemoteIdError) as excinfo:
                decode_beacon_frame(frame)
            assert excinfo.value.field == "vendor_ie"
            sync_beacons += 1
            continue
        else:
            transmitter, messages = decode_beacon_frame(frame)
            beacons.append(messages)
        assert transmitter == DRONE_MAC
        assert decode_wifi_frame(frame) == (transmitter, messages)
    assert (len(nan), len(beacons), sync_beacons) == (21, 21, 21)
    assert all(len(m) == 1 for m in nan + beacons)
    flat = [m[0] for m in nan + beacons]
    assert {type(m) for m in flat} == {LocationVector, SelfId, System, OperatorId}
    assert {m.operator_id for m in flat if isinstance(m, OperatorId)} == {"GBR-OP-123ABCD"}
    assert {m.description for m in flat if isinstance(m, SelfId)} == {"Recreational"}
    locations = [m for m in flat if isinstance(m, LocationVector)]
    assert len(locations) == 31
    for location in locations:
        assert location.lat is not None
        assert 45.544 < location.lat < 45.548
        assert location.lon is not None
        assert -122.975 < location.lon < -122.966
    # NAN frame 4 decoded by hand: E/W flag, 0x6c + 180 = 288 deg, 45.5450519 N, 122.9722906 W
    fourth = decode_nan_action_frame(ieee80211_frame(records[4]))[1][0]
    assert isinstance(fourth, LocationVector)
    assert (fourth.track_direction_deg, fourth.lat, fourth.lon) == (288.0, 45.5450519, -122.9722906)
    # the beacon right after it repeats the same message
    assert decode_beacon_frame(ieee80211_frame(records[5]))[1] == [fourth]


def test_capture_frames_reencode_byte_exact(capture_dir: Path) -> None:
    records = read_records(capture_dir / "odid_wifi_sample.pcap")
    nan_frame = ieee80211_frame(records[1])  # Operator ID, counter 0x22
    (operator,) = decode_nan_action_frame(nan_frame)[1]
    pack = encode_message_pack([encode_message(operator)], protocol_version=0)
    rebuilt = encode_nan_action_frame(pack, 0x22, DRONE_MAC)
    assert rebuilt[:16] == nan_frame[:16]  # frame control, duration, destination, transmitter
    assert rebuilt[24:] == nan_frame[24:]  # the whole NAN service discovery body
    beacon = ieee80211_frame(records[5])  # Location, counter 0x23
    (location,) = decode_beacon_frame(beacon)[1]
    pack = encode_message_pack([encode_message(location)], protocol_version=0)
    assert encode_wifi_beacon_ie(pack, 0x23) == _odid_ie(beacon)


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

versions = st.sampled_from(list(ProtocolVersion))
printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E))
alts = st.none() | st.floats(-999.75, 31767.5)
positions = st.none() | st.tuples(st.floats(-90, 90), st.floats(-180, 180)).filter(
    lambda p: abs(p[0]) >= 1e-7 or abs(p[1]) >= 1e-7
)


@st.composite
def location_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    position = draw(positions)
    return {
        "status": draw(st.sampled_from(list(Status))),
        "height_type": draw(st.sampled_from(list(HeightType))),
        "track_direction_deg": draw(st.none() | st.floats(0, 360)),
        "speed_ms": draw(st.none() | st.floats(0, 254.25)),
        "vertical_speed_ms": draw(st.none() | st.floats(-62, 62)),
        "lat": None if position is None else position[0],
        "lon": None if position is None else position[1],
        "alt_baro_m": draw(alts),
        "alt_geo_m": draw(alts),
        "height_m": draw(alts),
        "horizontal_accuracy": draw(st.sampled_from(list(HorizontalAccuracy))),
        "vertical_accuracy": draw(st.sampled_from(list(VerticalAccuracy))),
        "baro_accuracy": draw(st.sampled_from(list(VerticalAccuracy))),
        "speed_accuracy": draw(st.sampled_from(list(SpeedAccuracy))),
        "timestamp_s": draw(st.none() | st.floats(0, 3600)),
        "timestamp_accuracy_s": draw(st.none() | st.integers(1, 15).map(lambda t: t / 10)),
        "protocol_version": draw(versions),
    }


def _close(decoded: float | None, original: float | None, tolerance: float) -> bool:
    if original is None or decoded is None:
        return decoded is None and original is None
    return abs(decoded - original) <= tolerance + 1e-9


@settings(max_examples=200, deadline=None)
@given(location_kwargs())
def test_location_round_trip_within_resolution(kwargs: dict[str, Any]) -> None:
    data = encode_location(**kwargs)
    message = decode_location(data)
    for name in (
        "status",
        "height_type",
        "horizontal_accuracy",
        "vertical_accuracy",
        "baro_accuracy",
        "speed_accuracy",
        "protocol_version",
    ):
        assert getattr(message, name) == kwargs[name]
    track = kwargs["track_direction_deg"]
    if track is None:
        assert message.track_direction_deg is None
    else:
        assert message.track_direction_deg is not None
        assert abs((message.track_direction_deg - track + 180) % 360 - 180) <= 0.5
    speed = kwargs["speed_ms"]
    assert _close(message.speed_ms, speed, 0.125 if speed is not None and speed <= 63.75 else 0.375)
    assert _close(message.vertical_speed_ms, kwargs["vertical_speed_ms"], 0.25)
    assert _close(message.lat, kwargs["lat"], 0.5e-7)
    assert _close(message.lon, kwargs["lon"], 0.5e-7)
    for name in ("alt_baro_m", "alt_geo_m", "height_m"):
        assert _close(getattr(message, name), kwargs[name], 0.25)
    assert _close(message.timestamp_s, kwargs["timestamp_s"], 0.05)
    assert _close(message.timestamp_accuracy_s, kwargs["timestamp_accuracy_s"], 0.0)
    assert encode_message(message) == data  # decoded values re-encode to the same bytes


@st.composite
def system_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    position = draw(positions)
    version = draw(versions)
    times = st.integers(F3411_EPOCH_UNIX_S + 1, F3411_EPOCH_UNIX_S + 2**32 - 1)
    return {
        "operator_location_type": draw(st.sampled_from(list(OperatorLocationType))),
        "classification_type": draw(st.sampled_from(list(ClassificationType))),
        "operator_lat": None if position is None else position[0],
        "operator_lon": None if position is None else position[1],
        "area_count": draw(st.integers(0, 0xFFFF)),
        "area_radius_m": draw(st.floats(0, 2550)),
        "area_ceiling_m": draw(alts),
        "area_floor_m": draw(alts),
        "ua_category": draw(st.sampled_from(list(UaCategory))),
        "ua_class": draw(st.sampled_from(list(UaClass))),
        "operator_alt_geo_m": draw(alts),
        "timestamp": draw(st.none() | times) if version == V2 else None,
        "protocol_version": version,
    }


@settings(max_examples=150, deadline=None)
@given(system_kwargs())
def test_system_round_trip_within_resolution(kwargs: dict[str, Any]) -> None:
    data = encode_system(**kwargs)
    message = decode_system(data)
    for name in (
        "operator_location_type",
        "classification_type",
        "area_count",
        "ua_category",
        "ua_class",
        "timestamp",
        "protocol_version",
    ):
        assert getattr(message, name) == kwargs[name]
    assert _close(message.operator_lat, kwargs["operator_lat"], 0.5e-7)
    assert _close(message.operator_lon, kwargs["operator_lon"], 0.5e-7)
    assert abs(message.area_radius_m - kwargs["area_radius_m"]) <= 5.0
    for name in ("area_ceiling_m", "area_floor_m", "operator_alt_geo_m"):
        assert _close(getattr(message, name), kwargs[name], 0.25)
    assert encode_message(message) == data


text_ids = st.tuples(
    st.sampled_from([IdType.NONE, IdType.SERIAL_NUMBER, IdType.CAA_REGISTRATION_ID]),
    printable.filter(lambda s: len(s) <= 20),
)


@st.composite
def basic_id_messages(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(list(IdType)))
    if kind == IdType.UTM_ASSIGNED_UUID:
        uas_id = str(draw(st.uuids()))
    elif kind == IdType.SPECIFIC_SESSION_ID:
        uas_id = draw(st.binary(max_size=20)).hex()
    else:
        uas_id = draw(printable.filter(lambda s: len(s) <= 20))
    ua = draw(st.sampled_from(list(UaType)))
    return encode_basic_id(kind, ua, uas_id, protocol_version=draw(versions))


@st.composite
def authentication_messages(draw: st.DrawFn) -> bytes:
    page = draw(st.integers(0, 15))
    auth_type = draw(st.sampled_from([*AuthType, *range(0xA, 0x10)]))
    version = draw(versions)
    if page:
        data = draw(st.binary(max_size=23))
        return encode_authentication(
            auth_type=auth_type, page_number=page, data=data, protocol_version=version
        )
    last = draw(st.integers(0, 15))
    return encode_authentication(
        auth_type=auth_type,
        page_number=0,
        data=draw(st.binary(max_size=17)),
        last_page_index=last,
        length=draw(st.integers(0, min(255, 17 + 23 * last))),
        timestamp=draw(st.none() | st.integers(F3411_EPOCH_UNIX_S + 1, 2**32)),
        protocol_version=version,
    )


single_messages = st.one_of(
    basic_id_messages(),
    location_kwargs().map(lambda kw: encode_location(**kw)),
    authentication_messages(),
    st.builds(
        encode_self_id,
        st.sampled_from([*DescriptionType, 201, 255]),
        printable.filter(lambda s: len(s) <= 23),
        protocol_version=versions,
    ),
    system_kwargs().map(lambda kw: encode_system(**kw)),
    st.builds(
        encode_operator_id,
        st.sampled_from([0, 201, 255]),
        printable.filter(lambda s: len(s) <= 20),
        protocol_version=versions,
    ),
)


@settings(max_examples=200, deadline=None)
@given(single_messages)
def test_single_message_reencodes_exactly(data: bytes) -> None:
    assert len(data) == 25
    message = decode_message(data)
    assert encode_message(message) == data


@settings(max_examples=60, deadline=None)
@given(st.lists(single_messages, min_size=1, max_size=9), st.integers(0, 255), versions)
def test_pack_round_trip_over_every_transport(
    messages: list[bytes], counter: int, version: ProtocolVersion
) -> None:
    pack = encode_message_pack(messages, protocol_version=version)
    decoded = [decode_message(m) for m in messages]
    assert encode_message(decode_message(pack)) == pack
    assert decode_wifi_vendor_ie(encode_wifi_beacon_ie(pack, counter)) == (counter, decoded)
    assert decode_beacon_frame(encode_beacon_frame(pack, counter, DRONE_MAC)) == (
        DRONE_MAC,
        decoded,
    )
    assert decode_nan_action_frame(encode_nan_action_frame(pack, counter, DRONE_MAC)) == (
        DRONE_MAC,
        decoded,
    )
    counter_back, message = decode_ble_advertising(encode_ble_advertising(pack, counter))
    assert counter_back == counter
    assert isinstance(message, MessagePack)
    assert list(message.messages) == decoded


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=10).filter(lambda s: not (s.isascii() and s.isprintable())))
def test_text_encoders_reject_non_printable(text: str) -> None:
    with pytest.raises(RemoteIdError, match="description"):
        encode_self_id(0, text)


DECODERS: list[Callable[[bytes], object]] = [
    decode_message,
    decode_ble_advertising,
    decode_beacon_frame,
    decode_nan_action_frame,
    decode_wifi_frame,
    decode_wifi_vendor_ie,
]


def _only_remote_id_errors(data: bytes) -> None:
    for decoder in DECODERS:
        with contextlib.suppress(RemoteIdError):
            decoder(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decoders_on_arbitrary_bytes_raise_only_remote_id_error(data: bytes) -> None:
    _only_remote_id_errors(data)


@settings(max_examples=250, deadline=None)
@given(
    st.sampled_from([0x00, 0x01, 0x02, 0x10, 0x12, 0x20, 0x22, 0x30, 0x42, 0x52, 0xF0, 0xF2]),
    st.binary(min_size=24, max_size=24),
)
def test_decode_message_on_random_bodies(header: int, body: bytes) -> None:
    _only_remote_id_errors(bytes([header]) + body)
    _only_remote_id_errors(bytes([header, 25, 1]) + body + bytes(3))


VALID_INPUTS = [
    bytes.fromhex(PACK_HEX),
    *[bytes.fromhex(h) for h in GOLDEN_HEX],
    encode_ble_advertising(bytes.fromhex(LOCATION_HEX), 3),
    encode_ble_advertising(bytes.fromhex(PACK_HEX), 3),
    encode_wifi_beacon_ie(bytes.fromhex(PACK_HEX), 3),
    _beacon(),
    _nan(),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID_INPUTS), st.data())
def test_decoders_on_mutated_valid_input_raise_only_remote_id_error(
    original: bytes, data: st.DataObject
) -> None:
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    _only_remote_id_errors(bytes(mutated))
    _only_remote_id_errors(bytes(mutated[:cut]))
