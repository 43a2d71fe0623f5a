"""The Huishoudboekje backend: the graphene GraphQL API that GraphQL Mesh puts in front of the services.

The schema is a subset of the backend SDL (``mesh/graphql/backend/schema.graphql``) with the same type,
field and argument names and types, so a query written against this simulator also runs against the
real backend. What the real backend does and this one copies:

- auth: the OIDC session token travels in the ``app-token`` cookie (the Mesh forwards the browser's
  cookie), or as ``Authorization: Bearer``; without a valid one every request is HTTP 401
  ``{"message": "Not logged in"}``, before any GraphQL processing. Valid are the demo's static session
  (``token`` in its configuration) and any user's token from the demo's OIDC issuer, checked against the
  issuer's published keys, as the real backend checks the user's OIDC session;
- HTTP (flask-graphql): a request error (no query, bad JSON, batch array, syntax, validation, variable
  coercion: every error without a ``path``) is HTTP 400 with only ``errors``; resolver errors are
  HTTP 200 with ``data`` and ``errors``;
- ``Bedrag`` is serialized as a string with two decimals (``"-12.34"``) from integer cents, while the
  search filters' ``minBedrag``/``maxBedrag`` are plain ``Int`` cents; ``Burger.bsn`` is an ``Int``;
- ``burgersPaged``/``huishoudensPaged`` page with a 1-based ``start`` (the first item's position);
  ``start`` or ``limit`` below one is an upstream error; a ``start`` past the end gives an empty page;
  ``searchAfspraken``/``searchTransacties`` page with a 0-based ``offset``, echoed as ``pageInfo.start``;
  without both paging arguments everything comes back and ``pageInfo`` is null;
- unknown ids are left out of list results and give null for single lookups; ``isLogRequest: true``
  turns an empty list into null.

Organisaties, afdelingen, postadressen, exports and mutations are not simulated: the model has no data
for them. The SDL is served at ``GET /graphql/schema.graphql``. ``/graphql/`` works like ``/graphql``, as the
Flask blueprint is registered without strict slashes.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import httpx
import jwt
import orjson
from graphql import GraphQLError, GraphQLResolveInfo, GraphQLSchema, build_schema, get_named_type, graphql_sync
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.conformance import Specs, Violation
from demo.generate import ANCHOR
from demo.issuer import AUDIENCE
from demo.model import Afspraak, Burger, Municipality, Transactie
from demo.simulator import Simulator, json_response

T = TypeVar("T")

SDL = '''\
schema {
  query: RootQuery
}

"Money: integer cents inside; on the wire a string with two decimals, like 99.99."
scalar Bedrag
"ISO 8601 date."
scalar Date
scalar UUID

type RootQuery {
  saldo(date: Date!, burgerIds: [Int]): Saldo
  rubriek(id: Int!): Rubriek
  rubrieken(ids: [String], isLogRequest: Boolean): [Rubriek]
  rekening(id: Int!): Rekening
  rekeningen(ids: [Int], isLogRequest: Boolean): [Rekening]
  rekeningenByIbans(ibans: [String]): [Rekening]
  journaalpost(id: Int!): Journaalpost
  journaalpostenUuid(uuids: [String]): [Journaalpost]
  journaalposten(ids: [Int]): [Journaalpost]
  huishouden(id: Int!): Huishouden
  huishoudens(ids: [Int], isLogRequest: Boolean): [Huishouden]
  huishoudensPaged(start: Int, limit: Int): HuishoudensPaged
  afspraak(id: Int!): Afspraak
  afsprakenUuid(uuids: [String]): [Afspraak]
  afspraken(ids: [Int], isLogRequest: Boolean): [Afspraak]
  searchAfspraken(offset: Int, limit: Int, afspraakIds: [Int], burgerIds: [Int], afdelingIds: [Int],
    tegenRekeningIds: [Int], onlyValid: Boolean, minBedrag: Int, maxBedrag: Int, zoektermen: [String]): AfsprakenPaged
  bankTransaction(uuid: String!): BankTransaction
  searchTransacties(offset: Int, limit: Int, filters: BankTransactionSearchFilter): BankTransactionsPaged
  burger(id: Int!): Burger
  burgersUuid(uuids: [String]): [Burger]
  burgers(search: String, ids: [Int], isLogRequest: Boolean): [Burger]
  burgersPaged(start: Int, limit: Int): BurgersPaged
}

type BankTransaction {
  id: Int
  uuid: String
  bedrag: Bedrag
  isCredit: Boolean
  isGeboekt: Boolean
  transactieDatum: Date
  statementLine: String
  informationToAccountOwner: String
  tegenRekeningIban: String
  tegenRekening: Rekening
  journaalpost: Journaalpost
  suggesties: [Afspraak]
}

type Rekening {
  id: Int
  iban: String
  rekeninghouder: String
  burgers: [Burger]
  afspraken: [Afspraak]
}

type Burger {
  id: Int
  uuid: UUID
  bsn: Int
  voorletters: String
  voornamen: String
  achternaam: String
  geboortedatum: Date
  endDate: String
  telefoonnummer: String
  email: String
  straatnaam: String
  huisnummer: String
  postcode: String
  plaatsnaam: String
  startDate: Float
  saldoAlarm: Boolean
  rekeningen: [Rekening]
  afspraken: [Afspraak]
  huishoudenId: Int
  huishouden: Huishouden
}

type Afspraak {
  id: Int
  uuid: UUID
  omschrijving: String
  bedrag: Bedrag
  credit: Boolean
  validFrom: Date
  validThrough: Date
  rubriek: Rubriek
  zoektermen: [String]
  burgerId: Int
  burger: Burger
  alarmId: UUID
  tegenRekening: Rekening
  journaalposten: [Journaalpost]
}

type Rubriek {
  id: Int
  naam: String
}

type Journaalpost {
  id: Int
  uuid: String
  afspraak: Afspraak
  rubriek: Rubriek
  isAutomatischGeboekt: Boolean
  transactionUuid: String
}

type Huishouden {
  id: Int
  burgers: [Burger]
}

type Saldo {
  saldo: Bedrag
}

type PageInfo {
  count: Int
  start: Int
  limit: Int
}

type HuishoudensPaged {
  huishoudens: [Huishouden]
  pageInfo: PageInfo
}

type AfsprakenPaged {
  afspraken: [Afspraak]
  pageInfo: PageInfo
}

type BankTransactionsPaged {
  banktransactions: [BankTransaction]
  pageInfo: PageInfo
}

type BurgersPaged {
  burgers: [Burger]
  pageInfo: PageInfo
}

input BankTransactionSearchFilter {
  burgerIds: [Int]
  automatischGeboekt: Boolean
  minBedrag: Int
  maxBedrag: Int
  startDate: String
  endDate: String
  ibans: [String]
  onlyBooked: Boolean
  onlyCredit: Boolean
  zoektermen: [String]
  organisatieIds: [Int]
}
'''

NOT_LOGGED_IN = {"message": "Not logged in"}
UUID_NAMESPACE = uuid.UUID("6d1f3c52-8f0e-4d53-9a57-3c4b1f0f6a21")  # fixed, so derived uuids are stable
CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return CAMEL.sub("_", name).lower()


def bedrag(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


# How the custom scalars go on the wire; applied centrally so resolvers return plain model values.
SERIALIZE: dict[str, Callable[[Any], Any]] = {"Bedrag": bedrag, "Date": dt.date.isoformat, "UUID": str}


@dataclass(frozen=True, slots=True)
class Rubriek:
    id: int
    naam: str


@dataclass(frozen=True, slots=True)
class Huishouden:
    id: int
    burger_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Journaalpost:
    """The booking of one bank transaction on an afspraak."""

    id: int
    uuid: str
    afspraak_id: int
    transaction_uuid: str
    is_automatisch_geboekt: bool


def upstream_error(message: str) -> GraphQLError:
    """How the backend reports a refusal by the service behind it."""
    return GraphQLError(f"Upstream API responded: {orjson.dumps({'errors': [message]}).decode()}")


def pick(index: Mapping[Any, T], keys: Iterable[Any] | None) -> list[T]:
    """The known items for the requested keys, in request order; unknown keys are left out."""
    return [index[k] for k in keys or () if k in index]


def logged(result: list[T], is_log_request: bool | None) -> list[T] | None:
    return None if is_log_request and not result else result


def page_from_start(items: Sequence[Any], key: str, start: int | None, limit: int | None) -> dict[str, Any]:
    """The services' 1-based paging: ``start`` is the position of the first item."""
    if start is None or limit is None:
        return {key: list(items), "pageInfo": None}
    if limit < 1:
        raise upstream_error("Limit cannot be below one.")
    if start < 1:
        raise upstream_error("Start cannot be below one.")
    return {key: list(items[start - 1:start - 1 + limit]), "pageInfo": {"count": len(items), "start": start,
                                                                         "limit": limit}}


def page_from_offset(items: Sequence[Any], key: str, offset: int | None, limit: int | None) -> dict[str, Any]:
    """The search queries' SQL OFFSET/LIMIT paging; the offset is echoed as ``pageInfo.start``."""
    if offset is None or limit is None:
        return {key: list(items), "pageInfo": None}
    if offset < 0 or limit < 0:
        raise upstream_error("OFFSET and LIMIT must not be negative.")
    return {key: list(items[offset:offset + limit]), "pageInfo": {"count": len(items), "start": offset,
                                                                  "limit": limit}}


def group(items: Iterable[T], keys: Callable[[T], Any]) -> dict[Any, list[T]]:
    """Items by key, in input order; ``keys`` may give one key or a list of them."""
    groups: dict[Any, list[T]] = {}
    for item in items:
        found = keys(item)
        for key in found if isinstance(found, list) else [found]:
            groups.setdefault(key, []).append(item)
    return groups


def iso_date(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise GraphQLError(f"{name}: {value!r} is not an ISO 8601 date.") from None


class Huishoudboekje:
    """The backend's data as the resolvers see it, indexed once."""

    def __init__(self, data: Municipality) -> None:
        self.burgers = dict(sorted(data.burgers.items()))
        self.rekeningen = dict(sorted(data.rekeningen.items()))
        self.afspraken = dict(sorted(data.afspraken.items()))
        self.transacties = data.transacties
        names = sorted({a.rubriek for a in data.afspraken.values()})
        self.rubrieken = {i: Rubriek(i, naam) for i, naam in enumerate(names, 1)}
        self.rubriek_by_naam = {r.naam: r for r in self.rubrieken.values()}
        self.burger_uuid = {b.id: str(uuid.uuid5(UUID_NAMESPACE, f"burger/{b.id}")) for b in self.burgers.values()}
        self.burgers_by_uuid = {u: self.burgers[i] for i, u in self.burger_uuid.items()}
        self.afspraken_by_uuid = {a.uuid: a for a in self.afspraken.values()}
        self.rekeningen_by_iban = {r.iban: r for r in self.rekeningen.values()}
        self.transacties_by_uuid = {t.uuid: t for t in data.transacties.values()}
        households = group(self.burgers.values(), lambda b: b.huishouden_id)
        self.huishoudens = {i: Huishouden(i, tuple(b.id for b in members)) for i, members in sorted(households.items())}
        self.afspraken_of_burger = group(self.afspraken.values(), lambda a: a.burger_id)
        self.afspraken_of_rekening = group(self.afspraken.values(), lambda a: a.tegen_rekening_id)
        self.burgers_of_rekening = group(self.burgers.values(), lambda b: b.rekening_ids)
        self.journaalposten = {
            t.id: Journaalpost(t.id, str(uuid.uuid5(UUID_NAMESPACE, f"journaalpost/{t.uuid}")), t.afspraak_id,
                               t.uuid, t.id % 4 != 0)
            for t in sorted(data.transacties.values(), key=lambda t: t.id) if t.is_geboekt
        }
        self.journaalposten_by_uuid = {j.uuid: j for j in self.journaalposten.values()}
        self.journaalposten_of_afspraak = group(self.journaalposten.values(), lambda j: j.afspraak_id)
        # newest first, as the bank service lists them
        self.transacties_newest = sorted(data.transacties.values(), key=lambda t: (t.transactie_datum, t.id),
                                         reverse=True)
        self.fields: dict[str, dict[str, Callable[..., Any]]] = {
            "RootQuery": {
                "saldo": self.saldo,
                "rubriek": lambda _, id: self.rubrieken.get(id),
                "rubrieken": self.rubrieken_query,
                "rekening": lambda _, id: self.rekeningen.get(id),
                "rekeningen": lambda _, ids=None, is_log_request=None: logged(
                    self.all_or_pick(self.rekeningen, ids), is_log_request),
                "rekeningenByIbans": lambda _, ibans=None: pick(self.rekeningen_by_iban, ibans),
                "journaalpost": lambda _, id: self.journaalposten.get(id),
                "journaalpostenUuid": lambda _, uuids=None: pick(self.journaalposten_by_uuid, uuids),
                "journaalposten": lambda _, ids=None: self.all_or_pick(self.journaalposten, ids),
                "huishouden": lambda _, id: self.huishoudens.get(id),
                "huishoudens": lambda _, ids=None, is_log_request=None: logged(
                    self.all_or_pick(self.huishoudens, ids), is_log_request),
                "huishoudensPaged": lambda _, start=None, limit=None: page_from_start(
                    list(self.huishoudens.values()), "huishoudens", start, limit),
                "afspraak": lambda _, id: self.afspraken.get(id),
                "afsprakenUuid": lambda _, uuids=None: pick(self.afspraken_by_uuid, uuids) if uuids else None,
                "afspraken": lambda _, ids=None, is_log_request=None: logged(
                    self.all_or_pick(self.afspraken, ids), is_log_request),
                "searchAfspraken": self.search_afspraken,
                "bankTransaction": lambda _, uuid: self.transacties_by_uuid.get(uuid),
                "searchTransacties": self.search_transacties,
                "burger": lambda _, id: self.burgers.get(id),
                "burgersUuid": lambda _, uuids=None: pick(self.burgers_by_uuid, uuids) if uuids else None,
                "burgers": self.burgers_query,
                "burgersPaged": lambda _, start=None, limit=None: page_from_start(
                    list(self.burgers.values()), "burgers", start, limit),
            },
            "Burger": {
                "uuid": lambda b: self.burger_uuid[b.id],
                "voorletters": lambda b: "".join(f"{n[0]}." for n in b.voornamen.split()),
                "saldoAlarm": lambda b: False,
                "rekeningen": lambda b: pick(self.rekeningen, b.rekening_ids),
                "afspraken": lambda b: self.afspraken_of_burger.get(b.id, []),
                "huishouden": lambda b: self.huishoudens.get(b.huishouden_id),
            },
            "Rekening": {
                "burgers": lambda r: self.burgers_of_rekening.get(r.id, []),
                "afspraken": lambda r: self.afspraken_of_rekening.get(r.id, []),
            },
            "Afspraak": {
                "rubriek": lambda a: self.rubriek_by_naam[a.rubriek],
                "zoektermen": lambda a: [],
                "burger": lambda a: self.burgers.get(a.burger_id),
                "tegenRekening": lambda a: self.rekeningen.get(a.tegen_rekening_id),
                "journaalposten": lambda a: self.journaalposten_of_afspraak.get(a.id, []),
            },
            "BankTransaction": {
                "isCredit": lambda t: t.bedrag > 0,
                "statementLine": self.statement_line,
                "informationToAccountOwner": lambda t: self.afspraken[t.afspraak_id].omschrijving,
                "tegenRekening": lambda t: self.rekeningen_by_iban.get(t.tegen_rekening_iban),
                "journaalpost": lambda t: self.journaalposten.get(t.id),
                "suggesties": lambda t: [],
            },
            "Journaalpost": {
                "afspraak": lambda j: self.afspraken.get(j.afspraak_id),
                "rubriek": lambda j: self.rubriek_by_naam[self.afspraken[j.afspraak_id].rubriek],
            },
            "Huishouden": {"burgers": lambda h: pick(self.burgers, h.burger_ids)},
        }

    def resolve(self, parent: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        """One resolver for every field: an explicit one where the model differs, else the model attribute."""
        custom = self.fields.get(info.parent_type.name, {}).get(info.field_name)
        if custom is not None:
            value = custom(parent, **{snake(k): v for k, v in args.items()})
        elif isinstance(parent, Mapping):
            value = parent.get(info.field_name)
        else:
            value = getattr(parent, snake(info.field_name), None)
        serialize = SERIALIZE.get(get_named_type(info.return_type).name)
        return serialize(value) if serialize is not None and value is not None else value

    @staticmethod
    def all_or_pick(index: Mapping[int, T], ids: list[int] | None) -> list[T]:
        return list(index.values()) if not ids else pick(index, ids)

    def rubrieken_query(self, _: Any, ids: list[str] | None = None, is_log_request: bool | None = None) -> Any:
        """Rubriek ids are Int, but this query takes them as strings."""
        if not ids:
            return logged(list(self.rubrieken.values()), is_log_request)
        return logged(pick(self.rubrieken, [int(i) for i in ids if i is not None and i.isdigit()]), is_log_request)

    def burgers_query(self, _: Any, search: str | None = None, ids: list[int] | None = None,
                      is_log_request: bool | None = None) -> list[Burger] | None:
        """By ids; or a search through names, BSN, the IBAN or holder of a rekening and afspraak zoektermen."""
        if ids is not None:
            return logged(pick(self.burgers, ids), is_log_request)
        term = (search or "").lower()
        if not term:
            return logged(list(self.burgers.values()), is_log_request)
        found = {b.id for b in self.burgers.values()
                 if term in b.achternaam.lower() or term in b.voornamen.lower() or term in str(b.bsn)}
        for rekening in self.rekeningen.values():
            if term in rekening.iban.lower() or term in rekening.rekeninghouder.lower():
                found.update(b.id for b in self.burgers_of_rekening.get(rekening.id, []))
                found.update(a.burger_id for a in self.afspraken_of_rekening.get(rekening.id, [])
                             if self.valid(a, ANCHOR))
        return logged([b for b in self.burgers.values() if b.id in found], is_log_request)

    @staticmethod
    def valid(afspraak: Afspraak, on: dt.date) -> bool:
        return afspraak.valid_from <= on and (afspraak.valid_through is None or on <= afspraak.valid_through)

    @staticmethod
    def ended(afspraak: Afspraak, on: dt.date) -> bool:
        return afspraak.valid_through is not None and afspraak.valid_through < on

    def search_afspraken(
        self, _: Any, offset: int | None = None, limit: int | None = None, afspraak_ids: list[int] | None = None,
        burger_ids: list[int] | None = None, afdeling_ids: list[int] | None = None,
        tegen_rekening_ids: list[int] | None = None, only_valid: bool | None = None, min_bedrag: int | None = None,
        max_bedrag: int | None = None, zoektermen: list[str] | None = None,
    ) -> dict[str, Any]:
        """The service's filters: id lists as IN, bedrag bounds exclusive, every zoekterm must occur."""
        def keep(a: Afspraak) -> bool:
            return all((
                afspraak_ids is None or a.id in afspraak_ids,
                burger_ids is None or a.burger_id in burger_ids,
                afdeling_ids is None,  # no afspraak has an afdeling here, so any list matches none
                tegen_rekening_ids is None or a.tegen_rekening_id in tegen_rekening_ids,
                only_valid is None or (self.valid(a, ANCHOR) if only_valid else self.ended(a, ANCHOR)),
                min_bedrag is None or a.bedrag > min_bedrag,
                max_bedrag is None or a.bedrag < max_bedrag,
                all(t.lower() in a.omschrijving.lower() for t in zoektermen or () if t is not None),
            ))
        return page_from_offset([a for a in self.afspraken.values() if keep(a)], "afspraken", offset, limit)

    def search_transacties(self, _: Any, offset: int | None = None, limit: int | None = None,
                           filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The bank service's search; burger and automatisch-geboekt filters go through the journaalposten."""
        f = filters or {}
        start = iso_date(f["startDate"], "startDate") if f.get("startDate") is not None else None
        end = iso_date(f["endDate"], "endDate") if f.get("endDate") is not None else None
        burger_ids, automatisch = f.get("burgerIds"), f.get("automatischGeboekt")
        ibans = f.get("ibans") or []  # organisatieIds add the ibans of their afdelingen: there are none here

        def keep(t: Transactie) -> bool:
            booking = self.journaalposten.get(t.id)
            if burger_ids is not None or automatisch is not None:
                if booking is None:
                    return False
                if burger_ids is not None and self.afspraken[booking.afspraak_id].burger_id not in burger_ids:
                    return False
                if automatisch is not None and booking.is_automatisch_geboekt != automatisch:
                    return False
            description = self.afspraken[t.afspraak_id].omschrijving.lower()
            return all((
                f.get("minBedrag") is None or t.bedrag >= f["minBedrag"],
                f.get("maxBedrag") is None or t.bedrag <= f["maxBedrag"],
                start is None or t.transactie_datum >= start,
                end is None or t.transactie_datum <= end,
                not ibans or t.tegen_rekening_iban in ibans,
                f.get("onlyBooked") is None or t.is_geboekt == f["onlyBooked"],
                f.get("onlyCredit") is None or (t.bedrag > 0) == f["onlyCredit"],
                all(z.lower() in description for z in f.get("zoektermen") or () if z is not None),
            ))
        return page_from_offset([t for t in self.transacties_newest if keep(t)], "banktransactions", offset, limit)

    def saldo(self, _: Any, date: Any, burger_ids: list[int] | None = None) -> dict[str, Any]:
        """Sum of the booked transactions of the burgers' afspraken up to and including the date."""
        until = iso_date(date, "date")
        total = sum(
            t.bedrag for t in self.transacties.values()
            if t.is_geboekt and t.transactie_datum <= until
            and (burger_ids is None or self.afspraken[t.afspraak_id].burger_id in burger_ids)
        )
        return {"saldo": total}

    def statement_line(self, t: Transactie) -> str:
        """The MT940 ``:61:`` line the bank statement carried for this transaction."""
        day = t.transactie_datum.strftime("%y%m%d")
        amount = f"{Decimal(abs(t.bedrag)) / 100:.2f}".replace(".", ",")
        return f"{day}{day[2:]}{'C' if t.bedrag > 0 else 'D'}{amount}NTRFNONREF//{t.id:010d}"


class HuishoudboekjeSimulator(Simulator):
    """The Huishoudboekje backend GraphQL endpoint, behind the OIDC session cookie."""

    name = "huishoudboekje"
    title = "Huishoudboekje backend (GraphQL)"
    api_version = "1.0.0"
    base_path = "/graphql"
    default_port = 8108
    official_specs: ClassVar[Specs] = {
        "/graphql": ("huishoudboekje/mesh/graphql/backend/schema.graphql",),
    }
    error_media_type = "application/json"

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self.graph = Huishoudboekje(data)
        self.schema: GraphQLSchema = build_schema(SDL)
        self._issuer_keys: dict[str, Any] = {}  # kid -> public key, read from the issuer's JWKS when needed

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route(self.base_path, self.graphql, methods=["GET", "POST"]),
            Route(f"{self.base_path}/", self.graphql, methods=["GET", "POST"]),  # Flask strict_slashes=False
            Route(f"{self.base_path}/schema.graphql", self.sdl, methods=["GET"]),
        ]

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        """Flask answers plain JSON messages, not problem details."""
        return {"message": detail or title}

    async def conformance_error(self, request: Request, violations: Sequence[Violation]) -> Response:
        """A query the backend SDL does not allow is a request error: HTTP 400 with only ``errors``."""
        return json_response({"errors": [
            {"message": v.reason, **({"locations": [{"line": line, "column": column} for line, column in v.locations]}
                                     if v.locations else {})} for v in violations]}, 400)

    async def _logged_in(self, request: Request) -> bool:
        cfg = self.source_config()
        token = request.cookies.get(str(cfg.get("cookie", "app-token")))
        if token is None:
            scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
            token = bearer if scheme.lower() == "bearer" and bearer else None
        if token is None:
            return False
        if secrets.compare_digest(token.encode(), str(cfg.get("demo_token", "")).encode()):
            return True
        return await self._user_session(token)

    async def _user_session(self, token: str) -> bool:
        """A user's token from the demo issuer: signed by a key the issuer publishes, for the gateway's
        audience, not expired."""
        issuer = self.urls.get("issuer")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if issuer is None or not isinstance(kid, str):
                return False
            if kid not in self._issuer_keys:
                async with httpx.AsyncClient(timeout=5) as client:
                    keys = (await client.get(f"{issuer}/jwks")).raise_for_status().json()
                self._issuer_keys = {k.key_id: k.key for k in jwt.PyJWKSet.from_dict(keys).keys if k.key_id}
            key = self._issuer_keys.get(kid)
            if key is None:
                return False
            jwt.decode(token, key, algorithms=["RS256", "ES256"], audience=AUDIENCE, issuer=issuer,
                       options={"require": ["exp", "sub"]})
        except (jwt.PyJWTError, httpx.HTTPError, ValueError):
            return False
        return True

    async def sdl(self, request: Request) -> Response:
        """The GraphQL schema this simulator serves (a subset of the backend SDL)."""
        return Response(SDL, media_type="text/plain; charset=utf-8")

    async def graphql(self, request: Request) -> Response:
        """GraphQL over HTTP: POST a JSON body, or GET with query parameters."""
        if not await self._logged_in(request):
            return json_response(NOT_LOGGED_IN, 401)
        params = await self._params(request)
        if isinstance(params, Response):
            return params
        query, variables = params.get("query"), params.get("variables")
        if not isinstance(query, str) or not query.strip():
            return self._request_error("Must provide query string.")
        if isinstance(variables, str) and variables.strip():
            try:
                variables = orjson.loads(variables)
            except orjson.JSONDecodeError:
                return self._request_error("Variables are invalid JSON.")
        if variables in ("", None):
            variables = None
        elif not isinstance(variables, dict):
            return self._request_error("Variables must be an object.")
        operation = params.get("operationName") or None
        result = graphql_sync(self.schema, query, variable_values=variables,
                              operation_name=operation if isinstance(operation, str) else None,
                              field_resolver=self.graph.resolve)
        if not result.errors:
            return json_response({"data": result.data})
        errors = [e.formatted for e in result.errors]
        if any(not e.path for e in result.errors):  # the request never ran: a request error
            return json_response({"errors": errors}, 400)
        return json_response({"errors": errors, "data": result.data})

    async def _params(self, request: Request) -> dict[str, Any] | Response:
        """The GraphQL parameters from the query string, overridden by a JSON or application/graphql body."""
        params: dict[str, Any] = dict(request.query_params)
        if request.method != "POST":
            return params
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if media == "application/graphql":
            params["query"] = body.decode("utf-8", "replace")
        elif media == "application/json":
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                return self._request_error("POST body sent invalid JSON.")
            if isinstance(parsed, list):
                return self._request_error("Batch GraphQL requests are not enabled.")
            if not isinstance(parsed, dict):
                return self._request_error("POST body must be a JSON object.")
            params.update(parsed)
        return params

    @staticmethod
    def _request_error(message: str) -> Response:
        return json_response({"errors": [{"message": message}]}, 400)
