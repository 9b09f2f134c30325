"""The whitelist through the whole pipeline: a Remote ID drone strays towards the runway.

cooperative-hobby.yaml's fourth drone (UAS ID 1581F6ZZC44K00R8M3) flies at the runway zone; the
variants here add effectors and a whitelist or policy. Listed, it stays friendly: no alert, no
recommendation. Unlisted, under the default policy, it is an intruder: alerted as an
unauthorised Remote ID drone and proposed for a countermeasure. Tolerated, it is alerted as a
cooperative drone and never proposed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file

ROOT = Path(__file__).resolve().parents[2]
HOBBY = ROOT / "scenarios" / "cooperative-hobby.yaml"
STRAY = "1581F6ZZC44K00R8M3"
STRAY_OPERATOR = "NLDz9y8x7w6v5u4t"
EFFECTORS = [
    {
        "name": "RF jammer north-west",
        "node_id": "2f6b1c8e-0d3a-4e5f-9a7b-6c5d4e3f2a1b",
        "kind": "rf_jammer",
        "position": {"bearing_deg": 300.0, "distance_m": 600.0, "up_m": 8.0},
        "max_range_m": 1500.0,
        "beamwidth_deg": 90.0,
    },
    {
        "name": "Net launcher runway",
        "node_id": "2f6b1c8e-0d3a-4e5f-9a7b-6c5d4e3f2a1c",
        "kind": "net",
        "position": {"east_m": 0.0, "north_m": 0.0, "up_m": 2.0},
    },
]


def run(tmp_path: Path, **changes: Any) -> Pipeline:
    doc = yaml.safe_load(HOBBY.read_text())
    doc.update(effectors=EFFECTORS, **changes)
    path = tmp_path / "hobby.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    scen = load_scenario_file(path)
    pipe = Pipeline(scen)
    pipe.run(scen.duration_s)
    return pipe


def stray_tracks(pipe: Pipeline) -> set[int]:
    return {r.track_id for r in pipe.records.values() if r.uas_id == STRAY}


def proposed(pipe: Pipeline, tracks: set[int]) -> list[int]:
    assert pipe.counter is not None
    return [r.track_id for r in pipe.counter.recommendations.values() if r.track_id in tracks]


def test_unlisted_remote_id_drone_is_alerted_and_proposed(tmp_path: Path) -> None:
    pipe = run(tmp_path)
    tracks = stray_tracks(pipe)
    assert tracks, "the straying drone is tracked with its Remote ID"
    alerts = [a for a in pipe.alerts.alerts.values() if a.track_id in tracks]
    assert alerts, "an unauthorised Remote ID drone approaching the runway is alerted"
    assert all(f"unauthorised Remote ID drone {STRAY}" in a.message for a in alerts)
    assert proposed(pipe, tracks), "…and proposed for a countermeasure"
    last = pipe.records[max(tracks)].last_view
    assert last is not None and last.coop_intruder and not last.authorised
    assert last.authorisation == "not listed"


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "Runway inspection", "uas_id": STRAY},
        {"name": "Hobby club", "operator_id": STRAY_OPERATOR, "valid_to": "2026-06-13T00:00:00Z"},
    ],
)
def test_a_whitelisted_drone_stays_friendly(tmp_path: Path, entry: dict[str, Any]) -> None:
    pipe = run(tmp_path, authorised=[entry])
    tracks = stray_tracks(pipe)
    assert tracks
    assert not [a for a in pipe.alerts.alerts.values() if a.track_id in tracks]
    assert proposed(pipe, tracks) == []
    last = pipe.records[max(tracks)].last_view
    assert last is not None and last.authorised and last.authorisation == entry["name"]
    assert last.threat.label == "none"
    summary = {t["track_id"]: t for t in pipe.summary()["tracks"]}
    assert {summary[t]["authorisation"] for t in tracks} == {entry["name"]}


def test_an_expired_authorisation_does_not_count(tmp_path: Path) -> None:
    entry = {"name": "Last week", "uas_id": STRAY, "valid_to": "2026-06-05T00:00:00Z"}
    pipe = run(tmp_path, authorised=[entry])
    tracks = stray_tracks(pipe)
    assert proposed(pipe, tracks)
    last = pipe.records[max(tracks)].last_view
    assert last is not None and not last.authorised and last.authorisation == "expired"


def test_tolerated_unlisted_drone_is_alerted_but_never_proposed(tmp_path: Path) -> None:
    pipe = run(tmp_path, policy={"cooperative_unlisted": "tolerated"})
    tracks = stray_tracks(pipe)
    alerts = [a for a in pipe.alerts.alerts.values() if a.track_id in tracks]
    assert alerts and all(f"cooperative drone {STRAY}" in a.message for a in alerts)
    assert proposed(pipe, tracks) == []


def test_a_recording_replays_with_the_whitelist_and_policy_it_was_made_with(
    tmp_path: Path,
) -> None:
    """The whitelist travels with the recording: replay --check of a run where the straying
    drone was listed gives the same (friendly) tracks, no alert and no recommendation."""
    from typer.testing import CliRunner

    from luchtwacht.cli import app
    from luchtwacht.store.recorder import Recorder
    from luchtwacht.store.replay import replay

    doc = yaml.safe_load(HOBBY.read_text())
    doc.update(
        effectors=EFFECTORS,
        authorised=[{"name": "Runway inspection", "uas_id": STRAY}],
        policy={"cooperative_unlisted": "tolerated"},
    )
    path = tmp_path / "hobby.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    scen = load_scenario_file(path)
    rec = tmp_path / "run.sqlite"
    recorder = Recorder(rec)
    pipe = Pipeline(scen, recorder=recorder)
    pipe.run(scen.duration_s)
    recorder.close()
    core = replay(rec)
    assert core.authorisations.policy == "tolerated"
    assert core.authorisations.entries == pipe.authorisations.entries
    check = CliRunner().invoke(app, ["replay", str(rec), "--check"])
    assert check.exit_code == 0, check.output
