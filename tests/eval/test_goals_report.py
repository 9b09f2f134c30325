"""Goals and PASS/FAIL, the report's map, and --compare's better / worse / same."""

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.eval.evaluate import CLASSES, RunResult, TargetResult, compare, summary
from luchtwacht.eval.goals import GOALS, Goal, judge, overall
from luchtwacht.eval.report import _map_plot, write_report

ORIGIN = [51.6564, 5.7087, 65.0]


def target(name, true_class="drone", role="intruder", confirm=2.0, classify=4.0, alert=6.0,
           switches=0):  # fmt: skip
    return TargetResult(
        name=name, role=role, true_class=true_class, exists_s=0.0, detect_s=1.0,
        confirm_s=confirm, classify_s=classify, alert_s=alert, breach_s=None,
        should_alert=role == "intruder", track_ids=[1], id_switches=switches, fragmentations=0,
        coverage=1.0,
    )  # fmt: skip


def confusion(**cells):
    """A confusion matrix from cells named true_reported, e.g. bird_drone=3."""
    c = [[0] * len(CLASSES) for _ in CLASSES]
    for key, n in cells.items():
        t, r = key.split("_")
        c[CLASSES.index(t)][CLASSES.index(r)] = n
    return c


def run(targets, conf, scenario="s", false_alerts=0, site=None, truth=None, tracks=None):
    return RunResult(
        scenario=scenario, seed=1, duration_s=100.0, cycle_t_s=[1.0, 2.0], gospa=[10.0, 20.0],
        gospa_localisation=[10.0, 20.0], gospa_missed=[0.0, 0.0], gospa_false=[0.0, 0.0],
        n_missed=[0, 0], n_false=[0, 0], targets=targets, confusion=conf,
        alerts_raised=false_alerts + sum(t.alert_s is not None for t in targets),
        alerts_on_intruders=sum(t.alert_s is not None for t in targets),
        false_alerts=false_alerts, truth_xy=truth or {}, track_xy=tracks or {}, site=site or {},
    )  # fmt: skip


def verdicts(s):
    return {g["metric"]: g["verdict"] for g in s["goals"]}


def test_goal_figures_are_counted_as_by_hand_and_judged():
    drones = [
        target("a", classify=4.0),  # confirmed at 2 s, classed at 4 s: within 5 s
        target("b", classify=7.0),  # exactly 5 s after: within
        target("c", classify=9.0),  # 7 s after: not within
        target("d", classify=None),  # never classed
        target("e", confirm=None, classify=None, alert=None),  # never confirmed: not counted
    ]
    s = summary([run(drones, confusion(bird_bird=990, bird_drone=10, aircraft_aircraft=50))])
    assert (s["drones_confirmed"], s["drones_classed_within_5s"]) == (4, 2)
    assert s["drones_classed_within_5s_share"] == 0.5
    assert s["birds_called_drone_share"] == 10 / 1000  # exactly the 1 % goal: a pass
    assert s["intruders_alerted_share"] == 4 / 5
    v = verdicts(s)
    assert v["drones_classed_within_5s_share"] == "FAIL"
    assert v["birds_called_drone_share"] == "PASS"
    assert v["aircraft_called_drone"] == "PASS"
    assert v["intruders_alerted_share"] == "FAIL"
    assert v["false_alerts"] == "PASS"
    assert v["time_classify_to_recommend_s.median"] == "n/a"  # no recommendation at all
    assert "id_switches_per_run" not in v  # swarm-50's goal only
    assert "drones_classed_within_10s_share" not in v  # kinematic-drone's only
    assert s["drones_classed_within_10s"] == 3 and s["drones_classed_within_10s_share"] == 0.75
    assert s["verdict"] == "FAIL"

    good = summary([run(drones[:2], confusion(bird_bird=999, bird_drone=1))])
    assert good["verdict"] == "PASS" and all(g["verdict"] != "FAIL" for g in good["goals"])
    worse = summary([run(drones[:2], confusion(bird_bird=989, bird_drone=11, aircraft_drone=1),
                         false_alerts=1)])  # fmt: skip
    v = verdicts(worse)
    assert v["birds_called_drone_share"] == "FAIL" and v["aircraft_called_drone"] == "FAIL"
    assert v["false_alerts"] == "FAIL" and worse["verdict"] == "FAIL"


def test_a_scenario_goal_applies_to_its_scenario_only_and_birds_only_is_not_judged_on_drones():
    swarm = [target(f"d{k}", switches=3) for k in range(3)]  # 9 switches in one run
    s = summary([run(swarm, confusion(), scenario="swarm-50")])
    assert verdicts(s)["id_switches_per_run"] == "FAIL" and s["id_switches_per_run"] == 9.0
    s = summary([run(swarm[:2], confusion(), scenario="swarm-50")])  # 6 ≤ 20/3
    assert verdicts(s)["id_switches_per_run"] == "PASS"
    # On kinematics alone: 9 of 10 drones classed within 10 s is the 90 % goal; 8 fail it.
    slow = [target(f"k{k}", classify=2.0 + 10.0 + (5.0 if k >= 9 else 0.0)) for k in range(10)]
    s = summary([run(slow, confusion(), scenario="kinematic-drone")])
    assert s["drones_classed_within_10s_share"] == 0.9
    assert verdicts(s)["drones_classed_within_10s_share"] == "PASS"
    s = summary([run(slow[1:], confusion(), scenario="kinematic-drone")])
    assert verdicts(s)["drones_classed_within_10s_share"] == "FAIL"
    birds = [target(f"b{k}", "bird", "bird", alert=None) for k in range(3)]
    s = summary([run(birds, confusion(bird_bird=300))])
    v = verdicts(s)
    assert v["drones_classed_within_5s_share"] == "n/a" and v["intruders_alerted_share"] == "n/a"
    assert v["birds_called_drone_share"] == "PASS" and s["verdict"] == "PASS"
    assert v["aircraft_called_drone"] == "n/a"  # no aircraft tracked: nothing to judge


def test_the_goals_are_one_table_with_a_source_and_judge_reads_dotted_figures():
    assert len({g.metric for g in GOALS}) == len(GOALS)
    assert all(g.source.startswith("#") and g.label for g in GOALS)
    goal = Goal("t.median", "<=", 3.0, "time", "s", "#0")
    assert judge({"scenario": "x", "t": {"median": 2.9}}, (goal,))[0]["verdict"] == "PASS"
    assert judge({"scenario": "x", "t": {"median": 3.1}}, (goal,))[0]["verdict"] == "FAIL"
    (na,) = judge({"scenario": "x", "t": {"median": None}}, (goal,))
    assert na["verdict"] == "n/a" and na["goal"] == "≤ 3 s"
    assert overall([na]) == "n/a"


def test_compare_fills_in_better_worse_and_same_per_figure():
    before = {"scenarios": [summary([run([target("a", classify=4.0)], confusion(bird_bird=100))])]}
    after = json.loads(json.dumps(before))
    s = after["scenarios"][0]
    s["gospa_mean"] *= 0.5  # lower is better: better
    s["missed_per_cycle"] = 0.0  # unchanged: same
    s["false_tracks_per_cycle"] = 0.05  # 0 → 0.05 with a relative tolerance: worse
    s["intruders_alerted"] = 0  # higher is better: worse
    s["id_switches"] = 0  # unchanged count
    s["time_to_confirm_s"]["median"] *= 1.05  # within its 10 %: same
    by = {c.metric: c for c in compare(before, after)}
    g = by["gospa_mean"]
    assert (g.word, g.better_when, g.regression) == ("better", "lower", False)
    assert g.delta == pytest.approx(-7.5)
    assert by["missed_per_cycle"].word == "same"
    assert by["false_tracks_per_cycle"].word == "worse"
    a = by["intruders_alerted"]
    assert (a.word, a.better_when, a.regression, a.delta) == ("worse", "higher", True, -1.0)
    assert by["time_to_confirm_s.median"].word == "same"
    assert by["drones_classed_within_5s_share"].better_when == "higher"


def test_compare_on_the_command_line_lists_better_and_worse_and_exits_by_them(tmp_path):
    old = {"scenarios": [summary([run([target("a")], confusion(bird_bird=100, bird_drone=2))])]}
    better = json.loads(json.dumps(old))
    better["scenarios"][0]["birds_called_drone"] = 0
    better["scenarios"][0]["birds_called_drone_share"] = 0.0
    worse = json.loads(json.dumps(better))
    worse["scenarios"][0]["id_switches"] = 3
    worse["scenarios"].append(dict(worse["scenarios"][0], scenario="extra"))  # not in the other
    paths = {}
    for name, doc in (("old", old), ("better", better), ("worse", worse)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(doc))
    runner = CliRunner()
    res = runner.invoke(app, ["evaluate", "--compare", str(paths["old"]), str(paths["better"])])
    assert res.exit_code == 0, res.output
    assert "birds_called_drone" in res.output and "better" in res.output
    assert "2 better, 0 worse" in res.output
    res = runner.invoke(app, ["evaluate", "--compare", str(paths["better"]), str(paths["worse"])])
    assert res.exit_code == 1
    assert "id_switches" in res.output and "0 better, 1 worse" in res.output
    assert "(not compared): extra" in res.output
    res = runner.invoke(app, ["evaluate", "--compare", str(paths["old"]), str(tmp_path / "no")])
    assert res.exit_code == 2


SITE = {
    "origin": ORIGIN,
    "zones": [
        {
            "name": "Runway",
            "enu": [[-500.0, -100.0], [500.0, -100.0], [500.0, 100.0], [-500.0, 100.0]],
        }
    ],
    "no_fire": [
        {"name": "Village", "enu": [[-1500.0, 800.0], [-1000.0, 800.0], [-1000.0, 1200.0]]}
    ],
    "sensors": [
        {"name": "radar", "kind": "radar", "east": 0.0, "north": 0.0, "range_m": 10000.0},
        {"name": "rid", "kind": "remoteid", "east": 0.0, "north": 0.0, "range_m": 3000.0},
        {"name": "rf", "kind": "rf", "east": 800.0, "north": -600.0, "range_m": 2000.0},
    ],
    "effectors": [
        {"name": "Jammer", "kind": "rf_jammer", "east": 200.0, "north": 300.0, "range_m": 1500.0}
    ],
}


def land_west_of(tmp_path: Path, lon: float) -> Path:
    """A GeoJSON 'country' covering everything west of ``lon`` near the site."""
    ring = [[lon - 1.0, 50.0], [lon, 50.0], [lon, 53.0], [lon - 1.0, 53.0], [lon - 1.0, 50.0]]
    path = tmp_path / "countries.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Westland"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {"name": "Far away"},
         "geometry": {"type": "Polygon", "coordinates": [[[100, 0], [101, 0], [101, 1],
                                                            [100, 0]]]}},
    ]}))  # fmt: skip
    return path


def test_the_map_draws_basemap_zones_sensors_trails_and_a_legend(tmp_path):
    truth = {"Drone": [[t, -3000.0 + 100.0 * t, 500.0] for t in range(61)]}  # symmetric
    tracks = {7: [[t, -3000.0 + 100.0 * t, 510.0] for t in range(5, 61)]}
    r = run([target("Drone")], confusion(), site=SITE, truth=truth, tracks=tracks)
    png = tmp_path / "map.png"
    drawn, labels = _map_plot(r, png, land_west_of(tmp_path, ORIGIN[1]))  # land west of the site
    assert drawn
    for want in ("land, borders (Natural Earth)", "protected zone", "no-fire area",
                 "truth: Drone", "confirmed tracks", "radar (dashed: reach)",
                 "Remote ID receiver (dashed: reach)", "RF detector (dashed: reach)",
                 "effector (dash-dot: reach)"):  # fmt: skip
        assert want in labels, labels
    assert any(x.startswith("range rings") for x in labels)
    img = imread(png)[..., :3]
    land = np.array([0xF1, 0xEF, 0xE4]) / 255.0
    sea = np.array([0xDB, 0xE9, 0xF4]) / 255.0
    _, w, _ = img.shape

    def share(colour, cols):
        return np.mean(np.all(np.abs(img[:, cols] - colour) < 0.02, axis=-1))

    # land west of the site's meridian, water east of it: each colour on its own side
    assert share(land, slice(0, w // 3)) > 0.1 and share(sea, slice(0, w // 3)) < 0.01
    assert share(sea, slice(2 * w // 3, w)) > 0.1 and share(land, slice(2 * w // 3, w)) < 0.01

    no_base, labels = _map_plot(r, tmp_path / "bare.png", tmp_path / "missing.geojson")
    assert not no_base and "protected zone" in labels
    assert not any("Natural Earth" in x for x in labels)


def test_the_report_states_goals_and_verdicts_per_scenario(tmp_path):
    a = run([target("a", classify=9.0)], confusion(), scenario="late classing", site=SITE,
            truth={"a": [[0.0, 0.0, 0.0], [1.0, 10.0, 0.0]]})  # fmt: skip
    b = run([target("b")], confusion(), scenario="all good", site=SITE,
            truth={"b": [[0.0, 0.0, 0.0], [1.0, 10.0, 0.0]]})  # fmt: skip
    doc = write_report(tmp_path, {"late classing": [a], "all good": [b]},
                       countries=tmp_path / "none.geojson")  # fmt: skip
    by = {s["scenario"]: s for s in doc["scenarios"]}
    assert by["late classing"]["verdict"] == "FAIL" and by["all good"]["verdict"] == "PASS"
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert [s["verdict"] for s in on_disk["scenarios"]] == ["FAIL", "PASS"]
    assert on_disk["scenarios"][0]["goals"][0]["metric"] == "drones_classed_within_5s_share"
    page = (tmp_path / "index.html").read_text()
    assert page.count(">FAIL</b>") >= 2 and ">PASS</b>" in page  # table cells and headings
    assert "≥ 95 %" in page and "(#14" in page
    for slug in ("late-classing", "all-good"):
        assert (tmp_path / f"{slug}-goals.png").stat().st_size > 0
        assert f'src="{slug}-goals.png"' in page


def test_progress_is_a_live_bar_on_a_terminal_and_a_line_per_run_otherwise():
    import io

    from rich.console import Console

    from luchtwacht.commands.evaluate import _Runs

    term = io.StringIO()
    with _Runs(Console(file=term, force_terminal=True, width=120)) as shown:
        assert shown.bar is not None
        done = shown.monte_carlo("swarm", 3, 10)
        done(1)
        step = shown.side_by_side("swarm")
        step("fly", 1.0)
        step("stonesoup", 0.5)
        mc, side = shown.bar.tasks
        assert (mc.completed, mc.total) == (1, 3)
        assert (side.completed, side.total) == (2.5, 3)  # two stages done, half the third
        assert "Stone Soup's tracker" in side.description
    assert "run 1/3" not in term.getvalue()  # the bar, not lines

    log = io.StringIO()
    with _Runs(Console(file=log, width=200)) as shown:
        assert shown.bar is None
        done = shown.monte_carlo("swarm", 2, 10)
        done(1)
        done(2)
        step = shown.side_by_side("swarm")
        for stage in ("fly", "luchtwacht", "stonesoup"):
            step(stage, 0.5)
            step(stage, 1.0)
            step(stage, 1.0)  # told twice: one line
    lines = log.getvalue().splitlines()
    assert [x.split(" done in ")[0] for x in lines] == [
        "swarm: run 1/2 (seed 10)",
        "swarm: run 2/2 (seed 11)",
        "swarm: side by side 1/3: flying the scenario for its radar plots",
        "swarm: side by side 2/3: Luchtwacht's tracker",
        "swarm: side by side 3/3: Stone Soup's tracker",
    ]
