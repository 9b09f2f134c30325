"""The evaluation report: one HTML page with plots per scenario, and the JSON it is built from.

``write_report(DIR, results)`` writes ``DIR/summary.json`` (the headline figures of every
scenario, what ``luchtwacht evaluate --compare`` reads), ``DIR/runs.json`` (every run's
per-cycle and per-target figures) and ``DIR/index.html`` with, per scenario, a table of the
headline figures and four plots (matplotlib, PNG next to the page): GOSPA over time with its
missed and false counts, tracks against truth on a map (first run), time to detect, confirm,
classify, alert, recommend a countermeasure and neutralise per target over the runs, the
classification confusion matrix (counts and row shares) and the time from confirmation to the
right class per true class (a CDF against the 5 s goal); where operators approved
engagements, a table of each one's assessed outcome beside what the effector really did.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from luchtwacht import __version__
from luchtwacht.eval.evaluate import CLASSES, RunResult, summary
from luchtwacht.eval.goals import CLASSIFY_WITHIN_S, GOALS, show
from luchtwacht.eval.peer import PeerRun

_FIGSIZE = (6.4, 3.6)
GOAL_BY_METRIC = {g.metric: g for g in GOALS}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "scenario"


def _gospa_plot(runs: Sequence[RunResult], path: Path) -> None:
    n = min(len(r.gospa) for r in runs)
    t = np.array(runs[0].cycle_t_s[:n])
    g = np.array([r.gospa[:n] for r in runs])
    miss = np.array([r.n_missed[:n] for r in runs]).mean(axis=0)
    false = np.array([r.n_false[:n] for r in runs]).mean(axis=0)
    fig = Figure(figsize=_FIGSIZE)
    ax = fig.add_subplot()
    ax.plot(t, g.mean(axis=0), color="black", label="GOSPA (mean of runs)")
    if len(runs) > 1:
        ax.fill_between(t, g.min(axis=0), g.max(axis=0), color="grey", alpha=0.3, label="range")
    ax.set_xlabel("scenario time (s)")
    ax.set_ylabel("GOSPA (m)")
    ax2 = ax.twinx()
    ax2.step(t, miss, where="post", color="tab:red", label="missed targets")
    ax2.step(t, false, where="post", color="tab:blue", label="false tracks")
    ax2.set_ylabel("count per cycle")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


_SENSOR_STYLE: dict[str, tuple[str, str, str]] = {  # kind → marker, colour, legend label
    "radar": ("^", "tab:blue", "radar"),
    "rf": ("D", "tab:purple", "RF detector"),
    "acoustic": ("s", "tab:brown", "acoustic array"),
    "camera": ("v", "tab:cyan", "camera"),
    "remoteid": ("P", "tab:green", "Remote ID receiver"),
    "adsb": ("X", "tab:grey", "ADS-B receiver"),
}
_ROLE_COLOUR = {"intruder": "tab:red", "bird": "tab:olive", "cooperative": "tab:green"}
_LAND, _SEA, _BORDER = "#f1efe4", "#dbe9f4", "#9a958a"


def _nice_step(span_m: float) -> float:
    """A round ring / grid step giving at most eight rings over ``span_m``."""
    for step in (100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4):
        if span_m / step <= 8:
            return step
    return 1e5


def _map_plot(run: RunResult, path: Path, countries: Path | None = None) -> tuple[bool, list[str]]:
    """Zones, sensors, truth and tracks over the site's ENU grid, range rings and basemap.

    Returns whether a Natural Earth basemap was drawn (``countries``: a GeoJSON file of
    countries; default: the console's build, :data:`luchtwacht.eval.basemap.COUNTRIES`) and
    the legend's entries.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle, Patch, Polygon
    from matplotlib.transforms import offset_copy

    from luchtwacht.eval.basemap import COUNTRIES, countries_near
    from luchtwacht.geo.frames import SiteOrigin

    site = run.site
    roles = {t.name: t.role for t in run.targets}
    pts: list[list[float]] = [[0.0, 0.0]]
    pts += [[p[1], p[2]] for a in run.truth_xy.values() for p in a]
    pts += [[p[1], p[2]] for a in run.track_xy.values() for p in a]
    pts += [v for z in site.get("zones", []) for v in z["enu"]]
    pts += [[x["east"], x["north"]] for x in site.get("sensors", []) + site.get("effectors", [])]
    xy = np.array(pts, dtype=float)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    half = max(float((hi - lo).max()) / 2.0 * 1.12, 1000.0)
    mid = (lo + hi) / 2.0
    x0, x1, y0, y1 = mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half
    km = 1e-3

    fig = Figure(figsize=(6.4, 7.6), layout="constrained")
    ax = fig.add_subplot()
    handles: list[Any] = []
    drawn_basemap = False
    if site.get("origin"):
        origin = SiteOrigin(*site["origin"])
        near = countries_near(origin, 1.5 * math.hypot(abs(mid[0]) + half, abs(mid[1]) + half),
                              countries or COUNTRIES)  # fmt: skip
        if near is not None:
            drawn_basemap = True
            ax.set_facecolor(_SEA)
            for c in near:
                for ring in c.rings:
                    ax.add_patch(Polygon(ring * km, closed=True, facecolor=_LAND,
                                         edgecolor=_BORDER, lw=0.8, zorder=0))  # fmt: skip
            handles.append(
                Patch(facecolor=_LAND, edgecolor=_BORDER, label="land, borders (Natural Earth)")
            )
    # ENU grid and range rings around the site origin
    step = _nice_step(2.0 * half)
    r_max = math.hypot(max(abs(x0), abs(x1)), max(abs(y0), abs(y1)))
    for k in range(1, int(r_max // step) + 1):
        r = k * step
        ax.add_patch(Circle((0.0, 0.0), r * km, fill=False, ls=":", lw=0.7, color="0.45",
                            zorder=1))  # fmt: skip
        ang = math.radians(30.0)
        tx, ty = r * math.sin(ang), r * math.cos(ang)
        if x0 < tx < x1 and y0 < ty < y1:
            ax.text(tx * km, ty * km, f"{r * km:g} km", fontsize=6, color="0.35", zorder=1)
    ax.plot([0.0], [0.0], "+", color="0.2", ms=9, zorder=2)
    handles.append(Line2D([], [], ls=":", color="0.45", label=f"range rings ({step * km:g} km)"))
    ax.grid(True, lw=0.4, color="0.75", zorder=0.5)
    ax.set_axisbelow(True)
    # protected zones and no-fire areas
    for z in site.get("zones", []):
        poly = np.array(z["enu"]) * km
        ax.add_patch(Polygon(poly, closed=True, facecolor="tab:red", alpha=0.18,
                             edgecolor="tab:red", lw=1.2, zorder=2))  # fmt: skip
        c = poly.mean(axis=0)
        ax.text(c[0], c[1], z["name"], fontsize=7, color="darkred", ha="center", va="center",
                weight="bold", zorder=6, bbox={"fc": "white", "ec": "none", "alpha": 0.6,
                                              "pad": 1.0})  # fmt: skip
    if site.get("zones"):
        handles.append(Patch(facecolor=(0.84, 0.15, 0.16, 0.18), edgecolor="tab:red",
                             label="protected zone"))  # fmt: skip
    for z in site.get("no_fire", []):
        poly = np.array(z["enu"]) * km
        ax.add_patch(Polygon(poly, closed=True, fill=False, hatch="///", edgecolor="tab:orange",
                             lw=0.8, zorder=2))  # fmt: skip
        c = poly.mean(axis=0)
        ax.text(c[0], c[1], z["name"], fontsize=6, color="tab:orange", ha="center", zorder=6)
    if site.get("no_fire"):
        handles.append(Patch(fill=False, hatch="///", edgecolor="tab:orange", label="no-fire area"))
    # truth trails (start ○, end ●) and the confirmed tracks' positions
    many = len(run.truth_xy) > 10
    shown_roles: set[str] = set()
    for j, (name, trail) in enumerate(run.truth_xy.items()):
        if not trail:
            continue
        a = np.array(trail) * km
        role = roles.get(name, "")
        colour = _ROLE_COLOUR.get(role, "tab:blue") if many else f"C{j % 10}"
        if many:
            label = None if role in shown_roles else f"truth: {role or 'other'}"
            shown_roles.add(role)
        else:
            label = f"truth: {name}"
        ax.plot(a[:, 1], a[:, 2], lw=2.2, alpha=0.45, color=colour, label=label, zorder=3)
        ax.plot(a[0, 1], a[0, 2], "o", mfc="none", color=colour, ms=4, zorder=3)
        ax.plot(a[-1, 1], a[-1, 2], "o", color=colour, ms=3, zorder=3)
    for trail in run.track_xy.values():
        a = np.array(trail) * km
        ax.plot(a[:, 1], a[:, 2], ".", ms=2.0, color="black", zorder=4)
    truth_handles, _ = ax.get_legend_handles_labels()
    handles += truth_handles
    handles.append(Line2D([], [], ls="", marker="o", mfc="none", color="0.3", ms=4,
                          label="truth start (○) / end (●)"))  # fmt: skip
    handles.append(Line2D([], [], ls="", marker=".", color="black", label="confirmed tracks"))
    # sensors and effectors with their reach
    kinds: set[str] = set()
    stacked: dict[tuple[float, float], int] = {}  # sensors on one mast: side by side
    for x in site.get("sensors", []):
        marker, colour, label = _SENSOR_STYLE.get(x["kind"], ("o", "k", x["kind"]))
        e, n = x["east"] * km, x["north"] * km
        spot = (round(e, 2), round(n, 2))
        k = stacked[spot] = stacked.get(spot, -1) + 1
        moved = offset_copy(ax.transData, fig=fig, x=9.0 * k, units="points")
        ax.plot(e, n, marker, color=colour, mec="black", mew=0.5, ms=8, zorder=7,
                transform=moved)  # fmt: skip
        if x.get("range_m") and x["range_m"] < 4.0 * half:
            ax.add_patch(Circle((e, n), x["range_m"] * km, fill=False, color=colour, lw=0.9,
                                ls="--", alpha=0.8, zorder=2))  # fmt: skip
        if x["kind"] not in kinds:
            kinds.add(x["kind"])
            handles.append(Line2D([], [], ls="--", marker=marker, color=colour, mec="black",
                                  mew=0.5, label=f"{label} (dashed: reach)"))  # fmt: skip
    for x in site.get("effectors", []):
        e, n = x["east"] * km, x["north"] * km
        ax.plot(e, n, "*", color="gold", mec="black", mew=0.6, ms=12, zorder=7)
        ax.text(e, n, f" {x['name']}", fontsize=6, zorder=6, va="bottom")
        if x.get("range_m"):
            ax.add_patch(Circle((e, n), x["range_m"] * km, fill=False, color="goldenrod",
                                lw=0.9, ls="-.", zorder=2))  # fmt: skip
    if site.get("effectors"):
        handles.append(Line2D([], [], ls="-.", marker="*", color="goldenrod", mfc="gold",
                              mec="black", ms=10, label="effector (dash-dot: reach)"))  # fmt: skip
    ax.set_xlim(x0 * km, x1 * km)
    ax.set_ylim(y0 * km, y1 * km)
    ax.set_aspect("equal")
    ax.set_xlabel("east of the site origin (km)")
    ax.set_ylabel("north (km)")
    base = "Natural Earth basemap" if drawn_basemap else "no basemap built (make web)"
    ax.set_title(f"{run.scenario}, seed {run.seed}: ENU grid, {base}", fontsize=8)
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=6.5,
               frameon=False)  # fmt: skip
    fig.savefig(path, dpi=110)
    return drawn_basemap, [h.get_label() for h in handles]


def _timeliness_plot(runs: Sequence[RunResult], path: Path) -> None:
    names = [t.name for t in runs[0].targets if t.role != "bird"][:30]
    fig = Figure(figsize=(_FIGSIZE[0], max(2.0, 0.3 * len(names) + 1.0)))
    ax = fig.add_subplot()
    for k, (attr, colour) in enumerate(
        (
            ("detect_s", "tab:cyan"),
            ("confirm_s", "tab:green"),
            ("classify_s", "tab:orange"),
            ("alert_s", "tab:red"),
            ("recommend_s", "tab:purple"),
            ("effect_s", "black"),
        )
    ):
        xs, ys = [], []
        for r in runs:
            by_name = {t.name: t for t in r.targets}
            for j, name in enumerate(names):
                v = getattr(by_name[name], attr) if name in by_name else None
                if v is not None:
                    xs.append(v)
                    ys.append(j + (k - 2.5) * 0.13)
        ax.plot(xs, ys, "o", ms=4, color=colour, label=attr.removesuffix("_s"))
    # The classification goal (#14): a drone carries its class within 5 s of its confirmation.
    gx, gy = [], []
    for r in runs:
        by_name = {t.name: t for t in r.targets}
        for j, name in enumerate(names):
            t = by_name.get(name)
            if t is not None and t.true_class == "drone" and t.confirm_s is not None:
                gx.append(t.confirm_s + CLASSIFY_WITHIN_S)
                gy.append(j)
    if gx:
        ax.plot(gx, gy, "|", ms=11, mew=1.6, color="tab:orange", alpha=0.8,
                label=f"goal: classify by confirm + {CLASSIFY_WITHIN_S:g} s")  # fmt: skip
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("seconds after the target appears")
    ax.legend(fontsize=7, loc="lower right")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _confusion_plot(counts: list[list[int]], path: Path) -> None:
    """Target-cycles by true (rows) and reported class: counts, and each row's shares in colour.

    Only the true classes the scenario has are rows (no target is truly "unknown"); each cell
    says its count and its share of the row, so a rare confusion of a common class still shows.
    """
    c = np.array(counts, dtype=float)
    rows = c.sum(axis=1, keepdims=True)
    frac = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    present = [i for i in range(c.shape[0]) if rows[i, 0] > 0] or [0]
    fig = Figure(figsize=(4.8, 1.4 + 0.55 * len(present)))
    ax = fig.add_subplot()
    ax.imshow(frac[present], cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for y, i in enumerate(present):
        for j in range(c.shape[1]):
            if c[i, j]:
                share = 100.0 * frac[i, j]
                words = f"{int(c[i, j])}\n{share:.1f} %" if share < 99.95 else f"{int(c[i, j])}"
                ax.text(j, y, words, ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=30, fontsize=7)
    ax.set_yticks(range(len(present)), [CLASSES[i] for i in present], fontsize=7)
    ax.set_xlabel("reported class")
    ax.set_ylabel("true class")
    ax.set_title("target-cycles: count and share of the row", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


_CLASS_COLOURS = {"drone": "tab:red", "bird": "tab:green", "aircraft": "tab:blue"}


def class_delays(runs: Sequence[RunResult]) -> dict[str, tuple[list[float], int]]:
    """Per true class: each confirmed target's delay to its right class (s), and the never-classed.

    The delay runs from the target's confirmation; a target never confirmed is left out.
    """
    out: dict[str, tuple[list[float], int]] = {}
    for r in runs:
        for t in r.targets:
            if t.confirm_s is None:
                continue
            delays, never = out.get(t.true_class, ([], 0))
            if t.classify_s is None:
                never += 1
            else:
                delays.append(max(0.0, t.classify_s - t.confirm_s))
            out[t.true_class] = (delays, never)
    return out


def _class_time_plot(runs: Sequence[RunResult], path: Path) -> bool:
    """Time from confirmation to the right class per true class, as a CDF, against the goals.

    The share of confirmed targets classed within x seconds (targets never classed keep it
    below 1), with the 5 s goal of #14 and the 10 s one for drones known by kinematics only.
    """
    delays = class_delays(runs)
    if not delays:
        return False
    fig = Figure(figsize=_FIGSIZE)
    ax = fig.add_subplot()
    longest = max([max(d, default=0.0) for d, _ in delays.values()] + [15.0])
    for label, (d, never) in sorted(delays.items()):
        n = len(d) + never
        xs = np.sort(np.array(d))
        ys = np.arange(1, xs.size + 1) / n
        ax.step(np.r_[0.0, xs, longest * 1.05], np.r_[0.0, ys, ys[-1] if ys.size else 0.0],
                where="post", color=_CLASS_COLOURS.get(label, "grey"),
                label=f"{label} ({n} targets, {never} never)")  # fmt: skip
    ax.axvline(CLASSIFY_WITHIN_S, color="tab:orange", ls="--", lw=1.2,
               label=f"goal: drones within {CLASSIFY_WITHIN_S:g} s (≥ 95 %)")  # fmt: skip
    ax.axvline(10.0, color="grey", ls=":", lw=1.2,
               label="kinematics only: within 10 s (≥ 90 %)")  # fmt: skip
    ax.axhline(0.95, color="tab:orange", lw=0.6, alpha=0.5)
    ax.set_xscale("symlog", linthresh=10.0)
    ax.set_xlim(0.0, longest * 1.05)
    ticks = [v for v in (0, 2, 5, 10, 30, 100, 300, 1000) if v <= longest * 1.05]
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("seconds from confirmation to the right class (linear to 10 s, then log)")
    ax.set_ylabel("share of confirmed targets")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}"
    return html.escape(str(v))


def _stat(d: dict[str, Any]) -> str:
    if not d or d.get("n", 0) == 0:
        return f"none of {d.get('of', 0)}" if d else "–"
    return f"median {_fmt(d['median'])} s, p90 {_fmt(d['p90'])} s ({d['n']} of {d['of']})"


def _goals_plot(s: dict[str, Any], path: Path) -> bool:
    """Each goal set for the scenario: its value as a bar against the goal line; False if none.

    Bars are green where the goal is met, red where it is not; the side of the line that fails
    is shaded. Goals the scenario has no figure for (n/a) are listed without a bar.
    """
    rows = [(GOAL_BY_METRIC[g["metric"]], g) for g in s.get("goals", [])]
    if not rows:
        return False
    fig = Figure(figsize=(_FIGSIZE[0], 0.62 * len(rows) + 0.9), layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (goal, g) in zip(axes, rows, strict=True):
        scale = 100.0 if goal.unit == "%" else 1.0
        bound, value = goal.bound * scale, g["value"]
        top = 100.0 if goal.unit == "%" else max(bound, value or 0.0, 1.0) * 1.35
        if goal.op == "<=":
            ax.axvspan(bound, 1.04 * top, color="tab:red", alpha=0.08)
        else:
            ax.axvspan(-0.04 * top, bound, color="tab:red", alpha=0.08)
        ax.axvline(bound, color="black", ls="--", lw=1.2)
        ax.set_ylim(-0.5, 0.5)
        if value is None:
            ax.text(0.01 * top, 0.0, "n/a: no such figure in this scenario", va="center",
                    fontsize=7, color="0.4")  # fmt: skip
        else:
            colour = "tab:green" if g["verdict"] == "PASS" else "tab:red"
            ax.barh([0.0], [value * scale], height=0.6, color=colour)
            ax.plot([value * scale], [0.0], "o", color=colour, mec="black", ms=6)  # zero too
            label = f"{show(value, goal.unit)} {g['verdict']}"
            ax.text(min(value * scale, top) + 0.01 * top, 0.0, label, va="center", fontsize=7)
        ax.set_xlim(-0.04 * top, 1.04 * top)  # the goal line clear of the frame at 0 and 100 %
        ax.set_yticks([])
        ax.set_title(f"{goal.label}: goal {goal.text()} ({goal.source})", fontsize=7, loc="left")
        ax.tick_params(axis="x", labelsize=6)
    fig.savefig(path, dpi=110)
    return True


def _verdict(v: str) -> str:
    colour = {"PASS": "#1a7f37", "FAIL": "#cf222e"}.get(v, "#6e7781")
    return f'<b style="color:{colour}">{html.escape(v)}</b>'


def _goals_table(s: dict[str, Any]) -> str:
    """The scenario's goals: figure, goal, value, PASS/FAIL and where the goal was set."""
    if not s.get("goals"):
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(GOAL_BY_METRIC[g['metric']].label)}</td>"
        f"<td>{html.escape(g['goal'])}</td>"
        f"<td>{html.escape(show(g['value'], GOAL_BY_METRIC[g['metric']].unit))}</td>"
        f"<td>{_verdict(g['verdict'])}</td><td>{html.escape(g['source'])}</td></tr>"
        for g in s["goals"]
    )
    head = "<tr><th>goal</th><th>target</th><th>measured</th><th>verdict</th><th>set in</th></tr>"
    return f"<h3>Goals: {_verdict(s['verdict'])}</h3><table>{head}{rows}</table>"


def _summary_table(summaries: Sequence[dict[str, Any]]) -> str:
    """Every scenario against every goal: PASS, FAIL or n/a, and the scenario's verdict."""
    head = "<tr><th>scenario</th><th>verdict</th>" + "".join(
        f'<th title="{html.escape(g.label)}">{html.escape(g.metric)} {html.escape(g.text())}</th>'
        for g in GOALS
    ) + "</tr>"  # fmt: skip
    body = ""
    for s in summaries:
        by = {g["metric"]: g for g in s.get("goals", [])}
        cells = "".join(
            f"<td>{_verdict(by[g.metric]['verdict'])} "
            f"{html.escape(show(by[g.metric]['value'], g.unit))}</td>"
            if g.metric in by
            else "<td>–</td>"
            for g in GOALS
        )
        slug = _slug(s["scenario"])
        body += (
            f'<tr><td><a href="#{slug}">{html.escape(s["scenario"])}</a></td>'
            f"<td>{_verdict(s['verdict'])}</td>{cells}</tr>"
        )
    return f'<table class="summary">{head}{body}</table>'


def _goals_list() -> str:
    items = "".join(
        f"<li><code>{html.escape(g.metric)}</code> {html.escape(g.text())}: "
        f"{html.escape(g.label)} ({html.escape(g.source)}"
        + (f"; {html.escape(', '.join(g.scenarios))} only" if g.scenarios else "")
        + ")</li>"
        for g in GOALS
    )
    return f"<ul>{items}</ul>"


def _table(s: dict[str, Any]) -> str:
    rows = [
        ("Runs (seeds)", f"{s['runs']} ({', '.join(map(str, s['seeds']))})"),
        ("Mean GOSPA (m)", _fmt(s["gospa_mean"])),
        ("Missed targets / false tracks per cycle",
         f"{_fmt(s['missed_per_cycle'])} / {_fmt(s['false_tracks_per_cycle'])}"),
        ("Time to first sensor report (targets other than birds)", _stat(s["time_to_detect_s"])),
        ("Time to a confirmed track (likewise)", _stat(s["time_to_confirm_s"])),
        ("Time to classify a drone", _stat(s["time_to_classify_drone_s"])),
        ("Time to alert (intruders)", _stat(s["time_to_alert_s"])),
        ("Warning before an intruder entered a zone", _stat(s["alert_lead_s"])),
        ("Intruders in a zone without a prior alert", _fmt(s["intruders_in_zone_unwarned"])),
        ("Intruders alerted", f"{s['intruders_alerted']} of {s['intruders']}"),
        ("Alerts raised / false", f"{s['alerts_raised']} / {s['false_alerts']}"),
        ("False alerts per hour", _fmt(s["false_alerts_per_hour"])),
        ("Track id switches / fragmentations", f"{s['id_switches']} / {s['fragmentations']}"),
        ("Track ids per target", _fmt(s["track_ids_per_target"])),
        ("Share of drone time tracked", _fmt(s["coverage_drone"])),
        ("Bird target-cycles called drone", _fmt(s["birds_called_drone"])),
    ]  # fmt: skip
    if s.get("recommendations"):
        judged = s["assessments_judged"]
        rows += [
            ("Countermeasure recommendations", _fmt(s["recommendations"])),
            ("Time to recommend (intruders)", _stat(s["time_to_recommend_s"])),
            ("Engagements approved / took effect",
             f"{s['engagements']} / {s['engagements_effective']}"),
            ("Engagement outcomes as assessed",
             ", ".join(f"{html.escape(k)} {v}" for k, v in s["engagement_outcomes"].items())),
            ("Assessments that matched the truth",
             f"{s['assessments_right']} of {judged}" if judged else "–"),
            ("Intruders neutralised (before a breach)",
             f"{s['intruders_neutralised']} of {s['intruders']} "
             f"({s['neutralised_before_breach']})"),
            ("Time to neutralise (intruders)", _stat(s["time_to_neutralise_s"])),
            ("Others affected by an effector (collateral)", _fmt(s["collateral_effects"])),
            ("Operator decisions refused", _fmt(s["operator_refusals"])),
        ]  # fmt: skip
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _engagement_table(runs: Sequence[RunResult]) -> str:
    """Every engagement of every run: what the system assessed beside what really happened."""
    engs = [(r.seed, e) for r in runs for e in r.engagements]
    if not engs:
        return ""
    head = (
        "<tr><th>seed</th><th>engagement</th><th>target</th><th>effector</th><th>approved (s)</th>"
        "<th>assessed</th><th>true effect</th><th>assessment right</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{seed}</td><td>{e.eng_id}</td><td>{_fmt(e.target)}</td>"
        f"<td>{html.escape(e.effector)} ({html.escape(e.kind)})</td><td>{e.approved_s:.0f}</td>"
        f"<td>{_fmt(e.assessed)}"
        f"{'' if e.assessed_s is None else f' at {e.assessed_s:.0f} s'}</td>"
        f"<td>{_fmt(e.true_effect)}"
        f"{'' if e.true_effect_s is None else f' at {e.true_effect_s:.0f} s'}</td>"
        f"<td>{_fmt(e.assessment_right)}</td></tr>"
        for seed, e in engs[:60]
    )
    return f"<h3>Engagements</h3><table>{head}{rows}</table>"


def _peer_table(peers: list[PeerRun]) -> str:
    head = (
        "<tr><th>Tracker (same radar plots)</th><th>GOSPA (m)</th><th>missed / cycle</th>"
        "<th>false / cycle</th><th>ms per batch (median)</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(p.tracker)}</td><td>{p.gospa_mean:.1f}</td>"
        f"<td>{p.missed_per_cycle:.2f}</td><td>{p.false_per_cycle:.2f}</td>"
        f"<td>{p.ms_per_batch_median:.2f}</td></tr>"
        for p in peers
    )
    return f"<table>{head}{rows}</table>"


def write_report(
    out_dir: Path,
    results: dict[str, list[RunResult]],
    peers: dict[str, list[PeerRun]] | None = None,
    countries: Path | None = None,
) -> dict[str, Any]:
    """Write summary.json, runs.json, the plots and index.html; return the summary.

    ``peers``: per scenario, Luchtwacht's and Stone Soup's trackers on the same radar plots
    (:mod:`luchtwacht.eval.peer`), added to the summary and the page. ``countries``: the
    GeoJSON the maps' basemap is drawn from (default: the console's build of Natural Earth).
    """
    peers = peers or {}
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    sections = []
    for name, runs in results.items():
        s = summary(runs)
        if name in peers:
            s["radar_tracking_side_by_side"] = [dataclasses.asdict(p) for p in peers[name]]
        summaries.append(s)
        slug = _slug(name)
        _gospa_plot(runs, out_dir / f"{slug}-gospa.png")
        _map_plot(runs[0], out_dir / f"{slug}-map.png", countries)
        _timeliness_plot(runs, out_dir / f"{slug}-times.png")
        kinds = ["gospa", "map", "times", "confusion"]
        if _class_time_plot(runs, out_dir / f"{slug}-classtime.png"):
            kinds.append("classtime")
        if _goals_plot(s, out_dir / f"{slug}-goals.png"):
            kinds.insert(0, "goals")
        _confusion_plot(s["confusion"]["counts"], out_dir / f"{slug}-confusion.png")
        imgs = "".join(f'<img src="{slug}-{kind}.png" alt="{kind}">' for kind in kinds)
        side = _peer_table(peers[name]) if name in peers else ""
        sections.append(
            f'<h2 id="{slug}">{html.escape(name)}</h2>{_goals_table(s)}{_table(s)}{side}'
            f"{_engagement_table(runs)}<div>{imgs}</div>"
        )
    doc = {"luchtwacht": __version__, "scenarios": summaries}
    (out_dir / "summary.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out_dir / "runs.json").write_text(
        json.dumps({name: [dataclasses.asdict(r) for r in runs] for name, runs in results.items()})
        + "\n"
    )
    toc = "".join(
        f'<li><a href="#{_slug(s["scenario"])}">{html.escape(s["scenario"])}</a></li>'
        for s in summaries
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Luchtwacht evaluation</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 75em; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; }}
th, td {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }}
img {{ max-width: 48%; margin: 0.3em; vertical-align: top; }}
table.summary th {{ font-size: 0.75em; }}
</style></head><body>
<h1>Luchtwacht evaluation</h1>
<p>Luchtwacht {html.escape(__version__)}. Every run flies the scenario through the whole
pipeline: simulated sensors speaking their wire formats, ingest, tracking, classification,
threat assessment, alerts and, where the scenario has effectors and a duty operator,
countermeasure recommendations, the operator's decisions and the effectors' effects on the
simulated drones. Tracks are paired with truth within 150 m at each 1 Hz cycle.
Times are from a target's first appearance. A false alert is one raised on a track that
followed no intruder at the cycle it was raised.</p>
<ul>{toc}</ul>
<h2>Goals</h2>
<p>Each scenario against the project's goals (<code>luchtwacht/eval/goals.py</code>; the issue
that set each in brackets). n/a: the scenario has no such figure (no drone, no bird, no
countermeasure). A scenario passes when no goal set for it fails.</p>
{_goals_list()}
{_summary_table(summaries)}
{"".join(sections)}
</body></html>
"""
    (out_dir / "index.html").write_text(page)
    return doc
