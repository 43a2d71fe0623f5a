"""The national holiday-rental register (LVV) as its upstream registration API looks to municipalities.

There is no public spec; this follows Amsterdam's Mijn Amsterdam adapter and its upstream test fixtures:

- every call carries ``X-Api-Key``;
- ``POST {base}/registrations/bsn`` takes the BSN as a JSON *string* body and answers
  ``[{"registrationNumber": ...}]``, with the numbers WITHOUT spaces (as the fixture has them), and an
  empty list for a BSN without registrations;
- ``GET {base}/registrations/{number}`` answers one registration, whose ``registrationNumber`` is spaced
  in groups of four; the adapter strips the spaces before asking, so both forms are accepted here.

The timestamps (``2021-01-01T10:47:44.6107122``: seven fraction digits, local time, no offset) betray an
ASP.NET Core service, so errors are RFC 7807 problem details in the ASP.NET Core default shape (``type``,
``title``, ``status``, ``traceId``; a 400 adds ``errors``). That error shape is an assumption: no fixture
shows an error. There is no lookup by address: a caller finds registrations through residents' BSNs.

Requests are not checked against an official document (``demo.conformance``): the upstream LVV API has
none, and the Amsterdam adapter's OAS in the specs folder describes the adapter, not this API, so
``official_specs`` stays empty on purpose and ``{base}/openapi.json`` is the synthesized one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.model import Municipality, VakantieverhuurRegistratie
from demo.simulator import Simulator, json_response

LOCAL = ZoneInfo("Europe/Amsterdam")
RFC_SECTIONS = {400: "6.5.1", 401: "7.1", 404: "6.5.4", 405: "6.5.5", 415: "6.5.13", 500: "6.6.1", 503: "6.6.4"}
TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
          415: "Unsupported Media Type", 500: "Internal Server Error", 503: "Service Unavailable"}


def dotnet_datetime(moment: dt.datetime) -> str:
    """Local time without offset and with up to seven fraction digits, as System.Text.Json writes a DateTime."""
    local = moment.astimezone(LOCAL) if moment.tzinfo else moment
    fraction = f"{local.microsecond:06d}0".rstrip("0")
    return local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "")


def compact(number: str) -> str:
    return number.replace(" ", "")


def is_bsn(value: str) -> bool:
    """Nine digits passing the eleven-test."""
    if len(value) != 9 or not value.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:8], range(9, 1, -1), strict=True)) - int(value[8])
    return total % 11 == 0 and value != "000000000"


class VakantieverhuurSimulator(Simulator):
    """LVV registrations of the municipality's residents, for their own addresses."""

    name = "vakantieverhuur"
    title = "Landelijk Register Vakantieverhuur (LVV)"
    api_version = "1.0.0"
    base_path = "/api/v1"
    default_port = 8107

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self._by_number = {compact(r.registration_number): r for r in data.vakantieverhuur.values()}
        self._by_bsn: dict[str, list[str]] = {}
        for reg in sorted(data.vakantieverhuur.values(), key=lambda r: r.created_at):
            self._by_bsn.setdefault(reg.bsn, []).append(compact(reg.registration_number))

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route(f"{self.base_path}/registrations/bsn", self.registrations_by_bsn, methods=["POST"]),
            Route(f"{self.base_path}/registrations/{{number}}", self.registration, methods=["GET"]),
        ]

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        body: dict[str, Any] = {
            "type": f"https://tools.ietf.org/html/rfc7231#section-{RFC_SECTIONS.get(status, '6.5.1')}",
            "title": TITLES.get(status, title),
            "status": status,
        }
        if detail and detail != title and status != 404:
            body["detail"] = detail
        body["traceId"] = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"
        return body

    def _validation_error(self, field: str, message: str) -> Response:
        body = {
            "type": f"https://tools.ietf.org/html/rfc7231#section-{RFC_SECTIONS[400]}",
            "title": "One or more validation errors occurred.",
            "status": 400,
            "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
            "errors": {field: [message]},
        }
        return json_response(body, 400, self.error_media_type)

    def _refused(self, request: Request) -> Response | None:
        """401 unless the configured API key is sent; missing and wrong keys are told apart only in the detail."""
        cfg = self.source_config()
        sent = request.headers.get(str(cfg.get("header", "X-Api-Key")))
        if sent is None:
            return self.error(request, 401, "Unauthorized", "API key is missing.")
        if not secrets.compare_digest(sent.encode(), str(cfg.get("key", "")).encode()):
            return self.error(request, 401, "Unauthorized", "API key is invalid.")
        return None

    async def registrations_by_bsn(self, request: Request) -> Response:
        """Registration numbers of one requester, by BSN (the body is the BSN as a JSON string)."""
        if refused := self._refused(request):
            return refused
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return self.error(request, 415, "Unsupported Media Type")
        raw = await request.body()
        try:
            bsn = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            return self._validation_error("$", "The JSON value could not be converted to System.String.")
        if bsn is None:
            return self._validation_error("", "A non-empty request body is required.")
        if not isinstance(bsn, str):
            return self._validation_error("$", "The JSON value could not be converted to System.String.")
        if not is_bsn(bsn):
            return self._validation_error("bsn", "The value is not a valid BSN.")
        return json_response([{"registrationNumber": n} for n in self._by_bsn.get(bsn, [])])

    async def registration(self, request: Request) -> Response:
        """One registration with its requester and rental house."""
        if refused := self._refused(request):
            return refused
        reg = self._by_number.get(compact(request.path_params["number"]))
        if reg is None:
            return self.error(request, 404, "Not Found")
        return json_response(self.render(reg))

    def render(self, reg: VakantieverhuurRegistratie) -> dict[str, Any]:
        data = self.data
        person = data.personen[reg.bsn]
        na = data.nummeraanduidingen[reg.nummeraanduiding_id]
        street = data.openbare_ruimten[na.openbare_ruimte_id]
        return {
            "registrationNumber": reg.registration_number,
            "requester": {
                "personType": "NaturalPerson",
                "email": reg.email,
                "kvK": None,
                "companyName": None,
                "personalDetails": {
                    "firstName": person.voornamen.split()[0],
                    "lastNamePrefix": person.voorvoegsel,
                    "lastName": person.geslachtsnaam,
                    "phoneNumber": f"06-{int(reg.bsn) % 10**8:08d}",
                },
            },
            "rentalHouse": {
                "street": street.naam,
                "houseNumber": str(na.huisnummer),
                "houseLetter": na.huisletter,
                "houseNumberExtension": na.huisnummertoevoeging,
                "postalCode": na.postcode,
                "city": data.woonplaatsen[street.woonplaats_id].naam,
                "shortName": street.korte_naam,
                "owner": None,
            },
            "requestForOther": False,
            "createdAt": dotnet_datetime(reg.created_at),
            "agreementDate": dotnet_datetime(reg.agreement_date),
        }
