"""What a GraphQL query selected below the current field, as dotted paths.

Sources that can return partial objects (BRP's mandatory ``fields``) or inline related objects (ZGW
``expand``) are asked for exactly this, so the gateway fetches what the query needs and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionNode,
    get_argument_values,
    get_directive_values,
    get_named_type,
)
from graphql.execution.values import VariableValues
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection


def selected_paths(info: Info) -> frozenset[str]:
    """Dotted paths of every field selected below the field being resolved (fragments merged)."""
    paths: set[str] = set()
    for field in info.selected_fields:
        _walk(field.selections, "", paths)
    return frozenset(paths)


def _walk(selections: Iterable[Selection], prefix: str, out: set[str]) -> None:
    for selection in selections:
        if isinstance(selection, SelectedField):
            path = prefix + selection.name
            out.add(path)
            _walk(selection.selections, path + ".", out)
        elif isinstance(selection, (InlineFragment, FragmentSpread)):
            _walk(selection.selections, prefix, out)


def children(paths: Iterable[str], field: str) -> frozenset[str]:
    """The paths below ``field``, relative to it."""
    prefix = field + "."
    return frozenset(p[len(prefix) :] for p in paths if p.startswith(prefix))



def only_child(info: Info, name: str) -> dict[str, Any] | None:
    """The arguments (coerced, defaults filled in, as its resolver will get them) of the one selection of
    ``name`` directly below the current field; None when it is not selected (``@skip``/``@include`` heeded),
    or selected more than once (aliases may differ in arguments)."""
    raw: GraphQLResolveInfo[Any] = info._raw_info  # graphql-core's own: it can coerce a child's arguments
    parent = get_named_type(raw.return_type)
    definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
    if definition is None:
        return None
    found: list[FieldNode] = []
    for node in raw.field_nodes:
        if node.selection_set is not None:
            _named(node.selection_set.selections, name, raw, found)
    return get_argument_values(definition, found[0], raw.variable_values) if len(found) == 1 else None


def _named(selections: Iterable[SelectionNode], name: str, raw: GraphQLResolveInfo[Any], out: list[FieldNode]) -> None:
    for node in selections:
        if not _included(node, raw.variable_values):
            continue
        if isinstance(node, FieldNode):
            if node.name.value == name:
                out.append(node)
        elif isinstance(node, InlineFragmentNode):
            _named(node.selection_set.selections, name, raw, out)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in raw.fragments:
            _named(raw.fragments[node.name.value].selection_set.selections, name, raw, out)


def _included(node: SelectionNode, variables: VariableValues) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (skip and skip["if"]) and not (include and not include["if"])
