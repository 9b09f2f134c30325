"""Multi-target tracking on arrays: motion models, Kalman filter, gating, association, management."""

from luchtwacht.tracking.tracker import Tracker, TrackerConfig, TrackTable

__all__ = ["TrackTable", "Tracker", "TrackerConfig"]
