"""Track initiation from bearings: least-squares intersection of rays from two or more sensors.

Bearing-only sensors (RF direction finders, acoustic arrays, cameras) report an azimuth and
sometimes an elevation but no range, so a single report cannot start a track. Rays from two or
more sensors at known site-ENU positions sᵢ can: the position p that best explains all bearings is
the weighted nonlinear least-squares (maximum-likelihood, Gaussian bearing errors) solution of

    min_p  Σᵢ wrap(azᵢ − az(p − sᵢ))² / σ_az,ᵢ² + Σᵢ (elᵢ − el(p − sᵢ))² / σ_el,ᵢ²

with az, el as in :mod:`luchtwacht.tracking.measurement` (radians, azimuth from north clockwise).
It is solved by Gauss–Newton from the linear pseudo-intersection of the rays: with the ray's unit
horizontal normal nᵢ = (cos azᵢ, −sin azᵢ, 0) and, when an elevation exists, its vertical normal
mᵢ = (−sin elᵢ sin azᵢ, −sin elᵢ cos azᵢ, cos elᵢ), every point on the ray satisfies
Aᵢ (p − sᵢ) = 0 for Aᵢ = nᵢnᵢᵀ (+ mᵢmᵢᵀ), so p₀ = (Σ Aᵢ)⁻¹ Σ Aᵢ sᵢ in closed form.

The covariance is the inverse Fisher information at the solution (the Cramér–Rao bound of the
linearised problem), P = (Σ gᵢgᵢᵀ/σᵢ²)⁻¹ with gᵢ the gradient of each angle in p, e.g.
∂az/∂p = (dn, −de, 0)/ρ² = nᵢ/ρᵢ. For azimuth-only rays this is exactly Stansfield's (1947)
fix covariance, whose weights 1/(ρᵢ²σᵢ²) convert a bearing error into a perpendicular miss
distance (Stansfield, J. IEE 94 IIIA; Gavish & Weiss, IEEE T-AES 28(3), 1992).

With azimuths only, height is unobservable; a weak prior (``up_prior_m`` ± ``up_prior_std_m``)
then fixes u and reports its uncertainty. It is not applied when any ray carries an elevation.

Candidates are rejected, with a reason code per row (:class:`Rejection`), when rays are near
parallel (crossing angle below a threshold — the fix is ill conditioned, the error ellipse grows
as 1/sin of the crossing angle), when the intersection lies behind a sensor, when it is outside
the range limits of a sensor, when the bearing residuals fail a χ² test (for two rays with
elevations: the heights implied by the two elevations disagree), or when it lies within
:data:`~luchtwacht.tracking.measurement.MIN_HORIZONTAL_RANGE_M` of a sensor's vertical axis (no
azimuth there; the gradients are floored as the EKF's are, so nothing divides by zero). All rows
are processed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtri

from luchtwacht.tracking.kalman import inv_sym3
from luchtwacht.tracking.measurement import MIN_HORIZONTAL_RANGE_M, wrap_angle

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class Rejection(IntEnum):
    """Why a candidate intersection was rejected (``ACCEPTED`` when it was not)."""

    ACCEPTED = 0
    NEAR_PARALLEL = 1
    BEHIND_SENSOR = 2
    OUT_OF_RANGE = 3
    INCONSISTENT = 4
    ON_SENSOR_AXIS = 5


REJECTION_TEXT: dict[Rejection, str] = {
    Rejection.ACCEPTED: "accepted",
    Rejection.NEAR_PARALLEL: "rays near parallel: crossing angle below threshold",
    Rejection.BEHIND_SENSOR: "intersection lies behind a sensor",
    Rejection.OUT_OF_RANGE: "intersection outside a sensor's range limits",
    Rejection.INCONSISTENT: "bearing residuals fail the chi-square gate (e.g. heights disagree)",
    Rejection.ON_SENSOR_AXIS: "intersection on a sensor's vertical axis: no azimuth there",
}


@dataclass(frozen=True, slots=True)
class Triangulation:
    """Intersections of K candidate ray bundles.

    position (K, 3) site ENU metres; covariance (K, 3, 3); chi2 (K,) the weighted squared bearing
    residuals at the solution with dof (K,) degrees of freedom; crossing_rad (K,) the largest
    horizontal crossing angle between any two rays of the bundle, in [0, π/2]; reason (K,) a
    :class:`Rejection` code. Values of rejected rows are diagnostic only.
    """

    position: F64
    covariance: F64
    chi2: F64
    dof: I64
    crossing_rad: F64
    reason: I64

    @property
    def ok(self) -> NDArray[np.bool_]:
        """Rows whose intersection was accepted."""
        accepted: NDArray[np.bool_] = self.reason == Rejection.ACCEPTED
        return accepted

    def reason_text(self, row: int) -> str:
        """Human-readable reason of one row."""
        return REJECTION_TEXT[Rejection(int(self.reason[row]))]


@dataclass(frozen=True, slots=True)
class TriangulationConfig:
    """Options of :func:`triangulate`.

    min_crossing_deg: reject bundles whose largest horizontal crossing angle is smaller (the
    fix error grows as 1/sin of that angle). min_range_m / max_range_m: slant-range limits
    from every sensor. gate_probability: χ² gate on the bearing residuals when the fix is
    over-determined. up_prior_m ± up_prior_std_m: height prior for bundles without any
    elevation (reported as their height uncertainty). iterations: Gauss–Newton iterations
    (2-4 suffice for well-conditioned geometry).
    """

    min_crossing_deg: float = 5.0
    min_range_m: float = 0.0
    max_range_m: float = float("inf")
    gate_probability: float = 0.997
    up_prior_m: float = 50.0
    up_prior_std_m: float = 200.0
    iterations: int = 10


def _angle_gradients(d: F64) -> tuple[F64, F64, F64, F64]:
    """Azimuth and elevation of line-of-sight vectors d (..., 3) and their gradients (..., 3)."""
    de, dn, du = d[..., 0], d[..., 1], d[..., 2]
    rho2 = np.maximum(de * de + dn * dn, MIN_HORIZONTAL_RANGE_M**2)
    rho = np.sqrt(rho2)
    r2 = rho2 + du * du
    g_az = np.stack([dn / rho2, -de / rho2, np.zeros_like(de)], axis=-1)
    g_el = np.stack([-de * du / (rho * r2), -dn * du / (rho * r2), rho / r2], axis=-1)
    return np.arctan2(de, dn), np.arctan2(du, rho), g_az, g_el


def triangulate(
    sensor_pos: ArrayLike,
    azimuth: ArrayLike,
    azimuth_std: ArrayLike,
    elevation: ArrayLike | None = None,
    elevation_std: ArrayLike = 0.01,
    config: TriangulationConfig | None = None,
) -> Triangulation:
    """Least-squares intersection of K bundles of M bearing rays, with covariance and a verdict.

    Args:
        sensor_pos: sensor ENU positions, (K, M, 3) or (M, 3) shared by all bundles.
        azimuth: (K, M) or (M,) azimuths in radians from north, clockwise.
        azimuth_std: 1σ azimuth errors in radians, broadcastable to (K, M).
        elevation: optional (K, M) or (M,) elevations in radians; NaN marks a ray without one.
        elevation_std: 1σ elevation errors in radians, broadcastable to (K, M).
        config: thresholds, height prior and iteration count (defaults of
            :class:`TriangulationConfig` when omitted).

    Returns:
        A :class:`Triangulation` with K rows (K = 1 for one-dimensional ``azimuth``).
    """
    cfg = TriangulationConfig() if config is None else config
    min_crossing_deg, min_range_m, max_range_m = (
        cfg.min_crossing_deg,
        cfg.min_range_m,
        cfg.max_range_m,
    )
    up_prior_m, up_prior_std_m = cfg.up_prior_m, cfg.up_prior_std_m
    az = np.atleast_2d(np.asarray(azimuth, dtype=float))
    k_rows, m_rays = az.shape
    if m_rays < 2:
        raise ValueError("triangulation needs at least two rays per bundle")
    s = np.broadcast_to(np.asarray(sensor_pos, dtype=float), (k_rows, m_rays, 3))
    sig_az = np.broadcast_to(np.asarray(azimuth_std, dtype=float), (k_rows, m_rays))
    if elevation is None:
        el = np.full((k_rows, m_rays), np.nan)
    else:
        el = np.broadcast_to(np.atleast_2d(np.asarray(elevation, dtype=float)), (k_rows, m_rays))
    sig_el = np.broadcast_to(np.asarray(elevation_std, dtype=float), (k_rows, m_rays))
    has_el = np.isfinite(el)
    el0 = np.where(has_el, el, 0.0)
    use_prior = ~has_el.any(axis=1)  # (K,)

    saz, caz, sel, cel = np.sin(az), np.cos(az), np.sin(el0), np.cos(el0)
    # Largest horizontal crossing angle between any two rays, folded to [0, π/2].
    dh = np.stack([saz, caz], axis=-1)
    cos_pair = np.abs(np.einsum("kia,kja->kij", dh, dh))
    crossing = np.arccos(np.clip(cos_pair, 0.0, 1.0)).max(axis=(1, 2))
    parallel = crossing < np.radians(min_crossing_deg)

    # Linear pseudo-intersection p₀ = (Σ Aᵢ)⁻¹ Σ Aᵢ sᵢ, Aᵢ = nnᵀ (+ mmᵀ).
    n_h = np.stack([caz, -saz, np.zeros_like(az)], axis=-1)
    m_v = np.stack([-sel * saz, -sel * caz, cel], axis=-1)
    a_mat = np.einsum("kmi,kmj->kmij", n_h, n_h) + has_el[..., None, None] * np.einsum(
        "kmi,kmj->kmij", m_v, m_v
    )
    a_sum = a_mat.sum(axis=1)
    b_sum = np.einsum("kmij,kmj->ki", a_mat, s)
    a_sum[:, 2, 2] += use_prior
    b_sum[:, 2] += use_prior * up_prior_m

    w_az = 1.0 / sig_az**2
    w_el = np.where(has_el, 1.0 / sig_el**2, 0.0)
    w_up = np.where(use_prior, 1.0 / up_prior_std_m**2, 0.0)

    with np.errstate(all="ignore"):
        a_inv, _ = inv_sym3(a_sum)
        p = np.einsum("kij,kj->ki", a_inv, b_sum)
        along = np.einsum("kma,kma->km", (p[:, None, :] - s)[..., :2], dh)
        behind = (along <= 0.0).any(axis=1)
        active = ~(parallel | behind | ~np.isfinite(p).all(axis=1))

        def normal_equations(pos: F64) -> tuple[F64, F64, F64, F64]:
            d = pos[:, None, :] - s
            az_hat, el_hat, g_az, g_el = _angle_gradients(d)
            res_az = wrap_angle(az - az_hat)
            res_el = np.where(has_el, el0 - el_hat, 0.0)
            info = np.einsum("km,kmi,kmj->kij", w_az, g_az, g_az) + np.einsum(
                "km,kmi,kmj->kij", w_el, g_el, g_el
            )
            info[:, 2, 2] += w_up
            res_up = up_prior_m - pos[:, 2]
            grad = np.einsum("km,kmi,km->ki", w_az, g_az, res_az) + np.einsum(
                "km,kmi,km->ki", w_el, g_el, res_el
            )
            grad[:, 2] += w_up * res_up
            chi2 = (w_az * res_az**2 + w_el * res_el**2).sum(axis=1) + w_up * res_up**2
            cov, _ = inv_sym3(info)
            return cov, grad, chi2, d

        for _ in range(cfg.iterations):
            cov, grad, _, _ = normal_equations(p)
            step = np.einsum("kij,kj->ki", cov, grad)
            step[~active] = 0.0
            p = p + step
            if not np.any(np.abs(step) > 1e-6):
                break
        cov, _, chi2, d = normal_equations(p)

        along = np.einsum("kma,kma->km", d[..., :2], dh)
        behind |= (along <= 0.0).any(axis=1)
        slant = np.linalg.norm(d, axis=-1)
        out_of_range = ((slant < min_range_m) | (slant > max_range_m)).any(axis=1)
        on_axis = (np.hypot(d[..., 0], d[..., 1]) < MIN_HORIZONTAL_RANGE_M).any(axis=1)
    dof = (m_rays + has_el.sum(axis=1) + use_prior - 3).astype(np.int64)
    gate = np.where(dof > 0, chdtri(np.maximum(dof, 1), 1.0 - cfg.gate_probability), np.inf)
    inconsistent = ~(chi2 <= gate)

    reason = np.full(k_rows, int(Rejection.ACCEPTED), dtype=np.int64)
    # Later assignments take precedence: the most fundamental failure is reported.
    reason[inconsistent] = Rejection.INCONSISTENT
    reason[out_of_range] = Rejection.OUT_OF_RANGE
    reason[on_axis] = Rejection.ON_SENSOR_AXIS
    reason[behind] = Rejection.BEHIND_SENSOR
    reason[parallel] = Rejection.NEAR_PARALLEL
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    return Triangulation(p, cov, chi2, dof, crossing, reason)


def triangulate_one(
    sensor_pos: ArrayLike,
    azimuth: ArrayLike,
    azimuth_std: ArrayLike,
    elevation: ArrayLike | None = None,
    elevation_std: ArrayLike = 0.01,
    config: TriangulationConfig | None = None,
) -> tuple[F64, F64, Rejection]:
    """One bundle of M rays (sensor_pos (M, 3), azimuth (M,)): position (3,), covariance, verdict.

    Same maths and options as :func:`triangulate`.
    """
    res = triangulate(sensor_pos, azimuth, azimuth_std, elevation, elevation_std, config)
    return res.position[0], res.covariance[0], Rejection(int(res.reason[0]))


@dataclass(frozen=True, slots=True)
class BearingPairs:
    """All n×m candidate intersections of two sensors' bearings, row r = (index_a[r], index_b[r]).

    ``result`` holds the n·m triangulations; ``result.ok`` marks the candidates that survive the
    geometry, range and (with elevations) height-consistency tests. Ghosts of azimuth-only pairs
    inside the range limits cannot be told from real targets by two sensors alone.
    """

    index_a: I64
    index_b: I64
    result: Triangulation

    def accepted(self) -> tuple[I64, I64, F64, F64]:
        """Indices into a and b, positions (k, 3) and covariances (k, 3, 3) of accepted rows."""
        ok = self.result.ok
        return (
            self.index_a[ok],
            self.index_b[ok],
            self.result.position[ok],
            self.result.covariance[ok],
        )


def pair_bearings(
    sensor_a: ArrayLike,
    azimuth_a: ArrayLike,
    sensor_b: ArrayLike,
    azimuth_b: ArrayLike,
    azimuth_std_a: ArrayLike,
    azimuth_std_b: ArrayLike,
    elevation_a: ArrayLike | None = None,
    elevation_b: ArrayLike | None = None,
    elevation_std_a: ArrayLike = 0.01,
    elevation_std_b: ArrayLike = 0.01,
    config: TriangulationConfig | None = None,
) -> BearingPairs:
    """Intersect every bearing of sensor a (n,) with every bearing of sensor b (m,) at once.

    Builds K = n·m two-ray bundles (row-major in a, then b) and calls :func:`triangulate`; the
    range limits and, when both sensors give elevations, the χ² gate (one degree of freedom: the
    two implied heights must agree) prune the n·m candidates. Standard deviations are scalars or
    per-bearing arrays; elevations may contain NaN. ``config`` as in :func:`triangulate`.
    """
    az_a = np.atleast_1d(np.asarray(azimuth_a, dtype=float))
    az_b = np.atleast_1d(np.asarray(azimuth_b, dtype=float))
    n, m = az_a.shape[0], az_b.shape[0]
    ia: I64 = np.repeat(np.arange(n, dtype=np.int64), m)  # row-major: a varies slowest
    ib: I64 = np.tile(np.arange(m, dtype=np.int64), n)

    def column(values: ArrayLike, size: int, index: I64) -> F64:
        out: F64 = np.broadcast_to(np.asarray(values, dtype=float), (size,))[index]
        return out

    sensors = np.stack(
        [
            np.broadcast_to(np.asarray(sensor_a, dtype=float), (ia.size, 3)),
            np.broadcast_to(np.asarray(sensor_b, dtype=float), (ia.size, 3)),
        ],
        axis=1,
    )
    az = np.stack([az_a[ia], az_b[ib]], axis=1)
    sig_az = np.stack([column(azimuth_std_a, n, ia), column(azimuth_std_b, m, ib)], axis=1)
    if elevation_a is None and elevation_b is None:
        el: F64 | None = None
    else:
        el_a = np.nan if elevation_a is None else elevation_a
        el_b = np.nan if elevation_b is None else elevation_b
        el = np.stack([column(el_a, n, ia), column(el_b, m, ib)], axis=1)
    sig_el = np.stack([column(elevation_std_a, n, ia), column(elevation_std_b, m, ib)], axis=1)
    res = triangulate(sensors, az, sig_az, el, sig_el, config)
    return BearingPairs(ia, ib, res)
