"""The HTTP-level guards around the app, outermost first, each in its own module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.middleware import Middleware

from graph.limits import Limits
from graph.request_limits import RequestLimits
from graph.security_headers import SecurityHeaders
from graph.trusted_documents import TrustedDocuments, load


def http_middleware(limits: Limits, gateway: Mapping[str, Any]) -> list[Middleware]:
    """Headers on every answer (413s included); then the body limit and deadline; then trusted documents,
    which read the body the limit has already bounded."""
    hsts = str(gateway.get("hsts", "false")).lower() in ("true", "1", "yes")
    guards = [Middleware(SecurityHeaders, hsts=hsts), Middleware(RequestLimits, limits=limits)]
    if limits.trusted_documents != "off" and limits.documents:
        guards.append(Middleware(TrustedDocuments, documents=load(limits.documents), mode=limits.trusted_documents))
    return guards
