"""Interacting Multiple Model (IMM) estimation for all tracks at once, with NCV, CA and CT models.

Common state (9 per track, so the models can mix):
``[e, n, u, ve, vn, vu, ae, an, au]`` (m, m/s, m/s²) in local ENU.

Motion models, each returning ``(F, Q)`` of shape (N, 9, 9) for per-track steps ``dt`` (N,):

* **NCV** — nearly-constant velocity, continuous white-noise acceleration of PSD ``q`` (m²/s³)
  per axis (Bar-Shalom, Li & Kirubarajan 2001, *Estimation with Applications to Tracking and
  Navigation*, §6.2.2): per axis ``F = [[1, T], [0, 1]]``,
  ``Q = q [[T³/3, T²/2], [T²/2, T]]``. The acceleration states are *re-set* to zero
  (their rows of F are zero) and given the tiny variance ``accel_var`` so that mixed covariances
  stay positive definite.
* **CA** — nearly-constant acceleration, Wiener-process acceleration with jerk PSD ``q``
  (m²/s⁵) per axis (ibid. §6.2.3): ``F = [[1, T, T²/2], [0, 1, T], [0, 0, 1]]``,
  ``Q = q [[T⁵/20, T⁴/8, T³/6], [T⁴/8, T³/3, T²/2], [T³/6, T²/2, T]]``.
* **CT** — horizontal coordinated turn with known rate ω (rad/s, positive anticlockwise seen
  from above, i.e. from east towards north), NCV in ``u`` (ibid. §11.7). With θ = ωT the exact
  discretisation of ``ė = ve, v̇e = −ω vn, v̇n = ω ve`` is

  ``e' = e + (sin θ/ω) ve − ((1 − cos θ)/ω) vn``, ``n' = n + ((1 − cos θ)/ω) ve + (sin θ/ω) vn``,
  ``ve' = cos θ ve − sin θ vn``, ``vn' = sin θ ve + cos θ vn``,

  and continuous white acceleration noise of PSD ``q`` on both horizontal axes integrates
  exactly to (Li & Jilkov 2003, *Survey of maneuvering target tracking, Part I*, IEEE T-AES
  39(4), 1333–1364, coordinated-turn model with known ω):
  ``Q_pp = q·2(θ − sin θ)/ω³ I``, ``Q_vv = q T I`` and
  ``Q_pv = q [[(1 − cos θ)/ω², (θ − sin θ)/ω²], [−(θ − sin θ)/ω², (1 − cos θ)/ω²]]``
  (rows e, n; columns ve, vn). The turn fixes the acceleration, ``a = B v`` with
  ``B = [[0, −ω, 0], [ω, 0, 0], [0, 0, 0]]``, so the acceleration rows of F and Q are B times
  the velocity rows (plus ``accel_var`` on the diagonal): the model hands a consistent centripetal
  acceleration to the CA model at mixing time. NCV is exactly CT with ω = 0; for small |θ| the
  trigonometric ratios use their Taylor series to avoid cancellation.

IMM cycle (Blom & Bar-Shalom 1988, IEEE T-AC 33(8); Bar-Shalom et al. 2001 §11.6), all arrays:
``imm_mix`` → ``imm_predict`` → ``imm_update`` → ``imm_combine``. Shapes: ``x`` (N, M, 9),
``P`` (N, M, 9, 9), ``mu`` (N, M), Markov matrix ``Pi`` (M, M) with ``Pi[i, j] = P(j | i)``
(rows sum to one), or (N, M, M) per track. The measurement is position only, ``H = [I₃ 0 0]``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from luchtwacht.tracking.kalman import innovation, mahalanobis_sq, update
from luchtwacht.tracking.models import POS

F64 = NDArray[np.float64]

IMM_STATE_DIM = 9
VEL9 = slice(3, 6)
ACC9 = slice(6, 9)
#: Default variance (m²/s⁴) kept on acceleration states that a model holds at a fixed value.
ACCEL_VAR_FLOOR = 1e-6
_LOG_2PI = float(np.log(2.0 * np.pi))
#: Below this |ωT| the CT ratios use their Taylor series (next term < 2e-20 relative); above it
#: the closed forms lose at most ~6ε/θ² ≈ 1.3e-13 relative to cancellation in θ − sin θ.
_SERIES_THETA = 0.1


def _check_dt(dt_s: F64) -> F64:
    dt = np.asarray(dt_s, dtype=float)
    if dt.ndim != 1:
        raise ValueError(f"dt_s must have shape (N,), got {dt.shape}")
    if np.any(dt < 0.0) or not np.all(np.isfinite(dt)):
        raise ValueError("dt_s must be finite and non-negative (0 is allowed)")
    return dt


def _per_track(value: F64 | float, n: int) -> F64:
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).astype(float)


def _ct_ratios(dt: F64, omega: F64) -> tuple[F64, F64, F64, F64, F64]:
    """``sin θ/ω, (1−cos θ)/ω, (1−cos θ)/ω², (θ−sin θ)/ω², 2(θ−sin θ)/ω³`` with θ = ωT.

    Written as T^k g(θ) with g evaluated by Taylor series for |θ| < 0.1, so that ω → 0 gives the
    NCV limits ``T, 0, T²/2, 0, T³/3`` without division by zero or cancellation; 1 − cos θ is
    computed as 2 sin²(θ/2), which has no cancellation at all.
    """
    theta = omega * dt
    small = np.abs(theta) < _SERIES_THETA
    th = np.where(small, 1.0, theta)  # safe divisor for the closed forms
    t2 = theta * theta

    def series(coeffs: tuple[float, ...]) -> F64:
        out = np.zeros_like(t2)
        for coeff in reversed(coeffs):
            out = out * t2 + coeff
        return out

    sinc = np.where(small, series((1.0, -1 / 6, 1 / 120, -1 / 5040, 1 / 362880)), np.sin(th) / th)
    one_minus_cos = 2.0 * np.sin(0.5 * th) ** 2
    cos2 = np.where(  # (1 − cos θ)/θ²
        small, series((1 / 2, -1 / 24, 1 / 720, -1 / 40320, 1 / 3628800)), one_minus_cos / th**2
    )
    sin3 = np.where(  # (θ − sin θ)/θ³
        small,
        series((1 / 6, -1 / 120, 1 / 5040, -1 / 362880, 1 / 39916800)),
        (th - np.sin(th)) / th**3,
    )
    return dt * sinc, dt * theta * cos2, dt**2 * cos2, dt**2 * theta * sin3, 2.0 * dt**3 * sin3


def _embed_turn(f6: F64, q6: F64, omega: F64, accel_var: float) -> tuple[F64, F64]:
    """Lift a 6-state (position, velocity) model to 9 states with acceleration ``a = B v``.

    With E = [[I₆], [0 B]] (9×6) and S = [I₆ 0] (6×9): F₉ = E F₆ S, Q₉ = E Q₆ Eᵀ + diag(0, σ²I₃).
    """
    n = f6.shape[0]
    b = np.zeros((n, 3, 3))
    b[:, 0, 1] = -omega
    b[:, 1, 0] = omega
    f = np.zeros((n, IMM_STATE_DIM, IMM_STATE_DIM))
    f[:, :6, :6] = f6
    f[:, ACC9, :6] = b @ f6[:, VEL9, :]
    q = np.zeros((n, IMM_STATE_DIM, IMM_STATE_DIM))
    q[:, :6, :6] = q6
    bq = b @ q6[:, VEL9, :]  # (N, 3, 6)
    q[:, ACC9, :6] = bq
    q[:, :6, ACC9] = np.swapaxes(bq, 1, 2)
    q[:, ACC9, ACC9] = bq[:, :, VEL9] @ np.swapaxes(b, 1, 2)
    idx = np.arange(6, 9)
    q[:, idx, idx] += accel_var
    return f, 0.5 * (q + np.swapaxes(q, 1, 2))


def ct_model(
    dt_s: F64,
    omega_rad_s: F64 | float,
    q_m2_s3: F64 | float,
    accel_var: float = ACCEL_VAR_FLOOR,
) -> tuple[F64, F64]:
    """Coordinated-turn ``(F, Q)``, each (N, 9, 9), for known turn rate ω (see module docstring).

    Why exact discretisation: a 1 s step at 0.1 rad/s already bends the path by 5.7°, which an
    Euler step would get wrong by several metres at drone speeds. ``q_m2_s3`` is the white
    acceleration PSD on every axis (the vertical channel is plain NCV).
    """
    dt = _check_dt(dt_s)
    n = dt.shape[0]
    omega = _per_track(omega_rad_s, n)
    q = _per_track(q_m2_s3, n)
    s1, c1, c2, s2, s3 = _ct_ratios(dt, omega)
    theta = omega * dt
    cos, sin = np.cos(theta), np.sin(theta)
    f6 = np.broadcast_to(np.eye(6), (n, 6, 6)).copy()
    f6[:, 0, 3], f6[:, 0, 4] = s1, -c1
    f6[:, 1, 3], f6[:, 1, 4] = c1, s1
    f6[:, 2, 5] = dt
    f6[:, 3, 3], f6[:, 3, 4] = cos, -sin
    f6[:, 4, 3], f6[:, 4, 4] = sin, cos
    q6 = np.zeros((n, 6, 6))
    q6[:, 0, 0] = q6[:, 1, 1] = q * s3
    q6[:, 2, 2] = q * dt**3 / 3.0
    q6[:, 3, 3] = q6[:, 4, 4] = q6[:, 5, 5] = q * dt
    q6[:, 0, 3] = q6[:, 3, 0] = q6[:, 1, 4] = q6[:, 4, 1] = q * c2
    q6[:, 0, 4] = q6[:, 4, 0] = q * s2
    q6[:, 1, 3] = q6[:, 3, 1] = -q * s2
    q6[:, 2, 5] = q6[:, 5, 2] = q * dt**2 / 2.0
    return _embed_turn(f6, q6, omega, accel_var)


def ncv_model(
    dt_s: F64, q_m2_s3: F64 | float, accel_var: float = ACCEL_VAR_FLOOR
) -> tuple[F64, F64]:
    """Nearly-constant-velocity ``(F, Q)`` (N, 9, 9): the CT model with ω = 0.

    Position/velocity blocks equal :func:`luchtwacht.tracking.models.ncv_transition` and
    :func:`~luchtwacht.tracking.models.ncv_process_noise`; acceleration is reset to 0 with
    variance ``accel_var`` (m²/s⁴), also when ``dt = 0``.
    """
    return ct_model(dt_s, 0.0, q_m2_s3, accel_var)


def ca_model(dt_s: F64, q_jerk_m2_s5: F64 | float) -> tuple[F64, F64]:
    """Nearly-constant-acceleration (Wiener-process acceleration) ``(F, Q)``, each (N, 9, 9).

    Per axis F = exp(A T) for the triple integrator A, and Q = q ∫₀ᵀ e^{Aτ} g gᵀ e^{Aᵀτ} dτ with
    g = (0, 0, 1)ᵀ, i.e. ``q [[T⁵/20, T⁴/8, T³/6], [T⁴/8, T³/3, T²/2], [T³/6, T²/2, T]]``
    (Bar-Shalom et al. 2001, §6.2.3). ``q_jerk_m2_s5`` is the jerk PSD.
    """
    dt = _check_dt(dt_s)
    n = dt.shape[0]
    q = _per_track(q_jerk_m2_s5, n)
    f = np.broadcast_to(np.eye(IMM_STATE_DIM), (n, IMM_STATE_DIM, IMM_STATE_DIM)).copy()
    qm = np.zeros((n, IMM_STATE_DIM, IMM_STATE_DIM))
    fk = (dt, dt**2 / 2.0)
    qk = {
        (0, 0): dt**5 / 20.0,
        (0, 1): dt**4 / 8.0,
        (0, 2): dt**3 / 6.0,
        (1, 1): dt**3 / 3.0,
        (1, 2): dt**2 / 2.0,
        (2, 2): dt,
    }
    for axis in range(3):
        p, v, a = axis, axis + 3, axis + 6
        f[:, p, v] = fk[0]
        f[:, v, a] = fk[0]
        f[:, p, a] = fk[1]
        rows = (p, v, a)
        for (i, j), val in qk.items():
            qm[:, rows[i], rows[j]] = qm[:, rows[j], rows[i]] = q * val
    return f, qm


def imm_mix(x: F64, p: F64, mu: F64, pi: F64) -> tuple[F64, F64, F64]:
    """IMM interaction: mixed starting points ``(x0, P0)`` and predicted mode probabilities ``c``.

    ``c_j = Σ_i Π_ij μ_i``, weights ``μ_{i|j} = Π_ij μ_i / c_j``,
    ``x0_j = Σ_i μ_{i|j} x_i``, ``P0_j = Σ_i μ_{i|j} [P_i + (x_i − x0_j)(x_i − x0_j)ᵀ]``
    (Bar-Shalom et al. 2001, §11.6, interaction step). A model with ``c_j = 0`` keeps its own
    estimate (its weight is then irrelevant to everything downstream).
    """
    n, m = mu.shape
    pis = np.broadcast_to(pi, (n, m, m))
    joint = pis * mu[:, :, None]  # [n, i, j] = Π_ij μ_i
    c = joint.sum(axis=1)  # (N, M)
    ok = c > 0.0
    w = np.where(ok[:, None, :], joint / np.where(ok, c, 1.0)[:, None, :], np.eye(m)[None])
    x0 = np.einsum("nij,nik->njk", w, x)
    dx = x[:, None, :, :] - x0[:, :, None, :]  # [n, j, i, :] = x_i − x0_j
    p0 = np.einsum("nij,nikl->njkl", w, p) + np.einsum("nij,njik,njil->njkl", w, dx, dx)
    return x0, 0.5 * (p0 + np.swapaxes(p0, -1, -2)), c


def imm_predict(x0: F64, p0: F64, f: F64, q: F64) -> tuple[F64, F64]:
    """Model-conditioned priors ``x_j = F_j x0_j``, ``P_j = F_j P0_j F_jᵀ + Q_j``.

    ``f`` and ``q`` are (N, M, 9, 9): each track and model has its own step (Kalman prediction,
    Bar-Shalom et al. 2001, ch. 5), done for all N·M pairs in one batched product.
    """
    x = np.einsum("nmij,nmj->nmi", f, x0)
    pp = f @ p0 @ np.swapaxes(f, -1, -2) + q
    return x, 0.5 * (pp + np.swapaxes(pp, -1, -2))


def imm_update(x: F64, p: F64, mu_pred: F64, z: F64, r: F64) -> tuple[F64, F64, F64, F64]:
    """Model-conditioned Kalman updates with one position ``z`` (N, 3), covariance ``r`` (N, 3, 3).

    Each model's likelihood is the Gaussian ``Λ_j = N(ν_j; 0, S_j)``; the posterior mode
    probabilities are ``μ_j = c_j Λ_j / Σ_k c_k Λ_k`` (Bar-Shalom et al. 2001, §11.6),
    computed in the log domain with log-sum-exp so that a far-off measurement (all Λ_j underflow
    to 0 in linear arithmetic) still yields finite probabilities. Returns ``(x, P, mu, loglik)``
    with ``loglik = log Σ_j c_j Λ_j`` (N,), the IMM's measurement log-likelihood for the track.
    """
    n, m, d = x.shape
    xf = x.reshape(n * m, d)
    pf = p.reshape(n * m, d, d)
    zf = np.repeat(z, m, axis=0)
    rf = np.repeat(r, m, axis=0)
    nu, s = innovation(xf, pf, zf, rf)
    d2, logdet = mahalanobis_sq(nu, s)
    loglam = (-0.5 * (d2 + logdet + POS.stop * _LOG_2PI)).reshape(n, m)
    xu, pu = update(xf, pf, zf, rf)
    with np.errstate(divide="ignore"):
        a = np.log(mu_pred) + loglam
    amax = np.max(a, axis=1, keepdims=True)
    loglik = amax[:, 0] + np.log(np.sum(np.exp(a - amax), axis=1))
    mu = np.exp(a - loglik[:, None])
    mu /= mu.sum(axis=1, keepdims=True)  # remove the last ulp of drift
    return xu.reshape(n, m, d), pu.reshape(n, m, d, d), mu, loglik


def imm_combine(x: F64, p: F64, mu: F64) -> tuple[F64, F64]:
    """Moment-matched output estimate: ``x̂ = Σ μ_j x_j``, ``P̂ = Σ μ_j [P_j + (x_j − x̂)(x_j − x̂)ᵀ]``.

    Bar-Shalom et al. 2001, §11.6, combination step; for output only, it is not fed back.
    """
    xc = np.einsum("nm,nmi->ni", mu, x)
    dx = x - xc[:, None, :]
    pc = np.einsum("nm,nmij->nij", mu, p) + np.einsum("nm,nmi,nmj->nij", mu, dx, dx)
    return xc, 0.5 * (pc + np.swapaxes(pc, -1, -2))
