"""Replay of a live run: a node on the wall clock, fed over real sockets, replays exactly.

The live node runs in-process on the wall clock (its ticks drift, as in the field) with a
SAPIENT server and a Remote ID receiver on UDP. Radar A connects, reports, drops its connection
and comes back on a new one; radar B reports all along; a Remote ID drone flies across the
runway. ``luchtwacht replay --check`` must reproduce every recorded track row and alert event;
a recording with one raw payload altered must fail the check.
"""

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import shutil
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.counter.authority import OperatorAccount, hash_password, save_accounts
from luchtwacht.fusion import Feed
from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest.sapient import frame, parse_message
from luchtwacht.model.detection import ObjectClass
from luchtwacht.node import Command, CommandKind, ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario, polar
from luchtwacht.sim.targets import Target, WaypointPath
from luchtwacht.site import RemoteIdSection, SapientSection, default_site
from luchtwacht.store import replay as replay_module
from luchtwacht.store.replay import Capture, Pacer, check_replay, replay
from tests.live import accepted, advance, iter_frames, radar_stream, started, until

runner = CliRunner()
SCANS = 9  # seconds of radar scans
LIVE_STATS: dict[Path, dict[str, Any]] = {}  # what the live node counted, per recording


def _intruder() -> Target:
    """A drone flying fast into the runway zone: approach and breach alerts within seconds."""
    return Target(
        "d",
        ObjectClass.DRONE,
        0.5,
        WaypointPath((polar(58, 1100, 80), polar(58, 200, 80)), (40.0,)),
    )


def _radar(epoch: float, seed: int, node_id: str | None = None) -> list[bytes]:
    sc = default_scenario()
    cfg = sc.radars[0]
    if node_id is not None:
        cfg = dataclasses.replace(cfg, node_id=node_id)
    radar = RadarSim(cfg, sc.origin, epoch, seed)
    return [b"".join(radar.scan(float(k), [_intruder()])) for k in range(SCANS)]


def _rid_line(t_s: float, k: int) -> bytes:
    """A Remote ID location of a cooperative drone crossing the site, as a receiver sends it."""
    origin = default_scenario().origin
    lat, lon, _ = origin.to_geodetic(np.array([[-600.0 + 2.5 * k, 300.0, 60.0]]))[0]
    msgs = [
        rid.encode_basic_id(
            rid.IdType.SERIAL_NUMBER, rid.UaType.HELICOPTER_OR_MULTIROTOR, "1581F5FJD229V00QZ7"
        ),
        rid.encode_location(
            lat=float(lat),
            lon=float(lon),
            alt_geo_m=origin.alt_m + 60.0,
            horizontal_accuracy=rid.HorizontalAccuracy.M_3,
        ),
    ]
    stamp = dt.datetime.fromtimestamp(t_s, dt.UTC).isoformat(timespec="milliseconds")
    return json.dumps(
        {
            "time": stamp.replace("+00:00", "Z"),
            "receiver": "rx",
            "transport": "bt4-legacy",
            "mac": "60:60:1f:a3:5c:21",
            "rssi_dbm": -70,
            "payload": rid.encode_ble_advertising(msgs[k % 2], k).hex(),
        }
    ).encode()


async def _feed(node: LiveNode) -> None:
    await until(lambda: "sapient" in node.listeners and bool(node.listeners["sapient"].address))
    await until(lambda: bool(node.listeners.get("remoteid") and node.listeners["remoteid"].address))
    s_host, s_port = node.listeners["sapient"].address.split(":")
    r_host, r_port = node.listeners["remoteid"].address.split(":")
    epoch = time.time()
    scans_a = _radar(epoch, 1)
    scans_b = _radar(epoch, 2, node_id="1b2c3d4e-0000-4000-8000-00000000000b")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a_reader, a_writer = await asyncio.open_connection(s_host, int(s_port))
    b_reader, b_writer = await asyncio.open_connection(s_host, int(s_port))
    for k in range(SCANS):
        await asyncio.sleep(max(0.0, epoch + k + 0.05 - time.time()))
        if k == 4:  # radar A drops its connection, and is back on a new one a second later
            a_writer.close()
            await a_writer.wait_closed()
        elif k == 5:
            a_reader, a_writer = await asyncio.open_connection(s_host, int(s_port))
        b_writer.write(scans_b[k])
        if k != 4:
            a_writer.write(scans_a[k])
            await a_writer.drain()
        await b_writer.drain()
        if k == 6:  # the duty officer acknowledges the open alerts, as from the console
            token = node.authority.authenticate("ops", "pw", node.clock.now()).token
            for alert in node.core.alerts.open_alerts:
                node.core.submit(Command(CommandKind.ACKNOWLEDGE, token, alert.alert_id))
        for half in (0.0, 0.5):
            udp.sendto(_rid_line(epoch + k + half, 2 * k), (r_host, int(r_port)))
            udp.sendto(_rid_line(epoch + k + half, 2 * k + 1), (r_host, int(r_port)))
    await asyncio.sleep(1.5)  # the last scans are folded in and the tracks coast a little
    node.stop_event.set()
    udp.close()
    for w in (a_writer, b_writer):
        w.close()
        with contextlib.suppress(ConnectionError):
            await w.wait_closed()
    del a_reader, b_reader


@pytest.fixture(scope="module")
def live_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of the live node on the wall clock, fed over real TCP and UDP sockets."""
    folder = tmp_path_factory.mktemp("live")
    path = folder / "live.sqlite"
    accounts = folder / "operators.yaml"
    save_accounts(accounts, [OperatorAccount("ops", "operator", hash_password("pw", n=2**10))])
    site = default_site().model_copy(
        update={
            # Below the two radars' rate: the node sheds some scans, and replay must shed the same.
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp", max_reports_per_s=6),
            "remoteid": RemoteIdSection(listen="127.0.0.1:0", protocol="udp"),
            "record": path,
            "operators": accounts,
        }
    )
    node = LiveNode(site)  # the wall clock

    async def scenario() -> None:
        runner_task = asyncio.create_task(node.run())
        await _feed(node)
        await asyncio.wait_for(runner_task, 10)

    asyncio.run(scenario())
    LIVE_STATS[path] = node.stats()
    return path


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_the_live_recording_is_a_live_run(live_recording):
    """What makes it hard: ticks off any grid, feeds that come and go, alerts, Remote ID."""
    ticks = [float(t) for (t,) in _rows(live_recording, "SELECT t_s FROM tick ORDER BY seq")]
    steps = np.diff(ticks)
    assert len(ticks) > 80 and steps.std() > 1e-4  # the wall clock's ticks: not on a grid
    events = _rows(live_recording, "SELECT kind, payload FROM audit WHERE kind LIKE 'feed.%'")
    opened = [json.loads(p)["feed"] for k, p in events if k == "feed.open"]
    closed = [json.loads(p)["feed"] for k, p in events if k == "feed.close"]
    assert opened == ["remoteid-udp", "sapient-1", "sapient-2", "sapient-3"]
    assert closed[0] == "sapient-1"  # radar A's first connection, mid-run
    first_close = next(json.loads(p) for k, p in events if k == "feed.close")
    assert 0 < first_close["tick"] < len(ticks) - 20
    (n_alerts,) = _rows(live_recording, "SELECT count(*) FROM alert_event")[0]
    assert n_alerts >= 1
    acks = _rows(live_recording, "SELECT payload FROM audit WHERE kind = 'command.acknowledge'")
    assert acks and all(json.loads(p)["ok"] for (p,) in acks)  # replayed at their ticks
    acked = _rows(live_recording, "SELECT count(*) FROM alert_event WHERE event = 'acknowledged'")
    assert acked[0][0] == len(acks)
    uas = _rows(live_recording, "SELECT count(*) FROM track WHERE uas_id IS NOT NULL")[0][0]
    assert uas >= 1  # the Remote ID drone is in the picture
    assert len({sid for (sid,) in _rows(live_recording, "SELECT sensor_id FROM raw")}) >= 4


def test_replay_check_reproduces_the_live_run(live_recording):
    result = runner.invoke(app, ["replay", str(live_recording), "--check"])
    assert result.exit_code == 0, result.output
    assert "replay matches the recording" in result.output
    (tracks,) = _rows(live_recording, "SELECT count(*) FROM track")[0]
    (alerts,) = _rows(live_recording, "SELECT count(*) FROM alert_event")[0]
    assert f"{tracks} track rows and {alerts} alert events identical" in result.output
    # The decisions too: the same node bindings, the same scans shed, the same counts.
    capture = Capture()
    closed: list[Feed] = []
    core = replay(live_recording, store=capture, closed=closed)
    assert check_replay(live_recording, capture).differences == 0
    assert core.bind_refused == 0 and sorted(core.feeds) == ["remoteid-udp"]
    closing = [
        f.sensor_id for f in closed
    ]  # radar A's first connection mid-run, the rest at the end
    assert closing[0] == "sapient-1" and sorted(closing) == ["sapient-1", "sapient-2", "sapient-3"]
    live = LIVE_STATS[live_recording]["feeds"]["sapient"]
    assert live["shed"] > 0
    assert sum(f.pipe.counters.shed for f in closed) == live["shed"]
    assert sum(f.pipe.counters.decoded for f in closed) == live["accepted"]


def test_without_the_feed_events_the_live_run_does_not_replay(live_recording, monkeypatch):
    """The feeds' comings and goings are what makes it replay: all open at once, it differs."""
    monkeypatch.setattr(replay_module, "_feed_events", lambda db: [])
    capture = Capture()
    core = replay(live_recording, store=capture)
    assert core.bind_refused > 0  # radar A's new connection refused: the old one still open
    assert check_replay(live_recording, capture).differences > 0


def test_a_live_run_on_a_manual_clock_replays_where_stamps_tie_with_ticks(tmp_path, monkeypatch):
    """Bytes that arrive after a tick stamped at its very instant: the tick.order notes."""
    path = tmp_path / "manual.sqlite"
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": path,
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)

    async def scenario() -> None:
        task, host, port = await started(node, "sapient")
        _, scans = radar_stream(clock.now(), range(8))
        _, writer = await asyncio.open_connection(host, port)
        n = 0
        for chunk in scans:  # each scan arrives at the clock's instant of the last tick
            writer.write(chunk)
            await writer.drain()
            n += sum(1 for _ in iter_frames(chunk))
            await until(lambda: accepted(node) >= n)  # noqa: B023
            await advance(node, clock, 1.0)
        node.stop_event.set()
        await task
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    asyncio.run(scenario())
    notes = _rows(path, "SELECT count(*) FROM audit WHERE kind = 'tick.order'")[0][0]
    assert notes >= 7
    capture = Capture()
    replay(path, store=capture)
    result = check_replay(path, capture)
    assert result.track_rows > 0 and result.differences == 0
    monkeypatch.setattr(replay_module, "_order_notes", lambda db: {})
    capture = Capture()
    replay(path, store=capture)
    assert check_replay(path, capture).differences > 0  # by the stamps alone: a tick early


def test_an_altered_payload_fails_the_check(live_recording, tmp_path):
    altered = tmp_path / "altered.sqlite"
    shutil.copy(live_recording, altered)
    db = sqlite3.connect(altered)
    # One raw payload of radar B in the middle of the run: its detections said 30 m further.
    rows = db.execute(
        "SELECT seq, payload FROM raw WHERE sensor_id = 'sapient-2' AND format = 'sapient'"
        " ORDER BY seq"
    ).fetchall()
    seq, payload = rows[len(rows) // 2]
    out = b""
    for body in iter_frames(bytes(payload)):
        msg = parse_message(body)
        if msg.HasField("detection_report"):
            msg.detection_report.range_bearing.range += 30.0
        out += frame(msg)
    assert out != bytes(payload)
    db.execute("UPDATE raw SET payload = ? WHERE seq = ?", (out, seq))
    db.commit()
    db.close()
    result = runner.invoke(app, ["replay", str(altered), "--check"])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: ") and "replay differs" in line and "first: " in line


def test_a_window_replays_from_the_recorded_state(live_recording):
    start = float(_rows(live_recording, "SELECT value FROM meta WHERE key = 'start_s'")[0][0])
    result = runner.invoke(
        app, ["replay", str(live_recording), "--check", "--from", "4", "--to", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "in the window" in result.output
    lo, hi = start + 4, start + 7
    (n,) = _rows(live_recording, f"SELECT count(*) FROM track WHERE t_s BETWEEN {lo!r} AND {hi!r}")[
        0
    ]
    assert n > 0 and f"{n} track rows" in result.output
    iso = dt.datetime.fromtimestamp(lo, dt.UTC).isoformat().replace("+00:00", "Z")
    same = runner.invoke(
        app, ["replay", str(live_recording), "--check", "--from", iso, "--to", "7"]
    )
    assert same.exit_code == 0 and f"{n} track rows" in same.output
    # The replay stops at --to: nothing after it was run.
    core = replay(live_recording, until_s=hi)
    assert core.now_s <= hi and core.now_s > hi - 0.5


def test_speed_paces_the_window_on_an_injected_clock(live_recording):
    wall = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        wall[0] += s

    pacer = Pacer(4.0, clock=lambda: wall[0], sleep=sleep)
    start = float(_rows(live_recording, "SELECT value FROM meta WHERE key = 'start_s'")[0][0])
    seen: list[float] = []

    def before(t: float) -> None:
        if t >= start + 2:
            seen.append(t)
            pacer(t)

    replay(live_recording, until_s=start + 5, before_tick=before)
    assert wall[0] == pytest.approx((seen[-1] - seen[0]) / 4.0, abs=1e-6)
    assert all(s > 0 for s in slept) and len(slept) > 10
    fast = Pacer(0.0, clock=lambda: 0.0, sleep=sleep)
    before_count = len(slept)
    for t in seen:
        fast(t)
    assert len(slept) == before_count  # 0: as fast as possible, never sleeps
    with pytest.raises(ValueError, match="speed must be 0 or a positive number"):
        Pacer(-1.0)


def test_speed_on_the_command_line_takes_real_time(live_recording):
    t0 = time.monotonic()
    result = runner.invoke(
        app, ["replay", str(live_recording), "--from", "3", "--to", "4", "--speed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert time.monotonic() - t0 >= 0.45  # one second of the run at twice real time


@pytest.mark.parametrize(
    "args",
    [
        ["--speed", "-1"],
        ["--speed", "nan"],
        ["--from", "yesterday"],
        ["--from", "5", "--to", "3"],
        ["--to", "inf"],
        ["--from", "3600"],  # after the end
        ["--to", "2000-01-01T00:00:00Z"],  # before the start
    ],
)
def test_bad_values_are_one_line_and_exit_2(live_recording, args):
    result = runner.invoke(app, ["replay", str(live_recording), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_view_shows_the_replayed_picture(live_recording):
    result = runner.invoke(
        app, ["replay", str(live_recording), "--view", "--from", "5", "--to", "7", "--check"]
    )
    assert result.exit_code == 0, result.output
    assert "LUCHTWACHT" in result.output and "Tracks now" in result.output  # the terminal view
    assert "replay matches the recording in the window" in result.output
