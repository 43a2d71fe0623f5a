"""``/ready``: whether this replica can serve, for load balancers and compose health checks.

Ready means every configured source answers HTTP at all within ``ready_timeout_s`` (any status below 500:
a 401 or 404 at the base URL still proves the source is there) and, when the cache is Redis, that Redis
answers. The probe goes without credentials (no token is minted, nothing reaches the processing log) and
says who it is in its User-Agent, so a source's logs tell it from real calls. Answers are kept for
``ready_cache_s`` so a tight polling loop does not become load on the sources.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from graph import __version__
from graph.cache import RedisStore, Store
from graph.source import Source, Sources

USER_AGENT = f"gemeentegraaf-readiness/{__version__}"


class Readiness:
    def __init__(self, sources: Sources, store: Store, timeout_s: float = 2.0, keep_s: float = 1.0) -> None:
        self.sources, self.store, self.timeout_s, self.keep_s = sources, store, timeout_s, keep_s
        self._last: tuple[float, int, dict[str, Any]] | None = None
        self._running: asyncio.Future[tuple[int, dict[str, Any]]] | None = None

    async def endpoint(self, request: Request) -> Response:
        status, body = await self.check()
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})

    async def check(self) -> tuple[int, dict[str, Any]]:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.keep_s:
            return self._last[1], self._last[2]
        if self._running is None or self._running.done():  # concurrent probes share one round of checks
            self._running = asyncio.ensure_future(self._check())
        status, body = await asyncio.shield(self._running)
        self._last = (time.monotonic(), status, body)
        return status, body

    async def _check(self) -> tuple[int, dict[str, Any]]:
        names = self.sources.names()
        results = await asyncio.gather(*(self._probe(self.sources[name]) for name in names))
        detail: dict[str, Any] = dict(zip(names, results, strict=True))
        ready = all(r["ready"] for r in results)
        body: dict[str, Any] = {"status": "ready" if ready else "unready", "sources": detail}
        if self.store.name == "redis":
            cache_ok = await self._redis_answers()
            body["cache"] = {"backend": "redis", "ready": cache_ok}
            ready = ready and cache_ok
            body["status"] = "ready" if ready else "unready"
        return (200 if ready else 503), body

    async def _probe(self, source: Source) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            response = await source.client.get(
                source.base_url + "/", auth=None, timeout=self.timeout_s,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
            await response.aclose()
        except httpx.TimeoutException:
            return {"ready": False, "reason": "no answer in time"}
        except httpx.HTTPError:
            return {"ready": False, "reason": "cannot be reached"}
        ms = round((time.perf_counter() - started) * 1000, 1)
        if response.status_code >= 500:
            return {"ready": False, "reason": f"answers HTTP {response.status_code}", "ms": ms}
        return {"ready": True, "ms": ms}

    async def _redis_answers(self) -> bool:
        if not isinstance(self.store, RedisStore):
            return self.store.healthy
        try:
            async with asyncio.timeout(self.timeout_s):
                return bool(await self.store.run("return 1", (), ()) == 1)  # None while Redis is away
        except TimeoutError:
            return False
