"""Track and alert views handed to the edges (console, store, summary); the tracker keeps arrays."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ThreatLevel(IntEnum):
    """Operator-facing threat level of a track; ordered so max() picks the worst."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        """Lower-case name for summaries and the store."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class TrackView:
    """One confirmed track at one time, in both frames, with identity and threat."""

    track_id: int
    t_s: float
    lat_deg: float
    lon_deg: float
    alt_m: float
    east_m: float
    north_m: float
    up_m: float
    speed_ms: float
    heading_deg: float
    climb_ms: float
    object_class: str  # "drone", "bird", "aircraft", "clutter" or "unknown"
    class_prob: float
    cooperative: bool
    uas_id: str | None  # Remote ID UAS ID of a cooperative drone
    threat: ThreatLevel
    zones_inside: tuple[str, ...]
    time_to_breach_s: float | None
    pos_std_m: float
    icao: str | None = None  # Mode S address (hex) of a cooperative aircraft
    sensors: tuple[str, ...] = ()  # the sensors whose reports updated this track, ever
    rf_protocol: str | None = None  # the radio link an RF detector fingerprinted
    rf_serial: str | None = None  # …and the serial number it decoded from it
    rf_band_mhz: tuple[float, float] | None = None  # …and the band it measured the link in
    own_asset: str | None = None  # one of ours: the airborne effector (interceptor) it follows
    # 1-sigma horizontal position uncertainty: semi-major and semi-minor axes (m) and the major
    # axis' bearing (degrees clockwise from true north, 0..180).
    ellipse_m: tuple[float, float, float] | None = None
    class_probs: tuple[tuple[str, float], ...] = ()  # every class and its probability, best first
    class_reasons: tuple[str, ...] = ()  # why the classifier decided so, in words
    alt_std_m: float | None = None  # 1-sigma vertical position uncertainty (CoT ``le``)
    authorised: bool = False  # on the site's whitelist, valid now and here: friendly
    authorisation: str | None = None  # the whitelist entry's name, or why it is not authorised
    coop_intruder: bool = False  # a Remote ID drone not authorised: an intruder by site policy
    make_model: str | None = None  # make (and link family) with a confidence word, if evidenced
    make_evidence: tuple[str, ...] = ()  # …and the evidence for it in words (serial, RF link)
    swarm_id: int | None = None  # the swarm it flies in (threat.swarm), None: on its own
    drone_kind: str | None = None  # a drone's sub-class: "multirotor", "fixed-wing" or None
    # 1-sigma uncertainty of the ground course (deg) from the filter's velocity covariance
    # across the track: how far the heading may be off (90 at a standstill). None: not known.
    course_std_deg: float | None = None
    # Where its pilot stands (identify.pilot): WGS84, the 1-sigma horizontal ellipse (semi-major,
    # semi-minor m, major axis' bearing deg) and its semi-major, whence ("remote id" or "rf
    # bearings (n detectors)") and how old the newest evidence is (s). None: no estimate.
    pilot_lat_deg: float | None = None
    pilot_lon_deg: float | None = None
    pilot_err_m: float | None = None
    pilot_ellipse_m: tuple[float, float, float] | None = None
    pilot_source: str | None = None
    pilot_age_s: float | None = None


class AlertState(IntEnum):
    """Alert lifecycle: raised → (acknowledged by an operator) → cleared."""

    ACTIVE = 0
    ACKNOWLEDGED = 1
    CLEARED = 2


@dataclass(slots=True)
class Alert:
    """An alert about one track (or one swarm) and one zone; mutable only through the manager."""

    alert_id: int
    track_id: int
    zone: str
    level: ThreatLevel
    kind: str  # "approach" (predicted breach) or "breach" (inside the zone)
    raised_t_s: float
    updated_t_s: float
    object_class: str
    uas_id: str | None
    state: AlertState = AlertState.ACTIVE
    cleared_t_s: float | None = None
    acknowledged_by: str | None = None
    message: str = ""
    swarm_id: int | None = None  # a swarm alert: the swarm (``track_id`` is its lead member)
    members: tuple[int, ...] = ()  # …and every member track it names


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition another stage found (a Remote ID spoof): one alert under ``key`` while it holds.

    The stage that finds it has confirmed it already; the alert manager raises it, keeps its text
    current and clears it ``clear_hold_s`` after it is no longer found.
    """

    key: str  # the same condition keeps the same alert, e.g. "spoof:<UAS ID>"
    track_id: int  # the track it concerns (for a spoof: the independent track nearest the claim)
    kind: str  # "spoof"
    level: ThreatLevel
    object_class: str
    uas_id: str | None
    message: str
    distance_m: float = float("nan")  # how far the claim is from the track it is judged against
    duration_s: float = 0.0  # how long the condition has held
