"""Could an intruder have been stopped before its breach, proposed when first classed a drone.

The evaluation's judge of issue #14's "no intruder that could have been stopped in time breaches
for want of a proposal". It reads the truth, as an evaluation may: the pilot's own path (before
any effect), the effectors' figures, and whether each effector kind can act on that drone at
all (an RF jammer needs a link on the air in its bands, a GNSS jammer a drone that navigates
by GNSS). A proposal at the moment the drone was
first classed a drone is approved after the operator's reaction time; the effector then needs
its ``ready_s`` and, like the recommender (``counter.recommend``), its reach, its flight or a
jammer's link-loss timeout. Line of fire, collateral and availability are left out: the figure
asks whether time and geometry allowed it, so it errs towards "could have".
"""

from __future__ import annotations

import numpy as np

from luchtwacht.counter.catalogue import JAMMERS, EffectorSpec
from luchtwacht.counter.recommend import HARD_KILL_FLIGHT_FLOOR_S, LINK_LOSS_ASSUMED_S
from luchtwacht.sim.effects import Countered
from luchtwacht.sim.targets import Target

STEP_S = 1.0  # the truth is sampled this often


def _in_band(tgt: Target, eff: EffectorSpec) -> bool:
    """An RF jammer can break this drone's link: it has one on the air, in the jammer's bands."""
    if not tgt.emits_rf:
        return False
    link = tgt.rf_link
    lo, hi = (2400.0, 2483.5) if link is None else (
        link.centre_mhz - link.bandwidth_mhz / 2, link.centre_mhz + link.bandwidth_mhz / 2
    )  # fmt: skip
    return any(b_lo < hi and lo < b_hi for b_lo, b_hi in eff.bands_mhz)


def stoppable(
    tgt: Target,
    effectors: list[EffectorSpec] | tuple[EffectorSpec, ...],
    classify_t_s: float,
    breach_t_s: float,
    reaction_s: float,
) -> bool:
    """Whether some effector could have acted on ``tgt`` before ``breach_t_s``.

    Proposed at ``classify_t_s`` and approved ``reaction_s`` later (times in scenario seconds).
    """
    path = tgt.path.base if isinstance(tgt.path, Countered) else tgt.path
    approve = classify_t_s + reaction_s
    if approve >= breach_t_s:
        return False
    times = np.arange(approve, breach_t_s, STEP_S)
    states = [path.state(float(t)) for t in times]
    ok = np.array([s is not None for s in states], dtype=bool)
    if not ok.any():
        return False
    times = times[ok]
    pos = np.array([np.asarray(s[0], dtype=float) for s in states if s is not None])
    for eff in effectors:
        if eff.kind == "rf_jammer" and not _in_band(tgt, eff):
            continue
        if eff.kind == "gnss_jammer" and not tgt.gnss_nav:
            continue
        start = approve + eff.ready_s
        dist = np.linalg.norm(pos - np.asarray(eff.enu_m, dtype=float), axis=1)
        in_reach = (times >= start) & (dist <= eff.max_range_m)
        if eff.kind == "interceptor":
            # Launched at ``start``, it can be anywhere within speed·(t − start) of its base.
            in_reach &= dist <= eff.speed_ms * (times - start)
            effect = times
        elif eff.kind in JAMMERS:
            effect = times + LINK_LOSS_ASSUMED_S
        else:
            in_reach &= dist >= eff.min_range_m
            flight = dist / eff.speed_ms if eff.speed_ms > 0 else np.zeros_like(dist)
            effect = times + np.maximum(flight, HARD_KILL_FLIGHT_FLOOR_S)
        if np.any(in_reach & (effect < breach_t_s)):
            return True
    return False
