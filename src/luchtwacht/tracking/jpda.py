"""Joint probabilistic data association on arrays: marginals by belief propagation, PDA update.

Where GNN commits each detection to one track, JPDA weighs every feasible joint association
event. The marginal probability β_ij that detection j belongs to track i (and β_i0 that track i
was missed) is computed here by loopy belief propagation on the bipartite association graph
(Williams & Lau, "Approximate evaluation of marginal association probabilities with belief
propagation", IEEE TAES 50(4), 2014). Its messages run over the gated pairs only, as arrays, so
the cost grows with the number of plausible pairs. Belief propagation is exact where a cluster's
gate graph is a tree (every cluster of one track, and most others); a cluster with a loop (two
tracks sharing two detections) is enumerated exactly when its joint events are few
(≤ ``EXACT_MAX_EVENTS``), and left to belief propagation, a bounded approximation, when not.

With ψ_ij = PD·N(ν_ij; 0, S_ij) / ((1 − PD)·β_FA), the likelihood ratio of "j is track i's"
against "track i missed, j is clutter", the iteration is

    μ_ij = 1 / (1 + Σ_{i'≠i} ν_i'j)          (detection j to track i)
    ν_ij = ψ_ij / (1 + Σ_{j'≠j} ψ_ij' μ_ij')  (track i to detection j)

and β_ij = ψ_ij μ_ij / (1 + Σ_j' ψ_ij' μ_ij'), β_i0 = 1 / (1 + Σ_j' ψ_ij' μ_ij').
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from luchtwacht.tracking.association import GatedPairs
from luchtwacht.tracking.kalman import innovation, inv_sym3
from luchtwacht.tracking.kernels import jpda_exact_loops
from luchtwacht.tracking.models import POS

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_HALF_LN_2PI_3 = 1.5 * math.log(2.0 * math.pi)
_MAX_LOG_PSI = 30.0  # e^30 ≈ 1e13 is certainty already; larger ratios cancel badly in 1 + Σ − w
EXACT_MAX_EVENTS = 20_000  # joint events enumerated exactly in a loopy cluster


def likelihood_ratios(pairs: GatedPairs, pd: float, clutter_density_m3: float) -> F64:
    """ψ for every gated pair: PD·N(ν; 0, S) / ((1 − PD)·β_FA) (the gate gave d² and ln|S|)."""
    log_psi = (
        math.log(pd)
        - math.log1p(-pd)
        - math.log(clutter_density_m3)
        - 0.5 * (pairs.cost)  # cost = d² + ln|S|
        - _HALF_LN_2PI_3
    )
    return np.exp(np.minimum(log_psi, _MAX_LOG_PSI))


def marginals(
    pairs: GatedPairs, psi: F64, n_tracks: int, n_dets: int, iterations: int = 50, tol: float = 1e-9
) -> tuple[F64, F64]:
    """(β per pair, β_i0 per track) by loopy belief propagation over the gated pairs."""
    ti, dj = pairs.track, pairs.det
    if ti.size == 0:
        return np.empty(0), np.ones(n_tracks)
    nu = psi.copy()
    mu = np.ones_like(psi)
    for _ in range(iterations):
        col = np.bincount(dj, weights=nu, minlength=n_dets)
        mu = 1.0 / (1.0 + col[dj] - nu)
        w = psi * mu
        row = np.bincount(ti, weights=w, minlength=n_tracks)
        nu_new = psi / (1.0 + row[ti] - w)
        if np.max(np.abs(nu_new - nu) / (1.0 + nu)) < tol:
            nu = nu_new
            break
        nu = nu_new
    col = np.bincount(dj, weights=nu, minlength=n_dets)
    mu = 1.0 / (1.0 + col[dj] - nu)
    w = psi * mu
    denom = np.asarray(1.0 + np.bincount(ti, weights=w, minlength=n_tracks), dtype=np.float64)
    beta = np.asarray(w / denom[ti], dtype=np.float64)
    beta_miss = np.asarray(1.0 / denom, dtype=np.float64)
    _exact_on_loops(ti, dj, psi, n_tracks, n_dets, beta, beta_miss)
    return beta, beta_miss


def _exact_on_loops(
    ti: I64, dj: I64, psi: F64, n_tracks: int, n_dets: int, beta: F64, beta_miss: F64
) -> None:
    """Overwrite, in place, the marginals of small clusters whose gate graph has a loop.

    Compiled (:func:`luchtwacht.tracking.kernels.jpda_exact_loops`); checked against brute
    force and Stone Soup's exact JPDA in the tests.
    """
    jpda_exact_loops(ti, dj, psi, n_tracks, n_dets, beta, beta_miss, float(EXACT_MAX_EVENTS))


def pda_update(
    x: F64, p: F64, z: F64, r: F64, pairs: GatedPairs, beta: F64, beta_miss: F64
) -> tuple[F64, F64]:
    """Probabilistic-data-association posterior of every track with at least one gated pair.

    x⁺ = x + K ν̄ with ν̄ = Σ_j β_ij ν_ij; P⁺ = β_i0 P + (1 − β_i0)(P − K S Kᵀ)
    + K (Σ_j β_ij ν_ij ν_ijᵀ − ν̄ ν̄ᵀ) Kᵀ (Bar-Shalom & Li 1995, §6.4). S and K use the
    covariance of each track's most probable detection (a sensor's errors vary little across
    one track's gate). Returns updated copies of all rows (rows without pairs unchanged).
    """
    n = x.shape[0]
    x_new, p_new = x.copy(), p.copy()
    ti, dj = pairs.track, pairs.det
    if ti.size == 0:
        return x_new, p_new
    nu, _ = innovation(x[ti], p[ti], z[dj], r[dj])  # (P, 3)
    # most probable detection per track: its R stands for the track's S
    order = np.lexsort((-beta, ti))
    first = np.ones(order.size, dtype=bool)
    first[1:] = ti[order][1:] != ti[order][:-1]
    best = order[first]
    tracks = ti[best]
    s = p[tracks][:, POS, POS] + r[dj[best]]
    s_inv, _ = inv_sym3(s)
    hp = p[tracks][:, POS, :]
    k = np.swapaxes(hp, 1, 2) @ s_inv  # (T, 6, 3)
    slot = np.full(n, -1, dtype=np.int64)
    slot[tracks] = np.arange(tracks.size)
    idx = slot[ti]
    nu_bar = np.zeros((tracks.size, 3))
    np.add.at(nu_bar, idx, beta[:, None] * nu)
    spread = np.zeros((tracks.size, 3, 3))
    np.add.at(spread, idx, beta[:, None, None] * nu[:, :, None] * nu[:, None, :])
    spread -= nu_bar[:, :, None] * nu_bar[:, None, :]
    b0 = beta_miss[tracks][:, None, None]
    kskt = k @ s @ np.swapaxes(k, 1, 2)
    p_upd = p[tracks] - (1.0 - b0) * kskt + k @ spread @ np.swapaxes(k, 1, 2)
    x_new[tracks] = x[tracks] + np.einsum("nij,nj->ni", k, nu_bar)
    p_new[tracks] = 0.5 * (p_upd + np.swapaxes(p_upd, 1, 2))
    return x_new, p_new
