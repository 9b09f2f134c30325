import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from luchtwacht.commands.adsb import app

DATA = Path(__file__).resolve().parents[1] / "data" / "adsb"
EVEN = "8D40621D58C382D690C8AC2863A7"
runner = CliRunner()


def run(*args: str, stdin: bytes | None = None):
    result = runner.invoke(app, ["decode", *args], input=stdin)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    summary = json.loads(result.stderr.splitlines()[-1]) if result.exit_code in (0, 1) else None
    return result, lines, summary


@pytest.mark.parametrize(
    ("name", "fmt"), [("golden.avr", "auto"), ("golden.beast", "auto"), ("golden.beast", "beast")]
)
def test_decode_writes_one_json_line_per_message_in_si_units(name, fmt):
    result, lines, summary = run(str(DATA / name), "--format", fmt)
    assert result.exit_code == 0, result.stderr
    ident, odd, even, vel = lines
    assert (ident["icao"], ident["df"], ident["tc"], ident["callsign"]) == (
        "4840D6",
        17,
        4,
        "KLM1023",
    )
    assert odd["alt_baro_m"] == pytest.approx(38000 * 0.3048) and "lat" not in odd
    assert (even["lat"], even["lon"], even["cpr"]) == (
        pytest.approx(52.2572, abs=5e-5),
        pytest.approx(3.9194, abs=5e-5),
        "global",
    )
    assert vel["gs_ms"] == pytest.approx(159 * 0.514444, rel=1e-5)
    assert vel["track_deg"] == pytest.approx(182.88, abs=0.01)
    assert vel["vrate_ms"] == pytest.approx(-832 * 0.00508)
    assert (
        summary["accepted"] == 4
        and summary["rejected"] == 0
        and summary["format"] == name.split(".")[1]
    )


def test_decode_sbs_carries_message_time():
    result, lines, summary = run(str(DATA / "golden.sbs"))
    assert result.exit_code == 0 and summary["format"] == "sbs"
    pos = [line for line in lines if "lat" in line]
    assert len(pos) == 1 and pos[0]["icao"] == "40621D" and pos[0]["df"] is None
    assert (pos[0]["lat"], pos[0]["lon"]) == (52.257202, 3.919373)
    assert pos[0]["t_s"] == pytest.approx(1_781_299_811.5)  # 2026-06-12 21:30:11.500 UTC
    assert lines[0]["callsign"] == "KLM1023"


def test_bad_lines_are_counted_and_the_rest_decoded(tmp_path):
    capture = tmp_path / "mixed.avr"
    capture.write_text(f"*{EVEN[:-1]}0;\nnot avr at all\n*{EVEN};\n*ZZ;\n")
    result, lines, summary = run(str(capture))
    assert result.exit_code == 0 and [line["raw"] for line in lines] == [EVEN]
    assert summary["rejected"] == 3
    assert set(summary["rejected_by_reason"]) == {
        "crc: DF17 parity check failed",
        "avr: no ';' at the end of the line",
        "msg: not an even number of hex digits",
    }


def test_nothing_decoded_exits_1(tmp_path):
    capture = tmp_path / "junk.avr"
    capture.write_text("*nonsense;\n*00;\n")
    result, lines, summary = run(str(capture), "--format", "avr")
    assert result.exit_code == 1 and lines == [] and summary["rejected"] == 2


def test_receiver_position_enables_single_frame_decoding_from_stdin():
    result, lines, _ = run("-", "--lat", "52.258", "--lon", "3.918", stdin=f"*{EVEN};".encode())
    assert result.exit_code == 0
    (line,) = lines  # the last line had no newline: decoded at end of input
    assert (line["lat"], line["lon"], line["cpr"]) == (
        pytest.approx(52.2572, abs=5e-5),
        pytest.approx(3.9194, abs=5e-5),
        "local-receiver",
    )
    _, lines, _ = run(
        "-",
        "--lat",
        "52.258",
        "--lon",
        "3.918",
        "--max-range-nm",
        "250",
        stdin=f"*{EVEN};".encode(),
    )
    assert "lat" not in lines[0]  # beyond 180 NM the receiver is no safe reference


def test_argument_errors():
    assert run("-", "--lat", "52.0")[0].exit_code == 2
    assert run(str(DATA / "missing.avr"))[0].exit_code == 2
    assert run(str(DATA / "golden.avr"), "--format", "asterix")[0].exit_code == 2
