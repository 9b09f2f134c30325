"""The recorder: everything the pipeline saw and decided, in one SQLite file (WAL mode).

Raw sensor bytes are kept as received so a replay can feed them through the same decoders;
rejections keep their reason; track snapshots and alert events are kept per assessment cycle;
every alert event and run milestone also goes into ``audit``.

Every record of every table is hash-chained and every commit is signed with the node's Ed25519
key (:mod:`luchtwacht.store.chain`): ``luchtwacht verify`` (:func:`verify_recording`) names the
first row changed, removed or inserted, a tail cut off, a chain recomputed without the key, and a
run that ended without its closing record. Rows and their commit record go into one SQLite
transaction, so a crash (``kill -9``) leaves every commit whole and nothing after it; WAL with
``synchronous=NORMAL`` keeps committed transactions across a process crash (a power cut may lose
the last ones, never corrupt the chain). Writes are batched per cycle.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import struct
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, TrackView
from luchtwacht.store.chain import (
    CHAINED,
    COMMIT_TABLE,
    FORMAT,
    GENESIS,
    ChainReport,
    ChainVerifier,
    CommitRecord,
    NodeKey,
    decode_heads,
    encode_heads,
    link,
    seal_commit,
)
from luchtwacht.store.rows import alert_audit, alert_event_row, track_row

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta_log (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, hash BLOB);
CREATE TABLE IF NOT EXISTS raw (
    seq INTEGER PRIMARY KEY, t_rx_s REAL NOT NULL, sensor_id TEXT NOT NULL,
    format TEXT NOT NULL, payload BLOB NOT NULL, hash BLOB);
CREATE TABLE IF NOT EXISTS rejection (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, sensor_id TEXT NOT NULL, reason TEXT NOT NULL,
    hash BLOB);
CREATE TABLE IF NOT EXISTS detection (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, sensor_id TEXT NOT NULL, east_m REAL,
    north_m REAL, up_m REAL, std_m REAL, ident TEXT, applied INTEGER NOT NULL, hash BLOB);
CREATE TABLE IF NOT EXISTS bearing (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, sensor_id TEXT NOT NULL, sensor_east_m REAL,
    sensor_north_m REAL, sensor_up_m REAL, azimuth_deg REAL, elevation_deg REAL,
    azimuth_std_deg REAL, applied INTEGER NOT NULL, hash BLOB);
CREATE TABLE IF NOT EXISTS track (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, track_id INTEGER NOT NULL, lat_deg REAL,
    lon_deg REAL, alt_m REAL, east_m REAL, north_m REAL, up_m REAL, speed_ms REAL,
    heading_deg REAL, climb_ms REAL, object_class TEXT, class_prob REAL, cooperative INTEGER,
    uas_id TEXT, threat TEXT, zones_inside TEXT, time_to_breach_s REAL, pos_std_m REAL,
    icao TEXT, hash BLOB);
CREATE INDEX IF NOT EXISTS track_by_id ON track (track_id, t_s);
CREATE TABLE IF NOT EXISTS tick (seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, hash BLOB);
CREATE TABLE IF NOT EXISTS alert_event (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, event TEXT NOT NULL, alert_id INTEGER NOT NULL,
    track_id INTEGER NOT NULL, zone TEXT NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, object_class TEXT, uas_id TEXT, message TEXT, hash BLOB);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    prev_hash TEXT, hash BLOB);
CREATE TABLE IF NOT EXISTS chain_commit (
    seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, closing INTEGER NOT NULL, heads BLOB NOT NULL,
    prev_hash BLOB NOT NULL, public_key BLOB NOT NULL, hash BLOB NOT NULL,
    signature BLOB NOT NULL);
"""
# Every chained table: ``seq`` (its rowid: the console reads snapshots as rowid ranges), the
# CHAINED columns, ``hash``. ``hash`` may be NULL so that hand-made test files can insert rows;
# such a row never verifies. ``audit.prev_hash`` is the old audit-only chain's column, kept so
# that writers of that layout still work; the chain leaves it NULL (each row's ``hash`` already
# covers the one before).

LEGACY_GENESIS = "0" * 64  # the audit chain of recordings made before every table was chained
SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
_INSERT = {
    t: f"INSERT INTO {t} (seq, {', '.join(cols)}, hash) VALUES ({', '.join('?' * (len(cols) + 2))})"
    for t, cols in CHAINED.items()
}


# What a row can be refused for: by SQLite (a constraint), or before, when it cannot be hashed
# or bound (a value of a type the chain does not know, an integer beyond 64 bits).
_REFUSED = (sqlite3.Error, TypeError, ValueError, OverflowError, struct.error)


class NotChainedError(Exception):
    """A recording made before every record was chained (only its audit log is)."""


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


def _legacy_hash(prev: str, seq: int, t_s: float, kind: str, payload: str) -> str:
    body = json.dumps([seq, t_s, kind, payload], separators=(",", ":"))
    return hashlib.sha256((prev + body).encode()).hexdigest()


def _is_legacy(db: sqlite3.Connection) -> bool:
    """Whether ``db`` is a recording from before the chain (its audit has ``prev_hash``)."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(audit)")}
    has_commits = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (COMMIT_TABLE,)
    ).fetchone()
    return "prev_hash" in cols and not has_commits


class Recorder:
    """Writes one run to an SQLite file; call :meth:`commit` once per cycle and :meth:`close`.

    ``key`` signs every commit; without one a key is made for this run (its public half is kept
    in the recording, so ``verify`` can check the run only against itself).
    """

    def __init__(self, path: str | Path, key: NodeKey | None = None) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if _is_legacy(self.db):
            self.db.close()
            raise NotChainedError(f"{self.path}: recorded in an older format; cannot append")
        self.db.executescript(SCHEMA)
        self.key = key if key is not None else NodeKey.generate()
        self._heads: dict[str, tuple[int, bytes]] = {}
        for table in CHAINED:
            row = self.db.execute(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")
            last = row.fetchone()
            digest = bytes(last[1]) if last and isinstance(last[1], bytes) else b""
            # A last row without a proper hash (put in by hand) cannot be chained from: the
            # chain goes on from zeros there, and verify names that row.
            self._heads[table] = (
                (int(last[0]), digest if len(digest) == 32 else GENESIS) if last else (0, GENESIS)
            )
        row = self.db.execute(f"SELECT seq, hash FROM {COMMIT_TABLE} ORDER BY seq DESC LIMIT 1")
        last = row.fetchone()
        self._commit_head: tuple[int, bytes] = (
            (int(last[0]), bytes(last[1])) if last else (0, GENESIS)
        )
        self._dirty = False
        self._raw: list[tuple[object, ...]] = []
        self._ticks: list[tuple[object, ...]] = []
        self._tracks: dict[tuple[int, float], tuple[object, ...]] = {}
        self.set_meta(chain_format=FORMAT, signing_key=self.key.public_pem().decode())

    # -- the chain -------------------------------------------------------------------------

    def _insert(self, table: str, rows: Sequence[Sequence[object]]) -> None:
        """Number, hash and insert rows of ``table``; a row the database refuses is left out.

        The chain's head moves only over rows that are in the file: a batch is inserted under a
        savepoint, and if one row fails the rest are inserted one by one, then the first error
        is raised (the caller counts it).
        """
        if not rows:
            return
        try:
            self._insert_chained(table, rows)
        except _REFUSED:
            if len(rows) == 1:
                raise
            first: Exception | None = None
            for row in rows:
                try:
                    self._insert_chained(table, (row,))
                except _REFUSED as exc:
                    first = first or exc
            if first is not None:
                raise first from None

    def _insert_chained(self, table: str, rows: Sequence[Sequence[object]]) -> None:
        seq, prev = self._heads[table]
        out: list[tuple[object, ...]] = []
        for values in rows:
            seq += 1
            prev = link(prev, table, seq, values)
            out.append((seq, *values, prev))
        if not self.db.in_transaction:
            self.db.execute("BEGIN")  # so that RELEASE below never commits by itself
        self.db.execute("SAVEPOINT chained")
        try:
            self.db.executemany(_INSERT[table], out)
        except BaseException:
            self.db.execute("ROLLBACK TO chained")
            self.db.execute("RELEASE chained")
            raise
        self.db.execute("RELEASE chained")
        self._heads[table] = (seq, prev)
        self._dirty = True

    # -- the Store port --------------------------------------------------------------------

    def set_meta(self, **items: str) -> None:
        """Run metadata (scenario, seed, version); each change is chained in ``meta_log``."""
        # As text, as the column keeps it (a number would hash otherwise than it reads back);
        # None stays None, for the NOT NULL constraint to refuse.
        pairs = [(k, None if v is None else str(v)) for k, v in items.items()]
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", pairs)
        self._insert("meta_log", pairs)

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Keep bytes exactly as received (buffered until the next commit)."""
        self._raw.append((t_rx_s, sensor_id, fmt, payload))

    def rejections(self, t_s: float, sensor_id: str, reasons: Iterable[str]) -> None:
        """Record why messages of a sensor were rejected."""
        self._insert("rejection", [(t_s, sensor_id, r) for r in reasons])

    def detections(self, batch: DetectionBatch, applied: bool = True) -> None:
        """The decoded detections of one batch in site ENU, and whether the tracker used them."""
        std = np.sqrt(np.trace(batch.R, axis1=1, axis2=2) / 3.0)
        idents = batch.ident or (None,) * len(batch)
        self._insert(
            "detection",
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
                for t, z, s, i in zip(batch.t_s.tolist(), batch.z.tolist(), std.tolist(), idents,
                                      strict=True)
            ],
        )  # fmt: skip

    def bearings(self, batch: BearingBatch, applied: bool = True) -> None:
        """The decoded angle-only detections of one batch (site frame), and whether used."""
        e, n, u = (float(v) for v in batch.sensor_enu_m)
        rows = []
        for az, el, sd in zip(
            batch.azimuth_rad, batch.elevation_rad, batch.azimuth_std_rad, strict=True
        ):
            el_deg = None if math.isnan(el) else math.degrees(float(el))
            rows.append(
                (float(batch.t_s), batch.sensor_id, e, n, u, math.degrees(float(az)), el_deg,
                 math.degrees(float(sd)), int(applied))
            )  # fmt: skip
        self._insert("bearing", rows)

    def tracks(self, views: Iterable[TrackView]) -> None:
        """Snapshot of the confirmed tracks at one cycle (chained and written at the commit).

        A track's instant given twice before the commit keeps the later snapshot, as the
        ``INSERT OR REPLACE`` of older recordings did; once committed a row is never replaced.
        """
        for v in views:
            self._tracks[(v.track_id, v.t_s)] = track_row(v)

    def tick(self, t_s: float) -> None:
        """The node core ran a tick at ``t_s`` (buffered until the next commit)."""
        self._ticks.append((t_s,))

    def alert_event(self, t_s: float, event: str, alert: Alert) -> None:
        """An alert was raised, escalated, acknowledged or cleared; also written to the audit."""
        self._insert("alert_event", [alert_event_row(t_s, event, alert)])
        self.audit(t_s, f"alert.{event}", alert_audit(alert))

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> str:
        """Append an audit record (chained like every row); returns its hash in hex."""
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        self._insert("audit", [(t_s, kind, text)])
        return self._heads["audit"][1].hex()

    def commit(self, *, closing: bool = False) -> None:
        """Flush buffered rows, write the signed commit record and commit the transaction.

        A commit with nothing new writes no record (an idle node does not grow the file);
        ``closing`` always writes one: the run's end.
        """
        buffered = (("raw", self._raw), ("tick", self._ticks), ("track", [*self._tracks.values()]))
        self._raw, self._ticks, self._tracks = [], [], {}
        error: Exception | None = None
        for table, rows in buffered:
            try:
                self._insert(table, rows)
            except _REFUSED as exc:  # those rows are left out; the rest is committed
                error = error or exc
        if self._dirty or closing:
            seq = self._commit_head[0] + 1
            rec = seal_commit(
                self.key, seq, time.time(), closing, self._heads, self._commit_head[1]
            )
            self.db.execute(
                f"INSERT INTO {COMMIT_TABLE} (seq, t_s, closing, heads, prev_hash, public_key,"
                " hash, signature) VALUES (?,?,?,?,?,?,?,?)",
                (rec.seq, rec.t_s, int(rec.closing), encode_heads(rec.heads), rec.prev_hash,
                 rec.public_key, rec.hash, rec.signature),
            )  # fmt: skip
            self._commit_head = (rec.seq, rec.hash)
            self._dirty = False
        self.db.commit()
        if error is not None:
            raise error

    def close(self) -> None:
        """Commit with the closing record (the run ended, not cut off) and close the file."""
        self.commit(closing=True)
        self.db.close()


# -- verification ----------------------------------------------------------------------------


def _open_ro(path: str | Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)


def read_commits(db: sqlite3.Connection) -> list[CommitRecord]:
    """The commit records of an open recording, in seq order.

    A malformed heads blob is read as empty heads: its hash then fails, located at that commit.
    """
    out = []
    for seq, t_s, closing, heads, prev, pub, digest, sig in db.execute(
        f"SELECT seq, t_s, closing, heads, prev_hash, public_key, hash, signature"
        f" FROM {COMMIT_TABLE} ORDER BY seq"
    ):
        try:
            decoded = decode_heads(bytes(heads))
        except (ValueError, TypeError):
            decoded = {}
        out.append(
            CommitRecord(
                int(seq), float(t_s), bool(closing), decoded, _b(prev), _b(pub), _b(digest),
                _b(sig),
            )
        )  # fmt: skip
    return out


def _b(v: object) -> bytes:
    return bytes(v) if isinstance(v, bytes | bytearray | memoryview) else str(v).encode()


def verify_recording(path: str | Path, public_pem: bytes | None = None) -> ChainReport:
    """Check every chained table and signed commit of a recording (see :class:`ChainVerifier`).

    ``public_pem`` is the trusted key; without it the recording is checked against the key it
    carries. Raises :class:`NotChainedError` for a recording made before the chain, and
    ``sqlite3.DatabaseError`` for a file that is not a recording.
    """
    db = _open_ro(path)
    try:
        if _is_legacy(db):
            ok, n, problem = _verify_legacy_audit(db)
            state = "intact" if ok else f"BROKEN after {n} records: {problem}"
            raise NotChainedError(
                f"{path}: recorded before every record was chained; only its audit log is"
                f" ({state}), the rest cannot be verified"
            )
        verifier = ChainVerifier(public_pem)
        verifier.commits(read_commits(db))
        for table, cols in CHAINED.items():
            cur = db.execute(f"SELECT seq, {', '.join(cols)}, hash FROM {table} ORDER BY seq")
            verifier.rows(table, ((r[0], r[1:-1], r[-1]) for r in cur))
        verifier.meta({str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")})
        return verifier.report()
    finally:
        db.close()


def _verify_legacy_audit(db: sqlite3.Connection) -> tuple[bool, int, str]:
    prev = LEGACY_GENESIS
    n = 0
    expect_seq = 1
    for seq, t_s, kind, payload, prev_hash, digest in db.execute(
        "SELECT seq, t_s, kind, payload, prev_hash, hash FROM audit ORDER BY seq"
    ):
        if seq != expect_seq:
            return False, n, f"row {expect_seq} is missing"
        if prev_hash != prev or _legacy_hash(prev, seq, t_s, kind, payload) != digest:
            return False, n, f"row {seq} does not match its hash"
        prev, n, expect_seq = digest, n + 1, expect_seq + 1
    row = db.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
    if row is None:
        return False, n, "the chain's head is not recorded"
    if row[0] != f"{n}:{prev}":
        head_seq = str(row[0]).split(":", 1)[0]
        return False, n, f"the chain ends at row {n}, its recorded head is row {head_seq}"
    return True, n, ""


def verify_audit_chain(path: str | Path) -> tuple[bool, int, str]:
    """Verify a whole recording: (intact, audit records, first problem or "").

    Kept for its callers: every chained table and commit is checked, not only the audit log.
    A recording from before the chain gets the old audit-only check.
    """
    db = _open_ro(path)
    try:
        legacy = _is_legacy(db)
        if legacy:
            return _verify_legacy_audit(db)
    finally:
        db.close()
    report = verify_recording(path)
    if report.problem is None:
        return True, report.rows["audit"], ""
    p = report.problem
    n = p.seq - 1 if p.table == "audit" else report.rows["audit"]
    return False, n, p.describe()
