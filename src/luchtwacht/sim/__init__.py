"""Simulator: target motion and sensor models that speak the same wire formats as real equipment."""
