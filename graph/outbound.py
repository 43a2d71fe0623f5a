"""Tells each source who asked and why, so its own logs and purpose checks can bind a call to a purpose.

``TellSource`` is a stage: within a request it adds the NLX transaction-log headers (process id, user id,
data subjects), FSC's ``Fsc-Transaction-Id`` and a W3C ``traceparent`` that continues the request's trace
with a new span per source call. Outside a request (start-up look-ups) it adds nothing: there is no one
to name and no purpose to state.

Every value is at most 1024 characters (NLX's limit) and plain printable ASCII. A value that does not
fit is left out, never cut short: a truncated user id or list of data subjects would name the wrong
people in the source's log. In particular, a call about more data subjects than fit in 1024 characters
(about 70 BSNs; the BRP batches 20) goes without ``X-NLX-Request-Data-Subject``; the gateway's own
processing log (``graph.logboek``) still records every one of them.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from graph.auth import User
from graph.caller import MAX_HEADER, Caller, Processing

if TYPE_CHECKING:
    from graph.calls import Next, SourceCall, SourceResponse

PROCESS_ID = "X-NLX-Request-Process-Id"
USER_ID = "X-NLX-Request-User-Id"
DATA_SUBJECT = "X-NLX-Request-Data-Subject"
TRANSACTION_ID = "Fsc-Transaction-Id"
TRACEPARENT = "traceparent"


def processing_of(context: Any) -> Processing | None:
    """The request's processing, or None outside a request."""
    found = getattr(context, "processing", None)
    return found if isinstance(found, Processing) else None


def caller_of(context: Any) -> Caller | None:
    """Who asked; None outside a request and for anonymous callers (there is no one to name)."""
    found = getattr(context, "caller", None)
    return found if isinstance(found, Caller) and not found.anonymous else None


def activity_of(context: Any) -> str | None:
    """The purpose (processing-activity id) the operation was settled on: the activity ``graph.purpose``
    validated against the register (``ctx.purpose``, header or ``@verwerking``), never an unchecked value.
    A context without purpose binding (one built by hand) falls back to the request's header."""
    if hasattr(context, "purpose"):
        ident = getattr(context.purpose, "id", None)
        return ident if isinstance(ident, str) else None
    processing = processing_of(context)
    return processing.activity if processing is not None else None


def user_of(context: Any) -> User | None:
    """``(user_id, user_representation)`` for a source's audit trail (ZGW JWT claims)."""
    caller = caller_of(context)
    return (caller.subject, caller.representation) if caller is not None else None


def fits(value: str | None) -> bool:
    # printable ASCII only (0x20-0x7e): what an HTTP header value may carry as-is
    return bool(value) and len(value or "") <= MAX_HEADER and (value or "").isascii() and (value or "").isprintable()


def data_subjects(bsns: Iterable[str]) -> str | None:
    """``bsn=…,bsn=…`` for NLX, or None when there are none or they do not all fit in one header value."""
    value = ",".join(f"bsn={b}" for b in dict.fromkeys(bsns))
    return value if fits(value) else None


def headers_for(context: Any, subjects: Iterable[str] = ()) -> dict[str, str]:
    """The headers one source call of this request carries (none outside a request)."""
    processing = processing_of(context)
    if processing is None:
        return {}
    caller = caller_of(context)
    flags = "01" if processing.sampled else "00"
    candidates = {
        PROCESS_ID: activity_of(context),
        USER_ID: caller.subject if caller is not None else None,
        DATA_SUBJECT: data_subjects(subjects),
        TRANSACTION_ID: processing.transaction_id,
        TRACEPARENT: f"00-{processing.trace_id}-{secrets.token_hex(8)}-{flags}",
    }
    return {name: value for name, value in candidates.items() if value is not None and fits(value)}


class TellSource:
    """The stage: adds ``headers_for`` the call's request and data subjects."""

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        extra = headers_for(call.context, call.subjects)
        if not extra:
            return await next(call)
        return await next(dataclasses.replace(call, headers={**call.headers, **extra}))
