"""One HTTP request's limits: a body size, answered 413 before anything is parsed, and an end to its work.

The body is read here, counting bytes as they stream in (a missing or false ``Content-Length`` does not
help a client), and handed on in one piece. Reading it here also leaves this middleware the only reader of
``receive``, so it alone watches for the client leaving: then, or at the request's hard deadline, the
GraphQL execution task is cancelled, and with it every source call still in flight (httpx requests are
cancellable). The soft deadline is ``graph.budget``'s: calls after it are refused field by field.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.budget import STARTED
from graph.limits import Limits

BODY = "gemeentegraaf.body"  # the request body, read here, in the ASGI scope for whoever needs it before the view
GRACE_S = 2.0  # after the deadline the budget stage has refused calls; the answer gets this long to be sent


def _error(status: int, code: str, message: str) -> tuple[Message, Message]:
    body = orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestLimits:
    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.max_body = limits.max_body_bytes
        self.hard_deadline_s = limits.deadline_s + GRACE_S

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[STARTED] = time.monotonic()
        body = await self._body(scope, receive, send)
        if body is None:
            return
        scope[BODY] = body
        await self._run(scope, body, receive, send)

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None when it was refused (413) or the client left while sending it."""
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(send)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        for message in _error(413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {self.max_body} bytes."):
            await send(message)

    async def _run(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()
        handed: list[bool] = []
        started: list[bool] = []

        async def replay() -> Message:
            if not handed:
                handed.append(True)
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.append(True)
            await send(message)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        app: asyncio.Task[Any] = asyncio.ensure_future(self.app(scope, replay, tracked))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({app, watcher}, timeout=self.hard_deadline_s, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server ended this request (shutdown, or its own client gone)
            app.cancel()
            raise
        finally:
            watcher.cancel()
        if app.done():
            app.result()  # re-raise what the app raised
            return
        app.cancel()  # the client left, or the deadline passed: stop the work, and every source call with it
        await asyncio.gather(app, return_exceptions=True)
        if not gone.is_set() and not started:
            for message in _error(504, "DEADLINE_EXCEEDED", "The request took longer than its deadline."):
                await send(message)
