"""Threat assessment: protected-zone geometry, time to breach, threat levels and alerts."""
