"""Simulated effectors: SAPIENT effector nodes whose effects change the simulated drones' flight.

Each :class:`EffectorSim` is a BSI Flex 335 v2.0 edge node of node type JAMMER (RF and GNSS
jammers) or KINETIC (net launcher, interceptor drone, hard kill). It registers with two modes,
``Standby`` and ``Engage``, and the LOOK_AT and MODE_CHANGE commands; it sends a StatusReport
every ``status_interval_s`` with its mode, its location and, if it has one, ``Magazine <n>``.
It answers each Task addressed to it with a TaskAck: a ``look_at`` location aims it, a
``mode_change`` to ``Engage`` (only once aimed) or ``Standby`` starts or stops it; anything else
is rejected with the reason. It never acts on its own: without an Engage task it does nothing.

While engaged, every simulator tick (:meth:`EffectorSim.scan`) it acts on the *true* targets,
as the real thing would, through :meth:`luchtwacht.sim.effects.Countered.apply`:

* **RF jammer**: every drone with its link on the air (``emits_rf``) inside the beam (centred
  on the aim point) and range, whose link's band (its ``rf_link`` carrier, 2.4 GHz ISM if none
  is given) overlaps one the jammer covers, and where the jammer's power beats the controller's
  by the link's margin (free-space jam-to-signal ratio: a pilot close to the drone keeps the
  link), loses its link once jammed continuously for its link-loss timeout: it flies its
  failsafe. Cooperative drones in the beam too.
* **GNSS jammer**: every drone navigating by GNSS in range flies its GNSS failsafe after 1 s.
* **Net launcher / hard kill**: acquires the drone nearest the aim point (within
  :data:`ACQUIRE_M`), fires (one round from the magazine), and after the flight time the
  round takes effect with probability ``p_effect`` (netted: ``captured``; hard kill:
  ``downed``); it fires again after :data:`RELOAD_S` while still engaged.
* **Interceptor**: launches ``ready_s`` after Engage, flies at ``speed_ms`` toward the aim
  point (pursuit: a net is cast from behind, not head-on at the closing speed), homing on the
  nearest drone once within :data:`SEEKER_M` (its own seeker); within
  :data:`CAPTURE_M` it nets it with probability ``p_effect``, else passes and turns back; after
  :data:`MAX_PASSES` passes its net is spent, it flies home to land, and the next one goes up.
  Stood down, it flies home and lands. In the air it is an object like any other: the sensors
  see it (:meth:`EffectorSim.own_target`, role ``own``), and as a SAPIENT mobile node it
  reports where it is twice a second with the status "Airborne", which is how the fusion node
  knows that track for its own.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from google.protobuf import json_format
from sapient_msg.bsi_flex_335_v2_0 import task_pb2

from luchtwacht.counter.catalogue import (
    ENGAGE_MODE,
    SAPIENT_NODE_TYPE,
    STANDBY_MODE,
    EffectorSpec,
)
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    ICD_VERSION,
    SapientMessage,
    frame,
    look_at_enu,
    new_ulid,
    task_ack,
    tasks_for,
    wgs84_location,
)
from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.effects import Countered
from luchtwacht.sim.targets import F64, Target

TICK_S = 0.1
ACQUIRE_M = 150.0  # a kinetic effector acquires a drone this close to where it is aimed
RELOAD_S = 4.0  # time between rounds while engaged
SEEKER_M = 250.0  # an interceptor homes on a drone this close
CAPTURE_M = 3.0  # …and nets it when this close
MAX_PASSES = 3  # an interceptor's passes before its net is spent
AIRBORNE_STATUS_S = 0.5  # an airborne interceptor reports where it is this often
OWN_RCS_M2 = 0.1  # an interceptor drone's radar cross-section
GNSS_LOSS_S = 1.0  # a flight controller declares GNSS lost this long after jamming starts
DEFAULT_LINK_MHZ = (2430.0, 2450.0)  # a drone link with no rf_link given: 2.4 GHz ISM
DEFAULT_LINK_EIRP_DBM = 20.0  # …with a 100 mW controller
DEFAULT_JAM_MARGIN_DB = 6.0  # …that a 6 dB jam-to-signal ratio breaks
PILOT_HEIGHT_M = 1.5  # a controller held in the hand


def fspl_db(d_m: float, f_mhz: float) -> float:
    """Free-space path loss (dB) over ``d_m`` metres at ``f_mhz`` (at least 1 m)."""
    return 20.0 * math.log10(max(d_m, 1.0)) + 20.0 * math.log10(f_mhz) - 27.55


@dataclass(slots=True)
class FlightRecord:
    """An airborne effector's own flight, sampled each tick: a trajectory the sensors can see.

    An interceptor in the air is an object like any other to a radar or a camera; this keeps
    where it was so that every sensor model samples it as it samples the targets. Between
    flights (on the ground) it does not exist.
    """

    flights: list[tuple[list[float], list[F64], list[F64]]] = field(default_factory=list)
    airborne: bool = False

    def add(self, t_s: float, pos: F64, vel: F64) -> None:
        """One sample of the flight under way (a new flight if it was on the ground)."""
        if not self.airborne:
            self.flights.append(([], [], []))
            self.airborne = True
        times, p, v = self.flights[-1]
        times.append(t_s)
        p.append(np.array(pos, dtype=float))
        v.append(np.array(vel, dtype=float))

    def land(self) -> None:
        """The flight under way has ended."""
        self.airborne = False

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """Position and velocity at ``t_s`` (linear between samples), None when not flying."""
        for times, p, v in reversed(self.flights):
            if not times or t_s < times[0]:
                continue
            if t_s > times[-1] + 1e-9:
                return None
            k = bisect.bisect_right(times, t_s) - 1
            if k >= len(times) - 1:
                return p[-1].copy(), v[-1].copy()
            f = (t_s - times[k]) / (times[k + 1] - times[k])
            return p[k] + f * (p[k + 1] - p[k]), v[k + 1].copy()
        return None


@dataclass(frozen=True, slots=True)
class EffectLog:
    """One thing an effector did, for the evaluation (truth side)."""

    t_s: float
    effector: str
    action: str  # "fired", "effect", "miss", "launched", "jammed"
    target: str | None = None
    detail: str = ""


@dataclass(slots=True)
class _Round:
    target: str
    impact_s: float


@dataclass(slots=True)
class EffectorSim:
    """One simulated effector node (see the module doc)."""

    spec: EffectorSpec
    origin: SiteOrigin
    epoch_s: float
    seed: int
    lat_deg: float = 0.0
    lon_deg: float = 0.0
    alt_m: float = 0.0
    status_interval_s: float = 5.0
    latency_s: float = 0.05
    next_scan_s: float = 0.0
    mode: str = STANDBY_MODE
    aim_enu: tuple[float, float, float] | None = None
    shots_left: int = 0
    log: list[EffectLog] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # task id → TaskAck status
    rng: np.random.Generator = field(init=False)
    _registered: bool = False
    _next_status_s: float = 0.0
    _jammed_since: dict[str, float] = field(default_factory=dict)
    _rounds: list[_Round] = field(default_factory=list)
    _next_fire_s: float = 0.0
    _engaged_at: float | None = None
    _uav: np.ndarray | None = None  # the interceptor's position while airborne
    _uav_cooldown_s: float = 0.0
    _uav_passes: int = 0
    _returning: bool = False  # the interceptor flies home to land (stood down, or net spent)
    flight: FlightRecord = field(default_factory=FlightRecord)
    _last_scan_s: float | None = None
    _reported_mode: str | None = None

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.shots_left = self.spec.shots
        e, n, u = self.spec.enu_m
        geo = self.origin.to_geodetic(np.array([[e, n, u]]))[0]
        self.lat_deg, self.lon_deg, self.alt_m = float(geo[0]), float(geo[1]), float(geo[2])

    def own_target(self) -> Target | None:
        """An interceptor as the sensors see it while it flies (None for other kinds)."""
        if self.spec.kind != "interceptor":
            return None
        return Target(
            f"{self.spec.name} (own interceptor)",
            ObjectClass.DRONE,
            OWN_RCS_M2,
            self.flight,
            role="own",
        )

    # --- SAPIENT out --------------------------------------------------------------------------

    def _header(self, t_s: float) -> dict[str, object]:
        stamp = dt.datetime.fromtimestamp(self.epoch_s + t_s, tz=dt.UTC)
        return {"timestamp": stamp.isoformat().replace("+00:00", "Z"), "nodeId": self.spec.node_id}

    def registration(self, t_s: float) -> SapientMessage:
        """The node's Registration: effector node type, Standby/Engage modes, taskable commands."""
        commands = [
            {
                "units": units,
                "completionTime": {"units": "TIME_UNITS_SECONDS", "value": self.spec.ready_s},
                "type": kind,
            }
            for kind, units in (
                ("COMMAND_TYPE_LOOK_AT", "location"),
                ("COMMAND_TYPE_MODE_CHANGE", f"{STANDBY_MODE}, {ENGAGE_MODE}"),
            )
        ]
        modes = [
            {
                "modeName": name,
                "modeType": "MODE_TYPE_PERMANENT",
                "settleTime": {"units": "TIME_UNITS_SECONDS", "value": self.spec.ready_s},
                "scanType": "SCAN_TYPE_STEERABLE",
                "trackingType": "TRACKING_TYPE_NONE",
                "detectionDefinition": [
                    {
                        "locationType": {
                            "locationUnits": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
                            "locationDatum": "LOCATION_DATUM_WGS84_E",
                        }
                    }
                ],
                "task": {
                    "concurrentTasks": 1,
                    "regionDefinition": {
                        "regionType": ["REGION_TYPE_AREA_OF_INTEREST"],
                        "settleTime": {"units": "TIME_UNITS_SECONDS", "value": 1},
                        "regionArea": [
                            {
                                "locationUnits": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
                                "locationDatum": "LOCATION_DATUM_WGS84_E",
                            }
                        ],
                    },
                    "command": commands,
                },
            }
            for name in (STANDBY_MODE, ENGAGE_MODE)
        ]
        body = {
            **self._header(t_s),
            "registration": {
                "nodeDefinition": [
                    {"nodeType": SAPIENT_NODE_TYPE[self.spec.kind], "nodeSubType": [self.spec.kind]}
                ]
                + (
                    [{"nodeType": "NODE_TYPE_MOBILE_NODE"}]
                    if self.spec.kind == "interceptor"
                    else []
                ),
                "icdVersion": ICD_VERSION,
                "name": self.spec.name,
                "shortName": self.spec.kind[:8].upper(),
                "capabilities": [
                    {
                        "category": "Effector",
                        "type": "MaxRange",
                        "value": str(self.spec.max_range_m),
                        "units": "m",
                    }
                ],
                "statusDefinition": {
                    "statusInterval": {
                        "units": "TIME_UNITS_SECONDS",
                        "value": self.status_interval_s,
                    },
                    "locationDefinition": {
                        "locationUnits": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
                        "locationDatum": "LOCATION_DATUM_WGS84_E",
                    },
                },
                "modeDefinition": modes,
                "configData": [{"manufacturer": "Luchtwacht simulator", "model": self.spec.kind}],
            },
        }
        return json_format.ParseDict(body, SapientMessage())

    def status_report(self, t_s: float) -> SapientMessage:
        """Mode, location and (for effectors with one) the magazine; INFO_NEW when changed."""
        status: list[dict[str, object]] = []
        if self.spec.shots > 0:
            status.append(
                {
                    "statusLevel": "STATUS_LEVEL_INFORMATION_STATUS",
                    "statusType": "STATUS_TYPE_OTHER",
                    "statusValue": f"Magazine {self.shots_left}",
                }
            )
        lat, lon, alt = self.lat_deg, self.lon_deg, self.alt_m
        if self._uav is not None:  # a mobile node reports where it is, and that it flies
            geo = self.origin.to_geodetic(self._uav[None, :])[0]
            lat, lon, alt = float(geo[0]), float(geo[1]), float(geo[2])
            status.append(
                {
                    "statusLevel": "STATUS_LEVEL_INFORMATION_STATUS",
                    "statusType": "STATUS_TYPE_PLATFORM",
                    "statusValue": "Airborne",
                }
            )
        body = {
            **self._header(t_s),
            "statusReport": {
                "reportId": new_ulid(self.epoch_s + t_s, self.rng),
                "system": "SYSTEM_OK",
                "info": "INFO_NEW" if self._reported_mode != self.mode else "INFO_UNCHANGED",
                "mode": self.mode,
                "nodeLocation": wgs84_location(lat, lon, alt, 1e-6, 1.0),
                "status": status,
            },
        }
        self._reported_mode = self.mode
        return json_format.ParseDict(body, SapientMessage())

    def scan(self, t_s: float, targets: list[Target] | tuple[Target, ...]) -> list[bytes]:
        """One tick: act on the targets if engaged; the framed messages it sends now."""
        self.next_scan_s = t_s + TICK_S
        dt = TICK_S if self._last_scan_s is None else max(t_s - self._last_scan_s, 0.0)
        self._last_scan_s = t_s
        out: list[bytes] = []
        if not self._registered:
            out.append(frame(self.registration(t_s)))
        was_airborne = self._uav is not None
        self._act(t_s, dt, targets)
        airborne = self._uav is not None
        # Due, or it has just taken off or landed: say so at once.
        if t_s >= self._next_status_s or airborne != was_airborne:
            out.append(frame(self.status_report(t_s)))
            self._registered = True
            self._next_status_s = t_s + (AIRBORNE_STATUS_S if airborne else self.status_interval_s)
        return out

    # --- SAPIENT in ---------------------------------------------------------------------------

    def handle(self, t_s: float, data: bytes) -> list[bytes]:
        """Take framed SAPIENT messages sent to this node; the framed TaskAcks it answers."""
        out: list[bytes] = []
        for task in tasks_for(data, self.spec.node_id):
            status, reason = self._take(t_s, task)
            self.tasks[task.task_id] = status
            out.append(frame(task_ack(self._header(t_s), task.task_id, status, reason)))
            if status == "TASK_STATUS_ACCEPTED" and task.command.WhichOneof("command") == (
                "mode_change"
            ):
                out.append(frame(self.status_report(t_s)))  # the new mode, at once
        return out

    def _take(self, t_s: float, task: task_pb2.Task) -> tuple[str, str]:
        if task.control == task_pb2.Task.CONTROL_STOP:
            self._stand_down()
            return "TASK_STATUS_ACCEPTED", ""
        if task.control != task_pb2.Task.CONTROL_START:
            return "TASK_STATUS_REJECTED", "control must be START or STOP"
        which = task.command.WhichOneof("command")
        if which == "look_at":
            enu, reason = look_at_enu(task, self.origin)
            if enu is None:
                return "TASK_STATUS_REJECTED", reason
            self.aim_enu = (float(enu[0]), float(enu[1]), float(enu[2]))
            return "TASK_STATUS_ACCEPTED", ""
        if which == "mode_change":
            mode = task.command.mode_change
            if mode == STANDBY_MODE:
                self._stand_down()
                return "TASK_STATUS_ACCEPTED", ""
            if mode != ENGAGE_MODE:
                return "TASK_STATUS_REJECTED", f"unknown mode {mode!r}: Standby or Engage"
            if self.aim_enu is None:
                return "TASK_STATUS_REJECTED", "not aimed: send look_at first"
            if self.spec.shots > 0 and self.shots_left <= 0:
                return "TASK_STATUS_REJECTED", "magazine empty"
            if self.mode != ENGAGE_MODE:  # a repeated Engage keeps the engagement's clock
                self.mode, self._engaged_at = ENGAGE_MODE, t_s
                self._next_fire_s = t_s + self.spec.ready_s
            return "TASK_STATUS_ACCEPTED", ""
        if which == "request" and task.command.request.lower() == "stop":
            self._stand_down()
            return "TASK_STATUS_ACCEPTED", ""
        return "TASK_STATUS_REJECTED", f"command {which} not supported: look_at or mode_change"

    def _stand_down(self) -> None:
        self.mode, self._engaged_at = STANDBY_MODE, None
        self._jammed_since.clear()
        if self._uav is not None:
            self._returning = True  # an interceptor in the air flies home and lands

    # --- effects ------------------------------------------------------------------------------

    def _act(self, t_s: float, dt: float, targets: list[Target] | tuple[Target, ...]) -> None:
        if self._returning:
            self._fly_home(t_s, dt)
        for rnd in [r for r in self._rounds if r.impact_s <= t_s]:
            self._rounds.remove(rnd)
            self._resolve(t_s, rnd.target, targets)
        if self.mode != ENGAGE_MODE or self._engaged_at is None or self.aim_enu is None:
            return
        if t_s < self._engaged_at + self.spec.ready_s:
            return
        kind = self.spec.kind
        if kind in ("rf_jammer", "gnss_jammer"):
            self._jam(t_s, targets)
        elif kind in ("net", "hard_kill"):
            self._fire(t_s, targets)
        else:
            self._fly(t_s, dt, targets)

    def _drones(
        self, t_s: float, targets: list[Target] | tuple[Target, ...]
    ) -> list[tuple[Target, Countered, np.ndarray]]:
        out = []
        for tgt in targets:
            if tgt.true_class != ObjectClass.DRONE or not isinstance(tgt.path, Countered):
                continue
            s = tgt.path.state(t_s)
            if s is not None:
                out.append((tgt, tgt.path, np.asarray(s[0], dtype=float)))
        return out

    def _jam(self, t_s: float, targets: list[Target] | tuple[Target, ...]) -> None:
        site = np.asarray(self.spec.enu_m, dtype=float)
        aim = np.asarray(self.aim_enu, dtype=float)
        boresight = math.degrees(math.atan2(aim[0] - site[0], aim[1] - site[1]))
        hit_now: set[str] = set()
        for tgt, path, pos in self._drones(t_s, targets):
            d = pos - site
            if float(np.linalg.norm(d)) > self.spec.max_range_m:
                continue
            az = math.degrees(math.atan2(d[0], d[1]))
            off = abs((az - boresight + 180.0) % 360.0 - 180.0)
            if self.spec.beamwidth_deg < 360.0 and off > self.spec.beamwidth_deg / 2:
                continue
            if self.spec.kind == "rf_jammer":
                if not tgt.emits_rf or not self._in_band(tgt) or not self._overpowers(tgt, pos):
                    continue
                behaviour, delay = path.link_loss.behaviour, path.link_loss.delay_s
            else:
                if not tgt.gnss_nav:
                    continue
                behaviour, delay = path.link_loss.gnss_behaviour, GNSS_LOSS_S
            hit_now.add(tgt.name)
            since = self._jammed_since.setdefault(tgt.name, t_s)
            if t_s - since >= delay - 1e-9 and path.apply(t_s, behaviour, self.spec.name):
                self.log.append(EffectLog(t_s, self.spec.name, "effect", tgt.name, behaviour))
        for name in [n for n in self._jammed_since if n not in hit_now]:
            del self._jammed_since[name]

    def _overpowers(self, tgt: Target, pos: F64) -> bool:
        """Whether the jammer's power at the drone beats its controller's by the link's margin.

        Both arrive over free space at the link's frequency: the jam-to-signal ratio is the
        jammer's EIRP less its path loss, less the controller's EIRP less its own path loss.
        A pilot standing close to the drone keeps the link against a distant jammer.
        """
        link = tgt.rf_link
        f_mhz = link.centre_mhz if link is not None else 0.5 * sum(DEFAULT_LINK_MHZ)
        eirp_c = link.eirp_dbm if link is not None else DEFAULT_LINK_EIRP_DBM
        margin = link.jam_margin_db if link is not None else DEFAULT_JAM_MARGIN_DB
        assert isinstance(tgt.path, Countered)
        pilot = (
            link.pilot_m
            if link is not None and link.pilot_m is not None
            else (tgt.path.home_m[0], tgt.path.home_m[1], PILOT_HEIGHT_M)
        )
        d_j = float(np.linalg.norm(pos - np.asarray(self.spec.enu_m)))
        d_c = float(np.linalg.norm(pos - np.asarray(pilot)))
        j_dbm = self.spec.eirp_dbm - fspl_db(d_j, f_mhz)
        s_dbm = eirp_c - fspl_db(d_c, f_mhz)
        return j_dbm - s_dbm >= margin

    def _in_band(self, tgt: Target) -> bool:
        if tgt.rf_link is not None:
            lo = tgt.rf_link.centre_mhz - tgt.rf_link.bandwidth_mhz / 2
            hi = tgt.rf_link.centre_mhz + tgt.rf_link.bandwidth_mhz / 2
        else:
            lo, hi = DEFAULT_LINK_MHZ
        return any(b_lo < hi and lo < b_hi for b_lo, b_hi in self.spec.bands_mhz)

    def _nearest_to_aim(
        self, t_s: float, targets: list[Target] | tuple[Target, ...], limit_m: float
    ) -> tuple[Target, Countered, np.ndarray] | None:
        aim = np.asarray(self.aim_enu, dtype=float)
        best, best_d = None, limit_m
        for item in self._drones(t_s, targets):
            if item[1].effect in ("captured", "downed"):
                continue
            d = float(np.linalg.norm(item[2] - aim))
            if d <= best_d:
                best, best_d = item, d
        return best

    def _fire(self, t_s: float, targets: list[Target] | tuple[Target, ...]) -> None:
        if t_s < self._next_fire_s or self.shots_left <= 0 or self._rounds:
            return
        found = self._nearest_to_aim(t_s, targets, ACQUIRE_M)
        if found is None:
            return
        tgt, _, pos = found
        rng = float(np.linalg.norm(pos - np.asarray(self.spec.enu_m)))
        if not self.spec.min_range_m <= rng <= self.spec.max_range_m:
            return
        self.shots_left -= 1
        self._rounds.append(_Round(tgt.name, t_s + rng / self.spec.speed_ms))
        self._next_fire_s = t_s + RELOAD_S
        self.log.append(EffectLog(t_s, self.spec.name, "fired", tgt.name, f"{rng:.0f} m"))

    def _resolve(self, t_s: float, name: str, targets: list[Target] | tuple[Target, ...]) -> None:
        tgt = next((t for t in targets if t.name == name), None)
        if tgt is None or not isinstance(tgt.path, Countered):
            return
        effect = "captured" if self.spec.kind in ("net", "interceptor") else "downed"
        if tgt.path.effect in ("captured", "downed"):
            self.log.append(EffectLog(t_s, self.spec.name, "overtaken", name))  # already down
        elif self.rng.random() < self.spec.p_effect and tgt.path.apply(t_s, effect, self.spec.name):
            self.log.append(EffectLog(t_s, self.spec.name, "effect", name, effect))
            if self.spec.kind == "interceptor":
                self._returning = True  # its net is gone with the drone: home to land
        else:
            self.log.append(EffectLog(t_s, self.spec.name, "miss", name))

    def _fly_home(self, t_s: float, dt: float) -> None:
        """Fly back over the launcher and land there."""
        assert self._uav is not None
        home = np.asarray(self.spec.enu_m, dtype=float)
        gap = home - self._uav
        dist = float(np.linalg.norm(gap))
        step = self.spec.speed_ms * dt
        if dist <= step:
            self._uav, self._returning = None, False
            self.flight.land()
            self.log.append(EffectLog(t_s, self.spec.name, "landed"))
            return
        vel = gap / dist * self.spec.speed_ms
        self._uav = self._uav + gap * (step / dist)
        self.flight.add(t_s, self._uav, vel)

    def _fly(self, t_s: float, dt: float, targets: list[Target] | tuple[Target, ...]) -> None:
        site = np.asarray(self.spec.enu_m, dtype=float)
        if self._returning:
            return  # the next airframe goes up once this one has landed
        if self._uav is None:
            if self.shots_left <= 0:
                return
            self.shots_left -= 1
            self._uav, self._uav_passes = site.copy(), 0
            self.log.append(EffectLog(t_s, self.spec.name, "launched"))
        found = self._nearest_to_aim(t_s, targets, math.inf)
        goal = np.asarray(self.aim_enu, dtype=float)
        homing = None
        if found is not None and float(np.linalg.norm(found[2] - self._uav)) <= SEEKER_M:
            homing, goal = found, found[2]
        step = self.spec.speed_ms * dt
        gap = goal - self._uav
        dist = float(np.linalg.norm(gap))
        vel = gap / dist * self.spec.speed_ms if dist > 0 else np.zeros(3)
        self._uav = goal.copy() if dist <= step else self._uav + gap * (step / dist)
        self.flight.add(t_s, self._uav, vel)
        if homing is not None and dist <= max(CAPTURE_M, step) and t_s >= self._uav_cooldown_s:
            self._uav_cooldown_s = t_s + 3.0  # a pass: it takes a few seconds to come round
            self._uav_passes += 1
            self._resolve(t_s, homing[0].name, targets)
            if self._uav_passes >= MAX_PASSES and self._uav is not None:
                self._returning = True  # net spent: home to land; a fresh one goes up after
