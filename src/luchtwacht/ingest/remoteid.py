"""ASTM F3411 broadcast Remote ID (Open Drone ID) codec and its Wi-Fi / Bluetooth transports.

Decodes and encodes the 25-byte broadcast messages of ASTM F3411-19 / -22a (the same layouts as
ASD-STAN EN 4709-002), modelled on pyModeS: one pure function per message type, plain frozen
dataclasses out, and a typed :class:`RemoteIdError` naming the offending field for anything that
is truncated, reserved or out of range (never ``IndexError`` / ``struct.error``).

All multi-byte integers are little-endian. Bit 7 is the most significant bit of a byte.

Message header, byte 0 of every message::

    bits 7..4  message_type      0x0 Basic ID, 0x1 Location/Vector, 0x2 Authentication,
                                 0x3 Self-ID, 0x4 System, 0x5 Operator ID, 0xF Message Pack
                                 (0x6..0xE reserved -> error)
    bits 3..0  protocol_version  0 F3411-19, 1 F3411-20 (EN 4709-002 P1), 2 F3411-22a
                                 (3..14 reserved, 15 private use -> error)

Basic ID (0x0)::

    byte    bits  field                encoding
    1       7..4  id_type              IdType (5..15 reserved)
    1       3..0  ua_type              UaType
    2..21         uas_id               ASCII, NUL padded. id_type 3: 16-byte binary UUID
                                       (RFC 4122 byte order) + 4 NUL; id_type 4: 20 binary bytes
    22..24        reserved

Location/Vector (0x1)::

    1       7..4  status               Status (5..15 reserved)
    1       3     reserved
    1       2     height_type          HeightType
    1       1     ew_direction         0: track 0..179 deg, 1: track 180..359 deg
    1       0     speed_multiplier     0: speed x 0.25 m/s, 1: speed x 0.75 m/s + 63.75 m/s
    2             track_direction      uint8 deg, +180 if ew_direction; 361 deg = unknown
    3             speed                uint8 (see speed_multiplier); 255 with multiplier 1 = unknown
    4             vertical_speed       int8 x 0.5 m/s, up positive, |v| <= 62 m/s; 63 m/s = unknown
    5..8          lat                  int32 x 1e-7 deg
    9..12         lon                  int32 x 1e-7 deg (lat = lon = 0: unknown)
    13..14        alt_baro             uint16 x 0.5 m - 1000 m (0, i.e. -1000 m: unknown)
    15..16        alt_geo              as alt_baro, WGS-84 height above ellipsoid
    17..18        height               as alt_baro, above takeoff or ground (height_type)
    19      7..4  vertical_accuracy    VerticalAccuracy (7..15 reserved)
    19      3..0  horizontal_accuracy  HorizontalAccuracy (13..15 reserved)
    20      7..4  baro_accuracy        VerticalAccuracy
    20      3..0  speed_accuracy       SpeedAccuracy (5..15 reserved)
    21..22        timestamp            uint16 x 0.1 s after the full hour, <= 36000; 0xFFFF unknown
    23      7..4  reserved
    23      3..0  timestamp_accuracy   x 0.1 s (0: unknown)
    24            reserved

Authentication (0x2), one page per message::

    1       7..4  auth_type            AuthType (6..9 reserved, 0xA..0xF private use)
    1       3..0  page_number          0..15 (F3411-19: 0..4)
    page 0:
    2             last_page_index      0..15 (F3411-19 names this byte "page count")
    3             length               bytes of authentication data over all pages
    4..7          timestamp            uint32 s since 2019-01-01T00:00:00Z (0: not set)
    8..24         data                 17 bytes
    pages 1..15:
    2..24         data                 23 bytes

Self-ID (0x3)::

    1             description_type     0 text, 1 emergency, 2 extended status (3..200 reserved,
                                       201..255 private use)
    2..24         description          ASCII, NUL padded

System (0x4)::

    1       7..5  reserved
    1       4..2  classification_type  ClassificationType (2..7 reserved)
    1       1..0  operator_location_type  OperatorLocationType (3 reserved)
    2..5          operator_lat         int32 x 1e-7 deg
    6..9          operator_lon         int32 x 1e-7 deg (both 0: unknown)
    10..11        area_count           uint16
    12            area_radius          uint8 x 10 m
    13..14        area_ceiling         uint16 x 0.5 m - 1000 m (0: unknown)
    15..16        area_floor           as area_ceiling
    17      7..4  ua_category          UaCategory, EU classification (4..15 reserved)
    17      3..0  ua_class             UaClass, EU classification (8..15 reserved)
    18..19        operator_alt_geo     uint16 x 0.5 m - 1000 m (0: unknown)
    20..23        timestamp            uint32 s since 2019-01-01T00:00:00Z (0: not set); only in
                                       protocol version 2, reserved (ignored) before F3411-22a
    24            reserved

Operator ID (0x5)::

    1             operator_id_type     0 operator ID (1..200 reserved, 201..255 private use)
    2..21         operator_id          ASCII, NUL padded
    22..24        reserved

Message Pack (0xF), variable length::

    1             message_size         always 25
    2             message_count        1..9
    3..           messages             message_count x 25 bytes, no nested packs
    ..            padding              zero bytes, e.g. up to a fixed 228 (3 + 9 x 25) as
                                       opendroneid-core-c and the MAVLink pack message send it

Transports (``counter`` is the 8-bit message counter of the transport)::

    Wi-Fi Beacon   vendor specific element: DD len | FA 0B BC | 0D | counter | Message Pack
    Wi-Fi NAN      802.11 public action frame: 04 09 | 50 6F 9A 13 | NAN attributes; the Service
                   Descriptor attribute (03 len16 | service id | instance | requestor | control
                   | ... | info len | info) has service id SHA-256("org.opendroneid.remoteid")[:6]
                   = 88 69 19 9D 92 09 and service info counter | Message Pack
    Bluetooth 4    AD structure: len | 16 | FA FF (UUID 0xFFFA) | 0D | counter | 25-byte message
    Bluetooth 5    same AD structure with a Message Pack instead of a single message

Decoder conventions: reserved *bits and bytes* are ignored (real transmitters leave garbage in
them); reserved *values* of enumerated fields raise. Unknown sentinels decode to ``None``. The
lat/lon pair (0, 0) is the standard's "unknown" sentinel and decodes to ``None`` for both, so a
position exactly at 0 deg N 0 deg E cannot be expressed (as in the standard). Timestamps of 0 in
Authentication and System messages decode to ``None`` (not set; reserved in F3411-19).
"""

from __future__ import annotations

import hashlib
import math
import struct
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, TypeAlias, TypeVar

__all__ = [
    "ASD_STAN_OUI",
    "BLE_SERVICE_UUID",
    "F3411_EPOCH_UNIX_S",
    "MAX_PACK_MESSAGES",
    "MESSAGE_SIZE",
    "NAN_SERVICE_ID",
    "ODID_APP_CODE",
    "AuthType",
    "Authentication",
    "BasicId",
    "ClassificationType",
    "DescriptionType",
    "HeightType",
    "HorizontalAccuracy",
    "IdType",
    "LocationVector",
    "MessagePack",
    "MessageType",
    "OperatorId",
    "OperatorIdType",
    "OperatorLocationType",
    "ProtocolVersion",
    "RemoteIdError",
    "RemoteIdMessage",
    "SelfId",
    "SingleMessage",
    "SpeedAccuracy",
    "Status",
    "System",
    "UaCategory",
    "UaClass",
    "UaType",
    "VerticalAccuracy",
    "decode_authentication",
    "decode_basic_id",
    "decode_beacon_frame",
    "decode_ble_advertising",
    "decode_location",
    "decode_message",
    "decode_message_pack",
    "decode_nan_action_frame",
    "decode_operator_id",
    "decode_self_id",
    "decode_system",
    "decode_wifi_frame",
    "decode_wifi_vendor_ie",
    "encode_authentication",
    "encode_basic_id",
    "encode_beacon_frame",
    "encode_ble_advertising",
    "encode_location",
    "encode_message",
    "encode_message_pack",
    "encode_nan_action_frame",
    "encode_operator_id",
    "encode_self_id",
    "encode_system",
    "encode_wifi_beacon_ie",
]

MESSAGE_SIZE: Final = 25
"""Size in bytes of every single (non-pack) broadcast message."""
MAX_PACK_MESSAGES: Final = 9
"""Maximum number of messages in a Message Pack."""
F3411_EPOCH_UNIX_S: Final = 1_546_300_800
"""Unix time of 2019-01-01T00:00:00Z, the epoch of Authentication and System timestamps."""
ODID_APP_CODE: Final = 0x0D
"""Open Drone ID application code (Wi-Fi vendor IE OUI type, Bluetooth service data byte)."""
ASD_STAN_OUI: Final = b"\xfa\x0b\xbc"
"""OUI of the Wi-Fi Beacon vendor specific element (ASD-STAN)."""
PARROT_OUI: Final = b"\x90\x3a\xe6"
"""Legacy OUI used by early (Parrot) beacon transmitters; accepted when decoding only."""
BLE_SERVICE_UUID: Final = 0xFFFA
"""16-bit Bluetooth service UUID assigned to ASTM Remote ID."""
NAN_SERVICE_ID: Final = hashlib.sha256(b"org.opendroneid.remoteid").digest()[:6]
"""Wi-Fi NAN service ID: first 6 bytes of SHA-256 of "org.opendroneid.remoteid"."""

_ODID_OUIS: Final = (ASD_STAN_OUI, PARROT_OUI)
_WFA_OUI: Final = b"\x50\x6f\x9a"
_NAN_OUI_TYPE: Final = 0x13
_NAN_NETWORK_ID: Final = bytes.fromhex("516f9a010000")
_NAN_CLUSTER_ID: Final = bytes.fromhex("506f9a0100ff")
_BLE_UUID_LE: Final = BLE_SERVICE_UUID.to_bytes(2, "little")
_AD_TYPE_SERVICE_DATA_16: Final = 0x16
_IE_VENDOR_SPECIFIC: Final = 221
_IE_SSID: Final = 0
_SUBTYPE_BEACON: Final = 8
_SUBTYPE_ACTION: Final = 13

_ID_SIZE: Final = 20
_STR_SIZE: Final = 23
_AUTH_PAGE0_DATA: Final = 17
_AUTH_PAGEN_DATA: Final = 23
_LATLON_SCALE: Final = 1e7
_ALT_MIN_M: Final = -1000.0
_ALT_MAX_M: Final = 31767.5
_SPEED_LOW_STEP: Final = 0.25
_SPEED_HIGH_STEP: Final = 0.75
_SPEED_HIGH_OFFSET: Final = 255 * 0.25  # 63.75 m/s
_SPEED_MAX_MS: Final = 254.25
_VSPEED_MAX_MS: Final = 62.0
_VSPEED_UNKNOWN_RAW: Final = 126  # 63 m/s
_DIRECTION_UNKNOWN: Final = 361
_TIMESTAMP_UNKNOWN_RAW: Final = 0xFFFF
_TIMESTAMP_MAX_RAW: Final = 36000  # one hour in 0.1 s


class RemoteIdError(ValueError):
    """Malformed, truncated, reserved or out-of-range Remote ID data; ``field`` names the field."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

    def __reduce__(self) -> tuple[type[RemoteIdError], tuple[str, str]]:
        return (type(self), (self.field, self.detail))


# --------------------------------------------------------------------------------------------
# Enumerations
# --------------------------------------------------------------------------------------------


class ProtocolVersion(IntEnum):
    """Protocol version in the low nibble of the message header."""

    F3411_19 = 0
    F3411_20 = 1
    F3411_22A = 2


class MessageType(IntEnum):
    """Message type in the high nibble of the message header."""

    BASIC_ID = 0x0
    LOCATION = 0x1
    AUTHENTICATION = 0x2
    SELF_ID = 0x3
    SYSTEM = 0x4
    OPERATOR_ID = 0x5
    MESSAGE_PACK = 0xF


class IdType(IntEnum):
    """Kind of identifier carried in a Basic ID message."""

    NONE = 0
    SERIAL_NUMBER = 1  # ANSI/CTA-2063-A
    CAA_REGISTRATION_ID = 2
    UTM_ASSIGNED_UUID = 3
    SPECIFIC_SESSION_ID = 4


class UaType(IntEnum):
    """Type of unmanned aircraft."""

    NONE = 0
    AEROPLANE = 1
    HELICOPTER_OR_MULTIROTOR = 2
    GYROPLANE = 3
    HYBRID_LIFT = 4
    ORNITHOPTER = 5
    GLIDER = 6
    KITE = 7
    FREE_BALLOON = 8
    CAPTIVE_BALLOON = 9
    AIRSHIP = 10
    FREE_FALL_PARACHUTE = 11
    ROCKET = 12
    TETHERED_POWERED_AIRCRAFT = 13
    GROUND_OBSTACLE = 14
    OTHER = 15


class Status(IntEnum):
    """Operational status of the aircraft (Location/Vector message)."""

    UNDECLARED = 0
    GROUND = 1
    AIRBORNE = 2
    EMERGENCY = 3
    REMOTE_ID_SYSTEM_FAILURE = 4


class HeightType(IntEnum):
    """Reference of the Location/Vector height field."""

    ABOVE_TAKEOFF = 0
    ABOVE_GROUND = 1


class HorizontalAccuracy(IntEnum):
    """Horizontal position accuracy class (95 % bound)."""

    UNKNOWN = 0
    NM_10 = 1
    NM_4 = 2
    NM_2 = 3
    NM_1 = 4
    NM_0_5 = 5
    NM_0_3 = 6
    NM_0_1 = 7
    NM_0_05 = 8
    M_30 = 9
    M_10 = 10
    M_3 = 11
    M_1 = 12

    @property
    def bound_m(self) -> float | None:
        """Upper accuracy bound in metres, or None when unknown."""
        return _HORIZONTAL_BOUND_M[self]


class VerticalAccuracy(IntEnum):
    """Vertical (geodetic or barometric) accuracy class (95 % bound)."""

    UNKNOWN = 0
    M_150 = 1
    M_45 = 2
    M_25 = 3
    M_10 = 4
    M_3 = 5
    M_1 = 6

    @property
    def bound_m(self) -> float | None:
        """Upper accuracy bound in metres, or None when unknown."""
        return _VERTICAL_BOUND_M[self]


class SpeedAccuracy(IntEnum):
    """Horizontal speed accuracy class (95 % bound)."""

    UNKNOWN = 0
    MS_10 = 1
    MS_3 = 2
    MS_1 = 3
    MS_0_3 = 4

    @property
    def bound_ms(self) -> float | None:
        """Upper accuracy bound in m/s, or None when unknown."""
        return _SPEED_BOUND_MS[self]


_HORIZONTAL_BOUND_M: Final[dict[int, float | None]] = {
    0: None,
    1: 18520.0,
    2: 7408.0,
    3: 3704.0,
    4: 1852.0,
    5: 926.0,
    6: 555.6,
    7: 185.2,
    8: 92.6,
    9: 30.0,
    10: 10.0,
    11: 3.0,
    12: 1.0,
}
_VERTICAL_BOUND_M: Final[dict[int, float | None]] = {
    0: None,
    1: 150.0,
    2: 45.0,
    3: 25.0,
    4: 10.0,
    5: 3.0,
    6: 1.0,
}
_SPEED_BOUND_MS: Final[dict[int, float | None]] = {0: None, 1: 10.0, 2: 3.0, 3: 1.0, 4: 0.3}


class AuthType(IntEnum):
    """Authentication type; values 0xA..0xF are private use and decode as plain ``int``."""

    NONE = 0
    UAS_ID_SIGNATURE = 1
    OPERATOR_ID_SIGNATURE = 2
    MESSAGE_SET_SIGNATURE = 3
    NETWORK_REMOTE_ID = 4
    SPECIFIC_AUTHENTICATION = 5


class DescriptionType(IntEnum):
    """Self-ID description type; values 201..255 are private use and decode as plain ``int``."""

    TEXT = 0
    EMERGENCY = 1
    EXTENDED_STATUS = 2


class OperatorIdType(IntEnum):
    """Operator ID type; values 201..255 are private use and decode as plain ``int``."""

    OPERATOR_ID = 0


class OperatorLocationType(IntEnum):
    """Source of the operator position in the System message."""

    TAKEOFF = 0
    LIVE_GNSS = 1
    FIXED = 2


class ClassificationType(IntEnum):
    """Regulatory classification scheme of ``ua_category`` / ``ua_class``."""

    UNDECLARED = 0
    EU = 1


class UaCategory(IntEnum):
    """EU operation category (meaningful when classification is EU)."""

    UNDECLARED = 0
    OPEN = 1
    SPECIFIC = 2
    CERTIFIED = 3


class UaClass(IntEnum):
    """EU UA class C0..C6 (meaningful when classification is EU)."""

    UNDECLARED = 0
    CLASS_0 = 1
    CLASS_1 = 2
    CLASS_2 = 3
    CLASS_3 = 4
    CLASS_4 = 5
    CLASS_5 = 6
    CLASS_6 = 7


_PRIVATE_AUTH: Final = range(0xA, 0x10)
_PRIVATE_DESCRIPTION: Final = range(201, 256)
_PRIVATE_OPERATOR_ID: Final = range(201, 256)

# --------------------------------------------------------------------------------------------
# Decoded messages
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BasicId:
    """Basic ID message: who the aircraft is (serial number, registration, UUID or session ID).

    ``uas_id`` is the ASCII identifier; for ``UTM_ASSIGNED_UUID`` it is the canonical UUID string
    and for ``SPECIFIC_SESSION_ID`` the 20 raw bytes as 40 lowercase hex digits.
    """

    protocol_version: ProtocolVersion
    id_type: IdType
    ua_type: UaType
    uas_id: str


@dataclass(frozen=True, slots=True)
class LocationVector:
    """Location/Vector message: position, altitudes, velocity and their accuracies.

    ``None`` means the transmitter sent the standard's "unknown" value. ``timestamp_s`` is seconds
    after the full UTC hour (0.1 s resolution); ``track_direction_deg`` is the true course.
    """

    protocol_version: ProtocolVersion
    status: Status
    height_type: HeightType
    track_direction_deg: float | None
    speed_ms: float | None
    vertical_speed_ms: float | None
    lat: float | None
    lon: float | None
    alt_baro_m: float | None
    alt_geo_m: float | None
    height_m: float | None
    horizontal_accuracy: HorizontalAccuracy
    vertical_accuracy: VerticalAccuracy
    baro_accuracy: VerticalAccuracy
    speed_accuracy: SpeedAccuracy
    timestamp_s: float | None
    timestamp_accuracy_s: float | None


@dataclass(frozen=True, slots=True)
class Authentication:
    """One page of an Authentication message.

    ``last_page_index``, ``length`` (bytes over all pages) and ``timestamp`` (Unix seconds) are
    only carried on page 0 and are ``None`` on other pages. ``data`` is the raw page payload
    (17 bytes on page 0, 23 bytes on the others, NUL padding included).
    """

    protocol_version: ProtocolVersion
    auth_type: AuthType | int
    page_number: int
    last_page_index: int | None
    length: int | None
    timestamp: int | None
    data: bytes


@dataclass(frozen=True, slots=True)
class SelfId:
    """Self-ID message: free text declared by the operator (purpose, emergency, status)."""

    protocol_version: ProtocolVersion
    description_type: DescriptionType | int
    description: str


@dataclass(frozen=True, slots=True)
class System:
    """System message: operator position, operating area, EU classification and time.

    ``timestamp`` is Unix seconds (sent as seconds since 2019-01-01T00:00:00Z), ``None`` if 0.
    """

    protocol_version: ProtocolVersion
    operator_location_type: OperatorLocationType
    classification_type: ClassificationType
    operator_lat: float | None
    operator_lon: float | None
    area_count: int
    area_radius_m: int
    area_ceiling_m: float | None
    area_floor_m: float | None
    ua_category: UaCategory
    ua_class: UaClass
    operator_alt_geo_m: float | None
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class OperatorId:
    """Operator ID message: the operator's registration number."""

    protocol_version: ProtocolVersion
    operator_id_type: OperatorIdType | int
    operator_id: str


SingleMessage: TypeAlias = BasicId | LocationVector | Authentication | SelfId | System | OperatorId
"""Any one decoded 25-byte message."""


@dataclass(frozen=True, slots=True)
class MessagePack:
    """Message Pack: up to nine single messages broadcast together (Wi-Fi, Bluetooth 5)."""

    protocol_version: ProtocolVersion
    messages: tuple[SingleMessage, ...]


RemoteIdMessage: TypeAlias = SingleMessage | MessagePack
"""Anything :func:`decode_message` can return."""

# --------------------------------------------------------------------------------------------
# Field helpers
# --------------------------------------------------------------------------------------------

_E = TypeVar("_E", bound=IntEnum)


def _enum(cls: type[_E], value: object, field: str) -> _E:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RemoteIdError(field, f"must be an integer {cls.__name__}, got {value!r}")
    try:
        return cls(value)
    except ValueError:
        raise RemoteIdError(field, f"reserved or undefined {cls.__name__} value {value}") from None


def _enum_or_private(cls: type[_E], value: object, private: range, field: str) -> _E | int:
    if isinstance(value, int) and not isinstance(value, bool) and value in private:
        return int(value)
    return _enum(cls, value, field)


def _number(value: object, field: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise RemoteIdError(field, f"must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise RemoteIdError(field, f"must be finite, got {value!r}")
    return result


def _integer(value: object, low: int, high: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RemoteIdError(field, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise RemoteIdError(field, f"{value} outside {low}..{high}")
    return value


def _round(value: float) -> int:
    """Round half up (deterministic, unlike banker's rounding)."""
    return math.floor(value + 0.5)


def _header_byte(message_type: MessageType, protocol_version: object) -> int:
    version = _enum(ProtocolVersion, protocol_version, "protocol_version")
    return (message_type << 4) | version


def _check_header(data: bytes, expected: MessageType) -> ProtocolVersion:
    if len(data) != MESSAGE_SIZE:
        raise RemoteIdError("length", f"message is {len(data)} bytes, expected {MESSAGE_SIZE}")
    message_type = _enum(MessageType, data[0] >> 4, "message_type")
    if message_type != expected:
        raise RemoteIdError("message_type", f"expected {expected.name}, got {message_type.name}")
    return _enum(ProtocolVersion, data[0] & 0x0F, "protocol_version")


def _is_printable_ascii(raw: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in raw)


def _decode_text(raw: bytes, field: str) -> str:
    text = raw.split(b"\0", 1)[0]
    if not _is_printable_ascii(text):
        raise RemoteIdError(field, "contains non-printable or non-ASCII characters")
    return text.decode("ascii")


def _encode_text(text: object, size: int, field: str) -> bytes:
    if not isinstance(text, str):
        raise RemoteIdError(field, f"must be a str, got {text!r}")
    raw = text.encode("ascii", errors="replace")
    if not text.isascii() or not _is_printable_ascii(raw):
        raise RemoteIdError(field, "must be printable ASCII")
    if len(raw) > size:
        raise RemoteIdError(field, f"{len(raw)} characters, at most {size} allowed")
    return raw.ljust(size, b"\0")


def _decode_latlon(
    lat_raw: int, lon_raw: int, lat_field: str, lon_field: str
) -> tuple[float | None, float | None]:
    if not -900_000_000 <= lat_raw <= 900_000_000:
        raise RemoteIdError(lat_field, f"{lat_raw / _LATLON_SCALE} deg outside -90..90")
    if not -1_800_000_000 <= lon_raw <= 1_800_000_000:
        raise RemoteIdError(lon_field, f"{lon_raw / _LATLON_SCALE} deg outside -180..180")
    if lat_raw == 0 and lon_raw == 0:
        return None, None
    return lat_raw / _LATLON_SCALE, lon_raw / _LATLON_SCALE


def _encode_latlon(
    lat: float | None, lon: float | None, lat_field: str, lon_field: str
) -> tuple[int, int]:
    if lat is None and lon is None:
        return 0, 0
    if lat is None:
        raise RemoteIdError(lat_field, "missing while longitude is given")
    if lon is None:
        raise RemoteIdError(lon_field, "missing while latitude is given")
    lat_deg = _number(lat, lat_field)
    lon_deg = _number(lon, lon_field)
    if not -90.0 <= lat_deg <= 90.0:
        raise RemoteIdError(lat_field, f"{lat_deg} deg outside -90..90")
    if not -180.0 <= lon_deg <= 180.0:
        raise RemoteIdError(lon_field, f"{lon_deg} deg outside -180..180")
    return _round(lat_deg * _LATLON_SCALE), _round(lon_deg * _LATLON_SCALE)


def _decode_alt(raw: int) -> float | None:
    return None if raw == 0 else raw * 0.5 + _ALT_MIN_M


def _encode_alt(value: float | None, field: str) -> int:
    if value is None:
        return 0
    metres = _number(value, field)
    if not _ALT_MIN_M <= metres <= _ALT_MAX_M:
        raise RemoteIdError(field, f"{metres} m outside {_ALT_MIN_M}..{_ALT_MAX_M}")
    return _round((metres - _ALT_MIN_M) * 2.0)


def _decode_f3411_time(raw: int) -> int | None:
    return None if raw == 0 else raw + F3411_EPOCH_UNIX_S


def _encode_f3411_time(value: int | None, field: str) -> int:
    if value is None:
        return 0
    seconds = _round(_number(value, field)) - F3411_EPOCH_UNIX_S
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise RemoteIdError(field, f"Unix time {value} outside the F3411 range (2019..2155)")
    return seconds


# --------------------------------------------------------------------------------------------
# Message decoders
# --------------------------------------------------------------------------------------------


def decode_basic_id(data: bytes) -> BasicId:
    """Decode a 25-byte Basic ID message (type 0x0) into a :class:`BasicId`."""
    data = bytes(data)
    version = _check_header(data, MessageType.BASIC_ID)
    id_type = _enum(IdType, data[1] >> 4, "id_type")
    ua_type = _enum(UaType, data[1] & 0x0F, "ua_type")
    raw = data[2 : 2 + _ID_SIZE]
    if id_type == IdType.UTM_ASSIGNED_UUID:
        uas_id = str(uuid.UUID(bytes=raw[:16]))
    elif id_type == IdType.SPECIFIC_SESSION_ID:
        uas_id = raw.hex()
    else:
        uas_id = _decode_text(raw, "uas_id")
    return BasicId(version, id_type, ua_type, uas_id)


def _decode_direction(raw: int, west: int) -> float | None:
    if west and raw == _DIRECTION_UNKNOWN - 180:
        return None
    if raw > 180 or (raw == 180 and not west):
        raise RemoteIdError(
            "track_direction_deg", f"encoded value {raw} invalid for E/W flag {west}"
        )
    degrees = raw + 180 * west
    return 0.0 if degrees == 360 else float(degrees)


def decode_location(data: bytes) -> LocationVector:
    """Decode a 25-byte Location/Vector message (type 0x1) into a :class:`LocationVector`."""
    data = bytes(data)
    version = _check_header(data, MessageType.LOCATION)
    (
        flags,
        direction_raw,
        speed_raw,
        vspeed_raw,
        lat_raw,
        lon_raw,
        baro_raw,
        geo_raw,
        height_raw,
        acc_hv,
        acc_bs,
        ts_raw,
        ts_acc,
    ) = struct.unpack_from("<BBBbiiHHHBBHB", data, 1)
    status = _enum(Status, flags >> 4, "status")
    height_type = HeightType((flags >> 2) & 1)
    direction = _decode_direction(direction_raw, (flags >> 1) & 1)
    if flags & 1:
        speed = None if speed_raw == 255 else speed_raw * _SPEED_HIGH_STEP + _SPEED_HIGH_OFFSET
    else:
        speed = speed_raw * _SPEED_LOW_STEP
    if vspeed_raw == _VSPEED_UNKNOWN_RAW:
        vspeed = None
    elif abs(vspeed_raw) > _VSPEED_MAX_MS * 2:
        raise RemoteIdError("vertical_speed_ms", f"{vspeed_raw * 0.5} m/s outside -62..62")
    else:
        vspeed = vspeed_raw * 0.5
    lat, lon = _decode_latlon(lat_raw, lon_raw, "lat", "lon")
    if ts_raw == _TIMESTAMP_UNKNOWN_RAW:
        timestamp = None
    elif ts_raw > _TIMESTAMP_MAX_RAW:
        raise RemoteIdError("timestamp_s", f"{ts_raw / 10} s after the hour exceeds 3600 s")
    else:
        timestamp = ts_raw / 10
    ts_acc_raw = ts_acc & 0x0F
    return LocationVector(
        protocol_version=version,
        status=status,
        height_type=height_type,
        track_direction_deg=direction,
        speed_ms=speed,
        vertical_speed_ms=vspeed,
        lat=lat,
        lon=lon,
        alt_baro_m=_decode_alt(baro_raw),
        alt_geo_m=_decode_alt(geo_raw),
        height_m=_decode_alt(height_raw),
        horizontal_accuracy=_enum(HorizontalAccuracy, acc_hv & 0x0F, "horizontal_accuracy"),
        vertical_accuracy=_enum(VerticalAccuracy, acc_hv >> 4, "vertical_accuracy"),
        baro_accuracy=_enum(VerticalAccuracy, acc_bs >> 4, "baro_accuracy"),
        speed_accuracy=_enum(SpeedAccuracy, acc_bs & 0x0F, "speed_accuracy"),
        timestamp_s=timestamp,
        timestamp_accuracy_s=None if ts_acc_raw == 0 else ts_acc_raw / 10,
    )


def decode_authentication(data: bytes) -> Authentication:
    """Decode one 25-byte Authentication page (type 0x2) into an :class:`Authentication`."""
    data = bytes(data)
    version = _check_header(data, MessageType.AUTHENTICATION)
    auth_type = _enum_or_private(AuthType, data[1] >> 4, _PRIVATE_AUTH, "auth_type")
    page = data[1] & 0x0F
    if page != 0:
        return Authentication(version, auth_type, page, None, None, None, data[2:])
    last_page_index, length, ts_raw = struct.unpack_from("<BBI", data, 2)
    if last_page_index > 15:
        raise RemoteIdError("last_page_index", f"{last_page_index} exceeds 15")
    capacity = _AUTH_PAGE0_DATA + _AUTH_PAGEN_DATA * last_page_index
    if length > capacity:
        raise RemoteIdError(
            "length", f"{length} bytes do not fit in pages 0..{last_page_index} ({capacity} bytes)"
        )
    return Authentication(
        version, auth_type, 0, last_page_index, length, _decode_f3411_time(ts_raw), data[8:]
    )


def decode_self_id(data: bytes) -> SelfId:
    """Decode a 25-byte Self-ID message (type 0x3) into a :class:`SelfId`."""
    data = bytes(data)
    version = _check_header(data, MessageType.SELF_ID)
    description_type = _enum_or_private(
        DescriptionType, data[1], _PRIVATE_DESCRIPTION, "description_type"
    )
    return SelfId(version, description_type, _decode_text(data[2:], "description"))


def decode_system(data: bytes) -> System:
    """Decode a 25-byte System message (type 0x4) into a :class:`System`."""
    data = bytes(data)
    version = _check_header(data, MessageType.SYSTEM)
    flags = data[1]
    (
        lat_raw,
        lon_raw,
        area_count,
        radius_raw,
        ceiling_raw,
        floor_raw,
        category_class,
        op_alt_raw,
        ts_raw,
    ) = struct.unpack_from("<iiHBHHBHI", data, 2)
    lat, lon = _decode_latlon(lat_raw, lon_raw, "operator_lat", "operator_lon")
    return System(
        protocol_version=version,
        operator_location_type=_enum(OperatorLocationType, flags & 0x03, "operator_location_type"),
        classification_type=_enum(ClassificationType, (flags >> 2) & 0x07, "classification_type"),
        operator_lat=lat,
        operator_lon=lon,
        area_count=area_count,
        area_radius_m=radius_raw * 10,
        area_ceiling_m=_decode_alt(ceiling_raw),
        area_floor_m=_decode_alt(floor_raw),
        ua_category=_enum(UaCategory, category_class >> 4, "ua_category"),
        ua_class=_enum(UaClass, category_class & 0x0F, "ua_class"),
        operator_alt_geo_m=_decode_alt(op_alt_raw),
        # bytes 20..23 are reserved before F3411-22a and may hold junk there
        timestamp=_decode_f3411_time(ts_raw) if version >= ProtocolVersion.F3411_22A else None,
    )


def decode_operator_id(data: bytes) -> OperatorId:
    """Decode a 25-byte Operator ID message (type 0x5) into an :class:`OperatorId`."""
    data = bytes(data)
    version = _check_header(data, MessageType.OPERATOR_ID)
    operator_id_type = _enum_or_private(
        OperatorIdType, data[1], _PRIVATE_OPERATOR_ID, "operator_id_type"
    )
    return OperatorId(
        version, operator_id_type, _decode_text(data[2 : 2 + _ID_SIZE], "operator_id")
    )


_SINGLE_DECODERS: Final[dict[MessageType, Callable[[bytes], SingleMessage]]] = {
    MessageType.BASIC_ID: decode_basic_id,
    MessageType.LOCATION: decode_location,
    MessageType.AUTHENTICATION: decode_authentication,
    MessageType.SELF_ID: decode_self_id,
    MessageType.SYSTEM: decode_system,
    MessageType.OPERATOR_ID: decode_operator_id,
}


def _decode_single(data: bytes) -> SingleMessage:
    if not data:
        raise RemoteIdError("length", "empty message")
    message_type = _enum(MessageType, data[0] >> 4, "message_type")
    if message_type == MessageType.MESSAGE_PACK:
        raise RemoteIdError("message_type", "a Message Pack cannot be nested in a Message Pack")
    return _SINGLE_DECODERS[message_type](data)


def decode_message_pack(data: bytes) -> MessagePack:
    """Decode a Message Pack (type 0xF: header, size 25, count 1..9, messages, zero padding).

    The pack is read by its message count; trailing zero bytes are accepted as padding,
    any non-zero byte after the declared messages raises (field ``padding``).
    """
    data = bytes(data)
    if len(data) < 3:
        raise RemoteIdError("length", f"message pack is {len(data)} bytes, header needs 3")
    message_type = _enum(MessageType, data[0] >> 4, "message_type")
    if message_type != MessageType.MESSAGE_PACK:
        raise RemoteIdError("message_type", f"expected MESSAGE_PACK, got {message_type.name}")
    version = _enum(ProtocolVersion, data[0] & 0x0F, "protocol_version")
    if data[1] != MESSAGE_SIZE:
        raise RemoteIdError("message_size", f"{data[1]}, must be {MESSAGE_SIZE}")
    count = data[2]
    if not 1 <= count <= MAX_PACK_MESSAGES:
        raise RemoteIdError("message_count", f"{count} outside 1..{MAX_PACK_MESSAGES}")
    expected = 3 + count * MESSAGE_SIZE
    if len(data) < expected:
        raise RemoteIdError(
            "length", f"pack of {count} messages needs {expected} bytes, got {len(data)}"
        )
    # Read by the message count: opendroneid-core-c's encoded pack (and the MAVLink
    # OPEN_DRONE_ID_MESSAGE_PACK message) is a fixed 228 bytes with the unused slots zero-filled,
    # and transmitters send it so. Zeros past the declared messages are padding; anything else
    # there is a damaged or misread pack and must not be silently dropped.
    tail = data[expected:]
    if tail.count(0) != len(tail):
        first = next(i for i, b in enumerate(tail) if b) + expected
        raise RemoteIdError(
            "padding",
            f"byte {first} past the {count} declared messages is 0x{data[first]:02x}, "
            "padding must be zero",
        )
    messages = tuple(
        _decode_single(data[3 + i * MESSAGE_SIZE : 3 + (i + 1) * MESSAGE_SIZE])
        for i in range(count)
    )
    return MessagePack(version, messages)


def decode_message(data: bytes) -> RemoteIdMessage:
    """Decode one broadcast message (25 bytes) or Message Pack, dispatching on the header."""
    data = bytes(data)
    if not data:
        raise RemoteIdError("length", "empty message")
    if data[0] >> 4 == MessageType.MESSAGE_PACK:
        return decode_message_pack(data)
    return _decode_single(data)


# --------------------------------------------------------------------------------------------
# Message encoders
# --------------------------------------------------------------------------------------------

_DEFAULT_VERSION: Final = ProtocolVersion.F3411_22A


def encode_basic_id(
    id_type: int,
    ua_type: int,
    uas_id: str,
    *,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode a Basic ID message (25 bytes).

    ``uas_id`` is ASCII (at most 20 characters); for ``UTM_ASSIGNED_UUID`` any string accepted by
    :class:`uuid.UUID`, for ``SPECIFIC_SESSION_ID`` up to 20 bytes as hex digits.
    """
    header = _header_byte(MessageType.BASIC_ID, protocol_version)
    id_kind = _enum(IdType, id_type, "id_type")
    ua_kind = _enum(UaType, ua_type, "ua_type")
    if id_kind == IdType.UTM_ASSIGNED_UUID:
        try:
            raw = uuid.UUID(str(uas_id)).bytes.ljust(_ID_SIZE, b"\0")
        except ValueError:
            raise RemoteIdError("uas_id", f"{uas_id!r} is not a UUID") from None
    elif id_kind == IdType.SPECIFIC_SESSION_ID:
        try:
            raw = bytes.fromhex(str(uas_id))
        except ValueError:
            raise RemoteIdError("uas_id", "session ID must be hex digits") from None
        if len(raw) > _ID_SIZE:
            raise RemoteIdError("uas_id", f"session ID is {len(raw)} bytes, at most 20")
        raw = raw.ljust(_ID_SIZE, b"\0")
    else:
        raw = _encode_text(uas_id, _ID_SIZE, "uas_id")
    return bytes([header, (id_kind << 4) | ua_kind]) + raw + bytes(3)


def _encode_direction(value: float | None) -> tuple[int, int]:
    if value is None:
        return _DIRECTION_UNKNOWN - 180, 1
    degrees = _number(value, "track_direction_deg")
    if not 0.0 <= degrees <= 360.0:
        raise RemoteIdError("track_direction_deg", f"{degrees} deg outside 0..360")
    whole = _round(degrees) % 360
    return (whole, 0) if whole < 180 else (whole - 180, 1)


def _encode_speed(value: float | None) -> tuple[int, int]:
    if value is None:
        return 255, 1
    speed = _number(value, "speed_ms")
    if not 0.0 <= speed <= _SPEED_MAX_MS:
        raise RemoteIdError("speed_ms", f"{speed} m/s outside 0..{_SPEED_MAX_MS}")
    high = _round((speed - _SPEED_HIGH_OFFSET) / _SPEED_HIGH_STEP)
    if speed <= _SPEED_HIGH_OFFSET or high == 0:  # 63.75 m/s has the canonical form 255 x 0.25
        return min(_round(speed / _SPEED_LOW_STEP), 255), 0
    return high, 1


def _encode_vertical_speed(value: float | None) -> int:
    if value is None:
        return _VSPEED_UNKNOWN_RAW
    vspeed = _number(value, "vertical_speed_ms")
    if not -_VSPEED_MAX_MS <= vspeed <= _VSPEED_MAX_MS:
        raise RemoteIdError("vertical_speed_ms", f"{vspeed} m/s outside -62..62")
    return _round(vspeed * 2.0)


def _encode_timestamp(value: float | None) -> int:
    if value is None:
        return _TIMESTAMP_UNKNOWN_RAW
    seconds = _number(value, "timestamp_s")
    if not 0.0 <= seconds <= 3600.0:
        raise RemoteIdError("timestamp_s", f"{seconds} s after the hour outside 0..3600")
    return _round(seconds * 10.0)


def _encode_timestamp_accuracy(value: float | None) -> int:
    if value is None:
        return 0
    raw = _round(_number(value, "timestamp_accuracy_s") * 10.0)
    if not 1 <= raw <= 15:
        raise RemoteIdError("timestamp_accuracy_s", f"{value} s outside 0.1..1.5 s")
    return raw


def encode_location(
    *,
    status: int = Status.UNDECLARED,
    height_type: int = HeightType.ABOVE_TAKEOFF,
    track_direction_deg: float | None = None,
    speed_ms: float | None = None,
    vertical_speed_ms: float | None = None,
    lat: float | None = None,
    lon: float | None = None,
    alt_baro_m: float | None = None,
    alt_geo_m: float | None = None,
    height_m: float | None = None,
    horizontal_accuracy: int = HorizontalAccuracy.UNKNOWN,
    vertical_accuracy: int = VerticalAccuracy.UNKNOWN,
    baro_accuracy: int = VerticalAccuracy.UNKNOWN,
    speed_accuracy: int = SpeedAccuracy.UNKNOWN,
    timestamp_s: float | None = None,
    timestamp_accuracy_s: float | None = None,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode a Location/Vector message (25 bytes); ``None`` encodes the "unknown" value.

    Units: degrees, metres, m/s, seconds after the full hour. Values are rounded to the
    standard's resolution (1 deg, 0.25/0.75 m/s, 0.5 m/s, 1e-7 deg, 0.5 m, 0.1 s).
    """
    header = _header_byte(MessageType.LOCATION, protocol_version)
    status_value = _enum(Status, status, "status")
    height_kind = _enum(HeightType, height_type, "height_type")
    direction_raw, west = _encode_direction(track_direction_deg)
    speed_raw, multiplier = _encode_speed(speed_ms)
    vspeed_raw = _encode_vertical_speed(vertical_speed_ms)
    lat_raw, lon_raw = _encode_latlon(lat, lon, "lat", "lon")
    h_acc = _enum(HorizontalAccuracy, horizontal_accuracy, "horizontal_accuracy")
    v_acc = _enum(VerticalAccuracy, vertical_accuracy, "vertical_accuracy")
    b_acc = _enum(VerticalAccuracy, baro_accuracy, "baro_accuracy")
    s_acc = _enum(SpeedAccuracy, speed_accuracy, "speed_accuracy")
    flags = (status_value << 4) | (height_kind << 2) | (west << 1) | multiplier
    return struct.pack(
        "<BBBBbiiHHHBBHBB",
        header,
        flags,
        direction_raw,
        speed_raw,
        vspeed_raw,
        lat_raw,
        lon_raw,
        _encode_alt(alt_baro_m, "alt_baro_m"),
        _encode_alt(alt_geo_m, "alt_geo_m"),
        _encode_alt(height_m, "height_m"),
        (v_acc << 4) | h_acc,
        (b_acc << 4) | s_acc,
        _encode_timestamp(timestamp_s),
        _encode_timestamp_accuracy(timestamp_accuracy_s),
        0,
    )


def encode_authentication(
    *,
    auth_type: int,
    page_number: int,
    data: bytes,
    last_page_index: int | None = None,
    length: int | None = None,
    timestamp: int | None = None,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode one Authentication page (25 bytes); ``data`` is NUL padded to the page size.

    Page 0 carries ``last_page_index`` (default 0), ``length`` (default ``len(data)``) and
    ``timestamp`` (Unix seconds, ``None`` = not set) and up to 17 data bytes; pages 1..15 carry
    up to 23 data bytes and must not be given those fields.
    """
    header = _header_byte(MessageType.AUTHENTICATION, protocol_version)
    kind = _enum_or_private(AuthType, auth_type, _PRIVATE_AUTH, "auth_type")
    page = _integer(page_number, 0, 15, "page_number")
    if not isinstance(data, bytes | bytearray):
        raise RemoteIdError("data", f"must be bytes, got {type(data).__name__}")
    payload = bytes(data)
    first = bytes([header, (kind << 4) | page])
    if page != 0:
        for name, given in (
            ("last_page_index", last_page_index),
            ("length", length),
            ("timestamp", timestamp),
        ):
            if given is not None:
                raise RemoteIdError(name, "only carried on authentication page 0")
        if len(payload) > _AUTH_PAGEN_DATA:
            raise RemoteIdError("data", f"{len(payload)} bytes, page {page} holds 23")
        return first + payload.ljust(_AUTH_PAGEN_DATA, b"\0")
    if len(payload) > _AUTH_PAGE0_DATA:
        raise RemoteIdError("data", f"{len(payload)} bytes, page 0 holds 17")
    last = _integer(0 if last_page_index is None else last_page_index, 0, 15, "last_page_index")
    total = _integer(len(payload) if length is None else length, 0, 255, "length")
    capacity = _AUTH_PAGE0_DATA + _AUTH_PAGEN_DATA * last
    if total > capacity:
        raise RemoteIdError("length", f"{total} bytes do not fit in pages 0..{last}")
    ts_raw = _encode_f3411_time(timestamp, "timestamp")
    return first + struct.pack("<BBI", last, total, ts_raw) + payload.ljust(_AUTH_PAGE0_DATA, b"\0")


def encode_self_id(
    description_type: int,
    description: str,
    *,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode a Self-ID message (25 bytes); ``description`` is printable ASCII, <= 23 chars."""
    header = _header_byte(MessageType.SELF_ID, protocol_version)
    kind = _enum_or_private(
        DescriptionType, description_type, _PRIVATE_DESCRIPTION, "description_type"
    )
    return bytes([header, kind]) + _encode_text(description, _STR_SIZE, "description")


def encode_system(
    *,
    operator_location_type: int = OperatorLocationType.TAKEOFF,
    classification_type: int = ClassificationType.UNDECLARED,
    operator_lat: float | None = None,
    operator_lon: float | None = None,
    area_count: int = 1,
    area_radius_m: float = 0,
    area_ceiling_m: float | None = None,
    area_floor_m: float | None = None,
    ua_category: int = UaCategory.UNDECLARED,
    ua_class: int = UaClass.UNDECLARED,
    operator_alt_geo_m: float | None = None,
    timestamp: int | None = None,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode a System message (25 bytes); ``None`` encodes "unknown" / "not set".

    ``area_radius_m`` is rounded to 10 m (0..2550 m); ``timestamp`` is Unix seconds and needs
    protocol version 2 (F3411-22a), earlier versions have no System timestamp.
    """
    header = _header_byte(MessageType.SYSTEM, protocol_version)
    if timestamp is not None and header & 0x0F < ProtocolVersion.F3411_22A:
        raise RemoteIdError("timestamp", "the System timestamp needs protocol version 2")
    location_kind = _enum(OperatorLocationType, operator_location_type, "operator_location_type")
    class_kind = _enum(ClassificationType, classification_type, "classification_type")
    lat_raw, lon_raw = _encode_latlon(operator_lat, operator_lon, "operator_lat", "operator_lon")
    count = _integer(area_count, 0, 0xFFFF, "area_count")
    radius = _number(area_radius_m, "area_radius_m")
    radius_raw = _round(radius / 10.0)
    if radius < 0.0 or radius_raw > 255:
        raise RemoteIdError("area_radius_m", f"{radius} m outside 0..2550")
    category = _enum(UaCategory, ua_category, "ua_category")
    ua_class_value = _enum(UaClass, ua_class, "ua_class")
    return struct.pack(
        "<BBiiHBHHBHIB",
        header,
        (class_kind << 2) | location_kind,
        lat_raw,
        lon_raw,
        count,
        radius_raw,
        _encode_alt(area_ceiling_m, "area_ceiling_m"),
        _encode_alt(area_floor_m, "area_floor_m"),
        (category << 4) | ua_class_value,
        _encode_alt(operator_alt_geo_m, "operator_alt_geo_m"),
        _encode_f3411_time(timestamp, "timestamp"),
        0,
    )


def encode_operator_id(
    operator_id_type: int,
    operator_id: str,
    *,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode an Operator ID message (25 bytes); ``operator_id`` is printable ASCII, <= 20."""
    header = _header_byte(MessageType.OPERATOR_ID, protocol_version)
    kind = _enum_or_private(
        OperatorIdType, operator_id_type, _PRIVATE_OPERATOR_ID, "operator_id_type"
    )
    return bytes([header, kind]) + _encode_text(operator_id, _ID_SIZE, "operator_id") + bytes(3)


def encode_message_pack(
    messages_bytes: Sequence[bytes],
    *,
    protocol_version: int = _DEFAULT_VERSION,
) -> bytes:
    """Encode a Message Pack from 1..9 already encoded, valid 25-byte single messages."""
    header = _header_byte(MessageType.MESSAGE_PACK, protocol_version)
    if isinstance(messages_bytes, bytes | bytearray):
        raise RemoteIdError("messages", "expected a sequence of encoded messages, got bytes")
    chunks = [bytes(m) for m in messages_bytes]
    if not 1 <= len(chunks) <= MAX_PACK_MESSAGES:
        raise RemoteIdError("message_count", f"{len(chunks)} outside 1..{MAX_PACK_MESSAGES}")
    for chunk in chunks:
        _decode_single(chunk)  # validates length, type (no nesting) and every field
    return bytes([header, MESSAGE_SIZE, len(chunks)]) + b"".join(chunks)


def encode_message(message: RemoteIdMessage) -> bytes:
    """Encode a decoded message dataclass back to its wire bytes (inverse of decode_message)."""
    match message:
        case BasicId():
            return encode_basic_id(
                message.id_type,
                message.ua_type,
                message.uas_id,
                protocol_version=message.protocol_version,
            )
        case LocationVector():
            return encode_location(
                status=message.status,
                height_type=message.height_type,
                track_direction_deg=message.track_direction_deg,
                speed_ms=message.speed_ms,
                vertical_speed_ms=message.vertical_speed_ms,
                lat=message.lat,
                lon=message.lon,
                alt_baro_m=message.alt_baro_m,
                alt_geo_m=message.alt_geo_m,
                height_m=message.height_m,
                horizontal_accuracy=message.horizontal_accuracy,
                vertical_accuracy=message.vertical_accuracy,
                baro_accuracy=message.baro_accuracy,
                speed_accuracy=message.speed_accuracy,
                timestamp_s=message.timestamp_s,
                timestamp_accuracy_s=message.timestamp_accuracy_s,
                protocol_version=message.protocol_version,
            )
        case Authentication():
            return encode_authentication(
                auth_type=message.auth_type,
                page_number=message.page_number,
                data=message.data,
                last_page_index=message.last_page_index,
                length=message.length,
                timestamp=message.timestamp,
                protocol_version=message.protocol_version,
            )
        case SelfId():
            return encode_self_id(
                message.description_type,
                message.description,
                protocol_version=message.protocol_version,
            )
        case System():
            return encode_system(
                operator_location_type=message.operator_location_type,
                classification_type=message.classification_type,
                operator_lat=message.operator_lat,
                operator_lon=message.operator_lon,
                area_count=message.area_count,
                area_radius_m=message.area_radius_m,
                area_ceiling_m=message.area_ceiling_m,
                area_floor_m=message.area_floor_m,
                ua_category=message.ua_category,
                ua_class=message.ua_class,
                operator_alt_geo_m=message.operator_alt_geo_m,
                timestamp=message.timestamp,
                protocol_version=message.protocol_version,
            )
        case OperatorId():
            return encode_operator_id(
                message.operator_id_type,
                message.operator_id,
                protocol_version=message.protocol_version,
            )
        case MessagePack():
            return encode_message_pack(
                [encode_message(m) for m in message.messages],
                protocol_version=message.protocol_version,
            )
    raise RemoteIdError("message", f"not a Remote ID message: {type(message).__name__}")


# --------------------------------------------------------------------------------------------
# Transports
# --------------------------------------------------------------------------------------------


def _counter(value: object) -> int:
    return _integer(value, 0, 255, "counter")


def _checked_pack(pack: object) -> bytes:
    if not isinstance(pack, bytes | bytearray):
        raise RemoteIdError("pack", f"must be bytes, got {type(pack).__name__}")
    data = bytes(pack)
    decode_message_pack(data)
    return data


def _decode_counter_and_pack(body: bytes) -> tuple[int, list[SingleMessage]]:
    if not body:
        raise RemoteIdError("counter", "missing message counter")
    message = decode_message(body[1:])
    if not isinstance(message, MessagePack):
        raise RemoteIdError("message_type", "Wi-Fi Remote ID must carry a Message Pack")
    return body[0], list(message.messages)


def _mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _parse_mac(mac: object, field: str) -> bytes:
    if not isinstance(mac, str):
        raise RemoteIdError(field, f"must be a str like 'aa:bb:cc:dd:ee:ff', got {mac!r}")
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise RemoteIdError(field, f"{mac!r} is not a MAC address")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise RemoteIdError(field, f"{mac!r} is not a MAC address") from None


def _mgmt_header(data: bytes, subtype: int, name: str) -> int:
    """Validate an 802.11 management header of ``subtype``; return the header length in bytes."""
    if len(data) < 24:
        raise RemoteIdError("length", f"{len(data)} bytes, shorter than an 802.11 header")
    fc0, fc1 = data[0], data[1]
    if fc0 & 0x03:
        raise RemoteIdError("frame_control", f"802.11 protocol version {fc0 & 0x03}")
    if (fc0 >> 2) & 0x03 != 0 or fc0 >> 4 != subtype:
        raise RemoteIdError("frame_control", f"not an 802.11 {name} frame (0x{fc0:02x})")
    if fc1 & 0x40:
        raise RemoteIdError("frame_control", "protected (encrypted) frame")
    return 28 if fc1 & 0x80 else 24  # +HT Control when the Order bit is set


def _iter_elements(data: bytes, pos: int) -> Iterator[tuple[int, bytes]]:
    while pos < len(data):
        if pos + 2 > len(data):
            raise RemoteIdError("ie_length", "truncated information element header")
        element_id, length = data[pos], data[pos + 1]
        end = pos + 2 + length
        if end > len(data):
            raise RemoteIdError("ie_length", f"element {element_id} overruns the frame")
        yield element_id, data[pos + 2 : end]
        pos = end


def _is_odid_vendor_payload(body: bytes) -> bool:
    return len(body) >= 4 and body[:3] in _ODID_OUIS and body[3] == ODID_APP_CODE


def encode_wifi_beacon_ie(pack: bytes, counter: int) -> bytes:
    """Build the Wi-Fi Beacon vendor specific element (ID 221, OUI FA:0B:BC, type 0x0D)."""
    body = ASD_STAN_OUI + bytes([ODID_APP_CODE, _counter(counter)]) + _checked_pack(pack)
    return bytes([_IE_VENDOR_SPECIFIC, len(body)]) + body


def decode_wifi_vendor_ie(ie_payload: bytes) -> tuple[int, list[SingleMessage]]:
    """Decode an ODID vendor specific element into (message counter, messages of the pack).

    Accepts the element payload (starting with the OUI) or the whole element (starting with
    ID 221 and its length byte). The legacy Parrot OUI 90:3A:E6 is accepted as well.
    """
    data = bytes(ie_payload)
    if data[:1] == bytes([_IE_VENDOR_SPECIFIC]):
        if len(data) < 2 or data[1] != len(data) - 2:
            raise RemoteIdError("length", "element length byte does not match the data")
        data = data[2:]
    if len(data) < 4:
        raise RemoteIdError("length", f"vendor element payload of {len(data)} bytes too short")
    if data[:3] not in _ODID_OUIS:
        raise RemoteIdError("oui", f"{_mac_str(data[:3])} is not an Open Drone ID OUI")
    if data[3] != ODID_APP_CODE:
        raise RemoteIdError("oui_type", f"0x{data[3]:02x}, expected 0x{ODID_APP_CODE:02x}")
    return _decode_counter_and_pack(data[4:])


def encode_beacon_frame(
    pack: bytes,
    counter: int,
    transmitter_mac: str,
    *,
    ssid: str = "",
    beacon_interval_tu: int = 100,
) -> bytes:
    """Build a complete 802.11 beacon frame (no FCS) carrying the ODID vendor element."""
    mac = _parse_mac(transmitter_mac, "transmitter_mac")
    interval = _integer(beacon_interval_tu, 1, 0xFFFF, "beacon_interval_tu")
    if not isinstance(ssid, str) or len(ssid.encode("utf-8")) > 32:
        raise RemoteIdError("ssid", "SSID must be a str of at most 32 bytes (UTF-8)")
    ssid_raw = ssid.encode("utf-8")
    header = b"\x80\x00\x00\x00" + b"\xff" * 6 + mac + mac + b"\x00\x00"
    fixed = bytes(8) + struct.pack("<HH", interval, 0x0420)  # short preamble + short slot
    ssid_ie = bytes([_IE_SSID, len(ssid_raw)]) + ssid_raw
    return header + fixed + ssid_ie + encode_wifi_beacon_ie(pack, counter)


def decode_beacon_frame(frame: bytes) -> tuple[str, list[SingleMessage]]:
    """Decode an 802.11 beacon frame into (transmitter MAC addr2, messages of its ODID pack).

    Raises :class:`RemoteIdError` (field ``vendor_ie``) when the beacon has no ODID element.
    """
    data = bytes(frame)
    header_len = _mgmt_header(data, _SUBTYPE_BEACON, "beacon")
    start = header_len + 12  # timestamp, beacon interval, capability information
    if len(data) < start:
        raise RemoteIdError("length", "beacon frame truncated before its elements")
    transmitter = _mac_str(data[10:16])
    for element_id, body in _iter_elements(data, start):
        if element_id == _IE_VENDOR_SPECIFIC and _is_odid_vendor_payload(body):
            return transmitter, decode_wifi_vendor_ie(body)[1]
    raise RemoteIdError("vendor_ie", "beacon has no Open Drone ID vendor specific element")


def _nan_service_info(attribute: bytes) -> bytes | None:
    """Service info of a NAN Service Descriptor attribute body, None if not the ODID service."""
    if len(attribute) < 9:
        raise RemoteIdError("nan_attribute", "service descriptor attribute too short")
    if attribute[:6] != NAN_SERVICE_ID:
        return None
    control = attribute[8]
    pos = 9
    if control & 0x40:  # binding bitmap present
        pos += 2
    for present in (0x04, 0x08):  # matching filter, service response filter
        if control & present:
            if pos >= len(attribute):
                raise RemoteIdError("nan_attribute", "truncated service descriptor filter")
            pos += 1 + attribute[pos]
    if not control & 0x10:
        raise RemoteIdError("service_info", "ODID service descriptor without service info")
    if pos >= len(attribute):
        raise RemoteIdError("service_info", "service info length missing")
    info = attribute[pos + 1 : pos + 1 + attribute[pos]]
    if len(info) != attribute[pos]:
        raise RemoteIdError("service_info", "service info overruns the attribute")
    return info


def encode_nan_action_frame(pack: bytes, counter: int, transmitter_mac: str) -> bytes:
    """Build a Wi-Fi NAN service discovery (public action) frame carrying a Message Pack."""
    mac = _parse_mac(transmitter_mac, "transmitter_mac")
    info = bytes([_counter(counter)]) + _checked_pack(pack)
    header = b"\xd0\x00\x00\x00" + _NAN_NETWORK_ID + mac + _NAN_CLUSTER_ID + b"\x00\x00"
    sdf = b"\x04\x09" + _WFA_OUI + bytes([_NAN_OUI_TYPE])
    # instance 1, requestor 0, service control: publish with service info present
    sda_body = NAN_SERVICE_ID + b"\x01\x00\x10" + bytes([len(info)]) + info
    sda = b"\x03" + len(sda_body).to_bytes(2, "little") + sda_body
    # Service Descriptor Extension: instance 1, control 0x0200, service update indicator
    sdea = b"\x0e\x04\x00\x01\x00\x02" + bytes([info[0]])
    return header + sdf + sda + sdea


def decode_nan_action_frame(frame: bytes) -> tuple[str, list[SingleMessage]]:
    """Decode a Wi-Fi NAN service discovery frame into (transmitter MAC, messages of its pack)."""
    data = bytes(frame)
    header_len = _mgmt_header(data, _SUBTYPE_ACTION, "action")
    transmitter = _mac_str(data[10:16])
    body = data[header_len:]
    if len(body) < 6:
        raise RemoteIdError("length", "action frame too short for a NAN service discovery frame")
    if body[0] != 0x04 or body[1] != 0x09:
        raise RemoteIdError("category", "not a public vendor-specific action frame")
    if body[2:5] != _WFA_OUI or body[5] != _NAN_OUI_TYPE:
        raise RemoteIdError("oui", "not a Wi-Fi Aware (NAN) service discovery frame")
    pos = 6
    while pos < len(body):
        if pos + 3 > len(body):
            raise RemoteIdError("nan_attribute", "truncated NAN attribute header")
        attribute_id = body[pos]
        end = pos + 3 + int.from_bytes(body[pos + 1 : pos + 3], "little")
        if end > len(body):
            raise RemoteIdError("nan_attribute", f"attribute 0x{attribute_id:02x} overruns frame")
        if attribute_id == 0x03:
            info = _nan_service_info(body[pos + 3 : end])
            if info is not None:
                return transmitter, _decode_counter_and_pack(info)[1]
        pos = end
    raise RemoteIdError("service_id", "no Open Drone ID NAN service descriptor attribute")


def decode_wifi_frame(frame: bytes) -> tuple[str, list[SingleMessage]]:
    """Decode a beacon or NAN action frame (dispatching on the subtype) into (MAC, messages)."""
    data = bytes(frame)
    if len(data) < 2:
        raise RemoteIdError("length", "too short for 802.11 frame control")
    if data[0] >> 4 == _SUBTYPE_ACTION:
        return decode_nan_action_frame(data)
    return decode_beacon_frame(data)


def encode_ble_advertising(message: bytes, counter: int) -> bytes:
    """Build the ODID AD structure: len, 0x16, UUID 0xFFFA (LE), app code 0x0D, counter, message.

    ``message`` is a 25-byte message (Bluetooth 4 legacy) or a Message Pack (Bluetooth 5).
    """
    if not isinstance(message, bytes | bytearray):
        raise RemoteIdError("message", f"must be bytes, got {type(message).__name__}")
    payload = bytes(message)
    decode_message(payload)
    body = bytes([_AD_TYPE_SERVICE_DATA_16]) + _BLE_UUID_LE
    body += bytes([ODID_APP_CODE, _counter(counter)]) + payload
    return bytes([len(body)]) + body


def decode_ble_advertising(adv_data: bytes) -> tuple[int, RemoteIdMessage]:
    """Find the ODID service data in Bluetooth advertising data; return (counter, message).

    Walks all AD structures; the message is a single message (Bluetooth 4 legacy advertising)
    or a :class:`MessagePack` (Bluetooth 5 extended / long-range advertising).
    """
    data = bytes(adv_data)
    pos = 0
    while pos < len(data):
        length = data[pos]
        if length == 0:  # early termination / zero padding of the advertising data
            break
        end = pos + 1 + length
        if end > len(data):
            raise RemoteIdError("ad_length", f"AD structure at byte {pos} overruns the data")
        ad_type, body = data[pos + 1], data[pos + 2 : end]
        if (
            ad_type == _AD_TYPE_SERVICE_DATA_16
            and body[:2] == _BLE_UUID_LE
            and body[2:3] == bytes([ODID_APP_CODE])
        ):
            if len(body) < 4:
                raise RemoteIdError("counter", "missing message counter")
            return body[3], decode_message(body[4:])
        pos = end
    raise RemoteIdError("adv_data", "no Open Drone ID service data (UUID 0xFFFA, app code 0x0D)")
