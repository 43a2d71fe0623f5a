"""The Signalen simulator against the static OAS, the API docs and the DRF behaviour of the real service."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from demo.model import Melding, Municipality
from demo.runner import Municipal, running_alone
from demo.signalen import SignalenSimulator
from tests.oas import response_schema, schema_errors

SPEC = "signalen/openapi.yaml"
# Where the 2023 static OAS disagrees with what the service returns (and its own docs show), the service wins.
TOLERATED = (
    re.compile(r"(^|/)location/address/huisnummer: \d+ is not of type 'string'$"),  # BAG-validated: an integer
    re.compile(r"(^|/)(location|status)/extra_properties: None (for not nullable|is not of type 'object')$"),
    re.compile(r"^_links/(next|previous)/href: None (for not nullable|is not of type 'string')$"),  # DRF: null
    re.compile(r"^results/\d+/description: None (for not nullable|is not of type 'string')$"),  # a nullable column
)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")  # the service's TIME_ZONE, which naive filter values are read in
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+0[12]:00$")


def assert_conforms(path: str, method: str, response: httpx.Response) -> None:
    """tests.oas.assert_conforms, minus the tolerated gaps."""
    errors = schema_errors(response_schema(SPEC, path, method, response.status_code), response.json())
    errors = [e for e in errors if not any(t.search(e) for t in TOLERATED)]
    assert not errors, f"{method} {path} -> {response.status_code}:\n" + "\n".join(errors)


def serve(municipality: Municipality) -> Iterator[Municipal]:
    with running_alone(SignalenSimulator, municipality) as running:
        yield running


@pytest.fixture(scope="module")
def sia(municipality: Municipality) -> Iterator[Municipal]:
    """Read-only instance: its meldingen are exactly the municipality's."""
    yield from serve(municipality)


@pytest.fixture(scope="module")
def writable(municipality: Municipality) -> Iterator[Municipal]:
    """A second instance for tests that create meldingen, so counts elsewhere stay those of the data."""
    yield from serve(municipality)


def private_client(world: Municipal) -> httpx.Client:
    token = world.config["sources"]["signalen"]["token"]
    return httpx.Client(base_url=world.urls["signalen"], headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def private(sia: Municipal) -> Iterator[httpx.Client]:
    with private_client(sia) as c:
        yield c


@pytest.fixture
def public(sia: Municipal) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sia.urls["signalen"]) as c:
        yield c


def meldingen(data: Municipality) -> list[Melding]:
    return list(data.meldingen.values())


# --- authentication ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "invalid token"),
    ({"Authorization": "Token abc"}, "invalid token format"),
    ({"Authorization": "Bearer"}, "invalid token"),
    ({"Authorization": "Bearer wrong-token"}, "API auth problem: value error"),
    ({"Authorization": "Bearer a.b.c"}, "API auth problem: invalid signature."),
])
def test_private_endpoints_refuse_bad_bearer_tokens_with_401(public: httpx.Client, headers: dict[str, str],
                                                              detail: str) -> None:
    for path in ("/private/signals/", "/private/signals/1", "/private/signals/1/history", "/private/categories/"):
        r = public.get(path, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"detail": detail}
        assert r.headers["www-authenticate"] == 'Bearer realm="signals"'
        assert r.headers["content-type"] == "application/json"


def test_auth_is_checked_before_the_signal_is_looked_up(public: httpx.Client) -> None:
    assert public.get("/private/signals/999999999").status_code == 401


def test_public_endpoints_need_no_token_and_every_response_names_the_release(public: httpx.Client,
                                                                             sia: Municipal) -> None:
    some = meldingen(sia.data)[0]
    releases = set()
    for path in ("/public/terms/categories", f"/public/signals/{some.signal_id}"):
        r = public.get(path)
        assert r.status_code == 200
        releases.add(r.headers["x-api-version"])
    [release] = releases  # the deployed release tag (the static OAS only says "TBD"), the same on every answer
    assert re.fullmatch(r"\d+\.\d+\.\d+", release)


# --- paths ---------------------------------------------------------------------------------------------


def test_trailing_slash_is_optional_as_with_the_signals_router(private: httpx.Client) -> None:
    for a, b in (("/private/signals", "/private/signals/"), ("/public/terms/categories", "/public/terms/categories/")):
        ra, rb = private.get(a), private.get(b)
        assert ra.status_code == rb.status_code == 200
        assert ra.json()["_links"]["self"]["href"].endswith(a)  # a page links to the URL as asked
        assert rb.json()["_links"]["self"]["href"].endswith(b)
    ra, rb = private.get("/private/signals/3"), private.get("/private/signals/3/")
    assert ra.json() == rb.json()  # an object links to its canonical URL
    assert rb.json()["_links"]["self"]["href"].endswith("/private/signals/3")


def test_an_unrouted_path_gets_djangos_html_404_but_a_missing_object_gets_drf_json(private: httpx.Client) -> None:
    r = private.get("/private/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>Not Found</h1>" in r.text
    for path in ("/private/signals/99999999", "/private/signals/abc", "/private/categories/9999"):
        r = private.get(path)
        assert r.status_code == 404
        assert r.json() == {"detail": "Niet gevonden."}


def test_a_wrong_method_is_a_drf_405(private: httpx.Client) -> None:
    r = private.delete("/private/signals/1")
    assert r.status_code == 405
    assert r.json() == {"detail": 'Methode "DELETE" niet toegestaan.'}


# --- the list: paging, links, ordering -----------------------------------------------------------------


def test_list_is_hal_paginated_newest_first_with_absolute_links(private: httpx.Client, sia: Municipal) -> None:
    base = sia.urls["signalen"]
    r = private.get("/private/signals/")
    assert r.status_code == 200
    assert_conforms("/signals/v1/private/signals/", "get", r)
    body = r.json()
    assert body["count"] == len(sia.data.meldingen)
    assert len(body["results"]) == 100
    assert body["_links"] == {"self": {"href": f"{base}/private/signals/"},
                              "next": {"href": f"{base}/private/signals/?page=2"}, "previous": {"href": None}}
    created = [item["created_at"] for item in body["results"]]
    newest = sorted(meldingen(sia.data), key=lambda m: m.created_at, reverse=True)[:100]
    assert [item["id"] for item in body["results"]][:5] == [m.id for m in newest][:5]
    assert created == sorted(created, reverse=True)
    first = body["results"][0]
    assert first["_links"] == {"self": {"href": f"{base}/private/signals/{first['id']}"}}

    second = private.get(body["_links"]["next"]["href"]).json()
    assert second["_links"]["previous"]["href"] == f"{base}/private/signals/?page=1"
    assert not {i["id"] for i in second["results"]} & {i["id"] for i in body["results"]}


def test_page_links_keep_the_filters_with_sorted_query_keys(private: httpx.Client, sia: Municipal) -> None:
    r = private.get("/private/signals", params=[("status", "o"), ("status", "b"), ("page_size", "5")])
    links = r.json()["_links"]
    assert links["next"]["href"] == f"{sia.urls['signalen']}/private/signals?page=2&page_size=5&status=o&status=b"


def test_page_size_has_no_cap_and_a_bad_one_silently_means_100(private: httpx.Client, sia: Municipal) -> None:
    assert len(private.get("/private/signals", params={"page_size": 7}).json()["results"]) == 7
    everything = private.get("/private/signals", params={"page_size": 100000}).json()
    assert len(everything["results"]) == len(sia.data.meldingen)
    assert everything["_links"]["next"]["href"] is None
    for bad in ("0", "-5", "abc"):
        assert len(private.get("/private/signals", params={"page_size": bad}).json()["results"]) == 100


@pytest.mark.parametrize("page", ["0", "-1", "abc", "2.0", "100000"])
def test_a_page_that_does_not_exist_is_404_invalid_page(private: httpx.Client, page: str) -> None:
    r = private.get("/private/signals", params={"page": page})
    assert r.status_code == 404
    assert r.json() == {"detail": "Ongeldige pagina."}


def test_page_last_and_an_empty_first_page(private: httpx.Client, sia: Municipal) -> None:
    last = private.get("/private/signals", params={"page": "last"}).json()
    assert last["_links"]["next"]["href"] is None
    assert len(last["results"]) == (len(sia.data.meldingen) - 1) % 100 + 1
    empty = private.get("/private/signals", params={"created_after": "2999-01-01T00:00:00Z"})
    assert empty.status_code == 200
    assert empty.json()["count"] == 0


def test_ordering_terms_and_unknown_terms_are_ignored(private: httpx.Client, sia: Municipal) -> None:
    ids = [i["id"] for i in private.get("/private/signals", params={"ordering": "id"}).json()["results"]]
    assert ids == sorted(m.id for m in meldingen(sia.data))[:100]
    ids = [i["id"] for i in private.get("/private/signals", params={"ordering": "-id"}).json()["results"]]
    assert ids == sorted((m.id for m in meldingen(sia.data)), reverse=True)[:100]
    by_status = private.get("/private/signals", params={"ordering": "status,-id", "page_size": 5000}).json()
    states = [i["status"]["state"] for i in by_status["results"]]
    assert states == sorted(states)
    default = private.get("/private/signals").json()["results"]
    assert private.get("/private/signals", params={"ordering": "bogus"}).json()["results"] == default


# --- filters -------------------------------------------------------------------------------------------


def count(client: httpx.Client, params: Any) -> int:
    r = client.get("/private/signals", params=params)
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


def test_filters_select_what_the_data_holds(private: httpx.Client, sia: Municipal) -> None:
    ms = meldingen(sia.data)
    assert count(private, [("status", "o"), ("status", "b")]) == sum(m.statussen[-1].state in "ob" for m in ms)
    some = ms[0]
    assert count(private, {"buurt_code": some.buurt_code}) == sum(m.buurt_code == some.buurt_code for m in ms)
    assert count(private, {"stadsdeel": some.stadsdeel}) == sum(m.stadsdeel == some.stadsdeel for m in ms)
    assert count(private, {"source": "online"}) == sum(m.source == "online" for m in ms)
    assert count(private, {"priority": "high"}) == sum(m.priority == "high" for m in ms)
    assert count(private, {"type": "SIG"}) == len(ms)
    assert count(private, {"contact_details": "none"}) == sum(not m.reporter_email and not m.reporter_phone
                                                             for m in ms)
    combined = {"status": "o", "priority": "normal", "source": "online"}
    assert count(private, combined) == sum(m.statussen[-1].state == "o" and m.priority == "normal"
                                           and m.source == "online" for m in ms)


def test_main_and_sub_category_filters_widen_each_other(private: httpx.Client, sia: Municipal) -> None:
    ms = meldingen(sia.data)
    main = ms[0].categorie.main_slug
    other_sub = next(m.categorie.sub_slug for m in ms if m.categorie.main_slug != main)
    n_main = sum(m.categorie.main_slug == main for m in ms)
    n_sub = sum(m.categorie.sub_slug == other_sub for m in ms)
    assert count(private, {"maincategory_slug": main}) == n_main
    assert count(private, {"category_slug": other_sub}) == n_sub
    assert count(private, {"maincategory_slug": main, "category_slug": other_sub}) == n_main + n_sub
    results = private.get("/private/signals", params={"category_slug": other_sub}).json()["results"]
    assert {i["category"]["sub_slug"] for i in results} == {other_sub}


def test_created_range_is_inclusive_and_naive_times_are_amsterdam_time(private: httpx.Client,
                                                                        sia: Municipal) -> None:
    ms = sorted(meldingen(sia.data), key=lambda m: m.created_at)
    lo, hi = ms[10].created_at, ms[40].created_at
    expected = sum(lo <= m.created_at <= hi for m in ms)
    assert count(private, {"created_after": lo.isoformat(), "created_before": hi.isoformat()}) == expected
    naive = hi.astimezone(AMSTERDAM).replace(tzinfo=None).isoformat()
    assert count(private, {"created_before": naive}) == sum(m.created_at <= hi for m in ms)


def test_bad_filter_values_are_one_400_naming_every_parameter(private: httpx.Client) -> None:
    r = private.get("/private/signals", params={"status": "zz", "priority": "urgent", "created_after": "gisteren",
                                                "maincategory_slug": "nope", "id": "x", "unknown_filter": "1"})
    assert r.status_code == 400
    assert r.json() == {
        "status": ["Selecteer een geldige keuze. zz is geen beschikbare keuze."],
        "priority": ["Selecteer een geldige keuze. urgent is geen beschikbare keuze."],
        "maincategory_slug": ["Selecteer een geldige keuze. nope is geen beschikbare keuze."],
        "created_after": ["Voer een geldige datum/tijd in."],
        "id": ["Voer een getal in."],
    }


def test_incident_date_before_and_after_are_swapped_as_in_signalen(private: httpx.Client, sia: Municipal) -> None:
    ms = meldingen(sia.data)
    days = [m.incident_date_start.astimezone(AMSTERDAM).date() for m in ms]
    day = days[len(days) // 2]
    assert count(private, {"incident_date": day.isoformat()}) == sum(d == day for d in days)
    assert count(private, {"incident_date_before": day.isoformat()}) == sum(d >= day for d in days)
    assert count(private, {"incident_date_after": day.isoformat()}) == sum(d <= day for d in days)


# --- one signal ----------------------------------------------------------------------------------------


def test_detail_carries_the_bag_address_without_any_bag_identifier(private: httpx.Client, sia: Municipal) -> None:
    data = sia.data
    m = meldingen(data)[7]
    r = private.get(f"/private/signals/{m.id}")
    assert r.status_code == 200
    assert_conforms("/signals/v1/private/signals/{id}", "get", r)
    body = r.json()
    na = data.nummeraanduidingen[m.nummeraanduiding_id]
    street = data.openbare_ruimten[na.openbare_ruimte_id]
    assert body["location"]["address"] == {
        "openbare_ruimte": street.naam, "huisnummer": na.huisnummer, "huisletter": na.huisletter or "",
        "huisnummer_toevoeging": na.huisnummertoevoeging or "", "postcode": na.postcode,
        "woonplaats": data.woonplaatsen[street.woonplaats_id].naam,
    }
    assert body["location"]["address_text"].startswith(f"{street.naam} {na.huisnummer}")
    assert body["location"]["geometrie"] == {"type": "Point", "coordinates": [m.wgs84[1], m.wgs84[0]]}
    assert m.nummeraanduiding_id not in r.text
    assert na.adresseerbaar_object_id not in r.text
    assert body["signal_id"] == m.signal_id
    assert body["id_display"] == f"SIG-{m.id}"
    assert body["status"]["state"] == m.statussen[-1].state
    assert body["category"]["sub_slug"] == m.categorie.sub_slug
    assert body["category"]["departments"] == ", ".join(m.categorie.departments)
    assert body["category"]["category_url"] == (f"{sia.urls['signalen']}/public/terms/categories/"
                                                f"{m.categorie.main_slug}/sub_categories/{m.categorie.sub_slug}")
    assert body["_links"]["archives"]["href"].endswith(f"/private/signals/{m.id}/history")
    for key in ("created_at", "updated_at", "incident_date_start"):
        assert OFFSET.match(body[key]), body[key]
    assert dt.datetime.fromisoformat(body["created_at"]) == m.created_at


def test_history_is_newest_first_and_filterable_by_what(private: httpx.Client, sia: Municipal) -> None:
    m = max(meldingen(sia.data), key=lambda x: len(x.statussen))
    log = private.get(f"/private/signals/{m.id}/history").json()
    whens = [e["when"] for e in log]
    assert whens == sorted(whens, reverse=True)
    statuses = private.get(f"/private/signals/{m.id}/history", params={"what": "UPDATE_STATUS"}).json()
    assert len(statuses) == len(m.statussen)
    assert {e["_signal"] for e in statuses} == {m.id}
    assert statuses[0]["action"].startswith("Status gewijzigd naar: ")
    assert private.get("/private/signals/99999999/history").status_code == 404


def test_public_signal_shows_open_or_closed_only(public: httpx.Client, sia: Municipal) -> None:
    ms = meldingen(sia.data)
    closed = next(m for m in ms if m.statussen[-1].state == "o")
    busy = next(m for m in ms if m.statussen[-1].state == "b")
    for m, state, display in ((closed, "CLOSED", "Gesloten"), (busy, "OPEN", "Open")):
        r = public.get(f"/public/signals/{m.signal_id}")
        assert_conforms("/signals/v1/public/signals/{signal_id}", "get", r)
        body = r.json()
        assert body["status"] == {"state": state, "state_display": display}
        assert body["_display"] == f"SIG-{m.id}"
        assert not {"text", "location", "reporter", "category"} & set(body)
    assert public.get(f"/public/signals/{closed.signal_id.upper()}").status_code == 200
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        r = public.get(f"/public/signals/{bad}")
        assert r.status_code == 404
        assert r.json() == {"detail": "Niet gevonden."}


# --- categories ----------------------------------------------------------------------------------------


def test_public_categories_nest_subs_under_mains(public: httpx.Client, sia: Municipal) -> None:
    cats = sia.data.categorieen
    r = public.get("/public/terms/categories")
    assert_conforms("/signals/v1/public/terms/categories", "get", r)
    body = r.json()
    assert [c["slug"] for c in body["results"]] == list(dict.fromkeys(c.main_slug for c in cats))
    first = body["results"][0]
    assert [s["slug"] for s in first["sub_categories"]] == [c.sub_slug for c in cats if c.main_slug == first["slug"]]
    main = public.get(f"/public/terms/categories/{first['slug']}")
    assert_conforms("/signals/v1/public/terms/categories/{main_slug}", "get", main)
    assert main.json() == first
    sub_slug = first["sub_categories"][0]["slug"]
    sub = public.get(f"/public/terms/categories/{first['slug']}/sub_categories/{sub_slug}")
    assert_conforms("/signals/v1/public/terms/categories/{main_slug}/sub_categories/{sub_slug}", "get", sub)
    assert sub.json()["departments"][0]["code"] == cats[0].departments[0]
    assert public.get(f"/public/terms/categories/{first['slug']}/sub_categories/nope").status_code == 404
    assert public.get("/public/terms/categories/nope").json() == {"detail": "Niet gevonden."}


def test_private_categories_list_mains_and_subs_with_ids(private: httpx.Client, sia: Municipal) -> None:
    r = private.get("/private/categories/")
    assert_conforms("/signals/v1/private/categories/", "get", r)
    results = r.json()["results"]
    cats = sia.data.categorieen
    assert r.json()["count"] == len({c.main_slug for c in cats}) + len(cats)
    sub = next(c for c in results if "sia:parent" in c["_links"])
    parent = private.get(sub["_links"]["sia:parent"]["href"]).json()
    assert any(c.sub_slug == sub["slug"] and c.main_slug == parent["slug"] for c in cats)


# --- creating a melding --------------------------------------------------------------------------------


def valid_body(data: Municipality, base: str) -> dict[str, Any]:
    m = meldingen(data)[3]
    na = data.nummeraanduidingen[m.nummeraanduiding_id]
    return {
        "text": "Er ligt afval op de stoep.",
        "location": {
            "geometrie": {"type": "Point", "coordinates": [m.wgs84[1], m.wgs84[0]]},
            "address": {"openbare_ruimte": data.openbare_ruimten[na.openbare_ruimte_id].naam.upper(),
                        "huisnummer": str(na.huisnummer), "huisletter": na.huisletter,
                        "huisnummer_toevoeging": na.huisnummertoevoeging, "postcode": na.postcode.lower()},
        },
        "category": {"sub_category": f"{base}/public/terms/categories/{m.categorie.main_slug}/sub_categories/"
                                     f"{m.categorie.sub_slug}"},
        "reporter": {"email": "iemand@example.org", "sharing_allowed": True},
        "incident_date_start": "2026-01-05T10:00:00+01:00",
    }


def test_a_public_melding_is_created_validated_against_the_bag_and_listed(writable: Municipal) -> None:
    base = writable.urls["signalen"]
    body = valid_body(writable.data, base)
    with private_client(writable) as c:
        before = c.get("/private/signals").json()["count"]
        r = c.post("/public/signals", json=body)
        assert r.status_code == 201, r.text
        assert_conforms("/signals/v1/public/signals", "post", r)
        created = r.json()
        assert created["status"] == {"state": "OPEN", "state_display": "Open"}
        assert c.get(f"/public/signals/{created['signal_id']}").json() == created
        listing = c.get("/private/signals").json()
        assert listing["count"] == before + 1
        assert listing["results"][0]["id"] == created["id"]
        detail = c.get(f"/private/signals/{created['id']}").json()
    location = detail["location"]
    assert location["bag_validated"] is True
    assert location["address"]["postcode"] == body["location"]["address"]["postcode"].upper()
    assert isinstance(location["address"]["huisnummer"], int)
    assert location["extra_properties"] == {"original_address": body["location"]["address"]}
    assert detail["status"]["state"] == "m"
    assert detail["source"] == "online"
    assert detail["category"]["category_url"] == body["category"]["sub_category"]


def test_create_requires_the_serializer_fields(writable: Municipal) -> None:
    with httpx.Client(base_url=writable.urls["signalen"]) as c:
        r = c.post("/public/signals", json={})
        assert r.status_code == 400
        required = ["Dit veld is vereist."]
        assert r.json() == {"text": required, "location": required, "category": required, "reporter": required,
                            "incident_date_start": required}


@pytest.mark.parametrize(("change", "expected"), [
    ({"status": {"state": "o"}}, {"non_field_errors": ["Extra properties present: status"]}),
    ({"text": "   "}, {"text": ["Dit veld mag niet leeg zijn."]}),
    ({"incident_date_start": "gisteren"}, {"incident_date_start": [
        "Datetime heeft een ongeldig formaat, gebruik 1 van de volgende formaten: "
        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."]}),
    ({"category": {}}, {"category": ['Either the "sub_category" OR the "category_url" must be given']}),
    ({"category": {"sub_category": "/signals/v1/public/terms/categories/afval/sub_categories/nope"}},
     {"category": {"sub_category": ["Ongeldige hyperlink - Object bestaat niet."]}}),
    ({"category": {"sub_category": "https://elders.example/iets"}},
     {"category": {"sub_category": ["Ongeldige hyperlink - Geen URL match."]}}),
    ({"location": {"geometrie": {"type": "Point", "coordinates": [-70.0, 40.0]}}},
     {"location": {"geometrie": ["The location coordinates (WS84) are not inside the bounding box we are "
                                 "accepting signals for."]}}),
    ({"location": {"address": {"openbare_ruimte": "Nergensstraat", "huisnummer": 1}}},
     {"location": {"geometrie": ["Dit veld is vereist."]}}),
    ({"reporter": {"email": "geen-adres"}}, {"reporter": {"email": ["Voer een geldig e-mailadres in."]}}),
    ({"source": "Telefoon – CCA"}, {"source": ["Invalid source given for anonymous user"]}),
    ({"extra_properties": {}}, {"extra_properties": ["Ongeldige invoer."]}),
])
def test_create_validation_errors_are_drf_dicts(writable: Municipal, change: dict[str, Any],
                                                expected: dict[str, Any]) -> None:
    body = valid_body(writable.data, writable.urls["signalen"]) | change
    with httpx.Client(base_url=writable.urls["signalen"]) as c:
        r = c.post("/public/signals", json=body)
    assert r.status_code == 400
    assert r.json() == expected


def test_an_address_the_bag_does_not_know_is_refused(writable: Municipal) -> None:
    body = valid_body(writable.data, writable.urls["signalen"])
    body["location"]["address"] = {"openbare_ruimte": "Nergensstraat", "huisnummer": 999, "postcode": "9999ZZ"}
    with httpx.Client(base_url=writable.urls["signalen"]) as c:
        r = c.post("/public/signals", json=body)
    assert r.status_code == 400
    assert r.json() == {"location": {"location": "Niet-bestaand adres."}}


def test_create_wants_json(writable: Municipal) -> None:
    with httpx.Client(base_url=writable.urls["signalen"]) as c:
        r = c.post("/public/signals", content=b"text=hallo", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        assert r.json() == {"detail": 'Ongeldige media type "text/plain" in aanvraag.'}
        r = c.post("/public/signals", content=b"{nope", headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        assert r.json()["detail"].startswith("JSON parse error")


def test_anonymous_posts_are_throttled(writable: Municipal) -> None:
    sim = writable.simulators["signalen"]
    assert isinstance(sim, SignalenSimulator)
    sim.throttle_per_hour = len(next(iter(sim._posts.values()), [])) + 1
    try:
        with httpx.Client(base_url=writable.urls["signalen"]) as c:
            assert c.post("/public/signals", json={}).status_code == 400  # counted, though invalid
            r = c.post("/public/signals", json={})
        assert r.status_code == 429
        assert r.json()["detail"].startswith("Verzoek is afgeknepen. Verwacht beschikbaar over ")
        assert int(r.headers["retry-after"]) > 0
    finally:
        sim.throttle_per_hour = 60
        sim._posts.clear()
