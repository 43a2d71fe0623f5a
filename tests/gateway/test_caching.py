"""Coalescing and the HTTP cache, through real HTTP against the demo sources: what is kept between requests,
what is shared between concurrent ones, and what never crosses from one caller to another."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from demo.runner import Municipal
from graph.cache import MemoryStore
from graph.errors import SourceError
from graph.source import Source
from tests.conftest import Gateway, employee_headers, gateway_settings

README = Path(__file__).resolve().parents[2] / "README.md"
HAL = {"Accept": "application/hal+json"}
PERSON = 'query($bsn: String!) { persoon(burgerservicenummer: $bsn) { naam { volledigeNaam } } }'
KLANTCONTACT = "https://register.gemeente.example/verwerkingsactiviteiten/klantcontact/1"
# what a deployment would configure; the session's gateway keeps caching off (tests.conftest.gateway_settings)
TTL = {"catalogi": 3600, "bag": 86400, "zaken": 30, "documenten": 30, "besluiten": 30, "brp": 60}


def readme_query() -> str:
    found = re.search(r"```graphql\n(.*?)```", README.read_text(), re.S)
    assert found, "README has no graphql example"
    return found.group(1)


def cached_config(demo: Municipal, tables: dict[str, dict[str, Any]] | None = None, **gateway: Any) -> dict[str, Any]:
    """The demo's configuration with caching on (``TTL``), ``tables`` merged into its source tables."""
    sources = {name: dict(table) for name, table in demo.config["sources"].items()}
    for name, ttl in TTL.items():
        sources[name]["cache_ttl_s"] = ttl
    for name, extra in (tables or {}).items():
        sources[name].update(extra)
    return {**demo.config, "sources": sources, "gateway": {**demo.config.get("gateway", {}), **gateway}}


@pytest.fixture
async def make_gateway(demo: Municipal) -> AsyncIterator[Callable[..., Gateway]]:
    """Gateways of the test's own (each with an empty cache), closed at the end."""
    made: list[Gateway] = []

    def make(tables: dict[str, dict[str, Any]] | None = None, **gateway: Any) -> Gateway:
        gw = Gateway(demo, cached_config(demo, tables, **gateway), caching=True)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        await gw.client.aclose()
        await gw.app.state.sources.aclose()


def a_person(demo: Municipal) -> str:
    return next(iter(demo.data.personen))


def an_address(demo: Municipal) -> str:
    return next(p.nummeraanduiding_id for p in demo.data.personen.values() if p.nummeraanduiding_id)


def repeated(calls: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Calls that went to a source more than once (same method, path, query and body)."""
    keys = Counter((c["method"], c["path"], c["query"], orjson.dumps(c["body"])) for c in calls)
    return [key for key, count in keys.items() if count > 1]


async def test_a_repeated_query_asks_only_the_personal_sources_again(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    query = readme_query()
    await gw.query("{ zaken(first: 1) { totalCount } }")  # the Zaken product's OpenAPI document, read once
    gw.reset_counts()
    first = await gw.query(query)
    assert "errors" not in first, first["errors"]
    asked = {name: len(gw.calls(name)) for name in ("catalogi", "bag", "brp", "zaken")}
    assert all(asked.values()), asked
    gw.reset_counts()
    second = await gw.query(query)
    assert second == first
    assert gw.calls("catalogi") == [] and gw.calls("bag") == [] and gw.calls("zaken") == []
    assert len(gw.calls("brp")) == asked["brp"]  # personal data stays per request


async def test_concurrent_identical_queries_fetch_each_resource_once(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    query = readme_query()
    await gw.query("{ zaken(first: 1) { totalCount } }")
    for name in ("zaken", "catalogi", "brp", "bag"):
        demo.simulators[name].behaviour.latency_ms = 150  # calls overlap for certain (reset after the test)
    gw.reset_counts()
    answers = await asyncio.gather(*(gw.query(query) for _ in range(50)))
    assert all(a == answers[0] for a in answers) and "errors" not in answers[0]
    for name in ("zaken", "catalogi", "bag", "documenten", "brp"):  # the BRP too: identical calls in flight
        assert repeated(gw.calls(name)) == [], name
    assert gw.calls("brp") and gw.calls("bag") and gw.calls("catalogi")


async def test_an_expired_zgw_entry_is_revalidated_with_its_etag(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway({"catalogi": {"cache_ttl_s": 0.5}, "zaken": {"cache_ttl_s": 0}})
    query = "{ zaken(first: 3) { nodes { zaaktype { omschrijving } } } }"
    gw.reset_counts()
    first = await gw.query(query)
    fetched = gw.calls("catalogi")
    assert fetched and all(c["status"] == 200 and "if-none-match" not in c["headers"] for c in fetched)
    await asyncio.sleep(0.6)
    gw.reset_counts()
    assert await gw.query(query) == first
    revalidated = gw.calls("catalogi")
    assert sorted(c["path"] for c in revalidated) == sorted(c["path"] for c in fetched)
    assert all(c["status"] == 304 and c["headers"]["if-none-match"].startswith('"') for c in revalidated)
    gw.reset_counts()
    assert await gw.query(query) == first
    assert gw.calls("catalogi") == []  # the 304 made the entries fresh again


class CacheControl(httpx.AsyncBaseTransport):
    """Real HTTP to the demo source, its answers given the ``Cache-Control`` a product might send."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        response.headers["Cache-Control"] = self.value
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize(("cache_control", "calls"), [
    ("no-store", 2),
    ("private, max-age=600", 2),  # the BAG's answers are shared, not per caller: private ones are not kept
    ("no-cache", 2),  # kept, but asked again before each use (and the BAG sends no ETag to revalidate with)
    ("max-age=0", 2),
    ("public, max-age=600", 1),
    ("", 1),  # nothing said: the configured cache_ttl_s
])
async def test_the_sources_cache_control_is_honoured(demo: Municipal, cache_control: str, calls: int) -> None:
    config = gateway_settings(cached_config(demo), caching=True).sources["bag"]
    source = Source(config, transport=CacheControl(cache_control), store=MemoryStore())
    adres = an_address(demo)
    sim = demo.simulators["bag"]
    sim.reset_counts()
    try:
        first = await source.get(f"/adressen/{adres}", headers=HAL)
        assert await source.get(f"/adressen/{adres}", headers=HAL) == first
    finally:
        await source.aclose()
    assert len([r for r in sim.recent if r["path"].endswith(f"/adressen/{adres}")]) == calls


async def test_callers_never_share_a_personal_answer(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    gw = make_gateway({"brp": {"cache_personal": True}})
    bsn = a_person(demo)
    alice, bob = employee_headers(demo, subject="alice"), employee_headers(demo, subject="bob")
    gw.reset_counts()
    answer = await gw.query(PERSON, {"bsn": bsn}, headers=alice)
    assert answer["data"]["persoon"]["naam"]["volledigeNaam"]
    assert len(gw.calls("brp")) == 1
    assert await gw.query(PERSON, {"bsn": bsn}, headers=bob) == answer
    assert len(gw.calls("brp")) == 2  # Bob's own call: Alice's answer is hers
    assert await gw.query(PERSON, {"bsn": bsn}, headers={**alice, "X-Verwerkingsactiviteit": KLANTCONTACT}) == answer
    assert len(gw.calls("brp")) == 3  # and kept per purpose too
    assert await gw.query(PERSON, {"bsn": bsn}, headers=alice) == answer
    assert await gw.query(PERSON, {"bsn": bsn}, headers=bob) == answer
    assert len(gw.calls("brp")) == 3  # each caller's own entry
    users = {c["headers"]["x-nlx-request-user-id"] for c in gw.calls("brp")}
    assert users == {"alice", "bob"}


async def test_personal_answers_are_not_kept_unless_configured(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    bsn = a_person(demo)
    gw.reset_counts()
    for _ in range(2):
        await gw.query(PERSON, {"bsn": bsn})
    assert len(gw.calls("brp")) == 2
    store: MemoryStore = gw.app.state.cache
    assert store.size[0] == 0


async def test_zgw_answers_are_kept_per_caller(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    """ZGW tokens name the caller (``user_id``), so the source may answer each caller differently; the demo
    says Catalogi answer every caller alike (``cache_per_caller = false``: Open Zaak authorises per
    application), so those are shared."""
    gw = make_gateway()
    query = "{ zaken(first: 2) { nodes { identificatie zaaktype { omschrijving } } } }"
    await gw.query(query, headers=employee_headers(demo, subject="alice"))
    gw.reset_counts()
    await gw.query(query, headers=employee_headers(demo, subject="bob"))
    assert gw.calls("zaken") and gw.calls("catalogi") == []
    gw.reset_counts()
    await gw.query(query, headers=employee_headers(demo, subject="alice"))
    assert gw.calls("zaken") == [] and gw.calls("catalogi") == []


async def test_the_processing_log_records_answers_from_the_cache(
    make_gateway: Callable[..., Gateway], demo: Municipal, tmp_path: Path
) -> None:
    log = tmp_path / "logboek.jsonl"
    gw = make_gateway({"brp": {"cache_personal": True}}, logboek={"sink": "jsonl", "path": str(log)})
    bsn = a_person(demo)
    gw.reset_counts()
    first = await gw.query(PERSON, {"bsn": bsn})
    assert await gw.query(PERSON, {"bsn": bsn}) == first
    assert len(gw.calls("brp")) == 1  # the second came from the cache
    records = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert [r["attributes"]["dpl.core.data_subject_id"] for r in records] == [bsn, bsn]
    assert len({r["trace_id"] for r in records}) == 2  # one per request


# -- coalescing, at the source ----------------------------------------------------------------------------------


async def test_a_cancelled_first_caller_leaves_the_shared_call_to_the_others(demo: Municipal) -> None:
    source = Source(gateway_settings(demo.config).sources["bag"])
    adres = an_address(demo)
    sim = demo.simulators["bag"]
    sim.behaviour.latency_ms = 200
    sim.reset_counts()
    try:
        first = asyncio.create_task(source.get(f"/adressen/{adres}", headers=HAL))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(source.get(f"/adressen/{adres}", headers=HAL))
        await asyncio.sleep(0.05)
        first.cancel()
        found = await second
        assert adres in orjson.dumps(found).decode()
        with pytest.raises(asyncio.CancelledError):
            await first
    finally:
        await source.aclose()
    assert len(sim.recent) == 1


async def test_a_failure_is_shared_and_not_kept(demo: Municipal) -> None:
    source = Source(gateway_settings(cached_config(demo), caching=True).sources["bag"], store=MemoryStore())
    adres = an_address(demo)
    sim = demo.simulators["bag"]
    sim.behaviour.latency_ms, sim.behaviour.error_rate = 100, 1.0
    sim.reset_counts()
    try:
        failed = await asyncio.gather(*(source.get(f"/adressen/{adres}", headers=HAL) for _ in range(5)),
                                      return_exceptions=True)
        assert all(isinstance(e, SourceError) and e.code == "UPSTREAM_ERROR" for e in failed)
        assert len(sim.recent) == 1
        sim.behaviour.error_rate = 0.0
        assert adres in orjson.dumps(await source.get(f"/adressen/{adres}", headers=HAL)).decode()
    finally:
        await source.aclose()
    assert len(sim.recent) == 2


async def test_calls_that_change_something_are_never_shared(demo: Municipal) -> None:
    source = Source(gateway_settings(demo.config).sources["brp"])
    bsn = a_person(demo)
    sim = demo.simulators["brp"]
    sim.behaviour.latency_ms = 100
    sim.reset_counts()
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": ["naam"]}
    try:
        await asyncio.gather(*(source.post("/personen", body, idempotent=False) for _ in range(3)))
        assert len(sim.recent) == 3
        await asyncio.gather(*(source.post("/personen", body) for _ in range(3)))
        assert len(sim.recent) == 4
    finally:
        await source.aclose()
