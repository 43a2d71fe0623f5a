"""Relay-style windows over source paging, whatever style the source pages in.

Sources page three ways: DRF ``{count, next, previous, results}`` (ZGW, Open Klant, Objecten), HAL
``{_links: {next}, _embedded: {<name>: [...]}}`` without a count (BAG), and HAL-like DRF (Signalen).
``parse_page`` reads all of them; ``window`` turns ``first``/``after`` into the upstream pages to fetch,
fetching those pages concurrently.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.errors import BadRequest, SourceError

DEFAULT_FIRST = 20
MAX_FIRST = 100


@dataclass(slots=True)
class Page:
    items: list[Any]
    total: int | None
    has_next: bool


@dataclass(slots=True)
class Window:
    items: list[Any]
    offset: int  # offset of items[0] in the whole list
    total: int | None
    has_next: bool


def parse_page(body: Any, source: str) -> Page:
    if isinstance(body, list):
        return Page(body, len(body), False)
    if not isinstance(body, Mapping):
        raise SourceError("UPSTREAM_BAD_RESPONSE", source, f"Source '{source}' sent a page that is not an object.")
    links = body.get("_links") if isinstance(body.get("_links"), Mapping) else {}
    next_link = body.get("next") or (links.get("next") if isinstance(links, Mapping) else None)
    if isinstance(next_link, Mapping):
        next_link = next_link.get("href")
    count = body.get("count")
    total = count if isinstance(count, int) and not isinstance(count, bool) else None
    if isinstance(body.get("results"), list):
        return Page(body["results"], total, bool(next_link))
    embedded = body.get("_embedded")
    if isinstance(embedded, Mapping):
        lists = [v for v in embedded.values() if isinstance(v, list)]
        return Page(lists[0] if lists else [], total, bool(next_link))
    if "_embedded" not in body and "results" not in body and links:
        return Page([], total or 0, False)  # HAL answers an empty result without _embedded
    raise SourceError("UPSTREAM_BAD_RESPONSE", source, f"Source '{source}' sent a page in an unknown shape.")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        offset = int(value)
        if kind != "o" or offset < 0:
            raise ValueError
        return offset
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise BadRequest("Invalid cursor: use an endCursor or cursor value from an earlier answer.") from None


def bounds(first: int | None, after: str | None, max_first: int = MAX_FIRST) -> tuple[int, int]:
    """(offset, count) for Relay arguments, refusing what would make the gateway page a source dry."""
    count = DEFAULT_FIRST if first is None else first
    if count < 0 or count > max_first:
        raise BadRequest(f"'first' must be between 0 and {max_first}.")
    return (decode_cursor(after) + 1 if after else 0), count


def fitting_page_size(offset: int, count: int, default: int, maximum: int) -> int:
    """The smallest page size of at least ``count`` whose one page holds the whole window, for sources that
    let the client choose (``pageSize``): one call, and no items fetched only to be thrown away."""
    if count <= 0:
        return default
    for size in range(count, maximum + 1):
        if offset // size == (offset + count - 1) // size:
            return size
    return default


async def window(
    first: int | None, after: str | None, page_size: int, fetch: Callable[[int], Awaitable[Page]]
) -> Window:
    """Fetch the upstream pages (numbered from 1, ``page_size`` items each) that hold the window."""
    offset, count = bounds(first, after)
    if count == 0:
        page = await fetch(1)
        return Window([], offset, page.total, page.total is None or offset < page.total)
    first_page = offset // page_size + 1
    last_page = (offset + count - 1) // page_size + 1
    pages = await asyncio.gather(*(_fetch_or_empty(fetch, n) for n in range(first_page, last_page + 1)))
    items = [item for page in pages for item in page.items]
    start = offset - (first_page - 1) * page_size
    selected = items[start : start + count]
    total = next((p.total for p in pages if p.total is not None), None)
    more_here = len(items) > start + count
    has_next = more_here or pages[-1].has_next if selected else False
    return Window(selected, offset, total, has_next)


async def _fetch_or_empty(fetch: Callable[[int], Awaitable[Page]], number: int) -> Page:
    try:
        return await fetch(number)
    except SourceError as exc:
        if exc.code == "NOT_FOUND" and number > 1:  # ZGW answers a page past the end with 404
            return Page([], None, False)
        raise
