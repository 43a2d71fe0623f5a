"""The Notificaties simulator: ZGW auth, kanalen, abonnementen with Open Notificaties' callback checks, routing."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from demo.model import Municipality
from demo.notificaties import NotificatiesSimulator
from demo.runner import Municipal, free_port, running_alone
from tests.oas import response_schema, schema_errors

SPEC = "zgw/standaard/notificaties/nrc/1.0.1/openapi.yaml"
# The OAS uses one Abonnement schema for request and answer; Open Notificaties never returns the write-only auth.
TOLERATED = ("(^|/)?: 'auth' is a required property",)


def assert_conforms(path: str, method: str, response: httpx.Response, status: int | None = None) -> None:
    """tests.oas.assert_conforms, minus the tolerated gap, and for the status the OAS documents."""
    errors = schema_errors(response_schema(SPEC, path, method, status or response.status_code), response.json())
    errors = [e for e in errors if not any(re.search(t, e) for t in TOLERATED)]
    assert not errors, f"{method} {path} -> {response.status_code}:\n" + "\n".join(errors)


# --- a webhook receiver, as a subscriber would run one ---------------------------------------------------


@dataclass
class Endpoint:
    auth: str
    mode: str = "protected"  # protected: 403 without auth, 204 with it; open: 204 always; ok200; fail (500)
    calls: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Authorized calls other than Open Notificaties' own callback checks."""
        return [body for auth, body in self.calls if auth == self.auth and body.get("kanaal") != "test"]


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoints: dict[str, Endpoint] = {}
        app = Starlette(routes=[Route("/hook/{name}", self.hook, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off",
                                                    log_level="warning", access_log=False))

    def add(self, name: str, mode: str = "protected") -> tuple[str, Endpoint]:
        endpoint = self.endpoints[name] = Endpoint(auth=f"Bearer secret-of-{name}", mode=mode)
        return f"http://127.0.0.1:{self.port}/hook/{name}", endpoint

    async def hook(self, request: Request) -> Response:
        endpoint = self.endpoints[request.path_params["name"]]
        auth = request.headers.get("authorization")
        endpoint.calls.append((auth, await request.json()))
        if endpoint.mode == "open":
            return Response(status_code=204)
        if auth != endpoint.auth:
            return Response(status_code=403)
        return Response(status_code={"fail": 500, "ok200": 200}.get(endpoint.mode, 204))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=lambda: asyncio.run(r.server.serve()), daemon=True)
    thread.start()
    wait_for(lambda: r.server.started)
    yield r
    r.server.should_exit = True
    thread.join(timeout=5)


def wait_for(condition: Callable[[], Any], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- the simulator ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nrc(municipality: Municipality) -> Iterator[Municipal]:
    with running_alone(NotificatiesSimulator, municipality) as running:
        yield running


def token(world: Municipal, *, secret: str | None = None, age_s: float = 0) -> str:
    entry = world.config["sources"]["notificaties"]
    claims = {"iss": "gemeentegraaf-tests", "iat": int(time.time() - age_s), "client_id": entry["client_id"],
              "user_id": "tests", "user_representation": "Tests"}
    return jwt.encode(claims, secret or entry["secret"], algorithm="HS256")


@pytest.fixture
def client(nrc: Municipal) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=nrc.urls["notificaties"], headers={"Authorization": f"Bearer {token(nrc)}"}) as c:
        yield c


def sim_of(world: Municipal) -> NotificatiesSimulator:
    sim = world.simulators["notificaties"]
    assert isinstance(sim, NotificatiesSimulator)
    return sim


def invalid_params(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert_conforms("/abonnement", "post", response)  # the ValidatieFout schema
    return [(p["name"], p["code"]) for p in response.json()["invalidParams"]]


def message(**changes: Any) -> dict[str, Any]:
    zaak = "http://127.0.0.1:8101/zaken/api/v1/zaken/6f2f3b2e-1111-4222-8333-944455556666"
    body = {
        "kanaal": "zaken", "hoofdObject": zaak, "resource": "status",
        "resourceUrl": "http://127.0.0.1:8101/zaken/api/v1/statussen/0c1f3b2e-1111-4222-8333-944455556666",
        "actie": "create", "aanmaakdatum": "2026-01-05T10:00:00Z",
        "kenmerken": {"bronorganisatie": "035019591", "zaaktype": "http://127.0.0.1:8101/catalogi/api/v1/zaaktypen/a",
                      "vertrouwelijkheidaanduiding": "openbaar"},
    }
    return body | changes


def subscribe(client: httpx.Client, url: str, endpoint: Endpoint, kanalen: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/abonnement", json={"callbackUrl": url, "auth": endpoint.auth, "kanalen": kanalen})


# --- authentication ------------------------------------------------------------------------------------


def test_every_call_needs_a_valid_zgw_jwt_and_is_refused_with_403(nrc: Municipal) -> None:
    forged = token(nrc, secret="not-the-secret-of-this-client-at-all")
    cases = [({}, "not_authenticated"),
             ({"Authorization": f"Bearer {forged}"}, "permission_denied"),
             ({"Authorization": f"Bearer {token(nrc, age_s=3700)}"}, "permission_denied")]
    with httpx.Client(base_url=nrc.urls["notificaties"]) as c:
        for headers, code in cases:
            for method, path in (("GET", "/kanaal"), ("GET", "/abonnement"), ("POST", "/notificaties")):
                r = c.request(method, path, headers=headers, json={})
                assert r.status_code == 403
                assert r.headers["content-type"] == "application/problem+json"
                assert r.headers["api-version"] == "1.0.1"
                assert r.json()["code"] == code
                assert_conforms("/kanaal", "get", r)


# --- kanalen -------------------------------------------------------------------------------------------


def test_the_zgw_kanalen_are_registered_with_their_kenmerken(client: httpx.Client, nrc: Municipal) -> None:
    r = client.get("/kanaal")
    assert r.status_code == 200
    assert_conforms("/kanaal", "get", r)
    kanalen = {k["naam"]: k for k in r.json()}
    assert {"zaken", "documenten", "besluiten", "autorisaties"} <= set(kanalen)
    assert kanalen["zaken"]["filters"] == ["bronorganisatie", "zaaktype", "vertrouwelijkheidaanduiding"]
    assert kanalen["autorisaties"]["filters"] == []
    assert [k["naam"] for k in client.get("/kanaal", params={"naam": "zaken"}).json()] == ["zaken"]
    one = client.get(kanalen["besluiten"]["url"])
    assert_conforms("/kanaal/{uuid}", "get", one)
    assert one.json() == kanalen["besluiten"]
    missing = client.get("/kanaal/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert_conforms("/kanaal/{uuid}", "get", missing)
    assert invalid_params(client.get("/kanaal", params={"name": "zaken"})) == [("nonFieldErrors",
                                                                               "unknown-parameters")]


def test_a_source_registers_its_own_kanaal_once(client: httpx.Client) -> None:
    body = {"naam": "objecten", "documentatieLink": "https://example.org/objecten", "filters": ["objectType"]}
    r = client.post("/kanaal", json=body)
    assert r.status_code == 201
    assert_conforms("/kanaal", "post", r)
    assert r.headers["location"] == r.json()["url"]
    assert client.get(r.headers["location"]).json()["filters"] == ["objectType"]
    assert invalid_params(client.post("/kanaal", json=body)) == [("naam", "unique")]
    assert invalid_params(client.post("/kanaal", json={"documentatieLink": "geen url"})) == [
        ("naam", "required"), ("documentatieLink", "invalid")]
    r = client.post("/kanaal", content=b"naam=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


# --- abonnementen --------------------------------------------------------------------------------------


def test_subscribing_checks_the_callback_without_and_with_its_auth(client: httpx.Client, receiver: Receiver,
                                                                   nrc: Municipal) -> None:
    url, endpoint = receiver.add("checked")
    r = subscribe(client, url, endpoint, [{"naam": "zaken", "filters": {"bronorganisatie": "035019591"}}])
    assert r.status_code == 201, r.text
    assert_conforms("/abonnement", "post", r)
    body = r.json()
    assert "auth" not in body  # write-only
    assert body["callbackUrl"] == url
    assert body["kanalen"] == [{"filters": {"bronorganisatie": "035019591"}, "naam": "zaken"}]
    assert r.headers["location"] == body["url"]
    assert [auth for auth, _ in endpoint.calls] == [None, endpoint.auth]
    assert endpoint.calls[0][1]["kanaal"] == "test"
    read = client.get(body["url"])
    assert_conforms("/abonnement/{uuid}", "get", read)
    assert read.json() == body
    listed = client.get("/abonnement")
    assert_conforms("/abonnement", "get", listed)
    assert body in listed.json()
    purposes = [d["purpose"] for d in client.get(f"{nrc_root(nrc)}/_demo/deliveries").json()["deliveries"]
                if d["callbackUrl"] == url]
    assert purposes == ["auth-check", "callback-check"]


def nrc_root(world: Municipal) -> str:
    return world.urls["notificaties"].removesuffix(NotificatiesSimulator.base_path)


def notificaties_to(client: httpx.Client, world: Municipal, *urls: str) -> list[dict[str, Any]]:
    """Delivery attempts of real notificaties (not callback checks) to these callbacks, from the control plane."""
    return [d for d in client.get(f"{nrc_root(world)}/_demo/deliveries").json()["deliveries"]
            if d["purpose"] == "notificatie" and d["callbackUrl"] in urls]


@pytest.mark.parametrize(("mode", "expected"), [
    ("open", [("callbackUrl", "no-auth-on-callback-url")]),
    ("ok200", [("nonFieldErrors", "invalid-callback-url")]),
])
def test_a_callback_that_is_unprotected_or_does_not_answer_204_is_refused(
        client: httpx.Client, receiver: Receiver, mode: str, expected: list[tuple[str, str]]) -> None:
    url, endpoint = receiver.add(f"bad-{mode}", mode)
    assert invalid_params(subscribe(client, url, endpoint, [{"naam": "zaken"}])) == expected


def test_an_unreachable_callback_is_refused(client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}/nobody"
    r = client.post("/abonnement", json={"callbackUrl": url, "auth": "Bearer x", "kanalen": [{"naam": "zaken"}]})
    assert invalid_params(r) == [("callbackUrl", "invalid-callback-url")]


def test_abonnement_validation(client: httpx.Client, receiver: Receiver) -> None:
    assert invalid_params(client.post("/abonnement", json={})) == [
        ("callbackUrl", "required"), ("auth", "required"), ("kanalen", "required")]
    url, endpoint = receiver.add("validation")
    assert invalid_params(subscribe(client, url, endpoint, [{"filters": {}}])) == [("kanalen.0.naam", "required")]
    assert invalid_params(subscribe(client, url, endpoint, [{"naam": "bestaat-niet"}])) == [("naam", "kanaal_naam")]
    assert invalid_params(subscribe(client, url, endpoint, [{"naam": "zaken", "filters": {"kleur": "rood"}}])) == [
        ("filters", "inconsistent-abonnement-filters")]
    assert invalid_params(client.post("/abonnement", json={"callbackUrl": "geen-url", "auth": "x",
                                                           "kanalen": []})) == [("callbackUrl", "invalid")]
    assert invalid_params(client.get("/abonnement", params={"page": "1"})) == [("nonFieldErrors",
                                                                               "unknown-parameters")]


def test_changing_an_abonnement_repeats_the_checks_and_replaces_its_kanalen(client: httpx.Client,
                                                                            receiver: Receiver) -> None:
    url, endpoint = receiver.add("changing")
    created = subscribe(client, url, endpoint, [{"naam": "zaken"}]).json()
    # PATCH without auth: the callback check goes out unauthenticated and the protected receiver refuses it
    r = client.patch(created["url"], json={"kanalen": [{"naam": "besluiten"}]})
    assert invalid_params(r) == [("nonFieldErrors", "invalid-callback-url")]
    r = client.patch(created["url"], json={"auth": endpoint.auth, "kanalen": [{"naam": "besluiten"}]})
    assert r.status_code == 200
    assert_conforms("/abonnement/{uuid}", "patch", r)
    assert r.json()["kanalen"] == [{"filters": {}, "naam": "besluiten"}]
    r = client.put(created["url"], json={"callbackUrl": url, "auth": endpoint.auth,
                                         "kanalen": [{"naam": "documenten", "filters": {"bronorganisatie": "*"}}]})
    assert_conforms("/abonnement/{uuid}", "put", r)
    assert r.json()["kanalen"] == [{"filters": {"bronorganisatie": "*"}, "naam": "documenten"}]
    assert invalid_params(client.put(created["url"], json={"auth": endpoint.auth})) == [
        ("callbackUrl", "required"), ("kanalen", "required")]
    r = client.patch(created["url"], json={"auth": endpoint.auth})
    assert r.json()["kanalen"] == []  # Open Notificaties recreates the kanalen from the request
    assert client.delete(created["url"]).status_code == 204
    assert client.get(created["url"]).status_code == 404


# --- notificaties --------------------------------------------------------------------------------------


def test_a_notificatie_reaches_the_matching_subscribers_with_their_auth(client: httpx.Client, receiver: Receiver,
                                                                        nrc: Municipal) -> None:
    msg = message()
    zaaktype = msg["kenmerken"]["zaaktype"]
    hits = {}
    for name, kanalen in (
        ("same-type", [{"naam": "zaken", "filters": {"zaaktype": zaaktype}}]),
        ("any-type", [{"naam": "zaken", "filters": {"zaaktype": "*", "bronorganisatie": "035019591"}}]),
        ("other-type", [{"naam": "zaken", "filters": {"zaaktype": "http://elders/zaaktypen/b"}}]),
        ("documents", [{"naam": "documenten"}]),
    ):
        url, endpoint = receiver.add(f"route-{name}")
        assert subscribe(client, url, endpoint, kanalen).status_code == 201
        hits[name] = endpoint
    r = client.post("/notificaties", json=msg)
    assert r.status_code == 201
    assert_conforms("/notificaties", "post", r, status=200)  # the OAS documents the answer as a 200
    assert r.json() == msg
    wait_for(lambda: hits["same-type"].messages and hits["any-type"].messages)
    assert hits["same-type"].messages == [msg]
    assert hits["any-type"].messages == [msg]
    ours = [f"http://127.0.0.1:{receiver.port}/hook/route-{name}" for name in hits]
    wait_for(lambda: len(notificaties_to(client, nrc, *ours)) == 2)  # recorded once the receiver has answered
    delivered = notificaties_to(client, nrc, *ours)
    assert sorted(d["authorization"] for d in delivered) == sorted([hits["same-type"].auth, hits["any-type"].auth])
    assert {d["status"] for d in delivered} == {204}
    assert not hits["other-type"].messages
    assert not hits["documents"].messages


def test_a_failing_subscriber_does_not_fail_the_publisher_and_is_retried(client: httpx.Client,
                                                                         receiver: Receiver, nrc: Municipal) -> None:
    url, endpoint = receiver.add("failing")
    assert subscribe(client, url, endpoint, [{"naam": "besluiten"}]).status_code == 201
    endpoint.mode = "fail"
    sim = sim_of(nrc)
    sim.retry_delays_s = (0.05,)
    try:
        msg = message(kanaal="besluiten", kenmerken={"besluittype": "http://x/besluittypen/1"})
        r = client.post("/notificaties", json=msg)
        assert r.status_code == 201
        wait_for(lambda: len(notificaties_to(client, nrc, url)) == 2)
        attempts = notificaties_to(client, nrc, url)
        assert [(d["attempt"], d["status"]) for d in attempts] == [(1, 500), (2, 500)]
        assert len(endpoint.messages) == 2
        assert attempts[0]["error"].startswith("Could not send notification: status 500")
    finally:
        sim.retry_delays_s = (3.0, 12.0, 48.0, 48.0, 48.0)
        for abonnement in client.get("/abonnement").json():
            if abonnement["callbackUrl"] == url:
                client.delete(abonnement["url"])  # no retries left pending when the module's server stops


@pytest.mark.parametrize(("changes", "expected"), [
    ({"kanaal": "bestaat-niet"}, [("kanaal", "message_kanaal")]),
    ({"kenmerken": {"kleur": "rood"}}, [("kenmerken", "kenmerken_inconsistent")]),
    ({"aanmaakdatum": "gisteren"}, [("aanmaakdatum", "invalid")]),
    ({"hoofdObject": "geen-url", "actie": ""}, [("hoofdObject", "invalid"), ("actie", "blank")]),
    ({"kenmerken": {"zaaktype": 5}}, [("kenmerken.zaaktype", "invalid")]),
])
def test_notificatie_validation(client: httpx.Client, changes: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert invalid_params(client.post("/notificaties", json=message(**changes))) == expected


def test_notificatie_fields_are_required(client: httpx.Client) -> None:
    assert invalid_params(client.post("/notificaties", json={})) == [
        (name, "required") for name in ("kanaal", "hoofdObject", "resource", "resourceUrl", "actie", "aanmaakdatum")]


def test_kenmerken_are_camelized_and_the_datetime_normalised(client: httpx.Client) -> None:
    msg = message(kanaal="besluiten", aanmaakdatum="2026-01-05T10:00:00.123456+00:00",
                  kenmerken={"verantwoordelijke_organisatie": "035019591", "besluittype": "http://x/bt/1"})
    body = client.post("/notificaties", json=msg).json()
    assert body["kenmerken"] == {"verantwoordelijkeOrganisatie": "035019591", "besluittype": "http://x/bt/1"}
    assert body["aanmaakdatum"] == "2026-01-05T10:00:00.123Z"
