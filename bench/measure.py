"""How one side of a scenario (the gateway, or the minimum) is measured.

- latency: sequential requests after warm-up, p50/p95 of the wall time of each;
- upstream, during those same requests: the simulators' counters are reset before each request and read after
  it (``/_demo/requests``), outside the timed part; the recorded call times give the number of sequential
  round trips ("waves") and the bytes the sources answered;
- throughput: ``concurrency`` clients each sending requests back to back until ``seconds`` have passed;
  answers per second counted until the last answer arrived.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from bench.stack import Call, Stack

Json = object
Ask = Callable[[int], Awaitable[Json]]  # the i-th request of a scenario; raises when the answer is not right


class WrongAnswer(Exception):
    """The gateway answered with errors or a non-200 status."""


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    mean_ms: float
    runs: int
    errors: int


@dataclass(frozen=True)
class Throughput:
    per_s: float
    answers: int
    errors: int
    seconds: float
    p50_ms: float


@dataclass(frozen=True)
class Upstream:
    calls: dict[str, float]  # mean calls per request, by source
    total: float
    waves: float
    kib: float  # bytes the sources answered, KiB per request
    timeline: list[tuple[float, float, float, str]]  # first request's calls: start, end (ms), KiB, "METHOD /path"


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with few samples p95 is an observed value)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def waves(calls: Sequence[Call]) -> int:
    """The longest chain of calls in which each starts only after the one before it ended: the sequential
    round trips on the critical path (calls the BAG rate limit spaces apart count as sequential too)."""
    ordered = sorted(calls, key=lambda c: c.start)
    depth: list[int] = []
    for i, call in enumerate(ordered):
        depth.append(1 + max((depth[j] for j in range(i) if ordered[j].end <= call.start), default=0))
    return max(depth, default=0)


async def sequential(stack: Stack, control: httpx.AsyncClient, ask: Ask, samples: int, runs: int,
                     budget_s: float, pause_s: float = 0.0) -> tuple[Latency, Upstream, list[Json], list[str]]:
    """Requests one after another, cycling through the ``samples`` variable sets: whole cycles only, at least one,
    at most ``runs`` requests, and no cycle that would end after ``budget_s``. Each request's upstream calls are
    counted and timed, outside the timed part; ``pause_s`` is waited before each request."""
    times: list[float] = []
    problems: list[str] = []
    answers: dict[int, Json] = {}
    calls: dict[str, int] = {}
    chains: list[int] = []
    sizes: list[int] = []
    timeline: list[tuple[float, float, float, str]] = []
    began = time.monotonic()
    for i in range(max(runs, samples)):
        spent = time.monotonic() - began
        if i % samples == 0 and i and (spent * (i + samples) / i > budget_s or i + samples > runs):
            break
        await asyncio.sleep(pause_s)
        await stack.reset_counts(control)
        start = time.perf_counter()
        try:
            answer = await ask(i)
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        times.append(time.perf_counter() - start)
        answers.setdefault(i % samples, answer)
        counts = await stack.read_counts(control)
        log = await stack.read_calls(control, sum(counts.values()))
        for source, n in counts.items():
            calls[source] = calls.get(source, 0) + n
        chains.append(waves(log))
        if not timeline:
            zero = min((c.start for c in log), default=0.0)
            timeline = [(round((c.start - zero) * 1000, 1), round((c.end - zero) * 1000, 1), round(c.size / 1024, 1),
                         c.what) for c in sorted(log, key=lambda c: c.start)]
        sizes.append(sum(c.size for c in log))
    ok = max(len(times), 1)
    mean_calls = {source: round(n / ok, 2) for source, n in sorted(calls.items())}
    upstream = Upstream(mean_calls, round(sum(mean_calls.values()), 2), round(sum(chains) / ok, 2),
                        round(sum(sizes) / ok / 1024, 1), timeline)
    ms = [t * 1000 for t in times]
    latency = Latency(round(percentile(ms, 0.5), 1), round(percentile(ms, 0.95), 1),
                      round(sum(ms) / len(ms), 1) if ms else math.nan, len(ms), len(problems))
    return latency, upstream, [answers.get(n) for n in range(samples)], problems


async def throughput(ask: Ask, concurrency: int, seconds: float) -> tuple[Throughput, list[str]]:
    samples: list[float] = []
    problems: list[str] = []
    start = time.perf_counter()
    deadline = time.monotonic() + seconds

    async def client(first: int) -> None:
        i = first
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                await ask(i)
                samples.append(time.perf_counter() - began)
            except Exception as exc:
                problems.append(f"{type(exc).__name__}: {exc}"[:300])
            i += concurrency

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - start
    p50 = percentile([s * 1000 for s in samples], 0.5)
    return Throughput(round(len(samples) / elapsed, 2), len(samples), len(problems), round(elapsed, 1),
                      round(p50, 1)), problems
