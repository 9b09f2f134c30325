"""Per-track motion features accumulated over each track's history, for every track at once.

The classifier needs more than the track's present speed and height: how the track has moved.
Drones hover, hold their height and speed and fly straight legs; birds weave, flap (their speed
and heading wander) and fly in flocks; manned aircraft are fast and steady. :class:`TrackFeatures`
keeps, per track id, exponentially weighted moments of the tracker's own state estimate (only
what the sensors reported, through the filter: never truth), updated whenever the filter moved
on, and realigned to the tracker's rows each cycle (rows come and go as tracks are born and
deleted; the store holds exactly the live tracks, so it is bounded by the tracker's size).

Weighting: an exponential moving average with time constant τ, α = 1 − exp(−Δt/τ) per update
(irregular update times); the velocity scatter is E|v|² − |E v|² over that window, the
straightness |E v| / E|v| (1 on a straight leg, 0 on a closed circle). Flocking is counted on
the present picture: neighbours within :data:`FLOCK_RADIUS_M` moving alike (velocity difference
below 4 m/s or 40 % of the speed), found with a k-d tree (Bentley 1975) so it stays
O(N log N) over a thousand tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from luchtwacht.tracking.models import POS, VEL
from luchtwacht.tracking.tracker import TrackTable

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

TAU_S = 8.0  # window of the speed, scatter, turn and height moments (a bird's sway: 6–20 s)
TAU_LONG_S = 20.0  # window of the straightness (a loiter circle of a minute shows in it)
HOVER_MS = 2.5  # horizontal speed below which a track hovers (tracker velocity noise ~1 m/s)
SETTLE_HITS = 3  # filter updates before its velocity is trusted (two-point initialisation)
MAX_DT_S = 5.0  # a longer gap between updates counts as this long (coasting is not flying)
FLOCK_RADIUS_M = 200.0  # neighbours within this distance (3D) may fly together
FLOWN_MS = 5.0  # a track that has flown this fast (smoothed) is no clutter spot
FLOCK_MIN_SPEED_MS = 3.0  # slower tracks are not counted as moving alike (hover, clutter)
# Steadiness: velocity scatter in units of the filter's own velocity error, and turn rate, each
# against the middle between simulated birds and drones (bench/classify_features.py: scatter
# 0.84 vs 0.65 σ, turn 7.7 vs 5.3 °/s at the medians), in units of their spread.
STEADY_SIGMA, STEADY_SIGMA_W = 0.75, 0.35
STEADY_TURN, STEADY_TURN_W = 6.3, 2.5

# Per-track state columns (all float64, one row per track id).
_COLS = (
    "t_first", "t_last", "n", "vx", "vy", "v2", "speed", "speed2", "hover_s", "vz", "vz_abs",
    "climb_max", "turn", "hd", "lvx", "lvy", "lspeed", "h", "h2", "flock", "pvv", "flown_s",
    "steady_s",
)  # fmt: skip
_C = {name: k for k, name in enumerate(_COLS)}


@dataclass(frozen=True, slots=True)
class Features:
    """Each feature of every row of the track table at one cycle (row order of the table).

    ``settled`` is the time (s) the velocity moments have been gathered for; features of a row
    with little of it are weak evidence and the classifier weighs them so.
    """

    track_id: I64
    age_s: F64  # since the track's first filter update
    settled_s: F64  # how long the velocity moments have been gathered
    speed_ms: F64  # present horizontal speed
    speed_mean_ms: F64  # mean horizontal speed over ~τ
    speed_std_ms: F64  # its standard deviation over ~τ (flapping, gusts, manoeuvres)
    weave_ms: F64  # horizontal velocity scatter over ~τ: √(E|v|² − |E v|²)
    weave_sigma: F64  # …in units of the filter's own horizontal velocity error (√ E tr P_vv)
    hover_s: F64  # time spent hovering or climbing straight up (horizontal speed < HOVER_MS), ever
    flown_s: F64  # time spent flying (smoothed horizontal speed above FLOWN_MS), ever
    climb_ms: F64  # present vertical speed (+ up)
    climb_abs_ms: F64  # mean |vertical speed| over ~τ
    climb_max_ms: F64  # largest smoothed |vertical speed| ever
    turn_deg_s: F64  # mean |turn rate| over ~τ (only while moving)
    straightness: F64  # |E v| / E|v| over ~TAU_LONG_S, 0..1
    height_m: F64  # present height above the site
    height_std_m: F64  # its standard deviation over ~τ
    flock_n: I64  # tracks nearby moving alike, now
    flock_mean: F64  # …averaged over ~τ
    weave_z: F64  # :func:`weave_score` now: < 0 steadier than the middle, > 0 weaving
    steady_s: F64  # seconds flown steadily (weave_z < 0), less those weaving since: a long leg


def weave_score(weave_sigma: F64, turn_deg_s: F64) -> F64:
    """How much a track weaves: below 0 steadier than the middle between birds and drones."""
    return np.asarray(
        (weave_sigma - STEADY_SIGMA) / STEADY_SIGMA_W + (turn_deg_s - STEADY_TURN) / STEADY_TURN_W,
        np.float64,
    )


def _empty(n: int) -> F64:
    return np.zeros((n, len(_COLS)))


class TrackFeatures:
    """The feature store: call :meth:`update` once per cycle with the tracker's table."""

    def __init__(self) -> None:
        self._ids: I64 = np.empty(0, np.int64)  # sorted track ids
        self._s: F64 = _empty(0)  # per id, the _COLS columns
        self._seen_t: F64 = np.empty(0)  # per id, the filter time last folded in

    def __len__(self) -> int:
        return int(self._ids.size)

    def _align(self, ids: I64) -> tuple[F64, F64, NDArray[np.bool_]]:
        """State rows (and last filter times) in the order of ``ids``; which ids are new."""
        n = ids.size
        s, seen = _empty(n), np.full(n, -np.inf)
        if self._ids.size and n:
            at = np.minimum(np.searchsorted(self._ids, ids), self._ids.size - 1)
            found = self._ids[at] == ids
            s[found] = self._s[at[found]]
            seen[found] = self._seen_t[at[found]]
        else:
            found = np.zeros(n, dtype=bool)
        return s, seen, ~found

    def update(self, tracks: TrackTable, t_s: float) -> Features:
        """Fold in every track whose filter moved on since the last call; features per row.

        Tracks the tracker no longer holds are forgotten here too.
        """
        ids = tracks.track_id.astype(np.int64)
        s, seen, new = self._align(ids)
        x = tracks.x
        t_upd = tracks.t_s
        v = x[:, VEL]
        vx, vy, vz = v[:, 0], v[:, 1], v[:, 2]
        sp = np.hypot(vx, vy)
        h = x[:, POS][:, 2]
        c = _C
        # New tracks: moments start at the present values, nothing gathered yet.
        if new.any():
            s[new] = 0.0
            s[new, c["t_first"]] = t_upd[new]
            s[new, c["t_last"]] = t_upd[new]
            s[new, c["h"]] = h[new]
            s[new, c["h2"]] = h[new] ** 2
        moved = t_upd > seen
        settled = moved & (tracks.hits >= SETTLE_HITS)
        first = settled & (s[:, c["n"]] == 0)
        if first.any():  # the first trusted velocity starts the velocity moments
            for name, val in (
                ("vx", vx), ("vy", vy), ("v2", sp**2), ("speed", sp), ("speed2", sp**2),
                ("vz", vz), ("vz_abs", np.abs(vz)), ("lvx", vx), ("lvy", vy), ("lspeed", sp),
                ("pvv", tracks.P[:, 3, 3] + tracks.P[:, 4, 4]),
            ):  # fmt: skip
                s[first, c[name]] = val[first]
            s[first, c["t_last"]] = t_upd[first]
        go = settled & ~first
        dt = np.clip(t_upd - s[:, c["t_last"]], 0.0, MAX_DT_S)
        a = np.where(go, -np.expm1(-dt / TAU_S), 0.0)
        al = np.where(go, -np.expm1(-dt / TAU_LONG_S), 0.0)
        # Turn rate: the change of heading since the last folded update, while moving.
        heading = np.arctan2(vy, vx)
        dturn = np.angle(np.exp(1j * (heading - s[:, c["hd"]])))
        moving = sp > FLOCK_MIN_SPEED_MS
        turn_rate = np.where(
            moving & (dt > 0), np.degrees(np.abs(dturn)) / np.maximum(dt, 1e-3), 0.0
        )
        s[first | go, c["hd"]] = heading[first | go]

        def ema(name: str, val: F64, w: F64 = a) -> None:
            s[:, c[name]] += w * (val - s[:, c[name]])

        ema("vx", vx)
        ema("vy", vy)
        ema("v2", sp**2)
        ema("speed", sp)
        ema("speed2", sp**2)
        ema("vz", vz)
        ema("vz_abs", np.abs(vz))
        ema("turn", turn_rate)
        ema("pvv", tracks.P[:, 3, 3] + tracks.P[:, 4, 4])
        ema("lvx", vx, al)
        ema("lvy", vy, al)
        ema("lspeed", sp, al)
        s[:, c["hover_s"]] += np.where(go & (sp < HOVER_MS), dt, 0.0)
        s[:, c["flown_s"]] += np.where(go & (s[:, c["speed"]] > FLOWN_MS), dt, 0.0)
        s[:, c["climb_max"]] = np.maximum(
            s[:, c["climb_max"]], np.where(settled, np.abs(s[:, c["vz"]]), 0.0)
        )
        s[:, c["n"]] += settled
        # A long steady leg: seconds flown with the weave below the middle, less those weaving.
        z_now = weave_score(_weave_sigma(s), s[:, c["turn"]])
        fly = go & (s[:, c["speed"]] > FLOCK_MIN_SPEED_MS)
        s[:, c["steady_s"]] = np.maximum(
            0.0, s[:, c["steady_s"]] + np.where(fly, np.where(z_now < 0.0, dt, -dt), 0.0)
        )
        ah = np.where(moved & ~new, -np.expm1(-np.clip(t_upd - seen, 0, MAX_DT_S) / TAU_S), 0.0)
        ema("h", h, ah)
        ema("h2", h**2, ah)
        s[go | first, c["t_last"]] = t_upd[go | first]
        flock_n = flocking(x[:, POS], v, tracks.hits >= SETTLE_HITS)
        a_flock = np.where(moved, -np.expm1(-np.clip(t_upd - seen, 0, MAX_DT_S) / TAU_S), 0.0)
        s[new, c["flock"]] = flock_n[new]
        ema("flock", flock_n.astype(np.float64), a_flock)
        seen = np.where(moved, t_upd, seen)
        order = np.argsort(ids, kind="stable")
        self._ids, self._s, self._seen_t = ids[order], s[order], seen[order]
        return self._features(ids, s, t_s, sp, vz, h, flock_n)

    def _features(
        self, ids: I64, s: F64, t_s: float, sp: F64, vz: F64, h: F64, flock_n: I64
    ) -> Features:
        c = _C
        settled_s = np.where(
            s[:, c["n"]] > 0, np.maximum(0.0, s[:, c["t_last"]] - s[:, c["t_first"]]), 0.0
        )
        weave = _weave(s)
        sp_std = np.sqrt(np.maximum(0.0, s[:, c["speed2"]] - s[:, c["speed"]] ** 2))
        lmean = np.hypot(s[:, c["lvx"]], s[:, c["lvy"]])
        straight = np.where(
            s[:, c["lspeed"]] > 1.0, np.clip(lmean / np.maximum(s[:, c["lspeed"]], 1e-9), 0, 1), 1
        )
        h_std = np.sqrt(np.maximum(0.0, s[:, c["h2"]] - s[:, c["h"]] ** 2))
        return Features(
            track_id=ids,
            age_s=np.maximum(0.0, t_s - s[:, c["t_first"]]),
            settled_s=settled_s,
            speed_ms=sp,
            speed_mean_ms=s[:, c["speed"]].copy(),
            speed_std_ms=sp_std,
            weave_ms=weave,
            weave_sigma=_weave_sigma(s),
            hover_s=s[:, c["hover_s"]].copy(),
            flown_s=s[:, c["flown_s"]].copy(),
            climb_ms=vz,
            climb_abs_ms=s[:, c["vz_abs"]].copy(),
            climb_max_ms=s[:, c["climb_max"]].copy(),
            turn_deg_s=s[:, c["turn"]].copy(),
            straightness=straight,
            height_m=h,
            height_std_m=h_std,
            flock_n=flock_n,
            flock_mean=s[:, c["flock"]].copy(),
            weave_z=weave_score(_weave_sigma(s), s[:, c["turn"]]),
            steady_s=s[:, c["steady_s"]].copy(),
        )


def _weave(s: F64) -> F64:
    """Horizontal velocity scatter √(E|v|² − |E v|²) of the state rows ``s``."""
    mean_v2 = np.hypot(s[:, _C["vx"]], s[:, _C["vy"]]) ** 2
    return np.asarray(np.sqrt(np.maximum(0.0, s[:, _C["v2"]] - mean_v2)), np.float64)


def _weave_sigma(s: F64) -> F64:
    """…in units of the filter's own horizontal velocity error."""
    return np.asarray(_weave(s) / np.sqrt(np.maximum(s[:, _C["pvv"]], 1e-6)), np.float64)


def flocking(pos: F64, vel: F64, usable: NDArray[np.bool_]) -> I64:
    """For each row, how many other usable rows within FLOCK_RADIUS_M move alike now.

    Alike: both faster than FLOCK_MIN_SPEED_MS and their velocities differ by less than 4 m/s
    or 40 % of their mean speed, whichever is more (flock mates weave out of step). Swarms of
    drones fly together too: this counts company, the classifier decides what it means together
    with how each one moves.
    """
    n = pos.shape[0]
    out = np.zeros(n, np.int64)
    speed = np.linalg.norm(vel, axis=1)
    cand = np.flatnonzero(usable & (speed > FLOCK_MIN_SPEED_MS) & np.isfinite(pos).all(axis=1))
    if cand.size < 2:
        return out
    pairs = cKDTree(pos[cand]).query_pairs(FLOCK_RADIUS_M, output_type="ndarray")
    if pairs.size == 0:
        return out
    i, j = cand[pairs[:, 0]], cand[pairs[:, 1]]
    dv = np.linalg.norm(vel[i] - vel[j], axis=1)
    alike = dv < np.maximum(4.0, 0.2 * (speed[i] + speed[j]))
    out += np.bincount(i[alike], minlength=n)
    out += np.bincount(j[alike], minlength=n)
    return out
