"""Events between the parts of one gateway and between its replicas: publish and subscribe by topic.

An event is a small flat mapping of strings that says *what* changed (a URL, an id, a kind), never the data
itself: whoever receives it asks the source again, under its own caller and purpose. Two buses, chosen with
the cache store (``graph.cache``):

- ``LocalBus``: this process only (the in-process cache, one replica);
- ``RedisBus`` (``[gateway.cache] backend = "redis"``): also published on a Redis pub/sub channel, so the
  subscribers of every replica sharing that Redis see an event whichever replica it reached. It delivers in
  its own process at once and ignores its own messages coming back, so while Redis is away this replica's
  subscribers still see every event it receives; only the other replicas miss them.

Each subscriber has a bounded buffer: an event whose key is already waiting replaces it (the receiver asks
the source anyway, so the latest is all it needs), and when the buffer is full the oldest waiting event is
dropped and counted. A slow subscriber therefore costs a fixed amount of memory, never a growing queue.

``Polls`` runs polling loops for sources that publish nothing: one loop per name, started by the first
subscription that needs it and stopped when the last one leaves; its events reach this process only (each
replica with subscribers polls for itself).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as redis

from graph.cache import KEY_PREFIX, cache_settings
from graph.config import GatewayConfig

log = logging.getLogger("gemeentegraaf.events")

Event = Mapping[str, str]
MAX_PENDING = 100  # events waiting per subscriber, by default
MAX_EVENT_BYTES = 4096  # a larger message on the channel is not an event of ours


def _all(event: Event) -> bool:
    return True


def _whole(event: Event) -> Hashable:
    return tuple(sorted(event.items()))


class Subscription:
    """One subscriber's buffer of waiting events: bounded, coalescing by ``key``, filtered by ``accept``."""

    def __init__(
        self,
        bus: LocalBus,
        topic: str,
        accept: Callable[[Event], bool] = _all,
        key: Callable[[Event], Hashable] = _whole,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.bus, self.topic = bus, topic
        self.accept, self.key, self.max_pending = accept, key, max(1, max_pending)
        self.dropped = 0  # events lost because the buffer was full
        self._pending: collections.OrderedDict[Hashable, Event] = collections.OrderedDict()
        self._arrived = asyncio.Event()
        self.closed = False

    def offer(self, event: Event) -> None:
        try:
            if not self.accept(event):
                return
            key = self.key(event)
        except Exception:  # a filter must never break delivery to the others
            log.exception("events: a subscriber's filter failed on %s", self.topic)
            return
        if key in self._pending:
            del self._pending[key]  # the newer one goes to the back: it is the one to report
        elif len(self._pending) >= self.max_pending:
            self._pending.popitem(last=False)
            self.dropped += 1
        self._pending[key] = dict(event)
        self._arrived.set()

    async def next(self, within_s: float | None = None) -> Event | None:
        """The oldest waiting event; None when ``within_s`` seconds pass without one."""
        while not self._pending:
            self._arrived.clear()
            try:
                async with asyncio.timeout(within_s):
                    await self._arrived.wait()
            except TimeoutError:
                return None
        return self._pending.popitem(last=False)[1]

    @property
    def waiting(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus.unsubscribe(self)
            self._pending.clear()


class LocalBus:
    """Events within this process."""

    name = "memory"

    def __init__(self) -> None:
        self._topics: dict[str, set[Subscription]] = {}

    def subscribe(
        self,
        topic: str,
        accept: Callable[[Event], bool] = _all,
        key: Callable[[Event], Hashable] = _whole,
        max_pending: int = MAX_PENDING,
    ) -> Subscription:
        found = Subscription(self, topic, accept, key, max_pending)
        self._topics.setdefault(topic, set()).add(found)
        return found

    def unsubscribe(self, subscription: Subscription) -> None:
        found = self._topics.get(subscription.topic)
        if found is not None:
            found.discard(subscription)
            if not found:
                del self._topics[subscription.topic]

    def subscribers(self, topic: str | None = None) -> int:
        if topic is not None:
            return len(self._topics.get(topic, ()))
        return sum(len(s) for s in self._topics.values())

    def deliver(self, topic: str, event: Event) -> None:
        """To this process's subscribers only (what polling finds, or what another replica published)."""
        for subscription in list(self._topics.get(topic, ())):
            subscription.offer(event)

    async def publish(self, topic: str, event: Event) -> None:
        """To every subscriber the bus reaches."""
        self.deliver(topic, event)

    async def ready(self, timeout_s: float) -> bool:
        """Whether events from other replicas reach this one now (in process: there are none to wait for)."""
        return True

    async def aclose(self) -> None:
        for subscriptions in list(self._topics.values()):
            for subscription in list(subscriptions):
                subscription.close()


class RedisBus(LocalBus):
    """Events shared by every replica on one Redis, through pub/sub channels ``gemeentegraaf:events:<topic>``.

    Publishing has short timeouts and, after a failure, leaves Redis alone for ``retry_s``: a notification
    callback must not wait on an absent Redis. One listener task per process (started by the first
    subscription) holds the channel subscription and reconnects with backoff while Redis is away.
    """

    name = "redis"

    def __init__(self, url: str, prefix: str = KEY_PREFIX + "events:", retry_s: float = 1.0, timeout_s: float = 0.5):
        super().__init__()
        self.url, self.prefix, self.retry_s, self.timeout_s = url, prefix, retry_s, timeout_s
        self.origin = secrets.token_hex(8)  # this replica: its own messages coming back are not delivered twice
        self.listening = asyncio.Event()
        self.received = 0  # events that came from other replicas (tests, metrics)
        self._publisher: redis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._skip_until = 0.0
        self._tried = False

    def subscribe(
        self,
        topic: str,
        accept: Callable[[Event], bool] = _all,
        key: Callable[[Event], Hashable] = _whole,
        max_pending: int = MAX_PENDING,
    ) -> Subscription:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="gemeentegraaf-events")
        return super().subscribe(topic, accept, key, max_pending)

    async def publish(self, topic: str, event: Event) -> None:
        self.deliver(topic, event)  # here first, whatever Redis does
        if time.monotonic() < self._skip_until:
            return
        if self._publisher is None:
            self._publisher = redis.Redis.from_url(
                self.url, socket_connect_timeout=self.timeout_s, socket_timeout=self.timeout_s,
                client_name="gemeentegraaf-events",
            )
        body = orjson.dumps({"origin": self.origin, "event": dict(event)})
        try:
            await self._publisher.publish(self.prefix + topic, body)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            if self._skip_until == 0.0 or time.monotonic() - self._skip_until > self.retry_s:
                log.warning("events: redis unreachable for publishing (%s); other replicas miss events until it "
                            "returns", type(exc).__name__)
            self._skip_until = time.monotonic() + self.retry_s
            with contextlib.suppress(Exception):
                await self._publisher.connection_pool.disconnect()
        else:
            self._skip_until = 0.0

    async def ready(self, timeout_s: float) -> bool:
        if self.listening.is_set():
            return True
        if self._tried:  # the listener already failed once: Redis is away, do not hold the subscriber up
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.listening.wait()
        return self.listening.is_set()

    async def _listen(self) -> None:
        delay = self.retry_s
        while True:
            client = redis.Redis.from_url(self.url, socket_connect_timeout=self.timeout_s, health_check_interval=10,
                                          client_name="gemeentegraaf-events")
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self.prefix + "*")
                self.listening.set()
                if self._tried:
                    log.warning("events: redis reachable again; events from other replicas arrive again")
                delay = self.retry_s
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._receive(message)
            except (redis.RedisError, OSError, TimeoutError) as exc:
                if self.listening.is_set() or not self._tried:
                    log.warning("events: redis unreachable (%s); events from other replicas are missed until it "
                                "returns", type(exc).__name__)
            except Exception:  # a surprise must not end listening for good: say what it was, start again
                log.exception("events: listening on redis failed")
            finally:
                self.listening.clear()
                self._tried = True
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10 * self.retry_s)

    def _receive(self, message: Mapping[str, Any]) -> None:
        channel, data = message.get("channel"), message.get("data")
        if not isinstance(channel, bytes) or not isinstance(data, bytes) or len(data) > MAX_EVENT_BYTES:
            return
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(body, dict) or body.get("origin") == self.origin or not isinstance(body.get("event"), dict):
            return
        event = body["event"]
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in event.items()):
            return
        self.received += 1
        self.deliver(channel.decode(errors="replace").removeprefix(self.prefix), event)

    async def aclose(self) -> None:
        await super().aclose()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None


def bus_for(config: GatewayConfig) -> LocalBus:
    """A Redis bus when the cache is Redis (the replicas already share it), else this process only."""
    settings = cache_settings(config)
    if settings.backend == "redis" and settings.url:
        return RedisBus(settings.url)
    return LocalBus()


# -- polling, for sources that publish nothing ---------------------------------------------------------------


Poll = Callable[[], Awaitable[Sequence[Event]]]


class _Loop:
    def __init__(self, task: asyncio.Task[None]) -> None:
        self.task, self.holders, self.rounds = task, 0, 0


class Polls:
    """Polling loops by name. ``holding`` starts a loop with a fresh ``Poll`` from ``make`` when it is the first
    holder, and stops it when the last one leaves, so a source is polled only while someone listens."""

    def __init__(self, bus: LocalBus) -> None:
        self.bus = bus
        self._loops: dict[str, _Loop] = {}

    def running(self, name: str) -> bool:
        return name in self._loops

    def rounds(self, name: str) -> int:
        """Rounds the loop called ``name`` has completed (tests wait for the first)."""
        found = self._loops.get(name)
        return found.rounds if found is not None else 0

    @contextlib.asynccontextmanager
    async def holding(self, name: str, topic: str, make: Callable[[], Poll], interval_s: float) -> AsyncIterator[None]:
        loop = self._loops.get(name)
        if loop is None:
            poll = make()
            loop = self._loops[name] = _Loop(asyncio.get_running_loop().create_task(
                self._run(name, topic, poll, interval_s), name=f"gemeentegraaf-poll-{name}"))
        loop.holders += 1
        try:
            yield
        finally:
            loop.holders -= 1
            if loop.holders == 0 and self._loops.get(name) is loop:
                del self._loops[name]
                loop.task.cancel()  # not awaited: the subscriber may be being cancelled itself

    async def _run(self, name: str, topic: str, poll: Poll, interval_s: float) -> None:
        failing = False
        while True:
            try:
                events = await poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a source away: say so once, keep polling
                if not failing:
                    log.warning("events: polling %s failed (%s: %s); retrying every %.1f s", name,
                                type(exc).__name__, getattr(exc, "code", "-"), interval_s)
                failing = True
            else:
                if failing:
                    log.warning("events: polling %s works again", name)
                failing = False
                for event in events:
                    self.bus.deliver(topic, event)
            found = self._loops.get(name)
            if found is not None:
                found.rounds += 1
            await asyncio.sleep(interval_s)

    async def aclose(self) -> None:
        loops, self._loops = list(self._loops.values()), {}
        for loop in loops:
            loop.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop.task
