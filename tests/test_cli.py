import json
import re
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht.cli import app

runner = CliRunner()


def test_demo_headless_writes_summary_json_with_tracks_classes_alerts(tmp_path):
    out = tmp_path / "s.json"
    rec = tmp_path / "run.sqlite"
    result = runner.invoke(
        app,
        [
            "demo",
            "--headless",
            "--duration",
            "120",
            "--speed",
            "100",
            "--summary-json",
            str(out),
            "--record",
            str(rec),
            "--web-listen",
            "127.0.0.1:0",
        ],
    )
    assert result.exit_code == 0, result.output
    # The operator console ran beside it, with one fresh password per role.
    assert "operator console: http://127.0.0.1:" in result.output
    assert "commander / " in result.output and "viewer / " in result.output
    s = json.loads(out.read_text())
    assert s["duration_s"] == 120.0
    assert s["tracks_confirmed"] == len(s["tracks"]) >= 5
    assert {"drone", "bird", "aircraft"} <= set(s["classes"])
    assert all({"track_id", "class", "cooperative", "uas_id"} <= set(t) for t in s["tracks"])
    assert s["alerts_raised"] == len(s["alerts"]) >= 2
    assert all(a["object_class"] == "drone" and a["zone"] == "EHVK runway" for a in s["alerts"])
    assert s["sensors"]["radar-1"]["decoded"] > 1000 and s["sensors"]["rid-ehvk-1"]["decoded"] > 50
    assert "tracks confirmed" in result.output and "radar-1" in result.output
    assert "[critical]" in result.output or "[high]" in result.output

    ok = runner.invoke(app, ["verify", str(rec)])
    assert ok.exit_code == 0 and "intact" in ok.output
    db = sqlite3.connect(rec)
    db.execute("UPDATE audit SET payload = '{}' WHERE seq = 2")
    db.commit()
    db.close()
    bad = runner.invoke(app, ["verify", str(rec)])
    assert bad.exit_code == 1


def test_demo_live_view_renders(tmp_path):
    result = runner.invoke(
        app, ["demo", "--duration", "12", "--speed", "0", "--seed", "2", "--no-web"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "LUCHTWACHT" in result.output and "Tracks" in result.output and "Sensors" in result.output
    )


def test_demo_rejects_negative_speed():
    result = runner.invoke(app, ["demo", "--headless", "--speed", "-1"])
    assert result.exit_code != 0


def test_replay_reproduces_the_recorded_tracks_exactly(tmp_path):
    rec = tmp_path / "run.sqlite"
    assert (
        runner.invoke(
            app,
            [
                "demo",
                "--headless",
                "--duration",
                "60",
                "--speed",
                "0",
                "--record",
                str(rec),
                "--web-listen",
                "127.0.0.1:0",
            ],
        ).exit_code
        == 0
    )
    result = runner.invoke(
        app, ["replay", str(rec), "--check", "--summary-json", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    assert "replay matches the recording" in result.output
    replayed = json.loads((tmp_path / "r.json").read_text())
    assert replayed["tracks_confirmed"] >= 5
    # tamper with one recorded track position: the check must notice
    db = sqlite3.connect(rec)
    db.execute("UPDATE track SET east_m = east_m + 5 WHERE rowid = 10")
    db.commit()
    db.close()
    assert runner.invoke(app, ["replay", str(rec), "--check"]).exit_code == 1


def test_replay_refuses_a_file_that_is_not_a_recording(tmp_path):
    bogus = tmp_path / "x.sqlite"
    bogus.write_bytes(b"not sqlite at all")
    result = runner.invoke(app, ["replay", str(bogus)])
    assert result.exit_code == 2


def test_demo_runs_a_scenario_file_and_reports_its_errors_with_lines(tmp_path):
    from pathlib import Path

    default = Path(__file__).resolve().parents[1] / "scenarios" / "ehvk-default.yaml"
    out = tmp_path / "s.json"
    args = [
        "demo",
        "--headless",
        "--no-web",
        "--duration",
        "30",
        "--speed",
        "0",
        "--scenario",
        str(default),
    ]
    result = runner.invoke(app, [*args, "--summary-json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["scenario"] == "ehvk-default"
    bad = tmp_path / "bad.yaml"
    bad.write_text(default.read_text().replace("duration_s: 240", "duration_s: soon"))
    result = runner.invoke(app, ["demo", "--headless", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert "duration_s" in result.output and f"{bad}:" in result.output


def test_demo_live_view_shows_countermeasures_awaiting_approval_and_under_way():
    from rich.console import Console

    from luchtwacht.console.terminal import TerminalView
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario_file import load_scenario_file

    scen = load_scenario_file(Path(__file__).parents[1] / "scenarios" / "jammed-intruder.yaml")
    p = Pipeline(scen)
    view = TerminalView(p.subscribe("terminal", maxsize=4), 0.0, p.start_s)
    console = Console(width=200, record=True)
    console.print(view.render())
    assert "waiting for the first picture" in console.export_text()
    # The intruder is proposed as soon as it is on its breach course (about 12 s in); the duty
    # officer decides 8 s later. Look while the proposal waits.
    assert p.counter is not None
    while not p.counter.pending() and p.t_s < 60:
        p.run(1.0)
    assert p.counter.pending(), "no countermeasure proposed within 60 s"
    now = round(p.t_s)
    console = Console(width=200, record=True)
    console.print(view.render())
    text = console.export_text()
    assert "Countermeasures" in text and "AWAITING APPROVAL" in text
    assert "RF jammer north-east (rf_jammer)" in text and f"t+{now} s" in text
    assert view.subscription.lost > 0  # the view reads once a second: it keeps the newest
    p.run(15.0)
    console = Console(width=200, record=True)
    console.print(view.render())
    text = console.export_text()
    assert "E1" in text and "approved by duty-officer" in text


def test_headless_demo_summary_lists_the_engagements():
    scen = Path(__file__).parents[1] / "scenarios" / "jammed-intruder.yaml"
    result = runner.invoke(
        app,
        [
            "demo",
            "--headless",
            "--no-web",
            "--speed",
            "0",
            "--scenario",
            str(scen),
            "--duration",
            "90",
        ],
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "countermeasures: 1 recommendation(s), 0 still awaiting a decision" in out
    # proposed on its breach course (~12 s in), approved by the duty officer 8 s later
    engaged = re.search(r"engagement 1 t\+([0-9.]+) s: RF jammer north-east \(rf_jammer\)", out)
    assert engaged is not None, out
    assert 10.0 < float(engaged.group(1)) < 40.0, out
    assert "approved by duty-officer: engaging" in out


def test_the_terminal_view_fits_80_by_24_without_cutting_what_an_operator_reads():
    """At 80×24: every line fits, identities (serials, UAS IDs) and threat labels are whole,
    positions are range/bearing from the site, the sensors line is always there, and tracks
    that do not fit are counted by class (birds included), never silently gone."""
    import dataclasses

    from rich.console import Console

    from luchtwacht.console.terminal import TerminalView
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario_file import load_scenario_file

    scen = load_scenario_file(Path(__file__).parents[1] / "scenarios" / "jammed-intruder.yaml")
    p = Pipeline(scen)
    view = TerminalView(p.subscribe("terminal", maxsize=4), 0.0, p.start_s)
    p.run(75.0)

    def screen(rows: int, cols: int) -> list[str]:
        console = Console(width=cols, height=rows, record=True, color_system=None)
        console.print(view.render(rows))
        return console.export_text().splitlines()

    lines = screen(24, 80)
    text = "\n".join(lines)
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    picture = view.latest
    assert picture is not None
    for track in picture.tracks:
        ident = track.uas_id or track.rf_serial
        assert ident and ident in text  # whole, not cut with an ellipsis
        assert track.threat.label.upper() in text
    assert "km 040°" in text  # the intruder's range and bearing from the site
    assert "Sensors 6 ok" in text and "E1 track 2 engaging" in text

    birds = [
        dataclasses.replace(picture.tracks[0], track_id=100 + k, object_class="bird")
        for k in range(40)
    ]
    view.latest = dataclasses.replace(picture, tracks=(*picture.tracks, *birds))
    view.subscription.take()  # nothing new: render the crowded picture
    lines = screen(24, 80)
    text = "\n".join(lines)
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    shown = sum(1 for line in lines if line.lstrip().startswith("1") and "bird" in line)
    assert f"… {40 - shown} more: {40 - shown} bird" in text
    wide = "\n".join(screen(40, 160))
    assert "51.6" in wide and "Lat" in wide and "Sensors" in wide  # the full tables when wide
