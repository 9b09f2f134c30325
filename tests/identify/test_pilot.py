"""Pilot location: controller fixes from RF bearings, association to tracks, Remote ID, wire path."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from luchtwacht.geo import SiteOrigin
from luchtwacht.identify.pilot import KEEP_S, REMOTE_ID_STD_M, PilotEstimate, PilotLocator
from luchtwacht.model.detection import N_CLASSES, BearingBatch, RfEmitter
from luchtwacht.node.ports import Subscription
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.store.recorder import Recorder
from luchtwacht.store.replay import replay

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
ELRS = RfEmitter("ExpressLRS 2.4", None, (2439.5, 2440.5), controller=True)
PILOT = np.array([350.0, -540.0, 1.5])
DETECTORS = (np.array([-1040.0, 600.0, 8.0]), np.array([1040.0, -600.0, 8.0]),
             np.array([900.0, 700.0, 8.0]))  # fmt: skip
STD = math.radians(2.0)


def _ray(sensor: np.ndarray, at: np.ndarray, std: float, rng: np.random.Generator | None) -> float:
    d = at - sensor
    az = math.atan2(d[0], d[1])
    return az + (float(rng.normal(0.0, std)) if rng is not None else 0.0)


def _batch(
    sensor: np.ndarray, t_s: float, azimuths: list[float], emitters: list[RfEmitter | None]
) -> BearingBatch:
    n = len(azimuths)
    return BearingBatch(
        sensor_id="rf", sensor_enu_m=sensor, t_s=t_s, azimuth_rad=np.array(azimuths),
        azimuth_std_rad=np.full(n, STD), elevation_rad=np.full(n, np.nan),
        elevation_std_rad=np.full(n, np.nan), class_loglik=np.zeros((n, N_CLASSES)),
        emitter=tuple(emitters),
    )  # fmt: skip


def _fix(
    n_detectors: int, rng: np.random.Generator | None, seconds: int = 1
) -> tuple[PilotLocator, list[PilotEstimate | None]]:
    loc = PilotLocator(ORIGIN)
    for t in range(seconds):
        for s in DETECTORS[:n_detectors]:
            assert loc.take(_batch(s, float(t), [_ray(s, PILOT, STD, rng)], [ELRS])) is None
    drone = RfEmitter("ExpressLRS 2.4", None, (2439.5, 2440.5))
    return loc, list(loc.estimates(float(seconds), [7], [drone], [None]))


def test_two_detectors_place_the_controller_where_the_rays_cross() -> None:
    _, (est,) = _fix(2, None)
    assert est is not None
    e, n, _ = ORIGIN.to_enu(est.lat_deg, est.lon_deg, 0.0).reshape(3)
    assert math.hypot(e - PILOT[0], n - PILOT[1]) < 1.0  # noise-free: the crossing itself
    assert est.source == "rf bearings (2 detectors)" and est.detectors == 2
    assert 5.0 < est.err_m < 200.0 and est.ellipse_m[0] >= est.ellipse_m[1] > 0.0


@pytest.mark.parametrize("n_detectors", [2, 3])
def test_the_error_stays_within_its_stated_uncertainty(n_detectors: int) -> None:
    rng = np.random.default_rng(5)
    inside, refused, sigmas = 0, 0, []
    for _ in range(200):
        _, (est,) = _fix(n_detectors, rng)
        if est is None:  # the χ² gate refuses a few honest fixes
            refused += 1
            continue
        d = np.array([est.east_m - PILOT[0], est.north_m - PILOT[1]])
        a, b, brg = est.ellipse_m
        # Mahalanobis distance in the ellipse's axes (major along the bearing from north).
        u = np.array([math.sin(math.radians(brg)), math.cos(math.radians(brg))])
        v = np.array([u[1], -u[0]])
        m2 = (d @ u / a) ** 2 + (d @ v / b) ** 2
        inside += m2 <= 5.991  # χ²(2) at 95 %
        sigmas.append(est.err_m)
    assert refused <= 2
    assert 0.88 <= inside / 200 <= 0.99  # the stated ellipse is honest, neither loose nor tight
    if n_detectors == 3:
        two = [_fix(2, np.random.default_rng(k))[1][0] for k in range(50)]
        assert np.median(sigmas) < np.median([e.err_m for e in two if e is not None])


def test_more_rays_over_time_shrink_the_error() -> None:
    _, (one,) = _fix(2, np.random.default_rng(1), seconds=1)
    _, (many,) = _fix(2, np.random.default_rng(1), seconds=16)
    assert one is not None and many is not None
    assert many.err_m < one.err_m / 3.0  # 1/√16 in theory


def test_one_detector_alone_gives_no_estimate() -> None:
    loc, (est,) = _fix(1, np.random.default_rng(2), seconds=20)
    assert est is None and loc.bearings_taken == 20


def test_the_controller_goes_to_the_track_whose_link_matches() -> None:
    """Two drones on the same protocol in different channels, a third on another protocol."""
    loc = PilotLocator(ORIGIN)
    pilot_b = np.array([-600.0, -900.0, 1.5])
    ctrl_b = RfEmitter("ExpressLRS 2.4", None, (2419.5, 2420.5), controller=True)
    for t in range(3):
        for s in DETECTORS[:2]:
            loc.take(_batch(s, float(t), [_ray(s, PILOT, STD, None), _ray(s, pilot_b, STD, None)],
                            [ELRS, ctrl_b]))  # fmt: skip
    links = [
        RfEmitter("ExpressLRS 2.4", None, (2419.5, 2420.5)),  # drone B
        RfEmitter("DJI OcuSync 3", "1581F5FJC11A00P2R9", (2435.0, 2445.0)),  # no controller
        RfEmitter("ExpressLRS 2.4", None, (2439.5, 2440.5)),  # drone A
        None,  # a bird
    ]
    got = loc.estimates(3.0, [1, 2, 3, 4], links, [None] * 4)
    assert got[1] is None and got[3] is None
    assert got[0] is not None and got[2] is not None
    assert math.hypot(got[0].east_m - pilot_b[0], got[0].north_m - pilot_b[1]) < 1.0
    assert math.hypot(got[2].east_m - PILOT[0], got[2].north_m - PILOT[1]) < 1.0


def test_a_controller_two_tracks_could_own_is_given_to_neither() -> None:
    loc, _ = _fix(2, None)
    same = RfEmitter("ExpressLRS 2.4", None, (2439.5, 2440.5))
    assert loc.estimates(1.0, [1, 2], [same, same], [None, None]) == [None, None]
    assert loc.ambiguous == 1


def test_controller_rows_leave_the_batch_the_rest_goes_on() -> None:
    loc = PilotLocator(ORIGIN)
    drone = RfEmitter("ExpressLRS 2.4", None, (2439.5, 2440.5))
    rest = loc.take(_batch(DETECTORS[0], 0.0, [0.1, 0.2, 0.3], [drone, ELRS, None]))
    assert rest is not None and len(rest) == 2
    assert rest.azimuth_rad.tolist() == [0.1, 0.3] and rest.emitter == (drone, None)
    plain = _batch(DETECTORS[0], 0.0, [0.1], [None])
    assert loc.take(plain) is plain


def test_remote_id_operator_is_used_and_kept_for_a_while() -> None:
    loc = PilotLocator(ORIGIN)
    (est,) = loc.estimates(100.0, [3], [None], [(51.66, 5.71, 99.0)])
    assert est is not None and est.source == "remote id" and est.err_m == REMOTE_ID_STD_M
    assert (est.lat_deg, est.lon_deg, est.t_s) == (51.66, 5.71, 99.0)
    assert loc.estimates(150.0, [3], [None], [None]) == [est]  # no new evidence: kept
    assert loc.estimates(99.0 + KEEP_S + 1.0, [3], [None], [None]) == [None]


SCENARIO = """
name: pilot-two-detectors
seed: 3
duration_s: 45
epoch: 2026-06-12T21:30:00Z
site: {lat: 51.6564, lon: 5.7087, alt_m: 65.0}
zones:
  - name: EHVK runway
    runway: {heading_deg: 58.0, half_length_m: 2000.0, half_width_m: 600.0}
    floor_m: 0.0
    ceiling_m: 500.0
    warn_time_s: 60.0
radars:
  - node_id: 4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c
    name: EHVK 3D radar
    position: {bearing_deg: -32.0, distance_m: 300.0, up_m: 10.0}
rf_detectors:
  - node_id: 7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b01
    name: RF DF north-west
    position: {bearing_deg: 300.0, distance_m: 1200.0, up_m: 8.0}
  - node_id: 7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b02
    name: RF DF south-east
    position: {bearing_deg: 120.0, distance_m: 1200.0, up_m: 8.0}
targets:
  - name: DJI with pilot
    class: drone
    rcs_m2: 0.02
    role: intruder
    path:
      waypoints:
        - {bearing_deg: 148.0, distance_m: 1000.0, up_m: 80.0}
        - {bearing_deg: 148.0, distance_m: 500.0, up_m: 80.0}
      speeds_ms: [8.0]
    rf_link:
      protocol: DJI OcuSync 3
      centre_mhz: 2440.0
      model: Rotary wing / DJI Mavic 3
      pilot: {bearing_deg: 150.0, distance_m: 700.0, up_m: 1.5}
"""


def test_wire_path_end_to_end(tmp_path: Path) -> None:
    """SAPIENT bytes from two simulated RF detectors → pilot and model on the drone's track."""
    path = tmp_path / "pilot.yaml"
    path.write_text(SCENARIO)
    scen = load_scenario_file(path)
    recording = tmp_path / "pilot.sqlite"
    store = Recorder(recording)
    pipe = Pipeline(scen, recorder=store)
    pipe.run(scen.duration_s)
    pipe.finish()
    store.close()
    link = scen.targets[0].rf_link
    assert link is not None and link.pilot_m is not None
    drones = [v for v in pipe.views if v.rf_protocol == "DJI OcuSync 3"]
    assert len(drones) == 1 and len(pipe.views) == 1  # no ghost track at the controller
    v = drones[0]
    assert v.pilot_source == "rf bearings (2 detectors)" and v.pilot_err_m is not None
    assert v.pilot_lat_deg is not None and v.pilot_lon_deg is not None
    e, n, _ = ORIGIN.to_enu(v.pilot_lat_deg, v.pilot_lon_deg, 0.0).reshape(3)
    miss = math.hypot(e - link.pilot_m[0], n - link.pilot_m[1])
    assert miss < 3.0 * v.pilot_err_m, (miss, v.pilot_err_m)
    assert v.pilot_age_s is not None and v.pilot_age_s < 5.0
    assert v.make_model == "DJI Mavic 3 (high)"
    assert any("from RF DF" in e and "DJI's Mavic 3" in e for e in v.make_evidence)
    summary = pipe.summary()
    assert summary["tracks"][0]["pilot"]["source"] == "rf bearings (2 detectors)"
    # The estimate is evidence: in the chained audit log, and a replay of the raw bytes
    # places the pilot again where the live run did.
    db = sqlite3.connect(recording)
    rows = db.execute("SELECT payload FROM audit WHERE kind = 'identify.pilot'").fetchall()
    db.close()
    logged = [json.loads(r[0]) for r in rows]
    assert logged and logged[0]["track_id"] == v.track_id
    assert logged[0]["source"] == "rf bearings (2 detectors)"
    again = replay(recording)
    (w,) = [x for x in again.views if x.rf_protocol == "DJI OcuSync 3"]
    assert (w.pilot_lat_deg, w.pilot_lon_deg, w.pilot_err_m) == (
        v.pilot_lat_deg,
        v.pilot_lon_deg,
        v.pilot_err_m,
    )
    # Operators see it: the terminal names the pilot's position, its error and that RF found it;
    # ATAK gets a point of its own, linked to the drone.
    from rich.console import Console

    from luchtwacht.console.terminal import tracks_table
    from luchtwacht.publish.base import PublishContext
    from luchtwacht.publish.cot import CotConfig, CotPublisher

    con = Console(width=260, record=True)
    picture = pipe.picture(pipe.utc(pipe.t_s))
    con.print(tracks_table(picture))
    shown = f"pilot {v.pilot_lat_deg:.5f} {v.pilot_lon_deg:.5f} ±{v.pilot_err_m:.0f} m (RF)"
    assert shown in con.export_text()
    cot = CotPublisher(
        CotConfig(name="tak", connect="127.0.0.1:9"),
        PublishContext("pilot test", ORIGIN, ()),
        Subscription("t"),
    )
    pilots = [ev for kind, ev in cot.events(picture) if kind == "pilot"]
    assert [ev.get("uid") for ev in pilots] == [f"luchtwacht.pilot-test.pilot.track-{v.track_id}"]
    point = pilots[0].find("point")
    assert point is not None and float(point.get("ce", "nan")) == pytest.approx(
        v.pilot_err_m, abs=0.1
    )
