"""OAuth 2.0 client credentials for sources behind an identity provider (Signalen behind Keycloak, the BRP
behind its API gateway): the gateway fetches an access token, keeps it until shortly before it expires,
and fetches a new one then, or once when the source answers 401 to a token it still thought valid.

Concurrent calls share one token request (a lock around the fetch), so a burst of calls after expiry
costs the provider one request, not one per call. The client secret goes to the token endpoint only, in
HTTP Basic (``client_secret_basic``, what RFC 6749 asks providers to support).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from graph.errors import SourceError

RENEW_BEFORE_S = 30.0  # a token this close to its expiry is renewed first: clocks and transit take time
DEFAULT_LIFETIME_S = 300.0  # when the provider does not say (expires_in is only RECOMMENDED)


class ClientCredentials(httpx.Auth):
    def __init__(
        self,
        source: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.token_url, self.client_id, self.scope = source, token_url, client_id, scope
        self._secret, self._clock = client_secret, clock
        self._token: str | None = None
        self._expires_at = float("-inf")
        self._lock = asyncio.Lock()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("client credentials need the async client")  # the gateway only uses AsyncClient

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        fresh = False
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at - RENEW_BEFORE_S:
                await self._store((yield self._token_request()))
                fresh = True
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and not fresh:  # revoked or expired early: one new token, one retry
            async with self._lock:
                if self._token == token:
                    await self._store((yield self._token_request()))
                token = self._token
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _token_request(self) -> httpx.Request:
        form = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
        basic = httpx.BasicAuth(self.client_id, self._secret)
        request = httpx.Request("POST", self.token_url, data=form, headers={"Accept": "application/json"})
        return next(basic.auth_flow(request))

    async def _store(self, response: httpx.Response) -> None:
        await response.aread()
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            self._token, self._expires_at = None, float("-inf")
            raise SourceError(
                "UPSTREAM_REFUSED" if 400 <= response.status_code < 500 else "UPSTREAM_ERROR",
                self.source,
                f"The identity provider of source '{self.source}' gave the gateway no access token.",
                response.status_code,
            )
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else DEFAULT_LIFETIME_S
        self._token, self._expires_at = token, self._clock() + seconds
