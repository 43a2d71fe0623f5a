"""What every simulated source shares: the control plane, request counting and injected behaviour.

A simulator is one Starlette app on its own port, like a separate host. Subclasses give their routes
and their API's error body; this base adds, outside the API's own routes:

- ``GET|DELETE /_demo/requests``: counters per ``"<METHOD> <route template>"`` and the last 200
  requests, for tests that assert how the gateway called the source;
- ``GET|PUT /_demo/behaviour``: latency, jitter, injected errors, hangs and malformed bodies;
- ``{base}/openapi.json``: the operations this simulator implements, unauthenticated.

The control plane is never authenticated, never counted and never slowed down.
"""

from __future__ import annotations

import asyncio
import collections
import random
import tomllib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.model import Municipality

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONFIG_FILE = Path(__file__).with_name("gemeentegraaf.toml")
RECENT = 200
HANG_S = 300.0  # a "hang" ends by itself eventually, so a forgotten test never blocks for ever


def load_config(path: Path = CONFIG_FILE) -> dict[str, Any]:
    """The demo's one checked-in configuration: source URLs and the credentials they accept."""
    with path.open("rb") as f:
        return tomllib.load(f)


def json_response(
    body: Any, status: int = 200, media_type: str = "application/json", headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=dict(headers or {}))


@dataclass(slots=True)
class Behaviour:
    """How the API's own routes answer; changed at run time through ``PUT /_demo/behaviour``."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    hang: bool = False
    malformed: bool = False
    expand_cost_ms: float = 0.0  # per object a source inlines through ``expand`` (Open Zaak: Catalogi types are dear)

    def update(self, changes: Mapping[str, Any]) -> list[str]:
        """Apply what is valid; return one message per rejected key."""
        errors: list[str] = []
        types = {f.name: f.type for f in fields(self)}
        staged: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in types:
                errors.append(f"unknown key {key!r}")
            elif types[key] == "bool":
                if not isinstance(value, bool):
                    errors.append(f"{key} must be a boolean")
                else:
                    staged[key] = value
            elif types[key] == "int":
                if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
                    errors.append(f"{key} must be an HTTP status code")
                else:
                    staged[key] = value
            elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                errors.append(f"{key} must be a non-negative number")
            elif key == "error_rate" and value > 1:
                errors.append("error_rate must be between 0 and 1")
            else:
                staged[key] = float(value)
        if not errors:
            for key, value in staged.items():
                setattr(self, key, value)
        return errors


class Simulator:
    """Base of one simulated source API.

    Subclasses set ``name``, ``title``, ``api_version``, ``base_path`` and ``default_port``, implement
    ``routes()`` and, where the API's errors look different, ``error_body()``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    api_version: ClassVar[str]
    base_path: ClassVar[str]
    default_port: ClassVar[int]
    version_header: ClassVar[str] = "API-version"
    error_media_type: ClassVar[str] = "application/problem+json"

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        """``config`` is the demo configuration; ``urls`` maps each source name to its base URL."""
        self.data = data
        self.config = config
        self.urls = dict(urls)
        self.behaviour = Behaviour()
        self.counts: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT)
        self.inflight = 0
        self.max_inflight = 0  # most API requests served at once since the last reset: shows fan-out and its bound
        self._rng = random.Random(data.seed)
        self._app: Starlette | None = None

    # -- for subclasses ------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        raise NotImplementedError

    def source_config(self, source: str | None = None) -> Mapping[str, Any]:
        """The ``[sources.<name>]`` table of the demo configuration."""
        sources: Mapping[str, Mapping[str, Any]] = self.config.get("sources", {})
        return sources.get(source or self.name, {})

    @property
    def base_url(self) -> str:
        return self.urls[self.name]

    def url(self, path: str, source: str | None = None) -> str:
        """Absolute URL of ``path`` below a source's base URL (this one by default)."""
        return self.urls[source or self.name] + path

    def error_body(self, request: Request, status: int, title: str, detail: str, code: str) -> Any:
        """The body this API answers errors with; problem+json in the NL API Design Rules style."""
        return {
            "type": f"https://httpstatuses.org/{status}",
            "code": code,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": str(request.url.path),
        }

    def error(
        self, request: Request, status: int, title: str, detail: str = "", code: str = "error",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        return json_response(
            self.error_body(request, status, title, detail or title, code), status, self.error_media_type, headers
        )

    # -- the app -------------------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = self._build()
        return self._app

    def _build(self) -> Starlette:
        control: list[BaseRoute] = [
            Route("/_demo/requests", self._requests, methods=["GET", "DELETE"]),
            Route("/_demo/behaviour", self._behaviour, methods=["GET", "PUT"]),
            Route(self.base_path + "/openapi.json", self._openapi, methods=["GET"]),
        ]
        app = Starlette(
            routes=[*control, *self.routes()],
            exception_handlers={HTTPException: self._http_exception, Exception: self._crash},
        )
        app.router.redirect_slashes = False  # NL API rule: a trailing slash is a 404, not a redirect
        return _ControlledApp(app, self)  # type: ignore[return-value]

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {404: "Niet gevonden.", 405: "Methode niet toegestaan."}
        codes = {404: "not_found", 405: "method_not_allowed"}
        return self.error(
            request, exc.status_code, titles.get(exc.status_code, "Fout."), str(exc.detail),
            codes.get(exc.status_code, "error"),
        )

    async def _crash(self, request: Request, exc: Exception) -> Response:
        return self.error(request, 500, "Er is een serverfout opgetreden.", "Interne serverfout.", "error")

    async def _requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.reset_counts()
            return Response(status_code=204)
        return json_response({"total": sum(self.counts.values()), "routes": dict(self.counts),
                              "max_inflight": self.max_inflight, "recent": list(self.recent)})

    def reset_counts(self) -> None:
        self.counts.clear()
        self.recent.clear()
        self.max_inflight = self.inflight

    async def _behaviour(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                changes = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return json_response({"detail": "body is not JSON"}, 400)
            if not isinstance(changes, dict):
                return json_response({"detail": "body must be a JSON object"}, 400)
            errors = self.behaviour.update(changes)
            if errors:
                return json_response({"detail": "; ".join(errors)}, 400)
        return json_response(asdict(self.behaviour))

    async def _openapi(self, request: Request) -> Response:
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes():
            if isinstance(route, Route) and route.path.startswith(self.base_path):
                ops = paths.setdefault(route.path[len(self.base_path):] or "/", {})
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    ops[method.lower()] = {
                        "operationId": f"{method.lower()}_{route.name}",
                        "summary": (route.endpoint.__doc__ or route.name).strip().splitlines()[0],
                        "responses": {"200": {"description": "OK"}},
                    }
        doc = {
            "openapi": "3.0.3",
            "info": {"title": f"{self.title} (Gemeentegraaf demo)", "version": self.api_version},
            "servers": [{"url": self.base_url}],
            "paths": paths,
        }
        return json_response(doc, headers={"Access-Control-Allow-Origin": "*"})


class _ControlledApp:
    """ASGI wrapper: counts and records API requests and applies the injected behaviour."""

    def __init__(self, app: Starlette, sim: Simulator) -> None:
        self.inner = app
        self.sim = sim
        self.router = app.router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_demo/"):
            await self.inner(scope, receive, send)
            return
        sim, behaviour = self.sim, self.sim.behaviour
        chunks: list[bytes] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        recorded: list[bool] = []

        def record(status: int) -> None:
            if not recorded:
                recorded.append(True)
                self._record(scope, b"".join(chunks), status)

        async def versioned_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                # counted before the answer leaves, so a client that reads counts right after sees this call
                record(message["status"])
                headers = list(message.get("headers", []))
                if not any(k.lower() == sim.version_header.lower().encode() for k, _ in headers):
                    headers.append((sim.version_header.encode(), sim.api_version.encode()))
                message["headers"] = headers
            await send(message)

        sim.inflight += 1
        sim.max_inflight = max(sim.max_inflight, sim.inflight)
        try:
            if behaviour.latency_ms or behaviour.jitter_ms:
                delay = behaviour.latency_ms + sim._rng.uniform(0, behaviour.jitter_ms)
                await asyncio.sleep(delay / 1000)
            if behaviour.hang:
                await asyncio.sleep(HANG_S)
            injected = behaviour.error_rate and sim._rng.random() < behaviour.error_rate
            if injected:
                request = Request(scope, recording_receive)
                await request.body()
                response = sim.error(request, behaviour.error_status, "Injected failure.",
                                     "The demo was told to fail this request.", "injected")
                await response(scope, receive, versioned_send)
            elif behaviour.malformed:
                await versioned_send({"type": "http.response.start", "status": 200,
                                      "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"count": 3, "results": [{"url": '})
            else:
                await self.inner(scope, recording_receive, versioned_send)
        finally:
            sim.inflight -= 1
            record(0)  # no answer was started (a hang cut short, a crash): still count the request

    def _record(self, scope: Scope, body: bytes, status: int) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        self.sim.counts[f"{scope['method']} {template}"] += 1
        parsed: Any = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                parsed = body[:2000].decode("utf-8", "replace")
        self.sim.recent.append({
            "method": scope["method"],
            "path": scope["path"],
            "route": template,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])},
            "body": parsed,
            "status": status,
        })
