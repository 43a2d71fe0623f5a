"""Persons: field minimisation per selection, relatives as full persons, residents of an address."""

from __future__ import annotations

import math

import httpx

from demo.runner import Municipal
from graph.app import create_app
from tests.conftest import Gateway, employee_headers, gateway_settings
from tests.oas import property_paths

BRP_SPEC = "brp-personen/openapi.yaml"
# The spec's description of ``fields``: these come unasked, and a path through one of them is a 400.
AUTOMATIC = frozenset({"inOnderzoek", "geheimhoudingPersoonsgegevens", "opschortingBijhouding", "rni", "verificatie"})


def askable(schema: str) -> frozenset[str] | None:
    """The ``fields`` paths the official spec allows for a response schema, not the simulator's copy of that
    vocabulary; None when the spec is absent (noted as not checked)."""
    paths = property_paths(BRP_SPEC, schema)
    return None if paths is None else frozenset(p for p in paths if AUTOMATIC.isdisjoint(p.split(".")))


def family(demo: Municipal):
    return next(p for p in demo.data.personen.values() if p.partner_bsns and p.kind_bsns)


async def test_different_field_sets_are_fetched_apart_and_not_mixed(gateway: Gateway, demo: Municipal) -> None:
    person = family(demo)
    gateway.reset_counts()
    result = await gateway.query(
        """query($bsn: String!) { kort: persoon(burgerservicenummer: $bsn) { naam { geslachtsnaam } }
           lang: persoon(burgerservicenummer: $bsn) { naam { geslachtsnaam } geboorte { datum { datum } } } }""",
        {"bsn": person.bsn})
    assert "errors" not in result
    assert result["data"]["lang"]["geboorte"]["datum"]["datum"] == person.geboortedatum.isoformat()
    bodies = sorted((c["body"]["fields"] for c in gateway.calls("brp")), key=len)
    assert bodies == [["burgerservicenummer", "naam.geslachtsnaam"],
                      ["burgerservicenummer", "geboorte.datum", "naam.geslachtsnaam"]]


async def test_relatives_are_full_persons_in_one_batch(gateway: Gateway, demo: Municipal) -> None:
    person = family(demo)
    gateway.reset_counts()
    result = await gateway.query(
        """query($bsn: String!) { persoon(burgerservicenummer: $bsn) { partners { naam { voornamen } leeftijd }
           kinderen { naam { voornamen } leeftijd } } }""", {"bsn": person.bsn})
    assert "errors" not in result
    found = result["data"]["persoon"]
    expected = {demo.data.personen[b].voornamen for b in person.partner_bsns + person.kind_bsns}
    assert {p["naam"]["voornamen"] for p in found["partners"] + found["kinderen"]} == expected
    calls = gateway.calls("brp")
    assert len(calls) == 2  # the person, then partners and children together
    assert sorted(calls[1]["body"]["burgerservicenummer"]) == sorted(set(person.partner_bsns + person.kind_bsns))
    assert sorted(calls[1]["body"]["fields"]) == ["burgerservicenummer", "leeftijd", "naam.voornamen"]


async def test_many_persons_go_in_batches_of_twenty(gateway: Gateway, demo: Municipal) -> None:
    bsns = sorted(demo.data.personen)[:45]
    gateway.reset_counts()
    result = await gateway.query("query($b: [String!]!) { personen(burgerservicenummers: $b) { burgerservicenummer } }",
                                 {"b": bsns})
    assert sorted(p["burgerservicenummer"] for p in result["data"]["personen"]) == bsns  # deceased included
    assert [len(c["body"]["burgerservicenummer"]) for c in gateway.calls("brp")] == [20, 20, 5]
    assert len(gateway.calls("brp")) == math.ceil(45 / 20)


async def test_residents_of_an_address(gateway: Gateway, demo: Municipal) -> None:
    person = family(demo)
    assert person.nummeraanduiding_id
    result = await gateway.query(
        "query($id: String!) { adres(nummeraanduidingIdentificatie: $id) { postcode bewoners { burgerservicenummer } "
        "adresseerbaarObject { oppervlakte panden { oorspronkelijkBouwjaar } } } }", {"id": person.nummeraanduiding_id})
    assert "errors" not in result
    adres = result["data"]["adres"]
    expected = {p.bsn for p in demo.data.personen.values()
                if p.adresseerbaar_object_id == person.adresseerbaar_object_id and p.overlijdensdatum is None}
    assert {b["burgerservicenummer"] for b in adres["bewoners"]} == expected
    vo = demo.data.verblijfsobjecten[person.adresseerbaar_object_id]
    assert adres["adresseerbaarObject"]["oppervlakte"] == vo.oppervlakte
    assert [p["oorspronkelijkBouwjaar"] for p in adres["adresseerbaarObject"]["panden"]] == [
        demo.data.panden[p].oorspronkelijk_bouwjaar for p in vo.pand_ids]


async def test_fan_out_is_concurrent_and_bounded_by_max_concurrency(demo: Municipal) -> None:
    config = {**demo.config, "sources": {k: dict(v) for k, v in demo.config["sources"].items()}}
    config["sources"]["bag"]["max_concurrency"] = 3
    app = create_app(gateway_settings(config))
    bag = demo.simulators["bag"]
    people = [p for p in demo.data.personen.values() if p.nummeraanduiding_id][:12]
    addresses = {p.nummeraanduiding_id for p in people}
    bag.behaviour.update({"latency_ms": 40})
    bag.reset_counts()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers=employee_headers(demo)) as client:
        response = await client.post("/graphql", json={
            "query": "query($b: [String!]!) { personen(burgerservicenummers: $b) { verblijfplaats { adres "
                     "{ postcode } } } }", "variables": {"b": [p.bsn for p in people]}})
    await app.state.sources.aclose()
    assert "errors" not in response.json()
    assert sum(bag.counts.values()) == len(addresses)
    assert 1 < bag.max_inflight <= 3


async def test_every_field_the_gateway_can_ask_is_a_brp_field_in_the_spec(demo: Municipal) -> None:
    from resolvers.brp import ALWAYS, FIELDS, SEARCH_FIELDS

    fields = sorted({f for mapped in FIELDS.values() for f in mapped} | set(ALWAYS))
    persoon, beperkt = askable("Persoon"), askable("GezagPersoonBeperkt")
    if persoon is not None:
        assert not set(fields) - persoon, "not in the spec's Persoon, or delivered unasked"
    if beperkt is not None:  # what ZoekMetAdresseerbaarObjectIdentificatie answers
        assert not SEARCH_FIELDS - beperkt, "not in the spec's GezagPersoonBeperkt, or delivered unasked"
    entry = demo.config["sources"]["brp"]  # and the demo source, which `make demo` runs the gateway against
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{demo.urls['brp']}/personen", headers={entry["header"]: entry["key"]}, json={
            "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [family(demo).bsn], "fields": fields})
    assert response.status_code == 200, response.text


async def test_selecting_part_of_a_group_asks_only_for_that_part(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    await gateway.query('query($bsn: String!) { persoon(burgerservicenummer: $bsn) { verblijfplaats { postcode '
                        'adres { huisnummer } } } }', {"bsn": family(demo).bsn})
    [call] = gateway.calls("brp")
    assert sorted(call["body"]["fields"]) == ["burgerservicenummer", "verblijfplaats.nummeraanduidingIdentificatie",
                                              "verblijfplaats.verblijfadres.postcode"]


async def test_residents_with_names_are_one_search(gateway: Gateway, demo: Municipal) -> None:
    person = family(demo)
    query = ('query($id: String!) { adres(nummeraanduidingIdentificatie: $id) { bewoners { burgerservicenummer '
             'naam { volledigeNaam } %s } } }')
    gateway.reset_counts()
    result = await gateway.query(query % "", {"id": person.nummeraanduiding_id})
    names = {b["naam"]["volledigeNaam"] for b in result["data"]["adres"]["bewoners"]}
    assert person.geslachtsnaam in " ".join(names)
    [search] = gateway.calls("brp")
    assert search["body"]["type"] == "ZoekMetAdresseerbaarObjectIdentificatie"
    assert sorted(search["body"]["fields"]) == ["burgerservicenummer", "naam.volledigeNaam"]
    gateway.reset_counts()
    await gateway.query(query % "partners { burgerservicenummer }", {"id": person.nummeraanduiding_id})
    kinds = [c["body"]["type"] for c in gateway.calls("brp")]
    # a search answers no partners: the BSNs first, then the persons with what was asked
    assert kinds[:2] == ["ZoekMetAdresseerbaarObjectIdentificatie", "RaadpleegMetBurgerservicenummer"]
