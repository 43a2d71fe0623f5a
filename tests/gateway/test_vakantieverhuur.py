"""LVV through the gateway: answers match the register, lookups are batched per BSN and per number."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from demo.model import Municipality, VakantieverhuurRegistratie
from resolvers.vakantieverhuur import compact, elfproef, same_house

POST_BSN = "POST /api/v1/registrations/bsn"
GET_NR = "GET /api/v1/registrations/{number}"
AMS = ZoneInfo("Europe/Amsterdam")

FIELDS = """registratienummer aangemaaktOp overeenkomstDatum voorEenAnder
  adres { straat huisnummer huisletter huisnummertoevoeging postcode woonplaats }
  aanvragerGegevens { persoonType voornaam achternaam }"""


def regs_of(data: Municipality, bsn: str) -> list[VakantieverhuurRegistratie]:
    return sorted((r for r in data.vakantieverhuur.values() if r.bsn == bsn), key=lambda r: r.created_at)


def bsns_with(data: Municipality, n: int) -> list[str]:
    """The first BSNs that have exactly ``n`` registrations."""
    count = Counter(r.bsn for r in data.vakantieverhuur.values())
    return sorted(b for b, c in count.items() if c == n)


def expected(data: Municipality, reg: VakantieverhuurRegistratie) -> dict[str, Any]:
    na = data.nummeraanduidingen[reg.nummeraanduiding_id]
    street = data.openbare_ruimten[na.openbare_ruimte_id]
    return {"straat": street.naam, "huisnummer": na.huisnummer, "huisletter": na.huisletter,
            "huisnummertoevoeging": na.huisnummertoevoeging, "postcode": na.postcode,
            "woonplaats": data.woonplaatsen[street.woonplaats_id].naam}


async def lvv(gateway: Any, demo: Any) -> Counter[str]:
    counts: Counter[str] = demo.simulators["vakantieverhuur"].counts
    return counts


async def test_registratie_by_number_matches_the_register(gateway: Any, demo: Any) -> None:
    reg = next(iter(demo.data.vakantieverhuur.values()))
    for spelling in (reg.registration_number, compact(reg.registration_number).lower()):
        answer = await gateway.query(f"query($nr: String!) {{ vakantieverhuurRegistratie(registratienummer: $nr) "
                                     f"{{ {FIELDS} aanvrager {{ burgerservicenummer }} }} }}", {"nr": spelling})
        assert "errors" not in answer, answer
        got = answer["data"]["vakantieverhuurRegistratie"]
        assert got["registratienummer"] == reg.registration_number
        assert got["adres"] == expected(demo.data, reg)
        assert dt.datetime.fromisoformat(got["aangemaaktOp"]) == reg.created_at  # local time, now with its offset
        assert got["overeenkomstDatum"] == reg.agreement_date.astimezone(AMS).date().isoformat()
        assert got["voorEenAnder"] is False
        person = demo.data.personen[reg.bsn]
        assert got["aanvragerGegevens"] == {"persoonType": "NaturalPerson", "voornaam": person.voornamen.split()[0],
                                            "achternaam": person.geslachtsnaam}
        assert got["aanvrager"] is None  # an LVV item carries no BSN


async def test_unknown_number_is_null_not_an_error(gateway: Any, demo: Any) -> None:
    answer = await gateway.query('{ vakantieverhuurRegistratie(registratienummer: "ZZZZ ZZZZ ZZZZ ZZZZ ZZZZ") '
                                 "{ registratienummer } }")
    assert answer == {"data": {"vakantieverhuurRegistratie": None}}


async def test_registraties_for_a_bsn_in_register_order(gateway: Any, demo: Any) -> None:
    bsn = bsns_with(demo.data, 2)[0]
    answer = await gateway.query(f'{{ vakantieverhuurRegistraties(burgerservicenummer: "{bsn}") {{ {FIELDS} }} }}')
    assert "errors" not in answer, answer
    got = answer["data"]["vakantieverhuurRegistraties"]
    want = regs_of(demo.data, bsn)
    assert [g["registratienummer"] for g in got] == [r.registration_number for r in want]
    assert [g["adres"] for g in got] == [expected(demo.data, r) for r in want]


async def test_bsns_batched_and_numbers_deduplicated(gateway: Any, demo: Any) -> None:
    two, one = bsns_with(demo.data, 2)[:2], bsns_with(demo.data, 1)[:2]
    without = next(p.bsn for p in sorted(demo.data.personen.values(), key=lambda p: p.bsn)
                   if not regs_of(demo.data, p.bsn) and elfproef(p.bsn))
    bsns = two + one + [without]
    aliases = " ".join(f'a{i}: vakantieverhuurRegistraties(burgerservicenummer: "{b}") {{ registratienummer }}'
                       for i, b in enumerate(bsns + bsns))  # every BSN asked twice
    shared = regs_of(demo.data, two[0])[0].registration_number  # and one number also asked directly
    gateway.reset_counts()
    answer = await gateway.query(f'{{ {aliases} n: vakantieverhuurRegistratie(registratienummer: "{shared}") '
                                 f"{{ registratienummer }} }}")
    assert "errors" not in answer, answer
    for i, b in enumerate(bsns + bsns):
        assert [r["registratienummer"] for r in answer["data"][f"a{i}"]] == [
            r.registration_number for r in regs_of(demo.data, b)]
    assert (await lvv(gateway, demo))[POST_BSN] == len(bsns)  # one POST per distinct BSN
    assert (await lvv(gateway, demo))[GET_NR] == 2 * 2 + 2  # one GET per distinct number, spelled either way
    bodies = sorted(c["body"] for c in gateway.calls("vakantieverhuur") if c["method"] == "POST")
    assert bodies == sorted(bsns)  # the BSN goes as a JSON string


async def test_persons_registrations_and_requester(gateway: Any, demo: Any) -> None:
    bsns = bsns_with(demo.data, 2)[:2] + bsns_with(demo.data, 1)[:2]
    gateway.reset_counts()
    answer = await gateway.query(
        "query($b: [String!]!) { personen(burgerservicenummers: $b) { burgerservicenummer "
        "vakantieverhuurRegistraties { registratienummer aanvrager { burgerservicenummer } } } }", {"b": bsns + bsns})
    assert "errors" not in answer, answer
    for person in answer["data"]["personen"]:
        regs = regs_of(demo.data, person["burgerservicenummer"])
        assert [r["registratienummer"] for r in person["vakantieverhuurRegistraties"]] == [
            r.registration_number for r in regs]
        assert {r["aanvrager"]["burgerservicenummer"] for r in person["vakantieverhuurRegistraties"]} == {
            person["burgerservicenummer"]}
    assert (await lvv(gateway, demo))[POST_BSN] == len(bsns)
    assert (await lvv(gateway, demo))[GET_NR] == 6


async def test_registraties_at_an_address_via_residents(gateway: Any, demo: Any) -> None:
    reg = next(r for r in demo.data.vakantieverhuur.values()
               if demo.data.nummeraanduidingen[r.nummeraanduiding_id].huisnummertoevoeging)
    na_id = reg.nummeraanduiding_id
    answer = await gateway.query(f'{{ adres(nummeraanduidingIdentificatie: "{na_id}") {{ '
                                 f"vakantieverhuurRegistraties {{ registratienummer bagAdres "
                                 f"{{ nummeraanduidingIdentificatie }} aanvrager {{ burgerservicenummer }} }} }} }}")
    assert "errors" not in answer, answer
    got = answer["data"]["adres"]["vakantieverhuurRegistraties"]
    want = {r.registration_number: r.bsn for r in demo.data.vakantieverhuur.values() if r.nummeraanduiding_id == na_id}
    assert {g["registratienummer"]: g["aanvrager"]["burgerservicenummer"] for g in got} == want
    assert {g["bagAdres"]["nummeraanduidingIdentificatie"] for g in got} == {na_id}


async def test_bag_adres_is_the_exact_address(gateway: Any, demo: Any) -> None:
    reg = next(r for r in demo.data.vakantieverhuur.values()
               if demo.data.nummeraanduidingen[r.nummeraanduiding_id].huisnummertoevoeging is None)
    answer = await gateway.query(f'{{ vakantieverhuurRegistratie(registratienummer: "{reg.registration_number}") '
                                 "{ bagAdres { nummeraanduidingIdentificatie huisnummertoevoeging } } }")
    assert "errors" not in answer, answer
    assert answer["data"]["vakantieverhuurRegistratie"]["bagAdres"] == {
        "nummeraanduidingIdentificatie": reg.nummeraanduiding_id, "huisnummertoevoeging": None}


async def test_bad_arguments(gateway: Any, demo: Any) -> None:
    gateway.reset_counts()
    for query in ('{ vakantieverhuurRegistratie(registratienummer: "../../admin") { registratienummer } }',
                  '{ vakantieverhuurRegistratie(registratienummer: "  ") { registratienummer } }',
                  '{ vakantieverhuurRegistraties(burgerservicenummer: "12345") { registratienummer } }'):
        answer = await gateway.query(query)
        assert answer["data"] is None or all(v is None for v in answer["data"].values())
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sum((await lvv(gateway, demo)).values()) == 0


async def test_bsn_failing_the_eleven_test_is_refused_unasked(gateway: Any, demo: Any) -> None:
    gateway.reset_counts()
    answer = await gateway.query('{ vakantieverhuurRegistraties(burgerservicenummer: "123456780") '
                                 "{ registratienummer } }")
    assert answer["data"] == {"vakantieverhuurRegistraties": None}
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "burgerservicenummer" in answer["errors"][0]["message"]
    assert sum((await lvv(gateway, demo)).values()) == 0


async def test_failing_source_gives_partial_data(gateway: Any, demo: Any) -> None:
    reg = next(iter(demo.data.vakantieverhuur.values()))
    demo.simulators["vakantieverhuur"].behaviour.update({"error_rate": 1.0})
    answer = await gateway.query(
        f'{{ r: vakantieverhuurRegistratie(registratienummer: "{reg.registration_number}") {{ registratienummer }} '
        f'l: vakantieverhuurRegistraties(burgerservicenummer: "{reg.bsn}") {{ registratienummer }} '
        "huishoudboekjeBurgers(first: 1) { totalCount } }")
    assert answer["data"]["r"] is None
    assert answer["data"]["l"] is None
    assert answer["data"]["huishoudboekjeBurgers"]["totalCount"] == len(demo.data.burgers)
    by_path = {e["path"][0]: e["extensions"] for e in answer["errors"]}
    assert by_path == {p: {"code": "UPSTREAM_ERROR", "source": "vakantieverhuur", "status": 503}
                       for p in ("r", "l")}


def test_same_house_compares_every_part() -> None:
    house = {"postalCode": "1234 ab", "houseNumber": "12", "houseLetter": "a", "houseNumberExtension": None}
    assert same_house(house, "1234AB", 12, "A", None)
    assert not same_house(house, "1234AB", 12, "A", "2")
    assert not same_house(house, "1234AB", 12, None, None)
    assert not same_house(house, "1234AB", 13, "A", None)
    assert not same_house({**house, "houseNumber": ""}, "1234AB", 12, "A", None)
