"""Multi-target tracking on arrays: models, Kalman filter, gating, association, management."""

from luchtwacht.tracking.tracker import Tracker, TrackerConfig, TrackTable

__all__ = ["TrackTable", "Tracker", "TrackerConfig"]
