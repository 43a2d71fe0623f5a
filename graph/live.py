"""Live updates: GraphQL subscriptions over a websocket at ``/graphql`` (graphql-transport-ws), every event
answered like a query.

Connecting. The bearer token comes in the handshake's ``Authorization`` header or, since browsers cannot set
headers on a websocket, in the ``connection_init`` payload (``{"Authorization": "Bearer …"}``, also under
``"headers"``); the purpose likewise (``X-Verwerkingsactiviteit``), or per operation with ``@verwerking``. A
wrong header refuses the handshake (``graph.app``); a missing or wrong token at ``connection_init`` closes the
socket with 4403. Only subscriptions run here: a query over the socket would share one context with every
operation of the connection, outside the processing log, so it is refused (send it with POST).

Subscribing. A subscription field's resolver returns ``feed(info, topic, resolve, …)``. Its guard
(``graph.authz``) has just checked scope and purpose on the connection's context; ``feed`` takes the settled
purpose at once, because that context is shared by the connection's operations.

Each event. Per event ``feed`` makes a fresh ``Context`` (the same caller and purpose, new trace ids, empty
loaders, its own call budget: after a notification's cache tombstone the source is asked again) and asks
``resolve`` what the event means for this subscriber: a value (None for a deleted object), or ``SKIP``.
``LiveExecutor`` runs the subscriber's selection on that value under the fresh context, so every field
resolves through its normal resolvers and guards, and writes the event's processing-log records
(``graph.logboek``) before the event goes out, as for a query. A subscription ends when the token expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterator, Mapping
from typing import Any, cast

import jwt
from graphql import ExecutionResult as GraphQLResult
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult, Info
from strawberry.types.graphql import OperationType

from graph.authn import Authenticator, AuthError
from graph.caller import MAX_HEADER, PURPOSE_HEADER, Caller, new_processing
from graph.config import ConfigError, GatewayConfig, declare_gateway_table
from graph.context import Context
from graph.errors import BadRequest, GatewayError, PurposeError
from graph.errors_extension import shape
from graph.events import MAX_PENDING, Event, LocalBus, Poll, Polls, bus_for
from graph.logboek import ProcessingLog
from graph.oplog import log_operation
from graph.purpose import Activity
from graph.source import Sources

log = logging.getLogger("gemeentegraaf.live")

NOTIFICATIONS = "notificaties"  # the topic of every message the Notificaties callback receives (graph.notifications)
SYSTEM = Caller("gemeentegraaf", "Gemeentegraaf live updates")
READY_S = 1.0  # how long a new subscription waits for the bus to reach the other replicas
ONLY_SUBSCRIPTIONS = "Only subscriptions run over the websocket; send queries with POST /graphql."
SUBSCRIPTIONS_ONLY_THERE = "Subscriptions run over a websocket: connect to /graphql with graphql-transport-ws."


@dataclasses.dataclass(frozen=True, slots=True)
class LiveSettings:
    """``[gateway.live]``, checked."""

    poll_interval_s: float = 5.0  # how often a source without notifications is asked, while someone listens
    max_pending: int = MAX_PENDING  # events waiting per subscription before the oldest is dropped
    max_subscriptions: int = 20  # per connection
    connection_init_timeout_s: float = 10.0  # a socket that sends no connection_init in time is closed


_KEYS = frozenset(f.name for f in dataclasses.fields(LiveSettings))


def live_settings(config: GatewayConfig) -> LiveSettings:
    table = config.options.get("live", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.live] must be a table")
    entry = {**table, **{k[len("live_") :]: v for k, v in config.options.items() if k.startswith("live_")}}
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"[gateway.live] has unknown key(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(LiveSettings):
        if field.name not in entry:
            continue
        raw, whole = entry[field.name], field.type == "int"
        try:
            value = int(raw) if whole else float(raw)
        except (TypeError, ValueError):
            value = None
        if isinstance(raw, bool) or value is None or value <= 0 or (whole and float(raw) != value):
            kind = "a whole number >= 1" if whole else "a number of seconds > 0"
            raise ConfigError(f"[gateway.live] {field.name} must be {kind}")
        values[field.name] = value
    return LiveSettings(**values)


declare_gateway_table("live", _KEYS, live_settings)


class TokenExpired(GatewayError):
    code = "UNAUTHENTICATED"


class Skip:
    """What ``resolve`` returns (``SKIP``) when an event, looked at closely, does not concern the subscriber."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP = Skip()
Resolve = Callable[[Context, Event], Awaitable[Any]]


def _all(event: Event) -> bool:
    return True


def _whole(event: Event) -> Hashable:
    return tuple(sorted(event.items()))


@dataclasses.dataclass(frozen=True, slots=True)
class Polling:
    """A source polled for a subscription: loops are shared by ``name``; ``make`` gives a fresh poll, and is
    handed a maker of contexts (the gateway's own, no caller's), one per round so nothing stays cached."""

    name: str
    make: Callable[[Callable[[], Context]], Poll]


class LiveContext(Context):
    """The connection's context: who connected (set at ``connection_init``) and the app's ``Live``. Fields of
    events never run under it; each event has a fresh ``Context`` of its own."""

    def __init__(self, live: Live, sources: Sources, websocket: WebSocket, caller: Caller | None) -> None:
        super().__init__(sources)
        self.live = live
        self.headers: Mapping[str, str] = websocket.headers
        self.connection_params: dict[str, Any] = {}  # the connection_init payload (set by Strawberry)
        self.authenticated = caller  # by the handshake's Authorization header, or None: at connection_init
        self.expires: float | None = None  # the token's exp (epoch seconds): subscriptions end there


@dataclasses.dataclass(slots=True)
class Update:
    """What a subscription yields: the event's value and the fresh context its fields resolve under."""

    value: Any
    context: Context
    live: Live
    name: str | None

    async def finish(self, result: Any) -> GraphQLResult:
        """The event's execution, inside its processing log; its context closed afterwards."""
        started = time.perf_counter()
        answer: Any = None

        async def run() -> Any:
            return await result if inspect.isawaitable(result) else result

        try:
            answer = await self.live.logboek.around(self.context, self.name, run())
        finally:
            self.context.close()
            log_operation(self.context, self.name, answer, time.perf_counter() - started)
        if isinstance(answer, GraphQLResult):
            return answer
        return GraphQLResult(answer.data, answer.errors)  # the processing log withheld the answer


class LiveExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, with each subscription event run under the ``Update``'s own context."""

    update: Update | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = cast(LiveExecutor, super().build_per_event_executor(payload))
        if isinstance(payload, Update):
            executor.root_value, executor.context_value = payload.value, payload.context
            executor.update = payload
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        return result if self.update is None else self.update.finish(result)


class LiveOperations(SchemaExtension):
    """Over a websocket only subscriptions run, and subscriptions only there; every streamed result's errors are
    shaped as an answer's are (``ShapeErrors`` shapes once, when an operation ends, which events do not wait for)."""

    def on_execute(self) -> Iterator[None]:
        live = isinstance(self.execution_context.context, LiveContext)
        if live != (self.execution_context.operation_type is OperationType.SUBSCRIPTION):
            raise BadRequest(ONLY_SUBSCRIPTIONS if live else SUBSCRIPTIONS_ONLY_THERE)
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [shape(e) for e in errors]
        yield


def _param(params: Mapping[str, Any], name: str) -> str | None:
    """A connection_init payload value by (case-insensitive) name, at the top or under ``headers``."""
    for where in (params, params.get("headers")):
        if isinstance(where, Mapping):
            for key, value in where.items():
                if isinstance(key, str) and key.lower() == name.lower() and isinstance(value, str):
                    return value
    return None


def _expiry(caller: Caller) -> float | None:
    if caller.token is None:
        return None
    try:  # already verified by graph.authn: only its exp is read here
        exp = jwt.decode(caller.token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class Live:
    """The app's subscriptions: its event bus, its polling loops and the processing log events are written to."""

    def __init__(self, settings: LiveSettings, bus: LocalBus, sources: Sources, logboek: ProcessingLog) -> None:
        self.settings, self.bus, self.sources, self.logboek = settings, bus, sources, logboek
        self.polls = Polls(bus)
        self.active = 0  # subscriptions running now, each ready for events (tests, metrics)

    @classmethod
    def from_config(cls, config: GatewayConfig, sources: Sources, logboek: ProcessingLog) -> Live:
        return cls(live_settings(config), bus_for(config), sources, logboek)

    def context(self, websocket: WebSocket, caller: Caller | None) -> LiveContext:
        return LiveContext(self, self.sources, websocket, caller)

    async def connect(self, context: LiveContext, authenticator: Authenticator | None) -> None:
        """``connection_init``: who connects and why, or ``ConnectionRejectionError`` (closed with 4403)."""
        params = context.connection_params
        given, header = _param(params, "authorization"), context.headers.get("authorization")
        caller = context.authenticated
        if caller is None or (given is not None and given != header):
            if authenticator is None or (caller is not None and given is not None):  # two different tokens
                raise ConnectionRejectionError({"message": "Authorization missing or twice, differently."})
            try:
                caller = await authenticator.authenticate(given)
            except AuthError as refusal:
                log.info("websocket refused at connection_init: %s", refusal.message)  # fixed sentences only
                raise ConnectionRejectionError({"message": refusal.message}) from None
        purpose = (_param(params, PURPOSE_HEADER) or context.headers.get(PURPOSE_HEADER) or "").strip()
        context.caller = caller
        context.processing = new_processing(purpose if 0 < len(purpose) <= MAX_HEADER else None,
                                            context.headers.get("traceparent"))
        context.expires = _expiry(caller)

    async def notification(self, message: Mapping[str, Any]) -> None:
        """A Notificaties message, as an event for every replica: its string fields and string kenmerken."""
        event = {k: v for k, v in message.items() if isinstance(v, str) and len(v) <= MAX_HEADER}
        kenmerken = message.get("kenmerken")
        if isinstance(kenmerken, Mapping):
            event.update({f"kenmerken.{k}": v for k, v in list(kenmerken.items())[:20]
                          if isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_HEADER})
        await self.bus.publish(NOTIFICATIONS, event)

    def system_context(self) -> Context:
        """A context of the gateway's own (polling): no caller's identity, no purpose, no personal data asked."""
        return Context(self.sources, None, SYSTEM, new_processing(None))

    def fresh(self, ctx: Context, purpose: Activity | None, purpose_error: PurposeError | None) -> Context:
        """The context one event resolves under: the subscriber's caller and settled purpose, nothing cached."""
        made = Context(ctx.sources, None, ctx.caller,
                       new_processing(purpose.id if purpose is not None else ctx.processing.activity))
        made.register, made.purpose, made.purpose_error = ctx.register, purpose, purpose_error
        return made

    async def updates(
        self,
        ctx: LiveContext,
        name: str | None,
        purpose: tuple[Activity | None, PurposeError | None],
        topic: str,
        resolve: Resolve,
        accept: Callable[[Event], bool],
        key: Callable[[Event], Hashable],
        polling: Polling | None,
    ) -> AsyncGenerator[Update, None]:
        subscription = self.bus.subscribe(topic, accept, key, self.settings.max_pending)
        holding: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()
        if polling is not None:
            holding = self.polls.holding(polling.name, topic, lambda: polling.make(self.system_context),
                                         self.settings.poll_interval_s)
        try:
            async with holding:
                await self.bus.ready(READY_S)
                self.active += 1
                try:
                    while True:
                        left = None if ctx.expires is None else ctx.expires - time.time()
                        if left is not None and left <= 0:
                            raise TokenExpired("The token has expired; connect again with a fresh one.")
                        event = await subscription.next(left)
                        if event is None:
                            continue
                        fresh = self.fresh(ctx, *purpose)
                        try:
                            value = await resolve(fresh, event)
                        except asyncio.CancelledError:
                            await self._record(fresh, name, failed=True)
                            raise
                        except Exception as exc:  # on this event's field, shaped (and masked) like any error
                            value = exc
                        if isinstance(value, Skip):
                            await self._record(fresh, name, failed=False)
                            continue
                        yield Update(value, fresh, self, name)
                finally:
                    self.active -= 1
        finally:
            subscription.close()

    async def _record(self, fresh: Context, name: str | None, failed: bool) -> None:
        """The processing records of an event that yields nothing (what was looked up to decide)."""

        async def outcome() -> ExecutionResult:
            if failed:
                raise _Interrupted
            return ExecutionResult(data=None, errors=None)

        try:
            with contextlib.suppress(_Interrupted):
                await self.logboek.around(fresh, name, outcome())
        finally:
            fresh.close()

    async def aclose(self) -> None:
        await self.polls.aclose()
        await self.bus.aclose()


class _Interrupted(Exception):
    pass


def feed(
    info: Info[Context, None],
    topic: str,
    resolve: Resolve,
    accept: Callable[[Event], bool] = _all,
    key: Callable[[Event], Hashable] = _whole,
    polling: Polling | None = None,
) -> AsyncGenerator[Any, None]:
    """The body of a subscription field: events on ``topic`` that ``accept`` lets through, coalesced by
    ``key`` while the subscriber is busy, each turned into a value by ``resolve`` under a fresh context. It
    yields ``Update``s, which ``LiveExecutor`` unwraps. Returned, not iterated, so the purpose is taken while this
    operation's guard has just settled it."""
    ctx = info.context
    if not isinstance(ctx, LiveContext):
        raise BadRequest(SUBSCRIPTIONS_ONLY_THERE)
    operation = info.operation
    name = operation.name.value[:200] if operation is not None and operation.name is not None else None
    purpose = (ctx.purpose, ctx.purpose_error)  # now: an async generator's body starts only when first iterated
    return ctx.live.updates(ctx, name, purpose, topic, resolve, accept, key, polling)
