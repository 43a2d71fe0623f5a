"""Tombstones in the HTTP cache stage (graph.caching), without a network: which changes supersede which entries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from graph.cache import MemoryStore
from graph.caching import CLOCK_SKEW_S, HttpCache, SourceCaching, mark_changed
from graph.calls import SourceCall, SourceResponse
from graph.config import ConfigError, SourceConfig, from_mapping
from graph.notifications import notification_settings

BASE = "http://zgw.test/zaken/api/v1"
PUBLIC = "https://zaken.example/zaken/api/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def setup() -> tuple[HttpCache, MemoryStore, Clock, list[SourceCall]]:
    config = SourceConfig("zaken", BASE, options={"cache_ttl_s": 30, "personal": False, "cache_per_caller": False,
                                                  "cache_lookup_keys": ["uuid__in"], "public_urls": [PUBLIC]})
    store, clock = MemoryStore(), Clock()
    return HttpCache(SourceCaching.from_config(config), store, clock), store, clock, []


async def ask(cache: HttpCache, sent: list[SourceCall], call: SourceCall, body: object) -> None:
    async def source(c: SourceCall) -> SourceResponse:
        sent.append(c)
        return SourceResponse(200, {"content-type": "application/json"}, orjson.dumps(body), "zaken")

    await cache(call, source)


def get(path: str, *params: tuple[str, str]) -> SourceCall:
    return SourceCall("zaken", "GET", BASE + path, params)


async def test_a_change_supersedes_its_object_its_collection_and_every_list_but_no_other_object() -> None:
    cache, store, clock, sent = setup()
    one, other = get("/zaken/1"), get("/zaken/2", ("expand", "status"))
    listed, everything = get("/statussen", ("zaak", f"{BASE}/zaken/2")), get("/zaken")
    calls = (one, other, listed, everything)
    for call in calls * 2:
        await ask(cache, sent, call, {"url": call.url})
    assert len(sent) == 4  # the second round came from the store
    clock.now += 1
    assert await mark_changed(store, cache.settings, [f"{PUBLIC}/zaken/1"], clock) == 3  # public URLs count too
    clock.now += 1
    for call in calls:
        await ask(cache, sent, call, {"url": call.url})
    assert [c.url for c in sent[4:]] == [one.url, listed.url, everything.url]


async def test_an_answer_sent_for_before_the_change_is_superseded_when_it_lands_after_it() -> None:
    cache, store, clock, sent = setup()
    call = get("/zaken/1")

    async def slow(c: SourceCall) -> SourceResponse:
        sent.append(c)
        await mark_changed(store, cache.settings, [f"{BASE}/zaken/1"], clock)  # heard of while under way
        clock.now += 2 * CLOCK_SKEW_S
        return SourceResponse(200, {}, b"{}", "zaken")

    await cache(call, slow)
    await ask(cache, sent, call, {})
    assert len(sent) == 2


async def test_a_lookup_by_identity_is_superseded_only_by_the_objects_it_holds() -> None:
    cache, store, clock, sent = setup()
    zoek = SourceCall("zaken", "POST", BASE + "/zaken/_zoek", (("page", "1"),), {"uuid__in": ["1", "2"]})
    other = SourceCall("zaken", "POST", BASE + "/zaken/_zoek", (("page", "1"),), {"uuid__in": ["3"]})
    found = {"count": 2, "results": [{"url": f"{PUBLIC}/zaken/1"}, {"url": f"{PUBLIC}/zaken/2"}]}
    await ask(cache, sent, zoek, found)
    await ask(cache, sent, other, {"count": 1, "results": [{"url": f"{PUBLIC}/zaken/3"}]})
    clock.now += 1
    await mark_changed(store, cache.settings, [f"{BASE}/zaken/2"], clock)
    clock.now += 1
    await ask(cache, sent, other, {})
    await ask(cache, sent, zoek, found)
    assert [c.json for c in sent] == [{"uuid__in": ["1", "2"]}, {"uuid__in": ["3"]}, {"uuid__in": ["1", "2"]}]


async def test_memory_get_many_answers_in_order() -> None:
    store = MemoryStore()
    await asyncio.gather(store.set("a", b"1", 60), store.set("c", b"3", 60))
    assert await store.get_many("a", "b", "c") == [b"1", None, b"3"]


def test_notification_settings_take_the_secret_from_a_file_or_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "callback-auth"
    secret.write_text("Bearer from-a-file\n")
    table = {"source": "notificaties", "callback_url": "https://gateway.example/_notificaties",
             "auth_file": str(secret), "kanalen": ["zaken"]}
    raw = {"gateway": {"notifications": table}, "sources": {"notificaties": {"url": "https://nrc.example/api/v1"}}}
    settings = notification_settings(from_mapping(raw))
    assert settings is not None and settings.auth == "Bearer from-a-file" and settings.path == "/_notificaties"
    assert "from-a-file" not in repr(settings)
    env = {"GEMEENTEGRAAF_GATEWAY_NOTIFICATIONS_AUTH": "Bearer from-the-environment"}
    overridden = notification_settings(from_mapping(raw, env))
    assert overridden is not None and overridden.auth == "Bearer from-the-environment"
    assert notification_settings(from_mapping({"sources": raw["sources"]})) is None  # not configured: off
    with pytest.raises(ConfigError, match="kanaal"):
        notification_settings(from_mapping({**raw, "gateway": {"notifications": {**table, "kanaal": ["zaken"]}}}))
    with pytest.raises(ConfigError, match="source"):
        notification_settings(from_mapping({**raw, "gateway": {"notifications": {**table, "source": "brp"}}}))
