"""Check a simulator's response against the official OpenAPI document of the API it imitates.

The specs live outside the project (``../shared/specs``); where they are absent the check skips and
says so, because the simulators are then still tested on behaviour.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema_path import SchemaPath
from openapi_core.validation.schemas import oas30_read_schema_validators_factory

from tests.conftest import SHARED_SPECS


@functools.cache
def _spec(relative: str) -> SchemaPath:
    path = SHARED_SPECS / relative
    if not path.exists():
        pytest.skip(f"official spec {relative} not found under {SHARED_SPECS}")
    return SchemaPath.from_file_path(str(path))


def response_schema(spec: str, path: str, method: str, status: int, media_type: str | None = None) -> SchemaPath:
    operation = _spec(spec) / "paths" / path / method.lower()
    responses = operation / "responses"
    key = str(status) if str(status) in responses else "default"
    content = responses / key / "content"
    if media_type is None:
        media_type = next(iter(content.keys()))
    return content / media_type / "schema"


def schema_errors(schema: SchemaPath, body: Any) -> list[str]:
    validator = oas30_read_schema_validators_factory.create(schema, schema).validator
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)][:20]


def assert_conforms(spec: str, path: str, method: str, response: httpx.Response) -> None:
    """``spec`` is relative to the shared specs folder; ``path`` is the template as the spec names it."""
    media = response.headers.get("content-type", "").split(";")[0].strip() or None
    schema = response_schema(spec, path, method, response.status_code, _media_in_spec(spec, path, method,
                                                                                     response.status_code, media))
    errors = schema_errors(schema, response.json())
    assert not errors, f"{method.upper()} {path} -> {response.status_code} does not match {spec}:\n" + "\n".join(errors)


def _media_in_spec(spec: str, path: str, method: str, status: int, media: str | None) -> str | None:
    responses = _spec(spec) / "paths" / path / method.lower() / "responses"
    key = str(status) if str(status) in responses else "default"
    content = responses / key / "content"
    keys = list(content.keys())
    return media if media in keys else (keys[0] if keys else None)


def without_nulls(value: Any, keys: frozenset[str]) -> Any:
    """``value`` without the null members named in ``keys``, at any depth: for the nulls a real product sends
    where its own OAS forbids them, so the rest of the body is still checked against the spec."""
    if isinstance(value, dict):
        return {k: without_nulls(v, keys) for k, v in value.items() if not (v is None and k in keys)}
    if isinstance(value, list):
        return [without_nulls(v, keys) for v in value]
    return value


def spec_file(relative: str) -> Path:
    return SHARED_SPECS / relative
