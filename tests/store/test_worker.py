"""The Store port and the background writer: same file as the Recorder, never blocking, no silent loss."""

import logging
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch
from luchtwacht.model.track import Alert, AlertState, ThreatLevel, TrackView
from luchtwacht.store.chain import NodeKey, ProblemKind
from luchtwacht.store.port import Store
from luchtwacht.store.recorder import Recorder, verify_audit_chain, verify_recording
from luchtwacht.store.worker import BackgroundStore

# Not chain_commit: its records hold the wall-clock time of each commit.
TABLES: tuple[str, ...] = ("meta", "meta_log", "raw", "rejection", "detection", "bearing")
TABLES += ("track", "tick", "alert_event", "audit")
KEY = NodeKey.generate()  # one key for both stores, so their rows and hashes are the same


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}
    finally:
        db.close()


def count(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


def detections() -> DetectionBatch:
    return DetectionBatch(
        sensor_id="radar-1",
        t_s=np.array([1.0, 1.1]),
        z=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        R=np.stack([np.eye(3) * 4.0, np.eye(3) * 9.0]),
        class_loglik=np.zeros((2, N_CLASSES)),
        ident=("abc", None),
    )


def bearings() -> BearingBatch:
    return BearingBatch(
        sensor_id="rf-1",
        sensor_enu_m=np.array([0.0, 1.0, 2.0]),
        t_s=1.5,
        azimuth_rad=np.array([0.1, 0.2]),
        azimuth_std_rad=np.array([0.01, 0.02]),
        elevation_rad=np.array([0.05, np.nan]),
        elevation_std_rad=np.array([0.01, 0.01]),
        class_loglik=np.zeros((2, N_CLASSES)),
    )


def view(track_id: int, t_s: float) -> TrackView:
    return TrackView(
        track_id, t_s, 52.0, 4.0, 100.0, 1.0, 2.0, 3.0, 10.0, 90.0, 0.0, "drone", 0.9, False,
        None, ThreatLevel.HIGH, ("a", "b"), None, 5.0,
    )  # fmt: skip


def alert(i: int) -> Alert:
    return Alert(
        i, 10 + i, "zone", ThreatLevel.HIGH, "approach", 0.0, 0.0, "drone", None, message=f"m{i}"
    )


def write_session(store: Store) -> None:
    """One of every write, with the hazards of a live caller: generators, later mutation."""
    store.set_meta(scenario="demo", seed="7")
    store.raw(1.0, "radar-1", "sapient", b"\x01\x02")
    store.raw(1.1, "radar-1", "sapient", bytearray(b"\x03"))  # type: ignore[arg-type]
    store.rejections(1.2, "radar-1", (r for r in ("bad crc", "too long")))
    store.detections(detections(), applied=True)
    store.bearings(bearings(), applied=False)
    store.tracks(view(i, 2.0) for i in (1, 2))
    a = alert(1)
    store.alert_event(2.0, "raised", a)
    a.state, a.level, a.message = AlertState.CLEARED, ThreatLevel.LOW, "changed later"
    payload: dict[str, object] = {"user": "op", "steps": [1, 2]}
    store.audit(2.5, "engage.approve", payload)
    payload["user"] = "changed later"
    store.commit()
    store.tracks([view(1, 3.0)])
    store.alert_event(3.0, "cleared", a)
    store.close()


def test_recorder_satisfies_the_store_port(tmp_path):
    store: Store = Recorder(tmp_path / "run.sqlite")
    store.audit(1.0, "run.start", {"site": "x"})
    store.close()
    assert store.path == tmp_path / "run.sqlite"
    assert verify_audit_chain(store.path) == (True, 1, "")


def test_background_store_writes_what_the_recorder_writes(tmp_path):
    direct, background = tmp_path / "direct.sqlite", tmp_path / "background.sqlite"
    write_session(Recorder(direct, KEY))
    store: Store = BackgroundStore(background, key=KEY)
    write_session(store)
    assert dump(background) == dump(direct)
    assert verify_recording(background, KEY.public_pem()).intact
    assert count(direct, "track") == 3 and count(direct, "alert_event") == 2
    assert verify_audit_chain(background) == verify_audit_chain(direct) == (True, 3, "")


class CallLog(Recorder):
    """A real Recorder that also notes the order its writers were called in."""

    calls: list[tuple[str, object]]

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.calls = []

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        self.calls.append(("raw", payload))
        super().raw(t_rx_s, sensor_id, fmt, payload)

    def audit(self, t_s: float, kind: str, payload: dict[str, object]) -> str:
        self.calls.append(("audit", payload["i"]))
        return super().audit(t_s, kind, payload)


def test_interleaved_writes_keep_their_order(tmp_path):
    recorders: list[CallLog] = []

    def factory(path: Path) -> Store:
        recorders.append(CallLog(path))
        return recorders[-1]

    store = BackgroundStore(tmp_path / "run.sqlite", recorder_factory=factory)
    expected: list[tuple[str, object]] = []
    for i in range(200):
        if i % 3:
            store.audit(float(i), "step", {"i": i})
            expected.append(("audit", i))
        else:
            store.raw(float(i), "s", "f", str(i).encode())
            expected.append(("raw", str(i).encode()))
    store.close()
    assert recorders[0].calls == expected
    assert verify_audit_chain(tmp_path / "run.sqlite")[0]


class Gated(Recorder):
    """A Recorder on a disk that stalls: every ``raw`` waits until the gate opens."""

    def __init__(self, path: str | Path, gate: threading.Event, entered: threading.Event) -> None:
        super().__init__(path)
        self.gate, self.entered = gate, entered

    def raw(self, t_rx_s: float, sensor_id: str, fmt: str, payload: bytes) -> None:
        self.entered.set()
        self.gate.wait(5.0)
        super().raw(t_rx_s, sensor_id, fmt, payload)


def stalled(
    path: Path, maxsize: int, put_timeout_s: float = 2.0
) -> tuple[BackgroundStore, threading.Event]:
    """A store whose worker is stuck in its first raw write; returns it and the gate."""
    gate, entered = threading.Event(), threading.Event()
    store = BackgroundStore(
        path,
        maxsize=maxsize,
        put_timeout_s=put_timeout_s,
        recorder_factory=lambda p: Gated(p, gate, entered),
    )
    store.raw(0.0, "s", "f", b"first")
    assert entered.wait(2.0)
    return store, gate


def test_a_stalled_disk_never_blocks_the_caller_and_drops_are_counted(tmp_path, caplog):
    caplog.set_level(logging.WARNING)  # whatever level an earlier CLI test left the root at
    store, gate = stalled(tmp_path / "run.sqlite", maxsize=4)
    start = time.perf_counter()
    for i in range(10):
        store.raw(float(i), "s", "f", b"x")
    store.tracks([view(1, 1.0)])
    store.commit()
    elapsed = time.perf_counter() - start
    stats = store.stats()
    assert elapsed < 0.5
    assert stats["dropped"] == {"raw": 6, "tracks": 1, "commit": 1}
    assert stats["backlog"] == 4 and stats["max_backlog"] == 4
    assert stats["enqueued"] == 5 and stats["written"] == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3  # once per kind, not once per drop
    assert "raw write dropped" in warnings[0].getMessage() and warnings[0].exc_info is None
    gate.set()
    assert store.flush(2.0)
    assert store.stats()["written"] == 5 and store.stats()["backlog"] == 0
    store.close()
    assert count(tmp_path / "run.sqlite", "raw") == 5


def test_evidence_waits_for_room_when_the_worker_catches_up(tmp_path):
    store, gate = stalled(tmp_path / "run.sqlite", maxsize=1, put_timeout_s=2.0)
    store.raw(1.0, "s", "f", b"fills the queue")
    threading.Timer(0.1, gate.set).start()
    start = time.perf_counter()
    store.audit(1.0, "run.start", {})
    assert 0.05 < time.perf_counter() - start < 1.5
    assert store.stats()["dropped"] == {}
    store.close()
    assert verify_audit_chain(tmp_path / "run.sqlite") == (True, 1, "")


@pytest.mark.parametrize("kind", ["audit", "set_meta", "alert_event"])
def test_evidence_is_dropped_and_counted_only_after_the_timeout(tmp_path, kind):
    store, gate = stalled(tmp_path / "run.sqlite", maxsize=1, put_timeout_s=0.05)
    store.raw(1.0, "s", "f", b"fills the queue")
    start = time.perf_counter()
    if kind == "audit":
        store.audit(1.0, "run.start", {})
    elif kind == "set_meta":
        store.set_meta(seed="1")
    else:
        store.alert_event(1.0, "raised", alert(1))
    assert time.perf_counter() - start >= 0.05
    assert store.stats()["dropped"] == {kind: 1}
    gate.set()
    store.close()


def test_a_failing_write_is_counted_and_the_worker_goes_on(tmp_path, caplog):
    store = BackgroundStore(tmp_path / "run.sqlite")
    store.audit(1.0, "ok", {"i": 1})
    store.audit(2.0, "bad", {"x": object()})  # not JSON: fails in the worker
    store.set_meta(key=None)  # type: ignore[arg-type]  # NOT NULL: a real sqlite error
    store.audit(3.0, "ok", {"i": 3})
    assert store.flush(2.0)
    stats = store.stats()
    assert stats["errors"] == {"TypeError": 1, "IntegrityError": 1}
    assert stats["enqueued"] == 4 and stats["written"] == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all(r.exc_info is None for r in errors)
    assert "audit failed: TypeError" in errors[0].getMessage()
    store.close()
    assert verify_audit_chain(tmp_path / "run.sqlite") == (True, 2, "")


def test_flush_waits_for_the_commit_and_times_out_on_a_stall(tmp_path):
    path = tmp_path / "run.sqlite"
    store = BackgroundStore(path, commit_every_s=60.0)
    store.raw(1.0, "s", "f", b"x")  # the Recorder holds raw rows until a commit
    assert store.flush(2.0)
    assert count(path, "raw") == 1
    store.close()
    stuck, gate = stalled(tmp_path / "stuck.sqlite", maxsize=10)
    assert not stuck.flush(0.05)
    gate.set()
    assert stuck.flush(2.0)
    stuck.close()


def test_the_worker_commits_by_itself(tmp_path):
    path = tmp_path / "run.sqlite"
    store = BackgroundStore(path, commit_every_s=0.05)
    store.raw(1.0, "s", "f", b"x")
    store.audit(1.0, "run.start", {})
    deadline = time.monotonic() + 2.0
    while count(path, "raw") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert count(path, "raw") == 1
    # Committed and signed, though the run goes on: all intact but the missing closing record.
    report = verify_recording(path)
    assert report.problem is not None and report.problem.kind is ProblemKind.CUT_OFF
    assert report.rows["raw"] == report.rows["audit"] == 1 and report.commits == 1
    store.close()
    assert verify_audit_chain(path) == (True, 1, "")


def test_close_is_idempotent_and_later_calls_raise(tmp_path):
    store = BackgroundStore(tmp_path / "run.sqlite")
    store.audit(1.0, "run.stop", {})
    store.close()
    store.close()
    assert verify_audit_chain(tmp_path / "run.sqlite") == (True, 1, "")
    for call in (
        lambda: store.raw(1.0, "s", "f", b"x"),
        lambda: store.audit(1.0, "late", {}),
        lambda: store.commit(),
        lambda: store.flush(),
    ):
        with pytest.raises(RuntimeError, match="store closed"):
            call()
    assert store.stats()["written"] == 2  # the audit and the close


def test_opening_errors_surface_in_the_constructor(tmp_path):
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        BackgroundStore(tmp_path / "no such folder" / "run.sqlite")


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("audit"), st.sampled_from(["a", "b"]), st.integers(0, 9)),
        st.tuples(st.just("raw"), st.binary(max_size=4)),
        st.tuples(st.just("alert"), st.integers(1, 3)),
        st.tuples(st.just("commit")),
    ),
    max_size=30,
)


def apply(store: Store, ops: list[tuple[Any, ...]]) -> None:
    for i, op in enumerate(ops):
        if op[0] == "audit":
            store.audit(float(i), str(op[1]), {"n": op[2]})
        elif op[0] == "raw":
            store.raw(float(i), "s", "f", op[1])
        elif op[0] == "alert":
            store.alert_event(float(i), "raised", alert(op[1]))
        else:
            store.commit()
    store.close()


@settings(max_examples=15, deadline=None)
@given(OPS)
def test_any_interleaving_matches_the_recorder_and_verifies(ops):
    with tempfile.TemporaryDirectory() as tmp:
        direct, background = Path(tmp, "d.sqlite"), Path(tmp, "b.sqlite")
        apply(Recorder(direct, KEY), ops)
        apply(BackgroundStore(background, key=KEY), ops)
        assert dump(background) == dump(direct)
        assert verify_audit_chain(background)[0]
