"""Scenario files: the YAML demo equals ``default_scenario``, errors carry line numbers, and a
hand-written scenario runs through the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.sim.scenario_file import ScenarioFileError, load_scenario_file

REPO = Path(__file__).resolve().parents[2]
DEFAULT_YAML = REPO / "scenarios" / "ehvk-default.yaml"

# Line numbers matter below: the tests edit single lines of this file.
SMALL = """\
name: small
seed: 3
duration_s: 30
epoch: 2026-01-01T00:00:00Z
site: {lat: 51.6564, lon: 5.7087, alt_m: 65.0}
radars:
  - node_id: 0b7d2a8e-5c1f-4e3a-9d6b-2f4e8a1c3b5d
    name: test radar
    position: {bearing_deg: 0.0, distance_m: 0.0, up_m: 10.0}
    false_alarms_per_scan: 0.0
targets:
  - name: Drone
    class: drone
    rcs_m2: 0.05
    role: intruder
    path:
      waypoints:
        - {east_m: 3000.0, north_m: 0.0, up_m: 100.0}
        - {bearing_deg: 90.0, distance_m: 500.0, up_m: 100.0}
      speeds_ms: [15.0]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _replace_line(text: str, line: int, new: str | None) -> str:
    """Replace 1-based ``line`` with ``new`` (or delete it when ``new`` is None)."""
    lines = text.splitlines()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    return "\n".join(lines) + "\n"


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioFileError) as info:
        load_scenario_file(path)
    return str(info.value)


# --- the demo as a file ---------------------------------------------------------------------------


def test_default_yaml_equals_default_scenario() -> None:
    """Zones, sensors and targets of the YAML demo are those of ``default_scenario(seed=7)``.

    The flock is generated from the seed by the same function with the same draws in the same
    order, so the birds are equal exactly, and ``insert_before`` keeps the demo's target order.
    """
    loaded = load_scenario_file(DEFAULT_YAML)
    ref = default_scenario(seed=7)
    assert loaded.name == ref.name
    assert loaded.seed == ref.seed
    assert loaded.duration_s == ref.duration_s
    assert loaded.epoch_s == ref.epoch_s
    assert loaded.origin == ref.origin
    assert loaded.zones == ref.zones
    assert loaded.radars == ref.radars
    assert loaded.remoteid_receivers == ref.remoteid_receivers
    assert [t.name for t in loaded.targets] == [t.name for t in ref.targets]
    for got, want in zip(loaded.targets, ref.targets, strict=True):
        assert got.true_class == want.true_class, got.name
        assert got.rcs_m2 == want.rcs_m2, got.name
        assert got.role == want.role, got.name
        assert got.remote_id == want.remote_id, got.name
        for t in (0.0, 60.0, 120.0):
            a, b = got.path.state(t), want.path.state(t)
            assert (a is None) == (b is None), (got.name, t)
            if a is not None and b is not None:
                assert np.allclose(a[0], b[0], rtol=0.0, atol=1e-6), (got.name, t)
                assert np.allclose(a[1], b[1], rtol=0.0, atol=1e-6), (got.name, t)
    assert loaded == ref  # nothing else differs either


def test_other_seed_gives_other_birds_same_drones(tmp_path: Path) -> None:
    """The seed in the file drives the flock just as ``default_scenario``'s seed does."""
    text = DEFAULT_YAML.read_text(encoding="utf-8").replace("seed: 7 ", "seed: 8 ", 1)
    loaded = load_scenario_file(_write(tmp_path, text))
    ref = default_scenario(seed=8)
    assert loaded.targets == ref.targets
    assert loaded.targets != default_scenario(seed=7).targets


# --- errors name their line -----------------------------------------------------------------------


def test_wrong_type_names_line_and_key(tmp_path: Path) -> None:
    msg = _error(tmp_path, _replace_line(SMALL, 14, "    rcs_m2: plenty"))
    assert msg.startswith(f"{tmp_path / 'scenario.yaml'}:14: targets.0.rcs_m2: ")
    assert "valid number" in msg


def test_wrong_type_inside_a_position_union(tmp_path: Path) -> None:
    """Union tags (polar/enu, waypoints/orbit) do not show up in the key path."""
    bad = "        - {bearing_deg: 90.0, distance_m: far, up_m: 100.0}"
    msg = _error(tmp_path, _replace_line(SMALL, 19, bad))
    assert ":19: targets.0.path.waypoints.1.distance_m: " in msg
    assert msg.count("\n") == 0  # one error, not one per union member


def test_unknown_key_names_its_line(tmp_path: Path) -> None:
    text = _replace_line(SMALL, 13, "    class: drone\n    colour: red")
    msg = _error(tmp_path, text)
    assert ":14: targets.0.colour: Extra inputs are not permitted" in msg


def test_missing_key_names_the_mapping_it_belongs_in(tmp_path: Path) -> None:
    msg = _error(tmp_path, _replace_line(SMALL, 13, None))
    assert ":12: targets.0.class: Field required" in msg


def test_bad_uuid_names_its_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, _replace_line(SMALL, 7, "  - node_id: radar-one"))
    assert ":7: radars.0.node_id: " in msg
    assert "UUID" in msg


def test_model_rule_names_the_entry(tmp_path: Path) -> None:
    """A rule over several keys (one speed per leg) points at the entry that breaks it."""
    msg = _error(tmp_path, _replace_line(SMALL, 20, "      speeds_ms: [15.0, 3.0]"))
    assert ":16: targets.0.path: " in msg
    assert "one per leg" in msg


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    msg = _error(tmp_path, _replace_line(SMALL, 13, "     class: drone"))
    assert msg.startswith(f"{tmp_path / 'scenario.yaml'}:13: not valid YAML: ")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError, match="cannot read"):
        load_scenario_file(tmp_path / "absent.yaml")


# --- a custom scenario runs -----------------------------------------------------------------------


def test_small_scenario_runs_and_tracks_the_drone(tmp_path: Path) -> None:
    scenario = load_scenario_file(_write(tmp_path, SMALL))
    assert len(scenario.radars) == 1 and scenario.radars[0].false_alarms_per_scan == 0.0
    assert scenario.radars[0].max_range_m == 10_000.0  # not given: the RadarConfig default
    pipeline = Pipeline(scenario)
    pipeline.run(30)
    tracks = pipeline.summary()["tracks"]
    assert any(t["class"] == "drone" for t in tracks), tracks


# --- swarms, angle-only sensors, outages, silent drones ------------------------------------------

SENSORS_AND_SWARM = """\
rf_detectors:
  - node_id: 7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b01
    position: {east_m: -1000.0, north_m: 0.0, up_m: 5.0}
    azimuth_std_deg: 3.0
    outages_s: [[10.0, 20.0]]
acoustic_arrays:
  - node_id: 7c1f3c5e-7a9d-4e2b-8c6f-0d1e2f3a4b02
    position: {east_m: 0.0, north_m: 0.0, up_m: 2.0}
swarms:
  - name: Wing
    count: 4
    formation: grid
    spacing_m: 10.0
    emits_rf: false
    path:
      waypoints:
        - {east_m: 0.0, north_m: 2000.0, up_m: 80.0}
        - {east_m: 0.0, north_m: 4000.0, up_m: 80.0}
      speeds_ms: [10.0]
"""


def test_swarms_and_angle_only_sensors_load(tmp_path: Path) -> None:
    text = SMALL.replace(
        "    false_alarms_per_scan: 0.0\n",
        "    false_alarms_per_scan: 0.0\n    outages_s: [[5.0, 6.5]]\n",
    )
    scen = load_scenario_file(_write(tmp_path, text + SENSORS_AND_SWARM))
    assert scen.radars[0].outages_s == ((5.0, 6.5),)
    rf, ac = scen.bearing_sensors
    assert rf.kind == "rf" and rf.azimuth_std_deg == 3.0 and rf.outages_s == ((10.0, 20.0),)
    assert ac.kind == "acoustic" and ac.max_range_m == 400.0  # the acoustic defaults
    wing = [t for t in scen.targets if t.name.startswith("Wing")]
    assert [t.name for t in wing] == ["Wing 1", "Wing 2", "Wing 3", "Wing 4"]
    assert not any(t.emits_rf for t in wing) and all(t.role == "intruder" for t in wing)
    # A 2 x 2 grid flying north, 10 m apart: left/right of the track, second row 10 m behind.
    starts = np.array([t.path.state(0.0)[0] for t in wing])  # type: ignore[index]
    expected = np.array([[-5.0, 2000.0], [5.0, 2000.0], [-5.0, 1990.0], [5.0, 1990.0]])
    np.testing.assert_allclose(starts[:, :2], expected, atol=1.6)  # station-keeping sway 1.5 m


def test_an_outage_that_ends_before_it_starts_names_its_line(tmp_path: Path) -> None:
    text = SMALL + SENSORS_AND_SWARM.replace("[[10.0, 20.0]]", "[[20.0, 10.0]]")
    message = _error(tmp_path, text)
    assert "scenario.yaml:25" in message and "outage" in message


def test_formations_hand_worked() -> None:
    from luchtwacht.sim.scenario import formation_offsets

    east = formation_offsets(3, "line", 10.0, 90.0)  # abreast, flying east: spread north-south
    np.testing.assert_allclose(np.array(east), [[0, 10, 0], [0, 0, 0], [0, -10, 0]], atol=1e-9)
    col = formation_offsets(3, "column", 10.0, 0.0)  # one behind the other, flying north
    np.testing.assert_allclose(np.array(col), [[0, 0, 0], [0, -10, 0], [0, -20, 0]], atol=1e-9)
    vee = np.array(formation_offsets(5, "vee", 10.0, 0.0))
    np.testing.assert_allclose(vee[0], [0, 0, 0])
    assert (vee[1:, 1] < 0).all() and sorted(vee[1:, 0].tolist()) == [-20, -10, 10, 20]
    ring = np.array(formation_offsets(8, "ring", 10.0, 0.0))
    np.testing.assert_allclose(np.hypot(ring[:, 0], ring[:, 1]), 80.0 / (2 * np.pi))
    with pytest.raises(ValueError, match="formation"):
        formation_offsets(3, "blob", 10.0, 0.0)


def test_a_targets_rf_link_is_read_from_the_file():
    from luchtwacht.sim.targets import RfLink

    scen = load_scenario_file(
        Path(__file__).resolve().parents[2] / "scenarios" / "night-raid-camera-degraded.yaml"
    )
    links = {t.name: t.rf_link for t in scen.targets}
    assert links["Night drone 1"] == RfLink(
        "DJI OcuSync 3", "1581F6Z9C23AD00BH4", 5785.0, 20.0, 25.0
    )
    assert links["Night drone 3"] is not None and links["Night drone 3"].serial is None
    assert links["Night drone 2"] is None
