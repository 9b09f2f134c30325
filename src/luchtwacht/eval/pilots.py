"""Pilot localisation figures: how far the picture's pilot estimates were from the true pilot.

The evaluation may read the truth: a target's pilot stands where its radio link's controller is
(``RfLink.pilot_m``), else at its Remote ID operator position, else (a link with no stated pilot)
at its take-off point, as the simulator places the controller (``sim.bearing_sensor``). Per
target: the first cycle one of its matched tracks carried a pilot estimate, the median
horizontal miss over the matched cycles that carried one, and the last estimate's source.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.track import TrackView
from luchtwacht.sim.targets import Target, first_position

F64 = NDArray[np.float64]
PILOT_HEIGHT_M = 1.5  # as the simulator holds a controller above the take-off point


class PilotResult(Protocol):
    """What :func:`pilot_summary` reads of a target's result."""

    has_pilot: bool
    pilot_s: float | None
    pilot_err_m: float | None
    pilot_source: str | None


def true_pilot(tgt: Target) -> F64 | None:
    """Where a target's pilot really stands (site ENU m); None: it has none to find."""
    link = tgt.rf_link
    if link is not None and link.pilot_m is not None:
        return np.asarray(link.pilot_m, dtype=float)
    if tgt.remote_id is not None:
        return np.asarray(tgt.remote_id.operator_enu_m, dtype=float)
    if link is not None:
        home = first_position(tgt.path)
        return None if home is None else np.array([home[0], home[1], home[2] + PILOT_HEIGHT_M])
    return None


def pilot_figures(
    tgt: Target, matches: Sequence[tuple[float, TrackView]], origin: SiteOrigin
) -> tuple[float | None, float | None, str | None]:
    """First time a matched track carried a pilot, the median horizontal miss (m), last source."""
    truth = true_pilot(tgt)
    if truth is None:
        return None, None, None
    first_t: float | None = None
    misses: list[float] = []
    source = None
    for t, v in matches:
        if v.pilot_lat_deg is None or v.pilot_lon_deg is None:
            continue
        e, n, _ = origin.to_enu(v.pilot_lat_deg, v.pilot_lon_deg, 0.0).reshape(3).tolist()
        misses.append(math.hypot(e - truth[0], n - truth[1]))
        first_t = t if first_t is None else first_t
        source = v.pilot_source
    return first_t, float(np.median(misses)) if misses else None, source


def pilot_summary(
    targets: Sequence[PilotResult],
    stats: Callable[[Sequence[float | None]], dict[str, float | int | None]],
) -> dict[str, Any]:
    """Figures over the targets that have a pilot; empty when none has (no key in the summary).

    ``pilots`` and ``pilots_located``: how many had one and how many got an estimate;
    ``time_to_pilot_s``: from existence to the first estimate; ``pilot_err_m``: the targets'
    median misses; ``pilot_err_rf_m``: the same where the estimate came from RF bearings.
    """
    piloted = [t for t in targets if t.has_pilot]
    if not piloted:
        return {}
    rf = [t for t in piloted if t.pilot_source and t.pilot_source.startswith("rf")]
    return {
        "pilots": len(piloted),
        "pilots_located": sum(1 for t in piloted if t.pilot_err_m is not None),
        "time_to_pilot_s": stats([t.pilot_s for t in piloted]),
        "pilot_err_m": stats([t.pilot_err_m for t in piloted]),
        "pilot_err_rf_m": stats([t.pilot_err_m for t in rf]),
    }
