"""Target motion: trajectories in site ENU (metres, seconds) that any sensor model can sample.

A trajectory answers ``state(t_s)`` with position and velocity, or ``None`` while the target does
not exist (before take-off, after it has left). Shapes are simple on purpose — waypoints at a
leg speed, orbits, a wander on top of a base path — and enough to make quadcopters approach and
hover, birds weave in a flock and airliners fly straight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from luchtwacht.model.detection import ObjectClass

if TYPE_CHECKING:
    from luchtwacht.sim.adsb import AdsbEquipment

F64 = NDArray[np.float64]


class Trajectory(Protocol):
    """Anything that yields (position, velocity) in ENU at a time, or None when absent."""

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """Position (m) and velocity (m/s) in ENU at ``t_s`` (scenario seconds)."""
        ...


@dataclass(frozen=True, slots=True)
class WaypointPath:
    """Straight legs between ENU waypoints, each flown at its own ground speed.

    After the last waypoint the target hovers there (``hover_at_end``) or disappears.
    """

    points_m: tuple[tuple[float, float, float], ...]
    speeds_ms: tuple[float, ...]
    t_start_s: float = 0.0
    hover_at_end: bool = True
    _times: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.speeds_ms) != len(self.points_m) - 1:
            raise ValueError("one speed per leg")
        times = [self.t_start_s]
        for (a, b), v in zip(_pairs(self.points_m), self.speeds_ms, strict=True):
            times.append(times[-1] + math.dist(a, b) / v)
        object.__setattr__(self, "_times", tuple(times))

    @property
    def t_end_s(self) -> float:
        """Time the last waypoint is reached."""
        return self._times[-1]

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """Position/velocity along the legs (see class doc)."""
        if t_s < self.t_start_s:
            return None
        for k in range(len(self.speeds_ms)):
            t0, t1 = self._times[k], self._times[k + 1]
            if t_s <= t1:
                a, b = np.asarray(self.points_m[k]), np.asarray(self.points_m[k + 1])
                frac = (t_s - t0) / (t1 - t0) if t1 > t0 else 1.0
                return a + frac * (b - a), (b - a) / max(t1 - t0, 1e-9)
        if self.hover_at_end:
            return np.asarray(self.points_m[-1], dtype=float), np.zeros(3)
        return None


@dataclass(frozen=True, slots=True)
class Orbit:
    """Circle at constant speed (loitering hobby drone); counter-clockwise.

    With ``climb_ms`` the circle becomes a helix, as a bird soaring in a thermal climbs
    (until ``max_height_m``, where it keeps circling).
    """

    centre_m: tuple[float, float]
    radius_m: float
    speed_ms: float
    height_m: float
    t_start_s: float = 0.0
    phase_rad: float = 0.0
    climb_ms: float = 0.0
    max_height_m: float = math.inf

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """Position/velocity on the circle."""
        if t_s < self.t_start_s:
            return None
        w = self.speed_ms / self.radius_m
        a = self.phase_rad + w * (t_s - self.t_start_s)
        h = self.height_m + self.climb_ms * (t_s - self.t_start_s)
        climbing = h < self.max_height_m
        pos = np.array(
            [
                self.centre_m[0] + self.radius_m * math.cos(a),
                self.centre_m[1] + self.radius_m * math.sin(a),
                h if climbing else self.max_height_m,
            ]
        )
        vz = self.climb_ms if climbing else 0.0
        vel = np.array([-self.speed_ms * math.sin(a), self.speed_ms * math.cos(a), vz])
        return pos, vel


@dataclass(frozen=True, slots=True)
class Failsafe:
    """A drone's path until its link is jammed at ``at_s``, then its failsafe behaviour.

    ``hover``: it stops where it is and holds; ``land``: it descends where it is at
    ``descent_ms`` and is gone on the ground; ``return_home``: it flies straight back over
    ``home_m`` at ``speed_ms`` at its present height, then lands there. These are what flight
    controllers do on link loss (ArduPilot FS_THR_ACTION, PX4 NAV_RCL_ACT: hold, land, return
    to launch).
    """

    base: Trajectory
    at_s: float
    behaviour: str  # "hover", "land" or "return_home"
    home_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    speed_ms: float = 10.0
    descent_ms: float = 2.0

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """The base path before the jamming, the failsafe after it."""
        if t_s < self.at_s:
            return self.base.state(t_s)
        s0 = self.base.state(self.at_s)
        if s0 is None:
            return None
        p0 = s0[0]
        dt = t_s - self.at_s
        zero = np.zeros(3)
        if self.behaviour == "hover":
            return p0.copy(), zero
        if self.behaviour == "land":
            return _descend(p0, dt, self.descent_ms)
        if self.behaviour == "return_home":
            home = np.array([self.home_m[0], self.home_m[1], p0[2]])
            leg = home - p0
            dist = float(np.linalg.norm(leg))
            t_leg = dist / self.speed_ms
            if dt < t_leg:
                v = leg / t_leg
                return p0 + v * dt, v
            return _descend(home, dt - t_leg, self.descent_ms, floor=self.home_m[2])
        raise ValueError(f"unknown failsafe {self.behaviour!r}: hover, land or return_home")


def _descend(p: F64, dt: float, rate: float, floor: float = 0.0) -> tuple[F64, F64] | None:
    """Straight down from ``p`` at ``rate``; None once on the ground (``floor``)."""
    h = p[2] - rate * dt
    if h <= floor:
        return None
    return np.array([p[0], p[1], h]), np.array([0.0, 0.0, -rate])


@dataclass(frozen=True, slots=True)
class Wander:
    """A base path plus a fixed offset and a sinusoidal sway (a bird in a flock)."""

    base: WaypointPath
    offset_m: tuple[float, float, float]
    sway_m: float
    period_s: float
    phase_rad: float

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """Base state shifted by the offset and a horizontal sway across the direction of flight."""
        s = self.base.state(t_s)
        if s is None:
            return None
        pos, vel = s
        speed = float(np.hypot(vel[0], vel[1]))
        across = np.array([-vel[1], vel[0], 0.0]) / speed if speed > 0 else np.zeros(3)
        w = 2 * math.pi / self.period_s
        sway = self.sway_m * math.sin(w * t_s + self.phase_rad)
        dsway = self.sway_m * w * math.cos(w * t_s + self.phase_rad)
        return pos + np.asarray(self.offset_m) + sway * across, vel + dsway * across


@dataclass(frozen=True, slots=True)
class RemoteIdEquipment:
    """Broadcast Remote ID fitted to a target (ASTM F3411): identity and operator position."""

    uas_id: str  # ANSI/CTA-2063-A serial number
    mac: str
    operator_enu_m: tuple[float, float, float]
    operator_id: str = ""
    description: str = ""
    # A spoofer broadcasts a position this far (ENU metres) from where it really is; the radio
    # still comes from its true position.
    spoof_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class RfLink:
    """A drone's control/video radio link as an RF detector reads it.

    ``protocol`` is what fingerprinting names (e.g. "DJI OcuSync 2", "ExpressLRS"); ``serial``
    what the link itself carries, if the detector can decode it (DJI DroneID does; most do not);
    the carrier (centre and bandwidth, MHz) and the transmitter's EIRP set what the detector
    receives. A jammer breaks the link when its power at the drone exceeds the controller's by
    ``jam_margin_db`` (frequency hopping and coding buy a link a few dB); the controller is
    at ``pilot_m``, or at the drone's take-off point.
    """

    protocol: str
    serial: str | None = None
    centre_mhz: float = 2440.0
    bandwidth_mhz: float = 10.0
    eirp_dbm: float = 20.0  # either end's: the controller's uplink is taken to match it
    pilot_m: tuple[float, float, float] | None = None  # where the controller is (None: home)
    jam_margin_db: float = 6.0  # the jam-to-signal ratio at the drone that breaks the link
    # The model an RF detector's fingerprint library names for this link (reported as the
    # SAPIENT classification's sub-class, e.g. "DJI Mavic 3"); None: it names none.
    model: str | None = None


@dataclass(frozen=True, slots=True)
class LinkLoss:
    """A drone's failsafe settings: what it does, and how soon, once its link is lost.

    ``behaviour`` is hover, land or return_home (ArduPilot FS_THR_ACTION, PX4 NAV_RCL_ACT);
    ``delay_s`` the link-loss timeout before it acts (ArduPilot FS_THR_TIMEOUT, PX4
    COM_RC_LOSS_T). ``home_m`` is where return_home flies to (None: where it took off).
    ``gnss_behaviour`` is what it does when GNSS is denied instead (ArduPilot FS_EKF_ACTION:
    land by default).
    """

    behaviour: str = "return_home"
    delay_s: float = 1.5
    home_m: tuple[float, float, float] | None = None
    speed_ms: float = 10.0
    descent_ms: float = 2.0
    gnss_behaviour: str = "land"


@dataclass(frozen=True, slots=True)
class Target:
    """One simulated object: its truth class, radar cross-section and motion."""

    name: str
    true_class: ObjectClass
    rcs_m2: float
    path: Trajectory
    role: str = ""  # scenario role, e.g. "intruder", "cooperative", "bird", "airliner"
    remote_id: RemoteIdEquipment | None = None
    emits_rf: bool = True  # a drone's control/video link is on the air (not an autonomous one)
    rf_link: RfLink | None = None  # what its link says, when an RF detector can read it
    adsb: AdsbEquipment | None = None  # an ADS-B Out transponder (airliners, helicopters)
    link_loss: LinkLoss | None = None  # what its flight controller does when its link is jammed
    gnss_nav: bool = True  # it navigates by GNSS (GNSS jamming denies it) — not inertial-only


def first_position(
    path: Trajectory, horizon_s: float = 3600.0
) -> tuple[float, float, float] | None:
    """Where a path first exists (a drone's take-off point), searched second by second."""
    for t in range(int(horizon_s) + 1):
        s = path.state(float(t))
        if s is not None:
            return (float(s[0][0]), float(s[0][1]), float(s[0][2]))
    return None


def _pairs(
    points: tuple[tuple[float, float, float], ...],
) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    return list(pairwise(points))
