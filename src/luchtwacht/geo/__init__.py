"""Geodesy: WGS84 ↔ local ENU around the site origin, radar spherical ↔ ENU (pymap3d)."""

from luchtwacht.geo.frames import SiteOrigin, aer_covariance_to_enu

__all__ = ["SiteOrigin", "aer_covariance_to_enu"]
