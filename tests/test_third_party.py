"""docs/THIRD-PARTY.md stays what scripts/third_party.py makes of the installed packages.

The script is run as a user runs it (a subprocess of this interpreter), against the real
installed metadata; no network. A pin changed in pyproject.toml without the table regenerated
fails here, with the command that fixes it.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "third_party.py"
COMMITTED = REPO / "docs" / "THIRD-PARTY.md"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


def _rows(text: str) -> dict[str, list[str]]:
    """Table rows keyed by canonical package name: [name, version, licence, from, home, by]."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| Package "):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows[canonicalize_name(cells[0])] = cells
    return rows


def _pinned_runtime() -> list[Requirement]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(line) for line in pyproject["project"]["dependencies"]]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("third_party") / "THIRD-PARTY.md"
    done = _run("--out", str(out))
    assert done.returncode == 0, done.stderr
    return out.read_text(encoding="utf-8")


def _unpinned_versions_hidden(text: str) -> str:
    """The table with the versions of packages pyproject.toml does not pin replaced by ``*``.

    Only direct dependencies are pinned: a new release of an indirect one (certifi, …) installed
    on a fresh machine must not fail the suite; its name and licence are still compared.
    """
    pinned = {canonicalize_name(r.name) for r in _pinned_runtime()}
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith("| ") and not line.startswith("| Package "):
            cells = line.split(" | ")
            if canonicalize_name(cells[0].lstrip("| ").strip()) not in pinned:
                cells[1] = "*"
            line = " | ".join(cells)
        out.append(line)
    return "".join(out)


def test_committed_table_equals_a_fresh_one(regenerated):
    committed = _unpinned_versions_hidden(COMMITTED.read_text(encoding="utf-8"))
    regenerated = _unpinned_versions_hidden(regenerated)
    if committed != regenerated:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                regenerated.splitlines(keepends=True),
                "docs/THIRD-PARTY.md (committed)",
                "regenerated from the installed packages",
            )
        )
        pytest.fail(
            "docs/THIRD-PARTY.md is stale; run .venv/bin/python scripts/third_party.py\n" + diff
        )


def test_every_pinned_runtime_dependency_is_listed_at_its_pin():
    rows = _rows(COMMITTED.read_text(encoding="utf-8"))
    for req in _pinned_runtime():
        pins = [s.version for s in req.specifier if s.operator == "=="]
        assert len(pins) == 1, f"pyproject.toml: {req} is not pinned with =="
        row = rows.get(canonicalize_name(req.name))
        assert row is not None, f"{req.name} is missing from docs/THIRD-PARTY.md"
        assert row[1] == pins[0], f"{req.name}: table says {row[1]}, pyproject pins {pins[0]}"
        assert "luchtwacht" in row[5].split(", "), f"{req.name}: not shown as required by us"
        assert row[2] != "not stated", f"{req.name}: no licence found in its metadata"


def test_only_the_runtime_closure_is_listed(regenerated):
    rows = _rows(regenerated)
    # Installed here (dev extra) but needed only by the tests: must not be in the runtime table.
    for dev_only in ("pytest", "hypothesis", "mypy", "ruff", "playwright", "schemathesis"):
        assert canonicalize_name(dev_only) not in rows, dev_only
    assert "luchtwacht" not in rows  # our own licence is LICENSE, not a third party's
    # Transitive members are reached: numba's compiler backend, pydantic's core.
    assert {"llvmlite", "pydantic-core"} <= rows.keys()


def test_gpl_and_lgpl_members_are_called_out(regenerated):
    strong = next(line for line in regenerated.splitlines() if line.startswith("- strong"))
    weak = next(line for line in regenerated.splitlines() if line.startswith("- weak"))
    assert "pyModeS 3.6.1" in strong
    assert "pymavlink" in weak
    assert "pymavlink" not in strong
    assert "numpy" not in strong + weak


def test_check_mode_tells_a_stale_file_from_a_fresh_one(tmp_path, regenerated):
    fresh = tmp_path / "fresh.md"
    fresh.write_text(regenerated, encoding="utf-8")
    assert _run("--check", "--out", str(fresh)).returncode == 0
    stale = tmp_path / "stale.md"
    stale.write_text(regenerated.replace("| 3.6.1 |", "| 3.6.0 |"), encoding="utf-8")
    done = _run("--check", "--out", str(stale))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "stale" in done.stderr
    assert stale.read_text(encoding="utf-8") != regenerated  # --check writes nothing


def test_a_root_that_is_not_installed_is_one_line_not_a_traceback(tmp_path):
    out = tmp_path / "never.md"
    done = _run("--root", "no-such-distribution-here", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr == "third_party: no-such-distribution-here is not installed here\n"
    assert not out.exists()
