"""Who asked and why reaches every source: NLX transaction-log headers, Fsc-Transaction-Id, traceparent
and, for ZGW, the caller in the JWT; outside a request nothing is added."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from demo.runner import Municipal
from graph.auth import SERVICE_USER, ZgwJwt
from graph.caller import ANONYMOUS, Caller
from graph.context import Context
from graph.outbound import TRANSACTION_ID, USER_ID, data_subjects, headers_for
from graph.source import Sources
from tests.conftest import Gateway

ZAAKBEHANDELING = "https://register.gemeente.example/verwerkingsactiviteiten/zaakbehandeling/1"
VAKANTIEVERHUUR = "https://register.gemeente.example/verwerkingsactiviteiten/toezicht-vakantieverhuur/1"
SCOPES = ("zaken:lezen", "brp:lezen", "bag:lezen", "vakantieverhuur:lezen", "klantinteracties:lezen")
EMPLOYEE = Caller("medewerker-0042", "A. de Vries", frozenset(SCOPES))  # what the token below says
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRANSACTION = "01890a5d-ac96-774b-bcce-b302099a8057"
PERSONS_OF_ZAKEN = """query ZakenMetPersonen { zaken(first: 10) { nodes { identificatie
  rollen { persoon { burgerservicenummer naam { volledigeNaam } } } } } }"""


def gateway_with(demo: Municipal, logboek: dict[str, Any]) -> Gateway:
    """A gateway of its own over the session's sources, with this ``[gateway.logboek]``, whose client is
    EMPLOYEE: a bearer token from the demo's issuer naming that subject and name."""
    config = {**demo.config, "gateway": {**demo.config.get("gateway", {}), "logboek": logboek}}
    gw = Gateway(demo, config)
    issuer: Any = demo.simulators["issuer"]
    token = issuer.mint(subject=EMPLOYEE.subject, name=EMPLOYEE.name, lifetime_s=86400)
    gw.client.headers["Authorization"] = f"Bearer {token}"
    return gw


@pytest.fixture
async def employee_gateway(demo: Municipal, tmp_path: Path) -> AsyncIterator[Gateway]:
    gw = gateway_with(demo, {"sink": "jsonl", "path": str(tmp_path / "logboek.jsonl")})
    yield gw
    await gw.client.aclose()
    await gw.app.state.sources.aclose()


async def ask(gw: Gateway, query: str, activity: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await gw.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={
            "X-Verwerkingsactiviteit": activity,
            "traceparent": f"00-{TRACE}-{CLIENT_SPAN}-01",
            "Fsc-Transaction-Id": TRANSACTION,
        },
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert "errors" not in answer, answer
    return answer


def bsns_in(node: Any) -> set[str]:
    """Every ``burgerservicenummer`` anywhere in an answer."""
    if isinstance(node, dict):
        own = {node["burgerservicenummer"]} if isinstance(node.get("burgerservicenummer"), str) else set()
        return own.union(*(bsns_in(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(bsns_in(v) for v in node))
    return set()


def assert_tells_who_and_why(call: dict[str, Any], activity: str) -> str:
    """The headers every source call of a request carries; returns the call's span id."""
    headers = call["headers"]
    assert headers["x-nlx-request-process-id"] == activity
    assert headers["x-nlx-request-user-id"] == EMPLOYEE.subject
    assert headers["fsc-transaction-id"] == TRANSACTION
    version, trace, span, flags = headers["traceparent"].split("-")
    assert (version, trace, flags) == ("00", TRACE, "01")
    assert len(span) == 16 and span != CLIENT_SPAN
    return span


async def test_brp_and_zaken_hear_who_asked_why_and_about_whom(employee_gateway: Gateway) -> None:
    gw = employee_gateway
    gw.reset_counts()
    answer = await ask(gw, PERSONS_OF_ZAKEN, ZAAKBEHANDELING)
    persons = bsns_in(answer["data"])
    assert persons, "the demo's first zaken have persons in their rollen"

    spans = []
    brp_calls = [c for c in gw.calls("brp") if c["method"] == "POST"]
    assert brp_calls
    told: set[str] = set()
    for call in brp_calls:
        spans.append(assert_tells_who_and_why(call, ZAAKBEHANDELING))
        subjects = call["headers"]["x-nlx-request-data-subject"].split(",")
        assert subjects == [f"bsn={b}" for b in call["body"]["burgerservicenummer"]]
        told.update(s.removeprefix("bsn=") for s in subjects)
    assert persons <= told

    zaken_calls = [c for c in gw.calls("zaken") if not c["path"].endswith(("openapi.yaml", "openapi.json"))]
    assert zaken_calls
    for call in zaken_calls:
        spans.append(assert_tells_who_and_why(call, ZAAKBEHANDELING))
        assert "x-nlx-request-data-subject" not in call["headers"]  # a list of zaken concerns no one in advance
        token = call["headers"]["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["user_id"], claims["user_representation"]) == (EMPLOYEE.subject, EMPLOYEE.name)
    assert len(set(spans)) == len(spans), "a new span per source call"


async def test_zaken_of_a_person_name_the_person_to_zaken(employee_gateway: Gateway) -> None:
    gw = employee_gateway
    first = await ask(gw, PERSONS_OF_ZAKEN, ZAAKBEHANDELING)
    bsn = sorted(bsns_in(first["data"]))[0]
    gw.reset_counts()
    query = "query($b: String) { zaken(first: 5, bsn: $b) { nodes { identificatie } } }"
    await ask(gw, query, ZAAKBEHANDELING, {"b": bsn})
    zoek = [c for c in gw.calls("zaken") if c["path"].endswith("/zaken/_zoek")]
    assert zoek
    for call in zoek:
        assert_tells_who_and_why(call, ZAAKBEHANDELING)
        assert call["headers"]["x-nlx-request-data-subject"] == f"bsn={bsn}"


async def test_lvv_hears_the_requester_it_is_asked_about(employee_gateway: Gateway, demo: Municipal) -> None:
    bsn = sorted(r.bsn for r in demo.data.vakantieverhuur.values())[0]  # a BSN to ask about; answers checked below
    gw = employee_gateway
    gw.reset_counts()
    answer = await ask(
        gw, "query($b: String!) { vakantieverhuurRegistraties(burgerservicenummer: $b) { registratienummer } }",
        VAKANTIEVERHUUR, {"b": bsn},
    )
    assert answer["data"]["vakantieverhuurRegistraties"]
    by_bsn = [c for c in gw.calls("vakantieverhuur") if c["path"].endswith("/registrations/bsn")]
    assert len(by_bsn) == 1
    assert_tells_who_and_why(by_bsn[0], VAKANTIEVERHUUR)
    assert by_bsn[0]["headers"]["x-nlx-request-data-subject"] == f"bsn={bsn}"


def test_an_anonymous_caller_is_not_named() -> None:
    headers = headers_for(Context(Sources({}), caller=ANONYMOUS))
    assert USER_ID not in headers and TRANSACTION_ID in headers and "traceparent" in headers


def test_zgw_calls_without_a_caller_carry_the_gateway_itself() -> None:
    auth = ZgwJwt("client", "a-secret-of-at-least-32-bytes-long")
    request = next(auth.auth_flow(httpx.Request("GET", "http://zaken.example/zaken/api/v1/zaken")))
    claims = jwt.decode(request.headers["Authorization"].removeprefix("Bearer "), options={"verify_signature": False})
    assert (claims["user_id"], claims["user_representation"]) == SERVICE_USER


def test_nothing_is_added_outside_a_request() -> None:
    assert headers_for(None, ["999993653"]) == {}


def test_too_many_subjects_for_one_header_are_left_out_not_cut() -> None:
    few = [f"{n:09d}" for n in range(70)]
    assert data_subjects(few) is not None and len(data_subjects(few) or "") <= 1024
    assert data_subjects([*few, *(f"{n:09d}" for n in range(70, 80))]) is None
    assert data_subjects([]) is None
    assert data_subjects(["123456782", "123456782"]) == "bsn=123456782"


def test_zgw_tokens_per_caller_are_cached_renewed_and_bounded() -> None:
    now = [1_000_000.0]
    auth = ZgwJwt("client", "a-secret-of-at-least-32-bytes-long", clock=lambda: now[0], max_users=2)
    alice, bob, carol = ("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")
    first = auth.token(alice)
    assert auth.token(alice) == first
    claims = jwt.decode(first, "a-secret-of-at-least-32-bytes-long", algorithms=["HS256"])
    assert (claims["user_id"], claims["user_representation"], claims["client_id"]) == ("alice", "Alice", "client")
    auth.token(bob)
    auth.token(carol)  # alice, least recently used, is dropped
    assert len(auth._tokens) == 2 and alice not in auth._tokens
    now[0] += 1800
    assert jwt.decode(auth.token(bob), options={"verify_signature": False})["iat"] == int(now[0])
