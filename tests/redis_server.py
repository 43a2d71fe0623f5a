"""A ``redis-server`` of the tests' own, for tests that need a real Redis (``redis_url`` in tests/conftest.py:
``REDIS_URL`` when it answers, else one of these; without the binary those tests skip, saying why)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis as sync_redis


class RedisServer:
    """One ``redis-server`` child process on a fixed loopback port: no persistence, stoppable, restartable."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(200):  # up to ~10 s on a loaded machine
            if _answers(self.url):
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not come up on port {self.port}")

    def stop(self) -> None:
        """Kill it, as a crash would: its connections are gone and its port refuses."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case a test froze it
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Still listening, but answering nothing: a Redis that is very slow."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


def _answers(url: str) -> bool:
    client = sync_redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (sync_redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _binary(why: str) -> str:
    found = shutil.which("redis-server")
    if found is None:
        pytest.skip(f"redis-server is not installed: {why}")
    return found
