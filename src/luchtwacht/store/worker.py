"""A Store that writes in a thread of its own, so a slow disk never slows the node's event loop.

The node core writes everything it saw and decided through the :class:`~luchtwacht.store.port.Store`
port. :class:`BackgroundStore` is the implementation the live node uses: each call only puts an
operation on a bounded queue and returns; one worker thread owns the
:class:`~luchtwacht.store.recorder.Recorder` (opened in that thread: SQLite connections are bound
to the thread that made them) and performs the operations in the order they were made, so the
hash chains come out exactly as if the Recorder had been called directly.

When the disk falls so far behind that the queue fills, evidence and metadata (``audit``,
``alert_event``, which chains into the audit, and ``set_meta``) wait for room for a bounded
time; everything else is dropped at once. Nothing is lost silently: drops are counted per kind
(:meth:`BackgroundStore.stats`) and logged, rate-limited. The worker also commits by itself
when writes have been pending for ``commit_every_s``, so a crash loses about that much.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, TrackView
from luchtwacht.store.chain import NodeKey
from luchtwacht.store.port import Store
from luchtwacht.store.recorder import Recorder

__all__ = ["BackgroundStore", "RecorderFactory"]

log = logging.getLogger(__name__)

RecorderFactory = Callable[[Path], Store]
"""Opens the store the worker writes to; called once, inside the worker thread."""

DEFAULT_MAXSIZE = 50_000  # operations held while the disk lags; beyond that, drops (counted)
# Decisions and metadata wait a bounded time for room; everything else (raw bytes, detections,
# tracks, ticks: ten a second) is dropped and counted at once, so a stalled disk or database
# costs the loop at most a rare wait for an alert or a command, never one per tick.
WAITING_KINDS = frozenset({"audit", "alert_event", "set_meta"})
WARN_EVERY_S = 60.0  # after the first, at most one log line per kind this often
CLOSE_TIMEOUT_S = 10.0
_COMMITTING_KINDS = frozenset({"commit", "close", "flush", "auto_commit"})


@dataclasses.dataclass(slots=True)
class _Barrier:
    """Signalled by the worker once a flush's commit has run."""

    event: threading.Event = dataclasses.field(default_factory=threading.Event)
    ok: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class _Op:
    """One write for the worker: the Store method's name and the call that performs it."""

    kind: str
    call: Callable[[Store], object]
    counted: bool = True  # a caller's write (counted in enqueued/written), not internal
    barrier: _Barrier | None = None


def _commit(store: Store) -> None:
    store.commit()


def _close(store: Store) -> None:
    store.close()


_AUTO_COMMIT = _Op("auto_commit", _commit, counted=False)


class BackgroundStore:
    """A :class:`Store` whose calls only enqueue; one worker thread writes them, in order.

    Arguments are snapshotted where they could change or be consumed later (iterables become
    tuples/lists, alerts and audit payloads are copied, payloads become ``bytes``). Detection
    and bearing batches are *not* copied: their numpy arrays are treated as immutable once
    handed over, as everywhere else in the pipeline. Call :meth:`close` at the end; the worker
    is a daemon thread, so a forgotten close loses only the uncommitted tail, like a crash
    (and the recording then has no closing record: ``verify`` reports it cut off).

    ``key`` signs the commits of the default :class:`Recorder` (one is made for the run if
    None); a ``recorder_factory`` is called with the path and opens its store itself.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        maxsize: int = DEFAULT_MAXSIZE,
        put_timeout_s: float = 2.0,
        commit_every_s: float = 1.0,
        recorder_factory: RecorderFactory | None = None,
        key: NodeKey | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1 (the queue is bounded)")
        self.path = Path(path)
        self._put_timeout_s = put_timeout_s
        self._commit_every_s = commit_every_s
        # The signing key goes to the default Recorder; a given factory brings its own.
        self._factory: RecorderFactory = recorder_factory or (lambda p: Recorder(p, key))
        self._q: queue.Queue[_Op] = queue.Queue(maxsize)
        self._lock = threading.Lock()
        self._closed = False
        self._enqueued = 0
        self._written = 0
        self._max_backlog = 0
        self._dropped: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._warned_at: dict[str, float] = {}
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"store:{self.path.name}", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            exc, self._open_error = self._open_error, None
            self._closed = True
            self._thread.join()
            raise exc

    # -- the Store port: each call enqueues one operation and returns ---------------------

    def set_meta(self, **items: str) -> None:
        """Run metadata; waits for room (up to ``put_timeout_s``) when the queue is full."""
        self._put("set_meta", lambda s: s.set_meta(**items))

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Bytes as received; dropped (and counted) when the queue is full."""
        data = bytes(payload)  # the same object for bytes; a copy of a bytearray/memoryview
        self._put("raw", lambda s: s.raw(t_rx_s, sensor_id, fmt, data))

    def rejections(self, t_s: float, sensor_id: str, reasons: Iterable[str]) -> None:
        """Rejection reasons, read now (they may come from a generator)."""
        items = tuple(reasons)
        self._put("rejections", lambda s: s.rejections(t_s, sensor_id, items))

    def detections(self, batch: DetectionBatch, applied: bool = True) -> None:
        """A detection batch (its arrays must not be changed afterwards)."""
        self._put("detections", lambda s: s.detections(batch, applied))

    def bearings(self, batch: BearingBatch, applied: bool = True) -> None:
        """A bearing batch (its arrays must not be changed afterwards)."""
        self._put("bearings", lambda s: s.bearings(batch, applied))

    def tracks(self, views: Iterable[TrackView]) -> None:
        """Track snapshot, read now (views are frozen; the iterable may be a generator)."""
        snapshot = list(views)
        self._put("tracks", lambda s: s.tracks(snapshot))

    def tick(self, t_s: float) -> None:
        """A tick of the node core at ``t_s``."""
        self._put("tick", lambda s: s.tick(t_s))

    def alert_event(self, t_s: float, event: str, alert: Alert) -> None:
        """An alert event; the alert is copied now, as the alert manager mutates it later."""
        frozen = dataclasses.replace(alert)
        self._put("alert_event", lambda s: s.alert_event(t_s, event, frozen))

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> None:
        """An audit record (payload deep-copied now); its hash is computed by the worker."""
        data = copy.deepcopy(payload)
        self._put("audit", lambda s: s.audit(t_s, kind, data))

    def commit(self) -> None:
        """Enqueue a commit (use :meth:`flush` to wait until it is on disk)."""
        self._put("commit", _commit)

    def close(self) -> None:
        """Write everything queued, commit, close the file and stop the worker (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        try:
            self._q.put(_Op("close", _close), timeout=CLOSE_TIMEOUT_S)
        except queue.Full:
            log.error(
                "store %s: not closed: the writer made no room in %.0f s (%d operations waiting)",
                self.path,
                CLOSE_TIMEOUT_S,
                self._q.qsize(),
            )
            return
        with self._lock:
            self._enqueued += 1
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.error(
                "store %s: writer still busy after %.0f s (%d operations waiting); not waiting",
                self.path,
                CLOSE_TIMEOUT_S,
                self._q.qsize(),
            )

    # -- beyond the port -------------------------------------------------------------------

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written and committed; False on timeout."""
        if self._closed:
            raise RuntimeError("store closed")
        deadline = time.monotonic() + timeout_s
        barrier = _Barrier()
        try:
            self._q.put(_Op("flush", _commit, counted=False, barrier=barrier), timeout=timeout_s)
        except queue.Full:
            return False
        return barrier.event.wait(max(0.0, deadline - time.monotonic())) and barrier.ok

    def stats(self) -> dict[str, object]:
        """Counters for health reporting: enqueued, written, dropped, backlog, errors."""
        with self._lock:
            return {
                "enqueued": self._enqueued,
                "written": self._written,
                "dropped": Counter(self._dropped),
                "backlog": self._q.qsize(),
                "max_backlog": self._max_backlog,
                "errors": Counter(self._errors),
            }

    # -- internals -------------------------------------------------------------------------

    def _put(self, kind: str, call: Callable[[Store], object]) -> None:
        """Enqueue without waiting (evidence and metadata wait a bounded time), else drop."""
        if self._closed:
            raise RuntimeError("store closed")
        op = _Op(kind, call)
        try:
            if kind in WAITING_KINDS:
                self._q.put(op, timeout=self._put_timeout_s)
            else:
                self._q.put_nowait(op)
        except queue.Full:
            self._count_drop(kind)
            return
        with self._lock:
            self._enqueued += 1
            self._max_backlog = max(self._max_backlog, self._q.qsize())

    def _count_drop(self, kind: str) -> None:
        with self._lock:
            self._dropped[kind] += 1
            n = self._dropped[kind]
            if not self._should_log(f"drop:{kind}"):
                return
        log.warning(
            "store %s: queue full (%d operations waiting), %s write dropped (%d so far)",
            self.path,
            self._q.qsize(),
            kind,
            n,
        )

    def _should_log(self, key: str) -> bool:
        """The first time per key, then at most every WARN_EVERY_S (call under the lock)."""
        now = time.monotonic()
        last = self._warned_at.get(key)
        if last is not None and now - last < WARN_EVERY_S:
            return False
        self._warned_at[key] = now
        return True

    def _run(self) -> None:
        """The worker: open the store here, then perform operations in order until closed."""
        try:
            store = self._factory(self.path)
        except BaseException as exc:  # handed to the constructor, raised there
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        pending_since: float | None = None  # first write since the last commit
        while True:
            timeout: float | None = None
            if pending_since is not None:
                timeout = pending_since + self._commit_every_s - time.monotonic()
                if timeout <= 0.0:
                    ok = self._execute(store, _AUTO_COMMIT)
                    pending_since = None if ok else time.monotonic()
                    continue
            try:
                op = self._q.get(timeout=timeout)
            except queue.Empty:
                continue
            ok = self._execute(store, op)
            if op.kind in _COMMITTING_KINDS:
                pending_since = None if ok else time.monotonic()  # a failed commit: retry later
            elif pending_since is None:
                pending_since = time.monotonic()
            if op.barrier is not None:
                op.barrier.ok = ok
                op.barrier.event.set()
            if op.kind == "close":
                return

    def _execute(self, store: Store, op: _Op) -> bool:
        """Perform one operation; a failure is counted and logged in one line, not raised."""
        try:
            op.call(store)
        except Exception as exc:
            name = type(exc).__name__
            with self._lock:
                self._errors[name] += 1
                n = self._errors[name]
                if not self._should_log(f"error:{name}"):
                    return False
            log.error("store %s: %s failed: %s: %s (%d so far)", self.path, op.kind, name, exc, n)
            return False
        if op.counted:
            with self._lock:
                self._written += 1
        return True
