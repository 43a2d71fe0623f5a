"""BRP Personen (Haal Centraal v2): data minimisation, batching and reading the answers.

The BRP makes ``fields`` mandatory; the gateway derives it from the GraphQL selection, so a query that
asks for a name gets a name and nothing else. Persons are loaded per (BSN, fields) key: lookups with the
same field set share ``RaadpleegMetBurgerservicenummer`` calls of at most 20 BSNs, and lookups for
different field sets are never mixed up (one person fetched for its name is not served as complete).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from graph.authz import no_citizen, own_only
from graph.config import declare_source
from graph.context import Context
from graph.errors import ResultTooLarge, SourceError
from graph.logboek import processed

BRP = "brp"
declare_source(BRP)
BATCH = 20
MAX_SEARCH_HITS = 10
TOO_MANY_RESULTS = "tooManyResults"  # the BRP's problem code for a search with more than 10 hits

# GraphQL path below Persoon -> the BRP fields it needs. The most specific matching path wins.
FIELDS: dict[str, tuple[str, ...]] = {
    "burgerservicenummer": ("burgerservicenummer",),
    "naam.voornamen": ("naam.voornamen",),
    "naam.voorvoegsel": ("naam.voorvoegsel",),
    "naam.geslachtsnaam": ("naam.geslachtsnaam",),
    "naam.voorletters": ("naam.voorletters",),
    "naam.volledigeNaam": ("naam.volledigeNaam",),
    "geslacht": ("geslacht",),
    "geboorte.datum": ("geboorte.datum",),
    "geboorte.plaats": ("geboorte.plaats",),
    "geboorte.land": ("geboorte.land",),
    "leeftijd": ("leeftijd",),
    "overlijden.datum": ("overlijden.datum",),
    "overlijden.plaats": ("overlijden.plaats",),
    "overleden": ("overlijden.datum",),
    "nationaliteiten": ("nationaliteiten",),
    "gemeenteVanInschrijving": ("gemeenteVanInschrijving",),
    "verblijfplaats": ("verblijfplaats",),
    "verblijfplaats.straat": ("verblijfplaats.verblijfadres.officieleStraatnaam",),
    "verblijfplaats.huisnummer": ("verblijfplaats.verblijfadres.huisnummer",),
    "verblijfplaats.huisletter": ("verblijfplaats.verblijfadres.huisletter",),
    "verblijfplaats.huisnummertoevoeging": ("verblijfplaats.verblijfadres.huisnummertoevoeging",),
    "verblijfplaats.postcode": ("verblijfplaats.verblijfadres.postcode",),
    "verblijfplaats.woonplaats": ("verblijfplaats.verblijfadres.woonplaats",),
    "verblijfplaats.datumVan": ("verblijfplaats.datumVan",),
    "verblijfplaats.adresseerbaarObjectIdentificatie": ("verblijfplaats.adresseerbaarObjectIdentificatie",),
    "verblijfplaats.nummeraanduidingIdentificatie": ("verblijfplaats.nummeraanduidingIdentificatie",),
    "verblijfplaats.adres": ("verblijfplaats.nummeraanduidingIdentificatie",),
    # the residents' search needs the dwelling id, which the BRP names too: asked here, it saves the BAG round trip
    "verblijfplaats.adres.bewoners": (
        "verblijfplaats.nummeraanduidingIdentificatie",
        "verblijfplaats.adresseerbaarObjectIdentificatie",
    ),
    "verblijfplaats.adresseerbaarObject": ("verblijfplaats.adresseerbaarObjectIdentificatie",),
    "verblijfplaats.type": ("verblijfplaats.datumVan",),  # type is not a field: it comes with any other
    "partners": ("partners.burgerservicenummer",),
    "ouders": ("ouders.burgerservicenummer",),
    "kinderen": ("kinderen.burgerservicenummer",),
}
ALWAYS = ("burgerservicenummer",)  # fields must never be empty, and the gateway keys persons by BSN


def brp_fields(selected: Iterable[str]) -> tuple[str, ...]:
    """The BRP ``fields`` for a Persoon selection (paths relative to the Persoon).

    Only the deepest selected paths count: selecting ``verblijfplaats { postcode }`` asks for the postcode,
    not for the whole verblijfplaats group that the parent path alone would map to.
    """
    paths = set(selected)
    leaves = [p for p in paths if not any(other.startswith(p + ".") for other in paths)]
    wanted: dict[str, None] = dict.fromkeys(ALWAYS)
    for path in leaves:
        parts = path.split(".")
        for n in range(len(parts), 0, -1):
            found = FIELDS.get(".".join(parts[:n]))
            if found:
                wanted.update(dict.fromkeys(found))
                break
    return tuple(sorted(wanted))


def valid_bsn(bsn: str) -> bool:
    return len(bsn) == 9 and bsn.isdigit()


async def personen(ctx: Context, bsns: list[str], fields: tuple[str, ...]) -> list[dict[str, Any] | None]:
    own_only(ctx, bsns, "BRP data")
    loader = ctx.loader("brp-persoon", lambda keys: _raadpleeg(ctx, keys))
    return list(await loader.load_many([(bsn, fields) for bsn in bsns]))


async def _raadpleeg(ctx: Context, keys: list[tuple[str, tuple[str, ...]]]) -> list[Any]:
    by_fields: dict[tuple[str, ...], list[str]] = {}
    for bsn, fields in keys:
        group = by_fields.setdefault(fields, [])
        if bsn not in group:
            group.append(bsn)
    calls = [(fields, bsns[i : i + BATCH]) for fields, bsns in by_fields.items() for i in range(0, len(bsns), BATCH)]
    answers = await asyncio.gather(*(_raadpleeg_call(ctx, f, b) for f, b in calls), return_exceptions=True)
    found: dict[tuple[str, tuple[str, ...]], Any] = {}
    for (fields, bsns), answer in zip(calls, answers, strict=True):
        for bsn in bsns:
            found[(bsn, fields)] = answer.get(bsn) if isinstance(answer, dict) else answer
    return [found.get(key) for key in keys]


async def _raadpleeg_call(ctx: Context, fields: tuple[str, ...], bsns: list[str]) -> dict[str, dict[str, Any]]:
    body = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns, "fields": list(fields)}
    answer = await ctx.sources[BRP].post("/personen", body, context=ctx, subjects=bsns)
    return {p["burgerservicenummer"]: p for p in _persons(answer) if isinstance(p.get("burgerservicenummer"), str)}


# What a search answers (PersoonBeperkt): residents asked for no more than this come in one search call.
SEARCH_FIELDS = frozenset(
    {
        "burgerservicenummer",
        "geslacht",
        "leeftijd",
        "naam.voornamen",
        "naam.voorvoegsel",
        "naam.geslachtsnaam",
        "naam.voorletters",
        "naam.volledigeNaam",
        "geboorte.datum",
    }
)


async def bewoners(ctx: Context, adresseerbaar_object_id: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The people registered at a BAG object, with ``fields``: one search when the search answer carries
    them all, else the BSNs first and then the persons (batched with every other lookup of the request)."""
    no_citizen(ctx, "who lives at an address")
    search_fields = fields if set(fields) <= SEARCH_FIELDS else ("burgerservicenummer",)
    found: list[dict[str, Any]] = await ctx.loader("brp-bewoners", lambda keys: _bewoners(ctx, keys)).load(
        (adresseerbaar_object_id, search_fields)
    )
    if search_fields == fields:
        return found
    bsns = [p["burgerservicenummer"] for p in found if isinstance(p.get("burgerservicenummer"), str)]
    return [p for p in await personen(ctx, bsns, fields) if p is not None]


async def _bewoners(ctx: Context, keys: list[tuple[str, tuple[str, ...]]]) -> list[Any]:
    async def one(adresseerbaar_object_id: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        body = {
            "type": "ZoekMetAdresseerbaarObjectIdentificatie",
            "adresseerbaarObjectIdentificatie": adresseerbaar_object_id,
            "fields": list(fields),
        }
        try:
            found = _persons(await ctx.sources[BRP].post("/personen", body, context=ctx))
            processed(ctx, BRP, _bsns(found), fields)  # a search: the persons are known from its answer
            return found
        except SourceError as exc:
            if TOO_MANY_RESULTS in exc.problems:
                raise ResultTooLarge("More than 10 people live at this address; the BRP names at most 10.") from None
            raise

    return list(await asyncio.gather(*(one(*key) for key in keys), return_exceptions=True))


def _bsns(persons: list[dict[str, Any]]) -> list[str]:
    return [p["burgerservicenummer"] for p in persons if isinstance(p.get("burgerservicenummer"), str)]


def _persons(answer: Any) -> list[dict[str, Any]]:
    if not isinstance(answer, Mapping) or not isinstance(answer.get("personen"), list):
        raise SourceError("UPSTREAM_BAD_RESPONSE", BRP, "The BRP sent an answer without 'personen'.")
    return [dict(p) for p in answer["personen"] if isinstance(p, Mapping)]


def in_onderzoek(persoon: Mapping[str, Any]) -> list[str]:
    """Paths of the person's data under investigation; BRP v2 nests ``inOnderzoek`` per group."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "inOnderzoek" and isinstance(value, Mapping):
                    found.extend(f"{path}{k}" for k, v in value.items() if v is True)
                else:
                    walk(value, f"{path}{key}.")

    walk(persoon, "")
    return sorted(found)
