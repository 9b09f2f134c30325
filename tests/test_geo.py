import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from luchtwacht.geo import SiteOrigin, aer_covariance_to_enu

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)


@pytest.mark.parametrize(
    "enu", [(0.0, 0.0, 0.0), (1000.0, -2000.0, 150.0), (-9500.0, 3500.0, 1500.0)]
)
def test_enu_geodetic_round_trip_scalar(enu):
    geo = ORIGIN.to_geodetic(np.array(enu))
    back = ORIGIN.to_enu(*geo)
    np.testing.assert_allclose(back, enu, atol=1e-6)


def test_enu_geodetic_round_trip_array():
    rng = np.random.default_rng(1)
    enu = rng.uniform(-10_000, 10_000, (100, 3))
    geo = ORIGIN.to_geodetic(enu)
    np.testing.assert_allclose(ORIGIN.to_enu(geo[:, 0], geo[:, 1], geo[:, 2]), enu, atol=1e-5)


def test_origin_maps_to_zero_and_north_is_positive_n():
    np.testing.assert_allclose(ORIGIN.to_enu(51.6564, 5.7087, 65.0), [0, 0, 0], atol=1e-9)
    north = ORIGIN.to_enu(51.6564 + 0.01, 5.7087, 65.0)
    assert north[1] == pytest.approx(1112.0, rel=2e-3) and abs(north[0]) < 1e-6


@given(az=st.floats(0, 359.9), el=st.floats(-5, 80), rng=st.floats(50, 20_000))
def test_aer_round_trip_from_offset_sensor(az, el, rng):
    # pymap3d zeroes ENU components under 1 mm before taking angles, so compare in metres.
    sensor = (51.655, 5.705, 75.0)
    enu = ORIGIN.aer_to_enu(az, el, rng, *sensor)
    aer = ORIGIN.enu_to_aer(enu, *sensor)
    assert aer[2] == pytest.approx(rng, abs=1e-3)
    again = ORIGIN.aer_to_enu(aer[0], aer[1], aer[2], *sensor)
    np.testing.assert_allclose(again, enu, atol=5e-3)


def test_aer_covariance_matches_monte_carlo():
    rng = np.random.default_rng(3)
    az, el, r = 37.0, 12.0, 3000.0
    sa, se, sr = 0.3, 0.5, 5.0
    n = 200_000
    a = np.radians(az + rng.normal(0, sa, n))
    e = np.radians(el + rng.normal(0, se, n))
    rr = r + rng.normal(0, sr, n)
    pts = np.stack([rr * np.cos(e) * np.sin(a), rr * np.cos(e) * np.cos(a), rr * np.sin(e)], axis=1)
    mc = np.cov(pts.T)
    lin = aer_covariance_to_enu(az, el, r, sa, se, sr)[0]
    np.testing.assert_allclose(lin, mc, rtol=0.03, atol=1.0)
    assert np.all(np.linalg.eigvalsh(lin) > 0)
