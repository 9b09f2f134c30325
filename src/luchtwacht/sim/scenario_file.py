"""Scenario files: a simulated run described in YAML instead of Python.

``load_scenario_file`` reads a file like ``scenarios/ehvk-default.yaml`` into a ``Scenario``.
The file is validated with pydantic (unknown keys are errors) and every error names the file,
the YAML line and the key path, e.g. ``ehvk.yaml:42: targets.1.rcs_m2: Input should be a valid
number``, so that a hand-edited scenario can be fixed without guessing. Line numbers come from
composing the YAML into its node tree (``yaml.compose``), which keeps each node's start mark.

Positions are in the site's ENU frame (metres east, north, up of the site origin), written
either as ``{bearing_deg, distance_m, up_m}`` (true bearing and horizontal distance) or as
``{east_m, north_m, up_m}``; sensors may also be placed at ``{lat, lon, alt_m}`` (WGS84,
ellipsoidal height). Flocks of birds are generated from the scenario seed with the same
function, and the same draws, as ``default_scenario``.

A target's ``path`` is waypoints, an orbit, or a recorded flight: ``{flight_log: {file: ...}}``
reads an ArduPilot ``.bin``, PX4 ``.ulg`` or CSV log (``sim.flightlog``) while the file is
validated, so a missing or damaged log is reported at its ``file:`` line. Relative log paths are
taken from the scenario file's directory.
"""

from __future__ import annotations

import dataclasses
import math
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import numpy as np
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from luchtwacht.config_file import load_yaml_model
from luchtwacht.counter.catalogue import EffectorFigures, EffectorSpec
from luchtwacht.counter.recommend import REACTION_S
from luchtwacht.geo import SiteOrigin
from luchtwacht.identify.authorisation import Authorisations, AuthorisedEntry, PolicySection
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.zone import Zone
from luchtwacht.sim.adsb import AdsbEquipment, AdsbReceiverConfig
from luchtwacht.sim.bearing_sensor import BearingSensorConfig
from luchtwacht.sim.flightlog import FlightLog, FlightLogError, FlightLogPath, load_flight_log
from luchtwacht.sim.operator import OperatorPolicy
from luchtwacht.sim.radar import RadarConfig
from luchtwacht.sim.remoteid_rx import RemoteIdReceiverConfig
from luchtwacht.sim.scenario import Scenario, flock, polar, swarm
from luchtwacht.sim.targets import (
    Failsafe,
    LinkLoss,
    Orbit,
    RemoteIdEquipment,
    RfLink,
    Target,
    Trajectory,
    WaypointPath,
    first_position,
)
from luchtwacht.sim.weather import CLUTTER_LEVELS, Weather


class ScenarioFileError(ValueError):
    """A scenario file that cannot be used; the message is ``FILE:LINE: key.path: problem``."""


# The directory relative log paths start from while ``load_scenario_file`` validates a file;
# ``load_yaml_model`` takes no validation context, so the directory travels this way. A caller
# validating a ``ScenarioSection`` itself can pass ``context={"base_dir": ...}`` instead.
_BASE_DIR: ContextVar[Path | None] = ContextVar("scenario_base_dir", default=None)


def _outage(value: tuple[float, float]) -> tuple[float, float]:
    if not 0.0 <= value[0] < value[1]:
        raise ValueError("an outage is [start, end] with 0 <= start < end (scenario seconds)")
    return value


Outage = Annotated[tuple[float, float], AfterValidator(_outage)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- positions ----------------------------------------------------------------------------------


class PolarPoint(_Strict):
    """A point at a true bearing and horizontal distance from the site origin."""

    bearing_deg: float
    distance_m: float = Field(ge=0)
    up_m: float = 0.0

    def enu(self) -> tuple[float, float, float]:
        """ENU metres, computed exactly as ``scenario.polar`` does."""
        return polar(self.bearing_deg, self.distance_m, self.up_m)


class EnuPoint(_Strict):
    """A point given directly in site ENU metres."""

    east_m: float
    north_m: float
    up_m: float = 0.0

    def enu(self) -> tuple[float, float, float]:
        """ENU metres."""
        return (self.east_m, self.north_m, self.up_m)


class GeoPoint(_Strict):
    """A WGS84 position with ellipsoidal height."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0


def _point_kind(value: Any) -> str | None:
    """Pick the position form from the keys present, so errors speak of that form only."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        return None
    if "bearing_deg" in value or "distance_m" in value:
        return "<polar>"
    if "lat" in value or "lon" in value:
        return "<geo>"
    return "<enu>"


LocalPoint = Annotated[
    Annotated[PolarPoint, Tag("<polar>")] | Annotated[EnuPoint, Tag("<enu>")],
    Discriminator(_point_kind),
]
"""A point relative to the site: polar or ENU."""

SensorPoint = Annotated[
    Annotated[PolarPoint, Tag("<polar>")]
    | Annotated[EnuPoint, Tag("<enu>")]
    | Annotated[GeoPoint, Tag("<geo>")],
    Discriminator(_point_kind),
]
"""A sensor position: relative to the site (polar, ENU) or absolute (lat/lon)."""


def _geodetic(
    origin: SiteOrigin, point: PolarPoint | EnuPoint | GeoPoint
) -> tuple[float, float, float]:
    """(lat, lon, alt) of a sensor position."""
    if isinstance(point, GeoPoint):
        return (point.lat, point.lon, point.alt_m)
    geo = origin.to_geodetic(np.array(point.enu()))
    return (float(geo[0]), float(geo[1]), float(geo[2]))


# --- sections -----------------------------------------------------------------------------------


class SiteSection(_Strict):
    """The ENU origin of the scenario (WGS84, ellipsoidal height)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_m: float = 0.0


class RunwaySection(_Strict):
    """A rectangle centred on the site origin along a runway heading."""

    heading_deg: float
    half_length_m: float = Field(gt=0)
    half_width_m: float = Field(gt=0)


class ZoneSection(_Strict):
    """A protected zone: a polygon of [lat, lon] vertices or a runway rectangle, and a band."""

    name: str
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3)
    runway: RunwaySection | None = None
    floor_m: float = 0.0
    ceiling_m: float = 500.0
    warn_time_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> ZoneSection:
        if (self.polygon is None) == (self.runway is None):
            raise ValueError("give exactly one of polygon or runway")
        if self.ceiling_m <= self.floor_m:
            raise ValueError("ceiling_m must be above floor_m")
        return self

    def zone(self, origin: SiteOrigin) -> Zone:
        """The zone as the threat stage takes it; a runway is turned into four WGS84 vertices."""
        if self.polygon is not None:
            vertices = tuple(self.polygon)
        else:
            assert self.runway is not None
            rw = self.runway
            a = np.array(polar(rw.heading_deg, rw.half_length_m))
            b = np.array(polar(rw.heading_deg + 180.0, rw.half_length_m))
            across = np.array(polar(rw.heading_deg + 90.0, rw.half_width_m))
            geo = origin.to_geodetic(np.array([a + across, b + across, b - across, a - across]))
            vertices = tuple((float(lat), float(lon)) for lat, lon, _ in geo)
        return Zone(self.name, vertices, self.floor_m, self.ceiling_m, self.warn_time_s)


class RadarSection(_Strict):
    """A simulated 3D radar; unset parameters keep the ``RadarConfig`` defaults."""

    node_id: UUID
    name: str = "3D surveillance radar"
    position: SensorPoint
    period_s: float | None = Field(default=None, gt=0)
    min_range_m: float | None = Field(default=None, ge=0)
    max_range_m: float | None = Field(default=None, gt=0)
    max_elevation_deg: float | None = Field(default=None, gt=0, le=90)
    range_std_m: float | None = Field(default=None, ge=0)
    azimuth_std_deg: float | None = Field(default=None, ge=0)
    elevation_std_deg: float | None = Field(default=None, ge=0)
    snr_1km_1m2: float | None = Field(default=None, gt=0)
    pfa: float | None = Field(default=None, gt=0, lt=1)
    false_alarms_per_scan: float | None = Field(default=None, ge=0)
    clutter_max_elevation_deg: float | None = None
    classify_min_snr: float | None = Field(default=None, ge=0)
    classify_prob: float | None = Field(default=None, ge=0, le=1)
    classify_correct_prob: float | None = Field(default=None, ge=0, le=1)
    status_interval_s: float | None = Field(default=None, gt=0)
    latency_s: float | None = Field(default=None, ge=0)
    outages_s: list[Outage] = Field(default_factory=list)  # [[start, end], …]: sends nothing
    clock_offset_s: float | None = None  # its clock minus true time
    sector_centre_deg: float | None = None  # azimuth coverage (true), default all round
    sector_width_deg: float | None = Field(default=None, gt=0, le=360)

    def config(self, origin: SiteOrigin) -> RadarConfig:
        """The radar's simulator configuration."""
        lat, lon, alt = _geodetic(origin, self.position)
        overrides = self.model_dump(
            exclude={"node_id", "name", "position", "outages_s"}, exclude_none=True
        )
        return RadarConfig(
            outages_s=tuple(tuple(o) for o in self.outages_s),  # type: ignore[misc]
            node_id=str(self.node_id),
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            name=self.name,
            **overrides,
        )


class BearingSensorSection(_Strict):
    """An angle-only SAPIENT node: an RF direction finder or an acoustic array.

    Unset parameters keep the kind's defaults (``BearingSensorConfig``, or its ``acoustic``).
    """

    node_id: UUID
    name: str | None = None
    position: SensorPoint
    period_s: float | None = Field(default=None, gt=0)
    max_range_m: float | None = Field(default=None, gt=0)
    azimuth_std_deg: float | None = Field(default=None, ge=0)
    pd: float | None = Field(default=None, ge=0, le=1)
    false_alarms_per_scan: float | None = Field(default=None, ge=0)
    classify_confidence: float | None = Field(default=None, ge=0, le=1)
    status_interval_s: float | None = Field(default=None, gt=0)
    latency_s: float | None = Field(default=None, ge=0)
    outages_s: list[Outage] = Field(default_factory=list)
    clock_offset_s: float | None = None

    def config(
        self, origin: SiteOrigin, kind: Literal["rf", "acoustic", "camera"]
    ) -> BearingSensorConfig:
        """The sensor's simulator configuration: its kind's defaults, then what the file sets."""
        lat, lon, alt = _geodetic(origin, self.position)
        base = self._defaults(str(self.node_id), lat, lon, alt, kind)
        overrides = self.model_dump(
            exclude={"node_id", "position", "outages_s", "night"}, exclude_none=True
        )
        return dataclasses.replace(
            base, outages_s=tuple((a, b) for a, b in self.outages_s), **overrides
        )

    def _defaults(
        self, node_id: str, lat: float, lon: float, alt: float, kind: str
    ) -> BearingSensorConfig:
        if kind == "acoustic":
            return BearingSensorConfig.acoustic(node_id, lat, lon, alt)
        return BearingSensorConfig(node_id, lat, lon, alt, kind="rf")


class CameraSection(BearingSensorSection):
    """An EO/IR camera: a bearing sensor with elevation, class reports and a field of view.

    ``night: true`` starts from the thermal channel's night figures (a third of the range,
    poorer classification) — the "camera degraded" case.
    """

    night: bool = False
    elevation_std_deg: float | None = Field(default=None, ge=0)
    fov_centre_deg: float | None = None
    fov_width_deg: float | None = Field(default=None, gt=0, le=360)
    slew_rate_deg_s: float | None = Field(default=None, ge=0)  # > 0: on a pan head, cueable

    def _defaults(
        self, node_id: str, lat: float, lon: float, alt: float, kind: str
    ) -> BearingSensorConfig:
        return BearingSensorConfig.camera(node_id, lat, lon, alt, night=self.night)


class ReceiverSection(_Strict):
    """A simulated Remote ID receiver; unset parameters keep the defaults."""

    id: str = Field(min_length=1)
    position: SensorPoint
    range_m: float | None = Field(default=None, gt=0)
    p_receive: float | None = Field(default=None, ge=0, le=1)
    gnss_std_m: float | None = Field(default=None, ge=0)
    latency_s: float | None = Field(default=None, ge=0)
    clock_offset_s: float | None = None

    def config(self, origin: SiteOrigin) -> RemoteIdReceiverConfig:
        """The receiver's simulator configuration."""
        lat, lon, alt = _geodetic(origin, self.position)
        overrides = self.model_dump(exclude={"id", "position"}, exclude_none=True)
        return RemoteIdReceiverConfig(
            receiver_id=self.id, lat_deg=lat, lon_deg=lon, alt_m=alt, **overrides
        )


class WaypointsSection(_Strict):
    """Straight legs between waypoints, one ground speed per leg."""

    waypoints: list[LocalPoint] = Field(min_length=2)
    speeds_ms: list[float] = Field(min_length=1)
    t_start_s: float = 0.0
    hover_at_end: bool = True

    @model_validator(mode="after")
    def _legs(self) -> WaypointsSection:
        if len(self.speeds_ms) != len(self.waypoints) - 1:
            raise ValueError(
                f"{len(self.waypoints)} waypoints need {len(self.waypoints) - 1} speeds_ms"
                f" (one per leg), not {len(self.speeds_ms)}"
            )
        if any(v <= 0 for v in self.speeds_ms):
            raise ValueError("speeds_ms must all be positive")
        return self

    def trajectory(self) -> WaypointPath:
        """The path in ENU."""
        return WaypointPath(
            points_m=tuple(p.enu() for p in self.waypoints),
            speeds_ms=tuple(self.speeds_ms),
            t_start_s=self.t_start_s,
            hover_at_end=self.hover_at_end,
        )


class OrbitCentre(_Strict):
    """Orbit centre as a polar point on the ground (bearing, distance)."""

    bearing_deg: float
    distance_m: float = Field(ge=0)


class OrbitBody(_Strict):
    """A counter-clockwise circle at constant height and speed."""

    centre: OrbitCentre
    radius_m: float = Field(gt=0)
    speed_ms: float = Field(gt=0)
    height_m: float
    t_start_s: float = 0.0
    phase_deg: float = 0.0
    climb_ms: float = 0.0  # a helix: a bird soaring in a thermal
    max_height_m: float | None = None


class OrbitSection(_Strict):
    """``path: {orbit: {...}}``."""

    orbit: OrbitBody

    def trajectory(self) -> Orbit:
        """The orbit in ENU."""
        o = self.orbit
        east, north, _ = polar(o.centre.bearing_deg, o.centre.distance_m)
        return Orbit(
            centre_m=(east, north),
            radius_m=o.radius_m,
            speed_ms=o.speed_ms,
            height_m=o.height_m,
            t_start_s=o.t_start_s,
            phase_rad=math.radians(o.phase_deg),
            climb_ms=o.climb_ms,
            max_height_m=math.inf if o.max_height_m is None else o.max_height_m,
        )


class FlightLogBody(_Strict):
    """A recorded flight: the log file and how to fly it; the log is read during validation."""

    file: str = Field(min_length=1)
    format: Literal["ardupilot", "px4", "csv", "dji-srt"] | None = None  # None: from the suffix
    t_start_s: float = Field(default=0.0, allow_inf_nan=False)  # scenario time of the 1st sample
    relocate_to: LocalPoint | None = None  # place the first sample here instead of where it was
    geoid_undulation_m: float = Field(default=0.0, allow_inf_nan=False)  # added to AMSL heights
    takeoff_alt_m: float = Field(default=0.0, allow_inf_nan=False)  # for heights above take-off
    time_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)  # 2: replay twice as fast
    _log: FlightLog | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> FlightLogBody:
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base_dir") or _BASE_DIR.get()
        path = Path(self.file)
        if base is not None and not path.is_absolute():
            path = Path(base) / path
        try:
            self._log = load_flight_log(
                path,
                self.format,
                geoid_undulation_m=self.geoid_undulation_m,
                takeoff_alt_m=self.takeoff_alt_m,
            )
        except FlightLogError as exc:
            # Raised as a located error so that the report points at the ``file:`` line.
            detail = InitErrorDetails(
                type=PydanticCustomError("flight_log", "{problem}", {"problem": str(exc)}),
                loc=("file",),
                input=self.file,
            )
            raise ValidationError.from_exception_data(type(self).__name__, [detail]) from None
        return self

    @property
    def log(self) -> FlightLog:
        """The flight log read from ``file``."""
        if self._log is None:  # only a model built without validation lacks it
            raise ValueError(f"flight log {self.file!r} was not read")
        return self._log


class FlightLogSection(_Strict):
    """``path: {flight_log: {...}}``."""

    flight_log: FlightLogBody

    def trajectory(self, origin: SiteOrigin) -> FlightLogPath:
        """The logged flight in the site's ENU frame."""
        body = self.flight_log
        return FlightLogPath(
            log=body.log,
            origin=origin,
            t_start_s=body.t_start_s,
            shift_enu_m=body.relocate_to.enu() if body.relocate_to else (0.0, 0.0, 0.0),
            relocate=body.relocate_to is not None,
            time_scale=body.time_scale,
        )


def _path_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        if isinstance(value, OrbitSection):
            return "<orbit>"
        return "<flight_log>" if isinstance(value, FlightLogSection) else "<waypoints>"
    if not isinstance(value, dict):
        return None
    if "orbit" in value:
        return "<orbit>"
    return "<flight_log>" if "flight_log" in value else "<waypoints>"


PathSection = Annotated[
    Annotated[WaypointsSection, Tag("<waypoints>")]
    | Annotated[OrbitSection, Tag("<orbit>")]
    | Annotated[FlightLogSection, Tag("<flight_log>")],
    Discriminator(_path_kind),
]


class RemoteIdSection(_Strict):
    """Broadcast Remote ID fitted to a target."""

    uas_id: str = Field(min_length=1)
    mac: str = Field(pattern=r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
    operator: LocalPoint
    operator_id: str = ""
    description: str = ""
    spoof_offset: EnuPoint | None = None  # a spoofer: broadcast this far from its true position


class AdsbSection(_Strict):
    """An ADS-B Out transponder fitted to a target."""

    icao: str = Field(pattern=r"^[0-9A-Fa-f]{6}$")
    callsign: str = Field(default="", pattern=r"^[A-Za-z0-9 ]{0,8}$")


class AdsbReceiverSection(_Strict):
    """A simulated 1090 MHz ADS-B receiver; unset parameters keep the defaults."""

    id: str = Field(min_length=1)
    position: SensorPoint
    range_m: float | None = Field(default=None, gt=0)
    p_receive: float | None = Field(default=None, ge=0, le=1)
    latency_s: float | None = Field(default=None, ge=0)

    def config(self, origin: SiteOrigin) -> AdsbReceiverConfig:
        """The receiver's simulator configuration."""
        lat, lon, alt = _geodetic(origin, self.position)
        overrides = self.model_dump(exclude={"id", "position"}, exclude_none=True)
        return AdsbReceiverConfig(
            receiver_id=self.id, lat_deg=lat, lon_deg=lon, alt_m=alt, **overrides
        )


class FailsafeSection(_Strict):
    """A drone's failsafe: what it does once its link is jammed (hover, land, return home).

    With ``at_s`` the link is jammed at that time whatever happens (a scripted scenario);
    without it the behaviour waits for a simulated jammer to take the link, ``delay_s`` after.
    """

    at_s: float | None = Field(default=None, ge=0)
    behaviour: Literal["hover", "land", "return_home"]
    delay_s: float = Field(default=1.5, ge=0)  # link-loss timeout before it acts
    gnss_behaviour: Literal["hover", "land", "return_home"] = "land"
    home: LocalPoint | None = None  # return_home: default where the drone first appears
    speed_ms: float = Field(default=10.0, gt=0)
    descent_ms: float = Field(default=2.0, gt=0)

    def wrap(self, base: Trajectory) -> Trajectory:
        """The target's path with a scripted failsafe (``at_s``), else the path unchanged."""
        if self.at_s is None:
            return base
        home = self.home.enu() if self.home is not None else first_position(base)
        if home is None:
            raise ValueError("the path never exists in its first hour: no home to return to")
        return Failsafe(base, self.at_s, self.behaviour, home, self.speed_ms, self.descent_ms)

    def link_loss(self) -> LinkLoss:
        """The settings a simulated jammer triggers."""
        return LinkLoss(
            behaviour=self.behaviour,
            delay_s=self.delay_s,
            home_m=self.home.enu() if self.home is not None else None,
            speed_ms=self.speed_ms,
            descent_ms=self.descent_ms,
            gnss_behaviour=self.gnss_behaviour,
        )


class RfLinkSection(_Strict):
    """``rf_link``: what an RF detector reads of the drone's radio link."""

    protocol: str = Field(min_length=1)  # e.g. "DJI OcuSync 2", "ExpressLRS 2.4 GHz"
    serial: str | None = Field(default=None, min_length=1)  # if the link carries it (DroneID)
    centre_mhz: float = Field(default=2440.0, gt=0)
    bandwidth_mhz: float = Field(default=10.0, gt=0)
    eirp_dbm: float = Field(default=20.0, allow_inf_nan=False)
    pilot: LocalPoint | None = None  # where the controller is (default: the take-off point)
    jam_margin_db: float = Field(default=6.0, allow_inf_nan=False)
    model: str | None = Field(default=None, min_length=1)  # the model a detector fingerprints

    def link(self) -> RfLink:
        """The simulator's link."""
        return RfLink(
            **self.model_dump(exclude={"pilot"}),
            pilot_m=self.pilot.enu() if self.pilot is not None else None,
        )


class TargetSection(_Strict):
    """One simulated object."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    object_class: Literal["drone", "bird", "aircraft"] = Field(alias="class")
    rcs_m2: float = Field(gt=0)
    role: str = ""
    path: PathSection
    remote_id: RemoteIdSection | None = None
    emits_rf: bool = True  # false: an autonomous drone, silent to RF detectors
    rf_link: RfLinkSection | None = None  # protocol/serial an RF detector reads of its link
    adsb: AdsbSection | None = None
    failsafe: FailsafeSection | None = None  # what it does when its link is jammed
    gnss_nav: bool = True  # false: it navigates without GNSS (GNSS jamming does not touch it)

    def target(self, origin: SiteOrigin) -> Target:
        """The simulator's target; ``origin`` places a logged flight in the site's ENU frame."""
        path: Trajectory = (
            self.path.trajectory(origin)
            if isinstance(self.path, FlightLogSection)
            else self.path.trajectory()
        )
        if self.failsafe is not None:
            path = self.failsafe.wrap(path)
        rid = None
        if self.remote_id is not None:
            r = self.remote_id
            rid = RemoteIdEquipment(
                uas_id=r.uas_id,
                mac=r.mac,
                operator_enu_m=r.operator.enu(),
                operator_id=r.operator_id,
                description=r.description,
                spoof_offset_m=r.spoof_offset.enu() if r.spoof_offset else (0.0, 0.0, 0.0),
            )
        return Target(
            self.name,
            ObjectClass[self.object_class.upper()],
            rcs_m2=self.rcs_m2,
            path=path,
            role=self.role,
            remote_id=rid,
            emits_rf=self.emits_rf,
            rf_link=self.rf_link.link() if self.rf_link is not None else None,
            adsb=AdsbEquipment(self.adsb.icao.upper(), self.adsb.callsign) if self.adsb else None,
            link_loss=self.failsafe.link_loss() if self.failsafe is not None else None,
            gnss_nav=self.gnss_nav,
        )


class FlockSection(_Strict):
    """A flock of birds drawn from the scenario seed (see ``scenario.flock``)."""

    name: str = Field(min_length=1)  # birds are named "<name> 1" … "<name> <count>"
    count: int = Field(ge=1)
    rcs_m2: tuple[float, float] = (0.005, 0.02)
    spread_m: float = Field(default=60.0, ge=0)
    vertical_spread_m: float = Field(default=10.0, ge=0)
    sway_m: tuple[float, float] = (3.0, 10.0)
    period_s: tuple[float, float] = (6.0, 12.0)
    path: WaypointsSection
    insert_before: str | None = None  # place the flock before this target, else after all

    @model_validator(mode="after")
    def _ranges(self) -> FlockSection:
        for key in ("rcs_m2", "sway_m", "period_s"):
            lo, hi = getattr(self, key)
            if not 0 < lo <= hi:
                raise ValueError(f"{key} must be [low, high] with 0 < low <= high")
        return self

    def birds(self, rng: np.random.Generator) -> tuple[Target, ...]:
        """The birds, drawing from ``rng`` exactly as ``default_scenario`` does."""
        return flock(
            self.name,
            self.path.trajectory(),
            self.count,
            rng,
            rcs_m2=self.rcs_m2,
            spread_m=self.spread_m,
            vertical_spread_m=self.vertical_spread_m,
            sway_m=self.sway_m,
            period_s=self.period_s,
        )


class SwarmSection(_Strict):
    """Drones flying one path in formation (see ``scenario.swarm``)."""

    name: str = Field(min_length=1)  # drones are named "<name> 1" … "<name> <count>"
    count: int = Field(ge=1, le=5000)
    formation: Literal["grid", "line", "column", "vee", "ring"] = "grid"
    spacing_m: float = Field(default=25.0, gt=0)
    rcs_m2: tuple[float, float] = (0.01, 0.03)
    jitter_m: float = Field(default=1.5, ge=0)
    role: str = "intruder"
    emits_rf: bool = True
    path: WaypointsSection

    @model_validator(mode="after")
    def _range(self) -> SwarmSection:
        lo, hi = self.rcs_m2
        if not 0 < lo <= hi:
            raise ValueError("rcs_m2 must be [low, high] with 0 < low <= high")
        return self

    def drones(self, rng: np.random.Generator) -> tuple[Target, ...]:
        """The swarm's drones, drawing from ``rng``."""
        return swarm(
            self.name, self.path.trajectory(), self.count, rng, formation=self.formation,
            spacing_m=self.spacing_m, rcs_m2=self.rcs_m2, jitter_m=self.jitter_m,
            role=self.role, emits_rf=self.emits_rf,
        )  # fmt: skip


class WeatherSection(_Strict):
    """``weather``: rain, fog and the clutter level over the site (``sim.weather``)."""

    clutter: Literal["none", "light", "moderate", "heavy"] | float = "moderate"
    rain_mm_h: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    visibility_m: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # None: clear

    @field_validator("clutter")
    @classmethod
    def _factor(cls, v: str | float) -> str | float:
        if isinstance(v, float) and not (v >= 0 and math.isfinite(v)):
            raise ValueError("a clutter factor must be finite and >= 0")
        return v

    def weather(self) -> Weather:
        """The simulator's weather."""
        factor = CLUTTER_LEVELS[self.clutter] if isinstance(self.clutter, str) else self.clutter
        vis = math.inf if self.visibility_m is None else self.visibility_m
        return Weather(clutter=factor, rain_mm_h=self.rain_mm_h, visibility_m=vis)


class EffectorSection(EffectorFigures):
    """An effector on site (``counter.catalogue``); unset figures keep its kind's defaults."""

    position: LocalPoint

    def spec(self) -> EffectorSpec:
        """The catalogue entry."""
        return self.build(self.position.enu())


class OperatorSection(_Strict):
    """The simulated duty operator: logs in with a role and decides on recommendations.

    ``decision: approve`` approves a recommendation's best usable option once it has waited
    ``reaction_s``; ``reject`` declines it; ``none`` leaves every recommendation pending. The
    operator logs in through the same authority as a person at the console; a role without
    the right to approve is refused, as it would be there.
    """

    username: str = Field(default="duty-officer", min_length=1)
    role: Literal["viewer", "operator", "commander"] = "commander"
    reaction_s: float = Field(default=10.0, ge=0)
    decision: Literal["approve", "reject", "none"] = "approve"

    def policy(self) -> OperatorPolicy:
        """The simulator's operator."""
        return OperatorPolicy(**self.model_dump())


class ScenarioSection(_Strict):
    """A whole scenario file."""

    name: str = Field(min_length=1)
    seed: int = Field(ge=0)
    duration_s: float = Field(gt=0)
    epoch: AwareDatetime
    site: SiteSection
    zones: list[ZoneSection] = Field(default_factory=list)
    radars: list[RadarSection] = Field(default_factory=list)
    remoteid_receivers: list[ReceiverSection] = Field(default_factory=list)
    adsb_receivers: list[AdsbReceiverSection] = Field(default_factory=list)
    rf_detectors: list[BearingSensorSection] = Field(default_factory=list)
    acoustic_arrays: list[BearingSensorSection] = Field(default_factory=list)
    cameras: list[CameraSection] = Field(default_factory=list)
    targets: list[TargetSection] = Field(default_factory=list)
    flocks: list[FlockSection] = Field(default_factory=list)
    swarms: list[SwarmSection] = Field(default_factory=list)
    weather: WeatherSection = Field(default_factory=WeatherSection)
    effectors: list[EffectorSection] = Field(default_factory=list)
    operator: OperatorSection | None = None  # None: nobody decides on recommendations
    no_fire_areas: list[ZoneSection] = Field(default_factory=list)  # where nothing may fall
    authorised: list[AuthorisedEntry] = Field(default_factory=list)  # as in a site file
    policy: PolicySection = Field(default_factory=PolicySection)
    # The operator's reaction time the node plans its proposals with (a site file's
    # approval.reaction_s); the simulated operator's own is operator.reaction_s.
    reaction_s: float = Field(default=REACTION_S, ge=0, le=600)

    @model_validator(mode="after")
    def _names(self) -> ScenarioSection:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError("target names must be unique")
        for f in self.flocks:
            if f.insert_before is not None and f.insert_before not in names:
                raise ValueError(f"flock {f.name!r}: insert_before names no target")
        eff = [e.name for e in self.effectors]
        if len(set(eff)) != len(eff):
            raise ValueError("effector names must be unique")
        return self

    def scenario(self) -> Scenario:
        """Build the ``Scenario``; flocks draw from ``default_rng(seed)`` in file order."""
        origin = SiteOrigin(self.site.lat, self.site.lon, self.site.alt_m)
        rng = np.random.default_rng(self.seed)
        targets = [t.target(origin) for t in self.targets]
        for f in self.flocks:
            birds = f.birds(rng)
            if f.insert_before is None:
                targets.extend(birds)
            else:
                at = next(k for k, t in enumerate(targets) if t.name == f.insert_before)
                targets[at:at] = birds
        for sw in self.swarms:  # after the flocks, so adding a swarm leaves the birds as drawn
            targets.extend(sw.drones(rng))
        return Scenario(
            name=self.name,
            origin=origin,
            zones=tuple(z.zone(origin) for z in self.zones),
            radars=tuple(r.config(origin) for r in self.radars),
            remoteid_receivers=tuple(r.config(origin) for r in self.remoteid_receivers),
            targets=tuple(targets),
            duration_s=self.duration_s,
            epoch_s=self.epoch.timestamp(),
            seed=self.seed,
            bearing_sensors=tuple(r.config(origin, "rf") for r in self.rf_detectors)
            + tuple(a.config(origin, "acoustic") for a in self.acoustic_arrays)
            + tuple(c.config(origin, "camera") for c in self.cameras),
            adsb_receivers=tuple(a.config(origin) for a in self.adsb_receivers),
            weather=self.weather.weather(),
            effectors=tuple(e.spec() for e in self.effectors),
            operator=self.operator.policy() if self.operator is not None else None,
            no_fire=tuple(z.zone(origin) for z in self.no_fire_areas),
            authorisations=Authorisations(self.authorised, self.policy.cooperative_unlisted),
            reaction_s=self.reaction_s,
        )


# --- loading and error reporting ----------------------------------------------------------------


def load_scenario_file(path: str | Path, seed: int | None = None) -> Scenario:
    """Read, validate and build a scenario file; raises ``ScenarioFileError`` with a line.

    ``seed`` overrides the file's: flocks and swarms are drawn from it too (a Monte Carlo run
    of the same file).
    """
    path = Path(path)
    token = _BASE_DIR.set(path.parent)
    try:
        section = load_yaml_model(path, ScenarioSection, ScenarioFileError)
    finally:
        _BASE_DIR.reset(token)
    if seed is not None:
        section = section.model_copy(update={"seed": seed})
    try:
        return section.scenario()
    except ValueError as exc:  # a model the simulator refuses (e.g. a zero-length leg)
        raise ScenarioFileError(f"{path}: {exc}") from None
