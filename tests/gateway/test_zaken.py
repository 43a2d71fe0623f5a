"""The zaak graph: batching, data minimisation and agreement with the Zaken API, through real HTTP."""

from __future__ import annotations

import math
from collections import Counter

import httpx
import jwt
import pytest

from demo.runner import Municipal
from tests.conftest import Gateway

ZAKEN_QUERY = """
{ zaken(first: 50) { totalCount nodes { uuid identificatie zaaktype { omschrijving }
  rollen { omschrijvingGeneriek inpBsn persoon { naam { volledigeNaam } } } } } }
"""


def zgw_headers(demo: Municipal) -> dict[str, str]:
    entry = demo.config["sources"]["zaken"]
    import time

    token = jwt.encode({"iss": entry["client_id"], "client_id": entry["client_id"], "iat": int(time.time())},
                       entry["secret"], algorithm="HS256")
    return {"Authorization": f"Bearer {token}", "Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}


def duplicates(calls: list[dict]) -> list[tuple]:
    keys = Counter((c["method"], c["path"], c["query"], repr(c["body"])) for c in calls)
    return [k for k, n in keys.items() if n > 1]


async def test_zaken_with_types_and_persons_is_batched(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query(ZAKEN_QUERY)
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["zaken"]["nodes"]
    assert len(nodes) == 50
    zaaktypen = {demo.data.zaken[n["uuid"]].zaaktype_uuid for n in nodes}
    bsns = {r["inpBsn"] for n in nodes for r in n["rollen"] if r["inpBsn"]}
    catalogi, brp, zaken = gateway.calls("catalogi"), gateway.calls("brp"), gateway.calls("zaken")
    assert [c["query"] for c in zaken] == ["page=1&pageSize=50&expand=rollen%2Czaaktype"]  # one call, no waste
    assert len(catalogi) <= len(zaaktypen)
    assert len(brp) <= math.ceil(len(bsns) / 20)
    assert not duplicates(catalogi + brp + zaken)
    assert all(len(c["body"]["burgerservicenummer"]) <= 20 for c in brp)


async def test_brp_is_asked_only_for_selected_fields(gateway: Gateway) -> None:
    gateway.reset_counts()
    result = await gateway.query(ZAKEN_QUERY)
    assert "errors" not in result
    for call in gateway.calls("brp"):
        assert sorted(call["body"]["fields"]) == ["burgerservicenummer", "naam.volledigeNaam"]


async def test_answers_agree_with_the_zaken_api(gateway: Gateway, demo: Municipal) -> None:
    result = await gateway.query(ZAKEN_QUERY)
    node = next(n for n in result["data"]["zaken"]["nodes"] if n["rollen"])
    async with httpx.AsyncClient(headers=zgw_headers(demo)) as client:
        zaak = (await client.get(f"{demo.urls['zaken']}/zaken/{node['uuid']}")).json()
        zaaktype = (await client.get(zaak["zaaktype"])).json()
        rollen = (await client.get(f"{demo.urls['zaken']}/rollen", params={"zaak": zaak["url"]})).json()["results"]
    assert node["identificatie"] == zaak["identificatie"]
    assert node["zaaktype"]["omschrijving"] == zaaktype["omschrijving"]
    assert sorted(r["omschrijvingGeneriek"] for r in node["rollen"]) == sorted(
        r["omschrijvingGeneriek"] for r in rollen)
    for rol in node["rollen"]:
        if rol["inpBsn"]:
            person = demo.data.personen[rol["inpBsn"]]
            assert person.geslachtsnaam in rol["persoon"]["naam"]["volledigeNaam"]


async def test_cursor_paging_has_no_gaps_or_overlaps(gateway: Gateway, demo: Municipal) -> None:
    seen: list[str] = []
    after = None
    for _ in range(4):
        result = await gateway.query(
            "query($after: String) { zaken(first: 70, after: $after) { totalCount pageInfo { hasNextPage endCursor }"
            " nodes { uuid } } }", {"after": after})
        page = result["data"]["zaken"]
        seen.extend(n["uuid"] for n in page["nodes"])
        after = page["pageInfo"]["endCursor"]
        assert page["totalCount"] == len(demo.data.zaken)
    assert len(seen) == len(set(seen)) == 280


async def test_zaak_by_uuid_and_url_with_everything_linked(gateway: Gateway, demo: Municipal) -> None:
    zaak = next(z for z in demo.data.zaken.values() if z.document_uuids and z.besluit_uuids and z.zaakobjecten)
    query = """query($uuid: ID) { zaak(uuid: $uuid) { url identificatie status { statustype { omschrijving } }
      statussen { datumStatusGezet } resultaat { resultaattype { omschrijving } } documenten { titel }
      besluiten { identificatie besluittype { omschrijving } } zaakobjecten { objectType adres { postcode } } } }"""
    result = await gateway.query(query, {"uuid": zaak.uuid})
    assert "errors" not in result, result.get("errors")
    found = result["data"]["zaak"]
    assert found["identificatie"] == zaak.identificatie
    assert len(found["statussen"]) == len(zaak.statussen)
    zaaktype = demo.data.zaaktype(zaak.zaaktype_uuid)
    current = next(s for s in zaaktype.statustypen if s.uuid == zaak.statussen[-1].statustype_uuid)
    assert found["status"]["statustype"]["omschrijving"] == current.omschrijving
    assert sorted(d["titel"] for d in found["documenten"]) == sorted(
        demo.data.documenten[d].titel for d in zaak.document_uuids)
    assert [b["identificatie"] for b in found["besluiten"]] == [demo.data.besluiten[b].identificatie
                                                                for b in zaak.besluit_uuids]
    for zo in found["zaakobjecten"]:
        if zo["objectType"] == "adres":
            na_id = next(z.nummeraanduiding_id for z in zaak.zaakobjecten if z.object_type == "adres")
            assert zo["adres"]["postcode"] == demo.data.nummeraanduidingen[na_id].postcode
    by_url = await gateway.query("query($url: String) { zaak(url: $url) { identificatie } }", {"url": found["url"]})
    assert by_url["data"]["zaak"]["identificatie"] == zaak.identificatie


async def test_zaken_of_a_person(gateway: Gateway, demo: Municipal) -> None:
    bsn, expected = Counter(r.bsn for z in demo.data.zaken.values() for r in z.rollen if r.bsn).most_common(1)[0]
    result = await gateway.query('query($bsn: String!) { persoon(burgerservicenummer: $bsn) { zaken(first: 100) '
                                 '{ totalCount nodes { uuid } } } }', {"bsn": bsn})
    assert result["data"]["persoon"]["zaken"]["totalCount"] == expected


@pytest.mark.parametrize(("args", "message"), [
    ('first: 1000', "'first'"), ('first: -1', "'first'"), ('after: "not-a-cursor"', "cursor"),
    ('status: "misschien"', "'status'"), ('bsn: "12"', "'bsn'"),
])
async def test_bad_arguments_get_clear_errors(gateway: Gateway, args: str, message: str) -> None:
    result = await gateway.query(f"{{ zaken({args}) {{ totalCount }} }}")
    assert result["data"] == {"zaken": None}
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
    for node in nodes:
        zaak = demo.data.zaken[node["uuid"]]
        assert sorted(d["titel"] for d in node["documenten"]) == sorted(
            demo.data.documenten[d].titel for d in zaak.document_uuids)
        assert len(node["zaakobjecten"]) == len(zaak.zaakobjecten)
    routes = demo.simulators["zaken"].counts
    assert routes["GET /zaken/api/v1/zaken"] == 1
    assert routes["POST /documenten/api/v1/enkelvoudiginformatieobjecten/_zoek"] == 1
    assert not routes["GET /zaken/api/v1/zaakinformatieobjecten"]
    assert not routes["GET /zaken/api/v1/zaakobjecten"]  # expanded, and empty lists are not asked again
    besluiten = routes["GET /besluiten/api/v1/besluiten"]
    assert besluiten == len(nodes)  # no batch filter exists for besluiten: one list per zaak, each once


async def test_a_bsn_filter_never_appears_in_a_url(gateway: Gateway, demo: Municipal) -> None:
    bsn = next(r.bsn for z in demo.data.zaken.values() for r in z.rollen if r.bsn)
    gateway.reset_counts()
    result = await gateway.query('query($bsn: String!) { zaken(bsn: $bsn) { totalCount } '
                                 'persoon(burgerservicenummer: $bsn) { zaken { totalCount } } }', {"bsn": bsn})
    expected = sum(1 for z in demo.data.zaken.values() if any(r.bsn == bsn for r in z.rollen))
    assert result["data"]["zaken"]["totalCount"] == expected
    assert result["data"]["persoon"]["zaken"]["totalCount"] == expected
    calls = gateway.calls("zaken")
    assert calls
    assert all(bsn not in c["query"] and bsn not in c["path"] for c in calls)
    assert all(c["method"] == "POST" for c in calls)


async def test_an_invalid_uuid_never_spoils_a_batch(gateway: Gateway, demo: Municipal) -> None:
    zaak = next(iter(demo.data.zaken.values()))
    bad = await gateway.query('{ zaak(uuid: "ZAAK-1") { uuid } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    both = await gateway.query('query($ok: ID, $odd: String) { a: zaak(uuid: $ok) { identificatie } '
                               'b: zaak(url: $odd) { identificatie } }',
                               {"ok": zaak.uuid, "odd": demo.urls["zaken"] + "/zaken/ZAAK-1"})
    assert both["data"] == {"a": {"identificatie": zaak.identificatie}, "b": None}
    assert "errors" not in both


async def test_statistics_agree_with_the_data(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ zakenStatistiek(groepeerOp: [ZAAKTYPE, OPEN]) { totaal groepen "
                                 "{ zaaktype open aantal gemiddeldeDoorlooptijdDagen } } }")
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["zakenStatistiek"]
    assert stats["totaal"] == len(demo.data.zaken)
    expected = Counter((demo.data.zaaktype(z.zaaktype_uuid).omschrijving, z.einddatum is None)
                       for z in demo.data.zaken.values())
    assert {(g["zaaktype"], g["open"]): g["aantal"] for g in stats["groepen"]} == dict(expected)
    # the names: one list of zaaktypen beside the scan, not one call per group after it
    assert [c["route"] for c in gateway.calls("catalogi")] == ["/catalogi/api/v1/zaaktypen"]


async def test_statistics_by_status_name_groups_without_extra_catalogi_calls(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ zakenStatistiek(groepeerOp: [STATUS]) { totaal groepen { status aantal } } }")
    assert "errors" not in result, result.get("errors")
    expected: Counter[str] = Counter()
    for zaak in demo.data.zaken.values():
        current = zaak.statussen[-1].statustype_uuid
        expected[next(s.omschrijving for zt in demo.data.catalogus.zaaktypen for s in zt.statustypen
                      if s.uuid == current)] += 1
    found: Counter[str] = Counter()
    for group in result["data"]["zakenStatistiek"]["groepen"]:
        found[group["status"]] += group["aantal"]
    assert found == expected
    assert not gateway.calls("catalogi")  # names came inline with the expanded statuses


async def test_statistics_keep_their_counts_when_catalogi_fails(demo: Municipal) -> None:
    # Catalogi shares the ZGW host with Zaken in the demo, so the simulator cannot fail it alone: a mock
    # transport stands in for a Catalogi that answers 503.
    from graph.app import create_app
    from graph.config import from_mapping
    from graph.source import Source, Sources

    config = from_mapping(demo.config, {})
    sources = {name: Source(cfg) for name, cfg in config.sources.items() if name != "catalogi"}
    sources["catalogi"] = Source(config.sources["catalogi"],
                                 transport=httpx.MockTransport(lambda request: httpx.Response(503)))
    app = create_app(config, sources=Sources(sources))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        result = (await client.post("/graphql", json={
            "query": "{ zakenStatistiek(groepeerOp: [ZAAKTYPE]) { totaal groepen { zaaktype aantal } } }"})).json()
    await app.state.sources.aclose()
    stats = result["data"]["zakenStatistiek"]
    assert stats["totaal"] == len(demo.data.zaken)
    assert sum(g["aantal"] for g in stats["groepen"]) == len(demo.data.zaken)
    assert all(g["zaaktype"] is None for g in stats["groepen"])
    assert len(result["errors"]) == len(stats["groepen"])
    assert {e["extensions"]["source"] for e in result["errors"]} == {"catalogi"}
    assert all(e["path"][-1] == "zaaktype" for e in result["errors"])


async def test_eigenschappen_cost_nothing_when_a_zaak_has_none(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ zaken(first: 10) { nodes { eigenschappen { naam waarde } } } }")
    assert all(n["eigenschappen"] == [] for n in result["data"]["zaken"]["nodes"])  # the demo has none
    assert len(gateway.calls("zaken")) == 1
