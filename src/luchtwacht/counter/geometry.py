"""Engagement geometry for the countermeasure recommender, vectorised over tracks × effectors.

The recommender has to judge, for N tracks and M effectors at once, whether an effector can act on
a drone before it breaches a protected zone, and whether acting is safe. Everything is in the local
ENU frame of the site (metres east/north/up), times in seconds from now, and targets are
extrapolated at constant velocity. Closed forms (quadratics) are used instead of time sampling so
the answers are exact and cheap for every pair.

- :func:`time_into_reach` — when a track comes within range of a fixed effector (jammer, spoofer,
  dazzler): the earliest moment it can be engaged at all.
- :func:`intercept_time` — when a pursuer (interceptor drone, net launcher) launched after a delay
  can first reach the track: the earliest moment a kinetic engagement can complete.
- :func:`in_sector` / :func:`azimuth_deg` — whether points lie in an effector's coverage sector
  (directional antennas, restricted arcs of fire); azimuths clockwise from north.
- :func:`debris_footprint` — where a disabled drone comes down and how much ground must be clear,
  so the operator is not offered an engagement that drops a drone onto people.
- :func:`segment_clearance` — how far points (friendly tracks, manned aircraft) are from each line
  of fire site → target, for "friendly in the line of fire" checks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

FRAGMENT_SPREAD_FRACTION = 0.25
"""Fragment spread as a fraction of the horizontal drift during the fall (engineering allowance)."""
FRAGMENT_SPREAD_MIN_M = 5.0
"""Minimum clear radius around the predicted impact point (engineering allowance)."""


def _rows(a: F64, name: str) -> F64:
    """``a`` as a float64 array of shape (K, 3); raises ``ValueError`` otherwise."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (K, 3), got {arr.shape}")
    return arr


def _per_row(a: F64, m: int, name: str) -> F64:
    """``a`` as a float64 array of shape (m,); raises ``ValueError`` otherwise."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},), got {arr.shape}")
    return arr


def _earliest_nonneg_root(a: F64, b: F64, c: F64) -> F64:
    """Earliest u ≥ 0 with a·u² + b·u + c ≤ 0, given c ≥ 0 elementwise; NaN where none.

    With c > 0 the quadratic is positive at u = 0, so the answer is its smallest non-negative root.
    For b ≤ 0 that root is 2c / (−b + √D) (D = b² − 4ac), which is also the linear solution −c/b
    when a = 0 and needs no division by a, so it stays accurate as a → 0. For b > 0 a non-negative
    root exists only when a < 0 (one positive, one negative root); it is (−b − √D) / (2a), written
    that way to avoid cancellation. c = 0 gives 0.
    """
    disc = b * b - 4.0 * a * c
    out = np.full(np.broadcast(a, b, c).shape, np.nan)
    with np.errstate(all="ignore"):  # inf/NaN from the unused branch are masked out below
        sq = np.sqrt(np.maximum(disc, 0.0))
        real = disc >= 0.0
        den = -b + sq
        falling = real & (b <= 0.0) & (den > 0.0)
        out = np.where(falling, 2.0 * c / den, out)
        rising = real & (b > 0.0) & (a < 0.0)
        out = np.where(rising, (-b - sq) / (2.0 * a), out)
    out = np.where(c <= 0.0, 0.0, out)
    out[~(out >= 0.0)] = np.nan  # also drops NaN/inf coefficients
    return np.asarray(out, dtype=np.float64)


def time_into_reach(pos: F64, vel: F64, site: F64, max_range_m: F64, horizon_s: float) -> F64:
    """Earliest time each track comes within range of each site, (N, M).

    Solves |pos + vel·t − site|² = R² for the first t in [0, ``horizon_s``]: 0 if the track is
    already within ``max_range_m`` (inclusive), NaN if it does not come within range by the
    horizon (moving away, passing wide, stationary outside, or arriving too late). A pass that
    only grazes the range sphere counts as reaching it.

    Args:
        pos: track positions (N, 3), ENU metres.
        vel: track velocities (N, 3), m/s.
        site: effector positions (M, 3), ENU metres.
        max_range_m: effector slant ranges (M,), metres (≥ 0).
        horizon_s: look-ahead, seconds.
    """
    p, v, s = _rows(pos, "pos"), _rows(vel, "vel"), _rows(site, "site")
    if v.shape != p.shape:
        raise ValueError(f"vel shape {v.shape} must match pos shape {p.shape}")
    r = _per_row(max_range_m, s.shape[0], "max_range_m")
    d = p[:, None, :] - s[None, :, :]  # (N, M, 3)
    vv = v[:, None, :]
    a = np.broadcast_to(np.einsum("nmc,nmc->nm", vv, vv), d.shape[:2])
    b = 2.0 * np.einsum("nmc,nmc->nm", d, vv)
    c = np.einsum("nmc,nmc->nm", d, d) - (r * r)[None, :]
    t = _earliest_nonneg_root(a, b, c)
    t[~(t <= horizon_s)] = np.nan
    return t


def intercept_time(
    pos: F64, vel: F64, base: F64, speed_ms: F64, delay_s: F64, horizon_s: float
) -> F64:
    """Earliest time each pursuer can reach each track, (N, M).

    A pursuer leaves ``base`` at ``delay_s`` and flies a straight line at constant ``speed_ms``;
    it can be anywhere within s·(t − τ) of its base at time t. The answer is the earliest t with
    τ ≤ t ≤ ``horizon_s`` and |pos + vel·t − base| ≤ s·(t − τ); equality holds there. Substituting
    u = t − τ and e = pos + vel·τ − base (the target relative to the base at launch) gives
    (|v|² − s²)·u² + 2(e·v)·u + |e|² ≤ 0 for u ≥ 0, which discards the spurious root before the
    launch and handles equal speeds (the linear case) without dividing by |v|² − s². NaN if there
    is no such t (target too fast and not closing, or too late) and always for a pursuer with
    zero (or negative) speed. ``delay_s`` is expected ≥ 0.

    Args:
        pos: track positions (N, 3), ENU metres.
        vel: track velocities (N, 3), m/s.
        base: pursuer launch points (M, 3), ENU metres.
        speed_ms: pursuer speeds (M,), m/s.
        delay_s: launch delays from now (M,), seconds.
        horizon_s: look-ahead, seconds.
    """
    p, v, bs = _rows(pos, "pos"), _rows(vel, "vel"), _rows(base, "base")
    if v.shape != p.shape:
        raise ValueError(f"vel shape {v.shape} must match pos shape {p.shape}")
    m = bs.shape[0]
    spd = _per_row(speed_ms, m, "speed_ms")
    tau = _per_row(delay_s, m, "delay_s")
    vv = v[:, None, :]  # (N, 1, 3)
    e = p[:, None, :] + vv * tau[None, :, None] - bs[None, :, :]  # (N, M, 3)
    a = np.einsum("nmc,nmc->nm", vv, vv) - (spd * spd)[None, :]
    b = 2.0 * np.einsum("nmc,nmc->nm", e, vv)
    c = np.einsum("nmc,nmc->nm", e, e)
    t = _earliest_nonneg_root(a, b, c) + tau[None, :]
    t[~(t <= horizon_s) | ~(spd > 0.0)[None, :]] = np.nan
    return t


def azimuth_deg(points: F64, site: F64) -> F64:
    """Azimuth from each site to each point, (K, M), degrees clockwise from north in [0, 360).

    A point straight above or below a site (no horizontal offset) gets azimuth 0.
    """
    q, s = _rows(points, "points"), _rows(site, "site")
    east = q[:, None, 0] - s[None, :, 0]
    north = q[:, None, 1] - s[None, :, 1]
    az = np.mod(np.degrees(np.arctan2(east, north)), 360.0)
    # mod of a tiny negative angle rounds up to exactly 360.0
    return np.asarray(np.where(az >= 360.0, 0.0, az), dtype=np.float64)


def in_sector(
    points: F64,
    site: F64,
    boresight_az_deg: F64,
    beamwidth_deg: F64,
    max_range_m: F64,
    min_range_m: F64,
) -> NDArray[np.bool_]:
    """Which points lie in each effector's coverage sector, (K, M).

    A point is covered when its slant range from the site is within [``min_range_m``,
    ``max_range_m``] and its azimuth (see :func:`azimuth_deg`) is within ±beamwidth/2 of the
    boresight, both inclusive, with the difference wrapped to [−180°, 180°) so sectors across north
    work. A beamwidth of 360° or more is omnidirectional. Elevation is not limited.

    Args:
        points: positions (K, 3), ENU metres.
        site: effector positions (M, 3), ENU metres.
        boresight_az_deg: sector centre azimuths (M,), degrees clockwise from north.
        beamwidth_deg: full sector widths (M,), degrees.
        max_range_m: maximum slant ranges (M,), metres.
        min_range_m: minimum slant ranges (M,), metres.
    """
    q, s = _rows(points, "points"), _rows(site, "site")
    m = s.shape[0]
    bore = _per_row(boresight_az_deg, m, "boresight_az_deg")
    width = _per_row(beamwidth_deg, m, "beamwidth_deg")
    rmax = _per_row(max_range_m, m, "max_range_m")
    rmin = _per_row(min_range_m, m, "min_range_m")
    rng = np.linalg.norm(q[:, None, :] - s[None, :, :], axis=-1)  # (K, M)
    off = np.mod(azimuth_deg(q, s) - bore[None, :] + 180.0, 360.0) - 180.0
    in_az = (np.abs(off) <= width[None, :] / 2.0) | (width >= 360.0)[None, :]
    in_rng = (rng >= rmin[None, :]) & (rng <= rmax[None, :])
    return np.asarray(in_az & in_rng, dtype=np.bool_)


def debris_footprint(
    pos: F64, vel: F64, terminal_ms: float = 15.0, g: float = 9.81
) -> tuple[F64, F64]:
    """Where each disabled drone comes down and the radius of ground to keep clear.

    Fall model: the drone drops from height h = max(pos_z, 0) starting with no vertical speed,
    accelerates at g until it reaches the terminal speed v_T, then falls at v_T::

        h ≤ v_T² / (2g):  T = √(2h / g)
        h > v_T² / (2g):  T = v_T / g + (h − v_T² / (2g)) / v_T = h / v_T + v_T / (2g)

    Its horizontal velocity is carried for the whole fall (no horizontal drag), which overstates
    the drift — the conservative side for a keep-clear area. The vertical velocity at the moment
    it is disabled is ignored.

    Returns:
        centre (N, 2): horizontal impact point, east/north metres = pos_xy + vel_xy·T.
        radius (N,): 0.25·|vel_xy|·T + 5 m — an engineering allowance for fragment spread and
        model error, not a physical result.

    Raises:
        ValueError: if ``terminal_ms`` or ``g`` is not positive.
    """
    if not terminal_ms > 0.0 or not g > 0.0:
        raise ValueError(f"terminal_ms and g must be positive, got {terminal_ms}, {g}")
    p, v = _rows(pos, "pos"), _rows(vel, "vel")
    if v.shape != p.shape:
        raise ValueError(f"vel shape {v.shape} must match pos shape {p.shape}")
    h = np.maximum(p[:, 2], 0.0)
    h_terminal = terminal_ms * terminal_ms / (2.0 * g)
    fall_s = np.where(
        h <= h_terminal,
        np.sqrt(2.0 * h / g),
        h / terminal_ms + terminal_ms / (2.0 * g),
    )
    v_xy = v[:, :2]
    centre = p[:, :2] + v_xy * fall_s[:, None]
    radius = (
        FRAGMENT_SPREAD_FRACTION * np.linalg.norm(v_xy, axis=1) * fall_s + FRAGMENT_SPREAD_MIN_M
    )
    return np.asarray(centre, dtype=np.float64), np.asarray(radius, dtype=np.float64)


def segment_clearance(site: F64, target: F64, points: F64) -> F64:
    """Distance of each point from each line of fire, (N, M, K).

    The line of fire of effector m at track n is the segment site[m] → target[n]; the point's
    projection onto it is clamped to the segment, so points behind the site or beyond the target
    get their distance to that end. A zero-length segment gives the distance to the site.

    Args:
        site: effector positions (M, 3), ENU metres.
        target: track positions (N, 3), ENU metres.
        points: positions to check, e.g. friendly tracks (K, 3), ENU metres.
    """
    s, tg, q = _rows(site, "site"), _rows(target, "target"), _rows(points, "points")
    seg = tg[:, None, :] - s[None, :, :]  # (N, M, 3)
    w = q[None, :, :] - s[:, None, :]  # (M, K, 3)
    seg_len2 = np.einsum("nmc,nmc->nm", seg, seg)
    proj = np.einsum("mkc,nmc->nmk", w, seg)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(seg_len2[:, :, None] > 0.0, proj / seg_len2[:, :, None], 0.0)
    frac = np.clip(frac, 0.0, 1.0)
    # |w − f·seg|² = |w|² − 2 f (w·seg) + f² |seg|², without an (N, M, K, 3) temporary.
    w2 = np.einsum("mkc,mkc->mk", w, w)[None, :, :]
    d2 = w2 - 2.0 * frac * proj + frac * frac * seg_len2[:, :, None]
    return np.asarray(np.sqrt(np.maximum(d2, 0.0)), dtype=np.float64)
