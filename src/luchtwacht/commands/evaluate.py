"""``luchtwacht evaluate``: Monte Carlo runs of scenario files and an HTML report, or a comparison.

``evaluate SCENARIO.yaml ... --runs N --report DIR`` flies each scenario N times (seeds
seed … seed + N − 1) through the whole pipeline and writes DIR/index.html, DIR/summary.json
and DIR/runs.json (:mod:`luchtwacht.eval.report`). ``evaluate --compare A.json B.json`` reads
two summaries and lists every metric that changed, exiting 1 if any got worse beyond its
tolerance (so a CI job can stop a regression).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from luchtwacht.config_file import output_problem

if TYPE_CHECKING:  # the simulator and the evaluation load only when a command needs them
    from luchtwacht.eval.evaluate import RunResult
    from luchtwacht.eval.peer import PeerRun
    from luchtwacht.sim.scenario import Scenario

app = typer.Typer(add_completion=False, help="Evaluate scenarios; compare two evaluations.")


def _load_summary(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise typer.BadParameter(f"{path}: not a text file, not an evaluation summary") from None
    except OSError as exc:
        raise typer.BadParameter(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise typer.BadParameter(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("scenarios"), list):
        raise typer.BadParameter(f"{path}: not an evaluation summary (no 'scenarios' list)")
    return doc


def _compare(a: Path, b: Path, console: Console) -> int:
    from luchtwacht.eval.evaluate import compare

    changes = compare(_load_summary(a), _load_summary(b))
    table = Table(title=f"{a} → {b}")
    for col in ("scenario", "metric", "before", "after", ""):
        table.add_column(col)
    for c in changes:
        if c.before == c.after:
            continue
        mark = "[red]worse[/red]" if c.regression else ""
        table.add_row(
            c.scenario,
            c.metric,
            "–" if c.before is None else f"{c.before:.3g}",
            "–" if c.after is None else f"{c.after:.3g}",
            mark,
        )
    console.print(table)
    worse = [c for c in changes if c.regression]
    console.print(f"{len(worse)} regression(s) in {len(changes)} compared figures")
    return 1 if worse else 0


@app.callback(
    invoke_without_command=True,
    subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
)
def evaluate_command(
    scenarios: Annotated[
        list[Path] | None, typer.Argument(help="Scenario files (YAML).", dir_okay=False)
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Monte Carlo runs per scenario.")] = 3,
    report: Annotated[
        Path | None, typer.Option(help="Directory for index.html, summary.json, runs.json.")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=1.0, help="Cut every scenario to this many seconds.")
    ] = None,
    gospa_c: Annotated[float, typer.Option(min=1.0, help="GOSPA cut-off distance c, m.")] = 100.0,
    stonesoup: Annotated[
        bool,
        typer.Option(
            "--stonesoup",
            help="Also track each scenario's radar plots with Luchtwacht's and Stone Soup's "
            "trackers side by side (first seed; Stone Soup from the bench extra).",
        ),
    ] = False,
    compare_files: Annotated[
        tuple[Path, Path] | None,
        typer.Option("--compare", help="Compare two summary.json files instead."),
    ] = None,
) -> None:
    """Score scenarios end to end (Monte Carlo), or compare two evaluations."""
    console = Console(stderr=True)
    if compare_files is not None:
        raise typer.Exit(_compare(*compare_files, Console()))
    if not scenarios or report is None:
        console.print("error: give scenario files and --report DIR (or --compare A.json B.json)")
        raise typer.Exit(2)
    if (problem := output_problem(report, folder=True)) is not None:
        console.print(f"error: --report {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    for name in ("index.html", "summary.json", "runs.json"):
        if (problem := output_problem(report / name)) is not None and report.is_dir():
            console.print(f"error: --report {problem}", highlight=False, soft_wrap=True)
            raise typer.Exit(2)
    from luchtwacht.sim.scenario_file import ScenarioFileError, load_scenario_file

    loaded = []
    for path in scenarios:

        def build(seed: int | None = None, path: Path = path) -> Scenario:
            scen = load_scenario_file(path, seed)
            if duration is not None:
                scen = dataclasses.replace(scen, duration_s=min(duration, scen.duration_s))
            return scen

        try:
            loaded.append((build(), build))
        except (ScenarioFileError, OSError) as exc:
            console.print(f"error: {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    from luchtwacht.eval.evaluate import evaluate
    from luchtwacht.eval.peer import side_by_side
    from luchtwacht.eval.report import write_report

    results: dict[str, list[RunResult]] = {}
    with Progress(console=console, transient=False) as bar:
        for scen, build in loaded:
            task = bar.add_task(scen.name, total=runs)

            def advance(k: int, task: TaskID = task) -> None:
                bar.update(task, completed=k)

            results[scen.name] = evaluate(scen, runs, gospa_c, progress=advance, rebuild=build)
    peers: dict[str, list[PeerRun]] = {}
    if stonesoup:
        for scen, _ in loaded:
            console.print(f"{scen.name}: radar tracking side by side …")
            peers[scen.name] = side_by_side(scen, scen.seed, gospa_c)
    doc = write_report(report, results, peers)
    for s in doc["scenarios"]:
        console.print(
            f"{s['scenario']}: GOSPA {s['gospa_mean']:.1f} m, "
            f"intruders alerted {s['intruders_alerted']}/{s['intruders']}, "
            f"false alerts/h {s['false_alerts_per_hour']:.2f}"
        )
    console.print(f"wrote {report / 'index.html'}")
