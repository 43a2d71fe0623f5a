"""A source refusing the gateway's request: told apart by the problem codes it answers with, and logged
with source, status, problem type and codes, never with the body or the values asked for."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator

import pytest

from demo.brp import BrpSimulator
from demo.model import Municipality
from demo.runner import running_alone
from demo.simulator import Simulator
from graph.config import from_mapping
from graph.context import Context
from graph.errors import ResultTooLarge, SourceError
from graph.source import Sources
from resolvers import brp
from tests.conftest import Gateway


@dataclasses.dataclass
class Crowded:
    context: Context
    crowded: str  # an adresseerbaar object where 11 people live
    quiet: str  # one where somebody lives
    brp: Simulator


@pytest.fixture(scope="module")
async def crowded(municipality: Municipality) -> AsyncIterator[Crowded]:
    """A BRP of its own where eleven people live at one address (the BRP names at most ten)."""
    personen = {bsn: dataclasses.replace(p) for bsn, p in municipality.personen.items()}
    living = sorted((p for p in personen.values() if p.overlijdensdatum is None and p.nummeraanduiding_id),
                    key=lambda p: p.bsn)
    home = living[0]
    for p in living[1:11]:
        p.nummeraanduiding_id, p.adresseerbaar_object_id = home.nummeraanduiding_id, home.adresseerbaar_object_id
    with running_alone(BrpSimulator, dataclasses.replace(municipality, personen=personen)) as world:
        sources = Sources.from_config(from_mapping({"sources": {"brp": world.config["sources"]["brp"]}}).sources)
        try:
            yield Crowded(Context(sources), str(home.adresseerbaar_object_id), str(living[20].adresseerbaar_object_id),
                          world.simulators["brp"])
        finally:
            await sources.aclose()


async def test_more_than_ten_residents_is_result_too_large(crowded: Crowded) -> None:
    assert await brp.bewoners(crowded.context, crowded.quiet, ("burgerservicenummer",))
    with pytest.raises(ResultTooLarge):
        await brp.bewoners(crowded.context, crowded.crowded, ("burgerservicenummer",))


async def test_another_400_is_a_refusal_not_too_many_results(
    crowded: Crowded, caplog: pytest.LogCaptureFixture
) -> None:
    crowded.brp.behaviour.update({"error_rate": 1.0, "error_status": 400})  # a problem with code "injected"
    try:
        with caplog.at_level(logging.WARNING, "gemeentegraaf.sources"), pytest.raises(SourceError) as caught:
            await brp.bewoners(Context(crowded.context.sources), crowded.quiet, ("burgerservicenummer",))
    finally:
        crowded.brp.behaviour.update({"error_rate": 0.0})
    assert caught.value.code == "UPSTREAM_REFUSED"
    assert caught.value.status == 400
    assert caught.value.problems == {"injected"}
    [record] = [r for r in caplog.records if r.name == "gemeentegraaf.sources"]
    assert record.getMessage().startswith("source brp refused POST: status 400, problem type ")
    assert record.getMessage().endswith("codes injected")
    assert crowded.quiet not in record.getMessage()


async def test_a_filter_the_source_would_refuse_is_refused_before_calling_it(gateway: Gateway) -> None:
    gateway.reset_counts()
    result = await gateway.query('{ zaken(first: 1, zaaktype: "no such zaaktype") { totalCount } }')
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert gateway.calls("zaken") == []
