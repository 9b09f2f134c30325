"""Authorised, tolerated and unauthorised Remote ID drones: threat level, alerts, proposals."""

from __future__ import annotations

import dataclasses

import numpy as np

from luchtwacht.counter.recommend import eligible
from luchtwacht.geo import SiteOrigin
from luchtwacht.identify.classify import Classification
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.threat.alerts import AlertManager
from luchtwacht.threat.assess import assess, friendly, hostile
from luchtwacht.threat.zones import ZoneGeometry

WARN = {"runway": 60.0}
INSIDE = {1: {"runway": 0.0}}


def drone(*, coop: bool, **kw: object) -> TrackView:
    """A drone 100 m up inside the runway zone, at threat HIGH."""
    base = TrackView(
        1, 0.0, 52.0, 5.0, 100.0, 0.0, 0.0, 100.0, 5.0, 0.0, 0.0, "drone", 0.99, coop,
        "1581F6ZZC44K00R8M3" if coop else None, ThreatLevel.HIGH, ("runway",), 0.0, 5.0,
    )  # fmt: skip
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def alert_of(view: TrackView) -> list[tuple[ThreatLevel, str]]:
    am = AlertManager(confirm_s=0.0)
    return [(e.alert.level, e.alert.message) for e in am.update(0.0, [view], WARN, INSIDE)]


def test_an_authorised_drone_is_friendly_no_alert_never_proposed() -> None:
    v = drone(coop=True, authorised=True, authorisation="Base survey")
    assert friendly(v) and not hostile(v)
    assert alert_of(v) == []
    assert not eligible(dataclasses.replace(v, threat=ThreatLevel.CRITICAL))


def test_an_unauthorised_remote_id_drone_under_policy_intruder_alerts_as_one() -> None:
    v = drone(coop=True, coop_intruder=True, authorisation="not listed")
    assert hostile(v) and not friendly(v)
    [(level, text)] = alert_of(v)
    assert level is ThreatLevel.CRITICAL
    assert text == "Track 1: unauthorised Remote ID drone 1581F6ZZC44K00R8M3 inside runway at 100 m"
    assert eligible(v)


def test_a_tolerated_cooperative_drone_keeps_todays_treatment() -> None:
    v = drone(coop=True, authorisation="not listed")
    assert friendly(v) and not hostile(v)
    [(level, text)] = alert_of(v)
    assert level is ThreatLevel.HIGH and "cooperative drone 1581F6ZZC44K00R8M3" in text
    assert not eligible(v)


def test_a_non_cooperative_drone_is_hostile() -> None:
    v = drone(coop=False)
    assert hostile(v) and eligible(v)
    assert alert_of(v)[0][0] is ThreatLevel.CRITICAL


def test_assess_authorised_rows_are_no_threat() -> None:
    origin = SiteOrigin(52.0, 5.0, 0.0)
    zone = Zone("runway", ((51.99, 4.99), (51.99, 5.01), (52.01, 5.01), (52.01, 4.99)))
    pos = np.array([[0.0, 0.0, 100.0]] * 3)
    vel = np.zeros((3, 3))
    drone_idx = np.full(3, int(ObjectClass.DRONE), dtype=np.int64)
    cls = Classification(drone_idx, np.full((3, len(ObjectClass)), 0.2), np.zeros(3, dtype=bool))
    friends = np.array([False, True, False])
    level = assess(pos, vel, cls, [ZoneGeometry(zone, origin)], own=friends).level
    assert level.tolist() == [ThreatLevel.CRITICAL, ThreatLevel.NONE, ThreatLevel.CRITICAL]


def test_cot_affiliation_follows_authorisation() -> None:
    from luchtwacht.publish.cot import Affiliation, affiliation

    assert affiliation(drone(coop=True, authorised=True)) is Affiliation.FRIEND
    assert affiliation(drone(coop=True, coop_intruder=True)) is Affiliation.HOSTILE
    assert affiliation(drone(coop=True)) is Affiliation.NEUTRAL  # tolerated
    assert affiliation(drone(coop=False)) is Affiliation.HOSTILE
