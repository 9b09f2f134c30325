import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from luchtwacht.commands.track import app, load_scenario, run_tracker
from luchtwacht.eval.metrics import gospa_over_scans

runner = CliRunner()


def read_csv(path):
    with path.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["scan", "track_id", "x", "y", "vx", "vy"]
    return np.array([[float(v) for v in r] for r in rows[1:]]).reshape(-1, 6)


def write_scenario(path, meas_scan, meas_xy, **params):
    p: dict[str, object] = {"dt": 1.0, "q": 0.5, "sigma": 10.0, "pd": 1.0, "clutter_rate": 0.0}
    p.update(params)
    p.setdefault("region", [[0.0, 5000.0], [0.0, 5000.0]])
    np.savez_compressed(
        path,
        params_json=np.array(json.dumps(p)),
        meas_scan=np.asarray(meas_scan, np.int32),
        meas_xy=np.asarray(meas_xy, np.float64).reshape(-1, 2),
    )


@pytest.fixture
def two_targets(tmp_path):
    """Two noiseless constant-velocity targets over 12 scans, scan 6 empty; no truth arrays.

    The stated PD of 0.9 admits the missed scan (a sensor claiming PD 1 could not miss: its
    tracks would be dropped at once, which the tracker's quality score does on purpose).
    """
    starts = np.array([[1000.0, 1000.0], [3000.0, 2000.0]])
    vels = np.array([[10.0, 5.0], [-8.0, 12.0]])
    scans, xy = [], []
    for k in range(12):
        if k == 6:
            continue
        for s, v in zip(starts, vels, strict=True):
            scans.append(k)
            xy.append(s + v * k)
    path = tmp_path / "two.npz"
    write_scenario(path, scans, xy, sigma=5.0, n_scans=12, pd=0.9)
    return path, starts, vels


def test_tracks_a_file_without_truth_and_writes_confirmed_rows(tmp_path, two_targets):
    path, starts, vels = two_targets
    out, stats_path = tmp_path / "tracks.csv", tmp_path / "stats.json"
    result = runner.invoke(app, [str(path), "--out", str(out), "--stats-json", str(stats_path)])
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    # No clutter is declared, so the second plot (M = 2) makes existence certain: both tracks are
    # confirmed from scan 1 on, scan 6 included (one miss leaves them likely, so still reported).
    assert sorted(set(rows[:, 0].astype(int))) == list(range(1, 12))
    assert len(np.unique(rows[:, 1])) == 2 and len(rows) == 2 * 11
    for k, _tid, x, y, vx, vy in rows:
        i = int(np.argmin(np.linalg.norm(starts + vels * k - [x, y], axis=1)))
        assert np.hypot(*(starts[i] + vels[i] * k - [x, y])) < 1.0
        assert np.hypot(*(vels[i] - [vx, vy])) < 0.5
    stats = json.loads(stats_path.read_text())
    assert set(stats) == {"scans", "scan_ms_median", "scan_ms_p99", "tracks_confirmed", "output"}
    assert stats["scans"] == 12 and stats["tracks_confirmed"] == 2
    assert 0 < stats["scan_ms_median"] <= stats["scan_ms_p99"]


@pytest.mark.parametrize(
    "options",
    [["--assoc", "jpda"], ["--motion", "imm"], ["--motion", "imm", "--assoc", "jpda"]],
)
def test_jpda_and_the_imm_track_the_same_targets(tmp_path, two_targets, options):
    path, starts, vels = two_targets
    out = tmp_path / "tracks.csv"
    result = runner.invoke(app, [str(path), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert len(np.unique(rows[:, 1])) == 2
    for k, _tid, x, y, _vx, _vy in rows:
        i = int(np.argmin(np.linalg.norm(starts + vels * k - [x, y], axis=1)))
        assert np.hypot(*(starts[i] + vels[i] * k - [x, y])) < 1.0


def test_a_file_that_is_not_a_scenario_exits_2(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    result = runner.invoke(app, [str(bad), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "missing" in result.stderr
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    result = runner.invoke(app, [str(junk), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "cannot read scenario" in result.stderr


@pytest.fixture(scope="module")
def generated(shared, tmp_path_factory):
    """A small scenario from ../shared/bench/gen_scenario.py (8 targets, 40 scans, clutter)."""
    gen = shared.dir("bench") / "gen_scenario.py"
    path = tmp_path_factory.mktemp("scen") / "scen_8.npz"
    subprocess.run(
        [sys.executable, str(gen), "--targets", "8", "--n-scans", "40", "--out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def test_generated_scenario_same_output_with_and_without_the_answer_key(tmp_path, generated):
    with np.load(generated) as d:
        full = {k: d[k] for k in d.files}
    assert {"meas_truth_id", "truth_scan", "truth_id", "truth_state"} <= set(full)
    stripped = tmp_path / "no_truth.npz"
    keep = ("params_json", "meas_scan", "meas_xy")
    np.savez(stripped, **{k: full[k] for k in keep})
    outs = []
    for src in (generated, stripped):
        out = tmp_path / f"{src.stem}.csv"
        result = runner.invoke(app, [str(src), "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(out.read_text())
    assert outs[0] == outs[1]

    # The tracks are real: GOSPA against the truth is far below that of reporting nothing.
    rows = read_csv(tmp_path / f"{generated.stem}.csv")
    tscan, tstate = full["truth_scan"], full["truth_state"]
    score = gospa_over_scans(tscan, tstate[:, [0, 2]], rows[:, 0], rows[:, 2:4], n_scans=40)
    empty = gospa_over_scans(tscan, tstate[:, [0, 2]], [], np.empty((0, 2)), n_scans=40)
    assert score.mean < 0.6 * empty.mean
    assert score.mean_localisation < 15.0  # σ = 10 m per axis: filtered error below raw noise


def test_run_tracker_api_limits_scans_and_times_each(generated):
    scen = load_scenario(generated)
    run = run_tracker(scen, n_scans=10)
    assert run.scan_s.shape == (10,) and np.all(run.scan_s > 0)
    assert run.scan.max() <= 9 and run.state.shape == (run.scan.size, 4)


def test_history_and_smoothed_outputs_score_better_than_the_live_picture(tmp_path, generated):
    with np.load(generated) as d:
        tscan, tpos = d["truth_scan"], d["truth_state"][:, [0, 2]]
    score = {}
    for output in ("online", "history", "smoothed", "retro"):
        out, stats = tmp_path / f"{output}.csv", tmp_path / f"{output}.json"
        args = [str(generated), "--out", str(out), "--output", output, "--stats-json", str(stats)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert json.loads(stats.read_text())["output"] == output
        rows = read_csv(out)
        score[output] = gospa_over_scans(tscan, tpos, rows[:, 0], rows[:, 2:4], n_scans=40)
    # Hindsight adds each track's tentative first plot and drops coasts past its last plot
    # (a false track's tentative plot is added too, so false counts may not fall).
    assert score["history"].n_missed.sum() < score["online"].n_missed.sum()
    assert score["history"].mean < score["online"].mean
    assert score["smoothed"].mean_localisation < 0.8 * score["history"].mean_localisation
    # retro keeps the coasts after a track's last plot as well: never fewer rows than history
    assert score["retro"].n_false.sum() >= score["history"].n_false.sum()


def test_smoothed_output_with_the_imm_is_refused(tmp_path, generated):
    args = [str(generated), "--out", str(tmp_path / "o.csv"), "--motion", "imm"]
    result = runner.invoke(app, [*args, "--output", "smoothed"])
    assert result.exit_code == 2 and "NCV" in result.stderr
