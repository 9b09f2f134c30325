"""Protected-zone geometry in site ENU: containment and time to breach for all tracks at once.

The WGS84 polygon is projected once into the ENU frame (pymap3d) and held as a shapely polygon;
containment uses shapely's vectorised ``contains_xy``. Time to breach extrapolates each track at
constant velocity and finds the first sampled instant inside the volume (polygon and height band),
which also handles entry through the floor or ceiling.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.zone import Zone

F64 = NDArray[np.float64]


class ZoneGeometry:
    """A zone projected into the ENU frame of ``origin``."""

    def __init__(self, zone: Zone, origin: SiteOrigin) -> None:
        self.zone = zone
        lat = np.array([v[0] for v in zone.vertices_deg])
        lon = np.array([v[1] for v in zone.vertices_deg])
        enu = origin.to_enu(lat, lon, np.full(lat.shape, origin.alt_m))
        self.polygon = shapely.Polygon(enu[:, :2])
        if not self.polygon.is_valid:
            raise ValueError(
                f"zone {zone.name!r}: polygon is not valid "
                f"({shapely.is_valid_reason(self.polygon)})"
            )
        shapely.prepare(self.polygon)

    def nearest_bearing_deg(self, pos_m: F64) -> F64:
        """Compass bearing (deg) from each ENU position to the nearest point of the polygon.

        NaN inside. The direction a drone would take to breach soonest.
        """
        pos = np.atleast_2d(pos_m)
        if pos.shape[0] == 0:
            return np.empty(0)
        lines = shapely.shortest_line(self.polygon, shapely.points(pos[:, :2]))
        ends = shapely.get_coordinates(lines).reshape(-1, 2, 2)  # (N, polygon end / point end)
        d = ends[:, 0] - ends[:, 1]
        out = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0
        return np.asarray(np.where(np.hypot(d[:, 0], d[:, 1]) > 0, out, np.nan), np.float64)

    def inside(self, pos_m: F64) -> NDArray[np.bool_]:
        """Which ENU positions (N, 3) lie inside the zone volume."""
        pos = np.atleast_2d(pos_m)
        in_poly = shapely.contains_xy(self.polygon, pos[:, 0], pos[:, 1])
        in_band = (pos[:, 2] >= self.zone.floor_m) & (pos[:, 2] <= self.zone.ceiling_m)
        return np.asarray(in_poly & in_band, dtype=bool)

    def distance_m(self, pos_m: F64) -> F64:
        """Horizontal distance (m) from each position to the polygon (0 inside)."""
        pos = np.atleast_2d(pos_m)
        return np.asarray(shapely.distance(self.polygon, shapely.points(pos[:, :2])), dtype=float)

    def time_to_breach(self, pos_m: F64, vel_ms: F64, horizon_s: float, step_s: float = 1.0) -> F64:
        """Seconds until each track enters the volume at constant velocity.

        0 inside, NaN if not within ``horizon_s``; resolution ``step_s``.
        """
        pos, vel = np.atleast_2d(pos_m), np.atleast_2d(vel_ms)
        n = pos.shape[0]
        out = np.full(n, np.nan)
        if n == 0:
            return out
        times = np.arange(0.0, horizon_s + step_s / 2, step_s)
        future = pos[:, None, :] + vel[:, None, :] * times[None, :, None]  # (N, T, 3)
        flat = future.reshape(-1, 3)
        hit = self.inside(flat).reshape(n, times.size)
        any_hit = hit.any(axis=1)
        out[any_hit] = times[hit[any_hit].argmax(axis=1)]
        return out
