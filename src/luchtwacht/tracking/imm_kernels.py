"""Compiled IMM scan and nonlinear measurement updates for every track at once.

The numpy IMM of :mod:`luchtwacht.tracking.imm` builds (N, M, 9, 9) arrays per step; here the
same mathematics runs as one loop over tracks (numba, cached), so the full 3D configuration —
IMM over NCV, CA and CT, radar range/azimuth/elevation(/range-rate) EKF — keeps up with a
thousand tracks. Tests compare each piece with the numpy form
(``tests/tracking/test_imm_kernels.py``).

State per track and model: ``[e, n, u, ve, vn, vu, ae, an, au]``; models (``MODEL_*``):

* NCV: the CT model with ω = 0 (acceleration reset to 0 with a floor variance);
* CA: Wiener-process acceleration with jerk PSD q;
* CT: exact coordinated turn at the turn rate the model's own mixed state implies,
  ω = (ve·an − vn·ae)/(ve² + vn²) (the CT model keeps a = B v, and mixing hands it the CA
  model's acceleration), held to ``omega_min ≤ |ω| ≤ omega_max`` with its sign, so one CT
  model serves left and right turns.

A negative step (a late batch applied by retrodiction) uses the exact backward transition
F(−T) with the process noise of |T|, as the NCV tracker does.

Measurement kinds (``KIND_*``), ordered as :mod:`luchtwacht.tracking.measurement`:
Cartesian position (e, n, u); radar (az, el, r); radar with Doppler (az, el, r, ṙ);
azimuth; azimuth and elevation. The EKF evaluates h and its Jacobian at each model's prior
mean and wraps the azimuth innovation to (−π, π]. A prior mean within
:data:`~luchtwacht.tracking.measurement.MIN_HORIZONTAL_RANGE_M` of the sensor's vertical axis has
no azimuth: the measurement is neither gated nor applied to it (its innovation reports a
determinant of 0, as a singular S does), and the Jacobian is floored there so nothing divides by
zero.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np

from luchtwacht.tracking.kernels import F64, I64, _jit, _jit_parallel
from luchtwacht.tracking.measurement import MIN_HORIZONTAL_RANGE_M

MODEL_NCV, MODEL_CA, MODEL_CT = 0, 1, 2
KIND_CARTESIAN, KIND_RADAR, KIND_RADAR_DOPPLER, KIND_AZIMUTH, KIND_AZ_EL = 0, 1, 2, 3, 4
KIND_DIM = (3, 3, 4, 1, 2)
ACCEL_VAR_FLOOR = 1e-6  # as imm.ACCEL_VAR_FLOOR: variance on acceleration a model holds fixed
_LN_2PI = math.log(2.0 * math.pi)
_CHUNKS = 16  # work items per parallel loop: a few per core, each with its own scratch
# Read when a kernel is compiled, and numba's cache is keyed on this file only: a change of the
# value in measurement.py needs this file touched (tests/tracking/test_blinding.py checks that
# both agree).
_MIN_RHO2 = MIN_HORIZONTAL_RANGE_M**2


@_jit
def _series(t2: float, c0: float, c1: float, c2: float, c3: float, c4: float) -> float:
    return (((c4 * t2 + c3) * t2 + c2) * t2 + c1) * t2 + c0


@_jit
def _ct_ratios(dt: float, omega: float) -> tuple[float, float, float, float, float]:
    """The CT ratios sin θ/ω, (1−cos θ)/ω, (1−cos θ)/ω², (θ−sin θ)/ω², 2(θ−sin θ)/ω³, θ = ωT.

    Taylor series for |θ| < 0.1, as :func:`luchtwacht.tracking.imm._ct_ratios`.
    """
    th = omega * dt
    t2 = th * th
    if abs(th) < 0.1:
        sinc = _series(t2, 1.0, -1 / 6, 1 / 120, -1 / 5040, 1 / 362880)
        cos2 = _series(t2, 1 / 2, -1 / 24, 1 / 720, -1 / 40320, 1 / 3628800)
        sin3 = _series(t2, 1 / 6, -1 / 120, 1 / 5040, -1 / 362880, 1 / 39916800)
    else:
        sinc = math.sin(th) / th
        cos2 = 2.0 * math.sin(0.5 * th) ** 2 / t2
        sin3 = (th - math.sin(th)) / (t2 * th)
    return dt * sinc, dt * th * cos2, dt * dt * cos2, dt * dt * th * sin3, 2.0 * dt**3 * sin3


@_jit
def model_fq(model: int, dt: float, omega: float, q: float, f: F64, qm: F64) -> None:
    """Fill the 9×9 transition ``f`` and process noise ``qm`` of one model over a step ``dt``.

    A negative step takes Q(|dt|) with the velocity terms' couplings negated (Q(−T) = D Q(T) D,
    D flipping the velocities), as the NCV tracker does.
    """
    _model_fq(model, dt, omega, q, f, qm)
    if dt < 0.0:
        for r in range(9):
            for c in range(9):
                if (3 <= r < 6) != (3 <= c < 6):
                    qm[r, c] = -qm[r, c]


@_jit
def _model_fq(model: int, dt: float, omega: float, q: float, f: F64, qm: F64) -> None:
    f[:, :] = 0.0
    qm[:, :] = 0.0
    a = abs(dt)
    if model == MODEL_CA:
        for k in range(9):
            f[k, k] = 1.0
        for ax in range(3):
            p, v, c = ax, ax + 3, ax + 6
            f[p, v] = dt
            f[v, c] = dt
            f[p, c] = dt * dt / 2.0
            rows = (p, v, c)
            vals = (
                (a**5 / 20.0, a**4 / 8.0, a**3 / 6.0),
                (a**4 / 8.0, a**3 / 3.0, a**2 / 2.0),
                (a**3 / 6.0, a**2 / 2.0, a),
            )
            for i in range(3):
                for j in range(3):
                    qm[rows[i], rows[j]] = q * vals[i][j]
        return
    w = omega if model == MODEL_CT else 0.0
    s1, c1, _, _, _ = _ct_ratios(dt, w)
    _, _, c2, s2, s3 = _ct_ratios(a, w)
    th = w * dt
    cs, sn = math.cos(th), math.sin(th)
    for k in range(6):
        f[k, k] = 1.0
    f[0, 3], f[0, 4] = s1, -c1
    f[1, 3], f[1, 4] = c1, s1
    f[2, 5] = dt
    f[3, 3], f[3, 4] = cs, -sn
    f[4, 3], f[4, 4] = sn, cs
    qm[0, 0] = q * s3
    qm[1, 1] = q * s3
    qm[2, 2] = q * a**3 / 3.0
    qm[3, 3] = q * a
    qm[4, 4] = q * a
    qm[5, 5] = q * a
    qm[0, 3] = qm[3, 0] = qm[1, 4] = qm[4, 1] = q * c2
    qm[0, 4] = qm[4, 0] = q * s2
    qm[1, 3] = qm[3, 1] = -q * s2
    qm[2, 5] = qm[5, 2] = q * a * a / 2.0
    # Acceleration a = B v with B = [[0, −ω, 0], [ω, 0, 0], [0, 0, 0]]: rows 6, 7 of F and Q.
    for c in range(6):
        f[6, c] = -w * f[4, c]
        f[7, c] = w * f[3, c]
        qm[6, c] = -w * qm[4, c]
        qm[7, c] = w * qm[3, c]
        qm[c, 6] = qm[6, c]
        qm[c, 7] = qm[7, c]
    qm[6, 6] = w * w * qm[4, 4] + ACCEL_VAR_FLOOR
    qm[7, 7] = w * w * qm[3, 3] + ACCEL_VAR_FLOOR
    qm[6, 7] = qm[7, 6] = -w * w * qm[4, 3]
    qm[8, 8] = ACCEL_VAR_FLOOR


@_jit
def turn_rate(x: F64, omega_min: float, omega_max: float) -> float:
    """Turn rate implied by a 9-state's horizontal velocity and acceleration, bounded."""
    ve, vn, ae, an = x[3], x[4], x[6], x[7]
    v2 = ve * ve + vn * vn
    w = (ve * an - vn * ae) / v2 if v2 > 1e-6 else 0.0
    mag = min(max(abs(w), omega_min), omega_max)
    return float(-mag if w < 0.0 else mag)


@_jit
def _propagate(
    x: F64, p: F64, f: F64, qm: F64, tmp_x: F64, tmp_p: F64, cols: I64, vals: F64, cnt: I64
) -> None:
    """Propagate in place: x ← F x, P ← F P Fᵀ + Q, over the non-zeros of F (≤ 3 per row).

    ``tmp_*``, ``cols``, ``vals`` and ``cnt`` are scratch space of the caller's.
    """
    n = x.size
    cnt[:] = 0
    for r in range(n):
        for c in range(n):
            if f[r, c] != 0.0:
                cols[r, cnt[r]] = c
                vals[r, cnt[r]] = f[r, c]
                cnt[r] += 1
    for r in range(n):
        s = 0.0
        for k in range(cnt[r]):
            s += vals[r, k] * x[cols[r, k]]
        tmp_x[r] = s
    x[:] = tmp_x
    for r in range(n):  # tmp = F P
        for c in range(n):
            s = 0.0
            for k in range(cnt[r]):
                s += vals[r, k] * p[cols[r, k], c]
            tmp_p[r, c] = s
    for r in range(n):  # P = tmp Fᵀ + Q
        for c in range(r, n):
            s = 0.5 * (qm[r, c] + qm[c, r])
            for k in range(cnt[c]):
                s += tmp_p[r, cols[c, k]] * vals[c, k]
            p[r, c] = s
            p[c, r] = s


@_jit
def _combine_into(xm: F64, pm: F64, mu: F64, i: int, x_out: F64, p_out: F64) -> None:
    """Moment-matched position/velocity of track ``i``'s model mixture into the 6-state rows."""
    n_m = mu.shape[1]
    for a in range(6):
        s = 0.0
        for j in range(n_m):
            s += mu[i, j] * xm[i, j, a]
        x_out[i, a] = s
    for a in range(6):
        for b in range(a, 6):
            s = 0.0
            for j in range(n_m):
                da = xm[i, j, a] - x_out[i, a]
                db = xm[i, j, b] - x_out[i, b]
                s += mu[i, j] * (pm[i, j, a, b] + da * db)
            p_out[i, a, b] = s
            p_out[i, b, a] = s


@_jit
def _predict_tracks(
    xm: F64, pm: F64, mu: F64, dt: F64, pi: F64, models: I64, q: F64,
    omega_min: float, omega_max: float, x_out: F64, p_out: F64, lo: int, hi: int,
) -> None:  # fmt: skip
    """IMM interaction and prediction of tracks ``lo`` … ``hi − 1``, with their own scratch."""
    n_m = mu.shape[1]
    x0 = np.empty((n_m, 9))
    p0 = np.empty((n_m, 9, 9))
    c = np.empty(n_m)
    w = np.empty((n_m, n_m))
    f = np.empty((9, 9))
    qm = np.empty((9, 9))
    tmp_x = np.empty(9)
    tmp_p = np.empty((9, 9))
    cols = np.empty((9, 9), np.int64)
    vals = np.empty((9, 9))
    cnt = np.empty(9, np.int64)
    for i in range(lo, hi):
        _predict_track(
            xm, pm, mu, dt, pi, models, q, omega_min, omega_max, x_out, p_out, i,
            x0, p0, c, w, f, qm, tmp_x, tmp_p, cols, vals, cnt,
        )  # fmt: skip


@_jit_parallel
def _imm_predict_parallel(
    xm: F64, pm: F64, mu: F64, dt: F64, pi: F64, models: I64, q: F64,
    omega_min: float, omega_max: float, x_out: F64, p_out: F64,
) -> None:  # fmt: skip
    """Compiled body of :func:`imm_predict_inplace` (tracks split over the cores)."""
    n_t = mu.shape[0]
    n_chunks = min(n_t, _CHUNKS)
    for ch in numba.prange(n_chunks):  # tracks are independent: split over the cores
        lo, hi = ch * n_t // n_chunks, (ch + 1) * n_t // n_chunks
        _predict_tracks(xm, pm, mu, dt, pi, models, q, omega_min, omega_max, x_out, p_out, lo, hi)


@_jit
def _imm_predict_serial(
    xm: F64, pm: F64, mu: F64, dt: F64, pi: F64, models: I64, q: F64,
    omega_min: float, omega_max: float, x_out: F64, p_out: F64,
) -> None:  # fmt: skip
    """Compiled body of :func:`imm_predict_inplace` on the calling thread alone."""
    n_t = mu.shape[0]
    _predict_tracks(xm, pm, mu, dt, pi, models, q, omega_min, omega_max, x_out, p_out, 0, n_t)


@_jit
def _predict_track(
    xm: F64, pm: F64, mu: F64, dt: F64, pi: F64, models: I64, q: F64,
    omega_min: float, omega_max: float, x_out: F64, p_out: F64, i: int,
    x0: F64, p0: F64, c: F64, w: F64, f: F64, qm: F64, tmp_x: F64, tmp_p: F64,
    cols: I64, vals: F64, cnt: I64,
) -> None:  # fmt: skip
    """IMM interaction and prediction of track ``i`` (the rest are the caller's scratch)."""
    n_m = mu.shape[1]
    if dt[i] == 0.0:
        _combine_into(xm, pm, mu, i, x_out, p_out)
        return
    for j in range(n_m):  # c_j = Σ_k Π_kj μ_k, weights μ_{k|j}
        s = 0.0
        for k in range(n_m):
            s += pi[k, j] * mu[i, k]
        c[j] = s
        for k in range(n_m):
            w[k, j] = pi[k, j] * mu[i, k] / s if s > 0.0 else (1.0 if k == j else 0.0)
    for j in range(n_m):
        for a in range(9):
            s = 0.0
            for k in range(n_m):
                s += w[k, j] * xm[i, k, a]
            x0[j, a] = s
        for a in range(9):
            for b in range(a, 9):
                s = 0.0
                for k in range(n_m):
                    da = xm[i, k, a] - x0[j, a]
                    db = xm[i, k, b] - x0[j, b]
                    s += w[k, j] * (pm[i, k, a, b] + da * db)
                p0[j, a, b] = s
                p0[j, b, a] = s
    for j in range(n_m):
        om = turn_rate(x0[j], omega_min, omega_max) if models[j] == MODEL_CT else 0.0
        model_fq(models[j], dt[i], om, q[j], f, qm)
        _propagate(x0[j], p0[j], f, qm, tmp_x, tmp_p, cols, vals, cnt)
        xm[i, j, :] = x0[j]
        pm[i, j, :, :] = p0[j]
        mu[i, j] = c[j]
    _combine_into(xm, pm, mu, i, x_out, p_out)


@_jit
def _inv_small(s: F64, m: int, inv: F64, a: F64) -> float:
    """Inverse (into ``inv``) and determinant of an m×m (m ≤ 4) symmetric positive matrix.

    Gauss–Jordan with partial pivoting on the (4, 8) scratch ``a``; returns 0.0 as determinant
    if the matrix is singular.
    """
    for r in range(m):
        for c in range(m):
            a[r, c] = s[r, c]
            a[r, m + c] = 1.0 if r == c else 0.0
    det = 1.0
    for col in range(m):
        piv = col
        for r in range(col + 1, m):
            if abs(a[r, col]) > abs(a[piv, col]):
                piv = r
        if a[piv, col] == 0.0:
            return 0.0
        if piv != col:
            for c in range(2 * m):
                a[col, c], a[piv, c] = a[piv, c], a[col, c]
            det = -det
        d = a[col, col]
        det *= d
        for c in range(2 * m):
            a[col, c] /= d
        for r in range(m):
            if r != col and a[r, col] != 0.0:
                g = a[r, col]
                for c in range(2 * m):
                    a[r, c] -= g * a[col, c]
    for r in range(m):
        for c in range(m):
            inv[r, c] = a[r, m + c]
    return det


@_jit
def _wrap(a: float) -> float:
    """Angle to (−π, π]."""
    two_pi = 2.0 * math.pi
    w = (a + math.pi) - two_pi * math.floor((a + math.pi) / two_pi)  # in [0, 2π)
    if w == 0.0:
        w = two_pi
    return w - math.pi


@_jit
def measure_into(x: F64, sensor: F64, kind: int, h: F64, jac: F64) -> bool:
    """Predicted measurement ``h`` (m,) and Jacobian ``jac`` (m, 6) at state ``x`` (≥ 6 entries).

    Returns False where the geometry is degenerate (the state within ``MIN_HORIZONTAL_RANGE_M``
    of the sensor's vertical axis, or not finite): ``h`` and ``jac`` are then finite (ρ floored)
    but must not be used.
    """
    m = KIND_DIM[kind]
    for r in range(m):
        for c in range(6):
            jac[r, c] = 0.0
    if kind == KIND_CARTESIAN:
        for r in range(3):
            h[r] = x[r]
            jac[r, r] = 1.0
        return True
    de, dn, du = x[0] - sensor[0], x[1] - sensor[1], x[2] - sensor[2]
    rho2 = de * de + dn * dn
    ok = bool(rho2 >= _MIN_RHO2)  # False for NaN too
    if not ok:
        rho2 = _MIN_RHO2
    rho = math.sqrt(rho2)
    r2 = rho2 + du * du
    rng = math.sqrt(r2)
    h[0] = math.atan2(de, dn)
    jac[0, 0] = dn / rho2
    jac[0, 1] = -de / rho2
    if m >= 2:
        h[1] = math.atan2(du, rho)
        jac[1, 0] = -de * du / (rho * r2)
        jac[1, 1] = -dn * du / (rho * r2)
        jac[1, 2] = rho / r2
    if m >= 3:
        h[2] = rng
        jac[2, 0], jac[2, 1], jac[2, 2] = de / rng, dn / rng, du / rng
    if m >= 4:
        le, ln, lu = de / rng, dn / rng, du / rng
        rdot = le * x[3] + ln * x[4] + lu * x[5]
        h[3] = rdot
        jac[3, 0] = (x[3] - rdot * le) / rng
        jac[3, 1] = (x[4] - rdot * ln) / rng
        jac[3, 2] = (x[5] - rdot * lu) / rng
        jac[3, 3], jac[3, 4], jac[3, 5] = le, ln, lu
    return ok


@_jit
def scratch() -> F64:
    """Workspace of :func:`ekf_update_vec` (one per thread)."""
    return np.empty((36, 8))


@_jit
def _innovation(
    x: F64, p: F64, z: F64, r: F64, kind: int, sensor: F64,
    h: F64, jac: F64, nu: F64, b: F64, s_m: F64, inv: F64, gj: F64,
) -> tuple[float, float]:  # fmt: skip
    """ν = z − h(x) (azimuth wrapped), B = P Hᵀ, S = H B + R and S⁻¹, into the scratch given.

    Returns (d² = νᵀ S⁻¹ ν, det S); det ≤ 0 means S could not be inverted, or the geometry is
    degenerate (:func:`measure_into`): the pair is then neither gated nor applied (d² is 0).
    """
    n = x.size
    m = KIND_DIM[kind]
    if not measure_into(x, sensor, kind, h, jac):
        return 0.0, 0.0
    for a in range(m):
        nu[a] = z[a] - h[a]
    if kind != KIND_CARTESIAN:
        nu[0] = _wrap(nu[0])
    for a in range(n):
        for c in range(m):
            s = 0.0
            for k in range(6):
                s += p[a, k] * jac[c, k]
            b[a, c] = s
    for a in range(m):
        for c in range(m):
            s = r[a, c]
            for k in range(6):
                s += jac[a, k] * b[k, c]
            s_m[a, c] = s
    det = _inv_small(s_m, m, inv, gj)
    d2 = 0.0
    if det > 0.0:
        for a in range(m):
            for c in range(m):
                d2 += nu[a] * inv[a, c] * nu[c]
    return d2, det


@_jit
def ekf_update_vec(x: F64, p: F64, z: F64, r: F64, kind: int, sensor: F64, ws: F64) -> float:
    """EKF update of one state vector (6 or 9 entries) in place; returns ln N(ν; 0, S).

    K = B S⁻¹ with B = P Hᵀ, P ← P − K Bᵀ (symmetrised): the measurement touches position and
    velocity only, so H is the m×6 Jacobian padded with zeros. ``ws`` is :func:`scratch`.
    """
    n = x.size
    m = KIND_DIM[kind]
    h = ws[0, 0:4]
    jac = ws[1:5, 0:6]
    nu = ws[5, 0:4]
    b = ws[6:15, 0:4]  # P Hᵀ
    s_m = ws[15:19, 0:4]
    inv = ws[19:23, 0:4]
    gain = ws[23:32, 0:4]
    gj = ws[32:36, 0:8]
    d2, det = _innovation(x, p, z, r, kind, sensor, h, jac, nu, b, s_m, inv, gj)
    if not 0.0 < det < np.inf:  # singular, overflowed or NaN S, or degenerate geometry
        return -np.inf
    for a in range(n):
        for c in range(m):
            s = 0.0
            for k in range(m):
                s += b[a, k] * inv[k, c]
            gain[a, c] = s
    for a in range(n):
        s = 0.0
        for c in range(m):
            s += gain[a, c] * nu[c]
        x[a] += s
    for a in range(n):
        for c in range(a, n):
            s = 0.0
            for k in range(m):
                s += gain[a, k] * b[c, k]
            v = 0.5 * (p[a, c] + p[c, a]) - s
            p[a, c] = v
            p[c, a] = v
    return -0.5 * (d2 + math.log(det) + m * _LN_2PI)


@_jit
def ekf_update_rows(x: F64, p: F64, rows: I64, z: F64, r: F64, kind: int, sensor: F64) -> F64:
    """EKF update of single-model tracks ``rows`` (x (N, 6), p (N, 6, 6)); ln N(ν; 0, S) each."""
    out = np.empty(rows.size)
    ws = scratch()
    for k in range(rows.size):
        out[k] = ekf_update_vec(x[rows[k]], p[rows[k]], z[k], r[k], kind, sensor, ws)
    return out


@_jit
def _update_rows(
    xm: F64, pm: F64, mu: F64, rows: I64, z: F64, r: F64, kind: int, sensor: F64,
    x_out: F64, p_out: F64, out: F64, lo: int, hi: int,
) -> None:  # fmt: skip
    """Model-conditioned EKF updates of rows ``lo`` … ``hi − 1``, with their own scratch."""
    lam = np.empty(mu.shape[1])
    ws = scratch()
    for k in range(lo, hi):
        out[k] = _update_track(xm, pm, mu, rows[k], z[k], r[k], kind, sensor, x_out, p_out, lam, ws)


@_jit_parallel
def _imm_update_parallel(
    xm: F64, pm: F64, mu: F64, rows: I64, z: F64, r: F64, kind: int, sensor: F64,
    x_out: F64, p_out: F64,
) -> F64:  # fmt: skip
    """Compiled body of :func:`imm_update_inplace` (rows split over the cores)."""
    out = np.empty(rows.size)
    n_rows = rows.size
    n_chunks = min(n_rows, _CHUNKS)
    for ch in numba.prange(n_chunks):  # rows are distinct tracks: split over the cores
        lo, hi = ch * n_rows // n_chunks, (ch + 1) * n_rows // n_chunks
        _update_rows(xm, pm, mu, rows, z, r, kind, sensor, x_out, p_out, out, lo, hi)
    return out


@_jit
def _imm_update_serial(
    xm: F64, pm: F64, mu: F64, rows: I64, z: F64, r: F64, kind: int, sensor: F64,
    x_out: F64, p_out: F64,
) -> F64:  # fmt: skip
    """Compiled body of :func:`imm_update_inplace` on the calling thread alone."""
    out = np.empty(rows.size)
    _update_rows(xm, pm, mu, rows, z, r, kind, sensor, x_out, p_out, out, 0, rows.size)
    return out


@_jit
def _update_track(
    xm: F64, pm: F64, mu: F64, i: int, z: F64, r: F64, kind: int, sensor: F64,
    x_out: F64, p_out: F64, lam: F64, ws: F64,
) -> float:  # fmt: skip
    """Model-conditioned EKF updates of track ``i``; ln Σ_j c_j Λ_j."""
    n_m = mu.shape[1]
    hi = -np.inf
    for j in range(n_m):
        lam[j] = ekf_update_vec(xm[i, j], pm[i, j], z, r, kind, sensor, ws)
        lam[j] += math.log(mu[i, j]) if mu[i, j] > 0.0 else -np.inf
        hi = max(hi, lam[j])
    if hi == -np.inf:  # no model can explain it (degenerate geometry): keep the priors
        _combine_into(xm, pm, mu, i, x_out, p_out)
        return -np.inf
    tot = 0.0
    for j in range(n_m):
        tot += math.exp(lam[j] - hi)
    out = hi + math.log(tot)
    for j in range(n_m):
        mu[i, j] = math.exp(lam[j] - out)
    _combine_into(xm, pm, mu, i, x_out, p_out)
    return out


@_jit
def gate_refine(
    x: F64, p: F64, ti: I64, di: I64, z: F64, r: F64, kind: int, sensor: F64, gate_d2: float
) -> tuple[I64, F64, F64]:
    """Exact d² of candidate pairs in a measurement's own space: (kept index, d², ln|S|)."""
    h = np.empty(4)
    jac = np.empty((4, 6))
    s_m = np.empty((4, 4))
    inv = np.empty((4, 4))
    nu = np.empty(4)
    b = np.empty((x.shape[1], 4))
    gj = np.empty((4, 8))
    keep = np.empty(ti.size, np.int64)
    d2o = np.empty(ti.size)
    ldo = np.empty(ti.size)
    n = 0
    for k in range(ti.size):
        i, j = ti[k], di[k]
        d2, det = _innovation(x[i], p[i], z[j], r[j], kind, sensor, h, jac, nu, b, s_m, inv, gj)
        if 0.0 < det < np.inf and d2 <= gate_d2:
            keep[n], d2o[n], ldo[n] = k, d2, math.log(det)
            n += 1
    return keep[:n], d2o[:n], ldo[:n]


# numba's default thread pool (workqueue) aborts the process if two Python threads enter
# parallel code at once; trackers in several threads take turns here instead.
_PARALLEL = threading.Lock()

# Below this many tracks (predict) or updated rows (update) a scan runs on the calling thread:
# a parallel loop's threads wait on each other, which costs up to a scheduler slice (~10–30 ms)
# per call as soon as another process keeps a core busy, against a few µs of work per track.
# bench/tracking_threads.py on 2 shared cores: at 100 tracks 0.7 ms serial against 32 ms
# parallel with a core busy; parallel was slower up to 1000 tracks either way and won from
# 2000 (0.9×) and 5000 (0.6×) with a core busy.
PARALLEL_MIN_TRACKS = 2000


def runs_parallel(n: int) -> bool:
    """Whether a kernel over ``n`` tracks (or rows) splits them over the cores."""
    return n >= PARALLEL_MIN_TRACKS


@_jit
def _imm_pda_body(
    xm: F64, pm: F64, mu: F64, tracks: I64, start: I64, det: I64, beta: F64, beta_miss: F64,
    z: F64, r: F64, ln_pd: float, ln_miss: float, ln_beta_fa: F64, x_out: F64, p_out: F64,
) -> None:  # fmt: skip
    """Compiled body of :func:`imm_pda_update_inplace`."""
    n_m = mu.shape[1]
    ws = scratch()
    h = ws[0, 0:4]
    jac = ws[1:5, 0:6]
    nu = ws[5, 0:4]
    b = ws[6:15, 0:4]
    s_m = ws[15:19, 0:4]
    inv = ws[19:23, 0:4]
    gj = ws[32:36, 0:8]
    n_x = xm.shape[2]
    lam = np.empty(n_m)
    for t in range(tracks.size):
        i = tracks[t]
        k0, k1 = start[t], start[t + 1]
        nus = np.zeros((k1 - k0, 3))
        best = k0
        for k in range(k0, k1):
            if beta[k] > beta[best]:
                best = k
        hi = -np.inf
        for j in range(n_m):
            x, p = xm[i, j], pm[i, j]
            # Λ_j ∝ (1 − PD) + Σ_k PD N(ν_kj; 0, S_kj)/β_FA: the gated plots' likelihood under
            # model j (the single-target PDA form; constants common to all models cancel).
            ln_l = ln_miss
            for k in range(k0, k1):
                d2, det_s = _innovation(
                    x, p, z[det[k]], r[det[k]], KIND_CARTESIAN, z[0], h, jac, nu, b, s_m, inv, gj
                )
                for a in range(3):
                    nus[k - k0, a] = nu[a]
                if 0.0 < det_s < np.inf:
                    term = ln_pd - ln_beta_fa[k] - 0.5 * (d2 + math.log(det_s) + 3 * _LN_2PI)
                    top = max(ln_l, term)
                    ln_l = top + math.log(math.exp(ln_l - top) + math.exp(term - top))
            lam[j] = ln_l + (math.log(mu[i, j]) if mu[i, j] > 0.0 else -np.inf)
            hi = max(hi, lam[j])
            # S, B = P Hᵀ and S⁻¹ of the most probable plot stand for the track's gate.
            _, det_s = _innovation(
                x, p, z[det[best]], r[det[best]], KIND_CARTESIAN, z[0], h, jac, nu, b, s_m, inv,
                gj,
            )  # fmt: skip
            if not 0.0 < det_s < np.inf:
                continue
            nbar = np.zeros(3)
            for k in range(k0, k1):
                for a in range(3):
                    nbar[a] += beta[k] * nus[k - k0, a]
            spread = np.zeros((3, 3))
            for k in range(k0, k1):
                for a in range(3):
                    for c in range(3):
                        spread[a, c] += beta[k] * nus[k - k0, a] * nus[k - k0, c]
            for a in range(3):
                for c in range(3):
                    spread[a, c] -= nbar[a] * nbar[c]
            gain = np.zeros((n_x, 3))  # K = B S⁻¹
            for a in range(n_x):
                for c in range(3):
                    acc = 0.0
                    for k in range(3):
                        acc += b[a, k] * inv[k, c]
                    gain[a, c] = acc
            ks = np.zeros((n_x, 3))  # K (Σ β ν νᵀ − ν̄ ν̄ᵀ)
            for a in range(n_x):
                for c in range(3):
                    acc = 0.0
                    for k in range(3):
                        acc += gain[a, k] * spread[k, c]
                    ks[a, c] = acc
            w = 1.0 - beta_miss[i]
            for a in range(n_x):
                acc = 0.0
                for c in range(3):
                    acc += gain[a, c] * nbar[c]
                x[a] += acc
            for a in range(n_x):
                for c in range(a, n_x):
                    kbt = 0.0  # K Bᵀ = K S Kᵀ
                    kspread = 0.0
                    for k in range(3):
                        kbt += gain[a, k] * b[c, k]
                        kspread += ks[a, k] * gain[c, k]
                    v = 0.5 * (p[a, c] + p[c, a]) - w * kbt + kspread
                    p[a, c] = v
                    p[c, a] = v
        if hi > -np.inf:
            tot = 0.0
            for j in range(n_m):
                tot += math.exp(lam[j] - hi)
            for j in range(n_m):
                mu[i, j] = math.exp(lam[j] - hi) / tot
        _combine_into(xm, pm, mu, i, x_out, p_out)


def imm_predict_inplace(
    xm: F64,
    pm: F64,
    mu: F64,
    dt: F64,
    pi: F64,
    models: I64,
    q: F64,
    omega_min: float,
    omega_max: float,
    x_out: F64,
    p_out: F64,
) -> None:
    """IMM interaction and prediction of every track, in place; ``mu`` becomes c (predicted).

    xm (N, M, 9), pm (N, M, 9, 9), mu (N, M), dt (N,), pi (M, M) with pi[i, j] = P(j | i),
    models (M,) of ``MODEL_*`` with PSDs q (M,). The combined position/velocity estimate of
    each track is written to x_out (N, 6) and p_out (N, 6, 6) for gating and output.
    """
    if not runs_parallel(mu.shape[0]):
        _imm_predict_serial(xm, pm, mu, dt, pi, models, q, omega_min, omega_max, x_out, p_out)
        return
    with _PARALLEL:
        _imm_predict_parallel(xm, pm, mu, dt, pi, models, q, omega_min, omega_max, x_out, p_out)


def imm_update_inplace(
    xm: F64,
    pm: F64,
    mu: F64,
    rows: I64,
    z: F64,
    r: F64,
    kind: int,
    sensor: F64,
    x_out: F64,
    p_out: F64,
) -> F64:
    """Model-conditioned EKF updates of tracks ``rows`` with plots z (K, m), r (K, m, m).

    μ_j ∝ c_j Λ_j in the log domain; returns ln Σ_j c_j Λ_j per row (the IMM's measurement
    likelihood, for the track score) and writes the combined 6-state to x_out/p_out.
    """
    if not runs_parallel(rows.size):
        serial: F64 = _imm_update_serial(xm, pm, mu, rows, z, r, kind, sensor, x_out, p_out)
        return serial
    with _PARALLEL:
        out: F64 = _imm_update_parallel(xm, pm, mu, rows, z, r, kind, sensor, x_out, p_out)
    return out


def imm_pda_update_inplace(
    xm: F64,
    pm: F64,
    mu: F64,
    track: I64,
    det: I64,
    beta: F64,
    beta_miss: F64,
    z: F64,
    r: F64,
    pd: float,
    ln_beta_fa: F64,
    x_out: F64,
    p_out: F64,
) -> None:
    """IMM-PDA: each model of each track takes the JPDA-weighted update of its gated plots.

    Gated pairs (``track``, ``det``) carry the association probabilities β (JPDA marginals from
    the combined moments) and each track its miss probability β₀. Per model j (Bar-Shalom,
    Willett & Tian 2011, §3.4.4, IMM-PDAF): x_j⁺ = x_j + K_j ν̄_j, P_j⁺ = P_j − (1 − β₀) K_j S_j
    K_jᵀ + K_j (Σ β ν νᵀ − ν̄ ν̄ᵀ) K_jᵀ, and the mode probabilities follow each model's
    likelihood of the plots, Λ_j ∝ (1 − PD) + Σ PD N(ν_j; 0, S_j)/β_FA. Cartesian plots.
    """
    if track.size == 0:
        return
    order = np.argsort(track, kind="stable")
    tr = track[order]
    tracks, first = np.unique(tr, return_index=True)
    start = np.append(first, tr.size).astype(np.int64)
    _imm_pda_body(
        xm, pm, mu, tracks.astype(np.int64), start, det[order], beta[order], beta_miss,
        z, r, math.log(pd), math.log1p(-pd), ln_beta_fa[order], x_out, p_out,
    )  # fmt: skip


def warm_up() -> None:
    """Compile (or load) every IMM kernel once, outside any timed scan."""
    n, m = 2, 3
    xm = np.zeros((n, m, 9))
    xm[:, :, 0] = 1000.0
    xm[:, :, 3] = 10.0
    pm = np.broadcast_to(np.eye(9) * 10.0, (n, m, 9, 9)).copy()
    mu = np.full((n, m), 1.0 / m)
    x6 = np.zeros((n, 6))
    p6 = np.zeros((n, 6, 6))
    models = np.array([MODEL_NCV, MODEL_CA, MODEL_CT], np.int64)
    pi = np.full((m, m), 0.05) + np.eye(m) * 0.85
    for predict in (_imm_predict_serial, _imm_predict_parallel):
        predict(xm, pm, mu, np.ones(n), pi, models, np.ones(m), 0.05, 1.0, x6, p6)
    rows = np.arange(n, dtype=np.int64)
    sensor = np.zeros(3)
    for kind in range(5):
        dim = KIND_DIM[kind]
        z = np.full((n, dim), 0.5)
        r = np.broadcast_to(np.eye(dim), (n, dim, dim)).copy()
        _imm_update_serial(xm, pm, mu, rows, z, r, kind, sensor, x6, p6)
        _imm_update_parallel(xm, pm, mu, rows, z, r, kind, sensor, x6, p6)
        ekf_update_rows(x6, p6, rows, z, r, kind, sensor)
        if kind == KIND_CARTESIAN:
            one = np.ones(n)
            imm_pda_update_inplace(
                xm, pm, mu, rows, rows, one, 0.0 * one, z, r, 0.9, np.zeros(n), x6, p6
            )
        gate_refine(x6, p6, rows, rows, z, r, kind, sensor, 10.0)
