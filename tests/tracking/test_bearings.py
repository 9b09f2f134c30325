"""Angle-only sensors in the tracker: a target seen only by two bearing-only sensors."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def confirmed_pair(tr, gap_m=20.0):
    """Two drones side by side (east–west, ``gap_m`` apart) 1.5 km north, held by a radar."""

    def pts(k):
        return [np.array([0.0, 1500.0 + 5.0 * k, 80.0]), np.array([gap_m, 1500.0 + 5.0 * k, 80.0])]

    for k in range(8):
        z = np.array(pts(k))
        tr.process(
            DetectionBatch("radar", np.full(2, float(k)), z, np.broadcast_to(np.eye(3) * 4.0, (2, 3, 3)).copy(),
                           np.zeros((2, N_CLASSES)), scan_t_s=float(k))
        )  # fmt: skip
    assert int(tr.tracks.confirmed.sum()) == 2
    return pts


def test_a_bearing_between_two_close_tracks_moves_neither_and_misses_neither():
    tr = Tracker()
    pts = confirmed_pair(tr)
    rf = np.array([0.0, 0.0, 5.0])
    middle = (pts(8)[0] + pts(8)[1]) / 2
    before_x = tr.predicted(8.0)[0][:, :3].copy()
    az = math.atan2(middle[0] - rf[0], middle[1] - rf[1])
    b = BearingBatch("rf", rf, 8.0, np.array([az]), np.array([SIGMA_AZ]), np.array([np.nan]),
                     np.array([np.nan]), np.zeros((1, N_CLASSES)))  # fmt: skip
    tr.process_bearings(b)
    np.testing.assert_allclose(tr.tracks.x[:, :3], before_x, atol=1e-9)  # no pull either way
    assert len(tr.tracks) == 2  # and no track started from it
    # No miss charged: existence has only decayed to its cap, ln(60) ≈ 4.1 (a miss: -2.3 more)
    assert (tr.tracks.score > 3.5).all()


def test_a_track_beyond_a_sensors_stated_reach_is_not_missed_by_it():
    tr = Tracker()
    confirmed_pair(tr)
    mic = np.array([0.0, 0.0, 2.0])
    ear = BearingBatch("acoustic", mic, 8.0, np.array([0.5]), np.array([0.1]), np.array([np.nan]),
                       np.array([np.nan]), np.zeros((1, N_CLASSES)), coverage_range_m=400.0)  # fmt: skip
    tr.process_bearings(ear)  # the acoustic array has now "seen" nothing of them, 1.5 km out
    tr.tracks.seen_by |= tr._sensor_bit("acoustic")  # as if it had heard them when near
    for k in range(9, 15):
        empty = BearingBatch("acoustic", mic, float(k), np.empty(0), np.empty(0), np.empty(0),
                             np.empty(0), np.zeros((0, N_CLASSES)), coverage_range_m=400.0)  # fmt: skip
        tr.process_bearings(empty)
    assert (tr.tracks.score > 3.5).all()  # decay only: no ln(1 - PD) for six silent batches
    near = dataclasses.replace(empty, coverage_range_m=5000.0, t_s=16.0)
    tr.process_bearings(near)
    assert (tr.tracks.score < 2.5).all()  # within reach, silence is a miss


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_t=st.integers(0, 30), n_b=st.integers(0, 30))
def test_the_azimuth_pre_gate_keeps_every_pair_the_full_gate_keeps(seed, n_t, n_b):
    from scipy.special import chdtri

    from luchtwacht.tracking.measurement import ekf_innovation
    from luchtwacht.tracking.tracker import _azimuth_candidates

    rng = np.random.default_rng(seed)
    sensor = np.array([0.0, 0.0, 5.0])
    x = np.zeros((n_t, 6))
    x[:, :3] = rng.uniform(-3000, 3000, (n_t, 3))
    x[: n_t // 3, :2] = [[-500.0, -2000.0]]  # some due south: azimuths near ±π
    a = rng.normal(size=(n_t, 6, 6)) * rng.uniform(1, 80)
    p = a @ np.swapaxes(a, 1, 2) + np.eye(6)
    az = rng.uniform(-math.pi, math.pi, n_b)
    az[: n_b // 3] = math.pi - rng.uniform(0, 0.05, n_b // 3)  # bearings just east of south
    std = np.full(n_b, math.radians(2.0))
    gate_d2 = float(chdtri(1, 1e-4))
    pt, pb = _azimuth_candidates(x, p, sensor, az, std, gate_d2)
    got = set(zip(pt.tolist(), pb.tolist(), strict=True))
    assert len(got) == pt.size  # no pair twice
    ti = np.repeat(np.arange(n_t), n_b)
    bi = np.tile(np.arange(n_b), n_t)
    if ti.size:
        nu, s, _ = ekf_innovation(
            x[ti], p[ti], az[bi, None], (std[bi] ** 2)[:, None, None], sensor, "azimuth"
        )
        inside = nu[:, 0] ** 2 / s[:, 0, 0] <= gate_d2
        assert {(int(t), int(b)) for t, b in zip(ti[inside], bi[inside], strict=True)} <= got
