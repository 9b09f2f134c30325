"""Simulated angle-only sensors as SAPIENT nodes: RF direction finders, acoustic arrays, cameras.

All report bearings without range — SAPIENT DetectionReports whose RangeBearing carries an
azimuth (and its error), and for a camera an elevation too — which Luchtwacht's ingest turns
into bearing batches and its tracker triangulates. What each perceives:

* **RF detector** (``kind="rf"``, ``NODE_TYPE_PASSIVE_RF``): drones whose control or video link
  is on the air (``Target.emits_rf``; an autonomous one-way attack drone is silent) within
  ``max_range_m``, a few degrees of azimuth error, and a confident "UAV" classification (the
  protocol fingerprint gives it away). For a link it can read (``Target.rf_link``) the report
  names the protocol and, if the link carries one, the serial number (``object_info``), with
  the received signal (``Signal``), and the model its fingerprint names (``RfLink.model``) as
  the classification's sub-class. It hears the link's ground end too: the controller's uplink,
  from the pilot (``RfLink.pilot_m``, else the Remote ID operator position, else the take-off
  point), reported as its own object (one object id per controller) with the class
  "Controller", the protocol and the band, and a bearing with the detector's error — what
  locates the pilot when two or more detectors hear it.
* **Acoustic array** (``kind="acoustic"``, ``NODE_TYPE_ACOUSTIC``): any drone, silent link or
  not, but only a few hundred metres out, with coarser bearings and a less certain class.
* **EO/IR camera** (``kind="camera"``, ``NODE_TYPE_CAMERA``): anything in its field of view
  (``fov_centre_deg`` ± ``fov_width_deg``/2) and range — drones, birds, aircraft — with fine
  azimuth and elevation and a class that is right with ``classify_confidence``; at night
  (``BearingSensorConfig.camera(..., night=True)``) the thermal channel sees about a third as
  far, and tells classes apart less well.

Each has its detection probability per report interval, a false-alarm rate (bearings from
nowhere: RF reflections, wind noise), a latency, outages, and registers and reports its status
(with its location, needed to place a bearing) like the radar simulator does.

A camera on a pan head (``slew_rate_deg_s`` > 0) can be cued: it registers the SAPIENT
``LOOK_AT`` command, answers each SAPIENT ``Task`` addressed to it with a ``TaskAck`` (accepted,
or rejected with the reason), and pans its view towards the location it was told to look at at
``slew_rate_deg_s`` — seeing nothing new until the target is in its field of view. A fixed
camera (rate 0) rejects look-at tasks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sapient_msg.bsi_flex_335_v2_0 import range_bearing_pb2, registration_pb2, task_pb2

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    SapientMessage,
    frame,
    look_at_enu,
    new_ulid,
    task_ack,
    tasks_for,
)
from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.targets import RfLink, Target, first_position

_NODE_TYPE = {
    "rf": registration_pb2.Registration.NODE_TYPE_PASSIVE_RF,
    "acoustic": registration_pb2.Registration.NODE_TYPE_ACOUSTIC,
    "camera": registration_pb2.Registration.NODE_TYPE_CAMERA,
}
_SUB_TYPE = {"rf": "direction finder", "acoustic": "microphone array", "camera": "EO/IR"}
_SHORT = {"rf": "RF1", "acoustic": "AC1", "camera": "EO1"}
CONTROLLER_CLASS = "Controller"  # the SAPIENT class of a link's ground end
PILOT_HEIGHT_M = 1.5  # a controller held by a standing pilot, above the take-off point
FOV_REPORT_DEG = 2.0  # a camera that has turned further than this reports its new view
_RB_DEG = (
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M,
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM,
)
_RB_RAD = (
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M,
    range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM,
)


def _turn(a_deg: float, b_deg: float) -> float:
    """Signed shortest turn from azimuth a to azimuth b, in (−180, 180]."""
    d = (b_deg - a_deg + 180.0) % 360.0 - 180.0
    return 180.0 if d == -180.0 else d


@dataclass(frozen=True, slots=True)
class BearingSensorConfig:
    """An angle-only sensor (units in the names)."""

    node_id: str  # UUID
    lat_deg: float
    lon_deg: float
    alt_m: float
    kind: Literal["rf", "acoustic", "camera"] = "rf"
    name: str = ""
    period_s: float = 1.0
    max_range_m: float = 3000.0
    azimuth_std_deg: float = 2.0
    pd: float = 0.9
    false_alarms_per_scan: float = 0.02
    classify_confidence: float = 0.9
    status_interval_s: float = 10.0
    latency_s: float = 0.2
    outages_s: tuple[tuple[float, float], ...] = ()
    clock_offset_s: float = 0.0
    elevation_std_deg: float = 0.2  # cameras only
    fov_centre_deg: float = 0.0  # cameras only: true azimuth of the middle of the view
    fov_width_deg: float = 360.0
    slew_rate_deg_s: float = 0.0  # cameras only: pan rate when cued; 0 is a fixed mount
    thermal: bool = False  # cameras only: the thermal channel alone (night), fog hurts it less

    @staticmethod
    def acoustic(node_id: str, lat_deg: float, lon_deg: float, alt_m: float) -> BearingSensorConfig:
        """An acoustic array's usual figures: 400 m, 5°, a less certain class."""
        return BearingSensorConfig(
            node_id, lat_deg, lon_deg, alt_m, kind="acoustic", name="acoustic array",
            max_range_m=400.0, azimuth_std_deg=5.0, pd=0.8, false_alarms_per_scan=0.05,
            classify_confidence=0.6, latency_s=0.5,
        )  # fmt: skip

    @staticmethod
    def camera(
        node_id: str, lat_deg: float, lon_deg: float, alt_m: float, night: bool = False
    ) -> BearingSensorConfig:
        """A day/thermal camera's usual figures (1.5 km by day; at night 500 m, worse class)."""
        return BearingSensorConfig(
            node_id, lat_deg, lon_deg, alt_m, kind="camera", name="EO/IR camera",
            max_range_m=500.0 if night else 1500.0, azimuth_std_deg=0.2,
            pd=0.7 if night else 0.9, false_alarms_per_scan=0.1 if night else 0.02,
            classify_confidence=0.65 if night else 0.9, latency_s=0.3, thermal=night,
        )  # fmt: skip

    def hears(self, target: Target) -> bool:
        """Whether this kind of sensor can perceive the target at all (range and view aside)."""
        if self.kind == "camera":
            return target.true_class in (ObjectClass.DRONE, ObjectClass.BIRD, ObjectClass.AIRCRAFT)
        if target.true_class != ObjectClass.DRONE:
            return False
        return self.kind == "acoustic" or target.emits_rf

    def in_view(self, az_deg: float, centre_deg: float | None = None) -> bool:
        """Whether a true azimuth lies in the field of view (centred where the camera points)."""
        centre = self.fov_centre_deg if centre_deg is None else centre_deg
        return abs(_turn(centre, az_deg)) <= self.fov_width_deg / 2.0


class BearingSensorSim(RadarSim):
    """The sensor's SAPIENT byte stream, report interval by report interval.

    Built on the radar simulator's SAPIENT plumbing (registration, status with location,
    message headers, ULIDs, outages); only what is measured and what is reported differ.
    """

    def __init__(
        self, config: BearingSensorConfig, origin: SiteOrigin, epoch_s: float, seed: int
    ) -> None:
        super().__init__(
            RadarConfig(
                node_id=config.node_id,
                lat_deg=config.lat_deg,
                lon_deg=config.lon_deg,
                alt_m=config.alt_m,
                name=config.name or f"{config.kind} detector",
                period_s=config.period_s,
                max_range_m=config.max_range_m,
                azimuth_std_deg=config.azimuth_std_deg,
                false_alarms_per_scan=config.false_alarms_per_scan,
                status_interval_s=config.status_interval_s,
                latency_s=config.latency_s,
                outages_s=config.outages_s,
                clock_offset_s=config.clock_offset_s,
            ),
            origin,
            epoch_s,
            seed,
        )
        self.bcfg = config
        self.pointing_deg = config.fov_centre_deg % 360.0  # where the view is centred now
        self.look_deg: float | None = None  # where it was told to look (None: hold)
        self._pointed_t_s = 0.0
        self.tasks: dict[str, str] = {}  # task id -> the status it was answered with
        self._reported_deg: float | None = None  # the view's centre in the last StatusReport
        # Uplinks draw from their own stream, so hearing controllers leaves every other report
        # of a run as it was; each controller keeps one object id, as a detector's track would.
        self._uplink_rng = np.random.default_rng([seed, 0x0C0E])
        self._controllers: dict[int, tuple[tuple[float, float, float] | None, str]] = {}

    @property
    def slewable(self) -> bool:
        """A camera on a pan head: it takes look-at tasks."""
        return self.bcfg.kind == "camera" and self.bcfg.slew_rate_deg_s > 0.0

    def registration(self, t_s: float) -> SapientMessage:
        """The radar's registration with this sensor's node type and name (and LOOK_AT)."""
        msg = super().registration(t_s)
        nd = msg.registration.node_definition[0]
        nd.node_type = _NODE_TYPE[self.bcfg.kind]
        del nd.node_sub_type[:]
        nd.node_sub_type.append(_SUB_TYPE[self.bcfg.kind])
        msg.registration.short_name = _SHORT[self.bcfg.kind]
        if self.slewable:
            cmd = msg.registration.mode_definition[0].task.command.add()
            cmd.type = registration_pb2.Registration.COMMAND_TYPE_LOOK_AT
            cmd.units = "location"
            cmd.completion_time.units = registration_pb2.Registration.TIME_UNITS_SECONDS
            cmd.completion_time.value = 180.0 / self.bcfg.slew_rate_deg_s  # a half turn
        return msg

    def status_report(self, t_s: float) -> SapientMessage:
        """The radar's StatusReport plus, for a camera, its field of view: where it looks now."""
        msg = super().status_report(t_s)
        c = self.bcfg
        if c.kind == "camera" and c.fov_width_deg < 360.0:
            cone = msg.status_report.field_of_view.range_bearing
            cone.azimuth = self.pointing_deg
            cone.horizontal_extent = c.fov_width_deg
            cone.range = c.max_range_m
            cone.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
            cone.datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
            self._reported_deg = self.pointing_deg
        return msg

    def point(self, t_s: float) -> float:
        """Pan towards the look-at azimuth for the time since last asked; the azimuth now."""
        dt = max(t_s - self._pointed_t_s, 0.0)
        self._pointed_t_s = max(t_s, self._pointed_t_s)
        if self.look_deg is not None and self.slewable:
            turn = _turn(self.pointing_deg, self.look_deg)
            step = min(abs(turn), self.bcfg.slew_rate_deg_s * dt)
            self.pointing_deg = (self.pointing_deg + math.copysign(step, turn)) % 360.0
        return self.pointing_deg

    def handle(self, t_s: float, data: bytes) -> list[bytes]:
        """Take framed SAPIENT messages sent to this node; the framed TaskAcks it answers.

        A ``Task`` with ``control`` START and a ``look_at`` — a location (lat/lon in degrees or
        radians, or UTM with its zone) or a range/bearing (the azimuth it gives) — turns the
        camera towards it from now on; STOP holds it where it points. Anything else a task asks
        is rejected with the reason; other messages (acks, errors) are ignored.
        """
        self.point(t_s)
        out: list[bytes] = []
        for task in tasks_for(data, self.cfg.node_id):
            status, reason = self._take(task)
            self.tasks[task.task_id] = status
            out.append(frame(task_ack(self._header(t_s), task.task_id, status, reason)))
        return out

    def _take(self, task: task_pb2.Task) -> tuple[str, str]:
        """Carry out a task if it can be: (TaskAck status name, reason if rejected)."""
        if not self.slewable:
            return "TASK_STATUS_REJECTED", "fixed camera: cannot slew"
        if task.control == task_pb2.Task.CONTROL_STOP:
            self.look_deg = None
            return "TASK_STATUS_ACCEPTED", ""
        if (
            task.control != task_pb2.Task.CONTROL_START
            or task.command.WhichOneof("command") != "look_at"
        ):
            return "TASK_STATUS_REJECTED", "only a started look_at task is supported"
        where = task.command.look_at
        form = where.WhichOneof("fov_oneof")
        if form == "range_bearing":
            rb = where.range_bearing
            if rb.coordinate_system not in _RB_DEG + _RB_RAD:
                return "TASK_STATUS_REJECTED", "look_at range/bearing units not supported"
            az = rb.azimuth if rb.coordinate_system in _RB_DEG else math.degrees(rb.azimuth)
            # A magnetic bearing: the simulated site has no declination (true = magnetic).
            self.look_deg = az % 360.0
            return "TASK_STATUS_ACCEPTED", ""
        if form != "location_list":
            return "TASK_STATUS_REJECTED", "look_at needs a location or a range/bearing"
        enu, reason = look_at_enu(task, self.origin)
        if enu is None:
            return "TASK_STATUS_REJECTED", reason
        az_deg, _, _ = self._aer(enu)
        self.look_deg = az_deg % 360.0
        return "TASK_STATUS_ACCEPTED", ""

    def _bearing(
        self, t_s: float, az_deg: float, cls: ObjectClass | None, el_deg: float | None = None
    ) -> SapientMessage:
        """A DetectionReport with an azimuth (and an elevation) and errors: no range."""
        msg = self._detection(
            t_s, az_deg, el_deg or 0.0, 0.0, 0.8, cls, self.bcfg.classify_confidence
        )
        rb = msg.detection_report.range_bearing
        rb.ClearField("range")
        rb.ClearField("range_error")
        if el_deg is None:
            rb.ClearField("elevation")
            rb.ClearField("elevation_error")
        else:
            rb.elevation_error = self.bcfg.elevation_std_deg
        return msg

    def scan(self, t_s: float, targets: Sequence[Target]) -> list[bytes]:
        """One report interval: framed SAPIENT messages (control messages first)."""
        out: list[bytes] = []
        c, rng = self.bcfg, self.rng
        self.next_scan_s = t_s + c.period_s
        if self.cfg.down(t_s):
            return out
        if not self._registered:
            out.append(frame(self.registration(t_s)))
        camera = c.kind == "camera"
        centre = self.point(t_s)
        # A camera on a pan head says where it looks as soon as it has turned (as a real one
        # reports a changed field of view), not only at its status interval.
        turned = (
            self.slewable
            and self._reported_deg is not None
            and abs(_turn(self._reported_deg, centre)) > FOV_REPORT_DEG
        )
        if t_s >= self._next_status_s or turned:
            out.append(frame(self.status_report(t_s)))
            self._registered = True
            self._next_status_s = t_s + c.status_interval_s
        if c.kind == "rf":  # the controllers first: each drone's report stays where it was
            out.extend(self._uplinks(t_s, targets))
        for tgt in targets:
            s = tgt.path.state(t_s)
            if s is None or not c.hears(tgt):
                continue
            az, el, r = self._aer(s[0])
            if r > c.max_range_m or (camera and not c.in_view(az, centre)) or rng.random() >= c.pd:
                continue
            az_meas = (az + rng.normal(0.0, c.azimuth_std_deg)) % 360.0
            if camera:
                el_meas = el + rng.normal(0.0, c.elevation_std_deg)
                out.append(frame(self._bearing(t_s, az_meas, self._seen_as(tgt), el_meas)))
            else:
                msg = self._bearing(t_s, az_meas, ObjectClass.DRONE)
                if c.kind == "rf" and tgt.rf_link is not None:
                    self._add_link(msg, tgt.rf_link, r)
                    if tgt.rf_link.model:
                        sub = msg.detection_report.classification[0].sub_class.add()
                        sub.type, sub.level = tgt.rf_link.model, 1
                        sub.confidence = c.classify_confidence
                out.append(frame(msg))
        for _ in range(rng.poisson(c.false_alarms_per_scan)):
            az_fa = float(rng.uniform(0.0, 360.0))
            if camera:
                az_fa = (centre + (az_fa / 360.0 - 0.5) * c.fov_width_deg) % 360.0
                out.append(frame(self._bearing(t_s, az_fa, None, float(rng.uniform(0.0, 20.0)))))
            else:
                out.append(frame(self._bearing(t_s, az_fa, None)))
        return out

    def _controller(self, tgt: Target, t_s: float) -> tuple[tuple[float, float, float] | None, str]:
        """Where a target's controller stands (ENU m; None: nowhere yet) and its object id."""
        hit = self._controllers.get(id(tgt))
        if hit is not None:
            return hit
        link = tgt.rf_link
        at: tuple[float, float, float] | None = None
        if link is not None and link.pilot_m is not None:
            at = link.pilot_m
        elif tgt.remote_id is not None:
            at = tgt.remote_id.operator_enu_m
        else:
            home = first_position(tgt.path)
            at = None if home is None else (home[0], home[1], home[2] + PILOT_HEIGHT_M)
        found = (at, new_ulid(self._stamp(t_s), self._uplink_rng))
        self._controllers[id(tgt)] = found
        return found

    def _uplinks(self, t_s: float, targets: Sequence[Target]) -> list[bytes]:
        """Bearings on the controllers of links on the air (own random stream, see __init__)."""
        c, rng = self.bcfg, self._uplink_rng
        out: list[bytes] = []
        for tgt in targets:
            link = tgt.rf_link
            if link is None or not tgt.emits_rf or tgt.true_class != ObjectClass.DRONE:
                continue
            if tgt.path.state(t_s) is None:  # landed or not yet up: the link is off
                continue
            at, object_id = self._controller(tgt, t_s)
            if at is None:
                continue
            az, _, r = self._aer(np.asarray(at, dtype=float))
            if r > c.max_range_m or rng.random() >= c.pd:
                continue
            az_meas = (az + rng.normal(0.0, c.azimuth_std_deg)) % 360.0
            drone_rng, self.rng = self.rng, rng  # ids and fading from the uplink stream
            try:
                msg = self._bearing(t_s, az_meas, None)
                uplink = RfLink(link.protocol, None, link.centre_mhz, link.bandwidth_mhz,
                                link.eirp_dbm)  # fmt: skip
                self._add_link(msg, uplink, r)
            finally:
                self.rng = drone_rng
            dr = msg.detection_report
            dr.object_id = object_id
            cls = dr.classification.add()
            cls.type, cls.confidence = CONTROLLER_CLASS, c.classify_confidence
            out.append(frame(msg))
        return out

    def _add_link(self, msg: SapientMessage, link: RfLink, range_m: float) -> None:
        """Add what an RF detector reads of a link: protocol, serial and signal.

        Protocol and serial go in ``object_info``; the ``Signal`` has its frequencies in Hz and
        as amplitude the received power in dBm: the EIRP less the free-space path loss at the
        target's range, with 2 dB of fading.
        """
        dr = msg.detection_report
        info = dr.object_info.add()
        info.type, info.value = "Protocol", link.protocol
        if link.serial:
            info = dr.object_info.add()
            info.type, info.value = "Serial", link.serial
        f_hz = link.centre_mhz * 1e6
        fspl_db = 20.0 * math.log10(max(range_m, 1.0)) + 20.0 * math.log10(f_hz) - 147.55
        sig = dr.signal.add()
        sig.centre_frequency = f_hz
        sig.start_frequency = f_hz - link.bandwidth_mhz * 0.5e6
        sig.stop_frequency = f_hz + link.bandwidth_mhz * 0.5e6
        sig.amplitude = link.eirp_dbm - fspl_db + float(self.rng.normal(0.0, 2.0))

    def _seen_as(self, tgt: Target) -> ObjectClass:
        """The class a camera reports: right with ``classify_confidence``, else another."""
        if self.rng.random() < self.bcfg.classify_confidence:
            return tgt.true_class
        others = [k for k in (ObjectClass.DRONE, ObjectClass.BIRD, ObjectClass.AIRCRAFT)
                  if k != tgt.true_class]  # fmt: skip
        return others[int(self.rng.integers(len(others)))]
