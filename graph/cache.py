"""Where cached source answers live: one small interface, with backends chosen in configuration.

A ``Store`` keeps opaque bytes under string keys for a number of seconds. The in-process backend is the
default; a Redis backend lets several gateway replicas share one cache. A store never raises for a
backend that is down: a read is then a miss and a write is dropped, and ``healthy`` says so, because the
gateway must keep answering from the sources while its cache is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import cachetools
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from graph.config import ConfigError, GatewayConfig, declare_gateway_table

log = logging.getLogger(__name__)

KEY_PREFIX = "gemeentegraaf:"  # every key the gateway writes to a shared Redis starts with this


class Store(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent, expired or the backend cannot be reached."""
        ...

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """``get`` of several keys in one round trip (an entry and the tombstones that may supersede it)."""
        ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Keep ``value`` for ``ttl_s`` seconds (dropped silently when the backend cannot be reached)."""
        ...

    async def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        """``set`` only if ``key`` holds nothing; True when this call set it, so replicas can share a lock.
        True also while the backend cannot be reached: a lock then holds only in process, as without a store."""
        ...

    async def delete(self, *keys: str) -> None: ...

    @property
    def healthy(self) -> bool:
        """False while the backend cannot be reached (for ``/health``)."""
        ...

    async def aclose(self) -> None: ...


# -- in-process ---------------------------------------------------------------------------------------------


class _Entry(NamedTuple):
    value: bytes
    expires: float  # on the store's clock
    size: int  # key and value bytes, what ``max_bytes`` counts


class MemoryStore:
    """This process's memory, bounded both by entries and by bytes (many tiny answers and a few huge ones
    both fill it), least recently used dropped first and every entry forgotten at its own deadline.

    cachetools is not async-aware, but no method awaits between reading and writing, so nothing can
    interleave with an update on the one event loop that uses the store.
    """

    name = "memory"

    def __init__(
        self, max_entries: int = 10_000, max_bytes: int = 64 * 2**20, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries, self.max_bytes = max(1, max_entries), max(1, max_bytes)
        self._entries: cachetools.TLRUCache[str, _Entry, float] = cachetools.TLRUCache(
            self.max_bytes, lambda _key, entry, _now: entry.expires, clock, lambda entry: entry.size
        )
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        return [await self.get(key) for key in keys]  # in order: later keys become the more recently used

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        size = len(key.encode()) + len(value)
        if ttl_s <= 0 or size > self.max_bytes:  # cachetools would refuse it; the old value must go all the same
            self._entries.pop(key, None)
            return
        self._entries[key] = _Entry(value, self._clock() + ttl_s, size)  # evicts by bytes itself
        while len(self._entries) > self.max_entries:
            self._entries.popitem()  # least recently used

    async def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        if key in self._entries:  # an expired entry counts as absent
            return False
        await self.set(key, value, ttl_s)
        return True

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    @property
    def healthy(self) -> bool:
        return True

    @property
    def size(self) -> tuple[int, int]:
        """Entries and bytes held now (for tests and metrics)."""
        return len(self._entries), int(self._entries.currsize)

    async def aclose(self) -> None:
        self._entries.clear()


# -- Redis, shared by replicas ------------------------------------------------------------------------------

_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError, asyncio.TimeoutError)


MAX_CONNECTIONS = 16
POOL_WAIT_S = 1.0


class RedisStore:
    """A Redis (or Valkey) server that several gateway replicas share.

    Every key is prefixed (``gemeentegraaf:``), so the server can hold other things too, and every value
    carries its own expiry (``SET … PX``). Socket timeouts are short and redis-py's own retries are off:
    a slow or absent cache must cost a query a fraction of a second at most, never the sources' time.
    When the server cannot be reached the store stops calling it: reads miss and writes are dropped at
    once, and one background probe per ``retry_s`` looks for it again, so the store is used again (and
    ``healthy``) as soon as it returns, without a restart and without every request reconnecting.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = KEY_PREFIX,
        timeout_s: float = 0.2,
        retry_s: float = 2.0,
    ) -> None:
        self.prefix, self.retry_s = prefix, retry_s
        # A bounded pool that callers wait on: a burst of calls shares a few connections instead of opening
        # one each (which, on a busy event loop, would time out connecting and mark a healthy Redis down).
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            client_name="gemeentegraaf",
        )
        self._client: redis.Redis = redis.Redis(connection_pool=pool)
        self._down = False
        self._probe: asyncio.Task[None] | None = None

    @property
    def healthy(self) -> bool:
        return not self._down

    async def get(self, key: str) -> bytes | None:
        if self._down:
            return None
        try:
            found = await self._client.get(self.prefix + key)
        except _UNREACHABLE as exc:
            await self._lost(exc)
            return None
        except redis.RedisError as exc:  # reachable, but refusing this command: a miss, nothing more
            log.warning("cache: redis refused GET: %s", exc)
            return None
        return found if isinstance(found, bytes) else None

    async def get_many(self, *keys: str) -> list[bytes | None]:
        if self._down or not keys:
            return [None] * len(keys)
        try:
            found = await self._client.mget([self.prefix + k for k in keys])
        except _UNREACHABLE as exc:
            await self._lost(exc)
            return [None] * len(keys)
        except redis.RedisError as exc:
            log.warning("cache: redis refused MGET: %s", exc)
            return [None] * len(keys)
        return [v if isinstance(v, bytes) else None for v in found]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if self._down:
            return
        try:
            if ttl_s > 0:
                await self._client.set(self.prefix + key, value, px=max(1, round(ttl_s * 1000)))
            else:
                await self._client.delete(self.prefix + key)
        except _UNREACHABLE as exc:
            await self._lost(exc)
        except redis.RedisError as exc:  # out of memory under ``maxmemory-policy noeviction``, say
            log.warning("cache: redis refused SET: %s", exc)

    async def add(self, key: str, value: bytes, ttl_s: float) -> bool:
        if self._down:
            return True
        try:  # SET NX PX: atomic on the server, so one replica of many wins
            return bool(await self._client.set(self.prefix + key, value, px=max(1, round(ttl_s * 1000)), nx=True))
        except _UNREACHABLE as exc:
            await self._lost(exc)
        except redis.RedisError as exc:
            log.warning("cache: redis refused SET NX: %s", exc)
        return True

    async def delete(self, *keys: str) -> None:
        if self._down or not keys:
            return
        try:
            await self._client.delete(*(self.prefix + k for k in keys))
        except _UNREACHABLE as exc:
            await self._lost(exc)
        except redis.RedisError as exc:
            log.warning("cache: redis refused DEL: %s", exc)

    async def run(self, script: str, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        """A Lua script run atomically over prefixed ``keys``, for state replicas must share (a rate limit);
        None while the server cannot be reached, so the caller can fall back to keeping it in process."""
        if self._down:
            return None
        try:
            return await self._client.eval(script, len(keys), *(self.prefix + k for k in keys), *args)
        except _UNREACHABLE as exc:
            await self._lost(exc)
        except redis.RedisError as exc:
            log.warning("cache: redis refused a script: %s", exc)
        return None

    async def _lost(self, exc: BaseException) -> None:
        """Stop using the server and start the one probe that looks for its return."""
        if not self._down:
            log.warning("cache: redis unreachable (%s); answering from the sources until it returns", exc)
        self._down = True
        await self._client.connection_pool.disconnect()  # the next attempt opens a fresh connection
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._look_for_server())

    async def _look_for_server(self) -> None:
        while self._down:
            await asyncio.sleep(self.retry_s)
            try:
                await self._client.ping()
            except _UNREACHABLE:
                await self._client.connection_pool.disconnect()
                continue
            except redis.RedisError:  # it answers (with an error, such as NOAUTH): log that once it is back
                pass
            self._down = False
            log.warning("cache: redis reachable again")

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self._client.aclose()


# -- chosen in configuration --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """``[gateway.cache]``, checked."""

    backend: str = "memory"
    url: str | None = None
    max_entries: int = 10_000
    max_bytes: int = 64 * 2**20


def _redis(settings: CacheSettings) -> Store:
    if not settings.url:
        raise ConfigError('[gateway.cache] url is needed for backend = "redis" (or set REDIS_URL)')
    return RedisStore(settings.url)


STORES: dict[str, Callable[[CacheSettings], Store]] = {
    "memory": lambda settings: MemoryStore(settings.max_entries, settings.max_bytes),
    "redis": _redis,  # the server's own maxmemory bounds it, not max_entries / max_bytes
}

_KEYS = frozenset(f for f in CacheSettings.__dataclass_fields__)


def cache_settings(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> CacheSettings:
    """``[gateway.cache]``, with ``GEMEENTEGRAAF_GATEWAY_CACHE_<KEY>`` overriding one value and ``REDIS_URL``
    (the usual variable of hosting platforms) giving the url when neither names one. A wrong value is a
    ``ConfigError`` naming the key, so a typo never silently leaves the replicas without a shared cache."""
    table = config.options.get("cache", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.cache] must be a table")
    table = {**table, **{k[len("cache_") :]: v for k, v in config.options.items() if k.startswith("cache_")}}
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"[gateway.cache] has unknown key(s): {', '.join(sorted(unknown))}")
    backend = str(table.get("backend", "memory"))
    if backend not in STORES:
        raise ConfigError(f"[gateway.cache] backend must be one of {', '.join(sorted(STORES))}, not {backend!r}")
    env = os.environ if environ is None else environ
    url = table.get("url") or env.get("REDIS_URL") or None
    if url is not None and (not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://"))):
        raise ConfigError("[gateway.cache] url must be a redis://, rediss:// or unix:// URL")
    sizes: dict[str, int] = {}
    for key in ("max_entries", "max_bytes"):
        value = table.get(key, getattr(CacheSettings(), key))
        try:
            sizes[key] = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"[gateway.cache] {key} must be a whole number") from None
        if isinstance(value, (bool, float)) or sizes[key] < 1:
            raise ConfigError(f"[gateway.cache] {key} must be a whole number >= 1")
    return CacheSettings(backend, url, **sizes)


declare_gateway_table("cache", _KEYS, cache_settings)


def store_for(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> Store:
    """The store ``[gateway.cache] backend`` names (the in-process one by default)."""
    settings = cache_settings(config, environ)
    return STORES[settings.backend](settings)
