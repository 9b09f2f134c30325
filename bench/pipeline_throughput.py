#!/usr/bin/env python3
"""End-to-end throughput of the simulated pipeline (sim → SAPIENT/Remote ID bytes → ... → alerts).

Runs the default scenario and the same site with swarms of extra drones, unthrottled, and prints
simulated seconds per wall second, SAPIENT messages decoded per second, and where the time goes
(simulation / ingest / tracking / assessment).

Usage: ``.venv/bin/python bench/pipeline_throughput.py [--duration S] [--swarm N ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from collections import defaultdict

import numpy as np

from luchtwacht.model.detection import ObjectClass
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario, polar
from luchtwacht.sim.targets import Target, WaypointPath


def swarm(n: int, seed: int) -> tuple[Target, ...]:
    """``n`` extra drones flying straight legs across the site at 8-25 m/s."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        b = float(rng.uniform(0, 360))
        start = polar(b, float(rng.uniform(2500, 4500)), float(rng.uniform(40, 300)))
        end = polar(b + 180 + float(rng.uniform(-40, 40)), float(rng.uniform(500, 3000)), start[2])
        path = WaypointPath((start, end), (float(rng.uniform(8, 25)),))
        out.append(Target(f"swarm {k}", ObjectClass.DRONE, 0.05, path, role="swarm"))
    return tuple(out)


def timed(obj: object, name: str, bucket: dict[str, float], key: str) -> None:
    """Wrap ``obj.name`` to add its wall time into ``bucket[key]``."""
    fn = getattr(obj, name)

    def wrapper(*a: object, **kw: object) -> object:
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            bucket[key] += time.perf_counter() - t0

    setattr(obj, name, wrapper)


def run(n_extra: int, duration_s: float) -> None:
    sc = default_scenario(seed=7)
    if n_extra:
        sc = dataclasses.replace(sc, targets=sc.targets + swarm(n_extra, 11))
    p = Pipeline(sc)
    spent: dict[str, float] = defaultdict(float)
    timed(p, "_simulate", spent, "simulate (sensor models + encoding)")
    timed(p, "receive", spent, "ingest (decode + validate + ENU)")
    timed(p.tracker, "process", spent, "tracking")
    timed(p, "cycle", spent, "assessment cycle (classify, threat, alerts)")
    t0 = time.perf_counter()
    p.run(duration_s)
    wall = time.perf_counter() - t0
    s = p.summary()
    sap = s["sensors"]["radar-1"]["decoded"]
    print(
        f"\n{len(sc.targets)} targets, {duration_s:.0f} s simulated: {wall:.2f} s wall, "
        f"{duration_s / wall:.1f}× real time, {sap / wall:,.0f} SAPIENT messages/s end to end, "
        f"{s['tracks_confirmed']} tracks confirmed"
    )
    for k, v in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {k:45s} {v:7.2f} s  {100 * v / wall:5.1f} %")
    other = wall - sum(spent.values())
    print(
        f"  {'other (bus, batching, bookkeeping)':45s} {other:7.2f} s  {100 * other / wall:5.1f} %"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--swarm", type=int, nargs="*", default=[0, 100, 500])
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    for n in args.swarm:
        run(n, args.duration)


if __name__ == "__main__":
    main()
