"""Shared fixtures: the simulated municipality, served over real HTTP on loopback ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.generate import generate
from demo.model import Municipality
from demo.runner import Municipal, build, running_in_thread

SHARED_SPECS = Path(os.environ.get("GEMEENTEGRAAF_SPECS", Path(__file__).resolve().parents[2] / "shared" / "specs"))
TEST_SEED = 7
TEST_SCALE = float(os.environ.get("GEMEENTEGRAAF_TEST_SCALE", "0.25"))


@pytest.fixture(scope="session")
def municipality() -> Municipality:
    return generate(seed=TEST_SEED, scale=TEST_SCALE)


@pytest.fixture(scope="session")
def demo(municipality: Municipality) -> Iterator[Municipal]:
    """Every simulator, each on a free port; ``demo.urls[name]`` is a source's base URL."""
    world = build(municipality, ephemeral_ports=True)
    with running_in_thread(world) as running:
        yield running


@pytest.fixture(autouse=True)
def _calm_sources(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reset injected behaviour after each test that used the demo, so faults never leak."""
    yield
    if "demo" in request.fixturenames:
        world: Municipal = request.getfixturevalue("demo")
        for sim in {id(s): s for s in world.simulators.values()}.values():
            sim.behaviour.__init__()  # type: ignore[misc]
