"""Sensor ingest: decoders that turn raw sensor and radio data into typed messages."""
