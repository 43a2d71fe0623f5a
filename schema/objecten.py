"""Objecten API: registered objects of configurable types (trees, street lights, ...) and the zaken they
are referred to by."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.authz import requires
from graph.context import Context
from graph.errors import BadRequest
from graph.paging import bounds, window
from graph.tolerant import text, valid_uuid
from resolvers import objecten as ob
from schema.relay import Connection, lazy_connection
from schema.scalars import Date

if TYPE_CHECKING:
    from schema.zaken import Zaak


def _coordinate(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@strawberry.type(description="A kind of object in the Objecttypes register, such as 'Boom'.")
class ObjectType:
    url: str = strawberry.field(description="URL of the objecttype.")
    name: str | None = strawberry.field(description="Name of the objecttype.")
    name_plural: str | None = strawberry.field(description="Plural of the name.")

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ObjectType:
        return cls(url=text(d.get("url")) or "", name=text(d.get("name")), name_plural=text(d.get("namePlural")))


@strawberry.type(description="Where the object is: a GeoJSON geometry in WGS84 (EPSG:4326).")
class Geometrie:
    type: str | None = strawberry.field(description="GeoJSON geometry type: Point, Polygon, ...")
    coordinates: JSON | None = strawberry.field(description="GeoJSON coordinates, longitude before latitude.")
    lat: float | None = strawberry.field(description="Latitude, for a Point.")
    lon: float | None = strawberry.field(description="Longitude, for a Point.")

    @classmethod
    def from_api(cls, d: Any) -> Geometrie | None:
        if not isinstance(d, Mapping):
            return None
        kind = text(d.get("type"))
        coordinates = d.get("coordinates")
        lat = lon = None
        if kind == "Point" and isinstance(coordinates, list) and len(coordinates) >= 2:
            lon, lat = _coordinate(coordinates[0]), _coordinate(coordinates[1])
        return cls(type=kind, coordinates=coordinates, lat=lat, lon=lon)


@strawberry.type(description="An object in the Objecten API, as its current record describes it.")
class Object:
    url: str = strawberry.field(description="URL of the object in the Objecten API.")
    uuid: strawberry.ID = strawberry.field(description="UUID of the object.")
    data: JSON | None = strawberry.field(description="The object's data, shaped by its objecttype's JSON Schema.")
    geometrie: Geometrie | None = strawberry.field(description="Where the object is.")
    start_at: Date | None = strawberry.field(description="Date the current record became valid.")
    end_at: Date | None = strawberry.field(description="Date the current record stopped being valid, if it did.")
    registration_at: Date | None = strawberry.field(description="Date the current record was registered.")
    _type: strawberry.Private[str | None]
    _raw: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The kind of object (fetched once per request per objecttype).")
    async def objecttype(self, info: Info[Context, None]) -> ObjectType | None:
        found = await ob.objecttype(info.context, self._type)
        return ObjectType.from_api(found) if found else None

    @strawberry.field(description="Zaken the object's record refers to.", extensions=requires("zaken:lezen"))
    async def zaken(self, info: Info[Context, None]) -> list[Annotated[Zaak, strawberry.lazy("schema.zaken")]] | None:
        from schema.zaken import zaak_for_url

        found = await asyncio.gather(*(zaak_for_url(info, url) for url in ob.zaak_urls(self._raw)))
        return [z for z in found if z is not None]

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Object:
        record = ob.record_of(d)
        raw_data = record.get("data")
        data: Any = raw_data if isinstance(raw_data, (Mapping, list)) else None
        return cls(
            url=text(d.get("url")) or "",
            uuid=strawberry.ID(str(d.get("uuid", ""))),
            data=data,
            geometrie=Geometrie.from_api(record.get("geometry")),
            start_at=record.get("startAt"),
            end_at=record.get("endAt"),
            registration_at=record.get("registrationAt"),
            _type=text(d.get("type")),
            _raw=dict(d),
        )


@strawberry.type
class ObjectenQuery:
    @strawberry.field(description="One object from the Objecten API, by UUID.", extensions=requires("objecten:lezen"))
    async def object(self, info: Info[Context, None], uuid: strawberry.ID) -> Object | None:
        if not valid_uuid(str(uuid)):
            raise BadRequest("'uuid' must be a UUID.")
        found = await ob.object_by_url(info.context, ob.object_url(info.context, str(uuid)))
        return Object.from_api(found) if found else None

    @strawberry.field(
        description="Objects in the Objecten API, optionally of one objecttype and filtered on data.",
        extensions=requires("objecten:lezen"),
    )
    async def objecten(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size, at most 100.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        objecttype: Annotated[
            str | None,
            strawberry.argument(description="Only objects of this objecttype: its name (e.g. 'Boom') or its URL."),
        ] = None,
        data_attr: Annotated[
            list[str] | None,
            strawberry.argument(
                description="Filters on data, each key__operator__value (operators exact, gt, gte, lt, lte, "
                "icontains, in with values split by '|'; nested keys joined by '__')."
            ),
        ] = None,
    ) -> Connection[Object] | None:
        bounds(first, after)  # refuse bad paging before the objecttype lookup costs a call
        filters = [("data_attr", e) for e in ob.check_data_attrs(data_attr)]
        if objecttype is not None:
            if not objecttype.strip():
                raise BadRequest("'objecttype' must be a name or a URL.")
            filters.insert(0, ("type", await ob.objecttype_url(info.context, objecttype)))
        return lazy_connection(
            lambda: window(first, after, ob.PAGE_SIZE, lambda n: ob.objects_page(info.context, n, filters)),
            Object.from_api,
        )


async def object_for_url(info: Info[Context, None], url: str) -> Object | None:
    """Used by ZGW zaakobjecten (objectType overige) that link an object by URL."""
    if ob.OBJECTEN not in info.context.sources or not info.context.sources[ob.OBJECTEN].owns(url):
        return None
    found = await ob.object_by_url(info.context, url)
    return Object.from_api(found) if found else None
