"""Every command on missing, empty, binary and unwritable paths: one ``error:`` line, no traceback.

The convention (docs/cli.md): ``error: <what>: <why>`` on stderr, exit 1 for invalid data found,
2 for usage or file errors. Output paths are checked before the work starts, so each case here
returns at once. Runs in process with typer's CliRunner; the root user can write anywhere, so
"unwritable" is a path under a regular file, which no user can create.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app

runner = CliRunner()
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "ehvk-default.yaml"
DEMO = ["demo", "--headless", "--no-web", "--speed", "0", "--duration", "2"]


class Paths:
    """The bad paths of one test: missing, empty, binary, unwritable, and a usable folder."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.missing = tmp / "missing.yaml"
        self.empty = tmp / "empty.dat"
        self.empty.write_bytes(b"")
        self.binary = tmp / "binary.dat"
        self.binary.write_bytes(bytes([0xB5, 0x00, 0xFF, 0x17]) * 64 + os.urandom(256))
        self.unwritable = tmp / "empty.dat" / "out.json"  # its folder is a file
        self.ok_out = tmp / "out.csv"


Case = tuple[str, Callable[[Paths], list[str]], int, str]

CASES: list[Case] = [
    # Click's own checks (a missing file, an unknown option) come out in the same one-line form
    ("verify-missing", lambda p: ["verify", str(p.missing)], 2, "does not exist"),
    ("replay-missing", lambda p: ["replay", str(p.missing)], 2, "does not exist"),
    ("track-missing", lambda p: ["track", str(p.missing), "--out", str(p.ok_out)], 2, "not exist"),
    ("demo-speed-negative", lambda p: [*DEMO, "--speed", "-1"], 2, "'--speed'"),
    ("unknown-command", lambda p: ["no-such-command"], 2, "No such command"),
    ("verify-empty", lambda p: ["verify", str(p.empty)], 2, "not a Luchtwacht recording"),
    ("verify-binary", lambda p: ["verify", str(p.binary)], 2, "not a Luchtwacht recording"),
    ("replay-empty", lambda p: ["replay", str(p.empty)], 2, "empty.dat"),
    ("replay-binary", lambda p: ["replay", str(p.binary)], 2, "binary.dat"),
    (
        "replay-summary-unwritable",
        lambda p: ["replay", str(p.binary), "--summary-json", str(p.unwritable)],
        2,
        "--summary-json",
    ),
    ("demo-seed-negative", lambda p: [*DEMO, "--seed", "-1"], 2, "--seed -1"),
    ("demo-scenario-missing", lambda p: [*DEMO, "--scenario", str(p.missing)], 2, "missing.yaml"),
    ("demo-scenario-empty", lambda p: [*DEMO, "--scenario", str(p.empty)], 2, "empty.dat"),
    ("demo-scenario-binary", lambda p: [*DEMO, "--scenario", str(p.binary)], 2, "not a text"),
    ("demo-record-unwritable", lambda p: [*DEMO, "--record", str(p.unwritable)], 2, "--record"),
    ("demo-record-binary", lambda p: [*DEMO, "--record", str(p.binary)], 2, "not a SQLite"),
    ("demo-record-folder", lambda p: [*DEMO, "--record", str(p.dir)], 2, "is a folder"),
    (
        "demo-summary-unwritable",
        lambda p: [*DEMO, "--summary-json", str(p.unwritable)],
        2,
        "--summary-json",
    ),
    ("run-config-missing", lambda p: ["run", "--config", str(p.missing)], 2, "missing.yaml"),
    ("run-config-empty", lambda p: ["run", "--config", str(p.empty)], 2, "empty file"),
    ("run-config-binary", lambda p: ["run", "--config", str(p.binary)], 2, "not a text"),
    (
        "run-record-unwritable",
        lambda p: [
            "run",
            "--remoteid-listen",
            "127.0.0.1:0",
            "--no-web",
            "--record",
            str(p.unwritable),
        ],
        2,
        "--record",
    ),
    (
        "run-stats-unwritable",
        lambda p: [
            "run",
            "--remoteid-listen",
            "127.0.0.1:0",
            "--no-web",
            "--stats-json",
            str(p.unwritable),
        ],
        2,
        "--stats-json",
    ),
    (
        "run-unknown-host",
        lambda p: ["run", "--remoteid-listen", "no-such-host.invalid:4000", "--no-web"],
        2,
        "no-such-host.invalid:4000",
    ),
    ("track-empty", lambda p: ["track", str(p.empty), "--out", str(p.ok_out)], 2, "empty file"),
    ("track-binary", lambda p: ["track", str(p.binary), "--out", str(p.ok_out)], 2, "not an .npz"),
    (
        "track-out-unwritable",
        lambda p: ["track", str(p.binary), "--out", str(p.unwritable)],
        2,
        "--out",
    ),
    (
        "evaluate-report-is-a-file",
        lambda p: ["evaluate", str(SCENARIO), "--report", str(p.binary)],
        2,
        "not a folder",
    ),
    (
        "evaluate-report-unwritable",
        lambda p: ["evaluate", str(SCENARIO), "--report", str(p.unwritable)],
        2,
        "not a folder",
    ),
    (
        "evaluate-scenario-binary",
        lambda p: ["evaluate", str(p.binary), "--report", str(p.dir / "rep")],
        2,
        "not a text",
    ),
    (
        "evaluate-compare-binary",
        lambda p: ["evaluate", "--compare", str(p.binary), str(p.empty)],
        2,
        "not a text file",
    ),
    ("operators-list-missing", lambda p: ["operators", "list", str(p.missing)], 2, "missing.yaml"),
    ("operators-list-empty", lambda p: ["operators", "list", str(p.empty)], 2, "empty.dat"),
    ("operators-list-binary", lambda p: ["operators", "list", str(p.binary)], 2, "binary.dat"),
    (
        "operators-add-unwritable",
        lambda p: ["operators", "add", str(p.unwritable), "bob", "--password-stdin"],
        2,
        "not a folder",
    ),
    (
        "operators-add-no-terminal",
        lambda p: ["operators", "add", str(p.dir / "accounts.yaml"), "bob"],
        2,
        "--password-stdin",
    ),
]


def _assert_one_error_line(result: Any, code: int, needle: str) -> str:
    """Exit ``code``, exactly one ``error:`` line on stderr containing ``needle``, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in result.output + result.stderr
    return str(lines[0])


@pytest.mark.parametrize(("name", "args", "code", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_path_gives_one_error_line(
    tmp_path: Path, name: str, args: Callable[[Paths], list[str]], code: int, needle: str
) -> None:
    paths = Paths(tmp_path)
    result = runner.invoke(app, args(paths), input="")
    _assert_one_error_line(result, code, needle)
    assert not paths.ok_out.exists()  # nothing was written before the error


def test_run_on_a_port_in_use_names_the_address() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        result = runner.invoke(
            app, ["run", "--sapient-listen", address, "--plain-tcp", "--no-web", "--headless"]
        )
    # the plain-TCP warning is the one other line the command prints, on purpose
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("warning: ")]
    assert result.exit_code == 2, result.stderr
    assert lines == [f"error: cannot listen for sapient on {address}: address already in use"]


def test_recording_twice_is_refused_unless_overwrite(tmp_path: Path) -> None:
    rec = tmp_path / "run.sqlite"
    first = runner.invoke(app, [*DEMO, "--record", str(rec)])
    assert first.exit_code == 0, first.output
    size = rec.stat().st_size
    again = runner.invoke(app, [*DEMO, "--record", str(rec)])
    line = _assert_one_error_line(again, 2, "already holds a recording")
    assert "--overwrite" in line
    assert rec.stat().st_size == size  # untouched
    live = ["run", "--remoteid-listen", "127.0.0.1:0", "--no-web", "--headless"]
    _assert_one_error_line(runner.invoke(app, [*live, "--record", str(rec)]), 2, "--overwrite")
    assert rec.stat().st_size == size
    replaced = runner.invoke(app, [*DEMO, "--record", str(rec), "--overwrite", "--seed", "8"])
    assert replaced.exit_code == 0, replaced.output
    check = runner.invoke(app, ["replay", str(rec), "--check"])
    assert check.exit_code == 0, check.output  # one run in the file, not two


def test_an_altered_recording_is_invalid_data_exit_1(tmp_path: Path) -> None:
    """Invalid data found (not a usage or file error): exit 1, still one ``error:`` line."""
    import sqlite3

    rec = tmp_path / "run.sqlite"
    assert runner.invoke(app, [*DEMO, "--record", str(rec)]).exit_code == 0
    with sqlite3.connect(rec) as db:
        db.execute("UPDATE audit SET payload = payload || ' ' WHERE seq = 1")
    _assert_one_error_line(runner.invoke(app, ["verify", str(rec)]), 1, "audit chain BROKEN")
