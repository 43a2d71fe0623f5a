"""Open Klant in the graph: agreement with the Klantinteracties API, expand-driven batching, errors."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from demo.runner import Municipal
from tests.conftest import Gateway

KLANTCONTACTEN = """
{ klantcontacten(first: 20) { totalCount nodes { uuid nummer kanaal onderwerp indicatieContactGelukt
  plaatsgevondenOp partijen { uuid naam bsn } zaak { uuid identificatie } } } }
"""


def token_headers(demo: Municipal) -> dict[str, str]:
    return {"Authorization": f"Token {demo.config['sources']['klantinteracties']['token']}"}


def duplicates(calls: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    keys = Counter((c["method"], c["path"], c["query"], repr(c["body"])) for c in calls)
    return [k for k, n in keys.items() if n > 1]


async def received(demo: Municipal, source: str) -> list[dict[str, Any]]:
    """Requests ``source`` received since the last reset, as its simulator reports them over HTTP.

    Asking the simulator (rather than reading its deque from this thread) orders the read after the
    simulator has recorded the gateway's last request, which it does only after answering it.
    """
    parts = urlsplit(demo.urls[source])
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{parts.scheme}://{parts.netloc}/_demo/requests")).json()
    return [r for r in body["recent"] if r["path"].startswith(parts.path + "/")]


async def zoek_count(demo: Municipal) -> int:
    return sum(1 for c in await received(demo, "zaken") if c["route"] == "/zaken/api/v1/zaken/_zoek")


def query_of(call: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(call["query"])


async def rest(demo: Municipal, path: str, **params: str) -> Any:
    async with httpx.AsyncClient(headers=token_headers(demo)) as client:
        response = await client.get(demo.urls["klantinteracties"] + path, params=params)
        response.raise_for_status()
        return response.json()


def partij_with_contacts_and_address(demo: Municipal) -> Any:
    with_contacts = {kc.partij_uuid for kc in demo.data.klantcontacten.values() if kc.zaak_uuid}
    return next(p for p in demo.data.partijen.values()
                if p.uuid in with_contacts and p.nummeraanduiding_id in demo.data.nummeraanduidingen)


async def test_klantcontacten_with_partij_and_zaak_cost_constant_calls(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query(KLANTCONTACTEN)
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["klantcontacten"]["nodes"]
    assert len(nodes) == 20
    assert result["data"]["klantcontacten"]["totalCount"] == len(demo.data.klantcontacten)
    calls = await received(demo, "klantinteracties")
    assert len(calls) == 1
    expand = query_of(calls[0])["expand"][0].split(",")
    assert set(expand) == {"hadBetrokkenen", "hadBetrokkenen.wasPartij", "gingOverOnderwerpobjecten"}
    zoek = await zoek_count(demo)
    assert zoek == 1 if any(n["zaak"] for n in nodes) else zoek == 0
    assert not duplicates(await received(demo, "zaken"))
    for node in nodes:
        kc = demo.data.klantcontacten[node["uuid"]]
        partij = demo.data.partijen[kc.partij_uuid]
        assert (node["nummer"], node["kanaal"], node["onderwerp"]) == (kc.nummer, kc.kanaal, kc.onderwerp)
        assert node["indicatieContactGelukt"] == kc.indicatie_contact_gelukt
        assert [p["uuid"] for p in node["partijen"]] == [partij.uuid]
        assert node["partijen"][0]["bsn"] == partij.bsn
        assert (node["zaak"] or {}).get("uuid") == kc.zaak_uuid
        if kc.zaak_uuid:
            assert node["zaak"]["identificatie"] == demo.data.zaken[kc.zaak_uuid].identificatie


async def test_scalar_selection_asks_for_no_expand(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ klantcontacten(first: 5) { nodes { uuid onderwerp } } }")
    assert "errors" not in result
    calls = await received(demo, "klantinteracties")
    assert len(calls) == 1
    assert "expand" not in query_of(calls[0])


async def test_partij_agrees_with_open_klant_and_links_out(gateway: Gateway, demo: Municipal) -> None:
    p = partij_with_contacts_and_address(demo)
    gateway.reset_counts()
    result = await gateway.query(
        """query($uuid: ID!) { partij(uuid: $uuid) { uuid nummer soortPartij naam bsn
             bezoekadres { adresregels nummeraanduidingIdentificatie adres { postcode huisnummer } }
             persoon { burgerservicenummer naam { geslachtsnaam } }
             klantcontacten { uuid onderwerp } } }""", {"uuid": p.uuid})
    assert "errors" not in result, result.get("errors")
    partij = result["data"]["partij"]
    calls = await received(demo, "klantinteracties")
    assert len(calls) == 1  # the contacts came inline (expand=betrokkenen.hadKlantcontact)
    assert query_of(calls[0])["expand"] == ["betrokkenen,betrokkenen.hadKlantcontact"]
    body = await rest(demo, f"/partijen/{p.uuid}")
    assert (partij["nummer"], partij["soortPartij"]) == (body["nummer"], body["soortPartij"])
    assert partij["naam"] == body["partijIdentificatie"]["volledigeNaam"]
    assert partij["bsn"] == p.bsn
    adres = body["bezoekadres"]
    assert partij["bezoekadres"]["adresregels"] == [adres["adresregel1"], adres["adresregel2"]]
    assert partij["bezoekadres"]["nummeraanduidingIdentificatie"] == adres["nummeraanduidingId"]
    na = demo.data.nummeraanduidingen[p.nummeraanduiding_id]
    assert partij["bezoekadres"]["adres"]["postcode"] == na.postcode
    assert partij["bezoekadres"]["adres"]["huisnummer"] == na.huisnummer
    assert partij["persoon"]["burgerservicenummer"] == p.bsn
    assert partij["persoon"]["naam"]["geslachtsnaam"] == demo.data.personen[p.bsn].geslachtsnaam
    expected = sorted(kc.uuid for kc in demo.data.klantcontacten.values() if kc.partij_uuid == p.uuid)
    assert sorted(k["uuid"] for k in partij["klantcontacten"]) == expected


async def test_partijen_by_bsn_and_paging(gateway: Gateway, demo: Municipal) -> None:
    p = next(iter(demo.data.partijen.values()))
    result = await gateway.query('query($bsn: String) { partijen(bsn: $bsn) { totalCount nodes { uuid bsn } } }',
                                 {"bsn": p.bsn})
    assert result["data"]["partijen"] == {"totalCount": 1, "nodes": [{"uuid": p.uuid, "bsn": p.bsn}]}
    seen: list[str] = []
    after = None
    for _ in range(3):
        page = await gateway.query(
            "query($after: String) { partijen(first: 7, after: $after) { pageInfo { endCursor hasNextPage }"
            " nodes { uuid } } }", {"after": after})
        conn = page["data"]["partijen"]
        seen.extend(n["uuid"] for n in conn["nodes"])
        after = conn["pageInfo"]["endCursor"]
    listed = [r["uuid"] for r in (await rest(demo, "/partijen", pageSize="21"))["results"]]
    assert seen == listed


async def test_klantcontacten_of_a_partij_with_zaak_use_one_list_per_partij(gateway: Gateway,
                                                                             demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ partijen(first: 5) { nodes { uuid klantcontacten { uuid zaak { uuid } } } } }")
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["partijen"]["nodes"]
    calls = await received(demo, "klantinteracties")
    assert len(calls) == 1 + len(nodes)
    assert not duplicates(calls)
    assert await zoek_count(demo) <= 1
    for node in nodes:
        expected = {kc.uuid: kc.zaak_uuid for kc in demo.data.klantcontacten.values() if kc.partij_uuid == node["uuid"]}
        assert {k["uuid"]: (k["zaak"] or {}).get("uuid") for k in node["klantcontacten"]} == expected


async def test_zaak_klantcontacten_and_persoon_klantcontacten(gateway: Gateway, demo: Municipal) -> None:
    kc = next(k for k in demo.data.klantcontacten.values() if k.zaak_uuid)
    p = demo.data.partijen[kc.partij_uuid]
    gateway.reset_counts()
    result = await gateway.query(
        """query($zaak: ID!, $bsn: String!) {
             zaak(uuid: $zaak) { klantcontacten { uuid partijen { bsn } } }
             persoon(burgerservicenummer: $bsn) { klantcontacten { uuid onderwerp } } }""",
        {"zaak": kc.zaak_uuid, "bsn": p.bsn})
    assert "errors" not in result, result.get("errors")
    over_zaak = {k.uuid for k in demo.data.klantcontacten.values() if k.zaak_uuid == kc.zaak_uuid}
    assert {k["uuid"] for k in result["data"]["zaak"]["klantcontacten"]} == over_zaak
    assert all(k["partijen"] for k in result["data"]["zaak"]["klantcontacten"])
    van = {k.uuid for k in demo.data.klantcontacten.values() if k.partij_uuid == p.uuid}
    assert {k["uuid"] for k in result["data"]["persoon"]["klantcontacten"]} == van
    calls = await received(demo, "klantinteracties")
    assert len(calls) == 2  # one list per reverse link
    by_bsn = next(c for c in calls if c["path"].endswith("/partijen"))
    assert query_of(by_bsn)["partijIdentificator__objectId"] == [p.bsn]


async def test_persoon_klantcontacten_with_zaak_is_still_one_call(gateway: Gateway, demo: Municipal) -> None:
    kc = next(k for k in demo.data.klantcontacten.values() if k.zaak_uuid)
    p = demo.data.partijen[kc.partij_uuid]
    gateway.reset_counts()
    result = await gateway.query(
        "query($bsn: String!) { persoon(burgerservicenummer: $bsn) { klantcontacten { uuid zaak { uuid } } } }",
        {"bsn": p.bsn})
    assert "errors" not in result, result.get("errors")
    got = {k["uuid"]: (k["zaak"] or {}).get("uuid") for k in result["data"]["persoon"]["klantcontacten"]}
    assert got == {k.uuid: k.zaak_uuid for k in demo.data.klantcontacten.values() if k.partij_uuid == p.uuid}
    assert len(await received(demo, "klantinteracties")) == 1


async def test_klantcontact_by_uuid(gateway: Gateway, demo: Municipal) -> None:
    kc = next(k for k in demo.data.klantcontacten.values() if k.zaak_uuid)
    result = await gateway.query(
        "query($uuid: ID!) { klantcontact(uuid: $uuid) { uuid inhoud plaatsgevondenOp partijen { uuid } "
        "zaak { uuid } } }",
        {"uuid": kc.uuid})
    body = await rest(demo, f"/klantcontacten/{kc.uuid}")
    node = result["data"]["klantcontact"]
    assert node["inhoud"] == body["inhoud"]
    assert node["plaatsgevondenOp"] == body["plaatsgevondenOp"]
    assert node["partijen"] == [{"uuid": kc.partij_uuid}]
    assert node["zaak"] == {"uuid": kc.zaak_uuid}
    missing = await gateway.query('{ klantcontact(uuid: "00000000-0000-4000-8000-000000000000") { uuid } }')
    assert missing == {"data": {"klantcontact": None}}


async def test_bad_arguments_are_refused(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    for query, needle in (('{ partij(uuid: "nope") { uuid } }', "uuid"),
                          ('{ partijen(bsn: "12") { nodes { uuid } } }', "bsn"),
                          ('{ klantcontacten(first: 500) { nodes { uuid } } }', "first"),
                          ('{ klantcontacten(after: "???") { nodes { uuid } } }', "cursor")):
        result = await gateway.query(query)
        error = result["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert needle in error["message"], error
    assert await received(demo, "klantinteracties") == []


async def test_failing_zaken_nulls_only_the_zaak(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["zaken"].behaviour.update({"error_rate": 1.0})
    result = await gateway.query("{ klantcontacten(first: 20) { nodes { uuid onderwerp zaak { uuid } } } }")
    nodes = result["data"]["klantcontacten"]["nodes"]
    assert len(nodes) == 20
    assert all(n["onderwerp"] for n in nodes)
    over_zaak = [i for i, n in enumerate(nodes) if demo.data.klantcontacten[n["uuid"]].zaak_uuid]
    assert over_zaak
    assert all(nodes[i]["zaak"] is None for i in over_zaak)
    assert {tuple(e["path"]) for e in result["errors"]} == {("klantcontacten", "nodes", i, "zaak") for i in over_zaak}
    assert all(e["extensions"] == {"code": "UPSTREAM_ERROR", "source": "zaken", "status": 503}
               for e in result["errors"])


async def test_failing_open_klant_gives_partial_data(gateway: Gateway, demo: Municipal) -> None:
    p = partij_with_contacts_and_address(demo)
    result = await gateway.query("query($uuid: ID!) { partij(uuid: $uuid) { nummer klantcontacten { uuid } } }",
                                 {"uuid": p.uuid})
    assert result["data"]["partij"]["klantcontacten"]
    demo.simulators["klantinteracties"].behaviour.update({"error_rate": 1.0})
    result = await gateway.query(
        "query($bsn: String!) { persoon(burgerservicenummer: $bsn) { burgerservicenummer } "
        "klantcontacten(first: 3) { nodes { uuid } } }", {"bsn": p.bsn})
    assert result["data"] == {"persoon": {"burgerservicenummer": p.bsn}, "klantcontacten": {"nodes": None}}
    [error] = result["errors"]
    assert error["path"] == ["klantcontacten", "nodes"]
    assert error["extensions"] == {"code": "UPSTREAM_ERROR", "source": "klantinteracties", "status": 503}


async def test_a_person_s_partij_in_open_klant(gateway, demo) -> None:
    partij = next(iter(demo.data.partijen.values()))
    result = await gateway.query('query($b: String!) { persoon(burgerservicenummer: $b) { partijen { uuid nummer } } }',
                                 {"b": partij.bsn})
    assert result["data"]["persoon"]["partijen"] == [{"uuid": partij.uuid, "nummer": partij.nummer}]
