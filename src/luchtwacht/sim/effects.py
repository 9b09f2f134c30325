"""Effect models: what a countermeasure does to a simulated drone's flight.

A run wraps every drone's path in a :class:`Countered` path of its own (the scenario's targets
are shared between Monte Carlo runs and never change). A simulated effector that takes effect
calls :meth:`Countered.apply` with a time and an effect; from then on the drone flies that:

* ``hover`` / ``land`` / ``return_home`` — its flight controller's failsafe after its control
  link (RF jamming) or its GNSS (GNSS jamming) is lost: it brakes to a stop, then flies the
  behaviour (:class:`~luchtwacht.sim.targets.Failsafe`);
* ``captured`` — a net has caught it: it comes down under the net's parachute at 4 m/s;
* ``downed`` — it is disabled (hard kill, or an interceptor's impact): it falls under gravity up
  to a terminal speed of 15 m/s while air drag (time constant 2 s) takes its forward speed,
  and is gone on the ground.

Only the first effect counts, except that a drone already in a failsafe can still be brought
down or netted. Times before the effect are untouched, so what sensors reported stays true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from luchtwacht.sim.targets import F64, Failsafe, LinkLoss, Target, Trajectory, first_position

G_MS2 = 9.81
TERMINAL_MS = 15.0  # a small multirotor's terminal fall speed, roughly
DRAG_TAU_S = 2.0  # forward speed decays with this time constant once it is disabled
PARACHUTE_MS = 4.0  # descent under a net's parachute
BRAKE_MS2 = 4.0  # how hard a multirotor brakes when its failsafe starts

FAILSAFES = ("hover", "land", "return_home")
TERMINAL_EFFECTS = ("captured", "downed")


@dataclass(slots=True, eq=False)
class Countered:
    """A drone's path that an effector can change from a time on (see the module doc)."""

    base: Trajectory
    link_loss: LinkLoss
    home_m: tuple[float, float, float]
    # Every effect that took, in time order: (from when, what, which effector, the path then).
    history: list[tuple[float, str, str, Trajectory]] = field(default_factory=list, repr=False)

    @property
    def effect(self) -> str | None:
        """The latest effect (None: none yet)."""
        return self.history[-1][1] if self.history else None

    @property
    def at_s(self) -> float:
        """When the first effect took: from then on the drone was no longer its pilot's."""
        return self.history[0][0] if self.history else math.inf

    @property
    def cause(self) -> str:
        """The effector of the latest effect."""
        return self.history[-1][2] if self.history else ""

    def effects_by(self, effector: str) -> list[tuple[float, str]]:
        """(time, effect) of each effect this effector had on the drone."""
        return [(t, e) for t, e, who, _ in self.history if who == effector]

    def apply(self, t_s: float, effect: str, cause: str) -> bool:
        """Make the drone fly ``effect`` from ``t_s`` on; False if it has no effect now."""
        if effect not in FAILSAFES + TERMINAL_EFFECTS:
            raise ValueError(f"unknown effect {effect!r}")
        latest = self.effect
        if latest in TERMINAL_EFFECTS or (latest is not None and effect not in TERMINAL_EFFECTS):
            return False  # already down, or already in its failsafe
        if self.history and t_s < self.history[-1][0]:
            return False  # effects apply in time order
        if self.state(t_s) is None:
            return False  # not flying (yet, or any more)
        now = _Frozen(self, t_s)  # a failsafe already flown is part of the path before t_s
        if effect in FAILSAFES:
            home = self.link_loss.home_m or self.home_m
            after: Trajectory = _Braked(now, effect, home, self.link_loss)
        else:
            after = _Fall(now, t_s, effect)
        self.history.append((t_s, effect, cause, after))
        return True

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        """The base path before the first effect, then each effect from its time on."""
        for at, _, _, path in reversed(self.history):
            if t_s >= at:
                return path.state(t_s)
        return self.base.state(t_s)


@dataclass(frozen=True, slots=True)
class _Frozen:
    """The state of a path at one instant, kept (the path itself may change later)."""

    path: Trajectory
    t_s: float
    pos: F64 = field(init=False)
    vel: F64 = field(init=False)

    def __post_init__(self) -> None:
        s = self.path.state(self.t_s)
        if s is None:
            raise ValueError("no state to freeze")
        object.__setattr__(self, "pos", np.asarray(s[0], dtype=float).copy())
        object.__setattr__(self, "vel", np.asarray(s[1], dtype=float).copy())


@dataclass(frozen=True, slots=True)
class _Hold:
    """A point held still at all times (the base a failsafe starts from after braking)."""

    pos: F64

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        return self.pos.copy(), np.zeros(3)


@dataclass(frozen=True, slots=True)
class _Braked:
    """A failsafe as a flight controller flies it: brake to a stop, then hover/land/go home.

    It brakes along its track at :data:`BRAKE_MS2` (a multirotor's flight controller limits
    deceleration; ArduPilot's loiter/brake accelerations are a few m/s²), then starts the
    behaviour from where it stopped.
    """

    start: _Frozen
    behaviour: str
    home_m: tuple[float, float, float]
    link_loss: LinkLoss
    stop_s: float = field(init=False)
    then: Failsafe = field(init=False)

    def __post_init__(self) -> None:
        v0 = self.start.vel
        speed = float(np.linalg.norm(v0))
        t_b = speed / BRAKE_MS2
        stop = self.start.pos + v0 * t_b / 2.0  # mean speed half the initial over t_b
        ll = self.link_loss
        then = Failsafe(
            _Hold(stop),
            self.start.t_s + t_b,
            self.behaviour,
            self.home_m,
            ll.speed_ms,
            ll.descent_ms,
        )
        object.__setattr__(self, "stop_s", self.start.t_s + t_b)
        object.__setattr__(self, "then", then)

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        if t_s >= self.stop_s:
            return self.then.state(t_s)
        dt = t_s - self.start.t_s
        v0 = self.start.vel
        speed = float(np.linalg.norm(v0))
        frac = 1.0 - dt * BRAKE_MS2 / speed  # speed left, as a fraction of the initial
        return self.start.pos + v0 * (dt - 0.5 * BRAKE_MS2 * dt * dt / speed), v0 * frac


@dataclass(frozen=True, slots=True)
class _Fall:
    """Coming down from a frozen state: netted (parachute) or downed (fall with drag)."""

    start: _Frozen
    at_s: float
    effect: str

    def state(self, t_s: float) -> tuple[F64, F64] | None:
        p0, v0 = self.start.pos, self.start.vel
        dt = t_s - self.at_s
        if self.effect == "captured":
            h = p0[2] - PARACHUTE_MS * dt
            if h <= 0.0:
                return None
            return np.array([p0[0], p0[1], h]), np.array([0.0, 0.0, -PARACHUTE_MS])
        t_term = TERMINAL_MS / G_MS2
        if dt < t_term:
            drop, vz = 0.5 * G_MS2 * dt * dt, G_MS2 * dt
        else:
            drop, vz = 0.5 * G_MS2 * t_term * t_term + TERMINAL_MS * (dt - t_term), TERMINAL_MS
        h = p0[2] - drop
        if h <= 0.0:
            return None
        decay = math.exp(-dt / DRAG_TAU_S)
        e = p0[0] + v0[0] * DRAG_TAU_S * (1.0 - decay)
        n = p0[1] + v0[1] * DRAG_TAU_S * (1.0 - decay)
        return np.array([e, n, h]), np.array([v0[0] * decay, v0[1] * decay, -vz])


def counterable(targets: tuple[Target, ...] | list[Target]) -> list[Target]:
    """The run's own targets: every drone's path wrapped in a fresh :class:`Countered`."""
    out: list[Target] = []
    for tgt in targets:
        if tgt.true_class.label != "drone":
            out.append(tgt)
            continue
        ll = tgt.link_loss or LinkLoss()
        # Home is the ground below where it first appears: a drone seen first in the air took
        # off from somewhere there, and its failsafe lands it on the ground, not at that height.
        first = first_position(tgt.path) or (0.0, 0.0, 0.0)
        home = (first[0], first[1], 0.0)
        out.append(replace(tgt, path=Countered(tgt.path, ll, home)))
    return out
