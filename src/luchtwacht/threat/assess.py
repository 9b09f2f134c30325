"""Threat levels per track from class, cooperation and zone geometry (vectorised over tracks).

Levels, highest first: CRITICAL — a non-cooperative drone inside a zone; HIGH — a non-cooperative
drone predicted to breach within the zone's warning time, or a cooperative drone inside; MEDIUM —
a cooperative drone about to breach, an unidentified track inside or about to breach, or a
non-cooperative drone within 2 km; LOW — any other drone or unknown; NONE — birds, aircraft,
clutter, our own airborne assets and drones on the site's whitelist (``identify.authorisation``).

A Remote ID drone that is not authorised counts as cooperative only where the site tolerates
such drones; under the default policy (``cooperative_unlisted: intruder``) the fusion core hands it
over as non-cooperative, and :func:`hostile` says the same for its view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from luchtwacht.identify.classify import UNKNOWN, Classification
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.threat.zones import ZoneGeometry

F64 = NDArray[np.float64]
NEAR_M = 2000.0


@dataclass(frozen=True, slots=True)
class ThreatPicture:
    """Per-track threat: level, zones inside (N, Z), time to breach per zone (N, Z)."""

    level: NDArray[np.int64]
    inside: NDArray[np.bool_]
    ttb_s: F64
    zone_names: tuple[str, ...]

    def zones_inside(self, i: int) -> tuple[str, ...]:
        """Names of the zones row ``i`` is inside."""
        return tuple(z for z, flag in zip(self.zone_names, self.inside[i], strict=True) if flag)

    def min_ttb(self, i: int) -> float | None:
        """Earliest predicted breach (s) of row ``i`` over all zones, or None."""
        row = self.ttb_s[i]
        return None if np.all(np.isnan(row)) else float(np.nanmin(row))


def assess(
    pos_m: F64,
    vel_ms: F64,
    cls: Classification,
    zones: list[ZoneGeometry],
    own: NDArray[np.bool_] | None = None,
) -> ThreatPicture:
    """Threat level of every track given its ENU state, its classification and the zones.

    ``own`` marks tracks that are never a threat: our own airborne assets (an interceptor) and
    drones the site's whitelist authorises (the fusion core passes both).
    """
    n, nz = pos_m.shape[0], len(zones)
    inside = np.zeros((n, nz), dtype=bool)
    ttb = np.full((n, nz), np.nan)
    near = np.zeros(n, dtype=bool)
    warn = np.zeros((n, nz), dtype=bool)
    for j, zg in enumerate(zones):
        inside[:, j] = zg.inside(pos_m)
        ttb[:, j] = zg.time_to_breach(pos_m, vel_ms, horizon_s=zg.zone.warn_time_s)
        warn[:, j] = ~np.isnan(ttb[:, j])
        near |= zg.distance_m(pos_m) <= NEAR_M
    any_in, any_warn = inside.any(axis=1), warn.any(axis=1)
    drone = cls.class_idx == ObjectClass.DRONE
    unknown = cls.class_idx == UNKNOWN
    hostile = drone & ~cls.cooperative
    coop = drone & cls.cooperative
    level = np.full(n, ThreatLevel.NONE, dtype=np.int64)
    level[drone | unknown] = ThreatLevel.LOW
    level[(hostile & near) | (coop & any_warn) | (unknown & (any_in | any_warn))] = (
        ThreatLevel.MEDIUM
    )
    level[(hostile & any_warn) | (coop & any_in)] = ThreatLevel.HIGH
    level[hostile & any_in] = ThreatLevel.CRITICAL
    if own is not None:
        level[own] = ThreatLevel.NONE
    return ThreatPicture(level, inside, ttb, tuple(z.zone.name for z in zones))


def hostile(view: TrackView) -> bool:
    """A drone treated as an intruder: not ours, not authorised, and not tolerated as cooperative.

    Non-cooperative drones are, and Remote ID drones that are not authorised where the site's
    policy makes them intruders (``coop_intruder``).
    """
    return (
        view.object_class == "drone"
        and view.own_asset is None
        and not view.authorised
        and (not view.cooperative or view.coop_intruder)
    )


def friendly(view: TrackView) -> bool:
    """Known for a friend: authorised, ours, or cooperative where the site tolerates that."""
    return view.authorised or (view.cooperative and not view.coop_intruder)
