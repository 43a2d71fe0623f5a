"""Gemeentegraaf side by side with Hive Gateway (GraphQL Mesh) and Tailcall, over the same demo sources.

    python -m bench.peers [--quick] [--rounds 2] [--seconds 5] [--check]

Starts the demo sources and Gemeentegraaf (``bench.stack``), composes and starts the peers
(``bench.peer_systems``), gives every source 20 ms per call, and then:

1. **check**: asks every comparable query of every system once, cold, in the same order, counting the upstream
   calls and bytes of that first answer, and compares the answers in a common form (the schemas' names differ);
   a peer's wrong answer is flagged in the table, and the exit status is 1 only when Gemeentegraaf's is wrong;
2. **load**: rounds of ``wrk`` cells (query x connections x system), the systems' order rotated each round, each
   cell measuring requests/s, p50/p99, gateway CPU per request (utime+stime of the process tree from /proc) and
   upstream calls and bytes per request (the simulators' counters and the Recorder's log);
3. writes JSON and Markdown to bench/results/, the table into bench/PEERS.md, and PNG charts when matplotlib
   (the ``bench`` extra) is there.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import load, peer_systems
from bench.peer_systems import System
from bench.run import git_commit, machine
from bench.stack import ROOT, Stack, running
from demo.generate import generate
from demo.issuer import DEMO_PURPOSE
from demo.model import Municipality
from graph.caller import PURPOSE_HEADER

QUERIES = {  # key -> title; the texts per system are in bench.peer_systems
    "typename": "{ __typename }",
    "zaken": "20 zaken",
    "zaaktype": "20 zaken + zaaktype",
    "persons": "20 zaken + persons (BRP)",
    "person": "one person (BRP)",
}
SAMPLES = 5
RESULTS = ROOT / "bench" / "results"
PEERS_MD = ROOT / "bench" / "PEERS.md"
SETUP_PATHS = ("/openapi.json", "/openapi.yaml", "/jwks", "/.well-known/openid-configuration")
BEGIN, END = "<!-- results: written by python -m bench.peers -->", "<!-- /results -->"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of 2 s cells (about 2 minutes)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of load cells, systems rotated each round")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one wrk cell")
    parser.add_argument("--connections", default="1,4", help="wrk connections per cell, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="simulated latency of every source call")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="systems to run, e.g. 'gemeentegraaf,tailcall' (default: all)")
    parser.add_argument("--check", action="store_true", help="only compare the answers (no load)")
    parser.add_argument("--no-peers-md", action="store_true", help="leave bench/PEERS.md as it is")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the sources' counters -------------------------------------------------------------------------------------


def reset_upstream(client: httpx.Client, stack: Stack) -> None:
    for host in stack.hosts():
        client.delete(f"{host}/_demo/requests").raise_for_status()
    client.delete(f"{next(iter(stack.hosts()))}/_bench/calls").raise_for_status()


def read_upstream(client: httpx.Client, stack: Stack) -> tuple[int, int, list[str]]:
    """Upstream calls and bytes answered since the last reset, and the calls as ``METHOD /path``; a gateway's
    one-time reads at start (OpenAPI documents, the issuer's keys) are left out: they are not the query's plan."""
    expected = sum(client.get(f"{host}/_demo/requests").raise_for_status().json()["total"] for host in stack.hosts())
    rows: list[Any] = []
    for _ in range(50):  # the Recorder logs a call as its last byte leaves: wait for the simulators' count
        rows = client.get(f"{next(iter(stack.hosts()))}/_bench/calls").raise_for_status().json()
        if len(rows) >= expected:
            break
        time.sleep(0.01)
    kept = [row for row in rows if not str(row[3]).endswith(SETUP_PATHS)]
    return len(kept), sum(row[2] for row in kept), [str(row[3]) for row in kept]


# -- check: the same data from every system --------------------------------------------------------------------


def body(system: System, key: str, bsn: str) -> bytes:
    query = system.queries[key]
    return orjson.dumps({"query": query.text, "variables": peer_systems.variables_for(system.name, query, bsn)})


def ask(client: httpx.Client, system: System, key: str, bsn: str) -> tuple[Any, list[str]]:
    answer = client.post(system.url, content=body(system, key, bsn),
                         headers={"Content-Type": "application/json", **system.headers})
    doc = answer.json()
    errors = [str(e.get("message"))[:200] for e in doc.get("errors") or []]
    if answer.status_code != 200:
        errors.append(f"HTTP {answer.status_code}")
    return doc.get("data"), errors


def check(client: httpx.Client, stack: Stack, systems: list[System], bsns: list[str]) -> dict[str, Any]:
    """Cold first answers (calls, KiB) and whether every system gives the same data for the same variables."""
    first: dict[str, dict[str, Any]] = {}
    same: dict[str, bool] = {}
    wrong: dict[str, list[str]] = {}
    problems: list[str] = []
    for key in QUERIES:
        shapes: dict[str, list[Any]] = {}
        for system in systems:
            reset_upstream(client, stack)
            data, errors = ask(client, system, key, bsns[0])
            calls, size, what = read_upstream(client, stack)
            first.setdefault(system.name, {})[key] = {"calls": calls, "kib": round(size / 1024, 1), "what": what}
            answers = [data] + [ask(client, system, key, b)[0] for b in bsns[1:]] if system.queries[key].variables \
                else [data]
            try:
                shapes[system.name] = [system.queries[key].shape(a) for a in answers]
            except (KeyError, TypeError, IndexError) as exc:
                shapes[system.name] = []
                problems.append(f"{system.name} {key}: unexpected answer ({type(exc).__name__}: {exc})")
            problems += [f"{system.name} {key}: {e}" for e in errors[:2]]
        reference = shapes.get("Gemeentegraaf") or next(iter(shapes.values()))
        same[key] = bool(reference) and all(s == reference for s in shapes.values())
        for name, shape in shapes.items():
            wrong.setdefault(name, [])
            if shape != reference:
                wrong[name].append(key)
        if not same[key]:
            names = ", ".join(n for n, s in shapes.items() if s != reference)
            problems.append(f"{key}: {names} answered differently from {next(iter(shapes))}")
    return {"first": first, "same": same, "wrong": wrong, "problems": problems}


# -- load ------------------------------------------------------------------------------------------------------


def cell(client: httpx.Client, stack: Stack, system: System, key: str, connections: int, seconds: float,
         script: Path) -> dict[str, Any]:
    reset_upstream(client, stack)
    cpu = load.cpu_seconds(system.pid)
    result = load.run_wrk(system.url, script, connections, seconds)
    cpu = load.cpu_seconds(system.pid) - cpu
    calls, size, _ = read_upstream(client, stack)
    return {"requests": result.requests, "seconds": result.seconds, "errors": result.non_2xx + result.socket_errors,
            "p50_ms": result.p50_ms, "p99_ms": result.p99_ms, "cpu_s": cpu, "calls": calls, "bytes": size}


def summarise(cells: list[dict[str, Any]]) -> dict[str, Any]:
    n = sum(c["requests"] for c in cells)
    per = (lambda total: total / n) if n else (lambda total: math.nan)
    return {
        "rps": round(n / sum(c["seconds"] for c in cells), 1),
        "p50_ms": round(statistics.median(c["p50_ms"] for c in cells), 1),
        "p99_ms": round(statistics.median(c["p99_ms"] for c in cells), 1),
        "cpu_ms": round(per(sum(c["cpu_s"] for c in cells)) * 1000, 2),
        "calls": round(per(sum(c["calls"] for c in cells)), 2),
        "kib": round(per(sum(c["bytes"] for c in cells)) / 1024, 1),
        "requests": n, "errors": sum(c["errors"] for c in cells), "rounds": len(cells),
    }


def measure(client: httpx.Client, stack: Stack, systems: list[System], bsns: list[str], args: argparse.Namespace,
            work: Path) -> dict[str, Any]:
    conns = [int(c) for c in args.connections.split(",")]
    scripts = {(s.name, key): load.write_script(work / f"{s.name.replace(' ', '-')}-{key}.lua",
                                                [body(s, key, b) for b in bsns], s.headers)
               for s in systems for key in QUERIES}
    cells: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    total = args.rounds * len(QUERIES) * len(conns) * len(systems)
    done, began = 0, time.monotonic()
    for r in range(args.rounds):
        order = systems[r % len(systems):] + systems[:r % len(systems)]
        for key in QUERIES:
            for c in conns:
                for system in order:
                    found = cell(client, stack, system, key, c, args.seconds, scripts[(system.name, key)])
                    cells.setdefault((system.name, key, c), []).append(found)
                    done += 1
                log(f"  round {r + 1}/{args.rounds} {QUERIES[key]}, {c} conn.: {done}/{total} cells, "
                    f"{time.monotonic() - began:.0f} s")
    return {f"{name}|{key}|{c}": summarise(found) for (name, key, c), found in cells.items()}


# -- output ----------------------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def markdown(doc: dict[str, Any]) -> str:
    meta = doc["meta"]
    names = [s["name"] for s in meta["systems"]]
    conns = [int(c) for c in meta["connections"].split(",")]
    lines = [
        f"Run {meta['started']} ({meta['duration_s']:.0f} s): {meta['machine']['cores']} cores "
        f"({meta['machine']['cpu']}), Python {meta['machine']['python']}, node {meta['node']}, wrk {meta['wrk']}; "
        f"scale {meta['scale']:g}, {meta['latency_ms']:g} ms per source call, {meta['rounds']} round(s) of "
        f"{meta['seconds']:g} s wrk cells, systems rotated each round; commit {meta['commit']}.",
        "",
        "Versions: " + ", ".join(f"{s['name']} {s['version']}" for s in meta["systems"]) + ".",
    ]
    if meta.get("load_warning"):
        lines += ["", f"**Warning:** {meta['load_warning']}"]
    if meta.get("failed"):
        lines += ["", "Not measured: " + "; ".join(meta["failed"])]
    check_ = doc["check"]
    lines += ["", "Same answer for the same variables: " + ", ".join(
        f"{QUERIES[k]} {'yes' if v else '**NO**'}" for k, v in check_["same"].items()) + "."]
    for problem in check_["problems"][:8]:
        lines.append(f"- {problem}")
    for c in conns:
        lines += ["", f"**{c} connection{'s' if c > 1 else ''}** (req/s; p50 / p99 ms; gateway CPU ms per request; "
                  "upstream calls and KiB per request, steady state)", "",
                  "| query | system | req/s | p50 ms | p99 ms | CPU ms/req | calls/req | KiB/req |",
                  "|---|---|--:|--:|--:|--:|--:|--:|"]
        for key, title in QUERIES.items():
            for name in names:
                r = doc["load"].get(f"{name}|{key}|{c}")
                if r:
                    flag = f" ({r['errors']} errors)" if r["errors"] else ""
                    if key in check_["wrong"].get(name, []):
                        flag += " (wrong answer)"
                    lines.append(f"| {title} | {name} | {fmt(r['rps'])}{flag} | {fmt(r['p50_ms'])} | "
                                 f"{fmt(r['p99_ms'])} | {fmt(r['cpu_ms'], 2)} | {fmt(r['calls'], 2)} | "
                                 f"{fmt(r['kib'])} |")
    lines += ["", "**First answer, cold** (upstream calls / KiB of each system's first request of each query, "
              "in the order above, right after start)", "",
              "| query | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    for key, title in QUERIES.items():
        cells = [check_["first"].get(n, {}).get(key) for n in names]
        lines.append(f"| {title} | " + " | ".join(f"{c['calls']} / {fmt(c['kib'])}" if c else "-" for c in cells)
                     + " |")
    lines += ["", "Peak RSS (VmHWM of the gateway's process tree, whole run): " + ", ".join(
        f"{n} {fmt(doc['peak_rss_mb'].get(n, math.nan))} MB" for n in names) + "."]
    return "\n".join(lines) + "\n"


def charts(doc: dict[str, Any], stem: Path) -> list[Path]:
    """Requests/s and CPU per request, one bar per system and query (log scale); none without matplotlib."""
    try:
        import matplotlib  # the `bench` extra; optional, so imported here

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("  matplotlib missing (pip install -e '.[bench]'): no charts")
        return []
    names = [s["name"] for s in doc["meta"]["systems"]]
    c = max(int(x) for x in doc["meta"]["connections"].split(","))
    written = []
    for metric, label in (("rps", f"requests/s at {c} connections"), ("cpu_ms", "gateway CPU ms per request"),
                          ("p50_ms", "p50 ms at 1 connection")):
        conns = 1 if metric == "p50_ms" else c
        fig, ax = plt.subplots(figsize=(9, 4))
        width = 0.8 / len(names)
        for i, name in enumerate(names):
            values = [doc["load"].get(f"{name}|{k}|{conns}", {}).get(metric, math.nan) for k in QUERIES]
            ax.bar([x + i * width for x in range(len(QUERIES))], values, width, label=name)
        ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(QUERIES))], list(QUERIES.values()),
                      fontsize=8)
        if metric != "p50_ms":
            ax.set_yscale("log")
        ax.set_title(f"{label} ({doc['meta']['started'][:10]}, {doc['meta']['machine']['cores']} cores)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}-{metric.replace('_', '-')}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def update_peers_md(table: str) -> None:
    text = PEERS_MD.read_text() if PEERS_MD.exists() else f"# Peers\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    PEERS_MD.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")


def tool_version(command: list[str]) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        found = re.search(r"(\d+\.\d+(?:\.\d+)?)", done.stdout + done.stderr)
        return found.group(1) if found else "?"
    return "?"


def load_now() -> str | None:
    """A warning when the machine was busy before the run began."""
    one = float(Path("/proc/loadavg").read_text().split()[0])
    cores = os.cpu_count() or 1
    if one > 0.5 * cores:
        return (f"the 1-minute load average was {one:.1f} on {cores} cores when the run began: other work shared "
                "the CPU, so absolute numbers are low and noisy; compare systems within one run only.")
    return None


# -- main ------------------------------------------------------------------------------------------------------


def choose_bsns(data: Municipality, seed: int) -> list[str]:
    living = sorted(p.bsn for p in data.personen.values() if p.overlijdensdatum is None)
    return random.Random(seed).sample(living, SAMPLES)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if load.wrk_path() is None and not args.check:
        log("wrk is missing: apt-get install -y wrk")
        return 2
    began, started = time.monotonic(), dt.datetime.now(dt.UTC)
    warning = load_now()
    wanted = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    missing = peer_systems.installed()
    failed: list[str] = []
    if missing:
        failed.append("peers not installed: " + "; ".join(missing))
    log(f"generating the municipality (scale {args.scale:g}) and starting sources and Gemeentegraaf ...")
    with ThreadPoolExecutor(1) as pool, tempfile.TemporaryDirectory(prefix="gemeentegraaf-peers-") as tmp:
        data = pool.submit(generate, seed=args.seed, scale=args.scale)
        work = Path(tmp)
        with running(args.scale, args.seed) as stack, httpx.Client(timeout=60) as client, \
                contextlib.ExitStack() as peers:
            token = client.post(f"{stack.urls['issuer']}/_demo/token", json={"lifetime_s": 86400}).raise_for_status()
            systems = [peer_systems.gemeentegraaf(stack, token.json()["access_token"], (PURPOSE_HEADER, DEMO_PURPOSE))]
            starters: list[tuple[str, Callable[..., Any]]] = [("hive", peer_systems.hive_gateway),
                                                               ("tailcall", peer_systems.tailcall)]
            for short, starter in starters if not missing else []:
                if wanted and short not in wanted:
                    continue
                log(f"starting {short} ...")
                try:
                    systems.append(peers.enter_context(starter(stack, work, log)))
                except (RuntimeError, OSError, httpx.HTTPError, subprocess.SubprocessError) as exc:
                    failed.append(f"{short}: {exc}"[:1500])
                    log(f"  {short} failed: {exc}")
            if wanted and "gemeentegraaf" not in wanted:
                systems = systems[1:]
            for host in stack.hosts():
                client.put(f"{host}/_demo/behaviour", json={"latency_ms": args.latency_ms}).raise_for_status()
            bsns = choose_bsns(data.result(), args.seed)
            log("checking the answers (cold) ...")
            checked = check(client, stack, systems, bsns)
            for problem in checked["problems"]:
                log(f"  {problem}")
            results = {} if args.check else measure(client, stack, systems, bsns, args, work)
            rss = {s.name: load.peak_rss_mb(s.pid) for s in systems}
    doc: dict[str, Any] = {
        "meta": {"started": started.isoformat(timespec="seconds"), "duration_s": round(time.monotonic() - began, 1),
                 "scale": args.scale, "seed": args.seed, "latency_ms": args.latency_ms, "rounds": args.rounds,
                 "seconds": args.seconds, "connections": args.connections, "commit": git_commit(),
                 "machine": machine(), "node": tool_version(["node", "--version"]),
                 "wrk": tool_version(["wrk", "-v"]), "platform": platform.platform(),
                 "systems": [{"name": s.name, "version": s.version} for s in systems],
                 "failed": failed, "load_warning": warning},
        "queries": {s.name: {k: q.text for k, q in s.queries.items()} for s in systems},
        "bsns": bsns, "check": checked, "load": results, "peak_rss_mb": rss,
    }
    table = markdown(doc)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"peers-{started:%Y%m%d-%H%M%S}"
    stem.with_suffix(".json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    stem.with_suffix(".md").write_text(table)
    if not args.check:
        for path in charts(doc, stem):
            log(f"  chart {path.relative_to(ROOT)}")
        if not args.no_peers_md:
            update_peers_md(table)
    log(f"written to {stem.relative_to(ROOT)}.json/.md in {time.monotonic() - began:.0f} s")
    # the run is invalid when Gemeentegraaf answers wrongly or not at all; what a peer gets wrong is a finding
    return 1 if checked["wrong"].get("Gemeentegraaf") or any(
        p.startswith("Gemeentegraaf") for p in checked["problems"]) else 0


if __name__ == "__main__":
    sys.exit(main())
