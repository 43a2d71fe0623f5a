"""Several municipalities in one graph: ``gemeente(code:)``, ``gemeenten(codes:)`` and a person's zaken per
municipality.

A ``Gemeente`` carries the request's part for its municipality (``graph.context.Context.municipality``) as its
own context (``graph.scoped``), so its fields are the top-level municipal fields themselves (inherited from
their query types) and everything below them asks that municipality's sources. Which municipalities a caller
may see: every configured one, unless the token's scopes name some (``gemeente:<code>``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from graph.authz import requires
from graph.config import MunicipalityConfig
from graph.context import Context
from graph.errors import BadRequest, Forbidden
from graph.tolerant import text
from resolvers import signalen as sia
from resolvers import zgw
from schema.klantinteracties import KlantinteractiesQuery
from schema.objecten import ObjectenQuery
from schema.relay import Connection
from schema.scalars import Date
from schema.signalen import (
    CategorieArg,
    HoofdcategorieArg,
    MeldingDimensie,
    MeldingStatistiek,
    SignalenQuery,
    StatusArg,
    TotArg,
    VanafArg,
    meldingen_statistiek_of,
)
from schema.zaken import (
    Zaak,
    ZaakDimensie,
    ZaakStatistiek,
    ZakenQuery,
    ZakenStatistiekQuery,
    zaken_for_bsn,
    zaken_statistiek_of,
)

T = TypeVar("T")


@strawberry.type(
    description="One municipality's part of the graph: its zaken, meldingen, klantinteracties and objecten, from "
    "its own sources; links from there lead to its own sources too, and to the national BRP and BAG. When one "
    "municipality's source fails, only its fields are null, and the error names it in extensions.gemeente."
)
class Gemeente(ZakenQuery, ZakenStatistiekQuery, SignalenQuery, KlantinteractiesQuery, ObjectenQuery):
    code: str = strawberry.field(description="CBS gemeentecode (four digits, such as 0363).")
    naam: str = strawberry.field(description="The municipality's name.")
    _context: strawberry.Private[Context]


def visible(ctx: Context) -> list[MunicipalityConfig]:
    """The configured municipalities this caller may see, in the configuration's order."""
    allowed = ctx.caller.municipalities
    return [m for m in ctx.root.sources.municipalities.values() if allowed is None or m.code in allowed]


def gemeente_of(ctx: Context, municipality: MunicipalityConfig) -> Gemeente:
    return Gemeente(code=municipality.code, naam=municipality.naam, _context=ctx.municipality(municipality.code))


def checked(ctx: Context, code: str) -> MunicipalityConfig:
    """The municipality ``code`` names, if the caller may see it; otherwise a clear error naming the code."""
    code = code.strip()
    if len(code) != 4 or not code.isdigit():
        raise BadRequest(f"'{code[:12]}' is not a gemeentecode: four digits, such as '0363'.")
    known = ctx.root.sources.municipalities
    if code not in known:
        listed = ", ".join(known) if known else "none: this gateway serves one municipality at its top-level fields"
        raise BadRequest(f"Unknown municipality '{code}'; configured: {listed}.", gemeente=code)
    allowed = ctx.caller.municipalities
    if allowed is not None and code not in allowed:
        raise Forbidden(f"This token may not see municipality {code}.", gemeente=code)
    return known[code]


# -- sums over several municipalities ---------------------------------------------------------------------------


@strawberry.type(description="Zaken of several municipalities together, grouped by name (zaaktype and status "
                             "URLs differ per municipality; their names are what the groups share).")
class ZaakGroepTotaal:
    zaaktype: str | None = strawberry.field(description="Zaaktype omschrijving (grouped by ZAAKTYPE or STATUS).")
    status: str | None = strawberry.field(description="Current statustype omschrijving (grouped by STATUS).")
    open: bool | None = strawberry.field(description="True for open zaken (grouped by OPEN).")
    aantal: int = strawberry.field(description="Number of zaken in the group, summed over the municipalities.")


def _answered(found: T | BaseException) -> T:
    """A municipality's part of a sum: its value, or its failure raised on its own field only."""
    if isinstance(found, BaseException):
        raise found
    return found


@strawberry.type(description="One municipality's zakenStatistiek within a sum.")
class GemeenteZaakStatistiek:
    gemeente: Gemeente = strawberry.field(description="The municipality.")
    _context: strawberry.Private[Context]
    _found: strawberry.Private[ZaakStatistiek | BaseException]

    @strawberry.field(description="Its statistics; null (with an error naming it) when its sources failed.")
    def statistiek(self) -> ZaakStatistiek | None:
        return _answered(self._found)


@strawberry.type(description="zakenStatistiek per municipality and summed over those that answered.")
class GemeentenZaakStatistiek:
    totaal: int = strawberry.field(description="Zaken counted, summed over the municipalities that answered.")
    volledig: bool = strawberry.field(description="Whether every municipality answered (else see its error).")
    groepen: list[ZaakGroepTotaal] = strawberry.field(description="The groups summed by name, largest first.")
    per_gemeente: list[GemeenteZaakStatistiek] = strawberry.field(description="Each municipality's own numbers.")


@strawberry.type(description="One municipality's meldingenStatistiek within a sum.")
class GemeenteMeldingStatistiek:
    gemeente: Gemeente = strawberry.field(description="The municipality.")
    _context: strawberry.Private[Context]
    _found: strawberry.Private[MeldingStatistiek | BaseException]

    @strawberry.field(description="Its statistics; null (with an error naming it) when its Signalen failed.")
    def statistiek(self) -> MeldingStatistiek | None:
        return _answered(self._found)


@strawberry.type(description="A group of meldingen summed over municipalities; only grouped values are set.")
class MeldingGroepTotaal:
    categorie: str | None = strawberry.field(description="Sub category slug, when grouped by CATEGORIE.")
    status: str | None = strawberry.field(description="State code, when grouped by STATUS.")
    buurt: str | None = strawberry.field(description="Buurt code (each belongs to one municipality), by BUURT.")
    week: str | None = strawberry.field(description="ISO week, when grouped by WEEK.")
    aantal: int = strawberry.field(description="Number of meldingen in the group, summed.")


@strawberry.type(description="meldingenStatistiek per municipality and summed over those that answered.")
class GemeentenMeldingStatistiek:
    totaal: int = strawberry.field(description="Meldingen counted, summed over the municipalities that answered.")
    volledig: bool = strawberry.field(description="Whether every municipality answered (else see its error).")
    groepen: list[MeldingGroepTotaal] = strawberry.field(description="The groups summed, in the order of groepeerOp.")
    per_gemeente: list[GemeenteMeldingStatistiek] = strawberry.field(description="Each municipality's own numbers.")


async def _each(
    gemeenten: list[Gemeente], work: Callable[[Context], Awaitable[T]]
) -> list[T | BaseException]:
    """``work`` for every municipality at once, under its own context; one failing keeps its error, not ours."""
    return list(await asyncio.gather(*(work(g._context) for g in gemeenten), return_exceptions=True))


async def _named_groups(ctx: Context, stats: ZaakStatistiek) -> list[tuple[tuple[Any, ...], int]]:
    """A municipality's groups keyed by names rather than its own Catalogi URLs (one call per distinct type)."""
    async def name(url: str | None) -> str | None:
        found = await zgw.follow(ctx, url) if url else None
        return text(found.get("omschrijving")) if found else None

    zaaktypen = await asyncio.gather(*(name(g.zaaktype_url) for g in stats.groepen))
    statussen = await asyncio.gather(*(name(g.statustype_url) for g in stats.groepen))
    return [((z, s, g.open), g.aantal) for g, z, s in zip(stats.groepen, zaaktypen, statussen, strict=True)]


@strawberry.type(description="Several municipalities at once: each one's part, and statistics summed over them.")
class Gemeenten:
    nodes: list[Gemeente] = strawberry.field(description="Each municipality's part, in the order asked.")

    @strawberry.field(
        description="zakenStatistiek of every municipality, concurrently, and the sum by zaaktype and status name.",
        extensions=requires("zaken:statistiek"),
    )
    async def zaken_statistiek(
        self,
        groepeer_op: list[ZaakDimensie],
        vanaf: Annotated[Date | None, strawberry.argument(description="Only zaken started on or after.")] = None,
        tot: Annotated[Date | None, strawberry.argument(description="Only zaken started before.")] = None,
    ) -> GemeentenZaakStatistiek | None:
        if vanaf and tot and str(tot) <= str(vanaf):
            raise BadRequest("'tot' must be after 'vanaf'.")
        names = bool({ZaakDimensie.ZAAKTYPE, ZaakDimensie.STATUS} & set(groepeer_op))

        async def one(ctx: Context) -> tuple[ZaakStatistiek, list[tuple[tuple[Any, ...], int]]]:
            stats = await zaken_statistiek_of(ctx, groepeer_op, vanaf, tot, None, names, lead_times=False)
            return stats, await _named_groups(ctx, stats)

        found = await _each(self.nodes, one)
        summed: dict[tuple[Any, ...], int] = {}
        for result in found:
            if not isinstance(result, BaseException):
                for key, aantal in result[1]:
                    summed[key] = summed.get(key, 0) + aantal
        groups = [ZaakGroepTotaal(zaaktype=k[0], status=k[1], open=k[2], aantal=n) for k, n in summed.items()]
        groups.sort(key=lambda g: (-g.aantal, g.zaaktype or "", g.status or "", str(g.open)))
        answered = [r[0] for r in found if not isinstance(r, BaseException)]
        return GemeentenZaakStatistiek(
            totaal=sum(s.totaal for s in answered),
            volledig=len(answered) == len(found),
            groepen=groups,
            per_gemeente=[
                GemeenteZaakStatistiek(gemeente=g, _context=g._context,
                                       _found=r if isinstance(r, BaseException) else r[0])
                for g, r in zip(self.nodes, found, strict=True)
            ],
        )

    @strawberry.field(
        description="meldingenStatistiek of every municipality, concurrently, and the sum per group.",
        extensions=requires("signalen:statistiek"),
    )
    async def meldingen_statistiek(
        self,
        groepeer_op: Annotated[
            list[MeldingDimensie],
            strawberry.argument(description="Dimensions to group by; an empty list gives only the total."),
        ],
        vanaf: VanafArg = None,
        tot: TotArg = None,
        categorie: CategorieArg = None,
        hoofdcategorie: HoofdcategorieArg = None,
        status: StatusArg = None,
    ) -> GemeentenMeldingStatistiek | None:
        flt = sia.filters(categorie, hoofdcategorie, status, None, vanaf, tot)
        found = await _each(self.nodes, lambda ctx: meldingen_statistiek_of(ctx, groepeer_op, flt, True))
        summed: dict[tuple[str | None, ...], int] = {}
        for result in found:
            if not isinstance(result, BaseException):
                for g in result.groepen:
                    key = (g.categorie, g.status, g.buurt, g.week)
                    summed[key] = summed.get(key, 0) + g.aantal
        answered = [r for r in found if not isinstance(r, BaseException)]
        return GemeentenMeldingStatistiek(
            totaal=sum(s.totaal for s in answered),
            volledig=len(answered) == len(found),
            groepen=[MeldingGroepTotaal(categorie=k[0], status=k[1], buurt=k[2], week=k[3], aantal=n)
                     for k, n in sorted(summed.items(), key=lambda item: tuple(v or "" for v in item[0]))],
            per_gemeente=[GemeenteMeldingStatistiek(gemeente=g, _context=g._context, _found=r)
                          for g, r in zip(self.nodes, found, strict=True)],
        )


# -- a person's zaken in every municipality ----------------------------------------------------------------------


@strawberry.type(description="A person's zaken at one municipality.")
class GemeenteZaken:
    gemeente: Gemeente = strawberry.field(description="The municipality.")
    _context: strawberry.Private[Context]
    _bsn: strawberry.Private[str]
    _first: strawberry.Private[int | None]
    _after: strawberry.Private[str | None]

    @strawberry.field(description="Zaken in which the person has a role, at this municipality; null (with an error "
                                  "naming it) when its Zaken API fails.")
    async def zaken(self, info: Info[Context, None]) -> Connection[Zaak] | None:
        return await zaken_for_bsn(info, self._bsn, self._first, self._after)


def zaken_per_gemeente(
    info: Info[Context, None], bsn: str, first: int | None, after: str | None
) -> list[GemeenteZaken]:
    """One entry per municipality the caller may see (none on a one-municipality gateway)."""
    found = []
    for municipality in visible(info.context):
        gemeente = gemeente_of(info.context, municipality)
        found.append(GemeenteZaken(gemeente=gemeente, _context=gemeente._context, _bsn=bsn, _first=first,
                                   _after=after))
    return found


@strawberry.type
class GemeenteQuery:
    @strawberry.field(
        description="One municipality's part of the graph, by CBS gemeentecode ([municipalities] in the "
        "configuration).",
        extensions=requires(),
    )
    def gemeente(
        self, info: Info[Context, None], code: Annotated[str, strawberry.argument(description="Four digits: 0363.")]
    ) -> Gemeente | None:
        return gemeente_of(info.context, checked(info.context, code))

    @strawberry.field(
        description="Several municipalities at once, each failing alone; without 'codes' every one the token may "
        "see (its gemeente:<code> scopes, or all configured when it names none).",
        extensions=requires(),
    )
    def gemeenten(
        self,
        info: Info[Context, None],
        codes: Annotated[list[str] | None, strawberry.argument(description="CBS gemeentecodes.")] = None,
    ) -> Gemeenten | None:
        chosen = visible(info.context) if codes is None else [
            checked(info.context, c) for c in dict.fromkeys(c.strip() for c in codes)]
        return Gemeenten(nodes=[gemeente_of(info.context, m) for m in chosen])
