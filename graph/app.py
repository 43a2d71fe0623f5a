"""The ASGI application: ``/graphql`` (GraphiQL on GET from a browser), ``/health``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from graph.caller import ANONYMOUS, Caller, processing_of
from graph.config import GatewayConfig
from graph.context import Context
from graph.source import Sources


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI view with a per-request ``Context`` and orjson encoding (about 12x json)."""

    def __init__(self, schema: strawberry.Schema, sources: Sources) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.sources = sources

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        http = request if isinstance(request, Request) else None
        caller = await self.authenticate(http)
        return Context(self.sources, http, caller, processing_of(http))

    async def authenticate(self, request: Request | None) -> Caller:
        """Who is asking (``graph.authn`` checks the bearer token)."""
        return ANONYMOUS

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


def create_app(
    config: GatewayConfig, schema: strawberry.Schema | None = None, sources: Sources | None = None
) -> Starlette:
    if schema is None:
        from schema.root import schema as default_schema

        schema = default_schema
    pool = sources or Sources.from_config(config.sources)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pool.aclose()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "sources": pool.names()})

    graphql: Any = GraphQLEndpoint(schema, pool)
    app = Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/health", health)], lifespan=lifespan
    )
    app.state.sources = pool
    return app
