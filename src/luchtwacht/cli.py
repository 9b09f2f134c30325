"""Command line: ``luchtwacht demo | run | replay | verify | track | operators`` and format tools.

``demo`` runs the default scenario through the whole pipeline in one process, either with a live
terminal view or headless with a summary at the end; ``run`` serves a site's real feeds;
``replay`` and ``verify`` work on recordings; ``sapient``, ``remoteid``, ``adsb`` and ``asterix``
decode and check each wire format; ``track`` runs the tracker on a benchmark scenario.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from typer._click.exceptions import NoArgsIsHelpError  # typer bundles its own Click
from typer.core import TyperGroup

from luchtwacht import __version__
from luchtwacht.commands import adsb as adsb_commands
from luchtwacht.commands import asterix as asterix_commands
from luchtwacht.commands import evaluate as evaluate_commands
from luchtwacht.commands import evidence as evidence_commands
from luchtwacht.commands import export as export_commands
from luchtwacht.commands import operators as operator_commands
from luchtwacht.commands import pki as pki_commands
from luchtwacht.commands import remoteid as remoteid_commands
from luchtwacht.commands import replay as replay_commands
from luchtwacht.commands import report as report_commands
from luchtwacht.commands import sapient as sapient_commands
from luchtwacht.commands import track as track_commands
from luchtwacht.commands import verify as verify_commands
from luchtwacht.config_file import output_problem
from luchtwacht.hostport import parse_hostport
from luchtwacht.site import (
    AdsbSection,
    ConsoleSection,
    RemoteIdCaptureSection,
    RemoteIdSection,
    SapientSection,
    SiteConfig,
    SiteConfigError,
    default_site,
    load_site,
)
from luchtwacht.store.recorder import new_recording_problem, remove_recording

if TYPE_CHECKING:
    from luchtwacht.console.server import ConsoleServer
    from luchtwacht.counter.authority import OperatorAccount
    from luchtwacht.node.core import NodeCore
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.publish.config import Publishers, PublishSection
    from luchtwacht.store.port import Store

# The node, the simulator and the evaluation load inside the command that needs them: ``run``
# binds its listeners before the tracker has loaded (see ``transport.listen``).


GLOBAL_FLAGS = ("-v", "--verbose", "--version")


def _hoist_global_flags(args: list[str]) -> list[str]:
    """``luchtwacht demo -v`` as ``luchtwacht -v demo``: the global flags work after a command.

    So does ``--log-file PATH``. Only up to a ``--`` (after it every word is an argument); no
    command has a ``-v`` or ``--log-file`` of its own.
    """
    stop = args.index("--") if "--" in args else len(args)
    hoisted: list[str] = []
    rest: list[str] = []
    k = 0
    while k < stop:
        word = args[k]
        if word in GLOBAL_FLAGS or word.startswith("--log-file="):
            hoisted.append(word)
        elif word == "--log-file" and k + 1 < stop:  # the option and its value go together
            hoisted += args[k : k + 2]
            k += 1
        else:
            rest.append(word)
        k += 1
    return hoisted + rest + args[stop:]


class _OneLineErrors(TyperGroup):
    """The root command: Click's own usage errors printed as one ``error:`` line too (exit 2).

    Without this, a missing file or a value out of range would be a framed panel of several
    lines while the commands' own errors are one line; docs/cli.md states the one format.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run as Click does, but report its exceptions in the ``error: <what>: <why>`` form."""
        args = _hoist_global_flags(sys.argv[1:] if args is None else list(args))
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError:  # a group given no arguments: show its help as Click does
            return super().main(args, prog_name, complete_var, True, windows_expand_args, **extra)
        except typer.TyperException as exc:  # Click's usage and file errors (typer's own Click)
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else ""
            what = f"{where}: " if where else ""
            hint = f" (see {where} --help)" if where else ""
            message = " ".join(str(getattr(exc, "format_message", exc.__str__)()).split())
            typer.echo(f"error: {what}{message}{hint}", err=True)
            sys.exit(int(getattr(exc, "exit_code", 2)))
        except typer.Abort:
            typer.echo("error: aborted: no input (end of file or Ctrl-C)", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    help="Luchtwacht counter-drone system.",
)
app.add_typer(remoteid_commands.app, name="remoteid", help="Drone Remote ID (ASTM F3411) tools.")
app.add_typer(
    export_commands.export_app,
    name="export",
    help="Export recordings (GeoJSON tracks and zones for GIS tools).",
)
app.add_typer(
    adsb_commands.app, name="adsb", help="Mode S / ADS-B tools (dump1090 / readsb feeds)."
)
app.add_typer(
    asterix_commands.app,
    name="asterix",
    help="ASTERIX tools: radar plots (CAT048/034), system tracks (CAT062/065), ADS-B (CAT021).",
)
app.add_typer(sapient_commands.app, name="sapient", help="SAPIENT (BSI Flex 335 v2.0) tools.")
app.add_typer(track_commands.app, name="track", help="Track a benchmark scenario (.npz) to CSV.")
app.add_typer(
    operator_commands.app,
    name="operators",
    help="Operator accounts: who may log in and approve engagements.",
)
app.add_typer(
    pki_commands.app,
    name="pki",
    help="Site PKI: a CA and node certificates for mutual TLS to the SAPIENT server.",
)
app.add_typer(
    evaluate_commands.app,
    name="evaluate",
    help="Score scenarios end to end (Monte Carlo) into an HTML report; compare two runs.",
)
app.add_typer(
    evidence_commands.app,
    name="evidence",
    help="Signed evidence packages: export a window of a recording; verify a package anywhere.",
)
app.add_typer(
    report_commands.app,
    name="report",
    help="Signed reports from a recording: clear-sky (unauthorised tracks, coverage, gaps).",
)


def _fail(what: str, code: int = 2) -> NoReturn:
    """``error: <what>: <why>`` on stderr and exit ``code``: 1 invalid data, 2 usage or file."""
    typer.echo(what if what.startswith("error: ") else f"error: {what}", err=True)
    raise typer.Exit(code)


def _check_outputs(record: Path | None, overwrite: bool, files: dict[str, Path | None]) -> None:
    """Exit 2 naming the first output the run could not write, before the run starts.

    ``files`` maps an option (``--summary-json``) to its path; the recording is checked for
    being SQLite and for holding an earlier run (replaced only with ``--overwrite``).
    """
    for option, path in files.items():
        if path is not None and (problem := output_problem(path)) is not None:
            _fail(f"{option} {problem}")
    if record is not None:
        if (problem := new_recording_problem(record, overwrite)) is not None:
            _fail(f"--record {problem}")
        if overwrite:
            remove_recording(record)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"luchtwacht {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Log warnings and rejections (before or after the command)."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            help="Also log to this file as JSON lines (INFO and above), before or after the"
            " command.",
        ),
    ] = None,
) -> None:
    from luchtwacht.logfile import configure

    if log_file is not None and (problem := output_problem(log_file)) is not None:
        _fail(f"--log-file {problem}")
    configure(verbose, log_file)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def demo(
    headless: Annotated[
        bool, typer.Option(help="No live view; print a summary at the end.")
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option(help="Simulated seconds to run (default: the scenario's).", min=0.1),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(help="Simulated seconds per wall second; 0 = as fast as possible.", min=0.0),
    ] = 1.0,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Random seed of the scenario and sensors (0 or more; default 7, or the"
            " scenario file's). Given with --scenario it overrides the file's seed.",
            show_default=False,
        ),
    ] = None,
    scenario_file: Annotated[
        Path | None,
        typer.Option("--scenario", help="Scenario YAML (see scenarios/)."),
    ] = None,
    record: Annotated[Path | None, typer.Option(help="Record the run to this SQLite file.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing recording at --record.")
    ] = False,
    summary_json: Annotated[
        Path | None, typer.Option(help="Write the end-of-run summary as JSON here.")
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option(
            help="Sign the recording with this Ed25519 key (luchtwacht pki signing-key);"
            " without it a key is made for the run.",
        ),
    ] = None,
    web: Annotated[
        bool, typer.Option("--web/--no-web", help="Serve the operator console while it runs.")
    ] = True,
    web_listen: Annotated[str, typer.Option(help="Console HOST:PORT.")] = "127.0.0.1:8765",
    publish: Annotated[
        Path | None,
        typer.Option(
            help="A site file whose publish: section (Cursor-on-Target, SAPIENT, ASTERIX) gets"
            " the demo's picture; the scenario then runs on today's date and time.",
        ),
    ] = None,
) -> None:
    """Run the default scenario (Volkel Air Base) through the whole pipeline."""
    from luchtwacht.console.terminal import TerminalView
    from luchtwacht.pipeline import Pipeline
    from luchtwacht.sim.scenario import default_scenario
    from luchtwacht.sim.scenario_file import ScenarioFileError, load_scenario_file
    from luchtwacht.store.recorder import Recorder
    from luchtwacht.store.worker import BackgroundStore
    from luchtwacht.transport.clock import SimClock

    if seed is not None and seed < 0:
        _fail(f"--seed {seed}: must be 0 or more")
    node_key = None
    if signing_key is not None:
        from luchtwacht.store.chain import NodeKey, SigningKeyError

        try:
            node_key = NodeKey.load(signing_key)
        except SigningKeyError as exc:
            _fail(f"--signing-key {exc}")
        except OSError as exc:
            _fail(f"--signing-key {signing_key}: {exc.strerror or exc}")
    _check_outputs(record, overwrite, {"--summary-json": summary_json})
    if scenario_file is not None:
        try:
            scenario = load_scenario_file(scenario_file, seed=seed)
        except ScenarioFileError as exc:
            _fail(str(exc))
    else:
        scenario = default_scenario(seed=7 if seed is None else seed)
    publish_section = _publish_section(publish) if publish is not None else None
    if publish_section is not None:
        # Other systems (TAK clients, a C2) judge staleness by their own clock: the picture they
        # get must be of now, not of the scenario's fixed date.
        scenario = dataclasses.replace(scenario, epoch_s=time.time())
    run_s = duration if duration is not None else scenario.duration_s
    people, passwords = _demo_people() if web else ([], {})
    # The console logs people in from its own thread: the store must take writes from both.
    recorder: Store | None = None
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if record is None and web:
        # The console's replay needs a recording: keep one for the run, gone at its end.
        scratch = tempfile.TemporaryDirectory(prefix="luchtwacht-demo-")
        record = Path(scratch.name) / "demo.sqlite"
    if record is not None:
        recorder = BackgroundStore(record, key=node_key) if web else Recorder(record, node_key)
    pipeline = Pipeline(scenario, recorder=recorder, people=people)
    clock = SimClock(speed)
    console = Console()
    server = _demo_console(pipeline, web_listen, passwords) if web else None
    publishers = _demo_publishers(pipeline, publish_section) if publish_section else None
    try:
        if headless:
            pipeline.run(run_s, clock)
        else:
            # The terminal view is a subscriber; it redraws once a second from its queue.
            view = TerminalView(pipeline.subscribe("terminal", 16), speed, pipeline.start_s)
            with Live(
                view.render(console.height), console=console, screen=False, auto_refresh=False
            ) as live:
                pipeline.run(
                    run_s,
                    clock,
                    on_cycle=lambda p: live.update(view.render(console.height), refresh=True),
                )
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: summarising what ran[/yellow]")
    finally:
        if server is not None:
            server.stop()
        if publishers is not None:
            publishers.stop()
        pipeline.finish()
        if recorder is not None:
            recorder.close()
        if scratch is not None:
            scratch.cleanup()
    summary = pipeline.summary()
    if publishers is not None:
        summary["publishers"] = publishers.stats()
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary, indent=2) + "\n")
    _print_summary(console, summary)


def _publish_section(path: Path) -> PublishSection:
    """The publishers a file names (exit 2 with one line if it names none or is invalid)."""
    from luchtwacht.publish.config import PublishConfigError, load_publish

    try:
        return load_publish(path)
    except PublishConfigError as exc:
        _fail(str(exc))


def _demo_publishers(pipeline: Pipeline, section: PublishSection) -> Publishers:
    """Start the demo's publishers on its picture; each says where it sends."""
    from luchtwacht.ingest.sapient import DEFAULT_FUSION_NODE_ID
    from luchtwacht.publish.base import PublishContext
    from luchtwacht.publish.config import Publishers, build_publishers

    sc = pipeline.scenario
    ctx = PublishContext(sc.name, sc.origin, tuple(sc.zones), DEFAULT_FUSION_NODE_ID)
    publishers = Publishers(build_publishers(section, pipeline, ctx))
    publishers.start()
    for p in publishers.publishers:
        typer.echo(f"publishing the picture to {p.name} ({p.kind})")
    return publishers


def _demo_people() -> tuple[list[OperatorAccount], dict[str, str]]:
    """One account per role for the demo's console, each with a fresh password for this run."""
    from luchtwacht.counter.authority import OperatorAccount, hash_password

    passwords = {role: secrets.token_urlsafe(9) for role in ("commander", "operator", "viewer")}
    people = [OperatorAccount(role, role, hash_password(pw)) for role, pw in passwords.items()]
    return people, passwords


def _demo_console(
    pipeline: NodeCore, listen: str, passwords: dict[str, str]
) -> ConsoleServer | None:
    """Start the console on the demo's node (on node time); None if it cannot listen."""
    from luchtwacht.console.server import Console as WebConsole
    from luchtwacht.console.server import ConsoleServer, NodeTime
    from luchtwacht.transport.listen import bind_tcp

    try:
        sock = bind_tcp(*parse_hostport(listen))
    except (OSError, ValueError) as exc:
        typer.echo(f"warning: no operator console: cannot listen on {listen} ({exc})", err=True)
        return None
    server = ConsoleServer(WebConsole(pipeline, pipeline.authority, NodeTime(pipeline)), sock)
    server.start()
    logins = ", ".join(f"{role} / {pw}" for role, pw in passwords.items())
    typer.echo(f"operator console: {server.url} (log in as {logins})")
    return server


def _print_summary(console: Console, s: dict[str, object]) -> None:
    console.print(
        f"[bold]Summary[/bold] {s['scenario']} seed {s['seed']}, {s['duration_s']} s simulated"
    )
    console.print(
        f"tracks confirmed over the run: {s['tracks_confirmed']}  classes: {s['classes']}  "
        f"alerts raised: {s['alerts_raised']}"
    )
    t = Table(
        "Sensor",
        "Format",
        "Decoded",
        "Rejected",
        "Reasons",
        title="Messages per sensor",
        title_justify="left",
    )
    sensors = s["sensors"]
    assert isinstance(sensors, dict)
    for sid, c in sensors.items():
        reasons = "; ".join(f"{k} ×{v}" for k, v in c["rejected_by_reason"].items())
        t.add_row(sid, c["format"], str(c["decoded"]), str(c["rejected"]), reasons)
    console.print(t)
    alerts = s["alerts"]
    assert isinstance(alerts, list)
    for a in alerts:
        line = (
            f"alert {a['alert_id']} [{a['level']}] t+{a['raised_t_s']} s: "
            f"{a['message']} ({a['state']})"
        )
        console.print(escape(line), highlight=False)
    counter = s.get("counter")
    if isinstance(counter, dict):
        recs = counter["recommendations"]
        console.print(
            f"countermeasures: {len(recs)} recommendation(s), "
            f"{sum(1 for r in recs if r['state'] == 'pending')} still awaiting a decision"
        )
        for e in counter["engagements"]:
            outcome = e["outcome"] or "no outcome yet"
            line = (
                f"engagement {e['eng_id']} t+{e['approved_t_s']} s: {e['effector']} "
                f"({e['kind']}) on track {e['track_id']}, approved by {e['approved_by']}: "
                f"{e['state']}, {outcome}"
            )
            console.print(escape(line), highlight=False)
    publishers = s.get("publishers")
    if isinstance(publishers, dict):
        for name, p in publishers.items():
            console.print(
                f"published to {name} ({p['kind']}): {p['sent']} sent, {p['dropped']} dropped, "
                f"{p['reconnects']} reconnects, {p['updates_lost']} picture updates lost",
                highlight=False,
            )


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Option(help="Site YAML (see examples/site-ehvk.yaml).", dir_okay=False)
    ] = None,
    sapient_listen: Annotated[
        str | None, typer.Option(help="SAPIENT server HOST:PORT (mutual TLS: site file's tls).")
    ] = None,
    plain_tcp: Annotated[
        bool,
        typer.Option(
            "--plain-tcp",
            help="SAPIENT over plain TCP, no certificates: a closed lab network only.",
        ),
    ] = False,
    remoteid_listen: Annotated[str | None, typer.Option(help="Remote ID feed HOST:PORT.")] = None,
    remoteid_protocol: Annotated[
        str | None,
        typer.Option(
            help="udp or tcp for the Remote ID feed (default: the site file's, else udp).",
            show_default=False,
        ),
    ] = None,
    adsb_connect: Annotated[
        str | None, typer.Option(help="ADS-B receiver HOST:PORT (Beast, AVR or SBS).")
    ] = None,
    remoteid_capture: Annotated[
        str | None,
        typer.Option(
            help="Remote ID from a pcap/pcapng capture: - for standard input (tcpdump -w - |"
            " …), or a FIFO or a file being written.",
        ),
    ] = None,
    headless: Annotated[bool, typer.Option(help="No live view.")] = False,
    stats_json: Annotated[
        Path | None, typer.Option(help="Rewrite counters here every second.")
    ] = None,
    record: Annotated[Path | None, typer.Option(help="Record to this SQLite file.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing recording at --record.")
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds.", min=0.1)
    ] = None,
    web: Annotated[
        bool | None,
        typer.Option(
            "--web/--no-web",
            help="Serve the operator console (REST, WebSocket); default: as the site file says"
            " (console: null leaves it off), else on.",
            show_default=False,
        ),
    ] = None,
    web_listen: Annotated[
        str | None,
        typer.Option(help="Console HOST:PORT (default: the site file's, 127.0.0.1:8765)."),
    ] = None,
) -> None:
    """Run the live node for a site: serve its feeds until SIGTERM or Ctrl-C."""
    from luchtwacht.transport.listen import prebind

    try:
        site = load_site(config) if config is not None else default_site()
    except SiteConfigError as exc:
        _fail(str(exc))
    updates: dict[str, object] = {}
    try:
        sapient_update: dict[str, object] = {}
        if sapient_listen is not None:
            parse_hostport(sapient_listen)
            sapient_update["listen"] = sapient_listen
        if plain_tcp:
            sapient_update["transport"] = "tcp"
        if sapient_update:
            base = site.sapient or SapientSection()
            updates["sapient"] = base.model_copy(update=sapient_update)
        if remoteid_protocol is not None and remoteid_protocol not in ("udp", "tcp"):
            raise ValueError(f"--remoteid-protocol {remoteid_protocol}: must be udp or tcp")
        if remoteid_protocol is not None and remoteid_listen is None and site.remoteid is None:
            raise ValueError(
                "--remoteid-protocol needs --remoteid-listen or a remoteid: section in the site"
            )
        remoteid_update: dict[str, object] = {}
        if remoteid_listen is not None:
            parse_hostport(remoteid_listen)
            remoteid_update["listen"] = remoteid_listen
        if remoteid_protocol is not None:
            remoteid_update["protocol"] = remoteid_protocol
        if remoteid_update:  # amends the site file's feed: its protocol and allow list stay
            base_rid = site.remoteid or RemoteIdSection()
            updates["remoteid"] = base_rid.model_copy(update=remoteid_update)
        if adsb_connect is not None:
            parse_hostport(adsb_connect)
            base_adsb = site.adsb or AdsbSection()
            updates["adsb"] = base_adsb.model_copy(update={"connect": adsb_connect})
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if remoteid_capture is not None:
        base_capture = site.remoteid_capture or RemoteIdCaptureSection(source=remoteid_capture)
        updates["remoteid_capture"] = base_capture.model_copy(update={"source": remoteid_capture})
    if stats_json is not None:
        updates["stats_json"] = stats_json
    if record is not None:
        updates["record"] = record
    if web is False:
        updates["console"] = None
    elif web_listen is not None or (web is True and site.console is None):
        base_console = site.console or ConsoleSection()
        listen = web_listen if web_listen is not None else base_console.listen
        updates["console"] = base_console.model_copy(update={"listen": listen})
    try:  # flags are checked as the file is: TLS needs its certificates, and so on
        site = SiteConfig.model_validate(site.model_copy(update=updates).model_dump())
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        typer.echo(f"error: {where + ': ' if where else ''}{err['msg']}", err=True)
        raise typer.Exit(2) from None
    if site.sapient is not None and site.sapient.transport == "tcp":
        typer.echo(
            f"warning: SAPIENT on {site.sapient.listen} over plain TCP: any host that reaches it"
            " can speak for any sensor or effector; a closed lab network only (docs/pki.md)",
            err=True,
        )
    replay_station = site.console is not None and site.console.recordings is not None
    feeds = (site.sapient, site.remoteid, site.remoteid_capture, site.asterix, site.adsb)
    if not any(feeds) and not replay_station:
        _fail(
            "nothing to serve: give a site file with feeds,"
            " or --sapient-listen / --remoteid-listen / --remoteid-capture"
            " (or console.recordings, for a console that replays recordings only)"
        )
    # the site file's record: and stats_json: too; checked before a port is taken
    _check_outputs(site.record, overwrite, {"--stats-json": site.stats_json})
    try:  # listening before the node has loaded: a sensor may connect at once
        prebound = prebind(site)
    except OSError as exc:  # a ListenError: names the listener, its address and the reason
        _fail(str(exc))
    from luchtwacht.console.terminal import TerminalView
    from luchtwacht.runtime import LiveNode

    console = Console()
    try:
        node = LiveNode(site, prebound=prebound)
    except SiteConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        prebound.close()
        raise typer.Exit(2) from None
    if site.store.backend == "postgresql" and node.recorder is not None:
        typer.echo(f"recording to {node.recorder.path}")  # the run's id, the server; no password
    console_sock = prebound.sockets.get("console")
    if site.console is not None and console_sock is not None:
        host, port = console_sock.getsockname()[:2]
        scheme = "https" if site.console.tls else "http"
        from luchtwacht.console.static import WEB_DIST

        if (WEB_DIST / "index.html").is_file():
            typer.echo(f"operator console: {scheme}://{host}:{port}/")
        else:
            typer.echo(
                f"operator console: {scheme}://{host}:{port}/api (REST and WebSocket only:"
                " `make web` builds the web client)"
            )
        if replay_station and not (site.sapient or site.remoteid or site.asterix or site.adsb):
            typer.echo(f"no feeds: the console replays the recordings in {site.console.recordings}")
    if headless:
        asyncio.run(node.run(duration))
    else:
        with Live(console=console, auto_refresh=False) as live:
            view = TerminalView(node.core.subscribe("terminal", 16), 1.0, node.core.start_s)
            node.on_cycle = lambda core: live.update(view.render(console.height), refresh=True)
            asyncio.run(node.run(duration))
    stats = node.stats()
    console.print(
        f"stopped: {stats['confirmed_tracks']} tracks held, {stats['alerts_total']} alerts; "
        + ", ".join(
            f"{k}: {v['accepted']} accepted / {v['rejected']} rejected"
            for k, v in stats["feeds"].items()
        ),
        highlight=False,
    )


app.command(name="replay")(replay_commands.replay)


app.command("verify")(verify_commands.verify)


if __name__ == "__main__":
    app()
