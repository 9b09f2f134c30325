"""Simulated angle-only sensors as SAPIENT nodes: RF direction finders, acoustic arrays, cameras.

All report bearings without range — SAPIENT DetectionReports whose RangeBearing carries an
azimuth (and its error), and for a camera an elevation too — which Luchtwacht's ingest turns
into bearing batches and its tracker triangulates. What each perceives:

* **RF detector** (``kind="rf"``, ``NODE_TYPE_PASSIVE_RF``): drones whose control or video link
  is on the air (``Target.emits_rf``; an autonomous one-way attack drone is silent) within
  ``max_range_m``, a few degrees of azimuth error, and a confident "UAV" classification (the
  protocol fingerprint gives it away).
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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sapient_msg.bsi_flex_335_v2_0 import registration_pb2

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import SapientMessage, frame
from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.targets import Target

_NODE_TYPE = {
    "rf": registration_pb2.Registration.NODE_TYPE_PASSIVE_RF,
    "acoustic": registration_pb2.Registration.NODE_TYPE_ACOUSTIC,
    "camera": registration_pb2.Registration.NODE_TYPE_CAMERA,
}
_SUB_TYPE = {"rf": "direction finder", "acoustic": "microphone array", "camera": "EO/IR"}
_SHORT = {"rf": "RF1", "acoustic": "AC1", "camera": "EO1"}


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
            classify_confidence=0.65 if night else 0.9, latency_s=0.3,
        )  # fmt: skip

    def hears(self, target: Target) -> bool:
        """Whether this kind of sensor can perceive the target at all (range and view aside)."""
        if self.kind == "camera":
            return target.true_class in (ObjectClass.DRONE, ObjectClass.BIRD, ObjectClass.AIRCRAFT)
        if target.true_class != ObjectClass.DRONE:
            return False
        return self.kind == "acoustic" or target.emits_rf

    def in_view(self, az_deg: float) -> bool:
        """Whether a true azimuth lies in the field of view."""
        off = (az_deg - self.fov_centre_deg + 180.0) % 360.0 - 180.0
        return abs(off) <= self.fov_width_deg / 2.0


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

    def registration(self, t_s: float) -> SapientMessage:
        """The radar's registration with this sensor's node type and name."""
        msg = super().registration(t_s)
        nd = msg.registration.node_definition[0]
        nd.node_type = _NODE_TYPE[self.bcfg.kind]
        del nd.node_sub_type[:]
        nd.node_sub_type.append(_SUB_TYPE[self.bcfg.kind])
        msg.registration.short_name = _SHORT[self.bcfg.kind]
        return msg

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
        if t_s >= self._next_status_s:
            out.append(frame(self.status_report(t_s)))
            self._registered = True
            self._next_status_s = t_s + c.status_interval_s
        camera = c.kind == "camera"
        for tgt in targets:
            s = tgt.path.state(t_s)
            if s is None or not c.hears(tgt):
                continue
            az, el, r = self._aer(s[0])
            if r > c.max_range_m or (camera and not c.in_view(az)) or rng.random() >= c.pd:
                continue
            az_meas = (az + rng.normal(0.0, c.azimuth_std_deg)) % 360.0
            if camera:
                el_meas = el + rng.normal(0.0, c.elevation_std_deg)
                out.append(frame(self._bearing(t_s, az_meas, self._seen_as(tgt), el_meas)))
            else:
                out.append(frame(self._bearing(t_s, az_meas, ObjectClass.DRONE)))
        for _ in range(rng.poisson(c.false_alarms_per_scan)):
            az_fa = float(rng.uniform(0.0, 360.0))
            if camera:
                az_fa = (c.fov_centre_deg + (az_fa / 360.0 - 0.5) * c.fov_width_deg) % 360.0
                out.append(frame(self._bearing(t_s, az_fa, None, float(rng.uniform(0.0, 20.0)))))
            else:
                out.append(frame(self._bearing(t_s, az_fa, None)))
        return out

    def _seen_as(self, tgt: Target) -> ObjectClass:
        """The class a camera reports: right with ``classify_confidence``, else another."""
        if self.rng.random() < self.bcfg.classify_confidence:
            return tgt.true_class
        others = [k for k in (ObjectClass.DRONE, ObjectClass.BIRD, ObjectClass.AIRCRAFT)
                  if k != tgt.true_class]  # fmt: skip
        return others[int(self.rng.integers(len(others)))]
