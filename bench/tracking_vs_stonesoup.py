#!/usr/bin/env python3
"""Luchtwacht's tracker against Stone Soup and the clairvoyant bound, in one process.

For each shared benchmark scenario (``../shared/bench/scenarios/scen_{10,100,1000}.npz``, and
with ``--with-5000`` one generated with 5000 targets by the shared generator) this runs

* the Luchtwacht tracker exactly as ``luchtwacht track`` does (:mod:`luchtwacht.commands.track`:
  one batch per scan, tracker defaults with the scenario's q), timing ``Tracker.process`` alone;
* Stone Soup with the configuration of ``../shared/bench/run_stonesoup.py`` (its
  ``build_tracker`` is imported and driven the way its ``main`` drives it: detections built
  outside the timer, ``next(tracker)`` timed per scan, the same per-run time budget): plain GNN
  up to ``--plain-gnn-max`` targets (8 s/scan at 1000 targets on this class of machine) and the
  kd-tree GNN for every size;
* the clairvoyant bound of ``../shared/bench/oracle_gospa.py`` (a Kalman filter per true target
  told which detections are its own, confirmed after 2 of them), replicated below statement for
  statement because that file is a script with no functions to import (on the three shared
  scenarios the replica gives the script's means to the last printed digit);
* a second bound, "online bound": the same per-target filters, told their own detections but
  not when their target dies. They learn it as an online tracker must, from misses, with every
  advantage it could have: the generator's own lifetime law (``min_life``/``max_life``) for the
  death hazard at each age and the region's edge for exits. The shared bound removes a track at
  the very scan its target dies, which no online tracker can know, so an online tracker's gap to
  the shared bound cannot close below this one's (1.06×, 1.11×, 1.10× on the shared files);
* the Luchtwacht run's hindsight outputs (``luchtwacht track --output history|smoothed``,
  :mod:`luchtwacht.tracking.history`): the same tracks as the track store holds them once the
  run is over, each confirmed track from its first plot to its last, and RTS-smoothed. They are
  the same family as ``run_stonesoup.py``'s "retro" scoring (below), not the live picture;

then scores everything with :func:`luchtwacht.eval.metrics.gospa_over_scans` (c = 50 m, p = 2,
α = 2 on (x, y), averaged over the scans run, as the shared README) and prints one table.

Two GOSPA columns for Stone Soup, because ``run_stonesoup.py`` scores something an online
tracker cannot report: every state of every track that was *ever* confirmed, which includes the
states a track had while it was still held by the initiator (scored at their own scans,
retroactively) and the coasted predictions up to its deletion. "GOSPA" is the online score (the
tracks the tracker returns after scan k, at scan k), which is what Luchtwacht's CSV holds and what
the Luchtwacht column means; "GOSPA retro" is ``run_stonesoup.py``'s own convention (the README's
figures), recomputed here and checked against its ``gospa_own``.

Usage::

    .venv/bin/python bench/tracking_vs_stonesoup.py [--targets 10 100 1000] [--with-5000]
        [--scans K] [--skip-stonesoup-over N] [--plain-gnn-max N] [--json OUT]

Needs ``pip install stonesoup==1.9.1`` (the ``bench`` extra) for the Stone Soup rows; without it
the Luchtwacht and bound rows are still printed.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import scipy
from numpy.typing import NDArray

from luchtwacht.commands.track import Output, load_scenario, run_tracker
from luchtwacht.eval.metrics import GospaSeries, gospa_over_scans
from luchtwacht.tracking.tracker import TrackerConfig, logit

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = ROOT.parent / "shared" / "bench"
C_M, P = 50.0, 2.0
T0 = datetime.datetime(2025, 1, 1)  # run_stonesoup.T0


@dataclass
class Row:
    """One tracker on one scenario."""

    n_targets: int
    tracker: str
    scans: int
    scans_total: int
    scan_s: F64 = field(default_factory=lambda: np.empty(0))
    gospa: GospaSeries | None = None
    gospa_retro: float | None = None
    tracks_confirmed: int | None = None
    note: str = ""

    @property
    def median_s(self) -> float:
        return float(np.median(self.scan_s)) if self.scan_s.size else float("nan")

    @property
    def p99_s(self) -> float:
        return float(np.percentile(self.scan_s, 99)) if self.scan_s.size else float("nan")


def load_module(path: Path, name: str) -> ModuleType:
    """Import a script from ../shared/bench by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def truth_xy(d: Any, n_scans: int) -> tuple[I64, F64]:
    """Scan and (x, y) of every true state before ``n_scans`` (truth_state is [x, vx, y, vy])."""
    tsc = np.asarray(d["truth_scan"], dtype=np.int64)
    keep = tsc < n_scans
    return tsc[keep], np.asarray(d["truth_state"])[keep][:, [0, 2]]


# --- Luchtwacht ----------------------------------------------------------------------------------


LW_ROWS = {
    Output.online: ("luchtwacht gnn", ""),
    Output.history: ("luchtwacht history", "hindsight: confirmed tracks, first to last plot"),
    Output.smoothed: ("luchtwacht smoothed", "hindsight, RTS-smoothed"),
    Output.retro: ("luchtwacht retro", "run_stonesoup.py's rule: coasts up to deletion too"),
}


def run_luchtwacht(
    path: Path, n_targets: int, k: int, truth: tuple[I64, F64], output: Output = Output.online
) -> Row:
    """``luchtwacht track --output …``: the same tracker run, scored on the chosen rows."""
    scen = load_scenario(path)  # detections and params only, as the CLI
    run = run_tracker(scen, n_scans=k, output=output)
    g = gospa_over_scans(*truth, run.scan, run.state[:, :2], n_scans=k, c=C_M, p=P)
    name, note = LW_ROWS[output]
    return Row(n_targets, name, k, scen.n_scans, run.scan_s, g, None, run.tracks_confirmed, note)


# --- Stone Soup (run_stonesoup.py's configuration) -----------------------------------------------


def run_stonesoup(
    rs: ModuleType,
    d: Any,
    p: dict[str, Any],
    assoc: str,
    k_scans: int,
    kd_radius: float,
    time_budget: float,
    truth: tuple[I64, F64],
) -> Row:
    """``run_stonesoup.main`` for one association, keeping per-scan output for both scorings."""
    from stonesoup.types.detection import Detection  # type: ignore[import-untyped]

    ms, mxy = d["meas_scan"], d["meas_xy"]
    order = np.argsort(ms, kind="stable")
    bounds = np.searchsorted(ms[order], np.arange(k_scans + 1))
    scans = []
    for k in range(k_scans):
        ts = T0 + datetime.timedelta(seconds=k * p["dt"])
        idx = order[bounds[k] : bounds[k + 1]]
        scans.append((ts, {Detection(mxy[i].reshape(2, 1), timestamp=ts) for i in idx}))
    tracker = rs.build_tracker(p, iter(scans), assoc, kd_radius)
    mm = tracker.updater.measurement_model
    for _, dets in scans:
        for det in dets:
            det.measurement_model = mm

    per_scan: list[float] = []
    online_scan: list[int] = []
    online_xy: list[list[float]] = []
    all_tracks: set[Any] = set()
    it = iter(tracker)
    t_start = time.perf_counter()
    for k in range(k_scans):
        t0 = time.perf_counter()
        ts, tracks = next(it)
        per_scan.append(time.perf_counter() - t0)
        all_tracks |= tracks
        for tr in tracks:  # online output: each returned track's state at this scan
            s = tr.state
            if s.timestamp == ts:
                online_scan.append(k)
                online_xy.append([float(s.state_vector[0, 0]), float(s.state_vector[2, 0])])
        if time.perf_counter() - t_start > time_budget:
            break
    done = len(per_scan)

    # run_stonesoup.py's scoring: every state of every track ever returned.
    retro_scan: list[int] = []
    retro_xy: list[list[float]] = []
    for tr in all_tracks:
        for s in tr.states:
            k = round((s.timestamp - T0).total_seconds() / p["dt"])
            if k < done:
                retro_scan.append(k)
                retro_xy.append([float(s.state_vector[0, 0]), float(s.state_vector[2, 0])])
    tsc, txy = truth[0], truth[1]
    in_done = tsc < done
    retro = gospa_over_scans(tsc[in_done], txy[in_done], retro_scan, retro_xy, done, C_M, P)
    # Cross-check with run_stonesoup.gospa_own itself (must agree to rounding): every scan up to
    # 1000 targets, 10 evenly spaced scans above (its dense assignment takes seconds there).
    rs_xy = np.array(retro_xy).reshape(-1, 2)
    rs_scan = np.array(retro_scan, dtype=np.int64)
    check = range(done) if p["n_targets"] <= 1000 else np.linspace(0, done - 1, 10).astype(int)
    for k in check:
        own = rs.gospa_own(txy[tsc == k], rs_xy[rs_scan == k], C_M, P)[0]
        if not np.isclose(own, retro.distance[k], rtol=1e-9, atol=1e-9):
            raise AssertionError(f"scan {k}: run_stonesoup.gospa_own {own} != {retro.distance[k]}")
    online = gospa_over_scans(
        tsc[in_done], txy[in_done], online_scan, online_xy, n_scans=done, c=C_M, p=P
    )
    note = "" if done == k_scans else f"time budget: {done}/{k_scans} scans"
    return Row(
        int(p["n_targets"]),
        f"stonesoup {assoc}",
        done,
        int(p["n_scans"]),
        np.array(per_scan),
        online,
        retro.mean,
        len(all_tracks),
        note,
    )


# --- clairvoyant bound (oracle_gospa.py, replicated) ---------------------------------------------


def survival(p: dict[str, Any], age: int) -> float:
    """P(a target of this age in scans lives one more scan), by the generator's lifetime law.

    Lifetimes are uniform integers in [min_life, max_life]; S(a) = P(life > a). Scenarios
    without those keys get the tracker's exponential law (mean life ``TrackerConfig``'s).
    """
    if "min_life" not in p or "max_life" not in p:
        return math.exp(-float(p["dt"]) / TrackerConfig().mean_life_s)
    lo, hi = int(p["min_life"]), int(p["max_life"])

    def s_of(a: int) -> float:
        return min(max(hi - max(a, lo - 1), 0), hi - lo + 1) / (hi - lo + 1)

    before = s_of(age - 1)
    return s_of(age) / before if before > 0 else 0.0


def oracle(d: Any, p: dict[str, Any], k_scans: int, causal: bool = False) -> Row:
    """``oracle_gospa.py`` statement for statement, scored with :mod:`luchtwacht.eval.metrics`.

    With ``causal`` the filters are still told which detections are their own, but not when
    their target dies: like any online tracker they learn it from misses. Each keeps an
    existence probability: survival per scan from the generator's lifetime law at the track's
    age (:func:`survival`), hit odds ×(L + 1 − PD) with L from the 2D innovation and the
    scenario's clutter density, ×(1 − PD) per miss; it is reported while it has two detections
    and existence ≥ ``report_existence`` (½, the GOSPA break-even of a miss against a false
    track), and dropped below ``delete_existence`` or once its estimate leaves the region.
    """
    cfg = TrackerConfig()
    (x0, x1), (y0, y1) = p["region"]
    ln_beta = math.log(max(float(p["clutter_rate"]) / max((x1 - x0) * (y1 - y0), 1.0), 1e-30))
    ln_miss = math.log1p(-float(p["pd"]))
    report, delete = logit(cfg.report_existence), logit(cfg.delete_existence)
    score: dict[int, float] = {}
    born: dict[int, int] = {}
    dt, q, s = p["dt"], p["q"], p["sigma"]
    f1 = np.array([[1, dt], [0, 1]])
    q1 = q * np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    f, qm = np.kron(np.eye(2), f1), np.kron(np.eye(2), q1)
    h = np.zeros((2, 4))
    h[0, 0] = h[1, 2] = 1
    r = s**2 * np.eye(2)
    meas_scan, meas_xy, meas_tid = d["meas_scan"], d["meas_xy"], d["meas_truth_id"]
    tsc, tid_all, tstate = d["truth_scan"], d["truth_id"], d["truth_state"]
    est: dict[int, tuple[F64, F64, int]] = {}
    y_scan: list[int] = []
    y_xy: list[F64] = []
    for k in range(k_scans):
        for tid in list(est):
            x, pp, n = est[tid]
            est[tid] = (f @ x, f @ pp @ f.T + qm, n)
            r_ex = min(survival(p, k - born[tid]) / (1.0 + math.exp(-score[tid])), 1.0 - 1e-12)
            score[tid] = math.log(max(r_ex, 1e-300)) - math.log1p(-r_ex)
        hit: set[int] = set()
        m = meas_scan == k
        for z, tid in zip(meas_xy[m], meas_tid[m].tolist(), strict=True):
            if tid < 0:
                continue
            hit.add(tid)
            if tid not in est:
                est[tid] = (
                    np.array([z[0], 0, z[1], 0.0]),
                    np.diag([s**2, 30.0**2, s**2, 30.0**2]),
                    1,
                )
                score[tid] = logit(cfg.init_existence)
                born[tid] = k
                continue
            x, pp, n = est[tid]
            sm = h @ pp @ h.T + r
            nu = z - h @ x
            ln_l = (
                math.log(float(p["pd"])) - ln_beta - math.log(2.0 * math.pi)
                - 0.5 * (float(nu @ np.linalg.solve(sm, nu)) + math.log(np.linalg.det(sm)))
            )  # fmt: skip
            score[tid] += float(np.logaddexp(ln_l, ln_miss))
            kg = pp @ h.T @ np.linalg.inv(sm)
            x = x + kg @ (z - h @ x)
            pp = (np.eye(4) - kg @ h) @ pp
            est[tid] = (x, pp, n + 1)
        alive = set(tid_all[tsc == k].tolist())
        for tid in list(est):
            if causal and tid not in hit:
                score[tid] += ln_miss
            x = est[tid][0]
            gone = score[tid] < delete or not (x0 <= x[0] <= x1 and y0 <= x[2] <= y1)
            if (causal and gone) or (not causal and tid not in alive):
                del est[tid]
        for tid, e in est.items():
            if e[2] >= 2 and (not causal or score[tid] >= report):
                y_scan.append(k)
                y_xy.append(e[0][[0, 2]])
    tk = tsc < k_scans
    g = gospa_over_scans(
        tsc[tk], tstate[tk][:, [0, 2]], y_scan, np.array(y_xy).reshape(-1, 2), k_scans, C_M, P
    )
    name = "online bound" if causal else "clairvoyant bound"
    return Row(int(p["n_targets"]), name, k_scans, int(p["n_scans"]), gospa=g)


# --- report --------------------------------------------------------------------------------------


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or not np.isfinite(v) else format(v, spec)


def print_table(rows: list[Row]) -> None:
    """One line per tracker and scenario, with speed and GOSPA ratios.

    Speed against the Luchtwacht online run; every GOSPA against the clairvoyant bound.
    """
    head = (
        f"{'N':>5} {'tracker':<21} {'scans':>7} {'med s/scan':>10} {'p99 s/scan':>10} "
        f"{'SS/LW med':>9} {'SS/LW p99':>9} {'GOSPA':>7} {'÷bound':>6} {'retro':>7} "
        f"{'÷bound':>6} {'miss/sc':>8} {'false/sc':>8} {'loc rms':>7} {'tracks':>7}  note"
    )
    print(head)
    print("-" * len(head))
    lw = {r.n_targets: r for r in rows if r.tracker == LW_ROWS[Output.online][0]}
    bound = {
        r.n_targets: r.gospa.mean for r in rows if r.tracker == "clairvoyant bound" and r.gospa
    }
    for r in rows:
        ref = lw.get(r.n_targets)
        is_ss = r.tracker.startswith("stonesoup") and ref is not None and r.scan_s.size
        ratio_med = r.median_s / ref.median_s if is_ss and ref else None
        ratio_p99 = r.p99_s / ref.p99_s if is_ss and ref else None
        g = r.gospa
        b = bound.get(r.n_targets)
        over = g.mean / b if g and b else None
        retro_over = r.gospa_retro / b if r.gospa_retro is not None and b else None
        print(
            f"{r.n_targets:>5} {r.tracker:<21} {f'{r.scans}/{r.scans_total}':>7} "
            f"{fmt(r.median_s, '.5f'):>10} {fmt(r.p99_s, '.5f'):>10} "
            f"{fmt(ratio_med, '.1f'):>9} {fmt(ratio_p99, '.1f'):>9} "
            f"{fmt(g.mean if g else None, '.1f'):>7} {fmt(over, '.3f'):>6} "
            f"{fmt(r.gospa_retro, '.1f'):>7} {fmt(retro_over, '.3f'):>6} "
            f"{fmt(g.mean_missed_per_scan if g else None, '.2f'):>8} "
            f"{fmt(g.mean_false_per_scan if g else None, '.2f'):>8} "
            f"{fmt(g.mean_localisation if g else None, '.2f'):>7} "
            f"{fmt(r.tracks_confirmed, 'd') if r.tracks_confirmed is not None else '-':>7}  "
            f"{r.note}"
        )


def machine_note() -> str:
    versions = f"numpy {np.__version__}, scipy {scipy.__version__}"
    try:
        import stonesoup  # type: ignore[import-untyped]

        versions += f", stonesoup {stonesoup.__version__}"
    except ImportError:
        pass
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {versions}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, nargs="*", default=[10, 100, 1000])
    ap.add_argument("--with-5000", action="store_true", help="also a generated 5000-target run")
    ap.add_argument("--scans", type=int, default=None, help="only the first K scans of each run")
    ap.add_argument("--skip-stonesoup-over", type=int, default=None, metavar="N")
    ap.add_argument(
        "--plain-gnn-max",
        type=int,
        default=100,
        metavar="N",
        help="run Stone Soup's plain GNN only up to N targets (kd-tree GNN always)",
    )
    ap.add_argument("--kd-radius", type=float, default=300.0)
    ap.add_argument(
        "--time-budget",
        type=float,
        default=300.0,
        help="Stone Soup tracking seconds per run before it stops (as run_stonesoup)",
    )
    ap.add_argument("--shared-bench", type=Path, default=SHARED_BENCH)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()

    try:
        rs: ModuleType | None = load_module(a.shared_bench / "run_stonesoup.py", "run_stonesoup")
    except ImportError as exc:
        rs = None
        print(f"Stone Soup rows skipped: {exc}", file=sys.stderr)

    paths = [(n, a.shared_bench / "scenarios" / f"scen_{n}.npz") for n in a.targets]
    tmp = tempfile.TemporaryDirectory()
    if a.with_5000:
        gen = load_module(a.shared_bench / "gen_scenario.py", "gen_scenario")
        out, _ = gen.generate(5000)
        path = Path(tmp.name) / "scen_5000.npz"
        np.savez_compressed(path, **out)
        paths.append((5000, path))

    print(f"machine: {machine_note()}", flush=True)
    rows: list[Row] = []
    for n, path in paths:
        with np.load(path) as npz:
            d = {key: npz[key] for key in npz.files}
        p = json.loads(str(d["params_json"]))
        k = p["n_scans"] if a.scans is None else min(a.scans, p["n_scans"])
        truth = truth_xy(d, k)
        gc.collect()
        lw = run_luchtwacht(path, n, k, truth)
        rows.append(lw)
        rows += [
            run_luchtwacht(path, n, k, truth, o)
            for o in (Output.history, Output.smoothed, Output.retro)
        ]
        print(f"  {n}: luchtwacht done", file=sys.stderr, flush=True)
        skip = a.skip_stonesoup_over is not None and n > a.skip_stonesoup_over
        if rs is not None and not skip:
            for assoc in ("gnn", "gnn_kdtree"):
                if assoc == "gnn" and n > a.plain_gnn_max:
                    continue
                gc.collect()
                row = run_stonesoup(rs, d, p, assoc, k, a.kd_radius, a.time_budget, truth)
                if row.scans < k and lw.gospa is not None:  # partial run: compare like with like
                    same = lw.gospa.distance[: row.scans].mean()
                    row.note += f"; Luchtwacht GOSPA over the same scans {same:.1f}"
                rows.append(row)
                print(f"  {n}: stonesoup {assoc} done", file=sys.stderr, flush=True)
                gc.collect()
        rows.append(oracle(d, p, k))
        rows.append(oracle(d, p, k, causal=True))
    tmp.cleanup()

    print()
    print_table(rows)
    print(
        "\nSS/LW: Stone Soup seconds per scan / Luchtwacht seconds per scan (same process). "
        "GOSPA: c = 50 m, p = 2, α = 2 on (x, y), mean over scans of the tracks output at each "
        "scan (for the Luchtwacht history/smoothed rows: the rows that output holds); retro: "
        "run_stonesoup.py's convention (every state of every track ever confirmed, incl. "
        "pre-confirmation states and coasts up to deletion), checked equal to its gospa_own. "
        "÷bound: divided by the clairvoyant bound. loc rms: √(Σ d² / Σ assigned pairs). "
        "tracks: tracks ever confirmed."
    )
    if a.json is not None:
        a.json.write_text(
            json.dumps(
                [
                    {
                        "n_targets": r.n_targets,
                        "tracker": r.tracker,
                        "scans": r.scans,
                        "median_scan_s": r.median_s,
                        "p99_scan_s": r.p99_s,
                        "gospa_mean": r.gospa.mean if r.gospa else None,
                        "gospa_retro_mean": r.gospa_retro,
                        "missed_per_scan": r.gospa.mean_missed_per_scan if r.gospa else None,
                        "false_per_scan": r.gospa.mean_false_per_scan if r.gospa else None,
                        "localisation_rms_m": r.gospa.mean_localisation if r.gospa else None,
                        "tracks_confirmed": r.tracks_confirmed,
                        "note": r.note,
                    }
                    for r in rows
                ],
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
