"""Was the zone clear? Unauthorised tracks inside a zone in a window, and who was watching.

The rule (stated in every report, :data:`RULE`): a track counts against the zone when the
recording shows it inside the zone (its ``zones_inside`` names the zone: the node's own judgement
at that instant, floor and ceiling included) at some snapshot in the window and at that
snapshot it was not authorised. The track table records no list of friendly or own aircraft, so
authorised means only: its UAS ID (Remote ID) or ICAO address (Mode S) was named with
``--authorised``, or it was a cooperative aircraft (an ADS-B ICAO address: manned traffic
that identifies itself). Tracks classified bird or clutter are not counted but are listed.
A cooperative drone (Remote ID) is identified, not authorised: it counts unless named.

Coverage (:data:`COVERAGE_RULE`): a sensor covers the zone when the recording shows where it is
and how far it sees — a SAPIENT node's StatusReport ``node_location`` and its Registration's
``Detection``/``MaxRange`` — and that range reaches the whole zone (every vertex within range);
one whose range reaches only part of it is listed as partial. Other sensors' positions are not
recorded: they are listed with coverage "unknown" and not counted. A SAPIENT sensor's data count
while the StatusReport in force (its last one) says SYSTEM_OK; data before its first StatusReport
do not count. A coverage gap is an interval longer than ``max_gap_s`` in which no sensor
covering the whole zone delivered counted data (measured from the window's start and to its
end); each gap names the partial sensors that delivered during it (the zone partly watched).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from shapely.geometry import Point
from shapely.geometry import Polygon as ShapelyPolygon

from luchtwacht.evidence.recording import Recording, Window, iso_time
from luchtwacht.evidence.sensors import SensorRecord, read_sensors
from luchtwacht.evidence.zones import inside_zone
from luchtwacht.model.track import ThreatLevel
from luchtwacht.model.zone import Zone

__all__ = [
    "COVERAGE_RULE",
    "RULE",
    "ClearSkyResult",
    "Coverage",
    "CoverageGap",
    "Interval",
    "SensorCoverage",
    "ZonePresence",
    "clear_sky",
    "health_in_window",
    "snapshot_status",
]

RULE = (
    "A track counts against the zone when the recording shows it inside the zone (the node's "
    "zones_inside at that snapshot, floor and ceiling included) at some snapshot in the window "
    "while not authorised. The recording keeps no list of friendly or own aircraft, so "
    "authorised means only: its UAS ID or ICAO address was named with --authorised, or it was a "
    "cooperative aircraft (ADS-B ICAO address). Remote ID drones are identified, not "
    "authorised. Tracks classified bird or clutter are not counted but listed."
)
COVERAGE_RULE = (
    "A sensor covers the zone when the recording shows its position (SAPIENT StatusReport "
    "node_location) and its range (Registration Detection/MaxRange) and that range reaches every "
    "corner of the zone; a range reaching only part of it is partial coverage. Other sensors' "
    "positions are not recorded and they are not counted. A SAPIENT sensor's data count while "
    "its last StatusReport says SYSTEM_OK (data before its first StatusReport do not count). A "
    "coverage gap is an interval longer than the gap limit with no counted data from any sensor "
    "covering the whole zone; each gap names the partial sensors that delivered during it."
)
NOT_AIR_VEHICLES = frozenset({"bird", "clutter"})
_NAMED = 5  # tracks and gaps named in the verdict's sentence; the tables list them all


class Coverage(enum.Enum):
    """How much of the zone a sensor's declared range reaches."""

    FULL = "whole zone"
    PARTIAL = "part of the zone"
    NONE = "out of range"
    UNKNOWN = "unknown (position or range not recorded)"

    @property
    def counts(self) -> bool:
        """Whether the sensor's data counts as coverage of the zone."""
        return self in (Coverage.FULL, Coverage.PARTIAL)


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed time interval (UTC seconds)."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Its length in seconds."""
        return self.end_s - self.start_s

    def text(self) -> str:
        """``2026-06-12T21:30:20.050Z – 2026-06-12T21:30:45.050Z (25 s)``."""
        return f"{iso_time(self.start_s)} – {iso_time(self.end_s)} ({self.duration_s:.3g} s)"


@dataclass(frozen=True, slots=True)
class CoverageGap:
    """An interval without counted data from any sensor covering the whole zone."""

    interval: Interval
    partly_by: tuple[str, ...]  # sensors covering part of the zone that delivered meanwhile

    def text(self) -> str:
        """The interval, and who watched part of the zone during it."""
        part = f", partly watched by {', '.join(self.partly_by)}" if self.partly_by else ""
        return self.interval.text() + part


@dataclass(frozen=True, slots=True)
class ZonePresence:
    """A track's time inside the zone within the window, and what it was."""

    track_id: int
    intervals: tuple[Interval, ...]  # first and last snapshot inside, per stay
    object_class: str
    cooperative: bool
    uas_id: str | None
    icao: str | None
    max_threat: str
    snapshots: int
    status: str  # "unauthorised", "authorised: …" or "not counted: …"

    @property
    def label(self) -> str:
        """``T1 drone (non-cooperative)`` for sentences."""
        ident = self.uas_id or self.icao
        coop = f"cooperative, {ident}" if self.cooperative and ident else "non-cooperative"
        if not self.cooperative and ident:
            coop = f"non-cooperative, {ident}"
        return f"T{self.track_id} {self.object_class} ({coop})"


@dataclass(slots=True)
class SensorCoverage:
    """One sensor's part in watching the zone during the window."""

    sensor_id: str
    name: str
    fmt: str
    where: str
    coverage: Coverage
    distance_m: float | None  # from the sensor to the nearest point of the zone
    range_m: float | None
    messages: int  # data deliveries (raw rows) in the window
    first_s: float | None
    last_s: float | None
    status_reports: int
    unhealthy: list[Interval] = field(default_factory=list)  # StatusReport not SYSTEM_OK
    gaps: list[Interval] = field(default_factory=list)  # its own silences > max gap

    @property
    def health(self) -> str:
        """In words: what its status reports and data say about the window."""
        if self.messages == 0:
            return "no data in the window"
        silent = sum(g.duration_s for g in self.gaps)
        quiet = f"; silent for {silent:.3g} s" if self.gaps else ""
        if self.fmt == "sapient":
            if self.status_reports == 0:
                return "no StatusReport in or before the window" + quiet
            if self.unhealthy:
                spans = ", ".join(i.text() for i in self.unhealthy)
                return f"not SYSTEM_OK during {spans}" + quiet
            return "every StatusReport SYSTEM_OK" + quiet
        return "delivering data (no status reports in this format)" + quiet


@dataclass(frozen=True, slots=True)
class ClearSkyResult:
    """The whole finding: the verdict, the tracks, the sensors and the coverage gaps."""

    zone: str
    window: Window
    max_gap_s: float
    authorised_ids: tuple[str, ...]
    unauthorised: tuple[ZonePresence, ...]
    others: tuple[ZonePresence, ...]  # authorised or not counted, listed for the reader
    sensors: tuple[SensorCoverage, ...]
    gaps: tuple[CoverageGap, ...]
    recording_end_s: float | None = None  # when the recording ends (a window may go past it)

    @property
    def clear(self) -> bool:
        """No unauthorised track was inside the zone in the window."""
        return not self.unauthorised

    @property
    def covering(self) -> tuple[SensorCoverage, ...]:
        """The sensors whose data counts as coverage of the zone (whole or part)."""
        return tuple(s for s in self.sensors if s.coverage.counts)

    def verdict(self) -> str:
        """The finding in one paragraph."""
        w = f"{iso_time(self.window.from_s)} and {iso_time(self.window.to_s)}"
        if self.clear:
            head = f"No unauthorised track in zone {self.zone} between {w}."
        else:
            tracks = "; ".join(
                f"{p.label} inside {', '.join(i.text() for i in p.intervals)}"
                for p in self.unauthorised[:_NAMED]
            ) + _more(len(self.unauthorised), "tracks")
            n = len(self.unauthorised)
            head = (
                f"NOT CLEAR: {n} unauthorised track{'s' if n != 1 else ''} in zone {self.zone}"
                f" between {w}: {tracks}."
            )
        covering = self.covering
        if not covering:
            cover = (
                " No sensor is shown by the recording to cover the zone: the absence of tracks"
                " is not evidence that the zone was clear."
            )
        else:
            names = ", ".join(f"{s.name} ({s.coverage.value}; {s.health})" for s in covering)
            cover = f" Covered by: {names}."
        if self.gaps:
            total = sum(g.interval.duration_s for g in self.gaps)
            in_all = f", {total:.3g} s in all" if len(self.gaps) > 1 else ""
            gaps = (
                " Coverage gaps (no counted data from a sensor covering the whole zone for more"
                f" than {self.max_gap_s:g} s):"
                f" {'; '.join(g.text() for g in self.gaps[:_NAMED])}"
                f"{_more(len(self.gaps), 'gaps')}{in_all};"
                " the whole zone was not watched then."
            )
        elif covering:
            gaps = f" Coverage gaps: none longer than {self.max_gap_s:g} s."
        else:
            gaps = ""
        end = self.recording_end_s
        after = ""
        if end is not None and self.window.to_s > end + 1.0:
            after = (
                f" The recording ends at {iso_time(end)}: nothing after it was recorded, so"
                " the zone was not watched by this node then."
            )
        return head + cover + gaps + after


def _more(n: int, what: str) -> str:
    """``"; and 45 more tracks (see the tables)"`` when a sentence names only the first few."""
    return f"; and {n - _NAMED} more {what} (see the tables)" if n > _NAMED else ""


def _threat(label: object) -> ThreatLevel:
    try:
        return ThreatLevel[str(label).upper()]
    except KeyError:
        return ThreatLevel.NONE


def _presences(
    rec: Recording, zone: str, w: Window, authorised: frozenset[str]
) -> list[ZonePresence]:
    rows = rec.db.execute(
        "SELECT track_id, t_s, zones_inside, object_class, cooperative, uas_id, icao, threat"
        " FROM track WHERE t_s >= ? AND t_s <= ? ORDER BY track_id, t_s",
        (w.from_s, w.to_s),
    )
    by_track: dict[int, list[tuple[object, ...]]] = {}
    for row in rows:
        by_track.setdefault(int(row[0]), []).append(tuple(row))
    out = []
    for tid, track_rows in sorted(by_track.items()):
        intervals: list[Interval] = []
        current: list[float] = []
        inside_rows = []
        for row in track_rows:
            if inside_zone(zone, row[2]):
                current.append(float(row[1]))  # type: ignore[arg-type]
                inside_rows.append(row)
            elif current:
                intervals.append(Interval(current[0], current[-1]))
                current = []
        if current:
            intervals.append(Interval(current[0], current[-1]))
        if not inside_rows:
            continue
        statuses = [snapshot_status(r, authorised) for r in inside_rows]
        unauth = [s for s in statuses if s == "unauthorised"]
        last = inside_rows[-1]
        out.append(
            ZonePresence(
                tid,
                tuple(intervals),
                str(last[3] or "unknown"),
                any(bool(r[4]) for r in inside_rows),
                next((str(r[5]) for r in reversed(inside_rows) if r[5]), None),
                next((str(r[6]) for r in reversed(inside_rows) if r[6]), None),
                max(_threat(r[7]) for r in inside_rows).label,
                len(inside_rows),
                unauth[0] if unauth else statuses[-1],
            )
        )
    return out


def snapshot_status(row: tuple[object, ...], authorised: frozenset[str]) -> str:
    """One inside snapshot: "unauthorised", "authorised: why" or "not counted: why"."""
    cls, coop, uas_id, icao = str(row[3] or "unknown"), bool(row[4]), row[5], row[6]
    for ident in (uas_id, icao):
        if ident and str(ident) in authorised:
            return f"authorised: {ident} named with --authorised"
    if coop and icao and cls != "drone":
        return f"authorised: cooperative aircraft (ICAO {icao})"
    if cls in NOT_AIR_VEHICLES:
        return f"not counted: classified {cls}"
    return "unauthorised"


def _silences(times: NDArray[np.float64], w: Window, max_gap_s: float) -> list[Interval]:
    """Intervals in the window longer than ``max_gap_s`` without any of ``times``."""
    inside = times[(times >= w.from_s) & (times <= w.to_s)]
    edges = np.concatenate(([w.from_s], inside, [w.to_s]))
    gaps = np.diff(edges)
    return [
        Interval(float(edges[i]), float(edges[i + 1])) for i in np.flatnonzero(gaps > max_gap_s)
    ]


def health_in_window(s: SensorRecord, w: Window) -> tuple[list[Interval], NDArray[np.bool_]]:
    """When its StatusReports said other than SYSTEM_OK, and which arrivals count as healthy.

    The status in force at an instant is the last StatusReport at or before it. Data delivered
    before a SAPIENT node's first StatusReport do not count (its health is not known); that
    time is not listed as unhealthy (the node had not said anything yet). Formats without
    status reports count whenever they deliver.
    """
    if s.fmt != "sapient":
        return [], np.ones(len(s.arrivals_s), dtype=bool)
    times = np.array([p.t_s for p in s.status], dtype=float)
    ok = np.array([p.healthy for p in s.status] + [False], dtype=bool)  # [-1]: none yet

    def in_force(t: NDArray[np.float64]) -> NDArray[np.bool_]:
        return ok[np.searchsorted(times, t, side="right") - 1]

    bad: list[Interval] = []
    if len(times):
        inner = times[(times > w.from_s) & (times < w.to_s)]
        edges = np.concatenate(([max(w.from_s, float(times[0]))], inner, [w.to_s]))
        edges = edges[edges >= edges[0]]
        for a, b, good in zip(edges[:-1], edges[1:], in_force(edges[:-1]), strict=True):
            if good or b <= a:
                continue
            if bad and bad[-1].end_s == a:
                bad[-1] = Interval(bad[-1].start_s, float(b))
            else:
                bad.append(Interval(float(a), float(b)))
    return bad, in_force(s.arrivals_s)


def _coverage(s: SensorRecord, rec: Recording, zone: Zone) -> tuple[Coverage, float | None]:
    if s.position is None or s.range_m is None or rec.origin is None:
        return Coverage.UNKNOWN, None
    lat = np.array([v[0] for v in zone.vertices_deg])
    lon = np.array([v[1] for v in zone.vertices_deg])
    pts = rec.origin.to_enu(lat, lon, np.full(len(lat), rec.origin.alt_m))[:, :2]
    sensor = rec.origin.to_enu(
        np.array([s.position[0]]), np.array([s.position[1]]), np.array([s.position[2]])
    )[0, :2]
    poly = ShapelyPolygon(pts)
    nearest = float(poly.distance(Point(sensor)))
    farthest = float(np.max(np.hypot(pts[:, 0] - sensor[0], pts[:, 1] - sensor[1])))
    if farthest <= s.range_m:
        return Coverage.FULL, nearest
    if nearest <= s.range_m:
        return Coverage.PARTIAL, nearest
    return Coverage.NONE, nearest


def clear_sky(
    rec: Recording,
    zone_name: str,
    w: Window,
    max_gap_s: float = 5.0,
    authorised: Iterable[str] = (),
    sensors: dict[str, SensorRecord] | None = None,
) -> ClearSkyResult:
    """The clear-sky finding for one zone and window of a recording (see the module's rules).

    ``sensors`` is :func:`~luchtwacht.evidence.sensors.read_sensors` up to the window's end,
    when the caller has already read it.
    """
    if not (math.isfinite(max_gap_s) and max_gap_s > 0):
        raise ValueError("max_gap_s must be positive")
    zone = rec.zone(zone_name)
    allowed = frozenset(a.strip() for a in authorised if a.strip())
    presences = _presences(rec, zone_name, w, allowed)
    if sensors is None:
        sensors = read_sensors(rec, w.to_s)
    coverages: list[SensorCoverage] = []
    counted: list[NDArray[np.float64]] = []  # sensors covering the whole zone
    partial: list[tuple[str, NDArray[np.float64]]] = []
    for s in sensors.values():
        cov, dist = _coverage(s, rec, zone)
        unhealthy, healthy_mask = health_in_window(s, w)
        in_window = (s.arrivals_s >= w.from_s) & (s.arrivals_s <= w.to_s)
        arrivals = s.arrivals_s[in_window]
        coverages.append(
            SensorCoverage(
                s.sensor_id,
                s.name,
                s.fmt,
                s.where,
                cov,
                dist,
                s.range_m,
                int(in_window.sum()),
                float(arrivals[0]) if len(arrivals) else None,
                float(arrivals[-1]) if len(arrivals) else None,
                sum(1 for p in s.status if p.t_s <= w.to_s),
                unhealthy,
                _silences(s.arrivals_s, w, max_gap_s),
            )
        )
        if cov is Coverage.FULL:
            counted.append(s.arrivals_s[healthy_mask])
        elif cov is Coverage.PARTIAL:
            partial.append((s.name, s.arrivals_s[healthy_mask]))
    union = np.sort(np.concatenate(counted)) if counted else np.empty(0)
    gaps = [
        CoverageGap(
            g,
            tuple(name for name, t in partial if np.any((t > g.start_s) & (t < g.end_s))),
        )
        for g in _silences(union, w, max_gap_s)
    ]
    return ClearSkyResult(
        zone_name,
        w,
        max_gap_s,
        tuple(sorted(allowed)),
        tuple(p for p in presences if p.status == "unauthorised"),
        tuple(p for p in presences if p.status != "unauthorised"),
        tuple(coverages),
        tuple(gaps),
        rec.span.end_s,
    )


def result_json(r: ClearSkyResult) -> dict[str, object]:
    """The finding as JSON-ready data (``report.json``)."""

    def interval(i: Interval) -> dict[str, object]:
        return {"from": iso_time(i.start_s), "to": iso_time(i.end_s), "seconds": i.duration_s}

    def presence(p: ZonePresence) -> dict[str, object]:
        return {
            "track_id": p.track_id,
            "class": p.object_class,
            "cooperative": p.cooperative,
            "uas_id": p.uas_id,
            "icao": p.icao,
            "max_threat": p.max_threat,
            "snapshots_inside": p.snapshots,
            "inside": [interval(i) for i in p.intervals],
            "status": p.status,
        }

    def sensor(s: SensorCoverage) -> dict[str, object]:
        return {
            "sensor_id": s.sensor_id,
            "name": s.name,
            "format": s.fmt,
            "position_and_range": s.where,
            "coverage": s.coverage.value,
            "counted": s.coverage.counts,
            "distance_to_zone_m": None if s.distance_m is None else round(s.distance_m, 1),
            "range_m": s.range_m,
            "messages_in_window": s.messages,
            "first": None if s.first_s is None else iso_time(s.first_s),
            "last": None if s.last_s is None else iso_time(s.last_s),
            "status_reports": s.status_reports,
            "health": s.health,
            "not_healthy": [interval(i) for i in s.unhealthy],
            "own_gaps": [interval(i) for i in s.gaps],
        }

    return {
        "zone": r.zone,
        "window": r.window.describe(),
        "clear": r.clear,
        "verdict": r.verdict(),
        "rule": RULE,
        "coverage_rule": COVERAGE_RULE,
        "max_gap_s": r.max_gap_s,
        "authorised_ids": list(r.authorised_ids),
        "unauthorised_tracks": [presence(p) for p in r.unauthorised],
        "other_tracks_in_zone": [presence(p) for p in r.others],
        "sensors": [sensor(s) for s in r.sensors],
        "coverage_gaps": [
            {**interval(g.interval), "partly_watched_by": list(g.partly_by)} for g in r.gaps
        ],
    }


def flagged_ids(r: ClearSkyResult) -> Sequence[int]:
    """The track ids counted against the zone (drawn red on the map)."""
    return [p.track_id for p in r.unauthorised]
