"""The PostgreSQL + PostGIS store against a real server (tests/pg.py): schema, chain, queries.

Every test gets a database of its own on one server started for the session; nothing is mocked.
The chain is checked by the same verifier as SQLite's (``verify_postgres``), tampering is done
with plain SQL as someone with write access to the database would, and the node writes through
``open_store`` as ``luchtwacht run`` does.
"""

import contextlib
import logging
import math
import socket
import threading
import time
from collections import Counter
from typing import Any, cast

import numpy as np
import psycopg
import pytest
from pyproj import Geod

from luchtwacht.geo.frames import SiteOrigin
from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, AlertState, ThreatLevel, TrackView
from luchtwacht.site import StoreSection
from luchtwacht.store.chain import CHAINED, GENESIS, NodeKey, ProblemKind, link
from luchtwacht.store.factory import StoreConfigError, open_store
from luchtwacht.store.port import Store
from luchtwacht.store.postgres import (
    PostgresStore,
    PostgresStoreError,
    create_run,
    redact_dsn,
    runs,
    tracks_in_zone,
    verify_postgres,
    within_radius,
)
from luchtwacht.store.recorder import Recorder, verify_recording
from luchtwacht.store.worker import BackgroundStore
from tests.store.conftest import TEMPLATE

KEY = NodeKey.generate()
ORIGIN = SiteOrigin(51.70, 5.70, 40.0)
T0 = 1_765_152_000.0 - 3.0  # 3 s before 2025-12-08 00:00 UTC: a run across two day partitions


def view(track_id: int, t_s: float, lat: float = 51.70, lon: float = 5.70, cls: str = "drone"):
    return TrackView(
        track_id, t_s, lat, lon, 100.0, 1.0, 2.0, 3.0, 10.0, 90.0, 0.0, cls, 0.9, False,
        None, ThreatLevel.HIGH, ("a", "b"), None, 5.0,
    )  # fmt: skip


def detections(t_s: float, n: int = 3) -> DetectionBatch:
    return DetectionBatch(
        sensor_id="radar-1",
        t_s=np.full(n, t_s),
        z=np.array([[100.0 * i, 50.0, 30.0] for i in range(n)]),
        R=np.stack([np.eye(3) * 4.0] * n),
        class_loglik=np.zeros((n, N_CLASSES)),
        ident=tuple("abc"[i % 3] if i % 2 else None for i in range(n)),
    )


def bearings(t_s: float) -> BearingBatch:
    return BearingBatch(
        sensor_id="rf-1",
        sensor_enu_m=np.array([0.0, 1.0, 2.0]),
        t_s=t_s,
        azimuth_rad=np.array([0.1, 0.2]),
        azimuth_std_rad=np.array([0.01, 0.02]),
        elevation_rad=np.array([0.05, np.nan]),
        elevation_std_rad=np.array([0.01, 0.01]),
        class_loglik=np.zeros((2, N_CLASSES)),
    )


def write_run(store: Store, cycles: int = 6, close: bool = True) -> None:
    """Every kind of write, a commit per cycle, across a UTC midnight; then the closing record."""
    store.set_meta(scenario="demo", seed="7")
    for k in range(cycles):
        t = T0 + k
        store.raw(t, "radar-1", "sapient", bytes([k, 0, 255]) + b"\x00payload")
        store.rejections(t, "radar-1", ["bad crc", "too long"])
        store.detections(detections(t), applied=k % 2 == 0)
        store.bearings(bearings(t), applied=True)
        store.tick(t)
        store.tracks([view(1, t, 51.70 + 0.001 * k), view(2, t, 51.69, 5.71, "bird")])
        store.tracks([view(1, t, 51.70 + 0.001 * k, cls="bird")])  # the same instant again
        if k == 2:
            alert = Alert(
                1, 1, "zone", ThreatLevel.HIGH, "approach", t, t, "drone", None, message="m"
            )
            store.alert_event(t, "raised", alert)
            alert.state = AlertState.CLEARED
            store.alert_event(t + 0.5, "cleared", alert)
        store.audit(t, "cycle", {"k": k, "note": "é ✓"})
        store.commit()
    if close:
        store.close()


def q(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET search_path = luchtwacht, public")
        cur = conn.execute(query.encode(), params)
        return cur.fetchall() if cur.description else []


# -- schema, partitions, the chain ----------------------------------------------------------


def test_a_run_is_written_partitioned_by_day_with_positions_and_verifies(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY, origin=ORIGIN)
    write_run(store)
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    assert report.intact and report.closed and report.trusted, report.problem
    assert report.rows["raw"] == 6 and report.rows["detection"] == 18
    assert report.rows["track"] == 12 and report.rows["alert_event"] == 2
    assert report.rows["audit"] == 6 + 2  # the cycles and the two alert events
    assert report.commits == 7  # six cycles and the closing record
    # One partition a UTC day, made as the rows came; nothing in the default partitions.
    parts = {r[0] for r in q(pg_dsn, "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
                                     " ON c.oid = i.inhrelid")}  # fmt: skip
    for table in ("raw", "detection", "track", "tick", "audit"):
        assert {f"{table}_20251207", f"{table}_20251208", f"{table}_default"} <= parts
    assert q(pg_dsn, "SELECT count(*) FROM ONLY detection_default")[0][0] == 0
    assert q(pg_dsn, "SELECT count(*) FROM ONLY detection_20251208")[0][0] == 9
    # Positions as WGS84 geometry: a track's lat/lon, a detection's ENU through the origin.
    (srid, gtype, x, y, z) = q(pg_dsn, "SELECT ST_SRID(geom), GeometryType(geom), ST_X(geom),"
                                " ST_Y(geom), ST_Z(geom) FROM track WHERE seq = 2")[0]  # fmt: skip
    assert (srid, gtype, x, y, z) == (4326, "POINT", 5.71, 51.69, 100.0)
    east, north, up = q(pg_dsn, "SELECT east_m, north_m, up_m FROM detection WHERE seq = 2")[0]
    lat, lon, alt = ORIGIN.to_geodetic(np.array([east, north, up]))
    (gx, gy, gz) = q(pg_dsn, "SELECT ST_X(geom), ST_Y(geom), ST_Z(geom) FROM detection"
                             " WHERE seq = 2")[0]  # fmt: skip
    assert (gx, gy, gz) == pytest.approx((lon, lat, alt), abs=1e-9)
    # The same instant given twice before a commit keeps the later snapshot, as SQLite does.
    assert q(pg_dsn, "SELECT object_class FROM track WHERE track_id = 1 ORDER BY seq")[0][0] == (
        "bird"
    )
    meta = dict(q(pg_dsn, "SELECT key, value FROM meta WHERE run_id = %s", store.run_id))
    assert meta["scenario"] == "demo" and "BEGIN PUBLIC KEY" in meta["signing_key"]


def test_both_backends_chain_identical_rows_to_identical_hashes(pg_dsn, tmp_path):
    path = tmp_path / "run.sqlite"
    write_run(Recorder(path, KEY))
    store = PostgresStore(pg_dsn, key=KEY, origin=ORIGIN)
    write_run(store)
    import sqlite3

    db = sqlite3.connect(path)
    for table in CHAINED:
        lite = [(s, bytes(h)) for s, h in db.execute(f"SELECT seq, hash FROM {table} ORDER BY seq")]
        pg = [(s, bytes(h)) for s, h in q(pg_dsn, f"SELECT seq, hash FROM {table} ORDER BY seq")]
        assert pg == lite, table
        assert table == "bearing" or lite, table  # every table has rows (bearing too, below)
    assert verify_recording(path, KEY.public_pem()).intact


def test_the_schema_and_runs_are_shared_and_a_second_run_keeps_its_own_chain(pg_dsn):
    a = PostgresStore(pg_dsn, key=KEY, label="a")
    b = PostgresStore(pg_dsn, label="b")  # a key made for the run
    write_run(a, cycles=2)
    write_run(b, cycles=3)
    assert [r[0] for r in runs(pg_dsn)] == [a.run_id, b.run_id]
    assert [r[2] for r in runs(pg_dsn)] == ["a", "b"]
    ra, rb = verify_postgres(pg_dsn, a.run_id), verify_postgres(pg_dsn, b.run_id)
    assert ra.intact and rb.intact and ra.rows["raw"] == 2 and rb.rows["raw"] == 3
    assert ra.fingerprints != rb.fingerprints
    # b's rows are not a's: verifying a against b's key fails on the signature's key.
    problem = verify_postgres(pg_dsn, a.run_id, b.key.public_pem()).problem
    assert problem is not None and problem.kind is ProblemKind.UNTRUSTED_KEY
    with pytest.raises(PostgresStoreError, match="no run 99"):
        verify_postgres(pg_dsn, 99)


def test_a_run_cut_off_is_named_and_what_it_committed_is_there(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY)
    write_run(store, cycles=4, close=False)
    store.raw(T0 + 10, "radar-1", "sapient", b"never committed")  # lost with the process
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    problem = report.problem
    assert problem is not None and problem.kind is ProblemKind.CUT_OFF and not report.closed
    assert problem.describe().startswith("run cut off at ")
    assert report.rows["raw"] == 4


# -- tampering, as someone with write access to the database --------------------------------


@pytest.fixture(scope="module")
def shared_dsn(pg_server):
    """One database for the tampering tests: each tampers only with a run of its own."""
    return pg_server.create_database("tamper", template=TEMPLATE)


@pytest.fixture
def written(shared_dsn):
    store = PostgresStore(shared_dsn, key=KEY, origin=ORIGIN)
    write_run(store)
    assert verify_postgres(shared_dsn, store.run_id, KEY.public_pem()).intact
    return shared_dsn, store.run_id


def first_problem(written):
    dsn, run = written
    return verify_postgres(dsn, run, KEY.public_pem()).problem


def test_one_byte_of_one_raw_payload_changed_is_located(written):
    dsn, run = written
    q(dsn, "UPDATE raw SET payload = set_byte(payload, 4, 1) WHERE run_id = %s AND seq = 3", run)
    p = first_problem(written)
    assert (p.kind, p.table, p.seq, p.t_s) == (ProblemKind.ROW_CHANGED, "raw", 3, T0 + 2)


def test_one_detection_deleted_is_located(written):
    q(written[0], "DELETE FROM detection WHERE run_id = %s AND seq = 5", written[1])
    p = first_problem(written)
    assert (p.kind, p.table, p.seq) == (ProblemKind.ROW_REMOVED, "detection", 5)


@pytest.mark.parametrize("table", ["raw", "detection", "track", "tick", "audit", "alert_event"])
def test_the_last_rows_of_a_table_deleted_are_found(written, table):
    dsn, run = written
    n = q(dsn, f"SELECT count(*) FROM {table} WHERE run_id = %s", run)[0][0]
    q(dsn, f"DELETE FROM {table} WHERE run_id = %s AND seq > %s", run, n - 2 if n > 2 else 0)
    p = first_problem(written)
    assert p.kind is ProblemKind.TRUNCATED and p.table == table


def test_a_track_rewritten_as_a_bird_with_its_chain_recomputed_fails_at_the_commit(written):
    dsn, run = written
    q(dsn, "UPDATE track SET object_class = 'drone' WHERE run_id = %s AND track_id = 2", run)
    cols = ", ".join(CHAINED["track"])
    rows = q(dsn, f"SELECT seq, {cols} FROM track WHERE run_id = %s ORDER BY seq", run)
    prev = GENESIS
    for seq, *values in rows:  # every hash recomputed, as a forger would
        prev = link(prev, "track", seq, values)
        q(dsn, "UPDATE track SET hash = %s WHERE run_id = %s AND seq = %s", prev, run, seq)
    p = first_problem(written)
    assert p.kind is ProblemKind.CHAIN_RECOMPUTED and p.table == "track"


def test_everything_recomputed_and_signed_with_another_key_fails_against_the_sites_key(written):
    dsn, run = written
    from luchtwacht.store.chain import decode_heads, seal_commit

    forger = NodeKey.generate()
    prev = GENESIS
    for seq, t_s, closing, heads in q(
        dsn, "SELECT seq, t_s, closing, heads FROM chain_commit WHERE run_id = %s ORDER BY seq", run
    ):
        rec = seal_commit(forger, seq, t_s, closing, decode_heads(bytes(heads)), prev)
        q(dsn, "UPDATE chain_commit SET prev_hash = %s, public_key = %s, hash = %s,"
               " signature = %s WHERE run_id = %s AND seq = %s",
          rec.prev_hash, rec.public_key, rec.hash, rec.signature, run, seq)  # fmt: skip
        prev = rec.hash
    assert verify_postgres(dsn, run).intact  # against its own key only: passes (and says so)
    p = first_problem(written)
    assert p.kind is ProblemKind.UNTRUSTED_KEY and p.seq == 1


# -- a slow or hung server -----------------------------------------------------------------


class TableLock:
    """Another session holding ACCESS EXCLUSIVE on a table, as a long migration would."""

    def __init__(self, dsn: str, table: str) -> None:
        self.conn = psycopg.connect(dsn)
        self.conn.execute(f"LOCK TABLE luchtwacht.{table} IN ACCESS EXCLUSIVE MODE".encode())

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def test_a_hung_server_times_out_the_commit_and_the_rows_go_with_the_next(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY, statement_timeout_s=0.3)
    store.raw(T0, "r", "f", b"1")
    store.commit()
    lock = TableLock(pg_dsn, "raw")
    try:
        store.raw(T0 + 1, "r", "f", b"2")
        store.detections(detections(T0 + 1))
        start = time.monotonic()
        with pytest.raises(PostgresStoreError, match=r"commit failed .*rows kept") as err:
            store.commit()
        assert time.monotonic() - start < 3.0  # the timeout, not for ever
        assert "lock timeout" in str(err.value) or "statement timeout" in str(err.value)
        store.raw(T0 + 2, "r", "f", b"3")
    finally:
        lock.release()
    store.close()
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    assert report.intact and report.rows["raw"] == 3 and report.rows["detection"] == 3
    assert store.commits_failed == 1


def test_a_dropped_connection_is_replaced_and_nothing_is_lost(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY)
    store.raw(T0, "r", "f", b"1")
    store.commit()
    q(pg_dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
              " WHERE application_name = 'luchtwacht' AND pid <> pg_backend_pid()")  # fmt: skip
    store.raw(T0 + 1, "r", "f", b"2")
    with contextlib.suppress(PostgresStoreError):
        store.commit()  # the broken connection is noticed on this commit or the next
    store.raw(T0 + 2, "r", "f", b"3")
    store.close()
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    assert report.intact and report.rows["raw"] == 3


def test_the_backlog_is_bounded_and_refused_rows_leave_no_hole_in_the_chain(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY, statement_timeout_s=0.2, max_pending_rows=10)
    store.commit()
    lock = TableLock(pg_dsn, "raw")
    refused, message = 0, ""
    try:
        for i in range(20):
            try:
                store.raw(T0 + i, "r", "f", bytes([i]))
            except PostgresStoreError as exc:
                refused += 1
                message = str(exc)
        assert "rows wait for the server" in message
        with pytest.raises(PostgresStoreError):
            store.commit()
    finally:
        lock.release()
    store.close()
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    assert report.intact and report.rows["raw"] == 20 - refused
    assert refused == 10


def test_text_postgresql_cannot_hold_is_refused_before_it_is_chained(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY)
    with pytest.raises(ValueError, match="NUL"):
        store.rejections(T0, "radar-1", ["fine", "bad\x00reason"])
    with pytest.raises(ValueError, match="UTF-8"):
        store.raw(T0, "sensor-\udcff", "f", b"x")
    store.close()
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    assert report.intact and report.rows["rejection"] == 1 and report.rows["raw"] == 0


def test_the_background_writer_drops_and_counts_while_the_server_is_locked(pg_dsn):
    """The worker blocks on the locked table; the bounded queue fills; drops are counted; when
    the lock goes, everything that was queued is written and the chain is whole."""
    section = StoreSection(backend="postgresql", dsn=pg_dsn)
    store = open_store(section, None, maxsize=200, statement_timeout_s=1.0)
    assert store is not None
    store.raw(T0, "r", "f", b"first")
    assert store.flush()
    lock = TableLock(pg_dsn, "raw")
    try:
        store.commit()
        for i in range(2000):
            store.raw(T0 + i * 1e-3, "r", "f", bytes([i % 256]))
            if i % 200 == 0:
                store.commit()
        stats = store.stats()
        assert cast(Counter[str], stats["dropped"])["raw"] > 0
        assert cast(int, stats["backlog"]) > 0
        time.sleep(1.5)  # the commit waiting for the lock times out: counted, its rows kept
    finally:
        lock.release()
    assert store.flush(timeout_s=20)
    stats = store.stats()
    run_id = int(str(store.path).split()[2])
    store.close()
    report = verify_postgres(pg_dsn, run_id)
    assert report.intact, report.problem
    assert report.rows["raw"] == 1 + 2000 - cast(Counter[str], stats["dropped"])["raw"]
    assert cast(Counter[str], stats["errors"])["PostgresStoreError"] >= 1


# -- the factory and the live node ----------------------------------------------------------


def test_the_dsn_password_never_shows(pg_server):
    dsn = f"host=127.0.0.1 port={pg_server.port} user=x password=s3cret dbname=nope"
    assert "s3cret" not in redact_dsn(dsn) and "dbname=nope" in redact_dsn(dsn)
    url = f"postgresql://x:s3cret@127.0.0.1:{pg_server.port}/nope"
    assert "s3cret" not in redact_dsn(url) and "user=x" in redact_dsn(url)
    with pytest.raises(StoreConfigError) as err:
        open_store(StoreSection(backend="postgresql", dsn=dsn), None)
    assert "s3cret" not in str(err.value) and str(err.value).startswith("store.dsn: ")
    closed = "host=127.0.0.1 port=1 user=x password=s3cret dbname=nope connect_timeout=2"
    with pytest.raises(StoreConfigError, match="cannot connect") as err:
        open_store(StoreSection(backend="postgresql", dsn=closed), None)
    assert "s3cret" not in str(err.value)


def test_open_store_chooses_the_backend_from_the_site(pg_dsn, tmp_path):
    assert open_store(StoreSection(), None) is None
    lite = open_store(StoreSection(), tmp_path / "r.sqlite")
    assert isinstance(lite, BackgroundStore)
    lite.close()
    assert verify_recording(tmp_path / "r.sqlite").intact
    with pytest.raises(StoreConfigError, match=r"record .* give one of them"):
        open_store(StoreSection(backend="postgresql", dsn=pg_dsn), tmp_path / "x.sqlite")
    key_file = tmp_path / "node.key"
    key_file.write_bytes(KEY.private_pem())
    pg = open_store(StoreSection(backend="postgresql", dsn=pg_dsn, signing_key=key_file), None)
    assert pg is not None and str(pg.path).startswith("postgresql run ")
    write_run(pg, cycles=2)
    run_id = int(str(pg.path).split()[2])
    assert verify_postgres(pg_dsn, run_id, KEY.public_pem()).intact
    with pytest.raises(StoreConfigError, match=r"store\.signing_key"):
        open_store(StoreSection(signing_key=tmp_path / "missing.key"), tmp_path / "y.sqlite")


# -- queries --------------------------------------------------------------------------------

ZONE = [(51.695, 5.695), (51.695, 5.705), (51.705, 5.705), (51.705, 5.695)]  # [lat, lon]


@pytest.fixture
def picture(pg_dsn):
    """Tracks around a zone: through it, jumping over it, beside it, too late, too sparse."""
    store = PostgresStore(pg_dsn, key=KEY, origin=ORIGIN)
    t = T0
    for k in range(5):  # 1: south to north through the zone, 1 s snapshots
        store.tracks([view(1, t + k, 51.6925 + 0.005 * k, 5.700)])
    store.tracks([view(2, t + 1, 51.700, 5.690), view(2, t + 2, 51.700, 5.710)])  # 2: jumps over
    store.tracks([view(3, t + k, 51.720, 5.700 + 0.001 * k) for k in range(5)])  # 3: beside
    store.tracks([view(4, t + 100, 51.700, 5.700)])  # 4: inside, after the window
    store.tracks([view(5, t + 1, 51.700, 5.680), view(5, t + 61, 51.700, 5.720)])  # 5: a gap
    store.detections(detections(t + 1, n=4))  # ENU 0/100/200/300 m east, 50 m north of origin
    store.close()
    return pg_dsn, store.run_id


def test_tracks_through_a_zone_in_a_window(picture):
    dsn, run = picture
    passages = tracks_in_zone(dsn, ZONE, T0, T0 + 70, run)
    by_id = {p.track_id: p for p in passages}
    assert set(by_id) == {1, 2}
    assert by_id[1].snapshots_inside == 2 and by_id[1].object_classes == ("drone",)
    assert (by_id[1].first_t_s, by_id[1].last_t_s) == (T0, T0 + 3)  # in after 0, out by 3
    assert by_id[2].snapshots_inside == 0  # only the line between its snapshots crosses
    assert {p.track_id for p in tracks_in_zone(dsn, ZONE, T0, T0 + 200)} == {1, 2, 4}
    assert tracks_in_zone(dsn, ZONE, T0, T0 + 70, run + 1) == []
    wide = tracks_in_zone(dsn, ZONE, T0, T0 + 70, run, max_gap_s=100, max_step_m=2000)
    assert {p.track_id for p in wide} == {
        1, 2, 5,
    }  # fmt: skip


def test_everything_within_r_of_a_point_with_geodesic_distances(picture):
    dsn, run = picture
    geod = Geod(ellps="WGS84")
    lat, lon, r = 51.700, 5.700, 280.0  # track 1 passes 278 m off, at 1 and 2 s
    tracks, dets = within_radius(dsn, lat, lon, r, T0, T0 + 70, run)
    rows = q(dsn, "SELECT track_id, t_s, lat_deg, lon_deg FROM track WHERE t_s <= %s", T0 + 70)
    expected = {
        (tid, t): geod.inv(lon, lat, lo, la)[2] for tid, t, la, lo in rows
        if geod.inv(lon, lat, lo, la)[2] <= r
    }  # fmt: skip
    assert {(s.track_id, s.t_s): s.distance_m for s in tracks} == pytest.approx(expected, abs=0.01)
    assert len(expected) >= 2 and [s.t_s for s in tracks] == sorted(s.t_s for s in tracks)
    enu = ORIGIN.to_geodetic(np.array([[100.0 * i, 50.0, 30.0] for i in range(4)]))
    near = [geod.inv(lon, lat, g[1], g[0])[2] for g in enu]
    assert [d.distance_m for d in dets] == pytest.approx([d for d in near if d <= r], abs=0.01)
    assert len(dets) == 3 and dets[0].sensor_id == "radar-1"
    assert within_radius(dsn, lat, lon, r, T0 + 200, T0 + 300) == ([], [])
    with pytest.raises(ValueError, match="radius"):
        within_radius(dsn, lat, lon, math.nan, T0, T0 + 1)


def test_the_queries_can_use_the_spatial_and_time_indexes(picture):
    dsn, _ = picture
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET search_path = luchtwacht, public")
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM track WHERE ST_DWithin(geom::geography,"
                " ST_SetSRID(ST_MakePoint(5.7, 51.7), 4326)::geography, 100)"
            )
        )
        assert "_geom_idx" in plan, plan
        brin = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'luchtwacht'"
            " AND indexdef LIKE '%USING brin (t_s)'"
        ).fetchone()
        assert brin is not None and brin[0] >= 2 * 7  # two days of seven tables with t_s
        # Partition pruning: a window inside one day reads that day's partition only.
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM track WHERE t_s BETWEEN %s AND %s", (T0, T0 + 1)
            )
        )
        assert "track_20251207" in plan and "track_20251208" not in plan, plan


def test_commits_from_another_thread_while_reading(pg_dsn):
    """The worker writes while analysts query: readers see whole commits only."""
    store = PostgresStore(pg_dsn, key=KEY, origin=ORIGIN)
    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            n = q(pg_dsn, "SELECT count(*) FROM track")[0][0]
            seen.append(n)

    reader = threading.Thread(target=read)
    reader.start()
    for k in range(20):
        store.tracks([view(i, T0 + k) for i in range(10)])
        store.commit()
    done.set()
    reader.join()
    store.close()
    assert all(n % 10 == 0 for n in seen) and seen == sorted(seen)


def test_verify_postgres_streams_a_run_larger_than_a_batch(pg_dsn):
    store = PostgresStore(pg_dsn, key=KEY)
    for k in range(30):
        store.detections(detections(T0 + k, n=50))
        store.commit()
    store.close()
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem(), batch_rows=64)
    assert report.intact and report.rows["detection"] == 1500


# -- luchtwacht verify --dsn --run ----------------------------------------------------------


def test_the_verify_command_checks_a_postgresql_run(written, tmp_path):
    from typer.testing import CliRunner

    from luchtwacht.cli import app

    dsn, run = written
    pub = tmp_path / "node.pub"
    pub.write_bytes(KEY.public_pem())
    cli = CliRunner()
    ok = cli.invoke(app, ["verify", "--dsn", dsn, "--run", str(run), "--public-key", str(pub)])
    assert ok.exit_code == 0, ok.output
    assert f"postgresql run {run} [" in ok.output and "intact" in ok.output
    assert "checked against the trusted key" in ok.output
    q(dsn, "DELETE FROM detection WHERE run_id = %s AND seq = 5", run)
    bad = cli.invoke(app, ["verify", "--dsn", dsn, "--run", str(run)])
    assert bad.exit_code == 1 and "detection chain BROKEN at seq 5" in bad.output, bad.output
    wrong = dsn.replace("user=", "password=s3cret user=") + " port=1 connect_timeout=2"
    gone = cli.invoke(app, ["verify", "--dsn", wrong, "--run", str(run)])
    assert gone.exit_code == 2 and "cannot connect" in gone.output and "s3cret" not in gone.output
    assert cli.invoke(app, ["verify", "--dsn", dsn]).exit_code == 2  # --run is needed
    assert cli.invoke(app, ["verify", "--dsn", dsn, "--run", "999"]).exit_code == 2


class CommitCutter:
    """A TCP proxy to the server that, once armed, cuts the connection as the server's answer
    to COMMIT passes: the commit is made, the client never hears of it."""

    COMMIT_DONE = b"C\x00\x00\x00\x0bCOMMIT\x00"  # CommandComplete, tag COMMIT

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.armed = threading.Event()
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while data := src.recv(65536):
                if answers and self.armed.is_set() and self.COMMIT_DONE in data:
                    self.armed.clear()
                    self.cuts += 1
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_commit_whose_answer_was_lost_is_not_sent_twice(pg_server, pg_dsn, caplog):
    proxy = CommitCutter(pg_server.port)
    dsn = pg_dsn.replace(f"port={pg_server.port}", f"port={proxy.port}")
    store = PostgresStore(dsn, key=KEY)
    store.raw(T0, "r", "f", b"1")
    store.detections(detections(T0))  # (its day's partitions made: the next COMMIT is the data's)
    store.commit()
    proxy.armed.set()
    store.raw(T0 + 1, "r", "f", b"2")
    store.detections(detections(T0 + 1))
    with pytest.raises(PostgresStoreError, match="commit failed"):
        store.commit()  # made on the server; the answer was cut
    assert proxy.cuts == 1
    assert q(pg_dsn, "SELECT count(*) FROM raw")[0][0] == 2  # it is there
    store.raw(T0 + 2, "r", "f", b"3")
    with caplog.at_level(logging.WARNING, logger="luchtwacht.store.postgres"):
        store.close()  # settles the lost commit from the server's records, then sends the rest
    assert "had reached the server" in caplog.text
    report = verify_postgres(pg_dsn, store.run_id, KEY.public_pem())
    assert report.intact and report.rows["raw"] == 3 and report.rows["detection"] == 6
    proxy.listener.close()


def test_the_schema_is_made_from_nothing_and_another_version_is_refused(pg_server):
    dsn = pg_server.create_database("bare", postgis=False)  # no PostGIS, no schema yet
    run_id = create_run(dsn)
    assert run_id == 1 and q(dsn, "SELECT extname FROM pg_extension WHERE extname = 'postgis'")
    assert create_run(dsn) == 2  # made once; a second run finds it
    q(dsn, "UPDATE schema_version SET version = 99")
    with pytest.raises(PostgresStoreError, match="version 99"):
        create_run(dsn)


def test_nodes_sharing_a_database_make_a_new_day_partition_together(pg_dsn):
    """Two writers reach the same new UTC day at once: one makes the partition, both write."""
    stores = [PostgresStore(pg_dsn, key=KEY, origin=ORIGIN) for _ in range(4)]
    day = T0 + 10 * 86_400.0  # a day no partition exists for yet
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def write(store: PostgresStore) -> None:
        try:
            store.detections(detections(day, n=20))
            store.tracks([view(1, day)])
            barrier.wait()
            store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for store in stores:
        assert verify_postgres(pg_dsn, store.run_id, KEY.public_pem()).intact
    assert q(pg_dsn, "SELECT count(*) FROM ONLY detection_20251217")[0][0] == 4 * 20
