"""Blinding (issue #12): no input aborts the tracker or leaves a track that is not a number.

The red-team attack: a plot at range 0 puts a track on the radar itself, and the next plot 5 m
out divided by zero in the range/bearing Jacobian, so ``Tracker.process`` raised and the node's
whole tick was lost. Batches reach the tracker as the fusion core hands them over
(``Tracker.process`` / ``Tracker.process_bearings``).
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luchtwacht.geo.frames import aer_covariance_to_enu
from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch
from luchtwacht.tracking.admission import bearing_rows
from luchtwacht.tracking.imm_kernels import KIND_RADAR, measure_into
from luchtwacht.tracking.measurement import (
    MIN_HORIZONTAL_RANGE_M,
    ekf_innovation,
    jacobian,
    measure,
    on_sensor_axis,
)
from luchtwacht.tracking.tracker import CONFIRMED, Tracker, TrackerConfig
from luchtwacht.tracking.triangulation import Rejection, triangulate

RADAR = np.array([100.0, 200.0, 5.0])
SIG_POLAR = np.array([math.radians(0.5), math.radians(0.5), 5.0, 0.5])
CONFIGS = [
    TrackerConfig(motion=motion, assoc=assoc)
    for motion in ("ncv", "imm")
    for assoc in ("gnn", "jpda")
]
IDS = [f"{c.motion}-{c.assoc}" for c in CONFIGS]


def assert_finite(tr: Tracker) -> None:
    tt = tr.tracks
    for name in ("x", "P", "score", "xm", "Pm", "mu"):
        assert np.isfinite(getattr(tt, name)).all(), name


def radar_plot(t, az, el, rng, *, doppler=False, converted_cov=True, sensor=RADAR):
    """One plot of a radar at ``sensor`` as its ingest builds it: polar, and converted to ENU."""
    m = 4 if doppler else 3
    polar = np.array([[az, el, rng, 0.0][:m]])
    z = sensor + rng * np.array(
        [math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)]
    )
    if converted_cov:  # singular at range 0: no cross-range extent at all
        r = aer_covariance_to_enu(
            [math.degrees(az)], [math.degrees(el)], [rng],
            [math.degrees(SIG_POLAR[0])], [math.degrees(SIG_POLAR[1])], [SIG_POLAR[2]],
        )  # fmt: skip
    else:
        r = np.eye(3)[None] * 25.0
    return DetectionBatch(
        "radar", np.array([float(t)]), z[None], r, np.zeros((1, N_CLASSES)), scan_t_s=float(t),
        polar=polar, polar_cov=np.diag(SIG_POLAR[:m] ** 2)[None], sensor_enu_m=sensor,
    )  # fmt: skip


def enu_plots(t, pts, r=None, sensor="radar"):
    pts = np.asarray(pts, float).reshape(-1, 3)
    n = pts.shape[0]
    r = np.broadcast_to(np.eye(3) * 25.0, (n, 3, 3)).copy() if r is None else np.asarray(r, float)
    return DetectionBatch(sensor, np.full(n, float(t)), pts, r, np.zeros((n, N_CLASSES)))


@pytest.mark.parametrize("doppler", [False, True])
@pytest.mark.parametrize("converted_cov", [False, True])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_a_range_zero_plot_then_one_five_metres_out_blinds_nothing(cfg, converted_cov, doppler):
    tr = Tracker(cfg)
    far = np.array([2000.0, 3000.0, 120.0])
    for k in range(4):  # a real target elsewhere keeps being tracked throughout
        tr.process(enu_plots(k, far + np.array([10.0 * k, 0, 0])))
    first = tr.process(radar_plot(4.0, 0.0, 0.0, 0.0, doppler=doppler, converted_cov=converted_cov))
    # As the radar's ingest converts it, a range-0 plot's ENU covariance is singular: refused.
    assert first is not converted_cov
    assert tr.rows_refused["covariance"] == int(converted_cov)
    assert tr.process(radar_plot(5.0, 0.3, 0.1, 5.0, doppler=doppler, converted_cov=converted_cov))
    assert tr.process(radar_plot(6.0, 0.3, 0.1, 5.0, doppler=doppler, converted_cov=converted_cov))
    assert_finite(tr)
    there = far + np.array([70.0, 0, 0])
    assert tr.process(enu_plots(7, there))
    assert_finite(tr)
    held = np.linalg.norm(tr.tracks.x[:, :3] - there, axis=1)
    assert held.min() < 10.0


def test_the_jacobian_is_floored_and_degenerate_geometry_is_named():
    sensor = np.array([1.0, 2.0, 3.0])
    x = np.zeros((3, 6))
    x[:, :3] = sensor
    x[1, 2] += 50.0  # straight above the sensor
    x[2, :3] += [MIN_HORIZONTAL_RANGE_M, 0.0, 50.0]  # just at the least distance
    for kind in ("radar", "radar_doppler", "azimuth", "azimuth_elevation"):
        assert np.isfinite(jacobian(x, sensor, kind)).all(), kind
        assert np.isfinite(measure(x, sensor, kind)).all(), kind
    assert on_sensor_axis(x, sensor).tolist() == [True, True, False]
    # The compiled measurement agrees on where the geometry stops being usable.
    h, jac = np.empty(4), np.empty((4, 6))
    below = x[2].copy()
    below[0] = sensor[0] + 0.999 * MIN_HORIZONTAL_RANGE_M
    assert measure_into(x[2], sensor, KIND_RADAR, h, jac)
    assert not measure_into(below, sensor, KIND_RADAR, h, jac)
    assert np.isfinite(jac).all()
    assert not measure_into(x[0], sensor, KIND_RADAR, h, jac)
    assert np.isfinite(jac[:3]).all()


def test_normal_geometry_is_untouched_by_the_floor():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 500, (50, 6))
    p = np.broadcast_to(np.eye(6) * 25.0, (50, 6, 6)).copy()
    z = rng.normal(0, 1, (50, 4))
    r = np.broadcast_to(np.eye(4), (50, 4, 4)).copy()
    sensor = np.zeros(3)
    de, dn = x[:, 0], x[:, 1]
    rho2 = de * de + dn * dn
    nu, s, h = ekf_innovation(x, p, z, r, sensor, "radar_doppler")
    np.testing.assert_array_equal(h[:, 0, 0], dn / rho2)  # bit for bit the unfloored formula
    assert np.isfinite(nu).all() and np.isfinite(s).all()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (np.zeros((3, 3)), "covariance"),
        (np.full((3, 3), np.nan), "covariance"),
        (np.diag([25.0, -25.0, 25.0]), "covariance"),
        (np.array([[25.0, 25.0, 0.0], [25.0, 25.0, 0.0], [0.0, 0.0, 25.0]]), "covariance"),
    ],
    ids=["zero", "nan", "negative-variance", "singular"],
)
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_a_plot_with_an_unfit_covariance_is_dropped_and_the_good_ones_kept(cfg, bad, reason):
    tr = Tracker(cfg)
    good = np.eye(3) * 25.0
    pts = [[0.0, 0.0, 50.0], [500.0, 0.0, 50.0]]
    for k in range(5):
        # the bad plot sits right on the first target, every scan
        b = enu_plots(k, [*pts, pts[0]], r=np.stack([good, good, bad]))
        assert tr.process(b)
    assert tr.rows_refused == {reason: 5}
    assert tr.tracks_dropped_nonfinite == 0
    assert_finite(tr)
    assert (tr.tracks.status == CONFIRMED).sum() == 2


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_a_batch_of_only_unfit_plots_is_refused_and_changes_nothing(cfg):
    tr = Tracker(cfg)
    tr.process(enu_plots(0, [[0.0, 0.0, 50.0]]))
    x, latest = tr.tracks.x.copy(), tr.latest_t_s
    bad = enu_plots(1, [[1.0, 0.0, 50.0], [1e12, 0.0, 0.0]], r=np.zeros((2, 3, 3)))
    assert not tr.process(bad)
    assert tr.batches_refused == {"no_rows": 1}
    assert tr.rows_refused == {"covariance": 1, "position": 1}
    np.testing.assert_array_equal(tr.tracks.x, x)
    assert tr.latest_t_s == latest
    no_time = DetectionBatch(
        "radar", np.empty(0), np.empty((0, 3)), np.empty((0, 3, 3)), np.empty((0, N_CLASSES))
    )
    assert not tr.process(no_time)  # an empty batch without scan_t_s: refused, not raised
    assert tr.batches_refused["time"] == 1


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_a_plot_a_billion_kilometres_out_is_dropped(cfg):
    tr = Tracker(cfg)
    for k in range(3):
        assert tr.process(enu_plots(k, [[0.0, 0.0, 50.0], [1e12, -1e12, 1e12]]))
    assert tr.rows_refused == {"position": 3}
    assert len(tr.tracks) == 1
    assert_finite(tr)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_duplicated_plots_in_one_batch_leave_a_finite_state(cfg):
    tr = Tracker(cfg)
    for k in range(6):
        p = [10.0 * k, 0.0, 50.0]
        assert tr.process(enu_plots(k, [p, p, p]))
        assert_finite(tr)
    assert (tr.tracks.status == CONFIRMED).any()


@pytest.mark.parametrize("motion", ["ncv", "imm"])
def test_a_bearing_from_a_sensor_under_the_track_neither_raises_nor_updates_it(motion):
    rf = np.array([0.0, 0.0, 2.0])
    tr, twin = Tracker(TrackerConfig(motion=motion)), Tracker(TrackerConfig(motion=motion))
    for k in range(4):  # a drone hovering straight above the RF sensor, held by a radar
        assert tr.process(enu_plots(k, [[0.0, 0.0, 80.0]]))
        assert twin.process(enu_plots(k, [[0.0, 0.0, 80.0]]))
    az = np.array([0.3, -2.0])
    b = BearingBatch(
        "rf", rf, 4.0, az, np.full(2, 0.02), np.array([1.5, np.nan]), np.array([0.02, np.nan]),
        np.zeros((2, N_CLASSES)),
    )  # fmt: skip
    assert tr.process_bearings(b)
    assert twin.process_bearings(bearing_rows(b, np.empty(0, np.int64)))  # no bearing at all
    assert_finite(tr)
    assert len(tr.tracks) == 1
    np.testing.assert_array_equal(tr.tracks.x, twin.tracks.x)  # the bearings did not pull it
    np.testing.assert_array_equal(tr.tracks.P, twin.tracks.P)


def test_a_bearing_batch_without_a_time_or_a_sensor_position_is_refused():
    tr = Tracker()
    b = BearingBatch(
        "rf", np.zeros(3), math.nan, np.array([0.1]), np.array([0.01]), np.array([np.nan]),
        np.array([np.nan]), np.zeros((1, N_CLASSES)),
    )  # fmt: skip
    assert not tr.process_bearings(b)
    assert tr.latest_t_s == -math.inf
    b = BearingBatch(
        "rf", np.array([np.inf, 0.0, 0.0]), 1.0, np.array([0.1]), np.array([0.01]),
        np.array([np.nan]), np.array([np.nan]), np.zeros((1, N_CLASSES)),
    )  # fmt: skip
    assert not tr.process_bearings(b)
    assert tr.batches_refused == {"time": 1, "sensor_position": 1}


def test_a_track_gone_non_finite_is_dropped_counted_and_reported_deleted():
    tr = Tracker()
    for k in range(4):
        tr.process(enu_plots(k, [[0.0, 0.0, 50.0], [800.0, 0.0, 50.0]]))
    assert (tr.tracks.status == CONFIRMED).all()
    victim = int(tr.tracks.track_id[0])
    tr.tracks.P[0, 3, 4] = np.inf  # as a defect in a filter step would leave it
    assert tr.process(enu_plots(4, [[800.0, 0.0, 50.0]]))
    assert tr.tracks_dropped_nonfinite == 1
    assert victim in tr.deleted_ids
    assert tr.tracks.track_id.tolist() == [int(i) for i in tr.tracks.track_id if i != victim]
    assert victim not in tr.tracks.track_id
    assert_finite(tr)


# Values an attacker (or a broken sensor) may send: ordinary ones, and every degenerate kind.
WILD = st.one_of(
    st.floats(-3000.0, 3000.0),
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 5.0, 1e12, -1e12, 1e300, np.nan, np.inf, -np.inf]),
)
VARIANCE = st.one_of(
    st.floats(0.01, 1e4),
    st.sampled_from([0.0, -25.0, 1e-30, 1e30, np.nan, np.inf]),
)


@st.composite
def covariances(draw, n, m):
    out = np.empty((n, m, m))
    for i in range(n):
        shape = draw(st.sampled_from(["diag", "full", "wild"]))
        if shape == "diag":
            out[i] = np.diag([draw(VARIANCE) for _ in range(m)])
        elif shape == "full":
            a = np.array([[draw(st.floats(-10, 10)) for _ in range(m)] for _ in range(m)])
            out[i] = a @ a.T
        else:
            out[i] = np.array([[draw(WILD) for _ in range(m)] for _ in range(m)])
    return out


@st.composite
def detection_batches(draw, t):
    n = draw(st.integers(0, 4))
    near = draw(st.booleans())  # plots around the radar, where the geometry degenerates
    sensor = np.array([draw(st.sampled_from([0.0, 100.0, np.nan])), 0.0, 0.0])
    if near:
        offset = st.sampled_from([0.0, 0.05, 5.0, -3.0])
        z = sensor + np.array([[draw(offset) for _ in range(3)] for _ in range(n)]).reshape(n, 3)
    else:
        z = np.array([[draw(WILD) for _ in range(3)] for _ in range(n)]).reshape(n, 3)
    ts = np.array([draw(st.sampled_from([t, t, t, t - 0.1, np.nan, np.inf])) for _ in range(n)])
    loglik = np.zeros((n, N_CLASSES))
    if n and draw(st.booleans()):
        loglik[0, 0] = draw(WILD)
    polar = polar_cov = sensor_enu_m = None
    if draw(st.booleans()):
        m = draw(st.sampled_from([3, 4]))
        d = z - sensor
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 plots: inf ranges, as sent
            rng = np.sqrt((d * d).sum(axis=1))
        polar = np.column_stack(
            [np.arctan2(d[:, 0], d[:, 1]), np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])), rng,
             np.zeros(n)][:m]
        ).reshape(n, m)  # fmt: skip
        if n and draw(st.booleans()):
            polar[0, draw(st.integers(0, m - 1))] = draw(WILD)
        polar_cov = draw(covariances(n, m))
        sensor_enu_m = sensor
    return DetectionBatch(
        draw(st.sampled_from(["radar", "radar-2"])), ts, z, draw(covariances(n, 3)), loglik,
        scan_t_s=draw(st.sampled_from([t, t, np.nan])), polar=polar, polar_cov=polar_cov,
        sensor_enu_m=sensor_enu_m, pd=draw(st.sampled_from([np.nan, 0.0, 1.0, 0.9])),
        clutter_density_m3=draw(st.sampled_from([np.nan, 0.0, 1e-10, np.inf])),
    )  # fmt: skip


@st.composite
def bearing_batches(draw, t):
    n = draw(st.integers(0, 3))
    sensor = np.array([draw(st.sampled_from([0.0, 5.0, np.nan])), 0.0, 2.0])

    def col(values):
        return np.array([draw(values) for _ in range(n)], dtype=float)

    angle = st.one_of(st.floats(-3.2, 3.2), st.sampled_from([0.0, np.nan, np.inf]))
    std = st.one_of(st.floats(1e-3, 0.5), st.sampled_from([0.0, -0.1, np.nan, np.inf]))
    return BearingBatch(
        draw(st.sampled_from(["rf-a", "rf-b"])), sensor, draw(st.sampled_from([t, t, np.nan])),
        col(angle), col(std), col(angle), col(std), np.zeros((n, N_CLASSES)),
    )  # fmt: skip


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(cfg=st.sampled_from(CONFIGS), data=st.data())
def test_no_batch_raises_or_leaves_a_non_finite_state(cfg, data):
    tr = Tracker(cfg)
    # A real target near the radar first, so that there are tracks for the attack to hit.
    for k in range(3):
        tr.process(radar_plot(float(k), 0.2, 0.05, 30.0 - 10.0 * k, converted_cov=False))
        tr.process(enu_plots(k, [[0.0, 0.0, 0.0]]))
    for k in range(3, 8):
        if data.draw(st.booleans()):
            tr.process(data.draw(detection_batches(float(k))))
        else:
            tr.process_bearings(data.draw(bearing_batches(float(k))))
        assert_finite(tr)
    assert tr.tracks_dropped_nonfinite == 0  # admission and the gates kept it all out


def test_a_bearing_fix_on_a_sensors_vertical_axis_is_rejected_not_divided_by_zero():
    # Sensor a looks north, sensor b looks west along a line 5 cm north of a: they cross 5 cm in
    # front of a, where a's azimuth means nothing.
    sensors = np.array([[0.0, 0.0, 0.0], [100.0, 0.05, 0.0]])
    with np.errstate(all="raise"):
        res = triangulate(sensors, [0.0, -math.pi / 2], [0.01, 0.01])
    assert Rejection(int(res.reason[0])) is Rejection.ON_SENSOR_AXIS
    assert np.isfinite(res.position).all() and np.isfinite(res.covariance).all()
    sensors[1, 1] = 50.0  # the same crossing 50 m in front of a
    fine = triangulate(sensors, [0.0, -math.pi / 2], [0.01, 0.01])
    assert Rejection(int(fine.reason[0])) is Rejection.ACCEPTED
