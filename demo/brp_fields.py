"""The BRP ``fields`` parameter: which paths exist per response type, and how a selection is applied.

The real API refuses unknown paths and paths to automatically delivered fields, and answers a path into
a date or code-table field with the whole object; a client written against it depends on all three.
The trees below list the paths of the official ``fields-filtered-*`` tables (plus the deprecated ones
the spec still carries), so a gateway that asks for something the real API would refuse fails here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Union

# Leaf kinds: a plain value, a polymorphic date, a code table, a code table with ``soort`` (titel/predicaat).
VALUE: Final = "value"
DATE: Final = "date"
TABLE: Final = "table"
TITEL: Final = "titel"
LEAF_KEYS: Final[Mapping[str, frozenset[str]]] = {
    VALUE: frozenset(),
    DATE: frozenset({"type", "datum", "langFormaat", "jaar", "maand", "onbekend"}),
    TABLE: frozenset({"code", "omschrijving"}),
    TITEL: frozenset({"code", "omschrijving", "soort"}),
}

Tree = dict[str, Union[str, "Tree"]]

FIELD_PATTERN: Final = r"^[a-zA-Z0-9\._]{1,200}$"
MAX_FIELDS: Final = 130
AUTOMATIC_ROOTS: Final = frozenset({"geheimhoudingPersoonsgegevens", "opschortingBijhouding", "rni", "verificatie"})
AUTOMATIC_ANYWHERE: Final = frozenset({"inOnderzoek", "indicatieVastgesteldVerblijftNietOpAdres"})
ALIASES: Final = {"verblijfplaatsBinnenland": "verblijfplaats", "adresseringBinnenland": "adressering"}

NAAM_GERELATEERDE: Final[Tree] = {
    "voornamen": VALUE, "adellijkeTitelPredicaat": TITEL, "voorvoegsel": VALUE, "geslachtsnaam": VALUE,
    "voorletters": VALUE,
}
NAAM_BEPERKT: Final[Tree] = {**NAAM_GERELATEERDE, "volledigeNaam": VALUE}
GEBOORTE: Final[Tree] = {"datum": DATE, "land": TABLE, "plaats": TABLE}
VERBLIJFADRES_BINNENLAND: Final[Tree] = {
    "officieleStraatnaam": VALUE, "korteStraatnaam": VALUE, "huisnummer": VALUE, "huisletter": VALUE,
    "huisnummertoevoeging": VALUE, "aanduidingBijHuisnummer": TABLE, "postcode": VALUE, "woonplaats": VALUE,
    "locatiebeschrijving": VALUE,
}
VERBLIJFPLAATS_BINNENLAND: Final[Tree] = {
    "datumVan": DATE, "datumIngangGeldigheid": DATE, "adresseerbaarObjectIdentificatie": VALUE,
    "nummeraanduidingIdentificatie": VALUE, "functieAdres": TABLE, "verblijfadres": VERBLIJFADRES_BINNENLAND,
}
VERBLIJFPLAATS: Final[Tree] = {
    **VERBLIJFPLAATS_BINNENLAND,
    "verblijfadres": {**VERBLIJFADRES_BINNENLAND, "land": TABLE, "regel1": VALUE, "regel2": VALUE, "regel3": VALUE},
}
ADRESSERING_BEPERKT: Final[Tree] = {"adresregel1": VALUE, "adresregel2": VALUE, "adresregel3": VALUE, "land": TABLE}
ADRESSERING_BINNENLAND: Final[Tree] = {"adresregel1": VALUE, "adresregel2": VALUE}

PERSOON: Final[Tree] = {
    "aNummer": VALUE,
    "burgerservicenummer": VALUE,
    "datumEersteInschrijvingGBA": DATE,
    "datumInschrijvingInGemeente": DATE,
    "gemeenteVanInschrijving": TABLE,
    "geslacht": TABLE,
    "leeftijd": VALUE,
    "indicatieCurateleRegister": VALUE,
    "indicatieGezagMinderjarige": TABLE,
    "gezag": VALUE,
    "naam": {**NAAM_BEPERKT, "aanduidingNaamgebruik": TABLE},
    "geboorte": GEBOORTE,
    "overlijden": {"datum": DATE, "land": TABLE, "plaats": TABLE},
    "nationaliteiten": {"nationaliteit": TABLE, "redenOpname": TABLE, "datumIngangGeldigheid": DATE},
    "europeesKiesrecht": {"aanduiding": TABLE, "einddatumUitsluiting": DATE},
    "uitsluitingKiesrecht": {"uitgeslotenVanKiesrecht": VALUE, "einddatum": DATE},
    "immigratie": {
        "datumVestigingInNederland": DATE, "indicatieVestigingVanuitBuitenland": VALUE,
        "landVanwaarIngeschreven": TABLE, "vanuitVerblijfplaatsOnbekend": VALUE,
    },
    "verblijfstitel": {"aanduiding": TABLE, "datumEinde": DATE, "datumIngang": DATE},
    "verblijfplaats": VERBLIJFPLAATS,
    "verblijfplaatsBinnenland": VERBLIJFPLAATS_BINNENLAND,
    "adressering": {
        **ADRESSERING_BEPERKT, "aanhef": VALUE, "gebruikInLopendeTekst": VALUE,
        "aanschrijfwijze": {"naam": VALUE, "aanspreekvorm": VALUE},
    },
    "adresseringBinnenland": ADRESSERING_BINNENLAND,
    "kinderen": {"burgerservicenummer": VALUE, "naam": NAAM_GERELATEERDE, "geboorte": GEBOORTE},
    "ouders": {
        "burgerservicenummer": VALUE, "geslacht": TABLE, "ouderAanduiding": VALUE,
        "datumIngangFamilierechtelijkeBetrekking": DATE, "naam": NAAM_GERELATEERDE, "geboorte": GEBOORTE,
    },
    "partners": {
        "burgerservicenummer": VALUE, "geslacht": TABLE, "soortVerbintenis": TABLE, "naam": NAAM_GERELATEERDE,
        "geboorte": GEBOORTE, "aangaanHuwelijkPartnerschap": {"datum": DATE, "land": TABLE, "plaats": TABLE},
        "ontbindingHuwelijkPartnerschap": {"datum": DATE},
    },
}
PERSOON_BEPERKT: Final[Tree] = {
    "burgerservicenummer": VALUE,
    "geslacht": TABLE,
    "leeftijd": VALUE,
    "naam": NAAM_BEPERKT,
    "geboorte": {"datum": DATE},
    "adressering": ADRESSERING_BEPERKT,
    "adresseringBinnenland": ADRESSERING_BINNENLAND,
}
GEZAG_PERSOON_BEPERKT: Final[Tree] = {**PERSOON_BEPERKT, "gezag": VALUE}


class _All:
    """Marks a selected subtree: every field below it."""

    def __repr__(self) -> str:
        return "ALL"


ALL: Final = _All()
Selection = dict[str, Union[_All, "Selection"]]


@dataclass(frozen=True, slots=True)
class FieldError:
    index: int
    code: str
    reason: str


def parse_fields(paths: list[Any], tree: Tree) -> tuple[Selection, list[FieldError]]:
    """The selection the paths ask for, or one error per bad path (in the order the real API reports them)."""
    selection: Selection = {}
    errors: list[FieldError] = []
    for index, path in enumerate(paths):
        if not isinstance(path, str) or not re.fullmatch(FIELD_PATTERN, path):
            errors.append(FieldError(index, "pattern", f"Waarde voldoet niet aan patroon {FIELD_PATTERN}."))
            continue
        segments = path.split(".")
        if segments[0] in AUTOMATIC_ROOTS or AUTOMATIC_ANYWHERE.intersection(segments):
            errors.append(FieldError(index, "fields", "Parameter bevat een niet toegestane veldnaam."))
        elif not _add(selection, segments, tree):
            errors.append(FieldError(index, "fields", "Parameter bevat een niet bestaande veldnaam."))
    return selection, errors


def _add(selection: Selection, segments: list[str], tree: Tree) -> bool:
    """Add one path; a path into a date or code table selects the whole leaf."""
    head, rest = segments[0], segments[1:]
    node = tree.get(head)
    if node is None:
        return False
    if isinstance(node, str):
        if len(rest) > 1 or (rest and rest[0] not in LEAF_KEYS[node]):
            return False
        selection[head] = ALL
        return True
    if not rest:
        selection[head] = ALL
        return True
    sub = selection.get(head)
    if sub is ALL:
        return _add({}, rest, node)  # still validate the deeper path
    if not isinstance(sub, dict):
        sub = {}
    if not _add(sub, rest, node):
        return False
    selection[head] = sub
    return True


def select(value: Any, selection: Selection | _All, tree: Tree | str) -> Any:
    """Keep only the selected fields; empty groups and lists disappear, as on the real API."""
    if isinstance(tree, str):
        return value
    if isinstance(selection, _All):
        selection = {key: ALL for key in tree}
    if isinstance(value, list):
        items = [select(item, selection, tree) for item in value]
        return [item for item in items if item not in (None, {}, [])]
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key, sub in selection.items():
        if key in value:
            picked = select(value[key], sub, tree[key])
            if picked not in (None, {}, []):
                out[key] = picked
    if out and "type" in value:  # polymorphic groups always say which variant they are
        out = {"type": value["type"], **out}
    return out


def merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Deep-merge ``extra`` into ``target`` (used to fold alias selections into their real field)."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target.setdefault(key, value)


def is_group(path: str, tree: Tree) -> bool:
    """Whether a dotted path (without list indices) names a group of fields rather than a leaf."""
    node: Tree | str = tree
    for segment in path.split("."):
        if not isinstance(node, dict) or segment not in node:
            return False
        node = node[segment]
    return isinstance(node, dict)
