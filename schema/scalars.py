"""Date scalars that read source values leniently and fail one field, not the response.

Sources send dates as ISO strings (and sometimes not): the value stays a string on the type, and is
checked only when serialised, so a malformed date becomes null with an error at exactly that path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NewType

import strawberry

from graph.errors import GatewayError


class BadSourceValue(GatewayError):
    code = "UPSTREAM_BAD_RESPONSE"


def _date(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            pass
    raise BadSourceValue("The source sent a date this field cannot represent.")


def _datetime(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
        except ValueError:
            pass
    raise BadSourceValue("The source sent a date-time this field cannot represent.")


def _parse_date(value: object) -> str:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError("expected a date as YYYY-MM-DD")


def _parse_datetime(value: object) -> str:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
        except ValueError:
            pass
    raise ValueError("expected an ISO 8601 date-time")


Date = NewType("Date", str)
DateTime = NewType("DateTime", str)

SCALARS = {
    Date: strawberry.scalar(
        name="Date", description="A calendar date, ISO 8601 (YYYY-MM-DD).", serialize=_date, parse_value=_parse_date
    ),
    DateTime: strawberry.scalar(
        name="DateTime", description="A moment, ISO 8601 with offset.", serialize=_datetime, parse_value=_parse_datetime
    ),
}


def lenient(value: Any) -> Any:
    """A source's date as the scalar will check it: absent (None or "") is null, anything else is kept."""
    return None if value is None or value == "" else value
