"""Live terminal view of the air picture (rich): tracks, alerts, countermeasures, sensor status.

Built for an operator at night: the most threatening tracks first, threat levels in colour,
one glance for "which sensor is down". The view is a subscriber of the node core like any other
consumer: it reads the :class:`~luchtwacht.model.picture.PictureUpdate` each cycle publishes and
never touches the node itself.
"""

from __future__ import annotations

from collections import deque

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from luchtwacht.fusion import iso_utc
from luchtwacht.model.engagement import ACTIVE_STATES
from luchtwacht.model.picture import AlertSnapshot, PictureUpdate
from luchtwacht.model.track import ThreatLevel
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


def tracks_table(p: PictureUpdate, max_rows: int = MAX_TRACK_ROWS) -> Table:
    """Confirmed tracks, most threatening first."""
    t = Table(title=f"Tracks ({len(p.tracks)} confirmed)", expand=True, title_justify="left")
    for col, just in (
        ("ID", "right"), ("Class", "left"), ("Identity", "left"), ("Lat", "right"),
        ("Lon", "right"), ("Alt m", "right"), ("Speed m/s", "right"), ("Hdg°", "right"),
        ("Threat", "left"), ("Zone", "left"),
    ):  # fmt: skip
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for v in p.tracks[:max_rows]:
        if v.uas_id:
            ident = f"RID {v.uas_id}"
        elif v.icao:
            ident = f"ICAO {v.icao}"
        else:
            ident = "cooperative" if v.cooperative else "—"
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
    if len(p.tracks) > max_rows:
        t.caption = f"… {len(p.tracks) - max_rows} lower-threat tracks not shown"
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


def sensors_table(p: PictureUpdate) -> Table:
    """Feed health and message counters."""
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
    return t


def render(
    p: PictureUpdate,
    speed: float,
    screen_rows: int | None = None,
    start_s: float | None = None,
    cleared: tuple[AlertSnapshot, ...] = (),
) -> Group:
    """The whole screen for one picture, fitted to ``screen_rows`` if given."""
    max_rows = (
        MAX_TRACK_ROWS if screen_rows is None else max(3, screen_rows - CHROME_ROWS - len(p.alerts))
    )
    pace = "max" if speed == 0 else f"×{speed:g}"
    since = "" if start_s is None else f"  t+{p.t_s - start_s:.0f} s"
    head = Text.assemble(
        ("LUCHTWACHT ", "bold cyan"),
        f"{p.site}  ",
        (iso_utc(p.t_s)[:19] + "Z", "bold"),
        f"{since}  speed {pace}  ",
        (f"{len(p.alerts)} open alert(s)", "bold red" if p.alerts else "green"),
    )
    parts: list[Panel | Table] = [Panel(head), tracks_table(p, max_rows), alerts_table(p, cleared)]
    counter = counter_table(p)
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

    def render(self, screen_rows: int | None = None) -> Group:
        """The screen for the newest picture read (an empty one before the first)."""
        p = self.take()
        if p is None:
            return Group(Text("LUCHTWACHT: waiting for the first picture", style="bold cyan"))
        return render(p, self.speed, screen_rows, self.start_s, tuple(self._cleared))
