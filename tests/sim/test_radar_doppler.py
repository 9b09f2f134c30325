"""Range rate from the simulated radar through SAPIENT into the tracker's Doppler EKF."""

import dataclasses
import math

import numpy as np
import pytest

from luchtwacht.ingest.sapient import SapientPipe, frame, parse_message, split_frames, validate
from luchtwacht.model.detection import N_CLASSES, DetectionBatch, ObjectClass
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.targets import Target, WaypointPath
from luchtwacht.tracking.tracker import Tracker, TrackerConfig
from tests.sim.test_bearing_sensors import EPOCH, ORIGIN, _lla

RADAR = "4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c"


def radar(**kw):
    lat, lon, alt = _lla(0.0, 0.0, 10.0)
    cfg = RadarConfig(RADAR, lat, lon, alt, false_alarms_per_scan=0.0, **kw)
    return RadarSim(cfg, ORIGIN, EPOCH, 5)


def receding():
    # 2 km north-east of the radar, flying directly away at 15 m/s (range rate +15 m/s).
    d = np.array([1.0, 1.0, 0.0]) / math.sqrt(2.0)
    start = 2000.0 * d + np.array([0.0, 0.0, 60.0])
    end = start + 1000.0 * d
    return Target("d", ObjectClass.DRONE, 1.0, WaypointPath((tuple(start), tuple(end)), (15.0,)))


def test_the_radar_reports_each_plots_range_rate():
    sim = radar(range_rate_std_ms=0.5)
    msgs = [parse_message(b) for b in split_frames(b"".join(sim.scan(0.0, [receding()]))) or []]
    (plot,) = [m for m in msgs if m.WhichOneof("content") == "detection_report"]
    validate(plot)
    (info,) = plot.detection_report.object_info
    assert info.type == "RangeRate" and info.error == 0.5
    # Measured from the radar 10 m up: the geometry takes a hair off the 15 m/s.
    assert abs(float(info.value) - 15.0) < 4 * 0.5
    silent = radar(range_rate_std_ms=0.0)
    msgs = [parse_message(b) for b in split_frames(b"".join(silent.scan(0.0, [receding()]))) or []]
    assert all(not m.detection_report.object_info for m in msgs)


def test_ingest_puts_the_range_rate_in_the_radar_space_batch():
    sim = radar(range_rate_std_ms=0.5)
    pipe = SapientPipe("radar-1", ORIGIN)
    (batch,) = pipe.feed(b"".join(sim.scan(0.0, [receding()]))) + pipe.flush()
    assert isinstance(batch, DetectionBatch) and batch.polar is not None
    assert batch.polar.shape == (1, 4) and abs(batch.polar[0, 3] - 15.0) < 2.0
    assert batch.polar_cov is not None and batch.polar_cov[0, 3, 3] == pytest.approx(0.25)


@pytest.mark.parametrize("value", ["fast", "nan", "inf"])
def test_an_unreadable_range_rate_leaves_the_plot_without_one(value):
    sim = radar(range_rate_std_ms=0.5)
    frames = sim.scan(0.0, [receding()])
    msgs = [parse_message(b) for b in split_frames(b"".join(frames)) or []]
    plot = next(m for m in msgs if m.WhichOneof("content") == "detection_report")
    plot.detection_report.object_info[0].value = value
    validate(plot)  # free text, as far as the ICD goes
    pipe = SapientPipe("radar-1", ORIGIN)
    others = b"".join(frame(m) for m in msgs if m is not plot)
    (batch,) = pipe.feed(others + frame(plot)) + pipe.flush()
    assert isinstance(batch, DetectionBatch) and batch.polar is not None
    assert batch.polar.shape == (1, 3)
    assert pipe.counters.rejected == 0


def test_the_tracker_widens_the_range_rate_for_manoeuvres():
    # A hovering drone's plots with a 0.5 m/s range rate, then one opening at 14 m/s (it darts
    # away): the tracker allows 3 m/s of manoeuvre on top of the 0.5, so the plot is still its
    # own; with no allowance the range rate alone throws it out of the gate.
    pol = np.array([[math.radians(45.0), math.radians(1.0), 2000.0, 0.0]])
    cov = np.diag([math.radians(0.3) ** 2, math.radians(0.5) ** 2, 25.0, 0.25])[None]
    x, y = 2000.0 * math.sin(math.radians(45.0)), 2000.0 * math.cos(math.radians(45.0))
    z = np.array([[x, y, 2000.0 * math.sin(math.radians(1.0))]])

    def batch(t, rdot):
        p = pol.copy()
        p[0, 3] = rdot
        return DetectionBatch(
            "radar", np.array([t]), z + np.array([[0.0, 0.0, 0.0]]), np.eye(3)[None] * 100.0,
            np.zeros((1, N_CLASSES)), scan_t_s=t, polar=p, polar_cov=cov.copy(),
            sensor_enu_m=np.zeros(3),
        )  # fmt: skip

    for allowance, kept in ((3.0, True), (0.0, False)):
        tr = Tracker(dataclasses.replace(TrackerConfig(), range_rate_manoeuvre_std_ms=allowance))
        for t in range(8):
            tr.process(batch(float(t), 0.0))
        (first,) = tr.tracks.track_id.tolist()
        tr.process(batch(8.0, 14.0))
        hit = bool(tr.tracks.last_hit_t_s[tr.tracks.track_id == first][0] == 8.0)
        assert hit == kept, allowance
        assert len(tr.tracks) == (1 if kept else 2)  # refused, the plot starts a track
