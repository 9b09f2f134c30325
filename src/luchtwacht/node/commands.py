"""Commands into the node: what an operator may ask of it, each carrying a session token.

A console, a test or the simulated duty officer submits a command with
:meth:`luchtwacht.node.core.NodeCore.submit`; the node applies it at the next cycle boundary
(never in the middle of a cycle), checks the session's role for it, and writes one audit record
``command.<kind>`` with who, when, what and the outcome. A command that cannot be carried out
(wrong role, expired session, no such recommendation) is refused with its reason, audited too.

An approval of an effector kind the site puts under the two-person rule (``node.approval``)
tasks nothing by itself: it waits for a :attr:`CommandKind.CONFIRM` by another person.

Replay re-applies the commands a recording holds at the very cycle they were applied, which is
why each record keeps its arguments (see ``store.replay``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from luchtwacht.counter.authority import Permission

if TYPE_CHECKING:  # the command types stay light to import (the simulated operator, the CLI)
    from luchtwacht.model.picture import PendingApprovalSnapshot


class CommandKind(enum.StrEnum):
    """What a command asks for."""

    APPROVE = "approve"
    CONFIRM = "confirm"  # the second person's approval (two-person rule)
    REJECT = "reject"
    CEASE = "cease"
    ACKNOWLEDGE = "acknowledge"
    CUE = "cue"


# The right each command needs; the counter stage checks its own again on top.
PERMISSION: dict[CommandKind, Permission] = {
    CommandKind.APPROVE: Permission.APPROVE_ENGAGEMENT,
    CommandKind.CONFIRM: Permission.APPROVE_ENGAGEMENT,
    CommandKind.REJECT: Permission.REJECT_ENGAGEMENT,
    CommandKind.CEASE: Permission.CEASE_ENGAGEMENT,
    CommandKind.ACKNOWLEDGE: Permission.ACKNOWLEDGE,
    CommandKind.CUE: Permission.TASK_SENSOR,
}


@dataclass(frozen=True, slots=True)
class Command:
    """One operator request.

    ``target`` is the recommendation id (approve, confirm, reject), engagement id (cease),
    alert id (acknowledge) or track id (cue); ``effector`` the chosen effector's name (approve;
    on confirm, if given, it must be the one awaiting confirmation) and ``camera`` the
    camera's SAPIENT node id (cue).
    """

    kind: CommandKind
    token: str = field(repr=False)
    target: int
    effector: str = ""
    camera: str = ""
    reason: str = ""

    def arguments(self) -> dict[str, object]:
        """The command's arguments as recorded (never the token)."""
        out: dict[str, object] = {"target": self.target}
        if self.effector:
            out["effector"] = self.effector
        if self.camera:
            out["camera"] = self.camera
        if self.reason:
            out["reason"] = self.reason
        return out


class ApprovalStatus(enum.StrEnum):
    """What an applied approve or confirm did."""

    APPROVED = "approved"  # one approval sufficed: the effector is tasked
    AWAITING_CONFIRMATION = "awaiting confirmation"  # two-person rule: nothing tasked yet
    CONFIRMED = "confirmed"  # the second person confirmed: the effector is tasked


@dataclass(slots=True)
class CommandResult:
    """What became of a submitted command, filled in when the node applies it.

    For an applied approve or confirm, ``status`` says whether the effector is tasked and
    ``eng_id`` names the engagement when it is; ``approval`` is the two-person approval the
    command held (approve), made effective (confirm) or cancelled (reject).
    """

    command: Command
    applied: bool = False
    ok: bool = False
    t_s: float | None = None
    operator: str | None = None
    role: str | None = None
    error: str = ""
    status: ApprovalStatus | None = None
    eng_id: int | None = None
    approval: PendingApprovalSnapshot | None = None
