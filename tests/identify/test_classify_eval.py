"""Classification timeliness through the whole pipeline, scored by the evaluation harness."""

from __future__ import annotations

from pathlib import Path

from luchtwacht.eval.evaluate import evaluate_run
from luchtwacht.sim.scenario_file import load_scenario_file

SCENARIO = """
name: {name}
seed: 5
duration_s: {duration}
epoch: 2026-06-12T21:30:00Z
site: {{lat: 51.6564, lon: 5.7087, alt_m: 65.0}}
zones:
  - name: base
    runway: {{heading_deg: 58.0, half_length_m: 2000.0, half_width_m: 600.0}}
    floor_m: 0.0
    ceiling_m: 500.0
radars:
  - node_id: 4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c
    position: {{east_m: 0.0, north_m: 0.0, up_m: 10.0}}
    classify_prob: {classify_prob}
targets:
  - name: Quadcopter
    class: drone
    rcs_m2: 0.03
    role: intruder
    emits_rf: false
    path:
      waypoints:
        - {{east_m: 1100.0, north_m: 550.0, up_m: 70.0}}
        - {{east_m: 1040.0, north_m: 520.0, up_m: 70.0}}
        - {{east_m: 1040.0, north_m: 520.0, up_m: 75.0}}
      speeds_ms: [12.0, 0.5]
"""


def _delay(tmp_path: Path, name: str, classify_prob: float) -> float:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, duration=45.0, classify_prob=classify_prob))
    scen = load_scenario_file(path)
    (t,) = evaluate_run(scen, scen.seed).targets
    assert t.confirm_s is not None, "the radar must hold the drone"
    assert t.classify_s is not None, "the drone was never called a drone"
    return t.classify_s - t.confirm_s


def test_a_drone_the_radar_classifies_is_a_drone_within_5_s_of_confirmation(tmp_path):
    assert _delay(tmp_path, "reported", 0.7) <= 5.0


def test_a_drone_known_only_by_its_flight_is_a_drone_within_10_s(tmp_path):
    """No micro-Doppler, RF or Remote ID: it flies 70 m at 12 m/s and hovers; that gives it away."""
    assert _delay(tmp_path, "kinematic", 0.0) <= 10.0
