"""The subgraph: the root schema (``schema.root``, every source's ``QUERIES``) with the shared things as entities.

Each entity is fetched by key through the same functions and loaders as the normal graph, so a router asking
for N persons costs what ``personen`` costs (one BRP call per 20 BSNs), N zaken one ``_zoek`` call, and N
addresses one BAG call per distinct address. Scopes are those of the root field that reaches the type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from strawberry.types import Info

from graph.context import Context
from graph.errors import BadRequest
from graph.federation import Entity, subgraph_of
from graph.identifiers import valid_bag_id, valid_bsn
from graph.selection import selected_paths
from resolvers import zgw
from schema.bag import Adres, adres_for
from schema.brp import Persoon, personen_for
from schema.root import schema as root_schema
from schema.zaken import Zaak


async def _personen(info: Info[Context, None], bsns: list[str]) -> Sequence[object | None]:
    found = {p.burgerservicenummer: p for p in await personen_for(info, bsns)}
    return [found.get(bsn) for bsn in bsns]


def _check_bsn(bsn: str) -> None:
    if not valid_bsn(bsn):
        raise BadRequest("'burgerservicenummer' must be a BSN: 9 digits that pass the eleven-test.")


async def _adressen(info: Info[Context, None], ids: list[str]) -> Sequence[object | None]:
    return await asyncio.gather(*(adres_for(info, i) for i in ids), return_exceptions=True)


def _check_nummeraanduiding(identificatie: str) -> None:
    if not valid_bag_id(identificatie, "nummeraanduiding"):
        raise BadRequest("'nummeraanduidingIdentificatie' must be a nummeraanduiding id: 16 digits, type code 20.")


async def _zaken(info: Info[Context, None], urls: list[str]) -> Sequence[object | None]:
    expand = zgw.expand_for(selected_paths(info))
    found: list[Any] = await asyncio.gather(
        *(zgw.zaak_by_url(info.context, url, expand) for url in urls), return_exceptions=True
    )
    return [Zaak.from_api(z) if isinstance(z, dict) else z for z in found]


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise BadRequest("'url' must be the zaak's URL in the Zaken API.")


ENTITIES = (
    Entity(Persoon, "burgerservicenummer", _personen, ("brp:lezen",), _check_bsn),
    Entity(Adres, "nummeraanduidingIdentificatie", _adressen, ("bag:lezen",), _check_nummeraanduiding),
    Entity(Zaak, "url", _zaken, ("zaken:lezen",), _check_url),
)

subgraph = subgraph_of(root_schema, ENTITIES)
