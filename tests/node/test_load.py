"""Load shedding (node.load): the node decodes within its capacity, fairly, whole scans, counted."""

import math

import numpy as np
import pytest

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import SapientPipe, frame
from luchtwacht.node import NodeCore
from luchtwacht.node.load import LoadShedder, water_level
from luchtwacht.sim.radar import RadarConfig, RadarSim

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_790_000_000.0


def test_water_level_gives_every_feed_what_it_offered_up_to_one_common_level():
    assert water_level([100, 200], 1000) == math.inf  # everything fits
    assert water_level([100, 5000], 2000) == pytest.approx(1900)  # the quiet one keeps its 100
    assert water_level([3000, 3000, 3000], 3000) == pytest.approx(1000)
    level = water_level([50, 400, 900, 2000], 1500)
    assert sum(min(o, level) for o in (50, 400, 900, 2000)) == pytest.approx(1500)


def test_a_feed_over_its_share_is_charged_only_what_it_decodes_and_may_pass_a_big_scan():
    shed = LoadShedder(1000.0)
    assert shed.available("a", 5000, 0.0) == 1000  # a full bucket: one second of share
    shed.spend("a", 1200)  # a whole scan of 1200 decoded: the feed goes into debt
    assert shed.available("a", 100, 0.1) == 0
    assert shed.available("a", 1000, 0.35) in (149, 150)  # the debt paid back at 1000/s
    assert LoadShedder(None).available("a", 10**6, 0.0) == 10**6


class Radar:
    """A radar node streaming real SAPIENT bytes: ``plots`` detections per scan, one stamp each."""

    def __init__(self, k: int, plots: int, period_s: float) -> None:
        self.cfg = RadarConfig(
            node_id=f"00000000-0000-4000-8000-{k + 1:012d}",
            lat_deg=ORIGIN.lat_deg,
            lon_deg=ORIGIN.lon_deg + 0.01 * k,
            alt_m=70.0,
            period_s=period_s,
            false_alarms_per_scan=0.0,  # only the plots counted here
        )
        self.sim = RadarSim(self.cfg, ORIGIN, EPOCH, k + 1)
        self.plots = plots
        self.sid = f"sapient-{k + 1}"
        self.next_t = 0.0
        self.sent = 0

    def scans_until(self, t: float) -> tuple[bytes, int]:
        """The bytes of every scan due by ``t`` (scenario seconds) and how many plots they hold."""
        out, n = b"", 0
        while self.next_t <= t + 1e-9:
            out += b"".join(self.sim.scan(self.next_t, []))
            for j in range(self.plots):
                az = 360.0 * j / self.plots
                msg = self.sim._detection(self.next_t, az, 2.0, 1500.0 + j, 0.9, None, 0.0)
                out += frame(msg)
            n += self.plots
            self.next_t += self.cfg.period_s
        self.sent += n
        return out, n


def run(radars: list[Radar], capacity: float, seconds: float) -> NodeCore:
    core = NodeCore("load", ORIGIN, [], EPOCH, capacity_per_s=capacity)
    for r in radars:
        core.add_feed(r.sid, r.sid, "sapient", SapientPipe(r.sid, ORIGIN), 0.1)
    for step in range(1, round(seconds / 0.1) + 1):
        t = step * 0.1
        for r in radars:
            data, _ = r.scans_until(t)
            if data:
                core.receive(EPOCH + t, r.sid, "sapient", data)
        core.tick(EPOCH + t)
    return core


def test_an_overloaded_feed_decodes_at_its_share_newest_whole_scans_and_counts_the_rest():
    radar = Radar(0, plots=200, period_s=0.1)  # 2000 reports/s offered
    core = run([radar], capacity=1000.0, seconds=6.0)
    pipe = core.feeds[radar.sid].pipe
    assert isinstance(pipe, SapientPipe)
    decoded = pipe.counters.by_kind["detection_report"]
    offered = decoded + pipe.counters.shed + pipe.counters.rejected
    assert pipe.counters.rejected == 0
    assert offered == radar.sent  # every report accounted for: decoded or shed
    assert 1000 * 6 * 0.8 <= decoded <= 1000 * 7  # the share (and one second's burst), not 0
    assert decoded % 200 == 0  # whole scans only
    assert core.feeds[radar.sid].late == 0


def test_a_scan_bigger_than_the_share_still_passes_now_and_then():
    radar = Radar(0, plots=300, period_s=1.0)
    core = run([radar], capacity=250.0, seconds=10.0)
    pipe = core.feeds[radar.sid].pipe
    assert isinstance(pipe, SapientPipe)
    assert pipe.counters.by_kind["detection_report"] >= 300 * 6  # slowed, never starved


def test_a_quiet_sensor_loses_nothing_while_a_busy_one_is_cut_to_what_is_left():
    quiet, busy = Radar(0, plots=10, period_s=0.1), Radar(1, plots=300, period_s=0.1)
    core = run([quiet, busy], capacity=1500.0, seconds=8.0)
    q, b = core.feeds[quiet.sid].pipe, core.feeds[busy.sid].pipe
    assert isinstance(q, SapientPipe) and isinstance(b, SapientPipe)
    assert q.counters.shed == 0 and q.counters.by_kind["detection_report"] == quiet.sent
    assert b.counters.shed > 0
    rate = np.array([b.counters.by_kind["detection_report"]]) / 8.0
    assert 1500 - 100 - 400 <= rate[0] <= 1500 + 400  # about what the quiet one leaves
    snapshot = {f.sensor_id: f for f in core.picture(EPOCH + 8.0).feeds}
    assert snapshot[busy.sid].shed == b.counters.shed and snapshot[quiet.sid].shed == 0
