"""Several gateway processes on one Redis, as `serve --workers N` and replicas behind a load balancer run:
together they keep a source's rate limit, share each source's circuit, and keep one Notificaties abonnement.

Real processes (``gemeentegraaf serve``), a real Redis and the demo sources; upstream calls are counted by the
simulators themselves, and which worker served what is read from each worker's own ``/metrics``.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
import tomli_w

from demo.notificaties import NotificatiesSimulator
from demo.runner import Municipal, free_port
from graph.cache import RedisStore
from graph.calls import SourceCall, SourceResponse
from graph.resilience import CircuitOpen
from graph.shared_breaker import SharedCircuitBreaker
from tests.conftest import employee_headers, gateway_mapping
from tests.gateway.test_two_processes import ALIASES, Process, calls
from tests.redis_server import RedisServer, _binary

GEMEENTEGRAAF = str(Path(sys.executable).parent / "gemeentegraaf")
MELDINGEN = "{ meldingen(first: 1) { nodes { id } } }"


def own_database(url: str, number: int) -> str:
    """The same server, another database: this module's rate-limit and circuit keys meet no other test's."""
    return re.sub(r"/\d+$", "", url) + f"/{number}"


def write_config(mapping: dict[str, Any], directory: Path) -> Path:
    path = directory / "gemeentegraaf.toml"
    path.write_bytes(tomli_w.dumps(mapping).encode())
    return path


def environment(demo: Municipal) -> dict[str, str]:
    env = {**os.environ, "GEMEENTEGRAAF_AUTH_ISSUER": str(demo.config["sources"]["issuer"]["url"])}
    env.pop("REDIS_URL", None)  # the file names the server
    return env


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus sample over every series whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match[1] for k, v in labels.items()):
            total += float(match[2])
    return total


# -- serve --workers 2 ------------------------------------------------------------------------------------------


class Workers:
    """``gemeentegraaf serve --workers 2`` on a port of its own; its log (text, with process ids) in a file."""

    def __init__(self, config: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.base, self.log = f"http://127.0.0.1:{port}", log
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [GEMEENTEGRAAF, "serve", "--config", str(config), "--port", str(port), "--workers", "2",
                 "--log-format", "text"], env=env, stdout=sink, stderr=sink,
            )

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if text in line]

    def wait_for(self, text: str, count: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while len(self.lines(text)) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log.read_text()[-3000:]}")
            assert time.monotonic() < deadline, f"not {count} x {text!r}: {self.log.read_text()[-3000:]}"
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def workers(
    demo: Municipal, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    port = free_port()
    mapping = gateway_mapping(demo.config, caching=True, notify=True)
    mapping["gateway"]["cache"] = {"backend": "redis", "url": own_database(redis_url, 7)}
    mapping["gateway"]["notifications"] = {**mapping["gateway"]["notifications"],
                                           "callback_url": f"http://127.0.0.1:{port}/_notificaties"}
    mapping["sources"]["bag"]["cache_ttl_s"] = 0  # every lookup goes to the BAG, none comes from the cache
    directory = tmp_path_factory.mktemp("workers")
    mapping["gateway"]["logboek"] = {"path": str(directory / "logboek.jsonl")}
    gateway = Workers(write_config(mapping, directory), environment(demo), port, directory / "gateway.log")
    nrc = demo.simulators["notificaties"]
    assert isinstance(nrc, NotificatiesSimulator)
    try:
        gateway.wait_for("Application startup complete", 2)  # uvicorn says so once per worker
        yield gateway
    finally:
        gateway.stop()
        for uuid, abonnement in list(nrc.abonnementen.items()):
            if abonnement.callback_url == f"{gateway.base}/_notificaties":
                nrc.abonnementen.pop(uuid, None)


def probes(metrics: str) -> frozenset[str]:
    """The probe operations a worker has served, from its ``/metrics``: two connections to the same worker see
    the same set."""
    return frozenset(re.findall(r'gemeentegraaf_operations_total\{operation="(probe\d+)"', metrics))


async def worker_of(client: httpx.AsyncClient) -> frozenset[str]:
    return probes((await client.get("/metrics")).text)


async def clients_on_both_workers(
    workers: Workers, headers: dict[str, str]
) -> dict[frozenset[str], list[httpx.AsyncClient]]:
    """Clients of one keep-alive connection each, grouped by the worker that accepted the connection; new ones
    until both workers have some (the kernel hands each new connection to either)."""
    made: list[httpx.AsyncClient] = []
    for number in range(40):
        client = httpx.AsyncClient(base_url=workers.base, headers=headers, timeout=60,
                                   limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        made.append(client)
        answer = (await client.post("/graphql", json={"query": f"query probe{number} {{ __typename }}"})).json()
        assert answer == {"data": {"__typename": "Query"}}, answer
        if len(made) >= 6:
            groups: dict[frozenset[str], list[httpx.AsyncClient]] = {}
            for each in made:
                groups.setdefault(await worker_of(each), []).append(each)
            if len(groups) == 2:
                return groups
    raise AssertionError("every connection went to the same worker")


def test_two_workers_together_keep_the_bags_rate_limit(workers: Workers, demo: Municipal) -> None:
    ids = sorted(demo.data.nummeraanduidingen)[10:10 + 3 * 2 * ALIASES]  # 180: 4 s at 45/s; the log keeps 200
    assert len(ids) == 3 * 2 * ALIASES, "the test municipality has too few addresses"
    documents = ["{ " + " ".join(f'a{i}: adres(nummeraanduidingIdentificatie: "{n}") {{ postcode }}'
                                 for i, n in enumerate(ids[start:start + ALIASES])) + " }"
                 for start in range(0, len(ids), ALIASES)]

    async def run() -> tuple[list[dict[str, Any]], list[str]]:
        by_worker = await clients_on_both_workers(workers, employee_headers(demo))
        groups = list(by_worker.values())
        try:
            for sim in {id(s): s for s in demo.simulators.values()}.values():
                sim.reset_counts()
            # half the documents through each worker, all at once
            senders = [groups[i % 2][(i // 2) % len(groups[i % 2])] for i in range(len(documents))]
            answers = await asyncio.gather(*(c.post("/graphql", json={"query": d}) for c, d in zip(senders, documents,
                                                                                                 strict=True)))
            scraped = [(await clients[0].get("/metrics")).text for clients in groups]
            assert [probes(text) for text in scraped] == list(by_worker)  # each still on the worker it was
            return [a.json() for a in answers], scraped
        finally:
            for clients in groups:
                for client in clients:
                    await client.aclose()

    answers, scraped = asyncio.run(run())
    for answer in answers:
        assert "errors" not in answer, answer["errors"][:3]
        assert all(a["postcode"] for a in answer["data"].values())
    bag = calls(demo, "bag")
    assert len(bag) == len(ids)  # each address once: nothing refused and asked again
    assert [c for c in bag if c["status"] == 429] == []  # the workers shared one limit through Redis
    served = [metric(text, "gemeentegraaf_source_calls_total", source="bag", status="200") for text in scraped]
    assert all(n > 0 for n in served), served  # both workers called the BAG
    assert sum(served) == len(ids)


def test_workers_starting_together_keep_one_notificaties_abonnement(workers: Workers, demo: Municipal) -> None:
    workers.wait_for("notifications: subscribed with", 2)  # each worker, in turn
    pids = {re.search(r"\[(\d+)\]", line)[1] for line in workers.lines("notifications: subscribed with")}  # type: ignore[index]
    assert len(pids) == 2
    nrc = demo.simulators["notificaties"]
    assert isinstance(nrc, NotificatiesSimulator)
    mine = [a for a in list(nrc.abonnementen.values()) if a.callback_url == f"{workers.base}/_notificaties"]
    assert len(mine) == 1


def test_workers_without_a_shared_cache_are_refused(demo: Municipal, tmp_path: Path) -> None:
    """Each worker would keep its own cache, rate limits, circuits and abonnement: refused, saying what to set."""
    mapping = gateway_mapping(demo.config)
    mapping["gateway"]["logboek"] = {"path": str(tmp_path / "logboek.jsonl")}
    done = subprocess.run([GEMEENTEGRAAF, "serve", "--config", str(write_config(mapping, tmp_path)), "--workers", "2",
                           "--port", str(free_port())], env=environment(demo), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert '--workers 2 needs [gateway.cache] backend = "redis"' in done.stderr


# -- two replicas, one circuit ----------------------------------------------------------------------------------

OPEN_S = 2.0
SYNC_S = 0.3


@pytest.fixture(scope="module")
def replicas(
    demo: Municipal, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Process, Process]]:
    mapping = gateway_mapping(demo.config)
    mapping["gateway"]["cache"] = {"backend": "redis", "url": own_database(redis_url, 8)}
    mapping["sources"]["signalen"].update({"breaker_failures": 3, "breaker_open_s": OPEN_S,
                                           "breaker_sync_s": SYNC_S, "retries": 0})
    directory = tmp_path_factory.mktemp("replicas")
    mapping["gateway"]["logboek"] = {"path": str(directory / "logboek.jsonl")}
    path = write_config(mapping, directory)
    pair = (Process(path, environment(demo)), Process(path, environment(demo)))
    try:
        for p in pair:
            p.wait_ready()
        yield pair
    finally:
        for p in pair:
            p.stop()


def ask(replica: Process, demo: Municipal, query: str = MELDINGEN) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.post(f"{replica.base}/graphql", json={"query": query},
                                        headers=employee_headers(demo), timeout=30).json()
    return answer


def breaker_open(replica: Process, source: str) -> float:
    return metric(httpx.get(f"{replica.base}/metrics", timeout=10).text, "gemeentegraaf_breaker_open", source=source)


def test_a_circuit_one_replica_opens_stops_the_other_replicas_calls_too(
    replicas: tuple[Process, Process], demo: Municipal
) -> None:
    a, b = replicas
    signalen = demo.simulators["signalen"]
    assert "errors" not in ask(a, demo) and "errors" not in ask(b, demo)
    signalen.behaviour.update({"error_rate": 1.0, "error_status": 500})
    signalen.reset_counts()

    for _ in range(3):
        failed = ask(a, demo)
        assert [e["extensions"]["code"] for e in failed["errors"]] == ["UPSTREAM_ERROR"]
    assert len(calls(demo, "signalen")) == 3  # the third failure in a row opens A's circuit
    paused = ask(a, demo)
    assert "paused" in paused["errors"][0]["message"]

    time.sleep(SYNC_S + 0.2)  # B reads the shared circuit at most once per breaker_sync_s
    refused = ask(b, demo)
    assert refused["data"] == {"meldingen": {"nodes": None}}
    [error] = refused["errors"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "signalen"}
    assert "paused" in error["message"]
    assert len(calls(demo, "signalen")) == 3  # B never called the source it had not seen fail
    assert breaker_open(b, "signalen") == 1.0

    signalen.behaviour.__init__()  # type: ignore[misc]
    time.sleep(OPEN_S + 0.2)
    assert "errors" not in ask(b, demo)  # B's probe finds the source back and closes the circuit for everyone
    assert "errors" not in ask(a, demo)  # A learns it from the store: no probe of its own, a call as usual
    assert "errors" not in ask(b, demo)
    assert len(calls(demo, "signalen")) == 6
    assert breaker_open(a, "signalen") == 0.0 and breaker_open(b, "signalen") == 0.0


# -- the shared breaker's own protocol, on a Redis of the test's own ----------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(_binary("the shared breaker test stops its Redis"), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Upstream:
    """A source that answers with ``status`` and counts its calls."""

    def __init__(self) -> None:
        self.status, self.calls = 500, 0

    async def __call__(self, call: SourceCall) -> SourceResponse:
        self.calls += 1
        return SourceResponse(self.status, {}, b"{}", "s")


async def outcome(breaker: SharedCircuitBreaker, upstream: Upstream) -> int | str:
    try:
        return (await breaker(SourceCall("s", "GET", "http://s/x"), upstream)).status
    except CircuitOpen:
        return "open"


async def test_one_probe_for_all_replicas_and_its_success_closes_every_circuit(own_redis: RedisServer) -> None:
    stores = [RedisStore(own_redis.url), RedisStore(own_redis.url)]
    first, second = (SharedCircuitBreaker(store, "s", failures=2, open_s=0.3, probe_s=5, sync_s=0)
                     for store in stores)
    upstream = Upstream()
    try:
        assert [await outcome(first, upstream) for _ in range(3)] == [500, 500, "open"]
        assert await outcome(second, upstream) == "open"  # never failed itself, yet calls nothing
        assert upstream.calls == 2
        await asyncio.sleep(0.4)

        upstream.status = 200
        out, release = asyncio.Event(), asyncio.Event()

        async def slow(call: SourceCall) -> SourceResponse:
            out.set()
            await release.wait()
            return await upstream(call)

        probe = asyncio.create_task(second(SourceCall("s", "GET", "http://s/x"), slow))
        await out.wait()
        assert await outcome(first, upstream) == "open"  # only one replica probes at a time
        release.set()
        assert (await probe).status == 200
        assert await outcome(second, upstream) == 200
        assert upstream.calls == 2 + 2
        assert await outcome(first, upstream) == 200  # closed by the other's probe: a plain call, not a probe
        assert first.closed and second.closed
        assert upstream.calls == 5
    finally:
        for store in stores:
            await store.aclose()


async def test_a_closed_circuit_asks_redis_once_per_sync_interval_not_per_call(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url)
    breaker = SharedCircuitBreaker(store, "s", failures=3, open_s=60, probe_s=5, sync_s=60)
    upstream = Upstream()
    upstream.status = 200
    server = sync_redis.Redis.from_url(own_redis.url)
    try:
        server.config_resetstat()
        assert {await outcome(breaker, upstream) for _ in range(50)} == {200}
        assert server.info("commandstats")["cmdstat_eval"]["calls"] == 1  # the first call read the shared state
        upstream.status = 500
        assert [await outcome(breaker, upstream) for _ in range(4)] == [500, 500, 500, "open"]
        assert server.info("commandstats")["cmdstat_eval"]["calls"] == 2  # and opening the circuit wrote it
    finally:
        server.close()
        await store.aclose()


async def test_without_redis_each_replica_is_its_own_breaker(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url, retry_s=0.05)
    breaker = SharedCircuitBreaker(store, "s", failures=2, open_s=0.2, probe_s=5, sync_s=0)
    upstream = Upstream()
    try:
        assert await outcome(breaker, upstream) == 500
        own_redis.stop()
        assert [await outcome(breaker, upstream) for _ in range(2)] == [500, "open"]
        assert not store.healthy and not breaker.closed
        await asyncio.sleep(0.3)
        upstream.status = 200
        assert [await outcome(breaker, upstream) for _ in range(2)] == [200, 200]  # its own probe closed it
        assert breaker.closed and upstream.calls == 4
    finally:
        await store.aclose()
