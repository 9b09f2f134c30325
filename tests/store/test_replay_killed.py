"""Replay of ``luchtwacht run`` killed with ``kill -9``: what it committed replays exactly.

The node runs as its own process, on the wall clock, recording through its background store. A
radar reports over TCP; the process is killed mid-run, without its final tick or closing
records. ``replay --check`` replays the recorded ticks up to the cut and must reproduce every
committed track row and alert event.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from luchtwacht.cli import app
from tests.store.test_replay_live import _radar

SCANS = 7


def _ticks(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT count(*) FROM tick").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0  # not created yet


def test_a_killed_live_run_replays_to_its_cut(tmp_path):
    rec = tmp_path / "killed.sqlite"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "luchtwacht.cli", "run", "--sapient-listen", f"127.0.0.1:{port}",
           "--plain-tcp", "--record", str(rec), "--no-web", "--headless"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def feed() -> None:
        deadline = time.monotonic() + 60
        while _ticks(rec) < 5:  # the node is up and ticking
            assert proc.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.1)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        epoch = time.time()
        for k, chunk in enumerate(_radar(epoch, 1)[:SCANS]):
            await asyncio.sleep(max(0.0, epoch + k + 0.05 - time.time()))
            writer.write(chunk)
            await writer.drain()
        await asyncio.sleep(1.3)  # a slow cycle commits the last scan's tracks
        os.kill(proc.pid, signal.SIGKILL)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    try:
        asyncio.run(feed())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    db = sqlite3.connect(rec)
    assert db.execute("SELECT value FROM meta WHERE key = 'end_s'").fetchone() is None
    (tracks,) = db.execute("SELECT count(*) FROM track").fetchone()
    (alerts,) = db.execute("SELECT count(*) FROM alert_event").fetchone()
    db.close()
    assert tracks >= 2 and alerts >= 1
    result = CliRunner().invoke(app, ["replay", str(rec), "--check"])
    assert result.exit_code == 0, result.output
    assert f"{tracks} track rows and {alerts} alert events identical" in result.output
