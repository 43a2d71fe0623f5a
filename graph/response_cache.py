"""Whole answers of dashboard queries kept between requests, served stale while one refresh runs.

The schema, not the configuration, says what may be kept: a root field whose answer holds no personal data
carries ``metadata=response_cached(ttl_s)``. An operation is kept only when it is a query, every root field it
selects is so marked, and no field anywhere below it is guarded by a personal scope (``graph.authz``), so a
document that also reaches a person, a role's person or ``me`` is never kept, whatever its root fields say.
The decision is made once per document text and operation name, by walking the parsed document against the
schema; citizens are never served from here (everything they may see is personal).

Key: a hash of the document text, the operation name, the variables (canonical JSON) and the caller's scopes
(sorted), so no argument stands in a shared store in plain text. Neither the caller's identity nor the purpose
is in it: the gateway authorises by scope and the sources authorise the gateway, and a field without personal
data needs no purpose, so two callers with the same scopes get the same answer.

An entry is fresh for its TTL (the smallest of its root fields'), then stale for ``stale_s`` more:

- fresh: served, and no source is asked;
- stale: served at once, and a refresh starts in the background when this replica wins the entry's refresh
  lock (``Store.add``): one refresh per entry across every replica sharing the store. A refresh that fails
  keeps the stale answer (logged), and the lock then holds the next try off for one TTL;
- missing, or past its stale window: run, once in this process however many identical polls wait for it.

Only answers without errors are kept. A refresh and a miss run in a Context of their own for the same caller
(the request's ends with its answer) and with a deadline of their own. Kept answers carry
``Cache-Control: private, max-age=N`` (they depend on the Authorization header) and a strong ``ETag`` over the
body; a GET whose ``If-None-Match`` names it gets a 304 without one.

Configuration (``[gateway.response_cache]``; ``GEMEENTEGRAAF_GATEWAY_RESPONSE_CACHE_<KEY>`` overrides a value)::

    enabled = true          # default false
    ttl_s = 30              # for marked fields that name no TTL of their own
    stale_s = 300           # how long past its TTL an answer is still served while it is refreshed
    max_bytes = 1000000     # larger answers are not kept
    [gateway.response_cache.ttl]
    meldingenStatistiek = 10   # per root field, over what the schema says
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import logging
import secrets
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import cachetools
import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    parse,
)
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from graph import __version__
from graph.authz import needs_personal_scope
from graph.budget import STARTED
from graph.cache import Store
from graph.caller import Caller
from graph.config import ConfigError, GatewayConfig
from graph.context import Context
from graph.graphql_http import JSON, accepted
from graph.limits import limits_of

log = logging.getLogger(__name__)

MARK = "gemeentegraaf.response_cache"  # the metadata key of a marked root field
FORMAT = 1
GRACE_S = 2.0  # a refresh's lock outlives its deadline by this much
DECISIONS = 512  # distinct (document, operation name) decisions remembered


@dataclasses.dataclass(frozen=True, slots=True)
class Mark:
    ttl_s: float | None = None


def response_cached(ttl_s: float | None = None) -> dict[str, Any]:
    """The ``metadata`` of a root field whose whole answer may be kept for ``ttl_s`` seconds (the configured
    default when None). Mark only fields whose answer is the same for everyone with the same scopes and holds
    no personal data: counts, public registers."""
    if ttl_s is not None and ttl_s <= 0:
        raise ValueError("ttl_s must be more than 0")
    return {MARK: Mark(ttl_s)}


# -- configuration ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseCacheSettings:
    """``[gateway.response_cache]``, checked."""

    enabled: bool = False
    ttl_s: float = 30.0
    stale_s: float = 300.0
    max_bytes: int = 1_000_000
    ttl: Mapping[str, float] = dataclasses.field(default_factory=dict)  # per root field name


_KEYS = frozenset(ResponseCacheSettings.__dataclass_fields__)


def response_cache_settings(config: GatewayConfig) -> ResponseCacheSettings:
    """The table, with ``response_cache_<key>`` in ``[gateway]`` (from the environment) overriding one value; a
    wrong value is a ``ConfigError`` naming the key."""
    table = config.options.get("response_cache", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.response_cache] must be a table")
    prefix = "response_cache_"
    table = {**table, **{k[len(prefix) :]: v for k, v in config.options.items() if k.startswith(prefix)}}
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"[gateway.response_cache] has unknown key(s): {', '.join(sorted(unknown))}")
    defaults = ResponseCacheSettings()
    enabled = table.get("enabled", defaults.enabled)
    if not isinstance(enabled, bool):
        if str(enabled).lower() not in ("true", "1", "yes", "false", "0", "no"):
            raise ConfigError("[gateway.response_cache] enabled must be true or false")
        enabled = str(enabled).lower() in ("true", "1", "yes")
    ttl = table.get("ttl", {})
    if not isinstance(ttl, Mapping):
        raise ConfigError("[gateway.response_cache.ttl] must be a table of root field names to seconds")
    return ResponseCacheSettings(
        enabled=enabled,
        ttl_s=_number("ttl_s", table.get("ttl_s", defaults.ttl_s), minimum=0.0, inclusive=False),
        stale_s=_number("stale_s", table.get("stale_s", defaults.stale_s), minimum=0.0, inclusive=True),
        max_bytes=int(_number("max_bytes", table.get("max_bytes", defaults.max_bytes), minimum=1.0, inclusive=True)),
        ttl={str(k): _number(f"ttl.{k}", v, minimum=0.0, inclusive=False) for k, v in ttl.items()},
    )


def _number(key: str, value: Any, minimum: float, inclusive: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"[gateway.response_cache] {key} must be a number") from None
    if isinstance(value, bool) or number < minimum or (number == minimum and not inclusive):
        raise ConfigError(f"[gateway.response_cache] {key} must be {'at least' if inclusive else 'more than'} "
                          f"{minimum:g}")
    return number


# -- which operations qualify -------------------------------------------------------------------------------


def _strawberry(field: GraphQLField) -> Any:
    return field.extensions.get("strawberry-definition")


def marks(schema: GraphQLSchema) -> dict[str, Mark]:
    """The marked root fields of the schema, by name."""
    root = schema.query_type
    found: dict[str, Mark] = {}
    for name, field in (root.fields.items() if root is not None else ()):
        mark = (getattr(_strawberry(field), "metadata", None) or {}).get(MARK)
        if isinstance(mark, Mark):
            found[name] = mark
    return found


class _Walk:
    """One operation, every field it can reach (fragments and every possible type of abstract ones)."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.schema, self.fragments = schema, fragments
        self.seen: set[tuple[str, int]] = set()

    def fields(self, selection: SelectionSetNode, parent: GraphQLObjectType) -> Iterator[FieldNode]:
        """The fields ``selection`` asks of ``parent`` directly (through fragments, not below fields)."""
        for node in selection.selections:
            if isinstance(node, FieldNode):
                yield node
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition.name.value if node.type_condition else None
                if condition is None or self._applies(condition, parent):
                    yield from self.fields(node.selection_set, parent)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                key = (parent.name, id(fragment))
                if fragment is not None and key not in self.seen and self._applies(
                        fragment.type_condition.name.value, parent):
                    self.seen.add(key)  # a cycle is another rule's error; each spread once per type
                    yield from self.fields(fragment.selection_set, parent)

    def _applies(self, condition: str, parent: GraphQLObjectType) -> bool:
        kind = self.schema.get_type(condition)
        if kind is None:
            return False
        if kind is parent:
            return True
        return is_abstract_type(kind) and self.schema.is_sub_type(kind, parent)

    def personal(self, selection: SelectionSetNode, parent: GraphQLObjectType) -> bool:
        """Whether any field reachable from ``selection`` needs a personal scope (or is unknown)."""
        key = (parent.name, id(selection))
        if key in self.seen:
            return False
        self.seen.add(key)
        for node in self.fields(selection, parent):
            name = node.name.value
            if name == "__typename":
                continue
            field = parent.fields.get(name)
            if field is None or needs_personal_scope(_strawberry(field)):
                return True  # unknown fields are validation's to refuse; never kept
            if node.selection_set is None:
                continue
            target = get_named_type(field.type)
            kinds = self.schema.get_possible_types(target) if is_abstract_type(target) else [target]
            for kind in kinds:
                if not isinstance(kind, GraphQLObjectType) or self.personal(node.selection_set, kind):
                    return True
        return False


def decide(
    schema: GraphQLSchema, document: str, operation_name: str | None, ttls: Mapping[str, float], max_tokens: int
) -> float | None:
    """How long the operation's answer stays fresh (the least of its root fields' ``ttls``), or None when it
    must not be kept (see the module docstring)."""
    try:
        parsed = parse(document, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return None  # execution reports it
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    root = schema.query_type
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY or root is None:
        return None
    operation = operations[0]
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = _Walk(schema, fragments)
    chosen: list[float] = []
    for node in walk.fields(operation.selection_set, root):
        if node.name.value == "__typename":
            continue
        if node.name.value not in ttls:
            return None  # unmarked, or introspection
        chosen.append(ttls[node.name.value])
    walk.seen.clear()
    if not chosen or walk.personal(operation.selection_set, root):
        return None
    return min(chosen)


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """A kept operation: how long its answer stays fresh, and its document's hash."""

    ttl_s: float
    document: str


# -- entries ------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    """One kept operation's key and how to run it again, in a Context of its own."""

    key: str
    decision: Decision
    request: Request
    run: Run
    make_context: MakeContext


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """A kept answer (``payload``: the data and extensions as JSON) and its times, in epoch seconds.
    ``generation`` names this answer, so a replica that saw it stale can lock its refresh and no other."""

    generation: str
    stored: float
    fresh_until: float
    stale_until: float
    payload: bytes

    def encode(self) -> bytes:
        head = orjson.dumps([FORMAT, self.generation, self.stored, self.fresh_until, self.stale_until])
        return head + b"\n" + self.payload

    @classmethod
    def decode(cls, raw: bytes | None) -> Entry | None:
        if not raw:
            return None
        head, _, payload = raw.partition(b"\n")
        try:
            version, generation, stored, fresh, stale = orjson.loads(head)
            if version != FORMAT:
                return None
            return cls(str(generation), float(stored), float(fresh), float(stale), payload)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            return None  # another gateway's format: a miss

    def result(self) -> ExecutionResult:
        kept = orjson.loads(self.payload)
        return ExecutionResult(data=kept.get("data"), errors=None, extensions=kept.get("extensions"))


@dataclasses.dataclass(frozen=True, slots=True)
class _Hint:
    """What the HTTP answer says about one kept operation."""

    max_age: int
    if_none_match: str | None  # a GET's validators


@dataclasses.dataclass(slots=True)
class _Flight:
    task: asyncio.Future[tuple[ExecutionResult, Entry | None]]
    detached: bool = False  # a refresh: runs to its end whoever waits
    waiters: int = 0


Run = Callable[[Context], Awaitable[ExecutionResult]]
MakeContext = Callable[[Request], Awaitable[Context]]


class ResponseCache:
    """The gateway's one response cache over the app's ``Store``."""

    def __init__(
        self,
        settings: ResponseCacheSettings,
        store: Store,
        schema: GraphQLSchema,
        clock: Callable[[], float] = time.time,  # the wall clock: replicas share the entries
    ) -> None:
        self.settings, self.store, self.schema, self._clock = settings, store, schema, clock
        marked = marks(schema)
        unknown = sorted(set(settings.ttl) - set(marked))
        if unknown:
            raise ConfigError(f"[gateway.response_cache.ttl] names field(s) the schema does not mark as kept: "
                              f"{', '.join(unknown)}")
        self.ttls = {name: settings.ttl.get(name, mark.ttl_s or settings.ttl_s) for name, mark in marked.items()}
        self._decisions: cachetools.LRUCache[tuple[str, str | None], float | None] = cachetools.LRUCache(DECISIONS)
        self._flights: dict[str, _Flight] = {}
        self._hints: weakref.WeakKeyDictionary[Response, _Hint] = weakref.WeakKeyDictionary()
        self._background: set[asyncio.Task[None]] = set()
        self.stats: Counter[str] = Counter()  # fresh, stale, miss, refreshed, refresh_failed (tests, metrics)

    @classmethod
    def from_config(cls, config: GatewayConfig, store: Store, schema: GraphQLSchema) -> ResponseCache:
        return cls(response_cache_settings(config), store, schema)

    def decision(self, data: GraphQLRequestData, max_tokens: int) -> Decision | None:
        return self._decide(data.query, data.operation_name, max_tokens)

    def _decide(self, query: str | None, name: str | None, max_tokens: int) -> Decision | None:
        if not self.settings.enabled or not query:
            return None
        document = hashlib.sha256(query.encode()).hexdigest()  # kept by hash: documents can be large
        key = (document, name)
        if key in self._decisions:
            ttl_s = self._decisions[key]
        else:
            ttl_s = self._decisions[key] = decide(self.schema, query, name, self.ttls, max_tokens)
        return None if ttl_s is None else Decision(ttl_s, document)

    def key_of(self, decision: Decision, data: GraphQLRequestData, scopes: frozenset[str]) -> str:
        return self._key(decision, data.operation_name, data.variables, scopes)

    def _key(self, decision: Decision, name: str | None, variables: Any, scopes: frozenset[str]) -> str:
        what = [__version__, decision.document, name, variables or {}, sorted(scopes)]
        try:
            digest = hashlib.sha256(orjson.dumps(what, option=orjson.OPT_SORT_KEYS)).hexdigest()
        except TypeError:  # variables orjson cannot write (a file upload): never kept
            return ""
        return f"gg:response:{FORMAT}:{digest}"

    # -- the request path -----------------------------------------------------------------------------------

    async def fresh(
        self, request: Request, body: bytes | None, caller: Caller, max_tokens: int
    ) -> tuple[Response, str, str | None] | None:
        """A fresh kept answer as the HTTP response, straight from the store, before the GraphQL view parses
        anything: the body is the one kept (byte for byte what the view would send) with the headers ``respond``
        gives, and the operation's document and name. None for anything else (stale, missing, not kept, not a
        plain JSON or GET request): the view then answers as usual, refreshing a stale answer."""
        if not self.settings.enabled or caller.citizen:
            return None
        asked = _asked(request, body)
        if asked is None:
            return None
        query, name, variables = asked
        decision = self._decide(query, name, max_tokens)
        key = self._key(decision, name, variables, caller.scopes) if decision is not None else ""
        if not key:
            return None
        entry = Entry.decode(await self.store.get(key))
        now = self._clock()
        if entry is None or now >= entry.fresh_until:
            return None
        self.stats["fresh"] += 1
        etag = '"' + hashlib.sha256(entry.payload).hexdigest()[:40] + '"'
        media = accepted(request.headers.get("accept", ""))
        headers = {"Cache-Control": f"private, max-age={max(0, int(entry.fresh_until - now))}", "ETag": etag,
                   "Vary": "Authorization, Accept"}
        validators = request.headers.get("if-none-match") if request.method == "GET" else None
        if validators is not None and _matches(validators, etag):
            return Response(status_code=304, headers=headers), query, name
        return Response(entry.payload, headers=headers,
                        media_type=JSON if media == JSON else f"{media}; charset=utf-8"), query, name

    async def answer(
        self,
        request: Request,
        sub_response: Response,
        context: Context,
        data: GraphQLRequestData,
        run: Run,
        make_context: MakeContext,
    ) -> ExecutionResult:
        """The operation's result: from the store when it may be kept and is there, else from ``run``, which
        executes the operation in the Context it is given and closes that Context."""
        decision = None if context.caller.citizen else self.decision(data, limits_of(context).max_tokens)
        key = self.key_of(decision, data, context.caller.scopes) if decision is not None else ""
        if decision is None or not key:
            return await run(context)
        validators = request.headers.get("if-none-match") if request.method == "GET" else None
        now = self._clock()
        entry = Entry.decode(await self.store.get(key))
        if entry is not None and now < entry.stale_until:
            if now < entry.fresh_until:
                self.stats["fresh"] += 1
            else:
                self.stats["stale"] += 1
                self._refresh_soon(_Job(key, decision, request, run, make_context), entry,
                                   limits_of(context).deadline_s)
            self._hints[sub_response] = _Hint(max(0, int(entry.fresh_until - now)), validators)
            return entry.result()
        self.stats["miss"] += 1
        result, kept = await self._join(_Job(key, decision, request, run, make_context))
        if kept is not None:
            self._hints[sub_response] = _Hint(max(0, int(kept.fresh_until - self._clock())), validators)
        return result

    def respond(self, response: Response, response_data: Any, sub_response: Response) -> Response:
        """``response`` with the caching headers of a kept operation, or a 304 when the client has its body."""
        hint = self._hints.pop(sub_response, None)
        if hint is None or not isinstance(response_data, Mapping):  # not kept, or a batch
            return response
        etag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
        headers = {"Cache-Control": f"private, max-age={hint.max_age}", "ETag": etag, "Vary": "Authorization, Accept"}
        if hint.if_none_match is not None and _matches(hint.if_none_match, etag):
            return Response(status_code=304, headers=headers)
        response.headers.update(headers)
        return response

    # -- running once -------------------------------------------------------------------------------------

    async def _join(self, job: _Job) -> tuple[ExecutionResult, Entry | None]:
        """The key's flight in this process, started if there is none; the last waiter to leave a flight that
        is no refresh stops it, as nobody needs its answer."""
        key = job.key
        flight = self._flights.get(key) or self._start(job, detached=False)
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.detached and not flight.task.done():
                if self._flights.get(key) is flight:
                    del self._flights[key]
                flight.task.cancel()

    def _start(self, job: _Job, detached: bool) -> _Flight:
        work = asyncio.ensure_future(self._run(job))
        flight = self._flights[job.key] = _Flight(work, detached)
        work.add_done_callback(functools.partial(self._landed, job.key))
        return flight

    def _landed(self, key: str, done: asyncio.Future[tuple[ExecutionResult, Entry | None]]) -> None:
        found = self._flights.get(key)
        if found is not None and found.task is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # seen by every waiter; keeps asyncio from reporting it as never retrieved

    async def _run(self, job: _Job) -> tuple[ExecutionResult, Entry | None]:
        """The operation in a Context and with a deadline of its own (the request's may end first), kept when
        it answered without errors."""
        renewed = Request({**job.request.scope, STARTED: time.monotonic()})
        context = await job.make_context(renewed)
        async with asyncio.timeout(limits_of(context).deadline_s + GRACE_S):
            result = await job.run(context)
        if result.errors or result.data is None:
            return result, None
        kept = {"data": result.data, **({"extensions": result.extensions} if result.extensions else {})}
        payload = orjson.dumps(kept)
        if len(payload) > self.settings.max_bytes:
            return result, None
        now = self._clock()
        fresh_until = now + job.decision.ttl_s
        entry = Entry(secrets.token_hex(8), now, fresh_until, fresh_until + self.settings.stale_s, payload)
        await self.store.set(job.key, entry.encode(), job.decision.ttl_s + self.settings.stale_s)
        return result, entry

    def _refresh_soon(self, job: _Job, entry: Entry, deadline_s: float) -> None:
        """Starts the background refresh of a stale entry, unless one runs here already. A task of its own:
        the request that saw the entry stale is answered at once and ends without stopping it."""
        if job.key in self._flights:
            return
        refresh = self._refresh(job, entry, deadline_s)
        task = asyncio.get_running_loop().create_task(refresh)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh(self, job: _Job, entry: Entry, deadline_s: float) -> None:
        key = job.key
        lock = f"{key}:refresh:{entry.generation}"  # this answer's: a replica that read it before a refresh landed
        if not await self.store.add(lock, b"1", deadline_s + GRACE_S):  # loses, as the lock outlives the refresh
            return  # another replica (or an earlier try here) refreshes this answer
        if key in self._flights:  # a miss started meanwhile: its answer is the refresh
            return
        flight = self._start(job, detached=True)
        why = ""
        try:
            result, kept = await flight.task
            if kept is not None:
                self.stats["refreshed"] += 1
                return
            why = ", ".join(sorted({str((e.extensions or {}).get("code", "ERROR")) for e in result.errors or ()}))
            why = why or "not kept"
        except Exception as exc:  # anything: the stale answer stays, and the log says why
            why = type(exc).__name__
        self.stats["refresh_failed"] += 1
        left = max(0.0, entry.stale_until - self._clock())
        log.warning("response cache: refreshing %s failed (%s); its stale answer is served for at most %.0f s more",
                    key[-12:], why, left)
        await self.store.set(lock, b"failed", job.decision.ttl_s)  # the next try one TTL from now, on any replica

    async def settled(self) -> None:
        """Returns once no refresh and no flight runs here (tests, and counts that must be complete)."""
        while self._background or self._flights:
            await asyncio.gather(*self._background, *(f.task for f in self._flights.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Stops refreshes still running (at shutdown)."""
        for task in list(self._background):
            task.cancel()
        for flight in list(self._flights.values()):
            flight.task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` against our ETag, by the weak comparison RFC 9110 asks for here."""
    wanted = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _asked(request: Request, body: bytes | None) -> tuple[str, str | None, Any] | None:
    """(query, operationName, variables) of a GET or a JSON POST, or None for anything the view must judge."""
    try:
        if request.method == "GET":
            params = request.query_params
            raw = params.get("variables")
            asked: Any = {"query": params.get("query"), "operationName": params.get("operationName"),
                          "variables": orjson.loads(raw) if raw else None}
        elif request.method == "POST" and body and request.headers.get("content-type", "").startswith(JSON):
            asked = orjson.loads(body)
        else:
            return None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(asked, dict):
        return None
    query, name, variables = asked.get("query"), asked.get("operationName"), asked.get("variables")
    if not isinstance(query, str) or not isinstance(name, str | None) or not isinstance(variables, dict | None):
        return None
    return query, name, variables
