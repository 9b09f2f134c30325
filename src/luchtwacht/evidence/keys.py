"""The node's Ed25519 key as the evidence commands use it: load, sign, verify, fingerprint.

A private key is a PEM file (PKCS#8, unencrypted; ``luchtwacht pki signing-key`` makes one), a
public key a PEM SubjectPublicKeyInfo. The fingerprint is SHA-256 of the 32 raw public-key
bytes (RFC 8032 §5.1.5 encoding) in hex after ``SHA256:``, the form ``luchtwacht verify`` and
:mod:`luchtwacht.store.chain` print, so keys can be compared by eye.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from luchtwacht.evidence.errors import EvidenceError

__all__ = [
    "fingerprint",
    "load_private_key",
    "load_public_key",
    "public_key_from_pem",
    "public_pem",
    "signature_valid",
]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise EvidenceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EvidenceError(f"{path}: is a folder, not a key file") from None
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read ({exc.strerror or exc})") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; :class:`EvidenceError` naming the file if not one."""
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise EvidenceError(
            f"{path}: the key is encrypted; give an unencrypted PKCS#8 key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise EvidenceError(f"{path}: not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise EvidenceError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return key


def public_key_from_pem(data: bytes, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; ``where`` names their origin in the error."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise EvidenceError(f"{where}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceError(f"{where}: not an Ed25519 public key ({type(key).__name__})")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file (a private key file is refused: keep it at home)."""
    return public_key_from_pem(_read(path), str(path))


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM SubjectPublicKeyInfo text."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:`` and the hex SHA-256 of the raw 32-byte public key (as ``luchtwacht verify``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def signature_valid(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``key``'s Ed25519 signature of ``data``."""
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True
