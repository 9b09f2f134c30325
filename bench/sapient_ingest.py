#!/usr/bin/env python3
"""SAPIENT ingest throughput on one core: decode, validate, and the whole pipe to ENU batches.

Builds N framed DetectionReports like a busy site sends them — a surveillance radar's range/bearing
plots (degrees/metres, 1-σ errors, a micro-Doppler classification on most) and a fusion node's
geodetic tracks (lat/lon/alt with errors and up to three class hypotheses), object ids repeating
along tracks — and times these paths over the same bytes:

(a) floor: protobuf parse alone plus reading the fields fusion uses (what any decoder pays);
(b) parse + :func:`luchtwacht.ingest.sapient.validate` (the ICD rules; also shown: the reference
    path every rule is defined by, to see what the fast path buys);
(c) :meth:`SapientPipe.feed` on 64 KiB chunks → ``DetectionBatch`` in site ENU (framing, rules,
    per-node state, batched AER/geodetic → ENU conversion, covariances, class likelihoods).

and, with ``--before REV`` (default: the last commit before the speed-up of issue #17),
(d) the same pipe as it was at REV, read from git into a temporary module, timed in the same run.

Run: ``.venv/bin/python bench/sapient_ingest.py [--n 200000] [--repeat 5] [--before REV]``.
Prints reports/s per core (CPU time of this process, pinned to one core: on a shared machine the
wall clock also counts other processes' turns), µs/report and the ratio to the floor, the median
of ``--repeat`` runs, with the best run's rate and the load average beside them.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
from google.protobuf.internal import api_implementation
from sapient_msg.bsi_flex_335_v2_0 import location_pb2, range_bearing_pb2

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    SapientMessage,
    SapientPipe,
    frame,
    new_ulid,
    parse_message,
    validate,
    validate_reference,
)
from luchtwacht.sim.radar import RadarConfig, RadarSim

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_781_299_800.0
RADAR = RadarConfig(
    node_id="4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat_deg=51.655, lon_deg=5.705, alt_m=75.0
)
FUSION_NODE = RadarConfig(
    node_id="9d2e4f60-1b3c-4d5e-8f70-a1b2c3d4e5f6", lat_deg=51.660, lon_deg=5.712, alt_m=70.0
)
CLASSES = ("UAV Rotary Wing", "Bird", "Manned Fixed Wing", "Clutter")
PLOTS_PER_SCAN = 100
SCAN_PERIOD_S = 1.0
N_TRACKS = 60


def detection(
    node_id: str, t_s: float, object_id: str, rng: np.random.Generator, geodetic: bool
) -> SapientMessage:
    """One DetectionReport as a radar (range/bearing) or a fusion node (lat/lon) sends it."""
    msg = SapientMessage()
    msg.timestamp.seconds = math.floor(t_s)
    msg.timestamp.nanos = round((t_s - math.floor(t_s)) * 1e9) % 1_000_000_000
    msg.node_id = node_id
    dr = msg.detection_report
    dr.report_id = new_ulid(t_s, rng)
    dr.object_id = object_id
    if geodetic:
        loc = dr.location
        loc.x = 5.70 + rng.uniform(-0.03, 0.03)
        loc.y = 51.65 + rng.uniform(-0.02, 0.02)
        loc.z = rng.uniform(60.0, 400.0)
        loc.x_error, loc.y_error, loc.z_error = 2e-5, 2e-5, 8.0
        loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
        loc.datum = location_pb2.LOCATION_DATUM_WGS84_E
        for k in rng.choice(len(CLASSES), size=int(rng.integers(1, 4)), replace=False):
            c = dr.classification.add()
            c.type = CLASSES[k]
            c.confidence = float(rng.uniform(0.1, 0.6))
    else:
        rb = dr.range_bearing
        rb.azimuth = rng.uniform(0.0, 360.0)
        rb.elevation = rng.uniform(0.0, 20.0)
        rb.range = rng.uniform(200.0, 8000.0)
        rb.azimuth_error, rb.elevation_error, rb.range_error = 0.6, 0.8, 8.0
        rb.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
        rb.datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
        if rng.random() < 0.6:
            c = dr.classification.add()
            c.type = CLASSES[int(rng.integers(len(CLASSES)))]
            c.confidence = float(rng.uniform(0.55, 0.95))
    dr.detection_confidence = float(rng.uniform(0.5, 0.99))
    return msg


def build(n: int, seed: int = 1) -> tuple[list[bytes], bytes]:
    """(n framed DetectionReport bodies, the full stream with registrations and status first)."""
    rng = np.random.default_rng(seed)
    preamble = b""
    for cfg in (RADAR, FUSION_NODE):
        sim = RadarSim(cfg, ORIGIN, EPOCH, seed=seed)
        preamble += frame(sim.registration(0.0)) + frame(sim.status_report(0.0))
    tracks = {
        node: [new_ulid(EPOCH, rng) for _ in range(N_TRACKS)]
        for node in (RADAR.node_id, FUSION_NODE.node_id)
    }
    bodies = []
    for i in range(n):
        scan, k = divmod(i, PLOTS_PER_SCAN)
        geodetic = scan % 2 == 1  # scans alternate: radar plots, then fusion-node tracks
        node = FUSION_NODE.node_id if geodetic else RADAR.node_id
        t_s = EPOCH + 1.0 + scan * SCAN_PERIOD_S / 2
        object_id = tracks[node][k] if k < N_TRACKS else new_ulid(t_s, rng)  # the rest: clutter
        bodies.append(detection(node, t_s, object_id, rng, geodetic).SerializeToString())
    stream = preamble + b"".join(frame_bytes(b) for b in bodies)
    return bodies, stream


def frame_bytes(body: bytes) -> bytes:
    """The SAPIENT TCP framing of an already serialized message."""
    return len(body).to_bytes(4, "little") + body


def floor(bodies: list[bytes]) -> None:
    """Parse and read what fusion reads, with no rule applied."""
    for body in bodies:
        msg = SapientMessage()
        msg.ParseFromString(body)
        ts = msg.timestamp
        _ = (ts.seconds, ts.nanos, msg.node_id)
        dr = msg.detection_report
        _ = (dr.report_id, dr.object_id, dr.detection_confidence)
        if dr.WhichOneof("location_oneof") == "range_bearing":
            rb = dr.range_bearing
            _ = (rb.azimuth, rb.elevation, rb.range, rb.azimuth_error, rb.elevation_error)
            _ = (rb.range_error, rb.coordinate_system, rb.datum)
        else:
            loc = dr.location
            _ = (loc.x, loc.y, loc.z, loc.x_error, loc.y_error, loc.z_error)
            _ = (loc.coordinate_system, loc.datum)
        for c in dr.classification:
            _ = (c.type, c.confidence)


def parse_validate(bodies: list[bytes]) -> None:
    """Parse and apply the ICD rules (the fast path for DetectionReports)."""
    for body in bodies:
        validate(parse_message(body))


def parse_validate_reference(bodies: list[bytes]) -> None:
    """Parse and apply the ICD rules by the descriptor-driven reference path."""
    for body in bodies:
        validate_reference(parse_message(body))


def pipe_to_batches(stream: bytes, n: int, pipe_type: type[SapientPipe] = SapientPipe) -> None:
    """The whole ingest: 64 KiB reads into a SapientPipe, ENU batches out."""
    pipe = pipe_type("bench", ORIGIN)
    got = 0
    chunk = 1 << 16
    for i in range(0, len(stream), chunk):
        got += sum(len(b) for b in pipe.feed(stream[i : i + chunk]))
    got += sum(len(b) for b in pipe.flush())
    if got != n or pipe.counters.rejected:
        raise SystemExit(f"pipe lost reports: {got} of {n}, {pipe.counters.rejected} rejected")


BEFORE = "e426894"  # the last commit before the delivery path was sped up (issue #17)


def module_at(rev: str, path: str) -> ModuleType | None:
    """``path`` of this repository as it was at ``rev``, imported under a name of its own.

    None (with a note) when git or the revision is not at hand, e.g. in an exported tree.
    """
    root = Path(__file__).resolve().parent.parent
    try:
        text = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"note: no {path} at {rev} ({exc}); the before column is left out", file=sys.stderr)
        return None
    name = f"_before_{rev}_{Path(path).stem}"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(text)
    spec = importlib.util.spec_from_file_location(name, f.name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it is being executed
    spec.loader.exec_module(module)
    os.unlink(f.name)
    return module


def timed(repeat: int, run: Callable[[], None]) -> list[float]:
    """CPU seconds of this process for each of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        times.append(time.process_time() - t0)
    return times


def machine_note() -> str:
    """CPU, core count, Python and protobuf backend, for reading the figures later."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"protobuf backend {api_implementation.Type()}"
    )


def main() -> None:
    """Build the reports, time the paths, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="DetectionReports to time")
    ap.add_argument("--repeat", type=int, default=5, help="runs per path; the median is shown")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU (default: current)")
    ap.add_argument("--before", default=BEFORE, help="git revision of the pipe to compare with")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
    n = args.n
    before = module_at(args.before, "src/luchtwacht/ingest/sapient.py") if args.before else None
    print(f"building {n} framed DetectionReports ...", file=sys.stderr)
    bodies, stream = build(n)
    print(f"{len(stream) / n:.0f} B/report framed; {machine_note()}; one core")
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    runs: list[tuple[str, Callable[[], None], int]] = [
        ("(a) parse + read fields (floor)", lambda: floor(bodies), 1),
        ("(b) parse + validate", lambda: parse_validate(bodies), 1),
        ("    parse + reference validate", lambda: parse_validate_reference(bodies[: n // 10]), 10),
        ("(c) SapientPipe.feed → DetectionBatch", lambda: pipe_to_batches(stream, n), 1),
    ]
    if before is not None:
        old_pipe = before.SapientPipe
        runs.append(
            (f"(d) the same at {args.before}", lambda: pipe_to_batches(stream, n, old_pipe), 1)
        )
    # Paths take turns run by run, so a burst of other load falls on all of them alike.
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for _ in range(args.repeat):
        for name, run, scale in runs:
            times[name].extend(t * scale for t in timed(1, run))
    t_floor = statistics.median(times[runs[0][0]])
    print(f"load average at end {os.getloadavg()[0]:.2f}; median of {args.repeat} runs, CPU time")
    print(f"{'path':40s} {'reports/s':>12s} {'best /s':>12s} {'µs/report':>10s} {'× floor':>8s}")
    for name, _, _ in runs:
        med, best = statistics.median(times[name]), min(times[name])
        print(
            f"{name:40s} {n / med:12,.0f} {n / best:12,.0f} {med / n * 1e6:10.2f}"
            f" {med / t_floor:8.2f}"
        )


if __name__ == "__main__":
    main()
