"""Pilot location: where the person flying a drone stands, kept with the drone's track.

Where it sits: fusion hands every bearing batch to :meth:`PilotLocator.take` before the tracker
(a controller's bearing must never start or feed a track: it is on the ground, not the drone),
and asks :meth:`PilotLocator.estimates` each cycle for the confirmed tracks' pilots.

Two sources, the more precise one shown:

- **Remote ID**: a compliant drone broadcasts its operator's position (ASTM F3411 System
  message). The standard carries no accuracy for it; :data:`REMOTE_ID_STD_M` is assumed (a
  phone's or controller's GNSS). It is a claim, as spoofable as the rest of the broadcast.
- **RF bearings on the controller**: an RF detector that hears a link's uplink reports a bearing
  on the controller (SAPIENT class "Controller", with the link's protocol and band; see
  :func:`luchtwacht.ingest.sapient.is_controller`). Bearings on the same controller (same
  protocol, overlapping band) from two or more detectors at different places are intersected
  by weighted least squares (:func:`luchtwacht.tracking.triangulation.triangulate`, the maximum
  likelihood fix with its Cramér–Rao covariance; Stansfield 1947). A pilot stands still or
  walks slowly, so every ray of the last :data:`WINDOW_S` seconds enters one fix (the error
  falls as 1/√n); when the χ² gate says the pilot moved meanwhile, only each detector's latest
  ray is used. Height is not observable from azimuths: a ground-level prior holds it.

Association of a controller to a track: the track's RF link (what a detector read of the drone
side) names the same protocol, with an overlapping band where both are known. A controller that
matches no track, or more than one (two drones on the same protocol and band), is kept
unassigned and counted: a wrong pilot is worse than none.

State is bounded: :data:`MAX_LINKS` controllers, :data:`RAYS_KEPT` rays each, estimates of at
most :data:`MAX_TRACKS` tracks; everything older than its window is dropped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from luchtwacht.geo import SiteOrigin
from luchtwacht.model.detection import BearingBatch, RfEmitter
from luchtwacht.tracking.triangulation import TriangulationConfig, triangulate

F64 = NDArray[np.float64]

WINDOW_S: Final = 20.0  # rays older than this leave the fix (a pilot may walk on)
KEEP_S: Final = 120.0  # a track keeps its last pilot estimate this long without new evidence
RAYS_KEPT: Final = 64  # per controller
MAX_LINKS: Final = 256  # controllers followed at once
MAX_TRACKS: Final = 20_000  # tracks whose last pilot estimate is kept
REMOTE_ID_STD_M: Final = 10.0  # assumed 1-sigma of a broadcast operator position (F3411: none)
PILOT_UP_M: Final = 1.5  # a controller in a standing pilot's hands, above the site's ground
PILOT_UP_STD_M: Final = 30.0  # …give or take the ground's height around the site
SAME_PLACE_M: Final = 5.0  # rays from sensors closer than this are one detector's
# A χ² gate at 99.99 %: it is there to notice a pilot who walked in the window (then the
# latest rays alone are used), not to refuse one fix in three hundred for noise.
FIX_CONFIG: Final = TriangulationConfig(
    min_crossing_deg=5.0,
    max_range_m=20_000.0,
    gate_probability=0.9999,
    up_prior_m=PILOT_UP_M,
    up_prior_std_m=PILOT_UP_STD_M,
)


@dataclass(frozen=True, slots=True)
class PilotEstimate:
    """Where a pilot is: site ENU and WGS84, a 1-sigma horizontal ellipse, whence, and when.

    ``ellipse_m`` is (semi-major, semi-minor, major axis' bearing in degrees from true north);
    ``err_m`` its semi-major axis; ``t_s`` the time of the newest evidence used.
    """

    east_m: float
    north_m: float
    lat_deg: float
    lon_deg: float
    err_m: float
    ellipse_m: tuple[float, float, float]
    source: str  # "remote id" or "rf bearings (n detectors)"
    t_s: float
    detectors: int = 0  # RF detectors whose bearings made the fix (0 for Remote ID)


@dataclass(slots=True)
class _Controller:
    """One controller's link as heard, and the bearings on it."""

    protocol: str | None
    band_mhz: tuple[float, float] | None
    rays: deque[tuple[float, float, float, float, float, float]] = field(
        default_factory=lambda: deque(maxlen=RAYS_KEPT)
    )  # (t_s, sensor e, n, u, azimuth rad, azimuth 1-sigma rad)
    fix: PilotEstimate | None = None
    dirty: bool = False

    def matches(self, protocol: str | None, band: tuple[float, float] | None) -> bool:
        """Same link: the same protocol (case aside) and overlapping bands where both known."""
        return _same_protocol(self.protocol, protocol) and _bands_meet(self.band_mhz, band)


def _same_protocol(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def _bands_meet(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def ellipse_of(cov: F64) -> tuple[float, float, float]:
    """1-sigma ellipse of a 2×2 east/north covariance: semi-axes (m) and the major's bearing."""
    a, b, c = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])
    mid, rad = 0.5 * (a + c), math.hypot(0.5 * (a - c), b)
    theta = 0.5 * math.atan2(2.0 * b, a - c)  # from east, counter-clockwise
    return (
        math.sqrt(max(mid + rad, 0.0)),
        math.sqrt(max(mid - rad, 0.0)),
        (90.0 - math.degrees(theta)) % 180.0,
    )


class PilotLocator:
    """Controllers heard by RF detectors, their fixes, and each track's pilot estimate."""

    def __init__(self, origin: SiteOrigin) -> None:
        self.origin = origin
        self._links: list[_Controller] = []
        self._by_track: dict[int, PilotEstimate] = {}
        self.bearings_taken = 0  # controller bearings kept out of the tracker
        self.ambiguous = 0  # cycles × controllers that matched more than one track
        self.dropped_links = 0  # controllers forgotten because the table was full

    # --- bearings in -------------------------------------------------------------------------

    def take(self, batch: BearingBatch) -> BearingBatch | None:
        """Keep a batch's controller bearings; the rest for the tracker (None: nothing left)."""
        if not batch.emitter or not any(e is not None and e.controller for e in batch.emitter):
            return batch
        ctrl = [i for i, e in enumerate(batch.emitter) if e is not None and e.controller]
        s = batch.sensor_enu_m
        for i in ctrl:
            em = batch.emitter[i]
            assert em is not None
            az, std = float(batch.azimuth_rad[i]), float(batch.azimuth_std_rad[i])
            if not (math.isfinite(az) and math.isfinite(std) and std > 0.0):
                continue
            link = self._link(em)
            link.rays.append((batch.t_s, float(s[0]), float(s[1]), float(s[2]), az, std))
            link.dirty = True
            self.bearings_taken += 1
        rest = np.setdiff1d(np.arange(len(batch)), np.array(ctrl, dtype=np.int64))
        if rest.size == 0:
            return None
        keep = rest.tolist()
        return BearingBatch(
            sensor_id=batch.sensor_id,
            sensor_enu_m=batch.sensor_enu_m,
            t_s=batch.t_s,
            azimuth_rad=batch.azimuth_rad[rest],
            azimuth_std_rad=batch.azimuth_std_rad[rest],
            elevation_rad=batch.elevation_rad[rest],
            elevation_std_rad=batch.elevation_std_rad[rest],
            class_loglik=batch.class_loglik[rest],
            ident=tuple(batch.ident[i] for i in keep) if batch.ident else (),
            counts_misses=batch.counts_misses,
            pd=batch.pd,
            clutter_density_m3=batch.clutter_density_m3,
            coverage_range_m=batch.coverage_range_m,
            emitter=tuple(batch.emitter[i] for i in keep),
        )

    def _link(self, em: RfEmitter) -> _Controller:
        for link in self._links:
            if link.matches(em.protocol, em.band_mhz):
                return link
        if len(self._links) >= MAX_LINKS:  # the stalest goes
            self._links.sort(key=lambda c: c.rays[-1][0] if c.rays else -math.inf)
            self._links.pop(0)
            self.dropped_links += 1
        link = _Controller(em.protocol, em.band_mhz)
        self._links.append(link)
        return link

    # --- fixes ---------------------------------------------------------------------------------

    def fixes(self, t_s: float) -> list[tuple[_Controller, PilotEstimate]]:
        """Every controller heard lately with its fix from two or more detectors, if any."""
        out = []
        for link in self._links:
            while link.rays and t_s - link.rays[0][0] > WINDOW_S:
                link.rays.popleft()
                link.dirty = True
            if link.dirty:
                link.fix = self._fix(link)
                link.dirty = False
            if link.fix is not None:
                out.append((link, link.fix))
        self._links = [c for c in self._links if c.rays]
        return out

    def _fix(self, link: _Controller) -> PilotEstimate | None:
        """The least-squares fix of a controller's rays, or None (one detector, bad geometry)."""
        rays = np.array(link.rays, dtype=float)
        where = np.round(rays[:, 1:4] / SAME_PLACE_M)
        places = {tuple(p) for p in where.tolist()}
        if len(places) < 2:
            return None
        got = self._solve(rays)
        if got is None:  # the pilot moved in the window, or rays disagree: the latest only
            latest: dict[tuple[float, ...], int] = {}
            for k, p in enumerate(where.tolist()):
                latest[tuple(p)] = k  # rays are in time order: the last one wins
            got = self._solve(rays[sorted(latest.values())])
        if got is None:
            return None
        pos, cov = got
        lat, lon, _ = self.origin.to_geodetic(pos).tolist()
        ell = ellipse_of(cov[:2, :2])
        return PilotEstimate(
            float(pos[0]), float(pos[1]), lat, lon, ell[0], ell,
            f"rf bearings ({len(places)} detectors)", float(rays[:, 0].max()), len(places),
        )  # fmt: skip

    @staticmethod
    def _solve(rays: F64) -> tuple[F64, F64] | None:
        res = triangulate(rays[:, 1:4], rays[:, 4], rays[:, 5], config=FIX_CONFIG)
        if not bool(res.ok[0]) or not np.isfinite(res.covariance[0]).all():
            return None
        return res.position[0], res.covariance[0]

    # --- per track -----------------------------------------------------------------------------

    def estimates(
        self,
        t_s: float,
        track_ids: Sequence[int],
        emitters: Sequence[RfEmitter | None],
        operators: Sequence[tuple[float, float, float] | None],
    ) -> list[PilotEstimate | None]:
        """Each track's pilot now: the best of its Remote ID operator and an RF fix, or kept.

        ``emitters`` are the tracks' RF links (drone side); ``operators`` each track's Remote ID
        operator position (lat, lon, time of the transmitter's last message), None without.
        """
        best: dict[int, PilotEstimate] = {}
        rid = [(j, op) for j, op in enumerate(operators) if op is not None]
        if rid:  # one conversion for all of them
            lat = np.array([op[0] for _, op in rid])
            lon = np.array([op[1] for _, op in rid])
            enu = self.origin.to_enu(lat, lon, np.zeros(len(rid))).reshape(-1, 3).tolist()
            r = REMOTE_ID_STD_M
            for (j, op), (e, n, _) in zip(rid, enu, strict=True):
                best[j] = PilotEstimate(e, n, op[0], op[1], r, (r, r, 0.0), "remote id", op[2])
        heard = [(j, em) for j, em in enumerate(emitters) if em is not None and not em.controller]
        for link, fix in self.fixes(t_s) if heard else ():
            cands = [j for j, em in heard if link.matches(em.protocol, em.band_mhz)]
            if len(cands) > 1:
                self.ambiguous += 1
                continue
            if cands and (cands[0] not in best or fix.err_m < best[cands[0]].err_m):
                best[cands[0]] = fix
        out: list[PilotEstimate | None] = [None] * len(track_ids)
        for j, est in best.items():
            tid = track_ids[j]
            self._by_track.pop(tid, None)  # re-inserted: the dict runs least recent first
            self._by_track[tid] = est
            out[j] = est
        if len(self._by_track) > len(best):  # estimates kept from earlier cycles
            where = {tid: j for j, tid in enumerate(track_ids)}
            for tid, est in list(self._by_track.items()):
                if t_s - est.t_s > KEEP_S:
                    del self._by_track[tid]
                    continue
                k = where.get(tid)
                if k is not None and out[k] is None:
                    out[k] = est
        while len(self._by_track) > MAX_TRACKS:  # least recently refreshed first
            del self._by_track[next(iter(self._by_track))]
        return out
