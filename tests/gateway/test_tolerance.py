"""Sources as they really answer, not as their specs promise. Uses a mock transport only for answers the
simulators never give (a real server would need to be broken in exactly this way)."""

from __future__ import annotations

import httpx

from demo.runner import Municipal
from graph.app import create_app
from graph.source import Source, Sources
from tests.conftest import employee_headers, gateway_settings

ZAAK_UUID = "7c6c3b4e-1d2a-4f5b-9a8e-0d1c2b3a4f5e"


def odd_zaak(base: str) -> dict:
    return {
        "url": f"{base}/zaken/{ZAAK_UUID}", "uuid": ZAAK_UUID, "identificatie": "ZAAK-ODD-1",
        "omschrijving": None,  # required by the spec, null in practice
        "startdatum": "gisteren",  # not a date
        "einddatum": "", "zaaktype": "",  # "" where the spec demands a URI
        "status": None, "resultaat": "", "rollen": [], "zaakobjecten": [],
        "eenVeldDatNogNietBestaat": {"x": 1},  # a newer release's field
        "vertrouwelijkheidaanduiding": {"code": "openbaar"},  # the wrong type
    }


async def test_odd_values_null_one_field_each_and_never_the_response(demo: Municipal) -> None:
    config = gateway_settings(demo.config)
    base = config.sources["zaken"].url

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"count": 1, "next": None, "previous": None, "results": [odd_zaak(base)]})

    sources = {name: Source(cfg) for name, cfg in config.sources.items() if name != "zaken"}
    sources["zaken"] = Source(config.sources["zaken"], transport=httpx.MockTransport(answer))
    app = create_app(config, sources=Sources(sources))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers=employee_headers(demo)) as client:
        result = (await client.post("/graphql", json={"query": "{ zaken(first: 5) { totalCount nodes { identificatie "
                  "omschrijving startdatum einddatum vertrouwelijkheidaanduiding zaaktype { omschrijving } "
                  "status { url } resultaat { url } } } }"})).json()
    await app.state.sources.aclose()
    node = result["data"]["zaken"]["nodes"][0]
    assert node == {"identificatie": "ZAAK-ODD-1", "omschrijving": None, "startdatum": None, "einddatum": None,
                    "vertrouwelijkheidaanduiding": None, "zaaktype": None, "status": None, "resultaat": None}
    [error] = result["errors"]
    assert error["path"] == ["zaken", "nodes", 0, "startdatum"]
    assert error["extensions"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert "gisteren" not in error["message"]
