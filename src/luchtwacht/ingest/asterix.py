"""ASTERIX ingest: CAT048 monoradar target reports and CAT034 service messages → detections.

Where it sits: UDP datagrams from a surveillance radar (or a recording of them) →
:func:`iter_records` / :func:`decode_datagram` (typed records in SI units) → :class:`AsterixPipe`
(radar site lookup by SAC/SIC, time-of-day resolution, polar → site ENU, scan batching on the
CAT034 north markers and sector crossings) → :class:`~luchtwacht.model.DetectionBatch`.

The bit-level layout (data block framing, FSPEC, item structure, LSB scaling) is libasterix's
(``asterix.generated``, EUROCONTROL specs CAT048 ed. 1.32 and CAT034 ed. 1.29): this module only
maps its items to typed records and names the item at fault when something is malformed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import ClassVar, Literal

import asterix.generated as gen
import numpy as np
from asterix.base import Bits, Fspec, ParsingMode, RawDatablock, UapItem, UapItemSpare
from numpy.typing import ArrayLike, NDArray

from luchtwacht.geo import SiteOrigin, aer_covariance_to_enu
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.model.detection import N_CLASSES, DetectionBatch

log = logging.getLogger(__name__)

__all__ = [
    "NM_M",
    "AsterixError",
    "AsterixPipe",
    "AsterixRecord",
    "Cat034Message",
    "Cat034MessageType",
    "Cat048Plot",
    "FlightLevel",
    "Mode3A",
    "PlotCharacteristics",
    "RadarSite",
    "RadarStatus",
    "TargetReportDescriptor",
    "decode_datagram",
    "elevation_from_altitude",
    "iter_blocks",
    "iter_records",
    "resolve_time_of_day",
]

Cat048 = gen.Cat_048_1_32
Cat034 = gen.Cat_034_1_29

NM_M = 1852.0  # international nautical mile, m
FT_M = 0.3048  # international foot, m
FL_M = 100.0 * FT_M  # one flight level (100 ft), m
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


AsterixRecord = Cat048Plot | Cat034Message


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


def iter_records(data: bytes) -> Iterator[AsterixRecord | AsterixError]:
    """Decode a datagram leniently: every record, or an :class:`AsterixError` where one fails.

    An unknown category or a malformed record costs the rest of its data block only (records
    carry no length, so nothing after a bad one can be found); a framing error ends the datagram.
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
        yield from _decode_block(category, body)


def decode_datagram(data: bytes) -> list[AsterixRecord]:
    """Decode every record of every data block in ``data`` (strict).

    Raises :class:`AsterixError` if any part is malformed or of a category other than 048/034.
    """
    out: list[AsterixRecord] = []
    for item in iter_records(data):
        if isinstance(item, AsterixError):
            raise item
        out.append(item)
    return out


def _decode_block(category: int, body: bytes) -> Iterator[AsterixRecord | AsterixError]:
    """Parse the records of one data block with the category's UAP, one record at a time."""
    spec: type[Cat048.cv_record] | type[Cat034.cv_record]
    if category == 48:
        spec = Cat048.cv_record
    elif category == 34:
        spec = Cat034.cv_record
    else:
        yield AsterixError("datablock.CAT", "unsupported category", f"{category}")
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
            if isinstance(rec, Cat048.cv_record):
                yield _plot(rec)
            else:
                yield _service(rec)
        except AsterixError as exc:
            yield exc
        except _LIB_ERRORS as exc:
            yield AsterixError(f"{prefix}/record", "undecodable", str(exc))


def _locate_failure(
    spec: type[Cat048.cv_record] | type[Cat034.cv_record],
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
    """

    def __init__(
        self,
        sensor_id: str,
        origin: SiteOrigin,
        radars: dict[tuple[int, int], RadarSite],
        batch_per: Literal["sector", "revolution"] = "sector",
        max_hold_s: float = 10.0,
        accept_test_targets: bool = False,
    ) -> None:
        self.sensor_id = sensor_id
        self.origin = origin
        self.radars = dict(radars)
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
        for item in iter_records(data):
            if isinstance(item, AsterixError):
                self._reject(item)
                continue
            try:
                if isinstance(item, Cat048Plot):
                    self._on_plot(item, t_ref)
                else:
                    out.extend(self._on_service(item, t_ref))
            except AsterixError as exc:
                self._reject(exc)
        for key, pending in self._pending.items():
            if not pending:
                continue
            if not self.status[key].service_seen:
                out.extend(self._emit(key))
            elif max(p.t_s for p in pending) - min(p.t_s for p in pending) > self.max_hold_s:
                out.extend(self._emit(key))  # the scan messages stopped: do not hold forever
        return out

    def flush(self) -> list[DetectionBatch]:
        """Emit every plot still held (end of a recording or of the stream)."""
        out: list[DetectionBatch] = []
        for key in self._pending:
            out.extend(self._emit(key))
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
