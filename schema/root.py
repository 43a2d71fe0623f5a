"""The root schema: one Query merged from every source's query type.

Adding a source adds one import and one entry in ``QUERIES``; nothing in the engine changes.
"""

from __future__ import annotations

from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graph.errors_extension import GatewaySchema, ShapeErrors
from graph.limits import limits
from schema.bag import BagQuery
from schema.brp import BrpQuery
from schema.huishoudboekje import HuishoudboekjeQuery
from schema.klantinteracties import KlantinteractiesQuery
from schema.objecten import ObjectenQuery
from schema.scalars import SCALARS
from schema.signalen import SignalenQuery
from schema.vakantieverhuur import VakantieverhuurQuery
from schema.zaken import ZakenQuery, ZakenStatistiekQuery

QUERIES: tuple[type, ...] = (
    ZakenQuery,
    BrpQuery,
    BagQuery,
    SignalenQuery,
    KlantinteractiesQuery,
    ObjectenQuery,
    VakantieverhuurQuery,
    HuishoudboekjeQuery,
    ZakenStatistiekQuery,
)

Query = merge_types("Query", QUERIES)

schema = GatewaySchema(
    query=Query,
    config=StrawberryConfig(scalar_map=dict(SCALARS.items())),
    extensions=[ShapeErrors, *limits(), lambda: ParserCache(maxsize=512), lambda: ValidationCache(maxsize=512)],
)
