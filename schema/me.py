"""Citizen mode: ``me``, a logged-in citizen's own data, and the only root field a citizen may use.

Every field here starts from the BSN in the caller's token, never from an argument; the resolvers check
that again where they fetch (``graph.authz.own_only``), so no link below can reach another person.
Citizens need not name a purpose: theirs is the register's ``mijn-gemeente`` activity (``graph.purpose``).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graph.authz import citizens_only
from graph.context import Context
from graph.errors import Forbidden, NotAvailable
from schema.brp import Persoon, persoon_for
from schema.huishoudboekje import Burger, burger_for_bsn
from schema.relay import Connection
from schema.signalen import Melding
from schema.vakantieverhuur import VakantieverhuurRegistratie, registraties_for_bsn
from schema.zaken import Zaak, zaken_for_bsn


def _bsn(info: Info[Context, None]) -> str:
    bsn = info.context.caller.bsn
    if bsn is None:  # the guard lets only citizens in; this keeps a missing guard from widening anything
        raise Forbidden("'me' is for citizens: the token names no BSN.")
    return bsn


@strawberry.type(description="The logged-in citizen's own data; every source is asked only about their BSN.")
class Me:
    @strawberry.field(description="The citizen as the BRP records them.", extensions=citizens_only("brp:lezen"))
    async def persoon(self, info: Info[Context, None]) -> Persoon | None:

        return await persoon_for(info, _bsn(info))

    @strawberry.field(description="Zaken in which the citizen has a role.", extensions=citizens_only("zaken:lezen"))
    async def zaken(
        self, info: Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> Connection[Zaak] | None:

        return await zaken_for_bsn(info, _bsn(info), first, after)

    @strawberry.field(
        description="The citizen's meldingen openbare ruimte. Not available: Signalen knows reporters by e-mail "
        "address and phone number, not by BSN, and lets a reporter see their meldingen only through its own "
        "e-mailed login (my/signals); matching contact details would show other people's reports.",
        extensions=citizens_only("signalen:lezen"),
    )
    async def meldingen(
        self, info: Info[Context, None]
    ) -> list[Melding] | None:
        _bsn(info)
        raise NotAvailable(
            "Signalen does not link meldingen to a BSN; see them through the municipality's Signalen "
            "'mijn meldingen' login by e-mail."
        )

    @strawberry.field(
        description="The citizen's holiday-rental registrations (LVV).",
        extensions=citizens_only("vakantieverhuur:lezen"),
    )
    async def vakantieverhuur_registraties(
        self, info: Info[Context, None]
    ) -> list[VakantieverhuurRegistratie] | None:

        return await registraties_for_bsn(info, _bsn(info))

    @strawberry.field(
        description="The citizen's household budget file, if they have one.",
        extensions=citizens_only("huishoudboekje:lezen"),
    )
    async def huishoudboekje(
        self, info: Info[Context, None]
    ) -> Burger | None:

        return await burger_for_bsn(info, _bsn(info))


@strawberry.type
class MeQuery:
    @strawberry.field(description="The logged-in citizen's own data.", extensions=citizens_only())
    def me(self, info: Info[Context, None]) -> Me | None:
        return Me()
