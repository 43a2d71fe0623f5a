"""Date scalars that read source values leniently and fail one field, not the response.

Sources send dates as ISO strings (and sometimes not): the value stays a string on the type, and is
checked only when serialised, so a malformed date becomes null with an error at exactly that path.

Clients' dates are checked strictly, before any source is asked: a literal in the query by the
``ScalarArguments`` validation rule, which can name the argument (a scalar cannot: it sees only the value),
and a variable by the scalar itself. Either way the error is ``BAD_USER_INPUT``, never an internal error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NewType

import strawberry
from graphql import ArgumentNode, FieldNode, GraphQLError, StringValueNode, ValidationRule, ValueNode, get_named_type

from graph.errors import BadRequest, GatewayError


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


EXPECTED = {"Date": "a date, YYYY-MM-DD", "DateTime": "a date-time, ISO 8601 (2024-05-01T09:30:00+02:00)"}


def _date_or_none(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    return None


def _datetime_or_none(value: object) -> str | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
        except ValueError:
            pass
    return None


CHECKS = {"Date": _date_or_none, "DateTime": _datetime_or_none}


def _parse_date(value: object) -> str:
    found = _date_or_none(value)
    if found is None:
        raise BadRequest(f"Expected {EXPECTED['Date']}; got {str(value)[:40]!r}.")
    return found


def _parse_datetime(value: object) -> str:
    found = _datetime_or_none(value)
    if found is None:
        raise BadRequest(f"Expected {EXPECTED['DateTime']}; got {str(value)[:40]!r}.")
    return found


def _literal(check: Any) -> Any:
    """Reads a literal without refusing it: ``ScalarArguments`` refuses bad ones during validation, naming
    the argument; refusing here too would report each mistake twice."""

    def parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> str:
        if isinstance(node, StringValueNode):
            return str(check(node.value) or node.value)
        raise BadRequest("Expected a string.")

    return parse_literal


class ScalarArguments(ValidationRule):
    """Refuses a literal Date/DateTime argument that is not one, naming the argument and the field."""

    field = ""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        self.field = node.name.value  # a field's arguments are visited before anything below it

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        argument = self.context.get_argument()
        kind = get_named_type(argument.type) if argument is not None else None
        check = CHECKS.get(kind.name) if kind is not None else None
        value = node.value
        if kind is None or check is None or not isinstance(value, StringValueNode) or check(value.value) is not None:
            return
        self.report_error(
            GraphQLError(
                f"Argument '{node.name.value}' of '{self.field}' must be {EXPECTED[kind.name]}; "
                f"got {value.value[:40]!r}.",
                node,
                extensions={"code": "BAD_USER_INPUT", "argument": node.name.value},
            )
        )


Date = NewType("Date", str)
DateTime = NewType("DateTime", str)

SCALARS = {
    Date: strawberry.scalar(
        name="Date", description="A calendar date, ISO 8601 (YYYY-MM-DD).", serialize=_date, parse_value=_parse_date,
        parse_literal=_literal(_date_or_none),
    ),
    DateTime: strawberry.scalar(
        name="DateTime", description="A moment, ISO 8601 with offset.", serialize=_datetime,
        parse_value=_parse_datetime, parse_literal=_literal(_datetime_or_none),
    ),
}


def lenient(value: Any) -> Any:
    """A source's date as the scalar will check it: absent (None or "") is null, anything else is kept."""
    return None if value is None or value == "" else value
