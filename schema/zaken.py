"""Zaken (cases) with their catalogue types, statuses, roles, objects, documents and decisions."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Self

import strawberry
from strawberry.types import Info

from graph.authz import may_resolve, requires
from graph.context import Context
from graph.errors import BadRequest, SourceError
from graph.events import Event
from graph.expand import absorb
from graph.identifiers import valid_bsn
from graph.live import NOTIFICATIONS, SKIP, Skip, feed
from graph.paging import LARGEST_FIRST, Window, bounds, parse_page
from graph.response_cache import response_cached
from graph.selection import children, only_child, selected_paths
from graph.tolerant import integer, text, valid_uuid
from resolvers import zgw
from schema.relay import Connection, lazy_connection
from schema.scalars import Date, DateTime, lenient

if TYPE_CHECKING:
    from schema.bag import Adres
    from schema.brp import Persoon
    from schema.klantinteracties import Klantcontact
    from schema.objecten import Object

Raw = strawberry.Private[dict[str, Any]]
PERSONS = frozenset({"natuurlijk_persoon", "medewerker"})  # betrokkeneTypes whose roles name a person


@strawberry.type(description="A type in the Catalogi API that only names something.")
class CatalogiType:
    """Base of the Catalogi types that carry nothing but a name: each subclass is its own GraphQL type."""

    url: str = strawberry.field(description="URL in the Catalogi API; version-pinned, so stable.")
    omschrijving: str | None = strawberry.field(description="Its name.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Self:
        return cls(url=text(d.get("url")) or "", omschrijving=text(d.get("omschrijving")))


@strawberry.type(description="A version of a zaaktype in the Catalogi API: what kind of case this is.")
class ZaakType:
    url: str = strawberry.field(description="URL of this zaaktype version in the Catalogi API.")
    identificatie: str | None = strawberry.field(description="Identification, stable across versions.")
    omschrijving: str | None = strawberry.field(description="Name of the kind of case.")
    doel: str | None = strawberry.field(description="What cases of this type are for.")
    doorlooptijd: str | None = strawberry.field(description="Standard lead time, ISO 8601 duration (P56D).")
    concept: bool | None = strawberry.field(description="True while the type is not yet published.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ZaakType:
        return cls(
            url=text(d.get("url")) or "",
            identificatie=text(d.get("identificatie")),
            omschrijving=text(d.get("omschrijving")),
            doel=text(d.get("doel")),
            doorlooptijd=text(d.get("doorlooptijd")),
            concept=d.get("concept") if isinstance(d.get("concept"), bool) else None,
        )


@strawberry.type(description="A step a case of some zaaktype can be in.")
class StatusType:
    url: str = strawberry.field(description="URL in the Catalogi API.")
    omschrijving: str | None = strawberry.field(description="Name of the step.")
    volgnummer: int | None = strawberry.field(description="Position of the step within the zaaktype.")
    is_eindstatus: bool | None = strawberry.field(description="Whether reaching this step closes the case.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> StatusType:
        return cls(
            url=text(d.get("url")) or "",
            omschrijving=text(d.get("omschrijving")),
            volgnummer=integer(d.get("volgnummer")),
            is_eindstatus=d.get("isEindstatus") if isinstance(d.get("isEindstatus"), bool) else None,
        )


@strawberry.type(description="A status a case was given, at a moment.")
class Status:
    url: str = strawberry.field(description="URL in the Zaken API.")
    datum_status_gezet: DateTime | None = strawberry.field(description="When the case got this status.")
    statustoelichting: str | None = strawberry.field(description="Explanation given with the status.")
    _statustype: strawberry.Private[str | None]

    @strawberry.field(description="The kind of step (Catalogi).")
    async def statustype(self, info: Info[Context, None]) -> StatusType | None:
        found = await zgw.follow(info.context, self._statustype)
        return StatusType.from_api(found) if found else None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Status:
        return cls(
            url=text(d.get("url")) or "",
            datum_status_gezet=lenient(d.get("datumStatusGezet")),
            statustoelichting=text(d.get("statustoelichting")),
            _statustype=text(d.get("statustype")),
        )


@strawberry.type(description="The outcome of a closed case.")
class Resultaat:
    url: str = strawberry.field(description="URL in the Zaken API.")
    toelichting: str | None = strawberry.field(description="Explanation of the outcome.")
    _resultaattype: strawberry.Private[str | None]

    @strawberry.field(description="The kind of outcome (Catalogi), with its name.")
    async def resultaattype(self, info: Info[Context, None]) -> ResultaatType | None:
        found = await zgw.follow(info.context, self._resultaattype)
        return ResultaatType.from_api(found) if found else None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Resultaat:
        return cls(
            url=text(d.get("url")) or "",
            toelichting=text(d.get("toelichting")),
            _resultaattype=text(d.get("resultaattype")),
        )


@strawberry.type(description="A kind of outcome a case of some zaaktype can have.")
class ResultaatType(CatalogiType):
    pass


@strawberry.type(description="A kind of role someone can have in a case of some zaaktype.")
class RolType:
    url: str = strawberry.field(description="URL in the Catalogi API.")
    omschrijving: str | None = strawberry.field(description="Name of the role in this zaaktype.")
    omschrijving_generiek: str | None = strawberry.field(description="Generic role: initiator, behandelaar, ...")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> RolType:
        return cls(
            url=text(d.get("url")) or "",
            omschrijving=text(d.get("omschrijving")),
            omschrijving_generiek=text(d.get("omschrijvingGeneriek")),
        )


@strawberry.type(description="An employee involved in a case (betrokkeneType medewerker).")
class Medewerker:
    identificatie: str | None = strawberry.field(description="Employee identification.")
    achternaam: str | None = strawberry.field(description="Surname as recorded with the role.")
    voorletters: str | None = strawberry.field(description="Initials as recorded with the role.")


@strawberry.type(description="Someone's role in a case: a person, employee or organisation.")
class Rol:
    url: str = strawberry.field(description="URL in the Zaken API.")
    betrokkene_type: str | None = strawberry.field(
        description="natuurlijk_persoon, niet_natuurlijk_persoon, vestiging, organisatorische_eenheid or medewerker."
    )
    omschrijving_generiek: str | None = strawberry.field(description="initiator, behandelaar, belanghebbende, ...")
    roltoelichting: str | None = strawberry.field(description="Explanation of the role.")
    inp_bsn: str | None = strawberry.field(
        description="BSN of the person (natuurlijk_persoon), as recorded with the role."
    )
    medewerker: Medewerker | None = strawberry.field(description="The employee, for betrokkeneType medewerker.")
    _roltype: strawberry.Private[str | None]

    @strawberry.field(description="The kind of role (Catalogi).")
    async def roltype(self, info: Info[Context, None]) -> RolType | None:
        found = await zgw.follow(info.context, self._roltype)
        return RolType.from_api(found) if found else None

    @strawberry.field(
        description="The person behind the role, from the BRP (only for natuurlijk_persoon).",
        extensions=requires("brp:lezen", citizen=True),
    )
    async def persoon(self, info: Info[Context, None]) -> Annotated[Persoon, strawberry.lazy("schema.brp")] | None:
        if not self.inp_bsn:
            return None
        from schema.brp import persoon_for

        return await persoon_for(info, self.inp_bsn)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Rol:
        ident = d.get("betrokkeneIdentificatie")
        ident = ident if isinstance(ident, Mapping) else {}
        kind = text(d.get("betrokkeneType"))
        return cls(
            url=text(d.get("url")) or "",
            betrokkene_type=kind,
            omschrijving_generiek=text(d.get("omschrijvingGeneriek")),
            roltoelichting=text(d.get("roltoelichting")),
            inp_bsn=text(ident.get("inpBsn")) if kind == "natuurlijk_persoon" else None,
            medewerker=Medewerker(
                identificatie=text(ident.get("identificatie")),
                achternaam=text(ident.get("achternaam")),
                voorletters=text(ident.get("voorletters")),
            )
            if kind == "medewerker"
            else None,
            _roltype=text(d.get("roltype")),
        )


@strawberry.type(description="Something a case is about: an address, a building or an object in the Objects API.")
class ZaakObject:
    url: str = strawberry.field(description="URL in the Zaken API.")
    object_type: str | None = strawberry.field(description="adres, pand, overige, ...")
    object_type_overige: str | None = strawberry.field(description="Kind of object when objectType is overige.")
    object_url: str | None = strawberry.field(description="URL of the object at its own source.")
    _identificatie: strawberry.Private[str | None]

    @strawberry.field(
        description="The BAG address, for objectType adres.",
        extensions=requires("bag:lezen", citizen=True),
    )
    async def adres(self, info: Info[Context, None]) -> Annotated[Adres, strawberry.lazy("schema.bag")] | None:
        from schema.bag import adres_for_link

        return await adres_for_link(info, self.object_url, self._identificatie)

    @strawberry.field(
        description="The object in the Objects API, for objectType overige.",
        extensions=requires("objecten:lezen"),
    )
    async def object(self, info: Info[Context, None]) -> Annotated[Object, strawberry.lazy("schema.objecten")] | None:
        if (
            not self.object_url
            or "objecten" not in info.context.sources
            or not info.context.sources["objecten"].owns(self.object_url)
        ):
            return None
        from schema.objecten import object_for_url

        return await object_for_url(info, self.object_url)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ZaakObject:
        ident = d.get("objectIdentificatie")
        ident = ident if isinstance(ident, Mapping) else {}
        return cls(
            url=text(d.get("url")) or "",
            object_type=text(d.get("objectType")),
            object_type_overige=text(d.get("objectTypeOverige")),
            object_url=text(d.get("object")),
            _identificatie=text(ident.get("identificatie")),
        )


@strawberry.type(description="A property of a case, such as a permit's address or a requested amount.")
class ZaakEigenschap:
    url: str = strawberry.field(description="URL in the Zaken API.")
    naam: str | None = strawberry.field(description="Name of the property.")
    waarde: str | None = strawberry.field(description="Its value, as text.")
    _eigenschap: strawberry.Private[str | None]

    @strawberry.field(description="What the property means, from the zaaktype in the Catalogi API.")
    async def eigenschap(self, info: Info[Context, None]) -> Eigenschap | None:
        found = await zgw.follow(info.context, self._eigenschap)
        return Eigenschap.from_api(found) if found else None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ZaakEigenschap:
        return cls(
            url=text(d.get("url")) or "",
            naam=text(d.get("naam")),
            waarde=text(d.get("waarde")),
            _eigenschap=text(d.get("eigenschap")),
        )


@strawberry.type(description="A property a zaaktype defines (Catalogi eigenschap).")
class Eigenschap:
    url: str = strawberry.field(description="URL in the Catalogi API.")
    naam: str | None = strawberry.field(description="Name of the property.")
    definitie: str | None = strawberry.field(description="What it means.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Eigenschap:
        return cls(url=text(d.get("url")) or "", naam=text(d.get("naam")), definitie=text(d.get("definitie")))


@strawberry.type(description="A kind of document (Catalogi informatieobjecttype).")
class InformatieObjectType(CatalogiType):
    pass


@strawberry.type(description="A document in the Documenten API (enkelvoudig informatieobject).")
class Document:
    url: str = strawberry.field(description="URL in the Documenten API.")
    identificatie: str | None = strawberry.field(description="Document number.")
    titel: str | None = strawberry.field(description="Title.")
    creatiedatum: Date | None = strawberry.field(description="Date the document was made.")
    bestandsnaam: str | None = strawberry.field(description="File name.")
    formaat: str | None = strawberry.field(description="Media type of the content.")
    bestandsomvang: int | None = strawberry.field(description="Size of the content in bytes.")
    auteur: str | None = strawberry.field(description="Author.")
    vertrouwelijkheidaanduiding: str | None = strawberry.field(description="Confidentiality level.")
    inhoud_url: str | None = strawberry.field(description="Where the content can be downloaded (at the source).")
    _informatieobjecttype: strawberry.Private[str | None]

    @strawberry.field(description="The kind of document (Catalogi).")
    async def informatieobjecttype(self, info: Info[Context, None]) -> InformatieObjectType | None:
        found = await zgw.follow(info.context, self._informatieobjecttype)
        return InformatieObjectType.from_api(found) if found else None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Document:
        return cls(
            url=text(d.get("url")) or "",
            identificatie=text(d.get("identificatie")),
            titel=text(d.get("titel")),
            creatiedatum=lenient(d.get("creatiedatum")),
            bestandsnaam=text(d.get("bestandsnaam")),
            formaat=text(d.get("formaat")),
            bestandsomvang=integer(d.get("bestandsomvang")),
            auteur=text(d.get("auteur")),
            vertrouwelijkheidaanduiding=text(d.get("vertrouwelijkheidaanduiding")),
            inhoud_url=text(d.get("inhoud")),
            _informatieobjecttype=text(d.get("informatieobjecttype")),
        )


@strawberry.type(description="A kind of decision (Catalogi besluittype).")
class BesluitType(CatalogiType):
    pass


@strawberry.type(description="A decision in the Besluiten API.")
class Besluit:
    url: str = strawberry.field(description="URL in the Besluiten API.")
    identificatie: str | None = strawberry.field(description="Decision number.")
    datum: Date | None = strawberry.field(description="Date of the decision.")
    ingangsdatum: Date | None = strawberry.field(description="Date it takes effect.")
    toelichting: str | None = strawberry.field(description="Explanation.")
    _besluittype: strawberry.Private[str | None]
    _zaak: strawberry.Private[str | None]

    @strawberry.field(description="The kind of decision (Catalogi).")
    async def besluittype(self, info: Info[Context, None]) -> BesluitType | None:
        found = await zgw.follow(info.context, self._besluittype)
        return BesluitType.from_api(found) if found else None

    @strawberry.field(description="The case this decision was taken in.", extensions=requires("zaken:lezen"))
    async def zaak(self, info: Info[Context, None]) -> Zaak | None:
        if not self._zaak:
            return None
        found = await zgw.zaak_by_url(info.context, self._zaak, zgw.expand_for(selected_paths(info)))
        return Zaak.from_api(found) if found else None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Besluit:
        return cls(
            url=text(d.get("url")) or "",
            identificatie=text(d.get("identificatie")),
            datum=lenient(d.get("datum")),
            ingangsdatum=lenient(d.get("ingangsdatum")),
            toelichting=text(d.get("toelichting")),
            _besluittype=text(d.get("besluittype")),
            _zaak=text(d.get("zaak")),
        )


@strawberry.type(description="A case (zaak) in the Zaken API, with everything linked to it on demand.")
class Zaak:
    url: str = strawberry.field(description="URL of the zaak in the Zaken API; its identity everywhere.")
    uuid: strawberry.ID = strawberry.field(description="UUID of the zaak.")
    identificatie: str | None = strawberry.field(description="Case number, unique per bronorganisatie.")
    bronorganisatie: str | None = strawberry.field(description="RSIN of the organisation that created the case.")
    omschrijving: str | None = strawberry.field(description="Short description.")
    toelichting: str | None = strawberry.field(description="Explanation.")
    registratiedatum: Date | None = strawberry.field(description="Date the case was registered.")
    startdatum: Date | None = strawberry.field(description="Date work on the case started.")
    einddatum: Date | None = strawberry.field(description="Date the case was closed; null while open.")
    einddatum_gepland: Date | None = strawberry.field(description="Planned closing date.")
    vertrouwelijkheidaanduiding: str | None = strawberry.field(description="Confidentiality level.")
    _raw: Raw

    @strawberry.field(description="The kind of case (Catalogi zaaktype).")
    async def zaaktype(self, info: Info[Context, None]) -> ZaakType | None:
        found = await zgw.follow(info.context, self._raw.get("zaaktype"))
        return ZaakType.from_api(found) if found else None

    @strawberry.field(description="The current status.")
    async def status(self, info: Info[Context, None]) -> Status | None:
        found = await zgw.follow(info.context, self._raw.get("status"))
        return Status.from_api(found) if found else None

    @strawberry.field(description="Every status the case had, oldest first.")
    async def statussen(self, info: Info[Context, None]) -> list[Status] | None:
        rows = await zgw.statussen_of(info.context, self._raw)
        return sorted((Status.from_api(r) for r in rows), key=lambda s: str(s.datum_status_gezet or ""))

    @strawberry.field(description="The outcome, once the case is closed.")
    async def resultaat(self, info: Info[Context, None]) -> Resultaat | None:
        found = await zgw.follow(info.context, self._raw.get("resultaat"))
        return Resultaat.from_api(found) if found else None

    @strawberry.field(description="Who is involved, and how.")
    async def rollen(self, info: Info[Context, None]) -> list[Rol] | None:
        rollen = [Rol.from_api(r) for r in await zgw.children_of(info.context, self._raw, "rollen", "/rollen")]
        own = info.context.caller.bsn
        if own is None:
            return rollen
        # A citizen sees their own roles and those of organisations, never other persons or employees.
        return [r for r in rollen if r.betrokkene_type not in PERSONS or r.inp_bsn == own]

    @strawberry.field(description="What the case is about: addresses, buildings, objects.")
    async def zaakobjecten(self, info: Info[Context, None]) -> list[ZaakObject] | None:
        rows = await zgw.children_of(info.context, self._raw, "zaakobjecten", "/zaakobjecten")
        return [ZaakObject.from_api(r) for r in rows]

    @strawberry.field(description="Properties of the case (zaakeigenschappen).")
    async def eigenschappen(self, info: Info[Context, None]) -> list[ZaakEigenschap] | None:
        return [ZaakEigenschap.from_api(e) for e in await zgw.eigenschappen_of(info.context, self._raw)]

    @strawberry.field(description="Documents of the case (Documenten API).")
    async def documenten(self, info: Info[Context, None]) -> list[Document] | None:
        return [Document.from_api(d) for d in await zgw.documenten_of(info.context, self._raw)]

    @strawberry.field(description="Decisions taken in the case (Besluiten API).")
    async def besluiten(self, info: Info[Context, None]) -> list[Besluit] | None:
        return [Besluit.from_api(b) for b in await zgw.besluiten_of(info.context, self._raw)]

    @strawberry.field(
        description="Contacts with citizens about this case (Open Klant).",
        extensions=requires("klantinteracties:lezen"),
    )
    async def klantcontacten(
        self, info: Info[Context, None]
    ) -> list[Annotated[Klantcontact, strawberry.lazy("schema.klantinteracties")]] | None:
        from schema.klantinteracties import klantcontacten_over_zaak

        return await klantcontacten_over_zaak(info, str(self.uuid))

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Zaak:
        return cls(
            url=text(d.get("url")) or "",
            uuid=strawberry.ID(str(d.get("uuid", ""))),
            identificatie=text(d.get("identificatie")),
            bronorganisatie=text(d.get("bronorganisatie")),
            omschrijving=text(d.get("omschrijving")),
            toelichting=text(d.get("toelichting")),
            registratiedatum=lenient(d.get("registratiedatum")),
            startdatum=lenient(d.get("startdatum")),
            einddatum=lenient(d.get("einddatum")),
            einddatum_gepland=lenient(d.get("einddatumGepland")),
            vertrouwelijkheidaanduiding=text(d.get("vertrouwelijkheidaanduiding")),
            _raw=dict(d),
        )


STATUS_FILTERS = {"open": True, "afgesloten": False}


async def zaken_connection(
    info: Info[Context, None], first: int | None, after: str | None, filters: list[tuple[str, str]]
) -> Connection[Zaak]:
    bounds(first, after, LARGEST_FIRST)  # bad paging is the caller's error, reported on the field itself
    paths, ctx = selected_paths(info), info.context
    return lazy_connection(lambda: asyncio.shield(_zaken_window(ctx, first, after, filters, paths)), Zaak.from_api)


def _zaken_window(
    ctx: Context, first: int | None, after: str | None, filters: list[tuple[str, str]], paths: frozenset[str]
) -> asyncio.Task[Window]:
    """One window per request for one question, so a parent that started it (``start_zaken_for_bsn``) and the
    connection that reads it share one call."""
    expand = zgw.expand_for(zgw.zaak_selection(paths, "nodes", "edges.node"))
    key = ("zaken", first, after, tuple(filters), tuple(expand))
    return ctx.start(key, lambda: zgw.zaken_window(ctx, first, after, filters, expand))


@strawberry.type
class ZakenQuery:
    @strawberry.field(
        description="One zaak, by its URL in the Zaken API or by its UUID.",
        extensions=requires("zaken:lezen"),
    )
    async def zaak(
        self, info: Info[Context, None], url: str | None = None, uuid: strawberry.ID | None = None
    ) -> Zaak | None:
        if (url is None) == (uuid is None):
            raise BadRequest("Give exactly one of 'url' and 'uuid'.")
        if uuid is not None and not valid_uuid(str(uuid)):
            raise BadRequest("'uuid' must be a UUID.")
        expand = zgw.expand_for(selected_paths(info))
        found = (
            await zgw.zaak_by_url(info.context, url, expand)
            if url is not None
            else await zgw.zaak_by_uuid(info.context, str(uuid), expand)
        )
        return Zaak.from_api(found) if found else None

    @strawberry.field(
        description="Zaken, newest first as the source orders them, optionally filtered.",
        extensions=requires("zaken:lezen"),
    )
    async def zaken(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="Page size, at most 500 (several source pages if need be).")
        ] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        bsn: Annotated[
            str | None, strawberry.argument(description="Only zaken in which this person (BSN) has a role.")
        ] = None,
        zaaktype: Annotated[str | None, strawberry.argument(description="Only zaken of this zaaktype URL.")] = None,
        status: Annotated[
            str | None, strawberry.argument(description="'open' (no einddatum yet) or 'afgesloten' (closed).")
        ] = None,
        identificatie: Annotated[str | None, strawberry.argument(description="Only the zaak with this number.")] = None,
    ) -> Connection[Zaak] | None:
        if status is not None and status not in STATUS_FILTERS:
            raise BadRequest("'status' must be 'open' or 'afgesloten'.")
        if bsn is not None and not valid_bsn(bsn):
            raise BadRequest("'bsn' must be a BSN: 9 digits that pass the eleven-test.")
        filters = zgw.zaak_filters(bsn, zaaktype_url(zaaktype), STATUS_FILTERS.get(status or ""), identificatie)
        return await zaken_connection(info, first, after, filters)


async def zaken_for_bsn(info: Info[Context, None], bsn: str, first: int | None, after: str | None) -> Connection[Zaak]:
    """Reverse link Persoon -> zaken in which the person has a role."""
    return await zaken_connection(info, first, after, zgw.zaak_filters(bsn, None, None, None))


def start_zaken_for_bsn(info: Info[Context, None], owner: type, bsn: str) -> None:
    """Start ``owner.zaken`` for a BSN the parent already knows (``persoon(burgerservicenummer:)``), together
    with the parent's own BRP call rather than after it: one sequential round trip less. Only when the caller
    may see that field and it is selected once with valid paging."""
    arguments = only_child(info, "zaken")
    if arguments is None or not may_resolve(info.context, owner, "zaken"):
        return
    first, after = arguments.get("first"), arguments.get("after")
    try:
        bounds(first, after, LARGEST_FIRST)
    except BadRequest:
        return  # the field itself says so when it runs
    paths = children(selected_paths(info), "zaken")
    _zaken_window(info.context, first, after, zgw.zaak_filters(bsn, None, None, None), paths)


async def zaak_for_uuid(info: Info[Context, None], uuid: str) -> Zaak | None:
    """Used by sources that name a zaak by UUID only (Open Klant onderwerpobjecten)."""
    found = await zgw.zaak_by_uuid(info.context, uuid, zgw.expand_for(selected_paths(info)))
    return Zaak.from_api(found) if found else None


async def zaak_for_url(info: Info[Context, None], url: str) -> Zaak | None:
    """Used by sources that link a zaak by URL (Objecten references, besluiten)."""
    found = await zgw.zaak_by_url(info.context, url, zgw.expand_for(selected_paths(info)))
    return Zaak.from_api(found) if found else None


@strawberry.enum(description="What zaken can be grouped by in zakenStatistiek.")
class ZaakDimensie(enum.Enum):
    ZAAKTYPE = "zaaktype"
    STATUS = "status"
    OPEN = "open"


@strawberry.type(
    description="One group of zaken and its numbers; only the grouped-by fields are set, and the zaaktype also "
    "when grouped by STATUS (a statustype belongs to one zaaktype: 'Ontvangen' of two zaaktypen is two groups)."
)
class ZaakGroep:
    zaaktype_url: str | None = strawberry.field(description="Zaaktype URL (when grouped by ZAAKTYPE or STATUS).")
    statustype_url: str | None = strawberry.field(description="Current statustype URL (when grouped by STATUS).")
    open: bool | None = strawberry.field(description="True for open zaken (when grouped by OPEN).")
    aantal: int = strawberry.field(description="Number of zaken in the group.")
    gemiddelde_doorlooptijd_dagen: float | None = strawberry.field(
        description="Average days from startdatum to einddatum over the group's closed zaken."
    )

    @strawberry.field(description="Zaaktype omschrijving (grouped by ZAAKTYPE or STATUS), from the Catalogi API.")
    async def zaaktype(self, info: Info[Context, None]) -> str | None:
        found = await zgw.follow(info.context, self.zaaktype_url)
        return text(found.get("omschrijving")) if found else None

    @strawberry.field(description="Current statustype omschrijving (when grouped by STATUS).")
    async def status(self, info: Info[Context, None]) -> str | None:
        found = await zgw.follow(info.context, self.statustype_url)
        return text(found.get("omschrijving")) if found else None


@strawberry.type(description="Counts of zaken, for dashboards.")
class ZaakStatistiek:
    totaal: int = strawberry.field(description="Number of zaken counted.")
    groepen: list[ZaakGroep] = strawberry.field(description="The groups, largest first.")


def zaaktype_url(value: str | None) -> str | None:
    """A zaaktype filter is a URL (the source would refuse anything else): say so before asking it."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise BadRequest("'zaaktype' must be the URL of a zaaktype.")
    return value


@strawberry.type
class ZakenStatistiekQuery:
    @strawberry.field(
        description="Zaken counted per zaaktype, current status and/or open/closed, with lead times.",
        extensions=requires("zaken:statistiek"),
        metadata=response_cached(ttl_s=300),  # a scan of up to 45 pages: dashboards share one every 5 minutes
    )
    async def zaken_statistiek(
        self,
        info: Info[Context, None],
        groepeer_op: list[ZaakDimensie],
        vanaf: Annotated[Date | None, strawberry.argument(description="Only zaken started on or after.")] = None,
        tot: Annotated[Date | None, strawberry.argument(description="Only zaken started before.")] = None,
        zaaktype: Annotated[str | None, strawberry.argument(description="Only this zaaktype URL.")] = None,
    ) -> ZaakStatistiek | None:
        paths = selected_paths(info)
        return await zaken_statistiek_of(
            info.context, groepeer_op, vanaf, tot, zaaktype, names="groepen.zaaktype" in paths,
            lead_times="groepen.gemiddeldeDoorlooptijdDagen" in paths,
        )


async def zaken_statistiek_of(
    ctx: Context, groepeer_op: list[ZaakDimensie], vanaf: Any, tot: Any, zaaktype: str | None, names: bool,
    lead_times: bool = True,
) -> ZaakStatistiek:
    """``zakenStatistiek`` from one Zaken source (the context's); ``names``: the zaaktype names will be asked,
    so the zaaktypen are fetched together with the scan; ``lead_times``: the averages are asked, which only
    reading every closed zaak gives (else groups by zaaktype and open/closed may be counted instead)."""
    if vanaf and tot and str(tot) <= str(vanaf):
        raise BadRequest("'tot' must be after 'vanaf'.")
    dims = list(dict.fromkeys(groepeer_op))
    # a status is a step of one zaaktype: its groups carry that zaaktype, and zaken without a status are
    # split per zaaktype too, so no group mixes zaaktypen under one status name
    keys = [*dims, ZaakDimensie.ZAAKTYPE] if ZaakDimensie.STATUS in dims and ZaakDimensie.ZAAKTYPE not in dims \
        else dims
    filters = zgw.zaak_filters(None, zaaktype_url(zaaktype), None, None)
    if vanaf:
        filters.append(("startdatum__gte", str(vanaf)))
    if tot:
        filters.append(("startdatum__lt", str(tot)))
    if not lead_times and ZaakDimensie.STATUS not in dims:
        counted = await _counted(ctx, dims, filters, zaaktype_url(zaaktype))
        if counted is not None:
            return counted
    expand = ["status"] if ZaakDimensie.STATUS in dims else []  # the statustype names: one call per distinct
    scan = zgw.scan_zaken(ctx, filters, expand)
    if ZaakDimensie.ZAAKTYPE in dims or names:
        rows, _ = await asyncio.gather(scan, zgw.prime_zaaktypen(ctx))
    else:
        rows = await scan
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for zaak in rows:
        key = tuple(_dimension(zaak, d) for d in keys)
        groups.setdefault(key, []).append(zaak)
    result = []
    for key, members in groups.items():
        values = dict(zip(keys, key, strict=True))
        days = [d for z in members if (d := zgw.doorlooptijd_dagen(z)) is not None]
        result.append(
            ZaakGroep(
                zaaktype_url=values.get(ZaakDimensie.ZAAKTYPE),
                statustype_url=values.get(ZaakDimensie.STATUS),
                open=values.get(ZaakDimensie.OPEN),
                aantal=len(members),
                gemiddelde_doorlooptijd_dagen=round(sum(days) / len(days), 1) if days else None,
            )
        )
    result.sort(key=lambda g: (-g.aantal, g.zaaktype_url or "", g.statustype_url or "", str(g.open)))
    return ZaakStatistiek(totaal=len(rows), groepen=result)


async def _counted(
    ctx: Context, dims: list[ZaakDimensie], filters: list[tuple[str, str]], zaaktype: str | None
) -> ZaakStatistiek | None:
    """Groups by zaaktype and open/closed counted with one one-item page each (``zgw.counted_groups``) when
    that reads less than a scan; None: scan instead. The zaaktypen come from the catalogue's list, which also
    names the groups without further calls."""
    by_type = ZaakDimensie.ZAAKTYPE in dims
    types: list[str | None] = [zaaktype]
    if by_type and zaaktype is None:
        try:
            types = list(await zgw.zaaktype_urls(ctx))
        except SourceError:
            return None  # without the catalogue the groups are unknown; the scan still counts, unnamed
    opens: list[bool | None] = [True, False] if ZaakDimensie.OPEN in dims else [None]
    combos = [(t, o) for t in types for o in opens]
    extra = [
        [*([("zaaktype", t)] if t and zaaktype is None else []),
         *([("einddatum__isnull", "true" if o else "false")] if o is not None else [])]
        for t, o in combos
    ]
    counts = await zgw.counted_groups(ctx, filters, extra)
    if counts is None:
        return None
    result = [
        ZaakGroep(zaaktype_url=t if by_type else None, statustype_url=None, open=o, aantal=n,
                  gemiddelde_doorlooptijd_dagen=None)
        for (t, o), n in zip(combos, counts, strict=True)
        if n > 0
    ]
    result.sort(key=lambda g: (-g.aantal, g.zaaktype_url or "", g.statustype_url or "", str(g.open)))
    return ZaakStatistiek(totaal=sum(counts), groepen=result)


def _dimension(zaak: Mapping[str, Any], dim: ZaakDimensie) -> Any:
    if dim is ZaakDimensie.ZAAKTYPE:
        return text(zaak.get("zaaktype"))
    if dim is ZaakDimensie.STATUS:
        return zgw.current_statustype(zaak)
    return zaak.get("einddatum") in (None, "")


# -- live updates (graph.live): every ZGW notification about a zaak is an event -------------------------------

KANAAL = "zaken"  # the Notificaties kanaal Zaken APIs publish every change of a zaak (and its parts) on


def _same(ctx: Context, source: str, a: str | None, b: str | None) -> bool:
    """Two links to one object, public URL or configured one alike."""
    if a is None or b is None:
        return False
    if source in ctx.sources:
        owner = ctx.sources[source]
        a, b = owner.internal_url(a) or a, owner.internal_url(b) or b
    return a.rstrip("/") == b.rstrip("/")


async def zaak_matching(
    ctx: Context, uuid: str, filters: list[tuple[str, str]], expand: list[str]
) -> dict[str, Any] | None:
    """The zaak if it matches ``filters``: one ``_zoek`` that filters and fetches at once (a BSN stays in the
    body, out of URLs and logs)."""
    zgw.own_zaken_only(ctx, filters)
    body: dict[str, Any] = {"uuid__in": [uuid], **dict(filters)}
    answer = await zgw.zoek(ctx, await zgw.zaken_forms(ctx), body, expand, [("page", "1")])
    for zaak in parse_page(answer, zgw.ZAKEN).items:
        if isinstance(zaak, Mapping) and isinstance(zaak.get("url"), str):
            absorb(ctx, zaak)
            return dict(zaak)
    return None


@strawberry.type
class ZakenSubscription:
    @strawberry.subscription(
        description="The zaak again each time the Zaken API notifies a change to it or its parts (status, roles, "
        "documents, ...), resolved afresh from the sources; null once it is deleted.",
        extensions=requires("zaken:lezen"),
    )
    def zaak_gewijzigd(
        self,
        info: Info[Context, None],
        url: Annotated[str, strawberry.argument(description="URL of the zaak in the Zaken API.")],
    ) -> AsyncGenerator[Zaak | None, None]:
        if zgw.ZAKEN not in info.context.sources:
            raise BadRequest("No Zaken API is configured.")
        wanted = info.context.sources[zgw.ZAKEN].internal_url(url.strip())
        if wanted is None or not valid_uuid(zgw.uuid_of(wanted)):
            raise BadRequest("'url' must be the URL of a zaak in the Zaken API.")
        expand = zgw.expand_for(selected_paths(info))

        def about(event: Event) -> bool:
            return event.get("kanaal") == KANAAL and _same(info.context, zgw.ZAKEN, event.get("hoofdObject"), wanted)

        async def resolve(ctx: Context, event: Event) -> Zaak | None:
            found = await zgw.zaak_by_url(ctx, wanted, expand)
            return Zaak.from_api(found) if found else None

        return feed(info, NOTIFICATIONS, resolve, about, key=lambda event: wanted)

    @strawberry.subscription(
        description="Each zaak that changes (any notification about it or its parts), if it is of the zaaktype "
        "and/or has a role for the person (BSN) given; resolved afresh from the sources. The BSN is only ever sent "
        "in a search body, never in a URL.",
        extensions=requires("zaken:lezen"),
    )
    def zaken_gewijzigd(
        self,
        info: Info[Context, None],
        zaaktype: Annotated[str | None, strawberry.argument(description="Only zaken of this zaaktype URL.")] = None,
        bsn: Annotated[
            str | None, strawberry.argument(description="Only zaken in which this person (BSN) has a role.")
        ] = None,
    ) -> AsyncGenerator[Zaak | None, None]:
        if bsn is not None and not valid_bsn(bsn):
            raise BadRequest("'bsn' must be a BSN: 9 digits that pass the eleven-test.")
        if zgw.ZAKEN not in info.context.sources:
            raise BadRequest("No Zaken API is configured.")
        filters = zgw.zaak_filters(bsn, zaaktype_url(zaaktype), None, None)
        expand = zgw.expand_for(selected_paths(info))
        source = info.context.sources[zgw.ZAKEN]

        def about(event: Event) -> bool:
            if event.get("kanaal") != KANAAL or source.internal_url(event.get("hoofdObject", "")) is None:
                return False
            told = event.get("kenmerken.zaaktype")  # when the message names its zaaktype, no call for others
            return zaaktype is None or told is None or _same(info.context, zgw.CATALOGI, told, zaaktype)

        async def resolve(ctx: Context, event: Event) -> Zaak | Skip:
            uuid = zgw.uuid_of(source.internal_url(event["hoofdObject"]) or "")
            if not valid_uuid(uuid):
                return SKIP
            found = await zaak_matching(ctx, uuid, filters, expand) if filters else await zgw.zaak_by_uuid(
                ctx, uuid, expand)
            return Zaak.from_api(found) if found else SKIP

        return feed(info, NOTIFICATIONS, resolve, about, key=lambda event: event.get("hoofdObject", ""))
