"""Identification: what each track is (drone, bird, aircraft, clutter) and whether it cooperates."""
