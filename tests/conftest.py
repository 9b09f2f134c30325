"""Shared fixtures: paths to the shared real data, the default scenario run once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from luchtwacht.eval.truth import TruthMatcher
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario import default_scenario
from luchtwacht.store.recorder import Recorder

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


@dataclass
class DemoRun:
    """The default scenario run once, with its truth pairing and its recording."""

    pipeline: Pipeline
    matcher: TruthMatcher
    recording: Path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The default scenario, run headless and unthrottled once for all end-to-end assertions."""
    scenario = default_scenario(seed=7)
    path = tmp_path_factory.mktemp("demo") / "run.sqlite"
    recorder = Recorder(path)
    p = Pipeline(scenario, recorder=recorder)
    matcher = TruthMatcher(scenario.targets, max_dist_m=150.0)
    p.run(scenario.duration_s, on_cycle=lambda q: matcher.observe(q.t_s, q.views))
    p.finish()
    recorder.close()
    return DemoRun(p, matcher, path)
