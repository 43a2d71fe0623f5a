"""GraphQL over HTTP: media types, status codes and error codes as the specification gives them, and bad
request bodies answered with a 400 and a GraphQL error, never a 500 or a traceback in the log."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest

from tests.conftest import Gateway

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON_HEADERS = {"content-type": "application/json"}

BAD_BODIES = {
    "null": b"null",
    "a number": b"5",
    "a string": b'"query"',
    "not UTF-8": b'{"query": "\xff\xfe{ __typename }"}',
    "nested 5,000 deep": b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
    "not JSON": b"{query: __typename}",
    "variables not an object": b'{"query": "{ __typename }", "variables": [1]}',
    "query not a string": b'{"query": 5}',
}


def no_traceback(records: list[logging.LogRecord]) -> None:
    gc.collect()  # a task whose exception nobody read is reported when it is collected
    for record in records:
        assert record.exc_info is None, record.getMessage()
        assert "never retrieved" not in record.getMessage()
        assert "Traceback" not in record.getMessage()


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_a_bad_body_is_a_400_with_a_coded_error(gateway: Gateway, caplog: pytest.LogCaptureFixture,
                                                      name: str, accept: str) -> None:
    caplog.set_level(logging.DEBUG)
    answer = await gateway.client.post("/graphql", content=BAD_BODIES[name], headers={**JSON_HEADERS, "accept": accept})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith(accept)
    errors = answer.json()["errors"]
    assert errors and all(e["extensions"]["code"] for e in errors)
    assert "data" not in answer.json()
    no_traceback(caplog.records)


REQUEST_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "syntax": ({"query": "{ zaken(first: "}, "GRAPHQL_PARSE_FAILED"),
    "unknown field": ({"query": "{ geenVeld }"}, "GRAPHQL_VALIDATION_FAILED"),
    "variable that does not coerce": (
        {"query": "query($n: Int!) { zaken(first: $n) { totalCount } }", "variables": {"n": "tien"}}, "BAD_USER_INPUT"),
    "missing variable": ({"query": "query($n: Int!) { zaken(first: $n) { totalCount } }"}, "BAD_USER_INPUT"),
    "several operations, none named": (
        {"query": "query A { __typename } query B { __typename }"}, "GRAPHQL_VALIDATION_FAILED"),
    "named operation that is not there": (
        {"query": "query A { __typename }", "operationName": "B"}, "GRAPHQL_VALIDATION_FAILED"),
}


@pytest.mark.parametrize("name", list(REQUEST_ERRORS))
async def test_request_errors_are_400_for_graphql_response_json(gateway: Gateway, caplog: pytest.LogCaptureFixture,
                                                                name: str) -> None:
    body, code = REQUEST_ERRORS[name]
    answer = await gateway.client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    payload = answer.json()
    assert "data" not in payload  # a request error has no data entry at all
    assert [e["extensions"]["code"] for e in payload["errors"]] == [code] * len(payload["errors"])
    no_traceback(caplog.records)


@pytest.mark.parametrize("name", list(REQUEST_ERRORS))
async def test_request_errors_stay_200_for_plain_json(gateway: Gateway, name: str) -> None:
    """The specification keeps 200 for ``application/json``: older clients read errors from the body."""
    body, code = REQUEST_ERRORS[name]
    answer = await gateway.client.post("/graphql", json=body, headers={"accept": "application/json"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert {e["extensions"]["code"] for e in answer.json()["errors"]} == {code}


async def test_named_operation_among_several_runs(gateway: Gateway) -> None:
    body = {"query": "query A { a: __typename } query B { b: __typename }", "operationName": "B"}
    answer = await gateway.client.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE})
    assert answer.status_code == 200
    assert answer.json() == {"data": {"b": "Query"}}


async def test_field_errors_keep_200_and_data(gateway: Gateway) -> None:
    """An error in a field is no request error: the answer has data, so it is a 200 in both media types."""
    query = '{ zaak(uuid: "00000000-0000-4000-8000-000000000000") { identificatie } }'
    for accept in ("application/json", GRAPHQL_RESPONSE):
        answer = await gateway.client.post("/graphql", json={"query": query}, headers={"accept": accept})
        assert answer.status_code == 200
        assert "data" in answer.json()


@pytest.mark.parametrize(("accept", "media"), [
    ("", "application/json"),
    ("*/*", "application/json"),
    (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
    (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
])
async def test_media_type_follows_accept(gateway: Gateway, accept: str, media: str) -> None:
    answer = await gateway.client.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": accept})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media)
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_get_with_bad_variables_is_a_400(gateway: Gateway) -> None:
    answer = await gateway.client.get("/graphql", params={"query": "{ __typename }", "variables": "{nope"},
                                      headers={"accept": GRAPHQL_RESPONSE})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
