"""The simulated duty operator: a person at the console, decided by a scenario's policy.

Nothing in Luchtwacht engages on its own; an evaluation that wants engagement outcomes needs
someone to approve. :class:`OperatorSim` stands in for that person and goes through the very
same door: it has an account with a role and a password (drawn at random for the run, stored
only as its scrypt hash), logs in through the :class:`~luchtwacht.counter.authority.Authority`,
and submits its decisions as commands with its session token to the node's command port, where
the role is checked and the decision audited like anyone's. Its policy: after
``reaction_s`` (reading the picture, deciding) approve the best usable option, or reject, or
never decide.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from luchtwacht.counter.authority import AuthError, OperatorAccount, hash_password
from luchtwacht.node.commands import Command, CommandKind, CommandResult

if TYPE_CHECKING:
    from luchtwacht.counter.authority import Authority
    from luchtwacht.counter.engagement import CounterUas


@dataclass(frozen=True, slots=True)
class OperatorPolicy:
    """Who the simulated operator is and how they decide (see ``OperatorSection``)."""

    username: str = "duty-officer"
    role: str = "commander"
    reaction_s: float = 10.0
    decision: str = "approve"  # approve, reject or none


@dataclass(slots=True)
class OperatorSim:
    """Logs in and decides on pending recommendations each cycle (see the module doc)."""

    policy: OperatorPolicy
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    token: str | None = field(default=None, repr=False)
    refusals: list[tuple[float, int, str]] = field(default_factory=list)  # (t, rec, why)
    _tried: set[tuple[int, str]] = field(default_factory=set)
    _submitted: list[CommandResult] = field(default_factory=list)

    def account(self) -> OperatorAccount:
        """The operator's account (only the hash of the run's password is kept in it)."""
        # n = 2**12 keeps a Monte Carlo run's login fast; the hash is the same scheme.
        return OperatorAccount(
            self.policy.username, self.policy.role, hash_password(self.password, n=2**12)
        )

    def act(
        self,
        t_s: float,
        authority: Authority,
        counter: CounterUas,
        submit: Callable[[Command], CommandResult],
    ) -> None:
        """Decide on every recommendation that has waited the reaction time.

        The decisions go in as commands through the node's command port (``submit``), like a
        console's; the node applies them at its next cycle boundary, and what it refused is
        noted here the cycle after.
        """
        self._note_refusals()
        if self.policy.decision == "none":
            return
        if self.token is None:
            try:
                self.token = authority.authenticate(self.policy.username, self.password, t_s).token
            except AuthError as exc:
                self.refusals.append((t_s, 0, exc.reason))
                return
        for rec in counter.pending():
            if t_s - rec.created_t_s < self.policy.reaction_s:
                continue
            if self.policy.decision == "reject":
                command = Command(
                    CommandKind.REJECT, self.token, rec.rec_id, reason="operator declined"
                )
            else:
                best = next((o for o in rec.options if o.usable), None)
                if best is None:
                    continue  # nothing can act yet: look again next cycle
                command = Command(CommandKind.APPROVE, self.token, rec.rec_id, best.effector)
            self._submitted.append(submit(command))

    def _note_refusals(self) -> None:
        """Note each refused decision once (the operator keeps trying)."""
        for result in self._submitted:
            if not result.applied:
                continue
            if not result.ok:
                key = (result.command.target, result.error)
                if key not in self._tried:
                    self._tried.add(key)
                    self.refusals.append((result.t_s or 0.0, result.command.target, result.error))
        self._submitted = [r for r in self._submitted if not r.applied]
