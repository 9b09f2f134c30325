"""Match confirmed tracks to simulated truth, cycle by cycle, for timeliness and identity checks.

At each assessment cycle every true target that exists is paired with confirmed tracks: a
pairing of the previous cycle is kept while the track is still within ``max_dist_m`` of the
target (the CLEAR MOT rule, Bernardin & Stiefelhagen 2008, so that targets flying close
together do not trade tracks on every cycle through the matching alone), and the rest are
paired by a global nearest-neighbour assignment on 3D distance (Hungarian algorithm, pairs
beyond ``max_dist_m`` refused). From the pairing follow the standard timeliness figures —
time to first confirmed track, to classification, to alert — and track-identity figures (how
many track ids a target had).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from luchtwacht.model.track import TrackView
from luchtwacht.sim.targets import Target


@dataclass(slots=True)
class TargetHistory:
    """What the air picture said about one true target over a run (times in scenario seconds)."""

    name: str
    first_exists_s: float | None = None
    matches: list[tuple[float, TrackView]] = field(default_factory=list)

    @property
    def track_ids(self) -> list[int]:
        """Distinct track ids that followed this target, in order of first appearance."""
        seen: dict[int, None] = {}
        for _, v in self.matches:
            seen.setdefault(v.track_id, None)
        return list(seen)

    def first_match_s(self) -> float | None:
        """First cycle with a confirmed track on this target."""
        return self.matches[0][0] if self.matches else None

    def first_class_s(self, label: str) -> float | None:
        """First cycle where the matched track carried class ``label``."""
        return next((t for t, v in self.matches if v.object_class == label), None)

    def classes(self) -> set[str]:
        """Every class the matched tracks were given."""
        return {v.object_class for _, v in self.matches}

    def coverage(self, times: Sequence[float]) -> float:
        """Fraction of the given cycle times at which the target was matched."""
        matched = {t for t, _ in self.matches}
        return sum(1 for t in times if t in matched) / max(len(times), 1)


class TruthMatcher:
    """Collects per-cycle pairings; feed it with :meth:`observe` from the pipeline's cycle hook."""

    def __init__(self, targets: Sequence[Target], max_dist_m: float = 60.0) -> None:
        self.targets = list(targets)
        self.max_dist_m = max_dist_m
        self.history = {t.name: TargetHistory(t.name) for t in self.targets}
        self.cycle_times: list[float] = []
        self._last: dict[str, int] = {}  # target name → track id paired at the last cycle

    def observe(self, t_s: float, views: Sequence[TrackView]) -> None:
        """Pair the confirmed tracks of one cycle (scenario time ``t_s``) with the truth."""
        self.cycle_times.append(t_s)
        alive = []
        for tgt in self.targets:
            s = tgt.path.state(t_s)
            if s is None:
                continue
            hist = self.history[tgt.name]
            if hist.first_exists_s is None:
                hist.first_exists_s = t_s
            alive.append((tgt.name, s[0]))
        if not alive or not views:
            self._last = {}
            return
        truth = np.array([p for _, p in alive])
        est = np.array([[v.east_m, v.north_m, v.up_m] for v in views])
        dist = np.linalg.norm(truth[:, None, :] - est[None, :, :], axis=2)
        col_of = {v.track_id: c for c, v in enumerate(views)}
        pairs: dict[int, int] = {}
        for r, (name, _) in enumerate(alive):
            c = col_of.get(self._last.get(name, -1))
            if c is not None and dist[r, c] <= self.max_dist_m and c not in pairs.values():
                pairs[r] = c
        cost = np.where(dist <= self.max_dist_m, dist, 1e9)
        cost[list(pairs), :] = 1e9
        cost[:, list(pairs.values())] = 1e9
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if cost[r, c] < 1e9:
                pairs[r] = c
        self._last = {}
        for r, c in sorted(pairs.items()):
            self.history[alive[r][0]].matches.append((t_s, views[c]))
            self._last[alive[r][0]] = views[c].track_id
