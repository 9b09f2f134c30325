"""The PostgreSQL + PostGIS store: the records and the signed chain of the SQLite recorder.

Chosen in the site file (``store: {backend: postgresql, dsn: ...}``); the node writes it through
the :class:`~luchtwacht.store.port.Store` port from :class:`~luchtwacht.store.worker.
BackgroundStore`'s worker thread, so a slow server never slows the node's loop. Several runs
share one database: every row carries its ``run_id`` (table ``run``, one row per run).

Schema ``luchtwacht`` (made on first use, under an advisory lock):

- Every chained table of :data:`~luchtwacht.store.chain.CHAINED` with its columns, ``seq`` and
  ``hash`` as the SQLite recorder writes them, so :func:`verify_postgres` feeds the same
  :class:`~luchtwacht.store.chain.ChainVerifier` and a row hashes identically in both backends.
  Commit records (signed, Ed25519) go to ``chain_commit`` in the transaction of the rows they
  cover; the current metadata to ``meta``.
- The tables with a time (all but ``meta_log``) are partitioned by range of ``t_s`` (UTC
  seconds), one partition a UTC day (``detection_20261207``), made as rows for a new day come:
  old days are dropped (or moved to cheaper storage) a partition at a time. Rows without a
  finite time go to the table's default partition.
- Positions as PostGIS geometry (``POINT Z``, WGS84, SRID 4326): a track's lat/lon/alt, and a
  detection's site-ENU position converted with the site origin (kept as ``lat_deg``,
  ``lon_deg``, ``alt_m`` beside the chained ENU columns; ellipsoidal height). Indexes: GiST on
  the position as geography (metre distances, zone tests), BRIN on ``t_s`` (rows arrive in time
  order, so a block range index is small and fast to keep up), B-tree on ``(run_id, seq)`` for
  the chain and on ``(run_id, track_id, t_s)`` for a track's history.

Writes are buffered and sent once per commit: each table's rows with ``COPY``, the metadata and
the commit record, in one transaction, so a commit is all or nothing and a ``kill -9`` loses
only what was not yet committed. Every statement has a timeout (``statement_timeout_s``): a hung
server fails the commit instead of blocking for ever; the rows stay buffered (up to
``max_pending_rows``, beyond which new rows are refused before they are chained, so the chain
never has holes) and go with the next commit that succeeds, on a new connection if needed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from luchtwacht.geo.frames import SiteOrigin
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

__all__ = [
    "SCHEMA",
    "DetectionSample",
    "PostgresStore",
    "PostgresStoreError",
    "TrackSample",
    "ZonePassage",
    "connect",
    "create_run",
    "ensure_schema",
    "redact_dsn",
    "runs",
    "tracks_in_zone",
    "verify_postgres",
    "within_radius",
]

log = logging.getLogger(__name__)

SCHEMA = "luchtwacht"
SCHEMA_VERSION = 1
DAY_S = 86_400.0  # one partition per UTC day of t_s
_LOCK_KEY = 0x6C77_7374  # pg_advisory_xact_lock key of schema and partition changes ("lwst")
_DAY_MIN, _DAY_MAX = 0, 2_932_896  # 1970-01-01 … 9999-12-31: days that have a partition name

# Column types: chained columns as the recorder writes them (REAL → double precision, INTEGER →
# bigint, TEXT → text, BLOB → bytea), so values read back hash as they were written.
_FLOAT = "double precision"
_TYPES: dict[str, str] = {
    "key": "text",
    "value": "text",
    "sensor_id": "text",
    "format": "text",
    "payload": "bytea",
    "reason": "text",
    "ident": "text",
    "applied": "bigint",
    "track_id": "bigint",
    "object_class": "text",
    "cooperative": "bigint",
    "uas_id": "text",
    "threat": "text",
    "zones_inside": "text",
    "icao": "text",
    "event": "text",
    "alert_id": "bigint",
    "zone": "text",
    "level": "text",
    "kind": "text",
    "state": "text",
    "message": "text",
}
_TABLE_TYPES = {("audit", "payload"): "text"}  # JSON text there, bytes in ``raw``
_NOT_NULL = {"t_s", "t_rx_s", "sensor_id", "format", "payload", "reason", "applied", "track_id",
             "event", "alert_id", "zone", "level", "kind", "state", "key", "value"}  # fmt: skip
_TIME = {t: cols[0] for t, cols in CHAINED.items() if cols and cols[0] in ("t_s", "t_rx_s")}
_POINT = (
    "CASE WHEN lat_deg IS NULL OR lon_deg IS NULL OR lat_deg = 'NaN' OR lon_deg = 'NaN' THEN NULL"
    " ELSE ST_SetSRID(ST_MakePoint(lon_deg, lat_deg,"
    " coalesce(nullif(alt_m, 'NaN'::double precision), 0)), 4326) END"
)
# Columns beside the chained ones: where a detection was, in WGS84 (derived from its ENU).
_EXTRA: dict[str, tuple[str, ...]] = {"detection": ("lat_deg", "lon_deg", "alt_m")}


class PostgresStoreError(RuntimeError):
    """The server cannot be used: unreachable, no PostGIS, another schema version, a backlog."""


def redact_dsn(dsn: str) -> str:
    """The connection string without its password (for logs, errors and thread names)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable connection string)"
    keep = ("host", "hostaddr", "port", "dbname", "user")
    return " ".join(f"{k}={parts[k]}" for k in keep if parts.get(k)) or "(libpq defaults)"


def connect(
    dsn: str, *, statement_timeout_s: float = 10.0, connect_timeout_s: float = 5.0
) -> psycopg.Connection[Any]:
    """An autocommit connection with timeouts, the schema on its path and TCP keepalives.

    ``statement_timeout`` and ``lock_timeout`` bound every statement, keepalives notice a server
    that vanished: a write never blocks the store's worker for ever.
    """
    timeout_ms = max(0, round(statement_timeout_s * 1000))  # 0: no limit (verify, queries)
    try:
        conn = psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, math.ceil(connect_timeout_s)),
            application_name="luchtwacht",
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )
    except psycopg.Error as exc:
        raise PostgresStoreError(f"{redact_dsn(dsn)}: cannot connect: {_first_line(exc)}") from None
    conn.execute(f"SET statement_timeout = {timeout_ms}")
    conn.execute(f"SET lock_timeout = {timeout_ms}")
    conn.execute(f"SET search_path = {SCHEMA}, public")
    return conn


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (bytes decoded with surrogateescape)
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _coldefs(table: str) -> list[str]:
    cols = [
        f"{c} {_TABLE_TYPES.get((table, c)) or _TYPES.get(c, _FLOAT)}"
        f"{' NOT NULL' if c in _NOT_NULL else ''}"
        for c in CHAINED[table]
    ]
    cols += [f"{c} {_FLOAT}" for c in _EXTRA.get(table, ())]
    return cols


def _copy_columns(table: str) -> tuple[list[str], list[str]]:
    """The columns a table's COPY sends, and their types (binary COPY needs them)."""
    short = {"bigint": "int8", _FLOAT: "float8", "text": "text", "bytea": "bytea"}
    chained = [short[_TABLE_TYPES.get((table, c)) or _TYPES.get(c, _FLOAT)] for c in CHAINED[table]]
    cols = ["run_id", "seq", *CHAINED[table], *_EXTRA.get(table, ()), "hash"]
    return cols, ["int8", "int8", *chained, *(["float8"] * len(_EXTRA.get(table, ()))), "bytea"]


_COPY = {t: _copy_columns(t) for t in CHAINED}


def _ddl() -> list[str]:
    """The schema's statements (idempotent)."""
    s = SCHEMA
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {s}.run (
            run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created timestamptz NOT NULL DEFAULT now(),
            label text NOT NULL DEFAULT '',
            chain_format text NOT NULL,
            origin geometry(PointZ, 4326))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.meta (
            run_id bigint NOT NULL REFERENCES {s}.run, key text NOT NULL, value text NOT NULL,
            PRIMARY KEY (run_id, key))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.{COMMIT_TABLE} (
            run_id bigint NOT NULL REFERENCES {s}.run, seq bigint NOT NULL,
            t_s double precision NOT NULL, closing boolean NOT NULL, heads bytea NOT NULL,
            prev_hash bytea NOT NULL, public_key bytea NOT NULL, hash bytea NOT NULL,
            signature bytea NOT NULL, PRIMARY KEY (run_id, seq))""",
    ]
    for table in CHAINED:
        cols = ", ".join(["run_id bigint NOT NULL", "seq bigint NOT NULL", *_coldefs(table),
                          "hash bytea NOT NULL"])  # fmt: skip
        tcol = _TIME.get(table)
        if tcol is None:  # meta_log: small, not partitioned
            out.append(
                f"CREATE TABLE IF NOT EXISTS {s}.{table} ({cols}, PRIMARY KEY (run_id, seq))"
            )
            continue
        geom = ""
        if table in ("track", "detection"):
            geom = f", geom geometry(PointZ, 4326) GENERATED ALWAYS AS ({_POINT}) STORED"
        out.append(
            f"CREATE TABLE IF NOT EXISTS {s}.{table} ({cols}{geom},"
            f" PRIMARY KEY (run_id, seq, {tcol})) PARTITION BY RANGE ({tcol})"
        )
        out.append(
            f"CREATE TABLE IF NOT EXISTS {s}.{table}_default PARTITION OF {s}.{table} DEFAULT"
        )
        out.append(f"CREATE INDEX IF NOT EXISTS {table}_t_brin ON {s}.{table} USING brin ({tcol})")
        if geom:
            out.append(
                f"CREATE INDEX IF NOT EXISTS {table}_geog ON {s}.{table}"
                " USING gist ((geom::geography))"
            )
    out.append(f"CREATE INDEX IF NOT EXISTS track_history ON {s}.track (run_id, track_id, t_s)")
    return out


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Make the schema if it is not there (PostGIS must be installable); check its version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            raise PostgresStoreError(
                f"PostGIS is not available in this database: {_first_line(exc)}"
                " (install postgresql-N-postgis-3; CREATE EXTENSION postgis as its owner)"
            ) from None
        for stmt in _ddl():
            conn.execute(stmt.encode())
        row = conn.execute(f"SELECT version FROM {SCHEMA}.schema_version").fetchone()
        if row is None:
            conn.execute(f"INSERT INTO {SCHEMA}.schema_version VALUES (%s)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise PostgresStoreError(
                f"schema {SCHEMA} is version {row[0]}, this Luchtwacht writes {SCHEMA_VERSION}"
            )


def create_run(
    dsn: str,
    *,
    label: str = "",
    origin: SiteOrigin | None = None,
    statement_timeout_s: float = 10.0,
) -> int:
    """Make the schema if needed and a new run; returns its ``run_id`` (all its rows carry it)."""
    with connect(dsn, statement_timeout_s=statement_timeout_s) as conn:
        try:
            ensure_schema(conn)
            if origin is None:
                row = conn.execute(
                    f"INSERT INTO {SCHEMA}.run (label, chain_format) VALUES (%s, %s)"
                    " RETURNING run_id",
                    (label, FORMAT),
                ).fetchone()
            else:
                row = conn.execute(
                    f"INSERT INTO {SCHEMA}.run (label, chain_format, origin) VALUES (%s, %s,"
                    " ST_SetSRID(ST_MakePoint(%s, %s, %s), 4326)) RETURNING run_id",
                    (label, FORMAT, origin.lon_deg, origin.lat_deg, origin.alt_m),
                ).fetchone()
        except psycopg.Error as exc:
            raise PostgresStoreError(f"{redact_dsn(dsn)}: {_first_line(exc)}") from None
    assert row is not None
    return int(row[0])


def _enu_to_wgs84(origin: SiteOrigin) -> Any:
    """Site ENU (m) → lon, lat (deg), ellipsoidal height (m): PROJ's topocentric conversion.

    The same as :meth:`SiteOrigin.to_geodetic` (pymap3d) to 1e-12° and 1e-6 m, and ~14× faster
    on a scan's batch, which counts at 10 000 detections a second.
    """
    from pyproj import Transformer

    return Transformer.from_pipeline(
        "+proj=pipeline +step +inv +proj=topocentric +ellps=WGS84"
        f" +lat_0={origin.lat_deg!r} +lon_0={origin.lon_deg!r} +h_0={origin.alt_m!r}"
        " +step +inv +proj=cart +ellps=WGS84 +step +proj=unitconvert +xy_in=rad +xy_out=deg"
    )


def _day_name(day: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)).strftime("%Y%m%d")


@dataclasses.dataclass(slots=True)
class _Chain:
    """One table's chain state: its last seq and hash, and rows waiting for the next commit."""

    seq: int = 0
    head: bytes = GENESIS
    rows: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    days: set[int] = dataclasses.field(default_factory=set)  # UTC days of the buffered rows
    day_lo: float = math.inf  # the last day added, [lo, hi) in t_s: most rows fall in it
    day_hi: float = -math.inf


class PostgresStore:
    """Writes one run to PostgreSQL (a :class:`~luchtwacht.store.port.Store`); not thread-safe.

    Open it in the thread that writes (``BackgroundStore(recorder_factory=...)``); ``run_id``
    from :func:`create_run` (made here if None). ``key`` signs every commit (a key made for the
    run if None: its public half is in every commit record). ``origin`` places detections (site
    ENU) in WGS84; without it they have no geometry.
    """

    def __init__(
        self,
        dsn: str,
        run_id: int | None = None,
        *,
        key: NodeKey | None = None,
        origin: SiteOrigin | None = None,
        statement_timeout_s: float = 10.0,
        max_pending_rows: int = 1_000_000,
        label: str = "",
    ) -> None:
        self.dsn = dsn
        self.statement_timeout_s = statement_timeout_s
        self.run_id = (
            run_id
            if run_id is not None
            else create_run(
                dsn, label=label, origin=origin, statement_timeout_s=statement_timeout_s
            )
        )
        self.path = _label_path(dsn, self.run_id)
        self.key = key if key is not None else NodeKey.generate()
        self.origin = origin
        self._to_wgs84 = _enu_to_wgs84(origin) if origin is not None else None
        self.max_pending_rows = max_pending_rows
        self._chains = {t: _Chain() for t in CHAINED}
        self._meta: dict[str, str] = {}
        self._meta_dirty: set[str] = set()  # keys changed since the last commit that succeeded
        self._tracks: dict[tuple[int, float], tuple[object, ...]] = {}  # chained at the commit
        self._pending = 0  # rows buffered (chained or not) for the next commit
        self._in_doubt: tuple[CommitRecord, dict[str, int]] | None = None  # a failed commit
        self._commit_seq = 0
        self._commit_prev = GENESIS
        self._partitions: set[tuple[str, int]] = set()
        self._text_ok: set[str] = set()  # strings already found storable
        self._closed = False
        self.commits_failed = 0  # commits that did not reach the server (rows kept, retried)
        self._conn: psycopg.Connection[Any] | None = connect(
            dsn, statement_timeout_s=statement_timeout_s
        )
        self._resume()
        self.set_meta(chain_format=FORMAT, signing_key=self.key.public_pem().decode())

    def _resume(self) -> None:
        """Continue a run that already has rows (its chain heads and last commit)."""
        conn = self._connection()
        last = conn.execute(
            f"SELECT seq, hash FROM {COMMIT_TABLE} WHERE run_id = %s ORDER BY seq DESC LIMIT 1",
            (self.run_id,),
        ).fetchone()
        if last is None:
            return
        self._commit_seq, self._commit_prev = int(last[0]), bytes(last[1])
        for table, chain in self._chains.items():
            row = conn.execute(
                sql.SQL("SELECT seq, hash FROM {} WHERE run_id = %s ORDER BY seq DESC LIMIT 1")
                .format(sql.Identifier(table)),
                (self.run_id,),
            ).fetchone()  # fmt: skip
            if row is not None:
                chain.seq, chain.head = int(row[0]), bytes(row[1])
        for key, value in conn.execute(
            "SELECT key, value FROM meta WHERE run_id = %s", (self.run_id,)
        ):
            self._meta[key] = value

    # -- chaining --------------------------------------------------------------------------

    def _add(self, table: str, values: Sequence[object], extra: Sequence[object] = ()) -> None:
        """Chain one row now (its seq and hash) and buffer it for the next commit.

        PostgreSQL text holds no NUL character and only valid UTF-8: such a row is refused here,
        before it is chained (ValueError, counted by the worker), rather than fail every commit.
        """
        ok = self._text_ok
        for v in values:
            if not isinstance(v, str) or v in ok:  # sensor ids and formats repeat: checked once
                continue
            if "\x00" in v or not _utf8(v):
                raise ValueError(f"{table}: text PostgreSQL cannot store (NUL or not UTF-8)")
            if len(ok) > 4096:
                ok.clear()
            ok.add(v)
        chain = self._chains[table]
        timed = table in _TIME
        t = values[0] if timed else 0.0
        if not isinstance(t, int | float):  # the partition key: NOT NULL, a number
            raise ValueError(f"{table}: time {t!r} is not a number")
        seq = chain.seq + 1
        digest = link(chain.head, table, seq, values)
        chain.rows.append((self.run_id, seq, *values, *extra, digest))
        chain.seq, chain.head = seq, digest
        if timed and not chain.day_lo <= t < chain.day_hi and math.isfinite(t):
            day = math.floor(t / DAY_S)  # a new day (rows come in time order: seldom)
            if _DAY_MIN <= day <= _DAY_MAX:
                chain.days.add(day)
                chain.day_lo, chain.day_hi = day * DAY_S, (day + 1) * DAY_S
        self._pending += 1

    def _room(self, n: int) -> None:
        """Refuse ``n`` new rows (before they are chained) when the backlog is full."""
        if self._closed:
            raise PostgresStoreError("store closed")
        if self._pending + n > self.max_pending_rows:
            raise PostgresStoreError(
                f"{self._pending} rows wait for the server (limit {self.max_pending_rows});"
                f" {n} new rows refused"
            )

    # -- the Store port --------------------------------------------------------------------

    def set_meta(self, **items: str) -> None:
        """Run metadata: logged in the chained ``meta_log``, current values in ``meta``."""
        self._room(len(items))
        for key, value in items.items():
            self._add("meta_log", (key, str(value)))
            self._meta[key] = str(value)
            self._meta_dirty.add(key)

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        """Bytes exactly as received."""
        self._room(1)
        self._add("raw", (float(t_rx_s), sensor_id, fmt, bytes(payload)))

    def rejections(self, t_s: float, sensor_id: str, reasons: Iterable[str]) -> None:
        """Why messages of a sensor were rejected."""
        items = list(reasons)
        self._room(len(items))
        for r in items:
            self._add("rejection", (float(t_s), sensor_id, r))

    def detections(self, batch: DetectionBatch, applied: bool = True) -> None:
        """A decoded detection batch (site ENU, and WGS84 when the origin is known)."""
        n = len(batch)
        self._room(n)
        if n == 0:
            return
        std = np.sqrt(np.trace(batch.R, axis1=1, axis2=2) / 3.0)
        idents = batch.ident or (None,) * n
        geo: list[tuple[float, float, float]] | list[tuple[None, None, None]]
        if self._to_wgs84 is not None:
            lon, lat, alt = self._to_wgs84.transform(batch.z[:, 0], batch.z[:, 1], batch.z[:, 2])
            geo = list(zip(lat.tolist(), lon.tolist(), alt.tolist(), strict=True))
        else:
            geo = [(None, None, None)] * n
        for t, z, s, ident, g in zip(
            batch.t_s.tolist(), batch.z.tolist(), std.tolist(), idents, geo, strict=True
        ):
            self._add(
                "detection",
                (float(t), batch.sensor_id, z[0], z[1], z[2], float(s), ident, int(applied)),
                g,
            )

    def bearings(self, batch: BearingBatch, applied: bool = True) -> None:
        """A decoded angle-only batch (site frame)."""
        self._room(len(batch.azimuth_rad))
        e, n, u = (float(v) for v in batch.sensor_enu_m)
        for az, el, sd in zip(
            batch.azimuth_rad.tolist(),
            batch.elevation_rad.tolist(),
            batch.azimuth_std_rad.tolist(),
            strict=True,
        ):
            el_deg = None if math.isnan(el) else math.degrees(el)
            self._add(
                "bearing",
                (float(batch.t_s), batch.sensor_id, e, n, u, math.degrees(az), el_deg,
                 math.degrees(sd), int(applied)),
            )  # fmt: skip

    def tracks(self, views: Iterable[TrackView]) -> None:
        """Snapshot of the confirmed tracks at one cycle (chained at the commit).

        As the SQLite recorder does: a track's instant given twice before the commit keeps the
        later snapshot, in the place of the first, so both backends chain the same rows.
        """
        items = list(views)
        self._room(len(items))
        for v in items:
            key = (int(v.track_id), float(v.t_s))
            if key not in self._tracks:
                self._pending += 1
            self._tracks[key] = track_row(v)

    def tick(self, t_s: float) -> None:
        """A tick of the node core at ``t_s``."""
        self._room(1)
        self._add("tick", (float(t_s),))

    def alert_event(self, t_s: float, event: str, alert: Alert) -> None:
        """An alert event; also chained into the audit, as the recorder does."""
        self._room(2)
        self._add("alert_event", alert_event_row(t_s, event, alert))
        self.audit(t_s, f"alert.{event}", alert_audit(alert))

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> str:
        """An audit record; returns its chain hash (hex)."""
        self._room(1)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        self._add("audit", (t_s, kind, text))
        return self._chains["audit"].head.hex()

    def commit(self) -> None:
        """Send every buffered row, the metadata and a signed commit record in one transaction.

        On failure the transaction is rolled back, the rows stay buffered (and chained) and the
        error is raised; the next commit sends them again, on a new connection if needed.
        """
        self._flush(closing=False)

    def close(self) -> None:
        """Commit with the closing record (a run without one was cut off) and disconnect."""
        if self._closed:
            return
        try:
            self._flush(closing=True)
        finally:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- writing ---------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._conn = connect(self.dsn, statement_timeout_s=self.statement_timeout_s)
        return self._conn

    def _ensure_partitions(self, conn: psycopg.Connection[Any]) -> None:
        """Make the day partitions the buffered rows need (own short transactions)."""
        for table, chain in self._chains.items():
            for day in sorted(chain.days):
                if (table, day) in self._partitions:
                    continue
                lo, hi = day * DAY_S, (day + 1) * DAY_S
                name = f"{table}_{_day_name(day)}"
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                    exists = conn.execute(
                        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = %s AND c.relname = %s",
                        (SCHEMA, name),
                    ).fetchone()
                    if exists is None:
                        conn.execute(
                            sql.SQL(
                                "CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
                            ).format(
                                sql.Identifier(SCHEMA, name),
                                sql.Identifier(SCHEMA, table),
                                sql.Literal(lo),
                                sql.Literal(hi),
                            )
                        )
                self._partitions.add((table, day))

    def _flush(self, closing: bool) -> None:
        """One transaction: every buffered row (COPY), changed metadata, the commit record."""
        if self._closed:
            raise PostgresStoreError("store closed")
        if self._tracks:  # chained now, in the order first given (the recorder's order)
            snapshots, self._tracks = list(self._tracks.values()), {}
            self._pending -= len(snapshots)  # counted when buffered; _add counts them again
            for values in snapshots:
                self._add("track", values)
        try:
            conn = self._connection()
            if self._in_doubt is not None:
                self._settle(conn)
            if not closing and self._pending == 0 and not self._meta_dirty:
                return  # nothing new: an idle node writes no commit records
            heads = {t: (c.seq, c.head) for t, c in self._chains.items()}
            record = seal_commit(
                self.key, self._commit_seq + 1, time.time(), closing, heads, self._commit_prev
            )
            sent = {t: len(c.rows) for t, c in self._chains.items()}
            self._in_doubt = (record, sent)  # until the server says the commit is in
            self._ensure_partitions(conn)
            with conn.transaction(), conn.cursor() as cur:
                for table, chain in self._chains.items():
                    if not chain.rows:
                        continue
                    cols, types = _COPY[table]
                    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols))
                    )
                    with cur.copy(copy_sql) as copy:
                        copy.set_types(types)
                        for row in chain.rows:
                            copy.write_row(row)
                if self._meta_dirty:
                    cur.executemany(
                        "INSERT INTO meta (run_id, key, value) VALUES (%s, %s, %s)"
                        " ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
                        [(self.run_id, k, self._meta[k]) for k in sorted(self._meta_dirty)],
                    )
                cur.execute(
                    f"INSERT INTO {COMMIT_TABLE} (run_id, seq, t_s, closing, heads, prev_hash,"
                    " public_key, hash, signature) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    (self.run_id, record.seq, record.t_s, record.closing,
                     encode_heads(record.heads), record.prev_hash, record.public_key,
                     record.hash, record.signature),
                )  # fmt: skip
        except psycopg.Error as exc:
            self.commits_failed += 1
            if self._conn is not None and (self._conn.broken or self._conn.closed):
                self._conn = None
            raise PostgresStoreError(
                f"{redact_dsn(self.dsn)} run {self.run_id}: commit failed ({self._pending} rows"
                f" kept for the next): {_first_line(exc)}"
            ) from None
        self._committed(record, sent)

    def _committed(self, record: CommitRecord, sent: dict[str, int]) -> None:
        """The commit ``record`` is on the server with the first ``sent`` rows of each table."""
        for table, chain in self._chains.items():
            n = sent.get(table, 0)
            del chain.rows[:n]
            self._pending -= n
            if not chain.rows:
                chain.days.clear()
                chain.day_lo, chain.day_hi = math.inf, -math.inf
        self._meta_dirty.clear()  # (a key changed again since is sent again: harmless)
        self._commit_seq, self._commit_prev = record.seq, record.hash
        self._in_doubt = None

    def _settle(self, conn: psycopg.Connection[Any]) -> None:
        """After a failed commit, find out whether it reached the server before the link broke.

        A COMMIT whose answer was lost is in the database: sending its rows again would fail on
        their keys for ever. So the run's last commit record decides.
        """
        assert self._in_doubt is not None
        record, sent = self._in_doubt
        row = conn.execute(
            f"SELECT hash FROM {COMMIT_TABLE} WHERE run_id = %s AND seq = %s",
            (self.run_id, record.seq),
        ).fetchone()
        if row is not None and bytes(row[0]) == record.hash:
            log.warning("store %s: commit %d had reached the server", self.path, record.seq)
            self._committed(record, sent)
        else:
            self._in_doubt = None


def _label_path(dsn: str, run_id: int) -> Path:
    """A path-like label for logs and the worker thread's name (no password)."""
    return Path(f"postgresql run {run_id} [{redact_dsn(dsn)}]")


# -- verification ----------------------------------------------------------------------------


def runs(dsn: str) -> list[tuple[int, str, str]]:
    """The runs in a database: ``(run_id, created (ISO UTC), label)``, oldest first."""
    with connect(dsn) as conn:
        return [
            (int(r), c.astimezone(dt.UTC).isoformat(timespec="seconds"), str(lbl))
            for r, c, lbl in conn.execute("SELECT run_id, created, label FROM run ORDER BY run_id")
        ]


def verify_postgres(
    dsn: str, run_id: int, trusted_public_pem: bytes | None = None, batch_rows: int = 10_000
) -> ChainReport:
    """Check one run's chain on the server: every table's rows and the signed commit records.

    Rows stream in seq order through server-side cursors, so a run of any size is checked in
    bounded memory. :class:`PostgresStoreError` when the run does not exist or cannot be read.
    """
    verifier = ChainVerifier(trusted_public_pem)
    with connect(dsn, statement_timeout_s=0) as conn:
        if conn.execute("SELECT 1 FROM run WHERE run_id = %s", (run_id,)).fetchone() is None:
            raise PostgresStoreError(f"{redact_dsn(dsn)}: no run {run_id}")
        commits = [
            CommitRecord(int(seq), float(t), bool(closing), decode_heads(bytes(heads)),
                         bytes(prev), bytes(pub), bytes(digest), bytes(sig))
            for seq, t, closing, heads, prev, pub, digest, sig in conn.execute(
                f"SELECT seq, t_s, closing, heads, prev_hash, public_key, hash, signature"
                f" FROM {COMMIT_TABLE} WHERE run_id = %s ORDER BY seq",
                (run_id,),
            )
        ]  # fmt: skip
        verifier.commits(commits)
        with conn.transaction():  # named cursors live in a transaction
            for table, cols in CHAINED.items():
                query = sql.SQL(
                    "SELECT seq, {}, hash FROM {} WHERE run_id = %s ORDER BY seq"
                ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(table))
                with conn.cursor(name=f"verify_{table}") as cur:
                    cur.itersize = batch_rows
                    cur.execute(query, (run_id,))
                    verifier.rows(table, _rows(cur))
        current = dict(conn.execute("SELECT key, value FROM meta WHERE run_id = %s", (run_id,)))
        verifier.meta(current)
    return verifier.report()


def _rows(cur: psycopg.Cursor[Any]) -> Iterator[tuple[int, tuple[object, ...], bytes | None]]:
    for row in cur:
        yield int(row[0]), tuple(row[1:-1]), bytes(row[-1]) if row[-1] is not None else None


# -- queries for the console and analysts ----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ZonePassage:
    """A track that was inside a zone in the window: when (bounds) and as what."""

    run_id: int
    track_id: int
    first_t_s: float  # the passage began at or after this snapshot time
    last_t_s: float  # …and ended at or before this one
    snapshots_inside: int  # snapshots whose position was inside
    object_classes: tuple[str, ...]  # classes the track had while crossing, sorted
    cooperative: bool  # cooperative (Remote ID, ADS-B) in any of those snapshots
    uas_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class TrackSample:
    """One track snapshot near a point; ``distance_m`` horizontal, on the WGS84 ellipsoid."""

    run_id: int
    t_s: float
    track_id: int
    lat_deg: float
    lon_deg: float
    alt_m: float
    object_class: str | None
    distance_m: float


@dataclasses.dataclass(frozen=True, slots=True)
class DetectionSample:
    """One detection near a point; ``distance_m`` horizontal, on the WGS84 ellipsoid."""

    run_id: int
    t_s: float
    sensor_id: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    ident: str | None
    distance_m: float


@contextmanager
def _reader(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with connect(dsn, statement_timeout_s=60.0) as conn:
        yield conn


def _polygon_wkt(vertices_deg: Sequence[tuple[float, float]]) -> str:
    """``POLYGON`` WKT (lon lat) from ``[lat, lon]`` vertices, as zones are given in the site."""
    pts = [(float(lon), float(lat)) for lat, lon in vertices_deg]
    if len(pts) < 3:
        raise ValueError("a zone needs at least 3 vertices")
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    return "POLYGON((" + ", ".join(f"{x!r} {y!r}" for x, y in pts) + "))"


def tracks_in_zone(
    dsn: str,
    vertices_deg: Sequence[tuple[float, float]],
    t_from_s: float,
    t_to_s: float,
    run_id: int | None = None,
    *,
    max_step_m: float = 1000.0,
    max_gap_s: float = 10.0,
) -> list[ZonePassage]:
    """Tracks whose path crossed a zone (``[lat, lon]`` vertices) between two times.

    A path is each track's snapshots joined in time order: a track counts when a snapshot lies
    inside, or when the straight line between two consecutive snapshots (at most ``max_gap_s``
    apart) crosses the zone: a fast track jumps over a small zone between snapshots. Candidates
    come from the spatial index (snapshots within ``max_step_m`` of the zone); ``run_id`` None
    searches every run. Horizontal only (the zone's height band is not applied).
    """
    wkt = _polygon_wkt(vertices_deg)
    run_filter = "" if run_id is None else " AND t.run_id = %(run)s"
    query = f"""
        WITH zone AS (SELECT ST_GeomFromText(%(wkt)s, 4326) AS g),
        cand AS (
            SELECT DISTINCT t.run_id, t.track_id FROM track t, zone
            WHERE t.t_s >= %(t0)s AND t.t_s <= %(t1)s{run_filter}
              AND ST_DWithin(t.geom::geography, zone.g::geography, %(step)s)),
        path AS (
            SELECT t.run_id, t.track_id, t.t_s, t.geom, t.object_class, t.cooperative,
                   t.uas_id,
                   lag(t.geom) OVER w AS prev_geom, lag(t.t_s) OVER w AS prev_t
            FROM track t JOIN cand USING (run_id, track_id)
            WHERE t.t_s >= %(t0)s AND t.t_s <= %(t1)s AND t.geom IS NOT NULL
            WINDOW w AS (PARTITION BY t.run_id, t.track_id ORDER BY t.t_s)),
        hit AS (
            SELECT p.*, ST_Intersects(p.geom, zone.g) AS inside,
                   p.prev_geom IS NOT NULL AND p.t_s - p.prev_t <= %(gap)s
                     AND ST_Intersects(ST_MakeLine(p.prev_geom, p.geom), zone.g) AS crossed
            FROM path p, zone)
        SELECT run_id, track_id,
               min(CASE WHEN inside AND NOT crossed THEN t_s ELSE coalesce(prev_t, t_s) END),
               max(t_s), count(*) FILTER (WHERE inside),
               array_agg(DISTINCT object_class) FILTER (WHERE object_class IS NOT NULL),
               bool_or(cooperative <> 0),
               array_agg(DISTINCT uas_id) FILTER (WHERE uas_id IS NOT NULL)
        FROM hit WHERE inside OR crossed
        GROUP BY run_id, track_id ORDER BY 3, 1, 2"""
    params = {"wkt": wkt, "t0": t_from_s, "t1": t_to_s, "run": run_id, "step": max_step_m,
              "gap": max_gap_s}  # fmt: skip
    with _reader(dsn) as conn:
        rows = conn.execute(query.encode(), params).fetchall()
    return [
        ZonePassage(int(r), int(tid), float(t0), float(t1), int(n), tuple(sorted(cls or ())),
                    bool(coop), tuple(sorted(ids or ())))
        for r, tid, t0, t1, n, cls, coop, ids in rows
    ]  # fmt: skip


def within_radius(
    dsn: str,
    lat_deg: float,
    lon_deg: float,
    radius_m: float,
    t_from_s: float,
    t_to_s: float,
    run_id: int | None = None,
) -> tuple[list[TrackSample], list[DetectionSample]]:
    """Every track snapshot and detection within ``radius_m`` (horizontal) of a point, in time.

    Distances are geodesic on the WGS84 ellipsoid (PostGIS geography), found through the
    position indexes; both lists are in time order. ``run_id`` None searches every run.
    """
    if not radius_m >= 0.0:
        raise ValueError("radius_m must be 0 or more")
    run_filter = "" if run_id is None else " AND run_id = %(run)s"
    params = {"lat": lat_deg, "lon": lon_deg, "r": radius_m, "t0": t_from_s, "t1": t_to_s,
              "run": run_id}  # fmt: skip
    point = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
    where = (
        f"t_s >= %(t0)s AND t_s <= %(t1)s{run_filter}"
        f" AND ST_DWithin(geom::geography, {point}, %(r)s)"
    )
    with _reader(dsn) as conn:
        tracks = [
            TrackSample(int(r), float(t), int(tid), float(la), float(lo), float(al), cls, float(d))
            for r, t, tid, la, lo, al, cls, d in conn.execute(
                f"SELECT run_id, t_s, track_id, lat_deg, lon_deg, alt_m, object_class,"
                f" ST_Distance(geom::geography, {point}) FROM track WHERE {where}"
                " ORDER BY t_s, run_id, track_id".encode(),
                params,
            )
        ]
        detections = [
            DetectionSample(int(r), float(t), sid, float(la), float(lo), float(al), ident,
                            float(d))
            for r, t, sid, la, lo, al, ident, d in conn.execute(
                f"SELECT run_id, t_s, sensor_id, lat_deg, lon_deg, alt_m, ident,"
                f" ST_Distance(geom::geography, {point}) FROM detection WHERE {where}"
                " ORDER BY t_s, run_id, seq".encode(),
                params,
            )
        ]  # fmt: skip
    return tracks, detections
