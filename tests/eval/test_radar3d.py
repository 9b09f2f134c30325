"""The 3D radar benchmark scenario: what it promises about its targets, plots and clutter."""

import json
import math

import numpy as np

from luchtwacht.eval.radar3d import (
    clutter_density_m3,
    clutter_density_polar,
    generate,
    polar_of,
)


def test_polar_of_hand_worked():
    # 300 m east, 400 m north, 1200 m up, moving straight away at 13 m/s.
    state = np.array([[300.0, 400.0, 1200.0, 3.0, 4.0, 12.0]])
    az, el, r, rdot = polar_of(state)[0]
    assert math.isclose(az, math.atan2(300, 400))
    assert math.isclose(el, math.atan2(1200, 500))
    assert math.isclose(r, 1300.0)
    assert math.isclose(rdot, 13.0)


def test_same_seed_same_scenario_and_another_seed_another():
    a, b = generate(6, n_scans=30), generate(6, n_scans=30)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c = generate(6, n_scans=30, seed=7)
    assert not np.array_equal(a["meas_polar"], c["meas_polar"])


def test_plots_scatter_around_the_truth_as_stated_and_clutter_is_as_frequent():
    d = generate(40, n_scans=60)
    p = json.loads(str(d["params_json"]))
    tid, scan = d["meas_truth_id"], d["meas_scan"]
    target = tid >= 0
    truth_key = {
        (int(s), int(i)): k
        for k, (s, i) in enumerate(zip(d["truth_scan"], d["truth_id"], strict=True))
    }
    rows = np.array(
        [truth_key[(int(s), int(i))] for s, i in zip(scan[target], tid[target], strict=True)]
    )
    err = d["meas_polar"][target] - polar_of(d["truth_state"][rows])
    err[:, 0] = np.angle(np.exp(1j * err[:, 0]))
    sig = np.array([p["sigma_az_rad"], p["sigma_el_rad"], p["sigma_r_m"], p["sigma_rdot_ms"]])
    np.testing.assert_allclose(err.std(axis=0) / sig, 1.0, atol=0.1)
    # PD 0.9 of the truth inside the radar's range band
    r = polar_of(d["truth_state"])[:, 2]
    inside = (r >= p["range_m"][0]) & (r <= p["range_m"][1])
    assert abs(target.sum() / inside.sum() - p["pd"]) < 0.03
    n_fa = int((~target).sum())
    expected = p["clutter_rate"] * p["n_scans"]
    assert abs(n_fa - expected) < 5 * math.sqrt(expected)
    fa = d["meas_polar"][~target]
    assert (fa[:, 2] >= p["range_m"][0]).all() and (fa[:, 2] <= p["range_m"][1]).all()


def test_targets_turn_speed_up_and_climb():
    d = generate(30, n_scans=80)
    state, tid = d["truth_state"], d["truth_id"]
    turn_rates, climbs, speed_changes = [], [], []
    for i in np.unique(tid):
        s = state[tid == i]
        heading = np.unwrap(np.arctan2(s[:, 3], s[:, 4]))
        turn_rates.append(np.abs(np.diff(heading)).max())
        climbs.append(np.abs(s[:, 5]).max())
        speed = np.hypot(s[:, 3], s[:, 4])
        speed_changes.append(np.abs(np.diff(speed)).max())
    assert max(turn_rates) > 0.2  # rad per 1 s scan
    assert max(climbs) > 1.0
    assert max(speed_changes) > 1.0
    speed_all = np.hypot(state[:, 3], state[:, 4])
    assert speed_all.max() < 50.0
    assert speed_all.min() > 1.0


def test_clutter_densities_integrate_to_the_clutter_rate():
    p = json.loads(str(generate(1, n_scans=2)["params_json"]))
    r_lo, r_hi = p["range_m"]
    el_lo, el_hi = p["clutter_el_rad"]
    polar_volume = 2 * math.pi * (el_hi - el_lo) * (r_hi - r_lo)
    assert math.isclose(clutter_density_polar(p, False) * polar_volume, p["clutter_rate"])
    span = 2 * p["clutter_rdot_ms"]
    assert math.isclose(clutter_density_polar(p, True) * polar_volume * span, p["clutter_rate"])
    volume = 2 * math.pi * (math.sin(el_hi) - math.sin(el_lo)) * (r_hi**3 - r_lo**3) / 3
    assert math.isclose(clutter_density_m3(p) * volume, p["clutter_rate"])
