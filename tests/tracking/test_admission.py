"""Admission: the row checks every batch passes before the tracker uses it (issue #12)."""

import math

import numpy as np
import pytest

from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch, RfEmitter
from luchtwacht.tracking.admission import (
    MAX_SITE_RANGE_M,
    Refusal,
    admit_bearings,
    admit_detections,
    covariance_fit,
    nonfinite_tracks,
)


def detections(z, r, t=1.0, **kw):
    z = np.asarray(z, float).reshape(-1, 3)
    n = z.shape[0]
    r = np.asarray(r, float).reshape(n, 3, 3)
    return DetectionBatch("radar", np.full(n, t), z, r, np.zeros((n, N_CLASSES)), **kw)


def fit(c):
    return bool(covariance_fit(np.asarray(c, float)[None], 0))


GOOD = np.eye(3) * 25.0


@pytest.mark.parametrize(
    ("cov", "ok"),
    [
        (GOOD, True),
        (np.diag([1e-4, 1e-4, 25.0]), True),  # a radar's (az, el, r)
        (np.array([[4.0, 1.9, 0.0], [1.9, 1.0, 0.0], [0.0, 0.0, 1.0]]), True),  # ρ = 0.95
        (np.zeros((3, 3)), False),
        (np.diag([25.0, 0.0, 25.0]), False),
        (np.diag([25.0, -1.0, 25.0]), False),
        (np.diag([25.0, np.nan, 25.0]), False),
        (np.diag([25.0, np.inf, 25.0]), False),
        (np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), False),  # rank 2
        (np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), False),  # indefinite
        (np.array([[4.0, 1.0, 0.0], [-1.0, 4.0, 0.0], [0.0, 0.0, 4.0]]), False),  # asymmetric
        (np.diag([1e-30, 1.0, 1.0]), False),  # below MIN_VARIANCE
        (np.diag([1e20, 1.0, 1.0]), False),  # above MAX_VARIANCE
        (np.diag([1e-4, 1e-4, 25.0, 0.25]), True),  # with range rate
        (np.diag([1e-4, 1e-4, 25.0, 0.0]), False),
    ],
)
def test_a_covariance_is_fit_when_finite_symmetric_positive_definite_and_in_range(cov, ok):
    assert fit(cov) is ok


def test_round_off_asymmetry_of_a_converted_covariance_is_accepted():
    rng = np.random.default_rng(3)
    j = rng.normal(size=(3, 3))
    c = j @ np.diag([1e-4, 1e-4, 25.0]) @ j.T
    c[0, 1] *= 1 + 1e-14
    assert fit(c)


def test_a_clean_batch_is_admitted_as_it_is():
    b = detections([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [GOOD, GOOD])
    a = admit_detections(b)
    assert a.batch is b and a.rows_refused == () and a.batch_refusal is None


def test_bad_rows_are_dropped_with_their_reason_and_the_rest_kept_with_their_fields():
    z = [[1.0, 1.0, 1.0], [np.nan, 0, 0], [1e12, 0, 0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]]
    r = [GOOD, GOOD, GOOD, np.zeros((3, 3)), GOOD]
    b = detections(
        z, r, ident=("a", "b", "c", "d", "e"), emitter=(None, None, None, None, RfEmitter("dji"))
    )
    t = b.t_s.copy()
    t[0] = np.inf
    b = DetectionBatch(
        b.sensor_id, t, b.z, b.R, b.class_loglik, ident=b.ident, emitter=b.emitter
    )  # fmt: skip
    a = admit_detections(b)
    assert a.batch_refusal is None
    assert a.rows_refused == (Refusal.TIME, Refusal.POSITION, Refusal.POSITION, Refusal.COVARIANCE)
    assert a.batch is not None and len(a.batch) == 1
    assert a.batch.ident == ("e",) and a.batch.emitter == (RfEmitter("dji"),)
    np.testing.assert_array_equal(a.batch.z, [[3.0, 3.0, 3.0]])


def test_a_batch_with_no_fit_row_or_no_time_is_refused_whole():
    a = admit_detections(detections([[0.0, 0.0, 0.0]], [np.zeros((3, 3))]))
    assert a.batch is None and a.batch_refusal is Refusal.NO_ROWS
    assert a.rows_refused == (Refusal.COVARIANCE,)
    empty = DetectionBatch(
        "radar", np.empty(0), np.empty((0, 3)), np.empty((0, 3, 3)), np.empty((0, N_CLASSES))
    )
    a = admit_detections(empty)  # no scan_t_s: no time at all
    assert a.batch is None and a.batch_refusal is Refusal.TIME


def test_radar_measurements_are_checked_in_their_own_space():
    z = np.array([[0.0, 100.0, 0.0]] * 5)
    polar = np.array(
        [
            [0.0, 0.0, 100.0],
            [0.0, 2.0, 100.0],  # elevation beyond π/2
            [0.0, 0.0, -1.0],  # negative range
            [np.nan, 0.0, 100.0],
            [0.0, 0.0, 100.0],
        ]
    )
    pcov = np.broadcast_to(np.diag([1e-4, 1e-4, 25.0]), (5, 3, 3)).copy()
    pcov[4] = 0.0
    b = detections(z, [GOOD] * 5, polar=polar, polar_cov=pcov, sensor_enu_m=np.zeros(3))
    a = admit_detections(b)
    assert a.rows_refused == (Refusal.POLAR,) * 3 + (Refusal.POLAR_COVARIANCE,)
    assert a.batch is not None and a.batch.polar is not None
    np.testing.assert_array_equal(a.batch.polar, polar[:1])
    nowhere = detections(
        z, [GOOD] * 5, polar=polar, polar_cov=pcov, sensor_enu_m=np.array([0.0, np.nan, 0.0])
    )
    a = admit_detections(nowhere)
    assert a.batch is None and a.batch_refusal is Refusal.SENSOR_POSITION
    assert a.rows_refused == (Refusal.SENSOR_POSITION,) * 5


def test_bearing_rows_are_checked():
    n = 6
    az = np.array([0.1, np.nan, 0.2, 0.3, 0.4, 0.5])
    az_std = np.array([0.01, 0.01, 0.0, 0.01, 0.01, 0.01])
    el = np.array([np.nan, np.nan, np.nan, np.inf, 0.1, 0.2])
    el_std = np.array([np.nan, np.nan, np.nan, 0.01, np.nan, 0.01])
    loglik = np.zeros((n, N_CLASSES))
    loglik[5, 1] = np.nan
    b = BearingBatch("rf", np.zeros(3), 1.0, az, az_std, el, el_std, loglik)
    a = admit_bearings(b)
    assert a.rows_refused == (
        Refusal.AZIMUTH, Refusal.AZIMUTH, Refusal.ELEVATION, Refusal.ELEVATION,
        Refusal.CLASS_EVIDENCE,
    )  # fmt: skip
    assert a.batch is not None and a.batch.azimuth_rad.tolist() == [0.1]
    late = BearingBatch("rf", np.zeros(3), math.nan, az, az_std, el, el_std, loglik)
    assert admit_bearings(late).batch_refusal is Refusal.TIME
    lost = BearingBatch("rf", np.full(3, 2 * MAX_SITE_RANGE_M), 1.0, az, az_std, el, el_std, loglik)
    assert admit_bearings(lost).batch_refusal is Refusal.SENSOR_POSITION


def test_nonfinite_tracks_finds_every_row_with_a_bad_entry():
    n, m = 5, 3
    x, p, score = np.zeros((n, 6)), np.zeros((n, 6, 6)), np.zeros(n)
    xm, pm, mu = np.zeros((n, m, 9)), np.zeros((n, m, 9, 9)), np.full((n, m), 1 / 3)
    x[1, 4] = np.nan
    p[2, 5, 0] = -np.inf
    pm[3, 2, 8, 7] = np.inf
    score[4] = np.nan
    assert nonfinite_tracks(x, p, score, xm, pm, mu).tolist() == [1, 2, 3, 4]
    none = np.zeros((n, 0, 9)), np.zeros((n, 0, 9, 9)), np.zeros((n, 0))
    assert nonfinite_tracks(x, p, score, *none).tolist() == [1, 2, 4]
