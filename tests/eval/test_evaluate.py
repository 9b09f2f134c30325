"""The evaluation harness on hand-checkable scenarios, the report it writes and the comparison."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.eval.evaluate import (
    FirstDetections,
    _runs_of_ids,
    compare,
    evaluate,
    evaluate_run,
    summary,
)
from luchtwacht.eval.report import write_report
from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch, ObjectClass
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.sim.targets import Target, WaypointPath

ROOT = Path(__file__).resolve().parents[2]
HEAD = """
name: {name}
seed: 3
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
    false_alarms_per_scan: 0.0
"""


def write(tmp_path: Path, name: str, duration: float, targets: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(HEAD.format(name=name, duration=duration) + targets)
    return path


FAR = """
targets:
  - name: Far away
    class: drone
    rcs_m2: 0.02
    role: intruder
    path:
      waypoints:
        - {east_m: 40000.0, north_m: 0.0, up_m: 100.0}
        - {east_m: 40000.0, north_m: 500.0, up_m: 100.0}
      speeds_ms: [5.0]
"""

INBOUND = """
targets:
  - name: Inbound
    class: drone
    rcs_m2: 0.05
    role: intruder
    path:
      waypoints:
        - {east_m: 2500.0, north_m: 1500.0, up_m: 80.0}
        - {east_m: 0.0, north_m: 0.0, up_m: 80.0}
      speeds_ms: [20.0]
"""


def test_id_switches_and_fragmentations_are_counted_by_hand():
    assert _runs_of_ids([None, 1, 1, None, 1, 2, 2]) == (1, 1)
    assert _runs_of_ids([None, None, 3, 3, 3]) == (0, 0)  # late start is not a fragment
    assert _runs_of_ids([4, None, None, 5, None]) == (1, 1)  # trailing gap is not either
    assert _runs_of_ids([]) == (0, 0)


def test_a_target_no_sensor_can_see_scores_c_over_root_two_every_cycle(tmp_path):
    # One target 40 km out (radar range 10 km), nothing else, no clutter: at every cycle GOSPA
    # is one missed target, sqrt(c²/2) = 70.71 m for c = 100 m.
    scen = load_scenario_file(write(tmp_path, "far", 20.0, FAR))
    run = evaluate_run(scen, seed=3, gospa_c_m=100.0)
    assert len(run.gospa) == 20
    assert all(math.isclose(g, 100.0 / math.sqrt(2.0)) for g in run.gospa)
    assert run.n_missed == [1] * 20 and run.n_false == [0] * 20
    (t,) = run.targets
    assert t.exists_s == 1.0 and t.detect_s is None and t.alert_s is None
    assert t.confirm_s is None
    assert t.coverage == 0.0 and t.track_ids == []
    s = summary([run])
    assert s["intruders"] == 1 and s["intruders_alerted"] == 0
    assert s["time_to_detect_s"] == {"n": 0, "of": 1, "median": None, "p90": None, "max": None}
    assert s["false_alerts"] == 0 and s["false_alerts_per_hour"] == 0.0


def test_an_inbound_drone_is_detected_classified_alerted_and_scored(tmp_path):
    scen = load_scenario_file(write(tmp_path, "inbound", 90.0, INBOUND))
    runs = evaluate(scen, runs=2)
    assert [r.seed for r in runs] == [3, 4]
    for run in runs:
        (t,) = run.targets
        assert t.detect_s is not None and t.confirm_s is not None
        # The radar sees it from the first scan in range; two plots make a confirmed track.
        assert t.detect_s <= 1.0 and t.detect_s < t.confirm_s <= 5.0
        assert t.classify_s is not None and t.classify_s >= t.confirm_s
        assert t.alert_s is not None and t.alert_s >= t.confirm_s
        assert t.id_switches == 0 and len(t.track_ids) == 1
        assert t.coverage > 0.9
        # every matched cycle lands in the confusion matrix's drone row
        assert sum(run.confusion[0]) == round(t.coverage * len(run.cycle_t_s))
        assert run.false_alerts == 0 and run.alerts_on_intruders >= 1
        # once tracked, GOSPA is the localisation error: well under the cut-off
        assert max(run.gospa[10:]) < 60.0
    s = summary(runs)
    assert s["intruders_alerted"] == 2 and s["time_to_alert_s"]["n"] == 2
    assert s["confusion"]["counts"][0][0] > 0


def test_report_and_comparison(tmp_path):
    scen = load_scenario_file(write(tmp_path, "inbound", 40.0, INBOUND))
    runs = evaluate(scen, runs=1)
    doc = write_report(tmp_path / "rep", {scen.name: runs})
    for name in ("index.html", "summary.json", "runs.json", "inbound-gospa.png", "inbound-map.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Time to alert" in page and 'src="inbound-confusion.png"' in page
    assert json.loads((tmp_path / "rep" / "summary.json").read_text()) == json.loads(
        json.dumps(doc)
    )
    same = compare(doc, doc)
    assert same and not any(c.regression for c in same)
    worse = json.loads(json.dumps(doc))
    worse["scenarios"][0]["gospa_mean"] *= 1.2
    worse["scenarios"][0]["false_alerts_per_hour"] += 1.0
    flagged = {c.metric for c in compare(doc, worse) if c.regression}
    assert flagged == {"gospa_mean", "false_alerts_per_hour"}
    better = json.loads(json.dumps(doc))
    better["scenarios"][0]["gospa_mean"] *= 0.8
    assert not any(c.regression for c in compare(doc, better))


def test_cli_writes_the_report_and_compare_exits_1_on_a_regression(tmp_path):
    runner = CliRunner()
    path = write(tmp_path, "inbound", 30.0, INBOUND)
    out = tmp_path / "rep"
    result = runner.invoke(app, ["evaluate", str(path), "--runs", "1", "--report", str(out)])
    assert result.exit_code == 0, result.output
    a = out / "summary.json"
    b = tmp_path / "b.json"
    doc = json.loads(a.read_text())
    doc["scenarios"][0]["id_switches"] += 2
    b.write_text(json.dumps(doc))
    assert runner.invoke(app, ["evaluate", "--compare", str(a), str(a)]).exit_code == 0
    result = runner.invoke(app, ["evaluate", "--compare", str(a), str(b)])
    assert result.exit_code == 1 and "id_switches" in result.output
    bad = runner.invoke(app, ["evaluate", str(tmp_path / "missing.yaml"), "--report", str(out)])
    assert bad.exit_code == 2


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_library_scenario_runs_shortened(path):
    scen = load_scenario_file(path)
    import dataclasses

    run = evaluate_run(dataclasses.replace(scen, duration_s=min(scen.duration_s, 45.0)), scen.seed)
    assert len(run.gospa) >= 40
    assert all(g >= 0.0 for g in run.gospa)


def test_the_warning_before_the_breach_is_measured(tmp_path):
    scen = load_scenario_file(write(tmp_path, "inbound", 150.0, INBOUND))
    (run,) = evaluate(scen, runs=1)
    (t,) = run.targets
    # It flies in almost along the runway axis (bearing 239° against the runway's 238°) from
    # 2915 m: the rectangle's end, 2000 m out, is reached after 915 m at 20 m/s, 45.7 s.
    assert t.breach_s is not None and 44.0 <= t.breach_s <= 47.0
    assert t.alert_s is not None and t.alert_s < t.breach_s
    s = summary([run])
    assert s["alert_lead_s"]["median"] == t.breach_s - t.alert_s
    assert s["intruders_in_zone_unwarned"] == 0


def test_both_trackers_score_the_same_radar_plots(tmp_path):
    from luchtwacht.eval.peer import side_by_side

    far = load_scenario_file(write(tmp_path, "far", 15.0, FAR))
    rows = side_by_side(far, 3)
    assert [r.tracker for r in rows] == ["luchtwacht", "stonesoup"]  # the bench extra is there
    for r in rows:  # no plot at all: one missed target every cycle, c/√2
        assert math.isclose(r.gospa_mean, 100.0 / math.sqrt(2.0))
        assert r.missed_per_cycle == 1.0 and r.false_per_cycle == 0.0
    inbound = load_scenario_file(write(tmp_path, "inbound", 60.0, INBOUND))
    for r in side_by_side(inbound, 3):
        assert r.gospa_mean < 40.0, r  # both hold the drone after their confirmation
    runner = CliRunner()
    out = tmp_path / "rep"
    path = write(tmp_path, "inbound2", 30.0, INBOUND)
    args = ["evaluate", str(path), "--runs", "1", "--report", str(out), "--stonesoup"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # No terminal here: a line as each Monte Carlo run and each side-by-side stage ends.
    err = result.stderr
    assert "inbound2: run 1/1 (seed 3) done in" in err
    for k, stage in enumerate(("flying the scenario", "Luchtwacht's tracker", "Stone Soup's")):
        assert f"inbound2: side by side {k + 1}/3: {stage}" in err, err
    assert err.index("side by side 3/3") < err.index("inbound2: radar plots side by side")
    doc = json.loads((out / "summary.json").read_text())
    side = doc["scenarios"][0]["radar_tracking_side_by_side"]
    assert [s["tracker"] for s in side] == ["luchtwacht", "stonesoup"]
    assert "Tracker (same radar plots)" in (out / "index.html").read_text()


def test_monte_carlo_runs_redraw_flocks_when_the_file_is_reloaded_per_seed():
    path = ROOT / "scenarios" / "birds-only.yaml"
    a, b = load_scenario_file(path), load_scenario_file(path, seed=99)
    assert b.seed == 99 and len(a.targets) == len(b.targets)
    pa, pb = a.targets[0].path.state(100.0), b.targets[0].path.state(100.0)
    assert pa is not None and pb is not None and not (pa[0] == pb[0]).all()
    import dataclasses

    short = dataclasses.replace(a, duration_s=5.0)
    seen: list[int] = []

    def rebuild(seed: int):
        seen.append(seed)
        return dataclasses.replace(load_scenario_file(path, seed), duration_s=5.0)

    runs = evaluate(short, runs=3, rebuild=rebuild)
    assert seen == [a.seed + 1, a.seed + 2] and [r.seed for r in runs] == [
        a.seed + k for k in range(3)
    ]


def test_an_alert_counts_for_the_target_its_track_followed_when_it_was_raised():
    from luchtwacht.eval.evaluate import RunResult  # noqa: F401  (the fields used below)
    from luchtwacht.eval.truth import TruthMatcher

    scen = load_scenario_file(ROOT / "scenarios" / "single-intruder.yaml")
    m = TruthMatcher(scen.targets)
    (tgt,) = scen.targets
    s = tgt.path.state(50.0)
    assert s is not None
    from luchtwacht.model.track import ThreatLevel, TrackView

    def view(tid, e, n, u):
        return TrackView(tid, 0.0, 0.0, 0.0, 0.0, e, n, u, 10.0, 0.0, 0.0, "drone", 0.9, False,
                         None, ThreatLevel(0), (), None, 5.0)  # fmt: skip

    m.observe(49.0, [view(7, 9e4, 9e4, 50.0)])  # track 7 follows nothing yet
    m.observe(50.0, [view(7, *s[0])])  # then it follows the intruder
    follows = {(round(t, 6), v.track_id) for t, v in m.history[tgt.name].matches}
    assert (50.0, 7) in follows and (49.0, 7) not in follows


def test_first_detections_gate_plots_and_bearings_on_the_truth():

    east = Target(
        "east",
        ObjectClass.DRONE,
        0.02,
        WaypointPath(((1000.0, 0.0, 0.0), (1000.0, 1.0, 0.0)), (0.01,)),
    )
    epoch = 1_000.0

    def plots(t, pts, sigma):
        n = len(pts)
        return DetectionBatch(
            "r", np.full(n, epoch + t), np.array(pts, float),
            np.broadcast_to(np.eye(3) * sigma**2, (n, 3, 3)).copy(), np.zeros((n, N_CLASSES)),
        )  # fmt: skip

    def bearing(t, az_deg, std_deg, reach=math.inf, el_deg=math.nan):
        return BearingBatch(
            "rf", np.zeros(3), epoch + t, np.radians([az_deg]), np.radians([std_deg]),
            np.radians([el_deg]), np.radians([1.0]), np.zeros((1, N_CLASSES)),
            coverage_range_m=reach,
        )  # fmt: skip

    first = FirstDetections([east], epoch)
    first(plots(1.0, [[1030.0, 0.0, 0.0]], 5.0), True)  # 6σ off: not it
    first(bearing(2.0, 95.0, 1.0), True)  # 5σ off in azimuth
    first(bearing(3.0, 90.5, 1.0, reach=500.0), True)  # on bearing, but beyond the reach
    first(bearing(4.0, 90.5, 1.0, el_deg=20.0), True)  # the elevation says no
    assert first.first_s == {}
    first(bearing(5.0, 90.5, 1.0, el_deg=0.5), False)  # refused by the tracker: still seen
    first(plots(6.0, [[1003.0, 0.0, 0.0]], 5.0), True)
    assert first.first_s == {"east": 5.0}
    again = FirstDetections([east], epoch)
    again(plots(7.0, [[0.0, 0.0, 0.0], [1012.0, 0.0, 0.0]], 5.0), True)  # 2.4σ: in the gate
    assert again.first_s == {"east": 7.0}


def test_countermeasure_figures_are_summarised_as_hand_counted():
    from luchtwacht.eval.evaluate import EngagementResult, RunResult, TargetResult

    def target(name, role, rec, eff, breach):
        return TargetResult(
            name=name, role=role, true_class="drone", exists_s=0.0, detect_s=1.0,
            confirm_s=2.0, classify_s=3.0, alert_s=5.0, breach_s=breach,
            should_alert=role == "intruder", track_ids=[1], id_switches=0, fragmentations=0,
            coverage=1.0, recommend_s=rec, effect=None if eff is None else "hover",
            effect_s=eff, effect_by=None if eff is None else "jam",
        )  # fmt: skip

    def eng(eid, assessed, real, other=False):
        return EngagementResult(
            eng_id=eid, target="a", effector="jam", kind="rf_jammer", approved_s=10.0,
            assessed=assessed, assessed_s=None if assessed is None else 40.0,
            true_effect="hover" if real else None, true_effect_s=30.0 if real else None,
            target_neutralised=real or other,
        )  # fmt: skip

    run = RunResult(
        scenario="s", seed=1, duration_s=100.0, cycle_t_s=[1.0], gospa=[0.0],
        gospa_localisation=[0.0], gospa_missed=[0.0], gospa_false=[0.0], n_missed=[0],
        n_false=[0], confusion=[[0] * 5 for _ in range(5)], alerts_raised=0,
        alerts_on_intruders=0, false_alerts=0,
        targets=[
            target("a", "intruder", 8.0, 30.0, None),  # neutralised, never breached
            target("b", "intruder", 12.0, 50.0, 40.0),  # neutralised after its breach
            target("c", "intruder", None, None, 20.0),  # never recommended
            target("d", "cooperative", None, 25.0, None),  # hit by mistake: collateral below
        ],
        engagements=[
            eng(1, "hovering", True),  # effect seen, and real
            eng(2, "no_effect", False),  # no effect, rightly
            eng(3, "leaving", False),  # claimed an effect that did not happen
            eng(4, "lost", True),  # not judged
            eng(5, None, False),  # still going at the end
            eng(6, "leaving", False, other=True),  # right: another effector sent it home
        ],
        collateral=["d"], recommendations=4, operator_refusals=1,
    )  # fmt: skip
    s = summary([run])
    assert s["recommendations"] == 4 and s["operator_refusals"] == 1
    assert s["time_to_recommend_s"]["n"] == 2 and s["time_to_recommend_s"]["of"] == 3
    assert s["time_to_recommend_s"]["median"] == 10.0
    assert s["engagements"] == 6 and s["engagements_effective"] == 2
    assert s["engagement_outcomes"] == {
        "hovering": 1, "leaving": 2, "lost": 1, "no_effect": 1, "pending": 1,
    }  # fmt: skip
    assert (s["assessments_right"], s["assessments_judged"]) == (3, 4)
    assert s["intruders_neutralised"] == 2 and s["neutralised_before_breach"] == 1
    assert s["time_to_neutralise_s"]["median"] == 40.0
    assert s["collateral_effects"] == 1


def test_the_report_lists_every_engagement_beside_the_truth(tmp_path):
    from luchtwacht.eval.report import write_report

    scen = load_scenario_file(ROOT / "scenarios" / "autonomous-attack-engaged.yaml")
    run = evaluate_run(scen, scen.seed, keep_paths=True)
    doc = write_report(tmp_path, {scen.name: [run]})
    page = (tmp_path / "index.html").read_text()
    assert "<h3>Engagements</h3>" in page
    assert "Hard kill south (hard_kill)" in page and "downed at" in page
    assert doc["scenarios"][0]["engagements"] == 1
    runs = json.loads((tmp_path / "runs.json").read_text())
    (e,) = runs[scen.name][0]["engagements"]
    assert e["kind"] == "hard_kill" and e["true_effect"] == "downed"
