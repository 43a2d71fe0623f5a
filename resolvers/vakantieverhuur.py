"""Landelijk Register Vakantieverhuur (LVV): registrations by requester BSN and by registration number.

LVV has two calls: ``POST /registrations/bsn`` (body: the BSN as a JSON string) answers the numbers of one
requester, and ``GET /registrations/{number}`` answers one registration. Neither takes several keys, so
each has a per-request loader: one POST per distinct BSN and one GET per distinct number, run
concurrently. Numbers come unspaced from the BSN call and spaced in groups of four from the item call;
the loader keys on the unspaced form so both spellings share one GET.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from typing import Any

from graph.authz import own_only
from graph.config import declare_source
from graph.context import Context
from graph.errors import Forbidden, SourceError, unless_absent

LVV = "vakantieverhuur"
declare_source(LVV)
MAX_NUMBER_LENGTH = 64


def compact(number: str) -> str:
    """The registration number without spaces, upper case: the form both LVV calls accept."""
    return "".join(number.split()).upper()


def valid_number(number: str) -> bool:
    """Letters and digits only (after removing spaces), so a number can never steer the URL path."""
    plain = compact(number)
    return 0 < len(plain) <= MAX_NUMBER_LENGTH and plain.isascii() and plain.isalnum()


def elfproef(bsn: str) -> bool:
    """A BSN the LVV would accept: nine digits passing the eleven-test (it answers 400 otherwise)."""
    if len(bsn) != 9 or not bsn.isdigit() or bsn == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(bsn[:8], range(9, 1, -1), strict=True)) - int(bsn[8])
    return total % 11 == 0


async def numbers_for_bsn(ctx: Context, bsn: str) -> list[str]:
    """Registration numbers (unspaced) of one requester; a BSN LVV would refuse has none."""
    own_only(ctx, [bsn], "holiday-rental registrations")
    if not elfproef(bsn):
        return []
    found: list[str] = await ctx.loader("lvv-bsn", partial(_by_bsn, ctx)).load(bsn)
    return found


async def _by_bsn(ctx: Context, bsns: list[str]) -> list[Any]:
    async def one(bsn: str) -> list[str]:
        answer = await ctx.sources[LVV].post("/registrations/bsn", bsn, context=ctx, subjects=[bsn])
        if not isinstance(answer, list):
            raise SourceError("UPSTREAM_BAD_RESPONSE", LVV, "The LVV sent registrations that are not a list.")
        numbers = (row.get("registrationNumber") for row in answer if isinstance(row, Mapping))
        return list(dict.fromkeys(compact(n) for n in numbers if isinstance(n, str) and valid_number(n)))

    return list(await asyncio.gather(*(one(b) for b in bsns), return_exceptions=True))


async def registration(ctx: Context, number: str) -> dict[str, Any] | None:
    """One registration, fetched once per request however it is spelled; None when LVV does not know it."""
    await _own_registrations(ctx, [number])
    found: dict[str, Any] | None = await ctx.loader("lvv-nr", partial(_by_number, ctx)).load(compact(number))
    return found


async def registrations(ctx: Context, numbers: list[str]) -> list[dict[str, Any]]:
    await _own_registrations(ctx, numbers)
    found = await ctx.loader("lvv-nr", partial(_by_number, ctx)).load_many([compact(n) for n in numbers])
    return [r for r in found if r is not None]


async def _own_registrations(ctx: Context, numbers: list[str]) -> None:
    """A citizen may read a registration only when LVV lists it under their own BSN."""
    own = ctx.caller.bsn
    if own is not None and not {compact(n) for n in numbers} <= set(await numbers_for_bsn(ctx, own)):
        raise Forbidden("A citizen may only see their own holiday-rental registrations.")


async def _by_number(ctx: Context, numbers: list[str]) -> list[Any]:
    async def one(number: str) -> dict[str, Any] | None:
        answer = await unless_absent(ctx.sources[LVV].get(f"/registrations/{number}", context=ctx), None)
        if answer is None:
            return None
        if not isinstance(answer, Mapping):
            raise SourceError("UPSTREAM_BAD_RESPONSE", LVV, "The LVV sent a registration that is not an object.")
        return dict(answer)

    return list(await asyncio.gather(*(one(n) for n in numbers), return_exceptions=True))


async def registrations_for_bsn(ctx: Context, bsn: str) -> list[dict[str, Any]]:
    return await registrations(ctx, await numbers_for_bsn(ctx, bsn))


def house_number(value: Any) -> int | None:
    """LVV sends the house number as a string ("1"); read it as the number it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def same_house(
    rental_house: Mapping[str, Any],
    postcode: str | None,
    huisnummer: int | None,
    huisletter: str | None,
    toevoeging: str | None,
) -> bool:
    """Whether an LVV ``rentalHouse`` is this address: postcode, number, letter and addition all equal."""

    def norm(value: Any) -> str:
        return "".join(str(value).split()).upper() if value not in (None, "") else ""

    return (
        bool(postcode)
        and huisnummer is not None
        and norm(rental_house.get("postalCode")) == norm(postcode)
        and house_number(rental_house.get("houseNumber")) == huisnummer
        and norm(rental_house.get("houseLetter")) == norm(huisletter)
        and norm(rental_house.get("houseNumberExtension")) == norm(toevoeging)
    )
