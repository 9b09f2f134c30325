"""Gating and global-nearest-neighbour association between predicted tracks and detections.

Gating is two-staged so cost grows with plausible pairs, not tracks × detections: a grid of
detections gives each track those within a Euclidean radius that bounds its χ² ellipsoid, then
the exact Mahalanobis test runs only on those pairs. GNN solves the assignment problem on each
independent cluster of the gated bipartite graph with cost d² + ln|S| (the negative
log-likelihood up to a constant, so a tight track wins a detection over a loose new one). Both
run as compiled loops (:mod:`luchtwacht.tracking.kernels`); the assignment is checked against
scipy's ``linear_sum_assignment`` in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from luchtwacht.tracking.kernels import gate_grid, gnn_assign
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
    """All (track, detection) pairs with Mahalanobis d² ≤ ``gate_d2``, track-major.

    The pre-gate radius for track i is sqrt(gate_d2 · (tr(Pᵢ) + max_j tr(Rⱼ))), which bounds
    sqrt(gate_d2 · λmax(Sᵢⱼ)) and so contains its whole validation ellipsoid for any detection.
    The grid pitch is the median radius (most tracks then visit about nine cells), widened if the
    detections spread over more than a few cells per detection.
    """
    n_t, n_d = x.shape[0], z.shape[0]
    if n_t == 0 or n_d == 0:
        return GatedPairs(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0))
    if not (np.isfinite(z).all() and np.isfinite(r).all()):
        raise ValueError("detections with non-finite positions or covariances cannot be gated")
    pos_cov = np.ascontiguousarray(p[:, POS, POS])
    # The trace bounds the largest eigenvalue of a covariance from above: a safe, cheap radius.
    lam_p = pos_cov[:, 0, 0] + pos_cov[:, 1, 1] + pos_cov[:, 2, 2]
    lam_r = float((r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2]).max())
    radius = np.sqrt(gate_d2 * (lam_p + lam_r))
    finite = radius[np.isfinite(radius)]
    cell = max(float(np.median(finite)), 1.0) if finite.size else 1.0  # the median radius
    ti, di, d2, logdet = gate_grid(
        np.ascontiguousarray(x[:, POS]), pos_cov, np.ascontiguousarray(z),
        np.ascontiguousarray(r), radius, cell, gate_d2,
    )  # fmt: skip
    return GatedPairs(ti, di, d2, d2 + logdet)


def gnn_pairs(pairs: GatedPairs, n_tracks: int, n_dets: int) -> I64:
    """Global nearest neighbour: indices into ``pairs`` of a minimum-cost one-to-one assignment.

    Solved per connected cluster of the gated graph
    (:func:`~luchtwacht.tracking.kernels.gnn_assign`).
    """
    if pairs.track.size == 0:
        return np.empty(0, np.int64)
    chosen: I64 = gnn_assign(pairs.track, pairs.det, pairs.cost, n_tracks, n_dets)
    return chosen


def gnn(pairs: GatedPairs, n_tracks: int, n_dets: int) -> tuple[I64, I64]:
    """Global nearest neighbour: (track_idx, det_idx) of a minimum-cost one-to-one assignment."""
    k = gnn_pairs(pairs, n_tracks, n_dets)
    return pairs.track[k], pairs.det[k]
