"""``luchtwacht evaluate``: Monte Carlo runs of scenario files and an HTML report, or a comparison.

``evaluate SCENARIO.yaml ... --runs N --report DIR`` flies each scenario N times (seeds
seed … seed + N − 1) through the whole pipeline and writes DIR/index.html, DIR/summary.json
and DIR/runs.json (:mod:`luchtwacht.eval.report`), with each scenario's PASS/FAIL against the
project's goals (:mod:`luchtwacht.eval.goals`). Progress goes to stderr: a bar on a terminal,
one line per finished run (and per side-by-side stage with ``--stonesoup``) otherwise.
``evaluate --compare A.json B.json`` reads two summaries and lists every figure that moved,
with the way that is better for it, the change and better / worse / same. Exit codes: 0 ok
(for ``--compare``: nothing got worse), 1 ``--compare`` found a figure worse beyond its
tolerance (so a CI job can stop a regression), 2 usage or file errors.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
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


_WORD_STYLE = {"better": "green", "worse": "red", "same": "dim", "new": "cyan"}


def _compare(a: Path, b: Path, console: Console) -> int:
    """Print every compared figure that moved, better or worse; 1 if any got worse, else 0."""
    from luchtwacht.eval.evaluate import compare

    before, after = _load_summary(a), _load_summary(b)
    changes = compare(before, after)
    names_a = [str(s.get("scenario")) for s in before["scenarios"]]
    names_b = [str(s.get("scenario")) for s in after["scenarios"]]
    for only, path in (
        ([n for n in names_a if n not in names_b], a),
        ([n for n in names_b if n not in names_a], b),
    ):
        if only:
            console.print(
                f"only in {path} (not compared): {', '.join(only)}", highlight=False, soft_wrap=True
            )
    table = Table(title=f"{a} → {b}")
    for col in ("scenario", "metric", "better when", "before", "after", "change", "verdict"):
        table.add_column(col)
    for c in changes:
        if c.before == c.after:
            continue
        delta = c.delta
        change = "–" if delta is None else f"{delta:+.3g}"
        if delta is not None and c.before:
            change += f" ({100.0 * delta / abs(c.before):+.0f} %)"
        style = _WORD_STYLE[c.word]
        table.add_row(
            c.scenario,
            c.metric,
            c.better_when + (f" (±{100 * c.tolerance:.0f} % is same)" if c.tolerance else ""),
            "–" if c.before is None else f"{c.before:.3g}",
            "–" if c.after is None else f"{c.after:.3g}",
            change,
            f"[{style}]{c.word}[/{style}]",
        )
    console.print(table)
    count = {w: sum(1 for c in changes if c.word == w) for w in _WORD_STYLE}
    console.print(
        f"{count['better']} better, {count['worse']} worse, {count['same']} same"
        + (f", {count['new']} new" if count["new"] else "")
        + f" of {len(changes)} compared figures"
    )
    return 1 if count["worse"] else 0


class _Runs:
    """Progress of long runs: a rich bar on a terminal, else one line per finished run or stage.

    A log or a CI job (no terminal) gets a line as each run ends, so a long evaluation is never
    silent; a terminal gets the live bar.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None
        self.live = console.is_terminal

    def __enter__(self) -> _Runs:
        if self.live:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def monte_carlo(self, name: str, runs: int, seed: int) -> Callable[[int], None]:
        """Callback for :func:`~luchtwacht.eval.evaluate.evaluate`: run k of ``runs`` done."""
        t0 = [time.monotonic()]
        task = self.bar.add_task(name, total=runs) if self.bar is not None else None

        def done(k: int) -> None:
            if self.bar is not None and task is not None:
                self.bar.update(task, completed=k)
                return
            now = time.monotonic()
            self.console.print(
                f"{name}: run {k}/{runs} (seed {seed + k - 1}) done in {now - t0[0]:.1f} s",
                highlight=False,
                soft_wrap=True,
            )
            t0[0] = now

        return done

    def side_by_side(self, name: str) -> Callable[[str, float], None]:
        """Callback for :func:`~luchtwacht.eval.peer.side_by_side`: (stage, share done)."""
        stages = {"fly": "flying the scenario for its radar plots", "luchtwacht":
                  "Luchtwacht's tracker", "stonesoup": "Stone Soup's tracker"}  # fmt: skip
        order = list(stages)
        task = (
            self.bar.add_task(f"{name} side by side", total=len(order))
            if self.bar is not None
            else None
        )
        t0 = [time.monotonic()]
        finished: set[str] = set()

        def step(stage: str, share: float) -> None:
            if self.bar is not None and task is not None:
                self.bar.update(
                    task,
                    completed=order.index(stage) + share,
                    description=f"{name} side by side: {stages[stage]}",
                )
                return
            if share >= 1.0 and stage not in finished:
                finished.add(stage)
                now = time.monotonic()
                self.console.print(
                    f"{name}: side by side {order.index(stage) + 1}/{len(order)}: "
                    f"{stages[stage]} done in {now - t0[0]:.1f} s",
                    highlight=False,
                    soft_wrap=True,
                )
                t0[0] = now

        return step


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
        typer.Option(
            "--compare",
            help="Compare two summary.json files instead: each figure that moved, better or "
            "worse; exit 1 if any got worse beyond its tolerance, 0 if none, 2 on file errors.",
        ),
    ] = None,
) -> None:
    """Score scenarios end to end (Monte Carlo) against the goals, or compare two evaluations.

    Exit codes: 0 ok; 1 --compare found a regression; 2 usage or file errors.
    """
    console = Console(stderr=True)
    if compare_files is not None:
        out = Console()
        # A pipe or a CI log gets the whole table, not one cut to 80 columns.
        raise typer.Exit(_compare(*compare_files, out if out.is_terminal else Console(width=200)))
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
    peers: dict[str, list[PeerRun]] = {}
    with _Runs(console) as shown:
        for scen, build in loaded:
            done = shown.monte_carlo(scen.name, runs, scen.seed)
            results[scen.name] = evaluate(scen, runs, gospa_c, progress=done, rebuild=build)
        if stonesoup:
            for scen, _ in loaded:
                step = shown.side_by_side(scen.name)
                peers[scen.name] = side_by_side(scen, scen.seed, gospa_c, progress=step)
    if stonesoup:
        for name, rows in peers.items():
            console.print(
                f"{name}: radar plots side by side: "
                + ", ".join(f"{p.tracker} GOSPA {p.gospa_mean:.1f} m" for p in rows),
                highlight=False,
                soft_wrap=True,
            )
        if any(len(rows) < 2 for rows in peers.values()):
            console.print(
                "warning: Stone Soup is not installed (pip install -e '.[bench]'): "
                "Luchtwacht's tracker alone on the radar plots",
                highlight=False,
                soft_wrap=True,
            )
    doc = write_report(report, results, peers)
    for s in doc["scenarios"]:
        failed = [g["metric"] for g in s["goals"] if g["verdict"] == "FAIL"]
        console.print(
            f"{s['scenario']}: {s['verdict']}"
            + (f" (missed: {', '.join(failed)})" if failed else "")
            + f"; GOSPA {s['gospa_mean']:.1f} m, "
            f"intruders alerted {s['intruders_alerted']}/{s['intruders']}, "
            f"false alerts/h {s['false_alerts_per_hour']:.2f}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"wrote {report / 'index.html'}")
