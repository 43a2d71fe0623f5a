"""Objects a source inlined through ``expand``: each one primes the request's follow-cache.

ZGW (Zaken, Documenten, Besluiten) and Open Klant answer ``expand`` the same way: an ``_expand`` object
beside the links, holding the linked objects (or lists of them), each with its own ``url`` and possibly its
own ``_expand``. Recording them under their URLs means following such a link later costs no call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.context import Context


def absorb(ctx: Context, obj: Any) -> None:
    """Prime the follow-cache with everything in an object's ``_expand``, at any depth."""
    if not isinstance(obj, Mapping):
        return
    inline = obj.get("_expand")
    if not isinstance(inline, Mapping):
        return
    for value in inline.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping) and isinstance(item.get("url"), str):
                absorb(ctx, item)
                ctx.prime(item["url"], item)
