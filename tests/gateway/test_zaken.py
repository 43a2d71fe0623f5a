"""The zaak graph over any ZGW product: batching, paging, lookups and statistics, through real HTTP.

Tests taking ``zgw`` run twice: over Open Zaak (the main demo) and over a product that follows the standard
(no ``pageSize``, ``_zoek`` expand a string). Both must give the same answers, and those come from the
sources' own REST answers, asked directly the way any client would.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import yaml

from demo.runner import Municipal
from graph.app import create_app
from graph.paging import encode_cursor
from graph.source import Source, Sources
from resolvers import zgw as resolver
from resolvers.zgw_forms import from_document
from tests.conftest import SHARED_SPECS, Gateway, employee_headers, gateway_settings

ZAKEN_QUERY = """
{ zaken(first: 50) { totalCount nodes { uuid identificatie zaaktype { url omschrijving }
  rollen { omschrijvingGeneriek inpBsn persoon { naam { volledigeNaam } } } } } }
"""
TYPES_QUERY = """
{ zaken(first: 20) { nodes { uuid zaaktype { url omschrijving } status { statustype { url omschrijving } }
  rollen { omschrijvingGeneriek roltype { url omschrijving } } } } }
"""
CATALOGI_EXPANDS = {"zaaktype", "status.statustype", "rollen.roltype", "resultaat.resultaattype"}


def zgw_headers(world: Municipal) -> dict[str, str]:
    entry = world.config["sources"]["zaken"]
    token = jwt.encode({"iss": entry["client_id"], "client_id": entry["client_id"], "iat": int(time.time())},
                       entry["secret"], algorithm="HS256")
    return {"Authorization": f"Bearer {token}", "Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}


class Rest:
    """The ZGW sources of one world asked directly: what the gateway's answers must agree with."""

    def __init__(self, world: Municipal) -> None:
        self.urls = world.urls
        self.client = httpx.AsyncClient(headers=zgw_headers(world))

    async def __aenter__(self) -> Rest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def get(self, url: str, params: dict[str, str] | None = None) -> Any:
        response = await self.client.get(url, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def every(self, url: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every item of a list, following ``next`` (whatever size the source pages by)."""
        items: list[dict[str, Any]] = []
        page = await self.get(url, params)
        items.extend(page["results"])
        while page["next"]:
            page = await self.get(page["next"])
            items.extend(page["results"])
        return items

    async def zoek(self, body: dict[str, Any]) -> Any:
        response = await self.client.post(f"{self.urls['zaken']}/zaken/_zoek", json=body)
        assert response.status_code == 200, response.text
        return response.json()


def profile(gw: Gateway) -> str:
    return str(gw.world.simulators["zaken"].profile.name)  # type: ignore[attr-defined]


def query_of(call: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(call["query"])


def duplicates(calls: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = Counter((c["method"], c["path"], c["query"], repr(c["body"])) for c in calls)
    return [k for k, n in keys.items() if n > 1]


def expands_sent(calls: list[dict[str, Any]]) -> set[str]:
    """Every expand path the calls asked for, in the query or in a ``_zoek`` body, whatever its form."""
    found: set[str] = set()
    for call in calls:
        for value in query_of(call).get("expand", []):
            found.update(value.split(","))
        body = call["body"] if isinstance(call["body"], dict) else {}
        raw = body.get("expand")
        found.update(raw if isinstance(raw, list) else str(raw).split(",") if raw else [])
    return found


# -- batching and what is sent -------------------------------------------------------------------------------


async def test_zaken_with_types_and_persons_is_batched(zgw: Gateway) -> None:
    zgw.reset_counts()
    result = await zgw.query(ZAKEN_QUERY)
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["zaken"]["nodes"]
    assert len(nodes) == 50
    bsns = {r["inpBsn"] for n in nodes for r in n["rollen"] if r["inpBsn"]}
    catalogi, brp, zaken = zgw.calls("catalogi"), zgw.calls("brp"), zgw.calls("zaken")
    sized = {"pageSize": ["50"]} if profile(zgw) == "openzaak" else {}  # only where the source declares it
    assert [query_of(c) for c in zaken] == [{"page": ["1"], "expand": ["rollen"], **sized}]  # one call
    # the zaaktypen are followed, not expanded: each distinct one once
    assert sorted(c["path"] for c in catalogi) == sorted({urlsplit(n["zaaktype"]["url"]).path for n in nodes})
    assert len(brp) <= math.ceil(len(bsns) / 20)
    assert not duplicates(catalogi + brp + zaken)
    assert all(len(c["body"]["burgerservicenummer"]) <= 20 for c in brp)


async def test_catalogi_types_are_followed_once_each_never_expanded(zgw: Gateway) -> None:
    zgw.reset_counts()
    result = await zgw.query(TYPES_QUERY)
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["zaken"]["nodes"]
    zaken, catalogi = zgw.calls("zaken"), zgw.calls("catalogi")
    assert len(zaken) == 1
    assert expands_sent(zaken) == {"rollen", "status"}  # Zaken's own resources only
    types = {n["zaaktype"]["url"] for n in nodes} | {n["status"]["statustype"]["url"] for n in nodes if n["status"]}
    types |= {r["roltype"]["url"] for n in nodes for r in n["rollen"]}
    assert Counter(c["path"] for c in catalogi) == Counter(urlsplit(u).path for u in types)  # once per distinct type
    async with Rest(zgw.world) as rest:
        for node in nodes[:5]:
            assert node["zaaktype"]["omschrijving"] == (await rest.get(node["zaaktype"]["url"]))["omschrijving"]


async def test_answers_agree_with_the_zaken_api(zgw: Gateway) -> None:
    result = await zgw.query(ZAKEN_QUERY)
    node = next(n for n in result["data"]["zaken"]["nodes"] if n["rollen"])
    async with Rest(zgw.world) as rest:
        zaak = await rest.get(f"{zgw.world.urls['zaken']}/zaken/{node['uuid']}")
        zaaktype = await rest.get(zaak["zaaktype"])
        rollen = await rest.every(f"{zgw.world.urls['zaken']}/rollen", {"zaak": zaak["url"]})
        persons = {r["betrokkeneIdentificatie"]["inpBsn"]: r["betrokkeneIdentificatie"] for r in rollen
                   if r["betrokkeneType"] == "natuurlijk_persoon"}
    assert node["identificatie"] == zaak["identificatie"]
    assert node["zaaktype"]["omschrijving"] == zaaktype["omschrijving"]
    assert sorted(r["omschrijvingGeneriek"] for r in node["rollen"]) == sorted(
        r["omschrijvingGeneriek"] for r in rollen)
    for rol in node["rollen"]:
        if rol["inpBsn"]:
            assert persons[rol["inpBsn"]]["geslachtsnaam"] in rol["persoon"]["naam"]["volledigeNaam"]


async def test_a_zaken_source_document_is_read_once(zgw: Gateway) -> None:
    fresh = Gateway(zgw.world)  # new sources: nothing known about them yet
    try:
        fresh.reset_counts()
        await fresh.query("{ zaken(first: 2) { nodes { uuid rollen { omschrijvingGeneriek } } } }")
        await fresh.query('{ zaken(first: 2, bsn: "999993653") { totalCount nodes { rollen { inpBsn } } } }')
        routes = [c["route"] for c in fresh.calls("zaken")]
        assert routes.count("/zaken/api/v1/schema/openapi.yaml") == 1  # where Open Zaak publishes it
        assert not any("openapi" in c["route"] for s in ("catalogi", "documenten", "besluiten")
                       for c in fresh.calls(s))
    finally:
        await fresh.client.aclose()
        await fresh.app.state.sources.aclose()


async def test_a_bsn_filter_never_appears_in_a_url(zgw: Gateway) -> None:
    bsn = next(r.bsn for z in zgw.world.data.zaken.values() for r in z.rollen if r.bsn)
    async with Rest(zgw.world) as rest:
        expected = (await rest.zoek({"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": bsn}))["count"]
    zgw.reset_counts()
    result = await zgw.query('query($bsn: String!) { zaken(bsn: $bsn) { totalCount nodes { rollen { inpBsn } } } '
                             'persoon(burgerservicenummer: $bsn) { zaken { totalCount } } }', {"bsn": bsn})
    assert "errors" not in result, result.get("errors")
    assert result["data"]["zaken"]["totalCount"] == expected
    assert result["data"]["persoon"]["zaken"]["totalCount"] == expected
    calls = zgw.calls("zaken")
    assert calls
    assert all(bsn not in c["query"] and bsn not in c["path"] for c in calls)
    assert all(c["method"] == "POST" for c in calls)
    assert expands_sent(calls) == {"rollen"}
    for call in calls:  # expand in the form the source declares: never a string where Open Zaak wants a list
        if profile(zgw) == "openzaak":
            assert not isinstance(call["body"].get("expand"), str)
        else:
            assert "expand" not in query_of(call) and not isinstance(call["body"].get("expand"), list)


async def test_both_products_give_the_same_answers(gateway: Gateway, standard_gateway: Gateway) -> None:
    bsn, _ = Counter(r.bsn for z in gateway.world.data.zaken.values() for r in z.rollen if r.bsn).most_common(1)[0]
    query = """query($bsn: String!) {
      zaken(first: 30, after: "bzoxMDk") { totalCount pageInfo { hasNextPage } nodes { uuid identificatie
        zaaktype { omschrijving } status { datumStatusGezet statustype { omschrijving } }
        rollen { omschrijvingGeneriek roltype { omschrijving } } resultaat { resultaattype { omschrijving } }
        statussen { datumStatusGezet } documenten { titel } besluiten { identificatie } } }
      persoon(burgerservicenummer: $bsn) { zaken { totalCount nodes { uuid rollen { inpBsn } } } }
      zakenStatistiek(groepeerOp: [ZAAKTYPE, STATUS, OPEN]) { totaal groepen { zaaktype status open aantal } } }"""
    over_open_zaak = await gateway.query(query, {"bsn": bsn})
    assert "errors" not in over_open_zaak, over_open_zaak.get("errors")
    assert over_open_zaak == await standard_gateway.query(query, {"bsn": bsn})


# -- paging --------------------------------------------------------------------------------------------------


async def test_cursor_paging_has_no_gaps_or_overlaps(zgw: Gateway) -> None:
    async with Rest(zgw.world) as rest:
        expected = [z["uuid"] for z in await rest.every(f"{zgw.world.urls['zaken']}/zaken")]
    seen: list[str] = []
    after = None
    for _ in range(math.ceil(len(expected) / 70)):
        result = await zgw.query(
            "query($after: String) { zaken(first: 70, after: $after) { totalCount pageInfo { hasNextPage endCursor }"
            " nodes { uuid } } }", {"after": after})
        page = result["data"]["zaken"]
        seen.extend(n["uuid"] for n in page["nodes"])
        after = page["pageInfo"]["endCursor"]
        assert page["totalCount"] == len(expected)
    assert seen == expected
    assert not page["pageInfo"]["hasNextPage"]


@pytest.mark.parametrize("product", [None, "open-zaak"])
async def test_pages_hold_exactly_the_right_cases_when_page_size_is_not_granted(
        standard: Municipal, product: str | None) -> None:
    """A standard source pages by its own size. Told it is Open Zaak, the gateway asks a ``pageSize`` the
    source ignores: the first answer shows it, and the window is worked out again from the real size."""
    async with Rest(standard) as rest:
        expected = [z["uuid"] for z in await rest.every(f"{standard.urls['zaken']}/zaken")]
    config = {**standard.config, "sources": {**standard.config["sources"]}}
    if product:
        config["sources"]["zaken"] = {**config["sources"]["zaken"], "product": product}
    gw = Gateway(Municipal(data=standard.data, config=config, simulators=standard.simulators))
    try:
        for offset in (0, 20, 95, 130, 190, len(expected) - 10):
            gw.reset_counts()
            result = await gw.query("query($after: String) { zaken(first: 20, after: $after) { totalCount "
                                    "nodes { uuid } } }", {"after": encode_cursor(offset - 1) if offset else None})
            page = result["data"]["zaken"]
            assert [n["uuid"] for n in page["nodes"]] == expected[offset:offset + 20], offset
            assert page["totalCount"] == len(expected)
            asked = [q for c in gw.calls("zaken") if (q := query_of(c).get("pageSize"))]
            if offset:  # learned from the first answer: never asked again
                assert not asked
    finally:
        await gw.client.aclose()
        await gw.app.state.sources.aclose()


async def test_paging_past_the_end_keeps_the_total(zgw: Gateway) -> None:
    async with Rest(zgw.world) as rest:
        total = (await rest.get(f"{zgw.world.urls['zaken']}/zaken", {"page": "1"}))["count"]
    for offset in (total, total + 150):
        result = await zgw.query("query($after: String) { zaken(first: 20, after: $after) { totalCount "
                                 "pageInfo { hasNextPage } nodes { uuid } } }", {"after": encode_cursor(offset - 1)})
        assert "errors" not in result, result.get("errors")
        assert result["data"]["zaken"] == {"totalCount": total, "pageInfo": {"hasNextPage": False}, "nodes": []}


# -- lookups -------------------------------------------------------------------------------------------------


async def test_zaak_by_uuid_and_url_with_everything_linked(zgw: Gateway) -> None:
    chosen = next(z for z in zgw.world.data.zaken.values() if z.document_uuids and z.besluit_uuids and z.zaakobjecten)
    zrc = zgw.world.urls["zaken"]
    async with Rest(zgw.world) as rest:
        zaak = await rest.get(f"{zrc}/zaken/{chosen.uuid}")
        status = await rest.get(zaak["status"])
        statussen = await rest.every(f"{zrc}/statussen", {"zaak": zaak["url"]})
        zios = await rest.get(f"{zrc}/zaakinformatieobjecten", {"zaak": zaak["url"]})
        titels = sorted([(await rest.get(z["informatieobject"]))["titel"] for z in zios])
        besluiten = await rest.every(f"{zgw.world.urls['besluiten']}/besluiten", {"zaak": zaak["url"]})
        besluittypen = [(await rest.get(b["besluittype"]))["omschrijving"] for b in besluiten]
        zaakobjecten = await rest.every(f"{zrc}/zaakobjecten", {"zaak": zaak["url"]})
        statustype = (await rest.get(status["statustype"]))["omschrijving"]
    query = """query($uuid: ID) { zaak(uuid: $uuid) { url identificatie status { statustype { omschrijving } }
      statussen { datumStatusGezet } documenten { titel }
      besluiten { identificatie besluittype { omschrijving } zaak { identificatie } }
      zaakobjecten { objectType adres { postcode } } } }"""
    result = await zgw.query(query, {"uuid": chosen.uuid})
    assert "errors" not in result, result.get("errors")
    found = result["data"]["zaak"]
    assert found["identificatie"] == zaak["identificatie"]
    assert len(found["statussen"]) == len(statussen)
    assert found["status"]["statustype"]["omschrijving"] == statustype
    assert sorted(d["titel"] for d in found["documenten"]) == titels
    assert [(b["identificatie"], b["besluittype"]["omschrijving"]) for b in found["besluiten"]] == list(
        zip([b["identificatie"] for b in besluiten], besluittypen, strict=True))
    assert all(b["zaak"]["identificatie"] == zaak["identificatie"] for b in found["besluiten"])  # besluit { zaak }
    postcodes = sorted(z["objectIdentificatie"]["postcode"] for z in zaakobjecten if z["objectType"] == "adres")
    assert sorted(z["adres"]["postcode"] for z in found["zaakobjecten"] if z["objectType"] == "adres") == postcodes
    by_url = await zgw.query("query($url: String) { zaak(url: $url) { identificatie } }", {"url": found["url"]})
    assert by_url["data"]["zaak"]["identificatie"] == zaak["identificatie"]


async def test_zaken_of_a_person(zgw: Gateway) -> None:
    bsn, _ = Counter(r.bsn for z in zgw.world.data.zaken.values() for r in z.rollen if r.bsn).most_common(1)[0]
    async with Rest(zgw.world) as rest:
        answer = await rest.zoek({"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": bsn})
    result = await zgw.query('query($bsn: String!) { persoon(burgerservicenummer: $bsn) { zaken(first: 100) '
                             '{ totalCount nodes { uuid } } } }', {"bsn": bsn})
    zaken = result["data"]["persoon"]["zaken"]
    assert zaken["totalCount"] == answer["count"]
    assert [n["uuid"] for n in zaken["nodes"]] == [z["uuid"] for z in answer["results"]]


async def test_an_invalid_uuid_never_spoils_a_batch(zgw: Gateway) -> None:
    uuid = next(iter(zgw.world.data.zaken))
    async with Rest(zgw.world) as rest:
        identificatie = (await rest.get(f"{zgw.world.urls['zaken']}/zaken/{uuid}"))["identificatie"]
    bad = await zgw.query('{ zaak(uuid: "ZAAK-1") { uuid } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    both = await zgw.query('query($ok: ID, $odd: String) { a: zaak(uuid: $ok) { identificatie } '
                           'b: zaak(url: $odd) { identificatie } }',
                           {"ok": uuid, "odd": zgw.world.urls["zaken"] + "/zaken/ZAAK-1"})
    assert both["data"] == {"a": {"identificatie": identificatie}, "b": None}
    assert "errors" not in both


# -- statistics ----------------------------------------------------------------------------------------------


async def test_statistics_agree_with_the_sources(zgw: Gateway) -> None:
    async with Rest(zgw.world) as rest:
        zaken = await rest.every(f"{zgw.world.urls['zaken']}/zaken")
        names = {url: (await rest.get(url))["omschrijving"] for url in {z["zaaktype"] for z in zaken}}
    expected = Counter((names[z["zaaktype"]], z["einddatum"] is None) for z in zaken)
    zgw.reset_counts()
    result = await zgw.query("{ zakenStatistiek(groepeerOp: [ZAAKTYPE, OPEN]) { totaal groepen "
                             "{ zaaktype open aantal gemiddeldeDoorlooptijdDagen } } }")
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["zakenStatistiek"]
    assert stats["totaal"] == len(zaken)
    assert {(g["zaaktype"], g["open"]): g["aantal"] for g in stats["groepen"]} == dict(expected)
    # the names: one list of zaaktypen beside the scan, not one call per group after it
    assert [c["route"] for c in zgw.calls("catalogi")] == ["/catalogi/api/v1/zaaktypen"]
    scan = zgw.calls("zaken")
    if profile(zgw) == "openzaak":  # the largest pages the source declares
        assert [query_of(c)["pageSize"] for c in scan] == [["500"]] * math.ceil(len(zaken) / 500)
    else:  # pages of the source's own size
        assert len(scan) == math.ceil(len(zaken) / 100) and not any("pageSize" in query_of(c) for c in scan)
    assert not duplicates(scan)


async def test_statistics_by_status_name_cost_one_call_per_distinct_statustype(zgw: Gateway) -> None:
    async with Rest(zgw.world) as rest:
        zaken = await rest.every(f"{zgw.world.urls['zaken']}/zaken", {"expand": "status"})
        urls = [z["_expand"]["status"]["statustype"] for z in zaken if z["_expand"].get("status")]
        names = {url: (await rest.get(url))["omschrijving"] for url in set(urls)}
    expected = Counter(names[u] for u in urls)
    zgw.reset_counts()
    result = await zgw.query("{ zakenStatistiek(groepeerOp: [STATUS]) { totaal groepen { status aantal } } }")
    assert "errors" not in result, result.get("errors")
    found: Counter[str] = Counter()
    for group in result["data"]["zakenStatistiek"]["groepen"]:
        found[group["status"]] += group["aantal"]
    assert found == expected
    assert expands_sent(zgw.calls("zaken")) == {"status"}
    assert sorted(c["path"] for c in zgw.calls("catalogi")) == sorted(urlsplit(u).path for u in names)


async def test_status_groups_carry_their_zaaktype(zgw: Gateway) -> None:
    """A status name such as 'Ontvangen' recurs across zaaktypen; each group says which zaaktype it counts."""
    async with Rest(zgw.world) as rest:
        zaken = await rest.every(f"{zgw.world.urls['zaken']}/zaken", {"expand": "status"})
        urls = {z["zaaktype"] for z in zaken} | {z["_expand"]["status"]["statustype"]
                                                  for z in zaken if z["_expand"].get("status")}
        names = {url: (await rest.get(url))["omschrijving"] for url in urls}
    expected = Counter(
        (names[z["zaaktype"]], names[z["_expand"]["status"]["statustype"]] if z["_expand"].get("status") else None,
         z["einddatum"] is None) for z in zaken)
    result = await zgw.query("{ zakenStatistiek(groepeerOp: [STATUS, OPEN]) { totaal groepen "
                             "{ zaaktype status open aantal } } }")
    assert "errors" not in result, result.get("errors")
    groups = result["data"]["zakenStatistiek"]["groepen"]
    assert Counter({(g["zaaktype"], g["status"], g["open"]): g["aantal"] for g in groups}) == expected
    assert len(groups) == len(expected)  # no two groups share a zaaktype, status and open
    zaaktypen_per_status: dict[str | None, set[str]] = {}
    for zaaktype, status, _ in expected:
        zaaktypen_per_status.setdefault(status, set()).add(zaaktype)
    assert any(len(types) > 1 for types in zaaktypen_per_status.values()), "the demo should reuse a status name"


async def test_statistics_keep_their_counts_when_catalogi_fails(demo: Municipal) -> None:
    # Catalogi shares the ZGW host with Zaken in the demo, so the simulator cannot fail it alone: a mock
    # transport stands in for a Catalogi that answers 503.
    config = gateway_settings(demo.config)
    sources = {name: Source(cfg) for name, cfg in config.sources.items() if name != "catalogi"}
    sources["catalogi"] = Source(config.sources["catalogi"],
                                 transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    app = create_app(config, sources=Sources(sources))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers=employee_headers(demo)) as client:
        result = (await client.post("/graphql", json={
            "query": "{ zakenStatistiek(groepeerOp: [ZAAKTYPE]) { totaal groepen { zaaktype aantal } } }"})).json()
    await app.state.sources.aclose()
    stats = result["data"]["zakenStatistiek"]
    async with Rest(demo) as rest:
        total = (await rest.get(f"{demo.urls['zaken']}/zaken"))["count"]  # Zaken's own count
    assert stats["totaal"] == total
    assert sum(g["aantal"] for g in stats["groepen"]) == total
    assert all(g["zaaktype"] is None for g in stats["groepen"])
    assert len(result["errors"]) == len(stats["groepen"])
    assert {e["extensions"]["source"] for e in result["errors"]} == {"catalogi"}
    assert all(e["path"][-1] == "zaaktype" for e in result["errors"])


# -- what each product's document declares ---------------------------------------------------------------


@pytest.mark.parametrize(("document", "zoek_expand", "page_size"), [
    ("zgw/openzaak-1.30.0/zaken.openapi.yaml", "query", 500),
    ("zgw/zaken-api-1.5.1/openapi.yaml", "string", 0),
    ("zgw/standaard/zaken/zrc/1.7.x/1.7.0/openapi.yaml", "query", 0),
])
def test_the_forms_come_from_the_products_own_document(document: str, zoek_expand: str, page_size: int) -> None:
    path = Path(SHARED_SPECS) / document
    if not path.is_file():
        pytest.skip(f"official spec {document} not found under {SHARED_SPECS}")
    forms = from_document(yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    assert (forms.zoek_expand, forms.lists.maximum, forms.zoek.maximum) == (zoek_expand, page_size, page_size)


async def test_without_a_document_the_standard_form_and_then_none(demo: Municipal) -> None:
    """A product whose document cannot be read gets the standard's string; should that break its ``_zoek``
    (as it does Open Zaak's), the search is repeated without expand, and expand is not sent there again."""
    sent: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if "openapi" in request.url.path:
            return httpx.Response(404)
        body = httpx.Response(200, content=request.content).json() if request.content else {}
        sent.append({"query": dict(request.url.params), "body": body})
        if isinstance(body.get("expand"), str):
            return httpx.Response(500)
        zaak = {"url": f"{demo.urls['zaken']}/zaken/{'1' * 8}-1111-4111-8111-{'1' * 12}", "uuid": "x", "rollen": []}
        return httpx.Response(200, json={"count": 1, "next": None, "previous": None, "results": [zaak]})

    config = gateway_settings(demo.config)
    sources = {name: Source(cfg) for name, cfg in config.sources.items() if name != "zaken"}
    sources["zaken"] = Source(config.sources["zaken"], transport=httpx.MockTransport(answer))
    app = create_app(config, sources=Sources(sources))
    query = '{ zaken(bsn: "999993653") { totalCount nodes { rollen { inpBsn } } } }'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers=employee_headers(demo)) as client:
        first = (await client.post("/graphql", json={"query": query})).json()
        second = (await client.post("/graphql", json={"query": query})).json()
    await app.state.sources.aclose()
    assert first == second == {"data": {"zaken": {"totalCount": 1, "nodes": [{"rollen": []}]}}}
    assert [c["body"].get("expand") for c in sent] == ["rollen", None, None]
    assert not any("pageSize" in c["query"] for c in sent)


# -- one source only ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    ('first: 1000', "'first'"), ('first: -1', "'first'"), ('after: "not-a-cursor"', "cursor"),
    ('status: "misschien"', "'status'"), ('bsn: "12"', "'bsn'"),
])
async def test_bad_arguments_get_clear_errors(gateway: Gateway, args: str, message: str) -> None:
    result = await gateway.query(f"{{ zaken({args}) {{ totalCount }} }}")
    assert not ((result["data"] or {}).get("zaken") or {}).get("totalCount")
    assert message in result["errors"][0]["message"]
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_failing_source_nulls_only_its_fields(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["brp"].behaviour.update({"error_rate": 1.0, "error_status": 503})
    result = await gateway.query(ZAKEN_QUERY.replace("first: 50", "first: 5"))
    nodes = result["data"]["zaken"]["nodes"]
    assert all(n["zaaktype"]["omschrijving"] for n in nodes)
    persons = [r for n in nodes for r in n["rollen"] if r["inpBsn"]]
    assert persons and all(r["persoon"] is None for r in persons)
    errors = result["errors"]
    assert {e["extensions"]["code"] for e in errors} == {"UPSTREAM_ERROR"}
    assert all(e["extensions"]["source"] == "brp" and e["extensions"]["status"] == 503 for e in errors)
    assert all(e["path"][-1] == "persoon" for e in errors)
    assert not any("Injected" in e["message"] or "http" in e["message"] for e in errors)


async def test_a_failing_zaken_source_keeps_other_root_fields(gateway: Gateway, demo: Municipal) -> None:
    bsn = next(iter(demo.data.personen))
    demo.simulators["zaken"].behaviour.update({"error_rate": 1.0, "error_status": 503})
    gateway.reset_counts()
    result = await gateway.query('query($bsn: String!) { persoon(burgerservicenummer: $bsn) { burgerservicenummer }'
                                 " zaken(first: 2) { totalCount nodes { uuid } } }", {"bsn": bsn})
    assert result["data"] == {"persoon": {"burgerservicenummer": bsn}, "zaken": {"totalCount": None, "nodes": None}}
    assert {tuple(e["path"]) for e in result["errors"]} == {("zaken", "totalCount"), ("zaken", "nodes")}
    assert len(gateway.calls("zaken")) == 1  # one page fetch, shared by both fields


async def test_documents_of_many_zaken_cost_one_documenten_call(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ zaken(first: 60) { nodes { uuid zaakobjecten { objectType } documenten { titel } "
                                 "besluiten { identificatie } } } }")
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["zaken"]["nodes"]
    routes = Counter(demo.simulators["zaken"].counts)  # before the checks below add requests of their own
    async with Rest(demo) as rest:  # what Zaken and Documenten themselves answer
        for node in nodes[:10]:
            zaak = f"{demo.urls['zaken']}/zaken/{node['uuid']}"
            links = await rest.get(f"{demo.urls['zaken']}/zaakinformatieobjecten", {"zaak": zaak})
            titles = [(await rest.get(link["informatieobject"]))["titel"] for link in links]
            assert sorted(d["titel"] for d in node["documenten"]) == sorted(titles)
            objects = await rest.every(f"{demo.urls['zaken']}/zaakobjecten", {"zaak": zaak})
            assert len(node["zaakobjecten"]) == len(objects)
    assert routes["GET /zaken/api/v1/zaken"] == 1
    assert routes["POST /documenten/api/v1/enkelvoudiginformatieobjecten/_zoek"] == 1
    assert not routes["GET /zaken/api/v1/zaakinformatieobjecten"]
    assert not routes["GET /zaken/api/v1/zaakobjecten"]  # expanded, and empty lists are not asked again
    besluiten = routes["GET /besluiten/api/v1/besluiten"]
    assert besluiten == len(nodes)  # no batch filter exists for besluiten: one list per zaak, each once


async def test_per_zaak_lists_are_bounded_per_request(gateway: Gateway, demo: Municipal,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolver, "PER_PARENT_CALLS", 25)
    gateway.reset_counts()
    result = await gateway.query("{ zaken(first: 40) { nodes { besluiten { identificatie } } } }")
    refused = [e for e in result["errors"] if e["extensions"]["code"] == "RESULT_TOO_LARGE"]
    assert len(refused) == 15 and all(e["path"][-1] == "besluiten" for e in refused)
    assert demo.simulators["zaken"].counts["GET /besluiten/api/v1/besluiten"] == 25


async def test_eigenschappen_cost_nothing_when_a_zaak_has_none(gateway: Gateway) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ zaken(first: 10) { nodes { eigenschappen { naam waarde } } } }")
    assert all(n["eigenschappen"] == [] for n in result["data"]["zaken"]["nodes"])  # the demo has none
    assert len(gateway.calls("zaken")) == 1
