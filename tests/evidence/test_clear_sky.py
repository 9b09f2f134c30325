"""``luchtwacht report clear-sky`` on a real recording with an intruder and a radar outage.

The intruder enters the runway zone about 114 s in; the radar (the only sensor whose range
covers the whole zone) sends nothing from 20 s to 45 s, while an acoustic array covering part of
the zone keeps reporting. A window with the intruder must
say NOT CLEAR and name it with its times inside; a window before it must be clear but show the
outage as a coverage gap; the PDF is parsed back (pages counted); the HTML must load nothing
from outside; the report folder verifies with only the public key.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.evidence.clearsky import snapshot_status
from luchtwacht.publish.geojson import parse_time
from tests.evidence.conftest import OUTAGE_S, ZONE, Keys, Run

runner = CliRunner()


def _report(run: Run, keys: Keys, out: Path, t_from: str, t_to: str, *extra: str) -> str:
    result = runner.invoke(
        app,
        ["report", "clear-sky", str(run.path), "--zone", ZONE, "--from", t_from, "--to", t_to,
         "--out", str(out), "--key", str(keys.private), *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def _json(out: Path) -> dict[str, Any]:
    data = json.loads((out / "report.json").read_text())
    assert isinstance(data, dict)
    return data


def test_window_with_the_intruder_is_not_clear(run: Run, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "report"
    text = _report(run, keys, out, "100", "150")
    assert "NOT CLEAR" in text and f"T{run.intruder} drone" in text
    data = _json(out)
    assert data["clear"] is False
    (track,) = data["unauthorised_tracks"]
    assert track["track_id"] == run.intruder
    assert track["cooperative"] is False and track["status"] == "unauthorised"
    lo, hi = run.start_s + 100, run.start_s + 150
    for stay in track["inside"]:
        assert lo <= parse_time(stay["from"], None) <= parse_time(stay["to"], None) <= hi
    assert run.passer not in {t["track_id"] for t in data["other_tracks_in_zone"]}
    radar = next(s for s in data["sensors"] if s["format"] == "sapient")
    assert radar["counted"] and radar["coverage"] == "whole zone"
    assert radar["health"] == "every StatusReport SYSTEM_OK"
    assert data["coverage_gaps"] == []
    rid = next(s for s in data["sensors"] if s["format"] != "sapient")
    assert rid["counted"] is False and rid["coverage"].startswith("unknown")


def test_window_before_the_intruder_is_clear_and_shows_the_outage(
    run: Run, keys: Keys, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    text = _report(run, keys, out, "5", "90")
    assert text.startswith(f"No unauthorised track in zone {ZONE} between")
    assert "Coverage gaps" in text
    data = _json(out)
    assert data["clear"] is True and data["unauthorised_tracks"] == []
    (gap,) = data["coverage_gaps"]
    start = parse_time(gap["from"], None) - run.start_s
    end = parse_time(gap["to"], None) - run.start_s
    # The last delivery before the outage and the first after it (the radar scans every 1 s).
    assert OUTAGE_S[0] - 1.5 <= start <= OUTAGE_S[0]
    assert OUTAGE_S[1] <= end <= OUTAGE_S[1] + 1.5
    assert gap["partly_watched_by"] == ["Acoustic array runway"]
    radar = next(s for s in data["sensors"] if s["format"] == "sapient")
    assert len(radar["own_gaps"]) == 1
    assert re.search(r"silent for \d+(\.\d+)? s", radar["health"])
    acoustic = next(s for s in data["sensors"] if s["name"] == "Acoustic array runway")
    assert acoustic["coverage"] == "part of the zone" and acoustic["counted"]
    # A gap limit longer than the outage finds no gap.
    wide = tmp_path / "wide"
    _report(run, keys, wide, "5", "90", "--max-gap", "60")
    assert _json(wide)["coverage_gaps"] == []


def test_pdf_html_and_signature(run: Run, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "report"
    _report(run, keys, out, "0", "150")
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", pdf)
    assert len(pages) >= 2
    count = re.search(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", pdf, re.S)
    assert count is not None and int(count.group(1)) == len(pages)
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html), "no outside loads"
    assert "NOT CLEAR" in html and f"T{run.intruder}" in html
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(out, elsewhere / "report")
    shutil.copyfile(keys.public, elsewhere / "node.pub.pem")
    result = runner.invoke(
        app,
        ["evidence", "verify", str(elsewhere / "report"), "--public-key",
         str(elsewhere / "node.pub.pem")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pdf_path = elsewhere / "report" / "report.pdf"
    damaged = bytearray(pdf)
    damaged[len(damaged) // 2] ^= 0x01
    pdf_path.write_bytes(bytes(damaged))
    result = runner.invoke(app, ["evidence", "verify", str(elsewhere / "report")])
    assert result.exit_code == 1 and "report.pdf: file changed" in result.output


@pytest.mark.parametrize(
    ("row", "status"),
    [
        ((1, 0.0, ZONE, "drone", 0, None, None, "high"), "unauthorised"),
        ((1, 0.0, ZONE, "drone", 1, "UAS-1", None, "low"), "unauthorised"),  # identified only
        ((1, 0.0, ZONE, "drone", 1, "UAS-OURS", None, "low"), "authorised: UAS-OURS named"),
        ((1, 0.0, ZONE, "aircraft", 1, None, "484f6d", "none"), "authorised: cooperative"),
        ((1, 0.0, ZONE, "aircraft", 0, None, None, "low"), "unauthorised"),
        ((1, 0.0, ZONE, "bird", 0, None, None, "none"), "not counted: classified bird"),
        ((1, 0.0, ZONE, "unknown", 0, None, None, "low"), "unauthorised"),
    ],
)
def test_authorisation_rule(row: tuple[object, ...], status: str) -> None:
    assert snapshot_status(row, frozenset({"UAS-OURS"})).startswith(status)


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("unknown-zone", "no such zone"),
        ("bad-time", "not an ISO 8601 time"),
        ("missing-recording", "no such file"),
        ("out-not-empty", "not empty"),
        ("key-garbage", "not a PEM private key"),
    ],
)
def test_bad_inputs_are_one_line_exit_2(
    case: str, expect: str, run: Run, keys: Keys, tmp_path: Path
) -> None:
    recording, zone, t_from, key, out = run.path, ZONE, "0", keys.private, tmp_path / "out"
    if case == "unknown-zone":
        zone = "Nowhere"
    elif case == "bad-time":
        t_from = "noon-ish"
    elif case == "missing-recording":
        recording = tmp_path / "none.sqlite"
    elif case == "out-not-empty":
        out.mkdir()
        (out / "x").write_text("x")
    elif case == "key-garbage":
        key = tmp_path / "k.pem"
        key.write_bytes(b"\x00\x01")
    result = runner.invoke(
        app,
        ["report", "clear-sky", str(recording), "--zone", zone, "--from", t_from, "--to", "60",
         "--out", str(out), "--key", str(key)],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expect in lines[0]


def test_a_window_past_the_recordings_end_says_the_recording_ended(
    run: Run, keys: Keys, tmp_path: Path
) -> None:
    """The time after the run shows as a coverage gap (nothing watched), and the verdict says
    why: the recording had ended."""
    end = _json_span(run)
    inside = _report(run, keys, tmp_path / "inside", "5", "90")
    assert "The recording ends" not in inside
    past = _report(run, keys, tmp_path / "past", "5", str(end - run.start_s + 60))
    assert "The recording ends at" in past and "nothing after it was recorded" in past


def _json_span(run: Run) -> float:
    import sqlite3

    db = sqlite3.connect(f"file:{run.path}?mode=ro", uri=True)
    try:
        (end,) = db.execute("SELECT max(t_s) FROM tick").fetchone()
    finally:
        db.close()
    return float(end)
