"""The issue's performance targets P3, P5, P6 and P7, measured for Gemeentegraaf alone over the demo sources.

    python -m bench.targets [--quick] [--scale 1] [--seconds 10] [--soak-minutes 10] [--only p3,p5,p6,p7]

Every source answers after 20 ms (``PUT /_demo/behaviour``), as in ``make bench`` and ``make bench-peers``.

- **P3** a dashboard query served from the response cache, under ``wrk`` at 4 connections: requests/s and
  gateway CPU per request, beside ``{ __typename }``, and the ratio to Tailcall's ``{ __typename }`` from the
  newest ``make bench-peers`` result;
- **P5** 50 connections mixing the README's first query, one person and ``meldingenStatistiek`` for
  ``--soak-minutes``, the gateway's RSS sampled every 10 s: peak and growth over the second half;
- **P6** ``zaken(first: n)`` with zaaktype and persons: upstream calls of the cold request against
  ``ceil(n / page) + ceil(BSNs / 20) + distinct zaaktypen``, and the sequential p50 per zaak;
- **P7** cold ``meldingenStatistiek`` and ``zakenStatistiek`` per grouping (a ``tot`` date never asked before,
  so no cache holds it): upstream calls, KiB and gateway CPU, median of the samples.

A part that an earlier one would skew gets a fresh stack: P5 (the memory high-water mark counts from the
start) and every n of P6 (the Catalogi cache keeps zaaktypen for an hour, which would hide the next n's
calls). Writes ``bench/results/targets-<time>.json`` and ``.md`` and prints a summary; bench/README.md says how
to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import itertools
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from bench import load, peer_systems, peers
from bench.peer_systems import GG_PERSON, System
from bench.run import git_commit, machine
from bench.scenarios import CRS, DASHBOARD
from bench.stack import ROOT, Call, Stack, running
from demo.generate import generate
from demo.issuer import DEMO_PURPOSE
from graph.auth import auth_for
from graph.caller import PURPOSE_HEADER

PARTS = ("p3", "p5", "p6", "p7")
MELDINGEN = "{ meldingenStatistiek(groepeerOp: [CATEGORIE, STATUS]) { totaal groepen { categorie status aantal } } }"
ZAKEN_STATS = "{ " + next(line.strip() for line in DASHBOARD.splitlines() if "zakenStatistiek" in line) + " }"
P3_QUERIES = {"meldingen": MELDINGEN, "zaken": ZAKEN_STATS, "dashboard": DASHBOARD, "typename": "{ __typename }"}
P3_CONNECTIONS = 4
TAILCALL_KEY = "Tailcall|typename|4"  # bench.peers: "<system>|<query key>|<connections>" in the JSON's "load"
FIRST_QUERY = (ROOT / "graph" / "static" / "first-query.graphql").read_text()  # the README's, held by a test
P5_CONNECTIONS, RSS_EVERY_S, PEAK_TARGET_MB = 50, 10.0, 150.0
FLAT_MB_PER_MIN = 0.5  # this harness's reading of "no growth": below it, a slope is allocator noise
ZAKEN_N = ("query($n: Int!) { zaken(first: $n) { nodes { identificatie zaaktype { omschrijving }"
           " rollen { persoon { naam { volledigeNaam } } } } } }")
P6_SIZES = (10, 50, 100, 500)
ZAKEN_PAGE = 500  # the largest pageSize Open Zaak (the demo's default ZGW profile) honours
BRP_BATCH = 20  # BSNs per BRP call
P7_GROUPINGS = {
    "meldingenStatistiek": (["STATUS"], ["CATEGORIE"], ["CATEGORIE", "STATUS"]),
    "zakenStatistiek": (["OPEN"], ["ZAAKTYPE"], ["ZAAKTYPE", "OPEN"]),
}
GROUP_FIELDS = {"CATEGORIE": "categorie", "STATUS": "status", "OPEN": "open", "ZAAKTYPE": "zaaktype"}
FAR = dt.date(2100, 1, 1)  # `tot` from here on counts every record, as the dashboard does, yet is never cached


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 s cells, a 1-minute soak, 5 P6 runs, 3 P7 samples (about 2.5 minutes)")
    parser.add_argument("--scale", type=float, default=1.0, help="size of the demo municipality, as make bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each P3 wrk cell")
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="length of the P5 soak")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated latency of every source call")
    parser.add_argument("--runs", type=int, default=10, help="P6: sequential requests per n after the warm-up")
    parser.add_argument("--samples", type=int, default=5, help="P7: cold queries per grouping (median)")
    parser.add_argument("--only", default=",".join(PARTS), help="parts to run, comma-separated: p3,p5,p6,p7")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.soak_minutes = min(args.seconds, 3.0), min(args.soak_minutes, 1.0)
        args.runs, args.samples = min(args.runs, 5), min(args.samples, 3)
    args.parts = [p for p in PARTS if p in {x.strip().lower() for x in args.only.split(",")}]
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- one stack and how to ask it -------------------------------------------------------------------------------


@dataclass
class Session:
    stack: Stack
    client: httpx.Client
    system: System  # Gemeentegraaf as bench.peers drives it: URL, pid, a demo token and a purpose


@contextlib.contextmanager
def session(args: argparse.Namespace) -> Iterator[Session]:
    """Fresh sources and gateway, every source slowed to ``--latency-ms``, a client with a day-long token."""
    with running(args.scale, args.seed) as stack, httpx.Client(timeout=120) as client:
        token = client.post(f"{stack.urls['issuer']}/_demo/token", json={"lifetime_s": 86400}).raise_for_status()
        system = peer_systems.gemeentegraaf(stack, token.json()["access_token"], (PURPOSE_HEADER, DEMO_PURPOSE))
        for host in stack.hosts():
            client.put(f"{host}/_demo/behaviour", json={"latency_ms": args.latency_ms}).raise_for_status()
        yield Session(stack, client, system)


def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps({"query": query, "variables": variables or {}})


def ask(s: Session, query: str, variables: dict[str, Any] | None = None) -> tuple[Any, list[str], float]:
    """One request: its ``data``, its errors (a non-200 status included) and its wall time in ms."""
    began = time.perf_counter()
    answer = s.client.post(s.system.url, content=body(query, variables),
                           headers={"Content-Type": "application/json", **s.system.headers})
    ms = (time.perf_counter() - began) * 1000
    doc = orjson.loads(answer.content)
    errors = [str(e.get("message"))[:200] for e in doc.get("errors") or []]
    if answer.status_code != 200:
        errors.append(f"HTTP {answer.status_code}")
    return doc.get("data"), errors, ms


@dataclass(frozen=True)
class Upstream:
    calls: dict[str, int]  # per source
    bytes: int

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def upstream(stack: Stack) -> Upstream:
    """The calls since the last reset, per source. The gateway's one-time reads and its Notificaties subscription
    are left out: the subscription lands a few seconds after start, in whatever window is open then."""
    kept = [c for c in asyncio.run(_recorded(stack)) if not c.what.endswith(peers.SETUP_PATHS)]
    bases = sorted(((urlsplit(url).path, name) for name, url in stack.urls.items()), reverse=True)
    calls: dict[str, int] = {}
    size = 0
    for call in kept:
        path = call.what.partition(" ")[2]
        source = next((name for base, name in bases if base and path.startswith(base)), "?")
        if source != "notificaties":
            calls[source] = calls.get(source, 0) + 1
            size += call.size
    return Upstream(calls, size)


async def _counts(stack: Stack) -> dict[str, int]:
    """The simulators' counters only: cheap after minutes of load, when the Recorder's log is long."""
    async with httpx.AsyncClient(timeout=30) as client:
        return await stack.read_counts(client)


async def _recorded(stack: Stack) -> list[Call]:
    """The Recorder's log, once it agrees with the simulators' counters; a call that starts between reading the
    one and the other (the gateway's own background work) makes them differ, so both are read again."""
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(4):
            counts = await stack.read_counts(client)
            with contextlib.suppress(RuntimeError):
                return await stack.read_calls(client, sum(counts.values()))
        return await stack.read_calls(client, sum((await stack.read_counts(client)).values()))


# -- P3: a dashboard from the response cache -------------------------------------------------------------------


def p3(s: Session, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Each query asked once (filling the response cache), then one wrk cell of it at 4 connections."""
    cells: dict[str, Any] = {}
    for key, query in P3_QUERIES.items():
        _, errors, _ = ask(s, query)
        script = load.write_script(work / f"p3-{key}.lua", [body(query)], s.system.headers)
        found = peers.cell(s.client, s.stack, s.system, key, P3_CONNECTIONS, args.seconds, script)
        cells[key] = {**peers.summarise([found]), "problems": errors[:2]}
        log(f"  P3 {key}: {cells[key]['rps']} req/s, {cells[key]['cpu_ms']} CPU ms/request")
    tailcall = tailcall_typename()
    if tailcall:
        for found in cells.values():
            found["x_tailcall"] = round(found["rps"] / tailcall["rps"], 2) if tailcall["rps"] else None
    return {"connections": P3_CONNECTIONS, "cells": cells, "tailcall": tailcall}


def tailcall_typename() -> dict[str, Any] | None:
    """Tailcall's req/s on ``{ __typename }`` at 4 connections, from the newest peers result that has it."""
    for path in sorted(peers.RESULTS.glob("peers-*.json"), reverse=True):  # names sort by time
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            doc = orjson.loads(path.read_bytes())
            found = doc["load"].get(TAILCALL_KEY)
            if found:
                return {"rps": found["rps"], "file": path.name, "started": doc["meta"]["started"]}
    return None


# -- P5: 50 clients for minutes, memory sampled ------------------------------------------------------------------


def p5_bodies(bsns: list[str]) -> list[bytes]:
    """The three queries in turn; the person cycles through the BSNs (wrk's script walks the list in order)."""
    return [b for bsn in bsns for b in (body(FIRST_QUERY), body(GG_PERSON, {"bsn": bsn}), body(MELDINGEN))]


def p5(s: Session, args: argparse.Namespace, bsns: list[str], work: Path) -> dict[str, Any]:
    """RSS at start, after every body was asked once, every 10 s under load, and at the end."""
    pid = s.system.pid
    rss: dict[str, Any] = {"start_mb": load.rss_mb(pid)}
    problems = [e for b in bsns for e in ask(s, GG_PERSON, {"bsn": b})[1]]
    problems += ask(s, FIRST_QUERY)[1] + ask(s, MELDINGEN)[1]
    rss["warm_mb"] = load.rss_mb(pid)
    script = load.write_script(work / "p5.lua", p5_bodies(bsns), s.system.headers)
    seconds = args.soak_minutes * 60
    peers.reset_upstream(s.client, s.stack)
    cpu = load.cpu_seconds(pid)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running_wrk = pool.submit(load.run_wrk, s.system.url, script, P5_CONNECTIONS, seconds)
        samples = sample_rss(pid, running_wrk)
        result = running_wrk.result()
    cpu = load.cpu_seconds(pid) - cpu
    calls = asyncio.run(_counts(s.stack))
    rss |= {"peak_mb": load.peak_rss_mb(pid), "end_mb": load.rss_mb(pid),
            "max_sampled_mb": max(mb for _, mb in samples), "samples": samples}
    rss["growth_mb_per_min"] = growth(samples)
    return {
        "connections": P5_CONNECTIONS, "minutes": args.soak_minutes, "bsns": bsns, "warm_up_problems": problems[:5],
        "rps": round(result.requests / result.seconds, 1), "p50_ms": result.p50_ms, "p99_ms": result.p99_ms,
        "requests": result.requests, "errors": result.non_2xx + result.socket_errors,
        "cpu_ms": round(cpu * 1000 / result.requests, 2) if result.requests else None, "rss": rss,
        "calls_per_request": {k: round(v / max(1, result.requests), 3) for k, v in sorted(calls.items())
                              if k != "notificaties"},
        "meets_peak": rss["peak_mb"] <= PEAK_TARGET_MB,
        "meets_flat": rss["growth_mb_per_min"] is not None and rss["growth_mb_per_min"] <= FLAT_MB_PER_MIN,
    }


def sample_rss(pid: int, until: concurrent.futures.Future[Any]) -> list[tuple[float, float]]:
    """(seconds since start, VmRSS MB) every RSS_EVERY_S until the load ends, and once when it has."""
    began, samples = time.monotonic(), []
    while True:
        samples.append((round(time.monotonic() - began, 1), load.rss_mb(pid)))
        if until.done():
            return samples
        concurrent.futures.wait([until], timeout=RSS_EVERY_S)
        if until.done():
            samples.append((round(time.monotonic() - began, 1), load.rss_mb(pid)))
            return samples


def growth(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of RSS over the second half of the run, MB per minute: the first half holds the
    caches filling up, so only growth after it suggests a leak."""
    half = samples[-1][0] / 2
    late = [(t, mb) for t, mb in samples if t >= half]
    if len(late) < 2:
        return None
    return round(statistics.linear_regression([t for t, _ in late], [mb for _, mb in late]).slope * 60, 2)


# -- P6: zaken(first: n) ---------------------------------------------------------------------------------------


def expected_calls(stack: Stack, n: int) -> dict[str, Any]:
    """The target's count, from the Zaken source itself: the newest n zaken with their roles inline give the
    pages, the distinct BSNs of natural persons (20 per BRP call) and the distinct zaaktypen."""
    source = stack.config.sources["zaken"]
    with httpx.Client(base_url=source.url, auth=auth_for(source), headers={"Accept": "application/json", **CRS},
                      timeout=60) as client:
        page = client.get("/zaken", params={"pageSize": str(min(n, ZAKEN_PAGE)), "expand": "rollen"}).json()
        zaken = list(page["results"])
        while len(zaken) < n and page.get("next"):
            page = client.get(page["next"]).json()
            zaken += page["results"]
    zaken = zaken[:n]
    bsns = {r["betrokkeneIdentificatie"].get("inpBsn") for z in zaken for r in z.get("_expand", {}).get("rollen", [])
            if r["betrokkeneType"] == "natuurlijk_persoon" and r["betrokkeneIdentificatie"].get("inpBsn")}
    calls = {"zaken": math.ceil(n / ZAKEN_PAGE), "brp": math.ceil(len(bsns) / BRP_BATCH),
             "catalogi": len({z["zaaktype"] for z in zaken})}
    return {"calls": calls, "total": sum(calls.values()), "bsns": len(bsns),
            "ids": [z["identificatie"] for z in zaken]}


def p6_one(s: Session, n: int, runs: int) -> dict[str, Any]:
    """The cold first request (its calls against the target), then ``runs`` sequential ones, warm."""
    want = expected_calls(s.stack, n)
    peers.reset_upstream(s.client, s.stack)
    data, problems, cold_ms = ask(s, ZAKEN_N, {"n": n})
    cold = upstream(s.stack)
    nodes = ((data or {}).get("zaken") or {}).get("nodes") or []
    peers.reset_upstream(s.client, s.stack)
    cpu, times = load.cpu_seconds(s.system.pid), []
    for _ in range(runs):
        _, errors, ms = ask(s, ZAKEN_N, {"n": n})
        times.append(ms)
        problems += errors
    cpu = load.cpu_seconds(s.system.pid) - cpu
    warm = upstream(s.stack)
    p50 = statistics.median(times)
    return {"n": n, "p50_ms": round(p50, 1), "ms_per_zaak": round(p50 / n, 3), "cold_ms": round(cold_ms, 1),
            "cpu_ms": round(cpu * 1000 / runs, 1), "cold_calls": cold.calls, "cold_total": cold.total,
            "cold_kib": round(cold.bytes / 1024, 1), "expected": {k: v for k, v in want.items() if k != "ids"},
            "meets_calls": cold.total == want["total"], "warm_calls": round(warm.total / runs, 2),
            "warm_by_source": {k: round(v / runs, 2) for k, v in warm.calls.items()},
            "same_zaken": [z["identificatie"] for z in nodes] == want["ids"], "problems": sorted(set(problems))[:3]}


def p6(args: argparse.Namespace) -> dict[str, Any]:
    """Every n on a fresh stack, and a straight line through (n, p50): its slope is the cost of one more zaak."""
    rows = []
    for n in P6_SIZES:
        log(f"  P6 n = {n} (fresh stack) ...")
        with session(args) as s:
            rows.append(p6_one(s, n, args.runs))
        log(f"    p50 {rows[-1]['p50_ms']} ms, cold calls {rows[-1]['cold_total']}"
            f" (target {rows[-1]['expected']['total']})")
    per_zaak = [r["ms_per_zaak"] for r in rows]
    line = statistics.linear_regression([r["n"] for r in rows], [r["p50_ms"] for r in rows])
    return {"rows": rows, "ms_per_zaak_ratio": round(max(per_zaak) / min(per_zaak), 2) if min(per_zaak) else None,
            "fit": {"intercept_ms": round(line.intercept, 1), "ms_per_zaak": round(line.slope, 3)}}


# -- P7: cold statistics ---------------------------------------------------------------------------------------


def p7_query(field: str, dims: list[str]) -> str:
    kind = "DateTime" if field == "meldingenStatistiek" else "Date"
    extra = " strategie" if field == "meldingenStatistiek" else ""
    fields = " ".join(GROUP_FIELDS[d] for d in dims)  # only what the grouping names: more could force a scan
    return (f"query($tot: {kind}) {{ {field}(groepeerOp: [{', '.join(dims)}], tot: $tot) {{ totaal{extra}"
            f" groepen {{ {fields} aantal }} }} }}")


def p7_sample(s: Session, field: str, query: str, day: int) -> dict[str, Any]:
    """One cold query: a ``tot`` no request has used, so neither the response cache nor the HTTP cache has it."""
    tot = FAR + dt.timedelta(days=day)
    peers.reset_upstream(s.client, s.stack)
    cpu = load.cpu_seconds(s.system.pid)
    data, errors, ms = ask(s, query, {"tot": f"{tot}T00:00:00Z" if field == "meldingenStatistiek" else str(tot)})
    cpu = load.cpu_seconds(s.system.pid) - cpu
    found = upstream(s.stack)
    return {"calls": found.total, "kib": found.bytes / 1024, "cpu_ms": cpu * 1000, "ms": ms, "errors": errors,
            "strategie": ((data or {}).get(field) or {}).get("strategie"), "by_source": found.calls}


def p7(s: Session, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Median calls, KiB, CPU and wall time of ``--samples`` cold queries per grouping."""
    days, rows = itertools.count(1), []
    for field, groupings in P7_GROUPINGS.items():
        for dims in groupings:
            query = p7_query(field, dims)
            samples = [p7_sample(s, field, query, next(days)) for _ in range(args.samples)]
            row = {"field": field, "groepeerOp": dims, "samples": len(samples), "by_source": samples[-1]["by_source"],
                   "strategie": sorted({str(x["strategie"]) for x in samples}) if field == "meldingenStatistiek"
                   else None, "problems": sorted({e for x in samples for e in x["errors"]})[:2]}
            for key in ("calls", "kib", "cpu_ms", "ms"):
                row[key] = round(statistics.median(x[key] for x in samples), 1)
            rows.append(row)
            log(f"  P7 {field} [{', '.join(dims)}]: {row['calls']} calls, {row['kib']} KiB, {row['cpu_ms']} CPU ms")
    return rows


# -- output ----------------------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, int | float) else str(value)


def md_p3(r: dict[str, Any]) -> list[str]:
    tc = r["tailcall"]
    lines = ["## P3: dashboard from the response cache", "",
             f"wrk, {r['connections']} connections, after one warm-up request per query. "
             + (f"Tailcall `{{ __typename }}` at 4 connections: {fmt(tc['rps'])} req/s ({tc['file']})."
                if tc else "Tailcall's figure is missing: no bench/results/peers-*.json with it (make bench-peers)."),
             "", "| query | req/s | p50 ms | p99 ms | CPU ms/req | calls/req | errors | × Tailcall typename |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for key, c in r["cells"].items():
        lines.append(f"| {key} | {fmt(c['rps'])} | {fmt(c['p50_ms'])} | {fmt(c['p99_ms'])} | {fmt(c['cpu_ms'], 2)} | "
                     f"{fmt(c['calls'], 2)} | {c['errors']} | {fmt(c.get('x_tailcall'), 2)} |")
    return lines


def md_p5(r: dict[str, Any]) -> list[str]:
    rss = r["rss"]
    return ["## P5: 50 clients, mixed, soak", "",
            f"{r['minutes']:g} min at {r['connections']} connections (first query, one person, meldingenStatistiek "
            f"in turn): {fmt(r['rps'])} req/s, p50 {fmt(r['p50_ms'])} ms, p99 {fmt(r['p99_ms'])} ms, "
            f"{r['errors']} errors of {r['requests']:,}, {fmt(r['cpu_ms'], 2)} CPU ms/request; upstream calls per "
            "request: " + ", ".join(f"{k} {v}" for k, v in r["calls_per_request"].items()) + ".", "",
            "| RSS MB | start | after warm-up | peak (VmHWM) | end | growth, 2nd half |", "|---|--:|--:|--:|--:|--:|",
            f"| gateway | {fmt(rss['start_mb'])} | {fmt(rss['warm_mb'])} | {fmt(rss['peak_mb'])} | "
            f"{fmt(rss['end_mb'])} | {fmt(rss['growth_mb_per_min'], 2)} MB/min |", "",
            f"Target peak ≤ {PEAK_TARGET_MB:g} MB: {'met' if r['meets_peak'] else '**not met**'}; no growth "
            f"(slope ≤ {FLAT_MB_PER_MIN} MB/min): {'met' if r['meets_flat'] else '**not met**'}."]


def md_p6(r: dict[str, Any]) -> list[str]:
    lines = ["## P6: zaken(first: n) with zaaktype and persons", "",
             "| n | p50 ms | ms/zaak | CPU ms/req | cold calls zaken+brp+catalogi | target | warm calls/req |"
             " same zaken |", "|--:|--:|--:|--:|--:|--:|--:|---|"]
    for row in r["rows"]:
        got, want = row["cold_calls"], row["expected"]["calls"]
        parts = "+".join(str(got.get(k, 0)) for k in want)
        extra = {k: v for k, v in got.items() if k not in want}
        flag = "" if row["meets_calls"] else " **≠**"
        lines.append(f"| {row['n']} | {fmt(row['p50_ms'])} | {fmt(row['ms_per_zaak'], 2)} | {fmt(row['cpu_ms'])} | "
                     f"{row['cold_total']} ({parts}{f', {extra}' if extra else ''}){flag} | {row['expected']['total']}"
                     f" ({'+'.join(str(v) for v in want.values())}, {row['expected']['bsns']} BSNs) | "
                     f"{fmt(row['warm_calls'], 2)} ({warm(row)}) | {'yes' if row['same_zaken'] else '**no**'} |")
    fit = r["fit"]
    return [*lines, "", f"ms/zaak largest ÷ smallest: {fmt(r['ms_per_zaak_ratio'], 2)}; least squares: "
            f"p50 ≈ {fmt(fit['intercept_ms'])} ms + {fmt(fit['ms_per_zaak'], 2)} ms × n."]


def warm(row: dict[str, Any]) -> str:
    return ", ".join(f"{k} {fmt(v, 1)}" for k, v in sorted(row.get("warm_by_source", {}).items()))


def md_p7(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## P7: cold statistics", "", "| field | groepeerOp | strategie | calls | KiB | CPU ms | ms |",
             "|---|---|---|--:|--:|--:|--:|"]
    for row in rows:
        strategy = ", ".join(row["strategie"]) if row["strategie"] else "-"
        lines.append(f"| {row['field']} | {', '.join(row['groepeerOp'])} | {strategy} | {fmt(row['calls'], 0)} | "
                     f"{fmt(row['kib'])} | {fmt(row['cpu_ms'], 0)} | {fmt(row['ms'], 0)} |")
    return lines


def problems(doc: dict[str, Any]) -> list[str]:
    """Errors in answers the harness checked (wrk counts only non-2xx): a GraphQL error would flatter a figure."""
    found = [f"P3 {k}: {e}" for k, c in doc.get("p3", {}).get("cells", {}).items() for e in c["problems"]]
    found += [f"P5 warm-up: {e}" for e in doc.get("p5", {}).get("warm_up_problems", [])]
    found += [f"P6 n = {r['n']}: {e}" for r in doc.get("p6", {}).get("rows", []) for e in r["problems"]]
    found += [f"P6 n = {r['n']}: not the zaken the source lists first" for r in doc.get("p6", {}).get("rows", [])
              if not r["same_zaken"]]
    return found + [f"P7 {r['field']} {r['groepeerOp']}: {e}" for r in doc.get("p7", []) for e in r["problems"]]


def markdown(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    lines = [f"# Targets, {meta['started']} ({meta['duration_s']:.0f} s)", "",
             f"{meta['machine']['cores']} cores ({meta['machine']['cpu']}), Python {meta['machine']['python']}; "
             f"scale {meta['scale']:g}, {meta['latency_ms']:g} ms per source call; commit {meta['commit']}."]
    if meta.get("load_warning"):
        lines += ["", f"**Warning:** {meta['load_warning']}"]
    for key, render in (("p3", md_p3), ("p5", md_p5), ("p6", md_p6), ("p7", md_p7)):
        if key in doc:
            lines += ["", *render(doc[key])]
    if problems(doc):
        lines += ["", "## Problems", "", *(f"- {p}" for p in problems(doc))]
    return "\n".join(lines) + "\n"


def summary(doc: dict[str, Any]) -> list[str]:
    """One or two lines per target, for the terminal."""
    lines = []
    if "p3" in doc:
        cells, tc = doc["p3"]["cells"], doc["p3"]["tailcall"]
        lines.append("P3 cached, 4 conn.: " + "; ".join(f"{k} {fmt(c['rps'])} req/s {fmt(c['cpu_ms'], 2)} CPU ms"
                                                        for k, c in cells.items()))
        ratios = ", ".join(f"{k} {fmt(c.get('x_tailcall'), 2)}×" for k, c in cells.items())
        lines.append(f"   vs Tailcall typename {fmt(tc['rps'])} req/s ({tc['file']}): {ratios}" if tc
                     else "   Tailcall's figure is missing (no bench/results/peers-*.json with it)")
    if "p5" in doc:
        r, rss = doc["p5"], doc["p5"]["rss"]
        lines.append(f"P5 {r['minutes']:g} min x 50 conn.: {fmt(r['rps'])} req/s, p50/p99 {fmt(r['p50_ms'])}/"
                     f"{fmt(r['p99_ms'])} ms, {r['errors']} errors; RSS start/warm/peak/end {fmt(rss['start_mb'])}/"
                     f"{fmt(rss['warm_mb'])}/{fmt(rss['peak_mb'])}/{fmt(rss['end_mb'])} MB, growth "
                     f"{fmt(rss['growth_mb_per_min'], 2)} MB/min (peak {'ok' if r['meets_peak'] else 'OVER'}, "
                     f"growth {'flat' if r['meets_flat'] else 'NOT FLAT'})")
    if "p6" in doc:
        lines.append("P6 n: p50 ms, ms/zaak, cold calls/target: " + "; ".join(
            f"{x['n']}: {fmt(x['p50_ms'])}, {fmt(x['ms_per_zaak'], 2)}, {x['cold_total']}/{x['expected']['total']}"
            for x in doc["p6"]["rows"]) + f"; ms/zaak ratio {fmt(doc['p6']['ms_per_zaak_ratio'], 2)}")
    if "p7" in doc:
        lines.append("P7 cold calls/KiB/CPU ms: " + "; ".join(
            f"{x['field'][:7]} [{','.join(x['groepeerOp'])}] {fmt(x['calls'], 0)}/{fmt(x['kib'], 0)}/"
            f"{fmt(x['cpu_ms'], 0)}" for x in doc["p7"]))
    return lines


def rss_chart(doc: dict[str, Any], stem: Path) -> Path | None:
    """P5's RSS over time, when matplotlib (the ``bench`` extra) is installed."""
    try:
        import matplotlib  # optional, so imported here

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    samples = doc["p5"]["rss"]["samples"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot([t / 60 for t, _ in samples], [mb for _, mb in samples], marker=".")
    ax.axhline(PEAK_TARGET_MB, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("minutes")
    ax.set_ylabel("VmRSS MB")
    ax.set_title(f"P5: gateway RSS, 50 connections ({doc['meta']['started'][:10]})")
    fig.tight_layout()
    path = stem.with_name(f"{stem.name}-rss.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- main ------------------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The parts in an order where none skews another; P5 waits for the generated data (its BSNs)."""
    found: dict[str, Any] = {}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        data = pool.submit(generate, seed=args.seed, scale=args.scale) if "p5" in args.parts else None
        if {"p3", "p7"} & set(args.parts):
            log("P3/P7: starting sources and gateway ...")
            with session(args) as s:
                if "p7" in args.parts:
                    found["p7"] = p7(s, args)
                if "p3" in args.parts:
                    found["p3"] = p3(s, args, work)
        if "p6" in args.parts:
            found["p6"] = p6(args)
        if data is not None:
            log(f"P5: fresh stack, {args.soak_minutes:g} min at {P5_CONNECTIONS} connections ...")
            with session(args) as s:
                found["p5"] = p5(s, args, peers.choose_bsns(data.result(), args.seed), work)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.parts:
        log(f"--only names none of {', '.join(PARTS)}")
        return 2
    if load.wrk_path() is None and {"p3", "p5"} & set(args.parts):
        log("wrk is missing: apt-get install -y wrk")
        return 2
    began, started = time.monotonic(), dt.datetime.now(dt.UTC)
    warning = peers.load_now()
    with tempfile.TemporaryDirectory(prefix="gemeentegraaf-targets-") as tmp:
        found = measure(args, Path(tmp))
    doc: dict[str, Any] = {
        "meta": {"started": started.isoformat(timespec="seconds"), "duration_s": round(time.monotonic() - began, 1),
                 "scale": args.scale, "seed": args.seed, "latency_ms": args.latency_ms, "seconds": args.seconds,
                 "soak_minutes": args.soak_minutes, "runs": args.runs, "samples": args.samples,
                 "parts": args.parts, "quick": args.quick, "commit": git_commit(), "machine": machine(),
                 "wrk": peers.tool_version(["wrk", "-v"]), "load_warning": warning},
        **found,
    }
    peers.RESULTS.mkdir(parents=True, exist_ok=True)
    stem = peers.RESULTS / f"targets-{started:%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    stem.with_suffix(".md").write_text(markdown(doc))
    chart = rss_chart(doc, stem) if "p5" in doc else None
    print("\n".join(summary(doc) + [f"PROBLEM {p}" for p in problems(doc)]))
    log(f"written to {stem.relative_to(ROOT)}.json/.md{' and -rss.png' if chart else ''} "
        f"in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
