"""Open Klant (Klantinteracties): partijen, their contact moments, and the persons, addresses and zaken
those link to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.authz import requires
from graph.context import Context
from graph.errors import BadRequest
from graph.identifiers import valid_bsn
from graph.paging import bounds, window
from graph.selection import selected_paths
from graph.tolerant import boolean, text, valid_uuid
from resolvers import klantinteracties as ok
from resolvers import zgw
from schema.relay import Connection, lazy_connection
from schema.scalars import DateTime

if TYPE_CHECKING:
    from schema.bag import Adres
    from schema.brp import Persoon
    from schema.zaken import Zaak


@strawberry.type(description="A visiting address as Open Klant keeps it: lines of text and, when known, the BAG id.")
class Bezoekadres:
    adresregels: list[str] = strawberry.field(description="The address as lines of text, as Open Klant has it.")
    nummeraanduiding_identificatie: str | None = strawberry.field(
        description="BAG nummeraanduiding id (16 digits), when the address is a Dutch BAG address."
    )

    @strawberry.field(
        description="The address in the BAG, when Open Klant records its nummeraanduiding id.",
        extensions=requires("bag:lezen"),
    )
    async def adres(self, info: Info[Context, None]) -> Annotated[Adres, strawberry.lazy("schema.bag")] | None:
        if not self.nummeraanduiding_identificatie:
            return None
        from schema.bag import adres_for

        return await adres_for(info, self.nummeraanduiding_identificatie)

    @classmethod
    def from_api(cls, d: Any) -> Bezoekadres | None:
        if not isinstance(d, Mapping):
            return None
        lines = ok.adresregels(d)
        nummeraanduiding = text(d.get("nummeraanduidingId"))
        return (
            cls(adresregels=lines, nummeraanduiding_identificatie=nummeraanduiding)
            if lines or nummeraanduiding
            else None
        )


@strawberry.type(description="A party the municipality has contact with: a person, organisation or contact person.")
class Partij:
    url: str = strawberry.field(description="URL of the partij in Open Klant.")
    uuid: strawberry.ID = strawberry.field(description="UUID of the partij in Open Klant.")
    nummer: str | None = strawberry.field(description="The partij's number in Open Klant.")
    soort_partij: str | None = strawberry.field(description="persoon, organisatie or contactpersoon.")
    naam: str | None = strawberry.field(
        description="Name to use in contact: the contactnaam spelled out (or the organisation's name)."
    )
    bsn: str | None = strawberry.field(description="BSN, when the partij is identified by one (BRP).")
    indicatie_geheimhouding: bool | None = strawberry.field(
        description="Whether the partij's details must be kept secret."
    )
    bezoekadres: Bezoekadres | None = strawberry.field(description="Visiting address.")
    _raw: strawberry.Private[dict[str, Any]]

    @strawberry.field(
        description="The person in the BRP, when the partij is identified by a BSN.",
        extensions=requires("brp:lezen"),
    )
    async def persoon(self, info: Info[Context, None]) -> Annotated[Persoon, strawberry.lazy("schema.brp")] | None:
        if not self.bsn:
            return None
        from schema.brp import persoon_for

        return await persoon_for(info, self.bsn)

    @strawberry.field(description="Contact moments this partij took part in, newest first.")
    async def klantcontacten(self, info: Info[Context, None]) -> list[Klantcontact] | None:
        expand = ok.klantcontact_expand(selected_paths(info))
        rows = await ok.klantcontacten_of_partij(info.context, self._raw, expand)
        return [Klantcontact.from_api(r) for r in rows]

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Partij:
        return cls(
            url=text(d.get("url")) or "",
            uuid=strawberry.ID(str(d.get("uuid", ""))),
            nummer=text(d.get("nummer")),
            soort_partij=text(d.get("soortPartij")),
            naam=ok.naam_of(d),
            bsn=ok.bsn_of(d),
            indicatie_geheimhouding=boolean(d.get("indicatieGeheimhouding")),
            bezoekadres=Bezoekadres.from_api(d.get("bezoekadres")),
            _raw=dict(d),
        )


@strawberry.type(description="A contact moment between the municipality and one or more partijen (klantcontact).")
class Klantcontact:
    url: str = strawberry.field(description="URL of the klantcontact in Open Klant.")
    uuid: strawberry.ID = strawberry.field(description="UUID of the klantcontact in Open Klant.")
    nummer: str | None = strawberry.field(description="The klantcontact's number in Open Klant.")
    kanaal: str | None = strawberry.field(description="Channel: telefoon, e-mail, balie, ...")
    onderwerp: str | None = strawberry.field(description="What the contact was about, in short.")
    inhoud: str | None = strawberry.field(description="What was said or written.")
    indicatie_contact_gelukt: bool | None = strawberry.field(description="Whether contact was actually made.")
    plaatsgevonden_op: DateTime | None = strawberry.field(description="When the contact took place.")
    _raw: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The partijen involved (through the klantcontact's betrokkenen).")
    async def partijen(self, info: Info[Context, None]) -> list[Partij] | None:
        return [Partij.from_api(p) for p in await ok.partijen_of(info.context, self._raw)]

    @strawberry.field(
        description="The zaak the contact was about, when an onderwerpobject names one.",
        extensions=requires("zaken:lezen"),
    )
    async def zaak(self, info: Info[Context, None]) -> Annotated[Zaak, strawberry.lazy("schema.zaken")] | None:
        from schema.zaken import zaak_for_url, zaak_for_uuid

        for onderwerpobject in await ok.onderwerpobjecten_of(info.context, self._raw):
            ref = ok.zaak_reference(onderwerpobject)
            if ref is None:
                continue
            kind, value = ref
            if kind == "url" and "zaken" in info.context.sources and info.context.sources["zaken"].owns(value):
                return await zaak_for_url(info, value)
            if kind == "uuid":
                return await zaak_for_uuid(info, value)
        return None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Klantcontact:
        return cls(
            url=text(d.get("url")) or "",
            uuid=strawberry.ID(str(d.get("uuid", ""))),
            nummer=text(d.get("nummer")),
            kanaal=text(d.get("kanaal")),
            onderwerp=text(d.get("onderwerp")),
            inhoud=text(d.get("inhoud")),
            indicatie_contact_gelukt=boolean(d.get("indicatieContactGelukt")),
            plaatsgevonden_op=d.get("plaatsgevondenOp"),
            _raw=dict(d),
        )


def _uuid(value: str, name: str) -> str:
    if not valid_uuid(value):
        raise BadRequest(f"'{name}' must be a UUID.")
    return value


def _bsn(value: str) -> str:
    if not valid_bsn(value):
        raise BadRequest("'bsn' must be a BSN: 9 digits that pass the eleven-test.")
    return value


@strawberry.type
class KlantinteractiesQuery:
    @strawberry.field(description="One partij from Open Klant, by UUID.", extensions=requires("klantinteracties:lezen"))
    async def partij(self, info: Info[Context, None], uuid: strawberry.ID) -> Partij | None:
        expand = ok.partij_expand(selected_paths(info))
        found = await ok.detail(info.context, "/partijen", _uuid(str(uuid), "uuid"), expand)
        return Partij.from_api(found) if found else None

    @strawberry.field(
        description="Partijen in Open Klant, newest first, optionally only those with a BSN.",
        extensions=requires("klantinteracties:lezen"),
    )
    async def partijen(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size, at most 100.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        bsn: Annotated[
            str | None, strawberry.argument(description="Only the partij identified by this BSN (9 digits).")
        ] = None,
    ) -> Connection[Partij] | None:
        filters = ok.bsn_filters(_bsn(bsn)) if bsn is not None else []
        expand = ok.partij_expand(zgw.zaak_selection(selected_paths(info), "nodes", "edges.node"))
        bounds(first, after)
        return lazy_connection(
            lambda: window(
                first, after, ok.PAGE_SIZE, lambda n: ok.page(info.context, "/partijen", n, filters, expand)
            ),
            Partij.from_api,
        )

    @strawberry.field(
        description="One klantcontact from Open Klant, by UUID.",
        extensions=requires("klantinteracties:lezen"),
    )
    async def klantcontact(self, info: Info[Context, None], uuid: strawberry.ID) -> Klantcontact | None:
        expand = ok.klantcontact_expand(selected_paths(info))
        found = await ok.detail(info.context, "/klantcontacten", _uuid(str(uuid), "uuid"), expand)
        return Klantcontact.from_api(found) if found else None

    @strawberry.field(
        description="Klantcontacten in Open Klant, newest first.",
        extensions=requires("klantinteracties:lezen"),
    )
    async def klantcontacten(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size, at most 100.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[Klantcontact] | None:
        expand = ok.klantcontact_expand(zgw.zaak_selection(selected_paths(info), "nodes", "edges.node"))
        bounds(first, after)
        return lazy_connection(
            lambda: window(
                first, after, ok.PAGE_SIZE, lambda n: ok.page(info.context, "/klantcontacten", n, [], expand)
            ),
            Klantcontact.from_api,
        )


async def klantcontacten_over_zaak(info: Info[Context, None], zaak_uuid: str) -> list[Klantcontact]:
    """Reverse link Zaak -> the contacts whose onderwerpobject names the zaak (by the uuid convention)."""
    if not zaak_uuid:
        return []
    expand = ok.klantcontact_expand(selected_paths(info))
    rows = await ok.list_all(
        info.context, "/klantcontacten", [("onderwerpobject__onderwerpobjectidentificatorObjectId", zaak_uuid)], expand
    )
    return [Klantcontact.from_api(r) for r in rows]


async def klantcontacten_for_bsn(info: Info[Context, None], bsn: str) -> list[Klantcontact]:
    """Reverse link Persoon -> the contacts of the partij identified by the BSN (one Open Klant call)."""
    if not (len(bsn) == 9 and bsn.isdigit()):
        return []
    expand = ok.klantcontact_expand(selected_paths(info))
    return [Klantcontact.from_api(r) for r in await ok.klantcontacten_for_bsn(info.context, bsn, expand)]


async def partijen_for_bsn(info: Info[Context, None], bsn: str) -> list[Partij]:
    """Reverse link Persoon -> the Open Klant partijen identified by the BSN."""
    if not (len(bsn) == 9 and bsn.isdigit()):
        return []
    expand = ok.partij_expand(selected_paths(info))
    return [Partij.from_api(r) for r in await ok.list_all(info.context, "/partijen", ok.bsn_filters(bsn), expand)]
