"""Asking the gateway as a chosen caller: a real token from the demo issuer, with or without a purpose."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from demo.issuer import IssuerSimulator
from graph.authz import SCOPES
from graph.caller import PURPOSE_HEADER
from tests.conftest import Gateway

REGISTER = "https://register.gemeente.example/verwerkingsactiviteiten/"
ZAAKBEHANDELING = REGISTER + "zaakbehandeling/1"
VAKANTIEVERHUUR = REGISTER + "toezicht-vakantieverhuur/1"
MIJN_GEMEENTE = REGISTER + "mijn-gemeente/1"
ALL = tuple(SCOPES)
LEAVE_OUT = None


async def ask(
    gw: Gateway,
    query: str,
    scopes: Iterable[str] = ALL,
    *,
    bsn: str | None = None,
    purpose: str | None = ZAAKBEHANDELING,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``query`` as an employee with ``scopes``, or as the citizen ``bsn``; ``purpose`` None sends no header."""
    issuer: IssuerSimulator = gw.world.simulators["issuer"]  # type: ignore[assignment]
    token = issuer.mint(list(scopes) if bsn is None else [], bsn=bsn, lifetime_s=600)
    headers = {"Authorization": f"Bearer {token}", PURPOSE_HEADER: purpose}
    return await gw.query(query, variables, headers)


def errors_by_path(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each error by its dotted path (list indexes included)."""
    return {".".join(str(p) for p in e.get("path") or []): e for e in answer.get("errors", [])}


def codes(answer: dict[str, Any]) -> set[str]:
    return {e["extensions"]["code"] for e in answer.get("errors", [])}
