"""Real recorded flights (scenarios/flightlogs) read, checked against their own bytes, and flown
end to end; and the DJI video-caption (.srt) reader on each caption dialect."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.eval.evaluate import evaluate_run
from luchtwacht.geo import SiteOrigin
from luchtwacht.sim.flightlog import FlightLog, FlightLogError, load_dji_srt, load_flight_log
from luchtwacht.sim.scenario_file import load_scenario_file

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "scenarios" / "flightlogs"
DJI = LOGS / "dji-mavic-pro-2017-08-05.srt"
ARDU = LOGS / "ardupilot-cubeorangeplus-2025-01.bin"


# --- the real logs -------------------------------------------------------------------------------


def test_real_ardupilot_log_takes_ellipsoidal_heights_from_the_receivers_undulation():
    from pymavlink import DFReader

    log = load_flight_log(ARDU)
    # The same records read straight with pymavlink: GPS instance 0 with a 3D fix, and GPA.
    r = DFReader.DFReader_binary(str(ARDU), zero_time_base=True)
    gps, und = [], {}
    while (m := r.recv_match(type=["GPS", "GPA"])) is not None:
        if m.get_type() == "GPS" and m.Status >= 3 and m.I == 0:
            gps.append((m.TimeUS, m.Lat, m.Lng, m.Alt))
        elif m.get_type() == "GPA" and m.I == 0:
            und[m.TimeUS] = m.Und
    assert "AEl" not in r.messages["GPA"].get_fieldnames()  # this firmware logs no AEl
    assert len(log) == len(gps) > 200
    np.testing.assert_allclose(log.lat_deg, [g[1] for g in gps])
    np.testing.assert_allclose(log.lon_deg, [g[2] for g in gps])
    # ArduPilot's undulation is AMSL − ellipsoidal, so the ellipsoidal height is Alt − Und.
    np.testing.assert_allclose(log.alt_m, [g[3] - und[g[0]] for g in gps])
    np.testing.assert_allclose(log.t_s, (np.array([g[0] for g in gps]) - gps[0][0]) * 1e-6)
    assert "GPA.Und" in log.source
    # A real board in Türkiye, not a simulator at its default home (Canberra or Zurich).
    assert abs(log.lat_deg[0] - 38.315) < 0.01 and abs(log.lon_deg[0] - 26.636) < 0.01


def test_real_dji_caption_reads_every_block():
    log = load_flight_log(DJI)
    text = DJI.read_text().replace("\r", "")
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert len(log) == len(blocks) == 468
    # The last block, read by hand: GPS(lon,lat,satellites) BAROMETER:height above take-off.
    lon, lat = (float(v) for v in re.findall(r"GPS\(([-\d.]+),([-\d.]+)", blocks[-1])[0])
    baro = float(re.findall(r"BAROMETER:([-\d.]+)", blocks[-1])[0])
    assert (log.lat_deg[-1], log.lon_deg[-1], log.alt_m[-1]) == (lat, lon, baro)
    assert log.duration_s == 467.0
    assert "height above take-off" in log.source
    assert 118.0 < log.alt_m.max() < 119.0


def test_a_real_flight_is_tracked_and_alerted_end_to_end():
    # The DJI flight relocated over the base, from the radar's SAPIENT bytes, the RF detectors'
    # bearings and the camera to a track, an identity and a zone alert.
    scen = load_scenario_file(ROOT / "scenarios" / "real-flight-dji.yaml")
    (target,) = scen.targets
    # The truth is the log: its displacement between two log times is the log's own.
    log = load_flight_log(DJI)
    frame = SiteOrigin(float(log.lat_deg[0]), float(log.lon_deg[0]), float(log.alt_m[0]))
    enu = frame.to_enu(log.lat_deg, log.lon_deg, log.alt_m)
    a, b = target.path.state(100.0 - 75.0), target.path.state(200.0 - 75.0)
    assert a is not None and b is not None
    k100, k200 = (int(np.flatnonzero(log.t_s == t)[0]) for t in (100.0, 200.0))
    np.testing.assert_allclose(b[0] - a[0], enu[k200] - enu[k100], atol=1e-6)

    run = evaluate_run(dataclasses.replace(scen, duration_s=90.0), scen.seed)
    (t,) = run.targets
    assert t.detect_s is not None and t.detect_s <= 5.0
    assert t.classify_s is not None and t.classify_s <= 10.0  # called a drone
    assert t.coverage > 0.9
    assert t.breach_s is not None and t.alert_s is not None and t.alert_s < t.breach_s
    assert float(np.mean(run.gospa)) < 25.0


# --- the caption dialects ------------------------------------------------------------------------


def caption(path: Path, blocks: list[str], crlf: bool = False) -> Path:
    """A .srt file of numbered blocks, one second apart."""
    parts = []
    for i, body in enumerate(blocks):
        parts.append(f"{i + 1}\n00:00:{i:02d},000 --> 00:00:{i + 1:02d},000\n{body}\n")
    text = "\n".join(parts)
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode())
    return path


def test_mavic_2_captions_give_absolute_heights(tmp_path):
    body = (
        '<font size="36">FrameCnt : {n}, DiffTime : 33ms\n2020-04-02 15:19:58,720\n'
        "[iso : 120] [latitude : {lat}] [longtitude : {lon}] [altitude: {alt}] </font>"
    )
    rows = [(52.1, 4.3, 80.0), (52.1001, 4.3002, 81.5), (52.1002, 4.3004, 83.0)]
    path = caption(
        tmp_path / "m2.SRT",
        [body.format(n=i, lat=a, lon=o, alt=h) for i, (a, o, h) in enumerate(rows)],
    )
    log = load_dji_srt(path, geoid_undulation_m=47.0)
    np.testing.assert_allclose(log.lat_deg, [r[0] for r in rows])
    np.testing.assert_allclose(log.lon_deg, [r[1] for r in rows])
    np.testing.assert_allclose(log.alt_m, [r[2] + 47.0 for r in rows])
    np.testing.assert_allclose(log.t_s, [0.0, 1.0, 2.0])
    assert "absolute altitude" in log.source


def test_mini_captions_prefer_abs_alt_and_phantom_captions_use_h(tmp_path):
    mini = "[latitude: 52.{k}] [longitude: 4.3] [rel_alt: 1{k}.000 abs_alt: 6{k}.200]"
    log = load_flight_log(caption(tmp_path / "mini.srt", [mini.format(k=k) for k in range(3)]))
    np.testing.assert_allclose(log.alt_m, [60.2, 61.2, 62.2])
    phantom = "F/2.8, SS 1/320, ISO 100, EV 0, GPS (4.30{k}, 52.10{k}, 19), D 24.64m, H {k}.80m"
    path = caption(tmp_path / "p4.srt", [phantom.format(k=k) for k in range(3)], crlf=True)
    log = load_dji_srt(path, takeoff_alt_m=100.0)
    np.testing.assert_allclose(log.alt_m, [100.8, 101.8, 102.8])
    np.testing.assert_allclose(log.lon_deg, [4.300, 4.301, 4.302])
    assert "height above take-off + 100 m" in log.source


def test_blocks_without_a_fix_are_skipped(tmp_path):
    blocks = ["GPS(0.0,0.0,0) BAROMETER:0.0"] + [
        f"GPS(149.02{k},-20.25,16) BAROMETER:{k}.0" for k in range(1, 4)
    ]
    log = load_dji_srt(caption(tmp_path / "a.srt", blocks))
    assert len(log) == 3 and log.lon_deg[0] == 149.021


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1\nGPS(149.0,-20.0,16) BAROMETER:1.0\n", "block 1: no 'HH:MM:SS,mmm -->' time line"),
        ("1\n00:00:00,000 --> 00:00:01,000\nISO:100\n", "block 1: no GPS"),
        ("1\n00:00:00,000 --> 00:00:01,000\nGPS(0,0,0)\n", "no caption block with a GPS"),
        ("1\n00:00:00,000 --> 00:00:01,000\nGPS(149.0,-20.0,16)\n", "block 1: no altitude"),
        ("", "no caption block with a GPS"),
    ],
)
def test_unusable_captions_say_why(tmp_path, text, problem):
    path = tmp_path / "bad.srt"
    path.write_text(text)
    with pytest.raises(FlightLogError, match=re.escape(problem)):
        load_flight_log(path)


def test_a_caption_file_that_goes_back_in_time_is_refused(tmp_path):
    text = (
        "1\n00:00:05,000 --> 00:00:06,000\nGPS(149.0,-20.0,16) BAROMETER:1.0\n\n"
        "2\n00:00:04,000 --> 00:00:05,000\nGPS(149.1,-20.0,16) BAROMETER:1.0\n"
    )
    path = tmp_path / "back.srt"
    path.write_text(text)
    with pytest.raises(FlightLogError, match="caption block 2"):
        load_flight_log(path)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                [
                    "00:00:01,000 --> 00:00:02,000",
                    "GPS(149.0251,-20.2533,16) BAROMETER:1.9",
                    "[latitude : 91.0] [longitude : 4.3] [altitude: 1e9]",
                    "[latitude: nan] [longitude: 4.3] [rel_alt: 1 abs_alt: 2]",
                    "",
                ]
            ),
        ),
        max_size=12,
    )
)
def test_any_caption_text_gives_a_log_or_a_clear_error(lines):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.srt"
        path.write_text("\n".join(lines), encoding="utf-8")
        try:
            log: FlightLog | str = load_dji_srt(path)
        except FlightLogError as exc:
            log = str(exc)
        if isinstance(log, str):
            assert log.startswith(str(path))  # the error names the file
        else:
            assert len(log) >= 2


def test_captions_that_mix_absolute_altitude_and_height_are_refused_with_the_block(tmp_path):
    # Found by the property test: each block has a height, but not the same kind of height.
    srt = tmp_path / "mixed.srt"
    srt.write_text(
        "1\n00:00:00,000 --> 00:00:01,000\n[latitude: 51.0] [longitude: 5.0] [abs_alt: 30.0]\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\n[latitude: 51.0] [longitude: 5.0] [rel_alt: 3.0]\n"
    )
    with pytest.raises(FlightLogError, match=r"caption block 2: .*mix the two"):
        load_dji_srt(srt)
