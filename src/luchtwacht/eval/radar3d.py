"""A 3D radar benchmark scenario: manoeuvring drones seen in range, azimuth, elevation and Doppler.

Made the way the shared 2D benchmark is (``../shared/bench/gen_scenario.py``: seeded, targets
born and dying over 100 one-second scans, PD 0.9, Poisson clutter), but for the full 3D
configuration of the tracker: one radar at the site origin measures (az, el, r, ṙ) of drones
that do not fly straight. Each target flies segments of 8–25 s, each one of

* straight and level (nearly-constant velocity),
* a coordinated turn at 0.05–0.35 rad/s either way,
* speeding up or slowing down at 1.5–3 m/s² along its track (only within 3–45 m/s),
* climbing or descending at 1–4 m/s (altitude held within 20–1200 m),

integrated in 0.05 s steps with a little white acceleration noise. The radar sees 200 m–6 km
with σ_az = σ_el = 0.3°, σ_r = 5 m, σ_ṙ = 0.5 m/s; clutter is uniform in azimuth, in
elevation 0–35° and in range, with ṙ uniform in ±30 m/s.

The file layout mirrors the shared one (``params_json``, ``meas_scan``, ``meas_truth_id``,
``truth_scan``, ``truth_id``) with ``meas_polar`` (M, 4) = (az, el, r, ṙ) in radians, metres
and m/s (azimuth clockwise from north, as the tracker's measurement models) and
``truth_state`` (T, 6) = (e, n, u, ve, vn, vu).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

DEFAULTS: dict[str, Any] = {
    "seed": 2026,
    "n_scans": 100,
    "dt": 1.0,
    "pd": 0.9,
    "clutter_rate": 20.0,
    "sigma_az_rad": math.radians(0.3),
    "sigma_el_rad": math.radians(0.3),
    "sigma_r_m": 5.0,
    "sigma_rdot_ms": 0.5,
    "range_m": [200.0, 6000.0],
    "clutter_el_rad": [0.0, math.radians(35.0)],
    "clutter_rdot_ms": 30.0,
    "frac_born_at_start": 0.75,
    "last_birth_scan": 50,
    "min_life": 50,
    "max_life": 100,
    "speed_ms": [3.0, 45.0],
    "alt_m": [20.0, 1200.0],
    "accel_noise_ms2": 0.3,
}

_SUBSTEP_S = 0.05


def polar_of(state: F64) -> F64:
    """(az, el, r, ṙ) of ENU states (N, 6) seen from the origin."""
    e, n, u = state[:, 0], state[:, 1], state[:, 2]
    rng = np.sqrt(e * e + n * n + u * u)
    out = np.empty((state.shape[0], 4))
    out[:, 0] = np.arctan2(e, n)
    out[:, 1] = np.arctan2(u, np.hypot(e, n))
    out[:, 2] = rng
    out[:, 3] = np.einsum("ij,ij->i", state[:, :3], state[:, 3:6]) / rng
    return out


def _fly(rng: np.random.Generator, p: dict[str, Any], n_steps: int) -> F64:
    """One target's states at every scan of its life (n_steps, 6)."""
    r_lo, r_hi = p["range_m"]
    ground = rng.uniform(max(r_lo * 3.0, 600.0), r_hi * 0.8)
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    alt_lo, alt_hi = p["alt_m"]
    x = np.array([ground * math.sin(bearing), ground * math.cos(bearing), rng.uniform(50.0, 600.0)])
    speed = rng.uniform(5.0, 30.0)
    heading = rng.uniform(0.0, 2.0 * math.pi)
    v = np.array([speed * math.sin(heading), speed * math.cos(heading), 0.0])
    sub = round(p["dt"] / _SUBSTEP_S)
    out = np.empty((n_steps, 6))
    seg_left, kind, rate = 0.0, 0, 0.0
    s_lo, s_hi = p["speed_ms"]
    for k in range(n_steps):
        out[k, :3], out[k, 3:] = x, v
        for _ in range(sub):
            if seg_left <= 0.0:
                seg_left = rng.uniform(8.0, 25.0)
                kind = int(rng.integers(0, 4))
                rate = {
                    0: 0.0,
                    1: rng.uniform(0.05, 0.35) * rng.choice([-1.0, 1.0]),
                    2: rng.uniform(1.5, 3.0) * rng.choice([-1.0, 1.0]),
                    3: rng.uniform(1.0, 4.0) * rng.choice([-1.0, 1.0]),
                }[kind]
            seg_left -= _SUBSTEP_S
            a = rng.normal(0.0, p["accel_noise_ms2"], 3)
            if kind == 1:  # coordinated turn: a ⟂ v horizontally, ω anticlockwise from above
                a[0] += -rate * v[1]
                a[1] += rate * v[0]
            elif kind == 2:  # along-track acceleration within the speed band
                hs = math.hypot(v[0], v[1])
                if (rate > 0 and hs < s_hi) or (rate < 0 and hs > s_lo):
                    a[:2] += rate * v[:2] / max(hs, 1e-6)
            v = v + a * _SUBSTEP_S
            v[2] = rate if kind == 3 else 0.9 * v[2]
            if (x[2] < alt_lo and v[2] < 0) or (x[2] > alt_hi and v[2] > 0):
                v[2] = -v[2]
            x = x + v * _SUBSTEP_S
    return out


def generate(n_targets: int, **overrides: Any) -> dict[str, NDArray[Any]]:
    """A scenario with ``n_targets`` targets, as arrays ready for ``np.savez_compressed``."""
    p = {**DEFAULTS, **overrides, "n_targets": n_targets}
    rng = np.random.default_rng(p["seed"])
    k_scans = int(p["n_scans"])
    t_scan, t_id, t_state = [], [], []
    for tid in range(n_targets):
        last_birth = max(min(int(p["last_birth_scan"]), k_scans - 1), 1)
        born = 0 if rng.random() < p["frac_born_at_start"] else int(rng.integers(1, last_birth + 1))
        life = int(rng.integers(p["min_life"], p["max_life"] + 1))
        end = min(born + life, k_scans)
        states = _fly(rng, p, end - born)
        t_scan.append(np.arange(born, end))
        t_id.append(np.full(end - born, tid))
        t_state.append(states)
    truth_scan = np.concatenate(t_scan).astype(np.int32)
    truth_id = np.concatenate(t_id).astype(np.int32)
    truth_state = np.concatenate(t_state)
    polar = polar_of(truth_state)
    r_lo, r_hi = p["range_m"]
    seen = (rng.random(truth_scan.size) < p["pd"]) & (polar[:, 2] >= r_lo) & (polar[:, 2] <= r_hi)
    sig = np.array([p["sigma_az_rad"], p["sigma_el_rad"], p["sigma_r_m"], p["sigma_rdot_ms"]])
    meas = polar[seen] + rng.normal(0.0, 1.0, (int(seen.sum()), 4)) * sig
    meas[:, 0] = np.angle(np.exp(1j * meas[:, 0]))  # azimuth back to (−π, π]
    m_scan = truth_scan[seen]
    m_tid = truth_id[seen]
    n_fa = rng.poisson(p["clutter_rate"], k_scans)
    el_lo, el_hi = p["clutter_el_rad"]
    fa = np.column_stack(
        [
            rng.uniform(-math.pi, math.pi, n_fa.sum()),
            rng.uniform(el_lo, el_hi, n_fa.sum()),
            rng.uniform(r_lo, r_hi, n_fa.sum()),
            rng.uniform(-p["clutter_rdot_ms"], p["clutter_rdot_ms"], n_fa.sum()),
        ]
    )
    fa_scan = np.repeat(np.arange(k_scans), n_fa)
    all_scan = np.concatenate([m_scan, fa_scan]).astype(np.int32)
    all_meas = np.concatenate([meas, fa])
    all_tid = np.concatenate([m_tid, np.full(fa_scan.size, -1)]).astype(np.int32)
    order = np.lexsort((rng.random(all_scan.size), all_scan))  # shuffled within each scan
    return {
        "params_json": np.array(json.dumps(p)),
        "meas_scan": all_scan[order],
        "meas_polar": all_meas[order],
        "meas_truth_id": all_tid[order],
        "truth_scan": truth_scan,
        "truth_id": truth_id,
        "truth_state": truth_state,
    }


def clutter_density_m3(p: dict[str, Any]) -> float:
    """False alarms per m³ per scan, averaged over the clutter volume.

    What a tracker working in ENU would be told; the true density falls off as 1/r².
    """
    r_lo, r_hi = p["range_m"]
    el_lo, el_hi = p["clutter_el_rad"]
    volume = 2.0 * math.pi * (math.sin(el_hi) - math.sin(el_lo)) * (r_hi**3 - r_lo**3) / 3.0
    return float(p["clutter_rate"]) / float(volume)


def clutter_density_polar(p: dict[str, Any], doppler: bool) -> float:
    """False alarms per rad²·m (per rad²·m·m/s with ``doppler``) per scan: flat, as generated."""
    r_lo, r_hi = p["range_m"]
    el_lo, el_hi = p["clutter_el_rad"]
    per = float(p["clutter_rate"]) / float(2.0 * math.pi * (el_hi - el_lo) * (r_hi - r_lo))
    return per / (2.0 * float(p["clutter_rdot_ms"])) if doppler else per
