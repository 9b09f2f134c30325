"""Overload in the open: the node decodes no more reports than it can keep up with.

Decoding and validating a SAPIENT DetectionReport costs ~28 µs of Python; tracking it ~1 µs. A
node offered more than its capacity (``bench/node_load.py`` measures it) would fall behind
until every batch arrives too late to be applied and its tracks die while every target is still
reported. Instead it sheds on purpose, before decoding:

- a capacity in reports per second is shared max-min fairly among the feeds (water-filling over
  what each offered in the last slow cycle): a quiet sensor keeps all its reports, the busiest
  feeds are cut to the level that fits;
- each feed spends its share through a token bucket on the arrival clock (one second deep, so a
  sensor's short backlog flush still fits), charged for what is decoded; what does not fit is
  shed oldest first — whole scan stamps, never half a scan — so the newest picture of every
  sensor reaches the tracker. The newest scan always passes while the share is above zero (the
  feed goes into debt), so a sensor whose one scan is bigger than its share is slowed, never
  starved;
- every shed report is counted per feed (``FeedCounters.shed``) and shown in ``--stats-json``
  and in the picture's feed health. Registrations, status reports and acks are never shed.

The buckets run on the arrival clock and the shares are recomputed on the node's slow cycles, both
recorded (arrival times, ticks), so replay of an overloaded run sheds the very same scans. Every
shed report's bytes are in the recording all the same.
"""

from __future__ import annotations

import math
from collections import Counter

BURST_S = 1.0  # a feed may spend this many seconds of its share at once


def water_level(offered: list[float], capacity: float) -> float:
    """The max-min fair rate limit: every feed gets what it offered, up to one common level.

    ``inf`` when everything offered fits.
    """
    remaining = capacity
    ordered = sorted(offered)
    for i, o in enumerate(ordered):
        share = remaining / (len(ordered) - i)
        if o > share:
            return share
        remaining -= o
    return math.inf


class LoadShedder:
    """Admits reports per feed within the node's capacity (reports/s), shed fairly."""

    def __init__(self, capacity_per_s: float | None) -> None:
        if capacity_per_s is not None and not (
            math.isfinite(capacity_per_s) and capacity_per_s > 0
        ):
            raise ValueError(f"capacity must be a positive number, got {capacity_per_s!r}")
        self.capacity = capacity_per_s
        self.level = math.inf  # the current per-feed rate limit
        self._offered: Counter[str] = Counter()  # reports offered since the last rebalance
        self._tokens: dict[str, float] = {}
        self._t: dict[str, float] = {}
        self._window_t: float | None = None

    def budget(self, feed: str) -> FeedBudget:
        """The share of one feed, for its decoder (``SapientPipe.budget``)."""
        return FeedBudget(self, feed)

    def available(self, feed: str, n: int, t_s: float) -> int:
        """How many of ``n`` reports of ``feed`` arriving at ``t_s`` fit its share now.

        Nothing is charged here: the decoder charges what it decodes (:meth:`spend`).
        """
        self._offered[feed] += n
        if self.capacity is None:
            return n
        if self._window_t is None:
            self._window_t = t_s
        rate = min(self.level, self.capacity)
        depth = rate * BURST_S
        last = self._t.get(feed)
        if last is None:
            tokens = depth
        else:
            tokens = min(depth, self._tokens[feed] + max(0.0, t_s - last) * rate)
        self._tokens[feed] = tokens
        self._t[feed] = t_s if last is None else max(t_s, last)
        return max(0, min(n, math.floor(tokens)))

    def spend(self, feed: str, n: int) -> None:
        """Charge ``n`` decoded reports to ``feed`` (the share may go below zero: a debt)."""
        if self.capacity is not None and feed in self._tokens:
            self._tokens[feed] -= n

    def rebalance(self, t_s: float) -> None:
        """Share the capacity anew from what each feed offered since the last call."""
        if self.capacity is None:
            self._offered.clear()
            return
        if self._window_t is None:
            self._window_t = t_s
            return
        span = t_s - self._window_t
        if span <= 0:
            return
        rates = [n / span for n in self._offered.values()]
        self.level = water_level(rates, self.capacity) if rates else math.inf
        self._offered.clear()
        self._window_t = t_s

    def forget(self, feed: str) -> None:
        """Drop a closed feed's bucket (a node up for weeks sees thousands of connections)."""
        self._tokens.pop(feed, None)
        self._t.pop(feed, None)
        self._offered.pop(feed, None)


class FeedBudget:
    """One feed's view of the shedder: what fits now, and the charge for what was decoded."""

    def __init__(self, shedder: LoadShedder, feed: str) -> None:
        self.shedder = shedder
        self.feed = feed

    def available(self, n: int, t_s: float) -> int:
        """How many of ``n`` reports arriving at ``t_s`` fit this feed's share now."""
        return self.shedder.available(self.feed, n, t_s)

    def spend(self, n: int) -> None:
        """Charge ``n`` decoded reports."""
        self.shedder.spend(self.feed, n)
