"""``luchtwacht pki``: a site CA and node certificates for mutual TLS; the evidence signing key.

``signing-key OUT`` makes the node's Ed25519 key that signs its recordings (``OUT`` and
``OUT.pub``; see ``docs/evidence.md``).
``init DIR`` makes the CA (``DIR/ca.crt``, ``DIR/ca.key``); ``issue DIR NAME`` makes a node's
certificate and key (``DIR/NAME.crt``, ``DIR/NAME.key``) with CN=NAME, which the site file's
``sapient.clients`` maps to the SAPIENT node ids that node may register as; ``--server`` is for
the node's own SAPIENT server. ``show FILE`` prints what a certificate says. Neither ``init``
nor ``issue`` overwrites a file without ``--force``. The work is done by
:mod:`luchtwacht.transport.pki` (see ``docs/pki.md``); every error is one line, exit code 2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

# cryptography loads only when a pki command runs, not with every ``luchtwacht`` command.

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Site PKI: a CA and node certificates for mutual TLS (SAPIENT).",
)

DirArg = Annotated[Path, typer.Argument(help="The PKI directory (holds ca.crt and ca.key).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing files.")]

_T = TypeVar("_T")


def _or_exit(action: Callable[[], _T]) -> _T:
    """Run a PKI action; its error (naming the file or name at fault) is one line, exit 2."""
    from luchtwacht.transport.pki import PkiError

    try:
        return action()
    except (PkiError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:  # writing: a read-only or full disk, a directory in the way
        where = exc.filename if exc.filename is not None else "?"
        typer.echo(f"error: {where}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None


@app.command("init")
def init(
    directory: DirArg,
    name: Annotated[str, typer.Option(help="The CA's name (its certificate's CN).")] = (
        "Luchtwacht site CA"
    ),
    days: Annotated[int, typer.Option(help="Days the CA is valid.", min=1)] = 3650,
    force: ForceOpt = False,
) -> None:
    """Make a site CA in DIR (created if missing): ca.key (0600) and ca.crt."""
    from luchtwacht.transport.pki import init_ca, load_certificate

    files = _or_exit(lambda: init_ca(directory, name, days, force=force))
    cert = load_certificate(files.cert)
    typer.echo(f"{files.cert}: CA {name!r}, valid until {cert.not_valid_after_utc:%Y-%m-%d}")
    typer.echo(f"{files.key}: its private key (keep it off the nodes)")


@app.command("issue")
def issue(
    directory: DirArg,
    name: Annotated[
        str, typer.Argument(help="The node's name: file name and certificate CN ([A-Za-z0-9._-]).")
    ],
    server: Annotated[
        bool, typer.Option("--server", help="Also a TLS server certificate (the node's SAPIENT).")
    ] = False,
    dns: Annotated[
        list[str] | None,
        typer.Option("--dns", help="A DNS name the server is reached by (repeatable)."),
    ] = None,
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="An IP address the server is reached at (repeatable)."),
    ] = None,
    days: Annotated[int, typer.Option(help="Days the certificate is valid.", min=1)] = 825,
    force: ForceOpt = False,
) -> None:
    """Issue DIR/NAME.crt and DIR/NAME.key (0600), signed by the CA in DIR, with CN=NAME.

    A server certificate without --dns or --ip is for localhost and 127.0.0.1.
    """
    from luchtwacht.transport.pki import issue as issue_cert
    from luchtwacht.transport.pki import load_certificate, summary

    files = _or_exit(
        lambda: issue_cert(
            directory, name, server=server, dns=dns or (), ips=ip or (), days=days, force=force
        )
    )
    s = summary(load_certificate(files.cert))
    sans = ", ".join([*(f"DNS:{d}" for d in s.dns_names), *(f"IP:{a}" for a in s.ip_addresses)])
    typer.echo(
        f"{files.cert}: CN={name}, {', '.join(s.extended_key_usages)}"
        + (f", for {sans}" if sans else "")
        + f", valid until {s.not_after:%Y-%m-%d}"
    )
    typer.echo(f"{files.key}: its private key")


@app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="A certificate file (PEM or DER).")],
) -> None:
    """Print a certificate's CN, issuer, validity, addresses, usages and SHA-256 fingerprint."""
    from luchtwacht.transport.pki import load_certificate, summary

    s = summary(_or_exit(lambda: load_certificate(path)))
    sans = [*(f"DNS:{d}" for d in s.dns_names), *(f"IP:{a}" for a in s.ip_addresses)]
    now = dt.datetime.now(dt.UTC)
    state = " (EXPIRED)" if now > s.not_after else " (NOT YET VALID)" if now < s.not_before else ""
    rows = [
        ("CN", s.common_name if s.common_name is not None else "(none)"),
        ("subject", s.subject),
        ("issuer", s.issuer),
        (
            "valid",
            f"{s.not_before:%Y-%m-%d %H:%M:%S} to {s.not_after:%Y-%m-%d %H:%M:%S} UTC{state}",
        ),
        ("CA", "yes" if s.is_ca else "no"),
        ("SANs", ", ".join(sans) or "(none)"),
        ("EKUs", ", ".join(s.extended_key_usages) or "(none)"),
        ("SHA-256", s.sha256_fingerprint),
    ]
    for label, value in rows:
        typer.echo(f"{label + ':':<9} {value}")


@app.command("signing-key")
def signing_key(
    out: Annotated[Path, typer.Argument(help="Where to write the private key (PEM, PKCS#8).")],
    force: ForceOpt = False,
) -> None:
    """Make the node's Ed25519 evidence signing key: OUT (0600) and its public half OUT.pub.

    The site file names OUT as ``store.signing_key``; ``verify``, ``evidence verify`` and
    anyone checking the node's recordings need only OUT.pub.
    """
    from luchtwacht.store.chain import NodeKey
    from luchtwacht.transport.pki import PkiError
    from luchtwacht.transport.pki import _write_atomic as write_atomic

    pub = out.with_name(out.name + ".pub")

    def make() -> NodeKey:
        if out.is_dir():
            raise PkiError(out, "is a folder, not a key file")
        if not out.parent.is_dir():
            raise PkiError(out, f"no such folder {out.parent}")
        if not force:
            for path in (out, pub):
                if path.exists():
                    raise PkiError(path, "exists: not overwritten (--force replaces it)")
        key = NodeKey.generate()
        write_atomic(out, key.private_pem(), 0o600)
        write_atomic(pub, key.public_pem(), 0o644)
        return key

    key = _or_exit(make)
    typer.echo(f"{out}: Ed25519 signing key (keep it on the node only; store.signing_key)")
    typer.echo(f"{pub}: its public key, {key.fingerprint()}")
