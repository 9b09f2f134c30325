"""Site PKI: a small certificate authority and the TLS contexts for mutual TLS to SAPIENT.

Sensor and effector nodes connect to the node's SAPIENT server over TLS, and each presents a
certificate from the site's CA. The server verifies it against that CA and reads the subject's
common name (CN); the site file maps each CN to the SAPIENT node ids it may register as, so a
node can only speak for itself. Used by ``luchtwacht pki`` (making the CA and certificates) and by
the live node (``server_context``, ``peer_common_name``); the edge nodes use ``client_context``.

Files in the PKI directory: ``ca.key`` and ``ca.crt`` for the CA, ``NAME.key`` and ``NAME.crt``
for each node, all PEM. Keys are EC P-256 (PKCS#8, unencrypted: nodes start unattended), written
atomically and readable by the owner only (0600); certificates are 0644. Certificates follow
RFC 5280 closely enough for OpenSSL's strict checks (``VERIFY_X509_STRICT``): the CA has basic
constraints CA=true, pathlen 0, key usage keyCertSign and cRLSign and a subject key identifier;
each node certificate has CA=false, key usage digitalSignature and keyAgreement, extended key
usage clientAuth (and serverAuth with subject alternative names when it is a server), and
subject and authority key identifiers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import ssl
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"

# A node name becomes a file name (NAME.crt, NAME.key) and the certificate's CN, which the site
# file matches: no path separators, no hidden files, no leading dash that reads as an option.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# One DNS name in a subjectAltName: letters, digits, hyphens (RFC 1123), optionally a leading
# wildcard label (RFC 6125 §6.4.3); underscores are tolerated as some site hosts carry them.
_DNS = re.compile(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*")
_CN_MAX = 64  # ub-common-name, RFC 5280 appendix A.1
_EKU_NAMES = {
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}
# Clocks on field nodes drift; a certificate made on one must already be valid on another.
_BACKDATE = dt.timedelta(minutes=5)


class PkiError(Exception):
    """A PKI file or name that cannot be used; ``what`` is the path (or the name) at fault."""

    def __init__(self, what: str | os.PathLike[str], detail: str) -> None:
        self.what = os.fspath(what)
        self.detail = detail
        super().__init__(f"{self.what}: {detail}")


class CertFiles(NamedTuple):
    """Where a certificate and its private key were written (PEM)."""

    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class CertSummary:
    """What ``luchtwacht pki show`` prints about a certificate."""

    common_name: str | None
    subject: str  # RFC 4514 string
    issuer: str  # RFC 4514 string
    not_before: dt.datetime  # UTC
    not_after: dt.datetime  # UTC
    is_ca: bool
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    extended_key_usages: tuple[str, ...]  # OID names, e.g. "clientAuth", "serverAuth"
    sha256_fingerprint: str  # colon-separated upper-case hex


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe node name (file name and CN), else raise PkiError.

    Safe: 1 to 64 of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit, and not ``ca``
    (whose files are the CA's own).
    """
    if not _NAME.fullmatch(name):
        raise PkiError(
            repr(name),
            "not a safe certificate name: 1 to 64 of A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit",
        )
    if name.lower() == Path(CA_CERT).stem:
        raise PkiError(repr(name), "reserved: the CA's own files are ca.crt and ca.key")
    return name


def init_ca(
    directory: str | os.PathLike[str],
    name: str = "Luchtwacht site CA",
    days: int = 3650,
    *,
    force: bool = False,
) -> CertFiles:
    """Make a site CA: a new P-256 key and a self-signed certificate valid ``days`` days.

    ``directory`` is created (owner-only) if missing. An existing ``ca.crt`` or ``ca.key`` is
    kept and PkiError raised unless ``force``: replacing the CA orphans every certificate it
    issued.
    """
    if not 1 <= len(name) <= _CN_MAX or not name.strip():
        raise PkiError(repr(name), f"a CA name must be 1 to {_CN_MAX} characters")
    _check_days(days)
    root = Path(directory)
    files = CertFiles(root / CA_CERT, root / CA_KEY)
    if not force:
        _refuse_existing(files)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_files(files, cert, key)
    return files


def issue(
    directory: str | os.PathLike[str],
    name: str,
    *,
    server: bool = False,
    dns: Iterable[str] = (),
    ips: Iterable[str] = (),
    days: int = 825,
    force: bool = False,
) -> CertFiles:
    """Issue ``NAME.crt`` and ``NAME.key`` in ``directory``, signed by the CA found there.

    The subject is CN=``name`` (see :func:`check_name`); the certificate allows TLS client
    authentication, and with ``server`` server authentication too, for the DNS names ``dns``
    and the addresses ``ips`` (``localhost`` and ``127.0.0.1`` when neither is given). Validity
    is ``days`` days, cut to the CA's own end (a certificate outliving its CA verifies nowhere).
    Existing files are kept and PkiError raised unless ``force``.
    """
    check_name(name)
    _check_days(days)
    dns_names = [_check_dns(d) for d in dns]
    addresses = [_check_ip(a) for a in ips]
    if (dns_names or addresses) and not server:
        raise PkiError(repr(name), "--dns and --ip name a server's addresses: add --server")
    if server and not dns_names and not addresses:
        dns_names, addresses = ["localhost"], [ipaddress.ip_address("127.0.0.1")]
    root = Path(directory)
    ca_cert, ca_key = load_ca(root)
    files = CertFiles(root / f"{name}.crt", root / f"{name}.key")
    if not force:
        _refuse_existing(files)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    try:
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,  # an RSA key-transport usage: EC keys agree instead
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
    )
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(a) for a in addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_files(files, cert, key)
    return files


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    """Read a certificate file (PEM, or DER); PkiError names the path when it cannot."""
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise PkiError(path, "not an X.509 certificate (PEM or DER)") from None


def load_ca(
    directory: str | os.PathLike[str],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    """The CA certificate and key of a PKI directory, checked to be a CA and to belong together."""
    root = Path(directory)
    cert_path, key_path = root / CA_CERT, root / CA_KEY
    for path in (cert_path, key_path):
        if not path.exists():
            raise PkiError(path, f"no CA here: make one with `luchtwacht pki init {root}`")
    cert = load_certificate(cert_path)
    try:
        key = serialization.load_pem_private_key(_read(key_path), password=None)
    except TypeError:  # a password-protected key
        raise PkiError(key_path, "encrypted: the CA key must be unencrypted PEM") from None
    except ValueError:
        raise PkiError(key_path, "not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError(key_path, "the CA key must be EC or RSA")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise PkiError(cert_path, "not a CA certificate (basic constraints CA=true missing)")
    if _spki(key.public_key()) != _spki(cert.public_key()):
        raise PkiError(key_path, f"this key does not belong to {cert_path}")
    return cert, key


def common_name(cert: x509.Certificate) -> str:
    """The subject's common name (CN) of a certificate; ValueError if it has not exactly one."""
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(values) != 1:
        raise ValueError(f"the subject has {len(values)} common names, not one")
    value = values[0].value
    return value if isinstance(value, str) else value.decode()


def summary(cert: x509.Certificate) -> CertSummary:
    """What a certificate says about itself, for people reading it."""
    try:
        cn: str | None = common_name(cert)
    except ValueError:
        cn = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ips = (), ()
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        usages = tuple(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku)
    except x509.ExtensionNotFound:
        usages = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    digest = cert.fingerprint(hashes.SHA256())
    return CertSummary(
        common_name=cn,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_ca=is_ca,
        dns_names=dns_names,
        ip_addresses=ips,
        extended_key_usages=usages,
        sha256_fingerprint=":".join(f"{b:02X}" for b in digest),
    )


def server_context(
    cert: str | os.PathLike[str], key: str | os.PathLike[str], ca: str | os.PathLike[str]
) -> ssl.SSLContext:
    """A TLS server context that demands a client certificate issued by ``ca`` (TLS 1.2+).

    The peer's CN after the handshake: :func:`peer_common_name`.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_REQUIRED
    _harden(ctx, cert, key, ca)
    return ctx


def client_context(
    cert: str | os.PathLike[str], key: str | os.PathLike[str], ca: str | os.PathLike[str]
) -> ssl.SSLContext:
    """A TLS client context presenting ``cert`` and trusting only servers issued by ``ca``.

    The server's certificate must name the host connected to (``server_hostname``) among its
    subject alternative names (TLS 1.2+).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname on
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    _harden(ctx, cert, key, ca)
    return ctx


PeerCert = Mapping[str, object]


def peer_common_name(peer: ssl.SSLObject | ssl.SSLSocket | PeerCert | None) -> str | None:
    """The CN of a verified peer: from an SSL object or socket, or its ``getpeercert()`` dict.

    ``None`` when there is no peer certificate, or when its subject has no CN or more than one
    (an ambiguous identity is no identity). With asyncio:
    ``peer_common_name(writer.get_extra_info("ssl_object"))``.
    """
    if isinstance(peer, ssl.SSLObject | ssl.SSLSocket):
        peer = peer.getpeercert()
    if not peer:
        return None
    # getpeercert(): {"subject": ((("commonName", "radar-north"),), ...), ...}, one tuple of
    # (attribute, value) pairs per relative distinguished name.
    subject = peer.get("subject")
    names: list[str] = []
    for rdn in subject if isinstance(subject, tuple) else ():
        for pair in rdn if isinstance(rdn, tuple) else ():
            if isinstance(pair, tuple) and len(pair) == 2 and pair[0] == "commonName":
                names.append(str(pair[1]))
    return names[0] if len(names) == 1 else None


# -- private -------------------------------------------------------------------------------------


def _harden(
    ctx: ssl.SSLContext,
    cert: str | os.PathLike[str],
    key: str | os.PathLike[str],
    ca: str | os.PathLike[str],
) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # Python 3.13 turns strict RFC 5280 checks on by default; on earlier versions too, so a
    # certificate that works here does not stop working after an upgrade.
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    for path in (cert, key, ca):
        _read(path)  # a missing or unreadable file named, not "[SSL] PEM lib"
    try:
        ctx.load_verify_locations(cafile=os.fspath(ca))
    except ssl.SSLError as exc:
        raise PkiError(ca, f"not a PEM CA certificate ({exc.reason or exc})") from None
    try:
        ctx.load_cert_chain(os.fspath(cert), os.fspath(key))
    except ssl.SSLError as exc:
        raise PkiError(
            cert, f"cannot use with the key {os.fspath(key)} ({exc.reason or exc})"
        ) from None


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_days(days: int) -> None:
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")


def _check_dns(name: str) -> str:
    if len(name) > 253 or not _DNS.fullmatch(name):
        raise PkiError(repr(name), "not a DNS name")
    return name


def _check_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise PkiError(repr(text), "not an IP address") from None


def _refuse_existing(files: CertFiles) -> None:
    for path in files:
        if path.exists():
            raise PkiError(path, "exists: not overwritten (--force replaces it)")


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise PkiError(path, "no such file") from None
    except OSError as exc:
        raise PkiError(path, f"cannot read: {exc.strerror or exc}") from None


def _write_files(
    files: CertFiles,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
) -> None:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomic(files.key, key_pem, 0o600)
    _write_atomic(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_atomic(target: Path, data: bytes, mode: int) -> None:
    # mkstemp makes the file 0600 from the start: a key is never readable by others, not even
    # for a moment before the chmod.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
