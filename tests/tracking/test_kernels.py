"""The compiled scan loops against the numpy/scipy formulations they replace."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.special import expit

from luchtwacht.tracking.association import GatedPairs, gate, gnn, gnn_pairs
from luchtwacht.tracking.kalman import update
from luchtwacht.tracking.kernels import (
    existence_decay_inplace,
    gate_grid,
    kf_update_inplace,
    lap_min,
    ncv_predict_inplace,
)
from luchtwacht.tracking.models import ncv_predict


def random_spd(rng, n, k, scale):
    a = rng.normal(size=(n, k, k)) * scale
    return a @ np.swapaxes(a, 1, 2) + np.eye(k) * scale**2


def random_tracks(rng, n, spread=2000.0):
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(-spread, spread, (n, 3))
    x[:, 3:] = rng.normal(0, 15, (n, 3))
    p = random_spd(rng, n, 6, rng.uniform(1, 40))
    return x, p


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    rows=st.integers(1, 9),
    extra=st.integers(0, 5),
    ties=st.booleans(),
)
def test_lap_matches_scipy(seed, rows, extra, ties):
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 4, (rows, rows + extra)).astype(float)
    if not ties:
        cost = rng.normal(size=cost.shape) * 10.0
    col = lap_min(cost)
    assert len(set(col.tolist())) == rows  # one column per row
    r, c = linear_sum_assignment(cost)
    assert np.isclose(cost[np.arange(rows), col].sum(), cost[r, c].sum())


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_t=st.integers(1, 30), n_d=st.integers(1, 30))
def test_gnn_equals_one_assignment_over_all_gated_pairs(seed, n_t, n_d):
    rng = np.random.default_rng(seed)
    gated = rng.random((n_t, n_d)) < 0.25
    ti, di = np.nonzero(gated)
    cost = rng.normal(0, 5, ti.size)
    pairs = GatedPairs(ti.astype(np.int64), di.astype(np.int64), cost.copy(), cost)
    k = gnn_pairs(pairs, n_t, n_d)
    assert len(set(ti[k].tolist())) == k.size == len(set(di[k].tolist()))
    # Reference: scipy on the whole matrix, a non-gated cell forbidden; a gated pair may also
    # stay unassigned (cost 0 against a dummy), as GNN maximises assignments only within gates.
    big = 1e6
    full = np.full((n_t, n_d + n_t), big)
    full[ti, di] = cost
    full[np.arange(n_t), n_d + np.arange(n_t)] = big / 2  # a track may go unassigned
    r, c = linear_sum_assignment(full)
    ref_cost = full[r, c][c < n_d].sum()
    ref_n = int((c < n_d).sum())
    assert k.size == ref_n
    assert np.isclose(cost[k].sum(), ref_cost)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_t=st.integers(0, 60), n_d=st.integers(0, 60))
def test_grid_gate_finds_exactly_the_pairs_inside_the_gate(seed, n_t, n_d):
    rng = np.random.default_rng(seed)
    x, p = random_tracks(rng, n_t, spread=500.0)
    p[: n_t // 3] *= 400.0  # some tracks with very wide gates, spanning many grid cells
    z = rng.uniform(-500, 500, (n_d, 3))
    r = random_spd(rng, n_d, 3, 8.0)
    gate_d2 = 16.27
    pairs = gate(x, p, z, r, gate_d2)
    # Brute force over all pairs.
    ti = np.repeat(np.arange(n_t), n_d)
    di = np.tile(np.arange(n_d), n_t)
    nu = z[di] - x[ti, :3]
    s = p[ti, :3, :3] + r[di]
    d2 = np.einsum("ni,nij,nj->n", nu, np.linalg.inv(s), nu) if ti.size else np.empty(0)
    inside = d2 <= gate_d2
    assert set(zip(pairs.track.tolist(), pairs.det.tolist(), strict=True)) == set(
        zip(ti[inside].tolist(), di[inside].tolist(), strict=True)
    )
    order = np.lexsort((di[inside], ti[inside]))
    got = np.lexsort((pairs.det, pairs.track))
    np.testing.assert_allclose(pairs.d2[got], d2[inside][order], rtol=1e-9)
    logdet = np.log(np.linalg.det(s[inside][order])) if inside.any() else np.empty(0)
    np.testing.assert_allclose(pairs.cost[got] - pairs.d2[got], logdet, rtol=1e-9, atol=1e-9)


def test_grid_gate_copes_with_far_flung_detections():
    # Detections hundreds of km apart would make a grid of the median gate's pitch enormous;
    # the pitch is widened instead, and the answer stays the same.
    rng = np.random.default_rng(3)
    x, p = random_tracks(rng, 20, spread=50.0)
    z = np.concatenate([x[:, :3] + rng.normal(0, 3, (20, 3)), [[4e5, -3e5, 0.0]]])
    r = np.broadcast_to(np.eye(3) * 25.0, (21, 3, 3)).copy()
    pairs = gate(x, p, z, r, 16.27)
    assert set(range(20)) <= set(pairs.det.tolist()) and 20 not in pairs.det
    radius = np.full(20, 1e3)
    ti, di, *_ = gate_grid(x[:, :3].copy(), p[:, :3, :3].copy(), z, r, radius, 1.0, 16.27)
    # A fine pitch over a huge span still finds the same pairs (and allocates no huge grid).
    assert set(zip(ti.tolist(), di.tolist(), strict=True)) == set(
        zip(pairs.track.tolist(), pairs.det.tolist(), strict=True)
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 20), q=st.floats(0.0, 30.0))
def test_predict_kernel_equals_numpy(seed, n, q):
    rng = np.random.default_rng(seed)
    x, p = random_tracks(rng, n)
    dt = rng.uniform(-3, 5, n)
    dt[0] = 0.0
    xr, pr = ncv_predict(x, p, dt, q)
    xr[0], pr[0] = x[0], p[0]  # a zero step is left alone
    ncv_predict_inplace(x, p, dt, q)
    np.testing.assert_allclose(x, xr, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(p, pr, rtol=1e-10, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 20))
def test_update_kernel_equals_numpy_and_keeps_covariances_spd(seed, n):
    rng = np.random.default_rng(seed)
    x, p = random_tracks(rng, n)
    z = x[:, :3] + rng.normal(0, 20, (n, 3))
    r = random_spd(rng, n, 3, rng.uniform(0.5, 30))
    rows = rng.permutation(n)[: max(1, n // 2)].astype(np.int64)
    xr, pr = x.copy(), p.copy()
    xr[rows], pr[rows] = update(x[rows], p[rows], z[: rows.size], r[: rows.size])
    kf_update_inplace(x, p, rows, z[: rows.size], r[: rows.size], np.zeros(rows.size), 1.0)
    np.testing.assert_allclose(x, xr, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(p, pr, rtol=1e-7, atol=1e-7)
    np.testing.assert_array_equal(p, np.swapaxes(p, 1, 2))
    assert (np.linalg.eigvalsh(p) > 0).all()


def test_update_kernel_applies_a_plot_at_its_own_time():
    rng = np.random.default_rng(9)
    x, p = random_tracks(rng, 3)
    z = x[:, :3] + 5.0
    r = np.broadcast_to(np.eye(3) * 9.0, (3, 3, 3)).copy()
    off = np.array([-0.4, 0.0, 0.7])
    rows = np.arange(3, dtype=np.int64)
    xa, pa = ncv_predict(x, p, off, 2.0)
    xa, pa = update(xa, pa, z, r)
    xa, pa = ncv_predict(xa, pa, -off, 2.0)
    kf_update_inplace(x, p, rows, z, r, off, 2.0)
    np.testing.assert_allclose(x, xa, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(p, pa, rtol=1e-8, atol=1e-8)


def test_gnn_wrapper_returns_tracks_and_detections_of_the_chosen_pairs():
    pairs = GatedPairs(
        np.array([0, 0, 1, 1], np.int64),
        np.array([0, 1, 0, 1], np.int64),
        np.zeros(4),
        np.array([1.0, 2.0, 1.5, 10.0]),
    )
    ti, di = gnn(pairs, 2, 2)
    assert dict(zip(ti.tolist(), di.tolist(), strict=True)) == {0: 1, 1: 0}  # 3.5 beats 11


def test_gate_refuses_non_finite_detections():
    rng = np.random.default_rng(1)
    x, p = random_tracks(rng, 3)
    z = np.array([[0.0, np.nan, 0.0]])
    with pytest.raises(ValueError, match="non-finite"):
        gate(x, p, z, np.eye(3)[None] * 4.0, 16.0)


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.floats(-700.0, 700.0), min_size=1, max_size=20),
    dt=st.floats(-5.0, 500.0),
    life=st.floats(0.5, 1e4),
)
def test_existence_decay_is_r_times_survival_in_log_odds(scores, dt, life):
    s = np.array(scores)
    out = s.copy()
    existence_decay_inplace(out, np.full(s.size, dt), life)
    if dt <= 0.0:
        np.testing.assert_array_equal(out, s)
        return
    p = np.exp(-dt / life)
    r = expit(s) * p
    assert np.isfinite(out).all()
    np.testing.assert_allclose(expit(out), r, rtol=1e-9, atol=1e-300)
    assert (out <= s + 1e-12 * np.maximum(1.0, np.abs(s))).all()  # survival only lowers it


def test_a_diverged_track_does_not_stop_the_others_gating():
    rng = np.random.default_rng(5)
    x, p = random_tracks(rng, 5, spread=200.0)
    z = x[:, :3] + 1.0
    r = np.broadcast_to(np.eye(3) * 25.0, (5, 3, 3)).copy()
    healthy = gate(x, p, z, r, 16.27)
    x[1, :3] = np.nan
    p[3] *= np.inf
    pairs = gate(x, p, z, r, 16.27)
    kept = set(zip(healthy.track.tolist(), healthy.det.tolist(), strict=True))
    got = set(zip(pairs.track.tolist(), pairs.det.tolist(), strict=True))
    # the NaN track and the one with an infinite covariance gate nothing; the rest as before
    assert got == {pr for pr in kept if pr[0] not in (1, 3)}


def test_going_back_in_time_the_noise_cross_terms_change_sign():
    from luchtwacht.tracking.models import ncv_process_noise

    fwd, back = ncv_process_noise(np.array([2.0, -2.0]), 3.0)
    d = np.diag([1.0, 1, 1, -1, -1, -1])
    np.testing.assert_allclose(back, d @ fwd @ d)
    assert back[0, 3] < 0 < fwd[0, 3]
