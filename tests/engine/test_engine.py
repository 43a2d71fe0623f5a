"""The engine's small parts on their own: configuration, credentials, paging and the stage chain."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest

from graph.auth import ZgwJwt, auth_for
from graph.calls import SourceCall, SourceResponse
from graph.config import ConfigError, from_mapping
from graph.errors import BadRequest, SourceError
from graph.paging import Page, decode_cursor, encode_cursor, parse_page, window
from graph.source import RateLimit, Source, Sources

BASE = {"sources": {"brp": {"url": "http://127.0.0.1:1/haalcentraal/api/brp/", "auth": "api-key",
                            "header": "X-API-KEY", "key": "file-key"}}}


def test_environment_overrides_single_values_and_secrets_stay_hidden() -> None:
    config = from_mapping(BASE, {"GEMEENTEGRAAF_BRP_KEY": "env-key", "GEMEENTEGRAAF_GATEWAY_PORT": "9000"})
    brp = config.sources["brp"]
    assert brp.option("key") == "env-key"
    assert brp.url.endswith("/brp")  # trailing slash dropped: URLs are joined by the gateway
    assert config.port == 9000
    assert "env-key" not in repr(brp)


@pytest.mark.parametrize("bad", [{"url": "ftp://x"}, {"url": "http://x", "timeout_s": "soon"},
                                 {"url": "http://x", "max_concurrency": 0}])
def test_unusable_configuration_is_refused_with_its_table(bad: dict) -> None:
    with pytest.raises(ConfigError, match=r"\[sources.x\]"):
        from_mapping({"sources": {"x": bad}})


def test_unknown_auth_scheme_and_missing_secret_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown auth"):
        auth_for(from_mapping({"sources": {"x": {"url": "http://x", "auth": "magic"}}}).sources["x"])
    with pytest.raises(ConfigError, match="'secret'"):
        auth_for(from_mapping({"sources": {"x": {"url": "http://x", "auth": "zgw-jwt", "client_id": "c"}}}
                              ).sources["x"])


def test_zgw_token_is_renewed_before_open_zaak_would_refuse_it() -> None:
    now = [1_000_000.0]
    auth = ZgwJwt("client", "a-secret-of-at-least-32-bytes-long", clock=lambda: now[0])
    first = auth.token()
    assert jwt.decode(first, "a-secret-of-at-least-32-bytes-long", algorithms=["HS256"])["client_id"] == "client"
    now[0] += 60
    assert auth.token() == first  # reused while fresh
    now[0] += 1800
    renewed = jwt.decode(auth.token(), "a-secret-of-at-least-32-bytes-long", algorithms=["HS256"])
    assert renewed["iat"] == int(now[0])
    assert now[0] - renewed["iat"] < 3600


def test_cursors_round_trip_and_garbage_is_a_bad_request() -> None:
    assert decode_cursor(encode_cursor(1234)) == 1234
    for bad in ("", "xyz", encode_cursor(5)[:-1] + "!", "bzotMQ"):
        with pytest.raises(BadRequest):
            decode_cursor(bad)


def test_parse_page_reads_drf_hal_and_plain_lists() -> None:
    drf = parse_page({"count": 3, "next": "http://n", "previous": None, "results": [1, 2]}, "s")
    assert (drf.items, drf.total, drf.has_next) == ([1, 2], 3, True)
    hal = parse_page({"_links": {"next": {"href": "http://n"}}, "_embedded": {"adressen": [1]}}, "s")
    assert (hal.items, hal.total, hal.has_next) == ([1], None, True)
    assert parse_page([1, 2], "s").items == [1, 2]
    with pytest.raises(SourceError) as caught:
        parse_page({"unexpected": 1}, "s")
    assert caught.value.code == "UPSTREAM_BAD_RESPONSE"


async def test_window_fetches_only_the_pages_that_hold_it() -> None:
    items = list(range(250))
    fetched: list[int] = []

    async def fetch(number: int) -> Page:
        fetched.append(number)
        chunk = items[(number - 1) * 100:number * 100]
        return Page(chunk, len(items), number * 100 < len(items))

    win = await window(30, encode_cursor(89), 100, fetch)
    assert win.items == list(range(90, 120))
    assert sorted(fetched) == [1, 2]
    assert win.has_next
    fetched.clear()
    last = await window(100, encode_cursor(199), 100, fetch)
    assert last.items == list(range(200, 250))
    assert not last.has_next
    assert fetched == [3]


async def test_rate_limit_lets_a_burst_through_and_holds_the_rest_to_a_rolling_second() -> None:
    clock = [0.0]

    async def fake_sleep(seconds: float) -> None:
        clock[0] += seconds
        await asyncio.sleep(0)

    limit = RateLimit(3, clock=lambda: clock[0], sleep=fake_sleep)
    starts: list[float] = []

    async def answer_after_10ms(call: SourceCall) -> SourceResponse:
        starts.append(clock[0])
        clock[0] += 0.01
        return SourceResponse(200, {}, b"{}", "x")

    for _ in range(7):
        await limit(SourceCall("x", "GET", "http://x"), answer_after_10ms)
    # three at once; each further call waits until the earliest answer is a second old
    assert starts == pytest.approx([0.0, 0.01, 0.02, 1.01, 1.02, 1.03, 2.02])


async def test_sources_route_links_by_longest_prefix_and_refuse_others() -> None:
    config = from_mapping({"sources": {
        "zaken": {"url": "http://h/zaken/api/v1"}, "catalogi": {"url": "http://h/catalogi/api/v1"}}})
    sources = Sources.from_config(config.sources)
    try:
        assert sources.owner_of("http://h/catalogi/api/v1/zaaktypen/1").name == "catalogi"
        assert sources.owner_of("http://h/zaken/api/v1").name == "zaken"
        for url in ("http://h/zaken/api/v10/x", "http://evil/zaken/api/v1/x", "http://h/zaken/api/v1@evil/x",
                    "http://h/zaken/api/v1/../../autorisaties/api/v1/applicaties", "http://h/zaken/api/v1/%2e%2e/x",
                    "https://h/zaken/api/v1/x", "http://user@h/zaken/api/v1/x", "http://h:81/zaken/api/v1/x"):
            with pytest.raises(SourceError) as caught:
                sources.owner_of(url)
            assert caught.value.code == "FORBIDDEN_URL"
    finally:
        await sources.aclose()


async def test_public_urls_map_onto_the_configured_url_and_nothing_else_is_called() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    config = from_mapping({"sources": {"zaken": {
        "url": "http://intern:8000/zaken/api/v1", "public_urls": ["https://zaken.gemeente.nl/api/zaken/v1/"]}}})
    source = Source(config.sources["zaken"], transport=httpx.MockTransport(handler))
    try:
        assert source.owns("https://zaken.gemeente.nl/api/zaken/v1/zaken/1")
        await source.get("https://zaken.gemeente.nl/api/zaken/v1/zaken/1?x=1")
        await source.get("http://intern:8000/zaken/api/v1/rollen/2")
        for url in ("https://zaken.gemeente.nl/api/zaken/v10/zaken/1", "https://zaken.gemeente.nl/api/x",
                    "http://zaken.gemeente.nl/api/zaken/v1/zaken/1", "https://zaken.gemeente.nl/api/zaken/v1/../x",
                    "https://evil.example/zaken/api/v1/zaken/1"):
            assert not source.owns(url)
            with pytest.raises(SourceError) as caught:
                await source.get(url)
            assert caught.value.code == "FORBIDDEN_URL"
    finally:
        await source.aclose()
    assert seen == ["http://intern:8000/zaken/api/v1/zaken/1?x=1", "http://intern:8000/zaken/api/v1/rollen/2"]


async def test_connection_refused_becomes_upstream_unavailable() -> None:
    config = from_mapping({"sources": {"bag": {"url": "http://127.0.0.1:9/bag", "timeout_s": 2}}})
    source = Source(config.sources["bag"])
    try:
        with pytest.raises(SourceError) as caught:
            await source.get("/adressen/1")
        assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    finally:
        await source.aclose()


async def test_source_sends_credentials_only_to_its_own_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    config = from_mapping(BASE)
    source = Source(config.sources["brp"], transport=httpx.MockTransport(handler))
    try:
        await source.post("/personen", {"type": "x"})
    finally:
        await source.aclose()
    assert seen[0].headers["X-API-KEY"] == "file-key"
    assert seen[0].headers["content-type"] == "application/json"


def test_bag_objects_unwrap_past_investigation_notes_and_double_wrapping() -> None:
    from resolvers.bag import unwrap

    single = {"pand": {"identificatie": "0999100000000001", "oorspronkelijkBouwjaar": "1931"},
              "inonderzoek": [{"kenmerk": "oorspronkelijkBouwjaar"}], "_links": {"self": {"href": "x"}}}
    assert unwrap(single) == ("pand", single["pand"])
    double = {"verblijfsobject": {"verblijfsobject": {"oppervlakte": 70}, "_links": {}, "inonderzoek": []}}
    assert unwrap(double) == ("verblijfsobject", {"oppervlakte": 70})
    assert unwrap({"unexpected": 1}) == (None, {"unexpected": 1})


@pytest.mark.parametrize(("offset", "count", "size"), [(0, 20, 20), (20, 20, 20), (70, 70, 70), (10, 20, 30),
                                                       (0, 0, 100), (499, 2, 3), (499, 500, 100)])
def test_fitting_page_size_holds_the_window_in_one_page(offset: int, count: int, size: int) -> None:
    from graph.paging import fitting_page_size

    found = fitting_page_size(offset, count, 100, 500)
    assert found == size
    if count and found != 100:
        assert offset // found == (offset + count - 1) // found
