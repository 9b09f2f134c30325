"""Target behaviours (soaring, failsafe on link loss) and sensor clock errors."""

from pathlib import Path

import numpy as np
import pytest

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import SapientMessage, split_frames, timestamp_s
from luchtwacht.model.detection import ObjectClass
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.radar import RadarConfig, RadarSim
from luchtwacht.sim.scenario import Scenario
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.sim.targets import Failsafe, Orbit, Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
EPOCH = 1_781_299_800.0
LEG = WaypointPath(((0.0, 0.0, 50.0), (1000.0, 0.0, 50.0)), (10.0,))


def test_a_soaring_bird_climbs_in_circles_up_to_its_ceiling():
    o = Orbit((0.0, 0.0), 50.0, 8.0, 100.0, climb_ms=1.5, max_height_m=160.0)
    _, v0 = o.state(0.0)  # type: ignore[misc]
    p20, _ = o.state(20.0)  # type: ignore[misc]
    p60, v60 = o.state(60.0)  # type: ignore[misc]
    assert v0[2] == 1.5 and p20[2] == pytest.approx(130.0)
    assert p60[2] == 160.0 and v60[2] == 0.0
    assert np.hypot(p60[0], p60[1]) == pytest.approx(50.0)


def test_failsafe_hover_land_and_return_home():
    hover = Failsafe(LEG, 30.0, "hover")
    assert hover.state(29.0)[0][0] == pytest.approx(290.0)  # type: ignore[index]
    p, v = hover.state(90.0)  # type: ignore[misc]
    assert p[0] == pytest.approx(300.0) and not v.any()
    land = Failsafe(LEG, 30.0, "land", descent_ms=2.0)
    p, v = land.state(40.0)  # type: ignore[misc]
    assert p[2] == pytest.approx(30.0) and v[2] == -2.0
    assert land.state(56.0) is None  # on the ground after 25 s
    rth = Failsafe(LEG, 30.0, "return_home", home_m=(0.0, 0.0, 0.0), speed_ms=15.0)
    p, v = rth.state(40.0)  # type: ignore[misc]
    assert p[0] == pytest.approx(150.0) and v[0] == pytest.approx(-15.0)
    p, v = rth.state(55.0)  # type: ignore[misc]  # home after 20 s, descending for 5 s
    assert p[:2] == pytest.approx([0.0, 0.0]) and p[2] == pytest.approx(40.0)
    with pytest.raises(ValueError, match="failsafe"):
        Failsafe(LEG, 1.0, "explode").state(2.0)


def test_a_failsafe_in_a_scenario_file_defaults_home_to_the_take_off_point(tmp_path: Path):
    text = (Path(__file__).resolve().parents[2] / "scenarios" / "single-intruder.yaml").read_text()
    text = text.replace(
        "      speeds_ms: [18.0, 6.0]\n",
        "      speeds_ms: [18.0, 6.0]\n    failsafe: {at_s: 60.0, behaviour: return_home}\n",
    )
    path = tmp_path / "s.yaml"
    path.write_text(text)
    (tgt,) = load_scenario_file(path).targets
    start = tgt.path.state(0.0)
    later = tgt.path.state(70.0)
    assert start is not None and later is not None
    # flying back: the velocity points towards the take-off point
    to_home = start[0][:2] - later[0][:2]
    assert float(np.dot(later[1][:2], to_home)) > 0.9 * np.linalg.norm(
        later[1][:2]
    ) * np.linalg.norm(to_home)


def radar(offset: float) -> RadarConfig:
    lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array([0.0, 0.0, 10.0])))
    return RadarConfig(
        "4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat, lon, alt, clock_offset_s=offset,
        false_alarms_per_scan=0.0,
    )  # fmt: skip


def test_a_sensor_clock_error_shows_in_its_stamps():
    sim = RadarSim(radar(1.5), ORIGIN, EPOCH, seed=1)
    tgt = Target("d", ObjectClass.DRONE, 1.0, LEG)
    frames = split_frames(b"".join(sim.scan(5.0, [tgt])))
    assert frames
    for raw in frames:
        msg = SapientMessage()
        msg.ParseFromString(raw)
        assert timestamp_s(msg) == pytest.approx(EPOCH + 5.0 + 1.5, abs=1e-6)


@pytest.mark.parametrize(("offset", "tracked"), [(-1.0, True), (1.0, True), (30.0, False)])
def test_the_picture_copes_with_small_clock_errors_and_refuses_wild_ones(offset, tracked):
    tgt = Target(
        "d", ObjectClass.DRONE, 0.05, WaypointPath(((2000.0, 0.0, 80.0), (0.0, 0.0, 80.0)), (15.0,))
    )
    scen = Scenario("clock", ORIGIN, (), (radar(offset),), (), (tgt,), 20.0, EPOCH, 1)
    pipe = Pipeline(scen)
    pipe.run(20.0)
    assert bool(pipe.views) == tracked
    if not tracked:  # a clock 30 s ahead: every batch is from the future, counted, not used
        assert pipe.future_batches > 10


def test_a_sector_radar_sees_only_its_sector_and_puts_its_false_alarms_there():
    lat, lon, alt = (float(v) for v in ORIGIN.to_geodetic(np.array([0.0, 0.0, 10.0])))
    cfg = RadarConfig(
        "4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat, lon, alt, sector_centre_deg=90.0,
        sector_width_deg=90.0, false_alarms_per_scan=20.0,
    )  # fmt: skip
    sim = RadarSim(cfg, ORIGIN, EPOCH, seed=4)
    east = Target(
        "e",
        ObjectClass.DRONE,
        1.0,
        WaypointPath(((1500.0, 0.0, 80.0), (1600.0, 0.0, 80.0)), (5.0,)),
    )
    west = Target(
        "w",
        ObjectClass.DRONE,
        1.0,
        WaypointPath(((-1500.0, 0.0, 80.0), (-1600.0, 0.0, 80.0)), (5.0,)),
    )
    assert sim.detection_probability(east, 0.0) > 0.9
    assert sim.detection_probability(west, 0.0) == 0.0
    frames = split_frames(b"".join(sim.scan(0.0, [east, west])))
    assert frames
    azimuths = []
    for raw in frames:
        msg = SapientMessage()
        msg.ParseFromString(raw)
        if msg.HasField("detection_report"):
            azimuths.append(msg.detection_report.range_bearing.azimuth)
    assert len(azimuths) > 10 and all(44.0 <= a <= 136.0 for a in azimuths)
