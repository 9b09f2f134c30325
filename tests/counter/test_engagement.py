"""The counter stage's life cycle: recommend, authorise, task over SAPIENT, assess, audit."""

from __future__ import annotations

import pytest

from luchtwacht.counter.authority import (
    Authority,
    OperatorAccount,
    PermissionDenied,
    hash_password,
)
from luchtwacht.counter.catalogue import ENGAGE_MODE, STANDBY_MODE, EffectorSpec
from luchtwacht.counter.engagement import (
    ASSESS_GRACE_S,
    HOLD_S,
    CounterError,
    CounterUas,
)
from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID, NodeState, SapientMessage
from luchtwacht.ingest.sapient_rules import validate
from luchtwacht.model.track import ThreatLevel, TrackView
from tests.counter.helpers import T0, effector, online, view

PW = "correct horse battery"
HASH = hash_password(PW, n=2**10)


class Stage:
    """A counter stage with one effector, three accounts and an audit list."""

    def __init__(self, spec: EffectorSpec, **kw: object) -> None:
        self.audit: list[tuple[float, str, dict[str, object]]] = []
        accounts = [
            OperatorAccount("cmdr", "commander", HASH),
            OperatorAccount("op", "operator", HASH),
            OperatorAccount("eye", "viewer", HASH),
        ]
        self.auth = Authority(accounts, audit=lambda t, k, p: self.audit.append((t, k, p)))
        self.spec = spec
        self.cu = CounterUas(
            DEFAULT_FUSION_NODE_ID, [spec], self.auth, audit=lambda t, k, p: self.audit.append((t, k, p)),
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        self.node = online(spec)
        self.t = T0

    def token(self, user: str) -> str:
        return self.auth.authenticate(user, PW, self.t).token

    def step(self, *views: TrackView, dt: float = 1.0) -> None:
        self.t += dt
        self.node.last_status_t_s = self.t
        self.cu.update(self.t, list(views), {self.spec.node_id: self.node})

    def kinds(self) -> list[str]:
        return [k for _, k, _ in self.audit]


def _tasks(cu: CounterUas) -> list[SapientMessage]:
    msgs = [m for _, m in cu.take_tasks()]
    for m in msgs:
        validate(m)  # every task we send passes the ICD rules we hold others to
    return msgs


def test_only_a_commander_may_approve_and_refusals_are_audited() -> None:
    s = Stage(effector("rf_jammer"))
    s.step(view(1, 0, 800))
    (rec,) = s.cu.pending()
    assert rec.options[0].effector == "rf_jammer" and rec.options[0].usable
    with pytest.raises(PermissionDenied):
        s.cu.approve(s.token("op"), rec.rec_id, "rf_jammer", s.t)
    assert "auth.denied" in s.kinds()
    assert s.cu.engagements == {} and _tasks(s.cu) == []  # nothing sent
    eng = s.cu.approve(s.token("cmdr"), rec.rec_id, "rf_jammer", s.t)
    assert eng.approved_by == "cmdr" and eng.state == "tasked"
    assert rec.state == "approved" and s.cu.pending() == []
    aim, engage = _tasks(s.cu)
    assert aim.destination_id == s.spec.node_id
    assert aim.task.command.WhichOneof("command") == "look_at"
    assert engage.task.command.mode_change == ENGAGE_MODE
    approved = next(p for _, k, p in s.audit if k == "counter.approved")
    assert approved["by"] == "cmdr" and approved["role"] == "commander"
    assert "counter.tasked" in s.kinds()


def test_a_viewer_cannot_even_reject_but_an_operator_can() -> None:
    s = Stage(effector("rf_jammer"))
    s.step(view(1, 0, 800))
    (rec,) = s.cu.pending()
    with pytest.raises(PermissionDenied):
        s.cu.reject(s.token("eye"), rec.rec_id, s.t)
    s.cu.reject(s.token("op"), rec.rec_id, s.t, "friendly: police drone")
    assert rec.state == "rejected" and rec.decided_by == "op"
    with pytest.raises(CounterError, match="is rejected"):
        s.cu.approve(s.token("cmdr"), rec.rec_id, "rf_jammer", s.t)


def test_approval_is_judged_again_and_refused_when_blocked() -> None:
    s = Stage(effector("net", max_range_m=300.0))
    s.step(view(1, 0, 200, up=50.0))
    (rec,) = s.cu.pending()
    assert rec.options[0].usable
    s.node.system = "SYSTEM_ERROR"  # the launcher reports a fault before the decision
    s.step(view(1, 0, 200, up=50.0))
    with pytest.raises(CounterError, match="effector node offline"):
        s.cu.approve(s.token("cmdr"), rec.rec_id, "net", s.t)
    assert "counter.approval_refused" in s.kinds()
    with pytest.raises(CounterError, match="no option"):
        s.cu.approve(s.token("cmdr"), rec.rec_id, "laser", s.t)


def test_effector_ack_moves_to_engaging_and_a_rejection_to_refused() -> None:
    s = Stage(effector("rf_jammer"))
    s.step(view(1, 0, 800))
    eng = s.cu.approve(s.token("cmdr"), s.cu.pending()[0].rec_id, "rf_jammer", s.t)
    _tasks(s.cu)
    assert eng.engage_task_id is not None
    s.node.task_acks[eng.engage_task_id] = "TASK_STATUS_ACCEPTED"
    s.step(view(1, 0, 800, speed=8.0, heading=180.0))
    assert eng.state == "engaging"
    # Each cycle while engaging, the effector is re-aimed at the fused track.
    (aim,) = _tasks(s.cu)
    assert aim.task.command.WhichOneof("command") == "look_at"

    s2 = Stage(effector("rf_jammer"))
    s2.step(view(1, 0, 800))
    e2 = s2.cu.approve(s2.token("cmdr"), s2.cu.pending()[0].rec_id, "rf_jammer", s2.t)
    assert e2.engage_task_id is not None
    s2.node.task_acks[e2.engage_task_id] = "TASK_STATUS_REJECTED"
    s2.step(view(1, 0, 800))
    assert e2.state == "refused" and not e2.active
    # The effector is free again and the track gets a new recommendation.
    assert s2.cu.pending() and s2.cu.pending()[0].options[0].usable


def _engaged(spec: EffectorSpec, first: TrackView) -> tuple[Stage, int]:
    s = Stage(spec)
    s.step(first)
    eng = s.cu.approve(s.token("cmdr"), s.cu.pending()[0].rec_id, spec.name, s.t)
    assert eng.engage_task_id is not None
    s.node.task_acks[eng.engage_task_id] = "TASK_STATUS_ACCEPTED"
    _tasks(s.cu)
    return s, eng.eng_id


def test_a_jammed_drone_that_stops_is_held_hovering_until_it_comes_down() -> None:
    s, eid = _engaged(effector("rf_jammer"), view(1, 0, 800, speed=10.0, heading=180.0))
    for k in range(4):
        s.step(view(1, 0, 790 - 10 * k, speed=10.0, heading=180.0))
    assert s.cu.engagements[eid].outcome is None
    for _ in range(6):
        s.step(view(1, 0, 750, speed=0.3, threat=ThreatLevel.CRITICAL, zones=("runway",)))
    eng = s.cu.engagements[eid]
    # Held: the jammer keeps the link down; the drone is still over the runway.
    assert eng.outcome == "hovering" and eng.state == "engaging"
    assert "counter.holding" in s.kinds()
    assert all(m.task.command.WhichOneof("command") == "look_at" for m in _tasks(s.cu))
    # …so the track may be proposed for a follow-up; the jammer itself is busy holding it.
    (rec,) = s.cu.pending()
    assert rec.track_id == 1
    assert rec.options[0].blocked_by == (f"busy with engagement {eid}",)
    for k in range(6):  # it comes down (its battery, a net …): the hold ends
        s.step(view(1, 0, 750, up=80.0 - 3.0 * k, speed=0.3, climb=-3.0))
    assert eng.outcome == "landing" and eng.state == "assessed"
    standby = _tasks(s.cu)[-1]
    assert standby.task.command.mode_change == STANDBY_MODE
    assert ("counter.assessed", "landing") in [
        (k, p["detail"]) for _, k, p in s.audit if k == "counter.assessed"
    ]


def test_a_drone_that_sinks_is_landing_and_one_that_drops_out_falling_is_down() -> None:
    s, eid = _engaged(effector("rf_jammer"), view(1, 0, 800, speed=10.0, heading=180.0))
    for k in range(3):  # a noisy climb rate on a hovering drone is not a landing
        s.step(view(1, 0, 700, up=80.0 - 0.5 * k, speed=0.5, climb=-2.0))
    assert s.cu.engagements[eid].outcome is None
    for k in range(5):  # 10 m and more down, sinking all the while: it lands
        s.step(view(1, 0, 700, up=78.0 - 3.0 * k, speed=0.5, climb=-3.0))
    assert s.cu.engagements[eid].outcome == "landing"

    hk = effector("hard_kill", at=(0.0, 0.0, 2.0))
    s, eid = _engaged(hk, view(1, 0, 600, speed=10.0, heading=180.0))
    s.step(view(1, 0, 590, up=70.0, speed=3.0, climb=-9.0))
    s.step()  # one falling look and gone: not enough, it may be a new track's business
    assert s.cu.engagements[eid].active
    s2, eid2 = _engaged(hk, view(1, 0, 600, speed=10.0, heading=180.0))
    s2.step(view(1, 0, 590, up=70.0, speed=6.0, climb=-9.0))
    s2.step(view(1, 0, 585, up=55.0, speed=4.0, climb=-13.0))
    s2.step()  # two falling looks, then gone: down
    assert s2.cu.engagements[eid2].outcome == "down"


def test_no_change_by_the_deadline_is_no_effect_and_the_kind_is_doubted_after() -> None:
    spec = effector("rf_jammer")
    s, eid = _engaged(spec, view(1, 0, 800, speed=5.0, heading=180.0))
    eng = s.cu.engagements[eid]
    n = int(eng.expected_effect_s + ASSESS_GRACE_S) + 2
    for k in range(n):
        s.step(view(1, 0, 795 - 5 * k, speed=5.0, heading=180.0, ttb=100.0))
    assert eng.outcome == "no_effect"
    s.step(view(1, 0, 700, speed=5.0, heading=180.0, ttb=100.0))
    (rec,) = s.cu.pending()
    (opt,) = rec.options
    assert opt.doubt and "rf_jammer had no effect on this track before" in opt.warnings


def test_a_track_lost_mid_engagement_is_handed_over_to_the_new_track_there() -> None:
    s, eid = _engaged(effector("rf_jammer"), view(1, 0, 800, speed=10.0, heading=180.0))
    s.step(view(1, 0, 790, speed=10.0, heading=180.0))
    s.step()  # lost in a hard turn
    assert s.cu.engagements[eid].active
    s.step(view(9, 20, 780, speed=6.0, heading=0.0))  # a new track where it was
    eng = s.cu.engagements[eid]
    assert eng.track_id == 9 and "counter.handover" in s.kinds()


def test_recommendation_rides_out_a_flicker_then_expires() -> None:
    s = Stage(effector("rf_jammer"))
    s.step(view(1, 0, 800))
    (rec,) = s.cu.pending()
    s.step(view(1, 0, 800, threat=ThreatLevel.MEDIUM))
    s.step(view(1, 0, 800))
    assert s.cu.pending() == [rec]  # the same one: the operator's clock did not restart
    for _ in range(int(HOLD_S) + 1):
        s.step(view(1, 0, 800, threat=ThreatLevel.MEDIUM))
    assert rec.state == "expired" and rec.reason == "no longer a threat"
    s.step(view(1, 0, 800))
    (new,) = s.cu.pending()
    s.step()
    assert new.state == "expired" and new.reason == "track dropped"


def test_cease_needs_the_right_and_stands_the_effector_down() -> None:
    s, eid = _engaged(effector("rf_jammer"), view(1, 0, 800))
    with pytest.raises(PermissionDenied):
        s.cu.cease(s.token("eye"), eid, s.t)
    s.cu.cease(s.token("op"), eid, s.t, "aircraft on approach")
    assert s.cu.engagements[eid].state == "ceased"
    (standby,) = _tasks(s.cu)
    assert standby.task.command.mode_change == STANDBY_MODE
    with pytest.raises(CounterError, match="not active"):
        s.cu.cease(s.token("op"), eid, s.t)


def test_effector_magazine_and_silence_come_from_its_sapient_status() -> None:
    spec = effector("net", max_range_m=400.0)
    s = Stage(spec)
    s.node = online(spec, magazine=0)
    s.step(view(1, 0, 200, up=50.0))
    assert s.cu.states["net"].shots_left == 0
    assert "magazine empty" in s.cu.pending()[0].options[0].blocked_by
    s.node = online(spec, magazine=3)
    s.step(view(1, 0, 200, up=50.0))
    assert s.cu.states["net"].shots_left == 3 and s.cu.states["net"].online
    s.node = NodeState(spec.node_id)  # never registered
    s.t += 1
    s.cu.update(s.t, [view(1, 0, 200, up=50.0)], {spec.node_id: s.node})
    assert not s.cu.states["net"].online


def test_a_neutralised_drone_is_not_proposed_again_until_it_flies_on() -> None:
    s, eid = _engaged(effector("rf_jammer"), view(1, 0, 800, speed=10.0, heading=180.0, ttb=30))
    for k in range(10):  # it turns for home: no breach predicted, further every cycle
        s.step(view(1, 0, 810 + 10 * k, speed=10.0, heading=0.0))
    assert s.cu.engagements[eid].outcome == "leaving"
    for k in range(5):  # still a HIGH threat now and then (near), but going: no new proposal
        s.step(view(1, 0, 910 + 10 * k, speed=10.0, heading=0.0))
    assert s.cu.pending() == []
    s.step(view(1, 0, 950, speed=10.0, heading=180.0, ttb=50.0))  # one look back: noise
    assert "counter.resumed" not in s.kinds()
    for _ in range(3):  # it comes back for good: propose again
        s.step(view(1, 0, 940, speed=10.0, heading=180.0, ttb=50.0))
    assert "counter.resumed" in s.kinds()
    (rec,) = s.cu.pending()
    assert rec.track_id == 1


def test_a_jammer_takes_the_other_drones_in_its_beam_under_the_same_engagement() -> None:
    jam = effector("rf_jammer", beamwidth_deg=60.0)
    lead = view(1, 0, 800, speed=10.0, heading=180.0)
    s, eid = _engaged(jam, lead)
    wing = view(2, 100, 850, speed=10.0, heading=180.0)  # 7° off the boresight: in the beam
    other = view(3, 800, 0, speed=10.0, heading=270.0)  # due east: outside it
    s.step(lead, wing, other)
    eng = s.cu.engagements[eid]
    assert eng.covered == [2]
    assert "counter.covered" in s.kinds()
    assert [r.track_id for r in s.cu.pending()] == [3]  # only the one the beam misses
    # The wingman hovers (its link is gone); the lead turns for home.
    for k in range(9):
        s.step(
            view(1, 0, 790 + 10 * k, speed=10.0, heading=0.0),
            view(2, 100, 840, speed=0.3),
            view(3, 790 - 10 * k, 0, speed=10.0, heading=270.0),
        )
    assert [w.outcome for w in eng.watches] == ["leaving", None]
    assert eng.watches[1].holding and eng.state == "engaging"  # still holding the wingman
    for k in range(6):  # the wingman comes down; the hold ends and so does the engagement
        s.step(view(2, 100, 840, up=80.0 - 3.0 * k, speed=0.3, climb=-3.0))
    assert [w.outcome for w in eng.watches] == ["leaving", "landing"]
    assert eng.state == "assessed" and eng.outcome == "leaving"
    engagements = s.cu.summary()["engagements"]
    assert isinstance(engagements, list)
    assert [e["covered"] for e in engagements] == [{"2": "landing"}]


def test_an_engagement_stands_down_by_itself_when_it_becomes_unsafe_for_others() -> None:
    gnss = effector("gnss_jammer", max_range_m=1000.0)
    drone = view(1, 0, 500, speed=5.0, heading=180.0)
    s, eid = _engaged(gnss, drone)
    s.step(drone)
    assert s.cu.engagements[eid].state == "engaging"
    # A helicopter with ADS-B comes within the jammer's reach plus its 2 km margin.
    heli = view(7, 2500, 0, up=300.0, cls="aircraft", coop=True, icao="4840D6")
    s.step(view(1, 0, 495, speed=5.0, heading=180.0), heli)
    eng = s.cu.engagements[eid]
    assert eng.state == "ceased" and not eng.active
    assert eng.reason == "safety interlock: manned aircraft 4840D6 within GNSS jamming range"
    (standby,) = [m for m in _tasks(s.cu) if m.task.command.WhichOneof("command") == "mode_change"]
    assert standby.task.command.mode_change == STANDBY_MODE
    assert "counter.interlock" in s.kinds()
    # Starting again needs a new approval, and the option is blocked while the aircraft is there.
    (rec,) = s.cu.pending()
    gnss_opt = rec.options[0]
    assert not gnss_opt.usable and gnss_opt.safety
    with pytest.raises(CounterError, match="manned aircraft"):
        s.cu.approve(s.token("cmdr"), rec.rec_id, "gnss_jammer", s.t)


def test_a_track_known_for_a_friend_loses_its_recommendation_at_once() -> None:
    s = Stage(effector("rf_jammer"))
    s.step(view(1, 0, 800))
    (rec,) = s.cu.pending()
    token = s.token("cmdr")
    s.step(view(1, 0, 800, coop=True, threat=ThreatLevel.NONE, uas_id="1581F5FJD229V00QZ7"))
    assert rec.state == "expired" and rec.reason == "identified: 1581F5FJD229V00QZ7"
    with pytest.raises(CounterError, match="is expired"):
        s.cu.approve(token, rec.rec_id, "rf_jammer", s.t)


def test_decided_recommendations_beyond_the_limit_are_forgotten_pending_ones_never():
    """A node up for weeks: the oldest decided recommendations go, the waiting ones stay."""
    from luchtwacht.model.engagement import Recommendation, RecommendationState

    s = Stage(effector("rf_jammer"))
    for k in range(1, 13):
        state = RecommendationState.PENDING if k in (1, 12) else RecommendationState.REJECTED
        s.cu.recommendations[k] = Recommendation(k, k, T0, T0, [], state=state)
    s.cu._forget(5)
    assert sorted(s.cu.recommendations) == [1, 9, 10, 11, 12]
    assert s.cu.events.maxlen is not None  # events are a bounded window too
