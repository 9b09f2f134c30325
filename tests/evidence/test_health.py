"""The health rule of the clear-sky report on hand-made status timelines (no recording needed).

A SAPIENT node's data count while the StatusReport in force says SYSTEM_OK; before its first
report they do not count; a report other than SYSTEM_OK makes an unhealthy interval until the
next SYSTEM_OK. Other formats have no status and always count.
"""

from __future__ import annotations

import numpy as np

from luchtwacht.evidence.clearsky import Interval, health_in_window
from luchtwacht.evidence.recording import Window
from luchtwacht.evidence.sensors import SensorRecord, StatusPoint


def _sensor(fmt: str, status: list[tuple[float, str]]) -> SensorRecord:
    return SensorRecord(
        "s1", "Radar", fmt, np.arange(0.0, 60.0, 1.0), [StatusPoint(t, v) for t, v in status]
    )


def test_error_status_makes_an_unhealthy_interval_and_its_data_not_count() -> None:
    s = _sensor("sapient", [(2.0, "SYSTEM_OK"), (10.0, "SYSTEM_ERROR"), (20.0, "SYSTEM_OK")])
    bad, counts = health_in_window(s, Window(0.0, 59.0, 0.0))
    assert bad == [Interval(10.0, 20.0)]
    counted = s.arrivals_s[counts]
    assert not np.any((counted >= 10.0) & (counted < 20.0))
    assert not np.any(counted < 2.0), "data before the first StatusReport do not count"
    assert set(counted) == set(range(2, 10)) | set(range(20, 60))


def test_status_not_ok_to_the_end_of_the_window() -> None:
    s = _sensor("sapient", [(0.0, "SYSTEM_OK"), (40.0, "SYSTEM_WARNING")])
    bad, counts = health_in_window(s, Window(30.0, 50.0, 0.0))
    assert bad == [Interval(40.0, 50.0)]
    assert not counts[40:].any() and counts[:40].all()


def test_no_status_at_all_counts_nothing_and_lists_no_interval() -> None:
    bad, counts = health_in_window(_sensor("sapient", []), Window(0.0, 59.0, 0.0))
    assert bad == [] and not counts.any()


def test_formats_without_status_always_count() -> None:
    bad, counts = health_in_window(_sensor("remoteid-jsonl", []), Window(0.0, 59.0, 0.0))
    assert bad == [] and counts.all()
