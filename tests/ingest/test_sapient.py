import contextlib
import math
import struct

import numpy as np
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from sapient_msg.bsi_flex_335_v2_0 import location_pb2, range_bearing_pb2, task_ack_pb2

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import (
    FrameReader,
    SapientError,
    SapientMessage,
    SapientPipe,
    frame,
    is_ulid,
    new_ulid,
    parse_message,
    validate,
)
from luchtwacht.model.detection import BearingBatch, DetectionBatch, ObjectClass
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.targets import Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
RADAR = RadarConfig(
    node_id="4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat_deg=51.655, lon_deg=5.705, alt_m=75.0
)
EPOCH = 1_781_299_800.0


def located(batches: list[DetectionBatch | BearingBatch]) -> list[DetectionBatch]:
    """The position batches of a pipe's output (all of it, in these tests)."""
    assert all(isinstance(b, DetectionBatch) for b in batches)
    return [b for b in batches if isinstance(b, DetectionBatch)]


def load(path):
    msg = SapientMessage()
    json_format.Parse(path.read_text(encoding="utf-8-sig"), msg)
    return msg


def test_every_valid_conformance_vector_passes(shared):
    files = sorted(shared.dir("data", "sapient", "valid").glob("*.json"))
    files += sorted(shared.dir("data", "sapient", "simulator_defaults").rglob("*.json"))
    assert len(files) > 40
    for f in files:
        validate(load(f))  # raises on failure, naming the file in the traceback


# Shared invalid vectors the validator does not judge yet: none since the ICD rules were completed
# (coverage/obscuration LocationType, velocity datum and dependant-node rules).
NOT_YET: set[str] = set()


def test_invalid_conformance_vectors_fail_naming_a_field(shared):
    files = sorted(shared.dir("data", "sapient", "invalid").glob("*.json"))
    judged = 0
    for f in files:
        if f.name[:4] in NOT_YET:
            continue
        try:
            msg = load(f)
        except json_format.ParseError:
            continue  # not even protobuf JSON: the parser rejects it before our rules run
        with pytest.raises(SapientError) as info:
            validate(msg)
        assert info.value.field.startswith("SapientMessage"), f.name
        judged += 1
    assert judged >= 100


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (
            lambda m: m.detection_report.ClearField("object_id"),
            "SapientMessage.detection_report.object_id",
            "mandatory field missing",
        ),
        (
            lambda m: setattr(m.detection_report, "report_id", "01GGYFBAXGDG7AGAHRZ6XSNY1!"),
            "SapientMessage.detection_report.report_id",
            "not a ULID",
        ),
        (lambda m: setattr(m, "node_id", "radar-1"), "SapientMessage.node_id", "not a UUID"),
        (
            lambda m: m.detection_report.ClearField("location"),
            "SapientMessage.detection_report.location",
            "mandatory: location or range_bearing",
        ),
        (
            lambda m: m.detection_report.location.ClearField("coordinate_system"),
            "SapientMessage.detection_report.location.coordinate_system",
            "mandatory field missing",
        ),
        (
            lambda m: setattr(m.detection_report, "detection_confidence", 1.5),
            "SapientMessage.detection_report.detection_confidence",
            "outside [0, 1]",
        ),
        (
            lambda m: m.ClearField("timestamp"),
            "SapientMessage.timestamp",
            "mandatory field missing",
        ),
    ],
)
def test_rule_names_the_broken_field(shared, mutate, field, rule):
    msg = load(shared.dir("data", "sapient", "valid") / "DetectionReport.FullMessage.json")
    validate(msg)
    mutate(msg)
    with pytest.raises(SapientError) as info:
        validate(msg)
    assert (info.value.field, info.value.rule) == (field, rule)


def test_ulid_generation_is_valid_and_reproducible():
    a = new_ulid(EPOCH, np.random.default_rng(1))
    b = new_ulid(EPOCH, np.random.default_rng(1))
    assert a == b and is_ulid(a) and len(a) == 26


def sim_stream(t_s, targets):
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=1)
    return radar, b"".join(radar.scan(t_s, targets))


def test_frames_reassemble_across_arbitrary_chunks():
    _, stream = sim_stream(0.0, [])
    reader = FrameReader()
    bodies: list[bytes] = []
    for i in range(0, len(stream), 7):
        bodies.extend(reader.feed(stream[i : i + 7]))
    assert [validate(parse_message(b)) for b in bodies][:2] == ["registration", "status_report"]
    assert reader.pending_bytes == 0


def test_range_bearing_plot_lands_on_the_target_in_enu():
    tgt = Target(
        "d",
        ObjectClass.DRONE,
        1.0,
        WaypointPath(((1500.0, -800.0, 120.0), (1500.0, -700.0, 120.0)), (10.0,)),
    )
    _, stream = sim_stream(0.0, [tgt])  # the scan also carries clutter: pick the nearest plot
    pipe = SapientPipe("radar-1", ORIGIN)
    batches = located(pipe.feed(stream) + pipe.flush())
    z = np.concatenate([b.z for b in batches])
    d = np.linalg.norm(z - [1500.0, -800.0, 120.0], axis=1)
    j = int(d.argmin())
    cov = np.concatenate([b.R for b in batches])[j]
    # within 4σ of the linearised covariance
    nu = z[j] - [1500.0, -800.0, 120.0]
    assert nu @ np.linalg.solve(cov, nu) < 16.3
    assert pipe.counters.by_kind["registration"] == 1 and pipe.counters.rejected == 0


def test_detection_before_status_report_is_rejected_and_counted():
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=2)
    pipe = SapientPipe("radar-1", ORIGIN)
    det = radar._detection(1.0, 10.0, 1.0, 1000.0, 0.9, None, 0.0)
    pipe.feed(frame(radar.registration(0.0)) + frame(det))
    assert pipe.counters.rejected == 1
    (reason,) = pipe.counters.rejected_by_reason
    assert "range_bearing" in reason and "node location unknown" in reason


def test_malformed_messages_are_rejected_and_the_stream_goes_on():
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=3)
    pipe = SapientPipe("radar-1", ORIGIN)
    good = frame(radar.registration(0.0)) + frame(radar.status_report(0.0))
    bad_ulid = radar._detection(1.0, 10.0, 1.0, 1000.0, 0.9, None, 0.0)
    bad_ulid.detection_report.report_id = "not-a-ulid"
    bad_range = radar._detection(1.0, 10.0, 1.0, -5.0, 0.9, None, 0.0)
    garbage = b"\x0a\xff\xff\xff\xff\x0f"
    ok = radar._detection(1.0, 20.0, 2.0, 2000.0, 0.9, ObjectClass.BIRD, 0.8)
    stream = (
        good
        + frame(bad_ulid)
        + frame(bad_range)
        + struct.pack("<I", len(garbage))
        + garbage
        + frame(ok)
    )
    batches = pipe.feed(stream) + pipe.flush()
    assert sum(len(b) for b in batches) == 1
    reasons = set(pipe.counters.rejected_by_reason)
    assert "SapientMessage.detection_report.report_id: not a ULID" in reasons
    assert "SapientMessage.detection_report.range_bearing.range: negative range" in reasons
    assert "SapientMessage: malformed protobuf" in reasons
    assert pipe.counters.rejected == 3
    # the surviving plot carries the radar's bird classification
    assert batches[0].class_loglik[0].argmax() == ObjectClass.BIRD


def test_absurd_length_prefix_is_rejected_and_reader_recovers():
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=4)
    pipe = SapientPipe("radar-1", ORIGIN)
    pipe.feed(struct.pack("<I", 50_000_000) + b"junk")
    assert "frame.length: exceeds maximum" in pipe.counters.rejected_by_reason
    pipe.feed(frame(radar.registration(0.0)))
    assert pipe.counters.by_kind["registration"] == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_parse_and_validate_raise_only_sapient_errors(data):
    with contextlib.suppress(SapientError):
        validate(parse_message(data))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_fuzz_pipe_never_raises(chunks):
    pipe = SapientPipe("radar-1", ORIGIN)
    for c in chunks:
        pipe.feed(c)
    pipe.flush()
    assert pipe.counters.decoded + pipe.counters.rejected >= 0


def test_fusion_node_answers_registration_alert_and_errors(shared):
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=5)
    pipe = SapientPipe("radar-1", ORIGIN)
    reg = radar.registration(0.0)
    bad_reg = radar.registration(0.0)
    bad_reg.registration.icd_version = "BSI Flex 335 v1.0"
    alert = load(shared.dir("data", "sapient", "valid") / "Alert.FullMessage.json")
    alert.node_id = RADAR.node_id
    bad_det = radar._detection(1.0, 10.0, 1.0, -1.0, 0.9, None, 0.0)
    pipe.feed(frame(reg) + frame(bad_reg) + frame(alert) + frame(bad_det))
    replies = [parse_message(r[4:]) for r in pipe.take_replies()]
    assert [validate(r) for r in replies] == [
        "registration_ack",
        "registration_ack",
        "alert_ack",
        "error",
    ]
    assert all(r.destination_id == RADAR.node_id for r in replies)
    assert replies[0].registration_ack.acceptance
    assert not replies[1].registration_ack.acceptance
    assert "icd_version" in replies[1].registration_ack.ack_response_reason[0]
    assert replies[2].alert_ack.alert_id == alert.alert.alert_id
    assert "range: negative range" in replies[3].error.error_message[0]
    assert pipe.take_replies() == []


def _registered_pipe():
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=6)
    pipe = SapientPipe("radar-1", ORIGIN)
    pipe.feed(frame(radar.registration(0.0)) + frame(radar.status_report(0.0)))
    return radar, pipe


def test_geodetic_reports_in_degrees_and_radians_land_on_the_same_enu():
    radar, pipe = _registered_pipe()
    a = radar._detection(1.0, 10.0, 1.0, 1000.0, 0.9, None, 0.0)
    a.detection_report.ClearField("range_bearing")
    loc = a.detection_report.location
    loc.x, loc.y, loc.z, loc.x_error, loc.y_error, loc.z_error = 5.72, 51.66, 150.0, 1e-4, 1e-4, 5.0
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    loc.datum = location_pb2.LOCATION_DATUM_WGS84_E
    b = SapientMessage()
    b.CopyFrom(a)
    loc = b.detection_report.location
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M
    loc.x, loc.y = np.radians(5.72), np.radians(51.66)
    loc.x_error, loc.y_error = np.radians(1e-4), np.radians(1e-4)
    batches = pipe.feed(frame(a) + frame(b)) + pipe.flush()
    z = np.concatenate([x.z for x in batches])
    cov = np.concatenate([x.R for x in batches])
    assert z.shape == (2, 3) and pipe.counters.rejected == 0
    np.testing.assert_allclose(z[0], z[1], atol=1e-6)
    np.testing.assert_allclose(cov[0], cov[1], rtol=1e-9)
    np.testing.assert_allclose(z[0], ORIGIN.to_enu(51.66, 5.72, 150.0), atol=1e-6)


def test_range_bearing_in_radians_and_kilometres_matches_degrees_and_metres():
    radar, pipe = _registered_pipe()
    a = radar._detection(1.0, 30.0, 2.0, 2500.0, 0.9, None, 0.0)
    b = SapientMessage()
    b.CopyFrom(a)
    rb = b.detection_report.range_bearing
    rb.coordinate_system = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM
    rb.azimuth, rb.elevation, rb.range = np.radians(30.0), np.radians(2.0), 2.5
    rb.azimuth_error = np.radians(a.detection_report.range_bearing.azimuth_error)
    rb.elevation_error = np.radians(a.detection_report.range_bearing.elevation_error)
    rb.range_error = a.detection_report.range_bearing.range_error / 1000.0
    batches = pipe.feed(frame(a) + frame(b)) + pipe.flush()
    z = np.concatenate([x.z for x in batches])
    cov = np.concatenate([x.R for x in batches])
    np.testing.assert_allclose(z[0], z[1], atol=1e-6)
    np.testing.assert_allclose(cov[0], cov[1], rtol=1e-6)


def _location_report(radar, lat, lon, alt, datum=location_pb2.LOCATION_DATUM_WGS84_E):
    det = radar._detection(1.0, 10.0, 1.0, 1000.0, 0.9, None, 0.0)
    det.detection_report.ClearField("range_bearing")
    loc = det.detection_report.location
    loc.x, loc.y, loc.z = lon, lat, alt
    loc.x_error, loc.y_error, loc.z_error = 1e-5, 1e-5, 3.0
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M
    loc.datum = datum
    return det


def test_utm_report_is_placed_where_its_geodetic_twin_is():
    from luchtwacht.geo.utm import geodetic_to_utm

    radar, pipe = _registered_pipe()
    lat, lon, alt = 51.6601, 5.7153, 150.0
    twin = _location_report(radar, lat, lon, alt)
    det = _location_report(radar, lat, lon, alt)
    e, n = geodetic_to_utm(lat, lon, "31U")
    loc = det.detection_report.location
    loc.x, loc.y, loc.utm_zone = float(e), float(n), "31U"
    loc.x_error, loc.y_error = 4.0, 6.0  # metres on the grid
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M
    assert validate(det) == "detection_report"
    (batch,) = pipe.feed(frame(twin) + frame(det)) + pipe.flush()
    np.testing.assert_allclose(batch.z[0], batch.z[1], atol=1e-3)
    np.testing.assert_allclose(batch.z[1], ORIGIN.to_enu(lat, lon, alt), atol=1e-3)
    np.testing.assert_allclose(np.sqrt(np.diag(batch.R[1])), [4.0, 6.0, 3.0])
    assert pipe.counters.rejected == 0


def test_geoid_heights_and_magnetic_or_grid_bearings_are_converted():
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=11)
    pipe = SapientPipe("r", ORIGIN, geoid_undulation_m=43.0, magnetic_declination_deg=2.5)
    pipe.feed(frame(radar.registration(0.0)) + frame(radar.status_report(0.0)))
    msl = _location_report(radar, 51.66, 5.71, 100.0, datum=location_pb2.LOCATION_DATUM_WGS84_G)
    true_b = radar._detection(1.0, 40.0, 2.0, 2000.0, 0.9, None, 0.0)
    magnetic = radar._detection(1.0, 37.5, 2.0, 2000.0, 0.9, None, 0.0)
    magnetic.detection_report.range_bearing.datum = range_bearing_pb2.RANGE_BEARING_DATUM_MAGNETIC
    (batch,) = located(pipe.feed(frame(msl) + frame(true_b) + frame(magnetic)) + pipe.flush())
    np.testing.assert_allclose(batch.z[0], ORIGIN.to_enu(51.66, 5.71, 143.0), atol=1e-3)
    np.testing.assert_allclose(batch.z[1], batch.z[2], atol=1e-6)  # 37.5° magnetic = 40° true
    # grid bearings: at 5.705° E in zone 31 (central meridian 3° E) grid north is ~2.12° east of true
    grid = radar._detection(1.0, 40.0, 2.0, 2000.0, 0.9, None, 0.0)
    grid.detection_report.range_bearing.datum = range_bearing_pb2.RANGE_BEARING_DATUM_GRID
    (gb,) = located(pipe.feed(frame(grid)) + pipe.flush())
    aer = ORIGIN.enu_to_aer(gb.z[0], RADAR.lat_deg, RADAR.lon_deg, RADAR.alt_m)
    assert aer[0] == pytest.approx(40.0 + 2.12, abs=0.02)


def test_bearings_that_cannot_be_placed_are_rejected_with_the_reason():
    radar, pipe = _registered_pipe()  # no declination configured
    magnetic = radar._detection(1.0, 37.5, 2.0, 2000.0, 0.9, None, 0.0)
    magnetic.detection_report.range_bearing.datum = range_bearing_pb2.RANGE_BEARING_DATUM_MAGNETIC
    platform = radar._detection(1.0, 37.5, 2.0, 2000.0, 0.9, None, 0.0)
    platform.detection_report.range_bearing.datum = range_bearing_pb2.RANGE_BEARING_DATUM_PLATFORM
    assert pipe.feed(frame(magnetic) + frame(platform)) + pipe.flush() == []
    reasons = set(pipe.counters.rejected_by_reason)
    assert (
        "SapientMessage.detection_report.range_bearing.datum: magnetic bearing needs the site's magnetic declination"
        in reasons
    )
    assert (
        "SapientMessage.detection_report.range_bearing.datum: platform-relative bearing needs the platform heading"
        in reasons
    )


def test_scan_groups_become_batches_in_time_order():
    radar, pipe = _registered_pipe()
    frames = b""
    for t in (1.0, 2.0, 3.0):
        for az in (10.0, 20.0):
            frames += frame(radar._detection(t, az, 1.0, 1000.0, 0.9, ObjectClass.DRONE, 0.8))
    early = pipe.feed(frames)  # the 3.0 s scan may still grow
    late = pipe.flush()
    assert [b.time_s for b in early] == [EPOCH + 1.0, EPOCH + 2.0]
    assert [b.time_s for b in late] == [EPOCH + 3.0]
    assert all(len(b) == 2 for b in early + late)
    assert pipe.counters.by_kind["detection_report"] == 6
    assert all(b.class_loglik[:, ObjectClass.DRONE].max() == 0.0 for b in early + late)


def test_an_unplaceable_position_is_rejected_not_passed_on():
    radar, pipe = _registered_pipe()
    det = _location_report(radar, 51.66, 5.71, 100.0)
    loc = det.detection_report.location
    loc.x, loc.y, loc.utm_zone = 1e30, 5725900.0, "31U"  # finite, valid SAPIENT, off the map
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M
    good = _location_report(radar, 51.66, 5.71, 100.0)
    batches = pipe.feed(frame(det) + frame(good)) + pipe.flush()
    assert sum(len(b) for b in batches) == 1
    assert all(np.isfinite(b.z).all() and np.isfinite(b.R).all() for b in batches)
    assert (
        pipe.counters.rejected_by_reason["SapientMessage.detection_report: position not placeable"]
        == 1
    )


def test_messages_from_unknown_nodes_leave_no_state_behind():
    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=12)
    pipe = SapientPipe("r", ORIGIN)
    for k in range(50):
        det = radar._detection(1.0, 10.0, 1.0, 1000.0, 0.9, None, 0.0)
        det.node_id = f"00000000-0000-4000-8000-{k:012d}"
        pipe.feed(frame(det))
    status = radar.status_report(0.0)
    pipe.feed(frame(status))  # a StatusReport before any Registration
    assert pipe.nodes == {} and pipe.node_ids_here == set()
    assert pipe.counters.rejected == 51


def test_plots_stamped_milliseconds_apart_are_one_look():
    radar, pipe = _registered_pipe()
    frames = b""
    for j, az in enumerate((10.0, 50.0, 90.0)):
        frames += frame(radar._detection(1.0 + 0.01 * j, az, 1.0, 1500.0, 0.9, None, 0.0))
    frames += frame(radar._detection(2.0, 10.0, 1.0, 1500.0, 0.9, None, 0.0))
    batches = pipe.feed(frames) + pipe.flush()
    assert [len(b) for b in batches] == [3, 1]
    np.testing.assert_allclose(batches[0].t_s - EPOCH, [1.0, 1.01, 1.02])
    assert batches[0].time_s == pytest.approx(EPOCH + 1.02)


def test_range_bearing_scans_also_reach_the_tracker_in_the_radars_own_space():
    radar, pipe = _registered_pipe()
    a = radar._detection(1.0, 30.0, 2.0, 2500.0, 0.9, None, 0.0)
    b = radar._detection(1.0, 200.0, 5.0, 900.0, 0.9, None, 0.0)
    batches = pipe.feed(frame(a) + frame(b)) + pipe.flush()
    assert len(batches) == 1
    batch = batches[0]
    assert batch.polar is not None and batch.polar_cov is not None
    assert batch.sensor_enu_m is not None
    sensor = ORIGIN.to_enu(RADAR.lat_deg, RADAR.lon_deg, RADAR.alt_m).reshape(3)
    np.testing.assert_allclose(batch.sensor_enu_m, sensor)
    assert batch.coverage_range_m == RADAR.max_range_m  # from the Registration's MaxRange
    # The (az, el, r) handed over, seen from the radar in the site frame, rebuild the ENU plots.
    az, el, r = batch.polar.T
    rebuilt = sensor + r[:, None] * np.column_stack(
        [np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)]
    )
    np.testing.assert_allclose(rebuilt, batch.z, atol=1e-6)
    # …and are the reported ones to within the tilt between the radar's level and the site's
    # (the radar stands ~250 m from the site origin: a few thousandths of a degree).
    reported = np.array([[30.0, 2.0, 2500.0], [200.0 - 360.0, 5.0, 900.0]])
    np.testing.assert_allclose(np.degrees(batch.polar[:, :2]), reported[:, :2], atol=0.01)
    np.testing.assert_allclose(batch.polar[:, 2], reported[:, 2], rtol=1e-6)
    sig = a.detection_report.range_bearing
    np.testing.assert_allclose(
        np.diag(batch.polar_cov[0]),
        [np.radians(sig.azimuth_error) ** 2, np.radians(sig.elevation_error) ** 2,
         sig.range_error**2],
        rtol=1e-9,
    )  # fmt: skip


def test_a_scan_mixing_positions_and_range_bearing_goes_to_the_tracker_in_enu_only():
    radar, pipe = _registered_pipe()
    a = radar._detection(1.0, 30.0, 2.0, 2500.0, 0.9, None, 0.0)
    b = _location_report(radar, 51.66, 5.72, 150.0)
    batches = pipe.feed(frame(a) + frame(b)) + pipe.flush()
    assert len(batches) == 1 and len(batches[0]) == 2
    assert batches[0].polar is None


def test_a_radar_in_an_outage_sends_nothing_then_resumes():
    import dataclasses

    tgt = Target(
        "d",
        ObjectClass.DRONE,
        1.0,
        WaypointPath(((1500.0, -800.0, 120.0), (1500.0, -700.0, 120.0)), (10.0,)),
    )
    radar = RadarSim(dataclasses.replace(RADAR, outages_s=((3.0, 6.0),)), ORIGIN, EPOCH, seed=4)
    sent = []
    while radar.next_scan_s < 10.0:
        t = radar.next_scan_s
        sent.append((t, len(radar.scan(t, [tgt]))))
    assert [t for t, n in sent] == [float(k) for k in range(10)]
    assert all(n == 0 for t, n in sent if 3.0 <= t < 6.0)
    assert all(n > 0 for t, n in sent if not 3.0 <= t < 6.0)


def test_a_2d_radar_plot_without_elevation_is_placed_at_the_horizon_with_a_wide_sigma():
    radar, pipe = _registered_pipe()
    det = radar._detection(1.0, 30.0, 2.0, 2500.0, 0.9, None, 0.0)
    rb = det.detection_report.range_bearing
    rb.ClearField("elevation")
    rb.ClearField("elevation_error")
    (batch,) = located(pipe.feed(frame(det)) + pipe.flush())
    assert pipe.counters.rejected == 0 and batch.polar is None  # ENU update only
    aer = ORIGIN.enu_to_aer(batch.z[0], RADAR.lat_deg, RADAR.lon_deg, RADAR.alt_m)
    assert aer[0] == pytest.approx(30.0, abs=1e-6) and aer[1] == pytest.approx(0.0, abs=1e-6)
    assert np.sqrt(batch.R[0, 2, 2]) > 300.0  # ~10° of elevation at 2.5 km


def test_a_look_stamped_over_milliseconds_stays_one_batch_across_deliveries():
    radar, pipe = _registered_pipe()
    sizes = []
    for scan in (1.0, 2.0, 3.0):
        msgs = [
            radar._detection(scan + 0.01 * k, 10.0 * k, 2.0, 1500.0, 0.9, None, 0.0)
            for k in range(3)
        ]
        sizes += [len(b) for b in pipe.feed(b"".join(frame(m) for m in msgs))]
    sizes += [len(b) for b in pipe.flush()]
    assert sizes == [3, 3, 3]


@pytest.mark.parametrize(
    ("value", "units", "metres"),
    [("3", "km", 3000.0), ("2.5", "kilometres", 2500.0), ("800", "m", 800.0),
     ("800", "furlongs", math.inf), ("far", "m", math.inf), ("-5", "m", math.inf)],
)  # fmt: skip
def test_a_registrations_max_range_is_read_with_its_units(value, units, metres):
    from luchtwacht.ingest.sapient import registered_max_range_m

    radar = RadarSim(RADAR, ORIGIN, EPOCH, seed=1)
    reg = radar.registration(0.0)
    cap = reg.registration.capabilities[0]
    cap.value, cap.units = value, units
    assert registered_max_range_m(reg.registration) == metres


def test_a_status_report_placed_off_the_map_is_refused_and_leaves_the_node_where_it_was():
    """A finite UTM easting PROJ cannot place (1e12 m) made the node's location inf, and every
    later grid-north plot raised in the tick: it is refused at ingest instead."""
    from luchtwacht.ingest.sapient import frame

    radar = RadarSim(RADAR, ORIGIN, EPOCH, 1)
    pipe = SapientPipe("s", ORIGIN)
    pipe.feed(b"".join(radar.scan(0.0, [])), EPOCH)
    where = (pipe.nodes[RADAR.node_id].lat_deg, pipe.nodes[RADAR.node_id].lon_deg)
    bad = radar.status_report(1.0)
    loc = bad.status_report.node_location
    loc.coordinate_system = location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M
    loc.utm_zone, loc.x, loc.y = "31U", 1e12, 5.7e6
    pipe.feed(frame(bad), EPOCH + 1)
    assert (
        pipe.counters.rejected_by_reason[
            "SapientMessage.status_report.node_location: position not placeable"
        ]
        == 1
    )
    node = pipe.nodes[RADAR.node_id]
    assert (node.lat_deg, node.lon_deg) == where and math.isfinite(node.lat_deg or math.nan)


def test_task_acks_are_bounded_and_a_node_id_in_capitals_is_the_same_node():
    from luchtwacht.ingest.sapient import MAX_TASK_ACKS, frame, new_ulid

    radar = RadarSim(RADAR, ORIGIN, EPOCH, 1)
    pipe = SapientPipe("s", ORIGIN)
    pipe.feed(b"".join(radar.scan(0.0, [])), EPOCH)
    rng = np.random.default_rng(1)
    acks = b""
    for k in range(MAX_TASK_ACKS + 50):
        msg = radar.status_report(1.0)
        msg.ClearField("status_report")
        msg.task_ack.task_id = new_ulid(EPOCH + 1 + k * 1e-3, rng)
        msg.task_ack.task_status = task_ack_pb2.TaskAck.TASK_STATUS_ACCEPTED
        acks += frame(msg)
    pipe.feed(acks, EPOCH + 2)
    assert len(pipe.nodes[RADAR.node_id].task_acks) == MAX_TASK_ACKS
    shouted = radar.status_report(3.0)
    shouted.node_id = RADAR.node_id.upper()
    pipe.feed(frame(shouted), EPOCH + 3)
    assert list(pipe.nodes) == [RADAR.node_id]  # no twin under the capitalised id


def test_a_track_reported_lost_is_decoded_but_is_no_new_plot():
    """A fusion node below (publish.sapient_up) ends a track with state "lost" at its last fix."""
    radar, pipe = _registered_pipe()
    ended = _location_report(radar, 51.66, 5.71, 100.0)
    ended.detection_report.state = "Lost"
    live = _location_report(radar, 51.661, 5.711, 100.0)
    live.detection_report.state = "tracked"
    batches = pipe.feed(frame(ended) + frame(live)) + pipe.flush()
    assert sum(len(b) for b in batches) == 1
    assert pipe.counters.rejected == 0
