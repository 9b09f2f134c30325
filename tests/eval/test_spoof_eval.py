"""Evaluation of remoteid-spoofer: spoof alerts apart from the zone alerts, timed, and judged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from luchtwacht.eval.evaluate import evaluate_run, summary
from luchtwacht.sim.scenario_file import load_scenario_file

ROOT = Path(__file__).resolve().parents[2]


def test_the_spoof_alert_is_timed_and_no_false_alert_is_counted_for_it():
    scen = load_scenario_file(ROOT / "scenarios" / "remoteid-spoofer.yaml")
    run = evaluate_run(dataclasses.replace(scen, duration_s=40.0), seed=21)
    assert run.spoof_alerts == 1
    assert len(run.spoof_alert_s) == 1 and 0.0 < run.spoof_alert_s[0] <= 10.0
    assert run.false_alerts == 0  # the spoof alert is not a zone alert, and there is no ghost
    s = summary([run])
    assert s["spoof_alerts"] == 1 and s["runs_spoof_alerted_share"] == 1.0
    verdicts = {g["metric"]: g["verdict"] for g in s["goals"]}
    assert verdicts["runs_spoof_alerted_share"] == "PASS"
    assert verdicts["time_to_spoof_alert_s.max"] == "PASS"
