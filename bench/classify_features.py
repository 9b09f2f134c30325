"""Classifier features: their spread per true class on simulated scenarios, and their cost.

    .venv/bin/python bench/classify_features.py scenarios/bad-weather.yaml scenarios/birds-only.yaml
    .venv/bin/python bench/classify_features.py --cost

The first form flies each scenario through the pipeline and, at every slow cycle, matches each
confirmed track to the nearest true target within 50 m (the simulator's truth is read here only,
to score; the classifier never sees it) and prints the quantiles of each feature per true class —
what the thresholds in identify/classify.py were set from. ``--cost`` times the feature update
and the classification per cycle over 1000 tracks (a third of them flocking).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from luchtwacht.identify.classify import classify, feature_loglik
from luchtwacht.identify.features import TrackFeatures
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.tracking.tracker import CONFIRMED, TrackTable

FIELDS = (
    "settled_s", "speed_mean_ms", "speed_std_ms", "weave_ms", "weave_sigma", "hover_s", "flown_s",
    "climb_abs_ms", "turn_deg_s", "straightness", "height_std_m", "flock_mean",
)  # fmt: skip


def spread(paths: list[Path], seed: int | None) -> None:
    """Per true class, the 5/50/95 % quantiles of each feature over matched track-cycles."""
    rows: dict[str, list[list[float]]] = defaultdict(list)
    called: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        scen = load_scenario_file(path, seed=seed)
        pipe = Pipeline(scen)

        def observe(q: Pipeline) -> None:
            tt = q.tracker.tracks
            feats = q.features.update(tt, q.now_s)  # idempotent within a cycle
            cls = classify(tt, feats)
            conf = np.flatnonzero(tt.confirmed)
            truth = [(t, t.path.state(q.t_s)) for t in q.targets]
            truth = [(t, s) for t, s in truth if s is not None]
            if not truth or not conf.size:
                return
            tp = np.array([s[0] for _, s in truth])
            for r in conf.tolist():
                d = np.linalg.norm(tp - tt.x[r, :3], axis=1)
                k = int(d.argmin())
                if d[k] > 50.0:
                    continue
                label = truth[k][0].true_class.label
                rows[label].append([float(getattr(feats, f)[r]) for f in FIELDS])
                called[label].append(cls.label(r))

        pipe.run(scen.duration_s, on_cycle=observe)
    for label, vals in sorted(rows.items()):
        a = np.array(vals)
        mature = a[:, 0] >= 4.0
        print(f"== {label}: {len(a)} track-cycles ({mature.sum()} watched ≥ 4 s)")
        for j, f in enumerate(FIELDS):
            q = np.quantile(a[mature, j], [0.05, 0.5, 0.95]) if mature.any() else [np.nan] * 3
            print(f"  {f:15s} {q[0]:8.2f} {q[1]:8.2f} {q[2]:8.2f}")
        names, counts = np.unique(called[label], return_counts=True)
        print("  called:", dict(zip(names.tolist(), counts.tolist(), strict=True)))


def cost(n: int = 1000, cycles: int = 50) -> None:
    """Feature update + classification per cycle over ``n`` tracks (ms)."""
    rng = np.random.default_rng(1)
    tt = TrackTable()
    tt.x = np.zeros((n, 6))
    tt.P = np.tile(np.eye(6), (n, 1, 1))
    tt.x[:, :3] = rng.uniform(-5000, 5000, (n, 3))
    tt.x[: n // 3, :3] = rng.uniform(-300, 300, (n // 3, 3))  # a dense flock
    tt.x[:, 3:] = rng.normal(0, 10, (n, 3))
    tt.track_id = np.arange(n, dtype=np.int64)
    tt.hits = np.full(n, 10, np.int64)
    tt.status = np.full(n, CONFIRMED, np.int8)
    tt.class_ev = np.zeros((n, 4))
    tt.ident = np.full(n, None, dtype=object)
    tt.emitter = np.full(n, None, dtype=object)
    feats = TrackFeatures()
    spent_f, spent_c = [], []
    for k in range(cycles):
        tt.t_s = np.full(n, 0.1 * k)
        tt.x[:, :3] += 0.1 * tt.x[:, 3:]
        t0 = time.perf_counter()
        f = feats.update(tt, 0.1 * k)
        t1 = time.perf_counter()
        classify(tt, f)
        feature_loglik(tt, f)
        spent_f.append(t1 - t0)
        spent_c.append(time.perf_counter() - t1)
    print(
        f"{n} tracks: feature update {1e3 * np.median(spent_f):.2f} ms, "
        f"classify {1e3 * np.median(spent_c):.2f} ms per cycle (median of {cycles})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", type=Path)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--cost", action="store_true")
    args = ap.parse_args()
    if args.cost:
        for n in (100, 1000, 2000):
            cost(n)
    if args.scenarios:
        spread(args.scenarios, args.seed)


if __name__ == "__main__":
    main()
