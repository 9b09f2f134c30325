#!/usr/bin/env python3
"""Cursor-on-Target latency through a real TAK server: track update → event at a TAK client.

For each track count (100 and 1000 by default) a taky 0.10 server (``make peers``) is started on
127.0.0.1 in its own process, a TAK client connects to it (a plain socket read on a thread,
parsing taky's XML stream) and a :class:`~luchtwacht.publish.cot.CotPublisher` is started on
its own thread, fed picture updates at ``--rate`` Hz (10 Hz, the node's picture rate) through a
:class:`~luchtwacht.node.ports.Subscription`, as the node core does. Every update moves every
track; the publisher's rate limit (``--min-interval``, 1 s by default, the shipped default)
decides which tracks go, so at the default each track is sent once a second. All tracks are new
in the first update (one burst of N events, in the warm-up); after that the publisher spreads
them over the second, about N/10 per update at 10 Hz.

Latency of one event: the time the client received the bytes that end it minus the time its
update was offered to the subscription (one process, ``time.monotonic``). The event's CoT
``time`` (the picture time, ms) names its update. Events of the first ``--warmup`` seconds are
not measured. Printed per track count: events sent by the publisher and received by the client,
p50/p90/p99/max latency (ms), updates the subscription lost, events dropped, and the in-process
cost of building and encoding one event (µs). The publisher, the client's reader and the feeder
share this process's GIL; taky runs in its own process. Other load on the machine skews every
figure: the load average is printed first.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import socket
import statistics
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.publish.taky_server import TakClient, Taky

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.node.ports import Subscription
from luchtwacht.publish.base import PublishContext
from luchtwacht.publish.cot import CotConfig, CotPublisher, cot_time, parse_events

ORIGIN = SiteOrigin(51.6564, 5.7083, 52.0)


def tracks_at(n: int, t_s: float) -> tuple[TrackView, ...]:
    """``n`` drones on 30 m circles around a 100 m grid, each at its own phase."""
    out = []
    side = math.ceil(math.sqrt(n))
    for i in range(n):
        phase = 0.2 * t_s + i
        east = (i % side) * 100.0 + 30.0 * math.cos(phase)
        north = (i // side) * 100.0 + 30.0 * math.sin(phase)
        out.append(
            TrackView(
                track_id=i + 1,
                t_s=t_s,
                lat_deg=ORIGIN.lat_deg + north / 111_320.0,
                lon_deg=ORIGIN.lon_deg + east / (111_320.0 * math.cos(math.radians(51.66))),
                alt_m=150.0,
                east_m=east,
                north_m=north,
                up_m=98.0,
                speed_ms=6.0,
                heading_deg=math.degrees(phase) % 360.0,
                climb_ms=0.0,
                object_class="drone",
                class_prob=0.9,
                cooperative=False,
                uas_id=None,
                threat=ThreatLevel.HIGH if i % 3 == 0 else ThreatLevel.LOW,
                zones_inside=(),
                time_to_breach_s=None,
                pos_std_m=5.0,
                ellipse_m=(7.0, 4.0, 20.0),
                class_probs=(("drone", 0.9), ("bird", 0.1)),
                class_reasons=("rotor micro-Doppler",),
                alt_std_m=3.0,
            )
        )
    return tuple(out)


def update(seq: int, t_s: float, tracks: tuple[TrackView, ...], new: bool) -> PictureUpdate:
    """One picture update of these tracks."""
    return PictureUpdate(
        seq=seq,
        t_s=t_s,
        site="bench",
        tracks=tracks,
        new_tracks=frozenset(t.track_id for t in tracks) if new else frozenset(),
        dropped_tracks=frozenset(),
        alerts=(),
        alert_changes=(),
        recommendations=(),
        engagements=(),
        feeds=(),
        nodes=(),
    )


def encode_cost_us(n: int) -> float:
    """In-process cost of building and encoding one track event (µs), no network."""
    cfg = CotConfig(name="cost", connect="127.0.0.1:9", min_interval_s=0.0)
    pub = CotPublisher(cfg, PublishContext("bench", ORIGIN), Subscription("cost"))
    tracks = tracks_at(n, 0.0)
    t0 = time.perf_counter()
    rounds = max(1, 5000 // n)
    count = 0
    for r in range(rounds):
        for _, ev in pub.events(update(r, 1.8e9 + r, tracks, r == 0)):
            pub.encode(ev)
            count += 1
    return (time.perf_counter() - t0) / count * 1e6


class Sink:
    """No TAK server: a socket the publisher connects to directly, read like a TAK client.

    With it the figures are the publisher's own (encode, write, loopback), without taky's.
    """

    def __init__(self) -> None:
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.srv.getsockname()[1]
        self.events: list[ET.Element] = []
        self.arrived: list[float] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.srv.accept()
            buf = b""
            while chunk := conn.recv(65536):
                now = time.monotonic()
                buf += chunk
                cut = buf.rfind(b"</event>") + len(b"</event>")
                if cut < len(b"</event>"):
                    continue
                events = list(parse_events(buf[:cut]))
                buf = buf[cut:]
                self.events.extend(events)
                self.arrived.extend([now] * len(events))

    def close(self) -> None:
        """Stop listening."""
        self.srv.close()


@contextlib.contextmanager
def peer(direct: bool) -> Iterator[tuple[int, TakClient | Sink]]:
    """A taky server with a TAK client on it, or (``direct``) a bare socket: (port, reader)."""
    if direct:
        sink = Sink()
        try:
            yield sink.port, sink
        finally:
            sink.close()
        return
    with Taky() as taky:
        client = TakClient(taky.port)
        try:
            yield taky.port, client
        finally:
            client.close()


def run(
    n: int, seconds: float, warmup: float, rate: float, min_interval: float, direct: bool
) -> None:
    """One measurement at ``n`` tracks; prints one line."""
    with peer(direct) as (port, client):
        sub = Subscription("bench", maxsize=64)
        cfg = CotConfig(name="bench", connect=f"127.0.0.1:{port}", min_interval_s=min_interval)
        pub = CotPublisher(cfg, PublishContext("bench", ORIGIN), sub)
        pub.start()
        offered: dict[str, float] = {}
        period = 1.0 / rate
        start = time.monotonic()
        seq = 0
        try:
            while time.monotonic() < start + warmup + seconds:
                t_s = time.time()
                offered[cot_time(t_s)] = time.monotonic()
                sub.offer(update(seq, t_s, tracks_at(n, t_s), seq == 0))
                seq += 1
                time.sleep(max(0.0, start + seq * period - time.monotonic()))
            time.sleep(2.0)  # let the last events arrive
        finally:
            pub.stop()
        events = list(zip(client.events, client.arrived, strict=True))
    lat_ms = []
    received = 0
    for ev, arrived in events:
        if not (ev.get("uid") or "").startswith("luchtwacht.bench.track."):
            continue
        received += 1
        sent_at = offered.get(ev.get("time") or "")
        if sent_at is not None and sent_at >= start + warmup:
            lat_ms.append((arrived - sent_at) * 1000.0)
    lat_ms.sort()
    c = pub.counters

    def q(p: float) -> float:
        return lat_ms[min(len(lat_ms) - 1, int(p * len(lat_ms)))] if lat_ms else math.nan

    print(
        f"{n:5d} tracks  {c.sent:7d} sent  {received:7d} received  {len(lat_ms):7d} measured  "
        f"p50 {q(0.50):7.1f} ms  p90 {q(0.90):7.1f} ms  p99 {q(0.99):7.1f} ms  "
        f"max {max(lat_ms, default=math.nan):7.1f} ms  mean {statistics.fmean(lat_ms):6.1f} ms  "
        f"lost updates {sub.lost}  dropped {c.dropped}  encode {encode_cost_us(n):5.1f} µs/event"
    )


def main() -> None:
    """Parse the arguments and run each track count."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--tracks", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--seconds", type=float, default=10.0, help="measured time per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--rate", type=float, default=10.0, help="picture updates per second")
    ap.add_argument("--min-interval", type=float, default=1.0, help="per-track rate limit (s)")
    ap.add_argument(
        "--direct", action="store_true", help="also without taky: the publisher's own share"
    )
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    print(f"picture {args.rate:g} Hz, min_interval_s {args.min_interval:g}, XML over TCP")
    for direct in (False, True) if args.direct else (False,):
        print("publisher → socket → reader (no TAK server)" if direct else "through taky 0.10")
        for n in args.tracks:
            run(n, args.seconds, args.warmup, args.rate, args.min_interval, direct)


if __name__ == "__main__":
    main()
