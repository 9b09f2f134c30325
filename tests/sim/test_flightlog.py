"""Flight logs as targets: CSV, ArduPilot DataFlash and PX4 ULog files written here byte by byte
(after the formats' specifications), read back, flown in site ENU and used from scenario files."""

from __future__ import annotations

import math
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from luchtwacht.eval.truth import TruthMatcher
from luchtwacht.geo import SiteOrigin
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.flightlog import (
    FlightLog,
    FlightLogError,
    FlightLogPath,
    load_ardupilot_bin,
    load_csv,
    load_flight_log,
    load_px4_ulog,
)
from luchtwacht.sim.scenario_file import ScenarioFileError, ScenarioSection, load_scenario_file

SITE = SiteOrigin(51.6564, 5.7087, 65.0)  # Volkel, as in the demo scenario


# --- a flight to log --------------------------------------------------------------------------------


def flight_enu(dt_s: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two constant-velocity legs in site ENU: times, positions and the velocity of each sample.

    West at 15 m/s climbing 1 m/s from 2500 m east for 20 s, then north-west at 10 m/s level.
    """
    t = np.arange(0.0, 40.0 + dt_s / 2, dt_s)
    v1, v2 = np.array([-15.0, 0.0, 1.0]), np.array([-10.0 / math.sqrt(2), 10.0 / math.sqrt(2), 0.0])
    start = np.array([2500.0, -300.0, 80.0])
    corner = start + 20.0 * v1
    first = t <= 20.0
    pos = np.where(first[:, None], start + t[:, None] * v1, corner + (t[:, None] - 20.0) * v2)
    vel = np.where(first[:, None], v1, v2)
    return t, pos, vel


def geodetic(pos_enu: np.ndarray, origin: SiteOrigin = SITE) -> np.ndarray:
    return origin.to_geodetic(pos_enu)


# --- DataFlash (ArduPilot .bin) ---------------------------------------------------------------------

# Each message: 0xA3 0x95, the type byte, then the fields packed little-endian without padding.
# FMT (type 128) defines a type: Type, Length (with the 3 header bytes), Name (char[4]),
# Format (char[16]), Columns (char[64]). Format characters as in ArduPilot's
# AP_Logger/LogStructure.h: c/C/e/E are hundredths in integers, L is degrees * 1e7.
DF_STRUCT = {
    "b": "b", "B": "B", "h": "h", "H": "H", "i": "i", "I": "I", "q": "q", "Q": "Q", "f": "f",
    "d": "d", "c": "h", "C": "H", "e": "i", "E": "I", "L": "i", "M": "B", "n": "4s", "N": "16s",
    "Z": "64s",
}  # fmt: skip
DF_SCALE = {"c": 100.0, "C": 100.0, "e": 100.0, "E": 100.0, "L": 1e7}
GPS_FMT = (
    "GPS",
    "QBBIHBcLLeffffB",
    "TimeUS,I,Status,GMS,GWk,NSats,HDop,Lat,Lng,Alt,Spd,GCrs,VZ,Yaw,U",
)
GPA_FMT = (
    "GPA",
    "QBCCCCfBIHeHH",
    "TimeUS,I,VDop,HAcc,VAcc,SAcc,YAcc,VV,SMS,Delta,AEl,RTCMFU,RTCMFD",
)
POS_FMT = ("POS", "QLLfff", "TimeUS,Lat,Lng,Alt,RelHomeAlt,RelOriginAlt")


class DataFlashWriter:
    """Builds a DataFlash log: FMT messages first, then data messages by name."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.types: dict[str, tuple[int, str, list[str]]] = {}
        self.define(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns")

    def define(self, type_id: int, name: str, fmt: str, columns: str) -> None:
        length = 3 + struct.calcsize("<" + "".join(DF_STRUCT[c] for c in fmt))
        self.types[name] = (type_id, fmt, columns.split(","))
        self.buf += b"\xa3\x95\x80" + struct.pack(
            "<BB4s16s64s", type_id, length, name.encode(), fmt.encode(), columns.encode()
        )

    def write(self, name: str, **values: float | int | str) -> None:
        type_id, fmt, columns = self.types[name]
        packed: list[float | int | bytes] = []
        for c, col in zip(fmt, columns, strict=True):
            v = values.get(col, 0)
            if c in DF_SCALE:
                packed.append(round(float(v) * DF_SCALE[c]))
            elif c in "nNZ":
                packed.append(str(v).encode())
            else:
                packed.append(float(v) if c in "fd" else int(v))
        self.buf += b"\xa3\x95" + bytes([type_id])
        self.buf += struct.pack("<" + "".join(DF_STRUCT[c] for c in fmt), *packed)


def ardupilot_log(
    t_s: np.ndarray,
    geo: np.ndarray,
    *,
    with_gpa: bool = False,
    with_gps: bool = True,
    with_pos: bool = False,
    undulation_m: float = 43.0,
) -> bytes:
    """A log as ArduPilot writes it: GPS (two receivers, the first without fix for 1 s), GPA, POS.

    ``geo`` holds ellipsoidal heights; ``GPS.Alt`` gets them less the undulation (AMSL) and
    ``GPA.AEl`` the ellipsoidal ones.
    """
    w = DataFlashWriter()
    w.define(130, *GPS_FMT)
    w.define(131, *GPA_FMT)
    w.define(132, *POS_FMT)
    boot_us = 93_417_000
    for k in range(5):  # searching for satellites: no fix, zero position
        w.write("GPS", TimeUS=boot_us - 1_000_000 + k * 200_000, I=0, Status=1, NSats=3)
    for t, (lat, lon, alt) in zip(t_s, geo, strict=True):
        us = boot_us + round(t * 1e6)
        gms = 345_600_000 + round(t * 1e3)
        if with_gps:
            common = {"GMS": gms, "GWk": 2420, "NSats": 14, "HDop": 0.7, "Spd": 15.0, "U": 1}
            w.write(
                "GPS", TimeUS=us, I=0, Status=3, Lat=lat, Lng=lon, Alt=alt - undulation_m, **common
            )
            # a second receiver 3 m away, logged with the same fix: not the one flown
            w.write(
                "GPS", TimeUS=us + 500, I=1, Status=6, Lat=lat + 3e-5, Lng=lon, Alt=alt, **common
            )
        if with_gpa:
            w.write("GPA", TimeUS=us, I=0, VDop=1.1, HAcc=0.8, VAcc=1.2, SMS=us // 1000, AEl=alt)
            w.write("GPA", TimeUS=us + 500, I=1, AEl=-(2**31) / 100.0)
        if with_pos:
            w.write("POS", TimeUS=us + 2500, Lat=lat, Lng=lon, Alt=alt - undulation_m)
    return bytes(w.buf)


# --- ULog (PX4 .ulg) --------------------------------------------------------------------------------

# https://docs.px4.io/main/en/dev_log/ulog_file_format.html: a 16-byte header (magic "ULog",
# 0x01 0x12 0x35, version, start time in µs), then messages of uint16 size, uint8 type, payload:
# 'B' flag bits first, then 'I' info and 'F' formats (the definitions section), then 'A'
# subscriptions and 'D' data (uint16 msg_id, the fields as the format lists them, little-endian).
ULOG_STRUCT = {
    "uint64_t": "Q", "int64_t": "q", "uint32_t": "I", "int32_t": "i", "uint16_t": "H",
    "int16_t": "h", "uint8_t": "B", "int8_t": "b", "float": "f", "double": "d", "bool": "?",
}  # fmt: skip
GLOBAL_POSITION = [
    ("uint64_t", "timestamp"),
    ("uint64_t", "timestamp_sample"),
    ("double", "lat"),
    ("double", "lon"),
    ("float", "alt"),
    ("float", "alt_ellipsoid"),
    ("float", "delta_alt"),
    ("float", "eph"),
    ("float", "epv"),
    ("float", "terrain_alt"),
    ("uint8_t", "lat_lon_reset_counter"),
    ("uint8_t", "alt_reset_counter"),
    ("bool", "terrain_alt_valid"),
    ("bool", "dead_reckoning"),
]
GPS_POSITION = [  # vehicle_gps_position before PX4 1.14: lat/lon 1e-7 deg, heights in mm
    ("uint64_t", "timestamp"),
    ("int32_t", "lat"),
    ("int32_t", "lon"),
    ("int32_t", "alt"),
    ("int32_t", "alt_ellipsoid"),
    ("float", "eph"),
    ("float", "epv"),
    ("uint8_t", "fix_type"),
    ("uint8_t", "satellites_used"),
]


class ULogWriter:
    """Builds a ULog file message by message."""

    def __init__(self, start_us: int = 1_000_000) -> None:
        self.buf = bytearray(b"ULog\x01\x12\x35" + bytes([1]) + struct.pack("<Q", start_us))
        self.msg("B", bytes(8) + bytes(8) + bytes(3 * 8))  # no flags, no appended data
        self.info("char[3] sys_name", b"PX4")
        self.info("char[8] ver_hw", b"PX4_FMU_")
        self.formats: dict[str, list[tuple[str, str]]] = {}
        self.subscriptions: list[str] = []

    def msg(self, kind: str, payload: bytes) -> None:
        self.buf += struct.pack("<HB", len(payload), ord(kind)) + payload

    def info(self, key: str, value: bytes) -> None:
        self.msg("I", bytes([len(key)]) + key.encode() + value)

    def format(self, name: str, fields: list[tuple[str, str]], padding: int = 0) -> None:
        text = name + ":" + "".join(f"{t} {n};" for t, n in fields)
        if padding:
            text += f"uint8_t[{padding}] _padding0;"
        self.formats[name] = fields
        self.msg("F", text.encode())

    def subscribe(self, name: str, multi_id: int = 0) -> int:
        msg_id = len(self.subscriptions)
        self.subscriptions.append(name)
        self.msg("A", struct.pack("<BH", multi_id, msg_id) + name.encode())
        return msg_id

    def data(self, msg_id: int, **values: float | int) -> None:
        fields = self.formats[self.subscriptions[msg_id]]
        fmt = "<" + "".join(ULOG_STRUCT[t] for t, _ in fields)
        packed = [values.get(n, 0) for _, n in fields]
        self.msg("D", struct.pack("<H", msg_id) + struct.pack(fmt, *packed))


def px4_log(
    t_s: np.ndarray,
    geo: np.ndarray,
    *,
    global_position: bool = True,
    ellipsoid: bool = True,
    undulation_m: float = 43.0,
) -> bytes:
    """A log as PX4 writes it: global position (the EKF) and/or the GPS receiver's fixes."""
    w = ULogWriter()
    gp_fields = (
        GLOBAL_POSITION if ellipsoid else [f for f in GLOBAL_POSITION if f[1] != "alt_ellipsoid"]
    )
    w.format("vehicle_global_position", gp_fields, padding=4)
    w.format("vehicle_gps_position", GPS_POSITION, padding=2)
    gps = w.subscribe("vehicle_gps_position")
    gp = w.subscribe("vehicle_global_position") if global_position else None
    boot_us = 41_250_000
    for k in range(3):  # no fix yet
        w.data(gps, timestamp=boot_us - 600_000 + k * 200_000, fix_type=1)
    for t, (lat, lon, alt) in zip(t_s, geo, strict=True):
        us = boot_us + round(t * 1e6)
        w.data(
            gps,
            timestamp=us - 20_000,
            lat=round(lat * 1e7),
            lon=round(lon * 1e7),
            alt=round((alt - undulation_m) * 1e3),
            alt_ellipsoid=round(alt * 1e3) if ellipsoid else 0,
            fix_type=3,
            satellites_used=12,
        )
        if gp is not None:
            w.data(
                gp,
                timestamp=us,
                timestamp_sample=us - 3000,
                lat=lat,
                lon=lon,
                alt=alt - undulation_m,
                alt_ellipsoid=alt,
                eph=0.9,
                epv=1.4,
            )
    return bytes(w.buf)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def csv_text(t_s: np.ndarray, geo: np.ndarray, header: str = "time_s,lat,lon,alt_m") -> str:
    rows = [",".join(repr(float(v)) for v in (t, *g)) for t, g in zip(t_s, geo, strict=True)]
    return header + "\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def flight() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times, ENU positions, ENU velocities and geodetic samples (ellipsoidal) of the flight."""
    t, pos, vel = flight_enu()
    return t, pos, vel, geodetic(pos)


# --- loaders return the samples written ---------------------------------------------------------------


def test_csv_returns_the_rows(tmp_path, flight):
    t, _, _, geo = flight
    log = load_csv(write(tmp_path / "f.csv", csv_text(t + 7.5, geo)))
    assert len(log) == len(t)
    assert np.array_equal(log.t_s, t + 7.5 - 7.5)  # seconds from the first sample
    assert np.array_equal(log.lat_deg, geo[:, 0])
    assert np.array_equal(log.lon_deg, geo[:, 1])
    assert np.array_equal(log.alt_m, geo[:, 2])
    assert str(tmp_path / "f.csv") in log.source
    assert not log.t_s.flags.writeable


def test_csv_short_header_any_order_comments_and_geoid(tmp_path):
    text = (
        "# exported by hand\nlon,alt,t,lat,speed\n\n5.70,30.0,0.0,51.65,3\n5.71,31.0,1.0,51.66,3\n"
    )
    log = load_csv(write(tmp_path / "f.csv", text), geoid_undulation_m=43.0)
    assert log.t_s.tolist() == [0.0, 1.0]
    assert log.lat_deg.tolist() == [51.65, 51.66]
    assert log.lon_deg.tolist() == [5.70, 5.71]
    assert log.alt_m.tolist() == [73.0, 74.0]


def test_csv_exact_duplicate_rows_are_dropped(tmp_path):
    text = "t,lat,lon,alt\n0,51.6,5.7,80\n1,51.6,5.7,81\n1,51.6,5.7,81\n2,51.6,5.7,82\n"
    log = load_csv(write(tmp_path / "f.csv", text))
    assert log.t_s.tolist() == [0.0, 1.0, 2.0]


def test_csv_runs_of_one_time_are_judged_against_their_first_sample(tmp_path, caplog):
    """Three rows at t=1: each within 10 m of the first is dropped; drifting past it is not."""
    north_6m = 6.0 / 111_195.0
    rows = [(0, 0.0), (1, 0.0), (1, north_6m / 600), (1, north_6m / 6), (2, north_6m)]
    text = "t,lat,lon,alt\n" + "".join(f"{t},{51.6 + d!r},5.7,80\n" for t, d in rows)
    log = load_csv(write(tmp_path / "f.csv", text))
    assert log.repeats_dropped == 2 and log.t_s.tolist() == [0.0, 1.0, 2.0]
    assert log.lat_deg[1] == 51.6 and len(caplog.records) == 1
    drift = [(0, 0.0), (1, 0.0), (1, north_6m), (1, 2 * north_6m), (2, 3 * north_6m)]
    text = "t,lat,lon,alt\n" + "".join(f"{t},{51.6 + d!r},5.7,80\n" for t, d in drift)
    with pytest.raises(FlightLogError, match=r"line 5: time 1.000000 s repeats .* 12.0 m away"):
        load_csv(write(tmp_path / "g.csv", text))


def test_ardupilot_gps_with_fix_of_the_first_receiver(tmp_path, flight):
    t, _, _, geo = flight
    log = load_ardupilot_bin(
        write(tmp_path / "f.bin", ardupilot_log(t, geo)), geoid_undulation_m=43.0
    )
    assert len(log) == len(t)  # the no-fix messages and the second receiver are left out
    assert np.allclose(log.t_s, t, rtol=0, atol=1e-9)
    # Lat/Lng are stored in 1e-7 degrees, Alt in centimetres (AMSL; the undulation added back)
    assert np.allclose(log.lat_deg, geo[:, 0], rtol=0, atol=0.51e-7)
    assert np.allclose(log.lon_deg, geo[:, 1], rtol=0, atol=0.51e-7)
    assert np.allclose(log.alt_m, geo[:, 2], rtol=0, atol=0.0051)
    assert "GPS instance 0" in log.source and "AMSL + 43 m" in log.source


def test_ardupilot_prefers_gpa_ellipsoid_height(tmp_path, flight):
    t, _, _, geo = flight
    path = write(tmp_path / "f.bin", ardupilot_log(t, geo, with_gpa=True, undulation_m=40.0))
    log = load_ardupilot_bin(path, geoid_undulation_m=0.0)  # not needed: the log has AEl
    assert np.allclose(log.alt_m, geo[:, 2], rtol=0, atol=0.0051)
    assert "GPA.AEl" in log.source


def test_ardupilot_pos_when_no_gps(tmp_path, flight):
    t, _, _, geo = flight
    path = write(tmp_path / "f.bin", ardupilot_log(t, geo, with_gps=False, with_pos=True))
    log = load_ardupilot_bin(path, geoid_undulation_m=43.0)
    assert len(log) == len(t)
    assert np.allclose(log.lat_deg, geo[:, 0], rtol=0, atol=0.51e-7)
    assert np.allclose(log.alt_m, geo[:, 2], rtol=0, atol=1e-4)  # POS.Alt is a float
    assert "POS" in log.source


def test_px4_global_position(tmp_path, flight):
    t, _, _, geo = flight
    log = load_px4_ulog(write(tmp_path / "f.ulg", px4_log(t, geo)))
    assert len(log) == len(t)
    assert np.allclose(log.t_s, t, rtol=0, atol=1e-9)
    assert np.array_equal(log.lat_deg, geo[:, 0])  # doubles
    assert np.array_equal(log.lon_deg, geo[:, 1])
    assert np.allclose(log.alt_m, geo[:, 2], rtol=0, atol=1e-4)  # alt_ellipsoid, a float32
    assert "vehicle_global_position" in log.source and "alt_ellipsoid" in log.source


def test_px4_gps_position_fallback_amsl_plus_geoid(tmp_path, flight):
    t, _, _, geo = flight
    data = px4_log(t, geo, global_position=False, ellipsoid=False, undulation_m=43.0)
    log = load_px4_ulog(write(tmp_path / "f.ulg", data), geoid_undulation_m=43.0)
    assert len(log) == len(t)  # the samples before the 3D fix are left out
    assert np.allclose(log.lat_deg, geo[:, 0], rtol=0, atol=0.51e-7)
    assert np.allclose(log.lon_deg, geo[:, 1], rtol=0, atol=0.51e-7)
    assert np.allclose(log.alt_m, geo[:, 2], rtol=0, atol=0.00051)  # millimetres
    assert "vehicle_gps_position" in log.source and "AMSL + 43 m" in log.source


def test_load_flight_log_by_extension_or_format(tmp_path, flight):
    t, _, _, geo = flight
    files: dict[str, bytes | str] = {
        "a.csv": csv_text(t, geo),
        "a.bin": ardupilot_log(t, geo, undulation_m=0.0),
        "a.ulg": px4_log(t, geo),
        "a.BIN": ardupilot_log(t, geo, undulation_m=0.0),
    }
    for name, data in files.items():
        log = load_flight_log(write(tmp_path / name, data))
        assert np.allclose(log.lat_deg, geo[:, 0], rtol=0, atol=1e-7), name
    px4 = load_flight_log(write(tmp_path / "flight.log", px4_log(t, geo)), "px4")
    assert len(px4) == len(t)
    with pytest.raises(FlightLogError, match=r"extension '\.log'"):
        load_flight_log(tmp_path / "flight.log")


# --- bad logs say what and where ----------------------------------------------------------------------

GOOD_CSV = "time_s,lat,lon,alt_m\n0,51.6,5.7,80\n1,51.6,5.7001,81\n2,51.6,5.7002,82\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty file"),
        ("# only a comment\n\n", "empty file"),
        ("time_s,lat,lon,alt_m\n", "no position samples"),
        ("time_s,lat,lon,alt_m\n0,51.6,5.7,80\n", "only one position sample"),
        (
            "time,lat,lon,alt_m\n0,51.6,5.7,80\n",
            ":1: header 'time,lat,lon,alt_m' has no time_s or t",
        ),
        (GOOD_CSV.replace("1,51.6,5.7001,81", "1,51.6,five,81"), ":3: lon is not a number: 'five'"),
        (GOOD_CSV.replace("1,51.6,5.7001,81", "1,51.6,5.7001"), ":3: expected 4 fields"),
        (GOOD_CSV.replace("2,51.6,5.7002,82", "2,nan,5.7002,82"), "line 4: latitude is nan"),
        (GOOD_CSV.replace("2,51.6,5.7002,82", "2,51.6,5.7002,inf"), "line 4: altitude is inf"),
        (GOOD_CSV.replace("1,51.6,5.7001,81", "1,91.0,5.7001,81"), "line 3: latitude 91.0000000"),
        (GOOD_CSV.replace("1,51.6,5.7001,81", "1,51.6,-180.5,81"), "line 3: longitude -180.5"),
        (GOOD_CSV.replace("2,51.6", "0.5,51.6"), "line 4: time 0.500000 s is not after"),
        (
            GOOD_CSV.replace("2,51.6,", "1,51.7,"),
            "line 4: time 1.000000 s repeats with another position 11",
        ),
    ],
)
def test_csv_errors_name_the_line(tmp_path, text, expected):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(FlightLogError) as info:
        load_csv(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_missing_and_empty_files(tmp_path):
    for load in (load_csv, load_ardupilot_bin, load_px4_ulog):
        with pytest.raises(FlightLogError, match="cannot read"):
            load(tmp_path / "absent")
    for name in ("e.bin", "e.ulg"):
        with pytest.raises(FlightLogError, match="empty file"):
            load_flight_log(write(tmp_path / name, b""))


def test_ardupilot_without_positions(tmp_path):
    w = DataFlashWriter()
    w.define(130, *GPS_FMT)
    for k in range(20):
        w.write("GPS", TimeUS=1_000_000 + k * 200_000, I=0, Status=2, Lat=51.6, Lng=5.7)  # 2D fix
    with pytest.raises(FlightLogError, match=r"no GPS message with a 3D fix \(Status >= 3\)"):
        load_ardupilot_bin(write(tmp_path / "f.bin", bytes(w.buf)))
    with pytest.raises(FlightLogError, match="no GPS message"):
        load_ardupilot_bin(write(tmp_path / "text.bin", b"this is not a log\n" * 50))


def test_ardupilot_time_going_back_names_the_sample(tmp_path, flight):
    t, _, _, geo = flight
    t = t.copy()
    t[50] = t[48]
    with pytest.raises(FlightLogError, match=r"GPS sample 50 \(t .*\): time .* is not after"):
        load_ardupilot_bin(write(tmp_path / "f.bin", ardupilot_log(t, geo)))


# --- firmware generations: each GPS layout ArduPilot has logged -----------------------------------------

# ArduCopter 3.2 and early 3.3 (PX4v2): GPS time in TimeMS/Week, boot ms in T, no TimeUS, no instance.
GPS_FMT_AC32 = (
    "GPS",
    "BIHBcLLeeEefI",
    "Status,TimeMS,Week,NSats,HDop,Lat,Lng,RelAlt,Alt,Spd,GCrs,VZ,T",
)
# ArduCopter 3.3 to 3.6: TimeUS and GMS/GWk, one message type per receiver (GPS, GPS2), no I.
GPS_FMT_AC34 = (
    "GPS",
    "QBIHBcLLeeEefB",
    "TimeUS,Status,GMS,GWk,NSats,HDop,Lat,Lng,RelAlt,Alt,Spd,GCrs,VZ,U",
)


def legacy_ardupilot_log(
    t_s: np.ndarray,
    geo: np.ndarray,
    fmt: tuple[str, str, str],
    *,
    boot_ms: int = 61_250,
    boot_clock: bool = True,
) -> bytes:
    """GPS of an older firmware: boot clock at ``boot_ms + t``, GPS time every 200 ms (see below).

    The GPS time (TimeMS/GMS) is stamped at the 200 ms epoch the fix belongs to, so a receiver
    delivering faster than that gives two fixes one GPS time, as the issue's 3.3 log does.
    """
    w = DataFlashWriter()
    w.define(130, *fmt)
    for k in range(3):  # no fix yet
        w.write("GPS", TimeUS=k * 200_000, T=k * 200, Status=1, NSats=4)
    for t, (lat, lon, alt) in zip(t_s, geo, strict=True):
        ms = boot_ms + round(t * 1e3)
        gps_ms = 345_600_000 + 200 * math.floor(round(t * 1e3) / 200)
        w.write(
            "GPS",
            TimeUS=ms * 1000,
            T=ms if boot_clock else 0,
            Status=3,
            TimeMS=gps_ms,
            Week=1850,
            GMS=gps_ms,
            GWk=1850,
            NSats=11,
            HDop=0.9,
            Lat=lat,
            Lng=lon,
            RelAlt=alt - geo[0, 2],
            Alt=alt - 43.0,
            Spd=15.0,
        )
    return bytes(w.buf)


@pytest.mark.parametrize("fmt", [GPS_FMT_AC32, GPS_FMT_AC34, GPS_FMT], ids=["3.2", "3.4", "4.x"])
def test_ardupilot_generations_give_the_written_flight(tmp_path, flight, fmt, caplog):
    t, _, _, geo = flight
    t, geo = t[:60], geo[:60]
    data = legacy_ardupilot_log(t, geo, fmt) if fmt is not GPS_FMT else ardupilot_log(t, geo)
    log = load_ardupilot_bin(write(tmp_path / "f.bin", data), geoid_undulation_m=43.0)
    assert len(log) == len(t) and log.repeats_dropped == 0
    assert np.allclose(log.t_s, t, rtol=0, atol=1e-9)  # the boot clock, not the GPS time
    assert np.allclose(log.lat_deg, geo[:, 0], rtol=0, atol=0.51e-7)
    assert np.allclose(log.lon_deg, geo[:, 1], rtol=0, atol=0.51e-7)
    assert np.allclose(log.alt_m, geo[:, 2], rtol=0, atol=0.0051)
    assert not caplog.records


def test_ardupilot_32_log_with_t_left_at_zero_goes_by_gps_time(tmp_path, flight):
    t, _, _, geo = flight
    data = legacy_ardupilot_log(t[:30], geo[:30], GPS_FMT_AC32, boot_clock=False)
    log = load_ardupilot_bin(write(tmp_path / "f.bin", data), geoid_undulation_m=43.0)
    assert np.allclose(log.t_s, t[:30], rtol=0, atol=1e-6)  # Week/TimeMS, from the first fix
    assert np.allclose(log.lat_deg, geo[:30, 0], rtol=0, atol=0.51e-7)


def test_ardupilot_33_log_with_two_fixes_at_one_gps_time(tmp_path, caplog):
    """The issue's log: fixes 1 cm apart with one Week/TimeMS but their own boot time T."""
    t = np.array([0.0, 0.2, 0.3, 0.4, 0.6])
    geo = np.array([[51.6564, 5.7087, 90.0]] * 5)
    geo[:, 1] += np.array([0.0, 3.0, 3.01, 6.0, 9.0]) / 69_000.0  # metres east
    data = legacy_ardupilot_log(t, geo, GPS_FMT_AC32)
    assert data.count(struct.pack("<IH", 345_600_200, 1850)) == 2  # 0.2 s and 0.3 s share it
    log = load_ardupilot_bin(write(tmp_path / "ac33.bin", data), geoid_undulation_m=43.0)
    assert np.allclose(log.t_s, t, rtol=0, atol=1e-9)
    assert np.allclose(log.lon_deg, geo[:, 1], rtol=0, atol=0.51e-7)
    assert log.repeats_dropped == 0 and not caplog.records


@pytest.mark.parametrize("fmt", [GPS_FMT_AC32, GPS_FMT_AC34], ids=["3.2", "3.4"])
def test_ardupilot_repeated_time_1cm_apart_is_dropped_with_one_warning(tmp_path, fmt, caplog):
    t = np.array([0.0, 0.2, 0.2, 0.4, 0.4, 0.6])
    geo = np.array([[51.6564, 5.7087, 90.0]] * 6)
    geo[:, 0] += np.array([0.0, 3.0, 3.01, 6.0, 6.0, 9.0]) / 111_195.0  # metres north
    with caplog.at_level("WARNING", logger="luchtwacht.sim.flightlog"):
        log = load_ardupilot_bin(write(tmp_path / "f.bin", legacy_ardupilot_log(t, geo, fmt)))
    assert log.repeats_dropped == 2
    assert np.allclose(log.t_s, [0.0, 0.2, 0.4, 0.6], rtol=0, atol=1e-9)
    assert np.allclose(log.lat_deg, geo[[0, 1, 3, 5], 0], rtol=0, atol=0.51e-7)  # the first kept
    [warning] = caplog.records
    assert warning.levelname == "WARNING" and "\n" not in warning.getMessage()
    assert "dropped 2 sample(s)" in warning.getMessage()
    assert "GPS sample 2 (t 61.450000 s)" in warning.getMessage()


def test_ardupilot_repeated_time_far_apart_is_one_line_error(tmp_path):
    t = np.array([0.0, 0.2, 0.2, 0.4])
    geo = np.array([[51.6564, 5.7087, 90.0]] * 4)
    geo[:, 0] += np.array([0.0, 3.0, 53.0, 6.0]) / 111_195.0
    with pytest.raises(FlightLogError) as info:
        load_ardupilot_bin(write(tmp_path / "f.bin", legacy_ardupilot_log(t, geo, GPS_FMT_AC32)))
    msg = str(info.value)
    assert (
        "\n" not in msg and "GPS sample 2" in msg and "repeats with another position 50.0 m" in msg
    )


def test_ardupilot_gps_without_any_time_column_is_one_line_error(tmp_path):
    w = DataFlashWriter()
    w.define(130, "GPS", "BLLe", "Status,Lat,Lng,Alt")
    for k in range(3):
        w.write("GPS", Status=3, Lat=51.6 + k * 1e-4, Lng=5.7, Alt=30.0)
    with pytest.raises(FlightLogError) as info:
        load_ardupilot_bin(write(tmp_path / "f.bin", bytes(w.buf)))
    assert "\n" not in str(info.value)
    assert "GPS messages carry no time field (columns Status,Lat,Lng,Alt)" in str(info.value)


def test_px4_errors(tmp_path, flight):
    t, _, _, geo = flight
    with pytest.raises(FlightLogError, match="not a readable ULog file"):
        load_px4_ulog(write(tmp_path / "a.ulg", b"ULog\x00 this is not one" * 10))
    w = ULogWriter()
    w.format("battery_status", [("uint64_t", "timestamp"), ("float", "voltage_v")])
    w.data(w.subscribe("battery_status"), timestamp=1000, voltage_v=16.2)
    with pytest.raises(FlightLogError, match="no vehicle_global_position or vehicle_gps_position"):
        load_px4_ulog(write(tmp_path / "b.ulg", bytes(w.buf)))
    nofix = px4_log(t[:5], geo[:5], global_position=False)
    nofix = nofix.replace(struct.pack("<BB", 3, 12), struct.pack("<BB", 2, 12))  # 2D fixes only
    with pytest.raises(FlightLogError, match="no sample with a 3D fix"):
        load_px4_ulog(write(tmp_path / "c.ulg", nofix))


def test_truncated_logs(tmp_path, flight):
    """Cut in the middle of a message: the whole messages before the cut are used."""
    t, _, _, geo = flight
    bin_data = ardupilot_log(t, geo, undulation_m=0.0)
    log = load_ardupilot_bin(write(tmp_path / "cut.bin", bin_data[: len(bin_data) // 2 + 7]))
    assert 0 < len(log) < len(t)
    assert np.allclose(log.lat_deg, geo[: len(log), 0], rtol=0, atol=1e-7)
    ulg = px4_log(t, geo)
    log = load_px4_ulog(write(tmp_path / "cut.ulg", ulg[: len(ulg) // 2 + 7]))
    assert 0 < len(log) < len(t)
    # cut before the second fix: nothing to fly
    with pytest.raises(FlightLogError):
        load_ardupilot_bin(write(tmp_path / "short.bin", bin_data[: 89 * 4 + 51 * 6]))


def test_ardupilot_damaged_bytes_are_skipped_quietly_or_quoted(tmp_path, flight, capfd):
    """pymavlink's compiled indexer prints "bad header" to descriptor 2: kept off the console."""
    t, _, _, geo = flight
    data = ardupilot_log(t[:20], geo[:20], undulation_m=0.0)
    cut = 4 * 89 + 4 * 51  # after the FMTs and two samples, more than 528 bytes from the end
    log = load_ardupilot_bin(write(tmp_path / "f.bin", data[:cut] + b"\x00\x17" + data[cut:]))
    assert len(log) == 20  # the reader found its way back
    assert capfd.readouterr() == ("", "")
    with pytest.raises(FlightLogError, match="the reader said: bad header") as info:
        load_ardupilot_bin(write(tmp_path / "text.bin", b"this is not a log\n" * 50))
    assert "\n" not in str(info.value)
    assert capfd.readouterr() == ("", "")


# --- fuzzing: a bad file raises FlightLogError and nothing else -----------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_bytes(suffix: str, data: bytes) -> FlightLog | None:
    """Load ``data`` as a log file; None when it was refused with a FlightLogError."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            log = load_flight_log(path)
        except FlightLogError as exc:
            refused = str(exc)
        else:
            refused = ""
    if refused:
        assert str(path) in refused
        return None
    assert len(log) >= 2 and np.all(np.diff(log.t_s) > 0)
    assert np.all(np.isfinite(log.lat_deg)) and np.all(np.abs(log.lat_deg) <= 90)
    assert np.all(np.isfinite(log.lon_deg)) and np.all(np.abs(log.lon_deg) <= 180)
    assert np.all(np.isfinite(log.alt_m))
    return log


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", " ", "nan", "-inf", "1e999", "51.6", "abc", '"5.7"', "0x10", "1_0"]),
    st.text(max_size=6),
)


@FUZZ
@given(
    header=st.sampled_from(["time_s,lat,lon,alt_m", "t,lat,lon,alt", "t,lat,lon", "x"]),
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=8),
)
def test_fuzz_csv_rows(header, rows):
    text = header + "\n" + "\n".join(",".join(r) for r in rows)
    load_bytes(".csv", text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(
    data=st.binary(max_size=400)
    | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))
)
def test_fuzz_csv_any_bytes(data):
    load_bytes(".csv", data)


def _valid_logs() -> dict[str, bytes]:
    t, pos, _ = flight_enu(dt_s=1.0)
    geo = geodetic(pos)
    return {".bin": ardupilot_log(t, geo, with_gpa=True, with_pos=True), ".ulg": px4_log(t, geo)}


VALID = _valid_logs()


@FUZZ
@given(
    suffix=st.sampled_from([".bin", ".ulg"]),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(
        st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 255)), max_size=12
    ),
)
def test_fuzz_truncated_and_garbled_logs(suffix, cut, flips):
    data = bytearray(VALID[suffix])
    for where, value in flips:
        data[int(where * len(data))] = value
    load_bytes(suffix, bytes(data[: int(cut * len(data))]))


@FUZZ
@given(
    suffix=st.sampled_from([".bin", ".ulg"]), data=st.binary(max_size=600), keep=st.integers(0, 400)
)
def test_fuzz_random_bytes_after_a_real_header(suffix, data, keep):
    """Random bytes, alone or after the first bytes of a real log (formats, subscriptions)."""
    load_bytes(suffix, VALID[suffix][:keep] + data)


# --- flying a log -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_log(tmp_path_factory, flight) -> FlightLog:
    t, _, _, geo = flight
    return load_csv(write(tmp_path_factory.mktemp("log") / "f.csv", csv_text(t, geo)))


def test_target_passes_through_the_logged_points(csv_log, flight):
    t, pos, vel, geo = flight
    path = FlightLogPath(csv_log, SITE, t_start_s=12.0)
    want = SITE.to_enu(geo[:, 0], geo[:, 1], geo[:, 2])
    assert np.allclose(want, pos, rtol=0, atol=1e-6)
    for k in range(len(t)):
        state = path.state(12.0 + t[k])
        assert state is not None
        assert np.allclose(state[0], want[k], rtol=0, atol=1e-6), k
    # between samples on a straight leg: the straight line, at the leg's velocity
    for tk in (3.1, 9.95, 27.3, 33.33):
        state = path.state(12.0 + tk)
        assert state is not None
        k = int(tk > 20.0)
        expected = pos[0] + tk * vel[0] if k == 0 else pos[100] + (tk - 20.0) * vel[-1]
        assert np.allclose(state[0], expected, rtol=0, atol=1e-6), tk
        assert np.allclose(state[1], vel[0] if k == 0 else vel[-1], rtol=0, atol=1e-6), tk
    # only at the corner do the finite differences blend the two legs
    corner = path.state(12.0 + 20.0)
    assert corner is not None
    assert np.allclose(corner[1], (vel[0] + vel[-1]) / 2, rtol=0, atol=1e-6)


def test_absent_before_the_first_and_after_the_last_sample(csv_log):
    path = FlightLogPath(csv_log, SITE, t_start_s=12.0)
    assert path.state(11.999) is None
    assert path.state(12.0) is not None
    assert path.state(52.0) is not None
    assert path.t_end_s == pytest.approx(52.0)
    assert path.state(52.001) is None
    assert path.state(float("nan")) is None


def test_time_scale_replays_faster(csv_log, flight):
    _, pos, vel, _ = flight
    path = FlightLogPath(csv_log, SITE, t_start_s=5.0, time_scale=2.0)
    assert path.t_end_s == pytest.approx(25.0)
    state = path.state(5.0 + 5.0)  # 10 s into the log
    assert state is not None
    assert np.allclose(state[0], pos[0] + 10.0 * vel[0], rtol=0, atol=1e-6)
    assert np.allclose(state[1], 2.0 * vel[0], rtol=0, atol=1e-6)
    assert path.state(25.01) is None
    with pytest.raises(ValueError, match="time_scale"):
        FlightLogPath(csv_log, SITE, time_scale=0.0)


def test_shift_moves_the_whole_flight(csv_log):
    plain = FlightLogPath(csv_log, SITE)
    shifted = FlightLogPath(csv_log, SITE, shift_enu_m=(-100.0, 50.0, 10.0))
    for tk in (0.0, 13.0, 40.0):
        a, b = plain.state(tk), shifted.state(tk)
        assert a is not None and b is not None
        assert np.allclose(b[0] - a[0], [-100.0, 50.0, 10.0], rtol=0, atol=1e-9)
        assert np.allclose(b[1], a[1], rtol=0, atol=1e-12)


def test_relocated_log_from_elsewhere_keeps_its_shape(tmp_path, flight):
    """A flight logged near Zürich, flown with its first sample 1 km north of Volkel at 60 m."""
    t, pos, vel, _ = flight
    zurich = SiteOrigin(47.4582, 8.5555, 470.0)
    there = zurich.to_geodetic(pos - pos[0])  # the same flight, starting over Zürich's origin
    log = load_csv(write(tmp_path / "zrh.csv", csv_text(t, there)))
    path = FlightLogPath(log, SITE, relocate=True, shift_enu_m=(0.0, 1000.0, 60.0))
    for k in (0, 37, 100, 150, 200):
        state = path.state(t[k])
        assert state is not None
        # in the log's own frame, laid over the site: same offsets from the start, same heading
        assert np.allclose(state[0], np.array([0.0, 1000.0, 60.0]) + pos[k] - pos[0], atol=1e-6)
    mid = path.state(5.0)
    assert mid is not None
    assert np.allclose(mid[1], vel[0], rtol=0, atol=1e-6)
    unrelocated = FlightLogPath(log, SITE).state(0.0)
    assert unrelocated is not None and np.linalg.norm(unrelocated[0]) > 400_000  # really far away


def test_flight_log_checks_direct_construction():
    with pytest.raises(FlightLogError, match=r"sample 1: time 0\.000000 s is not after"):
        FlightLog(np.array([0.0, 0.0]), np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.zeros(2))
    with pytest.raises(FlightLogError, match="equal length"):
        FlightLog(np.array([0.0, 1.0]), np.array([1.0]), np.array([1.0, 1.0]), np.zeros(2))
    a = FlightLog(
        np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.zeros(2), "x"
    )
    b = FlightLog(
        np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.zeros(2), "x"
    )
    assert a == b and hash(a) == hash(b)
    assert FlightLogPath(a, SITE) == FlightLogPath(b, SITE)


# --- from a scenario file -----------------------------------------------------------------------------

# Line numbers matter below: the tests look for errors on the ``file:`` line (17).
SCENARIO = """\
name: logged
seed: 5
duration_s: 40
epoch: 2026-01-01T00:00:00Z
site: {lat: 51.6564, lon: 5.7087, alt_m: 65.0}
radars:
  - node_id: 0b7d2a8e-5c1f-4e3a-9d6b-2f4e8a1c3b5d
    name: test radar
    position: {bearing_deg: 0.0, distance_m: 0.0, up_m: 10.0}
    false_alarms_per_scan: 0.0
targets:
  - name: Logged drone
    class: drone
    rcs_m2: 0.05
    path:
      flight_log:
        file: logs/flight.bin
        t_start_s: 2.0
        geoid_undulation_m: 43.0
"""


def test_scenario_flies_a_log_relative_to_the_scenario_file(tmp_path, flight):
    t, pos, _, geo = flight
    write(tmp_path / "logs" / "flight.bin", ardupilot_log(t, geo, undulation_m=43.0))
    scenario = load_scenario_file(write(tmp_path / "scenario.yaml", SCENARIO))
    (target,) = scenario.targets
    assert isinstance(target.path, FlightLogPath)
    assert target.path.t_start_s == 2.0
    assert target.path.state(1.9) is None
    for k in (0, 60, 200):
        state = target.path.state(2.0 + t[k])
        assert state is not None
        assert np.allclose(state[0], pos[k], rtol=0, atol=0.02)  # centimetre-quantised log


def test_scenario_relocated_csv_log_with_format(tmp_path, flight):
    t, _, _, geo = flight
    write(tmp_path / "logs" / "flight.txt", csv_text(t, geo))
    text = SCENARIO.replace("logs/flight.bin", "logs/flight.txt").replace(
        "        geoid_undulation_m: 43.0\n",
        "        format: csv\n        relocate_to: {bearing_deg: 90.0, distance_m: 800.0, up_m: 50.0}\n"
        "        time_scale: 0.5\n",
    )
    scenario = load_scenario_file(write(tmp_path / "scenario.yaml", text))
    path = scenario.targets[0].path
    assert isinstance(path, FlightLogPath) and path.relocate and path.time_scale == 0.5
    first = path.state(2.0)
    assert first is not None
    assert np.allclose(first[0], [800.0, 0.0, 50.0], rtol=0, atol=1e-6)
    assert path.t_end_s == pytest.approx(2.0 + 80.0)


@pytest.mark.parametrize(
    ("log_name", "log_data", "expected"),
    [
        (None, None, ":17: targets.0.path.flight_log.file: "),
        ("flight.bin", b"\xa3\x95 not a log at all" * 20, "no GPS message with a 3D fix"),
        ("flight.bin", b"", "empty file"),
    ],
)
def test_scenario_log_errors_name_the_file_line(tmp_path, log_name, log_data, expected):
    if log_name is not None:
        write(tmp_path / "logs" / log_name, log_data)
    path = write(tmp_path / "scenario.yaml", SCENARIO)
    with pytest.raises(ScenarioFileError) as info:
        load_scenario_file(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:17: targets.0.path.flight_log.file: ")
    assert str(tmp_path / "logs" / "flight.bin") in msg
    assert expected in msg
    assert msg.count("\n") == 0  # one error, not one per path kind


def test_scenario_csv_error_points_into_the_log(tmp_path):
    write(tmp_path / "logs" / "flight.csv", GOOD_CSV.replace("1,51.6,5.7001,81", "1,51.6,x,81"))
    text = SCENARIO.replace("logs/flight.bin", "logs/flight.csv")
    path = write(tmp_path / "scenario.yaml", text)
    with pytest.raises(ScenarioFileError, match=r":17: .*flight\.csv:3: lon is not a number"):
        load_scenario_file(path)


def test_scenario_log_format_and_keys_are_checked(tmp_path, flight):
    t, _, _, geo = flight
    write(tmp_path / "logs" / "flight.bin", ardupilot_log(t, geo))
    text = SCENARIO.replace("        t_start_s: 2.0\n", "        format: mavlink\n")
    with pytest.raises(ScenarioFileError, match=r":18: targets\.0\.path\.flight_log\.format: "):
        load_scenario_file(write(tmp_path / "scenario.yaml", text))
    text = SCENARIO.replace("        t_start_s: 2.0\n", "        speed: 2.0\n")
    with pytest.raises(ScenarioFileError, match=r":18: targets\.0\.path\.flight_log\.speed: Extra"):
        load_scenario_file(write(tmp_path / "scenario.yaml", text))


def test_scenario_with_a_log_runs_and_tracks_the_logged_drone(tmp_path, flight):
    """The radar at the site confirms a track on the logged flight, close to the log's path."""
    t, _, _, geo = flight
    write(tmp_path / "logs" / "flight.bin", ardupilot_log(t, geo, undulation_m=43.0))
    scenario = load_scenario_file(write(tmp_path / "scenario.yaml", SCENARIO))
    pipeline = Pipeline(scenario)
    matcher = TruthMatcher(scenario.targets, max_dist_m=60.0)
    pipeline.run(20.0, on_cycle=lambda p: matcher.observe(p.t_s, p.views))
    hist = matcher.history["Logged drone"]
    first = hist.first_match_s()
    assert first is not None and first <= 10.0, hist.matches
    assert len(hist.track_ids) == 1
    assert hist.coverage([c for c in matcher.cycle_times if c >= first]) >= 0.8
    assert hist.matches[-1][0] == pytest.approx(20.0)
    path = scenario.targets[0].path
    errors, speeds = [], []
    for t_s, view in hist.matches[-5:]:
        truth = path.state(t_s)
        assert truth is not None
        errors.append(np.linalg.norm(np.array([view.east_m, view.north_m, view.up_m]) - truth[0]))
        speeds.append(view.speed_ms)
    assert np.median(errors) < 25.0, errors  # radar 2 km away: tens of metres of noise
    assert np.median(speeds) == pytest.approx(15.0, abs=2.5), speeds  # first leg: 15 m/s west


def test_validation_context_gives_the_base_directory(tmp_path, flight):
    """Validating a parsed scenario directly: relative log paths start from ``base_dir``."""
    t, _, _, geo = flight
    write(tmp_path / "logs" / "flight.bin", ardupilot_log(t, geo))
    raw = yaml.safe_load(SCENARIO)
    section = ScenarioSection.model_validate(raw, context={"base_dir": tmp_path})
    assert section.scenario().targets[0].path.state(2.0) is not None
    with pytest.raises(ValidationError, match="cannot read"):
        ScenarioSection.model_validate(raw, context={"base_dir": tmp_path / "elsewhere"})
