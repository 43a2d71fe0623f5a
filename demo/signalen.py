"""Signalen (Amsterdam SIA) v1: meldingen openbare ruimte, as the Django REST Framework service serves them.

Behaviour taken from the static OAS (2023-07), the API docs and the Signalen source, kept on purpose:

- Paths accept an optional trailing slash (the router's ``trailing_slash = '/?'``); a path no route knows
  gets Django's HTML 404 page, not JSON.
- Errors are DRF JSON in Dutch (``LANGUAGE_CODE = 'nl-NL'``): ``{"detail": "Niet gevonden."}``,
  validation dicts ``{"field": ["..."]}``, nested dicts for nested serializers. Never problem+json.
- Private endpoints run the JWT backend on every request: a missing, malformed or wrong bearer token is a
  401 with ``WWW-Authenticate: Bearer realm="signals"`` and the backend's own (English) detail text.
- Lists are HAL-paginated (``page``, ``page_size``; 100 per page, no upper cap on ``page_size``, an invalid
  ``page_size`` silently means 100); links are absolute, built from the request URL with the query keys
  sorted; a page past the end is 404 ``{"detail": "Ongeldige pagina."}``.
- Filters are django-filter: an unknown choice is a 400 naming every bad parameter at once; unknown
  parameters and unknown ``ordering`` terms are ignored. ``incident_date_before``/``_after`` are swapped
  in the source (before means on-or-after); that is reproduced.
- Datetimes are rendered in Europe/Amsterdam with an offset. Addresses are BAG-validated copies
  (``huisnummer`` an integer, empty strings for a missing letter or addition) with no BAG identifier:
  a consumer resolves them by postcode and huisnummer. ``X-API-Version`` carries the release.
- ``POST /public/signals`` is throttled per client (60 per hour) and rejects unknown keys; an address
  that does not exist in the BAG is refused (``ALLOW_INVALID_ADDRESS_AS_UNVERIFIED`` off).
- ``PATCH /private/signals/{id}`` changes a melding's state (``status``: ``state``, ``text``), as the back
  office does, and so its ``updated_at``; the workflow's allowed transitions are not checked here.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
import sys
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from demo.conformance import Specs, Violation, answer_status
from demo.model import Melding, MeldingStatus, Municipality
from demo.simulator import Simulator, json_response

LOCAL = ZoneInfo("Europe/Amsterdam")
PAGE_SIZE = 100
PUBLIC_THROTTLE_PER_HOUR = 60
BOUNDING_BOX = (3.3, 50.7, 7.3, 53.6)  # lon_min, lat_min, lon_max, lat_max: the Netherlands, the default
SYSTEM = "Signalen systeem"
NOT_FOUND = "Niet gevonden."
DJANGO_404 = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
    "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"
)
STATE_DISPLAY = {
    "m": "Gemeld", "i": "In afwachting van behandeling", "b": "In behandeling", "h": "On hold",
    "ingepland": "Ingepland", "ready to send": "Extern: te verzenden", "o": "Afgehandeld", "a": "Geannuleerd",
    "reopened": "Heropend", "s": "Gesplitst", "closure requested": "Extern: verzoek tot afhandeling",
    "reaction requested": "Reactie gevraagd", "reaction received": "Reactie ontvangen",
    "forward to external": "Doorzetten naar extern", "sent": "Extern: verzonden", "send failed": "Extern: mislukt",
    "done external": "Extern: afgehandeld", "reopen requested": "Verzoek tot heropenen",
}
CLOSED_STATES = frozenset({"o", "a", "s"})
PRIORITY_DISPLAY = {"low": "Laag", "normal": "Normaal", "high": "Hoog"}
TYPE_DISPLAY = {"SIG": "Melding", "REQ": "Aanvraag", "QUE": "Vraag", "COM": "Klacht", "MAI": "Groot onderhoud"}
DEPARTMENT_NAMES = {
    "ASC": "Actie Service Centrum", "STW": "Stadswerken", "VOR": "Verkeer en Openbare Ruimte",
    "GRN": "Groenbeheer", "THO": "Toezicht Horeca en Overlast", "CCA": "Centrale Coördinatie Afhandeling",
}
PUBLIC_SOURCES = frozenset({"online"})
SLA_WORKDAYS = 5
HANDLING_MESSAGE = (
    "Wij laten u binnen 5 werkdagen weten wat we hebben gedaan. En anders hoort u wanneer wij uw melding "
    "kunnen oppakken. We houden u op de hoogte via e-mail."
)
AUTO_MAIL_NOTE = "Automatische e-mail bij registratie van de melding is verzonden aan de melder."
ORDERING_FIELDS = frozenset({
    "id", "created_at", "updated_at", "stadsdeel", "sub_category", "main_category", "status", "priority",
    "address", "assigned_user_email", "area_name",
})
DEFAULT_ORDERING = ("-created_at",)
CREATE_FIELDS = ("source", "text", "text_extra", "location", "category", "reporter", "incident_date_start",
                 "incident_date_end", "extra_properties", "session")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
REQUIRED = "Dit veld is vereist."
BLANK = "Dit veld mag niet leeg zijn."
DATETIME_FORMAT = ("Datetime heeft een ongeldig formaat, gebruik 1 van de volgende formaten: "
                   "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")

Errors = dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]


# --- small DRF look-alikes -----------------------------------------------------------------------------


def drf(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(body, status, "application/json", headers)


def iso(moment: dt.datetime | None) -> str | None:
    """DRF DateTimeField: the current time zone (Europe/Amsterdam), ISO 8601 with its offset."""
    return None if moment is None else moment.astimezone(LOCAL).isoformat()


def invalid_choice(value: str) -> str:
    return f"Selecteer een geldige keuze. {value} is geen beschikbare keuze."


def max_length(limit: int) -> str:
    return f"Zorg ervoor dat dit veld niet meer dan {limit} karakters bevat."


def not_a_dict(value: Any) -> str:
    return f"Ongeldige data. Verwachtte een dictionary, kreeg een {type(value).__name__}."


def replace_query_param(url: str, key: str, value: int) -> str:
    """DRF's helper: the query is re-encoded with its keys sorted."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = parse_qs(query, keep_blank_values=True)
    params[key] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), fragment))


def parse_datetime(value: str) -> dt.datetime | None:
    """Django's parse_datetime as IsoDateTimeField uses it; a naive value is Amsterdam time."""
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def add_workdays(start: dt.datetime, days: int) -> dt.datetime:
    """The same local wall-clock time ``days`` working days later (an SLA deadline)."""
    if days <= 0:
        return start
    local = start.astimezone(LOCAL)
    day = local.date()
    day -= dt.timedelta(days=max(0, day.weekday() - 4))  # from a weekend, count as from the Friday before
    weeks, days = divmod(days, 5)
    day += dt.timedelta(weeks=weeks)
    while days:
        day += dt.timedelta(days=1)
        days -= day.weekday() < 5
    return dt.datetime.combine(day, local.time(), LOCAL)


def address_text(address: Mapping[str, Any] | None) -> str:
    """Signalen's get_address_text: straat huisnummer[letter][-toevoeging] postcode woonplaats."""
    if not address:
        return ""
    text = ""
    for key, prefix in (("openbare_ruimte", ""), ("huisnummer", " "), ("huisletter", ""),
                        ("huisnummer_toevoeging", "-"), ("postcode", " "), ("woonplaats", " ")):
        if address.get(key):
            text += f"{prefix}{address[key]}"
    return text.strip()


# --- the records -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Category:
    id: int
    slug: str
    name: str
    parent: Category | None
    departments: list[str]
    children: list[Category] = field(default_factory=list)

    @property
    def display(self) -> str:
        return f"{self.name} ({self.parent.name})" if self.parent else self.name


@dataclass(slots=True)
class Signal:
    """One melding as Signalen stores it: a BAG-validated address copy, never a BAG identifier."""

    id: int
    uuid: str
    text: str
    category: Category
    statussen: list[MeldingStatus]
    lon: float
    lat: float
    address: dict[str, Any] | None
    stadsdeel: str | None
    buurt_code: str | None
    created_at: dt.datetime
    incident_date_start: dt.datetime
    source: str
    priority: str = "normal"
    type: str = "SIG"
    reporter_email: str | None = None
    reporter_phone: str | None = None
    sharing_allowed: bool = False
    text_extra: str = ""
    incident_date_end: dt.datetime | None = None
    extra_properties: Any = None
    location_extra: dict[str, Any] | None = None
    bag_validated: bool = True
    created_by: str | None = None
    address_text: str = field(init=False)

    def __post_init__(self) -> None:
        self.address_text = address_text(self.address)

    @property
    def status(self) -> MeldingStatus:
        return self.statussen[-1]

    @property
    def updated_at(self) -> dt.datetime:
        return max(self.created_at, self.statussen[-1].created_at)


class Catalog:
    """Main and sub categories with stable ids: main categories first seen get the lower ids."""

    def __init__(self, data: Municipality) -> None:
        self.mains: dict[str, Category] = {}
        self.subs: dict[tuple[str, str], Category] = {}
        self.by_id: dict[int, Category] = {}
        for cat in data.categorieen:
            main = self.mains.get(cat.main_slug)
            if main is None:
                main = self.mains[cat.main_slug] = self._add(cat.main_slug, cat.main_name, None, [])
            if (cat.main_slug, cat.sub_slug) not in self.subs:
                sub = self._add(cat.sub_slug, cat.sub_name, main, list(cat.departments))
                self.subs[cat.main_slug, cat.sub_slug] = sub
                main.children.append(sub)
                main.departments.extend(d for d in sub.departments if d not in main.departments)
        self.departments = {code: i for i, code in enumerate(
            sorted({d for c in self.by_id.values() for d in c.departments}), start=1)}

    def _add(self, slug: str, name: str, parent: Category | None, departments: list[str]) -> Category:
        cat = Category(len(self.by_id) + 1, slug, name, parent, departments)
        self.by_id[cat.id] = cat
        return cat

    def sub_slugs(self) -> set[str]:
        return {slug for _, slug in self.subs}


# --- the simulator -----------------------------------------------------------------------------------


class SignalenSimulator(Simulator):
    """The municipality's meldingen: public status and category endpoints, private signal endpoints."""

    name = "signalen"
    title = "Signalen (SIA)"
    api_version = "2.50.13"
    version_header = "X-API-Version"
    error_media_type = "application/json"
    base_path = "/signals/v1"
    default_port = 8104
    official_specs: ClassVar[Specs] = {
        "": ("signalen/openapi.yaml", "signalen/my_signals/public_openapi.yaml"),  # whole paths in these two
        "/signals/v1": ("signalen/questionnaires/public_openapi.yaml",),
    }
    spec_slash_optional = True  # the router's ``trailing_slash = '/?'``

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self.catalog = Catalog(data)
        self.signals: dict[int, Signal] = {m.id: self._from_melding(m) for m in data.meldingen.values()}
        self.by_uuid = {s.uuid: s.id for s in self.signals.values()}
        self.throttle_per_hour = PUBLIC_THROTTLE_PER_HOUR
        self._posts: defaultdict[str, deque[float]] = defaultdict(deque)
        self._items: dict[int, dict[str, Any]] = {}
        self._index: _Index | None = None
        self.index.ordered(DEFAULT_ORDERING)  # the unfiltered first page is the most asked for

    # -- data ------------------------------------------------------------------------------------------

    def _bag_address(self, nummeraanduiding_id: str) -> dict[str, Any]:
        """The address as the BAG (via PDOK) hands it to Signalen: nummeraanduiding, street, woonplaats."""
        na = self.data.nummeraanduidingen[nummeraanduiding_id]
        street = self.data.openbare_ruimten[na.openbare_ruimte_id]
        return {
            "openbare_ruimte": street.naam, "huisnummer": na.huisnummer, "huisletter": na.huisletter or "",
            "huisnummer_toevoeging": na.huisnummertoevoeging or "", "postcode": na.postcode,
            "woonplaats": self.data.woonplaatsen[street.woonplaats_id].naam,
        }

    def _from_melding(self, m: Melding) -> Signal:
        lat, lon = m.wgs84
        return Signal(
            id=m.id, uuid=m.signal_id, text=m.text,
            category=self.catalog.subs[m.categorie.main_slug, m.categorie.sub_slug], statussen=m.statussen,
            lon=lon, lat=lat, address=self._bag_address(m.nummeraanduiding_id), stadsdeel=m.stadsdeel,
            buurt_code=m.buurt_code, created_at=m.created_at, incident_date_start=m.incident_date_start,
            source=m.source, priority=m.priority, type=m.type, reporter_email=m.reporter_email,
            reporter_phone=m.reporter_phone, sharing_allowed=m.reporter_email is not None,
        )

    def _find_bag_address(self, given: Mapping[str, Any]) -> str | None:
        """The nummeraanduiding an address given by a reporter names, as the PDOK check would find it."""
        postcode = str(given.get("postcode") or "").replace(" ", "").upper()
        street = str(given.get("openbare_ruimte") or "").strip().lower()
        letter = str(given.get("huisletter") or "").strip().upper()
        addition = str(given.get("huisnummer_toevoeging") or "").strip().upper()
        try:
            number = int(str(given.get("huisnummer", "")).strip())
        except ValueError:
            return None
        for na in self.data.nummeraanduidingen.values():
            if na.huisnummer != number or (na.huisletter or "").upper() != letter:
                continue
            if (na.huisnummertoevoeging or "").upper() != addition:
                continue
            if postcode and na.postcode != postcode:
                continue
            if street and self.data.openbare_ruimten[na.openbare_ruimte_id].naam.lower() != street:
                continue
            if postcode or street:
                return na.identificatie
        return None

    @property
    def index(self) -> _Index:
        if self._index is None:
            self._index = _Index(self.signals.values())
        return self._index

    def _add_signal(self, signal: Signal) -> None:
        self.signals[signal.id] = signal
        self.by_uuid[signal.uuid] = signal.id
        self._index = None

    # -- routes ----------------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        b = self.base_path
        table: list[tuple[str, Handler, list[str]]] = [
            ("/public/signals", self.public_create, ["POST"]),
            ("/public/signals/{signal_id}", self.public_signal, ["GET"]),
            ("/public/terms/categories", self.public_categories, ["GET"]),
            ("/public/terms/categories/{main_slug}", self.public_main_category, ["GET"]),
            ("/public/terms/categories/{main_slug}/sub_categories", self.public_sub_categories, ["GET"]),
            ("/public/terms/categories/{main_slug}/sub_categories/{sub_slug}", self.public_sub_category, ["GET"]),
            ("/private/signals", self.private_signals, ["GET"]),
            ("/private/signals/{id}", self.private_signal, ["GET", "PATCH"]),
            ("/private/signals/{id}/history", self.private_history, ["GET"]),
            ("/private/categories", self.private_categories, ["GET"]),
            ("/private/categories/{id}", self.private_category, ["GET"]),
        ]
        # Django's router pattern ends in '/?': both spellings reach the same view
        return [Route(b + path + slash, handler, methods=methods, name=handler.__name__ + suffix)
                for path, handler, methods in table for slash, suffix in (("", ""), ("/", "_slash"))]

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        """DRF's ``{"detail": ...}``, in Dutch."""
        if status == 405:
            return {"detail": f'Methode "{request.method}" niet toegestaan.'}
        return {"detail": title}

    async def conformance_error(self, request: Request, violations: Sequence[Violation]) -> Response:
        """DRF's validation dict, ``{"field": ["..."]}``, as django-filter and the serializers answer."""
        if answer_status(violations) != 400:
            return await super().conformance_error(request, violations)
        errors: dict[str, list[str]] = {}
        for v in violations:
            errors.setdefault(v.dotted or "non_field_errors", []).append(v.reason)
        return drf(errors, 400)

    def product_accepts(self, violation: Violation) -> bool:
        """Where Signalen accepts more than its static OAS (drf-spectacular's rendering) says: the router
        serves the sub categories of a main category; ``OrderingFilter`` takes a comma list and ignores
        unknown terms; Django's datetime filters take a time without offset (Amsterdam time); a new
        signal's ``geometrie`` is GeoJSON (the OAS renders the GeometryField as a string) and its address
        is checked against the BAG, not against the OAS's types."""
        v = violation
        if v.code == "unknownOperation":
            return bool(re.fullmatch(r"/signals/v1/public/terms/categories/[-\w]+/sub_categories/?", v.name))
        if v.where == "query":
            return (v.name == "ordering" and v.code == "enum") or (
                v.code == "date-time" and v.name in ("created_after", "created_before", "updated_after",
                                                     "updated_before")) or super().product_accepts(v)
        return v.where == "body" and (v.name == "location.geometrie" or v.name.startswith("location.address."))

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        """A path no URL pattern matches never reaches DRF: Django answers with its HTML page."""
        if isinstance(exc, HTTPException) and exc.status_code == 404:
            return HTMLResponse(DJANGO_404, 404)
        return await super()._http_exception(request, exc)

    def _authenticate(self, request: Request) -> Response | None:
        """Signalen's JWTAuthBackend: every failure is a 401 with the backend's own message."""
        header = request.headers.get("authorization")
        parts = header.split() if header is not None else []
        if len(parts) != 2:
            reason = "invalid token"
        elif parts[0].lower() != "bearer":
            reason = "invalid token format"
        elif parts[1] == str(self.source_config().get("token", "")):
            return None
        elif parts[1].count(".") not in (2, 4):
            reason = "API auth problem: value error"
        else:
            reason = "API auth problem: invalid signature."
        return drf({"detail": reason}, 401, {"WWW-Authenticate": 'Bearer realm="signals"'})

    # -- links and paging ------------------------------------------------------------------------------

    def _links(self, path: str) -> dict[str, Any]:
        return {"href": self.url(path)}

    def _paginate(self, request: Request, items: Sequence[Any], render: Callable[[Any], Any]) -> Response:
        """datapunt HALPagination over DRF PageNumberPagination."""
        page_size = _int(request.query_params.get("page_size"), 0)
        if page_size <= 0:  # zero, negative or not a number: the default, silently
            page_size = PAGE_SIZE
        pages = max(1, math.ceil(len(items) / page_size))
        raw_page = request.query_params.get("page") or "1"
        number = pages if raw_page == "last" else _int(raw_page, 0)
        if not 1 <= number <= pages:
            return drf({"detail": "Ongeldige pagina."}, 404)
        self_link = str(request.url)
        body = {
            "_links": {
                "self": {"href": self_link},
                "next": {"href": replace_query_param(self_link, "page", number + 1) if number < pages else None},
                "previous": {"href": replace_query_param(self_link, "page", number - 1) if number > 1 else None},
            },
            "count": len(items),
            "results": [render(item) for item in items[(number - 1) * page_size:number * page_size]],
        }
        return drf(body)

    # -- rendering -------------------------------------------------------------------------------------

    def _category_assignment(self, s: Signal) -> dict[str, Any]:
        sub = s.category
        assert sub.parent is not None
        return {
            "sub": sub.name, "sub_slug": sub.slug, "main": sub.parent.name, "main_slug": sub.parent.slug,
            "category_url": self.url(f"/public/terms/categories/{sub.parent.slug}/sub_categories/{sub.slug}"),
            "departments": ", ".join(sub.departments), "created_by": None, "text": None,
            "deadline": iso(add_workdays(s.created_at, SLA_WORKDAYS)),
            "deadline_factor_3": iso(add_workdays(s.created_at, 3 * SLA_WORKDAYS)),
        }

    def _location(self, s: Signal) -> dict[str, Any]:
        return {
            "id": s.id, "stadsdeel": s.stadsdeel, "buurt_code": s.buurt_code, "area_type_code": None,
            "area_code": None, "area_name": None, "address": s.address, "address_text": s.address_text,
            "postcode": s.address["postcode"] if s.address else None,
            "geometrie": {"type": "Point", "coordinates": [s.lon, s.lat]},
            "extra_properties": s.location_extra, "created_by": s.created_by, "bag_validated": s.bag_validated,
        }

    @staticmethod
    def _status(st: MeldingStatus) -> dict[str, Any]:
        return {
            "text": st.text or None, "user": st.user, "state": st.state,
            "state_display": STATE_DISPLAY.get(st.state, st.state), "target_api": None, "extra_properties": None,
            "send_email": False, "created_at": iso(st.created_at), "email_override": None,
        }

    def _signal_fields(self, s: Signal) -> dict[str, Any]:
        """What the list and detail serializers share."""
        return {
            "_display": f"{s.id} - {s.status.state} - {s.buurt_code or ''} - {s.created_at.astimezone(dt.UTC)}",
            "id": s.id, "id_display": f"SIG-{s.id}", "signal_id": s.uuid, "source": s.source, "text": s.text,
            "text_extra": s.text_extra, "status": self._status(s.status), "location": self._location(s),
            "category": self._category_assignment(s),
            "reporter": {"email": s.reporter_email, "phone": s.reporter_phone,
                         "sharing_allowed": s.sharing_allowed, "allows_contact": s.reporter_email is not None},
            "priority": {"priority": s.priority, "created_by": None},
            "type": {"code": s.type, "created_at": iso(s.created_at), "created_by": None},
            "created_at": iso(s.created_at), "updated_at": iso(s.updated_at),
            "incident_date_start": iso(s.incident_date_start), "incident_date_end": iso(s.incident_date_end),
            "operational_date": None, "has_attachments": False, "extra_properties": s.extra_properties,
            "notes": [{"text": AUTO_MAIL_NOTE, "created_by": None}] if s.reporter_email else [],
            "directing_departments": [], "routing_departments": None, "has_parent": False, "has_children": False,
            "assigned_user_email": None,
        }

    def _list_item(self, signal_id: int) -> dict[str, Any]:
        item = self._items.get(signal_id)
        if item is None:
            s = self.signals[signal_id]
            item = {"_links": {"self": self._links(f"/private/signals/{s.id}")}, **self._signal_fields(s)}
            self._items[signal_id] = item
        return item

    def _detail(self, s: Signal) -> dict[str, Any]:
        base = f"/private/signals/{s.id}"
        links = {
            "curies": {"name": "sia", "href": self.url("/relations")}, "self": self._links(base),
            "archives": self._links(base + "/history"), "sia:attachments": self._links(base + "/attachments"),
            "sia:pdf": self._links(base + "/pdf"), "sia:context": self._links(base + "/context"),
        }
        return {"_links": links, **self._signal_fields(s), "attachments": []}

    @staticmethod
    def _public_signal(s: Signal) -> dict[str, Any]:
        """Only what a reporter may see: open or closed, never the workflow step."""
        closed = s.status.state in CLOSED_STATES
        return {
            "_display": f"SIG-{s.id}", "id": s.id, "id_display": f"SIG-{s.id}", "signal_id": s.uuid,
            "status": {"state": "CLOSED" if closed else "OPEN", "state_display": "Gesloten" if closed else "Open"},
            "created_at": iso(s.created_at), "updated_at": iso(s.updated_at),
            "incident_date_start": iso(s.incident_date_start), "incident_date_end": iso(s.incident_date_end),
        }

    def _public_category(self, cat: Category) -> dict[str, Any]:
        curies = {"name": "sia", "href": self.url("/relations")}
        if cat.parent is None:
            return {
                "_links": {"curies": curies, "self": self._links(f"/public/terms/categories/{cat.slug}")},
                "_display": cat.display, "name": cat.name, "slug": cat.slug, "public_name": None,
                "is_public_accessible": False,
                "sub_categories": [self._public_category(c) for c in cat.children],
                "configuration": {"show_children_in_filter": True},
            }
        path = f"/public/terms/categories/{cat.parent.slug}/sub_categories/{cat.slug}"
        return {
            "_links": {"curies": curies, "self": self._links(path)}, "_display": cat.display, "name": cat.name,
            "slug": cat.slug, "handling": "REST",
            "departments": [{"code": d, "name": DEPARTMENT_NAMES.get(d, d), "is_intern": True}
                            for d in cat.departments],
            "is_active": True, "description": None, "handling_message": HANDLING_MESSAGE, "public_name": None,
            "is_public_accessible": False,
        }

    def _private_category(self, cat: Category) -> dict[str, Any]:
        public = (f"/public/terms/categories/{cat.parent.slug}/sub_categories/{cat.slug}" if cat.parent
                  else f"/public/terms/categories/{cat.slug}")
        links: dict[str, Any] = {
            "curies": {"name": "sia", "href": self.url("/relations")},
            "self": {"href": self.url(f"/private/categories/{cat.id}"), "public": self.url(public)},
            "sia:status-message-templates": self._links(
                f"/private/terms/categories/{cat.parent.slug}/sub_categories/{cat.slug}/status-message-templates"
                if cat.parent else f"/private/terms/categories/{cat.slug}/status-message-templates"),
        }
        if cat.parent:
            links["sia:parent"] = {"href": self.url(f"/private/categories/{cat.parent.id}"),
                                   "public": self.url(f"/public/terms/categories/{cat.parent.slug}")}
        body: dict[str, Any] = {
            "_links": links, "_display": cat.display, "id": cat.id, "name": cat.name, "slug": cat.slug,
            "is_active": True, "description": None, "handling_message": HANDLING_MESSAGE,
            "sla": {"n_days": SLA_WORKDAYS, "use_calendar_days": False},
            "departments": [{"id": self.catalog.departments[d], "code": d, "name": DEPARTMENT_NAMES.get(d, d),
                             "is_intern": True, "is_responsible": True, "can_view": True}
                            for d in cat.departments],
            "note": None, "public_name": None, "is_public_accessible": False,
        }
        if cat.parent is None:
            body["configuration"] = {"show_children_in_filter": True}
        return body

    def _history(self, s: Signal) -> list[dict[str, Any]]:
        """The history log, newest first, reconstructed from the signal's assignments and statuses."""
        def entry(n: int, what: str, when: dt.datetime, action: str, description: str | None,
                  who: str | None) -> dict[str, Any]:
            return {"identifier": f"{what}_{s.id * 100 + n}", "when": iso(when), "what": what, "action": action,
                    "description": description, "who": who or SYSTEM, "_signal": s.id}

        place = s.address_text or f"Locatie is gepind op de kaart\n{s.lon}, {s.lat}"
        log = [
            entry(1, "UPDATE_LOCATION", s.created_at, "Locatie gewijzigd naar:",
                  f"Stadsdeel: {s.stadsdeel or ''}\n{place}", s.created_by),
            entry(3, "UPDATE_CATEGORY_ASSIGNMENT", s.created_at, f"Categorie gewijzigd naar: {s.category.name}",
                  None, s.created_by),
            entry(4, "UPDATE_SLA", s.created_at, "Servicebelofte:", HANDLING_MESSAGE, s.created_by),
            entry(5, "UPDATE_PRIORITY", s.created_at,
                  f"Urgentie gewijzigd naar: {PRIORITY_DISPLAY.get(s.priority, s.priority)}", None, s.created_by),
            entry(6, "UPDATE_TYPE_ASSIGNMENT", s.created_at,
                  f"Type gewijzigd naar: {TYPE_DISPLAY.get(s.type, s.type)}", None, s.created_by),
        ]
        if s.reporter_email:
            log.append(entry(7, "CREATE_NOTE", s.created_at, "Notitie toegevoegd:", AUTO_MAIL_NOTE, None))
        for n, st in enumerate(s.statussen):
            log.append(entry(10 + n if n else 2, "UPDATE_STATUS", st.created_at,
                             f"Status gewijzigd naar: {STATE_DISPLAY.get(st.state, st.state)}", st.text or None,
                             st.user))
        return sorted(log, key=lambda e: (e["when"], e["identifier"]), reverse=True)

    # -- public endpoints ------------------------------------------------------------------------------

    async def public_signal(self, request: Request) -> Response:
        """Public status of one melding by its signal_id."""
        try:
            signal_id = self.by_uuid.get(str(uuid.UUID(request.path_params["signal_id"])))
        except ValueError:
            signal_id = None
        if signal_id is None:
            return drf({"detail": NOT_FOUND}, 404)
        return drf(self._public_signal(self.signals[signal_id]))

    async def public_categories(self, request: Request) -> Response:
        """Main categories with their sub categories."""
        return self._paginate(request, list(self.catalog.mains.values()), self._public_category)

    async def public_main_category(self, request: Request) -> Response:
        """One main category."""
        main = self.catalog.mains.get(request.path_params["main_slug"])
        return drf(self._public_category(main)) if main else drf({"detail": NOT_FOUND}, 404)

    async def public_sub_categories(self, request: Request) -> Response:
        """The sub categories of one main category."""
        main = self.catalog.mains.get(request.path_params["main_slug"])
        return self._paginate(request, main.children if main else [], self._public_category)

    async def public_sub_category(self, request: Request) -> Response:
        """One sub category."""
        sub = self.catalog.subs.get((request.path_params["main_slug"], request.path_params["sub_slug"]))
        return drf(self._public_category(sub)) if sub else drf({"detail": NOT_FOUND}, 404)

    def _throttled(self, request: Request) -> Response | None:
        """PostOnlyNoUserRateThrottle: anonymous POSTs per client address, per hour."""
        now = time.monotonic()
        history = self._posts[request.client.host if request.client else "-"]
        while history and history[0] <= now - 3600:
            history.popleft()
        if len(history) >= self.throttle_per_hour:
            wait = math.ceil(3600 - (now - history[0]))
            return drf({"detail": f"Verzoek is afgeknepen. Verwacht beschikbaar over {wait} seconden."}, 429,
                       {"Retry-After": str(wait)})
        history.append(now)
        return None

    async def public_create(self, request: Request) -> Response:
        """Report a melding, as the public form does."""
        throttled = self._throttled(request)
        if throttled:
            return throttled
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if media != "application/json":
            return drf({"detail": f'Ongeldige media type "{media}" in aanvraag.'}, 415)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return drf({"detail": f"JSON parse error - {exc}"}, 400)
        if not isinstance(body, dict):
            return drf({"non_field_errors": [not_a_dict(body)]}, 400)
        errors, signal = self._validate_create(body)
        if errors:
            return drf(errors, 400)
        assert signal is not None
        self._add_signal(signal)
        return drf(self._public_signal(signal), 201)

    # -- private endpoints -----------------------------------------------------------------------------

    async def private_signals(self, request: Request) -> Response:
        """Meldingen, filtered and ordered, HAL-paginated."""
        refused = self._authenticate(request)
        if refused:
            return refused
        errors, ids = self.index.select(request.query_params.multi_items(), self)
        if errors:
            return drf(errors, 400)
        return self._paginate(request, ids, self._list_item)

    def _signal_or_404(self, request: Request) -> Signal | Response:
        refused = self._authenticate(request)
        if refused:
            return refused
        raw = request.path_params["id"]
        signal = self.signals.get(_int(raw, 0))
        return signal if signal else drf({"detail": NOT_FOUND}, 404)

    async def private_signal(self, request: Request) -> Response:
        """One melding in full; PATCH changes its state."""
        found = self._signal_or_404(request)
        if isinstance(found, Response):
            return found
        if request.method == "PATCH":
            return await self._patch(request, found)
        return drf(self._detail(found))

    async def _patch(self, request: Request, signal: Signal) -> Response:
        """SignalUpdateSerializer, for ``status`` only: a new status at this moment."""
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return drf({"detail": f"JSON parse error - {exc}"}, 400)
        if not isinstance(body, dict):
            return drf({"non_field_errors": [not_a_dict(body)]}, 400)
        status = body.get("status")
        if status is not None:
            if not isinstance(status, dict):
                return drf({"status": {"non_field_errors": [not_a_dict(status)]}}, 400)
            state, text = status.get("state"), status.get("text", "")
            if not isinstance(state, str) or state not in STATE_DISPLAY:
                return drf({"status": {"state": [invalid_choice(str(state))]}}, 400)
            if not isinstance(text, str):
                return drf({"status": {"text": ["Geen geldige string."]}}, 400)
            changed = MeldingStatus(state, text, dt.datetime.now(dt.UTC))
            signal.statussen = [*signal.statussen, changed]  # a new list: the generated municipality stays as it was
            self._changed(signal.id)
        return drf(self._detail(signal))

    def _changed(self, signal_id: int) -> None:
        self._items.pop(signal_id, None)
        self._index = None

    def reset_signal(self, signal_id: int) -> None:
        """Undo what PATCH changed (tests): the melding as the generated municipality has it."""
        self.signals[signal_id] = self._from_melding(self.data.meldingen[signal_id])
        self._changed(signal_id)

    async def private_history(self, request: Request) -> Response:
        """History log of one melding; ``what`` narrows it to one kind of entry."""
        found = self._signal_or_404(request)
        if isinstance(found, Response):
            return found
        log = self._history(found)
        what = request.query_params.get("what")
        if what:
            log = [e for e in log if e["what"].lower() == what.lower()]
        return drf(log)

    async def private_categories(self, request: Request) -> Response:
        """Every category, main and sub, with departments and SLA."""
        refused = self._authenticate(request)
        if refused:
            return refused
        return self._paginate(request, list(self.catalog.by_id.values()), self._private_category)

    async def private_category(self, request: Request) -> Response:
        """One category by id."""
        refused = self._authenticate(request)
        if refused:
            return refused
        raw = request.path_params["id"]
        cat = self.catalog.by_id.get(_int(raw, 0))
        return drf(self._private_category(cat)) if cat else drf({"detail": NOT_FOUND}, 404)

    # -- creating a signal -----------------------------------------------------------------------------

    def _validate_create(self, body: Mapping[str, Any]) -> tuple[Errors, Signal | None]:
        """PublicSignalCreateSerializer: field errors first, then the object-level checks."""
        errors: Errors = {}
        source = body.get("source", "online")
        if not isinstance(source, str) or source not in PUBLIC_SOURCES:
            errors["source"] = ["Invalid source given for anonymous user"]
        text = _char(body, "text", errors, required=True, limit=3000)
        text_extra = _char(body, "text_extra", errors, required=False, limit=10000, allow_blank=True)
        location = self._validate_location(body, errors)
        category = self._validate_category(body, errors)
        reporter = _validate_reporter(body, errors)
        start = _datetime(body, "incident_date_start", errors, required=True)
        end = _datetime(body, "incident_date_end", errors, required=False)
        extra = body.get("extra_properties")
        if extra is not None and not _valid_extra_properties(extra):
            errors["extra_properties"] = ["Ongeldige invoer."]
        if errors:
            return errors, None
        unknown = set(body) - set(CREATE_FIELDS)
        if unknown:
            return {"non_field_errors": [f"Extra properties present: {', '.join(sorted(unknown))}"]}, None
        if body.get("session") is not None:
            return {"session": ["Session matching query does not exist."]}, None
        assert text is not None
        assert location is not None
        assert category is not None
        assert start is not None
        now = dt.datetime.now(dt.UTC)
        lon, lat, address, original = location
        return {}, Signal(
            id=max(self.signals, default=0) + 1, uuid=str(uuid.uuid4()), text=text, category=category,
            statussen=[MeldingStatus("m", "", now)], lon=lon, lat=lat, address=address,
            stadsdeel=self._stadsdeel_at(lat, lon), buurt_code=_opt_str(body["location"].get("buurt_code")),
            created_at=now, incident_date_start=start, incident_date_end=end, source=source,
            reporter_email=reporter.get("email") or None, reporter_phone=reporter.get("phone") or None,
            sharing_allowed=bool(reporter.get("sharing_allowed", False)), text_extra=text_extra or "",
            extra_properties=extra, location_extra={"original_address": original} if original else None,
            bag_validated=address is not None,
        )

    def _validate_location(
        self, body: Mapping[str, Any], errors: Errors,
    ) -> tuple[float, float, dict[str, Any] | None, Any] | None:
        """Nested location serializer, then the address check against the BAG (through PDOK in Signalen)."""
        location = body.get("location")
        if "location" not in body:
            errors["location"] = [REQUIRED]
            return None
        if not isinstance(location, dict):
            errors["location"] = {"non_field_errors": [not_a_dict(location)]}
            return None
        nested: Errors = {}
        point = location.get("geometrie")
        coords = point.get("coordinates") if isinstance(point, dict) and point.get("type") == "Point" else None
        if "geometrie" not in location:
            nested["geometrie"] = [REQUIRED]
        elif not (isinstance(coords, list) and len(coords) in (2, 3)
                  and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords)):
            nested["geometrie"] = ["Invalid format: string or unicode input unrecognized as GeoJSON, WKT EWKT "
                                   "or HEXEWKB."]
        elif not (BOUNDING_BOX[0] <= coords[0] <= BOUNDING_BOX[2] and BOUNDING_BOX[1] <= coords[1] <= BOUNDING_BOX[3]):
            nested["geometrie"] = ["The location coordinates (WS84) are not inside the bounding box we are "
                                   "accepting signals for."]
        given = location.get("address")
        if given is not None and not isinstance(given, dict):
            nested["address"] = ["Value must be valid JSON."]
        if nested:
            errors["location"] = nested
            return None
        assert isinstance(coords, list)
        if not given:
            return float(coords[0]), float(coords[1]), None, None
        found = self._find_bag_address(given)
        if found is None:
            errors["location"] = {"location": "Niet-bestaand adres."}
            return None
        return float(coords[0]), float(coords[1]), self._bag_address(found), given

    def _validate_category(self, body: Mapping[str, Any], errors: Errors) -> Category | None:
        value = body.get("category")
        if "category" not in body:
            errors["category"] = [REQUIRED]
            return None
        if not isinstance(value, dict):
            errors["category"] = {"non_field_errors": [not_a_dict(value)]}
            return None
        given = [k for k in ("sub_category", "category_url") if k in value]
        if len(given) != 1:
            errors["category"] = ['Either the "sub_category" OR the "category_url" must be given' if not given
                                  else 'Only the "sub_category" OR "category_url" can be given']
            return None
        url = value[given[0]]
        if not isinstance(url, str):
            errors["category"] = {given[0]: [f"Ongeldig type. Verwacht een URL, maar kreeg {type(url).__name__}."]}
            return None
        path = urlsplit(url).path
        match = re.fullmatch(rf"{re.escape(self.base_path)}/public/terms/categories/([-\w]+)"
                             r"(?:/sub_categories/([-\w]+))?/?", path)
        if match is None:
            errors["category"] = {given[0]: ["Ongeldige hyperlink - Geen URL match."]}
            return None
        if match.group(2) is None:
            errors["category"] = {given[0]: ["Ongeldige hyperlink - Onjuiste URL match."]}
            return None
        sub = self.catalog.subs.get((match.group(1), match.group(2)))
        if sub is None:
            errors["category"] = {given[0]: ["Ongeldige hyperlink - Object bestaat niet."]}
        return sub

    def _stadsdeel_at(self, lat: float, lon: float) -> str | None:
        """The stadsdeel (wijk) of the buurt of the nearest verblijfsobject: Signalen's area lookup."""
        nearest = min(self.data.verblijfsobjecten.values(),
                      key=lambda vo: (vo.wgs84[0] - lat) ** 2 + (vo.wgs84[1] - lon) ** 2, default=None)
        buurt = self.data.buurten.get(nearest.buurt_code) if nearest else None
        return buurt.wijk if buurt else None


# --- field validation helpers --------------------------------------------------------------------------


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _char(body: Mapping[str, Any], key: str, errors: Errors, *, required: bool, limit: int,
          allow_blank: bool = False) -> str | None:
    if key not in body:
        if required:
            errors[key] = [REQUIRED]
        return None
    value = body[key]
    if value is None:
        if required:
            errors[key] = ["Dit veld mag niet leeg zijn."]
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errors[key] = ["Geen geldige string."]
        return None
    text = str(value)
    if not text.strip() and not allow_blank:
        errors[key] = [BLANK]
    elif len(text) > limit:
        errors[key] = [max_length(limit)]
    return text


def _datetime(body: Mapping[str, Any], key: str, errors: Errors, *, required: bool) -> dt.datetime | None:
    if body.get(key) is None:
        if required:
            errors[key] = [REQUIRED if key not in body else "Dit veld mag niet leeg zijn."]
        return None
    moment = parse_datetime(body[key]) if isinstance(body[key], str) else None
    if moment is None:
        errors[key] = [DATETIME_FORMAT]
    return moment


def _validate_reporter(body: Mapping[str, Any], errors: Errors) -> dict[str, Any]:
    if "reporter" not in body:
        errors["reporter"] = [REQUIRED]
        return {}
    reporter = body["reporter"]
    if not isinstance(reporter, dict):
        errors["reporter"] = {"non_field_errors": [not_a_dict(reporter)]}
        return {}
    nested: Errors = {}
    email = reporter.get("email")
    if email and (not isinstance(email, str) or not EMAIL.match(email)):
        nested["email"] = ["Voer een geldig e-mailadres in."]
    phone = reporter.get("phone")
    if phone and (not isinstance(phone, str) or len(phone) > 17):
        nested["phone"] = [max_length(17) if isinstance(phone, str) else "Geen geldige string."]
    if "sharing_allowed" in reporter and not isinstance(reporter["sharing_allowed"], bool):
        nested["sharing_allowed"] = ["Moet een geldige boolean zijn."]
    if nested:
        errors["reporter"] = nested
    return reporter


def _valid_extra_properties(value: Any) -> bool:
    """The shape json_schema/extra_properties.json demands: a list of answered questions."""
    required = ("id", "label", "answer", "category_url")
    return isinstance(value, list) and all(
        isinstance(item, dict) and all(k in item for k in required)
        and isinstance(item["id"], str) and isinstance(item["label"], str) and isinstance(item["category_url"], str)
        for item in value
    )


# --- list filtering ------------------------------------------------------------------------------------


class _Index:
    """Precomputed id sets and sorted orders, so a filtered list is set algebra, not a scan."""

    MULTI = ("status", "priority", "type", "source", "stadsdeel", "buurt_code", "category_slug",
             "maincategory_slug", "contact_details")

    def __init__(self, signals: Iterable[Signal]) -> None:
        self.signals = {s.id: s for s in signals}
        self.sets: dict[str, defaultdict[str, set[int]]] = {name: defaultdict(set) for name in self.MULTI}
        for s in self.signals.values():
            assert s.category.parent is not None
            for name, value in (("status", s.status.state), ("priority", s.priority), ("type", s.type),
                                ("source", s.source), ("stadsdeel", s.stadsdeel), ("buurt_code", s.buurt_code),
                                ("category_slug", s.category.slug), ("maincategory_slug", s.category.parent.slug),
                                ("contact_details", _contact(s))):
                for v in [value] if isinstance(value, str) else value or []:
                    self.sets[name][v].add(s.id)
        self.created = sorted((s.created_at, s.id) for s in self.signals.values())
        self.updated = sorted((s.updated_at, s.id) for s in self.signals.values())
        self.orders: dict[tuple[str, ...], list[int]] = {}

    def choices(self, name: str, sim: SignalenSimulator) -> set[str]:
        fixed = {
            "status": set(STATE_DISPLAY), "priority": set(PRIORITY_DISPLAY), "type": set(TYPE_DISPLAY),
            "contact_details": {"none", "phone", "email"},
            "category_slug": sim.catalog.sub_slugs(), "maincategory_slug": set(sim.catalog.mains),
            "buurt_code": set(sim.data.buurten),
            "stadsdeel": {b.wijk for b in sim.data.buurten.values()},
        }
        return fixed.get(name, set()) | set(self.sets[name])

    def ordered(self, terms: tuple[str, ...]) -> list[int]:
        order = self.orders.get(terms)
        if order is None:
            order = sorted(self.signals)  # the database's tie-break, made deterministic
            for term in reversed(terms):
                key = _SORT_KEYS[term.lstrip("-")]
                values = {i: key(s) for i, s in self.signals.items()}
                order.sort(key=values.__getitem__, reverse=term.startswith("-"))
            self.orders[terms] = order
        return order

    def _range(self, pairs: list[tuple[dt.datetime, int]], lo: dt.datetime | None,
               hi: dt.datetime | None) -> set[int]:
        start = 0 if lo is None else bisect.bisect_left(pairs, (lo, -1))
        end = len(pairs) if hi is None else bisect.bisect_right(pairs, (hi, sys.maxsize))
        return {i for _, i in pairs[start:end]}

    def select(self, params: list[tuple[str, str]], sim: SignalenSimulator) -> tuple[Errors, list[int]]:
        """Apply SignalFilterSet and the ordering filter; every bad parameter is reported at once."""
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in params:
            if value != "":
                values[key].append(value)
        errors: Errors = {}
        selected: list[set[int]] = []
        category_sets: list[set[int]] = []
        for name in self.MULTI:
            if name not in values:
                continue
            allowed = self.choices(name, sim)
            bad = [v for v in values[name] if v not in allowed]
            if bad:
                errors[name] = [invalid_choice(bad[0])]
                continue
            if name == "contact_details" and set(values[name]) == allowed:
                continue
            found = set().union(*(self.sets[name].get(v, set()) for v in values[name]))
            (category_sets if name.endswith("category_slug") else selected).append(found)
        if category_sets:  # main and sub category filters widen each other
            selected.append(set().union(*category_sets))
        moments: dict[str, dt.datetime | None] = {}
        for name in ("created_after", "created_before", "updated_after", "updated_before"):
            raw = values[name][-1] if name in values else None
            moments[name] = parse_datetime(raw) if raw else None
            if raw and moments[name] is None:
                errors[name] = ["Voer een geldige datum/tijd in."]
        if moments["created_after"] or moments["created_before"]:
            selected.append(self._range(self.created, moments["created_after"], moments["created_before"]))
        if moments["updated_after"] or moments["updated_before"]:
            selected.append(self._range(self.updated, moments["updated_after"], moments["updated_before"]))
        for predicate in self._scans(values, errors):
            selected.append({i for i, s in self.signals.items() if predicate(s)})
        if errors:
            return errors, []
        raw_ordering = values["ordering"][-1] if "ordering" in values else ""
        terms = tuple(t for t in (p.strip() for p in raw_ordering.split(",")) if t.lstrip("-") in ORDERING_FIELDS)
        order = self.ordered(terms or DEFAULT_ORDERING)
        if not selected:
            return {}, order
        keep = set.intersection(*selected)
        return {}, [i for i in order if i in keep]

    @staticmethod
    def _scans(values: Mapping[str, list[str]], errors: Errors) -> list[Callable[[Signal], bool]]:
        """Filters that need a look at each signal: id, text search, reporter email, incident dates."""
        predicates: list[Callable[[Signal], bool]] = []
        if "id" in values:
            try:
                wanted = Decimal(values["id"][-1])
                predicates.append(lambda s: s.id == wanted)
            except InvalidOperation:
                errors["id"] = ["Voer een getal in."]
        if "address_text" in values:
            needle = values["address_text"][-1].lower()
            predicates.append(lambda s: needle in s.address_text.lower())
        if "reporter_email" in values:
            email = values["reporter_email"][-1].lower()
            predicates.append(lambda s: (s.reporter_email or "").lower() == email)
        compare: dict[str, Callable[[dt.date, dt.date], bool]] = {
            "incident_date": lambda a, b: a == b,
            "incident_date_before": lambda a, b: a >= b,  # swapped in Signalen's filter set, kept
            "incident_date_after": lambda a, b: a <= b,
        }
        for name, op in compare.items():
            if name not in values:
                continue
            try:
                day = dt.date.fromisoformat(values[name][-1])
            except ValueError:
                errors[name] = ["Voer een geldige datum in."]
                continue
            predicates.append(_on_incident_day(op, day))
        return predicates


def _on_incident_day(op: Callable[[dt.date, dt.date], bool], day: dt.date) -> Callable[[Signal], bool]:
    return lambda s: op(s.incident_date_start.astimezone(LOCAL).date(), day)


def _contact(s: Signal) -> list[str]:
    kinds = [kind for kind, value in (("email", s.reporter_email), ("phone", s.reporter_phone)) if value]
    return kinds or ["none"]


_SORT_KEYS: dict[str, Callable[[Signal], Any]] = {
    "id": lambda s: s.id,
    "created_at": lambda s: s.created_at,
    "updated_at": lambda s: s.updated_at,
    "stadsdeel": lambda s: s.stadsdeel or "",
    "sub_category": lambda s: s.category.slug,
    "main_category": lambda s: s.category.parent.slug if s.category.parent else "",
    "status": lambda s: s.status.state,
    "priority": lambda s: s.priority,
    "address": lambda s: s.address_text,
    "assigned_user_email": lambda s: "",
    "area_name": lambda s: "",
}
