"""Who may see what: one scope per source, checked where a query crosses into that source.

``requires(scope)`` is a field extension built once, at import, and placed on root fields and on the link
fields that cross into another source; leaves inherit their link's decision, since a check on every leaf
costs about twice the execution time (see the performance notes). A refusal raises ``Forbidden`` on that
field only: it is nullable, so the rest of the answer stays. The scope is appended to the field's
description, so GraphiQL shows what to ask for.

A scope marked personal in ``SCOPES`` also binds the field to a purpose (``graph.purpose``): without a
registered activity the field answers ``PURPOSE_REQUIRED``/``PURPOSE_UNKNOWN`` before any source is asked.

Citizens (a caller with a BSN) reach only ``me`` and the links below it that are marked ``citizen=True``;
their scopes are not consulted there, because what they may see is fixed: their own data. The resolvers
enforce that where they fetch (``own_only``, ``no_citizen``), so no argument, id, URL or link can widen it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError
from graph.context import Context
from graph.errors import Forbidden, GatewayError, PurposeError
from graph.purpose import DIRECTIVE


@dataclass(frozen=True, slots=True)
class Scope:
    """``sources`` are the register's source names (``bronnen``) the scope stands for."""

    personal: bool
    sources: frozenset[str]


def _scope(personal: bool, *sources: str) -> Scope:
    return Scope(personal, frozenset(sources))


# Every scope the gateway knows. Personal scopes need a purpose and may never be given to anonymous callers.
SCOPES: dict[str, Scope] = {
    "brp:lezen": _scope(True, "brp"),
    "zaken:lezen": _scope(True, "zaken", "catalogi", "documenten", "besluiten"),
    "klantinteracties:lezen": _scope(True, "klantinteracties"),
    "vakantieverhuur:lezen": _scope(True, "vakantieverhuur"),
    "huishoudboekje:lezen": _scope(True, "huishoudboekje"),
    "signalen:lezen": _scope(True, "signalen"),  # reporters' texts and addresses
    "bag:lezen": _scope(False, "bag"),  # a public register
    "objecten:lezen": _scope(False, "objecten"),  # public-space objects: trees, lights, containers
    "zaken:statistiek": _scope(False, "zaken", "catalogi"),  # counts per type and status, never a case
    "signalen:statistiek": _scope(False, "signalen"),  # counts per category, state, buurt, week
}


def personal_scopes() -> frozenset[str]:
    return frozenset(name for name, scope in SCOPES.items() if scope.personal)


def check_anonymous_scopes(scopes: Iterable[str] | str) -> frozenset[str]:
    """The configured ``anonymous_scopes``, refused at start-up when one is unknown or personal: personal
    data goes only to a known client with a stated purpose."""
    named = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    unknown = sorted(s for s in named if s not in SCOPES)
    if unknown:
        raise ConfigError(f"[gateway] anonymous_scopes: unknown scope(s) {', '.join(unknown)}")
    personal = sorted(s for s in named if SCOPES[s].personal)
    if personal:
        raise ConfigError(f"[gateway] anonymous_scopes may not hold personal scopes: {', '.join(personal)}")
    return frozenset(named)


class Requires(FieldExtension):
    """The guard of one field: ``scopes`` all needed (unless a citizen may pass), a purpose for personal ones."""

    def __init__(self, scopes: tuple[str, ...], citizen: bool, me: bool) -> None:
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope(s) {unknown}")
        self.scopes = scopes
        self.citizen = citizen or me
        self.me = me
        self.personal = any(SCOPES[s].personal for s in scopes)

    def apply(self, field: StrawberryField) -> None:
        said = (field.description or "").rstrip()
        added = ""
        if self.me:
            added += " Only for a citizen (a token with a BSN); their own data."
        elif self.scopes:
            added += f" Requires scope {', '.join(f'`{s}`' for s in self.scopes)}."
        else:  # a field that only opens others, each guarded by its own scope (gemeente)
            added += " For any employee's token (not a citizen's); its fields need their own scopes."
        if self.personal:
            added += f" Personal data: needs a purpose ({PURPOSE_HEADER} or @{DIRECTIVE})."
        if not said.endswith(added.strip()):  # every schema built from the field applies it (the subgraph too)
            field.description = (said + added).strip()

    def check(self, ctx: Context) -> None:
        caller = ctx.caller
        if caller.citizen:
            if not self.citizen:
                raise Forbidden("A citizen may only query their own data, through 'me'.")
        elif self.me:
            raise Forbidden("'me' is for citizens: the token names no BSN.")
        else:
            missing = [s for s in self.scopes if s not in caller.scopes]
            if missing:
                raise Forbidden(f"This field requires the scope '{missing[0]}'.", scope=missing[0])
        if self.personal:
            if ctx.request is not None and ctx.request.method == "GET":
                raise Forbidden("Personal data is never asked over GET: its arguments would stand in the URL, "
                                "and URLs end up in proxy logs. Send the query with POST.")
            self.check_purpose(ctx)

    def check_purpose(self, ctx: Context) -> None:
        if ctx.purpose_error is not None or ctx.purpose is None:
            raise ctx.purpose_error or PurposeError("PURPOSE_REQUIRED", "No purpose was settled.")

    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info[Context, None], **kwargs: Any) -> Any:
        self.check(info.context)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info[Context, None], **kwargs: Any
    ) -> Any:
        self.check(info.context)
        result = next_(source, info, **kwargs)
        return await result if inspect.isawaitable(result) else result


def needs_personal_scope(field: StrawberryField | None) -> bool:
    """Whether a field's guard asks for a personal scope or is ``me``'s: its answer is someone's data (the
    response cache keeps no operation that reaches one). A field that is not Strawberry's counts as one."""
    if field is None:
        return True
    return any(isinstance(e, Requires) and (e.personal or e.me) for e in field.extensions)


def may_resolve(ctx: Context, owner: type, name: str) -> bool:
    """Whether ``owner.name``'s guard would let this caller through: a parent that starts a child's source call
    early (``Context.start``) asks this first, so nobody's data is fetched for a field that will be refused."""
    definition = get_object_definition(owner, strict=True)
    field = next((f for f in definition.fields if f.python_name == name), None)
    if field is None:
        return False
    try:
        for extension in field.extensions:
            if isinstance(extension, Requires):
                extension.check(ctx)
    except GatewayError:
        return False
    return True


def requires(*scopes: str, citizen: bool = False) -> list[FieldExtension]:
    """The ``extensions`` of a guarded field; ``citizen=True`` lets a citizen through (their own data only)."""
    return [Requires(scopes, citizen, me=False)]


def citizens_only(*scopes: str) -> list[FieldExtension]:
    """For ``me`` and its fields: citizens only; ``scopes`` say which sources (and so which purpose) it uses."""
    return [Requires(scopes, True, me=True)]


# -- guards where data is fetched: a citizen's source calls are scoped to their own BSN ---------------------


def own_only(ctx: Context, bsns: Iterable[str], what: str) -> None:
    """Refuses a citizen's look-up of any BSN but their own (``what`` names the data, for the message)."""
    own = ctx.caller.bsn
    if own is not None and any(b != own for b in bsns):
        raise Forbidden(f"A citizen may only see their own {what}.")


def no_citizen(ctx: Context, what: str) -> None:
    """Refuses a look-up a citizen has no business making (it is not scoped to a BSN)."""
    if ctx.caller.citizen:
        raise Forbidden(f"A citizen may not look up {what}.")
