"""Countermeasures: engagement geometry and operator-approved effector recommendations."""
