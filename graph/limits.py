"""Limits on what one query may ask, so no client can make the gateway flood the sources.

``Limits`` comes from ``[gateway.limits]`` (plus ``[gateway] introspection``). Its validation rules are built
once per distinct ``Limits`` and cached: registering limiters as per-request factories would build new rule
classes for every request and defeat the validation cache (Strawberry issue #4635), which keys on the rules.

The estimated cost is roughly the number of upstream calls a query can cause, worked out from the document
alone (no source is asked): a list multiplies what is below it by its size (``first``, default 20; other
lists ``FANOUT``), a link field costs one call per parent unless its source batches (``BATCH``), statistics
count the pages their scan may read (``FIXED``), and a root lookup costs 1. Fields that arrive inline
(Zaken ``expand``, BAG dwellings and buildings) cost nothing (``FREE``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from graph.paging import DEFAULT_FIRST, LARGEST_FIRST, MAX_FIRST

FANOUT = 5  # items assumed per parent in a list without `first` (rollen, documenten, statussen, ...)
# Calls a statistics field may make: the pages its scan reads at most (resolvers/zgw.py MAX_SCAN_PAGES 40 plus
# 5 pages of zaaktypen; Signalen at most 40 count calls, MAX_COUNT_COMBINATIONS).
FIXED: Mapping[str, int] = {"Query.zakenStatistiek": 45, "Query.meldingenStatistiek": 40}
# Links whose source answers many parents in one call: parents per call (README, "What each link costs").
BATCH: Mapping[str, int] = {
    "Rol.persoon": 20, "Persoon.partners": 20, "Persoon.ouders": 20, "Persoon.kinderen": 20, "Query.personen": 20,
    "Zaak.documenten": 100,
    # Catalogi types: one call per distinct type; about ten distinct types among many parents
    "Zaak.zaaktype": 10, "Status.statustype": 10, "Rol.roltype": 10, "Resultaat.resultaattype": 10,
    "ZaakEigenschap.eigenschap": 10, "Document.informatieobjecttype": 10, "Besluit.besluittype": 10,
    "ZaakGroep.zaaktype": 10, "ZaakGroep.status": 10,
}
FREE = frozenset({
    "Zaak.rollen", "Zaak.status", "Zaak.resultaat", "Zaak.zaakobjecten", "Zaak.eigenschappen",
    "Adres.adresseerbaarObject", "AdresseerbaarObject.panden",
})
LIST_ARGUMENT: Mapping[str, str] = {"Query.personen": "burgerservicenummers"}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may cost; ``[gateway.limits]``, each key optional."""

    max_depth: int = 12  # the deepest useful path: zaken.nodes.rollen.persoon.verblijfplaats.adres.adresseerbaarObject…
    max_aliases: int = 30
    max_tokens: int = 4000
    max_cost: int = 1000
    max_calls: int = 500  # upstream calls per request, whatever the estimate said
    # for the whole request: no source call starts or runs after it, and the answer holds what came in time
    deadline_s: float = 10.0
    max_body_bytes: int = 1_000_000
    introspection: bool = True  # [gateway] introspection
    graphiql: bool = True  # [gateway] graphiql
    trusted_documents: str = "off"  # only | also | off
    documents: str | None = None  # file or folder of trusted documents

    @classmethod
    def from_options(cls, gateway: Mapping[str, Any]) -> Limits:
        """From the ``[gateway]`` table (its ``limits`` sub-table and two switches); a wrong value is a
        ``ValueError`` naming the key, so a typo never silently weakens a limit."""
        table = gateway.get("limits", {})
        if not isinstance(table, Mapping):
            raise ValueError("[gateway.limits] must be a table")
        # GEMEENTEGRAAF_GATEWAY_LIMITS_MAX_COST=... arrives as limits_max_cost in [gateway]
        table = {**table, **{k[len("limits_"):]: v for k, v in gateway.items() if k.startswith("limits_")}}
        known = {f for f in cls.__dataclass_fields__ if f not in ("introspection", "graphiql")}
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"[gateway.limits] has unknown key(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key in ("max_depth", "max_aliases", "max_tokens", "max_cost", "max_calls", "max_body_bytes"):
            if key in table:
                values[key] = _positive(key, table[key], int)
        if "deadline_s" in table:
            values["deadline_s"] = _positive("deadline_s", table["deadline_s"], float)
        for key in ("introspection", "graphiql"):
            if key in gateway:
                values[key] = _flag(key, gateway[key])
        mode = str(table.get("trusted_documents", "off"))
        if mode not in ("only", "also", "off"):
            raise ValueError("[gateway.limits] trusted_documents must be 'only', 'also' or 'off'")
        values["trusted_documents"] = mode
        if table.get("documents"):
            values["documents"] = str(table["documents"])
        if mode != "off" and "documents" not in values:
            raise ValueError("[gateway.limits] trusted_documents needs documents (a file or folder)")
        return cls(**values)


def _positive(key: str, value: Any, kind: Callable[[Any], Any]) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"[gateway.limits] {key} must be a number") from None
    if number <= 0:
        raise ValueError(f"[gateway.limits] {key} must be more than 0")
    return number


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes", "false", "0", "no"):  # from the environment
        return str(value).lower() in ("true", "1", "yes")
    raise ValueError(f"[gateway] {key} must be true or false")


DEFAULT = Limits()


def limits_of(context: Any) -> Limits:
    """The limits of the app serving this request (``app.state.limits``), else the defaults."""
    request = getattr(context, "request", None)
    app = request.scope.get("app") if request is not None else None
    found = getattr(getattr(app, "state", None), "limits", None)
    return found if isinstance(found, Limits) else DEFAULT


@functools.cache
def rules(limits: Limits, extra: tuple[type[ASTValidationRule], ...] = ()) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules for ``limits`` (and the schema's own ``extra`` rules), built once per distinct
    value (see the module docstring)."""
    built: list[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        cost_rule(limits.max_cost),
    ]
    if not limits.introspection:
        built.append(NoSchemaIntrospectionCustomRule)
    return (*built, *extra)


class Limited(SchemaExtension):
    """Applies the request's ``Limits``: a token limit on parsing, and the cached rules on validation."""

    extra: tuple[type[ASTValidationRule], ...] = ()  # the schema's own rules, run with the limits

    def on_operation(self) -> Iterator[None]:
        limits = limits_of(self.execution_context.context)
        self.execution_context.parse_options["max_tokens"] = limits.max_tokens
        rules_now = rules(limits, self.extra)
        self.execution_context.validation_rules = (*self.execution_context.validation_rules, *rules_now)
        yield


def limits(*extra: type[ASTValidationRule]) -> list[type[SchemaExtension]]:
    """The schema extension that enforces the limits, with the schema's own validation ``extra`` rules."""
    return [type("Limited", (Limited,), {"extra": tuple(extra)})]


# -- estimated cost ----------------------------------------------------------------------------------------


def cost_rule(max_cost: int) -> type[ASTValidationRule]:
    """A rule refusing operations whose estimated cost exceeds ``max_cost``, with the estimate in the error."""

    class MaxCost(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            if root is None:
                return
            estimate = math.ceil(Estimate(self.context, node).selection(node.selection_set, root, 1.0))
            if estimate > max_cost:
                self.report_error(
                    GraphQLError(
                        f"This query would cost about {estimate} upstream calls; at most {max_cost} are allowed. "
                        "Ask for fewer items (`first`), fewer aliases or fewer nested links.",
                        node,
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": estimate, "maxCost": max_cost},
                    )
                )

    return MaxCost


class Estimate:
    """Walks one operation, multiplying by list sizes on the way down."""

    def __init__(self, context: ValidationContext, operation: OperationDefinitionNode) -> None:
        self.context = context
        self.defaults = {
            v.variable.name.value: v.default_value for v in operation.variable_definitions or () if v.default_value
        }
        self.spreads: set[str] = set()

    def selection(self, selection_set: SelectionSetNode, parent: GraphQLObjectType, parents: float,
                  page: float = 1.0) -> float:
        total = 0.0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent, parents, page)
            elif isinstance(node, InlineFragmentNode):
                kind = self._type(node.type_condition.name.value if node.type_condition else None, parent)
                total += self.selection(node.selection_set, kind, parents, page)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in self.spreads:  # cycles are another rule's error
                    continue
                self.spreads.add(name)
                total += self.selection(
                    fragment.selection_set, self._type(fragment.type_condition.name.value, parent), parents, page
                )
                self.spreads.discard(name)
        return total

    def field(self, node: FieldNode, parent: GraphQLObjectType, parents: float, page: float) -> float:
        name = node.name.value
        definition = parent.fields.get(name)
        if definition is None or name.startswith("__"):
            return 0.0
        key = f"{parent.name}.{name}"
        own = 0.0
        if key in FIXED:
            own = parents * FIXED[key]
        elif key not in FREE and _resolves(definition) and not parent.name.endswith(("Connection", "Edge")):
            own = math.ceil(parents / BATCH.get(key, 1))
        target = get_named_type(definition.type)
        if node.selection_set is None or not isinstance(target, GraphQLObjectType):
            return own
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if "first" in definition.args:  # a connection: its nodes/edges hold `first` items each
            return own + self.selection(node.selection_set, target, parents, self._int(arguments.get("first")))
        if parent.name.endswith("Connection") and name in ("nodes", "edges"):
            size = page
        elif key in LIST_ARGUMENT:
            value = arguments.get(LIST_ARGUMENT[key])
            size = len(value.values) if isinstance(value, ListValueNode) else MAX_FIRST
        elif _is_list(definition.type):
            size = FANOUT
        else:
            size = 1
        return own + self.selection(node.selection_set, target, parents * size)

    def _int(self, value: Any) -> float:
        if isinstance(value, VariableNode):
            value = self.defaults.get(value.name.value)
            if value is None:
                return MAX_FIRST  # unknown until execution: the worst case
        if isinstance(value, IntValueNode):
            return max(0, min(int(value.value), LARGEST_FIRST))  # more than its field allows is refused anyway
        return DEFAULT_FIRST

    def _type(self, name: str | None, fallback: GraphQLObjectType) -> GraphQLObjectType:
        found = self.context.schema.get_type(name) if name else None
        return found if isinstance(found, GraphQLObjectType) else fallback


def _resolves(definition: Any) -> bool:
    """A field with a resolver of its own may call a source; plain attributes never do."""
    strawberry_field = definition.extensions.get("strawberry-definition")
    return getattr(strawberry_field, "base_resolver", None) is not None


def _is_list(kind: Any) -> bool:
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)
