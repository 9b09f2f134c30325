"""The live node: sockets in, air picture out, on the wall clock (``luchtwacht run``).

One asyncio loop serves every feed of a site (``luchtwacht.site``):

- a SAPIENT server (TCP) for any number of sensor nodes. Each connection gets its own
  :class:`~luchtwacht.ingest.sapient.SapientPipe`, but all of them share what they know per
  node. A node that reconnects therefore resumes without registering again. When its last
  connection drops, the node's state goes to "lost".
- a Remote ID receiver feed (JSON lines over UDP or TCP).

Every 0.1 s the fusion core folds the decoded batches into the tracker. Every second it runs
the assessment cycle, tasks the connected cameras that registered SAPIENT ``LOOK_AT`` onto the
tracks that most need a look (``threat.cueing``), refreshes the countermeasure recommendations
and sends the tasks of engagements an authorised operator approved (``counter``; effectors are
SAPIENT nodes too), and rewrites the stats file.

Each connection is guarded on its own, so one misbehaving sensor never holds up the others:
- a frame with an absurd length prefix cuts that connection off (the stream is out of step), and
  so do ``max_rejects_in_a_row`` invalid messages without a valid one between them;
- a connection stuck mid-frame for ``stall_timeout_s``, or silent for ``idle_timeout_s``, is
  closed;
- a sender above ``max_bytes_per_s`` is throttled: the node stops reading from it, and TCP
  back-pressure slows the sender down. Nothing it already sent is dropped.

SIGTERM or SIGINT ends the run cleanly: the node closes its listeners and connections, flushes
and records what it already holds, writes the stats file and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from luchtwacht.counter.authority import Authority, load_accounts
from luchtwacht.counter.engagement import CounterUas
from luchtwacht.fusion import FusionCore, iso_utc
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import NodeState, SapientMessage, SapientPipe, frame, validate
from luchtwacht.site import (
    AdsbSection,
    AsterixSection,
    SapientSection,
    SiteConfig,
    adsb_pipe,
    asterix_pipe,
    parse_hostport,
)
from luchtwacht.store.recorder import Recorder
from luchtwacht.threat.cueing import CuedCamera, Cueing
from luchtwacht.threat.zones import ZoneGeometry

log = logging.getLogger(__name__)

TICK_S = 0.1
CYCLE_S = 1.0
READ_CHUNK = 65_536
FRAMING_REASON = "frame.length: exceeds maximum"
EFFECTOR_NODE_TYPES = frozenset(
    {"NODE_TYPE_JAMMER", "NODE_TYPE_KINETIC", "NODE_TYPE_CYBER", "NODE_TYPE_LDEW",
     "NODE_TYPE_RFDEW"}
)  # fmt: skip


@dataclass(slots=True)
class ListenerStats:
    """Counters of one listener (all its connections together)."""

    address: str = ""
    connections_total: int = 0
    connections_open: int = 0
    closed_by_reason: Counter[str] = field(default_factory=Counter)
    throttled_s: float = 0.0


class LiveNode:
    """A Luchtwacht node serving a site's feeds until it is stopped."""

    def __init__(
        self, config: SiteConfig, on_cycle: Callable[[FusionCore], None] | None = None
    ) -> None:
        self.config = config
        self.recorder = Recorder(config.record) if config.record is not None else None
        self.core = FusionCore(
            config.site.name, config.origin, config.zone_models(), time.time(), self.recorder
        )
        self.on_cycle = on_cycle
        self.stop_event = asyncio.Event()
        self.sapient_nodes: dict[str, NodeState] = {}
        self.node_connections: Counter[str] = Counter()
        self.listeners: dict[str, ListenerStats] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._conn_seq = 0
        self._node_writers: dict[str, asyncio.StreamWriter] = {}
        self._node_feed: dict[str, str] = {}  # node id -> the feed (connection) it reports on
        self.cueing = Cueing(config.sapient.fusion_node_id) if config.sapient is not None else None
        # Human authority: the operators who may log in, and what their roles allow.
        audit = self.recorder.audit if self.recorder is not None else None
        accounts = load_accounts(config.operators) if config.operators is not None else []
        self.authority = Authority(accounts, audit=audit)
        if config.effectors and config.sapient is not None:
            self.core.counter = CounterUas(
                config.sapient.fusion_node_id,
                [e.spec(config.origin) for e in config.effectors],
                self.authority,
                no_fire=[ZoneGeometry(z, config.origin) for z in config.no_fire_models()],
                audit=audit,
            )
        # Counters of connections that have closed, per listener kind: their feeds are dropped
        # from the core (a node up for weeks sees thousands of reconnects) but still counted.
        self._retired: dict[str, FeedCounters] = {}
        self._geoid_m = config.site.geoid_undulation_m
        self.internal_errors: Counter[str] = Counter()
        if self.recorder is not None:
            self.recorder.set_meta(
                site_name=config.site.name,
                started=iso_utc(self.core.start_s),
                pipe_settings=json.dumps(
                    {
                        "geoid_undulation_m": config.site.geoid_undulation_m,
                        "magnetic_declination_deg": config.site.magnetic_declination_deg,
                    }
                ),
            )
            self.recorder.audit(self.core.start_s, "run.start", {"site": config.site.name})

    # --- SAPIENT -------------------------------------------------------------------------------

    async def _start_sapient(self, cfg: SapientSection) -> None:
        host, port = parse_hostport(cfg.listen)
        stats = self.listeners.setdefault("sapient", ListenerStats())

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            try:
                await self._sapient_connection(cfg, stats, reader, writer)
            finally:
                if task is not None:
                    self._tasks.discard(task)

        server = await asyncio.start_server(handle, host, port, limit=READ_CHUNK)
        self._servers.append(server)
        sock = server.sockets[0].getsockname()
        stats.address = f"{sock[0]}:{sock[1]}"
        log.info("SAPIENT server listening on %s", stats.address)

    async def _sapient_connection(
        self,
        cfg: SapientSection,
        stats: ListenerStats,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self._conn_seq += 1
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sid = f"sapient-{self._conn_seq}"
        pipe = SapientPipe(
            sid,
            self.core.origin,
            cfg.fusion_node_id,
            geoid_undulation_m=self.config.site.geoid_undulation_m,
            magnetic_declination_deg=self.config.site.magnetic_declination_deg,
        )
        pipe.nodes = self.sapient_nodes  # knowledge per node outlives a connection
        self.core.add_feed(sid, f"SAPIENT {peer_text}", "sapient", pipe, 10.0)
        stats.connections_total += 1
        stats.connections_open += 1
        nodes_here: set[str] = set()
        bucket_t, bucket_bytes = time.monotonic(), 0.0
        rejects_in_a_row = 0
        reason = "closed by peer"
        try:
            while not self.stop_event.is_set():
                stalled = pipe.reader.pending_bytes > 0
                timeout = cfg.stall_timeout_s if stalled else cfg.idle_timeout_s
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), timeout)
                except TimeoutError:
                    reason = "stalled mid-frame" if stalled else "idle"
                    break
                if not data:
                    break
                # Token bucket: over the rate, wait before reading on (back-pressure on this peer).
                now = time.monotonic()
                bucket_bytes = max(0.0, bucket_bytes - (now - bucket_t) * cfg.max_bytes_per_s)
                bucket_t = now
                bucket_bytes += len(data)
                excess_s = bucket_bytes / cfg.max_bytes_per_s - 1.0
                before = pipe.counters.rejected_by_reason[FRAMING_REASON]
                accepted_before, rejected_before = pipe.counters.decoded, pipe.counters.rejected
                self.core.receive(time.time(), sid, "sapient", data)
                if pipe.counters.decoded > accepted_before:
                    rejects_in_a_row = 0
                rejects_in_a_row += pipe.counters.rejected - rejected_before
                for node_id in pipe.node_ids_here - nodes_here:
                    if pipe.nodes[node_id].registered:
                        nodes_here.add(node_id)
                        self.node_connections[node_id] += 1
                        self._node_writers[node_id] = writer
                        self._node_feed[node_id] = sid
                for reply in pipe.take_replies():
                    writer.write(reply)
                    self.core.record_outgoing(time.time(), sid, "sapient-out", reply)
                await writer.drain()
                if pipe.counters.rejected_by_reason[FRAMING_REASON] > before:
                    reason = "absurd frame length"
                    break
                if rejects_in_a_row >= cfg.max_rejects_in_a_row:
                    reason = "only invalid messages"
                    break
                if excess_s > 0:
                    stats.throttled_s += excess_s
                    await asyncio.sleep(excess_s)
        except (ConnectionError, asyncio.IncompleteReadError):
            reason = "connection error"
        finally:
            stats.connections_open -= 1
            stats.closed_by_reason[reason] += 1
            for node_id in nodes_here:
                self.node_connections[node_id] -= 1
                if self._node_writers.get(node_id) is writer:
                    del self._node_writers[node_id]
            writer.close()
            self._retire(sid, "sapient")
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            if reason not in ("closed by peer",):
                log.warning("SAPIENT %s (%s) cut off: %s", sid, peer_text, reason)

    async def send_to_node(self, node_id: str, message: SapientMessage) -> None:
        """Send a message (a Task, typically) to a connected sensor or effector node.

        The message is stamped, addressed from this fusion node and recorded as sent; the node's
        TaskAck comes back on its connection and is kept in its state. Raises KeyError when the
        node has no open connection.
        """
        writer = self._node_writers.get(node_id)
        if writer is None or writer.is_closing():
            raise KeyError(f"sensor node {node_id} is not connected")
        if not message.HasField("timestamp"):
            message.timestamp.GetCurrentTime()
        message.node_id = (
            self.config.sapient.fusion_node_id if self.config.sapient else message.node_id
        )
        message.destination_id = node_id
        validate(message)  # never send what we would refuse ourselves
        data = frame(message)
        writer.write(data)
        await writer.drain()
        self.core.record_outgoing(time.time(), f"sapient-node:{node_id}", "sapient-out", data)
        if self.recorder is not None:
            kind = message.WhichOneof("content")
            self.recorder.audit(
                time.time(), f"sapient.{kind}.sent", {"node_id": node_id, "kind": str(kind)}
            )

    def _record_settings(self, sid: str, section: AsterixSection | AdsbSection) -> None:
        """Keep a feed's site settings with the recording, so replay can rebuild its decoder."""
        if self.recorder is not None:
            self.recorder.set_meta(**{f"settings:{sid}": section.model_dump_json()})

    def _retire(self, sid: str, kind: str) -> None:
        """Drop a closed connection's feed, keeping what it counted and flushing what it held."""
        feed = self.core.remove_feed(sid)
        if feed is None:
            return
        agg = self._retired.setdefault(kind, FeedCounters())
        c = feed.pipe.counters
        agg.decoded += c.decoded
        agg.rejected += c.rejected
        agg.rejected_by_reason.update(c.rejected_by_reason)
        agg.by_kind.update(c.by_kind)

    def node_state(self, node_id: str) -> str:
        """Node state: connected while a connection carries the node, else lost."""
        return "connected" if self.node_connections[node_id] > 0 else "lost"

    # --- Remote ID -----------------------------------------------------------------------------

    async def _start_remoteid(self, listen: str, protocol: str) -> None:
        host, port = parse_hostport(listen)
        stats = self.listeners.setdefault("remoteid", ListenerStats())
        loop = asyncio.get_running_loop()
        if protocol == "udp":
            sid = "remoteid-udp"
            self.core.add_feed(
                sid,
                f"Remote ID (UDP {listen})",
                "remoteid-jsonl",
                RemoteIdPipe(sid, self.core.origin, geoid_undulation_m=self._geoid_m),
                1.0,
            )
            node = self

            class _Datagrams(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                    line = data if data.endswith(b"\n") else data + b"\n"
                    node.core.receive(time.time(), sid, "remoteid-jsonl", line)

            transport, _ = await loop.create_datagram_endpoint(_Datagrams, local_addr=(host, port))
            self._transports.append(transport)
            sock = transport.get_extra_info("sockname")
            stats.address = f"{sock[0]}:{sock[1]}"
            return

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            self._conn_seq += 1
            sid = f"remoteid-{self._conn_seq}"
            pipe = RemoteIdPipe(sid, self.core.origin, geoid_undulation_m=self._geoid_m)
            self.core.add_feed(
                sid, f"Remote ID {writer.get_extra_info('peername')}", "remoteid-jsonl", pipe, 1.0
            )
            try:
                await self._pump(reader, writer, stats, sid, "remoteid-jsonl")
            finally:
                self._retire(sid, "remoteid")
                if task is not None:
                    self._tasks.discard(task)

        server = await asyncio.start_server(handle, host, port)
        self._servers.append(server)
        sock = server.sockets[0].getsockname()
        stats.address = f"{sock[0]}:{sock[1]}"

    # --- ASTERIX ---------------------------------------------------------------------------------

    async def _start_asterix(self, cfg: AsterixSection) -> None:
        host, port = parse_hostport(cfg.listen)
        stats = self.listeners.setdefault("asterix", ListenerStats())
        sid = "asterix-udp"
        pipe = asterix_pipe(cfg, sid, self.core.origin)
        self.core.add_feed(sid, f"ASTERIX (UDP {cfg.listen})", "asterix", pipe, 5.0)
        self._record_settings(sid, cfg)
        node = self

        class _Datagrams(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                node.core.receive(time.time(), sid, "asterix", data)

        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(_Datagrams, local_addr=(host, port))
        self._transports.append(transport)
        sock = transport.get_extra_info("sockname")
        stats.address = f"{sock[0]}:{sock[1]}"

    # --- ADS-B (we are the client) ------------------------------------------------------------

    async def _adsb_client(self, cfg: AdsbSection) -> None:
        """Keep a connection to the ADS-B receiver, reconnecting after a pause when it drops."""
        host, port = parse_hostport(cfg.connect)
        stats = self.listeners.setdefault("adsb", ListenerStats(address=cfg.connect))
        sid = "adsb"
        self.core.add_feed(
            sid, f"ADS-B {cfg.connect}", "adsb", adsb_pipe(cfg, sid, self.core.origin), 5.0
        )
        self._record_settings(sid, cfg)
        while not self.stop_event.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                stats.closed_by_reason[f"connect failed: {exc.strerror or exc}"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), cfg.reconnect_s)
                continue
            await self._pump(reader, writer, stats, sid, "adsb")
            if not self.stop_event.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), cfg.reconnect_s)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stats: ListenerStats,
        sid: str,
        fmt: str,
    ) -> None:
        """Hand a one-way stream's bytes to the core until it closes or the node stops."""
        stats.connections_total += 1
        stats.connections_open += 1
        reason = "closed by peer"
        try:
            while not self.stop_event.is_set():
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                self.core.receive(time.time(), sid, fmt, data)
        except ConnectionError:
            reason = "connection error"
        finally:
            stats.connections_open -= 1
            stats.closed_by_reason[reason] += 1
            writer.close()

    # --- the loop ------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters per feed (accepted, rejected by reason, connections) and the live picture."""
        feeds: dict[str, dict[str, Any]] = {}
        for feed in self.core.feeds.values():
            kind = {"sapient": "sapient", "remoteid-jsonl": "remoteid"}.get(feed.fmt, feed.fmt)
            agg = feeds.setdefault(
                kind, {"accepted": 0, "rejected": 0, "rejected_by_reason": Counter()}
            )
            agg["accepted"] += feed.pipe.counters.decoded
            agg["rejected"] += feed.pipe.counters.rejected
            agg["rejected_by_reason"].update(feed.pipe.counters.rejected_by_reason)
        for kind, retired in self._retired.items():
            agg = feeds.setdefault(
                kind, {"accepted": 0, "rejected": 0, "rejected_by_reason": Counter()}
            )
            agg["accepted"] += retired.decoded
            agg["rejected"] += retired.rejected
            agg["rejected_by_reason"].update(retired.rejected_by_reason)
        for kind, ls in self.listeners.items():
            agg = feeds.setdefault(
                kind, {"accepted": 0, "rejected": 0, "rejected_by_reason": Counter()}
            )
            agg["listening"] = ls.address
            agg["connections"] = {
                "open": ls.connections_open,
                "total": ls.connections_total,
                "closed_by_reason": dict(ls.closed_by_reason),
                "throttled_s": round(ls.throttled_s, 3),
            }
        for agg in feeds.values():
            agg["rejected_by_reason"] = dict(agg["rejected_by_reason"])
        tt = self.core.tracker.tracks
        return {
            "time": iso_utc(time.time()),
            "site": self.core.name,
            "uptime_s": round(time.time() - self.core.start_s, 1),
            "feeds": feeds,
            "sensor_nodes": {
                node_id: {
                    "state": self.node_state(node_id),
                    "registered": n.registered,
                    "node_types": list(n.node_types),
                    "lat": n.lat_deg,
                    "lon": n.lon_deg,
                    "system": n.system,
                    "mode": n.mode,
                    "task_acks": dict(n.task_acks),
                }
                for node_id, n in self.sapient_nodes.items()
            },
            "live_tracks": len(tt),
            "confirmed_tracks": int(tt.confirmed.sum()),
            "alerts_open": len(self.core.alerts.open_alerts),
            "alerts_total": len(self.core.alerts.alerts),
            "internal_errors": dict(self.internal_errors),
            **({"counter": self.core.counter.summary()} if self.core.counter is not None else {}),
        }

    def write_stats(self) -> None:
        """Rewrite the stats file atomically (readers never see half a file)."""
        path = self.config.stats_json
        if path is None:
            return
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(self.stats(), indent=2) + "\n")
        os.replace(tmp, path)

    async def run(self, duration_s: float | None = None) -> None:
        """Serve until SIGTERM/SIGINT (or ``duration_s``), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_event.set)
        if self.config.sapient is not None:
            await self._start_sapient(self.config.sapient)
        if self.config.remoteid is not None:
            await self._start_remoteid(self.config.remoteid.listen, self.config.remoteid.protocol)
        if self.config.asterix is not None:
            await self._start_asterix(self.config.asterix)
        if self.config.adsb is not None:
            task = asyncio.create_task(self._adsb_client(self.config.adsb))
            self._tasks.add(task)
        self.write_stats()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        next_cycle = time.monotonic() + CYCLE_S
        try:
            while not self.stop_event.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), TICK_S)
                self._guarded("process", self.core.process, time.time())
                if time.monotonic() >= next_cycle:
                    next_cycle += CYCLE_S
                    self._guarded("cycle", self.core.cycle)
                    await self._cue()
                    await self._counter()
                    self.write_stats()
                    if self.on_cycle is not None:
                        self.on_cycle(self.core)
        finally:
            await self._shutdown()

    async def _cue(self) -> None:
        """Point the connected cameras that registered LOOK_AT at tracks (``threat.cueing``).

        A camera joins once it has registered and reported where it stands, and leaves when
        its connection closes. A task that cannot be sent is logged; the next cycle tries again.
        """
        if self.cueing is None:
            return
        cams = {c.node_id: c for c in self.cueing.cameras}
        self.cueing.cameras = []
        for node_id, node in self.sapient_nodes.items():
            writer = self._node_writers.get(node_id)
            if not node.look_at or node.lat_deg is None or node.lon_deg is None:
                continue
            if EFFECTOR_NODE_TYPES.intersection(node.node_types):
                continue  # an effector also takes look_at, but only ever for an engagement
            if writer is None or writer.is_closing():
                continue
            enu = self.core.origin.to_enu(
                np.array([node.lat_deg]), np.array([node.lon_deg]), np.array([node.alt_m or 0.0])
            )[0]
            cam = cams.get(node_id) or CuedCamera(node_id, "", (0.0, 0.0, 0.0), math.inf)
            cam.sensor_id = self._node_feed.get(node_id, "")
            cam.enu_m = (float(enu[0]), float(enu[1]), float(enu[2]))
            cam.max_range_m = node.max_range_m
            self.cueing.cameras.append(cam)
        for cam, msg in self.cueing.tasks(time.time(), self.core.views):
            try:
                await self.send_to_node(cam.node_id, msg)
            except (KeyError, ConnectionError, OSError) as exc:
                log.warning("cueing camera %s failed: %s", cam.node_id, exc)

    async def _counter(self) -> None:
        """The counter stage: refresh recommendations and send approved engagements' tasks.

        Effectors are the SAPIENT nodes the site file names; an operator approves through
        ``core.counter.approve`` with a session from :attr:`authority` (the console's job).
        A task that cannot be sent (effector not connected) is logged and audited.
        """
        counter = self.core.counter
        if counter is None:
            return
        counter.rf_detection = any(
            "NODE_TYPE_PASSIVE_RF" in n.node_types for n in self.sapient_nodes.values()
        )
        self._guarded("counter", counter.update, time.time(), self.core.views, self.sapient_nodes)
        for spec, msg in counter.take_tasks():
            try:
                await self.send_to_node(spec.node_id, msg)
            except (KeyError, ConnectionError, OSError) as exc:
                log.warning("tasking effector %s failed: %s", spec.name, exc)
                if self.recorder is not None:
                    self.recorder.audit(
                        time.time(),
                        "counter.task_failed",
                        {"effector": spec.name, "task_id": msg.task.task_id, "error": str(exc)},
                    )

    def _guarded(self, stage: str, fn: Callable[..., object], *args: object) -> None:
        """Run a fusion stage; a defect in it is logged and counted, and the node keeps serving.

        The input that triggered it is already recorded (raw bytes come first), so the fault can
        be replayed and found; dying here would blind the site instead.
        """
        try:
            fn(*args)
        except Exception:
            self.internal_errors[stage] += 1
            log.exception("fusion stage %s failed; the node carries on", stage)

    async def _shutdown(self) -> None:
        self.stop_event.set()
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            # Python 3.12+ waits here for every connection: never let one hang the shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self._guarded("process", self.core.process, time.time())
        self._guarded("cycle", self.core.cycle)
        self.core.finish()
        if self.recorder is not None:
            self.recorder.close()
        self.write_stats()
