"""Persons from the BRP, fetched with exactly the fields the query selected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.authz import requires
from graph.context import Context
from graph.errors import BadRequest
from graph.identifiers import valid_bsn
from graph.paging import DEFAULT_FIRST
from graph.selection import selected_paths
from graph.tolerant import integer, mapping, text
from resolvers import brp
from schema.relay import Connection
from schema.scalars import Date

if TYPE_CHECKING:
    from schema.bag import Adres, AdresseerbaarObject
    from schema.gemeente import GemeenteZaken
    from schema.huishoudboekje import Burger
    from schema.klantinteracties import Klantcontact, Partij
    from schema.vakantieverhuur import VakantieverhuurRegistratie
    from schema.zaken import Zaak


@strawberry.type(description="A value from a BRP code table.")
class Waardetabel:
    code: str | None = strawberry.field(description="Code in the national table.")
    omschrijving: str | None = strawberry.field(description="Its description.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Waardetabel | None:
        return cls(code=text(d.get("code")), omschrijving=text(d.get("omschrijving"))) if d else None


@strawberry.type(description="A BRP date, which may be partly unknown (only a year, or year and month).")
class Datum:
    datum: Date | None = strawberry.field(description="The full date, when it is known.")
    jaar: int | None = strawberry.field(description="The year, when known.")
    maand: int | None = strawberry.field(description="The month, when known.")
    lang_formaat: str | None = strawberry.field(description="The date written out in Dutch, e.g. '26 mei 1983'.")
    onbekend: bool = strawberry.field(description="True when the BRP records the date as unknown.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Datum | None:
        if not d:
            return None
        full = text(d.get("datum"))
        return cls(
            datum=Date(full) if full else None,
            jaar=integer(d.get("jaar")) or (int(full[:4]) if full and full[:4].isdigit() else None),
            maand=integer(d.get("maand")),
            lang_formaat=text(d.get("langFormaat")),
            onbekend=d.get("type") == "DatumOnbekend",
        )


@strawberry.type(description="A person's name as the BRP records it.")
class Naam:
    voornamen: str | None = strawberry.field(description="First names.")
    voorvoegsel: str | None = strawberry.field(description="Prefix of the surname ('van', 'de', ...).")
    geslachtsnaam: str | None = strawberry.field(description="Surname.")
    voorletters: str | None = strawberry.field(description="Initials.")
    volledige_naam: str | None = strawberry.field(description="The full name, composed by the BRP.")


@strawberry.type(description="Birth: date and place.")
class Geboorte:
    datum: Datum | None = strawberry.field(description="Date of birth.")
    plaats: Waardetabel | None = strawberry.field(description="Place of birth.")
    land: Waardetabel | None = strawberry.field(description="Country of birth.")


@strawberry.type(description="Death: date and place.")
class Overlijden:
    datum: Datum | None = strawberry.field(description="Date of death.")
    plaats: Waardetabel | None = strawberry.field(description="Place of death.")


@strawberry.type(description="Where the person lives, with the BAG identifications that link to the address.")
class Verblijfplaats:
    type: str | None = strawberry.field(
        description="Adres, Locatie, VerblijfplaatsBuitenland or VerblijfplaatsOnbekend."
    )
    straat: str | None = strawberry.field(description="Official street name.")
    huisnummer: int | None = strawberry.field(description="House number.")
    huisletter: str | None = strawberry.field(description="House letter.")
    huisnummertoevoeging: str | None = strawberry.field(description="House number addition.")
    postcode: str | None = strawberry.field(description="Postal code.")
    woonplaats: str | None = strawberry.field(description="Place of residence.")
    datum_van: Datum | None = strawberry.field(description="Since when the person lives here.")
    adresseerbaar_object_identificatie: str | None = strawberry.field(description="BAG id of the dwelling.")
    nummeraanduiding_identificatie: str | None = strawberry.field(description="BAG id of the address.")

    @strawberry.field(description="The address in the BAG.", extensions=requires("bag:lezen", citizen=True))
    async def adres(self, info: Info[Context, None]) -> Annotated[Adres, strawberry.lazy("schema.bag")] | None:
        if not self.nummeraanduiding_identificatie:
            return None
        from schema.bag import adres_for, start_bewoners

        start_bewoners(info, self.adresseerbaar_object_identificatie)  # the residents need no BAG answer
        return await adres_for(info, self.nummeraanduiding_identificatie)

    @strawberry.field(
        description="The dwelling (verblijfsobject) in the BAG, with its size, use and buildings.",
        extensions=requires("bag:lezen", citizen=True),
    )
    async def adresseerbaar_object(
        self, info: Info[Context, None]
    ) -> Annotated[AdresseerbaarObject, strawberry.lazy("schema.bag")] | None:
        if not self.adresseerbaar_object_identificatie:
            return None
        from schema.bag import adresseerbaar_object_for

        return await adresseerbaar_object_for(info, self.adresseerbaar_object_identificatie)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Verblijfplaats | None:
        if not d:
            return None
        adres = mapping(d.get("verblijfadres"))
        return cls(
            type=text(d.get("type")),
            straat=text(adres.get("officieleStraatnaam")),
            huisnummer=integer(adres.get("huisnummer")),
            huisletter=text(adres.get("huisletter")),
            huisnummertoevoeging=text(adres.get("huisnummertoevoeging")),
            postcode=text(adres.get("postcode")),
            woonplaats=text(adres.get("woonplaats")),
            datum_van=Datum.from_api(mapping(d.get("datumVan"))),
            adresseerbaar_object_identificatie=text(d.get("adresseerbaarObjectIdentificatie")),
            nummeraanduiding_identificatie=text(d.get("nummeraanduidingIdentificatie")),
        )


@strawberry.type(description="A person in the BRP. Only the fields a query selects are requested from the BRP.")
class Persoon:
    burgerservicenummer: str = strawberry.field(description="BSN.")
    naam: Naam | None = strawberry.field(description="Name.")
    geslacht: Waardetabel | None = strawberry.field(description="Sex (code M, V or O).")
    geboorte: Geboorte | None = strawberry.field(description="Birth.")
    leeftijd: int | None = strawberry.field(description="Age in years today.")
    overlijden: Overlijden | None = strawberry.field(description="Death, for a deceased person.")
    overleden: bool = strawberry.field(description="Whether the person has died.")
    verblijfplaats: Verblijfplaats | None = strawberry.field(description="Where the person lives.")
    nationaliteiten: list[Waardetabel] = strawberry.field(description="Nationalities.")
    gemeente_van_inschrijving: Waardetabel | None = strawberry.field(description="Municipality of registration.")
    geheimhouding_persoonsgegevens: bool = strawberry.field(
        description="True when the person asked that their data is not given to third parties."
    )
    in_onderzoek: list[str] = strawberry.field(description="BRP data of this person under investigation (paths).")
    _raw: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="Partners (marriage or registered partnership), as full persons.",
        extensions=requires("brp:lezen"),
    )
    async def partners(self, info: Info[Context, None]) -> list[Persoon] | None:
        return await personen_for(info, _bsns(self._raw, "partners"))

    @strawberry.field(description="Parents, as full persons.", extensions=requires("brp:lezen"))
    async def ouders(self, info: Info[Context, None]) -> list[Persoon] | None:
        return await personen_for(info, _bsns(self._raw, "ouders"))

    @strawberry.field(description="Children, as full persons.", extensions=requires("brp:lezen"))
    async def kinderen(self, info: Info[Context, None]) -> list[Persoon] | None:
        return await personen_for(info, _bsns(self._raw, "kinderen"))

    @strawberry.field(
        description="Zaken in which this person has a role.",
        extensions=requires("zaken:lezen", citizen=True),
    )
    async def zaken(
        self, info: Info[Context, None], first: int | None = DEFAULT_FIRST, after: str | None = None
    ) -> Connection[Annotated[Zaak, strawberry.lazy("schema.zaken")]] | None:
        from schema.zaken import zaken_for_bsn

        return await zaken_for_bsn(info, self.burgerservicenummer, first, after)

    @strawberry.field(
        description="Zaken in which this person has a role, at every municipality the caller may see ([municipalities] "
        "in the configuration; empty when there is one): one entry per municipality, each failing alone.",
        extensions=requires("zaken:lezen", citizen=True),
    )
    def zaken_per_gemeente(
        self, info: Info[Context, None], first: int | None = DEFAULT_FIRST, after: str | None = None
    ) -> list[Annotated[GemeenteZaken, strawberry.lazy("schema.gemeente")]] | None:
        from schema.gemeente import zaken_per_gemeente

        return zaken_per_gemeente(info, self.burgerservicenummer, first, after)

    @strawberry.field(
        description="Holiday-rental registrations of this person (LVV).",
        extensions=requires("vakantieverhuur:lezen", citizen=True),
    )
    async def vakantieverhuur_registraties(
        self, info: Info[Context, None]
    ) -> list[Annotated[VakantieverhuurRegistratie, strawberry.lazy("schema.vakantieverhuur")]] | None:
        from schema.vakantieverhuur import registraties_for_bsn

        return await registraties_for_bsn(info, self.burgerservicenummer)

    @strawberry.field(
        description="This person's household budget file in Huishoudboekje, if any.",
        extensions=requires("huishoudboekje:lezen", citizen=True),
    )
    async def huishoudboekje(
        self, info: Info[Context, None]
    ) -> Annotated[Burger, strawberry.lazy("schema.huishoudboekje")] | None:
        from schema.huishoudboekje import burger_for_bsn

        return await burger_for_bsn(info, self.burgerservicenummer)

    @strawberry.field(
        description="This person as a partij in Open Klant (the customer-interaction register).",
        extensions=requires("klantinteracties:lezen"),
    )
    async def partijen(
        self, info: Info[Context, None]
    ) -> list[Annotated[Partij, strawberry.lazy("schema.klantinteracties")]] | None:
        from schema.klantinteracties import partijen_for_bsn

        return await partijen_for_bsn(info, self.burgerservicenummer)

    @strawberry.field(
        description="Contacts with this person (Open Klant).",
        extensions=requires("klantinteracties:lezen"),
    )
    async def klantcontacten(
        self, info: Info[Context, None]
    ) -> list[Annotated[Klantcontact, strawberry.lazy("schema.klantinteracties")]] | None:
        from schema.klantinteracties import klantcontacten_for_bsn

        return await klantcontacten_for_bsn(info, self.burgerservicenummer)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Persoon:
        naam, geboorte, overlijden = mapping(d.get("naam")), mapping(d.get("geboorte")), mapping(d.get("overlijden"))
        rows = d.get("nationaliteiten")
        nationaliteiten: list[Any] = rows if isinstance(rows, list) else []
        return cls(
            burgerservicenummer=str(d.get("burgerservicenummer", "")),
            naam=Naam(
                voornamen=text(naam.get("voornamen")),
                voorvoegsel=text(naam.get("voorvoegsel")),
                geslachtsnaam=text(naam.get("geslachtsnaam")),
                voorletters=text(naam.get("voorletters")),
                volledige_naam=text(naam.get("volledigeNaam")),
            )
            if naam
            else None,
            geslacht=Waardetabel.from_api(mapping(d.get("geslacht"))),
            geboorte=Geboorte(
                datum=Datum.from_api(mapping(geboorte.get("datum"))),
                plaats=Waardetabel.from_api(mapping(geboorte.get("plaats"))),
                land=Waardetabel.from_api(mapping(geboorte.get("land"))),
            )
            if geboorte
            else None,
            leeftijd=integer(d.get("leeftijd")),
            overlijden=Overlijden(
                datum=Datum.from_api(mapping(overlijden.get("datum"))),
                plaats=Waardetabel.from_api(mapping(overlijden.get("plaats"))),
            )
            if overlijden
            else None,
            overleden=bool(overlijden),
            verblijfplaats=Verblijfplaats.from_api(mapping(d.get("verblijfplaats"))),
            nationaliteiten=[
                w
                for n in nationaliteiten
                if isinstance(n, Mapping)
                if (w := Waardetabel.from_api(mapping(n.get("nationaliteit"))))
            ],
            gemeente_van_inschrijving=Waardetabel.from_api(mapping(d.get("gemeenteVanInschrijving"))),
            geheimhouding_persoonsgegevens=d.get("geheimhoudingPersoonsgegevens") is True,
            in_onderzoek=brp.in_onderzoek(d),
            _raw=dict(d),
        )


def _bsns(raw: Mapping[str, Any], relation: str) -> list[str]:
    rows = raw.get(relation)
    return (
        [
            r["burgerservicenummer"]
            for r in rows
            if isinstance(r, Mapping) and isinstance(r.get("burgerservicenummer"), str)
        ]
        if isinstance(rows, list)
        else []
    )


async def personen_for(info: Info[Context, None], bsns: list[str]) -> list[Persoon]:
    """Full persons for BSNs, fetched with the fields this selection asks for, 20 per BRP call."""
    fields = brp.brp_fields(selected_paths(info))
    found = await brp.personen(info.context, [b for b in bsns if brp.valid_bsn(b)], fields)
    return [Persoon.from_api(p) for p in found if p is not None]


async def persoon_for(info: Info[Context, None], bsn: str) -> Persoon | None:
    found = await personen_for(info, [bsn])
    return found[0] if found else None


@strawberry.type
class BrpQuery:
    @strawberry.field(description="One person from the BRP, by BSN.", extensions=requires("brp:lezen"))
    async def persoon(self, info: Info[Context, None], burgerservicenummer: str) -> Persoon | None:
        if not valid_bsn(burgerservicenummer):
            raise BadRequest("'burgerservicenummer' must be a BSN: 9 digits that pass the eleven-test.")
        from schema.zaken import start_zaken_for_bsn

        start_zaken_for_bsn(info, Persoon, burgerservicenummer)  # its BSN is known now: no need to wait for the BRP
        return await persoon_for(info, burgerservicenummer)

    @strawberry.field(
        description="Several persons from the BRP, by BSN (unknown BSNs are left out).",
        extensions=requires("brp:lezen"),
    )
    async def personen(self, info: Info[Context, None], burgerservicenummers: list[str]) -> list[Persoon] | None:
        if not all(valid_bsn(b) for b in burgerservicenummers):
            raise BadRequest("Every BSN in 'burgerservicenummers' must be 9 digits that pass the eleven-test.")
        if len(burgerservicenummers) > 100:
            raise BadRequest("Ask for at most 100 persons at once.")
        return await personen_for(info, burgerservicenummers)
