"""ZGW simulated: one host serving the Zaken, Catalogi, Documenten and Besluiten APIs, as Open Zaak 1.30 does.

It runs in one of two profiles (``demo.zgw_profile``): ``openzaak``, the product itself, or ``standard``, a
product that follows the VNG standard and has none of Open Zaak's extensions. Both share what a gateway
must cope with, reproduced from the real product:

- every API route wants ``Authorization: Bearer <ZGW JWT>``; a missing, malformed, wrongly signed or
  stale token is a 403 problem (never 401);
- ``/zaken`` (GET, POST), ``/zaken/{uuid}`` (GET, PATCH) and ``POST /zaken/_zoek`` want
  ``Accept-Crs: EPSG:4326`` (412 when missing, 406 for another CRS), writes also ``Content-Crs``;
  their answers carry ``Content-Crs: EPSG:4326``;
- paged lists ``{count, next, previous, results}`` with absolute links, 100 per page (``openzaak``:
  ``pageSize`` up to 500; ``standard``: ``pageSize`` ignored), 404 past the last page;
  ``/zaakinformatieobjecten``, ``/objectinformatieobjecten``, ``/besluitinformatieobjecten`` and
  ``/zaken/{uuid}/besluiten`` are plain arrays;
- unknown query parameters on a list are a 400 (``unknown-parameters``), as are unparseable filters;
- detail GETs have an ``ETag`` and answer ``If-None-Match`` with 304;
- ``expand`` on zaken (``_expand`` inline, Catalogi types included), documents and besluiten; each inlined
  Catalogi object costs ``expand_cost_ms`` (measured on Open Zaak: 30 zaken take 0.18 s plain, 1.7 s with
  ``expand=zaaktype``);
- each API answers with its profile's ``API-version`` and serves the profile's official OpenAPI document
  at ``{base}/openapi.json`` (converted to JSON) and ``{base}/schema/openapi.yaml`` (where Open Zaak and the
  VNG reference implementations publish theirs), when the shared specs are there.

The Open Zaak deviations from the OAS (nulls and empty strings) are listed in ``demo.zgw_render``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo import conformance
from demo.model import Municipality, Zaak
from demo.simulator import Scope, Simulator, json_response
from demo.zgw_auth import check_zgw_token, zgw_clients
from demo.zgw_profile import APIS, BASES, OPENZAAK, Profile, profile_of
from demo.zgw_query import (
    PAGE_SIZE,
    Filter,
    Problem,
    invalid,
    is_uuid,
    not_found,
    page_size_of,
    paginate,
    parse_expand,
    parse_filters,
    parse_ordering,
    reject_unknown,
    validation_error,
)
from demo.zgw_render import Json, Renderer
from demo.zgw_select import (
    BESLUIT_FILTERS,
    BESLUITTYPE_FILTERS,
    BIO_FILTERS,
    CATALOGUS_FILTERS,
    EIGENSCHAP_FILTERS,
    EIO_FILTERS,
    IOTYPE_FILTERS,
    OIO_FILTERS,
    RESULTAAT_FILTERS,
    RESULTAATTYPE_FILTERS,
    ROL_FILTERS,
    ROLTYPE_FILTERS,
    STATUS_FILTERS,
    STATUSTYPE_FILTERS,
    ZAAK_FILTERS,
    ZAAK_ORDERING,
    ZAAK_ZOEK_FILTERS,
    ZAAKOBJECT_FILTERS,
    ZAAKTYPE_FILTERS,
    ZIO_FILTERS,
    select_besluiten,
    select_catalogus_types,
    select_eios,
    select_oios,
    select_resultaten,
    select_rollen,
    select_statussen,
    select_type_children,
    select_zaakobjecten,
    select_zaaktypen,
    select_zaken,
    select_zios,
)
from demo.zgw_store import ZgwStore
from demo.zgw_writes import (
    Publisher,
    new_status,
    new_zaak,
    notification,
    require_search_body,
    status_changes,
    zaak_changes,
    zoek_body,
)

CRS = "EPSG:4326"
DOCUMENT_YAML = "/schema/openapi.yaml"  # where Open Zaak and the VNG reference implementations publish theirs
# query filters Open Zaak 1.30's documents declare ``type: integer`` although they take (and the standard wants) URLs
URL_FILTERS_AS_INTEGER = frozenset({"zaak", "zaaktype", "catalogus", "informatieobject", "informatieobjecttype",
                                    "status", "gerelateerdAan", "besluit"})
ZAAK_EXPAND = ("zaaktype", "hoofdzaak", "deelzaken", "eigenschappen", "status", "status.statustype", "resultaat",
               "resultaat.resultaattype", "rollen", "rollen.roltype", "zaakobjecten", "zaakinformatieobjecten")
EXCEPTION_NAMES = {400: "ValidationError", 403: "PermissionDenied", 404: "NotFound", 405: "MethodNotAllowed",
                   406: "NotAcceptable", 412: "PreconditionFailed", 415: "UnsupportedMediaType"}
Handler = Callable[[Request], Awaitable[Response]]


def api_of(path: str) -> str:
    """Which API a path belongs to (by its first segment); anything else counts as Zaken."""
    parts = path.split("/")
    return parts[1] if len(parts) > 1 and parts[1] in BASES else "zaken"


@dataclass(frozen=True, slots=True)
class Resource:
    """One collection: how to select, find and render its items, and what its list accepts."""

    api: str
    path: str
    label: str  # singular and plural suffix for operation summaries, e.g. "STATUS|sen"
    select: Callable[[Mapping[str, Any]], Sequence[Any]]
    find: Callable[[str], Any]
    render: Callable[[Any], Json]
    filters: tuple[Filter, ...] = ()
    paged: bool = True
    expand: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    crs: bool = False


class ZgwSimulator(Simulator):
    name = "zaken"
    serves: ClassVar[tuple[str, ...]] = ("zaken", "catalogi", "documenten", "besluiten")
    title = "ZGW (Zaken, Catalogi, Documenten, Besluiten)"
    api_version = "1.5.1"  # Zaken, in either profile
    base_path = BASES["zaken"]
    default_port = 8101

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self.profile: Profile = profile_of(config)
        self._specs = self.profile.specs()
        self._documents: dict[str, bytes] = {}  # api -> its official document as JSON, made on first request
        self.catalogi_inlined = 0  # Catalogi objects inlined through expand since the last reset (each costs)
        self.store = ZgwStore(data)
        self.render = Renderer(self.store, self.url)
        self.clients = zgw_clients(config, self.serves)
        nrc = self.source_config("notificaties")
        self.publisher = Publisher(self.url("/notificaties", "notificaties") if "notificaties" in self.urls else None,
                                   str(nrc.get("client_id", "")), str(nrc.get("secret", "")))
        self._json: dict[tuple[str, str], tuple[Json, str]] = {}  # (path, key) -> (body, etag)
        self.resources = self._resources()
        self._by_path = {res.path: res for res in self.resources}

    @property
    def banner(self) -> str:
        return f"{self.profile.label} ZGW" if self.profile.name == "openzaak" else "ZGW, the standard to the letter"

    def reset(self) -> None:
        """Forget every write (tests that write call this so later tests see the generated data)."""
        self.store.reset()
        self._json.clear()

    def reset_counts(self) -> None:
        super().reset_counts()
        self.catalogi_inlined = 0

    def specs(self) -> Mapping[str, Sequence[str]]:
        return self._specs  # one object, so the base class builds its checker once

    def check_request(self, scope: Scope, body: bytes) -> conformance.Outcome | None:
        """As the base class, less what is no fault of the request: the document routes are no API operations
        (``openapi.json`` the base class already skips), and Open Zaak's own documents type its URL filters
        as integers (a fault of their generation; the product takes URLs there, as the standard says)."""
        if scope["path"].endswith(DOCUMENT_YAML):
            return None
        outcome = super().check_request(scope, body)
        if outcome is None or self.profile is not OPENZAAK:
            return outcome
        kept = tuple(v for v in outcome.violations if not (
            v.where == "query" and v.code == "integer" and v.member[:1] and v.member[0] in URL_FILTERS_AS_INTEGER))
        return dataclasses.replace(outcome, violations=kept) if len(kept) != len(outcome.violations) else outcome

    # -- the collections -----------------------------------------------------------------------------

    def _resources(self) -> list[Resource]:
        s, r = self.store, self.render
        cat = s.data.catalogus
        return [
            Resource("zaken", "/zaken", "ZAAK|en", lambda v: select_zaken(s, v), s.zaken.get, r.zaak, ZAAK_FILTERS,
                     expand=ZAAK_EXPAND, ordering=ZAAK_ORDERING, crs=True),
            Resource("zaken", "/statussen", "STATUS|sen", lambda v: select_statussen(s, v),
                     lambda u: s.child("status", u), lambda t: r.status(*t), STATUS_FILTERS),
            Resource("zaken", "/resultaten", "RESULTAAT|en", lambda v: select_resultaten(s, v),
                     lambda u: s.child("resultaat", u), lambda t: r.resultaat(*t), RESULTAAT_FILTERS),
            Resource("zaken", "/rollen", "ROL|len", lambda v: select_rollen(s, v), lambda u: s.child("rol", u),
                     lambda t: r.rol(*t), ROL_FILTERS),
            Resource("zaken", "/zaakobjecten", "ZAAKOBJECT|en", lambda v: select_zaakobjecten(s, v, r.object_url),
                     lambda u: s.child("zaakobject", u), lambda t: r.zaakobject(*t), ZAAKOBJECT_FILTERS),
            Resource("zaken", "/zaakinformatieobjecten", "ZAAK-INFORMATIEOBJECT|en", lambda v: select_zios(s, v),
                     self._find_zio, lambda t: r.zaakinformatieobject(*t), ZIO_FILTERS, paged=False),
            Resource("catalogi", "/catalogussen", "CATALOGUS|sen", lambda v: self._select_catalogus(v),
                     lambda u: cat if u == cat.uuid else None, lambda c: r.catalogus(), CATALOGUS_FILTERS),
            Resource("catalogi", "/zaaktypen", "ZAAKTYPE|n", lambda v: select_zaaktypen(s, v), s.zaaktypen.get,
                     r.zaaktype, ZAAKTYPE_FILTERS),
            Resource("catalogi", "/statustypen", "STATUSTYPE|n", lambda v: select_type_children(s, v, "statustypen"),
                     s.statustypen.get, lambda t: r.statustype(*t), STATUSTYPE_FILTERS),
            Resource("catalogi", "/roltypen", "ROLTYPE|n", lambda v: select_type_children(s, v, "roltypen"),
                     s.roltypen.get, lambda t: r.roltype(*t), ROLTYPE_FILTERS),
            Resource("catalogi", "/resultaattypen", "RESULTAATTYPE|n",
                     lambda v: select_type_children(s, v, "resultaattypen"), s.resultaattypen.get,
                     lambda t: r.resultaattype(*t), RESULTAATTYPE_FILTERS),
            Resource("catalogi", "/informatieobjecttypen", "INFORMATIEOBJECTTYPE|n",
                     lambda v: select_catalogus_types(s, v, cat.informatieobjecttypen, "informatieobjecttype_uuids"),
                     s.iotypen.get, r.informatieobjecttype, IOTYPE_FILTERS),
            Resource("catalogi", "/besluittypen", "BESLUITTYPE|n",
                     lambda v: select_catalogus_types(s, v, cat.besluittypen, "besluittype_uuids"),
                     s.besluittypen.get, r.besluittype, BESLUITTYPE_FILTERS),
            Resource("catalogi", "/eigenschappen", "EIGENSCHAP|pen", lambda v: [], lambda u: None, lambda e: {},
                     EIGENSCHAP_FILTERS),
            Resource("documenten", "/enkelvoudiginformatieobjecten", "(ENKELVOUDIG) INFORMATIEOBJECT|en",
                     lambda v: select_eios(s, v), s.documenten.get, r.eio, EIO_FILTERS,
                     expand=("informatieobjecttype",)),
            Resource("documenten", "/objectinformatieobjecten", "OBJECT-INFORMATIEOBJECT relatie|s",
                     lambda v: select_oios(s, v), lambda u: s.documenten.get(s.doc_of_oio.get(u, "")), r.oio,
                     OIO_FILTERS, paged=False),
            Resource("besluiten", "/besluiten", "BESLUIT|en", lambda v: select_besluiten(s, v), s.data.besluiten.get,
                     r.besluit,
                     BESLUIT_FILTERS, expand=("besluittype", "zaak")),
            Resource("besluiten", "/besluitinformatieobjecten", "BESLUIT-INFORMATIEOBJECT relatie|s", lambda v: [],
                     lambda u: None, lambda b: {}, BIO_FILTERS, paged=False),
        ]

    def _find_zio(self, zio_uuid: str) -> tuple[Zaak, Any] | None:
        doc = self.store.documenten.get(self.store.doc_of_zio.get(zio_uuid, ""))
        zaak = self.store.zaken.get(doc.zaak_uuid) if doc else None
        return (zaak, doc) if zaak and doc else None

    def _select_catalogus(self, values: Mapping[str, Any]) -> list[Any]:
        cat = self.store.data.catalogus
        ok = (values.get("domein", cat.domein) == cat.domein and values.get("rsin", cat.rsin) == cat.rsin
              and cat.domein in values.get("domein__in", [cat.domein])
              and cat.rsin in values.get("rsin__in", [cat.rsin]))
        return [cat] if ok else []

    # -- routes --------------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        routes: list[BaseRoute] = [Route(BASES[api] + "/openapi.json", self._openapi)
                                   for api in ("catalogi", "documenten", "besluiten")]
        routes += [Route(BASES[api] + DOCUMENT_YAML, self._openapi_yaml) for api in APIS]
        z, d = BASES["zaken"], BASES["documenten"]
        routes += [
            Route(z + "/zaken", self._guard("zaken", self.zaak_create, crs=True, content_crs=True), methods=["POST"]),
            Route(z + "/zaken/_zoek", self._guard("zaken", self.zaak_zoek, crs=True, content_crs=True),
                  methods=["POST"]),
            Route(z + "/zaken/{uuid}", self._guard("zaken", self.zaak_partial_update, crs=True, content_crs=True),
                  methods=["PATCH"]),
            Route(z + "/zaken/{zaak_uuid}/besluiten", self._guard("zaken", self.zaakbesluit_list)),
            Route(z + "/zaken/{zaak_uuid}/besluiten/{uuid}", self._guard("zaken", self.zaakbesluit_read)),
            Route(z + "/zaken/{zaak_uuid}/zaakeigenschappen", self._guard("zaken", self.zaakeigenschap_list)),
            Route(z + "/statussen", self._guard("zaken", self.status_create), methods=["POST"]),
            Route(d + "/enkelvoudiginformatieobjecten/_zoek", self._guard("documenten", self.eio_zoek),
                  methods=["POST"]),
            Route(d + "/enkelvoudiginformatieobjecten/{uuid}/download", self._guard("documenten", self.eio_download)),
        ]
        for res in self.resources:
            base = BASES[res.api] + res.path
            routes.append(Route(base, self._guard(res.api, self._list_endpoint(res), crs=res.crs)))
            routes.append(Route(base + "/{uuid}", self._guard(res.api, self._detail_endpoint(res), crs=res.crs)))
        return routes

    def _guard(self, api: str, handler: Handler, crs: bool = False, content_crs: bool = False) -> Handler:
        """Authentication, CRS negotiation and problem answers around one operation."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            negotiated = False
            try:
                self._authenticate(request)
                if content_crs:
                    self._check_crs(request, "Content-Crs")
                if crs:
                    self._check_crs(request, "Accept-Crs")
                    negotiated = True
                response = await handler(request)
            except Problem as problem:
                response = self._problem(request, problem)
            response.headers["API-version"] = self.profile.api_versions[api]
            if negotiated:
                response.headers["Content-Crs"] = CRS
            return response

        return endpoint

    def _authenticate(self, request: Request) -> None:
        reason = check_zgw_token(request.headers.get("authorization"), self.clients)
        if reason is None:
            return
        if reason == "Authenticatiegegevens zijn niet opgegeven.":
            raise Problem(403, "not_authenticated", reason, reason, None, "NotAuthenticated")
        raise Problem(403, "permission_denied", "U heeft geen toestemming om deze actie uit te voeren.", reason, None,
                      "PermissionDenied")

    @staticmethod
    def _check_crs(request: Request, header: str) -> None:
        value = request.headers.get(header)
        if not value:
            raise Problem(412, "precondition_failed", "Precondition failed", f"'{header}' header ontbreekt", None,
                          "PreconditionFailed")
        if value != CRS:
            raise Problem(406, "not_acceptable", "Kan niet voldoen aan de opgegeven Accept header.",
                          f"CRS '{value}' is niet ondersteund", None, "NotAcceptable")

    # -- errors --------------------------------------------------------------------------------------

    def _problem(self, request: Request, problem: Problem) -> Response:
        body = self._problem_body(request, problem.status, problem.title, problem.detail, problem.code,
                                  problem.exc_name)
        if problem.status == 400:
            body["invalidParams"] = problem.invalid_params or []
        return json_response(body, problem.status, self.error_media_type)

    @staticmethod
    def _problem_body(request: Request, status: int, title: str, detail: str, code: str, exc_name: str) -> Json:
        """Open Zaak's ``Fout``: a ``type`` URL naming the exception and a fresh ``urn:uuid`` instance."""
        return {"type": f"{request.base_url}ref/fouten/{exc_name}/", "code": code, "title": title, "status": status,
                "detail": detail, "instance": f"urn:uuid:{uuid.uuid4()}"}

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        body = self._problem_body(request, status, title, detail, code, EXCEPTION_NAMES.get(status, "APIException"))
        if status == 400:
            body["invalidParams"] = []
        return body

    def error(self, request: Request, status: int, title: str, detail: str = "", code: str = "error",
              headers: Mapping[str, str] | None = None) -> Response:
        merged = {self.version_header: self.profile.api_versions[api_of(request.url.path)], **(headers or {})}
        return super().error(request, status, title, detail, code, merged)

    # -- generic list and detail ---------------------------------------------------------------------

    def _cached(self, path: str, item: Any) -> Json:
        return self._rendered(path, item)[0]

    def _rendered(self, path: str, item: Any) -> tuple[Json, str]:
        """An item's JSON and ETag, computed once until the next write."""
        last = item[-1] if isinstance(item, tuple) else item
        key = (path, getattr(last, "uuid", ""))
        found = self._json.get(key)
        if found is None:
            body = self._by_path[path].render(item)
            found = (body, f'"{hashlib.md5(orjson.dumps(body), usedforsecurity=False).hexdigest()}"')
            self._json[key] = found
        return found

    def _list_endpoint(self, res: Resource) -> Handler:
        async def endpoint(request: Request) -> Response:
            query = request.query_params
            known = [f.name for f in res.filters] + (["page", "pageSize"] if res.paged else [])
            known += (["expand"] if res.expand else []) + (["ordering"] if res.ordering else [])
            reject_unknown(query.keys(), known)
            values = parse_filters(dict(query), res.filters)
            expand = parse_expand(query.get("expand"), res.expand) if res.expand else []
            if res.ordering:
                values["ordering"] = parse_ordering(query.get("ordering"), res.ordering)
            return await self._list_response(request, res, res.select(values), expand)

        endpoint.__name__ = f"{res.path.strip('/').replace('/', '_')}_list"
        endpoint.__doc__ = f"Alle {res.label.replace('|', '')} opvragen."
        return endpoint

    async def _list_response(self, request: Request, res: Resource, items: Sequence[Any],
                             expand: list[str]) -> Response:
        inlined = self.catalogi_inlined
        if not res.paged:
            body: Any = [self._item(res, i, expand, True) for i in items]
        else:
            query = request.query_params
            page = paginate(request.url, items, query.get("page"), self._page_size(query.get("pageSize")))
            body = page.body([self._item(res, i, expand, True) for i in page.items])
        await self._expand_cost(inlined)
        return json_response(body)

    def _page_size(self, raw: str | None) -> int:
        """``pageSize`` as Open Zaak reads it; a standard product ignores it and pages by its own size."""
        return page_size_of(raw) if self.profile.page_size_param else PAGE_SIZE

    async def _expand_cost(self, since: int) -> None:
        """Wait ``expand_cost_ms`` for every Catalogi object inlined since ``since`` (the answer was built in
        one go, without awaiting, so the difference is this answer's own)."""
        count = self.catalogi_inlined - since
        if count and self.behaviour.expand_cost_ms:
            await asyncio.sleep(count * self.behaviour.expand_cost_ms / 1000)

    def _item(self, res: Resource, item: Any, expand: list[str], in_list: bool) -> Json:
        body = self._cached(res.path, item)
        if not expand:
            return body
        expanded = self._expand(res, item, expand)
        # Open Zaak puts ``_expand`` on every list item, but on a detail only when something was expanded.
        return {**body, "_expand": expanded} if expanded or in_list else body

    def _detail_endpoint(self, res: Resource) -> Handler:
        async def endpoint(request: Request) -> Response:
            item = self._lookup(res.find, request.path_params["uuid"])
            expand = parse_expand(request.query_params.get("expand"), res.expand) if res.expand else []
            _, etag = self._rendered(res.path, item)
            if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
                return Response(status_code=304, headers={"ETag": etag})
            inlined = self.catalogi_inlined
            body = self._item(res, item, expand, False)
            await self._expand_cost(inlined)
            return json_response(body, headers={"ETag": etag})

        endpoint.__name__ = f"{res.path.strip('/').replace('/', '_')}_read"
        endpoint.__doc__ = f"Een specifieke {res.label.partition('|')[0]} opvragen."
        return endpoint

    @staticmethod
    def _lookup(find: Callable[[str], Any], key: str) -> Any:
        item = find(key) if is_uuid(key) else None
        if item is None:
            raise not_found()
        return item

    # -- expand --------------------------------------------------------------------------------------

    def _catalogi(self, path: str, item: Any) -> Json:
        """A Catalogi object to inline: counted, because Open Zaak pays dearly for each (``expand_cost_ms``)."""
        self.catalogi_inlined += 1
        return self._cached(path, item)

    def _expand(self, res: Resource, item: Any, paths: list[str]) -> Json:
        if res.path == "/zaken":
            return self._expand_zaak(item, paths)
        if res.path == "/enkelvoudiginformatieobjecten":
            return {"informatieobjecttype": self._catalogi("/informatieobjecttypen",
                                                           self.store.iotypen[item.informatieobjecttype_uuid])}
        out: Json = {}
        if "besluittype" in paths:
            out["besluittype"] = self._catalogi("/besluittypen", self.store.besluittypen[item.besluittype_uuid])
        zaak = self.store.zaken.get(item.zaak_uuid)
        if "zaak" in paths and zaak:
            out["zaak"] = self._cached("/zaken", zaak)
        return out

    def _expand_zaak(self, zaak: Zaak, paths: list[str]) -> Json:
        """Related resources inline; empty relations are left out, as Open Zaak's inclusion tree does."""
        s = self.store
        out: Json = {}

        def with_nested(body: Json, path: str, related: Callable[[], Json]) -> Json:
            return {**body, "_expand": {path.rpartition(".")[2]: related()}} if path in paths else body

        if "zaaktype" in paths:
            out["zaaktype"] = self._catalogi("/zaaktypen", s.zaaktypen[zaak.zaaktype_uuid])
        if "status" in paths and zaak.statussen:
            status = zaak.statussen[-1]
            out["status"] = with_nested(self._cached("/statussen", (zaak, status)), "status.statustype",
                                        lambda: self._catalogi("/statustypen", s.statustypen[status.statustype_uuid]))
        if "resultaat" in paths and zaak.resultaat:
            resultaat = zaak.resultaat
            out["resultaat"] = with_nested(
                self._cached("/resultaten", (zaak, resultaat)), "resultaat.resultaattype",
                lambda: self._catalogi("/resultaattypen", s.resultaattypen[resultaat.resultaattype_uuid]))
        if "rollen" in paths and zaak.rollen:
            out["rollen"] = [with_nested(self._cached("/rollen", (zaak, rol)), "rollen.roltype",
                                         functools.partial(self._catalogi, "/roltypen", s.roltypen[rol.roltype_uuid]))
                             for rol in zaak.rollen]
        if "zaakobjecten" in paths and zaak.zaakobjecten:
            out["zaakobjecten"] = [self._cached("/zaakobjecten", (zaak, o)) for o in zaak.zaakobjecten]
        docs = s.documents_of(zaak)
        if "zaakinformatieobjecten" in paths and docs:
            out["zaakinformatieobjecten"] = [self._cached("/zaakinformatieobjecten", (zaak, d)) for d in docs]
        return out

    # -- Zaken specials ------------------------------------------------------------------------------

    async def zaak_zoek(self, request: Request) -> Response:
        """Voer een (geo)-zoekopdracht uit op ZAAKen."""
        query = request.query_params
        reject_unknown(query.keys(), ["page", "pageSize", *(["expand"] if self.profile.zoek_expand_query else [])])
        body = zoek_body(await self._json_body(request))
        values = parse_filters(body, ZAAK_ZOEK_FILTERS)
        values["ordering"] = parse_ordering(body.get("ordering"), ZAAK_ORDERING)
        expand = parse_expand(self._zoek_expand(body.get("expand")), ZAAK_EXPAND)
        if query.get("expand"):
            expand = list(dict.fromkeys([*parse_expand(query["expand"], ZAAK_EXPAND), *expand]))
        return await self._list_response(request, self._by_path["/zaken"], select_zaken(self.store, values), expand)

    def _zoek_expand(self, raw: Any) -> Any:
        """The ``_zoek`` body's ``expand`` in the profile's form: Open Zaak declares an array and fails on a
        string (HTTP 500, as measured on 1.30.0); the standard declares a comma-separated string."""
        if self.profile.zoek_expand_array and isinstance(raw, str):
            raise Problem(500, "error", "Er is een serverfout opgetreden.", "Interne serverfout.", None,
                          "APIException")
        if not self.profile.zoek_expand_array and isinstance(raw, list):
            raise validation_error([invalid("expand", "invalid", "Geen geldige string.")])
        return raw

    async def zaakbesluit_list(self, request: Request) -> Response:
        """Alle ZAAKBESLUITen opvragen."""
        zaak = self._lookup(self.store.zaken.get, request.path_params["zaak_uuid"])
        return json_response([self.render.zaakbesluit(zaak, b) for b in zaak.besluit_uuids])

    async def zaakbesluit_read(self, request: Request) -> Response:
        """Een specifieke ZAAKBESLUIT opvragen."""
        zaak = self._lookup(self.store.zaken.get, request.path_params["zaak_uuid"])
        besluit_uuid = self.store.zaakbesluiten.get(request.path_params["uuid"])
        if besluit_uuid not in zaak.besluit_uuids:
            raise not_found()
        return json_response(self.render.zaakbesluit(zaak, str(besluit_uuid)))

    async def zaakeigenschap_list(self, request: Request) -> Response:
        """Alle ZAAKEIGENSCHAPpen opvragen."""
        self._lookup(self.store.zaken.get, request.path_params["zaak_uuid"])
        return json_response([])

    # -- Documenten specials -------------------------------------------------------------------------

    async def eio_zoek(self, request: Request) -> Response:
        """Voer een zoekopdracht uit op (ENKELVOUDIG) INFORMATIEOBJECTen."""
        body = require_search_body(await self._json_body(request))
        values = parse_filters(body, (Filter("uuid__in", "uuids"),))
        res = self._by_path["/enkelvoudiginformatieobjecten"]
        docs = [self.store.documenten[u] for u in values.get("uuid__in", []) if u in self.store.documenten]
        return await self._list_response(request, res, docs, parse_expand(body.get("expand"), res.expand))

    async def eio_download(self, request: Request) -> Response:
        """Download de binaire data van het (ENKELVOUDIG) INFORMATIEOBJECT."""
        doc = self._lookup(self.store.documenten.get, request.path_params["uuid"])
        return Response(doc.inhoud, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{doc.bestandsnaam}"'})

    # -- writes --------------------------------------------------------------------------------------

    @staticmethod
    async def _json_body(request: Request) -> Any:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip() != "application/json":
            raise Problem(415, "unsupported_media_type", f'Ongeldige media type "{content_type}" in aanvraag.',
                          f'Ongeldige media type "{content_type}" in aanvraag.', None, "UnsupportedMediaType")
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise Problem(400, "parse_error", "Misvormd verzoek.", "JSON parse error", [], "ParseError") from None

    def _written(self, zaak: Zaak, resource: str, resource_url: str, actie: str) -> None:
        self._json.clear()
        zaak_json = self._cached("/zaken", zaak)
        self.publisher.publish(notification(
            "zaken", zaak_json["url"], resource, resource_url, actie,
            {"bronorganisatie": zaak.bronorganisatie, "zaaktype": zaak_json["zaaktype"],
             "vertrouwelijkheidaanduiding": zaak.vertrouwelijkheidaanduiding}))

    async def zaak_create(self, request: Request) -> Response:
        """Maak een ZAAK aan."""
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise validation_error([invalid("nonFieldErrors", "invalid", "Ongeldige data. Verwacht een dictionary.")])
        zaak = new_zaak(self.store, body, dt.date.today())
        self.store.add_zaak(zaak)
        self._written(zaak, "zaak", self.render.zaak_url(zaak.uuid), "create")
        body = self._cached("/zaken", zaak)
        return json_response(body, 201, headers={"Location": body["url"]})

    async def zaak_partial_update(self, request: Request) -> Response:
        """Werk een ZAAK deels bij."""
        zaak = self._lookup(self.store.zaken.get, request.path_params["uuid"])
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise validation_error([invalid("nonFieldErrors", "invalid", "Ongeldige data. Verwacht een dictionary.")])
        zaak = self.store.replace_zaak(zaak, **zaak_changes(self.store, zaak, body))
        self._written(zaak, "zaak", self.render.zaak_url(zaak.uuid), "partial_update")
        return json_response(self._cached("/zaken", zaak))

    async def status_create(self, request: Request) -> Response:
        """Maak een STATUS aan."""
        body = await self._json_body(request)
        zaak, status = new_status(self.store, body if isinstance(body, dict) else {})
        zaak = self.store.replace_zaak(zaak, **status_changes(self.store, zaak, status))
        url = self.render.zrc(f"/statussen/{status.uuid}")
        self._written(zaak, "status", url, "create")
        return json_response(self._cached("/statussen", (zaak, status)), 201, headers={"Location": url})

    # -- OpenAPI per API -----------------------------------------------------------------------------

    async def _openapi(self, request: Request) -> Response:
        """The profile's official document as JSON, its server pointing here; without the shared specs, one
        synthesized from the routes."""
        api = api_of(request.url.path)
        headers = {"Access-Control-Allow-Origin": "*", "API-version": self.profile.api_versions[api]}
        if api not in self._documents:
            official = conformance.official_document(self.profile.documents[api])
            if official is None:
                return json_response(self._synthesized(api), headers=headers)
            self._documents[api] = orjson.dumps({**official, "servers": [{"url": self.url("", api)}]},
                                                option=orjson.OPT_NON_STR_KEYS)
        return Response(self._documents[api], media_type="application/json", headers=headers)

    async def _openapi_yaml(self, request: Request) -> Response:
        """``{base}/schema/openapi.yaml``: the official file as published (or the synthesized document, JSON
        being YAML too)."""
        api = api_of(request.url.path)
        path = conformance.SHARED_SPECS / self.profile.documents[api]
        body = path.read_bytes() if path.is_file() else orjson.dumps(self._synthesized(api))
        return Response(body, media_type="application/vnd.oai.openapi",
                        headers={"Access-Control-Allow-Origin": "*", "API-version": self.profile.api_versions[api]})

    def _declare_extensions(self, paths: dict[str, dict[str, Any]]) -> None:
        """What the profile accepts where products differ, declared as its official document would, so a client
        that reads the document learns the same without the shared specs."""
        page_size = {"name": "pageSize", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
        expand_type = {"type": "array", "items": {"type": "string"}} if self.profile.zoek_expand_array else {
            "type": "string"}
        zoek = paths.get("/zaken/_zoek", {}).get("post")
        if zoek is not None:
            zoek["requestBody"] = {"content": {"application/json": {"schema": {
                "type": "object", "properties": {"expand": expand_type}}}}}
            if self.profile.zoek_expand_query:
                zoek["parameters"] = [{"name": "expand", "in": "query", "required": False, "style": "form",
                                       "explode": False, "schema": {"type": "array", "items": {"type": "string"}}}]
        if self.profile.page_size_param:
            for path, method in (("/zaken", "get"), ("/zaken/_zoek", "post")):
                operation = paths.get(path, {}).get(method)
                if operation is not None:
                    operation.setdefault("parameters", []).append(page_size)

    def _synthesized(self, api: str) -> Json:
        base = BASES[api]
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes():
            if not isinstance(route, Route) or not route.path.startswith(base + "/") or "openapi." in route.path:
                continue
            ops = paths.setdefault(route.path[len(base):], {})
            for method in sorted((route.methods or set()) - {"HEAD"}):
                ops[method.lower()] = {
                    "operationId": route.name,
                    "summary": (route.endpoint.__doc__ or route.name).strip().splitlines()[0],
                    "responses": {"200": {"description": "OK"}},
                }
        if api == "zaken":
            self._declare_extensions(paths)
        title = f"{api.capitalize()} API ({self.profile.label}, Gemeentegraaf demo)"
        return {"openapi": "3.0.3", "info": {"title": title, "version": self.profile.api_versions[api]},
                "servers": [{"url": self.url("", api)}], "paths": paths}
