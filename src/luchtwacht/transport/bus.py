"""The in-process bus: raw sensor bytes in arrival order, the default transport of one process.

Feeds publish ``RawMessage`` objects stamped with their (simulated or real) arrival time; the
pipeline drains everything that has arrived by a given time. A NATS backend with the same two
methods carries the same messages between processes at scale.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, order=True)
class RawMessage:
    """Bytes from one feed as received: arrival time (UTC s), feed id, wire format, payload."""

    t_rx_s: float
    seq: int
    sensor_id: str = field(compare=False)
    fmt: str = field(compare=False)  # "sapient", "remoteid-jsonl", ...
    payload: bytes = field(compare=False, repr=False)


class InProcessBus:
    """A time-ordered queue of raw messages (ties keep publication order)."""

    def __init__(self) -> None:
        self._heap: list[RawMessage] = []
        self._seq = 0

    def publish(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Queue bytes that arrive at ``t_rx_s``."""
        self._seq += 1
        heapq.heappush(self._heap, RawMessage(t_rx_s, self._seq, sensor_id, fmt, payload))

    def drain(self, until_s: float) -> list[RawMessage]:
        """Remove and return every message that has arrived by ``until_s``, oldest first."""
        out = []
        while self._heap and self._heap[0].t_rx_s <= until_s:
            out.append(heapq.heappop(self._heap))
        return out

    def __len__(self) -> int:
        return len(self._heap)
