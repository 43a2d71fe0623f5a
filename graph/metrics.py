"""Prometheus metrics at ``/metrics``: what each source costs and how it fails, and what clients ask.

Each app has its own registry (tests build many apps in one process). Counting happens in two stages of
``Source.send`` (``graph.source.default_stages``) and once per GraphQL operation:

- ``CountFailures``, near the outside of the chain, counts every failure by the code the client sees
  (``UPSTREAM_TIMEOUT``, ``CIRCUIT_OPEN``, ``BUDGET_EXCEEDED``, …), whether or not a call left the gateway;
- ``ObserveCalls``, innermost, times the calls that really go to the source: calls by status, latency,
  calls in flight;
- state that stages keep (breaker open or not, time spent waiting for a rate limit, cache answers) is read
  when Prometheus scrapes, from the stages themselves, so the hot path pays nothing for it.

Labels stay bounded: source names come from the configuration, codes from the gateway's own list, and
operation names from clients only up to ``MAX_OPERATION_NAMES`` distinct ones (later ones count as
``other``), so a client cannot blow up the registry by naming every request differently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from graph.calls import Next, SourceCall, SourceResponse, Stage
from graph.errors import GatewayError

MAX_OPERATION_NAMES = 200
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The gateway's metric families, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("gemeentegraaf_source_calls", "Calls that went to a source, by HTTP status "
                             "('none': no answer).", ["source", "method", "status"], registry=r)
        self.latency = Histogram("gemeentegraaf_source_call_seconds", "Time from sending a call to having read "
                                 "its whole answer.", ["source"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("gemeentegraaf_source_calls_in_flight", "Calls sent to a source and not yet "
                               "answered.", ["source"], registry=r)
        self.failures = Counter("gemeentegraaf_source_failures", "Source calls that failed, by the error code "
                                "the client sees and the source's status ('none': no answer).",
                                ["source", "code", "status"], registry=r)
        self.rate_limit_wait = Histogram("gemeentegraaf_rate_limit_wait_seconds", "Time calls waited for a "
                                         "source's rate limit.", ["source"], buckets=LATENCY_BUCKETS, registry=r)
        self.operations = Counter("gemeentegraaf_operations", "GraphQL operations, by name and outcome "
                                  "(ok, partial: data and errors, error: no data).", ["operation", "outcome"],
                                  registry=r)
        self.operation_seconds = Histogram("gemeentegraaf_operation_seconds", "Time to answer a GraphQL "
                                           "operation.", ["operation"], buckets=LATENCY_BUCKETS, registry=r)
        self._names: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        label = name or "anonymous"
        if label in self._names:
            return label
        if len(self._names) >= MAX_OPERATION_NAMES:
            return "other"
        self._names.add(label)
        return label

    def observe_operation(self, name: str | None, outcome: str, seconds: float) -> None:
        label = self.operation_label(name)
        self.operations.labels(label, outcome).inc()
        self.operation_seconds.labels(label).observe(seconds)

    def watch(self, collector: Collector) -> None:
        """Adds a collector of state read at scrape time (``StateCollector``)."""
        self.registry.register(collector)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)


class CountFailures:
    """Counts each failed source call by the code its field reports; calls answered from the cache or refused
    before they left are failures the client sees too."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        try:
            return await next(call)
        except GatewayError as exc:
            status = getattr(exc, "status", None)
            self.metrics.failures.labels(call.source, exc.code, str(status) if status else "none").inc()
            raise


class ObserveCalls:
    """Times and counts the calls that really leave for the source (innermost stage)."""

    def __init__(self, metrics: Metrics, source: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self.calls, self.clock = metrics.calls, clock
        self.latency = metrics.latency.labels(source)
        self.in_flight = metrics.in_flight.labels(source)

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        started = self.clock()
        status = "none"
        self.in_flight.inc()
        try:
            response = await next(call)
            status = str(response.status)
            return response
        finally:
            self.in_flight.dec()
            self.latency.observe(self.clock() - started)
            self.calls.labels(call.source, call.method.upper(), status).inc()


class WaitTimer:
    """Wraps a limiting stage (a rate limit) and observes how long calls wait in it before going on."""

    def __init__(self, inner: Stage, waited: Histogram, clock: Callable[[], float] = time.perf_counter) -> None:
        self.inner, self.waited, self.clock = inner, waited, clock

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        started = self.clock()

        async def timed(passed: SourceCall) -> SourceResponse:
            self.waited.observe(self.clock() - started)
            return await next(passed)

        return await self.inner(call, timed)


class StateCollector(Collector):
    """Gauges read from live objects when Prometheus scrapes: ``readings`` yields (name, help, labels, value)."""

    def __init__(self, readings: Callable[[], Iterable[tuple[str, str, dict[str, str], float]]]) -> None:
        self.readings = readings

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        label_names: dict[str, list[str]] = {}
        for name, text, labels, value in self.readings():
            if name not in families:
                label_names[name] = sorted(labels)
                families[name] = GaugeMetricFamily(name, text, labels=label_names[name])
            families[name].add_metric([labels[k] for k in label_names[name]], value)
        yield from families.values()

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on the configuration: nothing to check at registration


Reading = tuple[str, str, dict[str, str], float]


def state_readings(sources: Any, store: Any) -> Iterator[Reading]:
    """What the stages of each source keep (read duck-typed: this module cannot import ``graph.source``)."""
    for name in sources.names():
        for stage in sources[name].stages:
            if isinstance(getattr(stage, "closed", None), bool):  # graph.resilience.CircuitBreaker
                yield ("gemeentegraaf_breaker_open", "1 while a source's circuit is open (calls fail fast).",
                       {"source": name}, 0.0 if stage.closed else 1.0)
            if isinstance(getattr(stage, "in_flight", None), int):  # graph.caching.Coalesce
                yield ("gemeentegraaf_coalesced_calls_in_flight", "Distinct calls in flight that identical calls "
                       "wait on.", {"source": name}, float(stage.in_flight))
    yield ("gemeentegraaf_cache_healthy", "1 while the cache store answers (Redis can be away).",
           {"backend": str(getattr(store, "name", "?"))}, 1.0 if getattr(store, "healthy", False) else 0.0)


def outcome_of(result: Any) -> str:
    """ok, partial (data and errors) or error (errors and no data) for an ``ExecutionResult``."""
    errors = getattr(result, "errors", None)
    if not errors:
        return "ok"
    return "partial" if getattr(result, "data", None) is not None else "error"
