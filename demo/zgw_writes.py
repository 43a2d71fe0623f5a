"""The demo's write operations on Zaken and the notifications they publish.

Only what a gateway needs to see its cache invalidated: ``POST /zaken``, ``PATCH /zaken/{uuid}`` and
``POST /statussen``, with Open Zaak's validation codes for the mistakes a client is likely to make.
Each successful write POSTs a Notificaties API message, authenticated with a freshly minted ZGW JWT,
without waiting for it: an unreachable or failing NRC is logged and never fails the write.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import jwt

from demo.generate import elfproef
from demo.model import Status, Zaak
from demo.zgw_query import invalid, is_url, uuid_from_url, validation_error
from demo.zgw_select import VERTROUWELIJKHEID, ZAAK_ZOEK_FILTERS
from demo.zgw_store import ZgwStore

log = logging.getLogger(__name__)

REQUIRED = "Dit veld is vereist."
BAD_DATE = "Datum heeft het verkeerde formaat, gebruik 1 van deze formaten: YYYY-MM-DD."
BAD_DATETIME = ("Datetime heeft een ongeldig formaat, gebruik 1 van de volgende formaten: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
NO_OBJECT = "Ongeldige hyperlink - Object bestaat niet."
IMMUTABLE = "Dit veld mag niet gewijzigd worden."
TEXT_LIMITS = {"omschrijving": 80, "toelichting": 1000, "identificatie": 40}


class _Errors:
    """Collects field errors so one response names every problem, as DRF does."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, name: str, code: str, reason: str) -> None:
        self.items.append(invalid(name, code, reason))

    def raise_any(self) -> None:
        if self.items:
            raise validation_error(self.items)


def _date(body: Mapping[str, Any], name: str, errors: _Errors) -> dt.date | None:
    raw = body.get(name)
    if raw is None:
        return None
    try:
        if isinstance(raw, str) and len(raw) == 10:
            return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    errors.add(name, "invalid", BAD_DATE)
    return None


def _text(body: Mapping[str, Any], name: str, errors: _Errors) -> str | None:
    raw = body.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.add(name, "invalid", "Geen geldige string.")
        return None
    limit = TEXT_LIMITS.get(name)
    if limit and len(raw) > limit:
        errors.add(name, "max_length", f"Zorg ervoor dat dit veld niet meer dan {limit} karakters bevat.")
        return None
    return raw


def _rsin(body: Mapping[str, Any], name: str, errors: _Errors) -> str | None:
    raw = body.get(name)
    if raw in (None, ""):
        errors.add(name, "required", REQUIRED)
        return None
    value = str(raw)
    if not value.isdigit():
        errors.add(name, "only-digits", "Voer een numerieke waarde in")
    elif len(value) != 9:
        errors.add(name, "invalid-length", "Een RSIN moet 9 tekens lang zijn.")
    elif not elfproef(value):
        errors.add(name, "invalid", "Onjuist RSIN nummer")
    else:
        return value
    return None


def _vertrouwelijkheid(body: Mapping[str, Any], errors: _Errors) -> str | None:
    raw = body.get("vertrouwelijkheidaanduiding")
    if raw is None or raw == "":
        return None
    if raw not in VERTROUWELIJKHEID:
        errors.add("vertrouwelijkheidaanduiding", "invalid_choice", f'"{raw}" is een ongeldige keuze.')
        return None
    return str(raw)


def new_zaak(store: ZgwStore, body: Mapping[str, Any], today: dt.date) -> Zaak:
    """A zaak from a ``POST /zaken`` body, or a 400 naming every invalid field."""
    errors = _Errors()
    bron = _rsin(body, "bronorganisatie", errors)
    _rsin(body, "verantwoordelijkeOrganisatie", errors)
    zaaktype_url = body.get("zaaktype")
    zaaktype = None
    if not zaaktype_url:
        errors.add("zaaktype", "required", REQUIRED)
    elif not isinstance(zaaktype_url, str) or not is_url(zaaktype_url):
        errors.add("zaaktype", "invalid", "Voer een geldige URL in.")
    else:
        zaaktype = store.zaaktypen.get(uuid_from_url(zaaktype_url, "/zaaktypen") or "")
        if zaaktype is None:
            errors.add("zaaktype", "does_not_exist", NO_OBJECT)
        elif zaaktype.concept:
            errors.add("zaaktype", "not-published", "Het zaaktype is nog niet gepubliceerd.")
    if "startdatum" not in body:
        errors.add("startdatum", "required", REQUIRED)
    start = _date(body, "startdatum", errors)
    gepland = _date(body, "einddatumGepland", errors)
    registratie = _date(body, "registratiedatum", errors) or today
    texts = {name: _text(body, name, errors) for name in TEXT_LIMITS}
    vertrouwelijk = _vertrouwelijkheid(body, errors)
    errors.raise_any()
    assert zaaktype is not None
    assert start is not None
    assert bron is not None
    identificatie = texts["identificatie"] or _next_identificatie(store, bron, registratie.year)
    if (bron, identificatie) in store.by_identificatie:
        raise validation_error([invalid("identificatie", "identificatie-niet-uniek",
                                        "Deze identificatie bestaat al voor deze bronorganisatie")])
    return Zaak(
        uuid=str(uuid.uuid4()), identificatie=identificatie, bronorganisatie=bron,
        omschrijving=texts["omschrijving"] or "", toelichting=texts["toelichting"] or "",
        zaaktype_uuid=zaaktype.uuid, registratiedatum=registratie, startdatum=start,
        einddatum_gepland=gepland or start + dt.timedelta(days=zaaktype.doorlooptijd_dagen), einddatum=None,
        vertrouwelijkheidaanduiding=vertrouwelijk or "zaakvertrouwelijk", statussen=[], resultaat=None, rollen=[],
        zaakobjecten=[], document_uuids=[], besluit_uuids=[],
    )


def _next_identificatie(store: ZgwStore, bron: str, year: int) -> str:
    number = len(store.zaken) + 1
    while (bron, f"ZAAK-{year}-{number:07d}") in store.by_identificatie:
        number += 1
    return f"ZAAK-{year}-{number:07d}"


def zaak_changes(store: ZgwStore, zaak: Zaak, body: Mapping[str, Any]) -> dict[str, Any]:
    """The model changes a ``PATCH /zaken/{uuid}`` body asks for; unknown fields are ignored (DRF)."""
    errors = _Errors()
    current = {"zaaktype": None, "identificatie": zaak.identificatie, "bronorganisatie": zaak.bronorganisatie}
    for name, value in current.items():
        if name in body and body[name] != value and not (name == "zaaktype" and _same_zaaktype(body[name], zaak)):
            errors.add(name, "wijzigen-niet-toegelaten", IMMUTABLE)
    changes: dict[str, Any] = {}
    for name in ("omschrijving", "toelichting"):
        if name in body:
            changes[name] = _text(body, name, errors)
    for name, attr in (("startdatum", "startdatum"), ("einddatumGepland", "einddatum_gepland")):
        if name in body:
            changes[attr] = _date(body, name, errors)
            if changes[attr] is None and name == "startdatum":
                errors.add(name, "null", "Dit veld mag niet leeg zijn.")
    if "vertrouwelijkheidaanduiding" in body:
        changes["vertrouwelijkheidaanduiding"] = _vertrouwelijkheid(body, errors) or zaak.vertrouwelijkheidaanduiding
    errors.raise_any()
    return {k: v for k, v in changes.items() if v is not None}


def _same_zaaktype(url: Any, zaak: Zaak) -> bool:
    return isinstance(url, str) and uuid_from_url(url, "/zaaktypen") == zaak.zaaktype_uuid


def new_status(store: ZgwStore, body: Mapping[str, Any]) -> tuple[Zaak, Status]:
    """(zaak, status) from a ``POST /statussen`` body, or a 400."""
    errors = _Errors()
    zaak = None
    for name in ("zaak", "statustype", "datumStatusGezet"):
        if not body.get(name):
            errors.add(name, "required", REQUIRED)
    if body.get("zaak"):
        zaak = store.zaken.get(uuid_from_url(str(body["zaak"]), "/zaken") or "")
        if zaak is None:
            errors.add("zaak", "does_not_exist", NO_OBJECT)
    statustype_uuid = uuid_from_url(str(body.get("statustype") or ""), "/statustypen")
    if body.get("statustype") and statustype_uuid not in store.statustypen:
        errors.add("statustype", "does_not_exist", NO_OBJECT)
        statustype_uuid = None
    moment = _datetime(body.get("datumStatusGezet"))
    if body.get("datumStatusGezet") and moment is None:
        errors.add("datumStatusGezet", "invalid", BAD_DATETIME)
    toelichting = _text(body, "statustoelichting", errors) or ""
    errors.raise_any()
    assert zaak is not None
    assert statustype_uuid is not None
    assert moment is not None
    if store.statustypen[statustype_uuid][0].uuid != zaak.zaaktype_uuid:
        raise validation_error([invalid("nonFieldErrors", "zaaktype-mismatch",
                                        "De referentie hoort niet bij het zaaktype van de zaak.")])
    return zaak, Status(str(uuid.uuid4()), statustype_uuid, moment, toelichting)


def _datetime(raw: Any) -> dt.datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def status_changes(store: ZgwStore, zaak: Zaak, status: Status) -> dict[str, Any]:
    """A new status is the current one by date; an eindstatus closes the zaak, another one reopens it."""
    statussen = sorted([*zaak.statussen, status], key=lambda s: s.datum_status_gezet)
    current = store.statustypen[statussen[-1].statustype_uuid][1]
    return {"statussen": statussen,
            "einddatum": statussen[-1].datum_status_gezet.date() if current.is_eindstatus else None}


def require_search_body(body: Any) -> dict[str, Any]:
    """A ``_zoek`` body must be a non-empty JSON object."""
    if not isinstance(body, dict) or not body:
        raise validation_error([invalid("nonFieldErrors", "empty_search_body", "Search parameters must be specified")])
    return body


def zoek_body(body: Any) -> dict[str, Any]:
    """The filters of a zaken ``_zoek`` body; other keys are ignored (DRF)."""
    body = require_search_body(body)
    known = {f.name for f in ZAAK_ZOEK_FILTERS} | {"expand", "ordering", "uuid__in"}
    return {k: v for k, v in body.items() if k in known}


# --- notifications ---------------------------------------------------------------------------------


def notification(kanaal: str, zaak_url: str, resource: str, resource_url: str, actie: str,
                 kenmerken: Mapping[str, str]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"kanaal": kanaal, "hoofdObject": zaak_url, "resource": resource, "resourceUrl": resource_url,
            "actie": actie, "aanmaakdatum": now, "kenmerken": dict(kenmerken)}


def nrc_token(client_id: str, secret: str) -> str:
    claims = {"iss": client_id, "iat": int(time.time()), "client_id": client_id, "user_id": client_id,
              "user_representation": "Open Zaak"}
    return jwt.encode(claims, secret, algorithm="HS256")


class Publisher:
    """Sends notifications in the background; keeps the tasks referenced until they finish."""

    def __init__(self, url: str | None, client_id: str, secret: str) -> None:
        self.url = url
        self.client_id = client_id
        self.secret = secret
        self.tasks: set[asyncio.Task[None]] = set()

    def publish(self, message: dict[str, Any]) -> None:
        if not self.url:
            log.info("no Notificaties API configured; dropping %s", message["resourceUrl"])
            return
        task = asyncio.get_running_loop().create_task(self._send(self.url, message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, url: str, message: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {nrc_token(self.client_id, self.secret)}"}
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.post(url, json=message, headers=headers)
            if response.status_code >= 400:
                log.warning("Notificaties API answered %s for %s", response.status_code, message["resourceUrl"])
        except httpx.HTTPError as exc:
            log.warning("could not publish notification for %s: %s", message["resourceUrl"], exc)
