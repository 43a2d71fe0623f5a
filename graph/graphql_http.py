"""GraphQL over HTTP as its specification describes it, on top of Strawberry's ASGI view.

- Request bodies are read with orjson: bytes that are not UTF-8, JSON nested deeper than orjson's limit
  (1,024) and bodies that are not a JSON object are a 400 with a one-line reason, never a 500.
- A client that accepts ``application/graphql-response+json`` gets that media type, and a request error (a
  document that does not parse or validate, variables that do not coerce: an answer without data) is a 400
  without a ``data`` entry. Clients that only know ``application/json`` keep getting 200, as the
  specification asks for that media type.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE",
              413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}
MEDIA = "gemeentegraaf_media_type"  # attribute of the request's sub-response: the media type to answer with


def accepted(accept: str) -> str:
    """The media type to answer with: graphql-response+json when the client prefers it (or takes only it)."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    ours = weights.get(GRAPHQL_RESPONSE, 0.0)
    theirs = max(weights.get(JSON, 0.0), weights.get("application/*", 0.0), weights.get("*/*", 0.0))
    return GRAPHQL_RESPONSE if ours > 0 and ours >= theirs else JSON


@functools.lru_cache(maxsize=512)
def operations_in(document: str) -> tuple[str | None, ...] | None:
    """The names of a document's operations (None when it does not parse: Strawberry reports that)."""
    try:
        definitions = parse(document).definitions
    except GraphQLError:
        return None
    return tuple(d.name.value if d.name else None for d in definitions if isinstance(d, OperationDefinitionNode))


def code_of(error: GraphQLError) -> str:
    """The code for an error that has none yet: only errors from before execution can lack one."""
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def request_error(result: ExecutionResult) -> bool:
    """No data and only errors that belong to no field: the request never started executing."""
    errors: list[GraphQLError] = list(result.errors or [])
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


class GraphQLOverHTTP:
    """Mixed into the gateway's Strawberry view (``graph.app.GraphQLEndpoint``)."""

    def decode_json(self, data: str | bytes) -> object:
        try:
            return orjson.loads(data)  # its errors are json.JSONDecodeError: Strawberry answers them with a 400
        except orjson.JSONDecodeError:
            raise HTTPException(400, "The request body is not valid UTF-8 JSON (or is nested too deeply).") from None

    def parse_json(self, data: str | bytes) -> Any:
        value = self.decode_json(data)
        if value is None:
            return {}  # a body of `null` (or `variables=null` on a GET) asks for nothing: "no query" follows
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return value

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response: Response = await super().get_sub_response(request)  # type: ignore[misc]
        setattr(response, MEDIA, accepted(request.headers.get("accept", "")))
        request.state.gemeentegraaf_sub_response = response
        return response

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Strawberry answers refusals before execution (a body that is not JSON, a wrong method) as plain
        text; a GraphQL client expects a GraphQL error with a code, so they become one, status kept."""
        try:
            return await super().run(request, context, root_value)  # type: ignore[misc]
        except HTTPException as refusal:
            media = accepted(request.headers.get("accept", "")) if isinstance(request, Request) else JSON
            code = HTTP_CODES.get(refusal.status_code, "BAD_REQUEST")
            body = {"errors": [{"message": refusal.reason, "extensions": {"code": code}}]}
            return Response(orjson.dumps(body), refusal.status_code, media_type=f"{media}; charset=utf-8"
                            if media != JSON else JSON)

    async def execute_single(
        self, request: Any, request_adapter: Any, sub_response: Any, context: Any, root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry runs the first of several operations when no ``operationName`` is given; the
        specification (and graphql-js) make that an error, so a client never gets an operation it did not name."""
        query, name = request_data.query, request_data.operation_name
        message = None
        several = isinstance(query, str) and any(w in query for w in ("query", "mutation", "subscription"))
        if isinstance(query, str) and (name is not None or several):
            names = operations_in(query)
            if names is not None and name is None and len(names) > 1:
                message = "The document holds several operations: name the one to run in operationName."
            elif names is not None and name is not None and name not in names:
                message = "The document has no operation of the name given in operationName."
        if message is not None:
            error = GraphQLError(message, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
            return ExecutionResult(data=None, errors=[error])
        result: ExecutionResult = await super().execute_single(  # type: ignore[misc]
            request, request_adapter, sub_response, context, root_value, request_data)
        return result

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        for error in result.errors or []:
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": code_of(error)}
        answer = process_result(result)
        sub = getattr(request.state, "gemeentegraaf_sub_response", None)
        if sub is not None and getattr(sub, MEDIA, JSON) == GRAPHQL_RESPONSE and request_error(result):
            answer.pop("data", None)  # the specification: a request error has no data entry at all
            sub.status_code = 400
        return answer

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response: Response = super().create_response(response_data, sub_response)  # type: ignore[misc]
        media = getattr(sub_response, MEDIA, JSON)
        if media != JSON:
            response.headers["content-type"] = f"{media}; charset=utf-8"
        return response
