"""Evaluation: matching tracks to simulated truth and the metrics built on it."""
