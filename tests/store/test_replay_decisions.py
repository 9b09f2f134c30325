"""Replay reproduces decisions, not only tracks: alerts, cues, recommendations and tasks.

Each countermeasure scenario of the library is run as the demo runs it, recorded, and replayed
through the node core from the recording alone (site, feeds, node configuration, raw bytes and
the operators' commands in the audit chain). The replay must come to the same recommendations
and engagements and send the very same SAPIENT tasks, byte for byte, at the same times.
"""

import sqlite3
import struct
from pathlib import Path

import pytest

from luchtwacht.ingest.sapient import parse_message
from luchtwacht.node.ports import ReplayLink
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.store.recorder import Recorder
from luchtwacht.store.replay import recorded_commands, replay

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def frames(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos : pos + 4 + n])
        pos += 4 + n
    return out


def recorded_tasks(path: Path) -> list[tuple[float, str, bytes]]:
    """Every Task the original run sent, from its recording: (time, feed, framed bytes)."""
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT t_rx_s, sensor_id, payload FROM raw WHERE format = 'sapient-out' ORDER BY seq"
    ).fetchall()
    db.close()
    return [
        (round(float(t), 6), str(sid), f)
        for t, sid, data in rows
        for f in frames(bytes(data))
        if parse_message(f[4:]).WhichOneof("content") == "task"
    ]


def replayed_tasks(links: dict[str, ReplayLink]) -> list[tuple[float, str, bytes]]:
    out = [
        (round(t, 6), sid, f)
        for sid, link in links.items()
        for t, data in link.sent
        for f in frames(data)
        if parse_message(f[4:]).WhichOneof("content") == "task"
    ]
    return sorted(out, key=lambda x: x[0])


@pytest.mark.parametrize(
    ("name", "seconds"),
    [
        ("jammed-intruder", 110.0),
        ("autonomous-attack-engaged", 110.0),
        ("swarm-jammed", 90.0),
        ("escalation-close-pilot", 150.0),
        ("interceptor-loiterer", 150.0),
    ],
)
def test_replay_of_a_countermeasure_scenario_reproduces_its_decisions(tmp_path, name, seconds):
    path = tmp_path / f"{name}.sqlite"
    recorder = Recorder(path)
    demo = Pipeline(load_scenario_file(SCENARIOS / f"{name}.yaml"), recorder=recorder)
    demo.run(seconds)
    demo.finish()
    recorder.close()
    assert demo.counter is not None
    original = demo.counter.summary(demo.start_s)
    assert original["engagements"], "the scenario must reach an engagement in this time"
    assert recorded_commands(path), "the duty officer's approval is in the audit chain"

    sent = recorded_tasks(path)
    commands = {parse_message(f[4:]).task.command.WhichOneof("command") for _, _, f in sent}
    assert {"look_at", "mode_change"} <= commands  # the effector was aimed and engaged

    links: dict[str, ReplayLink] = {}
    again = replay(path, links=links)
    assert again.counter is not None
    assert again.counter.summary(again.start_s) == original
    assert replayed_tasks(links) == sorted(sent, key=lambda x: x[0])
    assert [(e.t_s, e.kind, e.alert.alert_id) for e in again.events] == [
        (e.t_s, e.kind, e.alert.alert_id) for e in demo.events
    ]
    assert [(e.t_s, e.kind, e.track_id) for e in again.counter.events] == [
        (e.t_s, e.kind, e.track_id) for e in demo.counter.events
    ]


def test_a_recording_with_a_damaged_node_configuration_is_refused_in_one_line(tmp_path):
    import sqlite3 as sq

    from luchtwacht.store.replay import ReplayError

    path = tmp_path / "run.sqlite"
    recorder = Recorder(path)
    demo = Pipeline(load_scenario_file(SCENARIOS / "jammed-intruder.yaml"), recorder=recorder)
    demo.run(2.0)
    demo.finish()
    recorder.close()
    for damage in ('{"effectors": [{"name": "x"}]}', '{"schedule": {"tick_s": -1}}', "not json"):
        db = sq.connect(path)
        db.execute("UPDATE meta SET value = ? WHERE key = 'node'", (damage,))
        db.commit()
        db.close()
        with pytest.raises(ReplayError, match="recorded node configuration is unreadable") as err:
            replay(path)
        assert "\n" not in str(err.value)
