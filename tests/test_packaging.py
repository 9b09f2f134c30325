"""The systemd unit and the JSON-lines log: the unit passes ``systemd-analyze verify`` and its
ExecStart line, pointed at a test site, runs a node that logs JSON lines, records to a file of
its own per start and ends cleanly on SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht.cli import app

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "packaging" / "luchtwacht.service"
runner = CliRunner()


def _exec_start() -> str:
    for line in UNIT.read_text().splitlines():
        if line.startswith("ExecStart="):
            return line.removeprefix("ExecStart=")
    raise AssertionError("no ExecStart")


def test_the_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (Debian's systemd package) is needed"
    unit = tmp_path / "luchtwacht.service"
    unit.write_text(UNIT.read_text())
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_units_command_runs_a_node_that_logs_json_lines_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    state, logs, etc = tmp_path / "state", tmp_path / "log", tmp_path / "etc"
    for d in (state, logs, etc):
        d.mkdir()
    (etc / "site.yaml").write_text(
        "site: {name: unit-test, lat: 51.6564, lon: 5.7087, alt_m: 65.0}\n"
        "sapient: {listen: 127.0.0.1:0, transport: tcp}\n"
        "console: null\n"
    )
    command = (
        _exec_start()
        .replace("%%", "%")
        .replace("/opt/luchtwacht/.venv/bin/luchtwacht", f"{sys.executable} -m luchtwacht.cli")
        .replace("/etc/luchtwacht", str(etc))
        .replace("/var/lib/luchtwacht", str(state))
        .replace("/var/log/luchtwacht", str(logs))
    )
    assert command.startswith("/bin/sh -c '") and command.endswith("'")
    inner = command.removeprefix("/bin/sh -c '").removesuffix("'")
    proc = subprocess.Popen(["/bin/sh", "-c", inner], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (state / "stats.json").exists():
            assert time.monotonic() < deadline, "the node did not start"
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)  # exec: sh became the node, so the node gets it
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    (recording,) = state.glob("run-*.sqlite")
    assert len(recording.stem) == len("run-20261207T171445Z")
    lines = (logs / "node.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line one JSON object
    assert any("plain TCP" in r["message"] and r["level"] == "WARNING" for r in records)
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    verified = runner.invoke(app, ["verify", str(recording)])
    assert verified.exit_code == 0, verified.output  # closed with its closing record


def test_log_file_after_the_command_and_a_bad_log_path(tmp_path: Path) -> None:
    log = tmp_path / "x.jsonl"
    result = runner.invoke(app, ["version", "--log-file", str(log)])
    assert result.exit_code == 0 and log.exists()
    bad = runner.invoke(app, ["version", "--log-file", str(tmp_path / "no" / "x.jsonl")])
    assert bad.exit_code == 2 and "--log-file" in bad.output and "no such folder" in bad.output


def test_make_demo_says_what_it_is_doing_at_each_install_step() -> None:
    """A newcomer's first `make demo` spends minutes installing: each step announces itself."""
    make = shutil.which("make")
    assert make is not None
    plan = subprocess.run(
        [make, "-n", "-B", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    steps = [line for line in plan.splitlines() if "==>" in line]
    wanted = ["Python environment", "installing Luchtwacht", "compiling the tracker",
              "npm packages", "building the web console", "starting the demo"]  # fmt: skip
    found = [next((k for k, line in enumerate(steps) if w in line), -1) for w in wanted]
    assert -1 not in found and found == sorted(found), steps
