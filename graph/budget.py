"""Per-request budgets: at most ``max_calls`` upstream calls, and none after the request's deadline
(``deadline_s``, 10 s by default).

The cost estimate (``graph.limits``) refuses costly queries before they start; this stage is what holds when
an estimate was wrong: it counts each call a GraphQL request makes and refuses the ones beyond the budget,
and cancels calls still running at the deadline, whatever their source's own time limits (their fields
answer ``BUDGET_EXCEEDED``, the rest of the answer stays; ``tests/gateway/test_fault_matrix.py``). A call made
outside any request is not counted and has only its source's limits.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graph.errors import SourceError
from graph.limits import limits_of

if TYPE_CHECKING:  # graph.source builds its stage list from this module
    from graph.calls import Next, SourceCall, SourceResponse

STARTED = "gemeentegraaf.started"  # ASGI scope key: when the request arrived (graph.request_limits sets it)


@dataclass(slots=True)
class Budget:
    calls_left: int
    deadline: float  # time.monotonic()


def budget_exceeded(source: str, message: str) -> SourceError:
    return SourceError("BUDGET_EXCEEDED", source, message)


class CallBudget:
    """A stage shared by every source (``CALL_BUDGET``), so a request's calls count together: one ``Budget``
    per request's context, kept weakly so it ends with the request."""

    def __init__(self) -> None:
        self._budgets: weakref.WeakKeyDictionary[object, Budget] = weakref.WeakKeyDictionary()

    def budget(self, context: object) -> Budget:
        context = getattr(context, "root", context)  # a municipality's part spends the request's budget
        found = self._budgets.get(context)
        if found is None:
            limits = limits_of(context)
            request = getattr(context, "request", None)
            started = request.scope.get(STARTED) if request is not None else None
            start = started if isinstance(started, float) else time.monotonic()
            found = self._budgets[context] = Budget(limits.max_calls, start + limits.deadline_s)
        return found

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        if call.context is None:
            return await next(call)
        budget = self.budget(call.context)
        remaining = budget.deadline - time.monotonic()
        if remaining <= 0:
            raise budget_exceeded(call.source, "The request ran out of time before this field's source was asked.")
        if budget.calls_left <= 0:
            raise budget_exceeded(
                call.source, "The request used its budget of upstream calls; ask for fewer items or links."
            )
        budget.calls_left -= 1
        try:
            async with asyncio.timeout(remaining):
                return await next(call)
        except TimeoutError:
            raise budget_exceeded(call.source, "The request ran out of time while this field's source was asked.") \
                from None


CALL_BUDGET = CallBudget()
