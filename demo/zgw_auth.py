"""ZGW authentication as Open Zaak 1.30 was measured to do it.

A client sends ``Authorization: Bearer <JWT>``, HS256-signed with the secret that belongs to its
``client_id`` claim. Open Zaak answers 403 (never 401) when the token is missing, malformed, signed with
the wrong secret, lacks ``client_id`` or ``iat``, or was issued more than 3600 s ago (no leeway).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import jwt

MAX_AGE_S = 3600


def zgw_clients(config: Mapping[str, object], sources: tuple[str, ...]) -> dict[str, str]:
    """client_id -> secret for every ZGW source table in the demo configuration."""
    table = config.get("sources", {})
    assert isinstance(table, Mapping)
    clients: dict[str, str] = {}
    for name in sources:
        entry = table.get(name, {})
        if isinstance(entry, Mapping) and entry.get("client_id") and entry.get("secret"):
            clients[str(entry["client_id"])] = str(entry["secret"])
    return clients


def check_zgw_token(authorization: str | None, clients: Mapping[str, str], now: float | None = None) -> str | None:
    """Return why the token is refused, or None when it is valid."""
    if not authorization:
        return "Authenticatiegegevens zijn niet opgegeven."
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "Authenticatiegegevens zijn niet opgegeven."
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
        client_id = unverified.get("client_id")
        if not isinstance(client_id, str) or client_id not in clients:
            return "Client identifier bestaat niet."
        claims = jwt.decode(
            token, clients[client_id], algorithms=["HS256"],
            options={"require": ["iat"], "verify_iat": False, "verify_exp": False},
        )
    except jwt.PyJWTError:
        return "Ongeldige JWT."
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)):
        return "Ongeldige JWT: iat ontbreekt."
    current = time.time() if now is None else now
    if current - iat > MAX_AGE_S:
        return "De JWT is verlopen."
    if iat - current > MAX_AGE_S:
        return "De JWT is uitgegeven in de toekomst."
    return None
