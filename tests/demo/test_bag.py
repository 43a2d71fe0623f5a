"""The BAG simulator against the BAG API Individuele Bevragingen: OAS 2.0.0, release notes to 2.9.2, features.

The stored OAS is 2.0.0 and the live API 2.9.2. Where a body fails that spec, ``conforms`` says why:
- ``Adres.required`` names ``kortNaam`` while the property is ``korteNaam`` (a typo still in 2.9.2);
- ``voorkomen`` timestamps are local time without offset as the live API writes them
  (``2010-12-10T02:45:55``, see ``docs/Getting started.md``), which ``format: date-time`` rejects;
- ``GET /panden`` arrived in 2.5; 2.0 only has ``POST /panden``, whose answer has the same shape.
2.9 additions present in bodies (allowed by 2.0's open schemas): ``adresregel5/6``, ``_embedded.adresseerbaarObject``
and ``panden`` on an adres, ``pandStatussen`` on adres uitgebreid, paging links on every collection.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.bag import BagSimulator
from demo.model import Municipality, Nummeraanduiding
from demo.runner import Municipal, running_alone
from tests.oas import response_schema, schema_errors

SPEC = "bag/openapi.yaml"
# Failures of the 2.0.0 schema that the live API shares (see the module docstring).
KNOWN_SPEC_GAPS = (
    re.compile(r"^(_embedded/adressen/\d+)?: 'kortNaam' is a required property$"),
    re.compile(r"voorkomen/tijdstipRegistratie(LV)?: '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?' is not a 'date-time'$"),
)


def serve(data: Municipality) -> Iterator[Municipal]:
    with running_alone(BagSimulator, data) as running:
        yield running


@pytest.fixture(scope="module")
def bag(municipality: Municipality) -> Iterator[Municipal]:
    """Only this simulator, on a free port, so rate-limit state is this file's alone."""
    yield from serve(municipality)


@pytest.fixture(scope="module")
def sim(bag: Municipal) -> BagSimulator:
    simulator = bag.simulators["bag"]
    assert isinstance(simulator, BagSimulator)
    return simulator


@pytest.fixture
def client(bag: Municipal, sim: BagSimulator) -> Iterator[httpx.Client]:
    """Tests here fire many calls in a row; the rate-limit tests below set a limit of their own."""
    configured, sim.rate_limit_per_s = sim.rate_limit_per_s, 10_000
    key = bag.config["sources"]["bag"]["key"]
    with httpx.Client(base_url=bag.urls["bag"], headers={"X-Api-Key": key}) as c:
        yield c
    sim.rate_limit_per_s = configured


def conforms(path: str, response: httpx.Response, method: str = "get") -> None:
    """``assert_conforms``, minus the documented gaps between the 2.0.0 spec and the live API."""
    media = response.headers["content-type"].split(";")[0]
    errors = [e for e in schema_errors(response_schema(SPEC, path, method, response.status_code, media),
                                       response.json())
              if not any(gap.search(e) for gap in KNOWN_SPEC_GAPS)]
    assert not errors, f"{path} -> {response.status_code}:\n" + "\n".join(errors)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert all(isinstance(body[k], str) and body[k] for k in ("title", "detail", "type", "instance"))
    assert body["type"].startswith("https://")
    assert body["instance"].startswith("/")
    return body


def names(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["name"], p["code"]) for p in body.get("invalid-params", [])]


def first_adres(data: Municipality) -> Nummeraanduiding:
    return min(data.nummeraanduidingen.values(), key=lambda na: na.identificatie)


# --- authentication, negotiation, generic errors -----------------------------------------------------


def test_key_missing_is_401_and_unknown_key_403(bag: Municipal, municipality: Municipality) -> None:
    na = first_adres(municipality)
    with httpx.Client(base_url=bag.urls["bag"]) as anonymous:
        missing = anonymous.get(f"/adressen/{na.identificatie}")
        wrong = anonymous.get(f"/adressen/{na.identificatie}", headers={"X-Api-Key": "onjuist"})
    problem(missing, 401, "authentication")
    assert problem(wrong, 403, "autorisation")["title"] == "U bent niet geautoriseerd voor deze operatie."
    assert missing.headers["api-version"] == "2.9.2"
    conforms("/adressen/{nummeraanduidingIdentificatie}", missing)
    conforms("/adressen/{nummeraanduidingIdentificatie}", wrong)


def test_only_hal_is_served(client: httpx.Client, municipality: Municipality) -> None:
    path = f"/adressen/{first_adres(municipality).identificatie}"
    assert client.get(path, headers={"Accept": "application/hal+json"}).status_code == 200
    assert client.get(path, headers={"Accept": "text/html, */*;q=0.1"}).status_code == 200
    for accept in ("application/json", "application/xml"):  # the features: plain JSON is refused too
        refused = client.get(path, headers={"Accept": accept})
        problem(refused, 406, "notAcceptable")
        conforms("/adressen/{nummeraanduidingIdentificatie}", refused)


def test_only_rd_coordinates(client: httpx.Client, municipality: Municipality) -> None:
    vo = min(municipality.verblijfsobjecten)
    assert client.get(f"/verblijfsobjecten/{vo}", headers={"Accept-Crs": "epsg:28992"}).status_code == 200
    wgs = client.get(f"/verblijfsobjecten/{vo}", headers={"Accept-Crs": "epsg:4326"})
    assert "epsg:4326" in problem(wgs, 406, "crsNotAcceptable")["title"]
    conforms("/verblijfsobjecten/{identificatie}", wgs)


def test_trailing_slash_unknown_route_and_method(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality).identificatie
    problem(client.get(f"/adressen/{na}/"), 404, "notFound")
    problem(client.get("/ligplaatsen/0999020000000001"), 404, "notFound")
    wrong_method = client.post(f"/panden/{min(municipality.panden)}")
    assert problem(wrong_method, 405, "methodNotAllowed")["detail"] == "Method not allowed"


# --- single objects -------------------------------------------------------------------------------------


def test_adres_is_flat_with_links(client: httpx.Client, municipality: Municipality, bag: Municipal) -> None:
    na = next(n for n in municipality.nummeraanduidingen.values() if n.huisnummertoevoeging)
    orr = municipality.openbare_ruimten[na.openbare_ruimte_id]
    wp = municipality.woonplaatsen[orr.woonplaats_id]
    vo = municipality.verblijfsobjecten[na.adresseerbaar_object_id]
    r = client.get(f"/adressen/{na.identificatie}")
    assert (r.status_code, r.headers["content-type"]) == (200, "application/hal+json")
    conforms("/adressen/{nummeraanduidingIdentificatie}", r)
    body = r.json()
    assert body["nummeraanduidingIdentificatie"] == na.identificatie
    assert (body["openbareRuimteNaam"], body["korteNaam"], body["woonplaatsNaam"]) == (orr.naam, orr.korte_naam,
                                                                                       wp.naam)
    assert (body["postcode"], body["huisnummer"], body["huisnummertoevoeging"]) == (
        na.postcode, na.huisnummer, na.huisnummertoevoeging)
    assert body["adresseerbaarObjectIdentificatie"] == vo.identificatie
    assert body["pandIdentificaties"] == vo.pand_ids
    # NEN 5825: a toevoeging starting with a digit is joined with a hyphen; two spaces before the place
    assert body["adresregel5"] == f"{orr.korte_naam} {na.huisnummer}-{na.huisnummertoevoeging}"
    assert body["adresregel6"] == f"{na.postcode[:4]} {na.postcode[4:]}  {wp.naam.upper()}"
    base = bag.urls["bag"]
    links = body["_links"]
    assert links["self"]["href"] == f"{base}/adressen/{na.identificatie}"
    assert links["adresseerbaarObject"]["href"] == f"{base}/verblijfsobjecten/{vo.identificatie}"
    assert links["woonplaats"]["href"] == f"{base}/woonplaatsen/{wp.identificatie}"
    assert [p["href"] for p in links["panden"]] == [f"{base}/panden/{p}" for p in vo.pand_ids]
    assert "_embedded" not in body
    assert "Content-Crs" not in r.headers


def test_adres_expand_is_case_insensitive_and_validated(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality)
    r = client.get(f"/adressen/{na.identificatie}", params={"expand": "adresseerbaarobject,panden,woonplaats"})
    conforms("/adressen/{nummeraanduidingIdentificatie}", r)
    embedded = r.json()["_embedded"]
    assert set(embedded) == {"adresseerbaarObject", "panden", "woonplaats"}
    assert embedded["adresseerbaarObject"]["verblijfsobject"]["verblijfsobject"]["identificatie"] == (
        na.adresseerbaar_object_id)
    assert r.headers["Content-Crs"] == "epsg:28992"  # embedded geometry
    assert set(client.get(f"/adressen/{na.identificatie}?expand=true").json()["_embedded"]) == {
        "nummeraanduiding", "openbareRuimte", "woonplaats", "adresseerbaarObject", "panden"}
    bad = client.get(f"/adressen/{na.identificatie}", params={"expand": "bestaatniet,bestaatookniet"})
    assert [p["reason"] for p in problem(bad, 400, "paramsValidation")["invalid-params"]] == [
        "Deel van de parameterwaarde is niet correct: bestaatniet.",
        "Deel van de parameterwaarde is niet correct: bestaatookniet."]
    conforms("/adressen/{nummeraanduidingIdentificatie}", bad)


def test_verblijfsobject_wrapped_with_rd_point(client: httpx.Client, municipality: Municipality) -> None:
    vo = municipality.verblijfsobjecten[min(municipality.verblijfsobjecten)]
    r = client.get(f"/verblijfsobjecten/{vo.identificatie}", params={"expand": "maaktDeelUitVan,heeftAlsHoofdAdres"})
    conforms("/verblijfsobjecten/{identificatie}", r)
    assert r.headers["Content-Crs"] == "epsg:28992"
    body = r.json()
    inner = body["verblijfsobject"]
    assert inner["geometrie"]["punt"]["coordinates"] == [vo.rd[0], vo.rd[1], 0]
    assert (inner["heeftAlsHoofdAdres"], inner["maaktDeelUitVan"]) == (vo.hoofdadres_id, vo.pand_ids)
    assert (inner["status"], inner["oppervlakte"], inner["gebruiksdoelen"]) == (vo.status, vo.oppervlakte,
                                                                                vo.gebruiksdoelen)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", inner["voorkomen"]["tijdstipRegistratieLV"])
    assert body["_links"]["self"]["href"].endswith(f"/verblijfsobjecten/{vo.identificatie}"
                                                   "?expand=maaktDeelUitVan%2CheeftAlsHoofdAdres")
    embedded = body["_embedded"]
    assert embedded["heeftAlsHoofdAdres"]["nummeraanduiding"]["identificatie"] == vo.hoofdadres_id
    assert "_embedded" not in embedded["heeftAlsHoofdAdres"]  # one level deep only
    assert [p["pand"]["identificatie"] for p in embedded["maaktDeelUitVan"]] == vo.pand_ids
    # deterministic registration metadata: the same answer twice
    assert client.get(f"/verblijfsobjecten/{vo.identificatie}").json()["verblijfsobject"] == inner


def test_adresseerbaar_object_is_wrapped_twice(client: httpx.Client, municipality: Municipality) -> None:
    vo = min(municipality.verblijfsobjecten)
    r = client.get(f"/adresseerbareobjecten/{vo}")
    conforms("/adresseerbareobjecten/{adresseerbaarObjectIdentificatie}", r)
    assert r.json()["verblijfsobject"]["verblijfsobject"]["identificatie"] == vo
    assert r.headers["Content-Crs"] == "epsg:28992"


def test_pand_polygon_holds_its_units(client: httpx.Client, municipality: Municipality) -> None:
    pand = municipality.panden[min(municipality.panden)]
    r = client.get(f"/panden/{pand.identificatie}")
    conforms("/panden/{identificatie}", r)
    body = r.json()
    assert body["pand"]["oorspronkelijkBouwjaar"] == str(pand.oorspronkelijk_bouwjaar)
    assert body["pand"]["status"] == pand.status
    ring = body["pand"]["geometrie"]["coordinates"][0]
    assert len(ring) >= 4
    assert ring[0] == ring[-1]
    xs, ys = [c[0] for c in ring], [c[1] for c in ring]
    for vo in municipality.verblijfsobjecten.values():
        if pand.identificatie in vo.pand_ids:
            assert min(xs) <= vo.rd[0] <= max(xs)
            assert min(ys) <= vo.rd[1] <= max(ys)
    assert "_embedded" not in client.get(f"/panden/{pand.identificatie}?expand=true").json()
    problem(client.get(f"/panden/{pand.identificatie}?expand=maaktDeelUitVan"), 400, "paramsValidation")


def test_nummeraanduiding_openbare_ruimte_woonplaats(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality)
    orr = municipality.openbare_ruimten[na.openbare_ruimte_id]
    wp = municipality.woonplaatsen[orr.woonplaats_id]
    r = client.get(f"/nummeraanduidingen/{na.identificatie}?expand=ligtAanOpenbareRuimte")
    conforms("/nummeraanduidingen/{nummeraanduidingIdentificatie}", r)
    assert r.json()["nummeraanduiding"]["ligtAan"] == orr.identificatie
    assert r.json()["_embedded"]["ligtAanOpenbareRuimte"]["openbareRuimte"]["naam"] == orr.naam
    r = client.get(f"/openbareruimten/{orr.identificatie}")
    conforms("/openbareruimten/{openbareRuimteIdentificatie}", r)
    assert r.json()["openbareRuimte"]["ligtIn"] == wp.identificatie
    r = client.get(f"/woonplaatsen/{wp.identificatie}?expand=true")
    conforms("/woonplaatsen/{identificatie}", r)
    body = r.json()
    assert (body["woonplaats"]["naam"], body["woonplaats"]["status"]) == (wp.naam, "Woonplaats aangewezen")
    assert body["_embedded"]["bronhouders"][0]["code"] == wp.gemeentecode
    assert body["_embedded"]["geometrie"]["vlak"]["type"] == "Polygon"
    assert r.headers["Content-Crs"] == "epsg:28992"


def test_adres_uitgebreid(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality)
    vo = municipality.verblijfsobjecten[na.adresseerbaar_object_id]
    r = client.get(f"/adressenuitgebreid/{na.identificatie}")
    conforms("/adressenuitgebreid/{nummeraanduidingIdentificatie}", r)
    body = r.json()
    assert body["oorspronkelijkBouwjaar"] == [str(municipality.panden[p].oorspronkelijk_bouwjaar)
                                              for p in vo.pand_ids]
    assert (body["oppervlakte"], body["adresseerbaarObjectStatus"]) == (vo.oppervlakte, vo.status)
    listed = client.get("/adressenuitgebreid", params={"postcode": na.postcode, "huisnummer": na.huisnummer})
    conforms("/adressenuitgebreid", listed)
    assert na.identificatie in {a["nummeraanduidingIdentificatie"] for a in listed.json()["_embedded"]["adressen"]}


# --- identifiers: no multi-id GET, 404 for unknown ----------------------------------------------------------


@pytest.mark.parametrize(("path", "spec_path", "good"), [
    ("/adressen/{}", "/adressen/{nummeraanduidingIdentificatie}", "0999200009999999"),
    ("/adresseerbareobjecten/{}", "/adresseerbareobjecten/{adresseerbaarObjectIdentificatie}", "0999010009999999"),
    ("/verblijfsobjecten/{}", "/verblijfsobjecten/{identificatie}", "0999010009999999"),
    ("/panden/{}", "/panden/{identificatie}", "0999100009999999"),
    ("/nummeraanduidingen/{}", "/nummeraanduidingen/{nummeraanduidingIdentificatie}", "0999200009999999"),
    ("/openbareruimten/{}", "/openbareruimten/{openbareRuimteIdentificatie}", "0999300009999999"),
    ("/woonplaatsen/{}", "/woonplaatsen/{identificatie}", "9998"),
])
def test_ids_are_checked_then_looked_up(client: httpx.Client, path: str, spec_path: str, good: str) -> None:
    missing = client.get(path.format(good))
    problem(missing, 404, "notFound")
    conforms(spec_path, missing)
    for bad in (good[:-1], f"{good},{good}", "1" * 17):
        refused = client.get(path.format(bad))
        body = problem(refused, 400, "paramsValidation")
        [param] = body["invalid-params"]
        # the path parameter's name comes back lower-cased, as in the foutafhandeling feature
        assert (param["name"], param["code"]) == (spec_path.split("{")[1].rstrip("}").lower(), "pattern")
        assert param["reason"].startswith("Waarde voldoet niet aan patroon ^")
        conforms(spec_path, refused)


def test_wrong_object_type_in_id_is_400(client: httpx.Client, municipality: Municipality) -> None:
    pand = min(municipality.panden)
    problem(client.get(f"/verblijfsobjecten/{pand}"), 400, "paramsValidation")
    problem(client.get(f"/adressen?adresseerbaarObjectIdentificatie={pand}"), 400, "paramsValidation")


def test_unknown_query_parameter_is_refused(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality).identificatie
    body = problem(client.get(f"/adressen/{na}?fields=postcode"), 400, "paramsValidation")
    assert names(body) == [("fields", "unknownParam")]
    problem(client.get(f"/adressen?nummeraanduidingIdentificaties={na},{na}"), 400, "paramsValidation")
    # page and pageSize mean nothing to a single object and are ignored, as the paginering feature says
    assert client.get(f"/adressen/{na}?page=3&pageSize=5").status_code == 200


# --- searching adressen -------------------------------------------------------------------------------------


def test_adressen_search_combinations(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality)
    pand = municipality.verblijfsobjecten[na.adresseerbaar_object_id].pand_ids[0]
    cases = [
        ("", "paramsRequired"), ("?page=1&pageSize=20&expand=adresseerbaarObject", "paramsRequired"),
        ("?huisletter=a&huisnummertoevoeging=II", "paramsRequired"), ("?postcode=", "paramsRequired"),
        (f"?postcode={na.postcode}", "paramsCombination"), ("?huisnummer=3", "paramsCombination"),
        (f"?pandIdentificatie={pand}&adresseerbaarObjectIdentificatie={na.adresseerbaar_object_id}",
         "unsupportedCombination"),
        (f"?pandIdentificatie={pand}&huisnummer=633", "unsupportedCombination"),
    ]
    for qs, code in cases:
        r = client.get("/adressen" + qs)
        body = problem(r, 400, code)
        assert "invalid-params" not in body
        assert body["instance"] == "/adressen" + qs
        conforms("/adressen", r)


def test_adressen_parameter_validation(client: httpx.Client) -> None:
    # a type error is reported alone; constraint errors are reported together
    only_type = problem(client.get("/adressen?postcode=1234AA&huisnummer=a&huisletter=3"), 400, "paramsValidation")
    assert names(only_type) == [("huisnummer", "integer")]
    both = problem(client.get("/adressen?postcode=1234AA&huisnummer=999999&huisletter=AA"), 400, "paramsValidation")
    assert names(both) == [("huisnummer", "maximum"), ("huisletter", "pattern")]
    long = problem(client.get("/adressen?postcode=1234AA&huisnummer=1&huisnummertoevoeging=tegenover"), 400,
                   "paramsValidation")
    assert long["invalid-params"][0]["reason"] == "Waarde is langer dan maximale lengte 4."


def test_adressen_by_postcode_and_exacte_match(client: httpx.Client, municipality: Municipality) -> None:
    groups: dict[tuple[str, int], list[Nummeraanduiding]] = {}
    for na in municipality.nummeraanduidingen.values():
        groups.setdefault((na.postcode, na.huisnummer), []).append(na)
    postcode, huisnummer = next(k for k, v in groups.items() if any(n.huisnummertoevoeging for n in v))
    group = groups[(postcode, huisnummer)]
    spaced = f"{postcode[:4]} {postcode[4:].lower()}"  # 2.9: a space and lower case are accepted
    r = client.get("/adressen", params={"postcode": spaced, "huisnummer": huisnummer})
    conforms("/adressen", r)
    found = [a["nummeraanduidingIdentificatie"] for a in r.json()["_embedded"]["adressen"]]
    assert sorted(found) == sorted(n.identificatie for n in group)
    exact = client.get("/adressen", params={"postcode": postcode, "huisnummer": huisnummer, "exacteMatch": "true"})
    plain = [n.identificatie for n in group if not n.huisletter and not n.huisnummertoevoeging]
    assert [a["nummeraanduidingIdentificatie"] for a in exact.json().get("_embedded", {}).get("adressen", [])] == plain
    one = next(n for n in group if n.huisnummertoevoeging)
    r = client.get("/adressen", params={"postcode": postcode, "huisnummer": huisnummer,
                                        "huisnummertoevoeging": one.huisnummertoevoeging, "exacteMatch": "true"})
    assert [a["nummeraanduidingIdentificatie"] for a in r.json()["_embedded"]["adressen"]] == [one.identificatie]


def test_adressen_by_other_entries(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality)
    orr = municipality.openbare_ruimten[na.openbare_ruimte_id]
    vo = municipality.verblijfsobjecten[na.adresseerbaar_object_id]
    in_pand = {n.identificatie for n in municipality.nummeraanduidingen.values()
               if municipality.verblijfsobjecten[n.adresseerbaar_object_id].pand_ids == vo.pand_ids}
    on_street = {n.identificatie for n in municipality.nummeraanduidingen.values()
                 if n.openbare_ruimte_id == orr.identificatie}
    queries: list[tuple[dict[str, Any], set[str]]] = [
        ({"adresseerbaarObjectIdentificatie": vo.identificatie}, {na.identificatie}),
        ({"pandIdentificatie": vo.pand_ids[0]}, in_pand),
        ({"openbareRuimteIdentificatie": orr.identificatie, "pageSize": 100}, on_street),
        ({"woonplaatsNaam": municipality.woonplaatsen[orr.woonplaats_id].naam.upper(),
          "openbareRuimteNaam": orr.naam, "huisnummer": na.huisnummer},
         {n for n in on_street if municipality.nummeraanduidingen[n].huisnummer == na.huisnummer}),
    ]
    for params, expected in queries:
        r = client.get("/adressen", params=params)
        conforms("/adressen", r)
        assert {a["nummeraanduidingIdentificatie"] for a in r.json()["_embedded"]["adressen"]} == expected, params
    r = client.get("/adressen", params={"q": f"{orr.naam} {na.huisnummer}"})
    assert na.identificatie in {a["nummeraanduidingIdentificatie"] for a in r.json()["_embedded"]["adressen"]}


# --- paging -----------------------------------------------------------------------------------------------


def test_paging_links_and_headers(client: httpx.Client, municipality: Municipality, bag: Municipal) -> None:
    total = len(municipality.nummeraanduidingen)  # every postcode starts with 38
    last = -(-total // 20)
    assert last >= 4
    first = client.get("/adressen?q=38")
    conforms("/adressen", first)
    links = first.json()["_links"]
    assert (first.headers["X-Pagination-Page"], first.headers["X-Pagination-Limit"]) == ("1", "20")
    assert len(first.json()["_embedded"]["adressen"]) == 20
    assert set(links) == {"self", "next", "last"}
    assert links["self"]["href"] == f"{bag.urls['bag']}/adressen?q=38"
    assert links["next"]["href"].endswith("?q=38&page=2")
    assert links["last"]["href"].endswith(f"?q=38&page={last}")
    third = client.get("/adressen?q=38&page=3&pageSize=15").json()
    assert set(third["_links"]) == {"self", "first", "previous", "next", "last"}
    assert third["_links"]["previous"]["href"].endswith("?q=38&pageSize=15&page=2")
    ids = [a["nummeraanduidingIdentificatie"] for a in client.get("/adressen?q=38&pageSize=100").json()[
        "_embedded"]["adressen"]]
    assert [a["nummeraanduidingIdentificatie"] for a in third["_embedded"]["adressen"]] == ids[30:45]
    end = client.get(f"/adressen?q=38&page={last}").json()
    assert set(end["_links"]) == {"self", "first", "previous"}


@pytest.mark.parametrize(("qs", "name", "code"), [
    ("page=0", "page", "minimum"), ("pageSize=9", "pageSize", "minimum"), ("pageSize=101", "pageSize", "maximum"),
    ("page=a", "page", "integer"), ("page=999", "page", "page"),
])
def test_paging_bounds(client: httpx.Client, qs: str, name: str, code: str) -> None:
    r = client.get(f"/adressen?q=38&{qs}")
    assert names(problem(r, 400, "paramsValidation")) == [(name, code)]
    conforms("/adressen", r)


def test_no_results_is_a_collection_without_embedded(client: httpx.Client) -> None:
    r = client.get("/adressen?postcode=9999ZZ&huisnummer=1")
    assert r.status_code == 200
    assert r.json() == {"_links": {"self": {"href": str(r.url)}}}
    assert r.headers["X-Pagination-Page"] == "1"


# --- object collections ----------------------------------------------------------------------------------


def test_object_collections(client: httpx.Client, municipality: Municipality) -> None:
    na = first_adres(municipality)
    vo = municipality.verblijfsobjecten[na.adresseerbaar_object_id]
    units = sorted(v.identificatie for v in municipality.verblijfsobjecten.values() if vo.pand_ids[0] in v.pand_ids)
    r = client.get("/verblijfsobjecten", params={"pandIdentificatie": vo.pand_ids[0]})
    conforms("/verblijfsobjecten", r)
    assert [v["verblijfsobject"]["identificatie"] for v in r.json()["_embedded"]["verblijfsobjecten"]] == units
    r = client.get("/adresseerbareobjecten", params={"pandIdentificaties": ",".join(vo.pand_ids)})
    conforms("/adresseerbareobjecten", r)
    assert [a["verblijfsobject"]["verblijfsobject"]["identificatie"]
            for a in r.json()["_embedded"]["adresseerbareObjecten"]] == units
    r = client.get("/adresseerbareobjecten", params={"nummeraanduidingIdentificatie": na.identificatie})
    assert [a["verblijfsobject"]["verblijfsobject"]["identificatie"]
            for a in r.json()["_embedded"]["adresseerbareObjecten"]] == [vo.identificatie]
    for params in ({"adresseerbaarObjectIdentificatie": vo.identificatie},
                   {"nummeraanduidingIdentificatie": na.identificatie}):
        r = client.get("/panden", params=params)
        conforms("/panden", r, method="post")  # GET /panden is 2.5+; POST /panden answers the same shape
        assert [p["pand"]["identificatie"] for p in r.json()["_embedded"]["panden"]] == vo.pand_ids
    problem(client.get("/panden"), 400, "paramsRequired")
    r = client.get("/nummeraanduidingen", params={"postcode": na.postcode, "huisnummer": na.huisnummer})
    conforms("/nummeraanduidingen", r)
    orr = municipality.openbare_ruimten[na.openbare_ruimte_id]
    r = client.get("/openbareruimten", params={"woonplaatsIdentificatie": orr.woonplaats_id})
    conforms("/openbareruimten", r)
    assert orr.identificatie in {o["openbareRuimte"]["identificatie"] for o in r.json()["_embedded"]["openbareruimten"]}
    problem(client.get("/openbareruimten", params={"openbareRuimteNaam": orr.naam}), 400, "paramsCombination")
    r = client.get("/woonplaatsen", params={"naam": municipality.woonplaatsen[orr.woonplaats_id].naam})
    conforms("/woonplaatsen", r)
    assert len(r.json()["_embedded"]["woonplaatsen"]) == 1


# --- time travel and huidig -------------------------------------------------------------------------------


def test_time_travel(client: httpx.Client, municipality: Municipality, bag: Municipal) -> None:
    vo = municipality.verblijfsobjecten[min(municipality.verblijfsobjecten)]
    problem(client.get(f"/verblijfsobjecten/{vo.identificatie}?geldigOp=2000-01-01"), 404, "notFound")
    problem(client.get(f"/verblijfsobjecten/{vo.identificatie}?beschikbaarOp=2005-01-01T00:00"), 404, "notFound")
    r = client.get(f"/verblijfsobjecten/{vo.identificatie}?geldigOp=2025-01-01")
    links = r.json()["_links"]
    assert links["self"]["href"].endswith("?geldigOp=2025-01-01")
    # links to related resources carry both parameters, the missing one defaulting to now
    assert re.search(r"\?geldigOp=2025-01-01&beschikbaarOp=\d{4}-", links["heeftAlsHoofdAdres"]["href"])
    listed = client.get("/verblijfsobjecten", params={"pandIdentificatie": vo.pand_ids[0], "geldigOp": "2025-01-01"})
    item = listed.json()["_embedded"]["verblijfsobjecten"][0]["_links"]
    assert item["self"]["href"].endswith("?geldigOp=2025-01-01")
    wrong = (("geldigOp=23-04-2019", "geldigOp", "date"), ("geldigOp=1983-05-00", "geldigOp", "date"),
             ("beschikbaarOp=gisteren", "beschikbaarOp", "timestamp"), ("huidig=ja", "huidig", "boolean"))
    for qs, name, code in wrong:
        refused = client.get(f"/verblijfsobjecten/{vo.identificatie}?{qs}")
        assert names(problem(refused, 400, "paramsValidation")) == [(name, code)]
        conforms("/verblijfsobjecten/{identificatie}", refused)


@pytest.fixture(scope="module")
def ended(municipality: Municipality) -> Iterator[tuple[Municipal, str, str]]:
    """A copy of the municipality with one unit withdrawn and one building demolished."""
    vo_id = min(municipality.verblijfsobjecten)
    pand_id = max(municipality.panden)
    vos = dict(municipality.verblijfsobjecten)
    vos[vo_id] = dataclasses.replace(vos[vo_id], status="Verblijfsobject ingetrokken")
    panden = dict(municipality.panden)
    panden[pand_id] = dataclasses.replace(panden[pand_id], status="Pand gesloopt")
    for world in serve(dataclasses.replace(municipality, verblijfsobjecten=vos, panden=panden)):
        yield world, vo_id, pand_id


def test_adressen_are_current_only(ended: tuple[Municipal, str, str]) -> None:
    world, vo_id, pand_id = ended
    data = world.data
    withdrawn = data.verblijfsobjecten[vo_id].hoofdadres_id
    demolished = next(na for na in data.nummeraanduidingen.values()
                      if pand_id in data.verblijfsobjecten[na.adresseerbaar_object_id].pand_ids).identificatie
    with httpx.Client(base_url=world.urls["bag"], headers={"X-Api-Key": world.config["sources"]["bag"]["key"]}) as c:
        problem(c.get(f"/adressen/{withdrawn}"), 404, "notFound")
        assert c.get(f"/adressen/{withdrawn}?inclusiefEindStatus=true").status_code == 200
        assert c.get(f"/verblijfsobjecten/{vo_id}").status_code == 200  # objects: all statuses by default
        problem(c.get(f"/verblijfsobjecten/{vo_id}?huidig=true"), 404, "notFound")
        # adressen shows an address in a demolished pand, adressen uitgebreid and a pand search do not
        assert c.get(f"/adressen/{demolished}").status_code == 200
        problem(c.get(f"/adressenuitgebreid/{demolished}"), 404, "notFound")
        assert "_embedded" not in c.get(f"/adressen?pandIdentificatie={pand_id}").json()
        assert c.get(f"/panden/{pand_id}").json()["pand"]["status"] == "Pand gesloopt"
        problem(c.get(f"/panden/{pand_id}?huidig=true"), 404, "notFound")


# --- rate limiting ----------------------------------------------------------------------------------------


def test_rate_limit_per_key(bag: Municipal, sim: BagSimulator, municipality: Municipality) -> None:
    sim.api_keys |= {"rate-test-a", "rate-test-b"}
    sim.rate_limit_per_s = 3
    path = f"/adressen/{first_adres(municipality).identificatie}"
    try:
        with httpx.Client(base_url=bag.urls["bag"], headers={"X-Api-Key": "rate-test-a"}) as c:
            answers = [c.get(path) for _ in range(4)]
        with httpx.Client(base_url=bag.urls["bag"], headers={"X-Api-Key": "rate-test-b"}) as other:
            assert other.get(path).status_code == 200  # the limit is per key
    finally:
        sim.rate_limit_per_s = 50
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    body = problem(refused, 429, "tooManyRequests")
    assert (body["title"], body["detail"]) == ("Too Many Requests", "You have exceeded your quota")
    assert refused.headers["RateLimit-Limit"] == refused.headers["X-Rate-Limit-Limit"] == "3"
    assert int(refused.headers["RateLimit-Reset"]) >= 1
    assert refused.headers["X-Rate-Limit-Reset"] == "1"
    assert refused.headers["Kadaster-RateLimit-DayLimit"] == "50000"
    assert int(refused.headers["Kadaster-RateLimit-DayLimit-Reset"]) > 0
    conforms("/adressen/{nummeraanduidingIdentificatie}", refused)  # 2.0 has no 429: the default Error


def test_day_quota(bag: Municipal, sim: BagSimulator, municipality: Municipality) -> None:
    sim.api_keys.add("quota-test")
    sim.day_limit = 2
    path = f"/panden/{min(municipality.panden)}"
    try:
        with httpx.Client(base_url=bag.urls["bag"], headers={"X-Api-Key": "quota-test"}) as c:
            answers = [c.get(path) for _ in range(3)]
    finally:
        sim.day_limit = 50_000
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["Kadaster-RateLimit-DayLimit-Remaining"] for a in answers] == ["1", "0", "0"]


# --- consistency with the other sources ------------------------------------------------------------------


def test_every_referenced_address_resolves(client: httpx.Client, municipality: Municipality) -> None:
    """Persons, zaakobjecten, meldingen, partijen and LVV registrations all point at a current BAG address."""
    by_person = {p.nummeraanduiding_id: p.adresseerbaar_object_id for p in municipality.personen.values()
                 if p.nummeraanduiding_id}
    referenced = set(by_person)
    referenced |= {zo.nummeraanduiding_id for z in municipality.zaken.values() for zo in z.zaakobjecten
                   if zo.nummeraanduiding_id}
    referenced |= {m.nummeraanduiding_id for m in municipality.meldingen.values()}
    referenced |= {p.nummeraanduiding_id for p in municipality.partijen.values() if p.nummeraanduiding_id}
    referenced |= {r.nummeraanduiding_id for r in municipality.vakantieverhuur.values()}
    assert any(zo.nummeraanduiding_id for z in municipality.zaken.values() for zo in z.zaakobjecten)
    for ident in sorted(referenced):
        r = client.get(f"/adressen/{ident}")
        assert r.status_code == 200, ident
        if ident in by_person:
            assert r.json()["adresseerbaarObjectIdentificatie"] == by_person[ident]
