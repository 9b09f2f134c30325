"""From recommendation to effect: operator approval, SAPIENT tasking of effectors, assessment.

:class:`CounterUas` runs once per assessment cycle after the threat stage:

1. **Effectors.** Each effector is a SAPIENT edge node (node type JAMMER or KINETIC). It is
   *online* while it is registered, its last StatusReport says SYSTEM_OK and that report is
   recent; its magazine is read from the report's status entry ``Magazine <n>``.
2. **Recommendations.** Every eligible track (``counter.recommend.eligible``: a hostile drone
   inside a zone or at HIGH) and every hostile drone on a breach course whose best option needs
   about as long as it has left (``counter.recommend.due``: time to effect + the operator's
   ``reaction_s`` + a margin), without an engagement, gets one pending :class:`Recommendation`
   saying why now, whose ranked options are refreshed each cycle. It stands while the drone
   stays on a breach course, and expires when the track is dropped or has been off the course
   and below HIGH for :data:`HOLD_S`. Nothing happens to any drone until an operator acts.
3. **Approval.** :meth:`CounterUas.approve` takes a session token, never a name: the
   :class:`~luchtwacht.counter.authority.Authority` checks it carries ``APPROVE_ENGAGEMENT``.
   The option is judged again at that instant; a blocked or unusable one is refused with its
   reasons. :meth:`reject` and :meth:`cease` need ``REJECT_ENGAGEMENT`` / ``CEASE_ENGAGEMENT``.
4. **Tasking.** An approved engagement sends the effector two SAPIENT Tasks: ``look_at`` the
   track's position (aim) and ``mode_change`` to ``Engage``; each later cycle a fresh
   ``look_at`` (guidance from the fused track). On completion, cease or refusal: ``mode_change``
   to ``Standby``. The effector's TaskAck moves the engagement to *engaging* (accepted) or
   *refused* (rejected, with its reason).
5. **Interlock.** Each cycle an engagement is judged again against others' safety; should a
   manned aircraft come within a GNSS jammer's reach, a track cross a hard kill's line of
   fire, or its debris footprint reach a no-fire area, the effector is stood down at once
   (stopping needs nobody's approval; starting again does).
6. **Assessment**, from the air picture alone: the track, followed from the engagement, is
   *down* (dropped while descending or near the ground), *landing* (sinking steadily, 10 m and
   more), *leaving* (no longer predicted to breach and moving away: returning home), or showed
   *no effect* once the expected time to effect plus :data:`ASSESS_GRACE_S` has passed. A
   jammed drone that stops is *held hovering*: the jammer keeps its link down (the drone is
   still over the runway), the engagement goes on, and the track may be proposed for a
   kinetic follow-up; it ends when the drone lands, leaves or is brought down. Down, landing,
   hovering and leaving count as effective.

Every step is an audit record (``counter.*``) through the ``audit`` callback, and an event in
:attr:`CounterUas.events` for the console and the evaluation.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from google.protobuf import json_format

from luchtwacht.counter.authority import Authority, Permission
from luchtwacht.counter.catalogue import ENGAGE_MODE, JAMMERS, STANDBY_MODE, EffectorSpec
from luchtwacht.counter.geometry import in_sector
from luchtwacht.counter.recommend import (
    LINK_LOSS_ASSUMED_S,
    REACTION_S,
    EffectorState,
    Option,
    TrackContext,
    breach_course_s,
    due,
    eligible,
    options_for,
    why_now,
)
from luchtwacht.ingest.sapient import NodeState, SapientMessage, new_ulid
from luchtwacht.model.engagement import (
    CounterEvent,
    Engagement,
    EngagementState,
    Recommendation,
    RecommendationState,
    Watch,
)
from luchtwacht.model.picture import EffectorSnapshot
from luchtwacht.model.track import TrackView
from luchtwacht.texts import say
from luchtwacht.threat.assess import friendly, hostile
from luchtwacht.threat.cueing import look_at
from luchtwacht.threat.zones import ZoneGeometry

AuditSink = Callable[[float, str, dict[str, object]], object]
STATUS_STALE_S = 15.0  # an effector silent this long is offline
HOLD_S = 10.0  # a recommendation stays open this long after its track stops qualifying
ASSESS_GRACE_S = 20.0  # after the expected effect, this long before "no effect"
HOVER_MS = 1.5  # a track slower than this …
HOVER_CYCLES = 5  # … for this many cycles is hovering
DESCEND_MS = 1.0  # a track sinking faster than this …
DESCEND_CYCLES = 3  # … for this many cycles is landing
LEAVE_CYCLES = 8  # no breach predicted and moving away this many cycles: leaving
LOW_M = 30.0  # a track dropped below this height came down
FALL_MS = 3.0  # …or one last seen sinking faster than this …
FALL_CYCLES = 2  # … in this many cycles in a row (one noisy climb rate is no fall)
LANDING_GROUND_MS = 3.0  # a landing drone moves slower than this over the ground
HANDOVER_S = 10.0  # a lost engaged track is looked for this long on new tracks
HANDOVER_M = 150.0  # …this close to where it was last seen
HANDOVER_SPEED_MS = 20.0  # …plus this speed times the time since
HANDOVER_NEW_S = 3.0  # a candidate track started at most this long before the loss
LANDING_DROP_M = 10.0  # …and has come down this far since it began to sink (noise does not)
RESUME_CYCLES = 3  # a neutralised drone flying on this many cycles in a row is proposed again
KEPT = 10_000  # decided recommendations and ended engagements held in memory (the store has all)
EVENTS_KEPT = 100_000  # counter events held in memory
EARLY_S = 10.0  # an effect may show this much before it was expected (the drone sped up)
_MAGAZINE = re.compile(r"\bMagazine\s+(\d+)\b")
EFFECTIVE = ("down", "landing", "hovering", "leaving")


def resumed(view: TrackView, outcome: str) -> bool:
    """Whether a neutralised drone flies on this cycle (climbs, or comes back)."""
    if outcome == "landing":
        return view.climb_ms > DESCEND_MS
    if outcome == "leaving":
        return view.time_to_breach_s is not None or bool(view.zones_inside)
    return False


class CounterError(Exception):
    """An operator's request that cannot be carried out, with the reason."""


def _watch(view: TrackView, t_s: float, expected_s: float, eff: EffectorSpec) -> Watch:
    """Start following a drone from the view it came under an engagement with."""
    rng = math.dist((view.east_m, view.north_m, view.up_m), eff.enu_m)
    return Watch(
        view.track_id,
        t_s,
        expected_s,
        was_slow=view.speed_ms < HOVER_MS,
        last=view,
        last_range_m=rng,
    )


@dataclass(slots=True)
class CounterUas:
    """The counter stage of one fusion node (see the module doc)."""

    fusion_node_id: str
    effectors: list[EffectorSpec]
    authority: Authority
    no_fire: list[ZoneGeometry] = field(default_factory=list)
    audit: AuditSink | None = None
    rf_detection: bool = False  # RF detectors on site: a drone nobody hears may be autonomous
    zones: list[ZoneGeometry] = field(default_factory=list)  # protected zones: breach courses
    reaction_s: float = REACTION_S  # the operator's reaction time proposals allow for
    recommendations: dict[int, Recommendation] = field(default_factory=dict)
    engagements: dict[int, Engagement] = field(default_factory=dict)
    # Recent events only (the audit chain in the store keeps them all): a node runs for weeks.
    events: deque[CounterEvent] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    states: dict[str, EffectorState] = field(default_factory=dict)
    _contexts: dict[int, TrackContext] = field(default_factory=dict)
    _open_rec: dict[int, int] = field(default_factory=dict)  # track → pending recommendation
    _outbox: list[tuple[EffectorSpec, SapientMessage]] = field(default_factory=list)
    _views: dict[int, TrackView] = field(default_factory=dict)
    _next_rec: int = 1
    _next_eng: int = 1
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    # --- each cycle ---------------------------------------------------------------------------

    def update(self, t_s: float, views: Sequence[TrackView], nodes: dict[str, NodeState]) -> None:
        """Refresh effector states, assess engagements and refresh recommendations."""
        self._views = {v.track_id: v for v in views}
        for v in views:
            self._contexts.setdefault(v.track_id, TrackContext(t_s))
        for tid in [k for k in self._contexts if k not in self._views]:
            del self._contexts[tid]
        for eng in self.engagements.values():
            if eng.active:
                self._acks(t_s, eng, nodes.get(eng.effector.node_id))
            if eng.active:
                self._interlock(t_s, eng)
            if eng.state is EngagementState.ENGAGING:
                self._assess(t_s, eng)
                if eng.state is EngagementState.ENGAGING:
                    self._aim(t_s, eng)
                    if eng.effector.kind in JAMMERS:
                        self._cover(t_s, eng)
        self._effector_states(t_s, nodes)
        self._recommend(t_s, views)
        self._forget(KEPT)

    def _forget(self, kept: int) -> None:
        """Forget the oldest decided recommendations and ended engagements beyond ``kept``."""
        if len(self.recommendations) > kept:
            done = [
                r
                for r, rec in self.recommendations.items()
                if rec.state is not RecommendationState.PENDING
            ]
            for rec_id in done[: len(self.recommendations) - kept]:
                del self.recommendations[rec_id]
        if len(self.engagements) > kept:
            ended = [e for e, eng in self.engagements.items() if not eng.active]
            for eng_id in ended[: len(self.engagements) - kept]:
                del self.engagements[eng_id]

    def _effector_states(self, t_s: float, nodes: dict[str, NodeState]) -> None:
        busy = {e.effector.name: e.eng_id for e in self.engagements.values() if e.active}
        for eff in self.effectors:
            node = nodes.get(eff.node_id)
            online = bool(
                node is not None
                and node.registered
                and node.system == "SYSTEM_OK"
                and node.last_status_t_s is not None
                and t_s - node.last_status_t_s <= STATUS_STALE_S
            )
            shots = eff.shots
            if node is not None:
                for entry in node.status:
                    m = _MAGAZINE.search(entry)
                    if m:
                        shots = int(m.group(1))
            self.states[eff.name] = EffectorState(online, shots, busy.get(eff.name))

    def _recommend(self, t_s: float, views: Sequence[TrackView]) -> None:
        engaged = self._watched()
        for v in views:
            ctx = self._contexts[v.track_id]
            if ctx.neutralised is None:
                continue
            # Flying on for a few cycles in a row (one noisy climb rate is not a take-off).
            ctx.resume_streak = ctx.resume_streak + 1 if resumed(v, ctx.neutralised) else 0
            if ctx.resume_streak >= RESUME_CYCLES:
                self._event(t_s, "resumed", v.track_id, detail=f"was {ctx.neutralised}")
                ctx.neutralised, ctx.resume_streak = None, 0
        # A drone an engagement neutralised (coming down, holding, going home) is not proposed
        # again while it stays so: the operator's next decision is not wanted twice.
        hostiles = [
            v
            for v in views
            if hostile(v)
            and v.track_id not in engaged
            and self._contexts[v.track_id].neutralised is None
        ]
        # On a breach course over the counter's look-ahead (not only the zone's warning time),
        # for every hostile drone at once, on its mean ground velocity of the last few cycles
        # (kept for every track, so a drone classed just now has its history already).
        for v in views:
            self._contexts[v.track_id].note(v)
        mean_vel = np.array(
            [np.mean(self._contexts[v.track_id].ground_vel, axis=0) for v in hostiles]
        ).reshape(-1, 2)
        ttb = dict(
            zip(
                (v.track_id for v in hostiles),
                breach_course_s(hostiles, self.zones, ground_vel=mean_vel).tolist(),
                strict=True,
            )
        )
        level = {v.track_id for v in hostiles if eligible(v)}
        early = [
            v
            for v in hostiles
            if math.isfinite(ttb[v.track_id])
            and v.track_id not in level
            and v.track_id not in self._open_rec
        ]
        want = [v for v in views if v.track_id in level or v.track_id in self._open_rec] + early
        all_options = self._options(want, self.effectors, t_s)
        options_of = {v.track_id: o for v, o in zip(want, all_options, strict=True)}
        now = level | {
            v.track_id
            for v in early
            if due(ttb[v.track_id], options_of[v.track_id], self.reaction_s) is not None
        }
        # An open proposal stands while its drone stays on a breach course (no flapping: it is
        # withdrawn only once the drone has left the course for a while).
        keep = now | {tid for tid in self._open_rec if math.isfinite(ttb.get(tid, math.nan))}
        for tid, rid in list(self._open_rec.items()):
            rec = self.recommendations[rid]
            if tid in keep:
                rec.updated_t_s = t_s
                continue
            # Like an alert, a recommendation rides out a track's threat flickering for a
            # while; it goes at once when the track is dropped, engaged, or known for a friend
            # (authorised, tolerated cooperative, or one of our own interceptors).
            view = self._views.get(tid)
            friend = view is not None and friendly(view)
            held = view is not None and tid not in engaged and not friend
            if held and t_s - rec.updated_t_s < HOLD_S:
                continue
            rec.state = RecommendationState.EXPIRED
            if tid in engaged:
                rec.reason = "engaged"
            elif view is None:
                rec.reason = "track dropped"
            elif friend:
                rec.reason = f"identified: {view.own_asset or view.uas_id or view.icao or 'friend'}"
            else:
                rec.reason = "no longer a threat"
            del self._open_rec[tid]
            self._event(t_s, "expired", tid, rec_id=rid, detail=rec.reason)
        for view in want:
            options = options_of[view.track_id]
            open_id = self._open_rec.get(view.track_id)
            if open_id is None:
                if view.track_id not in now:
                    continue
                why = why_now(view, ttb.get(view.track_id, math.nan), options, self.reaction_s)
                rec = Recommendation(self._next_rec, view.track_id, t_s, t_s, options, why=why)
                self._next_rec += 1
                self.recommendations[rec.rec_id] = rec
                self._open_rec[view.track_id] = rec.rec_id
                best = next((o for o in options if o.usable), None)
                self._event(
                    t_s,
                    "recommended",
                    view.track_id,
                    rec_id=rec.rec_id,
                    detail=best.effector if best else "no usable option",
                    payload={"options": [o.as_dict() for o in options], "why": why},
                )
            else:
                self.recommendations[open_id].options = options

    def _options(
        self, targets: Sequence[TrackView], effectors: Sequence[EffectorSpec], t_s: float
    ) -> list[list[Option]]:
        """Ranked options against the picture of this cycle (``recommend.options_for``)."""
        return options_for(
            targets,
            effectors,
            self.states,
            list(self._views.values()),
            self.no_fire,
            self._contexts,
            t_s,
            self.rf_detection,
        )

    # --- operators ----------------------------------------------------------------------------

    def pending(self) -> list[Recommendation]:
        """Recommendations waiting for a decision, oldest first."""
        return sorted(
            (self.recommendations[r] for r in self._open_rec.values()),
            key=lambda r: r.created_t_s,
        )

    def approve(self, token: str, rec_id: int, effector: str, t_s: float) -> Engagement:
        """An authorised operator approves one option: the effector is tasked (see module doc)."""
        session = self.authority.check(token, Permission.APPROVE_ENGAGEMENT, t_s)
        rec = self._pending_rec(rec_id)
        opt = next((o for o in rec.options if o.effector == effector), None)
        spec = next((e for e in self.effectors if e.name == effector), None)
        if opt is None or spec is None:
            raise CounterError(say("err.no_option", rec=rec_id, effector=effector))
        # Judged again now: the picture may have changed since the operator read it.
        view = self._views.get(rec.track_id)
        if view is None:
            raise CounterError(say("err.track_gone", track=rec.track_id))
        if not eligible(view) and friendly(view):
            raise CounterError(say("err.friend", track=rec.track_id))
        fresh = self._options([view], [spec], t_s)[0][0]
        if not fresh.usable:
            self._audit(
                t_s,
                "counter.approval_refused",
                {
                    "rec_id": rec_id,
                    "effector": effector,
                    "by": session.username,
                    "blocked_by": list(fresh.blocked_by),
                },
            )
            raise CounterError(
                say("err.cannot_engage", effector=effector, blocks="; ".join(fresh.blocked_by))
            )
        rec.state, rec.decided_by = RecommendationState.APPROVED, session.username
        del self._open_rec[rec.track_id]
        eng = Engagement(
            self._next_eng,
            rec_id,
            rec.track_id,
            spec,
            session.username,
            t_s,
            fresh.t_effect_s if fresh.t_effect_s is not None else 0.0,
        )
        eng.watches.append(_watch(view, t_s, eng.expected_effect_s, spec))
        self._next_eng += 1
        self.engagements[eng.eng_id] = eng
        self._event(
            t_s,
            "approved",
            rec.track_id,
            rec_id=rec_id,
            eng_id=eng.eng_id,
            detail=effector,
            payload={"by": session.username, "role": session.role, "option": fresh.as_dict()},
        )
        self._task(t_s, eng, view)
        self.states[spec.name] = EffectorState(
            self.states.get(spec.name, EffectorState()).online,
            self.states.get(spec.name, EffectorState()).shots_left,
            eng.eng_id,
        )
        return eng

    def reject(self, token: str, rec_id: int, t_s: float, reason: str = "") -> Recommendation:
        """An operator declines a recommendation; it is closed with the reason."""
        session = self.authority.check(token, Permission.REJECT_ENGAGEMENT, t_s)
        rec = self._pending_rec(rec_id)
        rec.state, rec.decided_by, rec.reason = (
            RecommendationState.REJECTED,
            session.username,
            reason,
        )
        del self._open_rec[rec.track_id]
        self._event(
            t_s,
            "rejected",
            rec.track_id,
            rec_id=rec_id,
            detail=reason,
            payload={"by": session.username},
        )
        return rec

    def cease(self, token: str, eng_id: int, t_s: float, reason: str = "") -> Engagement:
        """An operator stops an engagement: the effector goes back to Standby at once."""
        session = self.authority.check(token, Permission.CEASE_ENGAGEMENT, t_s)
        eng = self.engagements.get(eng_id)
        if eng is None or not eng.active:
            raise CounterError(say("err.not_active", eng=eng_id))
        eng.state, eng.reason = EngagementState.CEASED, reason
        self._standby(t_s, eng)
        self._event(
            t_s,
            "ceased",
            eng.track_id,
            rec_id=eng.rec_id,
            eng_id=eng_id,
            detail=reason,
            payload={"by": session.username},
        )
        return eng

    def _pending_rec(self, rec_id: int) -> Recommendation:
        rec = self.recommendations.get(rec_id)
        if rec is None:
            raise CounterError(say("err.no_rec", rec=rec_id))
        if rec.state is not RecommendationState.PENDING:
            raise CounterError(say("err.rec_state", rec=rec_id, state=rec.state))
        return rec

    # --- tasking ------------------------------------------------------------------------------

    def take_tasks(self) -> list[tuple[EffectorSpec, SapientMessage]]:
        """The SAPIENT tasks to send to effectors now (each once)."""
        out, self._outbox = self._outbox, []
        return out

    def _task(self, t_s: float, eng: Engagement, view: TrackView) -> None:
        self._outbox.append((eng.effector, self._look_at(t_s, eng, view)))
        engage = self._message(
            t_s,
            eng.effector,
            {"modeChange": ENGAGE_MODE},
            f"engagement {eng.eng_id}: engage track {eng.track_id}",
        )
        eng.engage_task_id = engage.task.task_id
        self._outbox.append((eng.effector, engage))
        eng.state = EngagementState.TASKED
        self._audit(
            t_s,
            "counter.tasked",
            {
                "eng_id": eng.eng_id,
                "effector": eng.effector.name,
                "node": eng.effector.node_id,
                "task_id": eng.engage_task_id,
                "track_id": eng.track_id,
            },
        )

    def _aim(self, t_s: float, eng: Engagement) -> None:
        view = self._views.get(eng.watches[0].track_id)
        if view is not None:
            self._outbox.append((eng.effector, self._look_at(t_s, eng, view)))

    def _standby(self, t_s: float, eng: Engagement) -> None:
        msg = self._message(
            t_s, eng.effector, {"modeChange": STANDBY_MODE}, f"engagement {eng.eng_id}: stand by"
        )
        self._outbox.append((eng.effector, msg))

    def _look_at(self, t_s: float, eng: Engagement, view: TrackView) -> SapientMessage:
        name = f"engagement {eng.eng_id}: aim at track {eng.track_id}"
        return self._message(t_s, eng.effector, look_at(view), name)

    def _message(
        self, t_s: float, eff: EffectorSpec, command: dict[str, object], name: str
    ) -> SapientMessage:
        stamp = dt.datetime.fromtimestamp(t_s, tz=dt.UTC).isoformat().replace("+00:00", "Z")
        body = {
            "timestamp": stamp,
            "nodeId": self.fusion_node_id,
            "destinationId": eff.node_id,
            "task": {
                "taskId": new_ulid(t_s, self._rng),
                "taskName": name,
                "control": "CONTROL_START",
                "command": command,
            },
        }
        return json_format.ParseDict(body, SapientMessage())

    def _interlock(self, t_s: float, eng: Engagement) -> None:
        """Stand an engagement down at once when it has become unsafe for others.

        Each cycle the engaged option is judged again; if a block for others' safety now holds
        (a manned aircraft inside a GNSS jammer's reach, a track in a hard kill's line of fire,
        debris that would fall in a no-fire area), the effector is sent to Standby and the
        engagement ends as ceased. Stopping force needs nobody's approval; starting it again
        does.
        """
        view = self._views.get(eng.watches[0].track_id) if eng.watches else None
        if view is None:
            return
        fresh = self._options([view], [eng.effector], t_s)[0][0]
        if not fresh.safety:
            return
        eng.state, eng.reason = (
            EngagementState.CEASED,
            "safety interlock: " + "; ".join(fresh.safety),
        )
        self._standby(t_s, eng)
        self._eng_event(t_s, "interlock", eng, eng.reason)

    def _acks(self, t_s: float, eng: Engagement, node: NodeState | None) -> None:
        if node is None or eng.engage_task_id is None or eng.state is not EngagementState.TASKED:
            return
        status = node.task_acks.get(eng.engage_task_id)
        if status == "TASK_STATUS_ACCEPTED":
            eng.state = EngagementState.ENGAGING
            self._eng_event(t_s, "engaging", eng, eng.effector.name)
        elif status in ("TASK_STATUS_REJECTED", "TASK_STATUS_FAILED"):
            eng.state, eng.reason = EngagementState.REFUSED, status
            self._eng_event(t_s, "refused", eng, f"{eng.effector.name}: {status}")

    # --- assessment ---------------------------------------------------------------------------

    def _assess(self, t_s: float, eng: Engagement) -> None:
        """Judge every drone the engagement follows; it ends once all are judged."""
        for w in eng.watches:
            if w.outcome is None and self._judge(t_s, eng, w):
                ctx = self._contexts.get(w.track_id)
                if ctx is not None and w.outcome == "no_effect":
                    ctx.failed_kinds.add(eng.effector.kind)
                elif ctx is not None and w.outcome in ("landing", "leaving"):
                    ctx.neutralised = w.outcome
                if w is not eng.watches[0]:
                    self._eng_event(
                        t_s, "covered_assessed", eng, w.outcome or "", track_id=w.track_id
                    )
        if any(w.outcome is None for w in eng.watches):
            return
        primary = eng.watches[0]
        eng.track_id = primary.track_id
        eng.state, eng.outcome, eng.outcome_t_s = EngagementState.ASSESSED, primary.outcome, t_s
        self._standby(t_s, eng)
        self._eng_event(t_s, "assessed", eng, primary.outcome or "")

    def _judge(self, t_s: float, eng: Engagement, w: Watch) -> bool:
        """Update one drone's watch from the picture; True once its outcome is known."""
        view = self._views.get(w.track_id)
        last = w.last
        outcome: str | None = None
        if view is None:
            # Kinetic effects bring a drone down fast; a jammed one comes down by landing,
            # which is seen before the track ends (a noisy climb rate alone is no proof).
            kinetic = eng.effector.kind not in JAMMERS
            falling = last is not None and (
                last.up_m < LOW_M or (kinetic and w.fall >= FALL_CYCLES)
            )
            if w.lost_t_s is None:
                w.lost_t_s = t_s
            view = None if falling else self._handover(t_s, eng, w)
            if view is None and not falling and t_s - w.lost_t_s < HANDOVER_S:
                return False  # the drone may be picked up again by a new track
            if view is None:
                outcome = "down" if falling else "lost"
        if view is not None:
            rng = math.dist((view.east_m, view.north_m, view.up_m), eng.effector.enu_m)
            w.slow = w.slow + 1 if view.speed_ms < HOVER_MS else 0
            # A multirotor landing sinks nearly straight down.
            sinking = view.climb_ms < -DESCEND_MS and view.speed_ms < LANDING_GROUND_MS
            w.sink = w.sink + 1 if sinking else 0
            if w.sink == 1:
                w.sink_from_m = view.up_m
            dropped = w.sink_from_m - view.up_m if w.sink else 0.0
            w.fall = w.fall + 1 if view.climb_ms < -FALL_MS else 0
            away = view.time_to_breach_s is None and not view.zones_inside
            receding = not math.isnan(w.last_range_m) and rng > w.last_range_m
            w.away = w.away + 1 if away and receding else 0
            w.last_range_m, w.last = rng, view
            # What the track does is reported whenever it shows: a drone that lands or turns
            # away has done so, whoever made it. Hovering (drones hover by themselves) and "no
            # effect" are only judged once this effector could have acted.
            spec = eng.effector
            ready = spec.ready_s if w is eng.watches[0] else 0.0
            could_act = t_s >= w.since_t_s + max(ready, w.expected_s - EARLY_S)
            if w.sink >= DESCEND_CYCLES and dropped >= LANDING_DROP_M:
                outcome = "landing"
            elif w.away >= LEAVE_CYCLES:
                outcome = "leaving"
            elif w.holding or not could_act:
                return False
            elif w.slow >= HOVER_CYCLES and spec.kind in JAMMERS and not w.was_slow:
                # Held, not ended: the jammer keeps its link down while the drone hovers (a
                # drone over the runway is still there), so the engagement goes on, and the
                # track may be proposed for a kinetic follow-up.
                w.holding = True
                if w is eng.watches[0]:
                    eng.outcome = "hovering"
                self._eng_event(t_s, "holding", eng, spec.name, track_id=w.track_id)
                return False
            elif t_s - w.since_t_s > w.expected_s + ASSESS_GRACE_S:
                # A drone already turning away is given time to show it is leaving.
                late = t_s - w.since_t_s > w.expected_s + 2 * ASSESS_GRACE_S
                if w.away == 0 or late:
                    outcome = "no_effect"
        if outcome is None:
            return False
        w.outcome, w.outcome_t_s = outcome, t_s
        return True

    def _handover(self, t_s: float, eng: Engagement, w: Watch) -> TrackView | None:
        """A new track where a followed one was lost: the same drone, most likely.

        A manoeuvre the effect caused (a hard stop, a turn for home) can break a track; the
        engagement follows the drone onto a track started since, near where it was last seen.
        """
        last = w.last
        if last is None or w.lost_t_s is None:
            return None
        reach = HANDOVER_M + HANDOVER_SPEED_MS * (t_s - last.t_s)
        taken = self._followed()
        best, best_d = None, reach
        for v in self._views.values():
            ctx = self._contexts.get(v.track_id)
            if v.track_id in taken or friendly(v) or v.object_class in ("aircraft", "bird"):
                continue
            if ctx is None or ctx.first_seen_t_s < w.lost_t_s - HANDOVER_NEW_S:
                continue
            d = math.dist((v.east_m, v.north_m, v.up_m), (last.east_m, last.north_m, last.up_m))
            if d <= best_d:
                best, best_d = v, d
        if best is not None:
            old, w.track_id, w.lost_t_s = w.track_id, best.track_id, None
            if w is eng.watches[0]:
                eng.track_id = best.track_id
            self._eng_event(t_s, "handover", eng, f"from track {old}", track_id=best.track_id)
        return best

    def _watched(self) -> set[int]:
        """Tracks an active engagement is acting on and has not judged yet (not to propose).

        A drone a jammer holds hovering is left out: it may be proposed for a follow-up.
        """
        return {
            w.track_id
            for e in self.engagements.values()
            if e.active
            for w in e.watches
            if w.outcome is None and not w.holding
        }

    def _followed(self) -> set[int]:
        """Tracks any active engagement follows, held ones too (not to take twice)."""
        return {
            w.track_id
            for e in self.engagements.values()
            if e.active
            for w in e.watches
            if w.outcome is None
        }

    def _cover(self, t_s: float, eng: Engagement) -> None:
        """Take under a jammer's engagement every other drone its beam already reaches.

        A jammer radiates over its whole beam: the drones of a swarm inside it are being jammed
        already, so each is followed and judged by this engagement instead of being proposed
        again, one by one, to an operator who has already decided.
        """
        primary = self._views.get(eng.watches[0].track_id)
        if primary is None:
            return
        site = np.array([eng.effector.enu_m], dtype=float)
        boresight = math.degrees(
            math.atan2(primary.east_m - site[0, 0], primary.north_m - site[0, 1])
        )
        taken = self._followed()
        cand = [
            v
            for v in self._views.values()
            if eligible(v)
            and v.track_id not in taken
            and self._contexts[v.track_id].neutralised is None
        ]
        if not cand:
            return
        inside = in_sector(
            np.array([[v.east_m, v.north_m, v.up_m] for v in cand]),
            site,
            np.array([boresight]),
            np.array([eng.effector.beamwidth_deg]),
            np.array([eng.effector.max_range_m]),
            np.zeros(1),
        )[:, 0]
        for v, hit in zip(cand, inside, strict=True):
            if hit:
                eng.watches.append(_watch(v, t_s, LINK_LOSS_ASSUMED_S, eng.effector))
                self._eng_event(t_s, "covered", eng, eng.effector.name, track_id=v.track_id)

    def summary(self, rel_s: float = 0.0) -> dict[str, object]:
        """Recommendations and engagements, JSON-ready (times minus ``rel_s``)."""

        def t(v: float | None) -> float | None:
            return None if v is None else round(v - rel_s, 1)

        effectors = [EffectorSnapshot.of(e, self.states.get(e.name)) for e in self.effectors]
        return {
            "effectors": {
                snap.name: {
                    "kind": snap.kind,
                    "node_id": snap.node_id,
                    "online": snap.online,
                    "shots_left": snap.shots_left,
                    "busy_with": snap.busy_with,
                }
                for snap in effectors
            },
            "recommendations": [
                {
                    "rec_id": r.rec_id,
                    "track_id": r.track_id,
                    "created_t_s": t(r.created_t_s),
                    "state": r.state,
                    "decided_by": r.decided_by,
                    "reason": r.reason,
                    "options": [o.as_dict() for o in r.options],
                }
                for r in self.recommendations.values()
            ],
            "engagements": [
                {
                    "eng_id": e.eng_id,
                    "rec_id": e.rec_id,
                    "track_id": e.track_id,
                    "effector": e.effector.name,
                    "kind": e.effector.kind,
                    "approved_by": e.approved_by,
                    "approved_t_s": t(e.approved_t_s),
                    "state": e.state,
                    "outcome": e.outcome,
                    "outcome_t_s": t(e.outcome_t_s),
                    "covered": {str(w.track_id): w.outcome for w in e.watches[1:]},
                }
                for e in self.engagements.values()
            ],
        }

    # --- records ------------------------------------------------------------------------------

    def _eng_event(
        self, t_s: float, kind: str, eng: Engagement, detail: str = "", track_id: int | None = None
    ) -> None:
        """An event about an engagement: its track (or ``track_id``), recommendation and id."""
        tid = eng.track_id if track_id is None else track_id
        self._event(t_s, kind, tid, rec_id=eng.rec_id, eng_id=eng.eng_id, detail=detail)

    def _event(
        self,
        t_s: float,
        kind: str,
        track_id: int,
        rec_id: int | None = None,
        eng_id: int | None = None,
        detail: str = "",
        payload: dict[str, object] | None = None,
    ) -> None:
        self.events.append(CounterEvent(t_s, kind, track_id, rec_id, eng_id, detail))
        self._audit(
            t_s,
            f"counter.{kind}",
            {
                "track_id": track_id,
                "rec_id": rec_id,
                "eng_id": eng_id,
                "detail": detail,
                **(payload or {}),
            },
        )

    def _audit(self, t_s: float, kind: str, payload: dict[str, object]) -> None:
        if self.audit is not None:
            self.audit(t_s, kind, payload)
