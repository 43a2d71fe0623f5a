"""GraphiQL as a person uses it, in a real Chromium: the page the gateway serves opens with the README's first
query and the demo's headers, runs queries, and shows the gateway's answers, without any request leaving
127.0.0.1 (no CDN)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from tests.browser.conftest import Served

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page, Route

README = Path(__file__).parents[2] / "README.md"
# docs/screenshots/graphiql.png is refreshed by a run with GEMEENTEGRAAF_SCREENSHOTS=docs/screenshots
SCREENSHOTS = os.environ.get("GEMEENTEGRAAF_SCREENSHOTS")
ANOTHER_QUERY = "{ zaken(first: 3) { totalCount nodes { identificatie omschrijving zaaktype { omschrijving } } } }"


def readme_first_query() -> str:
    found = re.search(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert found, "README.md has no ```graphql example"
    return found.group(1)


async def editor_text(page: Page, pane: str) -> str:
    """The whole text of a CodeMirror editor (it renders only the lines in view, so not from the DOM)."""
    text: str = await page.evaluate("sel => document.querySelector(sel).CodeMirror.getValue()",
                                    f".graphiql-{pane} .CodeMirror")
    return text


async def run_and_read(page: Page) -> dict[str, Any]:
    """Press GraphiQL's run button and read the answer from its result pane once one is there."""
    await page.evaluate("() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.setValue('')")
    await page.click(".graphiql-execute-button")
    await page.wait_for_function(
        "() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue().includes('\"data\"')",
        timeout=30_000)
    answer: dict[str, Any] = json.loads(await editor_text(page, "response"))
    return answer


async def gateway_answer(served: Served, query: str) -> dict[str, Any]:
    """The same query as a client sends it, with the headers the page opened with."""
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{served.url}/graphql", json={"query": query}, headers=served.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_graphiql_offline_runs_queries(browser: Browser, served: Served, tmp_path: Path) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    elsewhere: list[str] = []
    loaded: list[str] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            loaded.append(urlsplit(route.request.url).path)
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await context.route("**/*", loopback_only)
    page = await context.new_page()
    problems: list[str] = []  # console errors (a CSP refusal is one) and uncaught exceptions
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        response = await page.goto(f"{served.url}/graphql")
        assert response is not None
        assert response.status == 200, await page.content()  # 503 with a how-to when the assets are missing
        csp = await response.header_value("content-security-policy") or ""
        assert "script-src 'self';" in csp and "http" not in csp  # no inline script, no other host
        await page.wait_for_selector(".graphiql-query-editor .CodeMirror")
        assert await editor_text(page, "query-editor") == readme_first_query()
        # the headers pane shows what [gateway] graphiql_headers holds: the token the queries below run with
        assert json.loads(await editor_text(page, "editor-tool .graphiql-editor:not(.hidden)")) == served.headers
        # the query builder is open, and lists the root fields it read from the schema through the headers pane
        await page.wait_for_selector(".graphiql-explorer-root >> text=zaken", timeout=15_000)

        readme = readme_first_query()
        assert await run_and_read(page) == await gateway_answer(served, readme)
        shot = Path(SCREENSHOTS) / "graphiql.png" if SCREENSHOTS else tmp_path / "graphiql.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shot))

        await page.click(".graphiql-query-editor .CodeMirror")
        await page.keyboard.press("Control+A")
        await page.keyboard.insert_text(ANOTHER_QUERY)
        assert await editor_text(page, "query-editor") == ANOTHER_QUERY
        answer = await run_and_read(page)
        assert answer == await gateway_answer(served, ANOTHER_QUERY)
        assert len(answer["data"]["zaken"]["nodes"]) == 3
    finally:
        await context.close()
    assert not elsewhere, f"the page asked for something not on 127.0.0.1: {elsewhere}"
    assert any(path.endswith("/graphiql.min.js") for path in loaded)  # the route saw the page's own loads
    assert not problems, problems
