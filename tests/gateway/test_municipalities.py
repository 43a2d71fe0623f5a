"""Several municipalities in one graph: the demo's three (Graafland 0999, the session's world; Graafmeer 0998 and
Graafsloot 0997, smaller, other seeds), each with its own ZGW, Signalen, Open Klant and Objecten simulators, over
one national BRP and BAG. Expected values come from each municipality's sources' own REST answers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest

from demo.issuer import EMPLOYEE_SCOPES
from demo.model import Municipality
from demo.runner import Municipal, others, running_in_thread, several
from graph.config import ConfigError, from_mapping, problems_of
from tests.conftest import TEST_SCALE, TEST_SEED, Gateway, employee_headers, gateway_mapping

CODES = ("0999", "0998", "0997")
NAMES = {"0999": "Graafland", "0998": "Graafmeer", "0997": "Graafsloot"}


@pytest.fixture(scope="module")
def three(municipality: Municipality) -> Iterator[Municipal]:
    """The session's municipality as the first of three, the other two beside it on free ports."""
    world = several(municipality, others(TEST_SEED, TEST_SCALE, 2), ephemeral_ports=True)
    with running_in_thread(world) as running:
        yield running


@pytest.fixture(scope="module")
async def gw(three: Municipal) -> AsyncIterator[Gateway]:
    gateway = Gateway(three)
    yield gateway
    await gateway.client.aclose()
    await gateway.app.state.sources.aclose()


@pytest.fixture(autouse=True)
def _calm(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults injected into this module's world end with the test that injected them."""
    yield
    if "three" in request.fixturenames:
        world: Municipal = request.getfixturevalue("three")
        for sim in {id(s): s for s in world.simulators.values()}.values():
            sim.behaviour.__init__()  # type: ignore[misc]


# -- the sources' own answers -------------------------------------------------------------------------------------


def source(code: str, role: str) -> str:
    """The configured name of a municipality's source for ``role`` (``zaken_0998``; Graafland's are plain)."""
    return role if code == "0999" else f"{role}_{code}"


def zgw_headers(world: Municipal, name: str) -> dict[str, str]:
    entry = world.config["sources"][name]
    claims = {"iss": "test", "iat": int(time.time()), "client_id": entry["client_id"], "user_id": "test",
              "user_representation": "Test"}
    return {"Authorization": f"Bearer {jwt.encode(claims, entry['secret'], algorithm='HS256')}",
            "Accept-Crs": "EPSG:4326", "Content-Crs": "EPSG:4326"}


async def zaken_count(world: Municipal, code: str, **params: str) -> int:
    name = source(code, "zaken")
    async with httpx.AsyncClient(headers=zgw_headers(world, name)) as client:
        answer = await client.get(world.urls[name] + "/zaken", params=params)
    answer.raise_for_status()
    return int(answer.json()["count"])


async def zaken_page(world: Municipal, code: str) -> list[dict[str, Any]]:
    name = source(code, "zaken")
    async with httpx.AsyncClient(headers=zgw_headers(world, name)) as client:
        answer = await client.get(world.urls[name] + "/zaken", params={"page": "1"})
    answer.raise_for_status()
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def zaken_of_person(world: Municipal, code: str, bsn: str) -> int:
    name = source(code, "zaken")
    async with httpx.AsyncClient(headers=zgw_headers(world, name)) as client:
        answer = await client.post(world.urls[name] + "/zaken/_zoek",
                                   json={"rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn": bsn})
    answer.raise_for_status()
    return int(answer.json()["count"])


async def meldingen_count(world: Municipal, code: str) -> int:
    name = source(code, "signalen")
    token = world.config["sources"][name]["token"]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        answer = await client.get(world.urls[name] + "/private/signals/", params={"page_size": "1"})
    answer.raise_for_status()
    return int(answer.json()["count"])


def errors_at(answer: dict[str, Any], *path: Any) -> list[dict[str, Any]]:
    return [e for e in answer.get("errors", []) if tuple(e.get("path", ()))[: len(path)] == path]


# -- queries over the three ------------------------------------------------------------------------------------------

OVERVIEW = """{
  gemeenten {
    nodes { code naam zaken(first: 1) { totalCount } meldingen(first: 1) { totalCount } }
    zakenStatistiek(groepeerOp: [OPEN]) {
      totaal volledig groepen { open aantal }
      perGemeente { gemeente { code } statistiek { totaal groepen { open aantal } } }
    }
    meldingenStatistiek(groepeerOp: []) { totaal volledig perGemeente { gemeente { code } statistiek { totaal } } }
  }
}"""


async def test_three_municipalities_answer_each_with_its_own_data_and_the_sums(gw: Gateway, three: Municipal) -> None:
    answer = await gw.query(OVERVIEW)
    assert "errors" not in answer, answer.get("errors")
    found = answer["data"]["gemeenten"]
    totals = {c: await zaken_count(three, c) for c in CODES}
    opened = {c: await zaken_count(three, c, einddatum__isnull="true") for c in CODES}
    meldingen = {c: await meldingen_count(three, c) for c in CODES}
    assert len(set(totals.values())) == 3  # three different municipalities, not one three times
    assert [(n["code"], n["naam"]) for n in found["nodes"]] == [(c, NAMES[c]) for c in CODES]
    assert {n["code"]: n["zaken"]["totalCount"] for n in found["nodes"]} == totals
    assert {n["code"]: n["meldingen"]["totalCount"] for n in found["nodes"]} == meldingen

    zaken = found["zakenStatistiek"]
    assert zaken["volledig"] is True
    assert zaken["totaal"] == sum(totals.values())
    assert {g["open"]: g["aantal"] for g in zaken["groepen"]} == {
        True: sum(opened.values()), False: sum(totals.values()) - sum(opened.values())}
    for part in zaken["perGemeente"]:
        code = part["gemeente"]["code"]
        assert part["statistiek"]["totaal"] == totals[code]
        assert {g["open"]: g["aantal"] for g in part["statistiek"]["groepen"]}[True] == opened[code]

    assert found["meldingenStatistiek"]["totaal"] == sum(meldingen.values())
    assert {p["gemeente"]["code"]: p["statistiek"]["totaal"]
            for p in found["meldingenStatistiek"]["perGemeente"]} == meldingen


async def test_the_sum_by_zaaktype_adds_up_the_municipalities_by_name(gw: Gateway, three: Municipal) -> None:
    answer = await gw.query("""{ gemeenten(codes: ["0998", "0997"]) { zakenStatistiek(groepeerOp: [ZAAKTYPE]) {
        totaal groepen { zaaktype aantal }
        perGemeente { gemeente { code } statistiek { groepen { zaaktype aantal } } } } } }""")
    assert "errors" not in answer, answer.get("errors")
    stats = answer["data"]["gemeenten"]["zakenStatistiek"]
    by_name: dict[str, int] = {}
    for part in stats["perGemeente"]:
        for group in part["statistiek"]["groepen"]:
            by_name[group["zaaktype"]] = by_name.get(group["zaaktype"], 0) + group["aantal"]
    assert {g["zaaktype"]: g["aantal"] for g in stats["groepen"]} == by_name
    assert stats["totaal"] == await zaken_count(three, "0998") + await zaken_count(three, "0997")
    assert len(stats["groepen"]) < sum(len(p["statistiek"]["groepen"]) for p in stats["perGemeente"])  # merged


async def test_links_below_a_municipality_ask_its_own_sources(gw: Gateway, three: Municipal) -> None:
    """Zaaktype, roles and persons under gemeente(code: "0998") come from Graafmeer's ZGW and the national BRP;
    Graafland's ZGW is not asked at all."""
    expected = [z["identificatie"] for z in (await zaken_page(three, "0998"))[:3]]
    gw.reset_counts()
    answer = await gw.query("""{ gemeente(code: "0998") { code naam zaken(first: 3) { nodes {
        identificatie zaaktype { url omschrijving } status { statustype { omschrijving } }
        rollen { persoon { burgerservicenummer verblijfplaats { adres { postcode } } } } } } } }""")
    assert "errors" not in answer, answer.get("errors")
    gemeente = answer["data"]["gemeente"]
    assert (gemeente["code"], gemeente["naam"]) == ("0998", "Graafmeer")
    nodes = gemeente["zaken"]["nodes"]
    assert [z["identificatie"] for z in nodes] == expected
    catalogi = three.urls["catalogi_0998"]
    assert all(z["zaaktype"]["url"].startswith(catalogi + "/") and z["zaaktype"]["omschrijving"] for z in nodes)
    persons = [r["persoon"] for z in nodes for r in z["rollen"] if r["persoon"]]
    assert persons and all(p["verblijfplaats"]["adres"]["postcode"].startswith("37") for p in persons)  # its BAG part
    assert gw.calls("zaken") == [] and gw.calls("catalogi") == []  # Graafland's ZGW
    assert gw.calls("zaken_0998") and gw.calls("catalogi_0998")
    assert gw.calls("zaken_0997") == []


async def test_one_municipality_down_nulls_only_its_part_and_names_it(gw: Gateway, three: Municipal) -> None:
    three.simulators["zaken_0998"].behaviour.update({"down": True})
    answer = await gw.query(OVERVIEW)
    found = answer["data"]["gemeenten"]
    by_code = {n["code"]: n for n in found["nodes"]}
    assert by_code["0998"]["zaken"] == {"totalCount": None}  # a connection fetches lazily: its count is null
    assert by_code["0998"]["meldingen"]["totalCount"] == await meldingen_count(three, "0998")  # its Signalen is up
    for code in ("0999", "0997"):
        assert by_code[code]["zaken"]["totalCount"] == await zaken_count(three, code)

    errors = errors_at(answer, "gemeenten", "nodes", 1, "zaken", "totalCount")
    assert [e["extensions"] for e in errors] == [
        {"code": "UPSTREAM_UNAVAILABLE", "source": "zaken_0998", "gemeente": "0998"}]
    stats = found["zakenStatistiek"]
    assert stats["volledig"] is False
    assert stats["totaal"] == await zaken_count(three, "0999") + await zaken_count(three, "0997")
    parts = {p["gemeente"]["code"]: p["statistiek"] for p in stats["perGemeente"]}
    assert parts["0998"] is None and parts["0999"] is not None and parts["0997"] is not None
    failed = errors_at(answer, "gemeenten", "zakenStatistiek", "perGemeente", 1, "statistiek")
    assert [e["extensions"]["gemeente"] for e in failed] == ["0998"]
    assert {e["extensions"].get("gemeente") for e in answer["errors"]} == {"0998"}  # nothing else failed


async def test_a_persons_zaken_are_gathered_across_municipalities(gw: Gateway, three: Municipal) -> None:
    """Someone from Graafmeer, known to the national BRP: their zaken there, none elsewhere (checked at each
    Zaken API), and their address in the national BAG."""
    graafmeer = three.others["0998"]
    bsn = next(r.bsn for z in graafmeer.zaken.values() for r in z.rollen if r.bsn)
    expected = {c: await zaken_of_person(three, c, bsn) for c in CODES}
    assert expected["0998"] > 0
    answer = await gw.query("""query($bsn: String!) { persoon(burgerservicenummer: $bsn) {
        naam { volledigeNaam } verblijfplaats { adres { woonplaatsNaam } }
        zakenPerGemeente { gemeente { code naam } zaken { totalCount nodes { zaaktype { url } } } } } }""",
                            {"bsn": bsn})
    assert "errors" not in answer, answer.get("errors")
    persoon = answer["data"]["persoon"]
    assert persoon["naam"]["volledigeNaam"]
    assert persoon["verblijfplaats"]["adres"]["woonplaatsNaam"] in {"Graafmeer", "Meerdijk", "Oud-Meer"}
    parts = {p["gemeente"]["code"]: p for p in persoon["zakenPerGemeente"]}
    assert {c: p["zaken"]["totalCount"] for c, p in parts.items()} == expected
    assert all(n["zaaktype"]["url"].startswith(three.urls["catalogi_0998"]) for n in parts["0998"]["zaken"]["nodes"])


async def test_a_persons_zaken_elsewhere_survive_one_municipality_failing(gw: Gateway, three: Municipal) -> None:
    graafmeer = three.others["0998"]
    bsn = next(r.bsn for z in graafmeer.zaken.values() for r in z.rollen if r.bsn)
    three.simulators["zaken_0997"].behaviour.update({"error_rate": 1.0, "error_status": 503})
    answer = await gw.query("""query($bsn: String!) { persoon(burgerservicenummer: $bsn) {
        zakenPerGemeente { gemeente { code } zaken { totalCount } } } }""", {"bsn": bsn})
    parts = {p["gemeente"]["code"]: p["zaken"] for p in answer["data"]["persoon"]["zakenPerGemeente"]}
    assert parts["0997"] == {"totalCount": None}
    assert parts["0998"]["totalCount"] == await zaken_of_person(three, "0998", bsn)
    assert [e["extensions"] for e in answer["errors"]] == [
        {"code": "UPSTREAM_ERROR", "source": "zaken_0997", "status": 503, "gemeente": "0997"}]


async def test_a_token_sees_only_the_municipalities_its_scopes_name(gw: Gateway, three: Municipal) -> None:
    headers = employee_headers(three, scopes=[*EMPLOYEE_SCOPES, "gemeente:0998"])
    gw.reset_counts()
    answer = await gw.query("{ gemeenten { nodes { code zaken(first: 1) { totalCount } } } }", headers=headers)
    assert "errors" not in answer, answer.get("errors")
    assert [n["code"] for n in answer["data"]["gemeenten"]["nodes"]] == ["0998"]

    refused = await gw.query('{ gemeente(code: "0997") { code } }', headers=headers)
    assert refused["data"]["gemeente"] is None
    assert refused["errors"][0]["extensions"] == {"code": "FORBIDDEN", "gemeente": "0997"}

    # the top-level fields serve Graafland (the default): this token may not reach it there either
    top = await gw.query("{ zaken(first: 1) { totalCount } }", headers=headers)
    assert top["data"]["zaken"]["totalCount"] is None
    assert top["errors"][0]["extensions"] == {"code": "FORBIDDEN", "gemeente": "0999"}
    assert gw.calls("zaken") == [] and gw.calls("zaken_0997") == []


async def test_bad_municipality_codes_are_clear_errors(gw: Gateway) -> None:
    answer = await gw.query('{ a: gemeente(code: "363") { code } b: gemeenten(codes: ["0998", "1234"]) { nodes '
                            "{ code } } }")
    assert answer["data"] == {"a": None, "b": None}
    messages = {e["path"][0]: (e["extensions"]["code"], e["message"]) for e in answer["errors"]}
    assert messages["a"][0] == "BAD_USER_INPUT" and "'363' is not a gemeentecode" in messages["a"][1]
    assert messages["b"][0] == "BAD_USER_INPUT" and "'1234'" in messages["b"][1] and "0998" in messages["b"][1]


async def test_one_municipality_gateway_has_none_to_open(gateway: Gateway) -> None:
    """Without [municipalities] the gateway is one municipality, at its top-level fields only."""
    answer = await gateway.query('{ gemeente(code: "0999") { code } gemeenten { nodes { code } } }')
    assert answer["data"] == {"gemeente": None, "gemeenten": {"nodes": []}}
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- the configuration -------------------------------------------------------------------------------------------


def test_configuration_mistakes_are_one_line_each(three: Municipal) -> None:
    import schema.root  # noqa: F401  (the resolvers declare their sources and roles)

    raw = gateway_mapping(three.config)
    raw["municipalities"] = {
        "default": "0123",
        "0998": {"naam": "Graafmeer", "sources": {"zaken": "zaken_0998", "zakn": "catalogi_0998"}},
        "363": {"naam": "Kort", "sources": {"zaken": "zaken_0997"}},
        "0997": {"sources": {"signalen": "signalen_9999"}, "nam": "x"},
    }
    with pytest.raises(ConfigError) as raised:
        from_mapping(raw)
    problems = raised.value.problems
    assert "[municipalities.363] '363' is not a CBS gemeentecode (four digits, such as '0363')" in problems
    assert "[municipalities.0997] naam is missing (the municipality's name)" in problems
    assert "[municipalities.0997] unknown key 'nam' (did you mean 'naam'?)" in problems
    unknown = "[municipalities.0997.sources] signalen = 'signalen_9999': unknown source"
    assert any(p.startswith(unknown) for p in problems)
    assert any(p.startswith("[municipalities] default = '0123' is not one of the municipalities") for p in problems)

    good = three.config["municipalities"]
    raw["municipalities"] = {**good, "0998": {**good["0998"], "sources": {**good["0998"]["sources"],
                                                                           "zakn": "catalogi_0998"}}}
    assert problems_of(from_mapping(raw)) == [
        "[municipalities.0998.sources] unknown role 'zakn' (did you mean 'zaken'?)"]


async def test_a_municipalitys_part_is_in_the_requests_processing_log(three: Municipal, tmp_path: Path) -> None:
    """The child context of a municipality writes into the request's ledger: one record per person, written
    when the operation ends, like any other."""
    path = tmp_path / "logboek.jsonl"
    config = {**three.config, "gateway": {**three.config["gateway"], "logboek": {"sink": "jsonl", "path": str(path)}}}
    logged = Gateway(three, config=config)
    try:
        answer = await logged.query("""{ gemeente(code: "0997") { zaken(first: 5) { nodes {
            rollen { persoon { burgerservicenummer } } } } } }""")
    finally:
        await logged.client.aclose()
        await logged.app.state.sources.aclose()
    assert "errors" not in answer, answer.get("errors")
    persons = {r["persoon"]["burgerservicenummer"] for z in answer["data"]["gemeente"]["zaken"]["nodes"]
               for r in z["rollen"] if r["persoon"]}
    assert persons
    found = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert sorted(r["attributes"]["dpl.core.data_subject_id"] for r in found) == sorted(persons)
    assert all("brp" in r["attributes"]["dpl.gemeentegraaf.sources"] for r in found)
    assert len({r["parent_operation_id"] for r in found}) == 1  # one operation


def test_gemeentegraaf_check_names_each_mistake_on_a_line(tmp_path: Path) -> None:
    config = tmp_path / "gemeenten.toml"
    config.write_text("""
[gateway.auth]
anonymous = true

[sources.zaken_0998]
url = "http://127.0.0.1:9/zaken/api/v1"
auth = "none"

[municipalities.0998]
naam = "Graafmeer"
sources = { zaken = "zaken_0998", signalen = "signalen_0998" }

[municipalities.98]
naam = "Kort"
sources = { zakn = "zaken_0998" }
""")
    done = subprocess.run([str(Path(sys.executable).parent / "gemeentegraaf"), "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"{config}: [municipalities.0998.sources] signalen = 'signalen_0998': unknown source; "
        "no [sources.signalen_0998] table",
        f"{config}: [municipalities.98] '98' is not a CBS gemeentecode (four digits, such as '0363')",
    ]
    config.write_text(config.read_text().replace(', signalen = "signalen_0998"', "").replace(".98]", ".0997]"))
    done = subprocess.run([str(Path(sys.executable).parent / "gemeentegraaf"), "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"{config}: [municipalities.0997.sources] unknown role 'zakn' (did you mean 'zaken'?)"]
