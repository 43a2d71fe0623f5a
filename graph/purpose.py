"""Purpose binding: personal data only for a processing activity in the municipality's register (AVG art. 30).

The register is a TOML file of ``[[activiteit]]`` tables (``id``, ``naam``, ``doel``, ``grondslag``,
``bronnen``), named by ``[gateway] verwerkingsactiviteiten`` relative to the configuration file and read
once when the app starts. A request names its purpose with the ``X-Verwerkingsactiviteit`` header or the
operation directive ``@verwerking(activiteit: "…")``, which wins because it travels with the query text.

``PurposeBinding`` settles the purpose once per operation, before any field runs, and leaves the outcome
on the context: ``ctx.purpose`` (the validated ``Activity``, or None) for the stages that tell sources why
they are asked and write the processing log, and ``ctx.purpose_error`` for the guards of personal fields
(``graph.authz``), which raise it on their own field only, so a query without personal data needs no purpose.
A citizen's purpose is always the register's ``mijn-gemeente`` activity: implicit, and no other may be named.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, StringValueNode, VariableNode
from strawberry.extensions import SchemaExtension

from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError, GatewayConfig
from graph.errors import PurposeError

log = logging.getLogger("gemeentegraaf.purpose")

DIRECTIVE = "verwerking"
CITIZEN_ACTIVITY = "mijn-gemeente"  # the path segment of the register's activity for citizens' own data
HOW = f"Name a processing activity with the {PURPOSE_HEADER} header or @{DIRECTIVE}(activiteit: \"…\")."


@dataclass(frozen=True, slots=True)
class Activity:
    """One processing activity; ``bronnen`` are the sources it may use."""

    id: str
    naam: str
    doel: str = ""
    grondslag: str = ""
    bronnen: frozenset[str] = frozenset()


class Register:
    """The activities personal data may be processed for, by id."""

    def __init__(self, activities: Iterable[Activity] = ()) -> None:
        self.activities: dict[str, Activity] = {}
        for activity in activities:
            if activity.id in self.activities:
                raise ConfigError(f"verwerkingsactiviteiten: id {activity.id!r} is listed twice")
            self.activities[activity.id] = activity
        citizen = [a for a in self.activities.values() if CITIZEN_ACTIVITY in a.id.rstrip("/").split("/")]
        self.citizen: Activity | None = citizen[0] if len(citizen) == 1 else None

    def get(self, activity_id: str) -> Activity | None:
        return self.activities.get(activity_id)

    def __len__(self) -> int:
        return len(self.activities)


def load_register(path: Path) -> Register:
    """The register in ``path``; a malformed one stops the start, since it decides what may be seen."""
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"verwerkingsactiviteiten: cannot read {path}: {exc}") from exc
    rows = raw.get("activiteit", [])
    if not isinstance(rows, list):
        raise ConfigError("verwerkingsactiviteiten: [[activiteit]] must be a list of tables")
    return Register(_activity(i, row) for i, row in enumerate(rows))


def _activity(index: int, row: Any) -> Activity:
    where = f"verwerkingsactiviteiten: activiteit {index + 1}"
    if not isinstance(row, Mapping):
        raise ConfigError(f"{where} must be a table")
    ident, naam, bronnen = row.get("id"), row.get("naam"), row.get("bronnen", [])
    if not isinstance(ident, str) or not ident.startswith(("https://", "http://", "urn:")):
        raise ConfigError(f"{where}: id must be a URI")
    if not isinstance(naam, str) or not naam:
        raise ConfigError(f"{where}: naam is required")
    if not isinstance(bronnen, list) or not all(isinstance(b, str) for b in bronnen):
        raise ConfigError(f"{where}: bronnen must be a list of source names")
    return Activity(ident, naam, str(row.get("doel", "")), str(row.get("grondslag", "")), frozenset(bronnen))


def register_for(config: GatewayConfig) -> Register:
    """The register ``[gateway] verwerkingsactiviteiten`` names (relative to ``config_dir``, the directory of
    the configuration file). Without one, no personal field can be answered: that is said once, at start."""
    named = config.options.get("verwerkingsactiviteiten")
    if not named:
        log.warning("no [gateway] verwerkingsactiviteiten: every field with personal data will be refused")
        return Register()
    path = Path(str(named))
    if not path.is_absolute():
        path = Path(str(config.options.get("config_dir", "."))) / path
    return load_register(path)


def settle(register: Register, requested: str | None, citizen: bool) -> Activity:
    """The activity a request may process personal data for, or the ``PurposeError`` that says why not."""
    if citizen:
        if register.citizen is None:
            raise PurposeError("PURPOSE_UNKNOWN", f"The register has no '{CITIZEN_ACTIVITY}' activity for citizens.")
        if requested not in (None, register.citizen.id):
            message = f"A citizen's data is processed only for {register.citizen.id}."
            raise PurposeError("PURPOSE_UNKNOWN", message, activiteit=requested)
        return register.citizen
    if requested is None:
        raise PurposeError("PURPOSE_REQUIRED", f"This field holds personal data. {HOW}", header=PURPOSE_HEADER)
    found = register.get(requested)
    if found is None:
        message = f"'{requested}' is not in the register of processing activities. {HOW}"
        raise PurposeError("PURPOSE_UNKNOWN", message, activiteit=requested)
    return found


def directive_activity(operation: OperationDefinitionNode | None, variables: Mapping[str, Any] | None) -> str | None:
    """``@verwerking(activiteit: …)`` on the operation, literal or variable; None when absent."""
    for directive in (operation.directives or ()) if operation is not None else ():
        if directive.name.value != DIRECTIVE:
            continue
        for argument in directive.arguments or ():
            value = argument.value
            if isinstance(value, StringValueNode):
                return value.value.strip() or None
            if isinstance(value, VariableNode):
                given = (variables or {}).get(value.name.value)
                return given.strip() or None if isinstance(given, str) else None
    return None


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in getattr(document, "definitions", ()) if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class PurposeBinding(SchemaExtension):
    """Settles the request's purpose once, before execution: one small look-up per operation, no per-field hook."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context.context
        if ctx is not None and hasattr(ctx, "register"):
            operation = _operation(self.execution_context.graphql_document, self.execution_context.operation_name)
            requested = directive_activity(operation, self.execution_context.variables) or ctx.processing.activity
            try:
                ctx.purpose, ctx.purpose_error = settle(ctx.register, requested, ctx.caller.citizen), None
            except PurposeError as exc:
                ctx.purpose, ctx.purpose_error = None, exc
        yield
