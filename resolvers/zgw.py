"""ZGW sources (Zaken, Catalogi, Documenten, Besluiten): how to fetch, batch and read them.

Fetching strategy, cheapest first:
1. what arrived inline: Zaken 1.5+ ``expand`` is asked for exactly the relations the query selected,
   and every object in ``_expand`` primes the request's follow-cache under its own URL;
2. batch endpoints: zaken by uuid through ``POST /zaken/_zoek`` with ``uuid__in`` (likewise documents);
3. one filtered list per parent (``/rollen?zaak=``), never one GET per child URL;
4. otherwise ``ctx.follow(url)``: once per distinct URL per request, concurrency bounded per source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from graph.context import Context
from graph.errors import SourceError
from graph.paging import Page, parse_page
from graph.selection import children
from graph.tolerant import mapping, text, valid_uuid

ZAKEN, CATALOGI, DOCUMENTEN, BESLUITEN = "zaken", "catalogi", "documenten", "besluiten"
CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}  # mandatory on the /zaken operations
PAGE_SIZE = 100  # Open Zaak's page size
MAX_PAGE_SIZE = 500  # Open Zaak's largest ``pageSize``
ZOEK_BATCH = 100

# GraphQL field of Zaak -> the Zaken expand path that inlines it (nested paths need their parent too).
EXPAND = {
    "zaaktype": ("zaaktype",),
    "status": ("status",),
    "status.statustype": ("status", "status.statustype"),
    "rollen": ("rollen",),
    "rollen.roltype": ("rollen", "rollen.roltype"),
    "resultaat": ("resultaat",),
    "resultaat.resultaattype": ("resultaat", "resultaat.resultaattype"),
    "zaakobjecten": ("zaakobjecten",),
    "documenten": ("zaakinformatieobjecten",),
    "eigenschappen": ("eigenschappen",),
}
PERSONAL_FILTERS = frozenset({"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn"})


def uuid_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def expand_for(selected: Iterable[str]) -> list[str]:
    """The expand list for a Zaak whose selection (relative to the zaak) is ``selected``."""
    wanted: dict[str, None] = {}
    for path in selected:
        parts = path.split(".")
        for key in (parts[0], ".".join(parts[:2])):
            wanted.update(dict.fromkeys(EXPAND.get(key, ())))
    return sorted(wanted)  # one order for one selection: equal requests share a cache key; parents sort first


def absorb(ctx: Context, obj: Any) -> None:
    """Prime the follow-cache with everything in an object's ``_expand`` (recursively)."""
    if not isinstance(obj, Mapping):
        return
    inline = obj.get("_expand")
    if not isinstance(inline, Mapping):
        return
    for value in inline.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping) and isinstance(item.get("url"), str):
                absorb(ctx, item)
                ctx.prime(item["url"], item)


# -- Zaken ------------------------------------------------------------------------------------------


async def zaken_page(
    ctx: Context, number: int, filters: list[tuple[str, str]], expand: list[str], size: int = PAGE_SIZE
) -> Page:
    """One page of zaken. A filter on a BSN goes in a ``_zoek`` body: personal data stays out of URLs and logs."""
    source = ctx.sources[ZAKEN]
    paging = [("page", str(number))] + ([("pageSize", str(size))] if size != PAGE_SIZE else [])
    if any(name in PERSONAL_FILTERS for name, _ in filters):
        body: dict[str, Any] = dict(filters)
        if expand:
            body["expand"] = ",".join(expand)
        answer = await source.post("/zaken/_zoek", body, paging, CRS, context=ctx)
    else:
        params = [*filters, *paging]
        if expand:
            params.append(("expand", ",".join(expand)))
        answer = await source.get("/zaken", params, headers=CRS, context=ctx)
    page = parse_page(answer, ZAKEN)
    for zaak in page.items:
        absorb(ctx, zaak)
    return page


async def zaak_by_uuid(ctx: Context, uuid: str, expand: list[str]) -> dict[str, Any] | None:
    """A zaak by UUID, batched into ``_zoek`` calls; an invalid UUID is unknown, never part of a batch
    (one bad value would make the source refuse the whole batch)."""
    if not valid_uuid(uuid):
        return None
    loader = ctx.loader(("zaak-by-uuid", tuple(expand)), lambda keys: _zoek_zaken(ctx, keys, expand))
    result: dict[str, Any] | None = await loader.load(uuid)
    return result


async def zaak_by_url(ctx: Context, url: str, expand: list[str]) -> dict[str, Any] | None:
    ctx.sources.owner_of(url)  # a link outside the configured sources is refused, not followed
    if ctx.sources[ZAKEN].owns(url):
        return await zaak_by_uuid(ctx, uuid_of(url), expand)
    return None


async def _zoek_zaken(ctx: Context, uuids: list[str], expand: list[str]) -> list[dict[str, Any] | None]:
    found: dict[str, dict[str, Any]] = {}
    source = ctx.sources[ZAKEN]
    for start in range(0, len(uuids), ZOEK_BATCH):
        body: dict[str, Any] = {"uuid__in": uuids[start : start + ZOEK_BATCH]}
        if expand:
            body["expand"] = ",".join(expand)
        number = 1
        while True:
            page = parse_page(await source.post("/zaken/_zoek", body, [("page", str(number))], CRS, context=ctx), ZAKEN)
            for zaak in page.items:
                if isinstance(zaak, Mapping) and isinstance(zaak.get("url"), str):
                    absorb(ctx, zaak)
                    found[zaak.get("uuid") or uuid_of(zaak["url"])] = dict(zaak)
            if not page.has_next:
                break
            number += 1
    return [found.get(u) for u in uuids]


async def children_of(ctx: Context, zaak: Mapping[str, Any], field: str, path: str) -> list[dict[str, Any]]:
    """A zaak's rollen/zaakobjecten: inline when expanded, else one filtered list for this zaak."""
    inline = mapping(zaak.get("_expand")).get(field)
    if isinstance(inline, list):
        return [dict(x) for x in inline if isinstance(x, Mapping)]
    url = text(zaak.get("url"))
    own = zaak.get(field)
    if url is None or own == []:  # Open Zaak leaves empty relations out of _expand: the zaak's own list says
        return []
    return await list_all(ctx, ZAKEN, path, [("zaak", url)])


async def eigenschappen_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A zaak's eigenschappen: inline when expanded, none when its list is empty, else its sub-resource
    (a plain array)."""
    inline = mapping(zaak.get("_expand")).get("eigenschappen")
    if isinstance(inline, list):
        return [dict(x) for x in inline if isinstance(x, Mapping)]
    url = text(zaak.get("url"))
    if url is None or zaak.get("eigenschappen") == []:
        return []
    return await list_all(ctx, ZAKEN, f"/zaken/{uuid_of(url)}/zaakeigenschappen", [], max_pages=1)


async def list_all(
    ctx: Context, source: str, path: str, params: list[tuple[str, str]], max_pages: int = 10
) -> list[dict[str, Any]]:
    """Every item of a (usually short) filtered list, following ``next`` for at most ``max_pages``."""
    items: list[dict[str, Any]] = []
    for number in range(1, max_pages + 1):
        body = await ctx.loader(("list", source), lambda keys: _get_lists(ctx, keys)).load(
            (source, path, tuple(params), number)
        )
        page = parse_page(body, source)
        items.extend(dict(x) for x in page.items if isinstance(x, Mapping))
        if not page.has_next:
            break
    return items


async def _get_lists(ctx: Context, keys: list[tuple[str, str, tuple[tuple[str, str], ...], int]]) -> list[Any]:
    import asyncio

    async def one(source: str, path: str, params: tuple[tuple[str, str], ...], number: int) -> Any:
        query = [*params, ("page", str(number))] if number > 1 else list(params)
        headers = CRS if path == "/zaken" else None
        return await ctx.sources[source].get(path, query, headers=headers, context=ctx)

    return list(await asyncio.gather(*(one(*k) for k in keys), return_exceptions=True))


async def follow(ctx: Context, url: Any) -> dict[str, Any] | None:
    """A linked ZGW object by URL; null for absent links (including Open Zaak's empty strings)."""
    link = text(url)
    if link is None:
        return None
    body = await ctx.follow(link)
    return dict(body) if isinstance(body, Mapping) else None


# -- Documenten and Besluiten -------------------------------------------------------------------------


async def documenten_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The zaak's documents: its zaakinformatieobjecten (a plain array), then the documents in one _zoek."""
    inline = mapping(zaak.get("_expand")).get("zaakinformatieobjecten")
    if isinstance(inline, list):
        rows: list[Any] = inline
    else:
        url = text(zaak.get("url"))
        if url is None or zaak.get("zaakinformatieobjecten") == []:
            return []
        rows = await list_all(ctx, ZAKEN, "/zaakinformatieobjecten", [("zaak", url)], max_pages=1)
    urls = [text(r.get("informatieobject")) for r in rows if isinstance(r, Mapping)]
    uuids = [uuid_of(u) for u in urls if u and ctx.sources[DOCUMENTEN].owns(u)]
    loader = ctx.loader("document-by-uuid", lambda keys: _zoek_documenten(ctx, keys))
    found = await loader.load_many(uuids)
    return [d for d in found if d is not None]


async def _zoek_documenten(ctx: Context, uuids: list[str]) -> list[dict[str, Any] | None]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(uuids), ZOEK_BATCH):
        body = await ctx.sources[DOCUMENTEN].post(
            "/enkelvoudiginformatieobjecten/_zoek", {"uuid__in": uuids[start : start + ZOEK_BATCH]}, context=ctx
        )
        for doc in parse_page(body, DOCUMENTEN).items:  # an EIO has no ``uuid`` field: read it from its URL
            if isinstance(doc, Mapping) and isinstance(doc.get("url"), str):
                found[uuid_of(doc["url"])] = dict(doc)
    return [found.get(u) for u in uuids]


async def besluiten_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    url = text(zaak.get("url"))
    return await list_all(ctx, BESLUITEN, "/besluiten", [("zaak", url)]) if url else []


def zaak_filters(
    bsn: str | None, zaaktype: str | None, status_open: bool | None, identificatie: str | None
) -> list[tuple[str, str]]:
    filters: list[tuple[str, str]] = []
    if bsn:
        filters.append(("rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn", bsn))
    if zaaktype:
        filters.append(("zaaktype", zaaktype))
    if status_open is not None:
        filters.append(("einddatum__isnull", "true" if status_open else "false"))
    if identificatie:
        filters.append(("identificatie", identificatie))
    return filters


def zaak_selection(paths: frozenset[str], *prefixes: str) -> frozenset[str]:
    """The part of a connection's selection that lies below its zaak nodes."""
    result: set[str] = set()
    for prefix in prefixes:
        result |= children(paths, prefix)
    return frozenset(result)


# -- Statistics -----------------------------------------------------------------------------------------

SCAN_PAGE_SIZE = 500  # Open Zaak's largest pageSize: the fewest calls for a full scan
MAX_SCAN_PAGES = 40  # 20,000 zaken: beyond that a dashboard must narrow its period or zaaktype


async def scan_zaken(ctx: Context, filters: list[tuple[str, str]], expand: list[str]) -> list[dict[str, Any]]:
    """Every zaak matching ``filters``: the first page tells the count, the rest are fetched concurrently."""
    import asyncio

    from graph.errors import ResultTooLarge

    async def fetch(number: int) -> Page:
        params = [*filters, ("pageSize", str(SCAN_PAGE_SIZE)), ("page", str(number))]
        if expand:
            params.append(("expand", ",".join(expand)))
        return parse_page(await ctx.sources[ZAKEN].get("/zaken", params, headers=CRS, context=ctx), ZAKEN)

    first = await fetch(1)
    size = max(len(first.items), 1)
    pages = -(-(first.total or 0) // size) if first.total is not None else 1
    if pages > MAX_SCAN_PAGES:
        raise ResultTooLarge("Too many zaken to aggregate; narrow the period or filter by zaaktype.")
    rest = await asyncio.gather(*(fetch(n) for n in range(2, pages + 1)))
    return [dict(z) for page in (first, *rest) for z in page.items if isinstance(z, Mapping)]


def doorlooptijd_dagen(zaak: Mapping[str, Any]) -> int | None:
    """Days from start to close, for closed zaken with readable dates."""
    import datetime as dt

    try:
        start = dt.date.fromisoformat(str(zaak.get("startdatum"))[:10])
        end = dt.date.fromisoformat(str(zaak.get("einddatum"))[:10])
    except ValueError:
        return None
    return (end - start).days


async def prime_zaaktypen(ctx: Context) -> None:
    """Read the catalogue's zaaktypen (every version: ``status=alles``) in one list, beside a scan, so the
    names of the groups cost no call after it. If the list fails, each group name is fetched (and fails)
    on its own, with its own error."""
    try:
        found = await list_all(ctx, CATALOGI, "/zaaktypen", [("status", "alles")], max_pages=5)
    except SourceError:
        return
    for zaaktype in found:
        url = text(zaaktype.get("url"))
        if url:
            ctx.prime(url, zaaktype)


def prime_statustype(ctx: Context, zaak: Mapping[str, Any]) -> None:
    """Record the zaak's inline current statustype (``_expand.status._expand.statustype``) by its URL."""
    status = mapping(mapping(zaak.get("_expand")).get("status"))
    statustype = mapping(status.get("_expand")).get("statustype")
    url = text(status.get("statustype"))
    if url and isinstance(statustype, Mapping):
        ctx.prime(url, statustype)  # a no-op when the URL is already known


def current_statustype(zaak: Mapping[str, Any]) -> str | None:
    """URL of the zaak's current statustype, from ``_expand`` (asked for when grouping by status)."""
    inline = zaak.get("_expand")
    status = inline.get("status") if isinstance(inline, Mapping) else None
    return text(status.get("statustype")) if isinstance(status, Mapping) else None
