"""``luchtwacht sapient validate``: JSON and binary SAPIENT messages against the ICD rules."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from luchtwacht.commands.sapient import app, binary_messages
from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.sapient import frame
from luchtwacht.sim.radar import RadarConfig, RadarSim

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VECTORS = SHARED / "data" / "sapient"
RADAR = RadarConfig(
    node_id="4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c", lat_deg=51.655, lon_deg=5.705, alt_m=75.0
)


def vectors(kind: str) -> Path:
    path = VECTORS / kind
    if not path.is_dir():
        pytest.skip(f"shared SAPIENT vectors not available at {path} (read from ../shared)")
    return path


def radar() -> RadarSim:
    return RadarSim(RADAR, SiteOrigin(51.6564, 5.7087, 65.0), 1_781_299_800.0, seed=1)


def test_valid_vectors_all_pass_one_line_each():
    files = sorted(vectors("valid").glob("*.json")) + sorted(
        vectors("simulator_defaults").rglob("*.json")
    )
    result = runner.invoke(app, ["validate", *map(str, files)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(files)
    for f, line in zip(files, lines, strict=True):
        assert line.startswith(f"{f}: OK (") and line.endswith(")"), line


def test_invalid_vectors_all_fail_naming_field_and_rule():
    files = sorted(vectors("invalid").glob("*.json"))
    result = runner.invoke(app, ["validate", *map(str, files)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == len(files)
    parser_refused = 0
    for f, line in zip(files, lines, strict=True):
        assert line.startswith(f"{f}: INVALID SapientMessage"), line
        parser_refused += "not protobuf JSON (" in line
    # the vectors in a pre-2.0 layout are refused by the parser, with its reason
    assert parser_refused >= 20
    assert any('no field named "detectionLocation"' in line for line in lines)


def test_json_with_byte_order_mark_and_a_broken_rule(tmp_path):
    src = vectors("valid") / "Registration.FullMesssage.json"
    text = src.read_text(encoding="utf-8-sig")
    good = tmp_path / "good.json"
    good.write_text("\ufeff" + text, encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(text.replace("BSI Flex 335 v2.0", "BSI Flex 335 v1.0"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{good}: OK (registration)",
        f"{bad}: INVALID SapientMessage.registration.icd_version: unsupported ICD version"
        " ('BSI Flex 335 v1.0', expected 'BSI Flex 335 v2.0')",
    ]


def test_binary_bare_and_single_framed_message(tmp_path):
    msg = radar().registration(0.0)
    bare = tmp_path / "reg.bin"
    bare.write_bytes(msg.SerializeToString())
    framed = tmp_path / "reg.frame"
    framed.write_bytes(frame(msg))
    result = runner.invoke(app, ["validate", "--binary", str(bare), str(framed)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{bare}: OK (registration)",
        f"{framed}: OK (registration)",
    ]


def test_binary_capture_is_checked_frame_by_frame(tmp_path):
    sim = radar()
    det = sim._detection(1.0, 10.0, 1.0, 1000.0, 0.9, None, 0.0)
    bad = sim._detection(1.0, 10.0, 1.0, -5.0, 0.9, None, 0.0)
    capture = tmp_path / "capture.bin"
    capture.write_bytes(
        frame(sim.registration(0.0)) + frame(sim.status_report(0.0)) + frame(det) + frame(bad)
    )
    result = runner.invoke(app, ["validate", "--binary", str(capture)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{capture}#1: OK (registration)",
        f"{capture}#2: OK (status_report)",
        f"{capture}#3: OK (detection_report)",
        f"{capture}#4: INVALID SapientMessage.detection_report.range_bearing.range: negative range"
        " (-5.0)",
    ]


def test_binary_garbage_and_unreadable_files_are_invalid(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    missing = tmp_path / "missing.bin"
    result = runner.invoke(app, ["validate", "--binary", str(junk), str(missing)])
    assert result.exit_code == 1
    first, second = result.output.splitlines()
    assert first.startswith(f"{junk}: INVALID SapientMessage: malformed protobuf")
    assert second.startswith(f"{missing}: INVALID file: unreadable")


def test_json_that_is_not_json(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{f}: INVALID SapientMessage: not protobuf JSON (")


def test_framing_detection():
    body = radar().registration(0.0).SerializeToString()
    assert binary_messages(body) == [body]
    assert binary_messages(frame_bytes(body)) == [body]
    assert binary_messages(frame_bytes(body) + frame_bytes(b"")) == [body, b""]
    truncated = frame_bytes(body) + frame_bytes(body)[:-3]
    assert binary_messages(truncated) == [truncated]  # not a frame sequence: judged as one message


def frame_bytes(body: bytes) -> bytes:
    return len(body).to_bytes(4, "little") + body
