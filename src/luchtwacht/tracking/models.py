"""Motion models for all tracks at once: nearly-constant velocity (NCV) in 3D ENU.

State per track: [e, n, u, ve, vn, vu] (m, m/s). Discretised white-noise-acceleration model
(Bar-Shalom et al. 2001, §6.3.2): per axis F = [[1, dt], [0, 1]],
Q = q · [[dt³/3, dt²/2], [dt²/2, dt]] with q the acceleration PSD (m²/s³).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
STATE_DIM = 6
POS = slice(0, 3)
VEL = slice(3, 6)


def ncv_transition(dt_s: F64) -> F64:
    """Transition matrices (N, 6, 6) for per-track time steps ``dt_s`` (N,) in seconds."""
    n = dt_s.shape[0]
    f = np.broadcast_to(np.eye(STATE_DIM), (n, STATE_DIM, STATE_DIM)).copy()
    for axis in range(3):
        f[:, axis, axis + 3] = dt_s
    return f


def ncv_process_noise(dt_s: F64, q_m2_s3: F64 | float) -> F64:
    """Process noise (N, 6, 6) of the NCV model.

    A negative dt (retrodiction) gives Q(|dt|) with the position/velocity cross terms negated:
    going back in time flips the velocities (Q(−T) = D Q(T) D, D = diag(1, 1, 1, −1, −1, −1)).
    """
    dt = np.abs(dt_s)
    q = np.broadcast_to(np.asarray(q_m2_s3, dtype=float), dt.shape)
    n = dt.shape[0]
    out = np.zeros((n, STATE_DIM, STATE_DIM))
    d3, d2, d1 = q * dt**3 / 3.0, q * dt_s * dt / 2.0, q * dt
    for axis in range(3):
        out[:, axis, axis] = d3
        out[:, axis, axis + 3] = d2
        out[:, axis + 3, axis] = d2
        out[:, axis + 3, axis + 3] = d1
    return out


def ncv_predict(x: F64, p: F64, dt_s: F64, q_m2_s3: float) -> tuple[F64, F64]:
    """NCV prior for every track without 6×6 products: the same result as F x, F P Fᵀ + Q.

    With P in 3×3 blocks [[Ppp, Ppv], [Pvp, Pvv]] and F = [[I, dt I], [0, I]]:
    Ppp' = Ppp + dt (Ppv + Pvp) + dt² Pvv, Ppv' = Ppv + dt Pvv, Pvv' = Pvv, plus Q per axis.
    """
    dt = dt_s[:, None, None]
    pp, pv, vp, vv = p[:, POS, POS], p[:, POS, VEL], p[:, VEL, POS], p[:, VEL, VEL]
    out = np.empty_like(p)
    out[:, POS, POS] = pp + dt * (pv + vp) + dt * dt * vv
    out[:, POS, VEL] = pv + dt * vv
    out[:, VEL, POS] = vp + dt * vv
    out[:, VEL, VEL] = vv
    a = np.abs(dt_s)
    idx = np.arange(3)
    out[:, idx, idx] += (q_m2_s3 * a**3 / 3.0)[:, None]
    out[:, idx, idx + 3] += (q_m2_s3 * dt_s * a / 2.0)[:, None]  # negative going back in time
    out[:, idx + 3, idx] += (q_m2_s3 * dt_s * a / 2.0)[:, None]
    out[:, idx + 3, idx + 3] += (q_m2_s3 * a)[:, None]
    x_new = x.copy()
    x_new[:, POS] += dt_s[:, None] * x[:, VEL]
    return x_new, out
