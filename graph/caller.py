"""Who is asking, and why: the identity and purpose every request carries from the client to the sources.

``Caller`` is what authentication (``graph.authn``) makes of the client's token; ``Processing`` is the one
request's purpose (a processing-activity id from the register), transaction id and trace, made once per
request and read by the stages that tell sources who asked and by the processing log. Both are plain,
immutable values: nothing here calls anything.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.requests import Request

from graph.identifiers import valid_bsn

MUNICIPALITY_SCOPE = "gemeente:"  # gemeente:0363 limits a token to that municipality's part of the graph


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated client. ``bsn`` is set for a citizen (a DigiD-style token whose subject is a BSN):
    such a caller may only reach their own data."""

    subject: str
    name: str | None = None
    scopes: frozenset[str] = frozenset()
    bsn: str | None = None
    anonymous: bool = False
    # the caller's own bearer token, for sources with per-user sessions (Huishoudboekje); never shown
    token: str | None = field(default=None, repr=False, compare=False)

    @property
    def citizen(self) -> bool:
        return self.bsn is not None

    @property
    def municipalities(self) -> frozenset[str] | None:
        """The municipalities (CBS codes) a token limits its caller to, by scopes ``gemeente:<code>``; None when
        it names none: then every configured municipality, as tokens from before there were several."""
        codes = frozenset(s[len(MUNICIPALITY_SCOPE):] for s in self.scopes if s.startswith(MUNICIPALITY_SCOPE))
        return codes or None

    @property
    def representation(self) -> str:
        """A readable name for the sources' audit trails (``user_representation``)."""
        return self.name or self.subject


ANONYMOUS = Caller("anonymous", "Anonymous", anonymous=True)


def citizen_bsn(subject: str) -> str | None:
    """The BSN a token's subject names, as DigiD logins give (``sub`` = the BSN, or ``s00000000:<bsn>``)."""
    candidate = subject.rsplit(":", 1)[-1]
    return candidate if valid_bsn(candidate) else None


@dataclass(frozen=True, slots=True)
class Processing:
    """One request's processing: its purpose and the ids that tie its source calls and log records together.

    ``trace_id`` (16 bytes, hex) and ``operation_id`` (8 bytes) follow W3C Trace Context, which the Logboek
    Dataverwerkingen standard makes mandatory between applications; ``parent_id`` is the client's span.
    """

    activity: str | None
    trace_id: str
    operation_id: str
    transaction_id: str
    parent_id: str | None = None
    sampled: bool = True

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.operation_id}-{'01' if self.sampled else '00'}"


def new_processing(
    activity: str | None, traceparent: str | None = None, transaction_id: str | None = None
) -> Processing:
    """A request's processing ids: the client's trace continued when its ``traceparent`` is valid."""
    trace_id, parent_id, sampled = secrets.token_hex(16), None, True
    parts = (traceparent or "").strip().split("-")
    if len(parts) == 4 and parts[0] == "00" and _hex(parts[1], 32) and _hex(parts[2], 16) and _hex(parts[3], 2):
        trace_id, parent_id, sampled = parts[1], parts[2], bool(int(parts[3], 16) & 1)
    return Processing(activity, trace_id, secrets.token_hex(8), transaction_id or _uuid7_like(), parent_id, sampled)


PURPOSE_HEADER = "X-Verwerkingsactiviteit"
MAX_HEADER = 1024  # NLX's limit on a header value; longer ones are not ids


def processing_of(request: Request | None) -> Processing:
    """The processing a request asks for: its purpose header (checked against the register where it is
    used, not here), the client's ``traceparent`` and ``Fsc-Transaction-Id`` when well-formed."""
    headers = request.headers if request is not None else {}
    activity = (headers.get(PURPOSE_HEADER) or "").strip() or None
    transaction = (headers.get("Fsc-Transaction-Id") or "").strip()
    valid = 0 < len(transaction) <= 128 and all(c.isalnum() or c in "-_." for c in transaction)
    return new_processing(
        activity if activity and len(activity) <= MAX_HEADER else None,
        headers.get("traceparent"),
        transaction if valid else None,
    )


def _hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in "0123456789abcdef" for c in value) and value.strip("0") != ""


def _uuid7_like() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
