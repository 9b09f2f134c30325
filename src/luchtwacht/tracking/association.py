"""Gating and global-nearest-neighbour association between predicted tracks and detections.

Gating is two-staged so cost grows with plausible pairs, not tracks × detections: a k-d tree
finds detections within a Euclidean radius that bounds the χ² ellipsoid of each track, then the
exact Mahalanobis test runs only on those pairs. GNN solves the assignment problem (Kuhn–Munkres,
scipy ``linear_sum_assignment``) on each independent cluster of the gated bipartite graph with
cost d² + ln|S| (the negative log-likelihood up to a constant, so a tight track wins a detection
over a loose new one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from luchtwacht.tracking.kalman import innovation, mahalanobis_sq
from luchtwacht.tracking.models import POS

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class GatedPairs:
    """Track/detection pairs inside the gate, with their assignment cost."""

    track: I64
    det: I64
    d2: F64
    cost: F64


def gate(x: F64, p: F64, z: F64, r: F64, gate_d2: float) -> GatedPairs:
    """All (track, detection) pairs with Mahalanobis d² ≤ ``gate_d2``.

    The pre-gate radius for track i is sqrt(gate_d2 · (tr(Pᵢ) + max_j tr(Rⱼ))), which bounds
    sqrt(gate_d2 · λmax(Sᵢⱼ)) and so contains its whole validation ellipsoid for any detection.
    """
    n_t, n_d = x.shape[0], z.shape[0]
    empty = GatedPairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0))
    if n_t == 0 or n_d == 0:
        return empty
    # The trace bounds the largest eigenvalue of a covariance from above: a safe, cheap radius.
    lam_p = np.trace(p[:, POS, POS], axis1=1, axis2=2)
    lam_r = float(np.trace(r, axis1=1, axis2=2).max())
    radius = np.sqrt(gate_d2 * (lam_p + lam_r))
    # One sparse distance query between a tree of tracks and a tree of detections gives every
    # pair within the largest radius as arrays; each track's own radius then trims them.
    close = cKDTree(x[:, POS]).sparse_distance_matrix(
        cKDTree(z), float(radius.max()), output_type="ndarray"
    )
    if close.size == 0:
        return empty
    ti = close["i"].astype(np.int64)
    di = close["j"].astype(np.int64)
    keep = close["v"] <= radius[ti]
    ti, di = ti[keep], di[keep]
    if ti.size == 0:
        return empty
    nu, s = innovation(x[ti], p[ti], z[di], r[di])
    d2, logdet = mahalanobis_sq(nu, s)
    keep = d2 <= gate_d2
    return GatedPairs(ti[keep], di[keep], d2[keep], d2[keep] + logdet[keep])


def gnn(pairs: GatedPairs, n_tracks: int, n_dets: int) -> tuple[I64, I64]:
    """Global nearest neighbour: a minimum-cost one-to-one assignment within the gate.

    Solved per connected cluster of the gated graph; returns (track_idx, det_idx) arrays.
    """
    if pairs.track.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # A pair whose track and detection gate nothing else is a cluster of its own: assign it
    # directly and solve only the contested clusters.
    t_deg = np.bincount(pairs.track, minlength=n_tracks)
    d_deg = np.bincount(pairs.det, minlength=n_dets)
    alone = (t_deg[pairs.track] == 1) & (d_deg[pairs.det] == 1)
    out_t: list[I64] = [pairs.track[alone]]
    out_d: list[I64] = [pairs.det[alone]]
    pairs = GatedPairs(pairs.track[~alone], pairs.det[~alone], pairs.d2[~alone], pairs.cost[~alone])
    if pairs.track.size == 0:
        return out_t[0], out_d[0]
    graph = coo_matrix(
        (np.ones(pairs.track.size), (pairs.track, n_tracks + pairs.det)),
        shape=(n_tracks + n_dets, n_tracks + n_dets),
    )
    _, label = connected_components(graph, directed=False)
    pair_label = label[pairs.track]
    order = np.argsort(pair_label, kind="stable")
    bounds = np.flatnonzero(np.diff(pair_label[order])) + 1
    for group in np.split(order, bounds):
        gt, gd, gc = pairs.track[group], pairs.det[group], pairs.cost[group]
        if group.size == 1:
            out_t.append(gt)
            out_d.append(gd)
            continue
        ut, t_inv = np.unique(gt, return_inverse=True)
        ud, d_inv = np.unique(gd, return_inverse=True)
        # Non-gated cells carry a cost no gated pair can reach; they are dropped after solving.
        forbidden = float(gc.max()) * 10.0 + 1e6
        cost = np.full((ut.size, ud.size), forbidden)
        cost[t_inv, d_inv] = gc
        rows, cols = linear_sum_assignment(cost)
        ok = cost[rows, cols] < forbidden
        out_t.append(ut[rows[ok]])
        out_d.append(ud[cols[ok]])
    return np.concatenate(out_t), np.concatenate(out_d)
