"""``luchtwacht operators``: the accounts file a live node authenticates against."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from luchtwacht.cli import app
from luchtwacht.counter.authority import AuthError, Authority, Permission, load_accounts

runner = CliRunner()


def test_add_list_disable_remove_and_log_in(tmp_path: Path) -> None:
    f = tmp_path / "ops.yaml"
    r = runner.invoke(
        app, ["operators", "add", str(f), "anna", "--role", "commander", "--password-stdin"],
        input="s3cret words\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["operators", "add", str(f), "bob", "--password-stdin"], input="pw2\n")
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert "s3cret" not in f.read_text()  # only the hash is kept
    auth = Authority(load_accounts(f))
    session = auth.authenticate("anna", "s3cret words", 100.0)
    assert session.allows(Permission.APPROVE_ENGAGEMENT)
    bob = auth.authenticate("bob", "pw2", 100.0)
    assert bob.role == "operator" and not bob.allows(Permission.APPROVE_ENGAGEMENT)
    listing = runner.invoke(app, ["operators", "list", str(f)]).output
    assert "anna\tcommander\t" in listing and "approve_engagement" in listing

    dup = runner.invoke(app, ["operators", "add", str(f), "anna", "--password-stdin"], input="x\n")
    assert dup.exit_code == 2 and "already has an account" in dup.output
    bad = runner.invoke(
        app, ["operators", "add", str(f), "eve", "--role", "admin", "--password-stdin"],
        input="x\n",
    )  # fmt: skip
    assert bad.exit_code == 2 and "unknown role" in bad.output
    empty = runner.invoke(app, ["operators", "add", str(f), "eve", "--password-stdin"], input="\n")
    assert empty.exit_code == 2

    assert runner.invoke(app, ["operators", "disable", str(f), "anna"]).exit_code == 0
    auth = Authority(load_accounts(f))
    with pytest.raises(AuthError, match="account disabled"):
        auth.authenticate("anna", "s3cret words", 100.0)
    assert runner.invoke(app, ["operators", "remove", str(f), "bob"]).exit_code == 0
    assert [a.username for a in load_accounts(f)] == ["anna"]
    assert runner.invoke(app, ["operators", "remove", str(f), "bob"]).exit_code == 2
    missing = runner.invoke(app, ["operators", "list", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "no such accounts file" in missing.output
