"""A field resolves under the context its parent object was resolved under, not always the request's.

graphql-core hands every resolver one ``context_value``. With several municipalities, what lies below
``gemeente(code:)`` must ask that municipality's sources, through the request's child context for it
(``graph.context.Context.municipality``). Rather than have every link field look for its municipality, the
executor carries the context down the tree: the sub-fields of an object run under the context its own field
ran under, and an object may name a context of its own in ``CONTEXT_ATTRIBUTE`` (a ``strawberry.Private``
field), which then holds for its whole subtree. ``info.context`` in a resolver is therefore the part of the
request the object belongs to, and resolvers keep asking ``info.context.sources["zaken"]`` unchanged.

The swap happens while graphql-core starts an object's sub-fields, which it does synchronously (an async
resolver is called, and so binds its ``info``, before anything is awaited), so concurrent branches never see
each other's context.
"""

from __future__ import annotations

from typing import Any

from graph.live import LiveExecutor

CONTEXT_ATTRIBUTE = "_context"  # an object's own context, for its fields and everything below them


class ScopedExecutor(LiveExecutor):
    def complete_object_value(
        self, return_type: Any, field_details_list: Any, info: Any, path: Any, result: Any, position_context: Any
    ) -> Any:
        own = getattr(result, CONTEXT_ATTRIBUTE, None)
        context = own if own is not None else info.context
        if context is self.context_value:
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)
        outer, self.context_value = self.context_value, context
        try:
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)
        finally:
            self.context_value = outer
