"""Cueing a pan-tilt camera: SAPIENT Tasks from the fusion node, TaskAcks and slewing from the
camera, and the closed loop that turns a radar track into a camera look."""

import dataclasses
import math

import numpy as np
import pytest
from google.protobuf import json_format
from sapient_msg.bsi_flex_335_v2_0 import range_bearing_pb2, registration_pb2

from luchtwacht.ingest.sapient import SapientMessage, SapientPipe, frame, split_frames, validate
from luchtwacht.model.detection import ObjectClass
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.bearing_sensor import BearingSensorConfig, BearingSensorSim
from luchtwacht.sim.radar import RadarConfig
from luchtwacht.sim.scenario import Scenario
from luchtwacht.sim.targets import Target, WaypointPath
from luchtwacht.store.recorder import Recorder
from luchtwacht.threat.cueing import CuedCamera, Cueing
from tests.sim.test_bearing_sensors import EPOCH, ORIGIN, _lla

CAM = "7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b04"
RADAR = "4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c"


def camera(slew=30.0, centre=0.0, width=10.0, **kw):
    cfg = BearingSensorConfig.camera(CAM, *_lla(0.0, 0.0, 10.0))
    return dataclasses.replace(
        cfg, slew_rate_deg_s=slew, fov_centre_deg=centre, fov_width_deg=width, **kw
    )


def look_at(e, n, u, control="CONTROL_START", to=CAM):
    lat, lon, alt = _lla(e, n, u)
    loc = {
        "x": lon, "y": lat, "z": alt, "xError": 1e-4, "yError": 1e-4, "zError": 10.0,
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }  # fmt: skip
    body = {
        "timestamp": "2026-06-12T21:30:00Z",
        "nodeId": "6c7a1f0e-2b1d-4c5e-9f3a-7e8d9c0b1a2f",
        "destinationId": to,
        "task": {
            "taskId": "01J0000000000000000000000A",
            "control": control,
            "command": {"lookAt": {"locationList": {"locations": [loc]}}},
        },
    }
    msg = json_format.ParseDict(body, SapientMessage())
    validate(msg)
    return frame(msg)


def acks(data):
    out = []
    for body in split_frames(b"".join(data)) or []:
        msg = SapientMessage()
        msg.ParseFromString(body)
        validate(msg)
        out.append(msg.task_ack)
    return out


# --- the camera ----------------------------------------------------------------------------------


def test_a_pan_tilt_camera_registers_look_at_and_slews_at_its_rate():
    sim = BearingSensorSim(camera(slew=30.0, centre=0.0), ORIGIN, EPOCH, 1)
    reg = sim.registration(0.0)
    validate(reg)
    (cmd,) = reg.registration.mode_definition[0].task.command
    assert cmd.type == registration_pb2.Registration.COMMAND_TYPE_LOOK_AT
    # Told at t = 2 s to look due east (90°): it turns 30°/s, so it points there at t = 5 s.
    (ack,) = acks(sim.handle(2.0, look_at(1000.0, 0.0, 50.0)))
    assert json_format.MessageToDict(ack)["taskStatus"] == "TASK_STATUS_ACCEPTED"
    assert math.isclose(sim.look_deg or 0.0, 90.0, abs_tol=0.01)
    assert math.isclose(sim.point(3.0), 30.0, abs_tol=1e-9)
    assert math.isclose(sim.point(4.0), 60.0, abs_tol=1e-9)
    assert math.isclose(sim.point(10.0), 90.0, abs_tol=0.01)  # there, and held
    # The short way round: from 90° to 300° is 150° anticlockwise.
    sim.handle(10.0, look_at(-866.0, 500.0, 50.0))
    assert math.isclose(sim.point(11.0), 60.0, abs_tol=0.01)
    # STOP holds the view where it is.
    (ack,) = acks(sim.handle(11.0, look_at(0.0, 1000.0, 50.0, control="CONTROL_STOP")))
    assert json_format.MessageToDict(ack)["taskStatus"] == "TASK_STATUS_ACCEPTED"
    assert math.isclose(sim.point(20.0), 60.0, abs_tol=0.01)


def test_the_camera_sees_a_drone_only_once_pointed_at_it():
    drone = Target(
        "d",
        ObjectClass.DRONE,
        0.02,
        WaypointPath(((800.0, 0.0, 60.0), (800.0, 10.0, 60.0)), (1.0,)),
    )
    sim = BearingSensorSim(camera(slew=45.0, pd=1.0, false_alarms_per_scan=0.0), ORIGIN, EPOCH, 1)
    assert kinds(sim.scan(0.0, [drone])) == ["registration", "status_report"]  # looking north
    sim.handle(0.5, look_at(800.0, 0.0, 60.0))
    assert kinds(sim.scan(1.0, [drone])) == ["status_report"]  # turned 22.5°: says so, sees nothing
    assert kinds(sim.scan(3.0, [drone])) == ["status_report", "detection_report"]  # in view


def kinds(data):
    """The message kinds of framed SAPIENT messages, in order."""
    out = []
    for body in split_frames(b"".join(data)) or []:
        msg = SapientMessage()
        msg.ParseFromString(body)
        validate(msg)
        out.append(msg.WhichOneof("content"))
    return out


def test_a_turning_camera_reports_where_it_looks_and_the_node_shows_it():
    """Its StatusReport's field of view follows the pan head; the picture's node carries it."""
    sim = BearingSensorSim(camera(slew=30.0, centre=0.0), ORIGIN, EPOCH, 1)
    pipe = SapientPipe("camera-1", ORIGIN)
    pipe.feed(b"".join(sim.scan(0.0, [])))
    (node,) = pipe.nodes.values()
    assert node.fov is not None and node.fov[0] == pytest.approx(0.0)
    assert node.fov[1] == sim.bcfg.fov_width_deg and node.fov[2] == sim.bcfg.max_range_m
    sim.handle(0.0, look_at(1000.0, 0.0, 50.0))  # due east
    for t in (1.0, 2.0, 3.0, 4.0):
        pipe.feed(b"".join(sim.scan(t, [])))
    assert node.fov[0] == pytest.approx(90.0, abs=0.01)
    # A view given in kilometres is read in metres; a magnetic bearing is not drawn.
    msg = sim.status_report(5.0)
    cone = msg.status_report.field_of_view.range_bearing
    cone.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM
    cone.range = 2.5
    pipe.feed(frame(msg))
    assert node.fov == pytest.approx((90.0, sim.bcfg.fov_width_deg, 2500.0))
    cone.datum = range_bearing_pb2.RANGE_BEARING_DATUM_MAGNETIC
    pipe.feed(frame(msg))
    assert node.fov is None


@pytest.mark.parametrize(
    ("cfg", "data", "reason"),
    [
        (camera(slew=0.0), look_at(100.0, 0.0, 10.0), "fixed camera"),
        (camera(), look_at(100.0, 0.0, 10.0, control="CONTROL_PAUSE"), "only a started look_at"),
    ],
)
def test_tasks_a_camera_cannot_do_are_rejected_with_the_reason(cfg, data, reason):
    sim = BearingSensorSim(cfg, ORIGIN, EPOCH, 1)
    (ack,) = acks(sim.handle(0.0, data))
    doc = json_format.MessageToDict(ack)
    assert doc["taskStatus"] == "TASK_STATUS_REJECTED" and reason in doc["reason"][0]
    assert sim.look_deg is None


def test_the_icd_conformance_look_at_tasks_are_answered(shared):
    # The SAPIENT conformance vectors: a look-at by range/bearing (azimuth 1°) is carried out; the
    # one by a UTM location without its zone cannot be placed and is rejected, saying why.
    valid = shared.dir("data", "sapient", "valid")
    answers = {}
    for name in ("Task.FullMessage.LookAt.RangeBearing.json", "Task.FullMessage.LookAt.json"):
        msg = json_format.Parse((valid / name).read_text(encoding="utf-8-sig"), SapientMessage())
        sim = BearingSensorSim(
            dataclasses.replace(camera(), node_id=msg.destination_id), ORIGIN, EPOCH, 1
        )
        (ack,) = acks(sim.handle(0.0, frame(msg)))
        assert ack.task_id == msg.task.task_id
        answers[name] = (json_format.MessageToDict(ack), sim.look_deg)
    doc, look = answers["Task.FullMessage.LookAt.RangeBearing.json"]
    assert doc["taskStatus"] == "TASK_STATUS_ACCEPTED" and look == 1.0
    doc, look = answers["Task.FullMessage.LookAt.json"]
    assert doc["taskStatus"] == "TASK_STATUS_REJECTED" and look is None
    assert "LOCATION_COORDINATE_SYSTEM_UTM_M" in doc["reason"][0]


def test_other_nodes_tasks_and_garbage_are_ignored():
    sim = BearingSensorSim(camera(), ORIGIN, EPOCH, 1)
    assert sim.handle(0.0, look_at(100.0, 0.0, 10.0, to=RADAR)) == []
    assert sim.handle(0.0, b"\x05\x00\x00\x00junk!") == []
    assert sim.handle(0.0, b"\xff\xff") == []
    assert sim.look_deg is None


# --- choosing the track --------------------------------------------------------------------------


def view(tid, e, n, threat=ThreatLevel.MEDIUM, sensors=("radar-1",), ttb=None, coop=False):
    return TrackView(
        track_id=tid, t_s=0.0, lat_deg=0.0, lon_deg=0.0, alt_m=50.0, east_m=e, north_m=n,
        up_m=50.0, speed_ms=10.0, heading_deg=0.0, climb_ms=0.0, object_class="drone",
        class_prob=0.9, cooperative=coop, uas_id=None, threat=threat, zones_inside=(),
        time_to_breach_s=ttb, pos_std_m=10.0, sensors=sensors,
    )  # fmt: skip


def test_the_most_urgent_unseen_track_in_reach_is_chosen():
    cam = CuedCamera(CAM, "camera-1", (0.0, 0.0, 10.0), 1500.0)
    cue = Cueing("fusion", cameras=[cam])
    views = [
        view(1, 3000.0, 0.0, ThreatLevel.CRITICAL),  # out of reach
        view(2, 500.0, 0.0, ThreatLevel.HIGH, coop=True),  # cooperative: no look needed
        view(3, 900.0, 0.0, ThreatLevel.HIGH, sensors=("radar-1", "camera-1")),  # seen
        view(4, 1200.0, 0.0, ThreatLevel.HIGH, ttb=80.0),
        view(5, 1000.0, 0.0, ThreatLevel.HIGH, ttb=30.0),  # breaches first
        view(6, 200.0, 0.0, ThreatLevel.LOW),
    ]
    chosen = cue.choose(cam, views, 0.0)
    assert chosen is not None and chosen.track_id == 5
    assert cue.choose(cam, [views[0], views[1]], 0.0) is None


def test_a_camera_dwells_then_moves_on_but_a_higher_threat_takes_it_at_once():
    cam = CuedCamera(CAM, "camera-1", (0.0, 0.0, 10.0), 1500.0)
    cue = Cueing("fusion", min_dwell_s=5.0, cameras=[cam])
    a, b = view(1, 500.0, 0.0, ttb=60.0), view(2, 600.0, 0.0, ttb=20.0)
    assert [m.task.task_name for _, m in cue.tasks(100.0, [a])] == ["look at track 1"]

    # Track 2 is more urgent at the same level: the camera finishes its look at track 1 first.
    def chosen(views, t):
        v = cue.choose(cam, views, t)
        return None if v is None else v.track_id

    assert chosen([a, b], 102.0) == 1
    assert chosen([a, b], 106.0) == 1  # dwell over, but not yet seen
    a_seen = dataclasses.replace(a, sensors=("radar-1", "camera-1"))
    assert chosen([a_seen, b], 106.0) == 2
    crit = view(3, 700.0, 0.0, ThreatLevel.CRITICAL)
    assert chosen([a, b, crit], 101.0) == 3


def test_an_operator_pins_a_camera_to_a_track_until_the_pin_runs_out_or_the_track_is_lost():
    cam = CuedCamera(CAM, "camera-1", (0.0, 0.0, 10.0), 1500.0)
    cue = Cueing("fusion", cameras=[cam], pin_s=30.0)
    low, urgent = view(1, 800.0, 0.0, ThreatLevel.LOW), view(2, 500.0, 0.0, ThreatLevel.HIGH)

    def chosen(views: list[TrackView], t: float) -> int | None:
        v = cue.choose(cam, views, t)
        return None if v is None else v.track_id

    assert chosen([low, urgent], 0.0) == 2
    cue.pin(CAM, 1, 10.0)
    assert chosen([low, urgent], 11.0) == 1  # the operator's choice wins …
    assert chosen([low, urgent], 41.0) == 2  # … for 30 s
    cue.pin(CAM, 1, 50.0)
    assert chosen([urgent], 51.0) == 2  # the pinned track is gone: the pin is dropped
    assert chosen([low, urgent], 52.0) == 2


def test_a_cue_command_points_the_simulated_camera_at_the_chosen_track(tmp_path):
    """Through the node's command port: role-checked, applied, and the camera is tasked."""
    import sqlite3

    from luchtwacht.counter.authority import Authority, OperatorAccount, hash_password
    from luchtwacht.node import Command, CommandKind

    rec = Recorder(tmp_path / "cue.db")
    p = Pipeline(loop_scenario(40.0), recorder=rec)
    p.authority = Authority(
        [OperatorAccount("ops", "operator", hash_password("pw", n=2**10))], audit=rec.audit
    )
    while not p.views:
        p.run(1.0)
    token = p.authority.authenticate("ops", "pw", p.now_s).token
    track = p.views[0].track_id
    bad = p.submit(Command(CommandKind.CUE, token, track, camera="no-such-camera"))
    good = p.submit(Command(CommandKind.CUE, token, track, camera=CAM))
    p.run(1.0)
    assert bad.applied and not bad.ok and "no camera" in bad.error
    assert good.ok and good.operator == "ops"
    rec.commit()
    rows = (
        sqlite3.connect(rec.path)
        .execute("SELECT payload FROM audit WHERE kind = 'cue.task' ORDER BY seq DESC LIMIT 1")
        .fetchall()
    )
    assert f'"track_id":{track}' in rows[0][0]
    rec.close()


def test_tasks_are_valid_sapient_and_stop_when_nothing_is_left():
    cam = CuedCamera(CAM, "camera-1", (0.0, 0.0, 10.0), 1500.0)
    cue = Cueing("6c7a1f0e-2b1d-4c5e-9f3a-7e8d9c0b1a2f", cameras=[cam])
    v = dataclasses.replace(view(7, 500.0, 0.0), lat_deg=51.66, lon_deg=5.72, alt_m=120.0)
    ((c, msg),) = cue.tasks(1_781_299_800.0, [v])
    validate(msg)
    assert msg.destination_id == CAM and c is cam
    (loc,) = msg.task.command.look_at.location_list.locations
    assert (loc.y, loc.x, loc.z) == (51.66, 5.72, 120.0)
    ((_, stop),) = cue.tasks(1_781_299_801.0, [])
    validate(stop)
    assert stop.task.control == stop.task.CONTROL_STOP
    assert cue.tasks(1_781_299_802.0, []) == []  # one STOP, then silence


# --- the closed loop -----------------------------------------------------------------------------


def loop_scenario(slew):
    lat, lon, alt = _lla(-200.0, 0.0, 10.0)
    radar = RadarConfig(RADAR, lat, lon, alt, name="radar")
    # A narrow camera looking west while a drone comes in from the east.
    cam = camera(slew=slew, centre=270.0, width=8.0)
    tgt = Target(
        "drone", ObjectClass.DRONE, 0.02,
        WaypointPath(((1400.0, 300.0, 80.0), (300.0, 100.0, 60.0)), (10.0,)), "intruder",
    )  # fmt: skip
    return Scenario("cue", ORIGIN, (), (radar,), (), (tgt,), 60.0, EPOCH, 3, (cam,))


def test_a_radar_track_cues_the_camera_which_then_sees_and_classifies_it(tmp_path):
    rec = Recorder(tmp_path / "run.db")
    fixed, cued = Pipeline(loop_scenario(0.0)), Pipeline(loop_scenario(40.0), recorder=rec)
    fixed.run(60.0)
    cued.run(60.0)
    assert fixed.views and all("camera-1" not in v.sensors for v in fixed.views)
    (v,) = [v for v in cued.views if v.object_class == "drone"]
    assert "camera-1" in v.sensors and "radar-1" in v.sensors
    pipe = cued.feeds["camera-1"].pipe
    assert isinstance(pipe, SapientPipe)
    (node,) = [cued.sapient_nodes()[n] for n in pipe.node_ids_here]
    assert cued.node_feed[node.node_id] == "camera-1"  # found from its registration
    statuses = set(node.task_acks.values())
    assert statuses == {"TASK_STATUS_ACCEPTED"} and len(node.task_acks) >= 30  # one per cycle
    assert pipe.counters.rejected == 0
    rows = rec.db.execute("SELECT payload FROM audit WHERE kind = 'cue.task'").fetchall()
    # The same audit records as the live node writes for the same step (tests/test_runtime.py).
    (sent,) = rec.db.execute(
        "SELECT count(*) FROM audit WHERE kind = 'sapient.task.sent'"
        ' AND payload LIKE \'%"feed":"camera-1"%\''
    ).fetchone()
    assert sent == len(rows)
    assert rows and all(str(v.track_id) in r[0] or "stop" in r[0] for r in rows)
    rec.close()
    assert np.isfinite(cued.cameras_sim["camera-1"].pointing_deg)
