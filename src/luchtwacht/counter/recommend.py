"""Countermeasure options for threatening tracks: feasibility, collateral, ranking.

For every track that warrants one (:func:`eligible`, :func:`due`) each effector on site is
judged at once over all tracks × effectors (``counter.geometry``):

* **reach**: when the drone (at constant velocity) comes within the effector's range, or when
  an interceptor launched after its ``ready_s`` meets it; the **time to effect** adds the
  effector's readiness, the net's or round's flight and, for a jammer, the link-loss timeout a
  drone typically waits before its failsafe (:data:`LINK_LOSS_ASSUMED_S`);
* **before breach**: whether that effect comes before the track's predicted zone breach;
* **availability**: the effector's SAPIENT node is up, its magazine is not empty, it is not
  busy with another engagement;
* **band**: an RF jammer whose bands miss the link's band the RF detectors measured is
  blocked;
* **collateral**, which blocks an option: a manned aircraft within a GNSS jammer's range (now,
  or at constant velocity before the effect: a drone proposed early is jammed long after); a
  hard kill whose debris footprint reaches a no-fire area, or with another track in its line of
  fire. Collateral that does not block is a warning the operator sees: a cooperative drone that
  an RF or GNSS jammer would also hit, a net coming down in a no-fire area, and doubt (an RF
  jammer against a drone whose link no RF detector has heard (yet, :data:`LINK_DOUBT_S`),
  or a kind that had no effect on this track before).

Options rank: usable ones first; then those in effect before the breach; then those without
doubt; then those without collateral; then least force
(:data:`~luchtwacht.counter.catalogue.FORCE_ORDER`); then soonest.
The software only proposes; :mod:`luchtwacht.counter.engagement` waits for an operator.

**When** a hostile drone is proposed: at once when it is inside a zone or at threat HIGH (a
breach within the zone's warning time), and earlier when the time it leaves is short: a drone
on a breach course (:func:`breach_course_s`) is *due* once its predicted time to breach is no
more than the best usable option's time to effect plus the operator's reaction time plus
:data:`PROPOSE_MARGIN_S` — the latest moment a proposal still lets that option act before the
breach, less a margin for the prediction and for a slower decision.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from luchtwacht.counter.catalogue import JAMMERS, EffectorSpec
from luchtwacht.counter.geometry import (
    debris_footprint,
    intercept_time,
    segment_clearance,
    time_into_reach,
)
from luchtwacht.model.engagement import EffectorState as EffectorState
from luchtwacht.model.engagement import Option as Option
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.texts import say
from luchtwacht.threat.assess import hostile
from luchtwacht.threat.zones import ZoneGeometry

F64 = NDArray[np.float64]
HORIZON_S = 180.0  # how far ahead an effect is looked for
LINK_LOSS_ASSUMED_S = 2.0  # a typical link-loss timeout before a drone's failsafe acts
# Tracked this long with RF detectors on site and no link heard: doubt. From the start, since a
# drone is proposed as soon as it is on a breach course: an operator deciding then must not be
# steered to a jammer against a drone that may fly without a link (a link heard lifts it).
LINK_DOUBT_S = 0.0
GNSS_AIRCRAFT_MARGIN_M = 2000.0  # manned aircraft this far beyond a GNSS jammer's range block it
LINE_OF_FIRE_M = 50.0  # another track this close to a hard kill's line of fire blocks it
HARD_KILL_FLIGHT_FLOOR_S = 0.5
REACTION_S = 20.0  # the operator's reaction time the counter stage plans with (site default)
PROPOSE_MARGIN_S = 30.0  # a proposal comes this long before the latest moment that still works
COURSE_CYCLES = 3  # a course is judged on the mean ground velocity of this many counter cycles
# A course is a breach course when turning it by no more than this many sigmas of its own
# uncertainty (``TrackView.course_std_deg``) points it at a zone: a fresh track's heading may be
# 20° off, and a drone 2.5 km out must not wait for it to settle before it is proposed.
COURSE_SIGMAS = 2.0
COURSE_TURN_MAX_DEG = 45.0  # …and never wider than this


@dataclass(slots=True)
class TrackContext:
    """What the counter stage remembers of a track between cycles.

    ``failed_kinds``: effector kinds that had no effect on it (doubted after). ``neutralised``:
    the effective outcome an engagement saw (landing, leaving), while it holds.
    """

    first_seen_t_s: float
    failed_kinds: set[str] = field(default_factory=set)
    neutralised: str | None = None
    resume_streak: int = 0  # cycles in a row a neutralised drone has flown on
    # Ground velocity (east, north m/s) of the last counter cycles, newest last: its mean is the
    # course a breach is predicted on (one noisy heading neither proposes nor withdraws).
    ground_vel: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=COURSE_CYCLES)
    )

    def note(self, view: TrackView) -> None:
        """Keep this cycle's ground velocity of the track."""
        h = math.radians(view.heading_deg)
        self.ground_vel.append((view.speed_ms * math.sin(h), view.speed_ms * math.cos(h)))


def eligible(view: TrackView) -> bool:
    """A track countermeasures are proposed for: a hostile drone at HIGH or above.

    Hostile (:func:`~luchtwacht.threat.assess.hostile`): non-cooperative, or a Remote ID drone
    that is not authorised where the site's policy makes it an intruder; never an authorised one.
    """
    return hostile(view) and view.threat >= ThreatLevel.HIGH


def breach_course_s(
    targets: Sequence[TrackView],
    zones: Sequence[ZoneGeometry],
    horizon_s: float = HORIZON_S,
    ground_vel: F64 | None = None,
) -> F64:
    """Predicted time to breach (s) of each track over all zones, NaN off a breach course.

    The threat stage looks only as far ahead as a zone's warning time and extrapolates the
    climb rate too; over a countermeasure's longer look-ahead a noisy climb rate would make a
    course flicker (a drone descending gently "hits the ground" in 80 s), so beyond the view's
    own time to breach the course is flown level at the track's height, with ``ground_vel``
    (N, 2: east, north m/s; e.g. a mean over recent cycles) or the view's velocity. A course
    counts whose turn within :data:`COURSE_SIGMAS` of its own uncertainty breaches a zone; the
    time is the soonest such breach. 0 inside a zone.
    """
    n = len(targets)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    pos = np.array([[v.east_m, v.north_m, v.up_m] for v in targets])
    if ground_vel is None:
        h = np.radians([v.heading_deg for v in targets])
        spd = np.array([v.speed_ms for v in targets])
        ground_vel = np.column_stack([spd * np.sin(h), spd * np.cos(h)])
    course = np.degrees(np.arctan2(ground_vel[:, 0], ground_vel[:, 1]))
    speed = np.hypot(ground_vel[:, 0], ground_vel[:, 1])
    std = np.array([np.nan if v.course_std_deg is None else v.course_std_deg for v in targets])
    allowed = np.minimum(COURSE_SIGMAS * np.nan_to_num(std, nan=0.0), COURSE_TURN_MAX_DEG)

    def flown(turn_deg: F64) -> F64:
        aim = np.radians(course + turn_deg)
        return np.column_stack([speed * np.sin(aim), speed * np.cos(aim), np.zeros(n)])

    for zg in zones:
        # The soonest breach a course within its uncertainty makes: straight at the zone's
        # nearest point when that lies within the cone, else along the cone's edges or its axis.
        for turn in (np.zeros(n), -allowed, allowed):
            out = np.fmin(out, zg.time_to_breach(pos, flown(turn), horizon_s=horizon_s))
        off = np.abs((zg.nearest_bearing_deg(pos) - course + 180.0) % 360.0 - 180.0)
        band = (pos[:, 2] >= zg.zone.floor_m) & (pos[:, 2] <= zg.zone.ceiling_m)
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = zg.distance_m(pos) / speed
        direct = np.where((off <= allowed) & band & (direct <= horizon_s), direct, np.nan)
        out = np.fmin(out, direct)
    own = np.array([np.nan if v.time_to_breach_s is None else v.time_to_breach_s for v in targets])
    out = np.fmin(out, own)
    out[np.array([bool(v.zones_inside) for v in targets], dtype=bool)] = 0.0
    return np.asarray(out, dtype=np.float64)


def due(ttb_s: float, options: Sequence[Option], reaction_s: float) -> Option | None:
    """The best usable option if a drone ``ttb_s`` from its breach must be proposed now.

    Now means: that option's time to effect plus the operator's reaction time plus
    :data:`PROPOSE_MARGIN_S` reaches the breach. None when it may wait, when it is off a breach
    course (``ttb_s`` NaN), or when no usable option can act at all (it is then proposed at
    threat HIGH, as :func:`eligible` says, so the operator still sees it).
    """
    best = next((o for o in options if o.usable and o.t_effect_s is not None), None)
    if best is None or best.t_effect_s is None or not np.isfinite(ttb_s):
        return None
    return best if ttb_s <= best.t_effect_s + reaction_s + PROPOSE_MARGIN_S else None


def why_now(view: TrackView, ttb_s: float, options: Sequence[Option], reaction_s: float) -> str:
    """Why a recommendation is made now, in words for the operator (``rec.*`` texts)."""
    if view.zones_inside:
        return say("rec.inside", zone=", ".join(view.zones_inside))
    best = next((o for o in options if o.usable and o.t_effect_s is not None), None)
    breach = f"{ttb_s:.0f}" if np.isfinite(ttb_s) else "?"
    if best is None or best.t_effect_s is None:
        return say("rec.no_option", s=breach)
    return say(
        "rec.due",
        s=breach,
        effector=best.effector,
        effect=f"{best.t_effect_s:.0f}",
        react=f"{reaction_s:.0f}",
    )


def options_for(
    targets: Sequence[TrackView],
    effectors: Sequence[EffectorSpec],
    states: dict[str, EffectorState],
    others: Sequence[TrackView],
    no_fire: Sequence[ZoneGeometry],
    contexts: dict[int, TrackContext],
    t_s: float,
    rf_detection: bool,
) -> list[list[Option]]:
    """Ranked options for each target track (see the module doc); one list per target."""
    n, m = len(targets), len(effectors)
    if n == 0:
        return []
    if m == 0:
        return [[] for _ in targets]
    pos = np.array([[v.east_m, v.north_m, v.up_m] for v in targets])
    h = np.radians([v.heading_deg for v in targets])
    spd = np.array([v.speed_ms for v in targets])
    vel = np.column_stack([spd * np.sin(h), spd * np.cos(h), [v.climb_ms for v in targets]])
    site = np.array([e.enu_m for e in effectors], dtype=float)
    rmax = np.array([e.max_range_m for e in effectors])
    rmin = np.array([e.min_range_m for e in effectors])
    ready = np.array([e.ready_s for e in effectors])
    speed = np.array([e.speed_ms for e in effectors])
    kinds = [e.kind for e in effectors]
    intercept = np.array([k == "interceptor" for k in kinds])

    # When the effect can begin (s from now), and where the drone is then.
    t_reach = time_into_reach(pos, vel, site, rmax, HORIZON_S)  # (N, M)
    t_start = np.maximum(t_reach, ready[None, :])
    at = pos[:, None, :] + vel[:, None, :] * t_start[..., None]  # (N, M, 3)
    dist = np.linalg.norm(at - site[None, :, :], axis=2)
    in_reach_then = dist <= rmax[None, :] + 1.0
    flight = np.where(speed > 0, dist / np.where(speed > 0, speed, 1.0)[None, :], 0.0)
    jam = np.array([k in JAMMERS for k in kinds])
    t_eff = np.where(
        jam[None, :],
        t_start + LINK_LOSS_ASSUMED_S,
        t_start + np.maximum(flight, HARD_KILL_FLIGHT_FLOOR_S),
    )
    t_eff = np.where(in_reach_then, t_eff, np.nan)
    if intercept.any():
        ti = intercept_time(
            pos, vel, site[intercept], speed[intercept], ready[intercept], HORIZON_S
        )
        t_eff[:, intercept] = ti
        at[:, intercept] = pos[:, None, :] + vel[:, None, :] * np.nan_to_num(ti)[..., None]
        far = np.linalg.norm(at[:, intercept] - site[intercept][None], axis=2) > rmax[intercept]
        t_eff[:, intercept] = np.where(far, np.nan, ti)
    now_dist = np.linalg.norm(pos[:, None, :] - site[None, :, :], axis=2)
    too_close = (now_dist < rmin[None, :]) & ~jam[None, :]

    # Collateral: who else is where the effect goes, for all targets × others at once per
    # effector (a thousand-drone swarm must not make this stage crawl).
    other_pos = np.array([[o.east_m, o.north_m, o.up_m] for o in others]).reshape(-1, 3)
    aircraft = np.array([o.object_class == "aircraft" for o in others], dtype=bool)
    coop = np.array([o.cooperative and o.object_class == "drone" for o in others], dtype=bool)
    other_ids = np.array([o.track_id for o in others], dtype=np.int64)
    own = other_ids[None, :] == np.array([v.track_id for v in targets])[:, None]  # (N, K)
    centre, radius = debris_footprint(at.reshape(-1, 3), np.repeat(vel, m, axis=0))
    centre, radius = centre.reshape(n, m, 2), radius.reshape(n, m)
    hits: dict[int, NDArray[np.bool_]] = {}  # effector → (N, K): others its effect reaches

    def other_vel() -> F64:
        """The others' velocities (K, 3), m/s."""
        oh = np.radians([o.heading_deg for o in others])
        osp = np.array([o.speed_ms for o in others])
        climb = [o.climb_ms for o in others]
        return np.column_stack([osp * np.sin(oh), osp * np.cos(oh), climb]).reshape(-1, 3)

    no_fire_hit: dict[int, NDArray[np.bool_]] = {}  # effector → (N, Z)
    k_other = len(others)
    for j, eff in enumerate(effectors):
        if eff.kind in JAMMERS and k_other:
            reach = rmax[j] + (GNSS_AIRCRAFT_MARGIN_M if eff.kind == "gnss_jammer" else 0.0)
            d = other_pos - site[j]
            az = np.degrees(np.arctan2(d[:, 0], d[:, 1]))  # (K,)
            boresight = np.degrees(np.arctan2(at[:, j, 0] - site[j, 0], at[:, j, 1] - site[j, 1]))
            off = np.abs((az[None, :] - boresight[:, None] + 180.0) % 360.0 - 180.0)  # (N, K)
            in_beam = (off <= eff.beamwidth_deg / 2) | (eff.beamwidth_deg >= 360.0)
            dist = np.linalg.norm(d, axis=1)
            # Aircraft count out to the GNSS margin; cooperative drones within the range itself.
            near = np.where(aircraft, dist <= reach, dist <= rmax[j])
            hits[j] = in_beam & near[None, :] & ~own
            if eff.kind == "gnss_jammer" and aircraft.any():
                # A jammer radiates from its tasking to the effect (a drone proposed early is
                # jammed long after): a manned aircraft that comes within reach on the way, at
                # constant velocity, blocks it as one there now does (closest approach on the
                # interval [0, time to effect]).
                ov = other_vel()
                vv = np.einsum("kc,kc->k", ov, ov)
                t_min = np.where(vv > 0, -np.einsum("kc,kc->k", d, ov) / np.maximum(vv, 1e-9), 0)
                until = np.nan_to_num(t_eff[:, j], nan=0.0)  # (N,)
                t_c = np.clip(t_min[None, :], 0.0, until[:, None])  # (N, K)
                closest = np.linalg.norm(d[None, :, :] + ov[None, :, :] * t_c[..., None], axis=2)
                hits[j] |= (closest <= reach) & aircraft[None, :] & ~own
        elif eff.kind == "hard_kill" and k_other:
            clear = segment_clearance(site[j : j + 1], at[:, j], other_pos)[:, 0, :]  # (N, K)
            hits[j] = (clear <= LINE_OF_FIRE_M) & ~own
        if no_fire and eff.kind in ("hard_kill", "net", "interceptor"):
            # Where it comes down: the debris footprint, or the net under its parachute (only
            # where the effect is reached at all).
            xy = centre[:, j] if eff.kind == "hard_kill" else at[:, j, :2]
            ok: NDArray[np.bool_] = np.asarray(np.isfinite(xy).all(axis=1), dtype=bool)
            ground = np.column_stack([np.where(ok[:, None], xy, 0.0), np.zeros(n)])
            no_fire_hit[j] = np.column_stack(
                [
                    ok
                    & (
                        zg.distance_m(ground) <= radius[:, j]
                        if eff.kind == "hard_kill"
                        else zg.inside(ground)
                    )
                    for zg in no_fire
                ]
            )

    out: list[list[Option]] = []
    for i, view in enumerate(targets):
        ctx = contexts.get(view.track_id)
        ttb = view.time_to_breach_s
        opts: list[tuple[tuple[int, int, int, int, int, float], Option]] = []
        for j, eff in enumerate(effectors):
            st = states.get(eff.name) or EffectorState(shots_left=eff.shots)
            blocked: list[str] = []
            safety: list[str] = []  # blocks for others' safety: they also stop an engagement
            warns: list[str] = []
            doubt = collateral = False
            te = float(t_eff[i, j]) if np.isfinite(t_eff[i, j]) else None
            if not st.online:
                blocked.append(say("opt.offline"))
            if eff.shots > 0 and st.shots_left <= 0:
                blocked.append(say("opt.empty"))
            if st.busy_with is not None:
                blocked.append(say("opt.busy", eng=st.busy_with))
            if te is None:
                blocked.append(say("opt.out_of_reach", s=f"{HORIZON_S:.0f}"))
            if too_close[i, j]:
                blocked.append(say("opt.min_range"))
            row = hits.get(j)
            for k in np.flatnonzero(row[i]).tolist() if row is not None else ():
                o = others[k]
                if eff.kind == "hard_kill":
                    safety.append(say("opt.line_of_fire", track=o.track_id))
                elif eff.kind == "gnss_jammer" and aircraft[k]:
                    safety.append(
                        say("opt.gnss_manned", icao=o.icao)
                        if o.icao
                        else say("opt.gnss_manned_track", track=o.track_id)
                    )
                elif coop[k]:
                    warns.append(
                        say("opt.jam_coop", uas=o.uas_id)
                        if o.uas_id
                        else say("opt.jam_coop_track", track=o.track_id)
                    )
                    collateral = True
            zone_row = no_fire_hit.get(j)
            for z in np.flatnonzero(zone_row[i]).tolist() if zone_row is not None else ():
                name = no_fire[z].zone.name
                if eff.kind == "hard_kill":
                    safety.append(say("opt.debris", area=name))
                else:
                    warns.append(say("opt.net_no_fire", area=name))
                    collateral = True
            if (
                eff.kind == "rf_jammer"
                and rf_detection
                and view.rf_protocol is None
                and ctx is not None
                and t_s - ctx.first_seen_t_s >= LINK_DOUBT_S
            ):
                doubt = True
                warns.append(say("opt.no_link"))
            if view.rf_protocol is not None and eff.kind == "rf_jammer":
                warns.append(say("opt.fingerprinted", protocol=view.rf_protocol))
            band = view.rf_band_mhz
            if band is not None and eff.kind == "rf_jammer":
                lo, hi = band
                if not any(b_lo <= hi and lo <= b_hi for b_lo, b_hi in eff.bands_mhz):
                    blocked.append(say("opt.band", mhz=f"{0.5 * (lo + hi):.0f}"))
            if ctx is not None and eff.kind in ctx.failed_kinds:
                doubt = True
                warns.append(say("opt.no_effect", kind=eff.kind))
            # Inside a zone the time to breach is 0: nothing comes before that breach.
            before = te is not None and (ttb is None or te < ttb)
            blocked += safety
            opt = Option(
                effector=eff.name,
                kind=eff.kind,
                usable=not blocked,
                t_effect_s=te,
                before_breach=before,
                p_effect=eff.p_effect,
                blocked_by=tuple(blocked),
                warnings=tuple(warns),
                doubt=doubt,
                collateral=collateral,
                safety=tuple(safety),
            )
            opts.append((opt.rank_key(eff.force_rank), opt))
        opts.sort(key=lambda kv: kv[0])
        out.append([o for _, o in opts])
    return out
