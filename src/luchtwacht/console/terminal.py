"""Live terminal view of the air picture (rich): tracks, alerts, countermeasures, sensor status.

Built for an operator at night: the most threatening tracks first, threat levels in colour,
one glance for "which sensor is down". Rendering reads the pipeline; it never changes it.
"""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from luchtwacht.fusion import FusionCore, iso_utc
from luchtwacht.model.track import AlertState, ThreatLevel

THREAT_STYLE = {
    ThreatLevel.NONE: "dim",
    ThreatLevel.LOW: "green",
    ThreatLevel.MEDIUM: "yellow",
    ThreatLevel.HIGH: "bold dark_orange",
    ThreatLevel.CRITICAL: "bold white on red",
}
MAX_TRACK_ROWS = 25
CHROME_ROWS = 24  # header, table frames, alerts and sensors around the track rows


def tracks_table(p: FusionCore, max_rows: int = MAX_TRACK_ROWS) -> Table:
    """Confirmed tracks, most threatening first."""
    t = Table(title=f"Tracks ({len(p.views)} confirmed)", expand=True, title_justify="left")
    for col, just in (
        ("ID", "right"), ("Class", "left"), ("Identity", "left"), ("Lat", "right"),
        ("Lon", "right"), ("Alt m", "right"), ("Speed m/s", "right"), ("Hdg°", "right"),
        ("Threat", "left"), ("Zone", "left"),
    ):  # fmt: skip
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for v in p.views[:max_rows]:
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
    if len(p.views) > max_rows:
        t.caption = f"… {len(p.views) - max_rows} lower-threat tracks not shown"
    return t


def alerts_table(p: FusionCore) -> Table:
    """Open alerts first, then the latest cleared ones."""
    t = Table(title="Alerts", expand=True, title_justify="left")
    for col in ("#", "Level", "Raised", "State", "Message"):
        t.add_column(col)
    alerts = p.alerts.open_alerts
    cleared = [a for a in p.alerts.alerts.values() if a.state is AlertState.CLEARED][-3:]
    for a in [*alerts, *cleared]:
        t.add_row(
            str(a.alert_id),
            Text(
                a.level.label.upper(),
                style=THREAT_STYLE[a.level] if a.state is not AlertState.CLEARED else "dim",
            ),
            iso_utc(a.raised_t_s)[11:19] + "Z",
            a.state.name.lower(),
            a.message,
        )
    if not alerts and not cleared:
        t.add_row("", "", "", "", Text("no alerts", style="dim"))
    return t


def counter_table(p: FusionCore) -> Table | None:
    """Countermeasures: what waits for an operator's decision, and the engagements under way.

    Shown only where the site has effectors. A recommendation shows its best usable option and
    how long it has waited; nothing on it is tasked until an authorised operator approves.
    """
    counter = p.counter
    if counter is None:
        return None
    t = Table(title="Countermeasures", expand=True, title_justify="left")
    for col in ("#", "Track", "Effector", "State", "Detail"):
        t.add_column(col)
    for rec in counter.pending():
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
            Text(f"AWAITING APPROVAL {p.now_s - rec.created_t_s:.0f} s", style="bold yellow"),
            detail,
        )
    for eng in list(counter.engagements.values())[-5:]:
        style = "bold red" if eng.active else "dim"
        state = eng.state if eng.outcome is None else f"{eng.state}: {eng.outcome}"
        t.add_row(
            f"E{eng.eng_id}",
            str(eng.track_id),
            f"{eng.effector.name} ({eng.effector.kind})",
            Text(state, style=style),
            f"approved by {eng.approved_by} at {iso_utc(eng.approved_t_s)[11:19]}Z",
        )
    if not counter.pending() and not counter.engagements:
        t.add_row("", "", "", "", Text("no recommendations", style="dim"))
    return t


def sensors_table(p: FusionCore) -> Table:
    """Feed health and message counters."""
    t = Table(title="Sensors", expand=True, title_justify="left")
    for col in ("Sensor", "Format", "State", "Decoded", "Rejected", "Last rejection"):
        t.add_column(col)
    for f in p.feeds.values():
        state = f.state(p.now_s)
        style = {"ok": "green", "waiting": "yellow", "lost": "bold red"}[state]
        reasons = f.pipe.counters.rejected_by_reason
        last = next(reversed(reasons), "") if reasons else ""
        t.add_row(
            f.name,
            f.fmt,
            Text(state, style=style),
            str(f.pipe.counters.decoded),
            str(f.pipe.counters.rejected),
            last,
        )
    return t


def render(p: FusionCore, speed: float, screen_rows: int | None = None) -> Group:
    """The whole screen for the current state of ``p``, fitted to ``screen_rows`` if given."""
    max_rows = (
        MAX_TRACK_ROWS
        if screen_rows is None
        else max(3, screen_rows - CHROME_ROWS - len(p.alerts.open_alerts))
    )
    pace = "max" if speed == 0 else f"×{speed:g}"
    head = Text.assemble(
        ("LUCHTWACHT ", "bold cyan"),
        f"{p.name}  ",
        (iso_utc(p.now_s)[:19] + "Z", "bold"),
        f"  t+{p.now_s - p.start_s:.0f} s  speed {pace}  ",
        (
            f"{len(p.alerts.open_alerts)} open alert(s)",
            "bold red" if p.alerts.open_alerts else "green",
        ),
    )
    parts: list[Panel | Table] = [Panel(head), tracks_table(p, max_rows), alerts_table(p)]
    counter = counter_table(p)
    if counter is not None:
        parts.append(counter)
    return Group(*parts, sensors_table(p))
