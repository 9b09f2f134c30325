"""One clock for a run: simulated seconds, paced against the wall at a chosen speed.

Everything in the pipeline reads simulated time only, so the air picture is identical at any
speed; the wall clock is used solely to sleep. ``speed`` 0 (or ``inf``) runs unthrottled.
"""

from __future__ import annotations

import math
import time


class SimClock:
    """Simulated time starting at 0 s, advanced by the run loop and paced to the wall."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed < 0 or math.isnan(speed):
            raise ValueError("speed must be ≥ 0 (0 = as fast as possible)")
        self.speed = speed
        self.t_s = 0.0
        self._wall0 = time.monotonic()

    @property
    def paced(self) -> bool:
        """Whether the clock sleeps to follow the wall."""
        return 0 < self.speed < math.inf

    def advance_to(self, t_s: float) -> None:
        """Set simulated time to ``t_s``, sleeping first so it is not ahead of the wall × speed."""
        if self.paced:
            due = self._wall0 + t_s / self.speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.t_s = t_s
