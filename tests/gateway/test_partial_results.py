"""One failing source never nulls the whole answer: for every root field, its source answering 500 leaves
``data`` in place, another source's root field keeps its data, and the error names the source and status."""

from __future__ import annotations

from string import Template
from typing import Any

import pytest

from demo.runner import Municipal
from schema.root import schema
from tests.conftest import Gateway
from tests.gateway.authz_client import ask

# Every root field, the source that serves it, and a query for it; ``$name`` values come from the healthy graph.
ROOT_FIELDS: dict[str, tuple[str, str]] = {
    "zaak": ("zaken", 'zaak(uuid: "$zaak") { identificatie }'),
    "zaken": ("zaken", "zaken(first: 2) { totalCount nodes { identificatie } }"),
    "zakenStatistiek": ("zaken", "zakenStatistiek(groepeerOp: [OPEN]) { totaal }"),
    "persoon": ("brp", 'persoon(burgerservicenummer: "$bsn") { naam { volledigeNaam } }'),
    "personen": ("brp", 'personen(burgerservicenummers: ["$bsn"]) { burgerservicenummer }'),
    "adres": ("bag", 'adres(nummeraanduidingIdentificatie: "$nummeraanduiding") { postcode }'),
    "adressen": ("bag", 'adressen(postcode: "$postcode", huisnummer: $huisnummer) { postcode }'),
    "melding": ("signalen", 'melding(id: "$melding") { tekst }'),
    "meldingen": ("signalen", "meldingen(first: 2) { nodes { id } }"),
    "meldingenStatistiek": ("signalen", "meldingenStatistiek(groepeerOp: []) { totaal }"),
    "partij": ("klantinteracties", 'partij(uuid: "$partij") { nummer }'),
    "partijen": ("klantinteracties", "partijen(first: 2) { nodes { uuid } }"),
    "klantcontact": ("klantinteracties", 'klantcontact(uuid: "$klantcontact") { nummer }'),
    "klantcontacten": ("klantinteracties", "klantcontacten(first: 2) { nodes { uuid } }"),
    "object": ("objecten", 'object(uuid: "$object") { uuid }'),
    "objecten": ("objecten", "objecten(first: 2) { nodes { uuid } }"),
    "vakantieverhuurRegistratie": (
        "vakantieverhuur", 'vakantieverhuurRegistratie(registratienummer: "$registratie") { registratienummer }'
    ),
    "vakantieverhuurRegistraties": (
        "vakantieverhuur", 'vakantieverhuurRegistraties(burgerservicenummer: "$lvv_bsn") { registratienummer }'
    ),
    "huishoudboekjeBurger": ("huishoudboekje", "huishoudboekjeBurger(id: $burger) { achternaam }"),
    "huishoudboekjeBurgerMetBsn": (
        "huishoudboekje", 'huishoudboekjeBurgerMetBsn(burgerservicenummer: "$burger_bsn") { achternaam }'
    ),
    "huishoudboekjeBurgers": ("huishoudboekje", "huishoudboekjeBurgers(first: 2) { nodes { id } }"),
}
WITNESS = {"bag": 'witness: melding(id: "$melding") { tekst }'}
DEFAULT_WITNESS = 'witness: adres(nummeraanduidingIdentificatie: "$nummeraanduiding") { postcode }'


def test_the_table_names_every_root_field() -> None:
    # ``me``: a test of its own below; gemeente and gemeenten over several municipalities: test_municipalities.py
    assert set(ROOT_FIELDS) | {"me", "gemeente", "gemeenten"} == set(schema._schema.query_type.fields)


@pytest.fixture(scope="module")
async def inputs(gateway: Gateway, demo: Municipal) -> dict[str, Any]:
    """Values to ask for, read through the healthy graph (so they exist at their sources); a registration
    number is picked from the demo's data, since the LVV register has no list to read it from."""
    found = await gateway.query("""{
      zaken(first: 1) { nodes { uuid } }
      meldingen(first: 1) { nodes { id } }
      partijen(first: 1) { nodes { uuid bsn } }
      klantcontacten(first: 1) { nodes { uuid } }
      objecten(first: 1) { nodes { uuid } }
      huishoudboekjeBurgers(first: 1) { nodes { id bsn } }
    }""")
    data = found["data"]
    bsn = data["partijen"]["nodes"][0]["bsn"]
    person = await gateway.query(
        """query($bsn: String!) { persoon(burgerservicenummer: $bsn) { verblijfplaats { adres {
        nummeraanduidingIdentificatie postcode huisnummer } } } }""",
        {"bsn": bsn},
    )
    registration = next(iter(demo.data.vakantieverhuur.values()))
    adres = person["data"]["persoon"]["verblijfplaats"]["adres"]
    burger = data["huishoudboekjeBurgers"]["nodes"][0]
    values = {
        "zaak": data["zaken"]["nodes"][0]["uuid"],
        "bsn": bsn,
        "lvv_bsn": registration.bsn,
        "registratie": registration.registration_number,
        "melding": data["meldingen"]["nodes"][0]["id"],
        "nummeraanduiding": adres["nummeraanduidingIdentificatie"],
        "postcode": adres["postcode"],
        "huisnummer": adres["huisnummer"],
        "partij": data["partijen"]["nodes"][0]["uuid"],
        "klantcontact": data["klantcontacten"]["nodes"][0]["uuid"],
        "object": data["objecten"]["nodes"][0]["uuid"],
        "burger": burger["id"],
        "burger_bsn": burger["bsn"],
    }
    assert all(v is not None for v in values.values()), values
    return values


@pytest.mark.parametrize("field", sorted(ROOT_FIELDS))
async def test_a_source_answering_500_nulls_only_its_own_root_field(
    gateway: Gateway, demo: Municipal, inputs: dict[str, Any], field: str
) -> None:
    source, selection = ROOT_FIELDS[field]
    witness = WITNESS.get(source, DEFAULT_WITNESS)
    query = "{ " + Template(selection + " " + witness).substitute(inputs) + " }"
    healthy = await gateway.query(query)
    assert "errors" not in healthy, healthy

    demo.simulators[source].behaviour.update({"error_rate": 1.0, "error_status": 500})
    result = await gateway.query(query)

    assert result["data"] is not None
    assert result["data"]["witness"] == healthy["data"]["witness"]
    assert result["errors"]
    for error in result["errors"]:
        assert error["path"][0] == field
        assert error["extensions"] == {"code": "UPSTREAM_ERROR", "source": source, "status": 500}
    assert result["data"][field] != healthy["data"][field]


async def test_a_citizens_failing_source_nulls_only_its_part_of_me(gateway: Gateway, demo: Municipal,
                                                                   inputs: dict[str, Any]) -> None:
    query = "{ me { persoon { naam { volledigeNaam } } zaken { totalCount } } }"
    healthy = await ask(gateway, query, bsn=inputs["bsn"], purpose=None)
    assert "errors" not in healthy, healthy
    demo.simulators["zaken"].behaviour.update({"error_rate": 1.0, "error_status": 500})
    result = await ask(gateway, query, bsn=inputs["bsn"], purpose=None)
    assert result["data"]["me"]["persoon"] == healthy["data"]["me"]["persoon"]
    assert result["errors"]
    for error in result["errors"]:
        assert error["path"][:2] == ["me", "zaken"]
        assert error["extensions"] == {"code": "UPSTREAM_ERROR", "source": "zaken", "status": 500}
