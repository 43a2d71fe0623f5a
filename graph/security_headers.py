"""Security headers on every response, as the NL API Design Rules ask (transport security module).

API answers are never framed, and never kept by intermediaries: ``no-store``, unless the app marked one
``private`` (the response cache's dashboard answers, which only the client may keep); GraphiQL's HTML page gets its own
Content-Security-Policy: scripts, styles and data from the gateway itself only (graph.graphiql serves them),
no inline script, and nothing from any other host.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"frame-ancestors 'none'"
GRAPHIQL_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; img-src 'self' data:; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# the dashboard (graph.dashboard) sets this itself: like GraphiQL's, without fonts, and it only reads the graph
DASHBOARD_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """``hsts``: send Strict-Transport-Security on every response, also when TLS ends before the gateway
    (a proxy); otherwise it is sent only on requests that arrived over https."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.hsts or scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
                if any(n.lower() == b"content-type" and b"json" in v for n, v in headers):  # an API answer
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control" or _client_only(v)]
                present = {name.lower() for name, _ in headers}
                wanted = [
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", GRAPHIQL_CSP if html else API_CSP),
                    (b"x-frame-options", b"DENY"),
                    *([(b"strict-transport-security", HSTS)] if https else []),
                ]
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _client_only(cache_control: bytes) -> bool:
    """Whether a ``Cache-Control`` keeps the answer from every shared cache."""
    directives = {d.strip().partition(b"=")[0].lower() for d in cache_control.split(b",")}
    return bool(directives & {b"private", b"no-store"})
