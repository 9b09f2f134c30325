import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from luchtwacht.geo.utm import geodetic_to_utm, utm_epsg, utm_to_geodetic


@pytest.mark.parametrize(
    ("zone", "epsg"),
    [("31U", 32631), ("30u", 32630), ("32", 32632), ("33C", 32733), ("1N", 32601), ("60X", 32660)],
)
def test_zone_names(zone, epsg):
    assert utm_epsg(zone) == epsg


@pytest.mark.parametrize("bad", ["", "0U", "61N", "31I", "U31", "31UU"])
def test_bad_zones_are_refused(bad):
    with pytest.raises(ValueError, match="UTM zone"):
        utm_epsg(bad)


def test_known_point_volkel():
    # Volkel runway midpoint, 51.6564 N 5.7087 E, lies in zone 31U at about E 687.5 km, N 5725.9 km.
    e, n = geodetic_to_utm(51.6564, 5.7087, "31U")
    assert float(e) == pytest.approx(687_500, abs=1_000)
    assert float(n) == pytest.approx(5_725_900, abs=1_000)
    lat, lon = utm_to_geodetic(e, n, "31U")
    assert (float(lat), float(lon)) == pytest.approx((51.6564, 5.7087), abs=1e-9)


@given(lat=st.floats(-79.0, 83.0), lon=st.floats(-2.99, 2.99))
def test_round_trip_in_zone_31(lat, lon):
    zone = "31N" if lat >= 0 else "31M"
    e, n = geodetic_to_utm(lat, lon + 3.0, zone)
    lat2, lon2 = utm_to_geodetic(e, n, zone)
    np.testing.assert_allclose([lat2, lon2], [lat, lon + 3.0], atol=1e-8)
