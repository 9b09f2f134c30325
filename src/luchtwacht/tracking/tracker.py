"""The tracker: all tracks in one struct-of-arrays table, updated batch by batch.

Per detection batch (one sensor, one time): predict every track to the batch time, gate
(grid + χ²), associate (GNN), update the assigned tracks (Kalman; a second hit on a new track
instead sets the velocity from two points), start tentative tracks on the unassigned detections,
then confirm (M of N hits and an existence probability, IPDA-style), hold tracks that are probably
gone and delete lost ones. Identification evidence carried by detections (class
log-likelihoods, cooperative identities) is accumulated on the tracks here so the identify stage
can read it as arrays.

No input may abort a scan or leave a track that is not a number (whoever controls one sensor
feed would otherwise blind the whole picture): every batch first passes admission
(:mod:`luchtwacht.tracking.admission`), which drops and counts unfit rows; measurements of a
target on a sensor's vertical axis are gated out; and a track whose state stops being finite is
dropped after each batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import chdtri, expit

from luchtwacht.model.detection import N_CLASSES, BearingBatch, DetectionBatch, RfEmitter
from luchtwacht.tracking.admission import (
    Admitted,
    admit_bearings,
    admit_detections,
    detection_faults,
    nonfinite_tracks,
)
from luchtwacht.tracking.admission import warm_up as admission_warm_up
from luchtwacht.tracking.association import GatedPairs, gate, gnn, gnn_pairs
from luchtwacht.tracking.imm import IMM_STATE_DIM
from luchtwacht.tracking.imm_kernels import (
    KIND_AZ_EL,
    KIND_AZIMUTH,
    KIND_CARTESIAN,
    KIND_RADAR,
    KIND_RADAR_DOPPLER,
    MODEL_CA,
    MODEL_CT,
    MODEL_NCV,
    ekf_update_rows,
    gate_refine,
    imm_pda_update_inplace,
    imm_predict_inplace,
    imm_update_inplace,
)
from luchtwacht.tracking.imm_kernels import warm_up as imm_warm_up
from luchtwacht.tracking.jpda import likelihood_ratios, marginals, pda_update
from luchtwacht.tracking.kernels import (
    existence_decay_inplace,
    kf_update_inplace,
    ncv_predict_inplace,
    warm_up,
)
from luchtwacht.tracking.measurement import (
    MIN_HORIZONTAL_RANGE_M,
    ekf_innovation,
    ekf_update,
    on_sensor_axis,
)
from luchtwacht.tracking.models import POS, STATE_DIM, VEL, ncv_predict
from luchtwacht.tracking.triangulation import pair_bearings

F64 = NDArray[np.float64]
B = TypeVar("B", DetectionBatch, BearingBatch)

_HALF_LN_2PI_3 = 1.5 * math.log(2.0 * math.pi)  # normalising constant of a 3D Gaussian
MIN_TWO_POINT_DT_S = 0.2  # shorter time bases make no velocity worth having
TENTATIVE = 0
CONFIRMED = 1


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Tuning of the tracker; units in the names."""

    q_m2_s3: float = 4.0  # NCV acceleration PSD: weaving quadcopters need a few m²/s³
    gate_prob: float = 0.9999  # χ² gate probability (3 dof): keeps manoeuvring drones gated
    init_speed_std_ms: float = 40.0  # horizontal velocity prior of a one-point track
    init_climb_std_ms: float = 10.0  # vertical likewise: small drones climb slower than they fly
    confirm_m: int = 2  # M of N: a track needs M hits among its last N chances (2: a velocity)
    confirm_n: int = 3
    coast_s: float = 5.0  # confirmed track dropped after this long without an update
    tentative_coast_s: float = 3.5
    max_pos_std_m: float = 300.0  # or when its position is this uncertain
    pd: float = 0.9  # detection probability of a batch that does not state its own
    clutter_density_m3: float = 1e-10  # false alarms per m³, likewise
    mean_life_s: float = 60.0  # expected time a target stays in the picture (existence decay)
    init_existence: float = 0.5  # existence probability of a one-plot track
    confirm_existence: float = 0.99  # …and this existence probability confirm a track (SPRT α 1 %)
    report_existence: float = 0.5  # a confirmed track below this is held but not reported
    delete_existence: float = 0.01  # a track below this is deleted
    assoc: str = "gnn"  # "gnn" (one detection per track) or "jpda" (weighted by probability)
    # Per-sensor choice, overriding ``assoc``: e.g. (("radar-2", "jpda"),) for a cluttered one.
    assoc_by_sensor: tuple[tuple[str, str], ...] = ()
    bearing_pair_window_s: float = 1.0  # bearings of two sensors this close in time may cross
    oosm_window_s: float = 7.0  # a batch this much older than the newest is still applied
    # False bearings per radian of azimuth; an azimuth/elevation sensor is taken to have this
    # per radian on each axis (its square per rad²).
    bearing_clutter_density: float = 0.01
    evidence_weight: float = 0.5  # tempering of per-detection class evidence (correlated looks)
    motion: str = "ncv"  # "ncv" (one model, q_m2_s3) or "imm" (NCV, CA and CT, mixed)
    imm_q_m2_s3: float = 0.5  # IMM: acceleration PSD of its NCV and CT models (quiet: the
    imm_q_ca_m2_s5: float = 4.0  # manoeuvres are the CA model's, with this jerk PSD)
    imm_switch_per_s: float = 0.1  # rate of leaving a motion mode (Markov chain), per second
    imm_init_mu: tuple[float, float, float] = (0.6, 0.2, 0.2)  # NCV, CA, CT of a new track
    imm_turn_min_rad_s: float = 0.05  # the CT model never turns slower than this…
    imm_turn_max_rad_s: float = 1.0  # …nor faster (an FPV racer turns at about 1 rad/s)
    init_accel_std_ms2: float = 3.0  # acceleration prior of a new IMM track
    clutter_doppler_span_ms: float = 200.0  # false alarms' range rates spread over this
    # A radar's range rate is exact to a fraction of a m/s, but a braking or turning drone
    # changes it by more than one motion model step allows: this much (1 σ) is added to its
    # variance so that a manoeuvre does not throw the plot out of the gate.
    range_rate_manoeuvre_std_ms: float = 3.0

    @property
    def gate_d2(self) -> float:
        """χ² threshold on the squared Mahalanobis distance of a 3D innovation."""
        return float(chdtri(3, 1.0 - self.gate_prob))  # inverse χ² survival, 3 dof


def logit(p: float) -> float:
    """Log-odds of a probability."""
    return math.log(p) - math.log1p(-p)


class TrackTable:
    """Struct of arrays holding every live track; rows are compacted on deletion."""

    def __init__(self, report_score: float = 0.0) -> None:
        self.report_score = report_score  # a confirmed track is reported at this score or above
        self.x: F64 = np.empty((0, STATE_DIM))
        self.P: F64 = np.empty((0, STATE_DIM, STATE_DIM))
        self.t_s: F64 = np.empty(0)
        self.track_id: NDArray[np.int64] = np.empty(0, np.int64)
        self.status: NDArray[np.int8] = np.empty(0, np.int8)
        self.hist: NDArray[np.int64] = np.empty(0, np.int64)  # hit bits, newest in bit 0
        self.n_events: NDArray[np.int64] = np.empty(0, np.int64)
        self.hits: NDArray[np.int64] = np.empty(0, np.int64)
        self.first_t_s: F64 = np.empty(0)
        self.last_hit_t_s: F64 = np.empty(0)
        self.confirmed_t_s: F64 = np.empty(0)
        self.class_ev: F64 = np.empty((0, N_CLASSES))
        self.seen_by: NDArray[np.int64] = np.empty(0, np.int64)  # bit per sensor that hit it
        self.score: F64 = np.empty(0)  # log-odds that the track is a real target (existence)
        self.score_t_s: F64 = np.empty(0)  # latest time existence was decayed to
        self.ident: NDArray[np.object_] = np.empty(0, dtype=object)
        self.emitter: NDArray[np.object_] = np.empty(0, dtype=object)  # RfEmitter or None
        self.z0: F64 = np.empty((0, 3))  # first detection, for the two-point velocity
        self.r0: F64 = np.empty((0, 3, 3))
        # IMM: per-model 9-states, covariances and mode probabilities (M = 0 for plain NCV);
        # x and P above then hold their moment-matched combination.
        self.xm: F64 = np.empty((0, 0, IMM_STATE_DIM))
        self.Pm: F64 = np.empty((0, 0, IMM_STATE_DIM, IMM_STATE_DIM))
        self.mu: F64 = np.empty((0, 0))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    _FIELDS = (
        "x", "P", "t_s", "track_id", "status", "hist", "n_events", "hits", "first_t_s",
        "last_hit_t_s", "confirmed_t_s", "class_ev", "ident", "emitter", "z0", "r0", "score",
        "score_t_s",
        "xm", "Pm", "mu", "seen_by",
    )  # fmt: skip

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop every row where ``mask`` is False."""
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def append(self, other: TrackTable) -> None:
        """Append the rows of another table (new tracks)."""
        for name in self._FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))

    @property
    def confirmed(self) -> NDArray[np.bool_]:
        """Mask of the rows reported as tracks: confirmed, and more likely real than not now.

        A confirmed track whose existence has fallen below ``report_existence`` (a few misses in
        a row) is held, not reported: it keeps its id if the target shows up again, and it is not
        shown as a target that is probably gone.
        """
        mask: NDArray[np.bool_] = (self.status == CONFIRMED) & (self.score >= self.report_score)
        return mask

    @property
    def existence(self) -> F64:
        """Probability that each track is a real target."""
        out: F64 = expit(self.score)
        return out


class Tracker:
    """Multi-target tracker over detection batches from any number of sensors."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        cfg = self.config
        self._confirm_score = logit(cfg.confirm_existence)
        self._delete_score = logit(cfg.delete_existence)
        self._init_score = logit(cfg.init_existence)
        self.tracks = TrackTable(logit(cfg.report_existence))
        warm_up()
        admission_warm_up()
        self._next_id = 1
        self._gate_d2 = self.config.gate_d2
        # Ids of recently dropped confirmed tracks (bounded: a live node runs for weeks).
        self.deleted_ids: deque[int] = deque(maxlen=10_000)
        self._bits: dict[str, int] = {}
        self._free_bits: list[int] = []  # bits of sensors released, for the next ones
        self._bits_made = 0
        self._names_of: dict[int, tuple[str, ...]] = {}  # seen_by mask → sensor names
        self._gated: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self._bearing_buffer: list[tuple[float, BearingBatch, NDArray[np.int64]]] = []
        self.latest_t_s = -math.inf  # newest batch time applied
        self.late_rejected = 0  # batches beyond the out-of-sequence window, not applied
        # What admission kept out (luchtwacht.tracking.admission), by Refusal value: rows
        # dropped (every row of a batch refused whole, too) and batches refused whole; and
        # tracks dropped because their state, covariance or score stopped being finite.
        self.rows_refused: Counter[str] = Counter()
        self.batches_refused: Counter[str] = Counter()
        self.tracks_dropped_nonfinite = 0
        self._assoc = dict(cfg.assoc_by_sensor)
        for name in (cfg.assoc, *self._assoc.values()):
            if name not in ("gnn", "jpda"):
                raise ValueError(f"unknown association {name!r}: gnn or jpda")
        if cfg.motion not in ("ncv", "imm"):
            raise ValueError(f"unknown motion model {cfg.motion!r}: ncv or imm")
        self._imm = cfg.motion == "imm"
        if self._imm:
            imm_warm_up()
            self._models = np.array([MODEL_NCV, MODEL_CA, MODEL_CT], np.int64)
            self._model_q = np.array([cfg.imm_q_m2_s3, cfg.imm_q_ca_m2_s5, cfg.imm_q_m2_s3])
            m = self._models.size
            self.tracks.xm = np.empty((0, m, IMM_STATE_DIM))
            self.tracks.Pm = np.empty((0, m, IMM_STATE_DIM, IMM_STATE_DIM))
            self.tracks.mu = np.empty((0, m))

    def predicted(self, t_s: float) -> tuple[F64, F64]:
        """States and covariances of every track predicted to ``t_s``; the table is unchanged."""
        tt = self.tracks
        if not len(tt):
            return tt.x.copy(), tt.P.copy()
        dt = t_s - tt.t_s
        return ncv_predict(tt.x, tt.P, dt, self.config.q_m2_s3)

    def maintain(self, t_s: float) -> None:
        """Drop tracks that have gone without updates too long by ``t_s``.

        Called between batches too: a sensor that sees nothing sends nothing.
        """
        self._delete(t_s)

    def _in_sequence(self, t_b: float) -> bool:
        """Whether a batch at ``t_b`` is applied: in order, or late within the OOSM window.

        A late batch is applied by retrodiction: every track is predicted back to its time
        (process noise of |dt| added, the conservative approximation of Bar-Shalom 2002's
        one-step algorithm), updated there, and carried forward again by the next batch.
        """
        if t_b < self.latest_t_s - self.config.oosm_window_s:
            self.late_rejected += 1
            return False
        self.latest_t_s = max(self.latest_t_s, t_b)
        return True

    def _predict(self, t_b: float) -> None:
        """Carry every track to ``t_b``: NCV prior, and existence decayed over the elapsed time.

        Existence follows the Markov chain of IPDA (Mušicki, Evans & Stanković 1994): a target
        survives dt with probability p = exp(−dt / ``mean_life_s``), so r⁻ = p·r. In log-odds,
        score⁻ = ln(p·r) − ln(1 − p·r) with 1 − p·r = (1 − p) + p·(1 − r), kept exact for
        scores far from zero. The decay caps the score of a track that is hit every scan near
        ln(p / (1 − p)), so a target that is gone is dropped after a few misses however long it
        was tracked. A retrodicted (late) batch decays nothing.
        """
        tt, cfg = self.tracks, self.config
        if not len(tt):
            return
        dt = t_b - tt.t_s
        if self._imm:
            imm_predict_inplace(
                tt.xm, tt.Pm, tt.mu, dt, self._switching(dt), self._models, self._model_q,
                cfg.imm_turn_min_rad_s, cfg.imm_turn_max_rad_s, tt.x, tt.P,
            )  # fmt: skip
        else:
            ncv_predict_inplace(tt.x, tt.P, dt, cfg.q_m2_s3)
        tt.t_s = np.full(len(tt), t_b)
        # Existence decays on its own clock: a late batch moves the state back, not time, so
        # the interval it re-crosses is not decayed twice.
        existence_decay_inplace(tt.score, t_b - tt.score_t_s, cfg.mean_life_s)
        np.maximum(tt.score_t_s, t_b, out=tt.score_t_s)

    def _switching(self, dt: F64) -> F64:
        """IMM Markov matrix for this step: leave a mode with probability 1 − e^(−rate·|dt|).

        One matrix for the batch, from the largest step (new tracks' steps are shorter), with
        the probability of leaving shared equally by the other modes.
        """
        step = float(np.abs(dt).max()) if dt.size else 0.0
        leave = -math.expm1(-self.config.imm_switch_per_s * step)
        m = self._models.size
        pi: F64 = np.full((m, m), leave / (m - 1))
        np.fill_diagonal(pi, 1.0 - leave)
        return pi

    def process(self, batch: DetectionBatch) -> bool:
        """Fold one batch of detections into the track table; False if it was not applied.

        Not applied (False, nothing changed): a batch too late for the out-of-sequence window
        (counted in ``late_rejected``), or one refused whole by admission (``batches_refused``):
        no finite time (an empty batch needs ``scan_t_s``), a radar measurement without a usable
        sensor position, or rows every one of which is unfit. Unfit rows of a batch that has fit
        ones (non-finite or out-of-range values, covariances not symmetric positive definite:
        :mod:`luchtwacht.tracking.admission`) are dropped, counted in ``rows_refused`` by
        reason, and the rest is applied: one bad plot does not blind a good scan. A track whose
        state is no longer finite afterwards is dropped (``tracks_dropped_nonfinite``).
        """
        admitted = self._admitted(admit_detections(batch))
        if admitted is None:
            return False
        batch = admitted
        cfg, tt = self.config, self.tracks
        t_b = batch.time_s
        if not self._in_sequence(t_b):
            return False
        n_d = len(batch)
        if batch.polar_cov is not None and batch.polar_cov.shape[1] == 4:
            cov = batch.polar_cov.copy()
            cov[:, 3, 3] += cfg.range_rate_manoeuvre_std_ms**2
            batch = dataclasses.replace(batch, polar_cov=cov)
        self._predict(t_b)
        self._gated = np.zeros(len(tt), dtype=bool)
        jpda = self._assoc.get(batch.sensor_id, cfg.assoc) == "jpda"
        if n_d and jpda:
            ti, di, unassigned = self._jpda(batch)
        else:
            if n_d:
                pairs = self._gate(batch)
                k = gnn_pairs(pairs, len(tt), n_d)
                ti, di = pairs.track[k], pairs.det[k]
                self._update_assigned(batch, ti, di, pairs.cost[k])
            else:
                ti = di = np.empty(0, np.int64)
            unassigned = np.ones(n_d, dtype=bool)
            unassigned[di] = False
        self._score(batch, ti)
        self._delete(t_b)
        self._start(batch, np.flatnonzero(unassigned))
        self._drop_nonfinite()
        return True

    def process_bearings(self, batch: BearingBatch) -> bool:
        """Fold one angle-only batch in: update the tracks it sees, start tracks where it crosses.

        Tracks in the gate are EKF-updated (GNN on the angle innovations). A bearing alone fixes
        no position, so bearings no track takes wait
        ``bearing_pair_window_s`` for a bearing of another sensor to cross (triangulation with
        rejection of near-parallel, out-of-range and inconsistent pairs); each accepted crossing
        starts a tentative track at the fix, with its covariance.

        False, and nothing changed, if it came too late or was refused whole (no finite time or
        sensor position, or no fit bearing); unfit bearings of a batch with fit ones are dropped
        and counted, as :meth:`process` does. A bearing of a track within
        :data:`~luchtwacht.tracking.measurement.MIN_HORIZONTAL_RANGE_M` of the sensor's vertical
        (no azimuth) neither gates nor updates it.
        """
        admitted = self._admitted(admit_bearings(batch))
        if admitted is None:
            return False
        batch = admitted
        tt = self.tracks
        t_b = batch.time_s
        if not self._in_sequence(t_b):
            return False
        self._predict(t_b)
        self._gated = np.zeros(len(tt), dtype=bool)
        n_d = len(batch)
        with_el = np.isfinite(batch.elevation_rad)
        taken = np.zeros(n_d, dtype=bool)
        hit_tracks: list[NDArray[np.int64]] = []
        for kind, rows in (
            ("azimuth_elevation", np.flatnonzero(with_el)),
            ("azimuth", np.flatnonzero(~with_el)),
        ):
            if rows.size == 0 or not len(tt):
                continue
            ti, di = self._bearing_assign(batch, kind, rows)
            taken[di] = True
            hit_tracks.append(ti)
        ti_all = np.concatenate(hit_tracks) if hit_tracks else np.empty(0, np.int64)
        self._score(batch, ti_all)
        self._delete(t_b)
        self._bearings_start(batch, np.flatnonzero(~taken))
        self._drop_nonfinite()
        return True

    def _admitted(self, admitted: Admitted[B]) -> B | None:
        """The admitted rows of a batch (None: refused whole), with the refusals counted."""
        if admitted.rows_refused:
            self.rows_refused.update(r.value for r in admitted.rows_refused)
        if admitted.batch_refusal is not None:
            self.batches_refused[admitted.batch_refusal.value] += 1
        return admitted.batch

    def _drop_nonfinite(self) -> None:
        """Drop every track whose state, covariance or score (or IMM model) is not finite.

        Admission keeps non-finite input out and degenerate geometry is gated out, so this is the
        last line rather than the usual path: a track that is not a number would gate nothing
        or everything and poison every picture downstream, and cannot be repaired. A confirmed
        one is reported as deleted.
        """
        tt = self.tracks
        bad = nonfinite_tracks(tt.x, tt.P, tt.score, tt.xm, tt.Pm, tt.mu)
        if bad.size == 0:
            return
        self.tracks_dropped_nonfinite += int(bad.size)
        self.deleted_ids.extend(tt.track_id[bad][tt.status[bad] == CONFIRMED].tolist())
        keep = np.ones(len(tt), dtype=bool)
        keep[bad] = False
        tt.keep(keep)

    def _bearing_assign(
        self, batch: BearingBatch, kind: str, rows: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Gate every track against the bearings ``rows`` of one kind, GNN, EKF-update."""
        tt, cfg = self.tracks, self.config
        m = 2 if kind == "azimuth_elevation" else 1
        z = (
            batch.azimuth_rad[rows, None]
            if m == 1
            else np.stack([batch.azimuth_rad[rows], batch.elevation_rad[rows]], axis=1)
        )
        r = np.zeros((rows.size, m, m))
        r[:, 0, 0] = batch.azimuth_std_rad[rows] ** 2
        if m == 2:
            r[:, 1, 1] = batch.elevation_std_rad[rows] ** 2
        n_t = len(tt)
        gate_d2 = float(chdtri(m, 1.0 - cfg.gate_prob))
        pt, pd_ = _azimuth_candidates(
            tt.x, tt.P, batch.sensor_enu_m, z[:, 0], batch.azimuth_std_rad[rows], gate_d2
        )
        nu, s, _ = ekf_innovation(tt.x[pt], tt.P[pt], z[pd_], r[pd_], batch.sensor_enu_m, kind)  # type: ignore[arg-type]
        s_inv = np.linalg.inv(s)
        d2 = np.einsum("ni,nij,nj->n", nu, s_inv, nu)
        logdet = np.log(np.linalg.det(s))
        # A track on the sensor's vertical axis has no azimuth: the bearing says nothing of it.
        keep = (d2 <= gate_d2) & ~on_sensor_axis(tt.x[pt], batch.sensor_enu_m)
        pairs = GatedPairs(pt[keep], pd_[keep], d2[keep], d2[keep] + logdet[keep])
        self._gated[pairs.track] = True
        chosen = gnn_pairs(pairs, n_t, rows.size)
        ti, dl = pairs.track[chosen], pairs.det[chosen]
        if ti.size == 0:
            return ti, rows[dl]
        # In a fan of bearings (a swarm seen edge-on) the pairing is a guess: a bearing that
        # gates several tracks, or a track that gates several bearings, would pull a well-held
        # track by a neighbour's bearing. Such pairs count as a look (no miss, no new track);
        # only one-to-one pairs update the state and the score.
        t_deg = np.bincount(pairs.track, minlength=n_t)
        d_deg = np.bincount(pairs.det, minlength=rows.size)
        clear = (t_deg[ti] == 1) & (d_deg[dl] == 1)
        taken_rows = rows[dl]
        ti, dl, chosen = ti[clear], dl[clear], chosen[clear]
        if ti.size == 0:
            return ti, taken_rows
        if self._imm:
            imm_update_inplace(
                tt.xm, tt.Pm, tt.mu, ti, np.ascontiguousarray(z[dl]), r[dl],
                KIND_AZIMUTH if m == 1 else KIND_AZ_EL, np.asarray(batch.sensor_enu_m, float),
                tt.x, tt.P,
            )  # fmt: skip
        else:
            tt.x[ti], tt.P[ti] = ekf_update(
                tt.x[ti],
                tt.P[ti],
                z[dl],
                r[dl],
                batch.sensor_enu_m,
                kind,  # type: ignore[arg-type]
            )
        di = rows[dl]
        pd, _ = self._sensor(batch)
        log_beta = m * math.log(cfg.bearing_clutter_density)  # per rad, per rad² with elevation
        self._score_hits(
            ti,
            math.log(pd) - log_beta - 0.5 * pairs.cost[chosen] - 0.5 * m * math.log(2.0 * math.pi),
            pd,
        )
        self._book_hits(batch, ti, di, np.full(ti.size, batch.t_s))
        return ti, taken_rows

    def _bearings_start(self, batch: BearingBatch, free: NDArray[np.int64]) -> None:
        """Cross free bearings with those other sensors left recently; start tracks at the fixes."""
        cfg = self.config
        window = cfg.bearing_pair_window_s
        self._bearing_buffer = [b for b in self._bearing_buffer if batch.t_s - b[0] <= window]
        mine = free
        for k, (t_o, other, idx_o) in enumerate(list(self._bearing_buffer)):
            if other.sensor_id == batch.sensor_id or mine.size == 0 or idx_o.size == 0:
                continue
            pairs = pair_bearings(
                batch.sensor_enu_m, batch.azimuth_rad[mine],
                other.sensor_enu_m, other.azimuth_rad[idx_o],
                batch.azimuth_std_rad[mine], other.azimuth_std_rad[idx_o],
                batch.elevation_rad[mine], other.elevation_rad[idx_o],
                _std_or(batch.elevation_std_rad[mine], 0.01),
                _std_or(other.elevation_std_rad[idx_o], 0.01),
            )  # fmt: skip
            ia, ib, pos, cov = pairs.accepted()
            if ia.size == 0:
                continue
            # One fix per bearing: the most consistent crossing wins where bearings are shared.
            chi2 = pairs.result.chi2[pairs.result.ok]
            order = np.argsort(chi2, kind="stable")
            used_a: set[int] = set()
            used_b: set[int] = set()
            pick = []
            for j in order.tolist():
                if int(ia[j]) not in used_a and int(ib[j]) not in used_b:
                    used_a.add(int(ia[j]))
                    used_b.add(int(ib[j]))
                    pick.append(j)
            sel = np.array(pick, dtype=np.int64)
            # A fix is a measurement like a plot: one admission would refuse (beyond the site,
            # covariance not positive definite) starts nothing, and its bearings stay free.
            fit = detection_faults(
                np.full(sel.size, batch.t_s), pos[sel], cov[sel],
                batch.class_loglik[mine[ia[sel]]],
            )  # fmt: skip
            sel = sel[fit == 0]
            if sel.size == 0:
                continue
            fixes = DetectionBatch(
                sensor_id=batch.sensor_id,
                t_s=np.full(sel.size, batch.t_s),
                z=pos[sel],
                R=cov[sel],
                class_loglik=batch.class_loglik[mine[ia[sel]]],
                ident=tuple(batch.ident[i] for i in mine[ia[sel]]) if batch.ident else (),
                emitter=_pair_emitters(batch, mine[ia[sel]], other, idx_o[ib[sel]]),
            )
            n_before = len(self.tracks)
            self._start(fixes, np.arange(sel.size, dtype=np.int64))
            self.tracks.seen_by[n_before:] |= self._sensor_bit(other.sensor_id)
            mine = np.setdiff1d(mine, mine[ia[sel]])
            self._bearing_buffer[k] = (t_o, other, np.setdiff1d(idx_o, idx_o[ib[sel]]))
        if mine.size:
            self._bearing_buffer.append((batch.t_s, batch, mine))

    def _jpda(
        self, batch: DetectionBatch
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """JPDA step: PDA-update every gated track, then book the most probable detections.

        Returns (tracks, detections) counted as hits (a track whose detection probability
        1 − β_i0 ≥ ½, with its most probable detection) and the detections no track claims
        (Σ_i β_ij < ½), which start tentative tracks.
        """
        tt = self.tracks
        n_t, n_d = len(tt), len(batch)
        pairs = gate(tt.x, tt.P, batch.z, batch.R, self._gate_d2)
        pd, beta_fa = self._sensor(batch)
        psi = likelihood_ratios(pairs, pd, beta_fa)
        beta, beta_miss = marginals(pairs, psi, n_t, n_d)
        # PDA score: the track likelihood ratio is (1 − PD)(1 + Σ_j ψ_ij) for a gated track.
        has = np.bincount(pairs.track, minlength=n_t) > 0
        self._gated = has
        tt.score[has] += math.log1p(-pd) + np.log1p(
            np.bincount(pairs.track, weights=psi, minlength=n_t)[has]
        )
        claimed = np.bincount(pairs.det, weights=beta, minlength=n_d)
        # Hits are booked one to one (a detection is one track's hit at most): the most probable
        # joint choice among tracks more likely detected than missed.
        likely = (1.0 - beta_miss[pairs.track]) >= 0.5
        booking = GatedPairs(
            pairs.track[likely],
            pairs.det[likely],
            pairs.d2[likely],
            -np.log(np.maximum(beta[likely], 1e-300)),
        )
        ti, di = gnn(booking, n_t, n_d)
        # Young tracks (one plot so far) take their most probable detection outright: two
        # points make the velocity. The others take the weighted update (per model with the IMM).
        young = tt.hits == 1
        pda_rows = ~young[pairs.track]
        sub = GatedPairs(
            pairs.track[pda_rows], pairs.det[pda_rows], pairs.d2[pda_rows], pairs.cost[pda_rows]
        )
        if self._imm:
            imm_pda_update_inplace(
                tt.xm, tt.Pm, tt.mu, sub.track, sub.det, beta[pda_rows], beta_miss, batch.z,
                batch.R, pd, np.full(sub.track.size, math.log(beta_fa)), tt.x, tt.P,
            )  # fmt: skip
        else:
            tt.x, tt.P = pda_update(tt.x, tt.P, batch.z, batch.R, sub, beta[pda_rows], beta_miss)
        self._update_assigned(batch, ti, di, None)
        free = claimed < 0.5
        free[di] = False
        return ti, di, free

    def _gate(self, batch: DetectionBatch) -> GatedPairs:
        """Gated pairs of a batch: in ENU, or for a radar batch in its own measurement space.

        A radar's plots are pre-gated loosely (4× the χ² threshold) on their ENU conversion,
        then gated exactly on the EKF innovation of (az, el, r[, ṙ]) with its own χ² threshold.
        """
        tt = self.tracks
        if batch.polar is None:
            return gate(tt.x, tt.P, batch.z, batch.R, self._gate_d2)
        assert batch.polar_cov is not None
        assert batch.sensor_enu_m is not None
        loose = gate(tt.x, tt.P, batch.z, batch.R, 4.0 * self._gate_d2)
        m = batch.polar.shape[1]
        keep, d2, logdet = gate_refine(
            tt.x, tt.P, loose.track, loose.det, batch.polar, batch.polar_cov,
            KIND_RADAR if m == 3 else KIND_RADAR_DOPPLER, batch.sensor_enu_m,
            float(chdtri(m, 1.0 - self.config.gate_prob)),
        )  # fmt: skip
        return GatedPairs(loose.track[keep], loose.det[keep], d2, d2 + logdet)

    def _clutter_log_density(self, batch: DetectionBatch, di: NDArray[np.int64]) -> F64:
        """Ln β_FA of each detection in the space its innovation lives in.

        ENU: the sensor's density per m³. Radar (az, el, r): its own ``clutter_density_polar``
        if stated, else the m³ density times the volume element r² cos(el) of that space (per
        rad²·m), and per m/s of the Doppler span.
        """
        beta = math.log(self._sensor(batch)[1])
        if batch.polar is None:
            return np.full(di.size, beta)
        if batch.clutter_density_polar > 0.0:  # stated in the radar's own space
            return np.full(di.size, math.log(batch.clutter_density_polar))
        el, rng = batch.polar[di, 1], batch.polar[di, 2]
        # r² cos(el) = r·ρ vanishes at the radar (a range-0 plot); floored as ρ is elsewhere
        volume = np.maximum(rng * rng * np.cos(el), MIN_HORIZONTAL_RANGE_M**2)
        out: F64 = beta + np.log(volume)
        if batch.polar.shape[1] == 4:
            out -= math.log(self.config.clutter_doppler_span_ms)
        return out

    def _update_assigned(
        self,
        batch: DetectionBatch,
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        gate_cost: F64 | None,
    ) -> None:
        """Book hits; given the pairs' gate cost d² + ln|S| also score and Kalman-update them.

        GNN passes the cost; JPDA (whose weighted update is already done) passes None.
        """
        tt, cfg = self.tracks, self.config
        if ti.size == 0:
            return
        z, r = batch.z[di], batch.R[di]
        # Two points make a velocity only over a real time base (not two sensors' same-instant or
        # out-of-order plots): otherwise the second plot is an ordinary Kalman update.
        dt_two = batch.t_s[di] - tt.first_t_s[ti]
        two_point = (tt.hits[ti] == 1) & (dt_two >= MIN_TWO_POINT_DT_S)
        if gate_cost is not None:
            pd, _ = self._sensor(batch)
            m = 3 if batch.polar is None else batch.polar.shape[1]
            log_lr = (
                math.log(pd) - self._clutter_log_density(batch, di) - 0.5 * gate_cost
                - 0.5 * m * math.log(2.0 * math.pi)
            )  # fmt: skip
            self._score_hits(ti, log_lr, pd)
            kf = ~two_point
            self._filter_update(batch, ti[kf], di[kf])
        if two_point.any():
            a = ti[two_point]
            dt = dt_two[two_point][:, None]
            z2, r2 = z[two_point], r[two_point]
            x = np.zeros((a.size, STATE_DIM))
            x[:, POS] = z2
            x[:, VEL] = (z2 - tt.z0[a]) / dt
            p = np.zeros((a.size, STATE_DIM, STATE_DIM))
            p[:, POS, POS] = r2
            p[:, POS, VEL] = r2 / dt[:, :, None]
            p[:, VEL, POS] = r2 / dt[:, :, None]
            p[:, VEL, VEL] = (r2 + tt.r0[a]) / (dt[:, :, None] ** 2)
            # That is the state at the second plot's time; the track's time may be later (the
            # batch's newest plot): carry it there.
            lag = tt.t_s[a] - batch.t_s[di[two_point]]
            if np.any(lag != 0.0):
                x, p = ncv_predict(x, p, lag, cfg.q_m2_s3)
            tt.x[a], tt.P[a] = x, p
            if self._imm:
                self._imm_reset(a)
        self._book_hits(batch, ti, di, batch.t_s[di])

    def _filter_update(
        self, batch: DetectionBatch, ti: NDArray[np.int64], di: NDArray[np.int64]
    ) -> None:
        """Update tracks ``ti`` with detections ``di``: Kalman in ENU, EKF for radar plots.

        The NCV Kalman update applies each plot at its own time (a sweep's earlier plots are
        not applied as if later). The IMM and the radar EKF apply a batch's plots at the batch
        time: plots of one batch lie within the fusion core's merge window (0.25 s).
        """
        tt, cfg = self.tracks, self.config
        if ti.size == 0:
            return
        if batch.polar is None:
            z, r, kind, sensor = batch.z[di], batch.R[di], KIND_CARTESIAN, np.zeros(3)
        else:
            assert batch.polar_cov is not None
            assert batch.sensor_enu_m is not None
            z, r, sensor = batch.polar[di], batch.polar_cov[di], batch.sensor_enu_m
            kind = KIND_RADAR if z.shape[1] == 3 else KIND_RADAR_DOPPLER
        if self._imm:
            imm_update_inplace(tt.xm, tt.Pm, tt.mu, ti, z, r, kind, sensor, tt.x, tt.P)
        elif batch.polar is not None:
            ekf_update_rows(tt.x, tt.P, ti, z, r, kind, sensor)
        else:
            kf_update_inplace(tt.x, tt.P, ti, z, r, batch.t_s[di] - tt.t_s[ti], cfg.q_m2_s3)

    def _imm_reset(self, rows: NDArray[np.int64]) -> None:
        """Every model of IMM tracks ``rows`` restarts from their 6-state, with no acceleration."""
        tt, cfg = self.tracks, self.config
        n = rows.size
        xm = np.zeros((n, IMM_STATE_DIM))
        xm[:, :STATE_DIM] = tt.x[rows]
        pm = np.zeros((n, IMM_STATE_DIM, IMM_STATE_DIM))
        pm[:, :STATE_DIM, :STATE_DIM] = tt.P[rows]
        acc = np.arange(STATE_DIM, IMM_STATE_DIM)
        pm[:, acc, acc] = cfg.init_accel_std_ms2**2
        m = self._models.size
        tt.xm[rows] = xm[:, None]
        tt.Pm[rows] = pm[:, None]
        tt.mu[rows] = np.asarray(cfg.imm_init_mu, dtype=float)[None, :m]

    def _score_hits(self, ti: NDArray[np.int64], log_lr: F64, pd: float) -> None:
        """Existence after a hit: odds × (L + 1 − PD), L = PD·N(ν; 0, S)/β_FA.

        The detection is the target's (likelihood ratio L against a false alarm) or the target
        was missed and the detection is a false alarm (1 − PD): the single-detection case of
        IPDA, the same odds the JPDA path uses. Blackman & Popoli (1999, §6.2) track score.
        """
        self.tracks.score[ti] += np.logaddexp(log_lr, math.log1p(-pd))

    def _book_hits(
        self,
        batch: DetectionBatch | BearingBatch,
        ti: NDArray[np.int64],
        di: NDArray[np.int64],
        t_hit: F64,
    ) -> None:
        """Hit bookkeeping shared by every sensor kind.

        Counts, sensor bit, last hit (never moved backwards by a late plot), class evidence and
        cooperative identity.
        """
        tt = self.tracks
        tt.hits[ti] += 1
        tt.seen_by[ti] |= self._sensor_bit(batch.sensor_id)
        tt.last_hit_t_s[ti] = np.maximum(tt.last_hit_t_s[ti], t_hit)
        tt.class_ev[ti] += self.config.evidence_weight * batch.class_loglik[di]
        if batch.ident:
            for k, d in zip(ti.tolist(), di.tolist(), strict=True):
                if batch.ident[d] is not None:
                    tt.ident[k] = batch.ident[d]
        if batch.emitter:
            for k, d in zip(ti.tolist(), di.tolist(), strict=True):
                if batch.emitter[d] is not None:
                    tt.emitter[k] = _merged(tt.emitter[k], batch.emitter[d])

    def _score(self, batch: DetectionBatch | BearingBatch, ti: NDArray[np.int64]) -> None:
        """M-of-N and quality bookkeeping: a batch of a miss-counting sensor is one opportunity.

        A miss is charged only to tracks this sensor has detected before (a track it never saw
        is most likely outside its coverage: another sensor's sector), and, when the sensor
        states its reach (``coverage_range_m``), only to tracks within it.
        """
        tt, cfg = self.tracks, self.config
        hit = np.zeros(len(tt), dtype=bool)
        hit[ti] = True
        if batch.counts_misses:
            step = hit | ((tt.seen_by & self._sensor_bit(batch.sensor_id)) != 0)
            if math.isfinite(batch.coverage_range_m) and batch.sensor_enu_m is not None:
                far = np.linalg.norm(tt.x[:, POS] - batch.sensor_enu_m, axis=1)
                step &= hit | (far <= batch.coverage_range_m)
        else:
            step = hit
        tt.hist[step] = (tt.hist[step] << 1) | hit[step].astype(np.int64)
        tt.n_events[step] += 1
        if batch.counts_misses:  # a miss costs ln(1 − PD): cheap for a sensor that often misses
            missed = step & ~hit
            if isinstance(batch, BearingBatch):
                # A bearing in the gate that went to a neighbour is ambiguous, not a miss: in a
                # fan of bearings (a swarm seen edge-on) every track would otherwise bleed.
                missed &= ~self._gated
            elif self._assoc.get(batch.sensor_id, self.config.assoc) == "jpda":
                missed &= ~self._gated  # JPDA already scored every gated track
            tt.score[missed] += math.log1p(-self._sensor(batch)[0])
        window = tt.hist & ((1 << cfg.confirm_n) - 1)
        recent_hits = np.bitwise_count(window).astype(np.int64)
        promote = (
            (tt.status == TENTATIVE)
            & (recent_hits >= cfg.confirm_m)
            & (tt.score >= self._confirm_score)
        )
        tt.status[promote] = CONFIRMED
        tt.confirmed_t_s[promote] = batch.time_s
        # A tentative track that can no longer make M of its first N opportunities is dropped.
        hopeless = (
            (tt.status == TENTATIVE)
            & (tt.n_events >= cfg.confirm_n)
            & (recent_hits < cfg.confirm_m)
        )
        tt.n_events[hopeless] = -1  # marked for deletion

    def sensor_names(self, bits: int) -> tuple[str, ...]:
        """The sensors a ``seen_by`` bit mask stands for, in the order they first reported."""
        names = self._names_of.get(bits)
        if names is None:
            names = tuple(name for name, bit in self._bits.items() if bit and bits & bit)
            if len(self._names_of) > 4096:  # a bound, however many sensor combinations come
                self._names_of.clear()
            self._names_of[bits] = names
        return names

    def _sensor_bit(self, sensor_id: str) -> int:
        """The bit that stands for a sensor in ``seen_by``.

        Sensors past the 63rd get 0: they charge no misses at all, rather than charging them to
        tracks another sensor saw.
        """
        bit = self._bits.get(sensor_id)
        if bit is None:
            if self._free_bits:
                bit = self._free_bits.pop()
            elif self._bits_made < 63:
                bit = 1 << self._bits_made
                self._bits_made += 1
            else:
                bit = 0
            self._bits[sensor_id] = bit
            self._names_of.clear()
        return bit

    def release_sensor(self, sensor_id: str) -> None:
        """Forget a sensor that is gone (its connection closed): its bit serves the next one.

        A live node gives each connection its own sensor id; without this, after 63 connections
        over its life every new sensor would get no bit and charge no misses at all.
        """
        bit = self._bits.pop(sensor_id, None)
        if not bit:
            return
        self.tracks.seen_by &= ~bit
        self._free_bits.append(bit)
        self._names_of.clear()

    def _sensor(self, batch: DetectionBatch | BearingBatch) -> tuple[float, float]:
        """(PD, false-alarm density) of a batch, the tracker's defaults where it states none."""
        pd = batch.pd if 0.0 < batch.pd <= 1.0 else self.config.pd
        # A sensor that claims never to miss would make one miss fatal: trust it to 99 %, so a
        # single miss (ln 0.01 = -4.6) never reaches the drop threshold on its own.
        pd = min(max(pd, 1e-3), 0.99)
        beta = batch.clutter_density_m3
        return pd, beta if beta > 0.0 else self.config.clutter_density_m3

    def _delete(self, t_s: float) -> None:
        tt, cfg = self.tracks, self.config
        if not len(tt):
            return
        since = t_s - tt.last_hit_t_s
        pos_var = tt.P[:, 0, 0] + tt.P[:, 1, 1] + tt.P[:, 2, 2]
        lost = np.where(tt.status == CONFIRMED, since > cfg.coast_s, since > cfg.tentative_coast_s)
        faded = tt.score < self._delete_score
        dead = lost | faded | (pos_var > 3.0 * cfg.max_pos_std_m**2) | (tt.n_events < 0)
        if dead.any():
            self.deleted_ids.extend(tt.track_id[dead & (tt.status == CONFIRMED)].tolist())
            tt.keep(~dead)

    def _start(self, batch: DetectionBatch, di: NDArray[np.int64]) -> None:
        cfg = self.config
        n = di.size
        if n == 0:
            return
        new = TrackTable()
        new.x = np.zeros((n, STATE_DIM))
        new.x[:, POS] = batch.z[di]
        new.P = np.zeros((n, STATE_DIM, STATE_DIM))
        new.P[:, POS, POS] = batch.R[di]
        new.P[:, VEL, VEL] = np.diag(
            [cfg.init_speed_std_ms**2, cfg.init_speed_std_ms**2, cfg.init_climb_std_ms**2]
        )
        new.t_s = batch.t_s[di].copy()
        new.track_id = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        new.status = np.zeros(n, np.int8)
        new.hist = np.ones(n, np.int64)
        new.n_events = np.ones(n, np.int64)
        new.hits = np.ones(n, np.int64)
        new.first_t_s = batch.t_s[di].copy()
        new.last_hit_t_s = batch.t_s[di].copy()
        new.confirmed_t_s = np.full(n, np.nan)
        new.class_ev = cfg.evidence_weight * batch.class_loglik[di]
        new.seen_by = np.full(n, self._sensor_bit(batch.sensor_id), dtype=np.int64)
        new.score = np.full(n, self._init_score)
        new.score_t_s = batch.t_s[di].copy()
        new.ident = np.empty(n, dtype=object)
        if batch.ident:
            new.ident[:] = [batch.ident[d] for d in di.tolist()]
        new.emitter = np.empty(n, dtype=object)
        if batch.emitter:
            new.emitter[:] = [batch.emitter[d] for d in di.tolist()]
        new.z0 = batch.z[di].copy()
        new.r0 = batch.R[di].copy()
        m = self._models.size if self._imm else 0
        new.xm = np.zeros((n, m, IMM_STATE_DIM))
        new.Pm = np.zeros((n, m, IMM_STATE_DIM, IMM_STATE_DIM))
        new.mu = np.zeros((n, m))
        n_before = len(self.tracks)
        self.tracks.append(new)
        if self._imm:
            self._imm_reset(np.arange(n_before, n_before + n, dtype=np.int64))


def _merged(old: RfEmitter | None, new: RfEmitter) -> RfEmitter:
    """A track's radio link after another report: what it names, kept where it names nothing."""
    if old is None:
        return new
    return RfEmitter(
        new.protocol or old.protocol,
        new.serial or old.serial,
        new.band_mhz or old.band_mhz,
        new.sub_class or old.sub_class,
        new.sub_class_by if new.sub_class else old.sub_class_by,
    )


def _pair_emitters(
    a: BearingBatch, ia: NDArray[np.int64], b: BearingBatch, ib: NDArray[np.int64]
) -> tuple[RfEmitter | None, ...]:
    """The radio link of each crossing of two sensors' bearings (either one may have read it)."""
    if not a.emitter and not b.emitter:
        return ()
    out: list[RfEmitter | None] = []
    for i, j in zip(ia.tolist(), ib.tolist(), strict=True):
        ea = a.emitter[i] if a.emitter else None
        eb = b.emitter[j] if b.emitter else None
        out.append(eb if ea is None else ea if eb is None else _merged(eb, ea))
    return tuple(out)


def _azimuth_candidates(
    x: F64, p: F64, sensor: F64, az: F64, az_std: F64, gate_d2: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(track, bearing) pairs whose azimuth innovation alone passes the gate: a pre-gate.

    The azimuth part of a bearing's innovation is never more unlikely than the whole, so a
    pair outside the azimuth window ±√(gate_d2 · (σ²_track + σ²_bearing)) cannot pass the
    full χ² gate. Bearings are sorted once; each track takes the run of them in its window
    (wrapping at ±π), so the cost grows with the plausible pairs, not tracks × bearings.
    """
    n_t, n_b = x.shape[0], az.size
    if n_t == 0 or n_b == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    de, dn = x[:, 0] - sensor[0], x[:, 1] - sensor[1]
    rho2 = np.maximum(de * de + dn * dn, MIN_HORIZONTAL_RANGE_M**2)
    # azimuth variance of the track: J P Jᵀ with J = (dn, −de) / ρ² on the horizontal position
    var_t = (dn * dn * p[:, 0, 0] - 2.0 * dn * de * p[:, 0, 1] + de * de * p[:, 1, 1]) / rho2**2
    half = np.sqrt(gate_d2 * (var_t + float(np.max(az_std) ** 2)))
    half = np.where(np.isfinite(half), np.minimum(half, math.pi), math.pi)
    centre = np.arctan2(de, dn)
    order = np.argsort(az)
    ring = np.concatenate([az[order] - 2 * math.pi, az[order], az[order] + 2 * math.pi])
    lo = np.searchsorted(ring, centre - half, side="left")
    hi = np.searchsorted(ring, centre + half, side="right")
    hi = np.minimum(hi, lo + n_b)  # a window of 2π holds every bearing once
    counts = hi - lo
    tracks = np.repeat(np.arange(n_t, dtype=np.int64), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    slots = np.arange(int(counts.sum()), dtype=np.int64) + starts
    return tracks, order[slots % n_b].astype(np.int64)


def _std_or(values: F64, default: float) -> F64:
    """A standard-deviation column with ``default`` where it is not a number."""
    return np.where(np.isfinite(values), values, default)
