"""Recommend in time, end to end: a countermeasure scenario's intruder is proposed within 3 s of
being classed a drone on its breach course, through the whole pipeline (sensors to counter)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from luchtwacht.eval.evaluate import evaluate_run
from luchtwacht.sim.scenario_file import load_scenario_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["jammed-intruder", "autonomous-attack-engaged"])
def test_an_intruder_is_proposed_within_3_s_of_its_drone_class(name: str) -> None:
    scen = load_scenario_file(ROOT / "scenarios" / f"{name}.yaml")
    # The first 20 s hold its classification and, now, its recommendation (at HIGH it
    # came a minute and more later).
    run = evaluate_run(dataclasses.replace(scen, duration_s=20.0), scen.seed)
    (intruder,) = [t for t in run.targets if t.role == "intruder"]
    assert intruder.classify_s is not None and intruder.recommend_s is not None
    assert intruder.recommend_s - intruder.classify_s <= 3.0
    assert run.recommendations == 1  # one proposal, not one per noisy cycle
