"""The BRP Personen v2 simulator: auth, request validation, fields, the query types and BAG consistency."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema_path import SchemaPath

from demo.brp import BrpSimulator
from demo.model import Municipality, Persoon
from demo.runner import running_alone
from tests.oas import assert_conforms, response_schema, schema_errors, spec

SPEC = "brp-personen/openapi.yaml"
RAADPLEEG = "RaadpleegMetBurgerservicenummer"
PARAMS_TITLE = "Een of meerdere parameters zijn niet correct."


@functools.cache
def _variants() -> dict[str, SchemaPath]:
    """Every polymorphic type name of the response side mapped to its concrete schema (none without the spec)."""
    document = spec(SPEC)
    if document is None:
        return {}
    schemas = document / "components" / "schemas"
    variants: dict[str, SchemaPath] = {}
    for name in schemas.read_value():
        schema = schemas / name
        if name != "PersonenQuery" and "discriminator" in schema:
            for variant, ref in (schema / "discriminator" / "mapping").read_value().items():
                variants[variant] = schemas / ref.rsplit("/", 1)[1]
    return variants


def variant_errors(value: Any, path: str = "") -> list[str]:
    """Validate each polymorphic object (response, dates, verblijfplaats, ...) against its concrete schema:
    the schema validator does not follow discriminators by itself."""
    errors: list[str] = []
    if isinstance(value, dict):
        kind = value.get("type")
        if isinstance(kind, str) and kind in _variants():
            errors += [f"{path}: {e}" for e in schema_errors(_variants()[kind], value)]
        for key, item in value.items():
            errors += variant_errors(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            errors += variant_errors(item, f"{path}/{index}")
    return errors


@dataclasses.dataclass
class Brp:
    """One running BRP simulator and the data behind it."""

    url: str
    key: str
    data: Municipality

    def post(self, body: Any, **headers: str) -> httpx.Response:
        return httpx.post(self.url + "/personen", json=body, headers={"X-API-KEY": self.key, **headers})

    def personen(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        response = self.post(body)
        assert response.status_code == 200, response.text
        assert response.json()["type"] == body["type"]
        assert_conforms(SPEC, "/personen", "post", response)
        errors = variant_errors(response.json())
        assert not errors, errors
        result: list[dict[str, Any]] = response.json()["personen"]
        return result

    def raadpleeg(self, bsns: list[str], fields: list[str]) -> list[dict[str, Any]]:
        return self.personen({"type": RAADPLEEG, "burgerservicenummer": bsns, "fields": fields})

    def living(self) -> list[Persoon]:
        return sorted((p for p in self.data.personen.values() if p.overlijdensdatum is None), key=lambda p: p.bsn)


def _serve(data: Municipality) -> Iterator[Brp]:
    with running_alone(BrpSimulator, data) as world:
        yield Brp(world.urls["brp"], world.config["sources"]["brp"]["key"], data)


@pytest.fixture(scope="module")
def brp(municipality: Municipality) -> Iterator[Brp]:
    """Only this simulator, over the shared municipality, so the file runs whatever the others' state."""
    yield from _serve(municipality)


@dataclasses.dataclass
class Scenario:
    brp: Brp
    deceased: Persoon
    crowd_na: str  # a nummeraanduiding with 10 living residents and one deceased
    crowd_ao: str
    secret: Persoon
    investigated: Persoon


@pytest.fixture(scope="module")
def scenario(municipality: Municipality) -> Iterator[Scenario]:
    """A copy of the municipality with the rare cases made certain: a crowded address, a deceased,
    a person under geheimhouding and one under investigation."""
    personen = {bsn: dataclasses.replace(p) for bsn, p in municipality.personen.items()}
    living = sorted((p for p in personen.values() if p.overlijdensdatum is None and p.nummeraanduiding_id),
                    key=lambda p: p.bsn)
    na = municipality.nummeraanduidingen[living[0].nummeraanduiding_id or ""]
    for p in living[:11]:
        p.nummeraanduiding_id, p.adresseerbaar_object_id = na.identificatie, na.adresseerbaar_object_id
    deceased = living[10]
    deceased.overlijdensdatum = dt.date(2021, 3, 4)
    secret, investigated = living[20], living[21]
    secret.geheimhouding = 3
    investigated.in_onderzoek = ["naam.geslachtsnaam", "geboorte.datum", "verblijfplaats"]
    data = dataclasses.replace(municipality, personen=personen)
    for served in _serve(data):
        yield Scenario(served, deceased, na.identificatie, na.adresseerbaar_object_id, secret, investigated)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """A problem+json error body; checked against the spec's schema, except the text patterns (see below)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["instance"] == "/haalcentraal/api/brp/personen"
    # The RvIG features prescribe texts such as "De foutieve parameter(s) zijn: fields[0]." and names such as
    # "fields[0]" that the spec's own detail/name/reason patterns do not allow; the simulator follows the
    # features (what the real API sends), so pattern mismatches alone are not failures here.
    schema = response_schema(SPEC, "/personen", "post", status, "application/problem+json")
    errors = [e for e in schema_errors(schema, body) if "does not match" not in e]
    assert not errors, errors
    return body


def invalid(response: httpx.Response) -> list[tuple[str, str, str]]:
    body = problem(response, 400)
    assert body["title"] == PARAMS_TITLE
    assert body["code"] == "paramsValidation"
    assert body["type"] == "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1"
    params = [(p["name"], p["code"], p["reason"]) for p in body["invalidParams"]]
    names = ", ".join(dict.fromkeys(name for name, _, _ in params))
    assert body["detail"] == f"De foutieve parameter(s) zijn: {names}."
    return params


# --- authentication and content negotiation ----------------------------------------------------------


def test_api_key_is_required(brp: Brp) -> None:
    body = {"type": RAADPLEEG, "burgerservicenummer": [brp.living()[0].bsn], "fields": ["burgerservicenummer"]}
    missing = httpx.post(brp.url + "/personen", json=body)
    assert problem(missing, 401)["code"] == "authentication"
    assert "WWW-Authenticate" in missing.headers
    assert_conforms(SPEC, "/personen", "post", missing)
    wrong = httpx.post(brp.url + "/personen", json=body, headers={"X-API-KEY": "stolen"})
    assert problem(wrong, 403)["code"] == "autorisation"  # sic, as the spec spells it
    assert_conforms(SPEC, "/personen", "post", wrong)
    assert brp.post(body).status_code == 200


def test_content_type_and_accept(brp: Brp) -> None:
    body = {"type": RAADPLEEG, "burgerservicenummer": ["999999999"], "fields": ["burgerservicenummer"]}
    raw = httpx.post(brp.url + "/personen", content=b'{"type": "x"}',
                     headers={"X-API-KEY": brp.key, "Content-Type": "text/plain"})
    assert problem(raw, 415)["title"] == "Media Type wordt niet ondersteund."
    assert_conforms(SPEC, "/personen", "post", raw)
    cp1252 = brp.post(body, **{"Content-Type": "application/json; charset=cp1252"})
    assert cp1252.status_code == 415
    assert problem(brp.post(body, Accept="application/xml"), 406)["title"] == \
        "Gevraagde contenttype wordt niet ondersteund."
    assert_conforms(SPEC, "/personen", "post", brp.post(body, Accept="application/xml"))
    assert brp.post(body, Accept="").status_code == 406
    for accept in ("*/*", "application/json; charset=utf-8", "text/html, application/json;q=0.5"):
        assert brp.post(body, Accept=accept).status_code == 200
    ok = brp.post(body, **{"Content-Type": "application/json;charset=utf-8"})
    assert ok.json() == {"type": RAADPLEEG, "personen": []}  # unknown BSNs are simply missing
    malformed = httpx.post(brp.url + "/personen", content=b'{"type": ', headers={
        "X-API-KEY": brp.key, "Content-Type": "application/json"})
    assert problem(malformed, 400)["code"] == "paramsValidation"


# --- raadplegen -----------------------------------------------------------------------------------------


def test_raadpleeg_batch_keeps_order_and_skips_unknown(brp: Brp) -> None:
    picked = [p.bsn for p in brp.living()[5:8]]
    personen = brp.raadpleeg([picked[2], "999999999", picked[0], picked[1], picked[0]], ["burgerservicenummer"])
    assert personen == [{"burgerservicenummer": bsn} for bsn in (picked[2], picked[0], picked[1])]
    twenty = [p.bsn for p in brp.living()[:20]]
    assert len(brp.raadpleeg(twenty, ["burgerservicenummer"])) == 20
    elsewhere = {"type": RAADPLEEG, "burgerservicenummer": picked, "gemeenteVanInschrijving": "0363",
                 "fields": ["burgerservicenummer"]}
    assert brp.personen(elsewhere) == []
    here = {**elsewhere, "gemeenteVanInschrijving": brp.data.gemeentecode}
    assert len(brp.personen(here)) == 3


def test_raadpleeg_full_person(brp: Brp) -> None:
    p = max(brp.living(), key=lambda p: (len(p.partner_bsns), len(p.kind_bsns), p.bsn))
    [persoon] = brp.raadpleeg([p.bsn], [
        "aNummer", "burgerservicenummer", "geslacht", "naam", "geboorte", "leeftijd", "nationaliteiten",
        "verblijfplaats", "gemeenteVanInschrijving", "adressering", "partners", "kinderen", "ouders",
        "datumEersteInschrijvingGBA", "datumInschrijvingInGemeente", "gezag",
    ])
    today = dt.date.today()
    age = today.year - p.geboortedatum.year - ((today.month, today.day) < (p.geboortedatum.month,
                                                                          p.geboortedatum.day))
    assert persoon["leeftijd"] == age
    assert persoon["aNummer"] == p.a_nummer
    assert persoon["geslacht"]["code"] == p.geslacht
    assert persoon["naam"]["voornamen"] == p.voornamen
    assert persoon["naam"]["voorletters"] == "".join(n[0] + "." for n in p.voornamen.split())
    assert persoon["naam"]["volledigeNaam"] == " ".join(filter(None, (p.voornamen, p.voorvoegsel, p.geslachtsnaam)))
    assert persoon["geboorte"]["datum"]["type"] == "Datum"
    assert persoon["geboorte"]["datum"]["datum"] == p.geboortedatum.isoformat()
    assert persoon["geboorte"]["datum"]["langFormaat"].endswith(str(p.geboortedatum.year))
    assert persoon["gemeenteVanInschrijving"] == {"code": brp.data.gemeentecode,
                                                  "omschrijving": brp.data.gemeentenaam}
    assert persoon["nationaliteiten"][0]["type"] == "Nationaliteit"
    assert [k["burgerservicenummer"] for k in persoon.get("kinderen", [])] == p.kind_bsns
    assert [o["burgerservicenummer"] for o in persoon.get("ouders", [])] == p.ouder_bsns
    for partner, bsn in zip(persoon.get("partners", []), p.partner_bsns, strict=True):
        other = brp.data.personen[bsn]
        assert partner["burgerservicenummer"] == bsn
        assert set(partner["naam"]) <= {"voornamen", "voorvoegsel", "geslachtsnaam", "voorletters"}
        assert partner["geboorte"]["datum"]["datum"] == other.geboortedatum.isoformat()
        assert partner["soortVerbintenis"]["code"] in ("H", "P")
    assert "inOnderzoek" not in persoon["naam"] or p.in_onderzoek


def test_verblijfplaats_agrees_with_bag(brp: Brp) -> None:
    people = brp.living()[:20]
    personen = brp.raadpleeg([p.bsn for p in people], ["burgerservicenummer", "verblijfplaats",
                                                       "adressering.adresregel1", "adressering.adresregel2"])
    assert len(personen) == 20
    for persoon, p in zip(personen, people, strict=True):
        na = brp.data.nummeraanduidingen[p.nummeraanduiding_id or ""]
        straat = brp.data.openbare_ruimten[na.openbare_ruimte_id]
        woonplaats = brp.data.woonplaatsen[straat.woonplaats_id]
        vbo = brp.data.verblijfsobjecten[persoon["verblijfplaats"]["adresseerbaarObjectIdentificatie"]]
        plaats = persoon["verblijfplaats"]
        assert plaats["type"] == "Adres"
        assert plaats["nummeraanduidingIdentificatie"] == na.identificatie == vbo.hoofdadres_id
        assert plaats["adresseerbaarObjectIdentificatie"] == p.adresseerbaar_object_id
        assert plaats["datumVan"]["datum"] == p.datum_aanvang_adreshouding.isoformat()
        expected = {"officieleStraatnaam": straat.naam, "korteStraatnaam": straat.korte_naam,
                    "huisnummer": na.huisnummer, "huisletter": na.huisletter,
                    "huisnummertoevoeging": na.huisnummertoevoeging, "postcode": na.postcode,
                    "woonplaats": woonplaats.naam}
        adres = {k: v for k, v in plaats["verblijfadres"].items() if k != "inOnderzoek"}
        assert adres == {k: v for k, v in expected.items() if v is not None}
        assert persoon["adressering"]["adresregel1"].startswith(f"{straat.korte_naam} {na.huisnummer}")
        assert persoon["adressering"]["adresregel2"] == \
            f"{na.postcode[:4]} {na.postcode[4:]}  {woonplaats.naam.upper()}"


# --- fields ---------------------------------------------------------------------------------------------


def test_only_requested_fields(brp: Brp) -> None:
    p = next(p for p in brp.living() if p.partner_bsns and p.voornamen and not p.in_onderzoek
             and not p.geheimhouding)
    assert brp.raadpleeg([p.bsn], ["naam.voornamen"]) == [{"naam": {"voornamen": p.voornamen}}]
    assert brp.raadpleeg([p.bsn], ["partners.burgerservicenummer"]) == [
        {"partners": [{"burgerservicenummer": b} for b in p.partner_bsns]}]
    # any part of a date or code table field returns the whole object
    [geboren] = brp.raadpleeg([p.bsn], ["geboorte.datum.jaar"])
    assert set(geboren) == {"geboorte"}
    assert set(geboren["geboorte"]) == {"datum"}
    assert set(geboren["geboorte"]["datum"]) == {"type", "datum", "langFormaat"}
    assert brp.raadpleeg([p.bsn], ["geslacht.omschrijving"]) == [
        {"geslacht": {"code": p.geslacht, "omschrijving": {"M": "man", "V": "vrouw", "O": "onbekend"}[p.geslacht]}}]
    # polymorphic groups keep their type; the binnenland alias answers under verblijfplaats
    [alias] = brp.raadpleeg([p.bsn], ["verblijfplaatsBinnenland.datumVan"])
    assert set(alias) == {"verblijfplaats"}
    assert set(alias["verblijfplaats"]) == {"type", "datumVan"}
    [nat] = brp.raadpleeg([p.bsn], ["nationaliteiten.nationaliteit.code"])
    assert nat["nationaliteiten"] == [{"type": "Nationaliteit",
                                       "nationaliteit": {"code": "0001", "omschrijving": "Nederlandse"}}]


@pytest.mark.parametrize(("fields", "expected"), [
    (["burgerservicenummer", "bestaatNiet"], [("fields[1]", "fields", "Parameter bevat een niet bestaande veldnaam.")]),
    (["anummer"], [("fields[0]", "fields", "Parameter bevat een niet bestaande veldnaam.")]),
    (["naam.geslachtsnaam.code"], [("fields[0]", "fields", "Parameter bevat een niet bestaande veldnaam.")]),
    (["geheimhoudingPersoonsgegevens"], [("fields[0]", "fields", "Parameter bevat een niet toegestane veldnaam.")]),
    (["naam.inOnderzoek.voornamen", "opschortingBijhouding.reden"], [
        ("fields[0]", "fields", "Parameter bevat een niet toegestane veldnaam."),
        ("fields[1]", "fields", "Parameter bevat een niet toegestane veldnaam.")]),
    (["verblijfplaats.indicatieVastgesteldVerblijftNietOpAdres"],
     [("fields[0]", "fields", "Parameter bevat een niet toegestane veldnaam.")]),
    (["a*nummer"], [("fields[0]", "pattern", r"Waarde voldoet niet aan patroon ^[a-zA-Z0-9\._]{1,200}$.")]),
    ([], [("fields", "minItems", "Array bevat minder dan 1 items.")]),
    ("burgerservicenummer,geslacht", [("fields", "array", "Parameter is geen array.")]),
    (["burgerservicenummer"] * 131, [("fields", "maxItems", "Array bevat meer dan 130 items.")]),
    (None, [("fields", "required", "Parameter is verplicht.")]),
])
def test_fields_validation(brp: Brp, fields: Any, expected: list[tuple[str, str, str]]) -> None:
    body: dict[str, Any] = {"type": RAADPLEEG, "burgerservicenummer": [brp.living()[0].bsn]}
    if fields is not None:
        body["fields"] = fields
    assert invalid(brp.post(body)) == expected


def test_search_types_allow_only_persoon_beperkt_fields(brp: Brp) -> None:
    p = brp.living()[3]
    body = {"type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": p.geslachtsnaam,
            "geboortedatum": p.geboortedatum.isoformat(), "fields": ["burgerservicenummer", "aNummer"]}
    assert invalid(brp.post(body)) == [("fields[1]", "fields", "Parameter bevat een niet bestaande veldnaam.")]
    body["fields"] = ["verblijfplaats"]
    assert invalid(brp.post(body))[0][:2] == ("fields[0]", "fields")
    body["fields"] = ["burgerservicenummer", "naam", "geboorte", "adressering", "geslacht", "leeftijd"]
    [found] = [q for q in brp.personen(body) if q["burgerservicenummer"] == p.bsn]
    assert set(found["geboorte"]) == {"datum"}  # GeboorteBeperkt
    assert "aanduidingNaamgebruik" not in found["naam"]
    assert set(found["adressering"]) <= {"adresregel1", "adresregel2", "inOnderzoek"}
    gezag = {**body, "fields": ["gezag"]}
    assert invalid(brp.post(gezag))[0][:2] == ("fields[0]", "fields")  # only the adresseerbaar object search


# --- request validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "expected"), [
    ({"fields": ["burgerservicenummer"]}, [("type", "required", "Parameter is verplicht.")]),
    ({"type": "zoekmetgeslachtsnaamengeboortedatum", "fields": ["burgerservicenummer"]},
     [("type", "value", "Waarde is geen geldig zoek type.")]),
    ({"type": RAADPLEEG, "fields": ["burgerservicenummer"]},
     [("burgerservicenummer", "required", "Parameter is verplicht.")]),
    ({"type": RAADPLEEG, "burgerservicenummer": [], "fields": ["burgerservicenummer"]},
     [("burgerservicenummer", "minItems", "Array bevat minder dan 1 items.")]),
    ({"type": RAADPLEEG, "burgerservicenummer": "999994086,999994086", "fields": ["burgerservicenummer"]},
     [("burgerservicenummer", "array", "Parameter is geen array.")]),
    ({"type": RAADPLEEG, "burgerservicenummer": ["999999321"] * 21, "fields": ["burgerservicenummer"]},
     [("burgerservicenummer", "maxItems", "Array bevat meer dan 20 items.")]),
    ({"type": RAADPLEEG, "burgerservicenummer": ["1234567890", "123456789", "12345678"],
      "fields": ["burgerservicenummer"]},
     [("burgerservicenummer[0]", "pattern", "Waarde voldoet niet aan patroon ^[0-9]{9}$."),
      ("burgerservicenummer[2]", "pattern", "Waarde voldoet niet aan patroon ^[0-9]{9}$.")]),
    ({"type": RAADPLEEG, "burgerservicenummer": ["999999321"], "gemeenteVanInschrijving": "123",
      "fields": ["burgerservicenummer"]},
     [("gemeenteVanInschrijving", "pattern", "Waarde voldoet niet aan patroon ^[0-9]{4}$.")]),
    ({"type": RAADPLEEG, "burgerservicenummer": ["999999321"], "voornamen": "Pietje",
      "inclusiefOverledenPersonen": True, "fields": ["burgerservicenummer"]},
     [("voornamen", "unknownParam", "Parameter is niet verwacht."),
      ("inclusiefOverledenPersonen", "unknownParam", "Parameter is niet verwacht.")]),
    ({"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "", "huisnummer": "", "fields": ["burgerservicenummer"]},
     [("postcode", "required", "Parameter is verplicht."), ("huisnummer", "required", "Parameter is verplicht.")]),
    ({"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "0628HJ", "huisnummer": "twee",
      "fields": ["burgerservicenummer"]},
     [("postcode", "pattern", "Waarde voldoet niet aan patroon ^[1-9]{1}[0-9]{3}[ ]?[A-Za-z]{2}$."),
      ("huisnummer", "integer", "Waarde is geen geldig getal.")]),
    ({"type": "ZoekMetPostcodeEnHuisnummer", "postcode": "2628HJ", "huisnummer": 100000,
      "huisletter": "1", "inclusiefOverledenPersonen": "geen boolean", "fields": ["burgerservicenummer"]},
     [("huisnummer", "maximum", "Waarde is hoger dan maximum 99999."),
      ("huisletter", "pattern", "Waarde voldoet niet aan patroon ^[a-zA-Z]{1}$."),
      ("inclusiefOverledenPersonen", "boolean", "Waarde is geen boolean.")]),
    ({"type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": "Ma*", "geboortedatum": "1983-02-30",
      "fields": ["burgerservicenummer"]},
     [("geslachtsnaam", "pattern", "Waarde voldoet niet aan patroon "
                                   r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$."),
      ("geboortedatum", "date", "Waarde is geen geldige datum.")]),
    ({"type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving", "straat": "Kerk*", "huisnummer": 1,
      "fields": ["burgerservicenummer"]},
     [("straat", "pattern", "Waarde voldoet niet aan patroon ^[a-zA-Z0-9À-ž \\-\\'\\.]{1,80}$|"
                            "^[a-zA-Z0-9À-ž \\-\\'\\.]{7,79}\\*{1}$|^\\*{1}[a-zA-Z0-9À-ž \\-\\'\\.]{7,79}$."),
      ("gemeenteVanInschrijving", "required", "Parameter is verplicht.")]),
    ({"type": "ZoekMetNummeraanduidingIdentificatie", "nummeraanduidingIdentificatie": "0" * 16,
      "fields": ["burgerservicenummer"]},
     [("nummeraanduidingIdentificatie", "pattern", "Waarde voldoet niet aan patroon ^(?!0{16})[0-9]{16}$.")]),
])
def test_request_validation(brp: Brp, body: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert invalid(brp.post(body)) == expected


# --- zoeken -------------------------------------------------------------------------------------------------


def test_zoek_met_geslachtsnaam_en_geboortedatum(brp: Brp) -> None:
    p = next(p for p in brp.living() if len(p.geslachtsnaam) > 4)
    body = {"type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": p.geslachtsnaam.upper(),
            "geboortedatum": p.geboortedatum.isoformat(), "fields": ["burgerservicenummer", "naam.geslachtsnaam"]}
    expected = sorted(q.bsn for q in brp.living()
                      if q.geboortedatum == p.geboortedatum and q.geslachtsnaam == p.geslachtsnaam)
    found = brp.personen(body)
    assert [q["burgerservicenummer"] for q in found] == expected
    assert all(q["naam"]["geslachtsnaam"] == p.geslachtsnaam for q in found)
    wildcard = brp.personen({**body, "geslachtsnaam": p.geslachtsnaam[:3].lower() + "*"})
    assert p.bsn in {q["burgerservicenummer"] for q in wildcard}
    assert brp.personen({**body, "geslachtsnaam": p.geslachtsnaam[:4]}) == []  # no wildcard: the whole name
    narrowed = brp.personen({**body, "voornamen": p.voornamen.lower(), "geslacht": p.geslacht.lower()})
    assert p.bsn in {q["burgerservicenummer"] for q in narrowed}
    other = "V" if p.geslacht == "M" else "M"
    assert p.bsn not in {q["burgerservicenummer"] for q in brp.personen({**body, "geslacht": other})}


def test_zoek_met_naam_en_gemeente(brp: Brp) -> None:
    p = brp.living()[11]
    body = {"type": "ZoekMetNaamEnGemeenteVanInschrijving", "geslachtsnaam": p.geslachtsnaam,
            "voornamen": p.voornamen, "gemeenteVanInschrijving": brp.data.gemeentecode,
            "fields": ["burgerservicenummer"]}
    assert p.bsn in {q["burgerservicenummer"] for q in brp.personen(body)}
    assert brp.personen({**body, "gemeenteVanInschrijving": "0363"}) == []


def test_zoek_met_postcode_en_huisnummer(brp: Brp) -> None:
    p = brp.living()[13]
    na = brp.data.nummeraanduidingen[p.nummeraanduiding_id or ""]
    expected = sorted(q.bsn for q in brp.living()
                      if (a := brp.data.nummeraanduidingen.get(q.nummeraanduiding_id or ""))
                      and (a.postcode, a.huisnummer) == (na.postcode, na.huisnummer))
    body = {"type": "ZoekMetPostcodeEnHuisnummer", "postcode": f"{na.postcode[:4]} {na.postcode[4:].lower()}",
            "huisnummer": na.huisnummer, "fields": ["burgerservicenummer"]}
    if len(expected) > 10:
        assert problem(brp.post(body), 400)["code"] == "tooManyResults"
        return
    assert [q["burgerservicenummer"] for q in brp.personen(body)] == expected
    if na.huisnummertoevoeging:
        narrowed = brp.personen({**body, "huisnummertoevoeging": na.huisnummertoevoeging.lower()})
        assert p.bsn in {q["burgerservicenummer"] for q in narrowed}
        assert len(narrowed) <= len(expected)


def test_zoek_met_straat_huisnummer_en_gemeente(brp: Brp) -> None:
    p = next(q for q in brp.living() if len(brp.data.openbare_ruimten[
        brp.data.nummeraanduidingen[q.nummeraanduiding_id or ""].openbare_ruimte_id].naam) >= 8)
    na = brp.data.nummeraanduidingen[p.nummeraanduiding_id or ""]
    straat = brp.data.openbare_ruimten[na.openbare_ruimte_id].naam
    body = {"type": "ZoekMetStraatHuisnummerEnGemeenteVanInschrijving", "straat": straat.upper(),
            "huisnummer": na.huisnummer, "gemeenteVanInschrijving": brp.data.gemeentecode,
            "fields": ["burgerservicenummer"]}
    for filter_ in (straat.upper(), straat[:7].lower() + "*", "*" + straat[-7:]):
        assert p.bsn in {q["burgerservicenummer"] for q in brp.personen({**body, "straat": filter_})}
    assert brp.personen({**body, "huisnummer": 99999}) == []


def test_zoek_met_nummeraanduiding_en_adresseerbaar_object(brp: Brp) -> None:
    p = brp.living()[17]
    expected = sorted(q.bsn for q in brp.living() if q.nummeraanduiding_id == p.nummeraanduiding_id)
    na = {"type": "ZoekMetNummeraanduidingIdentificatie", "nummeraanduidingIdentificatie": p.nummeraanduiding_id,
          "fields": ["burgerservicenummer"]}
    assert [q["burgerservicenummer"] for q in brp.personen(na)] == expected
    ao = {"type": "ZoekMetAdresseerbaarObjectIdentificatie",
          "adresseerbaarObjectIdentificatie": p.adresseerbaar_object_id, "fields": ["burgerservicenummer", "gezag"]}
    assert [q["burgerservicenummer"] for q in brp.personen(ao)] == expected
    assert brp.personen({**na, "nummeraanduidingIdentificatie": "0999209999999999"}) == []


def test_gezag_of_a_minor(brp: Brp) -> None:
    today = dt.date.today()
    minor = next((p for p in brp.living() if p.ouder_bsns and today.year - p.geboortedatum.year < 17), None)
    if minor is None:
        pytest.skip("no minor with parents in the test municipality")
    [persoon] = brp.raadpleeg([minor.bsn], ["gezag"])
    [relatie] = persoon["gezag"]
    assert relatie["minderjarige"]["burgerservicenummer"] == minor.bsn
    gezaghebbenden = [o["burgerservicenummer"] for o in relatie.get("ouders", [relatie.get("ouder")])]
    assert set(gezaghebbenden) <= set(minor.ouder_bsns)
    [ouder] = brp.raadpleeg([gezaghebbenden[0]], ["gezag"])
    assert minor.bsn in {r["minderjarige"]["burgerservicenummer"] for r in ouder["gezag"]}


# --- automatically delivered fields, deceased persons and the result limit ----------------------------


def test_deceased_only_found_when_asked(scenario: Scenario) -> None:
    brp, p = scenario.brp, scenario.deceased
    body = {"type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": p.geslachtsnaam,
            "geboortedatum": p.geboortedatum.isoformat(), "fields": ["burgerservicenummer", "leeftijd"]}
    assert p.bsn not in {q.get("burgerservicenummer") for q in brp.personen(body)}
    found = {q["burgerservicenummer"]: q for q in brp.personen({**body, "inclusiefOverledenPersonen": True})}
    suspended = {"datum": {"type": "Datum", "datum": "2021-03-04", "langFormaat": "4 maart 2021"},
                 "reden": {"code": "O", "omschrijving": "overlijden"}}
    assert found[p.bsn] == {"burgerservicenummer": p.bsn, "opschortingBijhouding": suspended}  # no leeftijd
    [raadpleeg] = brp.raadpleeg([p.bsn], ["overlijden.datum", "leeftijd"])  # raadplegen finds the deceased
    assert raadpleeg["overlijden"]["datum"]["datum"] == "2021-03-04"
    assert raadpleeg["opschortingBijhouding"]["reden"]["code"] == "O"
    assert "leeftijd" not in raadpleeg


def test_more_than_ten_results_is_an_error(scenario: Scenario) -> None:
    brp = scenario.brp
    body: dict[str, Any] = {"type": "ZoekMetAdresseerbaarObjectIdentificatie",
                            "adresseerbaarObjectIdentificatie": scenario.crowd_ao, "fields": ["burgerservicenummer"]}
    assert len(brp.personen(body)) == 10  # the deceased resident is not counted
    body["inclusiefOverledenPersonen"] = True
    tomany = problem(brp.post(body), 400)
    assert tomany == {
        "type": "https://datatracker.ietf.org/doc/html/rfc7231#section-6.5.1", "title": "Teveel zoekresultaten.",
        "status": 400, "detail": "Meer dan maximum van 10 zoekresultaten gevonden. Verfijn de zoekopdracht.",
        "code": "tooManyResults", "instance": "/haalcentraal/api/brp/personen"}
    assert_conforms(SPEC, "/personen", "post", brp.post(body))
    na = {"type": "ZoekMetNummeraanduidingIdentificatie", "nummeraanduidingIdentificatie": scenario.crowd_na,
          "inclusiefOverledenPersonen": True, "fields": ["burgerservicenummer"]}
    assert problem(brp.post(na), 400)["code"] == "tooManyResults"


def test_geheimhouding_is_delivered_unasked(scenario: Scenario) -> None:
    brp, p = scenario.brp, scenario.secret
    assert brp.raadpleeg([p.bsn], ["burgerservicenummer"]) == [
        {"burgerservicenummer": p.bsn, "geheimhoudingPersoonsgegevens": True}]
    search = {"type": "ZoekMetNummeraanduidingIdentificatie", "nummeraanduidingIdentificatie": p.nummeraanduiding_id,
              "fields": ["burgerservicenummer"]}
    found = {q["burgerservicenummer"]: q for q in brp.personen(search)}
    assert found[p.bsn]["geheimhoudingPersoonsgegevens"] is True
    assert all("geheimhoudingPersoonsgegevens" not in q for bsn, q in found.items()
               if not brp.data.personen[bsn].geheimhouding)


def test_in_onderzoek_only_for_requested_fields(scenario: Scenario) -> None:
    brp, p = scenario.brp, scenario.investigated
    [unrelated] = brp.raadpleeg([p.bsn], ["naam.voornamen", "geslacht"])
    assert "inOnderzoek" not in unrelated["naam"]
    assert "inOnderzoek" not in unrelated
    [persoon] = brp.raadpleeg([p.bsn], ["naam", "leeftijd", "geboorte.datum", "verblijfplaats.verblijfadres.postcode",
                                        "adressering.adresregel1", "gemeenteVanInschrijving"])
    naam = persoon["naam"]["inOnderzoek"]
    assert naam["geslachtsnaam"] is True
    assert naam["volledigeNaam"] is True  # derived from the geslachtsnaam
    assert "voornamen" not in naam
    assert naam["datumIngangOnderzoek"]["type"] == "Datum"
    assert persoon["inOnderzoek"]["leeftijd"] is True  # derived from the geboortedatum
    assert persoon["inOnderzoek"]["datumIngangOnderzoekPersoon"]["type"] == "Datum"
    assert persoon["inOnderzoek"]["gemeenteVanInschrijving"] is True  # same GBA category as verblijfplaats
    assert "datumIngangOnderzoekGemeente" in persoon["inOnderzoek"]
    assert persoon["geboorte"]["inOnderzoek"]["datum"] is True
    assert persoon["verblijfplaats"]["verblijfadres"]["inOnderzoek"]["postcode"] is True
    assert persoon["adressering"]["inOnderzoek"]["adresregel1"] is True
    assert "datumIngangOnderzoekVerblijfplaats" in persoon["adressering"]["inOnderzoek"]
    search = {"type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": p.geslachtsnaam,
              "geboortedatum": p.geboortedatum.isoformat(), "fields": ["burgerservicenummer", "geboorte"]}
    found = {q["burgerservicenummer"]: q for q in brp.personen(search)}
    assert found[p.bsn]["geboorte"]["inOnderzoek"]["datum"] is True
