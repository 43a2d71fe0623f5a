"""Resilience per source (graph/resilience.py): retries, the circuit breaker, the bulkhead's queue timeout and
the response size limit, over real HTTP: the demo sources, or a small scripted server where the demo cannot
say what a test needs (``Retry-After``, a chosen sequence of answers)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from demo.runner import Municipal
from graph.calls import SourceCall, SourceResponse
from graph.config import ConfigError, SourceConfig
from graph.errors import SourceError
from graph.resilience import CircuitBreaker, LimitConcurrency, LimitResponseSize, Retry, resilience_stages
from graph.source import Source
from tests.conftest import Gateway

PERSON_AND_ZAKEN = """query($bsn: String!) { persoon(burgerservicenummer: $bsn) { naam { volledigeNaam } }
  zaken(first: 1) { nodes { uuid } } }"""


def bsns(demo: Municipal, count: int) -> list[str]:
    found = [p.bsn for p in demo.data.personen.values() if not p.overlijdensdatum][:count]
    assert len(found) == count
    return found


def with_brp(demo: Municipal, **options: Any) -> dict[str, Any]:
    """The demo's configuration with the BRP's table changed."""
    config = dict(demo.config)
    config["sources"] = {k: dict(v) for k, v in demo.config["sources"].items()}
    config["sources"]["brp"].update(options)
    return config


async def closing(gateway: Gateway) -> None:
    await gateway.client.aclose()
    await gateway.app.state.sources.aclose()


# -- a scripted source: real HTTP on loopback, answering from a list -----------------------------------------


@dataclass
class Scripted:
    """Answers requests in turn from ``answers`` (the last one repeats); records each request's method."""

    answers: list[tuple[int, dict[str, str], bytes]]
    received: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next((int(v) for k, _, v in (line.partition(": ") for line in lines) if k.lower() == "content-length"),
                      0)
        await reader.readexactly(length)
        self.received.append(lines[0].split(" ")[0])
        status, headers, body = self.answers[min(len(self.received), len(self.answers)) - 1]
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n{extra}\r\n".encode() + body)
        await writer.drain()
        writer.close()


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    source = Scripted([(200, {}, b"{}")])
    server = await asyncio.start_server(source.handle, "127.0.0.1", 0)
    source.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api"
    async with server:
        yield source


def source_over(scripted: Scripted, answers: Sequence[tuple[int, dict[str, str], bytes]], **options: Any) -> Source:
    scripted.answers = list(answers)
    return Source(SourceConfig(name="scripted", url=scripted.url, timeout_s=2, options=options))


# -- retries -------------------------------------------------------------------------------------------------


async def test_a_503_then_success_is_retried_and_answers(demo: Municipal) -> None:
    gateway = Gateway(demo, with_brp(demo, retries=2, retry_backoff_s=0.01))
    brp = demo.simulators["brp"]

    async def calm_after_503(response: httpx.Response) -> None:
        if response.status_code == 503:
            brp.behaviour.update({"error_rate": 0.0})

    gateway.app.state.sources["brp"].client.event_hooks = {"response": [calm_after_503]}
    brp.behaviour.update({"error_rate": 1.0, "error_status": 503})
    gateway.reset_counts()
    try:
        result = await gateway.query(PERSON_AND_ZAKEN, {"bsn": bsns(demo, 1)[0]})
    finally:
        await closing(gateway)
    assert "errors" not in result
    assert result["data"]["persoon"]["naam"]["volledigeNaam"]
    assert [c["status"] for c in gateway.calls("brp")] == [503, 200]


async def test_a_post_that_is_not_idempotent_is_never_retried(scripted: Scripted) -> None:
    source = source_over(scripted, [(503, {}, b"{}")], retry_backoff_s=0.01)
    try:
        with pytest.raises(SourceError) as refused:
            await source.post("/things", {"a": 1}, idempotent=False)
        assert refused.value.code == "UPSTREAM_ERROR"
        assert scripted.received == ["POST"]
        scripted.received.clear()
        with pytest.raises(SourceError):
            await source.post("/things/_zoek", {"a": 1})  # a lookup: retried, twice by default
        assert scripted.received == ["POST"] * 3
    finally:
        await source.aclose()


async def test_a_429_with_retry_after_is_waited_for(scripted: Scripted) -> None:
    source = source_over(scripted, [(429, {"Retry-After": "1"}, b"{}"), (200, {}, b'{"ok": true}')])
    try:
        started = time.monotonic()
        assert await source.get("/things") == {"ok": True}
        assert time.monotonic() - started >= 0.9  # what the source asked, not the 0.2 s backoff
        assert scripted.received == ["GET", "GET"]
    finally:
        await source.aclose()


async def test_a_retry_after_beyond_the_cap_is_not_waited_for(scripted: Scripted) -> None:
    source = source_over(scripted, [(429, {"Retry-After": "120"}, b"{}"), (200, {}, b"{}")])
    try:
        with pytest.raises(SourceError) as limited:
            await source.get("/things")
        assert limited.value.code == "UPSTREAM_RATE_LIMITED"
        assert scripted.received == ["GET"]
    finally:
        await source.aclose()


async def test_a_refusal_is_not_retried(scripted: Scripted) -> None:
    source = source_over(scripted, [(400, {}, b"{}")])
    try:
        with pytest.raises(SourceError):
            await source.get("/things")
        assert scripted.received == ["GET"]
    finally:
        await source.aclose()


async def test_no_retry_waits_past_the_deadline() -> None:
    class Context:  # CALL_BUDGET keys budgets by context; a deadline 0.5 s from now
        pass

    from graph.budget import CALL_BUDGET

    context = Context()
    CALL_BUDGET.budget(context).deadline = time.monotonic() + 0.5
    calls: list[SourceCall] = []

    async def unavailable(call: SourceCall) -> SourceResponse:
        calls.append(call)
        return SourceResponse(503, {"retry-after": "2"}, b"", "s")

    answer = await Retry(2)(SourceCall("s", "GET", "http://s/x", context=context), unavailable)
    assert answer.status == 503 and len(calls) == 1


# -- the circuit breaker -------------------------------------------------------------------------------------


async def test_the_breaker_stops_calls_to_a_failing_source_and_closes_when_it_recovers(demo: Municipal) -> None:
    gateway = Gateway(demo, with_brp(demo, retries=2, retry_backoff_s=0.01, breaker_failures=3, breaker_open_s=2))
    brp = demo.simulators["brp"]
    brp.behaviour.update({"error_rate": 1.0, "error_status": 503})
    gateway.reset_counts()
    bsn = bsns(demo, 1)[0]
    try:
        first = await gateway.query(PERSON_AND_ZAKEN, {"bsn": bsn})
        assert first["errors"][0]["extensions"]["code"] == "UPSTREAM_ERROR"
        assert len(gateway.calls("brp")) == 3  # one call and two retries: three failures, the circuit opens
        for _ in range(3):
            paused = await gateway.query(PERSON_AND_ZAKEN, {"bsn": bsn})
            [error] = paused["errors"]
            assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "brp"}
            assert "paused" in error["message"]
            assert paused["data"]["zaken"]["nodes"]  # the other sources still answer
        assert len(gateway.calls("brp")) == 3
        brp.behaviour.update({"error_rate": 0.0})
        await asyncio.sleep(2.1)
        for _ in range(2):  # the probe closes the circuit; the next call goes through as usual
            recovered = await gateway.query(PERSON_AND_ZAKEN, {"bsn": bsn})
            assert "errors" not in recovered
        assert len(gateway.calls("brp")) == 5
    finally:
        await closing(gateway)


async def test_the_breaker_counts_failures_not_refusals() -> None:
    now = [0.0]
    breaker = CircuitBreaker("s", failures=2, open_s=10, clock=lambda: now[0])
    call = SourceCall("s", "GET", "http://s/x")

    async def answer(status: int) -> SourceResponse:
        return await breaker(call, lambda c: _respond(status))

    for _ in range(5):
        await answer(404)
    assert breaker.closed
    await answer(500)
    await answer(500)
    assert not breaker.closed
    with pytest.raises(SourceError):
        await answer(200)
    now[0] = 11.0
    await answer(500)  # the probe fails: open again
    with pytest.raises(SourceError):
        await answer(200)
    now[0] = 22.0
    await answer(200)
    assert breaker.closed


async def _respond(status: int) -> SourceResponse:
    return SourceResponse(status, {}, b"{}", "s")


# -- the bulkhead: hung calls do not hold up everyone behind them --------------------------------------------


async def test_concurrent_queries_against_a_hanging_source_all_answer_soon(demo: Municipal) -> None:
    gateway = Gateway(demo, with_brp(demo, timeout_s=1, max_concurrency=2, queue_timeout_s=1.5, breaker_failures=5))
    brp = demo.simulators["brp"]
    await gateway.query("{ zaken(first: 1) { nodes { uuid } } }")  # the token issuer's keys read once, calmly
    brp.behaviour.update({"hang": True})
    gateway.reset_counts()  # a hung request is counted as it arrives
    try:
        started = time.monotonic()
        results = await asyncio.gather(*(gateway.query(PERSON_AND_ZAKEN, {"bsn": b}) for b in bsns(demo, 30)))
        elapsed = time.monotonic() - started
    finally:
        await closing(gateway)
    assert elapsed < 10  # queued behind two hung calls at a time, 30 calls would take 15 timeouts
    assert len(gateway.calls("brp")) <= 6
    for result in results:
        assert result["data"]["persoon"] is None
        assert result["data"]["zaken"]["nodes"]
        [error] = result["errors"]
        assert error["path"] == ["persoon"]
        assert error["extensions"]["source"] == "brp"
        assert error["extensions"]["code"] in {"UPSTREAM_TIMEOUT", "UPSTREAM_BUSY", "UPSTREAM_UNAVAILABLE"}


async def test_a_call_that_cannot_start_in_time_is_busy() -> None:
    bulkhead = LimitConcurrency(1, queue_timeout_s=0.05)
    release = asyncio.Event()

    async def slow(call: SourceCall) -> SourceResponse:
        await release.wait()
        return await _respond(200)

    call = SourceCall("s", "GET", "http://s/x")
    first = asyncio.create_task(bulkhead(call, slow))
    await asyncio.sleep(0)
    with pytest.raises(SourceError) as busy:
        await bulkhead(call, slow)
    assert busy.value.code == "UPSTREAM_BUSY"
    release.set()
    assert (await first).status == 200
    assert (await bulkhead(call, slow)).status == 200  # the slot was given back


# -- the response size limit ---------------------------------------------------------------------------------


async def test_an_answer_over_the_size_limit_is_a_bad_response(scripted: Scripted) -> None:
    source = source_over(scripted, [(200, {}, b'{"x": "' + b"a" * 2000 + b'"}')], max_response_bytes=1000)
    try:
        with pytest.raises(SourceError) as refused:
            await source.get("/things")
        assert refused.value.code == "UPSTREAM_BAD_RESPONSE"
        scripted.answers = [(200, {}, b'{"x": 1}')]
        assert await source.get("/things") == {"x": 1}
    finally:
        await source.aclose()


async def test_reading_stops_at_the_size_limit() -> None:
    """A body without a length that never ends: reading stops at the first piece over the limit."""
    pieces: list[int] = []

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                pieces.append(1)
                yield b"a" * 100

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Endless())

    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "5000"}, stream=Endless())

    for handler in (endless, declared):
        source = Source(SourceConfig(name="s", url="http://s", options={"max_response_bytes": 1000}),
                        transport=httpx.MockTransport(handler))
        try:
            with pytest.raises(SourceError) as refused:
                await source.get("/things")
        finally:
            await source.aclose()
        assert refused.value.code == "UPSTREAM_BAD_RESPONSE"
    assert len(pieces) == 11  # ten pieces fit, the eleventh is over; the declared length was refused unread


async def test_a_trickling_answer_ends_at_the_total_timeout() -> None:
    """Each piece comes well within the read timeout; the call as a whole may not take longer than
    ``total_timeout_s``."""

    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                await asyncio.sleep(0.02)
                yield b" "

    source = Source(SourceConfig(name="s", url="http://s", timeout_s=5, options={"total_timeout_s": 0.3}),
                    transport=httpx.MockTransport(lambda request: httpx.Response(200, stream=Trickle())))
    try:
        started = time.monotonic()
        with pytest.raises(SourceError) as slow:
            await source.get("/things")
        assert time.monotonic() - started < 3
    finally:
        await source.aclose()
    assert slow.value.code == "UPSTREAM_TIMEOUT"
    assert "finish" in slow.value.message


@pytest.mark.parametrize("options", [{"total_timeout_s": 0}, {"connect_timeout_s": 0}, {"total_timeout_s": "x"}])
def test_a_wrong_time_limit_is_refused_at_start_up(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"\[sources\.s\]"):
        Source(SourceConfig(name="s", url="http://s", options=options))


def test_the_total_time_of_a_call_is_twice_its_timeout_by_default() -> None:
    assert Source(SourceConfig(name="s", url="http://s", timeout_s=4)).total_timeout_s == 8


# -- choosing the stages -------------------------------------------------------------------------------------


def test_all_stages_run_by_default_in_a_fixed_order() -> None:
    config = SourceConfig(name="s", url="http://s")
    assert [type(s) for s in resilience_stages(config)] == [LimitResponseSize, Retry, CircuitBreaker,
                                                           LimitConcurrency]
    chosen = SourceConfig(name="s", url="http://s", options={"stages": ["bulkhead", "retry"]})
    assert [type(s) for s in resilience_stages(chosen)] == [Retry, LimitConcurrency]
    from_env = SourceConfig(name="s", url="http://s", options={"stages": "breaker, size_limit"})
    assert [type(s) for s in resilience_stages(from_env)] == [LimitResponseSize, CircuitBreaker]
    assert resilience_stages(SourceConfig(name="s", url="http://s", options={"stages": []})) == []


@pytest.mark.parametrize("options", [{"stages": ["retry", "teleport"]}, {"stages": 3}, {"retries": "many"},
                                     {"breaker_open_s": -1}])
def test_a_wrong_setting_is_refused_at_start_up(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"\[sources\.s\]"):
        resilience_stages(SourceConfig(name="s", url="http://s", options=options))
