"""The LVV simulator against the upstream contract that Amsterdam's adapter and its fixtures show."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.model import Municipality
from demo.runner import Municipal, running_alone
from demo.vakantieverhuur import VakantieverhuurSimulator
from tests.oas import official

FIXTURES = "vakantieverhuur/examples"  # the upstream LVV answers, as Amsterdam's adapter tests them
DOTNET_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?$")


@pytest.fixture(scope="module")
def lvv(municipality: Municipality) -> Iterator[Municipal]:
    """Only this simulator, on a free port, so the file runs whatever the other simulators' state."""
    with running_alone(VakantieverhuurSimulator, municipality) as running:
        yield running


@pytest.fixture
def client(lvv: Municipal) -> Iterator[httpx.Client]:
    key = lvv.config["sources"]["vakantieverhuur"]["key"]
    with httpx.Client(base_url=lvv.urls["vakantieverhuur"], headers={"X-Api-Key": key}) as c:
        yield c


def unspaced(number: str) -> str:
    """A registration number as the BSN lookup lists it (the fixture's ``AAAAAAAAAAAAAAAAAAAA``)."""
    return number.replace(" ", "")


def by_bsn(client: httpx.Client, body: Any) -> httpx.Response:
    return client.post("/registrations/bsn", content=json.dumps(body), headers={"Content-Type": "application/json"})


def keys_of(value: Any) -> Any:
    """The nested key structure of a JSON value, to compare shapes without values."""
    if isinstance(value, dict):
        return {k: keys_of(v) for k, v in value.items()}
    return None


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://tools.ietf.org/")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", body["traceId"])
    return body


def test_api_key_is_required(lvv: Municipal, client: httpx.Client) -> None:
    base = lvv.urls["vakantieverhuur"]
    number = unspaced(next(iter(lvv.data.vakantieverhuur)))
    assert_problem(httpx.get(f"{base}/registrations/{number}"), 401)
    assert_problem(httpx.get(f"{base}/registrations/{number}", headers={"X-Api-Key": "wrong"}), 401)
    assert_problem(httpx.post(f"{base}/registrations/bsn", json="999999990"), 401)
    assert client.get(f"/registrations/{number}").status_code == 200


def test_bsn_lookup_lists_compact_numbers(lvv: Municipal, client: httpx.Client) -> None:
    data = lvv.data
    owners: dict[str, set[str]] = {}
    for reg in data.vakantieverhuur.values():
        owners.setdefault(reg.bsn, set()).add(unspaced(reg.registration_number))
    several = next((bsn for bsn, numbers in owners.items() if len(numbers) > 1), next(iter(owners)))
    response = by_bsn(client, several)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert [set(item) for item in body] == [{"registrationNumber"}] * len(body)
    assert {item["registrationNumber"] for item in body} == owners[several]
    assert all(" " not in item["registrationNumber"] for item in body)
    fixture = official(f"{FIXTURES}/registration_bsn.json")
    if fixture is not None:
        listed = json.loads(fixture.read_text())[0]
        assert all(keys_of(item) == keys_of(listed) for item in body)
        assert {len(item["registrationNumber"]) for item in body} == {len(listed["registrationNumber"])}


def test_bsn_without_registrations_is_an_empty_list(lvv: Municipal, client: httpx.Client) -> None:
    registered = {reg.bsn for reg in lvv.data.vakantieverhuur.values()}
    other = next(bsn for bsn in lvv.data.personen if bsn not in registered)
    response = by_bsn(client, other)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("body", ["12345678", "123456789", "abcdefghi", 999999990, None])
def test_invalid_bsn_is_a_validation_problem(client: httpx.Client, body: Any) -> None:
    problem = assert_problem(by_bsn(client, body), 400)
    assert problem["title"] == "One or more validation errors occurred."
    assert isinstance(problem["errors"], dict)
    assert problem["errors"]


def test_bsn_body_must_be_json(client: httpx.Client) -> None:
    response = client.post("/registrations/bsn", content='"999999990"', headers={"Content-Type": "text/plain"})
    assert_problem(response, 415)
    response = client.post("/registrations/bsn", content="not json", headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_registration_matches_the_fixture_shape_and_the_municipality(lvv: Municipal, client: httpx.Client) -> None:
    data = lvv.data
    reg = next(iter(data.vakantieverhuur.values()))
    response = client.get(f"/registrations/{unspaced(reg.registration_number)}")
    assert response.status_code == 200
    body = response.json()
    fixture = official(f"{FIXTURES}/registration_item.json")
    if fixture is not None:
        assert keys_of(body) == keys_of(json.loads(fixture.read_text()))
    assert body["registrationNumber"] == reg.registration_number
    assert re.fullmatch(r"[A-Z0-9]{4}( [A-Z0-9]{4}){4}", body["registrationNumber"])
    person = data.personen[reg.bsn]
    details = body["requester"]["personalDetails"]
    assert (details["lastName"], details["lastNamePrefix"]) == (person.geslachtsnaam, person.voorvoegsel)
    assert body["requester"]["personType"] == "NaturalPerson"
    assert body["requester"]["email"] == reg.email
    na = data.nummeraanduidingen[reg.nummeraanduiding_id]
    street = data.openbare_ruimten[na.openbare_ruimte_id]
    house = body["rentalHouse"]
    assert house["houseNumber"] == str(na.huisnummer)  # a string, as in the fixture
    assert (house["houseLetter"], house["houseNumberExtension"]) == (na.huisletter, na.huisnummertoevoeging)
    assert house["postalCode"] == na.postcode
    assert re.fullmatch(r"\d{4}[A-Z]{2}", house["postalCode"])
    assert (house["street"], house["shortName"]) == (street.naam, street.korte_naam)
    assert house["city"] == data.woonplaatsen[street.woonplaats_id].naam
    assert DOTNET_DATETIME.match(body["createdAt"])
    assert DOTNET_DATETIME.match(body["agreementDate"])
    assert body["agreementDate"] >= body["createdAt"]


def test_spaced_number_is_accepted_too(lvv: Municipal, client: httpx.Client) -> None:
    reg = next(iter(lvv.data.vakantieverhuur.values()))
    response = client.get(f"/registrations/{reg.registration_number}")
    assert response.status_code == 200
    assert response.json()["registrationNumber"] == reg.registration_number


def test_unknown_number_and_wrong_methods(client: httpx.Client) -> None:
    assert_problem(client.get("/registrations/ZZZZZZZZZZZZZZZZZZZZ"), 404)
    assert_problem(client.get("/registrations/bsn"), 404)
    assert_problem(client.post("/registrations/ZZZZZZZZZZZZZZZZZZZZ", json="x"), 405)
    assert_problem(client.get("/registrations"), 404)  # no lookup by address exists upstream


def test_request_log_records_the_bsn_body(lvv: Municipal, client: httpx.Client) -> None:
    control = lvv.urls["vakantieverhuur"].removesuffix("/api/v1") + "/_demo/requests"
    httpx.delete(control)
    bsn = next(iter(lvv.data.personen))
    by_bsn(client, bsn)
    log = httpx.get(control).json()
    assert log["routes"] == {"POST /api/v1/registrations/bsn": 1}
    assert log["recent"][0]["body"] == bsn
    assert log["recent"][0]["headers"]["x-api-key"]
