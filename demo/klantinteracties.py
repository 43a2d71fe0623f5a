"""Open Klant 2, the Klantinteracties API (OAS 0.9.0), as a municipality's contact centre exposes it.

Open Klant is Django REST framework with vng-api-common, and clients meet that stack's habits:

- ``Authorization: Token <key>``; a missing, malformed or unknown token is a 401 with
  ``WWW-Authenticate: Token`` (never 403: the permission class only asks "is there a token");
- errors are vng-api-common problem details ``{type: <host>/ref/fouten/<Exception>/, code, title, status,
  detail, instance: urn:uuid:...}`` in Dutch; a 400 adds ``invalidParams[{name, code, reason}]`` (the title
  of a 405 is DRF's *unformatted* template, braces included);
- lists are ``{count, next, previous, results}`` ordered newest first (``-pk``), paged with ``page`` and
  ``pageSize`` (default 100, capped at 500; a bad ``pageSize`` silently means 100); a page that does not
  exist (past the end, 0, not a number) is a 404 "Ongeldige pagina."; ``next``/``previous`` are absolute
  and their query keys sorted, and ``previous`` of page 2 drops ``page``;
- unknown query parameters and empty values are ignored; malformed UUID/URL/choice/date values are a 400;
- ``expand`` (a comma list, validated against the endpoint's choices) inlines related resources under
  ``_expand``, nested ``_expand`` for dotted paths; a dotted path without its parent expands nothing;
  list items of expandable resources ALWAYS carry ``_expand`` (``{}`` when nothing is expanded), a detail
  only when something was asked; an empty to-many relation expands to ``[]``, an empty to-one to ``null``.

Data: one partij (soortPartij persoon) per Open Klant customer, identified by the BSN of a BRP person,
with that person's BAG address as bezoekadres and an e-mail digitaal adres; each klantcontact has one
betrokkene (the partij) and, when it was about a zaak, one onderwerpobject pointing at that zaak by
uuid (the ``open-zaak``/``zaak``/``uuid`` convention, not a URL).
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.conformance import Specs, Violation, answer_status, drf_code
from demo.model import Klantcontact, Municipality, Partij
from demo.simulator import Simulator, json_response

LOCAL = ZoneInfo("Europe/Amsterdam")
JSON = dict[str, Any]

# --- Django REST framework + vng-api-common behaviour, shared with the Objects API simulator -------------


@dataclass(frozen=True, slots=True)
class DrfMessages:
    """What DRF, Django and vng-api-common answer with, in the language the product runs in."""

    titles: Mapping[str, str]  # exception class -> its default_detail, which vng-api-common uses as title
    not_authenticated: str
    no_credentials: str
    token_spaces: str
    invalid_token: str
    not_found: str
    invalid_page: str
    method_not_allowed: str  # DRF's template, with ``{method}``
    invalid_uuid: str
    invalid_url: str
    invalid_choice: str  # with ``{value}``
    invalid_date: str
    invalid_datetime: str
    invalid_number: str


DUTCH = DrfMessages(
    titles={
        "NotAuthenticated": "Authenticatiegegevens zijn niet opgegeven.",
        "AuthenticationFailed": "Ongeldige authenticatiegegevens.",
        "PermissionDenied": "Je hebt geen toestemming om deze actie uit te voeren.",
        "NotFound": "Niet gevonden.",
        "MethodNotAllowed": 'Methode "{method}" niet toegestaan.',
        "ValidationError": "Ongeldige invoer.",
        "ParseError": "Ongeldig samengestelde request.",
        "NotAcceptable": "Kan niet voldoen aan de opgegeven Accept header.",
        "UnsupportedMediaType": 'Ongeldige media type "{media_type}" in aanvraag.',
        "APIException": "Er is een serverfout opgetreden.",
    },
    not_authenticated="Authenticatiegegevens zijn niet opgegeven.",
    no_credentials="Ongeldige token header. Geen gegevens verstrekt.",
    token_spaces="Ongeldige token header. Token mag geen spaties bevatten.",
    invalid_token="Ongeldige token.",
    not_found="Niet gevonden.",
    invalid_page="Ongeldige pagina.",
    method_not_allowed='Methode "{method}" niet toegestaan.',
    invalid_uuid="Voer een geldige UUID in.",
    invalid_url="Voer een geldige URL in.",
    invalid_choice="Selecteer een geldige keuze. {value} is geen beschikbare keuze.",
    invalid_date="Voer een geldige datum in.",
    invalid_datetime="Voer een geldige datum/tijd in.",
    invalid_number="Voer een getal in.",
)

ENGLISH = DrfMessages(
    titles={
        "NotAuthenticated": "Authentication credentials were not provided.",
        "AuthenticationFailed": "Incorrect authentication credentials.",
        "PermissionDenied": "You do not have permission to perform this action.",
        "NotFound": "Not found.",
        "MethodNotAllowed": 'Method "{method}" not allowed.',
        "ValidationError": "Invalid input.",
        "ParseError": "Malformed request.",
        "NotAcceptable": "Could not satisfy the request Accept header.",
        "PreconditionFailed": "Precondition failed",
        "UnsupportedMediaType": 'Unsupported media type "{media_type}" in request.',
        "APIException": "A server error occurred.",
    },
    not_authenticated="Authentication credentials were not provided.",
    no_credentials="Invalid token header. No credentials provided.",
    token_spaces="Invalid token header. Token string should not contain spaces.",
    invalid_token="Invalid token.",
    not_found="Not found.",
    invalid_page="Invalid page.",
    method_not_allowed='Method "{method}" not allowed.',
    invalid_uuid="Enter a valid UUID.",
    invalid_url="Enter a valid URL.",
    invalid_choice="Select a valid choice. {value} is not one of the available choices.",
    invalid_date="Enter a valid date.",
    invalid_datetime="Enter a valid date/time.",
    invalid_number="Enter a number.",
)

EXCEPTION_BY_CODE = {
    "not_authenticated": "NotAuthenticated", "authentication_failed": "AuthenticationFailed",
    "permission_denied": "PermissionDenied", "not_found": "NotFound", "method_not_allowed": "MethodNotAllowed",
    "invalid": "ValidationError", "parse_error": "ParseError", "not_acceptable": "NotAcceptable",
    "precondition_failed": "PreconditionFailed", "unsupported_media_type": "UnsupportedMediaType",
}
EXCEPTION_BY_STATUS = {400: "ValidationError", 401: "NotAuthenticated", 403: "PermissionDenied", 404: "NotFound",
                       405: "MethodNotAllowed", 406: "NotAcceptable", 412: "PreconditionFailed",
                       415: "UnsupportedMediaType"}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False}


class ParamError(Exception):
    """One entry of ``invalidParams``: a query parameter django-filter refused."""

    def __init__(self, name: str, code: str, reason: str) -> None:
        super().__init__(reason)
        self.name, self.code, self.reason = name, code, reason


def replace_query_param(url: str, key: str, value: object) -> str:
    """DRF's helper: set one query key and re-encode the query with its keys sorted."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    query[key] = [str(value)]
    return urlunsplit(parts._replace(query=urlencode(sorted(query.items()), doseq=True)))


def remove_query_param(url: str, key: str) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    query.pop(key, None)
    return urlunsplit(parts._replace(query=urlencode(sorted(query.items()), doseq=True)))


def page_size(raw: str | None) -> int:
    """DRF's ``_positive_int(strict=True, cutoff=500)``, falling back to the default on anything odd."""
    try:
        size = int(raw) if raw is not None else DEFAULT_PAGE_SIZE
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE


def parse_uuid(value: str) -> str | None:
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        return None


def is_url(value: str) -> bool:
    """Roughly Django's URLValidator: a scheme it accepts and a host."""
    parts = urlsplit(value)
    return parts.scheme.lower() in {"http", "https", "ftp", "ftps"} and bool(parts.hostname) and " " not in value


def last_segment(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


def local_datetime(moment: dt.datetime) -> str:
    """DRF renders aware datetimes in the server's zone (Europe/Amsterdam), ISO 8601 with offset."""
    return moment.astimezone(LOCAL).isoformat()


class DrfSimulator(Simulator):
    """The parts of a DRF + vng-api-common product every endpoint shares: token auth, errors, paging."""

    messages: ClassVar[DrfMessages] = DUTCH
    invalid_params_key: ClassVar[str] = "invalidParams"

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        exception = EXCEPTION_BY_CODE.get(code) or EXCEPTION_BY_STATUS.get(status, "APIException")
        title = self.messages.titles.get(exception, title)
        if code == "not_found" and detail in {"Not Found", "", title}:
            detail = self.messages.not_found
        elif code == "method_not_allowed":
            detail = self.messages.method_not_allowed.format(method=request.method)
        return {
            "type": f"{str(request.base_url).rstrip('/')}/ref/fouten/{exception}/",
            "code": code,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": f"urn:uuid:{uuidlib.uuid4()}",
        }

    def validation_error(self, request: Request, errors: Sequence[ParamError], detail: str = "") -> Response:
        body = self.error_body(request, 400, "", detail, "invalid")
        body[self.invalid_params_key] = [{"name": e.name, "code": e.code, "reason": e.reason} for e in errors]
        return json_response(body, 400, self.error_media_type)

    async def conformance_error(self, request: Request, violations: Sequence[Violation]) -> Response:
        """django-filter's and the serializers' 400, in the language the product runs in."""
        if answer_status(violations) != 400:
            return await super().conformance_error(request, violations)
        english = self.messages is ENGLISH
        return self.validation_error(request, [ParamError(v.dotted or "nonFieldErrors", drf_code(v),
                                                          v.detail if english else v.reason) for v in violations])

    def product_accepts(self, violation: Violation) -> bool:
        """DRF's paging takes ``page=last``, and vng-api-common's any ``pageSize`` (not a number: the default;
        too large: the cap); a page that does not exist is the handler's own 404."""
        return (violation.where == "query" and violation.name in ("page", "pageSize")) or super().product_accepts(
            violation)

    def refused(self, request: Request) -> Response | None:
        """DRF TokenAuthentication: no ``Token`` keyword is "not provided", anything else wrong "failed"."""
        words = request.headers.get("authorization", "").split()
        challenge = {"WWW-Authenticate": "Token"}
        if not words or words[0].lower() != "token":
            return self.error(request, 401, "", self.messages.not_authenticated, "not_authenticated", challenge)
        if len(words) != 2:
            reason = self.messages.no_credentials if len(words) == 1 else self.messages.token_spaces
            return self.error(request, 401, "", reason, "authentication_failed", challenge)
        if not secrets.compare_digest(words[1].encode(), str(self.source_config().get("token", "")).encode()):
            return self.error(request, 401, "", self.messages.invalid_token, "authentication_failed", challenge)
        return None

    def not_found(self, request: Request, detail: str | None = None) -> Response:
        return self.error(request, 404, "", detail or self.messages.not_found, "not_found")

    def page(
        self, request: Request, items: Sequence[Any], render: Callable[[Any], JSON],
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """DRF PageNumberPagination with vng-api-common's ``pageSize``."""
        size = page_size(request.query_params.get("pageSize"))
        pages = max(1, math.ceil(len(items) / size))
        raw = request.query_params.get("page", "1")
        try:
            number = pages if raw == "last" else int(raw)
        except ValueError:
            number = 0
        if not 1 <= number <= pages:
            return self.not_found(request, self.messages.invalid_page)
        url = str(request.url)
        previous = None
        if number > 1:
            previous = remove_query_param(url, "page") if number == 2 else replace_query_param(url, "page", number - 1)
        body = {
            "count": len(items),
            "next": replace_query_param(url, "page", number + 1) if number < pages else None,
            "previous": previous,
            "results": [render(item) for item in items[(number - 1) * size:number * size]],
        }
        return json_response(body, headers=headers)


# --- django-filter query parameters ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    """One query parameter: how its value is parsed and which values of a record it is compared with.

    ``values`` yields the record's values (several when the filter crosses a to-many relation, where any
    match counts, like the Exists() subqueries Open Klant uses).
    """

    kind: str  # char | icontains | bool | uuid | url | choice | date | datetime
    values: Callable[[Any], Iterable[Any]]
    choices: tuple[str, ...] = ()


NOTHING: Callable[[Any], Iterable[Any]] = lambda _: ()  # noqa: E731 - relations the demo data never has


def parse_filter(name: str, flt: Filter, raw: str, messages: DrfMessages) -> Any:
    """The cleaned value, or None when django-filter would skip the parameter; ParamError when invalid."""
    if flt.kind in {"char", "icontains"}:
        return raw
    if flt.kind == "bool":
        return TRUE_WORDS.get(raw.lower())
    if flt.kind == "uuid":
        if (value := parse_uuid(raw)) is None:
            raise ParamError(name, "invalid", messages.invalid_uuid)
        return value
    if flt.kind == "url":
        if not is_url(raw):
            raise ParamError(name, "invalid", messages.invalid_url)
        return parse_uuid(last_segment(raw)) or ""
    if flt.kind == "choice":
        if raw not in flt.choices:
            raise ParamError(name, "invalid_choice", messages.invalid_choice.format(value=raw))
        return raw
    if flt.kind == "date":
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ParamError(name, "invalid", messages.invalid_date) from None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ParamError(name, "invalid", messages.invalid_datetime) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def matches(flt: Filter, record: Any, wanted: Any) -> bool:
    if flt.kind == "icontains":
        return any(wanted.lower() in str(v).lower() for v in flt.values(record))
    return any(v == wanted for v in flt.values(record))


def apply_filters(
    request: Request, items: Sequence[Any], filters: Mapping[str, Filter], messages: DrfMessages
) -> tuple[list[Any], list[ParamError]]:
    """Filter like a vng-api-common FilterSet: the matching items, or the errors of invalid parameters."""
    errors: list[ParamError] = []
    active: list[tuple[Filter, Any]] = []
    for name, flt in filters.items():
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            continue
        try:
            wanted = parse_filter(name, flt, raw, messages)
        except ParamError as exc:
            errors.append(exc)
            continue
        if wanted is not None:
            active.append((flt, wanted))
    if errors:
        return [], errors
    return [item for item in items if all(matches(flt, item, wanted) for flt, wanted in active)], []


# --- Open Klant ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Relation:
    """A relation ``expand`` can follow: the kind it leads to and how to find the related records."""

    kind: str
    many: bool
    related: Callable[[Any], list[Any]]


@dataclass(slots=True)
class Collection:
    """One Open Klant resource collection, with its records newest first (Open Klant orders by -pk)."""

    path: str
    kind: str
    list_summary: str
    detail_summary: str
    records: list[Any]
    by_uuid: dict[str, Any]
    filters: dict[str, Filter]
    expand: tuple[str, ...] | None = None  # the endpoint's expand choices; None: no expansion at all


def initials(voornamen: str) -> str:
    return "".join(f"{name[0]}." for name in voornamen.split())[:10]


class KlantinteractiesSimulator(DrfSimulator):
    """Partijen, their identificatoren and digitale adressen, klantcontacten, betrokkenen, onderwerpobjecten."""

    name = "klantinteracties"
    title = "Open Klant 2: Klantinteracties API"
    api_version = "0.9.0"
    base_path = "/klantinteracties/api/v1"
    default_port = 8105
    official_specs: ClassVar[Specs] = {
        "/klantinteracties/api/v1": ("klantinteracties/open-klant/klantinteracties/openapi.yaml",),
    }

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        partijen = list(data.partijen.values())
        contacten = list(data.klantcontacten.values())
        self._contacten_van: dict[str, list[Klantcontact]] = {}
        for kc in contacten:
            self._contacten_van.setdefault(kc.partij_uuid, []).append(kc)
        adressen = [p for p in partijen if p.emailadres]
        over_zaak = [kc for kc in contacten if kc.onderwerpobject_uuid]
        self._adres_uuid = {p.uuid: str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"digitaaladres/{p.uuid}"))
                            for p in adressen}
        self._relations: dict[str, dict[str, Relation]] = {
            "partij": {
                "betrokkenen": Relation("betrokkene", True, lambda p: self._contacten_van.get(p.uuid, [])),
                "categorieRelaties": Relation("categorierelatie", True, lambda p: []),
                "digitaleAdressen": Relation("digitaaladres", True, lambda p: [p] if p.emailadres else []),
            },
            "betrokkene": {
                "hadKlantcontact": Relation("klantcontact", False, lambda kc: [kc]),
                "wasPartij": Relation("partij", False, lambda kc: [self.data.partijen[kc.partij_uuid]]),
                "digitaleAdressen": Relation("digitaaladres", True, lambda kc: []),
            },
            "klantcontact": {
                "hadBetrokkenen": Relation("betrokkene", True, lambda kc: [kc]),
                "gingOverOnderwerpobjecten": Relation("onderwerpobject", True,
                                                      lambda kc: [kc] if kc.onderwerpobject_uuid else []),
                "leiddeTotInterneTaken": Relation("internetaak", True, lambda kc: []),
                "omvatteBijlagen": Relation("bijlage", True, lambda kc: []),
            },
            "digitaaladres": {
                "verstrektDoorBetrokkene": Relation("betrokkene", False, lambda p: []),
            },
        }
        self._renderers: dict[str, Callable[[Any], JSON]] = {
            "partij": self.render_partij, "partijidentificator": self.render_identificator,
            "betrokkene": self.render_betrokkene, "klantcontact": self.render_klantcontact,
            "onderwerpobject": self.render_onderwerpobject, "digitaaladres": self.render_digitaal_adres,
        }
        self.collections = [
            Collection("partijen", "partij", "Alle partijen opvragen.", "Een specifiek partij opvragen.",
                       partijen[::-1], {p.uuid: p for p in partijen}, self._partij_filters(),
                       ("betrokkenen", "betrokkenen.hadKlantcontact", "categorieRelaties", "digitaleAdressen")),
            Collection("partij-identificatoren", "partijidentificator", "Alle partij-identificatoren opvragen.",
                       "Een specifiek partij-identificator opvragen.", partijen[::-1],
                       {p.identificator_uuid: p for p in partijen}, self._identificator_filters()),
            Collection("digitaleadressen", "digitaaladres", "Alle digitale adressen opvragen.",
                       "Een specifiek digitaal adres opvragen.", adressen[::-1],
                       {self._adres_uuid[p.uuid]: p for p in adressen}, self._adres_filters(),
                       ("verstrektDoorBetrokkene", "verstrektDoorBetrokkene.hadKlantcontact",
                        "verstrektDoorBetrokkene.hadKlantcontact.leiddeTotInterneTaken")),
            Collection("klantcontacten", "klantcontact", "Alle klanten contacten opvragen.",
                       "Een specifiek klant contact opvragen.", contacten[::-1],
                       {kc.uuid: kc for kc in contacten}, self._klantcontact_filters(),
                       ("gingOverOnderwerpobjecten", "hadBetrokkenen", "hadBetrokkenen.digitaleAdressen",
                        "hadBetrokkenen.wasPartij", "leiddeTotInterneTaken", "omvatteBijlagen")),
            Collection("betrokkenen", "betrokkene", "Alle betrokkenen opvragen.", "Een specifiek betrokkene opvragen.",
                       contacten[::-1], {kc.betrokkene_uuid: kc for kc in contacten}, self._betrokkene_filters(),
                       ("digitaleAdressen",)),
            Collection("onderwerpobjecten", "onderwerpobject", "Alle onderwerpobject opvragen.",
                       "Een specifiek onderwerpobject opvragen.", over_zaak[::-1],
                       {str(kc.onderwerpobject_uuid): kc for kc in over_zaak}, self._onderwerpobject_filters()),
        ]

    # -- routes ----------------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        routes: list[BaseRoute] = []
        for coll in self.collections:
            routes.append(Route(f"{self.base_path}/{coll.path}", self._endpoint(coll, detail=False),
                                methods=["GET"], name=f"{coll.kind}_list"))
            routes.append(Route(f"{self.base_path}/{coll.path}/{{uuid}}", self._endpoint(coll, detail=True),
                                methods=["GET"], name=f"{coll.kind}_read"))
        return routes

    def _endpoint(self, coll: Collection, detail: bool) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if refused := self.refused(request):
                return refused
            return self.read_view(request, coll) if detail else self.list_view(request, coll)

        endpoint.__doc__ = coll.detail_summary if detail else coll.list_summary
        return endpoint

    def list_view(self, request: Request, coll: Collection) -> Response:
        expand = self._expand_paths(request, coll)
        if isinstance(expand, Response):
            return expand
        found, errors = apply_filters(request, coll.records, coll.filters, self.messages)
        if errors:
            return self.validation_error(request, errors)

        def render(record: Any) -> JSON:
            body = self._renderers[coll.kind](record)
            if expand is not None:
                body["_expand"] = self._expanded(coll.kind, record, expand, ())
            return body

        return self.page(request, found, render)

    def read_view(self, request: Request, coll: Collection) -> Response:
        expand = self._expand_paths(request, coll)
        if isinstance(expand, Response):
            return expand
        record = coll.by_uuid.get(parse_uuid(request.path_params["uuid"]) or "")
        if record is None:
            return self.not_found(request)
        body = self._renderers[coll.kind](record)
        if expand and (expanded := self._expanded(coll.kind, record, expand, ())):
            body["_expand"] = expanded
        return json_response(body)

    # -- expand ----------------------------------------------------------------------------------------

    def _expand_paths(self, request: Request, coll: Collection) -> set[tuple[str, ...]] | Response | None:
        """The requested paths; None when the endpoint does not expand (no ``_expand`` key at all)."""
        if coll.expand is None:
            return None
        raw = request.query_params.get("expand", "")
        wanted = [part for part in raw.split(",") if part] if raw else []
        bad = [ParamError("expand", "invalid_choice", self.messages.invalid_choice.format(value=part))
               for part in wanted if part not in coll.expand]
        if bad:
            return self.validation_error(request, bad[:1])
        return {tuple(part.split(".")) for part in wanted}

    def _expanded(self, kind: str, record: Any, paths: set[tuple[str, ...]], prefix: tuple[str, ...]) -> JSON:
        """The ``_expand`` object of one record for the requested paths below ``prefix``."""
        out: JSON = {}
        for name, relation in self._relations.get(kind, {}).items():
            path = (*prefix, name)
            if path not in paths:
                continue
            deeper = any(len(p) > len(path) and p[:len(path)] == path for p in paths)
            rendered = []
            for target in relation.related(record):
                body = self._renderers[relation.kind](target)
                if deeper:
                    body["_expand"] = self._expanded(relation.kind, target, paths, path)
                rendered.append(body)
            out[name] = rendered if relation.many else (rendered[0] if rendered else None)
        return out

    # -- rendering ---------------------------------------------------------------------------------------

    def _ref(self, path: str, uuid: str) -> JSON:
        return {"uuid": uuid, "url": self.url(f"/{path}/{uuid}")}

    def _bezoekadres(self, p: Partij) -> JSON | None:
        """The BRP address as Open Klant stores it: BAG id plus the address spelled out."""
        if not p.nummeraanduiding_id or p.nummeraanduiding_id not in self.data.nummeraanduidingen:
            return None
        na = self.data.nummeraanduidingen[p.nummeraanduiding_id]
        straat = self.data.openbare_ruimten[na.openbare_ruimte_id]
        plaats = self.data.woonplaatsen[straat.woonplaats_id].naam
        toevoeging = "-".join(x for x in (na.huisletter, na.huisnummertoevoeging) if x)
        postcode = f"{na.postcode[:4]} {na.postcode[4:]}"
        nummer = f"{na.huisnummer}{na.huisletter or ''}"
        if na.huisnummertoevoeging:
            nummer += f"-{na.huisnummertoevoeging}"
        return {
            "nummeraanduidingId": na.identificatie,
            "straatnaam": straat.naam,
            "huisnummer": na.huisnummer,
            "huisnummertoevoeging": toevoeging,
            "postcode": postcode,
            "stad": plaats,
            "adresregel1": f"{straat.naam} {nummer}",
            "adresregel2": f"{postcode}  {plaats.upper()}",
            "adresregel3": "",
            "land": "NL",
        }

    def _contactnaam(self, p: Partij) -> JSON:
        persoon = self.data.personen.get(p.bsn)
        return {
            "voorletters": initials(persoon.voornamen) if persoon else f"{p.voornaam[0]}.",
            "voornaam": p.voornaam,
            "voorvoegselAchternaam": p.voorvoegsel or "",
            "achternaam": p.achternaam,
        }

    @staticmethod
    def _volledige_naam(p: Partij) -> str:
        return " ".join(x for x in (p.voornaam, p.voorvoegsel, p.achternaam) if x)

    def render_identificator(self, p: Partij) -> JSON:
        return {
            **self._ref("partij-identificatoren", p.identificator_uuid),
            "identificeerdePartij": self._ref("partijen", p.uuid),
            "anderePartijIdentificator": "",
            "partijIdentificator": {"codeObjecttype": "natuurlijk_persoon", "codeSoortObjectId": "bsn",
                                    "objectId": p.bsn, "codeRegister": "brp"},
            "subIdentificatorVan": None,
        }

    def _geheim(self, p: Partij) -> bool:
        """BRP's indicatie geheimhouding, which a contact centre copies onto the partij."""
        persoon = self.data.personen.get(p.bsn)
        return bool(persoon and persoon.geheimhouding)

    def render_partij(self, p: Partij) -> JSON:
        adres = [self._ref("digitaleadressen", self._adres_uuid[p.uuid])] if p.emailadres else []
        return {
            **self._ref("partijen", p.uuid),
            "nummer": p.nummer,
            "interneNotitie": "",
            "betrokkenen": [self._ref("betrokkenen", kc.betrokkene_uuid) for kc in self._contacten_van.get(p.uuid, [])],
            "categorieRelaties": [],
            "digitaleAdressen": adres,
            "voorkeursDigitaalAdres": adres[0] if adres else None,
            "vertegenwoordigden": [],
            "rekeningnummers": [],
            "voorkeursRekeningnummer": None,
            "partijIdentificatoren": [self.render_identificator(p)],
            "soortPartij": "persoon",
            "indicatieGeheimhouding": self._geheim(p),
            "voorkeurstaal": "nld",
            "indicatieActief": True,
            "bezoekadres": self._bezoekadres(p),
            "correspondentieadres": None,
            "partijIdentificatie": {"contactnaam": self._contactnaam(p), "volledigeNaam": self._volledige_naam(p)},
        }

    def render_digitaal_adres(self, p: Partij) -> JSON:
        return {
            **self._ref("digitaleadressen", self._adres_uuid[p.uuid]),
            "verstrektDoorBetrokkene": None,
            "verstrektDoorPartij": self._ref("partijen", p.uuid),
            "adres": p.emailadres,
            "soortDigitaalAdres": "email",
            "isStandaardAdres": True,
            "omschrijving": "E-mailadres",
            "referentie": "portaal",
            "verificatieDatum": None,
        }

    def render_betrokkene(self, kc: Klantcontact) -> JSON:
        p = self.data.partijen[kc.partij_uuid]
        return {
            **self._ref("betrokkenen", kc.betrokkene_uuid),
            "wasPartij": self._ref("partijen", p.uuid),
            "hadKlantcontact": self._ref("klantcontacten", kc.uuid),
            "digitaleAdressen": [],
            "bezoekadres": None,
            "correspondentieadres": None,
            "contactnaam": self._contactnaam(p),
            "volledigeNaam": self._volledige_naam(p),
            "rol": "klant",
            "organisatienaam": "",
            "initiator": True,
        }

    def render_klantcontact(self, kc: Klantcontact) -> JSON:
        onderwerp = [self._ref("onderwerpobjecten", kc.onderwerpobject_uuid)] if kc.onderwerpobject_uuid else []
        return {
            **self._ref("klantcontacten", kc.uuid),
            "gingOverOnderwerpobjecten": onderwerp,
            "hadBetrokkenActoren": [],
            "omvatteBijlagen": [],
            "hadBetrokkenen": [self._ref("betrokkenen", kc.betrokkene_uuid)],
            "leiddeTotInterneTaken": [],
            "nummer": kc.nummer,
            "referentienummer": None,
            "kanaal": kc.kanaal,
            "onderwerp": kc.onderwerp,
            "inhoud": kc.inhoud,
            "reactie": "",
            "indicatieContactGelukt": kc.indicatie_contact_gelukt,
            "verdereActieOndernomen": False,
            "taal": "nld",
            "vertrouwelijk": False,
            "plaatsgevondenOp": local_datetime(kc.plaatsgevonden_op),
            "metadata": {},
        }

    def render_onderwerpobject(self, kc: Klantcontact) -> JSON:
        assert kc.onderwerpobject_uuid is not None
        assert kc.zaak_uuid is not None
        return {
            **self._ref("onderwerpobjecten", kc.onderwerpobject_uuid),
            "klantcontact": self._ref("klantcontacten", kc.uuid),
            "wasKlantcontact": None,
            "onderwerpobjectidentificator": {"objectId": kc.zaak_uuid, "codeObjecttype": "zaak",
                                             "codeRegister": "open-zaak", "codeSoortObjectId": "uuid"},
        }

    # -- filters -----------------------------------------------------------------------------------------

    @staticmethod
    def _identificator(prefix: str, partij_of: Callable[[Any], Partij | None]) -> dict[str, Filter]:
        """The four ``...partijIdentificator__*`` filters, reached through ``partij_of``."""
        def field_of(value: Callable[[Partij], str]) -> Callable[[Any], Iterable[Any]]:
            return lambda record: [value(p)] if (p := partij_of(record)) else []

        return {
            f"{prefix}__codeObjecttype": Filter("char", field_of(lambda p: "natuurlijk_persoon")),
            f"{prefix}__codeRegister": Filter("char", field_of(lambda p: "brp")),
            f"{prefix}__codeSoortObjectId": Filter("char", field_of(lambda p: "bsn")),
            f"{prefix}__objectId": Filter("char", field_of(lambda p: p.bsn)),
        }

    def _partij_of(self, kc: Klantcontact) -> Partij:
        return self.data.partijen[kc.partij_uuid]

    def _partij_filters(self) -> dict[str, Filter]:
        def adres(key: str) -> Callable[[Partij], Iterable[Any]]:
            return lambda p: [a[key]] if (a := self._bezoekadres(p)) else []

        filters = {
            "bezoekadresAdresregel1": Filter("char", adres("adresregel1")),
            "bezoekadresAdresregel2": Filter("char", adres("adresregel2")),
            "bezoekadresAdresregel3": Filter("char", adres("adresregel3")),
            "bezoekadresLand": Filter("char", adres("land")),
            "bezoekadresNummeraanduidingId": Filter("char", adres("nummeraanduidingId")),
            "categorierelatie__categorie__naam": Filter("char", NOTHING),
            "indicatieActief": Filter("bool", lambda p: [True]),
            "indicatieGeheimhouding": Filter("bool", lambda p: [self._geheim(p)]),
            "nummer": Filter("char", lambda p: [p.nummer]),
            "soortPartij": Filter("choice", lambda p: ["persoon"], ("contactpersoon", "organisatie", "persoon")),
            "vertegenwoordigdePartij__url": Filter("url", NOTHING),
            "vertegenwoordigdePartij__uuid": Filter("uuid", NOTHING),
            **self._identificator("partijIdentificator", lambda p: p),
            **self._identificator("subIdentificatorVan", lambda p: None),
        }
        for key in ("Adresregel1", "Adresregel2", "Adresregel3", "Land", "NummeraanduidingId"):
            filters[f"correspondentieadres{key}"] = Filter("char", NOTHING)
        return filters

    @staticmethod
    def _identificator_filters() -> dict[str, Filter]:
        return {
            "anderePartijIdentificator": Filter("char", lambda p: [""]),
            "partijIdentificatorCodeObjecttype": Filter(
                "choice", lambda p: ["natuurlijk_persoon"], ("natuurlijk_persoon", "niet_natuurlijk_persoon",
                                                             "vestiging")),
            "partijIdentificatorCodeRegister": Filter("choice", lambda p: ["brp"], ("brp", "hr")),
            "partijIdentificatorCodeSoortObjectId": Filter(
                "choice", lambda p: ["bsn"], ("bsn", "kvk_nummer", "rsin", "vestigingsnummer")),
            "partijIdentificatorObjectId": Filter("char", lambda p: [p.bsn]),
        }

    def _adres_filters(self) -> dict[str, Filter]:
        filters = {
            "adres": Filter("char", lambda p: [p.emailadres]),
            "adres__icontains": Filter("icontains", lambda p: [p.emailadres]),
            "isGeverifieerd": Filter("bool", lambda p: [False]),
            "isStandaardAdres": Filter("bool", lambda p: [True]),
            "omschrijving": Filter("char", lambda p: ["E-mailadres"]),
            "referentie": Filter("char", lambda p: ["portaal"]),
            "soortDigitaalAdres": Filter("choice", lambda p: ["email"], ("email", "overig", "telefoonnummer")),
            "verstrektDoorBetrokkene__rol": Filter("choice", NOTHING, ("klant", "vertegenwoordiger")),
            "verstrektDoorBetrokkene__url": Filter("url", NOTHING),
            "verstrektDoorBetrokkene__uuid": Filter("uuid", NOTHING),
            "verstrektDoorPartij__soortPartij": Filter("choice", lambda p: ["persoon"],
                                                       ("contactpersoon", "organisatie", "persoon")),
            "verstrektDoorPartij__url": Filter("url", lambda p: [p.uuid]),
            "verstrektDoorPartij__uuid": Filter("uuid", lambda p: [p.uuid]),
            **self._identificator("verstrektDoorPartij__partijIdentificator", lambda p: p),
        }
        for suffix in ("", "__gt", "__gte", "__lt", "__lte"):
            filters[f"verificatieDatum{suffix}"] = Filter("date", NOTHING)
        return filters

    def _klantcontact_filters(self) -> dict[str, Filter]:
        def onderwerp(value: Callable[[Klantcontact], str | None]) -> Callable[[Klantcontact], Iterable[Any]]:
            return lambda kc: [value(kc)] if kc.onderwerpobject_uuid else []

        filters = {
            "hadBetrokkene__digitaaladres__adres__icontains": Filter("icontains", NOTHING),
            "hadBetrokkene__url": Filter("url", lambda kc: [kc.betrokkene_uuid]),
            "hadBetrokkene__uuid": Filter("uuid", lambda kc: [kc.betrokkene_uuid]),
            "hadBetrokkene__wasPartij": Filter("bool", lambda kc: [True]),
            "hadBetrokkene__wasPartij__url": Filter("url", lambda kc: [kc.partij_uuid]),
            "hadBetrokkene__wasPartij__uuid": Filter("uuid", lambda kc: [kc.partij_uuid]),
            **self._identificator("hadBetrokkene__wasPartij__partijIdentificator", self._partij_of),
            "indicatieContactGelukt": Filter("bool", lambda kc: [kc.indicatie_contact_gelukt]),
            "inhoud": Filter("char", lambda kc: [kc.inhoud]),
            "kanaal": Filter("char", lambda kc: [kc.kanaal]),
            "leiddeTotInterneTaken": Filter("bool", lambda kc: [False]),
            "nummer": Filter("char", lambda kc: [kc.nummer]),
            "onderwerp": Filter("char", lambda kc: [kc.onderwerp]),
            "onderwerpobject__onderwerpobjectidentificatorCodeObjecttype": Filter("char", onderwerp(lambda kc: "zaak")),
            "onderwerpobject__onderwerpobjectidentificatorCodeRegister": Filter("char",
                                                                                onderwerp(lambda kc: "open-zaak")),
            "onderwerpobject__onderwerpobjectidentificatorCodeSoortObjectId": Filter("char",
                                                                                     onderwerp(lambda kc: "uuid")),
            "onderwerpobject__onderwerpobjectidentificatorObjectId": Filter("char", onderwerp(lambda kc: kc.zaak_uuid)),
            "onderwerpobject__url": Filter("url", onderwerp(lambda kc: kc.onderwerpobject_uuid)),
            "onderwerpobject__uuid": Filter("uuid", onderwerp(lambda kc: kc.onderwerpobject_uuid)),
            "plaatsgevondenOp": Filter("datetime", lambda kc: [kc.plaatsgevonden_op]),
            "reactie": Filter("char", lambda kc: [""]),
            "referentienummer": Filter("char", NOTHING),
            "vertrouwelijk": Filter("bool", lambda kc: [False]),
        }
        for key, kind in (("CodeObjecttype", "char"), ("CodeRegister", "char"), ("CodeSoortObjectId", "char"),
                          ("ObjectId", "char")):
            filters[f"wasOnderwerpobject__onderwerpobjectidentificator{key}"] = Filter(kind, NOTHING)
        filters["wasOnderwerpobject__url"] = Filter("url", NOTHING)
        filters["wasOnderwerpobject__uuid"] = Filter("uuid", NOTHING)
        return filters

    def _betrokkene_filters(self) -> dict[str, Filter]:
        def naam(key: str) -> Callable[[Klantcontact], Iterable[Any]]:
            return lambda kc: [self._contactnaam(self._partij_of(kc))[key]]

        return {
            "contactnaamAchternaam": Filter("char", naam("achternaam")),
            "contactnaamVoorletters": Filter("char", naam("voorletters")),
            "contactnaamVoornaam": Filter("char", naam("voornaam")),
            "contactnaamVoorvoegselAchternaam": Filter("char", naam("voorvoegselAchternaam")),
            "hadKlantcontact__nummer": Filter("char", lambda kc: [kc.nummer]),
            "hadKlantcontact__referentienummer": Filter("char", NOTHING),
            "hadKlantcontact__url": Filter("url", lambda kc: [kc.uuid]),
            "hadKlantcontact__uuid": Filter("uuid", lambda kc: [kc.uuid]),
            "organisatienaam": Filter("char", lambda kc: [""]),
            "verstrektedigitaalAdres__adres": Filter("char", NOTHING),
            "verstrektedigitaalAdres__url": Filter("url", NOTHING),
            "verstrektedigitaalAdres__uuid": Filter("uuid", NOTHING),
            "wasPartij__nummer": Filter("char", lambda kc: [self._partij_of(kc).nummer]),
            "wasPartij__url": Filter("url", lambda kc: [kc.partij_uuid]),
            "wasPartij__uuid": Filter("uuid", lambda kc: [kc.partij_uuid]),
            **self._identificator("wasPartij__partijIdentificator", self._partij_of),
        }

    @staticmethod
    def _onderwerpobject_filters() -> dict[str, Filter]:
        return {
            "klantcontact__url": Filter("url", lambda kc: [kc.uuid]),
            "klantcontact__uuid": Filter("uuid", lambda kc: [kc.uuid]),
            "onderwerpobjectidentificatorCodeObjecttype": Filter("char", lambda kc: ["zaak"]),
            "onderwerpobjectidentificatorCodeRegister": Filter("char", lambda kc: ["open-zaak"]),
            "onderwerpobjectidentificatorCodeSoortObjectId": Filter("char", lambda kc: ["uuid"]),
            "onderwerpobjectidentificatorObjectId": Filter("char", lambda kc: [kc.zaak_uuid]),
            "wasKlantcontact__url": Filter("url", NOTHING),
            "wasKlantcontact__uuid": Filter("uuid", NOTHING),
        }
