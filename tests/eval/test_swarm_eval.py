"""Evaluation-level check of swarms: a shortened swarm-50 flown through the whole pipeline."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.eval.evaluate import evaluate_run
from luchtwacht.model.track import Alert, ThreatLevel
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.store.recorder import Recorder
from luchtwacht.store.rows import alert_audit

ROOT = Path(__file__).resolve().parents[2]


def short_swarm(tmp_path: Path) -> Path:
    """swarm-50 with twelve drones starting 1.8 km out (breach course within the warning time)."""
    text = (ROOT / "scenarios" / "swarm-50.yaml").read_text()
    for old, new in (
        ("count: 50", "count: 12"),
        ("duration_s: 240", "duration_s: 45"),
        ("{bearing_deg: 90.0, distance_m: 3500.0, up_m: 80.0}", "{bearing_deg: 90.0, "
         "distance_m: 1800.0, up_m: 80.0}"),
    ):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "swarm-12.yaml"
    path.write_text(text)
    return path


def test_a_swarm_is_one_alert_that_names_every_intruder(tmp_path: Path) -> None:
    scenario = load_scenario_file(short_swarm(tmp_path))
    run = evaluate_run(scenario, seed=scenario.seed)
    intruders = [t for t in run.targets if t.should_alert]
    assert len(intruders) == 12
    assert all(t.alert_s is not None for t in intruders)  # each named by the swarm alert
    assert run.false_alerts == 0
    # One entry for the group (per zone), not twelve: a straggler may alert on its own.
    assert run.alerts_raised <= 3


def test_the_swarm_alert_names_its_members_in_the_audit() -> None:
    alert = Alert(4, 11, "runway", ThreatLevel.HIGH, "approach", 1.0, 1.0, "drone", None)
    assert "members" not in alert_audit(alert)  # an ordinary alert's payload is unchanged
    alert.swarm_id, alert.members = 2, (11, 12, 13)
    assert alert_audit(alert)["members"] == [11, 12, 13]
    assert alert_audit(alert)["swarm_id"] == 2


def test_swarm_alerts_are_recorded_with_their_members_and_replay_the_same(tmp_path: Path) -> None:
    scenario = load_scenario_file(short_swarm(tmp_path))
    scenario = dataclasses.replace(scenario, duration_s=25.0)
    rec = tmp_path / "run.sqlite"
    recorder = Recorder(rec)
    pipe = Pipeline(scenario, recorder=recorder)
    pipe.run(scenario.duration_s)
    recorder.close()
    raised = [ev for ev in pipe.events if ev.kind == "raised" and ev.alert.swarm_id is not None]
    assert raised, "the swarm raised no swarm alert"
    db = sqlite3.connect(rec)
    payloads = [
        json.loads(p)
        for (p,) in db.execute("SELECT payload FROM audit WHERE kind = 'alert.raised'")
    ]
    db.close()
    swarm = [p for p in payloads if "swarm_id" in p]
    assert [tuple(p["members"]) for p in swarm] == [ev.members for ev in raised]
    check = CliRunner().invoke(app, ["replay", str(rec), "--check"])
    assert check.exit_code == 0, check.output
