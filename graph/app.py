"""The ASGI application: ``/graphql`` (GraphiQL on GET from a browser), ``/health``."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from graph.authn import Authenticator, AuthError, auth_settings
from graph.authz import check_anonymous_scopes
from graph.cache import store_for
from graph.caller import ANONYMOUS, Caller, processing_of
from graph.config import ConfigError, GatewayConfig
from graph.context import Context
from graph.http_guards import http_middleware
from graph.limits import Limits
from graph.logboek import ProcessingLog, operation_name
from graph.purpose import Register, register_for
from graph.source import Sources

log = logging.getLogger(__name__)

CALLER = "gemeentegraaf.caller"  # where __call__ leaves the authenticated caller in the ASGI scope's state
IDE_HEADERS = "React.useState(parameters.headers)"  # where Strawberry's GraphiQL page takes its initial headers


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI view with a per-request ``Context`` and orjson encoding (about 12x json)."""

    authenticator: Authenticator | None = None  # set by create_app; without one every operation is refused
    graphiql_headers: Mapping[str, str] = {}  # what GraphiQL's headers pane opens with (the demo only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The bearer token is checked before Strawberry reads the operation, so a refused request is a real
        HTTP 401 that runs nothing. The GraphiQL page itself holds no data and needs no token."""
        if scope["type"] in ("http", "websocket") and not self._ide_page(scope):
            try:
                if self.authenticator is None:
                    raise AuthError("Authentication is not configured.")
                caller = await self.authenticator.authenticate(HTTPConnection(scope).headers.get("authorization"))
            except AuthError as refusal:
                if scope["type"] == "http":
                    await refusal.response()(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})  # policy violation, before accepting
                return
            scope.setdefault("state", {})[CALLER] = caller
        await super().__call__(scope, receive, send)

    def _ide_page(self, scope: Scope) -> bool:
        return scope["type"] == "http" and self.should_render_graphql_ide(self.request_adapter_class(Request(scope)))

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL, its headers pane filled with ``graphiql_headers`` when the configuration sets them."""
        page = self.graphql_ide_html
        if not self.graphiql_headers:
            return HTMLResponse(page)
        if IDE_HEADERS not in page:
            log.warning("this Strawberry's GraphiQL page has no place for initial headers; served without them")
            return HTMLResponse(page)
        text = orjson.dumps(dict(self.graphiql_headers), option=orjson.OPT_INDENT_2).decode()
        literal = orjson.dumps(text).decode().replace("</", "<\\/")  # a JS string that cannot end the <script>
        filled = page.replace(IDE_HEADERS, f"React.useState(parameters.headers || {literal})")
        return HTMLResponse(filled, headers={"Cache-Control": "no-store"})

    def __init__(self, schema: strawberry.Schema, sources: Sources, logboek: ProcessingLog | None = None) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.sources = sources
        self.register = Register()  # the processing activities (graph.purpose), set by create_app
        self.logboek = logboek or ProcessingLog(None)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        http = request if isinstance(request, Request) else None
        caller = await self.authenticate(http)
        context = Context(self.sources, http, caller, processing_of(http))
        context.register = self.register
        return context

    async def authenticate(self, request: Request | None) -> Caller:
        """Who is asking: the caller ``__call__`` authenticated. Only the GraphiQL page (which runs nothing) and
        websockets (the schema has no subscriptions) get ``ANONYMOUS``, which holds no scope."""
        found = request.scope.get("state", {}).get(CALLER) if request is not None else None
        return found if isinstance(found, Caller) else ANONYMOUS

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Each operation's processing records are written before its answer goes out (``graph.logboek``)."""
        run = super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        name = operation_name(request_data.operation_name, request_data.query)
        try:
            return await self.logboek.around(context, name, run)
        finally:
            context.close()  # answered, failed or abandoned: no source call of this request goes on


def create_app(
    config: GatewayConfig,
    schema: strawberry.Schema | None = None,
    sources: Sources | None = None,
    authenticator: Authenticator | None = None,
) -> Starlette:
    """The gateway; a ``ConfigError`` when the configuration cannot be served (no ``[gateway.auth]``, say)."""
    settings = authenticator.settings if authenticator is not None else auth_settings(config)  # before any client
    check_anonymous_scopes(settings.anonymous_scopes)  # personal scopes never go to anonymous callers
    ide_headers = _graphiql_headers(config.options.get("graphiql_headers", {}))
    cache = store_for(config)  # [gateway.cache]; opens no connection yet, so a later ConfigError leaks nothing
    if schema is None:
        from schema.root import schema as default_schema

        schema = default_schema
    pool = sources or Sources.from_config(config.sources, store=cache)
    authn = authenticator or Authenticator(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pool.aclose()
            await authn.aclose()
            await cache.aclose()

    async def health(request: Request) -> Response:
        # a cache that is away slows nothing (the sources answer), so still 200, but operators should know
        healthy = cache.healthy
        return JSONResponse({
            "status": "ok" if healthy else "degraded",
            "sources": pool.names(),
            "cache": {"backend": cache.name, "healthy": healthy},
        })

    graphql: Any = GraphQLEndpoint(schema, pool, ProcessingLog.from_config(config))
    graphql.register = register_for(config)
    graphql.authenticator = authn
    graphql.graphiql_headers = ide_headers
    limits = Limits.from_options(config.options)
    if not limits.graphiql:
        graphql.graphql_ide = None  # Strawberry answers the page's GET with 404
    app = Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/health", health)],
        lifespan=lifespan,
        middleware=http_middleware(limits, config.options),
    )
    app.state.sources = pool
    app.state.authenticator = authn
    app.state.cache = cache  # the one store of this app, shared by every source's cached calls (graph.cache)
    app.state.limits = limits  # graph.limits and graph.budget read the request's limits here
    return app


def _graphiql_headers(value: Any) -> dict[str, str]:
    """``[gateway] graphiql_headers``: what GraphiQL opens with. The demo sets it at run time with a token it
    just minted; a configuration file must never hold a token, so production configurations leave it out."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError("[gateway] graphiql_headers must be a table of header names to strings")
    return dict(value)
