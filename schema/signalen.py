"""Meldingen openbare ruimte from Signalen: single meldingen, filtered lists and dashboard statistics."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from graph.authz import requires
from graph.context import Context
from graph.errors import BadRequest
from graph.events import Event
from graph.live import SKIP, Polling, Skip, feed
from graph.paging import bounds, window
from graph.response_cache import response_cached
from graph.selection import selected_paths
from graph.tolerant import integer, mapping, text
from resolvers import bag
from resolvers import signalen as sia
from schema.relay import Connection, lazy_connection
from schema.scalars import DateTime

if TYPE_CHECKING:
    from schema.bag import Adres

UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


@strawberry.type(description="The state a melding is in.")
class MeldingStatus:
    code: str | None = strawberry.field(description="Signalen state code: m, i, b, h, o, a, reopened, ...")
    omschrijving: str | None = strawberry.field(description="Name of the state, in Dutch (e.g. 'Afgehandeld').")
    toelichting: str | None = strawberry.field(description="Text given with the state change.")
    gezet_op: DateTime | None = strawberry.field(description="When the melding got this state.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> MeldingStatus:
        code = text(d.get("state"))
        return cls(
            code=code,
            omschrijving=text(d.get("state_display")) or sia.STATES.get(code or ""),
            toelichting=text(d.get("text")),
            gezet_op=d.get("created_at"),
        )


@strawberry.type(description="A state change in a melding's history.")
class MeldingStatusWijziging:
    tijdstip: DateTime | None = strawberry.field(description="When the state changed.")
    code: str | None = strawberry.field(description="The new state code, when its name is a known Signalen state.")
    omschrijving: str | None = strawberry.field(description="Name of the new state, as the history shows it.")
    toelichting: str | None = strawberry.field(description="Text given with the change.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> MeldingStatusWijziging:
        code, name = sia.status_from_history(d)
        return cls(tijdstip=d.get("when"), code=code, omschrijving=name, toelichting=text(d.get("description")))


@strawberry.type(description="What a melding is about: a sub category within a main category.")
class MeldingCategorie:
    hoofdcategorie: str | None = strawberry.field(description="Name of the main category.")
    subcategorie: str | None = strawberry.field(description="Name of the sub category.")
    hoofdcategorie_slug: str | None = strawberry.field(description="Slug of the main category (filter value).")
    subcategorie_slug: str | None = strawberry.field(description="Slug of the sub category (filter value).")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> MeldingCategorie:
        return cls(
            hoofdcategorie=text(d.get("main")),
            subcategorie=text(d.get("sub")),
            hoofdcategorie_slug=text(d.get("main_slug")),
            subcategorie_slug=text(d.get("sub_slug")),
        )


@strawberry.type(description="Where a melding was made.")
class MeldingLocatie:
    lat: float | None = strawberry.field(description="Latitude (WGS84).")
    lon: float | None = strawberry.field(description="Longitude (WGS84).")
    buurt: str | None = strawberry.field(description="Buurt code, as Signalen assigned it.")
    stadsdeel: str | None = strawberry.field(description="Stadsdeel (district) name.")
    adres_tekst: str | None = strawberry.field(description="The address as one line of text.")
    _postcode: strawberry.Private[str | None]
    _huisnummer: strawberry.Private[int | None]
    _huisletter: strawberry.Private[str | None]
    _toevoeging: strawberry.Private[str | None]

    @strawberry.field(
        description="The BAG address, found by postcode and house number (Signalen keeps no BAG id).",
        extensions=requires("bag:lezen"),
    )
    async def adres(self, info: Info[Context, None]) -> Annotated[Adres, strawberry.lazy("schema.bag")] | None:
        if not self._postcode or self._huisnummer is None or "bag" not in info.context.sources:
            return None
        from schema.bag import Adres

        found = await bag.adressen(
            info.context,
            self._postcode,
            self._huisnummer,
            self._huisletter,
            self._toevoeging,
            bag.adres_expand(selected_paths(info)),
        )
        for row in found:  # without letter or addition the BAG also lists 12A, 12-2, ...: keep the exact one
            if (
                (text(row.get("huisletter")) or "").upper() == (self._huisletter or "").upper()
                and (text(row.get("huisnummertoevoeging")) or "").upper() == (self._toevoeging or "").upper()
                and integer(row.get("huisnummer")) == self._huisnummer
            ):
                return Adres.from_api(row)
        return None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> MeldingLocatie:
        lon, lat = sia.lon_lat(d)
        address = mapping(d.get("address"))
        postcode = text(address.get("postcode")) or text(d.get("postcode"))
        return cls(
            lat=lat,
            lon=lon,
            buurt=text(d.get("buurt_code")),
            stadsdeel=text(d.get("stadsdeel")),
            adres_tekst=text(d.get("address_text")),
            _postcode=postcode.replace(" ", "").upper() if postcode else None,
            _huisnummer=integer(address.get("huisnummer")),
            _huisletter=text(address.get("huisletter")),
            _toevoeging=text(address.get("huisnummer_toevoeging")),
        )


@strawberry.type(description="A melding openbare ruimte (report about public space) in Signalen.")
class Melding:
    id: strawberry.ID = strawberry.field(description="Signalen's private integer id.")
    signal_id: str | None = strawberry.field(description="Public UUID of the melding, as the reporter knows it.")
    tekst: str | None = strawberry.field(description="What the reporter wrote.")
    status: MeldingStatus | None = strawberry.field(description="The current state.")
    categorie: MeldingCategorie | None = strawberry.field(description="The category it is assigned to.")
    locatie: MeldingLocatie | None = strawberry.field(description="Where it was made.")
    aangemaakt_op: DateTime | None = strawberry.field(description="When it was registered.")
    bron: str | None = strawberry.field(description="Channel it came in through (online, telefoon, app, ...).")
    prioriteit: str | None = strawberry.field(description="Priority: low, normal or high.")

    @strawberry.field(description="Every state change, oldest first (one history call per melding).")
    async def statusgeschiedenis(self, info: Info[Context, None]) -> list[MeldingStatusWijziging] | None:
        signal_id = integer(str(self.id))
        if signal_id is None:
            return []
        return [MeldingStatusWijziging.from_api(e) for e in await sia.status_history(info.context, signal_id)]

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Melding:
        status = d.get("status")
        category = d.get("category")
        location = d.get("location")
        return cls(
            id=strawberry.ID(str(d.get("id", ""))),
            signal_id=text(d.get("signal_id")),
            tekst=text(d.get("text")),
            status=MeldingStatus.from_api(status) if isinstance(status, Mapping) else None,
            categorie=MeldingCategorie.from_api(category) if isinstance(category, Mapping) else None,
            locatie=MeldingLocatie.from_api(location) if isinstance(location, Mapping) else None,
            aangemaakt_op=d.get("created_at"),
            bron=text(d.get("source")),
            prioriteit=text(mapping(d.get("priority")).get("priority")),
        )


@strawberry.enum(description="A dimension meldingen can be counted by.")
class MeldingDimensie(Enum):
    CATEGORIE = strawberry.enum_value(sia.CATEGORIE, description="Sub category slug.")
    STATUS = strawberry.enum_value(sia.STATUS, description="Signalen state code.")
    BUURT = strawberry.enum_value(sia.BUURT, description="Buurt code.")
    WEEK = strawberry.enum_value(sia.WEEK, description="ISO week of registration, Amsterdam time (2026-W07).")


@strawberry.type(description="The number of meldingen with one combination of values; only grouped values are set.")
class MeldingGroep:
    categorie: str | None = strawberry.field(description="Sub category slug, when grouped by CATEGORIE.")
    status: str | None = strawberry.field(description="State code, when grouped by STATUS.")
    buurt: str | None = strawberry.field(description="Buurt code, when grouped by BUURT.")
    week: str | None = strawberry.field(description="ISO week (2026-W07), when grouped by WEEK.")
    aantal: int = strawberry.field(description="Number of meldingen in this group.")


@strawberry.type(description="Counts of meldingen, grouped.")
class MeldingStatistiek:
    totaal: int = strawberry.field(description="Number of meldingen matching the filters.")
    groepen: list[MeldingGroep] = strawberry.field(
        description="Non-empty groups, ordered by their values in the order of groepeerOp."
    )
    strategie: str = strawberry.field(
        description="How the source was asked: 'count' (one count per combination) or 'scan' (the list, paged)."
    )


CategorieArg = Annotated[str | None, strawberry.argument(description="Sub category slug (Signalen category_slug).")]
HoofdcategorieArg = Annotated[
    str | None,
    strawberry.argument(description="Main category slug (maincategory_slug); not together with 'categorie'."),
]
StatusArg = Annotated[list[str] | None, strawberry.argument(description="Signalen state code(s), e.g. ['m', 'b'].")]
BuurtArg = Annotated[str | None, strawberry.argument(description="Buurt code (Signalen buurt_code).")]
VanafArg = Annotated[
    str | None, strawberry.argument(description="Registered at or after this moment.", graphql_type=DateTime | None)
]
TotArg = Annotated[
    str | None, strawberry.argument(description="Registered at or before this moment.", graphql_type=DateTime | None)
]


async def melding_for(info: Info[Context, None], signal_id: int) -> Melding | None:
    found = await sia.signal(info.context, signal_id)
    return Melding.from_api(found) if found else None


async def meldingen_at(info: Info[Context, None], adres: Adres) -> list[Melding]:
    """Reverse link Adres -> meldingen: Signalen's ``address_text`` filter, then an exact address match."""
    if not adres.postcode or adres.huisnummer is None:
        return []
    postcode = adres.postcode.replace(" ", "").upper()
    found = await sia.at_address(info.context, postcode, adres.huisnummer, adres.huisletter, adres.huisnummertoevoeging)
    return [Melding.from_api(s) for s in found]


@strawberry.type
class SignalenQuery:
    @strawberry.field(
        description="One melding, by its Signalen id (integer) or its public signal UUID.",
        extensions=requires("signalen:lezen"),
    )
    async def melding(self, info: Info[Context, None], id: strawberry.ID) -> Melding | None:
        value = str(id).strip()
        if value.isdigit():
            return await melding_for(info, int(value))
        if UUID.match(value):
            found = await sia.signal_by_uuid(info.context, value)
            return Melding.from_api(found) if found else None
        raise BadRequest("'id' must be a Signalen id (digits) or a signal UUID.")

    @strawberry.field(
        description="Meldingen, newest first, filtered by the source.",
        extensions=requires("signalen:lezen"),
    )
    async def meldingen(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size, at most 100.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        categorie: CategorieArg = None,
        hoofdcategorie: HoofdcategorieArg = None,
        status: StatusArg = None,
        buurt: BuurtArg = None,
        vanaf: VanafArg = None,
        tot: TotArg = None,
    ) -> Connection[Melding] | None:
        flt = sia.filters(categorie, hoofdcategorie, status, buurt, vanaf, tot)
        offset, count = bounds(first, after)
        size = sia.window_page_size(offset, count)
        return lazy_connection(
            lambda: window(first, after, size, lambda n: sia.newest_page(info.context, flt, n, size)), Melding.from_api
        )

    @strawberry.field(
        description="Counts of meldingen per group, for dashboards; cheap for the source.",
        extensions=requires("signalen:statistiek"),
        metadata=response_cached(ttl_s=60),  # counts, no person in them: dashboards poll, the source is asked once
    )
    async def meldingen_statistiek(
        self,
        info: Info[Context, None],
        groepeer_op: Annotated[
            list[MeldingDimensie],
            strawberry.argument(description="Dimensions to group by; an empty list gives only the total."),
        ],
        vanaf: VanafArg = None,
        tot: TotArg = None,
        categorie: CategorieArg = None,
        hoofdcategorie: HoofdcategorieArg = None,
        status: StatusArg = None,
        buurt: BuurtArg = None,
    ) -> MeldingStatistiek | None:
        flt = sia.filters(categorie, hoofdcategorie, status, buurt, vanaf, tot)
        return await meldingen_statistiek_of(info.context, groepeer_op, flt, "totaal" in selected_paths(info))


async def meldingen_statistiek_of(
    ctx: Context, groepeer_op: list[MeldingDimensie], flt: Any, want_total: bool
) -> MeldingStatistiek:
    """``meldingenStatistiek`` from one Signalen source (the context's), ``flt`` from ``sia.filters``."""
    dims: list[str] = list(dict.fromkeys(str(d.value) for d in groepeer_op))
    stats = await sia.statistics(ctx, dims, flt, want_total)
    groups = []
    for key, aantal in stats.groups:
        values = dict(zip(dims, key, strict=True))
        groups.append(
            MeldingGroep(
                categorie=values.get(sia.CATEGORIE),
                status=values.get(sia.STATUS),
                buurt=values.get(sia.BUURT),
                week=values.get(sia.WEEK),
                aantal=aantal,
            )
        )
    return MeldingStatistiek(totaal=stats.total or 0, groepen=groups, strategie=stats.strategy)


@strawberry.type
class SignalenSubscription:
    @strawberry.subscription(
        description="A melding again each time it changes (state, category, ...), by id or for a category. "
        "Signalen sends no notifications: the gateway asks it for changes every few seconds ([gateway.live] "
        "poll_interval_s) while anyone subscribes, and each change is resolved afresh.",
        extensions=requires("signalen:lezen"),
    )
    def melding_gewijzigd(
        self,
        info: Info[Context, None],
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this melding: Signalen id or signal UUID.")
        ] = None,
        categorie: CategorieArg = None,
        hoofdcategorie: HoofdcategorieArg = None,
    ) -> AsyncGenerator[Melding | None, None]:
        wanted = str(id).strip().lower().replace("-", "") if id is not None else None  # as change events name it
        if wanted is not None and not (wanted.isdigit() or UUID.match(wanted)):
            raise BadRequest("'id' must be a Signalen id (digits) or a signal UUID.")
        flt = sia.filters(categorie, hoofdcategorie)

        def about(event: Event) -> bool:
            return (
                (wanted is None or wanted in (event.get("id"), event.get("signal_id")))
                and (flt.categorie is None or event.get("categorie") == flt.categorie)
                and (flt.hoofdcategorie is None or event.get("hoofdcategorie") == flt.hoofdcategorie)
            )

        async def resolve(ctx: Context, event: Event) -> Melding | Skip:
            found = await sia.signal(ctx, int(event["id"]))  # change events always name one (sia.change_event)
            return Melding.from_api(found) if found else SKIP

        return feed(info, sia.CHANGES, resolve, about, key=lambda event: event.get("id", ""),
                    polling=Polling(sia.SIGNALEN, sia.watch_changes))
