"""Weather over a simulated site: what rain, fog and clutter do to the sensors.

* **Rain** attenuates a radar's signal on the way out and back: the specific attenuation of
  ITU-R P.838-3 (:mod:`luchtwacht.sim.propagation`) over twice the range. At X-band, 10 mm/h
  costs about 0.2 dB/km each way: a few dB at the radar's reach, enough to lose small drones at
  its edge. A 2.4 GHz RF link loses under a hundredth of that, so RF detectors are left alone.
* **Fog and haze** limit what a camera sees by contrast (Koschmieder, also in
  :mod:`~luchtwacht.sim.propagation`): the camera's reach becomes the smaller of its own and
  the range at which a small drone's contrast fades below threshold (thermal: twice as far).
* **Clutter** (ground, sea, rain and insect returns, wind noise, RF reflections) is given as a
  factor on every sensor's false-alarm rate: ``none`` 0, ``light`` 0.5, ``moderate`` 1 (the
  sensors' own figures), ``heavy`` 3, or any number.

:func:`apply_weather` turns a scenario's sensor configurations into the ones the weather leaves.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from luchtwacht.sim.bearing_sensor import BearingSensorConfig
from luchtwacht.sim.propagation import fog_range_m
from luchtwacht.sim.radar import RadarConfig

CLUTTER_LEVELS = {"none": 0.0, "light": 0.5, "moderate": 1.0, "heavy": 3.0}


@dataclass(frozen=True, slots=True)
class Weather:
    """The conditions of a whole scenario; the default is clear, with the sensors' own clutter."""

    clutter: float = 1.0  # factor on every sensor's false-alarm rate (CLUTTER_LEVELS)
    rain_mm_h: float = 0.0
    visibility_m: float = math.inf

    def __post_init__(self) -> None:
        if not (self.clutter >= 0.0 and math.isfinite(self.clutter)):
            raise ValueError("clutter must be a finite factor >= 0")
        if not (self.rain_mm_h >= 0.0 and math.isfinite(self.rain_mm_h)):
            raise ValueError("rain_mm_h must be finite and >= 0")
        if not self.visibility_m > 0.0:
            raise ValueError("visibility_m must be > 0")


def apply_weather(
    weather: Weather,
    radars: tuple[RadarConfig, ...],
    bearing_sensors: tuple[BearingSensorConfig, ...],
) -> tuple[tuple[RadarConfig, ...], tuple[BearingSensorConfig, ...]]:
    """The sensor configurations under ``weather`` (see the module doc)."""
    out_r = tuple(
        dataclasses.replace(
            r,
            rain_mm_h=weather.rain_mm_h,
            false_alarms_per_scan=r.false_alarms_per_scan * weather.clutter,
        )
        for r in radars
    )
    out_b = []
    for b in bearing_sensors:
        reach = b.max_range_m
        if b.kind == "camera":
            reach = min(reach, fog_range_m(weather.visibility_m, thermal=b.thermal))
        out_b.append(
            dataclasses.replace(
                b,
                max_range_m=reach,
                false_alarms_per_scan=b.false_alarms_per_scan * weather.clutter,
            )
        )
    return out_r, tuple(out_b)
