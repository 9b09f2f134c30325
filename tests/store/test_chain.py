"""The chain itself, without a database: canonical row bytes, keys, commits and the verifier."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Sequence

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.store.chain import (
    CHAINED,
    GENESIS,
    ChainVerifier,
    CommitRecord,
    NodeKey,
    ProblemKind,
    SigningKeyError,
    decode_heads,
    encode_heads,
    link,
    load_public_key,
    row_bytes,
    seal_commit,
    verify_signature,
)


def test_a_value_hashes_as_the_database_gives_it_back() -> None:
    assert row_bytes("tick", 1, [5]) == row_bytes("tick", 1, [5.0])  # REAL keeps ints as floats
    assert row_bytes("audit", 1, [math.nan, "k", "p"]) == row_bytes("audit", 1, [None, "k", "p"])
    assert row_bytes("tick", 1, [-0.0]) == row_bytes("tick", 1, [0])
    assert row_bytes("tick", 1, [np.float64(1.5)]) == row_bytes("tick", 1, [1.5])
    assert row_bytes("tick", 1, [True]) == row_bytes("tick", 1, [1])
    assert row_bytes("raw", 1, [1.0, "s", "f", memoryview(b"x")]) == row_bytes(
        "raw", 1, [1.0, "s", "f", b"x"]
    )


def test_different_rows_have_different_bytes() -> None:
    assert row_bytes("audit", 1, [1.0, "ab", "c"]) != row_bytes("audit", 1, [1.0, "a", "bc"])
    assert row_bytes("audit", 1, [1.0, "a", "b"]) != row_bytes("audit", 2, [1.0, "a", "b"])
    assert row_bytes("tick", 1, [1.0]) != row_bytes("audit", 1, [1.0])
    assert row_bytes("raw", 1, [1.0, "s", "f", b"x"]) != row_bytes("raw", 1, [1.0, "s", "f", "x"])
    assert row_bytes("tick", 1, [None]) != row_bytes("tick", 1, [0])
    assert row_bytes("tick", 1, [1.5]) != row_bytes("tick", 1, [1.5000000000000002])
    with pytest.raises(TypeError):
        row_bytes("tick", 1, [object()])


VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
)
AFFINITY = st.sampled_from(["REAL", "INTEGER", "TEXT", "BLOB", ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(AFFINITY, VALUES), min_size=1, max_size=6))
def test_any_value_in_any_sqlite_column_hashes_the_same_read_back(
    cols: list[tuple[str, object]],
) -> None:
    """What the recorder hashes before the INSERT is what the verifier hashes after the SELECT."""
    db = sqlite3.connect(":memory:")
    names = [f"c{i} {t}" for i, (t, _) in enumerate(cols)]
    db.execute(f"CREATE TABLE t ({', '.join(names)})")
    written = [v for _, v in cols]
    db.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(cols))})", written)
    (back,) = db.execute("SELECT * FROM t").fetchall()
    # Text in a REAL or INTEGER column that looks like a number becomes one: the recorder never
    # writes text into its numeric columns, so only the rest must hash alike.
    same = [
        not (isinstance(v, str) and t in ("REAL", "INTEGER") and not isinstance(b, str))
        and not (isinstance(v, int) and t == "REAL" and abs(v) > 2**53)  # REAL rounds those
        and not (isinstance(v, int) and t == "TEXT")
        and not (isinstance(v, float) and t in ("TEXT",))
        for (t, v), b in zip(cols, back, strict=True)
    ]
    w = [v for v, ok in zip(written, same, strict=True) if ok]
    r = [v for v, ok in zip(back, same, strict=True) if ok]
    assert row_bytes("audit", 7, w) == row_bytes("audit", 7, r)


def test_heads_round_trip_and_default_to_empty() -> None:
    heads = {"raw": (3, b"\x01" * 32), "track": (9, b"\x02" * 32)}
    back = decode_heads(encode_heads(heads))
    assert back["raw"] == heads["raw"] and back["track"] == heads["track"]
    assert back["audit"] == (0, GENESIS) and set(back) == set(CHAINED)
    with pytest.raises(ValueError, match="bytes"):
        decode_heads(b"short")


def test_node_key_signs_loads_and_refuses_other_keys(tmp_path) -> None:
    key = NodeKey.generate()
    sig = key.sign(b"data")
    assert verify_signature(key.public_pem(), b"data", sig)
    assert not verify_signature(key.public_pem(), b"datA", sig)
    assert not verify_signature(NodeKey.generate().public_pem(), b"data", sig)
    path = tmp_path / "node.key"
    path.write_bytes(key.private_pem())
    again = NodeKey.load(path)
    assert again.fingerprint() == key.fingerprint() and again.public_pem() == key.public_pem()
    assert load_public_key(path) == key.public_pem()  # the public half of a private key file
    ec_key = ec.generate_private_key(ec.SECP256R1())
    other = tmp_path / "ec.key"
    other.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        NodeKey.load(other)
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(SigningKeyError, match=r"junk\.pub: not a PEM public key"):
        load_public_key(tmp_path / "junk.pub")
    with pytest.raises(SigningKeyError, match="no such file"):
        NodeKey.load(tmp_path / "missing.key")


class Run:
    """A chain kept in memory, as a backend would write it: rows per table and commits."""

    def __init__(self, key: NodeKey) -> None:
        self.key = key
        self.rows: dict[str, list[tuple[int, Sequence[object], bytes]]] = {t: [] for t in CHAINED}
        self.commits: list[CommitRecord] = []

    def add(self, table: str, *values: object) -> None:
        rows = self.rows[table]
        prev = rows[-1][2] if rows else GENESIS
        seq = len(rows) + 1
        rows.append((seq, values, link(prev, table, seq, values)))

    def commit(self, closing: bool = False, key: NodeKey | None = None) -> None:
        heads = {t: (r[-1][0], r[-1][2]) for t, r in self.rows.items() if r}
        prev = self.commits[-1].hash if self.commits else GENESIS
        self.commits.append(
            seal_commit(key or self.key, len(self.commits) + 1, time.time(), closing, heads, prev)
        )

    def verify(self, trusted: bytes | None = None):
        v = ChainVerifier(trusted)
        v.commits(self.commits)
        for table, rows in self.rows.items():
            v.rows(table, rows)
        return v.report()


def small_run(key: NodeKey) -> Run:
    run = Run(key)
    for k in range(5):
        run.add("tick", float(k))
        run.add("raw", float(k), "radar-1", "sapient", bytes([k]))
        run.commit(closing=k == 4)
    return run


def test_a_run_in_memory_verifies_and_every_alteration_is_located() -> None:
    key = NodeKey.generate()
    run = small_run(key)
    report = run.verify(key.public_pem())
    assert report.intact and report.trusted and report.closed and report.commits == 5
    assert report.rows["raw"] == 5 and report.fingerprints == (key.fingerprint(),)

    changed = small_run(key)
    seq, values, digest = changed.rows["raw"][2]
    changed.rows["raw"][2] = (seq, (*values[:3], b"\xff"), digest)
    p = changed.verify().problem
    assert p is not None and (p.kind, p.table, p.seq, p.t_s) == (
        ProblemKind.ROW_CHANGED,
        "raw",
        3,
        2.0,
    )

    removed = small_run(key)
    del removed.rows["tick"][1]
    p = removed.verify().problem
    assert p is not None and (p.kind, p.table, p.seq) == (ProblemKind.ROW_REMOVED, "tick", 2)

    commit_gone = small_run(key)
    del commit_gone.commits[2]
    p = commit_gone.verify().problem
    assert p is not None and (p.kind, p.seq) == (ProblemKind.COMMIT_REMOVED, 4)

    cut = small_run(key)
    cut.commits.pop()
    cut.rows["tick"].pop()
    cut.rows["raw"].pop()
    p = cut.verify().problem
    assert p is not None and p.kind is ProblemKind.CUT_OFF and p.seq == 4
    assert p.describe().startswith("run cut off at ")


def test_the_key_may_change_only_between_runs() -> None:
    first, second = NodeKey.generate(), NodeKey.generate()
    run = small_run(first)
    run.add("tick", 9.0)
    run.commit(closing=True, key=second)  # a second run after the first one's closing record
    assert run.verify().intact
    p = run.verify(first.public_pem()).problem  # the trusted key signed only the first run
    assert p is not None and (p.kind, p.seq) == (ProblemKind.UNTRUSTED_KEY, 6)

    mid = Run(first)
    mid.add("tick", 1.0)
    mid.commit()
    mid.add("tick", 2.0)
    mid.commit(key=second)  # no closing record between: the same run, another key
    p = mid.verify().problem
    assert p is not None and (p.kind, p.seq) == (ProblemKind.UNTRUSTED_KEY, 2)
    assert "key changed within a run" in p.detail


def test_an_empty_recording_has_no_commits() -> None:
    report = Run(NodeKey.generate()).verify()
    assert report.problem is not None and report.problem.kind is ProblemKind.NO_COMMITS


def reference_row_bytes(table: str, seq: int, values: Sequence[object]) -> bytes:
    """Every value through the general encoder, :func:`luchtwacht.store.chain._value`."""
    from luchtwacht.store.chain import _value

    out: list[bytes] = []
    for v in values:
        _value(v, out)
    return row_bytes(table, seq, ()) + b"".join(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=8), st.integers(0, 2**62))
def test_the_inline_encoder_gives_the_reference_bytes(values: list[object], seq: int) -> None:
    """row_bytes encodes common types inline for speed; it must equal the general encoder."""
    assert row_bytes("detection", seq, values) == reference_row_bytes("detection", seq, values)
