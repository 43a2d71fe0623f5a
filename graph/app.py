"""The ASGI application: ``/graphql`` (GraphiQL on GET from a browser), ``/health``, ``/ready``, ``/metrics``."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import types
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import strawberry
from cross_web import AsyncHTTPRequestAdapter
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from graph import dashboard, graphiql
from graph.authn import Authenticator, AuthError, auth_settings
from graph.authz import check_anonymous_scopes
from graph.cache import store_for
from graph.caller import ANONYMOUS, Caller, processing_of
from graph.config import (
    ConfigError,
    GatewayConfig,
    declare_gateway_keys,
    declare_gateway_table,
    validate,
)
from graph.context import Context
from graph.federation import federation_settings, subgraph_endpoint
from graph.graphql_http import GraphQLOverHTTP
from graph.http_guards import http_middleware
from graph.limits import Limits
from graph.live import Live, LiveContext
from graph.logboek import ProcessingLog, operation_name
from graph.metrics import Metrics, StateCollector, outcome_of, state_readings
from graph.notifications import Notifications
from graph.oplog import log_operation, safe_name
from graph.purpose import Register, register_for
from graph.readiness import Readiness
from graph.request_limits import BODY
from graph.response_cache import ResponseCache, response_cache_settings
from graph.source import Sources
from graph.tracing import Tracing, operation_span, tracing_for

log = logging.getLogger(__name__)

CALLER = "gemeentegraaf.caller"  # where __call__ leaves the authenticated caller in the ASGI scope's state

# [gateway] keys read here or by the modules this factory wires in (graph.config.validate checks them)
declare_gateway_keys(graphiql_headers="table", ready_timeout_s="number", hsts="bool", verwerkingsactiviteiten="str")
declare_gateway_table("response_cache", None, response_cache_settings)  # it checks its own keys


class GraphQLEndpoint(GraphQLOverHTTP, GraphQL[Context, None]):
    """Strawberry's ASGI view with a per-request ``Context`` and orjson encoding (about 12x json)."""

    authenticator: Authenticator | None = None  # set by create_app; without one every operation is refused
    graphiql_headers: Mapping[str, str] = {}  # what GraphiQL's headers pane opens with (the demo only)
    responses: ResponseCache | None = None  # set by create_app
    metrics: Metrics | None = None  # set by create_app
    tracing: Tracing | None = None  # set by create_app when [gateway.tracing] names a collector (graph.tracing)
    live: Live | None = None  # set by create_app: subscriptions over the websocket (graph.live)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The bearer token is checked before Strawberry reads the operation, so a refused request is a real
        HTTP 401 that runs nothing. The GraphiQL page itself holds no data and needs no token."""
        header = HTTPConnection(scope).headers.get("authorization") if scope["type"] == "websocket" else ""
        if scope["type"] in ("http", "websocket") and not self._ide_page(scope) and header is not None:
            # a websocket without the header (browsers cannot set one) brings its token in connection_init
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
            if scope["type"] == "http" and await self._kept(scope, receive, send, caller):
                return
        await super().__call__(scope, receive, send)

    async def _kept(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> bool:
        """A dashboard poll whose answer is fresh in the response cache is sent from there, before Strawberry
        parses the request: about half the CPU of going through the view (``graph.response_cache.fresh``).
        With tracing on, every operation takes the view's path, which makes its span."""
        if self.responses is None or self.tracing is not None:
            return False
        started = time.perf_counter()
        request = Request(scope, receive)
        limits = getattr(getattr(scope.get("app"), "state", None), "limits", None)
        max_tokens = limits.max_tokens if isinstance(limits, Limits) else Limits().max_tokens
        found = await self.responses.fresh(request, scope.get(BODY), caller, max_tokens)
        if found is None:
            return False
        response, query, given = found
        await response(scope, receive, send)
        name = operation_name(given, query)
        seconds = time.perf_counter() - started
        log_operation(types.SimpleNamespace(processing=processing_of(request)), name, None, seconds)
        if self.metrics is not None:
            self.metrics.observe_operation(safe_name(name), "ok", seconds)
        return True

    def _ide_page(self, scope: Scope) -> bool:
        return scope["type"] == "http" and self.should_render_graphql_ide(self.request_adapter_class(Request(scope)))

    async def render_graphql_ide(self, request: Request) -> Response:
        """The gateway's own GraphiQL page (``graph.graphiql``: no CDN), its headers pane filled with
        ``graphiql_headers`` when the configuration sets them."""
        return graphiql.page(request, self.graphiql_headers)

    def __init__(self, schema: strawberry.Schema, sources: Sources, logboek: ProcessingLog | None = None) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.sources = sources
        self.register = Register()  # the processing activities (graph.purpose), set by create_app
        self.logboek = logboek or ProcessingLog(None)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        if isinstance(request, WebSocket) and self.live is not None:
            caller = await self.authenticate(request)  # by the handshake's header, else settled at connection_init
            context: Context = self.live.context(request, None if caller is ANONYMOUS else caller)
            context.register = self.register
            return context
        http = request if isinstance(request, Request) else None
        caller = await self.authenticate(http)
        context = Context(self.sources, http, caller, processing_of(http))
        context.register = self.register
        return context

    async def authenticate(self, request: HTTPConnection | None) -> Caller:
        """Who is asking: the caller ``__call__`` authenticated. Only the GraphiQL page (which runs nothing) gets
        ``ANONYMOUS``, which holds no scope; a websocket's caller is settled at connection_init (``on_ws_connect``)."""
        found = request.scope.get("state", {}).get(CALLER) if request is not None else None
        return found if isinstance(found, Caller) else ANONYMOUS

    async def on_ws_connect(self, context: Context) -> None:
        """connection_init: the token and purpose a browser could not send as headers (``graph.live``)."""
        if self.live is None or not isinstance(context, LiveContext):
            raise ConnectionRejectionError({"message": "Subscriptions are not served here."})
        await self.live.connect(context, self.authenticator)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Each operation's processing records are written before its answer goes out (``graph.logboek``);
        dashboard operations may be answered from the response cache (``graph.response_cache``)."""
        execute = super().execute_single
        name = operation_name(request_data.operation_name, request_data.query)

        async def run(ctx: Context) -> ExecutionResult:
            try:
                operation = execute(request, request_adapter, sub_response, ctx, root_value, request_data)
                return await self.logboek.around(ctx, name, operation)
            finally:
                ctx.close()  # answered, failed or abandoned: no source call of this operation goes on

        async def context_for(renewed: Request) -> Context:
            return await self.get_context(renewed, sub_response)

        started = time.perf_counter()
        result: ExecutionResult | None = None
        span = operation_span(self.tracing, context, name)  # None while tracing is off
        try:
            if self.responses is None:
                result = await run(context)
            else:
                result = await self.responses.answer(request, sub_response, context, request_data, run, context_for)
            return result
        finally:
            context.close()
            seconds = time.perf_counter() - started
            log_operation(context, name, result, seconds)  # graph.oplog: one JSON line, no query, no values
            if self.metrics is not None:
                self.metrics.observe_operation(safe_name(name), outcome_of(result) if result else "error", seconds)
            if span is not None:
                span.end(result)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response: Response = super().create_response(response_data, sub_response)
        return response if self.responses is None else self.responses.respond(response, response_data, sub_response)


def create_app(
    config: GatewayConfig,
    schema: strawberry.Schema | None = None,
    sources: Sources | None = None,
    authenticator: Authenticator | None = None,
) -> Starlette:
    """The gateway; a ``ConfigError`` when the configuration cannot be served (no ``[gateway.auth]``, say)."""
    if schema is None:
        from schema.root import schema as default_schema

        schema = default_schema
    # every module that declares keys or sources is imported by now: all problems at once, one line each
    validate(config, skip=("auth",) if authenticator is not None else ())
    settings = authenticator.settings if authenticator is not None else auth_settings(config)  # before any client
    check_anonymous_scopes(settings.anonymous_scopes)  # personal scopes never go to anonymous callers
    ide_headers = _graphiql_headers(config.options.get("graphiql_headers", {}))
    cache = store_for(config)  # [gateway.cache]; opens no connection yet, so a later ConfigError leaks nothing
    responses = ResponseCache.from_config(config, cache, schema._schema)  # [gateway.response_cache]
    metrics = Metrics()  # graph.metrics: this app's own registry, at /metrics
    tracing = tracing_for(config)  # [gateway.tracing]; None (nothing set up) unless a collector is named
    pool = sources or Sources.from_config(config.sources, store=cache, metrics=metrics, tracing=tracing)
    metrics.watch(StateCollector(functools.partial(state_readings, pool, cache)))
    readiness = Readiness(pool, cache, timeout_s=float(config.options.get("ready_timeout_s", 2.0)))
    authn = authenticator or Authenticator(settings)
    notifications = Notifications.from_config(config, pool, cache)  # [gateway.notifications]; None when off
    logboek = ProcessingLog.from_config(config)
    live = Live.from_config(config, pool, logboek)  # [gateway.live]; events shared through Redis with the cache
    if notifications is not None:
        notifications.listeners.append(live.notification)  # each message is also an event for subscriptions

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if notifications is not None:
            notifications.start()  # in the background: the Notificaties API calls back while we subscribe
        try:
            yield
        finally:
            if notifications is not None:
                await notifications.aclose()
            await live.aclose()
            await pool.aclose()
            await authn.aclose()
            await responses.aclose()
            await cache.aclose()
            if tracing is not None:
                tracing.shutdown()  # exports what is left

    async def health(request: Request) -> Response:
        # a cache that is away slows nothing (the sources answer), so still 200, but operators should know
        healthy = cache.healthy
        return JSONResponse({
            "status": "ok" if healthy else "degraded",
            "sources": pool.names(),
            "cache": {"backend": cache.name, "healthy": healthy},
        })

    graphql: Any = GraphQLEndpoint(schema, pool, logboek)
    graphql.register = register_for(config)
    graphql.authenticator = authn
    graphql.graphiql_headers = ide_headers
    graphql.responses = responses
    graphql.metrics = metrics
    graphql.tracing = tracing
    graphql.live = live
    graphql.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
    graphql.max_subscriptions_per_connection = live.settings.max_subscriptions
    graphql.connection_init_wait_timeout = timedelta(seconds=live.settings.connection_init_timeout_s)
    limits = Limits.from_options(config.options)
    if not limits.graphiql:
        graphql.graphql_ide = None  # Strawberry answers the page's GET with 404
    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),  # subscriptions (graph.live)
        Route("/health", health),  # the process answers
        Route("/ready", readiness.endpoint),  # and can serve: every source reachable (graph.readiness)
        Route("/metrics", metrics.endpoint),  # Prometheus text format (graph.metrics)
    ]
    routes += dashboard.routes("/graphql", ide_headers)  # graph.dashboard: charts polling the graph, no data of its own
    federation = federation_settings(config)  # [gateway.federation]: the same graph as a subgraph (graph.federation)
    if federation.enabled:
        from schema.federation import subgraph

        routes.append(Route(federation.path, subgraph_endpoint(graphql, subgraph), methods=["GET", "POST"]))
    if limits.graphiql:
        routes.append(graphiql.assets_mount())  # the page's scripts and styles, served here rather than by a CDN
    if notifications is not None:
        routes += notifications.routes()  # the callback (graph.notifications)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=http_middleware(limits, config.options),
    )
    app.state.sources = pool
    app.state.authenticator = authn
    app.state.notifications = notifications
    app.state.live = live  # subscriptions, their event bus and polling loops (graph.live, graph.events)
    app.state.cache = cache  # the one store of this app, shared by every source's cached calls (graph.cache)
    app.state.limits = limits  # graph.limits and graph.budget read the request's limits here
    app.state.responses = responses  # graph.response_cache: whole answers of dashboard operations
    app.state.metrics = metrics
    app.state.tracing = tracing
    app.state.readiness = readiness
    return app


def _graphiql_headers(value: Any) -> dict[str, str]:
    """``[gateway] graphiql_headers``: what GraphiQL opens with. The demo sets it at run time with a token it
    just minted; a configuration file must never hold a token, so production configurations leave it out."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError("[gateway] graphiql_headers must be a table of header names to strings")
    return dict(value)
