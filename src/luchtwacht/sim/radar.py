"""Simulated 3D surveillance radar that reports as a SAPIENT sensor node (BSI Flex 335 v2.0).

An electronically scanned radar refreshes the whole volume every ``period_s`` and reports each
plot as a DetectionReport with range/azimuth/elevation and their 1-σ errors, its measured range
rate (Doppler; ``object_info`` "RangeRate" in m/s, positive opening, with its error), plus a
micro-Doppler classification when the signal is strong enough. Rain attenuates the signal both
ways (``rain_mm_h``, ITU-R P.838-3 at ``frequency_ghz``). Detection follows the radar equation
with a Swerling-I target: SNR = SNR₁ · σ/1 m² · (1 km / R)⁴ and Pd = Pfa^(1/(1+SNR)) (Skolnik,
*Radar Handbook*, 3rd ed., §2.5). False alarms are Poisson per scan, uniform in the volume.
The node registers and reports its location first, as a real ASM does, and sends a StatusReport
every ``status_interval_s``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from google.protobuf import json_format
from sapient_msg.bsi_flex_335_v2_0 import range_bearing_pb2

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    ICD_VERSION,
    SapientMessage,
    frame,
    new_ulid,
    wgs84_location,
)
from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.propagation import rain_attenuation_db_km
from luchtwacht.sim.targets import Target

_RB_DEGREES_M = "RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M"
_CLASS_NAMES = {
    ObjectClass.DRONE: "UAV Rotary Wing",
    ObjectClass.BIRD: "Bird",
    ObjectClass.AIRCRAFT: "Fixed Wing Aircraft",
    ObjectClass.CLUTTER: "Clutter",
}


@dataclass(frozen=True, slots=True)
class RadarConfig:
    """Radar parameters (units in the names)."""

    node_id: str  # UUID, as the ICD requires
    lat_deg: float
    lon_deg: float
    alt_m: float
    name: str = "3D surveillance radar"
    period_s: float = 1.0
    min_range_m: float = 50.0
    max_range_m: float = 10_000.0
    max_elevation_deg: float = 70.0
    range_std_m: float = 5.0
    azimuth_std_deg: float = 0.3
    elevation_std_deg: float = 0.5
    snr_1km_1m2: float = 3.4e6  # gives Pd ≈ 0.95 on a 0.02 m² drone at 4 km
    pfa: float = 1e-6
    false_alarms_per_scan: float = 3.0
    clutter_max_elevation_deg: float = 8.0
    classify_min_snr: float = 200.0  # micro-Doppler needs a strong return
    classify_prob: float = 0.7
    classify_correct_prob: float = 0.85
    status_interval_s: float = 10.0
    latency_s: float = 0.05
    # Outages [(start, end), …] in scenario seconds: the radar sends nothing at all then (a
    # power cut, a jammed or destroyed sensor), and resumes where it was.
    outages_s: tuple[tuple[float, float], ...] = ()
    clock_offset_s: float = 0.0  # the node's clock minus true time: its stamps are this far off
    sector_centre_deg: float = 0.0  # azimuth coverage: a face of a fixed-panel radar …
    sector_width_deg: float = 360.0  # … or all round (a rotating or four-face radar)
    frequency_ghz: float = 9.5  # X-band, as most drone radars: sets the rain attenuation
    # Doppler: each plot's range rate (m/s, positive opening), as SAPIENT object_info
    # "RangeRate" with its 1-σ error; 0 for a radar that measures none.
    range_rate_std_ms: float = 0.5
    clutter_doppler_span_ms: float = 200.0  # noise plots' range rates spread over this
    rain_mm_h: float = 0.0  # the weather's rain rate (sim.weather): two-way loss, P.838-3

    def down(self, t_s: float) -> bool:
        """Whether the radar is in an outage at ``t_s``."""
        return any(a <= t_s < b for a, b in self.outages_s)


class RadarSim:
    """Generates the radar's SAPIENT byte stream (length-prefixed frames) scan by scan."""

    def __init__(self, config: RadarConfig, origin: SiteOrigin, epoch_s: float, seed: int) -> None:
        self.cfg = config
        self.origin = origin
        self.epoch_s = epoch_s
        self.rng = np.random.default_rng(seed)
        self._rain_db_km = rain_attenuation_db_km(config.frequency_ghz, config.rain_mm_h)
        self._site_enu = origin.to_enu(config.lat_deg, config.lon_deg, config.alt_m).reshape(3)
        self._registered = False
        self._next_status_s = 0.0
        self.next_scan_s = 0.0

    # --- physics -------------------------------------------------------------------------------

    def snr(self, rcs_m2: float, range_m: float) -> float:
        """Mean signal-to-noise ratio (linear) of a target of ``rcs_m2`` at ``range_m``.

        The radar equation's 1/r⁴, less the rain's two-way specific attenuation (ITU-R
        P.838-3, horizontal polarisation) over the range.
        """
        snr = self.cfg.snr_1km_1m2 * rcs_m2 * (1000.0 / max(range_m, 1.0)) ** 4
        if self.cfg.rain_mm_h > 0.0:
            loss_db = 2.0 * self._rain_db_km * range_m / 1000.0
            snr *= 10.0 ** (-loss_db / 10.0)
        return snr

    def detection_probability(self, target: Target, t_s: float) -> float:
        """Pd of ``target`` at scenario time ``t_s`` (0 outside coverage or when absent)."""
        s = target.path.state(t_s)
        if s is None:
            return 0.0
        az, el, rng = self._aer(s[0])
        if not self._in_coverage(el, rng, az):
            return 0.0
        return float(self.cfg.pfa ** (1.0 / (1.0 + self.snr(target.rcs_m2, rng))))

    def _aer(self, enu: np.ndarray) -> tuple[float, float, float]:
        aer = self.origin.enu_to_aer(enu, self.cfg.lat_deg, self.cfg.lon_deg, self.cfg.alt_m)
        return float(aer[0]), float(aer[1]), float(aer[2])

    def _in_coverage(self, el_deg: float, range_m: float, az_deg: float) -> bool:
        c = self.cfg
        off = (az_deg - c.sector_centre_deg + 180.0) % 360.0 - 180.0
        return (
            c.min_range_m <= range_m <= c.max_range_m
            and -2.0 <= el_deg <= c.max_elevation_deg
            and abs(off) <= c.sector_width_deg / 2.0
        )

    # --- messages ------------------------------------------------------------------------------

    def _stamp(self, t_s: float) -> float:
        """UTC seconds on the node's own clock at scenario time ``t_s``."""
        return self.epoch_s + t_s + self.cfg.clock_offset_s

    def _header(self, t_s: float) -> dict[str, object]:
        stamp = dt.datetime.fromtimestamp(self._stamp(t_s), tz=dt.UTC)
        return {"timestamp": stamp.isoformat().replace("+00:00", "Z"), "nodeId": self.cfg.node_id}

    def registration(self, t_s: float) -> SapientMessage:
        """The node's Registration (what it is, how it reports)."""
        body = {
            **self._header(t_s),
            "registration": {
                "nodeDefinition": [
                    {"nodeType": "NODE_TYPE_RADAR", "nodeSubType": ["3D ESA surveillance"]}
                ],
                "icdVersion": ICD_VERSION,
                "name": self.cfg.name,
                "shortName": "RDR1",
                "capabilities": [
                    {
                        "category": "Detection",
                        "type": "MaxRange",
                        "value": str(self.cfg.max_range_m),
                        "units": "m",
                    }
                ],
                "statusDefinition": {
                    "statusInterval": {
                        "units": "TIME_UNITS_SECONDS",
                        "value": self.cfg.status_interval_s,
                    },
                    "locationDefinition": {
                        "locationUnits": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
                        "locationDatum": "LOCATION_DATUM_WGS84_E",
                    },
                },
                "modeDefinition": [
                    {
                        "modeName": "Default",
                        "modeType": "MODE_TYPE_PERMANENT",
                        "settleTime": {"units": "TIME_UNITS_SECONDS", "value": 1},
                        "scanType": "SCAN_TYPE_SCANNING",
                        "trackingType": "TRACKING_TYPE_NONE",
                        "detectionDefinition": [
                            {
                                "locationType": {
                                    "rangeBearingUnits": _RB_DEGREES_M,
                                    "rangeBearingDatum": "RANGE_BEARING_DATUM_TRUE",
                                },
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
                        },
                    }
                ],
                "configData": [{"manufacturer": "Luchtwacht simulator", "model": "ESA-3D"}],
            },
        }
        return json_format.ParseDict(body, SapientMessage())

    def status_report(self, t_s: float) -> SapientMessage:
        """A StatusReport carrying the node's location (needed to place range/bearing plots)."""
        body = {
            **self._header(t_s),
            "statusReport": {
                "reportId": new_ulid(self._stamp(t_s), self.rng),
                "system": "SYSTEM_OK",
                "info": "INFO_NEW" if not self._registered else "INFO_UNCHANGED",
                "mode": "Default",
                "nodeLocation": wgs84_location(
                    self.cfg.lat_deg, self.cfg.lon_deg, self.cfg.alt_m, 1e-6, 1.0
                ),
            },
        }
        return json_format.ParseDict(body, SapientMessage())

    def _detection(
        self,
        t_s: float,
        az: float,
        el: float,
        rng: float,
        conf: float,
        cls: ObjectClass | None,
        cls_conf: float,
    ) -> SapientMessage:
        msg = SapientMessage()
        abs_t = self._stamp(t_s)
        msg.timestamp.seconds = math.floor(abs_t)
        msg.timestamp.nanos = round((abs_t - math.floor(abs_t)) * 1e9) % 1_000_000_000
        msg.node_id = self.cfg.node_id
        dr = msg.detection_report
        dr.report_id = new_ulid(abs_t, self.rng)
        dr.object_id = new_ulid(abs_t, self.rng)
        rb = dr.range_bearing
        rb.azimuth, rb.elevation, rb.range = az, el, rng
        rb.azimuth_error = self.cfg.azimuth_std_deg
        rb.elevation_error = self.cfg.elevation_std_deg
        rb.range_error = self.cfg.range_std_m
        rb.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
        rb.datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
        dr.detection_confidence = conf
        if cls is not None:
            c = dr.classification.add()
            c.type = _CLASS_NAMES[cls]
            c.confidence = cls_conf
        return msg

    def _range_rate(self, msg: SapientMessage, rdot_ms: float) -> None:
        """Add a plot's measured range rate (m/s, positive opening) as ``object_info``."""
        info = msg.detection_report.object_info.add()
        info.type = "RangeRate"
        info.value = f"{rdot_ms:.3f}"
        info.error = self.cfg.range_rate_std_ms

    # --- the scan ------------------------------------------------------------------------------

    def scan(self, t_s: float, targets: Sequence[Target]) -> list[bytes]:
        """One volume scan at ``t_s``: framed SAPIENT messages (control messages first)."""
        out: list[bytes] = []
        c, rng = self.cfg, self.rng
        if c.down(t_s):
            self.next_scan_s = t_s + c.period_s
            return out
        if not self._registered:
            out.append(frame(self.registration(t_s)))
        if t_s >= self._next_status_s:
            out.append(frame(self.status_report(t_s)))
            self._registered = True
            self._next_status_s = t_s + c.status_interval_s
        for tgt in targets:
            s = tgt.path.state(t_s)
            if s is None:
                continue
            az, el, r = self._aer(s[0])
            if not self._in_coverage(el, r, az):
                continue
            snr = self.snr(tgt.rcs_m2, r)
            if rng.random() >= c.pfa ** (1.0 / (1.0 + snr)):
                continue
            cls, cls_conf = self._classify(tgt.true_class, snr)
            msg = self._detection(
                t_s,
                (az + rng.normal(0, c.azimuth_std_deg)) % 360.0,
                el + rng.normal(0, c.elevation_std_deg),
                r + rng.normal(0, c.range_std_m),
                min(0.99, 0.5 + 0.1 * math.log10(1.0 + snr)),
                cls,
                cls_conf,
            )
            if c.range_rate_std_ms > 0.0:
                los = np.asarray(s[0], dtype=float) - self._site_enu
                rdot = float(los @ np.asarray(s[1], dtype=float)) / max(
                    float(np.linalg.norm(los)), 1.0
                )
                self._range_rate(msg, rdot + float(rng.normal(0.0, c.range_rate_std_ms)))
            out.append(frame(msg))
        for _ in range(rng.poisson(c.false_alarms_per_scan)):
            r = float(np.sqrt(rng.uniform(c.min_range_m**2, c.max_range_m**2)))
            cls = ObjectClass.CLUTTER if rng.random() < 0.3 else None
            az_fa = float(rng.uniform(0.0, 360.0))
            if c.sector_width_deg < 360.0:  # false alarms come from the covered sector only
                az_fa = (c.sector_centre_deg + (az_fa / 360.0 - 0.5) * c.sector_width_deg) % 360.0
            msg = self._detection(
                t_s,
                az_fa,
                float(rng.uniform(0.0, c.clutter_max_elevation_deg)),
                r,
                0.5,
                cls,
                float(rng.uniform(0.5, 0.8)),
            )
            if c.range_rate_std_ms > 0.0:
                # Ground and rain clutter sits near zero Doppler; noise plots anywhere.
                half = c.clutter_doppler_span_ms / 2.0
                stationary = cls is ObjectClass.CLUTTER
                rdot = rng.normal(0.0, 1.0) if stationary else rng.uniform(-half, half)
                self._range_rate(msg, float(rdot))
            out.append(frame(msg))
        self.next_scan_s = t_s + c.period_s
        return out

    def _classify(self, true_class: ObjectClass, snr: float) -> tuple[ObjectClass | None, float]:
        """A micro-Doppler class report: often absent, usually right, sometimes wrong."""
        c, rng = self.cfg, self.rng
        if snr < c.classify_min_snr or rng.random() >= c.classify_prob:
            return None, 0.0
        conf = float(rng.uniform(0.55, 0.95))
        if rng.random() < c.classify_correct_prob:
            return true_class, conf
        others = [k for k in ObjectClass if k not in (true_class, ObjectClass.CLUTTER)]
        return others[int(rng.integers(len(others)))], conf
