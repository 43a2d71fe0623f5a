"""The processing log (Logboek Dataverwerkingen): one record per data subject per GraphQL request.

The AVG makes the municipality able to tell a person who processed their data, when and why. During a
request, ``NoteProcessing`` (a source stage) notes each source call that concerns known persons (its
``subjects``) and how it ended; resolvers that only learn the persons from the answer (a search by
address) note them with ``processed``. When the operation ends, ``ProcessingLog.around`` turns the notes
into records and hands them to the configured sink in a worker thread, so file I/O never blocks the event
loop. There is no sampling, and nothing here goes to the ordinary application log.

Configuration (``[gateway.logboek]``)::

    sink = "jsonl"                  # a name in SINKS; "none" switches the log off
    path = "var/logboek.jsonl"      # jsonl: relative to the working directory
    subject_key = "..."             # when set, data subjects are logged as HMAC-SHA256 pseudonyms

A request whose records cannot be written gets no data: the standard requires every record to be
confirmed, and FSC likewise refuses a transaction it cannot log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import orjson
from graphql import GraphQLError
from strawberry.types import ExecutionResult

from graph import __version__
from graph.config import ConfigError, GatewayConfig, SourceConfig, declare_gateway_table
from graph.errors import SourceError
from graph.outbound import activity_of, caller_of, processing_of

if TYPE_CHECKING:
    from graph.calls import Next, SourceCall, SourceResponse

log = logging.getLogger("gemeentegraaf.logboek")  # operational messages only: never a record
DEFAULT_PATH = "var/logboek.jsonl"
FIXED_NAME = "gemeentegraaf.graphql"  # the record name when the operation has none
OK, ERROR = "STATUS_CODE_OK", "STATUS_CODE_ERROR"
WRITE_FAILED = "PROCESSING_LOG_UNAVAILABLE"


# -- collecting, during the request ---------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Noted:
    """What one request did with one data subject's data."""

    sources: set[str] = dataclasses.field(default_factory=set)
    elements: set[str] = dataclasses.field(default_factory=set)
    errors: set[str] = dataclasses.field(default_factory=set)


class Ledger:
    """One request's notes, by BSN; lives exactly as long as the request's Context."""

    def __init__(self) -> None:
        self.subjects: dict[str, Noted] = {}

    def note(
        self, source: str, subjects: Iterable[str], elements: Iterable[str] = (), error: str | None = None
    ) -> None:
        shown = list(elements)
        for bsn in subjects:
            noted = self.subjects.setdefault(bsn, Noted())
            noted.sources.add(source)
            noted.elements.update(shown)
            if error is not None:
                noted.errors.add(error)


_ledgers: weakref.WeakKeyDictionary[Any, Ledger] = weakref.WeakKeyDictionary()


def ledger_of(context: Any) -> Ledger | None:
    """The request's ledger (made on first use); None outside a request."""
    if processing_of(context) is None:
        return None
    context = getattr(context, "root", context)  # a municipality's part writes into the request's ledger
    found = _ledgers.get(context)
    if found is None:
        found = _ledgers[context] = Ledger()
    return found


def processed(context: Any, source: str, subjects: Iterable[str], elements: Iterable[str] = ()) -> None:
    """For resolvers: the persons a call's answer turned out to be about (a search's hits)."""
    ledger = ledger_of(context)
    if ledger is not None:
        ledger.note(source, subjects, (f"{source}:{e}" for e in elements))


class NoteProcessing:
    """The stage: notes every call with ``subjects``, what it asked for and whether it succeeded."""

    def __init__(self, config: SourceConfig) -> None:
        self._base_path = urlsplit(config.url).path.rstrip("/")

    async def __call__(self, call: SourceCall, next: Next) -> SourceResponse:
        ledger = ledger_of(call.context) if call.subjects else None
        if ledger is None:
            return await next(call)
        elements = self.elements(call)
        try:
            response = await next(call)
        except SourceError as exc:
            ledger.note(call.source, call.subjects, elements, exc.code)
            raise
        except Exception:
            ledger.note(call.source, call.subjects, elements, "INTERNAL_SERVER_ERROR")
            raise
        ledger.note(call.source, call.subjects, elements)
        return response

    def elements(self, call: SourceCall) -> list[str]:
        """The data asked for: the BRP's ``fields`` where a call names them, else the resource (ids left out)."""
        body = call.json
        if isinstance(body, Mapping) and isinstance(body.get("fields"), list):
            return [f"{call.source}:{f}" for f in body["fields"] if isinstance(f, str)]
        path = urlsplit(call.url).path
        path = path[len(self._base_path) :] if path.startswith(self._base_path) else path
        segments = ("{id}" if any(c.isdigit() for c in s) else s for s in path.split("/") if s)
        return [f"{call.source}:/{'/'.join(segments)}"]


# -- sinks ------------------------------------------------------------------------------------------------


class Sink(Protocol):
    """Where records go. ``write`` runs in a worker thread and raises ``OSError`` when it cannot confirm."""

    def write(self, lines: Sequence[bytes]) -> None: ...


class JsonlSink:
    """One JSON object per line, appended; one request's records in one write, so they stay together."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, lines: Sequence[bytes]) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                f.write(b"".join(line + b"\n" for line in lines))
                f.flush()
                os.fsync(f.fileno())


def _jsonl(options: Mapping[str, Any]) -> Sink:
    return JsonlSink(Path.cwd() / str(options.get("path") or DEFAULT_PATH))


SINKS: dict[str, Callable[[Mapping[str, Any]], Sink | None]] = {
    "none": lambda options: None,
    "jsonl": _jsonl,
}


def options_of(config: GatewayConfig) -> dict[str, Any]:
    """``[gateway.logboek]``, with ``GEMEENTEGRAAF_GATEWAY_LOGBOEK_<KEY>`` overriding one value (a key)."""
    table = config.options.get("logboek", {})
    if not isinstance(table, Mapping):
        raise ConfigError("[gateway.logboek] must be a table")
    flat = {k[len("logboek_") :]: v for k, v in config.options.items() if k.startswith("logboek_")}
    return {**table, **flat}


declare_gateway_table("logboek", ("sink", "path", "subject_key"), lambda config: ProcessingLog.from_config(config))


# -- writing, at the end of the request -------------------------------------------------------------------


class ProcessingLog:
    """Turns a request's notes into records and writes them through the sink (``None``: the log is off)."""

    def __init__(self, sink: Sink | None, subject_key: str | None = None) -> None:
        self.sink = sink
        self._key = subject_key.encode() if subject_key else None

    @classmethod
    def from_config(cls, config: GatewayConfig) -> ProcessingLog:
        options = options_of(config)
        name = str(options.get("sink", "jsonl"))
        try:
            factory = SINKS[name]
        except KeyError:
            raise ConfigError(f"[gateway.logboek] unknown sink {name!r}; one of {sorted(SINKS)}") from None
        key = options.get("subject_key")
        return cls(factory(options), str(key) if key else None)

    def subject_id(self, bsn: str) -> str:
        """The BSN, or its keyed pseudonym: the key's holder can still find a person's records on request."""
        if self._key is None:
            return bsn
        return hmac.new(self._key, bsn.encode(), hashlib.sha256).hexdigest()

    async def around(
        self, context: Any, operation_name: str | None, run: Awaitable[ExecutionResult]
    ) -> ExecutionResult:
        """Runs one operation and writes its records before the answer goes out."""
        start = _now()
        try:
            result = await run
        except BaseException:
            await self._write(context, operation_name, start, failed=True)
            raise
        if not await self._write(context, operation_name, start, failed=False):
            message = "The processing log could not be written, so the answer is withheld."
            return ExecutionResult(None, [GraphQLError(message, extensions={"code": WRITE_FAILED})])
        return result

    async def _write(self, context: Any, operation_name: str | None, start: dt.datetime, failed: bool) -> bool:
        ledger = _ledgers.pop(context, None) if context is not None else None
        if self.sink is None or ledger is None or not ledger.subjects:
            return True
        lines = [orjson.dumps(r) for r in self.records(context, ledger, operation_name, start, _now(), failed)]
        try:
            await asyncio.to_thread(self.sink.write, lines)
        except OSError as exc:
            log.error("processing log: %d record(s) could not be written (%s)", len(lines), type(exc).__name__)
            return False
        return True

    def records(
        self,
        context: Any,
        ledger: Ledger,
        operation_name: str | None,
        start: dt.datetime,
        end: dt.datetime,
        failed: bool = False,
    ) -> list[dict[str, Any]]:
        processing = processing_of(context)
        assert processing is not None  # a ledger exists only for a request
        caller = caller_of(context)
        user = None if caller is None else self.subject_id(caller.bsn) if caller.bsn else caller.subject
        common: dict[str, Any] = {
            "trace_id": processing.trace_id,
            "parent_operation_id": processing.operation_id,
            "name": operation_name or FIXED_NAME,
            "start_time": _iso(start),
            "end_time": _iso(end),
        }
        if processing.parent_id:
            common["foreign_operation"] = {"trace_id": processing.trace_id, "operation_id": processing.parent_id}
        common["resource"] = {"attributes": {"service.name": "gemeentegraaf", "service.version": __version__}}
        records = []
        for bsn, noted in ledger.subjects.items():
            errors = sorted(noted.errors) + (["INTERRUPTED"] if failed else [])
            records.append({
                **common,
                "operation_id": secrets.token_hex(8),
                "status_code": ERROR if errors else OK,
                "attributes": {
                    "dpl.core.processing_activity_id": activity_of(context),
                    "dpl.core.data_subject_id": self.subject_id(bsn),
                    "dpl.gemeentegraaf.data_subject_id_type": "bsn-hmac-sha256" if self._key else "bsn",
                    "dpl.gemeentegraaf.user_id": user,
                    "dpl.gemeentegraaf.transaction_id": processing.transaction_id,
                    "dpl.gemeentegraaf.sources": sorted(noted.sources),
                    "dpl.gemeentegraaf.data_elements": sorted(noted.elements),
                    "dpl.gemeentegraaf.result": errors or ["OK"],
                },
            })
        return records


_NAMED = re.compile(r"\s*(?:#[^\n]*\n\s*)*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_name(given: str | None, query: str | None) -> str | None:
    """The operation's name: as the client sent it, else the name its document opens with."""
    if given:
        return given[:200]
    found = _NAMED.match(query or "")
    return found.group(1)[:200] if found else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
