"""The two-person rule: some countermeasures take effect only when a second person confirms.

It sits in the node core's command port (``node.core``), in front of the counter stage. A site
names the effector kinds that need two persons (site file ``approval.two_person``; by default
``hard_kill`` only). For such an option:

1. an APPROVE tasks nothing. It is checked (the recommendation is pending, the option exists
   and was usable when last judged) and held as a
   :class:`~luchtwacht.model.picture.PendingApprovalSnapshot`: recommendation, effector, first
   approver, when, and until when it may be confirmed (``confirm_window_s``, 60 s by default).
2. a CONFIRM by another person (another account, with ``APPROVE_ENGAGEMENT``) within the
   window makes it effective: only then does the counter stage approve, judging the option
   again at that instant as a single approval would. Should the option be blocked then, the
   approval stays held and may be confirmed again within its window.
3. The same person confirming is refused, and so is a confirmation after the window. A
   rejection of the recommendation, or its end (expired, track dropped, engaged with another
   option), cancels the held approval. A lapsed approval is kept until its recommendation
   ends, so a late confirmation is told why; a new approval replaces it.

Kinds the site does not name keep the single approval. At most one approval is held per
recommendation and at most :data:`MAX_HELD` in all.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass, field

from luchtwacht.counter.catalogue import FORCE_ORDER, EffectorKind
from luchtwacht.counter.engagement import CounterError
from luchtwacht.model.picture import PendingApprovalSnapshot
from luchtwacht.texts import say

# The effector kinds that need two persons unless the site says otherwise.
TWO_PERSON_DEFAULT: frozenset[EffectorKind] = frozenset({"hard_kill"})
CONFIRM_WINDOW_S = 60.0  # a first approval may be confirmed this long
MAX_HELD = 256  # approvals held at once; beyond, lapsed ones go first, then new ones are refused
SAME_PERSON = say("err.same_person")
EXPIRED = say("err.window_expired")


class ApprovalError(CounterError):
    """An approval or confirmation the two-person rule refuses, with the reason."""


def same_person(a: str, b: str) -> bool:
    """Whether two usernames are one person's.

    Case is ignored: an account made twice as ``Anna`` and ``anna`` must not let one person
    confirm their own approval (refusing two people who differ only in case is the safe side).
    """
    return a.casefold() == b.casefold()


@dataclass(slots=True)
class TwoPersonRule:
    """The effector kinds under the rule, the confirmation window, and the approvals held."""

    kinds: frozenset[str] = TWO_PERSON_DEFAULT
    window_s: float = CONFIRM_WINDOW_S
    held: dict[int, PendingApprovalSnapshot] = field(default_factory=dict)  # by recommendation

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(FORCE_ORDER))
        if unknown:
            raise ValueError(
                f"two_person: unknown effector kind(s) {', '.join(unknown)}"
                f" (expected {', '.join(FORCE_ORDER)})"
            )
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"confirm_window_s must be positive, got {self.window_s!r}")
        self.kinds = frozenset(self.kinds)

    def applies(self, kind: str) -> bool:
        """Whether an effector of ``kind`` needs a second person's confirmation."""
        return kind in self.kinds

    def hold(
        self, rec_id: int, track_id: int, effector: str, kind: str, by: str, t_s: float
    ) -> PendingApprovalSnapshot:
        """Hold ``by``'s approval of ``effector`` for ``rec_id`` until another person confirms."""
        current = self.held.get(rec_id)
        if current is not None and t_s <= current.expires_t_s:
            raise ApprovalError(
                say("err.awaits_second", rec=rec_id, effector=current.effector,
                    by=current.approved_by)
            )  # fmt: skip
        if current is None and len(self.held) >= MAX_HELD:
            for lapsed in [r for r, a in self.held.items() if t_s > a.expires_t_s]:
                del self.held[lapsed]
            if len(self.held) >= MAX_HELD:
                raise ApprovalError(say("err.too_many_held"))
        approval = PendingApprovalSnapshot(
            rec_id, effector, by, t_s, t_s + self.window_s, track_id, kind
        )
        self.held[rec_id] = approval
        return approval

    def confirmable(
        self, rec_id: int, effector: str, by: str, t_s: float
    ) -> PendingApprovalSnapshot:
        """The held approval ``by`` may confirm now (``effector``: if given, it must match)."""
        current = self.held.get(rec_id)
        if current is None:
            raise ApprovalError(say("err.none_held", rec=rec_id))
        if effector and effector != current.effector:
            raise ApprovalError(
                say("err.other_effector", rec=rec_id, effector=current.effector, other=effector)
            )
        if same_person(by, current.approved_by):
            raise ApprovalError(SAME_PERSON)
        if t_s > current.expires_t_s:
            raise ApprovalError(EXPIRED)
        return current

    def cancel(self, rec_id: int) -> PendingApprovalSnapshot | None:
        """Drop the approval held for ``rec_id`` (confirmed or rejected); it, if there was one."""
        return self.held.pop(rec_id, None)

    def sweep(self, pending: Container[int]) -> list[PendingApprovalSnapshot]:
        """Drop the approvals whose recommendation is no longer ``pending``; those dropped."""
        gone = [a for r, a in self.held.items() if r not in pending]
        for approval in gone:
            del self.held[approval.rec_id]
        return gone

    def awaiting(self, t_s: float) -> tuple[PendingApprovalSnapshot, ...]:
        """The approvals that may still be confirmed at ``t_s``, oldest first."""
        live = (a for a in self.held.values() if t_s <= a.expires_t_s)
        return tuple(sorted(live, key=lambda a: (a.t_s, a.rec_id)))
