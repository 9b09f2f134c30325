"""The recorder: everything the pipeline saw and decided, in one SQLite file (WAL mode).

Raw sensor bytes are kept as received so a replay can feed them through the same decoders;
rejections keep their reason; track snapshots and alert events are kept per assessment cycle.
Every alert event and run milestone also goes into ``audit``, where each row carries
SHA-256(previous hash ‖ canonical JSON of the row): editing or deleting a past row breaks every
hash after it, which :func:`verify_audit_chain` detects. The newest row has nothing after it, so
the chain's head (sequence number and hash) is also kept in ``meta`` at every commit and checked:
cutting rows off the end then shows. Someone who rewrites the whole file could forge that too;
against them, note the head hash ``luchtwacht verify`` prints outside the file (an incident log, a
signed message). Writes are batched per cycle.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, TrackView

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raw (
    seq INTEGER PRIMARY KEY, t_rx_s REAL NOT NULL, sensor_id TEXT NOT NULL,
    format TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rejection (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, sensor_id TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS detection (
    t_s REAL NOT NULL, sensor_id TEXT NOT NULL, east_m REAL, north_m REAL, up_m REAL,
    std_m REAL, ident TEXT, applied INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bearing (
    t_s REAL NOT NULL, sensor_id TEXT NOT NULL, sensor_east_m REAL, sensor_north_m REAL,
    sensor_up_m REAL, azimuth_deg REAL, elevation_deg REAL, azimuth_std_deg REAL,
    applied INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS track (
    t_s REAL NOT NULL, track_id INTEGER NOT NULL, lat_deg REAL, lon_deg REAL, alt_m REAL,
    east_m REAL, north_m REAL, up_m REAL, speed_ms REAL, heading_deg REAL, climb_ms REAL,
    object_class TEXT, class_prob REAL, cooperative INTEGER, uas_id TEXT, threat TEXT,
    zones_inside TEXT, time_to_breach_s REAL, pos_std_m REAL, icao TEXT,
    PRIMARY KEY (track_id, t_s));
CREATE TABLE IF NOT EXISTS tick (seq INTEGER PRIMARY KEY, t_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alert_event (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, event TEXT NOT NULL, alert_id INTEGER NOT NULL,
    track_id INTEGER NOT NULL, zone TEXT NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, object_class TEXT, uas_id TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
"""

GENESIS = "0" * 64
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def new_recording_problem(path: Path, overwrite: bool) -> str | None:
    """Why a run cannot record into ``path`` from its start, or None; checked before it starts.

    A recording holds one run: a second run appended to it would make ``replay --check`` fail,
    so an existing recording is only replaced when the caller says ``overwrite``. A file that is
    not SQLite is never written into, overwrite or not: it is likely someone's other data.
    """
    if path.is_dir():
        return f"{path}: is a folder, not a recording file"
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        return f"{path}: {parent} is not a folder"
    if not parent.is_dir():
        return f"{path}: no such folder {parent}"
    if not os.access(parent, os.W_OK):
        return f"{path}: folder {parent} is not writable"
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        return f"{path}: cannot read ({exc.strerror})"
    if head != SQLITE_MAGIC:
        return f"{path}: not a SQLite recording; refusing to write into it"
    if not overwrite:
        return f"{path}: already holds a recording; give --overwrite to replace it"
    return None


def remove_recording(path: Path) -> None:
    """Delete a recording with its WAL and shared-memory files, so a new run starts it afresh."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


def _chain_hash(prev: str, seq: int, t_s: float, kind: str, payload: str) -> str:
    body = json.dumps([seq, t_s, kind, payload], separators=(",", ":"))
    return hashlib.sha256((prev + body).encode()).hexdigest()


class Recorder:
    """Writes one run to an SQLite file; call :meth:`commit` once per cycle and :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._last_seq, self._last_hash = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        self._raw: list[tuple[float, str, str, bytes]] = []
        self._ticks: list[tuple[float]] = []

    def set_meta(self, **items: str) -> None:
        """Run metadata (scenario, seed, version)."""
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(items.items()))

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Keep bytes exactly as received (buffered until the next commit)."""
        self._raw.append((t_rx_s, sensor_id, fmt, payload))

    def rejections(self, t_s: float, sensor_id: str, reasons: Iterable[str]) -> None:
        """Record why messages of a sensor were rejected."""
        self.db.executemany(
            "INSERT INTO rejection (t_s, sensor_id, reason) VALUES (?, ?, ?)",
            [(t_s, sensor_id, r) for r in reasons],
        )

    def detections(self, batch: DetectionBatch, applied: bool = True) -> None:
        """The decoded detections of one batch in site ENU, and whether the tracker used them."""
        std = np.sqrt(np.trace(batch.R, axis1=1, axis2=2) / 3.0)
        idents = batch.ident or (None,) * len(batch)
        self.db.executemany(
            "INSERT INTO detection VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    float(t),
                    batch.sensor_id,
                    float(z[0]),
                    float(z[1]),
                    float(z[2]),
                    float(s),
                    i,
                    int(applied),
                )
                for t, z, s, i in zip(batch.t_s, batch.z, std, idents, strict=True)
            ],
        )

    def bearings(self, batch: BearingBatch, applied: bool = True) -> None:
        """The decoded angle-only detections of one batch (site frame), and whether used."""
        e, n, u = (float(v) for v in batch.sensor_enu_m)
        rows = []
        for az, el, sd in zip(
            batch.azimuth_rad, batch.elevation_rad, batch.azimuth_std_rad, strict=True
        ):
            el_deg = None if math.isnan(el) else math.degrees(float(el))
            rows.append(
                (batch.t_s, batch.sensor_id, e, n, u, math.degrees(float(az)), el_deg,
                 math.degrees(float(sd)), int(applied))
            )  # fmt: skip
        self.db.executemany("INSERT INTO bearing VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def tracks(self, views: Iterable[TrackView]) -> None:
        """Snapshot of the confirmed tracks at one cycle."""
        self.db.executemany(
            "INSERT OR REPLACE INTO track VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    v.t_s,
                    v.track_id,
                    v.lat_deg,
                    v.lon_deg,
                    v.alt_m,
                    v.east_m,
                    v.north_m,
                    v.up_m,
                    v.speed_ms,
                    v.heading_deg,
                    v.climb_ms,
                    v.object_class,
                    v.class_prob,
                    int(v.cooperative),
                    v.uas_id,
                    v.threat.label,
                    ",".join(v.zones_inside),
                    v.time_to_breach_s,
                    v.pos_std_m,
                    v.icao,
                )
                for v in views
            ],
        )

    def tick(self, t_s: float) -> None:
        """The node core ran a tick at ``t_s`` (buffered until the next commit)."""
        self._ticks.append((t_s,))

    def alert_event(self, t_s: float, event: str, alert: Alert) -> None:
        """An alert was raised, escalated, acknowledged or cleared; also chained into the audit."""
        self.db.execute(
            "INSERT INTO alert_event (t_s, event, alert_id, track_id, zone, level, kind, state,"
            " object_class, uas_id, message) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                t_s,
                event,
                alert.alert_id,
                alert.track_id,
                alert.zone,
                alert.level.label,
                alert.kind,
                alert.state.name.lower(),
                alert.object_class,
                alert.uas_id,
                alert.message,
            ),
        )
        self.audit(
            t_s,
            f"alert.{event}",
            {
                "alert_id": alert.alert_id,
                "track_id": alert.track_id,
                "zone": alert.zone,
                "level": alert.level.label,
                "message": alert.message,
            },
        )

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> str:
        """Append a hash-chained audit record; returns its hash."""
        seq = self._last_seq + 1
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        digest = _chain_hash(self._last_hash, seq, t_s, kind, text)
        self.db.execute(
            "INSERT INTO audit (seq, t_s, kind, payload, prev_hash, hash) VALUES (?,?,?,?,?,?)",
            (seq, t_s, kind, text, self._last_hash, digest),
        )
        self._last_seq, self._last_hash = seq, digest
        return digest

    def commit(self) -> None:
        """Flush buffered rows, note the audit chain's head and commit the transaction."""
        self.set_meta(audit_head=f"{self._last_seq}:{self._last_hash}")
        if self._raw:
            self.db.executemany(
                "INSERT INTO raw (t_rx_s, sensor_id, format, payload) VALUES (?,?,?,?)", self._raw
            )
            self._raw.clear()
        if self._ticks:
            self.db.executemany("INSERT INTO tick (t_s) VALUES (?)", self._ticks)
            self._ticks.clear()
        self.db.commit()

    def close(self) -> None:
        """Commit and close the file."""
        self.commit()
        self.db.close()


def verify_audit_chain(path: str | Path) -> tuple[bool, int, str]:
    """Recompute the audit chain of a recording: (intact, rows checked, first problem or "")."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        prev = GENESIS
        n = 0
        expect_seq = 1
        for seq, t_s, kind, payload, prev_hash, digest in db.execute(
            "SELECT seq, t_s, kind, payload, prev_hash, hash FROM audit ORDER BY seq"
        ):
            if seq != expect_seq:
                return False, n, f"row {expect_seq} is missing"
            if prev_hash != prev or _chain_hash(prev, seq, t_s, kind, payload) != digest:
                return False, n, f"row {seq} does not match its hash"
            prev, n, expect_seq = digest, n + 1, expect_seq + 1
        row = db.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        if row is None:
            return False, n, "the chain's head is not recorded"
        if row[0] != f"{n}:{prev}":
            head_seq = str(row[0]).split(":", 1)[0]
            return False, n, f"the chain ends at row {n}, its recorded head is row {head_seq}"
        return True, n, ""
    finally:
        db.close()


def audit_head(path: str | Path) -> str:
    """The recorded head of a recording's audit chain, ``"seq:sha256"`` (for noting elsewhere)."""
    db = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        return str(row[0]) if row else ""
    finally:
        db.close()
