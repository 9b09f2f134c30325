"""What the evidence chain costs the SQLite recorder: rows/s written with and without it.

The live node's load at its rated maximum: each second 10 000 raw reports and their 10 000
detections, 1 000 track rows, 10 ticks, a few audit records, one commit. The same rows are
written (1) through the Recorder: canonical bytes, SHA-256 per row, an Ed25519-signed commit
record per second; (2) by the same INSERTs without hashes or commit records. Both write the same
schema to a fresh file in the same folder, in one process, alternately.

    .venv/bin/python bench/chain.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from luchtwacht.model.detection import N_CLASSES, DetectionBatch
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.store.recorder import _INSERT, Recorder

REPORTS_PER_S = 10_000
TRACKS = 1_000
BATCH = 100  # detections per batch (a radar scan's worth)


Second = tuple[list[tuple[float, str, str, bytes]], list[DetectionBatch], list[TrackView]]


def workload(second: int) -> Second:
    """One second of the node's writes: raw reports, detection batches, track snapshot."""
    rng = np.random.default_rng(second)
    t0 = 1.8e9 + second
    raw = [
        (t0 + i / REPORTS_PER_S, f"radar-{i % 4}", "sapient", rng.bytes(120))
        for i in range(REPORTS_PER_S)
    ]
    batches = [
        DetectionBatch(
            sensor_id=f"radar-{b % 4}",
            t_s=t0 + np.arange(BATCH) / REPORTS_PER_S,
            z=rng.normal(0, 1000, (BATCH, 3)),
            R=np.broadcast_to(np.eye(3) * 25.0, (BATCH, 3, 3)),
            class_loglik=np.zeros((BATCH, N_CLASSES)),
        )
        for b in range(REPORTS_PER_S // BATCH)
    ]
    tracks = [
        TrackView(
            k, t0, 52.0 + k * 1e-5, 5.0, 100.0, float(k), 2.0, 3.0, 10.0, 90.0, 0.0, "drone",
            0.9, False, None, ThreatLevel.LOW, ("zone",), None, 5.0,
        )
        for k in range(TRACKS)
    ]  # fmt: skip
    return raw, batches, tracks


def with_chain(path: Path, seconds: list[Second]) -> tuple[float, int]:
    rec = Recorder(path)
    start = time.perf_counter()
    rows = 0
    for k, (raw, batches, tracks) in enumerate(seconds):
        for r in raw:
            rec.raw(*r)
        for b in batches:
            rec.detections(b)
        rec.tracks(tracks)
        for i in range(10):
            rec.tick(1.8e9 + k + i / 10)
        rec.audit(1.8e9 + k, "bench", {"k": k})
        rec.commit()
        rows += len(raw) + sum(len(b) for b in batches) + len(tracks) + 11
    rec.close()
    return time.perf_counter() - start, rows


def without_chain(path: Path, seconds: list[Second]) -> tuple[float, int]:
    """The same rows by the same INSERTs, seq numbered, no hash and no commit record."""
    db = Recorder(path).db  # the schema; then plain SQL only
    seq = dict.fromkeys(("raw", "detection", "track", "tick", "audit"), 0)

    def put(table: str, rows: Sequence[tuple[object, ...]]) -> None:
        out = []
        for values in rows:
            seq[table] += 1
            out.append((seq[table], *values, None))
        db.executemany(_INSERT[table], out)

    start = time.perf_counter()
    rows = 0
    for k, (raw, batches, tracks) in enumerate(seconds):
        put("raw", raw)
        for b in batches:
            std = np.sqrt(np.trace(b.R, axis1=1, axis2=2) / 3.0)
            put(
                "detection",
                [(t, b.sensor_id, z[0], z[1], z[2], s, None, 1)
                 for t, z, s in zip(b.t_s.tolist(), b.z.tolist(), std.tolist(), strict=True)],
            )  # fmt: skip
        put(
            "track",
            [(v.t_s, v.track_id, v.lat_deg, v.lon_deg, v.alt_m, v.east_m, v.north_m, v.up_m,
              v.speed_ms, v.heading_deg, v.climb_ms, v.object_class, v.class_prob,
              int(v.cooperative), v.uas_id, v.threat.label, ",".join(v.zones_inside),
              v.time_to_breach_s, v.pos_std_m, v.icao) for v in tracks],
        )  # fmt: skip
        put("tick", [(1.8e9 + k + i / 10,) for i in range(10)])
        put("audit", [(1.8e9 + k, "bench", '{"k":' + str(k) + "}")])
        db.commit()
        rows += len(raw) + sum(len(b) for b in batches) + len(tracks) + 11
    db.close()
    return time.perf_counter() - start, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10, help="seconds of node load to write")
    args = ap.parse_args()
    seconds = [workload(k) for k in range(args.seconds)]
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        results: dict[str, list[float]] = {"with chain": [], "without chain": []}
        for rep in range(2):
            for name, fn in (("without chain", without_chain), ("with chain", with_chain)):
                path = Path(tmp) / f"{name.replace(' ', '_')}_{rep}.sqlite"
                dt, rows = fn(path, seconds)
                results[name].append(rows / dt)
        best = {k: max(v) for k, v in results.items()}
        load = REPORTS_PER_S * 2 + TRACKS + 11
        print(f"{args.seconds} s of node load ({load} rows/s), best of 2, one process:")
        for name, rate in best.items():
            print(f"  {name:14s} {rate:12,.0f} rows/s   {rate / load:5.1f}x the node's rate")
        print(f"  chain cost: {best['without chain'] / best['with chain']:.2f}x the write time")


if __name__ == "__main__":
    main()
