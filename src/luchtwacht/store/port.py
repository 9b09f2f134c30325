"""The Store port: what the node core writes its evidence through.

The core (ingest, tracking, threat, alerts, countermeasure audit) records everything it saw and
decided through this one interface and never learns what sits behind it: a
:class:`~luchtwacht.store.recorder.Recorder` writing SQLite in the caller's thread (tests,
offline runs, replay) or a :class:`~luchtwacht.store.worker.BackgroundStore` that hands every
write to a thread of its own, so a slow disk never slows the node's event loop. The methods are
exactly the Recorder's writers; both satisfy the protocol structurally. Every record written
through the port is hash-chained and every commit signed (:mod:`luchtwacht.store.chain`), in
whatever backend sits behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, TrackView

__all__ = ["Store"]


class Store(Protocol):
    """Writer of one run's recording: raw bytes, decisions, tracks, alerts and the audit chain."""

    path: Path

    def set_meta(self, **items: str) -> None:
        """Run metadata (scenario, seed, version, settings)."""
        ...

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Bytes exactly as received (or sent), for replay through the same decoders."""
        ...

    def rejections(self, t_s: float, sensor_id: str, reasons: Iterable[str]) -> None:
        """Why messages of a sensor were rejected."""
        ...

    def detections(self, batch: DetectionBatch, applied: bool = True) -> None:
        """A decoded detection batch, and whether the tracker used it."""
        ...

    def bearings(self, batch: BearingBatch, applied: bool = True) -> None:
        """A decoded angle-only batch, and whether the tracker used it."""
        ...

    def tracks(self, views: Iterable[TrackView]) -> None:
        """Snapshot of the confirmed tracks at one cycle."""
        ...

    def tick(self, t_s: float) -> None:
        """The node core ran a tick at ``t_s``: replay of a live run ticks at the same instants."""
        ...

    def alert_event(self, t_s: float, event: str, alert: Alert) -> None:
        """An alert was raised, escalated, acknowledged or cleared (also chained into the audit)."""
        ...

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> object:
        """Append an audit record (the Recorder returns its chain hash; nobody needs it)."""
        ...

    def commit(self) -> None:
        """End of a cycle: make what was written so far durable, under a signed commit record."""
        ...

    def close(self) -> None:
        """Commit with the closing record (a run without one was cut off) and close."""
        ...
