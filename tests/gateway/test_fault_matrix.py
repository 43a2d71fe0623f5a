"""Every fault a source can show, on every source the queries use: the answer comes within the request's
deadline, keeps what the healthy sources said, and names the faulty source with a code that says what went
wrong. Then the breaker and the deadline over the same faults, and many queries against one hung source.

Timeouts here are short (``FAST``), so each case costs at most about a second; faults come from the
simulators' ``PUT /_demo/behaviour`` (``demo.simulator.Behaviour``), reset after every test by
``tests.conftest``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from string import Template
from typing import Any

import httpx
import pytest

from demo.runner import Municipal
from graph.limits import Limits
from tests.conftest import Gateway

DEADLINE_S = 3.0
FAST = {"timeout_s": 0.5, "total_timeout_s": 1.0, "retries": 1, "retry_backoff_s": 0.01}

# One query per simulated host the gateway reads (the ZGW host through Zaken), and a witness from another host.
QUERIES: dict[str, str] = {
    "zaken": "zaken(first: 1) { nodes { uuid } }",
    "brp": 'persoon(burgerservicenummer: "$bsn") { naam { volledigeNaam } }',
    "bag": 'adres(nummeraanduidingIdentificatie: "$nummeraanduiding") { postcode }',
    "signalen": "meldingen(first: 1) { nodes { id } }",
    "klantinteracties": "partijen(first: 1) { nodes { uuid } }",
    "objecten": "objecten(first: 1) { nodes { uuid } }",
    "vakantieverhuur": 'vakantieverhuurRegistratie(registratienummer: "$registratie") { registratienummer }',
    "huishoudboekje": "huishoudboekjeBurgers(first: 1) { nodes { id } }",
}
WITNESS = 'witness: adres(nummeraanduidingIdentificatie: "$nummeraanduiding") { postcode }'
WITNESS_FOR_BAG = "witness: meldingen(first: 1) { nodes { id } }"

# fault: (behaviour, code the field's error carries)
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "down": ({"down": True}, "UPSTREAM_UNAVAILABLE"),
    "slow": ({"latency_ms": 2000}, "UPSTREAM_TIMEOUT"),
    "500": ({"error_rate": 1.0, "error_status": 500}, "UPSTREAM_ERROR"),
    "429": ({"error_rate": 1.0, "error_status": 429, "retry_after_s": 30}, "UPSTREAM_RATE_LIMITED"),
    "malformed": ({"malformed": True}, "UPSTREAM_BAD_RESPONSE"),
    "hang": ({"hang": True}, "UPSTREAM_TIMEOUT"),
    # each piece well inside the read timeout; the whole answer far past the total
    "trickle": ({"trickle_ms": 100, "trickle_bytes": 4}, "UPSTREAM_TIMEOUT"),
}


def fast_config(demo: Municipal, deadline_s: float = DEADLINE_S, **source: Any) -> dict[str, Any]:
    """The demo's configuration with short timeouts for every source and a short request deadline."""
    config = dict(demo.config)
    config["sources"] = {name: {**table, **FAST, **source} for name, table in demo.config["sources"].items()}
    config["gateway"] = {**demo.config.get("gateway", {}), "limits": {"deadline_s": deadline_s}}
    return config


def inputs(demo: Municipal) -> dict[str, str]:
    person = next(p for p in demo.data.personen.values() if p.nummeraanduiding_id and not p.overlijdensdatum)
    registration = next(iter(demo.data.vakantieverhuur.values()))
    assert person.nummeraanduiding_id
    return {"bsn": person.bsn, "nummeraanduiding": person.nummeraanduiding_id,
            "registratie": registration.registration_number}


def query_for(demo: Municipal, source: str) -> str:
    witness = WITNESS_FOR_BAG if source == "bag" else WITNESS
    return "{ " + Template(QUERIES[source] + " " + witness).substitute(inputs(demo)) + " }"


async def closing(gateway: Gateway) -> None:
    await gateway.client.aclose()
    await gateway.app.state.sources.aclose()


@pytest.fixture(scope="module")
async def fast(demo: Municipal) -> AsyncIterator[Gateway]:
    """One gateway for the matrix (no breaker: tests/conftest turns it off unless asked), warmed up while
    every source is calm: the token issuer's keys and the Zaken source's OpenAPI document are read once."""
    gateway = Gateway(demo, fast_config(demo))
    warm = await gateway.query("{ " + " ".join(f"{s}: {q}" for s, q in (
        ("z", QUERIES["zaken"]), ("m", QUERIES["signalen"]))) + " }")
    assert "errors" not in warm, warm
    yield gateway
    await closing(gateway)


def assert_blames(result: dict[str, Any], source: str, codes: set[str]) -> None:
    assert result.get("errors"), result
    for error in result["errors"]:
        assert error["extensions"]["source"] == source, error
        assert error["extensions"]["code"] in codes, error


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("source", sorted(QUERIES))
async def test_a_faulty_source_costs_only_its_own_fields(
    fast: Gateway, demo: Municipal, source: str, fault: str
) -> None:
    query = query_for(demo, source)
    healthy = await fast.query(query)
    assert "errors" not in healthy, healthy
    behaviour, code = FAULTS[fault]
    assert demo.simulators[source].behaviour.update(behaviour) == []

    started = time.monotonic()
    result = await fast.query(query)
    elapsed = time.monotonic() - started

    assert result["data"]["witness"] == healthy["data"]["witness"]
    assert_blames(result, source, {code})  # the source's own limits answered, not the request's deadline
    if fault == "trickle":
        assert all("finish" in e["message"] for e in result["errors"])  # the total time, not a read timeout
    assert elapsed < DEADLINE_S * 3


# -- the breaker: failures stop the calls, recovery starts them again ---------------------------------------


@pytest.mark.parametrize(("fault", "source"), [("down", "bag"), ("500", "signalen"), ("hang", "brp"),
                                               ("trickle", "objecten")])
async def test_the_breaker_stops_calls_and_closes_after_recovery(demo: Municipal, fault: str, source: str) -> None:
    gateway = Gateway(demo, fast_config(demo, breaker_failures=3, breaker_open_s=1.0, retries=0))
    query = query_for(demo, source)
    sim = demo.simulators[source]
    try:
        assert "errors" not in await gateway.query(query)
        behaviour, code = FAULTS[fault]
        sim.behaviour.update(behaviour)
        gateway.reset_counts()
        for _ in range(3):
            assert_blames(await gateway.query(query), source, {code})
        assert len(gateway.calls(source)) == 3
        for _ in range(3):
            paused = await gateway.query(query)
            assert_blames(paused, source, {"UPSTREAM_UNAVAILABLE"})
            assert all("paused" in e["message"] for e in paused["errors"])
            assert paused["data"]["witness"]
        assert len(gateway.calls(source)) == 3  # the open circuit sent nothing

        sim.behaviour.__init__()  # type: ignore[misc]
        await asyncio.sleep(1.1)
        for _ in range(2):  # the probe closes the circuit; then calls go through as usual
            assert "errors" not in await gateway.query(query)
        assert len(gateway.calls(source)) == 5
    finally:
        await closing(gateway)


# -- the request's deadline ---------------------------------------------------------------------------------


def test_the_default_deadline_is_ten_seconds() -> None:
    assert Limits().deadline_s == 10.0


@pytest.mark.parametrize("fault", ["hang", "trickle"])
async def test_the_deadline_answers_with_what_it_has(demo: Municipal, fault: str) -> None:
    """A source whose own limits are longer than the request's deadline: the deadline cuts its call, its
    field says so, and the rest of the answer stays."""
    deadline_s = 1.5
    config = fast_config(demo, deadline_s)
    config["sources"]["brp"].update({"timeout_s": 30, "total_timeout_s": 60})
    gateway = Gateway(demo, config)
    query = query_for(demo, "brp")
    try:
        healthy = await gateway.query(query)
        assert "errors" not in healthy
        demo.simulators["brp"].behaviour.update(FAULTS[fault][0])
        started = time.monotonic()
        result = await gateway.query(query)
        elapsed = time.monotonic() - started
    finally:
        await closing(gateway)
    assert result["data"] == {"persoon": None, "witness": healthy["data"]["witness"]}
    assert_blames(result, "brp", {"BUDGET_EXCEEDED"})
    assert elapsed < deadline_s * 3


# -- many queries, one hung source --------------------------------------------------------------------------


async def test_thirty_concurrent_queries_against_a_hung_source_all_answer(demo: Municipal) -> None:
    gateway = Gateway(demo, fast_config(demo))
    people = [p for p in demo.data.personen.values() if not p.overlijdensdatum][:30]
    assert len(people) == 30
    template = Template(QUERIES["brp"] + " " + WITNESS)
    queries = ["{ " + template.substitute({**inputs(demo), "bsn": p.bsn}) + " }" for p in people]
    brp = demo.simulators["brp"]
    try:
        assert "errors" not in await gateway.query(queries[0])
        brp.behaviour.update({"hang": True})
        gateway.reset_counts()
        started = time.monotonic()
        results = await asyncio.gather(*(gateway.query(q) for q in queries))
        elapsed = time.monotonic() - started
    finally:
        await closing(gateway)
    for result in results:
        assert result["data"]["persoon"] is None
        assert result["data"]["witness"]["postcode"]
        assert_blames(result, "brp", {"UPSTREAM_TIMEOUT", "UPSTREAM_BUSY"})
    assert len(gateway.calls("brp")) <= 30
    assert elapsed < DEADLINE_S * 3


# -- the simulators' fault switches -------------------------------------------------------------------------


async def test_every_simulator_takes_each_fault_and_refuses_nonsense(demo: Municipal) -> None:
    origins = {str(httpx.URL(url).copy_with(path="/")) for url in demo.urls.values()}
    try:
        async with httpx.AsyncClient() as client:
            for origin in origins:
                for behaviour, _ in FAULTS.values():
                    answer = await client.put(origin + "_demo/behaviour", json=behaviour)
                    assert answer.status_code == 200, answer.text
                    assert answer.json().items() >= behaviour.items()
                refused = await client.put(origin + "_demo/behaviour", json={
                    "down": "yes", "trickle_bytes": 0, "retry_after_s": 1.5, "trickle_ms": -1, "teleport": 1})
                assert refused.status_code == 400
                assert all(key in refused.json()["detail"]
                           for key in ("down", "trickle_bytes", "retry_after_s", "trickle_ms", "teleport"))
                assert (await client.get(origin + "_demo/behaviour")).json()["trickle_bytes"] == 4  # all or nothing
    finally:
        for sim in {id(s): s for s in demo.simulators.values()}.values():
            sim.behaviour.__init__()  # type: ignore[misc]
