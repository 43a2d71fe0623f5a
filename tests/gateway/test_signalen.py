"""The Signalen graph: meldingen, cursors, the address links and the dashboard statistics, through real HTTP."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
import pytest

from demo.model import Melding as DemoMelding
from demo.runner import Municipal
from resolvers import signalen as sia
from tests.conftest import Gateway

LOCAL = ZoneInfo("Europe/Amsterdam")
MELDING_FIELDS = """
  id signalId tekst aangemaaktOp bron prioriteit
  status { code omschrijving }
  categorie { hoofdcategorie subcategorie hoofdcategorieSlug subcategorieSlug }
  locatie { lat lon buurt stadsdeel adresTekst adres { nummeraanduidingIdentificatie postcode huisnummer } }
"""


def rest(demo: Municipal, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    token = demo.config["sources"]["signalen"]["token"]
    response = httpx.get(demo.urls["signalen"] + path, params=params, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def demo_simulators(gateway: Gateway) -> list[Any]:
    return list({id(s): s for s in gateway.world.simulators.values()}.values())


def list_calls(gateway: Gateway) -> list[dict[str, Any]]:
    return [c for c in gateway.calls("signalen") if c["route"].rstrip("/").endswith("/private/signals")]


def query_of(call: dict[str, Any]) -> list[tuple[str, str]]:
    return parse_qsl(call["query"], keep_blank_values=True)


def period(demo: Municipal) -> tuple[dt.datetime, dt.datetime]:
    """A window of about two months inside the data, so filtered answers are neither empty nor everything."""
    moments = sorted(m.created_at for m in demo.data.meldingen.values())
    return moments[len(moments) // 3], moments[len(moments) // 2]


def in_period(m: DemoMelding, start: dt.datetime, end: dt.datetime) -> bool:
    return start <= m.created_at <= end


def newest_first(found: list[DemoMelding]) -> list[str]:
    return [str(m.id) for m in sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)]


# -- one melding ---------------------------------------------------------------------------------------------


async def test_melding_agrees_with_the_rest_answer(gateway: Gateway, demo: Municipal) -> None:
    melding = demo.data.meldingen[7]
    result = await gateway.query(f"{{ melding(id: 7) {{ {MELDING_FIELDS} }} }}")
    assert "errors" not in result, result.get("errors")
    got = result["data"]["melding"]
    signal = rest(demo, "/private/signals/7")
    assert got["id"] == "7"
    assert got["signalId"] == signal["signal_id"] == melding.signal_id
    assert got["tekst"] == signal["text"]
    assert got["status"] == {"code": signal["status"]["state"], "omschrijving": signal["status"]["state_display"]}
    assert got["categorie"] == {"hoofdcategorie": signal["category"]["main"], "subcategorie": signal["category"]["sub"],
                                "hoofdcategorieSlug": signal["category"]["main_slug"],
                                "subcategorieSlug": signal["category"]["sub_slug"]}
    location = signal["location"]
    assert (got["locatie"]["lon"], got["locatie"]["lat"]) == tuple(location["geometrie"]["coordinates"])
    assert got["locatie"]["buurt"] == location["buurt_code"] == melding.buurt_code
    assert got["locatie"]["stadsdeel"] == location["stadsdeel"]
    assert got["locatie"]["adresTekst"] == location["address_text"]
    assert dt.datetime.fromisoformat(got["aangemaaktOp"]) == melding.created_at
    assert got["bron"] == signal["source"]
    assert got["prioriteit"] == signal["priority"]["priority"]
    # Signalen keeps no BAG id: the gateway finds the exact BAG address by postcode and number
    assert got["locatie"]["adres"]["nummeraanduidingIdentificatie"] == melding.nummeraanduiding_id


async def test_melding_by_signal_uuid(gateway: Gateway, demo: Municipal) -> None:
    melding = demo.data.meldingen[11]
    result = await gateway.query("query($id: ID!) { melding(id: $id) { id signalId } }", {"id": melding.signal_id})
    assert "errors" not in result, result.get("errors")
    assert result["data"]["melding"] == {"id": "11", "signalId": melding.signal_id}


async def test_unknown_melding_is_null_and_a_bad_id_is_refused(gateway: Gateway) -> None:
    result = await gateway.query('{ a: melding(id: "99999999") { id } '
                                 'b: melding(id: "00000000-0000-4000-8000-000000000000") { id } }')
    assert "errors" not in result, result.get("errors")
    assert result["data"] == {"a": None, "b": None}
    result = await gateway.query('{ melding(id: "SIG-12") { id } }')
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_status_history_only_when_selected_and_once_per_melding(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ melding(id: 3) { id } }")
    assert "errors" not in result
    assert not [c for c in gateway.calls("signalen") if c["path"].rstrip("/").endswith("/history")]

    gateway.reset_counts()
    result = await gateway.query("{ a: melding(id: 3) { statusgeschiedenis { code omschrijving tijdstip } } "
                                 "b: melding(id: 3) { statusgeschiedenis { code } } }")
    assert "errors" not in result, result.get("errors")
    expected = [s.state for s in demo.data.meldingen[3].statussen]
    assert [e["code"] for e in result["data"]["a"]["statusgeschiedenis"]] == expected
    assert [e["code"] for e in result["data"]["b"]["statusgeschiedenis"]] == expected
    history = [c for c in gateway.calls("signalen") if c["path"].rstrip("/").endswith("/history")]
    assert len(history) == 1
    assert len([c for c in gateway.calls("signalen") if c["path"].rstrip("/").endswith("/signals/3")]) == 1


# -- lists and cursors -----------------------------------------------------------------------------------------


async def test_meldingen_filters_are_applied_by_the_source(gateway: Gateway, demo: Municipal) -> None:
    start, end = period(demo)
    sample = next(m for m in demo.data.meldingen.values() if in_period(m, start, end))
    sub, state, buurt = sample.categorie.sub_slug, sample.statussen[-1].state, sample.buurt_code
    expected = [m for m in demo.data.meldingen.values() if in_period(m, start, end)
                and m.categorie.sub_slug == sub and m.statussen[-1].state == state and m.buurt_code == buurt]
    gateway.reset_counts()
    result = await gateway.query(
        "query($c: String, $s: [String!], $b: String, $v: DateTime, $t: DateTime) {"
        " meldingen(first: 100, categorie: $c, status: $s, buurt: $b, vanaf: $v, tot: $t) {"
        " totalCount nodes { id categorie { subcategorieSlug } status { code } locatie { buurt } } } }",
        {"c": sub, "s": [state], "b": buurt, "v": start.isoformat(), "t": end.isoformat()})
    assert "errors" not in result, result.get("errors")
    found = result["data"]["meldingen"]
    assert found["totalCount"] == len(expected)
    assert [n["id"] for n in found["nodes"]] == newest_first(expected)
    calls = list_calls(gateway)
    assert len(calls) == 1
    params = dict(query_of(calls[0]))
    assert params["category_slug"] == sub
    assert params["status"] == state
    assert params["buurt_code"] == buurt
    assert "created_after" in params
    assert "created_before" in params


async def test_hoofdcategorie_filter(gateway: Gateway, demo: Municipal) -> None:
    main = demo.data.categorieen[0].main_slug
    expected = [m for m in demo.data.meldingen.values() if m.categorie.main_slug == main]
    result = await gateway.query(f'{{ meldingen(first: 5, hoofdcategorie: "{main}") {{ totalCount nodes {{ id }} }} }}')
    assert "errors" not in result, result.get("errors")
    assert result["data"]["meldingen"]["totalCount"] == len(expected)
    assert [n["id"] for n in result["data"]["meldingen"]["nodes"]] == newest_first(expected)[:5]


async def test_cursor_pages_have_no_duplicates_or_gaps(gateway: Gateway, demo: Municipal) -> None:
    buurt = next(iter(demo.data.buurten))
    start, end = period(demo)
    expected = newest_first([m for m in demo.data.meldingen.values()
                             if m.buurt_code == buurt and in_period(m, start, end)])
    assert len(expected) > 14
    seen: list[str] = []
    after: str | None = None
    gateway.reset_counts()
    pages = 0
    while True:
        result = await gateway.query(
            "query($a: String, $b: String, $v: DateTime, $t: DateTime) { meldingen(first: 7, after: $a, buurt: $b,"
            " vanaf: $v, tot: $t) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }",
            {"a": after, "b": buurt, "v": start.isoformat(), "t": end.isoformat()})
        assert "errors" not in result, result.get("errors")
        conn = result["data"]["meldingen"]
        assert conn["totalCount"] == len(expected)
        seen.extend(e["node"]["id"] for e in conn["edges"])
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == expected
    # aligned windows are one upstream page each, of exactly the window's size
    calls = list_calls(gateway)
    assert len(calls) == pages == math.ceil(len(expected) / 7)
    assert {dict(query_of(c))["page_size"] for c in calls} == {"7"}


async def test_unaligned_window_costs_at_most_two_small_pages(gateway: Gateway, demo: Municipal) -> None:
    everything = newest_first(list(demo.data.meldingen.values()))
    first = await gateway.query("{ meldingen(first: 3) { edges { cursor } } }")
    cursor = first["data"]["meldingen"]["edges"][-1]["cursor"]  # offset 2: the next window starts at 3
    gateway.reset_counts()
    result = await gateway.query(f'{{ meldingen(first: 10, after: "{cursor}") {{ nodes {{ id }} }} }}')
    assert "errors" not in result, result.get("errors")
    assert [n["id"] for n in result["data"]["meldingen"]["nodes"]] == everything[3:13]
    calls = list_calls(gateway)
    assert len(calls) == 1  # page size 13 puts offsets 3..12 on page 1
    assert int(dict(query_of(calls[0]))["page_size"]) <= 20


async def test_bag_addresses_of_a_page_are_fetched_once_each(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query("{ meldingen(first: 40) { nodes { id locatie { adres { nummeraanduidingIdentificatie }"
                                 " } } } }")
    assert "errors" not in result, result.get("errors")
    nodes = result["data"]["meldingen"]["nodes"]
    for node in nodes:
        assert node["locatie"]["adres"]["nummeraanduidingIdentificatie"] == \
            demo.data.meldingen[int(node["id"])].nummeraanduiding_id
    distinct = {demo.data.meldingen[int(n["id"])].nummeraanduiding_id for n in nodes}
    assert len(gateway.calls("bag")) <= len(distinct)
    assert len(gateway.calls("signalen")) == 1


async def test_meldingen_at_an_address(gateway: Gateway, demo: Municipal) -> None:
    per_address = Counter(m.nummeraanduiding_id for m in demo.data.meldingen.values())
    address, _ = per_address.most_common(1)[0]
    expected = newest_first([m for m in demo.data.meldingen.values() if m.nummeraanduiding_id == address])
    gateway.reset_counts()
    result = await gateway.query(f'{{ adres(nummeraanduidingIdentificatie: "{address}") {{ meldingen {{ id }} }} }}')
    assert "errors" not in result, result.get("errors")
    assert [m["id"] for m in result["data"]["adres"]["meldingen"]] == expected
    calls = list_calls(gateway)
    assert len(calls) == 1
    assert "address_text" in dict(query_of(calls[0]))


# -- statistics ------------------------------------------------------------------------------------------------


STATS = """
query($g: [MeldingDimensie!]!, $v: DateTime, $t: DateTime, $c: String, $s: [String!], $b: String) {
  meldingenStatistiek(groepeerOp: $g, vanaf: $v, tot: $t, categorie: $c, status: $s, buurt: $b) {
    totaal strategie groepen { categorie status buurt week aantal } } }
"""


def week_of(m: DemoMelding) -> str:
    year, week, _ = m.created_at.astimezone(LOCAL).isocalendar()
    return f"{year}-W{week:02d}"


async def test_counts_per_category_use_one_count_call_each(gateway: Gateway, demo: Municipal) -> None:
    start, end = period(demo)
    chosen = [m for m in demo.data.meldingen.values() if in_period(m, start, end)]
    expected = Counter(m.categorie.sub_slug for m in chosen)
    subs = {c.sub_slug for c in demo.data.categorieen}
    gateway.reset_counts()
    result = await gateway.query(STATS, {"g": ["CATEGORIE"], "v": start.isoformat(), "t": end.isoformat()})
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["meldingenStatistiek"]
    assert stats["strategie"] == "count"
    assert stats["totaal"] == len(chosen)
    assert {g["categorie"]: g["aantal"] for g in stats["groepen"]} == dict(expected)
    assert [g["categorie"] for g in stats["groepen"]] == sorted(expected)
    assert all(g["status"] is None and g["buurt"] is None and g["week"] is None for g in stats["groepen"])
    calls = gateway.calls("signalen")
    counts = list_calls(gateway)
    assert all(dict(query_of(c))["page_size"] == "1" for c in counts)
    assert len(counts) == len(subs) + 1  # one per sub category, one for the total
    assert len(calls) == len(counts) + 1  # and the category list


async def test_counts_per_status_within_a_category(gateway: Gateway, demo: Municipal) -> None:
    sub = demo.data.categorieen[2].sub_slug
    expected = Counter(m.statussen[-1].state for m in demo.data.meldingen.values() if m.categorie.sub_slug == sub)
    gateway.reset_counts()
    result = await gateway.query(STATS, {"g": ["STATUS"], "c": sub})
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["meldingenStatistiek"]
    assert stats["strategie"] == "count"
    assert {g["status"]: g["aantal"] for g in stats["groepen"]} == dict(expected)
    assert len(gateway.calls("signalen")) == len(sia.STATES) + 1  # no category list needed


async def test_without_totaal_no_total_call(gateway: Gateway, demo: Municipal) -> None:
    sub = demo.data.categorieen[0].sub_slug
    gateway.reset_counts()
    result = await gateway.query(f'{{ meldingenStatistiek(groepeerOp: [STATUS], categorie: "{sub}") '
                                 '{ groepen { status aantal } } }')
    assert "errors" not in result, result.get("errors")
    assert len(gateway.calls("signalen")) == len(sia.STATES)


async def test_no_grouping_is_one_count(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    result = await gateway.query(STATS, {"g": []})
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["meldingenStatistiek"]
    assert stats["totaal"] == len(demo.data.meldingen)
    assert stats["groepen"] == [{"categorie": None, "status": None, "buurt": None, "week": None,
                                 "aantal": len(demo.data.meldingen)}]
    assert len(gateway.calls("signalen")) == 1


async def test_week_and_status_are_scanned_at_the_largest_page(gateway: Gateway, demo: Municipal) -> None:
    expected = Counter((week_of(m), m.statussen[-1].state) for m in demo.data.meldingen.values())
    gateway.reset_counts()
    result = await gateway.query(STATS, {"g": ["WEEK", "STATUS"]})
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["meldingenStatistiek"]
    assert stats["strategie"] == "scan"
    assert stats["totaal"] == len(demo.data.meldingen)
    assert {(g["week"], g["status"]): g["aantal"] for g in stats["groepen"]} == dict(expected)
    keys = [(g["week"], g["status"]) for g in stats["groepen"]]
    assert keys == sorted(keys)
    calls = list_calls(gateway)
    assert len(calls) == math.ceil(len(demo.data.meldingen) / sia.SCAN_PAGE_SIZE)
    assert {dict(query_of(c))["page_size"] for c in calls} == {str(sia.SCAN_PAGE_SIZE)}
    assert len(gateway.calls("signalen")) == len(calls)  # no category list: counting could not win


async def test_category_by_buurt_is_scanned_within_the_filter(gateway: Gateway, demo: Municipal) -> None:
    start, end = period(demo)
    chosen = [m for m in demo.data.meldingen.values() if in_period(m, start, end)]
    expected = Counter((m.categorie.sub_slug, m.buurt_code) for m in chosen)
    gateway.reset_counts()
    result = await gateway.query(STATS, {"g": ["CATEGORIE", "BUURT"], "v": start.isoformat(), "t": end.isoformat()})
    assert "errors" not in result, result.get("errors")
    stats = result["data"]["meldingenStatistiek"]
    assert stats["strategie"] == "scan"
    assert {(g["categorie"], g["buurt"]): g["aantal"] for g in stats["groepen"]} == dict(expected)
    assert len(list_calls(gateway)) == math.ceil(len(chosen) / sia.SCAN_PAGE_SIZE)


async def test_too_large_a_scan_is_refused(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sia, "MAX_SCAN_PAGES", 1)
    gateway.reset_counts()
    result = await gateway.query(STATS, {"g": ["WEEK"]})
    assert result["data"] == {"meldingenStatistiek": None}
    assert result["errors"][0]["extensions"]["code"] == "RESULT_TOO_LARGE"
    assert result["errors"][0]["path"] == ["meldingenStatistiek"]
    assert len(gateway.calls("signalen")) == 1  # refused after the first page told the count


# -- bad arguments and failing sources -------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "variables"), [
    (STATS, {"g": ["STATUS"], "v": "2025-03-01T00:00:00+01:00", "t": "2025-02-01T00:00:00+01:00"}),
    (STATS, {"g": ["STATUS"], "s": ["gemeld"]}),
    ("{ meldingen(status: [\"x\"]) { totalCount } }", None),
    ("{ meldingen(vanaf: \"2025-03-01T00:00:00Z\", tot: \"2025-01-01T00:00:00Z\") { totalCount } }", None),
    ("{ meldingen(categorie: \"boom\", hoofdcategorie: \"afval\") { totalCount } }", None),
    ("{ meldingen(categorie: \"bestaat-niet\") { totalCount } }", None),
    ("{ meldingen(first: 101) { totalCount } }", None),
])
async def test_bad_arguments_are_refused(gateway: Gateway, query: str, variables: dict[str, Any] | None) -> None:
    result = await gateway.query(query, variables)
    assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", result["errors"]


async def test_failing_source_nulls_only_that_field(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["signalen"].behaviour.update({"error_rate": 1.0})
    result = await gateway.query('{ melding(id: 5) { id } adres(nummeraanduidingIdentificatie: "'
                                 + demo.data.meldingen[5].nummeraanduiding_id + '") { postcode } }')
    assert result["data"]["melding"] is None
    assert result["data"]["adres"]["postcode"]  # BAG still answers
    error = result["errors"][0]
    assert error["path"] == ["melding"]
    assert error["extensions"] == {"code": "UPSTREAM_ERROR", "source": "signalen", "status": 503}


async def test_failing_source_in_statistics(gateway: Gateway, demo: Municipal) -> None:
    demo.simulators["signalen"].behaviour.update({"error_rate": 1.0})
    result = await gateway.query(STATS, {"g": ["STATUS"], "c": demo.data.categorieen[0].sub_slug})
    assert result["data"] == {"meldingenStatistiek": None}
    assert {e["extensions"]["code"] for e in result["errors"]} == {"UPSTREAM_ERROR"}
    assert all(e["extensions"]["source"] == "signalen" and e["extensions"]["status"] == 503
               for e in result["errors"])


# -- pure functions ----------------------------------------------------------------------------------------------


def test_plan_counts_few_known_combinations_and_scans_the_rest() -> None:
    flt = sia.filters(categorie=None, status=["m", "o"])
    refs = [sia.CategoryRef("afval", s) for s in ("grofvuil", "huisafval", "container-is-vol")]
    known = sia.known_values(["categorie", "status"], flt, refs)
    chosen = sia.plan(["categorie", "status"], known)
    assert chosen.strategy == "count"
    assert chosen.combinations is not None
    assert len(chosen.combinations) == 6
    assert sia.plan(["status", "week"], known).strategy == "scan"
    assert sia.plan(["buurt"], sia.known_values(["buurt"], flt, None)).strategy == "scan"
    assert sia.plan(["status"], sia.known_values(["status"], sia.filters(), None), limit=10).strategy == "scan"
    assert sia.plan([], {}).combinations == [()]


def test_a_shared_sub_slug_cannot_be_counted_within_one_main() -> None:
    refs = [sia.CategoryRef("afval", "overig"), sia.CategoryRef("schoon", "overig")]
    assert "categorie" not in sia.known_values(["categorie"], sia.filters(hoofdcategorie="afval"), refs)
    assert sia.known_values(["categorie"], sia.filters(), refs)["categorie"] == ["overig"]


def test_combination_params_replace_the_grouped_filters() -> None:
    flt = sia.filters(hoofdcategorie="afval", status=["m", "o"], vanaf="2025-01-01T00:00:00+01:00")
    params = sia.combination_params(flt, ["categorie", "status"], ("grofvuil", "o"))
    assert ("category_slug", "grofvuil") in params
    assert ("status", "o") in params
    assert not [p for p in params if p[0] == "maincategory_slug"]  # Signalen would OR it with the sub slug
    assert [p for p in params if p[0] == "status"] == [("status", "o")]


def test_aggregate_skips_repeats_and_sorts_nulls_last() -> None:
    items = [
        {"id": 1, "status": {"state": "o"}, "location": {"buurt_code": "BU2"}},
        {"id": 2, "status": {"state": "m"}, "location": {"buurt_code": None}},
        {"id": 1, "status": {"state": "o"}, "location": {"buurt_code": "BU2"}},
        {"id": 3, "status": {"state": "m"}, "location": {"buurt_code": "BU1"}},
        "not a melding",
    ]
    counts: dict[sia.Key, int] = {}
    sia.aggregate(items, ["buurt"], counts, set())
    assert sia.sorted_groups(counts) == [(("BU1",), 1), (("BU2",), 1), ((None,), 1)]


def test_window_page_size_fits_the_window_on_one_page() -> None:
    assert sia.window_page_size(0, 20) == 20
    assert sia.window_page_size(40, 20) == 20
    assert sia.window_page_size(3, 10) == 13
    for offset in range(0, 300, 7):
        for count in (1, 5, 20, 100):
            size = sia.window_page_size(offset, count)
            pages = (offset + count - 1) // size - offset // size + 1
            assert pages <= 2
            assert size <= 2 * count
    assert sia.window_page_size(5, 0) == 1


def test_iso_week_is_amsterdam_time() -> None:
    assert sia.iso_week("2026-02-15T23:30:00+00:00") == "2026-W08"  # Sunday in UTC, Monday 00:30 in Amsterdam
    assert sia.iso_week("2026-02-15T22:30:00+00:00") == "2026-W07"
    assert sia.iso_week("2025-12-29T00:00:00+01:00") == "2026-W01"
    assert sia.iso_week("garbage") is None


def test_category_refs_read_the_parent_link() -> None:
    rows = [
        {"id": 1, "slug": "afval", "_links": {"self": {"href": "x/private/categories/1"}}},
        {"id": 2, "slug": "grofvuil", "_links": {"sia:parent": {"href": "http://h/private/categories/1/"}}},
        {"id": 3, "slug": "boom", "_links": {"sia:parent": {"href": "",
                                                            "public": "http://h/public/terms/categories/groen"}}},
    ]
    assert sia.category_refs(rows) == [sia.CategoryRef("afval", "grofvuil"), sia.CategoryRef("groen", "boom")]


def test_address_needle_and_exact_match() -> None:
    assert sia.address_needle(12, "A", "2", "1234AB") == " 12A-2 1234AB"
    location = {"address": {"postcode": "1234AB", "huisnummer": "12", "huisletter": "", "huisnummer_toevoeging": ""}}
    assert sia.same_address(location, "1234AB", 12, None, None)
    assert not sia.same_address(location, "1234AB", 12, "A", None)
