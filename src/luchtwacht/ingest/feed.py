"""What every feed decoder ("pipe") shares: its counters and its interface to the pipeline.

A pipe is the stateful half of a wire-format adapter (the pure decode functions are the other):
bytes from one connection or file go in, detection (or bearing) batches come out,
and every rejected message is counted under a reason that names the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from luchtwacht.model.detection import BearingBatch, DetectionBatch

MAX_REASONS = 64  # distinct rejection reasons kept per feed
OTHER_REASONS = "other reasons (the table of reasons is full)"


@dataclass(slots=True)
class FeedCounters:
    """Per-feed counters shown in the console, the summary and ``--stats-json``."""

    decoded: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    shed: int = 0  # valid reports not decoded: the node was over its capacity (oldest first)

    def reject(self, reason: str) -> None:
        """Count a rejection under its reason (past MAX_REASONS distinct ones, under one more).

        Reasons may quote what a sender sent: a hostile one must not grow the table without end.
        """
        self.rejected += 1
        if reason not in self.rejected_by_reason and len(self.rejected_by_reason) >= MAX_REASONS:
            reason = OTHER_REASONS
        self.rejected_by_reason[reason] += 1

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view: accepted, rejected (total and by reason), by message kind."""
        return {
            "accepted": self.decoded,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "by_kind": dict(self.by_kind),
            "shed": self.shed,
        }


class FeedPipe(Protocol):
    """A feed decoder: bytes in, detection batches out, with counters."""

    counters: FeedCounters

    def feed(
        self, data: bytes, t_rx_s: float | None = None
    ) -> Sequence[DetectionBatch | BearingBatch]:
        """Consume bytes that arrived at ``t_rx_s`` (UTC s); return the batches they complete.

        Any chunking is fine. Formats without their own timestamps use the arrival time.
        """
        ...

    def flush(self) -> Sequence[DetectionBatch | BearingBatch]:
        """Emit whatever the pipe still holds back (end of a delivery or of the stream)."""
        ...
