"""The scenarios: a GraphQL query for the gateway and, next to it, the minimum: the same answer fetched straight
from the sources with the plan an expert would write by hand (``Direct``).

Each minimum returns exactly the ``data`` the gateway answers, so the harness can check that both did the same
work. The expert plays by the gateway's rules: the same page sizes and batch limits (``_zoek``/``expand`` where
the source has them, at most 20 BSNs per BRP call), at most ``max_concurrency`` calls in flight per source and
the BAG's rate limit with the same rule and 10% margin. It knows the sources well: it asks for independent things in
parallel, uses every inline/expand option and every identifier it already holds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from demo.model import Municipality
from graph.auth import auth_for
from graph.config import GatewayConfig

Json = Any
Variables = dict[str, Any]
CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}  # the Zaken API wants both
HAL = {"Accept": "application/hal+json"}
SAMPLES = 5  # variable sets per scenario, cycled through


class RollingLimit:
    """At most ``limit`` calls running or answered within the last second: the BAG counts a call somewhere
    between its start and its answer, so this never draws a 429 (the gateway's ``RateLimit`` rule)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.running, self.ends, self.lock = limit, 0, collections.deque[float](), asyncio.Lock()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self.lock:
            while True:
                now = time.monotonic()
                while self.ends and now - self.ends[0] >= 1.0:
                    self.ends.popleft()
                if self.running + len(self.ends) < self.limit:
                    break
                await asyncio.sleep(self.ends[0] + 1.0 - now if self.ends else 0.01)
            self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self.ends.append(time.monotonic())


class Direct:
    """One plain httpx client per source, with the gateway's credentials and bounds."""

    def __init__(self, config: GatewayConfig) -> None:
        self.clients = {
            name: httpx.AsyncClient(
                base_url=c.url, auth=auth_for(c), timeout=c.timeout_s, headers={"Accept": "application/json"},
                limits=httpx.Limits(max_connections=c.max_concurrency, max_keepalive_connections=c.max_concurrency),
            )
            for name, c in config.sources.items()
        }
        self.bag_limit = RollingLimit(int(float(config.sources["bag"].option("rate_limit_per_s", 50)) * 0.9))

    async def get(self, source: str, path: str, params: Mapping[str, str] | None = None,
                  headers: Mapping[str, str] | None = None) -> Json:
        async with self.bag_limit.slot() if source == "bag" else contextlib.nullcontext():
            response = await self.clients[source].get(path, params=params, headers=headers)
        response.raise_for_status()
        return orjson.loads(response.content)

    async def post(self, source: str, path: str, body: Json, headers: Mapping[str, str] | None = None) -> Json:
        response = await self.clients[source].post(path, content=orjson.dumps(body),
                                                   headers={"Content-Type": "application/json", **(headers or {})})
        response.raise_for_status()
        return orjson.loads(response.content)

    async def personen(self, bsns: Sequence[str], fields: list[str]) -> dict[str, Json]:
        """BRP persons by BSN, 20 per call, all calls at once."""
        unique = list(dict.fromkeys(bsns))
        answers = await asyncio.gather(*(
            self.post("brp", "/personen", {"type": "RaadpleegMetBurgerservicenummer",
                                           "burgerservicenummer": unique[i:i + 20], "fields": fields})
            for i in range(0, len(unique), 20)))
        return {p["burgerservicenummer"]: p for answer in answers for p in answer["personen"]}

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients.values()))


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    query: str
    variables: list[Variables]
    minimum: Callable[[Direct, Variables], Awaitable[Json]] | None
    paced: bool = False  # reads the rate-limited BAG: let its rolling second empty before each side starts
    isolated: bool = False  # one request may fill the BAG's second: empty it before each timed request


def naam(p: Json | None) -> Json:
    return {"volledigeNaam": p["naam"].get("volledigeNaam")} if p and p.get("naam") else None


def inline(obj: Json, *path: str) -> Json:
    """``obj._expand.a._expand.b``: a ZGW object's inline relations, or None."""
    for key in path:
        obj = (obj or {}).get("_expand", {}).get(key)
    return obj


# -- (a) the README-style case list ------------------------------------------------------------------------

CASE_LIST = """query($zaaktype: String) { zaken(first: 20, zaaktype: $zaaktype) { totalCount nodes {
  identificatie omschrijving
  zaaktype { omschrijving }
  status { statustype { omschrijving } }
  rollen { omschrijvingGeneriek persoon { naam { volledigeNaam }
    verblijfplaats { adres { postcode huisnummer woonplaatsNaam
      adresseerbaarObject { oppervlakte panden { oorspronkelijkBouwjaar } } } } } }
  documenten { titel } } } }"""


async def case_list_minimum(d: Direct, v: Variables) -> Json:
    """1. one page of exactly 20 zaken, everything ZGW can inline expanded;
    2. the documents in one _zoek, and the persons (name, address id) in BRP calls of 20, at the same time;
    3. each distinct address with its dwelling and buildings inline (one BAG call per address)."""
    page = await d.get("zaken", "/zaken", {"zaaktype": v["zaaktype"], "pageSize": "20", "expand": "zaaktype,status,"
                                           "status.statustype,rollen,zaakinformatieobjecten"}, CRS)
    zaken = page["results"][:20]
    rollen = [r for z in zaken for r in inline(z, "rollen") or []]
    bsns = [r["betrokkeneIdentificatie"]["inpBsn"] for r in rollen if r["betrokkeneType"] == "natuurlijk_persoon"]
    doc_uuids = [zio["informatieobject"].rsplit("/", 1)[1] for z in zaken for zio in
                 inline(z, "zaakinformatieobjecten") or []]
    docs, persons = await asyncio.gather(
        d.post("documenten", "/enkelvoudiginformatieobjecten/_zoek", {"uuid__in": doc_uuids}) if doc_uuids
        else asyncio.sleep(0, {"results": []}),
        d.personen(bsns, ["burgerservicenummer", "naam.volledigeNaam", "verblijfplaats.nummeraanduidingIdentificatie"]))
    titels = {doc["url"]: doc["titel"] for doc in docs["results"]}
    adres_ids = list(dict.fromkeys(p["verblijfplaats"]["nummeraanduidingIdentificatie"] for p in persons.values()))
    found = await asyncio.gather(*(d.get("bag", f"/adressen/{i}", {"expand": "adresseerbaarObject,panden"}, HAL)
                                   for i in adres_ids))
    adressen = dict(zip(adres_ids, found, strict=True))

    def adres(a: Json) -> Json:
        ao = a["_embedded"]["adresseerbaarObject"]["verblijfsobject"]["verblijfsobject"]
        panden = [{"oorspronkelijkBouwjaar": int(p["pand"]["oorspronkelijkBouwjaar"])}
                  for p in a["_embedded"]["panden"]]
        return {"postcode": a["postcode"], "huisnummer": a["huisnummer"], "woonplaatsNaam": a["woonplaatsNaam"],
                "adresseerbaarObject": {"oppervlakte": ao["oppervlakte"], "panden": panden}}

    def persoon(rol: Json) -> Json:
        p = persons.get(rol["betrokkeneIdentificatie"].get("inpBsn")) if rol["betrokkeneType"] == "natuurlijk_persoon" \
            else None
        return {"naam": naam(p), "verblijfplaats": {"adres": adres(
            adressen[p["verblijfplaats"]["nummeraanduidingIdentificatie"]])}} if p else None

    return {"zaken": {"totalCount": page["count"], "nodes": [{
        "identificatie": z["identificatie"], "omschrijving": z["omschrijving"],
        "zaaktype": {"omschrijving": inline(z, "zaaktype")["omschrijving"]},
        "status": {"statustype": {"omschrijving": inline(z, "status", "statustype")["omschrijving"]}},
        "rollen": [{"omschrijvingGeneriek": r["omschrijvingGeneriek"], "persoon": persoon(r)}
                   for r in inline(z, "rollen") or []],
        "documenten": [{"titel": titels[zio["informatieobject"]]} for zio in inline(z, "zaakinformatieobjecten") or []],
    } for z in zaken]}}


# -- (b) one person: family, cases and the people at the same address -------------------------------------

PERSON = """query($bsn: String!) { persoon(burgerservicenummer: $bsn) {
  naam { volledigeNaam }
  partners { burgerservicenummer naam { volledigeNaam } }
  kinderen { burgerservicenummer naam { volledigeNaam } }
  zaken(first: 20) { totalCount nodes { identificatie zaaktype { omschrijving }
    status { statustype { omschrijving } } } }
  verblijfplaats { adres { postcode huisnummer woonplaatsNaam
    bewoners { burgerservicenummer naam { volledigeNaam } } } }
} }"""
NAAM_FIELDS = ["burgerservicenummer", "naam.volledigeNaam"]


async def person_minimum(d: Direct, v: Variables) -> Json:
    """1. the person (name, family BSNs, address ids) and their zaken (the BSN is known up front) at once;
    2. partners and children in one BRP call, the address, and the residents with their names in one BRP search."""
    bsn = v["bsn"]
    answer, zaken = await asyncio.gather(
        d.personen([bsn], [*NAAM_FIELDS, "partners.burgerservicenummer", "kinderen.burgerservicenummer",
                           "verblijfplaats.nummeraanduidingIdentificatie",
                           "verblijfplaats.adresseerbaarObjectIdentificatie"]),
        d.post("zaken", "/zaken/_zoek?expand=zaaktype,status,status.statustype",  # Open Zaak: in the query
               {"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": bsn}, CRS))
    p = answer[bsn]
    family = {rel: [r["burgerservicenummer"] for r in p.get(rel, [])] for rel in ("partners", "kinderen")}
    place = p["verblijfplaats"]
    relatives, adres, bewoners = await asyncio.gather(
        d.personen(family["partners"] + family["kinderen"], NAAM_FIELDS),
        d.get("bag", f"/adressen/{place['nummeraanduidingIdentificatie']}", headers=HAL),
        d.post("brp", "/personen", {"type": "ZoekMetAdresseerbaarObjectIdentificatie", "fields": NAAM_FIELDS,
                                    "adresseerbaarObjectIdentificatie": place["adresseerbaarObjectIdentificatie"]}))

    def short(q: Json) -> Json:
        return {"burgerservicenummer": q["burgerservicenummer"], "naam": naam(q)}

    return {"persoon": {
        "naam": naam(p),
        **{rel: [short(relatives[b]) for b in bsns if b in relatives] for rel, bsns in family.items()},
        "zaken": {"totalCount": zaken["count"], "nodes": [{
            "identificatie": z["identificatie"], "zaaktype": {"omschrijving": inline(z, "zaaktype")["omschrijving"]},
            "status": {"statustype": {"omschrijving": inline(z, "status", "statustype")["omschrijving"]}},
        } for z in zaken["results"][:20]]},
        "verblijfplaats": {"adres": {"postcode": adres["postcode"], "huisnummer": adres["huisnummer"],
                                     "woonplaatsNaam": adres["woonplaatsNaam"],
                                     "bewoners": [short(q) for q in bewoners["personen"]]}},
    }}


# -- (c) the dashboard -------------------------------------------------------------------------------------

DASHBOARD = """{
  meldingenStatistiek(groepeerOp: [CATEGORIE, STATUS]) { totaal groepen { categorie status aantal } }
  zakenStatistiek(groepeerOp: [ZAAKTYPE, OPEN]) { totaal groepen { zaaktype open aantal gemiddeldeDoorlooptijdDagen } }
}"""
SIGNALEN_PAGE, ZAKEN_PAGE = 500, 500  # the gateway's scan page sizes


async def scan(first: Callable[[], Awaitable[Json]], page: Callable[[int], Awaitable[Json]], size: int) -> list[Json]:
    """A full list: the first page tells the count, the other pages are fetched at once."""
    head = await first()
    rest = await asyncio.gather(*(page(n) for n in range(2, -(-head["count"] // size) + 1)))
    return [item for p in (head, *rest) for item in p["results"]]


async def dashboard_minimum(d: Direct, v: Variables) -> Json:
    """Both scans at once, and the zaaktype names from one Catalogi list alongside them."""
    def signals(n: int) -> Awaitable[Json]:
        return d.get("signalen", "/private/signals", {"ordering": "id", "page_size": str(SIGNALEN_PAGE),
                                                      **({"page": str(n)} if n > 1 else {})})

    def zaken(n: int) -> Awaitable[Json]:
        return d.get("zaken", "/zaken", {"pageSize": str(ZAKEN_PAGE), "page": str(n)}, CRS)

    meldingen, rows, typen = await asyncio.gather(
        scan(lambda: signals(1), signals, SIGNALEN_PAGE), scan(lambda: zaken(1), zaken, ZAKEN_PAGE),
        d.get("catalogi", "/zaaktypen"))
    names = {t["url"]: t["omschrijving"] for t in typen["results"]}
    for url in {z["zaaktype"] for z in rows} - names.keys():  # a type the list left out (none in the demo)
        names[url] = (await d.get("catalogi", url))["omschrijving"]
    per_melding = Counter((m["category"]["sub_slug"], m["status"]["state"]) for m in meldingen)
    groups: dict[tuple[str, bool], list[Json]] = {}
    for z in rows:
        groups.setdefault((z["zaaktype"], not z["einddatum"]), []).append(z)

    def average_days(members: list[Json]) -> float | None:
        days = [(dt.date.fromisoformat(z["einddatum"]) - dt.date.fromisoformat(z["startdatum"])).days
                for z in members if z["einddatum"]]
        return round(sum(days) / len(days), 1) if days else None

    return {
        "meldingenStatistiek": {"totaal": len(meldingen), "groepen": [
            {"categorie": c, "status": s, "aantal": n} for (c, s), n in per_melding.items()]},
        "zakenStatistiek": {"totaal": len(rows), "groepen": [
            {"zaaktype": names[url], "open": is_open, "aantal": len(members),
             "gemiddeldeDoorlooptijdDagen": average_days(members)} for (url, is_open), members in groups.items()]},
    }


# -- (d) the gateway's own floor ---------------------------------------------------------------------------

TYPENAME = "{ __typename }"


def scenarios(data: Municipality, urls: Mapping[str, str], seed: int) -> list[Scenario]:
    """The four scenarios with variables drawn (deterministically) from the generated municipality."""
    rng = random.Random(seed)
    zaaktypen = [f"{urls['catalogi']}/zaaktypen/{t.uuid}" for t in data.catalogus.zaaktypen]
    residents = Counter(p.adresseerbaar_object_id for p in data.personen.values())
    with_zaken = {r.bsn for z in data.zaken.values() for r in z.rollen if r.bsn}
    people = sorted(p.bsn for p in data.personen.values() if p.partner_bsns and p.kind_bsns and p.bsn in with_zaken
                    and p.overlijdensdatum is None and residents[p.adresseerbaar_object_id] <= 10)
    return [
        Scenario("a", "case list: zaken(first: 20) with types, status, persons, addresses, documents", CASE_LIST,
                 [{"zaaktype": u} for u in rng.sample(zaaktypen, min(SAMPLES, len(zaaktypen)))],
                 case_list_minimum, paced=True, isolated=True),
        Scenario("b", "one person: family, zaken, address with residents", PERSON,
                 [{"bsn": b} for b in rng.sample(people, min(SAMPLES, len(people)))], person_minimum, paced=True),
        Scenario("c", "dashboard: meldingenStatistiek + zakenStatistiek", DASHBOARD, [{}], dashboard_minimum),
        Scenario("d", "{ __typename } (gateway overhead floor)", TYPENAME, [{}], None),
    ]


def canonical(value: Json) -> Json:
    """A form in which two answers with the same content compare equal whatever their list order."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return sorted((canonical(v) for v in value), key=lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS))
    return value
