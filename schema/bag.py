"""Addresses, dwellings and buildings from the BAG, and who and what is at an address."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.authz import may_resolve, requires
from graph.context import Context
from graph.errors import BadRequest, unless_absent
from graph.identifiers import valid_bag_id
from graph.selection import children, only_child, selected_paths
from graph.tolerant import integer, text
from resolvers import bag, brp

if TYPE_CHECKING:
    from schema.brp import Persoon
    from schema.signalen import Melding
    from schema.vakantieverhuur import VakantieverhuurRegistratie


@strawberry.type(description="A building (pand) in the BAG.")
class Pand:
    identificatie: str = strawberry.field(description="16-digit BAG id of the building.")
    oorspronkelijk_bouwjaar: int | None = strawberry.field(description="Year of construction.")
    status: str | None = strawberry.field(description="BAG status, e.g. 'Pand in gebruik'.")

    @classmethod
    def from_api(cls, identificatie: str, d: Mapping[str, Any]) -> Pand:
        return cls(
            identificatie=text(d.get("identificatie")) or identificatie,
            oorspronkelijk_bouwjaar=integer(d.get("oorspronkelijkBouwjaar")),
            status=text(d.get("status")),
        )


@strawberry.type(description="An addressable object: a dwelling or other unit (verblijfsobject), berth or pitch.")
class AdresseerbaarObject:
    identificatie: str = strawberry.field(description="16-digit BAG id.")
    type: str | None = strawberry.field(description="Verblijfsobject, Ligplaats or Standplaats.")
    oppervlakte: int | None = strawberry.field(description="Floor area in m².")
    gebruiksdoelen: list[str] = strawberry.field(description="What it is used for (woonfunctie, ...).")
    status: str | None = strawberry.field(description="BAG status.")
    _pand_ids: strawberry.Private[list[str]]

    @strawberry.field(description="The building(s) it is part of.")
    async def panden(self, info: Info[Context, None]) -> list[Pand] | None:
        found = await asyncio.gather(*(bag.pand(info.context, p) for p in self._pand_ids))
        return [Pand.from_api(p, d) for p, d in zip(self._pand_ids, found, strict=True)]

    @classmethod
    def from_api(cls, identificatie: str, kind: str | None, d: Mapping[str, Any]) -> AdresseerbaarObject:
        doelen = d.get("gebruiksdoelen")
        panden = d.get("maaktDeelUitVan")
        return cls(
            identificatie=text(d.get("identificatie")) or identificatie,
            type=text(d.get("type")) or (kind.capitalize() if kind else None),
            oppervlakte=integer(d.get("oppervlakte")),
            gebruiksdoelen=[g for g in doelen if isinstance(g, str)] if isinstance(doelen, list) else [],
            status=text(d.get("status")),
            _pand_ids=[p for p in panden if bag.bag_id(p)] if isinstance(panden, list) else [],
        )


@strawberry.type(description="An address in the BAG (nummeraanduiding with its street and place).")
class Adres:
    nummeraanduiding_identificatie: str = strawberry.field(description="16-digit BAG id of the address.")
    postcode: str | None = strawberry.field(description="Postal code, 1234AB.")
    huisnummer: int | None = strawberry.field(description="House number.")
    huisletter: str | None = strawberry.field(description="House letter.")
    huisnummertoevoeging: str | None = strawberry.field(description="House number addition.")
    openbare_ruimte_naam: str | None = strawberry.field(description="Street name.")
    woonplaats_naam: str | None = strawberry.field(description="Place name.")
    adresseerbaar_object_identificatie: str | None = strawberry.field(description="BAG id of the dwelling.")
    pand_identificaties: list[str] = strawberry.field(description="BAG ids of the building(s).")

    @strawberry.field(description="The dwelling or other unit this address belongs to.")
    async def adresseerbaar_object(self, info: Info[Context, None]) -> AdresseerbaarObject | None:
        if not self.adresseerbaar_object_identificatie:
            return None
        return await adresseerbaar_object_for(info, self.adresseerbaar_object_identificatie)

    @strawberry.field(
        description="People registered at this address in the BRP (at most 10, as the BRP allows).",
        extensions=requires("brp:lezen"),
    )
    async def bewoners(
        self, info: Info[Context, None]
    ) -> list[Annotated[Persoon, strawberry.lazy("schema.brp")]] | None:
        if not self.adresseerbaar_object_identificatie:
            return []
        from schema.brp import Persoon

        fields = brp.brp_fields(selected_paths(info))
        return [
            Persoon.from_api(p)
            for p in await brp.bewoners(info.context, self.adresseerbaar_object_identificatie, fields)
        ]

    @strawberry.field(
        description="Reports about public space made at this address (Signalen).",
        extensions=requires("signalen:lezen"),
    )
    async def meldingen(
        self, info: Info[Context, None]
    ) -> list[Annotated[Melding, strawberry.lazy("schema.signalen")]] | None:
        from schema.signalen import meldingen_at

        return await meldingen_at(info, self)

    @strawberry.field(
        description="Holiday-rental registrations for this address (LVV), found via its residents.",
        extensions=requires("vakantieverhuur:lezen", "brp:lezen"),
    )
    async def vakantieverhuur_registraties(
        self, info: Info[Context, None]
    ) -> list[Annotated[VakantieverhuurRegistratie, strawberry.lazy("schema.vakantieverhuur")]] | None:
        from schema.vakantieverhuur import registraties_at

        return await registraties_at(info, self)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Adres:
        panden = d.get("pandIdentificaties")
        return cls(
            nummeraanduiding_identificatie=str(d.get("nummeraanduidingIdentificatie", "")),
            postcode=text(d.get("postcode")),
            huisnummer=integer(d.get("huisnummer")),
            huisletter=text(d.get("huisletter")),
            huisnummertoevoeging=text(d.get("huisnummertoevoeging")),
            openbare_ruimte_naam=text(d.get("openbareRuimteNaam")),
            woonplaats_naam=text(d.get("woonplaatsNaam")),
            adresseerbaar_object_identificatie=text(d.get("adresseerbaarObjectIdentificatie")),
            pand_identificaties=[p for p in panden if isinstance(p, str)] if isinstance(panden, list) else [],
        )


async def adres_for(info: Info[Context, None], nummeraanduiding_id: str) -> Adres | None:
    if not bag.bag_id(nummeraanduiding_id):
        return None
    expand = bag.adres_expand(selected_paths(info))
    found = await unless_absent(bag.adres(info.context, nummeraanduiding_id, expand), None)
    return Adres.from_api(found) if found else None


def start_bewoners(info: Info[Context, None], adresseerbaar_object_id: str | None) -> None:
    """Start ``Adres.bewoners`` from the dwelling id a BRP person's verblijfplaats already names, together with
    the BAG call for the address rather than after it; the field then finds the answer in the request's BRP
    loader. Only when the caller may see that field."""
    if not adresseerbaar_object_id or only_child(info, "bewoners") is None:
        return
    if not may_resolve(info.context, Adres, "bewoners"):
        return
    ctx, fields = info.context, brp.brp_fields(children(selected_paths(info), "bewoners"))
    ctx.start(("bewoners", adresseerbaar_object_id, fields), lambda: brp.bewoners(ctx, adresseerbaar_object_id, fields))


async def adres_for_link(info: Info[Context, None], url: str | None, identificatie: str | None) -> Adres | None:
    """A ZGW zaakobject's address: by its BAG URL when it has one, else by the snapshot's identification."""
    if url and "bag" in info.context.sources and info.context.sources["bag"].owns(url):
        last = url.rstrip("/").rsplit("/", 1)[-1]
        if "/adressen/" in url or "/nummeraanduidingen/" in url:
            return await adres_for(info, last)
    return await adres_for(info, identificatie) if identificatie else None


async def adresseerbaar_object_for(info: Info[Context, None], identificatie: str) -> AdresseerbaarObject | None:
    if not bag.bag_id(identificatie):
        return None
    kind, fields = await bag.adresseerbaar_object(info.context, identificatie)
    return AdresseerbaarObject.from_api(identificatie, kind, fields) if fields else None


@strawberry.type
class BagQuery:
    @strawberry.field(
        description="One address, by its BAG nummeraanduiding id (16 digits).",
        extensions=requires("bag:lezen"),
    )
    async def adres(self, info: Info[Context, None], nummeraanduiding_identificatie: str) -> Adres | None:
        if not valid_bag_id(nummeraanduiding_identificatie, "nummeraanduiding"):
            raise BadRequest("'nummeraanduidingIdentificatie' must be a nummeraanduiding id: 16 digits, type code 20.")
        return await adres_for(info, nummeraanduiding_identificatie)

    @strawberry.field(
        description="Addresses by postcode and house number (and letter/addition to narrow down).",
        extensions=requires("bag:lezen"),
    )
    async def adressen(
        self,
        info: Info[Context, None],
        postcode: str,
        huisnummer: int,
        huisletter: str | None = None,
        huisnummertoevoeging: str | None = None,
    ) -> list[Adres] | None:
        normalized = postcode.replace(" ", "").upper()
        if len(normalized) != 6 or not normalized[:4].isdigit() or not normalized[4:].isalpha():
            raise BadRequest("'postcode' must look like 1234AB.")
        if not 1 <= huisnummer <= 99999:
            raise BadRequest("'huisnummer' must be between 1 and 99999.")
        found = await bag.adressen(
            info.context,
            normalized,
            huisnummer,
            huisletter,
            huisnummertoevoeging,
            bag.adres_expand(selected_paths(info)),
        )
        return [Adres.from_api(a) for a in found]
