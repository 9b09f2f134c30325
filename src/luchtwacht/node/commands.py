"""Commands into the node: what an operator may ask of it, each carrying a session token.

A console, a test or the simulated duty officer submits a command with
:meth:`luchtwacht.node.core.NodeCore.submit`; the node applies it at the next cycle boundary
(never in the middle of a cycle), checks the session's role for it, and writes one audit record
``command.<kind>`` with who, when, what and the outcome. A command that cannot be carried out
(wrong role, expired session, no such recommendation) is refused with its reason, audited too.

Replay re-applies the commands a recording holds at the very cycle they were applied, which is
why each record keeps its arguments (see ``store.replay``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from luchtwacht.counter.authority import Permission


class CommandKind(enum.StrEnum):
    """What a command asks for."""

    APPROVE = "approve"
    REJECT = "reject"
    CEASE = "cease"
    ACKNOWLEDGE = "acknowledge"
    CUE = "cue"


# The right each command needs; the counter stage checks its own again on top.
PERMISSION: dict[CommandKind, Permission] = {
    CommandKind.APPROVE: Permission.APPROVE_ENGAGEMENT,
    CommandKind.REJECT: Permission.REJECT_ENGAGEMENT,
    CommandKind.CEASE: Permission.CEASE_ENGAGEMENT,
    CommandKind.ACKNOWLEDGE: Permission.ACKNOWLEDGE,
    CommandKind.CUE: Permission.TASK_SENSOR,
}


@dataclass(frozen=True, slots=True)
class Command:
    """One operator request.

    ``target`` is the recommendation id (approve, reject), engagement id (cease), alert id
    (acknowledge) or track id (cue); ``effector`` the chosen effector's name (approve) and
    ``camera`` the camera's SAPIENT node id (cue).
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


@dataclass(slots=True)
class CommandResult:
    """What became of a submitted command, filled in when the node applies it."""

    command: Command
    applied: bool = False
    ok: bool = False
    t_s: float | None = None
    operator: str | None = None
    role: str | None = None
    error: str = ""
