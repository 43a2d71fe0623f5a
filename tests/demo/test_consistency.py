"""The same person, address and case in every source, checked through the sources' own HTTP APIs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from demo.runner import Municipal


@pytest.fixture
def unthrottled_bag(demo: Municipal) -> Iterator[None]:
    """These checks make hundreds of BAG calls; the 50/s limit is tested elsewhere."""
    bag = demo.simulators["bag"]
    before = bag.rate_limit_per_s  # type: ignore[attr-defined]
    bag.rate_limit_per_s = 100_000  # type: ignore[attr-defined]
    yield
    bag.rate_limit_per_s = before  # type: ignore[attr-defined]


def headers(demo: Municipal, source: str) -> dict[str, str]:
    entry = demo.config["sources"][source]
    if entry["auth"] == "zgw-jwt":
        token = jwt.encode({"iss": "t", "client_id": entry["client_id"], "iat": int(time.time())}, entry["secret"],
                           algorithm="HS256")
        return {"Authorization": f"Bearer {token}", "Accept-Crs": "EPSG:4326"}
    accept = "application/hal+json" if source == "bag" else "application/json"
    return {entry.get("header", "X-Api-Key"): entry["key"], "Accept": accept}


async def brp_persons(client: httpx.AsyncClient, demo: Municipal, bsns: list[str], fields: list[str]) -> dict:
    found: dict[str, dict] = {}
    for i in range(0, len(bsns), 20):
        response = await client.post(f"{demo.urls['brp']}/personen", headers=headers(demo, "brp"), json={
            "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns[i:i + 20], "fields": fields})
        assert response.status_code == 200, response.text
        found.update({p["burgerservicenummer"]: p for p in response.json()["personen"]})
    return found


async def test_every_inp_bsn_in_zaken_is_a_brp_person(demo: Municipal) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        bsns: set[str] = set()
        url: str | None = f"{demo.urls['zaken']}/rollen?betrokkeneType=natuurlijk_persoon"
        while url:
            page = (await client.get(url, headers=headers(demo, "zaken"))).json()
            bsns.update(r["betrokkeneIdentificatie"]["inpBsn"] for r in page["results"])
            url = page["next"]
        found = await brp_persons(client, demo, sorted(bsns), ["burgerservicenummer"])
    assert bsns
    assert set(found) == bsns


@pytest.mark.usefixtures("unthrottled_bag")
async def test_every_brp_address_is_a_bag_object(demo: Municipal) -> None:
    bsns = sorted(demo.data.personen)
    async with httpx.AsyncClient(timeout=30) as client:
        persons = await brp_persons(client, demo, bsns, ["burgerservicenummer", "verblijfplaats"])
        pairs = {(p["verblijfplaats"]["nummeraanduidingIdentificatie"], p["verblijfplaats"][
            "adresseerbaarObjectIdentificatie"]) for p in persons.values()}
        for nummeraanduiding, adresseerbaar_object in sorted(pairs):
            adres = await client.get(f"{demo.urls['bag']}/adressen/{nummeraanduiding}", headers=headers(demo, "bag"))
            assert adres.status_code == 200, nummeraanduiding
            assert adres.json()["adresseerbaarObjectIdentificatie"] == adresseerbaar_object
    assert len(persons) == len(bsns)


@pytest.mark.usefixtures("unthrottled_bag")
async def test_every_zaakobject_resolves_in_bag_or_objecten(demo: Municipal) -> None:
    objecten = demo.config["sources"]["objecten"]
    async with httpx.AsyncClient(timeout=30) as client:
        url: str | None = f"{demo.urls['zaken']}/zaakobjecten"
        links: list[tuple[str, str]] = []
        while url:
            page = (await client.get(url, headers=headers(demo, "zaken"))).json()
            links.extend((z["objectType"], z["object"]) for z in page["results"])
            url = page["next"]
        for kind, link in links:
            if kind == "adres":
                assert link.startswith(demo.urls["bag"])
                response = await client.get(link, headers=headers(demo, "bag"))
            else:
                assert link.startswith(demo.urls["objecten"])
                response = await client.get(link, headers={"Authorization": f"Token {objecten['token']}",
                                                           "Accept-Crs": "EPSG:4326"})
            assert response.status_code == 200, link
    assert {k for k, _ in links} == {"adres", "overige"}
