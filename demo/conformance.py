"""Each request a simulator receives, checked against the official document of the API it imitates.

Why: a simulator is lenient wherever leniency keeps its code simple, so a gateway developed against it
could come to rely on requests the real product refuses. Checking every incoming request against the
official OpenAPI document (the Huishoudboekje GraphQL SDL for that source) catches that in the tests.

Which documents: ``Simulator.specs()`` (by default the ``official_specs`` ClassVar) maps a path prefix to
the documents whose ``paths`` are written relative to it, e.g. ``{"/haalcentraal/api/brp":
("brp-personen/openapi.yaml",)}``; Signalen's own document spells the full path, so its prefix is ``""``.
The longest prefix that covers a request is asked first, and in it the first document that has the path.
A ``.graphql`` document covers exactly its prefix (and the prefix with a trailing slash). A request under
no prefix is not checked.

The answer to a violation (``demo.simulator._ControlledApp`` carries it out):

1. The wrapper reads the whole body and checks method, path parameters, query parameters, required
   headers and the body before the handler runs. Every violation is recorded, never with the body.
2. The handler runs as always. If it refuses (status >= 400: its own 4xx, or a product's own 5xx such as
   Open Zaak's 500), that answer stands: the product refuses for its own reason first.
3. If it would accept (status < 400), its answer is dropped before a byte leaves, and
   ``Simulator.conformance_error(request, violations)`` answers instead in that API's own error body:
   400 for parameters and body (with the API's ``invalidParams``), 415 for a media type the operation does
   not take, 404/405 for a path or method the document does not have. Violations for which
   ``Simulator.product_accepts(violation)`` is true (a documented leniency of the real product that the
   simulator copies on purpose) are still recorded but leave the answer alone.

Two readings of the documents: a PATCH body is partial, so its schema's ``required`` is not asked (the
generators of these documents reuse the full schema); and an empty query value breaks ``allowEmptyValue``
(false unless stated) whatever the schema, reported as ``emptyValue``, which every product simulated here
treats as "not given" (so ``product_accepts`` says yes by default).

A write the handler accepted has happened by the time its answer is replaced (the simulators have no
transactions); the recorded violation is what tells the client to change. Security requirements are not
checked here: each simulator does its own authentication. The specs folder is ``$GEMEENTEGRAAF_SPECS``,
else ``<project root>/../shared/specs``; where it is absent, or ``GEMEENTEGRAAF_CONFORMANCE=off``, checking
is off and the log says so once.

How a simulator plugs in (all on ``demo.simulator.Simulator``):

- ``official_specs`` (ClassVar ``{prefix: (document, ...)}``), or ``specs()`` to choose per instance, e.g.
  per base path and profile as the ZGW simulator does. ``specs()`` should return the same mapping object on
  every call: the checker is looked up again only when that object changes;
- ``product_accepts(violation)``: the product's documented leniencies (call ``super()`` to keep
  ``emptyValue``); ``conformance_error(request, violations)``: the API's own refusal (the default is
  vng-api-common's ``invalidParams`` problem, built on the simulator's ``error()``);
- ``spec_slash_optional``: the product routes ``/x`` and ``/x/`` alike; ``check_request(scope, body)`` can
  be wrapped to drop what is no fault of the request (a document's own errors).

Cost: documents are parsed once per process (their JSON form is cached in the user's cache folder: YAML
takes 1.4 s for them, JSON 30 ms) and then frozen out of the cyclic collector's reach; each operation's
checks are built on first use (simple schemas become plain Python checks, also inside bodies; the rest
jsonschema validators over ``$ref``-free schemas). A request then pays 20-60 µs for a GET and 130-180 µs
for a body of 20 BSNs or uuids (openapi-core 0.23's ``validate_request``: 0.7-2 ms on the same requests).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import os
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import orjson
import yaml
from graphql import GraphQLError, build_schema, get_operation_ast, parse, validate
from graphql.execution.values import get_variable_values
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.validators import extend
from openapi_schema_validator import (
    OAS30Validator,
    OAS30WriteValidator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_SPECS = Path(os.environ.get("GEMEENTEGRAAF_SPECS") or PROJECT_ROOT.parent / "shared" / "specs")

METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})  # OAS: such header parameters are ignored
STATUS_ORDER = (404, 405, 415, 400)  # routing first, then the media type, then the parameters
GRAPHQL_CACHE = 512

Member = tuple[str | int, ...]
Specs = Mapping[str, tuple[str, ...]]  # path prefix -> documents under the specs folder, relative to that prefix


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a request breaks its document; ``reason`` speaks Dutch to clients, ``detail`` English to logs.

    Neither quotes a value from the request (a value can be a BSN); both name the rule that was broken.
    """

    where: str  # operation | media | path | query | header | body | graphql
    member: Member  # parameter name, then the path inside its value; for ``operation``: the request's path
    # (unknownOperation) or the document's template (methodNotAllowed)
    code: str  # Haal Centraal style: required, pattern, enum, integer, date, maxItems, unknownParam, ...
    reason: str
    detail: str
    locations: tuple[tuple[int, int], ...] = ()  # GraphQL: line and column in the query

    @property
    def name(self) -> str:
        """``fields[3]``, ``zaak.rollen[0].roltype``: how Haal Centraal APIs name a member."""
        out = ""
        for part in self.member:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    @property
    def dotted(self) -> str:
        """``kanalen.0.naam``: how DRF and vng-api-common name a member."""
        return ".".join(str(part) for part in self.member)

    @property
    def status(self) -> int:
        return {"unknownOperation": 404, "methodNotAllowed": 405, "mediaType": 415}.get(self.code, 400)

    @property
    def message(self) -> str:
        return f"{self.where} {self.name}: {self.detail}" if self.member else f"{self.where}: {self.detail}"


def answer_status(violations: Sequence[Violation]) -> int:
    """The one status a product answers a request with several faults: the first check it fails."""
    statuses = {v.status for v in violations}
    return next(s for s in STATUS_ORDER if s in statuses)


DRF_CODES = {"enum": "invalid_choice", "maxLength": "max_length", "minLength": "min_length",
             "maximum": "max_value", "minimum": "min_value", "maxItems": "max_length", "minItems": "min_length",
             "required": "required", "unknownParam": "unknown-parameters", "date": "invalid_date",
             "date-time": "invalid_datetime", "integer": "invalid", "number": "invalid", "uuid": "invalid"}


def drf_code(violation: Violation) -> str:
    """The code DRF and vng-api-common give the same fault."""
    return DRF_CODES.get(violation.code, "invalid")


@dataclass(frozen=True, slots=True)
class Incoming:
    """What the check needs of a request (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    operation: str  # "GET /zaken (zgw/openzaak-1.30.0/zaken.openapi.yaml)", for the record
    violations: tuple[Violation, ...]


# --- loading documents -------------------------------------------------------------------------------


_warned: set[str] = set()
_warn_lock = threading.Lock()


def _warn_once(key: str, message: str, *args: Any) -> None:
    with _warn_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message, *args)


def _cache_dir() -> Path | None:
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gemeentegraaf" / "specs"
    except RuntimeError:  # no home directory
        return None


@functools.cache
def _parsed(path: Path) -> Any:
    """A document as plain data, once per process. YAML takes 1.4 s for the documents the demo uses, so its
    JSON form is kept in the user's cache (never in the project), keyed by path, size and modification time."""
    if path.suffix == ".json":
        return orjson.loads(path.read_bytes())
    stat = path.stat()
    folder = _cache_dir()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    cached = folder / f"{key}.json" if folder else None
    if cached is not None:
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            return orjson.loads(cached.read_bytes())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # a safe loader: documents hold data only
    encoded = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)  # YAML's dates and integer keys become text
    if cached is not None:
        with contextlib.suppress(OSError):
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            partial.write_bytes(encoded)
            partial.replace(cached)
    return orjson.loads(encoded)  # the same data whether it came from the cache or not


def _unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _node(uri: str) -> tuple[Any, str]:
    """The node at ``file:///doc.yaml#/json/pointer``, following ``$ref`` chains; and where it really is."""
    for _ in range(32):
        base, _, fragment = uri.partition("#")
        parts = urlsplit(base)
        if parts.scheme != "file":
            raise ValueError(f"{base} is not a local document")  # never fetched while answering a request
        node = _parsed(Path(unquote(parts.path)))
        for token in fragment.split("/")[1:]:
            key = _unescape(token)
            node = node[int(key)] if isinstance(node, list) else node[key]
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node, uri
        uri = urljoin(base, node["$ref"])
        if "#" not in uri:
            uri += "#"
    raise ValueError(f"$ref chain too long at {uri}")


VALUE_KEYWORDS = frozenset({"example", "examples", "enum", "default", "const", "discriminator", "externalDocs",
                            "xml"})
_inlined: dict[str, Any] = {}
_inline_lock = threading.RLock()


def inlined(uri: str, oas31: bool) -> Any:
    """The schema at ``uri`` with every ``$ref`` replaced by its target (a cycle becomes a cycle of dicts).

    jsonschema then never looks a reference up while validating, which halves the cost of a body check.
    A reference to a document that is not here (Open Zaak points at raw.githubusercontent.com) accepts
    anything, and the log says so once.
    """
    with _inline_lock:
        try:
            node, where = _node(uri)
        except (OSError, KeyError, IndexError, ValueError) as exc:
            _warn_once(f"ref:{uri}", "request conformance: %s is not resolvable (%s); not checked", uri, exc)
            return {}
        if where in _inlined:
            return _inlined[where]
        if not isinstance(node, dict):
            return _inline_children(node, where, oas31)
        out: dict[str, Any] = {}
        _inlined[where] = out
        out.update(_inline_children(node, where, oas31))
        return out


def _inline_children(node: Any, where: str, oas31: bool) -> Any:
    if isinstance(node, list):
        return [_inline_children(item, where, oas31) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        resolved = inlined(_target(where, ref), oas31)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if oas31 and siblings:  # 3.1: keywords beside a $ref apply too; in 3.0 they are ignored
            return {"allOf": [resolved, _inline_children(siblings, where, oas31)]}
        return resolved
    choice = next((k for k in ("oneOf", "anyOf") if k in node), None)
    if choice and isinstance(node.get("discriminator"), dict):
        return _inline_discriminated(node, choice, where, oas31)
    # a discriminator elsewhere (beside allOf, or on a base schema) only names refs that are gone now
    return {k: (v if k in VALUE_KEYWORDS else _inline_children(v, where, oas31)) for k, v in node.items()
            if k != "discriminator"}


def _target(where: str, ref: str) -> str:
    target = urljoin(where.partition("#")[0], ref)
    return target if "#" in target else target + "#"


def _inline_discriminated(node: dict[str, Any], choice: str, where: str, oas31: bool) -> dict[str, Any]:
    """``oneOf`` with a discriminator, as a direct choice by the property (the refs it names are inlined)."""
    discriminator = node["discriminator"]
    refs = {ref.rsplit("/", 1)[-1]: ref for item in node[choice] if isinstance(item, dict)
            and isinstance(ref := item.get("$ref"), str)}  # the implicit mapping: a value names its schema
    refs.update(discriminator.get("mapping") or {})
    out = {k: (v if k in VALUE_KEYWORDS else _inline_children(v, where, oas31)) for k, v in node.items()
           if k not in (choice, "discriminator")}
    out[DISCRIMINATED] = {"propertyName": discriminator["propertyName"],
                          "mapping": {value: inlined(_target(where, ref), oas31) for value, ref in refs.items()}}
    return out


DISCRIMINATED = "x-gemeentegraaf-discriminated"


def _discriminated(validator: Any, rule: Mapping[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
    """The keyword ``_inline_discriminated`` leaves behind: validate against the schema the property names."""

    if not isinstance(instance, dict):
        return  # ``type`` beside it says so, where the document asks for an object
    prop, mapping = rule["propertyName"], rule["mapping"]
    value = instance.get(prop)
    if value is None:
        yield ValidationError(f"{prop!r} is a required property", validator="required", validator_value=[prop])
    elif not isinstance(value, str) or value not in mapping:
        yield ValidationError("not a known kind", validator="enum", validator_value=sorted(mapping), path=[prop])
    else:
        yield from validator.descend(instance, mapping[value])


# --- checks built from schemas -----------------------------------------------------------------------

Check = Callable[[Any, str, Member], list[Violation]]

SIMPLE_KEYS = frozenset({"type", "format", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum",
                         "exclusiveMaximum", "minLength", "maxLength", "nullable", "description", "title",
                         "default", "example", "examples", "deprecated", "readOnly", "writeOnly",
                         "externalDocs"})
PYTHON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}
TYPE_REASONS = {
    "integer": "Waarde is geen geldig getal.", "number": "Waarde is geen geldig getal.",
    "boolean": "Waarde is geen boolean.", "string": "Waarde is geen geldige string.",
    "array": "Parameter is geen array.", "object": "Waarde is geen object.",
}
FORMAT_REASONS = {
    "date": "Waarde is geen geldige datum.", "date-time": "Waarde is geen geldige datum/tijd.",
    "uuid": "Waarde is geen geldige UUID.",
}


def _type_violation(where: str, member: Member, expected: Any, value: Any) -> Violation:
    kind = expected if isinstance(expected, str) else "/".join(map(str, expected))
    if value is None:
        return Violation(where, member, kind, "Waarde mag niet leeg zijn.", "null is not allowed")
    return Violation(where, member, kind, TYPE_REASONS.get(kind, "Waarde heeft niet het juiste type."),
                     f"not of type {kind}")


def _keyword_violation(where: str, member: Member, keyword: str, rule: Any) -> Violation:
    """A fault named after the keyword it broke, in Haal Centraal's words."""
    if keyword == "pattern":
        return Violation(where, member, "pattern", f"Waarde voldoet niet aan patroon {rule}.",
                         f"does not match {rule}")
    if keyword == "enum":
        shown = ", ".join(map(str, rule)) if len(rule) <= 12 else f"{len(rule)} values"
        return Violation(where, member, "enum", "Waarde is geen geldige keuze.", f"not one of {shown}")
    if keyword == "format":
        return Violation(where, member, str(rule), FORMAT_REASONS.get(rule, f"Waarde is geen geldige {rule}."),
                         f"not a valid {rule}")
    texts = {
        "minimum": (f"Waarde is lager dan minimum {rule}.", f"less than the minimum {rule}"),
        "maximum": (f"Waarde is hoger dan maximum {rule}.", f"more than the maximum {rule}"),
        "exclusiveMinimum": (f"Waarde is niet hoger dan {rule}.", f"not more than {rule}"),
        "exclusiveMaximum": (f"Waarde is niet lager dan {rule}.", f"not less than {rule}"),
        "minLength": (f"Waarde is korter dan minimale lengte {rule}.", f"shorter than {rule} characters"),
        "maxLength": (f"Waarde is langer dan maximale lengte {rule}.", f"longer than {rule} characters"),
        "minItems": (f"Array bevat minder dan {rule} items.", f"fewer than {rule} items"),
        "maxItems": (f"Array bevat meer dan {rule} items.", f"more than {rule} items"),
        "uniqueItems": ("Array bevat dubbele items.", "items are not unique"),
        "multipleOf": (f"Waarde is geen veelvoud van {rule}.", f"not a multiple of {rule}"),
        "minProperties": (f"Object bevat minder dan {rule} velden.", f"fewer than {rule} members"),
        "maxProperties": (f"Object bevat meer dan {rule} velden.", f"more than {rule} members"),
    }
    reason, detail = texts.get(keyword, ("Waarde is ongeldig.", f"fails {keyword}"))
    return Violation(where, member, keyword, reason, detail)


Faults = Callable[[Any], list[tuple[str, Any]]]  # a value -> the (keyword, rule) pairs it breaks


def _simple_faults(schema: Mapping[str, Any], format_checker: Any) -> Faults | None:
    """Plain Python for a scalar schema without subschemas (most parameters and leaves of bodies)."""
    if not SIMPLE_KEYS.issuperset(schema) or not isinstance(schema.get("type", "string"), str):
        return None
    kind = schema.get("type")
    is_type = PYTHON_TYPES.get(kind) if kind else None
    if kind and is_type is None:
        return None
    nullable = schema.get("nullable") is True
    fmt = schema.get("format")
    checks_format = isinstance(fmt, str) and fmt in format_checker.checkers
    enum = schema.get("enum")
    pattern = re.compile(schema["pattern"]) if isinstance(schema.get("pattern"), str) else None
    lengths = [(k, schema[k]) for k in ("minLength", "maxLength") if isinstance(schema.get(k), int)]
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open, high_open = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    bounds: list[tuple[str, float, Callable[[float, float], bool]]] = []  # (keyword, limit, broken)
    if isinstance(low, (int, float)):
        bounds.append(("exclusiveMinimum", low, lambda v, b: v <= b) if low_open is True
                      else ("minimum", low, lambda v, b: v < b))
    if isinstance(high, (int, float)):
        bounds.append(("exclusiveMaximum", high, lambda v, b: v >= b) if high_open is True
                      else ("maximum", high, lambda v, b: v > b))
    for key, limit, broken in (("exclusiveMinimum", low_open, lambda v, b: v <= b),
                               ("exclusiveMaximum", high_open, lambda v, b: v >= b)):
        if isinstance(limit, (int, float)) and not isinstance(limit, bool):  # 3.1: a number of its own
            bounds.append((key, limit, broken))

    def faults(value: Any) -> list[tuple[str, Any]]:
        if value is None:
            return [] if nullable or not kind else [("type", kind)]
        if is_type is not None and not is_type(value):
            return [("type", kind)]
        out: list[tuple[str, Any]] = []
        if enum is not None and value not in enum:
            out.append(("enum", enum))
        if isinstance(value, str):
            if pattern is not None and not pattern.search(value):
                out.append(("pattern", pattern.pattern))
            for key, limit in lengths:
                if (len(value) < limit) if key == "minLength" else (len(value) > limit):
                    out.append((key, limit))
            if checks_format and not format_checker.conforms(value, fmt):
                out.append(("format", fmt))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.extend((key, limit) for key, limit, broken in bounds if broken(value, limit))
        return out

    return faults


def _simple_check(schema: Mapping[str, Any], format_checker: Any) -> Check | None:
    faults = _simple_faults(schema, format_checker)
    if faults is None:
        return None

    def check(value: Any, where: str, member: Member) -> list[Violation]:
        return [_type_violation(where, member, rule, value) if keyword == "type"
                else _keyword_violation(where, member, keyword, rule) for keyword, rule in faults(value)]

    return check


_compiled: dict[tuple[int, int], tuple[Any, Faults | None]] = {}


def _faults_of(schema: Any, format_checker: Any) -> Faults | None:
    """The simple check of a subschema, compiled once (the inlined schemas live as long as the process)."""
    key = (id(schema), id(format_checker))
    found = _compiled.get(key)
    if found is None or found[0] is not schema:
        found = (schema, _simple_faults(schema, format_checker) if isinstance(schema, dict) else None)
        _compiled[key] = found
    return found[1]


def _fast_errors(found: list[tuple[str, Any]], value: Any, at: str | int) -> Iterator[Any]:

    for keyword, rule in found:
        yield ValidationError(f"fails {keyword}", validator=keyword, validator_value=rule, instance=value,
                              path=[at])


def _fast_keywords(base: Any) -> dict[str, Callable[..., Iterator[Any]]]:
    """``properties`` and ``items`` that check a simple subschema in plain Python, not by descending into it:
    jsonschema's cost per value is about ten microseconds, and a BRP body has forty such values."""
    slow_properties, slow_items = base.VALIDATORS["properties"], base.VALIDATORS["items"]

    def properties(validator: Any, props: Mapping[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
        if not isinstance(instance, dict):
            return
        for name, subschema in props.items():
            if name in instance:
                faults = _faults_of(subschema, validator.format_checker)
                if faults is None:
                    yield from validator.descend(instance[name], subschema, path=name, schema_path=name)
                elif found := faults(instance[name]):
                    yield from _fast_errors(found, instance[name], name)

    def items(validator: Any, rule: Any, instance: Any, schema: Any) -> Iterator[Any]:
        faults = _faults_of(rule, validator.format_checker) if isinstance(instance, list) else None
        if faults is None:
            yield from slow_items(validator, rule, instance, schema)
            return
        for index, item in enumerate(instance):
            if found := faults(item):
                yield from _fast_errors(found, item, index)

    del slow_properties  # the draft's own ``properties`` only descends, which the fast one does too
    return {"properties": properties, "items": items}


def _member_of(error: Any) -> Member:
    return tuple(error.absolute_path)


def _error_violations(where: str, member: Member, error: Any) -> Iterator[Violation]:
    """jsonschema's error, as faults named after the member and the rule (never the value)."""

    at = member + _member_of(error)
    keyword, rule, instance = error.validator, error.validator_value, error.instance
    if keyword == "required" and isinstance(instance, dict):
        for name in rule:
            if name not in instance:
                yield Violation(where, (*at, name), "required", "Parameter is verplicht.", "is required")
    elif keyword == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        for name in instance:
            if name not in known and not any(p.search(name) for p in patterns):
                yield Violation(where, (*at, name), "unknownParam", "Parameter is niet verwacht.",
                                "is not allowed here")
    elif keyword == "type":
        yield _type_violation(where, at, rule, instance)
    elif keyword in ("oneOf", "anyOf") and error.context:
        yield from _error_violations(where, member, best_match(error.context))
    elif keyword in ("oneOf", "anyOf"):
        detail = "matches none of the allowed shapes" if keyword == "anyOf" else "does not match exactly one shape"
        yield Violation(where, at, keyword, "Waarde past op geen van de toegestane vormen.", detail)
    else:
        yield _keyword_violation(where, at, keyword, rule)


def _validator_classes(oas31: bool) -> tuple[type[Any], Any]:
    """OAS 3.0 or 3.1 semantics, as a request sees them: a readOnly member is never required."""
    base = OAS31Validator if oas31 else OAS30Validator
    write_required = OAS30WriteValidator.VALIDATORS["required"]
    keywords = {"required": write_required, DISCRIMINATED: _discriminated, **_fast_keywords(base)}
    return extend(base, validators=keywords), (oas31_format_checker if oas31 else oas30_format_checker)


@functools.cache
def _classes(oas31: bool) -> tuple[type[Any], Any]:
    return _validator_classes(oas31)


def schema_check(uri: str, oas31: bool) -> Check:
    """A check of a value against the schema at ``uri`` (a document URI with a JSON pointer)."""
    schema = inlined(uri, oas31)
    cls, format_checker = _classes(oas31)
    if isinstance(schema, dict):
        simple = _simple_check(schema, format_checker)
        if simple is not None:
            return simple
    validator = cls(schema, format_checker=format_checker)

    def check(value: Any, where: str, member: Member) -> list[Violation]:
        return [v for e in validator.iter_errors(value) for v in _error_violations(where, member, e)]

    return check


# --- operations --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    where: str  # path | query | header
    required: bool
    kind: str  # the schema's type: array, integer, ...; "" when not given
    item_kind: str
    delimiter: str | None  # arrays: None for exploded (repeated) query parameters
    allow_empty: bool
    check: Check | None  # None: a parameter with ``content`` or an object (deepObject): present is enough


@dataclass(frozen=True, slots=True)
class Body:
    required: bool
    media: Mapping[str, Check | None]  # lower-cased media type (no parameters) -> check of a JSON body
    discriminator: tuple[str, Mapping[str, Check]] | None  # property, value -> check (BRP's inheritance style)


class Operation:
    """One (path, method) of a document, its checks built once."""

    def __init__(self, doc: Document, template: str, method: str) -> None:
        self.label = f"{method.upper()} {template} ({doc.name})"
        self.partial = method == "patch"  # a PATCH body names only what changes: its ``required`` is not asked
        item_uri = f"{doc.uri}#/paths/{_escape(template)}"
        item = doc.data["paths"][template]
        op_uri = f"{item_uri}/{method}"
        op = item[method]
        declared: dict[tuple[str, str], str] = {}
        for owner_uri, owner in ((item_uri, item), (op_uri, op)):  # the operation's own override the path's
            for i, _ in enumerate(owner.get("parameters") or ()):
                param_uri = f"{owner_uri}/parameters/{i}"
                param, _ = _node(param_uri)
                declared[(param["name"], param["in"])] = param_uri
        self.parameters = [p for p in (self._parameter(uri, doc.oas31) for uri in declared.values()) if p]
        self.body = self._body(f"{op_uri}/requestBody", doc.oas31) if "requestBody" in op else None

    @staticmethod
    def _parameter(uri: str, oas31: bool) -> Parameter | None:
        param, at = _node(uri)
        where = param["in"]
        if where not in ("path", "query", "header") or (where == "header" and param["name"].lower() in
                                                         IGNORED_HEADERS):
            return None
        name = param["name"].lower() if where == "header" else param["name"]
        required = bool(param.get("required")) or where == "path"
        if "schema" not in param:
            return Parameter(name, where, required, "", "", None, True, None)
        schema, _ = _node(f"{at}/schema")
        kind = str(schema.get("type", "")) if isinstance(schema, dict) else ""
        item_kind, delimiter = "", None
        if kind == "array":
            items, _ = _node(f"{at}/schema/items") if "items" in schema else ({}, "")
            item_kind = str(items.get("type", "")) if isinstance(items, dict) else ""
            style = param.get("style", "form" if where == "query" else "simple")
            explode = param.get("explode", style == "form")
            delimiter = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
            if where == "query" and explode:
                delimiter = None
        check = None if kind == "object" else schema_check(f"{at}/schema", oas31)
        return Parameter(name, where, required, kind, item_kind, delimiter,
                         bool(param.get("allowEmptyValue")), check)

    @staticmethod
    def _body(uri: str, oas31: bool) -> Body:
        body, at = _node(uri)
        media: dict[str, Check | None] = {}
        discriminator = None
        for key, content in (body.get("content") or {}).items():
            plain = key.split(";")[0].strip().lower()
            if "schema" not in content or not _is_json(plain):
                media[plain] = None
                continue
            schema_uri = f"{at}/content/{_escape(key)}/schema"
            media[plain] = schema_check(schema_uri, oas31)
            schema, _ = _node(schema_uri)
            picked = schema.get("discriminator") if isinstance(schema, dict) else None
            if picked and picked.get("mapping") and not any(k in schema for k in ("oneOf", "anyOf", "allOf")):
                doc_uri = _node(schema_uri)[1].partition("#")[0]  # mapping refs are relative to the schema's file
                discriminator = (picked["propertyName"], {
                    value: schema_check(urljoin(doc_uri, ref), oas31) for value, ref in picked["mapping"].items()})
        return Body(bool(body.get("required")), media, discriminator)

    def check(self, incoming: Incoming, path_values: Mapping[str, str]) -> list[Violation]:
        out: list[Violation] = []
        query: dict[str, list[str]] = defaultdict(list)
        for key, text in parse_qsl(incoming.query, keep_blank_values=True):
            query[key].append(text)
        for p in self.parameters:
            if p.where == "path":  # the ASGI path is decoded already
                raw: list[str] | None = [path_values[p.name]] if p.name in path_values else None
            elif p.where == "query":
                raw = query.get(p.name)
            else:
                header = incoming.headers.get(p.name)
                raw = None if header is None else [header]
            if raw is None:
                if p.required:
                    out.append(Violation(p.where, (p.name,), "required", "Parameter is verplicht.", "is required"))
                continue
            if p.check is None or (p.allow_empty and raw[-1] == ""):
                continue
            if p.where == "query" and "" in raw:  # allowEmptyValue is false unless the document says otherwise
                out.append(Violation(p.where, (p.name,), "emptyValue", "Parameter mag niet leeg zijn.",
                                     "an empty value is not allowed"))
                continue
            value: Any
            if p.kind == "array":
                items = raw if p.delimiter is None else [i for v in raw for i in v.split(p.delimiter)]
                value = [_coerce(i, p.item_kind) for i in items]
            else:
                value = _coerce(raw[-1], p.kind)  # a repeated scalar: the last one counts, as in Django
            out.extend(p.check(value, p.where, (p.name,)))
        if self.body is not None:
            out.extend(self._check_body(incoming))
        return out

    def _check_body(self, incoming: Incoming) -> list[Violation]:
        assert self.body is not None
        if not incoming.body.strip():
            return [Violation("body", (), "required", "Request body is verplicht.", "a request body is required")] \
                if self.body.required else []
        media = incoming.headers.get("content-type", "").split(";")[0].strip().lower()
        check = self.body.media.get(media, _wildcard(self.body.media, media))
        if check is None and not any(_media_matches(m, media) for m in self.body.media):
            shown = ", ".join(self.body.media) or "none"
            return [Violation("media", ("Content-Type",), "mediaType", "Media type wordt niet ondersteund.",
                              f"{media or 'no media type'} is not one of {shown}")]
        if check is None:
            return []
        try:
            value = orjson.loads(incoming.body)
        except orjson.JSONDecodeError:
            return [Violation("body", (), "json", "De request body is geen geldige JSON.", "not valid JSON")]
        if self.body.discriminator is not None and isinstance(value, dict):
            prop, mapping = self.body.discriminator
            given = value.get(prop)
            chosen = mapping.get(given) if isinstance(given, str) else None
            if chosen is None:
                shown = ", ".join(mapping)
                return [Violation("body", (prop,), "enum", "Waarde is geen geldige keuze.", f"not one of {shown}")]
            check = chosen
        found = check(value, "body", ())
        return [v for v in found if v.code != "required"] if self.partial else found


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _media_matches(declared: str, media: str) -> bool:
    if declared in ("*/*", media):
        return True
    return declared.endswith("/*") and media.startswith(declared[:-1])


def _wildcard(media: Mapping[str, Check | None], given: str) -> Check | None:
    return next((check for declared, check in media.items() if _media_matches(declared, given)), None)


def _coerce(raw: str, kind: str) -> Any:
    """A parameter's text as the type its schema names; left as text (and so a type fault) when it is not."""
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    if kind == "number" and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", raw):
        return float(raw)
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


# --- documents ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Template:
    path: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, ...]  # literal segments sort first, as OpenAPI wants concrete paths matched first


class Document:
    """An OpenAPI document: its path templates, and its operations' checks built on first use."""

    def __init__(self, path: Path, name: str, slash_optional: bool) -> None:
        self.name = name
        self.uri = path.as_uri()
        self.data: dict[str, Any] = _parsed(path)
        self.oas31 = str(self.data.get("openapi", "")).startswith("3.1")
        self.slash_optional = slash_optional
        self._by_segments: dict[int, list[Template]] = defaultdict(list)
        for template in self.data.get("paths") or {}:
            self._add(template)
        for templates in self._by_segments.values():
            templates.sort(key=lambda t: t.rank)
        self._operations: dict[tuple[str, str], Operation] = {}
        self._lock = threading.Lock()

    def _add(self, template: str) -> None:
        path = (template.rstrip("/") or "/") if self.slash_optional else template
        segments = path.split("/")
        names: list[str] = []
        parts = []
        for segment in segments:
            pieces = re.split(r"\{([^}]+)\}", segment)
            regex = ""
            for i, piece in enumerate(pieces):
                if i % 2:
                    names.append(piece)
                    regex += "([^/]+)"
                else:
                    regex += re.escape(piece)
            parts.append(regex)
        rank = tuple(1 if "{" in s else 0 for s in segments)
        self._by_segments[len(segments)].append(
            Template(template, re.compile("/".join(parts)), tuple(names), rank))

    def find(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The template that matches ``path`` (relative to the document's prefix) and its parameter values."""
        if self.slash_optional:
            path = path.rstrip("/") or "/"
        for template in self._by_segments.get(path.count("/") + 1, ()):
            match = template.pattern.fullmatch(path)
            if match:
                return template.path, dict(zip(template.names, match.groups(), strict=True))
        return None

    def methods(self, template: str) -> set[str]:
        return {m for m in self.data["paths"][template] if m in METHODS}

    def operation(self, template: str, method: str) -> Operation:
        key = (template, method)
        op = self._operations.get(key)
        if op is None:
            with self._lock:
                op = self._operations.get(key) or Operation(self, template, method)
                self._operations[key] = op
        return op


class GraphQLDocument:
    """A GraphQL SDL: requests are parsed, validated and their variables coerced against it."""

    def __init__(self, path: Path, name: str) -> None:

        self.name = name
        self.schema = build_schema(path.read_text(encoding="utf-8"))
        self._documents: dict[tuple[str, str | None], tuple[Any, tuple[Violation, ...]]] = {}

    def check(self, incoming: Incoming) -> tuple[str, list[Violation]]:
        params = _graphql_params(incoming)
        query = params.get("query")
        if not isinstance(query, str) or not query.strip():
            return f"GraphQL ({self.name})", []  # no query at all: the server refuses that itself
        operation = params.get("operationName") if isinstance(params.get("operationName"), str) else None
        document, violations = self._validated(query, operation)
        label = f"GraphQL {operation or 'query'} ({self.name})"
        if violations or document is None:
            return label, list(violations)
        variables = params.get("variables")
        if isinstance(variables, str):
            try:
                variables = orjson.loads(variables) if variables.strip() else None
            except orjson.JSONDecodeError:
                return label, []  # the server refuses unreadable variables itself
        if variables is not None and not isinstance(variables, dict):
            return label, []
        return label, self._coerce_variables(document, operation, variables or {})

    def _validated(self, query: str, operation: str | None) -> tuple[Any, tuple[Violation, ...]]:
        """Parsing and validation depend on the text only: done once per distinct query."""

        key = (query, operation)
        found = self._documents.get(key)
        if found is not None:
            return found
        try:
            document = parse(query)
        except GraphQLError as error:
            result: tuple[Any, tuple[Violation, ...]] = (None, (_graphql_violation(error, "syntax"),))
        else:
            result = (document, tuple(_graphql_violation(e, "validation") for e in validate(self.schema, document)))
        if len(self._documents) >= GRAPHQL_CACHE:
            self._documents.clear()
        self._documents[key] = result
        return result

    def _coerce_variables(self, document: Any, operation: str | None, variables: dict[str, Any]) -> list[Violation]:

        op = get_operation_ast(document, operation)
        if op is None or not op.variable_definitions:
            return []
        coerced = get_variable_values(self.schema, op.variable_definitions, variables)
        return [_graphql_violation(e, "variables") for e in coerced] if isinstance(coerced, list) else []


def _graphql_params(incoming: Incoming) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(incoming.query, keep_blank_values=True))
    media = incoming.headers.get("content-type", "").split(";")[0].strip().lower()
    if incoming.method == "POST" and media == "application/graphql":
        params["query"] = incoming.body.decode("utf-8", "replace")
    elif incoming.method == "POST" and media == "application/json" and incoming.body.strip():
        try:
            parsed = orjson.loads(incoming.body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            params.update(parsed)
    return params


def _graphql_violation(error: Any, code: str) -> Violation:
    masked = re.sub(r"\b\d{5,}\b", "…", re.sub(r'"(?:[^"\\]|\\.)*"', '"…"', error.message))
    locations = tuple((loc.line, loc.column) for loc in error.locations or ())
    return Violation("graphql", (), code, error.message, masked, locations)


# --- the checker a simulator uses --------------------------------------------------------------------


class Checker:
    """The documents of one simulator, by path prefix; ``check`` finds the operation and checks the request."""

    def __init__(self, prefixes: Sequence[tuple[str, Sequence[Document | GraphQLDocument]]]) -> None:
        self.prefixes = sorted(prefixes, key=lambda p: len(p[0]), reverse=True)

    def check(self, incoming: Incoming) -> Outcome | None:
        """None when no document covers the path; otherwise the operation and what is wrong with the request."""
        covered: list[str] = []
        for prefix, docs in self.prefixes:
            if not (incoming.path == prefix or incoming.path.startswith(prefix + "/")):
                continue
            relative = incoming.path[len(prefix):] or "/"
            for doc in docs:
                if isinstance(doc, GraphQLDocument):
                    if relative in ("/", ""):
                        label, violations = doc.check(incoming)
                        return Outcome(label, tuple(violations))
                    continue
                covered.append(doc.name)
                found = doc.find(relative)
                if found is None:
                    continue
                template, values = found
                method = incoming.method.lower()
                if method not in doc.methods(template):
                    if method == "head" and "get" in doc.methods(template):
                        method = "get"
                    else:
                        allowed = ", ".join(sorted(m.upper() for m in doc.methods(template)))
                        return Outcome(f"{incoming.method} {template} ({doc.name})", (Violation(
                            "operation", (template,), "methodNotAllowed",
                            f"Methode {incoming.method} is niet toegestaan.",
                            f"{incoming.method} is not an operation here (only {allowed})"),))
                op = doc.operation(template, method)
                return Outcome(op.label, tuple(op.check(incoming, values)))
        if not covered:
            return None
        return Outcome(f"{incoming.method} {incoming.path} (unknown: {', '.join(covered)})", (Violation(
            "operation", (incoming.path,), "unknownOperation", "Opgevraagde resource bestaat niet.",
            f"no path of {', '.join(covered)} matches"),))


def specs_present() -> bool:
    if os.environ.get("GEMEENTEGRAAF_CONFORMANCE", "on").lower() == "off":
        _warn_once("switch", "request conformance is off: GEMEENTEGRAAF_CONFORMANCE=off")
        return False
    if not SHARED_SPECS.is_dir():
        _warn_once("specs", "request conformance is off: no official specs at %s (set GEMEENTEGRAAF_SPECS)",
                   SHARED_SPECS)
        return False
    return True


def checker(specs: Mapping[str, Sequence[str]], slash_optional: bool = False) -> Checker | None:
    """The checker for a simulator's documents; None (checking off) when none of them is here."""
    key = tuple(sorted((prefix, tuple(docs)) for prefix, docs in specs.items()))
    return _checker(key, slash_optional)


@functools.cache
def _checker(key: tuple[tuple[str, tuple[str, ...]], ...], slash_optional: bool) -> Checker | None:
    if not key or not specs_present():
        return None
    prefixes: list[tuple[str, list[Document | GraphQLDocument]]] = []
    for prefix, names in key:
        docs: list[Document | GraphQLDocument] = []
        for name in names:
            path = SHARED_SPECS / name
            if not path.is_file():
                _warn_once(f"doc:{name}", "request conformance: %s not found under %s; not checked", name,
                           SHARED_SPECS)
                continue
            docs.append(GraphQLDocument(path, name) if path.suffix == ".graphql"
                        else Document(path, name, slash_optional))
        if docs:
            prefixes.append((prefix.rstrip("/"), docs))
    # The documents live as long as the process (some hundred thousand dicts and lists): keep the cyclic
    # collector from scanning them again at every full collection, as demo.runner does for the municipality.
    gc.freeze()
    return Checker(prefixes) if prefixes else None


def official_document(name: str) -> dict[str, Any] | None:
    """An OpenAPI document as data (shared: never change it), or None when it is not here."""
    path = SHARED_SPECS / name
    if not name.endswith((".yaml", ".yml", ".json")) or not path.is_file():
        return None
    data = _parsed(path)
    return data if isinstance(data, dict) else None
