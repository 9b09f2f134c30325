"""Alert lifecycle: raise, escalate, acknowledge and clear alerts about drones and zones.

An alert concerns one track and one zone. It is raised when a track classified as a drone is
inside the zone ("breach", CRITICAL for hostile ones) or predicted to enter it within the zone's
warning time ("approach", HIGH), or on a breach course further out while a countermeasure is
proposed against it (the counter stage may propose early enough for its effect to come in
time). Hostile: non-cooperative, or a Remote ID drone that is not authorised where the site's
policy makes it an intruder; a cooperative drone the site tolerates alerts one level lower; an
authorised one (the site's whitelist) raises none, nor do birds, aircraft and unidentified
tracks: the false alarm that sends an operator chasing a gull is what these systems are judged
on. An approach escalates to a breach on the same alert; its text follows the picture (an
"updated" event at most every second while the time to breach or the height it names changes);
an alert clears after ``clear_hold_s`` without its condition, or when its track is dropped.

Two guards keep the alert list calm: a condition must hold without a break for ``confirm_s``
seconds before an alert is raised, whatever the cycle rate (a freshly started track misclassified
for a second or two does
not alert), and an open approach alert is kept while the predicted breach stays within
``keep_factor`` × the warning time (hysteresis, so a drone hovering at the edge does not make the
alert flap).

A swarm (``threat.swarm``: tracks flying together, ``TrackView.swarm_id``) is one alert per zone,
not one per drone: its members raise no alerts of their own, and the swarm alert names every
member (``Alert.members``; ``track_id`` is the member nearest to breach), takes the worst
member's level and the earliest member's breach, and follows its membership (an "updated" event
when the members it names change). A member whose own alert was already open keeps it; a track
that leaves the swarm alerts on its own again, its condition's streak unbroken.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

from luchtwacht.model.track import Alert, AlertState, Finding, ThreatLevel, TrackView
from luchtwacht.texts import say
from luchtwacht.threat.assess import hostile

ALERTS_KEPT = 10_000  # alerts held in memory; the oldest cleared ones go first (the store has all)
K = TypeVar("K")  # what keys an open alert: (track, zone), (swarm, zone) or a finding's key


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """Something that happened to an alert, for the recorder and the console."""

    t_s: float
    kind: str  # "raised", "escalated", "updated" (its text), "acknowledged", "cleared"
    alert: Alert
    members: tuple[int, ...] = ()  # a swarm alert: the members it named at this event


class AlertManager:
    """Keeps every alert and turns each new air picture into alert events."""

    def __init__(
        self,
        clear_hold_s: float = 10.0,
        confirm_s: float = 2.0,
        keep_factor: float = 1.5,
        kept: int = ALERTS_KEPT,
        text_every_s: float = 1.0,
    ) -> None:
        self.clear_hold_s = clear_hold_s
        self.confirm_s = confirm_s
        self.keep_factor = keep_factor
        self.kept = kept
        self.text_every_s = text_every_s
        self._said_at: dict[int, float] = {}  # open alert → when its text was last set
        self._streak: dict[tuple[int, str], float] = {}  # condition → since when it holds
        self.alerts: dict[int, Alert] = {}
        self._open: dict[tuple[int, str], int] = {}
        self._swarm_open: dict[tuple[int, str], int] = {}  # (swarm, zone) → its open alert
        self._swarm_streak: dict[tuple[int, str], float] = {}  # (swarm, zone) → held since
        self._next_id = 1
        self._found: dict[str, int] = {}  # finding key → its open alert (see ``findings``)

    def update(
        self,
        t_s: float,
        tracks: Iterable[TrackView],
        zone_warn: dict[str, float],
        ttb_by_zone: dict[int, dict[str, float]],
        proposed: Collection[int] = (),
    ) -> list[AlertEvent]:
        """Apply the picture at ``t_s``; ``ttb_by_zone[track][zone]`` is the time to breach.

        ``proposed`` are tracks the counter stage proposes a countermeasure against (or has under
        an approved engagement): a hostile
        one on a breach course (a time to breach given, however far) meets the approach
        condition before the warning time, so no operator is asked to act on a drone that no
        alert names.
        """
        events: list[AlertEvent] = []
        seen: set[tuple[int, str]] = set()
        live_ids: set[int] = set()
        members: dict[int, list[int]] = {}  # swarm → its member tracks (drones that may alert)
        # (swarm, zone) → its members meeting the zone's condition: (view, inside, ttb, level,
        # confirmed)
        swarm_cond: dict[
            tuple[int, str], list[tuple[TrackView, bool, float | None, ThreatLevel, bool]]
        ]
        swarm_cond = {}
        for tr in tracks:
            live_ids.add(tr.track_id)
            if tr.swarm_id is not None and tr.object_class == "drone":
                members.setdefault(tr.swarm_id, []).append(tr.track_id)
            if tr.object_class != "drone" or tr.own_asset is not None or tr.authorised:
                continue  # authorised drones are friendly (identify.authorisation)
            for zone, warn_s in zone_warn.items():
                inside = zone in tr.zones_inside
                ttb = ttb_by_zone.get(tr.track_id, {}).get(zone)
                key = (tr.track_id, zone)
                held = key in self._open or (
                    tr.swarm_id is not None and (tr.swarm_id, zone) in self._swarm_open
                )
                limit = warn_s * (self.keep_factor if held else 1.0)
                on_course = ttb is not None and tr.track_id in proposed and hostile(tr)
                if not inside and (ttb is None or ttb > limit) and not on_course:
                    continue
                seen.add(key)
                since = self._streak.setdefault(key, t_s)
                confirmed = t_s - since >= self.confirm_s - 1e-6
                kind = "breach" if inside else "approach"
                level = (
                    (ThreatLevel.CRITICAL if inside else ThreatLevel.HIGH)
                    if hostile(tr)
                    else (ThreatLevel.HIGH if inside else ThreatLevel.MEDIUM)
                )
                if tr.swarm_id is not None and key not in self._open:
                    cond = swarm_cond.setdefault((tr.swarm_id, zone), [])
                    cond.append((tr, inside, ttb, level, confirmed))
                    continue
                if key not in self._open and not confirmed:
                    continue
                text = self._message(tr, zone, inside, ttb)
                if key not in self._open:
                    events.append(
                        self._raise(
                            t_s,
                            self._open,
                            key,
                            tr.track_id,
                            zone,
                            level,
                            kind,
                            tr.object_class,
                            tr.uas_id,
                            text,
                        )
                    )
                    continue
                alert = self.alerts[self._open[key]]
                alert.updated_t_s = t_s
                alert.uas_id = tr.uas_id
                if level > alert.level:
                    alert.level, alert.kind, alert.message = level, kind, text
                    events.append(self._told(t_s, "escalated", alert))
                elif text != alert.message and self._text_due(t_s, alert):
                    # The text follows the picture ("enter in 31 s", not the 53 s it was raised
                    # with), at most every ``text_every_s``; an event, so the recording and the
                    # console's replay say what the operator read.
                    alert.message = text
                    events.append(self._told(t_s, "updated", alert))
        events += self._swarms(t_s, members, swarm_cond)
        for key in [k for k in self._streak if k not in seen]:
            del self._streak[key]
        for key, alert_id in list(self._open.items()):
            alert = self.alerts[alert_id]
            gone = key[0] not in live_ids
            if key in seen:
                continue
            if gone or t_s - alert.updated_t_s >= self.clear_hold_s:
                events.append(self._clear(t_s, self._open, key))
        if len(self.alerts) > self.kept:  # a node up for weeks: forget the oldest cleared ones
            open_ids = set(self._open.values()) | set(self._swarm_open.values())
            open_ids |= set(self._found.values())
            for alert_id in [a for a in self.alerts if a not in open_ids][
                : len(self.alerts) - self.kept
            ]:
                del self.alerts[alert_id]
        return events

    def findings(self, t_s: float, found: Iterable[Finding]) -> list[AlertEvent]:
        """Raise an alert per new finding, update its text, clear the ones no longer found."""
        events: list[AlertEvent] = []
        now: set[str] = set()
        for f in found:
            now.add(f.key)
            alert_id = self._found.get(f.key)
            if alert_id is None:
                events.append(
                    self._raise(
                        t_s,
                        self._found,
                        f.key,
                        f.track_id,
                        "",
                        f.level,
                        f.kind,
                        f.object_class,
                        f.uas_id,
                        f.message,
                    )
                )
                continue
            alert = self.alerts[alert_id]
            alert.updated_t_s = t_s
            alert.track_id = f.track_id
            if f.message != alert.message and self._text_due(t_s, alert):
                alert.message = f.message
                events.append(self._told(t_s, "updated", alert))
        for key, alert_id in list(self._found.items()):
            alert = self.alerts[alert_id]
            if key not in now and t_s - alert.updated_t_s >= self.clear_hold_s:
                events.append(self._clear(t_s, self._found, key))
        return events

    def _raise(
        self,
        t_s: float,
        opened: dict[K, int],
        key: K,
        track_id: int,
        zone: str,
        level: ThreatLevel,
        kind: str,
        object_class: str,
        uas_id: str | None,
        message: str,
        swarm_id: int | None = None,
        members: tuple[int, ...] = (),
    ) -> AlertEvent:
        """A new alert, open under ``key`` in ``opened``; its "raised" event."""
        alert = Alert(
            self._next_id, track_id, zone, level, kind, t_s, t_s, object_class, uas_id,
            message=message, swarm_id=swarm_id, members=members,
        )  # fmt: skip
        self._next_id += 1
        self.alerts[alert.alert_id] = alert
        opened[key] = alert.alert_id
        return self._told(t_s, "raised", alert)

    def _told(self, t_s: float, kind: str, alert: Alert) -> AlertEvent:
        """An event that tells the operator the alert's (new) level or text: noted as said now."""
        self._said_at[alert.alert_id] = t_s
        return AlertEvent(t_s, kind, alert, alert.members)

    def _text_due(self, t_s: float, alert: Alert) -> bool:
        """Whether a changed text may be told again (at most every ``text_every_s``)."""
        return t_s - self._said_at.get(alert.alert_id, -1e18) >= self.text_every_s - 1e-6

    def _clear(self, t_s: float, opened: dict[K, int], key: K) -> AlertEvent:
        """Clear the alert open under ``key`` in ``opened``; its "cleared" event."""
        alert_id = opened.pop(key)
        alert = self.alerts[alert_id]
        alert.state = AlertState.CLEARED
        alert.cleared_t_s = t_s
        self._said_at.pop(alert_id, None)
        return AlertEvent(t_s, "cleared", alert, alert.members)

    def acknowledge(self, alert_id: int, operator: str, t_s: float) -> AlertEvent:
        """An operator has seen the alert; it stays open until its condition ends."""
        alert = self.alerts.get(alert_id)
        if alert is None:
            raise KeyError(f"no alert {alert_id}")
        if alert.state is AlertState.CLEARED:
            raise ValueError(f"alert {alert_id} is already cleared")
        alert.state = AlertState.ACKNOWLEDGED
        alert.acknowledged_by = operator
        return AlertEvent(t_s, "acknowledged", alert, alert.members)

    @property
    def open_alerts(self) -> list[Alert]:
        """Alerts not yet cleared, most severe first."""
        alerts = [
            self.alerts[i]
            for i in [*self._open.values(), *self._swarm_open.values(), *self._found.values()]
        ]
        return sorted(alerts, key=lambda a: (-a.level, a.raised_t_s))

    def _swarms(
        self,
        t_s: float,
        members: dict[int, list[int]],
        cond: dict[tuple[int, str], list[tuple[TrackView, bool, float | None, ThreatLevel, bool]]],
    ) -> list[AlertEvent]:
        """Raise, update and clear the swarm alerts: one per swarm and zone, naming its members."""
        events: list[AlertEvent] = []
        for (sid, zone), rows in cond.items():
            key = (sid, zone)
            alert_id = self._swarm_open.get(key)
            # The swarm's condition holds while any member's does, whichever: a member whose
            # predicted breach flickers about the warning time does not restart the swarm's.
            since = self._swarm_streak.setdefault(key, t_s)
            held = t_s - since >= self.confirm_s - 1e-6
            if alert_id is None and not held and not any(r[4] for r in rows):
                continue  # the condition has not held for ``confirm_s`` yet
            lead = min(rows, key=lambda r: (not r[1], r[2] if r[2] is not None else 0.0))
            level = max(r[3] for r in rows)
            n_in = sum(1 for r in rows if r[1])
            kind = "breach" if n_in else "approach"
            named = tuple(sorted(members.get(sid, [])))
            if n_in:
                text = say("alert.swarm_breach", swarm=sid, n=len(named), k=n_in, zone=zone)
            else:
                text = say(
                    "alert.swarm_approach", swarm=sid, n=len(named), zone=zone, s=f"{lead[2]:.0f}"
                )
            tr = lead[0]
            if alert_id is None:
                events.append(
                    self._raise(
                        t_s,
                        self._swarm_open,
                        key,
                        tr.track_id,
                        zone,
                        level,
                        kind,
                        tr.object_class,
                        None,
                        text,
                        swarm_id=sid,
                        members=named,
                    )
                )
                continue
            alert = self.alerts[alert_id]
            alert.updated_t_s = t_s
            if alert.track_id not in named:
                alert.track_id = tr.track_id  # its lead left the swarm: name the new lead
            if level > alert.level:
                alert.level, alert.kind, alert.message, alert.members = level, kind, text, named
                events.append(self._told(t_s, "escalated", alert))
            elif named != alert.members or (text != alert.message and self._text_due(t_s, alert)):
                # Who it names is what the operator is told is coming: recorded at once.
                alert.message, alert.members = text, named
                events.append(self._told(t_s, "updated", alert))
        for key in [k for k in self._swarm_streak if k not in cond]:
            del self._swarm_streak[key]
        for key, alert_id in list(self._swarm_open.items()):
            if key in cond:
                continue
            alert = self.alerts[alert_id]
            if key[0] not in members or t_s - alert.updated_t_s >= self.clear_hold_s:
                events.append(self._clear(t_s, self._swarm_open, key))
        return events

    @staticmethod
    def _message(tr: TrackView, zone: str, inside: bool, ttb: float | None) -> str:
        fields: dict[str, object] = {"track": tr.track_id, "zone": zone}
        if tr.cooperative:
            fields["uas"] = tr.uas_id or tr.icao or "?"
        # An unauthorised Remote ID drone the site treats as an intruder is named as one.
        coop = "_unauth" if tr.coop_intruder else "_coop" if tr.cooperative else ""
        if inside:
            return say(f"alert.breach{coop}", height=f"{tr.up_m:.0f}", **fields)
        return say(f"alert.approach{coop}", s=f"{ttb:.0f}", **fields)
