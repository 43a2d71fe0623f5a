"""Cache invalidation from the ZGW Notificaties API: the gateway subscribes, and a message supersedes what it names.

A source that publishes its changes (Open Zaak publishes every write on the kanalen ``zaken``, ``documenten``,
``besluiten``, ``zaaktypen``, ``informatieobjecttypen`` and ``besluittypen``) tells the Notificaties API, which
POSTs each message to every subscriber's callback. The gateway subscribes with one ``abonnement`` and, for
each message, writes tombstones (``graph.caching.mark_changed``) for its ``resourceUrl`` and ``hoofdObject`` in
the source that owns them (``Sources.owner_of``). Tombstones live in the shared store, so with Redis one
replica's message supersedes every replica's entries.

Configuration, the Notificaties API itself being a ``[sources.<name>]`` (its URL and ZGW JWT credentials)::

    [gateway.notifications]
    source = "notificaties"
    callback_url = "https://gemeentegraaf.example.nl/_notificaties"  # how the API reaches the gateway; its path
                                                                      # is the route the gateway serves
    auth = "Bearer …"        # the Authorization value the API must send (or auth_file = "/run/secrets/…", or
                             # GEMEENTEGRAAF_GATEWAY_NOTIFICATIONS_AUTH)
    kanalen = ["zaken", "documenten", "besluiten", "zaaktypen", "informatieobjecttypen", "besluittypen"]

Subscribing happens in the background once the app has started, because the Notificaties API checks the
callback (once without credentials, expecting a refusal, once with them, expecting 204) while the abonnement
is made, so the gateway must already be serving. It retries with backoff until it succeeds and never stops
the gateway. On a restart it finds its abonnement by ``callbackUrl`` and replaces it (so a changed ``auth``
or ``kanalen`` takes effect) rather than adding a second one. Workers and replicas behind one callback URL take
turns (a lock in the shared store), so starting together they still keep one abonnement.

Other parts of the gateway can listen (``Notifications.listeners``): each accepted message is handed to every
listener after its tombstones are written (``graph.live`` publishes it as an event for subscriptions); a
listener that fails is logged and does not change the callback's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from graph.cache import Store
from graph.caching import SourceCaching, mark_changed
from graph.calls import SourceCall
from graph.config import ConfigError, GatewayConfig, declare_gateway_table, read_secret_files
from graph.errors import SourceError
from graph.source import Source, Sources

log = logging.getLogger("gemeentegraaf.notifications")

MESSAGE_FIELDS = ("kanaal", "hoofdObject", "resource", "resourceUrl", "actie", "aanmaakdatum")  # required (NRC OAS)
START_S = 0.5  # the first attempt waits for the server to listen (lifespan start-up runs before it does)
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
SUBSCRIBING_S = 60.0  # one replica's turn to subscribe; a replica that dies mid-turn holds it no longer
_KEYS = frozenset({"source", "callback_url", "auth", "kanalen"})
_TAKEN = frozenset({"/graphql", "/health"})
Listener = Callable[[Mapping[str, Any]], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class NotificationSettings:
    """``[gateway.notifications]``, checked at start-up."""

    source: str
    callback_url: str
    auth: str = dataclasses.field(repr=False)  # a secret: never in a repr, a log or an error
    kanalen: tuple[str, ...]

    @property
    def path(self) -> str:
        return urlsplit(self.callback_url).path or "/"


def notification_settings(config: GatewayConfig) -> NotificationSettings | None:
    """The checked table, or None when notifications are not configured. ``notifications_<key>`` in
    ``[gateway]`` (so ``GEMEENTEGRAAF_GATEWAY_NOTIFICATIONS_<KEY>``) overrides one key."""
    table = config.options.get("notifications", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.notifications] must be a table")
    prefix = "notifications_"
    given, overrides = dict(table), {k[len(prefix) :]: v for k, v in config.options.items() if k.startswith(prefix)}
    for part in (given, overrides):  # the override wins, whether it gives the secret or a file holding it
        read_secret_files("gateway.notifications", part, frozenset({"auth"}))
    entry = {**given, **overrides}
    if not entry:
        return None
    unknown = set(entry) - _KEYS
    if unknown:
        raise ConfigError(f"[gateway.notifications] has unknown key(s): {', '.join(sorted(unknown))}")
    source = entry.get("source")
    if not isinstance(source, str) or source not in config.sources:
        raise ConfigError("[gateway.notifications] source must name a [sources.<name>] table (the Notificaties API)")
    callback = entry.get("callback_url")
    if not isinstance(callback, str) or urlsplit(callback).scheme not in ("http", "https") or not urlsplit(
        callback
    ).netloc:
        raise ConfigError("[gateway.notifications] callback_url must be an http(s) URL")
    auth = entry.get("auth")
    if not isinstance(auth, str) or not auth.strip():
        raise ConfigError("[gateway.notifications] auth (or auth_file) must give the callback's Authorization value")
    kanalen = entry.get("kanalen")
    listed = kanalen.split(",") if isinstance(kanalen, str) else kanalen
    if not isinstance(listed, list) or not listed or not all(isinstance(k, str) and k.strip() for k in listed):
        raise ConfigError("[gateway.notifications] kanalen must be a non-empty list of kanaal names")
    settings = NotificationSettings(source, callback, auth.strip(), tuple(k.strip() for k in listed))
    if settings.path in _TAKEN:
        raise ConfigError(f"[gateway.notifications] callback_url's path {settings.path} is taken")
    return settings


declare_gateway_table("notifications", _KEYS | {"auth_file"}, notification_settings)


class Notifications:
    """The callback route, and the background task that keeps the gateway's abonnement."""

    def __init__(
        self, settings: NotificationSettings, sources: Sources, store: Store, retry_s: float = RETRY_FIRST_S
    ) -> None:
        self.settings, self.sources, self.store = settings, sources, store
        self.retry_s = retry_s
        self.abonnement: str | None = None  # its URL once subscribed
        self.subscribed = asyncio.Event()
        self.received = 0  # messages accepted (metrics, tests)
        self.listeners: list[Listener] = []  # told of every accepted message, after its tombstones
        self._caching: dict[str, SourceCaching] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, config: GatewayConfig, sources: Sources, store: Store) -> Notifications | None:
        settings = notification_settings(config)
        return cls(settings, sources, store) if settings is not None else None

    def routes(self) -> list[BaseRoute]:
        return [Route(self.settings.path, self.receive, methods=["POST"])]

    # -- receiving -------------------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        """A message: refused (403) without the configured Authorization, 400 when malformed, else 204 once
        its tombstones are written, so a delivered message has taken effect."""
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), self.settings.auth.encode()):
            return JSONResponse({"detail": "Authorization missing or wrong."}, 403)
        try:
            message = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return JSONResponse({"detail": "The body is not JSON."}, 400)
        if not isinstance(message, Mapping) or not all(isinstance(message.get(f), str) for f in MESSAGE_FIELDS):
            return JSONResponse({"detail": f"A notificatie has the strings {', '.join(MESSAGE_FIELDS)}."}, 400)
        written = await self.supersede([message["resourceUrl"], message["hoofdObject"]])
        self.received += 1
        for listener in self.listeners:
            try:
                await listener(message)
            except Exception:  # a listener's fault never refuses a delivered message
                log.exception("notifications: a listener failed on a %s message", message["kanaal"])
        log.debug("notificatie %s %s %s: %d tombstones", message["kanaal"], message["resource"], message["actie"],
                  written)
        return Response(status_code=204)

    async def supersede(self, urls: Sequence[str]) -> int:
        """Tombstones for the URLs, per owning source; a URL no configured source owns changes nothing."""
        by_source: dict[str, tuple[Source, list[str]]] = {}
        for url in urls:
            try:
                owner = self.sources.owner_of(url)
            except SourceError:
                continue
            by_source.setdefault(owner.name, (owner, []))[1].append(url)
        written = 0
        for name, (owner, owned) in by_source.items():
            settings = self._caching.get(name)
            if settings is None:
                settings = self._caching[name] = SourceCaching.from_config(owner.config)
            written += await mark_changed(self.store, settings, owned)
        return written

    # -- subscribing -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep_subscribing())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _keep_subscribing(self) -> None:
        delay = self.retry_s
        nrc = self.settings.source
        await asyncio.sleep(START_S)
        turn = f"notifications:subscribing:{self.settings.callback_url}"
        while True:
            # one worker or replica at a time (a SET NX lock in the shared store): started together, each would
            # find no abonnement and make its own; one after the other, each replaces the same one
            if not await self.store.add(turn, b"1", SUBSCRIBING_S):
                await asyncio.sleep(self.retry_s)
                continue
            try:
                self.abonnement = await self.subscribe()
            except SourceError as exc:
                log.warning("notifications: cannot subscribe with %s yet (%s, status %s); again in %.0f s",
                            nrc, exc.code, exc.status or "-", delay)
            except Exception:  # never let a surprise stop the gateway; say what it was
                log.exception("notifications: subscribing with %s failed; again in %.0f s", nrc, delay)
            else:
                log.info("notifications: subscribed with %s to %s", nrc, ", ".join(self.settings.kanalen))
                self.subscribed.set()
                return
            finally:
                await self.store.delete(turn)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def subscribe(self) -> str:
        """The abonnement for this callback, made or replaced; surplus ones for it are deleted."""
        nrc = self.sources[self.settings.source]
        body = {
            "callbackUrl": self.settings.callback_url,
            "auth": self.settings.auth,
            "kanalen": [{"naam": naam, "filters": {}} for naam in self.settings.kanalen],
        }
        mine = [a["url"] for a in await self._abonnementen(nrc)
                if a.get("callbackUrl") == self.settings.callback_url and isinstance(a.get("url"), str)]
        if not mine:
            created = await nrc.post("/abonnement", body, idempotent=False)
            url = created.get("url") if isinstance(created, Mapping) else None
            if not isinstance(url, str):
                raise SourceError("UPSTREAM_BAD_RESPONSE", nrc.name, "The abonnement came back without its url.")
            return url
        await nrc.send(SourceCall(nrc.name, "PUT", nrc.url(mine[0]), json=body, idempotent=False))
        for surplus in mine[1:]:
            await nrc.send(SourceCall(nrc.name, "DELETE", nrc.url(surplus), idempotent=False))
        return str(mine[0])

    @staticmethod
    async def _abonnementen(nrc: Source) -> list[Mapping[str, Any]]:
        """Every abonnement: a plain list (NRC 1.0) or, from products that page it, every page."""
        found: list[Mapping[str, Any]] = []
        page: Any = await nrc.get("/abonnement")
        while True:
            items = page.get("results") if isinstance(page, Mapping) else page
            found += [a for a in items or [] if isinstance(a, Mapping)]
            following = page.get("next") if isinstance(page, Mapping) else None
            if not isinstance(following, str) or not following:
                return found
            page = await nrc.get(following)
