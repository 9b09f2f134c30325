"""Nonlinear sensor measurement models with EKF and UKF updates, over stacks of tracks.

The state per track is the NCV state x = [e, n, u, ve, vn, vu] in site ENU metres (see
:mod:`luchtwacht.tracking.models`). A sensor sits at ENU position s (one per row, or one for all
rows) and is stationary. With the line of sight d = p − s = (de, dn, du), its horizontal length
ρ = √(de² + dn²) and slant range r = |d|, the measured components are

* azimuth      az = atan2(de, dn)       radians, from true (grid) north, clockwise, in (−π, π];
* elevation    el = atan2(du, ρ)        radians above the local horizontal, in [−π/2, π/2];
* range        r  = |d|                 metres;
* range rate   ṙ  = d·v / r             metres per second (positive when receding).

Angles are radians everywhere in this module; callers holding degrees convert at the boundary
(``np.radians``). Every measurement vector is ordered (az, el, r, ṙ) truncated to its kind, so the
azimuth — the only component that needs wrapping — is always column 0:

* ``"radar"`` — z = (az, el, r): 3D radar;
* ``"radar_doppler"`` — z = (az, el, r, ṙ): 3D radar reporting radial velocity;
* ``"azimuth"`` — z = (az,): RF direction finder, 2D acoustic array;
* ``"azimuth_elevation"`` — z = (az, el): camera / EO-IR, 3D acoustic array.

The Jacobian H = ∂h/∂x (rows in the same order, six columns) is

* ∂az/∂p = (dn, −de, 0) / ρ²
* ∂el/∂p = (−de·du/ρ, −dn·du/ρ, ρ) / r²
* ∂r/∂p  = d / r
* ∂ṙ/∂p  = (v − ṙ d/r) / r,  ∂ṙ/∂v = d / r

and zero elsewhere. Azimuth is singular straight above or below the sensor (ρ = 0) and every
component is singular at the sensor itself (r = 0). Both are kept finite by flooring ρ at
:data:`MIN_HORIZONTAL_RANGE_M` (then r ≥ ρ is floored too); a target that close to the sensor's
vertical axis has no azimuth worth the name, so :func:`on_sensor_axis` names those rows and the
tracker never lets such a measurement update a track (it is gated out). The floor leaves every
result at ρ ≥ :data:`MIN_HORIZONTAL_RANGE_M` bit for bit as the formulas above.

Two update steps are provided, both pure functions (prior in, posterior out):

* :func:`ekf_update` — extended Kalman filter, H evaluated at the prior mean, azimuth innovation
  wrapped to (−π, π], Joseph-form covariance (Bar-Shalom, Li & Kirubarajan 2001, §10.3, §5.2.3).
* :func:`ukf_update` — unscented update with the scaled unscented transform (Julier & Uhlmann,
  Proc. IEEE 92(3), 2004; Wan & van der Merwe, AS-SPCC 2000), sigma points (N, 2n+1, 6), with
  azimuth averaged and differenced on the circle.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from luchtwacht.tracking.models import STATE_DIM

F64 = NDArray[np.float64]

MeasurementKind = Literal["radar", "radar_doppler", "azimuth", "azimuth_elevation"]

MEASUREMENT_DIM: dict[str, int] = {
    "radar": 3,
    "radar_doppler": 4,
    "azimuth": 1,
    "azimuth_elevation": 2,
}
"""Length m of the measurement vector of each kind."""

AZIMUTH = 0
"""Column of the azimuth in every measurement vector (the one angle that wraps)."""

MIN_HORIZONTAL_RANGE_M = 0.1
"""Least horizontal distance ρ (m) between a sensor and a target at which a sensor's measurement
is used. Closer, the azimuth is undefined (the sensor's own antenna or microphone array is larger
than this) and ∂az/∂p ∝ 1/ρ would be unbounded: the Jacobians floor ρ here and the tracker gates
such measurements out. The compiled kernels (:mod:`luchtwacht.tracking.imm_kernels`) use the same
value."""


def wrap_angle(a: ArrayLike) -> F64:
    """Angles wrapped to (−π, π]: π − ((π − a) mod 2π).

    The half-open interval keeps π itself (due south) rather than mapping it to −π, so
    a bearing at exactly south is stable under repeated wrapping.
    """
    arr = np.asarray(a, dtype=float)
    out: F64 = np.pi - np.mod(np.pi - arr, 2.0 * np.pi)
    return out


def _dim(kind: MeasurementKind) -> int:
    try:
        return MEASUREMENT_DIM[kind]
    except KeyError:
        raise ValueError(f"unknown measurement kind {kind!r}") from None


def on_sensor_axis(x: ArrayLike, sensor_pos: ArrayLike) -> NDArray[np.bool_]:
    """Rows of states (..., ≥ 3) within :data:`MIN_HORIZONTAL_RANGE_M` of the sensor's vertical.

    Their azimuth is undefined: a measurement of them must not update the track.
    """
    xa = np.asarray(x, dtype=float)
    d = xa[..., 0:2] - np.asarray(sensor_pos, dtype=float)[..., 0:2]
    near: NDArray[np.bool_] = ~(
        d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] >= MIN_HORIZONTAL_RANGE_M**2
    )
    return near


def measure(x: ArrayLike, sensor_pos: ArrayLike, kind: MeasurementKind) -> F64:
    """Predicted measurement h(x, s), shape (..., m), for states (..., 6) and sensors (..., 3).

    ``sensor_pos`` broadcasts against the leading dimensions of ``x`` (one sensor for every row,
    or one per row). Component order (az, el, r, ṙ) truncated to the kind; see the module
    docstring for the formulas and conventions.
    """
    xa = np.asarray(x, dtype=float)
    m = _dim(kind)
    d = xa[..., 0:3] - np.asarray(sensor_pos, dtype=float)
    de, dn, du = d[..., 0], d[..., 1], d[..., 2]
    rho = np.hypot(de, dn)
    out = np.empty((*d.shape[:-1], m))
    out[..., 0] = np.arctan2(de, dn)
    if m >= 2:
        out[..., 1] = np.arctan2(du, rho)
    if m >= 3:
        r = np.sqrt(rho * rho + du * du)
        out[..., 2] = r
    if m >= 4:
        # r floored as ρ is in the Jacobian: at the sensor itself ṙ is 0/0
        out[..., 3] = np.einsum("...i,...i->...", d, xa[..., 3:6]) / np.maximum(
            r, MIN_HORIZONTAL_RANGE_M
        )
    return out


def jacobian(x: ArrayLike, sensor_pos: ArrayLike, kind: MeasurementKind) -> F64:
    """Jacobian H = ∂h/∂x, shape (..., m, 6), of :func:`measure` at the states ``x``.

    Analytic partial derivatives listed in the module docstring (rows az, el, r, ṙ), with ρ
    floored at :data:`MIN_HORIZONTAL_RANGE_M` so that every entry is finite for finite states.
    """
    xa = np.asarray(x, dtype=float)
    m = _dim(kind)
    d = xa[..., 0:3] - np.asarray(sensor_pos, dtype=float)
    de, dn, du = d[..., 0], d[..., 1], d[..., 2]
    rho2 = np.maximum(de * de + dn * dn, MIN_HORIZONTAL_RANGE_M**2)
    rho = np.sqrt(rho2)
    h = np.zeros((*d.shape[:-1], m, STATE_DIM))
    h[..., 0, 0] = dn / rho2
    h[..., 0, 1] = -de / rho2
    if m >= 2:
        r2 = rho2 + du * du
        h[..., 1, 0] = -de * du / (rho * r2)
        h[..., 1, 1] = -dn * du / (rho * r2)
        h[..., 1, 2] = rho / r2
    if m >= 3:
        r = np.sqrt(r2)
        los = d / r[..., None]
        h[..., 2, 0:3] = los
    if m >= 4:
        v = xa[..., 3:6]
        rdot = np.einsum("...i,...i->...", los, v)
        h[..., 3, 0:3] = (v - rdot[..., None] * los) / r[..., None]
        h[..., 3, 3:6] = los
    return h


def ekf_innovation(
    x: F64, p: F64, z: F64, r: F64, sensor_pos: ArrayLike, kind: MeasurementKind
) -> tuple[F64, F64, F64]:
    """Innovation ν = z − h(x) (azimuth wrapped), its covariance S = H P Hᵀ + R, and H.

    Shapes: x (N, 6), p (N, 6, 6), z (N, m), r (N, m, m) → ν (N, m), S (N, m, m), H (N, m, 6).
    Useful on its own for gating (ν S⁻¹ νᵀ against a χ²ₘ threshold).
    """
    h = jacobian(x, sensor_pos, kind)
    nu = np.asarray(z, dtype=float) - measure(x, sensor_pos, kind)
    nu[:, AZIMUTH] = wrap_angle(nu[:, AZIMUTH])
    s = h @ p @ np.swapaxes(h, 1, 2) + r
    return nu, 0.5 * (s + np.swapaxes(s, 1, 2)), h


def ekf_update(
    x: F64, p: F64, z: F64, r: F64, sensor_pos: ArrayLike, kind: MeasurementKind
) -> tuple[F64, F64]:
    """Extended Kalman filter update for paired rows (track i with measurement i).

    H is the Jacobian at the prior mean; ν = z − h(x) with the azimuth wrapped to (−π, π] so a
    target crossing due south is not pulled by 2π; S = H P Hᵀ + R; K = P Hᵀ S⁻¹, obtained as
    (S⁻¹ H P)ᵀ by a batched solve (S, P symmetric); x⁺ = x + K ν and the Joseph form
    P⁺ = (I − K H) P (I − K H)ᵀ + K R Kᵀ, which stays symmetric positive semi-definite under
    round-off (Bar-Shalom, Li & Kirubarajan 2001, §5.2.3 and §10.3.2).

    Shapes: x (N, 6), p (N, 6, 6), z (N, m), r (N, m, m), sensor_pos (3,) or (N, 3).
    """
    nu, s, h = ekf_innovation(x, p, z, r, sensor_pos, kind)
    hp = h @ p  # (N, m, 6)
    k = np.swapaxes(np.linalg.solve(s, hp), 1, 2)  # (N, 6, m)
    x_new = x + np.einsum("nij,nj->ni", k, nu)
    ikh = np.eye(STATE_DIM) - k @ h
    p_new = ikh @ p @ np.swapaxes(ikh, 1, 2) + k @ r @ np.swapaxes(k, 1, 2)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, 1, 2))


def unscented_weights(
    n: int, alpha: float = 1.0, beta: float = 2.0, kappa: float = 0.0
) -> tuple[F64, F64, float]:
    """Weights (Wᵐ, Wᶜ) of the 2n+1 scaled sigma points and the spread factor γ = √(n+λ).

    λ = α²(n+κ) − n; W₀ᵐ = λ/(n+λ), W₀ᶜ = W₀ᵐ + 1 − α² + β, Wᵢᵐ = Wᵢᶜ = 1/(2(n+λ)) for i ≥ 1
    (Wan & van der Merwe 2000, eq. 15). The defaults α = 1, β = 2 (optimal for Gaussian
    priors), κ = 0 give λ = 0: all mean weights non-negative and W₀ᶜ = 2, so the predicted
    covariances are sums of non-negatively weighted outer products. A small α (the paper's 10⁻³)
    shrinks the points towards the mean at the price of a large negative W₀, which is fragile in
    double precision for angle measurements; it remains available.
    """
    lam = alpha * alpha * (n + kappa) - n
    c = n + lam
    if c <= 0.0:
        raise ValueError(f"n + λ must be positive, got {c} (alpha={alpha}, kappa={kappa})")
    wm = np.full(2 * n + 1, 0.5 / c)
    wc = wm.copy()
    wm[0] = lam / c
    wc[0] = lam / c + 1.0 - alpha * alpha + beta
    return wm, wc, float(np.sqrt(c))


def sigma_points(x: F64, p: F64, gamma: float) -> F64:
    """Sigma points (N, 2n+1, n): x, x + γ Lᵢ, x − γ Lᵢ with L the Cholesky factor of P.

    P = L Lᵀ, so the columns Lᵢ span the covariance (Julier & Uhlmann 2004, §IV). ``p`` must be
    positive definite (batched ``np.linalg.cholesky`` raises otherwise).
    """
    chol = np.linalg.cholesky(p)  # (N, n, n), lower
    spread = gamma * np.swapaxes(chol, 1, 2)  # rows are γ Lᵢ
    return np.concatenate([x[:, None, :], x[:, None, :] + spread, x[:, None, :] - spread], axis=1)


def ukf_update(
    x: F64,
    p: F64,
    z: F64,
    r: F64,
    sensor_pos: ArrayLike,
    kind: MeasurementKind,
    *,
    alpha: float = 1.0,
    beta: float = 2.0,
    kappa: float = 0.0,
) -> tuple[F64, F64]:
    """Unscented Kalman filter update for paired rows, all rows and sigma points at once.

    With sigma points Xᵢ of (x, P) and Zᵢ = h(Xᵢ): ẑ = Σ Wᵢᵐ Zᵢ, P_zz = Σ Wᵢᶜ ΔZᵢ ΔZᵢᵀ + R,
    P_xz = Σ Wᵢᶜ (Xᵢ − x) ΔZᵢᵀ, K = P_xz P_zz⁻¹, x⁺ = x + K (z − ẑ), P⁺ = P − K P_zz Kᵀ
    (Wan & van der Merwe 2000, Algorithm 3.1, measurement update with additive noise).
    Azimuths are averaged on the circle: ẑ_az = Z₀ + Σ Wᵢᵐ wrap(Zᵢ − Z₀), and all azimuth
    differences are wrapped, so sigma points straddling ±π do not average to zero.

    Shapes as in :func:`ekf_update`; α, β, κ as in :func:`unscented_weights`.
    """
    n = x.shape[1]
    wm, wc, gamma = unscented_weights(n, alpha, beta, kappa)
    xs = sigma_points(x, p, gamma)  # (N, L, 6)
    sensor = np.asarray(sensor_pos, dtype=float)
    if sensor.ndim == 2:
        sensor = sensor[:, None, :]
    zs = measure(xs, sensor, kind)  # (N, L, m)
    ref = zs[:, :1, :]
    dev = zs - ref
    dev[..., AZIMUTH] = wrap_angle(dev[..., AZIMUTH])
    z_hat = ref[:, 0, :] + np.einsum("l,nlm->nm", wm, dev)
    z_hat[:, AZIMUTH] = wrap_angle(z_hat[:, AZIMUTH])
    dz = zs - z_hat[:, None, :]
    dz[..., AZIMUTH] = wrap_angle(dz[..., AZIMUTH])
    dx = xs - x[:, None, :]
    p_zz = np.einsum("l,nli,nlj->nij", wc, dz, dz) + r
    p_xz = np.einsum("l,nli,nlj->nij", wc, dx, dz)
    p_zz = 0.5 * (p_zz + np.swapaxes(p_zz, 1, 2))
    k = np.swapaxes(np.linalg.solve(p_zz, np.swapaxes(p_xz, 1, 2)), 1, 2)  # (N, 6, m)
    nu = np.asarray(z, dtype=float) - z_hat
    nu[:, AZIMUTH] = wrap_angle(nu[:, AZIMUTH])
    x_new = x + np.einsum("nij,nj->ni", k, nu)
    p_new = p - k @ p_zz @ np.swapaxes(k, 1, 2)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, 1, 2))
