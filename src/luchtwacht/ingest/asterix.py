"""ASTERIX ingest: radar plots (CAT048/034), system tracks (CAT062/065), ADS-B (CAT021).

Where it sits: UDP datagrams from a surveillance radar, another tracker's SDPS or an ADS-B ground
station (or a recording of them) → :func:`iter_records` / :func:`decode_datagram` (typed records
in SI units) → :class:`AsterixPipe` (source lookup by SAC/SIC, time-of-day resolution, polar or
geodetic → site ENU, batching on the CAT034 scan messages and the CAT065 end-of-batch) →
:class:`~luchtwacht.model.DetectionBatch`. CAT021 reports and CAT062 tracks that carry a 24-bit
ICAO address become cooperative identities (``icao:XXXXXX``, as the Mode S decoder writes them).

The bit-level layout (data block framing, FSPEC, item structure, LSB scaling) is libasterix's
(``asterix.generated``, EUROCONTROL specs CAT048 ed. 1.32, CAT034 ed. 1.29, CAT021 ed. 2.7,
CAT062 ed. 1.21, CAT065 ed. 1.6): this module only maps its items to typed records and names the
item at fault when something is malformed. Other categories are named and skipped, never fatal.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Container, Iterator
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import ClassVar, Literal

import asterix.generated as gen
import numpy as np
from asterix.base import Bits, Fspec, ParsingMode, RawDatablock, UapItem, UapItemSpare
from numpy.typing import ArrayLike, NDArray
from pyModeS._uncertainty import NACp, NUCp

from luchtwacht.geo import SiteOrigin, aer_covariance_to_enu
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.ingest.modes import (
    DEFAULT_GNSS_V_STD_M,
    DEFAULT_H_STD_M,
    R95_1D_SIGMA,
    R95_2D_SIGMA,
    baro_height_std_m,
)
from luchtwacht.model.detection import N_CLASSES, DetectionBatch

log = logging.getLogger(__name__)

__all__ = [
    "EMITTER_UAV",
    "EVERY_SOURCE",
    "NM_M",
    "SUPPORTED_CATEGORIES",
    "AsterixError",
    "AsterixPipe",
    "AsterixRecord",
    "Cat021Report",
    "Cat034Message",
    "Cat034MessageType",
    "Cat048Plot",
    "Cat062Track",
    "Cat065Message",
    "Cat065MessageType",
    "FlightLevel",
    "Mode3A",
    "PlotCharacteristics",
    "RadarSite",
    "RadarStatus",
    "SdpsState",
    "SdpsStatus",
    "TargetReportDescriptor",
    "TrackAccuracy",
    "TrackSource",
    "TrackStatus",
    "UnsupportedCategoryError",
    "adsb_position_sigma_m",
    "decode_datagram",
    "elevation_from_altitude",
    "iter_blocks",
    "iter_records",
    "resolve_time_of_day",
    "system_plane_to_geodetic",
]

Cat048 = gen.Cat_048_1_32
Cat034 = gen.Cat_034_1_29
# CAT021 2.x editions share one UAP and the item layouts read here (newer ones add extensions
# at the end of extended items). The 0.2x editions have another UAP, and nothing on the wire
# tells them apart: a source is declared 0.26 in the site file (``cat021_edition``).
Cat021 = gen.Cat_021_2_7
Cat021v0 = gen.Cat_021_0_26
Cat062 = gen.Cat_062_1_21
Cat065 = gen.Cat_065_1_6

SUPPORTED_CATEGORIES = (21, 34, 48, 62, 65)

NM_M = 1852.0  # international nautical mile, m
FT_M = 0.3048  # international foot, m
FL_M = 100.0 * FT_M  # one flight level (100 ft), m
FPM_MPS = FT_M / 60.0  # one foot per minute, m/s
DAY_S = 86_400.0
_MAX_BLOCK_BYTES = 0xFFFF  # the LEN field is 16 bits and counts the whole block

# WGS84, for the local Gaussian radius of curvature used in the height → elevation geometry.
_WGS84_A_M = 6_378_137.0
_WGS84_E2 = 6.694379990141317e-3


class AsterixError(ValueError):
    """Malformed or unusable ASTERIX data; ``field`` names the item (e.g. ``I048/040``)."""

    def __init__(self, field: str, rule: str, detail: str = "") -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}" + (f" ({detail})" if detail else ""))

    @property
    def reason(self) -> str:
        """``field: rule`` without the detail: the key rejections are counted under."""
        return f"{self.field}: {self.rule}"


class UnsupportedCategoryError(AsterixError):
    """A data block of a category this module does not read: named, skipped, never fatal."""

    def __init__(self, category: int) -> None:
        self.category = category
        super().__init__("datablock.CAT", f"ASTERIX category {category} is not supported")


# ---------------------------------------------------------------------------------------------
# Typed records


class Cat034MessageType(IntEnum):
    """I034/000 message types (CAT034 ed. 1.29 §5.2.1)."""

    NORTH_MARKER = 1
    SECTOR_CROSSING = 2
    GEOGRAPHICAL_FILTERING = 3
    JAMMING_STROBE = 4
    SOLAR_STORM = 5
    SSR_JAMMING_STROBE = 6
    MODE_S_JAMMING_STROBE = 7


@dataclass(frozen=True, slots=True)
class TargetReportDescriptor:
    """I048/020: how the plot was detected (TYP) and its flags; extension bits ``None`` if absent.

    TYP: 0 no detection, 1 PSR, 2 SSR, 3 SSR+PSR, 4 Mode S all-call, 5 Mode S roll-call,
    6 all-call+PSR, 7 roll-call+PSR.
    """

    typ: int
    sim: bool  # simulated target report
    rdp: int  # RDP chain 1 (0) or 2 (1)
    spi: bool  # special position identification
    rab: bool  # report from a field monitor (fixed transponder)
    tst: bool | None = None  # test target report
    err: bool | None = None  # extended range
    xpp: bool | None = None  # X-pulse present
    me: bool | None = None  # military emergency
    mi: bool | None = None  # military identification
    foefri: int | None = None  # Mode 4: 0 none, 1 friendly, 2 unknown, 3 no reply

    @property
    def has_psr(self) -> bool:
        """True when a primary (skin) detection contributed: TYP 1, 3, 6 or 7."""
        return self.typ in (1, 3, 6, 7)


@dataclass(frozen=True, slots=True)
class Mode3A:
    """I048/070: the Mode-3/A code as four octal digits and its V/G/L flags."""

    code: str
    validated: bool
    garbled: bool
    smoothed: bool  # L: not extracted during the last scan (kept from an earlier one)


@dataclass(frozen=True, slots=True)
class FlightLevel:
    """I048/090: Mode C flight level (units of 100 ft, pressure altitude) and its V/G flags."""

    fl: float
    validated: bool
    garbled: bool

    @property
    def pressure_altitude_m(self) -> float:
        """Pressure altitude in metres (ISA, standard 1013.25 hPa datum — not geometric height)."""
        return self.fl * FL_M


@dataclass(frozen=True, slots=True)
class PlotCharacteristics:
    """I048/130: radar plot characteristics; each subfield ``None`` when not sent."""

    ssr_runlength_deg: float | None = None  # SRL
    ssr_replies: int | None = None  # SRR
    ssr_amplitude_dbm: float | None = None  # SAM
    psr_runlength_deg: float | None = None  # PRL
    psr_amplitude_dbm: float | None = None  # PAM
    psr_ssr_range_diff_m: float | None = None  # RPD
    psr_ssr_azimuth_diff_deg: float | None = None  # APD


@dataclass(frozen=True, slots=True)
class Cat048Plot:
    """One CAT048 target report in SI units; ``None`` where the item was not sent.

    ``rho_m``/``theta_deg`` are the measured slant range and azimuth (clockwise from north) seen
    from the radar; ``x_m``/``y_m`` the radar's own calculated Cartesian position (I048/042).
    """

    category: ClassVar[int] = 48

    sac: int
    sic: int
    time_of_day_s: float | None = None  # I048/140, seconds since midnight UTC
    descriptor: TargetReportDescriptor | None = None  # I048/020
    rho_m: float | None = None  # I048/040
    theta_deg: float | None = None  # I048/040
    mode3a: Mode3A | None = None  # I048/070
    flight_level: FlightLevel | None = None  # I048/090
    plot_characteristics: PlotCharacteristics | None = None  # I048/130
    aircraft_address: int | None = None  # I048/220, 24-bit ICAO address
    aircraft_id: str | None = None  # I048/240, callsign (trailing spaces stripped)
    track_number: int | None = None  # I048/161
    x_m: float | None = None  # I048/042
    y_m: float | None = None  # I048/042
    ground_speed_mps: float | None = None  # I048/200
    heading_deg: float | None = None  # I048/200
    height_3d_m: float | None = None  # I048/110, above mean sea level

    @property
    def source(self) -> tuple[int, int]:
        """(SAC, SIC) of the radar that sent the report."""
        return (self.sac, self.sic)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: every field (SI units, degrees) plus ``category``."""
        out: dict[str, object] = {"category": self.category}
        out.update(asdict(self))
        if self.aircraft_address is not None:
            out["aircraft_address"] = f"{self.aircraft_address:06X}"
        if self.flight_level is not None:
            fl = out["flight_level"]
            assert isinstance(fl, dict)
            fl["pressure_altitude_m"] = self.flight_level.pressure_altitude_m
        return out


@dataclass(frozen=True, slots=True)
class Cat034Message:
    """One CAT034 service message (north marker, sector crossing, ...) in SI units."""

    category: ClassVar[int] = 34

    sac: int
    sic: int
    message_type: int  # I034/000, see Cat034MessageType
    message_name: str | None = None  # the specification's wording for message_type
    time_of_day_s: float | None = None  # I034/030, seconds since midnight UTC
    sector_azimuth_deg: float | None = None  # I034/020, azimuth of the sector crossed
    antenna_rotation_period_s: float | None = None  # I034/041
    radar_lat_deg: float | None = None  # I034/120
    radar_lon_deg: float | None = None  # I034/120
    radar_height_m: float | None = None  # I034/120, above WGS84 ellipsoid

    @property
    def source(self) -> tuple[int, int]:
        """(SAC, SIC) of the radar that sent the message."""
        return (self.sac, self.sic)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: every field (SI units, degrees) plus ``category``."""
        out: dict[str, object] = {"category": self.category}
        out.update(asdict(self))
        return out


#: I021/020 emitter categories (CAT021 ed. 2.x); 13 is an unmanned aerial vehicle.
EMITTER_UAV = 13


@dataclass(frozen=True, slots=True)
class Cat021Report:
    """One CAT021 ADS-B target report in SI units; ``None`` where the item was not sent.

    Heights: ``geometric_height_m`` (I021/140) is above the WGS84 ellipsoid; ``flight_level``
    (I021/145) is pressure altitude in units of 100 ft. Quality: NACp/NIC (I021/090, MOPS
    version 1 and later) or NUCp (version 0), see ``mops_version`` (I021/210).
    """

    category: ClassVar[int] = 21

    sac: int
    sic: int
    target_address: int | None = None  # I021/080, 24 bits
    address_type: int | None = None  # I021/040 ATP: 0 ICAO, 1 duplicate, 2 surface, 3 anonymous
    time_of_day_s: float | None = None  # of the position: I021/071, else /073(+074), else /077
    time_source: str | None = None  # the item the time came from
    lat_deg: float | None = None  # I021/131 (high resolution), else I021/130
    lon_deg: float | None = None
    geometric_height_m: float | None = None  # I021/140, above the WGS84 ellipsoid
    flight_level: float | None = None  # I021/145, units of 100 ft
    ground_speed_mps: float | None = None  # I021/160
    track_angle_deg: float | None = None  # I021/160, clockwise from true north
    vertical_rate_mps: float | None = None  # I021/157 geometric, else I021/155 barometric
    callsign: str | None = None  # I021/170 (trailing spaces stripped)
    emitter_category: int | None = None  # I021/020 ECAT
    emitter_name: str | None = None  # the specification's wording for it
    nacp: int | None = None  # I021/090
    nic: int | None = None  # I021/090 NUCp/NIC (NUCp when mops_version is 0 or edition 0.26)
    sil: int | None = None  # I021/090
    mops_version: int | None = None  # I021/210 VN
    simulated: bool = False  # I021/040 SIM
    test: bool = False  # I021/040 TST
    on_ground: bool = False  # I021/040 GBS
    edition: str = "2.x"  # of CAT021 the report was decoded with ("2.x" or "0.26")

    @property
    def source(self) -> tuple[int, int]:
        """(SAC, SIC) of the ground station that sent the report."""
        return (self.sac, self.sic)

    @property
    def is_uav(self) -> bool:
        """Whether the emitter says it is an unmanned aerial vehicle (I021/020 ECAT 13)."""
        return self.emitter_category == EMITTER_UAV

    @property
    def pressure_altitude_m(self) -> float | None:
        """I021/145 as metres of pressure altitude (ISA, 1013.25 hPa datum)."""
        return None if self.flight_level is None else self.flight_level * FL_M

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: every field (SI units, degrees) plus ``category``."""
        out: dict[str, object] = {"category": self.category}
        out.update(asdict(self))
        if self.target_address is not None:
            out["target_address"] = f"{self.target_address:06X}"
        out["pressure_altitude_m"] = self.pressure_altitude_m
        out["uav"] = self.is_uav
        return out


@dataclass(frozen=True, slots=True)
class TrackStatus:
    """I062/080 track status flags that matter here; extension fields ``False`` if not sent."""

    monosensor: bool  # MON
    spi: bool  # SPI
    tentative: bool  # CNF: tentative (not yet confirmed) track
    altitude_source: int  # SRC: 0 none, 1 GNSS, 2 3D radar, 3 triangulation, 4 coverage, ...
    simulated: bool = False  # SIM
    track_end: bool = False  # TSE: last message for this track
    track_begin: bool = False  # TSB: first message for this track
    coasting: bool = False  # CST: extrapolated, no detection this update


@dataclass(frozen=True, slots=True)
class TrackAccuracy:
    """I062/500 estimated accuracies, 1-σ; ``None`` where the subfield was not sent."""

    x_m: float | None = None  # APC, in the SDPS's Cartesian plane
    y_m: float | None = None
    xy_cov_m2: float | None = None  # COV, signed
    lat_deg: float | None = None  # APW
    lon_deg: float | None = None
    geometric_altitude_m: float | None = None  # AGA
    vx_mps: float | None = None  # ATV
    vy_mps: float | None = None


@dataclass(frozen=True, slots=True)
class Cat062Track:
    """One CAT062 system track update in SI units; ``None`` where the item was not sent.

    ``x_m``/``y_m`` (I062/100) are relative to the SDPS's system reference point and
    ``vx_mps``/``vy_mps`` (I062/185) along its east/north axes. Heights: the geometric altitude
    (I062/130) is above the WGS84 ellipsoid; the flight levels are pressure altitude.
    """

    category: ClassVar[int] = 62

    sac: int
    sic: int
    track_number: int | None = None  # I062/040
    service_id: int | None = None  # I062/015
    time_of_day_s: float | None = None  # I062/070
    lat_deg: float | None = None  # I062/105
    lon_deg: float | None = None
    x_m: float | None = None  # I062/100
    y_m: float | None = None
    vx_mps: float | None = None  # I062/185
    vy_mps: float | None = None
    geometric_altitude_m: float | None = None  # I062/130, above the WGS84 ellipsoid
    measured_flight_level: float | None = None  # I062/136
    barometric_flight_level: float | None = None  # I062/135
    vertical_rate_mps: float | None = None  # I062/220
    mode3a: str | None = None  # I062/060
    target_address: int | None = None  # I062/380 ADR
    callsign: str | None = None  # I062/380 ID, else I062/245
    emitter_category: int | None = None  # I062/380 EMC; 13 is an unmanned aerial vehicle
    status: TrackStatus | None = None  # I062/080
    accuracy: TrackAccuracy | None = None  # I062/500

    @property
    def source(self) -> tuple[int, int]:
        """(SAC, SIC) of the SDPS that sent the track."""
        return (self.sac, self.sic)

    @property
    def is_uav(self) -> bool:
        """Whether the SDPS says the target is an unmanned aerial vehicle (I062/380 EMC 13)."""
        return self.emitter_category == EMITTER_UAV

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: every field (SI units, degrees) plus ``category``."""
        out: dict[str, object] = {"category": self.category}
        out.update(asdict(self))
        if self.target_address is not None:
            out["target_address"] = f"{self.target_address:06X}"
        out["uav"] = self.is_uav
        return out


class Cat065MessageType(IntEnum):
    """I065/000 message types (CAT065 ed. 1.6)."""

    SDPS_STATUS = 1
    END_OF_BATCH = 2
    SERVICE_STATUS_REPORT = 3


@dataclass(frozen=True, slots=True)
class SdpsStatus:
    """I065/040: the SDPS's configuration and status."""

    nogo: int  # 0 operational, 1 degraded, 2 not currently connected, 3 unknown
    overload: bool  # OVL
    invalid_time_source: bool  # TSV
    processing_system: int  # PSS: 0 n/a, 1..3 SDPS-n selected
    renumbering: bool  # STTN: track re-numbering


@dataclass(frozen=True, slots=True)
class Cat065Message:
    """One CAT065 SDPS service message (status, end of batch, service status report)."""

    category: ClassVar[int] = 65

    sac: int
    sic: int
    message_type: int  # I065/000, see Cat065MessageType
    message_name: str | None = None
    service_id: int | None = None  # I065/015
    time_of_day_s: float | None = None  # I065/030
    batch_number: int | None = None  # I065/020
    status: SdpsStatus | None = None  # I065/040
    service_report: int | None = None  # I065/050
    service_report_name: str | None = None

    @property
    def source(self) -> tuple[int, int]:
        """(SAC, SIC) of the SDPS that sent the message."""
        return (self.sac, self.sic)

    def to_json(self) -> dict[str, object]:
        """JSON-ready dict: every field (SI units, degrees) plus ``category``."""
        out: dict[str, object] = {"category": self.category}
        out.update(asdict(self))
        return out


AsterixRecord = Cat048Plot | Cat034Message | Cat021Report | Cat062Track | Cat065Message


# ---------------------------------------------------------------------------------------------
# Decoding (pure functions)

# libasterix reports failures as returned ValueErrors; these are what it may raise on input it
# was not written for (0.36.3's partial parsing raises TypeError when the FSPEC announces items
# past the UAP), and they are turned into AsterixError as well: decoding never crashes.
_LIB_ERRORS = (ValueError, IndexError, AssertionError, TypeError)


def iter_blocks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split a datagram into data blocks, yielding ``(category, records bytes)``.

    Raises :class:`AsterixError` at the first block whose header or length field is wrong; the
    blocks before it have been yielded already (nothing after it can be located).
    """
    data = bytes(data)
    offset = 0
    while offset < len(data):
        # A block is at most 65535 bytes: hand the library that window, not the whole tail
        # (it copies what it is given, which would make a long recording quadratic).
        window = data[offset : offset + _MAX_BLOCK_BYTES]
        result = RawDatablock.parse_single(Bits.from_bytes(window))
        if isinstance(result, ValueError):
            remaining = len(data) - offset
            if remaining < 3:
                raise AsterixError("datablock.LEN", "truncated header", f"{remaining} bytes left")
            length = int.from_bytes(data[offset + 1 : offset + 3], "big")
            if length < 3:
                raise AsterixError("datablock.LEN", "shorter than the header", f"{length} < 3")
            raise AsterixError(
                "datablock.LEN", "exceeds the data (truncated)", f"{length} > {remaining} bytes"
            )
        block, _ = result
        length = block.get_length()
        yield block.get_category(), data[offset + 3 : offset + length]
        offset += length


class _Everyone:
    """A container holding every SAC/SIC (``cat021_v0=EVERY_SOURCE``: all CAT021 is ed. 0.26)."""

    def __contains__(self, item: object) -> bool:
        return True


EVERY_SOURCE: Container[tuple[int, int]] = _Everyone()


def iter_records(
    data: bytes, cat021_v0: Container[tuple[int, int]] = ()
) -> Iterator[AsterixRecord | AsterixError]:
    """Decode a datagram leniently: every record, or an :class:`AsterixError` where one fails.

    An unknown category or a malformed record costs the rest of its data block only (records
    carry no length, so nothing after a bad one can be found); a framing error ends the datagram.
    CAT021 blocks whose first record comes from a SAC/SIC in ``cat021_v0`` are read as
    edition 0.26 (a block holds one ground station's reports), all others as 2.x.
    """
    blocks = iter_blocks(data)
    while True:
        try:
            category, body = next(blocks)
        except StopIteration:
            return
        except AsterixError as exc:
            yield exc
            return
        yield from _decode_block(category, body, cat021_v0)


def decode_datagram(data: bytes, cat021_v0: Container[tuple[int, int]] = ()) -> list[AsterixRecord]:
    """Decode every record of every data block in ``data`` (strict).

    Raises :class:`AsterixError` if any part is malformed or of a category not supported
    (:data:`SUPPORTED_CATEGORIES`).
    """
    out: list[AsterixRecord] = []
    for item in iter_records(data, cat021_v0):
        if isinstance(item, AsterixError):
            raise item
        out.append(item)
    return out


_RecordSpec = (
    type[Cat048.cv_record]
    | type[Cat034.cv_record]
    | type[Cat021.cv_record]
    | type[Cat021v0.cv_record]
    | type[Cat062.cv_record]
    | type[Cat065.cv_record]
)
_SPECS: dict[int, _RecordSpec] = {
    48: Cat048.cv_record,
    34: Cat034.cv_record,
    21: Cat021.cv_record,
    62: Cat062.cv_record,
    65: Cat065.cv_record,
}


def _first_source(body: bytes) -> tuple[int, int] | None:
    """SAC/SIC of a block's first record, read past its FSPEC (item 010 is FRN 1 in CAT021)."""
    n = 0
    while n < len(body) and body[n] & 1:  # FX: another FSPEC octet follows
        n += 1
    if n + 2 >= len(body) or not body[0] & 0x80:
        return None
    return body[n + 1], body[n + 2]


def _decode_block(
    category: int, body: bytes, cat021_v0: Container[tuple[int, int]] = ()
) -> Iterator[AsterixRecord | AsterixError]:
    """Parse the records of one data block with the category's UAP, one record at a time."""
    spec = _SPECS.get(category)
    if category == 21 and cat021_v0:
        first = _first_source(body)
        if first is not None and first in cat021_v0:
            spec = Cat021v0.cv_record
    if spec is None:
        yield UnsupportedCategoryError(category)
        return
    prefix = f"I{category:03d}"
    remaining = Bits.from_bytes(body)
    while len(remaining):
        try:
            result = spec.parse(ParsingMode.StrictParsing, remaining)
        except _LIB_ERRORS as exc:
            result = ValueError(str(exc))
        if isinstance(result, ValueError):
            yield _locate_failure(spec, prefix, remaining, result)
            return
        rec, remaining = result
        try:
            yield _map_record(rec)
        except AsterixError as exc:
            yield exc
        except _LIB_ERRORS as exc:
            yield AsterixError(f"{prefix}/record", "undecodable", str(exc))


def _map_record(
    rec: Cat048.cv_record
    | Cat034.cv_record
    | Cat021.cv_record
    | Cat021v0.cv_record
    | Cat062.cv_record
    | Cat065.cv_record,
) -> AsterixRecord:
    """The typed record for a parsed libasterix record of any supported category."""
    if isinstance(rec, Cat048.cv_record):
        return _plot(rec)
    if isinstance(rec, Cat034.cv_record):
        return _service(rec)
    if isinstance(rec, Cat021.cv_record):
        return _adsb_report(rec)
    if isinstance(rec, Cat021v0.cv_record):
        return _adsb_report_v0(rec)
    if isinstance(rec, Cat062.cv_record):
        return _system_track(rec)
    return _sdps_service(rec)


def _locate_failure(
    spec: _RecordSpec,
    prefix: str,
    bits: Bits,
    exc: ValueError,
) -> AsterixError:
    """Name the item at fault: the FSPEC itself, or the first announced item that did not parse."""
    try:
        fspec = Fspec.parse(ParsingMode.StrictParsing, spec.cv_fspec_max_bytes, bits)
        if isinstance(fspec, ValueError):
            return AsterixError(f"{prefix}/FSPEC", "malformed", str(fspec))
        partial = spec.parse(ParsingMode.PartialParsing, bits)
    except _LIB_ERRORS as inner:
        return AsterixError(f"{prefix}/FSPEC", "malformed", str(inner))
    parsed = set() if isinstance(partial, ValueError) else set(partial[0].items_regular)
    for flag, uap_item in Fspec.iter_complete(fspec[0], spec.cv_items_list):
        if not flag:
            continue
        if uap_item is None or issubclass(uap_item, UapItemSpare):
            return AsterixError(f"{prefix}/FSPEC", "bit set for an undefined item")
        if issubclass(uap_item, UapItem):
            name = uap_item.cv_non_spare.cv_name
            if name not in parsed:
                return AsterixError(f"{prefix}/{name}", "truncated or malformed", str(exc))
    return AsterixError(f"{prefix}/record", "malformed", str(exc))


def _plot(rec: Cat048.cv_record) -> Cat048Plot:
    """Map a parsed CAT048 record to a :class:`Cat048Plot` (I048/010 is mandatory)."""
    i010 = rec.get_item("010")
    if i010 is None:
        raise AsterixError("I048/010", "mandatory item missing")
    sac = i010.variation.get_item("SAC").as_uint()
    sic = i010.variation.get_item("SIC").as_uint()

    i140 = rec.get_item("140")
    tod = i140.variation.content.as_quantity("s") if i140 is not None else None

    descriptor = None
    i020 = rec.get_item("020")
    if i020 is not None:
        v = i020.variation

        def ext_bit(name: Literal["TST", "ERR", "XPP", "ME", "MI"]) -> bool | None:
            sub = v.get_item(name)
            return None if sub is None else bool(sub.as_uint())

        foefri = v.get_item("FOEFRI")
        descriptor = TargetReportDescriptor(
            typ=v.get_item("TYP").as_uint(),
            sim=bool(v.get_item("SIM").as_uint()),
            rdp=v.get_item("RDP").as_uint(),
            spi=bool(v.get_item("SPI").as_uint()),
            rab=bool(v.get_item("RAB").as_uint()),
            tst=ext_bit("TST"),
            err=ext_bit("ERR"),
            xpp=ext_bit("XPP"),
            me=ext_bit("ME"),
            mi=ext_bit("MI"),
            foefri=None if foefri is None else foefri.as_uint(),
        )

    rho_m = theta_deg = None
    i040 = rec.get_item("040")
    if i040 is not None:
        rho_m = i040.variation.get_item("RHO").variation.content.as_quantity("NM") * NM_M
        theta_deg = i040.variation.get_item("THETA").variation.content.as_quantity("°")

    mode3a = None
    i070 = rec.get_item("070")
    if i070 is not None:
        g = i070.variation
        mode3a = Mode3A(
            code=g.get_item("MODE3A").variation.content.as_string(),
            validated=not g.get_item("V").as_uint(),
            garbled=bool(g.get_item("G").as_uint()),
            smoothed=bool(g.get_item("L").as_uint()),
        )

    flight_level = None
    i090 = rec.get_item("090")
    if i090 is not None:
        g9 = i090.variation
        flight_level = FlightLevel(
            fl=g9.get_item("FL").variation.content.as_quantity("FL"),
            validated=not g9.get_item("V").as_uint(),
            garbled=bool(g9.get_item("G").as_uint()),
        )

    characteristics = None
    i130 = rec.get_item("130")
    if i130 is not None:
        c = i130.variation
        srl, srr, sam = c.get_item("SRL"), c.get_item("SRR"), c.get_item("SAM")
        prl, pam, rpd, apd = (
            c.get_item("PRL"),
            c.get_item("PAM"),
            c.get_item("RPD"),
            c.get_item("APD"),
        )
        characteristics = PlotCharacteristics(
            ssr_runlength_deg=None if srl is None else srl.variation.content.as_quantity("°"),
            ssr_replies=None if srr is None else srr.variation.content.as_integer(),
            ssr_amplitude_dbm=None if sam is None else sam.variation.content.as_quantity("dBm"),
            psr_runlength_deg=None if prl is None else prl.variation.content.as_quantity("°"),
            psr_amplitude_dbm=None if pam is None else pam.variation.content.as_quantity("dBm"),
            psr_ssr_range_diff_m=(
                None if rpd is None else rpd.variation.content.as_quantity("NM") * NM_M
            ),
            psr_ssr_azimuth_diff_deg=(
                None if apd is None else apd.variation.content.as_quantity("°")
            ),
        )

    i220 = rec.get_item("220")
    i240 = rec.get_item("240")
    i161 = rec.get_item("161")
    x_m = y_m = None
    i042 = rec.get_item("042")
    if i042 is not None:
        x_m = i042.variation.get_item("X").variation.content.as_quantity("NM") * NM_M
        y_m = i042.variation.get_item("Y").variation.content.as_quantity("NM") * NM_M
    gsp = hdg = None
    i200 = rec.get_item("200")
    if i200 is not None:
        gsp = i200.variation.get_item("GSP").variation.content.as_quantity("NM/s") * NM_M
        hdg = i200.variation.get_item("HDG").variation.content.as_quantity("°")
    i110 = rec.get_item("110")
    height = None
    if i110 is not None:
        height = i110.variation.get_item("3DH").variation.content.as_quantity("ft") * FT_M

    return Cat048Plot(
        sac=sac,
        sic=sic,
        time_of_day_s=tod,
        descriptor=descriptor,
        rho_m=rho_m,
        theta_deg=theta_deg,
        mode3a=mode3a,
        flight_level=flight_level,
        plot_characteristics=characteristics,
        aircraft_address=None if i220 is None else i220.as_uint(),
        aircraft_id=None if i240 is None else i240.variation.content.as_string().rstrip(),
        track_number=None if i161 is None else i161.variation.get_item("TRN").as_uint(),
        x_m=x_m,
        y_m=y_m,
        ground_speed_mps=gsp,
        heading_deg=hdg,
        height_3d_m=height,
    )


def _service(rec: Cat034.cv_record) -> Cat034Message:
    """Map a parsed CAT034 record to a :class:`Cat034Message` (I034/010 and /000 mandatory)."""
    i010 = rec.get_item("010")
    if i010 is None:
        raise AsterixError("I034/010", "mandatory item missing")
    i000 = rec.get_item("000")
    if i000 is None:
        raise AsterixError("I034/000", "mandatory item missing")
    i030 = rec.get_item("030")
    i020 = rec.get_item("020")
    i041 = rec.get_item("041")
    i120 = rec.get_item("120")
    lat = lon = hgt = None
    if i120 is not None:
        g = i120.variation
        lat = g.get_item("LAT").variation.content.as_quantity("°")
        lon = g.get_item("LON").variation.content.as_quantity("°")
        hgt = g.get_item("HGT").variation.content.as_quantity("m")
    return Cat034Message(
        sac=i010.variation.get_item("SAC").as_uint(),
        sic=i010.variation.get_item("SIC").as_uint(),
        message_type=i000.as_uint(),
        message_name=i000.variation.content.table_value(),
        time_of_day_s=None if i030 is None else i030.variation.content.as_quantity("s"),
        sector_azimuth_deg=None if i020 is None else i020.variation.content.as_quantity("°"),
        antenna_rotation_period_s=(
            None if i041 is None else i041.variation.content.as_quantity("s")
        ),
        radar_lat_deg=lat,
        radar_lon_deg=lon,
        radar_height_m=hgt,
    )


def _source_of(
    rec: Cat021.cv_record | Cat021v0.cv_record | Cat062.cv_record | Cat065.cv_record,
    prefix: str,
) -> tuple[int, int]:
    """SAC/SIC from item 010 (mandatory in every category), naming the item when it is absent."""
    i010 = rec.get_item("010")
    if i010 is None:
        raise AsterixError(f"{prefix}/010", "mandatory item missing")
    return i010.variation.get_item("SAC").as_uint(), i010.variation.get_item("SIC").as_uint()


def _adsb_report(rec: Cat021.cv_record) -> Cat021Report:
    """Map a parsed CAT021 record to a :class:`Cat021Report` (I021/010 is mandatory)."""
    sac, sic = _source_of(rec, "I021")
    tod = source = None
    i071, i073, i077 = rec.get_item("071"), rec.get_item("073"), rec.get_item("077")
    if i071 is not None:
        tod, source = i071.variation.content.as_quantity("s"), "I021/071"
    elif i073 is not None:
        tod, source = i073.variation.content.as_quantity("s"), "I021/073"
        i074 = rec.get_item("074")
        if i074 is not None:  # high precision: the fraction, and which second it belongs to
            g74 = i074.variation
            frac = g74.get_item("TOMRP").variation.content.as_quantity("s")
            fsi = g74.get_item("FSI").as_uint()  # 0 same second, 1 next, 2 previous
            whole = math.floor(tod) + {0: 0, 1: 1, 2: -1}.get(fsi, 0)
            tod, source = (whole + frac) % DAY_S, "I021/073+074"
    elif i077 is not None:
        tod, source = i077.variation.content.as_quantity("s"), "I021/077"

    lat = lon = None
    i131, i130 = rec.get_item("131"), rec.get_item("130")
    if i131 is not None:
        lat = i131.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i131.variation.get_item("LON").variation.content.as_quantity("°")
    elif i130 is not None:
        lat = i130.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i130.variation.get_item("LON").variation.content.as_quantity("°")

    atp = None
    sim = tst = gbs = False
    i040 = rec.get_item("040")
    if i040 is not None:
        d = i040.variation
        atp = d.get_item("ATP").as_uint()
        for name in ("SIM", "TST", "GBS"):
            sub = d.get_item(name)
            if sub is not None and sub.as_uint():
                sim, tst, gbs = sim or name == "SIM", tst or name == "TST", gbs or name == "GBS"

    gs = ta = None
    i160 = rec.get_item("160")
    if i160 is not None:
        gs = i160.variation.get_item("GS").variation.content.as_quantity("NM/s") * NM_M
        ta = i160.variation.get_item("TA").variation.content.as_quantity("°")
    vrate = None
    i157, i155 = rec.get_item("157"), rec.get_item("155")
    if i157 is not None:
        vrate = i157.variation.get_item("GVR").variation.content.as_quantity("ft/min") * FPM_MPS
    elif i155 is not None:
        vrate = i155.variation.get_item("BVR").variation.content.as_quantity("ft/min") * FPM_MPS

    nacp = nic = sil = None
    i090 = rec.get_item("090")
    if i090 is not None:
        q = i090.variation
        nic = q.get_item("NUCPNIC").as_uint()
        nacp_item, sil_item = q.get_item("NACP"), q.get_item("SIL")
        nacp = None if nacp_item is None else nacp_item.as_uint()
        sil = None if sil_item is None else sil_item.as_uint()
    i210 = rec.get_item("210")
    i020 = rec.get_item("020")
    i080 = rec.get_item("080")
    i140 = rec.get_item("140")
    i145 = rec.get_item("145")
    i170 = rec.get_item("170")
    return Cat021Report(
        sac=sac,
        sic=sic,
        target_address=None if i080 is None else i080.as_uint(),
        address_type=atp,
        time_of_day_s=tod,
        time_source=source,
        lat_deg=lat,
        lon_deg=lon,
        geometric_height_m=None
        if i140 is None
        else i140.variation.content.as_quantity("ft") * FT_M,
        flight_level=None if i145 is None else i145.variation.content.as_quantity("FL"),
        ground_speed_mps=gs,
        track_angle_deg=ta,
        vertical_rate_mps=vrate,
        callsign=None if i170 is None else i170.variation.content.as_string().rstrip(),
        emitter_category=None if i020 is None else i020.as_uint(),
        emitter_name=None if i020 is None else i020.variation.content.table_value(),
        nacp=nacp,
        nic=nic,
        sil=sil,
        mops_version=None if i210 is None else i210.variation.get_item("VN").as_uint(),
        simulated=sim,
        test=tst,
        on_ground=gbs,
    )


def _adsb_report_v0(rec: Cat021v0.cv_record) -> Cat021Report:
    """Map a CAT021 edition 0.26 record (the older UAP) to a :class:`Cat021Report`.

    Its I021/090 is a figure of merit whose PA (position accuracy) is the NUCp; the time is
    I021/030; there is no MOPS version item.
    """
    sac, sic = _source_of(rec, "I021")
    atp = None
    sim = tst = gbs = False
    i040 = rec.get_item("040")
    if i040 is not None:
        d = i040.variation
        atp = d.get_item("ATP").as_uint()
        sim, tst = bool(d.get_item("SIM").as_uint()), bool(d.get_item("TST").as_uint())
        gbs = bool(d.get_item("GBS").as_uint())
    lat = lon = gs = ta = vrate = None
    i130 = rec.get_item("130")
    if i130 is not None:
        lat = i130.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i130.variation.get_item("LON").variation.content.as_quantity("°")
    i160 = rec.get_item("160")
    if i160 is not None:
        gs = i160.variation.get_item("GS").variation.content.as_quantity("NM/s") * NM_M
        ta = i160.variation.get_item("TA").variation.content.as_quantity("°")
    i157, i155 = rec.get_item("157"), rec.get_item("155")
    if i157 is not None:
        vrate = i157.variation.content.as_quantity("ft/min") * FPM_MPS
    elif i155 is not None:
        vrate = i155.variation.content.as_quantity("ft/min") * FPM_MPS
    i030, i080, i140 = rec.get_item("030"), rec.get_item("080"), rec.get_item("140")
    i145, i170, i020 = rec.get_item("145"), rec.get_item("170"), rec.get_item("020")
    i090 = rec.get_item("090")
    return Cat021Report(
        sac=sac,
        sic=sic,
        target_address=None if i080 is None else i080.as_uint(),
        address_type=atp,
        time_of_day_s=None if i030 is None else i030.variation.content.as_quantity("s"),
        time_source=None if i030 is None else "I021/030",
        lat_deg=lat,
        lon_deg=lon,
        geometric_height_m=None
        if i140 is None
        else i140.variation.content.as_quantity("ft") * FT_M,
        flight_level=None if i145 is None else i145.variation.content.as_quantity("FL"),
        ground_speed_mps=gs,
        track_angle_deg=ta,
        vertical_rate_mps=vrate,
        callsign=None if i170 is None else i170.variation.content.as_string().rstrip(),
        emitter_category=None if i020 is None else i020.as_uint(),
        emitter_name=None if i020 is None else i020.variation.content.table_value(),
        nic=None if i090 is None else i090.variation.get_item("PA").as_uint(),
        simulated=sim,
        test=tst,
        on_ground=gbs,
        edition="0.26",
    )


def _system_track(rec: Cat062.cv_record) -> Cat062Track:
    """Map a parsed CAT062 record to a :class:`Cat062Track` (I062/010 is mandatory)."""
    sac, sic = _source_of(rec, "I062")
    lat = lon = x = y = vx = vy = None
    i105, i100, i185 = rec.get_item("105"), rec.get_item("100"), rec.get_item("185")
    if i105 is not None:
        lat = i105.variation.get_item("LAT").variation.content.as_quantity("°")
        lon = i105.variation.get_item("LON").variation.content.as_quantity("°")
    if i100 is not None:
        x = i100.variation.get_item("X").variation.content.as_quantity("m")
        y = i100.variation.get_item("Y").variation.content.as_quantity("m")
    if i185 is not None:
        vx = i185.variation.get_item("VX").variation.content.as_quantity("m/s")
        vy = i185.variation.get_item("VY").variation.content.as_quantity("m/s")

    status = None
    i080 = rec.get_item("080")
    if i080 is not None:
        s = i080.variation

        def flag(name: Literal["SIM", "TSE", "TSB", "CST"]) -> bool:
            sub = s.get_item(name)
            return sub is not None and bool(sub.as_uint())

        status = TrackStatus(
            monosensor=bool(s.get_item("MON").as_uint()),
            spi=bool(s.get_item("SPI").as_uint()),
            tentative=bool(s.get_item("CNF").as_uint()),
            altitude_source=s.get_item("SRC").as_uint(),
            simulated=flag("SIM"),
            track_end=flag("TSE"),
            track_begin=flag("TSB"),
            coasting=flag("CST"),
        )

    address = callsign = ecat = None
    i380 = rec.get_item("380")
    if i380 is not None:
        adr, ident = i380.variation.get_item("ADR"), i380.variation.get_item("ID")
        address = None if adr is None else adr.as_uint()
        callsign = None if ident is None else ident.variation.content.as_string().rstrip()
        emc = i380.variation.get_item("EMC")
        ecat = None if emc is None else emc.as_uint()
    i245 = rec.get_item("245")
    if callsign is None and i245 is not None:
        callsign = i245.variation.get_item("CHR").variation.content.as_string().rstrip()

    accuracy = None
    i500 = rec.get_item("500")
    if i500 is not None:
        a = i500.variation
        apc, cov, apw = a.get_item("APC"), a.get_item("COV"), a.get_item("APW")
        aga, atv = a.get_item("AGA"), a.get_item("ATV")
        cov_sqrt = None if cov is None else cov.variation.content.as_quantity("m")
        x_m = y_m = lat_s = lon_s = vx_s = vy_s = None
        if apc is not None:
            x_m = apc.variation.get_item("X").variation.content.as_quantity("m")
            y_m = apc.variation.get_item("Y").variation.content.as_quantity("m")
        if apw is not None:
            lat_s = apw.variation.get_item("LAT").variation.content.as_quantity("°")
            lon_s = apw.variation.get_item("LON").variation.content.as_quantity("°")
        if atv is not None:
            vx_s = atv.variation.get_item("X").variation.content.as_quantity("m/s")
            vy_s = atv.variation.get_item("Y").variation.content.as_quantity("m/s")
        accuracy = TrackAccuracy(
            x_m=x_m,
            y_m=y_m,
            # COV is sign(cov)·sqrt(|cov|) (CAT062 ed. 1.21, I062/500 subfield 2)
            xy_cov_m2=None if cov_sqrt is None else math.copysign(cov_sqrt * cov_sqrt, cov_sqrt),
            lat_deg=lat_s,
            lon_deg=lon_s,
            geometric_altitude_m=(
                None if aga is None else aga.variation.content.as_quantity("ft") * FT_M
            ),
            vx_mps=vx_s,
            vy_mps=vy_s,
        )

    i040, i015, i070 = rec.get_item("040"), rec.get_item("015"), rec.get_item("070")
    i130, i136, i135 = rec.get_item("130"), rec.get_item("136"), rec.get_item("135")
    i220, i060 = rec.get_item("220"), rec.get_item("060")
    baro_fl = None
    if i135 is not None:
        baro_fl = i135.variation.get_item("CTB").variation.content.as_quantity("FL")
    mode3a = None
    if i060 is not None:
        mode3a = i060.variation.get_item("MODE3A").variation.content.as_string()
    return Cat062Track(
        sac=sac,
        sic=sic,
        track_number=None if i040 is None else i040.as_uint(),
        service_id=None if i015 is None else i015.as_uint(),
        time_of_day_s=None if i070 is None else i070.variation.content.as_quantity("s"),
        lat_deg=lat,
        lon_deg=lon,
        x_m=x,
        y_m=y,
        vx_mps=vx,
        vy_mps=vy,
        geometric_altitude_m=(
            None if i130 is None else i130.variation.content.as_quantity("ft") * FT_M
        ),
        measured_flight_level=None if i136 is None else i136.variation.content.as_quantity("FL"),
        barometric_flight_level=baro_fl,
        vertical_rate_mps=(
            None if i220 is None else i220.variation.content.as_quantity("ft/min") * FPM_MPS
        ),
        mode3a=mode3a,
        target_address=address,
        callsign=callsign,
        emitter_category=ecat,
        status=status,
        accuracy=accuracy,
    )


def _sdps_service(rec: Cat065.cv_record) -> Cat065Message:
    """Map a parsed CAT065 record to a :class:`Cat065Message` (I065/010 and /000 mandatory)."""
    sac, sic = _source_of(rec, "I065")
    i000 = rec.get_item("000")
    if i000 is None:
        raise AsterixError("I065/000", "mandatory item missing")
    status = None
    i040 = rec.get_item("040")
    if i040 is not None:
        g = i040.variation
        status = SdpsStatus(
            nogo=g.get_item("NOGO").as_uint(),
            overload=bool(g.get_item("OVL").as_uint()),
            invalid_time_source=bool(g.get_item("TSV").as_uint()),
            processing_system=g.get_item("PSS").as_uint(),
            renumbering=bool(g.get_item("STTN").as_uint()),
        )
    i015, i030 = rec.get_item("015"), rec.get_item("030")
    i020, i050 = rec.get_item("020"), rec.get_item("050")
    return Cat065Message(
        sac=sac,
        sic=sic,
        message_type=i000.as_uint(),
        message_name=i000.variation.content.table_value(),
        service_id=None if i015 is None else i015.as_uint(),
        time_of_day_s=None if i030 is None else i030.variation.content.as_quantity("s"),
        batch_number=None if i020 is None else i020.as_uint(),
        status=status,
        service_report=None if i050 is None else i050.as_uint(),
        service_report_name=None if i050 is None else i050.variation.content.table_value(),
    )


def resolve_time_of_day(time_of_day_s: float, t_ref_s: float) -> float:
    """UTC seconds of a time of day (s since midnight UTC) on the day nearest to ``t_ref_s``.

    Picks the date that puts the result within half a day of the reference (the receive time),
    so a report stamped 23:59:59 and received at 00:00:01 lands on the previous day.
    """
    midnight = math.floor(t_ref_s / DAY_S) * DAY_S
    t = midnight + time_of_day_s
    if t - t_ref_s > DAY_S / 2:
        t -= DAY_S
    elif t_ref_s - t > DAY_S / 2:
        t += DAY_S
    return t


def elevation_from_altitude(
    range_m: ArrayLike,
    target_alt_m: ArrayLike,
    radar_alt_m: float,
    radar_lat_deg: float,
    clip: ArrayLike = False,
) -> NDArray[np.float64]:
    """Elevation angle (deg) of a target at slant range ``range_m`` and altitude ``target_alt_m``.

    Spherical earth with the local Gaussian radius R at the radar (law of cosines):
    sin(el) = ((R+h_t)² − (R+h_r)² − r²) / (2 r (R+h_r)). Straight-line geometry, as in
    :meth:`SiteOrigin.aer_to_enu`; refraction is neglected. Where no elevation fits (the height
    differs from the radar's by more than the range) the result is NaN, or ±90° where ``clip``.
    """
    s = math.sin(math.radians(radar_lat_deg))
    radius = _WGS84_A_M * math.sqrt(1.0 - _WGS84_E2) / (1.0 - _WGS84_E2 * s * s)
    r = np.asarray(range_m, dtype=float)
    ht = radius + np.asarray(target_alt_m, dtype=float)
    hr = radius + radar_alt_m
    with np.errstate(divide="ignore", invalid="ignore"):
        sin_el = (ht * ht - hr * hr - r * r) / (2.0 * r * hr)
    sin_el = np.where(np.asarray(clip, dtype=bool), np.clip(sin_el, -1.0, 1.0), sin_el)
    with np.errstate(invalid="ignore"):
        el: NDArray[np.float64] = np.degrees(
            np.arcsin(np.where(np.abs(sin_el) <= 1.0, sin_el, np.nan))
        )
    return el


# ---------------------------------------------------------------------------------------------
# The pipe


@dataclass(frozen=True, slots=True)
class RadarSite:
    """A radar known by its SAC/SIC: position (WGS84 deg, ellipsoidal m) and default accuracies.

    Heights the radar reports are above mean sea level (I048/110) or pressure altitudes
    (I048/090); ``geoid_undulation_m`` (N, the ellipsoid height of MSL at the radar; ≈ 43–47 m in
    the Netherlands) is added to both. Without either, the target is assumed at
    ``default_height_m`` above the radar's altitude with a 1-σ of ``default_height_sigma_m``.
    """

    lat_deg: float
    lon_deg: float
    alt_m: float
    range_sigma_m: float = 30.0
    azimuth_sigma_deg: float = 0.15
    elevation_sigma_deg: float = 0.5  # of a 3D radar's measured height
    flight_level_sigma_m: float = 150.0  # pressure altitude vs geometric height
    default_height_m: float = 120.0
    default_height_sigma_m: float = 150.0
    geoid_undulation_m: float = 0.0
    name: str = ""


@dataclass(slots=True)
class RadarStatus:
    """What the pipe knows about one radar's antenna, from its CAT034 messages (UTC seconds)."""

    last_north_t_s: float | None = None
    rotation_period_s: float | None = None  # I034/041 if sent, else between north markers
    last_sector_deg: float | None = None
    last_sector_t_s: float | None = None
    scans: int = 0  # north markers received
    service_seen: bool = False  # CAT034 scan messages drive the batching for this radar


@dataclass(frozen=True, slots=True)
class TrackSource:
    """A CAT062 SDPS (``kind="sdps"``) or a CAT021 ADS-B station (``"adsb"``) known by SAC/SIC.

    ``ref_lat_deg``/``ref_lon_deg`` are the SDPS's system reference point, needed only for
    tracks that carry the Cartesian position (I062/100) and not the WGS84 one (I062/105).
    ``position_sigma_m`` is the horizontal 1-σ used when a track has no I062/500 accuracy (SDPS)
    or a report no NACp/NUCp (ADS-B; ``None``: NACp 8, the least ADS-B Out rules allow);
    ``altitude_sigma_m`` that of a geometric altitude without one. Flight levels are pressure
    altitudes: ``geoid_undulation_m`` is added, as for radars. A track with no height at all is
    placed ``default_height_m`` above the site origin with a 1-σ of ``default_height_sigma_m``.
    """

    kind: Literal["sdps", "adsb"]
    name: str = ""
    ref_lat_deg: float | None = None
    ref_lon_deg: float | None = None
    ref_alt_m: float = 0.0
    position_sigma_m: float | None = None
    altitude_sigma_m: float = 30.0
    geoid_undulation_m: float = 0.0
    default_height_m: float = 120.0
    default_height_sigma_m: float = 150.0
    cat021_edition: Literal["2.x", "0.26"] = "2.x"  # of an ADS-B station's CAT021

    @property
    def horizontal_sigma_m(self) -> float:
        """The configured horizontal 1-σ, or the kind's default (SDPS 100 m, ADS-B NACp 8)."""
        if self.position_sigma_m is not None:
            return self.position_sigma_m
        return SDPS_POSITION_SIGMA_M if self.kind == "sdps" else DEFAULT_H_STD_M


@dataclass(slots=True)
class SdpsState:
    """What the pipe knows about one SDPS from its CAT065 messages (UTC seconds)."""

    batches_seen: bool = False  # its end-of-batch messages drive the batching
    last_batch_number: int | None = None
    last_batch_t_s: float | None = None
    status: SdpsStatus | None = None  # the latest I065/040
    last_service_report: str | None = None  # the latest I065/050, in the specification's words


@dataclass(slots=True)
class _Position:
    """One cooperative or system-track position waiting to go out in a batch."""

    t_s: float
    lat_deg: float
    lon_deg: float
    alt_m: float  # ellipsoidal
    cov_local: NDArray[np.float64]  # 3×3 in the local ENU frame at the target
    ident: str | None
    extra: dict[str, object]


SDPS_POSITION_SIGMA_M = 100.0
MIN_SIGMA_M = 1.0  # an accuracy reported as zero must not make the covariance singular
ADSB_CODE_PREFIX = {0: "icao", 1: "icao", 2: "non-icao", 3: "non-icao"}  # I021/040 ATP


def _enu_rotation(
    lat_deg: NDArray[np.float64], lon_deg: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(n, 3, 3) rotations taking ECEF vectors into the local ENU frame at each point."""
    p, lam = np.radians(lat_deg), np.radians(lon_deg)
    sp, cp, sl, cl = np.sin(p), np.cos(p), np.sin(lam), np.cos(lam)
    zero = np.zeros_like(p)
    return np.stack(
        [
            np.stack([-sl, cl, zero], axis=-1),
            np.stack([-sp * cl, -sp * sl, cp], axis=-1),
            np.stack([cp * cl, cp * sl, sp], axis=-1),
        ],
        axis=-2,
    )


def system_plane_to_geodetic(
    x_m: float, y_m: float, ref_lat_deg: float, ref_lon_deg: float
) -> tuple[float, float]:
    """(lat, lon) in degrees of a point of an SDPS's system plane (I062/100 X east, Y north, m).

    The system plane is taken as the oblique stereographic projection tangent at the system
    reference point, on the sphere of the ellipsoid's Gaussian radius there (the usual SDPS
    plane; Snyder 1987, *Map Projections — A Working Manual*, eqs. 20-14, 20-15, 21-15).
    Against a tangent plane it is 6 m closer at 100 km and 0.8 km at 500 km; ellipsoid against
    sphere adds a few metres within 100 km. Prefer I062/105 where the SDPS sends it.
    """
    s0 = math.sin(math.radians(ref_lat_deg))
    radius = _WGS84_A_M * math.sqrt(1.0 - _WGS84_E2) / (1.0 - _WGS84_E2 * s0 * s0)
    rho = math.hypot(x_m, y_m)
    if rho == 0.0:
        return ref_lat_deg, ref_lon_deg
    c = 2.0 * math.atan(rho / (2.0 * radius))
    c0 = math.cos(math.radians(ref_lat_deg))
    lat = math.asin(math.cos(c) * s0 + y_m * math.sin(c) * c0 / rho)
    dlon = math.atan2(x_m * math.sin(c), rho * c0 * math.cos(c) - y_m * s0 * math.sin(c))
    lon = (ref_lon_deg + math.degrees(dlon) + 180.0) % 360.0 - 180.0
    return math.degrees(lat), lon


def adsb_position_sigma_m(report: Cat021Report, default_m: float) -> float | None:
    """Horizontal 1-σ (m) of a CAT021 position from its quality indicators (I021/090).

    NACp's EPU (MOPS version ≥ 1) or NUCp's containment radius (version 0), both 95 % bounds
    (σ = bound / 2.45); ``default_m`` when neither was sent; ``None`` when the report says its
    accuracy is unknown (NACp or NUCp 0, or a reserved NACp value): such a position cannot be
    weighed.
    """
    if report.mops_version == 0 or report.edition == "0.26":
        if report.nic is None:
            return default_m
        bound = NUCp[report.nic]["RCu"] if report.nic in NUCp else None
    else:
        if report.nacp is None:
            return default_m
        bound = NACp[report.nacp]["EPU"] if report.nacp in NACp else None
    return None if bound is None else max(float(bound) / R95_2D_SIGMA, MIN_SIGMA_M)


@dataclass(slots=True)
class _Pending:
    t_s: float
    plot: Cat048Plot


_HEIGHT_SOURCES = ("3d_radar", "flight_level", "default")
_MAX_EL_SIGMA_DEG = 30.0


class AsterixPipe:
    """Decoder state for one ASTERIX feed: datagrams in, detection batches (site ENU) out.

    Plots are held per radar until the radar's CAT034 marks the end of a scan part: with
    ``batch_per="sector"`` every sector crossing or north marker emits the plots so far
    (low latency; ``counts_misses=False`` since a sector is not the radar's whole coverage);
    with ``batch_per="revolution"`` only north markers do, and the batch counts misses (an empty
    revolution emits an empty batch). Sector batches are the default because the tracker updates
    a whole batch at its latest time, and a revolution's plots span the rotation period.
    A radar that sends no CAT034 has its plots emitted at the end of every :meth:`feed`; held
    plots spanning more than ``max_hold_s`` are emitted regardless.

    Plots carry no class evidence and no ``ident`` (an identity would mark the track as a
    cooperative drone); Mode-3/A, the ICAO address, callsign and track number go in ``extra``.

    ``sources`` lists the SDPSs (CAT062 tracks, CAT065 service messages) and ADS-B stations
    (CAT021) by SAC/SIC. Their positions are geodetic, placed in the site frame with their
    covariance rotated from the target's local ENU frame; a 24-bit ICAO address becomes the
    detection's cooperative identity ``icao:XXXXXX`` (``non-icao:`` for CAT021 surface or
    anonymous addresses), as the Mode S decoder writes it. An SDPS's tracks are held until its
    CAT065 end-of-batch, or emitted per datagram if it sends none; ADS-B reports per datagram.
    Neither counts misses: a system track feed or an ADS-B station does not see every target.
    """

    def __init__(
        self,
        sensor_id: str,
        origin: SiteOrigin,
        radars: dict[tuple[int, int], RadarSite],
        batch_per: Literal["sector", "revolution"] = "sector",
        max_hold_s: float = 10.0,
        accept_test_targets: bool = False,
        sources: dict[tuple[int, int], TrackSource] | None = None,
    ) -> None:
        self.sensor_id = sensor_id
        self.origin = origin
        self.radars = dict(radars)
        self.sources = dict(sources or {})
        self.sdps: dict[tuple[int, int], SdpsState] = {
            key: SdpsState() for key, src in self.sources.items() if src.kind == "sdps"
        }
        self._positions: dict[tuple[int, int], list[_Position]] = {k: [] for k in self.sources}
        self._cat021_v0 = frozenset(
            key for key, src in self.sources.items() if src.cat021_edition == "0.26"
        )
        self._site_rot = _enu_rotation(np.array([origin.lat_deg]), np.array([origin.lon_deg]))[0]
        self.batch_per = batch_per
        self.max_hold_s = max_hold_s
        self.accept_test_targets = accept_test_targets
        self.counters = FeedCounters()
        self.status: dict[tuple[int, int], RadarStatus] = {
            key: RadarStatus() for key in self.radars
        }
        self._pending: dict[tuple[int, int], list[_Pending]] = {key: [] for key in self.radars}
        self._logged: set[str] = set()

    def _reject(self, exc: AsterixError) -> None:
        reason = exc.reason
        self.counters.reject(reason)
        if reason not in self._logged:  # once per kind, so a flood cannot flood the log
            self._logged.add(reason)
            log.warning("sensor %s: rejected ASTERIX data: %s", self.sensor_id, exc)

    def feed(self, data: bytes, t_rx_s: float | None = None) -> list[DetectionBatch]:
        """Consume one datagram received at ``t_rx_s`` (UTC s; wall clock if ``None``).

        ``t_rx_s`` fixes the date of the reports' time of day; pass the capture time on replay.
        Returns the batches this datagram completes.
        """
        t_ref = time.time() if t_rx_s is None else float(t_rx_s)
        out: list[DetectionBatch] = []
        for item in iter_records(data, self._cat021_v0):
            if isinstance(item, AsterixError):
                self._reject(item)
                continue
            try:
                if isinstance(item, Cat048Plot):
                    self._on_plot(item, t_ref)
                elif isinstance(item, Cat034Message):
                    out.extend(self._on_service(item, t_ref))
                elif isinstance(item, Cat021Report):
                    self._on_adsb(item, t_ref)
                elif isinstance(item, Cat062Track):
                    self._on_track(item, t_ref)
                else:
                    out.extend(self._on_sdps_service(item, t_ref))
            except AsterixError as exc:
                self._reject(exc)
        for key, pending in self._pending.items():
            if not pending:
                continue
            if not self.status[key].service_seen:
                out.extend(self._emit(key))
            elif max(p.t_s for p in pending) - min(p.t_s for p in pending) > self.max_hold_s:
                out.extend(self._emit(key))  # the scan messages stopped: do not hold forever
        for key, held in self._positions.items():
            if not held:
                continue
            state = self.sdps.get(key)
            if state is None or not state.batches_seen:
                out.extend(self._emit_positions(key))
            elif max(p.t_s for p in held) - min(p.t_s for p in held) > self.max_hold_s:
                out.extend(self._emit_positions(key))  # end-of-batch stopped: do not hold
        return out

    def flush(self) -> list[DetectionBatch]:
        """Emit every plot and track still held (end of a recording or of the stream)."""
        out: list[DetectionBatch] = []
        for key in self._pending:
            out.extend(self._emit(key))
        for key in self._positions:
            out.extend(self._emit_positions(key))
        return out

    # -- CAT021 / CAT062 / CAT065 -------------------------------------------------------------

    def _source(
        self, source: tuple[int, int], prefix: str, kind: Literal["sdps", "adsb"]
    ) -> TrackSource:
        src = self.sources.get(source)
        detail = f"{source[0]}/{source[1]}"
        if src is None:
            if source in self.radars:
                raise AsterixError(
                    f"{prefix}/010", "SAC/SIC is a radar, not an SDPS or ADS-B source", detail
                )
            raise AsterixError(f"{prefix}/010", "unknown SAC/SIC", detail)
        if src.kind != kind:
            raise AsterixError(
                f"{prefix}/010", f"SAC/SIC is an {src.kind} source, not {kind}", detail
            )
        return src

    def _time(self, tod: float | None, item: str, t_ref: float) -> float:
        if tod is None:
            raise AsterixError(item, "missing: the report has no time")
        if not 0.0 <= tod < DAY_S:
            raise AsterixError(item, "time of day beyond 24 h", f"{tod} s")
        return resolve_time_of_day(tod, t_ref)

    def _on_adsb(self, rep: Cat021Report, t_ref: float) -> None:
        src = self._source(rep.source, "I021", "adsb")
        if not self.accept_test_targets:
            if rep.simulated:
                raise AsterixError("I021/040", "simulated target report (SIM)")
            if rep.test:
                raise AsterixError("I021/040", "test target report (TST)")
        t_s = self._time(rep.time_of_day_s, rep.time_source or "I021/071", t_ref)
        if rep.lat_deg is None or rep.lon_deg is None:
            self.counters.decoded += 1  # a valid report (velocity, identity) without a position
            self.counters.by_kind["cat021_without_position"] += 1
            return
        if not (-90.0 <= rep.lat_deg <= 90.0 and -180.0 <= rep.lon_deg <= 180.0):
            raise AsterixError("I021/130", "position out of range")
        h_std = adsb_position_sigma_m(rep, src.horizontal_sigma_m)
        if h_std is None:
            nucp = rep.mops_version == 0 or rep.edition == "0.26"
            item, value = ("NUCp", rep.nic) if nucp else ("NACp", rep.nacp)
            raise AsterixError("I021/090", f"position accuracy unknown ({item} {value})")
        if rep.geometric_height_m is not None:
            vepu = NACp[rep.nacp]["VEPU"] if rep.nacp in NACp else None
            alt = rep.geometric_height_m
            v_std = vepu / R95_1D_SIGMA if vepu is not None else DEFAULT_GNSS_V_STD_M
            alt_source = "gnss"
        elif rep.pressure_altitude_m is not None:
            alt = rep.pressure_altitude_m + src.geoid_undulation_m
            v_std, alt_source = baro_height_std_m(rep.pressure_altitude_m), "baro"
        else:
            raise AsterixError("I021/145", "missing: the report has no height")
        prefix = ADSB_CODE_PREFIX.get(rep.address_type if rep.address_type is not None else 0)
        ident = None
        if rep.target_address is not None and prefix is not None:
            ident = f"{prefix}:{rep.target_address:06X}"
        extra: dict[str, object] = {
            "sac": rep.sac,
            "sic": rep.sic,
            "icao": None if rep.target_address is None else f"{rep.target_address:06X}",
            "alt_source": alt_source,
            "callsign": rep.callsign,
            "category": rep.emitter_name,
            "uav": rep.is_uav,
            "gs_ms": rep.ground_speed_mps,
            "track_deg": rep.track_angle_deg,
            "vrate_ms": rep.vertical_rate_mps,
            "on_ground": rep.on_ground,
        }
        cov = np.diag([h_std**2, h_std**2, v_std**2])
        self._positions[rep.source].append(
            _Position(t_s, rep.lat_deg, rep.lon_deg, alt, cov, ident, extra)
        )
        self.counters.by_kind["cat021_report"] += 1

    def _on_track(self, trk: Cat062Track, t_ref: float) -> None:
        src = self._source(trk.source, "I062", "sdps")
        st = trk.status
        if st is not None and st.simulated and not self.accept_test_targets:
            raise AsterixError("I062/080", "simulated track (SIM)")
        t_s = self._time(trk.time_of_day_s, "I062/070", t_ref)
        if st is not None and (st.coasting or st.tentative):
            # Not rejected (nothing is wrong with it), but a coasted track carries no measurement
            # and a tentative one may be false: neither is a detection to fuse.
            self.counters.decoded += 1
            self.counters.by_kind["cat062_coasting" if st.coasting else "cat062_tentative"] += 1
            return
        acc = trk.accuracy
        if trk.lat_deg is not None and trk.lon_deg is not None:
            lat, lon = trk.lat_deg, trk.lon_deg
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise AsterixError("I062/105", "position out of range")
        elif trk.x_m is not None and trk.y_m is not None:
            if src.ref_lat_deg is None or src.ref_lon_deg is None:
                raise AsterixError(
                    "I062/100",
                    "Cartesian position, but no reference point is configured for this SDPS",
                )
            lat, lon = system_plane_to_geodetic(trk.x_m, trk.y_m, src.ref_lat_deg, src.ref_lon_deg)
        else:
            raise AsterixError("I062/105", "missing: the track has no position")
        # Horizontal covariance: I062/500 APC (with COV) or APW, else the configured 1-σ.
        sigma = src.horizontal_sigma_m
        cov = np.diag([sigma**2, sigma**2, 0.0])
        if acc is not None and acc.x_m is not None and acc.y_m is not None:
            sx, sy = max(acc.x_m, MIN_SIGMA_M), max(acc.y_m, MIN_SIGMA_M)
            cxy = acc.xy_cov_m2 or 0.0
            cxy = float(np.clip(cxy, -0.99 * sx * sy, 0.99 * sx * sy))
            cov[:2, :2] = [[sx * sx, cxy], [cxy, sy * sy]]
        elif acc is not None and acc.lat_deg is not None and acc.lon_deg is not None:
            m_per_deg = math.pi / 180.0 * 6_371_008.8
            sn = max(acc.lat_deg * m_per_deg, MIN_SIGMA_M)
            se = max(acc.lon_deg * m_per_deg * math.cos(math.radians(lat)), MIN_SIGMA_M)
            cov[0, 0], cov[1, 1] = se * se, sn * sn
        if trk.geometric_altitude_m is not None:
            alt = trk.geometric_altitude_m
            v_std = src.altitude_sigma_m
            if acc is not None and acc.geometric_altitude_m is not None:
                v_std = max(acc.geometric_altitude_m, MIN_SIGMA_M)
            alt_source = "geometric"
        elif trk.measured_flight_level is not None or trk.barometric_flight_level is not None:
            fl = trk.measured_flight_level
            fl = trk.barometric_flight_level if fl is None else fl
            assert fl is not None
            alt = fl * FL_M + src.geoid_undulation_m
            v_std, alt_source = baro_height_std_m(fl * FL_M), "flight_level"
        else:
            alt = self.origin.alt_m + src.default_height_m
            v_std, alt_source = src.default_height_sigma_m, "default"
        cov[2, 2] = v_std**2
        ident = None if trk.target_address is None else f"icao:{trk.target_address:06X}"
        speed = track_deg = None
        if trk.vx_mps is not None and trk.vy_mps is not None:
            speed = math.hypot(trk.vx_mps, trk.vy_mps)
            track_deg = math.degrees(math.atan2(trk.vx_mps, trk.vy_mps)) % 360.0
        extra: dict[str, object] = {
            "sac": trk.sac,
            "sic": trk.sic,
            "track_number": trk.track_number,
            "icao": None if trk.target_address is None else f"{trk.target_address:06X}",
            "mode3a": trk.mode3a,
            "callsign": trk.callsign,
            "alt_source": alt_source,
            "gs_ms": speed,
            "track_deg": track_deg,
            "vrate_ms": trk.vertical_rate_mps,
            "uav": trk.is_uav,
            "track_end": bool(st and st.track_end),
            "monosensor": bool(st and st.monosensor),
        }
        self._positions[trk.source].append(_Position(t_s, lat, lon, alt, cov, ident, extra))
        self.counters.by_kind["cat062_track"] += 1

    def _on_sdps_service(self, msg: Cat065Message, t_ref: float) -> list[DetectionBatch]:
        self._source(msg.source, "I065", "sdps")
        state = self.sdps[msg.source]
        try:
            kind = Cat065MessageType(msg.message_type)
        except ValueError:
            raise AsterixError("I065/000", "unknown message type", f"{msg.message_type}") from None
        t_s = self._time(msg.time_of_day_s, "I065/030", t_ref)
        self.counters.decoded += 1
        self.counters.by_kind[f"cat065_{kind.name.lower()}"] += 1
        if msg.status is not None:
            if state.status is None or state.status.nogo != msg.status.nogo:
                log.info(
                    "sensor %s: SDPS %d/%d status %s",
                    self.sensor_id, msg.sac, msg.sic,
                    ("operational", "degraded", "not connected", "unknown")[msg.status.nogo],
                )  # fmt: skip
            state.status = msg.status
        if msg.service_report_name is not None:
            state.last_service_report = msg.service_report_name
        if kind != Cat065MessageType.END_OF_BATCH:
            return []
        state.batches_seen = True
        state.last_batch_number = msg.batch_number
        state.last_batch_t_s = t_s
        return self._emit_positions(msg.source)

    def _emit_positions(self, key: tuple[int, int]) -> list[DetectionBatch]:
        """Held CAT021/CAT062 positions → batches, one array call for all of them.

        A batch holds each identity once (the tracker associates a batch's detections one to
        one), so a target reported twice before the batch ends starts a second batch.
        """
        held, self._positions[key] = self._positions[key], []
        if not held:
            return []
        lat = np.array([p.lat_deg for p in held])
        lon = np.array([p.lon_deg for p in held])
        z = self.origin.to_enu(lat, lon, np.array([p.alt_m for p in held])).reshape(-1, 3)
        rot = self._site_rot @ np.transpose(_enu_rotation(lat, lon), (0, 2, 1))
        cov = rot @ np.stack([p.cov_local for p in held]) @ np.transpose(rot, (0, 2, 1))
        self.counters.decoded += len(held)
        groups: list[list[int]] = [[]]
        seen: set[str] = set()
        for i, p in enumerate(held):
            if p.ident is not None:
                if p.ident in seen:
                    groups.append([])
                    seen = set()
                seen.add(p.ident)
            groups[-1].append(i)
        out = []
        for rows in groups:
            idx = np.array(rows)
            out.append(
                DetectionBatch(
                    sensor_id=self.sensor_id,
                    t_s=np.array([held[i].t_s for i in rows]),
                    z=z[idx],
                    R=cov[idx],
                    class_loglik=np.zeros((len(rows), N_CLASSES)),
                    ident=tuple(held[i].ident for i in rows),
                    counts_misses=False,
                    extra=tuple(held[i].extra for i in rows),
                )
            )
        return out

    def _site(self, source: tuple[int, int], item: str) -> RadarSite:
        site = self.radars.get(source)
        if site is None:
            raise AsterixError(f"{item}/010", "unknown SAC/SIC", f"{source[0]}/{source[1]}")
        return site

    def _on_plot(self, plot: Cat048Plot, t_ref: float) -> None:
        self._site(plot.source, "I048")
        if plot.time_of_day_s is None:
            raise AsterixError("I048/140", "missing: the plot has no time")
        if not 0.0 <= plot.time_of_day_s < DAY_S:
            raise AsterixError("I048/140", "time of day beyond 24 h", f"{plot.time_of_day_s} s")
        if plot.rho_m is None or plot.theta_deg is None:
            raise AsterixError("I048/040", "missing: the plot has no measured position")
        if plot.rho_m <= 0.0:
            raise AsterixError("I048/040", "zero range")
        d = plot.descriptor
        if d is not None:
            if d.typ == 0:
                raise AsterixError("I048/020", "no detection (coasted track report)")
            if not self.accept_test_targets:
                if d.sim:
                    raise AsterixError("I048/020", "simulated target report (SIM)")
                if d.tst:
                    raise AsterixError("I048/020", "test target report (TST)")
                if d.rab:
                    raise AsterixError("I048/020", "field monitor report (RAB)")
        t_s = resolve_time_of_day(plot.time_of_day_s, t_ref)
        self._pending[plot.source].append(_Pending(t_s, plot))  # counted once converted

    def _on_service(self, msg: Cat034Message, t_ref: float) -> list[DetectionBatch]:
        self._site(msg.source, "I034")
        try:
            kind = Cat034MessageType(msg.message_type)
        except ValueError:
            raise AsterixError("I034/000", "unknown message type", f"{msg.message_type}") from None
        if kind not in (Cat034MessageType.NORTH_MARKER, Cat034MessageType.SECTOR_CROSSING):
            self.counters.decoded += 1
            self.counters.by_kind[f"cat034_{kind.name.lower()}"] += 1
            return []
        if msg.time_of_day_s is None:
            raise AsterixError("I034/030", "missing: the message has no time")
        if not 0.0 <= msg.time_of_day_s < DAY_S:
            raise AsterixError("I034/030", "time of day beyond 24 h", f"{msg.time_of_day_s} s")
        t_s = resolve_time_of_day(msg.time_of_day_s, t_ref)
        status = self.status[msg.source]
        status.service_seen = True
        if msg.antenna_rotation_period_s:
            status.rotation_period_s = msg.antenna_rotation_period_s
        self.counters.decoded += 1
        self.counters.by_kind[f"cat034_{kind.name.lower()}"] += 1
        if kind == Cat034MessageType.SECTOR_CROSSING:
            status.last_sector_deg = msg.sector_azimuth_deg
            status.last_sector_t_s = t_s
            return self._emit(msg.source) if self.batch_per == "sector" else []
        previous = status.last_north_t_s
        if previous is not None and msg.antenna_rotation_period_s is None:
            period = t_s - previous
            if 0.0 < period < 60.0:  # a longer gap is an outage, not a revolution
                status.rotation_period_s = period
        status.last_north_t_s = t_s
        status.scans += 1
        status.last_sector_deg = 0.0
        status.last_sector_t_s = t_s
        batches = self._emit(msg.source)
        if not batches and self.batch_per == "revolution" and previous is not None:
            batches = [self._empty(t_s)]  # a whole revolution without plots: misses count
        return batches

    def _empty(self, t_s: float) -> DetectionBatch:
        return DetectionBatch(
            sensor_id=self.sensor_id,
            t_s=np.zeros(0),
            z=np.zeros((0, 3)),
            R=np.zeros((0, 3, 3)),
            class_loglik=np.zeros((0, N_CLASSES)),
            counts_misses=True,
            scan_t_s=t_s,
        )

    def _emit(self, key: tuple[int, int]) -> list[DetectionBatch]:
        """Convert the radar's held plots to one batch (one array call for the whole batch)."""
        pending, self._pending[key] = self._pending[key], []
        if not pending:
            return []
        site = self.radars[key]
        plots = [p.plot for p in pending]
        t_s = np.array([p.t_s for p in pending])
        rng = np.array([p.rho_m for p in plots], dtype=float)
        az = np.array([p.theta_deg for p in plots], dtype=float)
        # Target altitude (ellipsoidal m) and its 1-σ, by the best height source available.
        alt = np.empty(len(plots))
        alt_sigma = np.empty(len(plots))
        source = np.empty(len(plots), dtype=np.int64)
        for i, p in enumerate(plots):
            fl = p.flight_level
            if p.height_3d_m is not None:
                alt[i], alt_sigma[i], source[i] = p.height_3d_m + site.geoid_undulation_m, 0.0, 0
            elif fl is not None and fl.validated and not fl.garbled:
                alt[i] = fl.pressure_altitude_m + site.geoid_undulation_m
                alt_sigma[i], source[i] = site.flight_level_sigma_m, 1
            else:
                alt[i] = site.alt_m + site.default_height_m
                alt_sigma[i], source[i] = site.default_height_sigma_m, 2
        # An assumed height may not fit a close plot (then it is taken as straight up or down);
        # a reported one that does not fit is wrong, and the plot is rejected naming its item.
        el = elevation_from_altitude(rng, alt, site.alt_m, site.lat_deg, clip=source == 2)
        ok = np.isfinite(el)
        for k in np.flatnonzero(~ok).tolist():
            item = ("I048/110", "I048/090")[int(source[k])]
            self._reject(AsterixError(item, "height not reachable at this slant range"))
        if not ok.all():
            plots = [p for p, keep in zip(plots, ok.tolist(), strict=True) if keep]
            t_s, rng, az, el, alt_sigma, source = (
                t_s[ok],
                rng[ok],
                az[ok],
                el[ok],
                alt_sigma[ok],
                source[ok],
            )
            if not plots:
                return []
        # Elevation uncertainty: the radar's own for a measured height, else the height's 1-σ
        # mapped through d(el)/d(h) = 1 / (r cos el), capped where that linearisation breaks down.
        el_sigma = np.where(
            source == 0,
            site.elevation_sigma_deg,
            np.minimum(
                np.degrees(alt_sigma / (rng * np.maximum(np.cos(np.radians(el)), 1e-3))),
                _MAX_EL_SIGMA_DEG,
            ),
        )
        self.counters.decoded += len(plots)
        self.counters.by_kind["cat048_plot"] += len(plots)
        z = self.origin.aer_to_enu(az, el, rng, site.lat_deg, site.lon_deg, site.alt_m)
        cov = aer_covariance_to_enu(
            az, el, rng, site.azimuth_sigma_deg, el_sigma, site.range_sigma_m
        )
        extra: tuple[dict[str, object], ...] = tuple(
            {
                "sac": p.sac,
                "sic": p.sic,
                "track_number": p.track_number,
                "mode3a": None if p.mode3a is None else p.mode3a.code,
                "aircraft_address": (
                    None if p.aircraft_address is None else f"{p.aircraft_address:06X}"
                ),
                "aircraft_id": p.aircraft_id,
                "typ": None if p.descriptor is None else p.descriptor.typ,
                "height_source": _HEIGHT_SOURCES[int(s)],
            }
            for p, s in zip(plots, source.tolist(), strict=True)
        )
        return [
            DetectionBatch(
                sensor_id=self.sensor_id,
                t_s=t_s,
                z=z,
                R=cov,
                class_loglik=np.zeros((len(plots), N_CLASSES)),
                counts_misses=self.batch_per == "revolution",
                extra=extra,
            )
        ]
