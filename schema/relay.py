"""Relay connections for every list a source pages: ``totalCount``, ``pageInfo``, ``edges``, ``nodes``."""

from __future__ import annotations

from collections.abc import Callable
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


@strawberry.type(description="A page of a list that the source pages.")
class Connection(Generic[T]):
    total_count: int | None = strawberry.field(
        description="Number of items in the whole list, when the source tells (BAG does not)."
    )
    page_info: PageInfo = strawberry.field(description="Paging state.")
    edges: list[Edge[T]] = strawberry.field(description="The items with their cursors.")
    nodes: list[T] = strawberry.field(description="The items, without cursors.")


def connection(window: Window, make: Callable[[Any], T]) -> Connection[T]:
    nodes = [make(item) for item in window.items]
    cursors = [encode_cursor(window.offset + i) for i in range(len(nodes))]
    return Connection(
        total_count=window.total,
        page_info=PageInfo(
            has_next_page=window.has_next,
            has_previous_page=window.offset > 0,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        edges=[Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
        nodes=nodes,
    )
