"""A second subgraph for the federation test: polling stations (stembureaus) and their voters.

It knows persons only by BSN and extends ``Persoon`` with its ``stembureau``, so a query through the router that
asks for a voter's name must fetch it from Gemeentegraaf's ``_entities``, and one that starts at
``persoon(burgerservicenummer:)`` must come here for the polling station.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.types import Info

Stations = Mapping[int, Sequence[str]]  # a station's number -> its voters' BSNs


@strawberry.type
class Stembureau:
    nummer: int
    naam: str
    kiezers: list[Persoon]


def _station(info: Info[Any, None], nummer: int) -> Stembureau | None:
    stations: Stations = info.context["stations"]
    if nummer not in stations:
        return None
    voters = [Persoon(burgerservicenummer=b) for b in stations[nummer]]
    return Stembureau(nummer=nummer, naam=f"Stembureau {nummer}", kiezers=voters)


@strawberry.federation.type(keys=["burgerservicenummer"])
class Persoon:
    burgerservicenummer: str

    @strawberry.field
    def stembureau(self, info: Info[Any, None]) -> Stembureau | None:
        stations: Stations = info.context["stations"]
        nummer = next((n for n, bsns in stations.items() if self.burgerservicenummer in bsns), None)
        return None if nummer is None else _station(info, nummer)

    @classmethod
    def resolve_reference(cls, burgerservicenummer: str) -> Persoon:
        return cls(burgerservicenummer=burgerservicenummer)


@strawberry.type
class Query:
    @strawberry.field
    def stembureau(self, info: Info[Any, None], nummer: int) -> Stembureau | None:
        return _station(info, nummer)


schema = strawberry.federation.Schema(query=Query, federation_version="2.3")


class Verkiezingen(GraphQL[dict[str, Any], None]):
    """The subgraph's GraphQL view over ``stations``."""

    def __init__(self, stations: Stations) -> None:
        super().__init__(schema, graphql_ide=None)
        self.stations = stations

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"stations": self.stations}


def app(stations: Stations) -> Starlette:
    """The subgraph at ``/graphql``, an app uvicorn can serve with its lifespan."""
    return Starlette(routes=[Route("/graphql", Verkiezingen(stations), methods=["GET", "POST"])])
