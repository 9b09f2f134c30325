"""The project's goals for the evaluation figures, in one table, and the PASS/FAIL they give.

Every goal the issues set on a figure ``luchtwacht evaluate`` measures is a row of
:data:`GOALS`: the figure (a key of a scenario's summary, dotted into nested statistics), ``<=``
or ``>=`` a bound, what it means in words, and where it was set. The report draws each goal as a
line on its plot and marks every scenario PASS or FAIL per goal; summary.json carries the same
verdicts (``goals``, ``verdict``). A goal may name the scenarios it is for (swarm-50's id
switches); a figure a scenario cannot have (no drone in birds-only, no recommendation where
there are no effectors) is ``n/a``, neither pass nor fail.

The goals, as the issues state them:

* #14: ≥ 95 % of drones correctly classed within 5 s of confirmation, in every scenario;
* #14: a drone flying only kinematics (kinematic-drone: no class reports, RF or Remote ID) classed
  a drone within 10 s of confirmation in ≥ 90 % of runs (here: of its drones over the runs);
* #14: birds called drones in ≤ 1 % of bird-track-minutes (here: of matched bird target-cycles);
* #14: no manned aircraft called a drone (matched aircraft target-cycles called drone: 0);
* #14: swarm-50 id switches ≤ 20 per 3 runs (≤ 20/3 a run);
* #14: time from hostile classification to recommendation ≤ 3 s median (countermeasure
  scenarios: the intruder's first drone class to the first recommendation on it);
* #14: no intruder that could have been stopped in time breaches for want of a proposal
  (``eval.in_time``: an option would have acted before the breach had it been proposed at
  classification, and no recommendation came before the breach);
* #14 (swarm-jammed, every intruder alerted) and #2 (intruders classified and alerted): every
  intruder alerted;
* #14 (no ghost-track alert) and #2 (every alert is an intruder's): no false alert;
* #14: remoteid-spoofer's spoof alerted in every run, within 10 s of its first broadcast heard.

The issues set no absolute goal on GOSPA for these scenarios (#3's tracking goals are ratios
to the clairvoyant bound, measured by ``bench/``), so GOSPA has none here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["PASS", "FAIL", "n/a"]
CLASSIFY_WITHIN_S = 5.0  # #14: a drone carries its class this long after its confirmation
KINEMATIC_WITHIN_S = 10.0  # #14: …and on kinematics alone, this long
KINEMATIC_SCENARIOS = ("kinematic-drone",)


@dataclass(frozen=True, slots=True)
class Goal:
    """One goal: ``metric`` (a summary key, dotted for nested ones) ``op`` ``bound``."""

    metric: str
    op: Literal["<=", ">="]
    bound: float
    label: str  # what the figure is, in words
    unit: str  # "%" (a share, shown ×100), "s" or "" (a count)
    source: str  # the issue that set it
    scenarios: tuple[str, ...] = ()  # only these scenarios (by name); empty: all

    def applies_to(self, scenario: str) -> bool:
        """The goal is set for this scenario."""
        return not self.scenarios or scenario in self.scenarios

    def text(self) -> str:
        """The goal in words, e.g. ``≥ 95 %``."""
        sym = "≤" if self.op == "<=" else "≥"
        return f"{sym} {show(self.bound, self.unit)}"

    def met(self, value: float) -> bool:
        """The value meets the goal (with a hair of tolerance for float sums)."""
        eps = 1e-9 * max(1.0, abs(self.bound))
        return value <= self.bound + eps if self.op == "<=" else value >= self.bound - eps


SPOOF_SCENARIOS = ("remoteid-spoofer",)


def show(value: float | None, unit: str) -> str:
    """A figure in the goal's unit: shares as percent, times in seconds, counts as they are."""
    if value is None:
        return "–"
    if unit == "%":
        return f"{100.0 * value:.3g} %"
    if unit == "s":
        return f"{value:.3g} s"
    return f"{value:.4g}"


GOALS: tuple[Goal, ...] = (
    Goal(
        "drones_classed_within_5s_share",
        ">=",
        0.95,
        "confirmed drones carrying the class drone within 5 s of their confirmation",
        "%",
        "#14",
    ),
    Goal(
        "drones_classed_within_10s_share",
        ">=",
        0.90,
        "confirmed drones carrying the class drone within 10 s, on kinematics alone",
        "%",
        "#14",
        KINEMATIC_SCENARIOS,
    ),
    Goal(
        "birds_called_drone_share",
        "<=",
        0.01,
        "bird track-time (matched bird target-cycles) called drone",
        "%",
        "#14",
    ),
    Goal(
        "aircraft_called_drone",
        "<=",
        0.0,
        "manned-aircraft target-cycles called drone",
        "",
        "#14",
    ),
    Goal(
        "intruders_alerted_share",
        ">=",
        1.0,
        "intruders alerted",
        "%",
        "#14, #2",
    ),
    Goal(
        "false_alerts",
        "<=",
        0.0,
        "alerts raised on a track that followed no intruder",
        "",
        "#14, #2",
    ),
    Goal(
        "time_classify_to_recommend_s.median",
        "<=",
        3.0,
        "time from an intruder's drone class to the first recommendation on it (median)",
        "s",
        "#14",
    ),
    Goal(
        "intruders_breached_unproposed",
        "<=",
        0.0,
        "intruders that breached unproposed though an option could have acted in time",
        "",
        "#14",
    ),
    Goal(
        "id_switches_per_run",
        "<=",
        20.0 / 3.0,
        "track id switches per run (20 per 3 runs)",
        "",
        "#14",
        scenarios=("swarm-50",),
    ),
    Goal(
        "runs_spoof_alerted_share",
        ">=",
        1.0,
        "runs in which the Remote ID spoof was alerted",
        "%",
        "#14",
        SPOOF_SCENARIOS,
    ),
    Goal(
        "time_to_spoof_alert_s.max",
        "<=",
        10.0,
        "time from a spoofed UAS ID first heard to its spoof alert",
        "s",
        "#14",
        SPOOF_SCENARIOS,
    ),
)


def value_of(summary: dict[str, Any], dotted: str) -> float | None:
    """The figure a dotted key names in a scenario's summary (None: it has none)."""
    cur: Any = summary
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return None if cur is None else float(cur)


def judge(summary: dict[str, Any], goals: tuple[Goal, ...] = GOALS) -> list[dict[str, Any]]:
    """Each goal set for this scenario, with its value and PASS, FAIL or n/a (JSON-ready)."""
    out = []
    for g in goals:
        if not g.applies_to(str(summary.get("scenario", ""))):
            continue
        v = value_of(summary, g.metric)
        verdict: Verdict = "n/a" if v is None else "PASS" if g.met(v) else "FAIL"
        out.append(
            {
                "metric": g.metric,
                "goal": g.text(),
                "op": g.op,
                "bound": g.bound,
                "value": v,
                "verdict": verdict,
                "source": g.source,
            }
        )
    return out


def overall(verdicts: list[dict[str, Any]]) -> Verdict:
    """FAIL if any goal failed, PASS if at least one passed and none failed, else n/a."""
    seen = {v["verdict"] for v in verdicts}
    return "FAIL" if "FAIL" in seen else "PASS" if "PASS" in seen else "n/a"
