"""Huishoudboekje's backend GraphQL API, stitched: upstream documents are built from the GraphQL selection.

Every upstream document asks for exactly the fields the query selected (mapped to the backend's names by
the ``Shape`` tables below) plus the keys the gateway joins on. All lookups of one kind in one request go
out as ONE upstream document, one aliased root field per group, so an upstream error at one alias fails
only the keys behind it.

Lookup by BSN: the backend has none. ``burgers(search:)`` is a substring search over names, BSN (as an
Int, leading zeros lost), IBANs, account holders and zoektermen, and the backend answers it by loading every
burger, rekening and afspraak and audit-logging every hit, false hits included; one aliased search per BSN
would repeat that per BSN. Instead the gateway asks ``burgers { id bsn }`` once per request (two small
fields per burger, not audit-logged as access to a file), indexes it by BSN, and then fetches the selected
fields of only the matching burgers with ``burgers(ids: [...])``, which the backend logs exactly. The cost
is two sequential calls and an index that grows with the number of burgers (two integers each); a BSN
without a file costs only the index.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from graph.authz import no_citizen, own_only
from graph.config import declare_source
from graph.context import Context
from graph.errors import SourceError

HHB = "huishoudboekje"
declare_source(HHB)
MAX_ALIASES = 100  # per upstream document, so one request never sends an unbounded document


@dataclass(frozen=True, slots=True)
class Shape:
    """How one of our types maps onto the backend: our field -> the backend selection it needs.

    A value is either literal backend selection text (a leaf, or a fixed sub-selection), or
    ``(backend field, child shape)`` for a nested object; an empty backend field flattens the child into
    this level (our ``adres`` groups the backend's flat address fields).
    """

    fields: Mapping[str, str | tuple[str, Shape]]
    keys: tuple[str, ...] = ()


RUBRIEK_NAAM = "rubriek { naam }"
REKENING = Shape({"id": "id", "iban": "iban", "rekeninghouder": "rekeninghouder"}, keys=("id",))
TRANSACTIE = Shape(
    {
        "id": "id",
        "uuid": "uuid",
        "bedrag": "bedrag",
        "bedragCenten": "bedrag",
        "credit": "isCredit",
        "geboekt": "isGeboekt",
        "datum": "transactieDatum",
        "tegenRekeningIban": "tegenRekeningIban",
        "omschrijving": "informationToAccountOwner",
    },
    keys=("uuid",),
)
AFSPRAAK = Shape(
    {
        "id": "id",
        "omschrijving": "omschrijving",
        "bedrag": "bedrag",
        "bedragCenten": "bedrag",
        "credit": "credit",
        "rubriek": RUBRIEK_NAAM,
        "validFrom": "validFrom",
        "validThrough": "validThrough",
        "tegenRekening": ("tegenRekening", REKENING),
        "transacties": "journaalposten { transactionUuid }",  # the transactions themselves: a second document
    },
    keys=("id",),
)
ADRES = Shape({"straat": "straatnaam", "huisnummer": "huisnummer", "postcode": "postcode", "woonplaats": "plaatsnaam"})
BURGER = Shape(
    {
        "id": "id",
        "bsn": "bsn",
        "voorletters": "voorletters",
        "voornamen": "voornamen",
        "achternaam": "achternaam",
        "geboortedatum": "geboortedatum",
        "adres": ("", ADRES),
        "afspraken": ("afspraken", AFSPRAAK),
        "rekeningen": ("rekeningen", REKENING),
        "persoon": "bsn",
        "saldo": "id",
    },
    keys=("id", "bsn"),
)


@dataclass(slots=True)
class _Selection:
    leaves: dict[str, None] = field(default_factory=dict)
    nested: dict[str, tuple[Shape, set[str]]] = field(default_factory=dict)


def selection(shape: Shape, paths: Iterable[str]) -> str:
    """The backend selection text for our selected ``paths`` (dotted, relative to a ``shape`` object).

    Sorted, so equal selections give equal text (the text is part of the loader keys)."""
    sel = _Selection(dict.fromkeys(shape.keys))
    _collect(shape, frozenset(paths), sel)
    parts = sorted(sel.leaves)
    for name in sorted(sel.nested):
        child_shape, child_paths = sel.nested[name]
        parts.append(f"{name} {{ {selection(child_shape, child_paths)} }}")
    return " ".join(parts)


def _collect(shape: Shape, paths: frozenset[str], sel: _Selection) -> None:
    heads: dict[str, set[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        below = heads.setdefault(head, set())
        if rest:
            below.add(rest)
    for head, below in heads.items():
        mapped = shape.fields.get(head)
        if isinstance(mapped, str):
            sel.leaves[mapped] = None
        elif isinstance(mapped, tuple):
            upstream, child = mapped
            if not upstream:
                sel.leaves.update(dict.fromkeys(child.keys))
                _collect(child, frozenset(below), sel)
            else:
                _, known = sel.nested.setdefault(upstream, (child, set()))
                known.update(below)


# -- running documents ------------------------------------------------------------------------------------


def bad_response(what: str) -> SourceError:
    """Upstream GraphQL errors become this: the backend's own messages never reach the client."""
    return SourceError("UPSTREAM_BAD_RESPONSE", HHB, f"Huishoudboekje could not answer {what}.")


async def run(
    ctx: Context, fields: Sequence[str], what: str, subjects: Sequence[str] = ()
) -> tuple[Mapping[str, Any], set[str]]:
    """Send one query document with these root fields; (data, aliases the backend reported errors at).
    ``subjects``: the BSNs the document asks about, for the source's headers and the processing log."""
    document = "query Gemeentegraaf { " + " ".join(fields) + " }"
    try:
        answer = await ctx.sources[HHB].post("", {"query": document}, context=ctx, subjects=subjects)
    except SourceError as exc:
        if exc.status == 400:  # the backend refused the document itself (e.g. its schema lacks a field)
            raise SourceError("UPSTREAM_BAD_RESPONSE", HHB, f"Huishoudboekje could not answer {what}.", 400) from None
        raise
    if not isinstance(answer, Mapping):
        raise bad_response(what)
    errors = answer.get("errors")
    failed: set[str] = set()
    if isinstance(errors, list) and errors:
        for error in errors:
            path = error.get("path") if isinstance(error, Mapping) else None
            if not isinstance(path, list) or not path or not isinstance(path[0], str):
                raise bad_response(what)  # an error without a path: the whole document failed
            failed.add(path[0])
    data = answer.get("data")
    if not isinstance(data, Mapping):
        raise bad_response(what)
    return data, failed


def _chunks(items: list[Any], size: int = MAX_ALIASES) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- burgers ------------------------------------------------------------------------------------------------


async def burgers_by_id(ctx: Context, ids: list[int], sel: str) -> list[dict[str, Any] | None]:
    """Burgers by backend id with the backend selection ``sel``; all ids of one request in one document."""
    loader = ctx.loader("hhb-burger", partial(_burgers_batch, ctx))
    return list(await loader.load_many([(i, sel) for i in ids]))


async def _burgers_batch(ctx: Context, keys: list[tuple[int, str]]) -> list[Any]:
    groups: dict[str, list[int]] = {}
    for burger_id, sel in keys:
        ids = groups.setdefault(sel, [])
        if burger_id not in ids:
            ids.append(burger_id)
    aliases = {f"b{n}": (sel, ids) for n, (sel, ids) in enumerate(groups.items())}
    fields = [
        f"{alias}: burgers(ids: [{', '.join(map(str, ids))}]) {{ {sel} }}" for alias, (sel, ids) in aliases.items()
    ]
    try:
        data, failed = await run(ctx, fields, "the burgers")
    except SourceError as exc:
        return [exc] * len(keys)
    found: dict[tuple[int, str], Any] = {}
    for alias, (sel, ids) in aliases.items():
        rows = data.get(alias)
        if alias in failed:
            found.update({(i, sel): bad_response("the burgers") for i in ids})
            continue
        by_id = {r.get("id"): dict(r) for r in rows if isinstance(r, Mapping)} if isinstance(rows, list) else {}
        found.update({(i, sel): by_id.get(i) for i in ids})
    return [found.get(key) for key in keys]


async def burger_id_by_bsn(ctx: Context, bsn: str) -> int | None:
    """The burger id for a BSN. The backend has no lookup by BSN, only a text search (names, BSN, IBANs):
    every BSN of the request is searched in one document, and only an exact BSN match counts. This reads
    a handful of candidate records instead of every client's BSN."""
    own_only(ctx, [bsn], "household budget file")
    found: int | None = await ctx.loader("hhb-bsn", partial(_search_bsns, ctx)).load(bsn)
    return found


async def _search_bsns(ctx: Context, bsns: list[str]) -> list[Any]:
    aliases = {f"b{i}": bsn for i, bsn in enumerate(bsns)}
    fields = [f'{alias}: burgers(search: "{int(bsn)}") {{ id bsn }}' for alias, bsn in aliases.items()]
    try:
        data, failed = await run(ctx, fields, "the burgers by BSN", bsns)
    except SourceError as exc:
        return [exc] * len(bsns)
    result: list[Any] = []
    for alias, bsn in aliases.items():
        rows = data.get(alias)
        if alias in failed or not isinstance(rows, list):
            result.append(bad_response("the burgers by BSN"))
            continue
        exact = [
            r["id"]
            for r in rows
            if isinstance(r, Mapping) and bsn9(r.get("bsn")) == bsn and isinstance(r.get("id"), int)
        ]
        result.append(exact[0] if exact else None)
    return result


async def burger_by_bsn(ctx: Context, bsn: str, sel: str) -> dict[str, Any] | None:
    if not (len(bsn) == 9 and bsn.isdigit()):
        return None
    burger_id = await burger_id_by_bsn(ctx, bsn)
    if burger_id is None:
        return None
    return (await burgers_by_id(ctx, [burger_id], sel))[0]


async def burgers_page(ctx: Context, start: int, limit: int, sel: str) -> tuple[list[dict[str, Any]], int | None]:
    """One ``burgersPaged`` page (1-based ``start``): the burgers and the total count, when told."""
    no_citizen(ctx, "the list of household budget files")
    field_text = f"burgersPaged(start: {start}, limit: {limit}) {{ burgers {{ {sel} }} pageInfo {{ count }} }}"
    data, failed = await run(ctx, [field_text], "the page of burgers")
    page = data.get("burgersPaged")
    if failed or not isinstance(page, Mapping):
        raise bad_response("the page of burgers")
    rows = page.get("burgers")
    info = page.get("pageInfo")
    count = info.get("count") if isinstance(info, Mapping) else None
    return (
        [dict(r) for r in rows if isinstance(r, Mapping)] if isinstance(rows, list) else [],
        count if isinstance(count, int) and not isinstance(count, bool) else None,
    )


# -- saldo and transactions ---------------------------------------------------------------------------------


async def saldo(ctx: Context, burger_id: int, date: str) -> str | None:
    """A burger's balance on a date; every (burger, date) of one request goes out in one document."""
    value: str | None = await ctx.loader("hhb-saldo", partial(_saldo_batch, ctx)).load((burger_id, date))
    return value


async def _saldo_batch(ctx: Context, keys: list[tuple[int, str]]) -> list[Any]:
    async def chunk(part: list[tuple[int, str]]) -> list[Any]:
        fields = [
            f"s{n}: saldo(date: {json.dumps(date)}, burgerIds: [{burger_id}]) {{ saldo }}"
            for n, (burger_id, date) in enumerate(part)
        ]
        try:
            data, failed = await run(ctx, fields, "the saldo")
        except SourceError as exc:
            return [exc] * len(part)
        out: list[Any] = []
        for n in range(len(part)):
            row = data.get(f"s{n}")
            out.append(
                bad_response("the saldo")
                if f"s{n}" in failed
                else bedrag(row.get("saldo"))
                if isinstance(row, Mapping)
                else None
            )
        return out

    parts = await asyncio.gather(*(chunk(p) for p in _chunks(keys)))
    return [value for part in parts for value in part]


async def transacties(ctx: Context, uuids: list[str], sel: str) -> list[dict[str, Any]]:
    """Bank transactions by uuid (the backend has only a single ``bankTransaction(uuid)``: one alias each,
    every transaction of one request in one document per 100)."""
    loader = ctx.loader("hhb-transactie", partial(_transacties_batch, ctx))
    found = await loader.load_many([(u, sel) for u in uuids])
    return [t for t in found if t is not None]


async def _transacties_batch(ctx: Context, keys: list[tuple[str, str]]) -> list[Any]:
    async def chunk(part: list[tuple[str, str]]) -> list[Any]:
        fields = [f"t{n}: bankTransaction(uuid: {json.dumps(uuid)}) {{ {sel} }}" for n, (uuid, sel) in enumerate(part)]
        try:
            data, failed = await run(ctx, fields, "the transactions")
        except SourceError as exc:
            return [exc] * len(part)
        return [
            bad_response("the transactions")
            if f"t{n}" in failed
            else dict(row)
            if isinstance(row := data.get(f"t{n}"), Mapping)
            else None
            for n in range(len(part))
        ]

    parts = await asyncio.gather(*(chunk(p) for p in _chunks(keys)))
    return [value for part in parts for value in part]


# -- reading values -----------------------------------------------------------------------------------------


def bsn9(value: Any) -> str | None:
    """The backend stores the BSN as an Int (leading zeros lost): give it back its nine digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= 999_999_999:
        return f"{value:09d}"
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def bedrag(value: Any) -> str | None:
    """A ``Bedrag`` (two-decimal string, tolerated as a number) as a two-decimal euro string."""
    amount = _decimal(value)
    return f"{amount:.2f}" if amount is not None else None


def centen(value: Any) -> int | None:
    amount = _decimal(value)
    if amount is None:
        return None
    cents = amount * 100
    return int(cents) if cents == cents.to_integral_value() else None
