"""Renders ``demo.model.Persoon`` records in the BRP API Personen v2 shape.

The address comes from the BAG records (nummeraanduiding -> openbare ruimte -> woonplaats), so the
BRP and BAG simulators always agree. Facts the model does not hold (marriage date, investigation start)
are derived deterministically from the record, so every request sees the same person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

from demo.brp_fields import PERSOON, Tree, is_group
from demo.model import Municipality, Nummeraanduiding, OpenbareRuimte, Persoon, Woonplaats

MAANDEN: Final = (
    "januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
    "november", "december",
)
GESLACHT: Final = {"M": "man", "V": "vrouw", "O": "onbekend"}
NEDERLAND: Final = {"code": "6030", "omschrijving": "Nederland"}
# Landelijke tabel 33 (gemeenten) for the birth places the generator uses; the demo municipality is added.
GEMEENTEN: Final = {
    "Amsterdam": "0363", "Rotterdam": "0599", "Utrecht": "0344", "Amersfoort": "0307", "Zwolle": "0193",
    "'s-Gravenhage": "0518", "Groningen": "0014", "Eindhoven": "0772",
}
# Foreign birth places: the plaats has no code, the land comes from landelijke tabel 34.
BUITENLAND: Final = {"Istanbul": {"code": "6043", "omschrijving": "Turkije"}}
NATIONALITEITEN: Final = {"0001": "Nederlandse"}
REDEN_OPNAME_1892: Final = {"code": "001", "omschrijving": "Wet op het Nederlanderschap 1892, art. 1, onder a"}
REDEN_OPNAME_1984: Final = {"code": "017", "omschrijving": "Rijkswet op het Nederlanderschap 1984, art. 3, lid 1"}
RWN_START: Final = dt.date(1985, 1, 1)
GBA_START: Final = dt.date(1994, 10, 1)
BINNENLAND: Final = frozenset({"Adres", "Locatie"})

# Derived fields are in onderzoek when a field they are made of is; the gemeente fields belong to the
# verblijfplaats category (GBA 08), so they are in onderzoek only when that whole category is.
DERIVED_FROM: Final[dict[str, tuple[str, ...]]] = {
    "leeftijd": ("geboorte.datum",),
    "gemeenteVanInschrijving": ("verblijfplaats.gemeenteVanInschrijving",),
    "datumInschrijvingInGemeente": ("verblijfplaats.datumInschrijvingInGemeente",),
    "naam.voorletters": ("naam.voornamen",),
    "naam.volledigeNaam": ("naam.voornamen", "naam.adellijkeTitelPredicaat", "naam.voorvoegsel", "naam.geslachtsnaam"),
    "adressering.adresregel1": ("verblijfplaats",),
    "adressering.adresregel2": ("verblijfplaats",),
    "adressering.adresregel3": ("verblijfplaats",),
    "adressering.land": ("verblijfplaats",),
    "adressering.aanhef": ("naam", "geslacht", "partners.naam"),
    "adressering.aanschrijfwijze": ("naam", "geslacht", "partners.naam"),
    "adressering.gebruikInLopendeTekst": ("naam", "geslacht", "partners.naam"),
}
# Registration metadata that no inOnderzoek object has a flag for.
NOT_INVESTIGATED: Final = frozenset({"nationaliteiten.datumIngangGeldigheid"})
# Where an investigation is reported on the person itself, and on adressering, depends on its category.
PERSON_DATE_KEYS: Final = {
    "burgerservicenummer": "datumIngangOnderzoekPersoon", "geslacht": "datumIngangOnderzoekPersoon",
    "leeftijd": "datumIngangOnderzoekPersoon", "gemeenteVanInschrijving": "datumIngangOnderzoekGemeente",
    "datumInschrijvingInGemeente": "datumIngangOnderzoekGemeente",
    "indicatieCurateleRegister": "datumIngangOnderzoekGezag",
}
ADRESSERING_DATE_KEYS: Final = {
    "verblijfplaats": "datumIngangOnderzoekVerblijfplaats", "partners": "datumIngangOnderzoekPartner",
}


def datum(day: dt.date) -> dict[str, Any]:
    """A VolledigeDatum with its Dutch long form ("5 december 2010")."""
    return {"type": "Datum", "datum": day.isoformat(),
            "langFormaat": f"{day.day} {MAANDEN[day.month - 1]} {day.year}"}


def leeftijd(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def voorletters(voornamen: str) -> str:
    return "".join(f"{name[0]}." for name in voornamen.split())


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _joined(*parts: str | None) -> str:
    return " ".join(part for part in parts if part)


class PersonRenderer:
    """Turns model records into full v2 Persoon objects; the API filters them afterwards."""

    def __init__(self, data: Municipality) -> None:
        self.data = data

    # -- addresses -----------------------------------------------------------------------------------

    def address(self, p: Persoon) -> tuple[Nummeraanduiding, OpenbareRuimte, Woonplaats] | None:
        na = self.data.nummeraanduidingen.get(p.nummeraanduiding_id or "")
        if na is None:
            return None
        openbare_ruimte = self.data.openbare_ruimten[na.openbare_ruimte_id]
        return na, openbare_ruimte, self.data.woonplaatsen[openbare_ruimte.woonplaats_id]

    def gemeente(self, p: Persoon) -> dict[str, str]:
        found = self.address(p)
        if found is None:
            return {"code": self.data.gemeentecode, "omschrijving": self.data.gemeentenaam}
        woonplaats = found[2]
        return {"code": woonplaats.gemeentecode, "omschrijving": woonplaats.gemeentenaam}

    def verblijfplaats(self, p: Persoon) -> dict[str, Any]:
        found = self.address(p)
        since = datum(p.datum_aanvang_adreshouding)
        if found is None:
            return {"type": "VerblijfplaatsOnbekend", "datumVan": since}
        na, openbare_ruimte, woonplaats = found
        verblijfadres: dict[str, Any] = {
            "officieleStraatnaam": openbare_ruimte.naam,
            "korteStraatnaam": openbare_ruimte.korte_naam[:24],
            "huisnummer": na.huisnummer,
            "huisletter": na.huisletter,
            "huisnummertoevoeging": na.huisnummertoevoeging,
            "postcode": na.postcode,
            "woonplaats": woonplaats.naam,
        }
        return {
            "type": "Adres",
            "verblijfadres": {k: v for k, v in verblijfadres.items() if v is not None},
            "adresseerbaarObjectIdentificatie": na.adresseerbaar_object_id,
            "nummeraanduidingIdentificatie": na.identificatie,
            "functieAdres": {"code": "W", "omschrijving": "woonadres"},
            "datumVan": since,
            "datumIngangGeldigheid": since,
        }

    # -- names and letters ---------------------------------------------------------------------------

    @staticmethod
    def naam(p: Persoon, volledig: bool = True) -> dict[str, Any]:
        naam: dict[str, Any] = {"voornamen": p.voornamen, "voorvoegsel": p.voorvoegsel,
                                "geslachtsnaam": p.geslachtsnaam, "voorletters": voorletters(p.voornamen)}
        if volledig:
            naam["volledigeNaam"] = _joined(p.voornamen, p.voorvoegsel, p.geslachtsnaam)
            naam["aanduidingNaamgebruik"] = {"code": "E", "omschrijving": "eigen geslachtsnaam"}
        return {k: v for k, v in naam.items() if v}

    def adressering(self, p: Persoon) -> dict[str, Any]:
        """Letter lines per NEN 5825 and salutation for naamgebruik E (the model has no other naamgebruik)."""
        eigen = _joined(p.voorvoegsel, p.geslachtsnaam)
        initials = voorletters(p.voornamen)
        if p.geslacht == "M":
            aanhef, lopend = f"Geachte heer {_capitalised(eigen)}", f"de heer {_capitalised(eigen)}"
        elif p.geslacht == "V":
            aanhef, lopend = f"Geachte mevrouw {_capitalised(eigen)}", f"mevrouw {_capitalised(eigen)}"
        else:
            aanhef, lopend = f"Geachte {_joined(initials, eigen)}", _joined(initials, eigen)
        out: dict[str, Any] = {
            "aanhef": aanhef,
            "aanschrijfwijze": {"naam": _joined(initials, eigen)},
            "gebruikInLopendeTekst": lopend,
        }
        found = self.address(p)
        if found is not None:
            na, openbare_ruimte, woonplaats = found
            out["adresregel1"] = f"{openbare_ruimte.korte_naam[:24]} {huisnummer_weergave(na)}"
            out["adresregel2"] = f"{na.postcode[:4]} {na.postcode[4:]}  {woonplaats.naam.upper()}"
        return out

    # -- relatives -----------------------------------------------------------------------------------

    def geboorte(self, p: Persoon, beperkt: bool = False) -> dict[str, Any]:
        if beperkt:
            return {"datum": datum(p.geboortedatum)}
        if p.geboorteplaats in BUITENLAND:
            return {"datum": datum(p.geboortedatum), "land": BUITENLAND[p.geboorteplaats],
                    "plaats": {"omschrijving": p.geboorteplaats}}
        code = self.data.gemeentecode if p.geboorteplaats == self.data.gemeentenaam else GEMEENTEN.get(
            p.geboorteplaats)
        plaats = {"code": code, "omschrijving": p.geboorteplaats} if code else {"omschrijving": p.geboorteplaats}
        return {"datum": datum(p.geboortedatum), "land": NEDERLAND, "plaats": plaats}

    def related(self, bsn: str) -> tuple[Persoon | None, dict[str, Any]]:
        other = self.data.personen.get(bsn)
        if other is None:
            return None, {"burgerservicenummer": bsn}
        return other, {"burgerservicenummer": bsn, "naam": self.naam(other, volledig=False),
                       "geboorte": self.geboorte(other)}

    def partners(self, p: Persoon) -> list[dict[str, Any]]:
        out = []
        for bsn in p.partner_bsns:
            other, partner = self.related(bsn)
            soort = ({"code": "P", "omschrijving": "geregistreerd partnerschap"} if "partner" in p.burgerlijke_staat
                     else {"code": "H", "omschrijving": "huwelijk"})
            partner.update(soortVerbintenis=soort)
            if other is not None:
                partner["geslacht"] = {"code": other.geslacht, "omschrijving": GESLACHT[other.geslacht]}
                partner["aangaanHuwelijkPartnerschap"] = {
                    "datum": datum(self.trouwdatum(p, other)), "land": NEDERLAND,
                    "plaats": {"code": self.data.gemeentecode, "omschrijving": self.data.gemeentenaam},
                }
                ended = other.overlijdensdatum or p.overlijdensdatum
                if ended is not None:
                    partner["ontbindingHuwelijkPartnerschap"] = {"datum": datum(ended)}
            out.append(partner)
        return out

    @staticmethod
    def trouwdatum(a: Persoon, b: Persoon) -> dt.date:
        """Both partners must see the same wedding day: derived from the pair, after both turned 18."""
        adult = max(a.geboortedatum, b.geboortedatum).replace(month=1, day=1) + dt.timedelta(days=18 * 366)
        offset = (int(a.bsn) + int(b.bsn)) % 3650
        latest = min(filter(None, (a.overlijdensdatum, b.overlijdensdatum, dt.date.today())))
        return min(adult + dt.timedelta(days=offset), latest - dt.timedelta(days=1))

    def ouders(self, p: Persoon) -> list[dict[str, Any]]:
        out = []
        for index, bsn in enumerate(p.ouder_bsns, start=1):
            other, ouder = self.related(bsn)
            ouder.update(ouderAanduiding=str(index), datumIngangFamilierechtelijkeBetrekking=datum(p.geboortedatum))
            if other is not None:
                ouder["geslacht"] = {"code": other.geslacht, "omschrijving": GESLACHT[other.geslacht]}
            out.append(ouder)
        return out

    def kinderen(self, p: Persoon) -> list[dict[str, Any]]:
        return [self.related(bsn)[1] for bsn in p.kind_bsns]

    def gezag(self, p: Persoon, today: dt.date) -> list[dict[str, Any]]:
        """Gezag over the person itself while a minor, and over each of its minor children."""
        minors = [p] + [self.data.personen[bsn] for bsn in p.kind_bsns if bsn in self.data.personen]
        return [self.gezagsrelatie(m, today) for m in minors
                if m.overlijdensdatum is None and leeftijd(m.geboortedatum, today) < 18]

    def gezagsrelatie(self, minor: Persoon, today: dt.date) -> dict[str, Any]:
        minderjarige = {"burgerservicenummer": minor.bsn, "naam": {"volledigeNaam": self.naam(minor)["volledigeNaam"]},
                        "leeftijd": leeftijd(minor.geboortedatum, today)}
        ouders = [o for o in (self.data.personen.get(b) for b in minor.ouder_bsns)
                  if o is not None and o.overlijdensdatum is None]

        def gezag_ouder(o: Persoon) -> dict[str, Any]:
            return {"burgerservicenummer": o.bsn, "naam": {"volledigeNaam": self.naam(o)["volledigeNaam"]}}

        if len(ouders) == 2 and ouders[1].bsn in ouders[0].partner_bsns:
            return {"type": "GezamenlijkOuderlijkGezag", "minderjarige": minderjarige,
                    "ouders": [gezag_ouder(o) for o in ouders]}
        if ouders:  # unmarried parents: the mother has gezag unless it was registered otherwise
            ouder = next((o for o in ouders if o.geslacht == "V"), ouders[0])
            return {"type": "EenhoofdigOuderlijkGezag", "minderjarige": minderjarige, "ouder": gezag_ouder(ouder)}
        return {"type": "GezagNietTeBepalen", "minderjarige": minderjarige,
                "toelichting": "Gezag kan niet worden bepaald omdat er geen ouders in de BRP zijn."}

    # -- the whole person ----------------------------------------------------------------------------

    def persoon(self, p: Persoon, today: dt.date) -> dict[str, Any]:
        """Everything the v2 Persoon can carry for this record, before ``fields`` filtering."""
        out: dict[str, Any] = {
            "aNummer": p.a_nummer,
            "burgerservicenummer": p.bsn,
            "geslacht": {"code": p.geslacht, "omschrijving": GESLACHT[p.geslacht]},
            "naam": self.naam(p),
            "geboorte": self.geboorte(p),
            "nationaliteiten": [self.nationaliteit(p)],
            "verblijfplaats": self.verblijfplaats(p),
            "gemeenteVanInschrijving": self.gemeente(p),
            "datumInschrijvingInGemeente": datum(self.inschrijving_gemeente(p)),
            "datumEersteInschrijvingGBA": datum(max(p.geboortedatum, GBA_START)),
            "adressering": self.adressering(p),
            "partners": self.partners(p),
            "ouders": self.ouders(p),
            "kinderen": self.kinderen(p),
            "gezag": self.gezag(p, today),
        }
        if p.overlijdensdatum is None:
            out["leeftijd"] = leeftijd(p.geboortedatum, today)
        else:
            out["overlijden"] = {"datum": datum(p.overlijdensdatum), "land": NEDERLAND, "plaats": self.gemeente(p)}
        if p.geboorteplaats in BUITENLAND:
            out["immigratie"] = {"landVanwaarIngeschreven": BUITENLAND[p.geboorteplaats],
                                 "datumVestigingInNederland": datum(self.inschrijving_gemeente(p))}
        return out

    def inschrijving_gemeente(self, p: Persoon) -> dt.date:
        return p.geboortedatum if p.geboorteplaats == self.data.gemeentenaam else p.datum_aanvang_adreshouding

    @staticmethod
    def nationaliteit(p: Persoon) -> dict[str, Any]:
        nationaliteit = {"code": p.nationaliteit}
        if p.nationaliteit in NATIONALITEITEN:
            nationaliteit["omschrijving"] = NATIONALITEITEN[p.nationaliteit]
        return {"type": "Nationaliteit", "nationaliteit": nationaliteit,
                "redenOpname": REDEN_OPNAME_1984 if p.geboortedatum >= RWN_START else REDEN_OPNAME_1892,
                "datumIngangGeldigheid": datum(p.geboortedatum)}


def huisnummer_weergave(na: Nummeraanduiding) -> str:
    """The house-number part of adresregel1: '12', '12 A', '12 AIII', '12-2', '12 III'."""
    text = str(na.huisnummer)
    if na.huisletter:
        return f"{text} {na.huisletter}{na.huisnummertoevoeging or ''}"
    if na.huisnummertoevoeging:
        separator = "-" if na.huisnummertoevoeging[0].isdigit() else " "
        return f"{text}{separator}{na.huisnummertoevoeging}"
    return text


def opschorting(p: Persoon) -> dict[str, Any] | None:
    """Delivered unasked for every deceased person (reden O)."""
    if p.overlijdensdatum is None:
        return None
    return {"datum": datum(p.overlijdensdatum), "reden": {"code": "O", "omschrijving": "overlijden"}}


def onderzoek_datum(p: Persoon) -> dt.date:
    """The model records what is in onderzoek, not since when: a fixed day per person."""
    return dt.date(2020, 1, 1) + dt.timedelta(days=int(p.bsn) % 1500)


def _overlaps(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


class Onderzoek:
    """Adds inOnderzoek to the requested fields that are (derived from fields) under investigation."""

    def __init__(self, p: Persoon, tree: Tree = PERSOON) -> None:
        self.paths = list(p.in_onderzoek)
        self.datum = datum(onderzoek_datum(p))
        self.tree = tree

    def sources(self, path: str) -> Iterable[str]:
        return (path, *DERIVED_FROM.get(path, ()))

    def hits(self, path: str) -> list[str]:
        """The investigated source paths a field depends on."""
        return [src for src in self.sources(path) if any(_overlaps(src, p) for p in self.paths)]

    def annotate(self, persoon: dict[str, Any]) -> None:
        if not self.paths:
            return
        flags: dict[str, Any] = {}
        for key, value in persoon.items():
            if key in PERSON_DATE_KEYS and self.hits(key):
                flags[key] = True
                flags[PERSON_DATE_KEYS[key]] = self.datum
            elif key == "adressering" and isinstance(value, dict):
                self._adressering(value)
            elif is_group(key, self.tree):
                self._group(value, key)
        if flags:
            persoon["inOnderzoek"] = flags

    def _group(self, node: Any, path: str) -> None:
        if isinstance(node, list):
            for item in node:
                self._group(item, path)
            return
        if not isinstance(node, dict):
            return
        flags: dict[str, Any] = {}
        for key, value in node.items():
            sub = f"{path}.{key}"
            if is_group(sub, self.tree):
                self._group(value, sub)
            elif sub not in NOT_INVESTIGATED and self.hits(sub):
                flags[key] = True
        if flags:
            node["inOnderzoek"] = {**flags, "datumIngangOnderzoek": self.datum}

    def _adressering(self, node: dict[str, Any]) -> None:
        flags: dict[str, Any] = {}
        for key in list(node):
            for source in self.hits(f"adressering.{key}"):
                flags[key] = True
                category = source.split(".")[0]
                flags[ADRESSERING_DATE_KEYS.get(category, "datumIngangOnderzoekPersoon")] = self.datum
        if flags:
            node["inOnderzoek"] = flags
