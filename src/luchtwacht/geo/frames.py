"""Frames used inside Luchtwacht: a local East-North-Up frame (metres) around a WGS84 site origin.

Every stage after ingest works in this ENU frame; conversions go through pymap3d so that the
ellipsoid maths is the field's, not ours. All functions accept scalars or numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymap3d
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SiteOrigin:
    """WGS84 origin of the local ENU frame: lat/lon in degrees, ellipsoidal height in metres."""

    lat_deg: float
    lon_deg: float
    alt_m: float

    def to_enu(self, lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> F64:
        """Geodetic (deg, deg, m) → ENU metres, shape (..., 3)."""
        e, n, u = pymap3d.geodetic2enu(
            np.asarray(lat_deg, dtype=float),
            np.asarray(lon_deg, dtype=float),
            np.asarray(alt_m, dtype=float),
            self.lat_deg,
            self.lon_deg,
            self.alt_m,
        )
        return np.stack([np.asarray(e), np.asarray(n), np.asarray(u)], axis=-1).astype(float)

    def to_geodetic(self, enu_m: ArrayLike) -> F64:
        """ENU metres (..., 3) → geodetic (lat deg, lon deg, alt m), shape (..., 3)."""
        enu = np.asarray(enu_m, dtype=float)
        lat, lon, alt = pymap3d.enu2geodetic(
            enu[..., 0], enu[..., 1], enu[..., 2], self.lat_deg, self.lon_deg, self.alt_m
        )
        return np.stack([np.asarray(lat), np.asarray(lon), np.asarray(alt)], axis=-1).astype(float)

    def aer_to_enu(
        self,
        az_deg: ArrayLike,
        el_deg: ArrayLike,
        range_m: ArrayLike,
        sensor_lat_deg: float,
        sensor_lon_deg: float,
        sensor_alt_m: float,
    ) -> F64:
        """Sensor-relative azimuth/elevation (deg, true north), slant range (m) → site ENU (..., 3).

        Goes through ECEF so a sensor kilometres from the origin is placed exactly.
        """
        x, y, z = pymap3d.aer2ecef(
            np.asarray(az_deg, dtype=float),
            np.asarray(el_deg, dtype=float),
            np.asarray(range_m, dtype=float),
            sensor_lat_deg,
            sensor_lon_deg,
            sensor_alt_m,
        )
        e, n, u = pymap3d.ecef2enu(x, y, z, self.lat_deg, self.lon_deg, self.alt_m)
        return np.stack([np.asarray(e), np.asarray(n), np.asarray(u)], axis=-1).astype(float)

    def enu_to_aer(
        self,
        enu_m: ArrayLike,
        sensor_lat_deg: float,
        sensor_lon_deg: float,
        sensor_alt_m: float,
    ) -> F64:
        """Site ENU (..., 3) → azimuth, elevation (deg) and slant range (m) seen from a sensor."""
        enu = np.asarray(enu_m, dtype=float)
        x, y, z = pymap3d.enu2ecef(
            enu[..., 0], enu[..., 1], enu[..., 2], self.lat_deg, self.lon_deg, self.alt_m
        )
        az, el, rng = pymap3d.ecef2aer(x, y, z, sensor_lat_deg, sensor_lon_deg, sensor_alt_m)
        return np.stack([np.asarray(az), np.asarray(el), np.asarray(rng)], axis=-1).astype(float)


def aer_covariance_to_enu(
    az_deg: ArrayLike,
    el_deg: ArrayLike,
    range_m: ArrayLike,
    az_std_deg: ArrayLike,
    el_std_deg: ArrayLike,
    range_std_m: ArrayLike,
) -> F64:
    """Covariance (n, 3, 3) in ENU of a spherical measurement, by first-order linearisation.

    This is the "converted measurement" covariance J·diag(σ²)·Jᵀ with J = ∂(e,n,u)/∂(az,el,r),
    evaluated at the measurement (Bar-Shalom, Li & Kirubarajan, 2001, §10.4). The rotation between
    the sensor's own ENU and the site's ENU (< 0.1° within 10 km) is neglected.
    """
    az = np.radians(np.atleast_1d(np.asarray(az_deg, dtype=float)))
    el = np.radians(np.atleast_1d(np.asarray(el_deg, dtype=float)))
    r = np.atleast_1d(np.asarray(range_m, dtype=float))
    saz, caz, sel, cel = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    n = az.shape[0]
    jac = np.empty((n, 3, 3))
    # e = r cos(el) sin(az); n = r cos(el) cos(az); u = r sin(el)
    jac[:, 0, 0] = r * cel * caz
    jac[:, 0, 1] = -r * sel * saz
    jac[:, 0, 2] = cel * saz
    jac[:, 1, 0] = -r * cel * saz
    jac[:, 1, 1] = -r * sel * caz
    jac[:, 1, 2] = cel * caz
    jac[:, 2, 0] = 0.0
    jac[:, 2, 1] = r * cel
    jac[:, 2, 2] = sel
    var = np.zeros((n, 3, 3))
    var[:, 0, 0] = np.radians(np.broadcast_to(np.asarray(az_std_deg, dtype=float), (n,))) ** 2
    var[:, 1, 1] = np.radians(np.broadcast_to(np.asarray(el_std_deg, dtype=float), (n,))) ** 2
    var[:, 2, 2] = np.broadcast_to(np.asarray(range_std_m, dtype=float), (n,)) ** 2
    cov: F64 = jac @ var @ np.swapaxes(jac, 1, 2)
    return cov
