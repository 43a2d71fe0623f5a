"""The demo's OpenID Connect provider: the issuer whose bearer tokens the gateway accepts from its clients.

A real municipality's login server (Keycloak, Entra ID, a DigiD broker) publishes a discovery document and
its signing keys; this host does the same at ``/.well-known/openid-configuration`` and ``/jwks``, with an
RSA key (RS256) and an EC key (ES256), so the gateway is tested against both. It has no login: tokens
come from the demo-only control plane, beside ``/_demo/requests``:

- ``POST /_demo/token`` mints an access token (JSON body, every key optional: ``scope`` (list or
  space-separated), ``subject``, ``bsn`` (a citizen token: the subject is the BSN), ``name``, ``audience``,
  ``algorithm``, ``lifetime_s``, ``expired``); ``gemeentegraaf token`` calls it. Tests call ``mint``.
- ``POST /_demo/rotate`` makes new keys and signs with them from then on; the previous generation stays
  published (as providers do during a key rollover), so tokens minted before still verify.

The keys are made at start and live only in this process: tokens do not outlive the demo run.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from demo.model import Municipality
from demo.simulator import Simulator, json_response

# The scopes a demo employee holds: every one the gateway knows. One place to extend when a scope is added.
EMPLOYEE_SCOPES: tuple[str, ...] = (
    "brp:lezen",
    "zaken:lezen",
    "bag:lezen",
    "signalen:lezen",
    "klantinteracties:lezen",
    "objecten:lezen",
    "vakantieverhuur:lezen",
    "huishoudboekje:lezen",
    "zaken:statistiek",
    "signalen:statistiek",
)
AUDIENCE = "gemeentegraaf"  # what the demo's [gateway.auth] audience expects
# what a demo employee works on: an activity of demo/verwerkingsactiviteiten.toml
DEMO_PURPOSE = "https://register.gemeente.example/verwerkingsactiviteiten/zaakbehandeling/1"
EMPLOYEE = "demo-medewerker"
EMPLOYEE_NAME = "Demo Medewerker"
ALGORITHMS = ("RS256", "ES256")
GENERATIONS = 2  # key generations published: the signing one and the one before it
EXPIRED_AGO_S = 3600  # an "expired" token ended this long ago: far beyond any clock-skew leeway


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    algorithm: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        body = (RSAAlgorithm.to_jwk(public, as_dict=True) if isinstance(public, rsa.RSAPublicKey)
                else ECAlgorithm.to_jwk(public, as_dict=True))
        return {**body, "kid": self.kid, "use": "sig", "alg": self.algorithm}


def _generation() -> dict[str, SigningKey]:
    """One RSA and one EC key, by algorithm."""
    stamp = secrets.token_hex(4)
    return {
        "RS256": SigningKey(f"rsa-{stamp}", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "ES256": SigningKey(f"ec-{stamp}", "ES256", ec.generate_private_key(ec.SECP256R1())),
    }


class IssuerSimulator(Simulator):
    """The token issuer of the demo municipality's employees and citizens."""

    name = "issuer"
    title = "OpenID Connect provider (demo tokens)"
    api_version = "1.0"
    base_path = ""
    default_port = 8110
    error_media_type = "application/json"

    def __init__(self, data: Municipality, config: Mapping[str, Any], urls: Mapping[str, str]) -> None:
        super().__init__(data, config, urls)
        self.generations: list[dict[str, SigningKey]] = [_generation()]

    @property
    def issuer(self) -> str:
        """The ``iss`` of every token: this host's URL, which the gateway's ``[gateway.auth] issuer`` names."""
        return self.base_url.rstrip("/")

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/.well-known/openid-configuration", self.discovery, methods=["GET"]),
            Route("/jwks", self.jwks, methods=["GET"]),
        ]

    def _build(self) -> Starlette:
        """The API of ``routes()`` plus the minting and rotation of the control plane (never counted or checked)."""
        app = super()._build()
        app.router.routes[:0] = [
            Route("/_demo/token", self._token, methods=["POST"]),
            Route("/_demo/rotate", self._rotate, methods=["POST"]),
        ]
        return app

    # -- what a test or the CLI uses -----------------------------------------------------------------

    def mint(
        self,
        scopes: Sequence[str] = EMPLOYEE_SCOPES,
        subject: str = EMPLOYEE,
        *,
        name: str | None = None,
        bsn: str | None = None,
        audience: str = AUDIENCE,
        algorithm: str = "RS256",
        lifetime_s: float = 3600,
        expired: bool = False,
        not_before_s: float = 0,
        issuer: str | None = None,
    ) -> str:
        """A signed access token; ``bsn`` makes it a citizen's (the subject is the BSN, as DigiD gives it)."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        now = int(time.time())
        issued = now - EXPIRED_AGO_S - int(lifetime_s) if expired else now
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "sub": bsn or subject,
            "aud": audience,
            "iat": issued,
            "nbf": now + int(not_before_s) if not_before_s else issued,
            "exp": issued + int(lifetime_s),
            "jti": secrets.token_hex(8),
            "azp": "gemeentegraaf-demo",
            "scope": " ".join(scopes),
        }
        shown = name or (None if bsn else EMPLOYEE_NAME if subject == EMPLOYEE else None)
        if shown:
            claims["name"] = shown
        key = self.generations[0][algorithm]
        return jwt.encode(claims, key.private, algorithm=algorithm, headers={"kid": key.kid, "typ": "at+jwt"})

    def rotate(self) -> list[str]:
        """New signing keys; the previous generation stays published. Returns the new key ids."""
        self.generations = [_generation(), *self.generations][:GENERATIONS]
        return [k.kid for k in self.generations[0].values()]

    # -- the API -------------------------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        """OpenID Connect discovery: who issues, and where the keys are."""
        return json_response({
            "issuer": self.issuer,
            "jwks_uri": self.issuer + "/jwks",
            "token_endpoint": self.issuer + "/_demo/token",
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(ALGORITHMS),
            "scopes_supported": ["openid", *EMPLOYEE_SCOPES],
        })

    async def jwks(self, request: Request) -> Response:
        """The public keys of every published generation."""
        keys = [key.jwk() for generation in self.generations for key in generation.values()]
        return json_response({"keys": keys}, headers={"Cache-Control": "max-age=300"})

    # -- the control plane ---------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            return json_response({"detail": "body is not JSON"}, 400)
        if not isinstance(body, dict):
            return json_response({"detail": "body must be a JSON object"}, 400)
        try:
            options = _token_options(body)
            token = self.mint(**options)
        except (TypeError, ValueError) as exc:
            return json_response({"detail": str(exc)}, 400)
        return json_response({"access_token": token, "token_type": "Bearer",
                              "expires_in": 0 if options["expired"] else int(options["lifetime_s"])},
                             headers={"Cache-Control": "no-store"})

    async def _rotate(self, request: Request) -> Response:
        return json_response({"kids": self.rotate()})


def _token_options(body: Mapping[str, Any]) -> dict[str, Any]:
    """``mint``'s arguments from a ``POST /_demo/token`` body; a wrong type is a ``ValueError``."""
    unknown = sorted(set(body) - {"scope", "subject", "bsn", "name", "audience", "algorithm", "lifetime_s", "expired"})
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}")
    scope = body.get("scope", list(EMPLOYEE_SCOPES))
    scopes = scope.split() if isinstance(scope, str) else scope
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("scope must be a list of strings or a space-separated string")
    options: dict[str, Any] = {"scopes": scopes, "expired": body.get("expired", False),
                               "lifetime_s": body.get("lifetime_s", 3600)}
    for key in ("subject", "bsn", "name", "audience", "algorithm"):
        if key in body:
            if not isinstance(body[key], str) or not body[key]:
                raise ValueError(f"{key} must be a non-empty string")
            options[key] = body[key]
    if not isinstance(options["expired"], bool):
        raise ValueError("expired must be a boolean")
    lifetime = options["lifetime_s"]
    if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or not 0 < lifetime <= 30 * 86400:
        raise ValueError("lifetime_s must be a number of seconds, at most 30 days")
    return options
