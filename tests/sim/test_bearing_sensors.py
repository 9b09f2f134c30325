"""Angle-only sensors end to end: simulated RF and acoustic SAPIENT nodes → ingest → tracks."""

import dataclasses
import math

import numpy as np
import pytest

from luchtwacht.eval.truth import TruthMatcher
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import SapientPipe, frame, validate
from luchtwacht.model.detection import BearingBatch, DetectionBatch, ObjectClass
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.bearing_sensor import BearingSensorConfig, BearingSensorSim
from luchtwacht.sim.scenario import Scenario
from luchtwacht.sim.targets import Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_781_299_800.0
RF_A = "7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b01"
RF_B = "7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b02"


def _lla(e, n, u):
    lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array([e, n, u], float)))
    return lat, lon, alt


def at(node_id, e, n, u, acoustic=False, **kw):
    """A sensor's configuration placed at ENU (e, n, u) of the site."""
    lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array([e, n, u], float)))
    if acoustic:
        return dataclasses.replace(BearingSensorConfig.acoustic(node_id, lat, lon, alt), **kw)
    return BearingSensorConfig(node_id, lat, lon, alt, **kw)


def drone(emits_rf=True, start=(900.0, 1400.0, 90.0)):
    end = (start[0] + 400.0, start[1] - 600.0, start[2])
    return Target(
        "drone", ObjectClass.DRONE, 0.02, WaypointPath((start, end), (8.0,)), "intruder",
        emits_rf=emits_rf,
    )  # fmt: skip


def test_an_rf_report_is_a_valid_bearing_that_ingest_turns_into_a_bearing_batch():
    cfg = at(RF_A, 0.0, 0.0, 5.0, false_alarms_per_scan=0.0, pd=1.0)
    sim = BearingSensorSim(cfg, ORIGIN, EPOCH, seed=1)
    frames = sim.scan(0.0, [drone()])
    assert len(frames) == 3  # registration, status, one bearing
    pipe = SapientPipe("rf-1", ORIGIN)
    out = pipe.feed(b"".join(frames)) + pipe.flush()
    assert pipe.counters.rejected == 0
    (batch,) = out
    assert isinstance(batch, BearingBatch) and len(batch) == 1
    true_az = math.atan2(900.0, 1400.0)
    assert abs(batch.azimuth_rad[0] - true_az) < math.radians(4 * cfg.azimuth_std_deg)
    assert np.isnan(batch.elevation_rad[0])
    assert math.isclose(batch.azimuth_std_rad[0], math.radians(cfg.azimuth_std_deg))
    np.testing.assert_allclose(batch.sensor_enu_m, [0.0, 0.0, 5.0], atol=1e-3)
    assert batch.coverage_range_m == cfg.max_range_m  # the Registration's MaxRange travels along
    assert batch.class_loglik[0, ObjectClass.DRONE] == batch.class_loglik[0].max()


def test_a_report_with_neither_azimuth_nor_range_is_rejected_with_its_reason():
    cfg = at(RF_A, 0.0, 0.0, 5.0)
    sim = BearingSensorSim(cfg, ORIGIN, EPOCH, seed=1)
    msg = sim._bearing(1.0, 20.0, None)
    rb = msg.detection_report.range_bearing
    rb.ClearField("azimuth")
    rb.ClearField("azimuth_error")
    rb.elevation = 5.0
    validate(msg)  # the ICD allows it: one of the three is there
    pipe = SapientPipe("rf-1", ORIGIN)
    pipe.feed(frame(sim.registration(0.0)) + frame(sim.status_report(0.0)) + frame(msg))
    assert pipe.flush() == []
    assert any("nothing to place" in r for r in pipe.counters.rejected_by_reason)


def scenario(targets, sensors, duration=60.0):
    return Scenario(
        "bearings", ORIGIN, (), (), (), tuple(targets), duration, EPOCH, 5, tuple(sensors)
    )


@pytest.mark.parametrize("kind", ["rf", "acoustic"])
def test_a_drone_heard_only_by_two_angle_only_sensors_is_tracked_end_to_end(kind):
    if kind == "rf":
        a = at(RF_A, 0.0, 0.0, 5.0)
        b = at(RF_B, 2000.0, 0.0, 5.0)
        tgt = drone()
    else:  # acoustic arrays hear only a few hundred metres: a drone between two of them
        a = at(RF_A, 0.0, 0.0, 2.0, acoustic=True)
        b = at(RF_B, 500.0, 0.0, 2.0, acoustic=True)
        tgt = drone(start=(150.0, 250.0, 40.0))
    scen = scenario([tgt], [a, b], duration=40.0)
    pipe = Pipeline(scen)
    m = TruthMatcher(scen.targets, max_dist_m=150.0 if kind == "rf" else 120.0)
    pipe.run(scen.duration_s, on_cycle=lambda q: m.observe(q.t_s, q.views))
    s = pipe.summary()
    assert s["sensors"][f"{kind}-1"]["rejected"] == 0
    h = m.history["drone"]
    first = h.first_match_s()
    assert first is not None and first <= 10.0
    assert h.coverage(m.cycle_times[15:]) > 0.8
    assert len(h.track_ids) == 1


def test_an_autonomous_drone_is_silent_to_rf_but_heard_by_acoustics():
    rf = at(RF_A, 0.0, 0.0, 5.0, pd=1.0, false_alarms_per_scan=0.0)
    ac = at(RF_B, 0.0, 0.0, 2.0, acoustic=True, pd=1.0, false_alarms_per_scan=0.0)
    near = drone(emits_rf=False, start=(150.0, 200.0, 40.0))
    rf_sim = BearingSensorSim(rf, ORIGIN, EPOCH, 1)
    ac_sim = BearingSensorSim(ac, ORIGIN, EPOCH, 2)
    assert len(rf_sim.scan(0.0, [near])) == 2  # registration and status only
    assert len(ac_sim.scan(0.0, [near])) == 3


def test_a_camera_reports_azimuth_elevation_and_class_within_its_view():
    cam = dataclasses.replace(
        BearingSensorConfig.camera(RF_A, *_lla(0.0, 0.0, 10.0)),
        pd=1.0, false_alarms_per_scan=0.0, classify_confidence=1.0,
        fov_centre_deg=45.0, fov_width_deg=60.0,
    )  # fmt: skip
    sim = BearingSensorSim(cam, ORIGIN, EPOCH, seed=3)
    bird = Target(
        "b",
        ObjectClass.BIRD,
        0.01,
        WaypointPath(((600.0, 600.0, 60.0), (700.0, 600.0, 60.0)), (10.0,)),
    )
    behind = drone(start=(-600.0, -600.0, 60.0))  # 225°: outside a 15°-75° view
    pipe = SapientPipe("camera-1", ORIGIN)
    (batch,) = pipe.feed(b"".join(sim.scan(0.0, [bird, behind]))) + pipe.flush()
    assert isinstance(batch, BearingBatch) and len(batch) == 1
    assert abs(math.degrees(batch.azimuth_rad[0]) - 45.0) < 1.0
    el_true = math.degrees(math.atan2(50.0, math.hypot(600.0, 600.0)))
    assert abs(math.degrees(batch.elevation_rad[0]) - el_true) < 1.0
    assert int(np.argmax(batch.class_loglik[0])) == ObjectClass.BIRD
    lat, lon, alt = _lla(0.0, 0.0, 10.0)
    night = BearingSensorConfig.camera(RF_A, lat, lon, alt, night=True)
    day = BearingSensorConfig.camera(RF_A, *_lla(0.0, 0.0, 10.0))
    assert (
        night.max_range_m < day.max_range_m / 2
        and night.classify_confidence < day.classify_confidence
    )


def test_a_remote_id_spoofer_broadcasts_a_position_where_it_is_not():
    from luchtwacht.ingest.remoteid_feed import RemoteIdPipe
    from luchtwacht.sim.remoteid_rx import RemoteIdReceiverConfig, RemoteIdReceiverSim
    from luchtwacht.sim.targets import RemoteIdEquipment

    eq = RemoteIdEquipment("1581F5FJD229V00QZ8", "60:60:1f:de:ad:01", (0.0, 0.0, 0.0),
                           spoof_offset_m=(0.0, 900.0, 0.0))  # fmt: skip
    tgt = dataclasses.replace(drone(start=(300.0, 300.0, 80.0)), remote_id=eq)
    rx = RemoteIdReceiverSim(
        RemoteIdReceiverConfig(
            "rx", ORIGIN.lat_deg, ORIGIN.lon_deg, ORIGIN.alt_m, p_receive=1.0, gnss_std_m=0.0
        ),
        ORIGIN, EPOCH, seed=2,
    )  # fmt: skip
    pipe = RemoteIdPipe("rx", ORIGIN)
    batches = []
    for k in range(3):
        for t_rx, line in rx.tick(float(k), [tgt]):
            batches += pipe.feed(line, EPOCH + t_rx)
    batches += pipe.flush()
    z = np.concatenate([b.z for b in batches if isinstance(b, DetectionBatch)])
    true0 = tgt.path.state(0.0)
    assert true0 is not None
    assert abs(z[0, 1] - (true0[0][1] + 900.0)) < 15.0  # broadcast 900 m north of the drone


def test_an_rf_detector_reads_a_links_protocol_serial_and_signal_into_the_track():
    from luchtwacht.ingest.sapient import parse_message, split_frames
    from luchtwacht.model.detection import RfEmitter
    from luchtwacht.sim.targets import RfLink

    link = RfLink("DJI OcuSync 2", "1581F5FJD229V00QZ9", centre_mhz=2440.0, eirp_dbm=20.0)
    a = at(RF_A, 0.0, 0.0, 5.0, pd=1.0, false_alarms_per_scan=0.0)
    sim = BearingSensorSim(a, ORIGIN, EPOCH, seed=4)
    tgt = dataclasses.replace(drone(start=(600.0, 800.0, 90.0)), rf_link=link)
    frames = sim.scan(0.0, [tgt])
    msg = parse_message((split_frames(frames[-1]) or [b""])[0])
    validate(msg)
    dr = msg.detection_report
    assert [(o.type, o.value) for o in dr.object_info] == [
        ("Protocol", "DJI OcuSync 2"),
        ("Serial", "1581F5FJD229V00QZ9"),
    ]
    (sig,) = dr.signal
    assert sig.start_frequency < sig.centre_frequency == 2.44e9 < sig.stop_frequency
    # 1000 m (plus 85 m up) at 2.44 GHz: free-space loss 20 log10(d) + 20 log10(f) − 147.55.
    d = math.dist((600.0, 800.0, 90.0), (0.0, 0.0, 5.0))
    fspl = 20 * math.log10(d) + 20 * math.log10(2.44e9) - 147.55
    assert abs(sig.amplitude - (20.0 - fspl)) < 8.0  # 2 dB fading, 4σ
    pipe = SapientPipe("rf-1", ORIGIN)
    (batch,) = pipe.feed(b"".join(frames)) + pipe.flush()
    assert isinstance(batch, BearingBatch)
    # The link's band as measured (10 MHz around 2440 MHz) comes with it, in MHz; the detector
    # hears the controller's uplink too (no serial on it), reported first as its own object.
    assert batch.emitter == (
        RfEmitter("DJI OcuSync 2", None, (2435.0, 2445.0), controller=True),
        RfEmitter("DJI OcuSync 2", "1581F5FJD229V00QZ9", (2435.0, 2445.0)),
    )

    # End to end with two detectors: the track carries the link; a drone whose link the
    # detectors cannot read carries none.
    plain = dataclasses.replace(drone(start=(-300.0, 1200.0, 90.0)), name="plain")
    scen = scenario([tgt, plain], [a, at(RF_B, 2000.0, 0.0, 5.0, pd=1.0)], duration=30.0)
    p = Pipeline(scen)
    p.run(scen.duration_s)
    links = {(v.rf_protocol, v.rf_serial, v.rf_band_mhz) for v in p.views}
    assert ("DJI OcuSync 2", "1581F5FJD229V00QZ9", (2435.0, 2445.0)) in links
    assert (None, None, None) in links
    assert all(not v.cooperative for v in p.views)  # a decoded serial is not compliance


def test_emitter_entries_must_match_the_detections():
    from luchtwacht.model.detection import N_CLASSES, RfEmitter

    with pytest.raises(ValueError, match="emitter"):
        DetectionBatch(
            "r", np.zeros(2), np.zeros((2, 3)), np.broadcast_to(np.eye(3), (2, 3, 3)).copy(),
            np.zeros((2, N_CLASSES)), emitter=(RfEmitter("x"),),
        )  # fmt: skip
