"""Luchtwacht's tracker and Stone Soup's side by side on the same radar plots of a scenario.

The scenario is flown through the pipeline once; every batch of plots the radars' SAPIENT
streams decode to (site ENU, with each plot's linearised covariance) is kept. Both trackers
then take exactly those batches, in time order:

* Luchtwacht: :class:`~luchtwacht.tracking.tracker.Tracker` with its defaults;
* Stone Soup (the ``bench`` extra): the standard tracker of the shared benchmark
  (``../shared/bench/run_stonesoup.py``) made 3D — NCV on each axis with the same PSD, Kalman
  predictor and updater with each plot's own covariance, Mahalanobis distance hypothesiser
  (missed distance 3), GNN by 2D assignment, a three-plot initiator and deletion after three
  updates missed.

At every 1 Hz cycle, each tracker's confirmed tracks are predicted to the cycle time and scored
against the truth with GOSPA, so the comparison is on the tracking alone; the rest of the
pipeline (classification, threat) is not involved.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from luchtwacht.eval.metrics import gospa_over_scans
from luchtwacht.model.detection import DetectionBatch
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import Scenario
from luchtwacht.tracking.models import POS
from luchtwacht.tracking.tracker import Tracker, TrackerConfig

F64 = NDArray[np.float64]
_T0 = datetime.datetime(2026, 1, 1)


@dataclass(frozen=True, slots=True)
class PeerRun:
    """One tracker on the radar plots of one scenario run."""

    tracker: str
    gospa_mean: float
    missed_per_cycle: float
    false_per_cycle: float
    ms_per_batch_median: float


Progress = Callable[[str, float], None]
"""Told (stage, share done) as a side-by-side run goes: ``fly``, ``luchtwacht``, ``stonesoup``."""


def radar_batches(
    scenario: Scenario, seed: int, progress: Progress | None = None
) -> tuple[list[DetectionBatch], list[float]]:
    """Fly the scenario; keep every radar batch the tracker was given, and the cycle times."""
    pipe = Pipeline(dataclasses.replace(scenario, seed=seed))
    kept: list[DetectionBatch] = []
    process = pipe.tracker.process

    def keep(batch: DetectionBatch) -> bool:
        if batch.sensor_id.startswith("radar"):
            kept.append(batch)
        return process(batch)

    pipe.tracker.process = keep  # type: ignore[method-assign]
    cycles: list[float] = []

    def cycle(q: Pipeline) -> None:
        cycles.append(q.now_s)
        if progress is not None:
            progress("fly", min(q.t_s / scenario.duration_s, 1.0))

    pipe.run(scenario.duration_s, on_cycle=cycle)
    return kept, cycles


def _truth(scenario: Scenario, cycles_utc: list[float]) -> tuple[list[int], list[F64]]:
    scan: list[int] = []
    pos: list[F64] = []
    for k, t in enumerate(cycles_utc):
        for tgt in scenario.targets:
            s = tgt.path.state(t - scenario.epoch_s)
            if s is not None:
                scan.append(k)
                pos.append(np.asarray(s[0], dtype=float))
    return scan, pos


def _score(
    name: str,
    scenario: Scenario,
    cycles: list[float],
    est: list[tuple[int, F64]],
    times: list[float],
    c: float,
) -> PeerRun:
    t_scan, t_pos = _truth(scenario, cycles)
    g = gospa_over_scans(
        t_scan,
        np.array(t_pos).reshape(-1, 3),
        [k for k, _ in est],
        np.array([p for _, p in est]).reshape(-1, 3),
        n_scans=len(cycles),
        c=c,
    )
    return PeerRun(
        name,
        g.mean,
        g.mean_missed_per_scan,
        g.mean_false_per_scan,
        float(np.median(times) * 1e3) if times else 0.0,
    )


def run_luchtwacht(
    scenario: Scenario,
    batches: list[DetectionBatch],
    cycles: list[float],
    c: float,
    progress: Progress | None = None,
) -> PeerRun:
    """Luchtwacht's tracker (defaults) alone on the batches."""
    tracker = Tracker(TrackerConfig())
    est: list[tuple[int, F64]] = []
    times: list[float] = []
    i = 0
    for k, t_cycle in enumerate(cycles):
        while i < len(batches) and batches[i].time_s <= t_cycle:
            t0 = time.perf_counter()
            tracker.process(batches[i])
            times.append(time.perf_counter() - t0)
            i += 1
        tracker.maintain(t_cycle)
        x, _ = tracker.predicted(t_cycle)
        est.extend((k, p) for p in x[tracker.tracks.confirmed][:, POS])
        if progress is not None:
            progress("luchtwacht", (k + 1) / len(cycles))
    return _score("luchtwacht", scenario, cycles, est, times, c)


def run_stonesoup(
    scenario: Scenario,
    batches: list[DetectionBatch],
    cycles: list[float],
    c: float,
    q_m2_s3: float = 4.0,
    progress: Progress | None = None,
) -> PeerRun:
    """Stone Soup's standard GNN tracker on the batches (needs ``pip install stonesoup``)."""
    from stonesoup.dataassociator.neighbour import (  # type: ignore[import-untyped]
        GNNWith2DAssignment,
    )
    from stonesoup.deleter.time import UpdateTimeStepsDeleter  # type: ignore[import-untyped]
    from stonesoup.hypothesiser.distance import (  # type: ignore[import-untyped]
        DistanceHypothesiser,
    )
    from stonesoup.initiator.simple import (  # type: ignore[import-untyped]
        MultiMeasurementInitiator,
    )
    from stonesoup.measures import Mahalanobis  # type: ignore[import-untyped]
    from stonesoup.models.measurement.linear import LinearGaussian  # type: ignore[import-untyped]
    from stonesoup.models.transition.linear import (  # type: ignore[import-untyped]
        CombinedLinearGaussianTransitionModel,
        ConstantVelocity,
    )
    from stonesoup.predictor.kalman import KalmanPredictor  # type: ignore[import-untyped]
    from stonesoup.types.detection import Detection  # type: ignore[import-untyped]
    from stonesoup.types.state import GaussianState  # type: ignore[import-untyped]
    from stonesoup.updater.kalman import KalmanUpdater  # type: ignore[import-untyped]

    tm = CombinedLinearGaussianTransitionModel([ConstantVelocity(q_m2_s3) for _ in range(3)])
    default_mm = LinearGaussian(ndim_state=6, mapping=(0, 2, 4), noise_covar=np.eye(3) * 100.0)
    predictor = KalmanPredictor(tm)
    updater = KalmanUpdater(default_mm)
    hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=3)
    gnn = GNNWith2DAssignment(hyp)
    initiator = MultiMeasurementInitiator(
        prior_state=GaussianState(np.zeros((6, 1)), np.diag([0.0, 15.0**2] * 3)),
        measurement_model=default_mm,
        deleter=UpdateTimeStepsDeleter(time_steps_since_update=2),
        data_associator=gnn,
        updater=updater,
        min_points=3,
    )
    deleter = UpdateTimeStepsDeleter(time_steps_since_update=3)
    tracks: set[Any] = set()
    est: list[tuple[int, F64]] = []
    times: list[float] = []
    i = 0
    for k, t_cycle in enumerate(cycles):
        while i < len(batches) and batches[i].time_s <= t_cycle:
            b = batches[i]
            stamp = _T0 + datetime.timedelta(seconds=b.time_s - scenario.epoch_s)
            dets = {
                Detection(
                    z.reshape(3, 1),
                    timestamp=stamp,
                    measurement_model=LinearGaussian(
                        ndim_state=6, mapping=(0, 2, 4), noise_covar=r
                    ),
                )
                for z, r in zip(b.z, b.R, strict=True)
            }
            t0 = time.perf_counter()
            hypotheses = gnn.associate(tracks, dets, stamp)
            used = set()
            for track in tracks:
                h = hypotheses[track]
                if h.measurement:
                    track.append(updater.update(h))
                    used.add(h.measurement)
                else:
                    track.append(h.prediction)
            tracks -= deleter.delete_tracks(tracks)
            tracks |= initiator.initiate(dets - used, stamp)
            times.append(time.perf_counter() - t0)
            i += 1
        stamp = _T0 + datetime.timedelta(seconds=t_cycle - scenario.epoch_s)
        for track in tracks:
            pred = predictor.predict(track.state, timestamp=stamp)
            est.append((k, np.asarray(pred.state_vector, dtype=float).ravel()[[0, 2, 4]]))
        if progress is not None:
            progress("stonesoup", (k + 1) / len(cycles))
    return _score("stonesoup", scenario, cycles, est, times, c)


def side_by_side(
    scenario: Scenario, seed: int, c: float = 100.0, progress: Progress | None = None
) -> list[PeerRun]:
    """Both trackers on one run's radar plots (Stone Soup only if it is installed).

    ``progress`` is told each stage's share done: flying the scenario (``fly``), then each
    tracker on its plots (``luchtwacht``, ``stonesoup``), cycle by cycle.
    """
    batches, cycles = radar_batches(scenario, seed, progress)
    out = [run_luchtwacht(scenario, batches, cycles, c, progress)]
    with contextlib.suppress(ImportError):  # without the bench extra: Luchtwacht's row alone
        out.append(run_stonesoup(scenario, batches, cycles, c, progress=progress))
    return out
