"""The node's only source of time: simulated, wall or manual (tests), behind one protocol.

Nothing in the node core reads ``time.time()``: the live node asks its :class:`Clock`, so a test
can run the live node over real sockets on a :class:`ManualClock` and advance an hour in a
millisecond; the demo and replay step a simulated clock on the tick grid
(``luchtwacht.transport.clock.SimClock`` paces that against the wall when a person watches).
Times are UTC seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Protocol


class Clock(Protocol):
    """Where the node's time comes from."""

    def now(self) -> float:
        """The current time, UTC seconds."""
        ...

    async def sleep_until(self, t_s: float) -> None:
        """Return once :meth:`now` has reached ``t_s``."""
        ...


class WallClock:
    """The real time: the live node in the field."""

    def now(self) -> float:
        """UTC seconds from the system clock."""
        return time.time()

    async def sleep_until(self, t_s: float) -> None:
        """Sleep on the event loop until the wall reaches ``t_s``."""
        delay = t_s - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """A clock that moves only when told to: the live node in a test.

    :meth:`advance` moves time on and wakes every sleeper whose hour has come; nothing waits
    on the wall, so a test of a minute of node time takes as long as the work it does.
    """

    def __init__(self, t0_s: float) -> None:
        if not math.isfinite(t0_s):
            raise ValueError("start time must be finite")
        self._t = float(t0_s)
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        """The time the test last set."""
        return self._t

    async def sleep_until(self, t_s: float) -> None:
        """Wait until a later :meth:`advance` reaches ``t_s``."""
        if t_s <= self._t:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((t_s, fut))
        await fut

    def advance(self, dt_s: float) -> None:
        """Move time on by ``dt_s`` seconds and wake whoever was due."""
        if not dt_s >= 0:
            raise ValueError("time only moves forward")
        self._t += dt_s
        due = [(t, f) for t, f in self._sleepers if t <= self._t + 1e-9]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self._t + 1e-9]
        for _, fut in due:
            if not fut.done():
                fut.set_result(None)
