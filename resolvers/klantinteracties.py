"""Open Klant 2 (Klantinteracties API): how to fetch, inline and read partijen and klantcontacten.

Open Klant has no multi-id lookup, so the gateway leans on ``expand``: a list of klantcontacten is asked
to inline its betrokkenen with their partij and its onderwerpobjecten when the query selects them, and
everything inline primes the request's follow-cache. Reverse links (contacts of a partij, of a zaak, of
a BSN) are one filtered list each. Links that did not arrive inline are followed once per request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from graph.authz import no_citizen
from graph.config import declare_source
from graph.context import Context
from graph.errors import unless_absent
from graph.expand import absorb
from graph.paging import Page, parse_page
from graph.selection import children
from graph.tolerant import text, valid_uuid

KLANT = "klantinteracties"
declare_source(KLANT)
PAGE_SIZE = 100  # Open Klant's default; sent explicitly so the gateway's window arithmetic always holds

# GraphQL field of Klantcontact -> the expand paths that inline what it needs (parents first: Open Klant
# ignores a dotted path whose parent is not asked for too).
KLANTCONTACT_EXPAND: dict[str, tuple[str, ...]] = {
    "partijen": ("hadBetrokkenen", "hadBetrokkenen.wasPartij"),
    "zaak": ("gingOverOnderwerpobjecten",),
}
PARTIJ_CONTACTS_EXPAND = ("betrokkenen", "betrokkenen.hadKlantcontact")
BSN_FILTERS = ("partijIdentificator__codeSoortObjectId", "partijIdentificator__objectId")


def klantcontact_expand(selected: Iterable[str]) -> list[str]:
    """The expand list for klantcontacten whose selection (relative to one klantcontact) is ``selected``."""
    wanted: dict[str, None] = {}
    for path in selected:
        wanted.update(dict.fromkeys(KLANTCONTACT_EXPAND.get(path.split(".")[0], ())))
    return sorted(wanted)  # one order for one selection, whatever order the paths came in


def partij_expand(selected: Iterable[str]) -> list[str]:
    """Inline a partij's contacts only when they need nothing inline themselves (Open Klant cannot nest
    deeper than ``betrokkenen.hadKlantcontact``); otherwise ``Partij.klantcontacten`` lists them itself."""
    paths = frozenset(selected)
    if "klantcontacten" in paths and not klantcontact_expand(children(paths, "klantcontacten")):
        return list(PARTIJ_CONTACTS_EXPAND)
    return []


def _expanded(obj: Mapping[str, Any], name: str) -> Any:
    inline = obj.get("_expand")
    return inline.get(name) if isinstance(inline, Mapping) else None


def _maps(value: Any) -> list[dict[str, Any]]:
    return [dict(x) for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []


def _with_expand(params: list[tuple[str, str]], expand: list[str]) -> list[tuple[str, str]]:
    return [*params, ("expand", ",".join(expand))] if expand else params


# -- fetching -----------------------------------------------------------------------------------------


async def page(ctx: Context, path: str, number: int, filters: list[tuple[str, str]], expand: list[str]) -> Page:
    """One page of a list, for Relay windows."""
    no_citizen(ctx, "Open Klant")
    params = _with_expand([*filters, ("page", str(number)), ("pageSize", str(PAGE_SIZE))], expand)
    found = parse_page(await ctx.sources[KLANT].get(path, params, context=ctx), KLANT)
    for item in found.items:
        absorb(ctx, item)
    return found


async def list_all(
    ctx: Context, path: str, filters: list[tuple[str, str]], expand: list[str], max_pages: int = 10
) -> list[dict[str, Any]]:
    """Every item of a short filtered list (a partij's, a zaak's or a BSN's contacts), following ``next``
    for at most ``max_pages``; each page is fetched once per request however many fields ask for it."""
    no_citizen(ctx, "Open Klant")
    params = tuple(_with_expand([*filters, ("pageSize", str(PAGE_SIZE))], expand))
    loader = ctx.loader((KLANT, "list"), partial(_lists, ctx))
    items: list[dict[str, Any]] = []
    for number in range(1, max_pages + 1):
        found = parse_page(await loader.load((path, params, number)), KLANT)
        for item in found.items:
            if isinstance(item, Mapping):
                absorb(ctx, item)
                items.append(dict(item))
        if not found.has_next:
            break
    return items


async def _lists(ctx: Context, keys: list[tuple[str, tuple[tuple[str, str], ...], int]]) -> list[Any]:
    async def one(path: str, params: tuple[tuple[str, str], ...], number: int) -> Any:
        query = [*params, ("page", str(number))] if number > 1 else list(params)
        return await ctx.sources[KLANT].get(path, query, context=ctx, subjects=bsns_in(params))

    return list(await asyncio.gather(*(one(*k) for k in keys), return_exceptions=True))


async def detail(ctx: Context, path: str, uuid: str, expand: list[str]) -> dict[str, Any] | None:
    """One partij or klantcontact by uuid (null when Open Klant does not know it)."""
    no_citizen(ctx, "Open Klant")
    loader = ctx.loader((KLANT, path, tuple(expand)), partial(_details, ctx, path, expand=expand))
    found: dict[str, Any] | None = await loader.load(uuid)
    return found


async def _details(ctx: Context, path: str, uuids: list[str], expand: list[str]) -> list[Any]:
    async def one(uuid: str) -> dict[str, Any] | None:
        call = ctx.sources[KLANT].get(f"{path}/{uuid}", _with_expand([], expand), context=ctx)
        body = await unless_absent(call, None)
        if not isinstance(body, Mapping):
            return None
        absorb(ctx, body)
        return dict(body)

    return list(await asyncio.gather(*(one(u) for u in uuids), return_exceptions=True))


async def follow(ctx: Context, ref: Any) -> dict[str, Any] | None:
    """A ``{uuid, url}`` reference (or a bare URL), once per request; null when absent or gone."""
    url = text(ref.get("url")) if isinstance(ref, Mapping) else text(ref)
    if url is None:
        return None
    body = await unless_absent(ctx.follow(url), None)
    return dict(body) if isinstance(body, Mapping) else None


# -- links --------------------------------------------------------------------------------------------


async def partijen_of(ctx: Context, klantcontact: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The partijen the klantcontact's betrokkenen were, from ``_expand`` when it is there."""
    inline = _expanded(klantcontact, "hadBetrokkenen")
    betrokkenen = (
        _maps(inline)
        if isinstance(inline, list)
        else [
            b
            for b in await asyncio.gather(*(follow(ctx, r) for r in _maps(klantcontact.get("hadBetrokkenen"))))
            if b is not None
        ]
    )

    async def partij(betrokkene: dict[str, Any]) -> dict[str, Any] | None:
        found = _expanded(betrokkene, "wasPartij")
        return dict(found) if isinstance(found, Mapping) else await follow(ctx, betrokkene.get("wasPartij"))

    result: dict[str, dict[str, Any]] = {}
    for found in await asyncio.gather(*(partij(b) for b in betrokkenen)):
        if found is not None:
            result.setdefault(str(found.get("uuid") or found.get("url")), found)
    return list(result.values())


async def onderwerpobjecten_of(ctx: Context, klantcontact: Mapping[str, Any]) -> list[dict[str, Any]]:
    inline = _expanded(klantcontact, "gingOverOnderwerpobjecten")
    if isinstance(inline, list):
        return _maps(inline)
    found = await asyncio.gather(*(follow(ctx, r) for r in _maps(klantcontact.get("gingOverOnderwerpobjecten"))))
    return [o for o in found if o is not None]


def zaak_reference(onderwerpobject: Mapping[str, Any]) -> tuple[str, str] | None:
    """("uuid", id) or ("url", link) of the zaak an onderwerpobject names; it is a convention, not a link,
    so anything that does not look like a zaak uuid or URL is no zaak."""
    ident = onderwerpobject.get("onderwerpobjectidentificator")
    if not isinstance(ident, Mapping) or str(ident.get("codeObjecttype") or "").lower() != "zaak":
        return None
    object_id = text(ident.get("objectId"))
    if object_id is None:
        return None
    if object_id.startswith(("http://", "https://")):
        return "url", object_id
    return ("uuid", object_id) if valid_uuid(object_id) else None


async def klantcontacten_of_partij(ctx: Context, partij: Mapping[str, Any], expand: list[str]) -> list[dict[str, Any]]:
    """A partij's contacts: inline when the partij came with ``betrokkenen.hadKlantcontact`` and nothing
    deeper is needed, else one filtered list for this partij."""
    if not expand:
        inline = _expanded(partij, "betrokkenen")
        if isinstance(inline, list):
            contacts = [_expanded(b, "hadKlantcontact") for b in _maps(inline)]
            if all(isinstance(c, Mapping) for c in contacts):
                return newest_first(unique(dict(c) for c in contacts if isinstance(c, Mapping)))
    uuid = text(partij.get("uuid"))
    if uuid is None:
        return []
    return await list_all(ctx, "/klantcontacten", [("hadBetrokkene__wasPartij__uuid", uuid)], expand)


async def klantcontacten_for_bsn(ctx: Context, bsn: str, expand: list[str]) -> list[dict[str, Any]]:
    """Every contact of the partijen identified by this BSN, in one call: through the partijen list with
    its contacts inline, or, when the contacts need their own expansions, the klantcontacten list filtered
    on the partij's identificator."""
    if expand:
        filters = [(f"hadBetrokkene__wasPartij__{name}", value) for name, value in bsn_filters(bsn)]
        return await list_all(ctx, "/klantcontacten", filters, expand)
    partijen = await list_all(ctx, "/partijen", bsn_filters(bsn), list(PARTIJ_CONTACTS_EXPAND))
    found = await asyncio.gather(*(klantcontacten_of_partij(ctx, p, []) for p in partijen))
    return newest_first(unique(c for contacts in found for c in contacts))


def bsn_filters(bsn: str) -> list[tuple[str, str]]:
    return list(zip(BSN_FILTERS, ("bsn", bsn), strict=True))


def bsns_in(params: Iterable[tuple[str, str]]) -> list[str]:
    """The BSN a list is filtered on (``bsn_filters``, also through ``hadBetrokkene__wasPartij__``)."""
    found = dict(params)
    kinds = [v for k, v in found.items() if k.endswith(BSN_FILTERS[0])]
    return [v for k, v in found.items() if k.endswith(BSN_FILTERS[1]) and "bsn" in kinds]


def unique(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(str(item.get("uuid") or item.get("url") or id(item)), item)
    return list(seen.values())


def newest_first(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Contacts gathered from several betrokkenen, in the order Open Klant lists them (newest first)."""

    def moment(c: Mapping[str, Any]) -> dt.datetime:
        try:
            found = dt.datetime.fromisoformat(str(c.get("plaatsgevondenOp", "")).replace("Z", "+00:00"))
        except ValueError:
            return dt.datetime.min.replace(tzinfo=dt.UTC)
        return found if found.tzinfo else found.replace(tzinfo=dt.UTC)

    return sorted(contacts, key=moment, reverse=True)


# -- reading ------------------------------------------------------------------------------------------


def bsn_of(partij: Mapping[str, Any]) -> str | None:
    """The BSN a partij is identified by, when it has a BRP identificator."""
    for row in _maps(partij.get("partijIdentificatoren")):
        ident = row.get("partijIdentificator")
        if isinstance(ident, Mapping) and str(ident.get("codeSoortObjectId") or "").lower() == "bsn":
            value = ident.get("objectId")
            value = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
            if value.isdigit() and len(value) <= 9:
                return value.zfill(9)
    return None


def naam_of(partij: Mapping[str, Any]) -> str | None:
    """A display name: the contactnaam spelled out, else the organisation's name or the full name."""
    ident = partij.get("partijIdentificatie")
    if not isinstance(ident, Mapping):
        return None
    contact = ident.get("contactnaam")
    if isinstance(contact, Mapping):
        first = text(contact.get("voornaam")) or text(contact.get("voorletters"))
        parts = [first, text(contact.get("voorvoegselAchternaam")), text(contact.get("achternaam"))]
        composed = " ".join(p.strip() for p in parts if p and p.strip())
        if composed:
            return composed
    return text(ident.get("naam")) or text(ident.get("volledigeNaam"))


def adresregels(adres: Mapping[str, Any]) -> list[str]:
    """The address as lines: Open Klant's own lines, else spelled out from street and place."""
    lines = [
        line.strip()
        for key in ("adresregel1", "adresregel2", "adresregel3")
        if (line := text(adres.get(key))) and line.strip()
    ]
    if lines:
        return lines
    huisnummer = adres.get("huisnummer")
    street = " ".join(
        str(p)
        for p in (
            text(adres.get("straatnaam")),
            huisnummer if isinstance(huisnummer, int) else None,
            text(adres.get("huisnummertoevoeging")),
        )
        if p
    )
    place = " ".join(p for p in (text(adres.get("postcode")), text(adres.get("stad"))) if p)
    return [line for line in (street, place) if line]
