"""``luchtwacht export geojson``: a real demo recording out to GeoJSON, read back with shapely.

The recording is made once by running the demo headless with ``--record``; the export is loaded
with ``json`` and every feature turned into a shapely geometry. Each track's line must run through
exactly the positions the recording holds for it, in time order, with one time per vertex; a
window keeps only the positions inside it; zones are closed, valid, counter-clockwise polygons.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LinearRing, LineString, Point, Polygon, shape
from typer.testing import CliRunner

from luchtwacht.cli import app as cli_app
from luchtwacht.commands.export import export_app
from luchtwacht.model.zone import Zone
from luchtwacht.publish.geojson import parse_time, zone_feature

runner = CliRunner()


@dataclass(frozen=True)
class Recording:
    path: Path
    start_s: float
    rows: dict[int, list[tuple[float, float, float, float]]]  # track → (t, lon, lat, alt)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """A 40 s demo run, recorded; and its track rows read straight from the file."""
    path = tmp_path_factory.mktemp("geojson") / "run.sqlite"
    args = ["demo", "--headless", "--duration", "40", "--speed", "0", "--no-web"]
    result = runner.invoke(cli_app, [*args, "--record", str(path)])
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(path)
    start_s = float(db.execute("SELECT value FROM meta WHERE key = 'start_s'").fetchone()[0])
    rows: dict[int, list[tuple[float, float, float, float]]] = {}
    for tid, t, lat, lon, alt in db.execute(
        "SELECT track_id, t_s, lat_deg, lon_deg, alt_m FROM track ORDER BY track_id, t_s"
    ):
        rows.setdefault(tid, []).append((t, lon, lat, alt))
    db.close()
    assert len(rows) >= 3 and max(len(r) for r in rows.values()) >= 20
    return Recording(path, start_s, rows)


def export(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(export_app, ["geojson", *args])
    return result.exit_code, result.stdout, result.stderr


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    assert data["type"] == "FeatureCollection"
    return data


def tracks_of(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {
        f["properties"]["track_id"]: f
        for f in data["features"]
        if f["properties"]["kind"] == "track"
    }


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_tracks_are_lines_through_the_recorded_points(recording: Recording, tmp_path: Path) -> None:
    out = tmp_path / "all.geojson"
    code, _, err = export(str(recording.path), "--out", str(out))
    assert code == 0, err
    data = load(out.read_text())
    assert data["site"] == "ehvk-default"
    tracks = tracks_of(data)
    assert set(tracks) == set(recording.rows)
    for tid, feature in tracks.items():
        rows = recording.rows[tid]
        geom = shape(feature["geometry"])
        assert geom.is_valid and geom.has_z
        if len(rows) == 1:
            assert isinstance(geom, Point)
            continue
        assert isinstance(geom, LineString) and len(geom.coords) == len(rows)
        for (t, lon, lat, alt), (x, y, z), iso in zip(
            rows, geom.coords, feature["properties"]["times"], strict=True
        ):
            # Rounded to 7 decimals of a degree (~1 cm) and to the centimetre in height.
            assert (x, y) == pytest.approx((lon, lat), abs=5.1e-8)
            assert z == pytest.approx(alt, abs=0.0051)
            assert geom.distance(Point(lon, lat)) < 1e-6
            assert epoch(iso) == pytest.approx(t, abs=1e-3)
        times = [epoch(s) for s in feature["properties"]["times"]]
        assert times == sorted(times) and len(set(times)) == len(times)
        props = feature["properties"]
        assert props["start"] == props["times"][0] and props["end"] == props["times"][-1]
        assert props["max_threat"] in {"none", "low", "medium", "high", "critical"}
        assert props["class"] in {"drone", "bird", "aircraft", "clutter", "unknown"}
    # The drone that flies with Remote ID carries its UAS ID.
    assert any(f["properties"]["uas_id"] for f in tracks.values())


def test_zones_are_closed_counter_clockwise_polygons(recording: Recording) -> None:
    code, text, err = export(str(recording.path))
    assert code == 0, err
    zones = [f for f in load(text)["features"] if f["properties"]["kind"] == "zone"]
    assert [z["properties"]["name"] for z in zones] == ["EHVK runway"]
    poly = shape(zones[0]["geometry"])
    assert isinstance(poly, Polygon) and poly.is_valid
    assert LinearRing(poly.exterior.coords).is_ccw
    # The runway zone holds the airfield's midpoint (lon, lat order).
    assert poly.contains(Point(5.7087, 51.6564))


def test_a_window_keeps_only_the_positions_inside_it(recording: Recording) -> None:
    lo, hi = recording.start_s + 10, recording.start_s + 20
    code, text, err = export(str(recording.path), "--from", "10", "--to", "20")
    assert code == 0, err
    data = load(text)
    tracks = tracks_of(data)
    expected = {tid: [r for r in rows if lo <= r[0] <= hi] for tid, rows in recording.rows.items()}
    expected = {tid: rows for tid, rows in expected.items() if rows}
    assert set(tracks) == set(expected) and tracks
    for tid, feature in tracks.items():
        times = [epoch(s) for s in feature["properties"]["times"]]
        assert times == pytest.approx([r[0] for r in expected[tid]], abs=1e-3)
        assert all(lo - 1e-3 <= t <= hi + 1e-3 for t in times)
    # The same window in ISO 8601 gives the same file.
    iso_from, iso_to = data["from"], data["to"]
    code, text_iso, _ = export(str(recording.path), "--from", iso_from, "--to", iso_to)
    assert code == 0 and text_iso == text


def test_site_file_zones_replace_the_recorded_ones(recording: Recording, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "site: {name: test, lat: 51.0, lon: 5.0, alt_m: 10.0}\n"
        "zones:\n"
        "  - name: clockwise box\n"
        "    polygon: [[51.0, 5.0], [51.01, 5.0], [51.01, 5.01], [51.0, 5.01]]\n"
    )
    code, text, err = export(str(recording.path), "--site", str(site), "--to", "0")
    assert code == 0, err
    (zone,) = [f for f in load(text)["features"] if f["properties"]["kind"] == "zone"]
    assert zone["properties"]["name"] == "clockwise box"
    assert LinearRing(shape(zone["geometry"]).exterior.coords).is_ccw


def test_zone_rings_follow_the_right_hand_rule() -> None:
    square = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))  # (lat, lon)
    for vertices in (square, tuple(reversed(square))):
        ring = zone_feature(Zone("z", vertices))["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) == 5
        assert LinearRing(ring).is_ccw


def test_times_read_as_iso_or_seconds_since_the_start() -> None:
    start = 1_781_299_800.0
    assert parse_time("90.5", start) == start + 90.5
    assert parse_time("2026-06-12T21:31:30Z", start) == start + 90
    assert parse_time("2026-06-12T21:31:30", start) == start + 90  # no zone: UTC
    assert parse_time("2026-06-12T23:31:30+02:00", start) == start + 90
    assert math.isclose(parse_time("0", start), start)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"not sqlite at all, just some bytes" * 10), "not a readable"),
    ],
)
def test_bad_recordings_give_one_line_and_exit_2(tmp_path: Path, make: Any, needle: str) -> None:
    path = tmp_path / "bad.sqlite"
    make(path)
    code, out, err = export(str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_a_recording_without_tracks_table_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE x (a)")
    db.commit()
    db.close()
    code, _, err = export(str(path))
    assert code == 2 and "not a Luchtwacht recording" in err and err.count("\n") == 1


def test_unwritable_out_and_bad_times_exit_2(recording: Recording, tmp_path: Path) -> None:
    code, _, err = export(str(recording.path), "--out", str(tmp_path / "no" / "such" / "x.json"))
    assert code == 2 and "cannot write" in err and err.count("\n") == 1
    code, _, err = export(str(recording.path), "--from", "yesterday")
    assert code == 2 and "'yesterday'" in err and err.count("\n") == 1
    code, _, err = export(str(recording.path), "--from", "20", "--to", "10")
    assert code == 2 and "--from is after --to" in err
