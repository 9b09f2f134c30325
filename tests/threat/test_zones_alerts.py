import numpy as np
import pytest

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.track import AlertState, ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.threat.alerts import AlertManager
from luchtwacht.threat.zones import ZoneGeometry

ORIGIN = SiteOrigin(52.0, 5.0, 0.0)


def square_zone(half_m=500.0, floor=0.0, ceiling=300.0):
    enu = np.array(
        [[-half_m, -half_m, 0], [half_m, -half_m, 0], [half_m, half_m, 0], [-half_m, half_m, 0]]
    )
    geo = ORIGIN.to_geodetic(enu)
    return Zone("square", tuple((float(a), float(b)) for a, b, _ in geo), floor, ceiling)


def test_inside_checks_polygon_and_height_band():
    zg = ZoneGeometry(square_zone(floor=20.0), ORIGIN)
    pts = np.array([[0, 0, 100], [0, 0, 10], [0, 0, 400], [600, 0, 100], [499, 499, 50]], float)
    assert zg.inside(pts).tolist() == [True, False, False, False, True]


def test_time_to_breach_hand_worked():
    zg = ZoneGeometry(square_zone(), ORIGIN)
    pos = np.array([[1500.0, 0, 100], [0, 0, 100], [1500.0, 0, 100], [0, 2000.0, 800.0]])
    vel = np.array([[-20.0, 0, 0], [0, 0, 0], [20.0, 0, 0], [0, 0, -10.0]])
    ttb = zg.time_to_breach(pos, vel, horizon_s=60.0)
    assert ttb[0] == pytest.approx(50.0, abs=1.0)  # 1000 m to the edge at 20 m/s
    assert ttb[1] == 0.0
    assert np.isnan(ttb[2])  # flying away
    assert np.isnan(ttb[3])  # descending outside the polygon


def test_invalid_zone_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        Zone("bad", ((52.0, 5.0), (52.1, 5.0)))


def view(track_id, cls="drone", inside=(), ttb=None, coop=False, uas=None):
    return TrackView(
        track_id, 0.0, 52.0, 5.0, 100.0, 0, 0, 100, 10, 0, 0, cls, 0.9, coop, uas,
        ThreatLevel.LOW, tuple(inside), ttb, 5.0,
    )  # fmt: skip


def test_alert_lifecycle_raise_escalate_ack_clear():
    am = AlertManager(clear_hold_s=10.0, confirm_s=0.0)
    warn = {"square": 60.0}
    ev = am.update(0.0, [view(7, ttb=40.0)], warn, {7: {"square": 40.0}})
    assert [(e.kind, e.alert.kind, e.alert.level) for e in ev] == [
        ("raised", "approach", ThreatLevel.HIGH)
    ]
    ev = am.update(1.0, [view(7, inside=("square",), ttb=0.0)], warn, {7: {"square": 0.0}})
    assert [(e.kind, e.alert.kind, e.alert.level) for e in ev] == [
        ("escalated", "breach", ThreatLevel.CRITICAL)
    ]
    alert_id = ev[0].alert.alert_id
    am.acknowledge(alert_id, "operator1", 2.0)
    assert am.alerts[alert_id].state is AlertState.ACKNOWLEDGED
    assert am.update(5.0, [view(7)], warn, {}) == []  # condition gone, hold not elapsed
    ev = am.update(11.0, [view(7)], warn, {})
    assert [e.kind for e in ev] == ["cleared"] and am.open_alerts == []


def test_birds_unknowns_and_aircraft_raise_no_alert():
    am = AlertManager()
    tracks = [
        view(1, "bird", inside=("square",)),
        view(2, "unknown", inside=("square",)),
        view(3, "aircraft", ttb=5.0),
    ]
    assert am.update(0.0, tracks, {"square": 60.0}, {3: {"square": 5.0}}) == []


def test_alert_needs_its_condition_held_and_has_hysteresis():
    am = AlertManager(confirm_s=2.0, keep_factor=1.5)
    warn = {"square": 60.0}
    assert am.update(0.0, [view(4, ttb=50.0)], warn, {4: {"square": 50.0}}) == []
    assert am.update(1.0, [view(4)], warn, {}) == []  # streak broken
    assert am.update(2.0, [view(4)], warn, {4: {"square": 50.0}}) == []
    assert am.update(3.0, [view(4)], warn, {4: {"square": 49.0}}) == []
    (ev,) = am.update(4.0, [view(4)], warn, {4: {"square": 48.0}})
    assert ev.kind == "raised"
    # 80 s is past the warning time but within 1.5 × of it: the open alert is kept alive
    for t in range(5, 30):
        events = am.update(float(t), [view(4)], warn, {4: {"square": 80.0}})
        assert [e.kind for e in events] == (["updated"] if t == 5 else [])  # "in 80 s" once
    assert len(am.open_alerts) == 1


def test_alert_clears_when_track_dropped():
    am = AlertManager(confirm_s=0.0)
    am.update(0.0, [view(9, inside=("square",))], {"square": 60.0}, {})
    ev = am.update(1.0, [], {"square": 60.0}, {})
    assert [e.kind for e in ev] == ["cleared"]


def test_alert_confirmation_is_the_same_time_at_any_cycle_rate():
    """Two seconds of the condition raise the alert, whether cycles come at 1 Hz or 10 Hz."""
    warn = {"square": 60.0}
    for period in (1.0, 0.1):
        am = AlertManager(confirm_s=2.0)
        raised = None
        for k in range(40):
            t = k * period
            if am.update(t, [view(4)], warn, {4: {"square": 30.0}}):
                raised = t
                break
        assert raised is not None and abs(raised - 2.0) < 1e-6


def test_cleared_alerts_beyond_the_limit_are_forgotten_open_ones_never():
    am = AlertManager(confirm_s=0.0, kept=5)
    warn = {"square": 60.0}
    am.update(0.0, [view(1, inside=("square",))], warn, {})  # stays open throughout
    for k in range(2, 12):
        am.update(float(k), [view(1, inside=("square",)), view(k, inside=("square",))], warn, {})
        am.update(k + 0.5, [view(1, inside=("square",))], warn, {})  # track k dropped: cleared
    assert len(am.alerts) == 5
    assert any(a.track_id == 1 for a in am.open_alerts)


def test_an_open_alerts_text_follows_the_picture_without_new_events():
    """The alert raised at "enter in 53 s" says 31 s once the picture does, as an "updated"
    event (so the recording holds what the operator read), at most once a second."""
    am = AlertManager(confirm_s=0.0)
    warn = {"square": 60.0}
    (raised,) = am.update(0.0, [view(7, ttb=53.0)], warn, {7: {"square": 53.0}})
    assert "53 s" in raised.alert.message
    assert am.update(0.1, [view(7, ttb=52.0)], warn, {7: {"square": 52.0}}) == []  # too soon
    assert am.update(1.0, [view(7, ttb=53.0)], warn, {7: {"square": 53.0}}) == []  # same text
    (ev,) = am.update(22.0, [view(7, ttb=31.0)], warn, {7: {"square": 31.0}})
    assert ev.kind == "updated" and ev.alert.level is ThreatLevel.HIGH
    (alert,) = am.open_alerts
    assert "31 s" in alert.message and "53 s" not in alert.message
