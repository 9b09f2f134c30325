"""``luchtwacht replay RECORDING``: run a recording through the node core again.

The replay rebuilds the node from the recording alone and runs it through the recorded inputs,
ticks, feeds and commands (``store.replay``), for a demo and a live run alike. ``--check``
compares the replayed tracks and alert events with the recorded ones and exits 1 on the first
difference; ``--from``/``--to`` (ISO 8601 UTC, or seconds since the recording's start) keep to a
window, whose state at ``--from`` is the recorded one (the run before it is replayed without
pacing); ``--speed X`` paces the window at X times real time (0: as fast as possible), and
``--view`` shows the terminal view while it plays. Exit codes as docs/cli.md: 0 ok, 1 the replay
differs from the recording, 2 a bad option or an unreadable recording.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from luchtwacht.node.core import NodeCore


def _fail(what: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {what}", err=True)
    raise typer.Exit(code)


def replay(
    recording: Annotated[
        Path,
        typer.Argument(help="SQLite recording made with --record.", exists=True, dir_okay=False),
    ],
    check: Annotated[
        bool,
        typer.Option(
            help="Compare with the recorded tracks and alert events; exit 1 on any difference."
        ),
    ] = False,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="Window start: ISO 8601 UTC, or seconds since the recording's start."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Window end: ISO 8601 UTC, or seconds since the start."),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(help="Pace the window at this many times real time; 0 = as fast as possible."),
    ] = 0.0,
    view: Annotated[
        bool, typer.Option("--view", help="Show the terminal view of the picture as it replays.")
    ] = False,
    summary_json: Annotated[
        Path | None, typer.Option(help="Write the replay's summary as JSON here.")
    ] = None,
) -> None:
    """Feed a recording's raw bytes through the node core again: tracks, alerts, decisions."""
    from rich.console import Console
    from rich.live import Live

    from luchtwacht.cli import _print_summary
    from luchtwacht.config_file import output_problem
    from luchtwacht.console.terminal import TerminalView
    from luchtwacht.fusion import iso_utc
    from luchtwacht.publish.geojson import ExportError, parse_time
    from luchtwacht.store.replay import Capture, Pacer, ReplayError, check_replay, read_recording
    from luchtwacht.store.replay import replay as replay_recording

    if not (math.isfinite(speed) and speed >= 0):
        _fail(f"--speed {speed}: must be 0 (as fast as possible) or a positive number")
    if summary_json is not None and (problem := output_problem(summary_json)) is not None:
        _fail(f"--summary-json {problem}")
    try:
        rec = read_recording(recording)
    except (ReplayError, OSError) as exc:
        _fail(str(exc))
    try:
        lo = parse_time(from_, rec.start_s) if from_ is not None else -math.inf
        hi = parse_time(to, rec.start_s) if to is not None else math.inf
    except ExportError as exc:
        _fail(f"--from/--to {exc}")
    if lo >= hi:
        _fail(f"--from {iso_utc(lo)} is not before --to {iso_utc(hi)}")
    if hi < rec.start_s or (rec.end_s is not None and lo > rec.end_s):
        span = f"{iso_utc(rec.start_s)} to {iso_utc(rec.end_s) if rec.end_s else 'its cut'}"
        _fail(f"--from/--to: the window is outside the recording ({span})")
    pacer = Pacer(speed)
    capture = Capture(recording, lo, hi) if check else None
    console = Console()
    live: Live | None = None
    terminal: TerminalView | None = None

    def start(core: NodeCore) -> None:
        nonlocal terminal
        if view:
            terminal = TerminalView(core.subscribe("terminal", 16), speed or 1.0, core.start_s)

    def before_tick(t_s: float) -> None:
        if t_s >= lo:  # before the window: as fast as possible, to reach its recorded state
            pacer(t_s)

    def on_cycle(core: NodeCore) -> None:
        if live is not None and terminal is not None and core.now_s >= lo:
            live.update(terminal.render(console.height), refresh=True)

    def run() -> NodeCore:
        return replay_recording(
            recording,
            on_cycle=on_cycle,
            store=capture,
            until_s=hi if math.isfinite(hi) else None,
            before_tick=before_tick,
            on_start=start,
        )

    try:
        if view:
            with Live(console=console, screen=False, auto_refresh=False) as live:
                core = run()
        else:
            core = run()
    except ReplayError as exc:
        _fail(str(exc))
    summary = core.summary()
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    _print_summary(console, {"scenario": core.name, "seed": "-", **summary})
    if capture is None:
        return
    try:
        result = check_replay(recording, capture, lo, hi)
    except ReplayError as exc:
        _fail(str(exc))
    what = f"{result.track_rows} track rows and {result.alert_events} alert events"
    window = "" if lo == -math.inf and hi == math.inf else " in the window"
    if result.differences:
        _fail(
            f"{recording}: replay differs{window}: {result.differences} differences in {what};"
            f" first: {result.first}",
            1,
        )
    typer.echo(f"replay matches the recording{window}: {what} identical")
