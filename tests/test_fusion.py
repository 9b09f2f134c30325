"""The fusion core on its own: time guards that keep one bad sensor from freezing the picture."""

import numpy as np
import pytest

from luchtwacht.fusion import FusionCore
from luchtwacht.geo import SiteOrigin
from luchtwacht.model.detection import N_CLASSES, DetectionBatch


class ListPipe:
    """A pipe that hands over prepared batches (stands for any decoder in these tests)."""

    def __init__(self) -> None:
        from luchtwacht.ingest.feed import FeedCounters

        self.counters = FeedCounters()
        self.queue: list[DetectionBatch] = []

    def feed(self, data: bytes, t_rx_s: float | None = None) -> list[DetectionBatch]:
        out, self.queue = self.queue, []
        return out

    def flush(self) -> list[DetectionBatch]:
        return []


def one(t, pos):
    return DetectionBatch(
        "s", np.array([t]), np.array([pos], float), np.eye(3)[None] * 25.0, np.zeros((1, N_CLASSES))
    )


def test_a_future_timestamp_is_dropped_and_does_not_block_later_batches():
    core = FusionCore("t", SiteOrigin(52, 5, 0), [], start_s=1000.0)
    pipe = ListPipe()
    core.add_feed("s", "s", "test", pipe, 1.0)
    pipe.queue = [one(4_000_000_000.0, (0, 0, 50))]  # the year 2096
    core.receive(1000.0, "s", "test", b"")
    core.process(1000.0)
    for k in range(1, 6):
        pipe.queue = [one(1000.0 + k, (10.0 * k, 0, 50))]
        core.receive(1000.0 + k, "s", "test", b"")
        core.process(1000.0 + k + 0.05)
    core.cycle()
    assert core.future_batches == 1 and core.late_batches == 0
    assert len(core.views) == 1  # the good sensor data made a confirmed track


def test_a_sensor_clock_running_behind_still_makes_tracks():
    core = FusionCore("t", SiteOrigin(52, 5, 0), [], start_s=1000.0)
    pipe = ListPipe()
    core.add_feed("s", "s", "test", pipe, 1.0)
    for k in range(1, 8):  # stamps 4 s behind the wall clock
        pipe.queue = [one(1000.0 + k - 4.0, (10.0 * k, 0, 50))]
        core.receive(1000.0 + k, "s", "test", b"")
        core.process(1000.0 + k)
        core.cycle()
    assert len(core.views) == 1


def test_track_view_fields_keep_the_order_the_picture_cycle_builds_them_in():
    """``FusionCore.cycle`` builds TrackViews positionally (it is the hot loop): pin the order."""
    import dataclasses

    from luchtwacht.model.track import TrackView

    assert [f.name for f in dataclasses.fields(TrackView)] == [
        "track_id", "t_s", "lat_deg", "lon_deg", "alt_m", "east_m", "north_m", "up_m",
        "speed_ms", "heading_deg", "climb_ms", "object_class", "class_prob", "cooperative",
        "uas_id", "threat", "zones_inside", "time_to_breach_s", "pos_std_m", "icao", "sensors",
        "rf_protocol", "rf_serial", "rf_band_mhz", "own_asset", "ellipse_m", "class_probs",
        "class_reasons", "alt_std_m", "authorised", "authorisation", "coop_intruder",
        "make_model", "make_evidence", "swarm_id", "drone_kind", "course_std_deg", "pilot_lat_deg", "pilot_lon_deg",
        "pilot_err_m", "pilot_ellipse_m", "pilot_source", "pilot_age_s",
    ]  # fmt: skip


def test_horizontal_ellipses_match_the_eigen_decomposition() -> None:
    """The closed-form 1-sigma ellipse equals numpy's eigenvalues and the major axis' bearing."""
    from luchtwacht.fusion import horizontal_ellipses

    rng = np.random.default_rng(3)
    m = rng.normal(size=(200, 2, 2)) * rng.uniform(1, 50, size=(200, 1, 1))
    cov = m @ m.transpose(0, 2, 1)
    got = horizontal_ellipses(cov)
    w, v = np.linalg.eigh(cov)
    np.testing.assert_allclose(got[:, 0], np.sqrt(w[:, 1]), rtol=1e-9)
    np.testing.assert_allclose(got[:, 1], np.sqrt(np.maximum(w[:, 0], 0)), rtol=1e-6, atol=1e-6)
    major = v[:, :, 1]  # (east, north) of the larger eigenvalue's vector
    bearing = np.degrees(np.arctan2(major[:, 0], major[:, 1])) % 180.0
    diff = np.abs((got[:, 2] - bearing + 90.0) % 180.0 - 90.0)
    assert diff.max() < 1e-6
    # An ellipse stretched along north-east points at 45 degrees.
    assert horizontal_ellipses(np.array([[[2.0, 1.0], [1.0, 2.0]]]))[0, 2] == pytest.approx(45.0)


def test_course_std_is_the_velocity_error_across_the_course_over_the_speed() -> None:
    """A 10 m/s eastbound track with 2 m/s error north (across) and 5 m/s east (along): the
    course is atan(2/10) off; along-track error does not bend it; a standstill has no course."""
    from luchtwacht.fusion import course_std_deg

    vel = np.array([[10.0, 0.0], [0.0, 10.0], [0.0, 0.0]])
    cov = np.array([np.diag([25.0, 4.0]), np.diag([25.0, 4.0]), np.diag([1.0, 1.0])])
    got = course_std_deg(vel, cov)
    assert got[0] == pytest.approx(np.degrees(np.arctan(2.0 / 10.0)))
    assert got[1] == pytest.approx(np.degrees(np.arctan(5.0 / 10.0)))  # northbound: east is across
    assert got[2] == pytest.approx(90.0)
