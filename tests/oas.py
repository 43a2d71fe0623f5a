"""The official specs in tests: a simulator's answer against the OpenAPI document of the API it imitates, and
expectations read from the specs (a ``fields`` vocabulary, fixtures, an SDL) rather than from a simulator's copy.

The specs live outside the project: ``$GEMEENTEGRAAF_SPECS``, else ``../shared/specs`` beside the clone. Where
one is absent only the check that needs it is left out: the test still runs its behaviour assertions and can
fail on them, and the check it could not make is noted in ``NOT_CHECKED`` and counted in the session summary,
so a run without the specs never reads as a run with them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema_path import SchemaPath
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

from tests.conftest import SHARED_SPECS

# spec (relative to the specs folder) -> the tests that could not check against it because it is absent
NOT_CHECKED: dict[str, set[str]] = {}
WHAT_NEEDS_THEM = ("the requests every simulator receives (the gateway's too) and the simulators' answers against the "
                   "official OpenAPI documents, LVV fixtures and Huishoudboekje backend SDL; the gateway's BRP fields "
                   "and Huishoudboekje documents against the official schemas")


def spec_file(relative: str) -> Path:
    return SHARED_SPECS / relative


def official(relative: str) -> Path | None:
    """The official file, or None when it is absent; the absence is noted against the running test."""
    path = spec_file(relative)
    if path.exists():
        return path
    test = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" (", 1)[0]
    NOT_CHECKED.setdefault(relative, set()).add(test)
    return None


def require(relative: str) -> Path:
    """For a test whose only purpose is conformance: without the spec there is nothing to run."""
    path = official(relative)
    if path is None:
        pytest.skip(f"official spec {relative} not found under {SHARED_SPECS}")
    return path


@functools.cache
def _load(path: Path) -> SchemaPath:
    return SchemaPath.from_file_path(str(path))


def spec(relative: str) -> SchemaPath | None:
    """The parsed OpenAPI document, or None (noted) when it is absent."""
    path = official(relative)
    return None if path is None else _load(path)


def response_schema(spec_name: str, path: str, method: str, status: int,
                    media_type: str | None = None) -> SchemaPath | None:
    """The schema the spec gives this answer; None when the spec is absent, which ``schema_errors`` accepts."""
    document = spec(spec_name)
    if document is None:
        return None
    responses = document / "paths" / path / method.lower() / "responses"
    key = str(status) if str(status) in responses else "default"
    content = responses / key / "content"
    if media_type is None:
        media_type = next(iter(content.keys()))
    return content / media_type / "schema"


def schema_errors(schema: SchemaPath | None, body: Any) -> list[str]:
    """What in ``body`` breaks ``schema``; nothing to report when there is no schema (its spec is absent)."""
    if schema is None:
        return []
    validator = oas30_read_schema_validators_factory.create(schema, schema).validator
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)][:20]


def assert_conforms(spec_name: str, path: str, method: str, response: httpx.Response) -> None:
    """``spec_name`` is relative to the specs folder; ``path`` is the template as the spec names it."""
    media = response.headers.get("content-type", "").split(";")[0].strip() or None
    schema = response_schema(spec_name, path, method, response.status_code,
                             _media_in_spec(spec_name, path, method, response.status_code, media))
    errors = schema_errors(schema, response.json())
    assert not errors, (f"{method.upper()} {path} -> {response.status_code} does not match {spec_name}:\n"
                        + "\n".join(errors))


def _media_in_spec(spec_name: str, path: str, method: str, status: int, media: str | None) -> str | None:
    document = spec(spec_name)
    if document is None:
        return media
    responses = document / "paths" / path / method.lower() / "responses"
    key = str(status) if str(status) in responses else "default"
    keys = list((responses / key / "content").keys())
    return media if media in keys else (keys[0] if keys else None)


def property_paths(spec_name: str, schema: str) -> frozenset[str] | None:
    """Every dotted property path below a component schema, through ``$ref``, ``allOf``/``oneOf``/``anyOf``,
    discriminator variants and array items: the vocabulary of a ``fields``-style parameter, read from the
    spec rather than from a simulator's copy of it. None (noted) when the spec is absent."""
    document = spec(spec_name)
    if document is None:
        return None
    schemas: dict[str, Any] = (document / "components" / "schemas").read_value()
    paths: set[str] = set()

    def named(ref: str) -> tuple[str, dict[str, Any]]:
        name = ref.rsplit("/", 1)[1]
        return name, schemas[name]

    def properties(node: dict[str, Any], seen: frozenset[str]) -> Iterator[tuple[str, dict[str, Any], frozenset[str]]]:
        """(name, schema, refs on the way) of every property ``node`` can have, whichever variant it is."""
        if "$ref" in node:
            name, target = named(node["$ref"])
            if name not in seen:
                yield from properties(target, seen | {name})
            return
        if node.get("type") == "array" and "items" in node:
            yield from properties(node["items"], seen)
            return
        for part in (*node.get("allOf", ()), *node.get("oneOf", ()), *node.get("anyOf", ())):
            yield from properties(part, seen)
        for ref in node.get("discriminator", {}).get("mapping", {}).values():
            name, target = named(ref)
            if name not in seen:
                yield from properties(target, seen | {name})
        for key, value in node.get("properties", {}).items():
            yield key, value, seen

    def walk(node: dict[str, Any], prefix: str, seen: frozenset[str]) -> None:
        for key, value, via in properties(node, seen):
            paths.add(f"{prefix}{key}")
            walk(value, f"{prefix}{key}.", via)

    walk(schemas[schema], "", frozenset({schema}))
    return frozenset(paths)


def without_nulls(value: Any, keys: frozenset[str]) -> Any:
    """``value`` without the null members named in ``keys``, at any depth: for the nulls a real product sends
    where its own OAS forbids them, so the rest of the body is still checked against the spec."""
    if isinstance(value, dict):
        return {k: without_nulls(v, keys) for k, v in value.items() if not (v is None and k in keys)}
    if isinstance(value, list):
        return [without_nulls(v, keys) for v in value]
    return value


# -- what the run says about the specs (called from the hooks in tests/conftest.py) --------------------------


def specs_origin() -> str:
    if os.environ.get("GEMEENTEGRAAF_SPECS"):  # as demo.conformance reads it: empty means unset
        return f"{SHARED_SPECS} (GEMEENTEGRAAF_SPECS)"
    return f"{SHARED_SPECS} (../shared/specs beside the clone; set GEMEENTEGRAAF_SPECS to look elsewhere)"


def header_lines() -> list[str]:
    """Said before the run, so nobody mistakes a run without the specs for a conformance run."""
    if SHARED_SPECS.is_dir():
        return [f"official specs: {specs_origin()}"]
    return [f"official specs: absent, looked in {specs_origin()}",
            f"  not checked: {WHAT_NEEDS_THEM}; behaviour is tested all the same"]


def summary_lines() -> list[str]:
    """Said after the run: where the specs came from and which checks were left out for want of one."""
    lines = [f"specs from {specs_origin()}" if SHARED_SPECS.is_dir() else f"specs absent: {specs_origin()}"]
    if not NOT_CHECKED:
        return [*lines, "every check against them ran"]
    tests = set().union(*NOT_CHECKED.values())
    lines.append(f"conformance not checked in {len(tests)} tests, which ran on behaviour only; missing (tests each):")
    lines += [f"  {len(ids):4d}  {name}" for name, ids in sorted(NOT_CHECKED.items())]
    return lines
