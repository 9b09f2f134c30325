#!/usr/bin/env python3
"""IMM scan kernels single-threaded against numba-parallel, with the other cores idle and busy.

One scan here is what the tracker's IMM does per radar scan: the interaction and prediction of
every track (:func:`~luchtwacht.tracking.imm_kernels.imm_predict_inplace`, NCV/CA/CT, 1 s step)
and the model-conditioned EKF update of every track with a radar plot in (az, el, r)
(:func:`~luchtwacht.tracking.imm_kernels.imm_update_inplace`). For each track count it times
the serial kernels, the parallel ones (numba ``prange`` over chunks of tracks) and the automatic
choice (:func:`~luchtwacht.tracking.imm_kernels.runs_parallel`, threshold
``PARALLEL_MIN_TRACKS``), first as the machine is, then with a process spinning on every core
but one (``--busy``, default 1 spinner) — the case where a parallel loop's threads wait on
each other. Figures are medians of ``--scans`` scans, side by side in one run, with the load
average next to them; state is copied before each scan outside the timer.

Run: ``.venv/bin/python bench/tracking_threads.py [--tracks 10 100 1000 5000] [--scans 40]``.

Measured 2026-12-07 on the shared 2-core AMD EPYC VM (load average 5–7 from other work, so all
figures are inflated; the ratios are what chose the threshold) — see the report of issue #17.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np
from numpy.typing import NDArray

from luchtwacht.tracking import imm_kernels as k

F64 = NDArray[np.float64]
MODELS = np.array([k.MODEL_NCV, k.MODEL_CA, k.MODEL_CT], np.int64)
Q = np.array([0.5, 2.0, 0.5])
PI = np.array([[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.1, 0.05, 0.85]])
SENSOR = np.array([0.0, 0.0, 10.0])


def state(n: int, seed: int = 1) -> tuple[F64, F64, F64, F64, F64]:
    """IMM state of n tracks (xm, pm, mu) and one radar plot (az, el, r) per track (z, r)."""
    rng = np.random.default_rng(seed)
    xm = np.zeros((n, 3, 9))
    xm[:, :, :3] = rng.uniform(-3000, 3000, (n, 1, 3)) + rng.normal(0, 5, (n, 3, 3))
    xm[:, :, 2] = np.abs(xm[:, :, 2]) + 50.0
    xm[:, :, 3:6] = rng.normal(0, 15, (n, 1, 3)) + rng.normal(0, 1, (n, 3, 3))
    a = rng.normal(size=(n * 3, 9, 9)) * 3.0
    pm = (a @ np.swapaxes(a, -1, -2) + np.eye(9) * 9.0).reshape(n, 3, 9, 9)
    mu = rng.dirichlet(np.ones(3), n)
    d = xm[:, 0, :3] + xm[:, 0, 3:6] - SENSOR
    horizontal = np.hypot(d[:, 0], d[:, 1])
    z = np.column_stack(
        [np.arctan2(d[:, 0], d[:, 1]), np.arctan2(d[:, 2], horizontal), np.linalg.norm(d, axis=1)]
    )
    r = np.broadcast_to(np.diag([1e-4, 1e-4, 25.0]), (n, 3, 3)).copy()
    return xm, pm, mu, z, r


Kernels = tuple[Callable[..., None], Callable[..., F64]]
PATHS: dict[str, Kernels] = {
    "serial": (k._imm_predict_serial, k._imm_update_serial),
    "parallel": (k._imm_predict_parallel, k._imm_update_parallel),
    "auto": (k.imm_predict_inplace, k.imm_update_inplace),
}


def scan_ms(n: int, kernels: Kernels, scans: int) -> float:
    """Median wall time of one scan (predict all, update all) over ``scans`` scans, in ms."""
    predict, update = kernels
    xm0, pm0, mu0, z, r = state(n)
    rows = np.arange(n, dtype=np.int64)
    dt = np.ones(n)
    times = []
    for _ in range(scans):
        xm, pm, mu = xm0.copy(), pm0.copy(), mu0.copy()
        x6, p6 = np.zeros((n, 6)), np.zeros((n, 6, 6))
        t0 = time.perf_counter()
        predict(xm, pm, mu, dt, PI, MODELS, Q, 0.05, 1.0, x6, p6)
        update(xm, pm, mu, rows, z, r, k.KIND_RADAR, SENSOR, x6, p6)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def spin() -> None:
    """Keep one core busy (another process's work) until terminated."""
    while True:
        pass


def table(tracks: list[int], scans: int, label: str) -> dict[int, dict[str, float]]:
    """Time every path at every size; print one block of the table."""
    load = os.getloadavg()[0]
    print(f"\n{label} (load average {load:.2f}, numba threads {numba.get_num_threads()})")
    print(f"{'tracks':>7s} {'serial ms':>10s} {'parallel ms':>12s} {'auto ms':>9s}  picks")
    out: dict[int, dict[str, float]] = {}
    for n in tracks:
        out[n] = {name: scan_ms(n, kernels, scans) for name, kernels in PATHS.items()}
        pick = "parallel" if k.runs_parallel(n) else "serial"
        row = out[n]
        print(f"{n:7d} {row['serial']:10.3f} {row['parallel']:12.3f} {row['auto']:9.3f}  {pick}")
    return out


def main() -> None:
    """Warm up, time idle and busy, print the table and the crossover."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, nargs="+", default=[10, 100, 1000, 5000])
    ap.add_argument("--scans", type=int, default=40, help="scans per figure (median kept)")
    ap.add_argument("--busy", type=int, default=1, help="spinning processes in the busy run")
    args = ap.parse_args()
    k.warm_up()
    for kernels in PATHS.values():  # first calls at each size outside the figures
        scan_ms(16, kernels, 2)
    print(f"threshold PARALLEL_MIN_TRACKS = {k.PARALLEL_MIN_TRACKS}; {os.cpu_count()} cores")
    idle = table(args.tracks, args.scans, "as the machine is")
    ctx = mp.get_context("spawn")
    spinners = [ctx.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        time.sleep(0.5)
        busy = table(args.tracks, args.scans, f"with {args.busy} core(s) kept busy")
    finally:
        for p in spinners:
            p.terminate()
            p.join()
    print("\nparallel / serial time (below 1: parallel wins)")
    for n in args.tracks:
        print(
            f"{n:7d}  idle {idle[n]['parallel'] / idle[n]['serial']:6.2f}"
            f"  busy {busy[n]['parallel'] / busy[n]['serial']:6.2f}"
        )


if __name__ == "__main__":
    main()
