"""Sensors at any scan rate: looks are cut by the sensor's own scan stamps, never by arrival.

Twenty radars, half at 10 Hz and half at 20 Hz, each with 25 drones in its sector, deliver their
SAPIENT bytes to one node core every 0.1 s as separate connections would: a 20 Hz radar's
delivery always holds two scans, a 10 Hz radar's now and then two (a delayed flush). Each drone
must end with one confirmed track, not one per merged scan.
"""

import math

import numpy as np

from luchtwacht.geo import SiteOrigin
from luchtwacht.geo.sites import polar
from luchtwacht.ingest.sapient import SapientPipe
from luchtwacht.model.detection import ObjectClass
from luchtwacht.node import NodeCore
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.targets import Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_790_000_000.0
N_RADARS, N_TARGETS = 20, 25


def radars_and_targets() -> tuple[list[RadarConfig], list[list[Target]]]:
    """Radars on a 4 km ring, each looking outward over a 40° sector holding its 25 drones."""
    radars, targets = [], []
    for k in range(N_RADARS):
        bearing = k * 360.0 / N_RADARS
        lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array(polar(bearing, 4000, 5))))
        radars.append(
            RadarConfig(
                node_id=f"00000000-0000-4000-8000-{k + 1:012d}",
                lat_deg=lat,
                lon_deg=lon,
                alt_m=alt,
                period_s=0.1 if k % 2 == 0 else 0.05,  # 10 Hz and 20 Hz
                sector_centre_deg=bearing,
                sector_width_deg=40.0,
                max_range_m=3000.0,
                false_alarms_per_scan=0.2,
                latency_s=0.0,
            )
        )
        own = []
        for j in range(N_TARGETS):
            # A 5 x 5 grid 1.2-2.0 km beyond the radar, 200 m apart, flying outward at 8 m/s.
            along = 5200.0 + 200.0 * (j // 5)
            side = -400.0 + 200.0 * (j % 5)
            b = math.radians(bearing)
            e = along * math.sin(b) + side * math.cos(b)
            n = along * math.cos(b) - side * math.sin(b)
            start = (e, n, 80.0 + 5 * j)
            end = (e + 400 * math.sin(b), n + 400 * math.cos(b), 80.0 + 5 * j)
            own.append(
                Target(f"r{k}t{j}", ObjectClass.DRONE, 0.1, WaypointPath((start, end), (8.0,)))
            )
        targets.append(own)
    return radars, targets


def test_twenty_radars_at_10_and_20_hz_give_one_confirmed_track_per_drone():
    radars, targets = radars_and_targets()
    core = NodeCore("scan rates", ORIGIN, [], EPOCH)
    sims = []
    for k, cfg in enumerate(radars):
        sid = f"sapient-{k + 1}"
        core.add_feed(sid, cfg.node_id, "sapient", SapientPipe(sid, ORIGIN), 0.1)
        sims.append(RadarSim(cfg, ORIGIN, EPOCH, seed=k + 1))
    rng = np.random.default_rng(7)
    held: dict[int, bytes] = {}
    next_scan = [0.0] * N_RADARS
    duration = 5.0
    steps = round(duration / 0.1)
    for step in range(1, steps + 1):
        t = step * 0.1
        for k, sim in enumerate(sims):
            out = held.pop(k, b"")
            while next_scan[k] <= t + 1e-9:
                out += b"".join(sim.scan(next_scan[k], targets[k]))
                next_scan[k] += radars[k].period_s
            if k % 2 == 0 and rng.random() < 0.3:
                held[k] = out  # a delayed flush: the next delivery holds two 10 Hz scans
            elif out:
                core.receive(EPOCH + t, f"sapient-{k + 1}", "sapient", out)
        core.tick(EPOCH + t)
    core.tick(EPOCH + duration + 0.1, final=True)

    assert core.internal_errors == {} and core.late_batches == 0
    tt = core.tracker.tracks
    x, _ = core.tracker.predicted(EPOCH + duration)
    confirmed = x[np.flatnonzero(tt.confirmed)][:, :3]
    truth = np.array(
        [tgt.path.state(duration)[0] for own in targets for tgt in own]  # type: ignore[index]
    )
    d = np.linalg.norm(confirmed[:, None, :] - truth[None, :, :], axis=2)
    per_target = (d < 60.0).sum(axis=0)
    assert (per_target == 1).mean() >= 0.99, np.bincount(per_target)
    assert per_target.max() == 1  # no drone with two tracks
    assert len(confirmed) <= len(truth) + 5  # and hardly any track on nothing
