"""The live node recording to PostgreSQL: over real sockets, and killed with ``kill -9``.

The server is the session's (tests/pg.py, a real PostgreSQL + PostGIS on loopback). The first
test drives a :class:`LiveNode` in this process on a :class:`ManualClock`; the second runs
``luchtwacht run`` as a separate process on the wall clock, feeds it a radar over TCP and kills
it without warning: everything it committed is in the database and ``verify`` names the cut.
"""

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import yaml

from luchtwacht.node import ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.site import RemoteIdSection, SapientSection, StoreSection, default_site
from luchtwacht.store.chain import NodeKey, ProblemKind
from luchtwacht.store.postgres import runs, tracks_in_zone, verify_postgres, within_radius
from tests.live import accepted, advance, iter_frames, radar_stream, started


def count(dsn: str, table: str, run_id: int) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM luchtwacht.{table} WHERE run_id = %s".encode(), (run_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_live_node_records_to_postgresql_through_the_site_store_section(pg_dsn, tmp_path):
    key = NodeKey.generate()
    key_file = tmp_path / "node.key"
    key_file.write_bytes(key.private_pem())
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "store": StoreSection(backend="postgresql", dsn=pg_dsn, signing_key=key_file),
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    assert node.recorder is not None and str(node.recorder.path).startswith("postgresql run ")

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        _, scans = radar_stream(clock.now() - 6.5, range(6))
        reader, writer = await asyncio.open_connection(host, port)
        for chunk in scans:
            writer.write(chunk)
        await writer.drain()
        n = sum(1 for c in scans for _ in iter_frames(c))
        deadline = time.monotonic() + 10
        while accepted(node) < n:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await advance(node, clock, 3.0)
        assert node.stats()["confirmed_tracks"] >= 1
        node.stop_event.set()
        await runner
        writer.close()
        del reader

    asyncio.run(scenario())
    ((run_id, _, label),) = runs(pg_dsn)
    assert label == site.site.name
    report = verify_postgres(pg_dsn, run_id, key.public_pem())
    assert report.intact and report.closed and report.trusted, report.problem
    assert report.rows["raw"] >= 1 and report.rows["detection"] >= 6 and report.rows["track"] >= 1
    assert report.rows["tick"] >= 30 and report.rows["audit"] >= 1
    # The drone the radar saw, found by the analysts' queries: near its track, through a zone.
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT lat_deg, lon_deg, t_s FROM luchtwacht.track ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    lat, lon, t = row
    tracks, dets = within_radius(pg_dsn, lat, lon, 200.0, t - 10, t + 1, run_id)
    assert tracks and dets and all(d.distance_m <= 200.0 for d in dets)
    box = [(lat - 0.001, lon - 0.001), (lat - 0.001, lon + 0.001),
           (lat + 0.001, lon + 0.001), (lat + 0.001, lon - 0.001)]  # fmt: skip
    assert tracks_in_zone(pg_dsn, box, t - 10, t + 1, run_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kill_9_of_a_node_writing_to_postgresql_loses_nothing_it_committed(pg_dsn, tmp_path):
    port = free_port()
    site = default_site().model_copy(
        update={"store": StoreSection(backend="postgresql", dsn=pg_dsn + " password=s3cret")}
    )
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site.model_dump(mode="json")))
    proc = subprocess.Popen(
        [sys.executable, "-m", "luchtwacht.cli", "run", "--headless", "--config", "site.yaml",
         "--sapient-listen", f"127.0.0.1:{port}", "--plain-tcp", "--no-web"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.time() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=20)
                break
            except ConnectionRefusedError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.time() < deadline, "the node never listened"
                time.sleep(0.05)
        with sock:
            # A radar scanning once a second, each scan sent when it is due: rows keep coming.
            while not runs(pg_dsn):  # the listener is bound before the node has loaded
                assert time.time() < deadline, "the node never made its run"
                time.sleep(0.05)
            ((run_id, _, _),) = runs(pg_dsn)
            epoch = time.time()
            _, scans = radar_stream(epoch, range(12))
            before: dict[str, int] = {}
            for k, chunk in enumerate(scans):
                time.sleep(max(0.0, epoch + k - time.time()))
                sock.sendall(chunk)
                if count(pg_dsn, "chain_commit", run_id) >= 4 and k >= 4:
                    # What the node has committed so far: it must all be there after the kill.
                    before = {t: count(pg_dsn, t, run_id) for t in ("raw", "detection", "tick")}
                    proc.send_signal(signal.SIGKILL)
                    break
            out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and before, err.decode()
    assert b"s3cret" not in out + err
    assert f"recording to postgresql run {run_id} [host=127.0.0.1".encode() in out
    report = verify_postgres(pg_dsn, run_id)
    problem = report.problem
    assert problem is not None and problem.kind is ProblemKind.CUT_OFF, problem
    assert problem.describe().startswith("run cut off at ")
    assert not report.closed and report.commits >= 4
    for table, n in before.items():
        assert count(pg_dsn, table, run_id) >= n > 0, table


def test_run_names_an_unreachable_store_in_one_line_without_the_password(tmp_path):
    dsn = f"host=127.0.0.1 port={free_port()} user=x password=s3cret dbname=x connect_timeout=2"
    site = default_site().model_copy(
        update={
            "remoteid": RemoteIdSection(listen="127.0.0.1:0", protocol="udp"),
            "store": StoreSection(backend="postgresql", dsn=dsn),
        }
    )
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site.model_dump(mode="json")))
    proc = subprocess.run(
        [sys.executable, "-m", "luchtwacht.cli", "run", "--headless", "--config", "site.yaml",
         "--no-web", "--duration", "1"],
        cwd=tmp_path, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("error: store.dsn: ") and "cannot connect" in err, err
    assert len(err.strip().splitlines()) == 1 and "s3cret" not in err + proc.stdout.decode()
    assert not Path(tmp_path / "site.yaml.sqlite").exists()
