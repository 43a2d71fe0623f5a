"""The Open Zaak simulator (Zaken, Catalogi, Documenten, Besluiten on one host) over real HTTP.

Responses are checked against the official OAS: Zaken 1.5.1 and, for the APIs Open Zaak serves in older
versions, the nearest specs shipped (Catalogi 1.3.3, Documenten 1.7.0, Besluiten 1.1.0). Open Zaak's known
deviations (a null or empty string where the OAS wants a URI, e-mail, enum or pattern) are asserted to be
there and then normalised away, so everything else is checked against the schema.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from demo.model import Municipality, Zaak
from demo.notificaties import NotificatiesSimulator
from demo.runner import Municipal, free_port, running_in_thread, with_port
from demo.simulator import load_config
from demo.zgw import ZgwSimulator
from demo.zgw_profile import OPENZAAK, STANDARD, with_profile
from tests.oas import assert_conforms, official

ZRC = "zgw/zaken-api-1.5.1/openapi.yaml"
ZTC = "zgw/standaard/catalogi/ztc/1.3.x/1.3.3/openapi.yaml"
DRC = "zgw/standaard/documenten/drc/1.7.x/1.7.0/openapi.yaml"
BRC = "zgw/standaard/besluiten/brc/1.1.0/openapi.yaml"
CRS = {"Accept-Crs": "EPSG:4326"}
WRITE_CRS = {"Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}
# (key, value) pairs Open Zaak answers where the OAS wants something else; removed before schema checks
DEVIATIONS: dict[str, Any] = {
    "gezetdoor": None, "zaakobjecttype": None, "objectTypeOverige": "", "emailadres": "",
    "contactpersoonBeheerEmailadres": "", "vervalreden": "", "vervalredenWeergave": "",
    "verlenging": {"reden": "", "duur": None}, "ondertekening": {"soort": "", "datum": None},
    "integriteit": {"algoritme": "", "waarde": "", "datum": None},
    # not Open Zaak's doing: the OAS marks these nullable beside an allOf, which OAS 3.0 validators ignore
    "objectTypeOverigeDefinitie": None, "subVerblijfBuitenland": None, "zaakgeometrie": None,
}


@pytest.fixture(scope="module")
def world(municipality: Municipality) -> Iterator[Municipal]:
    """This simulator and the Notificaties one it publishes to, on free ports of their own."""
    config = load_config()
    zgw_port, nrc_port = free_port(), free_port()
    for name in ZgwSimulator.serves:
        config["sources"][name]["url"] = with_port(config["sources"][name]["url"], zgw_port)
    config["sources"]["notificaties"]["url"] = with_port(config["sources"]["notificaties"]["url"], nrc_port)
    urls = {name: str(e["url"]) for name, e in config["sources"].items()}
    world = Municipal(data=municipality, config=config)
    zgw = ZgwSimulator(municipality, config, urls)
    world.simulators.update({name: zgw for name in zgw.serves})
    world.simulators["notificaties"] = NotificatiesSimulator(municipality, config, urls)
    with running_in_thread(world) as running:
        yield running


@pytest.fixture(scope="module")
def sim(world: Municipal) -> ZgwSimulator:
    zgw = world.simulators["zaken"]
    assert isinstance(zgw, ZgwSimulator)
    return zgw


def token(world: Municipal, iat: float | None = None, secret: str | None = None) -> str:
    entry = world.config["sources"]["zaken"]
    claims = {"iss": "test", "iat": int(time.time() if iat is None else iat), "client_id": entry["client_id"],
              "user_id": "test", "user_representation": "Test"}
    return jwt.encode(claims, secret or entry["secret"], algorithm="HS256")


@pytest.fixture(scope="module")
def client(world: Municipal) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {token(world)}"}) as c:
        yield c


@pytest.fixture(scope="module")
def anon(world: Municipal) -> Iterator[httpx.Client]:
    """A client without credentials (one client: ``httpx.get`` builds a TLS context on every call)."""
    with httpx.Client() as c:
        yield c


@pytest.fixture
def zrc(world: Municipal) -> str:
    return world.urls["zaken"]


@pytest.fixture
def ztc(world: Municipal) -> str:
    return world.urls["catalogi"]


@pytest.fixture
def drc(world: Municipal) -> str:
    return world.urls["documenten"]


@pytest.fixture
def brc(world: Municipal) -> str:
    return world.urls["besluiten"]


def normalised(value: Any) -> Any:
    """``value`` without Open Zaak's known deviations, at any depth."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if not (k in DEVIATIONS and v == DEVIATIONS[k])}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def conforms(spec: str, path: str, response: httpx.Response, method: str = "get") -> None:
    cleaned = httpx.Response(response.status_code, headers={"content-type": response.headers["content-type"]},
                             json=normalised(response.json()))
    assert_conforms(spec, path, method, cleaned)


def ok(response: httpx.Response, version: str = "1.5.1") -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["API-version"] == version
    return response.json()


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["instance"].startswith("urn:uuid:")
    assert body["type"].endswith("/")
    if code:
        assert body["code"] == code
    return body


def invalid_params(response: httpx.Response) -> list[dict[str, str]]:
    params: list[dict[str, str]] = problem(response, 400, "invalid")["invalidParams"]
    return params


def newest(municipality: Municipality) -> Zaak:
    return list(municipality.zaken.values())[-1]


def zaak_with(municipality: Municipality, attr: str) -> Zaak:
    return next(z for z in reversed(municipality.zaken.values()) if getattr(z, attr))


# --- authentication ----------------------------------------------------------------------------------


@pytest.mark.parametrize("api_path", ["zaken:/statussen", "catalogi:/zaaktypen", "documenten:/objectinformatieobjecten",
                                      "besluiten:/besluiten"])
def test_every_api_refuses_bad_tokens_with_403(world: Municipal, anon: httpx.Client, api_path: str) -> None:
    api, path = api_path.split(":")
    url = world.urls[api] + path
    for missing in ({}, {"Authorization": "Token abc"}):  # another scheme counts as no credentials at all
        body = problem(anon.get(url, headers=missing), 403, "not_authenticated")
        assert body["detail"] == "Authenticatiegegevens zijn niet opgegeven."
    for header in ("Bearer not-a-jwt", f"Bearer {token(world, secret='a-wrong-secret-of-sufficient-length')}",
                   f"Bearer {token(world, iat=time.time() - 3601)}"):
        body = problem(anon.get(url, headers={"Authorization": header}), 403, "permission_denied")
        assert body["title"] == "U heeft geen toestemming om deze actie uit te voeren."
    assert anon.get(url, headers={"Authorization": f"Bearer {token(world, iat=time.time() - 3590)}"}).status_code == 200


def test_refusal_conforms_to_fout(world: Municipal, anon: httpx.Client) -> None:
    response = anon.get(world.urls["zaken"] + "/zaken", headers=CRS)
    assert response.headers["API-version"] == "1.5.1"
    conforms(ZRC, "/zaken", response)


# --- headers: CRS, API-version, ETag -----------------------------------------------------------------


def test_accept_crs_is_required_where_the_oas_says(client: httpx.Client, zrc: str,
                                                   municipality: Municipality) -> None:
    detail = f"{zrc}/zaken/{newest(municipality).uuid}"
    zoek = client.post(f"{zrc}/zaken/_zoek", json={"identificatie": "x"}, headers={"Content-Crs": "EPSG:4326"})
    for response in (client.get(f"{zrc}/zaken"), client.get(detail), zoek):
        assert problem(response, 412, "precondition_failed")["detail"] == "'Accept-Crs' header ontbreekt"
    conforms(ZRC, "/zaken", client.get(f"{zrc}/zaken"))
    assert problem(client.get(detail, headers={"Accept-Crs": "EPSG:28992"}), 406, "not_acceptable")["detail"] == (
        "CRS 'EPSG:28992' is niet ondersteund")
    assert problem(client.post(f"{zrc}/zaken/_zoek", json={"identificatie": "x"}, headers=CRS), 412)["detail"] == (
        "'Content-Crs' header ontbreekt")
    for response in (client.get(f"{zrc}/zaken", headers=CRS), client.get(detail, headers=CRS)):
        assert response.headers["Content-Crs"] == "EPSG:4326"
    statussen = client.get(f"{zrc}/statussen")  # sub-resources have no geometry and want no CRS
    assert statussen.status_code == 200
    assert "Content-Crs" not in statussen.headers


def test_each_api_names_its_own_version(client: httpx.Client, anon: httpx.Client, world: Municipal) -> None:
    expected = {"zaken": ("/rollen", "1.5.1"), "catalogi": ("/catalogussen", "1.3.1"),
                "documenten": ("/enkelvoudiginformatieobjecten", "1.4.2"), "besluiten": ("/besluiten", "1.1.0")}
    for api, (path, version) in expected.items():
        ok(client.get(world.urls[api] + path), version)
        assert client.get(world.urls[api] + path + "/not-a-uuid").headers["API-version"] == version
        openapi = ok(anon.get(world.urls[api] + "/openapi.json"), version)  # unauthenticated
        assert openapi["info"]["version"] == version
        assert path in openapi["paths"] and f"{path}/{{uuid}}" in openapi["paths"]
        assert openapi["servers"] == [{"url": world.urls[api]}]
        published = anon.get(world.urls[api] + "/schema/openapi.yaml")  # where Open Zaak itself publishes it
        assert published.status_code == 200 and published.headers["API-version"] == version


def test_detail_etag_and_if_none_match(client: httpx.Client, municipality: Municipality, world: Municipal) -> None:
    zaak = zaak_with(municipality, "besluit_uuids")
    doc = municipality.documenten[zaak.document_uuids[0]] if zaak.document_uuids else next(
        iter(municipality.documenten.values()))
    urls = [f"{world.urls['zaken']}/zaken/{zaak.uuid}", f"{world.urls['zaken']}/statussen/{zaak.statussen[0].uuid}",
            f"{world.urls['catalogi']}/zaaktypen/{zaak.zaaktype_uuid}",
            f"{world.urls['documenten']}/enkelvoudiginformatieobjecten/{doc.uuid}",
            f"{world.urls['besluiten']}/besluiten/{zaak.besluit_uuids[0]}"]
    for url in urls:
        first = client.get(url, headers=CRS)
        etag = first.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"')
        again = client.get(url, headers={**CRS, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert client.get(url, headers={**CRS, "If-None-Match": '"stale"'}).status_code == 200
        head = client.head(url, headers=CRS)
        assert (head.status_code, head.headers["ETag"], head.content) == (200, etag, b"")


def test_trailing_slash_and_bad_uuids_are_404(client: httpx.Client, zrc: str, ztc: str,
                                               municipality: Municipality) -> None:
    problem(client.get(f"{zrc}/zaken/", headers=CRS), 404)
    problem(client.get(f"{ztc}/zaaktypen/"), 404)
    body = problem(client.get(f"{zrc}/zaken/not-a-uuid", headers=CRS), 404, "not_found")
    assert body["title"] == "Niet gevonden."
    problem(client.get(f"{zrc}/rollen/{newest(municipality).statussen[0].uuid}"), 404)  # a status is no rol
    conforms(ZRC, "/zaken/{uuid}", client.get(f"{zrc}/zaken/00000000-0000-4000-8000-000000000000", headers=CRS))


# --- paging --------------------------------------------------------------------------------------------


def test_paging_follows_drf(client: httpx.Client, zrc: str, municipality: Municipality) -> None:
    total = len(municipality.zaken)
    first = ok(client.get(f"{zrc}/zaken", headers=CRS))
    assert first["count"] == total
    assert len(first["results"]) == 100
    assert first["previous"] is None
    assert first["next"] == f"{zrc}/zaken?page=2"
    assert ok(client.get(f"{zrc}/zaken", params={"page": 1}, headers=CRS)) == first
    second = ok(client.get(first["next"], headers=CRS))
    assert second["previous"] == f"{zrc}/zaken"
    last_page = -(-total // 100)
    last = ok(client.get(f"{zrc}/zaken", params={"page": last_page}, headers=CRS))
    assert last["next"] is None
    assert len(last["results"]) == total - 100 * (last_page - 1)
    for page in (last_page + 1, 0, "abc"):
        body = problem(client.get(f"{zrc}/zaken", params={"page": page}, headers=CRS), 404, "not_found")
        assert body["detail"] == "Ongeldige pagina."
    big = ok(client.get(f"{zrc}/zaken", params={"pageSize": 1000}, headers=CRS))
    assert len(big["results"]) == min(total, 500)
    assert big["next"] == (f"{zrc}/zaken?page=2&pageSize=1000" if total > 500 else None)
    assert [z["uuid"] for z in first["results"]] == list(municipality.zaken)[::-1][:100]  # newest first


def test_next_link_keeps_the_filters(client: httpx.Client, zrc: str, ztc: str, municipality: Municipality) -> None:
    zt = newest(municipality).zaaktype_uuid
    zaaktype = f"{ztc}/zaaktypen/{zt}"
    body = ok(client.get(f"{zrc}/statussen", params={"pageSize": 2}))
    assert body["next"].endswith("/statussen?page=2&pageSize=2")
    zaken = ok(client.get(f"{zrc}/zaken", params={"zaaktype": zaaktype, "pageSize": 5}, headers=CRS))
    assert zaken["count"] == sum(z.zaaktype_uuid == zt for z in municipality.zaken.values())
    assert "zaaktype=" in zaken["next"]
    assert all(r["zaaktype"] == zaaktype for r in ok(client.get(zaken["next"], headers=CRS))["results"])


# --- zaken: shape, filters, ordering, _zoek ---------------------------------------------------------------


def test_zaak_detail_links_everything_by_absolute_url(client: httpx.Client, world: Municipal,
                                                     municipality: Municipality) -> None:
    zaak = next(z for z in reversed(municipality.zaken.values())
                if z.resultaat and z.document_uuids and {o.object_type for o in z.zaakobjecten} == {"adres", "overige"})
    response = client.get(f"{world.urls['zaken']}/zaken/{zaak.uuid}", headers=CRS)
    body = ok(response)
    conforms(ZRC, "/zaken/{uuid}", response)
    assert body["url"] == f"{world.urls['zaken']}/zaken/{zaak.uuid}"
    assert body["uuid"] == zaak.uuid
    assert body["identificatie"] == zaak.identificatie
    assert body["zaaktype"] == f"{world.urls['catalogi']}/zaaktypen/{zaak.zaaktype_uuid}"
    assert body["status"] == f"{world.urls['zaken']}/statussen/{zaak.statussen[-1].uuid}"
    assert len(body["rollen"]) == len(zaak.rollen)
    assert body["einddatum"] == (zaak.einddatum.isoformat() if zaak.einddatum else None)
    assert (body["selectielijstklasse"], body["communicatiekanaal"]) == ("", "")  # Open Zaak leaves them empty
    assert body["verlenging"] == {"reden": "", "duur": None}
    # every link resolves on this host
    zaaktype = ok(client.get(body["zaaktype"]), "1.3.1")
    status = ok(client.get(body["status"]))
    assert status["statustype"] in zaaktype["statustypen"]
    assert status["gezetdoor"] is None and status["indicatieLaatstGezetteStatus"] is True
    assert ok(client.get(body["resultaat"]))["resultaattype"] in zaaktype["resultaattypen"]
    for url in body["rollen"]:
        rol = ok(client.get(url))
        assert rol["roltype"] in zaaktype["roltypen"]
        assert rol["betrokkene"] == "" and rol["contactpersoonRol"]["emailadres"] == ""
        conforms(ZRC, "/rollen/{uuid}", client.get(url))
    objects = [ok(client.get(url)) for url in body["zaakobjecten"]]
    adres = next(o for o in objects if o["objectType"] == "adres")
    overige = next(o for o in objects if o["objectType"] == "overige")
    nummeraanduiding = next(str(o.nummeraanduiding_id) for o in zaak.zaakobjecten if o.object_type == "adres")
    assert adres["object"] == f"{world.urls['bag']}/adressen/{nummeraanduiding}"
    assert adres["objectIdentificatie"]["identificatie"] == nummeraanduiding
    assert adres["objectIdentificatie"]["postcode"] == municipality.nummeraanduidingen[nummeraanduiding].postcode
    boom = next(o.object_uuid for o in zaak.zaakobjecten if o.object_type == "overige")
    assert overige["object"] == f"{world.urls['objecten']}/objects/{boom}"
    assert overige["objectTypeOverige"] == "boom"
    assert adres["objectTypeOverige"] == ""
    assert all(o["zaakobjecttype"] is None for o in objects)
    zio = ok(client.get(body["zaakinformatieobjecten"][0]))
    doc = municipality.documenten[zaak.document_uuids[0]]
    assert zio["informatieobject"] == f"{world.urls['documenten']}/enkelvoudiginformatieobjecten/{doc.uuid}"
    eio = ok(client.get(zio["informatieobject"]), "1.4.2")
    assert eio["informatieobjecttype"] in zaaktype["informatieobjecttypen"]
    download = client.get(eio["inhoud"])
    assert download.status_code == 200 and download.content == doc.inhoud


def test_rol_shows_the_brp_person(client: httpx.Client, zrc: str, municipality: Municipality) -> None:
    zaak = newest(municipality)
    rol = next(r for r in zaak.rollen if r.betrokkene_type == "natuurlijk_persoon")
    person = municipality.personen[str(rol.bsn)]
    body = ok(client.get(f"{zrc}/rollen/{rol.uuid}"))
    ident = body["betrokkeneIdentificatie"]
    assert (ident["inpBsn"], ident["geslachtsnaam"], ident["inpA_nummer"]) == (
        person.bsn, person.geslachtsnaam, person.a_nummer)
    assert ident["verblijfsadres"]["aoaIdentificatie"] == person.nummeraanduiding_id
    medewerker = ok(client.get(f"{zrc}/rollen", params={"zaak": f"{zrc}/zaken/{zaak.uuid}",
                                                        "betrokkeneType": "medewerker"}))["results"]
    assert [r["betrokkeneIdentificatie"]["identificatie"] for r in medewerker] == [
        r.medewerker_id for r in zaak.rollen if r.betrokkene_type == "medewerker"]


def zaak_uuids(client: httpx.Client, zrc: str, **params: Any) -> set[str]:
    body = ok(client.get(f"{zrc}/zaken", params={"pageSize": 500, **params}, headers=CRS))
    assert body["count"] <= 500
    return {z["uuid"] for z in body["results"]}


def test_zaken_filters_match_the_data(client: httpx.Client, zrc: str, ztc: str, municipality: Municipality) -> None:
    zaken = list(municipality.zaken.values())
    some = zaken[len(zaken) // 2]
    assert zaak_uuids(client, zrc, identificatie=some.identificatie) == {some.uuid}
    bsn = next(r.bsn for r in some.rollen if r.bsn)
    assert zaak_uuids(client, zrc, rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn=bsn) == {
        z.uuid for z in zaken if any(r.bsn == bsn for r in z.rollen)}
    medewerker = next(r.medewerker_id for r in some.rollen if r.medewerker_id)
    assert zaak_uuids(client, zrc, rol__betrokkeneIdentificatie__medewerker__identificatie=medewerker,
                      startdatum__gte="2026-01-01") == {
        z.uuid for z in zaken if z.startdatum.isoformat() >= "2026-01-01"
        and any(r.medewerker_id == medewerker for r in z.rollen)}
    open_zaken = zaak_uuids(client, zrc, einddatum__isnull="true", startdatum__lt="2025-06-01")
    assert open_zaken == {z.uuid for z in zaken if z.einddatum is None and z.startdatum.isoformat() < "2025-06-01"}
    assert zaak_uuids(client, zrc, zaaktype=f"{ztc}/zaaktypen/{some.zaaktype_uuid}",
                      startdatum=some.startdatum.isoformat(), rol__betrokkeneType="natuurlijk_persoon") == {
        z.uuid for z in zaken if z.zaaktype_uuid == some.zaaktype_uuid and z.startdatum == some.startdatum}
    everything = ok(client.get(f"{zrc}/zaken", params={"bronorganisatie": some.bronorganisatie}, headers=CRS))
    assert everything["count"] == len(zaken)
    assert zaak_uuids(client, zrc, rol__betrokkeneIdentificatie__vestiging__vestigingsNummer="123") == set()
    assert zaak_uuids(client, zrc, zaaktype=f"{ztc}/zaaktypen/00000000-0000-4000-8000-000000000000") == set()


def test_zaken_ordering(client: httpx.Client, zrc: str, municipality: Municipality) -> None:
    body = ok(client.get(f"{zrc}/zaken", params={"ordering": "-startdatum,identificatie", "pageSize": 500},
                         headers=CRS))
    keys = [(r["startdatum"], r["identificatie"]) for r in body["results"]]
    assert keys == sorted(keys, key=lambda k: (-int(k[0].replace("-", "")), k[1]))
    ended = ok(client.get(f"{zrc}/zaken", params={"ordering": "einddatum"}, headers=CRS))["results"]
    assert ended[0]["einddatum"] == min(z.einddatum for z in municipality.zaken.values() if z.einddatum).isoformat()


@pytest.mark.parametrize(("params", "name", "code"), [
    ({"startdatum__gte": "2024-13-01"}, "startdatum__gte", "invalid"),
    ({"startdatum": "1-1-2024"}, "startdatum", "invalid"),
    ({"zaaktype": "not a url"}, "zaaktype", "invalid"),
    ({"ordering": "omschrijving"}, "ordering", "invalid_choice"),
    ({"rol__betrokkeneType": "robot"}, "rol__betrokkeneType", "invalid_choice"),
    ({"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": "1234567890"},
     "rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn", "max_length"),
    ({"zaak_type": "x"}, "nonFieldErrors", "unknown-parameters"),
    ({"expand": "documenten"}, "expand", "invalid_choice"),
    ({"expand": "status.statustype"}, "expand", "invalid"),
])
def test_bad_zaken_filters_are_400_with_invalid_params(client: httpx.Client, zrc: str, params: dict[str, str],
                                                       name: str, code: str) -> None:
    response = client.get(f"{zrc}/zaken", params=params, headers=CRS)
    [param] = invalid_params(response)
    assert (param["name"], param["code"]) == (name, code)
    assert param["reason"]
    conforms(ZRC, "/zaken", response)


def test_unknown_parameters_are_refused_on_every_list(client: httpx.Client, world: Municipal) -> None:
    for api, path in (("zaken", "/rollen"), ("catalogi", "/zaaktypen"), ("documenten", "/objectinformatieobjecten"),
                      ("besluiten", "/besluiten"), ("zaken", "/zaakinformatieobjecten")):
        [param] = invalid_params(client.get(world.urls[api] + path, params={"foo": "1"}))
        assert param == {"name": "nonFieldErrors", "code": "unknown-parameters",
                         "reason": "Onbekende query parameters: foo"}
    [param] = invalid_params(client.get(world.urls["catalogi"] + "/zaaktypen", params={"expand": "statustypen"}))
    assert param["code"] == "unknown-parameters"  # Catalogi 1.3.1 in Open Zaak has no expand


def test_zoek_with_uuid_and_zaaktype_lists(client: httpx.Client, zrc: str, ztc: str,
                                          municipality: Municipality) -> None:
    zaken = list(municipality.zaken.values())[:150]
    wanted = [z.uuid for z in zaken]
    response = client.post(f"{zrc}/zaken/_zoek", json={"uuid__in": wanted}, headers=WRITE_CRS)
    body = ok(response)
    conforms(ZRC, "/zaken/_zoek", response, "post")
    assert response.headers["Content-Crs"] == "EPSG:4326"
    assert body["count"] == 150
    assert body["next"] == f"{zrc}/zaken/_zoek?page=2"
    second = ok(client.post(body["next"], json={"uuid__in": wanted}, headers=WRITE_CRS))
    assert {z["uuid"] for z in body["results"] + second["results"]} == set(wanted)
    types = {zaken[0].zaaktype_uuid, zaken[1].zaaktype_uuid}
    found = ok(client.post(f"{zrc}/zaken/_zoek", params={"pageSize": 500}, headers=WRITE_CRS, json={
        "zaaktype__in": [f"{ztc}/zaaktypen/{t}" for t in types], "uuid__in": wanted, "expand": ["zaaktype"]}))
    assert {z["uuid"] for z in found["results"]} == {z.uuid for z in zaken if z.zaaktype_uuid in types}
    assert all(z["_expand"]["zaaktype"]["url"] == z["zaaktype"] for z in found["results"])
    [param] = invalid_params(client.post(f"{zrc}/zaken/_zoek", json={"uuid__in": ["nope"]}, headers=WRITE_CRS))
    assert (param["name"], param["code"]) == ("uuid__in", "invalid")
    [param] = invalid_params(client.post(f"{zrc}/zaken/_zoek", json={}, headers=WRITE_CRS))
    assert param["code"] == "empty_search_body"


# --- expand ----------------------------------------------------------------------------------------------


def test_expand_inlines_zaken_and_catalogi_resources(client: httpx.Client, zrc: str,
                                                    municipality: Municipality) -> None:
    zaak = zaak_with(municipality, "resultaat")
    expand = "zaaktype,status,status.statustype,rollen,rollen.roltype,resultaat,zaakobjecten,zaakinformatieobjecten"
    response = client.get(f"{zrc}/zaken/{zaak.uuid}", params={"expand": expand}, headers=CRS)
    body = ok(response)
    conforms(ZRC, "/zaken/{uuid}", response)
    inline = body["_expand"]
    assert inline["zaaktype"]["url"] == body["zaaktype"]
    assert inline["status"]["url"] == body["status"]
    assert inline["status"]["_expand"]["statustype"]["url"] == inline["status"]["statustype"]
    assert [r["url"] for r in inline["rollen"]] == body["rollen"]
    assert all(r["_expand"]["roltype"]["url"] == r["roltype"] for r in inline["rollen"])
    assert inline["resultaat"]["url"] == body["resultaat"]
    assert "_expand" not in inline["resultaat"]  # resultaat.resultaattype was not asked for
    assert len(inline.get("zaakinformatieobjecten", [])) == len(zaak.document_uuids)
    # a list puts _expand on every item; an empty relation is left out
    listed = ok(client.get(f"{zrc}/zaken", params={"expand": "zaakobjecten", "pageSize": 20}, headers=CRS))
    assert all("_expand" in z for z in listed["results"])
    assert any(z["_expand"] == {} for z in listed["results"] if not z["zaakobjecten"])
    plain = ok(client.get(f"{zrc}/zaken/{zaak.uuid}", headers=CRS))
    assert "_expand" not in plain


# --- sub-resources ---------------------------------------------------------------------------------------


def test_sub_resource_lists_filter_and_conform(client: httpx.Client, zrc: str, ztc: str,
                                              municipality: Municipality) -> None:
    zaak = zaak_with(municipality, "zaakobjecten")
    zaak_url = f"{zrc}/zaken/{zaak.uuid}"
    for path, expected in (("/statussen", len(zaak.statussen)), ("/rollen", len(zaak.rollen)),
                           ("/zaakobjecten", len(zaak.zaakobjecten)), ("/resultaten", 1 if zaak.resultaat else 0)):
        response = client.get(f"{zrc}{path}", params={"zaak": zaak_url})
        body = ok(response)
        assert body["count"] == expected
        conforms(ZRC, path, response)
        if body["results"]:
            detail = client.get(body["results"][0]["url"])
            conforms(ZRC, f"{path}/{{uuid}}", detail)
    statustype = f"{ztc}/statustypen/{zaak.statussen[0].statustype_uuid}"
    matching = ok(client.get(f"{zrc}/statussen", params={"statustype": statustype, "pageSize": 500}))
    assert all(s["statustype"] == statustype for s in matching["results"])
    last = ok(client.get(f"{zrc}/statussen", params={"zaak": zaak_url, "indicatieLaatstGezetteStatus": "true"}))
    assert [s["uuid"] for s in last["results"]] == [zaak.statussen[-1].uuid]
    [param] = invalid_params(client.get(f"{zrc}/statussen", params={"zaak": "geen-url"}))
    assert param["name"] == "zaak"
    bsn = next(r.bsn for r in zaak.rollen if r.bsn)
    rollen = ok(client.get(f"{zrc}/rollen", params={"betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": bsn,
                                                    "omschrijvingGeneriek": "initiator", "pageSize": 500}))
    assert rollen["count"] == sum(r.bsn == bsn and r.omschrijving_generiek == "initiator"
                                  for z in municipality.zaken.values() for r in z.rollen)


def test_zaakinformatieobjecten_and_zaakbesluiten_are_plain_arrays(client: httpx.Client, zrc: str, brc: str,
                                                                 municipality: Municipality) -> None:
    zaak = zaak_with(municipality, "besluit_uuids")
    response = client.get(f"{zrc}/zaakinformatieobjecten", params={"zaak": f"{zrc}/zaken/{zaak.uuid}"})
    body = ok(response)
    assert isinstance(body, list) and len(body) == len(zaak.document_uuids)
    conforms(ZRC, "/zaakinformatieobjecten", response)
    if body:
        conforms(ZRC, "/zaakinformatieobjecten/{uuid}", client.get(body[0]["url"]))
    [param] = invalid_params(client.get(f"{zrc}/zaakinformatieobjecten", params={"page": 2}))
    assert param["code"] == "unknown-parameters"  # no paging at all
    response = client.get(f"{zrc}/zaken/{zaak.uuid}/besluiten")
    besluiten = ok(response)
    conforms(ZRC, "/zaken/{zaak_uuid}/besluiten", response)
    assert [b["besluit"] for b in besluiten] == [f"{brc}/besluiten/{u}" for u in zaak.besluit_uuids]
    conforms(ZRC, "/zaken/{zaak_uuid}/besluiten/{uuid}", client.get(besluiten[0]["url"]))
    eigenschappen = client.get(f"{zrc}/zaken/{zaak.uuid}/zaakeigenschappen")
    assert ok(eigenschappen) == []
    conforms(ZRC, "/zaken/{zaak_uuid}/zaakeigenschappen", eigenschappen)


# --- Catalogi ----------------------------------------------------------------------------------------------


def test_zaaktypen_lists_hide_concepts_unless_asked(client: httpx.Client, ztc: str, municipality: Municipality) -> None:
    types = municipality.catalogus.zaaktypen
    concept = next(zt for zt in types if zt.concept)

    def identificaties(**params: str) -> set[str]:
        response = client.get(f"{ztc}/zaaktypen", params=params)
        conforms(ZTC, "/zaaktypen", response)
        return {z["identificatie"] for z in ok(response, "1.3.1")["results"]}

    assert identificaties() == {zt.identificatie for zt in types if not zt.concept}
    assert identificaties(status="concept") == {concept.identificatie}
    assert identificaties(status="alles") == {zt.identificatie for zt in types}
    [param] = invalid_params(client.get(f"{ztc}/zaaktypen", params={"status": "alle"}))
    assert (param["name"], param["code"]) == ("status", "invalid_choice")
    detail = client.get(f"{ztc}/zaaktypen/{concept.uuid}")  # a detail is there whatever its status
    assert ok(detail, "1.3.1")["concept"] is True
    conforms(ZTC, "/zaaktypen/{uuid}", detail)
    # the concept zaaktype's own statustypen appear only with status=alles
    statustypen = ok(client.get(f"{ztc}/statustypen", params={"zaaktype": f"{ztc}/zaaktypen/{concept.uuid}"}), "1.3.1")
    assert statustypen["count"] == 0
    everything = ok(client.get(f"{ztc}/statustypen", params={"zaaktype": f"{ztc}/zaaktypen/{concept.uuid}",
                                                              "status": "alles"}), "1.3.1")
    assert everything["count"] == len(concept.statustypen)


@pytest.mark.parametrize("path", ["/catalogussen", "/statustypen", "/roltypen", "/resultaattypen",
                                  "/informatieobjecttypen", "/besluittypen", "/eigenschappen"])
def test_catalogi_collections_conform(client: httpx.Client, ztc: str, path: str) -> None:
    response = client.get(f"{ztc}{path}")
    body = ok(response, "1.3.1")
    conforms(ZTC, path, response)
    assert body["count"] == len(body["results"]) or body["next"]
    if path == "/eigenschappen":
        assert body["results"] == []
        problem(client.get(f"{ztc}{path}/00000000-0000-4000-8000-000000000000"), 404)
        return
    detail = client.get(body["results"][0]["url"])
    assert "uuid" not in ok(detail, "1.3.1")  # Catalogi resources are known by url only
    if path == "/catalogussen":
        assert ok(detail, "1.3.1")["contactpersoonBeheerEmailadres"] == ""
    conforms(ZTC, f"{path}/{{uuid}}", detail)


def test_catalogi_type_filters(client: httpx.Client, ztc: str, municipality: Municipality) -> None:
    zt = municipality.catalogus.zaaktypen[0]
    url = f"{ztc}/zaaktypen/{zt.uuid}"
    roltypen = ok(client.get(f"{ztc}/roltypen", params={"zaaktype": url, "omschrijvingGeneriek": "initiator"}), "1.3.1")
    assert [r["url"] for r in roltypen["results"]] == [
        f"{ztc}/roltypen/{r.uuid}" for r in zt.roltypen if r.omschrijving_generiek == "initiator"]
    resultaattypen = ok(client.get(f"{ztc}/resultaattypen", params={"zaaktypeIdentificatie": zt.identificatie}),
                        "1.3.1")
    assert resultaattypen["count"] == len(zt.resultaattypen)
    besluittypen = ok(client.get(f"{ztc}/besluittypen", params={"zaaktypen": url}), "1.3.1")
    assert {b["url"] for b in besluittypen["results"]} == {f"{ztc}/besluittypen/{u}" for u in zt.besluittype_uuids}


# --- Documenten and Besluiten --------------------------------------------------------------------------------


def test_documenten(client: httpx.Client, drc: str, zrc: str, ztc: str, municipality: Municipality) -> None:
    docs = list(municipality.documenten.values())
    response = client.get(f"{drc}/enkelvoudiginformatieobjecten")
    body = ok(response, "1.4.2")
    conforms(DRC, "/enkelvoudiginformatieobjecten", response)
    assert body["count"] == len(docs)
    first = body["results"][0]
    assert first["ondertekening"] == {"soort": "", "datum": None}
    # (an expanded item is not schema-checked: each cross-file $ref costs the validator about a second)
    expanded = ok(client.get(f"{drc}/enkelvoudiginformatieobjecten", params={"expand": "informatieobjecttype"}),
                  "1.4.2")["results"][0]
    assert expanded["_expand"]["informatieobjecttype"] == ok(client.get(first["informatieobjecttype"]), "1.3.1")
    detail = client.get(first["url"])
    conforms(DRC, "/enkelvoudiginformatieobjecten/{uuid}", detail)
    doc = docs[0]
    found = ok(client.get(f"{drc}/enkelvoudiginformatieobjecten", params={"identificatie": doc.identificatie}), "1.4.2")
    assert [d["url"] for d in found["results"]] == [f"{drc}/enkelvoudiginformatieobjecten/{doc.uuid}"]
    zoek = client.post(f"{drc}/enkelvoudiginformatieobjecten/_zoek", json={"uuid__in": [d.uuid for d in docs[:3]]})
    assert ok(zoek, "1.4.2")["count"] == 3
    conforms(DRC, "/enkelvoudiginformatieobjecten/_zoek", zoek, "post")
    download = client.get(f"{drc}/enkelvoudiginformatieobjecten/{doc.uuid}/download")
    assert download.content == doc.inhoud
    assert download.headers["content-type"] == "application/octet-stream"
    oio = client.get(f"{drc}/objectinformatieobjecten", params={"object": f"{zrc}/zaken/{doc.zaak_uuid}"})
    relations = ok(oio, "1.4.2")
    conforms(DRC, "/objectinformatieobjecten", oio)
    zaak_docs = municipality.zaken[doc.zaak_uuid].document_uuids
    assert {r["informatieobject"] for r in relations} == {f"{drc}/enkelvoudiginformatieobjecten/{u}" for u in zaak_docs}
    assert all(r["objectType"] == "zaak" for r in relations)
    conforms(DRC, "/objectinformatieobjecten/{uuid}", client.get(relations[0]["url"]))
    assert ok(client.get(f"{ztc}/informatieobjecttypen/{doc.informatieobjecttype_uuid}"), "1.3.1")


def test_besluiten(client: httpx.Client, brc: str, zrc: str, ztc: str, municipality: Municipality) -> None:
    besluit = next(iter(municipality.besluiten.values()))
    response = client.get(f"{brc}/besluiten", params={"zaak": f"{zrc}/zaken/{besluit.zaak_uuid}"})
    conforms(BRC, "/besluiten", response)
    body = ok(client.get(f"{brc}/besluiten", params={"zaak": f"{zrc}/zaken/{besluit.zaak_uuid}",
                                                     "expand": "besluittype,zaak"}), "1.1.0")
    assert [b["url"] for b in body["results"]] == [
        f"{brc}/besluiten/{u}" for u in municipality.zaken[besluit.zaak_uuid].besluit_uuids]
    first = body["results"][0]
    assert first["zaak"] == f"{zrc}/zaken/{besluit.zaak_uuid}"
    assert first["_expand"]["besluittype"]["url"] == first["besluittype"] == f"{ztc}/besluittypen/" + (
        besluit.besluittype_uuid)
    assert first["_expand"]["zaak"]["url"] == first["zaak"]
    assert (first["vervalreden"], first["vervalredenWeergave"]) == ("", "")
    conforms(BRC, "/besluiten/{uuid}", client.get(first["url"]))
    typed = ok(client.get(f"{brc}/besluiten", params={"besluittype": first["besluittype"], "pageSize": 500}), "1.1.0")
    assert typed["count"] == sum(b.besluittype_uuid == besluit.besluittype_uuid
                                 for b in municipality.besluiten.values())
    bio = client.get(f"{brc}/besluitinformatieobjecten", params={"besluit": first["url"]})
    assert ok(bio, "1.1.0") == []
    conforms(BRC, "/besluitinformatieobjecten", bio)


# --- writes and notifications ---------------------------------------------------------------------------------


def delivered(anon: httpx.Client, world: Municipal, resource_url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The request the Notificaties API received about ``resource_url`` (they are sent in the background)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        recent = anon.get(f"{world.urls['notificaties'].split('/notificaties/')[0]}/_demo/requests").json()["recent"]
        for entry in recent:
            if entry["path"].endswith("/notificaties") and (entry["body"] or {}).get("resourceUrl") == resource_url:
                found: dict[str, Any] = entry
                return found
        time.sleep(0.05)
    raise AssertionError(f"no notification about {resource_url}")


@pytest.fixture
def writable(sim: ZgwSimulator, municipality: Municipality) -> Iterator[ZgwSimulator]:
    """Undo this test's writes afterwards, and check the shared records were never touched."""
    before = copy.deepcopy(newest(municipality))
    yield sim
    sim.reset()
    assert newest(municipality) == before


def test_create_zaak_publishes_a_notification(client: httpx.Client, anon: httpx.Client, world: Municipal,
                                              writable: ZgwSimulator, municipality: Municipality) -> None:
    zt = next(zt for zt in municipality.catalogus.zaaktypen if not zt.concept)
    zaaktype = f"{world.urls['catalogi']}/zaaktypen/{zt.uuid}"
    body = {"bronorganisatie": municipality.rsin, "verantwoordelijkeOrganisatie": municipality.rsin,
            "zaaktype": zaaktype, "startdatum": "2026-11-02", "omschrijving": "Via de API"}
    response = client.post(f"{world.urls['zaken']}/zaken", json=body, headers=WRITE_CRS)
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == created["url"]
    assert response.headers["Content-Crs"] == "EPSG:4326"
    assert created["zaaktype"] == zaaktype and created["status"] is None
    assert ok(client.get(created["url"], headers=CRS))["omschrijving"] == "Via de API"
    listed = ok(client.get(f"{world.urls['zaken']}/zaken", headers=CRS))
    assert listed["count"] == len(municipality.zaken) + 1
    assert listed["results"][0]["url"] == created["url"]  # newest first
    entry = delivered(anon, world, created["url"])
    assert entry["status"] == 201  # the Notificaties simulator accepted it
    message = entry["body"]
    assert message == {**message, "kanaal": "zaken", "hoofdObject": created["url"], "resource": "zaak",
                       "actie": "create", "kenmerken": {"bronorganisatie": municipality.rsin, "zaaktype": zaaktype,
                                                        "vertrouwelijkheidaanduiding": "zaakvertrouwelijk"}}
    nrc = world.config["sources"]["notificaties"]
    claims = jwt.decode(entry["headers"]["authorization"].split()[1], nrc["secret"], algorithms=["HS256"])
    assert claims["client_id"] == nrc["client_id"]
    assert time.time() - claims["iat"] < 60


def test_patch_and_status_change_the_zaak(client: httpx.Client, anon: httpx.Client, world: Municipal,
                                          writable: ZgwSimulator, municipality: Municipality) -> None:
    zaak = next(z for z in reversed(municipality.zaken.values()) if z.einddatum is None)
    url = f"{world.urls['zaken']}/zaken/{zaak.uuid}"
    etag = client.get(url, headers=CRS).headers["ETag"]
    patched = client.patch(url, json={"omschrijving": "Gewijzigd", "onbekend": 1}, headers=WRITE_CRS)
    assert ok(patched)["omschrijving"] == "Gewijzigd"
    assert client.get(url, headers={**CRS, "If-None-Match": etag}).status_code == 200  # the ETag moved on
    assert delivered(anon, world, url)["body"]["actie"] == "partial_update"
    zt = municipality.zaaktype(zaak.zaaktype_uuid)
    eind = next(st for st in zt.statustypen if st.is_eindstatus)
    status_body = {"zaak": url, "statustype": f"{world.urls['catalogi']}/statustypen/{eind.uuid}",
                   "datumStatusGezet": "2026-11-02T10:00:00Z"}
    response = client.post(f"{world.urls['zaken']}/statussen", json=status_body)
    assert response.status_code == 201, response.text
    status = response.json()
    after = ok(client.get(url, headers=CRS))
    assert after["status"] == status["url"] == response.headers["Location"]
    assert after["einddatum"] == "2026-11-02"
    message = delivered(anon, world, status["url"])["body"]
    assert (message["resource"], message["actie"], message["hoofdObject"]) == ("status", "create", url)
    assert municipality.zaken[zaak.uuid].einddatum is None  # the shared record is untouched


@pytest.mark.parametrize(("body", "names"), [
    ({}, {"bronorganisatie", "verantwoordelijkeOrganisatie", "zaaktype", "startdatum"}),
    ({"bronorganisatie": "123456789", "verantwoordelijkeOrganisatie": "12345678", "zaaktype": "geen-url",
      "startdatum": "gisteren"}, {"bronorganisatie", "verantwoordelijkeOrganisatie", "zaaktype", "startdatum"}),
])
def test_create_zaak_validation(client: httpx.Client, zrc: str, writable: ZgwSimulator, body: dict[str, str],
                                names: set[str]) -> None:
    params = invalid_params(client.post(f"{zrc}/zaken", json=body, headers=WRITE_CRS))
    assert {p["name"] for p in params} == names


def test_writes_refuse_concepts_foreign_statustypes_and_bad_media(client: httpx.Client, world: Municipal,
                                                                 writable: ZgwSimulator,
                                                                 municipality: Municipality) -> None:
    zrc, ztc = world.urls["zaken"], world.urls["catalogi"]
    concept = next(zt for zt in municipality.catalogus.zaaktypen if zt.concept)
    [param] = invalid_params(client.post(f"{zrc}/zaken", headers=WRITE_CRS, json={
        "bronorganisatie": municipality.rsin, "verantwoordelijkeOrganisatie": municipality.rsin,
        "zaaktype": f"{ztc}/zaaktypen/{concept.uuid}", "startdatum": "2026-11-02"}))
    assert (param["name"], param["code"]) == ("zaaktype", "not-published")
    zaak = newest(municipality)
    foreign = next(st for zt in municipality.catalogus.zaaktypen if zt.uuid != zaak.zaaktype_uuid
                   for st in zt.statustypen)
    [param] = invalid_params(client.post(f"{zrc}/statussen", json={
        "zaak": f"{zrc}/zaken/{zaak.uuid}", "statustype": f"{ztc}/statustypen/{foreign.uuid}",
        "datumStatusGezet": "2026-11-01T10:00:00Z"}))
    assert param["code"] == "zaaktype-mismatch"
    problem(client.post(f"{zrc}/statussen", content=b"zaak=x", headers={"Content-Type": "text/plain"}), 415,
            "unsupported_media_type")
    [param] = invalid_params(client.patch(f"{zrc}/zaken/{zaak.uuid}", json={"identificatie": "ANDERS"},
                                          headers=WRITE_CRS))
    assert param["code"] == "wijzigen-niet-toegelaten"
    problem(client.patch(f"{zrc}/zaken/{zaak.uuid}", json={}, headers=CRS), 412, "precondition_failed")


def test_a_failing_nrc_never_fails_the_write(client: httpx.Client, anon: httpx.Client, world: Municipal,
                                             writable: ZgwSimulator, municipality: Municipality) -> None:
    control = world.urls["notificaties"].split("/notificaties/")[0] + "/_demo/behaviour"
    anon.put(control, json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    try:
        zaak = newest(municipality)
        url = f"{world.urls['zaken']}/zaken/{zaak.uuid}"
        assert ok(client.patch(url, json={"toelichting": "NRC is stuk"}, headers=WRITE_CRS))["toelichting"] == (
            "NRC is stuk")
        assert delivered(anon, world, url)["status"] == 500
    finally:
        anon.put(control, json={"error_rate": 0.0}).raise_for_status()


# --- profiles: Open Zaak itself, and a product that follows the standard ----------------------------------


@pytest.fixture(scope="module")
def standard(municipality: Municipality) -> Iterator[tuple[Municipal, httpx.Client]]:
    """The simulator in its ``standard`` profile, on a port of its own, and a client with a valid token."""
    config = with_profile(load_config(), "standard")
    port = free_port()
    for name in ZgwSimulator.serves:
        config["sources"][name]["url"] = with_port(config["sources"][name]["url"], port)
    urls = {name: str(e["url"]) for name, e in config["sources"].items()}
    world = Municipal(data=municipality, config=config)
    zgw = ZgwSimulator(municipality, config, urls)
    world.simulators.update({name: zgw for name in zgw.serves})
    with running_in_thread(world) as running, httpx.Client(
            headers={"Authorization": f"Bearer {token(running)}"}) as client:
        yield running, client


def test_zoek_expand_takes_open_zaaks_forms_and_a_string_fails(client: httpx.Client, zrc: str,
                                                                municipality: Municipality) -> None:
    zaak = zaak_with(municipality, "rollen")
    body = {"uuid__in": [zaak.uuid]}
    as_list = ok(client.post(f"{zrc}/zaken/_zoek", json={**body, "expand": ["rollen"]}, headers=WRITE_CRS))
    in_query = ok(client.post(f"{zrc}/zaken/_zoek", params={"expand": "rollen"}, json=body, headers=WRITE_CRS))
    assert len(as_list["results"][0]["_expand"]["rollen"]) == len(zaak.rollen)
    assert in_query["results"] == as_list["results"]
    problem(client.post(f"{zrc}/zaken/_zoek", json={**body, "expand": "rollen"}, headers=WRITE_CRS), 500, "error")
    problem(client.post(f"{zrc}/zaken/_zoek", json={**body, "expand": "rollen,status"}, headers=WRITE_CRS), 500)


def test_the_standard_profile_has_none_of_open_zaaks_extensions(standard: tuple[Municipal, httpx.Client],
                                                                municipality: Municipality) -> None:
    world, client = standard
    zrc = world.urls["zaken"]
    assert len(municipality.zaken) > 100
    page = ok(client.get(f"{zrc}/zaken", params={"pageSize": 20}, headers=WRITE_CRS))  # 1.5.1 wants both
    assert len(page["results"]) == 100  # pageSize ignored: the server's own size
    assert "pageSize=20" in page["next"]
    zaak = zaak_with(municipality, "rollen")
    body = {"uuid__in": [zaak.uuid]}
    found = ok(client.post(f"{zrc}/zaken/_zoek", json={**body, "expand": "rollen,status"}, headers=WRITE_CRS))
    assert set(found["results"][0]["_expand"]) == {"rollen", "status"}
    conforms(ZRC, "/zaken/_zoek", client.post(f"{zrc}/zaken/_zoek", json=body, headers=WRITE_CRS), "post")
    [param] = invalid_params(client.post(f"{zrc}/zaken/_zoek", json={**body, "expand": ["rollen"]}, headers=WRITE_CRS))
    assert (param["name"], param["code"]) == ("expand", "invalid")
    [param] = invalid_params(client.post(f"{zrc}/zaken/_zoek", params={"expand": "rollen"}, json=body,
                                         headers=WRITE_CRS))
    assert param["code"] == "unknown-parameters"
    if official(STANDARD.documents["zaken"]):  # the request check runs only with the official document
        assert world.simulators["zaken"].violation_count == 1  # the array: the document wants a string


def test_each_profile_serves_its_own_documents(standard: tuple[Municipal, httpx.Client], anon: httpx.Client,
                                                world: Municipal) -> None:
    theirs, client = standard
    expected = {"zaken": ("1.5.1", "1.5.1"), "catalogi": ("1.3.1", "1.3.3"), "documenten": ("1.4.2", "1.7.0"),
                "besluiten": ("1.1.0", "1.1.0")}
    for api, versions in expected.items():
        for running, version in zip((world, theirs), versions, strict=True):
            openapi = ok(anon.get(running.urls[api] + "/openapi.json"), version)
            assert openapi["info"]["version"] == version
            assert openapi["servers"] == [{"url": running.urls[api]}]
            published = anon.get(running.urls[api] + "/schema/openapi.yaml")
            assert published.status_code == 200
            if official(OPENZAAK.documents[api]) and official(STANDARD.documents[api]):
                assert published.text.startswith("openapi:")  # the file as published, not a synthesized one
    oz = ok(anon.get(world.urls["zaken"] + "/openapi.json"))["paths"]["/zaken/_zoek"]["post"]
    std = ok(anon.get(theirs.urls["zaken"] + "/openapi.json"))["paths"]["/zaken/_zoek"]["post"]
    assert any(p.get("name") == "expand" for p in oz["parameters"])
    assert not any(p.get("name") in ("expand", "pageSize") for p in std.get("parameters", []))
    assert ok(client.get(theirs.urls["catalogi"] + "/zaaktypen"), "1.3.3")


def test_expand_cost_is_paid_per_inlined_catalogi_object(client: httpx.Client, zrc: str, sim: ZgwSimulator) -> None:
    sim.behaviour.update({"expand_cost_ms": 15})
    try:
        sim.reset_counts()
        ok(client.get(f"{zrc}/zaken", params={"pageSize": 10, "expand": "status,rollen"}, headers=CRS))
        assert sim.catalogi_inlined == 0  # Zaken's own resources cost nothing extra
        started = time.perf_counter()
        body = ok(client.get(f"{zrc}/zaken", params={"pageSize": 10, "expand": "zaaktype,status,status.statustype"},
                             headers=CRS))
        elapsed = time.perf_counter() - started
        inlined = sum(1 for z in body["results"] for key in ("zaaktype",) if key in z["_expand"]) + sum(
            1 for z in body["results"] if "statustype" in z["_expand"].get("status", {}).get("_expand", {}))
        assert sim.catalogi_inlined == inlined >= 10
        assert elapsed >= inlined * 0.015
        detail = ok(client.get(body["results"][0]["url"], params={"expand": "zaaktype"}, headers=CRS))
        assert detail["_expand"]["zaaktype"]["url"] == detail["zaaktype"]
        assert sim.catalogi_inlined == inlined + 1
    finally:
        sim.behaviour.update({"expand_cost_ms": 0})
