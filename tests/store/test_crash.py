"""Crash safety: ``kill -9`` of a recording node loses nothing it had committed; verify names the cut.

Two real processes are killed mid-run: a writer going through the live node's BackgroundStore
with the node's key (it prints how much it has had committed, after each flush), and
``luchtwacht demo --record``. Each recording must then hold every committed record, intact, and
``luchtwacht verify`` must exit 1 with "run cut off at T", T the last commit's time.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.store.chain import NodeKey, ProblemKind
from luchtwacht.store.recorder import verify_recording

runner = CliRunner()

WRITER = """
import sys, time
from luchtwacht.store.chain import NodeKey
from luchtwacht.store.worker import BackgroundStore

store = BackgroundStore(sys.argv[1], key=NodeKey.load(sys.argv[2]), commit_every_s=0.05)
store.set_meta(scenario="crash test")
n = 0
while True:
    for _ in range(50):
        n += 1
        store.raw(time.time(), "radar-1", "sapient", n.to_bytes(4, "big"))
    store.tick(time.time())
    store.audit(time.time(), "test.step", {"n": n})
    if not store.flush(10.0):
        sys.exit("flush timed out")
    print(n, flush=True)
"""


def last_commit(path: Path) -> tuple[int, float]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        seq, t_s = db.execute(
            "SELECT seq, t_s FROM chain_commit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return int(seq), float(t_s)
    finally:
        db.close()


def assert_cut_off_and_intact(path: Path, public_pem: bytes | None) -> None:
    seq, t_s = last_commit(path)
    report = verify_recording(path, public_pem)
    p = report.problem
    assert p is not None and p.kind is ProblemKind.CUT_OFF, p and p.describe()
    assert p.seq == seq and report.commits == seq and not report.closed
    res = runner.invoke(app, ["verify", str(path)])
    assert res.exit_code == 1, res.output
    when = dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat(timespec="milliseconds")
    assert f"run cut off at {when}" in res.output and f"last commit {seq}" in res.output


def test_kill_9_of_a_background_store_writer_loses_nothing_committed(tmp_path: Path) -> None:
    key = NodeKey.generate()
    key_file = tmp_path / "node.key"
    key_file.write_bytes(key.private_pem())
    path = tmp_path / "run.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(key_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    committed = 0
    try:
        for line in proc.stdout:
            committed = int(line)
            if committed >= 3000:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL and committed >= 3000
    assert_cut_off_and_intact(path, key.public_pem())
    report = verify_recording(path, key.public_pem())
    assert report.rows["raw"] >= committed and report.rows["audit"] >= committed // 50
    db = sqlite3.connect(path)
    # Every raw record up to the last one committed is there, in order, none missing.
    rows = db.execute("SELECT seq, payload FROM raw ORDER BY seq").fetchall()
    assert [s for s, _ in rows] == list(range(1, len(rows) + 1))
    assert all(int.from_bytes(p, "big") == s for s, p in rows)
    db.close()


def test_kill_9_of_a_recording_demo_is_reported_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "luchtwacht.cli", "demo", "--headless", "--no-web", "--speed",
         "0", "--duration", "240", "--record", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120.0
        commits = 0
        while commits < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if path.exists():
                try:
                    commits = last_commit(path)[0]
                except (sqlite3.Error, TypeError):
                    commits = 0  # not created yet, or nothing committed yet
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, "the demo ended before it was killed"
    assert commits >= 20
    assert_cut_off_and_intact(path, None)
    report = verify_recording(path)
    assert report.rows["track"] > 0 and report.rows["raw"] > 0 and report.rows["tick"] > 0
