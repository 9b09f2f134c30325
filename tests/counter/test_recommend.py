"""Countermeasure options: reach, time to effect, availability, collateral and ranking."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.counter.recommend import (
    LINK_DOUBT_S,
    LINK_LOSS_ASSUMED_S,
    EffectorState,
    Option,
    TrackContext,
    eligible,
    options_for,
)
from luchtwacht.geo import SiteOrigin
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.threat.zones import ZoneGeometry
from tests.counter.helpers import T0, effector, view

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)


def _one(options: list[list[Option]]) -> dict[str, Option]:
    assert len(options) == 1
    return {o.effector: o for o in options[0]}


def test_eligible_only_hostile_drones_at_high_or_above() -> None:
    assert eligible(view(1, 0, 500))
    assert eligible(view(1, 0, 500, threat=ThreatLevel.CRITICAL))
    assert not eligible(view(1, 0, 500, threat=ThreatLevel.MEDIUM))
    assert not eligible(view(1, 0, 500, coop=True))
    assert not eligible(view(1, 0, 500, cls="bird"))


def test_jammer_in_range_acts_after_spin_up_and_link_loss() -> None:
    jam = effector("rf_jammer", ready_s=2.0)
    opts = _one(options_for([view(1, 0, 800)], [jam], {}, [], [], {}, T0, False))
    o = opts["rf_jammer"]
    assert o.usable and o.before_breach
    assert o.t_effect_s == pytest.approx(2.0 + LINK_LOSS_ASSUMED_S)


def test_out_of_reach_is_blocked_and_an_approaching_drone_is_reached_later() -> None:
    jam = effector("rf_jammer", max_range_m=1000.0, ready_s=2.0)
    far = view(1, 0, 5000, speed=0.0)
    o = _one(options_for([far], [jam], {}, [], [], {}, T0, False))["rf_jammer"]
    assert not o.usable and o.t_effect_s is None
    assert any("out of reach" in b for b in o.blocked_by)
    coming = view(1, 0, 2000, up=5.0, speed=10.0, heading=180.0)  # 1000 m to go at 10 m/s
    o = _one(options_for([coming], [jam], {}, [], [], {}, T0, False))["rf_jammer"]
    assert o.usable
    assert o.t_effect_s == pytest.approx(100.0 + LINK_LOSS_ASSUMED_S, abs=0.01)
    late = view(1, 0, 2000, up=5.0, speed=10.0, heading=180.0, ttb=50.0)
    o = _one(options_for([late], [jam], {}, [], [], {}, T0, False))["rf_jammer"]
    assert o.usable and not o.before_breach


def test_interceptor_time_is_launch_plus_flight_to_a_hovering_drone() -> None:
    icp = effector("interceptor", ready_s=10.0, speed_ms=30.0)
    o = _one(options_for([view(1, 0, 900, up=5.0)], [icp], {}, [], [], {}, T0, False))
    assert o["interceptor"].t_effect_s == pytest.approx(10.0 + 900.0 / 30.0, abs=0.1)


def test_least_force_first_then_escalation_when_doubted() -> None:
    effs = [
        effector("hard_kill", at=(0.0, 0.0, 2.0)),
        effector("net", at=(0.0, 0.0, 2.0), max_range_m=1000.0),
        effector("rf_jammer"),
    ]
    drone = view(1, 0, 250, up=60.0)
    ranked = options_for([drone], effs, {}, [], [], {}, T0, False)[0]
    assert [o.kind for o in ranked] == ["rf_jammer", "net", "hard_kill"]
    # RF detectors on site have heard no link from it for a while: perhaps autonomous.
    ctx = {1: TrackContext(T0 - LINK_DOUBT_S - 1.0)}
    ranked = options_for([drone], effs, {}, [], [], ctx, T0, True)[0]
    assert [o.kind for o in ranked] == ["net", "hard_kill", "rf_jammer"]
    assert ranked[-1].doubt and ranked[-1].usable
    # A fingerprinted link removes the doubt.
    heard = view(1, 0, 250, up=60.0, rf="DJI OcuSync 2")
    ranked = options_for([heard], effs, {}, [], [], ctx, T0, True)[0]
    assert ranked[0].kind == "rf_jammer"
    assert "link fingerprinted: DJI OcuSync 2" in ranked[0].warnings
    # A kind that already failed on this track goes to the back.
    ctx[1].failed_kinds.add("rf_jammer")
    ranked = options_for([heard], effs, {}, [], [], ctx, T0, True)[0]
    assert ranked[-1].kind == "rf_jammer"


def test_availability_blocks_with_reasons() -> None:
    net = effector("net", max_range_m=1000.0)
    drone = view(1, 0, 300)
    states = {"net": EffectorState(online=False, shots_left=0, busy_with=7)}
    o = _one(options_for([drone], [net], states, [], [], {}, T0, False))["net"]
    assert not o.usable
    assert set(o.blocked_by) == {
        "effector node offline",
        "magazine empty",
        "busy with engagement 7",
    }
    o = _one(options_for([view(1, 0, 10, up=5.0)], [net], {}, [], [], {}, T0, False))["net"]
    assert "inside its minimum range" in o.blocked_by


def test_gnss_jamming_is_blocked_by_a_manned_aircraft_and_warns_for_cooperative_drones() -> None:
    gnss = effector("gnss_jammer", max_range_m=1000.0)
    drone = view(1, 0, 500)
    airliner = view(2, 2500, 0, up=600.0, cls="aircraft", coop=True, icao="484C56")
    hobby = view(3, -300, 0, up=50.0, coop=True, uas_id="1596F123")
    others = [drone, airliner, hobby]
    o = _one(options_for([drone], [gnss], {}, others, [], {}, T0, False))["gnss_jammer"]
    assert not o.usable
    assert "manned aircraft 484C56 within GNSS jamming range" in o.blocked_by
    assert "would also jam cooperative drone 1596F123" in o.warnings
    far = view(2, 9000, 0, up=900.0, cls="aircraft", coop=True, icao="484C56")
    o = _one(options_for([drone], [gnss], {}, [drone, far], [], {}, T0, False))["gnss_jammer"]
    assert o.usable


def test_rf_jammer_beam_only_warns_for_cooperative_drones_inside_it() -> None:
    jam = effector("rf_jammer", beamwidth_deg=60.0)
    drone = view(1, 0, 800)
    behind = view(3, 0, -500, coop=True, uas_id="BEHIND")
    beside = view(4, 60, 700, coop=True, uas_id="BESIDE")
    o = _one(options_for([drone], [jam], {}, [drone, behind, beside], [], {}, T0, False))
    assert o["rf_jammer"].warnings == ("would also jam cooperative drone BESIDE",)


def test_hard_kill_blocked_by_no_fire_area_and_line_of_fire() -> None:
    hk = effector("hard_kill", at=(0.0, 0.0, 2.0))
    drone = view(1, 0, 600, up=80.0)
    # A village square under the drone, 40 m each way: debris would fall in it.
    geo = ORIGIN.to_geodetic(np.array([[-40.0, 560, 0], [40, 560, 0], [40, 640, 0], [-40, 640, 0]]))
    village = Zone("village", tuple((float(a), float(b)) for a, b, _ in geo))
    no_fire = [ZoneGeometry(village, ORIGIN)]
    o = _one(options_for([drone], [hk], {}, [drone], no_fire, {}, T0, False))
    assert "debris would fall in no-fire area village" in o["hard_kill"].blocked_by
    friend = view(5, 10, 300, up=40.0, coop=True)
    o = _one(options_for([drone], [hk], {}, [drone, friend], [], {}, T0, False))
    assert "track 5 in the line of fire" in o["hard_kill"].blocked_by
    clear = _one(options_for([drone], [hk], {}, [drone], [], {}, T0, False))["hard_kill"]
    assert clear.usable and not clear.blocked_by


def test_no_targets_or_no_effectors() -> None:
    assert options_for([], [effector("net")], {}, [], [], {}, T0, False) == []
    assert options_for([view(1, 0, 1)], [], {}, [], [], {}, T0, False) == [[]]


def test_an_option_that_would_hit_a_cooperative_drone_ranks_after_a_clean_one() -> None:
    jam = effector("rf_jammer", beamwidth_deg=60.0)
    net = effector("net", at=(0.0, 600.0, 2.0), max_range_m=400.0)
    drone = view(1, 0, 800, up=60.0)
    hobby = view(4, 60, 700, coop=True, uas_id="HOBBY")
    ranked = options_for([drone], [jam, net], {}, [drone, hobby], [], {}, T0, False)[0]
    assert [o.kind for o in ranked] == ["net", "rf_jammer"]
    assert ranked[1].collateral and ranked[1].usable
    alone = options_for([drone], [jam, net], {}, [drone], [], {}, T0, False)[0]
    assert [o.kind for o in alone] == ["rf_jammer", "net"]


def test_an_rf_jammer_is_blocked_when_the_measured_link_band_is_outside_its_bands() -> None:
    jam = effector("rf_jammer")  # 2.4 and 5.8 GHz ISM
    elrs = view(1, 0, 800, rf="ExpressLRS 900", rf_band=(867.5, 868.5))
    o = _one(options_for([elrs], [jam], {}, [], [], {}, T0, False))["rf_jammer"]
    assert not o.usable and o.blocked_by == ("link at 868 MHz is outside its bands",)
    sub_ghz = effector("rf_jammer", bands_mhz=((860.0, 930.0),))
    assert _one(options_for([elrs], [sub_ghz], {}, [], [], {}, T0, False))["rf_jammer"].usable
    dji = view(1, 0, 800, rf="DJI OcuSync 2", rf_band=(2435.0, 2445.0))
    assert _one(options_for([dji], [jam], {}, [], [], {}, T0, False))["rf_jammer"].usable


@st.composite
def _pictures(draw: st.DrawFn) -> tuple[list[TrackView], list[TrackView]]:
    """Some threatening drones among other tracks (cooperative drones, aircraft)."""
    n = draw(st.integers(1, 6))
    k = draw(st.integers(0, 6))
    xy = st.floats(-3000.0, 3000.0)
    targets = [
        view(
            i + 1, draw(xy), draw(xy), draw(st.floats(5.0, 200.0)),
            speed=draw(st.floats(0.0, 40.0)), heading=draw(st.floats(0.0, 359.0)),
            ttb=draw(st.one_of(st.none(), st.floats(0.0, 120.0))),
            rf_band=draw(st.sampled_from([None, (867.5, 868.5), (2435.0, 2445.0)])),
        )
        for i in range(n)
    ]  # fmt: skip
    others = [
        view(
            100 + j, draw(xy), draw(xy), draw(st.floats(5.0, 900.0)), coop=True,
            cls=draw(st.sampled_from(["drone", "aircraft"])), icao="4840D6", uas_id="RID",
        )
        for j in range(k)
    ]  # fmt: skip
    return targets, others


@given(_pictures())
@settings(max_examples=60, deadline=None)
def test_options_for_all_tracks_at_once_equal_one_track_at_a_time(
    picture: tuple[list[TrackView], list[TrackView]],
) -> None:
    targets, others = picture
    effs = [
        effector("rf_jammer", beamwidth_deg=90.0),
        effector("gnss_jammer", at=(300.0, 0.0, 5.0)),
        effector("net", at=(0.0, 500.0, 2.0), max_range_m=600.0),
        effector("interceptor"),
        effector("hard_kill", at=(-200.0, -200.0, 3.0)),
    ]
    geo = ORIGIN.to_geodetic(np.array([[-300.0, 900, 0], [300, 900, 0], [300, 1500, 0]]))
    no_fire = [ZoneGeometry(Zone("v", tuple((float(a), float(b)) for a, b, _ in geo)), ORIGIN)]
    everyone = targets + others
    together = options_for(targets, effs, {}, everyone, no_fire, {}, T0, True)
    for t, opts in zip(targets, together, strict=True):
        (alone,) = options_for([t], effs, {}, everyone, no_fire, {}, T0, True)
        assert alone == opts
        # A usable option never ranks after an unusable one.
        usable = [o.usable for o in opts]
        assert usable == sorted(usable, reverse=True)
        for o in opts:
            assert o.usable == (not o.blocked_by)
            assert set(o.safety) <= set(o.blocked_by)
