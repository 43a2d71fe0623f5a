"""Checks on the identifiers clients hand the gateway, so malformed ones never reach a source."""

from __future__ import annotations


def valid_bsn(value: str) -> bool:
    """Nine digits passing the eleven-test (weights 9..2 and -1), as every BSN does; not all zeros."""
    if len(value) != 9 or not value.isdigit() or value == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(value[:8], range(9, 1, -1), strict=True)) - int(value[8])
    return total % 11 == 0


BAG_TYPES = {"verblijfsobject": "01", "ligplaats": "02", "standplaats": "03", "pand": "10",
             "nummeraanduiding": "20", "openbare ruimte": "30"}


def valid_bag_id(value: str, kind: str) -> bool:
    """Sixteen digits: a four-digit municipality code, the object type's two-digit code, ten digits."""
    return len(value) == 16 and value.isdigit() and value[4:6] == BAG_TYPES[kind]
