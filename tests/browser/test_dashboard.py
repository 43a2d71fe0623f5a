"""The dashboard in a real Chromium: its charts are drawn from the gateway's live answers, polled with GET and
If-None-Match (a 304 keeps the chart), redrawn when a source's data changes, every query shown beside its chart,
and no request leaving 127.0.0.1. Without configured headers the page asks for a token and keeps it per tab."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from demo.model import Municipality
from demo.runner import Municipal, build, running_in_thread
from graph.app import create_app
from tests.browser.conftest import Served
from tests.conftest import employee_headers, gateway_settings, serving

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Route

SCREENSHOTS = os.environ.get("GEMEENTEGRAAF_SCREENSHOTS")  # docs/screenshots/dashboard.png, as for GraphiQL
CHARTS = ("meldingen-categorie", "meldingen-buurt", "meldingen-week", "zaken-open", "zaken-doorlooptijd")
ALL_DRAWN = "ids => ids.every(id => (window.gemeentegraafDashboard?.charts[id]?.draws ?? 0) > 0)"


@pytest.fixture(scope="module")
def world(municipality: Municipality) -> Iterator[Municipal]:
    """A world of its own: the test reports a melding, and the session's shared sources must keep their data."""
    with running_in_thread(build(municipality, ephemeral_ports=True)) as running:
        yield running


def dashboard_settings(world: Municipal, headers: dict[str, str] | None) -> Any:
    """The world's gateway with whole answers kept for a second, so unchanged polls get 304s and a change shows
    on the next poll but one."""
    config: dict[str, Any] = dict(world.config)
    gateway = {**config.get("gateway", {}), "response_cache": {
        "stale_s": 0, "ttl": {"meldingenStatistiek": 1, "zakenStatistiek": 1}}}
    if headers:
        gateway["graphiql_headers"] = headers
    return gateway_settings({**config, "gateway": gateway}, responses=True)


def warmed(url: str, headers: dict[str, str]) -> str:
    """One request first: a gateway that has not read the issuer's keys yet answers the page's five concurrent
    first polls but one with 503 (graph.authn reads the keys once, and refuses the others meanwhile)."""
    response = httpx.get(f"{url}/graphql", params={"query": "{ __typename }"}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return url


@pytest.fixture(scope="module")
def with_headers(world: Municipal) -> Iterator[Served]:
    headers = employee_headers(world)
    with serving(create_app(dashboard_settings(world, headers))) as url:
        yield Served(warmed(url, headers), headers)


@pytest.fixture(scope="module")
def without_headers(world: Municipal) -> Iterator[str]:
    with serving(create_app(dashboard_settings(world, None))) as url:
        yield warmed(url, employee_headers(world))


class Watched:
    """A page whose requests are held to 127.0.0.1 and whose console errors and uncaught exceptions are kept."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context, self.page = context, page
        self.elsewhere: list[str] = []
        self.graph_gets = 0
        self.problems: list[str] = []

    async def loopback_only(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.hostname == "127.0.0.1":
            self.graph_gets += url.path == "/graphql" and route.request.method == "GET"
            await route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            await route.abort()


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[Watched]:
    context = await browser.new_context(viewport={"width": 1600, "height": 1500})
    page = await context.new_page()
    seen = Watched(context, page)
    await context.route("**/*", seen.loopback_only)
    page.on("console", lambda message: seen.problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.problems.append(str(error)))
    page.on("response", lambda answer: seen.problems.append(f"{answer.status} {answer.url}")
            if answer.status >= 400 else None)
    try:
        yield seen
    finally:
        await context.close()
    assert not seen.elsewhere, f"the page asked for something not on 127.0.0.1: {seen.elsewhere}"
    assert not seen.problems, seen.problems


async def chart_state(page: Page, chart: str) -> dict[str, Any]:
    state: dict[str, Any] = await page.evaluate("id => window.gemeentegraafDashboard.charts[id]", chart)
    return state


async def as_a_client(url: str, headers: dict[str, str], state: dict[str, Any]) -> dict[str, Any]:
    """The chart's query and variables, as a frontend developer would copy them from the page."""
    params = {"query": state["query"], "variables": json.dumps(state["variables"])}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{url}/graphql", params=params, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def report_melding(world: Municipal) -> None:
    """A citizen reports a melding through Signalen's public form (the simulator's write API)."""
    melding = next(iter(world.data.meldingen.values()))
    base = world.urls["signalen"]
    body = {
        "text": "Losliggende stoeptegel bij de ingang.",
        "location": {"geometrie": {"type": "Point", "coordinates": [melding.wgs84[1], melding.wgs84[0]]},
                     "buurt_code": melding.buurt_code},
        "category": {"sub_category": f"{base}/public/terms/categories/{melding.categorie.main_slug}/"
                                     f"sub_categories/{melding.categorie.sub_slug}"},
        "reporter": {"sharing_allowed": False},
        "incident_date_start": dt.datetime.now(dt.UTC).isoformat(),
    }
    response = httpx.post(f"{base}/public/signals", json=body, timeout=10)
    assert response.status_code == 201, response.text


async def test_the_dashboard_draws_live_numbers_and_follows_a_change(
    watched: Watched, with_headers: Served, world: Municipal, tmp_path: Path
) -> None:
    page = watched.page
    response = await page.goto(f"{with_headers.url}/dashboard?interval=1")
    assert response is not None and response.status == 200, await page.content()
    csp = await response.header_value("content-security-policy") or ""
    assert "script-src 'self';" in csp and "http" not in csp  # no inline script, no other host
    await page.wait_for_function(ALL_DRAWN, arg=list(CHARTS), timeout=60_000)

    for chart in CHARTS:  # each chart holds the gateway's own answer to the query shown beside it
        state = await chart_state(page, chart)
        assert await page.text_content(f"#{chart} .query-text") == state["query"]
        assert state["answer"] == await as_a_client(with_headers.url, with_headers.headers, state), chart
    categories = await chart_state(page, "meldingen-categorie")
    groups = categories["answer"]["data"]["meldingenStatistiek"]["groepen"]
    assert dict(zip(categories["labels"], categories["datasets"][0]["data"], strict=True)) == {
        g["categorie"]: g["aantal"] for g in groups}
    zaken = await chart_state(page, "zaken-open")
    open_groups = [g for g in zaken["answer"]["data"]["zakenStatistiek"]["groepen"] if g["open"]]
    drawn = {(zaaktype, d["label"]): n for d in zaken["datasets"] for zaaktype, n in zip(zaken["labels"], d["data"],
                                                                                         strict=True) if n}
    assert drawn == {(g["zaaktype"], g["status"]): g["aantal"] for g in open_groups}  # per zaaktype and status

    # unchanged answers come back as 304s, and the chart stays as it was
    await page.wait_for_function("() => window.gemeentegraafDashboard.charts['meldingen-categorie'].notModified > 1",
                                 timeout=30_000)
    assert (await chart_state(page, "meldingen-categorie"))["draws"] == categories["draws"]
    total = groups and categories["answer"]["data"]["meldingenStatistiek"]["totaal"]

    report_melding(world)
    await page.wait_for_function(
        "total => window.gemeentegraafDashboard.charts['meldingen-categorie'].answer.data.meldingenStatistiek.totaal"
        " === total + 1", arg=total, timeout=30_000)
    after = await chart_state(page, "meldingen-categorie")
    assert after["draws"] > categories["draws"]
    assert sum(after["datasets"][0]["data"]) == sum(categories["datasets"][0]["data"]) + 1
    assert after["answer"] == await as_a_client(with_headers.url, with_headers.headers, after)
    await page.wait_for_function(  # this week's point rises too
        "() => { const w = window.gemeentegraafDashboard.charts['meldingen-week']; "
        "return w.answer.data.meldingenStatistiek.totaal > 0 && w.draws > 1; }", timeout=30_000)

    shot = Path(SCREENSHOTS) / "dashboard.png" if SCREENSHOTS else tmp_path / "dashboard.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shot), full_page=True)


async def test_without_configured_headers_the_page_asks_for_a_token(
    watched: Watched, without_headers: str, world: Municipal
) -> None:
    page = watched.page
    await page.goto(f"{without_headers}/dashboard?interval=1")
    await page.wait_for_selector("#token-input", state="visible")
    assert watched.graph_gets == 0  # nothing is asked without a token
    token = employee_headers(world)["Authorization"].removeprefix("Bearer ")
    await page.fill("#token-input", token)
    await page.click("#token button")
    await page.wait_for_function(ALL_DRAWN, arg=list(CHARTS), timeout=60_000)
    assert await page.is_hidden("#token")
    stored = await page.evaluate("() => [sessionStorage.getItem('gemeentegraaf.dashboard.token'), localStorage.length]")
    assert stored == [token, 0]  # this tab only
