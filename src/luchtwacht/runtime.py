"""The live node: sockets in, air picture out, on the wall clock (``luchtwacht run``).

One asyncio loop serves every feed of a site (``luchtwacht.site``):

- a SAPIENT server (TCP) for any number of sensor nodes. Each connection gets its own
  :class:`~luchtwacht.ingest.sapient.SapientPipe`, but all of them share what they know per
  node. A node that reconnects therefore resumes without registering again. When its last
  connection drops, the node's state goes to "lost".
- a Remote ID receiver feed (JSON lines over UDP or TCP).

The flow itself is the node core's (``luchtwacht.node``), the same as the demo's and replay's:
this module only plugs sockets into its ports. Bytes are handed to
:meth:`~luchtwacht.node.core.NodeCore.receive` as they arrive; each SAPIENT connection is the
:class:`TcpNodeLink` to the nodes that registered on it, so cueing and the counter stage task
cameras and effectors through it; :meth:`~luchtwacht.node.core.NodeCore.tick` runs every 0.1 s
of the node's :class:`~luchtwacht.node.clock.Clock` (the wall in the field, a manual clock in
tests), and the stats file is rewritten on each slow cycle.

Each connection is guarded on its own, so one misbehaving sensor never holds up the others:
- a frame with an absurd length prefix cuts that connection off (the stream is out of step), and
  so do ``max_rejects_in_a_row`` invalid messages without a valid one between them;
- a connection stuck mid-frame for ``stall_timeout_s``, or silent for ``idle_timeout_s``, is
  closed;
- a sender above ``max_bytes_per_s`` is throttled: the node stops reading from it, and TCP
  back-pressure slows the sender down. Nothing it already sent is dropped;
- what the node sends a connection waits in a bounded queue written by its own task with a
  timeout: a peer that does not read is cut off, and never holds up the loop.

SIGTERM or SIGINT ends the run cleanly: the node closes its listeners and connections, flushes
and records what it already holds, writes the stats file and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import signal
import socket
import ssl
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luchtwacht.counter.authority import Authority, load_accounts
from luchtwacht.fusion import FusionCore, iso_utc
from luchtwacht.hostport import parse_hostport
from luchtwacht.ingest.capture_feed import CaptureFeed
from luchtwacht.ingest.feed import FeedCounters
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID, SapientMessage, SapientPipe
from luchtwacht.node.clock import Clock, WallClock
from luchtwacht.node.core import NodeCore, Schedule
from luchtwacht.node.ports import LinkError, Subscription
from luchtwacht.publish.base import PublishContext
from luchtwacht.publish.config import PublishConfigError, Publishers, build_publishers
from luchtwacht.site import (
    AdsbSection,
    Allowlist,
    AsterixSection,
    RemoteIdCaptureSection,
    SapientSection,
    SiteConfig,
    SiteConfigError,
    adsb_pipe,
    asterix_pipe,
)
from luchtwacht.store.factory import StoreConfigError, open_store
from luchtwacht.transport.listen import Prebound

if TYPE_CHECKING:
    from luchtwacht.console.server import ConsoleServer

log = logging.getLogger(__name__)

READ_CHUNK = 65_536
FRAMING_REASON = "frame.length: exceeds maximum"
MAX_QUEUED_BYTES = 1 << 20  # what may wait to be written to one connection
WRITE_TIMEOUT_S = 5.0  # a peer that reads nothing for this long is cut off
STATS_IDLE_EVERY_S = 1.0  # how often the stats file is rewritten while no cycle runs
SEND_BUFFER_BYTES = 64 * 1024  # the kernel's send buffer per SAPIENT connection
MAX_STREAM_CONNECTIONS = 64  # Remote ID TCP connections open at once
GC_GEN0 = 20_000  # allocations between young collections (CPython's default is 700)


@dataclass(slots=True)
class ListenerStats:
    """Counters of one listener (all its connections together)."""

    address: str = ""
    connections_total: int = 0
    connections_open: int = 0
    closed_by_reason: Counter[str] = field(default_factory=Counter)
    throttled_s: float = 0.0
    refused_sources: int = 0  # datagrams or connections from addresses not on the allowlist


class TcpNodeLink:
    """The way out to the SAPIENT node(s) on one TCP connection (a :class:`NodeLink`).

    :meth:`send` only queues (bounded by ``max_queued_bytes``) and never blocks the loop; the
    connection's own writer task writes with a timeout. A peer that stops reading fills its
    queue: further messages are refused (:class:`LinkError`, counted), and once a write waits
    ``write_timeout_s`` the connection is cut off.
    """

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        write_timeout_s: float = WRITE_TIMEOUT_S,
    ) -> None:
        self.writer = writer
        self.max_queued_bytes = max_queued_bytes
        self.write_timeout_s = write_timeout_s
        self.queued_bytes = 0
        self.refused = 0
        self.closed_reason = ""
        self._queue: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._full_since: float | None = None  # when the queue was first found full (wall)
        sock = writer.get_extra_info("socket")
        if sock is not None:  # the kernel's share bounded too: a silent peer shows in seconds
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    @property
    def closed(self) -> bool:
        """Whether the link has given up on its peer."""
        return bool(self.closed_reason) or self.writer.is_closing()

    def send(self, t_s: float, data: bytes) -> None:
        """Queue framed bytes for the peer; :class:`LinkError` when closed or full."""
        if self.closed:
            raise LinkError("connection closed")
        if self.queued_bytes + len(data) > self.max_queued_bytes:
            self.refused += 1
            now = time.monotonic()
            if self._full_since is None:
                self._full_since = now
            elif now - self._full_since > self.write_timeout_s:
                self.close("peer not reading")  # full for a whole write timeout
            raise LinkError("peer is not reading: send queue full")
        if not self._queue:
            self._full_since = None
        self._queue.append(data)
        self.queued_bytes += len(data)
        self._ready.set()

    async def pump(self) -> None:
        """Write the queue out until the link closes; cut the peer off on a write timeout."""
        while not self.closed:
            await self._ready.wait()
            self._ready.clear()
            while self._queue and not self.closed:
                data = self._queue.popleft()
                self.queued_bytes -= len(data)
                self.writer.write(data)
                try:
                    await asyncio.wait_for(self.writer.drain(), self.write_timeout_s)
                except TimeoutError:
                    self.close("peer not reading")
                except (ConnectionError, OSError):
                    self.close("connection error")

    def close(self, reason: str) -> None:
        """Give up on the peer (the reader loop sees :attr:`closed` and ends the connection)."""
        if not self.closed_reason:
            self.closed_reason = reason
        self._queue.clear()
        self.queued_bytes = 0
        self._ready.set()
        transport = self.writer.transport
        if reason == "peer not reading":
            transport.abort()  # a closing handshake would wait on the same full buffer


class LiveNode:
    """A Luchtwacht node serving a site's feeds until it is stopped."""

    def __init__(
        self,
        config: SiteConfig,
        on_cycle: Callable[[FusionCore], None] | None = None,
        clock: Clock | None = None,
        schedule: Schedule | None = None,
        prebound: Prebound | None = None,
    ) -> None:
        self.config = config
        self._prebound = prebound or Prebound()  # listeners bound before the node loaded
        self.clock: Clock = clock if clock is not None else WallClock()
        # Writes go to a worker thread: a slow disk or database must never hold up the loop. The
        # site's store section picks SQLite (the record file) or PostgreSQL, and the signing key.
        try:
            self.recorder = open_store(
                config.store, config.record, origin=config.origin, label=config.site.name
            )
        except StoreConfigError as exc:
            raise SiteConfigError(str(exc)) from None
        audit = self.recorder.audit if self.recorder is not None else None
        # Human authority: the operators who may log in, and what their roles allow.
        accounts = load_accounts(config.operators) if config.operators is not None else []
        self.authority = Authority(accounts, audit=audit)
        sapient = config.sapient
        self.core = NodeCore(
            config.site.name,
            config.origin,
            config.zone_models(),
            self.clock.now(),
            self.recorder,
            schedule=schedule,
            fusion_node_id=sapient.fusion_node_id
            if sapient is not None
            else DEFAULT_FUSION_NODE_ID,
            effectors=[e.spec(config.origin) for e in config.effectors] if sapient else [],
            no_fire=config.no_fire_models(),
            authority=self.authority,
            capacity_per_s=sapient.max_reports_per_s if sapient is not None else None,
            two_person=config.approval.two_person,
            confirm_window_s=config.approval.confirm_window_s,
            reaction_s=config.approval.reaction_s,
        )
        self.core.authorise(config.authorisations())
        self.on_cycle = on_cycle
        self.stop_event = asyncio.Event()
        self.sapient_nodes = self.core.sapient_registry
        self.listeners: dict[str, ListenerStats] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._conn_seq = 0
        # Counters of connections that have closed, per listener kind: their feeds are dropped
        # from the core (a node up for weeks sees thousands of reconnects) but still counted.
        self._retired: dict[str, FeedCounters] = {}
        self._retired_drops: dict[str, Counter[str]] = {}  # late, future, failed per kind
        self._geoid_m = config.site.geoid_undulation_m
        self.overruns = 0  # ticks that came late because the previous one ran long
        self._stats_written = -math.inf  # time.monotonic() of the last stats file
        self._tls = self._tls_context()
        self._client_ids = config.sapient_client_ids()
        self._sapient_allow = Allowlist(config.sapient.allow if config.sapient else None)
        self.tls_failures = 0  # TLS handshakes that failed (no or a wrong certificate, garbage)
        self.console: ConsoleServer | None = None  # the operator console, once started
        ctx = PublishContext(
            config.site.name, config.origin, config.zone_models(), self.core.fusion_node_id
        )
        try:  # CoT, SAPIENT upward, ASTERIX: each on a thread of its own, started with the node
            self.publishers = Publishers(build_publishers(config.publish, self.core, ctx))
        except PublishConfigError as exc:
            raise SiteConfigError(str(exc)) from None
        self._handshaking = 0  # connections in their TLS handshake now
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

    def _tls_context(self) -> ssl.SSLContext | None:
        """The mutual-TLS server context of the site's TCP feeds, or None without a tls section.

        Raises :class:`SiteConfigError` (one line naming the file) when it cannot be loaded.
        """
        tls = self.config.tls
        if tls is None:
            return None
        from luchtwacht.transport.pki import PkiError, server_context

        try:
            return server_context(tls.cert, tls.key, tls.ca)
        except PkiError as exc:
            raise SiteConfigError(f"tls: {exc}") from None

    def _tls_for(self, transport: str) -> tuple[ssl.SSLContext | None, float | None]:
        """(context, handshake timeout) for a TCP listener speaking ``transport``."""
        if transport != "tls" or self._tls is None or self.config.tls is None:
            return None, None
        return self._tls, self.config.tls.handshake_timeout_s

    @property
    def internal_errors(self) -> Counter[str]:
        """Defects caught in the node's stages, by stage."""
        return self.core.internal_errors

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
            except asyncio.CancelledError:
                if not self.stop_event.is_set():
                    raise
                # Shutting down: the connection is closed; asyncio would log a traceback.
            finally:
                if task is not None:
                    self._tasks.discard(task)

        ctx, handshake_s = self._tls_for(cfg.transport)
        await self._serve_stream(
            "sapient", stats, host, port, handle, ctx, handshake_s,
            self._sapient_allow, cfg.max_connections,
        )  # fmt: skip
        if ctx is None:
            log.warning(
                "SAPIENT on %s over plain TCP: any host that reaches it can speak for any sensor"
                " or effector; use this on a closed lab network only (docs/pki.md sets up TLS)",
                stats.address,
            )
        else:
            log.info("SAPIENT server listening on %s (mutual TLS)", stats.address)

    async def _serve_stream(
        self,
        name: str,
        stats: ListenerStats,
        host: str,
        port: int,
        handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
        ctx: ssl.SSLContext | None,
        handshake_s: float | None,
        allow: Allowlist,
        max_open: int,
    ) -> None:
        """A TCP listener that admits a peer before reading a byte from it, then serves it.

        Nothing is read from a new connection (not even a TLS ClientHello) until its source is on
        the allowlist and the listener is below ``max_open``; then TLS, when configured, is set
        up with a handshake timeout, and a failed handshake is counted and logged in one line.
        """
        loop = asyncio.get_running_loop()
        node = self

        class _Admit(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                transport.pause_reading()  # before any data_received: the peer waits
                task = loop.create_task(
                    node._admit(transport, stats, handle, ctx, handshake_s, allow, max_open)
                )
                node._tasks.add(task)
                task.add_done_callback(node._tasks.discard)

        sock = self._prebound.take(name)
        if sock is not None:
            server = await loop.create_server(_Admit, sock=sock)
        else:
            server = await loop.create_server(_Admit, host, port)
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        stats.address = f"{bound[0]}:{bound[1]}"

    async def _admit(
        self,
        transport: asyncio.Transport,
        stats: ListenerStats,
        handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any],
        ctx: ssl.SSLContext | None,
        handshake_s: float | None,
        allow: Allowlist,
        max_open: int,
    ) -> None:
        """Check a new connection's source and the listener's load, do TLS, then serve it."""
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) else ""
        refusal = None
        if not allow.allows(host):
            stats.refused_sources += 1
            refusal = "source not allowed"
        elif stats.connections_open + self._handshaking >= max_open:
            refusal = "too many connections"
        if refusal is not None:
            stats.closed_by_reason[refusal] += 1
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_CHUNK, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        if ctx is not None:
            self._handshaking += 1
            try:
                tls = await loop.start_tls(
                    transport, protocol, ctx, server_side=True, ssl_handshake_timeout=handshake_s
                )
            except (OSError, TimeoutError) as exc:  # ssl.SSLError and ConnectionError are OSErrors
                self.tls_failures += 1
                stats.closed_by_reason["tls handshake failed"] += 1
                if self.tls_failures <= 20 or self.tls_failures % 1000 == 0:
                    why = getattr(exc, "reason", None) or type(exc).__name__
                    log.warning(
                        "TLS handshake with %s failed (%d so far): %s", host, self.tls_failures, why
                    )
                transport.abort()
                return
            finally:
                self._handshaking -= 1
            if tls is None:
                transport.abort()
                return
            transport = tls
        else:
            transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if ctx is None:
            transport.resume_reading()
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        await handle(reader, writer)

    async def _sapient_connection(
        self,
        cfg: SapientSection,
        stats: ListenerStats,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        refusal = None
        peer_name: str | None = None
        if cfg.transport == "tls":
            from luchtwacht.transport.pki import peer_common_name

            peer_name = peer_common_name(writer.get_extra_info("ssl_object"))
            if peer_name is None or peer_name not in self._client_ids:
                refusal = "certificate not listed in sapient.clients"
        if refusal is not None:
            stats.closed_by_reason[refusal] += 1
            writer.transport.abort()
            return
        self._conn_seq += 1
        peer = writer.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if peer_name is not None:
            peer_text = f"{peer_name} at {peer_text}"
        sid = f"sapient-{self._conn_seq}"
        pipe = SapientPipe(
            sid,
            self.core.origin,
            cfg.fusion_node_id,
            geoid_undulation_m=self.config.site.geoid_undulation_m,
            magnetic_declination_deg=self.config.site.magnetic_declination_deg,
        )
        pipe.max_nodes = cfg.max_nodes
        self.core.add_feed(sid, f"SAPIENT {peer_text}", "sapient", pipe, 10.0)
        if peer_name is not None:
            self.core.allow(sid, self._client_ids[peer_name], peer_name)
        link = TcpNodeLink(writer, cfg.max_queued_bytes, cfg.write_timeout_s)
        self.core.attach(sid, link)
        pump = asyncio.create_task(link.pump())
        stats.connections_total += 1
        stats.connections_open += 1
        bucket_t, bucket_bytes = time.monotonic(), 0.0
        rejects_in_a_row = 0
        reason = "closed by peer"
        try:
            while not self.stop_event.is_set() and not link.closed:
                stalled = pipe.reader.pending_bytes > 0
                timeout = cfg.stall_timeout_s if stalled else cfg.idle_timeout_s
                try:
                    data = await asyncio.wait_for(reader.read(READ_CHUNK), timeout)
                except TimeoutError:
                    reason = "stalled mid-frame" if stalled else "idle"
                    break
                if not data:
                    break
                # Token bucket on the wall (it guards the socket, not the picture): over the
                # rate, wait before reading on, and TCP back-pressure slows this peer down.
                now = time.monotonic()
                bucket_bytes = max(0.0, bucket_bytes - (now - bucket_t) * cfg.max_bytes_per_s)
                bucket_t = now
                bucket_bytes += len(data)
                excess_s = bucket_bytes / cfg.max_bytes_per_s - 1.0
                before = pipe.counters.rejected_by_reason[FRAMING_REASON]
                accepted_before, rejected_before = pipe.counters.decoded, pipe.counters.rejected
                self.core.receive(self.clock.now(), sid, "sapient", data)
                if pipe.counters.decoded > accepted_before:
                    rejects_in_a_row = 0
                rejects_in_a_row += pipe.counters.rejected - rejected_before
                if pipe.counters.rejected_by_reason[FRAMING_REASON] > before:
                    reason = "absurd frame length"
                    break
                if rejects_in_a_row >= cfg.max_rejects_in_a_row:
                    reason = "only invalid messages"
                    break
                if excess_s > 0:
                    stats.throttled_s += excess_s
                    await asyncio.sleep(excess_s)
                else:
                    # Buffered data returns without suspending: yield, so a flood on one
                    # connection never starves the loop's ticks, the writers or other sensors.
                    await asyncio.sleep(0)
        except (ConnectionError, asyncio.IncompleteReadError):
            reason = "connection error"
        finally:
            if link.closed_reason:  # the link gave up on the peer (it stopped reading)
                reason = link.closed_reason
            stats.connections_open -= 1
            stats.closed_by_reason[reason] += 1
            link.close(reason)
            pump.cancel()
            writer.close()
            self._retire(sid, "sapient")
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(pump, return_exceptions=True), 1.0)
            with contextlib.suppress(ConnectionError, OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            if reason not in ("closed by peer",):
                log.warning("SAPIENT %s (%s) cut off: %s", sid, peer_text, reason)

    def send_to_node(self, node_id: str, message: SapientMessage) -> None:
        """Send a message (a Task, typically) to a connected sensor or effector node.

        Queued on the node's connection (never blocking the loop), stamped and addressed from
        this fusion node, recorded and audited (``NodeCore.send_to_node``); the node's TaskAck
        comes back on its connection. Raises :class:`LinkError` when the node is not connected.
        """
        self.core.send_to_node(self.clock.now(), node_id, message)

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
        agg.shed += c.shed
        drops = self._retired_drops.setdefault(kind, Counter())
        drops.update(late=feed.late, future=feed.future, failed=feed.failed)

    def node_state(self, node_id: str) -> str:
        """Node state: connected while a connection carries the node, else lost."""
        return "connected" if self.core.connected(node_id) else "lost"

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
            allow = Allowlist(self.config.remoteid.allow if self.config.remoteid else None)

            class _Datagrams(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                    if not allow.allows(str(addr[0])):
                        stats.refused_sources += 1  # counted, never decoded nor recorded
                        return
                    line = data if data.endswith(b"\n") else data + b"\n"
                    node.core.receive(node.clock.now(), sid, "remoteid-jsonl", line)

            bound = self._prebound.take("remoteid")
            if bound is not None:
                transport, _ = await loop.create_datagram_endpoint(_Datagrams, sock=bound)
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    _Datagrams, local_addr=(host, port)
                )
            self._transports.append(transport)
            sock = transport.get_extra_info("sockname")
            stats.address = f"{sock[0]}:{sock[1]}"
            return

        allow_tcp = Allowlist(self.config.remoteid.allow if self.config.remoteid else None)

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
            except asyncio.CancelledError:
                if not self.stop_event.is_set():
                    raise
            finally:
                self._retire(sid, "remoteid")
                if task is not None:
                    self._tasks.discard(task)

        ctx, handshake_s = self._tls_for("tls")
        await self._serve_stream(
            "remoteid", stats, host, port, handle, ctx, handshake_s,
            allow_tcp, MAX_STREAM_CONNECTIONS,
        )  # fmt: skip

    # --- ASTERIX ---------------------------------------------------------------------------------

    async def _start_asterix(self, cfg: AsterixSection) -> None:
        host, port = parse_hostport(cfg.listen)
        stats = self.listeners.setdefault("asterix", ListenerStats())
        sid = "asterix-udp"
        pipe = asterix_pipe(cfg, sid, self.core.origin)
        self.core.add_feed(sid, f"ASTERIX (UDP {cfg.listen})", "asterix", pipe, 5.0)
        self._record_settings(sid, cfg)
        node = self
        allow = Allowlist(cfg.allow)

        class _Datagrams(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
                if not allow.allows(str(addr[0])):
                    stats.refused_sources += 1
                    return
                node.core.receive(node.clock.now(), sid, "asterix", data)

        loop = asyncio.get_running_loop()
        bound = self._prebound.take("asterix")
        if bound is not None:
            transport, _ = await loop.create_datagram_endpoint(_Datagrams, sock=bound)
        else:
            transport, _ = await loop.create_datagram_endpoint(_Datagrams, local_addr=(host, port))
        self._transports.append(transport)
        sock = transport.get_extra_info("sockname")
        stats.address = f"{sock[0]}:{sock[1]}"

    def _start_capture(self, cfg: RemoteIdCaptureSection) -> None:
        """Remote ID from a pcap/pcapng stream (``ingest.capture_feed``), as JSON lines."""
        sid = "remoteid-capture"
        pipe = RemoteIdPipe(sid, self.core.origin, geoid_undulation_m=self._geoid_m)
        self.core.add_feed(sid, f"Remote ID capture {cfg.source}", "remoteid-jsonl", pipe, 1.0)
        stats = self.listeners.setdefault("remoteid-capture", ListenerStats(address=cfg.source))
        stats.connections_total = stats.connections_open = 1

        def ended(reason: str) -> None:
            stats.connections_open = 0
            stats.closed_by_reason[reason] += 1

        feed = CaptureFeed(
            cfg.source,
            cfg.receiver,
            lambda line: self.core.receive(self.clock.now(), sid, "remoteid-jsonl", line),
            pipe.counters.reject,
            ended,
            self.clock.now,
        )
        task = feed.start(self.stop_event)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
        failing = ""  # the last connect failure logged, so a receiver that stays down logs once
        while not self.stop_event.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                reason = f"connect failed: {exc.strerror or exc}"
                stats.closed_by_reason[reason] += 1
                if reason != failing:
                    log.warning(
                        "ADS-B receiver %s: %s; retrying every %.0f s",
                        cfg.connect, reason, cfg.reconnect_s,
                    )  # fmt: skip
                    failing = reason
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), cfg.reconnect_s)
                continue
            log.info("ADS-B receiver %s: connected", cfg.connect)
            failing = ""
            await self._pump(reader, writer, stats, sid, "adsb")
            if not self.stop_event.is_set():
                log.warning("ADS-B receiver %s: connection closed; reconnecting", cfg.connect)
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
                self.core.receive(self.clock.now(), sid, fmt, data)
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

        def entry(kind: str) -> dict[str, Any]:
            return feeds.setdefault(
                kind,
                {
                    "accepted": 0,
                    "rejected": 0,
                    "rejected_by_reason": Counter(),
                    # Valid data not used, by why: over capacity (reports), too old, stamped
                    # ahead, or failing in the tracker (batches). Never silently lost.
                    "shed": 0,
                    "late": 0,
                    "future": 0,
                    "failed": 0,
                },
            )

        for feed in self.core.feeds.values():
            kind = {"sapient": "sapient", "remoteid-jsonl": "remoteid"}.get(feed.fmt, feed.fmt)
            agg = entry(kind)
            agg["accepted"] += feed.pipe.counters.decoded
            agg["rejected"] += feed.pipe.counters.rejected
            agg["rejected_by_reason"].update(feed.pipe.counters.rejected_by_reason)
            agg["shed"] += feed.pipe.counters.shed
            agg["late"] += feed.late
            agg["future"] += feed.future
            agg["failed"] += feed.failed
        for kind, retired in self._retired.items():
            agg = entry(kind)
            agg["accepted"] += retired.decoded
            agg["rejected"] += retired.rejected
            agg["rejected_by_reason"].update(retired.rejected_by_reason)
            agg["shed"] += retired.shed
            for key, n in self._retired_drops.get(kind, Counter()).items():
                agg[key] += n
        for kind, ls in self.listeners.items():
            agg = entry(kind)
            agg["listening"] = ls.address
            agg["connections"] = {
                "open": ls.connections_open,
                "total": ls.connections_total,
                "closed_by_reason": dict(ls.closed_by_reason),
                "throttled_s": round(ls.throttled_s, 3),
                "refused_sources": ls.refused_sources,
            }
        for agg in feeds.values():
            agg["rejected_by_reason"] = dict(agg["rejected_by_reason"])
        tt = self.core.tracker.tracks
        return {
            "time": iso_utc(self.clock.now()),
            "site": self.core.name,
            "uptime_s": round(self.clock.now() - self.core.start_s, 1),
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
            "late_batches": self.core.late_batches,
            "future_batches": self.core.future_batches,
            "tasks_failed": self.core.tasks_failed,
            "bind_refused": self.core.bind_refused,
            "rows_refused": dict(self.core.tracker.rows_refused),
            "batches_refused": dict(self.core.tracker.batches_refused),
            "tracks_dropped_nonfinite": self.core.tracker.tracks_dropped_nonfinite,
            "nodes_forgotten": self.core.nodes_forgotten,
            "tls_failures": self.tls_failures,
            **(
                {"console": {"url": self.console.url, **self.console.console.stats()}}
                if self.console is not None
                else {}
            ),
            "overruns": self.overruns,
            **({"publishers": self.publishers.stats()} if self.publishers.publishers else {}),
            **({"store": self.recorder.stats()} if self.recorder is not None else {}),
            "subscribers": {
                s.name: {"offered": s.offered, "lost": s.lost}
                for s in self.core.subscribers
                if isinstance(s, Subscription)
            },
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
        self._stats_written = time.monotonic()

    async def run(self, duration_s: float | None = None) -> None:
        """Serve until SIGTERM/SIGINT (or ``duration_s`` of the clock), then shut down cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_event.set)
        try:
            if self.config.sapient is not None:
                await self._start_sapient(self.config.sapient)
            if self.config.remoteid is not None:
                await self._start_remoteid(
                    self.config.remoteid.listen, self.config.remoteid.protocol
                )
            if self.config.remoteid_capture is not None:
                self._start_capture(self.config.remoteid_capture)
            if self.config.asterix is not None:
                await self._start_asterix(self.config.asterix)
            if self.config.adsb is not None:
                task = asyncio.create_task(self._adsb_client(self.config.adsb))
                self._tasks.add(task)
            self._start_console()
            self.publishers.start()
            self.write_stats()
            # Everything loaded so far (modules, compiled kernels, the site) lives as long as the
            # node: keep it out of the collector's full passes, which would pause the loop for
            # ~0.1 s each; and collect the young generations less often (a picture at 10 Hz
            # makes thousands of short-lived objects a second).
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_GEN0, 20, 20)
            await self._loop(duration_s)
        finally:
            await self._shutdown()

    async def _loop(self, duration_s: float | None) -> None:
        """The node core's ticks on the clock until stopped (one tick per ``tick_s``)."""
        tick = self.core.schedule.tick_s
        start = self.clock.now()
        deadline = None if duration_s is None else start + duration_s
        due = start + tick
        stopping = asyncio.create_task(self.stop_event.wait())
        try:
            while not self.stop_event.is_set():
                if deadline is not None and due > deadline + 1e-9:
                    break
                sleeping = asyncio.create_task(self.clock.sleep_until(due))
                await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not sleeping.done():
                    sleeping.cancel()
                    break
                now = self.clock.now()
                if self.core.tick(now):
                    self.write_stats()
                    if self.on_cycle is not None:
                        self.on_cycle(self.core)
                elif time.monotonic() - self._stats_written >= STATS_IDLE_EVERY_S:
                    # No cycle (no sensor data): publishers, sockets and the console still count,
                    # so the file must not freeze at the last cycle.
                    self.write_stats()
                due += tick
                if due <= self.clock.now():
                    # The tick ran long: the next one runs at once (after the sockets had their
                    # turn), on a grid moved to now, so late ticks never bunch up.
                    self.overruns += 1
                    due = self.clock.now()
        finally:
            stopping.cancel()

    def _start_console(self) -> None:
        """Serve the operator console (REST and WebSocket) on a thread of its own."""
        cfg = self.config.console
        if cfg is None:
            return
        from luchtwacht.console.server import Console, ConsoleServer
        from luchtwacht.transport.listen import bind_tcp

        sock = self._prebound.take("console")
        if sock is None:
            try:
                sock = bind_tcp(*parse_hostport(cfg.listen))
            except OSError as exc:
                log.error(
                    "console: cannot listen on %s (%s); the node runs without it", cfg.listen, exc
                )
                return
        tls = self.config.tls
        cert = (tls.cert, tls.key) if cfg.tls and tls is not None else None
        console = Console(
            self.core,
            self.authority,
            self.clock,
            secure=cert is not None,
            accounts_file=self.config.operators,
            radars=[
                {
                    "name": r.name or f"SAC {r.sac} SIC {r.sic}",
                    "lat_deg": r.lat,
                    "lon_deg": r.lon,
                    "alt_m": r.alt_m,
                }
                for r in (self.config.asterix.radars if self.config.asterix else [])
            ],
            basemap=cfg.basemap,
            recordings_dir=cfg.recordings,
        )
        self.console = ConsoleServer(console, sock, cert)
        self.console.start()
        log.info("operator console on %s", self.console.url)

    async def _shutdown(self) -> None:
        self.stop_event.set()
        if self.console is not None:
            await asyncio.to_thread(self.console.stop)
        self._prebound.close()
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
        self.core.tick(self.clock.now(), final=True)
        # After the final picture: a publisher's peer may still get it (each stops within 5 s).
        await asyncio.to_thread(self.publishers.stop)
        self.core.finish()
        if self.recorder is not None:
            self.recorder.close()
        self.write_stats()
