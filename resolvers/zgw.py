"""ZGW sources (Zaken, Catalogi, Documenten, Besluiten): how to fetch, batch and read them.

Fetching strategy, cheapest first:
1. what arrived inline: Zaken ``expand`` is asked for exactly the Zaken relations the query selected
   (status, rollen, resultaat, zaakobjecten, zaakinformatieobjecten, eigenschappen), and every object in
   ``_expand`` primes the request's follow-cache under its own URL;
2. batch endpoints: zaken by uuid through ``POST /zaken/_zoek`` with ``uuid__in`` (likewise documents);
3. one filtered list per parent (``/rollen?zaak=``), never one GET per child URL;
4. otherwise ``ctx.follow(url)``: once per distinct URL per request, concurrency bounded per source.

Catalogi types (zaaktype, statustype, roltype, resultaattype) are never expanded: Open Zaak pays dearly
for every inlined type (30 zaken: 0.18 s plain, 1.7 s with ``expand=zaaktype``), while a page of zaken
names only a few distinct, rarely changing types, which ``ctx.follow`` fetches once each.

Where ZGW products differ (``_zoek`` expand, ``pageSize``), ``resolvers.zgw_forms`` says what this source
accepts; page numbers come only from page sizes the source's answers showed (``graph.paging``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Iterable, Mapping
from typing import Any

from graph.authz import no_citizen
from graph.config import declare_source
from graph.context import Context
from graph.errors import Forbidden, ResultTooLarge, SourceError, unless_absent
from graph.expand import absorb
from graph.paging import LARGEST_FIRST, Page, Window, bounds, parse_page, window
from graph.selection import children
from graph.tolerant import mapping, text, valid_uuid
from resolvers.zgw_forms import FORMS, ZakenForms

ZAKEN, CATALOGI, DOCUMENTEN, BESLUITEN = "zaken", "catalogi", "documenten", "besluiten"
declare_source(ZAKEN, page_size="int", product="str")  # read by resolvers.zgw_forms
for _name in (CATALOGI, DOCUMENTEN, BESLUITEN):
    declare_source(_name)
CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}  # mandatory on the /zaken operations
ZOEK_BATCH = 100
PER_PARENT_PAGES = 5  # pages of one zaak's statussen, besluiten, rollen, ...: more is refused, not truncated
PER_PARENT_CALLS = 500  # per-parent list calls per source per request (ZGW 1.5 has no batch filter for them)

# GraphQL field of Zaak -> the Zaken expand path that inlines it: Zaken's own resources only.
EXPAND = {
    "status": "status",
    "rollen": "rollen",
    "resultaat": "resultaat",
    "zaakobjecten": "zaakobjecten",
    "documenten": "zaakinformatieobjecten",
    "eigenschappen": "eigenschappen",
}
PERSONAL_FILTERS = frozenset({"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn"})


def uuid_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def expand_for(selected: Iterable[str]) -> list[str]:
    """The expand list for a Zaak whose selection (relative to the zaak) is ``selected``."""
    wanted = {EXPAND[path.split(".", 1)[0]] for path in selected if path.split(".", 1)[0] in EXPAND}
    return sorted(wanted)  # one order for one selection: equal requests share a cache key


async def zaken_forms(ctx: Context) -> ZakenForms:
    """What the Zaken source accepts; read once per source for the process lifetime."""
    return await FORMS.get(ctx.sources[ZAKEN], ctx)


# -- Zaken ------------------------------------------------------------------------------------------


async def zaken_window(
    ctx: Context, first: int | None, after: str | None, filters: list[tuple[str, str]], expand: list[str]
) -> Window:
    """A Relay window of zaken. A filter on a BSN goes in a ``_zoek`` body: personal data stays out of URLs
    and logs. A page size is asked for only where the source declares ``pageSize``; the answers decide."""
    own_zaken_only(ctx, filters)
    forms = await zaken_forms(ctx)
    personal = any(name in PERSONAL_FILTERS for name, _ in filters)
    sizes = forms.zoek if personal else forms.lists
    asked, expected = sizes.plan(*bounds(first, after, LARGEST_FIRST))

    async def fetch(number: int) -> Page:
        paging = [("page", str(number))] + ([("pageSize", str(asked))] if asked is not None else [])
        if personal:
            answer = await zoek(ctx, forms, dict(filters), expand, paging)
        else:
            params = [*filters, *paging] + ([("expand", ",".join(expand))] if expand else [])
            answer = await ctx.sources[ZAKEN].get("/zaken", params, headers=CRS, context=ctx)
        page = parse_page(answer, ZAKEN)
        for zaak in page.items:
            absorb(ctx, zaak)
        return page

    return await window(first, after, expected, fetch, lambda real: sizes.learn(asked, real), LARGEST_FIRST)


async def zoek(
    ctx: Context, forms: ZakenForms, body: dict[str, Any], expand: list[str], params: list[tuple[str, str]]
) -> Any:
    """``POST /zaken/_zoek`` with ``expand`` in the form this source declares (or, unconfirmed, the standard's)."""
    mode = forms.zoek_expand if expand else "none"
    query, sent = list(params), dict(body)
    if mode == "query":
        query.append(("expand", ",".join(expand)))
    elif mode == "array":
        sent["expand"] = list(expand)
    elif mode == "string":
        sent["expand"] = ",".join(expand)
    try:
        subjects = [str(v) for k, v in body.items() if k in PERSONAL_FILTERS]
        return await ctx.sources[ZAKEN].post("/zaken/_zoek", sent, query, CRS, context=ctx, subjects=subjects)
    except SourceError as exc:
        if mode == "none" or forms.confirmed or (exc.status or 0) < 500:
            raise
        answer = await zoek(ctx, forms, body, [], params)  # raises again if the source is simply failing
        forms.zoek_expand = "none"  # the assumed form broke the search: no expand on _zoek for this source
        return answer


async def zaak_by_uuid(ctx: Context, uuid: str, expand: list[str]) -> dict[str, Any] | None:
    """A zaak by UUID, batched into ``_zoek`` calls; an invalid UUID is unknown, never part of a batch
    (one bad value would make the source refuse the whole batch)."""
    no_citizen(ctx, "a zaak by its id or URL")
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
    forms = await zaken_forms(ctx)
    for start in range(0, len(uuids), ZOEK_BATCH):
        body: dict[str, Any] = {"uuid__in": uuids[start : start + ZOEK_BATCH]}
        number = 1
        while True:  # ``next`` decides, whatever size the source pages by
            page = parse_page(await zoek(ctx, forms, body, expand, [("page", str(number))]), ZAKEN)
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
    return await per_parent(ctx, ZAKEN, path, url)


async def eigenschappen_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A zaak's eigenschappen: inline when expanded, none when its list is empty, else its sub-resource
    (a plain array; a zaak that is gone by now has none)."""
    inline = mapping(zaak.get("_expand")).get("eigenschappen")
    if isinstance(inline, list):
        return [dict(x) for x in inline if isinstance(x, Mapping)]
    url = text(zaak.get("url"))
    if url is None or zaak.get("eigenschappen") == []:
        return []
    return await unless_absent(list_all(ctx, ZAKEN, f"/zaken/{uuid_of(url)}/zaakeigenschappen", [], max_pages=1), [])


async def statussen_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every status of a zaak: one ``/statussen?zaak=`` list (ZGW 1.5 has no filter for many zaken), and
    none at all for a zaak without a current status."""
    url = text(zaak.get("url"))
    if url is None or text(zaak.get("status")) is None:
        return []
    return await per_parent(ctx, ZAKEN, "/statussen", url)


async def besluiten_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A zaak's besluiten: one ``/besluiten?zaak=`` list, the one standard way that returns them whole."""
    url = text(zaak.get("url"))
    return await per_parent(ctx, BESLUITEN, "/besluiten", url) if url else []


async def per_parent(ctx: Context, source: str, path: str, zaak_url: str) -> list[dict[str, Any]]:
    """One zaak's list of ``path`` items, bounded: at most ``PER_PARENT_PAGES`` pages (a longer list is
    refused rather than cut short) and ``PER_PARENT_CALLS`` such lists per source per request."""
    items: list[dict[str, Any]] = []
    for number in range(1, PER_PARENT_PAGES + 1):
        page = parse_page(await _lists(ctx, source, budget=True).load((source, path, (("zaak", zaak_url),), number)),
                          source)
        items.extend(dict(x) for x in page.items if isinstance(x, Mapping))
        if not page.has_next:
            return items
    raise ResultTooLarge(f"A zaak has more than {PER_PARENT_PAGES} pages of {path.strip('/')}.")


async def list_all(
    ctx: Context, source: str, path: str, params: list[tuple[str, str]], max_pages: int = 10
) -> list[dict[str, Any]]:
    """The items of a (usually short) list, following ``next`` for at most ``max_pages``."""
    items: list[dict[str, Any]] = []
    for number in range(1, max_pages + 1):
        page = parse_page(await _lists(ctx, source).load((source, path, tuple(params), number)), source)
        items.extend(dict(x) for x in page.items if isinstance(x, Mapping))
        if not page.has_next:
            break
    return items


ListKey = tuple[str, str, tuple[tuple[str, str], ...], int]


def _lists(ctx: Context, source: str, budget: bool = False) -> Any:
    """The request's loader of list pages from ``source``; the per-parent one counts its calls (the counter
    lives in the batch function the loader keeps for the request, made on first use)."""
    if not budget:
        return ctx.loader(("list", source), lambda keys: _get_lists(ctx, keys))
    used = [0]

    async def counted(keys: list[ListKey]) -> list[Any]:
        allowed = max(0, PER_PARENT_CALLS - used[0])
        used[0] += min(allowed, len(keys))
        refused = ResultTooLarge(f"More than {PER_PARENT_CALLS} per-zaak lists from '{source}' in one query; "
                                 "ask for fewer zaken.")
        return [*await _get_lists(ctx, keys[:allowed]), *(refused for _ in keys[allowed:])]

    return ctx.loader(("per-parent", source), counted)


async def _get_lists(ctx: Context, keys: list[ListKey]) -> list[Any]:
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


# -- Documenten -----------------------------------------------------------------------------------------


async def documenten_of(ctx: Context, zaak: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The zaak's documents: its zaakinformatieobjecten (a plain array), then the documents in one _zoek."""
    inline = mapping(zaak.get("_expand")).get("zaakinformatieobjecten")
    if isinstance(inline, list):
        rows: list[Any] = inline
    else:
        url = text(zaak.get("url"))
        if url is None or zaak.get("zaakinformatieobjecten") == []:
            return []
        rows = await per_parent(ctx, ZAKEN, "/zaakinformatieobjecten", url)
    urls = [u for u in (text(r.get("informatieobject")) for r in rows if isinstance(r, Mapping)) if u]
    loader = ctx.loader("document-by-uuid", lambda keys: _zoek_documenten(ctx, keys))
    store = ctx.sources.get(DOCUMENTEN)

    async def one(link: str) -> Any:
        # documents in the configured store come in one _zoek; one held elsewhere is followed by URL, and
        # one in a store that is not configured fails this field (FORBIDDEN_URL) rather than going missing
        return await (loader.load(uuid_of(link)) if store and store.owns(link) else ctx.follow(link))

    found = await asyncio.gather(*(one(u) for u in urls))
    return [dict(d) for d in found if isinstance(d, Mapping)]


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


# -- Arguments ------------------------------------------------------------------------------------------


BSN_FILTER = "rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn"


def own_zaken_only(ctx: Context, filters: list[tuple[str, str]]) -> None:
    """A citizen's zaken come only through the filter on their own BSN, whatever else is filtered."""
    own = ctx.caller.bsn
    if own is not None and [v for k, v in filters if k == BSN_FILTER] != [own]:
        raise Forbidden("A citizen may only see zaken in which they have a role.")


def zaak_filters(
    bsn: str | None, zaaktype: str | None, status_open: bool | None, identificatie: str | None
) -> list[tuple[str, str]]:
    filters: list[tuple[str, str]] = []
    if bsn:
        filters.append((BSN_FILTER, bsn))
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

MAX_SCAN_PAGES = 40  # Open Zaak: 20,000 zaken at 500 a page; beyond that a dashboard must narrow its question


async def scan_zaken(ctx: Context, filters: list[tuple[str, str]], expand: list[str]) -> list[dict[str, Any]]:
    """Every zaak matching ``filters``: the first page tells the count and the real page size (the largest
    the source allows, if it declares ``pageSize``), the rest are fetched concurrently."""
    no_citizen(ctx, "counts over all zaken")
    sizes = (await zaken_forms(ctx)).lists
    asked = sizes.maximum or None

    def fetch(number: int) -> Awaitable[Page]:
        return _scan_page(ctx, filters, expand, asked, number)

    first = await fetch(1)
    if not first.has_next:
        return [dict(z) for z in first.items if isinstance(z, Mapping)]
    if first.total is None or not first.items:
        raise SourceError("UPSTREAM_BAD_RESPONSE", ZAKEN, f"Source '{ZAKEN}' sent a page without a count.")
    size = len(first.items)  # a page with a next page is full: the size the source really uses
    sizes.learn(asked, size)
    pages = -(-first.total // size)
    if pages > MAX_SCAN_PAGES:
        raise ResultTooLarge("Too many zaken to aggregate; narrow the period or filter by zaaktype.")
    empty = Page([], first.total, False)
    rest = await asyncio.gather(*(unless_absent(fetch(n), empty) for n in range(2, pages + 1)))
    return [dict(z) for page in (first, *rest) for z in page.items if isinstance(z, Mapping)]


async def _scan_page(
    ctx: Context, filters: list[tuple[str, str]], expand: list[str], size: int | None, number: int
) -> Page:
    params = [*filters, *([("pageSize", str(size))] if size else []), ("page", str(number))]
    if expand:
        params.append(("expand", ",".join(expand)))
    return parse_page(await ctx.sources[ZAKEN].get("/zaken", params, headers=CRS, context=ctx, keep=False), ZAKEN)


def doorlooptijd_dagen(zaak: Mapping[str, Any]) -> int | None:
    """Days from start to close, for closed zaken with readable dates."""
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


def current_statustype(zaak: Mapping[str, Any]) -> str | None:
    """URL of the zaak's current statustype, read from its inline status (``expand=status`` when grouping by
    status); the groups' names then cost one call per distinct statustype."""
    status = mapping(mapping(zaak.get("_expand")).get("status"))
    return text(status.get("statustype"))



# -- Statistics by counting: one ``pageSize=1`` call per group instead of reading every zaak ---------------

MAX_COUNTS = 40  # groups counted one call each at most; more, and reading the pages costs fewer calls


async def count_zaken(ctx: Context, filters: list[tuple[str, str]]) -> int | None:
    """How many zaken match, from the ``count`` of a one-item page; None where the source cannot be asked for a
    page of one (no ``pageSize``): its first page is as large as any, so counting would cost as much as reading."""
    no_citizen(ctx, "counts over all zaken")
    if not (await zaken_forms(ctx)).lists.maximum:
        return None
    page = parse_page(await ctx.sources[ZAKEN].get("/zaken", [*filters, ("pageSize", "1"), ("page", "1")],
                                                   headers=CRS, context=ctx), ZAKEN)
    if page.total is None:
        raise SourceError("UPSTREAM_BAD_RESPONSE", ZAKEN, f"Source '{ZAKEN}' sent a page without a count.")
    return page.total


async def zaaktype_urls(ctx: Context) -> list[str]:
    """Every zaaktype (all versions) of the catalogue, by URL: the groups a count per zaaktype has to ask. The
    list primes the request's follow-cache too, so the groups' names cost no call."""
    found = await list_all(ctx, CATALOGI, "/zaaktypen", [("status", "alles")], max_pages=5)
    urls = sorted({u for z in found if (u := text(z.get("url")))})
    for zaaktype in found:
        url = text(zaaktype.get("url"))
        if url:
            ctx.prime(url, zaaktype)
    return urls


async def counted_groups(
    ctx: Context, filters: list[tuple[str, str]], groups: list[list[tuple[str, str]]]
) -> list[int] | None:
    """The number of zaken in each group (extra filters on top of ``filters``), counted at once; None when
    counting is not the cheaper way: the source cannot page by one, everything fits in one page of a scan, or
    the groups do not add up to the whole (a zaak of a zaaktype outside the catalogue: only a scan sees it)."""
    if not groups or len(groups) > MAX_COUNTS:
        return None
    total = await count_zaken(ctx, filters)
    if total is None or total <= (await zaken_forms(ctx)).lists.maximum:
        return None
    counts = await asyncio.gather(*(count_zaken(ctx, [*filters, *extra]) for extra in groups))
    found = [c or 0 for c in counts]
    return found if sum(found) == total else None
