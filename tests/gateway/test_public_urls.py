"""Sources that write their public URLs into their objects while the gateway reaches them internally.

Here the ZGW host writes links as ``https://openzaak.gemeente.example:<port>/…`` (its public name) and the
gateway calls it at ``http://127.0.0.1:<port>/…``; ``public_urls`` in the gateway's configuration maps one
onto the other before the ownership check.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from demo.model import Municipality
from demo.runner import Municipal, build, free_port, port_of, running_in_thread, with_port
from demo.simulator import load_config
from graph.app import create_app
from graph.config import ConfigError, from_mapping
from tests.conftest import employee_headers, gateway_settings

ZGW = ("zaken", "catalogi", "documenten", "besluiten")
PUBLIC = "https://openzaak.gemeente.example"
QUERY = """{ zaken(first: 5) { nodes { url zaaktype { omschrijving } status { statustype { omschrijving } }
  rollen { roltype { omschrijving } } documenten { titel } besluiten { besluittype { omschrijving } } } } }"""


def public(url: str) -> str:
    return PUBLIC + url.removeprefix("http://127.0.0.1")


@pytest.fixture(scope="module")
def world(municipality: Municipality) -> Iterator[Municipal]:
    """The demo sources on free ports, the ZGW host writing its public URLs."""
    config = load_config()
    ports: dict[int, int] = {}
    for name, entry in config["sources"].items():
        entry["url"] = with_port(entry["url"], ports.setdefault(port_of(entry["url"]), free_port()))
        if name in ZGW:
            entry["url"] = public(entry["url"])
    with running_in_thread(build(municipality, config)) as running:
        yield running


async def gateway_answer(world: Municipal, query: str, mapped: bool) -> dict[str, Any]:
    config = copy.deepcopy(world.config)
    for name in ZGW:
        entry = config["sources"][name]
        if mapped:
            entry["public_urls"] = [entry["url"]]
        entry["url"] = entry["url"].replace(PUBLIC, "http://127.0.0.1")
    app = create_app(gateway_settings(config))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                 headers=employee_headers(world)) as client:
        try:
            answer: dict[str, Any] = (await client.post("/graphql", json={"query": query})).json()
            return answer
        finally:
            await app.state.sources.aclose()


@pytest.fixture(scope="module")
async def answers(world: Municipal) -> tuple[dict[str, Any], dict[str, Any]]:
    return await gateway_answer(world, QUERY, mapped=True), await gateway_answer(world, QUERY, mapped=False)


async def test_links_with_public_urls_are_followed_through_the_internal_url(
    answers: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mapped, _ = answers
    assert "errors" not in mapped, mapped["errors"]
    nodes = mapped["data"]["zaken"]["nodes"]
    assert nodes and all(n["url"].startswith(PUBLIC) for n in nodes)
    assert all(n["zaaktype"]["omschrijving"] for n in nodes)
    assert all(n["status"]["statustype"]["omschrijving"] for n in nodes if n["status"])
    assert all(r["roltype"]["omschrijving"] for n in nodes for r in n["rollen"])
    assert any(n["documenten"] for n in nodes)


async def test_without_public_urls_the_links_are_refused_not_followed(
    answers: tuple[dict[str, Any], dict[str, Any]], world: Municipal
) -> None:
    _, unmapped = answers
    codes = {e["extensions"]["code"] for e in unmapped["errors"]}
    assert codes == {"FORBIDDEN_URL"}
    assert all(n["zaaktype"] is None for n in unmapped["data"]["zaken"]["nodes"])


async def test_a_zaak_by_its_public_url(world: Municipal, answers: tuple[dict[str, Any], dict[str, Any]]) -> None:
    url = answers[0]["data"]["zaken"]["nodes"][0]["url"]
    found = await gateway_answer(world, f'{{ zaak(url: "{url}") {{ url zaaktype {{ omschrijving }} }} }}', True)
    assert found["data"]["zaak"]["url"] == url
    assert found["data"]["zaak"]["zaaktype"]["omschrijving"]


def test_public_urls_must_be_urls() -> None:
    with pytest.raises(ConfigError, match="public_urls"):
        from_mapping({"sources": {"zaken": {"url": "http://127.0.0.1:1/zaken/api/v1", "public_urls": ["zaken"]}}})
