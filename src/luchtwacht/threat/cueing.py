"""Cueing: point each pan-tilt camera at the track that most needs a look, as SAPIENT Tasks.

A radar or an RF detector finds a drone; an EO/IR camera on a pan head tells a drone from a bird
and gives the evidence an operator acts on — but only where it is pointed. Every assessment
cycle, for each camera that registered the SAPIENT ``LOOK_AT`` command, :class:`Cueing` picks
one confirmed track in the camera's reach and sends a ``Task`` (control START, ``look_at`` the
track's predicted WGS84 position) so the camera follows it.

Which track (:func:`cue_order`): the highest threat first; among equals one the camera has not
seen yet, then the soonest to breach a zone, then the nearest. Cooperative tracks (Remote ID,
ADS-B) are not looked at. A higher threat takes the camera at once; otherwise it stays on its
track for ``min_dwell_s`` (a look takes a few frames), and after that until it has seen it.
A task is re-sent each cycle with the track's new position; it stops (control STOP) when no
track qualifies. Every task sent is recorded with the evidence.

An operator may point a camera at a track by hand (:meth:`Cueing.pin`); the camera then stays on
it for ``pin_s`` seconds, or until the track is lost, whatever the automatic choice would be.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from google.protobuf import json_format

from luchtwacht.ingest.sapient import SapientMessage, new_ulid, wgs84_location
from luchtwacht.model.track import TrackView
from luchtwacht.threat.assess import friendly

_M_PER_DEG = 111_320.0  # metres per degree of latitude (for the location's stated error)


@dataclass(slots=True)
class CuedCamera:
    """A camera that takes look-at tasks: where it stands and how far it sees."""

    node_id: str  # SAPIENT node id
    sensor_id: str  # the feed its reports arrive on (to tell whether it saw a track)
    enu_m: tuple[float, float, float]
    max_range_m: float
    track_id: int | None = None  # the track it is cued on
    since_s: float = 0.0  # when it was cued on that track
    active: bool = False  # a START task is in force


def look_at(view: TrackView) -> dict[str, object]:
    """A SAPIENT ``look_at`` command (protobuf JSON) at a track's WGS84 position and error."""
    deg_err = view.pos_std_m / _M_PER_DEG  # the track's uncertainty, in degrees
    location = wgs84_location(view.lat_deg, view.lon_deg, view.alt_m, deg_err, view.pos_std_m)
    return {"lookAt": {"locationList": {"locations": [location]}}}


def cue_order(view: TrackView, camera: CuedCamera) -> tuple[float, int, float, float]:
    """Sort key: most urgent first (threat, not yet seen by this camera, time to breach, range)."""
    seen = camera.sensor_id in view.sensors
    ttb = view.time_to_breach_s if view.time_to_breach_s is not None else math.inf
    return (-float(view.threat), int(seen), ttb, _range_m(view, camera))


def _range_m(view: TrackView, camera: CuedCamera) -> float:
    e, n, u = camera.enu_m
    return math.dist((view.east_m, view.north_m, view.up_m), (e, n, u))


@dataclass(slots=True)
class Cueing:
    """Chooses each cued camera's track per cycle and writes the SAPIENT tasks for it."""

    fusion_node_id: str
    min_dwell_s: float = 5.0
    pin_s: float = 30.0
    cameras: list[CuedCamera] = field(default_factory=list)
    _pins: dict[str, tuple[int, float]] = field(default_factory=dict)  # camera → (track, until)
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def add_camera(self, camera: CuedCamera) -> None:
        """Take a camera under cueing."""
        self.cameras.append(camera)

    def pin(self, camera_node_id: str, track_id: int, t_s: float) -> None:
        """An operator's cue: this camera looks at this track for :attr:`pin_s` seconds."""
        self._pins[camera_node_id] = (track_id, t_s + self.pin_s)

    def choose(self, camera: CuedCamera, views: list[TrackView], t_s: float) -> TrackView | None:
        """The track this camera should look at now (see the module doc), or None."""
        pin = self._pins.get(camera.node_id)
        if pin is not None:
            pinned = next((v for v in views if v.track_id == pin[0]), None)
            if pinned is not None and t_s < pin[1]:
                return pinned
            del self._pins[camera.node_id]  # run out, or the track is gone
        fit = [v for v in views if not friendly(v) and _range_m(v, camera) <= camera.max_range_m]
        if not fit:
            return None
        best = min(fit, key=lambda v: cue_order(v, camera))
        current = next((v for v in fit if v.track_id == camera.track_id), None)
        if current is None or current.track_id == best.track_id or best.threat > current.threat:
            return best  # nothing to hold, or something more urgent: switch at once
        dwelling = t_s - camera.since_s < self.min_dwell_s
        return current if dwelling or camera.sensor_id not in current.sensors else best

    def tasks(
        self, t_utc_s: float, views: list[TrackView]
    ) -> list[tuple[CuedCamera, SapientMessage]]:
        """The tasks of this cycle: look-at for each camera with a track, STOP for one without."""
        out: list[tuple[CuedCamera, SapientMessage]] = []
        for cam in self.cameras:
            view = self.choose(cam, views, t_utc_s)
            if view is None:
                if cam.active:
                    out.append((cam, self._task(cam, t_utc_s, None)))
                    cam.active, cam.track_id = False, None
                continue
            if view.track_id != cam.track_id:
                cam.track_id, cam.since_s = view.track_id, t_utc_s
            cam.active = True
            out.append((cam, self._task(cam, t_utc_s, view)))
        return out

    def _task(self, cam: CuedCamera, t_utc_s: float, view: TrackView | None) -> SapientMessage:
        """A SAPIENT Task for one camera: look at the track's position, or stop."""
        stamp = dt.datetime.fromtimestamp(t_utc_s, tz=dt.UTC).isoformat().replace("+00:00", "Z")
        task: dict[str, object] = {
            "taskId": new_ulid(t_utc_s, self._rng),
            "control": "CONTROL_STOP" if view is None else "CONTROL_START",
        }
        if view is not None:
            task["taskName"] = f"look at track {view.track_id}"
            task["command"] = look_at(view)
        else:
            task["taskName"] = "stop cueing"
            task["command"] = {"request": "Stop"}
        body = {
            "timestamp": stamp,
            "nodeId": self.fusion_node_id,
            "destinationId": cam.node_id,
            "task": task,
        }
        return json_format.ParseDict(body, SapientMessage())
