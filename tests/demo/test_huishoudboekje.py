"""The Huishoudboekje backend simulator: auth, GraphQL-over-HTTP behaviour and the backend SDL's semantics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, build_schema

from demo.huishoudboekje import SDL, HuishoudboekjeSimulator
from demo.model import Municipality
from demo.runner import Municipal, running_alone
from tests.oas import official

BACKEND_SDL = "huishoudboekje/mesh/graphql/backend/schema.graphql"
BEDRAG = re.compile(r"^-?\d+\.\d\d$")


@pytest.fixture(scope="module")
def hhb(municipality: Municipality) -> Iterator[Municipal]:
    """Only this simulator, on a free port, so the file runs whatever the other simulators' state."""
    with running_alone(HuishoudboekjeSimulator, municipality) as running:
        yield running


@pytest.fixture
def client(hhb: Municipal) -> Iterator[httpx.Client]:
    source = hhb.config["sources"]["huishoudboekje"]
    origin = hhb.urls["huishoudboekje"].removesuffix("/graphql")
    with httpx.Client(base_url=origin, cookies={source["cookie"]: source["demo_token"]}) as c:
        yield c


def gql(client: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Data of a query that must succeed."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def request_error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"errors"}
    assert body["errors"]
    return str(body["errors"][0]["message"])


# --- auth --------------------------------------------------------------------------------------------


def test_session_cookie_is_required(hhb: Municipal, client: httpx.Client) -> None:
    url, source = hhb.urls["huishoudboekje"], hhb.config["sources"]["huishoudboekje"]
    query = {"query": "{ burger(id: 1) { id } }"}
    for cookies in ({}, {source["cookie"]: "stolen"}, {"session": source["demo_token"]}):
        response = httpx.post(url, json=query, cookies=cookies)
        assert response.status_code == 401
        assert response.json() == {"message": "Not logged in"}
    bearer = httpx.post(url, json=query, headers={"Authorization": f"Bearer {source['demo_token']}"})
    assert bearer.status_code == 200
    assert bearer.json()["data"]["burger"]["id"] == 1
    assert client.post("/graphql", json=query).json()["data"]["burger"]["id"] == 1


def test_trailing_slash_is_the_same_endpoint(client: httpx.Client) -> None:
    response = client.post("/graphql/", json={"query": "{ burger(id: 1) { id } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"burger": {"id": 1}}}


def test_get_with_query_parameters(client: httpx.Client) -> None:
    response = client.get("/graphql", params={"query": "query B($id: Int!) { burger(id: $id) { id } }",
                                      "variables": '{"id": 2}'})
    assert response.status_code == 200
    assert response.json() == {"data": {"burger": {"id": 2}}}


# --- burgers -----------------------------------------------------------------------------------------


def test_burger_by_id_has_an_int_bsn_of_a_brp_person(hhb: Municipal, client: httpx.Client) -> None:
    burger = hhb.data.burgers[1]
    data = gql(client, """{ burger(id: 1) { id uuid bsn voorletters voornamen achternaam geboortedatum
        straatnaam huisnummer postcode plaatsnaam email huishoudenId rekeningen { id iban }
        huishouden { id burgers { id } } afspraken { id burgerId } } }""")["burger"]
    assert isinstance(data["bsn"], int)
    assert data["bsn"] == burger.bsn
    assert f"{data['bsn']:09d}" in hhb.data.personen  # left-padding gives the BRP BSN back
    assert (data["voornamen"], data["achternaam"], data["postcode"]) == (burger.voornamen, burger.achternaam,
                                                                         burger.postcode)
    assert data["geboortedatum"] == burger.geboortedatum.isoformat()
    assert data["voorletters"] == "".join(f"{n[0]}." for n in burger.voornamen.split())
    assert [r["id"] for r in data["rekeningen"]] == burger.rekening_ids
    assert data["huishouden"]["id"] == data["huishoudenId"] == burger.huishouden_id
    assert 1 in [b["id"] for b in data["huishouden"]["burgers"]]
    expected = sorted(a.id for a in hhb.data.afspraken.values() if a.burger_id == 1)
    assert sorted(a["id"] for a in data["afspraken"]) == expected
    assert {a["burgerId"] for a in data["afspraken"]} == {1}
    assert gql(client, "{ burger(id: 999999) { id } }") == {"burger": None}


def test_burgers_by_ids_keeps_order_and_drops_unknown(client: httpx.Client) -> None:
    assert gql(client, "{ burgers(ids: [3, 999999, 1]) { id } }")["burgers"] == [{"id": 3}, {"id": 1}]
    assert gql(client, "{ burgers(ids: []) { id } }")["burgers"] == []


def test_burgers_search(hhb: Municipal, client: httpx.Client) -> None:
    burgers = hhb.data.burgers
    everyone = gql(client, "{ burgers { id } }")["burgers"]
    assert [b["id"] for b in everyone] == sorted(burgers)
    target = burgers[2]
    term = target.achternaam.split()[-1][:4].upper()  # case-insensitive substring
    found = gql(client, "query S($s: String) { burgers(search: $s) { id achternaam voornamen } }", {"s": term})
    assert target.id in [b["id"] for b in found["burgers"]]
    by_bsn = gql(client, "query S($s: String) { burgers(search: $s) { id } }", {"s": str(target.bsn)})
    assert [b["id"] for b in by_bsn["burgers"]] == [target.id]
    iban = hhb.data.rekeningen[target.rekening_ids[0]].iban
    assert target.id in [b["id"] for b in gql(client, f'{{ burgers(search: "{iban}") {{ id }} }}')["burgers"]]
    nobody = '{ burgers(search: "zzzqqq", isLogRequest: true) { id } }'
    assert gql(client, nobody) == {"burgers": None}
    assert gql(client, '{ burgers(search: "zzzqqq") { id } }') == {"burgers": []}


def test_burgers_paged_is_one_based(hhb: Municipal, client: httpx.Client) -> None:
    total = len(hhb.data.burgers)
    query = """query P($s: Int, $l: Int) {
        burgersPaged(start: $s, limit: $l) { burgers { id } pageInfo { count start limit } } }"""
    seen: list[int] = []
    start = 1
    while start <= total:
        page = gql(client, query, {"s": start, "l": 4})["burgersPaged"]
        assert page["pageInfo"] == {"count": total, "start": start, "limit": 4}
        assert 1 <= len(page["burgers"]) <= 4
        seen += [b["id"] for b in page["burgers"]]
        start += 4
    assert seen == sorted(hhb.data.burgers)
    beyond = gql(client, query, {"s": total + 1, "l": 4})["burgersPaged"]
    assert beyond["burgers"] == []
    assert beyond["pageInfo"]["count"] == total
    assert gql(client, "{ burgersPaged { pageInfo { count } burgers { id } } }")["burgersPaged"]["pageInfo"] is None


@pytest.mark.parametrize(("start", "limit", "message"), [(0, 5, "Start cannot"), (1, 0, "Limit cannot")])
def test_burgers_paged_bounds_are_resolver_errors(client: httpx.Client, start: int, limit: int, message: str) -> None:
    query = f"{{ burgersPaged(start: {start}, limit: {limit}) {{ burgers {{ id }} }} }}"
    response = client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"burgersPaged": None}
    assert body["errors"][0]["path"] == ["burgersPaged"]
    assert message in body["errors"][0]["message"]


def test_huishoudens(hhb: Municipal, client: httpx.Client) -> None:
    households: dict[int, list[int]] = {}
    for b in sorted(hhb.data.burgers.values(), key=lambda b: b.id):
        households.setdefault(b.huishouden_id, []).append(b.id)
    data = gql(client, """{ huishoudens { id burgers { id } }
        huishoudensPaged(start: 1, limit: 2) { huishoudens { id } pageInfo { count } } }""")
    assert {h["id"]: [b["id"] for b in h["burgers"]] for h in data["huishoudens"]} == households
    assert data["huishoudensPaged"]["pageInfo"]["count"] == len(households)
    one = next(iter(households))
    assert gql(client, f"{{ huishouden(id: {one}) {{ id }} }}") == {"huishouden": {"id": one}}


# --- afspraken, transacties ----------------------------------------------------------------------------


def test_afspraak_bedrag_is_a_two_decimal_string(hhb: Municipal, client: httpx.Client) -> None:
    afspraak = hhb.data.afspraken[1]
    data = gql(client, """{ afspraak(id: 1) { id uuid bedrag credit validFrom validThrough omschrijving burgerId
        rubriek { id naam } tegenRekening { id iban } burger { id } journaalposten { transactionUuid } } }""")
    a = data["afspraak"]
    assert BEDRAG.match(a["bedrag"])
    assert a["bedrag"] == f"{afspraak.bedrag / 100:.2f}"
    assert (a["uuid"], a["credit"], a["validFrom"]) == (afspraak.uuid, afspraak.credit, afspraak.valid_from.isoformat())
    assert a["rubriek"]["naam"] == afspraak.rubriek
    assert a["tegenRekening"]["id"] == afspraak.tegen_rekening_id
    booked = {t.uuid for t in hhb.data.transacties.values() if t.afspraak_id == 1 and t.is_geboekt}
    assert {j["transactionUuid"] for j in a["journaalposten"]} == booked
    assert gql(client, f'{{ afsprakenUuid(uuids: ["{afspraak.uuid}"]) {{ id }} }}') == {"afsprakenUuid": [{"id": 1}]}
    assert gql(client, "{ afspraken(ids: [2, 1]) { id } }") == {"afspraken": [{"id": 2}, {"id": 1}]}


def test_search_afspraken_offset_paging_and_filters(hhb: Municipal, client: httpx.Client) -> None:
    afspraken = sorted(hhb.data.afspraken.values(), key=lambda a: a.id)
    query = """query S($o: Int, $l: Int, $b: [Int], $min: Int) {
        searchAfspraken(offset: $o, limit: $l, burgerIds: $b, minBedrag: $min) {
            afspraken { id burgerId bedrag } pageInfo { count start limit } } }"""
    page = gql(client, query, {"o": 2, "l": 3})["searchAfspraken"]
    assert [a["id"] for a in page["afspraken"]] == [a.id for a in afspraken[2:5]]
    assert page["pageInfo"] == {"count": len(afspraken), "start": 2, "limit": 3}
    mine = gql(client, query, {"b": [1]})["searchAfspraken"]
    assert {a["burgerId"] for a in mine["afspraken"]} == {1}
    assert mine["pageInfo"] is None
    threshold = afspraken[0].bedrag  # minBedrag is Int cents and exclusive
    above = gql(client, query, {"min": threshold})["searchAfspraken"]["afspraken"]
    assert [a["id"] for a in above] == [a.id for a in afspraken if a.bedrag > threshold]


def test_bank_transaction_by_uuid(hhb: Municipal, client: httpx.Client) -> None:
    tx = next(t for t in hhb.data.transacties.values() if t.bedrag < 0)
    data = gql(client, f"""{{ bankTransaction(uuid: "{tx.uuid}") {{ id uuid bedrag isCredit isGeboekt transactieDatum
        tegenRekeningIban tegenRekening {{ iban }} journaalpost {{ transactionUuid afspraak {{ id }} }} }} }}""")
    t = data["bankTransaction"]
    assert t["bedrag"] == f"{tx.bedrag / 100:.2f}"
    assert t["bedrag"].startswith("-")
    assert t["isCredit"] is False
    assert t["transactieDatum"] == tx.transactie_datum.isoformat()
    assert t["tegenRekeningIban"] == t["tegenRekening"]["iban"] == tx.tegen_rekening_iban
    assert t["journaalpost"] == {"transactionUuid": tx.uuid, "afspraak": {"id": tx.afspraak_id}}
    assert gql(client, '{ bankTransaction(uuid: "nope") { id } }') == {"bankTransaction": None}


def test_search_transacties_newest_first_with_filters(hhb: Municipal, client: httpx.Client) -> None:
    data = hhb.data
    query = """query T($o: Int, $l: Int, $f: BankTransactionSearchFilter) {
        searchTransacties(offset: $o, limit: $l, filters: $f) {
            banktransactions { uuid bedrag transactieDatum isCredit } pageInfo { count start limit } } }"""
    page = gql(client, query, {"o": 0, "l": 5})["searchTransacties"]
    dates = [t["transactieDatum"] for t in page["banktransactions"]]
    assert dates == sorted(dates, reverse=True)
    assert page["pageInfo"] == {"count": len(data.transacties),
                                                                         "start": 0, "limit": 5}
    of_burger = {t.uuid for t in data.transacties.values() if data.afspraken[t.afspraak_id].burger_id == 1}
    mine = gql(client, query, {"f": {"burgerIds": [1]}})["searchTransacties"]["banktransactions"]
    assert {t["uuid"] for t in mine} == of_burger
    window = {"startDate": "2026-09-01", "endDate": "2026-09-30", "onlyCredit": True}
    credit = gql(client, query, {"f": window})["searchTransacties"]["banktransactions"]
    expected = {t.uuid for t in data.transacties.values()
                if t.bedrag > 0 and "2026-09-01" <= t.transactie_datum.isoformat() <= "2026-09-30"}
    assert {t["uuid"] for t in credit} == expected
    assert all(t["isCredit"] for t in credit)
    response = client.post("/graphql", json={"query": query, "variables": {"f": {"startDate": "gisteren"}}})
    assert response.status_code == 200
    assert response.json()["errors"][0]["path"] == ["searchTransacties"]


def test_saldo_and_reference_lists(hhb: Municipal, client: httpx.Client) -> None:
    data = hhb.data
    expected = sum(t.bedrag for t in data.transacties.values() if data.afspraken[t.afspraak_id].burger_id == 1)
    saldo = gql(client, '{ saldo(date: "2099-01-01", burgerIds: [1]) { saldo } }')["saldo"]["saldo"]
    assert saldo == f"{expected / 100:.2f}"
    lists = gql(client, '{ rubrieken { id naam } rekeningen(ids: [1]) { iban } rekeningenByIbans(ibans: ["x"]) { id } }'
                )
    assert {r["naam"] for r in lists["rubrieken"]} == {a.rubriek for a in data.afspraken.values()}
    assert lists["rekeningen"] == [{"iban": data.rekeningen[1].iban}]
    assert lists["rekeningenByIbans"] == []
    first = lists["rubrieken"][0]
    by_string_id = gql(client, f'{{ rubrieken(ids: ["{first["id"]}"]) {{ naam }} }}')  # ids: [String]
    assert by_string_id == {"rubrieken": [{"naam": first["naam"]}]}
    assert gql(client, '{ rubrieken(ids: ["x"]) { id } }') == {"rubrieken": []}


# --- GraphQL over HTTP errors -----------------------------------------------------------------------------


def test_request_errors_are_400_without_data(client: httpx.Client) -> None:
    assert "Syntax Error" in request_error(client.post("/graphql", json={"query": "{ burger(id: "}))
    assert "nope" in request_error(client.post("/graphql", json={"query": "{ burger(id: 1) { nope } }"}))
    assert "Must provide query string" in request_error(client.post("/graphql", json={"variables": {}}))
    broken = client.post("/graphql", content="{", headers={"Content-Type": "application/json"})
    assert "invalid JSON" in request_error(broken)
    assert "Batch" in request_error(client.post("/graphql", json=[{"query": "{ burger(id: 1) { id } }"}]))
    bad_variables = client.get("/graphql", params={"query": "{ burgers { id } }", "variables": "{"})
    assert "Variables" in request_error(bad_variables)
    wrong_type = {"query": "query B($id: Int!) { burger(id: $id) { id } }", "variables": {"id": "one"}}
    assert "$id" in request_error(client.post("/graphql", json=wrong_type))
    mutation = {"query": "mutation { deleteBurger(id: 1) { ok } }"}
    assert "mutation" in request_error(client.post("/graphql", json=mutation))


def test_application_graphql_body_and_introspection(client: httpx.Client) -> None:
    response = client.post("/graphql", content="{ __schema { queryType { name } } }",
                           headers={"Content-Type": "application/graphql"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "RootQuery"}}}}


def test_request_log_keeps_the_query_text(hhb: Municipal, client: httpx.Client) -> None:
    client.delete("/_demo/requests")
    gql(client, "{ burger(id: 1) { bsn } }")
    log = client.get("/_demo/requests").json()
    assert log["routes"] == {"POST /graphql": 1}
    assert log["recent"][0]["body"]["query"] == "{ burger(id: 1) { bsn } }"


# --- the schema --------------------------------------------------------------------------------------------


def test_sdl_is_served_and_is_a_subset_of_the_backend_sdl(client: httpx.Client) -> None:
    response = client.get("/graphql/schema.graphql")
    assert response.status_code == 200
    assert response.text == SDL
    backend = official(BACKEND_SDL)
    if backend is None:
        return
    ours, theirs = build_schema(SDL), build_schema(backend.read_text())
    for name, ours_type in ours.type_map.items():
        if name.startswith("__"):
            continue
        assert name in theirs.type_map, name
        their_type = theirs.type_map[name]
        assert type(their_type) is type(ours_type), name
        if not isinstance(ours_type, GraphQLObjectType):
            continue
        assert isinstance(their_type, GraphQLObjectType)
        for field_name, field in ours_type.fields.items():
            their_field = their_type.fields.get(field_name)
            assert their_field is not None, f"{name}.{field_name}"
            assert str(field.type) == str(their_field.type), f"{name}.{field_name}"
            for arg_name, arg in field.args.items():
                assert arg_name in their_field.args, f"{name}.{field_name}({arg_name})"
                assert str(arg.type) == str(their_field.args[arg_name].type), f"{name}.{field_name}({arg_name})"
    filters = ours.type_map["BankTransactionSearchFilter"]
    their_filters = theirs.type_map["BankTransactionSearchFilter"]
    assert {k: str(v.type) for k, v in filters.fields.items()} == {  # type: ignore[attr-defined]
        k: str(v.type) for k, v in their_filters.fields.items()}  # type: ignore[attr-defined]
