#!/usr/bin/env python3
"""Records written per second by both store backends, and the backlog when the database is slow.

Issue #16: "the note gives records/s written for both backends at 1000 tracks and 10k reports/s,
and the backlog behaviour when the database is slow". The load is a node's at that size: every
second 10 000 reports, each kept twice (its bytes as received, ``raw``, ~150 B, and its decoded
detection), from 20 radars scanning at 10 Hz (a detection batch of 50 per scan); a snapshot of
1000 tracks per slow cycle (1 Hz); a tick every 0.1 s; a commit per second. That is 21 010
records a second, every one chained and every commit signed (store/chain.py).

Both backends run side by side in this one process, on the same disk: SQLite (the
:class:`~luchtwacht.store.recorder.Recorder`, WAL, ``synchronous=NORMAL``) and PostgreSQL 15 +
PostGIS (a throwaway cluster on 127.0.0.1 with the server's default durability: fsync and
synchronous commit on; tests/pg.py), each written through the Store port.

1. Capacity: ``--seconds`` (10) seconds of load written as fast as the backend takes it, in the
   caller's thread (no worker): records/s and the writer's CPU time per record. For PostgreSQL
   the server's CPU is the server's, on the other core.
2. Real time: the same load offered at its real rate through :class:`BackgroundStore` (the
   node's worker thread and bounded queue) for ``--realtime`` (15) seconds: records written,
   dropped, the largest backlog (queued operations), how long the last flush took and the share
   of a core the process used; then the same at ``--fraction`` (0.5) of the load, which a busy
   machine still keeps up with, so that 3. shows the database and not the machine.
3. A slow database (PostgreSQL): that fraction of the load in real time while (a) a table is
   locked for ``--stall`` (5) seconds, as a migration or a hung disk would, and (b) every
   commit takes ``--slow-commit`` (1.5) seconds longer (a trigger with ``pg_sleep``), slower
   than the load comes: the backlog, the drops per kind (raw and detections are dropped
   first; ticks, audit and metadata wait), and whether the chain verifies afterwards.

Run: ``.venv/bin/python bench/store.py`` (needs PostgreSQL + PostGIS: ``make postgres``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pg import LocalPostgres

from luchtwacht.geo.frames import SiteOrigin
from luchtwacht.model.detection import N_CLASSES, DetectionBatch
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.store.chain import NodeKey
from luchtwacht.store.port import Store
from luchtwacht.store.postgres import PostgresStore, create_run, verify_postgres
from luchtwacht.store.recorder import Recorder, verify_recording
from luchtwacht.store.worker import BackgroundStore

ORIGIN = SiteOrigin(51.6564, 5.7078, 60.0)
RADARS, SCAN_HZ, PER_SCAN = 20, 10, 50  # 20 × 10 × 50 = 10 000 reports/s
TRACKS = 1000
T_START = 1_796_600_000.0
KEY = NodeKey.generate()


@dataclass
class Load:
    """One second of a node's writes, made before the clock starts (not measured)."""

    batches: list[list[DetectionBatch]]  # per scan (10), per radar (20)
    payloads: list[bytes]  # one per report
    views: list[TrackView]
    per_scan: int  # detections per radar scan (50: 10 000 reports/s)

    @property
    def reports_per_s(self) -> int:
        return RADARS * SCAN_HZ * self.per_scan

    @property
    def records_per_s(self) -> int:
        return 2 * self.reports_per_s + len(self.views) + SCAN_HZ

    @property
    def operations_per_s(self) -> int:
        """BackgroundStore operations: a raw write per report, a batch per scan, ticks, etc."""
        return self.reports_per_s + RADARS * SCAN_HZ + SCAN_HZ + 2


def make_load(per_scan: int = PER_SCAN, tracks: int = TRACKS) -> Load:
    rng = np.random.default_rng(1)
    batches = []
    for k in range(SCAN_HZ):
        scan = []
        for r in range(RADARS):
            z = rng.uniform([-5000, -5000, 50], [5000, 5000, 500], (per_scan, 3))
            scan.append(
                DetectionBatch(
                    sensor_id=f"radar-{r}",
                    t_s=np.full(per_scan, k / SCAN_HZ),
                    z=z,
                    R=np.broadcast_to(np.eye(3) * 25.0, (per_scan, 3, 3)).copy(),
                    class_loglik=np.zeros((per_scan, N_CLASSES)),
                )
            )
        batches.append(scan)
    payloads = [rng.bytes(150) for _ in range(RADARS * per_scan)]
    geo = ORIGIN.to_geodetic(rng.uniform([-8000, -8000, 50], [8000, 8000, 800], (tracks, 3)))
    views = [
        TrackView(i, 0.0, float(la), float(lo), float(al), 0.0, 0.0, 0.0, 12.0, 90.0, 0.0,
                  "drone", 0.9, False, None, ThreatLevel.LOW, (), None, 8.0)
        for i, (la, lo, al) in enumerate(geo)
    ]  # fmt: skip
    return Load(batches, payloads, views, per_scan)


def write_second(store: Store, load: Load, t0: float, pace: Callable[[float], None]) -> None:
    """One second of load starting at ``t0``; ``pace(t)`` waits until ``t`` (or not at all)."""
    for k, scan in enumerate(load.batches):
        t = t0 + k / SCAN_HZ
        pace(t)
        for r, batch in enumerate(scan):
            shifted = DetectionBatch(batch.sensor_id, batch.t_s + t0, batch.z, batch.R,
                                     batch.class_loglik)  # fmt: skip
            for j in range(load.per_scan):
                store.raw(t, batch.sensor_id, "sapient", load.payloads[r * load.per_scan + j])
            store.detections(shifted)
        store.tick(t)
    store.tracks(dataclasses.replace(v, t_s=t0 + 0.9) for v in load.views)
    store.commit()


def no_pace(_: float) -> None:
    return None


# -- 1. capacity -----------------------------------------------------------------------------


def backend_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a server backend process has used, from /proc."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def capacity(name: str, open_store: Callable[[], Store], load: Load, seconds: int) -> float:
    """Write ``seconds`` of load unpaced in this thread; print records/s and CPU a record.

    For PostgreSQL the server backend's CPU is measured too: on an idle machine with a core for
    each, the writer and the server overlap (COPY streams), so the larger of the two CPU figures
    bounds the rate a pair of free cores would reach.
    """
    store = open_store()
    pid = store._conn.info.backend_pid if isinstance(store, PostgresStore) and store._conn else None
    wall, cpu, server = time.perf_counter(), time.thread_time(), backend_cpu_s(pid)
    for s in range(seconds):
        write_second(store, load, T_START + s, no_pace)
    server = backend_cpu_s(pid) - server
    store.close()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    n = load.records_per_s * seconds
    both = f", server backend CPU {1e6 * server / n:5.1f} µs a record" if pid else ""
    print(
        f"  {name:<11} {n:>9,} records in {wall:6.2f} s: {n / wall:>9,.0f} records/s"
        f" ({n / wall / load.records_per_s:4.1f}× the load); writer CPU {1e6 * cpu / n:5.1f} µs"
        f" a record{both}"
    )
    return n / wall


# -- 2./3. real time through the worker --------------------------------------------------------


@dataclass
class Outcome:
    written: int
    dropped: Counter[str]
    errors: Counter[str]
    max_backlog: int
    flush_s: float
    backlog_trace: list[tuple[float, int]]


def realtime(
    store: BackgroundStore, load: Load, seconds: int, during: Callable[[float], None] | None = None
) -> Outcome:
    """Offer ``seconds`` of load at its real rate; ``during(elapsed)`` is called every 0.1 s."""
    start, cpu0 = time.monotonic(), time.process_time()
    trace: list[tuple[float, int]] = []

    def pace(t: float) -> None:
        target = start + (t - T_START)
        while True:
            now = time.monotonic()
            if during is not None:
                during(now - start)
            if now >= target:
                break
            time.sleep(min(0.02, target - now))
        trace.append((now - start, cast(int, store.stats()["backlog"])))

    for s in range(seconds):
        write_second(store, load, T_START + s, pace)
    t_flush = time.monotonic()
    store.flush(timeout_s=120)
    flush_s = time.monotonic() - t_flush
    stats = store.stats()
    store.close()
    wall = time.monotonic() - start
    print(
        f"    {wall:.1f} s wall (the load's {seconds} s and the last flush); this process used"
        f" {(time.process_time() - cpu0) / wall:.2f} of a core; load average now"
        f" {os.getloadavg()[0]:.1f}"
    )
    return Outcome(
        cast(int, stats["written"]),
        cast(Counter[str], stats["dropped"]),
        cast(Counter[str], stats["errors"]),
        cast(int, stats["max_backlog"]),
        flush_s,
        trace,
    )


def describe(name: str, out: Outcome, load: Load, seconds: int) -> None:
    ops_offered = seconds * load.operations_per_s
    dropped = sum(out.dropped.values())
    drops = ", ".join(f"{k} {v:,}" for k, v in sorted(out.dropped.items())) or "none"
    errors = ", ".join(f"{k} {v}" for k, v in sorted(out.errors.items())) or "none"
    print(
        f"  {name:<28} {load.records_per_s * seconds:>8,} records offered; operations:"
        f" {ops_offered:,} offered, {dropped:,} dropped ({drops}); largest backlog"
        f" {out.max_backlog:,} operations; last flush {out.flush_s:.2f} s; errors: {errors}"
    )


def trace_line(out: Outcome, every_s: float = 1.0) -> str:
    marks, next_t = [], 0.0
    for t, backlog in out.backlog_trace:
        if t >= next_t:
            marks.append(f"{t:.0f}s:{backlog // 1000}k")
            next_t += every_s
    return "    backlog (operations) " + " ".join(marks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=10, help="seconds of load for capacity")
    ap.add_argument("--realtime", type=int, default=15, help="seconds of real-time load")
    ap.add_argument("--stall", type=float, default=5.0, help="seconds a table stays locked")
    ap.add_argument("--slow-commit", type=float, default=1.5, help="extra seconds per commit")
    ap.add_argument(
        "--fraction",
        type=float,
        default=0.5,
        help="real time also at this fraction of the load, and the slow database at it",
    )
    args = ap.parse_args()
    print(
        f"store bench: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    print("  (other load on the machine slows both backends: the CPU figures a record hold)")
    load = make_load()
    print(
        f"load: {load.reports_per_s:,} reports/s (raw + detection each),"
        f" {TRACKS} tracks a second, {SCAN_HZ} ticks/s, one commit/s ="
        f" {load.records_per_s:,} records/s"
    )
    with tempfile.TemporaryDirectory() as tmp, LocalPostgres(durable=True) as pg:
        dsn = pg.dsn()
        with psycopg.connect(dsn, autocommit=True) as conn:
            version = conn.execute("SELECT version()").fetchone()
        print(f"PostgreSQL: {version[0].split(' on ')[0] if version else '?'} (fsync on), {dsn}")
        n_run = [0]

        def sqlite_store() -> Store:
            n_run[0] += 1
            return Recorder(Path(tmp) / f"cap{n_run[0]}.sqlite", KEY)

        def pg_store() -> Store:
            return PostgresStore(dsn, key=KEY, origin=ORIGIN)

        print(f"\n1. capacity: {args.seconds} s of load written as fast as possible")
        capacity("SQLite", sqlite_store, load, args.seconds)
        capacity("PostgreSQL", pg_store, load, args.seconds)

        def pg_background(timeout_s: float = 10.0) -> tuple[BackgroundStore, int]:
            run_id = create_run(dsn, origin=ORIGIN)
            bg = BackgroundStore(
                Path(f"postgresql run {run_id}"),
                key=KEY,
                recorder_factory=lambda _: PostgresStore(
                    dsn, run_id, key=KEY, origin=ORIGIN, statement_timeout_s=timeout_s
                ),
            )
            return bg, run_id

        part = make_load(max(1, round(PER_SCAN * args.fraction)), round(TRACKS * args.fraction))
        for lo in (load, part):
            print(
                f"\n2. real time: {args.realtime} s at {lo.reports_per_s:,} reports/s and"
                f" {len(lo.views)} tracks ({lo.records_per_s:,} records/s) through BackgroundStore"
            )
            lite_path = Path(tmp) / f"rt{lo.per_scan}.sqlite"
            out = realtime(BackgroundStore(lite_path, key=KEY), lo, args.realtime)
            describe("SQLite", out, lo, args.realtime)
            print(f"    verify: {'intact' if verify_recording(lite_path).intact else 'BROKEN'}")
            bg, run_id = pg_background()
            out = realtime(bg, lo, args.realtime)
            describe("PostgreSQL", out, lo, args.realtime)
            print(f"    verify: {verify_note(dsn, run_id)}")
        load = part

        print(f"\n3. a slow database (PostgreSQL), {load.reports_per_s:,} reports/s in real time")
        bg, run_id = pg_background(timeout_s=10.0)
        lock: dict[str, Any] = {}

        def stall(elapsed: float) -> None:
            if "conn" not in lock and elapsed >= 3.0:
                lock["conn"] = psycopg.connect(dsn)
                lock["conn"].execute("LOCK TABLE luchtwacht.detection IN ACCESS EXCLUSIVE MODE")
                lock["t"] = elapsed
            elif "conn" in lock and not lock.get("done") and elapsed >= 3.0 + args.stall:
                lock["conn"].rollback()
                lock["conn"].close()
                lock["done"] = True

        out = realtime(bg, load, args.realtime, stall)
        describe(f"detection locked {args.stall:.0f} s at 3 s", out, load, args.realtime)
        print(trace_line(out))
        print(f"    verify: {verify_note(dsn, run_id)}")

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE FUNCTION luchtwacht.slow() RETURNS trigger LANGUAGE plpgsql AS"
                f" $$BEGIN PERFORM pg_sleep({args.slow_commit}); RETURN NEW; END$$"
            )
            conn.execute(
                "CREATE TRIGGER slow BEFORE INSERT ON luchtwacht.chain_commit"
                " FOR EACH ROW EXECUTE FUNCTION luchtwacht.slow()"
            )
        bg, run_id = pg_background(timeout_s=10.0)
        out = realtime(bg, load, args.realtime)
        describe(f"every commit +{args.slow_commit:.1f} s", out, load, args.realtime)
        print(trace_line(out))
        print(f"    verify: {verify_note(dsn, run_id)}")


def verify_note(dsn: str, run_id: int) -> str:
    report = verify_postgres(dsn, run_id, KEY.public_pem())
    rows = ", ".join(f"{t} {n:,}" for t, n in report.rows.items() if n)
    state = "intact" if report.intact else f"{report.problem.describe() if report.problem else ''}"
    return f"{state}; {report.commits} commits; rows {rows}"


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
