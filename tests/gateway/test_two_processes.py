"""Two real gateway processes (``gemeentegraaf serve``) on one Redis: what one fetched, the other does not fetch
again (Zaken, Catalogi), and together they stay under the BAG's rate limit (the BAG simulator answers 429
beyond 50 calls in any second, per key, as the real BAG does)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tomli_w

from demo.runner import Municipal, free_port
from tests.conftest import employee_headers, gateway_mapping

ALIASES = 30  # the gateway's alias limit per document


class Process:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gemeentegraaf"), "serve", "--config", str(config),
             "--port", str(self.port), "--log-format", "text"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("gateway did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def two(demo: Municipal, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Process, Process]]:
    mapping = gateway_mapping(demo.config, caching=True)
    mapping["gateway"]["cache"] = {"backend": "redis", "url": redis_url}
    # BAG answers are not kept here, so the rate-limit test finds none of its addresses in a Redis that other
    # tests (or an earlier run on the same REDIS_URL) filled; the shared cache is shown with Zaken and Catalogi
    mapping["sources"]["bag"]["cache_ttl_s"] = 0
    mapping["gateway"]["logboek"] = {"path": str(tmp_path_factory.mktemp("logboek") / "logboek.jsonl")}
    path = tmp_path_factory.mktemp("config") / "gemeentegraaf.toml"
    path.write_bytes(tomli_w.dumps(mapping).encode())
    env = {**os.environ, "GEMEENTEGRAAF_AUTH_ISSUER": str(demo.config["sources"]["issuer"]["url"])}
    env.pop("REDIS_URL", None)  # the file names the server
    processes = (Process(path, env), Process(path, env))
    try:
        for p in processes:
            p.wait_ready()
        yield processes
    finally:
        for p in processes:
            p.stop()


def calls(demo: Municipal, source: str) -> list[dict[str, object]]:
    sim = demo.simulators[source]
    base = demo.urls[source].split("/", 3)[3] if demo.urls[source].count("/") >= 3 else ""
    return [r for r in sim.recent if str(r["path"]).lstrip("/").startswith(base)]


def test_the_second_process_is_served_from_the_first_ones_cache(two: tuple[Process, Process], demo: Municipal) -> None:
    first, second = two
    nummeraanduiding = sorted(demo.data.nummeraanduidingen)[3]
    query = (f'{{ zaken(first: 3) {{ nodes {{ identificatie zaaktype {{ omschrijving }} }} }} '
             f'adres(nummeraanduidingIdentificatie: "{nummeraanduiding}") {{ postcode huisnummer }} }}')
    headers = employee_headers(demo)
    answer = httpx.post(f"{first.base}/graphql", json={"query": query}, headers=headers, timeout=30).json()
    assert "errors" not in answer, answer
    bag = demo.config["sources"]["bag"]
    rest = httpx.get(f"{bag['url']}/adressen/{nummeraanduiding}", headers={"X-Api-Key": bag["key"]}, timeout=10)
    assert answer["data"]["adres"]["postcode"] == rest.json()["postcode"]  # as the BAG itself answers
    for sim in {id(s): s for s in demo.simulators.values()}.values():
        sim.reset_counts()
    again = httpx.post(f"{second.base}/graphql", json={"query": query}, headers=headers, timeout=30).json()
    assert again == answer
    assert [c for c in calls(demo, "zaken") if "openapi" not in str(c["path"])] == []  # the Zaken page, shared
    assert calls(demo, "catalogi") == []
    assert len(calls(demo, "bag")) == 1  # not kept in this configuration: asked again


def test_together_they_stay_under_the_bags_limit(two: tuple[Process, Process], demo: Municipal) -> None:
    ids = sorted(demo.data.nummeraanduidingen)[10:10 + 3 * 2 * ALIASES]  # 180: 4 s at 45/s; the log keeps 200
    assert len(ids) == 3 * 2 * ALIASES, "the test municipality has too few addresses"
    documents = []
    for start in range(0, len(ids), ALIASES):
        fields = " ".join(f'a{i}: adres(nummeraanduidingIdentificatie: "{n}") {{ postcode }}'
                          for i, n in enumerate(ids[start:start + ALIASES]))
        documents.append("{ " + fields + " }")
    headers = employee_headers(demo)
    for sim in {id(s): s for s in demo.simulators.values()}.values():
        sim.reset_counts()

    async def run() -> list[dict[str, object]]:
        async with httpx.AsyncClient(timeout=60, headers=headers) as client:
            asks = [client.post(f"{two[i % 2].base}/graphql", json={"query": doc}) for i, doc in enumerate(documents)]
            return [r.json() for r in await asyncio.gather(*asks)]

    answers = asyncio.run(run())
    for answer in answers:
        assert "errors" not in answer, answer["errors"][:3]  # type: ignore[index]
    bag = calls(demo, "bag")
    assert len(bag) == len(ids)  # each address once: no refusal was retried, none came from the cache
    assert [c for c in bag if c["status"] == 429] == []  # the two processes shared one limit through Redis
