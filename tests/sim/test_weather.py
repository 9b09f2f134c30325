"""Weather: ITU-R P.838-3 rain on radar, fog on cameras, clutter on every sensor."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from luchtwacht.model.detection import ObjectClass
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.bearing_sensor import BearingSensorConfig
from luchtwacht.sim.propagation import fog_range_m, rain_attenuation_db_km, rain_coefficients
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.scenario import Scenario
from luchtwacht.sim.scenario_file import ScenarioFileError, load_scenario_file
from luchtwacht.sim.targets import Target, WaypointPath
from luchtwacht.sim.weather import Weather, apply_weather
from tests.sim.test_bearing_sensors import EPOCH, ORIGIN, _lla

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("f_ghz", "k_h", "a_h", "k_v", "a_v"),
    [  # ITU-R P.838-3, Table 5 (the coefficients the regression reproduces)
        (1.0, 0.0000259, 0.9691, 0.0000308, 0.8592),
        (10.0, 0.01217, 1.2571, 0.01129, 1.2156),
        (20.0, 0.09164, 1.0568, 0.09611, 0.9847),
        (30.0, 0.2403, 0.9485, 0.2291, 0.9129),
    ],
)
def test_rain_coefficients_are_the_recommendations(f_ghz, k_h, a_h, k_v, a_v):
    kh, ah = rain_coefficients(f_ghz, "H")
    kv, av = rain_coefficients(f_ghz, "V")
    assert math.isclose(kh, k_h, rel_tol=2e-3) and math.isclose(ah, a_h, rel_tol=1e-3)
    assert math.isclose(kv, k_v, rel_tol=2e-3) and math.isclose(av, a_v, rel_tol=1e-3)


def test_rain_attenuation_and_its_limits():
    assert math.isclose(rain_attenuation_db_km(10.0, 10.0), 0.01217 * 10**1.2571, rel_tol=3e-3)
    assert rain_attenuation_db_km(10.0, 0.0) == 0.0
    # An RF link at 2.4 GHz loses a few hundredths of what an X-band radar does.
    assert rain_attenuation_db_km(2.44, 50.0) < 0.05 * rain_attenuation_db_km(9.5, 50.0)
    with pytest.raises(ValueError, match="1-1000 GHz"):
        rain_coefficients(0.5)
    with pytest.raises(ValueError, match="polarisation"):
        rain_coefficients(10.0, "X")


def test_rain_takes_the_two_way_loss_off_the_radar_snr():
    lat, lon, alt = _lla(0.0, 0.0, 10.0)
    clear = RadarSim(
        RadarConfig("4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat, lon, alt), ORIGIN, EPOCH, 1
    )
    wet_cfg = dataclasses.replace(clear.cfg, rain_mm_h=25.0)
    wet = RadarSim(wet_cfg, ORIGIN, EPOCH, 1)
    gamma = rain_attenuation_db_km(9.5, 25.0)
    ratio = wet.snr(0.02, 4000.0) / clear.snr(0.02, 4000.0)
    assert math.isclose(10 * math.log10(ratio), -2.0 * gamma * 4.0, rel_tol=1e-9)
    drone = Target(
        "d", ObjectClass.DRONE, 0.02,
        WaypointPath(((4000.0, 0.0, 100.0), (4000.0, 10.0, 100.0)), (1.0,)),
    )  # fmt: skip
    assert wet.detection_probability(drone, 0.0) < clear.detection_probability(drone, 0.0) - 0.05


def test_fog_limits_cameras_and_clutter_scales_false_alarms():
    assert math.isclose(fog_range_m(1000.0), 1000.0 / 3.912 * math.log(25.0))
    assert fog_range_m(1000.0, thermal=True) == 2.0 * fog_range_m(1000.0)
    assert fog_range_m(math.inf) == math.inf
    lat, lon, alt = _lla(0.0, 0.0, 10.0)
    radar = RadarConfig("4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat, lon, alt)
    day = BearingSensorConfig.camera("7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b04", lat, lon, alt)
    night = BearingSensorConfig.camera(day.node_id, lat, lon, alt, night=True)
    rf = BearingSensorConfig(day.node_id, lat, lon, alt)
    (r,), (d, n, f) = apply_weather(Weather(3.0, 10.0, 800.0), (radar,), (day, night, rf))
    assert r.rain_mm_h == 10.0 and r.false_alarms_per_scan == 3 * radar.false_alarms_per_scan
    assert d.max_range_m == pytest.approx(fog_range_m(800.0))
    assert d.max_range_m < day.max_range_m
    assert n.max_range_m == min(night.max_range_m, fog_range_m(800.0, thermal=True))
    assert f.max_range_m == rf.max_range_m  # radio does not mind the fog
    assert f.false_alarms_per_scan == 3 * rf.false_alarms_per_scan
    with pytest.raises(ValueError, match="clutter"):
        Weather(clutter=-1.0)


def test_a_day_camera_loses_a_drone_in_fog():
    lat, lon, alt = _lla(0.0, 0.0, 10.0)
    cam = dataclasses.replace(
        BearingSensorConfig.camera("7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b04", lat, lon, alt),
        fov_centre_deg=90.0, fov_width_deg=60.0, pd=1.0, false_alarms_per_scan=0.0,
    )  # fmt: skip
    drone = Target(
        "d", ObjectClass.DRONE, 0.02,
        WaypointPath(((1200.0, 0.0, 80.0), (1200.0, 50.0, 80.0)), (2.0,)),
    )  # fmt: skip
    seen = {}
    for name, weather in (("clear", Weather()), ("fog", Weather(visibility_m=600.0))):
        scen = Scenario("fog", ORIGIN, (), (), (), (drone,), 10.0, EPOCH, 2, (cam,), (), weather)
        p = Pipeline(scen)
        p.run(scen.duration_s)
        seen[name] = p.feeds["camera-1"].pipe.counters.decoded
    assert seen["fog"] < seen["clear"]  # registration and status only, in fog


def test_weather_is_read_from_scenario_files(tmp_path):
    text = (REPO / "scenarios" / "single-intruder.yaml").read_text()
    for block, expect in (
        ("weather: {clutter: heavy, rain_mm_h: 8, visibility_m: 1500}", Weather(3.0, 8.0, 1500.0)),
        ("weather: {clutter: 0.25}", Weather(0.25)),
        ("", Weather()),
    ):
        path = tmp_path / "w.yaml"
        path.write_text(text + "\n" + block + "\n")
        assert load_scenario_file(path).weather == expect
    path.write_text(text + "\nweather: {clutter: stormy}\n")
    with pytest.raises(ScenarioFileError, match=r"weather\.clutter"):
        load_scenario_file(path)
    path.write_text(text + "\nweather: {rain_mm_h: -1}\n")
    with pytest.raises(ScenarioFileError, match="rain_mm_h"):
        load_scenario_file(path)
    assert np.isfinite(
        load_scenario_file(REPO / "scenarios" / "single-intruder.yaml").weather.clutter
    )
