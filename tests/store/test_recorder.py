"""The SQLite recorder: WAL, rows written, every table chained, reopening continues the chain."""

import sqlite3

import pytest

from luchtwacht.model.track import Alert, ThreatLevel
from luchtwacht.store.chain import CHAINED, NodeKey, ProblemKind
from luchtwacht.store.recorder import (
    NotChainedError,
    Recorder,
    verify_audit_chain,
    verify_recording,
)


def make(path, n=5, key=None):
    rec = Recorder(path, key)
    rec.raw(1.0, "radar-1", "sapient", b"\x01\x02")
    for i in range(n):
        a = Alert(
            i + 1,
            10 + i,
            "zone",
            ThreatLevel.HIGH,
            "approach",
            float(i),
            float(i),
            "drone",
            None,
            message=f"m{i}",
        )
        rec.alert_event(float(i), "raised", a)
    rec.close()


def test_wal_mode_and_rows_written(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT payload FROM raw").fetchone()[0] == b"\x01\x02"
    assert db.execute("SELECT count(*) FROM alert_event").fetchone()[0] == 5
    assert db.execute("SELECT count(*) FROM chain_commit WHERE closing = 1").fetchone()[0] == 1
    for table in CHAINED:  # every row of every chained table carries its 32-byte hash
        nulls = db.execute(f"SELECT count(*) FROM {table} WHERE length(hash) != 32").fetchone()
        assert nulls[0] == 0, table
    assert verify_audit_chain(path) == (True, 5, "")


def test_tampering_is_detected(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE audit SET payload = replace(payload, 'm2', 'mX') WHERE seq = 3")
    db.commit()
    ok, n, problem = verify_audit_chain(path)
    assert not ok and n == 2 and "audit chain BROKEN at seq 3" in problem


def test_deleted_row_is_detected(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    ok, _, problem = verify_audit_chain(path)
    assert not ok and "row removed: row 2 is missing" in problem


def test_chain_continues_across_reopen(tmp_path):
    path = tmp_path / "run.sqlite"
    key = NodeKey.generate()
    make(path, 2, key)
    make(path, 2, key)
    assert verify_audit_chain(path) == (True, 4, "")
    report = verify_recording(path, key.public_pem())
    assert report.intact and report.trusted and report.commits == 2 and report.rows["raw"] == 2


def test_a_second_run_with_another_key_follows_a_closing_record(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path, 2)
    make(path, 2)  # each run made its own key: allowed after the first run's closing record
    report = verify_recording(path)
    assert report.intact and len(report.fingerprints) == 2 and not report.trusted


def test_cutting_rows_off_the_end_is_detected(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit WHERE seq >= 4")
    db.commit()
    ok, n, problem = verify_audit_chain(path)
    assert not ok and n == 3 and "rows removed at the tail" in problem
    assert "ends at seq 3, its commits reach seq 5" in problem
    db.execute("DELETE FROM audit")
    db.commit()
    assert not verify_audit_chain(path)[0]


def test_an_idle_commit_writes_no_record(tmp_path):
    path = tmp_path / "run.sqlite"
    rec = Recorder(path)
    rec.commit()
    rec.commit()
    rec.set_meta(seed=7)  # type: ignore[arg-type]  # kept as text, as SQLite would: verifies
    rec.tick(1.0)
    rec.commit()
    rec.commit()
    rec.close()
    report = verify_recording(path)
    assert report.intact and report.commits == 3  # the opening metadata, the tick, the close
    assert sqlite3.connect(path).execute(
        "SELECT value FROM meta WHERE key = 'seed'"
    ).fetchone() == ("7",)
    assert report.rows["tick"] == 1


def test_a_track_instant_given_twice_before_a_commit_keeps_the_later(tmp_path):
    from tests.store.test_worker import view

    path = tmp_path / "run.sqlite"
    rec = Recorder(path)
    rec.tracks([view(1, 2.0), view(2, 2.0)])
    rec.tracks([view(1, 2.0)])
    rec.commit()
    rec.tracks([view(1, 3.0)])
    rec.close()
    db = sqlite3.connect(path)
    rows = db.execute("SELECT seq, track_id, t_s FROM track ORDER BY seq").fetchall()
    assert rows == [(1, 1, 2.0), (2, 2, 2.0), (3, 1, 3.0)]
    assert verify_recording(path).intact


def test_a_refused_row_leaves_the_chain_whole(tmp_path):
    path = tmp_path / "run.sqlite"
    rec = Recorder(path)
    rec.raw(1.0, "s", "f", b"a")
    rec.raw(2.0, None, "f", b"b")  # type: ignore[arg-type]  # NOT NULL: refused by SQLite
    rec.raw(2.5, "s", "f", [1, 2])  # type: ignore[arg-type]  # cannot be hashed: refused
    rec.raw(3.0, "s", "f", b"c")
    with pytest.raises(sqlite3.IntegrityError):
        rec.commit()
    rec.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT seq, payload FROM raw").fetchall() == [(1, b"a"), (2, b"c")]
    report = verify_recording(path)
    assert report.intact, report.problem


def test_pki_signing_key_signs_a_recording_that_verify_checks_against_the_site(tmp_path):
    from typer.testing import CliRunner

    from luchtwacht.cli import app

    runner = CliRunner()
    key_file = tmp_path / "node.key"
    made = runner.invoke(app, ["pki", "signing-key", str(key_file)])
    assert made.exit_code == 0, made.output
    assert (key_file.stat().st_mode & 0o777) == 0o600
    pub = tmp_path / "node.key.pub"
    assert NodeKey.load(key_file).public_pem() == pub.read_bytes()
    again = runner.invoke(app, ["pki", "signing-key", str(key_file)])
    assert again.exit_code == 2 and "exists" in again.output
    path = tmp_path / "run.sqlite"
    make(path, 2, NodeKey.load(key_file))
    site = tmp_path / "site.yaml"
    site.write_text(f"site: {{name: t, lat: 52.0, lon: 5.0}}\nstore: {{signing_key: {key_file}}}\n")
    res = runner.invoke(app, ["verify", str(path), "--site", str(site)])
    assert res.exit_code == 0 and "checked against the trusted key" in res.output
    assert NodeKey.load(key_file).fingerprint() in res.output
    res = runner.invoke(app, ["verify", str(path), "--public-key", str(pub)])
    assert res.exit_code == 0, res.output
    plain = tmp_path / "plain.yaml"
    plain.write_text("site: {name: t, lat: 52.0, lon: 5.0}\n")
    res = runner.invoke(app, ["verify", str(path), "--site", str(plain)])
    assert res.exit_code == 2 and "store.signing_key is not set" in res.output


def test_a_recording_from_before_the_chain_is_named_and_not_called_intact(tmp_path):
    from typer.testing import CliRunner

    from luchtwacht.cli import app

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL,"
        " payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    )
    db.commit()
    db.close()
    res = CliRunner().invoke(app, ["verify", str(path)])
    assert res.exit_code == 1 and "recorded before every record was chained" in res.output
    with pytest.raises(NotChainedError, match="older format; cannot append"):
        Recorder(path)


def test_a_row_put_in_by_hand_is_named_and_the_recorder_goes_on_after_it(tmp_path):
    from tests.store.test_worker import view

    path = tmp_path / "run.sqlite"
    rec = Recorder(path)
    rec.tracks([view(1, 1.0)])
    rec.close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO track (t_s, track_id, threat) VALUES (2.0, 9, 'low')")  # no hash
    db.commit()
    db.close()
    rec = Recorder(path)  # reopened: its chain goes on after the row without a hash
    rec.tracks([view(1, 3.0)])
    rec.close()
    report = verify_recording(path)
    p = report.problem
    assert p is not None and (p.kind, p.table, p.seq) == (ProblemKind.ROW_CHANGED, "track", 2)
    assert report.rows["track"] == 3
