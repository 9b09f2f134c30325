"""Signed packages: a folder of files, a manifest of their SHA-256 and sizes, and its signature.

``manifest.json`` lists every other file of the folder (path, bytes, sha256) with what the
package is (kind, window, the recording it came from) and the signer's public key;
``manifest.sig`` is the raw 64-byte Ed25519 signature of ``manifest.json``'s exact bytes
(RFC 8032), so anyone can check it without Luchtwacht, e.g.
``openssl pkeyutl -verify -pubin -inkey node.pub.pem -rawin -in manifest.json -sigfile
manifest.sig``. :class:`PackageWriter` builds a package in a hidden sibling folder and moves it
into place only when it is complete; :func:`verify_package` checks one and names the first
problem.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from luchtwacht import __version__
from luchtwacht.evidence.errors import EvidenceError
from luchtwacht.evidence.keys import fingerprint, public_key_from_pem, public_pem, signature_valid

__all__ = [
    "FORMAT",
    "MANIFEST",
    "SIGNATURE",
    "PackageCheck",
    "PackageWriter",
    "output_folder_problem",
    "verify_package",
]

FORMAT = "luchtwacht-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "public-key.pem"
_CHUNK = 1 << 20


def output_folder_problem(out: Path) -> str | None:
    """Why ``out`` cannot receive a package (it exists and is not an empty folder), or None."""
    if out.exists():
        if not out.is_dir():
            return f"{out}: exists and is not a folder"
        if any(out.iterdir()):
            return f"{out}: folder exists and is not empty; give a new or empty folder"
    parent = out.resolve().parent
    if not parent.is_dir():
        return f"{out}: no such folder {parent}"
    if not os.access(parent, os.W_OK):
        return f"{out}: folder {parent} is not writable"
    return None


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, hex (read in 1 MiB pieces)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class PackageWriter:
    """Builds a signed package: open files by relative path, then :meth:`finish` signs it.

    Files are written into ``.<name>.part`` beside ``out``; :meth:`finish` writes the manifest
    and signature and renames the folder to ``out``, so a failed export leaves nothing that
    looks like a package. :meth:`abandon` removes the partial folder.
    """

    def __init__(self, out: Path, key: Ed25519PrivateKey) -> None:
        problem = output_folder_problem(out)
        if problem is not None:
            raise EvidenceError(problem)
        self.out = out
        self._key = key
        self.tmp = out.resolve().parent / f".{out.resolve().name}.part"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        self._paths: list[str] = []
        pub = key.public_key()
        self._write_bytes(PUBLIC_KEY, public_pem(pub).encode("ascii"))

    def _target(self, rel: str) -> Path:
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or ".." in parts or rel in (MANIFEST, SIGNATURE):
            raise ValueError(f"not a package path: {rel!r}")
        if rel in self._paths:
            raise ValueError(f"written twice: {rel!r}")
        self._paths.append(rel)
        path = self.tmp.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _write_bytes(self, rel: str, data: bytes) -> None:
        self._target(rel).write_bytes(data)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """A file of the package with these exact bytes."""
        self._write_bytes(rel, data)

    def write_text(self, rel: str, text: str) -> None:
        """A UTF-8 text file of the package (its newlines written as given)."""
        self._write_bytes(rel, text.encode("utf-8"))

    @contextlib.contextmanager
    def open_binary(self, rel: str) -> Iterator[IO[bytes]]:
        """A file of the package to stream bytes into."""
        with self._target(rel).open("wb") as fh:
            yield fh

    @contextlib.contextmanager
    def open_text(self, rel: str) -> Iterator[IO[str]]:
        """A UTF-8 text file of the package to stream into (CSV: ``newline=""`` is set)."""
        with self._target(rel).open("w", encoding="utf-8", newline="") as fh:
            yield fh

    def finish(self, description: dict[str, Any]) -> dict[str, Any]:
        """Hash every file, write and sign the manifest, move the folder into place."""
        files = []
        for rel in sorted(self._paths):
            path = self.tmp.joinpath(*PurePosixPath(rel).parts)
            files.append({"path": rel, "bytes": path.stat().st_size, "sha256": file_sha256(path)})
        pub = self._key.public_key()
        manifest = {
            "format": FORMAT,
            **description,
            "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "software": f"luchtwacht {__version__}",
            "signer": {
                "algorithm": "Ed25519",
                "public_key_pem": public_pem(pub),
                "fingerprint_sha256": fingerprint(pub),
            },
            "files": files,
        }
        data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
        (self.tmp / MANIFEST).write_bytes(data)
        (self.tmp / SIGNATURE).write_bytes(self._key.sign(data))
        if self.out.exists():
            self.out.rmdir()  # checked empty when the writer began
        os.replace(self.tmp, self.out)
        return manifest

    def abandon(self) -> None:
        """Remove the partial folder (after a failure)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class PackageCheck:
    """The outcome of :func:`verify_package`: the first problem ("" if none) and what was read."""

    problem: str
    files_checked: int
    fingerprint: str
    key_from_package: bool
    kind: str
    recording_note: str = ""  # what the signed manifest says of the recording's own chain

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problem


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            yield (base / name).as_posix()
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                yield (base / name).as_posix()


def verify_package(folder: Path, public_key: Ed25519PublicKey | None) -> PackageCheck:
    """Check a package: signature, then every listed file, then that none is extra.

    The signature is checked with ``public_key``, else with the key the manifest names (which
    proves integrity, not origin); then every listed file's size and SHA-256.

    Raises :class:`EvidenceError` only when ``folder`` is not a folder (usage); everything found
    wrong inside it is the returned check's ``problem``, the first one met.
    """
    if not folder.is_dir():
        raise EvidenceError(
            f"{folder}: no such folder" if not folder.exists() else f"{folder}: not a folder"
        )

    def bad(problem: str, n: int = 0, fp: str = "", kind: str = "") -> PackageCheck:
        return PackageCheck(problem, n, fp, public_key is None, kind)

    try:
        data = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        return bad(f"{MANIFEST}: missing (not an evidence package, or its manifest was removed)")
    except OSError as exc:
        return bad(f"{MANIFEST}: cannot read ({exc.strerror or exc})")
    try:
        sig = (folder / SIGNATURE).read_bytes()
    except FileNotFoundError:
        return bad(f"{SIGNATURE}: missing (the manifest is not signed)")
    except OSError as exc:
        return bad(f"{SIGNATURE}: cannot read ({exc.strerror or exc})")
    try:
        manifest = json.loads(data)
        signer_pem = str(manifest["signer"]["public_key_pem"])
        files = manifest["files"]
        kind = str(manifest.get("kind", ""))
        if manifest.get("format") != FORMAT or not isinstance(files, list):
            raise ValueError("format")
    except (ValueError, KeyError, TypeError):
        return bad(f"{MANIFEST}: not a {FORMAT} manifest (changed or damaged)")
    try:
        signer = public_key_from_pem(signer_pem.encode("ascii"), f"{MANIFEST} signer key")
    except (EvidenceError, UnicodeEncodeError):
        return bad(f"{MANIFEST}: its signer key is not an Ed25519 public key", kind=kind)
    key = public_key if public_key is not None else signer
    fp = fingerprint(key)
    if public_key is not None and fingerprint(signer) != fp:
        return bad(
            f"{MANIFEST}: signed by key {fingerprint(signer)[:23]}…, not by this key {fp[:23]}…",
            fp=fp,
            kind=kind,
        )
    if not signature_valid(key, data, sig):
        return bad(
            f"{SIGNATURE}: not a valid signature of {MANIFEST} by key {fp[:23]}… "
            "(the manifest or the signature was changed)",
            fp=fp,
            kind=kind,
        )
    listed: set[str] = set()
    n = 0
    for entry in files:
        try:
            rel, size, digest = str(entry["path"]), int(entry["bytes"]), str(entry["sha256"])
        except (KeyError, TypeError, ValueError):
            return bad(f"{MANIFEST}: a file entry is damaged", n, fp, kind)
        parts = PurePosixPath(rel).parts
        if rel.startswith("/") or ".." in parts or not parts:
            return bad(f"{MANIFEST}: lists a path outside the folder: {rel!r}", n, fp, kind)
        listed.add(rel)
        path = folder.joinpath(*parts)
        if path.is_symlink() or (path.exists() and not path.is_file()):
            return bad(f"{rel}: not a plain file", n, fp, kind)
        if not path.exists():
            return bad(f"{rel}: file missing", n, fp, kind)
        actual_size = path.stat().st_size
        if actual_size != size:
            return bad(
                f"{rel}: file changed ({actual_size} bytes, manifest says {size})", n, fp, kind
            )
        if file_sha256(path) != digest:
            return bad(f"{rel}: file changed (SHA-256 differs from the manifest)", n, fp, kind)
        n += 1
    for rel in _walk(folder):
        if rel not in listed and rel not in (MANIFEST, SIGNATURE):
            return bad(f"{rel}: extra file, not in the manifest", n, fp, kind)
    return PackageCheck("", n, fp, public_key is None, kind, _recording_note(manifest))


def _recording_note(manifest: dict[str, Any]) -> str:
    """One line on the recording's chain as the (now verified) manifest records it."""
    chain = manifest.get("recording_chain")
    if not isinstance(chain, dict):
        return ""
    if not chain.get("chained"):
        return "the recording predates the signed chain"
    v = chain.get("verification") or {}
    wc = chain.get("window_commit") or {}
    state = "intact" if v.get("intact") else f"NOT INTACT ({v.get('problem')})"
    where = f"; the window is covered by its signed commit {wc.get('seq')}" if wc else ""
    return f"the recording verified {state} when this was made{where}"
