"""The console server over real HTTP and WebSocket on loopback, against a running demo node.

The demo's node core runs in a thread of its own (simulated time, faster than the wall); the
console serves it from its own thread, as it does for the live node. Clients are httpx and the
websockets library, speaking to a real socket.
"""

import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from luchtwacht.console.server import (
    CSRF_HEADER,
    SESSION_COOKIE,
    Console,
    ConsoleServer,
    NodeTime,
)
from luchtwacht.counter.authority import Argon2Params, Authority, OperatorAccount, hash_password
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.store.worker import BackgroundStore
from luchtwacht.transport.listen import bind_tcp

CHEAP = Argon2Params(time_cost=1, memory_kib=1024)


class Running:
    """The demo node core advancing in a thread, and its console on a real socket."""

    def __init__(self, tmp_path) -> None:
        self.recorder = BackgroundStore(tmp_path / "console.sqlite")
        self.node = Pipeline(default_scenario(), recorder=self.recorder)
        self.node.authority = Authority(
            [
                OperatorAccount("cdr", "commander", hash_password("cdr-pw", params=CHEAP)),
                OperatorAccount("ops", "operator", hash_password("ops-pw", params=CHEAP)),
                OperatorAccount("eye", "viewer", hash_password("eye-pw", params=CHEAP)),
                OperatorAccount("adm", "admin", hash_password("adm-pw", params=CHEAP)),
                OperatorAccount("tmp", "viewer", hash_password("tmp-pw", params=CHEAP)),
            ],
            audit=self.recorder.audit,
            hash_params=CHEAP,
        )
        self.clock = NodeTime(self.node)
        self.console = Console(self.node, self.node.authority, self.clock)
        self.server = ConsoleServer(self.console, bind_tcp("127.0.0.1", 0))
        self.url = self.server.url.rstrip("/")
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                self.node.run(0.5)
            time.sleep(0.01)

    def __enter__(self) -> "Running":
        self.server.start()
        self.thread.start()
        deadline = time.monotonic() + 30
        while self.console.latest is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.server.stop()
        self.recorder.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with Running(tmp_path_factory.mktemp("console")) as r:
        yield r


def login(r: Running, user: str, pw: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=r.url, timeout=10)
    res = client.post("/api/login", json={"username": user, "password": pw})
    assert res.status_code == 200, res.text
    assert SESSION_COOKIE in client.cookies
    return client, res.json()["csrf"]


def test_login_sets_a_strict_httponly_cookie_and_reads_need_a_session(running):
    anon = httpx.Client(base_url=running.url, timeout=10)
    assert anon.get("/api/health").status_code == 200
    assert anon.get("/api/tracks").status_code == 401
    res = anon.post("/api/login", json={"username": "eye", "password": "eye-pw"})
    cookie = res.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert res.headers["x-frame-options"] == "DENY"
    me = anon.get("/api/me").json()
    assert me["username"] == "eye" and me["role"] == "viewer"
    tracks = anon.get("/api/tracks").json()
    assert isinstance(tracks, list) and all("lat_deg" in t for t in tracks)
    zones = anon.get("/api/zones").json()
    assert zones and zones[0]["name"] and len(zones[0]["polygon"]) >= 3
    schema = anon.get("/api/openapi.json").json()
    assert "/api/commands" in schema["paths"] and "/api/login" in schema["paths"]


def test_wrong_passwords_and_unknown_users_get_one_uniform_answer(running):
    anon = httpx.Client(base_url=running.url, timeout=10)
    a = anon.post("/api/login", json={"username": "cdr", "password": "nope"})
    b = anon.post("/api/login", json={"username": "nobody", "password": "nope"})
    assert a.status_code == b.status_code == 401 and a.json() == b.json()
    assert anon.post("/api/login", json={"username": "cdr"}).status_code == 422


def test_an_operator_acknowledges_an_alert_with_csrf_and_it_is_audited(running):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alerts = [a for a in (running.console.latest.alerts if running.console.latest else ())]
        if alerts:
            break
        time.sleep(0.05)
    assert alerts, "the demo raised no alert"
    target = alerts[0].alert_id
    ops, csrf = login(running, "ops", "ops-pw")
    # Without the CSRF header a cookie request changes nothing.
    no_csrf = ops.post("/api/commands", json={"kind": "acknowledge", "target": target})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    res = ops.post(
        "/api/commands", json={"kind": "acknowledge", "target": target}, headers={CSRF_HEADER: csrf}
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["ok"] and body["applied"] and body["operator"] == "ops"
    # A viewer may not: the node refuses and audits it.
    eye, eye_csrf = login(running, "eye", "eye-pw")
    res = eye.post(
        "/api/commands", json={"kind": "acknowledge", "target": target},
        headers={CSRF_HEADER: eye_csrf},
    )  # fmt: skip
    assert res.status_code == 403 and not res.json()["ok"]
    running.recorder.commit()
    assert running.recorder.flush()
    import sqlite3

    db = sqlite3.connect(running.recorder.path)
    acks = [
        json.loads(p)
        for (p,) in db.execute("SELECT payload FROM audit WHERE kind = 'command.acknowledge'")
    ]
    assert any(a["operator"] == "ops" and a["ok"] for a in acks)
    assert any(a["operator"] == "eye" and not a["ok"] for a in acks)


def test_a_machine_client_uses_a_bearer_token_without_cookies(running):
    anon = httpx.Client(base_url=running.url, timeout=10)
    res = anon.post("/api/login", json={"username": "ops", "password": "ops-pw", "bearer": True})
    token = res.json()["token"]
    assert SESSION_COOKIE not in anon.cookies and "csrf" not in res.json()
    bot = httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {token}"})
    assert bot.get("/api/me").json()["username"] == "ops"
    # A bearer call carries no cookie, so it needs no CSRF token; the node still checks the role.
    res = bot.post("/api/commands", json={"kind": "reject", "target": 999_999})
    assert res.status_code == 409 and res.json()["applied"]
    assert (
        httpx.get(f"{running.url}/api/me", headers={"Authorization": "Bearer x"}).status_code == 401
    )


def test_the_websocket_streams_the_picture_and_refuses_strangers(running):
    ops, _ = login(running, "ops", "ops-pw")
    cookie = f"{SESSION_COOKIE}={ops.cookies[SESSION_COOKIE]}"
    ws_url = running.url.replace("http://", "ws://") + "/api/stream"
    with ws_connect(ws_url, additional_headers={"Cookie": cookie}) as ws:
        seqs = [json.loads(ws.recv(timeout=10))["seq"] for _ in range(3)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    # No session, or a page of another site: refused at the handshake (HTTP 403).
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(ws_url)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(
            ws_url, additional_headers={"Cookie": cookie}, origin=Origin("http://evil.example")
        )
    assert refused.value.response.status_code == 403


def test_a_client_may_ask_for_a_lower_picture_rate_and_gets_the_newest_whole(running):
    ops, _ = login(running, "ops", "ops-pw")
    cookie = f"{SESSION_COOKIE}={ops.cookies[SESSION_COOKIE]}"
    ws_url = running.url.replace("http://", "ws://") + "/api/stream"
    dropped = dict(running.console.clients_dropped)
    # The test node runs flat out (hundreds of pictures a second): a 2/s client gets 2 a second.
    with (
        ws_connect(ws_url + "?rate=2", additional_headers={"Cookie": cookie}) as slow,
        ws_connect(ws_url, additional_headers={"Cookie": cookie}) as fast,
    ):
        start = time.monotonic()
        got = []
        while time.monotonic() - start < 3.0:
            got.append(json.loads(slow.recv(timeout=10)))
        for _ in range(10):
            fast.recv(timeout=10)
    span = time.monotonic() - start
    assert len(got) <= 2 * span + 2, f"{len(got)} pictures in {span:.1f} s at rate=2"
    assert len(got) >= 4
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Pictures between were skipped: one after a skip comes whole (a delta needs its base).
    assert any(b - a > 1 for a, b in itertools.pairwise(seqs))
    assert got[0]["type"] == "picture"
    assert sum(m["type"] == "picture" for m in got[1:]) >= 2
    assert running.console.clients_dropped == dropped  # never too slow for the node's pace
    # A rate the server will not serve is refused with the reason.
    for bad in ("0", "abc", "1000", "nan"):
        with (
            ws_connect(f"{ws_url}?rate={bad}", additional_headers={"Cookie": cookie}) as ws,
            pytest.raises(ConnectionClosed) as closed,
        ):
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "rate must be" in closed.value.rcvd.reason


def test_a_client_that_stops_reading_is_dropped_and_the_others_go_on(running):
    ops, _ = login(running, "ops", "ops-pw")
    cookie = f"{SESSION_COOKIE}={ops.cookies[SESSION_COOKIE]}"
    ws_url = running.url.replace("http://", "ws://") + "/api/stream"
    before = sum(running.console.clients_dropped.values())
    # A client that reads nothing: its socket's receive buffer kept small, so it fills soon;
    # the server's end too (an accepted socket takes the listener's send buffer size), or the
    # small deltas would take minutes to fill the kernel's buffers.
    listener = running.server.sock
    sndbuf = listener.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(listener.getsockname()[:2])
    with (
        ws_connect(ws_url, sock=sock, additional_headers={"Cookie": cookie}, max_queue=1),
        ws_connect(ws_url, additional_headers={"Cookie": cookie}) as awake,
    ):
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        seen = 0
        deadline = time.monotonic() + 60
        while sum(running.console.clients_dropped.values()) == before:
            awake.recv(timeout=10)
            seen += 1
            assert time.monotonic() < deadline, "the sleeping client was never dropped"
        assert seen > 0
        for _ in range(3):
            awake.recv(timeout=10)  # the other client still gets the picture
    assert any(reason.startswith("too slow") for reason in running.console.clients_dropped)


def test_an_administrator_lists_and_disables_accounts_and_nobody_else_may(running):
    cdr, _ = login(running, "cdr", "cdr-pw")
    assert cdr.get("/api/operators").status_code == 403  # a commander commands; admin is apart
    tmp, _ = login(running, "tmp", "tmp-pw")
    assert tmp.get("/api/me").status_code == 200
    adm, csrf = login(running, "adm", "adm-pw")
    listed = adm.get("/api/operators").json()
    assert {"username": "tmp", "role": "viewer", "disabled": False} in listed
    assert all(set(a) == {"username", "role", "disabled"} for a in listed)  # never a hash
    assert adm.post("/api/operators/tmp/disable").status_code == 403  # no CSRF token
    res = adm.post("/api/operators/tmp/disable", headers={CSRF_HEADER: csrf})
    assert res.status_code == 200 and res.json()["disabled"]
    assert tmp.get("/api/me").status_code == 401  # its session ended at once
    assert adm.post("/api/operators/nobody/disable", headers={CSRF_HEADER: csrf}).status_code == 404
    # An administrator may look, but commands nothing.
    res = adm.post(
        "/api/commands", json={"kind": "acknowledge", "target": 1}, headers={CSRF_HEADER: csrf}
    )
    assert res.status_code == 403 and not res.json()["ok"]
    assert cdr.get("/api/recording").json()["path"].endswith("console.sqlite")
    running.recorder.commit()
    assert running.recorder.flush()
    import sqlite3

    db = sqlite3.connect(running.recorder.path)
    (payload,) = db.execute("SELECT payload FROM audit WHERE kind = 'auth.disabled'").fetchone()
    assert json.loads(payload) == {"username": "tmp", "sessions_ended": 1, "by": "adm"}


def test_a_huge_body_is_refused_unread_and_a_chatty_websocket_client_is_dropped(running):
    anon = httpx.Client(base_url=running.url, timeout=10)
    big = b'{"username": "' + b"x" * 200_000 + b'", "password": "p"}'
    res = anon.post("/api/login", content=big, headers={"content-type": "application/json"})
    assert res.status_code == 413

    def chunks():  # no length declared: counted as it arrives
        for _ in range(100):
            yield b"x" * 4096

    res = anon.post("/api/login", content=chunks(), headers={"content-type": "application/json"})
    assert res.status_code in (400, 413)  # cut off at 64 KiB; FastAPI reports it as unreadable
    ops, _ = login(running, "ops", "ops-pw")
    cookie = f"{SESSION_COOKIE}={ops.cookies[SESSION_COOKIE]}"
    ws_url = running.url.replace("http://", "ws://") + "/api/stream"
    before = dict(running.console.clients_dropped)
    with ws_connect(ws_url, additional_headers={"Cookie": cookie}) as ws:
        try:
            for _ in range(200):
                ws.send("hello")
        except ConnectionClosed as exc:  # the server may cut it off while it still sends
            closed_with = str(exc)
        else:
            closed_with = "only listens"
        assert "only listens" in closed_with
        deadline = time.monotonic() + 20
        while running.console.clients_dropped == before and time.monotonic() < deadline:
            time.sleep(0.05)
    assert any("only listens" in r for r in running.console.clients_dropped)
    assert anon.get("/api/health").status_code == 200  # the server goes on


def merge(state: dict[str, object], message: dict[str, object]) -> dict[str, object]:
    """What the web client does with a stream message: a whole picture, or a delta onto one."""
    if message["type"] == "picture":
        return dict(message)
    tracks = {t["track_id"]: t for t in state["tracks"]}  # type: ignore[attr-defined]
    for t in message["tracks"]:  # type: ignore[attr-defined]
        tracks[t["track_id"]] = {**tracks.get(t["track_id"], {}), **t}
    for gone in message["removed"]:  # type: ignore[attr-defined]
        del tracks[gone]
    out = {**state, **{k: v for k, v in message.items() if k not in ("tracks", "removed")}}
    out["tracks"] = list(tracks.values())
    out["type"] = "picture"
    return out


def _comparable(picture: dict[str, object]) -> dict[str, object]:
    """A picture without what a delta leaves out on purpose (times, per-cycle events)."""
    skip = ("t_s", "alert_changes", "new_tracks", "dropped_tracks", "type", "seq")
    tracks = {
        t["track_id"]: {k: v for k, v in t.items() if k != "t_s"}
        for t in picture["tracks"]  # type: ignore[attr-defined]
    }
    return {**{k: v for k, v in picture.items() if k not in skip}, "tracks": tracks}


def test_deltas_merged_onto_the_first_picture_give_every_later_picture_whole(tmp_path):
    """The stream sends the whole picture once, then only what changed: nothing is lost."""
    node = Pipeline(default_scenario())
    console = Console(node, node.authority, NodeTime(node))
    sub = node.subscribe("check", maxsize=10_000)
    node.run(150)
    state: dict[str, object] = {}
    sizes = []
    for n, update in enumerate(sub.take()):
        frame = console._frame(update)
        message = frame.whole() if n == 0 else json.loads(frame.delta)
        state = merge(state, message)
        assert _comparable(state) == _comparable(json.loads(frame.whole_text()))
        sizes.append((len(frame.delta), len(frame.whole_text())))
    assert n > 1000
    # Moving tracks change every cycle, but the rest of the picture mostly does not.
    assert sum(d for d, _ in sizes) < 0.5 * sum(w for _, w in sizes)
    with_feeds = sum('"feeds"' in console._frame(u).delta for u in [update] * 3)
    assert with_feeds == 0  # the same update again: nothing but its time is new


def test_the_site_and_its_basemap_are_served_to_people_only(tmp_path):
    """/api/site places the effectors and no-fire areas; the PMTiles file is read in ranges."""
    from luchtwacht.sim.scenario_file import load_scenario_file

    scenario = load_scenario_file(
        Path(__file__).parents[2] / "scenarios" / "autonomous-attack-engaged.yaml"
    )
    node = Pipeline(scenario)
    node.authority = Authority(
        [OperatorAccount("eye", "viewer", hash_password("eye-pw", params=CHEAP))],
        hash_params=CHEAP,
    )
    basemap = tmp_path / "site.pmtiles"
    basemap.write_bytes(bytes(range(256)) * 64)
    console = Console(node, node.authority, NodeTime(node), basemap=basemap)
    server = ConsoleServer(console, bind_tcp("127.0.0.1", 0))
    server.start()
    try:
        node.run(1)
        anon = httpx.Client(base_url=server.url, timeout=10)
        assert anon.get("/api/site").status_code == 401
        assert anon.get("/api/basemap.pmtiles").status_code == 401
        anon.post("/api/login", json={"username": "eye", "password": "eye-pw"})
        site = anon.get("/api/site").json()
        assert site["basemap"] == "/api/basemap.pmtiles"
        assert abs(site["lat_deg"] - node.origin.lat_deg) < 1e-9
        assert site["effectors"] and site["effectors"][0]["max_range_m"] > 0
        counter = node.counter
        assert counter is not None
        for e in site["effectors"]:
            spec = next(s for s in counter.effectors if s.name == e["name"])
            east, north, _ = node.origin.to_enu(e["lat_deg"], e["lon_deg"], e["alt_m"]).reshape(3)
            assert abs(east - spec.enu_m[0]) < 0.01 and abs(north - spec.enu_m[1]) < 0.01
        assert [z["name"] for z in site["no_fire"]] == [z.zone.name for z in counter.no_fire]
        part = anon.get("/api/basemap.pmtiles", headers={"Range": "bytes=256-511"})
        assert part.status_code == 206 and part.content == bytes(range(256))
        assert "no-store" not in part.headers["cache-control"]
        assert anon.get("/api/site").headers["cache-control"] == "no-store"
    finally:
        server.stop()


def test_the_console_replays_its_own_recording_read_only(running):
    """The node's own recording is listed as "live"; a picture at a past time comes back."""
    eye, _ = login(running, "eye", "eye-pw")
    running.recorder.commit()
    deadline = time.monotonic() + 30
    while True:
        listed = eye.get("/api/replay").json()
        live = next(r for r in listed if r["id"] == "live")
        if live["end_s"] is not None and live["end_s"] - live["start_s"] > 5:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.2)
    span = eye.get("/api/replay/live").json()
    t = span["times"][len(span["times"]) // 2]
    picture = eye.get("/api/replay/live/picture", params={"t": t}).json()
    assert picture["type"] == "replay" and picture["t_s"] <= t
    assert picture["replay"]["id"] == "live"
    assert all("lat_deg" in track for track in picture["tracks"])
    anon = httpx.Client(base_url=running.url, timeout=10)
    assert anon.get("/api/replay").status_code == 401
