"""Where a window sits in the recording's signed chain, and whether the recording verifies.

An evidence package names the recording it came from by more than a file hash: the signed
commit record (:mod:`luchtwacht.store.chain`) that first covers every row of the window — its
number, hash and Ed25519 signature, which ``luchtwacht verify`` of the original recording also
checks — the last commit, the key that signed the recording, and the outcome of verifying the
whole recording at the time of export (against the signer's key when it is the recording's,
else against the key the recording carries).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from luchtwacht.evidence.recording import Recording, Window, iso_time
from luchtwacht.store.chain import CHAINED, COMMIT_TABLE, CommitRecord, fingerprint
from luchtwacht.store.recorder import NotChainedError, read_commits, verify_recording

__all__ = ["chain_problem", "chain_state", "chain_text", "chain_warnings"]


def _commit(c: CommitRecord | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "seq": c.seq,
        "time": iso_time(c.t_s),
        "closing": c.closing,
        "hash": c.hash.hex(),
        "signature": c.signature.hex(),
        "key_fingerprint": fingerprint(c.public_key) if len(c.public_key) == 32 else None,
        "heads": {t: [s, h.hex()] for t, (s, h) in c.heads.items()},
    }


def chain_state(rec: Recording, w: Window, signer_public_pem: bytes) -> dict[str, Any]:
    """The chain facts for a package's manifest (``{"chained": False, …}`` for old recordings)."""
    if not rec.has(COMMIT_TABLE):
        try:
            verify_recording(rec.path)
        except NotChainedError as exc:
            note = str(exc)
        except sqlite3.Error as exc:
            note = f"cannot be verified ({exc})"
        else:
            note = "no commit records"
        return {"chained": False, "audit_head": rec.meta.get("audit_head"), "verification": note}
    commits = read_commits(rec.db)
    needed: dict[str, int] = {}
    for table, cols in CHAINED.items():
        if not rec.has(table) or cols[0] not in ("t_s", "t_rx_s"):
            continue
        row = rec.db.execute(
            f"SELECT max(seq) FROM {table} WHERE {cols[0]} <= ?", (w.to_s,)
        ).fetchone()
        if row and row[0] is not None:
            needed[table] = int(row[0])
    covering = next(
        (c for c in commits if all(c.heads.get(t, (0, b""))[0] >= s for t, s in needed.items())),
        None,
    )
    recording_keys = sorted({fingerprint(c.public_key) for c in commits if len(c.public_key) == 32})
    signer_fp = fingerprint(signer_public_pem)
    trusted = signer_public_pem if recording_keys == [signer_fp] else None
    try:
        report = verify_recording(rec.path, trusted)
        verification: dict[str, Any] = {
            "intact": report.intact,
            "problem": report.problem.describe() if report.problem is not None else None,
            "closed": report.closed,
            "commits": report.commits,
            "checked_against": (
                "the signer's key (the key that signed the recording)"
                if trusted is not None
                else "the key the recording carries (the signer's key is a different one)"
            ),
        }
    except (NotChainedError, sqlite3.Error) as exc:
        verification = {"intact": False, "problem": str(exc)}
    return {
        "chained": True,
        "recording_key_fingerprints": recording_keys,
        "signer_is_recording_key": recording_keys == [signer_fp],
        "window_commit": _commit(covering),
        "last_commit": _commit(commits[-1] if commits else None),
        "verification": verification,
    }


def chain_text(chain: dict[str, Any]) -> str:
    """The chain facts in a few lines for a README (``Chain`` and ``Verified`` lines)."""
    if not chain.get("chained"):
        return f"Chain       none (older recording): {chain.get('verification')}"
    lines = []
    wc = chain.get("window_commit")
    if wc is not None:
        lines.append(
            f"Chain       the window's rows are covered by signed commit {wc['seq']}"
            f" ({wc['time']}, hash {wc['hash']})"
        )
    else:
        lines.append("Chain       no commit covers the window's last rows (recording cut off?)")
    keys = ", ".join(chain.get("recording_key_fingerprints") or []) or "none"
    same = " (the same key signed this package)" if chain.get("signer_is_recording_key") else ""
    lines.append(f"            recording signed by {keys}{same}")
    v = chain.get("verification") or {}
    state = "intact" if v.get("intact") else f"NOT INTACT: {v.get('problem')}"
    lines.append(f"Verified    at export, the whole recording: {state}")
    lines.append(f"            (checked against {v.get('checked_against', '?')})")
    return "\n".join(lines)


def chain_warnings(chain: dict[str, Any]) -> list[str]:
    """What a user must be told on the terminal: another key signed it, or an older format."""
    out = []
    if chain.get("chained") and not chain.get("signer_is_recording_key"):
        keys = ", ".join(chain.get("recording_key_fingerprints") or []) or "none"
        out.append(f"warning: --key is not the key that signed the recording ({keys})")
    if not chain.get("chained"):
        out.append(f"warning: {chain.get('verification')}")
    return out


def chain_problem(chain: dict[str, Any]) -> str | None:
    """The recording's first problem when its chain did not verify at export, else None."""
    v = chain.get("verification") or {}
    if chain.get("chained") and not v.get("intact"):
        return str(v.get("problem"))
    return None
