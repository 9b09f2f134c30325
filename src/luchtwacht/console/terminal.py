"""Live terminal view of the air picture (rich): tracks, alerts, countermeasures, sensor status.

Built for an operator at night: the most threatening tracks first, threat levels in colour,
one glance for "which sensor is down". The view is a subscriber of the node core like any other
consumer: it reads the :class:`~luchtwacht.model.picture.PictureUpdate` each cycle publishes and
never touches the node itself.
"""

from __future__ import annotations

import math
from collections import Counter, deque

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from luchtwacht.fusion import iso_utc
from luchtwacht.model.engagement import ACTIVE_STATES
from luchtwacht.model.picture import AlertSnapshot, PictureUpdate
from luchtwacht.model.track import ThreatLevel, TrackView
from luchtwacht.node.ports import Subscription

THREAT_STYLE = {
    ThreatLevel.NONE: "dim",
    ThreatLevel.LOW: "green",
    ThreatLevel.MEDIUM: "yellow",
    ThreatLevel.HIGH: "bold dark_orange",
    ThreatLevel.CRITICAL: "bold white on red",
}
MAX_TRACK_ROWS = 25
CHROME_ROWS = 24  # header, table frames, alerts and sensors around the track rows
COMPACT_BELOW_COLS = 110  # narrower terminals (80×24) get the compact layout
COMPACT_ALERT_ROWS = 3


def tracks_table(p: PictureUpdate, max_rows: int = MAX_TRACK_ROWS) -> Table:
    """Confirmed tracks, most threatening first."""
    t = Table(title=f"Tracks now: {len(p.tracks)}", expand=True, title_justify="left")
    for col, just in (
        ("ID", "right"), ("Class", "left"), ("Identity", "left"), ("Lat", "right"),
        ("Lon", "right"), ("Alt m", "right"), ("Speed m/s", "right"), ("Hdg°", "right"),
        ("Threat", "left"), ("Zone", "left"),
    ):  # fmt: skip
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for v in p.tracks[:max_rows]:
        ident = _identity(v)
        if v.zones_inside:
            zone = "INSIDE " + ", ".join(v.zones_inside)
        elif v.time_to_breach_s is not None:
            zone = f"breach in {v.time_to_breach_s:.0f} s"
        else:
            zone = ""
        t.add_row(
            str(v.track_id),
            f"{v.object_class} {v.class_prob:.0%}",
            ident,
            f"{v.lat_deg:.5f}",
            f"{v.lon_deg:.5f}",
            f"{v.up_m:.0f}",
            f"{v.speed_ms:.1f}",
            f"{v.heading_deg:.0f}",
            Text(v.threat.label.upper(), style=THREAT_STYLE[v.threat]),
            zone,
        )
    return t


def alerts_table(p: PictureUpdate, cleared: tuple[AlertSnapshot, ...] = ()) -> Table:
    """Open alerts first, then the latest cleared ones."""
    t = Table(title="Alerts", expand=True, title_justify="left")
    for col in ("#", "Level", "Raised", "State", "Message"):
        t.add_column(col)
    alerts = p.alerts
    for a in [*alerts, *cleared]:
        t.add_row(
            str(a.alert_id),
            Text(
                a.level.label.upper(),
                style=THREAT_STYLE[a.level] if a.cleared_t_s is None else "dim",
            ),
            iso_utc(a.raised_t_s)[11:19] + "Z",
            a.state.name.lower(),
            a.message,
        )
    if not alerts and not cleared:
        t.add_row("", "", "", "", Text("no alerts", style="dim"))
    return t


def counter_table(p: PictureUpdate) -> Table | None:
    """Countermeasures: what waits for an operator's decision, and the engagements under way.

    Shown only where the site has effectors. A recommendation shows its best usable option and
    how long it has waited; nothing on it is tasked until an authorised operator approves.
    """
    if not p.effectors:
        return None
    t = Table(title="Countermeasures", expand=True, title_justify="left")
    for col in ("#", "Track", "Effector", "State", "Detail"):
        t.add_column(col)
    for rec in p.recommendations:
        best = next((o for o in rec.options if o.usable), None)
        if best is None:
            effector, detail = (
                "—",
                "no usable option: "
                + "; ".join(sorted({b for o in rec.options for b in o.blocked_by})),
            )
        else:
            when = "" if best.t_effect_s is None else f"effect in {best.t_effect_s:.0f} s"
            effector = f"{best.effector} ({best.kind})"
            detail = "; ".join([when, *best.warnings]).strip("; ")
        t.add_row(
            f"R{rec.rec_id}",
            str(rec.track_id),
            effector,
            Text(f"AWAITING APPROVAL {p.t_s - rec.created_t_s:.0f} s", style="bold yellow"),
            detail,
        )
    for eng in p.engagements[-5:]:
        active = eng.state in ACTIVE_STATES
        state = eng.state if eng.outcome is None else f"{eng.state}: {eng.outcome}"
        t.add_row(
            f"E{eng.eng_id}",
            str(eng.track_id),
            f"{eng.effector} ({eng.effector_kind})",
            Text(state, style="bold red" if active else "dim"),
            f"approved by {eng.approved_by} at {iso_utc(eng.approved_t_s)[11:19]}Z",
        )
    if not p.recommendations and not p.engagements:
        t.add_row("", "", "", "", Text("no recommendations", style="dim"))
    return t


def lost_nodes(p: PictureUpdate) -> list[str]:
    """Registered SAPIENT nodes that no open connection carries now: shown as lost, not gone.

    A connection's feed is named by the nodes it carries (``NodeCore._feed_name``), so a node
    whose name is in no feed's name has lost its connection.
    """
    names = [f.name for f in p.feeds]
    out = []
    for n in p.nodes:
        label = n.name or n.node_id[:8]
        if n.registered and not any(label in name for name in names):
            out.append(label)
    return out


def sensors_table(p: PictureUpdate) -> Table:
    """Feed health and message counters; a node whose connection dropped stays, as lost."""
    t = Table(title="Sensors", expand=True, title_justify="left")
    for col in ("Sensor", "Format", "State", "Decoded", "Rejected", "Last rejection"):
        t.add_column(col)
    for f in p.feeds:
        style = {"ok": "green", "waiting": "yellow", "lost": "bold red"}[f.state]
        t.add_row(
            f.name,
            f.fmt,
            Text(f.state, style=style),
            str(f.decoded),
            str(f.rejected),
            f.last_rejection,
        )
    for name in lost_nodes(p):
        t.add_row(name, "sapient", Text("lost", style="bold red"), "", "", "connection closed")
    return t


def _identity(v: TrackView) -> str:
    """The track's identity, its make and where its pilot stands, as far as the evidence goes.

    Make: identify/make_model.py; pilot: identify/pilot.py (Remote ID, or RF bearings).
    """
    if v.uas_id:
        ident = f"RID {v.uas_id}"
    elif v.icao:
        ident = f"ICAO {v.icao}"
    elif v.rf_serial:
        ident = f"RF {v.rf_serial}"
    else:
        ident = ""
    parts = [x for x in (ident, v.make_model, _pilot(v)) if x]
    return " · ".join(parts) or ("cooperative" if v.cooperative else "—")


def _pilot(v: TrackView) -> str:
    """Where the pilot stands: position, 1-sigma error and whence (``RF``: bearings)."""
    if v.pilot_lat_deg is None or v.pilot_lon_deg is None:
        return ""
    err = f" ±{v.pilot_err_m:.0f} m" if v.pilot_err_m is not None else ""
    how = " (RF)" if (v.pilot_source or "").startswith("rf") else ""
    return f"pilot {v.pilot_lat_deg:.5f} {v.pilot_lon_deg:.5f}{err}{how}"


def _zone_text(v: TrackView) -> str:
    if v.zones_inside:
        return "IN " + ", ".join(v.zones_inside)
    if v.time_to_breach_s is not None:
        return f"in {v.time_to_breach_s:.0f} s"
    return ""


def _hidden_summary(hidden: list[TrackView]) -> str:
    """What the rows that do not fit are, by class: birds are counted, never silently gone."""
    by_class = Counter(v.object_class for v in hidden)
    return f"… {len(hidden)} more: " + ", ".join(f"{n} {c}" for c, n in by_class.most_common())


def compact_tracks(p: PictureUpdate, max_rows: int) -> Table:
    """Tracks for a narrow terminal: range/bearing from the site in place of lat/lon.

    The identity is cut with an ellipsis; numbers and the threat are never cut.
    """
    t = Table(
        title=f"Tracks now: {len(p.tracks)}", title_justify="left", box=None, padding=(0, 1),
        expand=True, pad_edge=False, show_edge=False,
    )  # fmt: skip
    t.add_column("ID", justify="right", no_wrap=True)
    t.add_column("Class", no_wrap=True)
    t.add_column("Threat", no_wrap=True)
    t.add_column("Rng/brg", justify="right", no_wrap=True, min_width=11)
    t.add_column("Alt", justify="right", no_wrap=True)
    t.add_column("m/s", justify="right", no_wrap=True)
    t.add_column("Zone", no_wrap=True, overflow="ellipsis", max_width=12)
    t.add_column("Identity", no_wrap=True, overflow="ellipsis", ratio=1)
    for v in p.tracks[:max_rows]:
        rng_km = math.hypot(v.east_m, v.north_m) / 1000.0
        brg = math.degrees(math.atan2(v.east_m, v.north_m)) % 360.0
        t.add_row(
            str(v.track_id),
            f"{v.object_class} {v.class_prob:.0%}",
            Text(v.threat.label.upper(), style=THREAT_STYLE[v.threat]),
            f"{rng_km:.1f}km {brg:03.0f}°",
            f"{v.up_m:.0f}",
            f"{v.speed_ms:.0f}",
            _zone_text(v),
            _identity(v),
        )
    if len(p.tracks) > max_rows:
        t.caption = _hidden_summary(list(p.tracks[max_rows:]))
        t.caption_justify = "left"
    return t


def sensors_line(p: PictureUpdate) -> Text:
    """Every feed's health in one line: the ones not ok by name."""
    states = Counter(f.state for f in p.feeds)
    out = Text("Sensors ", style="bold")
    out.append(f"{states.get('ok', 0)} ok", style="green")
    gone = lost_nodes(p)
    for state, style in (("lost", "bold red"), ("waiting", "yellow")):
        names = [f.name for f in p.feeds if f.state == state] + (gone if state == "lost" else [])
        if names:
            out.append(f" · {len(names)} {state}: {', '.join(names)}", style=style)
    return out


def compact_alerts(p: PictureUpdate) -> list[Text]:
    """Open alerts, one line each (the most severe first), at most a few."""
    lines = []
    for a in p.alerts[:COMPACT_ALERT_ROWS]:
        line = Text(f"#{a.alert_id} ", style="bold")
        line.append(f"{a.level.label.upper():8}", style=THREAT_STYLE[a.level])
        line.append(f" {a.state.name.lower()[:3]} {a.message}")
        line.no_wrap, line.overflow = True, "ellipsis"
        lines.append(line)
    if len(p.alerts) > COMPACT_ALERT_ROWS:
        lines.append(Text(f"… {len(p.alerts) - COMPACT_ALERT_ROWS} more open alerts", "bold red"))
    return lines


def compact_counter(p: PictureUpdate) -> list[Text]:
    """Recommendations awaiting approval and active engagements, one line each."""
    lines = []
    for rec in p.recommendations[:2]:
        best = next((o for o in rec.options if o.usable), None)
        what = "no usable option" if best is None else f"{best.effector} ({best.kind})"
        line = Text(f"R{rec.rec_id} track {rec.track_id} ", style="bold")
        line.append(f"AWAITING APPROVAL {p.t_s - rec.created_t_s:.0f} s ", style="bold yellow")
        line.append(what)
        lines.append(line)
    for eng in [e for e in p.engagements if e.state in ACTIVE_STATES][-2:]:
        line = Text(f"E{eng.eng_id} track {eng.track_id} ", style="bold")
        line.append(eng.state, style="bold red")
        line.append(f" {eng.effector} approved by {eng.approved_by}")
        lines.append(line)
    for line in lines:
        line.no_wrap, line.overflow = True, "ellipsis"
    return lines


def compact(
    p: PictureUpdate, speed: float, screen_rows: int | None, start_s: float | None
) -> Group:
    """The screen for a narrow terminal (80×24): every section gets its line, tracks the rest."""
    pace = "max" if speed == 0 else f"×{speed:g}"
    since = "" if start_s is None else f" t+{p.t_s - start_s:.0f}s"
    head = Text.assemble(
        ("LUCHTWACHT ", "bold cyan"),
        (iso_utc(p.t_s)[11:19] + "Z", "bold"),
        f"{since} {pace} ",
        (
            f"{len(p.alerts)} ALERT(S)" if p.alerts else "no alerts",
            "bold red" if p.alerts else "green",
        ),
        f" {p.site}",
    )
    head.no_wrap, head.overflow = True, "ellipsis"
    alerts = compact_alerts(p)
    counter = compact_counter(p)
    sensors = sensors_line(p)
    rows = 24 if screen_rows is None else screen_rows
    # head, tracks title and header, the hidden-rows caption, sensors (may wrap once), alerts,
    # countermeasures, and one spare line for the cursor
    chrome = 1 + 2 + 1 + 2 + len(alerts) + len(counter) + 1
    max_rows = max(3, rows - chrome)
    return Group(head, compact_tracks(p, max_rows), *alerts, *counter, sensors)


class Screen:
    """One picture's screen, laid out for the terminal's width when it is drawn."""

    def __init__(
        self,
        p: PictureUpdate,
        speed: float,
        screen_rows: int | None = None,
        start_s: float | None = None,
        cleared: tuple[AlertSnapshot, ...] = (),
    ) -> None:
        self.p, self.speed, self.screen_rows = p, speed, screen_rows
        self.start_s, self.cleared = start_s, cleared

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Compact below ``COMPACT_BELOW_COLS`` columns, the full tables above."""
        if options.max_width < COMPACT_BELOW_COLS:
            yield compact(self.p, self.speed, self.screen_rows, self.start_s)
        else:
            yield wide(self.p, self.speed, self.screen_rows, self.start_s, self.cleared)


def render(
    p: PictureUpdate,
    speed: float,
    screen_rows: int | None = None,
    start_s: float | None = None,
    cleared: tuple[AlertSnapshot, ...] = (),
) -> Screen:
    """The whole screen for one picture, fitted to ``screen_rows`` and the width when drawn."""
    return Screen(p, speed, screen_rows, start_s, cleared)


def wide(
    p: PictureUpdate,
    speed: float,
    screen_rows: int | None = None,
    start_s: float | None = None,
    cleared: tuple[AlertSnapshot, ...] = (),
) -> Group:
    """The full screen for a wide terminal; the sensors table always keeps its rows."""
    counter = counter_table(p)
    if screen_rows is None:
        max_rows = MAX_TRACK_ROWS
    else:
        n_counter = (
            0 if counter is None else 4 + len(p.recommendations) + min(5, len(p.engagements))
        )
        n_alerts = 4 + max(1, len(p.alerts) + len(cleared))
        n_sensors = 4 + len(p.feeds) + len(lost_nodes(p))
        used = 3 + 5 + n_alerts + n_counter + n_sensors  # head panel, track table frame+caption
        max_rows = max(3, screen_rows - used)
    pace = "max" if speed == 0 else f"×{speed:g}"
    since = "" if start_s is None else f"  t+{p.t_s - start_s:.0f} s"
    head = Text.assemble(
        ("LUCHTWACHT ", "bold cyan"),
        f"{p.site}  ",
        (iso_utc(p.t_s)[:19] + "Z", "bold"),
        f"{since}  speed {pace}  ",
        (f"{len(p.alerts)} open alert(s)", "bold red" if p.alerts else "green"),
    )
    tracks = tracks_table(p, max_rows)
    if len(p.tracks) > max_rows:
        tracks.caption = _hidden_summary(list(p.tracks[max_rows:]))
    parts: list[Panel | Table] = [Panel(head), tracks, alerts_table(p, cleared)]
    if counter is not None:
        parts.append(counter)
    return Group(*parts, sensors_table(p))


class TerminalView:
    """The terminal view as a subscriber: it reads its subscription and draws the newest picture.

    It keeps what a single picture does not carry: the latest alerts that cleared.
    """

    def __init__(self, subscription: Subscription, speed: float, start_s: float) -> None:
        self.subscription = subscription
        self.speed = speed
        self.start_s = start_s
        self.latest: PictureUpdate | None = None
        self._cleared: deque[AlertSnapshot] = deque(maxlen=3)

    def take(self) -> PictureUpdate | None:
        """Read every queued update; the newest stands."""
        for update in self.subscription.take():
            for change in update.alert_changes:
                if change.kind == "cleared":
                    self._cleared.append(change.alert)
            self.latest = update
        return self.latest

    def render(self, screen_rows: int | None = None) -> Group | Screen:
        """The screen for the newest picture read (an empty one before the first)."""
        p = self.take()
        if p is None:
            return Group(Text("LUCHTWACHT: waiting for the first picture", style="bold cyan"))
        return render(p, self.speed, screen_rows, self.start_s, tuple(self._cleared))
