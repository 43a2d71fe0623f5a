"""Household budget files from Huishoudboekje, stitched from its backend GraphQL API.

Only the selected fields are asked upstream (see ``resolvers.huishoudboekje``). Money is exposed as a
two-decimal euro STRING (``bedrag``, ``saldo``), exactly as the backend's ``Bedrag`` scalar sends it, so no
cent is lost to floating point; ``bedragCenten`` gives the same amount as integer cents for arithmetic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import strawberry
from strawberry.types import Info

from graph.authz import requires
from graph.context import Context
from graph.errors import BadRequest
from graph.identifiers import valid_bsn
from graph.paging import Window, bounds
from graph.selection import children, selected_paths
from graph.tolerant import boolean, integer, rows, text
from resolvers import huishoudboekje as hhb
from schema.relay import Connection, connection
from schema.scalars import Date, lenient

if TYPE_CHECKING:
    from schema.brp import Persoon

ZONE = ZoneInfo("Europe/Amsterdam")


@strawberry.type(name="HuishoudboekjeRekening", description="A bank account known to Huishoudboekje.")
class Rekening:
    id: int | None = strawberry.field(description="Huishoudboekje id of the account.")
    iban: str | None = strawberry.field(description="IBAN.")
    rekeninghouder: str | None = strawberry.field(description="Account holder's name.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Rekening:
        return cls(id=integer(d.get("id")), iban=text(d.get("iban")), rekeninghouder=text(d.get("rekeninghouder")))


@strawberry.type(name="HuishoudboekjeTransactie", description="A bank transaction booked on an afspraak.")
class Transactie:
    id: int | None = strawberry.field(description="Huishoudboekje id of the transaction.")
    uuid: str = strawberry.field(description="UUID of the transaction.")
    bedrag: str | None = strawberry.field(
        description="Amount in euros as a two-decimal string, negative for money going out."
    )
    bedrag_centen: int | None = strawberry.field(description="The same amount in integer cents.")
    credit: bool | None = strawberry.field(description="Whether money came in.")
    geboekt: bool | None = strawberry.field(description="Whether the transaction is booked on an afspraak.")
    datum: Date | None = strawberry.field(description="Transaction date.")
    tegen_rekening_iban: str | None = strawberry.field(description="IBAN of the other party.")
    omschrijving: str | None = strawberry.field(description="Description the bank gave to the account owner.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Transactie:
        return cls(
            id=integer(d.get("id")),
            uuid=text(d.get("uuid")) or "",
            bedrag=hhb.bedrag(d.get("bedrag")),
            bedrag_centen=hhb.centen(d.get("bedrag")),
            credit=boolean(d.get("isCredit")),
            geboekt=boolean(d.get("isGeboekt")),
            datum=lenient(d.get("transactieDatum")),
            tegen_rekening_iban=text(d.get("tegenRekeningIban")),
            omschrijving=text(d.get("informationToAccountOwner")),
        )


@strawberry.type(
    name="HuishoudboekjeAfspraak", description="An arrangement for a recurring payment in or out of a burger's budget."
)
class Afspraak:
    id: int | None = strawberry.field(description="Huishoudboekje id of the afspraak.")
    omschrijving: str | None = strawberry.field(description="What the payment is for.")
    bedrag: str | None = strawberry.field(description="Amount in euros as a two-decimal string.")
    bedrag_centen: int | None = strawberry.field(description="The same amount in integer cents.")
    credit: bool | None = strawberry.field(description="True for money coming in, false for money going out.")
    rubriek: str | None = strawberry.field(description="Name of the ledger category (rubriek).")
    valid_from: Date | None = strawberry.field(description="First day the afspraak applies.")
    valid_through: Date | None = strawberry.field(description="Last day it applies; null while open-ended.")
    tegen_rekening: Rekening | None = strawberry.field(description="The other party's bank account.")
    _transactie_uuids: strawberry.Private[list[str]]

    @strawberry.field(description="Bank transactions booked on this afspraak (null when they cannot be fetched).")
    async def transacties(self, info: Info[Context, None]) -> list[Transactie] | None:
        if not self._transactie_uuids:
            return []
        sel = hhb.selection(hhb.TRANSACTIE, selected_paths(info))
        found = await hhb.transacties(info.context, self._transactie_uuids, sel)
        return [Transactie.from_api(t) for t in found]

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Afspraak:
        rubriek = d.get("rubriek")
        tegen = d.get("tegenRekening")
        uuids = [u for j in rows(d.get("journaalposten")) if (u := text(j.get("transactionUuid")))]
        return cls(
            id=integer(d.get("id")),
            omschrijving=text(d.get("omschrijving")),
            bedrag=hhb.bedrag(d.get("bedrag")),
            bedrag_centen=hhb.centen(d.get("bedrag")),
            credit=boolean(d.get("credit")),
            rubriek=text(rubriek.get("naam")) if isinstance(rubriek, Mapping) else None,
            valid_from=lenient(d.get("validFrom")),
            valid_through=lenient(d.get("validThrough")),
            tegen_rekening=Rekening.from_api(tegen) if isinstance(tegen, Mapping) else None,
            _transactie_uuids=list(dict.fromkeys(uuids)),
        )


@strawberry.type(name="BurgerAdres", description="A burger's address as Huishoudboekje records it.")
class BurgerAdres:
    straat: str | None = strawberry.field(description="Street name.")
    huisnummer: str | None = strawberry.field(description="House number, with letter/addition as entered.")
    postcode: str | None = strawberry.field(description="Postal code.")
    woonplaats: str | None = strawberry.field(description="Place.")


@strawberry.type(description="A citizen with a household budget file (huishoudboekje).")
class Burger:
    id: int = strawberry.field(description="Huishoudboekje id of the burger.")
    bsn: str | None = strawberry.field(description="BSN, nine digits (the backend stores it as a number).")
    voorletters: str | None = strawberry.field(description="Initials.")
    voornamen: str | None = strawberry.field(description="First names.")
    achternaam: str | None = strawberry.field(description="Surname.")
    geboortedatum: Date | None = strawberry.field(description="Date of birth.")
    adres: BurgerAdres | None = strawberry.field(description="Address as recorded in Huishoudboekje.")
    afspraken: list[Afspraak] = strawberry.field(description="The burger's payment arrangements.")
    rekeningen: list[Rekening] = strawberry.field(description="The burger's own bank accounts.")

    @strawberry.field(
        description="Balance in euros (two-decimal string) of the booked transactions up to and "
        "including `datum` (default: today)."
    )
    async def saldo(self, info: Info[Context, None], datum: Date | None = None) -> str | None:
        day = str(datum) if datum else dt.datetime.now(ZONE).date().isoformat()
        return await hhb.saldo(info.context, self.id, day)

    @strawberry.field(description="This burger as a person in the BRP.", extensions=requires("brp:lezen", citizen=True))
    async def persoon(self, info: Info[Context, None]) -> Annotated[Persoon, strawberry.lazy("schema.brp")] | None:
        if not self.bsn:
            return None
        from schema.brp import persoon_for

        return await persoon_for(info, self.bsn)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Burger:
        has_adres = any(k in d for k in ("straatnaam", "huisnummer", "postcode", "plaatsnaam"))
        return cls(
            id=integer(d.get("id")) or 0,
            bsn=hhb.bsn9(d.get("bsn")),
            voorletters=text(d.get("voorletters")),
            voornamen=text(d.get("voornamen")),
            achternaam=text(d.get("achternaam")),
            geboortedatum=lenient(d.get("geboortedatum")),
            adres=BurgerAdres(
                straat=text(d.get("straatnaam")),
                huisnummer=text(d.get("huisnummer")),
                postcode=text(d.get("postcode")),
                woonplaats=text(d.get("plaatsnaam")),
            )
            if has_adres
            else None,
            afspraken=[Afspraak.from_api(a) for a in rows(d.get("afspraken"))],
            rekeningen=[Rekening.from_api(r) for r in rows(d.get("rekeningen"))],
        )


async def burger_for_bsn(info: Info[Context, None], bsn: str) -> Burger | None:
    """The burger with this BSN, if Huishoudboekje has a file for them (see resolvers.huishoudboekje)."""
    if len(bsn) != 9 or not bsn.isdigit():
        return None
    found = await hhb.burger_by_bsn(info.context, bsn, hhb.selection(hhb.BURGER, selected_paths(info)))
    return Burger.from_api(found) if found else None


@strawberry.type
class HuishoudboekjeQuery:
    @strawberry.field(
        description="One burger in Huishoudboekje, by its Huishoudboekje id.",
        extensions=requires("huishoudboekje:lezen"),
    )
    async def huishoudboekje_burger(self, info: Info[Context, None], id: int) -> Burger | None:
        if id < 1:
            raise BadRequest("'id' must be a positive number.")
        sel = hhb.selection(hhb.BURGER, selected_paths(info))
        found = (await hhb.burgers_by_id(info.context, [id], sel))[0]
        return Burger.from_api(found) if found else None

    @strawberry.field(
        description="The burger with this BSN, if Huishoudboekje has a file for them.",
        extensions=requires("huishoudboekje:lezen"),
    )
    async def huishoudboekje_burger_met_bsn(self, info: Info[Context, None], burgerservicenummer: str) -> Burger | None:
        if not valid_bsn(burgerservicenummer):
            raise BadRequest("'burgerservicenummer' must be a BSN: 9 digits that pass the eleven-test.")
        return await burger_for_bsn(info, burgerservicenummer)

    @strawberry.field(
        description="All burgers in Huishoudboekje, a page at a time.",
        extensions=requires("huishoudboekje:lezen"),
    )
    async def huishoudboekje_burgers(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> Connection[Burger] | None:
        offset, count = bounds(first, after)
        paths = selected_paths(info)
        sel = hhb.selection(hhb.BURGER, children(paths, "nodes") | children(children(paths, "edges"), "node"))
        rows, total = await hhb.burgers_page(info.context, offset + 1, max(count, 1), sel)
        items = rows[:count]
        has_next = (offset + len(items) < total) if total is not None else len(rows) >= max(count, 1)
        return connection(Window(items, offset, total, has_next), Burger.from_api)
