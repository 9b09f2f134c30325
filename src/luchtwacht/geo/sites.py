"""Named places and the shapes drawn around them: the demo's air base, bearings, runway zones.

Shared by the live configuration (``luchtwacht.site``: the default site) and the simulator's
demo scenario, so the demo site is defined once and the live node never imports the simulator.
"""

from __future__ import annotations

import math

import numpy as np

from luchtwacht.geo.frames import SiteOrigin
from luchtwacht.model.zone import Zone

# Runway midpoint of Volkel Air Base. Heights are WGS84 ellipsoidal: field elevation 22 m above
# NAP plus a geoid undulation of about 43 m in the southern Netherlands.
VOLKEL = SiteOrigin(lat_deg=51.6564, lon_deg=5.7087, alt_m=65.0)
RUNWAY_HEADING_DEG = 58.0  # true heading of runway 06/24


def polar(bearing_deg: float, distance_m: float, up_m: float = 0.0) -> tuple[float, float, float]:
    """ENU point at a true bearing and horizontal distance from the site origin."""
    b = math.radians(bearing_deg)
    return (distance_m * math.sin(b), distance_m * math.cos(b), up_m)


def runway_zone(
    origin: SiteOrigin, name: str, half_length_m: float, half_width_m: float, ceiling_m: float
) -> Zone:
    """A rectangle along the runway heading, centred on the origin, as WGS84 vertices."""
    corners = [
        polar(RUNWAY_HEADING_DEG, half_length_m),
        polar(RUNWAY_HEADING_DEG + 180.0, half_length_m),
    ]
    across = np.array(polar(RUNWAY_HEADING_DEG + 90.0, half_width_m))
    a, b = np.array(corners[0]), np.array(corners[1])
    enu = np.array([a + across, b + across, b - across, a - across])
    geo = origin.to_geodetic(enu)
    return Zone(
        name,
        tuple((float(lat), float(lon)) for lat, lon, _ in geo),
        floor_m=0.0,
        ceiling_m=ceiling_m,
    )


def volkel_runway() -> Zone:
    """The demo's protected zone: Volkel's runway, 4 km by 1.2 km, up to 500 m."""
    return runway_zone(
        VOLKEL, "EHVK runway", half_length_m=2000.0, half_width_m=600.0, ceiling_m=500.0
    )
