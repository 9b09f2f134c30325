"""First classifier: Bayesian fusion of sensor class reports with track kinematics.

For every track at once: log P(class | data) ∝ log prior + Σ sensor-report log-likelihoods
(accumulated by the tracker, tempered for correlated looks) + a kinematic log-likelihood from the
current speed and height (drones hover and stay under ~30 m/s and 500 m; birds do not hover and
fly 5–25 m/s; manned aircraft fly faster than 40 m/s). A cooperative identity decides outright:
a Remote ID identity makes a cooperative drone (only UAS broadcast F3411), an ADS-B / Mode S
one ("icao:…", also TIS-B/ADS-R rebroadcasts) a cooperative manned aircraft. Below ``min_prob``
the class is "unknown".

With the track's history (:mod:`luchtwacht.identify.features`) come the motion terms of
:func:`feature_loglik`: hovering, a steady course and speed against a bird's weave and flapping,
flying in company (a flock weaves, a drone formation holds station), climb rate, and an RF
detector's fingerprint of a drone link. Each is a hand-built log-likelihood with its reasoning
stated where it is defined, weighed by how long the track has been watched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from luchtwacht.identify.features import STEADY_SIGMA, STEADY_TURN, Features
from luchtwacht.model.detection import N_CLASSES, ObjectClass
from luchtwacht.texts import say
from luchtwacht.tracking.models import POS, VEL
from luchtwacht.tracking.tracker import TrackTable

F64 = NDArray[np.float64]

UNKNOWN = -1
DRONE_KINDS = ("multirotor", "fixed-wing")

# Prior class frequencies of confirmed tracks around an air base: birds are by far the common
# case, and a false drone alert costs more than a drone declared a few seconds later.
_PRIOR = np.log(np.array([0.15, 0.55, 0.05, 0.25]))


@dataclass(frozen=True, slots=True)
class Classification:
    """Per-track class decision: index into ObjectClass or UNKNOWN, its probability, cooperative."""

    class_idx: NDArray[np.int64]
    prob: F64  # (N, N_CLASSES) posterior
    cooperative: NDArray[np.bool_]
    # Drone sub-class per row: DRONE_KINDS index, or -1 (not a drone, or not evident).
    drone_kind: NDArray[np.int8] | None = None

    def kind(self, i: int) -> str | None:
        """Drone sub-class of row ``i`` ("multirotor", "fixed-wing") or None."""
        if self.drone_kind is None or self.drone_kind[i] < 0:
            return None
        return DRONE_KINDS[int(self.drone_kind[i])]

    def label(self, i: int) -> str:
        """Class name of row ``i`` ("unknown" below the decision threshold)."""
        k = int(self.class_idx[i])
        return "unknown" if k == UNKNOWN else ObjectClass(k).label


def _soft_above(x: F64, limit: float, scale: float) -> F64:
    """Log-likelihood penalty that is 0 up to ``limit`` and falls as a half-Gaussian beyond it."""
    over = np.maximum(0.0, x - limit)
    return -0.5 * (over / scale) ** 2


def kinematic_loglik(speed_ms: F64, height_m: F64) -> F64:
    """(N, N_CLASSES) log-likelihood of each class given speed (m/s) and height (m).

    Drones: multirotors up to ~40 m/s (racing FPV), fixed-wing one-way attack drones ~50 m/s
    (Shahed-136: 185 km/h), so the drone term falls off only beyond 50 m/s; under 500 m.
    Birds cannot hover and fly 5–25 m/s (Alerstam et al. 2007, PLoS Biol 5:e197); manned
    aircraft fly faster than ~40 m/s (a light aircraft's stall speed is ~25 m/s, but it does not
    fly near its stall away from the runway).
    """
    out = np.zeros((speed_ms.shape[0], N_CLASSES))
    out[:, ObjectClass.DRONE] = _soft_above(speed_ms, 50.0, 8.0) + _soft_above(
        height_m, 500.0, 150.0
    )
    out[:, ObjectClass.BIRD] = (
        _soft_above(-speed_ms, -4.0, 1.5)  # birds cannot hover
        + _soft_above(speed_ms, 25.0, 5.0)
        + _soft_above(height_m, 400.0, 150.0)
    )
    out[:, ObjectClass.AIRCRAFT] = _soft_above(-speed_ms, -45.0, 10.0)
    out[:, ObjectClass.CLUTTER] = _soft_above(speed_ms, 3.0, 3.0)
    return out


# Motion terms. Weights are log-likelihood ratios; each is scaled by the track's maturity (how
# long its velocity has been watched, MATURE_S for full weight) so a fresh track's noisy velocity
# cannot decide.
MATURE_S = 4.0
# Steadiness (features.weave_score): the tracker's velocity noise is of the order of a bird's
# sway, so a moment's steadiness is weak evidence…
STEADY_LLR = 2.0  # largest weight of a weave, for the bird…
STEADY_LLR_DRONE = 1.0  # …and of steadiness, against it (small sways hide in the filter's noise)
# …but a long leg flown steadily, alone, is not a bird's: a bird's heading wanders within seconds
# (sway of metres over 6–20 s); past STEADY_LONG_AFTER_S of steady flight, each second counts.
STEADY_LONG_AFTER_S = 10.0
STEADY_LONG_LLR_PER_S = 0.05
STEADY_LONG_LLR_MAX = 3.0
HOVER_LLR_PER_S = 0.6  # per second of hover, against bird and aircraft…
HOVER_LLR_MAX = 6.0  # …up to this
FLOWN_LLR_PER_S = 0.5  # per second of flight at over 5 m/s, against clutter
FLOCK_LLR = 2.0  # a weaving flock of 5+: bird
RF_LLR = 4.0  # a drone control/video link fingerprinted on the track
CLIMB_BIRD_MS = 4.0  # birds in flapping flight sustain at most a few m/s of climb
CLIMB_MATURE_S = 5.0  # a climb counts fully once watched this long (vertical speed is noisy)
CLIMB_LLR_MAX = 3.0  # …and at most this much against a bird

TERMS = ("rf", "hover", "flown", "steady", "company", "climb")


def feature_loglik(tracks: TrackTable, f: Features) -> dict[str, F64]:
    """Each motion and emission term's (N, N_CLASSES) log-likelihood, by name (see TERMS).

    - ``hover``: a bird or an aircraft cannot hold still; a drone (or clutter) can. Per second of
      hover, against bird and aircraft only (a hovering drone and a clutter spot look alike).
    - ``flown``: clutter (ground returns, rain cells) does not fly: per second flown faster than
      5 m/s, against clutter.
    - ``steady``: drones fly legs at constant speed and heading, a flapping bird's heading
      wanders (sway of metres over seconds). The horizontal velocity scatter (in filter σ) and
      the turn rate, each against its centre, in a ramp of ±STEADY_LLR for the bird; and past
      STEADY_LONG_AFTER_S of steady flight each further second against the bird.
    - ``company``: tracks moving alike within 200 m. A flock of weaving flyers is birds; but a
      drone formation flies together too, so company weighs only with some weave seen (none for
      a track steadier than halfway to the steady end): flocking alone makes nothing birds.
    - ``climb``: a sustained climb or descent faster than CLIMB_BIRD_MS (beyond twice the
      filter's own vertical-speed error, watched CLIMB_MATURE_S, at most CLIMB_LLR_MAX) is not
      a bird.
    - ``rf``: an RF detector fingerprinted a drone link on the track.
    """
    n = f.track_id.size
    m = np.clip(f.settled_s / MATURE_S, 0.0, 1.0)
    zero = np.zeros((n, N_CLASSES))
    terms = {name: zero.copy() for name in TERMS}
    rf = np.array(
        [e is not None and bool(getattr(e, "protocol", None)) for e in tracks.emitter], dtype=bool
    )
    terms["rf"][rf, ObjectClass.DRONE] = RF_LLR
    hov = np.minimum(HOVER_LLR_PER_S * f.hover_s, HOVER_LLR_MAX)
    terms["hover"][:, ObjectClass.BIRD] = -hov
    terms["hover"][:, ObjectClass.AIRCRAFT] = -2.0 * hov
    # …and clutter (ground returns, rain cells) does not fly: a track that has flown is none.
    terms["flown"][:, ObjectClass.CLUTTER] = -np.minimum(FLOWN_LLR_PER_S * f.flown_s, HOVER_LLR_MAX)
    moving = f.speed_mean_ms > 3.0
    ramp = np.clip(f.weave_z / 2.0, -1.0, 1.0)
    weight = np.where(ramp > 0, STEADY_LLR, STEADY_LLR_DRONE)
    # Alone: a flock holds a common course for minutes (starlings commuting), so company
    # withholds it; a lone bird does not fly a long leg without a sway the filter sees.
    alone = np.clip(1.0 - f.flock_mean, 0.0, 1.0)
    long_leg = alone * np.minimum(
        STEADY_LONG_LLR_PER_S * np.maximum(f.steady_s - STEADY_LONG_AFTER_S, 0.0),
        STEADY_LONG_LLR_MAX,
    )
    terms["steady"][:, ObjectClass.BIRD] = np.where(moving, m * weight * ramp - long_leg, 0.0)
    company = np.clip(f.flock_mean / 5.0, 0.0, 1.0) * m * moving
    terms["company"][:, ObjectClass.BIRD] = FLOCK_LLR * company * np.clip(ramp + 0.5, 0.0, 1.0)
    # Only a climb the filter is sure of: a fresh track's vertical velocity is mostly noise (a
    # 3D radar's elevation error at range), and a bird must not be ruled out by it.
    # It must also be sustained: watched for CLIMB_MATURE_S, and never alone decisive.
    sig_vz = np.sqrt(np.maximum(tracks.P[:, 5, 5], 0.0))
    over = np.maximum(0.0, f.climb_abs_ms - CLIMB_BIRD_MS - 2.0 * sig_vz)
    m_climb = np.clip(f.settled_s / CLIMB_MATURE_S, 0.0, 1.0)
    terms["climb"][:, ObjectClass.BIRD] = (
        -np.minimum(0.5 * (over / 1.5) ** 2, CLIMB_LLR_MAX) * m_climb
    )
    return terms


def drone_kinds(f: Features, is_drone: NDArray[np.bool_]) -> NDArray[np.int8]:
    """Multirotor (0), fixed-wing (1) or -1 per row, from how the drone flies.

    A fixed wing cannot hover: a drone that hovered is a multirotor, as is one that has flown
    slowly (< 12 m/s mean, below a fixed wing's usual cruise) for seconds. A drone that never
    hovered, flies fast (≥ 30 m/s mean) and straight (no racing quad's turns) is a fixed wing.
    """
    out = np.full(f.track_id.size, -1, np.int8)
    watched = f.settled_s >= 3.0
    rotor = (f.hover_s >= 2.0) | (watched & (f.speed_mean_ms < 12.0) & (f.hover_s > 0.0))
    rotor |= watched & (f.speed_mean_ms < 8.0)
    wing = watched & (f.hover_s < 0.5) & (f.speed_mean_ms >= 30.0) & (f.straightness > 0.9)
    out[is_drone & rotor] = 0
    out[is_drone & wing & ~rotor] = 1
    return out


_ADSB_PREFIXES = ("icao:", "non-icao:", "tisb:", "adsr:")


def identity_kind(ident: object) -> str | None:
    """Which cooperative system an identity comes from: "adsb", "remoteid" or None."""
    if ident is None:
        return None
    return "adsb" if str(ident).startswith(_ADSB_PREFIXES) else "remoteid"


def classify(
    tracks: TrackTable, features: Features | None = None, min_prob: float = 0.75
) -> Classification:
    """Class posterior and decision for every row of the track table.

    ``features`` (from :class:`TrackFeatures` over the same table) adds the motion terms;
    without it only the present speed and height count.
    """
    n = len(tracks)
    vel = tracks.x[:, VEL]
    speed = np.linalg.norm(vel, axis=1)
    height = tracks.x[:, POS][:, 2]
    logp = _PRIOR[None, :] + tracks.class_ev + kinematic_loglik(speed, height)
    if features is not None and n:
        for term in feature_loglik(tracks, features).values():
            logp += term
    kinds = [identity_kind(v) for v in tracks.ident]
    cooperative = np.array([k is not None for k in kinds], dtype=bool)
    aircraft = np.array([k == "adsb" for k in kinds], dtype=bool)
    logp[cooperative & ~aircraft] = np.log(np.eye(N_CLASSES)[ObjectClass.DRONE] + 1e-12)
    logp[aircraft] = np.log(np.eye(N_CLASSES)[ObjectClass.AIRCRAFT] + 1e-12)
    logp -= logp.max(axis=1, keepdims=True) if n else 0.0
    prob = np.exp(logp)
    prob /= prob.sum(axis=1, keepdims=True) if n else 1.0
    best = prob.argmax(axis=1) if n else np.zeros(0, np.int64)
    idx = np.where(prob[np.arange(n), best] >= min_prob, best, UNKNOWN).astype(np.int64)
    kind = (
        drone_kinds(features, idx == ObjectClass.DRONE)
        if features is not None
        else np.full(n, -1, np.int8)
    )
    return Classification(idx, prob, cooperative, kind)


_LABELS = tuple(c.label for c in ObjectClass)


def _a(word: str) -> str:
    """The word with its indefinite article ("a drone", "an aircraft")."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def explain(
    tracks: TrackTable,
    cls: Classification,
    rows: NDArray[np.int64],
    features: Features | None = None,
) -> list[tuple[str, ...]]:
    """The reasons in words behind each decision of ``rows`` (for the console and the store).

    Each reason names one term of the posterior that separates the winning class from the
    runner-up: a cooperative identity, the sensors' class reports, or the kinematics (speed, and
    height above the site, which is what the classifier weighs). Values are rounded (whole m/s,
    tens of metres) so the words change only when the evidence does.
    """
    if rows.size == 0:
        return []
    prob = cls.prob[rows]
    order = np.argsort(-prob, axis=1)
    best, second = order[:, 0], order[:, 1]
    vel = tracks.x[rows][:, VEL]
    speed = np.linalg.norm(vel[:, :2], axis=1)
    height = tracks.x[rows][:, 2]
    ev = tracks.class_ev[rows]
    ar = np.arange(rows.size)
    ev_margin = ev[ar, best] - ev[ar, second]
    kin = kinematic_loglik(np.linalg.norm(vel, axis=1), height)
    kin_margin = kin[ar, best] - kin[ar, second]
    motion_words = (
        _motion_reasons(tracks, features, rows, best, second) if features is not None else None
    )
    out: list[tuple[str, ...]] = []
    for j, row in enumerate(rows.tolist()):
        kind = identity_kind(tracks.ident[row])
        reasons: list[str] = []
        if kind == "remoteid":
            reasons.append(say("reason.remoteid"))
        elif kind == "adsb":
            reasons.append(say("reason.adsb"))
        emitter = tracks.emitter[row]
        if emitter is not None and getattr(emitter, "protocol", None):
            reasons.append(say("reason.rf", protocol=emitter.protocol))
        b, s = _LABELS[int(best[j])], _LABELS[int(second[j])]
        if ev_margin[j] > 0.5:
            reasons.append(say("reason.sensors_report", cls=b, cls2=s))
        elif ev_margin[j] < -0.5:
            reasons.append(say("reason.sensors_lean", cls=s))
        v, h = float(speed[j]), float(height[j])
        motion: dict[str, object] = {"height": f"{10 * round(h / 10):.0f}"}
        code = "reason.hover"
        if v >= 1.5:
            code, motion["speed"] = "reason.speed", f"{v:.0f}"
        if kin_margin[j] > 0.5:
            reasons.append(say(f"{code}_like", a_cls=_a(b), **motion))
        elif kin_margin[j] < -0.5:
            reasons.append(say(f"{code}_more", a_cls=_a(s), **motion))
        else:
            reasons.append(say(code, **motion))
        if motion_words is not None:
            reasons.extend(motion_words[j])
        out.append(tuple(reasons))
    return out


def _motion_reasons(
    tracks: TrackTable,
    f: Features,
    rows: NDArray[np.int64],
    best: NDArray[np.int64],
    second: NDArray[np.int64],
) -> list[list[str]]:
    """Per row, the motion terms that moved the decision (winner vs runner-up), largest first.

    At most three, each over half a nat; values rounded so the words change with the evidence.
    """
    terms = feature_loglik(tracks, f)
    ar = np.arange(rows.size)
    margins = {
        name: terms[name][rows][ar, best] - terms[name][rows][ar, second]
        for name in ("hover", "flown", "steady", "company", "climb")
    }
    out: list[list[str]] = []
    for j, r in enumerate(rows.tolist()):
        ranked = sorted(margins, key=lambda name: -abs(float(margins[name][j])))
        words: list[str] = []
        for name in ranked[:3]:
            if abs(float(margins[name][j])) < 0.5:
                break
            words.append(_motion_word(name, f, r))
        out.append(words)
    return out


def _motion_word(name: str, f: Features, r: int) -> str:
    """One motion term of row ``r`` in words."""
    if name == "hover":
        return say("reason.hovered", s=f"{f.hover_s[r]:.0f}")
    if name == "flown":
        return say("reason.flown", s=f"{f.flown_s[r]:.0f}")
    if name == "company":
        return say(
            "reason.flies_with", n=round(float(f.flock_mean[r])), speed=f"{f.speed_mean_ms[r]:.0f}"
        )
    if name == "climb":
        rate = float(f.climb_ms[r])
        code = "reason.climbs" if rate >= 0 else "reason.descends"
        return say(code, rate=f"{max(abs(rate), f.climb_abs_ms[r]):.0f}")
    if f.turn_deg_s[r] >= STEADY_TURN or f.weave_sigma[r] >= STEADY_SIGMA:
        return say("reason.weaves", turn=f"{f.turn_deg_s[r]:.0f}")
    return say("reason.steady", s=f"{f.steady_s[r]:.0f}")
