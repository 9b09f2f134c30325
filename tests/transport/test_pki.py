"""Site PKI: the CA and certificates ``luchtwacht pki`` makes, and real mutual-TLS handshakes.

Every handshake runs over loopback with the contexts the node and the edge nodes use.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import ssl
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.transport.pki import (
    CertFiles,
    PkiError,
    check_name,
    client_context,
    common_name,
    init_ca,
    issue,
    load_ca,
    load_certificate,
    peer_common_name,
    server_context,
    summary,
)

runner = CliRunner()


@dataclass
class Site:
    dir: Path
    ca: Path
    server: CertFiles
    client: CertFiles

    def server_ctx(self) -> ssl.SSLContext:
        return server_context(self.server.cert, self.server.key, self.ca)

    def client_ctx(self, files: CertFiles | None = None) -> ssl.SSLContext:
        files = files or self.client
        return client_context(files.cert, files.key, self.ca)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    d = tmp_path / "pki"
    ca, _ = init_ca(d, "EHVK site CA", 3650)
    return Site(d, ca, issue(d, "fusion", server=True), issue(d, "radar-north"))


@dataclass
class Outcome:
    server_cn: str | None = None
    server_error: BaseException | None = None
    client_error: BaseException | None = None
    reply: bytes = b""


def handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str = "localhost"
) -> Outcome:
    """One connection over loopback: the server reads the client's CN and sends it back."""
    out = Outcome()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5.0)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(5.0)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                out.server_cn = peer_common_name(tls)
                tls.sendall((out.server_cn or "?").encode())
        except (OSError, ssl.SSLError) as exc:
            out.server_error = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5.0) as raw,
            client_ctx.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            # With TLS 1.3 the client's side of the handshake ends before the server has judged
            # the client's certificate: a refusal shows on the first read.
            out.reply = tls.recv(64)
            if not out.reply:
                raise ConnectionError("closed by the server")
    except (OSError, ssl.SSLError) as exc:
        out.client_error = exc
    finally:
        thread.join(10.0)
        listener.close()
    return out


# -- the handshake --------------------------------------------------------------------------------


def test_mutual_tls_succeeds_and_the_server_sees_the_clients_cn(site: Site) -> None:
    out = handshake(site.server_ctx(), site.client_ctx())
    assert out.server_error is None and out.client_error is None
    assert out.server_cn == "radar-north" and out.reply == b"radar-north"
    # the default server certificate is for 127.0.0.1 too
    by_ip = handshake(site.server_ctx(), site.client_ctx(), hostname="127.0.0.1")
    assert by_ip.server_cn == "radar-north" and by_ip.client_error is None


def test_asyncio_server_reads_the_cn_from_the_ssl_object_and_the_peercert(site: Site) -> None:
    async def main() -> tuple[bytes, list[str | None]]:
        seen: list[str | None] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(peer_common_name(writer.get_extra_info("ssl_object")))
            seen.append(peer_common_name(writer.get_extra_info("peercert")))
            writer.write(f"{seen[0]}\n".encode())
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=site.server_ctx())
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=site.client_ctx(), server_hostname="localhost"
            )
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
        return line, seen

    line, seen = asyncio.run(asyncio.wait_for(main(), 10.0))
    assert line == b"radar-north\n"
    assert seen == ["radar-north", "radar-north"]


def test_a_client_certificate_from_another_ca_is_refused(site: Site, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_ca(other, "Someone else's CA", 30)
    impostor = issue(other, "radar-north")  # the same CN: only the CA makes it count
    ctx = client_context(impostor.cert, impostor.key, site.ca)  # it trusts our server
    out = handshake(site.server_ctx(), ctx)
    assert out.server_cn is None
    assert isinstance(out.server_error, ssl.SSLCertVerificationError)
    assert out.client_error is not None and out.reply == b""


def test_a_client_without_a_certificate_is_refused(site: Site) -> None:
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(site.ca)
    out = handshake(site.server_ctx(), bare)
    assert out.server_cn is None
    assert isinstance(out.server_error, ssl.SSLError)
    assert out.server_error.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert out.client_error is not None and out.reply == b""


def test_a_server_certificate_without_the_hostname_fails_the_hostname_check(site: Site) -> None:
    elsewhere = issue(site.dir, "fusion-b", server=True, dns=["fusion.ehvk.local"])
    out = handshake(server_context(elsewhere.cert, elsewhere.key, site.ca), site.client_ctx())
    assert isinstance(out.client_error, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in str(out.client_error)
    assert out.server_cn is None
    # by the name it does carry, it is accepted
    ok = handshake(
        server_context(elsewhere.cert, elsewhere.key, site.ca),
        site.client_ctx(),
        hostname="fusion.ehvk.local",
    )
    assert ok.client_error is None and ok.server_cn == "radar-north"


def test_a_client_only_certificate_cannot_serve(site: Site) -> None:
    out = handshake(server_context(site.client.cert, site.client.key, site.ca), site.client_ctx())
    assert isinstance(out.client_error, ssl.SSLCertVerificationError)
    assert out.client_error.verify_message == "unsuitable certificate purpose"  # no serverAuth
    assert out.server_cn is None


def test_contexts_demand_verification_and_tls_1_2(site: Site) -> None:
    s, c = site.server_ctx(), site.client_ctx()
    assert s.verify_mode == c.verify_mode == ssl.CERT_REQUIRED
    assert c.check_hostname
    assert s.minimum_version == c.minimum_version == ssl.TLSVersion.TLSv1_2
    assert s.verify_flags & ssl.VERIFY_X509_STRICT


def test_context_errors_name_the_file(site: Site, tmp_path: Path) -> None:
    missing = tmp_path / "none.key"
    with pytest.raises(PkiError, match=r"none\.key: no such file"):
        server_context(site.server.cert, missing, site.ca)
    with pytest.raises(PkiError, match=r"fusion\.crt: cannot use with the key .*radar-north\.key"):
        server_context(site.server.cert, site.client.key, site.ca)
    with pytest.raises(PkiError, match=r"radar-north\.key: not a PEM CA certificate"):
        client_context(site.client.cert, site.client.key, site.client.key)


# -- the files ------------------------------------------------------------------------------------


def test_certificates_carry_what_the_handshake_relies_on(site: Site) -> None:
    ca = load_certificate(site.ca)
    ext = ca.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    ca_ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert common_name(ca) == "EHVK site CA" and ca.issuer == ca.subject

    server, client = load_certificate(site.server.cert), load_certificate(site.client.cert)
    for cert in (server, client):
        assert cert.issuer == ca.subject
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier == ca_ski.digest
        assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
        cert.verify_directly_issued_by(ca)
    assert common_name(client) == "radar-north"
    s, c = summary(server), summary(client)
    assert s.extended_key_usages == ("clientAuth", "serverAuth")
    assert s.dns_names == ("localhost",) and s.ip_addresses == ("127.0.0.1",)
    assert c.extended_key_usages == ("clientAuth",) and c.dns_names == c.ip_addresses == ()
    assert not c.is_ca and summary(ca).is_ca
    assert len(s.sha256_fingerprint.split(":")) == 32


def test_keys_are_owner_only_and_certificates_readable(site: Site) -> None:
    for files in (CertFiles(site.ca, site.dir / "ca.key"), site.server, site.client):
        assert stat.S_IMODE(os.stat(files.key).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(files.cert).st_mode) == 0o644
    assert not [p for p in site.dir.iterdir() if p.name.startswith(".")]  # no temp files left


def test_existing_files_are_not_overwritten_without_force(site: Site) -> None:
    before = site.client.key.read_bytes()
    with pytest.raises(PkiError, match=r"radar-north\.crt: exists"):
        issue(site.dir, "radar-north")
    assert site.client.key.read_bytes() == before
    issue(site.dir, "radar-north", force=True)
    assert site.client.key.read_bytes() != before

    ca_before = site.ca.read_bytes()
    with pytest.raises(PkiError, match=r"ca\.crt: exists"):
        init_ca(site.dir, "Another CA", 10)
    assert site.ca.read_bytes() == ca_before
    init_ca(site.dir, "Another CA", 10, force=True)
    assert common_name(load_certificate(site.ca)) == "Another CA"


@pytest.mark.parametrize(
    "name", ["", "../x", "a/b", ".hidden", "-rf", "x" * 65, "ca", "CA", "a b", "drone\u00e9"]
)
def test_unsafe_names_are_refused(site: Site, name: str) -> None:
    with pytest.raises(PkiError, match=r"not a safe certificate name|reserved"):
        issue(site.dir, name)
    assert sorted(p.name for p in site.dir.iterdir()) == [
        "ca.crt", "ca.key", "fusion.crt", "fusion.key", "radar-north.crt", "radar-north.key",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["radar-north", "eo_cam.2", "x" * 64, "7"])
def test_safe_names_pass(name: str) -> None:
    assert check_name(name) == name


def test_server_addresses_and_their_mistakes(site: Site) -> None:
    s = summary(
        load_certificate(
            issue(site.dir, "gw", server=True, dns=["*.ehvk.local"], ips=["10.0.0.5", "::1"]).cert
        )
    )
    assert s.dns_names == ("*.ehvk.local",) and s.ip_addresses == ("10.0.0.5", "::1")
    with pytest.raises(PkiError, match="add --server"):
        issue(site.dir, "cam", dns=["cam.local"])
    with pytest.raises(PkiError, match="not an IP address"):
        issue(site.dir, "cam", server=True, ips=["10.0.0"])
    with pytest.raises(PkiError, match="not a DNS name"):
        issue(site.dir, "cam", server=True, dns=["bad name"])


def test_a_certificate_does_not_outlive_its_ca(tmp_path: Path) -> None:
    ca, _ = init_ca(tmp_path, "Short CA", 10)
    cert = load_certificate(issue(tmp_path, "n1", days=825).cert)
    assert cert.not_valid_after_utc == load_certificate(ca).not_valid_after_utc
    assert cert.not_valid_before_utc <= dt.datetime.now(dt.UTC)


def test_a_missing_or_broken_ca_is_named(site: Site, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match=r"ca\.crt: no CA here"):
        issue(tmp_path / "empty", "n1")
    (site.dir / "ca.key").write_text("not a key\n")
    with pytest.raises(PkiError, match=r"ca\.key: not a PEM private key"):
        issue(site.dir, "n1")
    other = tmp_path / "other"
    init_ca(other, "Other", 10)
    (site.dir / "ca.key").write_bytes((other / "ca.key").read_bytes())
    with pytest.raises(PkiError, match=r"ca\.key: this key does not belong to"):
        load_ca(site.dir)
    (site.dir / "ca.key").write_bytes((site.dir / "fusion.key").read_bytes())
    (site.dir / "ca.crt").write_bytes(site.server.cert.read_bytes())
    with pytest.raises(PkiError, match=r"ca\.crt: not a CA certificate"):
        load_ca(site.dir)


def test_peer_common_name_from_getpeercert_dicts() -> None:
    one = {
        "subject": ((("countryName", "NL"),), (("commonName", "radar-north"),)),
        "issuer": ((("commonName", "EHVK site CA"),),),
    }
    assert peer_common_name(one) == "radar-north"
    two = {"subject": ((("commonName", "a"),), (("commonName", "b"),))}
    assert peer_common_name(two) is None  # an ambiguous identity is none
    assert peer_common_name({"subject": ((("organizationName", "x"),),)}) is None
    assert peer_common_name({}) is None
    assert peer_common_name(None) is None


# -- the command line -----------------------------------------------------------------------------


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def test_cli_init_issue_show(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    r = runner.invoke(app, ["pki", "init", str(d), "--name", "EHVK site CA", "--days", "100"])
    assert r.exit_code == 0, r.output
    assert "ca.crt: CA 'EHVK site CA'" in r.output
    r = runner.invoke(app, ["pki", "issue", str(d), "fusion", "--server",
                            "--dns", "fusion.ehvk.local", "--ip", "10.0.0.5", "--days", "30"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "CN=fusion, clientAuth, serverAuth, for DNS:fusion.ehvk.local, IP:10.0.0.5" in r.output
    r = runner.invoke(app, ["pki", "issue", str(d), "radar-north"])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(d / "radar-north.key").st_mode) == 0o600

    r = runner.invoke(app, ["pki", "show", str(d / "fusion.crt")])
    assert r.exit_code == 0, r.output
    fingerprint = summary(load_certificate(d / "fusion.crt")).sha256_fingerprint
    for expected in ("CN:       fusion", "issuer:   CN=EHVK site CA", "UTC",
                     "SANs:     DNS:fusion.ehvk.local, IP:10.0.0.5",
                     "EKUs:     clientAuth, serverAuth", f"SHA-256:  {fingerprint}"):  # fmt: skip
        assert expected in r.output
    r = runner.invoke(app, ["pki", "show", str(d / "ca.crt")])
    assert "CA:       yes" in r.output and "SANs:     (none)" in r.output

    # what the CLI made, a real handshake accepts
    out = handshake(
        server_context(d / "fusion.crt", d / "fusion.key", d / "ca.crt"),
        client_context(d / "radar-north.crt", d / "radar-north.key", d / "ca.crt"),
        hostname="fusion.ehvk.local",
    )
    assert out.server_cn == "radar-north" and out.client_error is None


def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    assert runner.invoke(app, ["pki", "init", str(d)]).exit_code == 0

    r = runner.invoke(app, ["pki", "init", str(d)])
    assert r.exit_code == 2
    assert (
        _one_error_line(r.output)
        == f"error: {d / 'ca.crt'}: exists: not overwritten (--force replaces it)"
    )
    assert runner.invoke(app, ["pki", "init", str(d), "--force"]).exit_code == 0

    r = runner.invoke(app, ["pki", "issue", str(d), "../evil"])
    assert r.exit_code == 2 and "not a safe certificate name" in _one_error_line(r.output)
    assert not (tmp_path / "evil.key").exists()

    r = runner.invoke(app, ["pki", "issue", str(tmp_path / "nowhere"), "n1"])
    assert r.exit_code == 2
    assert _one_error_line(r.output).startswith(f"error: {tmp_path / 'nowhere' / 'ca.crt'}: no CA")

    assert runner.invoke(app, ["pki", "issue", str(d), "n1"]).exit_code == 0
    r = runner.invoke(app, ["pki", "issue", str(d), "n1"])
    assert r.exit_code == 2 and "n1.crt: exists" in _one_error_line(r.output)
    assert runner.invoke(app, ["pki", "issue", str(d), "n1", "--force"]).exit_code == 0

    (d / "ca.key").write_text("garbage\n")
    r = runner.invoke(app, ["pki", "issue", str(d), "n2"])
    assert r.exit_code == 2
    assert _one_error_line(r.output) == f"error: {d / 'ca.key'}: not a PEM private key"

    r = runner.invoke(app, ["pki", "show", str(d / "missing.crt")])
    assert r.exit_code == 2
    assert _one_error_line(r.output) == f"error: {d / 'missing.crt'}: no such file"
    r = runner.invoke(app, ["pki", "show", str(d / "ca.key")])
    assert r.exit_code == 2 and "not an X.509 certificate" in _one_error_line(r.output)
