"""Swarms: confirmed drone tracks that fly together, grouped into one threat entry per cycle.

Sits after threat assessment in the fusion cycle: it reads each confirmed track's position,
velocity and class, and hands back a swarm id per track (or -1) that the alert manager and the
picture use to show fifty drones as one entry with its members instead of fifty.

Grouping is single-linkage clustering (the "friends of friends" rule, DBSCAN with
``min_samples`` = 1; Ester et al., KDD 1996) over a graph whose edges join two tracks that are
within ``link_m`` of each other *and* whose velocities differ by at most ``link_ms``: a crossing
pair is close in position but not in velocity, and is not linked. A component of at least
``min_members`` tracks is a swarm. Hysteresis keeps membership calm: two tracks of the same swarm
stay linked up to ``keep_factor`` × the link distance and speed difference.

Swarm ids are stable across cycles: each new component takes the id of the previous swarm it
shares most members with (a swarm that splits keeps its id on its larger part; the other part
gets a new id). Only the current swarms' memberships are kept, so memory is bounded by the
number of tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
NO_SWARM = -1


@dataclass(frozen=True, slots=True)
class SwarmConfig:
    """How close in position (m) and velocity (m/s) tracks must be to fly together."""

    link_m: float = 60.0  # the swarm scenarios fly 20-25 m apart; two gaps still link
    link_ms: float = 8.0  # a crossing drone is not a member; tracks' velocities are noisy (~3 m/s)
    min_members: int = 3  # two drones side by side are a pair, not a swarm
    keep_factor: float = 1.5  # members of one swarm stay linked up to this × the limits


@dataclass(frozen=True, slots=True)
class Swarm:
    """One swarm at one cycle: its id and the rows (into the arrays given) of its members."""

    swarm_id: int
    rows: I64


def link_components(pos_m: F64, vel_ms: F64, prev: I64, cfg: SwarmConfig) -> tuple[int, I64]:
    """Connected components of the "flies with" graph over rows: (count, label per row).

    ``prev`` holds each row's swarm id at the last cycle (:data:`NO_SWARM` for none): two rows of
    the same previous swarm link within ``keep_factor`` × the limits (hysteresis).
    """
    n = pos_m.shape[0]
    if n == 0:
        return 0, np.empty(0, dtype=np.int64)
    pairs = cKDTree(pos_m).query_pairs(cfg.link_m * cfg.keep_factor, output_type="ndarray")
    if pairs.size:
        i, j = pairs[:, 0], pairs[:, 1]
        d = np.linalg.norm(pos_m[i] - pos_m[j], axis=1)
        dv = np.linalg.norm(vel_ms[i] - vel_ms[j], axis=1)
        same = (prev[i] == prev[j]) & (prev[i] != NO_SWARM)
        scale = np.where(same, cfg.keep_factor, 1.0)
        ok = (d <= cfg.link_m * scale) & (dv <= cfg.link_ms * scale)
        i, j = i[ok], j[ok]
    else:
        i = j = np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    return int(count), labels.astype(np.int64)


class SwarmTracker:
    """Groups tracks into swarms each cycle and keeps the swarms' ids stable by member overlap."""

    def __init__(self, config: SwarmConfig | None = None) -> None:
        self.config = config or SwarmConfig()
        # The members at the last cycle: their track ids (sorted) and their swarms' ids.
        self._ids: I64 = np.empty(0, dtype=np.int64)
        self._sids: I64 = np.empty(0, dtype=np.int64)
        self._next_id = 1

    def update(self, track_ids: I64, pos_m: F64, vel_ms: F64, eligible: NDArray[np.bool_]) -> I64:
        """The swarm id of every row (:data:`NO_SWARM` for none) at this cycle.

        ``eligible`` marks the rows that may be members (drones that are neither ours nor
        authorised): a flock of birds, however tight, is no drone swarm.
        """
        cfg = self.config
        out = np.full(track_ids.shape[0], NO_SWARM, dtype=np.int64)
        rows = np.flatnonzero(eligible)
        tids = track_ids[rows]
        # Each row's swarm at the last cycle, looked up in the sorted member ids (vectorised).
        prev = np.full(rows.size, NO_SWARM, dtype=np.int64)
        if self._ids.size and rows.size:
            k = np.minimum(np.searchsorted(self._ids, tids), self._ids.size - 1)
            hit = self._ids[k] == tids
            prev[hit] = self._sids[k[hit]]
        count, labels = link_components(pos_m[rows], vel_ms[rows], prev, cfg)
        sizes = np.bincount(labels, minlength=count) if count else np.empty(0, dtype=np.int64)
        big = sizes >= cfg.min_members
        # Overlap of every (new component, old swarm) pair, largest first: greedy assignment.
        sel = big[labels] & (prev != NO_SWARM) if rows.size else np.zeros(0, dtype=bool)
        pairs, counts = np.unique(
            np.column_stack([labels[sel], prev[sel]]).reshape(-1, 2), axis=0, return_counts=True
        )
        order = np.lexsort((pairs[:, 1], -counts)) if counts.size else np.empty(0, np.int64)
        label_sid = np.full(count, NO_SWARM, dtype=np.int64)
        taken: set[int] = set()
        for c, sid in pairs[order].tolist():
            if label_sid[c] == NO_SWARM and sid not in taken:
                label_sid[c] = sid
                taken.add(sid)
        fresh = big & (label_sid == NO_SWARM)
        n_new = int(fresh.sum())
        label_sid[fresh] = np.arange(self._next_id, self._next_id + n_new)
        self._next_id += n_new
        label_sid[~big] = NO_SWARM
        sid_rows = label_sid[labels] if rows.size else np.empty(0, dtype=np.int64)
        out[rows] = sid_rows
        member = sid_rows != NO_SWARM
        order_ids = np.argsort(tids[member], kind="stable")
        self._ids, self._sids = tids[member][order_ids], sid_rows[member][order_ids]
        return out

    def swarms(self, ids: I64) -> list[Swarm]:
        """The swarms in a result of :meth:`update`, by id."""
        found = np.unique(ids[ids != NO_SWARM])
        return [Swarm(int(s), np.flatnonzero(ids == s)) for s in found.tolist()]
