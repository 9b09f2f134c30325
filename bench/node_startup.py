"""How soon a freshly started live node takes a sensor: ``luchtwacht run`` from exec to serving.

Starts ``luchtwacht run --headless --sapient-listen 127.0.0.1:PORT`` as a new process, then
tries to connect every 5 ms and prints, per run and as medians:

- **accepts**: the first TCP connection that succeeds (the listener is bound; the operating
  system holds what the sensor sends from then on);
- **answers**: a sensor that connected at once has its Registration answered with a
  RegistrationAck (the node has loaded and serves the socket);
- **stats**: the stats file appears (the node's loop runs).

Usage: ``.venv/bin/python bench/node_startup.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from luchtwacht.ingest.sapient import parse_message
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(exe: Path) -> tuple[float, float, float]:
    """(accepts, answers, stats) in seconds after the process was started."""
    port = free_port()
    sc = default_scenario()
    registration = b"".join(RadarSim(sc.radars[0], sc.origin, time.time(), 1).scan(0.0, []))
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe), "run", "--headless", "--sapient-listen", f"127.0.0.1:{port}",
             "--plain-tcp", "--no-web", "--stats-json", str(stats)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while True:
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                    break
                except ConnectionRefusedError:
                    time.sleep(0.005)
            accepts = time.perf_counter() - t0
            with sock:
                sock.sendall(registration)
                head = sock.recv(4, socket.MSG_WAITALL)
                body = sock.recv(struct.unpack("<I", head)[0], socket.MSG_WAITALL)
                answers = time.perf_counter() - t0
                assert parse_message(body).WhichOneof("content") == "registration_ack"
            while not stats.exists():
                time.sleep(0.005)
            ready = time.perf_counter() - t0
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    return accepts, answers, ready


def main() -> int:
    """Run the measurement and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    exe = Path(sys.executable).with_name("luchtwacht")
    if not exe.exists():
        print(f"{exe} not found: run `make install` first")
        return 1
    print(f"luchtwacht run start-up, {args.runs} runs, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}")  # fmt: skip
    rows = [one_run(exe) for _ in range(args.runs)]
    for k, (a, b, c) in enumerate(rows, 1):
        print(f"run {k}: accepts {a * 1000:6.0f} ms  answers {b * 1000:6.0f} ms  "
              f"stats {c * 1000:6.0f} ms")  # fmt: skip
    med = [statistics.median(col) * 1000 for col in zip(*rows, strict=True)]
    print(f"median: accepts {med[0]:.0f} ms, answers {med[1]:.0f} ms, stats {med[2]:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
