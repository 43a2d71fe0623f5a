"""Upstream calls and sequential waves at their minimum (issue 10, P1 and P6), counted at the sources.

A *wave* is one round of source calls that waits for another: a call is in wave k + 1 when some call of wave k
was answered before it arrived. Every source answers after the same injected latency, so calls that could go
together arrive together, and a call that waited for another arrives a latency later. The minimum number of
waves is the depth of the links a query follows, counting a link whose key the gateway already holds (a BSN
given as an argument, a dwelling id in a BRP answer) as no link at all.

Expected numbers come from the sources' own REST answers, asked directly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from demo.runner import Municipal
from tests.conftest import Gateway
from tests.gateway.conftest import WARM_UP
from tests.gateway.test_zaken import Rest, profile

LATENCY_MS = 60  # far above the gateway's own time per step, so waves cannot blur into each other
SOURCES = ("zaken", "catalogi", "brp", "bag", "documenten")
BRP_BATCH = 20  # the BRP's limit on BSNs per call (Haal Centraal BRP Personen: RaadpleegMetBurgerservicenummer)


def waves(calls: list[dict[str, Any]]) -> int:
    """The longest chain of calls each arriving after the one before it was answered."""
    ordered = sorted(calls, key=lambda c: c["arrived"])
    depth: list[int] = []
    for i, call in enumerate(ordered):
        before = [depth[j] for j in range(i) if ordered[j]["answered"] <= call["arrived"]]
        depth.append(1 + max(before, default=0))
    return max(depth, default=0)


def slow_sources(gw: Gateway) -> None:
    for name in SOURCES:
        gw.world.simulators[name].behaviour.latency_ms = LATENCY_MS


def recorded(gw: Gateway) -> dict[str, list[dict[str, Any]]]:
    return {name: [c for c in gw.calls(name) if not c["path"].endswith("/openapi.json")] for name in SOURCES}


async def brp_person(world: Municipal, bsn: str, fields: list[str]) -> dict[str, Any]:
    entry = world.config["sources"]["brp"]
    async with httpx.AsyncClient(headers={entry["header"]: entry["key"]}) as client:
        response = await client.post(f"{world.urls['brp']}/personen", json={
            "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": fields})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["personen"]
    assert found, bsn
    return found[0]


async def someone_with_zaken_and_family(gw: Gateway, rest: Rest) -> tuple[str, dict[str, Any]]:
    """A person with a role in some zaak, a partner or child, and an address, as the sources tell."""
    page = await rest.get(f"{gw.world.urls['zaken']}/rollen", {"betrokkeneType": "natuurlijk_persoon"})
    for rol in page["results"]:
        bsn = rol["betrokkeneIdentificatie"].get("inpBsn")
        if not bsn:
            continue
        person = await brp_person(gw.world, bsn, ["burgerservicenummer", "partners", "kinderen", "verblijfplaats"])
        place = person.get("verblijfplaats", {})
        if (person.get("partners") or person.get("kinderen")) and place.get("adresseerbaarObjectIdentificatie"):
            return bsn, person
    pytest.fail("the demo holds no person with a zaak, family and an address")


PERSON = """query($bsn: String!) { persoon(burgerservicenummer: $bsn) {
  naam { volledigeNaam }
  partners { burgerservicenummer naam { volledigeNaam } }
  kinderen { burgerservicenummer naam { volledigeNaam } }
  zaken(first: 20) { totalCount nodes { identificatie zaaktype { omschrijving } } }
  verblijfplaats { adres { postcode bewoners { burgerservicenummer naam { volledigeNaam } } } }
} }"""


async def test_one_person_takes_two_waves_and_the_fewest_calls(gateway: Gateway) -> None:
    """The person and their zaken go at once (the BSN is the argument); then family, address, residents (from
    the dwelling id in the BRP's own answer) and zaaktypen go together: two waves, each resource asked once."""
    async with Rest(gateway.world) as rest:
        bsn, person = await someone_with_zaken_and_family(gateway, rest)
        zaken = (await rest.zoek({"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": bsn}))["results"][:20]
    slow_sources(gateway)
    gateway.reset_counts()

    answer = await gateway.query(PERSON, {"bsn": bsn})

    assert "errors" not in answer, answer.get("errors")
    found = answer["data"]["persoon"]
    assert found["zaken"]["totalCount"] >= 1 and found["verblijfplaats"]["adres"]["bewoners"]
    calls = recorded(gateway)
    assert len(calls["zaken"]) == 1
    assert len(calls["catalogi"]) == len({z["zaaktype"] for z in zaken})  # each distinct zaaktype once
    assert len(calls["bag"]) == 1
    family = {r["burgerservicenummer"] for rel in ("partners", "kinderen") for r in person.get(rel, [])}
    assert len(calls["brp"]) == 1 + math.ceil(len(family) / BRP_BATCH) + 1  # person, family, residents' search
    assert waves([c for cs in calls.values() for c in cs]) == 2
    first_wave = min(c["answered"] for cs in calls.values() for c in cs)
    assert all(c["arrived"] < first_wave for c in calls["zaken"])  # the zaken did not wait for the BRP


async def test_residents_are_not_fetched_for_a_caller_who_may_not_see_them(gateway: Gateway) -> None:
    """Starting a child's call early never fetches what the caller may not see: without `zaken:lezen`, the
    person's zaken are refused and the Zaken API is never asked."""
    async with Rest(gateway.world) as rest:
        bsn, _ = await someone_with_zaken_and_family(gateway, rest)
    issuer = gateway.world.simulators["issuer"]
    token = issuer.mint(lifetime_s=600, scopes=["brp:lezen", "bag:lezen"])  # type: ignore[attr-defined]
    gateway.reset_counts()

    answer = await gateway.query(PERSON, {"bsn": bsn}, headers={"Authorization": f"Bearer {token}"})

    assert answer["data"]["persoon"]["zaken"] is None
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN"]
    assert recorded(gateway)["zaken"] == []


ZAKEN_WITH_PERSONS = """query($n: Int!) { zaken(first: $n) { nodes { identificatie zaaktype { omschrijving }
  rollen { persoon { naam { volledigeNaam } } } } } }"""


# What one Zaken page may hold when the client asks (ZGW cheat-sheet): Open Zaak takes `pageSize` up to 500;
# the standard has no `pageSize`, so its own page size (the answers show it) is all there is.
PAGE_SIZE_MAX = {"openzaak": 500, "standard": None}


@pytest.fixture
async def unthrottled(zgw: Gateway) -> AsyncIterator[Gateway]:
    """``zgw`` with room for every BRP call of a wave at once: the demo's BRP bulkhead (10 calls at a time) is
    politeness, and a wave with more calls than it admits would be split by it rather than by the query."""
    config = copy.deepcopy(zgw.world.config)
    config["sources"]["brp"]["max_concurrency"] = 100
    gw = Gateway(zgw.world, config)
    await gw.query(WARM_UP)  # the Zaken source's OpenAPI document, read once per process
    yield gw
    await gw.client.aclose()
    await gw.app.state.sources.aclose()


@pytest.mark.parametrize("n", [10, 50, 100, 500])
async def test_zaken_with_persons_cost_pages_plus_batches_plus_types(unthrottled: Gateway, n: int) -> None:
    """P6: n zaken with their persons cost the Zaken pages that hold them, one BRP call per 20 distinct BSNs and
    one Catalogi call per distinct zaaktype, in two waves, for any n (beyond 100, several of the source's pages
    where it pages by 100, asked at once)."""
    zgw = unthrottled
    async with Rest(zgw.world) as rest:
        url = f"{zgw.world.urls['zaken']}/zaken"
        page = await rest.get(url, {"expand": "rollen"})
        natural = len(page["results"])  # the page size this source answers with when nobody asks
        zaken = list(page["results"])
        while len(zaken) < n and page["next"]:
            page = await rest.get(page["next"])
            zaken.extend(page["results"])
    zaken = zaken[:n]
    bsns = {r["betrokkeneIdentificatie"]["inpBsn"] for z in zaken for r in z["_expand"].get("rollen", [])
            if r["betrokkeneType"] == "natuurlijk_persoon" and r["betrokkeneIdentificatie"].get("inpBsn")}
    largest = PAGE_SIZE_MAX[profile(zgw)]
    slow_sources(zgw)
    zgw.reset_counts()

    answer = await zgw.query(ZAKEN_WITH_PERSONS, {"n": n})

    assert "errors" not in answer, answer.get("errors")
    assert [z["identificatie"] for z in answer["data"]["zaken"]["nodes"]] == [z["identificatie"] for z in zaken]
    calls = recorded(zgw)
    assert len(calls["zaken"]) == (1 if largest is not None and n <= largest else math.ceil(n / natural))
    assert len(calls["brp"]) == math.ceil(len(bsns) / BRP_BATCH)
    assert len(calls["catalogi"]) == len({z["zaaktype"] for z in zaken})
    assert waves([c for cs in calls.values() for c in cs]) == 2


@pytest.mark.parametrize("key", ["zaken", "zaaktype", "persons", "person"])
async def test_the_benchmarks_comparable_queries_take_the_fewest_calls_and_waves(
    unthrottled: Gateway, key: str
) -> None:
    """P1 on the queries `make bench-peers` compares (their texts from bench/peer_systems.py): the zaken page
    once, each distinct zaaktype once, the persons 20 BSNs a call; one wave per level of links, cold."""
    from bench.peer_systems import GG_PERSON, GG_PERSONS, GG_ZAAKTYPE, GG_ZAKEN

    gw = unthrottled
    async with Rest(gw.world) as rest:
        zaken = (await rest.get(f"{gw.world.urls['zaken']}/zaken", {"expand": "rollen"}))["results"][:20]
    bsns = {r["betrokkeneIdentificatie"]["inpBsn"] for z in zaken for r in z["_expand"].get("rollen", [])
            if r["betrokkeneType"] == "natuurlijk_persoon" and r["betrokkeneIdentificatie"].get("inpBsn")}
    query, variables, expected, levels = {
        "zaken": (GG_ZAKEN, None, {"zaken": 1}, 1),
        "zaaktype": (GG_ZAAKTYPE, None, {"zaken": 1, "catalogi": len({z["zaaktype"] for z in zaken})}, 2),
        "persons": (GG_PERSONS, None, {"zaken": 1, "brp": math.ceil(len(bsns) / BRP_BATCH)}, 2),
        "person": (GG_PERSON, {"bsn": sorted(bsns)[0]}, {"brp": 1}, 1),
    }[key]
    slow_sources(gw)
    gw.reset_counts()

    answer = await gw.query(query, variables)

    assert "errors" not in answer, answer.get("errors")
    calls = recorded(gw)
    assert {name: len(found) for name, found in calls.items() if found} == expected
    assert waves([c for found in calls.values() for c in found]) == levels
