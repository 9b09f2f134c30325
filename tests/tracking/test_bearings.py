"""Angle-only sensors in the tracker: a target seen only by two bearing-only sensors."""

import math

import numpy as np
import pytest

from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch
from luchtwacht.tracking.tracker import Tracker, TrackerConfig

SIGMA_AZ = math.radians(1.0)


def bearing(sensor, pos, t, sid, rng, elevation=False):
    d = pos - sensor
    az = math.atan2(d[0], d[1]) + rng.normal(0, SIGMA_AZ)
    el = math.atan2(d[2], math.hypot(d[0], d[1])) + rng.normal(0, SIGMA_AZ) if elevation else np.nan
    return BearingBatch(
        sid, sensor, float(t), np.array([az]), np.array([SIGMA_AZ]), np.array([el]),
        np.array([SIGMA_AZ if elevation else np.nan]), np.zeros((1, N_CLASSES)),
    )  # fmt: skip


def drone(t):
    return np.array([800.0 + 6.0 * t, 1500.0 - 4.0 * t, 90.0])


@pytest.mark.parametrize("motion", ["ncv", "imm"])
def test_a_target_seen_only_by_two_bearing_only_sensors_is_tracked(motion):
    rng = np.random.default_rng(21)
    rf_a, rf_b = np.array([0.0, 0.0, 5.0]), np.array([2000.0, 0.0, 5.0])
    tr = Tracker(TrackerConfig(motion=motion))
    errors = []
    for k in range(40):
        tr.process_bearings(bearing(rf_a, drone(k), k, "rf-a", rng, elevation=True))
        tr.process_bearings(bearing(rf_b, drone(k + 0.3), k + 0.3, "rf-b", rng, elevation=True))
        conf = tr.tracks.confirmed
        if k >= 10:
            assert conf.sum() == 1, k
            errors.append(np.linalg.norm(tr.tracks.x[conf][0, :3] - drone(k + 0.3)))
    # 1° bearings crossing at ~70° from 1.5-2 km: a few tens of metres
    assert np.median(errors) < 30.0
    v = tr.tracks.x[tr.tracks.confirmed][0, 3:5]
    assert np.hypot(*(v - [6.0, -4.0])) < 3.0


@pytest.mark.parametrize("motion", ["ncv", "imm"])
def test_bearings_refine_a_radar_track_and_cost_it_nothing_elsewhere(motion):
    rng = np.random.default_rng(5)
    tr = Tracker(TrackerConfig(motion=motion))
    rf = np.array([0.0, 0.0, 5.0])
    for k in range(15):
        p = drone(k)
        z = (p + rng.normal(0, 15, 3))[None]
        radar = DetectionBatch(
            "radar", np.array([float(k)]), z, np.eye(3)[None] * 225.0, np.zeros((1, N_CLASSES))
        )
        tr.process(radar)
        tr.process_bearings(bearing(rf, drone(k + 0.5), k + 0.5, "rf", rng))
    assert len(tr.tracks) == 1 and tr.tracks.confirmed[0]
    assert tr.tracks.hits[0] >= 25  # radar and bearing hits on the one track


def test_parallel_bearings_start_nothing():
    rng = np.random.default_rng(1)
    tr = Tracker()
    a, b = np.array([0.0, 0.0, 0.0]), np.array([10.0, 0.0, 0.0])  # 10 m baseline, target 3 km north
    for k in range(5):
        tr.process_bearings(bearing(a, np.array([5.0, 3000.0, 50.0]), k, "a", rng))
        tr.process_bearings(bearing(b, np.array([5.0, 3000.0, 50.0]), k + 0.1, "b", rng))
    assert len(tr.tracks) == 0
