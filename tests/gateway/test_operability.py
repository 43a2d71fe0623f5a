"""What an operator sees: /metrics that move with each query, /ready that follows the sources, and one JSON
log line per operation and per failed call that holds codes and ids but never a query, a value or a BSN."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from demo.runner import Municipal
from graph.oplog import FIELDS, JsonLines
from tests.conftest import Gateway

ZAKEN = "{ zaken(first: 2) { nodes { identificatie } } }"


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text, 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
async def gw(demo: Municipal) -> AsyncIterator[Gateway]:
    gateway = Gateway(demo)
    yield gateway
    await gateway.client.aclose()
    await gateway.app.state.sources.aclose()


async def behave(world: Municipal, source: str, **behaviour: object) -> None:
    async with httpx.AsyncClient() as client:
        base = world.urls[source].split("/", 3)[:3]
        answer = await client.put("/".join(base) + "/_demo/behaviour", json=behaviour)
        assert answer.status_code == 200, answer.text


async def test_metrics_count_calls_and_operations(gw: Gateway) -> None:
    before = (await gw.client.get("/metrics")).text
    gw.reset_counts()
    answer = await gw.query(ZAKEN, headers={"content-type": "application/json"})
    assert len(answer["data"]["zaken"]["nodes"]) == 2
    upstream = len(gw.calls("zaken"))
    after = (await gw.client.get("/metrics"))
    assert after.headers["content-type"].startswith("text/plain")
    moved = sum(sample(after.text, "gemeentegraaf_source_calls_total", source="zaken", status=s)
                - sample(before, "gemeentegraaf_source_calls_total", source="zaken", status=s) for s in ("200",))
    assert moved == upstream >= 1  # every call the source saw, counted once
    ops = "gemeentegraaf_operations_total"
    assert sample(after.text, ops, operation="anonymous", outcome="ok") == sample(
        before, ops, operation="anonymous", outcome="ok") + 1
    assert sample(after.text, "gemeentegraaf_breaker_open", source="zaken") == 0


async def test_failures_are_counted_by_code(gw: Gateway, demo: Municipal) -> None:
    await behave(demo, "signalen", error_rate=1.0, error_status=503)
    try:
        before = (await gw.client.get("/metrics")).text
        answer = await gw.query("{ meldingen(first: 1) { totalCount } }")
        assert answer["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
        after = (await gw.client.get("/metrics")).text
        name = "gemeentegraaf_source_failures_total"
        labels = {"source": "signalen", "code": "UPSTREAM_ERROR", "status": "503"}
        assert sample(after, name, **labels) == sample(before, name, **labels) + 1
    finally:
        await behave(demo, "signalen", error_rate=0.0)


async def test_ready_follows_a_source_down_and_back(gw: Gateway, demo: Municipal) -> None:
    ready = await gw.client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["sources"]) == set(gw.app.state.sources.names())
    await behave(demo, "brp", down=True)
    try:
        await _wait_until_fresh(gw)
        unready = await gw.client.get("/ready")
        assert unready.status_code == 503
        assert unready.json()["sources"]["brp"]["ready"] is False
        assert unready.json()["sources"]["bag"]["ready"] is True
    finally:
        await behave(demo, "brp", down=False)
    await _wait_until_fresh(gw)
    assert (await gw.client.get("/ready")).status_code == 200


async def _wait_until_fresh(gw: Gateway) -> None:
    """The readiness answer is kept for a second, so a tight loop of probes is no load on the sources."""
    gw.app.state.readiness._last = None


async def test_log_lines_hold_codes_and_ids_but_no_values(gw: Gateway, demo: Municipal,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    bsn = next(iter(demo.data.personen.values())).bsn
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    query = "query Persoon($bsn: String!) { persoon(burgerservicenummer: $bsn) { naam { voornamen } } }"
    await behave(demo, "brp", error_rate=1.0, error_status=500)
    try:
        await gw.query(query, {"bsn": bsn}, headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    finally:
        await behave(demo, "brp", error_rate=0.0)
    lines = [JsonLines().format(r) for r in caplog.records if getattr(r, FIELDS, None)]
    events = [orjson.loads(line) for line in lines]
    operation = next(e for e in events if e["event"] == "operation")
    assert operation["operation"] == "Persoon" and operation["trace_id"] == trace
    assert operation["outcome"] in ("partial", "error")
    assert {"code": "UPSTREAM_ERROR", "source": "brp", "status": 500} in operation["errors"]
    failure = next(e for e in events if e["event"] == "source_failure")
    assert failure["source"] == "brp" and failure["code"] == "UPSTREAM_ERROR" and failure["trace_id"] == trace
    coded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("graphql error")]
    assert coded and all("UPSTREAM_ERROR" in m for m in coded)  # the real code, not a generic one
    for line in lines + [r.getMessage() for r in caplog.records]:
        assert bsn not in line
        assert "burgerservicenummer" not in line  # no query text
