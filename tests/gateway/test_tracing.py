"""Traces: a span per operation continuing the client's trace, a child span per call that reached a source with
the span id that source was told, nothing personal in any attribute, and no span at all unless configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from demo.runner import Municipal
from graph import tracing
from graph.config import GatewayConfig
from tests.conftest import Gateway
from tests.gateway.test_outbound_headers import CLIENT_SPAN, PERSONS_OF_ZAKEN, TRACE, bsns_in

CLIENT = {"traceparent": f"00-{TRACE}-{CLIENT_SPAN}-01"}
SOURCES = ("zaken", "brp")


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()

    def in_memory(settings: tracing.TracingSettings) -> SpanExporter:
        return memory

    monkeypatch.setattr(tracing, "exporter_for", in_memory)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    return memory


async def gateway_tracing(demo: Municipal, table: dict[str, Any] | None) -> AsyncIterator[Gateway]:
    gateway = {**demo.config.get("gateway", {}), **({"tracing": table} if table is not None else {})}
    gw = Gateway(demo, {**demo.config, "gateway": gateway})
    yield gw
    await gw.client.aclose()
    await gw.app.state.sources.aclose()


@pytest.fixture
async def traced(demo: Municipal, exported: InMemorySpanExporter) -> AsyncIterator[Gateway]:
    async for gw in gateway_tracing(demo, {"otlp_endpoint": "http://collector.invalid:4318/v1/traces"}):
        yield gw


@pytest.fixture
async def untraced(demo: Municipal, exported: InMemorySpanExporter) -> AsyncIterator[Gateway]:
    async for gw in gateway_tracing(demo, None):
        yield gw


def told_span(call: dict[str, Any]) -> str | None:
    """The span id a source call's ``traceparent`` named, if it carried one of the client's trace."""
    parts = call["headers"].get("traceparent", "").split("-")
    return parts[2] if len(parts) == 4 and parts[1] == TRACE else None


def hex_id(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


async def test_an_operation_and_each_source_call_are_spans_of_the_clients_trace(
    traced: Gateway, exported: InMemorySpanExporter
) -> None:
    gw = traced
    await gw.query("{ __typename }")  # once-per-source look-ups happen before counting
    gw.reset_counts()
    gw.app.state.tracing.flush()  # the first operation's span is exported before counting starts
    exported.clear()
    answer = await gw.query(PERSONS_OF_ZAKEN, headers=CLIENT)
    assert "errors" not in answer, answer
    gw.app.state.tracing.flush()
    spans: list[ReadableSpan] = list(exported.get_finished_spans())

    operations = [s for s in spans if s.name == "ZakenMetPersonen"]
    assert len(operations) == 1
    operation = operations[0]
    assert operation.context is not None and operation.parent is not None
    assert hex_id(operation.context.trace_id, 32) == TRACE
    assert hex_id(operation.parent.span_id, 16) == CLIENT_SPAN
    assert (operation.attributes or {}).get("gemeentegraaf.outcome") == "ok"

    children = [s for s in spans if s is not operation]
    for child in children:
        assert child.context is not None and child.parent is not None
        assert hex_id(child.context.trace_id, 32) == TRACE
        assert child.parent.span_id == operation.context.span_id
    for source in SOURCES:
        calls = gw.calls(source)
        told = [told_span(c) for c in calls]
        assert calls and None not in told, "every call of the operation carried the client's trace"
        mine = [s for s in children if (s.attributes or {}).get("gemeentegraaf.source") == source]
        assert len(mine) == len(calls), source  # one span per call the source counted
        assert sorted(hex_id(s.context.span_id, 16) for s in mine if s.context) == sorted(t or "" for t in told)
    assert len(children) == sum(len(gw.calls(s)) for s in SOURCES)

    bsns = bsns_in(answer["data"])
    assert bsns
    for span in spans:
        values = " ".join(f"{k}={v}" for k, v in (span.attributes or {}).items()) + " " + span.name
        assert not any(b in values for b in bsns)
        assert "burgerservicenummer" not in values and "identificatie" not in values and "http://" not in values


async def test_without_configuration_no_span_is_made(untraced: Gateway, exported: InMemorySpanExporter) -> None:
    assert untraced.app.state.tracing is None
    answer = await untraced.query(PERSONS_OF_ZAKEN, headers=CLIENT)
    assert "errors" not in answer, answer
    assert exported.get_finished_spans() == ()
    stages = [type(st).__name__ for st in untraced.app.state.sources["zaken"].stages]
    assert "TraceCalls" not in stages


def test_the_standard_variable_turns_it_on_and_the_table_is_checked() -> None:
    settings = tracing.tracing_settings(GatewayConfig(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert settings == tracing.TracingSettings("http://collector:4318/v1/traces", "gemeentegraaf")
    assert tracing.tracing_settings(GatewayConfig(), {}).otlp_endpoint is None
    with pytest.raises(tracing.ConfigError):
        tracing.tracing_settings(GatewayConfig(options={"tracing": {"endpoint": "http://x"}}), {})
