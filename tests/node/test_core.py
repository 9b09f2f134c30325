"""The node core: its schedule, its picture for subscribers, and operator commands."""

import dataclasses
import operator
import sqlite3

import pytest

from luchtwacht.counter.authority import Authority, OperatorAccount, hash_password
from luchtwacht.model.track import AlertState
from luchtwacht.node import Command, CommandKind, Schedule, Subscription
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.store.recorder import Recorder


@pytest.fixture(scope="module")
def alerted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pipeline, Subscription, Recorder]:
    """The demo run until its first alert, with a reader that keeps up and accounts."""
    path = tmp_path_factory.mktemp("node") / "run.sqlite"
    rec = Recorder(path)
    p = Pipeline(default_scenario(), recorder=rec)
    p.authority = Authority(
        [
            OperatorAccount("ops", "operator", hash_password("pw", n=2**10)),
            OperatorAccount("eye", "viewer", hash_password("pw", n=2**10)),
        ],
        audit=rec.audit,
    )
    sub = p.subscribe("reader", maxsize=100_000)
    while not p.alerts.open_alerts and p.t_s < 200.0:
        p.run(1.0)
    assert p.alerts.open_alerts
    return p, sub, rec


def test_the_picture_is_published_every_tick_and_the_slow_stages_every_second():
    p = Pipeline(default_scenario())
    sub = p.subscribe("all", maxsize=1000)
    p.run(3.0)
    updates = sub.take()
    assert len(updates) == 30 and [u.seq for u in updates] == list(range(1, 31))
    assert [round(u.t_s - p.epoch_s, 6) for u in updates[:3]] == [0.1, 0.2, 0.3]
    assert p.slow_cycles == 3

    slow = Pipeline(default_scenario(), schedule=Schedule(picture_period_s=0.5))
    sub = slow.subscribe("all", maxsize=1000)
    slow.run(3.0)
    assert len(sub.take()) == 6 and slow.slow_cycles == 3


def test_a_slow_subscriber_loses_old_updates_counted_and_others_get_every_one():
    p = Pipeline(default_scenario())
    asleep = p.subscribe("asleep", maxsize=3)
    awake = p.subscribe("awake", maxsize=1000)
    p.run(2.0)
    assert len(asleep) == 3 and asleep.lost == 17 and asleep.offered == 20
    kept = asleep.take()
    assert [u.seq for u in kept] == [18, 19, 20]  # the newest picture, never a stale one
    assert len(awake.take()) == 20 and awake.lost == 0
    assert p.picture(p.now_s).counters["lost:asleep"] == 17
    p.unsubscribe(asleep)  # a consumer that leaves is offered nothing more
    p.run(0.5)
    assert asleep.offered == 20 and len(awake.take()) == 5


def test_a_subscriber_that_raises_is_dropped_and_the_node_goes_on():
    class Broken:
        name = "broken"

        def offer(self, update: object) -> None:
            raise RuntimeError("consumer defect")

    p = Pipeline(default_scenario())
    p.subscribers.append(Broken())
    ok = p.subscribe("ok", maxsize=100)
    p.run(1.0)
    assert p.internal_errors["subscriber broken"] == 1 and len(ok.take()) == 10


def test_the_picture_is_frozen_and_says_what_changed(alerted):
    p, sub, _ = alerted
    updates = sub.take()
    raised = [c for u in updates for c in u.alert_changes if c.kind == "raised"]
    assert raised and raised[0].alert.state is AlertState.ACTIVE
    first_seen: dict[int, int] = {}
    for u in updates:
        for tid in u.new_tracks:
            first_seen.setdefault(tid, u.seq)
    last = updates[-1]
    assert {t.track_id for t in last.tracks} <= set(first_seen)
    assert all(t.track_id not in u.dropped_tracks for u in updates[-1:] for t in u.tracks)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(last, "t_s", 0.0)  # noqa: B010
    with pytest.raises(TypeError):
        operator.setitem(last.counters, "late_batches", 1)
    assert {f.sensor_id for f in last.feeds} == set(p.feeds)
    assert any(n.registered and n.connected is False for n in last.nodes)  # a radar: no link


def test_an_operator_acknowledges_an_alert_through_the_command_port_audited(alerted):
    p, sub, rec = alerted
    alert = p.alerts.open_alerts[0]
    ops = p.authority.authenticate("ops", "pw", p.now_s).token
    eye = p.authority.authenticate("eye", "pw", p.now_s).token
    refused = p.submit(Command(CommandKind.ACKNOWLEDGE, eye, alert.alert_id))
    bogus = p.submit(Command(CommandKind.ACKNOWLEDGE, "not-a-session", alert.alert_id))
    done = p.submit(Command(CommandKind.ACKNOWLEDGE, ops, alert.alert_id))
    assert not done.applied and alert.state is AlertState.ACTIVE  # only at a cycle boundary
    sub.take()
    p.run(0.1)
    assert done.applied and done.ok and done.operator == "ops" and done.role == "operator"
    assert refused.applied and not refused.ok and "viewer" in refused.error
    assert bogus.applied and not bogus.ok and bogus.error == "unknown session"
    now = p.alerts.alerts[alert.alert_id]
    assert now.state is AlertState.ACKNOWLEDGED and now.acknowledged_by == "ops"
    (change,) = [c for u in sub.take() for c in u.alert_changes if c.kind == "acknowledged"]
    assert change.alert.acknowledged_by == "ops"
    rec.commit()
    db = sqlite3.connect(rec.path)
    rows = db.execute(
        "SELECT payload FROM audit WHERE kind = 'command.acknowledge' ORDER BY seq"
    ).fetchall()
    assert len(rows) == 3
    assert '"operator":"ops"' in rows[2][0] and '"ok":true' in rows[2][0]
    assert '"ok":false' in rows[0][0] and '"role":"viewer"' in rows[0][0]
    assert "not-a-session" not in "".join(r[0] for r in rows)  # tokens are never recorded
    (n,) = db.execute("SELECT count(*) FROM alert_event WHERE event = 'acknowledged'").fetchone()
    assert n == 1


def test_engagement_commands_without_effectors_and_a_queue_flood_are_refused(alerted):
    p, _, _ = alerted
    ops = p.authority.authenticate("ops", "pw", p.now_s).token
    cease = p.submit(Command(CommandKind.CEASE, ops, 1))
    flood = [p.submit(Command(CommandKind.ACKNOWLEDGE, ops, 10_000)) for _ in range(400)]
    p.run(0.1)
    assert cease.applied and not cease.ok and cease.error == "no effectors on this site"
    refused_at_once = [r for r in flood if r.error.startswith("too many commands")]
    assert len(refused_at_once) == 400 - 255  # the queue holds 256 (cease is one of them)
    assert all(r.applied and not r.ok for r in flood)


def test_schedule_periods_are_checked():
    with pytest.raises(ValueError, match="slow period"):
        Schedule(picture_period_s=1.0, slow_period_s=0.5)
    with pytest.raises(ValueError, match="positive"):
        Schedule(tick_s=0.0)
    assert Schedule(picture_period_s=0.3, slow_period_s=1.0).slow_ticks == 9


def test_the_live_node_and_replay_do_not_load_the_simulator_or_the_evaluation():
    """The live configuration and the node core stand on their own (a field node ships no sim)."""
    import subprocess
    import sys

    code = (
        "import sys, luchtwacht.runtime, luchtwacht.store.replay, luchtwacht.site;"
        "print(sorted(m for m in sys.modules if m.startswith(('luchtwacht.sim', 'luchtwacht.eval'))"
        " or m == 'luchtwacht.pipeline'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_subscription_is_read_on_the_event_loop_and_from_a_thread():
    import asyncio
    import threading

    p = Pipeline(default_scenario())
    sub = p.subscribe("async", maxsize=8)
    p.run(0.2)

    async def read() -> list[int]:
        got = [u.seq for u in (await sub.next(), await sub.next()) if u is not None]
        waiter = asyncio.create_task(sub.next())
        await asyncio.sleep(0)
        threading.Thread(target=sub.close).start()  # closing from elsewhere wakes the reader
        assert await asyncio.wait_for(waiter, 2) is None
        return got

    assert asyncio.run(read()) == [1, 2]
    threaded = p.subscribe("thread", maxsize=8)
    threading.Timer(0.05, lambda: p.run(0.1)).start()
    update = threaded.get(timeout_s=5)
    assert update is not None and update.seq == 3


def test_the_picture_names_each_remote_id_drone_its_track_and_its_pilot(alerted):
    """The demo's Remote ID drone: its UAS ID, the track that carries it and where its pilot is."""
    p, sub, _ = alerted
    p.run(5.0)
    last = sub.take()[-1]
    assert last.remote_ids, "the demo's cooperative drone broadcasts Remote ID"
    for rid in last.remote_ids:
        assert rid.last_t_s is not None and last.t_s - rid.last_t_s <= 60.0
        assert rid.operator_lat_deg is not None and rid.operator_lon_deg is not None
        view = last.track(rid.track_id) if rid.track_id is not None else None
        if view is not None:
            assert view.uas_id == rid.uas_id and rid.lat_deg == view.lat_deg
    carried = {t.uas_id for t in last.tracks if t.uas_id}
    assert carried <= {r.uas_id for r in last.remote_ids}
    radar = next(n for n in last.nodes if n.registered)
    assert radar.lat_deg is not None and radar.alt_m is not None and radar.max_range_m
    assert radar.system == "SYSTEM_OK" and radar.last_status_t_s is not None
