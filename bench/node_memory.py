#!/usr/bin/env python3
"""Bounded memory: the node core run for a simulated day at 100 tracks, its RSS hour by hour.

A :class:`~luchtwacht.node.core.NodeCore` (no sockets, no store) on the demo site (Volkel, its
runway zone) is driven on a simulated clock: ``core.tick(t)`` every 0.1 s, so the whole flow
runs at the picture rate (10 Hz by default: assess, alerts, publish to a subscriber that takes
every update; cueing and the slow cycle at 1 Hz). A synthetic 1 Hz radar reports 100 targets
on slow loops (radius 150-400 m, 4-15 m/s, 40-250 m up), 60 % drones and 40 % birds by their
class reports, with Pd 0.95, 5 m noise and Poisson clutter (``--clutter`` a scan). About a
fifth of the loops are centred on the runway zone's edge, so drones keep entering and leaving
it and alerts are raised, escalated and cleared all day. The tracks come and go: every
``--churn-min`` minutes ``--churn`` of the targets leave and as many new ones appear
elsewhere, so track ids, track records and alerts keep turning over.

The scans go in through the core's public feed port: a small in-memory pipe
(:class:`~luchtwacht.ingest.feed.FeedPipe`) holds the prepared
:class:`~luchtwacht.model.detection.DetectionBatch` and :meth:`NodeCore.receive` takes it, as
it takes decoded SAPIENT. Wire decoding is left out on purpose: the SAPIENT pipe keeps state per
sensor node only, and decoding the day's 8 million plots would only add to every simulated hour.

Printed every simulated hour: VmRSS (``/proc/self/status``), the wall time that hour took, and
the sizes of the node's containers (track records, alerts kept, alert events, live tracks,
tracker's deleted-id ring). At the end: RSS after hour 1 and after the last hour and the growth
between them, container sizes, alerts raised and tracks confirmed in all.

Run: ``.venv/bin/python bench/node_memory.py [--hours 24] [--picture-hz 10]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from luchtwacht.geo.sites import RUNWAY_HEADING_DEG, polar
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.model.detection import (
    N_CLASSES,
    BearingBatch,
    DetectionBatch,
    ObjectClass,
    class_report_loglik,
)
from luchtwacht.node.core import TICK_S, NodeCore, Schedule
from luchtwacht.sim.scenario import default_scenario

F64 = NDArray[np.float64]
EPOCH = 1_781_299_800.0  # 2026-06-12 21:30 UTC, any fixed start will do
SCAN_PERIOD_S = 1.0
NOISE_M = 5.0
PD = 0.95
RADIUS_KM = 5.0  # targets are scattered within this of the site


def rss_kib() -> int:
    """Resident set size of this process (VmRSS, KiB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


class BatchPipe:
    """A feed pipe that hands over prepared batches (stands for a decoder; see the docstring)."""

    def __init__(self) -> None:
        self.counters = FeedCounters()
        self.queue: list[DetectionBatch] = []

    def feed(self, data: bytes, t_rx_s: float | None = None) -> Sequence[DetectionBatch]:
        """The batches queued since the last delivery."""
        out, self.queue = self.queue, []
        self.counters.decoded += sum(len(b) for b in out)
        return out

    def flush(self) -> Sequence[DetectionBatch | BearingBatch]:
        """Nothing is held back."""
        return []


@dataclass(slots=True)
class Loops:
    """The targets: each flies a horizontal circle; arrays over the target slots."""

    centre: F64  # (n, 2) ENU m
    radius: F64  # (n,)
    omega: F64  # (n,) rad/s, signed
    phase: F64  # (n,)
    height: F64  # (n,)
    drone: NDArray[np.bool_]  # (n,)

    def position(self, t_rel_s: float) -> F64:
        """ENU positions of every target at ``t_rel_s``."""
        a = self.phase + self.omega * t_rel_s
        return np.column_stack(
            [
                self.centre[:, 0] + self.radius * np.cos(a),
                self.centre[:, 1] + self.radius * np.sin(a),
                self.height,
            ]
        )


def new_targets(n: int, rng: np.random.Generator) -> Loops:
    """``n`` fresh loops; about a fifth centred on the zone's long edge, so drones cross it."""
    r = RADIUS_KM * 1000.0 * np.sqrt(rng.uniform(0.02, 1.0, n))
    b = rng.uniform(0.0, 2.0 * math.pi, n)
    centre = np.column_stack([r * np.sin(b), r * np.cos(b)])
    edge = rng.random(n) < 0.2
    if edge.any():  # the zone is 4 km × 1.2 km along the runway: its side is 600 m off axis
        along = rng.uniform(-1800.0, 1800.0, int(edge.sum()))
        side = rng.choice([-600.0, 600.0], int(edge.sum()))
        a = np.array(polar(RUNWAY_HEADING_DEG, 1.0)[:2])
        c = np.array(polar(RUNWAY_HEADING_DEG + 90.0, 1.0)[:2])
        centre[edge] = along[:, None] * a + side[:, None] * c
    radius = rng.uniform(150.0, 400.0, n)
    speed = rng.uniform(4.0, 15.0, n)
    return Loops(
        centre=centre,
        radius=radius,
        omega=speed / radius * rng.choice([-1.0, 1.0], n),
        phase=rng.uniform(0.0, 2.0 * math.pi, n),
        height=rng.uniform(40.0, 250.0, n),
        drone=rng.random(n) < 0.6,
    )


def replace(loops: Loops, slots: NDArray[np.int64], rng: np.random.Generator) -> None:
    """The targets in ``slots`` leave; new ones take their place elsewhere."""
    fresh = new_targets(slots.size, rng)
    loops.centre[slots] = fresh.centre
    loops.radius[slots] = fresh.radius
    loops.omega[slots] = fresh.omega
    loops.phase[slots] = fresh.phase
    loops.height[slots] = fresh.height
    loops.drone[slots] = fresh.drone


def scan(
    t_s: float, t_rel_s: float, loops: Loops, clutter: float, rng: np.random.Generator
) -> DetectionBatch:
    """One radar scan stamped ``t_s``: the detected targets plus clutter plots."""
    pos = loops.position(t_rel_s)
    seen = rng.random(pos.shape[0]) < PD
    z = pos[seen] + rng.normal(0.0, NOISE_M, (np.count_nonzero(seen), 3))
    labels: list[ObjectClass | None] = []
    for drone in loops.drone[seen].tolist():
        if rng.random() < 0.3:
            labels.append(None)  # no micro-Doppler class this time
        else:
            right = rng.random() < 0.85
            labels.append(
                (ObjectClass.DRONE if drone else ObjectClass.BIRD)
                if right
                else (ObjectClass.BIRD if drone else ObjectClass.DRONE)
            )
    n_fa = int(rng.poisson(clutter))
    if n_fa:
        r = RADIUS_KM * 1000.0 * np.sqrt(rng.uniform(0.0, 1.0, n_fa))
        b = rng.uniform(0.0, 2.0 * math.pi, n_fa)
        fa = np.column_stack([r * np.sin(b), r * np.cos(b), rng.uniform(0.0, 300.0, n_fa)])
        z = np.vstack([z, fa])
        labels.extend([ObjectClass.CLUTTER if rng.random() < 0.3 else None for _ in range(n_fa)])
    n = z.shape[0]
    conf = rng.uniform(0.6, 0.95, n)
    loglik = class_report_loglik(labels, conf) if n else np.zeros((0, N_CLASSES))
    return DetectionBatch(
        sensor_id="radar",
        t_s=np.full(n, t_s),
        z=z,
        R=np.broadcast_to(np.eye(3) * NOISE_M**2, (n, 3, 3)).copy(),
        class_loglik=loglik,
        scan_t_s=t_s,
    )


def sizes(core: NodeCore) -> dict[str, int]:
    """The node's containers that could grow with time."""
    tt = core.tracker.tracks
    return {
        "records": len(core.records),
        "alerts": len(core.alerts.alerts),
        "open_alerts": len(core.alerts.open_alerts),
        "events": len(core.events),
        "tracks": len(tt),
        "confirmed": int(tt.confirmed.sum()),
        "deleted_ids": len(core.tracker.deleted_ids),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=24.0, help="simulated hours")
    ap.add_argument("--picture-hz", type=float, default=10.0, help="picture (publish) rate")
    ap.add_argument("--targets", type=int, default=100)
    ap.add_argument("--churn", type=int, default=20, help="targets replaced each churn period")
    ap.add_argument("--churn-min", type=float, default=10.0, help="churn period, minutes")
    ap.add_argument("--clutter", type=float, default=2.0, help="false plots per scan (mean)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}; {args.targets} targets, churn {args.churn} every "
        f"{args.churn_min:g} min, picture {args.picture_hz:g} Hz, tick {TICK_S} s; load average "
        f"{os.getloadavg()[0]:.2f} before the run"
    )

    sc = default_scenario()
    schedule = Schedule(picture_period_s=1.0 / args.picture_hz)
    core = NodeCore("bench", sc.origin, sc.zones, EPOCH, schedule=schedule)
    pipe = BatchPipe()
    core.add_feed("radar", "synthetic 1 Hz radar", "synthetic", pipe, SCAN_PERIOD_S)
    sub = core.subscribe("bench", maxsize=16)
    rng = np.random.default_rng(args.seed)
    loops = new_targets(args.targets, rng)

    ticks_per_hour = round(3600.0 / TICK_S)
    ticks_per_scan = round(SCAN_PERIOD_S / TICK_S)
    ticks_per_churn = round(args.churn_min * 60.0 / TICK_S)
    n_ticks = round(args.hours * 3600.0 / TICK_S)
    next_slot = 0
    taken = raised = 0
    # Ids of every track that reached the picture (a few thousand ints: ~0.2 MiB a day of the
    # RSS is this benchmark's own).
    ever: set[int] = set()
    rss: list[int] = []
    hour_wall: list[float] = []
    print(
        f"{'hour':>5} {'RSS MiB':>8} {'wall s':>7} {'records':>8} {'alerts':>7} {'open':>5} "
        f"{'events':>7} {'tracks':>7} {'conf':>5} {'del_ids':>8} {'raised':>7} {'lost':>5}"
    )
    rss0 = rss_kib()
    t_wall = time.perf_counter()
    for k in range(1, n_ticks + 1):
        t_rel = k * TICK_S
        t = EPOCH + t_rel
        if k % ticks_per_churn == 0 and args.churn:
            slots = (next_slot + np.arange(args.churn)) % args.targets
            next_slot = int(slots[-1] + 1) % args.targets
            replace(loops, slots, rng)
        if k % ticks_per_scan == 0:
            # The radar's scan reached the node 50 ms after it was stamped.
            pipe.queue.append(scan(t - 0.05, t_rel - 0.05, loops, args.clutter, rng))
            core.receive(t, "radar", "synthetic", b"")
        core.tick(t)
        for update in sub.take():  # the subscriber keeps up: takes every update as it comes
            taken += 1
            raised += sum(c.kind == "raised" for c in update.alert_changes)
            ever.update(update.new_tracks)
        if k % ticks_per_hour == 0 or k == n_ticks:
            now = time.perf_counter()
            hour_wall.append(now - t_wall)
            t_wall = now
            rss.append(rss_kib())
            s = sizes(core)
            print(
                f"{t_rel / 3600.0:5.1f} {rss[-1] / 1024:8.1f} {hour_wall[-1]:7.1f} "
                f"{s['records']:8d} {s['alerts']:8d} {s['open_alerts']:5d} {s['events']:7d} "
                f"{s['tracks']:7d} {s['confirmed']:5d} {s['deleted_ids']:8d} "
                f"{raised:7d} {sub.lost:5d}",
                flush=True,
            )
    core.tick(EPOCH + n_ticks * TICK_S, final=True)
    s = sizes(core)
    print(
        f"\nRSS at start {rss0 / 1024:.1f} MiB, after hour 1 {rss[0] / 1024:.1f} MiB, after "
        f"hour {args.hours:g} {rss[-1] / 1024:.1f} MiB: growth {(rss[-1] - rss[0]) / 1024:+.1f} "
        f"MiB ({(rss[-1] - rss[0]) / 1024 / max(args.hours - 1, 1e-9):+.2f} MiB/h)"
    )
    print(
        f"wall time per simulated hour: mean {np.mean(hour_wall):.1f} s, max "
        f"{np.max(hour_wall):.1f} s ({n_ticks} ticks, {core.picture_seq} picture updates, "
        f"{taken} taken by the subscriber, {sub.lost} lost)"
    )
    print(
        f"containers: records {s['records']}, alerts kept {s['alerts']} "
        f"({s['open_alerts']} open), events {s['events']}, live tracks {s['tracks']} "
        f"({s['confirmed']} confirmed), tracker deleted_ids {s['deleted_ids']}"
    )
    print(
        f"in all: {raised} alerts raised, {len(ever)} tracks confirmed, "
        f"{pipe.counters.decoded} plots; internal errors "
        f"{dict(core.internal_errors) or 0}, late batches {core.late_batches}"
    )


if __name__ == "__main__":
    main()
