import contextlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyModeS import Message
from pyModeS.position import cprNL

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.feed import FeedPipe
from luchtwacht.ingest.modes import (
    CPR_QUANT_STD_M,
    FPM_MS,
    FT_M,
    KT_MS,
    LOCAL_REFERENCE_RANGE_M,
    R95_2D_SIGMA,
    AvrReader,
    BeastReader,
    FrameReader,
    ModeSDecoder,
    ModeSError,
    ModeSPipe,
    ModeSStream,
    RawFrame,
    SbsMessage,
    SbsReader,
    baro_height_std_m,
    beast_escape,
    detect_format,
    parse_avr_line,
    parse_beast_frame,
    parse_sbs_line,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "adsb"

IDENT = "8D4840D6202CC371C32CE0576098"  # KLM1023
ODD = "8D40621D58C386435CC412692AD6"  # 40621D, odd CPR, 38000 ft
EVEN = "8D40621D58C382D690C8AC2863A7"  # 40621D, even CPR, received after ODD
VELOCITY = "8D485020994409940838175B284F"  # 485020: 159 kt, 182.88°, -832 ft/min
LAT, LON, ALT_M = 52.2572021484375, 3.91937255859375, 38000 * FT_M  # from the pair, even newer

ORIGIN = SiteOrigin(52.20, 3.95, 10.0)


# --- test-side encoders (independent of the code under test; pyModeS checks the parity) ------


def with_parity(body: bytes, address: int = 0) -> bytes:
    """Append Mode S parity: CRC of the body, XOR the address for address/parity formats."""
    return body + (Message(body + b"\0\0\0").crc ^ address).to_bytes(3, "big")


def cpr_encode(lat: float, lon: float, odd: int) -> tuple[int, int]:
    """Airborne CPR encoding, DO-260B §A.1.7.2 (17-bit)."""
    dlat = 360.0 / (60 - odd)
    yz = math.floor(2**17 * ((lat % dlat) / dlat) + 0.5)
    rlat = dlat * (yz / 2**17 + math.floor(lat / dlat))
    nl = cprNL(rlat) - odd
    dlon = 360.0 / nl if nl > 0 else 360.0
    xz = math.floor(2**17 * ((lon % dlon) / dlon) + 0.5)
    return yz % 2**17, xz % 2**17


def airborne(icao: int, lat: float, lon: float, alt_ft: int, odd: int, tc: int = 11) -> str:
    """DF17 airborne position (barometric, 25 ft Q-bit altitude code)."""
    n = (alt_ft + 1000) // 25
    ac = ((n >> 4) << 5) | 0x10 | (n & 0xF)
    yz, xz = cpr_encode(lat, lon, odd)
    me = (tc << 51) | (ac << 36) | (odd << 34) | (yz << 17) | xz
    return with_parity(bytes([0x8D]) + icao.to_bytes(3, "big") + me.to_bytes(7, "big")).hex()


def velocity(icao: int, ve_kt: int, vn_kt: int, vrate_fpm: int, geo_minus_baro_ft: int) -> str:
    """DF17 TC19 subtype 1 (ground speed) with the GNSS-minus-baro difference."""
    me = (19 << 51) | (1 << 48)
    me |= (ve_kt < 0) << 42 | (abs(ve_kt) + 1) << 32 | (vn_kt < 0) << 31 | (abs(vn_kt) + 1) << 21
    me |= (vrate_fpm < 0) << 19 | (abs(vrate_fpm) // 64 + 1) << 10
    me |= (geo_minus_baro_ft < 0) << 7 | (abs(geo_minus_baro_ft) // 25 + 1)
    return with_parity(bytes([0x8D]) + icao.to_bytes(3, "big") + me.to_bytes(7, "big")).hex()


def df5_squawk(icao: int, squawk: str) -> str:
    """DF5 identity reply: ID code bits C1 A1 C2 A2 C4 A4 X B1 D1 B2 D2 B4 D4, address parity."""
    a, b, c, d = (int(ch) for ch in squawk)
    bits = [c & 1, a & 1, c >> 1 & 1, a >> 1 & 1, c >> 2 & 1, a >> 2 & 1, 0]
    bits += [b & 1, d & 1, b >> 1 & 1, d >> 1 & 1, b >> 2 & 1, d >> 2 & 1]
    code = int("".join(map(str, bits)), 2)
    return with_parity(((5 << 27) | code).to_bytes(4, "big"), icao).hex()


def avr(*msgs: str) -> bytes:
    return b"".join(f"*{m};\n".encode() for m in msgs)


def beast(msg: str, ticks: int = 0, signal: int = 0x80) -> bytes:
    body = ticks.to_bytes(6, "big") + bytes([signal]) + bytes.fromhex(msg)
    kind = {2: b"1", 7: b"2", 14: b"3"}[len(bytes.fromhex(msg))]
    return b"\x1a" + kind + beast_escape(body)


def decode_one(msg: str, **kw) -> dict[str, object]:
    (rep,) = ModeSStream("avr", **kw).reports(avr(msg), 0.0)
    return rep.as_json()


# --- golden messages ------------------------------------------------------------------------


def test_golden_identification():
    out = decode_one(IDENT)
    assert (out["icao"], out["df"], out["tc"], out["callsign"]) == ("4840D6", 17, 4, "KLM1023")


def test_golden_airborne_pair_decodes_globally():
    stream = ModeSStream("avr")
    odd, even = stream.reports(avr(ODD, EVEN), 100.0)
    assert "lat" not in odd.fields and odd.fix is None  # one frame, no reference: no position
    assert even.fields["cpr"] == "global"
    assert even.fields["lat"] == pytest.approx(52.2572, abs=5e-5)
    assert even.fields["lon"] == pytest.approx(3.9194, abs=5e-5)
    assert even.fields["alt_baro_m"] == pytest.approx(38000 * 0.3048)
    assert even.fix is not None and even.fix.alt_ref == "baro"


def test_golden_velocity_in_si_units():
    out = decode_one(VELOCITY)
    assert (out["icao"], out["tc"], out["subtype"]) == ("485020", 19, 1)
    assert out["gs_ms"] == pytest.approx(159 * 1852 / 3600)
    assert out["track_deg"] == pytest.approx(182.88, abs=0.01)
    assert out["vrate_ms"] == pytest.approx(-832 * 0.3048 / 60)
    assert out["geo_minus_baro_m"] == pytest.approx(550 * 0.3048)


def test_test_encoders_reproduce_the_golden_frames():
    assert airborne(0x40621D, LAT, LON, 38000, 0).upper() == EVEN
    assert Message(bytes.fromhex(df5_squawk(0x40621D, "7700"))).icao == "40621D"


def test_local_decoding_against_receiver_only_within_half_a_zone():
    near = (52.258, 3.918)  # the book's reference position
    within = decode_one(EVEN, receiver_lat_lon=near, max_range_m=LOCAL_REFERENCE_RANGE_M)
    assert within["cpr"] == "local-receiver"
    assert (within["lat"], within["lon"]) == pytest.approx((LAT, LON), abs=1e-9)
    # with the default max range (300 NM) the receiver is not a safe reference
    assert "lat" not in decode_one(EVEN, receiver_lat_lon=near)


# --- the three framings ---------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), [("golden.avr", "avr"), ("golden.beast", "beast")])
def test_avr_and_beast_files_give_the_golden_values(name, fmt):
    data = (DATA / name).read_bytes()
    assert detect_format(data) == fmt
    stream = ModeSStream()
    reps = stream.reports(data, 1000.0)
    assert stream.fmt == fmt and stream.counters.rejected == 0
    assert [r.kind for r in reps] == [
        "adsb-ident",
        "adsb-airborne",
        "adsb-airborne",
        "adsb-velocity",
    ]
    assert [r.raw for r in reps] == [IDENT, ODD, EVEN, VELOCITY]
    # receiver ticks: 0, 0.5, 1.5, 2.0 s after the first frame, which is anchored at reception
    np.testing.assert_allclose([r.t_s for r in reps], [1000.0, 1000.5, 1001.5, 1002.0])
    assert reps[0].fields["mlat_ticks"] == 0x001A2B3C4D5E
    assert reps[2].fields["lat"] == LAT and reps[2].fields["lon"] == LON


def test_beast_escaping_and_any_chunking():
    data = (DATA / "golden.beast").read_bytes()
    assert data.count(b"\x1a\x1a") == 5  # 4 timestamps starting 00 1A, one signal byte 0x1A
    frame = parse_beast_frame(beast(ODD, 0x001A2B97DADE, 0x1A))
    assert frame == RawFrame(bytes.fromhex(ODD), 0x001A2B97DADE, 20 * math.log10(0x1A / 255))
    whole = BeastReader().feed(data)
    reader = BeastReader()
    bytewise = [item for i in range(len(data)) for item in reader.feed(data[i : i + 1])]
    assert whole == bytewise and len(whole) == 4 and all(isinstance(f, RawFrame) for f in whole)


def test_three_formats_give_the_same_detection():
    batches = {}
    for name in ("golden.avr", "golden.beast", "golden.sbs"):
        pipe = ModeSPipe("adsb-1", ORIGIN)
        out = pipe.feed((DATA / name).read_bytes(), t_rx_s=1_781_299_812.0)
        assert pipe.counters.rejected == 0, pipe.counters.rejected_by_reason
        (batches[name],) = out
    for b in batches.values():
        assert b.ident == ("icao:40621D",) and not b.counts_misses
        np.testing.assert_allclose(b.z[0], ORIGIN.to_enu(LAT, LON, ALT_M), atol=0.05)
    # SBS has 6 decimals (≤ 0.06 m) and its own clock: 2026-06-12 21:30:11.500 UTC
    assert batches["golden.sbs"].t_s[0] == pytest.approx(1_781_299_811.5)


def test_sbs_fields_in_si_units():
    line = b"MSG,4,1,1,485020,1,2026/06/12,21:30:12.000,2026/06/12,21:30:12.001,,,159,182.9,,,-832,7700,0,-1,0,0"
    msg = parse_sbs_line(line)
    assert (msg.transmission_type, msg.icao, msg.squawk, msg.emergency) == (
        4,
        "485020",
        "7700",
        True,
    )
    assert msg.gs_ms == pytest.approx(159 * KT_MS) and msg.vrate_ms == pytest.approx(-832 * FPM_MS)
    assert msg.track_deg == pytest.approx(182.9) and msg.on_ground is False
    geo = parse_sbs_line(
        b"MSG,3,1,1,40621D,1,2026/06/12,21:30:11.500,,,,38550H,,,52.25,3.92,,,,,,0"
    )
    assert geo.alt_geometric and geo.alt_m == pytest.approx(38550 * FT_M)
    assert parse_sbs_line(b"STA,,5,179,400AE7,10103,2008/11/28,14:58:51.153").message_type == "STA"


def test_sbs_time_offset_for_feeders_writing_local_time():
    line = b"MSG,3,1,1,40621D,1,2026/06/12,23:30:11.500,,,,38000,,,52.257202,3.919373,,,,,,0\n"
    pipe = ModeSPipe("adsb-1", ORIGIN, "sbs", sbs_utc_offset_s=7200.0)  # CEST
    (b,) = pipe.feed(line, t_rx_s=0.0)
    assert b.t_s[0] == pytest.approx(1_781_299_811.5)


# --- the pipe -------------------------------------------------------------------------------


def test_pipe_is_a_feed_pipe_and_keeps_aircraft_state():
    pipe: FeedPipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    assert pipe.feed(avr(IDENT, df5_squawk(0x4840D6, "1000"))) == []
    assert pipe.flush() == []
    assert isinstance(pipe, ModeSPipe)
    ac = pipe.aircraft["icao:4840D6"]
    assert (ac.callsign, ac.squawk, ac.messages) == ("KLM1023", "1000", 2)


def test_detection_position_covariance_and_extra():
    origin = SiteOrigin(52.0, 4.0, 40.0)
    pipe = ModeSPipe("adsb-1", origin, "avr", geoid_undulation_m=44.0)
    icao = 0x40621D
    pipe.feed(avr(airborne(icao, 52.1, 4.1, 3000, 0)), t_rx_s=10.0)  # creates the aircraft
    pipe.feed(avr(df5_squawk(icao, "7000")), t_rx_s=10.2)
    (b,) = pipe.feed(avr(airborne(icao, 52.1002, 4.1, 3000, 1)), t_rx_s=10.5)
    alt = 3000 * FT_M + 44.0  # pressure altitude taken as MSL, + geoid height
    np.testing.assert_allclose(b.z[0], origin.to_enu(52.1002, 4.1, alt), atol=4.0)  # CPR cell ~5 m
    assert b.t_s[0] == 10.5 and b.extra[0]["squawk"] == "7000" and b.extra[0]["cpr"] == "global"
    h = math.hypot(93.0 / R95_2D_SIGMA, CPR_QUANT_STD_M)  # TC11 → NUCp 7 → 95 % radius 93 m
    np.testing.assert_allclose(
        np.linalg.eigvalsh(b.R[0]),
        sorted([h**2, h**2, baro_height_std_m(3000 * FT_M) ** 2]),
        rtol=1e-9,
    )
    # built in the aircraft's ENU and rotated into the site's: still symmetric, tilted slightly
    assert b.R[0, 0, 2] != 0.0 and np.allclose(b.R[0], b.R[0].T)


def test_nacp_from_operational_status_sets_horizontal_sigma():
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    icao = 0x40621D
    # TC31 airborne operational status, version 2, NACp 9 (EPU < 30 m)
    me = (31 << 51) | (2 << 13) | (9 << 8)
    opstatus = with_parity(bytes([0x8D]) + icao.to_bytes(3, "big") + me.to_bytes(7, "big")).hex()
    pipe.feed(avr(opstatus, airborne(icao, 52.1, 4.1, 3000, 0)), t_rx_s=1.0)
    (b,) = pipe.feed(avr(airborne(icao, 52.1, 4.1, 3000, 1)), t_rx_s=1.5)
    h = math.hypot(30.0 / R95_2D_SIGMA, CPR_QUANT_STD_M)
    assert np.sqrt(np.linalg.eigvalsh(b.R[0]))[:2] == pytest.approx([h, h], rel=1e-6)


def test_geometric_height_from_velocity_difference():
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    icao = 0x485020
    pipe.feed(avr(VELOCITY, airborne(icao, 52.0, 4.2, 38000, 0)), t_rx_s=5.0)
    (b,) = pipe.feed(avr(airborne(icao, 52.0, 4.2, 38000, 1)), t_rx_s=5.5)
    assert b.extra[0]["alt_source"] == "baro+gnss_delta"
    assert b.extra[0]["gs_ms"] == pytest.approx(159 * KT_MS)
    np.testing.assert_allclose(b.z[0], ORIGIN.to_enu(52.0, 4.2, (38000 + 550) * FT_M), atol=4.0)
    # after a minute without velocity messages the difference is no longer trusted
    (late,) = pipe.feed(
        avr(airborne(icao, 52.0, 4.2, 38000, 0), airborne(icao, 52.0, 4.2, 38000, 1)), t_rx_s=70.0
    )
    assert late.extra[0]["alt_source"] == "baro"


def test_gnss_height_type_codes_are_used_as_ellipsoidal():
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr", geoid_undulation_m=44.0)
    icao = 0xABCDEF
    # TC20: the 12-bit altitude field is GNSS height in metres (here 200 m)
    me0 = (20 << 51) | (200 << 36) | (0 << 34)
    yz, xz = cpr_encode(52.1, 4.0, 0)
    me0 |= yz << 17 | xz
    yz, xz = cpr_encode(52.1, 4.0, 1)
    me1 = (20 << 51) | (200 << 36) | (1 << 34) | yz << 17 | xz
    frames = [
        with_parity(bytes([0x8D]) + icao.to_bytes(3, "big") + me.to_bytes(7, "big")).hex()
        for me in (me0, me1)
    ]
    (b,) = pipe.feed(avr(*frames), t_rx_s=1.0)
    assert b.extra[0]["alt_source"] == "gnss"
    # pyModeS reports feet (int(200 m × 3.28084)); back in metres within a foot, no geoid added
    np.testing.assert_allclose(b.z[0], ORIGIN.to_enu(52.1, 4.0, 200.0), atol=4.0)
    assert ORIGIN.to_geodetic(b.z[0])[2] == pytest.approx(200.0, abs=FT_M)


def test_local_decoding_against_last_position_and_motion_gate():
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    icao = 0x3C6586
    pipe.feed(avr(airborne(icao, 52.30, 4.00, 5000, 0)), t_rx_s=0.0)
    (first,) = pipe.feed(avr(airborne(icao, 52.30, 4.001, 5000, 1)), t_rx_s=1.0)
    assert first.extra[0]["cpr"] == "global"
    # 20 s later the last odd frame is out of the 10 s pair window: local decoding
    (local,) = pipe.feed(avr(airborne(icao, 52.32, 4.02, 5000, 0)), t_rx_s=21.0)
    assert local.extra[0]["cpr"] == "local"
    np.testing.assert_allclose(local.z[0], ORIGIN.to_enu(52.32, 4.02, 5000 * FT_M), atol=4.0)
    # a frame 1 s later placing the aircraft 2° of latitude away (≈ 220 km) is refused
    assert pipe.feed(avr(airborne(icao, 52.32, 4.02, 5000, 1)), t_rx_s=22.0) != []
    assert pipe.feed(avr(airborne(icao, 50.32, 4.02, 5000, 0)), t_rx_s=23.0) == []
    assert any(r.startswith("cpr: ") for r in pipe.counters.rejected_by_reason)


def test_global_position_beyond_receiver_range_is_rejected():
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr", receiver_lat_lon=(40.64, -73.78))  # JFK
    assert pipe.feed(avr(ODD, EVEN), t_rx_s=0.0) == []
    assert list(pipe.counters.rejected_by_reason) == [
        "cpr: global position beyond 556 km from the receiver"
    ]


def test_address_parity_replies_apply_only_to_known_aircraft():
    stream = ModeSStream("avr")
    (unknown,) = stream.reports(avr(df5_squawk(0x40621D, "7700")), 0.0)
    assert unknown.fields["squawk"] == "7700" and unknown.fields["icao_verified"] is False
    assert "icao:40621D" not in stream.decoder.aircraft
    _, known = stream.reports(avr(EVEN, df5_squawk(0x40621D, "7700")), 1.0)
    assert known.fields["icao_verified"] is True
    assert stream.decoder.aircraft["icao:40621D"].squawk == "7700"


def test_receiver_ticks_map_to_utc_and_resync_on_restart():
    stream = ModeSStream("beast")
    a, b = stream.reports(beast(IDENT, 120_000_000) + beast(VELOCITY, 132_000_000), 50.0)
    assert (a.t_s, b.t_s, a.t_source, b.t_source) == (50.0, 51.0, "receive", "ticks")  # anchor
    (c,) = stream.reports(beast(IDENT, 1_000), 60.0)  # counter restarted
    assert c.t_s == 60.0
    (d,) = stream.reports(beast(IDENT, 1_000 + 12_000_000 * 100), 61.0)  # drifted 99 s: resync
    assert d.t_s == 61.0


# --- rejections -----------------------------------------------------------------------------


def test_bad_avr_lines_are_rejected_naming_the_field_and_the_feed_continues():
    bad_crc = EVEN[:-1] + "8"
    lines = [
        f"*{bad_crc};",
        "garbage",
        "*8D40621D58C3;",
        "*8D4840D6202CC371C32CE05760ZZ;",
        "#1234;",
        "*08000000000000;",
        "*8D4840D6202CC3;",
    ]
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    out = pipe.feed(("\n".join(lines) + "\n").encode() + avr(ODD, EVEN), t_rx_s=0.0)
    assert len(out) == 1 and pipe.counters.decoded == 2
    assert pipe.counters.rejected == len(lines)
    reasons = pipe.counters.rejected_by_reason
    assert reasons["crc: DF17 parity check failed"] == 1
    assert reasons["length: not 2 (Mode A/C), 7 or 14 (Mode S) bytes"] == 1
    assert reasons["msg: not an even number of hex digits"] == 1
    assert reasons["df: unknown downlink format"] == 1  # DF1
    assert reasons["df: does not match the frame length"] == 1  # DF17 in 56 bits
    assert reasons["avr: no ';' at the end of the line"] == 1
    assert reasons["avr: line starts with neither '*' nor '@'"] == 1


def test_truncated_and_garbage_beast_frames_are_rejected_and_the_stream_resyncs():
    good = beast(EVEN, 0x001A0000001A)
    data = beast(ODD)[:12] + b"\x00\x01junk" + beast(IDENT)[:-4] + b"\x1a\x39zz" + beast(ODD) + good
    stream = ModeSStream("beast")
    reps = stream.reports(data, 5.0)
    assert [r.raw for r in reps] == [ODD, EVEN] and reps[1].fields["lat"] == LAT
    reasons = stream.counters.rejected_by_reason
    # the first truncated frame swallowed the junk up to the next 0x1A; the second is cut by 0x1A 0x39
    assert (
        reasons["beast_frame: frame truncated"] == 2
        and reasons["beast_type: unknown frame type"] == 1
    )
    assert stream.finish(6.0) == []
    stream.reports(good[:10], 7.0)
    stream.finish(8.0)
    assert reasons["beast_frame: truncated at end of stream"] == 1


def test_bad_sbs_lines_are_rejected_naming_the_field():
    base = "MSG,3,1,1,40621D,1,2026/06/12,21:30:11.500,2026/06/12,21:30:11.501,,38000,,,52.257202,3.919373,,,,,,0"
    f = base.split(",")

    def edit(i, v):
        g = list(f)
        g[i] = v
        return ",".join(g)

    bad = {"lat": edit(14, "95.0"), "lon": edit(15, "east"), "hex_ident": edit(4, "40621"), "transmission_type": edit(1, "9"),
           "altitude": edit(11, "nan"), "time_generated": edit(7, "25:61:00"), "date_generated": edit(6, "12-06-2026"),
           "squawk": edit(17, "7800"), "message_type": "XYZ,1,2,3", "sbs": "MSG,3,1"}  # fmt: skip
    for field, line in bad.items():
        with pytest.raises(ModeSError) as err:
            parse_sbs_line(line.encode())
        assert err.value.field == field
    pipe = ModeSPipe("adsb-1", ORIGIN, "sbs")
    out = pipe.feed(("\n".join([*bad.values(), base]) + "\n").encode(), t_rx_s=0.0)
    assert len(out) == 1 and pipe.counters.rejected == len(bad)


def test_unknown_format_is_rejected_once_enough_bytes_arrived():
    pipe = ModeSPipe("adsb-1", ORIGIN)
    assert pipe.feed(b"hello world\n" * 100, t_rx_s=0.0) == []
    assert pipe.counters.rejected == 0  # still waiting
    assert pipe.feed(b"hello world\n" * 300, t_rx_s=0.0) == []
    assert list(pipe.counters.rejected_by_reason) == [
        "format: neither Beast frames, AVR lines nor SBS lines"
    ]
    assert len(pipe.feed(avr(ODD, EVEN), t_rx_s=1.0)) == 1  # detects on the next data


def test_avr_timestamps_and_mode_ac():
    f = parse_avr_line(b"@00000000BEEF8D4840D6202CC371C32CE0576098;\r\n")
    assert f.mlat_ticks == 0xBEEF and f.msg == bytes.fromhex(IDENT)
    assert parse_avr_line(b"*7700;").msg == b"\x77\x00"
    kinds = [r.kind for r in ModeSStream("avr").reports(b"*0000;\n*2312;\n", 0.0)]
    assert kinds == ["heartbeat", "mode-ac"]
    with pytest.raises(ModeSError, match="mlat_ticks"):
        parse_avr_line(b"@0000BEEF;")


# --- fuzz -----------------------------------------------------------------------------------

PARSERS = [parse_avr_line, parse_beast_frame, parse_sbs_line, detect_format]
TOKENS = st.sampled_from(
    [
        b"\x1a",
        b"\x1a\x1a",
        b"\x1a3",
        b"\x1a2",
        b"\x1a1",
        b"*",
        b"@",
        b";",
        b"\n",
        b"MSG,",
        b",",
        b"8D",
        b"0",
    ]
)
NOISY = st.lists(st.one_of(st.binary(max_size=20), TOKENS), max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=NOISY)
def test_pure_readers_raise_only_modes_error(data):
    for parse in PARSERS:
        with contextlib.suppress(ModeSError):
            parse(data)


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(NOISY, max_size=6), fmt=st.sampled_from(["auto", "avr", "beast", "sbs"]))
def test_streams_and_pipe_never_raise_on_arbitrary_bytes(chunks, fmt):
    pipe = ModeSPipe("adsb-1", ORIGIN, fmt, receiver_lat_lon=(52.0, 4.0))
    readers: list[FrameReader] = [AvrReader(), BeastReader(), SbsReader()]
    for i, chunk in enumerate(chunks):
        pipe.feed(chunk, t_rx_s=float(i))
        for r in readers:
            assert all(isinstance(x, RawFrame | SbsMessage | ModeSError) for x in r.feed(chunk))
    pipe.stream.finish(99.0)
    for r in readers:
        r.flush()


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(min_size=10, max_size=10),
    first=st.sampled_from([0x8D, 0x8C, 0x90, 0x91, 0x92, 0x93, 0x95, 0x96, 0xA0, 0xA8]),
    short=st.sampled_from([0x00, 0x20, 0x28, 0x58]),
)
def test_decoder_raises_only_modes_error_on_messages_with_valid_parity(payload, first, short):
    """Random bodies with correct parity reach every pyModeS decoder branch."""
    decoder = ModeSDecoder((52.0, 4.0), max_range_m=LOCAL_REFERENCE_RANGE_M)
    frames = [with_parity(bytes([first]) + payload, 0x40621D if first >= 0xA0 else 0)]
    frames += [
        with_parity(bytes([0x8D]) + payload[::-1]),
        with_parity(bytes([short]) + payload[:3], 0x40621D),
    ]
    for i, msg in enumerate(frames):
        with contextlib.suppress(ModeSError):
            decoder.decode_frame(RawFrame(msg), 0.4 * i)


# --- speed check over reception gaps (issue 17) ---------------------------------------------


def flown(
    lat: float, lon: float, speed_kt: float, track_deg: float, t_s: float
) -> tuple[float, float]:
    """Where an aircraft at (lat, lon) is after ``t_s`` s at ``speed_kt`` on ``track_deg``."""
    d_m = speed_kt * KT_MS * t_s
    north, east = d_m * math.cos(math.radians(track_deg)), d_m * math.sin(math.radians(track_deg))
    return lat + north / 111_195.0, lon + east / (111_195.0 * math.cos(math.radians(lat)))


def pair(icao: int, lat: float, lon: float) -> list[str]:
    return [airborne(icao, lat, lon, 30000, 0), airborne(icao, lat, lon, 30000, 1)]


GAP_ICAO = 0x4CA2D1
BEFORE = (52.30, 4.00)
AFTER = flown(*BEFORE, 480.0, 90.0, 10.0)  # 10 s at 480 kt: 2.47 km, beyond the 2 km margin


def test_plain_avr_capture_with_a_reception_gap_keeps_the_correct_position(tmp_path):
    """``adsb decode`` has no clock for plain AVR: a 10 s gap must not look like > 1500 kt."""
    from typer.testing import CliRunner

    from luchtwacht.commands.adsb import app

    capture = tmp_path / "gap.avr"
    capture.write_bytes(avr(*pair(GAP_ICAO, *BEFORE), *pair(GAP_ICAO, *AFTER)))
    result = CliRunner().invoke(app, ["decode", str(capture), "--format", "avr"])
    assert result.exit_code == 0, result.stderr
    positions = [x for x in map(json.loads, result.stdout.splitlines()) if "lat" in x]
    assert len(positions) == 3  # the first frame has no partner yet
    assert json.loads(result.stderr.splitlines()[-1])["rejected"] == 0
    np.testing.assert_allclose([positions[-1]["lat"], positions[-1]["lon"]], AFTER, atol=1e-4)


def test_arrival_times_measure_the_gap_and_still_refuse_a_jump():
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    first, second = pair(GAP_ICAO, *BEFORE)
    pipe.feed(avr(first), t_rx_s=100.0)
    assert len(pipe.feed(avr(second), t_rx_s=100.5)) == 1
    # nothing heard for 10 s, then the aircraft 2.47 km on: correct, accepted
    after = pipe.feed(avr(*pair(GAP_ICAO, *AFTER)), t_rx_s=110.5)
    assert len(after) == 2 and pipe.counters.rejected == 0
    # a frame 1 s later sent from 55 km on: refused on speed (decoded with the last frame as
    # its even/odd partner it lands farther still)
    jump = flown(*AFTER, 480.0, 0.0, 1.0 + 55_000 / (480.0 * KT_MS))
    assert pipe.feed(avr(airborne(GAP_ICAO, *jump, 30000, 0)), t_rx_s=111.5) == []
    assert any("> 1500 kt" in r for r in pipe.counters.rejected_by_reason)


def test_positions_that_arrive_in_one_read_are_not_refused_on_speed():
    """One read of a feed that caught up after a stall holds frames seconds apart."""
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    out = pipe.feed(avr(*pair(GAP_ICAO, *BEFORE), *pair(GAP_ICAO, *AFTER)), t_rx_s=50.0)
    assert len(out) == 3 and pipe.counters.rejected == 0


def test_receiver_timestamps_measure_the_gap_and_still_refuse_a_jump():
    frames = pair(GAP_ICAO, *BEFORE) + pair(GAP_ICAO, *AFTER)
    seconds = [0.0, 0.5, 10.0, 10.5]
    data = [beast(f, round((1.0 + t) * 12e6)) for f, t in zip(frames, seconds, strict=True)]
    # frames arriving as heard: the 12 MHz ticks give the 10 s gap
    stream = ModeSStream("beast")
    out = [r for d, t in zip(data, seconds, strict=True) for r in stream.reports(d, 1_000.0 + t)]
    assert [r.t_source for r in out] == ["receive", "ticks", "ticks", "ticks"]
    assert sum(r.fix is not None for r in out) == 3 and stream.counters.rejected == 0
    jump = flown(*AFTER, 480.0, 0.0, 55_000 / (480.0 * KT_MS))
    late = beast(airborne(GAP_ICAO, *jump, 30000, 1), round(12.0 * 12e6))
    assert stream.reports(late, 1_011.0) == []
    assert any("> 1500 kt" in r for r in stream.counters.rejected_by_reason)
    # one read holding all four (the node stalled): the frame 10 s on re-anchors the tick clock
    # to its arrival time, so only arrival times compare, and they are equal: not refused
    stalled = ModeSStream("beast")
    out = stalled.reports(b"".join(data), 2_000.0)
    assert [r.t_source for r in out] == ["receive", "ticks", "receive", "ticks"]
    assert sum(r.fix is not None for r in out) == 3 and stalled.counters.rejected == 0


def test_a_pair_across_a_gap_without_a_clock_is_refused_not_misplaced():
    """4 min at 550 kt between the pairs: the first frame after the gap pairs with one from
    before it, which decodes a CPR zone away; that pair is refused, the next one is right."""
    after = flown(*BEFORE, 550.0, 0.0, 240.0)
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    out = []
    for frame in pair(GAP_ICAO, *BEFORE) + pair(GAP_ICAO, *after):
        out += pipe.feed(avr(frame), t_rx_s=0.0)
    assert len(out) == 2
    last = ORIGIN.to_geodetic(out[-1].z[0])
    assert (last[0], last[1]) == (
        pytest.approx(after[0], abs=1e-4),
        pytest.approx(after[1], abs=1e-4),
    )
    (reason,) = pipe.counters.rejected_by_reason
    assert reason == "cpr: even/odd frames of unknown age disagree with the last position"


@settings(max_examples=80, deadline=None)
@given(
    gap_s=st.floats(1.0, 300.0),
    speed_kt=st.floats(0.0, 600.0),
    track_deg=st.floats(0.0, 360.0),
    clock=st.sampled_from(["none", "arrival", "one read"]),
)
def test_a_gap_never_refuses_on_speed_nor_misplaces(gap_s, speed_kt, track_deg, clock):
    """A real flight heard before and after a gap: no position is refused as too fast, every
    position given is where the aircraft was, and the one after the gap is given."""
    pipe = ModeSPipe("adsb-1", ORIGIN, "avr")
    after = flown(*BEFORE, speed_kt, track_deg, gap_s)
    frames = pair(GAP_ICAO, *BEFORE) + pair(GAP_ICAO, *after)
    if clock == "one read":
        out = pipe.feed(avr(*frames), t_rx_s=500.0)
    else:
        out = []
        for frame, t in zip(frames, [0.0, 0.5, gap_s, gap_s + 0.5], strict=True):
            out += pipe.feed(avr(frame), t_rx_s=0.0 if clock == "none" else 1_000.0 + t)
    assert not any("1500 kt" in r for r in pipe.counters.rejected_by_reason)
    places = [ORIGIN.to_geodetic(b.z[0])[:2] for b in out]
    assert all(min(math.dist(p, BEFORE), math.dist(p, after)) < 1e-4 for p in places), places
    assert math.dist(places[-1], after) < 1e-4
