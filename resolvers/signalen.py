"""Signalen (SIA) v1 private API: meldingen, their status history, counts and dashboard statistics.

Signalen has no batch GET and no BAG ids, so:
- one melding is one ``GET /private/signals/{id}``, once per id per request;
- lists are filtered by the source (django-filter) and paged with ``page``/``page_size``; Signalen's
  HAL pagination has no upper bound on ``page_size``, so a Relay window asks for a page that holds exactly
  the window (one call, two at most) instead of a fixed large page;
- counts cost one ``page_size=1`` call each (DRF ``count``), which is what makes statistics cheap;
- meldingen at an address are found with ``address_text`` (a case-insensitive substring filter on the
  address text), then matched exactly on postcode and house number in the gateway.

Statistics pick a strategy (``plan``): few known combinations of the grouped values are counted one
combination per call; anything else is one scan of the filtered list at a large page size, capped.

Signalen publishes no notifications, so live updates poll (``watch_changes``): the list ordered by
``updated_at``, from the last change seen on (``updated_after``), while someone subscribes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from graph.authz import no_citizen
from graph.config import declare_source
from graph.context import Context
from graph.errors import BadRequest, ResultTooLarge, SourceError, unless_absent
from graph.paging import Page, parse_page
from graph.tolerant import integer, mapping, text

SIGNALEN = "signalen"
declare_source(SIGNALEN, max_page_size="int")  # the scan's page size (scan_page_size)
LOCAL = ZoneInfo("Europe/Amsterdam")  # Signalen's TIME_ZONE: weeks are counted in local time
LIST = "/private/signals"
ORDER_NEWEST = "-id"  # newest first, one term as the OAS allows; unique, so cursors stay stable
ORDER_SCAN = "id"  # ascending id: a melding created during a scan lands after the pages already read
SCAN_PAGE_SIZE = 500  # Signalen does not cap page_size; override with [sources.signalen] max_page_size
SCAN_WINDOW = 2  # scan pages in flight (and in memory) at once: with pages of 500, a 50-client soak stays under 150 MB
MAX_SCAN_PAGES = 200
MAX_COUNT_COMBINATIONS = 40
ADDRESS_PAGE_SIZE = 100
MAX_ADDRESS_PAGES = 5  # at most 500 meldingen listed for one address
CATEGORY_PAGE_SIZE = 1000
MAX_CATEGORY_PAGES = 10

# Signalen's workflow state codes (signals.apps.signals.workflow) and their Dutch display names.
STATES: dict[str, str] = {
    "m": "Gemeld",
    "i": "In afwachting van behandeling",
    "b": "In behandeling",
    "h": "On hold",
    "ingepland": "Ingepland",
    "ready to send": "Extern: te verzenden",
    "o": "Afgehandeld",
    "a": "Geannuleerd",
    "reopened": "Heropend",
    "s": "Gesplitst",
    "closure requested": "Extern: verzoek tot afhandeling",
    "reaction requested": "Reactie gevraagd",
    "reaction received": "Reactie ontvangen",
    "forward to external": "Doorzetten naar extern",
    "sent": "Extern: verzonden",
    "send failed": "Extern: mislukt",
    "done external": "Extern: afgehandeld",
    "reopen requested": "Verzoek tot heropenen",
}
STATE_BY_DISPLAY = {name.lower(): code for code, name in STATES.items()}

CATEGORIE, STATUS, BUURT, WEEK = "categorie", "status", "buurt", "week"
DIMENSIONS = (CATEGORIE, STATUS, BUURT, WEEK)


# -- reading the source's JSON ---------------------------------------------------------------------------


def coordinate(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def lon_lat(location: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """GeoJSON Point coordinates are [lon, lat] (WGS84)."""
    coords = mapping(location.get("geometrie")).get("coordinates")
    if isinstance(coords, list) and len(coords) >= 2:
        return coordinate(coords[0]), coordinate(coords[1])
    return None, None


def moment(value: Any) -> dt.datetime | None:
    """A source or argument date-time; a naive one is Amsterdam time, as Signalen reads it."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL)


def iso_week(value: Any) -> str | None:
    """ISO week of a moment in Amsterdam time, as "2026-W07"."""
    found = moment(value)
    if found is None:
        return None
    year, week, _ = found.astimezone(LOCAL).isocalendar()
    return f"{year}-W{week:02d}"


def status_from_history(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(code, display name) of an UPDATE_STATUS history entry, read from "Status gewijzigd naar: X"."""
    action = text(entry.get("action"))
    if action is None:
        return None, None
    name = action.split(":", 1)[1].strip() if ":" in action else action.strip()
    return STATE_BY_DISPLAY.get(name.lower()), name or None


# -- filters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """What a GraphQL query may filter meldingen on, already checked; ``params`` maps it onto Signalen."""

    categorie: str | None = None  # sub category slug -> category_slug
    hoofdcategorie: str | None = None  # main category slug -> maincategory_slug
    status: tuple[str, ...] = ()  # state codes -> status (repeated)
    buurt: str | None = None  # buurt code -> buurt_code
    vanaf: str | None = None  # created_at >= vanaf -> created_after (inclusive in Signalen)
    tot: str | None = None  # created_at <= tot -> created_before (inclusive in Signalen)

    def params(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        if self.categorie:
            params.append(("category_slug", self.categorie))
        if self.hoofdcategorie:
            params.append(("maincategory_slug", self.hoofdcategorie))
        params.extend(("status", s) for s in self.status)
        if self.buurt:
            params.append(("buurt_code", self.buurt))
        if self.vanaf:
            params.append(("created_after", self.vanaf))
        if self.tot:
            params.append(("created_before", self.tot))
        return params


def filters(
    categorie: str | None = None,
    hoofdcategorie: str | None = None,
    status: Sequence[str] | None = None,
    buurt: str | None = None,
    vanaf: str | None = None,
    tot: str | None = None,
) -> Filters:
    """Check GraphQL filter arguments; every mistake the gateway can see is a ``BadRequest``."""
    categorie = categorie.strip() if categorie else None
    hoofdcategorie = hoofdcategorie.strip() if hoofdcategorie else None
    if categorie and hoofdcategorie:
        # Signalen ORs the two slug filters; refusing the pair avoids a silently wider answer
        raise BadRequest("Give 'categorie' or 'hoofdcategorie', not both.")
    states = tuple(dict.fromkeys(s.strip() for s in status or ()))
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise BadRequest(f"Unknown status {unknown[0]!r}; use a Signalen state code: {', '.join(STATES)}.")
    start, end = moment(vanaf), moment(tot)
    if (vanaf is not None and start is None) or (tot is not None and end is None):
        raise BadRequest("'vanaf' and 'tot' must be ISO 8601 date-times.")
    if start and end and end < start:
        raise BadRequest("'tot' must not be before 'vanaf'.")
    return Filters(
        categorie or None,
        hoofdcategorie or None,
        states,
        buurt.strip() if buurt else None,
        start.isoformat() if start else None,
        end.isoformat() if end else None,
    )


def refused_filter(exc: SourceError) -> BaseException:
    """A 400 on a list means Signalen rejected a filter value the gateway cannot check (slug, buurt)."""
    if exc.status == 400:
        return BadRequest(
            "Signalen does not know a filter value: check 'categorie', 'hoofdcategorie' and 'buurt'.",
            source=SIGNALEN,
            status=400,
        )
    return exc


# -- single meldingen --------------------------------------------------------------------------------------


async def signal(ctx: Context, signal_id: int) -> dict[str, Any] | None:
    """One melding in full; null when Signalen does not know it."""
    no_citizen(ctx, "meldingen")
    found: dict[str, Any] | None = await ctx.loader("signalen-signal", partial(_signals, ctx)).load(signal_id)
    return found


async def _signals(ctx: Context, ids: list[int]) -> list[Any]:
    source = ctx.sources[SIGNALEN]

    async def one(signal_id: int) -> dict[str, Any] | None:
        body = await unless_absent(source.get(f"{LIST}/{signal_id}", context=ctx), None)
        return dict(body) if isinstance(body, Mapping) else None

    return list(await asyncio.gather(*(one(i) for i in ids), return_exceptions=True))


async def signal_by_uuid(ctx: Context, signal_uuid: str) -> dict[str, Any] | None:
    """A melding by its public UUID: the public endpoint names its private id, then the private GET.

    The public answer carries the id as ``id`` or in ``id_display``/``_display`` ("SIG-123"); the private
    melding is only returned when its own ``signal_id`` is the UUID asked for.
    """
    no_citizen(ctx, "meldingen")
    public = await unless_absent(ctx.sources[SIGNALEN].get(f"/public/signals/{signal_uuid}", context=ctx), None)
    if public is None:
        return None
    body = mapping(public)
    signal_id = integer(body.get("id"))
    for key in ("id_display", "_display"):
        found = re.fullmatch(r"[A-Za-z]+-(\d+)", str(body.get(key) or ""))
        if signal_id is None and found:
            signal_id = int(found.group(1))
    if signal_id is None:
        return None
    private = await signal(ctx, signal_id)
    return private if private and str(private.get("signal_id", "")).lower() == signal_uuid.lower() else None


async def status_history(ctx: Context, signal_id: int) -> list[dict[str, Any]]:
    """The melding's status changes, oldest first (the source lists its log newest first)."""
    no_citizen(ctx, "meldingen")
    rows: list[dict[str, Any]] = await ctx.loader("signalen-history", partial(_histories, ctx)).load(signal_id)
    return rows


async def _histories(ctx: Context, ids: list[int]) -> list[Any]:
    source = ctx.sources[SIGNALEN]

    async def one(signal_id: int) -> list[dict[str, Any]]:
        query = [("what", "UPDATE_STATUS")]
        body = await unless_absent(source.get(f"{LIST}/{signal_id}/history", query, context=ctx), None)
        if body is None:
            return []
        rows = body if isinstance(body, list) else parse_page(body, SIGNALEN).items
        # ``what`` is also checked here, in case a release ignores the filter
        entries = [dict(r) for r in rows if isinstance(r, Mapping) and r.get("what") == "UPDATE_STATUS"]
        return sorted(entries, key=lambda e: moment(e.get("when")) or dt.datetime.min.replace(tzinfo=dt.UTC))

    return list(await asyncio.gather(*(one(i) for i in ids), return_exceptions=True))


# -- lists -------------------------------------------------------------------------------------------------


Params = tuple[tuple[str, str], ...]


async def page(ctx: Context, params: Iterable[tuple[str, str]], number: int, page_size: int) -> Page:
    """One page of a filtered list; identical pages in one request are fetched once."""
    no_citizen(ctx, "meldingen")
    key = (tuple(params), number, page_size)
    body = await ctx.loader("signalen-list", partial(_pages, ctx)).load(key)
    return parse_page(body, SIGNALEN)


async def _pages(ctx: Context, keys: list[tuple[Params, int, int]]) -> list[Any]:
    source = ctx.sources[SIGNALEN]

    async def one(params: Params, number: int, page_size: int) -> Any:
        query = [*params, ("page_size", str(page_size))]
        if number > 1:
            query.append(("page", str(number)))
        try:
            return await source.get(LIST, query, context=ctx)
        except SourceError as exc:
            raise refused_filter(exc) from None

    return list(await asyncio.gather(*(one(*k) for k in keys), return_exceptions=True))


def window_page_size(offset: int, count: int) -> int:
    """The smallest page size that puts the whole window on one upstream page (else ``count``: two pages).

    Signalen pages by number, so a window at ``offset`` is cheapest on a page size it divides evenly into;
    consecutive Relay pages of the same ``first`` always do.
    """
    if count <= 0:
        return 1
    for size in range(count, 2 * count + 1):
        if offset // size == (offset + count - 1) // size:
            return size
    return count


async def newest_page(ctx: Context, flt: Filters, number: int, page_size: int) -> Page:
    return await page(ctx, [*flt.params(), ("ordering", ORDER_NEWEST)], number, page_size)


async def count(ctx: Context, params: Iterable[tuple[str, str]]) -> int:
    """How many meldingen match, from the DRF ``count`` of a one-item page."""
    found = await page(ctx, params, 1, 1)
    if found.total is None:
        raise SourceError("UPSTREAM_BAD_RESPONSE", SIGNALEN, "Signalen sent a list without a count.")
    return found.total


def address_needle(huisnummer: int, huisletter: str | None, toevoeging: str | None, postcode: str) -> str:
    """The part of Signalen's address text "straat 12A-2 1234AB plaats" that names one address.

    The street name is left out on purpose: Signalen copies it from PDOK, which may spell it differently
    from the BAG (short names), while number and postcode are the same everywhere.
    """
    suffix = f"-{toevoeging}" if toevoeging else ""
    return f" {huisnummer}{huisletter or ''}{suffix} {postcode}"


def same_address(
    location: Mapping[str, Any], postcode: str, huisnummer: int, huisletter: str | None, toevoeging: str | None
) -> bool:
    address = mapping(location.get("address"))
    found_postcode = (text(address.get("postcode")) or text(location.get("postcode")) or "").replace(" ", "")
    return (
        found_postcode.upper() == postcode.upper()
        and integer(address.get("huisnummer")) == huisnummer
        and (text(address.get("huisletter")) or "").upper() == (huisletter or "").upper()
        and (text(address.get("huisnummer_toevoeging")) or "").upper() == (toevoeging or "").upper()
    )


async def at_address(
    ctx: Context, postcode: str, huisnummer: int, huisletter: str | None, toevoeging: str | None
) -> list[dict[str, Any]]:
    """Meldingen made at one address, newest first: ``address_text`` narrows, an exact match decides."""
    params = [
        ("address_text", address_needle(huisnummer, huisletter, toevoeging, postcode)),
        ("ordering", ORDER_NEWEST),
    ]
    found: list[dict[str, Any]] = []
    for n in range(1, MAX_ADDRESS_PAGES + 1):
        try:
            current = await page(ctx, params, n, ADDRESS_PAGE_SIZE)
        except SourceError as exc:
            if exc.code == "NOT_FOUND" and n > 1:
                break
            raise
        found.extend(
            dict(s)
            for s in current.items
            if isinstance(s, Mapping)
            and same_address(mapping(s.get("location")), postcode, huisnummer, huisletter, toevoeging)
        )
        if not current.has_next:
            break
    return found


# -- categories --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CategoryRef:
    main_slug: str
    sub_slug: str


async def categories(ctx: Context) -> list[CategoryRef]:
    """Every sub category with its main category, from ``/private/categories`` (inactive ones too)."""
    refs: list[CategoryRef] = await ctx.loader("signalen-categories", partial(_categories, ctx)).load("all")
    return refs


async def _categories(ctx: Context, keys: list[str]) -> list[Any]:
    try:
        rows: list[Mapping[str, Any]] = []
        for n in range(1, MAX_CATEGORY_PAGES + 1):
            params = [("page_size", str(CATEGORY_PAGE_SIZE))] + ([("page", str(n))] if n > 1 else [])
            current = parse_page(await ctx.sources[SIGNALEN].get("/private/categories", params, context=ctx), SIGNALEN)
            rows.extend(r for r in current.items if isinstance(r, Mapping))
            if not current.has_next:
                break
        refs: list[Any] = [category_refs(rows)]
    except SourceError as exc:
        refs = [exc]
    return refs * len(keys)


def category_refs(rows: Iterable[Mapping[str, Any]]) -> list[CategoryRef]:
    """(main slug, sub slug) pairs from the flat category list; a sub names its parent in ``sia:parent``."""
    rows = list(rows)
    slug_by_id = {integer(r.get("id")): text(r.get("slug")) for r in rows}
    refs: list[CategoryRef] = []
    for row in rows:
        parent = mapping(mapping(row.get("_links")).get("sia:parent"))
        sub = text(row.get("slug"))
        if not parent or sub is None:
            continue
        href = str(parent.get("href") or "").rstrip("/")
        main = slug_by_id.get(integer(href.rsplit("/", 1)[-1])) if href else None
        main = main or (str(parent.get("public") or "").rstrip("/").rsplit("/", 1)[-1] or None)
        if main:
            refs.append(CategoryRef(main, sub))
    return refs


# -- statistics --------------------------------------------------------------------------------------------


Key = tuple[str | None, ...]


def group_key(item: Mapping[str, Any], dims: Sequence[str]) -> Key:
    """The values of the grouped dimensions for one melding (null where the source has none)."""
    values: list[str | None] = []
    for dim in dims:
        if dim == CATEGORIE:
            values.append(text(mapping(item.get("category")).get("sub_slug")))
        elif dim == STATUS:
            values.append(text(mapping(item.get("status")).get("state")))
        elif dim == BUURT:
            values.append(text(mapping(item.get("location")).get("buurt_code")))
        else:
            values.append(iso_week(item.get("created_at")))
    return tuple(values)


def aggregate(items: Iterable[Any], dims: Sequence[str], counts: dict[Key, int], seen: set[Any]) -> None:
    """Add a page of meldingen to ``counts``; ``seen`` drops a melding a shifting page showed twice."""
    for item in items:
        if not isinstance(item, Mapping):
            continue
        ident = item.get("id")
        if ident is not None:
            if ident in seen:
                continue
            seen.add(ident)
        key = group_key(item, dims)
        counts[key] = counts.get(key, 0) + 1


def sorted_groups(counts: Mapping[Key, int]) -> list[tuple[Key, int]]:
    """Non-empty groups, ordered by their values in grouping order, nulls last."""
    return sorted(
        ((k, n) for k, n in counts.items() if n > 0), key=lambda kn: tuple((v is None, v or "") for v in kn[0])
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """``combinations`` to count one by one, or None: scan the list and aggregate in the gateway."""

    combinations: list[Key] | None

    @property
    def strategy(self) -> str:
        return "count" if self.combinations is not None else "scan"


def known_values(dims: Sequence[str], flt: Filters, refs: Sequence[CategoryRef] | None) -> dict[str, list[str]]:
    """Every value a grouped dimension can take, where the filter or the source says so.

    BUURT is known only when filtered (Signalen does not list buurt codes); WEEK never is.
    """
    known: dict[str, list[str]] = {}
    for dim in dims:
        if dim == STATUS:
            known[dim] = list(flt.status) if flt.status else list(STATES)
        elif dim == BUURT and flt.buurt:
            known[dim] = [flt.buurt]
        elif dim == CATEGORIE:
            if flt.categorie:
                known[dim] = [flt.categorie]
            elif refs is not None:
                subs = [r.sub_slug for r in refs if not flt.hoofdcategorie or r.main_slug == flt.hoofdcategorie]
                ambiguous = flt.hoofdcategorie and any(
                    r.sub_slug in subs and r.main_slug != flt.hoofdcategorie for r in refs
                )
                if not ambiguous:  # a sub slug shared with another main cannot be counted within one main
                    known[dim] = sorted(set(subs))
    return known


def needs_categories(dims: Sequence[str], flt: Filters, limit: int = MAX_COUNT_COMBINATIONS) -> bool:
    """Whether the category list could make counting possible (else it is not worth a call)."""
    if CATEGORIE not in dims or flt.categorie or WEEK in dims or (BUURT in dims and not flt.buurt):
        return False
    other = (len(flt.status) if flt.status else len(STATES)) if STATUS in dims else 1
    return other * 3 <= limit  # any Signalen has several sub categories: no call when counting cannot win


def plan(dims: Sequence[str], known: Mapping[str, Sequence[str]], limit: int = MAX_COUNT_COMBINATIONS) -> Plan:
    """Count per combination when every grouped dimension's values are known and few combine."""
    if WEEK in dims or any(d not in known for d in dims):
        return Plan(None)
    size = math.prod(len(known[d]) for d in dims)
    if size > limit:
        return Plan(None)
    return Plan([tuple(c) for c in itertools.product(*(known[d] for d in dims))])


def combination_params(flt: Filters, dims: Sequence[str], combination: Key) -> list[tuple[str, str]]:
    """The filter for one combination: each grouped dimension's filter replaced by its one value."""
    values = dict(zip(dims, combination, strict=True))
    narrowed = Filters(
        categorie=values.get(CATEGORIE, flt.categorie),
        hoofdcategorie=flt.hoofdcategorie if CATEGORIE not in values else None,  # the sub slug implies it
        status=(str(values[STATUS]),) if values.get(STATUS) else flt.status,
        buurt=values.get(BUURT, flt.buurt),
        vanaf=flt.vanaf,
        tot=flt.tot,
    )
    return narrowed.params()


@dataclass(slots=True)
class Statistics:
    total: int | None
    groups: list[tuple[Key, int]]
    strategy: str


def scan_page_size(ctx: Context) -> int:
    size = integer(ctx.sources[SIGNALEN].config.option("max_page_size"))
    return size if size and size > 0 else SCAN_PAGE_SIZE


async def statistics(ctx: Context, dims: Sequence[str], flt: Filters, want_total: bool) -> Statistics:
    """Counts per group of the filtered meldingen, by the cheapest strategy for the source."""
    refs = await categories(ctx) if needs_categories(dims, flt) else None
    chosen = plan(dims, known_values(dims, flt, refs))
    if chosen.combinations is None:
        return await _scan(ctx, dims, flt)
    combos = chosen.combinations
    base = flt.params()
    calls = [count(ctx, combination_params(flt, dims, c)) for c in combos]
    if want_total:
        calls.append(count(ctx, base))  # same key as the one combination when nothing is grouped: one call
    found = await asyncio.gather(*calls)
    counts = dict(zip(combos, found, strict=False))
    return Statistics(found[-1] if want_total else None, sorted_groups(counts), chosen.strategy)


async def _scan(ctx: Context, dims: Sequence[str], flt: Filters) -> Statistics:
    """Every matching melding once, ``page_size`` at a time, aggregated page by page as pages arrive."""
    size = scan_page_size(ctx)
    params = [*flt.params(), ("ordering", ORDER_SCAN)]
    source = ctx.sources[SIGNALEN]

    async def fetch(n: int) -> Page:
        query = [*params, ("page_size", str(size))] + ([("page", str(n))] if n > 1 else [])
        try:
            return parse_page(await source.get(LIST, query, context=ctx, keep=False), SIGNALEN)
        except SourceError as exc:
            if exc.code == "NOT_FOUND" and n > 1:  # the list shrank while scanning
                return Page([], None, False)
            raise refused_filter(exc) from None

    counts: dict[Key, int] = {}
    seen: set[Any] = set()
    first = await fetch(1)
    aggregate(first.items, dims, counts, seen)
    if first.total is None:  # no count: follow the pages one by one, still capped
        current, n = first, 1
        while current.has_next:
            n += 1
            if n > MAX_SCAN_PAGES:
                raise _too_large(size)
            current = await fetch(n)
            aggregate(current.items, dims, counts, seen)
        return Statistics(len(seen), sorted_groups(counts), "scan")
    pages = max(1, math.ceil(first.total / size))
    if pages > MAX_SCAN_PAGES:
        raise _too_large(size)
    waiting = iter(range(2, pages + 1))
    running: set[asyncio.Task[Page]] = set()
    try:
        # a few pages at a time, each dropped once counted: a decoded page of a thousand meldingen is some
        # 10 MB of objects, and holding every page of a scan at once made each dashboard refresh a memory spike
        running.update(asyncio.ensure_future(fetch(n)) for n in itertools.islice(waiting, SCAN_WINDOW))
        while running:
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                aggregate(task.result().items, dims, counts, seen)
            running.update(asyncio.ensure_future(fetch(n)) for n in itertools.islice(waiting, len(done)))
            del done
    finally:  # one failed page fails the field: stop fetching the rest
        for task in running:
            task.cancel()
    return Statistics(first.total, sorted_groups(counts), "scan")


def _too_large(size: int) -> ResultTooLarge:
    return ResultTooLarge(
        f"More than {MAX_SCAN_PAGES * size} meldingen match; narrow the period or filters, or group "
        "by fewer dimensions.",
        source=SIGNALEN,
    )


# -- changes, for live updates -------------------------------------------------------------------------------

CHANGES = "signalen:wijzigingen"  # the event topic of meldingen found changed (graph.events, this process only)
ORDER_CHANGED = "updated_at"  # oldest change first: a round that stops early goes on from there the next time
CHANGE_PAGE_SIZE = 100
MAX_CHANGE_PAGES = 5  # per round; more changes wait for the next round, none is lost
Fingerprint = tuple[Any, ...]
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)  # an unreadable time never moves the watermark back


def _fingerprint(item: Mapping[str, Any]) -> Fingerprint:
    status = mapping(item.get("status"))
    return item.get("id"), item.get("updated_at"), status.get("state"), status.get("created_at")


def change_event(item: Mapping[str, Any]) -> dict[str, str] | None:
    """What a subscriber filters on, never the melding's text or reporter: it is asked for again per subscriber.
    None for an item without an id (nothing could be asked for)."""
    ident = integer(item.get("id"))
    if ident is None:
        return None
    category, status = mapping(item.get("category")), mapping(item.get("status"))
    values = {
        "id": str(ident), "signal_id": (text(item.get("signal_id")) or "").lower().replace("-", ""),
        "categorie": text(category.get("sub_slug")), "hoofdcategorie": text(category.get("main_slug")),
        "status": text(status.get("state")), "updated_at": text(item.get("updated_at")),
    }
    return {k: v for k, v in values.items() if v}


def watch_changes(new_context: Callable[[], Context]) -> Callable[[], Awaitable[list[dict[str, str]]]]:
    """A poll of the meldingen changed since its previous round. The first round only notes the newest change;
    later rounds ask ``updated_after`` it (inclusive in Signalen), so changes at that very moment come again and
    are told apart by their fingerprint (id, update time, state)."""
    since: str | None = None
    seen: set[Fingerprint] = set()

    async def poll() -> list[dict[str, str]]:
        nonlocal since, seen
        ctx = new_context()
        try:
            if since is None:
                newest = (await page(ctx, [("ordering", "-" + ORDER_CHANGED)], 1, 1)).items
                if newest and isinstance(newest[0], Mapping) and text(newest[0].get("updated_at")):
                    since, seen = text(newest[0].get("updated_at")), {_fingerprint(newest[0])}
                return []
            events: list[dict[str, str]] = []
            params = [("updated_after", since), ("ordering", ORDER_CHANGED)]
            for number in range(1, MAX_CHANGE_PAGES + 1):
                current = await page(ctx, params, number, CHANGE_PAGE_SIZE)
                for item in current.items:
                    event = change_event(item) if isinstance(item, Mapping) else None
                    if event is None or _fingerprint(item) in seen:
                        continue
                    events.append(event)
                    at = text(item.get("updated_at"))
                    if at and at != since and (moment(at) or LATEST) >= (moment(since) or LATEST):
                        since, seen = at, set()
                    seen.add(_fingerprint(item))
                if not current.has_next:
                    break
            return events
        finally:
            ctx.close()

    return poll

