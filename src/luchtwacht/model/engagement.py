"""Countermeasure value types shared by stages: effectors, options, recommendations, engagements.

The counter stage (``luchtwacht.counter``) makes and changes them; the node core publishes them
(``model.picture``), the store audits them and the evaluation scores them. States are enums, not
free strings: a typo is a type error, and every state a console must draw is listed here.
Recommendations and engagements are mutable only inside the counter stage; the picture carries
frozen snapshots of them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Literal

from luchtwacht.model.track import TrackView

EffectorKind = Literal["rf_jammer", "gnss_jammer", "net", "interceptor", "hard_kill"]
FORCE_ORDER: tuple[EffectorKind, ...] = (
    "rf_jammer",
    "gnss_jammer",
    "net",
    "interceptor",
    "hard_kill",
)
JAMMERS: tuple[EffectorKind, ...] = ("rf_jammer", "gnss_jammer")


class RecommendationState(enum.StrEnum):
    """pending → approved | rejected | expired."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class EngagementState(enum.StrEnum):
    """approved → tasked → engaging → assessed | refused | ceased."""

    APPROVED = "approved"
    TASKED = "tasked"
    ENGAGING = "engaging"
    ASSESSED = "assessed"
    REFUSED = "refused"
    CEASED = "ceased"


ACTIVE_STATES = frozenset(
    {EngagementState.APPROVED, EngagementState.TASKED, EngagementState.ENGAGING}
)


@dataclass(frozen=True, slots=True)
class EffectorSpec:
    """One effector on site (positions in site ENU metres, times in seconds).

    ``ready_s`` is the time from tasking to the effect starting: a jammer's spin-up, a
    launcher's aiming, an interceptor's launch. ``speed_ms`` is the interceptor's speed or the
    net's / round's mean flight speed. ``p_effect`` is the probability one attempt takes effect
    (a jammer inside its range and band: 1 — whether the drone obeys is the drone's business).
    ``shots`` is the magazine (nets, interceptors, bursts); jammers have none.
    ``beamwidth_deg`` ≥ 360 is omnidirectional. ``eirp_dbm`` is what an RF jammer radiates per
    band: whether it beats a drone's controller depends on both distances, so ``max_range_m``
    is its nominal reach against a controller far from its drone.
    """

    name: str
    node_id: str  # its SAPIENT node id
    kind: EffectorKind
    enu_m: tuple[float, float, float]
    max_range_m: float
    min_range_m: float = 0.0
    ready_s: float = 2.0
    speed_ms: float = 0.0
    p_effect: float = 1.0
    shots: int = 0
    beamwidth_deg: float = 360.0
    bands_mhz: tuple[tuple[float, float], ...] = ()
    eirp_dbm: float = 50.0  # an RF jammer's radiated power per band, into its beam

    def __post_init__(self) -> None:
        if self.max_range_m <= self.min_range_m:
            raise ValueError(f"effector {self.name!r}: max_range_m must exceed min_range_m")
        if not 0.0 < self.p_effect <= 1.0:
            raise ValueError(f"effector {self.name!r}: p_effect must be in (0, 1]")
        if self.kind in ("net", "interceptor", "hard_kill") and self.speed_ms <= 0:
            raise ValueError(f"effector {self.name!r}: a {self.kind} needs speed_ms > 0")
        if self.kind == "rf_jammer" and not self.bands_mhz:
            raise ValueError(f"effector {self.name!r}: an RF jammer needs bands_mhz")

    @property
    def force_rank(self) -> int:
        """0 for the least forceful class (RF jamming) up to the hard kill."""
        return FORCE_ORDER.index(self.kind)


@dataclass(frozen=True, slots=True)
class EffectorState:
    """What the engagement side knows of an effector now."""

    online: bool = True
    shots_left: int = 0
    busy_with: int | None = None  # the engagement it is committed to


@dataclass(frozen=True, slots=True)
class Option:
    """One effector against one track: whether and when it can act, and at what cost."""

    effector: str
    kind: str
    usable: bool
    t_effect_s: float | None  # seconds from now to the effect, None if out of reach
    before_breach: bool
    p_effect: float
    blocked_by: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    doubt: bool = False
    collateral: bool = False  # it would also hit someone else (a cooperative drone, …)
    safety: tuple[str, ...] = ()  # the blocks that are about others' safety (an interlock)

    def rank_key(self, force_rank: int) -> tuple[int, int, int, int, int, float]:
        """Sort key: usable, before breach, undoubted, no collateral, least force, soonest."""
        t = self.t_effect_s if self.t_effect_s is not None else math.inf
        return (
            int(not self.usable),
            int(not self.before_breach),
            int(self.doubt),
            int(self.collateral),
            force_rank,
            t,
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the audit log and the console."""
        return {
            "effector": self.effector,
            "kind": self.kind,
            "usable": self.usable,
            "t_effect_s": None if self.t_effect_s is None else round(self.t_effect_s, 1),
            "before_breach": self.before_breach,
            "p_effect": round(self.p_effect, 2),
            "blocked_by": list(self.blocked_by),
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class Recommendation:
    """Proposed countermeasures for one track, waiting for an operator."""

    rec_id: int
    track_id: int
    created_t_s: float
    updated_t_s: float
    options: list[Option]
    state: RecommendationState = RecommendationState.PENDING
    decided_by: str | None = None
    reason: str = ""
    why: str = ""  # why it was proposed when it was ("breach in 48 s; … needs 25 s + 20 s …")


@dataclass(slots=True)
class Watch:
    """What an engagement follows of one drone's track to judge the effect on it."""

    track_id: int
    since_t_s: float  # when it came under the engagement
    expected_s: float  # seconds after that its effect was expected
    outcome: str | None = None
    outcome_t_s: float | None = None
    slow: int = 0  # cycles in a row: hovering …
    sink: int = 0  # … sinking straight down …
    away: int = 0  # … going away with no breach predicted …
    fall: int = 0  # … falling fast
    was_slow: bool = False  # it hovered already when it came under the engagement
    holding: bool = False  # a jammer holds it hovering (its link is gone): not an end yet
    sink_from_m: float = math.nan  # its height when it began to sink
    last: TrackView | None = None
    last_range_m: float = math.nan
    lost_t_s: float | None = None


@dataclass(slots=True)
class Engagement:
    """One effector tasked against one track on an operator's approval."""

    eng_id: int
    rec_id: int
    track_id: int
    effector: EffectorSpec
    approved_by: str
    approved_t_s: float
    expected_effect_s: float  # seconds after approval the effect was expected
    state: EngagementState = EngagementState.APPROVED
    outcome: str | None = None  # down, landing, hovering, leaving, no_effect, lost
    outcome_t_s: float | None = None
    engage_task_id: str | None = None
    reason: str = ""
    # The drones it judges: the approved track first, then (a jammer) others in its beam.
    watches: list[Watch] = field(default_factory=list)
    confirmed_by: str | None = None  # the second person, where the two-person rule applies

    @property
    def covered(self) -> list[int]:
        """Tracks taken under this engagement besides the approved one (a jammer's beam)."""
        return [w.track_id for w in self.watches[1:]]

    @property
    def active(self) -> bool:
        """Still committing the effector (tasked or engaging)."""
        return self.state in ACTIVE_STATES


@dataclass(frozen=True, slots=True)
class CounterEvent:
    """Something the counter stage did, for the console and the evaluation."""

    t_s: float
    kind: str  # recommended, expired, approved, rejected, tasked, engaging, refused, assessed, …
    track_id: int
    rec_id: int | None = None
    eng_id: int | None = None
    detail: str = ""
