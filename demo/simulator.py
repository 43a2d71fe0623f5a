"""What every simulated source shares: the control plane, request counting and injected behaviour.

A simulator is one Starlette app on its own port, like a separate host. Subclasses give their routes
and their API's error body; this base adds, outside the API's own routes:

- ``GET|DELETE /_demo/requests``: counters per ``"<METHOD> <route template>"``, the last 200 requests and
  the last 200 requests that broke the official document (``violations``, ``violation_count``), for
  tests that assert how the gateway called the source;
- ``GET|PUT /_demo/behaviour``: the faults to show the gateway (``Behaviour``): down, slow, errors with or
  without ``Retry-After``, malformed bodies, hangs and trickled bodies;
- ``{base}/openapi.json``: the official document this simulator is checked against, when the shared
  specs are here; else the operations it implements. Unauthenticated.

Every other request is checked against the official document(s) of the API (``demo.conformance``
explains how, and how a violation is answered); a simulator names them in ``official_specs`` or
``specs()``. The control plane is never authenticated, never counted, never checked and never slowed down.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
import tomllib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo import conformance
from demo.conformance import Checker, Outcome, Specs, Violation
from demo.model import Municipality

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CONFIG_FILE = Path(__file__).with_name("gemeentegraaf.toml")
RECENT = 200
HANG_S = 300.0  # a "hang" ends when the client leaves, else after this, so a forgotten test never blocks for ever
OPENAPI = "/openapi.json"
# Called with every violation any simulator in this process records, resets or not (the tests' session check).
VIOLATION_OBSERVERS: list[Callable[[Simulator, dict[str, Any]], None]] = []


def load_config(path: Path = CONFIG_FILE) -> dict[str, Any]:
    """The demo's one checked-in configuration: source URLs and the credentials they accept."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    raw.setdefault("gateway", {}).setdefault("config_dir", str(path.resolve().parent))  # for relative paths in it
    return raw


def json_response(
    body: Any, status: int = 200, media_type: str = "application/json", headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=dict(headers or {}))


@dataclass(slots=True)
class Behaviour:
    """How the API's own routes answer; changed at run time through ``PUT /_demo/behaviour``.

    Each fault a source can show the gateway: ``down`` (the connection is closed without an answer),
    ``latency_ms``/``jitter_ms`` (slow), ``error_rate`` with ``error_status`` (a 500, a 503, a 429, with
    ``retry_after_s`` as ``Retry-After``), ``malformed`` (a 200 whose body breaks off), ``hang`` (no answer
    until the client leaves) and ``trickle_ms`` (headers at once, then the body ``trickle_bytes`` at a time
    with that pause between pieces).
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    retry_after_s: int | None = None
    down: bool = False
    hang: bool = False
    malformed: bool = False
    trickle_ms: float = 0.0
    trickle_bytes: int = 16
    expand_cost_ms: float = 0.0  # per object a source inlines through ``expand`` (Open Zaak: Catalogi types are dear)

    def update(self, changes: Mapping[str, Any]) -> list[str]:
        """Apply what is valid, all or nothing; return one message per rejected key."""
        errors: list[str] = []
        staged: dict[str, Any] = {}
        for key, value in changes.items():
            check = _CHECKS.get(key, _number) if key in self.__dataclass_fields__ else None
            if check is None:
                errors.append(f"unknown key {key!r}")
                continue
            try:
                staged[key] = check(key, value)
            except ValueError as exc:
                errors.append(str(exc))
        if not errors:
            for key, value in staged.items():
                setattr(self, key, value)
        return errors


def _number(key: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return float(value)


def _rate(key: str, value: Any) -> float:
    if _number(key, value) > 1:
        raise ValueError(f"{key} must be between 0 and 1")
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be a boolean")
    return value


def _status(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise ValueError(f"{key} must be an HTTP status code")
    return value


def _seconds_or_none(key: str, value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValueError(f"{key} must be a whole number of seconds, or null")
    return value


def _piece(key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65536:
        raise ValueError(f"{key} must be a whole number of bytes from 1 to 65536")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {  # keys not listed are non-negative numbers
    "error_rate": _rate, "error_status": _status, "retry_after_s": _seconds_or_none, "trickle_bytes": _piece,
    "down": _flag, "hang": _flag, "malformed": _flag,
}


class Simulator:
    """Base of one simulated source API.

    Subclasses set ``name``, ``title``, ``api_version``, ``base_path`` and ``default_port``, implement
    ``routes()`` and, where the API's errors look different, ``error_body()``. For the request check they
    set ``official_specs`` (or override ``specs()``) and, where the API words a 400 its own way,
    ``conformance_error()``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    api_version: ClassVar[str]
    base_path: ClassVar[str]
    default_port: ClassVar[int]
    version_header: ClassVar[str] = "API-version"
    error_media_type: ClassVar[str] = "application/problem+json"
    official_specs: ClassVar[Specs] = {}  # {path prefix: documents whose ``paths`` are relative to it}
    spec_slash_optional: ClassVar[bool] = False  # the product routes ``/x`` and ``/x/`` alike (Django's ``/?``)
    invalid_params_key: ClassVar[str] = "invalidParams"

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
        self.violations: collections.deque[dict[str, Any]] = collections.deque(maxlen=RECENT)
        self.violation_count = 0  # since the last reset; the deque keeps only the last RECENT
        self._rng = random.Random(data.seed)
        self._app: Starlette | None = None
        self._checked: tuple[Mapping[str, Sequence[str]], Checker | None] | None = None
        self._openapi_body: bytes | None = None

    # -- for subclasses ------------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        raise NotImplementedError

    def source_config(self, source: str | None = None) -> Mapping[str, Any]:
        """The ``[sources.<name>]`` table of the demo configuration."""
        sources: Mapping[str, Mapping[str, Any]] = self.config.get("sources", {})
        return sources.get(source or self.name, {})

    @property
    def banner(self) -> str:
        """What ``gemeentegraaf sources`` prints for this host."""
        return self.title

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

    # -- the request check (demo.conformance) ------------------------------------------------------------

    def specs(self) -> Mapping[str, Sequence[str]]:
        """Which official documents cover which path prefix; override to choose per instance (a profile)."""
        return self.official_specs

    def product_accepts(self, violation: Violation) -> bool:
        """True where the real product is known to accept what its document forbids, and the handler copies
        that on purpose: the violation is recorded, the handler's answer stands. By default only an empty
        query value, which DRF, django-filter and the Haal Centraal APIs all treat as not given."""
        return violation.code == "emptyValue"

    async def conformance_error(self, request: Request, violations: Sequence[Violation]) -> Response:
        """What the product answers a request its document forbids: by default vng-api-common's 400
        (``invalidParams`` with DRF codes), and this simulator's own 404/405/415."""
        status = conformance.answer_status(violations)
        if status in (404, 405):
            return await self._http_exception(request, HTTPException(status))
        if status == 415:
            media = request.headers.get("content-type", "")
            title = f'Ongeldige media type "{media}" in aanvraag.'
            return self.error(request, 415, title, title, "unsupported_media_type")
        response = self.error(request, 400, "Ongeldige invoer.", "", "invalid")
        body = orjson.loads(response.body)
        if isinstance(body, dict):
            body[self.invalid_params_key] = [{"name": v.dotted or "nonFieldErrors", "code": conformance.drf_code(v),
                                              "reason": v.reason} for v in violations]
        kept = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return json_response(body, 400, response.media_type or self.error_media_type, kept)

    def conformance(self) -> Checker | None:
        """The checker of this simulator's documents; None when checking is off."""
        specs = self.specs()
        if self._checked is None or self._checked[0] is not specs:
            self._checked = (specs, conformance.checker(specs, self.spec_slash_optional))
        return self._checked[1]

    def check_request(self, scope: Scope, body: bytes) -> Outcome | None:
        """The operation and the violations of one API request; None when no document covers it."""
        checker = self.conformance()
        path: str = scope["path"]
        if checker is None or (path.endswith(OPENAPI) and path[:-len(OPENAPI)] in {self.base_path, *self.specs()}):
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        return checker.check(conformance.Incoming(scope["method"], path, scope.get("query_string", b"").decode(
            "latin-1"), headers, body))

    def served_spec(self) -> tuple[str, str] | None:
        """(prefix, document) served at ``{base}/openapi.json``: the first one listed whose prefix covers the base."""
        for prefix, names in self.specs().items():
            if self.base_path == prefix or self.base_path.startswith(prefix.rstrip("/") + "/"):
                for name in names:
                    if name.endswith((".yaml", ".yml", ".json")):
                        return prefix.rstrip("/"), name
        return None

    # -- the app -------------------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = self._build()
        return self._app

    def _build(self) -> Starlette:
        self.conformance()  # parse the documents now, not while the first request waits
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
                              "max_inflight": self.max_inflight, "recent": list(self.recent),
                              "violation_count": self.violation_count, "violations": list(self.violations)})

    def reset_counts(self) -> None:
        self.counts.clear()
        self.recent.clear()
        self.violations.clear()
        self.violation_count = 0
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
        """The official document (servers pointing here), else the operations this simulator implements."""
        if self._openapi_body is None:
            served = self.served_spec()
            official = conformance.official_document(served[1]) if served else None
            if served and official is not None:
                origin = self.base_url[:len(self.base_url) - len(self.base_path)]
                self._openapi_body = orjson.dumps({**official, "servers": [{"url": origin + served[0]}]},
                                                  option=orjson.OPT_NON_STR_KEYS)
        if self._openapi_body is not None:
            return Response(self._openapi_body, media_type="application/json",
                            headers={"Access-Control-Allow-Origin": "*"})
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
        arrived = time.monotonic()  # with ``answered`` in the log, tests see which calls waited for which
        body = await _read_body(receive)
        replayed: list[bool] = []
        gone = asyncio.Event()  # the client left (or the answer is complete): a hang or a trickle ends

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())

        async def replay() -> Message:
            """The body read above, then the disconnect the watcher sees."""
            if not replayed:
                replayed.append(True)
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        if behaviour.trickle_ms:
            send = _trickled(send, behaviour.trickle_ms / 1000, behaviour.trickle_bytes, gone)

        outcome = sim.check_request(scope, body)
        refusing = tuple(v for v in outcome.violations if not sim.product_accepts(v)) if outcome else ()
        recorded: list[bool] = []

        def record(status: int, answered: str) -> None:
            if not recorded:
                recorded.append(True)
                self._record(scope, body, status, outcome, answered, arrived)

        async def versioned_send(message: Message, answered: str = "handler") -> None:
            if message["type"] == "http.response.start":
                # counted before the answer leaves, so a client that reads counts right after sees this call
                record(message["status"], answered)
                headers = list(message.get("headers", []))
                if not any(k.lower() == sim.version_header.lower().encode() for k, _ in headers):
                    headers.append((sim.version_header.encode(), sim.api_version.encode()))
                message["headers"] = headers
            await send(message)

        async def conformance_send(message: Message) -> None:
            await versioned_send(message, "conformance")

        async def injected_send(message: Message) -> None:
            await versioned_send(message, "injected")

        replaced: list[bool] = []

        async def checked_send(message: Message) -> None:
            """The handler's answer, unless it accepts what the document forbids: then the API's refusal."""
            if message["type"] == "http.response.start" and refusing and message["status"] < 400:
                replaced.append(True)
                refusal = await sim.conformance_error(Request(scope, replay), refusing)
                await refusal(scope, replay, conformance_send)
            elif not replaced:
                await versioned_send(message)

        sim.inflight += 1
        sim.max_inflight = max(sim.max_inflight, sim.inflight)
        try:
            if behaviour.latency_ms or behaviour.jitter_ms:
                delay = behaviour.latency_ms + sim._rng.uniform(0, behaviour.jitter_ms)
                await asyncio.sleep(delay / 1000)
            if behaviour.down or behaviour.hang:
                record(0, "none")  # counted as it arrives: no answer will ever say it was here
            if behaviour.down:
                _drop_connection(receive)
                await _until(gone, 5.0)  # the server sees the disconnect, so it answers nothing of its own
                return
            if behaviour.hang:
                await _until(gone, HANG_S)
                if gone.is_set():
                    return
            injected = behaviour.error_rate and sim._rng.random() < behaviour.error_rate
            if injected:
                request = Request(scope, replay)
                retry_after = behaviour.retry_after_s
                response = sim.error(request, behaviour.error_status, "Injected failure.",
                                     "The demo was told to fail this request.", "injected",
                                     {"Retry-After": str(retry_after)} if retry_after is not None else None)
                await response(scope, replay, injected_send)
            elif behaviour.malformed:
                await injected_send({"type": "http.response.start", "status": 200,
                                     "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": b'{"count": 3, "results": [{"url": '})
            else:
                await self.inner(scope, replay, checked_send)
        finally:
            watcher.cancel()
            sim.inflight -= 1
            record(0, "none")  # no answer was started (a crash, a client that left): still count the request

    def _record(
        self, scope: Scope, body: bytes, status: int, outcome: Outcome | None, answered: str, arrived: float
    ) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "(unmatched)"
        self.sim.counts[f"{scope['method']} {template}"] += 1
        if outcome is not None and outcome.violations:
            self._record_violation(scope, template, status, outcome, answered)
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
            "arrived": arrived,  # time.monotonic() (one clock for every simulator on the host)
            "answered": time.monotonic(),
        })

    def _record_violation(self, scope: Scope, template: str, status: int, outcome: Outcome, answered: str) -> None:
        """What was wrong and who asked; never the body (it can hold a BSN)."""
        user_agent = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"user-agent"), "")
        sim = self.sim
        entry = {
            "source": sim.name, "method": scope["method"], "path": scope["path"], "route": template,
            "operation": outcome.operation,
            "user_agent": user_agent, "status": status, "answered": answered,
            "messages": [v.message + (" (the product accepts this)" if sim.product_accepts(v) else "")
                         for v in outcome.violations],
        }
        sim.violations.append(entry)
        sim.violation_count += 1
        for observer in VIOLATION_OBSERVERS:
            observer(sim, entry)


async def _until(event: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout_s)


def _trickled(send: Send, pause_s: float, piece: int, gone: asyncio.Event) -> Send:
    """``send`` with each body cut in pieces of ``piece`` bytes and a pause before every piece after the
    first: the headers leave at once, and every read the client makes is answered well within its timeout.
    Stops when the client has left."""

    async def trickle(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        content: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        for start in range(0, len(content), piece):
            if start:
                await _until(gone, pause_s)
            if gone.is_set():
                return
            last = start + piece >= len(content)
            await send({"type": "http.response.body", "body": content[start:start + piece],
                        "more_body": more or not last})
        if not content:
            await send(message)

    return trickle


def _drop_connection(receive: Receive) -> None:
    """Closes the connection a request came in on, without an answer: what a client sees of a source that
    goes down mid-call. ASGI has no message for it; uvicorn's ``receive`` belongs to the request cycle that
    holds the transport. Under a server without one, raising ends the exchange the server's own way."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if not isinstance(transport, asyncio.BaseTransport):
        raise ConnectionAbortedError("the demo was told to drop this connection")
    transport.close()


async def _read_body(receive: Receive) -> bytes:
    """The whole request body: the check needs it before the handler reads it (it is replayed to the app)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
