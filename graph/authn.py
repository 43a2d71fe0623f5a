"""Client authentication: who sends a query, from an OpenID Connect bearer token (a signed JWT).

The gateway trusts one issuer, configured in ``[gateway.auth]``::

    [gateway.auth]
    issuer = "https://login.gemeente.nl/realms/medewerkers"
    audience = "gemeentegraaf"
    # jwks_url = "..."          # else read from {issuer}/.well-known/openid-configuration
    # algorithms = ["RS256", "ES256"]
    # leeway_s = 30             # clock skew allowed on exp/nbf/iat
    # anonymous = false         # true: a request without a token is served as the anonymous caller
    # anonymous_scopes = []     # the scopes that caller has (which ones may be granted is decided elsewhere)
    # jwks_refresh_s = 30       # an unknown key id re-fetches the JWKS at most once per this many seconds
    # jwks_max_age_s = 3600     # keys are re-read this often, so a key the issuer withdrew stops working

A missing table is a configuration error: a gateway over personal data does not start open by accident.
The signing keys come from the issuer's JWKS over ``httpx``, cached; a token naming an unknown key id
re-fetches them (the issuer rotated its keys), but at most once per ``jwks_refresh_s``, so a stream of
tokens with made-up key ids cannot make the gateway hammer the issuer. Refusals say why in a fixed
sentence and never quote the token or its claims.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.responses import JSONResponse

from graph import __version__
from graph.caller import ANONYMOUS, Caller, citizen_bsn
from graph.config import ConfigError, GatewayConfig, declare_gateway_table

log = logging.getLogger(__name__)

# Asymmetric only: a shared secret (HS256) would let every holder of it mint tokens, and "none" signs nothing.
KEY_TYPES: dict[str, type[Any]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), RSAPublicKey),
    **dict.fromkeys(("ES256", "ES384", "ES512"), EllipticCurvePublicKey),
    "EdDSA": Ed25519PublicKey,
}
DEFAULT_ALGORITHMS = ("RS256", "ES256")
MAX_TOKEN = 16_384  # far above any real access token; longer input is not parsed at all
VERIFIED_S = 60.0  # how long a verified token is taken on trust (``Authenticator._remember``)
MAX_VERIFIED = 10_000  # tokens remembered at most, least recently used first out
REALM = "gemeentegraaf"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """The ``[gateway.auth]`` table, checked."""

    issuer: str | None
    audience: str | None
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway_s: float = 30.0
    anonymous: bool = False
    anonymous_scopes: frozenset[str] = frozenset()
    jwks_refresh_s: float = 30.0
    jwks_max_age_s: float = 3600.0
    timeout_s: float = 5.0

    @property
    def accepts_tokens(self) -> bool:
        return self.issuer is not None


def auth_settings(config: GatewayConfig) -> AuthSettings:
    """The gateway's ``[gateway.auth]`` table; a missing or unusable one is a ``ConfigError`` saying what to set."""
    table = config.options.get("auth")
    if table is None:
        raise ConfigError(
            "[gateway.auth] is missing: set issuer and audience (the OpenID Connect provider whose tokens clients "
            "send, and this gateway's audience), or anonymous = true to serve requests without a token"
        )
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.auth] must be a table")
    known = {f.name for f in dataclasses.fields(AuthSettings)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"[gateway.auth] has unknown keys: {', '.join(unknown)}")
    anonymous = _flag(table.get("anonymous", False), "anonymous")
    issuer, audience = table.get("issuer"), table.get("audience")
    if issuer is None and audience is None and anonymous:
        issuer_url = None
    else:
        if not isinstance(issuer, str) or not isinstance(audience, str) or not audience:
            raise ConfigError("[gateway.auth] needs issuer and audience (or only anonymous = true)")
        issuer_url = _url(issuer.rstrip("/"), "issuer")
    jwks_url = table.get("jwks_url")
    algorithms = tuple(_strings(table.get("algorithms", DEFAULT_ALGORITHMS), "algorithms"))
    refused = [a for a in algorithms if a not in KEY_TYPES]
    if refused or not algorithms:
        raise ConfigError(f"[gateway.auth] algorithms must be among {', '.join(KEY_TYPES)} (asymmetric only)")
    try:
        defaults = {f.name: f.default for f in dataclasses.fields(AuthSettings)}
        numbers = {k: float(table.get(k, defaults[k])) for k in
                   ("leeway_s", "jwks_refresh_s", "jwks_max_age_s", "timeout_s")}
    except (TypeError, ValueError) as exc:
        raise ConfigError("[gateway.auth] leeway_s, jwks_refresh_s, jwks_max_age_s and timeout_s are numbers") from exc
    if any(v < 0 for v in numbers.values()) or numbers["timeout_s"] == 0:
        raise ConfigError("[gateway.auth] durations must not be negative")
    return AuthSettings(
        issuer=issuer_url,
        audience=audience if issuer_url else None,
        jwks_url=_url(jwks_url, "jwks_url") if isinstance(jwks_url, str) else None,
        algorithms=algorithms,
        anonymous=anonymous,
        anonymous_scopes=frozenset(_strings(table.get("anonymous_scopes", []), "anonymous_scopes")),
        **numbers,
    )


declare_gateway_table("auth", (f.name for f in dataclasses.fields(AuthSettings)), auth_settings)


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):  # from the environment
        return value.lower() == "true"
    raise ConfigError(f"[gateway.auth] {key} must be true or false")


def _strings(value: Any, key: str) -> list[str]:
    """A list of strings, or a comma-separated string (as an environment variable gives it)."""
    listed = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(listed, (list, tuple)) or not all(isinstance(v, str) for v in listed):
        raise ConfigError(f"[gateway.auth] {key} must be a list of strings")
    return list(listed)


def _url(value: str, key: str) -> str:
    """Keys fetched over plain HTTP could be swapped on the way: https, except on this machine (the demo)."""
    parts = urlsplit(value)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise ConfigError(f"[gateway.auth] {key} must be an https URL (http only on loopback)")
    return value


class AuthError(Exception):
    """A request the gateway will not run; ``message`` is a fixed sentence, safe to show the client."""

    status = 401
    code = "UNAUTHENTICATED"

    def __init__(self, message: str, attempted: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.attempted = attempted  # False: no token at all (RFC 6750 then gives no error code)

    def response(self) -> JSONResponse:
        """A GraphQL-shaped error body, and the ``WWW-Authenticate`` challenge of RFC 6750."""
        challenge = f'Bearer realm="{REALM}"'
        if self.attempted:
            challenge += f', error="invalid_token", error_description="{self.message}"'
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        return JSONResponse(body, self.status, headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"})


class IssuerUnavailable(AuthError):
    """The keys cannot be read: the gateway's problem, not the client's token."""

    status = 503
    code = "UPSTREAM_UNAVAILABLE"

    def response(self) -> JSONResponse:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code, "source": "issuer"}}]}
        return JSONResponse(body, self.status, headers={"Retry-After": "5", "Cache-Control": "no-store"})


# pyjwt's refusals, most specific first (an InvalidSignatureError is also a DecodeError).
REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidAudienceError, "The token is not meant for this gateway (audience)."),
    (jwt.InvalidIssuerError, "The token comes from an issuer this gateway does not trust."),
    (jwt.InvalidSignatureError, "The token's signature does not verify."),
    (jwt.MissingRequiredClaimError, "The token lacks a required claim (exp, iss, aud and sub are required)."),
    (jwt.DecodeError, "The token is malformed."),
)


class Jwks:
    """The issuer's signing keys, fetched lazily and re-fetched sparingly."""

    def __init__(self, settings: AuthSettings, client: httpx.AsyncClient, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self.url = settings.jwks_url
        self.keys: list[tuple[jwt.PyJWK, str | None]] = []  # each key with the algorithm it declares, if any
        self.fetches = 0  # JWKS reads so far (tests count them)
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The key that signed a token; an unknown ``kid`` re-reads the JWKS unless that was done very lately."""
        if self._lock.locked():  # a read is under way (a cold start, a rotation): wait for its keys, don't refuse
            async with self._lock:
                pass
        now = self.clock()
        stale = self._loaded_at is None or now - self._loaded_at >= self.settings.jwks_max_age_s
        if stale and self._may_fetch(now):
            await self._refresh(self._attempted_at)
        found = self._find(kid, algorithm)
        if found is None and self._may_fetch(now):
            await self._refresh(self._attempted_at)
            found = self._find(kid, algorithm)
        if found is not None:
            return found
        if not self.keys:
            raise IssuerUnavailable("The token issuer's keys cannot be read; try again shortly.")
        raise AuthError("The token is signed with a key the issuer does not publish.")

    def _may_fetch(self, now: float) -> bool:
        """Whether a read is due: not within ``jwks_refresh_s`` of the last (5 s while no key was ever read)."""
        if self._attempted_at is None:
            return True
        pause = self.settings.jwks_refresh_s if self.keys else min(self.settings.jwks_refresh_s, 5.0)
        return now - self._attempted_at >= pause

    def _find(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        fitting = [key for key, declared in self.keys
                   if isinstance(key.key, KEY_TYPES[algorithm]) and declared in (None, algorithm)]
        if kid is not None:
            return next((k for k in fitting if k.key_id == kid), None)
        return fitting[0] if len(fitting) == 1 else None  # no kid: only an unambiguous key will do

    async def _refresh(self, seen_attempt: float | None) -> None:
        async with self._lock:
            if self._attempted_at != seen_attempt:
                return  # another request read the keys while this one waited
            self._attempted_at = self.clock()
            try:
                self.keys = await self._fetch()
                self._loaded_at = self._attempted_at
            except (httpx.HTTPError, ValueError) as exc:  # the keys read before stay in use
                log.warning("could not read the token issuer's keys: %s", type(exc).__name__)

    async def _fetch(self) -> list[tuple[jwt.PyJWK, str | None]]:
        if self.url is None:
            self.url = await self._discover()
        self.fetches += 1
        answer = await self.client.get(self.url)
        answer.raise_for_status()
        body = answer.json()
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise ValueError("a JWKS is an object with a list of keys")
        keys: list[tuple[jwt.PyJWK, str | None]] = []
        for entry in body["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            declared = entry.get("alg")
            try:
                keys.append((jwt.PyJWK(entry), declared if isinstance(declared, str) else None))
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue  # a key type this gateway cannot use: skipped, the others still count
        return keys

    async def _discover(self) -> str:
        """``jwks_uri`` from the issuer's discovery document, which must name the configured issuer."""
        assert self.settings.issuer is not None
        answer = await self.client.get(self.settings.issuer + "/.well-known/openid-configuration")
        answer.raise_for_status()
        document = answer.json()
        if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != self.settings.issuer:
            raise ValueError("the discovery document names another issuer")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str):
            raise ValueError("the discovery document has no jwks_uri")
        try:
            return _url(uri, "jwks_uri")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None


class Authenticator:
    """Turns a request's ``Authorization`` header into a ``Caller``, or refuses with an ``AuthError``."""

    def __init__(
        self,
        settings: AuthSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            transport=transport, timeout=settings.timeout_s, follow_redirects=False,
            headers={"User-Agent": f"gemeentegraaf/{__version__}", "Accept": "application/json"},
        )
        self.jwks = Jwks(settings, self.client, clock)
        self._verified: collections.OrderedDict[bytes, tuple[Caller, float]] = collections.OrderedDict()

    @classmethod
    def from_config(cls, config: GatewayConfig) -> Authenticator:
        return cls(auth_settings(config))

    async def authenticate(self, authorization: str | None) -> Caller:
        if authorization is None or not authorization.strip():
            if self.settings.anonymous:
                return dataclasses.replace(ANONYMOUS, scopes=self.settings.anonymous_scopes)
            raise AuthError("This gateway needs a bearer token (Authorization: Bearer <token>).", attempted=False)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
            raise AuthError("Send the token as Authorization: Bearer <token>.")
        if not self.settings.accepts_tokens:
            raise AuthError("This gateway is configured for anonymous use only and accepts no tokens.")
        digest, now = hashlib.sha256(token.encode()).digest(), time.time()
        known = self._verified.get(digest)
        if known is not None and now < known[1]:
            self._verified.move_to_end(digest)
            return known[0]
        claims = await self._claims(token)
        caller = dataclasses.replace(caller_of(claims), token=token)
        self._remember(digest, caller, claims, now)
        return caller

    def _remember(self, digest: bytes, caller: Caller, claims: Mapping[str, Any], now: float) -> None:
        """A client sends the same token with every request until it expires; checking its signature and
        claims once per ``VERIFIED_S`` rather than per request takes most of a small query's CPU off (PyJWT's
        base64 checks alone cost more than executing ``{ __typename }``). An entry ends at the token's own
        expiry (with the same leeway ``jwt.decode`` allows), so nothing is accepted that a fresh check refuses
        but a key the issuer withdrew in the last ``VERIFIED_S`` seconds."""
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)):
            return
        self._verified[digest] = (caller, min(float(expires) + self.settings.leeway_s, now + VERIFIED_S))
        while len(self._verified) > MAX_VERIFIED:
            self._verified.popitem(last=False)

    async def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("The token is malformed.") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in self.settings.algorithms:
            raise AuthError("The token's signing algorithm is not accepted.")
        if kid is not None and not isinstance(kid, str):
            raise AuthError("The token is malformed.")
        key = await self.jwks.key(kid, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[algorithm], audience=self.settings.audience, issuer=self.settings.issuer,
                leeway=self.settings.leeway_s, options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in REASONS if isinstance(exc, kind)), "The token is not valid.")
            raise AuthError(reason) from None
        return claims

    async def aclose(self) -> None:
        await self.client.aclose()


def caller_of(claims: Mapping[str, Any]) -> Caller:
    """A verified token's claims as a ``Caller``: scopes from ``scope`` (space-separated) or ``scp`` (a list)."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise AuthError("The token's subject (sub) is empty.")
    name = next((v for v in (claims.get("name"), claims.get("preferred_username")) if isinstance(v, str) and v), None)
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        scopes = raw.split()
    else:
        scopes = [s for s in raw if isinstance(s, str)] if isinstance(raw, list) else []
    return Caller(subject=subject, name=name, scopes=frozenset(scopes), bsn=citizen_bsn(subject))
