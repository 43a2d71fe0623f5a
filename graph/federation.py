"""The graph as an Apollo Federation v2 subgraph, served beside ``/graphql`` when ``[gateway.federation]`` says so.

A router (Apollo Router, Hive Gateway, …) composes it with other subgraphs and asks it two things more than a
client would: ``_service { sdl }`` (the schema with its ``@key`` directives) and ``_entities(representations:)``
(objects by key, for fields another subgraph adds to them). Everything else is the same graph, served by the
same endpoint class as ``/graphql`` (``subgraph_endpoint``): the same bearer token, purpose binding, processing
log, limits and metrics, so a router is one more client and never a way around them.

Which types are entities, and how they are fetched by key, is declared by the product (``schema.federation``)
as ``Entity`` values; this module names no source. ``_entities`` fetches all representations of one type with
one call of that type's ``resolve``, so they batch as the same objects do in a normal query.

Why the keys are not written on the types themselves: a ``@key`` on a shared type would print in ``/graphql``'s
SDL too. ``subgraph_of`` gives the subgraph its own copies of those types' definitions, with the key added, and
the normal schema keeps its own; results are marked with ``strawberry.cast`` so the ``_Entity`` union knows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode, SelectionSetNode
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from graph.authz import Requires
from graph.config import ConfigError, GatewayConfig, declare_gateway_table
from graph.errors import BadRequest

DEFAULT_PATH = "/subgraph/graphql"
MAX_REPRESENTATIONS = 100  # per ``_entities`` call, as ``personen`` takes at most 100 BSNs
FEDERATION_VERSION = "2.3"  # @key and @link are all this subgraph uses; routers of the last years all read 2.3

Resolve = Callable[[Info[Any, Any], list[str]], Awaitable[Sequence[object | None]]]
"""Objects for keys, in order: None for an unknown key, an exception for a key that failed on its own."""


def _any_key(key: str) -> None:
    """The default key check: every non-empty string may be asked for."""


@dataclass(frozen=True)
class Entity:
    """A type the subgraph offers by key. ``resolve`` gets every key of one ``_entities`` call at once and an
    ``info`` whose selection is what the query asks of this type only; ``scopes`` are checked as on the root
    field that reaches the type, so ``_entities`` opens nothing ``/graphql`` keeps shut; ``check`` raises
    ``BadRequest`` for a key that is malformed (before anything is fetched)."""

    type: type
    key: str  # the key field, as GraphQL names it
    resolve: Resolve
    scopes: tuple[str, ...]
    check: Callable[[str], None] = _any_key
    guard: Requires = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "guard", Requires(self.scopes, citizen=False, me=False))

    @property
    def name(self) -> str:
        return get_object_definition(self.type, strict=True).name


# -- configuration ---------------------------------------------------------------------------------------------

_KEYS = frozenset({"enabled", "path"})


@dataclass(frozen=True, slots=True)
class FederationSettings:
    enabled: bool = False
    path: str = DEFAULT_PATH


def federation_settings(config: GatewayConfig) -> FederationSettings:
    """``[gateway.federation]``: ``enabled`` (default false) and ``path`` (default ``/subgraph/graphql``);
    ``GEMEENTEGRAAF_GATEWAY_FEDERATION_<KEY>`` overrides one value."""
    table = config.options.get("federation", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.federation] must be a table")
    table = {**table, **{k[len("federation_"):]: v for k, v in config.options.items() if k.startswith("federation_")}}
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"[gateway.federation] has unknown key(s): {', '.join(unknown)}")
    enabled = table.get("enabled", False)
    if isinstance(enabled, str) and enabled.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
        enabled = enabled.strip().lower() in {"true", "1", "yes"}
    if not isinstance(enabled, bool):
        raise ConfigError("[gateway.federation] enabled must be true or false")
    path = table.get("path", DEFAULT_PATH)
    if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") in ("", "/graphql") or " " in path:
        raise ConfigError("[gateway.federation] path must be a path of its own, such as '/subgraph/graphql'")
    return FederationSettings(enabled, path)


declare_gateway_table("federation", _KEYS, federation_settings)


# -- the endpoint ----------------------------------------------------------------------------------------------

E = TypeVar("E")


def subgraph_endpoint(endpoint: E, schema: strawberry.Schema) -> E:
    """``/graphql``'s endpoint again, over the subgraph schema. A shallow copy, so everything the app factory set
    on it (authenticator, register, processing log, metrics, tracing) is this one's too; only GraphiQL and the
    response cache, whose rules are read from ``/graphql``'s own schema, are left out."""
    clone = copy.copy(endpoint)
    clone.schema = schema  # type: ignore[attr-defined]
    clone.graphql_ide = None  # type: ignore[attr-defined]
    clone.responses = None  # type: ignore[attr-defined]
    return clone


# -- the schema ------------------------------------------------------------------------------------------------


class _Subgraph(strawberry.federation.Schema):
    """Strawberry's federation schema with a batched ``_entities``: mixed before the gateway's own schema class
    (``subgraph_of``), so that class's error logging and extension choices hold here too."""

    def __init__(self, entities: Mapping[str, Entity], **kwargs: Any) -> None:
        self.entity_types = dict(entities)
        super().__init__(**kwargs)

    async def entities_resolver(  # type: ignore[override]
        self, info: Info[Any, Any], representations: list[FederationAny]
    ) -> list[FederationAny]:
        if len(representations) > MAX_REPRESENTATIONS:
            raise BadRequest(f"Ask for at most {MAX_REPRESENTATIONS} entities at once.")
        answers: list[object] = [None] * len(representations)
        wanted: dict[str, list[tuple[int, str]]] = {}
        for index, representation in enumerate(representations):
            try:
                name, key = self._read(representation)
            except BadRequest as refusal:
                answers[index] = refusal  # graphql-core raises it at this item: one error, the rest answered
                continue
            wanted.setdefault(name, []).append((index, key))
        await asyncio.gather(*(self._fetch(info, self.entity_types[n], items, answers) for n, items in wanted.items()))
        return answers  # type: ignore[return-value]

    def _read(self, representation: object) -> tuple[str, str]:
        """The type and key of one representation; a ``BadRequest`` that never quotes the key (it may be a BSN)."""
        if not isinstance(representation, Mapping):
            raise BadRequest("Each representation must be an object with '__typename' and the type's key.")
        name = representation.get("__typename")
        entity = self.entity_types.get(name) if isinstance(name, str) else None
        if entity is None:
            raise BadRequest(f"'__typename' must be one of {', '.join(sorted(self.entity_types))}.")
        key = representation.get(entity.key)
        if not isinstance(key, str) or not key:
            raise BadRequest(f"A {entity.name} representation needs its key '{entity.key}' as a string.")
        entity.check(key)
        return entity.name, key

    async def _fetch(
        self, info: Info[Any, Any], entity: Entity, items: list[tuple[int, str]], answers: list[object]
    ) -> None:
        try:
            entity.guard.check(info.context)
            found = list(await entity.resolve(narrowed(info, entity.name), [key for _, key in items]))
        except Exception as error:  # each of the type's items carries it; ShapeErrors masks what is no GatewayError
            found = [error] * len(items)
        for (index, _), value in zip(items, found, strict=True):
            keep = value is None or isinstance(value, Exception)
            answers[index] = value if keep else strawberry.cast(entity.type, value)  # the _Entity union knows it so


def subgraph_of(schema: strawberry.Schema, entities: Sequence[Entity]) -> strawberry.Schema:
    """``schema`` (its query, directives, configuration, extensions, executor and class) as a federation subgraph
    whose ``entities`` carry their ``@key``. Subscriptions stay on ``/graphql``: a router would carry them over a
    transport of its own, and the subgraph serves what routers ask of it, queries."""
    named = {entity.name: entity for entity in entities}
    kind = type("SubgraphSchema", (_Subgraph, type(schema)), {})
    with _keyed(entities):
        built: strawberry.Schema = kind(
            named,
            query=schema.query,
            directives=schema.directives,
            config=schema.config,
            extensions=schema.extensions,
            execution_context_class=schema.execution_context_class,
            federation_version=FEDERATION_VERSION,
        )
    return built


@contextlib.contextmanager
def _keyed(entities: Sequence[Entity]) -> Iterator[None]:
    """While the subgraph is built, each entity type's definition is a copy with its ``@key``: the subgraph keeps
    the copy (its types and SDL are made from it now), and the type has its own definition back afterwards, so
    ``/graphql``'s schema and SDL never see a key."""
    originals: dict[type, Any] = {}
    try:
        for entity in entities:
            original = get_object_definition(entity.type, strict=True)
            keyed = copy.copy(original)
            keyed.directives = [*(original.directives or ()), Key(fields=entity.key)]  # type: ignore[arg-type]
            originals[entity.type] = original
            setattr(entity.type, "__strawberry_definition__", keyed)  # noqa: B010 - a dunder mypy cannot see on type
        yield
    finally:
        for kind, original in originals.items():
            setattr(kind, "__strawberry_definition__", original)  # noqa: B010


def narrowed(info: Info[Any, Any], type_name: str) -> Info[Any, Any]:
    """``info`` as if ``_entities`` had selected only what the query asks of ``type_name``, so each source is
    asked for its own type's fields (the BRP's ``fields``, ZGW's ``expand``), not for every type's in the call."""
    raw = info._raw_info
    nodes = [
        FieldNode(
            name=node.name,
            alias=node.alias,
            arguments=node.arguments,
            directives=node.directives,
            selection_set=SelectionSetNode(
                selections=tuple(s for s in node.selection_set.selections if _applies(s, type_name, raw.fragments))
            )
            if node.selection_set is not None
            else None,
        )
        for node in raw.field_nodes
    ]
    return Info(_raw_info=raw._replace(field_nodes=nodes), _field=info._field)


def _applies(selection: SelectionNode, type_name: str, fragments: Mapping[str, Any]) -> bool:
    if isinstance(selection, InlineFragmentNode):
        return selection.type_condition is None or selection.type_condition.name.value == type_name
    if isinstance(selection, FragmentSpreadNode):
        fragment = fragments.get(selection.name.value)
        return fragment is not None and fragment.type_condition.name.value in (type_name, "_Entity")
    return True  # __typename
