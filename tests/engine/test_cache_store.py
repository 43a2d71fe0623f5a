"""The cache's storage backends: the in-process store's bounds, and a real Redis shared by two replicas,
lost and found again while the gateway runs.

The Redis tests use ``REDIS_URL`` when it names a reachable server, else a ``redis-server`` they start
themselves on a free port (never the machine's own server). The tests that stop and restart a server always
use one of their own; without the ``redis-server`` binary they are skipped, saying so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from graph.cache import KEY_PREFIX, MemoryStore, RedisStore, store_for
from graph.config import ConfigError, from_mapping
from graph.source import Source
from tests.conftest import Gateway, gateway_settings
from tests.redis_server import RedisServer, _binary


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A server this test may stop and restart."""
    server = RedisServer(_binary("this test stops and restarts a Redis, so it needs one of its own"), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one server, as two gateway replicas have."""
    one, two = RedisStore(redis_url), RedisStore(redis_url)
    try:
        yield one, two
    finally:
        await one.aclose()
        await two.aclose()


def _key() -> str:
    """A key no other run on a shared ``REDIS_URL`` uses."""
    return f"test:{uuid.uuid4().hex}"


class CountingClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _count_commands(store: RedisStore) -> list[tuple[Any, ...]]:
    """Every command the store sends from now on (the network attempts, counted rather than timed)."""
    sent: list[tuple[Any, ...]] = []
    client: Any = store._client
    original = client.execute_command

    async def counting(*args: Any, **options: Any) -> Any:
        sent.append(args)
        return await original(*args, **options)

    client.execute_command = counting
    return sent


async def _eventually(condition: Any, seconds: float) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


# -- in-process ---------------------------------------------------------------------------------------------


async def test_memory_entries_expire_at_their_own_deadline() -> None:
    clock = CountingClock()
    store = MemoryStore(clock=clock)
    await store.set("short", b"1", 10)
    await store.set("long", b"2", 60)
    clock.now += 9.9
    assert await store.get("short") == b"1"
    clock.now += 0.2
    assert await store.get("short") is None
    assert await store.get("long") == b"2"
    await store.set("long", b"3", 0)  # no time to live: gone, not kept forever
    assert await store.get("long") is None
    assert store.healthy


async def test_memory_evicts_the_least_recently_used_by_entries() -> None:
    store = MemoryStore(max_entries=3)
    for key in "abc":
        await store.set(key, key.encode(), 60)
    assert await store.get("a") == b"a"  # a is now the most recently used
    await store.set("d", b"d", 60)
    assert [await store.get(k) for k in "abcd"] == [b"a", None, b"c", b"d"]
    assert store.size[0] == 3


async def test_memory_evicts_the_least_recently_used_by_bytes() -> None:
    store = MemoryStore(max_entries=1000, max_bytes=100)
    for key in "abc":
        await store.set(key, b"x" * 29, 60)  # 30 bytes each with the key
    assert store.size == (3, 90)
    assert await store.get("a") is not None
    await store.set("d", b"y" * 29, 60)
    assert [await store.get(k) is not None for k in "abcd"] == [True, False, True, True]
    assert store.size == (3, 90)
    await store.set("a", b"z" * 200, 60)  # larger than the whole store: not kept, and the old value goes
    assert await store.get("a") is None
    assert store.size[1] <= 100


async def test_memory_delete() -> None:
    store = MemoryStore()
    await store.set("a", b"1", 60)
    await store.set("b", b"2", 60)
    await store.delete("a", "b", "never-set")
    assert await store.get("a") is None and await store.get("b") is None


# -- Redis ----------------------------------------------------------------------------------------------------


async def test_redis_set_get_expire_delete(replicas: tuple[RedisStore, RedisStore], redis_url: str) -> None:
    store, _ = replicas
    key, short, other = _key(), _key(), _key()
    assert await store.get(key) is None
    await store.set(key, b"\x00answer", 60)
    assert await store.get(key) == b"\x00answer"

    raw = sync_redis.Redis.from_url(redis_url)
    try:  # namespaced, and the expiry is on the value itself
        assert raw.get(KEY_PREFIX + key) == b"\x00answer"
        assert 0 < int(raw.pttl(KEY_PREFIX + key)) <= 60_000
        assert raw.get(key) is None
    finally:
        raw.close()

    await store.set(short, b"soon gone", 0.05)
    await asyncio.sleep(0.2)
    assert await store.get(short) is None

    await store.set(other, b"2", 60)
    await store.delete(key, other)
    assert await store.get(key) is None and await store.get(other) is None
    assert store.healthy


async def test_two_replicas_share_one_cache(replicas: tuple[RedisStore, RedisStore]) -> None:
    one, two = replicas
    key = _key()
    await one.set(key, b"from replica one", 60)
    assert await two.get(key) == b"from replica one"
    await two.delete(key)
    assert await one.get(key) is None


async def test_redis_lost_then_found_again(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url, retry_s=0.5)
    try:
        key = _key()
        await store.set(key, b"1", 60)
        assert await store.get(key) == b"1" and store.healthy

        own_redis.stop()
        sent = _count_commands(store)
        assert await store.get(key) is None  # the first call finds out, and raises nothing
        assert not store.healthy
        started = time.monotonic()
        for _ in range(100):  # within one retry interval: answered at once, no reconnect per call
            assert await store.get(key) is None
            await store.set(key, b"dropped", 60)
            await store.delete(key)
        assert len(sent) <= 2, sent  # the first failing call, and at most one probe
        assert time.monotonic() - started < 5  # generous: each call is a skip, not a connection attempt

        own_redis.start()  # same port, empty (no persistence)
        assert await _eventually(lambda: store.healthy, 10), "not used again after the server returned"
        await store.set(key, b"2", 60)
        assert await store.get(key) == b"2"
        probes = [c for c in sent if c and c[0] == "PING"]
        assert 1 <= len(probes) <= 25, probes  # one probe per interval, not a storm
    finally:
        await store.aclose()


async def test_a_frozen_redis_costs_one_timeout_then_nothing(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url, timeout_s=0.2, retry_s=0.5)
    try:
        key = _key()
        await store.set(key, b"1", 60)
        own_redis.freeze()
        try:
            started = time.monotonic()
            assert await store.get(key) is None  # waits one socket timeout, not the sources' time
            assert time.monotonic() - started < 3
            assert not store.healthy
            sent = _count_commands(store)
            for _ in range(50):
                assert await store.get(key) is None
                await store.set(key, b"dropped", 60)
            assert len(sent) <= 1
        finally:
            own_redis.thaw()
        assert await _eventually(lambda: store.healthy, 10)
        assert await store.get(key) == b"1"
    finally:
        await store.aclose()


async def test_health_says_degraded_while_redis_is_away(demo: Any, own_redis: RedisServer) -> None:
    config = dict(demo.config)
    config["gateway"] = {**config.get("gateway", {}), "cache": {"backend": "redis", "url": own_redis.url}}
    gw = Gateway(demo, config)
    store = gw.app.state.cache
    store.retry_s = 0.5
    try:
        assert isinstance(store, RedisStore)
        await store.set("health-check", b"1", 60)
        answer = (await gw.client.get("/health")).json()
        assert answer["status"] == "ok" and answer["cache"] == {"backend": "redis", "healthy": True}
        assert answer["sources"]

        own_redis.stop()
        assert await store.get("health-check") is None  # the caching stage's next use finds it gone
        response = await gw.client.get("/health")
        assert response.status_code == 200  # the gateway still answers from its sources
        assert response.json()["status"] == "degraded"
        assert response.json()["cache"] == {"backend": "redis", "healthy": False}

        own_redis.start()
        assert await _eventually(lambda: store.healthy, 10)
        assert (await gw.client.get("/health")).json()["status"] == "ok"
    finally:
        await gw.client.aclose()
        await gw.app.state.sources.aclose()
        await gw.app.state.authenticator.aclose()
        await store.aclose()


async def test_a_second_gateway_is_served_from_the_first_ones_cache(demo: Any, own_redis: RedisServer) -> None:
    """Two replicas on one Redis: what the first fetched, the second does not fetch again (for the same caller,
    since ZGW answers are kept per caller)."""
    config = dict(demo.config)
    config["gateway"] = {**config.get("gateway", {}), "cache": {"backend": "redis", "url": own_redis.url}}
    nummeraanduiding = next(iter(demo.data.nummeraanduidingen))
    query = (f'{{ zaken(first: 3) {{ nodes {{ zaaktype {{ omschrijving }} }} }} '
             f'adres(nummeraanduidingIdentificatie: "{nummeraanduiding}") {{ postcode }} }}')
    first, second = Gateway(demo, config, caching=True), Gateway(demo, config, caching=True)
    try:
        answer = await first.query(query)
        assert "errors" not in answer, answer
        first.reset_counts()
        assert await second.query(query) == answer
        assert [c for c in second.calls("zaken") if "openapi" not in c["path"]] == []
        assert second.calls("catalogi") == [] and second.calls("bag") == []
    finally:
        for gw in (first, second):
            await gw.client.aclose()
            await gw.app.state.sources.aclose()
            await gw.app.state.authenticator.aclose()
            await gw.app.state.cache.aclose()


# -- configuration --------------------------------------------------------------------------------------------


def test_the_memory_store_is_the_default() -> None:
    store = store_for(from_mapping({}), environ={})
    assert isinstance(store, MemoryStore) and store.name == "memory"
    sized = store_for(from_mapping({"gateway": {"cache": {"max_entries": 5, "max_bytes": "2048"}}}), environ={})
    assert isinstance(sized, MemoryStore) and (sized.max_entries, sized.max_bytes) == (5, 2048)


async def test_the_redis_url_comes_from_the_file_or_the_environment() -> None:
    by_file = store_for(from_mapping({"gateway": {"cache": {"backend": "redis", "url": "redis://a:1/0"}}}), {})
    by_override = store_for(
        from_mapping({"gateway": {"cache": {"backend": "redis", "url": "redis://a:1/0"}}},
                     {"GEMEENTEGRAAF_GATEWAY_CACHE_URL": "redis://b:2/0"}), {})
    by_platform = store_for(from_mapping({"gateway": {"cache": {"backend": "redis"}}}), {"REDIS_URL": "redis://c:3/0"})
    try:
        hosts = [s._client.connection_pool.connection_kwargs["host"]  # type: ignore[attr-defined]
                 for s in (by_file, by_override, by_platform)]
        assert hosts == ["a", "b", "c"]
    finally:
        for store in (by_file, by_override, by_platform):
            await store.aclose()


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"backend": "memcached"}, "backend"),
        ({"backend": "redis"}, "url"),
        ({"backend": "redis", "url": "http://redis:6379"}, "url"),
        ({"max_entries": "lots"}, "max_entries"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"max_bytes": 1.5}, "max_bytes"),
        ({"ttl": 5}, "ttl"),
    ],
)
def test_a_wrong_value_names_its_key(table: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        store_for(from_mapping({"gateway": {"cache": table}}), environ={})


async def test_two_replicas_together_stay_under_the_bags_rate_limit(demo: Any, redis_url: str) -> None:
    """Each replica alone would allow 45 calls a second; on one Redis they share that, so the BAG (50 a
    second per key) never answers 429 however the calls are spread over the two."""
    tables = {**demo.config["sources"], "bag": {**demo.config["sources"]["bag"], "queue_timeout_s": 30}}
    config = gateway_settings({**demo.config, "sources": tables}, caching=True).sources["bag"]
    replicas = [(RedisStore(redis_url), i) for i in range(2)]
    sources = [Source(config, store=store) for store, _ in replicas]
    ids = list(demo.data.nummeraanduidingen)[:120]
    demo.simulators["bag"].reset_counts()
    try:
        answers = await asyncio.gather(
            *(sources[i % 2].get(f"/adressen/{n}", headers={"Accept": "application/hal+json"}) for i, n in
              enumerate(ids)), return_exceptions=True)
    finally:
        for source in sources:
            await source.aclose()
        for store, _ in replicas:
            await store.aclose()
    failures = [a for a in answers if isinstance(a, BaseException)]
    assert not failures, failures[:3]
    counted = demo.simulators["bag"].counts
    assert sum(counted.values()) == len(ids)
