"""Each simulator checks the requests it receives against the official document of the API it imitates.

A request the document forbids is refused in that API's own error body (by the handler where it refuses
anyway, else by the check) and is recorded under ``GET /_demo/requests``; a valid one is not. These tests
need the shared specs and skip, saying so, without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from demo import conformance
from demo.conformance import SHARED_SPECS, Incoming, Violation
from demo.runner import Municipal

pytestmark = pytest.mark.skipif(not SHARED_SPECS.is_dir(), reason=f"official specs not found at {SHARED_SPECS} "
                                "(set GEMEENTEGRAAF_SPECS): requests are not checked without them")

AGENT = "conformance-test/1"  # not the gateway's, so these deliberate requests never fail the session


def client_for(demo: Municipal, source: str, headers: dict[str, str] | None = None,
               cookies: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=demo.urls[source], headers={"User-Agent": AGENT, **(headers or {})},
                        cookies=cookies)


def recorded(demo: Municipal, source: str, path: str) -> list[dict[str, Any]]:
    """This test's violations at ``path`` (the last of them first), from the simulator's control plane."""
    parts = urlsplit(demo.urls[source])
    log = httpx.get(f"{parts.scheme}://{parts.netloc}/_demo/requests").json()
    assert log["violation_count"] >= len(log["violations"])
    return [v for v in reversed(log["violations"]) if v["user_agent"] == AGENT and v["path"] == path]


@pytest.fixture
def signalen(demo: Municipal) -> Iterator[httpx.Client]:
    token = demo.config["sources"]["signalen"]["token"]
    with client_for(demo, "signalen", {"Authorization": f"Bearer {token}"}) as c:
        yield c


@pytest.fixture
def open_klant(demo: Municipal) -> Iterator[httpx.Client]:
    token = demo.config["sources"]["klantinteracties"]["token"]
    with client_for(demo, "klantinteracties", {"Authorization": f"Token {token}"}) as c:
        yield c


def test_signalen_refuses_a_filter_value_its_oas_forbids_as_drf_does(demo: Municipal,
                                                                      signalen: httpx.Client) -> None:
    path = urlsplit(demo.urls["signalen"]).path + "/private/signals/"
    bad = signalen.get("/private/signals/", params={"has_changed_children": "misschien"})
    assert bad.status_code == 400
    assert bad.json() == {"has_changed_children": ["Waarde is geen boolean."]}  # DRF's dict, never problem+json
    [entry] = recorded(demo, "signalen", path)[:1]
    assert entry["answered"] == "conformance"
    assert entry["messages"] == ["query has_changed_children: not of type boolean"]
    assert entry["operation"] == "GET /signals/v1/private/signals/ (signalen/openapi.yaml)"
    assert "misschien" not in str(entry)  # the rule broken, never the value sent

    before = len(recorded(demo, "signalen", path))
    assert signalen.get("/private/signals/", params={"status": "m"}).status_code == 200
    assert len(recorded(demo, "signalen", path)) == before


def test_open_klant_refuses_with_invalid_params_and_keeps_its_own_leniency(demo: Municipal,
                                                                           open_klant: httpx.Client) -> None:
    path = urlsplit(demo.urls["klantinteracties"]).path + "/partijen"
    bad = open_klant.get("/partijen", params={"indicatieActief": "misschien"})
    assert bad.status_code == 400
    body = bad.json()
    assert (body["code"], body["title"]) == ("invalid", "Ongeldige invoer.")
    assert body["invalidParams"] == [
        {"name": "indicatieActief", "code": "invalid", "reason": "Waarde is geen boolean."}]
    assert recorded(demo, "klantinteracties", path)[0]["answered"] == "conformance"

    before = len(recorded(demo, "klantinteracties", path))
    assert open_klant.get("/partijen", params={"soortPartij": "persoon"}).status_code == 200
    assert len(recorded(demo, "klantinteracties", path)) == before

    # vng-api-common takes any pageSize: the answer stands, the violation is still on record
    assert open_klant.get("/partijen", params={"pageSize": "veel"}).status_code == 200
    [lenient] = recorded(demo, "klantinteracties", path)[:1]
    assert lenient["answered"] == "handler"
    assert lenient["messages"] == ["query pageSize: not of type integer (the product accepts this)"]


def test_bag_refuses_in_its_own_body_and_records_the_violation(demo: Municipal) -> None:
    source = demo.config["sources"]["bag"]
    path = urlsplit(demo.urls["bag"]).path + "/adressen"
    with client_for(demo, "bag", {str(source.get("header", "X-Api-Key")): source["key"]}) as bag:
        bad = bag.get("/adressen", params={"postcode": "1234AB", "huisnummer": 1, "pageSize": 5})
        assert bad.status_code == 400
        assert bad.headers["content-type"] == "application/problem+json"
        assert [(p["name"], p["code"]) for p in bad.json()["invalid-params"]] == [("pageSize", "minimum")]
        assert recorded(demo, "bag", path)[0]["messages"] == ["query pageSize: less than the minimum 10"]
        before = len(recorded(demo, "bag", path))
        assert bag.get("/adressen", params={"postcode": "1234AB", "huisnummer": 1}).status_code == 200
        assert len(recorded(demo, "bag", path)) == before


async def test_bag_and_brp_word_the_check_s_400_as_their_handlers_do(demo: Municipal) -> None:
    from starlette.requests import Request

    scope = {"type": "http", "method": "GET", "path": "/lvbag/individuelebevragingen/v2/panden/1", "headers": [],
             "query_string": b"", "server": ("bag", 80), "scheme": "http", "root_path": ""}
    path_fault = Violation("path", ("identificatie",), "pattern", "Waarde voldoet niet aan patroon ^x$.", "")
    answer = await demo.simulators["bag"].conformance_error(Request(scope), [path_fault])
    body = orjson.loads(answer.body)
    assert (answer.status_code, body["code"]) == (400, "paramsValidation")
    assert body["invalid-params"][0]["name"] == "identificatie"  # BAG lower-cases a path parameter's name

    scope["path"] = "/haalcentraal/api/brp/personen"
    body_fault = Violation("body", ("fields", 3), "pattern", "Waarde voldoet niet aan patroon ^x$.", "")
    answer = await demo.simulators["brp"].conformance_error(Request(scope), [body_fault])
    body = orjson.loads(answer.body)
    assert (answer.status_code, body["code"], body["detail"]) == (
        400, "paramsValidation", "De foutieve parameter(s) zijn: fields[3].")
    assert body["invalidParams"] == [{"name": "fields[3]", "code": "pattern", "reason": body_fault.reason}]


def test_brp_body_the_oas_forbids_is_refused_and_recorded(demo: Municipal) -> None:
    source = demo.config["sources"]["brp"]
    path = urlsplit(demo.urls["brp"]).path + "/personen"
    bsn = next(iter(demo.data.personen))
    with client_for(demo, "brp", {str(source.get("header", "X-API-KEY")): source["key"]}) as brp:
        query = {"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": ["naam"]}
        bad = brp.post("/personen", json={**query, "gemeenteVanInschrijving": "12"})
        assert bad.status_code == 400
        assert bad.json()["invalidParams"][0]["name"] == "gemeenteVanInschrijving"
        assert recorded(demo, "brp", path)[0]["messages"] == [
            "body gemeenteVanInschrijving: does not match ^[0-9]{4}$"]
        before = len(recorded(demo, "brp", path))
        assert brp.post("/personen", json=query).status_code == 200
        assert len(recorded(demo, "brp", path)) == before


def test_huishoudboekje_checks_the_query_against_the_backend_sdl(demo: Municipal) -> None:
    source, url = demo.config["sources"]["huishoudboekje"], demo.urls["huishoudboekje"]
    path = urlsplit(url).path
    with client_for(demo, "huishoudboekje", cookies={source["cookie"]: source["demo_token"]}) as hhb:
        bad = hhb.post(url, json={"query": "{ burgers { id nope } }"})
        assert bad.status_code == 400
        assert set(bad.json()) == {"errors"}  # a request error, as a GraphQL server answers one
        [entry] = recorded(demo, "huishoudboekje", path)[:1]
        assert entry["messages"] == ["graphql: Cannot query field 'nope' on type 'Burger'."]
        before = len(recorded(demo, "huishoudboekje", path))
        assert hhb.post(url, json={"query": "{ burgers { id } }"}).status_code == 200
        assert len(recorded(demo, "huishoudboekje", path)) == before


@pytest.mark.parametrize(("source", "spec", "a_path"), [
    ("bag", "bag/openapi.yaml", "/adressen"),
    ("brp", "brp-personen/openapi.yaml", "/personen"),
    ("signalen", "signalen/openapi.yaml", "/signals/v1/private/signals/"),
])
def test_openapi_json_is_the_official_document(demo: Municipal, source: str, spec: str, a_path: str) -> None:
    document = httpx.get(demo.urls[source] + "/openapi.json").json()
    official = conformance.official_document(spec)
    assert official is not None
    assert document["info"] == official["info"]
    assert a_path in document["paths"]
    origin = demo.urls[source].removesuffix(urlsplit(demo.urls[source]).path)
    assert document["servers"][0]["url"] in (demo.urls[source], origin)  # where the document's paths start


# --- the check itself, without a server -------------------------------------------------------------------


def check(specs: dict[str, tuple[str, ...]], method: str, path: str, query: str = "", body: Any = None,
          headers: dict[str, str] | None = None) -> list[str]:
    checker = conformance.checker(specs)
    assert checker is not None
    raw = b"" if body is None else orjson.dumps(body)
    outcome = checker.check(Incoming(method, path, query, {"content-type": "application/json", **(headers or {})},
                                     raw))
    assert outcome is not None
    return [v.message for v in outcome.violations]


BRP = {"/haalcentraal/api/brp": ("brp-personen/openapi.yaml",)}
NRC = {"/notificaties/api/v1": ("zgw/standaard/notificaties/nrc/1.0.1/openapi.yaml",)}


def test_a_discriminated_body_is_checked_against_the_type_it_names() -> None:
    query = {"type": "RaadpleegMetBurgerservicenummer", "fields": ["naam"]}
    assert check(BRP, "POST", "/haalcentraal/api/brp/personen", body=query) == [
        "body burgerservicenummer: is required"]
    assert check(BRP, "POST", "/haalcentraal/api/brp/personen", body={**query, "type": "Zoek"})[0].startswith(
        "body type: not one of ")


def test_unknown_operations_and_methods_are_named() -> None:
    assert check(BRP, "GET", "/haalcentraal/api/brp/personen") == [
        "operation /personen: GET is not an operation here (only POST)"]
    assert check(BRP, "POST", "/haalcentraal/api/brp/mensen") == [
        "operation /haalcentraal/api/brp/mensen: no path of brp-personen/openapi.yaml matches"]


def test_a_patch_body_is_partial_and_an_empty_query_value_is_named() -> None:
    uuid = "5f2c3b4a-1d2e-4f50-8a9b-0c1d2e3f4a5b"
    assert check(NRC, "PATCH", f"/notificaties/api/v1/abonnement/{uuid}", body={"auth": "Bearer x"}) == []
    assert check(NRC, "PUT", f"/notificaties/api/v1/abonnement/{uuid}", body={"auth": "Bearer x"}) != []
    assert check(NRC, "GET", f"/notificaties/api/v1/abonnement/{uuid[:-1]}") == ["path uuid: not a valid uuid"]
