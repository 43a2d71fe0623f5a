"""Cache invalidation from the Notificaties API, through real HTTP: the gateway is served on a port of its own,
subscribes with the demo's Notificaties simulator, and a write through the demo's Zaken write API reaches its
callback. Upstream calls are counted with the ZGW simulator's own counters (``/_demo/requests``)."""

from __future__ import annotations

import datetime as dt
import logging
import random
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from demo.model import Municipality
from demo.notificaties import NotificatiesSimulator
from demo.runner import Municipal, free_port
from demo.zgw import ZgwSimulator
from graph.app import create_app
from tests.conftest import employee_headers, gateway_settings, serving

KANALEN = ["zaken", "documenten", "besluiten", "zaaktypen", "informatieobjecttypen", "besluittypen"]
QUERY = "query($u: ID!) { zaak(uuid: $u) { identificatie status { url } } }"
ZOEK = "POST /zaken/api/v1/zaken/_zoek"


# -- the world around one test ---------------------------------------------------------------------------


def settings_for(demo: Municipal, port: int, auth: str, **gateway: Any) -> Any:
    """The demo's configuration with caching on and the callback on ``port``."""
    sources = {name: dict(table) for name, table in demo.config["sources"].items()}
    for name in ("zaken", "documenten", "besluiten"):
        sources[name]["cache_ttl_s"] = 30
    notifications = {"source": "notificaties", "callback_url": f"http://127.0.0.1:{port}/_notificaties",
                     "auth": auth, "kanalen": KANALEN}
    config = {**demo.config, "sources": sources,
              "gateway": {**demo.config["gateway"], "notifications": notifications, **gateway}}
    return gateway_settings(config, caching=True, notify=True)


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def nrc(demo: Municipal) -> Iterator[NotificatiesSimulator]:
    """The Notificaties simulator; abonnementen the test made are removed afterwards."""
    sim = demo.simulators["notificaties"]
    assert isinstance(sim, NotificatiesSimulator)
    before = set(sim.abonnementen)
    yield sim
    for uuid in set(sim.abonnementen) - before:
        sim.abonnementen.pop(uuid, None)


@pytest.fixture
def zgw(demo: Municipal) -> Iterator[ZgwSimulator]:
    """The ZGW simulator; the test's writes are undone afterwards."""
    sim = demo.simulators["zaken"]
    assert isinstance(sim, ZgwSimulator)
    yield sim
    sim.reset()


def mine(nrc: NotificatiesSimulator, port: int) -> list[Any]:
    return [a for a in list(nrc.abonnementen.values()) if a.callback_url == f"http://127.0.0.1:{port}/_notificaties"]


def zgw_client(demo: Municipal) -> httpx.Client:
    """A client of the Zaken API itself, as another application writing to it."""
    entry = demo.config["sources"]["zaken"]
    claims = {"iss": "test", "iat": int(time.time()), "client_id": entry["client_id"], "user_id": "test",
              "user_representation": "Test"}
    token = jwt.encode(claims, entry["secret"], algorithm="HS256")
    return httpx.Client(headers={"Authorization": f"Bearer {token}", "Accept-Crs": "EPSG:4326"})


def zoek_count(demo: Municipal) -> int:
    """``POST /zaken/_zoek`` calls the ZGW simulator counted (its ``/_demo/requests``)."""
    host = urlsplit(demo.urls["zaken"])
    counts = httpx.get(f"{host.scheme}://{host.netloc}/_demo/requests").json()["routes"]
    return int(counts.get(ZOEK, 0))


def open_zaken(municipality: Municipality) -> list[Any]:
    return [z for z in municipality.zaken.values() if z.einddatum is None and z.statussen]


# -- the callback -------------------------------------------------------------------------------------------


async def test_the_callback_refuses_a_wrong_authorization_and_a_malformed_body(
    demo: Municipal, caplog: pytest.LogCaptureFixture
) -> None:
    auth = f"Bearer {secrets.token_urlsafe(24)}"
    app = create_app(settings_for(demo, free_port(), auth))
    message = {"kanaal": "zaken", "hoofdObject": "https://elders.example/zaken/1", "resource": "zaak",
               "resourceUrl": "https://elders.example/zaken/1", "actie": "update",
               "aanmaakdatum": "2026-01-01T12:00:00Z", "kenmerken": {}}
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        try:
            for headers in ({}, {"Authorization": auth[:-1]}, {"Authorization": auth + "x"},
                            {"Authorization": auth.removeprefix("Bearer ")}):
                refused = await client.post("/_notificaties", json=message, headers=headers)
                assert refused.status_code == 403, headers
            right = {"Authorization": auth}
            assert (await client.post("/_notificaties", content=b"{no json", headers=right)).status_code == 400
            assert (await client.post("/_notificaties", json=[message], headers=right)).status_code == 400
            incomplete = {k: v for k, v in message.items() if k != "resourceUrl"}
            assert (await client.post("/_notificaties", json=incomplete, headers=right)).status_code == 400
            assert (await client.post("/_notificaties", json=message, headers=right)).status_code == 204
            assert (await client.get("/_notificaties", headers=right)).status_code == 405
            assert app.state.notifications.received == 1
        finally:
            await app.state.sources.aclose()
            await app.state.authenticator.aclose()
    assert auth.split()[1] not in caplog.text
    assert auth.split()[1] not in repr(app.state.notifications.settings)


# -- the abonnement -----------------------------------------------------------------------------------------


def test_the_abonnement_is_made_once_and_replaced_on_a_restart(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality
) -> None:
    port = free_port()
    nrc.reset_counts()
    first = create_app(settings_for(demo, port, f"Bearer {secrets.token_urlsafe(24)}"))
    with serving(first, port):
        wait_for(lambda: first.state.notifications.abonnement is not None)
    [made] = mine(nrc, port)
    assert first.state.notifications.abonnement.endswith(f"/abonnement/{made.uuid}")
    assert [naam for naam, _ in made.kanalen] == KANALEN

    renewed = f"Bearer {secrets.token_urlsafe(24)}"  # a restart with another secret: the abonnement follows
    second = create_app(settings_for(demo, port, renewed))
    with serving(second, port):
        wait_for(lambda: second.state.notifications.abonnement is not None)
        assert [a.uuid for a in mine(nrc, port)] == [made.uuid]  # the same one, not a second
        assert made.auth == renewed
        writes = [(r["method"], r["path"].rsplit("/", 1)[-1] == made.uuid) for r in list(nrc.recent)
                  if r["headers"].get("user-agent", "").startswith("gemeentegraaf/") and r["method"] != "GET"
                  and r["status"] < 300]  # an attempt before the gateway listened is refused, and retried
        assert writes == [("POST", False), ("PUT", True)]
        # and messages now reach the restarted gateway with its new secret
        zaak = open_zaken(municipality)[0]
        with zgw_client(demo) as client:
            status = post_status(client, demo, municipality, zaak)
        wait_for(lambda: any(d["message"]["resourceUrl"] == status and d["status"] == 204
                             for d in list(nrc.deliveries) if d["purpose"] == "notificatie"), 5)
        assert second.state.notifications.received >= 1


def post_status(client: httpx.Client, demo: Municipal, municipality: Municipality, zaak: Any) -> str:
    """A new (not final) status for ``zaak`` through the demo's write API; its URL."""
    zaaktype = municipality.zaaktype(zaak.zaaktype_uuid)
    statustype = next(st for st in zaaktype.statustypen if not st.is_eindstatus)
    body = {"zaak": f"{demo.urls['zaken']}/zaken/{zaak.uuid}",
            "statustype": f"{demo.urls['catalogi']}/statustypen/{statustype.uuid}",
            "datumStatusGezet": dt.datetime.now(dt.UTC).isoformat()}
    response = client.post(f"{demo.urls['zaken']}/statussen", json=body)
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


# -- eviction -----------------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """``[gateway.cache]`` for the test: the in-process store, or a real Redis."""
    if request.param == "memory":
        yield {"backend": "memory"}
        return
    yield {"backend": "redis", "url": request.getfixturevalue("redis_url")}


async def test_a_status_change_evicts_the_cached_zaak_within_a_second(
    demo: Municipal, nrc: NotificatiesSimulator, zgw: ZgwSimulator, municipality: Municipality,
    backend: dict[str, Any],
) -> None:
    """With Redis, the zaak is asked through a second gateway that never subscribed: the first one's message
    supersedes what both keep."""
    port = free_port()
    settings = settings_for(demo, port, f"Bearer {secrets.token_urlsafe(24)}", cache=backend)
    subscribed = create_app(settings)
    other: Any = None
    changed, unrelated = random.sample(open_zaken(municipality), 2)  # apart from other runs on a shared REDIS_URL
    with serving(subscribed, port) as base, zgw_client(demo) as rest:
        wait_for(lambda: subscribed.state.notifications.abonnement is not None)
        if backend["backend"] == "redis":
            other = create_app(settings_for(demo, free_port(), "Bearer another", cache=backend))
            asker = httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="http://other")
        else:
            asker = httpx.AsyncClient(base_url=base)
        asker.headers.update(employee_headers(demo))

        async def status_of(zaak: Any) -> str:
            answer = (await asker.post("/graphql", json={"query": QUERY, "variables": {"u": zaak.uuid}})).json()
            assert "errors" not in answer, answer
            found: str = answer["data"]["zaak"]["status"]["url"]
            return found

        def rest_status(zaak: Any) -> str:
            found: str = rest.get(f"{demo.urls['zaken']}/zaken/{zaak.uuid}").json()["status"]
            return found

        try:
            before = zoek_count(demo)
            assert await status_of(changed) == rest_status(changed)
            assert await status_of(unrelated) == rest_status(unrelated)
            assert zoek_count(demo) == before + 2  # one _zoek each
            await status_of(changed)
            await status_of(unrelated)
            assert zoek_count(demo) == before + 2  # both from the cache

            new_status = post_status(rest, demo, municipality, changed)
            written = time.monotonic()
            assert rest_status(changed) == new_status
            seen = None
            while time.monotonic() - written < 2.0:
                seen = await status_of(changed)
                if zoek_count(demo) > before + 2:
                    break
            evicted_after = time.monotonic() - written
            assert zoek_count(demo) == before + 3, "the changed zaak was not fetched again"
            assert evicted_after < 1.0, f"evicted only after {evicted_after:.2f} s"
            assert seen == new_status  # and the answer is the source's, not the kept one

            assert await status_of(unrelated) == rest_status(unrelated)
            assert zoek_count(demo) == before + 3  # the unrelated zaak still came from the cache
        finally:
            await asker.aclose()
            if other is not None:
                await other.state.sources.aclose()
                await other.state.authenticator.aclose()
                await other.state.cache.aclose()
