"""The root schema: one Query merged from every source's query type, one Subscription likewise.

Adding a source adds one import and one entry in ``QUERIES`` (and in ``SUBSCRIPTIONS`` when it has live
updates, ``graph.live``); nothing in the engine changes.
"""

from __future__ import annotations

import strawberry
from graphql import DirectiveLocation
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.extensions.directives import DirectivesExtension, DirectivesExtensionSync
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graph.errors_extension import GatewaySchema, ShapeErrors
from graph.limits import limits
from graph.live import LiveOperations
from graph.purpose import DIRECTIVE, PurposeBinding
from graph.scoped import ScopedExecutor
from schema.bag import BagQuery
from schema.brp import BrpQuery
from schema.gemeente import GemeenteQuery
from schema.huishoudboekje import HuishoudboekjeQuery
from schema.klantinteracties import KlantinteractiesQuery
from schema.me import MeQuery
from schema.objecten import ObjectenQuery
from schema.scalars import SCALARS, ScalarArguments
from schema.signalen import SignalenQuery, SignalenSubscription
from schema.vakantieverhuur import VakantieverhuurQuery
from schema.zaken import ZakenQuery, ZakenStatistiekQuery, ZakenSubscription

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
    MeQuery,
    GemeenteQuery,
)

Query = merge_types("Query", QUERIES)

SUBSCRIPTIONS: tuple[type, ...] = (
    ZakenSubscription,
    SignalenSubscription,
)

# merged as merge_types does, with a description for GraphiQL's documentation pane
Subscription = strawberry.type(
    type("Subscription", SUBSCRIPTIONS, {}),
    description="Live updates over a websocket at /graphql (graphql-transport-ws; token and purpose as headers or in "
    "the connection_init payload). Every event is resolved like a query, afresh from the sources.",
)


@strawberry.directive(
    locations=[DirectiveLocation.QUERY, DirectiveLocation.SUBSCRIPTION],
    name=DIRECTIVE,
    description="The processing activity (an id from the municipality's register) this operation's personal data "
    "is processed for; overrides the X-Verwerkingsactiviteit header.",
)
def verwerking(activiteit: str) -> None:
    """Declared so clients can send it; ``graph.purpose.PurposeBinding`` reads it once per operation."""


class _Schema(GatewaySchema):
    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        # Strawberry adds a hook on every field's resolver for declared directives; @verwerking sits on the
        # operation and is read once by PurposeBinding, so that per-field cost would buy nothing.
        found = super().get_extensions(sync)
        return [e for e in found if not isinstance(e, (DirectivesExtension, DirectivesExtensionSync))]


schema = _Schema(
    query=Query,
    subscription=Subscription,
    directives=[verwerking],
    config=StrawberryConfig(scalar_map=dict(SCALARS.items())),
    # each subscription event under a context of its own (graph.live), each municipality's part of the graph under
    # its own context too (graph.scoped)
    execution_context_class=ScopedExecutor,
    extensions=[
        ShapeErrors,
        LiveOperations,
        *limits(ScalarArguments),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        PurposeBinding,
    ],
)
