"""Swarm grouping (threat.swarm) and the swarm alert (threat.alerts)."""

from __future__ import annotations

import dataclasses

import numpy as np

from luchtwacht.model.track import AlertState, ThreatLevel, TrackView
from luchtwacht.texts import say
from luchtwacht.threat.alerts import AlertManager
from luchtwacht.threat.swarm import NO_SWARM, SwarmConfig, SwarmTracker, link_components


def grid(n: int, spacing_m: float, origin: tuple[float, float], vel: tuple[float, float]):
    """``n`` tracks in a square-ish grid, all at one velocity."""
    side = int(np.ceil(np.sqrt(n)))
    k = np.arange(n)
    pos = np.column_stack(
        [origin[0] + spacing_m * (k % side), origin[1] + spacing_m * (k // side), np.full(n, 80.0)]
    )
    v = np.tile([vel[0], vel[1], 0.0], (n, 1))
    return pos, v


def test_a_group_forms_and_keeps_its_id_as_it_moves() -> None:
    pos, vel = grid(12, 20.0, (0.0, 0.0), (-15.0, 0.0))
    ids = np.arange(100, 112)
    st = SwarmTracker()
    out = st.update(ids, pos, vel, np.ones(12, dtype=bool))
    assert len(set(out.tolist())) == 1 and out[0] != NO_SWARM
    first = int(out[0])
    for step in range(1, 30):  # 30 s at 15 m/s, jittered positions and velocities
        rng = np.random.default_rng(step)
        p = pos + vel * step + rng.normal(0, 3.0, pos.shape)
        v = vel + rng.normal(0, 0.7, vel.shape)
        out = st.update(ids, p, v, np.ones(12, dtype=bool))
        assert out.tolist() == [first] * 12


def test_two_far_groups_are_two_swarms_and_a_loner_is_none() -> None:
    p1, v1 = grid(6, 20.0, (0.0, 0.0), (10.0, 0.0))
    p2, v2 = grid(5, 20.0, (2000.0, 0.0), (10.0, 0.0))
    pos = np.vstack([p1, p2, [[-3000.0, 0.0, 80.0]]])
    vel = np.vstack([v1, v2, [[10.0, 0.0, 0.0]]])
    out = SwarmTracker().update(np.arange(12), pos, vel, np.ones(12, dtype=bool))
    assert len(set(out[:6].tolist())) == 1 and len(set(out[6:11].tolist())) == 1
    assert out[0] != out[6] and NO_SWARM not in out[:11].tolist()
    assert out[11] == NO_SWARM


def test_swarm_splits_when_members_diverge_larger_part_keeps_the_id() -> None:
    pos, vel = grid(9, 20.0, (0.0, 0.0), (0.0, 15.0))
    ids = np.arange(9)
    st = SwarmTracker()
    first = int(st.update(ids, pos, vel, np.ones(9, dtype=bool))[0])
    # Three members (one grid row) turn east at 15 m/s; the other six fly on north.
    turn = np.zeros(9, dtype=bool)
    turn[6:] = True
    v = vel.copy()
    v[turn] = [15.0, 0.0, 0.0]
    out = np.empty(0, dtype=np.int64)
    for step in range(1, 20):
        p = pos + v * step
        out = st.update(ids, p, v, np.ones(9, dtype=bool))
    assert out[~turn].tolist() == [first] * 6  # the larger part keeps the swarm's id
    assert len(set(out[turn].tolist())) == 1 and out[6] not in (first, NO_SWARM)


def test_a_crossing_track_at_another_velocity_is_not_a_member() -> None:
    pos, vel = grid(6, 20.0, (0.0, 0.0), (-15.0, 0.0))
    pos = np.vstack([pos, [[20.0, 10.0, 80.0]]])  # right among them, flying north
    vel = np.vstack([vel, [[0.0, 15.0, 0.0]]])
    out = SwarmTracker().update(np.arange(7), pos, vel, np.ones(7, dtype=bool))
    assert out[6] == NO_SWARM and len(set(out[:6].tolist())) == 1


def test_birds_flocking_are_no_drone_swarm() -> None:
    pos, vel = grid(20, 5.0, (0.0, 0.0), (8.0, 2.0))
    eligible = np.zeros(20, dtype=bool)  # the fusion core passes drone-classed tracks only
    eligible[:2] = True  # two of them classed drones: still no swarm (fewer than three)
    out = SwarmTracker().update(np.arange(20), pos, vel, eligible)
    assert (out == NO_SWARM).all()


def test_hysteresis_keeps_a_member_that_drifts_just_beyond_the_link() -> None:
    cfg = SwarmConfig(link_m=50.0, keep_factor=1.5)
    pos, vel = grid(4, 40.0, (0.0, 0.0), (10.0, 0.0))
    st = SwarmTracker(cfg)
    first = st.update(np.arange(4), pos, vel, np.ones(4, dtype=bool))
    assert len(set(first.tolist())) == 1
    wide = pos * 1.5  # 60 m apart: beyond the link, within 1.5 × it
    assert st.update(np.arange(4), wide, vel, np.ones(4, dtype=bool)).tolist() == first.tolist()
    n, _ = link_components(wide, vel, np.full(4, NO_SWARM), cfg)
    assert n == 4  # a fresh look would not have grouped them


def test_memory_is_bounded_by_the_current_swarms() -> None:
    st = SwarmTracker()
    for k in range(50):  # a new swarm every cycle, the old one gone
        pos, vel = grid(5, 20.0, (k * 5000.0, 0.0), (10.0, 0.0))
        st.update(np.arange(k * 5, k * 5 + 5), pos, vel, np.ones(5, dtype=bool))
    assert st._ids.size == 5 and len(set(st._sids.tolist())) == 1


def member(tid: int, swarm: int | None, ttb: float | None, inside: bool = False) -> TrackView:
    return TrackView(
        tid, 0.0, 52.0, 5.0, 100.0, 0, 0, 100, 15, 270, 0, "drone", 0.9, False, None,
        ThreatLevel.HIGH, ("runway",) if inside else (), ttb, 5.0, swarm_id=swarm,
    )  # fmt: skip


def test_a_swarm_raises_one_alert_naming_every_member() -> None:
    am = AlertManager(confirm_s=2.0)
    warn = {"runway": 60.0}
    # Fourteen members; only the front three are within the warning time yet.
    ttb_s = [40.0 + t if t < 3 else 90.0 for t in range(14)]
    views = [member(t, 3, ttb_s[t]) for t in range(14)]
    ttb = {t: {"runway": s} for t, s in enumerate(ttb_s) if s < 60}
    assert am.update(0.0, views, warn, ttb) == []  # not held for confirm_s yet
    ev = am.update(2.0, views, warn, ttb)
    assert [e.kind for e in ev] == ["raised"]
    alert = ev[0].alert
    assert alert.swarm_id == 3 and alert.members == tuple(range(14))
    assert alert.track_id == 0 and alert.level is ThreatLevel.HIGH
    assert alert.message == say("alert.swarm_approach", swarm=3, n=14, zone="runway", s="40")
    assert len(am.open_alerts) == 1  # not fourteen


def test_swarm_alert_follows_membership_escalates_and_clears() -> None:
    am = AlertManager(confirm_s=0.0, clear_hold_s=5.0)
    warn = {"runway": 60.0}
    views = [member(t, 1, 30.0) for t in range(5)]
    ttb = {t: {"runway": 30.0} for t in range(5)}
    (raised,) = am.update(0.0, views, warn, ttb)
    views.append(member(9, 1, 30.0))  # a sixth drone joins
    ttb[9] = {"runway": 30.0}
    (ev,) = am.update(0.1, views, warn, ttb)
    assert ev.kind == "updated" and ev.alert.members == (0, 1, 2, 3, 4, 9)
    views[0] = member(0, 1, 0.0, inside=True)
    (ev,) = am.update(0.2, views, warn, ttb)
    assert ev.kind == "escalated" and ev.alert.level is ThreatLevel.CRITICAL
    assert ev.alert.message == say("alert.swarm_breach", swarm=1, n=6, k=1, zone="runway")
    (ev,) = am.update(0.3, [], warn, {})  # every member gone
    assert ev.kind == "cleared" and ev.alert.state is AlertState.CLEARED
    assert raised.alert.alert_id == ev.alert.alert_id


def test_a_member_leaving_the_swarm_alerts_on_its_own_at_once() -> None:
    am = AlertManager(confirm_s=2.0)
    warn = {"runway": 60.0}
    views = [member(t, 1, 30.0) for t in range(4)]
    ttb = {t: {"runway": 30.0} for t in range(4)}
    am.update(0.0, views, warn, ttb)
    am.update(2.0, views, warn, ttb)
    views[3] = dataclasses.replace(views[3], swarm_id=None)
    ev = am.update(2.1, views, warn, ttb)
    # Its condition held for 2.1 s already: its own alert is raised now, not 2 s later.
    assert [(e.kind, e.alert.track_id, e.alert.swarm_id) for e in ev] == [
        ("raised", 3, None),
        ("updated", 0, 1),
    ]
    assert ev[1].alert.members == (0, 1, 2)


def test_the_swarms_condition_holds_while_any_member_meets_it_whichever() -> None:
    am = AlertManager(confirm_s=2.0)
    warn = {"runway": 60.0}
    raised = []
    for k in range(25):  # every 0.1 s another member is the one within the warning time
        t = 0.1 * k
        lead = k % 4
        views = [member(i, 5, 59.0 if i == lead else 61.0) for i in range(4)]
        raised += am.update(t, views, warn, {lead: {"runway": 59.0}})
    # No member held the condition for 2 s, the swarm did: raised once, at 2 s.
    assert [(e.kind, round(e.t_s, 1), e.alert.swarm_id) for e in raised] == [("raised", 2.0, 5)]


def test_a_drone_proposed_for_a_countermeasure_is_alerted_before_the_warning_time() -> None:
    am = AlertManager(confirm_s=0.0)
    warn = {"runway": 60.0}
    far = {1: {"runway": 98.0}, 2: {"runway": 98.0}}
    views = [member(1, None, None), member(2, None, None)]
    assert am.update(0.0, views, warn, far) == []  # 98 s out: beyond the warning time
    ev = am.update(0.1, views, warn, far, proposed={1})
    assert [(e.kind, e.alert.track_id) for e in ev] == [("raised", 1)]
    assert ev[0].alert.message == say("alert.approach", track=1, zone="runway", s="98")
    # A proposal with no breach course (no time to breach) raises nothing.
    assert am.update(0.2, views, warn, {1: {"runway": 98.0}}, proposed={2}) == []
