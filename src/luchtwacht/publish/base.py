"""What every publisher shares: a thread of its own, a bounded subscription, counters, backoff.

A publisher is a subscriber of the node core's picture (``node.ports.Subscription``): the core
offers each :class:`~luchtwacht.model.picture.PictureUpdate` without blocking, and the publisher's
thread takes them, encodes them and writes them to its peer. A peer that is slow or gone costs the
node nothing: the subscription drops the oldest updates (counted as ``lost``), the publisher
drops what it cannot send (``dropped``) and reconnects with backoff (``reconnects``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.model.zone import Zone
from luchtwacht.node.ports import Subscription

log = logging.getLogger(__name__)

ERROR_LOG_EVERY_S = 10.0  # the same publisher's defects are logged at most this often


@dataclass(frozen=True)
class PublishContext:
    """What a publisher knows of the node beyond the picture: where it is and what it guards."""

    site: str
    origin: SiteOrigin
    zones: tuple[Zone, ...] = ()
    fusion_node_id: str = ""  # the node's SAPIENT node id (a UUID)


class Backoff:
    """Reconnect delays: doubling from ``first_s`` to ``max_s``, with +-``jitter`` spread.

    The jitter keeps many nodes that lost one server from all coming back in the same instant.
    """

    def __init__(
        self,
        first_s: float = 0.5,
        max_s: float = 30.0,
        jitter: float = 0.2,
        seed: int | None = None,
    ) -> None:
        if not 0 < first_s <= max_s:
            raise ValueError("backoff needs 0 < first_s <= max_s")
        self.first_s = first_s
        self.max_s = max_s
        self.jitter = jitter
        self._next = first_s
        self._rng = random.Random(seed)

    def next_delay(self) -> float:
        """The wait before the next attempt; each call doubles the following one (up to max)."""
        base = self._next
        self._next = min(self._next * 2.0, self.max_s)
        return base * (1.0 + self._rng.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        """A connection worked: the next failure starts from ``first_s`` again."""
        self._next = self.first_s


class TrackRateLimiter:
    """At most one message per key (track, pilot, zone) every ``min_interval_s`` of picture time.

    ``force`` sends at once (a new track, a changed class or threat). Keys of dropped tracks are
    forgotten; at most ``max_keys`` are kept (the oldest go first), so the table stays bounded.
    """

    def __init__(self, min_interval_s: float, max_keys: int = 20_000) -> None:
        if min_interval_s < 0:
            raise ValueError("min_interval_s must be >= 0")
        self.min_interval_s = min_interval_s
        self.max_keys = max_keys
        self._last: dict[Hashable, float] = {}

    def due(self, key: Hashable, t_s: float, *, force: bool = False) -> bool:
        """Whether a message for ``key`` may go at ``t_s``; if so, it is counted as sent."""
        last = self._last.get(key)
        if not force and last is not None and t_s - last < self.min_interval_s:
            return False
        self._last.pop(key, None)  # re-insert: dict order is the age order
        self._last[key] = t_s
        while len(self._last) > self.max_keys:
            del self._last[next(iter(self._last))]
        return True

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Drop the keys of tracks that ended."""
        for key in keys:
            self._last.pop(key, None)

    def __len__(self) -> int:
        return len(self._last)


@dataclass
class PublisherCounters:
    """What ``--stats-json`` shows per publisher."""

    sent: int = 0  # messages (events, frames, datagrams) handed to the peer
    dropped: int = 0  # messages not sent: no peer, a full send buffer, a write that timed out
    reconnects: int = 0  # connections made again after one was lost
    errors: int = 0  # defects caught in the publisher (logged, the node goes on)
    connected: bool = False
    extra: Counter[str] = field(default_factory=Counter)  # publisher-specific figures


class PublisherThread:
    """Base of the publishers: takes picture updates on a thread and hands each to :meth:`handle`.

    Subclasses implement :meth:`handle` (encode and send one update) and may override
    :meth:`idle` (called at least every ``idle_s`` when no update came: keepalives, reconnects,
    reading the peer) and :meth:`close` (release sockets at stop). A defect in either is caught,
    counted in ``errors`` and logged in one line at most every ``ERROR_LOG_EVERY_S``.
    """

    kind = "publisher"

    def __init__(self, name: str, subscription: Subscription, idle_s: float = 0.2) -> None:
        self.name = name
        self.subscription = subscription
        self.idle_s = idle_s
        self.counters = PublisherCounters()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"publish:{name}", daemon=True)
        self._last_error_log = -float("inf")
        self._errors_unlogged = 0

    # --- for subclasses ---------------------------------------------------------------------

    def handle(self, update: PictureUpdate) -> None:
        """Encode and send one picture update."""
        raise NotImplementedError

    def idle(self) -> None:
        """Housekeeping between updates (no update for ``idle_s``, or after each one)."""

    def close(self) -> None:
        """Release the publisher's sockets; called once, on its thread, at stop."""

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: loops and waits should end."""
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` unless stopped; True if stopped meanwhile."""
        return self._stop.wait(seconds)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the publisher's thread."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop taking updates, close the peer connection and wait for the thread."""
        self._stop.set()
        self.subscription.close()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def stats(self) -> dict[str, object]:
        """Counters for ``--stats-json``: sent, dropped, reconnects, errors, lost updates."""
        c = self.counters
        return {
            "kind": self.kind,
            "connected": c.connected,
            "sent": c.sent,
            "dropped": c.dropped,
            "reconnects": c.reconnects,
            "errors": c.errors,
            "updates_lost": self.subscription.lost,
            # dict() of a Counter is one C-level copy under the GIL: safe while the publisher's
            # thread adds keys (iterating c.extra in Python would not be).
            **dict(c.extra),
        }

    def _guard(self, stage: str, fn: Callable[..., object], *args: object) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a defect must not end the publisher, nor reach the node
            self.counters.errors += 1
            now = time.monotonic()
            if now - self._last_error_log >= ERROR_LOG_EVERY_S:
                more = f" (+{self._errors_unlogged} more)" if self._errors_unlogged else ""
                log.error("publisher %s: %s failed: %s: %s%s", self.name, stage,
                          type(exc).__name__, exc, more)  # fmt: skip
                self._last_error_log = now
                self._errors_unlogged = 0
            else:
                self._errors_unlogged += 1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                update = self.subscription.get(self.idle_s)
                if update is not None and not self._stop.is_set():
                    self._guard("handle", self.handle, update)
                self._guard("idle", self.idle)
        finally:
            self._guard("close", self.close)
            self.counters.connected = False
