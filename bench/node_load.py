#!/usr/bin/env python3
"""The node's capacity in SAPIENT reports a second, and what it does at twice that load.

Issue #12 ("Overload in the open"): the node sheds SAPIENT DetectionReports beyond
``sapient.max_reports_per_s`` (:mod:`luchtwacht.node.load`) rather than fall behind. This
measures the figure that setting should be, and the shedding at work.

The load: ``--radars`` 3D radars (20) at ``--scan-hz`` (10 Hz) on a 6 km ring around the demo
site (Volkel), each looking outward over its own wedge, which holds its own drones: a 200 m grid
in three height layers, 0.4-2.6 km beyond the radar, all flying straight at about 8 m/s the same
way (±0.5 m/s each, so no two come within 150 m). A radar reports every drone in every scan
(Pd 1, no clutter), with 5 m / 0.3° / 0.5° noise, every plot of a scan stamped with the scan's
time, as a radar that stamps its scans does. The bytes are made by a fast generator in this
file: :class:`~luchtwacht.sim.radar.RadarSim` costs ~140 µs a plot (it is used here only for
each radar's Registration and StatusReport); the generator fills one DetectionReport per radar
with the fields the node reads (ULIDs, range/bearing with errors in degrees and metres, true
north, a detection confidence) and serializes it again for each plot.

1. Capacity: a :class:`~luchtwacht.node.core.NodeCore` on the demo site (no shedding, no
   recorder, no sockets) gets each radar's scan as its bytes every 0.1 s of a simulated clock
   (``core.receive``) and ticks (``core.tick``: tracking, the picture assessed and published to
   a subscriber at 10 Hz, the 1 Hz slow cycle). After a warm-up (tracks confirmed) the node's
   CPU time (``time.process_time``; making the bytes is not counted) is split three ways: in
   ``core.receive`` (decoding) and in the core's process stage (tracking), both per report,
   and the rest of the tick (picture, assessment, publish, slow cycle), per second, which grows
   with the tracks and not with the reports. Printed per ``--levels`` (targets, so tracks):
   reports per CPU-second of the whole flow at the offered load, that split, and what one core
   takes beside the picture of that many tracks, (1 - cycles) / (decode + track) reports/s.
   A sanity check per level: tracks confirmed, and targets with a confirmed track within 30 m.

2. Twice the capacity over real sockets: a :class:`~luchtwacht.runtime.LiveNode` on the wall
   clock (plain TCP on 127.0.0.1, ``max_bytes_per_s`` out of the way) configured with
   ``max_reports_per_s`` = C (``--capacity``; by default ``--fraction`` (0.6) of the least
   "1 core takes" figure of part 1, leaving the rest of the core for sockets, stats and the OS),
   and a sender in a separate process (the other core) with one TCP connection per radar:
   Registration + StatusReport each, then ``--overload`` (2) × C reports/s, as that many
   targets / ``--scan-hz``, for ``--warmup`` + ``--seconds``. The sender makes every scan before
   the start, stamped with the time it is due, and writes each when due, so scans are current
   when sent; a connection the node does not read blocks the sender (TCP back-pressure), and
   what was not written by the end is counted as unsent. The node samples
   :meth:`LiveNode.stats` and its picture every second. The same load is then run with
   shedding off (``max_reports_per_s`` 1e9), so the benefit is measured in the same run.

   Printed per second and per run: decoded reports (accepted less each radar's two control
   messages) and shed reports a second, late batches, tick overruns, targets with a confirmed
   track within 30 m (the least over the last half of the run), the picture's age (now less the
   median time of the confirmed tracks' last plots), the node's CPU share, how far behind its
   schedule the sender ended; and the account: every report written is decoded, shed or
   rejected once the node has drained its sockets (a difference is printed: it is a finding).
   Other load on the machine skews these figures: the load average is printed.

Run: ``.venv/bin/python bench/node_load.py [--quick] [--levels 500 2000 5000]
[--capacity C] [--overload 2]``. The whole run took 100 s here (``--quick``: 45 s).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import platform
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
from numpy.typing import NDArray
from sapient_msg.bsi_flex_335_v2_0 import range_bearing_pb2
from scipy.spatial import cKDTree

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import SapientMessage, SapientPipe, frame, parse_message
from luchtwacht.node.clock import WallClock
from luchtwacht.node.core import NodeCore
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.site import SapientSection, SiteConfig, default_site
from luchtwacht.transport.sapient_tcp import recv_frame

F64 = NDArray[np.float64]
EPOCH = 1_790_000_000.0  # the simulated clock's start (capacity runs)
RING_M = 6000.0  # the radars' distance from the site origin
SPACING_M = 200.0  # between neighbouring drones of a radar
HEIGHTS_M = (80.0, 280.0, 480.0)  # the drones' height layers (above the radar)
ALONG_M = (400.0, 2600.0)  # the drones' distance beyond their radar
SPEED_MS = 8.0
WEDGE_DEG = 7.0  # half-width of a radar's wedge, seen from the site origin (9° apart at 20)
RANGE_STD_M, AZ_STD_DEG, EL_STD_DEG = 5.0, 0.3, 0.5
CONTROL_FRAMES = 2  # Registration and StatusReport per radar: counted as accepted, not reports
NO_SHEDDING = 1e9
_CROCKFORD = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)
_LEN = struct.Struct("<I")


# --- the load: radars, their drones, their bytes ---------------------------------------------


@dataclass(slots=True)
class Radar:
    """One radar on the ring and its own drones (site ENU, metres and m/s)."""

    node_id: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    pos0: F64  # (n, 3) the drones at t = 0
    vel: F64  # (n, 3)

    def truth(self, t_rel_s: float) -> F64:
        """The drones' positions at ``t_rel_s`` after the start."""
        return self.pos0 + self.vel * t_rel_s


def layout(origin: SiteOrigin, n_radars: int, n_targets: int, seed: int) -> list[Radar]:
    """``n_radars`` radars on the ring, ``n_targets`` drones dealt out over their wedges."""
    rng = np.random.default_rng(seed)
    per = [n_targets // n_radars + (k < n_targets % n_radars) for k in range(n_radars)]
    radars = []
    for k in range(n_radars):
        bearing = math.radians(k * 360.0 / n_radars)
        out = np.array([math.sin(bearing), math.cos(bearing), 0.0])  # away from the site
        side = np.array([math.cos(bearing), -math.sin(bearing), 0.0])
        site = RING_M * out
        # Grid points (along, across, height) in the wedge, nearest the radar first.
        cells = []
        for a in np.arange(ALONG_M[0], ALONG_M[1] + 1.0, SPACING_M):
            half = (RING_M + a) * math.tan(math.radians(WEDGE_DEG))
            for s in np.arange(-half + SPACING_M / 2, half, SPACING_M):
                cells.extend((a, s, h) for h in HEIGHTS_M)
        cells.sort(key=lambda c: math.hypot(c[0], c[1]))
        if per[k] > len(cells):
            raise ValueError(f"{per[k]} drones do not fit in a wedge of {len(cells)} places")
        c = np.array(cells[: per[k]]).reshape(-1, 3)
        pos0 = site + c[:, :1] * out + c[:, 1:2] * side + c[:, 2:3] * np.array([0.0, 0.0, 1.0])
        # One heading per radar, across its wedge; each drone a little faster or slower.
        heading = side * (1.0 if k % 2 else -1.0)
        speed = SPEED_MS + rng.uniform(-0.5, 0.5, per[k])
        lat, lon, alt = (float(v) for v in origin.to_geodetic(site))
        node_id = str(uuid.UUID(int=int(rng.integers(2**62)) << 64 | k, version=4))
        radars.append(Radar(node_id, lat, lon, alt, pos0, speed[:, None] * heading))
    return radars


def control_frames(radar: Radar, origin: SiteOrigin, stamp_s: float) -> bytes:
    """The radar's Registration and StatusReport (its location), framed, stamped ``stamp_s``."""
    cfg = RadarConfig(radar.node_id, radar.lat_deg, radar.lon_deg, radar.alt_m, "bench radar")
    sim = RadarSim(cfg, origin, stamp_s, 0)
    return frame(sim.registration(0.0)) + frame(sim.status_report(0.0))


class ScanMaker:
    """Makes one radar's scans as framed DetectionReports, fast (a few µs a plot)."""

    def __init__(self, radar: Radar, origin: SiteOrigin, seed: int) -> None:
        self.radar = radar
        self.origin = origin
        self.rng = np.random.default_rng(seed)
        msg = SapientMessage()
        msg.node_id = radar.node_id
        dr = msg.detection_report
        rb = dr.range_bearing
        rb.azimuth_error, rb.elevation_error, rb.range_error = AZ_STD_DEG, EL_STD_DEG, RANGE_STD_M
        rb.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M
        rb.datum = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE
        dr.detection_confidence = 0.9
        self.msg = msg

    def scan(self, t_rel_s: float, stamp_s: float) -> bytes:
        """Every drone's plot at ``t_rel_s``, all stamped ``stamp_s`` (UTC s), framed."""
        r = self.radar
        n = r.pos0.shape[0]
        aer = self.origin.enu_to_aer(r.truth(t_rel_s), r.lat_deg, r.lon_deg, r.alt_m)
        noise = self.rng.normal(0.0, 1.0, (n, 3)) * (AZ_STD_DEG, EL_STD_DEG, RANGE_STD_M)
        aer = aer + noise
        aer[:, 0] %= 360.0
        # ULIDs: the scan's millisecond time (10 characters) and 80 random bits (16) each.
        ms = int(stamp_s * 1000) & ((1 << 48) - 1)
        head = "".join(chr(_CROCKFORD[(ms >> (5 * i)) & 31]) for i in range(9, -1, -1))
        tails = _CROCKFORD[self.rng.integers(0, 32, (2 * n, 16))].tobytes().decode()
        msg = self.msg
        msg.timestamp.seconds = math.floor(stamp_s)
        msg.timestamp.nanos = round((stamp_s - math.floor(stamp_s)) * 1e9) % 1_000_000_000
        dr = msg.detection_report
        rb = dr.range_bearing
        out = []
        for i, (az, el, rng_m) in enumerate(aer.tolist()):
            dr.report_id = head + tails[32 * i : 32 * i + 16]
            dr.object_id = head + tails[32 * i + 16 : 32 * i + 32]
            rb.azimuth, rb.elevation, rb.range = az, el, rng_m
            body = msg.SerializeToString()
            out.append(_LEN.pack(len(body)))
            out.append(body)
        return b"".join(out)


def matched(conf: F64, truth: F64, gate_m: float = 30.0) -> int:
    """How many targets (``truth``, ENU) have a confirmed track (``conf``) within ``gate_m``."""
    if not len(conf) or not len(truth):
        return 0
    d, _ = cKDTree(conf).query(truth, distance_upper_bound=gate_m)
    return int(np.isfinite(d).sum())


def confirmed_now(core: NodeCore, t_s: float) -> F64:
    """Positions (ENU) of the confirmed tracks, predicted to ``t_s``."""
    x, _ = core.tracker.predicted(t_s)
    return x[np.flatnonzero(core.tracker.tracks.confirmed)][:, :3]


# --- 1. capacity on a simulated clock ----------------------------------------------------------


@dataclass(slots=True)
class Capacity:
    """One load level's figures."""

    targets: int
    offered_per_s: float  # reports a simulated second
    seconds: float  # simulated seconds measured
    reports: int  # decoded in the measured window
    cpu_s: float  # the whole flow: receive + tick
    decode_s: float  # in core.receive: framing, decoding, validating, to ENU batches
    track_s: float  # in core.process: batches folded into the tracker
    wall_s: float
    gen_s: float  # generating the bytes (not in cpu_s)
    confirmed: int
    near: int
    late: int
    rejected: int

    @property
    def per_cpu_s(self) -> float:
        return self.reports / self.cpu_s

    @property
    def per_report_us(self) -> float:
        """Decoding and tracking one report (µs of CPU)."""
        return (self.decode_s + self.track_s) / self.reports * 1e6

    @property
    def cycles_per_s(self) -> float:
        """The rest of the flow (picture at 10 Hz, slow cycle), CPU-seconds a second."""
        return (self.cpu_s - self.decode_s - self.track_s) / self.seconds


def measure_capacity(site: SiteConfig, n_targets: int, args: argparse.Namespace) -> Capacity:
    """Drive a NodeCore at one level (``n_targets`` drones, so as many tracks)."""
    origin = site.origin
    radars = layout(origin, args.radars, n_targets, args.seed)
    makers = [ScanMaker(r, origin, args.seed + 100 + k) for k, r in enumerate(radars)]
    core = NodeCore("bench", origin, site.zone_models(), EPOCH, capacity_per_s=None)
    sub = core.subscribe("bench", maxsize=16)
    sids = []
    for k, r in enumerate(radars):
        sid = f"sapient-{k + 1}"
        pipe = SapientPipe(sid, origin, geoid_undulation_m=site.site.geoid_undulation_m)
        core.add_feed(sid, f"bench radar {k + 1}", "sapient", pipe, 10.0)
        core.receive(EPOCH, sid, "sapient", control_frames(r, origin, EPOCH))
        sids.append(sid)
    # Tracking's share: the core's process stage, timed on the instance (as node_latency does).
    track = [0.0]
    process = core.process

    def timed_process(t_s: float) -> None:
        c = time.process_time()
        try:
            process(t_s)
        finally:
            track[0] += time.process_time() - c

    core.process = timed_process  # type: ignore[method-assign]
    period = 1.0 / args.scan_hz
    steps = round((args.cap_warmup + args.cap_seconds) / 0.1)
    warm_steps = round(args.cap_warmup / 0.1)
    next_scan = [period * k / len(radars) for k in range(len(radars))]  # staggered
    cpu = gen = decode = 0.0
    wall0 = time.perf_counter()
    decoded0 = 0
    for step in range(1, steps + 1):
        t_rel = step * 0.1
        if step == warm_steps + 1:
            cpu = gen = decode = track[0] = 0.0
            wall0 = time.perf_counter()
            decoded0 = sum(core.feeds[s].pipe.counters.decoded for s in sids)
        g0 = time.process_time()
        payloads = []
        for k, m in enumerate(makers):
            chunks = []
            while next_scan[k] <= t_rel + 1e-9:
                # Scans go at the next 0.1 s step after their stamp, as a socket read would.
                chunks.append(m.scan(next_scan[k], EPOCH + next_scan[k]))
                next_scan[k] += period
            payloads.append(b"".join(chunks))
        c0 = time.process_time()
        gen += c0 - g0
        t = EPOCH + t_rel
        for sid, data in zip(sids, payloads, strict=True):
            if data:
                core.receive(t, sid, "sapient", data)
        c1 = time.process_time()
        core.tick(t)
        sub.take()
        c2 = time.process_time()
        decode += c1 - c0
        cpu += c2 - c0
    wall = time.perf_counter() - wall0
    decoded = sum(core.feeds[s].pipe.counters.decoded for s in sids) - decoded0
    t_end = EPOCH + steps * 0.1
    truth = np.vstack([r.truth(steps * 0.1) for r in radars])
    conf = confirmed_now(core, t_end)
    confirmed, near = len(conf), matched(conf, truth)
    res = Capacity(
        targets=n_targets,
        offered_per_s=n_targets * args.scan_hz,
        seconds=(steps - warm_steps) * 0.1,
        reports=decoded,
        cpu_s=cpu,
        decode_s=decode,
        track_s=track[0],
        wall_s=wall,
        gen_s=gen,
        confirmed=confirmed,
        near=near,
        late=core.late_batches,
        rejected=sum(core.feeds[s].pipe.counters.rejected for s in sids),
    )
    return res


# --- 2. twice the capacity over real sockets -----------------------------------------------------


@dataclass(slots=True)
class SendLog:
    """What the sender process did."""

    offered: int  # reports planned from t0 to t_end
    sent: int  # reports written to the sockets
    sent_measured: int  # of them, written after the warm-up
    unsent: int  # planned but not written by t_end (the node did not read: back-pressure)
    lag_end_s: float  # how far behind its schedule the sender was at the end
    gen_overrun_s: float  # generating took this much past t0 (0: the scans were ready)
    errors: int  # SAPIENT Error messages the node sent back


def sender_main(
    host: str,
    port: int,
    origin: tuple[float, float, float],
    n_radars: int,
    n_targets: int,
    scan_hz: float,
    warmup_s: float,
    seconds: float,
    seed: int,
    conn: Connection,
) -> None:
    """The radars, in their own process: register, make every scan, then send each when due."""
    site_origin = SiteOrigin(*origin)
    radars = layout(site_origin, n_radars, n_targets, seed)
    makers = [ScanMaker(r, site_origin, seed + 100 + k) for k, r in enumerate(radars)]
    socks = []
    for r in radars:  # one connection per radar; each registers before the next connects
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(control_frames(r, site_origin, time.time()))
        msg = parse_message(recv_frame(sock))
        if msg.WhichOneof("content") != "registration_ack" or not msg.registration_ack.acceptance:
            raise RuntimeError(f"registration refused: {msg}")
        socks.append(sock)
    errors = [0]

    def drain(sock: socket.socket) -> None:  # what the node sends now (Errors, if anything)
        try:
            while True:
                if parse_message(recv_frame(sock)).WhichOneof("content") == "error":
                    errors[0] += 1
        except (OSError, ConnectionError, EOFError):
            return

    for sock in socks:
        threading.Thread(target=drain, args=(sock,), daemon=True).start()
    # Every scan is made before t0, stamped with the time it is due: radar k scans at
    # t0 + (m + k / n) / scan_hz. The start is set from the time a first scan took.
    period = 1.0 / scan_hz
    n_scans = math.ceil((warmup_s + seconds) * scan_hz)
    c = time.perf_counter()
    makers[0].scan(0.0, time.time())
    per_scan_s = time.perf_counter() - c
    t0 = time.time() + 1.0 + 1.5 * per_scan_s * n_scans * n_radars
    t_measure, t_end = t0 + warmup_s, t0 + warmup_s + seconds
    due: list[tuple[float, int, bytes, int]] = []
    for m in range(n_scans):
        for k, maker in enumerate(makers):
            t = t0 + (m + k / n_radars) * period
            if t < t_end:
                due.append((t, k, maker.scan(t - t0, t), len(radars[k].pos0)))
    due.sort(key=lambda d: d[0])
    gen_overrun = max(0.0, time.time() - t0)
    offered = sum(d[3] for d in due)
    conn.send(("ready", t0, t_measure, t_end))
    sent = sent_measured = 0
    lag = 0.0
    for t, k, data, n in due:
        delay = t - time.time()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        if now >= t_end:  # the rest was not written in time: unsent
            lag = max(lag, now - t)
            break
        socks[k].sendall(data)
        sent += n
        sent_measured += n if t >= t_measure else 0
        lag = time.time() - t
    log = SendLog(
        offered=offered,
        sent=sent,
        sent_measured=sent_measured,
        unsent=offered - sent,
        lag_end_s=lag,
        gen_overrun_s=gen_overrun,
        errors=errors[0],
    )
    conn.send(log)
    conn.recv()  # the node has taken everything: hang up
    for sock in socks:
        sock.close()


@dataclass(slots=True)
class Sample:
    """The node's state at one second of a live run."""

    t_s: float  # wall seconds since t0
    decoded: int  # DetectionReports decoded so far (accepted less the control messages)
    shed: int
    rejected: int
    late: int  # batches
    overruns: int
    confirmed: int
    near: int  # targets with a confirmed track within 30 m
    age_s: float  # now less the median last plot time of the confirmed tracks
    cpu_s: float  # the node process's CPU time so far


@dataclass(slots=True)
class Live:
    """One live run's figures."""

    capacity: float
    targets: int
    log: SendLog
    samples: list[Sample]
    measure_from_s: float  # t0 + warm-up, as t_s
    seconds: float
    final: Sample  # after the node drained its sockets
    drained: bool

    def window(self) -> tuple[Sample, Sample]:
        """The samples nearest the measured window's ends."""
        inside = [s for s in self.samples if s.t_s >= self.measure_from_s - 0.5]
        inside = [s for s in inside if s.t_s <= self.measure_from_s + self.seconds + 0.5]
        return inside[0], inside[-1]

    def rate(self, name: str) -> float:
        a, b = self.window()
        return float(getattr(b, name) - getattr(a, name)) / max(b.t_s - a.t_s, 1e-9)

    def last_half(self) -> list[Sample]:
        half = self.measure_from_s + self.seconds / 2.0
        return [s for s in self.samples if half <= s.t_s <= self.measure_from_s + self.seconds]


def snapshot(node: LiveNode, radars: list[Radar], t0: float, n_control: int) -> Sample:
    """Read the node's counters and picture now."""
    now = time.time()
    st = node.stats()
    feed = st["feeds"].get("sapient", {})
    core = node.core
    conf = confirmed_now(core, now)
    truth = np.vstack([r.truth(now - t0) for r in radars])
    tt = core.tracker.tracks
    last = tt.last_hit_t_s[np.flatnonzero(tt.confirmed)]
    return Sample(
        t_s=now - t0,
        decoded=int(feed.get("accepted", 0)) - n_control,
        shed=int(feed.get("shed", 0)),
        rejected=int(feed.get("rejected", 0)),
        late=int(feed.get("late", 0)),
        overruns=int(st["overruns"]),
        confirmed=int(st["confirmed_tracks"]),
        near=matched(conf, truth),
        age_s=float(now - np.median(last)) if last.size else math.nan,
        cpu_s=time.process_time(),
    )


async def run_live(
    site: SiteConfig, capacity: float, n_targets: int, args: argparse.Namespace
) -> Live:
    """One LiveNode with ``max_reports_per_s`` = ``capacity``, the radars in another process."""
    section = SapientSection(
        listen="127.0.0.1:0", transport="tcp", max_bytes_per_s=1e9, max_reports_per_s=capacity
    )
    node = LiveNode(site.model_copy(update={"sapient": section}), clock=WallClock())
    runner = asyncio.create_task(node.run())
    while not ("sapient" in node.listeners and node.listeners["sapient"].address):
        await asyncio.sleep(0.01)
    host, port = node.listeners["sapient"].address.split(":")
    o = site.origin
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    sender = ctx.Process(
        target=sender_main,
        kwargs={
            "host": host,
            "port": int(port),
            "origin": (o.lat_deg, o.lon_deg, o.alt_m),
            "n_radars": args.radars,
            "n_targets": n_targets,
            "scan_hz": args.scan_hz,
            "warmup_s": args.warmup,
            "seconds": args.seconds,
            "seed": args.seed,
            "conn": there,
        },
        daemon=True,
    )
    sender.start()
    loop = asyncio.get_running_loop()
    _, t0, t_measure, t_end = await loop.run_in_executor(None, here.recv)
    radars = layout(o, args.radars, n_targets, args.seed)
    n_control = CONTROL_FRAMES * args.radars
    samples: list[Sample] = []
    await asyncio.sleep(max(0.0, t0 - time.time()))
    k = 0
    while time.time() < t_end + 0.5:
        samples.append(snapshot(node, radars, t0, n_control))
        k += 1
        await asyncio.sleep(max(0.0, t0 + k - time.time()))
    log: SendLog = await loop.run_in_executor(None, here.recv)
    # Let the node take what still waits in its sockets, then count.
    deadline = time.time() + args.drain
    final = snapshot(node, radars, t0, n_control)
    while final.decoded + final.shed + final.rejected < log.sent and time.time() < deadline:
        await asyncio.sleep(0.2)
        final = snapshot(node, radars, t0, n_control)
    drained = final.decoded + final.shed + final.rejected >= log.sent
    here.send("done")
    await loop.run_in_executor(None, sender.join, 5.0)
    node.stop_event.set()
    await runner
    return Live(
        capacity=capacity,
        targets=n_targets,
        log=log,
        samples=samples,
        measure_from_s=t_measure - t0,
        seconds=args.seconds,
        final=final,
        drained=drained,
    )


# --- the report ---------------------------------------------------------------------------------


def worst(a_s: float) -> float:
    """Sort key for picture ages: no confirmed track at all (NaN) is the oldest picture."""
    return a_s if math.isfinite(a_s) else math.inf


def age(a_s: float) -> str:
    """A picture age for the tables ("-": no confirmed track to be old)."""
    return f"{a_s:.1f}" if math.isfinite(a_s) else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a short smoke run (about a minute)")
    ap.add_argument("--levels", type=int, nargs="+", help="targets (tracks) per capacity run")
    ap.add_argument("--radars", type=int, default=20)
    ap.add_argument("--scan-hz", type=float, default=10.0, help="each radar's scan rate")
    ap.add_argument("--capacity", type=float, help="C for the live runs (default: measured)")
    ap.add_argument("--fraction", type=float, default=0.6, help="C as a share of one core")
    ap.add_argument("--overload", type=float, default=2.0, help="live load as a multiple of C")
    ap.add_argument("--seconds", type=float, help="measured seconds per live run")
    ap.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    ap.add_argument("--drain", type=float, default=10.0, help="most seconds to drain after")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    args.levels = args.levels or ([500, 2000] if args.quick else [500, 2000, 5000])
    args.seconds = args.seconds or (8.0 if args.quick else 20.0)
    args.cap_warmup = 3.0
    args.cap_seconds = 2.0 if args.quick else 4.0
    site = default_site()
    print(
        f"machine: {platform.processor() or platform.machine()}, {mp.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.radars} radars at {args.scan_hz:g} Hz, every plot "
        f"of a scan on one stamp; load average {os.getloadavg()[0]:.2f} before the run "
        "(anything else running skews the live figures)"
    )

    print(
        "\n1. capacity: NodeCore on a simulated clock, no shedding; CPU time of receive + tick "
        f"over {args.cap_seconds:g} s after a {args.cap_warmup:g} s warm-up"
    )
    print(
        f"{'targets':>7} {'offered/s':>9} {'reports/CPU-s':>13} {'decode µs':>9} "
        f"{'track µs':>8} {'cycles CPU/s':>12} {'1 core takes/s':>14} {'confirmed':>9} "
        f"{'within 30 m':>11} {'late':>4} {'rejected':>8}"
    )
    caps = []
    for n in args.levels:
        r = measure_capacity(site, n, args)
        caps.append(r)
        takes = (1.0 - r.cycles_per_s) / (r.per_report_us * 1e-6)
        print(
            f"{r.targets:7d} {r.offered_per_s:9.0f} {r.per_cpu_s:13.0f} "
            f"{r.decode_s / r.reports * 1e6:9.1f} {r.track_s / r.reports * 1e6:8.1f} "
            f"{r.cycles_per_s:12.2f} {f'{takes:.0f}' if takes > 0 else 'none':>14} "
            f"{r.confirmed:9d} {r.near:11d} "
            f"{r.late:4d} {r.rejected:8d}",
            flush=True,
        )
    gen_us = sum(r.gen_s for r in caps) / sum(r.reports for r in caps) * 1e6
    print(
        f"(the bench made the bytes at {gen_us:.1f} µs a report, not counted)\n"
        "reports/CPU-s: the whole flow at the offered load (decoding, tracking, the picture at "
        "10 Hz, the slow cycle); decode and track: µs of CPU a report in core.receive and in "
        "the tracker; cycles: CPU-seconds a second for the rest (picture, assessment, publish, "
        "slow cycle), which grows with the tracks, not the reports; 1 core takes: the reports/s "
        "one core decodes and tracks beside that picture, (1 - cycles) / (decode + track)."
    )

    takes_all = [
        (1.0 - r.cycles_per_s) / (r.per_report_us * 1e-6) for r in caps if r.cycles_per_s < 1.0
    ]
    per_core = min(takes_all) if takes_all else min(r.per_cpu_s for r in caps)
    capacity = args.capacity or round(args.fraction * per_core, -2)
    n_targets = round(args.overload * capacity / args.scan_hz)
    print(
        f"\n2. {args.overload:g} × the capacity over TCP: C = {capacity:.0f} reports/s "
        + (
            "(--capacity)"
            if args.capacity
            else f"({args.fraction:g} × {per_core:.0f}, the least a core takes above)"
        )
        + f"; {n_targets} targets at {args.scan_hz:g} Hz = {n_targets * args.scan_hz:.0f} "
        "reports/s offered "
        f"for {args.warmup:g} + {args.seconds:g} s; the same load with shedding on and off"
    )
    runs = {}
    loads = []
    for label, cap in (("shedding", capacity), ("no shedding", NO_SHEDDING)):
        loads.append(os.getloadavg()[0])
        runs[label] = asyncio.run(run_live(site, cap, n_targets, args))
    on, off = runs["shedding"], runs["no shedding"]
    print("\nover time (s since the start; rates over the second before)")
    head = f"{'decoded/s':>9} {'shed/s':>7} {'late':>5} {'ovr':>4} {'tracks':>6} {'age s':>5}"
    print(f"{'t':>4}  {'max_reports_per_s ' + format(capacity, '.0f'):^41}  {'no shedding':^41}")
    print(f"{'':>4}  {head}  {head}")
    n = min(len(on.samples), len(off.samples))
    a, b = on.samples[:n], off.samples[:n]
    for a0, a1, b0, b1 in zip(a, a[1:], b, b[1:], strict=False):
        cells = []
        for s0, s1 in ((a0, a1), (b0, b1)):
            dt = max(s1.t_s - s0.t_s, 1e-9)
            cells.append(
                f"{(s1.decoded - s0.decoded) / dt:9.0f} {(s1.shed - s0.shed) / dt:7.0f} "
                f"{s1.late:5d} {s1.overruns:4d} {s1.near:6d} {age(s1.age_s):>5}"
            )
        print(f"{a1.t_s:4.0f}  {cells[0]}  {cells[1]}")
    print(
        "tracks: targets with a confirmed track within 30 m; age: now less the median time of "
        "the confirmed tracks' last plots (how old the picture's data is)"
    )

    def row(name: str, f: Callable[[Live], str]) -> None:
        print(f"{name:<44} {f(on):>16} {f(off):>16}")

    print(f"\n{'measured window (after the warm-up)':<44} {'shedding':>16} {'no shedding':>16}")
    row("max_reports_per_s", lambda r: f"{r.capacity:.0f}")
    print(f"{'load average before the run':<44} {loads[0]:>16.2f} {loads[1]:>16.2f}")
    row("offered reports/s (planned)", lambda r: f"{r.targets * args.scan_hz:.0f}")
    row("written reports/s", lambda r: f"{r.log.sent_measured / r.seconds:.0f}")
    row("decoded reports/s", lambda r: f"{r.rate('decoded'):.0f}")
    row("shed reports/s", lambda r: f"{r.rate('shed'):.0f}")
    row("late batches (whole run)", lambda r: f"{r.final.late}")
    row("tick overruns (whole run)", lambda r: f"{r.final.overruns}")
    row("node CPU, % of a core", lambda r: f"{100 * r.rate('cpu_s'):.0f}")
    row(
        f"tracked within 30 m (of {n_targets}), least",
        lambda r: f"{min((s.near for s in r.last_half()), default=0)}",
    )
    row(
        "confirmed tracks, least (last half)",
        lambda r: f"{min((s.confirmed for s in r.last_half()), default=0)}",
    )
    row(
        "picture age, s, most (last half)",
        lambda r: age(max([s.age_s for s in r.last_half()] or [math.nan], key=worst)),
    )
    row("sender behind schedule at the end, s", lambda r: f"{r.log.lag_end_s:.1f}")
    row("reports planned, not written (back-pressure)", lambda r: f"{r.log.unsent}")
    print("\naccount over the whole run, after the node drained its sockets:")
    row("written", lambda r: f"{r.log.sent}")
    row("decoded", lambda r: f"{r.final.decoded}")
    row("shed", lambda r: f"{r.final.shed}")
    row("rejected", lambda r: f"{r.final.rejected}")
    row(
        "written - (decoded + shed + rejected)",
        lambda r: f"{r.log.sent - r.final.decoded - r.final.shed - r.final.rejected}",
    )
    row("drained within --drain", lambda r: "yes" if r.drained else "no")
    row("Errors sent back", lambda r: f"{r.log.errors}")
    for r in (on, off):
        if r.log.gen_overrun_s > 0:
            print(f"note: the sender's scans were ready {r.log.gen_overrun_s:.1f} s after t0")


if __name__ == "__main__":
    main()
