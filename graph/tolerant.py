"""Reading source JSON as sources really send it, not as their specs promise.

Every reader returns a value of the expected type or None (or an empty container): nulls where a spec
says required, "" for absent text and URIs, numbers sent as strings, unknown extra fields. Mapping code
reads through these, so an odd value nulls one field instead of failing the response.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any


def text(value: Any) -> str | None:
    """Non-blank text; numbers become their text (identifiers sometimes arrive as numbers)."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def integer(value: Any) -> int | None:
    """An integer, also when sent as a string of digits (BAG's bouwjaar, Signalen's huisnummer)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rows(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a list, skipping anything else."""
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list) else []


def valid_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
