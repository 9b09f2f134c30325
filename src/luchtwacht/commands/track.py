"""``luchtwacht track``: run the Luchtwacht tracker on a benchmark scenario file.

``track SCENARIO.npz --out tracks.csv`` reads a scenario in the shared benchmark format
(``../shared/bench/README.md``: ``params_json``, ``meas_scan``, ``meas_xy``), feeds it to
:class:`~luchtwacht.tracking.tracker.Tracker` one
:class:`~luchtwacht.model.detection.DetectionBatch` per scan, and writes
``scan,track_id,x,y,vx,vy``: one row per confirmed track per scan, the state after that scan's
update. ``--stats-json`` adds the number of scans, the median and 99th
percentile of the time spent in ``Tracker.process`` per scan (``time.perf_counter`` around that
call alone: loading, batch building and output are not timed) and the number of tracks ever
confirmed.

``--output`` chooses which rows: ``online`` (default) is the live picture, each scan's reported
tracks from the detections up to that scan; ``history`` is the track store in hindsight
(:mod:`luchtwacht.tracking.history`: each confirmed track from its first plot to its last, the
family of ``run_stonesoup.py``'s scoring of the peer); ``smoothed`` is that history
RTS-smoothed; ``retro`` keeps, as ``run_stonesoup.py`` does, every state up to a track's
deletion, coasts after its last plot included. They are scored apart; only ``online`` is what
an operator saw at the time.

Only the detections are read. The answer key (``meas_truth_id``) and the truth arrays
(``truth_*``) are never touched, so the command runs on files that lack them.

Mapping of the 2D benchmark onto the 3D tracker: a detection (x, y) becomes z = (x, y, 0) in the
tracker's ENU frame with R = diag(σ², σ², σ_u²), σ_u = 1 mm (:data:`UP_STD_M`): the vertical
axis is pinned to 0 without making the innovation covariance singular. The state is read back
from [e, n, u, ve, vn, vu] as x = e, y = n, vx = ve, vy = vn.

Tuning: :class:`~luchtwacht.tracking.tracker.TrackerConfig` defaults except four values from the
parameters:
- the NCV process-noise PSD is the scenario's ``q`` (the generator's truth model);
- ``pd`` and ``clutter_rate`` are what a sensor's data sheet states, and feed the existence
  probability that confirms, hides and deletes tracks;
- new tracks get no vertical velocity, because the benchmark is flat.

Target lifetimes (``min_life``/``max_life``) are the generator's, not a sensor's, and are not
read.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from numpy.typing import NDArray

from luchtwacht.config_file import output_problem
from luchtwacht.model.detection import N_CLASSES, DetectionBatch

if TYPE_CHECKING:  # the tracker (numba, scipy) loads when a run needs it, not with the CLI
    from luchtwacht.tracking.tracker import TrackerConfig

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

UP_STD_M = 1e-3  # std of the pseudo-measurement u = 0 that pins the vertical axis, m
UP_SPEED_STD_MS = 1e-3  # vertical velocity prior of a new track: the targets stay at u = 0
SENSOR_ID = "scenario"

app = typer.Typer(add_completion=False, help="Run the tracker on a benchmark scenario file.")


class Motion(StrEnum):
    """Motion model of the tracker."""

    ncv = "ncv"
    imm = "imm"


class Output(StrEnum):
    """Which rows the CSV holds: the live picture, or the track histories in hindsight."""

    online = "online"  # each scan's confirmed tracks as reported at that scan
    history = "history"  # ever-confirmed tracks from first to last plot (tracking/history.py)
    smoothed = "smoothed"  # the same, RTS-smoothed
    retro = "retro"  # as run_stonesoup.py scores: up to deletion, coasts after the last plot too


class Assoc(StrEnum):
    """Data association of the tracker."""

    gnn = "gnn"
    jpda = "jpda"


@dataclass(frozen=True, slots=True)
class Scenario:
    """The detections of a benchmark scenario (never its truth) and its parameters."""

    params: dict[str, Any]
    meas_scan: NDArray[np.int32]  # (M,) scan index of each detection
    meas_xy: F64  # (M, 2) detected x, y, m

    @property
    def dt_s(self) -> float:
        """Scan period, s."""
        return float(self.params["dt"])

    @property
    def n_scans(self) -> int:
        """Scans in the file: ``params['n_scans']``, or one past the last detection's scan."""
        if "n_scans" in self.params:
            return int(self.params["n_scans"])
        return int(self.meas_scan.max(initial=-1)) + 1


@dataclass(frozen=True, slots=True)
class TrackRun:
    """Output of :func:`run_tracker`: confirmed-track rows and per-scan processing times."""

    scan: I64  # (K,) scan of each row
    track_id: I64  # (K,)
    state: F64  # (K, 4) x, y, vx, vy
    scan_s: F64  # (n_scans,) seconds spent in Tracker.process per scan

    @property
    def tracks_confirmed(self) -> int:
        """Distinct tracks that were confirmed at some scan."""
        return int(np.unique(self.track_id).size)

    def stats(self) -> dict[str, float | int]:
        """The ``--stats-json`` figures (times in milliseconds)."""
        ms = self.scan_s * 1e3
        return {
            "scans": int(ms.size),
            "scan_ms_median": float(np.median(ms)) if ms.size else 0.0,
            "scan_ms_p99": float(np.percentile(ms, 99)) if ms.size else 0.0,
            "tracks_confirmed": self.tracks_confirmed,
        }


class ScenarioError(ValueError):
    """The file is not a usable benchmark scenario."""


def load_scenario(path: Path) -> Scenario:
    """Read the parameters and detections of a scenario ``.npz``; nothing else is loaded.

    ``np.load`` on an ``.npz`` is lazy: only the three arrays named here are decompressed.
    """
    # np.load on a file that is not a zip archive would try it as a pickle and suggest
    # allow_pickle=True: never load an untrusted file that way; say what the file is not.
    if path.stat().st_size == 0:
        raise ScenarioError(f"{path}: cannot read scenario: empty file, not an .npz archive")
    if not zipfile.is_zipfile(path):
        raise ScenarioError(f"{path}: cannot read scenario: not an .npz archive (no zip structure)")
    try:
        with np.load(path, allow_pickle=False) as d:
            missing = sorted({"params_json", "meas_scan", "meas_xy"} - set(d.files))
            if not missing:
                params = json.loads(str(d["params_json"]))
                meas_scan = np.asarray(d["meas_scan"], dtype=np.int32)
                meas_xy = np.asarray(d["meas_xy"], dtype=np.float64)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # EOFError: Click would turn it into a bare "Aborted."
        raise ScenarioError(f"{path}: cannot read scenario: {exc}") from exc
    if missing:
        raise ScenarioError(f"{path}: not a benchmark scenario, missing {missing}")
    if not isinstance(params, dict):
        raise ScenarioError(f"{path}: params_json is not a JSON object")
    for key in ("dt", "q", "sigma"):
        if key not in params:
            raise ScenarioError(f"{path}: params_json lacks {key!r}")
    if meas_xy.ndim != 2 or meas_xy.shape[1] != 2 or meas_scan.shape != (meas_xy.shape[0],):
        raise ScenarioError(
            f"{path}: meas_scan {meas_scan.shape} / meas_xy {meas_xy.shape} are inconsistent"
        )
    return Scenario(params, meas_scan, meas_xy)


def tracker_config(params: dict[str, Any]) -> TrackerConfig:
    """Tracker defaults with the scenario's NCV process-noise PSD and its sensor promises.

    PD and the clutter rate are what a sensor's data sheet states, not truth. The scenario is
    2D, so the false-alarm density per m² gets a vertical factor: a clutter plot sits at u = 0
    exactly as a target plot does, so it is given the same density there as a track's vertical
    innovation, 1/√(2π·S_uu) per metre, with S_uu ≈ q·dt³/3 + 2σ_u² (the process noise one scan
    adds to the pinned axis, plus two pseudo-measurement variances).
    """
    (x0, x1), (y0, y1) = params["region"]
    per_m2 = float(params["clutter_rate"]) / max((x1 - x0) * (y1 - y0), 1.0)
    from luchtwacht.tracking.tracker import TrackerConfig

    dt = float(params["dt"])
    s_uu = float(params["q"]) * dt**3 / 3.0 + 2.0 * UP_STD_M**2
    per_m3 = max(per_m2, 1e-30) / np.sqrt(2.0 * np.pi * s_uu)
    return TrackerConfig(
        q_m2_s3=float(params["q"]),
        pd=float(params["pd"]),
        clutter_density_m3=per_m3,
        init_climb_std_ms=UP_SPEED_STD_MS,
    )


def scan_batches(scenario: Scenario, n_scans: int | None = None) -> list[DetectionBatch]:
    """One :class:`DetectionBatch` per scan k (time k·dt), empty scans included.

    z = (x, y, 0) and R = diag(σ², σ², ``UP_STD_M``²) for every detection.
    """
    k_max = scenario.n_scans if n_scans is None else min(n_scans, scenario.n_scans)
    sigma = float(scenario.params["sigma"])
    r_one = np.diag([sigma**2, sigma**2, UP_STD_M**2])
    order = np.argsort(scenario.meas_scan, kind="stable")
    bounds = np.searchsorted(scenario.meas_scan[order], np.arange(k_max + 1))
    out = []
    for k in range(k_max):
        idx = order[bounds[k] : bounds[k + 1]]
        n = idx.size
        t = k * scenario.dt_s
        z = np.zeros((n, 3))
        z[:, :2] = scenario.meas_xy[idx]
        out.append(
            DetectionBatch(
                sensor_id=SENSOR_ID,
                t_s=np.full(n, t),
                z=z,
                R=np.broadcast_to(r_one, (n, 3, 3)).copy(),
                class_loglik=np.zeros((n, N_CLASSES)),
                counts_misses=True,  # a radar scan: no detection on a track is a miss
                scan_t_s=t,
            )
        )
    return out


def run_tracker(
    scenario: Scenario,
    config: TrackerConfig | None = None,
    n_scans: int | None = None,
    output: Output = Output.online,
) -> TrackRun:
    """Run the tracker scan by scan; time ``Tracker.process`` alone and collect the rows.

    ``output`` picks the rows (:class:`Output`); recording the history is outside the timer.
    """
    from luchtwacht.tracking.history import TrackHistory
    from luchtwacht.tracking.tracker import Tracker

    batches = scan_batches(scenario, n_scans)
    cfg = config or tracker_config(scenario.params)
    if output is Output.smoothed and cfg.motion != "ncv":
        raise ValueError("smoothed histories use the NCV model; run with motion='ncv'")
    tracker = Tracker(cfg)
    history = TrackHistory() if output is not Output.online else None
    times = np.empty(len(batches))
    scans: list[I64] = [np.empty(0, np.int64)]
    ids: list[I64] = [np.empty(0, np.int64)]
    states: list[F64] = [np.empty((0, 4))]
    for k, batch in enumerate(batches):
        t0 = time.perf_counter()
        tracker.process(batch)
        times[k] = time.perf_counter() - t0
        tt = tracker.tracks
        if history is not None:
            history.record(tt)
            continue
        conf = tt.confirmed
        scans.append(np.full(int(conf.sum()), k, dtype=np.int64))
        ids.append(tt.track_id[conf])
        states.append(tt.x[conf][:, [0, 1, 3, 4]])
    if history is not None:
        rows = history.finish(
            cfg.q_m2_s3 if output is Output.smoothed else None,
            keep_coasts=output is Output.retro,
        )
        return TrackRun(rows.step, rows.track_id, rows.x[:, [0, 1, 3, 4]], times)
    return TrackRun(np.concatenate(scans), np.concatenate(ids), np.concatenate(states), times)


def write_csv(run: TrackRun, path: Path) -> None:
    """``scan,track_id,x,y,vx,vy`` with 0.1 mm / 0.1 mm/s resolution."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["scan", "track_id", "x", "y", "vx", "vy"])
        for k, tid, s in zip(run.scan.tolist(), run.track_id.tolist(), run.state, strict=True):
            w.writerow([k, tid, *(f"{v:.4f}" for v in s.tolist())])


# A callback, not a sub-command, so ``app.add_typer(track.app, name="track")`` gives
# ``luchtwacht track SCENARIO …``; interspersed args let options follow the positional argument,
# which Click groups refuse by default.
@app.callback(
    invoke_without_command=True,
    subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
)
def track(
    scenario: Annotated[
        Path,
        typer.Argument(
            help="Scenario .npz in the shared benchmark format.", exists=True, dir_okay=False
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="CSV to write: scan,track_id,x,y,vx,vy.", dir_okay=False)
    ],
    assoc: Annotated[Assoc, typer.Option(help="Data association.")] = Assoc.gnn,
    motion: Annotated[
        Motion, typer.Option(help="Motion model: one NCV, or an IMM over NCV, CA and CT.")
    ] = Motion.ncv,
    output: Annotated[
        Output,
        typer.Option(
            help="Rows: the live picture per scan (online), or in hindsight the confirmed "
            "tracks from first to last plot (history), RTS-smoothed (smoothed), or up to "
            "deletion as run_stonesoup.py scores (retro)."
        ),
    ] = Output.online,
    stats_json: Annotated[
        Path | None,
        typer.Option(help="Write scans, per-scan time median/p99 (ms), tracks confirmed here."),
    ] = None,
) -> None:
    """Track a benchmark scenario; one CSV row per confirmed track per scan."""
    for option, path in (("--out", out), ("--stats-json", stats_json)):
        if path is not None and (problem := output_problem(path)) is not None:
            typer.echo(f"error: {option} {problem}", err=True)
            raise typer.Exit(2)
    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if motion is Motion.imm and output is Output.smoothed:
        typer.echo("error: smoothed histories use the NCV model (--motion ncv)", err=True)
        raise typer.Exit(2)
    cfg = dataclasses.replace(tracker_config(scen.params), assoc=assoc.value, motion=motion.value)
    run = run_tracker(scen, cfg, output=output)
    write_csv(run, out)
    stats: dict[str, float | int | str] = {**run.stats(), "output": output.value}
    if stats_json is not None:
        stats_json.write_text(json.dumps(stats, indent=2) + "\n")
    typer.echo(
        f"{scenario}: {stats['scans']} scans, {stats['tracks_confirmed']} tracks confirmed, "
        f"median {stats['scan_ms_median']:.2f} ms/scan; wrote {out}",
        err=True,
    )
