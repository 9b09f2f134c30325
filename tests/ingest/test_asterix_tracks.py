"""ASTERIX CAT021 (ADS-B), CAT062 (system tracks) and CAT065 (SDPS service) in.

Records are ENCODED with libasterix (its encoder, the decoder's other half) and decoded by
Luchtwacht; the same bytes are decoded by an independent decoder, asterix-decoder
(CroatiaControl, its own C++ parser and XML item definitions), run in its own venv, and the two
are compared field by field. Its sample recordings (tests/data/asterix/README.md) are decoded
by both as well. The live node is tested over a real UDP socket.
"""

import asyncio
import json
import math
import random
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import asterix.generated as gen
import numpy as np
import pyproj
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luchtwacht.commands.asterix import InputFormat, _datagrams
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.asterix import (
    FL_M,
    FT_M,
    NM_M,
    AsterixError,
    AsterixPipe,
    Cat021Report,
    Cat062Track,
    Cat065Message,
    TrackSource,
    UnsupportedCategoryError,
    adsb_position_sigma_m,
    decode_datagram,
    iter_records,
    system_plane_to_geodetic,
)
from luchtwacht.ingest.modes import DEFAULT_H_STD_M, R95_2D_SIGMA, baro_height_std_m
from luchtwacht.node import ManualClock
from luchtwacht.runtime import LiveNode
from luchtwacht.site import AsterixSection, asterix_pipe, default_site
from tests.live import advance, started, until

C21 = gen.Cat_021_2_7
C21V0 = gen.Cat_021_0_26
C62 = gen.Cat_062_1_21
C65 = gen.Cat_065_1_6

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / ".venv" / "peers" / "asterix-decoder" / "bin" / "python"
DATA = ROOT / "tests" / "data" / "asterix"

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
DAY0 = 1_781_222_400.0  # 2026-06-12 00:00:00 UTC
T_NOON = DAY0 + 43_200.5
ADSB_KEY, SDPS_KEY = (0, 21), (25, 100)
ADSB = TrackSource(kind="adsb", name="ADS-B Volkel", geoid_undulation_m=45.0)
SDPS = TrackSource(kind="sdps", name="SDPS", ref_lat_deg=52.30, ref_lon_deg=4.76)


# ---------------------------------------------------------------------------------------------
# Encoding helpers (libasterix encoder)


def adsb_record(
    sac=0,
    sic=21,
    address=0x484C12,
    tod=43200.25,
    lat=51.70,
    lon=5.75,
    fl=20.0,
    geo_ft=2150.0,
    ecat=13,
    nacp=9,
    vn=2,
    nic=8,
    atp=0,
    sim=0,
    gs_nm_s=0.01,
    ta_deg=90.0,
    callsign="PHDRN1  ",
    low_res=False,
):
    items: Any = {
        "010": (("SAC", sac), ("SIC", sic)),
        "040": ((("ATP", atp), ("ARC", 1), 0, 0, None), (0, 0, ("SIM", sim), 0, 0, 0, None)),
        "071": (tod, "s"),
        "090": ((0, ("NUCPNIC", nic), None), (0, 0, ("NACP", nacp), None)),
        "210": (0, 0, ("VN", vn), 0),
        "160": (0, ("GS", (gs_nm_s, "NM/s")), ("TA", (ta_deg, "°"))),
        "020": ecat,
    }
    if lat is not None:
        items["130" if low_res else "131"] = (("LAT", (lat, "°")), ("LON", (lon, "°")))
    if address is not None:
        items["080"] = address
    if fl is not None:
        items["145"] = (fl, "FL")
    if geo_ft is not None:
        items["140"] = (geo_ft, "ft")
    if callsign is not None:
        items["170"] = callsign
    return C21.cv_record.create(items)


def adsb_record_v0(sic=22, address=0x484C13, pa=7, lat=51.70, lon=5.75, tod=43200.5):
    """A CAT021 edition 0.26 report (the older UAP: I021/030 time, figure of merit PA)."""
    items: Any = {
        "010": (("SAC", 0), ("SIC", sic)),
        "040": (0, 0, ("SIM", 0), 0, 0, 0, 0, 0, ("ATP", 0), ("ARC", 1), 0),
        "030": (tod, "s"),
        "130": (("LAT", (lat, "°")), ("LON", (lon, "°"))),
        "080": address,
        "140": (1500.0, "ft"),
        "090": (0, 0, 0, 0, ("PA", pa)),
        "145": (15.0, "FL"),
        "160": (("GS", (0.02, "NM/s")), ("TA", (180.0, "°"))),
        "170": "OLDGS1  ",
        "020": 1,
    }
    return C21V0.cv_record.create(items)


def track_record(
    sac=25,
    sic=100,
    tn=4711,
    tod=43200.5,
    lat=51.70,
    lon=5.75,
    x=None,
    y=None,
    vx=10.0,
    vy=-5.0,
    geo_ft=1000.0,
    mfl=9.5,
    address=0x484C12,
    callsign="KLM123  ",
    cst=0,
    cnf=0,
    sim=0,
    apc=(40.0, 60.0),
    cov=None,
    aga=None,
):
    status = (
        (("MON", 0), ("SPI", 0), ("MRH", 0), ("SRC", 1), ("CNF", cnf), None),
        (("SIM", sim), 0, 0, 0, 0, 0, 0, None),
        (0, 0, 0, 0, 0, None),
        (("CST", cst), 0, 0, 0, 0, 0, 0, None),
    )
    items: Any = {
        "010": (("SAC", sac), ("SIC", sic)),
        "015": 4,
        "070": (tod, "s"),
        "040": tn,
        "080": status,
        "185": (("VX", (vx, "m/s")), ("VY", (vy, "m/s"))),
        "060": (0, 0, 0, 0, ("MODE3A", "7000")),
    }
    if lat is not None:
        items["105"] = (("LAT", (lat, "°")), ("LON", (lon, "°")))
    if x is not None:
        items["100"] = (("X", (x, "m")), ("Y", (y, "m")))
    if geo_ft is not None:
        items["130"] = (geo_ft, "ft")
    if mfl is not None:
        items["136"] = (mfl, "FL")
    i380: Any = {}
    if address is not None:
        i380["ADR"] = address
    if callsign is not None:
        i380["ID"] = callsign
    if i380:
        items["380"] = i380
    i500: Any = {}
    if apc is not None:
        i500["APC"] = (("X", (apc[0], "m")), ("Y", (apc[1], "m")))
    if cov is not None:
        i500["COV"] = (cov, "m")
    if aga is not None:
        i500["AGA"] = (aga, "ft")
    if i500:
        items["500"] = i500
    return C62.cv_record.create(items)


def sdps_message(kind=2, sac=25, sic=100, tod=43201.0, batch=7, nogo=None, report=None):
    items: Any = {
        "010": (("SAC", sac), ("SIC", sic)),
        "000": kind,
        "015": 4,
        "030": (tod, "s"),
    }
    if kind == 2:
        items["020"] = batch
    if nogo is not None:
        items["040"] = (("NOGO", nogo), ("OVL", 0), ("TSV", 0), ("PSS", 1), ("STTN", 0), 0)
    if report is not None:
        items["050"] = report
    return C65.cv_record.create(items)


def block21(*records) -> bytes:
    return C21.create(list(records)).unparse().to_bytes()


def block62(*records) -> bytes:
    return C62.create(list(records)).unparse().to_bytes()


def block65(*records) -> bytes:
    return C65.create(list(records)).unparse().to_bytes()


def peer_parse(data: bytes) -> list[dict[str, Any]]:
    """Decode ``data`` with asterix-decoder in its own venv (the independent decoder)."""
    if not PEER.exists():
        pytest.skip(f"asterix-decoder peer not built at {PEER} (run `make peers`)")
    code = "import asterix, json, sys; print(json.dumps(asterix.parse(sys.stdin.buffer.read())))"
    run = subprocess.run(
        [str(PEER), "-c", code], input=data, capture_output=True, check=True, timeout=60
    )
    out: list[dict[str, Any]] = json.loads(run.stdout)
    return out


def val(rec: dict[str, Any], *path: str) -> Any:
    node: Any = rec
    for key in path:
        node = node[key]
    return node["val"]


# ---------------------------------------------------------------------------------------------
# Decoding


def test_cat021_round_trip_every_item_in_si_units():
    (rep,) = decode_datagram(block21(adsb_record()))
    assert isinstance(rep, Cat021Report)
    assert rep.source == (0, 21)
    assert rep.target_address == 0x484C12 and rep.address_type == 0
    assert rep.time_of_day_s == 43200.25 and rep.time_source == "I021/071"
    assert rep.lat_deg == pytest.approx(51.70, abs=1e-6)
    assert rep.lon_deg == pytest.approx(5.75, abs=1e-6)
    assert rep.geometric_height_m == pytest.approx(2150.0 * FT_M)
    assert rep.flight_level == 20.0 and rep.pressure_altitude_m == pytest.approx(20 * FL_M)
    assert rep.ground_speed_mps == pytest.approx(0.01 * NM_M, abs=NM_M / 2**14)  # LSB 2^-14 NM/s
    assert rep.track_angle_deg == pytest.approx(90.0)
    assert rep.callsign == "PHDRN1"
    assert rep.emitter_category == 13 and rep.is_uav
    assert rep.emitter_name == "Unmanned aerial vehicle"
    assert (rep.nacp, rep.nic, rep.mops_version) == (9, 8, 2)
    assert not rep.simulated and not rep.test and not rep.on_ground
    out = rep.to_json()
    assert out["category"] == 21 and out["target_address"] == "484C12" and out["uav"] is True
    json.dumps(out)


def test_cat021_low_resolution_position_and_other_time_items():
    (rep,) = decode_datagram(block21(adsb_record(low_res=True)))
    assert isinstance(rep, Cat021Report)
    assert rep.lat_deg == pytest.approx(51.70, abs=180 / 2**23)  # I021/130: LSB 180/2^23 deg
    rec = C21.cv_record.create(
        {
            "010": (("SAC", 0), ("SIC", 21)),
            "073": (43199.0, "s"),
            "074": (("FSI", 1), ("TOMRP", (0.25, "s"))),  # the second after I021/073's
        }
    )
    (rep2,) = decode_datagram(block21(rec))
    assert isinstance(rep2, Cat021Report)
    assert rep2.time_of_day_s == pytest.approx(43200.25) and rep2.time_source == "I021/073+074"
    assert rep2.lat_deg is None and rep2.target_address is None


def test_cat021_edition_026_is_read_for_the_sources_declared_so():
    data = C21V0.create([adsb_record_v0(), adsb_record_v0(address=7)]).unparse().to_bytes()
    first, second = decode_datagram(data, cat021_v0={(0, 22)})
    assert isinstance(first, Cat021Report) and isinstance(second, Cat021Report)
    assert first.edition == "0.26" and first.time_source == "I021/030"
    assert first.target_address == 0x484C13 and second.target_address == 7
    assert first.time_of_day_s == 43200.5 and first.nic == 7 and first.nacp is None
    assert first.lat_deg == pytest.approx(51.70, abs=180 / 2**25)
    assert first.geometric_height_m == pytest.approx(1500 * FT_M) and first.flight_level == 15.0
    assert first.ground_speed_mps == pytest.approx(0.02 * NM_M, abs=NM_M / 2**14)
    assert first.callsign == "OLDGS1" and first.track_angle_deg == pytest.approx(180.0)
    # Read with the 2.x UAP (the default), the same bytes do not make sense: the edition matters.
    assert any(isinstance(i, AsterixError) for i in iter_records(data))
    # In the pipe, a source declared 0.26 gets its reports read so; the PA is a NUCp.
    old = TrackSource(kind="adsb", cat021_edition="0.26")
    pipe = AsterixPipe("a", ORIGIN, {}, sources={(0, 22): old, ADSB_KEY: ADSB})
    (batch,) = pipe.feed(data, t_rx_s=T_NOON)
    assert batch.ident == ("icao:484C13", "icao:000007")
    horizontal = np.trace(batch.R[0][:2, :2])
    assert horizontal == pytest.approx(2 * (93 / R95_2D_SIGMA) ** 2, rel=1e-4)  # NUCp 7: 93 m
    (new,) = pipe.feed(block21(adsb_record()), t_rx_s=T_NOON)  # the 2.x station beside it
    assert new.ident == ("icao:484C12",)
    pipe.feed(C21V0.create([adsb_record_v0(pa=0)]).unparse().to_bytes(), t_rx_s=T_NOON)
    assert pipe.counters.rejected_by_reason == {"I021/090: position accuracy unknown (NUCp 0)": 1}


def test_cat062_round_trip_every_item_in_si_units():
    (trk,) = decode_datagram(block62(track_record(x=1000.0, y=-2000.0, cov=-12.5, aga=50.0)))
    assert isinstance(trk, Cat062Track)
    assert trk.source == (25, 100) and trk.track_number == 4711 and trk.service_id == 4
    assert trk.time_of_day_s == 43200.5
    assert trk.lat_deg == pytest.approx(51.70, abs=180 / 2**25)  # LSB 180/2^25 deg
    assert trk.lon_deg == pytest.approx(5.75, abs=180 / 2**25)
    assert (trk.x_m, trk.y_m) == (1000.0, -2000.0)
    assert (trk.vx_mps, trk.vy_mps) == (10.0, -5.0)
    assert trk.geometric_altitude_m == pytest.approx(304.8)
    assert trk.measured_flight_level == 9.5
    assert trk.mode3a == "7000" and trk.target_address == 0x484C12 and trk.callsign == "KLM123"
    assert trk.status is not None and not trk.status.coasting and not trk.status.tentative
    assert trk.status.altitude_source == 1
    acc = trk.accuracy
    assert acc is not None and (acc.x_m, acc.y_m) == (40.0, 60.0)
    assert acc.xy_cov_m2 == pytest.approx(-156.25)  # sign(cov)·sqrt|cov| = -12.5 m
    assert acc.geometric_altitude_m == pytest.approx(50 * FT_M)
    assert trk.to_json()["target_address"] == "484C12"


def test_cat065_end_of_batch_and_status():
    data = block65(sdps_message(nogo=1), sdps_message(kind=3, tod=43202.0, report=3))
    eob, ssr = decode_datagram(data)
    assert isinstance(eob, Cat065Message) and isinstance(ssr, Cat065Message)
    assert (eob.message_type, eob.message_name, eob.batch_number) == (2, "End of Batch", 7)
    assert eob.status is not None and eob.status.nogo == 1 and eob.status.processing_system == 1
    assert ssr.service_report == 3 and ssr.service_report_name == "Main radar out of service"
    assert ssr.to_json()["category"] == 65


def test_unsupported_categories_are_named_and_later_blocks_decode():
    cat240 = bytes([240, 0, 6, 0x80, 0x19, 0x0A])
    items = list(iter_records(cat240 + block21(adsb_record())))
    assert isinstance(items[0], UnsupportedCategoryError) and items[0].category == 240
    assert str(items[0]) == "datablock.CAT: ASTERIX category 240 is not supported"
    assert isinstance(items[1], Cat021Report)


def test_missing_mandatory_items_name_the_item():
    rec = C62.cv_record.create({"040": 12})
    with pytest.raises(AsterixError) as info:
        decode_datagram(block62(rec))
    assert info.value.reason == "I062/010: mandatory item missing"
    rec65 = C65.cv_record.create({"010": (("SAC", 1), ("SIC", 2))})
    with pytest.raises(AsterixError) as info:
        decode_datagram(block65(rec65))
    assert info.value.reason == "I065/000: mandatory item missing"


def test_truncated_cat062_names_the_item():
    data = bytearray(block62(track_record()))
    cut = len(data) - 4
    data[1:3] = cut.to_bytes(2, "big")
    with pytest.raises(AsterixError) as info:
        decode_datagram(bytes(data[:cut]))
    assert info.value.field.startswith("I062/") and "truncated" in info.value.rule


# ---------------------------------------------------------------------------------------------
# Against the independent decoder (asterix-decoder)


def test_cat021_matches_asterix_decoder_field_by_field():
    rng = random.Random(21)
    records, expect = [], []
    for _ in range(120):
        values = {
            "address": rng.randrange(1 << 24),
            "tod": rng.randrange(0, 86400 * 128) / 128,
            "lat": rng.uniform(-89.0, 89.0),
            "lon": rng.uniform(-179.0, 179.0),
            "fl": rng.randrange(-60, 6000) / 4,
            "geo_ft": rng.randrange(-240, 24000) * 6.25,
            "ecat": rng.choice([1, 3, 5, 10, 13, 15]),
            "nacp": rng.randrange(12),
            "gs_nm_s": rng.randrange(0, 4000) / 2**14,
            "ta_deg": rng.randrange(0, 2**16) * 360 / 2**16,
            "callsign": "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(8)
            ),
            "sim": rng.randrange(2),
        }
        records.append(adsb_record(**values))
        expect.append(values)
    data = block21(*records[:60]) + block21(*records[60:])
    ours = decode_datagram(data)
    theirs = peer_parse(data)
    assert len(ours) == len(theirs) == 120
    for mine, peer, values in zip(ours, theirs, expect, strict=True):
        assert isinstance(mine, Cat021Report) and peer["category"] == 21
        assert (mine.sac, mine.sic) == (val(peer, "I010", "SAC"), val(peer, "I010", "SIC"))
        assert f"{mine.target_address:06X}" == val(peer, "I080", "TAddr")
        assert mine.time_of_day_s == pytest.approx(
            val(peer, "I071", "time_applicability_position"), abs=1e-9
        )
        assert mine.lat_deg == pytest.approx(val(peer, "I131", "Lat"), abs=1e-9)
        assert mine.lon_deg == pytest.approx(val(peer, "I131", "Lon"), abs=1e-9)
        assert mine.lat_deg == pytest.approx(values["lat"], abs=180 / 2**30)
        assert mine.flight_level == pytest.approx(val(peer, "I145", "FL"))
        assert mine.geometric_height_m == pytest.approx(
            val(peer, "I140", "geometric_height") * FT_M
        )
        assert mine.ground_speed_mps == pytest.approx(val(peer, "I160", "GS") * NM_M)
        assert mine.track_angle_deg == pytest.approx(val(peer, "I160", "TA"))
        assert mine.callsign == val(peer, "I170", "TId").rstrip()
        assert mine.emitter_category == val(peer, "I020", "ECAT")
        assert mine.nacp == val(peer, "I090", "NACp")
        assert mine.nic == val(peer, "I090", "NUCp_or_NIC")
        assert mine.simulated == bool(val(peer, "I040", "SIM"))
        assert mine.address_type == val(peer, "I040", "ATP")


def test_cat062_and_cat065_match_asterix_decoder_field_by_field():
    rng = random.Random(62)
    records = []
    for k in range(100):
        records.append(
            track_record(
                tn=rng.randrange(1 << 16),
                tod=rng.randrange(0, 86400 * 128) / 128,
                lat=rng.uniform(-89.0, 89.0),
                lon=rng.uniform(-179.0, 179.0),
                x=rng.randrange(-(1 << 22), 1 << 22) / 2,
                y=rng.randrange(-(1 << 22), 1 << 22) / 2,
                vx=rng.randrange(-4000, 4000) / 4,
                vy=rng.randrange(-4000, 4000) / 4,
                geo_ft=rng.randrange(-240, 24000) * 6.25,
                mfl=rng.randrange(-60, 6000) / 4,
                address=rng.randrange(1 << 24) if k % 3 else None,
                apc=(rng.randrange(0, 400) / 2, rng.randrange(0, 400) / 2),
            )
        )
    data = block62(*records) + block65(sdps_message(nogo=2, batch=42))
    ours = decode_datagram(data)
    theirs = peer_parse(data)
    assert len(ours) == len(theirs) == 101
    for mine, peer in zip(ours[:100], theirs[:100], strict=True):
        assert isinstance(mine, Cat062Track) and peer["category"] == 62
        assert (mine.sac, mine.sic) == (val(peer, "I010", "SAC"), val(peer, "I010", "SIC"))
        assert mine.track_number == val(peer, "I040", "TrkN")
        assert mine.time_of_day_s == pytest.approx(val(peer, "I070", "ToT"), abs=1e-9)
        assert mine.lat_deg == pytest.approx(val(peer, "I105", "Lat"), abs=1e-9)
        assert mine.lon_deg == pytest.approx(val(peer, "I105", "Lon"), abs=1e-9)
        assert (mine.x_m, mine.y_m) == (val(peer, "I100", "X"), val(peer, "I100", "Y"))
        assert (mine.vx_mps, mine.vy_mps) == (val(peer, "I185", "Vx"), val(peer, "I185", "Vy"))
        assert mine.geometric_altitude_m == pytest.approx(val(peer, "I130", "Alt") * FT_M)
        assert mine.measured_flight_level == pytest.approx(val(peer, "I136", "MFL") / 100)
        if mine.target_address is None:
            assert "ADR" not in peer["I380"]
        else:
            assert f"{mine.target_address:06X}" == val(peer, "I380", "ADR", "ADR")
        assert mine.callsign == val(peer, "I380", "ID", "ACID").rstrip()
        assert mine.accuracy is not None
        assert mine.accuracy.x_m == val(peer, "I500", "APC", "APC_X")
        assert mine.accuracy.y_m == val(peer, "I500", "APC", "APC_Y")
    eob, peer_eob = ours[100], theirs[100]
    assert isinstance(eob, Cat065Message) and peer_eob["category"] == 65
    assert eob.message_type == val(peer_eob, "I000", "Typ") == 2
    assert eob.batch_number == val(peer_eob, "I020", "BTN") == 42
    assert eob.time_of_day_s == val(peer_eob, "I030", "ToD")
    assert eob.status is not None and eob.status.nogo == val(peer_eob, "I040", "NOGO") == 2


@pytest.mark.parametrize(
    ("name", "addresses"),
    [("cat062cat065.raw", [None, 0x3C0A55]), ("cat_062_065.pcap", [0x4CA7A8, 0x4CAC7F])],
)
def test_asterix_decoder_sample_recordings_decode_the_same(name, addresses):
    """The peer's own sample recordings (real CAT062/065 from an SDPS), decoded by both."""
    ours, theirs = [], []
    for _, payload in _datagrams((DATA / name).read_bytes(), InputFormat.auto):
        ours += decode_datagram(payload)
        theirs += peer_parse(payload)
    assert [r.category for r in ours] == [p["category"] for p in theirs] == [62, 62, 65]
    for mine, peer in zip(ours[:2], theirs[:2], strict=True):
        assert isinstance(mine, Cat062Track)
        assert mine.source == (val(peer, "I010", "SAC"), val(peer, "I010", "SIC")) == (25, 100)
        assert mine.track_number == val(peer, "I040", "TrkN")
        assert mine.time_of_day_s == val(peer, "I070", "ToT")
        assert mine.lat_deg == pytest.approx(val(peer, "I105", "Lat"), abs=1e-9)
        assert mine.lon_deg == pytest.approx(val(peer, "I105", "Lon"), abs=1e-9)
        assert (mine.x_m, mine.y_m) == (val(peer, "I100", "X"), val(peer, "I100", "Y"))
        assert (mine.vx_mps, mine.vy_mps) == (val(peer, "I185", "Vx"), val(peer, "I185", "Vy"))
        assert mine.mode3a == val(peer, "I060", "Mode3A")
        adr = peer.get("I380", {}).get("ADR")
        assert mine.target_address == (None if adr is None else int(adr["ADR"]["val"], 16))
    assert [r.target_address for r in ours[:2] if isinstance(r, Cat062Track)] == addresses
    eob = ours[2]
    assert isinstance(eob, Cat065Message) and eob.message_name == "End of Batch"
    assert eob.batch_number == val(theirs[2], "I020", "BTN")


def test_luchtwachts_own_cat062_out_is_read_back():
    """Two Luchtwacht nodes chained: one's CAT062/065 publisher (hand-built bytes) → our pipe."""
    from luchtwacht.publish.asterix_out import (
        Accuracy,
        SystemTrack,
        encode_batch_markers,
        encode_system_track,
        pack_datagrams,
    )

    st = SystemTrack(
        sac=25, sic=100, service_id=1, tod=round(43200.5 * 128),
        lat=round(51.70 * 2**25 / 180), lon=round(5.75 * 2**25 / 180), x=2000, y=-4000,
        vx=40, vy=-20, track_number=12, mon=0, src=1, sim=0, tse=0, tsb=1,
        alt=round(400 / FT_M / 6.25), rocd=0, address=0x484C12, ecat=13, age=4,
        accuracy=Accuracy(apc_x=20, apc_y=30, cov=0, apw_lat=5, apw_lon=7, aga=2),
    )  # fmt: skip
    (tracks,) = pack_datagrams(62, [encode_system_track(st)], 1400)
    markers = encode_batch_markers(
        sac=25, sic=100, service_id=1, t_s=DAY0 + 43201.0, batch_number=3
    )
    trk, status, eob = decode_datagram(tracks + markers)
    assert isinstance(trk, Cat062Track) and isinstance(eob, Cat065Message)
    assert trk.track_number == 12 and trk.target_address == 0x484C12 and trk.is_uav
    assert (trk.x_m, trk.y_m, trk.vx_mps, trk.vy_mps) == (1000.0, -2000.0, 10.0, -5.0)
    assert trk.status is not None and trk.status.track_begin
    assert trk.accuracy is not None and (trk.accuracy.x_m, trk.accuracy.y_m) == (10.0, 15.0)
    assert isinstance(status, Cat065Message) and status.status is not None
    assert eob.message_name == "End of Batch" and eob.batch_number == 3
    pipe = make_pipe()
    pipe.feed(markers, t_rx_s=T_NOON)  # the SDPS batches: tracks wait for its end of batch
    assert pipe.feed(tracks, t_rx_s=T_NOON) == []
    (batch,) = pipe.feed(markers, t_rx_s=T_NOON)
    assert batch.ident == ("icao:484C12",) and batch.extra[0]["uav"] is True
    np.testing.assert_allclose(np.diag(batch.R[0])[:2], [100.0, 225.0], rtol=1e-2)


# ---------------------------------------------------------------------------------------------
# The pipe


def make_pipe(**kw) -> AsterixPipe:
    return AsterixPipe("asterix", ORIGIN, {}, sources={ADSB_KEY: ADSB, SDPS_KEY: SDPS}, **kw)


def test_cat021_becomes_a_cooperative_detection_at_the_right_spot():
    pipe = make_pipe()
    (batch,) = pipe.feed(block21(adsb_record()), t_rx_s=T_NOON)
    assert len(batch) == 1 and batch.ident == ("icao:484C12",)  # the Mode S decoder's form
    assert not batch.counts_misses
    assert batch.t_s[0] == DAY0 + 43200.25
    expect = ORIGIN.to_enu(51.70, 5.75, 2150.0 * FT_M).reshape(3)  # I021/140 is ellipsoidal
    np.testing.assert_allclose(batch.z[0], expect, atol=0.05)
    sigma = 30.0 / R95_2D_SIGMA  # NACp 9: EPU < 30 m
    horiz = batch.R[0][:2, :2]
    # (the target's vertical tilts ~0.1° against the site's: a little of it leaks in)
    np.testing.assert_allclose(np.linalg.eigvalsh(horiz), [sigma**2] * 2, rtol=1e-4)
    assert batch.R[0][2, 2] == pytest.approx((45.0 / 1.96) ** 2, rel=1e-3)  # NACp 9 VEPU 45 m
    extra = batch.extra[0]
    assert extra["icao"] == "484C12" and extra["callsign"] == "PHDRN1" and extra["uav"] is True
    assert extra["track_deg"] == pytest.approx(90.0)
    assert pipe.counters.decoded == 1 and pipe.counters.by_kind["cat021_report"] == 1


def test_cat021_flight_level_quality_and_address_types():
    pipe = make_pipe()
    rep = adsb_record(geo_ft=None, fl=20.0, nacp=0, vn=0, nic=7, atp=3)  # v0: NUCp 7 → 93 m
    (batch,) = pipe.feed(block21(rep), t_rx_s=T_NOON)
    assert batch.ident == ("non-icao:484C12",)  # anonymous address
    z = ORIGIN.to_enu(51.70, 5.75, 20 * FL_M + 45.0).reshape(3)  # geoid undulation added
    np.testing.assert_allclose(batch.z[0], z, atol=0.05)
    assert batch.R[0][2, 2] == pytest.approx(baro_height_std_m(20 * FL_M) ** 2, rel=1e-3)
    horizontal = np.trace(batch.R[0][:2, :2])
    assert horizontal == pytest.approx(2 * (93 / R95_2D_SIGMA) ** 2, rel=1e-4)
    base = Cat021Report(sac=0, sic=21)
    assert adsb_position_sigma_m(base, 12.0) == 12.0  # nothing sent: the configured default
    assert adsb_position_sigma_m(Cat021Report(sac=0, sic=21, nacp=0, mops_version=2), 1) is None
    assert ADSB.horizontal_sigma_m == DEFAULT_H_STD_M


def test_cat021_rejections_are_counted_by_item():
    pipe = make_pipe()
    datagrams = [
        block21(adsb_record(sac=9, sic=9)),  # unknown SAC/SIC
        block21(adsb_record(sim=1)),  # simulated
        block21(adsb_record(nacp=0)),  # accuracy unknown
        block21(adsb_record(fl=None, geo_ft=None)),  # no height
        block21(adsb_record(sac=25, sic=100)),  # an SDPS's SAC/SIC sending CAT021
        block21(adsb_record(lat=None)),  # no position: decoded, not a detection
        bytes([240, 0, 4, 0]),  # a category not read
    ]
    out = [b for d in datagrams for b in pipe.feed(d, t_rx_s=T_NOON)]
    assert out == []
    reasons = pipe.counters.rejected_by_reason
    assert reasons == {
        "I021/010: unknown SAC/SIC": 1,
        "I021/040: simulated target report (SIM)": 1,
        "I021/090: position accuracy unknown (NACp 0)": 1,
        "I021/145: missing: the report has no height": 1,
        "I021/010: SAC/SIC is an sdps source, not adsb": 1,
        "datablock.CAT: ASTERIX category 240 is not supported": 1,
    }
    assert pipe.counters.by_kind["cat021_without_position"] == 1


def test_cat062_tracks_wait_for_the_end_of_batch_and_carry_identity():
    pipe = make_pipe()
    first = block62(track_record(tn=1), track_record(tn=2, address=None, lat=51.60, lon=5.60))
    assert pipe.feed(first, t_rx_s=T_NOON) != []  # no CAT065 seen yet: emitted per datagram
    pipe.feed(block65(sdps_message(tod=43200.9)), t_rx_s=T_NOON)  # now it batches on CAT065
    assert pipe.feed(first, t_rx_s=T_NOON) == []  # held
    (batch,) = pipe.feed(block65(sdps_message(tod=43201.0, batch=8)), t_rx_s=T_NOON)
    assert batch.ident == ("icao:484C12", None)
    assert not batch.counts_misses
    (trk, _) = decode_datagram(first)
    assert isinstance(trk, Cat062Track) and trk.lat_deg is not None and trk.lon_deg is not None
    z = ORIGIN.to_enu(trk.lat_deg, trk.lon_deg, 1000.0 * FT_M).reshape(3)  # I062/130: ellipsoid
    np.testing.assert_allclose(batch.z[0], z, atol=0.01)
    # APC 40/60 m along the SDPS's east/north, rotated into the site frame (a small rotation)
    np.testing.assert_allclose(np.diag(batch.R[0])[:2], [1600.0, 3600.0], rtol=1e-3)
    assert batch.R[0][2, 2] == pytest.approx(30.0**2, rel=1e-3)  # altitude_sigma_m default
    assert batch.extra[0]["track_number"] == 1 and batch.extra[0]["callsign"] == "KLM123"
    assert batch.extra[0]["gs_ms"] == pytest.approx(math.hypot(10.0, 5.0))
    state = pipe.sdps[SDPS_KEY]
    assert state.batches_seen and state.last_batch_number == 8
    assert state.last_batch_t_s == DAY0 + 43201.0
    assert pipe.counters.by_kind["cat065_end_of_batch"] == 2


def to_system_plane(lat: float, lon: float, lat0: float, lon0: float) -> tuple[float, float]:
    """I062/100 X, Y (m, LSB 0.5 m) of a point: PROJ's stereographic on the Gaussian sphere."""
    s0 = math.sin(math.radians(lat0))
    e2, a = 6.694379990141317e-3, 6_378_137.0
    radius = a * math.sqrt(1 - e2) / (1 - e2 * s0 * s0)  # Gaussian radius at the reference
    to_plane = pyproj.Transformer.from_proj(
        pyproj.Proj(proj="longlat", R=radius),
        pyproj.Proj(proj="stere", lat_0=lat0, lon_0=lon0, k_0=1.0, R=radius),
        always_xy=True,
    )
    x, y = to_plane.transform(lon, lat)
    return round(x * 2) / 2, round(y * 2) / 2


def test_cat062_cartesian_position_uses_the_reference_point():
    lat0, lon0 = SDPS.ref_lat_deg, SDPS.ref_lon_deg
    assert lat0 is not None and lon0 is not None
    x, y = to_system_plane(51.70, 5.75, lat0, lon0)
    lat, lon = system_plane_to_geodetic(x, y, lat0, lon0)
    assert lat == pytest.approx(51.70, abs=1e-5) and lon == pytest.approx(5.75, abs=1e-5)
    pipe = make_pipe()
    (batch,) = pipe.feed(block62(track_record(lat=None, x=x, y=y)), t_rx_s=T_NOON)
    np.testing.assert_allclose(
        batch.z[0], ORIGIN.to_enu(51.70, 5.75, 1000.0 * FT_M).reshape(3), atol=1.0
    )
    # Without a reference point, a Cartesian-only track is refused with one clear reason.
    bare = AsterixPipe("a", ORIGIN, {}, sources={SDPS_KEY: TrackSource(kind="sdps")})
    assert bare.feed(block62(track_record(lat=None, x=x, y=y)), t_rx_s=T_NOON) == []
    assert bare.counters.rejected_by_reason == {
        "I062/100: Cartesian position, but no reference point is configured for this SDPS": 1
    }


def test_cat062_coasted_tentative_and_simulated_tracks_are_not_fused():
    pipe = make_pipe()
    data = block62(track_record(cst=1), track_record(cnf=1), track_record(sim=1))
    assert pipe.feed(data, t_rx_s=T_NOON) == []
    assert pipe.counters.by_kind["cat062_coasting"] == 1
    assert pipe.counters.by_kind["cat062_tentative"] == 1
    assert pipe.counters.rejected_by_reason == {"I062/080: simulated track (SIM)": 1}


def test_a_target_reported_twice_goes_out_in_two_batches():
    pipe = make_pipe()
    data = block21(adsb_record(tod=43200.0), adsb_record(tod=43200.5), adsb_record(address=1))
    batches = pipe.feed(data, t_rx_s=T_NOON)
    assert [b.ident for b in batches] == [("icao:484C12",), ("icao:484C12", "icao:000001")]


def test_held_tracks_are_released_by_flush_and_after_max_hold():
    pipe = make_pipe(max_hold_s=2.0)
    pipe.feed(block65(sdps_message(tod=43199.0)), t_rx_s=T_NOON)
    assert pipe.feed(block62(track_record(tod=43200.0)), t_rx_s=T_NOON) == []
    (b,) = pipe.flush()
    assert len(b) == 1
    assert pipe.feed(block62(track_record(tod=43200.0)), t_rx_s=T_NOON) == []
    late = pipe.feed(block62(track_record(tn=9, address=1, tod=43202.5)), t_rx_s=T_NOON)
    assert [len(b) for b in late] == [2]  # end-of-batch stopped coming: not held for ever


def test_site_section_lists_sources_and_builds_the_pipe():
    cfg = AsterixSection.model_validate(
        {
            "sources": [
                {"sac": 25, "sic": 100, "kind": "sdps", "ref_lat": 52.3, "ref_lon": 4.76},
                {"sac": 0, "sic": 21, "kind": "adsb", "position_sigma_m": 20},
                {"sac": 0, "sic": 22, "kind": "adsb", "cat021_edition": "0.26"},
            ]
        }
    )
    pipe = asterix_pipe(cfg, "asterix-udp", ORIGIN)
    assert isinstance(pipe, AsterixPipe)
    assert pipe.sources[(25, 100)].ref_lat_deg == 52.3
    assert pipe.sources[(0, 21)].horizontal_sigma_m == 20.0
    assert pipe.sources[(0, 22)].cat021_edition == "0.26"
    with pytest.raises(ValueError, match="at least one radar or source"):
        AsterixSection.model_validate({})
    with pytest.raises(ValueError, match="SAC/SIC listed twice: 0/21"):
        AsterixSection.model_validate(
            {
                "radars": [{"sac": 0, "sic": 21, "lat": 51, "lon": 5}],
                "sources": [{"sac": 0, "sic": 21, "kind": "adsb"}],
            }
        )
    with pytest.raises(ValueError, match="cat021_edition is for an adsb source"):
        AsterixSection.model_validate(
            {"sources": [{"sac": 1, "sic": 2, "kind": "sdps", "cat021_edition": "0.26"}]}
        )
    with pytest.raises(ValueError, match="ref_lat and ref_lon go together"):
        AsterixSection.model_validate(
            {"sources": [{"sac": 1, "sic": 2, "kind": "sdps", "ref_lat": 52}]}
        )


# ---------------------------------------------------------------------------------------------
# The live node: CAT021 over a real UDP socket becomes a cooperative track with its address


def test_live_node_makes_cooperative_tracks_from_cat021_and_cat062_over_udp(tmp_path):
    site = default_site().model_copy(
        update={
            "record": tmp_path / "adsb.sqlite",
            "asterix": AsterixSection.model_validate(
                {
                    "listen": "127.0.0.1:0",
                    "sources": [
                        {"sac": 0, "sic": 21, "kind": "adsb", "name": "ADS-B"},
                        {"sac": 25, "sic": 100, "kind": "sdps", "ref_lat": 52.3, "ref_lon": 4.76},
                    ],
                }
            ),
        }
    )
    clock = ManualClock(time.time())
    node = LiveNode(site, clock=clock)
    origin = node.core.origin
    # A drone with an ADS-B transmitter 1.5 km north-east of the site, flying east at 15 m/s.
    start = origin.to_geodetic(np.array([[1000.0, 1000.0, 120.0]]))[0]

    # An aircraft tracked by the SDPS (Cartesian position only, I062/100), 2 km south-west.
    def track(k: int) -> bytes:
        tod = round(((clock.now() % 86400.0) - 0.1) * 128) / 128
        geo = origin.to_geodetic(np.array([[-1500.0, -1500.0 + 20.0 * 0.5 * k, 300.0]]))[0]
        x, y = to_system_plane(float(geo[0]), float(geo[1]), 52.3, 4.76)
        rec = track_record(
            tn=77, tod=tod, lat=None, x=x, y=y, vx=0.0, vy=20.0, address=0x4CA7A8,
            geo_ft=round(float(geo[2]) / FT_M / 6.25) * 6.25, apc=(25.0, 25.0),
        )  # fmt: skip
        return block62(rec) + block65(sdps_message(tod=tod + 0.05, batch=k))

    def report(k: int) -> bytes:
        t = clock.now()
        tod = (t % 86400.0) - 0.05
        geo = origin.to_geodetic(np.array([[1000.0 + 15.0 * 0.5 * k, 1000.0, 120.0]]))[0]
        return block21(
            adsb_record(
                address=0x3C4DD2,
                tod=round(tod * 128) / 128,
                lat=float(geo[0]),
                lon=float(geo[1]),
                geo_ft=round(float(geo[2]) / FT_M / 6.25) * 6.25,
                gs_nm_s=15.0 / NM_M,
                ta_deg=90.0,
            )
        )

    async def scenario() -> None:
        runner, host, port = await started(node, "asterix")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for k in range(8):
                udp.sendto(report(k), (host, port))
                udp.sendto(track(k), (host, port))
                await until(lambda k=k: node.stats()["feeds"]["asterix"]["accepted"] >= 3 * k + 3)
                await advance(node, clock, 0.5)
            udp.sendto(bytes([240, 0, 6, 0x80, 0, 1]), (host, port))  # a category not read
            await until(lambda: node.stats()["feeds"]["asterix"]["rejected"] >= 1)
            await advance(node, clock, 0.5)
            views = [v for v in node.core.views if v.icao == "3C4DD2"]
            assert len(views) == 1
            view = views[0]
            assert view.cooperative and view.object_class == "aircraft"
            assert abs(view.lat_deg - float(start[0])) < 0.01
            assert view.east_m > 1000.0 and abs(view.north_m - 1000.0) < 50.0
            (sdps,) = [v for v in node.core.views if v.icao == "4CA7A8"]
            assert sdps.cooperative and sdps.object_class == "aircraft"
            assert abs(sdps.east_m + 1500.0) < 50.0 and sdps.north_m > -1500.0
            assert len(node.core.views) == 2
        finally:
            udp.close()
            node.stop_event.set()
            await runner

    asyncio.run(scenario())
    feeds = node.stats()["feeds"]["asterix"]
    assert feeds["rejected_by_reason"] == {
        "datablock.CAT: ASTERIX category 240 is not supported": 1
    }
    assert feeds["accepted"] == 8 + 8 + 8  # ADS-B reports, SDPS tracks, ends of batch
    from luchtwacht.store.replay import replay

    core = replay(tmp_path / "adsb.sqlite")  # the recording keeps the sources: it replays too
    replayed = core.feeds["asterix-udp"].pipe.counters
    assert (replayed.decoded, replayed.rejected) == (feeds["accepted"], feeds["rejected"])


# ---------------------------------------------------------------------------------------------
# Fuzzing: random bytes and truncated records give counted rejections, never exceptions

_FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
_GOOD = [
    block21(adsb_record()),
    block62(track_record(x=5.0, y=5.0, cov=3.0, aga=20.0)),
    block65(sdps_message(nogo=0), sdps_message(kind=3, report=9)),
]


def _structured() -> st.SearchStrategy[bytes]:
    """Headers of the new categories over random bodies, and real records cut or flipped."""
    random_body = st.builds(
        lambda cat, body, delta: (
            bytes([cat]) + max(len(body) + 3 + delta, 0).to_bytes(2, "big") + body
        ),
        st.sampled_from([21, 62, 65]),
        st.binary(max_size=80),
        st.integers(-2, 2),
    )
    damaged = st.builds(
        lambda good, cut, flip, bit: bytes(
            b ^ (1 << bit) if i == flip else b for i, b in enumerate(good[: max(cut, 1)])
        ),
        st.sampled_from(_GOOD),
        st.integers(1, 80),
        st.integers(0, 80),
        st.integers(0, 7),
    )
    return st.one_of(random_body, damaged)


@_FUZZ
@given(st.one_of(st.binary(max_size=200), _structured()))
def test_new_categories_decode_raises_only_asterix_error(data):
    items = list(iter_records(data))
    errors = [i for i in items if isinstance(i, AsterixError)]
    if errors:
        with pytest.raises(AsterixError):
            decode_datagram(data)
    else:
        assert decode_datagram(data) == items


@_FUZZ
@given(st.lists(_structured(), max_size=4))
def test_pipe_with_sources_never_raises(chunks):
    pipe = make_pipe()
    for chunk in chunks:
        for batch in pipe.feed(chunk, t_rx_s=T_NOON):
            assert np.isfinite(batch.z).all() and np.isfinite(batch.R).all()
    assert isinstance(pipe.flush(), list)
    assert pipe.counters.rejected == sum(pipe.counters.rejected_by_reason.values())
