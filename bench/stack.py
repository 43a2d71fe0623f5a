"""What the benchmark runs against: the demo sources and the gateway, each in a subprocess on loopback ports.

Three processes, as in production three machines: the sources (``bench.sources``), the gateway
(``gemeentegraaf serve``, one uvicorn worker) and this harness, whose client is either a GraphQL client of the
gateway or the hand-written minimum. Both subprocesses end with the ``running`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx
import orjson

from demo.runner import free_port
from demo.simulator import CONFIG_FILE, load_config
from graph.config import GatewayConfig, from_mapping

ROOT = Path(__file__).resolve().parents[1]
# Sources the gateway calls on its own, not for a query: the Notificaties API, which it keeps trying to subscribe
# with (the benchmark serves no callback). Left out of every count, so they never land between two readings.
BACKGROUND = ("notificaties",)


@dataclass(frozen=True, slots=True)
class Call:
    """One upstream API request as a simulator served it (perf_counter seconds of the sources' process)."""

    start: float
    end: float
    size: int
    what: str  # "METHOD /path"


@dataclass
class Stack:
    urls: dict[str, str]  # source name -> base URL
    gateway_url: str
    gateway_pid: int = 0

    @property
    def config(self) -> GatewayConfig:
        """The demo configuration pointed at these sources (credentials for the minimum's clients)."""
        raw = load_config()
        for name, url in self.urls.items():
            raw["sources"][name]["url"] = url
        return from_mapping(raw, {})

    def hosts(self) -> dict[str, list[str]]:
        """Root URL of every simulated host -> the sources it serves (the control plane lives at the root)."""
        hosts: dict[str, list[str]] = {}
        for name, url in self.urls.items():
            parts = urlsplit(url)
            hosts.setdefault(f"{parts.scheme}://{parts.netloc}", []).append(name)
        return hosts

    async def set_latency(self, client: httpx.AsyncClient, latency_ms: float) -> None:
        for host in self.hosts():
            (await client.put(f"{host}/_demo/behaviour", json={"latency_ms": latency_ms})).raise_for_status()

    async def reset_counts(self, client: httpx.AsyncClient) -> None:
        for host in self.hosts():
            (await client.delete(f"{host}/_demo/requests")).raise_for_status()
        (await client.delete(f"{next(iter(self.hosts()))}/_bench/calls")).raise_for_status()

    async def read_counts(self, client: httpx.AsyncClient) -> dict[str, int]:
        """Upstream calls per source since the last reset, from each simulator's ``GET /_demo/requests``; the
        gateway's own background calls (``BACKGROUND``) are left out: no query made them."""
        counts: dict[str, int] = {}
        for host, names in self.hosts().items():
            answer = await client.get(f"{host}/_demo/requests")
            answer.raise_for_status()
            bases = sorted(((urlsplit(self.urls[n]).path, n) for n in names), reverse=True)  # longest first
            for route, n in answer.json()["routes"].items():
                path = route.partition(" ")[2]
                source = next((name for base, name in bases if path.startswith(base)), names[0])
                if source not in BACKGROUND:
                    counts[source] = counts.get(source, 0) + n
        return counts

    async def read_calls(self, client: httpx.AsyncClient, expected: int) -> list[Call]:
        """The timed calls since the last reset; there must be as many as the simulators counted."""
        for _ in range(100):
            answer = await client.get(f"{next(iter(self.hosts()))}/_bench/calls")
            answer.raise_for_status()
            background = tuple(urlsplit(self.urls[n]).path + "/" for n in BACKGROUND if n in self.urls)
            calls = [c for c in (Call(*row) for row in answer.json())
                     if not c.what.partition(" ")[2].startswith(background)]
            if len(calls) >= expected:
                break
            await asyncio.sleep(0.01)
        if len(calls) != expected:
            raise RuntimeError(f"recorded {len(calls)} upstream calls, the simulators counted {expected}")
        return calls


@contextlib.contextmanager
def running(scale: float, seed: int) -> Iterator[Stack]:
    """The sources and the gateway over them, until the block ends."""
    with tempfile.TemporaryDirectory(prefix="gemeentegraaf-bench-") as tmp:
        ready = Path(tmp) / "sources.json"
        sources_cmd = [sys.executable, "-m", "bench.sources", "--scale", str(scale), "--seed", str(seed),
                       "--ready-file", str(ready)]
        with contextlib.ExitStack() as started:
            for attempt in range(3):  # the sources pick free ports, which another process may take meanwhile
                try:
                    started.enter_context(_process(sources_cmd, lambda: ready.exists(), timeout_s=60 + 60 * scale,
                                                   name="demo sources"))
                    break
                except RuntimeError as exc:
                    if "address already in use" not in str(exc) or attempt == 2:
                        raise
                    ready.unlink(missing_ok=True)
            urls: dict[str, str] = orjson.loads(ready.read_bytes())["urls"]
            port = free_port()
            gateway_url = f"http://127.0.0.1:{port}"
            env = {f"GEMEENTEGRAAF_{name.upper()}_URL": url for name, url in urls.items()}
            env["GEMEENTEGRAAF_AUTH_ISSUER"] = urls["issuer"]  # the demo issuer the sources process runs
            env["GEMEENTEGRAAF_GATEWAY_LOGBOEK_PATH"] = str(Path(tmp) / "logboek.jsonl")
            gateway_cmd = [sys.executable, "-c", "from graph.cli import app; app()", "serve", "--config",
                           str(CONFIG_FILE), "--host", "127.0.0.1", "--port", str(port)]
            with _process(gateway_cmd, lambda: _healthy(gateway_url), timeout_s=30, name="gateway", env=env) as pid:
                yield Stack(urls, gateway_url, pid)


@contextlib.contextmanager
def _process(command: list[str], ready: Any, timeout_s: float, name: str,
             env: dict[str, str] | None = None) -> Iterator[int]:
    """Run ``command`` from the repository root until the block ends; ``ready()`` says when it can be used.
    Yields the process id."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                stderr=stderr)
        try:
            deadline = time.monotonic() + timeout_s
            while not ready():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the {name} did not start:\n{_tail(stderr)}")
                time.sleep(0.1)
            yield proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")[-2000:]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
