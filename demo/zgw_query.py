"""Request handling shared by the simulated ZGW APIs: problems, filters, ordering, expand and paging.

Open Zaak is Django REST Framework with django-filter, so its refusals have a recognisable shape: a
filter value that does not parse is a 400 ``ValidatieFout`` naming the parameter in ``invalidParams``
(Dutch Django messages), an unknown query parameter is a 400 too (``unknown-parameters``), a page past
the end is a 404 ("Ongeldige pagina."), and an empty filter value counts as no filter at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import URL

T = TypeVar("T")

PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@dataclass(slots=True)
class Problem(Exception):
    """An error answer; ``exc_name`` is the DRF exception class Open Zaak names in the ``type`` URL."""

    status: int
    code: str
    title: str
    detail: str = ""
    invalid_params: list[dict[str, str]] | None = None
    exc_name: str = "APIException"


def invalid(name: str, code: str, reason: str) -> dict[str, str]:
    return {"name": name, "code": code, "reason": reason}


def validation_error(params: list[dict[str, str]]) -> Problem:
    return Problem(400, "invalid", "Ongeldige invoer.", "", params, "ValidationError")


def not_found(detail: str = "Niet gevonden.") -> Problem:
    return Problem(404, "not_found", "Niet gevonden.", detail, None, "NotFound")


def choice_reason(value: str) -> str:
    return f"Selecteer een geldige keuze. {value} is geen beschikbare keuze."


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(value) == 36


def is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def uuid_from_url(value: str, resource_path: str) -> str | None:
    """The uuid at the end of ``value`` when its path ends in ``<resource_path>/<uuid>``, host ignored."""
    path = urlsplit(value).path
    head, _, tail = path.rpartition("/")
    return tail if head.endswith(resource_path) and is_uuid(tail) else None


# --- filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter parameter. ``kind``: str, url, date, bool, choice, uuids, urls or strs (comma lists)."""

    name: str
    kind: str = "str"
    choices: tuple[str, ...] = ()
    max_length: int | None = None


def _parse_one(f: Filter, raw: Any) -> tuple[Any, dict[str, str] | None]:
    """(value, None) when valid, (None, None) when absent or ignorable, (None, error) when invalid."""
    if f.kind in ("uuids", "urls", "strs"):
        items = raw if isinstance(raw, list) else str(raw).split(",")
        items = [str(i) for i in items if str(i) != ""]
        if not items:
            return None, None
        for item in items:
            if f.kind == "uuids" and not is_uuid(item):
                return None, invalid(f.name, "invalid", f"“{item}” is geen geldige UUID.")
            if f.kind == "urls" and not is_url(item):
                return None, invalid(f.name, "invalid", "Voer een geldige URL in.")
        return items, None
    if f.kind == "bool":
        if isinstance(raw, bool):
            return raw, None
        return {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}.get(str(raw)), None
    if raw is None or raw == "":
        return None, None
    value = str(raw)
    if f.kind == "url" and not is_url(value):
        return None, invalid(f.name, "invalid", "Voer een geldige URL in.")
    if f.kind == "date":
        day = _date(value)
        return (day, None) if day else (None, invalid(f.name, "invalid", "Voer een geldige datum in."))
    if f.kind == "choice" and value not in f.choices:
        return None, invalid(f.name, "invalid_choice", choice_reason(value))
    if f.max_length is not None and len(value) > f.max_length:
        return None, invalid(f.name, "max_length", f"Zorg ervoor dat deze waarde hoogstens {f.max_length} tekens bevat "
                                                   f"(het zijn er nu {len(value)}).")
    return value, None


def _date(value: str) -> dt.date | None:
    """A full ISO date (YYYY-MM-DD) or None; Python also parses shorter forms Django refuses."""
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def parse_filters(values: Mapping[str, Any], filters: Sequence[Filter]) -> dict[str, Any]:
    """Values of the filters that are set; a 400 naming every invalid one."""
    parsed: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for f in filters:
        if f.name not in values:
            continue
        value, error = _parse_one(f, values[f.name])
        if error:
            errors.append(error)
        elif value is not None:
            parsed[f.name] = value
    if errors:
        raise validation_error(errors)
    return parsed


def reject_unknown(params: Iterable[str], known: Iterable[str]) -> None:
    """Open Zaak's CheckQueryParamsMixin: list operations refuse parameters they do not know."""
    allowed = set(known)
    unknown = [p for p in dict.fromkeys(params) if p not in allowed]
    if unknown:
        raise validation_error([invalid("nonFieldErrors", "unknown-parameters",
                                        f"Onbekende query parameters: {', '.join(unknown)}")])


# --- ordering --------------------------------------------------------------------------------------


def parse_ordering(raw: Any, fields: Sequence[str]) -> list[str]:
    items = raw if isinstance(raw, list) else [i for i in str(raw or "").split(",") if i]
    allowed = {*fields, *(f"-{f}" for f in fields)}
    for item in items:
        if item not in allowed:
            raise validation_error([invalid("ordering", "invalid_choice", choice_reason(str(item)))])
    return [str(i) for i in items]


def apply_ordering(items: list[T], ordering: Sequence[str], key: Callable[[T, str], Any]) -> list[T]:
    """Sort like PostgreSQL: NULLs last ascending, first descending; ties keep the default order."""
    result = list(items)
    for term in reversed(ordering):
        name = term.lstrip("-")

        def sort_key(item: T, name: str = name) -> tuple[bool, Any]:
            value = key(item, name)
            return (value is None, value if value is not None else "")

        result.sort(key=sort_key, reverse=term.startswith("-"))
    return result


# --- expand ----------------------------------------------------------------------------------------


def parse_expand(raw: Any, choices: Iterable[str]) -> list[str]:
    """Requested expansions; an unknown one, or a nested one without its parent, is a 400."""
    if raw is None or raw == "" or raw == []:
        return []
    items = [str(i) for i in raw] if isinstance(raw, list) else str(raw).split(",")
    allowed = set(choices)
    errors = [invalid("expand", "invalid_choice", choice_reason(item)) for item in items if item not in allowed]
    for item in items:
        parent = item.rpartition(".")[0]
        if item in allowed and parent and parent not in items:
            errors.append(invalid("expand", "invalid",
                                  f"Om '{item}' uit te klappen moet ook '{parent}' gevraagd worden."))
    if errors:
        raise validation_error(errors)
    return list(dict.fromkeys(items))


# --- paging ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Page:
    count: int
    items: list[Any]
    next: str | None
    previous: str | None

    def body(self, results: list[Any]) -> dict[str, Any]:
        return {"count": self.count, "next": self.next, "previous": self.previous, "results": results}


def page_size_of(raw: str | None) -> int:
    """DRF: a missing, non-numeric or non-positive ``pageSize`` means the default; too big is capped."""
    try:
        size = int(raw or "")
    except ValueError:
        return PAGE_SIZE
    return PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)


def paginate(url: URL, items: Sequence[T], page_raw: str | None, size: int) -> Page:
    """One page of ``items``; next/previous are absolute URLs with every other parameter kept."""
    count = len(items)
    last = max(1, -(-count // size))
    if page_raw in (None, ""):
        number = 1
    elif page_raw == "last":
        number = last
    else:
        try:
            number = int(page_raw or "")
        except ValueError:
            raise not_found("Ongeldige pagina.") from None
    if number < 1 or number > last:
        raise not_found("Ongeldige pagina.")
    start = (number - 1) * size
    return Page(count, list(items[start:start + size]),
                _with_page(url, number + 1) if number < last else None,
                _with_page(url, number - 1) if number > 1 else None)


def _with_page(url: URL, number: int) -> str:
    """DRF's replace_query_param / remove_query_param (page 1 is the URL without ``page``)."""
    query = [(k, v) for k, v in sorted(parse_qsl(url.query, keep_blank_values=True)) if k != "page"]
    if number > 1:
        query = sorted([*query, ("page", str(number))])
    return str(url.replace(query=urlencode(query)))
