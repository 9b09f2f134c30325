"""Monte Carlo evaluation of the whole pipeline on scenarios: the figures a buyer compares.

Each run flies a scenario through the full pipeline (simulated sensors speaking their wire
formats → ingest → tracker → classification → threat → alerts) and, at every 1 Hz assessment
cycle, compares the reported air picture with the simulated truth:

* **GOSPA** (c, p = 2, α = 2, 3D positions) of the confirmed tracks, with its localisation,
  missed and false parts (:mod:`luchtwacht.eval.metrics`);
* per true target (tracks paired with targets by :class:`~luchtwacht.eval.truth.TruthMatcher`):
  time from its first existence to the first sensor report of it (**detect**: a plot inside
  its measurement gate around the true position, or a bearing within 3.3σ of the true azimuth,
  :class:`FirstDetections`), to its first confirmed track (**confirm**), to the first cycle
  its track carried its true class (**classify**), and — for targets that should raise one —
  to the first alert raised on one of its tracks or naming one as a member of a swarm alert
  (``threat.swarm``: the operator reads "Swarm 3: 14 drones …" with its members listed) (**alert**),
  and the **warning** that alert gave
  before the target entered a protected zone; **track ids** used, **id switches**
  (the matched id changes between two matched cycles) and **fragmentations** (matched, then
  unmatched while it exists, then matched again), and the fraction of its cycles it was tracked;
* a **classification confusion matrix** over every matched target-cycle;
* **alerts**: raised, on an intruder (a target whose scenario role is ``intruder``), and
  **false alerts** (raised on a track that, at that cycle, followed no intruder; a swarm alert
  when none of the members it names did), also per hour.

Runs differ by seed (``seed + run``): every sensor's noise, and everything else the seed draws.
Results are plain dataclasses that serialise to JSON (:func:`summary`), so two evaluations
can be compared (:func:`compare`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from luchtwacht.counter.engagement import EFFECTIVE
from luchtwacht.eval.goals import (
    CLASSIFY_WITHIN_S,
    KINEMATIC_WITHIN_S,
    judge,
    overall,
    value_of,
)
from luchtwacht.eval.in_time import stoppable
from luchtwacht.eval.metrics import GospaSeries, gospa_over_scans
from luchtwacht.eval.pilots import pilot_figures, pilot_summary, true_pilot
from luchtwacht.eval.truth import TruthMatcher
from luchtwacht.model.detection import BearingBatch, DetectionBatch
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.effects import Countered
from luchtwacht.sim.scenario import Scenario
from luchtwacht.threat.alerts import AlertEvent
from luchtwacht.tracking.tracker import TrackerConfig

F64 = NDArray[np.float64]
CLASSES = ("drone", "bird", "aircraft", "clutter", "unknown")
ALERTING_ROLES = ("intruder",)  # targets an alert should be raised on
MATCH_DIST_M = 150.0  # a track within this of a target (3D) may be that target's


@dataclass(slots=True)
class TargetResult:
    """What one run's air picture said about one true target (times relative to existence)."""

    name: str
    role: str
    true_class: str
    exists_s: float | None
    detect_s: float | None  # first sensor report of it
    confirm_s: float | None  # first confirmed track on it
    classify_s: float | None
    alert_s: float | None
    breach_s: float | None  # first cycle the target was inside a protected zone
    should_alert: bool
    track_ids: list[int]
    id_switches: int
    fragmentations: int
    coverage: float
    recommend_s: float | None = None  # first countermeasure recommendation on one of its tracks
    effect: str | None = None  # the first thing an effector did to it (truth): failsafe, …
    effect_s: float | None = None  # …when (from then on it was no longer its pilot's)
    effect_by: str | None = None  # …which effector
    # An intruder on a site with effectors: it breached, and an option could have acted before
    # that had it been proposed when it was first classed a drone (``eval.in_time``).
    stoppable: bool | None = None
    # Its pilot (eval.pilots): whether it has one, time from existence to the first estimate on
    # one of its tracks, the estimates' median horizontal miss (m), the last one's source.
    has_pilot: bool = False
    pilot_s: float | None = None
    pilot_err_m: float | None = None
    pilot_source: str | None = None


@dataclass(slots=True)
class EngagementResult:
    """One engagement an operator approved: what the system assessed, and what really happened."""

    eng_id: int
    target: str | None  # the target its track followed at approval (None: no target)
    effector: str
    kind: str
    approved_s: float
    assessed: str | None  # the system's assessment from the air picture (None: still going)
    assessed_s: float | None
    true_effect: str | None  # what this effector really did to that target, if anything
    true_effect_s: float | None
    target_neutralised: bool = False  # anything took effect on the target since the approval

    @property
    def effective(self) -> bool:
        """It really took effect on its target."""
        return self.true_effect is not None

    @property
    def assessment_right(self) -> bool | None:
        """The assessment read the drone right: neutralised (by whatever) or not.

        The air picture cannot tell which effector did it, only what the drone does; whether
        this effector did it is :attr:`effective`.
        """
        if self.assessed is None or self.assessed == "lost":
            return None
        return (self.assessed in EFFECTIVE) == (self.effective or self.target_neutralised)


@dataclass(slots=True)
class RunResult:
    """One Monte Carlo run of one scenario."""

    scenario: str
    seed: int
    duration_s: float
    cycle_t_s: list[float]
    gospa: list[float]
    gospa_localisation: list[float]
    gospa_missed: list[float]
    gospa_false: list[float]
    n_missed: list[int]
    n_false: list[int]
    targets: list[TargetResult]
    confusion: list[list[int]]  # [true class][reported class], CLASSES order
    alerts_raised: int
    alerts_on_intruders: int
    false_alerts: int
    engagements: list[EngagementResult] = field(default_factory=list)
    collateral: list[str] = field(default_factory=list)  # non-intruders an effector affected
    recommendations: int = 0
    operator_refusals: int = 0
    truth_xy: dict[str, list[list[float]]] = field(default_factory=dict)  # name → [[t, e, n]]
    track_xy: dict[int, list[list[float]]] = field(default_factory=dict)  # id → [[t, e, n]]
    site: dict[str, Any] = field(default_factory=dict)  # what the map draws (site_layout)
    # Remote ID spoof alerts (identify.spoofing), apart from the zone alerts above, and each
    # one's delay from when its UAS ID was first heard.
    spoof_alerts: int = 0
    spoof_alert_s: list[float] = field(default_factory=list)

    @property
    def false_alerts_per_hour(self) -> float:
        """False alerts scaled to an hour of this scenario."""
        return self.false_alerts * 3600.0 / self.duration_s if self.duration_s > 0 else 0.0


def site_layout(scen: Scenario) -> dict[str, Any]:
    """The site as the report's map draws it, JSON-ready: origin, zones and sensors in ENU.

    ``origin``: [lat, lon, alt]; ``zones`` and ``no_fire``: name and horizontal polygon
    [[east, north], …] in metres; ``sensors`` and ``effectors``: name, kind, east, north and
    their reach in metres (None where the scenario gives none).
    """

    def at(lat: float, lon: float, alt: float) -> tuple[float, float]:
        e, n, _ = scen.origin.to_enu(lat, lon, alt)
        return round(float(e), 1), round(float(n), 1)

    def polygons(zones: Sequence[Any]) -> list[dict[str, Any]]:
        out = []
        for z in zones:
            lat = np.array([v[0] for v in z.vertices_deg])
            lon = np.array([v[1] for v in z.vertices_deg])
            enu = scen.origin.to_enu(lat, lon, np.full(lat.shape, scen.origin.alt_m))
            out.append({"name": z.name, "enu": np.round(enu[:, :2], 1).tolist()})
        return out

    sensors: list[dict[str, Any]] = []
    for r in scen.radars:
        sensors.append({"name": r.name, "kind": "radar", "range_m": r.max_range_m})
        sensors[-1]["east"], sensors[-1]["north"] = at(r.lat_deg, r.lon_deg, r.alt_m)
    for b in scen.bearing_sensors:
        sensors.append({"name": b.name or b.kind, "kind": b.kind, "range_m": b.max_range_m})
        sensors[-1]["east"], sensors[-1]["north"] = at(b.lat_deg, b.lon_deg, b.alt_m)
    for rid in scen.remoteid_receivers:
        sensors.append({"name": rid.receiver_id, "kind": "remoteid", "range_m": rid.range_m})
        sensors[-1]["east"], sensors[-1]["north"] = at(rid.lat_deg, rid.lon_deg, rid.alt_m)
    for a in scen.adsb_receivers:
        sensors.append({"name": a.receiver_id, "kind": "adsb", "range_m": a.range_m})
        sensors[-1]["east"], sensors[-1]["north"] = at(a.lat_deg, a.lon_deg, a.alt_m)
    effectors = [
        {
            "name": f.name,
            "kind": str(f.kind),
            "east": float(f.enu_m[0]),
            "north": float(f.enu_m[1]),
            "range_m": f.max_range_m,
        }
        for f in scen.effectors
    ]
    return {
        "origin": [scen.origin.lat_deg, scen.origin.lon_deg, scen.origin.alt_m],
        "zones": polygons(scen.zones),
        "no_fire": polygons(scen.no_fire),
        "sensors": sensors,
        "effectors": effectors,
    }


PLOT_GATE_D2 = 16.27  # χ² 99.9 % with 3 degrees of freedom: a plot is the target's
BEARING_GATE_SIGMA = 3.3  # likewise for a bearing (two-sided 99.9 %)


class FirstDetections:
    """Batch observer (:attr:`FusionCore.batch_observers`): when each target was first reported.

    A position plot (radar, Remote ID, ADS-B) counts for a target when the true position at the
    batch time lies inside the plot's χ² gate (d² = νᵀ R⁻¹ ν ≤ 16.27); a bearing when the true
    azimuth from the sensor is within 3.3σ (and the elevation too, if it has one) and the target
    within the sensor's reach. Batches the tracker refused (late, malformed) count too: the
    sensor did see the target. Times are scenario seconds.
    """

    def __init__(self, targets: Sequence[Any], epoch_s: float) -> None:
        self.targets = list(targets)
        self.epoch_s = epoch_s
        self.first_s: dict[str, float] = {}

    def __call__(self, batch: DetectionBatch | BearingBatch, applied: bool) -> None:
        """Note the batch time for every target not yet reported that this batch reports."""
        if not len(batch):
            return
        t = batch.time_s - self.epoch_s
        for tgt in self.targets:
            if tgt.name in self.first_s:
                continue
            state = tgt.path.state(t)
            if state is None:
                continue
            pos = np.asarray(state[0], dtype=float)
            if isinstance(batch, BearingBatch):
                hit = self._bearing_hit(batch, pos)
            else:
                nu = batch.z - pos
                try:
                    d2 = np.einsum("ni,ni->n", nu, np.linalg.solve(batch.R, nu[..., None])[..., 0])
                except np.linalg.LinAlgError:
                    continue
                hit = bool(np.any(d2 <= PLOT_GATE_D2))
            if hit:
                self.first_s[tgt.name] = t

    @staticmethod
    def _bearing_hit(batch: BearingBatch, pos: F64) -> bool:
        d = pos - batch.sensor_enu_m
        horiz = math.hypot(d[0], d[1])
        if math.hypot(horiz, d[2]) > batch.coverage_range_m:
            return False
        az = math.atan2(d[0], d[1])
        off = np.abs((batch.azimuth_rad - az + math.pi) % (2.0 * math.pi) - math.pi)
        ok = off <= BEARING_GATE_SIGMA * batch.azimuth_std_rad
        el = math.atan2(d[2], horiz)
        has_el = np.isfinite(batch.elevation_rad)
        ok &= ~has_el | (
            np.abs(np.where(has_el, batch.elevation_rad, 0.0) - el)
            <= BEARING_GATE_SIGMA * np.where(has_el, batch.elevation_std_rad, np.inf)
        )
        return bool(ok.any())


def _runs_of_ids(seq: Sequence[int | None]) -> tuple[int, int]:
    """(id switches, fragmentations) of a per-cycle matched-id sequence (None: unmatched)."""
    switches = fragments = 0
    last: int | None = None
    gap = False
    seen = False
    for tid in seq:
        if tid is None:
            gap = seen
            continue
        if last is not None and tid != last:
            switches += 1
        if gap:
            fragments += 1
            gap = False
        last, seen = tid, True
    return switches, fragments


def evaluate_run(
    scenario: Scenario,
    seed: int,
    gospa_c_m: float = 100.0,
    keep_paths: bool = False,
    tracker_config: TrackerConfig | None = None,
) -> RunResult:
    """Fly ``scenario`` with ``seed`` through the pipeline and score its air picture."""
    scen = dataclasses.replace(scenario, seed=seed)
    pipe = Pipeline(scen, tracker_config=tracker_config)
    targets = pipe.targets  # this run's truth: effectors change where drones fly
    matcher = TruthMatcher(targets, max_dist_m=MATCH_DIST_M)
    first = FirstDetections(targets, pipe.epoch_s)
    pipe.batch_observers.append(first)
    heard: dict[str, float] = {}  # UAS ID → when a Remote ID plot of it first reached the tracker

    def hear(batch: DetectionBatch | BearingBatch, applied: bool) -> None:
        if isinstance(batch, DetectionBatch) and not batch.counts_misses:
            for uas in batch.ident:
                if uas is not None:
                    heard.setdefault(uas, batch.time_s)

    pipe.batch_observers.append(hear)
    t_truth: list[float] = []
    p_truth: list[F64] = []
    t_est: list[float] = []
    p_est: list[F64] = []
    truth_xy: dict[str, list[list[float]]] = {}
    track_xy: dict[int, list[list[float]]] = {}
    matched_ids: dict[str, list[int | None]] = {t.name: [] for t in targets}
    breach: dict[str, float] = {}

    def observe(q: Pipeline) -> None:
        t = q.t_s
        n_before = {name: len(h.matches) for name, h in matcher.history.items()}
        matcher.observe(t, q.views)
        for tgt in targets:
            s = tgt.path.state(t)
            if s is None:
                continue
            t_truth.append(t)
            p_truth.append(np.asarray(s[0], dtype=float))
            if tgt.name not in breach and any(
                bool(z.inside(np.asarray(s[0], dtype=float)[None])[0]) for z in q.zones
            ):
                breach[tgt.name] = t
            h = matcher.history[tgt.name]
            new = len(h.matches) > n_before[tgt.name]
            matched_ids[tgt.name].append(h.matches[-1][1].track_id if new else None)
            if keep_paths:
                truth_xy.setdefault(tgt.name, []).append([t, float(s[0][0]), float(s[0][1])])
        for v in q.views:
            t_est.append(t)
            p_est.append(np.array([v.east_m, v.north_m, v.up_m]))
            if keep_paths:
                track_xy.setdefault(v.track_id, []).append([t, v.east_m, v.north_m])

    pipe.run(scen.duration_s, on_cycle=observe)
    cycles = matcher.cycle_times
    g: GospaSeries = gospa_over_scans(
        np.searchsorted(cycles, t_truth),
        np.array(p_truth).reshape(-1, 3),
        np.searchsorted(cycles, t_est),
        np.array(p_est).reshape(-1, 3),
        n_scans=len(cycles),
        c=gospa_c_m,
    )
    raised = [ev for ev in pipe.events if ev.kind == "raised" and ev.alert.kind != "spoof"]
    spoofs = [ev for ev in pipe.events if ev.kind == "raised" and ev.alert.kind == "spoof"]
    # An alert is about the target its track followed at the cycle it was raised (a track id
    # may have followed clutter, or another target, before).
    follows = _Follows(
        cycles,
        {
            (round(t, 6), v.track_id): name
            for name, h in matcher.history.items()
            for t, v in h.matches
        },
    )
    role_of = {tgt.name: tgt.role for tgt in targets}

    def named(ev: AlertEvent) -> list[str]:
        """The targets followed, at the event's cycle, by the members a swarm alert names."""
        t = round(ev.t_s - pipe.epoch_s, 6)
        return sorted({n for n in (follows.get((t, tid)) for tid in ev.members) if n})

    def about(ev: AlertEvent) -> str | None:
        """The target an alert is about: its track's; a swarm alert's, an intruder it names."""
        who = follows.get((round(ev.t_s - pipe.epoch_s, 6), ev.alert.track_id))
        if not ev.members or (who is not None and role_of[who] in ALERTING_ROLES):
            return who
        return next((n for n in named(ev) if role_of[n] in ALERTING_ROLES), who)

    alert_target = [about(ev) for ev in raised]
    # Every target a swarm alert names, at each of its events, counts as alerted then.
    swarm_named = [
        (ev.t_s - pipe.epoch_s, set(named(ev)))
        for ev in pipe.events
        if ev.members and ev.kind in ("raised", "escalated", "updated")
    ]
    results = []
    # How long the operator took (the simulated one's, else what the node plans with).
    reaction = scen.operator.reaction_s if scen.operator is not None else scen.reaction_s
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    counter_events = pipe.counter.events if pipe.counter is not None else []
    recommended = [ev for ev in counter_events if ev.kind == "recommended"]
    rec_target = [follows.get((round(ev.t_s - pipe.epoch_s, 6), ev.track_id)) for ev in recommended]
    for tgt in targets:
        h = matcher.history[tgt.name]
        true_label = tgt.true_class.label
        t0 = h.first_exists_s
        alert_t = min(
            [
                *(
                    ev.t_s - pipe.epoch_s
                    for ev, who in zip(raised, alert_target, strict=True)
                    if who == tgt.name
                ),
                *(t for t, whom in swarm_named if tgt.name in whom),
            ],
            default=None,
        )
        cls_t = h.first_class_s(true_label)
        conf_t = h.first_match_s()
        det_t = first.first_s.get(tgt.name)
        switches, fragments = _runs_of_ids(matched_ids[tgt.name])
        for _, v in h.matches:
            label = v.object_class if v.object_class in CLASSES else "unknown"
            confusion[CLASSES.index(true_label), CLASSES.index(label)] += 1
        exist_cycles = [t for t in cycles if tgt.path.state(t) is not None]
        rec_t = min(
            (
                ev.t_s - pipe.epoch_s
                for ev, who in zip(recommended, rec_target, strict=True)
                if who == tgt.name
            ),
            default=None,
        )
        eff = tgt.path if isinstance(tgt.path, Countered) else None
        first_fx = eff.history[0] if eff is not None and eff.history else None
        pilot_t, pilot_err, pilot_src = pilot_figures(tgt, h.matches, scen.origin)
        could = None
        if scen.effectors and tgt.role in ALERTING_ROLES:
            could = (
                cls_t is not None
                and tgt.name in breach
                and stoppable(tgt, scen.effectors, cls_t, breach[tgt.name], reaction)
            )
        results.append(
            TargetResult(
                name=tgt.name,
                role=tgt.role,
                true_class=true_label,
                exists_s=t0,
                # The first cycle may come just after the first report: no negative times.
                detect_s=None if det_t is None or t0 is None else max(det_t - t0, 0.0),
                confirm_s=None if conf_t is None or t0 is None else conf_t - t0,
                classify_s=None if cls_t is None or t0 is None else cls_t - t0,
                alert_s=None if alert_t is None or t0 is None else alert_t - t0,
                breach_s=None if t0 is None or tgt.name not in breach else breach[tgt.name] - t0,
                should_alert=tgt.role in ALERTING_ROLES,
                track_ids=h.track_ids,
                id_switches=switches,
                fragmentations=fragments,
                coverage=h.coverage(exist_cycles),
                recommend_s=None if rec_t is None or t0 is None else rec_t - t0,
                effect=first_fx[1] if first_fx else None,
                effect_s=first_fx[0] - t0 if first_fx and t0 is not None else None,
                effect_by=first_fx[2] if first_fx else None,
                stoppable=could,
                has_pilot=true_pilot(tgt) is not None,
                pilot_s=None if pilot_t is None or t0 is None else max(pilot_t - t0, 0.0),
                pilot_err_m=pilot_err,
                pilot_source=pilot_src,
            )
        )
    on_intruders = sum(1 for who in alert_target if who and role_of[who] in ALERTING_ROLES)
    engagements = _engagements(pipe, follows)
    collateral = [
        t.name
        for t in targets
        if isinstance(t.path, Countered) and t.path.effect and t.role not in ALERTING_ROLES
    ]
    return RunResult(
        scenario=scen.name,
        seed=seed,
        duration_s=scen.duration_s,
        cycle_t_s=list(cycles),
        gospa=g.distance.tolist(),
        gospa_localisation=g.localisation.tolist(),
        gospa_missed=g.missed.tolist(),
        gospa_false=g.false.tolist(),
        n_missed=g.n_missed.tolist(),
        n_false=g.n_false.tolist(),
        targets=results,
        confusion=confusion.tolist(),
        alerts_raised=len(raised),
        alerts_on_intruders=on_intruders,
        false_alerts=len(raised) - on_intruders,
        engagements=engagements,
        collateral=collateral,
        recommendations=len(recommended),
        operator_refusals=len(pipe.operator.refusals) if pipe.operator is not None else 0,
        truth_xy=truth_xy,
        track_xy=track_xy,
        site=site_layout(scen) if keep_paths else {},
        spoof_alerts=len(spoofs),
        spoof_alert_s=[
            ev.t_s - heard[ev.alert.uas_id] for ev in spoofs if ev.alert.uas_id in heard
        ],
    )


class _Follows:
    """Which target a track followed at a time: the match of the last scored cycle by then.

    The picture is assessed at 10 Hz and scored at each 1 Hz cycle; an alert raised between
    two scored cycles is about the target its track followed at the one before.
    """

    def __init__(self, cycles: list[float], matches: dict[tuple[float, int], str]) -> None:
        self.cycles = np.asarray(cycles, dtype=float)
        self.matches = matches

    def get(self, key: tuple[float, int]) -> str | None:
        t, track_id = key
        k = int(np.searchsorted(self.cycles, t + 1e-6, side="right")) - 1
        if k < 0:
            return None
        return self.matches.get((round(float(self.cycles[k]), 6), track_id))


def _engagements(pipe: Pipeline, follows: _Follows) -> list[EngagementResult]:
    """Each approved engagement beside the truth of what its effector did to its target."""
    if pipe.counter is None:
        return []
    by_name = {t.name: t for t in pipe.targets}
    out = []
    for eng in pipe.counter.engagements.values():
        t_app = eng.approved_t_s - pipe.epoch_s
        # The approval comes in the cycle the view was taken: the same time key.
        target = follows.get((round(t_app, 6), _first_track(pipe, eng.eng_id)))
        path = by_name[target].path if target is not None else None
        real = (
            [(t, e) for t, e in path.effects_by(eng.effector.name) if t >= t_app]
            if isinstance(path, Countered)
            else []
        )
        # Anything that had taken the drone by the time of the assessment (another effector; an
        # earlier failsafe still being flown counts too: it is no longer its pilot's).
        by = math.inf if eng.outcome_t_s is None else eng.outcome_t_s - pipe.epoch_s + 5.0
        neutralised = isinstance(path, Countered) and any(t <= by for t, *_ in path.history)
        out.append(
            EngagementResult(
                eng_id=eng.eng_id,
                target=target,
                effector=eng.effector.name,
                kind=eng.effector.kind,
                approved_s=t_app,
                assessed=eng.outcome,
                assessed_s=None if eng.outcome_t_s is None else eng.outcome_t_s - pipe.epoch_s,
                true_effect=real[0][1] if real else None,
                true_effect_s=real[0][0] if real else None,
                target_neutralised=neutralised,
            )
        )
    return out


def _first_track(pipe: Pipeline, eng_id: int) -> int:
    """The track an engagement was approved on (before any handover)."""
    assert pipe.counter is not None
    ev = next(e for e in pipe.counter.events if e.kind == "approved" and e.eng_id == eng_id)
    return ev.track_id


def evaluate(
    scenario: Scenario,
    runs: int,
    gospa_c_m: float = 100.0,
    progress: Callable[[int], None] | None = None,
    rebuild: Callable[[int], Scenario] | None = None,
    tracker_config: TrackerConfig | None = None,
) -> list[RunResult]:
    """``runs`` Monte Carlo runs of a scenario (seeds ``seed``, ``seed + 1``, …).

    Each run re-seeds the sensors' noise; with ``rebuild`` (seed → scenario, e.g. reloading its
    file) it also redraws what the scenario itself draws, such as flocks and swarms. A
    ``tracker_config`` replaces the tracker's defaults (tuning studies).
    """
    out = []
    for k in range(runs):
        seed = scenario.seed + k
        scen = scenario if rebuild is None or k == 0 else rebuild(seed)
        out.append(evaluate_run(scen, seed, gospa_c_m, k == 0, tracker_config))
        if progress is not None:
            progress(k + 1)
    return out


def _stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Median, 90th percentile, max and how many of the values exist."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if v.size == 0:
        return {"n": 0, "of": len(values), "median": None, "p90": None, "max": None}
    return {
        "n": int(v.size),
        "of": len(values),
        "median": float(np.median(v)),
        "p90": float(np.percentile(v, 90)),
        "max": float(v.max()),
    }


def summary(runs: Sequence[RunResult]) -> dict[str, Any]:
    """The headline figures of a scenario's runs, JSON-ready (what ``--compare`` reads)."""
    if not runs:
        raise ValueError("no runs to summarise")
    hours = sum(r.duration_s for r in runs) / 3600.0
    targets = [t for r in runs for t in r.targets]
    confusion = np.sum([r.confusion for r in runs], axis=0)
    drones = [t for t in targets if t.true_class == "drone"]
    intruders = [t for t in targets if t.should_alert]
    confirmed = [t for t in drones if t.confirm_s is not None]

    def classed_within(s: float) -> int:
        return sum(
            1
            for t in confirmed
            if t.classify_s is not None
            and t.confirm_s is not None
            and t.classify_s <= t.confirm_s + s
        )

    classed_5s, classed_10s = classed_within(CLASSIFY_WITHIN_S), classed_within(KINEMATIC_WITHIN_S)
    bird_cycles = int(confusion[CLASSES.index("bird")].sum())
    birds_called = int(confusion[CLASSES.index("bird"), CLASSES.index("drone")])
    alerted = sum(1 for t in intruders if t.alert_s is not None)
    s: dict[str, Any] = {
        "scenario": runs[0].scenario,
        "runs": len(runs),
        "seeds": [r.seed for r in runs],
        "duration_s": runs[0].duration_s,
        "gospa_mean": float(np.mean([np.mean(r.gospa) for r in runs])),
        "missed_per_cycle": float(np.mean([np.mean(r.n_missed) for r in runs])),
        "false_tracks_per_cycle": float(np.mean([np.mean(r.n_false) for r in runs])),
        "time_to_detect_s": _stats([t.detect_s for t in targets if t.role != "bird"]),
        "time_to_detect_drone_s": _stats([t.detect_s for t in drones]),
        "time_to_confirm_s": _stats([t.confirm_s for t in targets if t.role != "bird"]),
        "time_to_confirm_drone_s": _stats([t.confirm_s for t in drones]),
        "time_to_classify_drone_s": _stats([t.classify_s for t in drones]),
        "time_to_alert_s": _stats([t.alert_s for t in targets if t.should_alert]),
        # Warning an operator had: from the alert to the intruder's entry into a zone
        # (negative: alerted only after it was in).
        "alert_lead_s": _stats(
            [
                t.breach_s - t.alert_s
                for t in targets
                if t.should_alert and t.breach_s is not None and t.alert_s is not None
            ]
        ),
        "intruders_in_zone_unwarned": sum(
            1
            for t in targets
            if t.should_alert
            and t.breach_s is not None
            and (t.alert_s is None or t.alert_s > t.breach_s)
        ),
        "intruders_alerted": alerted,
        "intruders": len(intruders),
        "intruders_alerted_share": alerted / len(intruders) if intruders else None,
        "alerts_raised": sum(r.alerts_raised for r in runs),
        "false_alerts": sum(r.false_alerts for r in runs),
        "false_alerts_per_hour": sum(r.false_alerts for r in runs) / hours if hours else 0.0,
        "spoof_alerts": sum(r.spoof_alerts for r in runs),
        "runs_spoof_alerted_share": sum(1 for r in runs if r.spoof_alerts) / len(runs),
        "time_to_spoof_alert_s": _stats([d for r in runs for d in r.spoof_alert_s]),
        "id_switches": sum(t.id_switches for t in targets),
        "id_switches_per_run": sum(t.id_switches for t in targets) / len(runs),
        "fragmentations": sum(t.fragmentations for t in targets),
        "track_ids_per_target": float(np.mean([max(len(t.track_ids), 1) for t in targets])),
        "coverage_drone": float(np.mean([t.coverage for t in drones])) if drones else None,
        **pilot_summary(targets, _stats),
        "confusion": {
            "classes": list(CLASSES),
            "counts": confusion.tolist(),
        },
        "birds_called_drone": birds_called,
        # Of the matched bird target-cycles (1 Hz: bird-track-seconds), the share called drone.
        "birds_called_drone_share": birds_called / bird_cycles if bird_cycles else None,
        # Matched manned-aircraft target-cycles called drone (None: no aircraft was tracked).
        "aircraft_called_drone": (
            int(confusion[CLASSES.index("aircraft"), CLASSES.index("drone")])
            if confusion[CLASSES.index("aircraft")].sum()
            else None
        ),
        # Confirmed drones whose track carried the class drone within 5 s of its confirmation.
        "drones_confirmed": len(confirmed),
        "drones_classed_within_5s": classed_5s,
        "drones_classed_within_5s_share": classed_5s / len(confirmed) if confirmed else None,
        "drones_classed_within_10s": classed_10s,
        "drones_classed_within_10s_share": classed_10s / len(confirmed) if confirmed else None,
        **_counter_summary(runs, targets),
    }
    s["goals"] = judge(s)
    s["verdict"] = overall(s["goals"])
    return s


def _counter_summary(runs: Sequence[RunResult], targets: Sequence[TargetResult]) -> dict[str, Any]:
    """Countermeasure figures: time to recommend, engagements and their outcomes, collateral."""
    engs = [e for r in runs for e in r.engagements]
    intruders = [t for t in targets if t.should_alert]
    judged = [e.assessment_right for e in engs if e.assessment_right is not None]
    outcomes: dict[str, int] = {}
    for e in engs:
        key = e.assessed or "pending"
        outcomes[key] = outcomes.get(key, 0) + 1
    return {
        "recommendations": sum(r.recommendations for r in runs),
        "time_to_recommend_s": _stats([t.recommend_s for t in intruders]),
        # From the intruder's first cycle carrying the class drone to the first recommendation.
        "time_classify_to_recommend_s": _stats(
            [
                t.recommend_s - t.classify_s
                for t in intruders
                if t.recommend_s is not None and t.classify_s is not None
            ]
        ),
        "engagements": len(engs),
        "engagements_effective": sum(1 for e in engs if e.effective),
        "engagement_outcomes": dict(sorted(outcomes.items())),
        "assessments_right": sum(1 for j in judged if j),
        "assessments_judged": len(judged),
        "intruders_neutralised": sum(1 for t in intruders if t.effect is not None),
        "time_to_neutralise_s": _stats([t.effect_s for t in intruders if t.effect is not None]),
        "neutralised_before_breach": sum(
            1
            for t in intruders
            if t.effect_s is not None and (t.breach_s is None or t.effect_s < t.breach_s)
        ),
        "collateral_effects": sum(len(r.collateral) for r in runs),
        # Breached with no proposal before, though an option could have acted in time had it
        # been proposed at classification (None: no effectors on site).
        "intruders_breached_unproposed": None
        if all(t.stoppable is None for t in intruders)
        else sum(
            1
            for t in intruders
            if t.stoppable
            and t.breach_s is not None
            and (t.recommend_s is None or t.recommend_s >= t.breach_s)
        ),
        "operator_refusals": sum(r.operator_refusals for r in runs),
    }


# Which way is better for each compared figure (-1: lower is better, +1: higher is better),
# and the tolerance within which a change counts as "same": relative to the old value for
# continuous figures, 0 for counts (any change counts).
DIRECTIONS: dict[str, tuple[int, float]] = {
    "gospa_mean": (-1, 0.05),
    "missed_per_cycle": (-1, 0.10),
    "false_tracks_per_cycle": (-1, 0.10),
    "false_alerts": (-1, 0.0),
    "false_alerts_per_hour": (-1, 0.0),
    "id_switches": (-1, 0.0),
    "fragmentations": (-1, 0.0),
    "birds_called_drone": (-1, 0.0),
    "birds_called_drone_share": (-1, 0.0),
    "aircraft_called_drone": (-1, 0.0),
    "drones_classed_within_5s_share": (+1, 0.0),
    "drones_classed_within_10s_share": (+1, 0.0),
    "time_to_detect_s.median": (-1, 0.10),
    "time_to_confirm_s.median": (-1, 0.10),
    "time_to_classify_drone_s.median": (-1, 0.10),
    "time_to_alert_s.median": (-1, 0.10),
    "alert_lead_s.median": (+1, 0.10),
    "intruders_in_zone_unwarned": (-1, 0.0),
    "intruders_alerted": (+1, 0.0),
    "time_to_recommend_s.median": (-1, 0.10),
    "time_classify_to_recommend_s.median": (-1, 0.10),
    "intruders_neutralised": (+1, 0.0),
    "intruders_breached_unproposed": (-1, 0.0),
    "collateral_effects": (-1, 0.0),
}

Word = Literal["better", "worse", "same", "new"]


@dataclass(frozen=True, slots=True)
class Change:
    """One figure of one scenario in two evaluations, and which way it moved.

    ``word``: ``better`` or ``worse`` when it moved beyond its tolerance the good or the bad
    way, ``same`` within it, ``worse`` when the figure disappeared, ``new`` when it appeared
    (e.g. a median time where no intruder had been alerted before).
    """

    scenario: str
    metric: str
    before: float | None
    after: float | None
    regression: bool
    better_when: Literal["lower", "higher"] = "lower"
    tolerance: float = 0.0  # relative; 0: any change counts
    word: Word = "same"

    @property
    def delta(self) -> float | None:
        """The change, after − before (None when either is missing)."""
        return None if self.before is None or self.after is None else self.after - self.before


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Metric by metric, scenario by scenario: what changed, and whether for better or worse.

    A figure is worse when it moves the wrong way by more than its tolerance (relative for
    continuous figures, any amount for counts) or disappears; better when it moves the right
    way by more than its tolerance; the same otherwise. Scenarios in only one of the two are
    left out.
    """
    out = []
    b_by = {s["scenario"]: s for s in before["scenarios"]}
    for s_after in after["scenarios"]:
        s_before = b_by.get(s_after["scenario"])
        if s_before is None:
            continue
        for metric, (sign, tol) in DIRECTIONS.items():
            b, a = value_of(s_before, metric), value_of(s_after, metric)
            if b is None and a is None:
                continue
            word: Word
            if a is None:
                word = "worse"
            elif b is None:
                word = "new"
            else:
                gain = sign * (a - b)  # > 0: moved the good way
                bar = tol * max(abs(b), 1e-9) if tol else 0.0
                word = "better" if gain > bar else "worse" if -gain > bar else "same"
            out.append(
                Change(
                    s_after["scenario"],
                    metric,
                    b,
                    a,
                    word == "worse",
                    "higher" if sign > 0 else "lower",
                    tol,
                    word,
                )
            )
    return out


def finite_or_none(x: float | None) -> float | None:
    """JSON has no NaN: map it to null."""
    return None if x is None or not math.isfinite(x) else x
