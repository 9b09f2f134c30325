#!/usr/bin/env python3
"""Countermeasure recommendation time per assessment cycle, from a lone drone to a swarm.

The counter stage runs once a second. Each cycle it judges every threatening track against every
effector: reach, time to effect, availability, band, and the collateral checks against every other
track (a jammer's beam, a hard kill's line of fire, no-fire areas).
:func:`luchtwacht.counter.recommend.options_for` does this over all tracks × effectors at once.
This script times it for N threatening tracks among K tracks in all. Five effectors are used,
one of each kind, and two no-fire areas. Tracks are scattered over 6 × 6 km, a seventh of the
others are cooperative drones, and five are manned aircraft.

There is no peer to compare with, so it prints milliseconds per cycle (median of ``--repeat``).

Run: ``.venv/bin/python bench/counter_recommend.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from luchtwacht.counter.catalogue import DEFAULTS, FORCE_ORDER, EffectorSpec
from luchtwacht.counter.recommend import TrackContext, options_for
from luchtwacht.geo import SiteOrigin
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.model.zone import Zone
from luchtwacht.threat.zones import ZoneGeometry

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)


def tracks(n_threat: int, n_all: int, rng: np.random.Generator) -> list[TrackView]:
    """``n_all`` confirmed tracks, the first ``n_threat`` of them HIGH-threat drones."""
    out = []
    for i in range(n_all):
        aircraft = n_threat <= i < n_threat + 5
        coop = not aircraft and i >= n_threat and i % 7 == 0
        out.append(
            TrackView(
                track_id=i + 1, t_s=0.0, lat_deg=0.0, lon_deg=0.0, alt_m=0.0,
                east_m=float(rng.uniform(-3000, 3000)), north_m=float(rng.uniform(-3000, 3000)),
                up_m=float(rng.uniform(30, 150)) if not aircraft else 600.0,
                speed_ms=float(rng.uniform(0, 20)), heading_deg=float(rng.uniform(0, 360)),
                climb_ms=0.0, object_class="aircraft" if aircraft else "drone", class_prob=0.9,
                cooperative=coop or aircraft, uas_id=f"RID{i}" if coop else None,
                threat=ThreatLevel.HIGH if i < n_threat else ThreatLevel.LOW, zones_inside=(),
                time_to_breach_s=float(rng.uniform(20, 120)) if i < n_threat else None,
                pos_std_m=5.0, icao=f"{i:06X}" if aircraft else None,
            )
        )  # fmt: skip
    return out


def effectors(rng: np.random.Generator) -> list[EffectorSpec]:
    """One effector of each kind, scattered within 500 m of the origin."""
    out = []
    for k, kind in enumerate(FORCE_ORDER):
        at = (float(rng.uniform(-500, 500)), float(rng.uniform(-500, 500)), 5.0)
        node = f"00000000-0000-4000-8000-00000000000{k}"
        out.append(EffectorSpec(kind, node, kind, at, **DEFAULTS[kind]))  # type: ignore[arg-type]
    return out


def no_fire() -> list[ZoneGeometry]:
    """Two 400 m squares north and south of the site."""
    out = []
    for name, north in (("village north", 2000.0), ("village south", -2200.0)):
        corners = np.array(
            [[-200, north - 200, 0], [200, north - 200, 0], [200, north + 200, 0],
             [-200, north + 200, 0]], dtype=float,
        )  # fmt: skip
        geo = ORIGIN.to_geodetic(corners)
        out.append(ZoneGeometry(Zone(name, tuple((float(a), float(b)) for a, b, _ in geo)), ORIGIN))
    return out


def main() -> None:
    """Time ``options_for`` over a ladder of sizes and print ms per cycle."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    effs, zones = effectors(rng), no_fire()
    print(f"{platform.machine()} {platform.python_version()}, numpy {np.__version__}")
    print(f"{'threatening':>11} {'tracks':>7} {'effectors':>9}  ms per cycle (median)")
    for n_threat, n_all in ((1, 10), (10, 100), (50, 1000), (200, 1000), (1000, 1000)):
        views = tracks(n_threat, n_all, rng)
        ctx = {v.track_id: TrackContext(-30.0) for v in views}
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            options_for(views[:n_threat], effs, {}, views, zones, ctx, 0.0, True)
            times.append(time.perf_counter() - t0)
        print(f"{n_threat:>11} {n_all:>7} {len(effs):>9}  {1000 * float(np.median(times)):.1f}")


if __name__ == "__main__":
    main()
