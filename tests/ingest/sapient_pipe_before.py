"""The SAPIENT pipe's delivery path as it was before the speed-up of issue #17, for comparison.

:class:`PipeBefore` is :class:`~luchtwacht.ingest.sapient.SapientPipe` with the methods that
issue changed (``feed``, ``flush``, ``_detection``, ``_to_batches``, ``_convert``) as they were
at commit e426894: every pending row re-sorted on each delivery, a Python pass per row for each
column. ``test_sapient_speedup.py`` feeds both the same bytes and requires the same batches,
rejections and answers. Kept in the tests, not in ``src``: it is a reference, not a fallback.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from luchtwacht.ingest.sapient import (
    _RB_KM,
    _RB_MAGNETIC,
    _RB_PLATFORM,
    MIN_RANGE_M,
    SCAN_MERGE_S,
    DetectionRow,
    NodeState,
    SapientError,
    SapientMessage,
    SapientPipe,
    _class_loglik,
    _emitters,
    _looks,
    _range_rates,
    detection_row,
    parse_message,
    validate,
)
from luchtwacht.model.detection import BearingBatch, DetectionBatch


class PipeBefore(SapientPipe):
    """:class:`SapientPipe` with its delivery path as before issue #17 (see the module text)."""

    def feed(self, data: bytes, t_rx_s: float | None = None) -> list[DetectionBatch | BearingBatch]:
        """Consume bytes from the connection; return the batches this completes.

        ``t_rx_s`` paces the answers to invalid input; SAPIENT messages carry their own
        timestamps.

        Reports are grouped per node into looks (:func:`_looks`); a look is complete once a
        later one of the same node has begun (a later stamp from a node that stamps its scans,
        else a report more than ``SCAN_MERGE_S`` later), or when :meth:`flush` is called.
        """
        detections = 0
        if t_rx_s is not None:
            self._t_rx_s = t_rx_s
        parsed: list[tuple[bytes, SapientMessage]] = []
        try:
            for body in self.reader.feed(data):
                try:
                    msg = parse_message(body)
                    if not msg.node_id.islower():  # a UUID in any case is one node: one key
                        msg.node_id = msg.node_id.lower()
                    parsed.append((body, msg))
                except SapientError as exc:
                    self._reject(exc)
        except SapientError as exc:  # framing error: the stream was reset
            self._reject(exc)
        shed = self._shed(parsed) if self.budget is not None and parsed else None
        for i, (body, msg) in enumerate(parsed):
            try:
                if msg.WhichOneof("content") == "detection_report":
                    if shed is not None and i in shed:
                        continue
                    self._detection(msg)
                    detections += 1
                else:
                    self._handle(msg, validate(msg))
            except SapientError as exc:
                self._reject(exc)
                self._answer_invalid(msg, body, exc)
        if detections:  # counted once per delivery: a Counter update costs more than a report
            self.counters.decoded += detections
            self.counters.by_kind["detection_report"] += detections
        done: list[DetectionRow] = []
        for node_id, rows in self._pending.items():
            # A look is complete once a report more than SCAN_MERGE_S after its last plot has
            # come (the rule ``_to_batches`` cuts looks by): release up to the last such gap.
            times = sorted(row.t_s for row in rows)
            node = self.nodes.get(node_id)
            if node is not None and node.scan_stamped:
                gaps = [times[-1]] if times[0] < times[-1] else []
            else:
                gaps = [b for a, b in itertools.pairwise(times) if b - a > SCAN_MERGE_S]
            if gaps:
                cut = gaps[-1]
                done.extend(row for row in rows if row.t_s < cut)
                self._pending[node_id] = [row for row in rows if row.t_s >= cut]
        return self._to_batches(done) if done else []

    def flush(self) -> list[DetectionBatch | BearingBatch]:
        """Emit every pending group (the caller knows no more of them is on its way)."""
        done = [row for rows in self._pending.values() for row in rows]
        self._pending = {}
        return self._to_batches(done)

    def _detection(self, msg: SapientMessage) -> None:
        """A DetectionReport: validate and read it (fast path), check it can be placed, keep it.

        The caller counts it as decoded once this returns.
        """
        row = detection_row(msg)
        node = self.nodes.get(row.node_id)  # unknown senders get no state: that would be a leak
        if node is None or not node.registered:
            raise SapientError("SapientMessage.node_id", "detection from an unregistered node")
        self._admit(row.node_id, "detection_report")
        self.node_ids_here.add(row.node_id)
        if msg.detection_report.state.strip().lower() == "lost":
            return  # a fusion node's track ended (publish.sapient_up): its last fix, no new plot
        if row.kind == "range_bearing":
            min_c = MIN_RANGE_M / 1000.0 if row.coordinate_system in _RB_KM else MIN_RANGE_M
            if row.c < min_c:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing.range",
                    f"inside the minimum range ({MIN_RANGE_M:g} m)",
                )
            if node.lat_deg is None:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing",
                    "node location unknown (no StatusReport)",
                )
            if row.datum == _RB_PLATFORM:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing.datum",
                    "platform-relative bearing needs the platform heading",
                )
            if row.datum == _RB_MAGNETIC and self.magnetic_declination_deg is None:
                raise SapientError(
                    "SapientMessage.detection_report.range_bearing.datum",
                    "magnetic bearing needs the site's magnetic declination",
                )
        pending = self._pending.get(row.node_id)
        if pending is None:
            self._pending[row.node_id] = [row]
        else:
            pending.append(row)

    def _to_batches(self, rows: Sequence[DetectionRow]) -> list[DetectionBatch | BearingBatch]:
        """Convert a delivery node by node (one array call each), then cut it into scans.

        A batch holds one node's reports of one timestamp; batches come out in time order.
        Reports that locate something (a position, or range and bearing) make
        :class:`DetectionBatch` es; angle-only reports (no range) make :class:`BearingBatch` es.
        """
        by_node: dict[str, list[DetectionRow]] = {}
        for row in rows:
            by_node.setdefault(row.node_id, []).append(row)
        out: list[tuple[float, int, DetectionBatch | BearingBatch]] = []
        for node_id, node_rows in by_node.items():
            angle_only = [r for r in node_rows if r.kind == "range_bearing" and math.isnan(r.c)]
            located = [r for r in node_rows if not (r.kind == "range_bearing" and math.isnan(r.c))]
            batches: list[tuple[float, DetectionBatch | BearingBatch]] = []
            node = self.nodes.get(node_id)
            if node is None:  # forgotten from a full table meanwhile: nothing to place them by
                for _ in node_rows:
                    self._reject(SapientError("SapientMessage.node_id", "node forgotten"))
                continue
            if located:
                batches.extend(self._convert(node, located))
            if angle_only:
                batches.extend(self._bearings(node, angle_only))
            for t, batch in batches:
                out.append((t, len(out), batch))
        out.sort(key=lambda item: (item[0], item[1]))
        return [batch for _, _, batch in out]

    def _convert(
        self, node: NodeState, rows: list[DetectionRow]
    ) -> list[tuple[float, DetectionBatch]]:
        """ENU positions and covariances of one node's reports, split into per-scan batches."""
        n = len(rows)
        t = np.fromiter((row.t_s for row in rows), float, n)
        # columns: a, b, c, err_a, err_b, err_c, coordinate system
        num = np.array([row[4:11] for row in rows], dtype=float).reshape(n, 7)
        rb = np.fromiter((row.kind == "range_bearing" for row in rows), bool, n)
        z = np.zeros((n, 3))
        cov = np.zeros((n, 3, 3))
        datum = np.fromiter((row.datum for row in rows), float, n)
        aer_std = np.zeros((n, 3))
        # Off-the-map inputs give NaN here; they are caught just below, so no warnings.
        with np.errstate(invalid="ignore", over="ignore"):
            if rb.any():
                z[rb], cov[rb], aer_std[rb] = self._convert_range_bearing(node, num[rb], datum[rb])
            if not rb.all():
                zones = [row.utm_zone for row in rows if row.kind != "range_bearing"]
                z[~rb], cov[~rb] = self._convert_location(num[~rb], datum[~rb], zones)
        finite = np.isfinite(z).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
        if not finite.all():
            # A value that passed the ICD's ranges can still fall off the map (an easting of
            # 1e30 in UTM): such a report is rejected here, not fed to the tracker.
            for _ in range(int((~finite).sum())):
                self._reject(
                    SapientError("SapientMessage.detection_report", "position not placeable")
                )
            keep = np.flatnonzero(finite)
            rows = [rows[i] for i in keep]
            t, z, cov, n = t[keep], z[keep], cov[keep], keep.size
            rb, aer_std, num = rb[keep], aer_std[keep], num[keep]
            if n == 0:
                return []
        loglik = _class_loglik(rows)
        emitters = _emitters(rows)
        rdot, rdot_std = _range_rates(rows)
        extra = tuple({"object_id": row.object_id, "node_id": row.node_id} for row in rows)
        # Radar-space plots: range, azimuth and elevation all measured, not straight overhead.
        in_space = rb & np.isfinite(num[:, 1])
        polar, polar_cov, sensor_enu = self._radar_space(node, z, in_space, aer_std)
        if sensor_enu is not None:
            in_space &= np.hypot(z[:, 0] - sensor_enu[0], z[:, 1] - sensor_enu[1]) > 1.0
        out = []
        for idx in _looks(t, node, z):
            t0 = float(t[idx].max())
            # A scan of nothing but range/bearing plots also goes to the tracker as the radar
            # measured it, for an EKF update in (az, el, r) rather than in the conversion.
            own = polar is not None and bool(in_space[idx].all())
            look_polar = polar[idx] if own and polar is not None else None
            look_cov = polar_cov[idx] if own and polar_cov is not None else None
            if look_polar is not None and look_cov is not None and np.isfinite(rdot[idx]).all():
                # Every plot of the look measured its range rate: (az, el, r, ṙ) for the EKF.
                look_polar = np.column_stack([look_polar, rdot[idx]])
                cov4 = np.zeros((idx.size, 4, 4))
                cov4[:, :3, :3] = look_cov
                cov4[:, 3, 3] = rdot_std[idx] ** 2
                look_cov = cov4
            batch = DetectionBatch(
                sensor_id=self.sensor_id,
                t_s=t[idx],
                z=z[idx],
                R=cov[idx],
                class_loglik=loglik[idx],
                extra=tuple(extra[i] for i in idx),
                polar=look_polar,
                polar_cov=look_cov,
                sensor_enu_m=sensor_enu if own else None,
                coverage_range_m=node.max_range_m if own else math.inf,
                emitter=tuple(emitters[i] for i in idx) if emitters else (),
            )
            out.append((t0, batch))
        return out
