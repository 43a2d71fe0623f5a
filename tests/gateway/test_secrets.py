"""No answer and no log line carries a configured secret, whatever the sources do."""

from __future__ import annotations

import logging

import pytest

from demo.runner import Municipal
from graph.config import SECRET_KEYS
from tests.conftest import Gateway

QUERIES = [
    "{ zaken(first: 3) { nodes { identificatie zaaktype { omschrijving } rollen { persoon { naam { volledigeNaam } } }"
    " documenten { titel } } } }",
    "{ meldingen(first: 2) { nodes { tekst } } meldingenStatistiek(groepeerOp: []) { totaal } }",
    "{ partijen(first: 2) { nodes { naam } } objecten(first: 2) { nodes { uuid } } }",
    "{ huishoudboekjeBurgers(first: 2) { nodes { achternaam } } }",
]


def secrets_of(demo: Municipal) -> set[str]:
    found = {str(v) for table in demo.config["sources"].values() for k, v in table.items() if k in SECRET_KEYS}
    assert len(found) >= 5  # the demo has secrets for ZGW, BRP, BAG, Signalen, Open Klant, …
    return found


@pytest.mark.parametrize("behaviour", [{}, {"error_rate": 1.0, "error_status": 401}, {"malformed": True},
                                       {"error_rate": 1.0, "error_status": 500}])
async def test_no_answer_or_log_line_holds_a_secret(
    gateway: Gateway, demo: Municipal, caplog: pytest.LogCaptureFixture, behaviour: dict[str, object]
) -> None:
    for sim in {id(s): s for s in demo.simulators.values()}.values():
        sim.behaviour.update(behaviour)
    with caplog.at_level(logging.DEBUG):
        answers = [await gateway.query(q) for q in QUERIES]
    text = repr(answers) + "\n".join(r.getMessage() + repr(r.args) + str(r.exc_text) for r in caplog.records)
    leaked = [s for s in secrets_of(demo) if s in text]
    assert not leaked
