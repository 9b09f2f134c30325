"""Luchtwacht: open-source counter-drone system (detect, track, identify, assess, counter)."""

__version__ = "0.1.0"
