"""Objects API (with the Objecttypes endpoints): fetching objects, their types, and checked filters.

The Objects API has no multi-id lookup: an object is one GET by URL, deduplicated per request, and objects
that arrive in a list prime that lookup. Objecttypes change rarely, so each distinct type URL is followed
once per request, and a list of them is read at most once to turn a type's name into its URL.
``data_attr`` expressions are checked here before they are forwarded, so a malformed one is the caller's
error, not an upstream failure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from functools import partial
from typing import Any

from graph.authz import no_citizen
from graph.config import declare_source
from graph.context import Context
from graph.errors import BadRequest, SourceError, unless_absent
from graph.paging import Page, parse_page
from graph.tolerant import text

OBJECTEN = "objecten"
OBJECTTYPES = "objecttypes"  # a separate Objecttypes API, when configured; else the Objects API serves them
declare_source(OBJECTEN)
declare_source(OBJECTTYPES)
CRS = {"Accept-Crs": "EPSG:4326"}
PAGE_SIZE = 100
OPERATORS = ("exact", "gt", "gte", "lt", "lte", "icontains", "in")
ORDERED = ("gt", "gte", "lt", "lte")  # the Objects API compares these only as numbers or dates
MAX_DATA_ATTRS = 10
MAX_TYPE_PAGES = 10


def _number_or_date(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        pass
    try:
        dt.date.fromisoformat(value)
        return True
    except ValueError:
        return False


def check_data_attr(expression: str) -> str:
    """``key__operator__value`` as the Objects API accepts it; BadRequest naming the problem otherwise."""
    parts = expression.rsplit("__", 2)
    if len(parts) != 3 or not parts[0]:
        raise BadRequest(f"dataAttr '{expression}' must have the shape key__operator__value.")
    key, operator, value = parts
    if "," in key or any(not segment for segment in key.split("__")):
        raise BadRequest(f"dataAttr '{expression}': the key may not contain commas or empty parts.")
    if operator not in OPERATORS:
        raise BadRequest(f"dataAttr '{expression}': operator must be one of {', '.join(OPERATORS)}.")
    if operator in ORDERED and not _number_or_date(value):
        raise BadRequest(f"dataAttr '{expression}': '{operator}' compares only numbers and dates (YYYY-MM-DD).")
    return expression


def check_data_attrs(expressions: list[str] | None) -> list[str]:
    if not expressions:
        return []
    if len(expressions) > MAX_DATA_ATTRS:
        raise BadRequest(f"Give at most {MAX_DATA_ATTRS} dataAttr expressions.")
    return [check_data_attr(e) for e in expressions]


# -- objects ------------------------------------------------------------------------------------------


async def object_by_url(ctx: Context, url: str) -> dict[str, Any] | None:
    """One object by its URL in the Objects API, fetched once per request (null when it does not exist)."""
    no_citizen(ctx, "the Objecten API")
    found: dict[str, Any] | None = await _object_loader(ctx).load(url)
    return found


def _object_loader(ctx: Context) -> Any:
    return ctx.loader((OBJECTEN, "object"), partial(_objects, ctx))


async def _objects(ctx: Context, urls: list[str]) -> list[Any]:
    source = ctx.sources[OBJECTEN]

    async def one(url: str) -> dict[str, Any] | None:
        body = await unless_absent(source.get(url, headers=CRS, context=ctx), None)
        return dict(body) if isinstance(body, Mapping) else None

    return list(await asyncio.gather(*(one(u) for u in urls), return_exceptions=True))


async def objects_page(ctx: Context, number: int, filters: list[tuple[str, str]]) -> Page:
    no_citizen(ctx, "the Objecten API")
    params = [*filters, ("page", str(number)), ("pageSize", str(PAGE_SIZE))]
    page = parse_page(await ctx.sources[OBJECTEN].get("/objects", params, headers=CRS, context=ctx), OBJECTEN)
    loader = _object_loader(ctx)
    for item in page.items:
        if isinstance(item, Mapping) and isinstance(item.get("url"), str):
            loader.prime(item["url"], dict(item))
    return page


def object_url(ctx: Context, uuid: str) -> str:
    return ctx.sources[OBJECTEN].url(f"/objects/{uuid}")


def record_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    record = obj.get("record")
    return dict(record) if isinstance(record, Mapping) else {}


def zaak_urls(obj: Mapping[str, Any]) -> list[str]:
    """The zaken the object's current record refers to, each once."""
    refs = record_of(obj).get("references")
    urls = (
        [text(r.get("url")) for r in refs if isinstance(r, Mapping) and str(r.get("type") or "").lower() == "zaak"]
        if isinstance(refs, list)
        else []
    )
    return list(dict.fromkeys(u for u in urls if u))


# -- objecttypes --------------------------------------------------------------------------------------


def _types_source(ctx: Context) -> str:
    return OBJECTTYPES if OBJECTTYPES in ctx.sources else OBJECTEN


async def objecttype(ctx: Context, url: Any) -> dict[str, Any] | None:
    link = text(url)
    if link is None:
        return None
    body = await unless_absent(ctx.follow(link), None)
    return dict(body) if isinstance(body, Mapping) else None


async def all_objecttypes(ctx: Context) -> list[dict[str, Any]]:
    """Every objecttype, read once per request; each primes the follow-cache under its URL."""
    found: list[dict[str, Any]] = await ctx.loader((OBJECTEN, "objecttypes"), partial(_all_types, ctx)).load("all")
    return found


async def _all_types(ctx: Context, keys: list[str]) -> list[Any]:
    source = ctx.sources[_types_source(ctx)]
    types: list[dict[str, Any]] = []
    try:
        for number in range(1, MAX_TYPE_PAGES + 1):
            page = parse_page(await source.get("/objecttypes", [("page", str(number))], context=ctx), source.name)
            types.extend(dict(t) for t in page.items if isinstance(t, Mapping))
            if not page.has_next:
                break
    except SourceError as exc:
        return [exc for _ in keys]
    for t in types:
        if isinstance(t.get("url"), str):
            ctx.prime(t["url"], t)
    return [types for _ in keys]


async def objecttype_url(ctx: Context, name_or_url: str) -> str:
    """The type filter for ``objecttype``: a URL as given, a name (or plural) looked up among the types."""
    if name_or_url.startswith(("http://", "https://")):
        return name_or_url
    wanted = name_or_url.strip().casefold()
    types = await all_objecttypes(ctx)
    for t in types:
        names = {str(t.get(k) or "").casefold() for k in ("name", "namePlural")}
        if wanted in names and isinstance(t.get("url"), str):
            return str(t["url"])
    known = ", ".join(sorted(str(t.get("name")) for t in types if t.get("name")))
    raise BadRequest(f"Unknown objecttype '{name_or_url}'. Known objecttypes: {known or 'none'}.")
