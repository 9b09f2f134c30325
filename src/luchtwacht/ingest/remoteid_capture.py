"""Open Drone ID (ASTM F3411 broadcast Remote ID) out of real radio captures (pcap / pcapng).

A Remote ID receiver in the field is often just a sniffer writing a capture file: a Wi-Fi card in
monitor mode (radiotap, linktype 127, or bare 802.11, linktype 105) or a Bluetooth LE sniffer
(LINKTYPE_BLUETOOTH_LE_LL 251, LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR 256 as written by Ubertooth /
Sniffle, LINKTYPE_NORDIC_BLE 272 as written by the nRF Sniffer for Bluetooth LE). This module turns
such a capture into decoded Remote ID messages with :mod:`luchtwacht.ingest.remoteid`, so recorded
flights can be replayed, audited and used as test data.

Bluetooth LE link layer (Core spec Vol 6 Part B §2.1, §2.3; all integers little-endian)::

    Access Address  4   0x8E89BED6 on every advertising physical channel PDU
    CI              1   coding indicator, LE Coded PHY only (0: S=8, 1: S=2), when the capture
                        says the packet was received on the coded PHY (linktypes 256 and 272)
    PDU header      2   byte 0: bits 3..0 PDU type, bit 5 ChSel, bit 6 TxAdd, bit 7 RxAdd
                        byte 1: payload length (0..255)
    Payload         len
    CRC             3   CRC-24, polynomial x^24+x^10+x^9+x^6+x^4+x^3+x+1, preset 0x555555 on
                        advertising channels, computed over header and payload bit by bit in air
                        order (least significant bit of each byte first) and sent most significant
                        bit first; as bytes in a capture this is the reflected CRC, little-endian
                        (the "CRC-24/BLE" of the CRC catalogue, check value 0xC25A56)

Advertising PDU types and where their advertiser address (AdvA) and data sit::

    0 ADV_IND, 2 ADV_NONCONN_IND, 4 SCAN_RSP, 6 ADV_SCAN_IND   AdvA(6) | AdvData(0..31)
    1 ADV_DIRECT_IND   AdvA(6) | TargetA(6)        3 SCAN_REQ   ScanA(6) | AdvA(6)
    5 CONNECT_IND      InitA(6) | AdvA(6) | LLData(22)
    7 ADV_EXT_IND (primary channel 37..39), AUX_ADV_IND / AUX_CHAIN_IND / AUX_SYNC_IND /
      AUX_SCAN_RSP (secondary channels 0..36), 8 AUX_CONNECT_RSP: the common extended
      advertising payload
        byte 0  bits 5..0 extended header length, bits 7..6 AdvMode
        byte 1  extended header flags (if the header length is not 0): bit 0 AdvA, 1 TargetA,
                2 CTEInfo, 3 ADI, 4 AuxPtr, 5 SyncInfo, 6 TxPower
        then, in this order, the flagged fields AdvA(6) TargetA(6) CTEInfo(1)
                ADI(2: DID bits 11..0, SID bits 15..12) AuxPtr(3: channel bits 5..0, CA bit 6,
                offset units bit 7 (30 / 300 us), offset bits 20..8, PHY bits 23..21)
                SyncInfo(18) TxPower(1, int8 dBm), the rest of the header is ACAD
        then AdvData up to the end of the payload

Capture pseudo headers::

    linktype 256 (10 bytes): RF channel (0..39, 2402 + 2k MHz), signal dBm (int8), noise dBm
        (int8), access address offenses, reference access address (4), flags (2): 0x0002 signal
        valid, 0x0380 PDU kind (0 advertising or data, 1 auxiliary advertising, 2..6 data /
        isochronous), 0x3000 auxiliary PDU type when the kind is 1 (0 AUX_ADV_IND,
        1 AUX_CHAIN_IND, 2 AUX_SYNC_IND, 3 AUX_SCAN_RSP), 0xC000 PHY (0 1M, 1 2M, 2 coded)
    linktype 272 (nRF Sniffer, header versions 1..3; 17 bytes):
        0  board ID
        1  v2, v3: payload length (2 bytes);  v1: header length (1), payload length (1)
        3  header version;  4 packet counter (2);  6 packet ID (v3: 0x02 advertising,
           0x06 data channel; v1, v2: 0x06 any received packet)
        7  event header length (10);  8 flags: bit 0 CRC ok, bits 2..1 auxiliary PDU type on
           channels 0..36 (as above), bits 6..4 PHY (0 1M, 1 2M, 2 coded)
        9  channel index;  10 RSSI (negated dBm);  11 event counter (2);  13 time (4)
        17 the link-layer packet (access address onwards)

Every advertising packet is checked against its CRC; a mismatch is a :class:`RemoteIdError`
(field ``crc``) so a corrupted packet never turns into a wrong aircraft position. Whitened
(not de-whitened) packets fail that check too. Not decoded: AdvData fragmented over
AUX_CHAIN_IND packets (an Open Drone ID message pack fits one AUX_ADV_IND), linktype 272 header
version 0 (the pre-2017 "BEEF" format), radiotap fields other than the FCS flag.

Transport names follow the live receiver feed (see ``docs/remoteid-feed.md``): legacy advertising
PDUs are ``bt4-legacy``, extended advertising PDUs ``bt5-long-range`` (F3411 sends those on the
LE Coded PHY; the PHY actually recorded, if any, is reported separately), 802.11 beacons
``wifi-beacon`` and NAN service discovery frames ``wifi-nan``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import IntEnum
from os import PathLike
from pathlib import Path
from typing import Final, Literal, TypeAlias

from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest.remoteid import RemoteIdError
from luchtwacht.transport.pcap import (
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    PcapError,
    PcapRecord,
    ieee80211_frame,
    iter_records,
)

__all__ = [
    "ADVERTISING_ACCESS_ADDRESS",
    "ADVERTISING_CRC_INIT",
    "LINKTYPE_NORDIC_BLE",
    "AuxPtr",
    "BleAdvertisement",
    "CaptureStats",
    "DecodedFrame",
    "ExtendedHeader",
    "FrameError",
    "JsonValue",
    "NoRemoteIdError",
    "Phy",
    "Transport",
    "ble_crc24",
    "decode_record",
    "iter_capture_messages",
    "message_fields",
    "parse_ble_ll",
    "parse_ble_phdr",
    "parse_ble_record",
    "parse_nordic_ble",
    "utc_iso",
]

LINKTYPE_NORDIC_BLE: Final = 272
"""Linktype of the nRF Sniffer for Bluetooth LE (board / packet header, then the LL packet)."""
ADVERTISING_ACCESS_ADDRESS: Final = 0x8E89BED6
"""Access address of every advertising physical channel packet."""
ADVERTISING_CRC_INIT: Final = 0x555555
"""CRC preset of advertising physical channel packets (as the spec writes it, not reflected)."""

Transport: TypeAlias = Literal["wifi-beacon", "wifi-nan", "bt4-legacy", "bt5-long-range"]
"""Remote ID transport, the same names as the live receiver feed."""
Phy: TypeAlias = Literal["1M", "2M", "coded"]
"""Bluetooth LE PHY: 1 Msym/s, 2 Msym/s or LE Coded (Long Range)."""
JsonValue: TypeAlias = str | int | float | bool | None
"""A JSON scalar, the value type of :func:`message_fields`."""

_PHYS: Final[tuple[Phy, Phy, Phy]] = ("1M", "2M", "coded")
_LEGACY_NAMES: Final = {
    0: "ADV_IND",
    1: "ADV_DIRECT_IND",
    2: "ADV_NONCONN_IND",
    3: "SCAN_REQ",
    4: "SCAN_RSP",
    5: "CONNECT_IND",
    6: "ADV_SCAN_IND",
}
_AUX_NAMES: Final = ("AUX_ADV_IND", "AUX_CHAIN_IND", "AUX_SYNC_IND", "AUX_SCAN_RSP")
_PDU_EXTENDED: Final = 7
_PDU_AUX_CONNECT_RSP: Final = 8
_LEGACY_WITH_DATA: Final = frozenset({0, 2, 4, 6})
_LEGACY_ADDRESS_ONLY: Final = {1: (0, 12), 3: (6, 12), 5: (6, 34)}  # AdvA offset, payload length
_LEGACY_MAX_PAYLOAD: Final = 37
_PRIMARY_CHANNELS: Final = range(37, 40)
_CRC_LEN: Final = 3
_CRC_POLY_REFLECTED: Final = 0xDA6000  # 0x00065B with its 24 bits reversed
_PHDR_LEN: Final = 10
_PHDR_SIGNAL_VALID: Final = 0x0002
_NORDIC_HEADER_LEN: Final = 7
_NORDIC_EVENT_LEN: Final = 10
_NORDIC_ID_ADVERTISING: Final = 0x02
_NORDIC_ID_PACKET: Final = 0x06
_WIFI_SUBTYPE_BEACON: Final = 8
_WIFI_SUBTYPE_ACTION: Final = 13
# codec error fields that mean "well-formed, but this frame carries no Open Drone ID"
_WIFI_NOT_ODID_FIELDS: Final = {
    _WIFI_SUBTYPE_BEACON: frozenset({"vendor_ie"}),
    _WIFI_SUBTYPE_ACTION: frozenset({"category", "oui", "service_id"}),
}


def _reflected_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_CRC_POLY_REFLECTED if crc & 1 else 0)
        table.append(crc)
    return tuple(table)


_CRC_TABLE: Final = _reflected_table()


class NoRemoteIdError(RemoteIdError):
    """A well-formed frame that simply carries no Open Drone ID: skipped and counted, no error.

    Examples: a data channel BLE packet, an advertisement of a phone, a Wi-Fi data frame or a
    beacon of an access point. ``field`` says what gave it away (e.g. ``access_address``).
    """


@dataclass(frozen=True, slots=True)
class AuxPtr:
    """Extended header AuxPtr: where and when the auxiliary packet of an extended advert follows."""

    channel_index: int
    clock_accuracy_ppm: int
    """Upper bound of the advertiser's sleep clock accuracy: 50 (CA=1) or 500 ppm (CA=0)."""
    offset_us: int
    """Time from the start of this packet to the start of the auxiliary packet."""
    phy: Phy


@dataclass(frozen=True, slots=True)
class ExtendedHeader:
    """The common extended advertising payload header (ADV_EXT_IND and the AUX_* PDUs)."""

    adv_mode: int
    """0 non-connectable non-scannable, 1 connectable, 2 scannable (3 reserved)."""
    adv_a: str | None
    target_a: str | None
    cte_info: int | None
    did: int | None
    """ADI advertising data ID (12 bits), changes when the advertiser changes its data."""
    sid: int | None
    """ADI advertising set ID (4 bits)."""
    aux_ptr: AuxPtr | None
    sync_info: bytes | None
    tx_power_dbm: int | None
    acad: bytes


@dataclass(frozen=True, slots=True)
class BleAdvertisement:
    """One parsed, CRC-checked Bluetooth LE advertising physical channel packet.

    ``channel`` (channel index 0..39), ``phy``, ``coding`` and ``rssi_dbm`` are ``None`` when the
    capture format does not record them (linktype 251).
    """

    access_address: int
    pdu_type_code: int
    pdu_type: str
    tx_add_random: bool
    """TxAdd: the AdvA is a random (True) or public (False) device address."""
    adv_a: str | None
    adv_data: bytes
    extended: ExtendedHeader | None
    phy: Phy | None
    coding: Literal["S8", "S2"] | None
    channel: int | None
    rssi_dbm: float | None
    crc: bytes

    @property
    def legacy(self) -> bool:
        """True for the Bluetooth 4 legacy PDUs (types 0..6), False for extended advertising."""
        return self.pdu_type_code < _PDU_EXTENDED

    @property
    def transport(self) -> Transport:
        """Remote ID transport name: ``bt4-legacy`` or ``bt5-long-range`` (extended PDUs)."""
        return "bt4-legacy" if self.legacy else "bt5-long-range"


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A captured frame that carried Open Drone ID, with the messages it carried.

    ``index`` is the 0-based record number in the capture, ``timestamp_s`` its capture time in
    Unix seconds (``nan`` for pcapng simple packet blocks), ``mac`` the transmitter (802.11 addr2
    or BLE AdvA; ``None`` only for an extended advert without AdvA). ``counter`` is the Bluetooth
    message counter (Wi-Fi frames: ``None``); ``phy`` / ``pdu_type`` / ``rssi_dbm`` are Bluetooth
    capture details when known.
    """

    index: int
    timestamp_s: float
    transport: Transport
    mac: str | None
    messages: tuple[rid.SingleMessage, ...]
    counter: int | None = None
    rssi_dbm: float | None = None
    phy: Phy | None = None
    pdu_type: str | None = None


@dataclass(frozen=True, slots=True)
class FrameError:
    """A malformed frame: where it was in the capture and the error naming the bad field."""

    index: int
    timestamp_s: float
    linktype: int
    error: RemoteIdError


@dataclass(slots=True)
class CaptureStats:
    """What :func:`iter_capture_messages` saw: totals, skips by reason, malformed frames.

    ``skipped`` counts frames without Open Drone ID by the field that showed it (e.g.
    ``vendor_ie`` for an ordinary beacon); ``truncated`` is set when the capture file ends in a
    damaged record after at least one good one (decoding stops there).
    """

    records: int = 0
    frames: int = 0
    messages: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[FrameError] = field(default_factory=list)
    truncated: str | None = None


# --------------------------------------------------------------------------------------------
# Bluetooth LE link layer
# --------------------------------------------------------------------------------------------


def ble_crc24(pdu: bytes, init: int = ADVERTISING_CRC_INIT) -> bytes:
    """CRC-24 of a link-layer PDU (header + payload), as the 3 bytes that follow it in a capture.

    ``init`` is the preset as the Core spec writes it (0x555555 on advertising channels, the
    connection's CRCInit on data channels). The register runs reflected, so the result read as a
    little-endian integer is the CRC-24/BLE value (``b"123456789"`` gives 0xC25A56).
    """
    if not 0 <= init <= 0xFFFFFF:
        raise RemoteIdError("crc_init", f"0x{init:x} is not a 24-bit value")
    crc = int(f"{init:024b}"[::-1], 2)
    for byte in bytes(pdu):
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc.to_bytes(3, "little")


def _mac(raw: bytes) -> str:
    """A 6-byte little-endian Bluetooth device address as 'aa:bb:cc:dd:ee:ff' (MSB first)."""
    return ":".join(f"{b:02x}" for b in reversed(raw))


def _aux_ptr(raw: bytes) -> AuxPtr:
    value = int.from_bytes(raw, "little")
    phy_code = value >> 21
    if phy_code >= len(_PHYS):
        raise RemoteIdError("aux_ptr", f"reserved auxiliary PHY {phy_code}")
    units_us = 300 if value & 0x80 else 30
    return AuxPtr(
        channel_index=value & 0x3F,
        clock_accuracy_ppm=50 if value & 0x40 else 500,
        offset_us=((value >> 8) & 0x1FFF) * units_us,
        phy=_PHYS[phy_code],
    )


def _extended_payload(payload: bytes) -> tuple[ExtendedHeader, bytes]:
    """Split a common extended advertising payload into its header and AdvData."""
    if not payload:
        raise RemoteIdError("extended_header", "extended advertising PDU without payload")
    header_len = payload[0] & 0x3F
    adv_mode = payload[0] >> 6
    end = 1 + header_len
    if end > len(payload):
        raise RemoteIdError(
            "extended_header", f"header of {header_len} bytes overruns the {len(payload)}-byte PDU"
        )
    found: dict[int, bytes] = {}
    pos = 1
    if header_len:
        flags = payload[1]
        pos = 2
        for bit, size in ((0, 6), (1, 6), (2, 1), (3, 2), (4, 3), (5, 18), (6, 1)):
            if flags & (1 << bit):
                if pos + size > end:
                    raise RemoteIdError(
                        "extended_header", f"flagged field (bit {bit}) overruns the header"
                    )
                found[bit] = payload[pos : pos + size]
                pos += size
    adi = int.from_bytes(found[3], "little") if 3 in found else None
    header = ExtendedHeader(
        adv_mode=adv_mode,
        adv_a=_mac(found[0]) if 0 in found else None,
        target_a=_mac(found[1]) if 1 in found else None,
        cte_info=found[2][0] if 2 in found else None,
        did=adi & 0x0FFF if adi is not None else None,
        sid=adi >> 12 if adi is not None else None,
        aux_ptr=_aux_ptr(found[4]) if 4 in found else None,
        sync_info=found.get(5),
        tx_power_dbm=int.from_bytes(found[6], "little", signed=True) if 6 in found else None,
        acad=payload[pos:end],
    )
    return header, payload[end:]


def _extended_name(
    ext: ExtendedHeader, adv_data: bytes, channel: int | None, aux_type: int | None
) -> str:
    """Name a type-7 PDU: from the capture's aux type or channel, else inferred from content."""
    if aux_type is not None:
        return _AUX_NAMES[aux_type]
    if channel is not None:
        if channel in _PRIMARY_CHANNELS:
            return "ADV_EXT_IND"
        return "AUX_ADV_IND" if ext.adv_a is not None else "AUX_CHAIN_IND"
    if not adv_data:  # ADV_EXT_IND never carries AdvData
        return "ADV_EXT_IND"
    return "AUX_ADV_IND" if ext.adv_a is not None else "AUX_CHAIN_IND"


def parse_ble_ll(
    packet: bytes,
    *,
    phy: Phy | None = None,
    channel: int | None = None,
    aux_type: int | None = None,
    rssi_dbm: float | None = None,
) -> BleAdvertisement:
    """Parse a Bluetooth LE link-layer packet (access address .. CRC, linktype 251 layout).

    ``phy="coded"`` means a coding indicator byte follows the access address. ``channel`` (index
    0..39) and ``aux_type`` (0..3, see the module docstring) come from a capture pseudo header and
    only refine the PDU name. Raises :class:`NoRemoteIdError` for packets that are not advertising
    channel PDUs (other access address, reserved PDU type) and :class:`RemoteIdError` naming the
    field for anything truncated, inconsistent or failing the CRC.
    """
    data = bytes(packet)
    if phy is not None and phy not in _PHYS:
        raise RemoteIdError("phy", f"unknown PHY {phy!r}")
    if channel is not None and not 0 <= channel <= 39:
        raise RemoteIdError("channel", f"channel index {channel} outside 0..39")
    if aux_type is not None and not 0 <= aux_type <= 3:
        raise RemoteIdError("aux_type", f"auxiliary PDU type {aux_type} outside 0..3")
    if len(data) < 4:
        raise RemoteIdError("length", f"{len(data)} bytes, shorter than an access address")
    access_address = int.from_bytes(data[:4], "little")
    if access_address != ADVERTISING_ACCESS_ADDRESS:
        raise NoRemoteIdError(
            "access_address",
            f"0x{access_address:08x} is not the advertising access address (data channel)",
        )
    pos = 4
    coding: Literal["S8", "S2"] | None = None
    if phy == "coded":
        if len(data) < 5:
            raise RemoteIdError("coding_indicator", "coded PHY packet without coding indicator")
        ci = data[4] & 0x03
        if ci > 1:
            raise RemoteIdError("coding_indicator", f"reserved coding indicator {ci}")
        coding = "S8" if ci == 0 else "S2"
        pos = 5
    if len(data) < pos + 2 + _CRC_LEN:
        raise RemoteIdError("length", f"{len(data)} bytes, too short for a PDU header and CRC")
    header0, length = data[pos], data[pos + 1]
    pdu_end = pos + 2 + length
    if pdu_end + _CRC_LEN != len(data):
        raise RemoteIdError(
            "length",
            f"PDU length {length} needs {pdu_end + _CRC_LEN} bytes, packet has {len(data)}",
        )
    pdu = data[pos:pdu_end]
    crc = data[pdu_end:]
    expected = ble_crc24(pdu)
    if crc != expected:
        raise RemoteIdError("crc", f"received {crc.hex()}, computed {expected.hex()}")
    pdu_type = header0 & 0x0F
    payload = pdu[2:]
    extended: ExtendedHeader | None = None
    adv_data = b""
    if pdu_type in _LEGACY_WITH_DATA:
        if not 6 <= length <= _LEGACY_MAX_PAYLOAD:
            raise RemoteIdError("length", f"{_LEGACY_NAMES[pdu_type]} payload of {length} bytes")
        adv_a: str | None = _mac(payload[:6])
        adv_data = payload[6:]
        name = _LEGACY_NAMES[pdu_type]
    elif pdu_type in _LEGACY_ADDRESS_ONLY:
        offset, size = _LEGACY_ADDRESS_ONLY[pdu_type]
        if length != size:
            raise RemoteIdError("length", f"{_LEGACY_NAMES[pdu_type]} payload of {length} bytes")
        adv_a = _mac(payload[offset : offset + 6])
        name = _LEGACY_NAMES[pdu_type]
    elif pdu_type in (_PDU_EXTENDED, _PDU_AUX_CONNECT_RSP):
        extended, adv_data = _extended_payload(payload)
        adv_a = extended.adv_a
        if pdu_type == _PDU_AUX_CONNECT_RSP:
            name = "AUX_CONNECT_RSP"
        else:
            name = _extended_name(extended, adv_data, channel, aux_type)
    else:
        raise NoRemoteIdError("pdu_type", f"advertising PDU type {pdu_type} is reserved")
    return BleAdvertisement(
        access_address=access_address,
        pdu_type_code=pdu_type,
        pdu_type=name,
        tx_add_random=bool(header0 & 0x40),
        adv_a=adv_a,
        adv_data=adv_data,
        extended=extended,
        phy=phy,
        coding=coding,
        channel=channel,
        rssi_dbm=rssi_dbm,
        crc=crc,
    )


def _rf_channel_index(rf_channel: int) -> int:
    """Channel index (0..39) of RF channel k (2402 + 2k MHz); advertising 37/38/39 = RF 0/12/39."""
    if rf_channel == 0:
        return 37
    if rf_channel == 12:
        return 38
    if rf_channel == 39:
        return 39
    return rf_channel - 1 if rf_channel < 12 else rf_channel - 2


def parse_ble_phdr(data: bytes) -> BleAdvertisement:
    """Parse a LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR (256) record: 10-byte pseudo header + LL packet.

    Data and isochronous channel packets (PDU kind 2..6 in the flags) are :class:`NoRemoteIdError`.
    """
    raw = bytes(data)
    if len(raw) < _PHDR_LEN:
        raise RemoteIdError("length", f"{len(raw)} bytes, shorter than the 10-byte pseudo header")
    rf_channel = raw[0]
    if rf_channel > 39:
        raise RemoteIdError("rf_channel", f"RF channel {rf_channel} outside 0..39")
    flags = int.from_bytes(raw[8:10], "little")
    kind = (flags >> 7) & 0x07
    if 2 <= kind <= 6:
        raise NoRemoteIdError(
            "phdr_pdu_type", f"pseudo header marks a data channel PDU (kind {kind})"
        )
    phy_code = flags >> 14
    if phy_code >= len(_PHYS):
        raise RemoteIdError("phdr_flags", f"reserved PHY {phy_code}")
    signal = int.from_bytes(raw[1:2], "little", signed=True)
    return parse_ble_ll(
        raw[_PHDR_LEN:],
        phy=_PHYS[phy_code],
        channel=_rf_channel_index(rf_channel),
        aux_type=(flags >> 12) & 0x03 if kind == 1 else None,
        rssi_dbm=float(signal) if flags & _PHDR_SIGNAL_VALID else None,
    )


def parse_nordic_ble(data: bytes) -> BleAdvertisement:
    """Parse a LINKTYPE_NORDIC_BLE (272) record of header version 1, 2 or 3 (nRF Sniffer).

    Checks the header's lengths against the record. Version 3 data channel packets (packet ID
    0x06) and other packet IDs are :class:`NoRemoteIdError`; in versions 1 and 2 the access address
    tells advertising from data packets.
    """
    raw = bytes(data)
    if raw[:2] == b"\xbe\xef":
        raise RemoteIdError("nordic_version", "legacy header version 0 (BEEF) is not supported")
    if len(raw) < _NORDIC_HEADER_LEN + _NORDIC_EVENT_LEN:
        raise RemoteIdError("length", f"{len(raw)} bytes, shorter than the nRF Sniffer header")
    version = raw[3]
    if version == 1:
        header_len, payload_len = raw[1], raw[2]
        if header_len != _NORDIC_HEADER_LEN - 1:
            raise RemoteIdError("nordic_header_length", f"{header_len}, expected 6")
    elif version in (2, 3):
        payload_len = int.from_bytes(raw[1:3], "little")
    else:
        raise RemoteIdError("nordic_version", f"unsupported header version {version}")
    if _NORDIC_HEADER_LEN + payload_len != len(raw):
        raise RemoteIdError(
            "nordic_payload_length",
            f"{payload_len} does not match the {len(raw) - _NORDIC_HEADER_LEN}-byte payload",
        )
    packet_id = raw[6]
    if version >= 3:
        if packet_id != _NORDIC_ID_ADVERTISING:
            raise NoRemoteIdError(
                "nordic_packet_id", f"packet ID 0x{packet_id:02x} is not advertising"
            )
    elif packet_id != _NORDIC_ID_PACKET:
        raise NoRemoteIdError("nordic_packet_id", f"packet ID 0x{packet_id:02x} is not a packet")
    if raw[7] != _NORDIC_EVENT_LEN:
        raise RemoteIdError("nordic_event_length", f"{raw[7]}, expected {_NORDIC_EVENT_LEN}")
    flags, channel, rssi = raw[8], raw[9], raw[10]
    phy_code = (flags >> 4) & 0x07
    if phy_code >= len(_PHYS):
        raise RemoteIdError("nordic_flags", f"reserved PHY {phy_code}")
    if channel > 39:
        raise RemoteIdError("channel", f"channel index {channel} outside 0..39")
    return parse_ble_ll(
        raw[_NORDIC_HEADER_LEN + _NORDIC_EVENT_LEN :],
        phy=_PHYS[phy_code],
        channel=channel,
        aux_type=(flags >> 1) & 0x03 if channel < 37 else None,
        rssi_dbm=-float(rssi),
    )


def parse_ble_record(record: PcapRecord) -> BleAdvertisement:
    """Parse the Bluetooth LE advertisement of a linktype 251, 256 or 272 capture record."""
    if record.linktype == LINKTYPE_BLUETOOTH_LE_LL:
        return parse_ble_ll(record.data)
    if record.linktype == LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR:
        return parse_ble_phdr(record.data)
    if record.linktype == LINKTYPE_NORDIC_BLE:
        return parse_nordic_ble(record.data)
    raise RemoteIdError("linktype", f"linktype {record.linktype} is not Bluetooth LE")


# --------------------------------------------------------------------------------------------
# Whole captures
# --------------------------------------------------------------------------------------------


def _flatten(message: rid.RemoteIdMessage) -> tuple[rid.SingleMessage, ...]:
    return message.messages if isinstance(message, rid.MessagePack) else (message,)


def _ble_frame(record: PcapRecord, index: int) -> DecodedFrame:
    adv = parse_ble_record(record)
    if not adv.adv_data:
        raise NoRemoteIdError("adv_data", f"{adv.pdu_type} carries no advertising data")
    try:
        counter, message = rid.decode_ble_advertising(adv.adv_data)
    except RemoteIdError as exc:
        if exc.field == "adv_data":  # well-formed AD structures, none of them Open Drone ID
            raise NoRemoteIdError(exc.field, exc.detail) from None
        raise
    return DecodedFrame(
        index=index,
        timestamp_s=record.timestamp_s,
        transport=adv.transport,
        mac=adv.adv_a,
        messages=_flatten(message),
        counter=counter,
        rssi_dbm=adv.rssi_dbm,
        phy=adv.phy,
        pdu_type=adv.pdu_type,
    )


def _wifi_frame(record: PcapRecord, index: int) -> DecodedFrame:
    try:
        frame = ieee80211_frame(record)
    except PcapError as exc:
        raise RemoteIdError("radiotap", str(exc)) from None
    if len(frame) < 2:
        raise RemoteIdError("length", f"{len(frame)}-byte 802.11 frame")
    fc0, fc1 = frame[0], frame[1]
    if fc0 & 0x03:
        raise RemoteIdError("frame_control", f"802.11 protocol version {fc0 & 0x03}")
    frame_type, subtype = (fc0 >> 2) & 0x03, fc0 >> 4
    if frame_type != 0:
        kind = ("control", "data", "extension")[frame_type - 1]
        raise NoRemoteIdError("frame_type", f"802.11 {kind} frame")
    if subtype not in _WIFI_NOT_ODID_FIELDS:
        raise NoRemoteIdError("frame_subtype", f"802.11 management subtype {subtype}")
    if fc1 & 0x40:
        raise NoRemoteIdError("frame_control", "protected management frame")
    try:
        mac, messages = rid.decode_wifi_frame(frame)
    except RemoteIdError as exc:
        if exc.field in _WIFI_NOT_ODID_FIELDS[subtype]:
            raise NoRemoteIdError(exc.field, exc.detail) from None
        raise
    return DecodedFrame(
        index=index,
        timestamp_s=record.timestamp_s,
        transport="wifi-nan" if subtype == _WIFI_SUBTYPE_ACTION else "wifi-beacon",
        mac=mac,
        messages=tuple(messages),
    )


def decode_record(record: PcapRecord, index: int = 0) -> DecodedFrame:
    """Decode the Open Drone ID carried by one capture record, choosing the transport by linktype.

    127 (radiotap) and 105 (802.11): Wi-Fi beacon or NAN; 251, 256, 272: Bluetooth LE. Raises
    :class:`NoRemoteIdError` for frames without Open Drone ID (including other linktypes) and
    :class:`RemoteIdError` naming the field for malformed ones.
    """
    if record.linktype in (LINKTYPE_IEEE802_11, LINKTYPE_IEEE802_11_RADIOTAP):
        return _wifi_frame(record, index)
    if record.linktype in (
        LINKTYPE_BLUETOOTH_LE_LL,
        LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
        LINKTYPE_NORDIC_BLE,
    ):
        return _ble_frame(record, index)
    raise NoRemoteIdError(
        "linktype", f"linktype {record.linktype} is neither 802.11 nor Bluetooth LE"
    )


def iter_capture_messages(
    source: str | PathLike[str] | bytes, stats: CaptureStats | None = None
) -> Iterator[DecodedFrame]:
    """Yield every frame with Open Drone ID in a pcap / pcapng capture (a path or its bytes).

    Frames without Open Drone ID are counted in ``stats.skipped``; malformed frames are recorded
    in ``stats.errors`` and decoding goes on. Raises :class:`PcapError` when the capture cannot be
    read at all (bad header, or its first record already damaged) and ``OSError`` when the file
    cannot be opened; a damaged record later on ends decoding and sets ``stats.truncated``.
    """
    seen = stats if stats is not None else CaptureStats()
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        data = Path(source).read_bytes()
    records = iter_records(data)
    index = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except PcapError as exc:
            if index == 0:
                raise
            seen.truncated = str(exc)
            return
        seen.records += 1
        try:
            frame = decode_record(record, index)
        except NoRemoteIdError as exc:
            seen.skipped[exc.field] += 1
        except RemoteIdError as exc:
            seen.errors.append(FrameError(index, record.timestamp_s, record.linktype, exc))
        else:
            seen.frames += 1
            seen.messages += len(frame.messages)
            yield frame
        index += 1


# --------------------------------------------------------------------------------------------
# JSON view of decoded messages
# --------------------------------------------------------------------------------------------

_MESSAGE_TYPES: Final[dict[type, rid.MessageType]] = {
    rid.BasicId: rid.MessageType.BASIC_ID,
    rid.LocationVector: rid.MessageType.LOCATION,
    rid.Authentication: rid.MessageType.AUTHENTICATION,
    rid.SelfId: rid.MessageType.SELF_ID,
    rid.System: rid.MessageType.SYSTEM,
    rid.OperatorId: rid.MessageType.OPERATOR_ID,
}
# F3411 timestamps that are Unix seconds (Authentication, System) become ISO 8601 strings; the
# Location/Vector timestamp counts from the full hour and is renamed to say so.
_UNIX_TIME_FIELDS: Final[frozenset[tuple[type, str]]] = frozenset(
    {(rid.Authentication, "timestamp"), (rid.System, "timestamp")}
)
_RENAMED: Final[dict[tuple[type, str], str]] = {
    (rid.LocationVector, "timestamp_s"): "timestamp_after_hour_s"
}


def utc_iso(unix_s: float) -> str | None:
    """Unix seconds as ISO 8601 UTC with microseconds and a ``Z``; None if not representable."""
    if not math.isfinite(unix_s):
        return None
    try:
        stamp = dt.datetime.fromtimestamp(unix_s, tz=dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _json_scalar(value: object) -> JsonValue:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, IntEnum):
        return value.name
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def message_fields(message: rid.SingleMessage) -> dict[str, JsonValue]:
    """Every field of a decoded message as JSON scalars, SI units and degrees, enums by name.

    Starts with ``message_type`` (the :class:`~luchtwacht.ingest.remoteid.MessageType` name) and
    keeps the codec's field names (``lat``, ``alt_geo_m``, ``speed_ms``, ``uas_id``, ...), except:
    Authentication / System ``timestamp`` is ISO 8601 UTC, the Location/Vector ``timestamp_s`` is
    ``timestamp_after_hour_s``, binary data is hex, and the Location/Vector accuracy classes also
    appear as their 95 % bounds ``horizontal_accuracy_m``, ``vertical_accuracy_m``,
    ``baro_accuracy_m`` and ``speed_accuracy_ms`` (``None`` when unknown).
    """
    kind = type(message)
    out: dict[str, JsonValue] = {"message_type": _MESSAGE_TYPES[kind].name}
    for spec in fields(message):
        value = getattr(message, spec.name)
        key = (kind, spec.name)
        if key in _UNIX_TIME_FIELDS:
            out[spec.name] = None if value is None else utc_iso(float(value))
        else:
            out[_RENAMED.get(key, spec.name)] = _json_scalar(value)
    if isinstance(message, rid.LocationVector):
        out["horizontal_accuracy_m"] = message.horizontal_accuracy.bound_m
        out["vertical_accuracy_m"] = message.vertical_accuracy.bound_m
        out["baro_accuracy_m"] = message.baro_accuracy.bound_m
        out["speed_accuracy_ms"] = message.speed_accuracy.bound_ms
    return out
