"""The Open Klant 2 Klantinteracties simulator against the 0.9.0 OAS and Open Klant's DRF behaviour."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from demo.model import Municipality, Partij
from demo.runner import Municipal
from tests.oas import assert_conforms, without_nulls

SPEC = "klantinteracties/open-klant/klantinteracties/openapi.yaml"
# drf-spectacular writes a nullable relation as ``{allOf: [$ref], nullable: true}``; read strictly (OAS 3.0.3:
# nullable needs a sibling ``type``) that forbids the null Open Klant really sends, so those nulls are left
# out of the schema check. Every other field is checked as the OAS says.
NULLABLE_RELATIONS = frozenset({"bezoekadres", "correspondentieadres", "subIdentificatorVan", "voorkeursRekeningnummer",
                                "voorkeursDigitaalAdres", "wasKlantcontact", "verstrektDoorBetrokkene", "wasPartij"})


@pytest.fixture
def client(demo: Municipal) -> Iterator[httpx.Client]:
    token = demo.config["sources"]["klantinteracties"]["token"]
    with httpx.Client(base_url=demo.urls["klantinteracties"], headers={"Authorization": f"Token {token}"}) as c:
        yield c


def get(client: httpx.Client, path: str, spec_path: str | None = None, **params: Any) -> dict[str, Any]:
    """GET that must succeed and, when ``spec_path`` is given, match the official response schema."""
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["API-version"] == "0.9.0"
    if spec_path:
        cleaned = httpx.Response(200, json=without_nulls(response.json(), NULLABLE_RELATIONS))
        assert_conforms(SPEC, spec_path, "get", cleaned)
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A vng-api-common error body: type under /ref/fouten/, a urn:uuid instance."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert "/ref/fouten/" in body["type"]
    assert body["instance"].startswith("urn:uuid:")
    return body


def zgw_headers(demo: Municipal) -> dict[str, str]:
    zaken = demo.config["sources"]["zaken"]
    claims = {"iss": zaken["client_id"], "client_id": zaken["client_id"], "iat": int(time.time()),
              "user_id": "test", "user_representation": "test"}
    return {"Authorization": f"Bearer {jwt.encode(claims, zaken['secret'], algorithm='HS256')}",
            "Accept-Crs": "EPSG:4326"}


def a_partij_with_zaak_contact(data: Municipality) -> Partij:
    for kc in data.klantcontacten.values():
        if kc.zaak_uuid:
            return data.partijen[kc.partij_uuid]
    raise AssertionError("the demo data has no klantcontact about a zaak")


# --- authentication -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "code", "detail"), [
    (None, "not_authenticated", "Authenticatiegegevens zijn niet opgegeven."),
    ("Bearer demo-openklant-token-not-for-production", "not_authenticated",
     "Authenticatiegegevens zijn niet opgegeven."),
    ("Token", "authentication_failed", "Ongeldige token header. Geen gegevens verstrekt."),
    ("Token wrong", "authentication_failed", "Ongeldige token."),
])
def test_token_refusals_are_401_with_a_challenge(demo: Municipal, header: str | None, code: str, detail: str) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(demo.urls["klantinteracties"] + "/partijen", headers=headers)
    body = problem(response, 401, code)
    assert body["detail"] == detail
    assert response.headers["WWW-Authenticate"] == "Token"
    assert response.headers["API-version"] == "0.9.0"


def test_token_keyword_is_case_insensitive(demo: Municipal) -> None:
    token = demo.config["sources"]["klantinteracties"]["token"]
    response = httpx.get(demo.urls["klantinteracties"] + "/partijen", headers={"Authorization": f"token {token}"})
    assert response.status_code == 200


# --- partijen -----------------------------------------------------------------------------------------


def test_partij_by_bsn_is_the_brp_person_at_the_bag_address(client: httpx.Client, municipality: Municipality) -> None:
    partij = a_partij_with_zaak_contact(municipality)
    body = get(client, "/partijen", "/partijen", partijIdentificator__codeSoortObjectId="bsn",
               partijIdentificator__objectId=partij.bsn)
    assert body["count"] == 1
    result = body["results"][0]
    assert result["uuid"] == partij.uuid
    assert result["soortPartij"] == "persoon"
    assert result["partijIdentificatoren"][0]["partijIdentificator"] == {
        "codeObjecttype": "natuurlijk_persoon", "codeSoortObjectId": "bsn", "objectId": partij.bsn,
        "codeRegister": "brp"}
    persoon = municipality.personen[partij.bsn]
    assert result["bezoekadres"]["nummeraanduidingId"] == persoon.nummeraanduiding_id
    assert result["bezoekadres"]["nummeraanduidingId"] in municipality.nummeraanduidingen
    assert result["partijIdentificatie"]["contactnaam"]["achternaam"] == persoon.geslachtsnaam
    assert result["_expand"] == {}  # list items of expandable resources always carry it


def test_partij_filters_combine_and_unknown_values_find_nothing(client: httpx.Client,
                                                               municipality: Municipality) -> None:
    partij = next(iter(municipality.partijen.values()))
    found = get(client, "/partijen", bezoekadresNummeraanduidingId=partij.nummeraanduiding_id, soortPartij="persoon")
    assert partij.uuid in {r["uuid"] for r in found["results"]}
    assert all(r["bezoekadres"]["nummeraanduidingId"] == partij.nummeraanduiding_id for r in found["results"])
    assert get(client, "/partijen", partijIdentificator__objectId="000000000")["count"] == 0
    assert get(client, "/partijen", partijIdentificator__codeRegister="hr")["count"] == 0
    assert get(client, "/partijen", soortPartij="organisatie")["count"] == 0
    # empty values and unknown parameters are ignored, as django-filter does
    assert get(client, "/partijen", soortPartij="", bsn="123")["count"] == len(municipality.partijen)


def test_invalid_filter_values_are_400_with_invalid_params(client: httpx.Client) -> None:
    response = client.get("/partijen", params={"soortPartij": "mens", "vertegenwoordigdePartij__uuid": "abc"})
    body = problem(response, 400, "invalid")
    assert body["title"] == "Ongeldige invoer."
    assert {(p["name"], p["code"]) for p in body["invalidParams"]} == {
        ("soortPartij", "invalid_choice"), ("vertegenwoordigdePartij__uuid", "invalid")}
    response = client.get("/klantcontacten", params={"plaatsgevondenOp": "gisteren"})
    assert problem(response, 400, "invalid")["invalidParams"][0]["name"] == "plaatsgevondenOp"
    response = client.get("/betrokkenen", params={"wasPartij__url": "geen-url"})
    assert problem(response, 400, "invalid")["invalidParams"][0]["reason"] == "Voer een geldige URL in."


def test_partij_detail_and_expand(client: httpx.Client, municipality: Municipality) -> None:
    partij = a_partij_with_zaak_contact(municipality)
    plain = get(client, f"/partijen/{partij.uuid}", "/partijen/{uuid}")
    assert "_expand" not in plain  # a detail only carries _expand when something was expanded
    body = get(client, f"/partijen/{partij.uuid}", "/partijen/{uuid}",
               expand="betrokkenen,betrokkenen.hadKlantcontact,digitaleAdressen,categorieRelaties")
    expanded = body["_expand"]
    contacts = [kc for kc in municipality.klantcontacten.values() if kc.partij_uuid == partij.uuid]
    assert [b["uuid"] for b in expanded["betrokkenen"]] == [kc.betrokkene_uuid for kc in contacts]
    assert [b["_expand"]["hadKlantcontact"]["uuid"] for b in expanded["betrokkenen"]] == [kc.uuid for kc in contacts]
    assert expanded["digitaleAdressen"][0]["adres"] == partij.emailadres
    assert expanded["categorieRelaties"] == []  # an empty to-many relation expands to []


def test_expand_rules(client: httpx.Client, municipality: Municipality) -> None:
    partij = next(iter(municipality.partijen.values()))
    # a dotted path without its parent expands nothing
    assert "_expand" not in get(client, f"/partijen/{partij.uuid}", expand="betrokkenen.hadKlantcontact")
    body = problem(client.get("/partijen", params={"expand": "betrokkenen,zaken"}), 400, "invalid")
    assert body["invalidParams"] == [{"name": "expand", "code": "invalid_choice",
                                      "reason": "Selecteer een geldige keuze. zaken is geen beschikbare keuze."}]
    # non-expandable resources have no _expand at all
    assert "_expand" not in get(client, "/onderwerpobjecten", pageSize=1)["results"][0]


# --- klantcontacten -----------------------------------------------------------------------------------


def test_klantcontacten_about_a_zaak_with_expansions(client: httpx.Client, municipality: Municipality) -> None:
    kc = next(k for k in municipality.klantcontacten.values() if k.zaak_uuid)
    assert kc.zaak_uuid in municipality.zaken
    body = get(client, "/klantcontacten", "/klantcontacten",
               onderwerpobject__onderwerpobjectidentificatorObjectId=kc.zaak_uuid,
               expand="hadBetrokkenen,hadBetrokkenen.wasPartij,gingOverOnderwerpobjecten,omvatteBijlagen")
    expected = {k.uuid for k in municipality.klantcontacten.values() if k.zaak_uuid == kc.zaak_uuid}
    assert {r["uuid"] for r in body["results"]} == expected
    result = next(r for r in body["results"] if r["uuid"] == kc.uuid)
    assert result["kanaal"] == kc.kanaal
    assert result["indicatieContactGelukt"] == kc.indicatie_contact_gelukt
    assert result["plaatsgevondenOp"].endswith(("+01:00", "+02:00"))  # server-local time with offset
    betrokkene = result["_expand"]["hadBetrokkenen"][0]
    assert betrokkene["uuid"] == kc.betrokkene_uuid
    assert betrokkene["_expand"]["wasPartij"]["uuid"] == kc.partij_uuid
    onderwerp = result["_expand"]["gingOverOnderwerpobjecten"][0]["onderwerpobjectidentificator"]
    assert onderwerp == {"objectId": kc.zaak_uuid, "codeObjecttype": "zaak", "codeRegister": "open-zaak",
                         "codeSoortObjectId": "uuid"}
    assert result["_expand"]["omvatteBijlagen"] == []


def test_klantcontacten_filters(client: httpx.Client, municipality: Municipality) -> None:
    kc = next(iter(municipality.klantcontacten.values()))
    by_betrokkene = get(client, "/klantcontacten", hadBetrokkene__uuid=kc.betrokkene_uuid)
    assert [r["uuid"] for r in by_betrokkene["results"]] == [kc.uuid]
    betrokkene_url = f"{client.base_url}/betrokkenen/{kc.betrokkene_uuid}"
    assert get(client, "/klantcontacten", hadBetrokkene__url=betrokkene_url)["count"] == 1
    partij = municipality.partijen[kc.partij_uuid]
    by_bsn = get(client, "/klantcontacten", hadBetrokkene__wasPartij__partijIdentificator__objectId=partij.bsn)
    assert {r["uuid"] for r in by_bsn["results"]} == {
        k.uuid for k in municipality.klantcontacten.values() if k.partij_uuid == partij.uuid}
    telefoon = get(client, "/klantcontacten", kanaal="telefoon", pageSize=500)
    assert telefoon["count"] == sum(k.kanaal == "telefoon" for k in municipality.klantcontacten.values())
    mislukt = get(client, "/klantcontacten", indicatieContactGelukt="false", pageSize=500)
    assert mislukt["count"] == sum(not k.indicatie_contact_gelukt for k in municipality.klantcontacten.values())


# --- betrokkenen, onderwerpobjecten, identificatoren, digitale adressen -------------------------------


def test_betrokkenen_by_partij(client: httpx.Client, municipality: Municipality) -> None:
    partij = a_partij_with_zaak_contact(municipality)
    body = get(client, "/betrokkenen", "/betrokkenen", wasPartij__uuid=partij.uuid)
    expected = [kc.betrokkene_uuid for kc in reversed(municipality.klantcontacten.values())
                if kc.partij_uuid == partij.uuid]
    assert [r["uuid"] for r in body["results"]] == expected  # newest first
    detail = get(client, f"/betrokkenen/{expected[0]}", "/betrokkenen/{uuid}", expand="digitaleAdressen")
    assert detail["wasPartij"]["uuid"] == partij.uuid
    assert detail["_expand"] == {"digitaleAdressen": []}
    problem(client.get("/betrokkenen", params={"wasPartij__uuid": "nope"}), 400, "invalid")


def test_onderwerpobjecten(client: httpx.Client, municipality: Municipality) -> None:
    kc = next(k for k in municipality.klantcontacten.values() if k.onderwerpobject_uuid)
    body = get(client, "/onderwerpobjecten", "/onderwerpobjecten", onderwerpobjectidentificatorObjectId=kc.zaak_uuid)
    assert kc.onderwerpobject_uuid in {r["uuid"] for r in body["results"]}
    detail = get(client, f"/onderwerpobjecten/{kc.onderwerpobject_uuid}", "/onderwerpobjecten/{uuid}")
    assert detail["klantcontact"]["uuid"] == kc.uuid
    assert detail["wasKlantcontact"] is None
    assert get(client, "/onderwerpobjecten")["count"] == sum(
        1 for k in municipality.klantcontacten.values() if k.onderwerpobject_uuid)


def test_partij_identificatoren(client: httpx.Client, municipality: Municipality) -> None:
    partij = next(iter(municipality.partijen.values()))
    body = get(client, "/partij-identificatoren", "/partij-identificatoren", partijIdentificatorObjectId=partij.bsn)
    assert [r["uuid"] for r in body["results"]] == [partij.identificator_uuid]
    detail = get(client, f"/partij-identificatoren/{partij.identificator_uuid}", "/partij-identificatoren/{uuid}")
    assert detail["identificeerdePartij"]["uuid"] == partij.uuid
    response = client.get("/partij-identificatoren", params={"partijIdentificatorCodeRegister": "BRP"})
    assert problem(response, 400, "invalid")["invalidParams"][0]["code"] == "invalid_choice"


def test_digitaal_adres_of_a_partij(client: httpx.Client, municipality: Municipality) -> None:
    partij = next(iter(municipality.partijen.values()))
    partij_body = get(client, f"/partijen/{partij.uuid}")
    adres_uuid = partij_body["voorkeursDigitaalAdres"]["uuid"]
    detail = get(client, f"/digitaleadressen/{adres_uuid}", "/digitaleadressen/{uuid}")
    assert detail["adres"] == partij.emailadres
    assert detail["verstrektDoorPartij"]["uuid"] == partij.uuid
    found = get(client, "/digitaleadressen", "/digitaleadressen", verstrektDoorPartij__uuid=partij.uuid)
    assert [r["uuid"] for r in found["results"]] == [adres_uuid]


# --- paging, not found, methods -----------------------------------------------------------------------


def test_paging_links_and_limits(client: httpx.Client, municipality: Municipality) -> None:
    first = get(client, "/klantcontacten", pageSize=5, kanaal="")
    assert first["count"] == len(municipality.klantcontacten)
    assert first["previous"] is None
    nxt = urlsplit(first["next"])
    assert nxt.scheme == "http"
    assert nxt.query == "kanaal=&page=2&pageSize=5"  # DRF re-encodes with sorted keys
    second = client.get(first["next"]).json()
    assert urlsplit(second["previous"]).query == "kanaal=&pageSize=5"  # page 2 links back without page=
    third = client.get(second["next"]).json()
    assert parse_qs(urlsplit(third["previous"]).query)["page"] == ["2"]
    numbers = [r["nummer"] for r in first["results"] + second["results"]]
    assert numbers == sorted(numbers, reverse=True)  # newest first
    assert len(get(client, "/klantcontacten", pageSize=100000)["results"]) == min(500, len(municipality.klantcontacten))
    assert len(get(client, "/klantcontacten", pageSize="veel")["results"]) == min(100, len(municipality.klantcontacten))
    for page in ("99", "0", "twee"):
        body = problem(client.get("/klantcontacten", params={"page": page}), 404, "not_found")
        assert body["detail"] == "Ongeldige pagina."
    assert get(client, "/klantcontacten", page="last", pageSize=100)["next"] is None


def test_unknown_and_malformed_ids_trailing_slash_and_methods(client: httpx.Client) -> None:
    body = problem(client.get("/partijen/00000000-0000-4000-8000-000000000000"), 404, "not_found")
    assert body["title"] == body["detail"] == "Niet gevonden."
    problem(client.get("/partijen/geen-uuid"), 404, "not_found")
    problem(client.get("/partijen/"), 404, "not_found")
    body = problem(client.delete("/klantcontacten"), 405, "method_not_allowed")
    assert body["detail"] == 'Methode "DELETE" niet toegestaan.'
    assert body["title"] == 'Methode "{method}" niet toegestaan.'  # vng-api-common shows the raw template


@pytest.mark.parametrize("path", ["/partijen", "/partij-identificatoren", "/digitaleadressen", "/klantcontacten",
                                  "/betrokkenen", "/onderwerpobjecten"])
def test_every_list_and_detail_conforms(client: httpx.Client, path: str) -> None:
    body = get(client, path, path, pageSize=50)
    assert body["count"] > 0
    get(client, urlsplit(body["results"][0]["url"]).path.split("/api/v1", 1)[1], path + "/{uuid}")


def test_links_resolve_in_the_other_sources(client: httpx.Client, demo: Municipal, municipality: Municipality) -> None:
    """The onderwerpobject's zaak uuid is a zaak in the Zaken API; the bezoekadres a BAG address."""
    kc = next(k for k in municipality.klantcontacten.values() if k.zaak_uuid)
    ow = get(client, f"/onderwerpobjecten/{kc.onderwerpobject_uuid}")["onderwerpobjectidentificator"]
    zaak = httpx.get(f"{demo.urls['zaken']}/zaken/{ow['objectId']}", headers=zgw_headers(demo))
    assert zaak.status_code == 200, zaak.text
    assert zaak.json()["uuid"] == kc.zaak_uuid
    partij = get(client, f"/partijen/{kc.partij_uuid}")
    bag = demo.config["sources"]["bag"]
    adres = httpx.get(f"{demo.urls['bag']}/adressen/{partij['bezoekadres']['nummeraanduidingId']}",
                      headers={bag["header"]: bag["key"]})
    assert adres.status_code == 200, adres.text
    assert adres.json()["huisnummer"] == partij["bezoekadres"]["huisnummer"]
