"""Remote ID spoofing and inconsistency: a broadcast position checked against the primary sensors.

Sits in the identify stage, after tracking. A Remote ID claim is cooperative information about
an aircraft, not a primary detection: where a live radar should see the claimed position and no
independent track (one a non-Remote-ID sensor has updated) lies there, the evidence against the
claim grows with every look the radar had (a sequential test on its detection probability), and
once a real target there would have been missed with probability below :data:`ALPHA` for at
least :data:`PERSIST_S`, the claim is declared spoofed. A track carrying a UAS ID whose claims
stay beyond the χ² gate of both uncertainties for :data:`PERSIST_S` is inconsistent likewise.

Either way the finding names the UAS ID, the distance to the nearest independent track (most
likely the real drone) and how long; tracks only Remote ID has fed that lie in primary coverage
are kept out of the picture (no ghost, no intruder alert at the claimed position), and an
independent track with an inconsistent claim loses its cooperative label (and so any
authorisation by the whitelist). Outside primary coverage, or with no radar on site, nothing is
hidden: a Remote ID-only track remains as before.

Coverage comes from what each radar registered (its position and ``MaxRange``, SAPIENT) and
whether its feed is live; its detection probability at range r follows a Swerling I target whose
SNR falls as r⁻⁴ and which the radar detects with probability ½ at its registered maximum range
(Skolnik, *Introduction to Radar Systems*, 3rd ed., §2.8–2.9), capped at the tracker's PD.
State is bounded: a hostile can broadcast thousands of UAS IDs; beyond :data:`MAX_CLAIMS` new
ones are counted (``claims_refused``), not kept.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from scipy.special import chdtri

from luchtwacht.ingest.remoteid_feed import Transmitter
from luchtwacht.model.track import Finding, ThreatLevel
from luchtwacht.texts import say

F64 = NDArray[np.float64]

ALPHA = 1e-3  # a real target at the claim missed on every look with at most this probability
PERSIST_S = 3.0  # …and the claim uncorroborated (or inconsistent) at least this long
STALE_S = 5.0  # a claim older than this is no longer checked (the drone went quiet)
GATE_PROB = 0.9999  # χ² gate (3 dof) of claim against track, both uncertainties
MIN_SPLIT_M = 30.0  # closer than this a claim is never called inconsistent (GNSS, baro offsets)
CLAIM_SPEED_MS = 30.0  # a claim this old may have moved this fast since: its gate grows
NEAR_M = 1_000.0  # pairs further apart than this are never consistent (pre-gate)
MIN_RANGE_M = 50.0  # assumed blind range of a surveillance radar (not registered)
MAX_ELEVATION_DEG = 60.0  # assumed top of a 3D surveillance radar's beam (not registered)
PFA = 1e-6  # false-alarm probability of the radar's detector (Swerling I curve)
MAX_CLAIMS = 1024  # UAS IDs whose claim state is kept
MAX_SENSORS = 256  # radars whose revisit time is measured
LOOK_GAIN = 0.2  # smoothing of the measured revisit time (exponential average)
_GATE_D2 = float(chdtri(3, 1.0 - GATE_PROB))


@dataclass(frozen=True, slots=True)
class Coverage:
    """One live primary sensor (radar) as its registration describes it, in site ENU."""

    name: str
    enu_m: tuple[float, float, float]
    max_range_m: float
    look_s: float  # its revisit time (the feed's reporting interval)


@dataclass(frozen=True, slots=True)
class Claim:
    """The latest Remote ID position of one UAS ID, in site ENU, with its 1-σ accuracy."""

    uas_id: str
    t_s: float
    enu_m: tuple[float, float, float]
    h_std_m: float
    v_std_m: float


@dataclass(slots=True)
class _State:
    since_s: float  # uncorroborated (or inconsistent) since
    last_s: float  # last cycle judged
    log_miss: float = 0.0  # ln P(a real target at the claim was missed on every look)
    declared: bool = False
    finding: Finding | None = None  # its finding as last worded (words cost: once a second)
    worded_s: float = -math.inf


WORDING_S = 1.0  # a finding's words (duration, distance) are worked out again this often


@dataclass(frozen=True, slots=True)
class SpoofResult:
    """Per track row of the table: kept out of the picture, and stripped of its claim."""

    hidden: NDArray[np.bool_]
    inconsistent: NDArray[np.bool_]
    findings: tuple[Finding, ...]


def detection_probability(range_m: F64, max_range_m: float, pd_max: float) -> F64:
    """Swerling I PD at ``range_m``: Pfa^(1/(1+SNR)), SNR ∝ r⁻⁴, PD = ½ at the max range."""
    snr_max = math.log(PFA) / math.log(0.5) - 1.0
    snr = snr_max * (max_range_m / np.maximum(range_m, 1.0)) ** 4
    pd: F64 = np.minimum(np.exp(math.log(PFA) / (1.0 + snr)), pd_max)
    return pd


def miss_log_prob(claims: F64, radars: Sequence[Coverage], dt_s: float, pd_max: float) -> F64:
    """Log of P(every look of every radar over ``dt_s`` missed a target at each claim) (k,).

    Zero where no radar covers a claim (slant range within blind range and registered maximum,
    elevation below :data:`MAX_ELEVATION_DEG`): no evidence either way.
    """
    out: F64 = np.zeros(claims.shape[0])
    for r in radars:
        d = claims - np.asarray(r.enu_m)
        slant = np.linalg.norm(d, axis=1)
        elev = np.degrees(np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))
        covered = (slant >= MIN_RANGE_M) & (slant <= r.max_range_m) & (elev <= MAX_ELEVATION_DEG)
        pd = detection_probability(slant, r.max_range_m, pd_max)
        looks = dt_s / max(r.look_s, 1e-3)
        out += np.where(covered, looks * np.log1p(-pd), 0.0)
    return out


def covered(pos: F64, radars: Sequence[Coverage]) -> NDArray[np.bool_]:
    """Whether each position lies in some radar's coverage (see :func:`miss_log_prob`)."""
    return miss_log_prob(pos, radars, 1.0, 0.5) < 0.0


@dataclass
class Looks:
    """How often each radar looks: the mean time between its scans' batches, as measured.

    A radar that says nothing of its revisit time is judged by how often its scans arrive; a
    feed's nominal interval (a status heartbeat may be 10 s) is only the upper bound.
    """

    last_s: dict[str, float] = field(default_factory=dict)
    mean_s: dict[str, float] = field(default_factory=dict)

    def saw(self, sensor_id: str, t_s: float) -> None:
        """A scan of ``sensor_id`` at ``t_s`` was applied."""
        prev = self.last_s.get(sensor_id)
        if prev is None and len(self.last_s) >= MAX_SENSORS:
            return
        self.last_s[sensor_id] = max(t_s, prev if prev is not None else t_s)
        if prev is None or not 0.05 <= t_s - prev <= 60.0:
            return  # the first scan, or another batch of the same scan, or after a gap
        mean = self.mean_s.get(sensor_id)
        step = t_s - prev
        self.mean_s[sensor_id] = step if mean is None else mean + LOOK_GAIN * (step - mean)

    def look_s(self, sensor_id: str, nominal_s: float) -> float:
        """The sensor's revisit time: as measured, at most its feed's nominal interval."""
        return min(self.mean_s.get(sensor_id, nominal_s), nominal_s)


@dataclass
class SpoofMonitor:
    """Checks every fresh Remote ID claim against the independent tracks, cycle by cycle."""

    pd_max: float = 0.9
    states: dict[str, _State] = field(default_factory=dict)
    looks: Looks = field(default_factory=Looks)
    claims_refused: int = 0  # claim checks skipped (per cycle) because MAX_CLAIMS were followed
    declared: int = 0  # findings declared so far (a claim may be declared again later)

    def update(
        self,
        t_s: float,
        claims: Sequence[Claim],
        pos: F64,
        cov: F64,
        track_id: NDArray[np.int64],
        ident: Sequence[object],
        independent: NDArray[np.bool_],
        rid_only: NDArray[np.bool_],
        radars: Sequence[Coverage],
    ) -> SpoofResult:
        """Judge the claims at ``t_s`` against the tracks (rows of ``pos``, ``cov``: 3D ENU).

        ``independent``: rows a non-Remote-ID sensor has updated (confirmed ones only);
        ``rid_only``: rows only Remote ID has fed. Returns which rows to keep out of the
        picture, which lose their claim, and the findings for the alert stage.
        """
        n = pos.shape[0]
        hidden = np.zeros(n, dtype=bool)
        inconsistent = np.zeros(n, dtype=bool)
        if radars and n:
            hidden = rid_only & covered(pos, radars)
        fresh = [c for c in claims if t_s - c.t_s <= STALE_S]
        self._forget({c.uas_id for c in fresh})
        if not fresh:
            return SpoofResult(hidden, inconsistent, ())
        k = len(fresh)
        z = np.array([c.enu_m for c in fresh], dtype=float)
        age = np.maximum(t_s - np.array([c.t_s for c in fresh]), 0.0)
        h_var = np.array([c.h_std_m for c in fresh]) ** 2 + (CLAIM_SPEED_MS * age) ** 2
        v_var = np.array([c.v_std_m for c in fresh]) ** 2 + (0.5 * CLAIM_SPEED_MS * age) ** 2
        r = np.zeros((k, 3, 3))
        r[:, 0, 0] = r[:, 1, 1] = h_var
        r[:, 2, 2] = v_var
        ind = np.flatnonzero(independent)
        # Nearest independent track of each claim (distance), and whether one is in its gate.
        nearest_d = np.full(k, np.inf)
        nearest_row = np.full(k, -1, dtype=np.int64)
        gated = np.zeros(k, dtype=bool)
        if ind.size:
            # A k-d tree over the independent tracks: nearest and near pairs in O(k log m).
            tree = cKDTree(pos[ind])
            dist, j = tree.query(z)
            nearest_d = np.asarray(dist, dtype=float)
            nearest_row = ind[np.asarray(j, dtype=np.int64)]
            pairs = tree.query_ball_point(z, NEAR_M, return_sorted=False)
            lens = np.array([len(p) for p in pairs], dtype=np.int64)
            if lens.sum():
                ci = np.repeat(np.arange(k, dtype=np.int64), lens)
                flat = itertools.chain.from_iterable(pairs)
                cj = ind[np.fromiter(flat, dtype=np.int64, count=int(lens.sum()))]
                dv = z[ci] - pos[cj]
                d2 = _mahalanobis2(dv, r[ci] + cov[cj])
                ok = (d2 <= _GATE_D2) | (np.linalg.norm(dv, axis=1) <= MIN_SPLIT_M)
                gated[ci[ok]] = True
        # Tracks that carry each claim's UAS ID, and whether those are far from it.
        rows_of: dict[str, list[int]] = {}
        for row, ident_j in enumerate(ident):
            if ident_j is not None and (independent[row] or rid_only[row]):
                rows_of.setdefault(str(ident_j), []).append(row)
        index = {c.uas_id: i for i, c in enumerate(fresh)}
        far_rows: list[int] = []
        far_claim: list[int] = []
        for uas, rows in rows_of.items():
            i = index.get(uas)
            if i is None:
                continue
            far_rows.extend(row for row in rows if independent[row])
            far_claim.extend(i for row in rows if independent[row])
        if far_rows:
            fr, fc = np.array(far_rows), np.array(far_claim)
            dv = z[fc] - pos[fr]
            d2 = _mahalanobis2(dv, r[fc] + cov[fr])
            split = (d2 > _GATE_D2) & (np.linalg.norm(dv, axis=1) > MIN_SPLIT_M)
            inconsistent_claim = np.zeros(k, dtype=bool)
            inconsistent_claim[fc[split]] = True
            far_track = {int(fc[q]): int(fr[q]) for q in np.flatnonzero(split)}
            # An independent track of the UAS ID that is consistent corroborates it outright.
            gated[fc[~split]] = True
        else:
            inconsistent_claim = np.zeros(k, dtype=bool)
            far_track = {}
        log_miss = (
            miss_log_prob(z, radars, 1.0, self.pd_max) if radars else np.zeros(k)
        )  # per second of looking
        findings: list[Finding] = []
        bad_l = (~gated & (inconsistent_claim | (log_miss < 0.0))).tolist()
        split_l, miss_l = inconsistent_claim.tolist(), log_miss.tolist()
        for i, c in enumerate(fresh):
            bad = bad_l[i]
            if not bad:
                self.states.pop(c.uas_id, None)
                continue
            st = self._state(c.uas_id, t_s)
            if st is None:
                continue
            st.log_miss += max(t_s - st.last_s, 0.0) * miss_l[i]
            st.last_s = t_s
            held = t_s - st.since_s
            declare = held >= PERSIST_S - 1e-6 and (split_l[i] or st.log_miss <= math.log(ALPHA))
            if not declare and not st.declared:
                continue
            if not st.declared:
                st.declared = True
                self.declared += 1
            if st.finding is None or t_s - st.worded_s >= WORDING_S - 1e-6:
                st.finding = self._finding(c, i, held, far_track, nearest_row, nearest_d, pos,
                                           track_id, ident)  # fmt: skip
                st.worded_s = t_s
            findings.append(st.finding)
        for i, row in far_track.items():
            st = self.states.get(fresh[i].uas_id)
            if st is not None and st.declared:
                inconsistent[row] = True
        if inconsistent.any():
            hidden &= ~inconsistent
        return SpoofResult(hidden, inconsistent, tuple(findings))

    def _finding(
        self,
        c: Claim,
        i: int,
        held: float,
        far_track: dict[int, int],
        nearest_row: NDArray[np.int64],
        nearest_d: F64,
        pos: F64,
        track_id: NDArray[np.int64],
        ident: Sequence[object],
    ) -> Finding:
        """The alert finding of a declared claim: inconsistent with its track, or unseen."""
        row = far_track.get(i)
        if row is not None:
            dist = float(np.linalg.norm(np.asarray(c.enu_m) - pos[row]))
            text = say(
                "alert.spoof_far", track=int(track_id[row]), uas=c.uas_id,
                dist=f"{dist:.0f}", s=f"{held:.0f}",
            )  # fmt: skip
            return Finding(f"spoof:{c.uas_id}", int(track_id[row]), "spoof", ThreatLevel.HIGH,
                           "drone", c.uas_id, text, dist, held)  # fmt: skip
        near = int(nearest_row[i])
        if near >= 0:
            dist = float(nearest_d[i])
            text = say(
                "alert.spoof_unseen_near", uas=c.uas_id, s=f"{held:.0f}",
                track=int(track_id[near]), dist=f"{dist:.0f}",
            )  # fmt: skip
            tid = int(track_id[near])
        else:
            dist = math.inf
            text = say("alert.spoof_unseen", uas=c.uas_id, s=f"{held:.0f}")
            ghost = [j for j, v in enumerate(ident) if v is not None and str(v) == c.uas_id]
            tid = int(track_id[ghost[0]]) if ghost else 0
        return Finding(f"spoof:{c.uas_id}", tid, "spoof", ThreatLevel.HIGH, "drone", c.uas_id,
                       text, dist, held)  # fmt: skip

    def _state(self, uas_id: str, t_s: float) -> _State | None:
        st = self.states.get(uas_id)
        if st is not None:
            return st
        if len(self.states) >= MAX_CLAIMS:
            self.claims_refused += 1
            return None
        st = _State(since_s=t_s, last_s=t_s)
        self.states[uas_id] = st
        return st

    def _forget(self, fresh: set[str]) -> None:
        """Drop the state of UAS IDs that went quiet (no fresh claim)."""
        for u in [u for u in self.states if u not in fresh]:
            del self.states[u]


def latest_claims(transmitters: Iterable[Transmitter]) -> list[Claim]:
    """The newest position claim of each UAS ID (a drone may broadcast from several MACs)."""
    best: dict[str, Claim] = {}
    for tx in transmitters:
        if tx.uas_id is None or tx.fix_enu_m is None or tx.fix_t_s is None:
            continue
        old = best.get(tx.uas_id)
        if old is None or tx.fix_t_s > old.t_s:
            best[tx.uas_id] = Claim(tx.uas_id, tx.fix_t_s, tx.fix_enu_m, *tx.fix_std_m)
    return list(best.values())


def sensor_split(
    seen_by: NDArray[np.int64],
    names_of: Callable[[int], tuple[str, ...]],
    rid_sensors: set[str],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per track: updated by some non-Remote-ID sensor; and fed by Remote ID receivers only.

    ``names_of`` turns a ``seen_by`` bit mask into sensor ids (the tracker's); it is asked once
    per distinct mask, not per track.
    """
    masks, inverse = np.unique(seen_by, return_inverse=True)
    other = np.zeros(masks.size, dtype=bool)
    only = np.zeros(masks.size, dtype=bool)
    for q, bits in enumerate(masks.tolist()):
        names = names_of(int(bits))
        other[q] = any(n not in rid_sensors for n in names)
        only[q] = bool(names) and not other[q]
    return other[inverse].reshape(seen_by.shape), only[inverse].reshape(seen_by.shape)


def _mahalanobis2(d: F64, s: F64) -> F64:
    """dᵀ S⁻¹ d of (k, 3) differences and (k, 3, 3) covariances."""
    sol = np.linalg.solve(s, d[:, :, None])[:, :, 0]
    out: F64 = np.einsum("ij,ij->i", d, sol)
    return out
