"""README.md and ``--help`` agree: every option of the commands a newcomer runs is in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from luchtwacht.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("command", ["demo", "run"])
def test_every_option_of_the_command_is_in_the_readme(command: str) -> None:
    group = typer.main.get_command(app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    missing = [
        opt
        for param in cmd.params
        for opt in param.opts  # the --no-x of a --x/--no-x flag goes with it
        if opt.startswith("--") and opt != "--help" and f"`{opt}" not in README
        and f"/{opt}`" not in README and f"{opt}`" not in README
    ]  # fmt: skip
    assert not missing, f"README.md does not mention {command} {missing}"
