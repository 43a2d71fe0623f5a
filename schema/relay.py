"""Relay connections for every list a source pages: ``totalCount``, ``pageInfo``, ``edges``, ``nodes``.

A connection's page is fetched lazily, once, when the first of its fields is resolved, and those fields
are nullable: when the source fails, the error sits at ``zaken.nodes`` (say) and the rest of the answer,
other root fields included, survives, although the connection itself is non-null as the contract asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

import strawberry

from graph.paging import Window, encode_cursor

T = TypeVar("T")


@strawberry.type(description="Where this page sits in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether asking with `after: endCursor` gives more.")
    has_previous_page: bool = strawberry.field(description="Whether items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item on this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type(description="One item of a page, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item; pass as `after` to continue.")
    node: T = strawberry.field(description="The item.")


class _Page(Generic[T]):
    """The page behind a connection, loaded on first use and shared by all of its fields."""

    def __init__(self, load: Callable[[], Awaitable[Window]], make: Callable[[Any], T]) -> None:
        self._load, self._make = load, make
        self._task: asyncio.Task[tuple[Window, list[Edge[T]]]] | None = None

    async def get(self) -> tuple[Window, list[Edge[T]]]:
        if self._task is None:
            self._task = asyncio.ensure_future(self._build())
        return await asyncio.shield(self._task)

    async def _build(self) -> tuple[Window, list[Edge[T]]]:
        window = await self._load()
        # tolerance: a null or non-object item in a source's page is skipped, not a failed response
        edges = [
            Edge(cursor=encode_cursor(window.offset + i), node=self._make(item))
            for i, item in enumerate(window.items)
            if isinstance(item, Mapping)
        ]
        return window, edges


@strawberry.type(description="A page of a list that the source pages.")
class Connection(Generic[T]):
    _page: strawberry.Private[_Page[T]]

    @strawberry.field(description="Number of items in the whole list, when the source tells (BAG does not).")
    async def total_count(self) -> int | None:
        return (await self._page.get())[0].total

    @strawberry.field(description="Paging state.")
    async def page_info(self) -> PageInfo | None:
        window, edges = await self._page.get()
        return PageInfo(
            has_next_page=window.has_next,
            has_previous_page=window.offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        )

    @strawberry.field(description="The items with their cursors.")
    async def edges(self) -> list[Edge[T]] | None:
        return (await self._page.get())[1]

    @strawberry.field(description="The items, without cursors.")
    async def nodes(self) -> list[T] | None:
        return [edge.node for edge in (await self._page.get())[1]]


def lazy_connection(load: Callable[[], Awaitable[Window]], make: Callable[[Any], T]) -> Connection[T]:
    """A connection whose page is fetched when (and only if) one of its fields is selected."""
    return Connection(_page=_Page(load, make))


def connection(window: Window, make: Callable[[Any], T]) -> Connection[T]:
    """A connection over a page that is already fetched."""

    async def ready() -> Window:
        return window

    return lazy_connection(ready, make)
