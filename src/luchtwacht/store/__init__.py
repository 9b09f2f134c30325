"""Recording: raw bytes, tracks, alerts and decisions in SQLite with a hash-chained audit log."""

from luchtwacht.store.recorder import Recorder, verify_audit_chain

__all__ = ["Recorder", "verify_audit_chain"]
