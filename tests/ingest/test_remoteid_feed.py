import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest import remoteid as rid
from luchtwacht.ingest.remoteid_feed import RemoteIdPipe, _measurement_time

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)


def line(payload: bytes, **over):
    rec = {
        "time": "2026-06-12T21:30:10.020Z",
        "receiver": "rx",
        "transport": "bt4-legacy",
        "mac": "60:60:1f:a3:5c:21",
        "rssi_dbm": -70.0,
        "payload": payload.hex(),
    }
    rec.update(over)
    return (json.dumps(rec) + "\n").encode()


def location(lat=51.67, lon=5.70, alt=125.0):
    return rid.encode_location(
        status=rid.Status.AIRBORNE, lat=lat, lon=lon, alt_geo_m=alt, speed_ms=5.0, track_direction_deg=90.0,
        horizontal_accuracy=rid.HorizontalAccuracy.M_3, vertical_accuracy=rid.VerticalAccuracy.M_10,
        timestamp_s=1810.0,
    )  # fmt: skip


def test_location_becomes_a_cooperative_detection_keyed_by_uas_id():
    pipe = RemoteIdPipe("rx", ORIGIN)
    basic = rid.encode_basic_id(
        rid.IdType.SERIAL_NUMBER, rid.UaType.HELICOPTER_OR_MULTIROTOR, "1581F5FJD229V00QZ7"
    )
    system = rid.encode_system(
        operator_lat=51.668,
        operator_lon=5.699,
        operator_location_type=rid.OperatorLocationType.LIVE_GNSS,
    )
    assert pipe.feed(line(rid.encode_ble_advertising(basic, 1))) == []
    assert pipe.feed(line(rid.encode_ble_advertising(system, 1))) == []
    (batch,) = pipe.feed(line(rid.encode_ble_advertising(location(), 2)))
    assert batch.ident == ("1581F5FJD229V00QZ7",) and not batch.counts_misses
    np.testing.assert_allclose(batch.z[0], ORIGIN.to_enu(51.67, 5.70, 125.0), atol=0.05)
    np.testing.assert_allclose(np.sqrt(np.diag(batch.R[0])), [1.5, 1.5, 5.0])  # 95 % bounds / 2
    # the fix is stamped 1810.0 s after the hour (21:30:10.0), not at reception
    assert batch.t_s[0] % 3600 == pytest.approx(1810.0)
    tx = pipe.transmitters["60:60:1f:a3:5c:21"]
    assert (tx.operator_lat, tx.operator_lon) == pytest.approx((51.668, 5.699))


def test_bad_lines_are_rejected_naming_the_field_and_feed_continues():
    pipe = RemoteIdPipe("rx", ORIGIN)
    good = line(rid.encode_ble_advertising(location(), 0))
    bad = [
        b"{not json\n",
        line(b"", time="yesterday"),
        line(b"", mac="xx"),
        line(b"\x02\x01\x06"),  # advertising data without Open Drone ID
        line(rid.encode_ble_advertising(location(), 0), transport="carrier-pigeon"),
        json.dumps(
            {
                "time": "2026-06-12T21:30:10Z",
                "mac": "60:60:1f:a3:5c:21",
                "transport": "bt4-legacy",
                "payload": "zz",
            }
        ).encode()
        + b"\n",
    ]
    out = pipe.feed(b"".join(bad) + good)
    assert len(out) == 1 and pipe.counters.rejected == len(bad)
    fields = " ".join(pipe.counters.rejected_by_reason)
    for name in ("json", "time", "mac", "adv_data", "transport", "payload"):
        assert name in fields


def test_lines_split_across_chunks():
    pipe = RemoteIdPipe("rx", ORIGIN)
    data = line(rid.encode_ble_advertising(location(), 0)) * 3
    out = []
    for i in range(0, len(data), 17):
        out += pipe.feed(data[i : i + 17])
    assert len(out) == 3 and pipe.counters.rejected == 0


def test_measurement_time_wraps_over_the_hour():
    hour = 1_781_298_000.0  # a whole hour
    assert _measurement_time(hour + 1.0, 3599.5) == pytest.approx(hour - 0.5)
    assert _measurement_time(hour + 3599.0, 0.5) == pytest.approx(hour + 3600.5)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_feed_never_raises(data):
    pipe = RemoteIdPipe("rx", ORIGIN)
    pipe.feed(data + b"\n")
    pipe.feed(line(data))


def test_deeply_nested_json_is_rejected_not_raised():
    pipe = RemoteIdPipe("rx", ORIGIN)
    assert pipe.feed(b"[" * 5000 + b"\n") == []
    assert pipe.counters.rejected == 1


def test_barometric_altitude_is_lifted_by_the_geoid_undulation():
    pipe = RemoteIdPipe("rx", ORIGIN, geoid_undulation_m=43.0)
    baro = rid.encode_location(lat=51.67, lon=5.70, alt_baro_m=150.0, timestamp_s=1810.0)
    (batch,) = pipe.feed(line(rid.encode_ble_advertising(baro, 0)))
    np.testing.assert_allclose(batch.z[0], ORIGIN.to_enu(51.67, 5.70, 193.0), atol=0.05)
