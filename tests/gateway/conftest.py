"""A second gateway whose ZGW sources follow the standard, beside the main one over Open Zaak.

The gateway must give the same answers over any ZGW product: ``zgw`` runs a test once against each. The
``standard`` world serves Zaken, Catalogi, Documenten and Besluiten from a ZGW simulator in its
``standard`` profile on a port of its own; every other source stays the session's demo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from demo.runner import Municipal, free_port, running_in_thread, with_port
from demo.zgw import ZgwSimulator
from demo.zgw_profile import with_profile
from tests.conftest import Gateway

WARM_UP = "{ zaken(first: 1) { totalCount } }"


@pytest.fixture(scope="session")
def standard(demo: Municipal) -> Iterator[Municipal]:
    """The demo with its ZGW sources replaced by a standard-profile simulator (same data, its own state)."""
    config = with_profile(demo.config, "standard")
    config["sources"] = {name: dict(entry) for name, entry in demo.config["sources"].items()}
    port = free_port()
    for name in ZgwSimulator.serves:
        config["sources"][name]["url"] = with_port(config["sources"][name]["url"], port)
    urls = {name: str(entry["url"]) for name, entry in config["sources"].items()}
    zgw = ZgwSimulator(demo.data, config, urls)
    served = Municipal(data=demo.data, config=config, simulators=dict.fromkeys(zgw.serves, zgw))
    with running_in_thread(served):
        yield Municipal(data=demo.data, config=config, simulators={**demo.simulators, **served.simulators})


@pytest.fixture(scope="session")
async def standard_gateway(standard: Municipal) -> AsyncIterator[Gateway]:
    gw = Gateway(standard)
    await gw.query(WARM_UP)
    yield gw
    await gw.client.aclose()
    await gw.app.state.sources.aclose()


@pytest.fixture(scope="session", autouse=True)
async def _zaken_documents_read(gateway: Gateway) -> None:
    """The gateway reads each Zaken source's OpenAPI document once per process, on its first zaken query:
    done here first, so the calls tests count are the calls of their own queries."""
    await gateway.query(WARM_UP)


@pytest.fixture(params=["openzaak", "standard"])
def zgw(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """The gateway over Open Zaak, then over a standard ZGW product (injected behaviour reset after)."""
    gw: Gateway = request.getfixturevalue("gateway" if request.param == "openzaak" else "standard_gateway")
    yield gw
    gw.world.simulators["zaken"].behaviour.__init__()  # type: ignore[misc]
