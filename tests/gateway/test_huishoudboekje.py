"""Huishoudboekje through the gateway: stitched answers match the backend's data, upstream documents carry
only the selected fields, and all lookups of one request share one upstream document."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from graphql import FieldNode, GraphQLSchema, OperationDefinitionNode, SelectionSetNode, build_schema, parse, validate

from demo.huishoudboekje import SDL, upstream_error
from demo.model import Burger, Municipality
from resolvers.huishoudboekje import BURGER, bsn9, selection
from tests.conftest import employee_headers
from tests.oas import official

EURO = Decimal(100)
BACKEND_SDL = "huishoudboekje/mesh/graphql/backend/schema.graphql"


def euros(cents: int) -> str:
    return f"{Decimal(cents) / EURO:.2f}"


async def upstream_queries(gateway: Any) -> list[str]:
    return [c["body"]["query"] for c in gateway.calls("huishoudboekje")]


def field_paths(query: str) -> set[str]:
    """Every field path in an upstream document, aliases resolved to the field names ('burgers.afspraken.id')."""
    found: set[str] = set()

    def walk(node: SelectionSetNode | None, prefix: str) -> None:
        for sel in node.selections if node else ():
            assert isinstance(sel, FieldNode)
            path = prefix + sel.name.value
            found.add(path)
            walk(sel.selection_set, path + ".")

    for definition in parse(query).definitions:
        assert isinstance(definition, OperationDefinitionNode)
        walk(definition.selection_set, "")
    return found


@functools.cache
def _schema(path: Path) -> GraphQLSchema:
    return build_schema(path.read_text())


def backend_errors(document: str) -> list[str]:
    """What the official backend schema has against an upstream document: the real backend's verdict, not the
    simulator's (whose schema is its own subset of it). Nothing to say without the spec (noted)."""
    sdl = official(BACKEND_SDL)
    return [] if sdl is None else [e.message for e in validate(_schema(sdl), parse(document))]


def with_afspraken(data: Municipality) -> Iterator[Burger]:
    ids = {a.burger_id for a in data.afspraken.values()}
    return (b for b in sorted(data.burgers.values(), key=lambda b: b.id) if b.id in ids)


async def test_burger_matches_the_backend(gateway: Any, demo: Any) -> None:
    data: Municipality = demo.data
    burger = next(with_afspraken(data))
    gateway.reset_counts()
    answer = await gateway.query("""query($id: Int!) { huishoudboekjeBurger(id: $id) {
        id bsn voornamen achternaam geboortedatum adres { straat huisnummer postcode woonplaats }
        rekeningen { iban rekeninghouder }
        afspraken { id omschrijving bedrag bedragCenten credit rubriek validFrom validThrough
                    tegenRekening { iban } transacties { uuid bedrag bedragCenten datum credit } } } }""",
                                 {"id": burger.id})
    assert "errors" not in answer, answer
    assert [e for q in await upstream_queries(gateway) for e in backend_errors(q)] == []
    got = answer["data"]["huishoudboekjeBurger"]
    assert (got["id"], got["bsn"]) == (burger.id, f"{burger.bsn:09d}")
    assert (got["voornamen"], got["achternaam"], got["geboortedatum"]) == (
        burger.voornamen, burger.achternaam, burger.geboortedatum.isoformat())
    assert got["adres"] == {"straat": burger.straatnaam, "huisnummer": burger.huisnummer, "postcode": burger.postcode,
                            "woonplaats": burger.plaatsnaam}
    assert [r["iban"] for r in got["rekeningen"]] == [data.rekeningen[i].iban for i in burger.rekening_ids]
    afspraken = sorted((a for a in data.afspraken.values() if a.burger_id == burger.id), key=lambda a: a.id)
    assert [a["id"] for a in got["afspraken"]] == [a.id for a in afspraken]
    for mine, theirs in zip(got["afspraken"], afspraken, strict=True):
        assert (mine["omschrijving"], mine["rubriek"]) == (theirs.omschrijving, theirs.rubriek)
        assert (mine["bedrag"], mine["bedragCenten"], mine["credit"]) == (euros(theirs.bedrag), theirs.bedrag,
                                                                          theirs.credit)
        assert mine["validFrom"] == theirs.valid_from.isoformat()
        assert mine["validThrough"] == (theirs.valid_through.isoformat() if theirs.valid_through else None)
        assert mine["tegenRekening"]["iban"] == data.rekeningen[theirs.tegen_rekening_id].iban
        booked = {t.uuid: t for t in data.transacties.values() if t.afspraak_id == theirs.id and t.is_geboekt}
        assert {t["uuid"] for t in mine["transacties"]} == set(booked)
        for t in mine["transacties"]:
            source = booked[t["uuid"]]
            assert (t["bedrag"], t["bedragCenten"], t["datum"], t["credit"]) == (
                euros(source.bedrag), source.bedrag, source.transactie_datum.isoformat(), source.bedrag > 0)


async def test_only_selected_fields_go_upstream(gateway: Any, demo: Any) -> None:
    gateway.reset_counts()
    answer = await gateway.query("{ huishoudboekjeBurger(id: 1) { voornamen adres { postcode } "
                                 "afspraken { bedragCenten } } }")
    assert "errors" not in answer, answer
    [query] = await upstream_queries(gateway)
    assert field_paths(query) == {
        "burgers", "burgers.id", "burgers.bsn", "burgers.voornamen", "burgers.postcode",
        "burgers.afspraken", "burgers.afspraken.id", "burgers.afspraken.bedrag"}
    assert answer["data"]["huishoudboekjeBurger"]["adres"] == {"postcode": demo.data.burgers[1].postcode}

    gateway.reset_counts()
    await gateway.query("{ huishoudboekjeBurger(id: 1) { afspraken { transacties { datum } } } }")
    burger_doc, transacties_doc = await upstream_queries(gateway)
    assert field_paths(burger_doc) == {"burgers", "burgers.id", "burgers.bsn", "burgers.afspraken",
                                       "burgers.afspraken.id", "burgers.afspraken.journaalposten",
                                       "burgers.afspraken.journaalposten.transactionUuid"}
    assert field_paths(transacties_doc) == {"bankTransaction", "bankTransaction.uuid",
                                            "bankTransaction.transactieDatum"}


async def test_burgers_by_id_are_one_upstream_call(gateway: Any, demo: Any) -> None:
    gateway.reset_counts()
    answer = await gateway.query("""{ a: huishoudboekjeBurger(id: 1) { voornamen }
        b: huishoudboekjeBurger(id: 2) { voornamen } c: huishoudboekjeBurger(id: 1) { voornamen }
        d: huishoudboekjeBurger(id: 3) { achternaam } e: huishoudboekjeBurger(id: 99999) { voornamen } }""")
    assert "errors" not in answer, answer
    got = answer["data"]
    assert [got[k]["voornamen"] for k in "abc"] == [demo.data.burgers[i].voornamen for i in (1, 2, 1)]
    assert got["d"]["achternaam"] == demo.data.burgers[3].achternaam
    assert got["e"] is None
    [query] = await upstream_queries(gateway)  # one document; one aliased burgers(ids:) per distinct selection
    assert query.count("burgers(ids:") == 2
    assert "burgers(ids: [1, 2, 99999])" in query
    assert "burgers(ids: [3])" in query


async def test_burgers_by_bsn_share_one_search_and_one_lookup(gateway: Any, demo: Any) -> None:
    burgers = sorted(demo.data.burgers.values(), key=lambda b: b.id)[:3]
    stranger = next(p.bsn for p in demo.data.personen.values() if p.bsn not in {bsn9(b.bsn) for b in burgers}
                    and int(p.bsn) not in {b.bsn for b in demo.data.burgers.values()})
    bsns = [f"{b.bsn:09d}" for b in burgers] + [stranger]
    aliases = " ".join(f'x{i}: huishoudboekjeBurgerMetBsn(burgerservicenummer: "{b}") {{ id achternaam }}'
                       for i, b in enumerate(bsns + bsns))
    gateway.reset_counts()
    answer = await gateway.query(f"{{ {aliases} }}")
    assert "errors" not in answer, answer
    for i, bsn in enumerate(bsns + bsns):
        match = next((b for b in burgers if f"{b.bsn:09d}" == bsn), None)
        assert answer["data"][f"x{i}"] == ({"id": match.id, "achternaam": match.achternaam} if match else None)
    search, lookup = await upstream_queries(gateway)
    assert field_paths(search) == {"burgers", "burgers.id", "burgers.bsn"}
    # every distinct BSN is one search alias: never an unfiltered list of every client's BSN
    assert search.count("burgers(search:") == len(set(bsns))
    assert all(f'"{int(bsn)}"' in search for bsn in bsns)
    assert f"burgers(ids: [{', '.join(str(b.id) for b in burgers)}])" in lookup


async def test_persons_huishoudboekje(gateway: Any, demo: Any) -> None:
    burgers = sorted(demo.data.burgers.values(), key=lambda b: b.id)[:4]
    bsns = [f"{b.bsn:09d}" for b in burgers]
    gateway.reset_counts()
    answer = await gateway.query("query($b: [String!]!) { personen(burgerservicenummers: $b) { burgerservicenummer "
                                 "huishoudboekje { id persoon { burgerservicenummer } } } }", {"b": bsns})
    assert "errors" not in answer, answer
    got = {p["burgerservicenummer"]: p["huishoudboekje"] for p in answer["data"]["personen"]}
    assert got == {f"{b.bsn:09d}": {"id": b.id, "persoon": {"burgerservicenummer": f"{b.bsn:09d}"}} for b in burgers}
    assert len(await upstream_queries(gateway)) == 2  # the index and one burgers(ids:) for all four


async def test_saldo_sums_booked_transactions(gateway: Any, demo: Any) -> None:
    data: Municipality = demo.data
    burgers = list(with_afspraken(data))[:3]
    aliases = " ".join(f'b{b.id}: huishoudboekjeBurger(id: {b.id}) {{ saldo(datum: "2100-01-01") '
                       f'eerder: saldo(datum: "1900-01-01") }}' for b in burgers)
    gateway.reset_counts()
    answer = await gateway.query(f"{{ {aliases} }}")
    assert "errors" not in answer, answer
    for b in burgers:
        total = sum(t.bedrag for t in data.transacties.values()
                    if t.is_geboekt and data.afspraken[t.afspraak_id].burger_id == b.id)
        assert answer["data"][f"b{b.id}"] == {"saldo": euros(total), "eerder": "0.00"}
    _, saldo_doc = await upstream_queries(gateway)
    assert saldo_doc.count("saldo(") == 2 * len(burgers)  # every (burger, date) in one document


async def test_relay_paging_over_burgers_paged(gateway: Any, demo: Any) -> None:
    ids = sorted(demo.data.burgers)
    query = ("query($after: String) { huishoudboekjeBurgers(first: 4, after: $after) { totalCount "
             "pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } nodes { bsn } } }")
    seen: list[int] = []
    after = None
    gateway.reset_counts()
    while True:
        answer = await gateway.query(query, {"after": after})
        assert "errors" not in answer, answer
        page = answer["data"]["huishoudboekjeBurgers"]
        assert page["totalCount"] == len(ids)
        assert page["pageInfo"]["hasPreviousPage"] == bool(seen)
        seen += [e["node"]["id"] for e in page["edges"]]
        assert [n["bsn"] for n in page["nodes"]] == [f"{demo.data.burgers[e['node']['id']].bsn:09d}"
                                                    for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids
    queries = await upstream_queries(gateway)
    assert "burgersPaged(start: 1, limit: 4)" in queries[0]
    assert "burgersPaged(start: 5, limit: 4)" in queries[1]
    assert field_paths(queries[0]) == {"burgersPaged", "burgersPaged.burgers", "burgersPaged.burgers.id",
                                       "burgersPaged.burgers.bsn", "burgersPaged.pageInfo",
                                       "burgersPaged.pageInfo.count"}


async def test_bad_arguments(gateway: Any, demo: Any) -> None:
    gateway.reset_counts()
    for query in ("{ huishoudboekjeBurger(id: 0) { id } }",
                  '{ huishoudboekjeBurgerMetBsn(burgerservicenummer: "12") { id } }',
                  "{ huishoudboekjeBurgers(first: 1000) { totalCount } }",
                  '{ huishoudboekjeBurgers(after: "not-a-cursor") { totalCount } }'):
        answer = await gateway.query(query)
        assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", answer
    answer = await gateway.query('{ huishoudboekjeBurger(id: 1) { saldo(datum: "morgen") } }')
    assert answer["errors"]
    assert answer["data"] is None
    assert await upstream_queries(gateway) == []


async def test_upstream_graphql_errors_are_not_forwarded(gateway: Any, demo: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = demo.simulators["huishoudboekje"]
    original = sim.graph.fields["RootQuery"]["burgers"]

    def burgers(parent: Any, ids: list[int] | None = None, **kwargs: Any) -> Any:
        if ids and 2 in ids:
            raise upstream_error("secret detail from the burger service")
        return original(parent, ids=ids, **kwargs)

    monkeypatch.setitem(sim.graph.fields["RootQuery"], "burgers", burgers)
    answer = await gateway.query("""{ ok: huishoudboekjeBurger(id: 1) { voornamen }
        bad: huishoudboekjeBurger(id: 2) { achternaam } page: huishoudboekjeBurgers(first: 1) { totalCount } }""")
    assert answer["data"]["ok"] == {"voornamen": demo.data.burgers[1].voornamen}  # its own alias, unharmed
    assert answer["data"]["bad"] is None
    assert answer["data"]["page"]["totalCount"] == len(demo.data.burgers)
    [error] = answer["errors"]
    assert error["path"] == ["bad"]
    assert error["extensions"] == {"code": "UPSTREAM_BAD_RESPONSE", "source": "huishoudboekje"}
    assert "secret" not in error["message"]
    assert "Upstream API" not in error["message"]


async def test_failing_source_gives_partial_data(gateway: Any, demo: Any) -> None:
    reg = next(iter(demo.data.vakantieverhuur.values()))
    demo.simulators["huishoudboekje"].behaviour.update({"error_rate": 1.0})
    answer = await gateway.query(f"""{{ huishoudboekjeBurger(id: 1) {{ voornamen }}
        huishoudboekjeBurgers(first: 2) {{ totalCount }}
        vakantieverhuurRegistratie(registratienummer: "{reg.registration_number}") {{ registratienummer }} }}""")
    assert answer["data"]["huishoudboekjeBurger"] is None
    assert answer["data"]["huishoudboekjeBurgers"] is None
    assert answer["data"]["vakantieverhuurRegistratie"] == {"registratienummer": reg.registration_number}
    assert {e["path"][0]: e["extensions"] for e in answer["errors"]} == {
        p: {"code": "UPSTREAM_ERROR", "source": "huishoudboekje", "status": 503}
        for p in ("huishoudboekjeBurger", "huishoudboekjeBurgers")}


async def test_malformed_answer(gateway: Any, demo: Any) -> None:
    demo.simulators["huishoudboekje"].behaviour.update({"malformed": True})
    answer = await gateway.query("{ huishoudboekjeBurger(id: 1) { voornamen } }")
    assert answer["data"] == {"huishoudboekjeBurger": None}
    assert answer["errors"][0]["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"


def test_bsn_gets_its_leading_zeros_back() -> None:
    assert bsn9(12345672) == "012345672"
    assert bsn9("900100333") == "900100333"
    assert [bsn9(v) for v in (None, True, 0, 10**9, "12a")] == [None] * 5


def test_selection_maps_names_and_always_keeps_keys() -> None:
    assert selection(BURGER, ["__typename"]) == "bsn id"
    assert selection(BURGER, ["adres.woonplaats", "persoon.naam.voornamen", "saldo"]) == "bsn id plaatsnaam"
    assert selection(BURGER, ["afspraken.rubriek", "afspraken.tegenRekening.iban"]) == (
        "bsn id afspraken { id rubriek { naam } tegenRekening { iban id } }")


async def test_document_the_backend_rejects(gateway: Any, demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema drift: a backend without a field answers HTTP 400 with GraphQL errors; nothing of it is forwarded."""
    sim = demo.simulators["huishoudboekje"]
    monkeypatch.setattr(sim, "schema", build_schema(SDL.replace("  voorletters: String\n", "", 1)))
    answer = await gateway.query("{ a: huishoudboekjeBurger(id: 1) { voorletters } b: huishoudboekjeBurger(id: 2) "
                                 "{ voornamen } }")
    assert answer["data"] == {"a": None, "b": None}  # one document per request: both fail
    assert {e["path"][0]: e["extensions"] for e in answer["errors"]} == {
        p: {"code": "UPSTREAM_BAD_RESPONSE", "source": "huishoudboekje", "status": 400} for p in "ab"}
    assert all("voorletters" not in e["message"] for e in answer["errors"])


async def test_each_caller_reaches_huishoudboekje_with_their_own_session(gateway: Any, demo: Any) -> None:
    """Huishoudboekje acts for the user whose session it gets: the gateway sends each caller's own token as
    that session, never one shared employee's."""
    burger = next(iter(demo.data.burgers.values()))
    query = f"{{ huishoudboekjeBurger(id: {burger.id}) {{ achternaam }} }}"
    subjects = []
    for who in ("medewerker-anna", "medewerker-bram"):
        gateway.reset_counts()
        headers = employee_headers(demo, subject=who)
        answer = await gateway.query(query, headers=headers)
        assert answer["data"]["huishoudboekjeBurger"]["achternaam"] == burger.achternaam
        [call] = gateway.calls("huishoudboekje")
        session = SimpleCookie(call["headers"]["cookie"])["app-token"].value
        assert session == headers["Authorization"].removeprefix("Bearer ")
        subjects.append(jwt.decode(session, options={"verify_signature": False})["sub"])
    assert subjects == ["medewerker-anna", "medewerker-bram"]


async def test_a_session_the_issuer_did_not_sign_is_refused(demo: Any) -> None:
    issuer = demo.simulators["issuer"]
    claims = {"sub": "x", "aud": "gemeentegraaf", "iss": issuer.issuer, "exp": 4102444800}
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": "not-published"})
    async with httpx.AsyncClient(cookies={"app-token": forged}) as client:
        response = await client.post(demo.urls["huishoudboekje"], json={"query": "{ burgers { id } }"})
    assert response.status_code == 401
