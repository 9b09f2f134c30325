"""ASTERIX CAT048/CAT034 decoding and the AsterixPipe.

Test records are ENCODED with libasterix (the same library the decoder uses, but its
encoder/unparse path), plus one record built byte by byte from the CAT048 item layout so the
decoding is checked against the specification independently of the library's encoder.
"""

import math

import asterix.generated as gen
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luchtwacht.geo import SiteOrigin
from luchtwacht.ingest.asterix import (
    AsterixError,
    AsterixPipe,
    Cat034Message,
    Cat034MessageType,
    Cat048Plot,
    RadarSite,
    decode_datagram,
    elevation_from_altitude,
    iter_blocks,
    iter_records,
    resolve_time_of_day,
)
from luchtwacht.ingest.feed import FeedPipe

C48 = gen.Cat_048_1_32
C34 = gen.Cat_034_1_29

ORIGIN = SiteOrigin(51.6564, 5.7087, 65.0)
RADAR_KEY = (25, 10)
RADAR = RadarSite(lat_deg=51.70, lon_deg=5.65, alt_m=80.0, geoid_undulation_m=45.0)
DAY0 = 1_781_222_400.0  # 2026-06-12 00:00:00 UTC
T_NOON = DAY0 + 43_200.5


# ---------------------------------------------------------------------------------------------
# Encoding helpers (libasterix encoder)


def plot_record(
    sac=25,
    sic=10,
    tod=43200.5,
    rho_nm=12.5,
    theta_deg=45.0,
    fl=350.0,
    typ=1,
    tst=None,
    height_ft=None,
    full=False,
):
    items: C48.cv_record.cv_arg = {
        "010": (("SAC", sac), ("SIC", sic)),
        "140": (tod, "s"),
        "020": (
            ((("TYP", typ), 0, 0, 0, 0, None),)
            if tst is None
            else ((("TYP", typ), 0, 0, 0, 0, None), (("TST", tst), 0, 0, 0, 0, 0, None))
        ),
        "040": (("RHO", (rho_nm, "NM")), ("THETA", (theta_deg, "°"))),
    }
    if fl is not None:
        items["090"] = (("V", 0), ("G", 0), ("FL", (fl, "FL")))
    if height_ft is not None:
        items["110"] = (0, ("3DH", (height_ft, "ft")))
    if full:
        items["070"] = (0, 0, 0, 0, ("MODE3A", "7777"))
        items["130"] = {
            "SRL": (0.5712890625, "°"),  # 13 LSB of 360/2^13
            "SRR": 4,
            "SAM": (-73.0, "dBm"),
            "PRL": (0.439453125, "°"),  # 10 LSB
            "PAM": (-12.0, "dBm"),
            "RPD": (0.015625, "NM"),  # 4 LSB of 1/256 NM
            "APD": (-0.0439453125, "°"),  # -2 LSB of 360/2^14
        }
        items["220"] = 0x3C660C
        items["240"] = "DLH65A  "
        items["161"] = (0, ("TRN", 3563))
        items["042"] = (("X", (1.0, "NM")), ("Y", (-2.5, "NM")))
        items["200"] = (("GSP", (0.0625, "NM/s")), ("HDG", (90.0, "°")))
    return C48.cv_record.create(items)


def block48(*records) -> bytes:
    return C48.create(list(records)).unparse().to_bytes()


def service(kind: int, sac=25, sic=10, tod=43200.0, sector_deg=None, period_s=None) -> bytes:
    items: C34.cv_record.cv_arg = {
        "000": kind,
        "010": (("SAC", sac), ("SIC", sic)),
        "030": (tod, "s"),
    }
    if sector_deg is not None:
        items["020"] = (sector_deg, "°")
    if period_s is not None:
        items["041"] = (period_s, "s")
    return C34.create([C34.cv_record.create(items)]).unparse().to_bytes()


def north(tod, **kw) -> bytes:
    return service(1, tod=tod, **kw)


def sector(tod, deg, **kw) -> bytes:
    return service(2, tod=tod, sector_deg=deg, **kw)


# ---------------------------------------------------------------------------------------------
# Decoding


def test_plot_round_trip_every_item_in_si_units():
    (plot,) = decode_datagram(block48(plot_record(full=True, height_ft=1000.0)))
    assert isinstance(plot, Cat048Plot)
    assert plot.source == (25, 10)
    assert plot.time_of_day_s == 43200.5
    assert plot.rho_m == pytest.approx(12.5 * 1852.0)  # 23150 m
    assert plot.rho_m == pytest.approx(23150.0)
    assert plot.theta_deg == pytest.approx(45.0)
    assert plot.flight_level is not None
    assert plot.flight_level.fl == 350.0
    assert plot.flight_level.pressure_altitude_m == pytest.approx(10668.0)
    assert plot.flight_level.validated and not plot.flight_level.garbled
    assert plot.descriptor is not None
    assert plot.descriptor.typ == 1 and plot.descriptor.has_psr
    assert not plot.descriptor.sim and plot.descriptor.tst is None
    assert plot.mode3a is not None and plot.mode3a.code == "7777" and plot.mode3a.validated
    pc = plot.plot_characteristics
    assert pc is not None
    assert pc.ssr_runlength_deg == pytest.approx(0.5712890625)
    assert pc.ssr_replies == 4
    assert pc.ssr_amplitude_dbm == -73.0
    assert pc.psr_runlength_deg == pytest.approx(0.439453125)
    assert pc.psr_amplitude_dbm == -12.0
    assert pc.psr_ssr_range_diff_m == pytest.approx(0.015625 * 1852.0)
    assert pc.psr_ssr_azimuth_diff_deg == pytest.approx(-0.0439453125)
    assert plot.aircraft_address == 0x3C660C
    assert plot.aircraft_id == "DLH65A"
    assert plot.track_number == 3563
    assert plot.x_m == pytest.approx(1852.0)
    assert plot.y_m == pytest.approx(-2.5 * 1852.0)
    assert plot.ground_speed_mps == pytest.approx(0.0625 * 1852.0)  # 115.75 m/s
    assert plot.heading_deg == pytest.approx(90.0)
    assert plot.height_3d_m == pytest.approx(304.8)
    js = plot.to_json()
    assert js["category"] == 48 and js["aircraft_address"] == "3C660C"
    assert js["flight_level"]["pressure_altitude_m"] == pytest.approx(10668.0)  # type: ignore[index]


def test_hand_built_record_matches_the_specification_layout():
    data = bytes(
        [
            0x30,  # CAT = 48
            0x00, 0x10,  # LEN = 16 octets, header included
            0xF4,  # FSPEC 1111 0100: FRN1 I010, FRN2 I140, FRN3 I020, FRN4 I040, FRN6 I090; FX 0
            0x19, 0x0A,  # I048/010 SAC 25, SIC 10
            0x54, 0x60, 0x40,  # I048/140 5529664 × 1/128 s = 43200.5 s
            0x20,  # I048/020 TYP 001 (single PSR), SIM 0, RDP 0, SPI 0, RAB 0, FX 0
            0x0C, 0x80,  # I048/040 RHO 3200 × 1/256 NM = 12.5 NM
            0x20, 0x00,  # I048/040 THETA 8192 × 360/2^16 ° = 45°
            0x05, 0x78,  # I048/090 V 0, G 0, FL 1400 × 1/4 = 350
        ]
    )  # fmt: skip
    (plot,) = decode_datagram(data)
    assert isinstance(plot, Cat048Plot)
    assert (plot.sac, plot.sic) == (25, 10)
    assert plot.time_of_day_s == 43200.5
    assert plot.rho_m == pytest.approx(23150.0)
    assert plot.theta_deg == 45.0
    assert plot.flight_level is not None and plot.flight_level.pressure_altitude_m == pytest.approx(
        10668.0
    )
    assert plot.descriptor is not None and plot.descriptor.typ == 1
    assert plot.mode3a is None and plot.height_3d_m is None and plot.track_number is None
    # ... and the library's encoder produces these very bytes.
    assert block48(plot_record()) == data


def test_multi_record_block_and_multi_block_datagram_keep_order():
    first = block48(
        plot_record(theta_deg=10.0), plot_record(theta_deg=20.0), plot_record(theta_deg=30.0)
    )
    second = north(43201.0)
    third = block48(plot_record(sic=11, theta_deg=40.0), plot_record(sic=11, theta_deg=50.0))
    assert [cat for cat, _ in iter_blocks(first + second + third)] == [48, 34, 48]
    records = decode_datagram(first + second + third)
    assert [type(r).__name__ for r in records] == ["Cat048Plot"] * 3 + ["Cat034Message"] + [
        "Cat048Plot"
    ] * 2
    thetas = [r.theta_deg for r in records if isinstance(r, Cat048Plot)]
    assert thetas == pytest.approx([10.0, 20.0, 30.0, 40.0, 50.0], abs=360 / 2**16)
    assert [r.sic for r in records] == [10, 10, 10, 10, 11, 11]


def test_cat034_north_marker_and_sector_crossing():
    nm, sc = decode_datagram(north(3600.25, period_s=4.0) + sector(3601.5, 90.0))
    assert isinstance(nm, Cat034Message) and isinstance(sc, Cat034Message)
    assert nm.message_type == Cat034MessageType.NORTH_MARKER
    assert nm.message_name == "North marker message"
    assert nm.source == (25, 10)
    assert nm.time_of_day_s == 3600.25
    assert nm.antenna_rotation_period_s == 4.0
    assert nm.sector_azimuth_deg is None
    assert sc.message_type == Cat034MessageType.SECTOR_CROSSING
    assert sc.sector_azimuth_deg == pytest.approx(90.0)  # 64 × 1.40625°
    assert sc.time_of_day_s == 3601.5
    assert sc.to_json()["category"] == 34


def _error(data: bytes) -> AsterixError:
    with pytest.raises(AsterixError) as info:
        decode_datagram(data)
    return info.value


def test_truncated_datagram_names_the_length_field():
    data = block48(plot_record())
    exc = _error(data[:-1])
    assert exc.field == "datablock.LEN" and "truncated" in exc.rule
    assert _error(data[:2]).field == "datablock.LEN"


def test_length_field_shorter_than_header_is_rejected():
    exc = _error(bytes([0x30, 0x00, 0x02]))
    assert exc.field == "datablock.LEN" and "header" in exc.rule


def test_length_field_cutting_a_record_names_the_item():
    data = bytearray(block48(plot_record()))
    data[2] -= 3  # LEN now ends inside I048/040; the block is also followed by 3 stray bytes
    exc = _error(bytes(data[: data[2]]))
    assert exc.field == "I048/040"
    assert "truncated" in exc.rule


def test_unknown_category_is_rejected_and_later_blocks_still_decode():
    unknown = bytes([240, 0x00, 0x06, 0x80, 0x19, 0x0A])  # a CAT240 (video) block: not read
    exc = _error(unknown)
    assert exc.field == "datablock.CAT"
    assert exc.reason == "datablock.CAT: ASTERIX category 240 is not supported"
    items = list(iter_records(unknown + block48(plot_record())))
    assert isinstance(items[0], AsterixError)
    assert isinstance(items[1], Cat048Plot) and items[1].rho_m == pytest.approx(23150.0)


def test_record_without_data_source_is_rejected():
    rec = C48.cv_record.create({"040": (("RHO", (1.0, "NM")), ("THETA", (0.0, "°")))})
    assert _error(block48(rec)).field == "I048/010"


def test_fspec_longer_than_the_uap_is_named():
    # CAT048 ed. 1.32 has 28 items, so at most 4 FSPEC octets; here 5 (FX set on the first 4).
    data = bytes([0x30, 0x00, 0x08, 0x01, 0x01, 0x01, 0x01, 0x00])
    exc = _error(data)
    assert exc.field == "I048/FSPEC"


def test_time_of_day_resolves_to_the_nearest_day():
    assert resolve_time_of_day(43200.5, DAY0 + 43210.0) == DAY0 + 43200.5
    # Stamped just before midnight, received just after: previous day.
    assert resolve_time_of_day(86399.0, DAY0 + 1.0) == DAY0 - 1.0
    # Stamped just after midnight, received (clock slightly behind) just before: next day.
    assert resolve_time_of_day(0.5, DAY0 - 0.25) == DAY0 + 0.5


def test_elevation_from_altitude_reproduces_the_altitude():
    rng = np.array([5_000.0, 20_000.0, 60_000.0])
    alt = np.array([300.0, 3_000.0, 10_000.0])
    el = elevation_from_altitude(rng, alt, RADAR.alt_m, RADAR.lat_deg)
    enu = ORIGIN.aer_to_enu(np.zeros(3), el, rng, RADAR.lat_deg, RADAR.lon_deg, RADAR.alt_m)
    geo = ORIGIN.to_geodetic(enu)
    np.testing.assert_allclose(geo[:, 2], alt, atol=1.0)  # spherical vs ellipsoidal earth
    assert np.isnan(elevation_from_altitude(100.0, 5_000.0, 0.0, 52.0))
    assert elevation_from_altitude(100.0, 5_000.0, 0.0, 52.0, clip=True) == pytest.approx(90.0)


# ---------------------------------------------------------------------------------------------
# The pipe


def make_pipe(**kw) -> AsterixPipe:
    return AsterixPipe("radar-1", ORIGIN, {RADAR_KEY: RADAR}, **kw)


def test_pipe_is_a_feed_pipe():
    pipe: FeedPipe = make_pipe()
    assert pipe.flush() == []


def test_pipe_places_a_plot_at_the_right_enu_spot():
    pipe = make_pipe()
    (batch,) = pipe.feed(block48(plot_record()), t_rx_s=T_NOON + 0.8)
    assert len(batch) == 1 and batch.sensor_id == "radar-1"
    assert batch.t_s[0] == T_NOON
    # Independent check: seen from the radar, the point has the reported azimuth and slant
    # range, and its altitude is FL 350 (10668 m) plus the geoid undulation.
    az, el, rng = ORIGIN.enu_to_aer(batch.z[0], RADAR.lat_deg, RADAR.lon_deg, RADAR.alt_m)
    assert az == pytest.approx(45.0, abs=1e-6)
    assert rng == pytest.approx(23150.0, abs=1e-3)
    alt = ORIGIN.to_geodetic(batch.z[0])[2]
    assert alt == pytest.approx(10668.0 + 45.0, abs=1.0)
    expected = ORIGIN.aer_to_enu(45.0, el, 23150.0, RADAR.lat_deg, RADAR.lon_deg, RADAR.alt_m)
    np.testing.assert_allclose(batch.z[0], expected, atol=1e-6)
    # Covariance: symmetric, positive definite, σ along the line of sight = the range σ.
    cov = batch.R[0]
    np.testing.assert_allclose(cov, cov.T, atol=1e-6)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    los = np.array(
        [
            math.cos(math.radians(el)) * math.sin(math.radians(45.0)),
            math.cos(math.radians(el)) * math.cos(math.radians(45.0)),
            math.sin(math.radians(el)),
        ]
    )
    assert math.sqrt(los @ cov @ los) == pytest.approx(RADAR.range_sigma_m, rel=1e-6)
    assert batch.extra[0]["height_source"] == "flight_level"
    assert batch.class_loglik.shape == (1, 4) and not batch.class_loglik.any()
    assert batch.ident == ()
    assert pipe.counters.decoded == 1 and pipe.counters.by_kind["cat048_plot"] == 1


def test_pipe_prefers_3d_height_and_falls_back_to_default_height():
    pipe = make_pipe()
    data = block48(
        plot_record(rho_nm=2.0, fl=None, height_ft=1000.0),
        plot_record(rho_nm=2.0, fl=None),
    )
    (batch,) = pipe.feed(data, t_rx_s=T_NOON)
    alts = ORIGIN.to_geodetic(batch.z)[:, 2]
    assert alts[0] == pytest.approx(304.8 + 45.0, abs=0.5)
    assert alts[1] == pytest.approx(RADAR.alt_m + RADAR.default_height_m, abs=0.5)
    assert [e["height_source"] for e in batch.extra] == ["3d_radar", "default"]
    # The assumed height is far less certain than the measured one.
    assert batch.R[1, 2, 2] > 10 * batch.R[0, 2, 2]


def test_sector_crossings_and_north_markers_cut_batches_per_sector():
    pipe = make_pipe(batch_per="sector")
    assert pipe.feed(north(43199.0), t_rx_s=T_NOON) == []
    assert pipe.feed(block48(plot_record(tod=43199.5), plot_record(tod=43199.6)), T_NOON) == []
    (b1,) = pipe.feed(sector(43200.0, 90.0), t_rx_s=T_NOON)
    assert len(b1) == 2 and not b1.counts_misses
    np.testing.assert_allclose(b1.t_s, [DAY0 + 43199.5, DAY0 + 43199.6])
    assert pipe.feed(sector(43201.0, 180.0), t_rx_s=T_NOON) == []  # nothing held, nothing sent
    (b2,) = pipe.feed(block48(plot_record(tod=43201.5)) + north(43203.0), t_rx_s=T_NOON)
    assert len(b2) == 1
    status = pipe.status[RADAR_KEY]
    assert status.scans == 2 and status.rotation_period_s == pytest.approx(4.0)
    assert status.last_north_t_s == DAY0 + 43203.0
    assert pipe.counters.by_kind["cat034_north_marker"] == 2
    assert pipe.counters.by_kind["cat034_sector_crossing"] == 2


def test_revolution_batches_count_misses_and_empty_revolutions_are_reported():
    pipe = make_pipe(batch_per="revolution")
    assert pipe.feed(north(43196.0, period_s=4.0), t_rx_s=T_NOON) == []
    data = (
        block48(plot_record(tod=43197.0))
        + sector(43198.0, 180.0)
        + block48(plot_record(tod=43199.0))
    )
    assert pipe.feed(data, t_rx_s=T_NOON) == []  # a sector crossing does not end a revolution
    (full,) = pipe.feed(north(43200.0), t_rx_s=T_NOON)
    assert len(full) == 2 and full.counts_misses
    (empty,) = pipe.feed(north(43204.0), t_rx_s=T_NOON)
    assert len(empty) == 0 and empty.counts_misses and empty.time_s == DAY0 + 43204.0
    assert pipe.status[RADAR_KEY].rotation_period_s == 4.0  # as reported in I034/041


def test_radar_without_service_messages_gets_a_batch_per_datagram():
    pipe = make_pipe(batch_per="revolution")
    (b,) = pipe.feed(block48(plot_record(), plot_record(theta_deg=90.0)), t_rx_s=T_NOON)
    assert len(b) == 2 and pipe.flush() == []


def test_plots_held_are_released_by_flush():
    pipe = make_pipe()
    pipe.feed(north(43199.0), t_rx_s=T_NOON)
    assert pipe.feed(block48(plot_record()), t_rx_s=T_NOON) == []
    (b,) = pipe.flush()
    assert len(b) == 1 and pipe.flush() == []


def test_midnight_wrap_in_the_pipe():
    pipe = make_pipe()
    (b,) = pipe.feed(block48(plot_record(tod=86399.0)), t_rx_s=DAY0 + 1.0)
    assert b.t_s[0] == DAY0 - 1.0


def test_malformed_and_unknown_input_is_counted_by_field_and_the_feed_continues():
    pipe = make_pipe()
    good = block48(plot_record())
    stranger = block48(plot_record(sac=7, sic=7))
    out = []
    out += pipe.feed(stranger + good, t_rx_s=T_NOON)  # unknown SAC/SIC, then a good plot
    out += pipe.feed(good[:-2], t_rx_s=T_NOON)  # truncated
    out += pipe.feed(bytes([1, 0, 4, 0]) + good, t_rx_s=T_NOON)  # CAT001 (not read) first
    out += pipe.feed(block48(plot_record(tst=1)), t_rx_s=T_NOON)  # test target
    out += pipe.feed(block48(plot_record(rho_nm=1.0, fl=350.0)), t_rx_s=T_NOON)  # FL > range
    out += pipe.feed(north(43200.0, sac=9, sic=9), t_rx_s=T_NOON)
    out += pipe.feed(b"", t_rx_s=T_NOON)
    assert sum(len(b) for b in out) == 2  # the two good plots
    reasons = pipe.counters.rejected_by_reason
    assert reasons["I048/010: unknown SAC/SIC"] == 1
    assert reasons["I034/010: unknown SAC/SIC"] == 1
    assert reasons["datablock.LEN: exceeds the data (truncated)"] == 1
    assert reasons["datablock.CAT: ASTERIX category 1 is not supported"] == 1
    assert reasons["I048/020: test target report (TST)"] == 1
    assert reasons["I048/090: height not reachable at this slant range"] == 1
    assert pipe.counters.rejected == 6
    assert pipe.counters.decoded == 2


def test_test_targets_pass_when_asked():
    pipe = make_pipe(accept_test_targets=True)
    (b,) = pipe.feed(block48(plot_record(tst=1)), t_rx_s=T_NOON)
    assert len(b) == 1


# ---------------------------------------------------------------------------------------------
# Fuzzing: arbitrary bytes never crash or hang the decoder or the pipe

_FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def _structured() -> st.SearchStrategy[bytes]:
    """Plausible headers (CAT 48/34, a length near the body's) over random bodies."""
    return st.builds(
        lambda cat, body, delta: (
            bytes([cat]) + max(len(body) + 3 + delta, 0).to_bytes(2, "big") + body
        ),
        st.sampled_from([48, 34]),
        st.binary(max_size=80),
        st.integers(-2, 2),
    )


@_FUZZ
@given(st.one_of(st.binary(max_size=200), _structured()))
def test_decode_datagram_raises_only_asterix_error(data):
    items = list(iter_records(data))  # the lenient form never raises
    errors = [i for i in items if isinstance(i, AsterixError)]
    if errors:
        with pytest.raises(AsterixError) as info:
            decode_datagram(data)
        assert info.value.field == errors[0].field
    else:
        assert decode_datagram(data) == items


@_FUZZ
@given(st.lists(st.one_of(st.binary(max_size=120), _structured()), max_size=4))
def test_pipe_never_raises(chunks):
    pipe = make_pipe()
    for chunk in chunks:
        assert isinstance(pipe.feed(chunk, t_rx_s=T_NOON), list)
    assert isinstance(pipe.flush(), list)
    assert pipe.counters.rejected >= 0
