"""Haal Centraal BRP Personen v2 (OAS 2.7.0): one ``POST /personen``, seven query types.

Behaves like the RvIG API as its Gherkin features describe it: the request body is validated
parameter by parameter (every fault reported once, in ``invalidParams``), ``fields`` is mandatory and
checked against the paths the response type has, searches return at most 10 persons and skip the
deceased unless asked, and automatically delivered fields (geheimhouding, opschorting, inOnderzoek)
appear without being requested. Authentication is the old proef environment's ``X-API-KEY`` header.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.brp_fields import (
    ALIASES,
    GEZAG_PERSOON_BEPERKT,
    MAX_FIELDS,
    PERSOON,
    PERSOON_BEPERKT,
    Selection,
    Tree,
    merge,
    parse_fields,
    select,
)
from demo.brp_render import BINNENLAND, Onderzoek, PersonRenderer, opschorting
from demo.conformance import Specs, Violation, answer_status
from demo.model import Municipality, Persoon
from demo.simulator import Simulator, json_response

JSON_UTF8: Final = "application/json; charset=utf-8"
PROBLEM: Final = "application/problem+json"
RFC: Final = "https://datatracker.ietf.org/doc/html/"
PROBLEM_TYPES: Final = {
    400: RFC + "rfc7231#section-6.5.1", 401: RFC + "rfc7235#section-3.1", 403: RFC + "rfc7231#section-6.5.3",
    404: RFC + "rfc7231#section-6.5.4", 405: RFC + "rfc7231#section-6.5.5", 406: RFC + "rfc7231#section-6.5.6",
    415: RFC + "rfc7231#section-6.5.13", 429: RFC + "rfc6585#section-4", 500: RFC + "rfc7231#section-6.6.1",
    503: RFC + "rfc7231#section-6.6.4",
}
PARAMS_TITLE: Final = "Een of meerdere parameters zijn niet correct."
MAX_RESULTS: Final = 10
MAX_BSNS: Final = 20

NAAM_FILTER: Final = r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$"
BAG_ID_FILTER: Final = r"^(?!0{16})[0-9]{16}$"


@dataclass(frozen=True, slots=True)
class Param:
    """One request parameter as the spec types it."""

    kind: str  # string | integer | boolean | date | bsns | fields
    pattern: str | None = None
    minimum: int = 1
    maximum: int = 99999


PARAMS: Final = {
    "burgerservicenummer": Param("bsns", r"^[0-9]{9}$"),
    "geslachtsnaam": Param("string", NAAM_FILTER),
    "voornamen": Param("string", r"^[a-zA-Z0-9À-ž \.\-\']{1,199}\*{0,1}$"),
    "voorvoegsel": Param("string", r"^[a-zA-Z \']{1,10}$"),
    "geslacht": Param("string", r"^([Mm]|[Vv]|[Oo])$"),
    "geboortedatum": Param("date"),
    "gemeenteVanInschrijving": Param("string", r"^[0-9]{4}$"),
    "postcode": Param("string", r"^[1-9]{1}[0-9]{3}[ ]?[A-Za-z]{2}$"),
    "huisnummer": Param("integer"),
    "huisletter": Param("string", r"^[a-zA-Z]{1}$"),
    "huisnummertoevoeging": Param("string", r"^[a-zA-Z0-9 \-]{1,4}$"),
    "straat": Param("string", r"^[a-zA-Z0-9À-ž \-\'\.]{1,80}$|^[a-zA-Z0-9À-ž \-\'\.]{7,79}\*{1}$"
                              r"|^\*{1}[a-zA-Z0-9À-ž \-\'\.]{7,79}$"),
    "nummeraanduidingIdentificatie": Param("string", BAG_ID_FILTER),
    "adresseerbaarObjectIdentificatie": Param("string", BAG_ID_FILTER),
    "inclusiefOverledenPersonen": Param("boolean"),
    "fields": Param("fields"),
}
INCLUSIEF: Final = ("inclusiefOverledenPersonen",)


@dataclass(frozen=True, slots=True)
class QueryType:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    tree: Tree = field(default_factory=lambda: PERSOON_BEPERKT)
    overrides: Mapping[str, Param] = field(default_factory=dict)

    @property
    def search(self) -> bool:
        return "inclusiefOverledenPersonen" in self.optional

    def params(self) -> list[str]:
        names = [*self.required, *self.optional, "gemeenteVanInschrijving", "fields"]
        return list(dict.fromkeys(names))

    def param(self, name: str) -> Param:
        return self.overrides.get(name) or PARAMS[name]


QUERY_TYPES: Final = {
    "RaadpleegMetBurgerservicenummer": QueryType(("burgerservicenummer",), (), PERSOON),
    "ZoekMetGeslachtsnaamEnGeboortedatum": QueryType(
        ("geslachtsnaam", "geboortedatum"), ("geslacht", "voorvoegsel", "voornamen", *INCLUSIEF)),
    "ZoekMetNaamEnGemeenteVanInschrijving": QueryType(
        ("geslachtsnaam", "gemeenteVanInschrijving", "voornamen"), ("geslacht", "voorvoegsel", *INCLUSIEF),
        overrides={"voornamen": Param("string", NAAM_FILTER)}),
    "ZoekMetPostcodeEnHuisnummer": QueryType(
        ("postcode", "huisnummer"),
        ("huisletter", "huisnummertoevoeging", "geboortedatum", "geslachtsnaam", *INCLUSIEF)),
    "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving": QueryType(
        ("straat", "huisnummer", "gemeenteVanInschrijving"), ("huisletter", "huisnummertoevoeging", *INCLUSIEF)),
    "ZoekMetNummeraanduidingIdentificatie": QueryType(("nummeraanduidingIdentificatie",), INCLUSIEF),
    "ZoekMetAdresseerbaarObjectIdentificatie": QueryType(
        ("adresseerbaarObjectIdentificatie",), INCLUSIEF, GEZAG_PERSOON_BEPERKT),
}


@dataclass(frozen=True, slots=True)
class InvalidParam:
    name: str
    code: str
    reason: str


@dataclass(slots=True)
class Query:
    """A validated request body."""

    type: str
    kind: QueryType
    values: dict[str, Any]
    selection: Selection


class ParamsError(Exception):
    def __init__(self, invalid: list[InvalidParam]) -> None:
        super().__init__(", ".join(p.name for p in invalid))
        self.invalid = invalid


def _pattern_reason(pattern: str) -> str:
    return f"Waarde voldoet niet aan patroon {pattern}."


def _check_value(name: str, value: Any, param: Param) -> tuple[Any, list[InvalidParam]]:
    """The cleaned value, or the faults the real API reports for it."""
    if param.kind == "integer":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            return None, [InvalidParam(name, "integer", "Waarde is geen geldig getal.")]
        if value < param.minimum:
            return None, [InvalidParam(name, "minimum", f"Waarde is lager dan minimum {param.minimum}.")]
        if value > param.maximum:
            return None, [InvalidParam(name, "maximum", f"Waarde is hoger dan maximum {param.maximum}.")]
        return value, []
    if param.kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            return None, [InvalidParam(name, "boolean", "Waarde is geen boolean.")]
        return value, []
    if param.kind == "date":
        try:
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError(value)
            return dt.date.fromisoformat(value), []
        except ValueError:
            return None, [InvalidParam(name, "date", "Waarde is geen geldige datum.")]
    if param.kind == "bsns":
        return _check_array(name, value, MAX_BSNS, param.pattern or "")
    if not isinstance(value, str):
        return None, [InvalidParam(name, "string", "Waarde is geen geldige string.")]
    if param.pattern and not re.fullmatch(param.pattern, value):
        return None, [InvalidParam(name, "pattern", _pattern_reason(param.pattern))]
    return value, []


def _check_array(name: str, value: Any, maximum: int, pattern: str | None) -> tuple[Any, list[InvalidParam]]:
    if not isinstance(value, list):
        return None, [InvalidParam(name, "array", "Parameter is geen array.")]
    if not value:
        return None, [InvalidParam(name, "minItems", "Array bevat minder dan 1 items.")]
    if len(value) > maximum:
        return None, [InvalidParam(name, "maxItems", f"Array bevat meer dan {maximum} items.")]
    if pattern is None:
        return value, []
    faults = [InvalidParam(f"{name}[{i}]", "pattern", _pattern_reason(pattern))
              for i, item in enumerate(value) if not isinstance(item, str) or not re.fullmatch(pattern, item)]
    return (None if faults else value), faults


def parse_query(body: Any) -> Query:
    """Validate a request body the way the real API does; raises ParamsError with every fault."""
    if not isinstance(body, dict) or body.get("type") is None:
        raise ParamsError([InvalidParam("type", "required", "Parameter is verplicht.")])
    kind = QUERY_TYPES.get(body["type"]) if isinstance(body["type"], str) else None
    if kind is None:
        raise ParamsError([InvalidParam("type", "value", "Waarde is geen geldig zoek type.")])
    invalid: list[InvalidParam] = []
    values: dict[str, Any] = {}
    selection: Selection = {}
    for name in kind.params():
        value = body.get(name)
        required = name in kind.required or name == "fields"
        if value is None or (value == "" and required):
            if required:
                invalid.append(InvalidParam(name, "required", "Parameter is verplicht."))
            continue
        if name == "fields":
            fields, faults = _check_array(name, value, MAX_FIELDS, None)
            if fields is not None:
                selection, errors = parse_fields(fields, kind.tree)
                faults = [InvalidParam(f"fields[{e.index}]", e.code, e.reason) for e in errors]
        else:
            values[name], faults = _check_value(name, value, kind.param(name))
        invalid.extend(faults)
    allowed = {"type", *kind.params()}
    invalid.extend(InvalidParam(name, "unknownParam", "Parameter is niet verwacht.") for name in body
                   if name not in allowed)
    if invalid:
        raise ParamsError(invalid)
    return Query(body["type"], kind, values, selection)


def _norm(text: str) -> str:
    """Search ignores case and diacritics (Käster finds Kaster)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


def matches(pattern: str, value: str | None) -> bool:
    """Exact match, or a prefix/suffix match when the filter ends/starts with the ``*`` wildcard."""
    if value is None:
        return False
    wanted, have = _norm(pattern), _norm(value)
    if wanted.endswith("*"):
        return have.startswith(wanted[:-1])
    if wanted.startswith("*"):
        return have.endswith(wanted[1:])
    return have == wanted


class BrpSimulator(Simulator):
    """BRP API Personen v2 over the demo municipality's persons."""

    name = "brp"
    title = "Haal Centraal BRP Personen"
    api_version = "2.7.0"
    base_path = "/haalcentraal/api/brp"
    default_port = 8102
    official_specs: ClassVar[Specs] = {
        "/haalcentraal/api/brp": ("brp-personen/openapi.yaml",),
    }

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self.renderer = PersonRenderer(data)
        self._by_address: dict[tuple[str, int], list[Persoon]] = defaultdict(list)
        self._by_nummeraanduiding: dict[str, list[Persoon]] = defaultdict(list)
        self._by_object: dict[str, list[Persoon]] = defaultdict(list)
        self._by_birthday: dict[dt.date, list[Persoon]] = defaultdict(list)
        for p in sorted(data.personen.values(), key=lambda p: p.bsn):
            self._by_birthday[p.geboortedatum].append(p)
            found = self.renderer.address(p)
            if found is not None:
                na = found[0]
                self._by_address[(na.postcode, na.huisnummer)].append(p)
                self._by_nummeraanduiding[na.identificatie].append(p)
                self._by_object[na.adresseerbaar_object_id].append(p)

    def routes(self) -> Sequence[BaseRoute]:
        return [Route(f"{self.base_path}/personen", self.personen, methods=["POST"])]

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), code)  # the spec's code pattern has no "_"
        return {"type": PROBLEM_TYPES.get(status, RFC + "rfc7231"), "title": title, "status": status,
                "detail": detail, "instance": request.url.path, "code": camel}

    async def conformance_error(self, request: Request, violations: Sequence[Violation]) -> Response:
        """A body the OAS forbids is a ``paramsValidation`` 400, worded as the API words its own checks."""
        status = answer_status(violations)
        if status == 415:
            return self._problem(request, 415, {"title": "Media Type wordt niet ondersteund."})
        if status != 400:
            return await super().conformance_error(request, violations)
        names = ", ".join(dict.fromkeys(v.name or "body" for v in violations))
        return self._problem(request, 400, {
            "title": PARAMS_TITLE, "detail": f"De foutieve parameter(s) zijn: {names}.", "code": "paramsValidation",
            "invalidParams": [{"name": v.name or "body", "code": v.code, "reason": v.reason} for v in violations],
        })

    def _problem(self, request: Request, status: int, body: dict[str, Any]) -> Response:
        return json_response({"type": PROBLEM_TYPES[status], **body, "status": status,
                              "instance": request.url.path}, status, PROBLEM)

    # -- the endpoint --------------------------------------------------------------------------------

    async def personen(self, request: Request) -> Response:
        """Zoek of raadpleeg personen"""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return self._problem(request, 400, {
                "title": PARAMS_TITLE, "detail": "De request body is geen geldige JSON.", "code": "paramsValidation",
            })
        try:
            query = parse_query(body)
        except ParamsError as exc:
            names = ", ".join(dict.fromkeys(p.name for p in exc.invalid))
            return self._problem(request, 400, {
                "title": PARAMS_TITLE, "detail": f"De foutieve parameter(s) zijn: {names}.",
                "code": "paramsValidation",
                "invalidParams": [{"name": p.name, "code": p.code, "reason": p.reason} for p in exc.invalid],
            })
        found = self.find(query)
        if query.kind.search and len(found) > MAX_RESULTS:
            return self._problem(request, 400, {
                "title": "Teveel zoekresultaten.",
                "detail": f"Meer dan maximum van {MAX_RESULTS} zoekresultaten gevonden. Verfijn de zoekopdracht.",
                "code": "tooManyResults",
            })
        today = dt.date.today()
        personen = [self.render(p, query, today) for p in found]
        return json_response({"type": query.type, "personen": personen}, media_type=JSON_UTF8)

    def _refuse(self, request: Request) -> Response | None:
        """Authentication first (as the gateway in front of the API does), then content negotiation."""
        cfg = self.source_config()
        key = request.headers.get(str(cfg.get("header", "X-API-KEY")))
        if key is None:
            return self.error(request, 401, "Niet correct geauthenticeerd.", "De API key ontbreekt.",
                              "authentication", headers={"WWW-Authenticate": 'ApiKey header="X-API-KEY"'})
        if key != cfg.get("key"):
            return self.error(request, 403, "U bent niet geautoriseerd voor deze operatie.",
                              "De API key is ongeldig.", "autorisation")
        if not _json_utf8(request.headers.get("content-type", "")):
            return self._problem(request, 415, {"title": "Media Type wordt niet ondersteund."})
        if not _accepts_json(request.headers.get("accept")):
            return self._problem(request, 406, {"title": "Gevraagde contenttype wordt niet ondersteund."})
        return None

    # -- finding and rendering -----------------------------------------------------------------------

    def find(self, query: Query) -> list[Persoon]:
        q = query.values
        if query.type == "RaadpleegMetBurgerservicenummer":
            found: Iterable[Persoon] = (self.data.personen[b] for b in dict.fromkeys(q["burgerservicenummer"])
                                        if b in self.data.personen)
        else:
            found = self._search(query.type, q)
            if not q.get("inclusiefOverledenPersonen"):
                found = (p for p in found if p.overlijdensdatum is None)
        if "gemeenteVanInschrijving" in q:
            found = (p for p in found if self.renderer.gemeente(p)["code"] == q["gemeenteVanInschrijving"])
        return list(found)

    def _search(self, kind: str, q: dict[str, Any]) -> Iterable[Persoon]:
        checks: list[Callable[[Persoon], bool]] = []
        if "geslachtsnaam" in q:
            checks.append(lambda p: matches(q["geslachtsnaam"], p.geslachtsnaam))
        if "voornamen" in q:
            checks.append(lambda p: matches(q["voornamen"], p.voornamen))
        if "voorvoegsel" in q:
            checks.append(lambda p: matches(q["voorvoegsel"], p.voorvoegsel))
        if "geslacht" in q:
            checks.append(lambda p: p.geslacht == q["geslacht"].upper())
        if "geboortedatum" in q:
            checks.append(lambda p: p.geboortedatum == q["geboortedatum"])
        if "huisletter" in q:
            checks.append(lambda p: self._address_part(p, "huisletter", q["huisletter"]))
        if "huisnummertoevoeging" in q:
            checks.append(lambda p: self._address_part(p, "huisnummertoevoeging", q["huisnummertoevoeging"]))
        if "straat" in q:
            checks.append(lambda p: self._on_street(p, q["straat"], q["huisnummer"]))
        candidates: Iterable[Persoon]
        if kind == "ZoekMetPostcodeEnHuisnummer":
            candidates = self._by_address.get((q["postcode"].replace(" ", "").upper(), q["huisnummer"]), [])
        elif kind == "ZoekMetNummeraanduidingIdentificatie":
            candidates = self._by_nummeraanduiding.get(q["nummeraanduidingIdentificatie"], [])
        elif kind == "ZoekMetAdresseerbaarObjectIdentificatie":
            candidates = self._by_object.get(q["adresseerbaarObjectIdentificatie"], [])
        elif kind == "ZoekMetGeslachtsnaamEnGeboortedatum":
            candidates = self._by_birthday.get(q["geboortedatum"], [])
        else:
            candidates = sorted(self.data.personen.values(), key=lambda p: p.bsn)
        return (p for p in candidates if all(check(p) for check in checks))

    def _address_part(self, p: Persoon, part: str, wanted: str) -> bool:
        found = self.renderer.address(p)
        return found is not None and _norm(getattr(found[0], part) or "") == _norm(wanted)

    def _on_street(self, p: Persoon, straat: str, huisnummer: int) -> bool:
        """The straat filter matches the official and the short street name."""
        found = self.renderer.address(p)
        if found is None or found[0].huisnummer != huisnummer:
            return False
        return matches(straat, found[1].naam) or matches(straat, found[1].korte_naam)

    def render(self, p: Persoon, query: Query, today: dt.date) -> dict[str, Any]:
        full = self.renderer.persoon(p, today)
        view = dict(full)
        if full["verblijfplaats"]["type"] in BINNENLAND:  # the aliases only ever show a Dutch address
            view["verblijfplaatsBinnenland"] = full["verblijfplaats"]
            view["adresseringBinnenland"] = full["adressering"]
        out: dict[str, Any] = select(view, query.selection, query.kind.tree)
        for alias, real in ALIASES.items():
            if alias in out:
                merge(out.setdefault(real, {}), out.pop(alias))
        Onderzoek(p).annotate(out)
        if p.geheimhouding > 0:
            out["geheimhoudingPersoonsgegevens"] = True
        suspended = opschorting(p)
        if suspended is not None:
            out["opschortingBijhouding"] = suspended
        return out


def _media(header: str) -> tuple[str, dict[str, str]]:
    media, _, rest = header.partition(";")
    params = {}
    for item in rest.split(";"):
        key, _, value = item.partition("=")
        if key.strip():
            params[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params


def _json_utf8(content_type: str) -> bool:
    media, params = _media(content_type)
    return media == "application/json" and params.get("charset", "utf-8") == "utf-8"


def _accepts_json(accept: str | None) -> bool:
    """No Accept header means anything; an empty one, or one without JSON, is refused (406)."""
    if accept is None:
        return True
    for part in accept.split(","):
        media, params = _media(part)
        if media in ("*/*", "application/*", "application/json") and params.get("q", "1") not in ("0", "0.0"):
            return True
    return False
