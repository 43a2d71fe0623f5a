"""Scopes, purpose binding and the schema's word on both, through real HTTP to the demo sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demo.runner import Municipal
from graph.app import create_app
from graph.authz import SCOPES, Requires, check_anonymous_scopes, personal_scopes
from graph.config import ConfigError, from_mapping
from graph.purpose import load_register, register_for
from schema.root import schema
from tests.conftest import Gateway
from tests.gateway.authz_client import ZAAKBEHANDELING, ask, codes, errors_by_path

DEMO_REGISTER = Path(__file__).resolve().parents[2] / "demo" / "verwerkingsactiviteiten.toml"


def a_bsn(demo: Municipal) -> str:
    return next(iter(demo.data.personen))


async def test_a_missing_scope_nulls_only_that_field(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    answer = await ask(
        gateway,
        "{ zaken(first: 3) { nodes { identificatie rollen { omschrijvingGeneriek persoon { burgerservicenummer } } } }"
        " meldingenStatistiek(groepeerOp: []) { totaal } }",
        ["zaken:lezen"],
    )
    nodes = answer["data"]["zaken"]["nodes"]
    assert len(nodes) == 3 and all(n["identificatie"] for n in nodes)
    assert answer["data"]["meldingenStatistiek"] is None
    errors = errors_by_path(answer)
    assert errors["meldingenStatistiek"]["extensions"] == {"code": "FORBIDDEN", "scope": "signalen:statistiek"}
    persons = [r for n in nodes for r in n["rollen"] if r["persoon"] is not None]
    assert not persons
    forbidden = [e for p, e in errors.items() if p.endswith(".persoon")]
    assert forbidden and all(e["extensions"] == {"code": "FORBIDDEN", "scope": "brp:lezen"} for e in forbidden)
    assert gateway.calls("brp") == [] and gateway.calls("signalen") == []


async def test_without_any_scope_every_root_field_is_forbidden(gateway: Gateway, demo: Municipal) -> None:
    answer = await ask(
        gateway,
        f'{{ persoon(burgerservicenummer: "{a_bsn(demo)}") {{ burgerservicenummer }} zaken {{ totalCount }} }}',
        [],
    )
    assert answer["data"] == {"persoon": None, "zaken": None}
    assert codes(answer) == {"FORBIDDEN"}


async def test_statistics_need_no_purpose(gateway: Gateway) -> None:
    answer = await ask(
        gateway,
        "{ zakenStatistiek(groepeerOp: [OPEN]) { totaal } meldingenStatistiek(groepeerOp: []) { totaal } }",
        ["zaken:statistiek", "signalen:statistiek"],
        purpose=None,
    )
    assert "errors" not in answer, answer
    assert answer["data"]["zakenStatistiek"]["totaal"] > 0


PERSOON = '{{ persoon(burgerservicenummer: "{bsn}") {{ burgerservicenummer naam {{ geslachtsnaam }} }} }}'


async def test_personal_data_without_purpose_is_refused_before_the_brp_is_asked(
    gateway: Gateway, demo: Municipal
) -> None:
    gateway.reset_counts()
    answer = await ask(
        gateway,
        PERSOON.format(bsn=a_bsn(demo))[:-1] + " meldingenStatistiek(groepeerOp: []) { totaal } }", purpose=None
    )
    assert answer["data"]["persoon"] is None
    assert answer["data"]["meldingenStatistiek"]["totaal"] > 0  # what needs no purpose still answers
    error = errors_by_path(answer)["persoon"]
    assert error["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert "X-Verwerkingsactiviteit" in error["message"] and "@verwerking" in error["message"]
    assert gateway.calls("brp") == []


async def test_an_unknown_purpose_is_refused(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    answer = await ask(gateway, PERSOON.format(bsn=a_bsn(demo)), purpose="https://elsewhere.example/marketing/1")
    assert answer["data"]["persoon"] is None
    assert codes(answer) == {"PURPOSE_UNKNOWN"}
    assert gateway.calls("brp") == []


async def test_with_a_registered_purpose_the_data_comes(gateway: Gateway, demo: Municipal) -> None:
    gateway.reset_counts()
    bsn = a_bsn(demo)
    answer = await ask(gateway, PERSOON.format(bsn=bsn))
    assert "errors" not in answer, answer
    assert answer["data"]["persoon"]["naam"]["geslachtsnaam"] == demo.data.personen[bsn].geslachtsnaam
    assert len(gateway.calls("brp")) == 1


async def test_the_directive_sets_and_overrides_the_purpose(gateway: Gateway, demo: Municipal) -> None:
    bsn = a_bsn(demo)
    literal = f'query Q @verwerking(activiteit: "{ZAAKBEHANDELING}") ' + PERSOON.format(bsn=bsn)
    for purpose in (None, "not-a-registered-activity"):
        answer = await ask(gateway, literal, purpose=purpose)
        assert "errors" not in answer, answer
        assert answer["data"]["persoon"]["burgerservicenummer"] == bsn
    variable = "query Q($a: String!) @verwerking(activiteit: $a) " + PERSOON.format(bsn=bsn)
    answer = await ask(gateway, variable, purpose=None, variables={"a": ZAAKBEHANDELING})
    assert "errors" not in answer, answer
    answer = await ask(gateway, variable, purpose=ZAAKBEHANDELING, variables={"a": "unknown"})
    assert codes(answer) == {"PURPOSE_UNKNOWN"}  # the directive wins over the header, also when it is wrong


def test_every_root_field_is_guarded_and_the_schema_says_which_scope() -> None:
    query = schema.get_type_by_name("Query")
    assert query is not None
    unguarded = [f.name for f in query.fields if not any(isinstance(e, Requires) for e in f.extensions)]  # type: ignore[attr-defined]
    assert unguarded == []
    sdl = schema.as_str()
    for scope in SCOPES:
        assert f"`{scope}`" in sdl, scope
    graphql = schema._schema
    persoon = graphql.query_type.fields["persoon"]  # type: ignore[union-attr]
    assert "Requires scope `brp:lezen`" in (persoon.description or "")
    assert "X-Verwerkingsactiviteit" in (persoon.description or "")
    assert "@verwerking" in sdl and "on QUERY" in sdl


def test_anonymous_scopes_may_not_be_personal() -> None:
    assert check_anonymous_scopes(["bag:lezen", "zaken:statistiek"]) == {"bag:lezen", "zaken:statistiek"}
    assert check_anonymous_scopes("bag:lezen, signalen:statistiek") == {"bag:lezen", "signalen:statistiek"}
    for scope in personal_scopes():
        with pytest.raises(ConfigError, match=scope):
            check_anonymous_scopes(["bag:lezen", scope])
    with pytest.raises(ConfigError, match="unknown"):
        check_anonymous_scopes(["alles:lezen"])
    with pytest.raises(ConfigError, match="brp:lezen"):
        create_app(from_mapping({"gateway": {"auth": {"anonymous": True, "anonymous_scopes": ["brp:lezen"]}}}))


def test_the_register_is_read_relative_to_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "doelen.toml").write_text(DEMO_REGISTER.read_text())
    register = register_for(from_mapping({"gateway": {"verwerkingsactiviteiten": "doelen.toml",
                                                      "config_dir": str(tmp_path)}}))
    assert ZAAKBEHANDELING in register.activities and register.citizen is not None
    assert "brp" in register.activities[ZAAKBEHANDELING].bronnen
    (tmp_path / "bad.toml").write_text('[[activiteit]]\nid = "no uri"\nnaam = "x"\n')
    with pytest.raises(ConfigError, match="URI"):
        load_register(tmp_path / "bad.toml")
    (tmp_path / "twice.toml").write_text(DEMO_REGISTER.read_text() * 2)
    with pytest.raises(ConfigError, match="twice"):
        load_register(tmp_path / "twice.toml")


def test_the_demo_configuration_names_the_demo_register(demo: Municipal) -> None:
    register = register_for(from_mapping(demo.config))
    assert len(register) == len(load_register(DEMO_REGISTER))


async def test_everything_caller_sees_a_whole_case(gateway: Gateway) -> None:
    answer: dict[str, Any] = await ask(
        gateway,
        "{ zaken(first: 2) { nodes { rollen { persoon { burgerservicenummer } } documenten { titel } } } }"
    )
    assert "errors" not in answer, answer


async def test_personal_data_is_never_asked_over_get(gateway: Gateway) -> None:
    """A GET puts the query, and the BSN in it, into the URL; statistics without personal data may use it."""
    gateway.reset_counts()
    bsn = next(iter(gateway.world.data.personen))
    personal = await gateway.client.get("/graphql", params={
        "query": f'{{ persoon(burgerservicenummer: "{bsn}") {{ naam {{ volledigeNaam }} }} }}'})
    answer = personal.json()
    assert answer["data"] == {"persoon": None}
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "POST" in answer["errors"][0]["message"]
    assert gateway.calls("brp") == []
    statistics = "{ meldingenStatistiek(groepeerOp: []) { totaal } }"
    public = await gateway.client.get("/graphql", params={"query": statistics})
    assert public.json()["data"]["meldingenStatistiek"]["totaal"] > 0
