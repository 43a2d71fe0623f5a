"""Citizen mode: a citizen's token reaches ``me`` and their own data only, whatever the query asks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from demo.model import Municipality
from demo.runner import Municipal
from graph.caller import Caller
from graph.context import Context
from graph.errors import Forbidden
from resolvers import brp, huishoudboekje, vakantieverhuur, zgw
from schema.root import schema
from tests.conftest import Gateway
from tests.gateway.authz_client import MIJN_GEMEENTE, ZAAKBEHANDELING, ask, codes, errors_by_path


def citizen_of(data: Municipality) -> str:
    """A person with a partner, zaken shared with other persons, LVV registrations and a budget file."""
    zaken = Counter(r.bsn for z in data.zaken.values() for r in z.rollen if r.bsn)
    shared = {r.bsn for z in data.zaken.values() if len({x.bsn for x in z.rollen if x.bsn}) > 1 for r in z.rollen}
    lvv = {r.bsn for r in data.vakantieverhuur.values()}
    budget = {str(b.bsn).zfill(9) for b in data.burgers.values()}
    scored = sorted(
        data.personen.values(),
        key=lambda p: (-(p.bsn in shared) - (p.bsn in lvv) - (p.bsn in budget) - bool(p.partner_bsns), -zaken[p.bsn]),
    )
    return scored[0].bsn


def someone_else(data: Municipality, bsn: str) -> str:
    person = data.personen[bsn]
    return (person.partner_bsns or person.kind_bsns or [b for b in data.personen if b != bsn])[0]


@pytest.fixture(scope="module")
def me(demo: Municipal) -> str:
    return citizen_of(demo.data)


def brp_bsns(gateway: Gateway) -> set[str]:
    """Every BSN the gateway asked the BRP about since the last reset."""
    asked: set[str] = set()
    for call in gateway.calls("brp"):
        body = call.get("body") or {}
        asked.update(body.get("burgerservicenummer", []))
        if body.get("type") != "RaadpleegMetBurgerservicenummer":
            asked.add("search:" + str(body.get("type")))
    return asked


async def test_me_gives_the_citizens_own_data(gateway: Gateway, demo: Municipal, me: str) -> None:
    gateway.reset_counts()
    answer = await ask(
        gateway,
        "{ me { persoon { burgerservicenummer naam { geslachtsnaam } verblijfplaats { adres { postcode } } }"
        " zaken(first: 50) { totalCount nodes { identificatie rollen { inpBsn persoon { burgerservicenummer } }"
        " documenten { titel } } }"
        " vakantieverhuurRegistraties { registratienummer aanvrager { burgerservicenummer } }"
        " huishoudboekje { bsn persoon { burgerservicenummer } } } }",
        bsn=me,
        purpose=None,  # a citizen's purpose is implicit: mijn-gemeente
    )
    assert "errors" not in answer, answer
    got = answer["data"]["me"]
    assert got["persoon"]["burgerservicenummer"] == me
    assert got["persoon"]["naam"]["geslachtsnaam"] == demo.data.personen[me].geslachtsnaam
    expected_zaken = {z.identificatie for z in demo.data.zaken.values() if any(r.bsn == me for r in z.rollen)}
    assert {n["identificatie"] for n in got["zaken"]["nodes"]} == expected_zaken
    shared = [z for z in demo.data.zaken.values() if z.identificatie in expected_zaken and
              any(r.bsn not in (None, me) for r in z.rollen)]
    assert shared, "the chosen citizen shares a zaak with another person"
    for zaak in got["zaken"]["nodes"]:
        assert {r["inpBsn"] for r in zaak["rollen"]} <= {me, None}  # other persons' roles are left out
        assert any(r["inpBsn"] == me for r in zaak["rollen"])
    expected_lvv = {r.registration_number for r in demo.data.vakantieverhuur.values() if r.bsn == me}
    assert {r["registratienummer"] for r in got["vakantieverhuurRegistraties"]} == expected_lvv
    assert all(r["aanvrager"]["burgerservicenummer"] == me for r in got["vakantieverhuurRegistraties"])
    if any(str(b.bsn).zfill(9) == me for b in demo.data.burgers.values()):
        assert got["huishoudboekje"]["persoon"]["burgerservicenummer"] == me
    assert brp_bsns(gateway) == {me}


async def test_meldingen_are_not_available_to_citizens(gateway: Gateway, me: str) -> None:
    gateway.reset_counts()
    answer = await ask(gateway, "{ me { meldingen { id } persoon { burgerservicenummer } } }", bsn=me, purpose=None)
    assert answer["data"]["me"]["meldingen"] is None
    assert answer["data"]["me"]["persoon"]["burgerservicenummer"] == me
    assert errors_by_path(answer)["me.meldingen"]["extensions"]["code"] == "NOT_AVAILABLE"
    assert gateway.calls("signalen") == []


def root_queries(data: Municipality, me: str, other: str) -> list[str]:
    """Every root field but ``me``, each aimed at another person's data (or at all data) every way it can be."""
    zaak = next(z for z in data.zaken.values() if not any(r.bsn == me for r in z.rollen))
    own = next(z for z in data.zaken.values() if any(r.bsn == me for r in z.rollen))
    melding = next(iter(data.meldingen.values()))
    partij = next(iter(data.partijen.values()))
    contact = next(iter(data.klantcontacten.values()))
    obj = next(iter(data.objecten.values()))
    reg = next(r for r in data.vakantieverhuur.values() if r.bsn != me)
    burger = next(iter(data.burgers.values()))
    na = next(iter(data.nummeraanduidingen.values()))
    return [
        f'persoon(burgerservicenummer: "{other}") {{ burgerservicenummer }}',
        f'persoon(burgerservicenummer: "{me}") {{ burgerservicenummer }}',  # even oneself: only through me
        f'personen(burgerservicenummers: ["{other}", "{me}"]) {{ burgerservicenummer }}',
        f'zaken(bsn: "{other}") {{ nodes {{ identificatie }} }}',
        f'zaken(bsn: "{me}") {{ nodes {{ identificatie }} }}',
        "zaken { nodes { identificatie } }",
        f'zaken(identificatie: "{zaak.identificatie}") {{ nodes {{ identificatie }} }}',
        f'zaak(uuid: "{zaak.uuid}") {{ identificatie }}',
        f'zaak(uuid: "{own.uuid}") {{ identificatie }}',
        "zakenStatistiek(groepeerOp: [OPEN]) { totaal }",
        f'melding(id: "{melding.id}") {{ id tekst }}',
        "meldingen { nodes { id tekst } }",
        "meldingenStatistiek(groepeerOp: []) { totaal }",
        f'partij(uuid: "{partij.uuid}") {{ bsn }}',
        f'partijen(bsn: "{other}") {{ nodes {{ bsn }} }}',
        f'klantcontact(uuid: "{contact.uuid}") {{ inhoud }}',
        "klantcontacten { nodes { inhoud } }",
        f'object(uuid: "{obj.uuid}") {{ uuid }}',
        "objecten { nodes { uuid } }",
        f'vakantieverhuurRegistratie(registratienummer: "{reg.registration_number}") {{ registratienummer }}',
        f'vakantieverhuurRegistraties(burgerservicenummer: "{other}") {{ registratienummer }}',
        f"huishoudboekjeBurger(id: {burger.id}) {{ bsn }}",
        f'huishoudboekjeBurgerMetBsn(burgerservicenummer: "{other}") {{ bsn }}',
        "huishoudboekjeBurgers { nodes { bsn } }",
        f'adres(nummeraanduidingIdentificatie: "{na.identificatie}") {{ postcode bewoners {{ burgerservicenummer }} }}',
        f'adressen(postcode: "{na.postcode}", huisnummer: {na.huisnummer}) {{ postcode }}',
        'gemeente(code: "0999") { code zaken { nodes { identificatie } } }',
        "gemeenten { nodes { code } }",
    ]


async def test_every_other_root_field_is_forbidden_and_asks_no_source(
    gateway: Gateway, demo: Municipal, me: str
) -> None:
    other = someone_else(demo.data, me)
    queries = root_queries(demo.data, me, other)
    asked = {q.split("(")[0].split(" ")[0] for q in queries}
    assert asked == set(schema._schema.query_type.fields) - {"me"}  # type: ignore[union-attr]
    gateway.reset_counts()
    for query in queries:
        for purpose in (None, MIJN_GEMEENTE):
            answer = await ask(gateway, "{ " + query + " }", bsn=me, purpose=purpose)
            assert list(answer["data"].values()) == [None], (query, answer)
            assert codes(answer) == {"FORBIDDEN"}, (query, answer)
    sources = [s for s in demo.urls if s != "issuer"]
    assert {s: len(gateway.calls(s)) for s in sources} == dict.fromkeys(sources, 0)


async def test_no_link_below_me_reaches_another_person(gateway: Gateway, demo: Municipal, me: str) -> None:
    gateway.reset_counts()
    answer = await ask(
        gateway,
        "{ me { persoon { partners { burgerservicenummer } ouders { burgerservicenummer }"
        " kinderen { burgerservicenummer } partijen { bsn } klantcontacten { inhoud }"
        " verblijfplaats { adres { bewoners { burgerservicenummer } meldingen { id }"
        " vakantieverhuurRegistraties { registratienummer } } } }"
        " zaken(first: 50) { nodes { rollen { persoon { burgerservicenummer } } klantcontacten { inhoud }"
        " besluiten { zaak { identificatie } } zaakobjecten { object { uuid } } } } } }",
        bsn=me,
        purpose=None,
    )
    persoon = answer["data"]["me"]["persoon"]
    for link in ("partners", "ouders", "kinderen", "partijen", "klantcontacten"):
        assert persoon[link] is None, link
    adres = persoon["verblijfplaats"]["adres"]
    assert adres == {"bewoners": None, "meldingen": None, "vakantieverhuurRegistraties": None}
    for zaak in answer["data"]["me"]["zaken"]["nodes"]:
        assert zaak["klantcontacten"] is None
        assert all(b["zaak"] is None for b in zaak["besluiten"])
        assert all(o["object"] is None for o in zaak["zaakobjecten"])
        assert {r["persoon"]["burgerservicenummer"] for r in zaak["rollen"] if r["persoon"]} <= {me}
    assert codes(answer) == {"FORBIDDEN"}
    assert brp_bsns(gateway) <= {me}
    assert gateway.calls("klantinteracties") == [] and gateway.calls("signalen") == []
    assert gateway.calls("objecten") == []


async def test_a_citizen_cannot_name_another_purpose(gateway: Gateway, me: str) -> None:
    gateway.reset_counts()
    answer = await ask(gateway, "{ me { persoon { burgerservicenummer } } }", bsn=me, purpose=ZAAKBEHANDELING)
    assert answer["data"]["me"]["persoon"] is None
    assert codes(answer) == {"PURPOSE_UNKNOWN"}
    assert gateway.calls("brp") == []
    answer = await ask(gateway, "{ me { persoon { burgerservicenummer } } }", bsn=me, purpose=MIJN_GEMEENTE)
    assert answer["data"]["me"]["persoon"]["burgerservicenummer"] == me


async def test_me_is_for_citizens_only(gateway: Gateway) -> None:
    answer = await ask(gateway, "{ me { persoon { burgerservicenummer } } }")
    assert answer["data"]["me"] is None
    assert codes(answer) == {"FORBIDDEN"}


async def test_the_resolvers_refuse_a_citizen_any_other_bsn(gateway: Gateway, demo: Municipal, me: str) -> None:
    """Where data is fetched, whatever schema code calls them: the guard does not rely on hidden fields."""
    other = someone_else(demo.data, me)
    ctx = Context(gateway.app.state.sources, caller=Caller(me, bsn=me))
    gateway.reset_counts()
    not_mine = next(r.registration_number for r in demo.data.vakantieverhuur.values() if r.bsn != me)
    attempts: list[Any] = [
        brp.personen(ctx, [other], ("burgerservicenummer",)),
        brp.personen(ctx, [me, other], ("burgerservicenummer",)),
        brp.bewoners(ctx, demo.data.personen[me].adresseerbaar_object_id or "", ("burgerservicenummer",)),
        zgw.zaken_window(ctx, 5, None, zgw.zaak_filters(other, None, None, None), []),
        zgw.zaken_window(ctx, 5, None, [], []),
        zgw.zaken_window(ctx, 5, None, [*zgw.zaak_filters(me, None, None, None), (zgw.BSN_FILTER, other)], []),
        zgw.zaak_by_uuid(ctx, next(iter(demo.data.zaken)), []),
        zgw.scan_zaken(ctx, [], []),
        vakantieverhuur.numbers_for_bsn(ctx, other),
        vakantieverhuur.registration(ctx, not_mine),
        huishoudboekje.burger_by_bsn(ctx, other, "id"),
        huishoudboekje.burgers_page(ctx, 1, 5, "id"),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            await attempt
    assert brp_bsns(gateway) == set() and gateway.calls("zaken") == []
