"""SAPIENT upward: Luchtwacht as a fusion node of a higher DMM, over real sockets.

The higher DMM is Luchtwacht's own SAPIENT server (a :class:`LiveNode` on a manual clock, over
TCP and over mutual TLS with the site PKI), and a small DMM in the test that answers with the
conformance vectors' RegistrationAck, Tasks and AlertAck (``../shared/data/sapient``). Every
message the publisher sends is checked by the ICD validator on the other side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sapient_msg.bsi_flex_335_v2_0 import registration_pb2, status_report_pb2
from sapient_msg.bsi_flex_335_v2_0.task_pb2 import Task

from luchtwacht.ingest.sapient import (
    SapientMessage,
    new_ulid,
    parse_message,
    validate,
    validate_reference,
)
from luchtwacht.model.picture import (
    AlertChange,
    AlertSnapshot,
    FeedSnapshot,
    NodeSnapshot,
    PictureUpdate,
)
from luchtwacht.model.track import AlertState, ThreatLevel, TrackView
from luchtwacht.node import ManualClock
from luchtwacht.node.ports import Subscription
from luchtwacht.pipeline import Pipeline
from luchtwacht.publish.base import PublishContext
from luchtwacht.publish.sapient_up import (
    SapientUpConfig,
    SapientUpPublisher,
    Tasking,
    alert_message,
    coverage_polygons,
    decide_task,
    detection_report,
    fast_ulid,
    health,
    registration_message,
    status_report,
)
from luchtwacht.runtime import LiveNode
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.site import SapientClientSection, SapientSection, TlsSection, default_site
from luchtwacht.transport.pki import init_ca, issue
from luchtwacht.transport.sapient_tcp import recv_frame
from tests.live import advance, started, until

GOODBYE = status_report_pb2.StatusReport.SYSTEM_GOODBYE
FUSION_NODE = registration_pb2.Registration.NODE_TYPE_FUSION_NODE
OUR_ID = "5d0c7a52-8f0e-4b1a-9c3d-2e7f6a1b0c9d"
VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "sapient"
SCENARIO = default_scenario()
ORIGIN = SCENARIO.origin
RNG = np.random.default_rng(7)


def ctx(node_id: str = OUR_ID) -> PublishContext:
    return PublishContext("EHVK", ORIGIN, SCENARIO.zones, node_id)


def view(
    track_id: int, t_s: float, enu: tuple[float, float, float], vel=(0.0, 0.0, 0.0), **kw
) -> TrackView:
    """A confirmed track at ``enu`` (site metres) moving at ``vel`` (m/s)."""
    lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array(enu)))
    speed = math.hypot(vel[0], vel[1])
    fields = {
        "object_class": "drone",
        "class_prob": 0.8,
        "class_probs": (("drone", 0.8), ("bird", 0.15), ("unknown", 0.05)),
        "cooperative": False,
        "uas_id": None,
        "threat": ThreatLevel.MEDIUM,
        "zones_inside": (),
        "time_to_breach_s": None,
        "pos_std_m": 5.0,
        "ellipse_m": (6.0, 4.0, 30.0),
        "alt_std_m": 5.0,
        **kw,
    }
    return TrackView(
        track_id,
        t_s,
        lat,
        lon,
        alt,
        *enu,
        speed,
        math.degrees(math.atan2(vel[0], vel[1])) % 360.0,
        vel[2],
        **fields,
    )


def update(
    seq: int,
    t_s: float,
    tracks: tuple[TrackView, ...],
    prev: frozenset[int] = frozenset(),
    changes: tuple[AlertChange, ...] = (),
    feeds: tuple[FeedSnapshot, ...] = (),
) -> PictureUpdate:
    ids = frozenset(v.track_id for v in tracks)
    return PictureUpdate(
        seq, t_s, "EHVK", tracks, ids - prev, prev - ids, (), changes, (), (), feeds, ()
    )


def alert_change(t_s: float, kind: str, track_id: int, alert_id: int = 1) -> AlertChange:
    snap = AlertSnapshot(
        alert_id,
        track_id,
        "runway",
        ThreatLevel.HIGH,
        "approach",
        t_s,
        t_s,
        "drone",
        None,
        AlertState.ACTIVE,
        None,
        None,
        "drone approaching the runway",
    )
    return AlertChange(t_s, kind, snap)


def flying(t_s: float, t0_s: float) -> tuple[TrackView, ...]:
    """Two drones on straight lines since ``t0_s``, as a lower node would track them."""
    dt = t_s - t0_s
    return (
        view(1, t_s, (1500.0 - 10.0 * dt, 800.0, 120.0), (-10.0, 0.0, 0.0)),
        view(2, t_s, (-900.0, -1200.0 + 8.0 * dt, 80.0), (0.0, 8.0, 0.0)),
    )


def publisher(
    config: SapientUpConfig, node_id: str = OUR_ID
) -> tuple[SapientUpPublisher, Subscription]:
    sub = Subscription(config.name, maxsize=256)
    return SapientUpPublisher(config, ctx(node_id), sub), sub


# --- (a) Luchtwacht's own SAPIENT server as the higher DMM -------------------------------------


def higher_site(tmp_path: Path, tls: tuple[Path, Path, Path] | None = None):
    if tls is None:
        section = SapientSection(listen="127.0.0.1:0", transport="tcp")
        return default_site().model_copy(update={"sapient": section})
    cert, key, ca = tls
    section = SapientSection(
        listen="127.0.0.1:0",
        transport="tls",
        clients=[SapientClientSection(name="luchtwacht-ehvk", node_ids=[OUR_ID])],
    )
    return default_site().model_copy(
        update={"sapient": section, "tls": TlsSection(cert=cert, key=key, ca=ca)}
    )


def higher_state(node: LiveNode) -> dict[str, Any]:
    stats = node.stats()
    return {
        "node": stats["sensor_nodes"].get(OUR_ID),
        "rejected": stats["feeds"].get("sapient", {}).get("rejected_by_reason", {}),
        "accepted": stats["feeds"].get("sapient", {}).get("accepted", 0),
    }


def task_message(command: dict[str, Any], **task: object) -> SapientMessage:
    body = {
        "task": {
            "taskId": new_ulid(time.time(), RNG),
            "control": "CONTROL_START",
            "command": command,
            **task,
        }
    }
    return json_format.ParseDict(body, SapientMessage())


def test_a_luchtwacht_dmm_registers_it_takes_its_tracks_and_its_task_acks():
    """A lower Luchtwacht (the demo's NodeCore) reports upward over TCP to a higher Luchtwacht:
    registered as a fusion node, every report accepted, tracks where the lower node's are,
    and its tasks answered (Status done, look-at refused)."""
    clock = ManualClock(time.time())
    higher = LiveNode(higher_site(Path()), clock=clock)
    lower = Pipeline(dataclasses.replace(SCENARIO, epoch_s=clock.now()))
    sub = lower.subscribe("publish:dmm", maxsize=1000)

    async def scenario() -> tuple[
        SapientUpPublisher, dict[str, Any], list[TrackView], list[TrackView]
    ]:
        runner, host, port = await started(higher, "sapient")
        cfg = SapientUpConfig(name="dmm", connect=f"{host}:{port}", transport="tcp",
                              min_interval_s=0.5, status_interval_s=2.0)  # fmt: skip
        pub = SapientUpPublisher(cfg, ctx(), sub)
        pub.start()
        try:
            for _ in range(18):
                await asyncio.to_thread(lower.run, 1.0)
                await until(lambda: len(sub) == 0, 10)
                await advance(higher, clock, 1.0)
            await until(lambda: pub.counters.extra["registered"] == 1)
            # The demo's first alert comes late: one is raised on its picture as it stands.
            first = lower.views[0]
            raised = alert_change(lower.now_s, "raised", first.track_id)
            sub.offer(lower.picture(lower.now_s, (raised,)))
            await until(lambda: pub.counters.extra["alert_acks_accepted"] == 1)
            status = task_message({"request": "Status"})
            look = task_message(
                {
                    "lookAt": {
                        "locationList": {
                            "locations": [
                                {
                                    "x": 5.7,
                                    "y": 51.65,
                                    "z": 50.0,
                                    "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
                                    "datum": "LOCATION_DATUM_WGS84_E",
                                }
                            ]
                        }
                    }
                }
            )
            higher.send_to_node(OUR_ID, status)
            higher.send_to_node(OUR_ID, look)
            acks = higher.sapient_nodes[OUR_ID].task_acks
            await until(lambda: acks.get(status.task.task_id) == "TASK_STATUS_COMPLETED")
            await until(lambda: acks.get(look.task.task_id) == "TASK_STATUS_REJECTED")
            state = higher_state(higher)
            lower_tracks = list(lower.views)
            higher_tracks = list(higher.core.views)
        finally:
            pub.stop()
            higher.stop_event.set()
            await runner
        return pub, state, lower_tracks, higher_tracks

    pub, state, lows, highs = asyncio.run(scenario())
    node = state["node"]
    assert node["registered"] and node["node_types"] == ["NODE_TYPE_FUSION_NODE"]
    assert node["system"] == "SYSTEM_OK" and node["mode"] == "Default"  # the demo feeds are ok
    assert state["rejected"] == {}, state["rejected"]  # the ICD validator took every message
    extra = pub.counters.extra
    assert extra["errors_from_dmm"] == 0 and extra["invalid_built"] == 0
    assert extra["detection_reports"] > 50 and pub.counters.sent >= extra["detection_reports"]
    assert state["accepted"] >= extra["detection_reports"] + extra["status_reports"]
    assert extra["tasks_accepted"] == 1 and extra["tasks_rejected"] == 1
    assert extra["alerts"] == 1  # …and the higher node acknowledged it (ALERT_ACK_STATUS_ACCEPTED)
    # The higher picture has a track wherever the lower node has a settled, slow one.
    slow = [v for v in lows if v.speed_ms < 30.0 and v.pos_std_m < 20.0]
    assert len(slow) >= 3
    high_enu = np.array([[h.east_m, h.north_m, h.up_m] for h in highs])
    for v in slow:
        gap = np.linalg.norm(high_enu - np.array([v.east_m, v.north_m, v.up_m]), axis=1).min()
        assert gap < 50.0, (v.track_id, v.object_class, gap)
    # …and it keeps the lower node's classes (drones stay drones).
    high_drones = [h for h in highs if h.object_class == "drone"]
    assert len(high_drones) >= sum(1 for v in slow if v.object_class == "drone") > 0


def test_over_mutual_tls_only_the_certificate_listed_for_the_node_id_is_taken(tmp_path):
    """The higher Luchtwacht serves mutual TLS (site PKI): the publisher with the certificate
    listed for its node id registers and its tracks are fused; another certificate is refused
    before a byte is read, and that publisher keeps trying without blocking anything."""
    d = tmp_path / "pki"
    ca, _ = init_ca(d, "EHVK test CA", 30)
    server = issue(d, "fusion", server=True)
    ours = issue(d, "luchtwacht-ehvk")
    stranger = issue(d, "stranger")
    clock = ManualClock(time.time())
    higher = LiveNode(higher_site(tmp_path, (server.cert, server.key, ca)), clock=clock)
    t0 = clock.now()

    async def scenario():
        runner, host, port = await started(higher, "sapient")
        good, sub = publisher(
            SapientUpConfig(
                name="tls",
                connect=f"{host}:{port}",
                cert=ours.cert,
                key=ours.key,
                ca=ca,
                min_interval_s=0.5,
            )
        )
        bad, bad_sub = publisher(
            SapientUpConfig(
                name="bad",
                connect=f"{host}:{port}",
                cert=stranger.cert,
                key=stranger.key,
                ca=ca,
                node_id="0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
                reconnect_first_s=0.05,
                reconnect_max_s=0.2,
            )
        )
        good.start()
        bad.start()
        try:
            await until(lambda: good.counters.extra["registered"] == 1)
            prev: frozenset[int] = frozenset()
            for k in range(1, 21):
                t = clock.now() + 0.5
                tracks = flying(t, t0)
                u = update(k, t, tracks, prev)
                prev = frozenset(v.track_id for v in tracks)
                sub.offer(u)
                bad_sub.offer(u)
                await until(lambda: len(sub) == 0)
                await asyncio.sleep(0.02)
                await advance(higher, clock, 0.5)
            await until(lambda: bad.counters.extra["connections_lost"] >= 2)
            return higher_state(higher), list(higher.core.views), tracks, good, bad
        finally:
            good.stop()
            bad.stop()
            higher.stop_event.set()
            await runner

    state, highs, lows, good, bad = asyncio.run(scenario())
    assert state["node"]["registered"] and state["rejected"] == {}
    assert good.counters.extra["errors_from_dmm"] == 0 and good.counters.reconnects == 0
    for v in lows:
        gap = min(math.dist((h.east_m, h.north_m), (v.east_m, v.north_m)) for h in highs)
        assert gap < 30.0
    stats = higher.stats()["feeds"]["sapient"]["connections"]["closed_by_reason"]
    assert stats.get("certificate not listed in sapient.clients", 0) >= 2
    assert bad.counters.extra["registered"] == 0 and bad.counters.extra["registrations"] >= 2
    assert bad.counters.dropped >= 10  # what it had to send (2 tracks, 1 s apart), counted


# --- (b) the DMM the conformance vectors describe ---------------------------------------------


def vector(name: str) -> dict[str, Any]:
    return json.loads(  # type: ignore[no-any-return]
        (VECTORS / "simulator_defaults" / "dmm" / name).read_text()
    )


class VectorDmm:
    """A DMM in a thread: answers a Registration with the vectors' RegistrationAck, an Alert
    with their AlertAck, keeps every message it gets (each must pass the ICD validator)."""

    def __init__(self, sock: socket.socket | None = None, ack_registration: bool = True) -> None:
        self.listener = sock or socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.ack_registration = ack_registration
        self.got: list[SapientMessage] = []
        self.invalid: list[str] = []
        self.conn: socket.socket | None = None
        self.connections = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.dmm_id = vector("Default.RegistrationAck.json")["nodeId"]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.conn = conn
            self.connections += 1
            conn.settimeout(0.1)
            while not self._stop.is_set():
                try:
                    body = recv_frame(conn)
                except TimeoutError:
                    continue
                except (ConnectionError, OSError):
                    break
                msg = parse_message(body)
                try:
                    assert validate_reference(msg) == validate(msg)
                except Exception as exc:
                    self.invalid.append(str(exc))
                with self.lock:
                    self.got.append(msg)
                kind = msg.WhichOneof("content")
                # The vectors' answers, addressed to the node that asked (as a DMM would).
                if kind == "registration" and self.ack_registration:
                    ack = vector("Default.RegistrationAck.json")
                    ack["destinationId"] = msg.node_id
                    self.send(json_format.ParseDict(ack, SapientMessage()))
                elif kind == "alert":
                    ack = vector("Default.AlertAck.json")
                    ack["alertAck"]["alertId"] = msg.alert.alert_id
                    ack["destinationId"] = msg.node_id
                    self.send(json_format.ParseDict(ack, SapientMessage()))
            conn.close()
            self.conn = None

    def send(self, msg: SapientMessage) -> None:
        body = msg.SerializeToString()
        assert self.conn is not None
        self.conn.sendall(struct.pack("<I", len(body)) + body)

    def kinds(self) -> list[str]:
        with self.lock:
            return [str(m.WhichOneof("content")) for m in self.got]

    def wait_for(self, cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            assert time.monotonic() < deadline, f"not in time; got {self.kinds()[-20:]}"
            time.sleep(0.005)

    def acks_for(self, task_id: str) -> list[tuple[str, str]]:
        with self.lock:
            return [
                (json_format.MessageToDict(m.task_ack)["taskStatus"], " ".join(m.task_ack.reason))
                for m in self.got
                if m.WhichOneof("content") == "task_ack" and m.task_ack.task_id == task_id
            ]

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.listener.close()


@pytest.fixture
def dmm() -> Iterator[VectorDmm]:
    server = VectorDmm()
    yield server
    server.close()


# What a fusion node answers to each of the vector DMM's tasks (all carry the same one-point
# UTM "Car Park" region, which only the tasks that take a region must read).
EXPECTED = {
    "Default.Task.Request.Status.json": ["TASK_STATUS_ACCEPTED", "TASK_STATUS_COMPLETED"],
    "Default.Task.Request.Registration.json": ["TASK_STATUS_ACCEPTED", "TASK_STATUS_COMPLETED"],
    "Default.Task.Request.Reset.json": ["TASK_STATUS_ACCEPTED", "TASK_STATUS_COMPLETED"],
    "Default.Task.Request.Stop.json": ["TASK_STATUS_ACCEPTED"],
    "Default.Task.Request.Start.json": ["TASK_STATUS_REJECTED"],  # region: one point
    "Default.Task.DetectionReportRate.High.json": ["TASK_STATUS_REJECTED"],  # same region
    "Default.Task.Mode.json": ["TASK_STATUS_REJECTED"],  # no mode "REQUEST"
    "Default.Task.DetectionThreshold.Low.json": ["TASK_STATUS_REJECTED"],
    "Default.Task.ClassificationThreshold.High.json": ["TASK_STATUS_REJECTED"],
    "Default.Task.LookAt.json": ["TASK_STATUS_REJECTED"],
    "Default.Task.MoveTo.json": ["TASK_STATUS_REJECTED"],
    "Default.Task.Patrol.json": ["TASK_STATUS_REJECTED"],
    "Default.Task.Follow.json": ["TASK_STATUS_REJECTED"],
}


def test_the_vector_dmm_gets_valid_messages_and_a_task_ack_for_every_task(dmm):
    """Against the DMM the conformance vectors imply (its RegistrationAck, Tasks, AlertAck):
    Luchtwacht registers as the vectors' destination node, then every vector Task gets the
    TaskAck a fusion node owes it, refusals with their reason; a Start with a real polygon is
    honoured (only tracks inside are reported) and Stop silences the reports."""
    node_id = vector("Default.RegistrationAck.json")["destinationId"]
    t0 = time.time()
    pub, sub = publisher(
        SapientUpConfig(
            name="vec",
            connect=f"127.0.0.1:{dmm.port}",
            transport="tcp",
            node_id=node_id,
            min_interval_s=0.0,
            status_interval_s=60.0,
        ),
        node_id,
    )
    pub.start()
    try:
        dmm.wait_for(lambda: pub.counters.extra["registered"] == 1)
        reg = next(m for m in dmm.got if m.WhichOneof("content") == "registration")
        assert reg.registration.node_definition[0].node_type == FUSION_NODE
        t = time.time()
        sub.offer(update(1, t, flying(t, t0), changes=(alert_change(t, "raised", 1),)))
        dmm.wait_for(lambda: pub.counters.extra.get("alert_acks_accepted", 0) == 1)
        assert dmm.kinds().count("detection_report") >= 2
        dr = next(m for m in dmm.got if m.WhichOneof("content") == "detection_report")
        assert dr.destination_id == dmm.dmm_id and dr.node_id == node_id
        for name, statuses in EXPECTED.items():
            task = json_format.ParseDict(vector(name), SapientMessage())
            task.task.task_id = new_ulid(time.time(), RNG)
            dmm.send(task)
            dmm.wait_for(lambda: len(dmm.acks_for(task.task.task_id)) == len(statuses))  # noqa: B023
            acks = dmm.acks_for(task.task.task_id)
            assert [s for s, _ in acks] == statuses, (name, acks)
            if statuses == ["TASK_STATUS_REJECTED"]:
                assert acks[0][1], f"{name}: refused without a reason"
        n = dmm.kinds().count("detection_report")  # the Stop vector left reporting off
        t = time.time()
        sub.offer(update(2, t, flying(t, t0), prev=frozenset({1, 2})))
        time.sleep(0.3)
        assert dmm.kinds().count("detection_report") == n  # stopped: nothing reported
        # A Start built like the vectors, with a real polygon round track 2 only.
        poly = [ORIGIN.to_geodetic(np.array([e, nn, 0.0])) for e, nn in
                ((-1200, -1600), (-600, -1600), (-600, -600), (-1200, -600))]  # fmt: skip
        start = vector("Default.Task.Request.Start.json")
        region = start["task"]["region"][0]
        region["regionArea"]["locationList"]["locations"] = [
            {"x": float(p[1]), "y": float(p[0]), "z": 0.0,
             "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
             "datum": "LOCATION_DATUM_WGS84_E"} for p in poly
        ]  # fmt: skip
        region["classFilter"], region["behaviourFilter"] = [], []
        task = json_format.ParseDict(start, SapientMessage())
        task.task.task_id = new_ulid(time.time(), RNG)
        dmm.send(task)
        dmm.wait_for(lambda: dmm.acks_for(task.task.task_id) == [("TASK_STATUS_ACCEPTED", "")])
        t = time.time()
        sub.offer(update(3, t, flying(t, t0), prev=frozenset({1, 2})))
        dmm.wait_for(lambda: dmm.kinds().count("detection_report") > n)
        time.sleep(0.2)
        with dmm.lock:
            later = [m for m in dmm.got[-10:] if m.WhichOneof("content") == "detection_report"]
        ids = {
            i.value for m in later for i in m.detection_report.object_info if i.type == "TrackId"
        }
        assert ids == {"2"}  # track 1 is outside the area of interest
        # The status the vectors' "Request: Status" asked for came, and says what it is.
        reports = [m for m in dmm.got if m.WhichOneof("content") == "status_report"]
        assert reports and reports[-1].status_report.mode == "Default"
        assert len(reports[-1].status_report.coverage) == len(SCENARIO.zones)
        pub.stop()
        dmm.wait_for(lambda: dmm.got[-1].status_report.system == GOODBYE)  # said on stop
    finally:
        pub.stop()
    assert dmm.invalid == []  # every message it sent passed the ICD validator
    assert dmm.kinds().count("registration") == 2  # the first, and the one asked for


# --- (c) the DMM goes away --------------------------------------------------------------------


def test_a_dmm_that_disappears_costs_counted_drops_and_is_registered_with_again():
    """The DMM goes down: the publisher drops what it cannot send (counted), offering never
    waits, it retries with backoff, and when the DMM is back it registers again and the tracks
    flow (all of them at once)."""
    first = VectorDmm()
    port = first.port
    pub, sub = publisher(
        SapientUpConfig(
            name="gone",
            connect=f"127.0.0.1:{port}",
            transport="tcp",
            min_interval_s=0.0,
            reconnect_first_s=0.05,
            reconnect_max_s=0.2,
        )
    )
    t0 = time.time()
    pub.start()
    try:
        first.wait_for(lambda: pub.counters.extra["registered"] == 1)
        t = time.time()
        sub.offer(update(1, t, flying(t, t0)))
        first.wait_for(lambda: first.kinds().count("detection_report") == 2)
        first.close()  # the DMM is gone: listener and connection closed
        assert first.thread.is_alive() is False
        for k in range(2, 40):
            t = time.time()
            sub.offer(update(k, t, flying(t, t0), prev=frozenset({1, 2})))
            time.sleep(0.02)
        assert sub.offered == 39  # the node's side: every offer returned at once
        assert pub.counters.connected is False
        assert pub.counters.dropped >= 20 and pub.counters.extra["connect_failures"] >= 2
        back = VectorDmm(socket.create_server(("127.0.0.1", port)))
        try:
            back.wait_for(lambda: pub.counters.extra["registered"] == 1)
            t = time.time()
            sub.offer(update(40, t, flying(t, t0), prev=frozenset({1, 2})))
            back.wait_for(lambda: back.kinds().count("detection_report") >= 2)
            assert back.kinds()[0] == "registration" and back.invalid == []
        finally:
            pub.stop()
            back.close()
    finally:
        pub.stop()
    assert pub.counters.reconnects == 1 and pub.counters.errors == 0


def test_a_dmm_that_stops_reading_is_cut_off_and_the_publisher_goes_on():
    """A DMM that acks the registration and then reads nothing: the bounded queue fills, the
    overflow is dropped and counted, and after the write timeout the connection is cut."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        held.append(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        recv_frame(conn)  # the Registration; nothing is read after it
        ack = json_format.ParseDict(vector("Default.RegistrationAck.json"), SapientMessage())
        ack.destination_id = OUR_ID
        body = ack.SerializeToString()
        conn.sendall(struct.pack("<I", len(body)) + body)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    pub, sub = publisher(
        SapientUpConfig(
            name="deaf",
            connect=f"127.0.0.1:{port}",
            transport="tcp",
            min_interval_s=0.0,
            write_timeout_s=0.5,
            max_queued_bytes=8192,
            reconnect_first_s=5.0,
            reconnect_max_s=5.0,
        )
    )
    pub.start()
    try:
        deadline = time.monotonic() + 10
        while pub.counters.extra["registered"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        many = tuple(view(i, time.time(), (10.0 * i, 0.0, 100.0)) for i in range(1, 400))
        k = 0
        while pub.counters.extra["connections_lost"] == 0:
            assert time.monotonic() < deadline + 10
            k += 1
            sub.offer(update(k, time.time(), many))
            time.sleep(0.05)
        assert pub.counters.extra["queue_full"] > 0 and pub.counters.dropped > 0
        assert pub.counters.connected is False and pub._thread.is_alive()
    finally:
        pub.stop()
        for c in held:
            c.close()
        listener.close()


# --- (d) odd values still make valid messages ------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
labels = st.sampled_from(["drone", "bird", "aircraft", "clutter", "unknown"])
texts = st.none() | st.text(max_size=30)


@st.composite
def odd_views(draw: st.DrawFn) -> TrackView:
    return TrackView(
        track_id=draw(st.integers(0, 2**62)),
        t_s=draw(st.floats(1e9, 4e9) | st.floats(-1e12, 1e13)),
        lat_deg=draw(st.floats(-90.0, 90.0)),
        lon_deg=draw(st.floats(-180.0, 180.0) | st.floats(-1e4, 1e4)),
        alt_m=draw(st.floats(-1e4, 1e7)),
        east_m=draw(st.floats(-1e7, 1e7)),
        north_m=draw(st.floats(-1e7, 1e7)),
        up_m=draw(st.floats(-1e4, 1e7)),
        speed_ms=draw(st.floats(0.0, 1e6)),
        heading_deg=draw(st.floats(-1e4, 1e4)),
        climb_ms=draw(st.floats(-1e5, 1e5)),
        object_class=draw(labels),
        class_prob=draw(st.floats(0.0, 1.0)),
        cooperative=draw(st.booleans()),
        uas_id=draw(texts),
        threat=draw(st.sampled_from(list(ThreatLevel))),
        zones_inside=tuple(draw(st.lists(st.text(max_size=10), max_size=3))),
        time_to_breach_s=draw(st.none() | st.floats(0.0, 1e9)),
        pos_std_m=draw(st.floats(0.0, 1e7)),
        icao=draw(texts),
        rf_protocol=draw(texts),
        rf_serial=draw(texts),
        own_asset=draw(texts),
        ellipse_m=draw(st.none() | st.tuples(st.floats(0, 1e7), st.floats(0, 1e7), finite)),
        class_probs=tuple(draw(st.lists(st.tuples(labels, st.floats(0.0, 1.0)), max_size=5))),
        alt_std_m=draw(st.none() | st.floats(0.0, 1e7)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=odd_views(), kind=st.sampled_from(["raised", "escalated", "cleared"]))
def test_odd_track_values_still_make_icd_valid_messages(v: TrackView, kind: str) -> None:
    dmm = "a8654cdf-4328-47de-81fa-c495589e30c9"
    oid = new_ulid(v.t_s, RNG)
    for state in ("tracked", "lost"):
        msg = detection_report(v, oid, new_ulid(v.t_s, RNG), OUR_ID, dmm, v.t_s, state=state)
        assert msg is not None
        assert validate_reference(msg) == validate(msg) == "detection_report"
        assert parse_message(msg.SerializeToString()) == msg
    change = alert_change(v.t_s, kind, v.track_id)
    alert = alert_message(change, new_ulid(v.t_s, RNG), OUR_ID, dmm, v, oid)
    assert validate_reference(alert) == "alert"
    node = NodeSnapshot("6f582b41-6c88-481c-bb0f-6021a1739f57", v.uas_id, ("NODE_TYPE_RADAR",),
                        True, True, v.lat_deg, v.lon_deg, None, (), v.alt_m,
                        v.pos_std_m or None)  # fmt: skip
    feeds = (FeedSnapshot("s1", v.rf_serial or "", "sapient", "lost", 1, 0),)
    u = update(1, v.t_s, (v,), feeds=feeds)
    sr = status_report(
        OUR_ID,
        dmm,
        v.t_s,
        new_ulid(v.t_s, RNG),
        state=health(u, 0),
        mode="Default",
        new=True,
        origin=ORIGIN,
        coverage=coverage_polygons([node], ORIGIN, SCENARIO.zones, v.t_s),
    )
    assert validate_reference(sr) == "status_report"
    reg = registration_message(OUR_ID, v.t_s, name=v.rf_protocol or "x", status_interval_s=5.0,
                               min_interval_s=0.0, sensor_nodes=[node],
                               max_range_m=v.pos_std_m)  # fmt: skip
    assert validate_reference(reg) == "registration"


def test_a_task_region_is_read_in_any_coordinate_system_and_refused_when_not_an_area():
    """Areas of interest in degrees and UTM are honoured; a cone or two points are refused."""
    corners = [(-500.0, -500.0), (500.0, -500.0), (500.0, 500.0), (-500.0, 500.0)]
    geo = [ORIGIN.to_geodetic(np.array([e, n, 0.0])) for e, n in corners]
    from luchtwacht.geo.utm import geodetic_to_utm

    def task(locations: list[dict[str, Any]], kind: str = "REGION_TYPE_AREA_OF_INTEREST") -> Task:
        region = {"type": kind, "regionId": new_ulid(time.time(), RNG), "regionName": "base",
                  "regionArea": {"locationList": {"locations": locations}}}  # fmt: skip
        return task_message({"request": "Start"}, region=[region]).task

    deg = [{"x": float(p[1]), "y": float(p[0]), "z": 0.0,
            "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
            "datum": "LOCATION_DATUM_WGS84_E"} for p in geo]  # fmt: skip
    zone = "31U"
    e, n = geodetic_to_utm(np.array([p[0] for p in geo]), np.array([p[1] for p in geo]), zone)
    utm = [{"x": float(x), "y": float(y), "z": 0.0, "utmZone": zone,
            "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_UTM_M",
            "datum": "LOCATION_DATUM_WGS84_E"} for x, y in zip(e, n, strict=True)]  # fmt: skip
    inside, outside = view(1, 0.0, (100.0, 100.0, 50.0)), view(2, 0.0, (900.0, 0.0, 50.0))
    for locs in (deg, utm):
        d = decide_task(task(locs), Tasking(), ORIGIN)
        assert d.status == 1 and d.tasking is not None  # TASK_STATUS_ACCEPTED
        assert d.tasking.wanted(inside) and not d.tasking.wanted(outside)
        ignore = decide_task(task(locs, "REGION_TYPE_IGNORE"), Tasking(), ORIGIN).tasking
        assert ignore is not None and not ignore.wanted(inside) and ignore.wanted(outside)
    refused = decide_task(task(deg[:2]), Tasking(), ORIGIN)
    assert refused.status == 2 and "at least 3" in refused.reason
    boundary = decide_task(task(deg, "REGION_TYPE_BOUNDARY"), Tasking(), ORIGIN)
    assert boundary.status == 2 and "not supported" in boundary.reason


def test_settings_are_checked_when_read_and_missing_certificates_cost_one_line(tmp_path, caplog):
    with pytest.raises(ValidationError, match="cert, key and ca"):
        SapientUpConfig(name="x", connect="dmm:5020")
    with pytest.raises(ValidationError, match="not a UUID"):
        SapientUpConfig(name="x", connect="dmm:5020", transport="tcp", node_id="radar-1")
    with pytest.raises(ValidationError, match="HOST:PORT"):
        SapientUpConfig(name="x", connect="dmm", transport="tcp")
    with pytest.raises(ValidationError, match="extra"):
        SapientUpConfig(name="x", connect="dmm:5020", transport="tcp", rate=1)  # type: ignore[call-arg]
    # Certificate files that are not there: counted, one line, the publisher goes on.
    listener = socket.create_server(("127.0.0.1", 0))
    missing = tmp_path / "nope"
    pub, sub = publisher(
        SapientUpConfig(
            name="nocert",
            connect=f"127.0.0.1:{listener.getsockname()[1]}",
            cert=missing / "a.crt",
            key=missing / "a.key",
            ca=missing / "ca.crt",
            reconnect_first_s=0.05,
            reconnect_max_s=0.1,
        )
    )
    pub.start()
    try:
        deadline = time.monotonic() + 10
        while pub.counters.extra["connect_failures"] < 2:
            assert time.monotonic() < deadline
            sub.offer(update(1, time.time(), (view(1, time.time(), (0.0, 0.0, 50.0)),)))
            time.sleep(0.02)
    finally:
        pub.stop()
        listener.close()
    assert pub.counters.errors == 0 and pub.counters.dropped >= 1
    lines = [r.getMessage() for r in caplog.records if "nocert" in r.getMessage()]
    assert len(lines) == 1 and "cannot connect" in lines[0] and "Traceback" not in lines[0]


class _Bits:
    """A stand-in for the numpy generator ``new_ulid`` draws from: given bits, as bytes."""

    def __init__(self, value: int) -> None:
        self.value = value

    def bytes(self, n: int) -> bytes:
        return self.value.to_bytes(n, "big")


@given(t_s=st.floats(0.0, 1e13), seed=st.integers(0, 2**32))
def test_the_publishers_ulids_are_the_codecs_ulids(t_s: float, seed: int) -> None:
    bits = random.Random(seed).getrandbits(80)
    assert fast_ulid(t_s, random.Random(seed)) == new_ulid(t_s, _Bits(bits))  # type: ignore[arg-type]


def test_coverage_is_what_live_sensors_declared_else_the_protected_zones():
    radar_enu = np.array([2000.0, -1000.0, 10.0])
    lat, lon, alt = (float(x) for x in ORIGIN.to_geodetic(radar_enu))
    radar = NodeSnapshot("6f582b41-6c88-481c-bb0f-6021a1739f57", "radar", ("NODE_TYPE_RADAR",),
                         True, False, lat, lon, "Default", (), alt, 10_000.0,
                         last_status_t_s=1000.0)  # fmt: skip
    (ring,) = coverage_polygons([radar], ORIGIN, SCENARIO.zones, t_s=1030.0)
    pts = ORIGIN.to_enu(*(np.array(c) for c in zip(*ring, strict=True)))
    assert len(ring) == 24
    assert np.allclose(np.hypot(*(pts[:, :2] - radar_enu[:2]).T), 10_000.0, rtol=1e-3)
    # Not heard for a minute and not connected: it covers nothing; the zones are what is watched.
    zones = coverage_polygons([radar], ORIGIN, SCENARIO.zones, t_s=1100.0)
    assert [[(p[0], p[1]) for p in z] for z in zones] == [
        list(z.vertices_deg) for z in SCENARIO.zones
    ]
