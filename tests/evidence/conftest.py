"""One real recording for the evidence tests: a scenario run through the whole pipeline.

Single intruder over Volkel (it enters the runway zone about 114 s in), a second drone passing
well north of the zone, the radar (its range covers the whole zone) dark from 20 s to 45 s
(``outages_s``: it sends nothing) and an acoustic array whose 400 m reach covers part of it,
recorded by the Recorder with a signing key made here, so the export can be signed by the key
that signed the recording.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.store.chain import NodeKey
from luchtwacht.store.recorder import Recorder

ZONE = "EHVK runway"
OUTAGE_S = (20.0, 45.0)
DURATION_S = 150.0

SCENARIO = f"""
name: evidence-test
seed: 11
duration_s: {DURATION_S}
epoch: 2026-06-12T21:30:00Z
site: {{lat: 51.6564, lon: 5.7087, alt_m: 65.0}}
zones:
  - name: {ZONE}
    runway: {{heading_deg: 58.0, half_length_m: 2000.0, half_width_m: 600.0}}
    floor_m: 0.0
    ceiling_m: 500.0
    warn_time_s: 60.0
radars:
  - node_id: 4b1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b5c
    name: EHVK 3D radar
    position: {{bearing_deg: -32.0, distance_m: 300.0, up_m: 10.0}}
    outages_s: [[{OUTAGE_S[0]}, {OUTAGE_S[1]}]]
acoustic_arrays:
  - node_id: 7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b03
    name: Acoustic array runway
    position: {{east_m: 0.0, north_m: 0.0, up_m: 2.0}}
remoteid_receivers:
  - id: rid-ehvk-1
    position: {{bearing_deg: -32.0, distance_m: 300.0, up_m: 10.0}}
    range_m: 3000.0
targets:
  - name: Intruder
    class: drone
    rcs_m2: 0.02
    role: intruder
    path:
      waypoints:
        - {{bearing_deg: 40.0, distance_m: 4000.0, up_m: 90.0}}
        - {{bearing_deg: 40.0, distance_m: 600.0, up_m: 90.0}}
        - {{bearing_deg: 60.0, distance_m: 100.0, up_m: 60.0}}
      speeds_ms: [18.0, 6.0]
  - name: Passer
    class: drone
    rcs_m2: 0.05
    role: intruder
    path:
      waypoints:
        - {{east_m: -3000.0, north_m: 3500.0, up_m: 120.0}}
        - {{east_m: 3000.0, north_m: 3500.0, up_m: 120.0}}
      speeds_ms: [15.0]
"""


@dataclass(frozen=True)
class Keys:
    """The recording node's key pair as PEM files, and another key pair (not the node's)."""

    private: Path
    public: Path
    other_private: Path
    other_public: Path


@dataclass(frozen=True)
class Run:
    """The recording and what the tests need to know about it."""

    path: Path
    start_s: float
    intruder: int  # the track id that entered the zone
    passer: int  # a track that never did


def _write_key(key: NodeKey, folder: Path, name: str) -> tuple[Path, Path]:
    private, public = folder / f"{name}.key.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_pem())
    public.write_bytes(key.public_pem())
    return private, public


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """A node key and a stranger's key, on disk."""
    folder = tmp_path_factory.mktemp("keys")
    private, public = _write_key(NodeKey.generate(), folder, "node")
    other_private, other_public = _write_key(NodeKey.generate(), folder, "other")
    return Keys(private, public, other_private, other_public)


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Run:
    """The scenario run once, recorded and signed with the node key."""
    folder = tmp_path_factory.mktemp("recording")
    scenario_path = folder / "scenario.yaml"
    scenario_path.write_text(SCENARIO, encoding="utf-8")
    scenario = load_scenario_file(scenario_path)
    path = folder / "run.sqlite"
    recorder = Recorder(path, NodeKey.load(keys.private))
    pipeline = Pipeline(scenario, recorder=recorder)
    pipeline.run(scenario.duration_s)
    pipeline.finish()
    recorder.close()
    db = sqlite3.connect(path)
    try:
        start = float(db.execute("SELECT value FROM meta WHERE key = 'start_s'").fetchone()[0])
        inside = {
            int(r[0])
            for r in db.execute(
                "SELECT track_id FROM track WHERE zones_inside LIKE ?", (f"%{ZONE}%",)
            )
        }
        tracks = {int(r[0]) for r in db.execute("SELECT DISTINCT track_id FROM track")}
    finally:
        db.close()
    assert len(inside) == 1, f"expected one track inside the zone, got {inside}"
    outside = sorted(tracks - inside)
    assert outside, "expected the passing drone as a track outside the zone"
    return Run(path, start, inside.pop(), outside[0])
