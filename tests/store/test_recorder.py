import sqlite3

from luchtwacht.model.track import Alert, ThreatLevel
from luchtwacht.store.recorder import Recorder, verify_audit_chain


def make(path, n=5):
    rec = Recorder(path)
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
    assert verify_audit_chain(path) == (True, 5, "")


def test_tampering_is_detected(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    db.execute("UPDATE audit SET payload = replace(payload, 'm2', 'mX') WHERE seq = 3")
    db.commit()
    ok, n, problem = verify_audit_chain(path)
    assert not ok and n == 2 and "row 3" in problem


def test_deleted_row_is_detected(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.commit()
    ok, _, problem = verify_audit_chain(path)
    assert not ok and "row 2 is missing" in problem


def test_chain_continues_across_reopen(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path, 2)
    make(path, 2)
    assert verify_audit_chain(path) == (True, 4, "")


def test_cutting_rows_off_the_end_is_detected(tmp_path):
    path = tmp_path / "run.sqlite"
    make(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM audit WHERE seq >= 4")
    db.commit()
    ok, n, problem = verify_audit_chain(path)
    assert not ok and n == 3 and "recorded head is row 5" in problem
    db.execute("DELETE FROM audit")
    db.commit()
    assert not verify_audit_chain(path)[0]
