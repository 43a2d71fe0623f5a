"""How the gateway authenticates to each source: one small ``httpx.Auth`` per scheme.

Register a new scheme in ``SCHEMES``; a source picks one with ``auth = "<scheme>"`` in its config table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx
import jwt

from graph.config import ConfigError, SourceConfig
from graph.oauth import ClientCredentials


class ZgwJwt(httpx.Auth):
    """ZGW: an HS256 JWT with ``client_id`` and ``iat``, minted here and renewed well before providers
    reject it (Open Zaak refuses an ``iat`` older than 3600 s, with no leeway)."""

    renew_after_s = 1800.0

    def __init__(
        self, client_id: str, secret: str, user_id: str = "gemeentegraaf", clock: Callable[[], float] = time.time
    ) -> None:
        self.client_id, self._secret, self.user_id, self._clock = client_id, secret, user_id, clock
        self._token = ""
        self._minted_at = float("-inf")

    def token(self) -> str:
        now = self._clock()
        if now - self._minted_at >= self.renew_after_s:
            claims = {
                "iss": self.client_id,
                "iat": int(now),
                "client_id": self.client_id,
                "user_id": self.user_id,
                "user_representation": "Gemeentegraaf",
            }
            self._token = jwt.encode(claims, self._secret, algorithm="HS256")
            self._minted_at = now
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


class Header(httpx.Auth):
    """A fixed header: API keys (``X-Api-Key``), ``Bearer`` tokens and DRF ``Token`` keys."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self._value = name, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.name] = self._value
        yield request


class Cookie(httpx.Auth):
    """A session cookie, as Huishoudboekje's Mesh forwards the employee's OIDC session."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self._value = name, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Cookie"] = f"{self.name}={self._value}"
        yield request


def _required(config: SourceConfig, key: str) -> str:
    value = config.option(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"[sources.{config.name}] auth = {config.auth!r} needs {key!r}")
    return value


SCHEMES: dict[str, Callable[[SourceConfig], httpx.Auth | None]] = {
    "none": lambda c: None,
    "zgw-jwt": lambda c: ZgwJwt(_required(c, "client_id"), _required(c, "secret")),
    "api-key": lambda c: Header(c.option("header", "X-Api-Key"), _required(c, "key")),
    "bearer": lambda c: Header("Authorization", f"Bearer {_required(c, 'token')}"),
    "token": lambda c: Header("Authorization", f"Token {_required(c, 'token')}"),
    "cookie": lambda c: Cookie(_required(c, "cookie"), _required(c, "token")),
    "oauth2-client-credentials": lambda c: ClientCredentials(
        c.name, _required(c, "token_url"), _required(c, "client_id"), _required(c, "client_secret"), c.option("scope")
    ),
}


def auth_for(config: SourceConfig) -> httpx.Auth | None:
    try:
        return SCHEMES[config.auth](config)
    except KeyError:
        raise ConfigError(f"[sources.{config.name}] unknown auth {config.auth!r}; one of {sorted(SCHEMES)}") from None
