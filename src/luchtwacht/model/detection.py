"""Detection batches: what ingest hands the tracker — one sensor's reports as arrays.

A batch is the unit of work of the tracker: n detections from one sensor, all in the site ENU
frame, with per-detection covariance, time and the attributes the identification stage needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray


class ObjectClass(IntEnum):
    """Classes of the air picture; the index is the column in class-evidence arrays."""

    DRONE = 0
    BIRD = 1
    AIRCRAFT = 2
    CLUTTER = 3

    @property
    def label(self) -> str:
        """Lower-case name used in summaries, the store and the console."""
        return self.name.lower()


N_CLASSES = len(ObjectClass)


@dataclass(frozen=True, slots=True)
class RfEmitter:
    """What an RF detector read from a drone's radio link: its protocol and decoded serial.

    The serial is the one the link carries (DJI DroneID, for one). Not a cooperative identity:
    a drone that can be fingerprinted is identified, not compliant.
    """

    protocol: str | None = None
    serial: str | None = None
    band_mhz: tuple[float, float] | None = None  # the link's band as the detector measured it
    # The model the detector's fingerprint names (its SAPIENT classification sub-class, e.g.
    # "DJI Mavic 3"), and the sensor that named it (its registered name).
    sub_class: str | None = None
    sub_class_by: str | None = None
    # The link's ground end: the detector heard the controller's uplink, not the drone (a
    # SAPIENT class such as "Controller"). Such a bearing locates the pilot, never a track.
    controller: bool = False


@dataclass(frozen=True, slots=True)
class DetectionBatch:
    """n detections of one sensor (ENU metres, UTC seconds) ready for the tracker.

    ``class_loglik`` holds, per detection, the log-likelihood of the sensor's own class report
    under each true class (zeros when the sensor gave none); ``ident`` carries cooperative
    identities (Remote ID UAS ID, ICAO address) or ``None``.
    """

    sensor_id: str
    t_s: NDArray[np.float64]  # (n,)
    z: NDArray[np.float64]  # (n, 3) ENU position, m
    R: NDArray[np.float64]  # (n, 3, 3) covariance, m²
    class_loglik: NDArray[np.float64]  # (n, N_CLASSES)
    ident: tuple[str | None, ...] = ()
    counts_misses: bool = True
    extra: tuple[dict[str, object], ...] = field(default=())
    emitter: tuple[RfEmitter | None, ...] = ()  # per detection: the radio link read, if any
    scan_t_s: float = float("nan")  # time of an empty scan (a batch with no detections)
    # What the sensor promises, for track quality: its detection probability and its false
    # alarm density (per m³ of ENU measurement space). NaN: the tracker's defaults apply.
    pd: float = float("nan")
    clutter_density_m3: float = float("nan")
    # A radar's own measurement, for trackers that update in it (EKF) rather than in the ENU
    # conversion above: (azimuth, elevation, range[, range rate]) per detection in radians,
    # metres and m/s (azimuth clockwise from true north), its covariance, and the radar's ENU
    # position. None: the sensor measures position (or only the conversion is known).
    polar: NDArray[np.float64] | None = None  # (n, 3) or (n, 4)
    polar_cov: NDArray[np.float64] | None = None  # (n, m, m)
    sensor_enu_m: NDArray[np.float64] | None = None  # (3,)
    # A radar's false alarms per unit of that measurement space (rad²·m, times m/s with range
    # rate): CFAR keeps it constant per resolution cell, so it is flat in (az, el, r), not in m³.
    clutter_density_polar: float = float("nan")
    # How far the sensor sees (its stated maximum range, from ``sensor_enu_m``): a track beyond
    # it is not missed by this sensor. Infinite: coverage unknown.
    coverage_range_m: float = float("inf")

    def __post_init__(self) -> None:
        n = self.z.shape[0]
        if self.z.shape != (n, 3) or self.R.shape != (n, 3, 3) or self.t_s.shape != (n,):
            raise ValueError(f"inconsistent batch shapes z={self.z.shape} R={self.R.shape}")
        if self.polar is not None:
            m = self.polar.shape[1] if self.polar.ndim == 2 else -1
            if (
                m not in (3, 4)
                or self.polar.shape[0] != n
                or self.polar_cov is None
                or self.polar_cov.shape != (n, m, m)
                or self.sensor_enu_m is None
                or self.sensor_enu_m.shape != (3,)
            ):
                raise ValueError(
                    "polar needs shape (n, 3|4) with polar_cov (n, m, m) and sensor_enu_m (3,)"
                )
        if self.class_loglik.shape != (n, N_CLASSES):
            raise ValueError(f"class_loglik must be ({n}, {N_CLASSES})")
        if self.ident and len(self.ident) != n:
            raise ValueError("ident must be empty or one entry per detection")
        if self.emitter and len(self.emitter) != n:
            raise ValueError("emitter must be empty or one entry per detection")

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @property
    def time_s(self) -> float:
        """Representative time of the batch: its latest detection, or the scan time if empty."""
        return float(self.t_s.max()) if len(self) else self.scan_t_s


@dataclass(frozen=True, slots=True)
class BearingBatch:
    """n angle-only detections of one sensor (RF detector, acoustic array, camera) at one time.

    Angles in radians: azimuth clockwise from true north, elevation above the horizontal (NaN
    where the sensor gives none). The sensor stands still at ``sensor_enu_m`` in the site frame.
    """

    sensor_id: str
    sensor_enu_m: NDArray[np.float64]  # (3,)
    t_s: float
    azimuth_rad: NDArray[np.float64]  # (n,)
    azimuth_std_rad: NDArray[np.float64]  # (n,)
    elevation_rad: NDArray[np.float64]  # (n,), NaN: no elevation
    elevation_std_rad: NDArray[np.float64]  # (n,)
    class_loglik: NDArray[np.float64]  # (n, N_CLASSES)
    ident: tuple[str | None, ...] = ()
    counts_misses: bool = True
    pd: float = float("nan")
    clutter_density_m3: float = float("nan")  # unused for bearings; kept for the common protocol
    coverage_range_m: float = float("inf")  # the sensor's reach: no miss is charged beyond it
    emitter: tuple[RfEmitter | None, ...] = ()  # per detection: the radio link read, if any

    def __len__(self) -> int:
        return int(self.azimuth_rad.shape[0])

    @property
    def time_s(self) -> float:
        """The batch time."""
        return self.t_s


def class_report_loglik(
    labels: list[ObjectClass | None], confidence: NDArray[np.float64], reliability: float = 0.85
) -> NDArray[np.float64]:
    """Log-likelihood rows for class reports "label with confidence q".

    Symmetric confusion model: P(report=c | true=k) = q if c == k else (1 - q)/(K - 1), with q
    capped at the sensor's ``reliability`` (a classifier's self-reported confidence is rarely
    calibrated; one report must not outweigh the scene). Rows of zeros (no information) where
    the label is ``None``.
    """
    n = len(labels)
    out = np.zeros((n, N_CLASSES))
    idx = np.fromiter((-1 if lab is None else int(lab) for lab in labels), dtype=np.int64, count=n)
    rows = np.flatnonzero(idx >= 0)
    if rows.size == 0:
        return out
    q = np.clip(np.asarray(confidence, dtype=float)[rows], 1.0 / N_CLASSES, reliability)
    # Normalised so the reported class scores 0 and every other class log((1-q)/((K-1)q)) < 0.
    out[rows] = (np.log((1.0 - q) / (N_CLASSES - 1)) - np.log(q))[:, None]
    out[rows, idx[rows]] = 0.0
    return out
