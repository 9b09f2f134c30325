"""Recommend in time: a hostile drone on a breach course is proposed when its best option needs it.

A drone is proposed once its time to breach is within the best usable option's time to effect
plus the operator's reaction time plus a margin (``counter.recommend.due``), not only at threat
HIGH; never a friend, a bird or a drone that merely passes by; and a proposal does not flap.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from luchtwacht.counter.authority import Authority
from luchtwacht.counter.catalogue import EffectorSpec
from luchtwacht.counter.engagement import HOLD_S, CounterUas
from luchtwacht.counter.recommend import (
    PROPOSE_MARGIN_S,
    Option,
    breach_course_s,
    due,
)
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.threat.zones import ZoneGeometry
from tests.counter.helpers import T0, effector, online, view

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
HALF_M = 300.0  # the protected zone: a square ±300 m around the origin, 0–500 m high


def _zone() -> ZoneGeometry:
    corners = np.array([[-HALF_M, -HALF_M], [HALF_M, -HALF_M], [HALF_M, HALF_M], [-HALF_M, HALF_M]])
    lla = ORIGIN.to_geodetic(np.column_stack([corners, np.zeros(4)]))
    verts = tuple((float(a), float(b)) for a, b in lla[:, :2])
    return ZoneGeometry(Zone("runway", verts, 0.0, 500.0, 60.0), ORIGIN)


ZONE = _zone()


class Stage:
    """A counter stage with one online effector, the zone and a reaction time."""

    def __init__(self, spec: EffectorSpec, reaction_s: float = 20.0) -> None:
        self.spec = spec
        self.cu = CounterUas(
            DEFAULT_FUSION_NODE_ID, [spec], Authority([]), zones=[ZONE], reaction_s=reaction_s
        )
        self.node = online(spec)
        self.t = T0

    def step(self, *views: TrackView) -> None:
        self.t += 1.0
        self.node.last_status_t_s = self.t
        self.cu.update(self.t, list(views), {self.spec.node_id: self.node})


def inbound(north: float, speed: float, **kw: object) -> TrackView:
    """A drone north of the zone flying straight south at it, below HIGH (the threat stage's
    warning time has not come), so only the time rule can propose it."""
    return view(1, 0.0, north, speed=speed, heading=180.0, threat=ThreatLevel.MEDIUM, **kw)  # type: ignore[arg-type]


def test_a_slow_drone_with_a_short_range_effector_is_proposed_long_before_high() -> None:
    # 1500 m out at 8 m/s: breach in ~150 s; the net (300 m, just north of the zone) can act
    # only some 40 s before it: too little for the reaction time and the margin later.
    s = Stage(effector("net", at=(0.0, 350.0, 5.0)))
    s.step(inbound(1500.0, 8.0))
    (rec,) = s.cu.pending()  # at once: on the first cycle it is a hostile drone on that course
    assert rec.created_t_s == s.t
    (opt,) = rec.options
    assert opt.usable and opt.before_breach and opt.t_effect_s is not None
    assert 100.0 < opt.t_effect_s < 130.0
    assert rec.why == f"breach in 151 s; net needs {opt.t_effect_s:.0f} s + 20 s to approve"
    assert any(k == "recommended" for k in (e.kind for e in s.cu.events))


def test_a_far_drone_with_a_fast_effector_is_proposed_later() -> None:
    # The RF jammer reaches 1500 m: a drone 1700 m out has time; it is proposed once the
    # jammer's effect plus the reaction time plus the margin come to its time to breach.
    s = Stage(effector("rf_jammer", beamwidth_deg=360.0))
    proposed_at = None
    north = 1700.0
    while north > HALF_M:
        s.step(inbound(north, 8.0))
        if s.cu.pending() and proposed_at is None:
            proposed_at = north
        north -= 8.0
    assert proposed_at is not None
    ttb = (proposed_at - HALF_M) / 8.0
    need = 2.0 + 2.0 + 20.0 + PROPOSE_MARGIN_S  # spin-up, link loss, reaction, margin
    assert need - 2.0 <= ttb <= need + 1.0
    assert proposed_at < 1000.0


def test_a_larger_reaction_time_proposes_earlier() -> None:
    def first(reaction_s: float) -> float:
        s = Stage(effector("rf_jammer", beamwidth_deg=360.0), reaction_s=reaction_s)
        north = 1500.0
        while not s.cu.pending():
            s.step(inbound(north, 8.0))
            north -= 8.0
        return north

    assert first(60.0) > first(20.0) + 200.0


def test_a_drone_flying_past_the_zone_is_never_proposed() -> None:
    s = Stage(effector("net"))
    for k in range(60):  # parallel to the zone's east edge, 400 m off it
        s.step(view(1, 700.0, -800.0 + 8.0 * k, speed=8.0, heading=0.0, threat=ThreatLevel.MEDIUM))
    # …and one heading away from it
    for k in range(10):
        s.step(view(1, 0.0, 900.0 + 8.0 * k, speed=8.0, heading=0.0, threat=ThreatLevel.MEDIUM))
    assert s.cu.pending() == [] and not s.cu.events


def test_one_noisy_heading_of_a_passing_drone_does_not_propose_it() -> None:
    # The course is the mean ground velocity of the last cycles: one heading at the zone in a
    # straight pass 400 m off its edge is not a breach course.
    s = Stage(effector("net", at=(0.0, 350.0, 5.0)))
    for k in range(20):
        heading = 225.0 if k == 10 else 180.0
        s.step(
            view(1, 700.0, 1500.0 - 8.0 * k, speed=8.0, heading=heading, threat=ThreatLevel.MEDIUM)
        )
    assert s.cu.pending() == [] and not s.cu.events


@pytest.mark.parametrize(
    "change",
    [
        {"authorised": True},
        {"own_asset": "Interceptor runway"},
        {"cooperative": True},  # tolerated by the site's policy (not a coop intruder)
        {"object_class": "bird"},
        {"object_class": "aircraft"},
        {"object_class": "unknown"},
    ],
    ids=["authorised", "own", "cooperative-tolerated", "bird", "aircraft", "unknown"],
)
def test_friends_birds_and_others_on_a_breach_course_are_never_proposed(
    change: dict[str, object],
) -> None:
    s = Stage(effector("net", at=(0.0, 350.0, 5.0)))
    for k in range(10):
        s.step(dataclasses.replace(inbound(1500.0 - 8.0 * k, 8.0), **change))  # type: ignore[arg-type]
    assert s.cu.pending() == []


def test_a_cooperative_drone_the_site_calls_an_intruder_is_proposed() -> None:
    s = Stage(effector("net", at=(0.0, 350.0, 5.0)))
    for k in range(3):
        v = inbound(1500.0 - 8.0 * k, 8.0, coop=True, uas_id="1581F5FJD228400A05C3")
        s.step(dataclasses.replace(v, coop_intruder=True))
    assert len(s.cu.pending()) == 1


def test_a_proposal_stands_through_a_course_flicker_and_goes_once_the_drone_has_turned_away() -> (
    None
):
    s = Stage(effector("net", at=(0.0, 350.0, 5.0)))
    s.step(inbound(1500.0, 8.0))
    s.step(inbound(1492.0, 8.0))
    (rec,) = s.cu.pending()
    # A noisy heading for a couple of cycles, then back on course: the same proposal.
    s.step(view(1, 0.0, 1484.0, speed=8.0, heading=120.0, threat=ThreatLevel.MEDIUM))
    s.step(view(1, 0.0, 1476.0, speed=8.0, heading=120.0, threat=ThreatLevel.MEDIUM))
    for k in range(4):
        s.step(inbound(1468.0 - 8.0 * k, 8.0))
    assert s.cu.pending() == [rec]
    # Turned away for good: withdrawn once it has been off the course for the hold time.
    cycles = 0
    while s.cu.pending() and cycles < 30:
        s.step(
            view(1, 0.0, 1440.0 + 8.0 * cycles, speed=8.0, heading=0.0, threat=ThreatLevel.MEDIUM)
        )
        cycles += 1
    assert HOLD_S <= cycles <= HOLD_S + 3
    assert rec.state == "expired" and rec.reason == "no longer a threat"
    assert sum(e.kind == "recommended" for e in s.cu.events) == 1


def test_inside_a_zone_is_proposed_at_once_and_says_so() -> None:
    s = Stage(effector("rf_jammer"))
    s.step(view(1, 0.0, 100.0, threat=ThreatLevel.CRITICAL, zones=("runway",)))
    (rec,) = s.cu.pending()
    assert rec.why == "inside runway"


def _opt(t_effect_s: float | None, usable: bool = True) -> Option:
    return Option("e", "rf_jammer", usable, t_effect_s, True, 1.0, (), (), False, False, ())


def test_due_compares_the_time_to_breach_with_the_best_usable_option() -> None:
    need = 40.0 + 20.0 + PROPOSE_MARGIN_S
    assert due(need, [_opt(40.0)], 20.0) is not None
    assert due(need + 1.0, [_opt(40.0)], 20.0) is None
    assert due(need + 1.0, [_opt(40.0)], 21.0) is not None  # a slower operator: sooner
    # The best usable option counts, not a blocked faster one; no usable option: not due.
    assert due(need + 1.0, [_opt(5.0, usable=False), _opt(40.0)], 20.0) is None
    assert due(10.0, [_opt(5.0, usable=False)], 20.0) is None
    assert due(math.nan, [_opt(40.0)], 20.0) is None  # off a breach course


def test_breach_course_flies_level_beyond_the_warning_time_and_is_zero_inside() -> None:
    # A gently descending drone 1500 m out: its climb rate would take it to the ground first.
    desc = inbound(1500.0, 8.0, climb=-1.5)
    past = view(2, 700.0, 0.0, speed=8.0, heading=0.0)
    inside = view(3, 0.0, 0.0, zones=("runway",))
    ttb = breach_course_s([desc, past, inside], [ZONE])
    assert ttb[0] == pytest.approx((1500.0 - HALF_M) / 8.0, abs=1.0)
    assert math.isnan(ttb[1]) and ttb[2] == 0.0
    assert breach_course_s([], [ZONE]).shape == (0,)


def test_a_course_uncertain_enough_to_breach_is_a_breach_course_and_a_settled_miss_is_not() -> None:
    """A fresh track's course may be 20° off: 2 km north flying 35° west of south, past the
    zone, it is on a breach course while its course is that uncertain; settled (2°) it is not.
    The time is the soonest breach within the uncertainty: straight at the zone's nearest point
    when that lies within it."""
    fresh = dataclasses.replace(
        view(1, 0.0, 2000.0, speed=10.0, heading=180.0 + 35.0), course_std_deg=20.0
    )
    settled = dataclasses.replace(fresh, track_id=2, course_std_deg=2.0)
    unknown = dataclasses.replace(fresh, track_id=3, course_std_deg=None)
    straight = dataclasses.replace(
        view(4, 0.0, 2000.0, speed=10.0, heading=180.0 + 10.0), course_std_deg=20.0
    )
    ttb = breach_course_s([fresh, settled, unknown, straight], [ZONE])
    # Turned by 2σ (40°) to 175° it crosses the north edge some 150 m east of its middle…
    assert 150.0 < ttb[0] < 200.0
    assert math.isnan(ttb[1]) and math.isnan(ttb[2])
    # …and 10° off it may fly straight south at the zone's nearest edge: 1700 m at 10 m/s.
    assert ttb[3] == pytest.approx((2000.0 - HALF_M) / 10.0, abs=1.0)


def test_a_manned_aircraft_that_will_be_in_gnss_reach_when_the_effect_begins_blocks_it() -> None:
    from luchtwacht.counter.recommend import options_for

    gnss = effector("gnss_jammer", max_range_m=1000.0)
    drone = inbound(3000.0, 20.0)  # in reach in ~100 s
    # An airliner 9 km east now, flying west at 80 m/s: over the jammer when the drone arrives.
    coming = view(2, 9000.0, 0.0, up=600.0, speed=80.0, heading=270.0, cls="aircraft", coop=True)
    going = dataclasses.replace(coming, heading_deg=90.0)
    others = [drone, coming]
    (opts,) = options_for([drone], [gnss], {}, others, [], {}, T0, False)
    assert not opts[0].usable and opts[0].safety
    (opts,) = options_for([drone], [gnss], {}, [drone, going], [], {}, T0, False)
    assert opts[0].usable
    # One that only passes through the reach before the effect blocks it too: the jammer
    # radiates from its tasking on.
    passing = view(2, 6000.0, -2500.0, up=600.0, speed=150.0, heading=270.0, cls="aircraft")
    (opts,) = options_for([drone], [gnss], {}, [drone, passing], [], {}, T0, False)
    assert not opts[0].usable
