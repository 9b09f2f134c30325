"""Evidence out of a recording: signed export packages and "clear sky" reports.

Where it sits: a recording (``store/recorder.py``) → :mod:`.export` (the window's raw bytes,
detections, tracks, alerts, rejections and decisions as files, with a map) or
:mod:`.clearsky` (was the zone clear, who covered it, the gaps) → :mod:`.manifest` (every file's
SHA-256, signed with the node's Ed25519 key) → checked anywhere with only the public key.
The commands are ``luchtwacht evidence export|verify`` and ``luchtwacht report clear-sky``.
"""

from luchtwacht.evidence.errors import EvidenceError

__all__ = ["EvidenceError"]
