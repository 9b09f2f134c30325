"""The air picture one node publishes each cycle: typed, immutable, for every subscriber.

The node core (``luchtwacht.node``) builds one :class:`PictureUpdate` per picture cycle (10 Hz by
default) and offers it to each subscriber (terminal view, web console, Cursor-on-Target, SAPIENT
upward, ASTERIX CAT062). Everything in it is frozen: a subscriber may keep it, hand it to another
thread or serialise it without copying, and nothing it does reaches back into the node.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from luchtwacht.model.engagement import (
    EffectorSpec,
    EffectorState,
    EngagementState,
    Option,
    RecommendationState,
)
from luchtwacht.model.track import Alert, AlertState, ThreatLevel, TrackView


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    """An alert as it stood at one cycle (``model.track.Alert`` is mutable; this is not)."""

    alert_id: int
    track_id: int
    zone: str
    level: ThreatLevel
    kind: str
    raised_t_s: float
    updated_t_s: float
    object_class: str
    uas_id: str | None
    state: AlertState
    cleared_t_s: float | None
    acknowledged_by: str | None
    message: str
    swarm_id: int | None = None
    members: tuple[int, ...] = ()

    @classmethod
    def of(cls, alert: Alert) -> AlertSnapshot:
        """Freeze an alert's current state."""
        return cls(**{f.name: getattr(alert, f.name) for f in dataclasses.fields(Alert)})


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What happened to an alert in this cycle: raised, escalated, acknowledged or cleared."""

    t_s: float
    kind: str
    alert: AlertSnapshot


@dataclass(frozen=True, slots=True)
class RecommendationSnapshot:
    """A recommendation as it stood: its track, state and ranked options."""

    rec_id: int
    track_id: int
    state: RecommendationState
    created_t_s: float
    updated_t_s: float
    options: tuple[Option, ...]
    decided_by: str | None
    reason: str
    why: str = ""  # why it was proposed when it was (``counter.recommend.why_now``)


@dataclass(frozen=True, slots=True)
class EngagementSnapshot:
    """An engagement as it stood: effector, who approved (and confirmed) it, state and outcome."""

    eng_id: int
    rec_id: int
    track_id: int
    effector: str
    effector_kind: str
    approved_by: str
    approved_t_s: float
    state: EngagementState
    outcome: str | None
    outcome_t_s: float | None
    covered: tuple[int, ...]
    reason: str
    confirmed_by: str | None = None  # the second person (two-person rule); None: not needed


@dataclass(frozen=True, slots=True)
class PendingApprovalSnapshot:
    """A first approval awaiting a second person's confirmation (the two-person rule).

    ``approved_by`` approved ``effector`` against recommendation ``rec_id`` at ``t_s``; nothing
    is tasked until another person confirms it, at the latest at ``expires_t_s`` (UTC seconds).
    See ``node.approval``.
    """

    rec_id: int
    effector: str
    approved_by: str
    t_s: float
    expires_t_s: float
    track_id: int
    effector_kind: str


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    """One input feed's health and counters."""

    sensor_id: str
    name: str
    fmt: str
    state: str  # ok, waiting, lost
    decoded: int
    rejected: int
    last_rejection: str = ""  # the newest reason a message of this feed was refused
    shed: int = 0  # reports not decoded: the node was over its capacity (oldest first)
    late: int = 0  # batches older than the out-of-sequence window, not applied
    future: int = 0  # batches stamped too far ahead (a sensor clock gone wrong), not applied
    failed: int = 0  # batches the tracker could not take (a defect, isolated and counted)


@dataclass(frozen=True, slots=True)
class EffectorSnapshot:
    """One effector on site as the counter stage sees it."""

    name: str
    kind: str
    node_id: str
    online: bool
    shots_left: int | None
    busy_with: int | None  # the engagement it is committed to

    @classmethod
    def of(cls, spec: EffectorSpec, state: EffectorState | None) -> EffectorSnapshot:
        """An effector and what the counter stage knows of it (nothing yet: offline)."""
        return cls(
            spec.name,
            str(spec.kind),
            spec.node_id,
            state.online if state is not None else False,
            state.shots_left if state is not None else None,
            state.busy_with if state is not None else None,
        )


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """One SAPIENT edge node (sensor or effector) as the fusion node knows it."""

    node_id: str
    name: str | None
    node_types: tuple[str, ...]
    registered: bool
    connected: bool
    lat_deg: float | None
    lon_deg: float | None
    mode: str | None
    status: tuple[str, ...]
    alt_m: float | None = None
    max_range_m: float | None = None  # its registered detection range (None: not declared)
    fov: FieldOfView | None = None  # where it looks now, as its last StatusReport said
    system: str | None = None  # the StatusReport's system state (SYSTEM_OK, SYSTEM_ERROR, …)
    last_status_t_s: float | None = None
    look_at: bool = False  # it registered the LOOK_AT command: a camera the node may cue


@dataclass(frozen=True, slots=True)
class FieldOfView:
    """Where a sensor looks: the centre bearing and full width of its view, and how far."""

    azimuth_deg: float  # true bearing of the middle of the view
    extent_deg: float  # full horizontal width
    range_m: float | None = None


@dataclass(frozen=True, slots=True)
class RemoteIdSnapshot:
    """One Remote ID transmitter heard recently: the drone's identity and its pilot's position.

    ``track_id`` and ``lat_deg``/``lon_deg``/``alt_m`` come from the confirmed track that carries
    this UAS ID (None while there is none); the operator fields are the System message's.
    """

    uas_id: str | None
    mac: str
    track_id: int | None
    lat_deg: float | None
    lon_deg: float | None
    alt_m: float | None
    operator_lat_deg: float | None
    operator_lon_deg: float | None
    operator_alt_m: float | None
    operator_id: str | None
    self_id: str | None
    ua_type: str
    id_type: str
    last_t_s: float | None


@dataclass(frozen=True, slots=True)
class SwarmSnapshot:
    """Tracks flying together (``threat.swarm``), shown as one threat entry with its members.

    ``threat`` is the worst member's, ``time_to_breach_s`` the earliest member's; the centroid
    and velocity are the members' means.
    """

    swarm_id: int
    members: tuple[int, ...]
    lat_deg: float
    lon_deg: float
    alt_m: float
    east_m: float
    north_m: float
    up_m: float
    speed_ms: float
    heading_deg: float
    threat: ThreatLevel
    time_to_breach_s: float | None
    spread_m: float  # the largest member distance from the centroid


@dataclass(frozen=True, slots=True)
class PictureUpdate:
    """One cycle's air picture and what changed since the last one.

    ``tracks`` is every confirmed track at ``t_s`` (most threatening first); ``new_tracks`` and
    ``dropped_tracks`` name the ids that appeared and disappeared since the previous update.
    ``alert_changes`` are this cycle's alert events; ``alerts`` every open alert.
    ``counters`` holds the node's health figures (late and future batches, subscriber losses,
    store backlog, internal errors) by name. ``pending_approvals`` are the approvals awaiting a
    second person (oldest first; lapsed ones are left out). ``remote_ids`` are the Remote ID
    transmitters heard in the last minute (the pilots' positions among them). ``swarms`` are the
    groups of tracks flying together, each one threat entry (``threat.swarm``).
    """

    seq: int
    t_s: float
    site: str
    tracks: tuple[TrackView, ...]
    new_tracks: frozenset[int]
    dropped_tracks: frozenset[int]
    alerts: tuple[AlertSnapshot, ...]
    alert_changes: tuple[AlertChange, ...]
    recommendations: tuple[RecommendationSnapshot, ...]
    engagements: tuple[EngagementSnapshot, ...]
    feeds: tuple[FeedSnapshot, ...]
    nodes: tuple[NodeSnapshot, ...]
    effectors: tuple[EffectorSnapshot, ...] = ()
    counters: Mapping[str, int] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    pending_approvals: tuple[PendingApprovalSnapshot, ...] = ()
    remote_ids: tuple[RemoteIdSnapshot, ...] = ()
    swarms: tuple[SwarmSnapshot, ...] = ()

    def track(self, track_id: int) -> TrackView | None:
        """The track with this id in this update, or None."""
        return next((t for t in self.tracks if t.track_id == track_id), None)
