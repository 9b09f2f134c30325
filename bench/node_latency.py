#!/usr/bin/env python3
"""The live node's latency from a SAPIENT DetectionReport on the wire to the subscriber's picture.

For each rate (10, 100 and 1000 reports/s by default) a real :class:`~luchtwacht.runtime.LiveNode`
is started in this process on the wall clock (the default schedule: ticks and the picture at
10 Hz) with only a SAPIENT server on 127.0.0.1, and a subscriber
(``node.core.subscribe``) is read by a task on the node's event loop, as an in-process consumer
of the picture would be.

The sensors run in a separate OS process (``multiprocessing``, spawn), so the node's CPU share
is its own: ``--nodes`` simulated 3D radars (:class:`~luchtwacht.sim.radar.RadarSim`, 1 Hz
volume scans, no false alarms), each on its own TCP connection as a real radar would be (the
node makes one feed, one sensor for the tracker, of each connection). Each radar registers and
reports its location first, and the process waits for its RegistrationAck; then the radars scan
drones flying slow 50 m loops, each at its own place on a 300 m grid around the site, so that
every report belongs to a track that gets confirmed. By default every radar has targets of its
own, so the node holds as many tracks as it gets reports a second (1000 tracks at 1000/s);
with ``--shared`` all radars see the same targets (rate / nodes tracks, each updated by every
radar). The radars' scans are staggered over the second with a random jitter, so reports arrive
steadily and at every phase of the node's tick; each scan is stamped with the time it is made
and written to its socket at once. The rate is ``nodes × targets per scan`` reports/s.

Latency of one report: the wall time the subscriber received the first PictureUpdate that
includes it, minus the wall time the sensor process wrote it to the socket (one machine, one
clock). Which update first includes a report is read from the picture itself, wrapping nothing
in the node: every update carries each feed's count of decoded messages
(``PictureUpdate.feeds[...].decoded``), a tick folds in everything decoded before it, and TCP
keeps the order, so report number *n* on a connection (the registration and status reports
counted) is in the first update whose count for that feed is at least *n*. This holds only
while the node rejects nothing, which is checked and printed.

Reports sent in the first ``--warmup`` seconds (tracks forming) are not measured. Printed per
rate: reports sent and accepted, p50/p90/p99/max latency in ms, the node process's CPU share
(``time.process_time`` over wall time in the measured window, % of one core; the subscriber
task is in it too), picture updates and confirmed tracks in the window, and PASS/FAIL against
the target p99 ≤ ``--target-ms`` (150 ms); the exit code is always 0. Then diagnostics, outside
the latency measure: the node's tick durations (a timing wrapper on ``core.tick``), its tick
overruns, full (generation 2) garbage collections and their pauses, rejections, unpublished
reports and updates the subscriber lost. Other load on the machine skews every figure: the load
average is printed first.

Run: ``.venv/bin/python bench/node_latency.py [--rates 10 100 1000] [--seconds 10] [--shared]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import multiprocessing as mp
import os
import platform
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import numpy as np
from numpy.typing import NDArray

from luchtwacht.ingest.sapient import parse_message
from luchtwacht.model.detection import ObjectClass
from luchtwacht.node.clock import WallClock
from luchtwacht.node.ports import Subscription
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.sim.targets import Orbit, Target
from luchtwacht.site import SapientSection, default_site
from luchtwacht.transport.sapient_tcp import recv_frame

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
GRID_M = 300.0  # spacing of the targets' loop centres
SCAN_PERIOD_S = 1.0


# --- the sensor process --------------------------------------------------------------------------


@dataclass(slots=True)
class SendLog:
    """What the sensor process sent: per DetectionReport its write time, radar and frame number."""

    node_ids: list[str]  # the radars' SAPIENT node ids
    t_send: F64  # wall time the frame's write started (UTC s)
    radar: I64  # which radar (connection) sent it
    frame_no: I64  # 1-based number of the frame on its connection, every message counted
    frames_sent: list[int]  # per radar
    errors_received: int  # SAPIENT Error messages the node sent back
    t_measure: float
    t_end: float
    cpu_pct: float  # the sensor process's CPU share in the measured window, % of one core


def targets_for(n_total: int, nodes: int) -> list[list[Target]]:
    """``n_total`` drones on a grid of loops around the site, dealt out to ``nodes`` radars."""
    side = math.ceil(math.sqrt(n_total)) + 2
    k = np.arange(side) - (side - 1) / 2.0
    e, n = np.meshgrid(k * GRID_M, k * GRID_M)
    centres = np.column_stack([e.ravel(), n.ravel()])
    centres = centres[np.argsort(np.hypot(centres[:, 0], centres[:, 1]), kind="stable")]
    # Keep clear of the radar itself (overhead plots are awkward for any radar).
    centres = centres[np.hypot(centres[:, 0], centres[:, 1]) > 250.0][:n_total]
    out: list[list[Target]] = [[] for _ in range(nodes)]
    for i, (ce, cn) in enumerate(centres.tolist()):
        path = Orbit((ce, cn), 50.0, 8.0, 100.0 + 10.0 * (i % 7), phase_rad=0.7 * i)
        out[i % nodes].append(Target(f"drone {i}", ObjectClass.DRONE, 1.0, path))
    return out


def sensor_main(
    host: str,
    port: int,
    rate: float,
    nodes: int,
    shared: bool,
    warmup_s: float,
    seconds: float,
    seed: int,
    conn: Connection,
) -> None:
    """The sensor process: register ``nodes`` radars, then scan at ``rate`` reports/s.

    Each radar has targets of its own, or with ``shared`` they all see the same ones.
    """
    sc = default_scenario()
    base = sc.radars[0]
    per_scan = max(1, round(rate * SCAN_PERIOD_S / nodes))
    rng = np.random.default_rng(seed)
    radars = []
    epoch = time.time()
    for j in range(nodes):
        cfg = RadarConfig(
            node_id=str(uuid.UUID(int=int(rng.integers(2**62)) << 64 | j, version=4)),
            lat_deg=base.lat_deg,
            lon_deg=base.lon_deg,
            alt_m=base.alt_m,
            name=f"bench radar {j + 1}",
            period_s=SCAN_PERIOD_S,
            false_alarms_per_scan=0.0,
        )
        radars.append(RadarSim(cfg, sc.origin, epoch, seed + j))
    tgts = targets_for(per_scan, 1) * nodes if shared else targets_for(per_scan * nodes, nodes)
    # One connection per radar, as each would have: the node keeps one feed (one sensor to
    # the tracker) per connection. Each registers before the next connects.
    socks: list[socket.socket] = []
    frames_sent = [0] * nodes
    for j, radar in enumerate(radars):
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hello = radar.scan(time.time() - epoch, [])  # Registration + StatusReport, no plots
        sock.sendall(b"".join(hello))
        frames_sent[j] += len(hello)
        msg = parse_message(recv_frame(sock))
        if msg.WhichOneof("content") != "registration_ack" or not msg.registration_ack.acceptance:
            raise RuntimeError(f"registration refused: {msg}")
        socks.append(sock)
    errors = [0]

    def drain(sock: socket.socket) -> None:  # what the node sends now (Errors, if anything)
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                if parse_message(recv_frame(sock)).WhichOneof("content") == "error":
                    errors[0] += 1

    for sock in socks:
        threading.Thread(target=drain, args=(sock,), daemon=True).start()

    # The schedule: radar j scans at t0 + j/nodes (+ jitter) and every second after.
    t0 = time.time() + 0.2
    t_measure = t0 + warmup_s
    t_end = t_measure + seconds
    conn.send(("started", t_measure, t_end))
    slot = SCAN_PERIOD_S / nodes
    jitter = min(slot, 0.5)
    due: list[tuple[float, int]] = []
    m = 0
    while t0 + m * SCAN_PERIOD_S < t_end:
        for j in range(nodes):
            t = t0 + m * SCAN_PERIOD_S + j * slot + float(rng.uniform(0.0, jitter))
            if t < t_end:
                due.append((t, j))
        m += 1
    due.sort()
    t_send: list[float] = []
    radar_no: list[int] = []
    frame_no: list[int] = []
    cpu0: tuple[float, float] | None = None  # (CPU, wall) when the measured window began
    for t_due, j in due:
        delay = t_due - time.time()
        if delay > 0:
            time.sleep(delay)
        if cpu0 is None and t_due >= t_measure:
            cpu0 = (time.process_time(), time.time())
        frames = radars[j].scan(time.time() - epoch, tgts[j])
        t_w = time.time()
        socks[j].sendall(b"".join(frames))
        for f in frames:
            frames_sent[j] += 1
            if parse_message(f[4:]).WhichOneof("content") == "detection_report":
                t_send.append(t_w)
                radar_no.append(j)
                frame_no.append(frames_sent[j])
    cpu_pct = math.nan
    if cpu0 is not None:
        cpu_pct = 100.0 * (time.process_time() - cpu0[0]) / max(time.time() - cpu0[1], 1e-9)
    log = SendLog(
        node_ids=[r.cfg.node_id for r in radars],
        t_send=np.array(t_send),
        radar=np.array(radar_no, dtype=np.int64),
        frame_no=np.array(frame_no, dtype=np.int64),
        frames_sent=frames_sent,
        errors_received=errors[0],
        t_measure=t_measure,
        t_end=t_end,
        cpu_pct=cpu_pct,
    )
    conn.send(log)
    conn.recv()  # the node has published everything: hang up
    for sock in socks:
        sock.close()


# --- the node and its subscriber ------------------------------------------------------------------


@dataclass(slots=True)
class Seen:
    """What the subscriber saw: per update its arrival (wall), decoded counts, confirmed tracks."""

    t_wall: list[float] = field(default_factory=list)
    decoded: list[dict[str, int]] = field(default_factory=list)  # per feed (sensor id)
    tracks: list[int] = field(default_factory=list)


async def consume(sub: Subscription, seen: Seen) -> None:
    """Read the picture as an in-process subscriber would; note when each update came."""
    while (update := await sub.next()) is not None:
        now = time.time()
        seen.t_wall.append(now)
        seen.decoded.append({f.sensor_id: f.decoded for f in update.feeds if f.fmt == "sapient"})
        seen.tracks.append(len(update.tracks))


class Probe:
    """Diagnostics only, outside the latency measure: tick durations and full GC pauses.

    The node's ``core.tick`` is timed by a wrapper on the instance (a perf_counter pair a tick)
    and ``gc.callbacks`` times every generation-2 collection in this process.
    """

    def __init__(self, node: LiveNode) -> None:
        self.ticks: list[tuple[float, float]] = []  # (wall at the end, seconds it took)
        self.gc2: list[tuple[float, float]] = []  # likewise for full collections
        self._gc_t0 = 0.0
        tick = node.core.tick

        def timed_tick(t_s: float, *, final: bool = False) -> bool:
            t0 = time.perf_counter()
            try:
                return tick(t_s, final=final)
            finally:
                self.ticks.append((time.time(), time.perf_counter() - t0))

        node.core.tick = timed_tick  # type: ignore[method-assign]
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            self.gc2.append((time.time(), time.perf_counter() - self._gc_t0))

    def close(self) -> None:
        """Stop listening to the collector."""
        gc.callbacks.remove(self._on_gc)

    @staticmethod
    def within(rows: list[tuple[float, float]], t0: float, t1: float) -> F64:
        """Durations (ms) of the rows that ended in [t0, t1]."""
        return np.array([d * 1e3 for t, d in rows if t0 <= t <= t1])


@dataclass(slots=True)
class Result:
    """One rate's figures."""

    rate: float
    sent: int
    accepted: int
    latency_ms: F64
    unpublished: int
    cpu_pct: float
    updates: int
    confirmed: int
    overruns: int
    tick_ms: F64
    gc2_ms: F64
    lost: int
    sensor_cpu_pct: float
    rejected: int
    errors: int
    achieved_rate: float


async def run_rate(rate: float, args: argparse.Namespace) -> Result:
    """One node, one sensor process, one rate."""
    site = default_site().model_copy(
        update={"sapient": SapientSection(listen="127.0.0.1:0", transport="tcp")}
    )
    node = LiveNode(site, clock=WallClock())
    probe = Probe(node)
    sub = node.core.subscribe("bench", maxsize=4096)
    seen = Seen()
    consumer = asyncio.create_task(consume(sub, seen))
    runner = asyncio.create_task(node.run())
    while not ("sapient" in node.listeners and node.listeners["sapient"].address):
        await asyncio.sleep(0.01)
    host, port = node.listeners["sapient"].address.split(":")
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    sensor = ctx.Process(
        target=sensor_main,
        kwargs={
            "host": host,
            "port": int(port),
            "rate": rate,
            "nodes": args.nodes,
            "shared": args.shared,
            "warmup_s": args.warmup,
            "seconds": args.seconds,
            "seed": args.seed,
            "conn": there,
        },
        daemon=True,
    )
    sensor.start()
    loop = asyncio.get_running_loop()
    _, t_measure, t_end = await loop.run_in_executor(None, here.recv)
    await asyncio.sleep(max(0.0, t_measure - time.time()))
    cpu0, wall0, n0 = time.process_time(), time.time(), len(seen.t_wall)
    await asyncio.sleep(max(0.0, t_end - time.time()))
    cpu1, wall1, n1 = time.process_time(), time.time(), len(seen.t_wall)
    log: SendLog = await loop.run_in_executor(None, here.recv)
    # Each radar's feed (its connection), while the connections are still open.
    feeds = [node.core.node_feed[node_id] for node_id in log.node_ids]

    def behind() -> bool:
        last = seen.decoded[-1] if seen.decoded else {}
        return any(last.get(f, 0) < n for f, n in zip(feeds, log.frames_sent, strict=True))

    deadline = time.time() + 3.0  # let the last reports through the node
    while behind() and time.time() < deadline:
        await asyncio.sleep(0.02)
    here.send("done")
    await loop.run_in_executor(None, sensor.join, 5.0)
    node.stop_event.set()
    await runner
    sub.close()
    await consumer
    probe.close()

    t_wall = np.array(seen.t_wall)
    t_pub = np.full(log.t_send.size, np.nan)
    for j, feed in enumerate(feeds):
        # The feed's decoded count in each update (never decreasing: a closed feed leaves the
        # picture, so its later updates say 0).
        count = np.maximum.accumulate(np.array([d.get(feed, 0) for d in seen.decoded], np.int64))
        mine = np.flatnonzero(log.radar == j)
        idx = np.searchsorted(count, log.frame_no[mine], side="left")
        ok = idx < t_wall.size
        t_pub[mine[ok]] = t_wall[idx[ok]]
    measured = log.t_send >= log.t_measure
    published = measured & np.isfinite(t_pub)
    latency_ms = (t_pub[published] - log.t_send[published]) * 1e3
    window = (t_wall >= wall0) & (t_wall <= wall1)
    stats = node.stats()["feeds"].get("sapient", {})
    return Result(
        rate=rate,
        sent=log.t_send.size,
        # Every message the node decoded, less the registrations and status reports.
        accepted=int(stats.get("accepted", 0)) - (sum(log.frames_sent) - log.t_send.size),
        latency_ms=latency_ms,
        unpublished=int((measured & ~published).sum()),
        cpu_pct=100.0 * (cpu1 - cpu0) / (wall1 - wall0),
        updates=n1 - n0,
        confirmed=max((n for n, w in zip(seen.tracks, window, strict=True) if w), default=0),
        overruns=node.overruns,
        tick_ms=probe.within(probe.ticks, wall0, wall1),
        gc2_ms=probe.within(probe.gc2, wall0, wall1),
        lost=sub.lost,
        sensor_cpu_pct=log.cpu_pct,
        rejected=int(stats.get("rejected", 0)),
        errors=log.errors_received,
        achieved_rate=int(measured.sum()) / (log.t_end - log.t_measure),
    )


def pct(a: F64, q: float) -> float:
    """The q-th percentile of ``a`` (100: the maximum), NaN when empty."""
    return float(np.percentile(a, q)) if a.size else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rates", type=float, nargs="+", default=[10.0, 100.0, 1000.0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per rate")
    ap.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    ap.add_argument("--nodes", type=int, default=10, help="radars (1 Hz each, a connection each)")
    ap.add_argument(
        "--shared",
        action="store_true",
        help="every radar sees the same targets (rate / nodes tracks) instead of its own (rate)",
    )
    ap.add_argument("--target-ms", type=float, default=150.0, help="p99 target")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {mp.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.nodes} radars at 1 Hz, one connection each, "
        f"{'the same targets' if args.shared else 'targets of their own'}; "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per rate; load average "
        f"{os.getloadavg()[0]:.2f} before the run (anything else running skews the figures)"
    )
    print(
        f"{'rate/s':>7} {'sent':>6} {'accepted':>8} {'measured':>8} {'p50 ms':>7} {'p90 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'CPU %':>6} {'updates':>7} {'tracks':>6}  p99 ≤ "
        f"{args.target_ms:g} ms"
    )
    results = []
    for rate in args.rates:
        r = asyncio.run(run_rate(rate, args))
        results.append(r)
        lat = r.latency_ms
        ok = lat.size > 0 and pct(lat, 99) <= args.target_ms and r.unpublished == 0
        print(
            f"{r.rate:7g} {r.sent:6d} {r.accepted:8d} {lat.size:8d} {pct(lat, 50):7.1f} "
            f"{pct(lat, 90):7.1f} {pct(lat, 99):7.1f} {pct(lat, 100):7.1f} "
            f"{r.cpu_pct:6.1f} {r.updates:7d} {r.confirmed:6d}  {'PASS' if ok else 'FAIL'}",
            flush=True,
        )
    print(
        "\nsent/accepted: DetectionReports over the whole run (warm-up too); measured: those sent "
        "after the warm-up, whose latency is above; CPU: the node process, % of one core; "
        "updates: picture updates in the measured window; tracks: confirmed tracks in it (max)."
    )
    print("\ndiagnostics (measured window): the node's ticks, full GC pauses, anything lost")
    print(
        f"{'rate/s':>7} {'tick p50':>8} {'tick p99':>8} {'tick max':>8} {'>100 ms':>7} "
        f"{'overruns':>8} {'gen2 GCs':>8} {'GC max ms':>9} {'rejected':>8} {'unpubl.':>7} "
        f"{'lost':>5} {'sent/s':>7} {'sensor CPU %':>12}"
    )
    for r in results:
        t = r.tick_ms
        print(
            f"{r.rate:7g} {pct(t, 50):8.1f} {pct(t, 99):8.1f} {pct(t, 100):8.1f} "
            f"{int((t > 100.0).sum()):7d} {r.overruns:8d} {r.gc2_ms.size:8d} "
            f"{r.gc2_ms.max(initial=0.0):9.1f} {r.rejected + r.errors:8d} {r.unpublished:7d} "
            f"{r.lost:5d} {r.achieved_rate:7.1f} {r.sensor_cpu_pct:12.1f}"
        )


if __name__ == "__main__":
    main()
