"""Objecten in the graph: agreement with the Objects API, objecttypes once per request, zaken batched,
checked data filters and partial answers."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from demo.runner import Municipal
from tests.conftest import Gateway

OBJECTEN = """
query($type: String, $attrs: [String!], $first: Int) {
  objecten(first: $first, objecttype: $type, dataAttr: $attrs) { totalCount
    nodes { url uuid data startAt registrationAt objecttype { url name namePlural }
            geometrie { type coordinates lat lon } zaken { uuid identificatie } } } }
"""


async def received(demo: Municipal, source: str) -> list[dict[str, Any]]:
    """Requests ``source`` received since the last reset, as its simulator reports them over HTTP (which
    orders the read after the simulator recorded the gateway's last request)."""
    parts = urlsplit(demo.urls[source])
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"{parts.scheme}://{parts.netloc}/_demo/requests")).json()
    return [r for r in body["recent"] if r["path"].startswith(parts.path + "/")]


def routes(calls: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{c['method']} {c['route']}" for c in calls)


def duplicates(calls: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    keys = Counter((c["method"], c["path"], c["query"], repr(c["body"])) for c in calls)
    return [k for k, n in keys.items() if n > 1]


async def rest(demo: Municipal, path: str, params: dict[str, str] | None = None) -> Any:
    token = demo.config["sources"]["objecten"]["token"]
    async with httpx.AsyncClient(headers={"Authorization": f"Token {token}", "Accept-Crs": "EPSG:4326"}) as client:
        response = await client.get(demo.urls["objecten"] + path, params=params or {})
        response.raise_for_status()
        return response.json()


def type_named(demo: Municipal, name: str) -> Any:
    return next(t for t in demo.data.objecttypen.values() if t.name == name)


def referring_zaken(demo: Municipal) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for zaak in demo.data.zaken.values():
        for zo in zaak.zaakobjecten:
            if zo.object_uuid:
                found.setdefault(zo.object_uuid, set()).add(zaak.uuid)
    return found


async def test_objecten_of_a_type_by_name_agree_and_are_batched(gateway: Gateway, demo: Municipal) -> None:
    boom = type_named(demo, "Boom")
    gateway.reset_counts()
    result = await gateway.query(OBJECTEN, {"type": "Boom", "first": 50})
    assert "errors" not in result, result.get("errors")
    conn = result["data"]["objecten"]
    calls = await received(demo, "objecten")
    assert routes(calls) == Counter({"GET /api/v2/objecttypes": 1, "GET /api/v2/objects": 1})
    zoek = [c for c in await received(demo, "zaken") if c["route"] == "/zaken/api/v1/zaken/_zoek"]
    references = referring_zaken(demo)
    assert len(zoek) == (1 if any(n["uuid"] in references for n in conn["nodes"]) else 0)
    listing = await rest(demo, "/objects", {"type": f"{demo.urls['objecten']}/objecttypes/{boom.uuid}",
                                            "pageSize": "50"})
    assert conn["totalCount"] == listing["count"]
    assert [n["uuid"] for n in conn["nodes"]] == [o["uuid"] for o in listing["results"]]
    for node, body in zip(conn["nodes"], listing["results"], strict=True):
        obj = demo.data.objecten[node["uuid"]]
        assert node["url"] == body["url"]
        assert node["data"] == body["record"]["data"] == obj.data
        assert node["startAt"] == obj.start_at.isoformat()
        assert node["registrationAt"] == obj.registration_at.isoformat()
        assert node["objecttype"] == {"url": body["type"], "name": "Boom", "namePlural": "Bomen"}
        assert node["geometrie"]["type"] == "Point"
        assert node["geometrie"]["coordinates"] == body["record"]["geometry"]["coordinates"]
        assert (node["geometrie"]["lat"], node["geometrie"]["lon"]) == obj.wgs84
        assert {z["uuid"] for z in node["zaken"]} == references.get(obj.uuid, set())
        for zaak in node["zaken"]:
            assert zaak["identificatie"] == demo.data.zaken[zaak["uuid"]].identificatie


async def test_each_objecttype_is_fetched_once(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ objecten(first: 60) { nodes { objecttype { name } } } }")
    assert "errors" not in result, result.get("errors")
    names = {n["objecttype"]["name"] for n in result["data"]["objecten"]["nodes"]}
    calls = await received(demo, "objecten")
    assert routes(calls)["GET /api/v2/objecttypes/{uuid}"] == len(names) == 2
    assert not duplicates(calls)


async def test_objecttype_by_url_and_data_attr_filters(gateway: Gateway, demo: Municipal) -> None:
    lamp = type_named(demo, "Lantaarnpaal")
    lamp_url = f"{demo.urls['objecten']}/objecttypes/{lamp.uuid}"
    gateway.reset_counts()
    result = await gateway.query(
        "query($type: String, $attrs: [String!]) { objecten(first: 100, objecttype: $type, dataAttr: $attrs) {"
        " totalCount nodes { uuid data } } }",
        {"type": lamp_url, "attrs": ["vermogen__gte__35", "lamptype__in__LED|PL"]})
    assert "errors" not in result, result.get("errors")
    expected = {o.uuid for o in demo.data.objecten.values() if o.objecttype_uuid == lamp.uuid
                and int(str(o.data["vermogen"])) >= 35 and o.data["lamptype"] in ("LED", "PL")}
    assert {n["uuid"] for n in result["data"]["objecten"]["nodes"]} == expected
    assert result["data"]["objecten"]["totalCount"] == len(expected)
    [call] = await received(demo, "objecten")
    query = parse_qs(call["query"])
    assert query["type"] == [lamp_url]
    assert query["data_attr"] == ["vermogen__gte__35", "lamptype__in__LED|PL"]


async def test_object_by_uuid_and_paging(gateway: Gateway, demo: Municipal) -> None:
    obj = next(iter(demo.data.objecten.values()))
    result = await gateway.query("query($uuid: ID!) { object(uuid: $uuid) { uuid data objecttype { name } } }",
                                 {"uuid": obj.uuid})
    body = await rest(demo, f"/objects/{obj.uuid}")
    assert result["data"]["object"]["data"] == body["record"]["data"]
    assert result["data"]["object"]["objecttype"]["name"] == demo.data.objecttypen[obj.objecttype_uuid].name
    missing = await gateway.query('{ object(uuid: "00000000-0000-4000-8000-000000000000") { uuid } }')
    assert missing == {"data": {"object": None}}
    seen: list[str] = []
    after = None
    for _ in range(3):
        page = await gateway.query("query($after: String) { objecten(first: 9, after: $after) {"
                                   " pageInfo { endCursor } nodes { uuid } } }", {"after": after})
        seen.extend(n["uuid"] for n in page["data"]["objecten"]["nodes"])
        after = page["data"]["objecten"]["pageInfo"]["endCursor"]
    listing = await rest(demo, "/objects", {"pageSize": "27"})
    assert seen == [o["uuid"] for o in listing["results"]]


async def test_zaakobject_links_to_the_object(gateway: Gateway, demo: Municipal) -> None:
    zaak = next(z for z in demo.data.zaken.values() if any(zo.object_uuid for zo in z.zaakobjecten))
    wanted = {zo.object_uuid for zo in zaak.zaakobjecten if zo.object_uuid}
    result = await gateway.query(
        "query($uuid: ID!) { zaak(uuid: $uuid) { zaakobjecten {"
        " object { uuid objecttype { name } zaken { uuid } } } } }",
        {"uuid": zaak.uuid})
    assert "errors" not in result, result.get("errors")
    objects = [zo["object"] for zo in result["data"]["zaak"]["zaakobjecten"] if zo["object"]]
    assert {o["uuid"] for o in objects} == wanted
    assert all(zaak.uuid in {z["uuid"] for z in o["zaken"]} for o in objects)


async def test_bad_arguments_are_refused_before_any_object_call(gateway: Gateway, demo: Municipal) -> None:
    cases = (
        ('{ objecten(dataAttr: ["hoogte"]) { totalCount } }', "key__operator__value"),
        ('{ objecten(dataAttr: ["hoogte__like__3"]) { totalCount } }', "operator"),
        ('{ objecten(dataAttr: ["hoogte__gt__hoog"]) { totalCount } }', "numbers and dates"),
        ('{ objecten(dataAttr: ["a,b__exact__1"]) { totalCount } }', "commas"),
        ('{ objecten(objecttype: "Walvis") { totalCount } }', "Unknown objecttype"),
        ('{ objecten(first: 101) { totalCount } }', "first"),
        ('{ object(uuid: "boom-1") { uuid } }', "UUID"),
    )
    gateway.reset_counts()
    for query, needle in cases:
        result = await gateway.query(query)
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert needle in error["message"], error
    assert "GET /api/v2/objects" not in routes(await received(demo, "objecten"))


async def test_failing_sources_give_partial_data(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["zaken"].behaviour.update({"error_rate": 1.0})
    references = referring_zaken(demo)
    result = await gateway.query("{ objecten(first: 100) { nodes { uuid data zaken { uuid } } } }")
    nodes = result["data"]["objecten"]["nodes"]
    assert len(nodes) == min(100, len(demo.data.objecten))
    assert all(n["data"] for n in nodes)
    failed = {i for i, n in enumerate(nodes) if n["uuid"] in references}
    assert failed
    assert {i for i, n in enumerate(nodes) if n["zaken"] is None} == failed
    assert {tuple(e["path"]) for e in result["errors"]} == {("objecten", "nodes", i, "zaken") for i in failed}
    assert all(e["extensions"] == {"code": "UPSTREAM_ERROR", "source": "zaken", "status": 503}
               for e in result["errors"])

    demo.simulators["zaken"].behaviour.update({"error_rate": 0.0})
    demo.simulators["objecten"].behaviour.update({"error_rate": 1.0, "error_status": 500})
    result = await gateway.query("{ objecten { totalCount } zaken(first: 1) { totalCount } }")
    assert result["data"]["objecten"] == {"totalCount": None}
    assert result["data"]["zaken"]["totalCount"] == len(demo.data.zaken)
    [error] = result["errors"]
    assert error["path"] == ["objecten", "totalCount"]
    assert error["extensions"] == {"code": "UPSTREAM_ERROR", "source": "objecten", "status": 500}
