"""Live updates through real HTTP and WebSocket (graphql-transport-ws): gateways served by uvicorn on ports of
their own, the demo's Notificaties simulator calling back, writes through the demo's own APIs, and a real Redis
between two replicas. Upstream calls are counted with the simulators' own request logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from demo.model import Municipality
from demo.notificaties import NotificatiesSimulator
from demo.runner import Municipal, free_port
from demo.signalen import SignalenSimulator
from demo.zgw import ZgwSimulator
from graph.app import create_app
from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError
from graph.events import LocalBus
from tests.conftest import LOGBOEK, PURPOSE, employee_headers, gateway_settings, serving
from tests.gateway.test_invalidation import open_zaken, post_status, settings_for, wait_for, zgw_client
from tests.redis_server import RedisServer, _binary

PROTOCOL = "graphql-transport-ws"
MELDINGEN = "https://register.gemeente.example/verwerkingsactiviteiten/meldingen-openbare-ruimte/1"
ZAAK = """subscription Volgen($url: String!) {
  zaakGewijzigd(url: $url) { identificatie status { url statustype { omschrijving } } }
}"""
ZAKEN_VAN = f"""subscription ZakenVanPersoon($bsn: String!) @verwerking(activiteit: "{PURPOSE}") {{
  zakenGewijzigd(bsn: $bsn) {{ url status {{ url }} rollen {{ inpBsn }} }}
}}"""


# -- a graphql-transport-ws client, as a browser's library would speak it ------------------------------------


class Socket:
    """One websocket connection to a gateway; ``init`` sends ``connection_init`` and waits for its ack."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(message).decode())

    async def receive(self, within_s: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(within_s):
            found: dict[str, Any] = orjson.loads(await self.connection.recv())
        return found

    async def init(self, payload: dict[str, Any] | None = None) -> None:
        await self.send({"type": "connection_init", "payload": payload or {}})
        assert (await self.receive())["type"] == "connection_ack"

    async def subscribe(self, ident: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"id": ident, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})


@contextlib.asynccontextmanager
async def websocket(base: str, headers: dict[str, str] | None = None) -> AsyncIterator[Socket]:
    url = base.replace("http://", "ws://") + "/graphql"
    async with connect(url, subprotocols=[PROTOCOL], additional_headers=headers or {}, open_timeout=10) as ws:  # type: ignore[list-item]
        yield Socket(ws)


def browser_payload(demo: Municipal, purpose: str = PURPOSE, **mint: Any) -> dict[str, str]:
    """What a browser sends in connection_init: it cannot set headers on a websocket."""
    headers = employee_headers(demo, **mint)
    return {"Authorization": headers["Authorization"], PURPOSE_HEADER: purpose}


def gateway_only(demo: Municipal, **gateway: Any) -> Any:
    """The demo's configuration without the Notificaties abonnement (a replica that is not called back)."""
    return gateway_settings({**demo.config, "gateway": {**demo.config["gateway"], **gateway}})


def zaken_requests(zgw: ZgwSimulator) -> list[dict[str, Any]]:
    return [r for r in list(zgw.recent) if r["path"].startswith("/zaken/api/v1/zaken")]


@pytest.fixture
def nrc(demo: Municipal) -> Iterator[NotificatiesSimulator]:
    sim = demo.simulators["notificaties"]
    assert isinstance(sim, NotificatiesSimulator)
    before = set(sim.abonnementen)
    yield sim
    for uuid in set(sim.abonnementen) - before:
        sim.abonnementen.pop(uuid, None)


@pytest.fixture
def zgw(demo: Municipal) -> Iterator[ZgwSimulator]:
    sim = demo.simulators["zaken"]
    assert isinstance(sim, ZgwSimulator)
    yield sim
    sim.reset()


async def wait_until(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# -- zaken, fed by the Notificaties callback ---------------------------------------------------------------


async def test_a_subscriber_sees_a_new_status_within_a_second_and_leaves_nothing_behind(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality
) -> None:
    """A browser-style client (token and purpose in connection_init) follows one zaak; a status written through
    the demo's Zaken API reaches it through the callback, resolved afresh; closing the socket ends it all."""
    port = free_port()
    app = create_app(settings_for(demo, port, f"Bearer {secrets.token_urlsafe(24)}"))
    zaak, other = random.sample(open_zaken(municipality), 2)
    url = f"{demo.urls['zaken']}/zaken/{zaak.uuid}"
    with serving(app, port) as base, zgw_client(demo) as rest:
        wait_for(lambda: app.state.notifications.abonnement is not None)
        async with websocket(base) as ws:
            await ws.init(browser_payload(demo))
            await ws.subscribe("1", ZAAK, {"url": url})
            await wait_until(lambda: app.state.live.active == 1)

            post_status(rest, demo, municipality, other)  # another zaak's change: nothing for this subscriber
            new_status = post_status(rest, demo, municipality, zaak)
            written = time.monotonic()
            message = await ws.receive(within_s=1.0)
            assert time.monotonic() - written < 1.0
            assert message["type"] == "next" and message["id"] == "1", message
            answer = message["payload"]
            assert "errors" not in answer, answer
            assert answer["data"]["zaakGewijzigd"]["identificatie"] == zaak.identificatie
            assert answer["data"]["zaakGewijzigd"]["status"]["url"] == new_status  # the source's, not a cached one
            assert answer["data"]["zaakGewijzigd"]["status"]["statustype"]["omschrijving"]
            with pytest.raises(TimeoutError):  # the other zaak's message was not for this subscriber
                await ws.receive(within_s=0.3)

            await ws.send({"id": "1", "type": "complete"})
            await wait_until(lambda: app.state.live.active == 0)
            assert app.state.live.bus.subscribers() == 0
            await ws.subscribe("2", ZAAK, {"url": url})
            await wait_until(lambda: app.state.live.active == 1)
        await wait_until(lambda: app.state.live.active == 0)  # the socket closed: its subscription ended
        assert app.state.live.bus.subscribers() == 0


async def test_a_notification_reaching_one_replica_reaches_subscribers_on_another(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality, redis_url: str
) -> None:
    """Replica A has the abonnement (its callback is called), replica B only shares A's Redis; a subscriber on
    B, with its token in the handshake's headers, sees the change."""
    cache = {"backend": "redis", "url": redis_url}
    port = free_port()
    a = create_app(settings_for(demo, port, f"Bearer {secrets.token_urlsafe(24)}", cache=cache))
    b = create_app(gateway_only(demo, cache=cache))
    assert b.state.notifications is None
    zaak = random.choice(open_zaken(municipality))
    url = f"{demo.urls['zaken']}/zaken/{zaak.uuid}"
    with serving(a, port), serving(b) as base_b, zgw_client(demo) as rest:
        wait_for(lambda: a.state.notifications.abonnement is not None)
        async with websocket(base_b, employee_headers(demo)) as ws:
            await ws.init()
            await ws.subscribe("z", ZAAK, {"url": url})
            await wait_until(lambda: b.state.live.active == 1 and b.state.live.bus.listening.is_set())
            received = a.state.notifications.received

            new_status = post_status(rest, demo, municipality, zaak)
            written = time.monotonic()
            message = await ws.receive(within_s=1.0)
            assert time.monotonic() - written < 1.0
            assert message["payload"]["data"]["zaakGewijzigd"]["status"]["url"] == new_status, message
            assert a.state.notifications.received == received + 1  # the callback went to A ...
            assert b.state.live.bus.received >= 1  # ... and B heard of it through Redis


async def test_zaken_of_a_person_need_a_purpose_keep_the_bsn_out_of_urls_and_are_logged(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    app = create_app(settings_for(demo, port, f"Bearer {secrets.token_urlsafe(24)}"))
    zaak = next(z for z in open_zaken(municipality) if any(r.bsn for r in z.rollen))
    bsn = next(r.bsn for r in zaak.rollen if r.bsn)
    with serving(app, port) as base, zgw_client(demo) as rest:
        wait_for(lambda: app.state.notifications.abonnement is not None)
        payload = browser_payload(demo, purpose="")  # no purpose on the connection
        async with websocket(base) as ws:
            await ws.init(payload)
            await ws.subscribe("without", ZAKEN_VAN.replace(f'@verwerking(activiteit: "{PURPOSE}")', ""),
                               {"bsn": bsn})
            refused = await ws.receive()
            assert refused["type"] == "error" and refused["id"] == "without", refused
            assert refused["payload"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
            assert bsn not in orjson.dumps(refused).decode()

            await ws.subscribe("with", ZAKEN_VAN, {"bsn": bsn})  # @verwerking names it for this operation
            await wait_until(lambda: app.state.live.active == 1)
            zgw.reset_counts()
            new_status = post_status(rest, demo, municipality, zaak)
            message = await ws.receive(within_s=2.0)
            found = message["payload"]["data"]["zakenGewijzigd"]
            assert found["status"]["url"] == new_status, message
            assert bsn in [r["inpBsn"] for r in found["rollen"]]
            asked = zaken_requests(zgw)
            assert asked and all(bsn not in r["path"] + r["query"] for r in asked)
            assert any(r["method"] == "POST" and bsn in orjson.dumps(r["body"]).decode() for r in asked)

    assert "PURPOSE_REQUIRED" in caplog.text  # the gateway's log lines were captured, and hold neither:
    assert bsn not in caplog.text and payload["Authorization"].split()[1] not in caplog.text
    records = [orjson.loads(line) for line in LOGBOEK.read_bytes().splitlines()]
    mine = [r for r in records if r["name"] == "ZakenVanPersoon"]
    assert mine, "the event wrote no processing-log record"
    assert {r["attributes"]["dpl.core.data_subject_id"] for r in mine} == {bsn}
    assert {r["attributes"]["dpl.core.processing_activity_id"] for r in mine} == {PURPOSE}


async def test_a_failing_source_nulls_one_event_and_the_subscription_goes_on(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality
) -> None:
    """The Notificaties API's part is played by the test here: it posts to the callback as the API would."""
    auth, port = f"Bearer {secrets.token_urlsafe(24)}", free_port()
    app = create_app(settings_for(demo, port, auth))
    zaak = random.choice(open_zaken(municipality))
    url = f"{demo.urls['zaken']}/zaken/{zaak.uuid}"
    message = {"kanaal": "zaken", "hoofdObject": url, "resource": "zaak", "resourceUrl": url,
               "actie": "partial_update", "aanmaakdatum": "2026-11-30T12:00:00Z", "kenmerken": {}}
    with serving(app, port) as base:
        async with websocket(base) as ws, httpx.AsyncClient(base_url=base) as callback:
            await ws.init(browser_payload(demo))
            await ws.subscribe("1", ZAAK, {"url": url})
            await wait_until(lambda: app.state.live.active == 1)
            for failing in (False, True, False):
                zgw.behaviour.error_rate = 1.0 if failing else 0.0
                try:
                    told = await callback.post("/_notificaties", json=message, headers={"Authorization": auth})
                    assert told.status_code == 204
                    event = (await ws.receive())["payload"]
                finally:
                    zgw.behaviour.error_rate = 0.0
                if failing:
                    assert event["data"] == {"zaakGewijzigd": None}, event
                    assert event["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
                else:
                    assert event["data"]["zaakGewijzigd"]["identificatie"] == zaak.identificatie, event
            assert app.state.live.active == 1


# -- refusals -------------------------------------------------------------------------------------------------


async def test_unauthenticated_websockets_are_refused(demo: Municipal) -> None:
    app = create_app(gateway_only(demo))
    with serving(app) as base:
        with pytest.raises(InvalidStatus) as handshake:  # a wrong header: refused before the socket opens
            async with websocket(base, {"Authorization": "Bearer not-a-token"}):
                pass
        assert handshake.value.response.status_code == 403
        for payload in ({}, {"Authorization": "Bearer not-a-token"},
                        {"Authorization": employee_headers(demo, expired=True)["Authorization"]}):
            async with websocket(base) as ws:
                await ws.send({"type": "connection_init", "payload": payload})
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.receive()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, payload
        async with websocket(base) as ws:  # no connection_init at all: nothing may be subscribed
            await ws.subscribe("1", ZAAK, {"url": f"{demo.urls['zaken']}/zaken/{secrets.token_hex(4)}"})
            with pytest.raises(ConnectionClosed) as closed:
                await ws.receive()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert app.state.live.active == 0


async def test_missing_scope_bad_input_and_queries_get_graphql_errors(
    demo: Municipal, municipality: Municipality
) -> None:
    app = create_app(gateway_only(demo))
    url = f"{demo.urls['zaken']}/zaken/{random.choice(open_zaken(municipality)).uuid}"
    with serving(app) as base:
        async with websocket(base) as ws:
            await ws.init(browser_payload(demo, scopes=["signalen:lezen"]))
            cases = {
                "scope": (ZAAK, {"url": url}, "FORBIDDEN"),
                "melding": ('subscription { meldingGewijzigd(id: "SIG-1") { id } }', {}, "BAD_USER_INPUT"),
                "query": ('{ meldingen(first: 1) { totalCount } }', {}, "BAD_USER_INPUT"),
            }
            for ident, (query, variables, _) in cases.items():
                await ws.subscribe(ident, query, variables)
            answers = {}
            for _ in cases:
                message = await ws.receive()
                answers[message["id"]] = message
            for ident, (_, _, code) in cases.items():
                assert answers[ident]["type"] == "error", answers[ident]
                assert answers[ident]["payload"][0]["extensions"]["code"] == code, answers[ident]
            assert answers["scope"]["payload"][0]["extensions"]["scope"] == "zaken:lezen"
        async with websocket(base) as ws:  # with the scope, input is checked before anything is asked
            await ws.init(browser_payload(demo))
            await ws.subscribe("url", ZAAK, {"url": "https://elders.example/zaken/api/v1/zaken/x"})
            await ws.subscribe("bsn", ZAKEN_VAN, {"bsn": "123456789"})
            codes = {}
            for _ in range(2):
                message = await ws.receive()
                codes[message["id"]] = message["payload"][0]["extensions"]["code"]
            assert codes == {"url": "BAD_USER_INPUT", "bsn": "BAD_USER_INPUT"}
        async with httpx.AsyncClient(base_url=base, headers=employee_headers(demo)) as http:
            over_http = await http.post("/graphql", json={"query": ZAAK, "variables": {"url": url}})
            assert "websocket" in over_http.json()["errors"][0]["message"], over_http.text  # never a null answer
            assert over_http.json().get("data") is None
        assert app.state.live.active == 0


async def test_a_subscription_ends_when_its_token_expires(demo: Municipal, municipality: Municipality) -> None:
    app = create_app(gateway_only(demo))
    url = f"{demo.urls['zaken']}/zaken/{random.choice(open_zaken(municipality)).uuid}"
    with serving(app) as base:
        async with websocket(base) as ws:
            await ws.init(browser_payload(demo, lifetime_s=2))
            await ws.subscribe("1", ZAAK, {"url": url})
            await wait_until(lambda: app.state.live.active == 1)
            ended = await ws.receive(within_s=10.0)
            assert ended["type"] == "next" and ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert (await ws.receive())["type"] == "complete"
            assert app.state.live.active == 0 and app.state.live.bus.subscribers() == 0


# -- meldingen, found by polling Signalen ----------------------------------------------------------------------


@pytest.fixture
def signalen(demo: Municipal) -> SignalenSimulator:
    sim = demo.simulators["signalen"]
    assert isinstance(sim, SignalenSimulator)
    return sim


def list_calls(sim: SignalenSimulator) -> int:
    return sum(1 for r in list(sim.recent) if r["route"].rstrip("/").endswith("/private/signals"))


async def test_a_melding_status_change_is_seen_by_polling_only_while_someone_listens(
    demo: Municipal, signalen: SignalenSimulator, municipality: Municipality
) -> None:
    melding = random.choice([m for m in municipality.meldingen.values() if m.statussen[-1].state != "b"])
    app = create_app(gateway_only(demo, live={"poll_interval_s": 0.2}))
    live = app.state.live
    query = """subscription Melding($id: ID!) { meldingGewijzigd(id: $id) { id status { code toelichting } } }"""
    signalen.reset_counts()
    with serving(app) as base:
        await asyncio.sleep(0.5)
        assert list_calls(signalen) == 0  # nobody listens: Signalen is not asked
        async with websocket(base) as ws:
            await ws.init(browser_payload(demo, purpose=MELDINGEN))
            await ws.subscribe("m", query, {"id": str(melding.id)})
            await wait_until(lambda: live.active == 1 and live.polls.rounds("signalen") >= 1)

            token = demo.config["sources"]["signalen"]["token"]
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as back_office:
                try:
                    changed = await back_office.patch(f"{demo.urls['signalen']}/private/signals/{melding.id}",
                                                      json={"status": {"state": "b", "text": "Opgepakt door de test"}})
                    assert changed.status_code == 200, changed.text
                    message = await ws.receive(within_s=5.0)
                finally:
                    signalen.reset_signal(melding.id)  # the session's other tests see the generated melding
            assert message["type"] == "next", message
            assert message["payload"]["data"]["meldingGewijzigd"] == {
                "id": str(melding.id), "status": {"code": "b", "toelichting": "Opgepakt door de test"}}
            assert list_calls(signalen) >= 2  # the round that noted where to start, and the one that found it
        await wait_until(lambda: live.active == 0 and not live.polls.running("signalen"))
        stopped = list_calls(signalen)
        await asyncio.sleep(1.0)  # five intervals
        assert list_calls(signalen) == stopped  # nobody listens any more: no more polling


# -- bounded, and working without Redis -------------------------------------------------------------------


async def test_a_slow_subscriber_holds_a_bounded_buffer_of_coalesced_events() -> None:
    bus = LocalBus()
    slow = bus.subscribe("t", key=lambda event: event["zaak"], max_pending=10)
    for n in range(1000):  # a busy zaak changes often: one waiting event each, the newest
        await bus.publish("t", {"zaak": str(n % 5), "n": str(n)})
    assert (slow.waiting, slow.dropped) == (5, 0)
    for n in range(20):  # many zaken change: never more than ten wait, the oldest go first
        await bus.publish("t", {"zaak": f"other-{n}", "n": str(n)})
    assert (slow.waiting, slow.dropped) == (10, 15)
    assert await slow.next(0) == {"zaak": "other-10", "n": "10"}
    slow.close()
    await bus.publish("t", {"zaak": "1", "n": "1"})
    assert slow.waiting == 0 and bus.subscribers() == 0


async def test_without_redis_subscribers_on_the_replica_that_is_called_back_still_see_events(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = RedisServer(_binary("this test stops a Redis of its own"), tmp_path_factory.mktemp("redis-away"))
    server.start()
    try:
        port = free_port()
        app = create_app(settings_for(demo, port, f"Bearer {secrets.token_urlsafe(24)}",
                                      cache={"backend": "redis", "url": server.url}))
        zaak = random.choice(open_zaken(municipality))
        with serving(app, port) as base, zgw_client(demo) as rest:
            wait_for(lambda: app.state.notifications.abonnement is not None)
            async with websocket(base) as ws:
                await ws.init(browser_payload(demo))
                await ws.subscribe("z", ZAAK, {"url": f"{demo.urls['zaken']}/zaken/{zaak.uuid}"})
                await wait_until(lambda: app.state.live.active == 1 and app.state.live.bus.listening.is_set())
                server.stop()  # Redis is gone, as in a crash
                for _ in range(2):  # and stays gone for more than one event
                    new_status = post_status(rest, demo, municipality, zaak)
                    message = await ws.receive(within_s=5.0)
                    assert message["payload"]["data"]["zaakGewijzigd"]["status"]["url"] == new_status, message
                assert not app.state.live.bus.listening.is_set()  # it noticed, and delivered here all the same
    finally:
        server.stop()


@pytest.mark.parametrize(("live", "named"), [
    ({"poll_interval_s": 0}, "poll_interval_s must be a number of seconds > 0"),
    ({"max_pending": 2.5}, "max_pending must be a whole number >= 1"),
    ({"max_pending": True}, "max_pending must be a whole number >= 1"),
    ({"poll_interval": 5}, "unknown key 'poll_interval' (did you mean 'poll_interval_s'?)"),
])
def test_a_wrong_live_setting_stops_the_start_naming_the_key(
    demo: Municipal, live: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(gateway_only(demo, live=live))
    assert named in str(refused.value)
