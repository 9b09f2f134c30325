"""The node core's ports: where bytes come in, tasks go out and the picture is handed on.

Each port is a small protocol; what plugs into it decides whether the node is the demo, the
live node or a replay (see ``docs/architecture.md``):

- :class:`ByteSource`: raw feed bytes stamped with their arrival time: simulated sensors on the
  in-process bus, a recording. (Sockets push into :meth:`NodeCore.receive` as bytes arrive.)
- :class:`NodeLink`: framed SAPIENT bytes to one edge node: a simulated node, a TCP connection,
  or nothing at all in a replay (the node's answers are in the recording). Cueing and the
  counter stage reach cameras and effectors only through it.
- :class:`Subscriber`: each cycle's :class:`~luchtwacht.model.picture.PictureUpdate`. Offering
  never blocks: a :class:`Subscription` keeps a bounded queue and, when its reader falls behind,
  loses the oldest updates and counts them. A slow consumer never slows the node.
- The store is the fourth port: ``luchtwacht.store.port.Store``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from luchtwacht.model.picture import PictureUpdate
from luchtwacht.transport.bus import InProcessBus, RawMessage


class LinkError(Exception):
    """A message could not be handed to an edge node (not connected, queue full, closed)."""


class ByteSource(Protocol):
    """Raw bytes from the feeds, in arrival order."""

    def poll(self, until_s: float) -> Iterable[RawMessage]:
        """Everything that has arrived by ``until_s`` (UTC seconds) and not been taken yet."""
        ...


class NodeLink(Protocol):
    """The way to one SAPIENT edge node; its answers come back on its feed."""

    def send(self, t_s: float, data: bytes) -> None:
        """Hand framed SAPIENT bytes on without blocking; :class:`LinkError` if it cannot."""
        ...


class Subscriber(Protocol):
    """Receives the picture; :meth:`offer` must return at once."""

    name: str

    def offer(self, update: PictureUpdate) -> None:
        """Take one update (or drop one, counted) without blocking."""
        ...


class BusSource:
    """The in-process bus as a byte source: what the simulated sensors put on it."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus

    def poll(self, until_s: float) -> list[RawMessage]:
        """Every message on the bus that has arrived by ``until_s``."""
        return self.bus.drain(until_s)


class SimNodeLink:
    """A simulated edge node: it handles the bytes and its answers arrive after its latency.

    ``handle(t_rel_s, data)`` is the simulated node's input (scenario seconds); the answers go
    on the bus under the node's feed id at ``t_s + latency_s``, as they would come back over TCP.
    """

    def __init__(
        self,
        bus: InProcessBus,
        sensor_id: str,
        handle: Callable[[float, bytes], list[bytes]],
        latency_s: float,
        epoch_s: float,
    ) -> None:
        self.bus = bus
        self.sensor_id = sensor_id
        self.handle = handle
        self.latency_s = latency_s
        self.epoch_s = epoch_s

    def send(self, t_s: float, data: bytes) -> None:
        """Deliver to the simulated node; queue its answers on the bus."""
        for reply in self.handle(t_s - self.epoch_s, data):
            self.bus.publish(t_s + self.latency_s, self.sensor_id, "sapient", reply)


class ReplayLink:
    """An edge node during a replay: nothing is sent, the node's answers are in the recording."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []

    def send(self, t_s: float, data: bytes) -> None:
        """Keep what the original run would have sent (replay compares it with the record)."""
        self.sent.append((t_s, data))


class Subscription:
    """A bounded queue of picture updates for one consumer (thread-safe, asyncio-friendly).

    When the queue is full the oldest update is dropped and counted in :attr:`lost`: a consumer
    that falls behind sees the newest picture, never a stale one, and never holds the node up.
    """

    def __init__(self, name: str, maxsize: int = 64) -> None:
        if maxsize < 1:
            raise ValueError("a subscription holds at least one update")
        self.name = name
        self.maxsize = maxsize
        self.offered = 0
        self.lost = 0
        self._queue: deque[PictureUpdate] = deque()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.closed = False

    def offer(self, update: PictureUpdate) -> None:
        """Queue an update; drop the oldest (counted) if the reader is behind."""
        with self._lock:
            self.offered += 1
            if len(self._queue) >= self.maxsize:
                self._queue.popleft()
                self.lost += 1
            self._queue.append(update)
            self._ready.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def __len__(self) -> int:
        return len(self._queue)

    def take(self) -> list[PictureUpdate]:
        """Every queued update, oldest first, without waiting."""
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
            return out

    def get(self, timeout_s: float | None = None) -> PictureUpdate | None:
        """The oldest queued update, waiting up to ``timeout_s`` (a consumer thread's read)."""
        with self._lock:
            if not self._queue and not self.closed:
                self._ready.wait(timeout_s)
            return self._queue.popleft() if self._queue else None

    async def next(self) -> PictureUpdate | None:
        """The oldest queued update, waiting on the event loop; None once closed and empty."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        with self._lock:
            self._waiters.append((loop, event))
        try:
            while True:
                with self._lock:
                    if self._queue:
                        return self._queue.popleft()
                    if self.closed:
                        return None
                    event.clear()
                await event.wait()
        finally:
            with self._lock:
                self._waiters.remove((loop, event))

    def close(self) -> None:
        """No more updates will come; readers waiting are woken."""
        with self._lock:
            self.closed = True
            self._ready.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)
