"""Shared fixtures: the simulated municipality, served over real HTTP on loopback ports."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


# -- the gateway over the demo sources ------------------------------------------------------------------


class Gateway:
    """The gateway app in-process (ASGI), talking real HTTP to the demo sources."""

    def __init__(self, world: Municipal) -> None:
        import httpx

        from graph.app import create_app
        from graph.config import from_mapping

        self.world = world
        self.config = from_mapping(world.config, {})
        self.app = create_app(self.config)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gateway")

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a query; returns the whole JSON answer (data and errors)."""
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}})
        assert response.status_code in (200, 400), response.text
        result: dict[str, Any] = response.json()
        return result

    def reset_counts(self) -> None:
        for sim in {id(s): s for s in self.world.simulators.values()}.values():
            sim.reset_counts()

    def calls(self, source: str) -> list[dict[str, Any]]:
        """Requests the named source received since the last reset (only that source's base path)."""
        sim = self.world.simulators[source]
        base = urlsplit(self.world.urls[source]).path
        return [r for r in sim.recent if r["path"].startswith(base + "/") or r["path"] == base]


@pytest.fixture(scope="session")
async def gateway(demo: Municipal) -> AsyncIterator[Gateway]:
    gw = Gateway(demo)
    yield gw
    await gw.client.aclose()
    await gw.app.state.sources.aclose()
