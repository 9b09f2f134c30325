"""The offline basemap of the report's maps: Natural Earth countries around the site, in ENU.

The operator console bundles Natural Earth's 1:50 m countries (npm ``world-atlas``, pinned in
``web/package.json``) into ``web/dist/countries.geojson`` when ``make web`` builds it (``make
demo`` and ``make test`` do). The report draws the same file, so nothing is fetched: where it
has not been built the maps show the site's ENU grid and range rings alone and say so. At
1:50 m a coastline or border is placed to about a kilometre, enough to show which side of a
border or coast a site and its zones lie.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from luchtwacht.geo.frames import SiteOrigin

F64 = NDArray[np.float64]
COUNTRIES = Path(__file__).resolve().parents[3] / "web" / "dist" / "countries.geojson"
"""Where ``make web`` puts Natural Earth's countries in a source checkout."""


@dataclass(frozen=True, slots=True)
class Country:
    """One country's outline near the site: its name and its rings in ENU metres (east, north)."""

    name: str
    rings: tuple[F64, ...]


@functools.lru_cache(maxsize=4)
def _features(path: Path) -> tuple[tuple[str, tuple[F64, ...]], ...]:
    """Every country of the GeoJSON file as (name, rings of [lon, lat])."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for f in doc.get("features", []):
        geom = f.get("geometry") or {}
        polys: list[Any]
        if geom.get("type") == "Polygon":
            polys = [geom["coordinates"]]
        elif geom.get("type") == "MultiPolygon":
            polys = geom["coordinates"]
        else:
            continue
        rings = tuple(np.asarray(r, dtype=float) for p in polys for r in p if len(r) >= 3)
        out.append((str((f.get("properties") or {}).get("name", "")), rings))
    return tuple(out)


def countries_near(
    origin: SiteOrigin, radius_m: float, path: Path = COUNTRIES
) -> list[Country] | None:
    """The countries with a ring within ``radius_m`` of the site, projected to its ENU frame.

    None when the file is not there (the console's web client has not been built) or cannot
    be read as GeoJSON; the map then goes without.
    """
    try:
        features = _features(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    dlat = math.degrees(radius_m / 6.371e6)
    dlon = dlat / max(math.cos(math.radians(origin.lat_deg)), 0.01)
    out = []
    for name, rings in features:
        near = []
        for r in rings:
            lon, lat = r[:, 0], r[:, 1]
            if (
                lon.max() < origin.lon_deg - dlon
                or lon.min() > origin.lon_deg + dlon
                or lat.max() < origin.lat_deg - dlat
                or lat.min() > origin.lat_deg + dlat
            ):
                continue
            enu = origin.to_enu(lat, lon, np.full(lat.shape, origin.alt_m))
            near.append(enu[:, :2])
        if near:
            out.append(Country(name, tuple(near)))
    return out
