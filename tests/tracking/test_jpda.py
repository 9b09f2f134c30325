import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.model.detection import N_CLASSES, DetectionBatch
from luchtwacht.tracking.association import GatedPairs
from luchtwacht.tracking.jpda import marginals
from luchtwacht.tracking.tracker import Tracker, TrackerConfig


def exact_marginals(psi_matrix):
    """Brute-force JPDA: every feasible joint event (each detection to at most one track)."""
    n_t, n_d = psi_matrix.shape
    beta = np.zeros((n_t, n_d))
    beta0 = np.zeros(n_t)
    total = 0.0
    for event in itertools.product(range(-1, n_d), repeat=n_t):
        used = [j for j in event if j >= 0]
        if len(used) != len(set(used)):
            continue
        w = 1.0
        for i, j in enumerate(event):
            if j >= 0:
                w *= psi_matrix[i, j]
        total += w
        for i, j in enumerate(event):
            if j >= 0:
                beta[i, j] += w
            else:
                beta0[i] += w
    return beta / total, beta0 / total


def pairs_of(psi_matrix):
    ti, dj = np.nonzero(psi_matrix > 0)
    z = np.zeros(ti.size)
    return GatedPairs(ti.astype(np.int64), dj.astype(np.int64), z, z), psi_matrix[ti, dj]


def test_single_track_is_exact_pda():
    psi = np.array([[2.0, 6.0]])
    pairs, flat = pairs_of(psi)
    beta, beta0 = marginals(pairs, flat, 1, 2)
    np.testing.assert_allclose(beta, [2 / 9, 6 / 9])
    np.testing.assert_allclose(beta0, [1 / 9])


@settings(max_examples=40, deadline=None)
@given(
    n_t=st.integers(1, 4),
    n_d=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_marginals_equal_exact_enumeration_on_small_clusters(n_t, n_d, seed):
    rng = np.random.default_rng(seed)
    psi = np.exp(rng.uniform(-3, 4, (n_t, n_d))) * (rng.random((n_t, n_d)) < 0.8)
    if not psi.any():
        return
    exact, exact0 = exact_marginals(psi)
    pairs, flat = pairs_of(psi)
    beta, beta0 = marginals(pairs, flat, n_t, n_d)
    # belief propagation is exact on trees, and loopy clusters this small are enumerated
    np.testing.assert_allclose(beta, exact[pairs.track, pairs.det], atol=1e-9)
    np.testing.assert_allclose(beta0, exact0, atol=1e-9)
    # probabilities: each track's row sums to one
    np.testing.assert_allclose(np.bincount(pairs.track, weights=beta, minlength=n_t) + beta0, 1.0)


def test_jpda_tracker_follows_crossing_targets_in_clutter():
    rng = np.random.default_rng(8)
    tr = Tracker(TrackerConfig(assoc="jpda", pd=0.9, clutter_density_m3=1e-9))
    a0, av = np.array([-300.0, -300.0, 100.0]), np.array([10.0, 10.0, 0.0])
    b0, bv = np.array([300.0, -300.0, 100.0]), np.array([-10.0, 10.0, 0.0])
    for k in range(61):
        truth_pts = [a0 + av * k + rng.normal(0, 5, 3), b0 + bv * k + rng.normal(0, 5, 3)]
        pts = np.vstack([np.array(truth_pts), rng.uniform(-2000, 2000, (3, 3))])  # + clutter
        n = len(pts)
        tr.process(
            DetectionBatch(
                "r",
                np.full(n, float(k)),
                pts,
                np.broadcast_to(np.eye(3) * 25.0, (n, 3, 3)).copy(),
                np.zeros((n, N_CLASSES)),
                scan_t_s=float(k),
            )
        )
    conf = tr.tracks.confirmed
    ends = tr.tracks.x[conf, :3]
    truth_end = np.array([a0 + av * 60, b0 + bv * 60])
    d = np.linalg.norm(ends[:, None, :] - truth_end[None, :, :], axis=2)
    assert (d.min(axis=0) < 20).all()  # both targets held to the end
    assert conf.sum() <= 3


def test_large_loopy_clusters_fall_back_to_belief_propagation():
    # 8 tracks all gating the same 8 detections: 9**8 joint events, beyond the exact limit.
    rng = np.random.default_rng(3)
    psi = np.exp(rng.uniform(0, 3, (8, 8)))
    pairs, flat = pairs_of(psi)
    beta, beta0 = marginals(pairs, flat, 8, 8)
    sums = np.bincount(pairs.track, weights=beta, minlength=8) + beta0
    np.testing.assert_allclose(sums, 1.0)
    assert (beta > 0).all() and (beta < 1).all()


def test_several_loopy_clusters_in_one_scan_are_each_exact():
    # Two dense 3 x 3 blocks (loops) and one lone pair, in one call: each block is its own cluster.
    rng = np.random.default_rng(8)
    psi = np.zeros((7, 7))
    psi[:3, :3] = np.exp(rng.uniform(-1, 3, (3, 3)))
    psi[3:6, 3:6] = np.exp(rng.uniform(-1, 3, (3, 3)))
    psi[6, 6] = 4.0
    pairs, flat = pairs_of(psi)
    beta, beta0 = marginals(pairs, flat, 7, 7)
    for rows in (slice(0, 3), slice(3, 6), slice(6, 7)):
        exact, exact0 = exact_marginals(psi[rows, rows])
        sel = (pairs.track >= rows.start) & (pairs.track < rows.stop)
        np.testing.assert_allclose(
            beta[sel], exact[pairs.track[sel] - rows.start, pairs.det[sel] - rows.start], atol=1e-9
        )
        np.testing.assert_allclose(beta0[rows], exact0, atol=1e-9)
