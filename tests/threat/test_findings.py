"""Alerts about findings of other stages (a Remote ID spoof): raised, updated, cleared."""

from __future__ import annotations

from luchtwacht.model.track import AlertState, Finding, ThreatLevel
from luchtwacht.threat.alerts import AlertManager


def test_findings_raise_one_alert_update_its_text_and_clear_after_the_hold():
    am = AlertManager(clear_hold_s=10.0)

    def f(text: str) -> Finding:
        return Finding("spoof:X", 7, "spoof", ThreatLevel.HIGH, "drone", "X", text, 900.0, 3.0)

    ev = am.findings(100.0, [f("a")])
    assert [(e.kind, e.alert.kind, e.alert.zone) for e in ev] == [("raised", "spoof", "")]
    alert_id = ev[0].alert.alert_id
    assert [a.alert_id for a in am.open_alerts] == [alert_id]
    assert am.findings(100.5, [f("b")]) == []  # text at most once a second
    assert [e.kind for e in am.findings(101.0, [f("b")])] == ["updated"]
    assert am.findings(105.0, []) == []  # held
    ev = am.findings(111.0, [])
    assert [e.kind for e in ev] == ["cleared"] and ev[0].alert.state is AlertState.CLEARED
    assert am.open_alerts == []
    # A zone update does not clear it (it has no track in the picture).
    am.findings(200.0, [f("c")])
    am.update(200.0, [], {}, {})
    assert len(am.open_alerts) == 1
