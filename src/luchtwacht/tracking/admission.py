"""Admission of sensor batches to the tracker: which rows are fit to touch the track table.

Whoever controls one input must not be able to blind the tracker: a NaN, a zero covariance or a
plot a light-hour away would otherwise stop a scan with an exception or leave tracks whose state
is not a number. :class:`~luchtwacht.tracking.tracker.Tracker` therefore runs every batch through
these checks before anything else. Rows that fail are dropped and counted by :class:`Refusal`
(one bad plot must not cost the good plots of the same scan); a batch with no usable time or
sensor position, or whose every row fails, is refused whole and changes nothing.

A detection row (:class:`~luchtwacht.model.detection.DetectionBatch`) is admitted when

* its time is finite;
* its ENU position is finite, each axis within :data:`MAX_SITE_RANGE_M` of the site origin;
* its covariance R is finite, symmetric and positive definite (:func:`covariance_fit`), with
  every variance in [:data:`MIN_VARIANCE`, :data:`MAX_VARIANCE`];
* its class log-likelihoods are finite;
* for a radar's own measurement: (az, el, r[, ṙ]) finite, el in [−π/2, π/2] and r in
  [0, :data:`MAX_SITE_RANGE_M`], with a covariance fit as R is.

A bearing row (:class:`~luchtwacht.model.detection.BearingBatch`) is admitted when its azimuth
is finite with a standard deviation whose square is in [:data:`MIN_VARIANCE`,
:data:`MAX_VARIANCE`], its elevation is NaN (none) or finite in [−π/2, π/2] with a standard
deviation like the azimuth's, and its class log-likelihoods are finite.

The checks are one compiled pass over the rows (a few µs for a thousand plots).
"""

from __future__ import annotations

import dataclasses
import math
from enum import StrEnum
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.tracking.kernels import F64, I64, _jit

MAX_SITE_RANGE_M = 2.0e6
"""Largest |east|, |north|, |up| (m) of a position the tracker takes, and largest radar range.

2000 km: beyond anything a site's sensors report (a Mode S receiver's reach is 300 NM ≈ 556 km),
and far enough below overflow that squares and sums of positions stay exact enough."""

MAX_VARIANCE = MAX_SITE_RANGE_M**2
"""Largest variance (m², rad², (m/s)²) of a measurement: a σ beyond the site frame says nothing."""

MIN_VARIANCE = 1e-12
"""Smallest variance (m², rad², (m/s)²) of a measurement: σ = 1 µm or 1 µrad, finer than any
sensor; smaller ones would let the determinants of the innovation covariances underflow."""

PD_RTOL = 1e-12
"""Positive definiteness, relative: in the Cholesky factorisation of a covariance, the variance
each component keeps given the ones before it must exceed this fraction of its own variance (a
correlation within about 5·10⁻¹³ of ±1 is singular for every purpose of the tracker)."""

B = TypeVar("B", DetectionBatch, BearingBatch)
T = TypeVar("T")

_SYM_RTOL = 1e-9  # |C_ij − C_ji| ≤ this × √(C_ii C_jj): round-off of J C Jᵀ passes, a typo not


class Refusal(StrEnum):
    """Why a row, or a whole batch, was not admitted; the value is its counter key."""

    TIME = "time"
    """The row's time (a batch's time, for a batch) is not finite."""
    POSITION = "position"
    """The ENU position is not finite or lies beyond :data:`MAX_SITE_RANGE_M`."""
    COVARIANCE = "covariance"
    """R is not finite, not symmetric positive definite, or a variance is out of range."""
    POLAR = "polar"
    """A radar's (az, el, r[, ṙ]) is not finite, or el or r is out of its domain."""
    POLAR_COVARIANCE = "polar_covariance"
    """The covariance of a radar's (az, el, r[, ṙ]) is unfit as R would be."""
    CLASS_EVIDENCE = "class_loglik"
    """A class log-likelihood is NaN or infinite."""
    AZIMUTH = "azimuth"
    """A bearing's azimuth or its standard deviation is unusable."""
    ELEVATION = "elevation"
    """A bearing's elevation is infinite or beyond ±π/2, or its standard deviation is unusable."""
    SENSOR_POSITION = "sensor_position"
    """Batch: the sensor's ENU position, which the measurement needs, is unusable."""
    NO_ROWS = "no_rows"
    """Batch: it held rows, and every one of them was refused."""


# Row fault codes of the compiled checks: 0 admitted, k > 0 the refusal _ROW_REFUSALS[k].
_ROW_REFUSALS = (
    None,
    Refusal.TIME,
    Refusal.POSITION,
    Refusal.COVARIANCE,
    Refusal.POLAR,
    Refusal.POLAR_COVARIANCE,
    Refusal.CLASS_EVIDENCE,
    Refusal.AZIMUTH,
    Refusal.ELEVATION,
)
_TIME, _POSITION, _COVARIANCE, _POLAR, _POLAR_COVARIANCE, _CLASS = 1, 2, 3, 4, 5, 6
_AZIMUTH, _ELEVATION = 7, 8
_HALF_PI = 0.5 * math.pi


@_jit
def _variance_fit(r: F64, i: int, a: int) -> bool:
    return bool(MIN_VARIANCE <= r[i, a, a] <= MAX_VARIANCE)  # NaN fails too


@_jit
def _symmetric(r: F64, i: int, a: int, b: int) -> bool:
    u = r[i, a, b] - r[i, b, a]
    return bool(u * u <= _SYM_RTOL**2 * (r[i, a, a] * r[i, b, b]))  # NaN, inf fail too


@_jit
def covariance_fit(r: F64, i: int) -> bool:
    """Whether covariance ``r[i]`` (m×m, m = 3 or 4) is finite, symmetric, positive definite.

    Every variance must lie in [:data:`MIN_VARIANCE`, :data:`MAX_VARIANCE`] and each pivot of
    the Cholesky factorisation (the variance of a component given the ones before it) exceed
    :data:`PD_RTOL` of the component's variance. The pivots are ratios of leading principal
    minors, Dⱼ = Mⱼ / Mⱼ₋₁ (Sylvester), so the test runs on the minors without a division.
    """
    m = r.shape[1]
    ok = _variance_fit(r, i, 0) & _variance_fit(r, i, 1) & _variance_fit(r, i, 2)
    ok &= _symmetric(r, i, 1, 0) & _symmetric(r, i, 2, 0) & _symmetric(r, i, 2, 1)
    if m == 4:
        ok &= _variance_fit(r, i, 3)
        ok &= _symmetric(r, i, 3, 0) & _symmetric(r, i, 3, 1) & _symmetric(r, i, 3, 2)
    if not ok:
        return False
    a, d, f = r[i, 0, 0], r[i, 1, 1], r[i, 2, 2]
    b, c, e = r[i, 0, 1], r[i, 0, 2], r[i, 1, 2]
    c00, c01, c02 = d * f - e * e, c * e - b * f, b * e - c * d  # cofactors of the 3×3
    m2 = a * d - b * b
    m3 = a * c00 + b * c01 + c * c02
    if not (m2 > PD_RTOL * d * a and m3 > PD_RTOL * f * m2):
        return False
    if m == 3:
        return True
    g, h, k, w = r[i, 0, 3], r[i, 1, 3], r[i, 2, 3], r[i, 3, 3]
    c11, c12, c22 = a * f - c * c, b * c - a * e, m2
    # M₄ = w·M₃ − vᵀ adj(S₃) v with v = (g, h, k): the bordered determinant
    q = (
        g * (c00 * g + c01 * h + c02 * k)
        + h * (c01 * g + c11 * h + c12 * k)
        + k * (c02 * g + c12 * h + c22 * k)
    )
    return bool(w * m3 - q > PD_RTOL * w * m3)


@_jit
def _finite_row(a: F64, i: int) -> bool:
    bad = False  # v − v is 0 for a finite v, NaN otherwise
    for k in range(a.shape[1]):
        bad |= (a[i, k] - a[i, k]) != 0.0
    return not bad


@_jit
def detection_faults(t: F64, z: F64, r: F64, class_loglik: F64) -> I64:
    """Fault code of every detection row: 0 admitted, else the first check it fails."""
    n = z.shape[0]
    out = np.zeros(n, np.int64)
    for i in range(n):
        if not math.isfinite(t[i]):
            out[i] = _TIME
            continue
        for k in range(3):
            if not abs(z[i, k]) <= MAX_SITE_RANGE_M:  # NaN fails too
                out[i] = _POSITION
                break
        if out[i] != 0:
            continue
        if not covariance_fit(r, i):
            out[i] = _COVARIANCE
        elif not _finite_row(class_loglik, i):
            out[i] = _CLASS
    return out


@_jit
def polar_faults(polar: F64, polar_cov: F64, out: I64) -> None:
    """Add the faults of a radar's own measurement to rows ``out`` still admitted, in place."""
    for i in range(polar.shape[0]):
        if out[i] != 0:
            continue
        el, rng = polar[i, 1], polar[i, 2]
        if not (_finite_row(polar, i) and abs(el) <= _HALF_PI and 0.0 <= rng <= MAX_SITE_RANGE_M):
            out[i] = _POLAR
        elif not covariance_fit(polar_cov, i):
            out[i] = _POLAR_COVARIANCE


@_jit
def bearing_faults(az: F64, az_std: F64, el: F64, el_std: F64, class_loglik: F64) -> I64:
    """Fault code of every bearing row: 0 admitted, else the first check it fails."""
    n = az.size
    out = np.zeros(n, np.int64)
    for i in range(n):
        v = az_std[i] * az_std[i]
        if not (math.isfinite(az[i]) and MIN_VARIANCE <= v <= MAX_VARIANCE):
            out[i] = _AZIMUTH
            continue
        if not math.isnan(el[i]):
            w = el_std[i] * el_std[i]
            if not (abs(el[i]) <= _HALF_PI and MIN_VARIANCE <= w <= MAX_VARIANCE):
                out[i] = _ELEVATION
                continue
        if not _finite_row(class_loglik, i):
            out[i] = _CLASS
    return out


def _sensor_fit(sensor_enu_m: NDArray[np.float64] | None) -> bool:
    return sensor_enu_m is not None and bool(
        np.all(np.abs(sensor_enu_m) <= MAX_SITE_RANGE_M)  # NaN fails too
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Admitted(Generic[B]):
    """A batch after admission: the rows kept, what was refused and why.

    ``batch`` is the input itself when every row passed, a copy holding only the admitted rows
    when some did not, and None when the batch is refused whole (``batch_refusal`` says why).
    ``rows_refused`` holds the reason of every row not admitted (all of them for a batch refused
    whole), in row order.
    """

    batch: B | None
    rows_refused: tuple[Refusal, ...]
    batch_refusal: Refusal | None


def _refusals(codes: I64) -> tuple[Refusal, ...]:
    bad = codes[codes != 0]
    return tuple(r for r in (_ROW_REFUSALS[int(c)] for c in bad.tolist()) if r is not None)


def admit_detections(batch: DetectionBatch) -> Admitted[DetectionBatch]:
    """The rows of a detection batch fit for the tracker (see the module docstring)."""
    n = len(batch)
    if n == 0:
        ok = math.isfinite(batch.scan_t_s)
        return Admitted(batch if ok else None, (), None if ok else Refusal.TIME)
    codes = detection_faults(
        np.asarray(batch.t_s, np.float64), np.asarray(batch.z, np.float64),
        np.asarray(batch.R, np.float64), np.asarray(batch.class_loglik, np.float64),
    )  # fmt: skip
    if batch.polar is not None:
        if not _sensor_fit(batch.sensor_enu_m):
            return Admitted(None, (Refusal.SENSOR_POSITION,) * n, Refusal.SENSOR_POSITION)
        assert batch.polar_cov is not None
        polar_faults(
            np.asarray(batch.polar, np.float64), np.asarray(batch.polar_cov, np.float64), codes
        )
    if not codes.any():
        return Admitted(batch, (), None)
    refused = _refusals(codes)
    keep = codes == 0
    if not keep.any():
        return Admitted(None, refused, Refusal.NO_ROWS)
    return Admitted(detection_rows(batch, np.flatnonzero(keep)), refused, None)


def admit_bearings(batch: BearingBatch) -> Admitted[BearingBatch]:
    """The rows of a bearing batch fit for the tracker (see the module docstring)."""
    n = len(batch)
    if not math.isfinite(batch.t_s):
        return Admitted(None, (Refusal.TIME,) * n, Refusal.TIME)
    if not _sensor_fit(batch.sensor_enu_m):
        return Admitted(None, (Refusal.SENSOR_POSITION,) * n, Refusal.SENSOR_POSITION)
    if n == 0:
        return Admitted(batch, (), None)
    codes = bearing_faults(
        np.asarray(batch.azimuth_rad, np.float64), np.asarray(batch.azimuth_std_rad, np.float64),
        np.asarray(batch.elevation_rad, np.float64),
        np.asarray(batch.elevation_std_rad, np.float64),
        np.asarray(batch.class_loglik, np.float64),
    )  # fmt: skip
    if not codes.any():
        return Admitted(batch, (), None)
    refused = _refusals(codes)
    keep = codes == 0
    if not keep.any():
        return Admitted(None, refused, Refusal.NO_ROWS)
    return Admitted(bearing_rows(batch, np.flatnonzero(keep)), refused, None)


def _per_row(values: tuple[T, ...], n: int, rows: I64) -> tuple[T, ...]:
    """A per-detection tuple cut to ``rows``; an empty (or not per-row) tuple stays as it is."""
    if len(values) != n:
        return values
    return tuple(values[i] for i in rows.tolist())


def detection_rows(batch: DetectionBatch, rows: I64) -> DetectionBatch:
    """The batch cut to detections ``rows`` (every per-detection field with them)."""
    n = len(batch)
    return dataclasses.replace(
        batch,
        t_s=batch.t_s[rows],
        z=batch.z[rows],
        R=batch.R[rows],
        class_loglik=batch.class_loglik[rows],
        ident=_per_row(batch.ident, n, rows),
        extra=_per_row(batch.extra, n, rows),
        emitter=_per_row(batch.emitter, n, rows),
        polar=None if batch.polar is None else batch.polar[rows],
        polar_cov=None if batch.polar_cov is None else batch.polar_cov[rows],
    )


def bearing_rows(batch: BearingBatch, rows: I64) -> BearingBatch:
    """The batch cut to bearings ``rows`` (every per-bearing field with them)."""
    n = len(batch)
    return dataclasses.replace(
        batch,
        azimuth_rad=batch.azimuth_rad[rows],
        azimuth_std_rad=batch.azimuth_std_rad[rows],
        elevation_rad=batch.elevation_rad[rows],
        elevation_std_rad=batch.elevation_std_rad[rows],
        class_loglik=batch.class_loglik[rows],
        ident=_per_row(batch.ident, n, rows),
        emitter=_per_row(batch.emitter, n, rows),
    )


@_jit
def _nonfinite_rows(x: F64, p: F64, score: F64, xm: F64, pm: F64, mu: F64) -> I64:
    n = x.shape[0]
    out = np.empty(n, np.int64)
    n_bad = 0
    for i in range(n):
        bad = (score[i] - score[i]) != 0.0  # v − v is 0 for a finite v, NaN otherwise
        for a in (x, p, xm, pm, mu):
            for k in range(a.shape[1]):
                bad |= (a[i, k] - a[i, k]) != 0.0  # no branch: the loop vectorises
        if bad:
            out[n_bad] = i
            n_bad += 1
    return out[:n_bad]


def nonfinite_tracks(x: F64, p: F64, score: F64, xm: F64, pm: F64, mu: F64) -> I64:
    """Rows of a track table with any non-finite entry in its state, covariance or score.

    x (N, 6), p (N, 6, 6), score (N,), and the IMM's per-model xm (N, M, 9), pm (N, M, 9, 9)
    and mu (N, M) (M = 0 without an IMM): one compiled pass over every entry (memory-bound:
    about 15 µs for a thousand NCV tracks, 70 µs with a three-model IMM).
    """
    rows: I64 = _nonfinite_rows(
        _flat(x), _flat(p), np.ascontiguousarray(score), _flat(xm), _flat(pm), _flat(mu)
    )
    return rows


def _flat(a: F64) -> F64:
    """Each row of ``a`` as one contiguous run (no copy for the track table's own arrays)."""
    return np.ascontiguousarray(a).reshape(a.shape[0], math.prod(a.shape[1:]))


def warm_up() -> None:
    """Compile (or load from the cache) the checks now, not inside the first timed scan."""
    n = 2
    z, r = np.zeros((n, 3)), np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    codes = detection_faults(np.zeros(n), z, r, np.zeros((n, 4)))
    polar_faults(z, r, codes)
    bearing_faults(np.zeros(n), np.ones(n), np.zeros(n), np.ones(n), np.zeros((n, 4)))
    for m in (0, 3):
        nonfinite_tracks(
            np.zeros((n, 6)), np.zeros((n, 6, 6)), np.zeros(n), np.zeros((n, m, 9)),
            np.zeros((n, m, 9, 9)), np.zeros((n, m)),
        )  # fmt: skip
