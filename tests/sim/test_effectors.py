"""Simulated effectors: SAPIENT effector nodes, their Tasks and TaskAcks, and their effects."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from google.protobuf import json_format

from luchtwacht.counter.catalogue import DEFAULTS, EffectorKind, EffectorSpec
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    DEFAULT_FUSION_NODE_ID,
    SapientMessage,
    SapientPipe,
    frame,
    split_frames,
)
from luchtwacht.ingest.sapient_rules import validate
from luchtwacht.model.detection import ObjectClass
from luchtwacht.sim.effectors import ACQUIRE_M, RELOAD_S, EffectorSim
from luchtwacht.sim.effects import Countered, counterable
from luchtwacht.sim.targets import LinkLoss, RfLink, Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_781_299_800.0
NODE = "8c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b01"
OTHER = "8c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b02"
SITE = (0.0, 0.0, 5.0)
KINDS: tuple[EffectorKind, ...] = ("rf_jammer", "gnss_jammer", "net", "interceptor", "hard_kill")
_ids = itertools.count(1)


def spec(kind: EffectorKind, **kw: Any) -> EffectorSpec:
    """An effector of ``kind`` at SITE with the catalogue defaults, overridden by ``kw``."""
    params: dict[str, Any] = {**DEFAULTS[kind], **kw}
    return EffectorSpec(f"{kind}-1", NODE, kind, SITE, **params)


def effector(kind: EffectorKind, seed: int = 1, **kw: Any) -> EffectorSim:
    return EffectorSim(spec(kind, **kw), ORIGIN, EPOCH, seed)


# --- Tasks in, TaskAcks out ----------------------------------------------------------------------


def task(
    command: dict[str, object], to: str = NODE, control: str = "CONTROL_START"
) -> SapientMessage:
    """A Task from the fusion node, as CounterUas builds it (and valid by the ICD)."""
    body = {
        "timestamp": "2026-06-12T21:30:00Z",
        "nodeId": DEFAULT_FUSION_NODE_ID,
        "destinationId": to,
        "task": {
            "taskId": f"01J{next(_ids):023d}",
            "taskName": "test",
            "control": control,
            "command": command,
        },
    }
    msg = json_format.ParseDict(body, SapientMessage())
    validate(msg)
    return msg


def look_at(e: float, n: float, u: float) -> dict[str, object]:
    lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array([e, n, u], dtype=float)))
    loc = {
        "x": lon,
        "y": lat,
        "z": alt,
        "xError": 1e-4,
        "yError": 1e-4,
        "zError": 10.0,
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }
    return {"lookAt": {"locationList": {"locations": [loc]}}}


def mode(name: str) -> dict[str, object]:
    return {"modeChange": name}


def replies(data: list[bytes]) -> list[SapientMessage]:
    """The messages an effector sent back, each checked against the ICD."""
    out = []
    for body in split_frames(b"".join(data)) or []:
        msg = SapientMessage()
        msg.ParseFromString(body)
        validate(msg)
        out.append(msg)
    return out


def send(sim: EffectorSim, t_s: float, msg: SapientMessage) -> tuple[str, str]:
    """Send one Task; the (status, reason) of its TaskAck."""
    out = replies(sim.handle(t_s, frame(msg)))
    assert out and out[0].WhichOneof("content") == "task_ack"
    ack = out[0].task_ack
    assert ack.task_id == msg.task.task_id and out[0].node_id == NODE
    doc = json_format.MessageToDict(ack)
    status = str(doc["taskStatus"])
    assert sim.tasks[msg.task.task_id] == status
    return status, str(doc.get("reason", [""])[0])


def engage(sim: EffectorSim, t_s: float, aim: tuple[float, float, float]) -> None:
    assert send(sim, t_s, task(look_at(*aim))) == ("TASK_STATUS_ACCEPTED", "")
    assert send(sim, t_s, task(mode("Engage"))) == ("TASK_STATUS_ACCEPTED", "")
    assert sim.mode == "Engage"


def run(sim: EffectorSim, targets: list[Target], t0: float, t1: float) -> None:
    """Tick the effector every 0.1 s from ``t0`` to ``t1`` (inclusive), as the pipeline does."""
    for k in range(round(t0 * 10), round(t1 * 10) + 1):
        sim.scan(k / 10, targets)


def path_of(tgt: Target) -> Countered:
    assert isinstance(tgt.path, Countered)
    return tgt.path


def hovering(
    name: str,
    e: float,
    n: float,
    u: float = 60.0,
    link_loss: LinkLoss | None = None,
    **kw: Any,
) -> Target:
    """A drone holding still at (e, n, u) from t = 0."""
    path = WaypointPath(((e, n, u),), ())
    return Target(name, ObjectClass.DRONE, 0.02, path, "intruder", link_loss=link_loss, **kw)


def effects(sim: EffectorSim) -> list[tuple[float, str | None, str]]:
    return [(e.t_s, e.target, e.detail) for e in sim.log if e.action == "effect"]


# --- registration and status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "node_type", "magazine"),
    [
        ("rf_jammer", "NODE_TYPE_JAMMER", None),
        ("gnss_jammer", "NODE_TYPE_JAMMER", None),
        ("net", "NODE_TYPE_KINETIC", "Magazine 4"),
        ("interceptor", "NODE_TYPE_KINETIC", "Magazine 2"),
        ("hard_kill", "NODE_TYPE_KINETIC", "Magazine 20"),
    ],
)
def test_registration_and_status_are_valid_and_a_sapient_pipe_takes_them(
    kind: EffectorKind, node_type: str, magazine: str | None
) -> None:
    sim = effector(kind)
    assert validate(sim.registration(0.0)) == "registration"
    assert validate(sim.status_report(0.0)) == "status_report"
    out = sim.scan(0.0, [])
    assert [m.WhichOneof("content") for m in replies(out)] == ["registration", "status_report"]
    pipe = SapientPipe("effector-1", ORIGIN)
    assert pipe.feed(b"".join(out)) == []
    assert pipe.counters.rejected == 0 and pipe.counters.decoded == 2
    node = pipe.nodes[NODE]
    # An interceptor flies: it is a mobile node too (it reports where it is while airborne).
    mobile = ("NODE_TYPE_MOBILE_NODE",) if kind == "interceptor" else ()
    assert node.registered and node.node_types == (node_type, *mobile) and node.look_at
    assert node.mode == "Standby" and node.system == "SYSTEM_OK"
    assert node.lat_deg is not None and node.lon_deg is not None and node.alt_m is not None
    assert math.isclose(node.lat_deg, ORIGIN.lat_deg, abs_tol=1e-7)
    assert math.isclose(node.alt_m, ORIGIN.alt_m + 5.0, abs_tol=0.01)
    values = [s.split(" ", 2)[2] for s in node.status]
    assert values == ([magazine] if magazine else [])
    # Registered once; a status every 5 s.
    assert sim.scan(0.1, []) == []
    assert [m.WhichOneof("content") for m in replies(sim.scan(5.0, []))] == ["status_report"]
    # Engaging: the TaskAcks and the new status go through the pipe too, and say Engage.
    back = sim.handle(1.0, frame(task(look_at(0.0, 500.0, 60.0))))
    back += sim.handle(1.0, frame(task(mode("Engage"))))
    assert [m.WhichOneof("content") for m in replies(back)] == [
        "task_ack",
        "task_ack",
        "status_report",
    ]
    pipe.feed(b"".join(back))
    assert pipe.counters.rejected == 0
    assert node.mode == "Engage"
    assert list(node.task_acks.values()) == ["TASK_STATUS_ACCEPTED"] * 2


def test_the_magazine_in_the_status_counts_down_as_it_fires() -> None:
    sim = effector("net", p_effect=1.0)
    (tgt,) = counterable([hovering("d", 0.0, 200.0, 40.0)])
    engage(sim, 0.0, (0.0, 200.0, 40.0))
    run(sim, [tgt], 0.0, 3.5)
    (status,) = sim.status_report(3.5).status_report.status
    assert status.status_value == "Magazine 3"


# --- Task handling -------------------------------------------------------------------------------


def test_tasks_are_acknowledged_and_only_what_the_effector_can_do_is_accepted() -> None:
    sim = effector("rf_jammer")
    status, reason = send(sim, 0.0, task(mode("Engage")))
    assert status == "TASK_STATUS_REJECTED" and "look_at" in reason
    assert sim.mode == "Standby" and sim.aim_enu is None
    assert send(sim, 1.0, task(look_at(300.0, 400.0, 80.0))) == ("TASK_STATUS_ACCEPTED", "")
    assert sim.aim_enu is not None
    np.testing.assert_allclose(sim.aim_enu, (300.0, 400.0, 80.0), atol=0.01)
    assert sim.mode == "Standby"  # aimed, not engaged
    # Engage: accepted, and the new mode reported at once.
    out = replies(sim.handle(2.0, frame(task(mode("Engage")))))
    assert [m.WhichOneof("content") for m in out] == ["task_ack", "status_report"]
    assert out[1].status_report.mode == "Engage" and sim.mode == "Engage"
    status, reason = send(sim, 3.0, task(mode("Attack")))
    assert status == "TASK_STATUS_REJECTED" and "Attack" in reason
    status, reason = send(sim, 3.0, task({"request": "Reboot"}))
    assert status == "TASK_STATUS_REJECTED" and "request" in reason
    assert sim.mode == "Engage"  # rejected tasks change nothing
    assert send(sim, 4.0, task({"request": "Stop"})) == ("TASK_STATUS_ACCEPTED", "")
    assert sim.mode == "Standby"
    engage(sim, 5.0, (300.0, 400.0, 80.0))
    assert send(sim, 6.0, task(mode("Standby"))) == ("TASK_STATUS_ACCEPTED", "")
    assert sim.mode == "Standby"
    engage(sim, 7.0, (300.0, 400.0, 80.0))
    stop = task(look_at(0.0, 0.0, 0.0), control="CONTROL_STOP")
    assert send(sim, 8.0, stop) == ("TASK_STATUS_ACCEPTED", "")
    assert sim.mode == "Standby"
    status, reason = send(sim, 9.0, task(mode("Engage"), control="CONTROL_PAUSE"))
    assert status == "TASK_STATUS_REJECTED" and "START" in reason
    assert sim.mode == "Standby"


def test_an_empty_magazine_rejects_engage() -> None:
    sim = effector("net", shots=1, p_effect=1.0)
    (tgt,) = counterable([hovering("d", 0.0, 200.0, 40.0)])
    engage(sim, 0.0, (0.0, 200.0, 40.0))
    run(sim, [tgt], 0.0, 4.0)
    assert sim.shots_left == 0
    assert send(sim, 4.0, task(mode("Standby")))[0] == "TASK_STATUS_ACCEPTED"
    status, reason = send(sim, 5.0, task(mode("Engage")))
    assert status == "TASK_STATUS_REJECTED" and "magazine empty" in reason
    assert sim.mode == "Standby"


def test_tasks_for_another_node_and_garbage_are_ignored() -> None:
    sim = effector("rf_jammer")
    assert sim.handle(0.0, frame(task(look_at(0.0, 500.0, 60.0), to=OTHER))) == []
    assert sim.handle(0.0, frame(task(mode("Engage"), to=OTHER))) == []
    assert sim.handle(0.0, b"\x05\x00\x00\x00junk!") == []
    assert sim.handle(0.0, b"\xff\xff") == []
    assert sim.aim_enu is None and sim.mode == "Standby" and sim.tasks == {}


# --- RF jamming ----------------------------------------------------------------------------------


def test_an_rf_jammer_makes_a_drone_in_its_beam_band_and_range_fly_its_failsafe() -> None:
    # Beam 60° aimed north (azimuth 0°), range 1500 m, 2.4 GHz only; ready 2 s after Engage.
    sim = effector("rf_jammer", bands_mhz=((2400.0, 2483.5),), beamwidth_deg=60.0)
    ll = LinkLoss("land", delay_s=3.0)
    a20, a40 = math.radians(20.0), math.radians(40.0)
    link = RfLink("OcuSync", centre_mhz=2440.0)
    targets = counterable(
        [
            hovering("jammed", 600 * math.sin(a20), 600 * math.cos(a20), 60, ll, rf_link=link),
            hovering("no_link", 0.0, 700.0, 60, ll),  # no rf_link: 2.4 GHz assumed
            hovering("5g8", -100.0, 600.0, 60, ll, rf_link=RfLink("x", centre_mhz=5800.0)),
            hovering("autonomous", 50.0, 650.0, 60, ll, emits_rf=False),
            hovering("off_beam", 600 * math.sin(a40), 600 * math.cos(a40), 60, ll),
            hovering("far", 0.0, 1600.0, 60, ll),
        ]
    )
    engage(sim, 0.0, (0.0, 600.0, 60.0))
    run(sim, targets, 0.0, 4.9)
    assert all(path_of(t).effect is None for t in targets)  # jammed from 2 s, for < 3 s
    run(sim, targets, 5.0, 12.0)
    got = {t.name: (path_of(t).effect, path_of(t).at_s) for t in targets}
    assert got["jammed"] == ("land", 5.0) and got["no_link"] == ("land", 5.0)
    for name in ("5g8", "autonomous", "off_beam", "far"):
        assert got[name] == (None, math.inf), name
    assert path_of(targets[0]).cause == "rf_jammer-1"
    assert sorted(effects(sim)) == [(5.0, "jammed", "land"), (5.0, "no_link", "land")]
    # It lands: 60 m at 2 m/s from 5 s on (hovering: no braking).
    state = targets[0].path.state(15.0)
    assert state is not None and math.isclose(state[0][2], 40.0)


def test_an_rf_jammer_covering_5_8_ghz_takes_the_5_8_ghz_link() -> None:
    sim = effector("rf_jammer", bands_mhz=((5725.0, 5850.0),))
    ll = LinkLoss("hover", delay_s=1.5)
    targets = counterable(
        [
            hovering("5g8", 0.0, 600.0, 60, ll, rf_link=RfLink("x", centre_mhz=5800.0)),
            hovering("2g4", 10.0, 600.0, 60, ll, rf_link=RfLink("x", centre_mhz=2440.0)),
        ]
    )
    engage(sim, 0.0, (0.0, 600.0, 60.0))
    run(sim, targets, 0.0, 3.4)
    assert path_of(targets[0]).effect is None
    run(sim, targets, 3.5, 6.0)
    assert (path_of(targets[0]).effect, path_of(targets[0]).at_s) == ("hover", 3.5)
    assert path_of(targets[1]).effect is None


def test_a_jammer_in_standby_does_nothing() -> None:
    sim = effector("rf_jammer")
    targets = counterable([hovering("d", 0.0, 600.0, 60, LinkLoss("land", delay_s=0.5))])
    assert send(sim, 0.0, task(look_at(0.0, 600.0, 60.0)))[0] == "TASK_STATUS_ACCEPTED"
    run(sim, targets, 0.0, 10.0)
    assert path_of(targets[0]).effect is None and sim.log == []
    # Engaged and then stood down before its link-loss timeout: still nothing.
    assert send(sim, 10.0, task(mode("Engage")))[0] == "TASK_STATUS_ACCEPTED"
    run(sim, targets, 10.0, 12.4)
    assert send(sim, 12.4, task(mode("Standby")))[0] == "TASK_STATUS_ACCEPTED"
    run(sim, targets, 12.5, 20.0)
    assert path_of(targets[0]).effect is None and sim.log == []


def test_a_gnss_jammer_affects_drones_navigating_by_gnss_in_range_only() -> None:
    sim = effector("gnss_jammer")  # omnidirectional, 1000 m, ready 2 s; GNSS lost after 1 s
    ll = LinkLoss("land", gnss_behaviour="hover")
    targets = counterable(
        [
            hovering("gnss", 0.0, 500.0, 60, ll),
            hovering("behind", 0.0, -500.0, 60, ll, emits_rf=False),  # omni; RF does not matter
            hovering("inertial", 100.0, 500.0, 60, ll, gnss_nav=False),
            hovering("far", 0.0, 1100.0, 60, ll),
        ]
    )
    engage(sim, 0.0, (0.0, 500.0, 60.0))
    run(sim, targets, 0.0, 2.9)
    assert all(path_of(t).effect is None for t in targets)
    run(sim, targets, 3.0, 8.0)
    got = {t.name: (path_of(t).effect, path_of(t).at_s) for t in targets}
    assert got == {
        "gnss": ("hover", 3.0),
        "behind": ("hover", 3.0),
        "inertial": (None, math.inf),
        "far": (None, math.inf),
    }


# --- kinetic -------------------------------------------------------------------------------------


def test_a_net_with_p_effect_1_captures_after_its_flight_time_and_uses_one_round() -> None:
    sim = effector("net", p_effect=1.0)  # ready 3 s, 40 m/s, 20–300 m, 4 nets
    (tgt,) = counterable([hovering("d", 0.0, 200.0, 40.0)])
    engage(sim, 0.0, (10.0, 190.0, 40.0))  # aimed near it: acquired
    run(sim, [tgt], 0.0, 2.9)
    assert sim.log == [] and sim.shots_left == 4
    # Fired at 3 s over √(200² + 35²) = 203 m: there after 5.08 s, i.e. on the 8.1 s tick.
    run(sim, [tgt], 3.0, 8.0)
    assert [(e.t_s, e.action, e.target) for e in sim.log] == [(3.0, "fired", "d")]
    assert sim.shots_left == 3 and path_of(tgt).effect is None
    run(sim, [tgt], 8.1, 20.0)
    path = path_of(tgt)
    assert (path.effect, path.at_s, path.cause) == ("captured", 8.1, "net-1")
    assert effects(sim) == [(8.1, "d", "captured")]
    assert sim.shots_left == 3  # nothing left to shoot at
    state = tgt.path.state(10.1)
    assert state is not None and math.isclose(state[0][2], 32.0)  # under its parachute


def test_a_net_that_misses_logs_a_miss_and_fires_again() -> None:
    sim = effector("net", p_effect=1e-12)
    (tgt,) = counterable([hovering("d", 0.0, 200.0, 40.0)])
    engage(sim, 0.0, (0.0, 200.0, 40.0))
    # One round in the air at a time, and RELOAD_S between rounds.
    again = max(8.1, math.ceil((3.0 + RELOAD_S) * 10 - 1e-6) / 10)
    run(sim, [tgt], 0.0, again)
    assert [(e.t_s, e.action) for e in sim.log] == [(3.0, "fired"), (8.1, "miss"), (again, "fired")]
    assert path_of(tgt).effect is None and sim.shots_left == 2


def test_a_net_does_not_fire_far_from_its_aim_nor_outside_its_range() -> None:
    sim = effector("net", p_effect=1.0)  # 20–300 m; acquires within ACQUIRE_M of the aim point
    targets = counterable(
        [
            hovering("off_aim", 0.0, 200.0, 40.0),
            hovering("too_near", 5.0, 10.0, 10.0),  # 12 m from the launcher
            hovering("too_far", 0.0, 400.0, 40.0),  # 401.5 m
        ]
    )
    for aim in ((ACQUIRE_M + 20.0, 200.0, 40.0), (5.0, 10.0, 10.0), (0.0, 400.0, 40.0)):
        engage(sim, 0.0, aim)
        run(sim, targets, 0.0, 8.0)
        assert sim.log == [] and sim.shots_left == 4, aim
        send(sim, 8.0, task(mode("Standby")))
    assert all(path_of(t).effect is None for t in targets)


def test_a_hard_kill_downs_the_drone() -> None:
    sim = effector("hard_kill", p_effect=1.0)  # ready 2 s, 800 m/s, 50–1200 m
    targets = counterable([hovering("d", 0.0, 500.0, 60.0), hovering("near", 0.0, 30.0, 20.0)])
    engage(sim, 0.0, (0.0, 500.0, 60.0))
    run(sim, targets, 0.0, 10.0)
    # Fired at 2 s over 503 m: 0.63 s flight, so effect on the 2.7 s tick.
    assert effects(sim) == [(2.7, "d", "downed")]
    assert (path_of(targets[0]).effect, path_of(targets[0]).cause) == ("downed", "hard_kill-1")
    assert sim.shots_left == 19
    # 60 m: 11.5 m to terminal speed in 1.53 s, the rest at 15 m/s — on the ground by 2.7 + 4.8 s.
    assert targets[0].path.state(7.4) is not None and targets[0].path.state(7.6) is None
    assert path_of(targets[1]).effect is None


def test_a_hard_kill_holds_fire_inside_its_minimum_range() -> None:
    sim = effector("hard_kill", p_effect=1.0)
    (tgt,) = counterable([hovering("near", 0.0, 30.0, 20.0)])  # 34 m < 50 m
    engage(sim, 0.0, (0.0, 30.0, 20.0))
    run(sim, [tgt], 0.0, 10.0)
    assert sim.log == [] and sim.shots_left == 20 and path_of(tgt).effect is None


def test_an_interceptor_launches_when_ready_flies_out_and_nets_the_drone() -> None:
    sim = effector("interceptor", p_effect=1.0)  # ready 10 s, 30 m/s, 2 aboard
    (tgt,) = counterable([hovering("d", 0.0, 900.0, 60.0)])
    engage(sim, 0.0, (0.0, 900.0, 60.0))
    run(sim, [tgt], 0.0, 9.9)
    assert sim.log == [] and sim.shots_left == 2
    run(sim, [tgt], 10.0, 50.0)
    launched = [e.t_s for e in sim.log if e.action == "launched"]
    assert launched == [10.0] and sim.shots_left == 1
    path = path_of(tgt)
    assert path.effect == "captured" and path.cause == "interceptor-1"
    expected = 10.0 + math.dist(SITE, (0.0, 900.0, 60.0)) / 30.0  # 40.06 s
    assert abs(path.at_s - expected) <= 0.3
    assert effects(sim) == [(path.at_s, "d", "captured")]


def test_an_interceptor_homes_on_a_drone_that_moved_from_the_aim_point() -> None:
    sim = effector("interceptor", p_effect=1.0)
    # The drone flies east at 5 m/s from (0, 600, 60); it is aimed where the drone was.
    mover = WaypointPath(((0.0, 600.0, 60.0), (5000.0, 600.0, 60.0)), (5.0,))
    (tgt,) = counterable([Target("d", ObjectClass.DRONE, 0.02, mover, "intruder")])
    engage(sim, 0.0, (0.0, 600.0, 60.0))
    run(sim, [tgt], 0.0, 60.0)
    path = path_of(tgt)
    assert path.effect == "captured"
    # It cannot be faster than flying straight at 30 m/s to where the drone was caught.
    caught = mover.state(path.at_s)
    assert caught is not None
    assert path.at_s >= 10.0 + math.dist(SITE, tuple(caught[0])) / 30.0 - 0.2
    assert path.at_s < 10.0 + 40.0


@pytest.mark.parametrize("kind", KINDS)
def test_no_effect_without_an_accepted_engage(kind: EffectorKind) -> None:
    sim = effector(kind, p_effect=1.0)
    targets = counterable(
        [hovering("d", 0.0, 200.0, 40.0, LinkLoss("land", delay_s=0.1), rf_link=RfLink("x"))]
    )
    assert send(sim, 0.0, task(mode("Engage")))[0] == "TASK_STATUS_REJECTED"  # not aimed
    run(sim, targets, 0.0, 15.0)
    assert send(sim, 15.0, task(look_at(0.0, 200.0, 40.0)))[0] == "TASK_STATUS_ACCEPTED"
    assert send(sim, 15.0, task(mode("Attack")))[0] == "TASK_STATUS_REJECTED"
    run(sim, targets, 15.0, 30.0)
    assert sim.mode == "Standby" and sim.log == [] and sim.shots_left == sim.spec.shots
    assert path_of(targets[0]).effect is None


def test_a_flight_record_is_a_trajectory_that_exists_only_in_the_air() -> None:
    from luchtwacht.sim.effectors import FlightRecord

    rec = FlightRecord()
    assert rec.state(0.0) is None
    for k in range(11):  # 1 s at 30 m/s east, sampled every 0.1 s
        rec.add(10.0 + 0.1 * k, np.array([3.0 * k, 0.0, 50.0]), np.array([30.0, 0.0, 0.0]))
    rec.land()
    s = rec.state(10.55)
    assert s is not None
    assert np.allclose(s[0], [16.5, 0.0, 50.0]) and np.allclose(s[1], [30.0, 0.0, 0.0])
    assert rec.state(9.9) is None and rec.state(11.2) is None  # before launch, after landing
    rec.add(20.0, np.array([0.0, 0.0, 10.0]), np.zeros(3))  # a second flight
    rec.add(20.1, np.array([0.0, 0.0, 11.0]), np.zeros(3))
    assert rec.state(15.0) is None
    s2 = rec.state(20.05)
    assert s2 is not None and np.allclose(s2[0], [0.0, 0.0, 10.5])


def test_an_airborne_interceptor_reports_where_it_is_and_lands_back_after_a_capture() -> None:
    from luchtwacht.ingest.sapient import SapientPipe

    sim = effector("interceptor", p_effect=1.0, ready_s=2.0, speed_ms=30.0)
    targets = counterable([hovering("d", 0.0, 300.0)])
    pipe = SapientPipe("e", ORIGIN)
    pipe.feed(b"".join(sim.scan(0.0, targets)))
    engage(sim, 0.0, (0.0, 300.0, 60.0))
    own = sim.own_target()
    assert own is not None and own.role == "own" and own.true_class == ObjectClass.DRONE
    airborne_seen = stood_down = False
    for k in range(1, 400):
        t = k / 10
        pipe.feed(b"".join(sim.scan(t, targets)))
        if not stood_down and any(e.action == "effect" for e in sim.log):
            # The fusion node sees the drone come down and stands the interceptor down.
            assert send(sim, t, task(mode("Standby"))) == ("TASK_STATUS_ACCEPTED", "")
            stood_down = True
        node = pipe.nodes[NODE]
        if any(e.endswith(" Airborne") for e in node.status):
            airborne_seen = True
            assert own.path.state(t) is not None  # the sensors see it while it says it flies
    assert airborne_seen and "NODE_TYPE_MOBILE_NODE" in pipe.nodes[NODE].node_types
    actions = [e.action for e in sim.log]
    assert actions == ["launched", "effect", "landed"]
    assert path_of(targets[0]).effect == "captured"
    assert own.path.state(39.9) is None  # back on the ground after netting it
    assert not any(e.endswith(" Airborne") for e in pipe.nodes[NODE].status)


def test_an_rf_jammer_breaks_a_link_only_where_it_outshouts_the_pilot() -> None:
    from luchtwacht.sim.effectors import fspl_db
    from luchtwacht.sim.targets import RfLink

    def drone_with_pilot(name: str, pilot_n: float) -> Target:
        link = RfLink("ExpressLRS 2.4", centre_mhz=2440.0, eirp_dbm=30.0, pilot_m=(0, pilot_n, 1.5))
        return hovering(name, 0.0, 1000.0, 60.0, rf_link=link)

    # The jammer (50 dBm) is 1000 m from the drones. A pilot 2 km further out is outshouted;
    # one standing 60 m under the drone is not.
    far, near = counterable([drone_with_pilot("far", 3000.0), drone_with_pilot("near", 1000.0)])
    f = 2440.0
    js_far = (50 - fspl_db(math.dist(SITE, (0, 1000, 60)), f)) - (
        30 - fspl_db(math.dist((0, 1000, 60), (0, 3000, 1.5)), f)
    )
    js_near = (50 - fspl_db(math.dist(SITE, (0, 1000, 60)), f)) - (30 - fspl_db(58.5, f))
    assert js_far > 6.0 > js_near  # the geometry does what the test says
    sim = effector("rf_jammer", eirp_dbm=50.0, max_range_m=1500.0, beamwidth_deg=90.0)
    engage(sim, 0.0, (0.0, 1000.0, 60.0))
    run(sim, [far, near], 0.1, 10.0)
    assert path_of(far).effect == "return_home"
    assert path_of(near).effect is None


def test_a_healthy_rf_detector_that_hears_nothing_for_a_while_is_not_lost() -> None:
    """jammed-intruder: the RF direction finders report only what they hear, and their status
    reports every 10 s are their heartbeat. Neither may flap to lost between detections."""
    from collections import defaultdict
    from pathlib import Path

    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario_file import load_scenario_file

    scen = load_scenario_file(Path(__file__).parents[2] / "scenarios" / "jammed-intruder.yaml")
    p = Pipeline(scen)
    sub = p.subscribe("health", maxsize=5000)
    p.run(150.0)
    states: dict[str, list[str]] = defaultdict(list)
    for update in sub.take():
        for f in update.feeds:
            if not states[f.name] or states[f.name][-1] != f.state:
                states[f.name].append(f.state)
    rf = {name: seen for name, seen in states.items() if name.startswith("RF DF")}
    assert len(rf) == 2
    for name, seen in rf.items():
        assert "lost" not in seen and seen[-1] == "ok", (name, seen)
