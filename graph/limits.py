"""Limits on what one query may ask, so no client can make the gateway flood the sources.

The rules are built once at import: registering the limiters as per-request factories would build new rule
classes for every request and defeat the validation cache (Strawberry issue #4635).
"""

from __future__ import annotations

from collections.abc import Callable

from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

MAX_DEPTH = 12  # the deepest useful path today: zaken.nodes.rollen.persoon.verblijfplaats.adres.adresseerbaarObject…
MAX_ALIASES = 30
MAX_TOKENS = 4000

RULES: tuple[type[ASTValidationRule], ...] = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


def limits() -> list[Callable[[], SchemaExtension]]:
    """Schema extensions: the rules above, and a token limit that refuses huge documents before parsing."""
    return [lambda: AddValidationRules(list(RULES)), lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS)]
