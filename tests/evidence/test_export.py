"""``luchtwacht evidence export|verify`` on a real recording, checked on a copy with the public key.

The package is exported once per module, copied to another folder for every check (as if on
another machine, with only the node's public key) and then damaged in the ways a package can be:
one byte changed in a file, a file removed or added, the manifest re-signed by another key, the
manifest edited. Each must be caught and the file named. Windows and the track/zone filters must
leave out every row outside them, and the raw bytes must be exactly those of the recording.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from luchtwacht.cli import app
from tests.evidence.conftest import ZONE, Keys, Run

runner = CliRunner()


def _export(run: Run, keys: Keys, out: Path, *extra: str) -> None:
    result = runner.invoke(
        app,
        ["evidence", "export", str(run.path), "--out", str(out), "--key", str(keys.private),
         *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def _verify(folder: Path, public: Path | None) -> tuple[int, str]:
    args = ["evidence", "verify", str(folder)]
    if public is not None:
        args += ["--public-key", str(public)]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def package(run: Run, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole run exported once."""
    out = tmp_path_factory.mktemp("export") / "package"
    _export(run, keys, out)
    return out


@pytest.fixture
def copy(package: Path, keys: Keys, tmp_path: Path) -> tuple[Path, Path]:
    """The package and the node's public key (only) copied to another folder."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(package, elsewhere / "package")
    public = elsewhere / "node.pub.pem"
    shutil.copyfile(keys.public, public)
    return elsewhere / "package", public


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_copy_with_only_the_public_key_verifies(copy: tuple[Path, Path], keys: Keys) -> None:
    folder, public = copy
    code, out = _verify(folder, public)
    assert code == 0, out
    assert "intact" in out
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json", "manifest.sig"}
    for name in ("tracks.csv", "alerts.csv", "detections.csv", "rejections.csv",
                 "decisions.jsonl", "map.png", "README.txt", "raw/index.csv"):  # fmt: skip
        assert name in listed
    assert (folder / "map.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # The package names the recording's signed chain and says it verified at export.
    chain = manifest["recording_chain"]
    assert chain["chained"] and chain["signer_is_recording_key"]
    assert chain["verification"]["intact"] is True
    assert chain["window_commit"]["seq"] >= 1
    node_fp = manifest["signer"]["fingerprint_sha256"]
    assert chain["recording_key_fingerprints"] == [node_fp]


def test_raw_bytes_are_the_recordings_bytes(package: Path, run: Run) -> None:
    db = sqlite3.connect(run.path)
    try:
        rows = db.execute("SELECT seq, payload, hash FROM raw").fetchall()
        recorded = {int(r[0]): bytes(r[1]) for r in rows}
        chained = {int(r[0]): bytes(r[2]).hex() for r in rows}
    finally:
        db.close()
    index = _rows(package / "raw" / "index.csv")
    assert len(index) == len(recorded)
    blobs: dict[str, bytes] = {}
    for row in index:
        blob = blobs.setdefault(row["file"], (package / row["file"]).read_bytes())
        start, n = int(row["offset"]), int(row["bytes"])
        assert blob[start : start + n] == recorded[int(row["seq"])]
        assert row["chain_hash"] == chained[int(row["seq"])]
    assert sum(len(b) for b in blobs.values()) == sum(len(b) for b in recorded.values())
    decoded = list((package / "raw").glob("*.sapient.jsonl"))
    assert decoded, "the radar's SAPIENT stream is decoded"
    kinds = {next(iter(json.loads(line)["message"].keys() - {"nodeId", "timestamp"}))
             for line in decoded[0].read_text().splitlines()}  # fmt: skip
    assert {"registration", "statusReport", "detectionReport"} <= kinds


@pytest.mark.parametrize(
    "name", ["tracks.csv", "decisions.jsonl", "map.png", "README.txt", "raw/index.csv", "raw-bin"]
)
def test_one_byte_changed_is_caught_and_named(copy: tuple[Path, Path], name: str) -> None:
    folder, public = copy
    if name == "raw-bin":
        name = next(folder.glob("raw/*.bin")).relative_to(folder).as_posix()
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, out = _verify(folder, public)
    assert code == 1
    assert f"{name}: file changed" in out


def test_removed_file_is_caught(copy: tuple[Path, Path]) -> None:
    folder, public = copy
    (folder / "alerts.csv").unlink()
    code, out = _verify(folder, public)
    assert code == 1
    assert "alerts.csv: file missing" in out


def test_extra_file_is_caught(copy: tuple[Path, Path]) -> None:
    folder, public = copy
    (folder / "raw" / "planted.bin").write_bytes(b"\x00")
    code, out = _verify(folder, public)
    assert code == 1
    assert "raw/planted.bin: extra file" in out


def test_manifest_edited_breaks_the_signature(copy: tuple[Path, Path]) -> None:
    folder, public = copy
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["window"]["from"] = "2026-06-12T21:29:00.000Z"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    code, out = _verify(folder, public)
    assert code == 1
    assert "manifest.sig: not a valid signature" in out


def _resign(folder: Path, key: Ed25519PrivateKey, replace_signer: bool) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    if replace_signer:
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        manifest["signer"]["public_key_pem"] = pem.decode()
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    path.write_bytes(data)
    (folder / "manifest.sig").write_bytes(key.sign(data))


def test_resigned_by_another_key_is_caught(copy: tuple[Path, Path], keys: Keys) -> None:
    folder, public = copy
    other = serialization.load_pem_private_key(keys.other_private.read_bytes(), None)
    assert isinstance(other, Ed25519PrivateKey)
    _resign(folder, other, replace_signer=True)
    code, out = _verify(folder, public)
    assert code == 1
    assert "not by this key" in out
    # Without the node's key the package only checks against itself: it passes, and says so.
    code, out = _verify(folder, None)
    assert code == 0
    assert "key inside the package" in out


def test_signature_by_another_key_under_the_nodes_name_is_caught(
    copy: tuple[Path, Path], keys: Keys
) -> None:
    folder, public = copy
    other = serialization.load_pem_private_key(keys.other_private.read_bytes(), None)
    assert isinstance(other, Ed25519PrivateKey)
    _resign(folder, other, replace_signer=False)
    for key in (public, None):
        code, out = _verify(folder, key)
        assert code == 1
        assert "manifest.sig: not a valid signature" in out


def test_window_and_track_filter(run: Run, keys: Keys, tmp_path: Path) -> None:
    lo, hi = 100.0, 120.0
    out = tmp_path / "filtered"
    _export(run, keys, out, "--from", str(lo), "--to", str(hi), "--track", str(run.intruder))
    t_lo, t_hi = run.start_s + lo, run.start_s + hi
    tracks = _rows(out / "tracks.csv")
    assert tracks
    assert {int(r["track_id"]) for r in tracks} == {run.intruder}
    for name in ("tracks.csv", "detections.csv", "alerts.csv", "raw/index.csv"):
        for row in _rows(out / name):
            assert t_lo <= float(row["t_s"]) <= t_hi, (name, row["t_s"])
    for line in (out / "decisions.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert t_lo <= record["t_s"] <= t_hi
        assert record["payload"].get("track_id", run.intruder) == run.intruder
    db = sqlite3.connect(run.path)
    try:
        n_raw = db.execute(
            "SELECT count(*) FROM raw WHERE t_rx_s >= ? AND t_rx_s <= ?", (t_lo, t_hi)
        ).fetchone()[0]
        n_track = db.execute(
            "SELECT count(*) FROM track WHERE t_s >= ? AND t_s <= ? AND track_id = ?",
            (t_lo, t_hi, run.intruder),
        ).fetchone()[0]
    finally:
        db.close()
    assert len(_rows(out / "raw" / "index.csv")) == n_raw
    assert len(tracks) == n_track
    code, text = _verify(out, keys.public)
    assert code == 0, text


def test_zone_filter_keeps_only_tracks_inside(run: Run, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "zone"
    _export(run, keys, out, "--zone", ZONE)
    ids = {int(r["track_id"]) for r in _rows(out / "tracks.csv")}
    assert ids == {run.intruder}
    alerts = _rows(out / "alerts.csv")
    assert alerts and all(a["zone"] == ZONE for a in alerts)
    everything = tmp_path / "all"
    _export(run, keys, everything)
    assert run.passer in {int(r["track_id"]) for r in _rows(everything / "tracks.csv")}


def test_export_says_when_the_key_is_not_the_recordings(
    run: Run, keys: Keys, tmp_path: Path
) -> None:
    out = tmp_path / "other"
    result = runner.invoke(
        app,
        ["evidence", "export", str(run.path), "--from", "0", "--to", "10", "--out", str(out),
         "--key", str(keys.other_private)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--key is not the key that signed the recording" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["recording_chain"]["signer_is_recording_key"] is False


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing-recording", "no such file"),
        ("bad-time", "not an ISO 8601 time"),
        ("from-after-to", "is after --to"),
        ("unknown-zone", "no such zone"),
        ("unknown-track", "no such track"),
        ("out-not-empty", "not empty"),
        ("key-missing", "no such file"),
        ("key-garbage", "not a PEM private key"),
        ("key-public", "not a PEM private key"),
    ],
)
def test_bad_inputs_are_one_line_exit_2(
    case: str, expect: str, run: Run, keys: Keys, tmp_path: Path
) -> None:
    recording, key, out = run.path, keys.private, tmp_path / "out"
    extra: list[str] = []
    if case == "missing-recording":
        recording = tmp_path / "none.sqlite"
    elif case == "bad-time":
        extra = ["--from", "yesterday"]
    elif case == "from-after-to":
        extra = ["--from", "100", "--to", "50"]
    elif case == "unknown-zone":
        extra = ["--zone", "Nowhere"]
    elif case == "unknown-track":
        extra = ["--track", "9999"]
    elif case == "out-not-empty":
        out.mkdir()
        (out / "x").write_text("x")
    elif case == "key-missing":
        key = tmp_path / "none.pem"
    elif case == "key-garbage":
        key = tmp_path / "garbage.pem"
        key.write_text("not a key")
    elif case == "key-public":
        key = keys.public
    result = runner.invoke(
        app,
        ["evidence", "export", str(recording), "--out", str(out), "--key", str(key), *extra],
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expect in lines[0]
    assert not (out.exists() and case != "out-not-empty")
    assert not list(tmp_path.glob(".*.part")), "no partial package left behind"


def test_verify_usage_errors(tmp_path: Path, package: Path) -> None:
    code, out = _verify(tmp_path / "none", None)
    assert code == 2 and out.startswith("error: ") and "no such folder" in out
    garbage = tmp_path / "k.pem"
    garbage.write_text("nope")
    code, out = _verify(package, garbage)
    assert code == 2 and "not a PEM public key" in out
    code, out = _verify(tmp_path, None)  # a folder without a manifest: invalid, not usage
    assert code == 1 and "manifest.json: missing" in out


def test_a_tampered_recording_is_exported_and_flagged(run: Run, keys: Keys, tmp_path: Path) -> None:
    copy = tmp_path / "tampered.sqlite"
    src, dst = sqlite3.connect(run.path), sqlite3.connect(copy)
    try:
        src.backup(dst)
        payload = bytearray(dst.execute("SELECT payload FROM raw WHERE seq = 10").fetchone()[0])
        payload[-1] ^= 0x01
        dst.execute("UPDATE raw SET payload = ? WHERE seq = 10", (bytes(payload),))
        dst.commit()
    finally:
        src.close()
        dst.close()
    out = tmp_path / "package"
    result = runner.invoke(
        app,
        ["evidence", "export", str(copy), "--from", "0", "--to", "30", "--out", str(out),
         "--key", str(keys.private)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "does not verify" in result.output and "raw chain BROKEN at seq 10" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["recording_chain"]["verification"]["intact"] is False
    assert "NOT INTACT" in (out / "README.txt").read_text()
    code, text = _verify(out, keys.public)  # the package itself is intact, and says what it holds
    assert code == 0
    assert "recording verified NOT INTACT" in text
    report = tmp_path / "report"
    result = runner.invoke(
        app,
        ["report", "clear-sky", str(copy), "--zone", ZONE, "--to", "30", "--out", str(report),
         "--key", str(keys.private)],
    )  # fmt: skip
    assert result.exit_code == 1 and "does not verify" in result.output
    assert (
        json.loads((report / "manifest.json").read_text())["recording_chain"]["verification"][
            "intact"
        ]
        is False
    )
