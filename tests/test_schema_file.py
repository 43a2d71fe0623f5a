"""The checked-in SDL is what the code builds: a schema change must come with `make schema`."""

from pathlib import Path

from schema.root import schema

SDL = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_checked_in_schema_matches_the_code() -> None:
    assert SDL.read_text() == schema.as_str() + "\n", "schema.graphql is out of date: run `make schema`"


def test_every_type_and_field_has_a_description() -> None:
    graphql = schema._schema
    missing = []
    for name, gtype in graphql.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not getattr(gtype, "description", None) and name != "Query":
            missing.append(name)
        for field_name, field in (getattr(gtype, "fields", None) or {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert not missing, f"undocumented: {missing}"
