"""Federation: the graph as an Apollo Federation v2 subgraph at ``/subgraph/graphql``.

First without a router: ``_service`` and ``_entities`` batched like the normal graph, with the same guards and
clear errors. Then with real parts from the npm registry (``tests/federation/package.json``): a supergraph
composed by ``@theguild/federation-composition`` from this subgraph and a small second one
(``tests/federation/verkiezingen.py``), served by Hive Gateway, answering a query that joins both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from strawberry.printer import print_schema

from demo.model import Persoon as DemoPersoon
from demo.runner import Municipal, free_port
from graph.app import create_app
from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError
from graph.federation import federation_settings
from schema.federation import subgraph
from schema.root import schema as root_schema
from tests.conftest import LOGBOEK, PURPOSE, Gateway, employee_headers, gateway_settings, serving
from tests.federation import verkiezingen
from tests.gateway.test_zaken import zgw_headers

SUBGRAPH = "/subgraph/graphql"
PEERS = Path(__file__).resolve().parents[1] / "federation"
ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename %s } }"


async def ask(gateway: Gateway, query: str, variables: dict[str, Any] | None = None,
              headers: dict[str, str | None] | None = None) -> httpx.Response:
    request = gateway.client.build_request("POST", SUBGRAPH, json={"query": query, "variables": variables or {}})
    for name, value in (headers or {}).items():
        if value is None:
            request.headers.pop(name, None)
        else:
            request.headers[name] = value
    return await gateway.client.send(request)


async def entities(gateway: Gateway, representations: list[Any], selection: str,
                   headers: dict[str, str | None] | None = None) -> dict[str, Any]:
    answer = await ask(gateway, ENTITIES % selection, {"r": representations}, headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def persons(demo: Municipal, count: int) -> list[DemoPersoon]:
    found = sorted(demo.data.personen.values(), key=lambda p: p.bsn)[:count]
    assert len(found) == count
    return found


def brp_itself(demo: Municipal, bsns: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
    """The BRP simulator's own REST answer, asked directly (not through the gateway)."""
    table = demo.config["sources"]["brp"]
    answer = httpx.post(f"{demo.urls['brp']}/personen", headers={table["header"]: table["key"]},
                        json={"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns,
                              "fields": ["burgerservicenummer", *fields]})
    assert answer.status_code == 200, answer.text
    return {p["burgerservicenummer"]: p for p in answer.json()["personen"]}


def requests_seen(demo: Municipal, source: str) -> list[dict[str, Any]]:
    """What the source's control plane (``GET /_demo/requests``) says it was asked under its base path."""
    base = urlsplit(demo.urls[source])
    log = httpx.get(f"{base.scheme}://{base.netloc}/_demo/requests").json()
    return [r for r in log["recent"] if r["path"].startswith(base.path + "/")]


def reset(demo: Municipal, source: str) -> None:
    base = urlsplit(demo.urls[source])
    assert httpx.delete(f"{base.scheme}://{base.netloc}/_demo/requests").status_code in (200, 204)


# -- the subgraph itself ---------------------------------------------------------------------------------------


async def test_service_sdl_has_the_keys_and_graphql_has_none(gateway: Gateway) -> None:
    answer = await ask(gateway, "{ _service { sdl } }")
    sdl = answer.json()["data"]["_service"]["sdl"]
    assert '@link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])' in sdl
    assert 'type Persoon @key(fields: "burgerservicenummer"' in sdl
    assert 'type Adres @key(fields: "nummeraanduidingIdentificatie"' in sdl
    assert 'type Zaak @key(fields: "url"' in sdl
    assert "union _Entity = Adres | Persoon | Zaak" in sdl
    plain = await gateway.query("{ _service { sdl } }")
    assert plain["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # /graphql is unchanged
    assert "@key" not in print_schema(root_schema)


def test_the_subgraph_is_the_same_graph() -> None:
    """Every type and field of /graphql's queries, described alike (guards say their scope once, not twice)."""
    ours, theirs = root_schema._schema.type_map, subgraph._schema.type_map
    for name, kind in ours.items():
        if name.startswith("__") or name == "Subscription" or not hasattr(kind, "fields"):
            continue
        same = theirs[name]
        assert {f: (d.description, str(d.type)) for f, d in kind.fields.items()} == {
            f: (d.description, str(d.type)) for f, d in same.fields.items() if f not in ("_service", "_entities")}


async def test_three_persons_cost_one_brp_call_with_only_their_fields(gateway: Gateway, demo: Municipal) -> None:
    bsns = [p.bsn for p in persons(demo, 3)]
    expected = brp_itself(demo, bsns, ["naam.volledigeNaam", "geboorte.datum"])
    gateway.reset_counts()
    result = await entities(gateway, [{"__typename": "Persoon", "burgerservicenummer": b} for b in reversed(bsns)],
                            "... on Persoon { burgerservicenummer naam { volledigeNaam } geboorte { datum { datum } } }"
                            " ... on Adres { postcode }")
    assert "errors" not in result, result
    found = result["data"]["_entities"]
    assert [p["burgerservicenummer"] for p in found] == list(reversed(bsns))  # in the order asked
    for person in found:
        own = expected[person["burgerservicenummer"]]
        assert person["naam"]["volledigeNaam"] == own["naam"]["volledigeNaam"]
        assert person["geboorte"]["datum"]["datum"] == own["geboorte"]["datum"]["datum"]
    calls = gateway.calls("brp")
    assert len(calls) == 1
    assert sorted(calls[0]["body"]["burgerservicenummer"]) == sorted(bsns)
    assert sorted(calls[0]["body"]["fields"]) == ["burgerservicenummer", "geboorte.datum", "naam.volledigeNaam"]
    assert requests_seen(demo, "brp") == calls  # the control plane over HTTP says the same


async def test_many_persons_go_twenty_to_a_brp_call(gateway: Gateway, demo: Municipal) -> None:
    bsns = [p.bsn for p in persons(demo, 25)]
    gateway.reset_counts()
    result = await entities(gateway, [{"__typename": "Persoon", "burgerservicenummer": b} for b in bsns],
                            "... on Persoon { burgerservicenummer }")
    assert "errors" not in result
    assert [p["burgerservicenummer"] for p in result["data"]["_entities"]] == bsns
    assert sorted(len(c["body"]["burgerservicenummer"]) for c in gateway.calls("brp")) == [5, 20]


async def test_a_zaak_by_url_and_an_adres_by_id(gateway: Gateway, demo: Municipal) -> None:
    nummeraanduiding = next(iter(demo.data.nummeraanduidingen))
    bag = demo.config["sources"]["bag"]
    async with httpx.AsyncClient() as rest:  # the sources' own answers
        zaken = (await rest.get(f"{demo.urls['zaken']}/zaken", headers=zgw_headers(demo))).json()["results"][:2]
        adres = (await rest.get(f"{demo.urls['bag']}/adressen/{nummeraanduiding}",
                                headers={bag["header"]: bag["key"]})).json()
    gateway.reset_counts()
    result = await entities(
        gateway,
        [{"__typename": "Zaak", "url": zaken[0]["url"]},
         {"__typename": "Adres", "nummeraanduidingIdentificatie": nummeraanduiding},
         {"__typename": "Zaak", "url": zaken[1]["url"]}],
        "... on Zaak { url identificatie omschrijving } ... on Adres { postcode huisnummer }")
    assert "errors" not in result, result
    first, address, second = result["data"]["_entities"]
    for asked, got in ((zaken[0], first), (zaken[1], second)):
        assert got == {"__typename": "Zaak", "url": asked["url"], "identificatie": asked["identificatie"],
                       "omschrijving": asked["omschrijving"]}
    assert address == {"__typename": "Adres", "postcode": adres["postcode"], "huisnummer": adres["huisnummer"]}
    assert len([c for c in gateway.calls("zaken") if c["path"].endswith("/zaken/_zoek")]) == 1  # both zaken at once
    assert len(gateway.calls("bag")) == 1


async def test_bad_representations_get_clear_errors_and_the_rest_is_answered(
    gateway: Gateway, demo: Municipal
) -> None:
    good = persons(demo, 1)[0].bsn
    wrong = "123456789"  # fails the eleven-test
    result = await entities(gateway, [
        {"__typename": "Persoon", "burgerservicenummer": good},
        {"__typename": "Persoon", "burgerservicenummer": wrong},
        {"__typename": "Persoon"},
        {"__typename": "Melding", "id": "1"},
        {"__typename": "Adres", "nummeraanduidingIdentificatie": "0363010000000001"},  # a pand id, not an address
        {"__typename": "Zaak", "url": "https://elsewhere.example/zaken/api/v1/zaken/6f1c1b6e-0000-4000-8000-000000000000"},
        "Persoon",
    ], "... on Persoon { burgerservicenummer }")
    assert result["data"]["_entities"] == [{"__typename": "Persoon", "burgerservicenummer": good}] + [None] * 6
    errors = {e["path"][1]: e for e in result["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6]
    assert {i: errors[i]["extensions"]["code"] for i in errors} == {
        1: "BAD_USER_INPUT", 2: "BAD_USER_INPUT", 3: "BAD_USER_INPUT", 4: "BAD_USER_INPUT", 5: "FORBIDDEN_URL",
        6: "BAD_USER_INPUT"}
    assert "eleven-test" in errors[1]["message"]
    assert "'burgerservicenummer'" in errors[2]["message"]
    assert "Adres, Persoon, Zaak" in errors[3]["message"]
    assert wrong not in orjson.dumps(result).decode()  # a key is never quoted back: it may be someone's BSN
    too_many = await entities(gateway, [{"__typename": "Persoon", "burgerservicenummer": good}] * 101,
                              "__typename")
    assert too_many["data"] is None or too_many["data"]["_entities"] is None
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_guards_of_graphql_hold_here(gateway: Gateway, demo: Municipal) -> None:
    bsn = persons(demo, 1)[0].bsn
    person = [{"__typename": "Persoon", "burgerservicenummer": bsn}]
    selection = "... on Persoon { naam { volledigeNaam } }"
    gateway.reset_counts()
    unauthenticated = await ask(gateway, ENTITIES % selection, {"r": person}, {"Authorization": None})
    assert unauthenticated.status_code == 401
    no_purpose = await entities(gateway, person, selection, {PURPOSE_HEADER: None})
    assert no_purpose["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    issuer_token = employee_headers(demo, scopes=["bag:lezen", "zaken:lezen"])["Authorization"]
    no_scope = await entities(gateway, person, selection, {"Authorization": issuer_token})
    assert no_scope["errors"][0]["extensions"] == {"code": "FORBIDDEN", "scope": "brp:lezen"}
    assert no_scope["data"]["_entities"] == [None]
    assert gateway.calls("brp") == []  # refused before the BRP was asked
    citizen = employee_headers(demo, bsn=bsn)["Authorization"]
    as_citizen = await entities(gateway, person, selection, {"Authorization": citizen})
    assert as_citizen["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # the purpose may also travel with the query, as on /graphql
    directive = await ask(gateway, f'query Entiteiten($r: [_Any!]!) @verwerking(activiteit: "{PURPOSE}") '
                          "{ _entities(representations: $r) { ... on Persoon { naam { volledigeNaam } } } }",
                          {"r": person}, {PURPOSE_HEADER: None})
    assert "errors" not in directive.json()
    records = [orjson.loads(line) for line in LOGBOEK.read_bytes().splitlines()]
    logged = [r for r in records if r["name"] == "Entiteiten"]
    assert logged and logged[-1]["attributes"]["dpl.core.data_subject_id"] == bsn  # the processing log heard of it


async def test_off_unless_configured(demo: Municipal) -> None:
    config = dict(demo.config)
    config["gateway"] = {k: v for k, v in demo.config["gateway"].items() if k != "federation"}
    settings = gateway_settings(config)
    assert not federation_settings(settings).enabled
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers=employee_headers(demo)) as client:
        assert (await client.post(SUBGRAPH, json={"query": "{ _service { sdl } }"})).status_code == 404
    await app.state.sources.aclose()
    config["gateway"] = {**config["gateway"], "federation": {"enabled": "maybe", "path": "/graphql"}}
    with pytest.raises(ConfigError) as refused:
        create_app(gateway_settings(config))
    assert "[gateway.federation] enabled must be true or false" in str(refused.value)


# -- through a router ------------------------------------------------------------------------------------------


def _node_tools() -> tuple[str, Path]:
    """``node`` and the installed router, or a skip that says what is missing."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the composer and the router come from the npm registry")
    router = PEERS / "node_modules" / ".bin" / "hive-gateway"
    assert router.exists(), "run `make test` (or `npm ci` in tests/federation) to install the composer and router"
    return node, router


@contextlib.contextmanager
def hive_gateway(router: Path, supergraph: Path) -> Iterator[str]:
    port = free_port()
    command = [str(router), "supergraph", str(supergraph), "--host", "127.0.0.1", "--port", str(port),
               "--config-path", str(PEERS / "gateway.config.ts")]
    log = supergraph.with_suffix(".log")
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=PEERS, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "NODE_NO_WARNINGS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readiness", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, "Hive Gateway stopped:\n" + log.read_text()
            assert time.monotonic() < deadline, "Hive Gateway did not get ready:\n" + log.read_text()
            time.sleep(0.2)
        yield f"{url}/graphql"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_router_joins_this_subgraph_with_another(demo: Municipal, tmp_path: Path) -> None:
    node, router = _node_tools()
    voters = persons(demo, 3)
    bsns = [p.bsn for p in voters]
    headers = employee_headers(demo)
    app = create_app(gateway_settings(demo.config))
    with serving(app) as ours, serving(verkiezingen.app({1: bsns})) as theirs:
        subgraphs = []
        for name, url, auth in (("gemeentegraaf", f"{ours}{SUBGRAPH}", headers),
                                ("verkiezingen", f"{theirs}/graphql", {})):
            service = httpx.post(url, json={"query": "{ _service { sdl } }"}, headers=auth).json()
            (tmp_path / f"{name}.graphql").write_text(service["data"]["_service"]["sdl"])
            subgraphs.append(f"{name}={url}={tmp_path / f'{name}.graphql'}")
        supergraph = tmp_path / "supergraph.graphql"
        composed = subprocess.run([node, str(PEERS / "compose.mjs"), str(supergraph), *subgraphs], cwd=PEERS,
                                  capture_output=True, text=True, timeout=60)
        assert composed.returncode == 0, composed.stderr
        expected = brp_itself(demo, bsns, ["naam.volledigeNaam", "verblijfplaats"])
        with hive_gateway(router, supergraph) as graphql:
            reset(demo, "brp")
            # theirs -> ours: the router fetches the voters' names and addresses from our _entities, in one BRP call
            answer = httpx.post(graphql, headers=headers, timeout=30, json={"query": """
                { stembureau(nummer: 1) { naam kiezers { burgerservicenummer naam { volledigeNaam }
                  verblijfplaats { postcode huisnummer } } } }"""}).json()
            assert "errors" not in answer, answer
            kiezers = answer["data"]["stembureau"]["kiezers"]
            assert [k["burgerservicenummer"] for k in kiezers] == bsns
            for kiezer in kiezers:
                own = expected[kiezer["burgerservicenummer"]]
                assert kiezer["naam"]["volledigeNaam"] == own["naam"]["volledigeNaam"]
                assert kiezer["verblijfplaats"]["postcode"] == own["verblijfplaats"]["verblijfadres"]["postcode"]
                assert kiezer["verblijfplaats"]["huisnummer"] == own["verblijfplaats"]["verblijfadres"]["huisnummer"]
            calls = requests_seen(demo, "brp")
            assert len(calls) == 1 and sorted(calls[0]["body"]["burgerservicenummer"]) == sorted(bsns)
            # ours -> theirs: a person from the BRP, with the polling station the other subgraph knows
            answer = httpx.post(graphql, headers=headers, timeout=30, json={
                "query": "query($b: String!) { persoon(burgerservicenummer: $b) { naam { volledigeNaam } "
                         "stembureau { nummer naam } } }", "variables": {"b": bsns[1]}}).json()
            naam = expected[bsns[1]]["naam"]["volledigeNaam"]
            assert answer == {"data": {"persoon": {"naam": {"volledigeNaam": naam},
                                                   "stembureau": {"nummer": 1, "naam": "Stembureau 1"}}}}
            # the purpose travels from the client through the router; without one, no personal data is fetched
            reset(demo, "brp")
            without = {k: v for k, v in headers.items() if k != PURPOSE_HEADER}
            refused = httpx.post(graphql, headers=without, timeout=30, json={
                "query": "{ stembureau(nummer: 1) { naam kiezers { naam { volledigeNaam } } } }"}).json()
            assert {e["extensions"]["code"] for e in refused["errors"]} == {"PURPOSE_REQUIRED"}
            assert {tuple(e["path"]) for e in refused["errors"]} == {("stembureau", "kiezers", "naam")}  # the router's
            assert refused["data"]["stembureau"]["kiezers"] == [{"naam": None}] * 3
            assert refused["data"]["stembureau"]["naam"] == "Stembureau 1"  # the other subgraph still answers
            assert requests_seen(demo, "brp") == []
