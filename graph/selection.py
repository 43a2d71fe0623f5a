"""What a GraphQL query selected below the current field, as dotted paths.

Sources that can return partial objects (BRP's mandatory ``fields``) or inline related objects (ZGW
``expand``) are asked for exactly this, so the gateway fetches what the query needs and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable

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
