"""The Objects API 4.0 simulator (objects and the objecttypes it now serves) against OAS 2.7.0."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from demo.model import Municipality, Object
from demo.objecten import ObjectenSimulator
from demo.runner import Municipal
from demo.simulator import load_config
from tests.oas import assert_conforms, without_nulls

SPEC = "objecten/objects-api/openapi.yaml"
GEO = {"Content-Crs": "EPSG:4326"}
# The API answers null where OAS 2.7.0 declares a plain integer (drf-spectacular missed the nullable):
# a record that corrects nothing and is corrected by nothing. The simulator keeps the null.
NULL_IN_PRACTICE = frozenset({"correctionFor", "correctedBy"})


@pytest.fixture
def client(demo: Municipal) -> Iterator[httpx.Client]:
    token = demo.config["sources"]["objecten"]["token"]
    with httpx.Client(base_url=demo.urls["objecten"], headers={"Authorization": f"Token {token}"}) as c:
        yield c


def conforms(spec_path: str, method: str, response: httpx.Response) -> None:
    """The response matches the OAS, apart from the nulls the real API gives where the OAS forgot them."""
    cleaned = httpx.Response(response.status_code, headers={"content-type": response.headers["content-type"]},
                             json=without_nulls(response.json(), NULL_IN_PRACTICE))
    assert_conforms(SPEC, spec_path, method, cleaned)


def get(client: httpx.Client, path: str, spec_path: str | None = None, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["API-version"] == "2.7.0"
    if spec_path:
        conforms(spec_path, "get", response)
    body: dict[str, Any] = response.json()
    return body


def objects(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    body = get(client, "/objects", pageSize=500, **params)
    results: list[dict[str, Any]] = body["results"]
    assert body["count"] == len(results)
    return results


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert "/ref/fouten/" in body["type"]
    assert body["instance"].startswith("urn:uuid:")
    return body


def invalid(response: httpx.Response) -> dict[str, Any]:
    """A 400 of the Objects API: DRF's plain renderer keeps vng-api-common's snake_case key."""
    body = problem(response, 400, "invalid")
    assert "invalidParams" not in body
    param: dict[str, Any] = body["invalid_params"][0]
    return param


def num(o: Object, key: str) -> float:
    value = o.data[key]
    assert isinstance(value, (int, float))
    return value


def uuids(results: list[dict[str, Any]]) -> set[str]:
    return {r["uuid"] for r in results}


def of_type(data: Municipality, name: str) -> list[Object]:
    otype = next(t for t in data.objecttypen.values() if t.name == name)
    return [o for o in data.objecten.values() if o.objecttype_uuid == otype.uuid]


# --- authentication and CRS ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/objects", "/objecttypes"])
@pytest.mark.parametrize(("header", "code", "detail"), [
    (None, "not_authenticated", "Authentication credentials were not provided."),
    ("Token 12345", "authentication_failed", "Invalid token."),
])
def test_token_refusals(demo: Municipal, path: str, header: str | None, code: str, detail: str) -> None:
    response = httpx.get(demo.urls["objecten"] + path, headers={"Authorization": header} if header else {})
    assert problem(response, 401, code)["detail"] == detail
    assert response.headers["WWW-Authenticate"] == "Token"


def test_crs_negotiation(client: httpx.Client, municipality: Municipality) -> None:
    some = next(iter(municipality.objecten))
    assert client.get(f"/objects/{some}", headers={"Accept-Crs": "EPSG:4326"}).headers["Content-Crs"] == "EPSG:4326"
    problem(client.get(f"/objects/{some}", headers={"Accept-Crs": "EPSG:28992"}), 406, "not_acceptable")
    # a search is a POST: without Content-Crs it is a 412, with another CRS a 406
    assert problem(client.post("/objects/search", json={}), 412, "precondition_failed")["detail"] == (
        "'Content-Crs' header ontbreekt")
    problem(client.post("/objects/search", json={}, headers={"Content-Crs": "EPSG:28992"}), 406, "not_acceptable")
    assert "Content-Crs" not in client.get("/objecttypes").headers


# --- objects ------------------------------------------------------------------------------------------


def test_list_shows_actual_objects_newest_first(client: httpx.Client, municipality: Municipality) -> None:
    body = get(client, "/objects", "/objects", pageSize=500)
    assert body["count"] == len(municipality.objecten)
    assert [r["uuid"] for r in body["results"]] == list(municipality.objecten)[::-1]
    assert client.get("/objects").headers["Content-Crs"] == "EPSG:4326"


def test_object_detail_is_consistent_with_the_model(client: httpx.Client, demo: Municipal,
                                                    municipality: Municipality) -> None:
    obj = next(o for o in municipality.objecten.values() if o.zaak_uuids)
    body = get(client, f"/objects/{obj.uuid}", "/objects/{uuid}")
    lat, lon = obj.wgs84
    assert body["record"]["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
    assert body["record"]["data"] == obj.data
    assert body["record"]["startAt"] == obj.start_at.isoformat()
    assert body["record"]["correctedBy"] is None  # null although the OAS says integer
    zaak_urls = {f"{demo.urls['zaken']}/zaken/{z}" for z in obj.zaak_uuids}
    assert {r["url"] for r in body["record"]["references"] if r["type"] == "zaak"} == zaak_urls
    assert all(z in municipality.zaken for z in obj.zaak_uuids)
    # the type URL points at this same API since 4.0
    otype = client.get(urlsplit(body["type"]).path.split("/api/v2", 1)[1]).json()
    assert otype["uuid"] == obj.objecttype_uuid


def test_type_filter(client: httpx.Client, municipality: Municipality, demo: Municipal) -> None:
    bomen = of_type(municipality, "Boom")
    type_url = f"{demo.urls['objecten']}/objecttypes/{bomen[0].objecttype_uuid}"
    assert uuids(objects(client, type=type_url)) == {o.uuid for o in bomen}
    assert invalid(client.get("/objects", params={"type": "invalid-objecttype-url"})) == {
        "name": "type", "code": "invalid", "reason": "Invalid value."}
    unknown = f"{demo.urls['objecten']}/objecttypes/00000000-0000-4000-8000-000000000000"
    assert invalid(client.get("/objects", params={"type": unknown}))["code"] == "invalid_choice"
    assert objects(client, typeVersion=1)
    assert not objects(client, typeVersion=2)


def test_data_attr_operators_follow_jsonb(client: httpx.Client, municipality: Municipality) -> None:
    bomen, lampen = of_type(municipality, "Boom"), of_type(municipality, "Lantaarnpaal")
    boom = bomen[0]
    assert uuids(objects(client, data_attr=f"boomnummer__exact__{boom.data['boomnummer']}")) == {boom.uuid}
    # exact matches numbers numerically (70 == 70.0); icontains searches a number's text
    assert uuids(objects(client, data_attr="vermogen__exact__70")) == {
        o.uuid for o in lampen if o.data["vermogen"] == 70}
    assert uuids(objects(client, data_attr="vermogen__icontains__7")) == {
        o.uuid for o in lampen if "7" in str(o.data["vermogen"])}
    assert uuids(objects(client, data_attr="hoogte__gte__12.5")) == {o.uuid for o in bomen if num(o, "hoogte") >= 12.5}
    assert uuids(objects(client, data_attr="lamptype__in__LED|PL")) == {
        o.uuid for o in lampen if o.data["lamptype"] in {"LED", "PL"}}
    # repeated expressions all apply; the deprecated comma form too; a nested key that is absent matches nothing
    both = {o.uuid for o in bomen if num(o, "hoogte") > 10 and num(o, "plantjaar") < 1990}
    assert uuids(objects(client, data_attr=["hoogte__gt__10", "plantjaar__lt__1990"])) == both
    assert uuids(objects(client, data_attrs="hoogte__gt__10,plantjaar__lt__1990")) == both
    assert objects(client, data_attr="hoogte__cm__exact__4") == []


@pytest.mark.parametrize(("param", "value", "reason"), [
    ("data_attr", "hoogte__exact", "Filter expression 'hoogte__exact' doesn't have the shape 'key__operator__value'"),
    ("data_attr", "hoogte__not__4", "Comparison operator `not` is unknown"),
    ("data_attr", "soort__gt__eik", "Operator `gt` supports only dates and/or numeric values"),
    ("data_attr", "a__exact__1,b__exact__2", "Filter expression 'a__exact__1,b__exact__2' must have the shape "
                                             "'key__operator__value', commas can only be present in the 'value'"),
    ("data_attrs", "hoogte__gt__4,soort", "Filter expression 'soort' doesn't have the shape 'key__operator__value'"),
])
def test_malformed_data_attr_is_400_without_a_name(client: httpx.Client, param: str, value: str, reason: str) -> None:
    error = invalid(client.get("/objects", params={param: value}))
    assert error == {"name": "", "code": f"invalid-{param.replace('_', '-')}-query", "reason": reason}


def test_data_icontains_is_a_regex_over_strings(client: httpx.Client, municipality: Municipality) -> None:
    assert uuids(objects(client, data_icontains="QUERCUS")) == {
        o.uuid for o in municipality.objecten.values() if o.data.get("soort") == "Quercus robur"}
    assert uuids(objects(client, data_icontains="^l0000")) == {
        o.uuid for o in municipality.objecten.values() if str(o.data.get("paalnummer", "")).startswith("L0000")}
    assert objects(client, data_icontains="^70$") == []  # numbers are not searched


def test_material_and_formal_dates(client: httpx.Client, municipality: Municipality) -> None:
    day = sorted(o.start_at for o in municipality.objecten.values())[len(municipality.objecten) // 2]
    assert uuids(objects(client, date=day.isoformat())) == {
        o.uuid for o in municipality.objecten.values() if o.start_at <= day}
    assert uuids(objects(client, registrationDate=day.isoformat())) == {
        o.uuid for o in municipality.objecten.values() if o.registration_at <= day}
    assert objects(client, date="1999-01-01") == []
    error = invalid(client.get("/objects", params={"date": day.isoformat(), "registrationDate": day.isoformat()}))
    assert error["name"] == ""
    assert error["code"] == "invalid-date-query-params"
    assert invalid(client.get("/objects", params={"date": "2020-02-30"}))["name"] == "date"
    first = min(municipality.objecten.values(), key=lambda o: o.start_at)
    later = next(o for o in municipality.objecten.values() if o.start_at > first.start_at)
    problem(client.get(f"/objects/{later.uuid}", params={"date": first.start_at.isoformat()}), 404, "not_found")


def test_ordering(client: httpx.Client, municipality: Municipality) -> None:
    results = objects(client, ordering="record__data__hoogte")
    heights = [r["record"]["data"].get("hoogte") for r in results]
    trees = len(of_type(municipality, "Boom"))
    assert heights[:trees] == sorted(h for h in heights if h is not None)
    assert heights[trees:] == [None] * (len(heights) - trees)  # missing keys sort last ascending...
    descending = [r["record"]["data"].get("hoogte") for r in objects(client, ordering="-record__data__hoogte")]
    assert descending[: len(heights) - trees] == [None] * (len(heights) - trees)  # ...and first descending
    starts = [r["record"]["startAt"] for r in objects(client, ordering="-record__startAt,bogus")]
    assert starts == sorted(starts, reverse=True)


def test_fields_projection(client: httpx.Client, municipality: Municipality, demo: Municipal) -> None:
    results = objects(client, fields="uuid, record__geometry")
    assert all(set(r) == {"uuid", "record"} and set(r["record"]) == {"geometry"} for r in results)
    bomen = of_type(municipality, "Boom")
    type_url = f"{demo.urls['objecten']}/objecttypes/{bomen[0].objecttype_uuid}"
    numbers = objects(client, type=type_url, fields="record__data__boomnummer")
    assert {r["record"]["data"]["boomnummer"] for r in numbers} == {o.data["boomnummer"] for o in bomen}
    # a data key that a lamp lacks fails the whole list, as the glom projection does
    error = invalid(client.get("/objects", params={"fields": "record__data__boomnummer", "pageSize": 500}))
    assert error["reason"].startswith("'fields' query parameter has invalid or unauthorized values")


def test_paging(client: httpx.Client, municipality: Municipality) -> None:
    first = get(client, "/objects", pageSize=7, ordering="record__index")
    assert len(first["results"]) == 7
    assert urlsplit(first["next"]).query == "ordering=record__index&page=2&pageSize=7"
    second = client.get(first["next"]).json()
    assert urlsplit(second["previous"]).query == "ordering=record__index&pageSize=7"
    assert not uuids(first["results"]) & uuids(second["results"])
    assert problem(client.get("/objects", params={"page": 999}), 404, "not_found")["detail"] == "Invalid page."
    assert len(get(client, "/objects", pageSize=0)["results"]) == min(100, len(municipality.objecten))


def test_history_and_record(client: httpx.Client, municipality: Municipality) -> None:
    obj = next(iter(municipality.objecten.values()))
    history = get(client, f"/objects/{obj.uuid}/history", "/objects/{uuid}/history")
    assert [r["index"] for r in history["results"]] == [1]
    record = get(client, f"/objects/{obj.uuid}/1", "/objects/{uuid}/{index}")
    assert record["data"] == obj.data
    problem(client.get(f"/objects/{obj.uuid}/2"), 404, "not_found")
    problem(client.get(f"/objects/{obj.uuid}/een"), 404, "not_found")
    problem(client.get("/objects/00000000-0000-4000-8000-000000000000/history"), 404, "not_found")


# --- search ---------------------------------------------------------------------------------------------


def box(lon: float, lat: float, d: float) -> dict[str, Any]:
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def search(client: httpx.Client, body: Any, **params: Any) -> httpx.Response:
    return client.post("/objects/search", json=body, params=params, headers=GEO)


def test_geo_search_within_a_polygon(client: httpx.Client, municipality: Municipality) -> None:
    obj = next(iter(municipality.objecten.values()))
    lat, lon = obj.wgs84
    response = search(client, {"geometry": {"within": box(lon, lat, 0.0005)}})
    assert response.status_code == 200
    conforms("/objects/search", "post", response)
    assert response.headers["Content-Crs"] == "EPSG:4326"
    found = uuids(response.json()["results"])
    assert obj.uuid in found
    for other in municipality.objecten.values():
        olat, olon = other.wgs84
        assert (other.uuid in found) == (abs(olon - lon) < 0.0005 and abs(olat - lat) < 0.0005)


def test_search_body_filters_and_query_string_ordering(client: httpx.Client, municipality: Municipality,
                                                       demo: Municipal) -> None:
    lampen = of_type(municipality, "Lantaarnpaal")
    type_url = f"{demo.urls['objecten']}/objecttypes/{lampen[0].objecttype_uuid}"
    body = {"type": type_url, "data_attr": "vermogen__gte__35", "ordering": "record__data__paalnummer"}
    results = search(client, body, ordering="-record__data__paalnummer", pageSize=500).json()["results"]
    assert uuids(results) == {o.uuid for o in lampen if num(o, "vermogen") >= 35}
    numbers = [r["record"]["data"]["paalnummer"] for r in results]
    assert numbers == sorted(numbers, reverse=True)  # ordering comes from the query string, not the body


def test_search_refusals(client: httpx.Client) -> None:
    error = invalid(search(client, {"geometry": {"within": {"type": "Polygon", "coordinates": "here"}}}))
    assert error["name"] == "geometry.within"
    assert invalid(search(client, [1, 2]))["name"] == "nonFieldErrors"
    response = client.post("/objects/search", content=b"{", headers={**GEO, "Content-Type": "application/json"})
    problem(response, 400, "parse_error")
    response = client.post("/objects/search", content=b"{}", headers={**GEO, "Content-Type": "text/plain"})
    problem(response, 415, "unsupported_media_type")
    assert invalid(search(client, {"data_attr": "x__y"}))["code"] == "invalid-data-attr-query"


def test_routes_like_drf(client: httpx.Client) -> None:
    problem(client.get("/objects/search"), 405, "method_not_allowed")
    body = problem(client.get("/objects/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert body["title"] == body["detail"] == "Not found."
    problem(client.get("/objects/"), 404, "not_found")
    problem(client.delete("/objecttypes"), 405, "method_not_allowed")


# --- objecttypes ----------------------------------------------------------------------------------------


def test_objecttypes(client: httpx.Client, municipality: Municipality) -> None:
    listed = get(client, "/objecttypes", "/objecttypes")
    assert uuids(listed["results"]) == set(municipality.objecttypen)
    otype = next(iter(municipality.objecttypen.values()))
    detail = get(client, f"/objecttypes/{otype.uuid}", "/objecttypes/{uuid}")
    assert (detail["name"], detail["namePlural"], detail["allowGeometry"]) == (otype.name, otype.name_plural, True)
    versions = get(client, f"/objecttypes/{otype.uuid}/versions", "/objecttypes/{objecttype_uuid}/versions")
    assert [v["url"] for v in versions["results"]] == detail["versions"]
    version = get(client, f"/objecttypes/{otype.uuid}/versions/1", "/objecttypes/{objecttype_uuid}/versions/{version}")
    assert version["jsonSchema"] == otype.json_schema
    assert version["status"] == "published"
    problem(client.get(f"/objecttypes/{otype.uuid}/versions/2"), 404, "not_found")
    assert get(client, "/objecttypes", dataClassification="intern")["count"] == 0
    assert invalid(client.get("/objecttypes", params={"dataClassification": "geheim"}))["code"] == "invalid_choice"


def test_permissions(client: httpx.Client, municipality: Municipality) -> None:
    body = get(client, "/permissions", "/permissions")
    assert {p["type"].rsplit("/", 1)[1] for p in body["results"]} == set(municipality.objecttypen)


def test_actual_record_never_hides_generated_objects(municipality: Municipality) -> None:
    """The default date is today, but never before the data's registrations (a host clock may lag)."""
    sim = ObjectenSimulator(municipality, load_config(), {"objecten": "http://x/api/v2", "zaken": "http://z"})
    assert sim.today() >= max(o.registration_at for o in municipality.objecten.values())
    assert sim.today() >= dt.date.today()


def test_references_resolve_in_the_zaken_api(client: httpx.Client, demo: Municipal, municipality: Municipality) -> None:
    """A record's zaak reference is a Zaken API URL whose zaakobject points back at the object."""
    obj = next(o for o in municipality.objecten.values() if o.zaak_uuids)
    reference = get(client, f"/objects/{obj.uuid}")["record"]["references"][0]["url"]
    zaken = demo.config["sources"]["zaken"]
    claims = {"iss": zaken["client_id"], "client_id": zaken["client_id"], "iat": int(time.time()),
              "user_id": "test", "user_representation": "test"}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, zaken['secret'], algorithm='HS256')}",
               "Accept-Crs": "EPSG:4326"}
    zaak = httpx.get(reference, headers=headers)
    assert zaak.status_code == 200, zaak.text
    links = httpx.get(f"{demo.urls['zaken']}/zaakobjecten", params={"zaak": reference}, headers=headers).json()
    rows = links["results"] if isinstance(links, dict) else links
    assert f"{demo.urls['objecten']}/objects/{obj.uuid}" in {row["object"] for row in rows}
