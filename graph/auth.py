"""How the gateway authenticates to each source: one small ``httpx.Auth`` per scheme.

Register a new scheme in ``SCHEMES``; a source picks one with ``auth = "<scheme>"`` in its config table.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Generator
from typing import Any, TypeGuard

import httpx
import jwt

from graph.config import ConfigError, SourceConfig, declare_auth
from graph.oauth import ClientCredentials

USER_EXTENSION = "gemeentegraaf.user"
"""httpx request extension carrying ``(user_id, user_representation)`` of the caller a call serves: an
``Auth`` sees only the request, and an extension, unlike a header, never goes on the wire."""

SESSION_EXTENSION = "gemeentegraaf.session"
"""httpx request extension carrying the caller's own bearer token, for sources whose sessions are per user."""

User = tuple[str, str]
SERVICE_USER: User = ("gemeentegraaf", "Gemeentegraaf")  # calls outside a request: the gateway itself


class ZgwJwt(httpx.Auth):
    """ZGW: an HS256 JWT with ``client_id`` and ``iat``, plus the caller as ``user_id`` and
    ``user_representation`` so the source's audit trail names the person who asked, not the gateway.

    One token per caller, minted on first use and renewed well before providers reject it (Open Zaak
    refuses an ``iat`` older than 3600 s, with no leeway). At most ``max_users`` tokens are kept, least
    recently used dropped first, so many callers cannot grow memory without bound.
    """

    renew_after_s = 1800.0

    def __init__(
        self,
        client_id: str,
        secret: str,
        user_id: str = SERVICE_USER[0],
        clock: Callable[[], float] = time.time,
        max_users: int = 1024,
    ) -> None:
        self.client_id, self._secret, self.user_id, self._clock = client_id, secret, user_id, clock
        self.max_users = max(1, max_users)
        self._tokens: collections.OrderedDict[User, tuple[str, float]] = collections.OrderedDict()

    def token(self, user: User | None = None) -> str:
        """The token for ``user`` (``(user_id, representation)``), or for the gateway itself."""
        key = user or (self.user_id, SERVICE_USER[1])
        now = self._clock()
        found = self._tokens.get(key)
        if found is not None and now - found[1] < self.renew_after_s:
            self._tokens.move_to_end(key)
            return found[0]
        claims = {
            "iss": self.client_id,
            "iat": int(now),
            "client_id": self.client_id,
            "user_id": key[0],
            "user_representation": key[1],
        }
        minted = jwt.encode(claims, self._secret, algorithm="HS256")
        self._tokens[key] = (minted, now)
        self._tokens.move_to_end(key)
        while len(self._tokens) > self.max_users:
            self._tokens.popitem(last=False)
        return minted

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        user = request.extensions.get(USER_EXTENSION)
        request.headers["Authorization"] = f"Bearer {self.token(user if _is_user(user) else None)}"
        yield request


def _is_user(value: Any) -> TypeGuard[User]:
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) and v for v in value)


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


class CallerSession(httpx.Auth):
    """A source with per-user sessions (Huishoudboekje, whose Mesh forwards the user's OIDC session cookie):
    the caller's own token goes as that cookie, so the source acts for the person who asked and not for one
    shared employee. Without a caller there is no session, and the source refuses the call."""

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = request.extensions.get(SESSION_EXTENSION)
        if isinstance(token, str) and token:
            request.headers["Cookie"] = f"{self.cookie}={token}"
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
    "caller-session": lambda c: CallerSession(_required(c, "cookie")),
    "oauth2-client-credentials": lambda c: ClientCredentials(
        c.name, _required(c, "token_url"), _required(c, "client_id"), _required(c, "client_secret"), c.option("scope")
    ),
}


SCHEME_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # (required, optional), for validation
    "none": ((), ()),
    "zgw-jwt": (("client_id", "secret"), ()),
    "api-key": (("key",), ("header",)),
    "bearer": (("token",), ()),
    "token": (("token",), ()),
    "cookie": (("cookie", "token"), ()),
    "caller-session": (("cookie",), ()),
    "oauth2-client-credentials": (("token_url", "client_id", "client_secret"), ("scope",)),
}
for _scheme, (_required_keys, _optional_keys) in SCHEME_KEYS.items():
    declare_auth(_scheme, _required_keys, _optional_keys)


def auth_for(config: SourceConfig) -> httpx.Auth | None:
    try:
        return SCHEMES[config.auth](config)
    except KeyError:
        raise ConfigError(f"[sources.{config.name}] unknown auth {config.auth!r}; one of {sorted(SCHEMES)}") from None
