"""A source's own OpenAPI document: fetched where the product publishes it, and asked what a client may send.

Products that implement one standard differ in what they accept (a ``pageSize`` parameter, the type of a
request-body member), and a product's document says so. Resolvers use a product's extension only when
its document declares it, so they read the document once per source (``graph.once.PerSource``) and keep
only the few facts they need, never the document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import yaml

from graph.calls import SourceCall
from graph.errors import SourceError
from graph.source import Source

log = logging.getLogger("gemeentegraaf.openapi")
Document = Mapping[str, Any]
# YAML too: drf-spectacular's YAML view (Open Zaak) refuses a request that accepts only JSON with 406
MAX_BYTES = 16_000_000  # the largest ZGW document is under 1 MB; anything far larger is not what it claims
ACCEPT = "application/json, application/vnd.oai.openapi+json, application/vnd.oai.openapi, application/yaml, */*;q=0.5"


async def read_document(source: Source, paths: Sequence[str], context: Any = None) -> Document | None:
    """The first OpenAPI document found at ``paths`` (below the source's base URL), or None when none of them
    has one. An answer that says the document is not there (4xx, or not a document) moves on to the next
    path; a failure that may pass (no answer, 5xx, 429) raises, so the caller can try again later."""
    for path in paths:
        call = SourceCall(source.name, "GET", source.url(path), headers={"Accept": ACCEPT}, context=context)
        try:
            response = await source.send(call)
        except SourceError as exc:
            if transient(exc):
                raise
            continue
        document = await _parse(response.content)
        if document is not None:
            return document
        log.info("source %s: %s is not an OpenAPI document", source.name, path)
    return None


def transient(exc: SourceError) -> bool:
    """Whether a failure may pass by itself: no answer at all, a server error or rate limiting."""
    return exc.status is None or exc.status >= 500 or exc.status == 429


async def _parse(content: bytes) -> Document | None:
    if len(content) > MAX_BYTES:
        return None
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        body = await asyncio.to_thread(_yaml, content)  # a large YAML document takes about a second
    return body if isinstance(body, Mapping) and isinstance(body.get("paths"), Mapping) else None


def _yaml(content: bytes) -> Any:
    try:
        return yaml.load(content, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None


def resolve(document: Document, node: Any) -> Any:
    """``node`` with a local ``$ref`` (``#/components/...``) followed; other references stay unresolved."""
    for _ in range(10):  # a chain of references, not a cycle
        ref = node.get("$ref") if isinstance(node, Mapping) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return node
        node = document
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
    return node


def operation(document: Document, path: str, method: str) -> Mapping[str, Any] | None:
    item = resolve(document, document.get("paths", {}).get(path))
    found = resolve(document, item.get(method.lower())) if isinstance(item, Mapping) else None
    return found if isinstance(found, Mapping) else None


def parameter(document: Document, path: str, method: str, name: str, where: str = "query") -> Mapping[str, Any] | None:
    """The operation's parameter ``name`` in ``where`` (its own, or its path item's), or None."""
    item = resolve(document, document.get("paths", {}).get(path))
    op = operation(document, path, method)
    if not isinstance(item, Mapping) or op is None:
        return None
    for raw in [*op.get("parameters", []), *item.get("parameters", [])]:
        param = resolve(document, raw)
        if isinstance(param, Mapping) and param.get("name") == name and param.get("in") == where:
            return param
    return None


def body_property(
    document: Document, path: str, method: str, name: str, media_type: str = "application/json"
) -> Mapping[str, Any] | None:
    """The schema of member ``name`` of the operation's request body (``allOf`` parts merged), or None."""
    op = operation(document, path, method)
    body = resolve(document, op.get("requestBody")) if op is not None else None
    content = body.get("content") if isinstance(body, Mapping) else None
    media = resolve(document, content.get(media_type)) if isinstance(content, Mapping) else None
    schema = resolve(document, media.get("schema")) if isinstance(media, Mapping) else None
    found = _member(document, schema, name)
    return found if isinstance(found, Mapping) else None


def _member(document: Document, schema: Any, name: str) -> Any:
    if not isinstance(schema, Mapping):
        return None
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and name in properties:
        return resolve(document, properties[name])
    for part in schema.get("allOf", []):
        found = _member(document, resolve(document, part), name)
        if found is not None:
            return found
    return None


def schema_type(document: Document, schema: Mapping[str, Any] | None) -> str | None:
    """The ``type`` of a schema, looking through a one-part ``allOf``."""
    if schema is None:
        return None
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind
    parts = schema.get("allOf")
    if isinstance(parts, list) and len(parts) == 1:
        inner = resolve(document, parts[0])
        return schema_type(document, inner) if isinstance(inner, Mapping) else None
    return None
