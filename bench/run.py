"""Benchmark the gateway against the minimum possible, over the demo sources with a simulated network latency.

    python -m bench.run [--scale 1] [--seconds 10] [--latency-ms 20] [--out bench/results/....json]

Starts the demo sources and ``gemeentegraaf serve`` (one uvicorn worker), each in a subprocess on free loopback
ports, gives every source a fixed latency, then runs each scenario of ``bench.scenarios`` for the gateway and
for its hand-written minimum. Prints a table and writes a JSON file; see bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import measure
from bench.scenarios import Direct, Scenario, canonical, scenarios
from bench.stack import ROOT, Stack, running
from demo.generate import generate
from demo.issuer import DEMO_PURPOSE
from demo.model import Municipality
from graph.caller import PURPOSE_HEADER

WARMUP = 1
PACE_S = 1.1  # the BAG counts calls in a rolling second: what it takes to empty it


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size of the demo municipality (1: 3,000 zaken)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data and of the variables")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of each throughput run, and the time budget of each latency series")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated latency of every source call")
    parser.add_argument("--runs", type=int, default=20, help="sequential requests per latency series (at most)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients in the throughput run")
    parser.add_argument("--only", default="", help="scenario keys to run, e.g. 'ab' (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: bench/results/<time>.json)")
    return parser.parse_args(argv)


def gateway_ask(client: httpx.AsyncClient, url: str, scenario: Scenario) -> measure.Ask:
    async def ask(i: int) -> Any:
        body = {"query": scenario.query, "variables": scenario.variables[i % len(scenario.variables)]}
        response = await client.post(f"{url}/graphql", content=orjson.dumps(body),
                                     headers={"Content-Type": "application/json"})
        answer = orjson.loads(response.content)
        if response.status_code != 200 or answer.get("errors"):
            first = (answer.get("errors") or [{}])[0]
            raise measure.WrongAnswer(f"{response.status_code} {first.get('extensions')} {first.get('message')}")
        return answer["data"]

    return ask


def minimum_ask(direct: Direct, scenario: Scenario) -> measure.Ask:
    assert scenario.minimum is not None
    minimum = scenario.minimum

    async def ask(i: int) -> Any:
        return await minimum(direct, scenario.variables[i % len(scenario.variables)])

    return ask


async def measure_side(stack: Stack, control: httpx.AsyncClient, scenario: Scenario, ask: measure.Ask,
                       args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    if scenario.paced:
        await asyncio.sleep(PACE_S)
    for i in range(WARMUP):
        await ask(i)
    latency, upstream, answers, problems = await measure.sequential(
        stack, control, ask, len(scenario.variables), args.runs, args.seconds, PACE_S if scenario.isolated else 0)
    rate, more = await measure.throughput(ask, args.concurrency, args.seconds)
    side = {"latency": asdict(latency), "throughput": asdict(rate), "upstream": asdict(upstream),
            "problems": sorted(set(problems + more))[:5]}
    return side, answers


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b and not math.isnan(a) and not math.isnan(b) else None


async def run_scenario(stack: Stack, control: httpx.AsyncClient, gateway: httpx.AsyncClient, direct: Direct,
                       scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    print(f"  ({scenario.key}) {scenario.title} ...", file=sys.stderr, flush=True)
    result: dict[str, Any] = {"key": scenario.key, "title": scenario.title, "query": scenario.query,
                              "variables": scenario.variables}
    result["gateway"], gateway_answers = await measure_side(
        stack, control, scenario, gateway_ask(gateway, stack.gateway_url, scenario), args)
    if scenario.minimum is None:
        return result
    result["minimum"], minimum_answers = await measure_side(stack, control, scenario, minimum_ask(direct, scenario),
                                                            args)
    result["same_answer"] = canonical(gateway_answers) == canonical(minimum_answers)
    g, m = result["gateway"], result["minimum"]
    result["ratios"] = {  # gateway / minimum
        "latency_p50": ratio(g["latency"]["p50_ms"], m["latency"]["p50_ms"]),
        "latency_p95": ratio(g["latency"]["p95_ms"], m["latency"]["p95_ms"]),
        "throughput": ratio(g["throughput"]["per_s"], m["throughput"]["per_s"]),
        "calls": ratio(g["upstream"]["total"], m["upstream"]["total"]),
        "waves": ratio(g["upstream"]["waves"], m["upstream"]["waves"]),
        "upstream_bytes": ratio(g["upstream"]["kib"], m["upstream"]["kib"]),
    }
    return result


async def bench(stack: Stack, data: Municipality, args: argparse.Namespace) -> list[dict[str, Any]]:
    chosen = [s for s in scenarios(data, stack.urls, args.seed) if s.key in (args.only or s.key)]
    direct = Direct(stack.config)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=10) as control, httpx.AsyncClient(timeout=120, limits=limits) as gateway:
        minted = await control.post(f"{stack.urls['issuer']}/_demo/token", json={"lifetime_s": 86400})
        gateway.headers.update({"Authorization": f"Bearer {minted.raise_for_status().json()['access_token']}",
                                PURPOSE_HEADER: DEMO_PURPOSE})  # an employee of the demo, as GraphiQL has it
        await stack.set_latency(control, args.latency_ms)
        try:
            return [await run_scenario(stack, control, gateway, direct, s, args) for s in chosen]
        finally:
            await direct.aclose()


def machine() -> dict[str, Any]:
    cpu, cpuinfo = "", Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), "")
    return {"cores": os.cpu_count(), "cpu": cpu or platform.processor(), "machine": platform.machine(),
            "platform": platform.platform(), "python": platform.python_version()}


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def table(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    lines = [
        f"Gemeentegraaf benchmark: scale {meta['scale']:g}, {meta['latency_ms']:g} ms per source call, "
        f"{meta['concurrency']} clients x {meta['seconds']:g} s, commit {meta['commit']}, "
        f"{meta['machine']['cores']} cores, Python {meta['machine']['python']}",
        "ratios are gateway / minimum: above 1 the gateway is slower or calls more (throughput: below 1 is slower)",
    ]
    head = f"  {'':9}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>9}{'calls':>8}{'waves':>8}{'up KiB':>9}"
    for s in doc["scenarios"]:
        lines += ["", f"({s['key']}) {s['title']}", head]
        for side in ("gateway", "minimum"):
            if side in s:
                lat, thr, up = s[side]["latency"], s[side]["throughput"], s[side]["upstream"]
                lines.append(f"  {side:9}{fmt(lat['p50_ms']):>9}{fmt(lat['p95_ms']):>9}{fmt(thr['per_s']):>9}"
                             f"{fmt(up['total']):>8}{fmt(up['waves']):>8}{fmt(up['kib']):>9}")
        if "ratios" in s:
            r = s["ratios"]
            lines.append(f"  {'ratio':9}{fmt(r['latency_p50'], 2):>9}{fmt(r['latency_p95'], 2):>9}"
                         f"{fmt(r['throughput'], 2):>9}{fmt(r['calls'], 2):>8}{fmt(r['waves'], 2):>8}"
                         f"{fmt(r['upstream_bytes'], 2):>9}")
            lines.append(f"  same answer: {'yes' if s['same_answer'] else 'NO'}")
        for side in ("gateway", "minimum"):
            if side in s:
                calls = ", ".join(f"{k} {v:g}" for k, v in s[side]["upstream"]["calls"].items()) or "none"
                lines.append(f"  {side} calls per request: {calls}")
                failed = (s[side]["latency"]["errors"], s[side]["throughput"]["errors"])
                if any(failed):
                    lines.append(f"  {side} FAILED: {failed[0]} sequential, {failed[1]} under load "
                                 f"({s[side]['throughput']['answers']} answered), e.g. {s[side]['problems'][0]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    started = dt.datetime.now(dt.UTC)
    print(f"generating the municipality (scale {args.scale:g}) and starting sources and gateway ...",
          file=sys.stderr, flush=True)
    with ThreadPoolExecutor(1) as pool:  # the sources' municipality, to draw variables from, made meanwhile
        data = pool.submit(generate, seed=args.seed, scale=args.scale)
        with running(args.scale, args.seed) as stack:
            results = asyncio.run(bench(stack, data.result(), args))
    doc: dict[str, Any] = {
        "meta": {"started": started.isoformat(timespec="seconds"), "duration_s": round(time.monotonic() - began, 1),
                 "scale": args.scale, "seed": args.seed, "latency_ms": args.latency_ms, "seconds": args.seconds,
                 "runs": args.runs, "concurrency": args.concurrency, "commit": git_commit(), "machine": machine()},
        "scenarios": results,
    }
    print(table(doc))
    out = args.out or ROOT / "bench" / "results" / f"{started:%Y%m%d-%H%M%S}-scale{args.scale:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    print(f"\nwritten to {out} in {doc['meta']['duration_s']} s")
    # a run is invalid when the two sides disagree or a sequential request failed; failures under concurrent
    # load (a 429 from the BAG, say) are findings and only reported
    failed = any(not s.get("same_answer", True) or s[side]["latency"]["errors"]
                 for s in results for side in ("gateway", "minimum") if side in s)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
