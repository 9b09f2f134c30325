import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from luchtwacht.tracking.kalman import mahalanobis_sq, predict, update
from luchtwacht.tracking.models import ncv_process_noise, ncv_transition


def test_ncv_matrices_hand_worked():
    f = ncv_transition(np.array([2.0]))[0]
    assert f[0, 3] == 2.0 and f[1, 4] == 2.0 and f[2, 5] == 2.0 and f[0, 0] == 1.0
    q = ncv_process_noise(np.array([2.0]), 3.0)[0]
    # q·dt³/3 = 8, q·dt²/2 = 6, q·dt = 6
    assert (
        q[0, 0] == pytest.approx(8.0)
        and q[0, 3] == pytest.approx(6.0)
        and q[3, 3] == pytest.approx(6.0)
    )
    np.testing.assert_allclose(q, q.T)


def test_update_hand_worked_scalar_case():
    # Position variance 100, measurement variance 100 → gain 0.5 on position: halfway, variance 50.
    x = np.zeros((1, 6))
    p = np.diag([100.0, 100, 100, 25, 25, 25])[None]
    z = np.array([[10.0, -20.0, 4.0]])
    r = np.eye(3)[None] * 100.0
    x2, p2 = update(x, p, z, r)
    np.testing.assert_allclose(x2[0, :3], [5.0, -10.0, 2.0])
    np.testing.assert_allclose(np.diag(p2[0])[:3], [50.0, 50.0, 50.0])
    np.testing.assert_allclose(
        x2[0, 3:], 0.0
    )  # no position-velocity correlation, no velocity change


def test_predict_moves_with_velocity_and_grows_covariance():
    x = np.array([[0.0, 0, 0, 10, -5, 1]])
    p = np.eye(6)[None]
    x2, p2 = predict(x, p, ncv_transition(np.array([3.0])), ncv_process_noise(np.array([3.0]), 1.0))
    np.testing.assert_allclose(x2[0], [30, -15, 3, 10, -5, 1])
    assert np.all(np.diag(p2[0]) > np.diag(p[0]))


def test_mahalanobis_matches_direct_inverse():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 3, 3))
    s = a @ np.swapaxes(a, 1, 2) + np.eye(3)
    nu = rng.normal(size=(5, 3))
    d2, logdet = mahalanobis_sq(nu, s)
    direct = np.einsum("ni,nij,nj->n", nu, np.linalg.inv(s), nu)
    np.testing.assert_allclose(d2, direct, rtol=1e-10)
    np.testing.assert_allclose(logdet, np.log(np.linalg.det(s)), rtol=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    dt=st.floats(0.01, 10.0),
    q=st.floats(0.01, 50.0),
    r_std=st.floats(0.5, 500.0),
    z=arrays(np.float64, 3, elements=st.floats(-1e4, 1e4)),
    steps=st.integers(1, 6),
)
def test_covariance_stays_symmetric_positive_definite(dt, q, r_std, z, steps):
    x = np.zeros((1, 6))
    p = np.diag([1e4, 1e4, 1e4, 1600, 1600, 1600])[None]
    r = np.eye(3)[None] * r_std**2
    for _ in range(steps):
        x, p = predict(x, p, ncv_transition(np.array([dt])), ncv_process_noise(np.array([dt]), q))
        x, p = update(x, p, z[None], r)
        np.testing.assert_allclose(p[0], p[0].T, atol=1e-9 * np.abs(p).max())
        assert np.linalg.eigvalsh(p[0]).min() > 0


@settings(max_examples=40, deadline=None)
@given(dt=st.floats(-2.0, 10.0), q=st.floats(0.0, 50.0), seed=st.integers(0, 2**31 - 1))
def test_ncv_predict_equals_the_matrix_form(dt, q, seed):
    from luchtwacht.tracking.models import ncv_predict

    rng = np.random.default_rng(seed)
    a = rng.normal(size=(4, 6, 6))
    p = a @ np.swapaxes(a, 1, 2) + np.eye(6)
    x = rng.normal(size=(4, 6)) * 100
    dts = np.full(4, dt)
    x1, p1 = predict(x, p, ncv_transition(dts), ncv_process_noise(dts, q))
    x2, p2 = ncv_predict(x, p, dts, q)
    np.testing.assert_allclose(x2, x1, atol=1e-9 * np.abs(x1).max() + 1e-12)
    np.testing.assert_allclose(p2, p1, rtol=1e-10, atol=1e-9 * np.abs(p1).max())


def test_closed_form_inverse_matches_lapack():
    from luchtwacht.tracking.kalman import inv_sym3

    rng = np.random.default_rng(4)
    a = rng.normal(size=(50, 3, 3))
    s = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(3)
    inv, det = inv_sym3(s)
    np.testing.assert_allclose(inv, np.linalg.inv(s), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(det, np.linalg.det(s), rtol=1e-10)
