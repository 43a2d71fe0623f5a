"""The one path every source call takes: ``Source.send`` runs a chain of stages, then the HTTP client.

A stage is one small class with one job (note processing for the log, map failures, tell the source who
asked and why, coalesce and cache (``graph.caching``), limit concurrency, retry, break circuits
(``graph.resilience``)) and the same contract as an ASGI middleware turned around::

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse

A stage may answer without calling ``next`` (a cache hit), change the call (a header), or look at the
response. Stages are built once per source at start-up, so per-call work stays small.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from graph import __version__
from graph.auth import SESSION_EXTENSION, USER_EXTENSION, auth_for
from graph.budget import CALL_BUDGET
from graph.cache import RedisStore, Store
from graph.caching import caching_stages
from graph.calls import Next, QueryParams, SourceCall, SourceResponse, Stage
from graph.config import MunicipalityConfig, SourceConfig, SourceTables, declare_source_check, declare_source_keys
from graph.errors import Forbidden, GatewayError, SourceError, source_error_for_status
from graph.logboek import NoteProcessing
from graph.metrics import CountFailures, Metrics, ObserveCalls, WaitTimer
from graph.oplog import LogFailures
from graph.outbound import TellSource, caller_of, user_of
from graph.resilience import LimitConcurrency, LimitResponseSize, call_time_limits, resilience_stages
from graph.shared_breaker import shared_breakers
from graph.shared_rate_limit import SharedRateLimit
from graph.tls import tls_for
from graph.tracing import Tracing

log = logging.getLogger("gemeentegraaf.sources")
USER_AGENT = f"gemeentegraaf/{__version__}"  # sources' logs and the simulators' checks tell the gateway by it


class RateLimit:
    """Stays under a source's "N requests per rolling second" limit (BAG: 50/s per key).

    A source counts a request when it arrives, which is somewhere between the gateway sending it and the
    answer coming back. So a call counts from its start until one second after its answer: at most ``limit``
    calls are in flight or answered within the last second. A burst up to the limit goes at once; calls
    beyond it wait instead of drawing a 429.
    """

    def __init__(
        self,
        limit: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self._clock, self._sleep = clock, sleep
        self._inflight = 0
        self._ends: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()  # waiting callers queue here, so they start in arrival order

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        async with self._lock:
            while True:
                now = self._clock()
                while self._ends and now - self._ends[0] >= 1.0:
                    self._ends.popleft()
                if self._inflight + len(self._ends) < self.limit:
                    break
                await self._sleep(self._ends[0] + 1.0 - now if self._ends else 0.01)
            self._inflight += 1
        try:
            return await next(call)
        finally:
            self._inflight -= 1
            self._ends.append(self._clock())


class RaiseForStatus:
    """Turns non-success answers into ``SourceError``s that never carry the upstream body.

    A refusal other than 404 means the gateway asked something the source would not answer: it is logged
    with the problem type and codes from the source's problem+json (never the body, the URL or values),
    so an operator sees what the source objected to.
    """

    ok = frozenset({200, 201, 204, 304})

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        response = await next(call)
        if response.status in self.ok:
            return response
        kind, codes = problem_of(response.content)
        if response.status != 404:
            log.warning(
                "source %s %s %s: status %s, problem type %s, codes %s",
                call.source, "refused" if response.status < 500 else "failed on", call.method,
                response.status, kind or "-", ",".join(sorted(codes)) or "-",
            )
        raise source_error_for_status(call.source, response.status, codes)


def problem_of(content: bytes) -> tuple[str | None, frozenset[str]]:
    """The ``type`` and the codes (``code``, ``invalidParams[].code``, BAG's ``invalid-params``) of a
    problem+json body; nothing for any other body."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, frozenset()
    if not isinstance(body, Mapping):
        return None, frozenset()
    codes = {body["code"]} if isinstance(body.get("code"), str) else set()
    for key in ("invalidParams", "invalid-params"):
        params = body.get(key)
        if isinstance(params, list):
            codes.update(p["code"] for p in params if isinstance(p, Mapping) and isinstance(p.get("code"), str))
    kind = body.get("type")
    return (kind[:200] if isinstance(kind, str) else None), frozenset(c[:80] for c in codes)


declare_source_keys(public_urls="strings", rate_limit_per_s="number")
# graph.tls reads these for every source; its reader also opens the files, so a wrong path shows at start-up
declare_source_keys(ca_bundle="str", client_cert="str", client_key="str", client_key_password="str")
declare_source_check(tls_for)


def public_urls(config: SourceConfig) -> list[str]:
    """``public_urls``: the URL prefixes a source writes into its objects besides its configured URL."""
    found = config.option("public_urls", [])
    return [str(u).strip().rstrip("/") for u in (found.split(",") if isinstance(found, str) else found)]


def default_stages(
    config: SourceConfig, store: Store | None = None, metrics: Metrics | None = None, tracing: Tracing | None = None
) -> list[Stage]:
    # NoteProcessing outermost, so it sees every failure as the SourceError RaiseForStatus makes of it, and
    # notes answers from the cache too; CallBudget next, so a request's limits hold whether or not its calls
    # are shared; coalescing and the cache (graph.caching) before the source's concurrency and rate limits,
    # so an answer that needs no call never waits for (or uses up) them; then the chosen resilience stages
    # (graph.resilience: size limit, retry, breaker, bulkhead, inside RaiseForStatus so they see statuses and
    # Retry-After); TellSource innermost, so each call that really leaves gets its own span id. With metrics
    # (graph.metrics), failures are counted and logged (graph.oplog) just inside NoteProcessing, as the client
    # will see them, and the calls that really leave are timed last of all.
    stages: list[Stage] = [NoteProcessing(config)]
    if metrics is not None:
        stages += [CountFailures(metrics), LogFailures(time.perf_counter)]
    stages += [CALL_BUDGET, *caching_stages(config, store), RaiseForStatus()]
    chosen = resilience_stages(config)
    if isinstance(store, RedisStore):  # replicas sharing a Redis share each source's circuit (graph.shared_breaker)
        chosen = shared_breakers(chosen, store, config)
    rate = config.option("rate_limit_per_s")  # the source's own limit; stay 10% under it for clock skew
    if rate:
        local = RateLimit(int(float(rate) * 0.9))
        limit: Stage = local
        if isinstance(store, RedisStore):  # replicas sharing a Redis share the limit too
            limit = SharedRateLimit(store, config.name, local.limit, config.timeout_s + 1, local)
        if metrics is not None:
            limit = WaitTimer(limit, metrics.rate_limit_wait.labels(config.name))
        # outside the bulkhead: a call paced by the rate limit waits here, bounded by the request's deadline,
        # not in the bulkhead's queue, whose timeout is for calls stuck behind hung ones (UPSTREAM_BUSY)
        at = next((i for i, st in enumerate(chosen) if isinstance(st, LimitConcurrency)), len(chosen))
        chosen.insert(at, limit)
    stages += chosen
    stages.append(TellSource())
    if tracing is not None:  # graph.tracing: a span per call, with the span id TellSource just sent
        stages.append(tracing.stage())
    if metrics is not None:
        stages.append(ObserveCalls(metrics, config.name))
    return stages


MAX_REMEMBERED_URLS = 4096  # links remembered per source (internal_url); then forgotten all at once


class Source:
    """A configured source API: its pooled HTTP client, credentials and stage chain."""

    def __init__(
        self,
        config: SourceConfig,
        stages: Sequence[Stage] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        store: Store | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        """``store``: where the cache stage keeps answers (``graph.cache``); None keeps nothing between calls."""
        self.config = config
        self.name = config.name
        self.base_url = config.url
        self.gemeenten: frozenset[str] = frozenset()  # the municipalities it serves (set by Sources); none: national
        # Where links to this source may point: its own URL first, then the public URLs it writes into its
        # objects when the gateway reaches it by another (internal) URL.
        self._prefixes = [urlsplit(config.url), *(urlsplit(u) for u in public_urls(config))]
        self._internal: dict[str, str | None] = {}
        self.stages = list(default_stages(config, store, metrics, tracing) if stages is None else stages)
        limits = httpx.Limits(max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency)
        connect_timeout_s, self.total_timeout_s = call_time_limits(config)
        # the size limit is the size_limit stage's, if chosen: applied here while reading, so a runaway answer
        # is never downloaded whole
        self.max_response_bytes = min(
            (s.max_bytes for s in self.stages if isinstance(s, LimitResponseSize)), default=None
        )
        self.client = httpx.AsyncClient(
            auth=auth_for(config),
            timeout=httpx.Timeout(config.timeout_s, connect=connect_timeout_s),
            limits=limits,
            transport=transport,
            verify=tls_for(config),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        self._chain = self._build_chain()

    def _build_chain(self) -> Next:
        chain: Next = self._http
        for stage in reversed(self.stages):
            chain = _link(stage, chain)
        return chain

    def owns(self, url: str) -> bool:
        """Whether a followed link points into this source (by its own URL or a public one)."""
        return self.internal_url(url) is not None

    def internal_url(self, url: str) -> str | None:
        """The URL to call for a link into this source, or None for a link elsewhere. A link matches a prefix
        on scheme, host and port and a path below the prefix's path with no dot segments (``base/../other``
        would reach another API with these credentials); a public prefix is swapped for the configured URL.
        Remembered per URL (a pure function of it): every followed link asks each source in turn."""
        if url in self._internal:
            return self._internal[url]
        found = self._internal_url(url)
        if len(self._internal) >= MAX_REMEMBERED_URLS:
            self._internal.clear()
        self._internal[url] = found
        return found

    def _internal_url(self, url: str) -> str | None:
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if "\\" in url or any(segment in {".", ".."} for segment in unquote(parts.path).split("/")):
            return None
        for prefix in self._prefixes:
            if parts.scheme != prefix.scheme or parts.netloc.lower() != prefix.netloc.lower():
                continue
            if parts.path == prefix.path or parts.path.startswith(prefix.path.rstrip("/") + "/"):
                rest = url[len(f"{parts.scheme}://{parts.netloc}{prefix.path.rstrip('/')}"):]
                return self.base_url + rest
        return None

    def url(self, path_or_url: str) -> str:
        """The URL to call: a path below the base URL, or an absolute link this source owns. Every call goes
        through here, so credentials never travel to a URL outside the source."""
        if not path_or_url.startswith(("http://", "https://")):
            return self.base_url + path_or_url
        internal = self.internal_url(path_or_url)
        if internal is None:
            raise SourceError("FORBIDDEN_URL", self.name, "A link points outside the configured sources.")
        return internal

    async def send(self, call: SourceCall) -> SourceResponse:
        if self.gemeenten:
            self._admit(call.context)
        try:
            return await self._chain(call)
        except GatewayError as exc:
            attributed = self._attributed(exc, call.context)
            if attributed is exc:
                raise
            raise attributed from None

    def _admit(self, context: Any) -> None:
        """A municipal source answers only callers whose token lets them see one of its municipalities: checked
        here, on the one path of every call, so no field (top-level or nested) reaches past the token's limit."""
        caller = caller_of(context)
        allowed = caller.municipalities if caller is not None else None
        if allowed is not None and not self.gemeenten & allowed:
            refused = min(self.gemeenten)
            raise Forbidden(f"This token may not see municipality {refused}.", gemeente=refused)

    def _attributed(self, exc: GatewayError, context: Any) -> GatewayError:
        """``exc`` naming the municipality it happened in: the one whose part of the graph made the call
        (``Context.gemeente``), else the one municipality this source serves."""
        code = getattr(context, "gemeente", None)
        if code is None and len(self.gemeenten) == 1:
            code = next(iter(self.gemeenten))
        if code is None or "gemeente" in exc.extensions:
            return exc
        return exc.with_extensions(gemeente=code)

    async def _json(self, call: SourceCall) -> Any:
        response = await self.send(call)
        try:
            return response.json()
        except GatewayError as exc:
            attributed = self._attributed(exc, call.context)
            if attributed is exc:
                raise
            raise attributed from None

    async def get(
        self,
        path_or_url: str,
        params: QueryParams = (),
        headers: Mapping[str, str] | None = None,
        context: Any = None,
        subjects: Iterable[str] = (),
        keep: bool = True,
    ) -> Any:
        call = SourceCall(
            self.name, "GET", self.url(path_or_url), params, headers=dict(headers or {}), context=context,
            subjects=tuple(subjects), keep=keep,
        )
        return await self._json(call)

    async def post(
        self,
        path_or_url: str,
        body: Any,
        params: QueryParams = (),
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        context: Any = None,
        subjects: Iterable[str] = (),
    ) -> Any:
        call = SourceCall(
            self.name, "POST", self.url(path_or_url), params, body, dict(headers or {}), idempotent, context,
            tuple(subjects),
        )
        return await self._json(call)

    async def _http(self, call: SourceCall) -> SourceResponse:
        if self.internal_url(call.url) != call.url:  # the last word: no stage or caller sends elsewhere
            raise SourceError("FORBIDDEN_URL", self.name, "A link points outside the configured sources.")
        user = user_of(call.context)  # for credentials minted per caller (ZGW JWT); never a header of its own
        extensions: dict[str, Any] = {USER_EXTENSION: user} if user is not None else {}
        caller = caller_of(call.context)
        if caller is not None and caller.token:
            extensions[SESSION_EXTENSION] = caller.token  # a source with per-user sessions gets the caller's
        request = self.client.build_request(
            call.method,
            call.url,
            params=list(call.params) or None,
            content=orjson.dumps(call.json) if call.json is not None else None,
            headers={**({"Content-Type": "application/json"} if call.json is not None else {}), **call.headers},
            extensions=extensions or None,
        )
        try:
            # httpx's timeouts bound each wait (connect, each read); this bounds the whole call, so a source
            # that sends a few bytes just inside every read timeout still ends in time
            async with asyncio.timeout(self.total_timeout_s):
                response = await self.client.send(request, stream=True)
                try:
                    content = await self._read(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise SourceError("UPSTREAM_TIMEOUT", self.name,
                              f"Source '{self.name}' did not finish its answer in time.") from None
        except httpx.TimeoutException:
            raise SourceError("UPSTREAM_TIMEOUT", self.name, f"Source '{self.name}' did not answer in time.") from None
        except httpx.HTTPError:
            raise SourceError("UPSTREAM_UNAVAILABLE", self.name, f"Source '{self.name}' cannot be reached.") from None
        return SourceResponse(response.status_code, response.headers, content, self.name)

    async def _read(self, response: httpx.Response) -> bytes:
        """The whole body, unless it grows past ``max_response_bytes``: then reading stops there (a declared
        length over the limit is refused before reading)."""
        limit = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise self._too_large(response.status_code, int(declared))
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if limit is not None and size > limit:
                raise self._too_large(response.status_code, size)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, status: int, size: int) -> SourceError:
        log.warning("source %s: an answer over its limit of %d bytes (%d seen or declared); not read further",
                    self.name, self.max_response_bytes or 0, size)
        return SourceError("UPSTREAM_BAD_RESPONSE", self.name,
                           f"Source '{self.name}' sent an answer larger than the gateway accepts.", status)

    async def aclose(self) -> None:
        await self.client.aclose()


def _link(stage: Stage, next: Next) -> Next:
    async def call_stage(call: SourceCall) -> SourceResponse:
        return await stage(call, next)

    return call_stage


class Sources:
    """Every configured source, by name; routes absolute URLs to the source that owns them.

    With several municipalities (``[municipalities]``, ``graph.config.MunicipalityConfig``) the pool also hands
    out one view per municipality (``municipality(code)``): there a role (``zaken``) names that municipality's
    own source and every national source keeps its name, so resolvers ask ``sources["zaken"]`` whichever
    municipality they work for. In the pool itself the roles of the default municipality name its sources, so
    the top-level fields serve it.
    """

    gemeente: MunicipalityConfig | None = None  # set on a municipality's view

    def __init__(
        self,
        sources: Mapping[str, Source],
        municipalities: Mapping[str, MunicipalityConfig] | None = None,
        default: str | None = None,
    ) -> None:
        self._pool = dict(sources)  # each source once, by its own name
        self._by_name = dict(self._pool)
        # longest base URL first, so /zaken/api/v1 on a shared host never shadows a longer prefix
        self._by_prefix = sorted(self._pool.values(), key=lambda s: len(s.base_url), reverse=True)
        self.municipalities: dict[str, MunicipalityConfig] = dict(municipalities or {})
        self.default_municipality = default
        municipal = {name for m in self.municipalities.values() for name in m.sources.values()}
        self._national = {name: s for name, s in self._pool.items() if name not in municipal}
        for m in self.municipalities.values():
            for name in m.sources.values():
                if name in self._pool:
                    self._pool[name].gemeenten |= {m.code}
        if default is not None:
            self._by_name.update(self._roles(self.municipalities[default]))
        self._views: dict[str, Sources] = {}

    def _roles(self, municipality: MunicipalityConfig) -> dict[str, Source]:
        return {role: self._pool[name] for role, name in municipality.sources.items() if name in self._pool}

    @classmethod
    def from_config(
        cls,
        configs: Mapping[str, SourceConfig],
        store: Store | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> Sources:
        built = {name: Source(cfg, store=store, metrics=metrics, tracing=tracing) for name, cfg in configs.items()}
        if isinstance(configs, SourceTables):
            return cls(built, configs.municipalities, configs.default_municipality)
        return cls(built)

    def municipality(self, code: str) -> Sources:
        """The view of one configured municipality (a ``KeyError`` for any other code)."""
        found = self._views.get(code)
        if found is None:
            municipality = self.municipalities[code]
            found = Sources.__new__(Sources)
            found._pool, found._by_prefix, found._views = self._pool, self._by_prefix, {}
            found.municipalities, found.default_municipality = self.municipalities, self.default_municipality
            found._national = self._national
            found._by_name = {**self._national, **self._roles(municipality)}
            found.gemeente = municipality
            self._views[code] = found
        return found

    def __getitem__(self, name: str) -> Source:
        try:
            return self._by_name[name]
        except KeyError:
            error = SourceError("UPSTREAM_UNAVAILABLE", name, f"Source '{name}' is not configured.")
            raise (error if self.gemeente is None else error.with_extensions(gemeente=self.gemeente.code)) from None

    def get(self, name: str) -> Source | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        """Every source once, by its own name (a role of the default municipality is no name of its own)."""
        return list(self._pool)

    def owner_of(self, url: str) -> Source:
        """The source a followed link belongs to; links elsewhere are refused (no open proxying)."""
        for source in self._by_prefix:
            if source.owns(url):
                return source
        raise SourceError("FORBIDDEN_URL", "gateway", "A link points outside the configured sources.")

    async def aclose(self) -> None:
        await asyncio.gather(*(s.aclose() for s in self._pool.values()), return_exceptions=True)
