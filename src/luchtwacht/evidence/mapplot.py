"""The map of an evidence package or report: zones, sensors and tracks on the site's ENU plane.

Drawn with matplotlib's object API (``Figure`` + Agg canvas, no pyplot state, no display, no
network, no tiles): axes are kilometres east and north of the site origin, equal scale, so
distances can be read off the grid. Zones are outlined (the one asked about filled), sensors are
triangles with their declared range as a dashed circle, each track is a line from a circle (its
first position in the window) to its label ``T<id> <class>`` at its last position; tracks
counted against the zone are red.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display; must precede any figure (harmless when already set)

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon
from numpy.typing import NDArray

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.zone import Zone

__all__ = ["MapSensor", "MapTrack", "draw_map", "map_png"]

_CLASS_COLOURS = {"drone": "#ff7f0e", "aircraft": "#1f77b4", "bird": "#2ca02c"}
_FLAGGED = "#d62728"


@dataclass(frozen=True, slots=True)
class MapTrack:
    """A track's positions in the window (metres east/north of the origin) and its label."""

    track_id: int
    east_m: NDArray[np.float64]
    north_m: NDArray[np.float64]
    label: str
    object_class: str
    flagged: bool = False  # counted against the zone (drawn red and thick)


@dataclass(frozen=True, slots=True)
class MapSensor:
    """A sensor at a known place (metres east/north) with its declared range, if any."""

    name: str
    east_m: float
    north_m: float
    range_m: float | None


def _zone_enu(origin: SiteOrigin, zone: Zone) -> NDArray[np.float64]:
    lat = np.array([v[0] for v in zone.vertices_deg])
    lon = np.array([v[1] for v in zone.vertices_deg])
    return origin.to_enu(lat, lon, np.full(len(lat), origin.alt_m))[:, :2]


def draw_map(
    fig: Figure,
    origin: SiteOrigin,
    zones: Sequence[Zone],
    tracks: Sequence[MapTrack],
    sensors: Sequence[MapSensor],
    title: str,
    highlight_zone: str | None = None,
    rect: tuple[float, float, float, float] = (0.08, 0.08, 0.88, 0.84),
) -> None:
    """Draw the map into ``fig`` (in ``rect``, figure fractions)."""
    ax = fig.add_axes(rect)
    xs: list[float] = [0.0]
    ys: list[float] = [0.0]
    for zone in zones:
        pts = _zone_enu(origin, zone) / 1000.0
        hl = zone.name == highlight_zone
        ax.add_patch(
            Polygon(pts, closed=True, fill=hl, facecolor="#ffd70055" if hl else "none",
                    edgecolor="#b8860b" if hl else "#555555", linewidth=2.0 if hl else 1.2,
                    zorder=1)
        )  # fmt: skip
        cx, cy = pts.mean(axis=0)
        ax.annotate(zone.name, (cx, cy), textcoords="offset points", xytext=(0, -14),
                    ha="center", va="center", fontsize=8, color="#7a5c00", zorder=2)  # fmt: skip
        xs.extend(pts[:, 0].tolist())
        ys.extend(pts[:, 1].tolist())
    for s in sensors:
        e, n = s.east_m / 1000.0, s.north_m / 1000.0
        ax.plot([e], [n], marker="^", color="#444444", markersize=8, zorder=4)
        ax.annotate(s.name, (e, n), textcoords="offset points", xytext=(5, -10), fontsize=7,
                    color="#444444", zorder=4)  # fmt: skip
        if s.range_m is not None:
            r = s.range_m / 1000.0
            ax.add_patch(Circle((e, n), r, fill=False, linestyle="--", edgecolor="#999999",
                                linewidth=0.8, zorder=0))  # fmt: skip
        xs.append(e)
        ys.append(n)
    for t in tracks:
        if len(t.east_m) == 0:
            continue
        te, tn = t.east_m / 1000.0, t.north_m / 1000.0
        colour = _FLAGGED if t.flagged else _CLASS_COLOURS.get(t.object_class, "#7f7f7f")
        ax.plot(te, tn, color=colour, linewidth=2.2 if t.flagged else 1.2, zorder=5)
        ax.plot([te[0]], [tn[0]], marker="o", color=colour, markersize=4, zorder=6)
        ax.plot([te[-1]], [tn[-1]], marker="s", color=colour, markersize=4, zorder=6)
        ax.annotate(t.label, (te[-1], tn[-1]), textcoords="offset points", xytext=(6, 4),
                    fontsize=8, color=colour, fontweight="bold", zorder=7)  # fmt: skip
        xs.extend(te.tolist())
        ys.extend(tn.tolist())
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = max(0.3, 0.08 * max(x1 - x0, y1 - y0))
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, linewidth=0.4, color="#dddddd")
    ax.set_xlabel("km east of the site origin")
    ax.set_ylabel("km north of the site origin")
    ax.plot([0.0], [0.0], marker="+", color="black", markersize=10, zorder=3)
    ax.set_title(title, fontsize=10)
    legend = [
        ax.plot([], [], color="#ff7f0e", label="drone")[0],
        ax.plot([], [], color="#1f77b4", label="aircraft")[0],
        ax.plot([], [], color="#2ca02c", label="bird")[0],
        ax.plot([], [], color="#7f7f7f", label="other class")[0],
        ax.plot([], [], marker="^", linestyle="none", color="#444444", label="sensor")[0],
        ax.plot(
            [],
            [],
            marker="o",
            linestyle="none",
            color="black",
            markersize=4,
            label="first position in window",
        )[0],
        ax.plot(
            [],
            [],
            marker="s",
            linestyle="none",
            color="black",
            markersize=4,
            label="last position (label)",
        )[0],
    ]
    if any(t.flagged for t in tracks):
        legend.insert(0, ax.plot([], [], color=_FLAGGED, linewidth=2.2,
                                 label="unauthorised in the zone")[0])  # fmt: skip
    ax.legend(handles=legend, loc="lower right", fontsize=7, framealpha=0.85)


def map_png(
    origin: SiteOrigin,
    zones: Sequence[Zone],
    tracks: Sequence[MapTrack],
    sensors: Sequence[MapSensor],
    title: str,
    highlight_zone: str | None = None,
) -> bytes:
    """The map as PNG bytes (9 × 8 in at 120 dpi)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(9, 8), dpi=120)
    FigureCanvasAgg(fig)
    draw_map(fig, origin, zones, tracks, sensors, title, highlight_zone)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
