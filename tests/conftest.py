"""Shared fixtures: paths to the shared real data, the default scenario run once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_dir(*parts: str) -> Path:
    """A directory under ../shared, or skip with a clear reason when the checkout has none."""
    path = SHARED.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(
            f"shared data not available at {path} (tests read ../shared relative to the project root)"
        )
    return path


@pytest.fixture(scope="session")
def shared() -> type[SharedData]:
    """Access to ../shared data directories (skips when absent)."""
    return SharedData


class SharedData:
    """Namespace handed to tests by the ``shared`` fixture."""

    dir = staticmethod(shared_dir)


@pytest.fixture(scope="session")
def default_run() -> Pipeline:
    """The default scenario, run headless and unthrottled once for all end-to-end assertions."""
    p = Pipeline(default_scenario(seed=7))
    p.run(p.scenario.duration_s)
    return p
