"""Simulated ADS-B: squitters bit for bit against published ones, decoded back, replayed."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.modes import ModeSPipe
from luchtwacht.model.detection import DetectionBatch, ObjectClass
from luchtwacht.sim.adsb import (
    AdsbEquipment,
    AdsbReceiverConfig,
    AdsbReceiverSim,
    airborne_position,
    airborne_velocity,
    identification,
)
from luchtwacht.sim.targets import Target, WaypointPath

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
KT, FT = 1852.0 / 3600.0, 0.3048
ROOT = Path(__file__).resolve().parents[2]


def test_frames_equal_the_published_examples_bit_for_bit():
    # Junzi Sun, "The 1090 Megahertz Riddle" (2021), the worked examples: the identification of
    # KLM1023 and the even airborne position frame of 40621D at 38000 ft, 52.25720 N 3.91937 E.
    assert identification(AdsbEquipment("4840D6", "KLM1023"), category=0) == (
        "8D4840D6202CC371C32CE0576098"
    )
    even = airborne_position(
        AdsbEquipment("40621D"), 52.2572021484375, 3.91937255859375, 38000 * FT, odd=False
    )
    assert even == "8D40621D58C382D690C8AC2863A7"


@pytest.mark.parametrize(("lat", "lon"), [(51.70, 5.60), (-33.9, 151.2), (0.1, -0.1), (78.2, 15.6)])
def test_what_is_encoded_decodes_back_with_pymodes(lat, lon):
    eq = AdsbEquipment("484CB8", "TRA5432")
    origin = SiteOrigin(lat, lon, 0.0)
    pipe = ModeSPipe("adsb", origin, "avr")
    t0 = 1.78e9
    msgs = [
        identification(eq),
        airborne_position(eq, lat, lon, 1500.0, odd=False),
        airborne_position(eq, lat + 1e-4, lon, 1500.0, odd=True),
        airborne_velocity(eq, 50.0, -20.0, -3.0),
    ]
    out = []
    for k, m in enumerate(msgs):
        out += pipe.feed(f"*{m};\n".encode(), t0 + 0.5 * k)
    out += pipe.flush()
    assert pipe.counters.rejected == 0
    ac = pipe.aircraft["icao:484CB8"]
    assert ac.callsign == "TRA5432"
    assert ac.lat_deg is not None and ac.lon_deg is not None and ac.alt_baro_m is not None
    # CPR resolution ~5 m; altitude in 25 ft steps
    assert abs(ac.lat_deg - (lat + 1e-4)) < 1e-4 and abs(ac.lon_deg - lon) < 1e-4
    assert abs(ac.alt_baro_m - 1500.0) <= 25 * FT / 2 + 1e-6
    assert ac.gs_ms is not None and abs(ac.gs_ms - math.hypot(50.0, 20.0)) < 1.0 * KT
    assert ac.track_deg is not None and abs(ac.track_deg - math.degrees(math.atan2(50, -20))) < 1.0
    assert ac.vrate_ms is not None and abs(ac.vrate_ms + 3.0) < 64 * FT / 60
    assert any(isinstance(b, DetectionBatch) and b.ident == ("icao:484CB8",) for b in out)


def test_bad_transponder_settings_are_refused():
    with pytest.raises(ValueError, match="ICAO"):
        AdsbEquipment("XYZ123")
    with pytest.raises(ValueError, match="callsign"):
        AdsbEquipment("484CB8", "TOO-LONG!")


def test_the_receiver_hears_aircraft_in_range_at_two_hertz():
    eq = AdsbEquipment("4840D6", "KLM1023")
    near = Target("a", ObjectClass.AIRCRAFT, 40.0,
                  WaypointPath(((5000.0, 0.0, 1000.0), (-5000.0, 0.0, 800.0)), (80.0,)), adsb=eq)  # fmt: skip
    far = Target("b", ObjectClass.AIRCRAFT, 40.0,
                 WaypointPath(((400e3, 0.0, 9000.0), (300e3, 0.0, 9000.0)), (230.0,)),
                 adsb=AdsbEquipment("44CE6F"))  # fmt: skip
    rx = AdsbReceiverSim(
        AdsbReceiverConfig("rx", ORIGIN.lat_deg, ORIGIN.lon_deg, ORIGIN.alt_m, p_receive=1.0),
        ORIGIN, 1.78e9, seed=1,
    )  # fmt: skip
    lines = []
    while rx.next_tick_s < 10.0:
        lines += rx.tick(rx.next_tick_s, [near, far])
    text = b"".join(line for _, line in lines).decode()
    assert text.count("*8D4840D6") == 20 * 2 + 2  # 20 ticks: position + velocity, ident at 0, 5 s
    assert "44CE6F" not in text  # 400 km out: beyond the 150 km reach


def test_an_airport_scenario_with_adsb_records_and_replays_exactly(tmp_path):
    runner = CliRunner()
    rec = tmp_path / "airport.sqlite"
    scen = ROOT / "scenarios" / "busy-airport-approach.yaml"
    args = [
        "demo",
        "--scenario",
        str(scen),
        "--headless",
        "--no-web",
        "--duration",
        "40",
        "--speed",
        "0",
    ]
    out = tmp_path / "s.json"
    result = runner.invoke(app, [*args, "--record", str(rec), "--summary-json", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["sensors"]["adsb-ehvk-1"]["decoded"] > 100
    assert summary["sensors"]["adsb-ehvk-1"]["rejected"] == 0
    result = runner.invoke(app, ["replay", str(rec), "--check"])
    assert result.exit_code == 0, result.output
    assert "replay matches the recording" in result.output
    assert np.isfinite(summary["sensors"]["radar-1"]["decoded"])
