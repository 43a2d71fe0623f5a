"""The Objects API 4.0 (OAS 2.7.0), which since 4.0 also serves the Objecttypes endpoints itself.

Like Open Klant it is Django REST framework with vng-api-common (token auth, problem details, paging as
in ``demo.klantinteracties``), but it runs in English and renders its errors with DRF's plain JSON
renderer, so the validation list is ``invalid_params`` (snake_case), not ``invalidParams``. Quirks kept:

- CRS negotiation before anything else but auth: ``Accept-Crs`` other than ``EPSG:4326`` is a 406; a POST
  (``/objects/search`` included) without ``Content-Crs`` is a 412, with another CRS a 406; successful
  object responses carry ``Content-Crs: EPSG:4326``;
- a list shows each object's *actual* record: ``date`` defaults to today, ``registrationDate`` instead
  selects by registration; both at once is a 400;
- ``data_attr=key__op__value`` (repeatable; nested keys by ``__``; ops exact, gt, gte, lt, lte, icontains,
  in with ``|``) compares like PostgreSQL jsonb: ``exact`` matches the string or the number, ``in`` only
  strings, comparisons follow jsonb's type order (null < string < number < boolean), ``icontains`` also
  searches numbers; a malformed expression is a 400 whose ``invalid_params`` entry has an empty name;
  ``data_attrs`` is the deprecated comma-separated form; ``data_icontains`` is a case-insensitive
  regular expression over every string in ``data``;
- ``ordering`` and ``fields`` are read from the query string even for ``POST /objects/search``, whose
  body carries the other filters; unknown ordering terms are ignored, unknown ``fields`` are a 400;
- ``GET /objects/search`` is a 405 (the search route wins over the detail route, as in DRF's router).

Data: every demo Object has one record (index 1, typeVersion 1) whose geometry is a GeoJSON Point
[lon, lat] and whose references point at the zaken (Zaken API URLs) that have the object as zaakobject.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.conformance import Specs
from demo.klantinteracties import ENGLISH, JSON, DrfSimulator, ParamError, is_url, last_segment, parse_uuid
from demo.model import Municipality, Object, ObjectType
from demo.simulator import json_response

CRS = "EPSG:4326"
OPERATORS = ("exact", "gt", "gte", "lt", "lte", "icontains", "in")
ORDERABLE = ("url", "uuid", "type", "record__index", "record__typeVersion", "record__data", "record__geometry",
             "record__startAt", "record__endAt", "record__registrationAt", "record__correctionFor",
             "record__correctedBy")
MISSING = object()  # a key that is not in ``data``: SQL NULL, unlike JSON null


def string_to_value(value: str) -> str | float | dt.date:
    """The Objects API's guess at what a filter value means: a number, a date, or else text."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return value


def jsonb_key(value: Any) -> tuple[int, Any]:
    """PostgreSQL's jsonb ordering: null < string < number < boolean < array < object."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (1, value)
    return (4, 0) if isinstance(value, list) else (5, 0)


def jsonb_text(value: Any) -> str | None:
    """``data ->> key``: strings as they are, other values as JSON text, JSON null as SQL NULL."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def lookup(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return MISSING
        data = data[key]
    return data


def sort_key(body: JSON, path: Sequence[str]) -> tuple[Any, ...] | None:
    """How PostgreSQL orders one rendered field; None for SQL NULL (a missing key or column)."""
    value = lookup(body, path)
    if value is MISSING:
        return None
    if path[:2] == ["record", "data"] or list(path) == ["record", "geometry"]:
        return jsonb_key(value)
    return None if value is None else (value,)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


@dataclass(frozen=True, slots=True)
class DataAttr:
    """One ``key__operator__value`` expression."""

    path: tuple[str, ...]
    operator: str
    raw: str

    def matches(self, data: JSON) -> bool:
        found = lookup(data, self.path)
        if found is MISSING:
            return False
        if self.operator == "icontains":
            text = jsonb_text(found)
            return text is not None and self.raw.lower() in text.lower()
        if self.operator == "in":
            return isinstance(found, str) and found in self.raw.split("|")
        real = string_to_value(self.raw)
        if self.operator == "exact":
            if found == self.raw:
                return True
            return isinstance(real, float) and isinstance(found, (int, float)) and not isinstance(found, bool) \
                and found == real
        wanted = real.isoformat() if isinstance(real, dt.date) else real
        left, right = jsonb_key(found), jsonb_key(wanted)
        if left[0] != right[0] or left[0] >= 4:
            left, right = (left[0], 0), (right[0], 0)
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[self.operator]


def parse_data_attr(expression: str, code: str, commas_in_value_only: bool) -> DataAttr:
    """The Objects API's validation of one expression; ParamError (with an empty name) when malformed."""
    if commas_in_value_only and "," in expression.rsplit("__", 1)[0]:
        raise ParamError("", code, f"Filter expression '{expression}' must have the shape 'key__operator__value', "
                                   "commas can only be present in the 'value'")
    parts = expression.rsplit("__", 2)
    if len(parts) != 3:
        raise ParamError("", code, f"Filter expression '{expression}' doesn't have the shape 'key__operator__value'")
    key, operator, value = parts
    if operator not in OPERATORS:
        raise ParamError("", code, f"Comparison operator `{operator}` is unknown")
    if operator not in {"exact", "icontains", "in"} and isinstance(string_to_value(value), str):
        raise ParamError("", code, f"Operator `{operator}` supports only dates and/or numeric values")
    return DataAttr(tuple(key.split("__")), operator, value)


@dataclass(slots=True)
class ObjectQuery:
    """The cleaned filters of ``GET /objects`` or the body of ``POST /objects/search``."""

    type_uuid: str | None = None
    type_version: float | None = None
    date: dt.date | None = None
    registration_date: dt.date | None = None
    data_attrs: list[DataAttr] = field(default_factory=list)
    data_icontains: re.Pattern[str] | None = None


def point_in_ring(lon: float, lat: float, ring: Sequence[Sequence[float]]) -> bool:
    """Even-odd rule; a ring of fewer than three points encloses nothing."""
    if len(ring) < 3:
        return False
    inside = False
    for a, b in zip(ring, [*ring[1:], ring[0]], strict=True):
        (x1, y1), (x2, y2) = a[:2], b[:2]
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def within(lon: float, lat: float, geometry: JSON) -> bool:
    """PostGIS ``ST_Within`` for a point, for the geometries a search sends (holes respected)."""
    coordinates = geometry["coordinates"]
    if geometry["type"] == "Point":
        return [lon, lat] == list(coordinates)
    polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates if geometry["type"] == "MultiPolygon" \
        else []
    return any(point_in_ring(lon, lat, rings[0]) and not any(point_in_ring(lon, lat, hole) for hole in rings[1:])
               for rings in polygons if rings)


def valid_geojson(value: Any) -> bool:
    """Enough of GEOS's GeoJSON reading to refuse what it refuses."""
    if not isinstance(value, dict) or "coordinates" not in value:
        return False
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}
    if value.get("type") not in depth:
        return False

    def shaped(node: Any, level: int) -> bool:
        if level == 0:
            return isinstance(node, list) and len(node) >= 2 and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in node)
        return isinstance(node, list) and all(shaped(child, level - 1) for child in node)

    return shaped(value["coordinates"], depth[value["type"]])


class ObjectenSimulator(DrfSimulator):
    """Objects (trees, street lights) with their records, and the objecttypes that describe them."""

    name = "objecten"
    title = "Objects API"
    api_version = "2.7.0"
    base_path = "/api/v2"
    default_port = 8106
    official_specs: ClassVar[Specs] = {
        "/api/v2": ("objecten/objects-api/openapi.yaml", "objecten/objecttypes-api/openapi.yaml"),
    }
    messages = ENGLISH
    invalid_params_key = "invalid_params"

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self._newest_first = list(data.objecten.values())[::-1]
        self._types = list(data.objecttypen.values())
        registered = [o.registration_at for o in data.objecten.values()]
        # "today" for the actual record; never before the data was registered, whatever the host clock says
        self._data_today = max(registered, default=dt.date.min)
        self._references: dict[str, list[str]] = {}
        for zaak in data.zaken.values():
            for zo in zaak.zaakobjecten:
                if zo.object_uuid:
                    self._references.setdefault(zo.object_uuid, []).append(zaak.uuid)
        self._type_since = {t.uuid: min((o.start_at for o in data.objecten.values() if o.objecttype_uuid == t.uuid),
                                        default=dt.date(2015, 1, 1)) for t in self._types}

    def today(self) -> dt.date:
        return max(dt.date.today(), self._data_today)

    def routes(self) -> Sequence[BaseRoute]:
        base = self.base_path
        return [
            Route(f"{base}/objects", self.object_list, methods=["GET"]),
            Route(f"{base}/objects/search", self.object_search, methods=["POST"]),
            Route(f"{base}/objects/{{uuid}}", self.object_read, methods=["GET"]),
            Route(f"{base}/objects/{{uuid}}/history", self.object_history, methods=["GET"]),
            Route(f"{base}/objects/{{uuid}}/{{index}}", self.object_history_detail, methods=["GET"]),
            Route(f"{base}/objecttypes", self.objecttype_list, methods=["GET"]),
            Route(f"{base}/objecttypes/{{uuid}}", self.objecttype_read, methods=["GET"]),
            Route(f"{base}/objecttypes/{{objecttype_uuid}}/versions", self.objecttypeversion_list, methods=["GET"]),
            Route(f"{base}/objecttypes/{{objecttype_uuid}}/versions/{{version}}", self.objecttypeversion_read,
                  methods=["GET"]),
            Route(f"{base}/permissions", self.permission_list, methods=["GET"]),
        ]

    # -- rendering ---------------------------------------------------------------------------------------

    def type_url(self, uuid: str) -> str:
        return self.url(f"/objecttypes/{uuid}")

    def _history_record(self, o: Object) -> JSON:
        lat, lon = o.wgs84
        return {
            "index": 1,
            "typeVersion": 1,
            "data": o.data,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "startAt": o.start_at.isoformat(),
            "endAt": None,
            "registrationAt": o.registration_at.isoformat(),
            "correctionFor": None,
            "correctedBy": None,
        }

    def render_object(self, o: Object) -> JSON:
        record = self._history_record(o)
        zaken = [*o.zaak_uuids, *(z for z in self._references.get(o.uuid, []) if z not in o.zaak_uuids)]
        record = {**record, "references": [{"type": "zaak", "url": self.url(f"/zaken/{z}", "zaken")} for z in zaken]}
        record = {k: record[k] for k in ("index", "typeVersion", "data", "geometry", "references", "startAt", "endAt",
                                         "registrationAt", "correctionFor", "correctedBy")}
        return {"url": self.url(f"/objects/{o.uuid}"), "uuid": o.uuid, "type": self.type_url(o.objecttype_uuid),
                "record": record}

    def render_objecttype(self, t: ObjectType) -> JSON:
        since = self._type_since[t.uuid].isoformat()
        return {
            "url": self.type_url(t.uuid),
            "uuid": t.uuid,
            "name": t.name,
            "namePlural": t.name_plural,
            "description": t.description,  # Objecttypes API field; the 4.0 OAS no longer lists it
            "dataClassification": "open",
            "maintainerOrganization": f"Gemeente {self.data.gemeentenaam}",
            "maintainerDepartment": "Beheer Openbare Ruimte",
            "contactPerson": "",
            "contactEmail": "",
            "source": "",
            "updateFrequency": "unknown",
            "providerOrganization": f"Gemeente {self.data.gemeentenaam}",
            "documentationUrl": "",
            "labels": {},
            "createdAt": since,
            "modifiedAt": since,
            "allowGeometry": True,
            "versions": [self.type_url(t.uuid) + "/versions/1"],
        }

    def render_version(self, t: ObjectType) -> JSON:
        since = self._type_since[t.uuid].isoformat()
        return {
            "url": self.type_url(t.uuid) + "/versions/1",
            "version": 1,
            "objectType": self.type_url(t.uuid),
            "status": "published",
            "jsonSchema": t.json_schema,
            "createdAt": since,
            "modifiedAt": since,
            "publishedAt": since,
        }

    # -- request handling --------------------------------------------------------------------------------

    def _geo_refused(self, request: Request) -> Response | None:
        """vng-api-common's CRS negotiation, run after authentication and before the view."""
        if request.method == "POST":
            content_crs = request.headers.get("content-crs")
            if content_crs is None:
                return self.error(request, 412, "", "'Content-Crs' header ontbreekt", "precondition_failed")
            if content_crs != CRS:
                return self.error(request, 406, "", f"CRS '{content_crs}' is niet ondersteund", "not_acceptable")
        accept_crs = request.headers.get("accept-crs")
        if accept_crs and accept_crs != CRS:
            return self.error(request, 406, "", f"CRS '{accept_crs}' is niet ondersteund", "not_acceptable")
        return None

    def _object_guard(self, request: Request) -> Response | None:
        return self.refused(request) or self._geo_refused(request)

    def _query(self, get: Callable[[str], list[str]]) -> ObjectQuery | list[ParamError]:
        """Clean the ObjectRecordFilterSet parameters, failing the way the Objects API fails."""
        query = ObjectQuery()
        try:
            for expression in last(get("data_attrs")).split(",") if last(get("data_attrs")) else []:
                query.data_attrs.append(parse_data_attr(expression, "invalid-data-attrs-query", False))
            for expression in get("data_attr"):
                query.data_attrs.append(parse_data_attr(expression, "invalid-data-attr-query", True))
        except ParamError as exc:
            return [exc]
        errors: list[ParamError] = []
        if raw_type := last(get("type")):
            query.type_uuid = self._type_filter(raw_type, errors)
        if raw_version := last(get("typeVersion")):
            try:
                query.type_version = float(raw_version)
            except ValueError:
                errors.append(ParamError("typeVersion", "invalid", self.messages.invalid_number))
        for name in ("date", "registrationDate"):
            if raw := last(get(name)):
                try:
                    setattr(query, "date" if name == "date" else "registration_date", dt.date.fromisoformat(raw))
                except ValueError:
                    errors.append(ParamError(name, "invalid", self.messages.invalid_date))
        if pattern := last(get("data_icontains")):
            try:
                query.data_icontains = re.compile(pattern, re.IGNORECASE)
            except re.error:
                query.data_icontains = re.compile(re.escape(pattern), re.IGNORECASE)
        if query.date and query.registration_date:
            return [ParamError("", "invalid-date-query-params",
                               "'date' and 'registrationDate' parameters can't be used in the same request")]
        return errors or query

    def _type_filter(self, raw: str, errors: list[ParamError]) -> str | None:
        if len(raw) > 1000:
            errors.append(ParamError("type", "max_length", "The value has too many characters"))
        elif not is_url(raw) or parse_uuid(last_segment(raw)) is None:
            errors.append(ParamError("type", "invalid", "Invalid value."))
        elif (uuid := parse_uuid(last_segment(raw))) not in self.data.objecttypen:
            errors.append(ParamError("type", "invalid_choice",
                                     f"Select a valid object type. {raw} is not one of the available choices."))
        else:
            return uuid
        return None

    def _selected(self, query: ObjectQuery, objects: Sequence[Object], default_today: bool) -> list[Object]:
        """Objects whose actual record (for the material or formal date) passes every filter."""
        date = query.date or (self.today() if default_today and not query.registration_date else None)
        out = []
        for o in objects:
            if date and not o.start_at <= date:
                continue
            if query.registration_date and not o.registration_at <= query.registration_date:
                continue
            if query.type_uuid and o.objecttype_uuid != query.type_uuid:
                continue
            if query.type_version is not None and query.type_version != 1:
                continue
            if not all(attr.matches(o.data) for attr in query.data_attrs):
                continue
            if query.data_icontains and not any(query.data_icontains.search(s) for s in strings_in(o.data)):
                continue
            out.append(o)
        return out

    def _ordered(self, request: Request, objects: list[Object]) -> list[Object]:
        """DRF's OrderingFilter on serializer field paths, ``record__data__...`` into the JSON."""
        terms = [t.strip() for t in request.query_params.get("ordering", "").split(",") if t.strip()]
        terms = [t for t in terms if t.lstrip("-") in ORDERABLE or t.lstrip("-").startswith("record__data__")]
        if not terms:
            return objects
        rendered = {o.uuid: self.render_object(o) for o in objects}
        for term in reversed(terms):  # stable sorts, least significant term first
            descending, path = term.startswith("-"), term.lstrip("-").split("__")
            keyed = [(sort_key(rendered[o.uuid], path), o) for o in objects]
            present = sorted(((k, o) for k, o in keyed if k is not None), key=lambda ko: ko[0], reverse=descending)
            absent = [o for k, o in keyed if k is None]  # SQL NULL: last ascending, first descending
            objects = absent + [o for _, o in present] if descending else [o for _, o in present] + absent
        return objects

    def _projected(self, request: Request) -> Callable[[Object], JSON]:
        """``fields``: keep only the named (``__``-nested) fields, like the glom spec the Objects API builds.

        A path missing from an object (a data key another objecttype has) raises ParamError: the real API
        then fails the whole request with a 400.
        """
        paths = sorted({tuple(f.strip().split("__")) for f in request.query_params.get("fields", "").split(",")
                        if f.strip()})
        if not paths:
            return self.render_object

        def render(o: Object) -> JSON:
            body = self.render_object(o)
            out: JSON = {}
            target: JSON
            for path in paths:
                value = lookup(body, path)
                if value is MISSING:
                    raise ParamError("", "invalid", "'fields' query parameter has invalid or unauthorized values: "
                                                    f"'{'__'.join(path)}'")
                target = out
                for key in path[:-1]:
                    target = target.setdefault(key, {})
                target[path[-1]] = value
            return out

        return render

    def _object_page(self, request: Request, query: ObjectQuery | list[ParamError],
                     objects: Sequence[Object]) -> Response:
        if isinstance(query, list):
            return self.validation_error(request, query)
        found = self._ordered(request, self._selected(query, objects, default_today=True))
        try:
            return self.page(request, found, self._projected(request), headers={"Content-Crs": CRS})
        except ParamError as exc:
            return self.validation_error(request, [exc])

    async def object_list(self, request: Request) -> Response:
        """Retrieve a list of OBJECTs and their actual RECORD."""
        if refused := self._object_guard(request):
            return refused
        return self._object_page(request, self._query(request.query_params.getlist), self._newest_first)

    async def object_search(self, request: Request) -> Response:
        """Perform a (geo) search on OBJECTs."""
        if refused := self._object_guard(request):
            return refused
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return self.error(request, 415, "", f'Unsupported media type "{media}" in request.',
                              "unsupported_media_type")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return self.error(request, 400, "", f"JSON parse error - {exc}", "parse_error")
        if not isinstance(body, dict):
            return self.validation_error(request, [ParamError(
                "nonFieldErrors", "invalid", f"Invalid data. Expected a dictionary, but got {type(body).__name__}.")])
        shape = self._search_geometry(body)
        if isinstance(shape, ParamError):
            return self.validation_error(request, [shape])
        objects = self._newest_first
        if shape is not None:
            objects = [o for o in objects if within(o.wgs84[1], o.wgs84[0], shape)]
        return self._object_page(request, self._query(lambda name: body_values(body, name)), objects)

    @staticmethod
    def _search_geometry(body: JSON) -> JSON | ParamError | None:
        geometry = body.get("geometry")
        if geometry is None:
            return None
        if not isinstance(geometry, dict):
            return ParamError("geometry.nonFieldErrors", "invalid",
                              f"Invalid data. Expected a dictionary, but got {type(geometry).__name__}.")
        shape = geometry.get("within")
        if shape is None:
            return None
        if not valid_geojson(shape):
            return ParamError("geometry.within", "invalid", "Invalid format: string or unicode input unrecognized "
                                                            "as GeoJSON, WKT EWKT or HEXEWKB.")
        result: JSON = shape
        return result

    def _object(self, request: Request) -> Object | Response:
        uuid = parse_uuid(request.path_params["uuid"]) or ""
        o = self.data.objecten.get(uuid)
        if o is None:
            return self.not_found(request)
        query = self._query(request.query_params.getlist)
        if isinstance(query, list):
            return self.validation_error(request, query)
        if not self._selected(query, [o], default_today=False):
            return self.not_found(request)
        return o

    async def object_read(self, request: Request) -> Response:
        """Retrieve a single OBJECT and its actual RECORD."""
        if refused := self._object_guard(request):
            return refused
        if request.path_params["uuid"] == "search":
            return self.error(request, 405, "", "", "method_not_allowed")
        o = self._object(request)
        if isinstance(o, Response):
            return o
        try:
            return json_response(self._projected(request)(o), headers={"Content-Crs": CRS})
        except ParamError as exc:
            return self.validation_error(request, [exc])

    async def object_history(self, request: Request) -> Response:
        """Retrieve all RECORDs of an OBJECT."""
        if refused := self._object_guard(request):
            return refused
        o = self._object(request)
        if isinstance(o, Response):
            return o
        return self.page(request, [o], self._history_record, headers={"Content-Crs": CRS})

    async def object_history_detail(self, request: Request) -> Response:
        """Retrieve the specified OBJECT given an UUID and INDEX."""
        if refused := self._object_guard(request):
            return refused
        index = request.path_params["index"]
        if not index.isdigit() or not index.isascii():
            return self.not_found(request)
        o = self._object(request)
        if isinstance(o, Response):
            return o
        if int(index) != 1:
            return self.not_found(request)
        return json_response(self._history_record(o), headers={"Content-Crs": CRS})

    def _objecttype(self, request: Request) -> ObjectType | Response:
        raw = request.path_params.get("objecttype_uuid") or request.path_params["uuid"]
        t = self.data.objecttypen.get(parse_uuid(raw) or "")
        return t if t is not None else self.not_found(request)

    async def objecttype_list(self, request: Request) -> Response:
        """Retrieve a list of OBJECTTYPEs."""
        if refused := self.refused(request):
            return refused
        classification = request.query_params.get("dataClassification")
        choices = ("confidential", "intern", "open", "strictly_confidential")
        if classification and classification not in choices:
            return self.validation_error(request, [ParamError(
                "dataClassification", "invalid_choice", self.messages.invalid_choice.format(value=classification))])
        found = [t for t in self._types if not classification or classification == "open"]
        return self.page(request, found, self.render_objecttype)

    async def objecttype_read(self, request: Request) -> Response:
        """Retrieve an OBJECTTYPE."""
        if refused := self.refused(request):
            return refused
        t = self._objecttype(request)
        return t if isinstance(t, Response) else json_response(self.render_objecttype(t))

    async def objecttypeversion_list(self, request: Request) -> Response:
        """Retrieve all versions of an OBJECTTYPE."""
        if refused := self.refused(request):
            return refused
        t = self._objecttype(request)
        return t if isinstance(t, Response) else self.page(request, [t], self.render_version)

    async def objecttypeversion_read(self, request: Request) -> Response:
        """Retrieve one version of an OBJECTTYPE."""
        if refused := self.refused(request):
            return refused
        t = self._objecttype(request)
        if isinstance(t, Response):
            return t
        version = request.path_params["version"]
        if not (version.isascii() and version.isdigit() and int(version) == 1):
            return self.not_found(request)
        return json_response(self.render_version(t))

    async def permission_list(self, request: Request) -> Response:
        """Retrieve a list of permissions available for the user."""
        if refused := self.refused(request):
            return refused
        return self.page(request, self._types, lambda t: {"type": self.type_url(t.uuid), "mode": "read_only",
                                                          "use_fields": False, "fields": None})


def last(values: list[str]) -> str:
    """What Django's QueryDict.get gives for a repeated parameter: the last value ('' when absent)."""
    return values[-1] if values else ""


def body_values(body: JSON, name: str) -> list[str]:
    """A search body's filter as query-parameter values: a list stays a list, a scalar is one value."""
    value = body.get(name)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]

