"""OpenTelemetry traces: one span per GraphQL operation and one per call that really leaves for a source.

Off unless ``[gateway.tracing] otlp_endpoint`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``) names a collector; then
``tracing_for`` builds one tracer provider for the app, exporting over OTLP http/protobuf in the background.
Off, nothing here runs: no provider, no stage, no span (``operation_span`` is handed None).

The spans are the ids the gateway already tells everyone (``graph.caller.Processing``, ``graph.outbound``):

- the operation span continues the client's trace, with the client's span as parent, and its span id is
  the request's ``operation_id`` (the parent the processing log names);
- ``TraceCalls`` sits just inside ``TellSource`` and takes the span id from the ``traceparent`` that stage
  put on the call, so the span a source's own logs name is the span exported here. Its parent is named
  from the request's ``Processing`` too, not looked up in context variables, so calls made in DataLoader
  tasks are parented all the same.

Attributes are few and never personal: the operation's name, outcome and error codes; a call's source,
method, status and error code. Never the query text, variables or a URL (a URL can hold a BSN).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from graph.calls import Next, SourceCall, SourceResponse
from graph.config import ConfigError, GatewayConfig, declare_gateway_table
from graph.errors import GatewayError, source_error_for_status
from graph.outbound import TRACEPARENT, processing_of

_KEYS = frozenset({"otlp_endpoint", "service_name"})
DEFAULT_SERVICE_NAME = "gemeentegraaf"


@dataclass(frozen=True, slots=True)
class TracingSettings:
    otlp_endpoint: str | None = None  # None: tracing is off
    service_name: str = DEFAULT_SERVICE_NAME


def tracing_settings(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> TracingSettings:
    """``[gateway.tracing]``, with ``GEMEENTEGRAAF_GATEWAY_TRACING_<KEY>`` overriding one value, and the
    standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (as is) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (plus
    ``/v1/traces``) and ``OTEL_SERVICE_NAME`` used where the table names nothing."""
    table = config.options.get("tracing", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.tracing] must be a table")
    table = {**table, **{k[len("tracing_"):]: v for k, v in config.options.items() if k.startswith("tracing_")}}
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(f"[gateway.tracing] has unknown key(s): {', '.join(sorted(unknown))}")
    env = os.environ if environ is None else environ
    endpoint = table.get("otlp_endpoint") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None
    if endpoint is None and env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))):
        raise ConfigError("[gateway.tracing] otlp_endpoint must be an http:// or https:// URL")
    name = table.get("service_name") or env.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    if not isinstance(name, str):
        raise ConfigError("[gateway.tracing] service_name must be a string")
    return TracingSettings(endpoint, name)


declare_gateway_table("tracing", _KEYS, tracing_settings)


def otlp_exporter(settings: TracingSettings) -> SpanExporter:
    # imported only when tracing is on: the exporter (protobuf, requests) is most of this module's memory
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=settings.otlp_endpoint)


# Where spans go: the OTLP exporter, unless a test puts an in-memory one here.
exporter_for: Callable[[TracingSettings], SpanExporter] = otlp_exporter

# The ids the next span must have (trace id, span id), set just around ``start_span``: the SDK asks its id
# generator, and spans here must carry the ids the gateway already sent out.
_next_ids: contextvars.ContextVar[tuple[int | None, int | None]] = contextvars.ContextVar(
    "gemeentegraaf_next_span_ids", default=(None, None)
)


class _GivenIds(IdGenerator):
    def __init__(self) -> None:
        self._random = RandomIdGenerator()

    def generate_span_id(self) -> int:
        return _next_ids.get()[1] or self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return _next_ids.get()[0] or self._random.generate_trace_id()


class Tracing:
    """The app's tracer provider and the two kinds of span the gateway makes."""

    def __init__(self, settings: TracingSettings, exporter: SpanExporter) -> None:
        self.settings = settings
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}), id_generator=_GivenIds()
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("gemeentegraaf")

    def start(self, name: str, parent: SpanContext | None, ids: tuple[int, int], kind: SpanKind,
              attributes: Mapping[str, Any]) -> Span:
        context = set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
        token = _next_ids.set(ids)
        try:
            return self.tracer.start_span(name, context, kind, attributes=dict(attributes))
        finally:
            _next_ids.reset(token)

    def stage(self) -> TraceCalls:
        return TraceCalls(self)

    def flush(self) -> None:
        self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()


def tracing_for(config: GatewayConfig, environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The app's tracing, or None when no collector is configured (nothing is set up then)."""
    settings = tracing_settings(config, environ)
    if settings.otlp_endpoint is None:
        return None
    return Tracing(settings, exporter_for(settings))


def _flags(sampled: bool) -> TraceFlags:
    return TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)


class OperationSpan:
    """One GraphQL operation's span; ``end`` records its outcome and error codes."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def end(self, result: Any) -> None:
        errors = list(getattr(result, "errors", None) or [])
        outcome = "ok" if not errors else ("partial" if getattr(result, "data", None) is not None else "error")
        if result is None:
            outcome = "error"  # no answer at all: failed or abandoned
        codes = sorted({str((getattr(e, "extensions", None) or {}).get("code", "INTERNAL_SERVER_ERROR"))
                        for e in errors})
        self.span.set_attribute("gemeentegraaf.outcome", outcome)
        if codes:
            self.span.set_attribute("gemeentegraaf.error_codes", codes)
        if outcome != "ok":
            self.span.set_status(Status(StatusCode.ERROR))
        self.span.end()


def operation_span(tracing: Tracing | None, context: Any, name: str | None) -> OperationSpan | None:
    """Starts the span of one operation, or None when tracing is off or the request has no processing."""
    processing = processing_of(context)
    if tracing is None or processing is None:
        return None
    parent = None
    if processing.parent_id is not None:
        parent = SpanContext(int(processing.trace_id, 16), int(processing.parent_id, 16), is_remote=True,
                             trace_flags=_flags(processing.sampled))
    span = tracing.start(
        name or "anonymous", parent, (int(processing.trace_id, 16), int(processing.operation_id, 16)),
        SpanKind.SERVER, {"graphql.operation.name": name or "anonymous"},
    )
    return OperationSpan(span)


class TraceCalls:
    """The stage, just inside ``TellSource``: a span per call that really leaves, with the span id the
    call's ``traceparent`` carries. Calls outside a request carry none and get no span."""

    def __init__(self, tracing: Tracing) -> None:
        self.tracing = tracing

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        processing = processing_of(call.context)
        told = call.headers.get(TRACEPARENT, "").split("-")
        if processing is None or len(told) != 4:
            return await next(call)
        trace_id = int(processing.trace_id, 16)
        parent = SpanContext(trace_id, int(processing.operation_id, 16), is_remote=False,
                             trace_flags=_flags(processing.sampled))
        span = self.tracing.start(
            f"{call.method.upper()} {call.source}", parent, (trace_id, int(told[2], 16)), SpanKind.CLIENT,
            {"gemeentegraaf.source": call.source, "http.request.method": call.method.upper()},
        )
        try:
            response = await next(call)
        except GatewayError as exc:
            span.set_attribute("gemeentegraaf.error_code", exc.code)
            status = getattr(exc, "status", None)
            if status:
                span.set_attribute("http.response.status_code", int(status))
            span.set_status(Status(StatusCode.ERROR))
            span.end()
            raise
        except BaseException:
            span.set_status(Status(StatusCode.ERROR))  # cancelled with its operation, say
            span.end()
            raise
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 400:
            span.set_attribute("gemeentegraaf.error_code", source_error_for_status(call.source, response.status).code)
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        return response

