"""Linear Kalman filter steps over stacks of tracks (arrays of shape (N, ...)).

Pure functions in the manner of FilterPy: prior in, posterior out, nothing mutated. The
measurement model is position-only, H = [I₃ 0], which every ingest path produces (radar plots are
converted to ENU with their linearised covariance before they reach here).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from luchtwacht.tracking.models import POS

F64 = NDArray[np.float64]


def predict(x: F64, p: F64, f: F64, q: F64) -> tuple[F64, F64]:
    """Prior: x⁻ = F x, P⁻ = F P Fᵀ + Q for every track at once."""
    x_pred = np.einsum("nij,nj->ni", f, x)
    p_pred = f @ p @ np.swapaxes(f, 1, 2) + q
    return x_pred, 0.5 * (p_pred + np.swapaxes(p_pred, 1, 2))


def innovation(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64]:
    """Innovation ν = z − Hx and its covariance S = H P Hᵀ + R for paired rows."""
    return z - x[:, POS], p[:, POS, POS] + r


def inv_sym3(s: F64) -> tuple[F64, F64]:
    """Inverse and determinant of a stack of symmetric 3×3 matrices, in closed form.

    Cofactor expansion on arrays of all matrices at once: far cheaper than a batched LAPACK
    call when the matrices are this small.
    """
    a, b, c = s[:, 0, 0], s[:, 0, 1], s[:, 0, 2]
    d, e, f = s[:, 1, 1], s[:, 1, 2], s[:, 2, 2]
    c00 = d * f - e * e
    c01 = c * e - b * f
    c02 = b * e - c * d
    c11 = a * f - c * c
    c12 = b * c - a * e
    c22 = a * d - b * b
    det = a * c00 + b * c01 + c * c02
    inv = np.empty_like(s)
    inv[:, 0, 0], inv[:, 0, 1], inv[:, 0, 2] = c00, c01, c02
    inv[:, 1, 0], inv[:, 1, 1], inv[:, 1, 2] = c01, c11, c12
    inv[:, 2, 0], inv[:, 2, 1], inv[:, 2, 2] = c02, c12, c22
    inv /= det[:, None, None]
    return inv, det


def update(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64]:
    """Posterior for paired rows (track i with measurement i), in Joseph-equivalent form.

    K = P Hᵀ S⁻¹; x⁺ = x + K ν; P⁺ = (I − KH) P (I − KH)ᵀ + K R Kᵀ, expanded as
    P − K H P − (K H P)ᵀ + K S Kᵀ, which keeps the Joseph form's symmetry for any gain and
    costs three small products instead of four 6×6 ones.
    """
    nu, s = innovation(x, p, z, r)
    s_inv, _ = inv_sym3(s)
    hp = p[:, POS, :]  # H P, (N, 3, 6)
    k = np.swapaxes(hp, 1, 2) @ s_inv  # P Hᵀ S⁻¹, (N, 6, 3)
    x_new = x + np.einsum("nij,nj->ni", k, nu)
    khp = k @ hp
    p_new = p - khp - np.swapaxes(khp, 1, 2) + k @ s @ np.swapaxes(k, 1, 2)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, 1, 2))


def mahalanobis_sq(nu: F64, s: F64) -> tuple[F64, F64]:
    """Squared Mahalanobis distance νᵀS⁻¹ν and log det S for paired rows."""
    s_inv, det = inv_sym3(s)
    d2 = np.einsum("ni,nij,nj->n", nu, s_inv, nu)
    return d2, np.log(det)
