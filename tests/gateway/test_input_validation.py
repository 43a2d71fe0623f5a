"""Malformed arguments are the client's error, named, and never reach a source."""

from __future__ import annotations

import pytest

from demo.model import Municipality
from graph.identifiers import valid_bsn
from tests.conftest import Gateway

SOURCES = ("zaken", "brp", "bag", "signalen", "klantinteracties", "objecten", "vakantieverhuur", "huishoudboekje")
CASES = {
    "persoon": ('{ persoon(burgerservicenummer: "123456789") { burgerservicenummer } }', "burgerservicenummer"),
    "personen": ('{ personen(burgerservicenummers: ["123456789"]) { burgerservicenummer } }', "burgerservicenummers"),
    "zaken": ('{ zaken(bsn: "123456789") { totalCount } }', "bsn"),
    "partijen": ('{ partijen(bsn: "123456789") { totalCount } }', "bsn"),
    "lvv": ('{ vakantieverhuurRegistraties(burgerservicenummer: "123456789") { registratienummer } }',
            "burgerservicenummer"),
    "hhb": ('{ huishoudboekjeBurgerMetBsn(burgerservicenummer: "123456789") { id } }', "burgerservicenummer"),
    "date": ('{ zakenStatistiek(groepeerOp: [OPEN], vanaf: "2024-13-45") { totaal } }', "vanaf"),
    "datetime": ('{ meldingen(vanaf: "gisteren") { totalCount } }', "vanaf"),
    "uuid": ('{ zaak(uuid: "not-a-uuid") { identificatie } }', "uuid"),
    "partij uuid": ('{ partij(uuid: "123") { nummer } }', "uuid"),
    "bag id": ('{ adres(nummeraanduidingIdentificatie: "0363010000000001") { postcode } }',
               "nummeraanduidingIdentificatie"),
    "postcode": ('{ adressen(postcode: "12AB34", huisnummer: 1) { postcode } }', "postcode"),
    "first": ("{ zaken(first: 1000) { totalCount } }", "first"),
    "cursor": ('{ zaken(after: "nonsense!") { totalCount } }', "cursor"),
}


@pytest.mark.parametrize(("query", "argument"), CASES.values(), ids=CASES.keys())
async def test_bad_arguments_never_reach_a_source(gateway: Gateway, query: str, argument: str) -> None:
    gateway.reset_counts()
    answer = await gateway.query(query)
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert argument in error["message"]
    assert sum(len(gateway.calls(s)) for s in SOURCES) == 0


async def test_a_date_variable_is_a_named_client_error(gateway: Gateway) -> None:
    answer = await gateway.query(
        "query($vanaf: Date) { zakenStatistiek(groepeerOp: [OPEN], vanaf: $vanaf) { totaal } }", {"vanaf": "morgen"}
    )
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$vanaf" in error["message"]


async def test_valid_dates_still_pass(gateway: Gateway) -> None:
    answer = await gateway.query(
        '{ zakenStatistiek(groepeerOp: [OPEN], vanaf: "2020-01-01", tot: "2030-01-01") { totaal } '
        'meldingen(first: 1, vanaf: "2020-01-01T00:00:00+01:00") { totalCount } }'
    )
    assert not answer.get("errors"), answer["errors"]


def test_every_demo_bsn_passes_the_eleven_test(municipality: Municipality) -> None:
    assert all(valid_bsn(bsn) for bsn in municipality.personen)
    assert not valid_bsn("123456789")
