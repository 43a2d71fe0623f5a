"""Errors a GraphQL client can meet, and the codes they carry in ``extensions.code``.

    GatewayError                    any error the gateway reports on purpose
    ├── SourceError                 a source call failed; ``extensions`` has code, source and status
    │   ├── UPSTREAM_UNAVAILABLE    no answer: connection refused or reset, DNS, TLS; or its circuit is open
    │   ├── UPSTREAM_ERROR          the source answered with a 5xx (``status`` says which)
    │   ├── UPSTREAM_TIMEOUT        no answer within the source's ``timeout_s``
    │   ├── UPSTREAM_BUSY           the call could not start within ``queue_timeout_s`` (graph.resilience)
    │   ├── UPSTREAM_BAD_RESPONSE   an answer that is not the JSON the source promised
    │   ├── UPSTREAM_REFUSED        the source refused the gateway's credentials (401/403) or request (4xx)
    │   ├── UPSTREAM_RATE_LIMITED   the source answered 429
    │   ├── NOT_FOUND               the object does not exist at its source (404)
    │   └── FORBIDDEN_URL           a followed link points outside every configured source
    ├── BadRequest (BAD_USER_INPUT) the query's arguments cannot be used
    ├── ResultTooLarge              an aggregate would need more source calls than allowed
    ├── Forbidden (FORBIDDEN)       the caller lacks the field's scope, or is a citizen outside ``me``
    ├── PurposeError                personal data asked without a registered purpose (graph.purpose):
    │                               PURPOSE_REQUIRED or PURPOSE_UNKNOWN
    └── NotAvailable                the sources cannot answer this field honestly (NOT_AVAILABLE)

A source error in one municipality's part of the graph (``gemeente(code:)``, ``gemeenten``) also carries
``extensions.gemeente``, the municipality's CBS code (``graph.source.Source.send`` adds it).

Anything else raised while resolving is a bug: it is reported as INTERNAL_SERVER_ERROR with a fixed
message, so no stack trace, upstream body, URL credential or personal data reaches the client.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")
D = TypeVar("D")


class GatewayError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {k: v for k, v in extensions.items() if v is not None}

    def as_extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.extensions}

    def with_extensions(self, **extensions: Any) -> GatewayError:
        """A copy that also carries ``extensions``: one error can reach several waiters (coalesced calls, a
        loader's batch), so the original is never changed."""
        clone = Exception.__new__(type(self), *self.args)
        clone.__dict__.update(self.__dict__)
        clone.extensions = {**self.extensions, **extensions}
        return clone


class SourceError(GatewayError):
    """``problems`` holds the codes of the source's problem+json answer (its ``code`` and each
    ``invalidParams`` code), so callers can tell refusals apart without ever keeping the body."""

    def __init__(
        self, code: str, source: str, message: str, status: int | None = None, problems: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(message, source=source, status=status)
        self.code = code
        self.source = source
        self.status = status
        self.problems = problems


class BadRequest(GatewayError):
    code = "BAD_USER_INPUT"


def source_error_for_status(source: str, status: int, problems: frozenset[str] = frozenset()) -> SourceError:
    """The error for a non-success HTTP status from a source (never includes the upstream body)."""
    if status == 404:
        return SourceError("NOT_FOUND", source, f"Not found at source '{source}'.", status, problems)
    if status == 429:
        message = f"Source '{source}' is rate limiting the gateway."
        return SourceError("UPSTREAM_RATE_LIMITED", source, message, status, problems)
    if status in (401, 403):
        message = f"Source '{source}' refused the gateway's credentials."
        return SourceError("UPSTREAM_REFUSED", source, message, status, problems)
    if status >= 500:
        message = f"Source '{source}' answered with an error (HTTP {status})."
        return SourceError("UPSTREAM_ERROR", source, message, status, problems)
    return SourceError("UPSTREAM_REFUSED", source, f"Source '{source}' refused the request.", status, problems)


class ResultTooLarge(GatewayError):
    code = "RESULT_TOO_LARGE"


class Forbidden(GatewayError):
    """``extensions.scope`` names the scope that was missing, when a scope would have helped."""

    code = "FORBIDDEN"


class PurposeError(GatewayError):
    def __init__(self, code: str, message: str, **extensions: Any) -> None:
        super().__init__(message, **extensions)
        self.code = code


class NotAvailable(GatewayError):
    code = "NOT_AVAILABLE"


async def unless_absent(call: Awaitable[T], default: D) -> T | D:
    """``call``'s answer, or ``default`` where the source says the object does not exist (404): an absent
    object is an answer, not a failure."""
    try:
        return await call
    except SourceError as exc:
        if exc.code == "NOT_FOUND":
            return default
        raise
