"""The processing log: one record per data subject per request, none without personal data, none when off,
and no answer when the records cannot be written."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from demo.runner import Municipal
from tests.conftest import Gateway
from tests.gateway.test_outbound_headers import (
    EMPLOYEE,
    PERSONS_OF_ZAKEN,
    TRACE,
    TRANSACTION,
    ZAAKBEHANDELING,
    ask,
    bsns_in,
    gateway_with,
)

KEY = "a-demo-pseudonym-key"


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.fixture
async def logged(demo: Municipal, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Gateway]:
    """A gateway logging to ``tmp_path``; ``@pytest.mark.parametrize("logged", [{...}], indirect=True)`` adds
    ``[gateway.logboek]`` keys."""
    extra = getattr(request, "param", {})
    gw = gateway_with(demo, {"sink": "jsonl", "path": str(tmp_path / "logboek.jsonl"), **extra})
    yield gw
    await gw.client.aclose()
    await gw.app.state.sources.aclose()


async def test_one_record_per_person_of_a_query_touching_several(
    logged: Gateway, tmp_path: Path
) -> None:
    answer = await ask(logged, PERSONS_OF_ZAKEN, ZAAKBEHANDELING)
    persons = bsns_in(answer["data"])
    assert len(persons) > 1
    found = records(tmp_path / "logboek.jsonl")
    subjects = [r["attributes"]["dpl.core.data_subject_id"] for r in found]
    assert sorted(subjects) == sorted(persons)  # exactly one each
    assert len({r["operation_id"] for r in found}) == len(found)
    for record in found:
        assert record["trace_id"] == TRACE and len(record["operation_id"]) == 16
        assert record["name"] == "ZakenMetPersonen"
        assert record["status_code"] == "STATUS_CODE_OK"
        assert record["start_time"] <= record["end_time"]
        attributes = record["attributes"]
        assert attributes["dpl.core.processing_activity_id"] == ZAAKBEHANDELING
        assert attributes["dpl.gemeentegraaf.user_id"] == EMPLOYEE.subject
        assert attributes["dpl.gemeentegraaf.transaction_id"] == TRANSACTION
        assert "brp" in attributes["dpl.gemeentegraaf.sources"]
        assert "brp:naam.volledigeNaam" in attributes["dpl.gemeentegraaf.data_elements"]
    assert len({r["parent_operation_id"] for r in found}) == 1


async def test_persons_found_by_address_are_logged(logged: Gateway, tmp_path: Path) -> None:
    where = PERSONS_OF_ZAKEN.replace("naam { volledigeNaam }", "verblijfplaats { nummeraanduidingIdentificatie }")
    first = await ask(logged, where, ZAAKBEHANDELING)
    na = next(
        p["verblijfplaats"]["nummeraanduidingIdentificatie"]
        for z in first["data"]["zaken"]["nodes"] for r in z["rollen"]
        if (p := r["persoon"]) and (p.get("verblijfplaats") or {}).get("nummeraanduidingIdentificatie")
    )
    (tmp_path / "logboek.jsonl").unlink()
    query = "query($na: String!) { adres(nummeraanduidingIdentificatie: $na) { bewoners { burgerservicenummer } } }"
    residents = bsns_in((await ask(logged, query, ZAAKBEHANDELING, {"na": na}))["data"])
    assert residents
    found = records(tmp_path / "logboek.jsonl")
    assert sorted(r["attributes"]["dpl.core.data_subject_id"] for r in found) == sorted(residents)
    assert all(r["name"] == "gemeentegraaf.graphql" for r in found)  # an unnamed operation


async def test_no_record_without_personal_data(logged: Gateway, tmp_path: Path) -> None:
    response = await logged.client.post("/graphql", json={"query": "{ objecten(first: 2) { nodes { uuid } } }"})
    assert response.status_code == 200
    assert records(tmp_path / "logboek.jsonl") == []


@pytest.mark.parametrize("logged", [{"sink": "none"}], indirect=True)
async def test_nothing_is_written_when_the_log_is_off(logged: Gateway, tmp_path: Path) -> None:
    answer = await ask(logged, PERSONS_OF_ZAKEN, ZAAKBEHANDELING)
    assert bsns_in(answer["data"])
    assert not (tmp_path / "logboek.jsonl").exists()


@pytest.mark.parametrize("logged", [{"subject_key": KEY}], indirect=True)
async def test_a_subject_key_logs_pseudonyms(logged: Gateway, tmp_path: Path) -> None:
    answer = await ask(logged, PERSONS_OF_ZAKEN, ZAAKBEHANDELING)
    expected = {hmac.new(KEY.encode(), b.encode(), hashlib.sha256).hexdigest() for b in bsns_in(answer["data"])}
    found = records(tmp_path / "logboek.jsonl")
    assert {r["attributes"]["dpl.core.data_subject_id"] for r in found} == expected
    assert not any(b in (tmp_path / "logboek.jsonl").read_text() for b in bsns_in(answer["data"]))


async def test_no_answer_when_the_records_cannot_be_written(
    demo: Municipal, tmp_path: Path
) -> None:
    gw = gateway_with(demo, {"sink": "jsonl", "path": str(tmp_path)})  # a directory: appending fails
    try:
        response = await gw.client.post(
            "/graphql", json={"query": PERSONS_OF_ZAKEN}, headers={"X-Verwerkingsactiviteit": ZAAKBEHANDELING}
        )
        answer = response.json()
        assert answer["data"] is None
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["PROCESSING_LOG_UNAVAILABLE"]
    finally:
        await gw.client.aclose()
        await gw.app.state.sources.aclose()
