"""Propagation physics the sensor models share: rain on radar (ITU-R P.838-3), fog on cameras.

* Rain: the specific attenuation γ = k·R^α dB/km (R the rain rate in mm/h), with k and α from
  the Recommendation's regression of log k and α on log f (Tables 1–4).
* Fog and haze (Koschmieder): a target of inherent contrast C₀ against the sky appears with
  C₀·exp(−3.912·r/V) at range r for a meteorological visibility V, and is lost below a
  threshold ε, so a camera reaches r = V/3.912·ln(C₀/ε); thermal infrared scatters less in
  haze, taken here as half the extinction (a rough figure: in dense fog the two converge).
"""

from __future__ import annotations

import math

KOSCHMIEDER = 3.912  # ln(1/0.02): extinction over the meteorological visibility
TARGET_CONTRAST = 0.5  # a small drone against the sky
CONTRAST_THRESHOLD = 0.02
THERMAL_EXTINCTION = 0.5  # of the visible channel's, in haze

# ITU-R P.838-3, Tables 1-4: log10 k and α as sums of Gaussians in log10 f (GHz), plus a line.
# Columns: (a_j, b_j, c_j); then (m, c).
_K_H = ((-5.33980, -0.10008, 1.13098), (-0.35351, 1.26970, 0.45400),
        (-0.23789, 0.86036, 0.15354), (-0.94158, 0.64552, 0.16817))  # fmt: skip
_K_H_LINE = (-0.18961, 0.71147)
_K_V = ((-3.80595, 0.56934, 0.81061), (-3.44965, -0.22911, 0.51059),
        (-0.39902, 0.73042, 0.11899), (0.50167, 1.07319, 0.27195))  # fmt: skip
_K_V_LINE = (-0.16398, 0.63297)
_A_H = ((-0.14318, 1.82442, -0.55187), (0.29591, 0.77564, 0.19822),
        (0.32177, 0.63773, 0.13164), (-5.37610, -0.96230, 1.47828),
        (16.1721, -3.29980, 3.43990))  # fmt: skip
_A_H_LINE = (0.67849, -1.95537)
_A_V = ((-0.07771, 2.33840, -0.76284), (0.56727, 0.95545, 0.54039),
        (-0.20238, 1.14520, 0.26809), (-48.2991, 0.791669, 0.116226),
        (48.5833, 0.791459, 0.116479))  # fmt: skip
_A_V_LINE = (-0.053739, 0.83433)


def _p838(
    terms: tuple[tuple[float, float, float], ...], line: tuple[float, float], f: float
) -> float:
    x = math.log10(f)
    return sum(a * math.exp(-(((x - b) / c) ** 2)) for a, b, c in terms) + line[0] * x + line[1]


def rain_coefficients(freq_ghz: float, polarisation: str = "H") -> tuple[float, float]:
    """(k, α) of ITU-R P.838-3 for a frequency (1–1000 GHz), horizontal or vertical."""
    if not 1.0 <= freq_ghz <= 1000.0:
        raise ValueError(f"P.838-3 covers 1-1000 GHz, not {freq_ghz}")
    if polarisation == "H":
        return 10.0 ** _p838(_K_H, _K_H_LINE, freq_ghz), _p838(_A_H, _A_H_LINE, freq_ghz)
    if polarisation == "V":
        return 10.0 ** _p838(_K_V, _K_V_LINE, freq_ghz), _p838(_A_V, _A_V_LINE, freq_ghz)
    raise ValueError(f"polarisation must be 'H' or 'V', not {polarisation!r}")


def rain_attenuation_db_km(freq_ghz: float, rain_mm_h: float, polarisation: str = "H") -> float:
    """Specific attenuation γ = k·R^α (dB/km) of rain at ``rain_mm_h`` (ITU-R P.838-3)."""
    if rain_mm_h <= 0.0:
        return 0.0
    k, alpha = rain_coefficients(freq_ghz, polarisation)
    return float(k * rain_mm_h**alpha)


def fog_range_m(visibility_m: float, thermal: bool = False) -> float:
    """How far a camera can still see a small drone for a meteorological visibility."""
    if math.isinf(visibility_m):
        return math.inf
    reach = visibility_m / KOSCHMIEDER * math.log(TARGET_CONTRAST / CONTRAST_THRESHOLD)
    return reach / THERMAL_EXTINCTION if thermal else reach
