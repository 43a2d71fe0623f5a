"""The dashboard at ``/dashboard``: the counts a municipality watches, drawn by Chart.js from the graph itself.

The page is a plain client of ``/graphql``: every chart polls its own query with GET (``query`` and
``variables`` parameters) and ``If-None-Match``, so a dashboard left open costs the gateway a 304 while
nothing changed (``graph.response_cache``), and shows the query beside the chart for anyone to copy. Like
GraphiQL's page it runs from files in ``graph/static`` (no inline script, scripts from 'self' only, Chart.js
pinned in ``assets.lock.json``), and gets ``[gateway] graphiql_headers`` as a JSON block; without them the page
asks for a bearer token, which it keeps in the tab's ``sessionStorage`` only.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from string import Template

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from graph.assets import STATIC, VENDOR, asset_path, load_lock, missing
from graph.graphiql import CachedFiles
from graph.security_headers import DASHBOARD_CSP

PATH = "/dashboard"
ASSETS_MOUNT = "/dashboard/assets"
TEMPLATE = STATIC / "dashboard.html"
CHART_JS = ("chart.js", "dist/chart.umd.min.js")


class _Revalidated(CachedFiles):
    """As GraphiQL's files, except that the HTML template is not served as a file at all (its placeholders
    mean nothing)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path", "").endswith(".html"):
            await Response(status_code=404)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def routes(endpoint: str, headers: Mapping[str, str]) -> list[BaseRoute]:
    """The page and its files; ``endpoint`` is where the graph answers, ``headers`` what the page sends
    (the demo's token), empty to have the page ask for a token."""

    async def page(request: Request) -> Response:
        return render(request, endpoint, headers)

    files = _Revalidated(StaticFiles(directory=STATIC, check_dir=False), ASSETS_MOUNT)
    return [Route(PATH, page, methods=["GET"]), Mount(ASSETS_MOUNT, app=files, name="dashboard-assets")]


def render(request: Request, endpoint: str, headers: Mapping[str, str]) -> HTMLResponse:
    """The page, or a 503 saying how to install Chart.js when it is missing."""
    root = request.scope.get("root_path", "")
    base = root + ASSETS_MOUNT
    packages = load_lock()
    security = {"Cache-Control": "no-store", "Content-Security-Policy": DASHBOARD_CSP.decode()}  # may hold a token
    if absent := missing([packages[CHART_JS[0]]], VENDOR):
        notice = (
            f"<h1>The dashboard's chart library is not installed</h1><p>Missing: <code>{html.escape(absent[0])}"
            "</code>. Run <code>python -m graph.assets</code> in the gateway's Python environment "
            "(<code>make demo</code> does), then reload this page.</p>"
        )
        return HTMLResponse(_fill(base, notice, None, ""), status_code=503, headers=security)
    settings = {"endpoint": root + endpoint, "headers": dict(headers) or None}
    chart = f"{base}/{asset_path(*CHART_JS, packages)}"
    return HTMLResponse(_fill(base, "", settings, chart), headers=security)


def _fill(base: str, notice: str, settings: Mapping[str, object] | None, chart: str) -> str:
    # JSON in a data block with "<" escaped, so no value can close the <script> element
    data = orjson.dumps(settings).decode().replace("<", "\\u003c")
    scripts = (
        f'<script src="{html.escape(chart)}"></script>\n<script src="{html.escape(base)}/dashboard.js"></script>'
        if settings is not None else ""
    )
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        base=html.escape(base), settings=data, notice=notice, scripts=scripts)
