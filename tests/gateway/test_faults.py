"""Sources that hang, break or talk nonsense: the answer is partial, the error says which source and why."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from demo.runner import Municipal
from tests.conftest import Gateway

README = Path(__file__).resolve().parents[2] / "README.md"
README_TEXT = (Path(__file__).resolve().parents[2] / "README.md").read_text()
PERSON_QUERY = """query($bsn: String!) { persoon(burgerservicenummer: $bsn) { naam { volledigeNaam }
  verblijfplaats { adres { postcode adresseerbaarObject { oppervlakte } } } } }"""


def a_bsn(demo: Municipal) -> str:
    return next(p.bsn for p in demo.data.personen.values() if p.nummeraanduiding_id and not p.overlijdensdatum)


async def test_a_hanging_source_times_out_with_its_own_error(demo: Municipal) -> None:
    config = dict(demo.config)
    config["sources"] = {k: dict(v) for k, v in demo.config["sources"].items()}
    config["sources"]["bag"]["timeout_s"] = 0.5
    gateway = Gateway(demo, config)
    demo.simulators["bag"].behaviour.update({"hang": True})
    try:
        result = await gateway.query(PERSON_QUERY, {"bsn": a_bsn(demo)})
    finally:
        await gateway.client.aclose()
        await gateway.app.state.sources.aclose()
    assert result["data"]["persoon"]["naam"]["volledigeNaam"]
    assert result["data"]["persoon"]["verblijfplaats"]["adres"] is None
    [error] = result["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_TIMEOUT", "source": "bag"}
    assert error["path"] == ["persoon", "verblijfplaats", "adres"]


async def test_a_malformed_answer_is_a_bad_response(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["bag"].behaviour.update({"malformed": True})
    result = await gateway.query(PERSON_QUERY, {"bsn": a_bsn(demo)})
    assert result["data"]["persoon"]["naam"]["volledigeNaam"]
    [error] = result["errors"]
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert error["extensions"]["source"] == "bag"


@pytest.mark.parametrize(("status", "code"), [(500, "UPSTREAM_ERROR"), (429, "UPSTREAM_RATE_LIMITED"),
                                              (403, "UPSTREAM_REFUSED")])
async def test_upstream_statuses_map_to_codes(gateway: Gateway, demo: Municipal, status: int, code: str) -> None:
    demo.simulators["brp"].behaviour.update({"error_rate": 1.0, "error_status": status})
    result = await gateway.query(PERSON_QUERY, {"bsn": a_bsn(demo)})
    assert result["data"] == {"persoon": None}
    [error] = result["errors"]
    assert error["extensions"] == {"code": code, "source": "brp", "status": status}


async def test_errors_never_leak_upstream_bodies_urls_or_secrets(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["zaken"].behaviour.update({"error_rate": 1.0, "error_status": 500})
    result = await gateway.query("{ zaken(first: 2) { nodes { uuid } } }")
    text = str(result["errors"])
    secrets = [str(v) for entry in demo.config["sources"].values() for k, v in entry.items()
               if k in {"secret", "key", "token"}]
    assert "http://" not in text
    assert "Injected" not in text  # the simulator's problem body
    assert not any(s in text for s in secrets)
    assert "Traceback" not in text


async def test_a_link_outside_the_configured_sources_is_not_followed(gateway: Gateway) -> None:
    result = await gateway.query('{ zaak(url: "http://169.254.169.254/latest/meta-data") { uuid } }')
    assert result["data"] == {"zaak": None}
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN_URL"


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"query": 5}', b'{"query": "{ zaken { nope } }"}',
                                  b'{"query": "{ persoon(burgerservicenummer: 1) { naam } }"}'])
async def test_bad_requests_get_graphql_errors_not_crashes(gateway: Gateway, body: bytes) -> None:
    response = await gateway.client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 400)  # GraphQL over HTTP: validation errors may answer 200
    if response.status_code == 200:
        assert response.json()["errors"]
    assert "Traceback" not in response.text


async def test_get_queries_and_graphiql(gateway: Gateway) -> None:
    response = await gateway.client.get("/graphql", params={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}
    page = await gateway.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_the_readme_query_works(gateway: Gateway, demo: Municipal) -> None:
    readme = README.read_text()
    query = re.search(r"```graphql\n(.*?)```", readme, re.S)
    assert query, "README has no graphql example"
    gateway.reset_counts()
    result = await gateway.query(query.group(1))
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["zaken"]["nodes"]
    assert nodes
    # what the README says the query costs
    bsns = {b for c in gateway.calls("brp") for b in c["body"]["burgerservicenummer"]}
    addresses = {demo.data.personen[b].nummeraanduiding_id for b in bsns}
    assert len(gateway.calls("zaken")) == 1
    types = [c["path"].rsplit("/", 2)[-2] for c in gateway.calls("catalogi")]
    assert len(gateway.calls("catalogi")) == len({c["path"] for c in gateway.calls("catalogi")})  # each type once
    assert set(types) <= {"zaaktypen", "statustypen"}
    assert types.count("zaaktypen") <= len(nodes) and types.count("statustypen") <= len(nodes)
    assert len(gateway.calls("brp")) == -(-len(bsns) // 20)
    assert len(gateway.calls("bag")) == len(addresses)
    assert len(gateway.calls("documenten")) <= 1


@pytest.mark.parametrize(("query", "message"), [
    ("{ persoon(burgerservicenummer: \"999999999\") { " + "partners { " * 12 + "burgerservicenummer" + " }" * 14,
     "maximum operation depth"),
    ("{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }", "aliases"),
    ("{ __typename " + "__typename " * 4000 + "}", "tokens"),
])
async def test_queries_too_big_to_be_safe_are_refused_before_any_source_call(
    gateway: Gateway, query: str, message: str
) -> None:
    gateway.reset_counts()
    result = await gateway.query(query)
    assert result.get("data") is None
    assert message in result["errors"][0]["message"]
    assert not any(gateway.calls(name) for name in ("brp", "zaken", "bag"))


async def test_introspection_for_graphiql_is_not_limited(gateway: Gateway) -> None:
    from graphql import get_introspection_query

    result = await gateway.query(get_introspection_query(descriptions=True))
    assert "errors" not in result
    assert result["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_logs_carry_no_bsn(gateway: Gateway, demo: Municipal, caplog: pytest.LogCaptureFixture) -> None:
    from graph.cli import _logging

    _logging()
    caplog.set_level(logging.INFO)
    partij = next(iter(demo.data.partijen.values()))
    await gateway.query('query($b: String!) { persoon(burgerservicenummer: $b) { klantcontacten { uuid } '
                        'zaken { totalCount } } bad: persoon(burgerservicenummer: "12") { leeftijd } }',
                        {"b": partij.bsn})
    assert caplog.records  # the bad argument was logged, as code and path
    assert not any(partij.bsn in r.getMessage() for r in caplog.records)
