"""``luchtwacht operators``: the accounts file a live node authenticates against."""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.commands import operators
from luchtwacht.counter.authority import (
    Argon2Params,
    AuthError,
    Authority,
    OperatorAccount,
    Permission,
    hash_password,
    load_accounts,
    save_accounts,
)

runner = CliRunner()
CHEAP = Argon2Params(time_cost=1, memory_kib=1024)


def test_add_list_disable_remove_and_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cheap hashes keep this fast; test_add_writes_the_default_argon2id covers the real ones
    monkeypatch.setattr(operators, "hash_password", functools.partial(hash_password, params=CHEAP))
    f = tmp_path / "ops.yaml"
    r = runner.invoke(
        app, ["operators", "add", str(f), "anna", "--role", "commander", "--password-stdin"],
        input="s3cret words of the watch\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["operators", "add", str(f), "bob", "--password-stdin"], input="tulips in the rain\n"
    )
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert "s3cret" not in f.read_text()  # only the hash is kept
    auth = Authority(load_accounts(f), hash_params=CHEAP)
    session = auth.authenticate("anna", "s3cret words of the watch", 100.0)
    assert session.allows(Permission.APPROVE_ENGAGEMENT)
    bob = auth.authenticate("bob", "tulips in the rain", 100.0)
    assert bob.role == "operator" and not bob.allows(Permission.APPROVE_ENGAGEMENT)
    listing = runner.invoke(app, ["operators", "list", str(f)]).output
    assert "anna\tcommander [rehash due]\t" in listing  # CHEAP is below the default
    assert "approve_engagement" in listing

    dup = runner.invoke(app, ["operators", "add", str(f), "anna", "--password-stdin"], input="x\n")
    assert dup.exit_code == 2 and "already has an account" in dup.output
    bad = runner.invoke(
        app, ["operators", "add", str(f), "eve", "--role", "superuser", "--password-stdin"],
        input="x\n",
    )  # fmt: skip
    assert bad.exit_code == 2 and "unknown role" in bad.output
    empty = runner.invoke(app, ["operators", "add", str(f), "eve", "--password-stdin"], input="\n")
    assert empty.exit_code == 2

    assert runner.invoke(app, ["operators", "disable", str(f), "anna"]).exit_code == 0
    auth = Authority(load_accounts(f), hash_params=CHEAP)
    with pytest.raises(AuthError, match="account disabled"):
        auth.authenticate("anna", "s3cret words of the watch", 100.0)
    assert runner.invoke(app, ["operators", "remove", str(f), "bob"]).exit_code == 0
    assert [a.username for a in load_accounts(f)] == ["anna"]
    assert runner.invoke(app, ["operators", "remove", str(f), "bob"]).exit_code == 2
    missing = runner.invoke(app, ["operators", "list", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "no such accounts file" in missing.output


@pytest.mark.parametrize(
    ("role", "password", "why"),
    [
        ("commander", "x", "at least 15 characters for a commander"),
        ("operator", "short words", "at least 12 characters for a operator"),
        ("commander", "fourteen chars", "at least 15 characters"),
        ("admin", "aaaaaaaaaaaaaaaaaaaa", "5 different characters"),
        ("commander", "Password123456789!", "commonly guessed"),
        ("operator", "Wachtwoord2026!!", "commonly guessed"),
        ("commander", "anna-the-best-commander", "must not contain the user name"),
        ("operator", "abcdefghijklmnop", "consecutive"),
        ("viewer", "1234567890123", "consecutive"),
    ],
)
def test_add_refuses_a_weak_password_in_one_line(
    tmp_path: Path, role: str, password: str, why: str
) -> None:
    f = tmp_path / "ops.yaml"
    r = runner.invoke(
        app, ["operators", "add", str(f), "anna", "--role", role, "--password-stdin"],
        input=password + "\n",
    )  # fmt: skip
    assert r.exit_code == 2 and why in r.output and r.output.count("\n") == 1, r.output
    assert not f.exists()  # nothing written


def test_add_writes_the_default_argon2id(tmp_path: Path) -> None:
    f = tmp_path / "ops.yaml"
    r = runner.invoke(
        app,
        ["operators", "add", str(f), "cdr", "--password-stdin"],
        input="correct horse battery\n",
    )
    assert r.exit_code == 0, r.output
    (account,) = load_accounts(f)
    assert account.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    listing = runner.invoke(app, ["operators", "list", str(f)]).output
    assert "cdr\toperator\t" in listing  # not due for rehash


def test_rehash_upgrades_a_former_scrypt_hash(tmp_path: Path) -> None:
    f = tmp_path / "ops.yaml"
    old = hash_password("old pw", n=2**10)
    save_accounts(f, [OperatorAccount("cdr", "commander", old)])
    assert "[rehash due]" in runner.invoke(app, ["operators", "list", str(f)]).output
    cmd = ["operators", "rehash", str(f), "cdr", "--password-stdin"]
    wrong = runner.invoke(app, cmd, input="guess\n")
    assert wrong.exit_code == 2 and "wrong password for 'cdr'" in wrong.output
    assert load_accounts(f)[0].password_hash == old
    r = runner.invoke(app, cmd, input="old pw\n")
    assert r.exit_code == 0, r.output
    assert "rehashed cdr (former scrypt scheme; argon2id is current)" in r.output
    (account,) = load_accounts(f)
    assert account.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    assert Authority([account]).authenticate("cdr", "old pw", 100.0).rehash is None
    again = runner.invoke(app, cmd, input="old pw\n")
    assert again.exit_code == 0 and "password hash is current" in again.output
    missing = runner.invoke(app, ["operators", "rehash", str(f), "eve", "--password-stdin"])
    assert missing.exit_code == 2 and "no account 'eve'" in missing.output
