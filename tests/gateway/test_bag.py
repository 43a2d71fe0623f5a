"""Addresses: one BAG call per address even with its dwelling and buildings, and answers that agree."""

from __future__ import annotations

from demo.runner import Municipal
from tests.conftest import Gateway

QUERY = """query($ids: [String!]!) { personen(burgerservicenummers: $ids) { burgerservicenummer verblijfplaats { adres {
  postcode huisnummer openbareRuimteNaam adresseerbaarObject { oppervlakte gebruiksdoelen
  panden { identificatie oorspronkelijkBouwjaar } } } } } }"""


async def test_an_address_with_its_dwelling_and_buildings_is_one_bag_call(gateway: Gateway, demo: Municipal) -> None:
    people = [p for p in demo.data.personen.values() if p.nummeraanduiding_id][:15]
    gateway.reset_counts()
    result = await gateway.query(QUERY, {"ids": [p.bsn for p in people]})
    assert "errors" not in result, result.get("errors")
    addresses = {p.nummeraanduiding_id for p in people}
    calls = gateway.calls("bag")
    assert len(calls) == len(addresses)
    assert all(c["route"].endswith("/adressen/{nummeraanduidingIdentificatie}") for c in calls)
    assert all("expand=adresseerbaarObject%2Cpanden" in c["query"] for c in calls)
    by_bsn = {p["burgerservicenummer"]: p for p in result["data"]["personen"]}
    for person in people:
        assert person.nummeraanduiding_id is not None and person.adresseerbaar_object_id is not None
        na = demo.data.nummeraanduidingen[person.nummeraanduiding_id]
        vo = demo.data.verblijfsobjecten[person.adresseerbaar_object_id]
        adres = by_bsn[person.bsn]["verblijfplaats"]["adres"]
        assert adres["postcode"] == na.postcode
        assert adres["huisnummer"] == na.huisnummer
        assert adres["openbareRuimteNaam"] == demo.data.openbare_ruimten[na.openbare_ruimte_id].naam
        assert adres["adresseerbaarObject"]["oppervlakte"] == vo.oppervlakte
        assert [p["oorspronkelijkBouwjaar"] for p in adres["adresseerbaarObject"]["panden"]] == [
            demo.data.panden[p].oorspronkelijk_bouwjaar for p in vo.pand_ids]


async def test_only_the_address_asks_for_nothing_inline(gateway: Gateway, demo: Municipal) -> None:
    person = next(p for p in demo.data.personen.values() if p.nummeraanduiding_id)
    gateway.reset_counts()
    await gateway.query('query($b: String!) { persoon(burgerservicenummer: $b) { verblijfplaats { adres { postcode } }'
                        ' } }', {"b": person.bsn})
    [call] = gateway.calls("bag")
    assert "expand" not in call["query"]
