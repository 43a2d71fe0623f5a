"""Query cost, per-request budgets and HTTP-level limits, over real HTTP to the demo sources."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from demo.runner import Municipal
from tests.conftest import Gateway

SOURCES = ("zaken", "catalogi", "documenten", "brp", "bag", "signalen")
README_QUERY = Path(__file__).parents[2].joinpath("README.md").read_text().split("```graphql")[1].split("```")[0]
ZAKEN_30 = "{" + " ".join(
    f"z{i}: zaken(first: 100) {{ nodes {{ identificatie rollen {{ persoon {{ naam {{ volledigeNaam }} "
    f"verblijfplaats {{ adres {{ postcode }} }} }} }} documenten {{ titel }} }} }}"
    for i in range(30)
) + "}"
STATISTICS_30 = "{" + " ".join(
    f"m{i}: meldingenStatistiek(groepeerOp: [CATEGORIE]) {{ totaal }} z{i}: zakenStatistiek(groepeerOp: [OPEN]) "
    "{ totaal }" for i in range(15)
) + "}"
DASHBOARD = """{
  perWeek: meldingenStatistiek(groepeerOp: [CATEGORIE, WEEK]) { totaal groepen { categorie week aantal } }
  perBuurt: meldingenStatistiek(groepeerOp: [BUURT]) { totaal }
  perType: zakenStatistiek(groepeerOp: [ZAAKTYPE, OPEN]) { totaal groepen { zaaktype open aantal } }
  perStatus: zakenStatistiek(groepeerOp: [STATUS]) { totaal groepen { status aantal } }
}"""


def gateway_with(demo: Municipal, gateway: dict[str, Any]) -> Gateway:
    """A gateway over the demo sources with extra ``[gateway]`` settings; the one place tests build their own."""
    config = {**demo.config, "gateway": {**demo.config.get("gateway", {}), **gateway}}
    return Gateway(Municipal(data=demo.data, config=config, simulators=demo.simulators))


@pytest.fixture
async def own() -> AsyncIterator[list[Gateway]]:
    """Gateways a test built; closed after it."""
    made: list[Gateway] = []
    yield made
    for gw in made:
        await gw.client.aclose()
        await gw.app.state.sources.aclose()


def upstream_calls(gateway: Gateway) -> int:
    return sum(len(gateway.calls(s)) for s in SOURCES)


@pytest.mark.parametrize("query", [ZAKEN_30, STATISTICS_30], ids=["30 aliased zaken", "30 aliased statistics"])
async def test_costly_queries_are_refused_before_any_source_is_called(gateway: Gateway, query: str) -> None:
    gateway.reset_counts()
    answer = await gateway.query(query)
    assert answer.get("data") is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"] == 1000
    assert "upstream calls" in error["message"]
    assert upstream_calls(gateway) == 0


@pytest.mark.parametrize("query", [README_QUERY, DASHBOARD], ids=["README", "dashboard"])
async def test_ordinary_queries_pass(gateway: Gateway, query: str) -> None:
    answer = await gateway.query(query)
    assert not answer.get("errors"), answer.get("errors")


async def test_max_cost_is_configurable(demo: Municipal, own: list[Gateway]) -> None:
    gw = gateway_with(demo, {"limits": {"max_cost": 10}})
    own.append(gw)
    answer = await gw.query(README_QUERY)
    assert answer["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_the_call_budget_stops_a_query(demo: Municipal, own: list[Gateway]) -> None:
    gw = gateway_with(demo, {"limits": {"max_calls": 3}})
    own.append(gw)
    gw.reset_counts()
    answer = await gw.query(
        "{ zaken(first: 20) { nodes { identificatie rollen { persoon { verblijfplaats { adres { postcode } } } } } } }"
    )
    codes = {e["extensions"]["code"] for e in answer["errors"]}
    assert codes == {"BUDGET_EXCEEDED"}, answer["errors"]
    assert answer["data"]["zaken"]["nodes"]  # what fitted in the budget is answered
    assert upstream_calls(gw) <= 3


async def test_the_deadline_stops_a_slow_query(demo: Municipal, own: list[Gateway]) -> None:
    gw = gateway_with(demo, {"limits": {"deadline_s": 1}})
    own.append(gw)
    # a new gateway first reads the Zaken source's OpenAPI document (about a second of YAML on a busy
    # machine): done before the timed query, so the deadline is spent on the slow BAG alone
    assert "errors" not in await gw.query("{ zaken(first: 1) { totalCount } }")
    demo.simulators["bag"].behaviour.update({"latency_ms": 5000})
    started = time.monotonic()
    answer = await gw.query('{ zaken(first: 3) { nodes { identificatie } } '
                            'adressen(postcode: "1234AB", huisnummer: 1) { postcode } }')
    assert time.monotonic() - started < 3
    assert answer["data"]["zaken"]["nodes"]
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["BUDGET_EXCEEDED"]


async def test_a_client_leaving_stops_the_work(gateway: Gateway, demo: Municipal) -> None:
    """Cancelling the client's request ends the ASGI call; the source sees no further calls afterwards."""
    demo.simulators["bag"].behaviour.update({"latency_ms": 400})
    gateway.reset_counts()
    query = "{ zaken(first: 40) { nodes { rollen { persoon { verblijfplaats { adres { postcode } } } } } } }"
    task = asyncio.ensure_future(gateway.query(query))
    await asyncio.sleep(1.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0.6)  # calls already sent are counted when the source answers them (400 ms)
    seen = len(gateway.calls("bag"))
    await asyncio.sleep(1.5)
    assert len(gateway.calls("bag")) == seen


async def test_a_large_body_is_refused_unread(gateway: Gateway) -> None:
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * 2_000_000 + b'"}'
    response = await gateway.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: the bytes are counted
        for _ in range(40):
            yield b"x" * 50_000

    response = await gateway.client.post("/graphql", content=streamed(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


async def test_security_headers(gateway: Gateway) -> None:
    api = await gateway.client.post("/graphql", json={"query": "{ __typename }"})
    assert api.headers["cache-control"] == "no-store"
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert "strict-transport-security" not in api.headers
    page = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no other host, no inline script
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    secure = await gateway.client.get("https://gateway/health")
    assert secure.headers["strict-transport-security"].startswith("max-age=")


async def test_introspection_and_graphiql_can_be_switched_off(demo: Municipal, own: list[Gateway]) -> None:
    gw = gateway_with(demo, {"introspection": False, "graphiql": False})
    own.append(gw)
    answer = await gw.query("{ __schema { queryType { name } } }")
    assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert (await gw.query("{ __typename }"))["data"] == {"__typename": "Query"}
    page = await gw.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404


async def test_only_trusted_documents(demo: Municipal, own: list[Gateway], tmp_path: Path) -> None:
    known = "{ zaken(first: 1) { totalCount } }"
    (tmp_path / "zaken.graphql").write_text(known)
    digest = hashlib.sha256(known.encode()).hexdigest()
    gw = gateway_with(demo, {"limits": {"trusted_documents": "only", "documents": str(tmp_path)}})
    own.append(gw)
    apollo = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    ran = await gw.client.post("/graphql", json=apollo)
    assert ran.status_code == 200 and ran.json()["data"]["zaken"]["totalCount"] > 0
    by_id = await gw.client.post("/graphql", json={"documentId": f"sha256:{digest}"})
    assert by_id.json()["data"]["zaken"]["totalCount"] > 0
    unknown = await gw.client.post("/graphql", json={"documentId": "0" * 64})
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    free_text = await gw.client.post("/graphql", json={"query": "{ zaken(first: 2) { totalCount } }"})
    assert free_text.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENTS_ONLY"
