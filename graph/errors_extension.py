"""Shapes every GraphQL error the same way: a clear message, ``path`` and ``extensions.code``.

Errors the gateway raises on purpose (``GatewayError``) keep their message and extensions; errors from
parsing and validation keep graphql-core's message; anything else is a bug and is masked, because its
message may hold an upstream body, a URL with credentials or personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from graph.errors import GatewayError

log = logging.getLogger("gemeentegraaf.errors")
MASKED = "Internal error while resolving this field."


def shape(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error  # a variable's value refused by a scalar arrives wrapped twice
    if isinstance(original, GatewayError) and error.path is None and error.original_error is not original:
        code = original.as_extensions()  # keep graphql-core's message: it names the variable
        return GraphQLError(error.message, error.nodes, error.source, error.positions, None, None, code)
    if isinstance(original, GatewayError):
        return GraphQLError(
            original.message, error.nodes, error.source, error.positions, error.path, None, original.as_extensions()
        )
    if isinstance(original, GraphQLError) and error.path is None and error.message.startswith("Variable '$"):
        original = None  # graphql-core refusing a variable's value: its message names the variable, a client error
        error.extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
    if original is None:
        code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
        return GraphQLError(
            error.message,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            None,
            {**(error.extensions or {}), "code": code},
        )
    # A bug: log where and what kind, never the message (it may carry personal data).
    log.error(
        "unexpected %s at %s",
        type(original).__name__,
        error.path,
        exc_info=(type(original), original, original.__traceback__) if log.isEnabledFor(logging.DEBUG) else None,
    )
    return GraphQLError(
        MASKED, error.nodes, error.source, error.positions, error.path, None, {"code": "INTERNAL_SERVER_ERROR"}
    )


def code_of(error: GraphQLError) -> str:
    """The code the client will see (errors reach ``process_errors`` before ``ShapeErrors`` shapes them)."""
    given = (error.extensions or {}).get("code")
    if given:
        return str(given)
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, GatewayError):
        return original.code
    if original is None or isinstance(original, GraphQLError):
        return "BAD_USER_INPUT" if error.message.startswith("Variable '$") else "GRAPHQL_VALIDATION_FAILED"
    return "INTERNAL_SERVER_ERROR"


class ShapeErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [shape(e) for e in errors]


class GatewaySchema(strawberry.Schema):
    """Logs each error as its code and path only: messages can quote argument values, such as a BSN."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            log.info("graphql error %s at %s", code_of(error), error.path)
