"""Resilience per source, as stages of ``Source.send``: a slow or failing source costs its own fields, not
the whole gateway's time.

Every call is bounded in time twice by ``Source._http``: httpx's ``timeout_s`` (``connect_timeout_s`` for
connecting) for each wait, and ``total_timeout_s`` (``call_time_limits``) for the whole call, connecting,
sending and reading the body, so a source that trickles bytes inside every read timeout still fails with
``UPSTREAM_TIMEOUT``. Above that, the request's deadline (``graph.budget``) cuts whatever still runs.

Four stage kinds, each with one job, in this order (outermost first; ``graph.source.default_stages`` puts
them after the cache, so an answer from the cache never touches them):

- ``size_limit`` (``LimitResponseSize``): an answer over ``max_response_bytes`` is refused as
  ``UPSTREAM_BAD_RESPONSE``. ``Source._http`` applies the chosen stage's limit while it reads: a declared
  length over it is refused unread, and reading stops at the first byte over it, so a runaway answer is
  neither downloaded nor kept whole.
- ``retry`` (``Retry``): an idempotent call that drew no answer (``UPSTREAM_UNAVAILABLE``), a 502/503/504 or
  a 429 is asked again after a jittered exponential backoff, or after the source's ``Retry-After`` (in
  seconds, up to a cap), but never when the wait would pass the request's deadline (``graph.budget``). A
  timeout is not retried: the source is slow, and asking again would only double the wait.
- ``breaker`` (``CircuitBreaker``): after ``breaker_failures`` failures in a row (no answer, timeout, 5xx;
  a 4xx is an answer) calls fail at once with ``UPSTREAM_UNAVAILABLE`` for ``breaker_open_s``; then one
  probe goes through, and its success closes the circuit again. With a Redis cache store the replicas share
  each circuit (``graph.shared_breaker``, ``breaker_sync_s``).
- ``bulkhead`` (``LimitConcurrency``): at most ``max_concurrency`` calls in flight; a call that cannot
  start within ``queue_timeout_s`` fails with ``UPSTREAM_BUSY`` instead of queueing behind hung calls.
  Without it, httpx's pool still caps connections at ``max_concurrency``, waiting up to ``timeout_s``.

Configuration, per ``[sources.<name>]`` (defaults shown)::

    stages = ["size_limit", "retry", "breaker", "bulkhead"]  # which kinds run; their order is fixed
    total_timeout_s = 20       # the whole call; by default twice timeout_s (a full read wait, then as long again)
    connect_timeout_s = 10     # by default timeout_s
    max_response_bytes = 20000000
    retries = 2                # attempts after the first one
    retry_backoff_s = 0.2      # first backoff; doubles per attempt, half of it random
    retry_after_max_s = 5      # a longer Retry-After is not waited for: the failure is reported
    breaker_failures = 5
    breaker_open_s = 10
    breaker_sync_s = 1         # with Redis as the cache: how often a closed breaker reads the replicas' shared circuit
    queue_timeout_s = 2
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from graph.budget import CALL_BUDGET
from graph.calls import Next, SourceCall, SourceResponse, Stage
from graph.config import ConfigError, SourceConfig, declare_source_check, declare_source_keys
from graph.errors import SourceError

log = logging.getLogger("gemeentegraaf.resilience")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
FAILURE_CODES = frozenset({"UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT", "UPSTREAM_ERROR"})  # the source is unwell
Change = Literal["opened", "closed"]  # what a call's outcome did to a circuit


def call_time_limits(config: SourceConfig) -> tuple[float, float]:
    """(``connect_timeout_s``, ``total_timeout_s``) of a source. The total is by default twice ``timeout_s``,
    so an answer whose first byte comes late but whose body then streams steadily still fits."""
    connect = config.number("connect_timeout_s", config.timeout_s)
    total = config.number("total_timeout_s", 2 * config.timeout_s)
    if connect <= 0 or total <= 0:
        raise ConfigError(f"[sources.{config.name}] connect_timeout_s and total_timeout_s must be more than 0")
    return connect, total


class CircuitOpen(SourceError):
    """The fast failure of an open circuit: a subclass so ``Retry`` never asks again and the breaker never
    counts its own refusals as the source's failures."""

    def __init__(self, source: str) -> None:
        super().__init__(
            "UPSTREAM_UNAVAILABLE", source, f"Source '{source}' is failing; calls to it are paused for a moment."
        )


class LimitResponseSize:
    """Refuses an answer larger than ``max_bytes``, so one runaway answer cannot fill the gateway's memory
    while it is parsed and kept. ``Source._http`` stops reading at this limit; the check here holds for an
    answer that a stage further in made without reading a source."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    @classmethod
    def from_config(cls, config: SourceConfig) -> LimitResponseSize:
        return cls(int(config.number("max_response_bytes", 20_000_000)))

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        response = await next(call)
        if len(response.content) > self.max_bytes:
            log.warning("source %s sent %d bytes, over its limit of %d", call.source, len(response.content),
                        self.max_bytes)
            raise SourceError(
                "UPSTREAM_BAD_RESPONSE", call.source,
                f"Source '{call.source}' sent an answer larger than the gateway accepts.", response.status,
            )
        return response


class Retry:
    """Asks an idempotent call again when the source gave no answer or said "not now" (502/503/504, 429).

    Waits ``backoff_s * 2**attempt``, half of it random so many callers do not return in step, or what the
    source's ``Retry-After`` says when it says so in seconds and no more than ``retry_after_max_s``. Never
    waits past the request's deadline: then the last failure is the answer.
    """

    def __init__(
        self,
        retries: int,
        backoff_s: float = 0.2,
        retry_after_max_s: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.retries, self.backoff_s, self.retry_after_max_s = retries, backoff_s, retry_after_max_s
        self._sleep, self._clock, self._rng = sleep, clock, rng

    @classmethod
    def from_config(cls, config: SourceConfig) -> Retry:
        return cls(
            int(config.number("retries", 2)),
            config.number("retry_backoff_s", 0.2),
            config.number("retry_after_max_s", 5.0),
        )

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        if not call.idempotent or self.retries <= 0:
            return await next(call)
        attempt = 0
        while True:
            try:
                response = await next(call)
            except SourceError as exc:
                no_answer = exc.code == "UPSTREAM_UNAVAILABLE" and not isinstance(exc, CircuitOpen)
                wait = self._backoff(attempt) if no_answer and attempt < self.retries else None
                if wait is None or not self._in_time(call, wait):
                    raise
            else:
                if response.status not in RETRY_STATUSES or attempt >= self.retries:
                    return response
                wait = self._wait_for(response, attempt)
                if wait is None or not self._in_time(call, wait):
                    return response
            attempt += 1
            await self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        base = self.backoff_s * 2.0**attempt
        return base / 2 + self._rng() * base / 2

    def _wait_for(self, response: SourceResponse, attempt: int) -> float | None:
        """The source's ``Retry-After`` in seconds if it gave one (None: longer than we wait), else backoff."""
        after = _header(response.headers, "retry-after")
        try:
            seconds = float(after) if after is not None else None
        except ValueError:
            seconds = None  # an HTTP date: not worth a clock comparison with the source; back off instead
        if seconds is None or seconds < 0:
            return self._backoff(attempt)
        return seconds if seconds <= self.retry_after_max_s else None

    def _in_time(self, call: SourceCall, wait: float) -> bool:
        if call.context is None:
            return True
        return self._clock() + wait < CALL_BUDGET.budget(call.context).deadline


def _header(headers: Mapping[str, str], name: str) -> str | None:
    found = headers.get(name)  # httpx.Headers ignores case; a plain mapping (from the cache) is lower case
    return found if found is not None else headers.get(name.title())


class CircuitBreaker:
    """Stops calling a source that keeps failing, so requests fail at once instead of each waiting out its
    own timeout and adding to the source's load; one probe after ``open_s`` finds out whether it is back."""

    def __init__(self, source: str, failures: int, open_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.threshold, self.open_s, self._clock = source, max(1, failures), open_s, clock
        self._failures = 0
        self._open_until: float | None = None  # None: closed
        self._probing = False

    @classmethod
    def from_config(cls, config: SourceConfig) -> CircuitBreaker:
        return cls(config.name, int(config.number("breaker_failures", 5)), config.number("breaker_open_s", 10.0))

    @property
    def closed(self) -> bool:
        return self._open_until is None

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        probe = await self._enter()
        healthy: bool | None = None  # None: the call says nothing about the source (cancelled, refused here)
        try:
            response = await next(call)
            healthy = response.status < 500
            return response
        except SourceError as exc:
            if exc.code in FAILURE_CODES and not isinstance(exc, CircuitOpen):
                healthy = False
            raise
        finally:
            change = self._settle(probe, healthy)
            if change is not None:
                await self._changed(change)

    async def _enter(self) -> bool:
        """``_admit``; a breaker whose state is shared (``graph.shared_breaker``) may ask its peers here."""
        return self._admit()

    async def _changed(self, change: Change) -> None:
        """Called when this breaker opened or closed the circuit; a shared breaker tells its peers."""

    def _admit(self) -> bool:
        """Whether this call is the half-open probe; raises while the circuit is open or a probe is out."""
        if self._open_until is None:
            return False
        if self._probing or self._clock() < self._open_until:
            raise CircuitOpen(self.source)
        self._probing = True
        return True

    def _settle(self, probe: bool, healthy: bool | None) -> Change | None:
        """Counts the call's outcome; says whether the circuit opened or closed because of it."""
        if probe:
            self._probing = False
        if healthy is None:
            return None
        if healthy:
            if probe or self._open_until is None:
                was_open = self._open_until is not None
                if was_open:
                    log.warning("source %s answers again: circuit closed", self.source)
                self._failures, self._open_until = 0, None
                return "closed" if was_open else None
            return None
        self._failures += 1
        if probe or (self._open_until is None and self._failures >= self.threshold):
            log.warning("source %s failed %d times in a row: calls paused for %.1f s", self.source,
                        self._failures, self.open_s)
            self._open_until = self._clock() + self.open_s
            return "opened"
        return None


class LimitConcurrency:
    """At most ``limit`` calls in flight per source, so fan-outs cannot swamp a source; a call that cannot
    start within ``queue_timeout_s`` (None: no limit) fails with ``UPSTREAM_BUSY`` rather than queue behind
    calls that hang."""

    def __init__(self, limit: int, queue_timeout_s: float | None = None) -> None:
        self._semaphore = asyncio.Semaphore(limit)
        self.queue_timeout_s = queue_timeout_s

    @classmethod
    def from_config(cls, config: SourceConfig) -> LimitConcurrency:
        return cls(config.max_concurrency, config.number("queue_timeout_s", 2.0))

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        if self.queue_timeout_s is None or not self._semaphore.locked():
            async with self._semaphore:
                return await next(call)
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await self._semaphore.acquire()
        except TimeoutError:
            raise SourceError(
                "UPSTREAM_BUSY", call.source,
                f"Source '{call.source}' is busy: this call could not start in time behind earlier calls.",
            ) from None
        try:
            return await next(call)
        finally:
            self._semaphore.release()


StageKind = Callable[[SourceConfig], Stage]

STAGE_KINDS: dict[str, StageKind] = {  # in the order they run, outermost first
    "size_limit": LimitResponseSize.from_config,
    "retry": Retry.from_config,
    "breaker": CircuitBreaker.from_config,
    "bulkhead": LimitConcurrency.from_config,
}


def chosen_kinds(config: SourceConfig) -> list[str]:
    """``stages`` from the source's table (a list, or a comma-separated string from the environment); all
    kinds when absent. Unknown names are refused at start-up, naming the known ones."""
    found = config.option("stages")
    if found is None:
        return list(STAGE_KINDS)
    names = [n.strip() for n in found.split(",") if n.strip()] if isinstance(found, str) else found
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"[sources.{config.name}] stages must be a list of names")
    unknown = sorted(set(names) - set(STAGE_KINDS))
    if unknown:
        raise ConfigError(f"[sources.{config.name}] unknown stages {unknown}; any of {list(STAGE_KINDS)}")
    return names


declare_source_keys(
    connect_timeout_s="number", total_timeout_s="number", max_response_bytes="int", retries="int",
    retry_backoff_s="number", retry_after_max_s="number", breaker_failures="int", breaker_open_s="number",
    queue_timeout_s="number", stages="strings",
)
declare_source_check(chosen_kinds)


def resilience_stages(config: SourceConfig) -> list[Stage]:
    """The source's chosen resilience stages, built once, in ``STAGE_KINDS`` order whatever order the
    configuration lists them in (a breaker outside the bulkhead, retries outside the breaker)."""
    chosen = set(chosen_kinds(config))
    return [build(config) for kind, build in STAGE_KINDS.items() if kind in chosen]
