"""The fusion core on its own: time guards that keep one bad sensor from freezing the picture."""

import numpy as np

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
        "rf_protocol", "rf_serial", "rf_band_mhz", "own_asset",
    ]  # fmt: skip
