"""GraphiQL as the gateway serves it: its own page and its own copies of the scripts (``graph.assets``).

Strawberry's page loads React and GraphiQL from a CDN, so offline it never gets past "Loading...", and its
CSP had to name that CDN. This page loads everything from ``/graphiql/assets/``, starts GraphiQL from a
script file rather than inline code (so the CSP allows scripts from 'self' only), opens with the README's
first query and, where ``[gateway] graphiql_headers`` sets them, with those headers. Without the assets it
says how to install them instead of showing a blank page.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from graph.assets import STATIC, VENDOR, Package, asset_path, load_lock, missing

ASSETS_MOUNT = "/graphiql/assets"
FIRST_QUERY = STATIC / "first-query.graphql"  # the README's first query; tests/browser checks they agree
PAGE_SCRIPT = "graphiql-page.js"
PAGE_STYLE = "graphiql-page.css"
# what the page loads, in order: (package, file) from the lock; adding one here is all a new package needs
STYLES = (("graphiql", "graphiql.min.css"), ("@graphiql/plugin-explorer", "dist/style.css"))
SCRIPTS = (
    ("react", "umd/react.production.min.js"),
    ("react-dom", "umd/react-dom.production.min.js"),
    ("graphiql", "graphiql.min.js"),
    ("@graphiql/plugin-explorer", "dist/index.umd.js"),
)
IMMUTABLE = b"public, max-age=31536000, immutable"  # vendor paths carry the version, so they never change


class CachedFiles:
    """Static files under ``mount`` with caching that fits them: a year for versioned vendor files, and
    revalidation (ETag, 304) for a page's own few files, which change with the gateway."""

    def __init__(self, app: StaticFiles, mount: str = ASSETS_MOUNT) -> None:
        self.app, self.vendor = app, f"{mount}/vendor/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        value = IMMUTABLE if self.vendor in scope.get("path", "") else b"no-cache"

        async def with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                others = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message = {**message, "headers": [*others, (b"cache-control", value)]}
            await send(message)

        await self.app(scope, receive, with_cache_control)


def assets_mount() -> Mount:
    """``/graphiql/assets/``: ``graph/static`` (the page's files and, once installed, ``vendor/``)."""
    return Mount(ASSETS_MOUNT, app=CachedFiles(StaticFiles(directory=STATIC, check_dir=False)), name="graphiql-assets")


def page(request: Request, headers: Mapping[str, str]) -> HTMLResponse:
    """The GraphiQL page for ``request``'s endpoint; ``headers`` fill its headers pane (the demo's token)."""
    base = request.scope.get("root_path", "") + ASSETS_MOUNT
    packages = load_lock()
    used = {packages[name] for name, _ in (*STYLES, *SCRIPTS)}
    if absent := missing(sorted(used, key=lambda p: p.name), VENDOR):
        return _missing_page(base, absent)
    settings = {
        "endpoint": request.url.path,
        "query": FIRST_QUERY.read_text(encoding="utf-8"),
        "headers": orjson.dumps(dict(headers), option=orjson.OPT_INDENT_2).decode() if headers else None,
    }
    # JSON in a data block: "<" escaped, so no value can close the <script> element
    data = orjson.dumps(settings).decode().replace("<", "\\u003c")
    links = "".join(f'\n<link rel="stylesheet" href="{_href(base, n, f, packages)}">' for n, f in STYLES)
    scripts = "".join(f'\n<script src="{_href(base, n, f, packages)}"></script>' for n, f in SCRIPTS)
    body = (
        f'<div id="graphiql">Loading GraphiQL…</div>{scripts}\n'
        f'<script src="{html.escape(base)}/{PAGE_SCRIPT}"></script>'
    )
    head = f'{links}\n<script id="graphiql-settings" type="application/json">{data}</script>'
    # the page holds the configured headers (a token in the demo): never kept by a cache
    return HTMLResponse(_document(base, head, body), headers={"Cache-Control": "no-store"})


def _missing_page(base: str, absent: list[str]) -> HTMLResponse:
    names = ", ".join(f"<code>{html.escape(name)}</code>" for name in absent)
    body = (
        '<main class="gemeentegraaf-notice"><h1>GraphiQL is not installed in this gateway</h1>'
        f"<p>Its scripts are served by the gateway itself, and these are missing: {names}.</p>"
        "<p>In a clone, <code>make demo</code> installs them. Elsewhere, run "
        "<code>python -m graph.assets</code> in the gateway's Python environment (it fetches the pinned "
        "packages from the npm registry, or from <code>$npm_config_registry</code>, and checks their "
        "hashes), then reload this page.</p>"
        "<p>Queries work without GraphiQL: <code>POST</code> them to this URL as JSON.</p></main>"
    )
    return HTMLResponse(_document(base, "", body), status_code=503, headers={"Cache-Control": "no-store"})


def _document(base: str, head: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<title>Gemeentegraaf · GraphiQL</title>\n<link rel="icon" href="data:,">\n'
        f'<link rel="stylesheet" href="{html.escape(base)}/{PAGE_STYLE}">{head}\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _href(base: str, name: str, file: str, packages: Mapping[str, Package]) -> str:
    return html.escape(f"{base}/{asset_path(name, file, packages)}")
