"""The response cache, through real HTTP against the demo sources: dashboard polls cost the sources one refresh
per TTL window (counted by the simulators' own request counters), a stale answer is served at once while one
refresh runs, personal operations are never kept, and GET answers carry an ETag a client can revalidate.

Timing is only ever a bound (how many TTL windows a run spanned), never asserted: what is asserted are the
sources' counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import strawberry
from graphql import GraphQLSchema

from demo.runner import Municipal
from graph.authz import requires
from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError
from graph.response_cache import ResponseCache, decide, response_cached
from schema.root import schema as gateway_schema
from tests.conftest import Gateway, employee_headers

STATS = ("query Dashboard($g: [MeldingDimensie!]!) "
         "{ meldingenStatistiek(groepeerOp: $g) { totaal groepen { status aantal } } }")
ZAKEN_STATS = "{ zakenStatistiek(groepeerOp: [OPEN]) { totaal groepen { open aantal } } }"
PERSON = "query($bsn: String!) { persoon(burgerservicenummer: $bsn) { naam { volledigeNaam } } }"
BY_STATUS = {"g": ["STATUS"]}
TTL_S = 1.0  # short, so ten seconds of polling span about ten windows


# -- helpers ----------------------------------------------------------------------------------------------


async def upstream(demo: Municipal, source: str) -> int:
    """Requests the simulator serving ``source`` has counted (its ``/_demo/requests`` control plane)."""
    parts = urlsplit(demo.urls[source])
    async with httpx.AsyncClient() as client:
        found = await client.get(f"{parts.scheme}://{parts.netloc}/_demo/requests")
    total: int = found.json()["total"]
    return total


def responses_of(gw: Gateway) -> ResponseCache:
    found = gw.app.state.responses
    assert isinstance(found, ResponseCache)
    return found


async def eventually(condition: Callable[[], Any], seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return bool(await condition())


def settings(demo: Municipal, **table: Any) -> dict[str, Any]:
    """The demo's configuration with a response cache whose dashboard TTLs are ``TTL_S``."""
    gateway = dict(demo.config.get("gateway", {}))
    cache = {"ttl": {"meldingenStatistiek": TTL_S, "zakenStatistiek": TTL_S}, "stale_s": 60, **table.pop("rc", {})}
    gateway["response_cache"] = cache
    gateway.update(table)
    return {**demo.config, "gateway": gateway}


@pytest.fixture
async def make_gateway(demo: Municipal) -> AsyncIterator[Callable[..., Gateway]]:
    """Gateways of the test's own, each with an empty in-process store unless the test names a Redis; the
    sources' HTTP cache is off, so every run of an operation reaches the sources."""
    made: list[Gateway] = []

    def make(**table: Any) -> Gateway:
        gw = Gateway(demo, settings(demo, **table), responses=True)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        await responses_of(gw).aclose()
        await gw.client.aclose()
        await gw.app.state.sources.aclose()
        await gw.app.state.cache.aclose()


async def post(gw: Gateway, query: str, variables: dict[str, Any] | None = None,
               headers: Mapping[str, str | None] | None = None) -> httpx.Response:
    """POST an operation; ``headers`` replace the client's, and a None leaves one out."""
    request = gw.client.build_request("POST", "/graphql", json={"query": query, "variables": variables or {}})
    for name, value in (headers or {}).items():
        if value is None:
            request.headers.pop(name, None)
        else:
            request.headers[name] = value
    answer = await gw.client.send(request)
    assert answer.status_code == 200, answer.text
    return answer


# -- polling ----------------------------------------------------------------------------------------------


async def warm(gw: Gateway, demo: Municipal, query: str, variables: dict[str, Any], source: str) -> int:
    """Runs the operation once (a miss); returns the calls one run of it costs."""
    before = await upstream(demo, source)
    first = (await post(gw, query, variables)).json()
    assert "errors" not in first, first
    one_run = await upstream(demo, source) - before
    assert one_run > 0
    return one_run


async def poll(gateways: list[Gateway], demo: Municipal, query: str, variables: dict[str, Any], polls: int,
               source: str) -> tuple[int, int]:
    """``polls`` polls over about ten seconds, round robin over ``gateways``; returns the calls the sources got
    meanwhile (every refresh complete), and how many TTL windows the polling spanned."""
    before = await upstream(demo, source)
    start = time.monotonic()
    for i in range(polls):
        answer = (await post(gateways[i % len(gateways)], query, variables)).json()
        assert "errors" not in answer, answer
        await asyncio.sleep(10.0 / polls)
    for gw in gateways:
        await responses_of(gw).settled()
    windows = math.ceil((time.monotonic() - start) / TTL_S)
    return await upstream(demo, source) - before, windows


async def test_a_polled_dashboard_costs_one_refresh_per_ttl_window(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    one_run = await warm(gw, demo, STATS, BY_STATUS, "signalen")
    calls, windows = await poll([gw], demo, STATS, BY_STATUS, 100, "signalen")
    assert calls % one_run == 0, "every refresh is one whole run of the operation"
    refreshes = calls // one_run
    assert 1 <= refreshes <= windows, (refreshes, windows)
    stats = responses_of(gw).stats
    assert stats["fresh"] + stats["stale"] == 100 and stats["miss"] == 1, stats
    assert stats["refreshed"] == refreshes


async def test_a_zaken_dashboard_likewise(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    gw = make_gateway()
    one_run = await warm(gw, demo, ZAKEN_STATS, {}, "zaken")
    calls, windows = await poll([gw], demo, ZAKEN_STATS, {}, 30, "zaken")
    # the first run also read the source's OpenAPI document once, so a refresh may cost less than it did
    refreshes = responses_of(gw).stats["refreshed"]
    assert 1 <= refreshes <= windows and 0 < calls <= refreshes * one_run, (calls, refreshes, one_run, windows)


async def test_a_stale_poll_is_answered_at_once_and_a_refresh_follows(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    cache = responses_of(gw)
    first = (await post(gw, STATS, BY_STATUS)).json()
    await asyncio.sleep(TTL_S + 0.1)  # now stale
    # the source counts a call when it answers, and now answers only after 1.5 s: a poll that waited on it
    # would see the count move before its own answer
    demo.simulators["signalen"].behaviour.latency_ms = 1500
    before = await upstream(demo, "signalen")
    stale = await post(gw, STATS, BY_STATUS)
    assert await upstream(demo, "signalen") == before, "the stale poll waited on the source"
    assert stale.json() == first
    assert stale.headers["cache-control"] == "private, max-age=0"
    assert cache.stats["stale"] == 1
    assert await eventually(lambda: _moved(demo, before)), "no refresh followed the stale poll"
    await cache.settled()
    refreshed = await upstream(demo, "signalen")
    assert cache.stats["refreshed"] == 1
    again = await post(gw, STATS, BY_STATUS)  # fresh again: served without asking
    assert again.json() == first
    assert await upstream(demo, "signalen") == refreshed
    assert cache.stats["fresh"] == 1


async def test_identical_polls_at_once_run_once(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    gw = make_gateway()
    one_run = await warm(make_gateway(), demo, STATS, BY_STATUS, "signalen")  # what one run costs, elsewhere
    await post(gw, "{ __typename }")  # the new gateway reads the issuer's keys once, before the burst
    demo.simulators["signalen"].behaviour.latency_ms = 300  # so the ten polls are in flight together
    before = await upstream(demo, "signalen")
    answers = await asyncio.gather(*(post(gw, STATS, BY_STATUS) for _ in range(10)))
    assert await upstream(demo, "signalen") - before == one_run
    assert len({a.content for a in answers}) == 1 and all(a.headers["etag"] for a in answers)
    assert responses_of(gw).stats["miss"] == 10


async def _moved(demo: Municipal, before: int) -> bool:
    return await upstream(demo, "signalen") > before


async def test_a_failed_refresh_keeps_the_stale_answer_and_says_so(
    make_gateway: Callable[..., Gateway], demo: Municipal, caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway()
    cache = responses_of(gw)
    first = (await post(gw, STATS, BY_STATUS)).json()
    await asyncio.sleep(TTL_S + 0.1)
    demo.simulators["signalen"].behaviour.error_rate = 1.0
    with caplog.at_level(logging.WARNING, logger="graph.response_cache"):
        assert (await post(gw, STATS, BY_STATUS)).json() == first
        await cache.settled()
    assert cache.stats["refresh_failed"] == 1
    assert any("refreshing" in r.getMessage() and "stale answer" in r.getMessage() for r in caplog.records)
    tried = await upstream(demo, "signalen")
    # the failed try holds the next one off for a TTL: polls meanwhile get the stale answer, and ask nothing
    for _ in range(5):
        assert (await post(gw, STATS, BY_STATUS)).json() == first
    await cache.settled()
    assert await upstream(demo, "signalen") == tried
    demo.simulators["signalen"].behaviour.error_rate = 0.0
    await asyncio.sleep(TTL_S + 0.1)
    assert (await post(gw, STATS, BY_STATUS)).json() == first
    await cache.settled()
    assert cache.stats["refreshed"] == 1


# -- what is never kept -----------------------------------------------------------------------------------


async def test_personal_operations_are_never_kept(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    gw = make_gateway()
    bsn = next(iter(demo.data.personen))
    citizen: dict[str, str | None] = {**employee_headers(demo, bsn=bsn), PURPOSE_HEADER: None}
    asked: list[tuple[str, str, dict[str, Any], dict[str, str | None]]] = [
        ("brp", PERSON, {"bsn": bsn}, {}),
        ("zaken", "{ zaken(first: 2) { nodes { rollen { persoon { naam { volledigeNaam } } } } } }", {}, {}),
        # a dashboard field in the same document as a person: the whole document is personal
        ("signalen", "query($bsn: String!) { meldingenStatistiek(groepeerOp: []) { totaal } "
                     "persoon(burgerservicenummer: $bsn) { naam { volledigeNaam } } }", {"bsn": bsn}, {}),
        ("brp", "{ me { persoon { burgerservicenummer } } }", {}, citizen),
    ]
    for source, query, variables, headers in asked:
        for _ in range(2):
            before = await upstream(demo, source)
            answer = await post(gw, query, variables, headers)
            assert "errors" not in answer.json(), (query, answer.json())
            assert await upstream(demo, source) > before, f"{query} was answered without asking {source}"
            assert answer.headers["cache-control"] == "no-store" and "etag" not in answer.headers
    assert responses_of(gw).stats == {}


async def test_callers_with_other_scopes_get_other_entries(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    one = employee_headers(demo, scopes=["signalen:statistiek"])
    two = employee_headers(demo, scopes=["signalen:statistiek", "bag:lezen"])
    same_as_two = employee_headers(demo, scopes=["bag:lezen", "signalen:statistiek"], subject="someone-else")
    counts = []
    for headers in (one, one, two, same_as_two, two):
        before = await upstream(demo, "signalen")
        assert "errors" not in (await post(gw, STATS, BY_STATUS, headers)).json()
        counts.append(await upstream(demo, "signalen") - before)
    assert counts[0] > 0 and counts[1] == 0, counts
    assert counts[2] == counts[0], "another set of scopes shared the first caller's entry"
    assert counts[3] == 0 and counts[4] == 0, "the same scopes (in another order, for another subject) did not"


async def test_variables_are_part_of_the_key_in_any_order(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    query = "query($g: [MeldingDimensie!]!, $b: String) { meldingenStatistiek(groepeerOp: $g, buurt: $b) { totaal } }"
    buurt, other = sorted({m.buurt_code for m in demo.data.meldingen.values()})[:2]
    counts = []
    for variables in ({"g": ["STATUS"], "b": buurt}, {"b": buurt, "g": ["STATUS"]}, {"g": ["STATUS"], "b": other}):
        before = await upstream(demo, "signalen")
        assert "errors" not in (await post(gw, query, variables)).json()
        counts.append(await upstream(demo, "signalen") - before)
    assert counts[0] > 0 and counts[1] == 0 and counts[2] > 0, counts


async def test_answers_with_errors_are_not_kept(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    gw = make_gateway()
    demo.simulators["signalen"].behaviour.error_rate = 1.0
    for _ in range(2):
        before = await upstream(demo, "signalen")
        answer = await post(gw, STATS, BY_STATUS)
        assert answer.json()["errors"] and answer.headers["cache-control"] == "no-store"
        assert await upstream(demo, "signalen") > before


# -- HTTP -------------------------------------------------------------------------------------------------


async def test_a_get_with_the_etag_gets_304(make_gateway: Callable[..., Gateway], demo: Municipal) -> None:
    gw = make_gateway(rc={"ttl": {"meldingenStatistiek": 60}})
    params = {"query": STATS, "variables": '{"g": ["STATUS"]}'}
    accept = {"Accept": "application/json"}
    first = await gw.client.get("/graphql", params=params, headers=accept)
    assert first.status_code == 200 and "errors" not in first.json()
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert first.headers["cache-control"] in (f"private, max-age={n}" for n in (59, 60))
    before = await upstream(demo, "signalen")
    for validators in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await gw.client.get("/graphql", params=params, headers={**accept, "If-None-Match": validators})
        assert again.status_code == 304 and again.content == b"", validators
        assert again.headers["etag"] == etag and again.headers["cache-control"].startswith("private, max-age=")
    changed = await gw.client.get("/graphql", params=params, headers={**accept, "If-None-Match": '"other"'})
    assert changed.status_code == 200 and changed.json() == first.json() and changed.headers["etag"] == etag
    posted = await gw.client.post("/graphql", json={"query": STATS, "variables": BY_STATUS},
                                  headers={"If-None-Match": etag})
    assert posted.status_code == 200 and posted.json() == first.json(), "only a GET is answered 304"
    assert await upstream(demo, "signalen") == before, "GET and POST share the entry"


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_fresh_answer_sent_before_the_view_is_the_views_answer(
    make_gateway: Callable[..., Gateway], demo: Municipal, accept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh kept answer is sent before Strawberry reads the request (``ResponseCache.fresh``): the same
    bytes and headers as the view's answer that stored it, for POST and GET alike, without executing anything."""
    from graph.app import GraphQLEndpoint

    gw = make_gateway(rc={"ttl": {"meldingenStatistiek": 60}})
    headers = {"Accept": accept}
    stored = await post(gw, STATS, BY_STATUS, headers)
    executed: list[bool] = []
    view = GraphQLEndpoint.execute_single

    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(True)
        return await view(self, *args, **kwargs)

    monkeypatch.setattr(GraphQLEndpoint, "execute_single", counting)
    fresh_before = responses_of(gw).stats["fresh"]
    again = await post(gw, STATS, BY_STATUS, headers)
    got = await gw.client.get("/graphql", params={"query": STATS, "variables": '{"g": ["STATUS"]}'}, headers=headers)
    assert executed == [] and responses_of(gw).stats["fresh"] == fresh_before + 2
    for answer in (again, got):
        assert answer.status_code == 200 and answer.content == stored.content
        for name in ("content-type", "etag", "vary", "x-content-type-options"):
            assert answer.headers.get(name) == stored.headers.get(name), name
        assert answer.headers["cache-control"].startswith("private, max-age=")
    assert stored.headers["content-type"].startswith(accept)


async def test_answers_that_are_not_kept_stay_no_store(
    make_gateway: Callable[..., Gateway], demo: Municipal
) -> None:
    gw = make_gateway()
    address = next(p.nummeraanduiding_id for p in demo.data.personen.values() if p.nummeraanduiding_id)
    params = {"query": f'{{ adres(nummeraanduidingIdentificatie: "{address}") {{ postcode }} }}'}
    answer = await gw.client.get("/graphql", params=params, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    assert answer.headers["cache-control"] == "no-store" and "etag" not in answer.headers
    again = await gw.client.get("/graphql", params=params, headers={"Accept": "application/json", "If-None-Match": "*"})
    assert again.status_code == 200


# -- replicas ---------------------------------------------------------------------------------------------


async def test_two_gateways_on_one_redis_refresh_once_per_window(
    make_gateway: Callable[..., Gateway], demo: Municipal, redis_url: str
) -> None:
    shared = {"cache": {"backend": "redis", "url": redis_url}}
    one, two = make_gateway(**shared), make_gateway(**shared)
    query = f"# run {uuid.uuid4().hex}\n{STATS}"  # an entry no earlier run on a shared REDIS_URL left
    one_run = await warm(one, demo, query, BY_STATUS, "signalen")
    warmed = await upstream(demo, "signalen")
    await post(two, query, BY_STATUS)
    assert await upstream(demo, "signalen") == warmed, "the second replica did not use the first one's answer"
    calls, windows = await poll([one, two], demo, query, BY_STATUS, 100, "signalen")
    assert calls % one_run == 0
    refreshes = calls // one_run
    assert 1 <= refreshes <= windows, (refreshes, windows)
    both = responses_of(one).stats + responses_of(two).stats
    assert both["refreshed"] == refreshes and both["refreshed"] > 0
    assert responses_of(one).stats["stale"] > 0 and responses_of(two).stats["stale"] > 0


# -- the decision, against the schema ---------------------------------------------------------------------


TTLS = {"meldingenStatistiek": 60.0, "zakenStatistiek": 300.0}


def decided(query: str, operation: str | None = None, schema: GraphQLSchema | None = None,
            ttls: dict[str, float] | None = None) -> float | None:
    return decide(schema or gateway_schema._schema, query, operation, ttls or TTLS, 4000)


def test_only_queries_whose_every_root_field_is_marked_qualify() -> None:
    stats = "meldingenStatistiek(groepeerOp: []) { totaal }"
    assert decided(f"{{ {stats} }}") == 60.0
    assert decided("{ zakenStatistiek(groepeerOp: [OPEN]) { totaal } }") == 300.0
    assert decided(f"{{ {stats} zakenStatistiek(groepeerOp: [OPEN]) {{ totaal }} __typename }}") == 60.0  # the least
    assert decided(f"query {{ ...F }} fragment F on Query {{ {stats} }}") is not None
    two = f"query A {{ {stats} }} query B {{ persoon(burgerservicenummer: \"1\") {{ burgerservicenummer }} }}"
    assert decided(two, "A") is not None
    assert decided(two, "B") is None
    assert decided(two) is None  # which one runs is not ours to guess
    assert decided(f"{{ {stats} meldingen(first: 1) {{ totalCount }} }}") is None  # unmarked
    assert decided("{ __schema { queryType { name } } }") is None
    assert decided("{ me { persoon { burgerservicenummer } } }") is None
    assert decided("{ meldingenStatistiek(") is None  # does not parse: execution says so


@strawberry.type
class Board:
    total: int = 0

    @strawberry.field(extensions=requires("brp:lezen"))
    def reporter(self) -> str:
        return ""

    @strawberry.field(extensions=requires("bag:lezen"))
    def place(self) -> str:
        return ""


@strawberry.type
class BoardQuery:
    @strawberry.field(metadata=response_cached(5))
    def board(self) -> Board:
        return Board()


def test_a_personal_field_anywhere_below_a_marked_root_disqualifies() -> None:
    schema = strawberry.Schema(BoardQuery)._schema
    ttls = {"board": 5.0}
    assert decided("{ board { total place __typename } }", schema=schema, ttls=ttls) is not None
    assert decided("{ board { total reporter } }", schema=schema, ttls=ttls) is None
    assert decided("{ board { ... on Board { reporter } } }", schema=schema, ttls=ttls) is None
    assert decided("{ board { ...R } } fragment R on Board { reporter }", schema=schema, ttls=ttls) is None


# -- configuration ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"ttl_seconds": 5}, "unknown key"),
        ({"ttl_s": 0}, "ttl_s must be more than 0"),
        ({"stale_s": -1}, "stale_s must be at least 0"),
        ({"enabled": True, "max_bytes": "lots"}, "max_bytes must be a number"),
        ({"ttl": {"persoon": 5}}, "persoon"),  # not marked: a person is never kept, whatever the file says
    ],
)
def test_a_wrong_configuration_is_refused_naming_the_key(demo: Municipal, table: dict[str, Any], says: str) -> None:
    from graph.app import create_app
    from tests.conftest import gateway_settings

    config = gateway_settings({**demo.config, "gateway": {**demo.config["gateway"], "response_cache": table}},
                              responses=True)
    with pytest.raises(ConfigError, match=says):
        create_app(config)


def test_the_environment_overrides_one_value(demo: Municipal) -> None:
    from graph.config import from_mapping
    from graph.response_cache import response_cache_settings

    config = from_mapping(settings(demo), {"GEMEENTEGRAAF_GATEWAY_RESPONSE_CACHE_STALE_S": "7"})
    assert response_cache_settings(config).stale_s == 7.0
    config = from_mapping(settings(demo), {"GEMEENTEGRAAF_GATEWAY_RESPONSE_CACHE_ENABLED": "perhaps"})
    with pytest.raises(ConfigError, match="enabled must be true or false"):
        response_cache_settings(config)
