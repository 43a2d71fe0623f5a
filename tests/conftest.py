"""Shared fixtures: the simulated municipality, served over real HTTP on loopback ports."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from demo.conformance import SHARED_SPECS as SHARED_SPECS  # the one definition; tests.oas reads it from here
from demo.generate import generate
from demo.issuer import DEMO_PURPOSE
from demo.model import Municipality
from demo.runner import Municipal, build, free_port, running_in_thread
from demo.simulator import VIOLATION_OBSERVERS, Simulator
from graph.caller import PURPOSE_HEADER

if TYPE_CHECKING:
    from demo.issuer import IssuerSimulator
    from graph.config import GatewayConfig

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


@pytest.fixture(scope="session", autouse=True)
def _gateway_requests_conform() -> Iterator[None]:
    """At the end, the session fails if the gateway (``User-Agent: gemeentegraaf/...``) sent any simulator, in
    any world a test built, a request the official document of its API forbids. The tests' own deliberate
    requests (their own clients) do not count."""
    from_gateway: list[dict[str, Any]] = []

    def observe(sim: Simulator, entry: dict[str, Any]) -> None:
        if entry["user_agent"].startswith("gemeentegraaf/"):
            from_gateway.append(entry)

    VIOLATION_OBSERVERS.append(observe)
    try:
        yield
    finally:
        VIOLATION_OBSERVERS.remove(observe)
    grouped = Counter(f"{e['source']}: {e['operation']}: {'; '.join(e['messages'])}" for e in from_gateway)
    assert not grouped, "the gateway sent requests the official documents forbid:\n" + "\n".join(
        f"{count} x {what}" for what, count in grouped.most_common())


@pytest.fixture(autouse=True)
def _calm_sources(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reset injected behaviour after each test that used the demo, so faults never leak."""
    yield
    if "demo" in request.fixturenames:
        world: Municipal = request.getfixturevalue("demo")
        for sim in {id(s): s for s in world.simulators.values()}.values():
            sim.behaviour.__init__()  # type: ignore[misc]


# -- the gateway over the demo sources ------------------------------------------------------------------


LOGBOEK = Path(tempfile.mkdtemp(prefix="gemeentegraaf-tests-")) / "logboek.jsonl"  # not the clone's var/
PURPOSE = DEMO_PURPOSE


def gateway_settings(
    config: Mapping[str, Any], caching: bool = False, notify: bool = False, responses: bool = False
) -> GatewayConfig:
    from graph.config import from_mapping

    return from_mapping(gateway_mapping(config, caching, notify, responses),
                        {"GEMEENTEGRAAF_AUTH_ISSUER": str(config["sources"]["issuer"]["url"])})


def gateway_mapping(
    config: Mapping[str, Any], caching: bool = False, notify: bool = False, responses: bool = False
) -> dict[str, Any]:
    """A world's configuration as the gateway reads it, its ``[gateway.auth] issuer`` pointed at the port that
    world's issuer really listens on (test worlds move every host to a free port), and its processing log
    written to a temporary file rather than the clone's ``var/``. Caching between requests is off
    (``cache_ttl_s = 0``) unless ``caching``, and so are retries and the circuit breaker unless a source's table
    sets them, so tests that count calls see every call. Without ``notify`` the gateway does not subscribe with
    the Notificaties API (the demo's callback URL names a port no test gateway listens on). Whole answers are
    kept (``[gateway.response_cache]``) only with ``responses``."""
    gateway = dict(config.get("gateway", {}))
    gateway["logboek"] = {"path": str(LOGBOEK), **gateway.get("logboek", {})}  # a test's own path wins
    sources = {name: dict(table) for name, table in config.get("sources", {}).items()}
    if not notify:
        # the Notificaties API is a source only for the subscription (graph.config.validate: no unused sources)
        named = gateway.pop("notifications", {}).get("source")
        if named in sources:
            sources[named]["demo_only"] = True
    gateway["response_cache"] = {**gateway.get("response_cache", {}), "enabled": responses}
    # no retries and no breaker unless a test asks: injected faults must reach the test, and a circuit one
    # test opens must not stay open for the next
    sources = {name: {"retries": 0, "breaker_failures": 1_000_000, **table, **({} if caching else {"cache_ttl_s": 0})}
               for name, table in sources.items()}
    return {**config, "gateway": gateway, "sources": sources}


def employee_headers(world: Municipal, **mint: Any) -> dict[str, str]:
    """What a client of the demo sends: an employee's bearer token (every scope unless ``mint`` says otherwise;
    ``IssuerSimulator.mint`` takes the keywords) and the demo purpose."""
    issuer: IssuerSimulator = world.simulators["issuer"]  # type: ignore[assignment]
    return {"Authorization": f"Bearer {issuer.mint(**{'lifetime_s': 86400, **mint})}", PURPOSE_HEADER: PURPOSE}


class Gateway:
    """The gateway app in-process (ASGI), talking real HTTP to the demo sources.

    Its client sends an employee token with every scope and the demo purpose by default (``headers``);
    ``query(..., headers={...})`` adds or replaces headers for one request, and a value of None leaves one out.
    ``config`` replaces the world's configuration (a test's own timeouts or sources).
    """

    def __init__(
        self,
        world: Municipal,
        config: Mapping[str, Any] | None = None,
        caching: bool = False,
        responses: bool = False,
    ) -> None:
        import httpx

        from graph.app import create_app

        self.world = world
        self.config = gateway_settings(config if config is not None else world.config, caching, responses=responses)
        self.app = create_app(self.config)
        self.headers = employee_headers(world)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://gateway",
                                        headers=self.headers)

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, headers: Mapping[str, str | None] | None = None
    ) -> dict[str, Any]:
        """POST a query; returns the whole JSON answer (data and errors)."""
        request = self.client.build_request("POST", "/graphql", json={"query": query, "variables": variables or {}})
        for name, value in (headers or {}).items():
            if value is None:
                request.headers.pop(name, None)
            else:
                request.headers[name] = value
        response = await self.client.send(request)
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


# -- where the official specs came from, before and after the run (the texts live in tests/oas.py) ------------


def pytest_report_header() -> list[str]:
    from tests.oas import header_lines

    return header_lines()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Also under ``-q``, which hides the header: which checks a run without the specs left out."""
    from tests.oas import summary_lines

    terminalreporter.write_sep("-", "official specs")
    for line in summary_lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``REDIS_URL`` when it is set and answers, else a ``redis-server`` of the session's own (never the
    machine's own server); without the binary, the tests that need it skip, saying why."""
    from tests.redis_server import RedisServer, _answers, _binary

    given = os.environ.get("REDIS_URL")
    if given and _answers(given):
        yield given
        return
    server = RedisServer(_binary("REDIS_URL names no reachable server either, and this test needs a real Redis"),
                         tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """An ASGI app under uvicorn on 127.0.0.1 (a free port unless given; lifespan on), in a thread of its own,
    as a deployment runs it, for as long as the block runs; yields its base URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the gateway did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
