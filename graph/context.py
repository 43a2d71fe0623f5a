"""Per-request state: the sources, the caller's request and one DataLoader per (source, key kind).

Loaders live exactly as long as one GraphQL request, so identical keys in one request are fetched once
and nothing personal outlives the request that asked for it.

With several municipalities, ``municipality(code)`` gives the request's part for one of them: a child context
with the municipality's view of the sources (``graph.source.Sources.municipality``) and loaders of its own, but
the request's caller, purpose, ids and processing log (``root``). Objects resolved under it keep resolving
under it (``graph.scoped``), so every link below ``gemeente(code:)`` asks that municipality's sources.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from starlette.requests import Request

from graph.caller import ANONYMOUS, Caller, Processing, new_processing
from graph.errors import PurposeError
from graph.purpose import Activity, Register
from graph.source import Sources

K = TypeVar("K")
V = TypeVar("V")
BatchFn = Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]


class Context:
    """``caller`` is who asks (``ANONYMOUS`` until authentication says otherwise); ``processing`` is the
    request's purpose and ids, which stages pass on to the sources and the processing log records."""

    def __init__(
        self,
        sources: Sources,
        request: Request | None = None,
        caller: Caller = ANONYMOUS,
        processing: Processing | None = None,
    ) -> None:
        self.sources = sources
        self.request = request
        self.caller = caller
        self.processing = processing or new_processing(None)
        # Set per operation by graph.purpose.PurposeBinding: the validated activity, or why there is none.
        self.register: Register = Register()
        self.purpose: Activity | None = None
        self.purpose_error: PurposeError | None = PurposeError("PURPOSE_REQUIRED", "No purpose was settled.")
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}
        self._batches: set[asyncio.Task[Any]] = set()
        self._started: dict[Hashable, asyncio.Task[Any]] = {}
        # the request's own context: the call budget and the processing log count per root (graph.budget,
        # graph.logboek); a municipality's part is a child whose ``gemeente`` is its CBS code
        self.root: Context = self
        self.gemeente: str | None = None
        self._children: dict[str, Context] = {}

    def close(self) -> None:
        """End the request's work still in flight. DataLoader batches run as tasks of their own, outside the
        request's task, so a client that leaves (or a deadline) would otherwise not stop their source calls."""
        for task in [*self._batches, *self._started.values()]:
            task.cancel()
        for child in self._children.values():
            child.close()

    def municipality(self, code: str) -> Context:
        """The request's part for municipality ``code`` (one per request, so its loaders batch across fields):
        its sources are that municipality's view; caller, purpose, ids, register and log are the request's."""
        root = self.root
        found = root._children.get(code)
        if found is None:
            found = Context(root.sources.municipality(code), root.request, root.caller, root.processing)
            found.register, found.purpose, found.purpose_error = root.register, root.purpose, root.purpose_error
            found.root, found.gemeente = root, code
            root._children[code] = found
        return found

    def start(self, key: Hashable, work: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        """``work`` running once per request under ``key``: a parent field that already knows what a child
        field will ask (``persoon(bsn).zaken``) starts it here, and the child, asking under the same key, joins
        it instead of waiting one more round trip."""
        found = self._started.get(key)
        if found is None:

            async def run() -> V:
                return await work()

            found = self._started[key] = asyncio.ensure_future(run())
            found.add_done_callback(_retrieved)  # a start nobody joins (a field that failed) logs no warning
        return found

    def loader(
        self, name: Hashable, batch: BatchFn[Any, Any], max_batch_size: int | None = None
    ) -> DataLoader[Any, Any]:
        """The request's loader called ``name``, created on first use with ``batch`` as its batch function."""
        found = self._loaders.get(name)
        if found is None:

            async def run(keys: list[Any]) -> list[Any]:  # aiodataloader insists on a coroutine function
                task = asyncio.current_task()
                if task is not None:
                    self._batches.add(task)
                try:
                    return list(await batch(keys))
                finally:
                    if task is not None:
                        self._batches.discard(task)

            found = self._loaders[name] = DataLoader(run, max_batch_size=max_batch_size)
        return found

    async def follow(self, url: str) -> Any:
        """GET a linked resource by its URL, once per request, from whichever source owns it."""
        return await self.loader("follow", self._follow_batch).load(url)

    def prime(self, url: str, body: Any) -> None:
        """Record a resource that arrived inline (``_expand``), so following its URL costs no call."""
        self.loader("follow", self._follow_batch).prime(url, body)

    async def _follow_batch(self, urls: list[str]) -> list[Any]:
        async def one(url: str) -> Any:
            return await self.sources.owner_of(url).get(url, context=self)

        return list(await asyncio.gather(*(one(u) for u in urls), return_exceptions=True))


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
