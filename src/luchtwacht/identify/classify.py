"""First classifier: Bayesian fusion of sensor class reports with track kinematics.

For every track at once: log P(class | data) ∝ log prior + Σ sensor-report log-likelihoods
(accumulated by the tracker, tempered for correlated looks) + a kinematic log-likelihood from the
current speed and height (drones hover and stay under ~30 m/s and 500 m; birds do not hover and
fly 5–25 m/s; manned aircraft fly faster than 40 m/s). A cooperative identity decides outright:
a Remote ID identity makes a cooperative drone (only UAS broadcast F3411), an ADS-B / Mode S
one ("icao:…", also TIS-B/ADS-R rebroadcasts) a cooperative manned aircraft. Below ``min_prob``
the class is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from luchtwacht.model.detection import N_CLASSES, ObjectClass
from luchtwacht.texts import say
from luchtwacht.tracking.models import POS, VEL
from luchtwacht.tracking.tracker import TrackTable

F64 = NDArray[np.float64]

UNKNOWN = -1

# Prior class frequencies of confirmed tracks around an air base: birds are by far the common
# case, and a false drone alert costs more than a drone declared a few seconds later.
_PRIOR = np.log(np.array([0.15, 0.55, 0.05, 0.25]))


@dataclass(frozen=True, slots=True)
class Classification:
    """Per-track class decision: index into ObjectClass or UNKNOWN, its probability, cooperative."""

    class_idx: NDArray[np.int64]
    prob: F64  # (N, N_CLASSES) posterior
    cooperative: NDArray[np.bool_]

    def label(self, i: int) -> str:
        """Class name of row ``i`` ("unknown" below the decision threshold)."""
        k = int(self.class_idx[i])
        return "unknown" if k == UNKNOWN else ObjectClass(k).label


def _soft_above(x: F64, limit: float, scale: float) -> F64:
    """Log-likelihood penalty that is 0 up to ``limit`` and falls as a half-Gaussian beyond it."""
    over = np.maximum(0.0, x - limit)
    return -0.5 * (over / scale) ** 2


def kinematic_loglik(speed_ms: F64, height_m: F64) -> F64:
    """(N, N_CLASSES) log-likelihood of each class given speed (m/s) and height (m)."""
    out = np.zeros((speed_ms.shape[0], N_CLASSES))
    out[:, ObjectClass.DRONE] = _soft_above(speed_ms, 30.0, 8.0) + _soft_above(
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


_ADSB_PREFIXES = ("icao:", "non-icao:", "tisb:", "adsr:")


def identity_kind(ident: object) -> str | None:
    """Which cooperative system an identity comes from: "adsb", "remoteid" or None."""
    if ident is None:
        return None
    return "adsb" if str(ident).startswith(_ADSB_PREFIXES) else "remoteid"


def classify(tracks: TrackTable, min_prob: float = 0.75) -> Classification:
    """Class posterior and decision for every row of the track table."""
    n = len(tracks)
    vel = tracks.x[:, VEL]
    speed = np.linalg.norm(vel, axis=1)
    height = tracks.x[:, POS][:, 2]
    logp = _PRIOR[None, :] + tracks.class_ev + kinematic_loglik(speed, height)
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
    return Classification(idx, prob, cooperative)


_LABELS = tuple(c.label for c in ObjectClass)


def _a(word: str) -> str:
    """The word with its indefinite article ("a drone", "an aircraft")."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def explain(
    tracks: TrackTable, cls: Classification, rows: NDArray[np.int64]
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
        out.append(tuple(reasons))
    return out
