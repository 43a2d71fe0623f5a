"""Keeping source answers between requests: coalescing of identical calls in flight, and an HTTP cache.

Two stages of ``Source.send`` (``graph.source.default_stages``), built once per source:

- ``Coalesce``: identical idempotent calls in flight at the same moment, within one request or across
  concurrent ones, go to the source once and share its answer or its failure. A waiter that is cancelled
  leaves the shared call running for the others; the call stops only when no one waits for it any more.
- ``HttpCache``: 200 answers kept in a ``graph.cache.Store`` for the source's ``cache_ttl_s``, or for what
  the source's ``Cache-Control`` says (``no-store``: never; ``private``: only per caller; ``max-age``,
  ``s-maxage``, ``no-cache``; never more than a day unless ``cache_ttl_s`` says longer); an expired entry
  with an ``ETag`` is revalidated with ``If-None-Match``.

Invalidation (``graph.notifications`` calls ``mark_changed`` when a source announces a change): keys are
hashes that include the caller, so entries cannot be found by URL. Instead a change writes tombstones, the
moment it was heard of, for the changed URLs, their collections, and the source's lists and searches. Every
entry records when its call was sent; a lookup reads the entry and the one tombstone that can supersede it
in one round trip, and an entry sent for before its tombstone counts as expired (revalidated or fetched
anew). Which tombstone depends on the call:

- reading one URL (a GET whose only parameters shape the answer: ``expand``, ``fields``, paging): that URL's;
- a lookup by identity (a call whose filter is one of the source's ``cache_lookup_keys``, such as ZGW's
  ``_zoek`` with ``uuid__in``): its members cannot change but by changing themselves, so the tombstones of
  the objects the answer holds (read in a second round trip, and only for a hit);
- any other list or search: the source's list tombstone, since any change can change which objects match.

What makes two calls "identical" is ``CallKey``: method, URL, query, body and the call's own headers, the
credential the gateway uses towards the source and, when the answer depends on who asks, the caller's
subject and purpose. An answer depends on who asks when the source's credentials are per caller (ZGW's
``user_id``, caller sessions) or when it holds personal data. Personal data (the BRP, Open Klant, LVV,
Huishoudboekje, and any call about ``subjects``) is never put in the store unless the source's
``cache_personal = true``, and then only under the caller's subject and purpose: no answer ever crosses
from one user to another. Keys are hashed, so no BSN or URL stands in a (shared) store in plain text.

Configuration, per ``[sources.<name>]``::

    cache_ttl_s = 30           # how long an answer is fresh when the source says nothing; 0 (default): off
    personal = false           # the source holds no personal data (default true: nothing kept but per caller)
    cache_personal = false     # whether personal answers may be kept at all (then per caller and purpose)
    cache_per_caller = true    # zgw-jwt: answers depend on the caller's user_id; false shares them
    cache_max_bytes = 1000000  # larger answers are not kept
    cache_lookup_keys = ["uuid__in"]  # filters that name their objects (see invalidation above)

The engine knows no source by name: which sources hold personal data and how long their answers stay fresh
is configuration (the demo's is in ``demo/gemeentegraaf.toml``), and the defaults are the safe ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping

import httpx
import orjson

from graph.cache import Store
from graph.calls import Next, SourceCall, SourceResponse, Stage
from graph.config import SourceConfig, declare_source_keys
from graph.outbound import activity_of, caller_of

PER_CALLER_AUTH = frozenset({"zgw-jwt", "caller-session"})  # credentials minted per caller
REVALIDATE_KEEP_S = 300.0  # an expired entry with an ETag stays this long (at least) to be revalidated
KEPT_HEADERS = ("content-type", "etag", "content-crs", "api-version")
FORMAT = 2
MAX_FRESH_S = 86400.0  # a source's own max-age is trusted this long at most, so tombstones can outlive entries
CLOCK_SKEW_S = 0.25  # replicas stamp entries and tombstones by their own clocks: an entry this close is stale
SHAPE_KEYS = frozenset({"expand", "fields", "page", "pageSize", "ordering"})  # choose no members, only form






@dataclasses.dataclass(frozen=True, slots=True)
class SourceCaching:
    """A source's caching settings, read once at start-up (a wrong value is refused there, naming the key)."""

    source: str
    identity: str  # who the gateway is towards the source: never a secret, only what tells credentials apart
    ttl_s: float = 0.0
    personal: bool = False
    cache_personal: bool = False
    per_caller: bool = False
    max_bytes: int = 1_000_000
    prefixes: tuple[str, ...] = ()  # the source's URL and its public URLs: what its objects' URLs start with
    lookup_keys: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, config: SourceConfig) -> SourceCaching:
        parts = [config.name, config.url, config.auth]
        parts += [str(config.option(k) or "") for k in ("client_id", "token_url", "header", "cookie", "scope")]
        # a caller's session is theirs alone: never shared, whatever the configuration says
        per_caller = config.auth == "caller-session" or config.flag("cache_per_caller", config.auth in PER_CALLER_AUTH)
        return cls(
            source=config.name,
            identity=hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32],
            ttl_s=config.number("cache_ttl_s", 0.0),  # off unless the configuration says how long
            personal=config.flag("personal", True),  # a source holds personal data unless it is said not to
            cache_personal=config.flag("cache_personal", False),
            per_caller=per_caller,
            max_bytes=int(config.number("cache_max_bytes", 1_000_000)),
            prefixes=tuple(u.rstrip("/") for u in (config.url, *_listed(config.option("public_urls", [])))),
            lookup_keys=frozenset(_listed(config.option("cache_lookup_keys", []))),
        )

    @property
    def longest_keep_s(self) -> float:
        """The longest any entry of this source stays in the store (fresh, then kept for revalidation)."""
        longest = max(self.ttl_s, MAX_FRESH_S)
        return longest + max(longest, REVALIDATE_KEEP_S)

    def personal_call(self, call: SourceCall) -> bool:
        return self.personal or bool(call.subjects)

    def path_of(self, url: str) -> str | None:
        """A URL of this source as what tombstones are named by: the path below whichever of its prefixes the
        URL starts with (internal and public URLs alike), without query, fragment or final slash."""
        bare = url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
        for prefix in self.prefixes:
            if bare == prefix or bare.startswith(prefix + "/"):
                return bare[len(prefix) :] or "/"
        return None

    def tombstone(self, path: str) -> str:
        return f"gg:gone:{FORMAT}:{self.source}:{hashlib.sha256(path.encode()).hexdigest()[:32]}"

    @property
    def lists_tombstone(self) -> str:
        return f"gg:gone:{FORMAT}:{self.source}:lists"


def _listed(value: object) -> list[str]:
    """A list option as the file has it, or comma-separated from the environment."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return [str(item).strip() for item in items if str(item).strip()]


async def mark_changed(
    store: Store, settings: SourceCaching, urls: Iterable[str], clock: Callable[[], float] = time.time
) -> int:
    """Tombstones for objects a source says changed: each URL, its collection (a list GET without filters),
    and the source's lists and searches, stamped now. They live as long as any entry they may supersede.
    Returns how many were written (none when the source keeps nothing)."""
    if settings.ttl_s <= 0:
        return 0
    paths = {p for p in (settings.path_of(u) for u in urls) if p is not None}
    if not paths:
        return 0
    keys = {settings.lists_tombstone}
    for path in paths:
        keys |= {settings.tombstone(path), settings.tombstone(path.rsplit("/", 1)[0] or "/")}
    stamp = repr(clock()).encode()
    await asyncio.gather(*(store.set(key, stamp, settings.longest_keep_s) for key in sorted(keys)))
    return len(keys)


def _stamp(raw: bytes | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class CallKey:
    """``digest`` names a call's answer; ``caller`` is the (subject, purpose) it was keyed by, if any."""

    digest: str
    caller: tuple[str, str | None] | None

    @classmethod
    def of(cls, call: SourceCall, settings: SourceCaching) -> CallKey:
        caller: tuple[str, str | None] | None = None
        if settings.per_caller or settings.personal_call(call):
            who = caller_of(call.context)  # None: the gateway itself (start-up calls, anonymous callers)
            caller = (who.subject, activity_of(call.context)) if who is not None else None
        headers = sorted((k.lower(), v) for k, v in call.headers.items())
        what = [settings.identity, call.method.upper(), call.url, [list(p) for p in call.params], call.json,
                headers, caller]
        digest = hashlib.sha256(orjson.dumps(what, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return cls(f"gg:http:{FORMAT}:{settings.source}:{digest}", caller)


# -- coalescing ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Flight:
    task: asyncio.Future[SourceResponse]
    waiters: int = 0


class Coalesce:
    """Single-flight: one source call per distinct idempotent call in flight; every waiter gets its answer."""

    def __init__(self, settings: SourceCaching) -> None:
        self.settings = settings
        self._flights: dict[str, _Flight] = {}

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        if not call.idempotent:
            return await next(call)
        key = CallKey.of(call, self.settings).digest
        flight = self._flights.get(key)
        if flight is None:
            # a task of its own, so no waiter's cancellation (a client gone, a deadline) reaches it directly
            flight = self._flights[key] = _Flight(asyncio.ensure_future(next(call)))
            flight.task.add_done_callback(functools.partial(self._landed, key))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():  # the last one left: nobody needs the answer
                if self._flights.get(key) is flight:
                    del self._flights[key]  # a newcomer starts afresh rather than join a cancelled call
                flight.task.cancel()

    def _landed(self, key: str, done: asyncio.Future[SourceResponse]) -> None:
        found = self._flights.get(key)
        if found is not None and found.task is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # every waiter has seen it; keeps asyncio from reporting it as never retrieved

    @property
    def in_flight(self) -> int:
        return len(self._flights)


# -- the HTTP cache ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """A kept answer: status, the few headers worth keeping, and the body, until ``fresh_until`` (epoch s).
    ``sent_at``: when the call that fetched (or last revalidated) it was sent, to compare with tombstones;
    ``holds``: for a lookup by identity, the paths of the objects in it."""

    fresh_until: float
    status: int
    headers: dict[str, str]
    content: bytes
    sent_at: float = 0.0
    holds: tuple[str, ...] = ()

    def encode(self) -> bytes:
        """Compact: the small head as orjson, a newline (orjson never writes one), then the body as it came."""
        head = [FORMAT, self.fresh_until, self.status, self.headers, self.sent_at, list(self.holds)]
        return orjson.dumps(head) + b"\n" + self.content

    @classmethod
    def decode(cls, raw: bytes | None) -> Entry | None:
        if not raw:
            return None
        head, _, content = raw.partition(b"\n")
        try:
            version, fresh_until, status, headers, sent_at, holds = orjson.loads(head)
            if version != FORMAT or not isinstance(headers, dict) or not isinstance(holds, list):
                return None
            return cls(float(fresh_until), int(status), {str(k): str(v) for k, v in headers.items()}, content,
                       float(sent_at), tuple(str(h) for h in holds))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None  # another format (an older gateway sharing the store) is a miss, not a failure

    def response(self, source: str) -> SourceResponse:
        return SourceResponse(self.status, httpx.Headers(self.headers), self.content, source)


def directives(headers: Mapping[str, str]) -> dict[str, str | None]:
    """``Cache-Control`` as lower-case directive names with their value (None for a bare directive)."""
    found: dict[str, str | None] = {}
    for part in (headers.get("cache-control") or "").split(","):
        name, sep, value = part.strip().partition("=")
        if name:
            found[name.strip().lower()] = value.strip().strip('"') if sep else None
    return found


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def freshness(headers: Mapping[str, str], default_s: float, per_caller: bool) -> float | None:
    """How long an answer may be used without asking again, or None when it must not be kept at all."""
    cc = directives(headers)
    vary = headers.get("vary") or ""
    if "no-store" in cc or "*" in vary:
        return None
    shared = not per_caller
    if shared and ("private" in cc or "authorization" in vary.lower() or "cookie" in vary.lower()):
        return None  # the source says the answer is one user's
    ttl = _seconds(cc.get("s-maxage")) if shared and "s-maxage" in cc else None
    if ttl is None:
        ttl = _seconds(cc.get("max-age")) if "max-age" in cc else None
    if ttl is None:
        ttl = default_s
    if "no-cache" in cc:
        ttl = 0.0  # may be kept, but asked again (revalidated) before every use
    return max(0.0, ttl - (_seconds(headers.get("age")) or 0.0))


class HttpCache:
    """Answers from the store while fresh; revalidates expired entries that have an ETag; keeps 200s."""

    def __init__(self, settings: SourceCaching, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.settings, self.store, self._clock = settings, store, clock  # wall clock: replicas share the store

    def key_for(self, call: SourceCall) -> CallKey | None:
        """The call's key, or None when its answer must not be kept (or looked up) at all."""
        if not call.keep or not call.idempotent or call.method.upper() not in {"GET", "POST"}:
            return None
        key = CallKey.of(call, self.settings)
        # personal data stays per request, unless the operator chose otherwise: then per caller and purpose
        personal = self.settings.personal_call(call)
        if personal and (not self.settings.cache_personal or key.caller is None or key.caller[1] is None):
            return None
        return key

    def kind_of(self, call: SourceCall) -> str:
        """``object``, ``lookup`` or ``list``: which tombstones can supersede the call's answer."""
        names = {name for name, _ in call.params}
        if isinstance(call.json, Mapping):
            names |= {str(name) for name in call.json}
        elif call.json is not None:
            return "list"
        if call.method.upper() == "GET" and names <= SHAPE_KEYS:
            return "object"
        if names & self.settings.lookup_keys and names - self.settings.lookup_keys <= SHAPE_KEYS:
            return "lookup"
        return "list"

    async def _lookup(self, key: CallKey, call: SourceCall, kind: str) -> Entry | None:
        """The entry, expired (``fresh_until`` 0) when a tombstone says it changed after the entry's call."""
        path = self.settings.path_of(call.url) if kind == "object" else None
        probe = self.settings.tombstone(path) if path is not None else self.settings.lists_tombstone
        found = await self.store.get_many(key.digest, *([probe] if kind != "lookup" else []))
        entry = Entry.decode(found[0])
        if entry is None:
            return None
        stamps = found[1:]
        if kind == "lookup" and entry.holds:
            stamps = await self.store.get_many(*(self.settings.tombstone(h) for h in entry.holds))
        changed = max((s for s in map(_stamp, stamps) if s is not None), default=None)
        if changed is not None and entry.sent_at < changed + CLOCK_SKEW_S:
            return dataclasses.replace(entry, fresh_until=0.0)
        return entry

    def _holds(self, content: bytes) -> tuple[str, ...]:
        """The paths of the objects an answer holds: a page's ``results``, a plain list, or one object."""
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            return ()
        items = body.get("results") if isinstance(body, Mapping) and "results" in body else body
        items = items if isinstance(items, list) else [items]
        urls = (item.get("url") for item in items if isinstance(item, Mapping))
        return tuple(sorted({p for p in (self.settings.path_of(u) for u in urls if isinstance(u, str)) if p}))

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        key = self.key_for(call)
        if key is None:
            return await next(call)
        kind = self.kind_of(call)
        entry = await self._lookup(key, call, kind)
        sent_at = self._clock()  # before the call: a change heard of while it is under way supersedes its answer
        if entry is not None and entry.fresh_until > sent_at:
            return entry.response(call.source)  # a hit: never queued for the source's limits
        etag = entry.headers.get("etag") if entry is not None else None
        if entry is None or etag is None or call.method.upper() != "GET":
            response = await next(call)
        else:
            response = await next(dataclasses.replace(call, headers={**call.headers, "If-None-Match": etag}))
            if response.status == 304:
                await self._keep(key, dataclasses.replace(entry, sent_at=sent_at), response.headers, entry)
                return entry.response(call.source)
        if response.status == 200:
            kept = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
            holds = self._holds(response.content) if kind == "lookup" else ()
            await self._keep(key, Entry(0.0, 200, kept, response.content, sent_at, holds), response.headers, entry)
        return response

    async def _keep(self, key: CallKey, entry: Entry, upstream: Mapping[str, str], old: Entry | None) -> None:
        upstream = upstream if isinstance(upstream, httpx.Headers) else httpx.Headers(dict(upstream))
        ttl = freshness(upstream, self.settings.ttl_s, key.caller is not None)
        if ttl is not None:
            ttl = min(ttl, max(self.settings.ttl_s, MAX_FRESH_S))  # so no entry outlives a tombstone
        if ttl is None or len(entry.content) > self.settings.max_bytes:
            if old is not None:
                await self.store.delete(key.digest)  # what may no longer be kept must not be served either
            return
        headers = dict(entry.headers)
        if "etag" in upstream:  # a 304 may name a new validator
            headers["etag"] = upstream["etag"]
        keep_s = ttl + (max(ttl, REVALIDATE_KEEP_S) if "etag" in headers else 0.0)
        if keep_s <= 0:
            return
        fresh = dataclasses.replace(entry, fresh_until=self._clock() + ttl, headers=headers)
        await self.store.set(key.digest, fresh.encode(), keep_s)


declare_source_keys(cache_ttl_s="number", personal="bool", cache_personal="bool", cache_per_caller="bool",
                    cache_max_bytes="int", cache_lookup_keys="strings")


def caching_stages(config: SourceConfig, store: Store | None) -> list[Stage]:
    """The source's coalescing stage, and its cache stage when there is a store and ``cache_ttl_s`` > 0."""
    settings = SourceCaching.from_config(config)
    stages: list[Stage] = [Coalesce(settings)]
    if store is not None and settings.ttl_s > 0:
        stages.append(HttpCache(settings, store))
    return stages
