"""Remote ID from a capture stream: pcap/pcapng from a pipe, a FIFO or stdin, as a run feed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.capture_feed import CaptureLines
from luchtwacht.ingest.remoteid_capture import CaptureStats, iter_capture_messages
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = sorted((ROOT / "tests" / "data" / "remoteid").glob("*.pcap*"))
SHARED_WIFI = ROOT.parent / "shared" / "data" / "remoteid" / "odid_wifi_sample.pcap"
ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)


@pytest.mark.parametrize("capture", [*CAPTURES, SHARED_WIFI], ids=lambda p: p.name)
def test_the_lines_carry_every_odid_frame_and_decode_to_the_same_messages(capture: Path) -> None:
    data = capture.read_bytes()
    stats = CaptureStats()
    frames = list(iter_capture_messages(data, stats))
    lines = CaptureLines("test-rx")
    out = []
    for k in range(0, len(data), 777):  # as a pipe delivers it, in pieces
        out += lines.feed(data[k : k + 777], t_rx_s=1.8e9)
    lines.stream.end()
    assert lines.frames == len(frames) == len(out) > 0
    assert sum(lines.malformed.values()) == len(stats.errors)
    assert sum(lines.skipped.values()) == sum(stats.skipped.values())
    pipe = RemoteIdPipe("rid", ORIGIN)
    pipe.feed(b"".join(out), t_rx_s=1.8e9)
    assert pipe.counters.decoded == len(frames) and pipe.counters.rejected == 0
    heard = {t.mac for t in pipe.transmitters.values()}
    assert heard == {f.mac for f in frames}
    for line, frame in zip(out, frames, strict=True):
        rec = json.loads(line)
        assert rec["transport"] == frame.transport and rec["receiver"] == "test-rx"


def _stats(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def _run(
    tmp_path: Path, source: str, name: str, stdin: int | None = None
) -> tuple[Path, subprocess.Popen[bytes]]:
    stats = tmp_path / f"{name}.json"
    cmd = [sys.executable, "-m", "luchtwacht.cli", "run", "--remoteid-capture", source,
           "--no-web", "--headless", "--stats-json", str(stats)]  # fmt: skip
    return stats, subprocess.Popen(cmd, stderr=subprocess.PIPE, stdin=stdin)


def _wait(
    stats: Path,
    done: Callable[[dict[str, Any]], bool],
    proc: subprocess.Popen[bytes],
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = _stats(stats)
        if s and done(s):
            return s
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.2)
    raise AssertionError(f"not reached: {_stats(stats)}")


def _stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.stdin is not None and proc.stdin.closed:
        proc.stdin = None  # closed by the test: communicate() must not flush it
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    text = err.decode() if isinstance(err, bytes) else str(err)
    assert proc.returncode == 0, text
    return text


def test_run_reads_a_capture_from_a_fifo_and_from_stdin_and_survives_garbage(
    tmp_path: Path,
) -> None:
    capture = CAPTURES[0].read_bytes()
    frames = len(list(iter_capture_messages(capture)))

    def accepted(s: dict[str, Any]) -> int:
        return int(s["feeds"]["remoteid"]["accepted"]) + int(s["feeds"]["remoteid"]["rejected"])

    # a FIFO, as `tcpdump -w fifo` writes it: in pieces, with pauses
    fifo = tmp_path / "rid.fifo"
    os.mkfifo(fifo)
    stats, proc = _run(tmp_path, str(fifo), "fifo")
    with fifo.open("wb") as w:
        for k in range(0, len(capture), 500):
            w.write(capture[k : k + 500])
            w.flush()
            time.sleep(0.01)
    s = _wait(stats, lambda s: "remoteid" in s["feeds"] and accepted(s) >= frames, proc)
    assert s["feeds"]["remoteid"]["accepted"] >= frames - 1
    _stop(proc)

    # standard input: `tcpdump -w - | luchtwacht run --remoteid-capture -`
    stats, proc = _run(tmp_path, "-", "stdin", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(capture)
    proc.stdin.close()
    s = _wait(stats, lambda s: "remoteid" in s["feeds"] and accepted(s) >= frames, proc)
    ended = s["feeds"]["remoteid-capture"]["connections"]["closed_by_reason"]
    _wait(stats, lambda s: "end of stream" in str(s["feeds"]), proc)
    _stop(proc)

    # not a capture: one line, counted, the node goes on
    stats, proc = _run(tmp_path, "-", "garbage", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(b"GET / HTTP/1.1\r\n\r\n" * 10)
    proc.stdin.flush()
    s = _wait(stats, lambda s: "not a pcap" in str(s["feeds"]), proc)
    assert proc.poll() is None  # still serving
    proc.stdin.close()
    err = _stop(proc)
    assert err.count("not a pcap/pcapng capture") == 1 and "Traceback" not in err
    assert isinstance(ended, dict)
