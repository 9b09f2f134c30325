"""The rows both stores write for a track snapshot and an alert event, in ``chain.CHAINED`` order.

One definition, so the SQLite recorder and the PostgreSQL store chain identical values for
identical input (their hashes are compared in the tests).
"""

from __future__ import annotations

from luchtwacht.model.track import Alert, TrackView

__all__ = ["alert_audit", "alert_event_row", "track_row"]


def track_row(v: TrackView) -> tuple[object, ...]:
    """A ``track`` row: one confirmed track at one slow cycle."""
    return (
        v.t_s, int(v.track_id), v.lat_deg, v.lon_deg, v.alt_m, v.east_m, v.north_m, v.up_m,
        v.speed_ms, v.heading_deg, v.climb_ms, v.object_class, v.class_prob, int(v.cooperative),
        v.uas_id, v.threat.label, ",".join(v.zones_inside), v.time_to_breach_s, v.pos_std_m,
        v.icao,
    )  # fmt: skip


def alert_event_row(t_s: float, event: str, alert: Alert) -> tuple[object, ...]:
    """An ``alert_event`` row: the alert as it stood when ``event`` happened to it."""
    return (
        t_s, event, alert.alert_id, alert.track_id, alert.zone, alert.level.label, alert.kind,
        alert.state.name.lower(), alert.object_class, alert.uas_id, alert.message,
    )  # fmt: skip


def alert_audit(alert: Alert) -> dict[str, object]:
    """The audit payload that goes with an alert event (``alert.<event>``).

    A swarm alert's also names its swarm and every member track it names (``threat.swarm``).
    """
    payload: dict[str, object] = {
        "alert_id": alert.alert_id,
        "track_id": alert.track_id,
        "zone": alert.zone,
        "level": alert.level.label,
        "message": alert.message,
    }
    if alert.swarm_id is not None:
        payload["swarm_id"] = alert.swarm_id
        payload["members"] = list(alert.members)
    return payload
