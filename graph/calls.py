"""One call to a source and its answer, and the contract of a stage between them.

Kept apart from ``graph.source`` so the stages (cache, budget, processing log, what a source is told) can
build and read calls without importing the module that assembles them into a chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from graph.errors import SourceError

QueryParams = Sequence[tuple[str, str]]


@dataclass(slots=True)
class SourceCall:
    """One HTTP call to one source; ``context`` is the GraphQL request it serves, if any; ``subjects`` are
    the BSNs of the persons the call concerns, for the source's headers and the processing log."""

    source: str
    method: str
    url: str
    params: QueryParams = ()
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotent: bool = True  # GETs, and POSTs that only query (BRP /personen, ZGW _zoek, GraphQL queries)
    context: Any = None
    subjects: tuple[str, ...] = ()
    # False: the HTTP cache neither keeps nor looks up the answer (a statistics scan's megabyte pages are read
    # once into an aggregate, which the response cache keeps; holding the pages too costs memory for nothing)
    keep: bool = True


@dataclass(slots=True)
class SourceResponse:
    status: int
    headers: Mapping[str, str]
    content: bytes
    source: str

    def json(self) -> Any:
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            raise SourceError(
                "UPSTREAM_BAD_RESPONSE",
                self.source,
                f"Source '{self.source}' sent a response that is not valid JSON.",
                self.status,
            ) from None


Next = Callable[[SourceCall], Awaitable[SourceResponse]]


class Stage(Protocol):
    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse: ...
