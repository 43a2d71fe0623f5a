"""BAG Individuele Bevragingen v2: one GET per id (the BAG has no multi-id GET), deduplicated per request.

BAG answers ``application/hal+json`` and wraps single objects in their type name; ``/adresseerbareobjecten``
wraps twice. ``unwrap`` reads either, so the gateway also copes with older releases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from graph.config import declare_source
from graph.context import Context
from graph.paging import parse_page
from graph.tolerant import mapping, rows

BAG = "bag"
declare_source(BAG)
HAL = {"Accept": "application/hal+json"}
OBJECT_TYPES = (
    "verblijfsobject",
    "ligplaats",
    "standplaats",
    "pand",
    "nummeraanduiding",
    "openbareRuimte",
    "woonplaats",
)


async def get(ctx: Context, path: str, params: tuple[tuple[str, str], ...] = ()) -> Any:
    """A BAG resource, fetched once per request however often the query links to it."""
    return await ctx.loader("bag", lambda keys: _get_many(ctx, keys)).load((path, params))


async def _get_many(ctx: Context, keys: list[tuple[str, tuple[tuple[str, str], ...]]]) -> list[Any]:
    source = ctx.sources[BAG]
    return list(
        await asyncio.gather(
            *(source.get(path, list(params), headers=HAL, context=ctx) for path, params in keys), return_exceptions=True
        )
    )


def unwrap(body: Any) -> tuple[str | None, dict[str, Any]]:
    """(type, fields) of a single BAG object however deeply the release wraps it.

    A wrapper holds the object under its type's name, next to ``_links``/``_embedded`` and, when data is
    under investigation, ``inonderzoek``: descend into the type key whatever else stands beside it.
    """
    kind: str | None = None
    node = body
    while isinstance(node, Mapping):
        inner = next((k for k in OBJECT_TYPES if isinstance(node.get(k), Mapping)), None)
        if inner is None:
            break
        kind, node = inner, node[inner]
    return kind, dict(node) if isinstance(node, Mapping) else {}


def adres_expand(selected: Iterable[str]) -> tuple[str, ...]:
    """What an Adres selection needs inline: ``expand=adresseerbaarObject,panden`` turns three calls per
    address into one, which matters most under the BAG's 50 calls per second."""
    wanted: list[str] = []
    if any(p == "adresseerbaarObject" or p.startswith("adresseerbaarObject.") for p in selected):
        wanted.append("adresseerbaarObject")
        if any(p.startswith("adresseerbaarObject.panden") for p in selected):
            wanted.append("panden")
    return tuple(wanted)


def absorb(ctx: Context, adres: Mapping[str, Any]) -> None:
    """Prime the request's BAG loader with what an adres carried in ``_embedded``, under the paths that
    would otherwise be fetched (``/adresseerbareobjecten/{id}``, ``/panden/{id}``)."""
    embedded = mapping(adres.get("_embedded"))
    loader = ctx.loader("bag", lambda keys: _get_many(ctx, keys))
    ao_id = bag_id(adres.get("adresseerbaarObjectIdentificatie"))
    if ao_id and isinstance(embedded.get("adresseerbaarObject"), Mapping):
        loader.prime((f"/adresseerbareobjecten/{ao_id}", ()), embedded["adresseerbaarObject"])
    for pand in rows(embedded.get("panden")):
        pand_id = bag_id(unwrap(pand)[1].get("identificatie"))
        if pand_id:
            loader.prime((f"/panden/{pand_id}", ()), pand)


async def adres(ctx: Context, nummeraanduiding_id: str, expand: tuple[str, ...] = ()) -> dict[str, Any] | None:
    params = (("expand", ",".join(expand)),) if expand else ()
    body = await get(ctx, f"/adressen/{nummeraanduiding_id}", params)
    if not isinstance(body, Mapping):
        return None
    absorb(ctx, body)
    return dict(body)


async def adressen(
    ctx: Context,
    postcode: str,
    huisnummer: int,
    huisletter: str | None,
    toevoeging: str | None,
    expand: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    params = [("postcode", postcode), ("huisnummer", str(huisnummer))]
    if huisletter:
        params.append(("huisletter", huisletter))
    if toevoeging:
        params.append(("huisnummertoevoeging", toevoeging))
    if huisletter or toevoeging:
        params.append(("exacteMatch", "true"))
    if expand:
        params.append(("expand", ",".join(expand)))
    page = parse_page(await get(ctx, "/adressen", tuple(params)), BAG)
    found = [dict(a) for a in page.items if isinstance(a, Mapping)]
    for item in found:
        absorb(ctx, item)
    return found


async def adresseerbaar_object(ctx: Context, identificatie: str) -> tuple[str | None, dict[str, Any]]:
    return unwrap(await get(ctx, f"/adresseerbareobjecten/{identificatie}"))


async def pand(ctx: Context, identificatie: str) -> dict[str, Any]:
    return unwrap(await get(ctx, f"/panden/{identificatie}"))[1]


def bag_id(value: Any, length: int = 16) -> str | None:
    return value if isinstance(value, str) and len(value) == length and value.isdigit() else None
