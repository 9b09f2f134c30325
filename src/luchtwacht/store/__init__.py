"""Recording: raw bytes, tracks, alerts and decisions, every record hash-chained and signed."""

from luchtwacht.store.chain import ChainReport, ChainVerifier, NodeKey
from luchtwacht.store.recorder import Recorder, verify_audit_chain, verify_recording

__all__ = [
    "ChainReport",
    "ChainVerifier",
    "NodeKey",
    "Recorder",
    "verify_audit_chain",
    "verify_recording",
]
