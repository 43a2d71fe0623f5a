"""BAG API Individuele Bevragingen v2 (Kadaster LVBAG), as the live 2.9.x API behaves.

Facts come from the archived 2.0.0 OAS, the release notes up to 2.9.2 and the Gherkin features of
lvbag/BAG-API. What a gateway must cope with:

- ``X-Api-Key`` on every call: missing gives 401, an unknown key 403 (both problem+json, as the OAS
  describes them; the ``foutafhandeling`` feature instead documents a gateway body with 400/401);
- per key a sliding one-second rate limit (50/s live) and a day quota (50,000), announced on every
  answer in ``RateLimit-*``, ``X-Rate-Limit-*`` and ``Kadaster-RateLimit-DayLimit*`` headers; over it: 429;
- ``application/hal+json`` only: ``Accept: application/json`` is refused with 406;
- objects come wrapped (``{"verblijfsobject": {...}, "_links": ..., "_embedded": ...}``), an adres flat;
  ``/adresseerbareobjecten`` wraps twice (``{"verblijfsobject": {"verblijfsobject": {...}}}``);
- no multi-id GET: ids are checked against their type pattern (400 with ``invalid-params``, whose ``name``
  of a path parameter is lower-cased), an unknown id is 404; unknown query parameters are refused with
  code ``unknownParam`` (the Haal Centraal convention; the BAG documents do not say, and refusing is the
  safe side: a gateway that passes here cannot lean on a parameter the live API ignores);
- collections are paged with ``page``/``pageSize`` (10-100, default 20), links only where they apply, a
  page past the last one is 400, and ``X-Pagination-Page``/``X-Pagination-Limit`` headers;
- geometry only in RD (``Accept-Crs: epsg:28992``, anything else 406), ``Content-Crs`` on answers with
  geometry, coordinates with a z of 0; timestamps are local time without offset, as the live API writes
  them (the OAS says RFC 3339 date-time).

Registration metadata (document, voorkomen) is not in the model; it is derived from each identifier, so
it is the same on every run.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.conformance import Specs, Violation, answer_status
from demo.model import Municipality, Nummeraanduiding, OpenbareRuimte, Pand, Verblijfsobject, Woonplaats
from demo.simulator import Simulator, json_response

T = TypeVar("T")
HAL = "application/hal+json"
CRS = "epsg:28992"
DAY_LIMIT = 50_000
DEFAULT_RATE_LIMIT = 50
LOCAL = ZoneInfo("Europe/Amsterdam")  # the LV's clock: naive timestamps and the day quota's midnight

# The fictional municipality has no province in the model; its RD position lies in Utrecht.
PROVINCIE = {"identificatie": 26, "naam": "Utrecht", "afkorting": "UT"}

EINDSTATUS = frozenset({
    "Naamgeving ingetrokken", "Woonplaats ingetrokken", "Plaats ingetrokken", "Niet gerealiseerd verblijfsobject",
    "Verblijfsobject ingetrokken", "Verblijfsobject ten onrechte opgevoerd", "Niet gerealiseerd pand",
    "Pand gesloopt", "Pand ten onrechte opgevoerd",
})
NAAMGEVING = "Naamgeving uitgegeven"
WOONPLAATS_STATUS = "Woonplaats aangewezen"
AO_PATHS = {"01": "verblijfsobjecten", "02": "ligplaatsen", "03": "standplaatsen"}

# --- errors ----------------------------------------------------------------------------------------

_W3 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#/"
PROBLEMS: dict[int, tuple[str, str, str, str]] = {  # status -> (type, title, code, detail)
    400: (_W3 + "10.4.1 400 Bad Request", "Een of meerdere parameters zijn niet correct.", "paramsValidation",
          "The request could not be understood by the server due to malformed syntax. The client SHOULD NOT "
          "repeat the request without modification."),
    401: (_W3 + "10.4.2 401 Unauthorized", "Niet correct geauthenticeerd.", "authentication",
          "The request requires user authentication."),
    403: (_W3 + "10.4.4 403 Forbidden", "U bent niet geautoriseerd voor deze operatie.", "autorisation",
          "The server understood the request, but is refusing to fulfill it."),
    404: (_W3 + "10.4.5 404 Not Found", "Opgevraagde resource bestaat niet.", "notFound",
          "The server has not found anything matching the Request-URI."),
    405: (_W3 + "10.4.6 405 Method Not Allowed", "Deze methode is niet toegestaan", "methodNotAllowed",
          "Method not allowed"),
    406: (_W3 + "10.4.7 406 Not Acceptable", "Gevraagde contenttype wordt niet ondersteund.", "notAcceptable",
          "The resource identified by the request is only capable of generating response entities which have "
          "content characteristics not acceptable according to the accept headers sent in the request"),
    429: ("https://tools.ietf.org/html/rfc6585", "Too Many Requests", "tooManyRequests",
          "You have exceeded your quota"),
    500: (_W3 + "10.5.1 500 Internal server error", "Interne server fout.", "serverError",
          "The server encountered an unexpected condition which prevented it from fulfilling the request."),
    503: (_W3 + "10.5.4 503 Service Unavailable", "Bronservice is niet beschikbaar.", "sourceUnavailable",
          "The service is currently unable to handle the request due to a temporary overloading or "
          "maintenance of the server."),
}
PARAMS_REQUIRED = "Ten minste één parameter moet worden opgegeven."
PARAMS_COMBINATION = "Minimale combinatie van parameters moet worden opgegeven."
UNSUPPORTED_COMBINATION = "De combinatie van opgegeven parameters is niet toegestaan."


class BagError(Exception):
    """An answer other than 200, raised from deep inside a handler."""

    def __init__(self, status: int, title: str | None = None, code: str | None = None,
                 invalid: Sequence[dict[str, str]] = ()) -> None:
        super().__init__(title)
        self.status, self.title, self.code, self.invalid = status, title, code, list(invalid)


def invalid_param(name: str, code: str, reason: str) -> dict[str, str]:
    return {"type": f"https://www.vng.nl/realisatie/api/validaties/{code}", "name": name, "code": code,
            "reason": reason}


def params_error(*invalid: dict[str, str]) -> BagError:
    return BagError(400, invalid=invalid)


# --- query parameters ------------------------------------------------------------------------------

WOONPLAATS_PATTERN = "^[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3}$"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter's schema, checked the way the BAG API reports violations."""

    kind: str  # int, bool, date, datetime, pattern, text, list
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None

    def parse(self, name: str, raw: str) -> tuple[Any, dict[str, str] | None, bool]:
        """(value, error, is_type_error): a type error is reported alone, constraint errors all together."""
        if self.kind == "int":
            if not re.fullmatch(r"[+-]?\d{1,9}", raw):
                return None, invalid_param(name, "integer", "Waarde is geen geldige integer."), True
            number = int(raw)
            if self.minimum is not None and number < self.minimum:
                return None, invalid_param(name, "minimum", f"Waarde is lager dan minimum {self.minimum}."), False
            if self.maximum is not None and number > self.maximum:
                return None, invalid_param(name, "maximum", f"Waarde is hoger dan maximum {self.maximum}."), False
            return number, None, False
        if self.kind == "bool":
            if raw.lower() not in ("true", "false"):
                return None, invalid_param(name, "boolean", "Waarde is geen geldige boolean."), True
            return raw.lower() == "true", None, False
        if self.kind == "date":
            day = parse_date(raw)
            if day is None:
                return None, invalid_param(name, "date", "Waarde is geen geldige datum."), True
            return day, None, False
        if self.kind == "datetime":
            moment = parse_datetime(raw)
            if moment is None:
                return None, invalid_param(name, "timestamp", "Waarde is geen geldig tijdstip."), True
            return moment, None, False
        if self.max_length is not None and len(raw) > self.max_length:
            return None, invalid_param(name, "maxLength",
                                       f"Waarde is langer dan maximale lengte {self.max_length}."), False
        values = [v for v in raw.split(",") if v] if self.kind == "list" else [raw]
        if self.pattern and not all(_matches(self.pattern, v) for v in values):
            return None, invalid_param(name, "pattern", f"Waarde voldoet niet aan patroon {self.pattern}."), False
        return (values if self.kind == "list" else raw), None, False


def _matches(pattern: str, value: str) -> bool:
    if pattern == WOONPLAATS_PATTERN:  # the spec's alternation is unanchored; the API means 0001-9999
        return bool(re.fullmatch(r"\d{4}", value)) and value != "0000"
    return bool(re.fullmatch(pattern.strip("^$"), value))


def parse_date(raw: str) -> dt.date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def parse_datetime(raw: str) -> dt.datetime | None:
    """``YYYY-MM-DDThh:mm[:ss[.sss]]``, optionally with an offset; naive local time from here on."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:\d{2})?", raw)
    if not match:
        return None
    text = match[1] + (match[2] or "")[:4] + (match[3] or "")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(LOCAL).replace(tzinfo=None) if moment.tzinfo else moment


def local_now() -> dt.datetime:
    return dt.datetime.now(LOCAL).replace(tzinfo=None)


PARAMS: dict[str, Param] = {
    "postcode": Param("pattern", "^[1-9]{1}[0-9]{3}[ ]{0,1}[a-zA-Z]{2}$"),
    "huisnummer": Param("int", minimum=1, maximum=99999),
    "huisletter": Param("pattern", "^[a-zA-Z]{1}$"),
    "huisnummertoevoeging": Param("pattern", "^[0-9a-zA-Z]{1,4}$", max_length=4),
    "exacteMatch": Param("bool"),
    "inclusiefEindStatus": Param("bool"),
    "huidig": Param("bool"),
    "geldigOp": Param("date"),
    "beschikbaarOp": Param("datetime"),
    "adresseerbaarObjectIdentificatie": Param("pattern", "^[0-9]{4}(01|02|03)[0-9]{10}$"),
    "nummeraanduidingIdentificatie": Param("pattern", "^[0-9]{4}20[0-9]{10}$"),
    "pandIdentificatie": Param("pattern", "^[0-9]{4}10[0-9]{10}$"),
    "pandIdentificaties": Param("list", "^[0-9]{4}10[0-9]{10}$"),
    "openbareRuimteIdentificatie": Param("pattern", "^[0-9]{4}30[0-9]{10}$"),
    "woonplaatsIdentificatie": Param("pattern", WOONPLAATS_PATTERN),
    "woonplaatsNaam": Param("text", max_length=80),
    "openbareRuimteNaam": Param("text", max_length=80),
    "naam": Param("text", max_length=80),
    "q": Param("text", max_length=255),
    "page": Param("int", minimum=1),
    "pageSize": Param("int", minimum=10, maximum=100),
}
PATH_PATTERNS = {
    "nummeraanduiding": "^[0-9]{4}20[0-9]{10}$",
    "adresseerbaarObject": "^[0-9]{4}(01|02|03)[0-9]{10}$", "verblijfsobject": "^[0-9]{4}01[0-9]{10}$",
    "pand": "^[0-9]{4}10[0-9]{10}$", "openbareRuimte": "^[0-9]{4}30[0-9]{10}$", "woonplaats": WOONPLAATS_PATTERN,
}
TIME_TRAVEL = ("geldigOp", "beschikbaarOp", "huidig")
PAGING = ("page", "pageSize")

EXPANDS: dict[str, tuple[str, ...]] = {
    "adres": ("nummeraanduiding", "openbareRuimte", "woonplaats", "adresseerbaarObject", "panden"),
    "verblijfsobject": ("heeftAlsHoofdAdres", "heeftAlsNevenAdres", "maaktDeelUitVan"),
    "nummeraanduiding": ("ligtInWoonplaats", "ligtAanOpenbareRuimte"),
    "openbareRuimte": ("ligtInWoonplaats",),
    "woonplaats": ("bronhouders", "geometrie"),
    "pand": (),
}


def parse_expand(raw: str, allowed: Sequence[str]) -> tuple[set[str], list[dict[str, str]]]:
    """Names are matched case-insensitively; ``a.b`` expands ``a`` whole (dot notation is not supported)."""
    if raw.strip().lower() == "true":
        return set(allowed), []
    canonical = {name.lower(): name for name in allowed}
    chosen: set[str] = set()
    errors = []
    for part in raw.split(","):
        name = canonical.get(part.strip().split(".")[0].lower())
        if name:
            chosen.add(name)
        else:
            errors.append(invalid_param("expand", "expand", f"Deel van de parameterwaarde is niet correct: {part}."))
    return chosen, errors


def query(request: Request, allowed: Iterable[str], expand_of: str | None = None,
          ignored: Iterable[str] = ()) -> dict[str, Any]:
    """The request's parameters, validated; unknown ones are refused rather than silently ignored."""
    allowed, ignored = set(allowed), set(ignored)
    values: dict[str, Any] = {}
    type_errors: list[dict[str, str]] = []
    errors: list[dict[str, str]] = []
    for name, raw in request.query_params.multi_items():
        if name in ignored:
            continue
        if name == "expand" and expand_of is not None:
            chosen, bad = parse_expand(raw, EXPANDS[expand_of])
            values["expand"] = values.get("expand", set()) | chosen
            errors.extend(bad)
            continue
        if name not in allowed or name not in PARAMS:
            errors.append(invalid_param(name, "unknownParam", "Parameter is niet verwacht."))
            continue
        if raw == "" or (name in values and PARAMS[name].kind != "list"):
            continue  # a parameter without a value counts as not given
        value, error, is_type = PARAMS[name].parse(name, raw)
        if error:
            (type_errors if is_type else errors).append(error)
        elif PARAMS[name].kind == "list":
            values[name] = values.get(name, []) + value
        else:
            values[name] = value
    if type_errors:
        raise params_error(type_errors[0])
    if errors:
        raise params_error(*errors)
    values.setdefault("expand", set())
    return values


def check_path_id(name: str, kind: str, value: str) -> None:
    pattern = PATH_PATTERNS[kind]
    if not _matches(pattern, value):
        raise params_error(invalid_param(name.lower(), "pattern", f"Waarde voldoet niet aan patroon {pattern}."))


@dataclass(frozen=True, slots=True)
class Search:
    """One way to search a collection: the parameters it needs and the ones it may add."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()


def search(*required: str, optional: Iterable[str] = ()) -> Search:
    return Search(frozenset(required), frozenset(optional))


ADRES_OPTIONAL = ("huisletter", "huisnummertoevoeging", "exacteMatch")
ADRES_SEARCHES = (
    search("postcode", "huisnummer", optional=ADRES_OPTIONAL),
    search("woonplaatsNaam", "openbareRuimteNaam", "huisnummer", optional=ADRES_OPTIONAL),
    search("adresseerbaarObjectIdentificatie"),
    search("pandIdentificatie"),
    search("openbareRuimteIdentificatie"),
    search("q"),
)
MODIFIERS = frozenset({"page", "pageSize", "expand", "inclusiefEindStatus", *TIME_TRAVEL})


def choose_search(values: Mapping[str, Any], searches: Sequence[Search]) -> Search:
    """The one search the given parameters make, or the 400 the API gives for an incomplete or mixed one."""
    given = set(values) - MODIFIERS
    if not given - {"huisletter", "huisnummertoevoeging", "exacteMatch"}:
        raise BagError(400, PARAMS_REQUIRED, "paramsRequired")
    fitting = [s for s in searches if given <= s.required | s.optional]
    for s in fitting:
        if s.required <= given:
            return s
    if fitting:
        raise BagError(400, PARAMS_COMBINATION, "paramsCombination")
    raise BagError(400, UNSUPPORTED_COMBINATION, "unsupportedCombination")


# --- deterministic registration metadata ------------------------------------------------------------

BAG_START = dt.date(2009, 7, 1)
LATEST = dt.date(2024, 6, 28)


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


def lv_timestamp(moment: dt.datetime, millis: bool = False) -> str:
    """Local time without offset, as the live API writes it; LV timestamps carry milliseconds."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return text + f".{moment.microsecond // 1000:03d}" if millis else text


@dataclass(frozen=True, slots=True)
class Registratie:
    documentdatum: dt.date
    documentnummer: str
    versie: int
    tijdstip: dt.datetime
    tijdstip_lv: dt.datetime

    @classmethod
    def of(cls, ident: str, floor: dt.date, prefix: str) -> Registratie:
        h = _hash(ident)
        start = min(max(floor, BAG_START), LATEST - dt.timedelta(days=30))
        day = min(start + dt.timedelta(days=h % 900), LATEST)
        tijdstip = dt.datetime(day.year, day.month, day.day, 8 + (h >> 10) % 9, (h >> 14) % 60, (h >> 20) % 60)
        tijdstip += dt.timedelta(days=(h >> 4) % 6)
        lv = tijdstip + dt.timedelta(minutes=5 + (h >> 8) % 50, milliseconds=(h >> 3) % 1000)
        return cls(day, f"{prefix} {day.year}-{h % 100000:05d}", 1 + (h >> 24) % 3, tijdstip, lv)

    def fields(self) -> dict[str, Any]:
        return {
            "geconstateerd": "N",
            "documentdatum": self.documentdatum.isoformat(),
            "documentnummer": self.documentnummer,
            "voorkomen": {
                "tijdstipRegistratie": lv_timestamp(self.tijdstip),
                "versie": self.versie,
                "beginGeldigheid": self.documentdatum.isoformat(),
                "tijdstipRegistratieLV": lv_timestamp(self.tijdstip_lv, millis=True),
            },
        }

    def exists(self, geldig_op: dt.date | None, beschikbaar_op: dt.datetime | None) -> bool:
        """Time travel: the one voorkomen is valid from its documentdatum, available from its LV registration."""
        return (geldig_op is None or geldig_op >= self.documentdatum) and (
            beschikbaar_op is None or beschikbaar_op >= self.tijdstip_lv)


# --- rate limiting -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Quota:
    window: collections.deque[float] = field(default_factory=collections.deque)
    day: dt.date = field(default_factory=lambda: local_now().date())
    used_today: int = 0


# --- rendering context ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Ctx:
    """What shapes links and embedding for one request: time-travel parameters and the expansions asked."""

    given: dict[str, str]  # time-travel parameters exactly as given (self links of items)
    expand: set[str]

    @property
    def related(self) -> dict[str, str]:
        """Links to related resources carry both time-travel parameters once either was given."""
        if not self.given:
            return {}
        now = local_now()
        return {"geldigOp": self.given.get("geldigOp", now.date().isoformat()),
                "beschikbaarOp": self.given.get("beschikbaarOp", lv_timestamp(now))}


def point(xy: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(xy[0], 3), round(xy[1], 3), 0]}


def rectangle(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return {"type": "Polygon", "coordinates": [[[round(x, 3), round(y, 3), 0] for x, y in ring]]}


def adresregels(korte_naam: str, na: Nummeraanduiding, woonplaats: str) -> dict[str, str]:
    """NEN 5825: a toevoeging starting with a digit is joined with a hyphen, anything else with a space."""
    suffix = (na.huisletter or "") + (na.huisnummertoevoeging or "")
    regel5 = f"{korte_naam} {na.huisnummer}"
    if suffix:
        regel5 += ("-" if suffix[0].isdigit() else " ") + suffix
    return {"adresregel5": regel5, "adresregel6": f"{na.postcode[:4]} {na.postcode[4:]}  {woonplaats.upper()}"}


# --- the simulator --------------------------------------------------------------------------------------


class BagSimulator(Simulator):
    """Addresses and buildings of the municipality, one BAG object per model record."""

    name = "bag"
    title = "BAG API Individuele Bevragingen"
    api_version = "2.9.2"
    base_path = "/lvbag/individuelebevragingen/v2"
    default_port = 8103
    official_specs: ClassVar[Specs] = {
        "/lvbag/individuelebevragingen/v2": ("bag/openapi.yaml",),  # 2.0.0: the last published
    }
    version_header = "api-version"

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        source = self.source_config()
        self.rate_limit_per_s: int = int(source.get("rate_limit_per_s", DEFAULT_RATE_LIMIT))
        self.day_limit: int = int(source.get("demo_day_limit", DAY_LIMIT))
        self.api_keys = {str(k) for k in [source.get("key"), *source.get("demo_keys", ())] if k}
        self.key_header = str(source.get("header", "X-Api-Key"))
        self.quotas: dict[str, Quota] = {}
        self._index()

    def _index(self) -> None:
        d = self.data
        self.vo_nads: dict[str, list[Nummeraanduiding]] = collections.defaultdict(list)
        self.or_nads: dict[str, list[Nummeraanduiding]] = collections.defaultdict(list)
        for na in sorted(d.nummeraanduidingen.values(), key=_adres_key):
            self.vo_nads[na.adresseerbaar_object_id].append(na)
            self.or_nads[na.openbare_ruimte_id].append(na)
        self.pand_vos: dict[str, list[Verblijfsobject]] = collections.defaultdict(list)
        for vo in sorted(d.verblijfsobjecten.values(), key=lambda v: v.identificatie):
            for pid in vo.pand_ids:
                self.pand_vos[pid].append(vo)
        self.wp_ors: dict[str, list[OpenbareRuimte]] = collections.defaultdict(list)
        for orr in sorted(d.openbare_ruimten.values(), key=lambda o: o.identificatie):
            self.wp_ors[orr.woonplaats_id].append(orr)
        self.registraties: dict[str, Registratie] = {}
        for wp in d.woonplaatsen.values():
            self.registraties[wp.identificatie] = Registratie.of(wp.identificatie, BAG_START, "WP")
        for orr in d.openbare_ruimten.values():
            self.registraties[orr.identificatie] = Registratie.of(orr.identificatie, BAG_START, "OR")
        for pand in d.panden.values():
            floor = dt.date(pand.oorspronkelijk_bouwjaar, 1, 1) if pand.oorspronkelijk_bouwjaar > 2009 else BAG_START
            self.registraties[pand.identificatie] = Registratie.of(pand.identificatie, floor, "BV")
        for vo in d.verblijfsobjecten.values():
            floor = max((self.registraties[p].documentdatum for p in vo.pand_ids if p in d.panden), default=BAG_START)
            self.registraties[vo.identificatie] = Registratie.of(vo.identificatie, floor, "BV")
            for na in self.vo_nads[vo.identificatie]:
                self.registraties[na.identificatie] = Registratie.of(na.identificatie, floor, "NB")
        for na in d.nummeraanduidingen.values():
            self.registraties.setdefault(na.identificatie, Registratie.of(na.identificatie, BAG_START, "NB"))
        points = [vo.rd for vo in d.verblijfsobjecten.values()]
        self.centre = (sum(p[0] for p in points) / max(1, len(points)), sum(p[1] for p in points) / max(1, len(points)))

    # -- plumbing ------------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        b = self.base_path
        table: list[tuple[str, Callable[[Request], Response], bool]] = [
            ("/adressen", self.adressen, False),
            ("/adressen/{nummeraanduidingIdentificatie}", self.adres, False),
            ("/adressenuitgebreid", self.adressen_uitgebreid, True),
            ("/adressenuitgebreid/{nummeraanduidingIdentificatie}", self.adres_uitgebreid, True),
            ("/adresseerbareobjecten", self.adresseerbare_objecten, True),
            ("/adresseerbareobjecten/{adresseerbaarObjectIdentificatie}", self.adresseerbaar_object, True),
            ("/verblijfsobjecten", self.verblijfsobjecten, True),
            ("/verblijfsobjecten/{identificatie}", self.verblijfsobject, True),
            ("/panden", self.panden, True),
            ("/panden/{identificatie}", self.pand, True),
            ("/nummeraanduidingen", self.nummeraanduidingen, False),
            ("/nummeraanduidingen/{nummeraanduidingIdentificatie}", self.nummeraanduiding, False),
            ("/openbareruimten", self.openbare_ruimten, False),
            ("/openbareruimten/{openbareRuimteIdentificatie}", self.openbare_ruimte, False),
            ("/woonplaatsen", self.woonplaatsen, True),
            ("/woonplaatsen/{identificatie}", self.woonplaats, True),
        ]
        return [Route(b + path, self._guarded(handler, crs), methods=["GET"], name=handler.__name__)
                for path, handler, crs in table]

    def _guarded(self, handler: Callable[[Request], Response], crs: bool) -> Callable[[Request], Any]:
        """Key check, rate limit, content negotiation and BAG error bodies around one operation."""

        async def endpoint(request: Request) -> Response:
            key = request.headers.get(self.key_header, "")
            if not key:
                return self.problem(request, BagError(401))
            if key not in self.api_keys:
                return self.problem(request, BagError(403))
            allowed, headers = self.take_quota(key)
            if not allowed:
                return self.problem(request, BagError(429), headers)
            try:
                self.negotiate(request, crs)
                response = handler(request)
            except BagError as e:
                response = self.problem(request, e)
            response.headers.update(headers)
            return response

        endpoint.__doc__ = handler.__doc__
        return endpoint

    def take_quota(self, key: str) -> tuple[bool, dict[str, str]]:
        """Sliding one-second window and a day quota per key; refused calls do not count."""
        quota = self.quotas.setdefault(key, Quota())
        now, wall = time.monotonic(), local_now()
        today = wall.date()
        while quota.window and quota.window[0] <= now - 1.0:
            quota.window.popleft()
        if quota.day != today:
            quota.day, quota.used_today = today, 0
        allowed = len(quota.window) < self.rate_limit_per_s and quota.used_today < self.day_limit
        if allowed:
            quota.window.append(now)
            quota.used_today += 1
        remaining = max(0, self.rate_limit_per_s - len(quota.window))
        reset = max(1, math.ceil(quota.window[0] + 1.0 - now)) if quota.window else 1
        midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
        day_reset = max(1, math.ceil((midnight - wall).total_seconds()))
        day_remaining = max(0, self.day_limit - quota.used_today)
        headers = {
            "RateLimit-Limit": str(self.rate_limit_per_s), "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "X-Rate-Limit-Limit": str(self.rate_limit_per_s), "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": "1",
            "Kadaster-RateLimit-DayLimit": str(self.day_limit),
            "Kadaster-RateLimit-DayLimit-Remaining": str(day_remaining),
            "Kadaster-RateLimit-DayLimit-Reset": str(day_reset),
        }
        return allowed, headers

    def negotiate(self, request: Request, crs: bool) -> None:
        """Only HAL is served (plain JSON too is refused); RD is the only coordinate system."""
        accept = request.headers.get("accept", "")
        if accept.strip():
            ranges = []
            for item in accept.split(","):
                media, *params = (p.strip() for p in item.split(";"))
                q = next((p[2:] for p in params if p.startswith("q=")), "1")
                ranges.append((media.lower(), q))
            if not any(m in ("*/*", "application/*", HAL) and q not in ("0", "0.0", "0.00", "0.000")
                       for m, q in ranges):
                raise BagError(406)
        accept_crs = request.headers.get("accept-crs")
        if crs and accept_crs is not None and accept_crs.strip().lower() != CRS:
            raise BagError(406, f"Gevraagde coördinatenstelsel {accept_crs} wordt niet ondersteund.",
                           "crsNotAcceptable")

    def instance(self, request: Request) -> str:
        path = request.url.path
        path = path[len(self.base_path):] if path.startswith(self.base_path) else path
        return path + (f"?{request.url.query}" if request.url.query else "")

    def problem_body(self, request: Request, status: int, title: str | None = None, code: str | None = None,
                     invalid: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
        kind, default_title, default_code, detail = PROBLEMS.get(status, PROBLEMS[500])
        body: dict[str, Any] = {"status": status, "title": title or default_title, "type": kind, "detail": detail,
                                "instance": self.instance(request), "code": code or default_code}
        if invalid:
            body["invalid-params"] = list(invalid)
        return body

    def problem(self, request: Request, error: BagError, headers: Mapping[str, str] | None = None) -> Response:
        body = self.problem_body(request, error.status, error.title, error.code, error.invalid)
        return json_response(body, error.status, self.error_media_type, headers)

    async def conformance_error(self, request: Request, violations: Sequence[Violation]) -> Response:
        """``paramsValidation`` with ``invalid-params``; a path parameter's name lower-cased, as the API does."""
        if answer_status(violations) != 400:
            return await super().conformance_error(request, violations)
        return self.problem(request, params_error(*(
            invalid_param(v.name.lower() if v.where == "path" else v.name, v.code, v.reason) for v in violations)))

    def product_accepts(self, violation: Violation) -> bool:
        """Where the live API (2.9) outgrew the 2.0.0 document: ``GET /panden`` by address (2.5+), and a
        postcode with a space (the handler checks the 2.9 pattern itself)."""
        if violation.where == "operation":
            return violation.code == "methodNotAllowed" and violation.name == "/panden"
        return ((violation.where == "query" and violation.name == "postcode" and violation.code == "pattern")
                or super().product_accepts(violation))

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        """Errors the base raises (unknown route, wrong method, injected faults) in the BAG shape."""
        if status in PROBLEMS:
            return self.problem_body(request, status)
        return {"status": status, "title": title, "type": f"{_W3}{status}", "detail": detail,
                "instance": self.instance(request), "code": code}

    def hal(self, body: Any, headers: Mapping[str, str] | None = None, geometry: bool = False) -> Response:
        extra = dict(headers or {})
        if geometry:
            extra["Content-Crs"] = CRS
        return json_response(body, 200, HAL, extra)

    def request_url(self, request: Request) -> str:
        """The URL exactly as the client gave it: what ``_links.self`` of the answer holds."""
        return self.url(self.instance(request))

    def href(self, collection: str, ident: str, params: Mapping[str, str] | None = None) -> dict[str, str]:
        url = self.url(f"/{collection}/{ident}")
        return {"href": url + (f"?{urlencode(params)}" if params else "")}

    def context(self, request: Request, values: Mapping[str, Any]) -> Ctx:
        given = {k: request.query_params[k] for k in ("geldigOp", "beschikbaarOp") if values.get(k) is not None}
        return Ctx(given, set(values.get("expand", set())))

    # -- lookups with time travel and huidig ------------------------------------------------------------

    def visible(self, ident: str, status: str, values: Mapping[str, Any]) -> bool:
        if values.get("huidig") and status in EINDSTATUS:
            return False
        return self.registraties[ident].exists(values.get("geldigOp"), values.get("beschikbaarOp"))

    def get(self, table: Mapping[str, T], ident: str, status: Callable[[T], str], values: Mapping[str, Any]) -> T:
        record = table.get(ident)
        if record is None or not self.visible(ident, status(record), values):
            raise BagError(404)
        return record

    def adres_parts(self, na: Nummeraanduiding) -> tuple[OpenbareRuimte, Woonplaats, Verblijfsobject | None]:
        orr = self.data.openbare_ruimten[na.openbare_ruimte_id]
        return orr, self.data.woonplaatsen[orr.woonplaats_id], self.data.verblijfsobjecten.get(
            na.adresseerbaar_object_id)

    def is_current(self, na: Nummeraanduiding, with_panden: bool) -> bool:
        """Adressen only ever show current addresses: no object in the chain has an end status."""
        _orr, _wp, vo = self.adres_parts(na)
        statuses = [NAAMGEVING, WOONPLAATS_STATUS]
        if vo is not None:
            statuses.append(vo.status)
            if with_panden:
                statuses += [self.data.panden[p].status for p in vo.pand_ids if p in self.data.panden]
        return not EINDSTATUS.intersection(statuses)

    # -- rendering ------------------------------------------------------------------------------------

    def render_woonplaats(self, wp: Woonplaats, ctx: Ctx, embed: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "woonplaats": {"identificatie": wp.identificatie, "domein": "NL.IMBAG.Woonplaats", "naam": wp.naam,
                           "status": WOONPLAATS_STATUS, **self.registraties[wp.identificatie].fields()},
            "_links": {"self": self.href("woonplaatsen", wp.identificatie, ctx.given),
                       "bronhouders": [self.href("bronhouders", wp.gemeentecode, ctx.related)]},
        }
        embedded: dict[str, Any] = {}
        if embed and "geometrie" in ctx.expand:
            embedded["geometrie"] = {"vlak": self.woonplaats_vlak(wp)}
        if embed and "bronhouders" in ctx.expand:
            embedded["bronhouders"] = [self.bronhouder(wp)]
        if embedded:
            body["_embedded"] = embedded
        return body

    def woonplaats_vlak(self, wp: Woonplaats) -> dict[str, Any]:
        """The woonplaats as the box around its units, 100 m wide of them."""
        points = [vo.rd for orr in self.wp_ors[wp.identificatie] for na in self.or_nads[orr.identificatie]
                  if (vo := self.data.verblijfsobjecten.get(na.adresseerbaar_object_id))] or [self.centre]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return rectangle(min(xs) - 100, min(ys) - 100, max(xs) + 100, max(ys) + 100)

    def bronhouder(self, wp: Woonplaats) -> dict[str, Any]:
        reg = self.registraties[wp.identificatie]
        return {"code": wp.gemeentecode, "naam": wp.gemeentenaam, "beginGeldigheid": BAG_START.isoformat(),
                "provincie": PROVINCIE, "status": "Actief", "versie": 1,
                "tijdstipRegistratieLV": lv_timestamp(reg.tijdstip_lv, millis=True)}

    def render_openbare_ruimte(self, orr: OpenbareRuimte, ctx: Ctx, embed: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "openbareRuimte": {"identificatie": orr.identificatie, "domein": "NL.IMBAG.Openbareruimte",
                               "naam": orr.naam, "type": orr.type, "status": NAAMGEVING, "korteNaam": orr.korte_naam,
                               **self.registraties[orr.identificatie].fields(), "ligtIn": orr.woonplaats_id},
            "_links": {"self": self.href("openbareruimten", orr.identificatie, ctx.given),
                       "ligtInWoonplaats": self.href("woonplaatsen", orr.woonplaats_id, ctx.related)},
        }
        if embed and "ligtInWoonplaats" in ctx.expand:
            body["_embedded"] = {"ligtInWoonplaats": self.render_woonplaats(
                self.data.woonplaatsen[orr.woonplaats_id], ctx, embed=False)}
        return body

    def render_nummeraanduiding(self, na: Nummeraanduiding, ctx: Ctx, embed: bool = True) -> dict[str, Any]:
        orr, wp, _vo = self.adres_parts(na)
        fields: dict[str, Any] = {"identificatie": na.identificatie, "domein": "NL.IMBAG.Nummeraanduiding",
                                  "huisnummer": na.huisnummer}
        if na.huisletter:
            fields["huisletter"] = na.huisletter
        if na.huisnummertoevoeging:
            fields["huisnummertoevoeging"] = na.huisnummertoevoeging
        fields |= {"postcode": na.postcode, "typeAdresseerbaarObject": na.type_adresseerbaar_object,
                   "status": NAAMGEVING, **self.registraties[na.identificatie].fields(),
                   "ligtIn": wp.identificatie, "ligtAan": orr.identificatie}
        body: dict[str, Any] = {
            "nummeraanduiding": fields,
            "_links": {"self": self.href("nummeraanduidingen", na.identificatie, ctx.given),
                       "ligtInWoonplaats": self.href("woonplaatsen", wp.identificatie, ctx.related),
                       "ligtAanOpenbareRuimte": self.href("openbareruimten", orr.identificatie, ctx.related)},
        }
        embedded: dict[str, Any] = {}
        if embed and "ligtInWoonplaats" in ctx.expand:
            embedded["ligtInWoonplaats"] = self.render_woonplaats(wp, ctx, embed=False)
        if embed and "ligtAanOpenbareRuimte" in ctx.expand:
            embedded["ligtAanOpenbareRuimte"] = self.render_openbare_ruimte(orr, ctx, embed=False)
        if embedded:
            body["_embedded"] = embedded
        return body

    def pand_geometrie(self, pand: Pand) -> dict[str, Any]:
        """A rectangle around the pand's units (the model has no footprints), at least 8 by 10 m."""
        points = [vo.rd for vo in self.pand_vos[pand.identificatie]]
        if not points:
            h = _hash(pand.identificatie)
            points = [(self.centre[0] + h % 2000 - 1000, self.centre[1] + (h >> 11) % 2000 - 1000)]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return rectangle(min(xs) - 4, min(ys) - 5, max(max(xs) + 4, min(xs) + 4), max(max(ys) + 5, min(ys) + 5))

    def render_pand(self, pand: Pand, ctx: Ctx) -> dict[str, Any]:
        return {
            "pand": {"identificatie": pand.identificatie, "domein": "NL.IMBAG.Pand",
                     "geometrie": self.pand_geometrie(pand),
                     "oorspronkelijkBouwjaar": f"{pand.oorspronkelijk_bouwjaar:04d}", "status": pand.status,
                     **self.registraties[pand.identificatie].fields()},
            "_links": {"self": self.href("panden", pand.identificatie, ctx.given)},
        }

    def nevenadressen(self, vo: Verblijfsobject) -> list[Nummeraanduiding]:
        return [na for na in self.vo_nads[vo.identificatie] if na.identificatie != vo.hoofdadres_id]

    def render_verblijfsobject(self, vo: Verblijfsobject, ctx: Ctx, embed: bool = True) -> dict[str, Any]:
        neven = self.nevenadressen(vo)
        fields: dict[str, Any] = {"type": "Verblijfsobject", "heeftAlsHoofdAdres": vo.hoofdadres_id}
        if neven:
            fields["heeftAlsNevenAdres"] = [na.identificatie for na in neven]
        fields |= {"identificatie": vo.identificatie, "domein": "NL.IMBAG.Verblijfsobject",
                   "geometrie": {"punt": point(vo.rd)}, "gebruiksdoelen": list(vo.gebruiksdoelen),
                   "oppervlakte": vo.oppervlakte, "status": vo.status,
                   **self.registraties[vo.identificatie].fields(), "maaktDeelUitVan": list(vo.pand_ids)}
        links: dict[str, Any] = {"self": self.href("verblijfsobjecten", vo.identificatie, ctx.given),
                                 "heeftAlsHoofdAdres": self.href("nummeraanduidingen", vo.hoofdadres_id, ctx.related)}
        if neven:
            links["heeftAlsNevenAdres"] = [self.href("nummeraanduidingen", na.identificatie, ctx.related)
                                           for na in neven]
        links["maaktDeelUitVan"] = [self.href("panden", p, ctx.related) for p in vo.pand_ids]
        body: dict[str, Any] = {"verblijfsobject": fields, "_links": links}
        embedded: dict[str, Any] = {}
        if embed and "heeftAlsHoofdAdres" in ctx.expand and vo.hoofdadres_id in self.data.nummeraanduidingen:
            embedded["heeftAlsHoofdAdres"] = self.render_nummeraanduiding(
                self.data.nummeraanduidingen[vo.hoofdadres_id], ctx, embed=False)
        if embed and "heeftAlsNevenAdres" in ctx.expand and neven:
            embedded["heeftAlsNevenAdres"] = [self.render_nummeraanduiding(na, ctx, embed=False) for na in neven]
        if embed and "maaktDeelUitVan" in ctx.expand:
            embedded["maaktDeelUitVan"] = [self.render_pand(self.data.panden[p], ctx) for p in vo.pand_ids
                                           if p in self.data.panden]
        if embedded:
            body["_embedded"] = embedded
        return body

    def render_adresseerbaar_object(self, vo: Verblijfsobject, ctx: Ctx, embed: bool = True) -> dict[str, Any]:
        """Wrapped twice: the type's name, then the object's own HAL resource."""
        return {"verblijfsobject": self.render_verblijfsobject(vo, ctx, embed)}

    def adres_fields(self, na: Nummeraanduiding) -> dict[str, Any]:
        orr, wp, vo = self.adres_parts(na)
        fields: dict[str, Any] = {"openbareRuimteNaam": orr.naam, "korteNaam": orr.korte_naam,
                                  "huisnummer": na.huisnummer}
        if na.huisletter:
            fields["huisletter"] = na.huisletter
        if na.huisnummertoevoeging:
            fields["huisnummertoevoeging"] = na.huisnummertoevoeging
        fields |= {"postcode": na.postcode, "woonplaatsNaam": wp.naam,
                   "nummeraanduidingIdentificatie": na.identificatie, "openbareRuimteIdentificatie": orr.identificatie,
                   "woonplaatsIdentificatie": wp.identificatie,
                   "adresseerbaarObjectIdentificatie": na.adresseerbaar_object_id,
                   "pandIdentificaties": list(vo.pand_ids) if vo else []}
        if vo is not None and vo.hoofdadres_id != na.identificatie:
            fields["indicatieNevenadres"] = True
        return fields | adresregels(orr.korte_naam, na, wp.naam)

    def adres_links(self, na: Nummeraanduiding) -> dict[str, Any]:
        orr, wp, vo = self.adres_parts(na)
        ao = na.adresseerbaar_object_id
        return {
            "self": self.href("adressen", na.identificatie),
            "openbareRuimte": self.href("openbareruimten", orr.identificatie),
            "nummeraanduiding": self.href("nummeraanduidingen", na.identificatie),
            "woonplaats": self.href("woonplaatsen", wp.identificatie),
            "adresseerbaarObject": self.href(AO_PATHS.get(ao[4:6], "verblijfsobjecten"), ao),
            "panden": [self.href("panden", p) for p in (vo.pand_ids if vo else [])],
        }

    def render_adres(self, na: Nummeraanduiding, ctx: Ctx) -> dict[str, Any]:
        orr, wp, vo = self.adres_parts(na)
        body = self.adres_fields(na) | {"_links": self.adres_links(na)}
        plain = Ctx({}, set())
        embedded: dict[str, Any] = {}
        if "openbareRuimte" in ctx.expand:
            embedded["openbareRuimte"] = self.render_openbare_ruimte(orr, plain, embed=False)
        if "nummeraanduiding" in ctx.expand:
            embedded["nummeraanduiding"] = self.render_nummeraanduiding(na, plain, embed=False)
        if "woonplaats" in ctx.expand:
            embedded["woonplaats"] = self.render_woonplaats(wp, plain, embed=False)
        if "adresseerbaarObject" in ctx.expand and vo is not None:
            embedded["adresseerbaarObject"] = self.render_adresseerbaar_object(vo, plain, embed=False)
        if "panden" in ctx.expand and vo is not None:
            embedded["panden"] = [self.render_pand(self.data.panden[p], plain) for p in vo.pand_ids
                                  if p in self.data.panden]
        if embedded:
            body["_embedded"] = embedded
        return body

    def render_adres_uitgebreid(self, na: Nummeraanduiding) -> dict[str, Any]:
        _orr, _wp, vo = self.adres_parts(na)
        body = self.adres_fields(na) | {"typeAdresseerbaarObject": na.type_adresseerbaar_object}
        if vo is not None:
            panden = [self.data.panden[p] for p in vo.pand_ids if p in self.data.panden]
            body |= {"adresseerbaarObjectGeometrie": {"punt": point(vo.rd)}, "adresseerbaarObjectStatus": vo.status,
                     "gebruiksdoelen": list(vo.gebruiksdoelen), "oppervlakte": vo.oppervlakte,
                     "oorspronkelijkBouwjaar": [f"{p.oorspronkelijk_bouwjaar:04d}" for p in panden],
                     "pandStatussen": [p.status for p in panden]}
        return body | {"_links": self.adres_links(na)}

    # -- paging ------------------------------------------------------------------------------------------

    def paged(self, request: Request, values: Mapping[str, Any], key: str, items: Sequence[T],
              render: Callable[[T], dict[str, Any]], geometry: bool = False) -> Response:
        """One page of a collection: links only where they lead somewhere, pageSize kept only if given."""
        page, size = values.get("page", 1), values.get("pageSize", 20)
        last = max(1, math.ceil(len(items) / size))
        if page > last:
            raise params_error(invalid_param("page", "page", "De opgegeven pagina bestaat niet."))
        base = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

        def link(n: int) -> dict[str, str]:
            return {"href": self.url(request.url.path[len(self.base_path):] + "?" + urlencode([*base, ("page", n)]))}

        links: dict[str, Any] = {"self": {"href": self.request_url(request)}}
        if page > 1:
            links |= {"first": link(1), "previous": link(page - 1)}
        if page < last:
            links |= {"next": link(page + 1), "last": link(last)}
        body: dict[str, Any] = {"_links": links}
        chunk = items[(page - 1) * size:page * size]
        if chunk:
            body["_embedded"] = {key: [render(item) for item in chunk]}
        return self.hal(body, {"X-Pagination-Page": str(page), "X-Pagination-Limit": str(size)}, geometry)

    # -- adressen ----------------------------------------------------------------------------------------

    def find_adressen(self, values: Mapping[str, Any], chosen: Search) -> list[Nummeraanduiding]:
        d = self.data
        if "adresseerbaarObjectIdentificatie" in chosen.required:
            found = list(self.vo_nads.get(values["adresseerbaarObjectIdentificatie"], []))
        elif "pandIdentificatie" in chosen.required:
            pand = d.panden.get(values["pandIdentificatie"])
            if pand is None or (pand.status in EINDSTATUS and not values.get("inclusiefEindStatus")):
                return []
            found = [na for vo in self.pand_vos[pand.identificatie] for na in self.vo_nads[vo.identificatie]]
        elif "openbareRuimteIdentificatie" in chosen.required:
            found = list(self.or_nads.get(values["openbareRuimteIdentificatie"], []))
        elif "q" in chosen.required:
            found = [na for na in d.nummeraanduidingen.values() if self.matches_q(na, values["q"])]
        else:
            found = [na for na in d.nummeraanduidingen.values() if self.matches_address(na, values)]
        return sorted(found, key=_adres_key)

    def matches_address(self, na: Nummeraanduiding, values: Mapping[str, Any]) -> bool:
        """Postcode or names plus huisnummer; with exacteMatch a letter or toevoeging not asked must be absent."""
        if na.huisnummer != values["huisnummer"]:
            return False
        if "postcode" in values:
            if na.postcode != values["postcode"].replace(" ", "").upper():
                return False
        else:
            orr, wp, _vo = self.adres_parts(na)
            if orr.naam.lower() != values["openbareRuimteNaam"].lower() or wp.naam.lower() != values[
                    "woonplaatsNaam"].lower():
                return False
        exact = values.get("exacteMatch", False)
        for name, actual in (("huisletter", na.huisletter), ("huisnummertoevoeging", na.huisnummertoevoeging)):
            wanted = values.get(name)
            if wanted is not None and (actual or "").lower() != wanted.lower():
                return False
            if wanted is None and exact and actual:
                return False
        return True

    def matches_q(self, na: Nummeraanduiding, q: str) -> bool:
        orr, wp, _vo = self.adres_parts(na)
        text = " ".join([orr.naam, str(na.huisnummer), na.huisletter or "", na.huisnummertoevoeging or "",
                         na.postcode, f"{na.postcode[:4]} {na.postcode[4:]}", wp.naam]).lower()
        return all(term in text for term in re.split(r"[,\s]+", q.lower()) if term)

    def adressen(self, request: Request) -> Response:
        """Zoek huidige adressen (postcode+huisnummer, ids, namen of zoekterm)."""
        allowed = {p for s in ADRES_SEARCHES for p in s.required | s.optional}
        values = query(request, [*allowed, *PAGING, "inclusiefEindStatus"], expand_of="adres")
        chosen = choose_search(values, ADRES_SEARCHES)
        found = [na for na in self.find_adressen(values, chosen)
                 if values.get("inclusiefEindStatus") or self.is_current(na, with_panden=False)]
        ctx = self.context(request, values)
        geometry = bool(ctx.expand & {"adresseerbaarObject", "panden"})
        return self.paged(request, values, "adressen", found, lambda na: self.render_adres(na, ctx), geometry)

    def adres(self, request: Request) -> Response:
        """Raadpleeg een huidig adres met de identificatie van een nummeraanduiding."""
        ident = request.path_params["nummeraanduidingIdentificatie"]
        check_path_id("nummeraanduidingIdentificatie", "nummeraanduiding", ident)
        values = query(request, ["inclusiefEindStatus"], expand_of="adres", ignored=PAGING)
        na = self.data.nummeraanduidingen.get(ident)
        if na is None or not (values.get("inclusiefEindStatus") or self.is_current(na, with_panden=False)):
            raise BagError(404)
        ctx = self.context(request, values)
        body = self.render_adres(na, ctx)
        body["_links"]["self"] = {"href": self.request_url(request)}
        return self.hal(body, geometry=bool(ctx.expand & {"adresseerbaarObject", "panden"}))

    def adressen_uitgebreid(self, request: Request) -> Response:
        """Zoek huidige adressen met gegevens van hun adresseerbaar object en panden."""
        allowed = [p for s in ADRES_SEARCHES[:4] for p in s.required | s.optional]
        values = query(request, [*allowed, *PAGING, "inclusiefEindStatus"])
        chosen = choose_search(values, ADRES_SEARCHES[:4])
        found = [na for na in self.find_adressen(values, chosen)
                 if values.get("inclusiefEindStatus") or self.is_current(na, with_panden=True)]
        return self.paged(request, values, "adressen", found, self.render_adres_uitgebreid, geometry=True)

    def adres_uitgebreid(self, request: Request) -> Response:
        """Raadpleeg een huidig adres met gegevens van zijn adresseerbaar object en panden."""
        ident = request.path_params["nummeraanduidingIdentificatie"]
        check_path_id("nummeraanduidingIdentificatie", "nummeraanduiding", ident)
        values = query(request, ["inclusiefEindStatus"], ignored=PAGING)
        na = self.data.nummeraanduidingen.get(ident)
        if na is None or not (values.get("inclusiefEindStatus") or self.is_current(na, with_panden=True)):
            raise BagError(404)
        body = self.render_adres_uitgebreid(na)
        body["_links"]["self"] = {"href": self.request_url(request)}
        return self.hal(body, geometry=True)

    # -- objects ------------------------------------------------------------------------------------------

    def single(self, request: Request, path_name: str, kind: str, expand_of: str) -> tuple[str, dict[str, Any], Ctx]:
        """Check the path id and the parameters every object endpoint shares."""
        ident = request.path_params[path_name]
        check_path_id(path_name, kind, ident)
        values = query(request, TIME_TRAVEL, expand_of=expand_of, ignored=PAGING)
        return ident, values, self.context(request, values)

    def answer(self, request: Request, body: dict[str, Any], geometry: bool = False) -> Response:
        body["_links"]["self"] = {"href": self.request_url(request)}
        return self.hal(body, geometry=geometry)

    def vo(self, ident: str, values: Mapping[str, Any]) -> Verblijfsobject:
        return self.get(self.data.verblijfsobjecten, ident, lambda v: v.status, values)

    def adresseerbaar_object(self, request: Request) -> Response:
        """Raadpleeg een adresseerbaar object (hier altijd een verblijfsobject)."""
        ident, values, ctx = self.single(request, "adresseerbaarObjectIdentificatie", "adresseerbaarObject",
                                         "verblijfsobject")
        return self.hal(self.render_adresseerbaar_object(self.vo(ident, values), ctx), geometry=True)

    def verblijfsobject(self, request: Request) -> Response:
        """Raadpleeg een verblijfsobject."""
        ident, values, ctx = self.single(request, "identificatie", "verblijfsobject", "verblijfsobject")
        return self.answer(request, self.render_verblijfsobject(self.vo(ident, values), ctx), geometry=True)

    def pand(self, request: Request) -> Response:
        """Raadpleeg een pand."""
        ident, values, ctx = self.single(request, "identificatie", "pand", "pand")
        pand = self.get(self.data.panden, ident, lambda p: p.status, values)
        return self.answer(request, self.render_pand(pand, ctx), geometry=True)

    def nummeraanduiding(self, request: Request) -> Response:
        """Raadpleeg een nummeraanduiding."""
        ident, values, ctx = self.single(request, "nummeraanduidingIdentificatie", "nummeraanduiding",
                                         "nummeraanduiding")
        na = self.get(self.data.nummeraanduidingen, ident, lambda n: NAAMGEVING, values)
        return self.answer(request, self.render_nummeraanduiding(na, ctx))

    def openbare_ruimte(self, request: Request) -> Response:
        """Raadpleeg een openbare ruimte."""
        ident, values, ctx = self.single(request, "openbareRuimteIdentificatie", "openbareRuimte", "openbareRuimte")
        orr = self.get(self.data.openbare_ruimten, ident, lambda o: NAAMGEVING, values)
        return self.answer(request, self.render_openbare_ruimte(orr, ctx))

    def woonplaats(self, request: Request) -> Response:
        """Raadpleeg een woonplaats."""
        ident, values, ctx = self.single(request, "identificatie", "woonplaats", "woonplaats")
        wp = self.get(self.data.woonplaatsen, ident, lambda w: WOONPLAATS_STATUS, values)
        return self.answer(request, self.render_woonplaats(wp, ctx), geometry="geometrie" in ctx.expand)

    # -- object collections ----------------------------------------------------------------------------------

    def collection(self, request: Request, searches: Sequence[Search], expand_of: str | None,
                   extra: Iterable[str] = ()) -> tuple[dict[str, Any], Search, Ctx]:
        allowed = {p for s in searches for p in s.required | s.optional} | {*TIME_TRAVEL, *PAGING, *extra}
        values = query(request, allowed, expand_of=expand_of)
        return values, choose_search(values, searches), self.context(request, values)

    def vos_of_panden(self, pand_ids: Iterable[str], values: Mapping[str, Any]) -> list[Verblijfsobject]:
        seen: dict[str, Verblijfsobject] = {}
        for pid in pand_ids:
            for vo in self.pand_vos.get(pid, []):
                if self.visible(vo.identificatie, vo.status, values):
                    seen.setdefault(vo.identificatie, vo)
        return sorted(seen.values(), key=lambda v: v.identificatie)

    def adresseerbare_objecten(self, request: Request) -> Response:
        """Zoek adresseerbare objecten met een nummeraanduiding of een lijst panden."""
        values, chosen, ctx = self.collection(
            request, (search("nummeraanduidingIdentificatie"), search("pandIdentificaties")), "verblijfsobject")
        if "pandIdentificaties" in chosen.required:
            found = self.vos_of_panden(values["pandIdentificaties"], values)
        else:
            na = self.data.nummeraanduidingen.get(values["nummeraanduidingIdentificatie"])
            vo = self.data.verblijfsobjecten.get(na.adresseerbaar_object_id) if na else None
            found = [vo] if vo and self.visible(vo.identificatie, vo.status, values) else []
        return self.paged(request, values, "adresseerbareObjecten", found,
                          lambda v: self.render_adresseerbaar_object(v, ctx), geometry=True)

    def verblijfsobjecten(self, request: Request) -> Response:
        """Zoek de verblijfsobjecten in een pand."""
        values, _chosen, ctx = self.collection(request, (search("pandIdentificatie"),), "verblijfsobject")
        found = self.vos_of_panden([values["pandIdentificatie"]], values)
        return self.paged(request, values, "verblijfsobjecten", found,
                          lambda v: self.render_verblijfsobject(v, ctx), geometry=True)

    def panden(self, request: Request) -> Response:
        """Zoek de panden van een adresseerbaar object of nummeraanduiding (2.5+)."""
        values, chosen, ctx = self.collection(
            request, (search("adresseerbaarObjectIdentificatie"), search("nummeraanduidingIdentificatie")), None)
        if "nummeraanduidingIdentificatie" in chosen.required:
            na = self.data.nummeraanduidingen.get(values["nummeraanduidingIdentificatie"])
            ao = na.adresseerbaar_object_id if na else ""
        else:
            ao = values["adresseerbaarObjectIdentificatie"]
        vo = self.data.verblijfsobjecten.get(ao)
        found = [self.data.panden[p] for p in (vo.pand_ids if vo else []) if p in self.data.panden
                 and self.visible(p, self.data.panden[p].status, values)]
        return self.paged(request, values, "panden", found, lambda p: self.render_pand(p, ctx), geometry=True)

    def nummeraanduidingen(self, request: Request) -> Response:
        """Zoek nummeraanduidingen (postcode+huisnummer, namen, openbare ruimte of pand)."""
        searches = (ADRES_SEARCHES[0], ADRES_SEARCHES[1], search("openbareRuimteIdentificatie"),
                    search("pandIdentificatie"))
        values, chosen, ctx = self.collection(request, searches, "nummeraanduiding")
        found = [na for na in self.find_adressen(values, chosen)
                 if self.visible(na.identificatie, NAAMGEVING, values)]
        return self.paged(request, values, "nummeraanduidingen", found,
                          lambda na: self.render_nummeraanduiding(na, ctx))

    def openbare_ruimten(self, request: Request) -> Response:
        """Zoek openbare ruimten in een woonplaats, op naam of identificatie."""
        searches = (search("woonplaatsNaam", "openbareRuimteNaam"),
                    search("woonplaatsIdentificatie", optional=["openbareRuimteNaam"]))
        values, chosen, ctx = self.collection(request, searches, "openbareRuimte")
        if "woonplaatsIdentificatie" in chosen.required:
            candidates = self.wp_ors.get(values["woonplaatsIdentificatie"], [])
        else:
            candidates = [o for wp in self.data.woonplaatsen.values() if wp.naam.lower() == values[
                "woonplaatsNaam"].lower() for o in self.wp_ors[wp.identificatie]]
        naam = values.get("openbareRuimteNaam", "").lower()
        found = [o for o in candidates if (not naam or o.naam.lower() == naam)
                 and self.visible(o.identificatie, NAAMGEVING, values)]
        return self.paged(request, values, "openbareruimten", found,
                          lambda o: self.render_openbare_ruimte(o, ctx))

    def woonplaatsen(self, request: Request) -> Response:
        """Zoek woonplaatsen op naam."""
        values, _chosen, ctx = self.collection(request, (search("naam"),), "woonplaats")
        found = sorted((wp for wp in self.data.woonplaatsen.values() if wp.naam.lower() == values["naam"].lower()
                        and self.visible(wp.identificatie, WOONPLAATS_STATUS, values)), key=lambda w: w.identificatie)
        return self.paged(request, values, "woonplaatsen", found, lambda wp: self.render_woonplaats(wp, ctx),
                          geometry="geometrie" in ctx.expand)


def _adres_key(na: Nummeraanduiding) -> tuple[str, int, str, str, str]:
    return (na.postcode, na.huisnummer, na.huisletter or "", na.huisnummertoevoeging or "", na.identificatie)
