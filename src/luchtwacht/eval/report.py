"""The evaluation report: one HTML page with plots per scenario, and the JSON it is built from.

``write_report(DIR, results)`` writes ``DIR/summary.json`` (the headline figures of every
scenario, what ``luchtwacht evaluate --compare`` reads), ``DIR/runs.json`` (every run's
per-cycle and per-target figures) and ``DIR/index.html`` with, per scenario, a table of the
headline figures and four plots (matplotlib, PNG next to the page): GOSPA over time with its
missed and false counts, tracks against truth on a map (first run), time to detect, confirm,
classify, alert, recommend a countermeasure and neutralise per target over the runs, and the
classification confusion matrix; where operators approved engagements, a table of each one's
assessed outcome beside what the effector really did.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from luchtwacht import __version__
from luchtwacht.eval.evaluate import CLASSES, RunResult, summary
from luchtwacht.eval.peer import PeerRun

_FIGSIZE = (6.4, 3.6)


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


def _map_plot(run: RunResult, path: Path) -> None:
    fig = Figure(figsize=(5.2, 5.2))
    ax = fig.add_subplot()
    for name, pts in run.truth_xy.items():
        a = np.array(pts)
        ax.plot(a[:, 1] / 1e3, a[:, 2] / 1e3, lw=2.5, alpha=0.35, label=name if len(pts) else None)
    for pts in run.track_xy.values():
        a = np.array(pts)
        ax.plot(a[:, 1] / 1e3, a[:, 2] / 1e3, ".", ms=2.5, color="black")
    ax.plot([], [], ".", color="black", label="confirmed tracks")
    ax.set_xlabel("east (km)")
    ax.set_ylabel("north (km)")
    ax.set_aspect("equal", adjustable="datalim")
    if len(run.truth_xy) <= 12:
        ax.legend(fontsize=6, loc="best")
    ax.set_title(f"truth (lines) and tracks (dots), seed {run.seed}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("seconds after the target appears")
    ax.legend(fontsize=7, loc="lower right")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _confusion_plot(counts: list[list[int]], path: Path) -> None:
    c = np.array(counts, dtype=float)
    rows = c.sum(axis=1, keepdims=True)
    frac = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    fig = Figure(figsize=(4.4, 3.6))
    ax = fig.add_subplot()
    ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            if c[i, j]:
                ax.text(j, i, f"{int(c[i, j])}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=30, fontsize=7)
    ax.set_yticks(range(len(CLASSES)), CLASSES, fontsize=7)
    ax.set_xlabel("reported class")
    ax.set_ylabel("true class")
    ax.set_title("target-cycles (colour: share of the row)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


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
) -> dict[str, Any]:
    """Write summary.json, runs.json, the plots and index.html; return the summary.

    ``peers``: per scenario, Luchtwacht's and Stone Soup's trackers on the same radar plots
    (:mod:`luchtwacht.eval.peer`), added to the summary and the page.
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
        _map_plot(runs[0], out_dir / f"{slug}-map.png")
        _timeliness_plot(runs, out_dir / f"{slug}-times.png")
        _confusion_plot(s["confusion"]["counts"], out_dir / f"{slug}-confusion.png")
        imgs = "".join(
            f'<img src="{slug}-{kind}.png" alt="{kind}">'
            for kind in ("gospa", "map", "times", "confusion")
        )
        side = _peer_table(peers[name]) if name in peers else ""
        sections.append(
            f'<h2 id="{slug}">{html.escape(name)}</h2>{_table(s)}{side}'
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
{"".join(sections)}
</body></html>
"""
    (out_dir / "index.html").write_text(page)
    return doc
