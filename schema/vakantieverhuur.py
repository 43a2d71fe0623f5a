"""Holiday-rental registrations from the national register (LVV), by number, person or address.

LVV has no lookup by address, so the registrations at an address are those of its residents (BRP) whose
rental house is that address. A registration item carries no BSN, so its requester is known as a BRP
person only when it was reached through that person's BSN.
"""

from __future__ import annotations

import asyncio
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
from graph.selection import selected_paths
from graph.tolerant import mapping, text
from resolvers import bag, brp
from resolvers import vakantieverhuur as lvv
from schema.scalars import Date, DateTime

if TYPE_CHECKING:
    from schema.bag import Adres
    from schema.brp import Persoon

LVV_ZONE = ZoneInfo("Europe/Amsterdam")  # LVV writes local times without an offset


def _moment(value: Any) -> Any:
    """An LVV local timestamp as an ISO moment with the Dutch offset; unreadable values stay as they are,
    so the DateTime scalar fails only that field."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return (moment if moment.tzinfo else moment.replace(tzinfo=LVV_ZONE)).isoformat()


@strawberry.type(description="The address of the rented house, as registered in the LVV.")
class VakantieverhuurAdres:
    straat: str | None = strawberry.field(description="Street name.")
    huisnummer: int | None = strawberry.field(description="House number.")
    huisletter: str | None = strawberry.field(description="House letter.")
    huisnummertoevoeging: str | None = strawberry.field(description="House number addition.")
    postcode: str | None = strawberry.field(description="Postal code, 1234AB.")
    woonplaats: str | None = strawberry.field(description="Place.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> VakantieverhuurAdres | None:
        if not d:
            return None
        postcode = text(d.get("postalCode"))
        return cls(
            straat=text(d.get("street")),
            huisnummer=lvv.house_number(d.get("houseNumber")),
            huisletter=text(d.get("houseLetter")),
            huisnummertoevoeging=text(d.get("houseNumberExtension")),
            postcode="".join(postcode.split()).upper() if postcode else None,
            woonplaats=text(d.get("city")),
        )


@strawberry.type(description="Who registered, as the LVV records it (contact details are left out).")
class VakantieverhuurAanvrager:
    persoon_type: str | None = strawberry.field(description="NaturalPerson or a company type, as LVV names it.")
    voornaam: str | None = strawberry.field(description="First name.")
    voorvoegsel: str | None = strawberry.field(description="Prefix of the surname.")
    achternaam: str | None = strawberry.field(description="Surname.")
    bedrijfsnaam: str | None = strawberry.field(description="Company name, for a registration by a company.")
    kvk_nummer: str | None = strawberry.field(description="Chamber of Commerce number, for a company.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> VakantieverhuurAanvrager | None:
        if not d:
            return None
        details = mapping(d.get("personalDetails"))
        return cls(
            persoon_type=text(d.get("personType")),
            voornaam=text(details.get("firstName")),
            voorvoegsel=text(details.get("lastNamePrefix")),
            achternaam=text(details.get("lastName")),
            bedrijfsnaam=text(d.get("companyName")),
            kvk_nummer=text(d.get("kvK")),
        )


@strawberry.type(description="A holiday-rental registration in the national register (LVV).")
class VakantieverhuurRegistratie:
    registratienummer: str = strawberry.field(description="Registration number, in groups of four as LVV writes it.")
    aangemaakt_op: DateTime | None = strawberry.field(description="When the registration was made.")
    overeenkomst_datum: Date | None = strawberry.field(description="Date the requester agreed to the terms.")
    voor_een_ander: bool | None = strawberry.field(description="Whether it was registered on someone else's behalf.")
    adres: VakantieverhuurAdres | None = strawberry.field(description="The rented house, as registered.")
    aanvrager_gegevens: VakantieverhuurAanvrager | None = strawberry.field(
        description="The requester as LVV records them (name only)."
    )
    _bsn: strawberry.Private[str | None]

    @strawberry.field(
        description="The rented house in the BAG (exact match on postcode, number, letter, addition).",
        extensions=requires("bag:lezen", citizen=True),
    )
    async def bag_adres(self, info: Info[Context, None]) -> Annotated[Adres, strawberry.lazy("schema.bag")] | None:
        a = self.adres
        if a is None or not a.postcode or a.huisnummer is None:
            return None
        from schema.bag import Adres

        found = await bag.adressen(
            info.context,
            a.postcode,
            a.huisnummer,
            a.huisletter,
            a.huisnummertoevoeging,
            bag.adres_expand(selected_paths(info)),
        )
        for candidate in found:
            if lvv.same_house(
                {
                    "postalCode": candidate.get("postcode"),
                    "houseNumber": candidate.get("huisnummer"),
                    "houseLetter": candidate.get("huisletter"),
                    "houseNumberExtension": candidate.get("huisnummertoevoeging"),
                },
                a.postcode,
                a.huisnummer,
                a.huisletter,
                a.huisnummertoevoeging,
            ):
                return Adres.from_api(candidate)
        return None

    @strawberry.field(
        description="The requester as a BRP person; known only when the registration was found "
        "through that person's BSN (an LVV item carries no BSN).",
        extensions=requires("brp:lezen", citizen=True),
    )
    async def aanvrager(self, info: Info[Context, None]) -> Annotated[Persoon, strawberry.lazy("schema.brp")] | None:
        if not self._bsn:
            return None
        from schema.brp import persoon_for

        return await persoon_for(info, self._bsn)

    @classmethod
    def from_api(cls, d: Mapping[str, Any], bsn: str | None = None) -> VakantieverhuurRegistratie:
        number = text(d.get("registrationNumber")) or ""
        request_for_other = d.get("requestForOther")
        return cls(
            registratienummer=number,
            aangemaakt_op=_moment(d.get("createdAt")),
            overeenkomst_datum=_moment(d.get("agreementDate")),
            voor_een_ander=request_for_other if isinstance(request_for_other, bool) else None,
            adres=VakantieverhuurAdres.from_api(mapping(d.get("rentalHouse"))),
            aanvrager_gegevens=VakantieverhuurAanvrager.from_api(mapping(d.get("requester"))),
            _bsn=bsn,
        )


async def registraties_for_bsn(info: Info[Context, None], bsn: str) -> list[VakantieverhuurRegistratie]:
    """Registrations a person made (one LVV POST per distinct BSN per request)."""
    found = await lvv.registrations_for_bsn(info.context, bsn)
    return [VakantieverhuurRegistratie.from_api(r, bsn) for r in found]


async def registraties_at(info: Info[Context, None], adres: Adres) -> list[VakantieverhuurRegistratie]:
    """Registrations for an address: its residents' registrations whose rental house is this address."""
    if not adres.adresseerbaar_object_identificatie:
        return []
    ctx = info.context
    residents = await brp.bewoners(ctx, adres.adresseerbaar_object_identificatie, ("burgerservicenummer",))
    bsns = [p["burgerservicenummer"] for p in residents]
    per_bsn = await asyncio.gather(*(lvv.registrations_for_bsn(ctx, b) for b in bsns))
    result: dict[str, VakantieverhuurRegistratie] = {}
    for bsn, registrations in zip(bsns, per_bsn, strict=True):
        for r in registrations:
            number = lvv.compact(text(r.get("registrationNumber")) or "")
            if (
                number
                and number not in result
                and lvv.same_house(
                    mapping(r.get("rentalHouse")),
                    adres.postcode,
                    adres.huisnummer,
                    adres.huisletter,
                    adres.huisnummertoevoeging,
                )
            ):
                result[number] = VakantieverhuurRegistratie.from_api(r, bsn)
    return list(result.values())


@strawberry.type
class VakantieverhuurQuery:
    @strawberry.field(
        description="One LVV registration, by its registration number (with or without spaces).",
        extensions=requires("vakantieverhuur:lezen"),
    )
    async def vakantieverhuur_registratie(
        self, info: Info[Context, None], registratienummer: str
    ) -> VakantieverhuurRegistratie | None:
        if not lvv.valid_number(registratienummer):
            raise BadRequest("'registratienummer' must be letters and digits (spaces allowed), at most 64.")
        found = await lvv.registration(info.context, registratienummer)
        return VakantieverhuurRegistratie.from_api(found) if found else None

    @strawberry.field(
        description="Holiday-rental registrations a person made, by BSN.",
        extensions=requires("vakantieverhuur:lezen"),
    )
    async def vakantieverhuur_registraties(
        self, info: Info[Context, None], burgerservicenummer: str
    ) -> list[VakantieverhuurRegistratie] | None:
        if not valid_bsn(burgerservicenummer):
            raise BadRequest("'burgerservicenummer' must be a BSN: 9 digits that pass the eleven-test.")
        return await registraties_for_bsn(info, burgerservicenummer)
