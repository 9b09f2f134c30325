"""End to end: the default scenario from simulated sensor bytes to alerts, headless and unthrottled."""

import sqlite3

import numpy as np

from luchtwacht.eval.truth import TruthMatcher
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.store.recorder import verify_audit_chain
from luchtwacht.transport.clock import SimClock

SERIAL = "1581F5FJD229V00QZ7"


def coverage_entry_s(run, name):
    """First radar scan at which the target is in coverage with Pd ≥ 0.5."""
    p = run.pipeline
    radar = p.radars[0][1]
    target = next(t for t in p.scenario.targets if t.name == name)
    for k in range(int(p.scenario.duration_s) + 1):
        if radar.detection_probability(target, float(k)) >= 0.5:
            return float(k)
    raise AssertionError(f"{name} never in radar coverage")


def test_intruders_confirmed_within_5s_of_coverage_classified_drone_and_alerted(demo_run):
    alerts = list(demo_run.pipeline.alerts.alerts.values())
    for name in ("Intruder A", "Intruder B"):
        hist = demo_run.matcher.history[name]
        entry = coverage_entry_s(demo_run, name)
        first = hist.first_match_s()
        assert first is not None and first <= entry + 5.0, (name, entry, first)
        # once inside the zone it is a drone, and a breach alert names its track
        inside = [(t, v) for t, v in hist.matches if "EHVK runway" in v.zones_inside]
        assert inside, f"{name} never seen inside the zone"
        assert all(v.object_class == "drone" for _, v in inside[3:])
        ids = set(hist.track_ids)
        mine = [a for a in alerts if a.track_id in ids and a.zone == "EHVK runway"]
        assert mine and any(a.kind == "breach" for a in mine), name
        assert min(a.raised_t_s for a in mine) - demo_run.pipeline.epoch_s <= inside[0][0] + 3.0


def test_remote_id_drone_is_tracked_cooperative_with_its_serial(demo_run):
    hist = demo_run.matcher.history["Hobby drone (Remote ID)"]
    times = demo_run.matcher.cycle_times
    assert hist.coverage(times[5:]) >= 0.95
    assert len(hist.track_ids) == 1
    later = [v for t, v in hist.matches if t >= 10.0]
    assert all(v.cooperative and v.uas_id == SERIAL and v.object_class == "drone" for v in later)
    assert not any(a.track_id in hist.track_ids for a in demo_run.pipeline.alerts.alerts.values())
    summary = demo_run.pipeline.summary()
    (entry,) = [t for t in summary["tracks"] if t["uas_id"] == SERIAL]
    assert entry["operator"]["operator_id"] == "NLD87astrdge12k8"


def test_birds_raise_no_alert_and_every_alert_is_an_intruder(demo_run):
    intruder_ids = set()
    for name in ("Intruder A", "Intruder B"):
        intruder_ids |= set(demo_run.matcher.history[name].track_ids)
    bird_ids = set()
    for t in demo_run.pipeline.scenario.targets:
        if t.role == "bird":
            bird_ids |= set(demo_run.matcher.history[t.name].track_ids)
    assert bird_ids, "the flock was not tracked at all"
    alerted = {a.track_id for a in demo_run.pipeline.alerts.alerts.values()}
    assert not alerted & bird_ids
    assert alerted <= intruder_ids


def test_airliner_is_tracked_and_never_called_a_drone(demo_run):
    hist = demo_run.matcher.history["Airliner (approach EHEH)"]
    assert hist.coverage(demo_run.matcher.cycle_times[30:200]) >= 0.9
    assert "drone" not in hist.classes()
    assert "aircraft" in hist.classes()


def test_recording_holds_the_run_and_its_audit_chain_is_intact(demo_run):
    ok, n, problem = verify_audit_chain(demo_run.recording)
    assert ok, problem
    db = sqlite3.connect(demo_run.recording)
    raised = db.execute("SELECT count(*) FROM alert_event WHERE event = 'raised'").fetchone()[0]
    assert raised == len(demo_run.pipeline.alerts.alerts)
    assert n >= raised + 2  # run.start, alerts, run.end
    formats = dict(db.execute("SELECT format, count(*) FROM raw GROUP BY format").fetchall())
    assert formats["sapient"] > 200 and formats["remoteid-jsonl"] > 100
    dets = dict(
        db.execute("SELECT sensor_id, count(*) FROM detection GROUP BY sensor_id").fetchall()
    )
    assert dets["radar-1"] > 1000 and dets["rid-ehvk-1"] > 100
    assert db.execute("SELECT count(DISTINCT track_id) FROM track").fetchone()[0] == len(
        demo_run.pipeline.records
    )


def picture(p: Pipeline):
    return [(v.track_id, round(v.east_m, 6), round(v.north_m, 6), v.object_class) for v in p.views]


def test_same_air_picture_at_any_speed():
    fast = Pipeline(default_scenario(seed=3))
    paced = Pipeline(default_scenario(seed=3))
    snaps_fast, snaps_paced = [], []
    fast.run(25.0, SimClock(0.0), on_cycle=lambda q: snaps_fast.append(picture(q)))
    paced.run(25.0, SimClock(100.0), on_cycle=lambda q: snaps_paced.append(picture(q)))
    assert snaps_fast == snaps_paced and snaps_fast[-1]


def test_garbage_on_a_feed_is_rejected_counted_and_the_picture_goes_on():
    p = Pipeline(default_scenario(seed=7))
    p.run(10.0)
    rng = np.random.default_rng(0)
    for k in range(20):
        t = p.utc(10.0 + 0.05 * k)
        p.bus.publish(
            t, "rid-ehvk-1", "remoteid-jsonl", b'{"time": "bad"}\n' + rng.bytes(40) + b"\n"
        )
        p.bus.publish(t, "radar-1", "sapient", (8).to_bytes(4, "little") + b"\xff" * 8)
    p.run(20.0)
    assert p.t_s == 30.0
    s = p.summary()
    assert s["sensors"]["rid-ehvk-1"]["rejected"] >= 20
    assert s["sensors"]["radar-1"]["rejected"] == 20
    assert any("malformed protobuf" in r for r in s["sensors"]["radar-1"]["rejected_by_reason"])
    # the air picture went on: the Remote ID drone is still tracked after the garbage
    assert any(v.uas_id == SERIAL for v in p.views)


def test_other_seeds_alert_on_both_intruders_and_nothing_else():
    for seed in (1, 5):
        scenario = default_scenario(seed=seed)
        p = Pipeline(scenario)
        m = TruthMatcher(scenario.targets, max_dist_m=150.0)

        def observe(q: Pipeline, m: TruthMatcher = m) -> None:
            m.observe(q.t_s, q.views)

        p.run(scenario.duration_s, on_cycle=observe)
        alerted = {a.track_id for a in p.alerts.alerts.values()}
        for name in ("Intruder A", "Intruder B"):
            assert alerted & set(m.history[name].track_ids), (seed, name)
        intruders = set(m.history["Intruder A"].track_ids) | set(m.history["Intruder B"].track_ids)
        assert alerted <= intruders, seed
