"""Tampering with a real recording by SQL, as someone holding the file would: each is located.

The recording comes from the default scenario run through the Pipeline with a Recorder and the
node's key; every test alters a copy with sqlite3 and asks the verifier (and ``luchtwacht
verify``) what it finds: the kind of problem, the table and the seq.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.store.chain import (
    CHAINED,
    COMMIT_TABLE,
    GENESIS,
    NodeKey,
    ProblemKind,
    commit_bytes,
    decode_heads,
    encode_heads,
    link,
)
from luchtwacht.store.recorder import Recorder, read_commits, verify_recording

runner = CliRunner()
KEY = NodeKey.generate()
RUN_S = 70.0  # the first alerts come at about 60 s


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default scenario's first 70 s, recorded and signed with KEY, closed cleanly.

    The scenario has no angle-only sensor and no rejected message: a few of those rows are
    written after it, so every chained table has rows.
    """
    from tests.store.test_worker import bearings

    path = tmp_path_factory.mktemp("tamper") / "run.sqlite"
    rec = Recorder(path, KEY)
    p = Pipeline(default_scenario(seed=7), recorder=rec)
    p.run(RUN_S)
    p.finish()
    for _ in range(3):
        rec.bearings(bearings(), applied=False)
        rec.rejections(RUN_S, "radar-1", ["bad crc", "too long"])
        rec.commit()
    rec.close()
    return path


@pytest.fixture
def rec(original: Path, tmp_path: Path) -> Path:
    """A fresh copy of the recording to alter."""
    path = tmp_path / "copy.sqlite"
    shutil.copy(original, path)
    return path


def sql(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:
        for s in statements:
            db.execute(s)
    db.close()


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        n = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    db.close()
    return n


def located(path: Path, trusted: bool = True) -> tuple[ProblemKind, str, int]:
    report = verify_recording(path, KEY.public_pem() if trusted else None)
    assert report.problem is not None, "tampering not caught"
    return report.problem.kind, report.problem.table, report.problem.seq


def cli(path: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["verify", str(path), *args])
    return res.exit_code, res.output


def test_the_recorded_run_is_intact_with_rows_in_every_evidence_table(original: Path) -> None:
    report = verify_recording(original, KEY.public_pem())
    assert report.intact and report.trusted and report.closed, report.problem
    for table in CHAINED:
        assert report.rows[table] > 0, table
    assert report.commits >= RUN_S - 2  # one per slow cycle (1 s)
    assert report.fingerprints == (KEY.fingerprint(),)
    key_file = original.parent / "node.pub"
    key_file.write_bytes(KEY.public_pem())
    code, out = cli(original, "--public-key", str(key_file))
    assert code == 0 and "intact" in out and "checked against the trusted key" in out
    assert KEY.fingerprint() in out and f"raw {report.rows['raw']}" in out
    code, out = cli(original)
    assert code == 0 and "only against the recording's own key" in out


def test_one_byte_of_one_raw_payload(rec: Path) -> None:
    sql(rec, "UPDATE raw SET payload = X'00' || substr(payload, 2) WHERE seq = 137")
    assert located(rec) == (ProblemKind.ROW_CHANGED, "raw", 137)
    code, out = cli(rec)
    assert code == 1 and "raw chain BROKEN at seq 137" in out and "row changed" in out


def test_one_detection_deleted(rec: Path) -> None:
    sql(rec, "DELETE FROM detection WHERE seq = 250")
    assert located(rec) == (ProblemKind.ROW_REMOVED, "detection", 250)


@pytest.mark.parametrize("table", list(CHAINED))
def test_the_last_rows_of_a_table_deleted(rec: Path, table: str) -> None:
    n = count(rec, table)
    cut = max(1, min(1000, n // 3))
    sql(rec, f"DELETE FROM {table} WHERE seq > {n - cut}")
    assert located(rec) == (ProblemKind.TRUNCATED, table, n - cut + 1)
    code, out = cli(rec)
    assert code == 1 and f"{table} chain BROKEN" in out and "removed at the tail" in out


def test_the_last_rows_of_every_table_and_the_last_commits_deleted(rec: Path) -> None:
    commits = count(rec, COMMIT_TABLE)
    with sqlite3.connect(rec) as db:
        (t_last,) = db.execute(
            f"SELECT t_s FROM {COMMIT_TABLE} WHERE seq = {commits - 3}"
        ).fetchone()
        heads = decode_heads(
            db.execute(f"SELECT heads FROM {COMMIT_TABLE} WHERE seq = {commits - 3}").fetchone()[0]
        )
        db.execute(f"DELETE FROM {COMMIT_TABLE} WHERE seq > {commits - 3}")
        for table, (seq, _) in heads.items():
            db.execute(f"DELETE FROM {table} WHERE seq > {seq}")
    db.close()
    # Consistent up to a commit: all that shows is the missing end. It does show.
    kind, table, seq = located(rec)
    assert (kind, table, seq) == (ProblemKind.CUT_OFF, COMMIT_TABLE, commits - 3)
    code, out = cli(rec)
    assert code == 1 and "run cut off at" in out
    import datetime as dt

    assert dt.datetime.fromtimestamp(t_last, dt.UTC).isoformat(timespec="milliseconds") in out


def test_a_track_rewritten_from_drone_to_bird(rec: Path) -> None:
    with sqlite3.connect(rec) as db:
        first = db.execute("SELECT min(seq) FROM track WHERE object_class = 'drone'").fetchone()[0]
        db.execute("UPDATE track SET object_class = 'bird' WHERE object_class = 'drone'")
    db.close()
    assert located(rec) == (ProblemKind.ROW_CHANGED, "track", first)


def test_every_alert_event_deleted(rec: Path) -> None:
    sql(rec, "DELETE FROM alert_event")
    assert located(rec) == (ProblemKind.TRUNCATED, "alert_event", 1)


def test_a_row_inserted_after_the_last_commit(rec: Path) -> None:
    n = count(rec, "raw")
    with sqlite3.connect(rec) as db:
        (prev,) = db.execute(f"SELECT hash FROM raw WHERE seq = {n}").fetchone()
        values = (1.0e9, "radar-1", "sapient", b"forged")
        digest = link(prev, "raw", n + 1, values)  # a correct link: only the commits tell
        db.execute("INSERT INTO raw VALUES (?, ?, ?, ?, ?, ?)", (n + 1, *values, digest))
    db.close()
    assert located(rec) == (ProblemKind.ROW_INSERTED, "raw", n + 1)


def test_run_metadata_changed(rec: Path) -> None:
    sql(rec, "UPDATE meta SET value = '8' WHERE key = 'seed'")
    kind, table, _ = located(rec)
    assert (kind, table) == (ProblemKind.META_CHANGED, "meta")


def test_the_closing_record_deleted(rec: Path) -> None:
    commits = count(rec, COMMIT_TABLE)
    sql(rec, f"DELETE FROM {COMMIT_TABLE} WHERE seq = {commits}")
    # The rows the closing commit covered are now beyond every commit: that is found first.
    report = verify_recording(rec, KEY.public_pem())
    assert report.problem is not None and not report.intact
    assert report.problem.kind in (ProblemKind.ROW_INSERTED, ProblemKind.CUT_OFF)


def test_every_commit_record_deleted(rec: Path) -> None:
    sql(rec, f"DELETE FROM {COMMIT_TABLE}")
    assert located(rec) == (ProblemKind.NO_COMMITS, COMMIT_TABLE, 0)
    code, out = cli(rec)
    assert code == 1 and "nothing in the recording is signed" in out


def test_a_commits_heads_changed(rec: Path) -> None:
    with sqlite3.connect(rec) as db:
        heads = decode_heads(
            db.execute(f"SELECT heads FROM {COMMIT_TABLE} WHERE seq = 5").fetchone()[0]
        )
        heads["raw"] = (heads["raw"][0] - 1, heads["raw"][1])
        db.execute(f"UPDATE {COMMIT_TABLE} SET heads = ? WHERE seq = 5", (encode_heads(heads),))
    db.close()
    assert located(rec) == (ProblemKind.COMMIT_CHANGED, COMMIT_TABLE, 5)


def rechain(path: Path, key: NodeKey | None, from_table: str = "", from_seq: int = 0) -> None:
    """Recompute every row hash and every commit record, as an attacker with SQL would.

    With ``key`` the commits are signed by it (an attacker's own key); without, the original
    signatures and public key are left in place (the attacker does not have the node's key).
    """
    db = sqlite3.connect(path)
    new_heads: dict[str, dict[int, bytes]] = {}
    for table, cols in CHAINED.items():
        prev = GENESIS
        at: dict[int, bytes] = {}
        rows = db.execute(f"SELECT seq, {', '.join(cols)} FROM {table} ORDER BY seq").fetchall()
        for seq, *values in rows:
            prev = link(prev, table, seq, values)
            at[seq] = prev
        db.executemany(
            f"UPDATE {table} SET hash = ? WHERE seq = ?", [(h, s) for s, h in at.items()]
        )
        new_heads[table] = at
    prev = GENESIS
    for c in read_commits(db):
        heads = {t: (s, new_heads[t].get(s, GENESIS)) for t, (s, _) in c.heads.items()}
        pub = key.public_raw() if key else c.public_key
        digest = hashlib.sha256(commit_bytes(c.seq, c.t_s, c.closing, heads, prev, pub)).digest()
        sig = key.sign(digest) if key else c.signature
        db.execute(
            f"UPDATE {COMMIT_TABLE} SET heads = ?, prev_hash = ?, public_key = ?, hash = ?,"
            " signature = ? WHERE seq = ?",
            (encode_heads(heads), prev, pub, digest, sig, c.seq),
        )
        prev = digest
    db.commit()
    db.close()


def test_the_whole_chain_recomputed_without_the_key(rec: Path) -> None:
    with sqlite3.connect(rec) as db:
        first = db.execute("SELECT min(seq) FROM track WHERE object_class = 'drone'").fetchone()[0]
        heads = [
            decode_heads(h)["track"][0]
            for (h,) in db.execute(f"SELECT heads FROM {COMMIT_TABLE} ORDER BY seq")
        ]
        db.execute("UPDATE track SET object_class = 'bird' WHERE object_class = 'drone'")
    db.close()
    rechain(rec, None)
    # Rows and commits are consistent again; the first commit covering the change is not signed.
    expected = next(i for i, h in enumerate(heads, 1) if h >= first)
    for trusted in (True, False):
        assert located(rec, trusted) == (ProblemKind.BAD_SIGNATURE, COMMIT_TABLE, expected)
    code, out = cli(rec)
    assert code == 1 and f"commit {expected}" in out and "without the node's key" in out


def test_the_whole_chain_recomputed_and_signed_with_another_key(rec: Path) -> None:
    sql(rec, "UPDATE track SET object_class = 'bird' WHERE object_class = 'drone'")
    rechain(rec, NodeKey.generate())
    assert located(rec, trusted=True) == (ProblemKind.UNTRUSTED_KEY, COMMIT_TABLE, 1)
    pub = rec.parent / "node.pub"
    pub.write_bytes(KEY.public_pem())
    code, out = cli(rec, "--public-key", str(pub))
    assert code == 1 and "signed by a key other than the trusted one" in out
    # Without a trusted key, a file rebuilt under a new key cannot be told from the original:
    # verify says the key was checked only against the recording's own.
    code, out = cli(rec)
    assert code == 0 and "only against the recording's own key" in out


def test_rows_changed_and_their_hashes_recomputed_but_not_the_commits(rec: Path) -> None:
    with sqlite3.connect(rec) as db:
        db.execute("UPDATE detection SET east_m = east_m + 100 WHERE seq = 300")
        rows = db.execute(
            f"SELECT seq, {', '.join(CHAINED['detection'])} FROM detection ORDER BY seq"
        ).fetchall()
        prev = GENESIS
        for seq, *values in rows:
            prev = link(prev, "detection", seq, values)
            db.execute("UPDATE detection SET hash = ? WHERE seq = ?", (prev, seq))
    db.close()
    report = verify_recording(rec, KEY.public_pem())
    p = report.problem
    assert p is not None and (p.kind, p.table) == (ProblemKind.CHAIN_RECOMPUTED, "detection")
    assert p.seq_to is not None and p.seq <= 300 <= p.seq_to


def test_the_site_file_gives_the_trusted_key(original: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "node.key"
    key_file.write_bytes(KEY.private_pem())
    site = tmp_path / "site.yaml"
    site.write_text(f"site: {{name: t, lat: 52.0, lon: 5.0}}\nstore: {{signing_key: {key_file}}}\n")
    code, out = cli(original, "--site", str(site))
    assert code == 0 and "checked against the trusted key" in out, out
    other = tmp_path / "other.key"
    other.write_bytes(NodeKey.generate().private_pem())
    site.write_text(f"site: {{name: t, lat: 52.0, lon: 5.0}}\nstore: {{signing_key: {other}}}\n")
    code, out = cli(original, "--site", str(site))
    assert code == 1 and "signed by a key other than the trusted one" in out
    code, out = cli(original, "--public-key", str(tmp_path / "missing.pub"))
    assert code == 2 and "no such file" in out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_of_any_value_is_caught_at_its_row(
    original: Path, tmp_path: Path, data: st.DataObject
) -> None:
    path = tmp_path / "h.sqlite"
    shutil.copy(original, path)
    db = sqlite3.connect(path)
    try:
        tables = [t for t in CHAINED if db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]]
        table = data.draw(st.sampled_from(tables))
        n = db.execute(f"SELECT max(seq) FROM {table}").fetchone()[0]
        seq = data.draw(st.integers(1, n))
        col = data.draw(st.sampled_from(CHAINED[table]))
        (value,) = db.execute(f"SELECT {col} FROM {table} WHERE seq = ?", (seq,)).fetchone()
        if value is None:  # a NULL (e.g. no elevation): any value in its place
            value, raw = None, b""
        else:
            raw = value if isinstance(value, bytes) else repr(value).encode()
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        b = data.draw(st.integers(0, 255).filter(lambda x: not raw or x != raw[i]))
        changed = raw[:i] + bytes([b]) + raw[i + 1 :] if raw else bytes([b])
        if value is None:
            new: object = data.draw(st.one_of(st.integers(-5, 5), st.text(max_size=2)))
        elif isinstance(value, bytes):
            new = changed
        elif isinstance(value, str):
            new = changed.decode("utf-8", "replace")
            if new == value:
                new = value + "x"
        else:  # a number: its text with one byte changed, or its negative if that is no number
            try:
                new = type(value)(changed.decode("latin-1"))
            except ValueError:
                new = -value if value else 1
            if new == value:
                new = -value if value else 1
        db.execute(f"UPDATE {table} SET {col} = ? WHERE seq = ?", (new, seq))
        db.commit()
    finally:
        db.close()
    kind, where, at = located(path)
    assert (where, at) == (table, seq) and kind is ProblemKind.ROW_CHANGED
