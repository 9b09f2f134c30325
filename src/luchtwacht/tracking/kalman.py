"""Linear Kalman filter steps over stacks of tracks (arrays of shape (N, ...)).

Pure functions in the manner of FilterPy: prior in, posterior out, nothing mutated. The
measurement model is position-only, H = [I₃ 0], which every ingest path produces (radar plots are
converted to ENU with their linearised covariance before they reach here).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from luchtwacht.tracking.models import POS, STATE_DIM

F64 = NDArray[np.float64]


def predict(x: F64, p: F64, f: F64, q: F64) -> tuple[F64, F64]:
    """Prior: x⁻ = F x, P⁻ = F P Fᵀ + Q for every track at once."""
    x_pred = np.einsum("nij,nj->ni", f, x)
    p_pred = f @ p @ np.swapaxes(f, 1, 2) + q
    return x_pred, 0.5 * (p_pred + np.swapaxes(p_pred, 1, 2))


def innovation(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64]:
    """Innovation ν = z − Hx and its covariance S = H P Hᵀ + R for paired rows."""
    return z - x[:, POS], p[:, POS, POS] + r


def update(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64]:
    """Posterior for paired rows (track i with measurement i), Joseph form for symmetry.

    K = P Hᵀ S⁻¹; x⁺ = x + K ν; P⁺ = (I − KH) P (I − KH)ᵀ + K R Kᵀ.
    """
    nu, s = innovation(x, p, z, r)
    pht = p[:, :, POS]  # P Hᵀ, (N, 6, 3)
    k = np.swapaxes(np.linalg.solve(s, np.swapaxes(pht, 1, 2)), 1, 2)
    x_new = x + np.einsum("nij,nj->ni", k, nu)
    ikh = np.broadcast_to(np.eye(STATE_DIM), p.shape).copy()
    ikh[:, :, POS] -= k
    p_new = ikh @ p @ np.swapaxes(ikh, 1, 2) + k @ r @ np.swapaxes(k, 1, 2)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, 1, 2))


def mahalanobis_sq(nu: F64, s: F64) -> tuple[F64, F64]:
    """Squared Mahalanobis distance νᵀS⁻¹ν and log det S for paired rows (via Cholesky)."""
    chol = np.linalg.cholesky(s)
    w = np.linalg.solve(chol, nu[..., None])[..., 0]
    d2 = np.einsum("ni,ni->n", w, w)
    logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return d2, logdet
