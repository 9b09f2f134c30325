"""The live node over real sockets: SAPIENT sensors, Remote ID over UDP, abuse, clean shutdown.

The node runs on a :class:`ManualClock`: the tests move its time on tick by tick and wait only
for the bytes to cross the sockets, never for the wall to catch up. Only the tests that start
``luchtwacht run`` or an example node as a separate process run on the wall clock.
"""

import asyncio
import contextlib
import dataclasses
import json
import socket
import sqlite3
import struct
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest.sapient import SapientMessage, frame, parse_message, validate
from luchtwacht.node import Command, CommandKind, LinkError, ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.radar import RadarSim
from luchtwacht.sim.scenario import default_scenario, polar
from luchtwacht.site import RemoteIdSection, SapientSection, default_site
from luchtwacht.store.recorder import verify_audit_chain
from tests.live import (
    accepted,
    advance,
    drone,
    edge_node,
    iter_frames,
    radar_stream,
    read_frames,
    started,
    until,
)


def test_live_node_serves_sensors_survives_abuse_and_records(tmp_path):
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(
                listen="127.0.0.1:0",
                transport="tcp",
                stall_timeout_s=0.5,
                max_bytes_per_s=20_000,
                max_rejects_in_a_row=20,
            ),
            "remoteid": RemoteIdSection(listen="127.0.0.1:0", protocol="udp"),
            "stats_json": tmp_path / "stats.json",
            "record": tmp_path / "live.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)

    async def scenario() -> None:
        runner, s_host, s_port = await started(node, "sapient")
        # The Remote ID listener starts after the SAPIENT one: wait for its address too.
        await until(
            lambda: bool(node.listeners.get("remoteid") and node.listeners["remoteid"].address)
        )
        r_host, r_port = node.listeners["remoteid"].address.split(":")

        # A real sensor: registers, reports its location, then six scans of a drone.
        epoch = clock.now() - 6.5
        _, scans = radar_stream(epoch, range(6))
        reader, writer = await asyncio.open_connection(s_host, s_port)
        writer.write(scans[0])
        await writer.drain()
        (ack,) = await read_frames(reader, 1)
        assert validate(ack) == "registration_ack" and ack.registration_ack.acceptance
        for chunk in scans[1:]:
            writer.write(chunk)
        await writer.drain()

        # Abuse on other connections: absurd length, a stall mid-frame, garbage frames, a flood.
        _, r1 = await asyncio.open_connection(s_host, s_port)
        r1.write(struct.pack("<I", 2**31) + b"xxxx")
        await r1.drain()
        r2_reader, r2 = await asyncio.open_connection(s_host, s_port)
        r2.write(b"\x10\x00")  # half a length prefix, then nothing
        await r2.drain()
        _, r3 = await asyncio.open_connection(s_host, s_port)
        r3.write(struct.pack("<I", 6) + b"\xff" * 6)
        await r3.drain()
        r5_reader, r5 = await asyncio.open_connection(s_host, s_port)
        r5.write((struct.pack("<I", 3) + b"\x0a\x01\xff") * 25)  # nothing but garbage
        await r5.drain()
        flood_epoch = clock.now() - 100.0
        _, flood_scans = radar_stream(flood_epoch, range(40), seed=9, node_id=str(uuid.uuid4()))
        flood_bytes = b"".join(flood_scans)
        _, r4 = await asyncio.open_connection(s_host, s_port)
        r4.write(flood_bytes)

        # Remote ID over UDP from a receiver.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        basic = rid.encode_basic_id(
            rid.IdType.SERIAL_NUMBER, rid.UaType.HELICOPTER_OR_MULTIROTOR, "1581F5FJD229V00QZ7"
        )
        loc = rid.encode_location(
            lat=51.67, lon=5.70, alt_geo_m=130.0, horizontal_accuracy=rid.HorizontalAccuracy.M_3
        )
        for msg in (basic, loc, loc):
            line = {
                "time": "2026-11-27T12:00:00.000Z",
                "receiver": "rx",
                "transport": "bt4-legacy",
                "mac": "60:60:1f:a3:5c:21",
                "rssi_dbm": -70,
                "payload": rid.encode_ble_advertising(msg, 1).hex(),
            }
            udp.sendto(json.dumps(line).encode(), (r_host, int(r_port)))
        udp.sendto(b"not json", (r_host, int(r_port)))
        udp.close()

        # The stalled connection is cut off after stall_timeout_s, the garbage sender at once.
        assert await asyncio.wait_for(r2_reader.read(), 3) == b""
        assert await asyncio.wait_for(r5_reader.read(), 3) == b""
        await r4.drain()
        # Everything sent arrives (the flood throttled, never dropped); then 2.5 s of node time.
        n_good = sum(1 for c in scans for _ in iter_frames(c))
        n_flood = sum(1 for _ in iter_frames(flood_bytes))
        await until(lambda: accepted(node) >= n_good + n_flood)
        await until(lambda: accepted(node, "remoteid") >= 3)
        await advance(node, clock, 2.5)
        stats = node.stats()
        assert stats["confirmed_tracks"] >= 1
        node.stop_event.set()
        await runner
        writer.close()

    asyncio.run(scenario())
    stats = json.loads((tmp_path / "stats.json").read_text())
    sap = stats["feeds"]["sapient"]
    closed = sap["connections"]["closed_by_reason"]
    assert closed["absurd frame length"] == 1 and closed["stalled mid-frame"] == 1
    assert closed["only invalid messages"] == 1
    assert sap["connections"]["total"] == 6
    assert sap["connections"]["throttled_s"] > 0
    assert sap["rejected_by_reason"]["SapientMessage: malformed protobuf"] == 1 + 25
    n_flood = sum(1 for _ in iter_frames(b"".join(radar_stream(time.time(), range(40), seed=9)[1])))
    n_good = sum(1 for _ in iter_frames(b"".join(radar_stream(time.time(), range(6))[1])))
    assert sap["accepted"] == n_good + n_flood  # nothing from the flood was lost
    assert (
        stats["feeds"]["remoteid"]["accepted"] == 3 and stats["feeds"]["remoteid"]["rejected"] == 1
    )
    assert len(stats["sensor_nodes"]) == 2  # the radar and the flooding one
    for node_info in stats["sensor_nodes"].values():
        assert node_info["registered"] and node_info["state"] == "lost"  # connections closed
    assert verify_audit_chain(tmp_path / "live.sqlite")[0]
    db = sqlite3.connect(tmp_path / "live.sqlite")
    assert db.execute("SELECT count(*) FROM raw WHERE format = 'sapient-out'").fetchone()[0] >= 2
    reasons = [r for (r,) in db.execute("SELECT reason FROM rejection")]
    assert reasons.count("SapientMessage: malformed protobuf") == 1 + 25
    assert reasons.count("frame.length: exceeds maximum") == 1


def test_live_node_takes_asterix_plots_over_udp(tmp_path):
    from luchtwacht.site import AsterixRadarSection, AsterixSection

    radar = AsterixRadarSection(sac=25, sic=10, lat=51.65, lon=5.70, alt_m=70.0)
    site = default_site().model_copy(
        update={
            "asterix": AsterixSection(listen="127.0.0.1:0", radars=[radar]),
            "stats_json": tmp_path / "s.json",
            "record": tmp_path / "a.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    data = (Path(__file__).parent / "data" / "asterix" / "scan_25_10.ast").read_bytes()

    async def scenario() -> None:
        runner, host, port = await started(node, "asterix")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.sendto(data, (host, int(port)))
        udp.sendto(
            b"\x30\x00\x50garbage", (host, int(port))
        )  # CAT048 block, length beyond the datagram
        udp.close()
        await until(lambda: accepted(node, "asterix") >= 4)
        await advance(node, clock, 1.0)
        node.stop_event.set()
        await runner

    asyncio.run(scenario())
    stats = json.loads((tmp_path / "s.json").read_text())["feeds"]["asterix"]
    assert stats["accepted"] >= 4  # the plots of the recorded scan
    assert stats["rejected"] >= 1
    assert any("LEN" in reason for reason in stats["rejected_by_reason"])
    from luchtwacht.store.replay import replay

    core = replay(tmp_path / "a.sqlite")  # the recording knows the radars: ASTERIX replays too
    replayed = core.feeds["asterix-udp"].pipe.counters
    assert (replayed.decoded, replayed.rejected) == (stats["accepted"], stats["rejected"])


def test_example_site_file_is_valid_and_errors_name_the_key(tmp_path):
    from luchtwacht.site import SiteConfigError, load_site

    site = load_site(Path(__file__).resolve().parents[1] / "examples" / "site-ehvk.yaml")
    assert site.sapient is not None and site.remoteid is not None and site.asterix is not None
    assert site.zone_models()[0].name == "EHVK runway"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "site: {lat: 52, lon: 5}\nzones:\n  - {name: z, polygon: [[52, 5], [52.1, 5], [52, 5.1]], floor_m: 100, ceiling_m: 50}\n"
    )
    with pytest.raises(
        SiteConfigError, match=r"bad\.yaml:3: zones\.0.*ceiling_m must be above floor_m"
    ):
        load_site(bad)
    bad.write_text("site: {lat: 52, lon: 5}\nsapient: {listen: nowhere}\n")
    with pytest.raises(SiteConfigError, match=r"bad\.yaml:2: sapient\.listen"):
        load_site(bad)


def test_live_node_connects_to_an_adsb_receiver_and_reconnects(tmp_path):
    from luchtwacht.site import AdsbSection

    beast = (Path(__file__).parent / "data" / "adsb" / "golden.beast").read_bytes()
    served = 0

    async def scenario() -> None:
        nonlocal served

        async def dump1090(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal served
            served += 1
            writer.write(beast)
            await writer.drain()
            writer.close()  # drop the client: it must come back

        server = await asyncio.start_server(dump1090, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        site = default_site().model_copy(
            update={
                "adsb": AdsbSection(connect=f"127.0.0.1:{port}", format="beast", reconnect_s=0.2),
                "stats_json": tmp_path / "s.json",
            }
        )
        node = LiveNode(site, clock=ManualClock(time.time()))
        runner = asyncio.create_task(node.run())
        await until(lambda: served >= 2 and accepted(node, "adsb") >= 2 * 3)
        node.stop_event.set()
        await runner
        server.close()

    asyncio.run(scenario())
    stats = json.loads((tmp_path / "s.json").read_text())["feeds"]["adsb"]
    assert served >= 2
    assert stats["connections"]["total"] >= 2
    assert stats["connections"]["closed_by_reason"]["closed by peer"] >= 2
    assert stats["accepted"] >= 2 * 3  # every golden frame, each time it was served


def test_fusion_node_tasks_a_sensor_and_keeps_its_task_ack(tmp_path):
    from google.protobuf import json_format
    from sapient_msg.bsi_flex_335_v2_0 import task_ack_pb2

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sapient" / "valid"
    if not shared.is_dir():
        pytest.skip(f"shared SAPIENT vectors not available at {shared}")
    task = SapientMessage()
    json_format.Parse(
        (shared / "Task.FullMessage.LookAt.json").read_text(encoding="utf-8-sig"), task
    )
    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": tmp_path / "t.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    acks: list[str] = []

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        radar, scans = radar_stream(clock.now() - 1.0, range(1))
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(scans[0])
        await writer.drain()
        await read_frames(reader, 1)  # RegistrationAck
        node_id = radar.cfg.node_id
        with pytest.raises(LinkError):
            node.send_to_node("00000000-0000-4000-8000-000000000000", SapientMessage())
        node.send_to_node(node_id, task)
        (received,) = await read_frames(reader, 1)
        assert validate(received) == "task" and received.destination_id == node_id
        ack = SapientMessage()
        ack.timestamp.GetCurrentTime()
        ack.node_id = node_id
        ack.task_ack.task_id = received.task.task_id
        ack.task_ack.task_status = task_ack_pb2.TaskAck.TASK_STATUS_ACCEPTED
        writer.write(frame(ack))
        await writer.drain()
        await until(lambda: received.task.task_id in node.sapient_nodes[node_id].task_acks)
        acks.append(node.sapient_nodes[node_id].task_acks[received.task.task_id])
        node.stop_event.set()
        await runner
        writer.close()

    asyncio.run(scenario())
    assert acks == ["TASK_STATUS_ACCEPTED"]
    db = sqlite3.connect(tmp_path / "t.sqlite")
    assert (
        db.execute("SELECT count(*) FROM audit WHERE kind = 'sapient.task.sent'").fetchone()[0] == 1
    )


def test_sapient_node_that_reconnects_resumes_without_registering_again(tmp_path):
    site = default_site().model_copy(
        update={"sapient": SapientSection(listen="127.0.0.1:0", transport="tcp")}
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    states: list[str] = []

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        radar, scans = radar_stream(clock.now() - 4.0, range(4))
        first_scan_end = scans[0]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(first_scan_end)  # Registration, StatusReport and the first scan
        await writer.drain()
        await read_frames(reader, 1)
        writer.close()
        await until(lambda: not node.core.connected(radar.cfg.node_id))
        states.append(node.node_state(radar.cfg.node_id))
        before = node.stats()["feeds"]["sapient"]["accepted"]
        n_resumed = sum(1 for chunk in scans[1:] for _ in iter_frames(chunk))
        _, writer2 = await asyncio.open_connection(host, port)
        writer2.write(b"".join(scans[1:]))  # detections only: no new Registration
        await writer2.drain()
        await until(lambda: accepted(node) >= before + n_resumed)
        states.append(node.node_state(radar.cfg.node_id))
        stats = node.stats()["feeds"]["sapient"]
        states.append(str(stats["accepted"] - before))
        assert (
            "SapientMessage.node_id: detection from an unregistered node"
            not in stats["rejected_by_reason"]
        )
        node.stop_event.set()
        await runner
        writer2.close()

    asyncio.run(scenario())
    n_resumed = sum(
        1 for chunk in radar_stream(time.time(), range(4))[1][1:] for _ in iter_frames(chunk)
    )
    assert states[0] == "lost"
    assert states[1] == "connected"
    assert int(states[2]) == n_resumed


def shared_task(name: str) -> SapientMessage:
    from google.protobuf import json_format

    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sapient" / "valid"
    if not shared.is_dir():
        pytest.skip(f"shared SAPIENT vectors not available at {shared}")
    task = SapientMessage()
    json_format.Parse((shared / name).read_text(encoding="utf-8-sig"), task)
    return task


def test_each_connection_speaks_only_for_its_own_nodes(tmp_path):

    from luchtwacht.sim.radar import RadarConfig

    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": tmp_path / "live.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    seen: dict[str, object] = {}

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        sc = default_scenario()
        cfg_b = dataclasses.replace(sc.radars[0], node_id="9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
        epoch = clock.now() - 3.0
        radar_a = RadarSim(sc.radars[0], sc.origin, epoch, 1)
        radar_b = RadarSim(cfg_b, sc.origin, epoch, 2)
        assert isinstance(cfg_b, RadarConfig)
        ra, wa = await asyncio.open_connection(host, port)
        rb, wb = await asyncio.open_connection(host, port)
        wa.write(b"".join(radar_a.scan(0.0, [drone()])))
        wb.write(b"".join(radar_b.scan(0.0, [drone()])))
        await wa.drain()
        await wb.drain()
        await read_frames(ra, 1)
        await read_frames(rb, 1)
        task = shared_task("Task.FullMessage.Request.Start.json")
        node.send_to_node(radar_a.cfg.node_id, task)
        (got,) = await read_frames(ra, 1)  # it reaches A's socket, not B's
        seen["dest"] = got.destination_id
        wa.close()
        await until(lambda: not node.core.connected(radar_a.cfg.node_id))
        seen["a"] = node.node_state(radar_a.cfg.node_id)
        seen["b"] = node.node_state(cfg_b.node_id)
        seen["feeds"] = sorted(node.core.feeds)
        node.stop_event.set()
        await runner
        wb.close()

    asyncio.run(scenario())
    assert seen["dest"] == default_scenario().radars[0].node_id
    assert (seen["a"], seen["b"]) == ("lost", "connected")
    assert seen["feeds"] == ["sapient-2"]  # the closed connection's feed was retired
    stats = node.stats()["feeds"]["sapient"]
    assert stats["accepted"] >= 4  # A's and B's registrations and status reports still counted
    # a live recording replays through the same decoders
    from luchtwacht.fusion import Feed
    from luchtwacht.store.replay import replay

    closed: list[Feed] = []  # the connections' feeds close in the replay as they did in the run
    core = replay(tmp_path / "live.sqlite", closed=closed)
    feeds = [*core.feeds.values(), *closed]
    assert sum(f.pipe.counters.decoded for f in feeds) == stats["accepted"]
    assert [f.sensor_id for f in closed] == ["sapient-1", "sapient-2"]


def test_remote_id_tcp_connections_are_closed_on_shutdown():
    site = default_site().model_copy(
        update={"remoteid": RemoteIdSection(listen="127.0.0.1:0", protocol="tcp")}
    )
    node = LiveNode(site, clock=ManualClock(time.time()))
    eof: list[bytes] = []

    async def scenario() -> None:
        runner, host, port = await started(node, "remoteid")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"not json\n")
        await writer.drain()
        await until(lambda: node.stats()["feeds"]["remoteid"]["rejected"] == 1)
        node.stop_event.set()
        await asyncio.wait_for(runner, 5)
        eof.append(await asyncio.wait_for(reader.read(), 2))
        writer.close()

    asyncio.run(scenario())
    assert eof == [b""]
    stats = node.stats()["feeds"]["remoteid"]
    assert stats["connections"]["open"] == 0 and stats["rejected"] == 1


def test_a_defect_in_a_fusion_stage_is_counted_and_the_node_keeps_serving(tmp_path):
    site = default_site().model_copy(
        update={
            "remoteid": RemoteIdSection(listen="127.0.0.1:0"),
            "stats_json": tmp_path / "s.json",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    calls = {"n": 0}
    real_cycle = node.core.cycle

    def flaky_cycle(**kw: bool) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected defect")
        return real_cycle(**kw)

    node.core.cycle = flaky_cycle  # type: ignore[method-assign,assignment]

    async def scenario() -> None:
        runner, _, _ = await started(node, "remoteid")
        await advance(node, clock, 2.3)
        node.stop_event.set()
        await runner

    asyncio.run(scenario())
    stats = json.loads((tmp_path / "s.json").read_text())
    assert stats["internal_errors"] == {"cycle": 1}
    assert calls["n"] >= 3  # later cycles ran


def test_live_node_cues_a_pan_tilt_camera_onto_a_radar_track(tmp_path):
    # A radar and a pan-tilt camera connect as SAPIENT nodes over TCP. Once the radar's drone is
    # a track, the node sends the camera look-at tasks; the camera turns and answers TaskAcks.

    from luchtwacht.sim.bearing_sensor import BearingSensorConfig, BearingSensorSim

    site = default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": tmp_path / "c.sqlite",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()
    epoch = clock.now()
    radar = RadarSim(sc.radars[0], sc.origin, epoch, 1)
    lat, lon, alt = (float(v) for v in sc.origin.to_geodetic(np.array(polar(58, 2300, 10))))
    cam_id = "7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b09"
    cfg = dataclasses.replace(
        BearingSensorConfig.camera(cam_id, lat, lon, alt),
        slew_rate_deg_s=60.0, fov_centre_deg=180.0, fov_width_deg=10.0,
    )  # fmt: skip
    cam = BearingSensorSim(cfg, sc.origin, epoch, 2)
    seen: list[SapientMessage] = []

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        _, rw = await asyncio.open_connection(host, port)
        cr, cw = await asyncio.open_connection(host, port)
        listener = asyncio.create_task(edge_node(cr, cw, cam.handle, clock, epoch, seen))
        for k in range(6):
            await advance(node, clock, epoch + k - clock.now())
            n = accepted(node)
            radar_bytes = b"".join(radar.scan(float(k), [drone()]))
            cam_bytes = b"".join(cam.scan(float(k), [drone()]))
            rw.write(radar_bytes)
            cw.write(cam_bytes)
            await rw.drain()
            await cw.drain()
            sent = sum(1 for b in (radar_bytes, cam_bytes) for _ in iter_frames(b))
            await until(lambda: accepted(node) >= n + sent)  # noqa: B023
        await advance(node, clock, 1.2)
        await until(lambda: len(node.sapient_nodes[cam_id].task_acks) >= 1)
        node.stop_event.set()
        await runner
        listener.cancel()
        rw.close()
        cw.close()

    asyncio.run(scenario())
    state = node.sapient_nodes[cam_id]
    assert state.look_at and any(m.HasField("task") for m in seen)
    assert set(state.task_acks.values()) == {"TASK_STATUS_ACCEPTED"}
    # It was told to look at the drone: 58° from the site, north-east of the camera's spot.
    assert cam.look_deg is not None and 20.0 < cam.look_deg < 90.0
    db = sqlite3.connect(tmp_path / "c.sqlite")
    sent = db.execute("SELECT count(*) FROM audit WHERE kind = 'sapient.task.sent'").fetchone()[0]
    assert (
        len(state.task_acks) >= 1 and 0 <= sent - len(state.task_acks) <= 1
    )  # last may be in flight
    # The same audit records as the demo writes for the same step (tests/sim/test_cueing.py).
    cues = db.execute("SELECT count(*) FROM audit WHERE kind = 'cue.task'").fetchone()[0]
    assert cues == sent


JAM_ID = "2f6b1c8e-0d3a-4e5f-9a7b-6c5d4e3f2a1b"


def jammer_site(tmp_path, record=None):
    """The demo site with a SAPIENT server, an RF jammer 2 km out at 50° (node ``JAM_ID``) and an
    accounts file with one commander, ``cdr`` / ``pw``."""
    from luchtwacht.counter.authority import OperatorAccount, hash_password, save_accounts
    from luchtwacht.site import SiteEffectorSection

    accounts = tmp_path / "operators.yaml"
    save_accounts(accounts, [OperatorAccount("cdr", "commander", hash_password("pw", n=2**10))])
    origin = default_scenario().origin
    lat, lon, alt = (float(v) for v in origin.to_geodetic(np.array(polar(50, 2000, 5))))
    jammer = SiteEffectorSection(
        name="jammer", node_id=JAM_ID, kind="rf_jammer", lat=lat, lon=lon, alt_m=alt
    )
    return default_site().model_copy(
        update={
            "sapient": SapientSection(listen="127.0.0.1:0", transport="tcp"),
            "record": record,
            "operators": accounts,
            "effectors": [jammer],
        }
    )


def test_live_node_tasks_an_effector_only_after_an_operator_approves(tmp_path):
    # A radar and an RF jammer connect as SAPIENT nodes over TCP. The radar's drone flies at the
    # runway; the node proposes the jammer but sends it nothing until a commander, logged in
    # from the accounts file, approves. Then the jammer gets look_at + Engage and acknowledges.
    from luchtwacht.counter.catalogue import ENGAGE_MODE
    from luchtwacht.sim.effectors import EffectorSim

    sc = default_scenario()
    clock = ManualClock(time.time())
    node = LiveNode(jammer_site(tmp_path, record=tmp_path / "e.sqlite"), clock=clock)
    counter = node.core.counter
    assert counter is not None
    epoch = clock.now()
    radar = RadarSim(sc.radars[0], sc.origin, epoch, 1)
    spec = counter.effectors[0]
    jammer = EffectorSim(spec, sc.origin, epoch, 3)
    got: list[SapientMessage] = []
    sent_before_approval: list[int] = []

    async def scenario() -> None:
        runner, host, port = await started(node, "sapient")
        _, rw = await asyncio.open_connection(host, port)
        jr, jw = await asyncio.open_connection(host, port)
        listener = asyncio.create_task(edge_node(jr, jw, jammer.handle, clock, epoch, got))
        approval = None
        for k in range(16):
            await advance(node, clock, epoch + k - clock.now())
            n = accepted(node)
            radar_bytes = b"".join(radar.scan(float(k), [drone()]))
            jammer_bytes = b"".join(jammer.scan(float(k), []))
            rw.write(radar_bytes)
            jw.write(jammer_bytes)
            await rw.drain()
            await jw.drain()
            sent = sum(1 for b in (radar_bytes, jammer_bytes) for _ in iter_frames(b))
            await until(lambda: accepted(node) >= n + sent)  # noqa: B023
            pending = counter.pending()
            if pending and approval is None:
                sent_before_approval.append(sum(1 for m in got if m.HasField("task")))
                # A commander approves through the node's command port, as a console would.
                token = node.authority.authenticate("cdr", "pw", clock.now()).token
                approval = node.core.submit(
                    Command(CommandKind.APPROVE, token, pending[0].rec_id, effector="jammer")
                )
            if approval is not None and jammer.mode == ENGAGE_MODE:
                break
        assert approval is not None and approval.ok and approval.operator == "cdr"
        await advance(node, clock, 1.2)
        await until(lambda: "TASK_STATUS_ACCEPTED" in node.sapient_nodes[JAM_ID].task_acks.values())
        await advance(node, clock, 1.0)
        node.stop_event.set()
        await runner
        listener.cancel()
        rw.close()
        jw.close()

    asyncio.run(scenario())
    assert sent_before_approval == [0]  # proposed, and nothing sent to the jammer before
    tasks = [m.task for m in got if m.HasField("task")]
    assert {t.command.WhichOneof("command") for t in tasks} >= {"look_at", "mode_change"}
    assert jammer.mode == ENGAGE_MODE and jammer.aim_enu is not None
    state = node.sapient_nodes[JAM_ID]
    assert "NODE_TYPE_JAMMER" in state.node_types
    assert "TASK_STATUS_ACCEPTED" in state.task_acks.values()
    (eng,) = counter.engagements.values()
    assert eng.approved_by == "cdr" and eng.state == "engaging"
    db = sqlite3.connect(tmp_path / "e.sqlite")
    kinds = [k for (k,) in db.execute("SELECT kind FROM audit ORDER BY seq")]
    assert (
        kinds.index("auth.login")
        < kinds.index("counter.approved")
        < kinds.index("counter.tasked")
        < kinds.index("command.approve")
    )
    assert "sapient.task.sent" in kinds
    assert verify_audit_chain(tmp_path / "e.sqlite")[0]


def test_a_node_that_stops_reading_is_cut_off_and_never_freezes_the_loop(tmp_path):
    """The freeze attack: a client registers as a camera, stops reading and provokes a reply to
    every message it sends. Its replies wait in its own bounded queue; the loop goes on ticking
    and fusing a good radar; after the write timeout the client is cut off."""
    from luchtwacht.sim.bearing_sensor import BearingSensorConfig, BearingSensorSim

    site = default_site().model_copy(
        update={
            "sapient": SapientSection(
                listen="127.0.0.1:0",
                transport="tcp",
                max_bytes_per_s=1e9,
                max_queued_bytes=16_384,
                write_timeout_s=0.5,
            ),
            "stats_json": tmp_path / "s.json",
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    sc = default_scenario()
    cam = BearingSensorSim(
        BearingSensorConfig.camera("7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b77", 51.65, 5.70, 70.0),
        sc.origin,
        clock.now(),
        5,
    )

    async def scenario() -> dict[str, object]:
        runner, host, port = await started(node, "sapient")
        # The attacker: a tiny receive buffer, never reads, asks for a RegistrationAck 5000 times.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, port))
        _, attacker = await asyncio.open_connection(sock=sock)
        registration = frame(cam.registration(0.0))
        attacker.write(registration * 5_000)
        # A good radar on its own connection, and the loop's ticks, carry on meanwhile.
        epoch = clock.now() - 4.0
        _, scans = radar_stream(epoch, range(4))
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(scans[0])
        await writer.drain()
        await read_frames(reader, 1)
        ticks = node.core.tick_count
        for chunk in scans[1:]:
            n = accepted(node)
            writer.write(chunk)
            await writer.drain()
            await until(lambda: accepted(node) > n)  # noqa: B023
            await advance(node, clock, 0.5)
        assert node.core.tick_count >= ticks + 15
        closed = lambda: node.listeners["sapient"].closed_by_reason["peer not reading"]  # noqa: E731
        await until(lambda: closed() == 1)
        await advance(node, clock, 1.0)
        out = node.stats()
        node.stop_event.set()
        await runner
        writer.close()
        attacker.transport.abort()
        return out

    stats = asyncio.run(scenario())
    assert stats["internal_errors"] == {}
    assert node.core.replies_dropped > 0  # counted, not queued without bound
    assert int(str(stats["confirmed_tracks"])) >= 1  # the good radar was fused throughout


def test_a_client_naming_a_connected_effector_does_not_take_its_task_channel(tmp_path):
    """The effector hijack: a second connection sends the jammer's Registration and status under
    its node id. While the real jammer's connection is open, tasks after an approval still go
    to the real jammer only, and the attempt is counted."""
    from luchtwacht.counter.catalogue import ENGAGE_MODE
    from luchtwacht.sim.effectors import EffectorSim

    sc = default_scenario()
    clock = ManualClock(time.time())
    node = LiveNode(jammer_site(tmp_path), clock=clock)
    counter = node.core.counter
    assert counter is not None
    epoch = clock.now()
    radar = RadarSim(sc.radars[0], sc.origin, epoch, 1)
    jammer = EffectorSim(counter.effectors[0], sc.origin, epoch, 3)
    impostor = EffectorSim(counter.effectors[0], sc.origin, epoch, 4)  # the same node id
    got: list[SapientMessage] = []

    async def scenario() -> list[SapientMessage]:
        runner, host, port = await started(node, "sapient")
        _, rw = await asyncio.open_connection(host, port)
        jr, jw = await asyncio.open_connection(host, port)
        listener = asyncio.create_task(edge_node(jr, jw, jammer.handle, clock, epoch, got))
        ir, iw = await asyncio.open_connection(host, port)
        approval = None
        for k in range(16):
            await advance(node, clock, epoch + k - clock.now())
            n = accepted(node)
            parts = [
                (rw, b"".join(radar.scan(float(k), [drone()]))),
                (jw, b"".join(jammer.scan(float(k), []))),
            ]
            if k >= 1:  # the impostor starts once the real jammer is connected
                parts.append((iw, b"".join(impostor.scan(float(k), []))))
            for w, data in parts:
                w.write(data)
                await w.drain()
            sent = sum(1 for w, d in parts[:2] for _ in iter_frames(d))  # the impostor's: refused
            await until(lambda: accepted(node) >= n + sent)  # noqa: B023
            pending = counter.pending()
            if pending and approval is None:
                token = node.authority.authenticate("cdr", "pw", clock.now()).token
                approval = node.core.submit(
                    Command(CommandKind.APPROVE, token, pending[0].rec_id, effector="jammer")
                )
            if approval is not None and jammer.mode == ENGAGE_MODE:
                break
        assert approval is not None and approval.ok
        await advance(node, clock, 1.0)
        # Whatever reached the impostor's socket: registration acks only, never a task.
        stolen: list[SapientMessage] = []
        with contextlib.suppress(TimeoutError):
            while True:
                head = await asyncio.wait_for(ir.readexactly(4), 0.2)
                body = await asyncio.wait_for(ir.readexactly(struct.unpack("<I", head)[0]), 1)
                stolen.append(parse_message(body))
        node.stop_event.set()
        await runner
        listener.cancel()
        for w in (rw, jw, iw):
            w.close()
        return stolen

    stolen = asyncio.run(scenario())
    assert not [m for m in stolen if m.HasField("task")]
    # Its registrations were refused, naming the rule; its status reports did not move the jammer.
    acks = [m.registration_ack for m in stolen if m.HasField("registration_ack")]
    assert acks and not any(a.acceptance for a in acks)
    assert "bound to another connection" in acks[0].ack_response_reason[0]
    assert {m.task.command.WhichOneof("command") for m in got if m.HasField("task")} >= {
        "look_at",
        "mode_change",
    }
    assert jammer.mode == ENGAGE_MODE and node.core.bind_refused >= 1
