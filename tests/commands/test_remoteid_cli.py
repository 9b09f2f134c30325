"""``remoteid decode``: JSON lines on stdout, a summary on stderr, exit 1 when unreadable or empty."""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from luchtwacht.commands.remoteid import app
from tests.ingest.test_remoteid_capture import (
    BT5_MAC,
    PADDED_PACK,
    build_padded_long_range_capture,
    extended_payload,
    ll_packet,
    long_range_ad,
    pcap_bytes,
)

runner = CliRunner()
REAL_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "remoteid"
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "remoteid"
REAL_MAC = "84:cc:a8:60:43:24"


def real_capture(name: str) -> Path:
    path = REAL_DIR / name
    if not path.is_file():
        pytest.skip(f"real Remote ID capture {path} not available (../shared/data/remoteid)")
    return path


def decode(path: Path):
    result = runner.invoke(app, ["decode", str(path)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result, lines


def test_real_beacon_capture_to_json_lines():
    result, lines = decode(real_capture("odid_wifi_bcn_sample.pcap"))
    assert result.exit_code == 0, result.output
    assert len(lines) == 105
    assert Counter(line["message_type"] for line in lines) == {
        "BASIC_ID": 21, "LOCATION": 21, "SELF_ID": 21, "SYSTEM": 21, "OPERATOR_ID": 21,
    }  # fmt: skip
    for line in lines:
        assert list(line)[:4] == ["time", "transport", "mac", "message_type"]
        assert (line["transport"], line["mac"]) == ("wifi-beacon", REAL_MAC)
        assert line["time"].startswith("2021-05-21T21:5") and line["time"].endswith("Z")
    basic, loc, self_id, system, operator = lines[:5]
    assert basic["time"] == "2021-05-21T21:52:11.161999Z" and basic["record"] == 0
    assert (basic["uas_id"], basic["id_type"], basic["ua_type"]) == (
        "MFG1A0123456789",
        "NONE",
        "NONE",
    )
    assert (loc["lat"], loc["lon"], loc["alt_geo_m"], loc["height_m"]) == (
        45.5457468,
        -122.9681496,
        237.0,
        100.0,
    )
    assert (loc["speed_ms"], loc["track_direction_deg"], loc["vertical_speed_ms"]) == (
        20.5,
        92.0,
        None,
    )
    assert (loc["alt_baro_m"], loc["height_type"], loc["horizontal_accuracy_m"]) == (
        None,
        "ABOVE_TAKEOFF",
        30.0,
    )
    assert self_id["description"] == "Recreational"
    assert (system["operator_lat"], system["operator_lon"]) == (45.5443876, -122.9726866)
    assert (system["ua_category"], system["ua_class"], system["timestamp"]) == (
        "OPEN",
        "CLASS_4",
        None,
    )
    assert operator["operator_id"] == "GBR-OP-123ABCD"
    assert all(
        45.5457 < x["lat"] < 45.5471 and -122.9682 < x["lon"] < -122.9666
        for x in lines
        if x["message_type"] == "LOCATION"
    )
    assert "counter" not in basic and "phy" not in basic  # Bluetooth-only details
    assert "21 records, 21 frames with Remote ID, 105 messages" in result.stderr
    assert f"{REAL_MAC} wifi-beacon: 21 frames" in result.stderr


def test_real_nan_and_beacon_capture():
    result, lines = decode(real_capture("odid_wifi_sample.pcap"))
    assert result.exit_code == 0, result.output
    assert len(lines) == 42
    assert Counter(line["transport"] for line in lines) == {"wifi-nan": 21, "wifi-beacon": 21}
    assert {line["mac"] for line in lines} == {REAL_MAC}
    assert (lines[0]["message_type"], lines[0]["operator_id"], lines[0]["record"]) == (
        "OPERATOR_ID",
        "GBR-OP-123ABCD",
        1,
    )
    assert "skipped 21 frames without Open Drone ID (vendor_ie 21)" in result.stderr
    assert "malformed" not in result.stderr


def test_built_bluetooth_ll_capture_reports_the_malformed_frame():
    result, lines = decode(FIXTURES / "ble_ll_odid.pcap")
    assert result.exit_code == 0, result.output
    assert [line["message_type"] for line in lines] == [
        "BASIC_ID", "LOCATION", "AUTHENTICATION", "SELF_ID", "SYSTEM", "OPERATOR_ID",
    ]  # fmt: skip
    assert {(x["transport"], x["mac"], x["pdu_type"], x["phy"]) for x in lines} == {
        ("bt4-legacy", "e4:7a:2c:91:5d:30", "ADV_NONCONN_IND", None)
    }
    assert [x["counter"] for x in lines] == list(range(40, 46))
    assert lines[0]["time"] == "2026-03-14T10:00:00.000000Z"
    loc, auth, system = lines[1], lines[2], lines[4]
    assert (loc["lat"], loc["lon"], loc["vertical_speed_ms"], loc["timestamp_after_hour_s"]) == (
        51.6612345,
        5.7123456,
        -1.5,
        1234.5,
    )
    assert (auth["auth_type"], auth["timestamp"], auth["data"]) == (
        "UAS_ID_SIGNATURE",
        "2026-03-14T10:00:00.000000Z",
        bytes(range(1, 18)).hex(),
    )
    assert (system["operator_alt_geo_m"], system["classification_type"]) == (66.5, "EU")
    assert "10 records, 6 frames with Remote ID, 6 messages" in result.stderr
    assert "skipped 3 frames without Open Drone ID (access_address 1, adv_data 2)" in result.stderr
    assert "malformed 1 frames (crc 1)" in result.stderr
    assert "record 9 (linktype 251): crc: received" in result.stderr


def test_built_long_range_capture():
    result, lines = decode(FIXTURES / "ble_phdr_nordic_odid.pcapng")
    assert result.exit_code == 0, result.output
    long_range = [x for x in lines if x["transport"] == "bt5-long-range"]
    assert len(long_range) == 10 and len(lines) == 14
    assert {(x["mac"], x["pdu_type"], x["phy"], x["counter"]) for x in long_range} == {
        ("d2:19:6b:0e:a4:c8", "AUX_ADV_IND", "coded", 9)
    }
    assert [x["message_type"] for x in long_range[:5]] == [
        "BASIC_ID",
        "LOCATION",
        "SYSTEM",
        "OPERATOR_ID",
        "SELF_ID",
    ]
    assert sorted({x["rssi_dbm"] for x in long_range}) == [-90.0, -88.0]
    assert "d2:19:6b:0e:a4:c8 bt5-long-range: 2 frames" in result.stderr


def test_unreadable_files_exit_1(tmp_path):
    missing = runner.invoke(app, ["decode", str(tmp_path / "nope.pcap")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr and not missing.stdout
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file")
    result = runner.invoke(app, ["decode", str(junk)])
    assert result.exit_code == 1 and "not a readable capture" in result.stderr and not result.stdout
    assert runner.invoke(app, ["decode", str(tmp_path)]).exit_code == 1  # a directory


def test_captures_that_yield_no_message_exit_1(tmp_path):
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(header)
    result = runner.invoke(app, ["decode", str(empty)])
    assert result.exit_code == 1 and result.stdout == "" and "0 records" in result.stderr
    assert f"no Remote ID message in {empty}" in result.stderr
    damaged = tmp_path / "damaged.pcap"
    damaged.write_bytes(header + struct.pack("<IIII", 1, 0, 3, 3) + b"abc" + b"\x01\x02")
    result = runner.invoke(app, ["decode", str(damaged)])
    assert result.exit_code == 1 and "capture damaged after record 0" in result.stderr
    assert "malformed 1 frames (radiotap 1)" in result.stderr


def test_long_range_packs_padded_to_228_bytes(tmp_path):
    """A transmitter padding every pack to 228 bytes decodes; a file of only bad packs exits 1."""
    capture = tmp_path / "padded.pcap"
    capture.write_bytes(build_padded_long_range_capture())
    result, lines = decode(capture)
    assert result.exit_code == 0, result.output
    assert Counter((x["transport"], x["counter"]) for x in lines) == {
        ("bt4-legacy", 1): 1, ("bt5-long-range", 10): 5, ("bt5-long-range", 11): 5,
    }  # fmt: skip
    assert "4 records, 3 frames with Remote ID, 11 messages" in result.stderr
    assert "malformed 1 frames (padding 1)" in result.stderr
    damaged = bytearray(PADDED_PACK)
    damaged[150] = 0xFF  # past the 5 declared messages (bytes 3..127)
    aux = extended_payload(adv_a=BT5_MAC, adv_data=long_range_ad(bytes(damaged), 4))
    only_bad = tmp_path / "only_bad.pcap"
    only_bad.write_bytes(pcap_bytes(251, [(0.0, ll_packet(0x7, aux, ci=None))]))
    result, lines = decode(only_bad)
    assert result.exit_code == 1 and lines == []
    assert "malformed 1 frames (padding 1)" in result.stderr
    assert f"no Remote ID message in {only_bad}" in result.stderr


def test_help_lists_decode():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "decode" in result.stdout
