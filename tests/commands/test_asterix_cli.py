"""``luchtwacht asterix decode``: raw ASTERIX and pcap captures to JSON lines.

``tests/data/asterix/scan_25_10.ast`` holds four data blocks from radar SAC 25 / SIC 10 (encoded
with libasterix): a CAT034 north marker (43196.0 s, rotation period 4 s), a CAT048 block of three
plots, a CAT034 sector crossing (90°) and a CAT048 block of one plot.
"""

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from luchtwacht.commands.asterix import app, udp_payload

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "asterix" / "scan_25_10.ast"
DAY0 = 1_781_222_400.0  # 2026-06-12 00:00:00 UTC


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_decode_raw_file_writes_one_json_line_per_record_in_si_units():
    result = runner.invoke(app, ["decode", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    recs = lines(result.stdout)
    assert [r["category"] for r in recs] == [34, 48, 48, 48, 34, 48]
    nm, p1, p2, p3, sc, p4 = recs
    assert nm["message_type"] == 1 and nm["message_name"] == "North marker message"
    assert nm["time_of_day_s"] == 43196.0 and nm["antenna_rotation_period_s"] == 4.0
    assert (p1["sac"], p1["sic"]) == (25, 10)
    assert p1["rho_m"] == pytest.approx(23150.0)
    assert p1["theta_deg"] == pytest.approx(45.0)
    assert p1["flight_level"]["pressure_altitude_m"] == pytest.approx(10668.0)
    assert p1["mode3a"]["code"] == "7777" and p1["track_number"] == 42
    assert p1["aircraft_address"] == "484C12"
    assert p1["descriptor"]["typ"] == 3
    assert p2["rho_m"] == pytest.approx(926.0) and p2["flight_level"] is None
    assert p3["height_3d_m"] == pytest.approx(304.8)
    assert sc["sector_azimuth_deg"] == pytest.approx(90.0)
    assert p4["plot_characteristics"]["psr_amplitude_dbm"] == -12.0
    assert p4["time_of_day_s"] == 43197.5
    assert "capture_time_s" not in p4  # a raw file has no capture time
    assert "6 records from 1 datagrams, 0 errors" in result.stderr


def _pcap(frames: list[tuple[float, bytes]]) -> bytes:
    """Classic little-endian microsecond pcap, link type Ethernet."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for t, frame in frames:
        sec = int(t)
        out += struct.pack("<IIII", sec, round((t - sec) * 1e6), len(frame), len(frame)) + frame
    return out


def _udp_frame(payload: bytes, vlan: bool = False) -> bytes:
    udp = struct.pack("!HHHH", 40000, 8600, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,  # version 4, IHL 5 words
        0,
        20 + len(udp),  # total length
        1,
        0x4000,  # don't fragment, offset 0
        64,
        17,  # UDP
        0,
        bytes([10, 0, 0, 1]),
        bytes([239, 1, 2, 3]),
    )
    eth = bytes(6) + bytes(6)
    if vlan:
        eth += struct.pack("!HH", 0x8100, 42)
    return eth + struct.pack("!H", 0x0800) + ip + udp


def test_decode_pcap_adds_capture_and_utc_time(tmp_path):
    blocks = SAMPLE.read_bytes()
    # Split the sample into its first two blocks and the rest: two datagrams, one on a VLAN.
    first_len = int.from_bytes(blocks[1:3], "big")
    second_len = int.from_bytes(blocks[first_len + 1 : first_len + 3], "big")
    cut = first_len + second_len
    t_cap = DAY0 + 43198.25
    arp = bytes(12) + struct.pack("!H", 0x0806) + bytes(28)  # not IP: skipped
    capture = _pcap(
        [
            (t_cap, _udp_frame(blocks[:cut])),
            (t_cap + 0.5, arp),
            (t_cap + 1.0, _udp_frame(blocks[cut:], vlan=True)),
        ]
    )
    path = tmp_path / "feed.pcap"
    path.write_bytes(capture)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["decode", str(path), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    recs = lines(out.read_text(encoding="utf-8"))
    assert len(recs) == 6
    assert recs[0]["capture_time_s"] == pytest.approx(t_cap, abs=1e-6)
    assert recs[0]["time_utc_s"] == pytest.approx(DAY0 + 43196.0)
    assert recs[5]["capture_time_s"] == pytest.approx(t_cap + 1.0, abs=1e-6)
    assert recs[5]["time_utc_s"] == pytest.approx(DAY0 + 43197.5)
    assert "6 records from 2 datagrams, 0 errors" in result.stderr


def test_decode_reports_errors_naming_the_field_and_exits_1(tmp_path):
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.ast"
    path.write_bytes(data[:-2])  # the last block is truncated
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 1
    assert len(lines(result.stdout)) == 5  # everything before the cut
    assert "datablock.LEN: exceeds the data (truncated)" in result.stderr
    assert "1 errors" in result.stderr


def test_forced_pcap_format_on_raw_data_is_a_usage_error():
    result = runner.invoke(app, ["decode", str(SAMPLE), "--format", "pcap"])
    assert result.exit_code == 2
    assert "not a readable capture" in result.stderr


def test_udp_payload_skips_fragments_and_non_udp():
    frame = bytearray(_udp_frame(b"\x22\x00\x03"))
    assert udp_payload(1, bytes(frame)) == b"\x22\x00\x03"
    frame[14 + 6] = 0x20  # more-fragments flag set
    assert udp_payload(1, bytes(frame)) is None
    assert udp_payload(1, b"\x00" * 10) is None
    assert udp_payload(147, bytes(frame)) is None  # a link type it does not know


# ---------------------------------------------------------------------------------------------
# CAT062/065 and CAT021; categories not read


def test_decode_prints_system_tracks_from_a_real_sdps_capture():
    """asterix-decoder's sample capture (tests/data/asterix/README.md): CAT062 and CAT065."""
    capture = SAMPLE.parent / "cat_062_065.pcap"
    result = runner.invoke(app, ["decode", str(capture)])
    assert result.exit_code == 0, result.output
    t1, t2, eob = lines(result.stdout)
    assert (t1["category"], t2["category"], eob["category"]) == (62, 62, 65)
    assert (t1["sac"], t1["sic"]) == (25, 100)
    assert t1["target_address"] == "4CA7A8" and t2["target_address"] == "4CAC7F"
    assert t1["lat_deg"] == pytest.approx(41.1671233, abs=1e-6)
    assert t1["lon_deg"] == pytest.approx(15.7088667, abs=1e-6)
    assert t1["vx_mps"] == 228.75 and t1["status"]["coasting"] is False
    assert eob["message_name"] == "End of Batch" and eob["batch_number"] == 1
    assert t1["time_utc_s"] == pytest.approx(t1["capture_time_s"], abs=1.0)
    assert "3 records from 1 datagrams, 0 errors" in result.stderr


def test_decode_names_unsupported_categories_and_goes_on(tmp_path):
    from tests.ingest.test_asterix_tracks import adsb_record, block21

    cat240 = bytes([240, 0, 6, 0x80, 0x19, 0x0A])  # radar video: not read
    cat001 = bytes([1, 0, 5, 0x80, 0x19])
    path = tmp_path / "mixed.ast"
    path.write_bytes(cat240 + block21(adsb_record()) + cat001 + cat240)
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 0, result.output  # not an error in the data: named, skipped
    (rec,) = lines(result.stdout)
    assert rec["category"] == 21 and rec["target_address"] == "484C12"
    assert rec["uav"] is True and rec["emitter_name"] == "Unmanned aerial vehicle"
    assert rec["pressure_altitude_m"] == pytest.approx(609.6)
    assert "ASTERIX category 240 is not supported (block skipped)" in result.stderr
    assert "ASTERIX category 1 is not supported" in result.stderr
    assert "1 records from 1 datagrams, 0 errors, 3 blocks of unsupported categories" in (
        result.stderr
    )
    assert "(CAT001: 1, CAT240: 2)" in result.stderr
    path.write_bytes(cat240 + block21(adsb_record())[:-3])  # and a truncated CAT021 block
    result = runner.invoke(app, ["decode", str(path)])
    assert result.exit_code == 1
    assert "datablock.LEN: exceeds the data (truncated)" in result.stderr


def test_decode_reads_cat021_edition_026_when_told(tmp_path):
    from tests.ingest.test_asterix_tracks import C21V0, adsb_record_v0

    path = tmp_path / "old.ast"
    path.write_bytes(C21V0.create([adsb_record_v0()]).unparse().to_bytes())
    result = runner.invoke(app, ["decode", str(path), "--cat021-edition", "0.26"])
    assert result.exit_code == 0, result.output
    (rec,) = lines(result.stdout)
    assert rec["edition"] == "0.26" and rec["target_address"] == "484C13"
    assert rec["callsign"] == "OLDGS1" and rec["time_of_day_s"] == 43200.5
    assert runner.invoke(app, ["decode", str(path)]).exit_code == 1  # as 2.x: malformed
