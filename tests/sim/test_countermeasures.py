"""Countermeasures end to end: recommend → operator approval → SAPIENT tasking → effect → assessment.

The library's two engagement scenarios run whole through the pipeline; variants of the first
check that nothing is ever tasked without an authorised approval.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from luchtwacht.eval.evaluate import evaluate_run, summary
from luchtwacht.ingest.sapient import SapientMessage, split_frames
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.effects import Countered
from luchtwacht.sim.scenario_file import ScenarioFileError, load_scenario_file
from luchtwacht.store.recorder import Recorder, verify_audit_chain

ROOT = Path(__file__).resolve().parents[2]
JAMMED = ROOT / "scenarios" / "jammed-intruder.yaml"
AUTONOMOUS = ROOT / "scenarios" / "autonomous-attack-engaged.yaml"


def _variant(tmp_path: Path, src: Path, **changes: Any) -> Path:
    doc = yaml.safe_load(src.read_text())
    doc.update(changes)
    out = tmp_path / src.name
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def _audit(path: Path) -> list[tuple[str, dict[str, Any]]]:
    import json
    import sqlite3

    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT kind, payload FROM audit ORDER BY seq").fetchall()
    finally:
        con.close()
    return [(k, json.loads(p)) for k, p in rows]


def test_the_jammed_intruder_flies_home_after_an_authorised_approval(tmp_path: Path) -> None:
    scen = load_scenario_file(JAMMED)
    db = tmp_path / "run.db"
    rec = Recorder(db)
    pipe = Pipeline(scen, recorder=rec)
    pipe.run(scen.duration_s)
    pipe.finish()
    rec.close()
    assert pipe.counter is not None
    (eng,) = pipe.counter.engagements.values()
    assert eng.approved_by == "duty-officer" and eng.effector.kind == "rf_jammer"
    assert eng.outcome == "leaving"
    intruder = next(t for t in pipe.targets if t.name == "Intruder")
    hobby = next(t for t in pipe.targets if t.name.startswith("Hobby"))
    assert isinstance(intruder.path, Countered) and isinstance(hobby.path, Countered)
    assert intruder.path.effect == "return_home" and intruder.path.cause == eng.effector.name
    assert intruder.path.at_s > eng.approved_t_s - pipe.epoch_s  # never before the approval
    assert hobby.path.effect is None  # outside the beam
    # The effect took after the drone came within the jammer's reach: 1.5 km.
    pos = intruder.path.state(intruder.path.at_s - 0.01)
    assert pos is not None
    site = eng.effector.enu_m
    assert sum((pos[0][i] - site[i]) ** 2 for i in range(3)) ** 0.5 <= 1500.0 + 1.0

    # The evidence: the approval chain in the audit log, in order, and the task bytes sent.
    ok, n, _ = verify_audit_chain(db)
    assert ok and n > 0
    kinds = [k for k, _ in _audit(db)]
    order = ["auth.login", "counter.recommended", "counter.approved", "counter.tasked"]
    assert [kinds.index(k) for k in order] == sorted(kinds.index(k) for k in order)
    assert "counter.assessed" in kinds
    approved = next(p for k, p in _audit(db) if k == "counter.approved")
    assert approved["by"] == "duty-officer" and approved["role"] == "commander"
    import sqlite3

    con = sqlite3.connect(db)
    sent = con.execute("SELECT payload FROM raw WHERE format = 'sapient-out'").fetchall()
    con.close()
    commands = set()
    for (payload,) in sent:
        for body in split_frames(payload) or []:
            msg = SapientMessage()
            msg.ParseFromString(body)
            if msg.destination_id == eng.effector.node_id and msg.HasField("task"):
                commands.add(msg.task.command.WhichOneof("command"))
    assert commands == {"look_at", "mode_change"}


@pytest.mark.parametrize(
    ("operator", "refused"),
    [
        ({"decision": "none"}, False),  # nobody decides: recommendations wait, nothing happens
        ({"role": "operator", "reaction_s": 2.0}, True),  # may not authorise force: refused
        ({"role": "commander", "decision": "reject"}, False),
    ],
    ids=["undecided", "role-refused", "rejected"],
)
def test_nothing_is_engaged_without_an_authorised_approval(
    tmp_path: Path, operator: dict[str, Any], refused: bool
) -> None:
    scen = load_scenario_file(_variant(tmp_path, JAMMED, operator=operator))
    scen = dataclasses.replace(scen, duration_s=120.0)
    run = evaluate_run(scen, scen.seed)
    assert run.recommendations >= 1
    assert run.engagements == []
    assert all(t.effect is None for t in run.targets)
    assert (run.operator_refusals > 0) == refused


def test_without_an_operator_section_recommendations_stay_pending(tmp_path: Path) -> None:
    doc = yaml.safe_load(JAMMED.read_text())
    del doc["operator"]
    path = tmp_path / "no-operator.yaml"
    path.write_text(yaml.safe_dump(doc))
    scen = dataclasses.replace(load_scenario_file(path), duration_s=100.0)
    pipe = Pipeline(scen)
    pipe.run(scen.duration_s)
    assert pipe.counter is not None and pipe.operator is None
    assert pipe.counter.pending() and not pipe.counter.engagements


def test_the_autonomous_attacker_is_brought_down_before_the_breach() -> None:
    scen = load_scenario_file(AUTONOMOUS)
    run = evaluate_run(scen, scen.seed)
    owa = next(t for t in run.targets if t.role == "intruder")
    assert owa.effect == "downed" and owa.effect_by == "Hard kill south"
    assert owa.recommend_s is not None and owa.effect_s is not None
    assert owa.recommend_s < owa.effect_s
    assert owa.breach_s is None or owa.effect_s < owa.breach_s
    (eng,) = run.engagements
    assert eng.kind == "hard_kill" and eng.true_effect == "downed"
    assert eng.assessed == "down" and eng.assessment_right
    assert run.collateral == []
    s = summary([run])
    assert s["engagements"] == 1 and s["engagements_effective"] == 1
    assert s["intruders_neutralised"] == 1 and s["neutralised_before_breach"] == 1
    assert s["collateral_effects"] == 0


def test_gnss_jamming_is_never_proposed_with_the_airliner_in_reach() -> None:
    scen = load_scenario_file(AUTONOMOUS)
    pipe = Pipeline(dataclasses.replace(scen, duration_s=110.0))
    pipe.run(110.0)
    assert pipe.counter is not None
    recs = list(pipe.counter.recommendations.values())
    assert recs
    for r in recs:
        gnss = next(o for o in r.options if o.kind == "gnss_jammer")
        assert not gnss.usable
        assert any("manned aircraft 4840D6" in b for b in gnss.blocked_by)
        rf = next(o for o in r.options if o.kind == "rf_jammer")
        assert rf.doubt  # no link heard: an RF jammer would likely do nothing
        assert r.options[0].kind == "hard_kill"


@pytest.mark.parametrize(
    ("effector", "message"),
    [
        ({"kind": "laser"}, "effectors.0.kind"),
        ({"bands_mhz": [[2483.5, 2400.0]]}, "effectors.0.bands_mhz"),
        ({"p_effect": 1.5}, "effectors.0.p_effect"),
    ],
)
def test_effector_sections_are_checked_with_line_numbers(
    tmp_path: Path, effector: dict[str, Any], message: str
) -> None:
    doc = yaml.safe_load(JAMMED.read_text())
    doc["effectors"][0].update(effector)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioFileError, match=rf"bad\.yaml:\d+: {message}"):
        load_scenario_file(path)


def test_effector_names_must_be_unique(tmp_path: Path) -> None:
    doc = yaml.safe_load(JAMMED.read_text())
    doc["effectors"][1]["name"] = doc["effectors"][0]["name"]
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioFileError, match="effector names must be unique"):
        load_scenario_file(path)


def test_the_interceptor_is_seen_known_for_our_own_and_nets_the_loiterer() -> None:
    scen = load_scenario_file(ROOT / "scenarios" / "interceptor-loiterer.yaml")
    pipe = Pipeline(scen)
    own_cycles: Counter[int] = Counter()
    own_threats: set[str] = set()

    def watch(q: Pipeline) -> None:
        for v in q.views:
            if v.own_asset is not None:
                own_cycles[v.track_id] += 1
                own_threats.add(v.threat.label)
                assert v.own_asset == "Interceptor runway" and v.cooperative

    pipe.run(scen.duration_s, on_cycle=watch)
    assert pipe.counter is not None
    # The radar saw our interceptor fly; the fusion node knew it for its own from the node's
    # own airborne reports: no threat, no alert, never proposed as a target. (For a cycle or
    # two at the capture, when the two are one spot, the loiterer's track may be taken for it.)
    # Out 55 → 101 s, home by 148 s: one track each way (the capture splits them).
    ours = {tid for tid, n in own_cycles.items() if n >= 10}
    assert sum(own_cycles[t] for t in ours) >= 80 and own_threats == {"none"}
    assert all(a.track_id not in ours for a in pipe.alerts.alerts.values())
    assert all(r.track_id not in ours for r in pipe.counter.recommendations.values())
    (eng,) = pipe.counter.engagements.values()
    assert eng.effector.kind == "interceptor" and eng.outcome == "landing"
    # The RF jammer was never an option: the loiterer's link is at 868 MHz.
    first = pipe.counter.recommendations[eng.rec_id]
    jam = next(o for o in first.options if o.kind == "rf_jammer")
    assert jam.blocked_by == ("link at 868 MHz is outside its bands",)
    _, sim = pipe.effectors[eng.effector.node_id]
    assert [e.action for e in sim.log][-1] == "landed"
    loiterer = next(t for t in pipe.targets if t.role == "intruder")
    assert isinstance(loiterer.path, Countered) and loiterer.path.effect == "captured"


def test_a_jammer_that_cannot_beat_a_close_pilot_shows_no_effect_and_the_net_follows() -> None:
    scen = load_scenario_file(ROOT / "scenarios" / "escalation-close-pilot.yaml")
    scen = dataclasses.replace(scen, seed=scen.seed + 1)
    pipe = Pipeline(scen)
    pipe.run(scen.duration_s)
    assert pipe.counter is not None
    jam, net = pipe.counter.engagements.values()
    assert jam.effector.kind == "rf_jammer" and net.effector.kind == "net"
    # At the drone, the pilot 120 m away outshouts a jammer 1.4 km away: nothing happens.
    drone = pipe.targets[0]
    assert isinstance(drone.path, Countered)
    assert drone.path.effects_by(jam.effector.name) == []
    assert jam.outcome == "no_effect"
    # RF jamming is doubted on that track now, and the net by the fence comes first.
    second = pipe.counter.recommendations[net.rec_id]
    assert second.options[0].kind == "net"
    rf = next(o for o in second.options if o.kind == "rf_jammer")
    assert rf.doubt and "rf_jammer had no effect on this track before" in rf.warnings
    assert [e for _, e in drone.path.effects_by(net.effector.name)] == ["captured"]
    assert net.outcome == "landing"
