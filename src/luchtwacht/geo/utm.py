"""UTM grid coordinates ↔ WGS84 geodetic, for sensors that report in UTM (SAPIENT allows it).

Zones are written as SAPIENT and military grid users write them: the zone number and, usually,
the latitude band letter ("30U", "31N", "32V"); bands N..X are the northern hemisphere, C..M the
southern. A bare number is taken as northern. Transformations go through PROJ (pyproj) and are
cached per zone; all functions take scalars or numpy arrays.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

_ZONE = re.compile(r"^\s*(\d{1,2})\s*([C-HJ-NP-Xc-hj-np-x]?)\s*$")


def utm_epsg(zone: str) -> int:
    """EPSG code of the WGS84 / UTM zone named by ``zone`` (e.g. "31U" → 32631)."""
    m = _ZONE.match(zone)
    if m is None:
        raise ValueError(f"not a UTM zone: {zone!r} (expected e.g. '31U')")
    number = int(m.group(1))
    if not 1 <= number <= 60:
        raise ValueError(f"UTM zone number out of range 1..60: {zone!r}")
    band = m.group(2).upper()
    south = bool(band) and band < "N"
    return (32700 if south else 32600) + number


@cache
def _to_geodetic(epsg: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)


@cache
def _from_geodetic(epsg: int) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)


def utm_to_geodetic(
    easting_m: ArrayLike, northing_m: ArrayLike, zone: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """UTM easting/northing (m) in ``zone`` → (latitude, longitude) in degrees."""
    lon, lat = _to_geodetic(utm_epsg(zone)).transform(
        np.asarray(easting_m, dtype=float), np.asarray(northing_m, dtype=float)
    )
    return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)


def geodetic_to_utm(
    lat_deg: ArrayLike, lon_deg: ArrayLike, zone: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(latitude, longitude) in degrees → UTM (easting, northing) in metres in ``zone``."""
    e, n = _from_geodetic(utm_epsg(zone)).transform(
        np.asarray(lon_deg, dtype=float), np.asarray(lat_deg, dtype=float)
    )
    return np.asarray(e, dtype=float), np.asarray(n, dtype=float)
