#!/usr/bin/env python3
"""The operator console's three figures (issue #13), measured in Debian's Chromium.

A real :class:`~luchtwacht.runtime.LiveNode` runs in this process on the wall clock (ticks and
the picture at 10 Hz) with its SAPIENT server and its console on 127.0.0.1, started from a site
as ``luchtwacht run`` starts it (an accounts file with two commanders, an RF jammer on site).
The sensors run in a separate OS process (``multiprocessing``, spawn), each on its own TCP
connection as a real one would be: ``--radars`` simulated 3D radars (1 Hz volume scans, no false
alarms, staggered over the second) see ``--tracks`` birds circling small loops on a grid 3 to
~4.7 km out (clear of the runway zone, so they are tracks and not threats) and ``--intruders``
drones circling over the runway; the RF jammer is a simulated SAPIENT effector node
(:class:`~luchtwacht.sim.effectors.EffectorSim`) that answers the node's tasks and notes when
each arrives. The browser is ``/usr/bin/chromium`` under Playwright (``executable_path``; never
``playwright install``), headless, software GL (SwiftShader), a 1400 × 850 window, logged in as
a commander on the built client (``web/dist``; ``make web`` builds it).

Measured, not asserted (the exit code is 0 whatever the figures), each printed beside its target:

(a) **Frame time**, 1000 tracks at 10 pictures/s: the deltas between ``requestAnimationFrame``
    callbacks in the page over ``--seconds`` (20 s), p50/p95/p99/max, and the pictures the map
    drew a second. A display refreshing at 60 Hz gives deltas of 16.7 ms when no frame is missed:
    the 16 ms target means "no frame missed", so p95 is also compared with one refresh + 10 %.
(b) **Detection received by the node → drawn on the map**, in the same window: each time the
    node's core takes radar bytes (``core.receive``, wall clock), the first picture cycle after
    it (``core.tick``, which folds in all it received before) has sequence number *k*; the
    detection is drawn when the map first says it has painted a picture with sequence ≥ *k*
    (``window.__lwDrawn = {seq, t_s, wall_ms}``, set by the client once the frame with that
    picture has rendered). Browser and Python clocks are on the same machine
    (``performance.timeOrigin + performance.now()`` against ``time.time()``); their offset is
    measured (the best of 20 round trips) and taken off. Percentiles are weighted by the bytes
    received, so each DetectionReport counts about once. Also printed: node tick → drawn and
    node tick → the picture reaching the page (from its stream worker, or its WebSocket).
(c) **Approve click → task sent to the effector**: ``--approvals`` times, the commander clicks
    Approve on the jammer's option of a pending recommendation; the click is stamped in the page
    (the event's ``timeStamp``), and the node's sending of the first Task of that engagement
    (``core.send_to_node``, the aim ``look_at``; ``Engage`` follows in the same cycle) on the
    wall clock; the effector's socket receiving it is printed too. Between two approvals the
    engagement is ceased over the REST API by a second commander (bearer token): the jammer is
    free again and the intruders are proposed again at the next 1 Hz counter cycle. By default
    the birds leave the radars' sight first (their tracks are dropped), so this is measured on a
    page that keeps up; ``--approve-loaded`` measures it with the 1000 tracks still flying.

Then (``--profile``, 10 s by default) the page's main thread is sampled with DevTools' profiler
and its self time printed by source file and by hottest function (through ``app.js.map``): where
a frame's time goes, for whoever makes it shorter.

Run: ``.venv/bin/python bench/console.py [--tracks 1000] [--seconds 20] [--approvals 30]``.
Other load on the machine skews every figure: the load average is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import re
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from numpy.typing import NDArray
from playwright.sync_api import Browser, Page, sync_playwright

from luchtwacht.console.static import WEB_DIST
from luchtwacht.counter.authority import (
    Argon2Params,
    OperatorAccount,
    hash_password,
    save_accounts,
)
from luchtwacht.counter.catalogue import EffectorSpec
from luchtwacht.geo.sites import RUNWAY_HEADING_DEG, polar
from luchtwacht.ingest.sapient import SapientMessage, parse_message
from luchtwacht.model.detection import ObjectClass
from luchtwacht.node.clock import WallClock
from luchtwacht.node.commands import Command, CommandResult
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.effectors import EffectorSim
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.sim.targets import Orbit, Target
from luchtwacht.site import ConsoleSection, SapientSection, SiteEffectorSection, default_site
from luchtwacht.transport.sapient_tcp import recv_frame

F64 = NDArray[np.float64]
CHROMIUM = Path("/usr/bin/chromium")
WEB_SRC = WEB_DIST.parent / "src"
CHEAP = Argon2Params(time_cost=1, memory_kib=1024)  # logins are not what is measured
PASSWORD = "bench-pw"
JAM_ID = str(uuid.UUID(int=0xBE4C_0000_0000_4000_8000_0000_0000_0013))
JAMMER_ENU = polar(RUNWAY_HEADING_DEG + 90.0, 300.0, 5.0)
FRAME_TARGET_MS = 16.0
DRAWN_TARGET_MS = 250.0
TASK_TARGET_MS = 200.0
REFRESH_MS = 1000.0 / 60.0
GRACE_S = 5.0  # after the window: the detections of its last moments are drawn by then

# Stamps in the page, set up before any of the client's scripts run. Playwright adds it over
# the DevTools protocol, so the page's Content-Security-Policy does not apply to it.
PAGE_PROBE = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const bench = (window.__bench = {
    drawn: [], ws: [], clicks: [], fetches: [], frames: [], framing: false,
  });
  let drawn = null;
  Object.defineProperty(window, "__lwDrawn", {
    configurable: true,
    get: () => drawn,
    set: (v) => {
      drawn = v;
      if (v) bench.drawn.push({ seq: v.seq, t_s: v.t_s, wall_ms: v.wall_ms ?? now() });
    },
  });
  let last = 0;
  const frame = (t) => {
    if (!bench.framing) { last = 0; return; }
    if (last) bench.frames.push(t - last);
    last = t;
    requestAnimationFrame(frame);
  };
  bench.startFrames = () => {
    bench.frames = [];
    bench.framing = true;
    requestAnimationFrame(frame);
  };
  bench.stopFrames = () => { bench.framing = false; return bench.frames; };
  document.addEventListener("click", (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest("button.cmd-approve") : null;
    if (b) bench.clicks.push({ wall_ms: performance.timeOrigin + ev.timeStamp });
  }, true);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (e.name.includes("/api/commands"))
        bench.fetches.push({ wall_ms: performance.timeOrigin + e.startTime });
  }).observe({ type: "resource", buffered: true });
  // The picture as the page gets it: from the stream worker (each picture it hands over), or
  // from a WebSocket in the page (a client without the worker).
  const NativeWorker = window.Worker;
  window.Worker = class extends NativeWorker {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        if (ev.data && ev.data.type === "picture" && ev.data.picture)
          bench.ws.push({ seq: ev.data.picture.seq, wall_ms: now() });
      });
    }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        const head = typeof ev.data === "string" ? ev.data.slice(0, 400) : "";
        const m = /"seq":\\s*(\\d+)/.exec(head);
        if (m) bench.ws.push({ seq: Number(m[1]), wall_ms: now() });
      });
    }
  };
})();
"""


# --- the sensor process --------------------------------------------------------------------------


def background(n: int, spacing_m: float = 200.0, inner_m: float = 3000.0) -> list[Target]:
    """``n`` birds circling 40 m loops on a grid, nearest first from ``inner_m`` out."""
    side = 2 * math.ceil(math.sqrt(n * spacing_m**2 / math.pi + inner_m**2) / spacing_m) + 1
    k = (np.arange(side) - (side - 1) / 2.0) * spacing_m
    e, nn = np.meshgrid(k, k)
    centres = np.column_stack([e.ravel(), nn.ravel()])
    r = np.hypot(centres[:, 0], centres[:, 1])
    centres = centres[r >= inner_m]
    centres = centres[np.argsort(np.hypot(centres[:, 0], centres[:, 1]), kind="stable")][:n]
    return [
        Target(
            f"bird {i}",
            ObjectClass.BIRD,
            0.05,
            Orbit((ce, cn), 40.0, 6.0, 60.0 + 5.0 * (i % 9), phase_rad=0.9 * i),
        )
        for i, (ce, cn) in enumerate(centres.tolist())
    ]


def intruders(n: int) -> list[Target]:
    """``n`` drones circling over the runway: in the protected zone, in the jammer's reach."""
    out = []
    for i in range(n):
        along = (i - (n - 1) / 2.0) * 500.0
        c = polar(RUNWAY_HEADING_DEG, along)
        path = Orbit((c[0], c[1]), 60.0, 5.0, 90.0, phase_rad=1.3 * i)
        out.append(Target(f"intruder {i}", ObjectClass.DRONE, 0.05, path, role="intruder"))
    return out


@dataclass(slots=True)
class EffectorLog:
    """What the simulated jammer received: per Task its arrival (wall) and its name."""

    tasks: list[tuple[float, str]] = field(default_factory=list)


def sensors_main(
    host: str, port: int, n_tracks: int, n_radars: int, n_intruders: int, jammer: EffectorSpec,
    seed: int, conn: Connection,
) -> None:  # fmt: skip
    """The sensor process: radars at 1 Hz and the jammer, until the bench says stop."""
    sc = default_scenario()
    base = sc.radars[0]
    rng = np.random.default_rng(seed)
    epoch = time.time()
    radars = [
        RadarSim(
            RadarConfig(
                node_id=str(uuid.UUID(int=int(rng.integers(2**62)) << 64 | j, version=4)),
                lat_deg=base.lat_deg,
                lon_deg=base.lon_deg,
                alt_m=base.alt_m,
                name=f"bench radar {j + 1}",
                false_alarms_per_scan=0.0,
            ),
            sc.origin,
            epoch,
            seed + j,
        )
        for j in range(n_radars)
    ]
    birds = background(n_tracks)
    seen: list[list[Target]] = [birds[j::n_radars] for j in range(n_radars)]
    seen[0] += intruders(n_intruders)

    def registered(sock: socket.socket, hello: list[bytes]) -> socket.socket:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"".join(hello))
        ack = parse_message(recv_frame(sock))
        if ack.WhichOneof("content") != "registration_ack" or not ack.registration_ack.acceptance:
            raise RuntimeError(f"registration refused: {ack}")
        return sock

    socks = [
        registered(socket.create_connection((host, port)), r.scan(time.time() - epoch, []))
        for r in radars
    ]
    jam = EffectorSim(jammer, sc.origin, epoch, seed + 99)
    jam_sock = registered(socket.create_connection((host, port)), jam.scan(0.0, []))
    jam_lock = threading.Lock()
    log = EffectorLog()

    def drain(sock: socket.socket) -> None:  # what the node sends a radar (nothing, normally)
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                recv_frame(sock)

    def effector() -> None:  # the jammer's side of its socket: note each task, answer it
        with contextlib.suppress(OSError, ConnectionError):
            while True:
                body = recv_frame(jam_sock)
                t_rx = time.time()
                msg = parse_message(body)
                if msg.WhichOneof("content") == "task":
                    log.tasks.append((t_rx, msg.task.task_name))
                replies = jam.handle(t_rx - epoch, struct.pack("<I", len(body)) + body)
                with jam_lock:
                    jam_sock.sendall(b"".join(replies))

    for sock in socks:
        threading.Thread(target=drain, args=(sock,), daemon=True).start()
    threading.Thread(target=effector, daemon=True).start()
    conn.send("started")
    t0 = time.time() + 0.1
    due = [(t0 + j / n_radars + float(rng.uniform(0, 0.5 / n_radars)), j) for j in range(n_radars)]
    next_status = t0
    while True:
        if conn.poll():
            if conn.recv() == "stop":
                break
            seen = [[t for t in ts if t.role == "intruder"] for ts in seen]  # "light": birds gone
        t_due, j = min(due)
        wait = min(t_due, next_status) - time.time()
        if wait > 0:
            time.sleep(min(wait, 0.05))
            continue
        now = time.time()
        if now >= next_status:
            with jam_lock:
                jam_sock.sendall(b"".join(jam.scan(now - epoch, [])))
            next_status += 0.5
        if now >= t_due:
            socks[j].sendall(b"".join(radars[j].scan(now - epoch, seen[j])))
            due[j] = (t_due + 1.0, j)
    conn.send(log)
    for sock in [*socks, jam_sock]:
        sock.close()


# --- the node and what it does when ----------------------------------------------------------


@dataclass(slots=True)
class NodeLog:
    """Wall-clock stamps taken inside the node core (this process)."""

    received: list[tuple[float, str, int]] = field(default_factory=list)  # wall, feed, bytes
    ticks: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, seq
    sent: list[tuple[float, str, str]] = field(default_factory=list)  # wall, node id, task name
    submitted: list[tuple[float, str]] = field(default_factory=list)  # wall, command kind


class BenchNode:
    """A live node on the wall clock in a thread of its own, with its console and stamps."""

    def __init__(self, workdir: Path) -> None:
        accounts = workdir / "operators.yaml"
        people = [
            OperatorAccount(name, "commander", hash_password(PASSWORD, params=CHEAP))
            for name in ("cdr", "cdr2")
        ]
        save_accounts(accounts, people)
        base = default_site()
        origin = default_scenario().origin
        lat, lon, alt = (float(v) for v in origin.to_geodetic(np.array([JAMMER_ENU]))[0])
        jammer = SiteEffectorSection(
            name="jammer", node_id=JAM_ID, kind="rf_jammer", lat=lat, lon=lon, alt_m=alt
        )
        site = base.model_copy(
            update={
                "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
                "console": ConsoleSection(listen="127.0.0.1:0"),
                "operators": accounts,
                "effectors": [jammer],
            }
        )
        self.node = LiveNode(site, clock=WallClock())
        self.log = NodeLog()
        self._hook()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, name="node", daemon=True)

    def _hook(self) -> None:
        core, log = self.node.core, self.log
        receive, tick, send, submit = core.receive, core.tick, core.send_to_node, core.submit

        def stamped_receive(t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
            log.received.append((time.time(), sensor_id, len(payload)))
            receive(t_rx_s, sensor_id, fmt, payload)

        def stamped_tick(t_s: float, *, final: bool = False) -> bool:
            t0 = time.time()
            try:
                return tick(t_s, final=final)
            finally:
                log.ticks.append((t0, time.time(), core.picture_seq))

        def stamped_send(t_s: float, node_id: str, message: SapientMessage) -> None:
            send(t_s, node_id, message)
            if message.WhichOneof("content") == "task":
                log.sent.append((time.time(), node_id, message.task.task_name))

        core.receive = stamped_receive  # type: ignore[method-assign]
        core.tick = stamped_tick  # type: ignore[method-assign]

        def stamped_submit(command: Command) -> CommandResult:
            log.submitted.append((time.time(), str(command.kind)))
            return submit(command)

        core.send_to_node = stamped_send  # type: ignore[method-assign]
        core.submit = stamped_submit  # type: ignore[method-assign]

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self.node.run()

        asyncio.run(main())

    def start(self) -> tuple[str, int, str]:
        """Run the node; its SAPIENT address and the console's URL once both listen."""
        self.thread.start()
        deadline = time.monotonic() + 30
        while not (
            "sapient" in self.node.listeners
            and self.node.listeners["sapient"].address
            and self.node.console is not None
        ):
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("the node did not start its SAPIENT server and console")
            time.sleep(0.02)
        host, port = self.node.listeners["sapient"].address.rsplit(":", 1)
        assert self.node.console is not None
        return host, int(port), self.node.console.url.rstrip("/")

    def stop(self) -> None:
        """Stop the node (its console too) and wait for it."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.node.stop_event.set)
        self.thread.join(20)


# --- the browser -----------------------------------------------------------------------------


def clock_offset_ms(page: Page) -> tuple[float, float]:
    """The page's stamps minus the system clock (ms), and the spread of that, read in the page.

    ``performance.timeOrigin + performance.now()`` runs on a monotonic clock from the page's
    start; ``Date.now()`` is the system's wall clock, the one ``time.time()`` reads here. Their
    difference, averaged over 2000 reads, is what the page's stamps are off (an NTP slew since
    the page opened, for one); a round trip to the page would be less exact on a loaded machine.
    """
    d = np.array(
        page.evaluate(
            """() => {
              const out = [];
              const t = () => performance.timeOrigin + performance.now();
              for (let i = 0; i < 2000; i++) out.push(t() - Date.now());
              return out;
            }"""
        ),
        dtype=float,
    )
    return float(d.mean()), float(d.std())


def track_count(page: Page) -> int:
    """How many tracks the page's merged picture holds."""
    return int(
        page.evaluate(
            """() => {
              const t = window.luchtwacht?.latest?.()?.tracks;
              if (!t) return 0;
              return t.length ?? t.size ?? Object.keys(t).length;
            }"""
        )
    )


def login(page: Page, url: str, username: str) -> None:
    """Log in through the page's form and wait for the console."""
    page.goto(f"{url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#console:not([hidden])", timeout=30_000)


def renderer(page: Page) -> str:
    """The WebGL renderer the page draws with (SwiftShader: the CPU)."""
    return str(
        page.evaluate(
            """() => {
              const gl = document.createElement("canvas").getContext("webgl");
              if (!gl) return "no WebGL";
              const ext = gl.getExtension("WEBGL_debug_renderer_info");
              return gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER);
            }"""
        )
    )


# --- where the page's time goes ----------------------------------------------------------------

_B64 = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


class SourceMap:
    """A bundle's source map (v3): a generated (line, column) → original source, line, name."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text())
        self.sources: list[str] = data["sources"]
        self.names: list[str] = data.get("names", [])
        self.lines: list[list[tuple[int, int, int, int]]] = []  # col, source, line, name
        src = line = name = 0
        for text in data["mappings"].split(";"):
            col = 0
            segs = []
            for seg in text.split(","):
                if not seg:
                    continue
                vals = self._vlq(seg)
                col += vals[0]
                if len(vals) >= 4:
                    src, line = src + vals[1], line + vals[2]
                    if len(vals) >= 5:
                        name += vals[4]
                    segs.append((col, src, line, name if len(vals) >= 5 else -1))
            self.lines.append(segs)

    @staticmethod
    def _vlq(seg: str) -> list[int]:
        out, value, shift = [], 0, 0
        for c in seg:
            d = _B64[c]
            value += (d & 31) << shift
            if d & 32:
                shift += 5
                continue
            out.append(-(value >> 1) if value & 1 else value >> 1)
            value, shift = 0, 0
        return out

    def where(self, line: int, col: int) -> tuple[str, int]:
        """The original file and line (1-based) of a generated position (0-based)."""
        segs = self.lines[line] if 0 <= line < len(self.lines) else []
        best = None
        for seg in segs:
            if seg[0] > col:
                break
            best = seg
        if best is None:
            return "?", 0
        return self.sources[best[1]].replace("../", ""), best[2] + 1


TRACED = {  # what Chromium's own trace calls the work a page's main thread does
    "UpdateLayoutTree": "style",
    "Layout": "layout",
    "PrePaint": "pre-paint",
    "Paint": "paint",
    "Layerize": "layerize",
    "HitTest": "hit test",
    "FunctionCall": "scripts (event handlers, timers, frames)",
    "EvaluateScript": "scripts (evaluated)",
    "MinorGC": "garbage collection (minor)",
    "MajorGC": "garbage collection (major)",
    "V8.GC_SCAVENGER": "garbage collection (scavenge)",
    "ParseHTML": "parse HTML",
}


def trace_page(browser: Browser, page: Page, seconds: float) -> None:
    """Trace Chromium for ``seconds`` and print what the page's threads were busy with."""
    browser.start_tracing(page=page, categories=["toplevel", "devtools.timeline", "v8"])
    time.sleep(seconds)
    events = json.loads(browser.stop_tracing())
    events = events["traceEvents"] if isinstance(events, dict) else events
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    tasks: dict[tuple[int, int], float] = {}
    work: dict[tuple[int, int], dict[str, float]] = {}
    for e in events:
        if e.get("ph") != "X" or "dur" not in e:
            continue
        key = (e["pid"], e["tid"])
        if e["name"] in ("RunTask", "ThreadControllerImpl::RunTask"):
            tasks[key] = tasks.get(key, 0.0) + e["dur"]
        elif e["name"] in TRACED:
            per = work.setdefault(key, {})
            per[TRACED[e["name"]]] = per.get(TRACED[e["name"]], 0.0) + e["dur"]
    span = seconds * 1e6
    print(f"\nChromium's threads over {seconds:g} s (busy: % of the time in tasks):")
    main = max(
        (k for k in tasks if names.get(k) == "CrRendererMain"), key=lambda k: tasks[k], default=None
    )
    for key in sorted(tasks, key=lambda k: -tasks[k])[:6]:
        label = names.get(key, f"thread {key[1]}")
        print(
            f"    {100 * tasks[key] / span:5.1f} %  {label}{' (the page)' if key == main else ''}"
        )
    if main is not None:
        print("  the page's main thread, by kind of work (nested: scripts include their GC):")
        for what, t in sorted(work.get(main, {}).items(), key=lambda kv: -kv[1]):
            print(f"    {100 * t / span:5.1f} %  {what}")


def profile_page(page: Page, seconds: float) -> None:
    """Sample the page's main thread (DevTools' profiler) and print where its time went."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 500})
    cdp.send("Profiler.start")
    time.sleep(seconds)
    profile = cdp.send("Profiler.stop")["profile"]
    cdp.detach()
    smap = SourceMap(WEB_DIST / "app.js.map") if (WEB_DIST / "app.js.map").is_file() else None
    self_us: dict[int, float] = {}
    for node_id, dt in zip(profile["samples"], profile["timeDeltas"], strict=True):
        self_us[node_id] = self_us.get(node_id, 0.0) + dt
    by_file: dict[str, float] = {}
    by_fn: dict[str, float] = {}
    for node in profile["nodes"]:
        t = self_us.get(node["id"], 0.0)
        if not t:
            continue
        frame = node["callFrame"]
        name, url = frame["functionName"] or "(anonymous)", frame["url"]
        if url.endswith("/app.js") and smap is not None:
            file, line = smap.where(frame["lineNumber"], frame["columnNumber"])
        elif url:
            file, line = url.rsplit("/", 1)[-1], frame["lineNumber"] + 1
        else:
            file, line = name, 0  # (program), (garbage collector), (idle)
        package = "/".join(file.split("/")[:2]) if file.startswith("node_modules/") else file
        by_file[package] = by_file.get(package, 0.0) + t
        key = f"{file}:{line} {name}" if line else file
        by_fn[key] = by_fn.get(key, 0.0) + t
    total = sum(self_us.values()) or 1.0
    busy = total - by_file.get("(idle)", 0.0)
    print(
        f"  its scripts, sampled over {seconds:g} s: busy {100 * busy / total:.0f} % "
        "(self time, % of the sampled time; (program) is the browser's own work):"
    )
    for file, t in sorted(by_file.items(), key=lambda kv: -kv[1])[:10]:
        print(f"    {100 * t / total:5.1f} %  {file}")
    print("  its hottest functions (their original source line):")
    for key, t in sorted(by_fn.items(), key=lambda kv: -kv[1])[:12]:
        if key != "(idle)":
            print(f"    {100 * t / total:5.1f} %  {key}")


# --- figures -----------------------------------------------------------------------------------


def cpu_seconds_below(root: int) -> dict[str, float]:
    """CPU seconds used so far by the live descendants of process ``root``: Chromium's, others'."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    name: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry)
            parent[pid] = int(fields[1])
            used[pid] = (int(fields[11]) + int(fields[12])) / tick
            name[pid] = stat[stat.index("(") + 1 : stat.rindex(")")]
    out = {"chromium": 0.0, "other": 0.0}
    for pid, t in used.items():
        p = parent.get(pid, 0)
        while p not in (0, 1, root):
            p = parent.get(p, 0)
        if p == root and pid != root:
            out["chromium" if name[pid].startswith("chrom") else "other"] += t
    return out


def pct(a: F64, q: float, weights: F64 | None = None) -> float:
    """The q-th percentile of ``a``, nearest rank: the smallest value with q % of the weight at or
    below it (each value weighs 1 unless ``weights`` say otherwise); NaN when empty."""
    if a.size == 0:
        return math.nan
    w = np.ones(a.size) if weights is None else weights
    order = np.argsort(a, kind="stable")
    cum = np.cumsum(w[order])
    i = int(np.searchsorted(cum, q / 100.0 * cum[-1] * (1 - 1e-12), side="left"))
    return float(a[order][min(i, a.size - 1)].item())


def summary(a: F64, unit: str = "ms", weights: F64 | None = None) -> str:
    """p50 / p95 / p99 / max of ``a`` and how many samples."""
    return (
        f"p50 {pct(a, 50, weights):6.1f}  p95 {pct(a, 95, weights):6.1f}  "
        f"p99 {pct(a, 99, weights):6.1f}  max {pct(a, 100):6.1f} {unit}  (n={a.size})"
    )


def verdict(value: float, target: float) -> str:
    """PASS or FAIL against ``target`` (NaN: no measure)."""
    if math.isnan(value):
        return "NO DATA"
    return "PASS" if value <= target else "FAIL"


def first_at_or_after(times: F64, values: F64, keys: F64) -> F64:
    """For each key, ``times[i]`` of the first i with ``values[i] >= key`` (values ascending)."""
    run = np.maximum.accumulate(values)
    idx = np.searchsorted(run, keys, side="left")
    out = np.full(keys.size, np.nan)
    ok = idx < times.size
    out[ok] = times[idx[ok]]
    return out


def detection_to_drawn(
    log: NodeLog, jam_feed: str | None, drawn: list[dict[str, Any]], offset_ms: float,
    t0: float, t1: float,
) -> tuple[F64, F64]:  # fmt: skip
    """Per radar chunk received in [t0, t1]: seconds until the map drew it, and its bytes."""
    rx = np.array([(w, n) for w, sid, n in log.received if sid != jam_feed and t0 <= w <= t1])
    ticks = np.array([(start, seq) for start, _, seq in log.ticks])
    marks = sorted((d["seq"], d["wall_ms"]) for d in drawn if d.get("seq") is not None)
    if rx.size == 0 or ticks.size == 0 or not marks:
        return np.empty(0), np.empty(0)
    # The first tick that starts after the bytes arrived folds them in and publishes seq k.
    k = first_at_or_after(ticks[:, 1], ticks[:, 0], rx[:, 0])
    draws = np.array(sorted(marks, key=lambda m: m[1]))
    seen = draws[:, 0]
    at = (draws[:, 1] - offset_ms) / 1e3
    t_drawn = first_at_or_after(at, seen, k)
    # Not drawn by the end of the grace period: an infinite wait (percentiles past it say inf).
    t_drawn[np.isfinite(k) & ~np.isfinite(t_drawn)] = math.inf
    ok = np.isfinite(k)
    return (t_drawn[ok] - rx[ok, 0]) * 1e3, rx[ok, 1]


def since_tick(
    log: NodeLog, marks: list[dict[str, Any]], offset_ms: float, t0: float, t1: float
) -> F64:
    """For marks made in [t0, t1]: ms from the start of the tick that published their picture."""
    start = {seq: s for s, _, seq in log.ticks}
    out = []
    for m in marks:
        t = (m["wall_ms"] - offset_ms) / 1e3
        if m.get("seq") in start and t0 <= t <= t1:
            out.append(t - start[m["seq"]])
    return np.array(out) * 1e3


# --- the run -----------------------------------------------------------------------------------


def check_client() -> None:
    """A clear refusal when the web client is not built (or older than its sources)."""
    index = WEB_DIST / "index.html"
    if not index.is_file():
        raise SystemExit(f"the web client is not built ({index} is missing): run `make web`")
    newest = max((p.stat().st_mtime for p in WEB_SRC.iterdir()), default=0.0)
    if index.stat().st_mtime < newest:
        print(f"warning: {WEB_DIST} is older than web/src: `make web` builds the current client")
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")


def jammer_free(node: BenchNode) -> bool:
    """The node's newest picture has the jammer online, idle and usable on a recommendation."""
    console = node.node.console
    latest = console.console.latest if console is not None else None
    if latest is None:
        return False
    idle = any(e.name == "jammer" and e.online and e.busy_with is None for e in latest.effectors)
    usable = any(
        o.effector == "jammer" and o.usable
        for r in latest.recommendations
        if r.state == "pending"
        for o in r.options
    )
    return idle and usable


def approve_loop(
    page: Page, url: str, node: BenchNode, n: int, timeout_s: float
) -> tuple[list[float], list[tuple[float, str]], int]:
    """Approve the jammer ``n`` times in the page, ceasing each engagement over REST.

    Returns when Python asked for each click, the wall time the node sent each engagement's
    first task with the task's name, and the clicks that tasked nothing (the page showed a
    picture older than the node's: the option was no longer usable).
    """
    cdr2 = httpx.Client(base_url=url, timeout=10)
    res = cdr2.post("/api/login", json={"username": "cdr2", "password": PASSWORD, "bearer": True})
    res.raise_for_status()
    cdr2.headers["Authorization"] = f"Bearer {res.json()['token']}"
    approve = page.locator(".rec button.cmd-approve:visible:enabled", has_text="jammer").first
    sent: list[tuple[float, str]] = []
    clicked: list[float] = []
    engaged: set[str] = set()
    missed = 0
    while len(sent) < n and missed < n:
        deadline = time.monotonic() + timeout_s
        while not jammer_free(node) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            approve.wait_for(timeout=timeout_s * 1000)
            mark = len(node.log.sent)
            t_click = time.time()
            approve.click(timeout=timeout_s * 1000)
        except Exception as exc:  # a figure with what was measured beats none
            print(f"    no Approve button to click after {len(sent)} approvals: {exc!r:.200}")
            break
        deadline = time.monotonic() + 5.0
        task = None
        while task is None and time.monotonic() < deadline:
            for w, node_id, name in node.log.sent[mark:]:
                m = re.match(r"engagement (\d+):", name)
                if node_id == JAM_ID and m and m.group(1) not in engaged:
                    task = (w, name)
                    engaged.add(m.group(1))
                    break
            else:
                time.sleep(0.01)
        if task is None:
            missed += 1
            continue
        clicked.append(t_click)
        sent.append(task)
        eng_id = int(task[1].split()[1].rstrip(":"))
        res = cdr2.post(
            "/api/commands", json={"kind": "cease", "target": eng_id, "reason": "bench: next"}
        )
        if res.status_code != 200:
            print(f"    cease of engagement {eng_id}: {res.status_code} {res.text[:200]}")
    return clicked, sent, missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=1000, help="background tracks (birds)")
    ap.add_argument("--radars", type=int, default=20, help="radars at 1 Hz, a connection each")
    ap.add_argument("--intruders", type=int, default=3, help="drones over the runway")
    ap.add_argument("--seconds", type=float, default=20.0, help="window of (a) and (b)")
    ap.add_argument("--approvals", type=int, default=30, help="approve clicks for (c)")
    ap.add_argument("--warmup", type=float, default=90.0, help="longest wait for the tracks (s)")
    ap.add_argument(
        "--approve-loaded",
        action="store_true",
        help="(c) with the --tracks birds still flying (default: only the intruders are left)",
    )
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--headed", action="store_true", help="a visible window (needs a display)")
    ap.add_argument(
        "--quiet-load",
        type=float,
        default=0.0,
        help="first wait (up to --quiet-wait s) until the 1-minute load average is below this",
    )
    ap.add_argument("--quiet-wait", type=float, default=600.0)
    ap.add_argument("--screenshot", type=Path, help="save the page at the end of (a) here")
    ap.add_argument(
        "--profile",
        type=float,
        default=10.0,
        help="then sample the page's main thread this long and print where it spent it (0: no)",
    )
    args = ap.parse_args()
    check_client()
    waited = time.monotonic()
    while os.getloadavg()[0] >= args.quiet_load > 0 and time.monotonic() - waited < args.quiet_wait:
        time.sleep(5.0)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.2f} before the run "
        "(anything else running skews the figures)"
    )
    with tempfile.TemporaryDirectory(prefix="lw-console-bench-") as tmp:
        node = BenchNode(Path(tmp))
        host, port, url = node.start()
        counter = node.node.core.counter
        assert counter is not None
        ctx = mp.get_context("spawn")
        here, there = ctx.Pipe()
        sensors = ctx.Process(
            target=sensors_main,
            args=(host, port, args.tracks, args.radars, args.intruders, counter.effectors[0],
                  args.seed, there),
            daemon=True,
        )  # fmt: skip
        sensors.start()
        try:
            if not here.poll(60):
                raise SystemExit("the sensor process did not connect")
            here.recv()
            run(args, node, url, here)
        finally:
            here.send("stop")
            effector = here.recv() if here.poll(10) else EffectorLog()
            sensors.join(5)
            node.stop()
        report_effector(node, effector)


def run(args: argparse.Namespace, node: BenchNode, url: str, sensors: Connection) -> None:
    """Wait for the tracks, open the page, measure (a), (b) and (c)."""
    want = int(0.95 * (args.tracks + args.intruders))
    deadline = time.monotonic() + args.warmup
    while len(node.node.core.views) < want:
        if time.monotonic() > deadline:
            print(f"warning: only {len(node.node.core.views)} tracks after {args.warmup:g} s")
            break
        time.sleep(0.2)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=not args.headed,
            args=["--no-sandbox", "--enable-unsafe-swiftshader"],
        )
        page = browser.new_context(viewport={"width": 1400, "height": 850}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(PAGE_PROBE)
        login(page, url, "cdr")
        deadline = time.monotonic() + args.warmup
        while track_count(page) < want and time.monotonic() < deadline:
            time.sleep(0.2)
        gl = renderer(page)
        print(
            f"browser: {browser.version} ({CHROMIUM}), headless={not args.headed}, 1400 × 850, "
            f"WebGL renderer: {gl}"
        )
        print(
            f"node: {len(node.node.core.views)} tracks ({args.tracks} birds on {args.radars} "
            f"radars at 1 Hz, {args.intruders} intruders), the page holds {track_count(page)}; "
            "pictures at 10 Hz"
        )
        time.sleep(3.0)  # the page settles (icons made, the first pictures drawn)
        offset, err = clock_offset_ms(page)
        page.evaluate("() => { __bench.drawn = []; __bench.ws = []; }")
        t0 = time.time()
        cpu0, below0 = time.process_time(), cpu_seconds_below(os.getpid())
        page.evaluate("() => __bench.startFrames()")
        time.sleep(args.seconds)
        frames = np.array(page.evaluate("() => __bench.stopFrames()"), dtype=float)
        t1 = time.time()
        cpu = 100.0 * (time.process_time() - cpu0) / (t1 - t0)
        below = cpu_seconds_below(os.getpid())
        chromium = 100.0 * (below["chromium"] - below0["chromium"]) / (t1 - t0)
        others = 100.0 * (below["other"] - below0["other"]) / (t1 - t0)
        load = os.getloadavg()[0]
        time.sleep(GRACE_S)  # what came in at the window's end is drawn after it
        drawn: list[dict[str, Any]] = page.evaluate("() => __bench.drawn")
        ws: list[dict[str, Any]] = page.evaluate("() => __bench.ws")
        if args.screenshot:
            page.screenshot(path=args.screenshot)
        offset2, err2 = clock_offset_ms(page)
        ticks = np.array([e - s for s, e, _ in node.log.ticks if t0 <= s <= t1]) * 1e3
        print(
            f"clocks: page stamps − wall clock {offset:+.2f} ms (sd {err:.2f}) before, "
            f"{offset2:+.2f} (sd {err2:.2f}) after, taken off"
        )
        print(
            f"CPU in the window, % of one core: this process (the node, its console, the "
            f"Playwright client) {cpu:.0f}, Chromium {chromium:.0f}, the sensors and Playwright's "
            f"driver {others:.0f}; load average {load:.2f}\nnode ticks: {summary(ticks)}"
        )
        report_frames(args, frames, drawn, ws, offset, t0, t1)
        report_drawn(args, node, drawn, ws, offset, t0, t1)
        if args.profile > 0:
            trace_page(browser, page, args.profile)
            profile_page(page, args.profile)
        scene = f"{len(node.node.core.views)} tracks"
        if not args.approve_loaded:
            # The birds fly out of the radars' sight; their tracks coast and are dropped.
            sensors.send("light")
            deadline = time.monotonic() + 60
            while len(node.node.core.views) > args.intruders and time.monotonic() < deadline:
                time.sleep(0.5)
            while track_count(page) > args.intruders + 5 and time.monotonic() < deadline:
                time.sleep(0.5)
            scene = f"the birds gone, {len(node.node.core.views)} tracks left"
        print(f"\n(c) approve click → task sent to the jammer, {args.approvals} approvals, {scene}")
        t_c0 = time.time()
        page.evaluate("() => __bench.startFrames()")
        clicked, sent, missed = approve_loop(page, url, node, args.approvals, timeout_s=30.0)
        frames_c = np.array(page.evaluate("() => __bench.stopFrames()"), dtype=float)
        clicks: list[dict[str, Any]] = page.evaluate("() => __bench.clicks")
        offset3, _ = clock_offset_ms(page)
        # The click the page saw for each approval: the last one after Python asked for it.
        in_page = [(c["wall_ms"] - offset3) / 1e3 for c in clicks]
        for asked, (t_sent, name) in zip(clicked, sent, strict=True):
            seen = [c for c in in_page if asked - 0.5 <= c <= t_sent]
            if seen:
                APPROVALS.append((seen[-1], t_sent, name))
        lat = np.array([(s - c) * 1e3 for c, s, _ in APPROVALS])
        # Where the time goes: the page's fetch starting, the console submitting the command.
        fetches = np.array([(f["wall_ms"] - offset3) / 1e3 for f in page.evaluate(
            "() => __bench.fetches")])  # fmt: skip
        approves = np.array([w for w, kind in node.log.submitted if kind == "approve"])
        split = []
        for c, s_, _ in APPROVALS:
            f = fetches[(fetches >= c - 0.001) & (fetches <= s_)]
            a = approves[(approves >= c) & (approves <= s_)]
            if f.size and a.size:
                split.append(((f[0] - c) * 1e3, (a[0] - f[0]) * 1e3, (s_ - a[0]) * 1e3))
        parts = np.array(split).reshape(-1, 3)
        p99 = pct(lat, 99)
        print(f"    click (page) → the node sends the first task: {summary(lat)}")
        print(f"      click → the page's request starts:    {summary(parts[:, 0])}")
        print(f"      request → the console submits it:     {summary(parts[:, 1])}")
        print(f"      command → its task (the next cycle):  {summary(parts[:, 2])}")
        print(
            f"    p99 {p99:.1f} ms, target <= {TASK_TARGET_MS:g} ms: {verdict(p99, TASK_TARGET_MS)}"
            f" ({lat.size} approvals: p99 is about the max; {missed} clicks tasked nothing; "
            f"{time.time() - t_c0:.0f} s)"
        )
        print(f"    the page's requestAnimationFrame deltas meanwhile: {summary(frames_c)}")
        if errors:
            print(f"\npage errors: {errors[:5]}")
        browser.close()


def report_frames(
    args: argparse.Namespace, frames: F64, drawn: list[dict[str, Any]],
    ws: list[dict[str, Any]], offset: float, t0: float, t1: float,
) -> None:  # fmt: skip
    """(a): the frame deltas, and how many pictures came and were drawn a second."""

    def rate(marks: list[dict[str, Any]]) -> float:
        return float(sum(t0 <= (m["wall_ms"] - offset) / 1e3 <= t1 for m in marks)) / (t1 - t0)

    p95 = pct(frames, 95)
    print(f"\n(a) {args.tracks} tracks, 10 pictures/s, {args.seconds:g} s in the page")
    print(f"    requestAnimationFrame deltas: {summary(frames)}")
    print(
        f"    frames longer than 1.5 refreshes (25 ms): {100 * np.mean(frames > 25.0):.1f} %; "
        f"pictures drawn {rate(drawn):.1f}/s, WebSocket messages {rate(ws):.1f}/s"
    )
    print(
        f"    frame time p95 {p95:.1f} ms, target <= {FRAME_TARGET_MS:g} ms: "
        f"{verdict(p95, FRAME_TARGET_MS)} (one 60 Hz refresh is {REFRESH_MS:.1f} ms: "
        f"{verdict(p95, REFRESH_MS * 1.1)} against {REFRESH_MS * 1.1:.1f})"
    )


def report_drawn(
    args: argparse.Namespace, node: BenchNode, drawn: list[dict[str, Any]],
    ws: list[dict[str, Any]], offset: float, t0: float, t1: float,
) -> None:  # fmt: skip
    """(b): detection received → drawn, and the node tick → page and → drawn parts of it."""
    jam_feed = node.node.core.node_feed.get(JAM_ID)
    lat, weight = detection_to_drawn(node.log, jam_feed, drawn, offset, t0, t1)
    p99 = pct(lat, 99, weight)
    print(f"\n(b) detection received by the node → drawn on the map, {args.tracks} tracks")
    if not drawn:
        print("    the client never set window.__lwDrawn: no drawn time to measure")
    print(f"    per radar chunk, weighted by bytes: {summary(lat, weights=weight)}")
    if np.isinf(lat).any():
        print(
            f"    {np.isinf(lat).sum()} of {lat.size} chunks were not drawn {GRACE_S:g} s after "
            "the window (counted as never: inf)"
        )
    to_drawn = since_tick(node.log, drawn, offset, t0, t1)
    to_page = since_tick(node.log, ws, offset, t0, t1)
    print(f"    node tick → drawn:                  {summary(to_drawn)}")
    print(f"    node tick → message in the page:    {summary(to_page)}")
    print(
        f"    p99 {p99:.1f} ms, target <= {DRAWN_TARGET_MS:g} ms: {verdict(p99, DRAWN_TARGET_MS)}"
    )


APPROVALS: list[tuple[float, float, str]] = []  # (click in the page, task sent, task name)


def report_effector(node: BenchNode, effector: EffectorLog) -> None:
    """(c) once more, to the jammer's own socket: the task's arrival there."""
    arrivals = {name: t for t, name in effector.tasks}
    lat = np.array([(arrivals[n] - c) * 1e3 for c, _, n in APPROVALS if n in arrivals])
    if lat.size:
        print(f"    click (page) → the jammer's socket has the task: {summary(lat)}")
    print(
        f"\ndone; the node: {node.node.overruns} late ticks, internal errors "
        f"{dict(node.node.core.internal_errors) or 'none'}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
