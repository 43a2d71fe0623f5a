"""The demo sources for the benchmark, in a process of their own (so their CPU never slows the measured client):

    python -m bench.sources --scale 1 --seed 1 --ready-file /tmp/x.json

Every simulator is served on a free loopback port behind ``Recorder``, which notes when each API request
started and ended and how many bytes it answered; ``GET|DELETE /_bench/calls`` on any of the hosts reads or
clears that log. When all hosts listen, the source URLs are written to ``--ready-file`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from demo.generate import generate
from demo.runner import build, port_of, unique_simulators
from demo.simulator import Receive, Scope, Send

Message = MutableMapping[str, Any]
CALLS = "/_bench/calls"


class Recorder:
    """ASGI wrapper of one simulator: logs ``[start, end, bytes, "METHOD /path"]`` of every API request
    (perf_counter seconds; the path without its query string)."""

    def __init__(self, app: Any, log: list[list[Any]]) -> None:
        self.app, self.log = app, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CALLS:
            if scope["method"] == "DELETE":
                self.log.clear()
            await _json(send, self.log)
            return
        if scope["type"] != "http" or scope["path"].startswith("/_demo/"):
            await self.app(scope, receive, send)
            return
        call: list[Any] = [time.perf_counter(), 0.0, 0, f"{scope['method']} {scope['path']}"]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                call[2] += len(message.get("body", b""))
                if not message.get("more_body"):  # logged before the last byte leaves: never read too early
                    call[1] = time.perf_counter()
                    self.log.append(call)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not call[1]:
                call[1] = time.perf_counter()
                self.log.append(call)


async def _json(send: Send, body: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


async def serve(scale: float, seed: int, ready_file: Path) -> None:
    data = generate(seed=seed, scale=scale)
    gc.freeze()  # the municipality lives as long as the process: keep the collector from rescanning it
    world = build(data, ephemeral_ports=True)
    log: list[list[Any]] = []
    servers = [
        uvicorn.Server(uvicorn.Config(Recorder(sim.app, log), host="127.0.0.1", port=port_of(world.urls[sim.name]),
                                      log_level="warning", lifespan="off", access_log=False))
        for sim in unique_simulators(world)
    ]
    running = asyncio.gather(*(server.serve() for server in servers))
    while not all(server.started for server in servers):
        if running.done():
            break
        await asyncio.sleep(0.05)
    else:
        partial = ready_file.with_suffix(".partial")
        partial.write_bytes(orjson.dumps({"urls": world.urls, "pid": os.getpid()}))
        partial.replace(ready_file)
    await running


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sources")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.scale, args.seed, args.ready_file))


if __name__ == "__main__":
    main()
