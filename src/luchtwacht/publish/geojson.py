"""GeoJSON export of a recording: each track as a line with its times, each zone as a polygon.

Where it sits: a recording (``luchtwacht.store.recorder``: the confirmed tracks at every slow
cycle, the site and its zones in ``meta``) → :func:`track_features` / :func:`zone_feature` →
:func:`write_feature_collection` → a GIS tool (QGIS, geopandas, shapely). ``luchtwacht export
geojson`` (``luchtwacht.commands.export``) is the command line around it.

The output follows RFC 7946: positions are ``[lon, lat, alt]`` in degrees and metres above the
WGS 84 ellipsoid (the height the tracker keeps, ``alt_m``), polygons' outer rings run
counter-clockwise (the right-hand rule) and are closed. A track is a ``LineString`` through its
recorded positions in time order (a ``Point`` when the window holds only one), with properties
``track_id``, ``start``/``end`` and a ``times`` array (ISO 8601 UTC, one per vertex), the last
``class`` (and ``class_prob``), the ``max_threat`` within the window, ``uas_id``, ``icao`` and
``cooperative``. A zone is a ``Polygon`` with its ``name``, ``floor_m``/``ceiling_m`` (above the
site origin) and ``warn_time_s``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from luchtwacht.model.track import ThreatLevel
from luchtwacht.model.zone import Zone

__all__ = [
    "ExportError",
    "RecordingSpan",
    "iso_time",
    "open_recording",
    "parse_time",
    "recorded_zones",
    "recording_span",
    "track_features",
    "write_feature_collection",
    "zone_feature",
]

COORD_DECIMALS = 7  # degrees: ~1 cm, more than any track's accuracy
ALT_DECIMALS = 2  # metres

_TRACK_QUERY = (
    "SELECT track_id, t_s, lat_deg, lon_deg, alt_m, object_class, class_prob, threat, uas_id,"
    " icao, cooperative FROM track WHERE t_s >= ? AND t_s <= ? ORDER BY track_id, t_s"
)


class ExportError(Exception):
    """A recording or an argument that cannot be exported; the message is one line."""


@dataclass(frozen=True, slots=True)
class RecordingSpan:
    """When a recording starts and ends (UTC seconds); None when it holds nothing to tell."""

    start_s: float | None
    end_s: float | None


def open_recording(path: Path) -> sqlite3.Connection:
    """The recording, opened read-only; :class:`ExportError` if it is missing or not one."""
    if not path.exists():
        raise ExportError(f"{path}: no such file")
    if not path.is_file():
        raise ExportError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise ExportError(f"{path}: empty file, not a recording")
    uri = f"file:{urllib.parse.quote(path.resolve().as_posix())}?mode=ro"
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(uri, uri=True, timeout=5.0)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        raise ExportError(f"{path}: not a readable recording ({exc})") from None
    for table in ("track", "meta"):
        if table not in tables:
            db.close()
            raise ExportError(f"{path}: not a Luchtwacht recording (no {table} table)")
    return db


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        f = float(value)
        return f if math.isfinite(f) else None
    return None


def recording_span(db: sqlite3.Connection) -> RecordingSpan:
    """Start and end of the run: ``meta`` start_s/end_s, else the first and last track rows."""
    meta = _meta(db)

    def meta_float(key: str) -> float | None:
        try:
            return _finite(float(meta[key]))
        except (KeyError, ValueError):
            return None

    start = meta_float("start_s")
    end = meta_float("end_s")
    if start is None or end is None:
        lo, hi = db.execute("SELECT min(t_s), max(t_s) FROM track").fetchone()
        start = start if start is not None else _finite(lo)
        end = end if end is not None else _finite(hi)
    return RecordingSpan(start, end)


def recorded_zones(db: sqlite3.Connection) -> tuple[Zone, ...] | None:
    """The zones the recording's ``meta`` keeps with its site; None if it keeps none."""
    try:
        site = json.loads(_meta(db).get("site") or "null")
    except ValueError:
        return None
    if not isinstance(site, dict) or not isinstance(site.get("zones"), list):
        return None
    zones = []
    for z in site["zones"]:
        try:
            zones.append(
                Zone(
                    name=str(z["name"]),
                    vertices_deg=tuple((float(a), float(b)) for a, b in z["vertices_deg"]),
                    floor_m=float(z.get("floor_m", 0.0)),
                    ceiling_m=float(z.get("ceiling_m", 500.0)),
                    warn_time_s=float(z.get("warn_time_s", 60.0)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # one damaged zone costs that zone, not the export
    return tuple(zones)


def iso_time(t_s: float) -> str:
    """UTC seconds → ISO 8601 with milliseconds and ``Z`` (``2026-06-12T21:30:01.000Z``)."""
    return datetime.fromtimestamp(t_s, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_time(text: str, start_s: float | None) -> float:
    """``--from``/``--to``: ISO 8601 (no zone: UTC) or seconds since the recording's start.

    ``"90"`` and ``"90.5"`` are seconds after ``start_s``; ``"2026-06-12T21:31:30Z"`` (or with
    an offset such as ``+02:00``) is a moment. Raises :class:`ExportError` naming the text.
    """
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ExportError(f"{text!r}: not a time")
        if start_s is None:
            raise ExportError(f"{text!r}: the recording has no start to count seconds from")
        return start_s + seconds
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"{text!r}: not an ISO 8601 time nor seconds since the recording's start"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _threat(label: object) -> ThreatLevel:
    try:
        return ThreatLevel[str(label).upper()]
    except KeyError:
        return ThreatLevel.NONE


def track_features(
    db: sqlite3.Connection, t_from_s: float = -math.inf, t_to_s: float = math.inf
) -> Iterator[dict[str, Any]]:
    """One GeoJSON Feature per track with a position in ``[t_from_s, t_to_s]``, by track id.

    Rows without a finite position are left out. Rows come ordered by the table's key
    ``(track_id, t_s)``, so one track is held in memory at a time.
    """
    rows = db.execute(_TRACK_QUERY, (t_from_s, t_to_s))
    current: int | None = None
    points: list[tuple[Any, ...]] = []
    for row in rows:
        if _finite(row[2]) is None or _finite(row[3]) is None or _finite(row[1]) is None:
            continue
        if row[0] != current:
            if points:
                yield _track_feature(points)
            current, points = row[0], []
        points.append(row)
    if points:
        yield _track_feature(points)


def _track_feature(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A track's rows (one track, time order) → a LineString (Point if only one) Feature."""
    coords = []
    for row in rows:
        pos = [round(float(row[3]), COORD_DECIMALS), round(float(row[2]), COORD_DECIMALS)]
        alt = _finite(row[4])
        if alt is not None:
            pos.append(round(alt, ALT_DECIMALS))
        coords.append(pos)
    if any(len(c) == 2 for c in coords):  # one position without a height: none carry one
        coords = [c[:2] for c in coords]
    last = rows[-1]
    times = [iso_time(float(r[1])) for r in rows]
    geometry: dict[str, Any] = (
        {"type": "LineString", "coordinates": coords}
        if len(coords) > 1
        else {"type": "Point", "coordinates": coords[0]}
    )
    prob = _finite(last[6])
    return {
        "type": "Feature",
        "id": f"track-{last[0]}",
        "geometry": geometry,
        "properties": {
            "kind": "track",
            "track_id": int(last[0]),
            "start": times[0],
            "end": times[-1],
            "times": times,
            "class": last[5],
            "class_prob": None if prob is None else round(prob, 3),
            "max_threat": max(_threat(r[7]) for r in rows).label,
            "uas_id": next((r[8] for r in reversed(rows) if r[8]), None),
            "icao": next((r[9] for r in reversed(rows) if r[9]), None),
            "cooperative": any(bool(r[10]) for r in rows),
        },
    }


def _signed_area(ring: list[list[float]]) -> float:
    """Shoelace area of a closed ring in (lon, lat): positive when counter-clockwise."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def zone_feature(zone: Zone) -> dict[str, Any]:
    """A protected zone as a Polygon: ring closed and counter-clockwise (RFC 7946 §3.1.6)."""
    ring = [
        [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)] for lat, lon in zone.vertices_deg
    ]
    if ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    if _signed_area(ring) < 0:
        ring.reverse()
    return {
        "type": "Feature",
        "id": f"zone-{zone.name}",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "kind": "zone",
            "name": zone.name,
            "floor_m": zone.floor_m,
            "ceiling_m": zone.ceiling_m,
            "warn_time_s": zone.warn_time_s,
        },
    }


def write_feature_collection(
    out: TextIO, features: Iterable[dict[str, Any]], **members: object
) -> int:
    """Write a FeatureCollection, one feature at a time; returns how many were written.

    ``members`` become foreign members of the collection (RFC 7946 §6.1), e.g. the site name.
    """
    out.write('{"type": "FeatureCollection"')
    for key, value in members.items():
        out.write(f", {json.dumps(key)}: {json.dumps(value)}")
    out.write(', "features": [')
    n = 0
    for feature in features:
        out.write(",\n" if n else "\n")
        out.write(json.dumps(feature, separators=(",", ":"), allow_nan=False))
        n += 1
    out.write("\n]}\n")
    return n


def site_name(db: sqlite3.Connection) -> str | None:
    """The site's name as the recording keeps it, if it does."""
    with contextlib.suppress(ValueError):
        site = json.loads(_meta(db).get("site") or "null")
        if isinstance(site, dict) and isinstance(site.get("name"), str):
            return str(site["name"])
    return None
