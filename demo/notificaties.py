"""ZGW Notificaties API 1.0.1 as Open Notificaties serves it: kanalen, abonnementen and routed notificaties.

Behaviour kept from the OAS and the Open Notificaties source:

- ZGW JWT on every call (403, never 401, when missing, badly signed or stale); problem+json errors, a 400
  with ``invalidParams`` (nested fields dotted, e.g. ``kanalen.0.naam``); unknown query parameters on the
  lists are a 400 ``unknown-parameters``. Lists are plain arrays, not paginated.
- ``auth`` of an abonnement is write-only: it is never shown again.
- Creating or changing an abonnement calls its ``callbackUrl`` first: a test notificatie WITHOUT the
  ``auth`` header must be refused with 401/403 (``no-auth-on-callback-url`` otherwise), and one WITH it must
  be answered 204 exactly (``invalid-callback-url`` otherwise). A PATCH without ``auth`` sends the second
  check unauthenticated, so it fails against a properly protected receiver, as in Open Notificaties; a
  PATCH or PUT without ``kanalen`` drops the abonnement's kanalen, also as there.
- A kanaal in an abonnement must exist (``kanaal_naam``, reported under ``naam``) and the filter names must
  be a subset or superset of the kanaal's filters; a notificatie's kenmerken likewise.
- ``POST /notificaties`` answers 201 with the message (the OAS says 200; Open Notificaties answers 201),
  then delivers it in the background to every abonnement on that kanaal whose filters match (``*`` matches
  anything; a filter key the message lacks is ignored), POSTing the message with ``Authorization: <auth>``.
  A non-2xx answer or a connection error is logged and retried with Open Notificaties' default back-off.
  ``GET|DELETE /_demo/deliveries`` shows every delivery attempt and callback check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import re
import ssl
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import jwt
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.conformance import Specs
from demo.model import Municipality
from demo.simulator import Simulator, json_response
from demo.zgw_auth import check_zgw_token, zgw_clients

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 5.0
RETRY_DELAYS_S = (3.0, 12.0, 48.0, 48.0, 48.0)  # backoff 3 s, base 4, max 48 s, 5 retries
KEPT_DELIVERIES = 1000
KANALEN = (
    ("zaken", ("bronorganisatie", "zaaktype", "vertrouwelijkheidaanduiding")),
    ("documenten", ("bronorganisatie", "informatieobjecttype", "vertrouwelijkheidaanduiding")),
    ("besluiten", ("verantwoordelijkeOrganisatie", "besluittype")),
    ("autorisaties", ()),
    # Open Zaak's Catalogi publish per type (its catalogi OpenAPI document, "Notificaties")
    ("zaaktypen", ("catalogus",)),
    ("informatieobjecttypen", ("catalogus",)),
    ("besluittypen", ("catalogus",)),
)
DOCS = "https://vng-realisatie.github.io/gemma-zaken/standaard/{}/index"
CHECK_MESSAGE = {
    "kanaal": "test", "hoofdObject": "http://some.hoofdobject.nl/", "resource": "some_resource",
    "resourceUrl": "http://some.resource.nl/", "actie": "create", "aanmaakdatum": "2019-01-01T12:00:00Z",
    "kenmerken": {},
}
URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
REQUIRED = ("required", "Dit veld is vereist.")
NULL = ("null", "Dit veld mag niet leeg zijn.")
BLANK = ("blank", "Dit veld mag niet leeg zijn.")
BAD_URL = ("invalid", "Voer een geldige URL in.")
NOT_A_STRING = ("invalid", "Geen geldige string.")
CANNOT_RECEIVE = "De opgegeven callback URL kan geen notificaties ontvangen."
UNPROTECTED = "De opgegeven callback URL is niet beveiligd met autorisatie."

Problem = tuple[str, str, str]  # invalidParams entry: name, code, reason
Group = tuple[str, dict[str, str]]  # an abonnement's kanaal: naam and filters


def not_a_list(value: Any) -> tuple[str, str]:
    return "not_a_list", f'Verwachtte een lijst met items, kreeg type "{type(value).__name__}".'


def camelize(key: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), key)


def underscoreize(key: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()


def matches_filter_names(kanaal_filters: Sequence[str], names: Sequence[str]) -> bool:
    """Kanaal.match_filter_names: the names are a subset or a superset of the kanaal's filters."""
    have, given = {underscoreize(f) for f in kanaal_filters}, {underscoreize(n) for n in names}
    return have <= given or have >= given


def django_json_datetime(moment: dt.datetime) -> str:
    """DjangoJSONEncoder: milliseconds at most, UTC written as Z."""
    text = moment.isoformat()
    if moment.microsecond:
        text = text[:23] + text[26:]
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(slots=True)
class Kanaal:
    uuid: str
    naam: str
    documentatie_link: str = ""
    filters: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Abonnement:
    uuid: str
    callback_url: str
    auth: str
    kanalen: list[Group]
    client_id: str = ""

    def wants(self, message: Mapping[str, Any]) -> bool:
        """FilterGroup.match_pattern for the message's kanaal: every filter it has must match."""
        kenmerken: Mapping[str, str] = message.get("kenmerken") or {}
        for naam, filters in self.kanalen:
            if naam != message["kanaal"]:
                continue
            if all(value == "*" or kenmerken.get(camelize(key), value) == value for key, value in filters.items()):
                return True
        return False


class NotificatiesSimulator(Simulator):
    """The notification router: ZGW sources publish to it, the gateway subscribes for cache invalidation."""

    name = "notificaties"
    title = "Notificaties API"
    api_version = "1.0.1"
    base_path = "/notificaties/api/v1"
    default_port = 8109
    official_specs: ClassVar[Specs] = {
        "/notificaties/api/v1": ("zgw/standaard/notificaties/nrc/1.0.1/openapi.yaml",),
    }

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self.clients = zgw_clients(config, (self.name,))
        self.kanalen: dict[str, Kanaal] = {}
        for naam, filters in KANALEN:
            kanaal = Kanaal(str(uuid.uuid5(uuid.NAMESPACE_URL, f"gemeentegraaf-demo/kanaal/{naam}")), naam,
                            DOCS.format(naam), list(filters))
            self.kanalen[kanaal.uuid] = kanaal
        self.abonnementen: dict[str, Abonnement] = {}
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=KEPT_DELIVERIES)
        self.test_callback_auth = bool(self.source_config().get("test_callback_auth", True))
        self.retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> Sequence[BaseRoute]:
        b = self.base_path
        return [
            Route(b + "/kanaal", self.kanaal_list, methods=["GET", "POST"]),
            Route(b + "/kanaal/{uuid}", self.kanaal_read, methods=["GET"]),
            Route(b + "/abonnement", self.abonnement_list, methods=["GET", "POST"]),
            Route(b + "/abonnement/{uuid}", self.abonnement_detail, methods=["GET", "PUT", "PATCH", "DELETE"]),
            Route(b + "/notificaties", self.notificaties_create, methods=["POST"]),
            Route("/_demo/deliveries", self.demo_deliveries, methods=["GET", "DELETE"]),
        ]

    # -- shared request handling -----------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        reason = check_zgw_token(request.headers.get("authorization"), self.clients)
        if reason is None:
            return None
        if reason == "Authenticatiegegevens zijn niet opgegeven.":
            return self.error(request, 403, reason, reason, "not_authenticated")
        return self.error(request, 403, "U heeft geen toestemming om deze actie uit te voeren.", reason,
                          "permission_denied")

    def _invalid(self, request: Request, problems: Sequence[Problem]) -> Response:
        body = self.error_body(request, 400, "Ongeldige invoer.", "Ongeldige invoer.", "invalid")
        body["invalidParams"] = [{"name": n, "code": c, "reason": r} for n, c, r in problems]
        return json_response(body, 400, self.error_media_type)

    async def _json_object(self, request: Request) -> dict[str, Any] | Response:
        media = request.headers.get("content-type", "").split(";")[0].strip()
        if media != "application/json":
            title = f'Ongeldige media type "{media}" in aanvraag.'
            return self.error(request, 415, title, title, "unsupported_media_type")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return self.error(request, 400, f"JSON parse error - {exc}", f"JSON parse error - {exc}", "parse_error")
        if not isinstance(body, dict):
            reason = f"Ongeldige data. Verwachtte een dictionary, kreeg een {type(body).__name__}."
            return self._invalid(request, [("nonFieldErrors", "invalid", reason)])
        return body

    def _unknown_params(self, request: Request, known: set[str]) -> Response | None:
        unknown = sorted(set(request.query_params) - known)
        if not unknown:
            return None
        reason = f"Onbekende query parameters: {', '.join(unknown)}"
        return self._invalid(request, [("nonFieldErrors", "unknown-parameters", reason)])

    # -- kanalen ---------------------------------------------------------------------------------------

    def _kanaal(self, kanaal: Kanaal) -> dict[str, Any]:
        return {"url": self.url(f"/kanaal/{kanaal.uuid}"), "naam": kanaal.naam,
                "documentatieLink": kanaal.documentatie_link, "filters": kanaal.filters}

    def _kanaal_named(self, naam: str) -> Kanaal | None:
        return next((k for k in self.kanalen.values() if k.naam == naam), None)

    async def kanaal_list(self, request: Request) -> Response:
        """List kanalen (filter ``naam``) or register one."""
        refused = self._refused(request)
        if refused:
            return refused
        if request.method == "POST":
            return await self._kanaal_create(request)
        bad = self._unknown_params(request, {"naam"})
        if bad:
            return bad
        naam = request.query_params.get("naam")
        return json_response([self._kanaal(k) for k in self.kanalen.values() if naam is None or k.naam == naam])

    async def _kanaal_create(self, request: Request) -> Response:
        body = await self._json_object(request)
        if isinstance(body, Response):
            return body
        problems: list[Problem] = []
        naam = _string(body, "naam", problems, limit=50)
        if naam is not None and self._kanaal_named(naam):
            problems.append(("naam", "unique", "Dit veld moet uniek zijn."))
        link = _string(body, "documentatieLink", problems, limit=200, required=False, allow_blank=True)
        if link and not URL.match(link):
            problems.append(("documentatieLink", *BAD_URL))
        filters = body.get("filters", [])
        if not isinstance(filters, list):
            problems.append(("filters", *not_a_list(filters)))
        else:
            for i, item in enumerate(filters):
                if not isinstance(item, str) or not item or len(item) > 100:
                    problems.append((f"filters.{i}", "invalid", "Geen geldige string van ten hoogste 100 tekens."))
        if problems:
            return self._invalid(request, problems)
        assert naam is not None
        kanaal = Kanaal(str(uuid.uuid4()), naam, link or "", list(filters))
        self.kanalen[kanaal.uuid] = kanaal
        rendered = self._kanaal(kanaal)
        return json_response(rendered, 201, headers={"Location": rendered["url"]})

    async def kanaal_read(self, request: Request) -> Response:
        """One kanaal."""
        refused = self._refused(request)
        if refused:
            return refused
        kanaal = self.kanalen.get(request.path_params["uuid"])
        if kanaal is None:
            return self.error(request, 404, "Niet gevonden.", "Niet gevonden.", "not_found")
        return json_response(self._kanaal(kanaal))

    # -- abonnementen ----------------------------------------------------------------------------------

    def _abonnement(self, abonnement: Abonnement) -> dict[str, Any]:
        return {"url": self.url(f"/abonnement/{abonnement.uuid}"), "callbackUrl": abonnement.callback_url,
                "kanalen": [{"filters": filters, "naam": naam} for naam, filters in abonnement.kanalen]}

    async def abonnement_list(self, request: Request) -> Response:
        """List abonnementen or subscribe a callback."""
        refused = self._refused(request)
        if refused:
            return refused
        if request.method == "POST":
            return await self._abonnement_write(request, None)
        bad = self._unknown_params(request, set())
        return bad or json_response([self._abonnement(a) for a in self.abonnementen.values()])

    async def abonnement_detail(self, request: Request) -> Response:
        """Read, replace, change or delete one abonnement."""
        refused = self._refused(request)
        if refused:
            return refused
        abonnement = self.abonnementen.get(request.path_params["uuid"])
        if abonnement is None:
            return self.error(request, 404, "Niet gevonden.", "Niet gevonden.", "not_found")
        if request.method == "GET":
            return json_response(self._abonnement(abonnement))
        if request.method == "DELETE":
            del self.abonnementen[abonnement.uuid]
            return Response(status_code=204)
        return await self._abonnement_write(request, abonnement)

    async def _abonnement_write(self, request: Request, current: Abonnement | None) -> Response:
        """AbonnementSerializer: fields (with the unauthenticated callback check), callback check, kanalen."""
        body = await self._json_object(request)
        if isinstance(body, Response):
            return body
        partial = request.method == "PATCH"
        problems: list[Problem] = []
        callback = _string(body, "callbackUrl", problems, limit=200, required=not partial)
        if callback is not None and not URL.match(callback):
            problems.append(("callbackUrl", *BAD_URL))
            callback = None
        auth = _string(body, "auth", problems, limit=1000, required=not partial)
        kanalen = _kanalen(body, problems, required=not partial)
        if callback is not None and self.test_callback_auth:  # a field validator: runs whatever the other fields
            problems.extend(await self._check_unauthenticated(callback))
        if problems:
            return self._invalid(request, problems)
        url = callback or (current.callback_url if current else "")
        problems = await self._check_authenticated(url, auth)
        for naam, filters in kanalen or []:
            kanaal = self._kanaal_named(naam)
            if kanaal is None:
                problems.append(("naam", "kanaal_naam", "Kanaal met deze naam bestaat niet."))
            elif filters and not matches_filter_names(kanaal.filters, list(filters)):
                problems.append(("filters", "inconsistent-abonnement-filters",
                                 "abonnement filters aren't consistent with kanaal filters"))
            if problems:
                break
        if problems:
            return self._invalid(request, problems)
        if current is None:
            claims = _claims(request.headers.get("authorization", ""))
            current = Abonnement(str(uuid.uuid4()), url, auth or "", kanalen or [], str(claims.get("client_id", "")))
            self.abonnementen[current.uuid] = current
            rendered = self._abonnement(current)
            return json_response(rendered, 201, headers={"Location": rendered["url"]})
        current.callback_url = url
        current.auth = auth if auth is not None else current.auth
        current.kanalen = kanalen or []  # Open Notificaties recreates the groups from the request, even if absent
        return json_response(self._abonnement(current))

    async def _check_unauthenticated(self, callback: str) -> list[Problem]:
        """CallbackURLAuthValidator: the receiver must refuse a notificatie that carries no credentials."""
        status = await self._post(callback, CHECK_MESSAGE, None, purpose="auth-check")
        if status in (401, 403):
            return []
        if status is None:
            return [("callbackUrl", "invalid-callback-url", CANNOT_RECEIVE)]
        return [("callbackUrl", "no-auth-on-callback-url", UNPROTECTED)]

    async def _check_authenticated(self, callback: str, auth: str | None) -> list[Problem]:
        """CallbackURLValidator: with the abonnement's auth header the receiver must answer 204."""
        if await self._post(callback, CHECK_MESSAGE, auth, purpose="callback-check") == 204:
            return []
        return [("nonFieldErrors", "invalid-callback-url", CANNOT_RECEIVE)]

    # -- notificaties ----------------------------------------------------------------------------------

    async def notificaties_create(self, request: Request) -> Response:
        """Publish a notificatie; subscribers get it in the background."""
        refused = self._refused(request)
        if refused:
            return refused
        body = await self._json_object(request)
        if isinstance(body, Response):
            return body
        problems: list[Problem] = []
        kanaal_naam = _string(body, "kanaal", problems, limit=50)
        for key, is_url in (("hoofdObject", True), ("resource", False), ("resourceUrl", True), ("actie", False)):
            value = _string(body, key, problems, limit=1000 if is_url else 100)
            if is_url and value is not None and not URL.match(value):
                problems.append((key, *BAD_URL))
        aanmaakdatum = _datetime(body, "aanmaakdatum", problems)
        kenmerken = _kenmerken(body, problems)
        if not problems:
            kanaal = self._kanaal_named(kanaal_naam or "")
            if kanaal is None:
                problems.append(("kanaal", "message_kanaal", "Kanaal met deze naam bestaat niet."))
            elif not matches_filter_names(kanaal.filters, list(kenmerken)):
                problems.append(("kenmerken", "kenmerken_inconsistent",
                                 "Kenmerken aren't consistent with kanaal filters"))
        if problems:
            return self._invalid(request, problems)
        assert aanmaakdatum is not None
        message = {
            "kanaal": body["kanaal"], "hoofdObject": body["hoofdObject"], "resource": body["resource"],
            "resourceUrl": body["resourceUrl"], "actie": body["actie"],
            "aanmaakdatum": django_json_datetime(aanmaakdatum),
            "kenmerken": {camelize(k): v for k, v in kenmerken.items()},
        }
        for abonnement in [a for a in self.abonnementen.values() if a.wants(message)]:
            task = asyncio.get_running_loop().create_task(self._deliver(abonnement, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return json_response(message, 201)

    async def _deliver(self, abonnement: Abonnement, message: Mapping[str, Any]) -> None:
        """deliver_message with the scheduler's retries: a failure is logged, never raised."""
        for attempt, delay in enumerate((0.0, *self.retry_delays_s), start=1):
            await asyncio.sleep(delay)
            if abonnement.uuid not in self.abonnementen:
                return
            status = await self._post(abonnement.callback_url, message, abonnement.auth, purpose="notificatie",
                                      abonnement=abonnement, attempt=attempt)
            if status is not None and 200 <= status < 300:
                return

    async def _post(self, url: str, message: Mapping[str, Any], auth: str | None, *, purpose: str,
                    abonnement: Abonnement | None = None, attempt: int = 1) -> int | None:
        """POST a message to a receiver and record the outcome; the status, or None when it was unreachable."""
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth
        record: dict[str, Any] = {
            "purpose": purpose, "abonnement": self.url(f"/abonnement/{abonnement.uuid}") if abonnement else None,
            "callbackUrl": url, "attempt": attempt, "at": dt.datetime.now(dt.UTC).isoformat(), "message": message,
            "authorization": auth, "status": None, "error": None,
        }
        try:
            async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S, verify=_tls()) as client:
                response = await client.post(url, content=orjson.dumps(message), headers=headers)
            record["status"] = response.status_code
            if purpose == "notificatie" and not 200 <= response.status_code < 300:
                record["error"] = f"Could not send notification: status {response.status_code} - {response.text}"[
                    :1000]
                log.warning("notification_failed %s %s", url, response.status_code)
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("notification_error %s %s", url, record["error"])
        self.deliveries.append(record)
        return record["status"]  # type: ignore[no-any-return]

    async def demo_deliveries(self, request: Request) -> Response:
        """Control plane: every delivery attempt and callback check, oldest first."""
        if request.method == "DELETE":
            self.deliveries.clear()
            return Response(status_code=204)
        return json_response({"deliveries": list(self.deliveries)})


# --- field validation ----------------------------------------------------------------------------------


def _string(body: Mapping[str, Any], key: str, problems: list[Problem], *, limit: int, required: bool = True,
            allow_blank: bool = False) -> str | None:
    if key not in body:
        if required:
            problems.append((key, *REQUIRED))
        return None
    value = body[key]
    if value is None:
        problems.append((key, *NULL))
        return None
    if not isinstance(value, str):
        problems.append((key, *NOT_A_STRING))
        return None
    if not value.strip() and not allow_blank:
        problems.append((key, *BLANK))
        return None
    if len(value) > limit:
        problems.append((key, "max_length", f"Zorg ervoor dat dit veld niet meer dan {limit} karakters bevat."))
        return None
    return value


def _datetime(body: Mapping[str, Any], key: str, problems: list[Problem]) -> dt.datetime | None:
    value = _string(body, key, problems, limit=100)
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        problems.append((key, "invalid", "Datetime heeft een ongeldig formaat, gebruik 1 van de volgende formaten: "
                                         "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _str_map(value: Any, name: str, problems: list[Problem]) -> dict[str, str]:
    """A DictField of CharField(max_length=1000): a JSON object whose values are non-blank strings."""
    if not isinstance(value, dict):
        problems.append((name, "not_a_dict", f'Verwachtte een dictionary van items, maar kreeg type '
                                             f'"{type(value).__name__}".'))
        return {}
    for key, item in value.items():
        if not isinstance(item, str) or not item.strip():
            problems.append((f"{name}.{key}", *(BLANK if isinstance(item, str) else NOT_A_STRING)))
        elif len(item) > 1000:
            problems.append((f"{name}.{key}", "max_length", "Zorg ervoor dat dit veld niet meer dan 1000 karakters "
                                                            "bevat."))
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _kenmerken(body: Mapping[str, Any], problems: list[Problem]) -> dict[str, str]:
    return _str_map(body.get("kenmerken", {}), "kenmerken", problems)


def _kanalen(body: Mapping[str, Any], problems: list[Problem], *, required: bool) -> list[Group] | None:
    if "kanalen" not in body:
        if required:
            problems.append(("kanalen", *REQUIRED))
        return None
    value = body["kanalen"]
    if not isinstance(value, list):
        problems.append(("kanalen", *not_a_list(value)))
        return None
    groups: list[Group] = []
    for i, group in enumerate(value):
        if not isinstance(group, dict):
            problems.append((f"kanalen.{i}.nonFieldErrors", "invalid",
                             f"Ongeldige data. Verwachtte een dictionary, kreeg een {type(group).__name__}."))
            continue
        own: list[Problem] = []
        naam = _string(group, "naam", own, limit=50)
        filters = _str_map(group.get("filters", {}), "filters", own)
        problems.extend((f"kanalen.{i}.{n}", c, r) for n, c, r in own)
        if naam is not None:
            groups.append((naam, filters))
    return groups


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for all deliveries: building one per client costs tens of milliseconds."""
    return httpx.create_ssl_context()


def _claims(authorization: str) -> Mapping[str, Any]:
    """The (already verified) JWT's claims, for the abonnement's client_id."""
    try:
        claims: Mapping[str, Any] = jwt.decode(authorization.partition(" ")[2], options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims
