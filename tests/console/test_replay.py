"""Replay in the console: a real recording read back as pictures, through the HTTP endpoints.

The recording is made by the node core itself (the library's autonomous-attack scenario with a
two-person hard kill): tracks, alerts raised, acknowledged and cleared, a recommendation, an
approval held for a second person, its confirmation and the engagement to its assessment. Every
picture the node published at a snapshot time is kept, and the replayed picture at that time must
say the same. The endpoints are mounted on a FastAPI app behind the console's own login check.
"""

import dataclasses
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.console import replay as rp
from luchtwacht.console.replay import Recordings, replay_router
from luchtwacht.console.server import Console, NodeTime, jsonable
from luchtwacht.counter.authority import Argon2Params, Authority, OperatorAccount, hash_password
from luchtwacht.model.picture import PictureUpdate
from luchtwacht.node import Command, CommandKind
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.store.recorder import Recorder
from luchtwacht.store.worker import BackgroundStore

ROOT = Path(__file__).resolve().parents[2]
CHEAP = Argon2Params(time_cost=1, memory_kib=1024)
HARD_KILL = "Hard kill south"
# The track fields a recording keeps, and the alert fields compared.
RECORDED = [
    "track_id", "t_s", "lat_deg", "lon_deg", "alt_m", "east_m", "north_m", "up_m", "speed_ms",
    "heading_deg", "climb_ms", "object_class", "class_prob", "cooperative", "uas_id", "threat",
    "zones_inside", "time_to_breach_s", "pos_std_m", "icao",
]  # fmt: skip
ALERT_KEYS = [
    "alert_id", "track_id", "zone", "level", "kind", "raised_t_s", "object_class", "uas_id",
    "state", "cleared_t_s", "acknowledged_by", "message",
]  # fmt: skip


# Decimals the picture keeps of the recorded floats (as the live stream rounds them).
DECIMALS = {
    "t_s": 3, "lat_deg": 7, "lon_deg": 7, "alt_m": 2, "east_m": 2, "north_m": 2, "up_m": 2,
    "speed_ms": 2, "heading_deg": 1, "climb_ms": 2, "class_prob": 3, "time_to_breach_s": 1,
    "pos_std_m": 2,
}  # fmt: skip


def rounded(track: dict[str, Any]) -> dict[str, Any]:
    """A track's recorded fields, rounded as the picture sends them."""
    return {
        k: round(track[k], DECIMALS[k]) if k in DECIMALS and track[k] is not None else track[k]
        for k in RECORDED
    }


def js(obj: object) -> Any:
    """A picture object as the console sends it (plain JSON values)."""
    return jsonable(obj)


class Collect:
    """A subscriber that keeps every picture the node publishes, by time."""

    name = "replay-test"

    def __init__(self) -> None:
        self.pictures: dict[float, PictureUpdate] = {}

    def offer(self, update: PictureUpdate) -> None:
        self.pictures[update.t_s] = update


def accounts(audit) -> Authority:
    return Authority(
        [
            OperatorAccount("alice", "commander", hash_password("pw", params=CHEAP)),
            OperatorAccount("bob", "commander", hash_password("pw", params=CHEAP)),
            OperatorAccount("eye", "viewer", hash_password("pw", params=CHEAP)),
        ],
        audit=audit,
        hash_params=CHEAP,
    )


def app_for(node: Pipeline, recordings: Recordings) -> tuple[TestClient, str]:
    """The replay router on an app, behind the console's own ``viewer``; a viewer's token."""
    console = Console(node, node.authority, NodeTime(node))
    app = FastAPI()
    app.include_router(replay_router(console.viewer, recordings))
    token = node.authority.authenticate("eye", "pw", node.now_s).token
    return TestClient(app), token


@dataclasses.dataclass(repr=False)
class Recorded:
    node: Pipeline
    path: Path
    folder: Path
    pictures: dict[float, PictureUpdate]
    client: TestClient
    auth: dict[str, str]
    recordings: Recordings


@pytest.fixture(scope="module")
def rec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """The attack scenario recorded, with two commanders deciding, and its pictures kept."""
    folder = tmp_path_factory.mktemp("recordings")
    path = folder / "attack.sqlite"
    store = BackgroundStore(path)
    scenario = load_scenario_file(ROOT / "scenarios" / "autonomous-attack-engaged.yaml")
    node = Pipeline(
        dataclasses.replace(scenario, operator=None),
        recorder=store,
        two_person=frozenset({"hard_kill"}),
    )
    node.authority = accounts(store.audit)
    assert node.counter is not None
    node.counter.authority = node.authority
    seen = Collect()
    node.subscribers.append(seen)

    def token(who: str) -> str:
        return node.authority.authenticate(who, "pw", node.now_s).token

    def submit(kind: CommandKind, who: str, target: int, effector: str = "") -> None:
        result = node.submit(Command(kind, token(who), target, effector=effector))
        node.run(1.0)
        assert result.applied and result.ok, result.error

    acked: set[int] = set()

    def acknowledge_open_alerts() -> None:
        for alert in node.alerts.open_alerts:
            if alert.alert_id not in acked:
                acked.add(alert.alert_id)
                submit(CommandKind.ACKNOWLEDGE, "alice", alert.alert_id)

    # The drone is proposed as soon as it is on a breach course (recommend in time), long
    # before the hard kill can reach it; the commanders decide once it is close, as people
    # would, so the run goes through the alert, the approval, the kill and the clear.
    while (not node.counter.pending() or node.t_s < 95.0) and node.t_s < 130.0:
        node.run(1.0)
        acknowledge_open_alerts()
    (pending,) = node.counter.pending()
    submit(CommandKind.APPROVE, "alice", pending.rec_id, HARD_KILL)
    for _ in range(3):
        node.run(1.0)
        acknowledge_open_alerts()
    submit(CommandKind.CONFIRM, "bob", pending.rec_id)
    for _ in range(70):
        node.run(1.0)
        acknowledge_open_alerts()
    node.finish()
    assert store.flush()  # left open: logins and refusals are audited to it
    assert acked, "the scenario raised no alert to acknowledge"
    recordings = Recordings(live=path, folder=folder)
    client, tok = app_for(node, recordings)
    yield Recorded(
        node, path, folder, seen.pictures, client, {"Authorization": f"Bearer {tok}"}, recordings
    )
    store.close()


def rows_at(path: Path, t_s: float) -> dict[int, dict[str, Any]]:
    """The recording's track rows at one time, straight from SQLite."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return {
            r["track_id"]: dict(r) for r in db.execute("SELECT * FROM track WHERE t_s = ?", (t_s,))
        }
    finally:
        db.close()


def snapshot_times(path: Path) -> list[float]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("SELECT DISTINCT t_s FROM track ORDER BY t_s")]
    finally:
        db.close()


def picture(r: Recorded, t: float, rec_id: str = "live") -> Any:
    res = r.client.get(f"/api/replay/{rec_id}/picture", params={"t": repr(t)}, headers=r.auth)
    assert res.status_code == 200, res.text
    return res.json()


def test_the_endpoints_need_a_logged_in_person(rec: Recorded):
    assert rec.client.get("/api/replay").status_code == 401
    assert rec.client.get("/api/replay/live").status_code == 401
    assert rec.client.get("/api/replay/live/picture", params={"t": "0"}).status_code == 401
    bad = {"Authorization": "Bearer not-a-session"}
    assert rec.client.get("/api/replay", headers=bad).status_code == 401


def test_the_list_names_the_live_recording_and_its_span(rec: Recorded):
    listing = rec.client.get("/api/replay", headers=rec.auth).json()
    (live,) = listing  # the live file lies in the folder too: listed once, as "live"
    assert live["id"] == "live" and live["live"] is True
    assert "attack.sqlite" in live["name"]
    times = snapshot_times(rec.path)
    assert live["start_s"] == rec.node.start_s <= times[0]
    assert live["end_s"] == pytest.approx(rec.node.now_s) and live["end_s"] >= times[-1]


def test_the_span_lists_every_snapshot_time_ascending(rec: Recorded):
    span = rec.client.get("/api/replay/live", headers=rec.auth).json()
    assert span["id"] == "live" and span["start_s"] == rec.node.start_s
    times = span["times"]
    assert times == sorted(times)
    stored = snapshot_times(rec.path)
    assert set(stored) <= set(times)
    # Times beyond the stored ones are snapshots without a track: one period after a gap.
    for extra in set(times) - set(stored):
        assert extra - 1.0 in stored and not any(extra - 1.0 < t < extra + 0.5 for t in stored)


def test_each_replayed_picture_is_the_picture_the_node_published_then(rec: Recorded):
    times = snapshot_times(rec.path)
    compared = engaged = held = with_alerts = recommended = two_persons = 0
    for t in times:
        live = rec.pictures.get(t)
        if live is None:
            continue
        # Any time up to the next snapshot shows this one.
        pic = picture(rec, t + 0.4 if t + 0.4 < rec.node.now_s else t)
        assert pic["type"] == "replay" and pic["t_s"] == t
        assert pic["replay"] == {
            "id": "live",
            "start_s": rec.node.start_s,
            "end_s": pic["replay"]["end_s"],
        }
        # Tracks: the rows stored at t, in the live picture's order and values.
        rows = rows_at(rec.path, t)
        assert [tr["track_id"] for tr in pic["tracks"]] == [v.track_id for v in live.tracks]
        for tr in pic["tracks"]:
            want = js(live.track(tr["track_id"]))
            assert {k: tr[k] for k in RECORDED} == rounded(want)
            row = rows[tr["track_id"]]
            assert {k: tr[k] for k in RECORDED} == rounded(
                {**row, "cooperative": bool(row["cooperative"])}
                | {"zones_inside": tr["zones_inside"]}
            )
            assert tr["zones_inside"] == (
                [z for z in row["zones_inside"].split(",")] if row["zones_inside"] else []
            )
            assert tr["ellipse_m"] is None and tr["sensors"] == [] and tr["class_probs"] == []
        # Alerts open at t, as they stood.
        want_alerts = [{k: a[k] for k in ALERT_KEYS} for a in js(live.alerts)]
        assert [{k: a[k] for k in ALERT_KEYS} for a in pic["alerts"]] == want_alerts
        with_alerts += bool(want_alerts)
        # The counter stage: pending recommendations, engagements, approvals held.
        assert [
            (r["rec_id"], r["track_id"], r["created_t_s"], r["state"])
            for r in pic["recommendations"]
        ] == [(r.rec_id, r.track_id, r.created_t_s, "pending") for r in live.recommendations]
        recommended += bool(live.recommendations)
        want_engs = js(live.engagements)
        assert pic["engagements"] == want_engs
        engaged += bool(want_engs)
        two_persons += any(
            e["approved_by"] == "alice" and e.get("confirmed_by") == "bob"
            for e in pic["engagements"]
        )
        assert pic["pending_approvals"] == js(live.pending_approvals)
        held += bool(live.pending_approvals)
        busy = {
            e["effector"]: e["eng_id"]
            for e in want_engs
            if e["state"] in ("approved", "tasked", "engaging")
        }
        assert {
            e["name"]: e["busy_with"] for e in pic["effectors"] if e["busy_with"] is not None
        } == busy
        compared += 1
    assert compared > 100
    assert with_alerts and recommended and held and engaged  # each part was exercised
    assert two_persons  # the hard kill names who approved and who confirmed


def test_alert_changes_are_those_of_the_last_second(rec: Recorded):
    db = sqlite3.connect(f"file:{rec.path}?mode=ro", uri=True)
    events = db.execute(
        "SELECT t_s, event, alert_id, level, state FROM alert_event ORDER BY seq"
    ).fetchall()
    db.close()
    kinds = {e[1] for e in events}
    assert {"raised", "acknowledged", "cleared"} <= kinds
    times = rec.client.get("/api/replay/live", headers=rec.auth).json()["times"]
    for t_s, event, alert_id, level, state in events:
        # Alert events come at the picture rate; the first snapshot at or after one shows it.
        at = next(t for t in times if t >= t_s)
        assert at - t_s < 1.0
        pic = picture(rec, at)
        assert pic["t_s"] == at
        changes = [
            (c["t_s"], c["kind"], c["alert"]["alert_id"], c["alert"]["level"], c["alert"]["state"])
            for c in pic["alert_changes"]
        ]
        assert (t_s, event, alert_id, level, state) in changes
        assert all(pic["t_s"] - 1.0 < c[0] <= pic["t_s"] for c in changes)
        live = rec.pictures[t_s]  # the node published this very change then
        assert (t_s, event, alert_id) in {
            (c.t_s, c.kind, c.alert.alert_id) for c in live.alert_changes
        }
        if event == "acknowledged":
            (ack,) = [
                c
                for c in pic["alert_changes"]
                if c["kind"] == "acknowledged" and c["alert"]["alert_id"] == alert_id
            ]
            assert ack["alert"]["acknowledged_by"] == "alice"


def test_trails_are_each_tracks_last_minute_of_stored_positions(rec: Recorded):
    times = snapshot_times(rec.path)
    t = times[len(times) * 2 // 3]
    pic = picture(rec, t)
    assert pic["tracks"] and set(pic["trails"]) == {str(tr["track_id"]) for tr in pic["tracks"]}
    db = sqlite3.connect(f"file:{rec.path}?mode=ro", uri=True)
    for tr in pic["tracks"]:
        want = db.execute(
            "SELECT t_s, lat_deg, lon_deg, alt_m FROM track WHERE track_id = ? AND t_s > ? AND t_s <= ? ORDER BY t_s",
            (tr["track_id"], t - 60.0, t),
        ).fetchall()
        trail = pic["trails"][str(tr["track_id"])]
        assert (
            trail
            == [
                [round(t, 3), round(la, 7), round(lo, 7), round(alt, 2)] for t, la, lo, alt in want
            ][-rp.TRAIL_POINTS :]
        )
        assert trail[-1] == [tr["t_s"], tr["lat_deg"], tr["lon_deg"], tr["alt_m"]]
        assert len(trail) <= 61
    db.close()
    assert any(len(v) > 30 for v in pic["trails"].values())


def test_before_the_first_snapshot_the_picture_is_empty_and_after_the_end_it_stays(rec: Recorded):
    first = snapshot_times(rec.path)[0]
    for t in (rec.node.start_s - 3600.0, first - 0.01, -1e300):
        pic = picture(rec, t)
        assert pic["t_s"] == t
        assert pic["tracks"] == pic["alerts"] == pic["recommendations"] == pic["engagements"] == []
        assert pic["trails"] == {} and pic["pending_approvals"] == []
    last = snapshot_times(rec.path)[-1]
    late = picture(rec, rec.node.now_s + 1e9)
    assert late["t_s"] == last and late["tracks"] == picture(rec, last)["tracks"]


def test_unknown_ids_and_paths_get_404(rec: Recorded):
    for rec_id in ("nope", "attack.sqlite", "attack", str(rec.path), "LIVE", "live2"):
        assert rec.client.get(f"/api/replay/{rec_id}", headers=rec.auth).status_code == 404
        res = rec.client.get(f"/api/replay/{rec_id}/picture", params={"t": "0"}, headers=rec.auth)
        assert res.status_code == 404
    for raw in (
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "..%2Fattack.sqlite",
        "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    ):
        assert rec.client.get(f"/api/replay/{raw}", headers=rec.auth).status_code == 404
        assert rec.client.get(f"/api/replay/{raw}/picture?t=0", headers=rec.auth).status_code == 404


@settings(max_examples=60, deadline=None)
@given(
    t=st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["nan", "inf", "-inf", "1e999", "", "x", "0x10", "1_0"])
)
def test_any_time_gives_a_picture_or_a_422_never_a_500(rec: Recorded, t):
    res = rec.client.get(
        "/api/replay/live/picture",
        params={"t": t if isinstance(t, str) else repr(t)},
        headers=rec.auth,
    )
    assert res.status_code in (200, 422), res.text
    if res.status_code == 200:
        pic = res.json()
        asked = float(t)  # what FastAPI parsed ("1_0" is 10.0, as Python reads it)
        assert math.isfinite(asked) and pic["t_s"] <= asked
        json.dumps(pic, allow_nan=False)
    else:
        assert "Traceback" not in res.text


def test_files_that_are_not_recordings_are_left_out_and_refused_in_one_line(
    rec: Recorded, tmp_path: Path
):
    folder = tmp_path / "mixed"
    folder.mkdir()
    other = folder / "copy.sqlite"
    with (
        sqlite3.connect(f"file:{rec.path}?mode=ro", uri=True) as src,
        sqlite3.connect(other) as dst,
    ):
        src.backup(dst)  # a copy of the recording as it stands
    (folder / "junk.sqlite").write_bytes(b"\x00garbage, not SQLite\n" * 200)
    (folder / "empty.db").write_bytes(b"")
    plain = sqlite3.connect(folder / "plain.db")
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    (folder / "notes.txt").write_text("not a recording")
    (folder / "loop.sqlite").symlink_to(folder / "loop.sqlite")  # a link to itself
    (folder / "gone.db").symlink_to(folder / "nowhere.db")
    (folder / "folder.db").mkdir()
    Recorder(folder / "blank.sqlite").close()  # a recording with nothing in it yet
    recordings = Recordings(live=None, folder=folder)
    client, tok = app_for(rec.node, recordings)
    auth = {"Authorization": f"Bearer {tok}"}
    listing = client.get("/api/replay", headers=auth).json()
    (only,) = listing
    assert only["live"] is False and "copy.sqlite" in only["name"] and only["id"] != "live"
    assert only["id"] not in str(folder) and "/" not in only["id"]
    span = client.get(f"/api/replay/{only['id']}", headers=auth).json()
    assert span["times"] == snapshot_times(rec.path)[: len(span["times"])] or set(
        snapshot_times(rec.path)
    ) <= set(span["times"])
    # The unreadable ones have ids too (the server listed them itself): opening them is a 422.
    ids = {e.path.name: e.id for e in recordings.entries()}
    assert set(ids) == {"copy.sqlite", "junk.sqlite", "empty.db", "plain.db", "blank.sqlite"}
    blank = client.get(f"/api/replay/{ids['blank.sqlite']}", headers=auth).json()
    assert (blank["start_s"], blank["end_s"], blank["times"]) == (
        None,
        None,
        [],
    )  # not listed: no span
    for name in ("junk.sqlite", "empty.db", "plain.db"):
        for url in (f"/api/replay/{ids[name]}", f"/api/replay/{ids[name]}/picture?t=0"):
            res = client.get(url, headers=auth)
            assert res.status_code == 422, res.text
            detail = res.json()["detail"]
            assert name in detail and "\n" not in detail and "Traceback" not in detail
    assert client.get(f"/api/replay/{only['id']}/picture?t=0", headers=auth).status_code == 200
    # A file gone after it was listed: 404 or 422, never a 500.
    (folder / "copy.sqlite").unlink()
    assert client.get(f"/api/replay/{only['id']}", headers=auth).status_code == 404


def test_queries_by_time_read_rowid_ranges_never_the_whole_table(rec: Recorded):
    db = sqlite3.connect(f"file:{rec.path}?mode=ro", uri=True)
    for sql in (rp.TRACKS_SQL, rp.TRAILS_SQL, rp.RUNS_SQL):
        plan = " ".join(
            r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, (0,) * sql.count("?"))
        )
        assert "SEARCH track USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)" in plan, plan
        assert "SCAN track" not in plan
    db.close()


def synthetic(path: Path, tracks_at: dict[float, list[tuple[int, str]]], zones: list[str]) -> None:
    """A recording written by the Recorder, its track rows put in by hand (id, zones_inside)."""
    r = Recorder(path)
    site = {
        "name": "synthetic",
        "lat": 52.0,
        "lon": 5.0,
        "alt_m": 0.0,
        "zones": [{"name": z} for z in zones],
    }
    r.set_meta(
        site=json.dumps(site), start_s="0.0", node=json.dumps({"schedule": {"slow_period_s": 1.0}})
    )
    for t, tracks in sorted(tracks_at.items()):
        r.db.executemany(
            "INSERT INTO track (t_s, track_id, lat_deg, lon_deg, alt_m, threat, zones_inside, cooperative)"
            " VALUES (?, ?, ?, ?, ?, 'low', ?, 0)",
            [(t, tid, 52.0 + t * 1e-4, 5.0, 100.0, inside) for tid, inside in tracks],
        )
        r.commit()
    r.set_meta(end_s="20.0")
    r.close()


def view(recordings: Recordings, entry: Any, t: float) -> Any:
    return recordings.picture(entry, t)


def test_a_time_without_tracks_is_an_empty_picture_and_zone_names_keep_their_commas(tmp_path: Path):
    path = tmp_path / "gaps.sqlite"
    zones = ["Runway 09/27", "Apron, north", "Tower"]
    tracks = {float(t): [(1, "Apron, north,Tower")] for t in range(1, 5)}
    tracks.update({float(t): [(2, "Runway 09/27")] for t in range(10, 13)})
    synthetic(path, tracks, zones)
    recordings = Recordings(live=path)
    entry = recordings.find("live")
    assert entry is not None
    span = recordings.span(entry)
    assert span["times"] == [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 11.0, 12.0, 13.0]
    assert [tr["track_id"] for tr in view(recordings, entry, 4.9)["tracks"]] == [1]
    assert view(recordings, entry, 4.9)["tracks"][0]["zones_inside"] == ["Apron, north", "Tower"]
    for t in (5.0, 7.5, 9.99):
        pic = view(recordings, entry, t)
        assert pic["tracks"] == [] and pic["t_s"] == 5.0 and pic["trails"] == {}
    assert view(recordings, entry, 12.5)["tracks"][0]["zones_inside"] == ["Runway 09/27"]
    assert view(recordings, entry, 19.0)["tracks"] == []  # the run went on 7 s without tracks
    assert len(view(recordings, entry, 12.0)["trails"]["2"]) == 3


def test_the_listed_times_are_thinned_evenly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "long.sqlite"
    synthetic(path, {float(t): [(1, "")] for t in range(1, 20)}, [])
    monkeypatch.setattr(rp, "MAX_TIMES", 5)
    recordings = Recordings(live=path)
    entry = recordings.find("live")
    assert entry is not None
    assert recordings.span(entry)["times"] == [1.0, 5.0, 10.0, 15.0, 19.0]


def test_a_recording_is_replayed_while_the_node_still_writes_it(tmp_path: Path):
    path = tmp_path / "running.sqlite"
    store = BackgroundStore(path, commit_every_s=0.2)
    node = Pipeline(default_scenario(), recorder=store)
    node.authority = accounts(store.audit)
    lock = threading.Lock()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            with lock:
                node.run(0.5)
            time.sleep(0.005)

    recordings = Recordings(live=path, folder=tmp_path)
    client, tok = app_for(node, recordings)
    auth = {"Authorization": f"Bearer {tok}"}
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        seen: list[int] = []
        checked = 0
        deadline = time.monotonic() + 60
        while (len(seen) < 5 or checked < 3) and time.monotonic() < deadline:
            span = client.get("/api/replay/live", headers=auth)
            assert span.status_code == 200, span.text
            times = span.json()["times"]
            seen.append(len(times))
            if times:
                pic = client.get(
                    "/api/replay/live/picture", params={"t": repr(times[-1])}, headers=auth
                )
                assert pic.status_code == 200, pic.text
                body = pic.json()
                if body["tracks"]:
                    rows = rows_at(path, body["t_s"])
                    assert {tr["track_id"] for tr in body["tracks"]} == set(rows)
                    checked += 1
            time.sleep(0.2)
        assert seen[-1] > seen[0]  # the times grew as the node wrote on
        assert checked >= 3
        listing = client.get("/api/replay", headers=auth).json()
        assert [e["id"] for e in listing] == ["live"] and listing[0]["live"]
    finally:
        stop.set()
        thread.join(10)
        store.close()


def test_a_recording_with_values_of_any_type_replays_without_an_error(tmp_path: Path):
    """SQLite keeps any value in any column: a foreign or damaged file must not cause a 500."""
    path = tmp_path / "odd.sqlite"
    synthetic(path, {1.0: [(1, "")], 2.0: [(1, "Zone")]}, ["Zone"])
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO track (t_s, track_id, lat_deg, lon_deg, alt_m, threat, cooperative, time_to_breach_s, pos_std_m)"
        " VALUES (2.0, 'x', 1, 2, 3, 'low', 0, 0, 0), (2.0, 7, 'north', X'00', 1e999, 'dire', 'yes', -1e999, 1e999),"
        " ('later', 8, 1, 2, 3, 'low', 0, 0, 0)"
    )
    db.execute(
        "INSERT INTO track (t_s, track_id, lat_deg, lon_deg, alt_m, threat, zones_inside) VALUES (2.0, 9, 1, 2, 3, 'low', ?)",
        ("Zone," * 200_000,),
    )
    db.execute(
        "INSERT INTO alert_event (t_s, event, alert_id, track_id, zone, level, kind, state) VALUES"
        " (1.5, 'raised', 1, 7, 'Zone', 'high', 'breach', 'active'), ('soon', 'raised', 2, 7, 'Zone', 'high', 'breach', 'active'),"
        " (1.6, 'raised', 'three', 7, 'Zone', 'weird', 'breach', 'active')"
    )
    for t, kind, payload in (
        (
            1.0,
            "counter.recommended",
            '{"rec_id": 1, "track_id": 7, "options": [{"effector": 3, "t_effect_s": NaN}, 5]}',
        ),
        (1.1, "counter.approved", '{"rec_id": 1, "eng_id": 1, "track_id": 7, "detail": "X"}'),
        (1.2, "counter.handover", '{"eng_id": 1, "track_id": 8, "detail": "from track seven"}'),
        (1.3, "counter.assessed", "not json"),
        (
            1.4,
            "command.approve",
            '{"ok": true, "target": 1, "status": "awaiting confirmation", "approval": 3}',
        ),
        (1.5, "command.acknowledge", '{"ok": true, "target": 1, "operator": ["x"]}'),
        (1.6, "counter.recommended", "[1, 2]"),
    ):
        db.execute(
            "INSERT INTO audit (t_s, kind, payload, prev_hash, hash) VALUES (?, ?, ?, '', '')",
            (t, kind, payload),
        )
    db.commit()
    db.close()
    recordings = Recordings(live=path)
    entry = recordings.find("live")
    assert entry is not None
    assert recordings.span(entry)["times"] == [1.0, 2.0, 3.0]  # 3.0: the run went on without tracks
    pic = view(recordings, entry, 2.5)
    json.dumps(pic, allow_nan=False)
    # The row without an integer id is left out; one with 200,000 zones keeps the first few.
    # Ordered by threat: track 7's "dire" is no threat level, so none.
    assert [t["track_id"] for t in pic["tracks"]] == [1, 9, 7]
    assert pic["tracks"][1]["zones_inside"] == ["Zone"] * rp.MAX_ZONES
    odd = pic["tracks"][2]
    assert (odd["lat_deg"], odd["lon_deg"], odd["alt_m"], odd["threat"]) == (
        None,
        None,
        None,
        "none",
    )
    assert (odd["time_to_breach_s"], odd["pos_std_m"], odd["cooperative"]) == (None, None, False)
    assert [a["alert_id"] for a in pic["alerts"]] == [1]
    (eng,) = pic["engagements"]
    assert (eng["eng_id"], eng["track_id"], eng["state"]) == (1, 7, "approved")
    assert pic["recommendations"] == [] and pic["pending_approvals"] == []


def test_indexing_resumes_where_a_request_ran_out_of_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "chunks.sqlite"
    synthetic(path, {float(t): [(1, ""), (2, "")] for t in range(1, 11)}, [])  # rowids 1..20
    monkeypatch.setattr(rp, "SCAN_CHUNK", 6)
    index = rp._Index((0, 0))
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    calls = []

    def clock() -> float:  # within the deadline for the first chunk, past it for the second
        calls.append(1)
        return 0.0 if len(calls) == 1 else 2.0

    with monkeypatch.context() as m:
        m.setattr(time, "monotonic", clock)  # the module reads time.monotonic at each call
        with pytest.raises(rp.RecordingError) as exc:
            index.extend(db, "chunks.sqlite", deadline=1.0)
    assert exc.value.status == 503 and "still indexing" in exc.value.message
    assert index.scanned == 6 and list(index.times) == [1.0, 2.0, 3.0]
    assert index.extend(db, "chunks.sqlite", deadline=time.monotonic() + 10) == 20
    assert index.scanned == 20 and list(index.times) == [float(t) for t in range(1, 11)]
    assert (index.lo[2], index.hi[2]) == (5, 6)
    db.close()


def test_too_many_readers_at_once_are_told_to_come_back(
    rec: Recorded, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(rp, "READER_WAIT_S", 0.05)
    entry = rec.recordings.find("live")
    assert entry is not None
    with rec.recordings.reading(entry), rec.recordings.reading(entry):
        res = rec.client.get("/api/replay/live/picture", params={"t": "0"}, headers=rec.auth)
    assert res.status_code == 503 and res.headers["retry-after"] == "1"
    assert "busy" in res.json()["detail"]
    assert (
        rec.client.get("/api/replay/live/picture", params={"t": "0"}, headers=rec.auth).status_code
        == 200
    )


def test_a_track_replays_with_the_pilot_the_node_had_located(tmp_path: Path):
    """The pilot RF detectors located is evidence: the replay shows it from the audit log's
    ``identify.pilot`` records, where the live picture had it, with its source and error."""
    from tests.identify.test_pilot import SCENARIO

    spec = tmp_path / "pilot.yaml"
    spec.write_text(SCENARIO)
    scen = load_scenario_file(spec)
    path = tmp_path / "pilot.sqlite"
    store = Recorder(path)
    node = Pipeline(scen, recorder=store)
    seen = Collect()
    node.subscribers.append(seen)
    node.run(scen.duration_s)
    node.finish()
    store.close()
    recordings = Recordings(live=path)
    entry = recordings.find("live")
    assert entry is not None
    shown = 0
    for t in snapshot_times(path):
        live = seen.pictures.get(t)
        if live is None:
            continue
        for tr in view(recordings, entry, t)["tracks"]:
            v = live.track(tr["track_id"])
            assert v is not None
            if v.pilot_lat_deg is None or v.pilot_lon_deg is None or v.pilot_err_m is None:
                continue
            # Recorded when new or changed (moved by more than its error or 25 m): within that.
            north = (tr["pilot_lat_deg"] - v.pilot_lat_deg) * 111_320.0
            east = (tr["pilot_lon_deg"] - v.pilot_lon_deg) * 111_320.0 * math.cos(0.9)
            assert math.hypot(east, north) <= max(v.pilot_err_m, 25.0) + 1.0
            assert tr["pilot_source"] == v.pilot_source == "rf bearings (2 detectors)"
            assert tr["pilot_err_m"] > 0 and len(tr["pilot_ellipse_m"]) == 3
            assert v.pilot_age_s is not None and tr["pilot_age_s"] >= v.pilot_age_s - 0.1
            shown += 1
    assert shown > 10
