"""Facts about a source that are worked out once per process, such as what its OpenAPI document allows.

Such a fact costs a call (or a few) the first time and nothing after: it is kept per ``Source`` object (so a
new set of sources, as in tests, starts afresh) outside every request's hot path. Concurrent first callers
share one run. A run that fails in a way that may pass (no answer, a 5xx) is not kept: ``fallback`` serves
until ``retry_s`` has passed, so an outage at start-up pins nothing and costs no extra call per request.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from graph.errors import SourceError
from graph.source import Source

T = TypeVar("T")


class PerSource(Generic[T]):
    def __init__(
        self,
        work: Callable[[Source, Any], Awaitable[T]],
        fallback: Callable[[Source], T],
        retry_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._work, self._fallback, self._retry_s, self._clock = work, fallback, retry_s, clock
        self._known: weakref.WeakKeyDictionary[Source, T] = weakref.WeakKeyDictionary()
        self._failed: weakref.WeakKeyDictionary[Source, tuple[float, T]] = weakref.WeakKeyDictionary()
        self._running: weakref.WeakKeyDictionary[Source, asyncio.Future[T]] = weakref.WeakKeyDictionary()

    def known(self, source: Source) -> T | None:
        """The fact, if it has been worked out (no call is made)."""
        return self._known.get(source)

    async def get(self, source: Source, context: Any = None) -> T:
        """The fact for ``source``; ``context`` is the request whose call works it out, if one must."""
        found = self._known.get(source)
        if found is not None:
            return found
        failed = self._failed.get(source)
        if failed is not None and self._clock() - failed[0] < self._retry_s:
            return failed[1]
        running = self._running.get(source)
        if running is None:
            running = self._running[source] = asyncio.ensure_future(self._run(source, context))
        return await asyncio.shield(running)  # one caller giving up must not cancel the others' answer

    async def _run(self, source: Source, context: Any) -> T:
        try:
            fact = await self._work(source, context)
        except SourceError:
            fact = self._fallback(source)
            self._failed[source] = (self._clock(), fact)
            return fact
        finally:
            self._running.pop(source, None)
        self._known[source] = fact
        self._failed.pop(source, None)
        return fact
