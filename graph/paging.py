"""Relay-style windows over source paging, whatever style the source pages in.

Sources page three ways: DRF ``{count, next, previous, results}`` (ZGW, Open Klant, Objecten), HAL
``{_links: {next}, _embedded: {<name>: [...]}}`` without a count (BAG), and HAL-like DRF (Signalen).
``parse_page`` reads all of them; ``window`` turns ``first``/``after`` into the upstream pages to fetch,
fetching those pages concurrently.

Page numbers are only ever computed from a page size the source was seen to use: a page with a ``next``
link is a full page, so its length is the source's real size. A source that ignores ``pageSize`` (or pages
by another size than assumed) is caught by its first answer, and the window is worked out again from the
size it really uses; ``PageSizes`` keeps what was learned per source.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graph.errors import BadRequest, SourceError, unless_absent

DEFAULT_FIRST = 20
MAX_FIRST = 100  # a connection's `first`, unless it allows more
LARGEST_FIRST = 500  # the most any connection allows (zaken: dashboards and exports read five Open Zaak pages)


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


@dataclass(slots=True)
class PageSizes:
    """How many items one source's pages hold, as its documentation and its answers tell; kept per source.

    A size is asked for only while the source documents a page-size parameter (``maximum`` > 0) and has
    never been seen to ignore it; otherwise the source's own size is expected (``natural`` once an answer
    showed it, else ``default``). Whatever is expected, ``window`` checks it against the answer.
    """

    default: int  # the size assumed until an answer shows another
    maximum: int = 0  # the largest size the client may ask for; 0: the source chooses
    natural: int | None = None  # the size the source's answers showed when it chose itself

    def plan(self, offset: int, count: int) -> tuple[int | None, int]:
        """(the size to ask for, or None to leave it to the source; the size to expect) for a window."""
        if self.maximum:
            asked = fitting_page_size(offset, count, self.default, self.maximum)
            return asked, asked
        return None, self.natural or self.default

    def learn(self, asked: int | None, real: int) -> None:
        """An answer held pages of ``real`` items where ``asked`` (None: nothing) was asked for."""
        if asked is not None and real != asked:
            self.maximum = 0  # asked for and not given: stop asking, expect what it gives
        if asked is None or real != asked:
            self.natural = real


async def window(
    first: int | None,
    after: str | None,
    page_size: int,
    fetch: Callable[[int], Awaitable[Page]],
    learned: Callable[[int], None] | None = None,
    max_first: int = MAX_FIRST,
) -> Window:
    """Fetch the upstream pages (numbered from 1) that hold the window, expecting ``page_size`` items a page.

    The answers have the last word: when a full page shows another size, the pages are worked out again
    from that size (pages already fetched are reused: they are the source's pages whatever was expected)
    and ``learned`` is told it. A page past the end (ZGW answers 404) is empty, and the total still comes
    from the source.
    """
    offset, count = bounds(first, after, max_first)
    if count == 0:
        page = await fetch(1)
        return Window([], offset, page.total, page.total is None or offset < page.total)
    pages: dict[int, Page | None] = {}  # the source's answers by page number; None: past the end
    size = page_size
    for _ in range(3):  # expected size; page 1 when nothing told the size; the real size
        await _fetch_missing(fetch, pages, _numbers(offset, count, size))
        if _single_page(pages):
            break
        real = _full_page_size(pages)
        if real is None:
            if 1 in pages or not _unsure(pages, size):
                break
            await _fetch_missing(fetch, pages, [1])  # nothing showed the size: page 1 does
            continue
        if real == size:
            break
        size = real
        if learned is not None:
            learned(real)
    return _assemble(pages, offset, count, size)


def _numbers(offset: int, count: int, size: int) -> list[int]:
    return list(range(offset // size + 1, (offset + count - 1) // size + 2))


async def _fetch_missing(fetch: Callable[[int], Awaitable[Page]], pages: dict[int, Page | None],
                         numbers: list[int]) -> None:
    missing = [n for n in numbers if n not in pages]
    found = await asyncio.gather(*(_fetch_or_none(fetch, n) for n in missing))
    pages.update(zip(missing, found, strict=True))


async def _fetch_or_none(fetch: Callable[[int], Awaitable[Page]], number: int) -> Page | None:
    """A page, or None past the end: ZGW answers a page number beyond the last with 404 (page 1 always exists,
    so a 404 there is an error)."""
    return await fetch(number) if number == 1 else await unless_absent(fetch(number), None)


def _single_page(pages: dict[int, Page | None]) -> bool:
    first = pages.get(1)
    return first is not None and not first.has_next


def _full_page_size(pages: dict[int, Page | None]) -> int | None:
    """The real page size: the length of any page that has a next page."""
    return next((len(p.items) for p in pages.values() if p is not None and p.has_next and p.items), None)


def _unsure(pages: dict[int, Page | None], size: int) -> bool:
    """Whether pages without a full one among them leave the size in doubt: a page past the end (it may be
    past the end only for the wrong size), or a last page whose length does not add up to the total."""
    for number, page in pages.items():
        if page is None:
            return True
        if page.total is not None and page.total != (number - 1) * size + len(page.items):
            return True
    return False


def _assemble(pages: dict[int, Page | None], offset: int, count: int, size: int) -> Window:
    total = next((p.total for p in pages.values() if p is not None and p.total is not None), None)
    if _single_page(pages):
        numbers, start = [1], offset
    else:
        numbers = _numbers(offset, count, size)
        start = offset - (numbers[0] - 1) * size
    fetched = [pages.get(n) for n in numbers]
    items = [item for page in fetched if page is not None for item in page.items]
    selected = items[start : start + count]
    last = fetched[-1]
    has_next = bool(selected) and (len(items) > start + count or (last is not None and last.has_next))
    return Window(selected, offset, total, has_next)
