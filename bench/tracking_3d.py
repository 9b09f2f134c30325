#!/usr/bin/env python3
"""The tracker's full 3D configuration on a 3D radar scenario: IMM + radar EKF against NCV.

Generates, for each size, the scenario of :mod:`luchtwacht.eval.radar3d` (manoeuvring drones,
one radar measuring az/el/range/range-rate, PD 0.9, clutter; the same seed every run), then
tracks the same detections with several configurations of :class:`Tracker`, timing
``Tracker.process`` alone per scan (batches built outside the timer):

* ``imm+ekf``: IMM over NCV, CA and CT, gated and updated in (az, el, r) by the EKF — the full
  3D configuration of the tracking issue;
* ``imm+ekf doppler``: the same with range rate (az, el, r, ṙ);
* ``ncv+ekf``: one NCV model, EKF in (az, el, r);
* ``ncv converted``: one NCV model on the plots converted to ENU (what the tracker does with a
  radar that reports positions).

GOSPA (c = 50 m, p = 2, α = 2) is scored in 3D on (e, n, u) of the tracks reported after each
scan, averaged over the scans, with its missed / false counts and RMS localisation.

Usage::

    .venv/bin/python bench/tracking_3d.py [--targets 10 100 1000] [--with-5000] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from luchtwacht.eval.metrics import gospa_over_scans
from luchtwacht.eval.radar3d import clutter_density_m3, clutter_density_polar, generate
from luchtwacht.geo.frames import aer_covariance_to_enu
from luchtwacht.model.detection import N_CLASSES, DetectionBatch
from luchtwacht.tracking.tracker import Tracker, TrackerConfig

F64 = NDArray[np.float64]

CONFIGS: dict[str, tuple[TrackerConfig, str]] = {
    "imm+ekf": (TrackerConfig(motion="imm"), "polar"),
    "imm+ekf doppler": (TrackerConfig(motion="imm"), "doppler"),
    "ncv+ekf": (TrackerConfig(motion="ncv"), "polar"),
    "ncv converted": (TrackerConfig(motion="ncv"), "enu"),
    "imm+jpda converted": (TrackerConfig(motion="imm", assoc="jpda"), "enu"),
}


def batches(d: dict[str, Any], mode: str) -> list[DetectionBatch]:
    """One batch per scan: converted ENU plots, plus the radar's own (az, el, r[, ṙ])."""
    p = json.loads(str(d["params_json"]))
    sig = np.array([p["sigma_az_rad"], p["sigma_el_rad"], p["sigma_r_m"], p["sigma_rdot_ms"]])
    order = np.argsort(d["meas_scan"], kind="stable")
    bounds = np.searchsorted(d["meas_scan"][order], np.arange(p["n_scans"] + 1))
    out = []
    for k in range(p["n_scans"]):
        pol = d["meas_polar"][order[bounds[k] : bounds[k + 1]]]
        n = pol.shape[0]
        az, el, rng = pol[:, 0], pol[:, 1], pol[:, 2]
        z = np.column_stack(
            [rng * np.cos(el) * np.sin(az), rng * np.cos(el) * np.cos(az), rng * np.sin(el)]
        )
        cov = aer_covariance_to_enu(
            np.degrees(az), np.degrees(el), rng,
            np.full(n, np.degrees(sig[0])), np.full(n, np.degrees(sig[1])), np.full(n, sig[2]),
        )  # fmt: skip
        m = 4 if mode == "doppler" else 3
        polar = None if mode == "enu" else np.ascontiguousarray(pol[:, :m])
        out.append(
            DetectionBatch(
                sensor_id="radar",
                t_s=np.full(n, k * p["dt"]),
                z=z,
                R=cov,
                class_loglik=np.zeros((n, N_CLASSES)),
                scan_t_s=k * p["dt"],
                pd=p["pd"],
                clutter_density_m3=clutter_density_m3(p),
                polar=polar,
                polar_cov=None
                if polar is None
                else np.broadcast_to(np.diag(sig[:m] ** 2), (n, m, m)).copy(),
                sensor_enu_m=None if polar is None else np.zeros(3),
                clutter_density_polar=clutter_density_polar(p, m == 4),
            )
        )
    return out


def run(d: dict[str, Any], name: str) -> dict[str, Any]:
    cfg, mode = CONFIGS[name]
    bs = batches(d, mode)
    tracker = Tracker(dataclasses.replace(cfg))
    times = np.empty(len(bs))
    e_scan: list[NDArray[np.int64]] = []
    e_pos: list[F64] = []
    gc.collect()
    for k, b in enumerate(bs):
        t0 = time.perf_counter()
        tracker.process(b)
        times[k] = time.perf_counter() - t0
        conf = tracker.tracks.confirmed
        e_scan.append(np.full(int(conf.sum()), k))
        e_pos.append(tracker.tracks.x[conf][:, :3])
    g = gospa_over_scans(
        d["truth_scan"], d["truth_state"][:, :3], np.concatenate(e_scan), np.concatenate(e_pos),
        len(bs),
    )  # fmt: skip
    ms = times * 1e3
    return {
        "config": name,
        "scan_ms_median": float(np.median(ms)),
        "scan_ms_p99": float(np.percentile(ms, 99)),
        "gospa_mean": g.mean,
        "missed_per_scan": g.mean_missed_per_scan,
        "false_per_scan": g.mean_false_per_scan,
        "localisation_rms_m": g.mean_localisation,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--with-5000", action="store_true")
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    sizes = [*a.targets, *([5000] if a.with_5000 else [])]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    head = (
        f"{'N':>5} {'config':<16} {'med ms':>7} {'p99 ms':>7} {'GOSPA':>7} "
        f"{'miss/sc':>8} {'false/sc':>8} {'loc rms':>7}"
    )
    rows = []
    for n in sizes:
        d = generate(n)
        for name in a.configs:
            r = run(d, name) | {"n_targets": n}
            rows.append(r)
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['n_targets']:>5} {r['config']:<16} {r['scan_ms_median']:>7.2f} "
            f"{r['scan_ms_p99']:>7.2f} {r['gospa_mean']:>7.1f} {r['missed_per_scan']:>8.2f} "
            f"{r['false_per_scan']:>8.2f} {r['localisation_rms_m']:>7.2f}"
        )
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
