"""Operational logs: one JSON line per GraphQL operation and one per failed source call.

What a line may hold is fixed here, field by field: trace id, operation name, outcome, error codes with
their source and status, duration. Never a query text, a variable value, a URL (Open Klant filters by BSN in
the query string), a message (messages can quote arguments) or a credential: the processing log
(``graph.logboek``) is where personal data is accounted for, not here.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson

from graph.calls import Next, SourceCall, SourceResponse
from graph.errors import GatewayError

operations = logging.getLogger("gemeentegraaf.operations")
failures = logging.getLogger("gemeentegraaf.sources.failures")
FIELDS = "gemeentegraaf_fields"  # the LogRecord attribute that carries a line's structured fields
NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")  # a GraphQL name; anything else is not logged as one


def safe_name(name: str | None) -> str | None:
    return name if name is not None and NAME.match(name) else None


def trace_of(context: Any) -> str | None:
    processing = getattr(context, "processing", None)
    return getattr(processing, "trace_id", None)


def log_operation(context: Any, name: str | None, result: Any, seconds: float) -> None:
    errors = list(getattr(result, "errors", None) or [])
    codes: list[dict[str, Any]] = []
    for error in errors[:20]:
        extensions = getattr(error, "extensions", None) or {}
        entry = {"code": extensions.get("code", "INTERNAL_SERVER_ERROR")}
        for key in ("source", "status"):
            if extensions.get(key) is not None:
                entry[key] = extensions[key]
        codes.append(entry)
    outcome = "ok" if not errors else ("partial" if getattr(result, "data", None) is not None else "error")
    fields: dict[str, Any] = {"event": "operation", "trace_id": trace_of(context), "operation": safe_name(name),
              "outcome": outcome, "duration_ms": round(seconds * 1000, 1)}
    if codes:
        fields["errors"] = codes
    operations.info("operation %s %s", safe_name(name) or "-", outcome, extra={FIELDS: fields})


class LogFailures:
    """A stage: one line for each source call that fails, with the code its field will report."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        started = self.clock()
        try:
            return await next(call)
        except GatewayError as exc:
            status = getattr(exc, "status", None)
            fields = {"event": "source_failure", "trace_id": trace_of(call.context), "source": call.source,
                      "method": call.method.upper(), "code": exc.code, "status": status,
                      "duration_ms": round((self.clock() - started) * 1000, 1)}
            failures.warning("source %s failed: %s", call.source, exc.code, extra={FIELDS: fields})
            raise


class JsonLines(logging.Formatter):
    """Every record as one JSON object: time, level, logger, message, and the structured fields if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if v is not None})
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__  # the kind only: a message can hold personal data
        return orjson.dumps(line, default=str).decode()
