"""Replay in the console: recordings read back, read-only, as pictures at any time of the run.

A recording (``luchtwacht.store.recorder``) keeps the confirmed tracks at every slow cycle (1 s by
default), every alert event, and an audit log in which the counter stage and the command port
record every recommendation, approval, engagement step and operator command. This module turns
that back into the console's picture (the JSON of ``/api/picture``) at the last snapshot at or
before a time ``T``, with each track's trail of the last minute, so an operator can scrub through
a run: the one the node is writing now (``"live"``) or any ``*.sqlite``/``*.db`` file in a folder
the operator names.

Safety and bounds:
- a client names a recording only by an id this module made (``"live"``, or a hash of a listed
  file's resolved path); it never supplies a path, so it cannot make the server open any other
  file. Files are opened read-only (``mode=ro``; this works on the WAL file the node is writing);
- a file that is not a readable recording gets a one-line 422, never a traceback; a read that
  runs past :data:`READ_BUDGET_S` is interrupted (503, try again); at most :data:`READERS` reads
  run at once;
- at most :data:`MAX_TIMES` snapshot times are listed (thinned evenly), :data:`MAX_TRACKS` tracks
  per picture, trails of :data:`TRAIL_S` seconds and :data:`TRAIL_POINTS` points.

The ``track`` table's key is ``(track_id, t_s)``: a query by time alone would scan it. Its rows
are written one cycle at a time, so each snapshot is a run of consecutive rowids; an index of
snapshot time → rowid range is built once per recording (in chunks of rowids, resumed across
requests, then extended as the node writes on: about 1 s per million rows) and every picture and
trail reads a rowid range.

What a recording does not keep is null or empty in the picture: a track's sensors, RF link,
own-asset name, uncertainty ellipse and class probabilities/reasons; feed and effector health,
SAPIENT nodes, Remote ID, counters. From the audit log the picture rebuilds the pending
recommendations (with the options ranked when each was made: the node re-ranks them every cycle
but records only the first ranking; ``doubt``, ``collateral`` and ``safety`` are not recorded),
the engagements (state, outcome, covered tracks, handovers; under the two-person rule who
approved first and who confirmed, from the ``command.confirm`` record) and the approvals awaiting
a second person. An alert's ``updated_t_s`` is its last event's time (the node does not record each
cycle it was seen); who acknowledged it comes from the ``command.acknowledge`` record. A track's
pilot is the last ``identify.pilot`` record for it at or before ``T`` (the node records an
estimate when it is new or has changed); its age counts from the evidence that estimate was
recorded with, so it may read older than the live console showed.
"""

import bisect
import contextlib
import hashlib
import json
import logging
import math
import sqlite3
import threading
import time
import urllib.parse
from array import array
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from luchtwacht.console.schema import ok
from luchtwacht.counter.authority import Session

__all__ = ["Entry", "Problem", "RecordingError", "Recordings", "replay_router"]

log = logging.getLogger(__name__)

MAX_FILES = 500  # recordings listed from the folder (in name order; beyond, left out)
MAX_TIMES = 20_000  # snapshot times listed; beyond, thinned evenly (first and last kept)
MAX_TRACKS = 2000  # tracks in one replayed picture (most threatening first)
MAX_ALERTS = 2000  # open alerts and alert changes in one replayed picture
MAX_ZONES = 256  # zone names read from one track's zones_inside
TRAIL_S = 60.0  # a track's trail: this long before the picture …
TRAIL_POINTS = 120  # … and at most this many points
MAX_SNAPSHOTS = 5_000_000  # snapshot times indexed per recording (58 days at 1 Hz)
MAX_EVENTS = 200_000  # alert events and counter/command audit records held per recording
INDEXED = 4  # recordings whose index is held in memory (least recently used go first)
READ_BUDGET_S = 5.0  # one request's reading; beyond, it is interrupted (503)
BUSY_TIMEOUT_S = 2.0  # how long SQLite waits on a lock
READERS = 2  # requests reading recordings at once (the node's cores come first)
READER_WAIT_S = 2.0  # a request waits this long for a reader, else 503
SCAN_CHUNK = 250_000  # track rows indexed per query
GAP_FACTOR = 1.5  # no snapshot for this many slow periods: the picture had no tracks then
ENDED_KEPT_S = 60.0  # an ended engagement stays in the picture this long (as in node.core)
LIVE_ID = "live"

_THREAT_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
_TRACK_COLUMNS = (
    "track_id, t_s, lat_deg, lon_deg, alt_m, east_m, north_m, up_m, speed_ms, heading_deg,"
    " climb_ms, object_class, class_prob, cooperative, uas_id, threat, zones_inside,"
    " time_to_breach_s, pos_std_m, icao"
)
_THREAT_ORDER = (
    "CASE threat WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2"
    " WHEN 'low' THEN 1 ELSE 0 END"
)
# Every query by time reads a rowid range of the snapshot index (``track``'s key is by track).
TRACKS_SQL = (
    f"SELECT {_TRACK_COLUMNS} FROM track WHERE rowid BETWEEN ? AND ? AND t_s = ?"
    f" ORDER BY {_THREAT_ORDER} DESC, track_id LIMIT ?"
)
TRAILS_SQL = (
    "SELECT track_id, t_s, lat_deg, lon_deg, alt_m FROM track"
    " WHERE rowid BETWEEN ? AND ? AND t_s > ? AND t_s <= ? LIMIT ?"
)
RUNS_SQL = (  # each snapshot's rowid range within a chunk of rowids (sorts only the chunk)
    "SELECT t_s, min(rowid), max(rowid) FROM track WHERE rowid > ? AND rowid <= ? GROUP BY t_s"
)
_AUDIT_KINDS = (
    "kind LIKE 'counter.%' OR kind LIKE 'command.%' OR kind = 'approval.cancelled'"
    " OR kind = 'identify.pilot'"
)
_NEEDED_TABLES = frozenset({"meta", "track", "alert_event", "audit"})
_ACTIVE = frozenset({"approved", "tasked", "engaging"})


class RecordingError(Exception):
    """A recording that cannot be read now: the HTTP status and one line for the operator."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- plain values out of a file nobody vouches for ---------------------------------------------


def _f(v: object) -> float | None:
    """A finite float, or None (SQLite keeps ±inf; a foreign file may keep text anywhere)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        x = float(v)
    except OverflowError:  # an integer beyond any float (JSON has no limit)
        return None
    return x if math.isfinite(x) else None


def _r(v: object, decimals: int) -> float | None:
    """A finite float rounded as the live stream rounds it (finer than sensors resolve), or None."""
    x = _f(v)
    return None if x is None else round(x, decimals)


def _i(v: object) -> int | None:
    """An int, or None."""
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _s(v: object) -> str | None:
    """A string, or None."""
    return v if isinstance(v, str) else None


def _clean(v: object) -> object:
    """JSON from the audit log with non-finite numbers as null (strict JSON cannot carry them)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _payload(text: object) -> dict[str, Any]:
    """An audit record's payload as a dict ({} when it is not one)."""
    if not isinstance(text, str):
        return {}
    try:
        data = json.loads(text)
        return _clean(data) if isinstance(data, dict) else {}  # type: ignore[return-value]
    except (ValueError, RecursionError):  # not JSON, or nested beyond reason
        return {}


def _zones(text: object, known: tuple[str, ...]) -> list[str]:
    """``zones_inside`` as the recorder wrote it (names joined by commas), back into names.

    A zone name may itself hold a comma: pieces are joined again while that makes a site zone.
    """
    if not isinstance(text, str) or not text:
        return []
    if text in known:
        return [text]
    out: list[str] = []
    pieces = text.split(",")[:MAX_ZONES]
    widest = 1 + max((name.count(",") for name in known), default=0)
    k = 0
    while k < len(pieces):
        for end in range(min(len(pieces), k + widest), k, -1):  # the longest known name first
            name = ",".join(pieces[k:end])
            if name in known:
                out.append(name)
                k = end
                break
        else:
            out.append(pieces[k])
            k += 1
    return out


# --- opening a recording ---------------------------------------------------------------------


def _uri(path: Path) -> str:
    return f"file:{urllib.parse.quote(path.as_posix())}?mode=ro"


@contextlib.contextmanager
def _reading(
    path: Path, name: str, budget_s: float = READ_BUDGET_S
) -> Iterator[sqlite3.Connection]:
    """A read-only connection in one read transaction, interrupted after ``budget_s``.

    SQLite errors become a :class:`RecordingError` with one line: 503 for a lock or an
    interrupted read (try again), 422 for a file that is not a readable recording.
    """
    deadline = time.monotonic() + budget_s
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(_uri(path), uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        db.execute("PRAGMA query_only = ON")
        db.execute("BEGIN")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = sorted(_NEEDED_TABLES - tables)
        if missing:
            raise RecordingError(422, f"{name}: not a Luchtwacht recording (no {missing[0]} table)")
        yield db
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "interrupt" in text:
            raise RecordingError(503, f"{name}: reading took too long; try again") from None
        if "locked" in text or "busy" in text:
            raise RecordingError(503, f"{name}: the recording is busy; try again") from None
        raise RecordingError(422, f"{name}: not a readable recording ({text})") from None
    except sqlite3.Error as exc:
        raise RecordingError(422, f"{name}: not a readable recording ({exc})") from None
    finally:
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()


def _one(db: sqlite3.Connection, sql: str, *args: object) -> Any:
    row = db.execute(sql, args).fetchone()
    return row[0] if row else None


@dataclass(frozen=True, slots=True)
class Info:
    """What a recording says about itself: site, span, schedule, zones, feeds and effectors."""

    site: str
    start_s: float | None
    end_s: float | None
    slow_period_s: float
    zone_names: tuple[str, ...]
    feeds: tuple[tuple[str, str, str], ...]  # sensor id, name, format
    effectors: tuple[tuple[str, str, str], ...]  # name, kind, node id


def _json_meta(meta: dict[str, str], key: str) -> dict[str, Any]:
    try:
        data = json.loads(meta.get(key) or "{}")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _meta_float(meta: dict[str, str], key: str) -> float | None:
    try:
        return _f(float(meta[key]))
    except (KeyError, ValueError):
        return None


def _read_info(db: sqlite3.Connection, name: str) -> Info:
    """The recording's metadata and span, read in a few indexed look-ups."""
    meta = {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}
    site = _json_meta(meta, "site")
    node = _json_meta(meta, "node")
    schedule = node.get("schedule")
    period = _f(schedule.get("slow_period_s")) if isinstance(schedule, dict) else None
    zones = site.get("zones")
    zone_names = tuple(
        z["name"]
        for z in (zones if isinstance(zones, list) else ())
        if isinstance(z, dict) and isinstance(z.get("name"), str)
    )
    effectors = node.get("effectors")
    effs = tuple(
        (str(e.get("name")), str(e.get("kind")), str(e.get("node_id")))
        for e in (effectors if isinstance(effectors, list) else ())
        if isinstance(e, dict)
    )
    feeds = []
    for key, value in meta.items():
        if key.startswith("feed:"):
            spec = _json_meta({"f": value}, "f")
            order = _f(spec.get("order"))
            feeds.append(
                (order or 0.0, key[5:], str(spec.get("name", key[5:])), str(spec.get("fmt", "")))
            )
    feeds.sort()
    # The newest row of each table by its key (cheap), for a recording still being written.
    last = [
        _meta_float(meta, "end_s"),
        _f(_one(db, "SELECT t_s FROM track ORDER BY rowid DESC LIMIT 1")),
        _f(_one(db, "SELECT t_s FROM alert_event ORDER BY seq DESC LIMIT 1")),
        _f(_one(db, "SELECT t_s FROM audit ORDER BY seq DESC LIMIT 1")),
    ]
    if _one(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'raw'"):
        last.append(_f(_one(db, "SELECT t_rx_s FROM raw ORDER BY seq DESC LIMIT 1")))
    start = _meta_float(meta, "start_s")
    if start is None:
        start = _f(_one(db, "SELECT t_s FROM track ORDER BY rowid LIMIT 1"))
    known = [v for v in last if v is not None]
    end = max(known) if known else start
    if start is not None and end is not None:
        end = max(end, start)
    return Info(
        site=str(site.get("name") or name),
        start_s=start,
        end_s=end,
        slow_period_s=period if period is not None and period > 0 else 1.0,
        zone_names=zone_names,
        feeds=tuple((sid, n, fmt) for _, sid, n, fmt in feeds),
        effectors=effs,
    )


# --- the index of one recording --------------------------------------------------------------


@dataclass(slots=True)
class _Index:
    """Snapshot times → track rowid ranges, and the alert and counter records, of one file."""

    ino: tuple[int, int]  # the file's device and inode: a file replaced is indexed anew
    lock: threading.Lock = field(default_factory=threading.Lock)
    times: "array[float]" = field(default_factory=lambda: array("d"))
    lo: "array[int]" = field(default_factory=lambda: array("q"))
    hi: "array[int]" = field(default_factory=lambda: array("q"))
    scanned: int = 0  # track rowids up to here are indexed
    alert_keys: list[tuple[float, int]] = field(default_factory=list)  # (t_s, seq), sorted
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_seq: int = 0
    audit_keys: list[tuple[float, int]] = field(default_factory=list)
    audit: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    audit_seq: int = 0
    truncated: bool = False  # more records than MAX_EVENTS: later ones are not replayed
    listed: tuple[tuple[int, float | None, float], list[float]] | None = None  # the last span

    def add_run(self, t_s: float, lo: int, hi: int) -> None:
        """One snapshot's rows (or part of them) at ``t_s`` are rowids ``lo..hi``."""
        k = bisect.bisect_left(self.times, t_s)
        if k < len(self.times) and self.times[k] == t_s:
            self.lo[k], self.hi[k] = min(self.lo[k], lo), max(self.hi[k], hi)
            return
        if len(self.times) >= MAX_SNAPSHOTS:
            raise RecordingError(422, f"more than {MAX_SNAPSHOTS} snapshots: too long to replay")
        self.times.insert(k, t_s)
        self.lo.insert(k, lo)
        self.hi.insert(k, hi)

    def extend(self, db: sqlite3.Connection, name: str, deadline: float) -> int:
        """Index what was written since the last call (in chunks; resumable after a timeout).

        Returns the newest track rowid ``db`` sees: another request may have indexed further,
        in a newer read transaction, snapshots this one cannot see.
        """
        top = _i(_one(db, "SELECT max(rowid) FROM track")) or 0
        if top < self.scanned:
            raise _ReplacedError
        while self.scanned < top:
            if time.monotonic() > deadline:
                raise RecordingError(503, f"{name}: still indexing the recording; try again")
            upper = min(top, self.scanned + SCAN_CHUNK)
            for t, lo, hi in db.execute(RUNS_SQL, (self.scanned, upper)).fetchall():
                t_s = _f(t)
                if t_s is not None:  # a row without a usable time belongs to no snapshot
                    self.add_run(t_s, int(lo), int(hi))
            self.scanned = upper
        self._events(db)
        return top

    def _events(self, db: sqlite3.Connection) -> None:
        """Take the alert events and counter/command audit records written since last time."""
        for row in db.execute(
            "SELECT seq, t_s, event, alert_id, track_id, zone, level, kind, state, object_class,"
            " uas_id, message FROM alert_event WHERE seq > ? ORDER BY seq",
            (self.alert_seq,),
        ):
            self.alert_seq = int(row[0])
            t_s, alert_id = _f(row[1]), _i(row[3])
            if t_s is None or alert_id is None or not self._room():
                continue
            event = {
                "t_s": t_s,
                "event": _s(row[2]) or "",
                "alert_id": alert_id,
                "track_id": _i(row[4]),
                "zone": _s(row[5]) or "",
                "level": _s(row[6]) or "none",
                "kind": _s(row[7]) or "",
                "state": _s(row[8]) or "active",
                "object_class": _s(row[9]) or "unknown",
                "uas_id": _s(row[10]),
                "message": _s(row[11]) or "",
            }
            k = bisect.bisect_right(self.alert_keys, (t_s, self.alert_seq))
            self.alert_keys.insert(k, (t_s, self.alert_seq))
            self.alerts.insert(k, event)
        for seq, t, kind, text in db.execute(
            f"SELECT seq, t_s, kind, payload FROM audit WHERE seq > ? AND ({_AUDIT_KINDS})"
            " ORDER BY seq",
            (self.audit_seq,),
        ):
            self.audit_seq = int(seq)
            t_s = _f(t)
            if t_s is None or not isinstance(kind, str) or not self._room():
                continue
            k = bisect.bisect_right(self.audit_keys, (t_s, self.audit_seq))
            self.audit_keys.insert(k, (t_s, self.audit_seq))
            self.audit.insert(k, (t_s, kind, _payload(text)))
        # Records of other kinds need not be read again: start after the newest one.
        newest = _i(_one(db, "SELECT max(seq) FROM audit"))
        if newest is not None:
            self.audit_seq = max(self.audit_seq, newest)

    def _room(self) -> bool:
        if len(self.alerts) + len(self.audit) < MAX_EVENTS:
            return True
        if not self.truncated:
            self.truncated = True
            log.warning(
                "replay: more than %d alert and counter records; later ones left out", MAX_EVENTS
            )
        return False


class _ReplacedError(Exception):
    """The file now holds fewer rows than were indexed: it was replaced, index it anew."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A recording the console may open: its id, file and whether the node is writing it."""

    id: str
    path: Path
    live: bool


def _resolved(path: Path) -> Path | None:
    """The regular file ``path`` is (links followed), or None (gone, a loop, not a file)."""
    try:
        real = path.resolve(strict=True)
        return real if real.is_file() else None
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return None


def _file_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


class Recordings:
    """The recordings the console may open: the node's own (``"live"``) and a folder's files.

    Ids are made here and only here; a request names a recording by id, never by path.
    """

    def __init__(self, live: Path | None = None, folder: Path | None = None) -> None:
        self.live = live.resolve() if live is not None else None
        self.folder = folder.resolve() if folder is not None else None
        self._lock = threading.Lock()
        self._indexes: OrderedDict[Path, _Index] = OrderedDict()
        self._infos: OrderedDict[tuple[Path, int, int, int], Info | str] = OrderedDict()
        self._readers = threading.BoundedSemaphore(READERS)
        self._refused: set[Path] = set()  # files already logged as unreadable

    def entries(self) -> list[Entry]:
        """Every recording that may be opened now: the live one first, then the folder's."""
        out: list[Entry] = []
        if self.live is not None:
            out.append(Entry(LIVE_ID, self.live, True))
        if self.folder is not None and self.folder.is_dir():
            found = (p for pattern in ("*.sqlite", "*.db") for p in self.folder.glob(pattern))
            files = sorted({r for r in map(_resolved, found) if r is not None and r != self.live})
            out.extend(Entry(_file_id(path), path, False) for path in files[:MAX_FILES])
        return out

    def find(self, rec_id: str) -> Entry | None:
        """The recording with this id, or None (an id this class did not make finds nothing)."""
        return next((e for e in self.entries() if e.id == rec_id), None)

    @contextlib.contextmanager
    def reading(self, entry: Entry) -> Iterator[sqlite3.Connection]:
        """A read-only connection to ``entry`` (one of :data:`READERS`; else 503)."""
        if not self._readers.acquire(timeout=READER_WAIT_S):
            raise RecordingError(503, "replay is busy: try again")
        try:
            with _reading(entry.path, entry.path.name) as db:
                yield db
        finally:
            self._readers.release()

    def info(self, entry: Entry) -> Info:
        """The recording's metadata and span (cached while the file is unchanged)."""
        key = self._stat_key(entry)
        with self._lock:
            known = self._infos.get(key)
        if isinstance(known, Info):
            return known
        if isinstance(known, str):
            raise RecordingError(422, known)
        try:
            with self.reading(entry) as db:
                info = _read_info(db, entry.path.name)
        except RecordingError as exc:
            if exc.status == 422:
                self._remember(key, exc.message)
            raise
        self._remember(key, info)
        return info

    def listing(self) -> list[dict[str, object]]:
        """The recordings that can be replayed: id, name, span, live.

        Files that are not readable recordings are left out (and logged once), and so are
        recordings with nothing in them yet: every one listed has a start and an end.
        """
        out: list[dict[str, object]] = []
        for entry in self.entries():
            try:
                info = self.info(entry)
            except RecordingError as exc:
                with self._lock:
                    new = exc.status == 422 and entry.path not in self._refused
                    if new:
                        self._refused.add(entry.path)
                if new:
                    log.warning("replay: %s is left out: %s", entry.path, exc.message)
                continue
            if info.start_s is None or info.end_s is None:
                continue  # nothing recorded yet: no span to scrub
            out.append(
                {
                    "id": entry.id,
                    "name": f"{info.site} ({entry.path.name})",
                    "start_s": info.start_s,
                    "end_s": info.end_s,
                    "live": entry.live,
                }
            )
        return out

    def index(self, entry: Entry, db: sqlite3.Connection, deadline: float) -> tuple[_Index, int]:
        """The recording's index, extended to what ``db`` sees now, and its newest rowid."""
        try:
            st = entry.path.stat()
        except OSError:
            raise RecordingError(404, f"{entry.path.name}: gone") from None
        ino = (st.st_dev, st.st_ino)
        with self._lock:
            index = self._indexes.get(entry.path)
            if index is None or index.ino != ino:
                index = self._indexes[entry.path] = _Index(ino)
            self._indexes.move_to_end(entry.path)
            while len(self._indexes) > INDEXED:
                self._indexes.popitem(last=False)
        with index.lock:
            try:
                top = index.extend(db, entry.path.name, deadline)
            except _ReplacedError:
                with self._lock:
                    self._indexes.pop(entry.path, None)
                raise RecordingError(
                    503, f"{entry.path.name}: the file changed; try again"
                ) from None
        return index, top

    def _stat_key(self, entry: Entry) -> tuple[Path, int, int, int]:
        try:
            st = entry.path.stat()
        except OSError:
            raise RecordingError(404, f"{entry.path.name}: gone") from None
        if entry.live:
            return (entry.path, -1, -1, time.monotonic_ns())  # still being written: read anew
        try:  # a writer's WAL file changes first
            wal_mtime = entry.path.with_name(entry.path.name + "-wal").stat().st_mtime_ns
        except OSError:
            wal_mtime = 0
        return (entry.path, st.st_mtime_ns, st.st_size, wal_mtime)

    def _remember(self, key: tuple[Path, int, int, int], value: Info | str) -> None:
        if key[1] == -1:
            return
        with self._lock:
            self._infos[key] = value
            while len(self._infos) > 2 * MAX_FILES:
                self._infos.popitem(last=False)

    # --- what the endpoints answer -----------------------------------------------------------

    def span(self, entry: Entry) -> dict[str, object]:
        """The recording's span and its snapshot times (at most :data:`MAX_TIMES`, ascending)."""
        info = self.info(entry)
        deadline = time.monotonic() + READ_BUDGET_S
        with self.reading(entry) as db:
            index, _ = self.index(entry, db, deadline)
            with index.lock:
                key = (len(index.times), info.end_s, info.slow_period_s)
                if index.listed is None or index.listed[0] != key:
                    index.listed = (key, _thin(_with_gaps(index.times, info), MAX_TIMES))
                times = index.listed[1]
        return {
            "id": entry.id,
            "name": f"{info.site} ({entry.path.name})",
            "start_s": info.start_s,
            "end_s": info.end_s,
            "times": times,
        }

    def picture(self, entry: Entry, t: float) -> dict[str, object]:
        """The picture at the last snapshot at or before ``t`` (see the module doc)."""
        info = self.info(entry)
        deadline = time.monotonic() + READ_BUDGET_S
        with self.reading(entry) as db:
            index, top = self.index(entry, db, deadline)
            with index.lock:
                snap = _snapshot(index, info, t, top)
                alerts, changes = _alerts(index, snap.t_s, max(1.0, info.slow_period_s))
                recs, engs, pending = _counter(index, snap.t_s, info)
            tracks = _tracks(db, snap, info)
            with index.lock:
                _add_pilots(tracks, index, snap.t_s)
            trails = _trails(db, snap, {tr["track_id"] for tr in tracks})
        busy = {e["effector"]: e["eng_id"] for e in engs if e["state"] in _ACTIVE}
        return {
            "type": "replay",
            "seq": None,
            "t_s": snap.t_s,
            "site": info.site,
            "tracks": tracks,
            "new_tracks": [],
            "dropped_tracks": [],
            "alerts": alerts,
            "alert_changes": changes,
            "recommendations": recs,
            "engagements": engs,
            "feeds": [
                {
                    "sensor_id": sid,
                    "name": name,
                    "fmt": fmt,
                    "state": None,
                    "decoded": None,
                    "rejected": None,
                    "last_rejection": None,
                    "shed": None,
                    "late": None,
                    "future": None,
                    "failed": None,
                }
                for sid, name, fmt in info.feeds
            ],
            "nodes": [],
            "effectors": [
                {
                    "name": name,
                    "kind": kind,
                    "node_id": node,
                    "online": None,
                    "shots_left": None,
                    "busy_with": busy.get(name),
                }
                for name, kind, node in info.effectors
            ],
            "counters": {},
            "pending_approvals": pending,
            "remote_ids": [],
            "swarms": [],  # not recorded: the swarm alerts name their members
            "trails": trails,
            "replay": {"id": entry.id, "start_s": info.start_s, "end_s": info.end_s},
        }


def _with_gaps(times: "array[float]", info: Info) -> list[float]:
    """The snapshot times, with the snapshots that had no track (so wrote no row) put back.

    A snapshot is written every slow period while there are tracks; where the next one is
    missing for longer than :data:`GAP_FACTOR` periods, the picture was empty one period on.
    """
    p = info.slow_period_s
    out: list[float] = []
    n = len(times)
    for k, t_s in enumerate(times):
        out.append(t_s)
        nxt = times[k + 1] if k + 1 < n else info.end_s
        if nxt is not None and nxt - t_s > GAP_FACTOR * p:
            out.append(t_s + p)
    return out


def _thin(times: list[float], most: int) -> list[float]:
    """At most ``most`` of ``times``, evenly spread, the first and last kept."""
    n = len(times)
    if n <= most:
        return times
    if most < 2:
        return times[-most:] if most > 0 else []
    return [times[round(k * (n - 1) / (most - 1))] for k in range(most)]


@dataclass(frozen=True, slots=True)
class _Snap:
    """Where a replayed picture stands: its time, its snapshot's rows and its trails' rows."""

    t_s: float
    rows: tuple[int, int] | None  # rowid range of the snapshot's tracks (None: no tracks)
    trail_rows: tuple[int, int] | None  # rowid range of the trails' snapshots


def _snapshot(index: _Index, info: Info, t: float, top: int) -> _Snap:
    """The snapshot a picture at ``t`` shows (call holding the index's lock).

    Before the first snapshot, and from one period after a snapshot that no other followed
    within :data:`GAP_FACTOR` periods, the picture has no tracks. Snapshots beyond rowid
    ``top`` are not visible to the reading transaction and are passed over.
    """
    times, p = index.times, info.slow_period_s
    k = bisect.bisect_right(times, t) - 1
    while k >= 0 and index.lo[k] > top:
        k -= 1
    if k < 0:
        return _Snap(t, None, None)
    t_s = times[k]
    nxt = times[k + 1] if k + 1 < len(times) else info.end_s
    if nxt is not None and nxt - t_s > GAP_FACTOR * p and t >= t_s + p:
        return _Snap(t_s + p, None, None)
    first = max(bisect.bisect_right(times, t_s - TRAIL_S), k - TRAIL_POINTS + 1, 0)
    return _Snap(
        t_s,
        (index.lo[k], index.hi[k]),
        (min(index.lo[first : k + 1]), max(index.hi[first : k + 1])),
    )


def _track(row: tuple[Any, ...], zones: tuple[str, ...]) -> dict[str, object] | None:
    """One ``track`` row as the live picture's track object (what is not recorded: null)."""
    track_id = _i(row[0])
    if track_id is None:
        return None
    coop = row[13]
    threat = row[15] if row[15] in _THREAT_RANK else "none"
    return {
        "track_id": track_id,
        "t_s": _r(row[1], 3),
        "lat_deg": _r(row[2], 7),
        "lon_deg": _r(row[3], 7),
        "alt_m": _r(row[4], 2),
        "east_m": _r(row[5], 2),
        "north_m": _r(row[6], 2),
        "up_m": _r(row[7], 2),
        "speed_ms": _r(row[8], 2),
        "heading_deg": _r(row[9], 1),
        "climb_ms": _r(row[10], 2),
        "object_class": _s(row[11]) or "unknown",
        "class_prob": _r(row[12], 3),
        "cooperative": bool(coop) if isinstance(coop, int) else False,
        "uas_id": _s(row[14]),
        "threat": threat,
        "zones_inside": _zones(row[16], zones),
        "time_to_breach_s": _r(row[17], 1),
        "pos_std_m": _r(row[18], 2),
        "icao": _s(row[19]),
        "sensors": [],
        "rf_protocol": None,
        "rf_serial": None,
        "rf_band_mhz": None,
        "own_asset": None,
        "ellipse_m": None,
        "class_probs": [],
        "class_reasons": [],
    }


def _tracks(db: sqlite3.Connection, snap: _Snap, info: Info) -> list[dict[str, object]]:
    """The snapshot's tracks, most threatening first (as the live picture orders them)."""
    if snap.rows is None:
        return []
    rows = db.execute(TRACKS_SQL, (*snap.rows, snap.t_s, MAX_TRACKS)).fetchall()
    out = []
    for row in rows:
        track = _track(row, info.zone_names)
        if track is not None:
            out.append(track)
    return out


def _add_pilots(tracks: list[dict[str, object]], index: _Index, at: float) -> None:
    """Give each track its pilot: the last ``identify.pilot`` record for it up to ``at``."""
    ids = {tr["track_id"] for tr in tracks}
    last: dict[int, tuple[float, dict[str, Any]]] = {}
    n = bisect.bisect_right(index.audit_keys, (at, math.inf))
    for t_s, kind, p in index.audit[:n]:
        tid = _i(p.get("track_id"))
        if kind == "identify.pilot" and tid is not None and tid in ids:
            last[tid] = (t_s, p)
    for tr in tracks:
        track_id = tr["track_id"]
        found = last.get(track_id) if isinstance(track_id, int) else None
        if found is None:
            continue
        p = found[1]
        ellipse = p.get("ellipse_m")
        evidence = _f(p.get("evidence_t_s"))
        tr.update(
            pilot_lat_deg=_r(p.get("lat"), 7),
            pilot_lon_deg=_r(p.get("lon"), 7),
            pilot_err_m=_r(p.get("err_m"), 1),
            pilot_ellipse_m=[_r(x, 1) for x in ellipse[:3]]
            if isinstance(ellipse, list) and len(ellipse) >= 3
            else None,
            pilot_source=_s(p.get("source")),
            pilot_age_s=_r(max(at - evidence, 0.0), 1) if evidence is not None else None,
        )


def _trails(
    db: sqlite3.Connection, snap: _Snap, ids: set[object]
) -> dict[str, list[list[float | None]]]:
    """Each track's positions in the last :data:`TRAIL_S` seconds, oldest first."""
    if snap.trail_rows is None or not ids:
        return {}
    points: dict[int, list[tuple[float, float, float, float | None]]] = {}
    for tid, t_s, lat, lon, alt in db.execute(
        TRAILS_SQL, (*snap.trail_rows, snap.t_s - TRAIL_S, snap.t_s, MAX_TRACKS * TRAIL_POINTS)
    ):
        t, la, lo = _r(t_s, 3), _r(lat, 7), _r(lon, 7)
        if tid not in ids or t is None or la is None or lo is None:
            continue
        points.setdefault(tid, []).append((t, la, lo, _r(alt, 2)))
    return {
        str(tid): [list(p) for p in sorted(pts, key=_first)[-TRAIL_POINTS:]]
        for tid, pts in points.items()
    }


def _first(point: tuple[float, float, float, float | None]) -> float:
    return point[0]


# --- alerts and the counter stage, folded from the records -----------------------------------


def _alert(
    event: dict[str, Any], raised: float, cleared: float | None, acked: tuple[float, str] | None
) -> dict[str, object]:
    """An alert as it stood after ``event`` (the live picture's alert object)."""
    return {
        "alert_id": event["alert_id"],
        "track_id": event["track_id"],
        "zone": event["zone"],
        "level": event["level"],
        "kind": event["kind"],
        "raised_t_s": raised,
        "updated_t_s": event["t_s"],
        "object_class": event["object_class"],
        "uas_id": event["uas_id"],
        "state": event["state"],
        "cleared_t_s": cleared,
        "acknowledged_by": acked[1] if acked is not None and acked[0] <= event["t_s"] else None,
        "message": event["message"],
    }


def _acks(index: _Index, at: float) -> dict[int, tuple[float, str]]:
    """Who acknowledged each alert, and when, from the command records up to ``at``."""
    out: dict[int, tuple[float, str]] = {}
    n = bisect.bisect_right(index.audit_keys, (at, math.inf))
    for t_s, kind, p in index.audit[:n]:
        target, who = _i(p.get("target")), _s(p.get("operator"))
        if kind == "command.acknowledge" and p.get("ok") is True and target is not None and who:
            out.setdefault(target, (t_s, who))
    return out


def _alerts(
    index: _Index, at: float, window_s: float
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The alerts open at ``at``, and the alert changes in ``(at - window_s, at]``."""
    n = bisect.bisect_right(index.alert_keys, (at, math.inf))
    acks = _acks(index, at)
    raised: dict[int, float] = {}
    last: dict[int, dict[str, Any]] = {}
    changes: deque[dict[str, object]] = deque(maxlen=MAX_ALERTS)
    for event in index.alerts[:n]:
        aid = event["alert_id"]
        raised.setdefault(aid, event["t_s"])
        last[aid] = event
        if event["t_s"] > at - window_s:
            cleared = event["t_s"] if event["event"] == "cleared" else None
            changes.append(
                {
                    "t_s": event["t_s"],
                    "kind": event["event"],
                    "alert": _alert(event, raised[aid], cleared, acks.get(aid)),
                }
            )
    open_ = [
        _alert(e, raised[aid], None, acks.get(aid))
        for aid, e in last.items()
        if e["event"] != "cleared" and e["state"] != "cleared"
    ]
    open_.sort(key=lambda a: (-_THREAT_RANK.get(str(a["level"]), 0), a["raised_t_s"]))
    return open_[:MAX_ALERTS], list(changes)


def _option(o: object) -> dict[str, object] | None:
    """A recorded option (``Option.as_dict``) in the picture's shape; unrecorded parts null."""
    if not isinstance(o, dict):
        return None
    return {
        "effector": _s(o.get("effector")),
        "kind": _s(o.get("kind")),
        "usable": o.get("usable") if isinstance(o.get("usable"), bool) else None,
        "t_effect_s": _f(o.get("t_effect_s")),
        "before_breach": o.get("before_breach")
        if isinstance(o.get("before_breach"), bool)
        else None,
        "p_effect": _f(o.get("p_effect")),
        "blocked_by": [str(b) for b in o.get("blocked_by") or () if isinstance(b, str)],
        "warnings": [str(w) for w in o.get("warnings") or () if isinstance(w, str)],
        "doubt": None,
        "collateral": None,
        "safety": [],
    }


def _from_track(detail: object) -> int | None:
    """The old track of a handover event's detail, ``"from track 12"``."""
    if isinstance(detail, str) and detail.startswith("from track "):
        with contextlib.suppress(ValueError):
            return int(detail[11:])
    return None


@dataclass(slots=True)
class _Counter:
    """The counter stage's recommendations, engagements and held approvals, folded."""

    kinds: dict[str, str]  # effector name → kind
    recs: dict[int, dict[str, Any]] = field(default_factory=dict)
    engs: dict[int, dict[str, Any]] = field(default_factory=dict)
    held: dict[int, dict[str, Any]] = field(default_factory=dict)

    def apply(self, t_s: float, kind: str, p: dict[str, Any]) -> None:
        """Fold one audit record (``counter.*``, ``command.*``, ``approval.cancelled``)."""
        rec_id, eng_id, track_id = _i(p.get("rec_id")), _i(p.get("eng_id")), _i(p.get("track_id"))
        detail = _s(p.get("detail")) or ""
        rec = self.recs.get(rec_id) if rec_id is not None else None
        eng = self.engs.get(eng_id) if eng_id is not None else None
        if kind == "counter.recommended" and rec_id is not None and track_id is not None:
            options = [o for o in map(_option, p.get("options") or ()) if o is not None]
            self.recs[rec_id] = {
                "rec_id": rec_id,
                "track_id": track_id,
                "state": "pending",
                "created_t_s": t_s,
                "updated_t_s": t_s,
                "options": options,
                "decided_by": None,
                "reason": "",
                "why": _s(p.get("why")) or "",
            }
        elif kind in ("counter.expired", "counter.rejected", "counter.approved") and rec:
            rec["state"] = kind.removeprefix("counter.")
            rec["decided_by"] = _s(p.get("by"))
            rec["reason"] = detail if kind != "counter.approved" else ""
        if kind == "counter.approved" and eng_id is not None and rec_id is not None:
            self.engs[eng_id] = {
                "eng_id": eng_id,
                "rec_id": rec_id,
                "track_id": track_id,
                "effector": detail,
                "effector_kind": self.kinds.get(detail),
                "approved_by": _s(p.get("by")),
                "approved_t_s": t_s,
                "state": "approved",
                "outcome": None,
                "outcome_t_s": None,
                "covered": [],
                "reason": "",
                "confirmed_by": None,
            }
        elif eng is not None:
            self._engagement(t_s, kind.removeprefix("counter."), eng, track_id, detail)
        if kind.startswith("command.") and p.get("ok") is True:
            self._command(kind.removeprefix("command."), p)
        elif kind == "approval.cancelled" and rec_id is not None:
            self.held.pop(rec_id, None)

    def _engagement(
        self, t_s: float, event: str, eng: dict[str, Any], track_id: int | None, detail: str
    ) -> None:
        if event in ("tasked", "engaging"):
            eng["state"] = event
        elif event == "refused":
            eng["state"], eng["reason"] = "refused", detail.rpartition(": ")[2]
        elif event in ("ceased", "interlock"):
            eng["state"], eng["reason"] = "ceased", detail
        elif event == "holding" and track_id == eng["track_id"]:
            eng["outcome"] = "hovering"
        elif event == "covered" and track_id is not None:
            eng["covered"].append(track_id)
        elif event == "handover" and track_id is not None:
            old = _from_track(detail)
            if old == eng["track_id"]:
                eng["track_id"] = track_id
            elif old in eng["covered"]:
                eng["covered"][eng["covered"].index(old)] = track_id
        elif event == "assessed":
            eng["state"], eng["outcome"], eng["outcome_t_s"] = "assessed", detail or None, t_s
            if track_id is not None:
                eng["track_id"] = track_id

    def _command(self, kind: str, p: dict[str, Any]) -> None:
        target = _i(p.get("target"))
        if target is None:
            return
        approval = p.get("approval")
        if kind == "approve" and p.get("status") == "awaiting confirmation":
            if not isinstance(approval, dict):
                return
            rec = self.recs.get(target)
            effector = _s(approval.get("effector")) or ""
            self.held[target] = {
                "rec_id": target,
                "effector": effector,
                "approved_by": _s(approval.get("approved_by")),
                "t_s": _f(approval.get("approved_t_s")),
                "expires_t_s": _f(approval.get("expires_t_s")),
                "track_id": rec["track_id"] if rec else None,
                "effector_kind": self.kinds.get(effector),
            }
        elif kind in ("confirm", "reject"):
            self.held.pop(target, None)
        eng = self.engs.get(_i(p.get("eng_id")) or -1)
        if kind == "confirm" and eng is not None and isinstance(approval, dict):
            # Two persons: the engagement names who approved first and who confirmed.
            eng["approved_by"] = _s(approval.get("approved_by"))
            eng["confirmed_by"] = _s(p.get("operator"))


def _counter(
    index: _Index, at: float, info: Info
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Pending recommendations, engagements in the picture and held approvals at ``at``."""
    state = _Counter({name: kind for name, kind, _ in info.effectors})
    n = bisect.bisect_right(index.audit_keys, (at, math.inf))
    for t_s, kind, payload in index.audit[:n]:
        state.apply(t_s, kind, payload)
    recs = sorted(
        (r for r in state.recs.values() if r["state"] == "pending"),
        key=lambda r: (r["created_t_s"], r["rec_id"]),
    )
    engs = [
        e
        for _, e in sorted(state.engs.items())
        if e["state"] in _ACTIVE or (e["outcome_t_s"] or e["approved_t_s"]) >= at - ENDED_KEPT_S
    ]
    pending = sorted(
        (a for a in state.held.values() if a["expires_t_s"] is not None and at <= a["expires_t_s"]),
        key=lambda a: (a["t_s"] or 0.0, a["rec_id"]),
    )
    return recs, engs, pending


# --- the HTTP side -------------------------------------------------------------------------------


class Problem(BaseModel):
    """An error: one line, or (a malformed request) FastAPI's list of what was wrong."""

    detail: str | list[Any]


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No recording has this id."},
    422: {"model": Problem, "description": "Not a readable recording, or a malformed request."},
    503: {"model": Problem, "description": "Busy or still indexing: try again (Retry-After)."},
}


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_LISTED_PROPS: dict[str, object] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "start_s": {"type": "number"},
    "end_s": {"type": "number"},
    "live": {"type": "boolean"},
}
_LISTED = {"type": "object", "properties": _LISTED_PROPS, "required": list(_LISTED_PROPS)}
_SPAN = {
    "type": "object",
    "properties": {
        **{k: v for k, v in _LISTED_PROPS.items() if k != "live"},
        "times": {"type": "array", "items": {"type": "number"}},
    },
    "required": ["id", "name", "start_s", "end_s", "times"],
}
_OBJECTS = {"type": "array", "items": {"type": "object"}}
# The recorded picture: the live picture's sections, with what a recording does not keep as
# null or empty (feed counters, node health, Remote ID), plus its trails and the recording.
_PICTURE = {
    "type": "object",
    "properties": {
        "type": {"const": "replay"},
        "seq": {"type": "null"},
        "t_s": {"type": "number"},
        "site": {"type": "string"},
        **{k: _OBJECTS for k in ("tracks", "alerts", "alert_changes", "recommendations",
                                 "engagements", "feeds", "nodes", "effectors",
                                 "pending_approvals", "remote_ids", "swarms")},
        "new_tracks": {"type": "array", "maxItems": 0},
        "dropped_tracks": {"type": "array", "maxItems": 0},
        "counters": {"type": "object"},
        "trails": {"type": "object"},
        "replay": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "start_s": _NUMBER_OR_NULL,
                           "end_s": _NUMBER_OR_NULL},
        },
    },
    "required": ["type", "t_s", "site", "tracks", "alerts", "feeds", "trails", "replay"],
}  # fmt: skip


def replay_router(viewer: Callable[..., Session], recordings: Recordings) -> APIRouter:
    """The replay endpoints (any logged-in person; read-only): list, span, picture at a time.

    ``viewer`` is the console's FastAPI dependency for a logged-in person
    (:meth:`luchtwacht.console.server.Console.viewer`). The endpoints are plain functions:
    FastAPI runs them on its thread pool, off the console's event loop.
    """
    router = APIRouter()
    Viewer = Annotated[Session, Depends(viewer)]  # noqa: N806 - a type alias

    def entry(rec_id: str) -> Entry:
        found = recordings.find(rec_id)
        if found is None:
            raise HTTPException(404, "no such recording")
        return found

    def answer(call: Callable[[], object]) -> JSONResponse:
        try:
            return JSONResponse(call())
        except RecordingError as exc:
            headers = {"Retry-After": "1"} if exc.status == 503 else None
            raise HTTPException(exc.status, exc.message, headers=headers) from None

    @router.get(
        "/api/replay", responses={**ok({"type": "array", "items": _LISTED}), 503: _ERRORS[503]}
    )
    def replay_list(who: Viewer) -> JSONResponse:
        """The recordings that can be replayed: id, name, start_s, end_s, live."""
        return answer(recordings.listing)

    @router.get("/api/replay/{rec_id}", responses={**ok(_SPAN), **_ERRORS})
    def replay_span(rec_id: str, who: Viewer) -> JSONResponse:
        """One recording's span and its snapshot times (UTC seconds, ascending)."""
        found = entry(rec_id)
        return answer(lambda: recordings.span(found))

    @router.get("/api/replay/{rec_id}/picture", responses={**ok(_PICTURE), **_ERRORS})
    def replay_picture(
        rec_id: str,
        t: Annotated[float, Query(allow_inf_nan=False, description="UTC seconds")],
        who: Viewer,
    ) -> JSONResponse:
        """The picture at the last snapshot at or before ``t``, with trails (``type: replay``)."""
        found = entry(rec_id)
        return answer(lambda: recordings.picture(found, t))

    return router
