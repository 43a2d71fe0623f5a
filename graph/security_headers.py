"""Security headers on every response, as the NL API Design Rules ask (transport security module).

API answers must never be cached by intermediaries nor framed; GraphiQL's HTML page gets its own
Content-Security-Policy that lets it load its scripts and styles from unpkg.com, and nothing else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"frame-ancestors 'none'"
GRAPHIQL_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline' https://unpkg.com; "
    b"style-src 'self' 'unsafe-inline' https://unpkg.com; font-src 'self' data: https://unpkg.com; "
    b"img-src 'self' data: https://unpkg.com; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
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
                present = {name.lower() for name, _ in headers}
                html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
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
