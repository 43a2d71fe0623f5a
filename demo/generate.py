"""Generates one synthetic, internally consistent municipality from a seed.

Everything is derived from ``random.Random(seed)`` and a fixed anchor date, so the same seed and scale
give the same municipality on every machine and every day. Cross-source consistency is built in: every
BRP person lives at a BAG address, every natuurlijk-persoon rol names a BRP person, every zaakobject
and melding points at a BAG address, and every Open Klant partij, LVV registration and Huishoudboekje
burger is a BRP person.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from demo.geo import rd_to_wgs84
from demo.model import (
    Afspraak,
    Besluit,
    BesluitType,
    Burger,
    Buurt,
    Catalogus,
    Categorie,
    Document,
    InformatieObjectType,
    Klantcontact,
    Melding,
    MeldingStatus,
    Municipality,
    Nummeraanduiding,
    Object,
    ObjectType,
    OpenbareRuimte,
    Pand,
    Partij,
    Persoon,
    Rekening,
    Resultaat,
    ResultaatType,
    Rol,
    RolType,
    Status,
    StatusType,
    Transactie,
    VakantieverhuurRegistratie,
    Verblijfsobject,
    Woonplaats,
    Zaak,
    ZaakObject,
    ZaakType,
)

T = TypeVar("T")

ANCHOR = dt.date(2026, 11, 1)  # "now" for the generated history; fixed so data never depends on the day
GEMEENTECODE = "0999"
GEMEENTENAAM = "Graafland"
RD_ORIGIN = (150000.0, 455000.0)  # south-west corner of the municipality, RD New
WIJK_KM = 2000.0  # a buurt is a 2 km square; 4 wijken of 3 buurten in a 4 x 3 grid

WOONPLAATSEN = (("3990", "Graafland"), ("3991", "Graafdijk"), ("3992", "Oud-Graaf"))
WIJKEN = ("Centrum", "Noord", "Oost", "Zuid")
BUURTEN = (
    ("Binnenstad", "Stationsbuurt", "Havenkwartier"),
    ("Molenwijk", "Bloemenbuurt", "Noorderpark"),
    ("Bomenbuurt", "Schildersbuurt", "Oosterhof"),
    ("Zuiderweide", "Dijkzicht", "Graafdijk-Dorp"),
)
STREET_STEMS = (
    "Kerk", "Dorps", "Molen", "School", "Stations", "Haven", "Brug", "Markt", "Kastanje", "Eiken", "Beuken",
    "Linden", "Berken", "Populieren", "Wilgen", "Esdoorn", "Meidoorn", "Tulpen", "Rozen", "Lelie", "Iris",
    "Vondel", "Rembrandt", "Vermeer", "Frans Hals", "Jan Steen", "Mesdag", "Oranje", "Juliana", "Beatrix",
    "Wilhelmina", "Emma", "Nassau", "Graaf Willem", "Dijk", "Polder", "Sluis", "Veld", "Wei", "Akker",
)
STREET_SUFFIXES = ("straat", "laan", "weg", "plein", "hof", "singel", "kade", "dreef", "pad")
VOORNAMEN_V = (
    "Anna", "Emma", "Sophie", "Julia", "Lotte", "Sanne", "Fleur", "Eva", "Lisa", "Noor", "Maria", "Johanna",
    "Petronella", "Wilhelmina", "Fatima", "Aylin", "Sara", "Mila", "Tess", "Iris", "Femke", "Ingrid",
)
VOORNAMEN_M = (
    "Jan", "Pieter", "Hendrik", "Johannes", "Daan", "Sem", "Lucas", "Bram", "Thijs", "Ruben", "Mohamed",
    "Emre", "Willem", "Cornelis", "Gerrit", "Kees", "Joost", "Sven", "Luuk", "Milan", "Teun", "Niels",
)
ACHTERNAMEN = (
    (None, "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), (None, "Bakker"), (None, "Visser"),
    (None, "Smit"), (None, "Meijer"), ("de", "Boer"), (None, "Mulder"), ("de", "Groot"), (None, "Bos"),
    ("van der", "Linden"), (None, "Peters"), (None, "Hendriks"), ("van", "Leeuwen"), (None, "Dekker"),
    (None, "Brouwer"), ("de", "Wit"), (None, "Dijkstra"), (None, "Smits"), ("de", "Graaf"), (None, "Yilmaz"),
    (None, "El Amrani"), ("van der", "Meer"), (None, "Kok"), ("van", "Vliet"), (None, "Verhoeven"),
)
GEBOORTEPLAATSEN = ("Graafland", "Utrecht", "Amsterdam", "Rotterdam", "Amersfoort", "Zwolle", "Istanbul")
MEDEWERKERS = (
    ("mw-001", "A. de Haan"), ("mw-002", "B. Koster"), ("mw-003", "C. Prins"), ("mw-004", "D. Huisman"),
    ("mw-005", "E. Kuipers"), ("mw-006", "F. van Wijk"), ("mw-007", "G. Postma"), ("mw-008", "H. Scholten"),
)

# zaaktype: identificatie, omschrijving, doel, doorlooptijd, statustypen, resultaattypen, gewicht, met besluit
ZAAKTYPEN = (
    ("ZT-OMGV", "Aanvraag omgevingsvergunning", "Beoordelen van een aanvraag voor een omgevingsvergunning", 56,
     ("Ontvangen", "In behandeling", "Besluit genomen", "Afgehandeld"), ("Verleend", "Geweigerd", "Ingetrokken"),
     3, True),
    ("ZT-PARK", "Aanvraag parkeervergunning", "Verlenen van een parkeervergunning voor bewoners", 14,
     ("Ontvangen", "In behandeling", "Afgehandeld"), ("Verleend", "Geweigerd"), 4, True),
    ("ZT-BEZW", "Behandelen bezwaarschrift", "Heroverwegen van een besluit na bezwaar", 42,
     ("Ontvangen", "Hoorzitting gepland", "Advies uitgebracht", "Afgehandeld"), ("Gegrond", "Ongegrond"),
     1, True),
    ("ZT-BIJS", "Aanvraag bijzondere bijstand", "Beoordelen van een aanvraag om bijzondere bijstand", 56,
     ("Ontvangen", "In onderzoek", "Afgehandeld"), ("Toegekend", "Afgewezen"), 3, True),
    ("ZT-KLAC", "Behandelen klacht", "Afhandelen van een klacht over de gemeente", 42,
     ("Ontvangen", "In behandeling", "Afgehandeld"), ("Afgehandeld",), 2, False),
    ("ZT-VERH", "Melding verhuizing", "Verwerken van een adreswijziging in de BRP", 5,
     ("Ontvangen", "Afgehandeld"), ("Verwerkt",), 4, False),
    ("ZT-KAPV", "Aanvraag kapvergunning", "Beoordelen van een aanvraag om een boom te kappen", 56,
     ("Ontvangen", "In behandeling", "Afgehandeld"), ("Verleend", "Geweigerd"), 2, True),
)
CONCEPT_ZAAKTYPE = ("ZT-SUBS", "Aanvraag subsidie", "Verstrekken van een subsidie (nog niet gepubliceerd)", 70)
INFORMATIEOBJECTTYPEN = (
    ("Aanvraag", "openbaar"), ("Bijlage", "zaakvertrouwelijk"), ("Besluit", "openbaar"),
    ("Correspondentie", "vertrouwelijk"), ("Advies", "intern"),
)
BESLUITTYPEN = ("Besluit op aanvraag", "Besluit op bezwaar")

CATEGORIEEN = (
    ("afval", "Afval", "grofvuil", "Grofvuil", ("STW",)),
    ("afval", "Afval", "container-is-vol", "Container is vol", ("STW",)),
    ("afval", "Afval", "huisafval", "Huisafval", ("STW",)),
    ("wegen-verkeer-straatmeubilair", "Wegen, verkeer, straatmeubilair", "lantaarnpaal-straatverlichting",
     "Lantaarnpaal straatverlichting", ("VOR",)),
    ("wegen-verkeer-straatmeubilair", "Wegen, verkeer, straatmeubilair", "bestrating", "Bestrating", ("VOR",)),
    ("wegen-verkeer-straatmeubilair", "Wegen, verkeer, straatmeubilair", "verkeersbord-verkeersbesluit",
     "Verkeersbord, verkeersbesluit", ("VOR",)),
    ("openbaar-groen-en-water", "Openbaar groen en water", "boom", "Boom", ("GRN",)),
    ("openbaar-groen-en-water", "Openbaar groen en water", "onkruid", "Onkruid", ("GRN",)),
    ("openbaar-groen-en-water", "Openbaar groen en water", "eikenprocessierups", "Eikenprocessierups", ("GRN",)),
    ("overlast-bedrijven-en-horeca", "Overlast bedrijven en horeca", "geluidsoverlast-muziek",
     "Geluidsoverlast muziek", ("THO",)),
    ("schoon", "Schoon", "graffiti-wildplak", "Graffiti / wildplak", ("STW",)),
    ("schoon", "Schoon", "zwerfvuil", "Zwerfvuil", ("STW",)),
)
MELDING_TEKSTEN = {
    "grofvuil": "Er staat grofvuil naast de container.", "container-is-vol": "De container is vol.",
    "huisafval": "Vuilniszakken liggen op straat.", "lantaarnpaal-straatverlichting": "Lantaarnpaal doet het niet.",
    "bestrating": "Losliggende stoeptegels.", "verkeersbord-verkeersbesluit": "Verkeersbord is omgereden.",
    "boom": "Grote tak hangt los.", "onkruid": "Veel onkruid op de stoep.",
    "eikenprocessierups": "Nesten van de eikenprocessierups gezien.", "geluidsoverlast-muziek": "Harde muziek.",
    "graffiti-wildplak": "Graffiti op de muur.", "zwerfvuil": "Zwerfvuil in de berm.",
}
MELDING_STATES = {
    "m": "Gemeld", "i": "In afwachting van behandeling", "b": "In behandeling", "h": "On hold",
    "o": "Afgehandeld", "a": "Geannuleerd", "reopened": "Heropend",
}
BANKEN = ("INGB", "RABO", "ABNA", "SNSB", "TRIO", "ASNB")
ORGANISATIE_REKENINGEN = (
    ("Woningstichting Graafland", "Huur", 65000, False), ("Energie Graafland BV", "Energie", 14500, False),
    ("Zorgverzekeraar Midden", "Zorgverzekering", 13900, False), ("Gemeente Graafland", "Uitkering", 128000, True),
    ("Belastingdienst Toeslagen", "Zorgtoeslag", 12300, True), ("Waterschap Vallei", "Waterschapsbelasting", 2100,
                                                                 False),
)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a generated municipality lies and which numbers it draws from. Several municipalities share one
    national BRP and BAG (``national``), so their BAG ids (which begin with the gemeentecode), woonplaats ids,
    postcodes and BSNs must never meet; the default is the demo's first municipality."""

    gemeentecode: str = GEMEENTECODE
    gemeentenaam: str = GEMEENTENAAM
    woonplaatsen: tuple[tuple[str, str], ...] = WOONPLAATSEN
    first_bsn: int = 900_000_000  # BSNs climb by about 225 per person from here: 4.5 million at scale 10
    first_postcode: int = 3800
    rd_origin: tuple[float, float] = RD_ORIGIN


# The demo's other municipalities (``gemeentegraaf demo``): smaller, with seeds and numbers of their own.
OTHER_PLACES = (
    Place("0998", "Graafmeer", (("3993", "Graafmeer"), ("3994", "Meerdijk"), ("3995", "Oud-Meer")),
          first_bsn=930_000_000, first_postcode=3700, rd_origin=(160000.0, 455000.0)),
    Place("0997", "Graafsloot", (("3996", "Graafsloot"), ("3997", "Slootdorp"), ("3998", "Sluiswijk")),
          first_bsn=960_000_000, first_postcode=3600, rd_origin=(150000.0, 465000.0)),
)


class _Ids:
    """Deterministic identifiers, all drawn from the one random stream."""

    def __init__(self, rng: random.Random, place: Place = Place()) -> None:
        self.rng = rng
        self.serial: dict[str, itertools.count[int]] = {}
        self._bsn = place.first_bsn
        self._code = place.gemeentecode

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def bag(self, type_code: str) -> str:
        counter = self.serial.setdefault(type_code, itertools.count(1))
        return f"{self._code}{type_code}{next(counter) + 200000:010d}"

    def bsn(self) -> str:
        while True:
            self._bsn += self.rng.randint(1, 40)
            candidate = f"{self._bsn:09d}"
            if elfproef(candidate):
                return candidate


def elfproef(number: str) -> bool:
    """The BSN/RSIN eleven-test: weights 9..2 and -1 on the last digit."""
    if len(number) != 9 or not number.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:8], range(9, 1, -1), strict=True)) - int(number[8])
    return total % 11 == 0 and number != "000000000"


def iban(rng: random.Random, bank: str) -> str:
    account = f"{rng.randint(0, 9_999_999_999):010d}"
    digits = "".join(str(int(c, 36)) for c in bank + account + "NL00")
    check = 98 - int(digits) % 97
    return f"NL{check:02d}{bank}{account}"


def _date_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, rng.randint(7, 20), rng.randint(0, 59), rng.randint(0, 59),
                       tzinfo=dt.UTC)


def _pick_weighted(rng: random.Random, items: Sequence[T], weights: Sequence[int]) -> T:
    return rng.choices(items, weights=weights, k=1)[0]


def generate(seed: int = 1, scale: float = 1.0, place: Place = Place()) -> Municipality:
    """Build the municipality: scale 1 is about 1,000 addresses, 2,000 persons, 3,000 zaken."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    rng = random.Random(seed)
    ids = _Ids(rng, place)
    code, rd_origin = place.gemeentecode, place.rd_origin
    n_addresses = max(40, round(1000 * scale))
    n_persons = max(60, round(2000 * scale))
    n_zaken = max(60, round(3000 * scale))
    n_meldingen = max(100, round(10000 * scale))

    woonplaatsen = {wid: Woonplaats(wid, naam, code, place.gemeentenaam) for wid, naam in place.woonplaatsen}
    buurten: dict[str, Buurt] = {}
    buurt_cells: dict[str, tuple[float, float]] = {}
    for w, wijk in enumerate(WIJKEN):
        for b, naam in enumerate(BUURTEN[w]):
            buurtcode = f"BU{code}{w + 1:02d}{b + 1:02d}"
            buurten[buurtcode] = Buurt(buurtcode, naam, wijk)
            buurt_cells[buurtcode] = (rd_origin[0] + w * WIJK_KM, rd_origin[1] + b * WIJK_KM)

    # --- BAG: streets, buildings, units and their addresses --------------------------------------
    street_names = [stem + suffix for suffix in STREET_SUFFIXES for stem in STREET_STEMS]
    rng.shuffle(street_names)
    n_streets = max(4, n_addresses // 25)
    openbare_ruimten: dict[str, OpenbareRuimte] = {}
    panden: dict[str, Pand] = {}
    nummeraanduidingen: dict[str, Nummeraanduiding] = {}
    verblijfsobjecten: dict[str, Verblijfsobject] = {}
    woonplaats_ids = list(woonplaatsen)
    street_buurt: dict[str, str] = {}
    postcode_serial = itertools.count(0)
    buurt_codes = list(buurten)
    for s in range(n_streets):
        naam = street_names[s % len(street_names)] + ("" if s < len(street_names) else f" {s // len(street_names) + 1}")
        woonplaats_id = _pick_weighted(rng, woonplaats_ids, (6, 3, 1)[: len(woonplaats_ids)])
        orid = ids.bag("30")
        openbare_ruimten[orid] = OpenbareRuimte(orid, naam, naam[:24], woonplaats_id)
        street_buurt[orid] = buurt_codes[s % len(buurt_codes)]
    streets = list(openbare_ruimten)
    huisnummers = {orid: 0 for orid in streets}
    street_postcode: dict[str, tuple[int, int]] = {}  # street -> (postcode pair serial, houses in block)

    def next_postcode(orid: str) -> str:
        serial, used = street_postcode.get(orid, (next(postcode_serial), 0))
        if used >= 20:
            serial, used = next(postcode_serial), 0
        street_postcode[orid] = (serial, used + 1)
        letters = string.ascii_uppercase
        pair = serial % 676
        return f"{place.first_postcode + serial // 676}{letters[pair // 26]}{letters[pair % 26]}"

    def add_address(orid: str, huisnummer: int, letter: str | None, toevoeging: str | None, pand_id: str,
                    xy: tuple[float, float], doel: list[str]) -> None:
        vid, nid = ids.bag("01"), ids.bag("20")
        nummeraanduidingen[nid] = Nummeraanduiding(nid, huisnummer, letter, toevoeging, next_postcode(orid), orid, vid)
        verblijfsobjecten[vid] = Verblijfsobject(
            vid, nid, [pand_id], rng.randint(30, 160) if doel == ["woonfunctie"] else rng.randint(60, 400), doel,
            (round(xy[0], 3), round(xy[1], 3)), rd_to_wgs84(*xy), street_buurt[orid],
        )

    while len(nummeraanduidingen) < n_addresses:
        orid = rng.choice(streets)
        cell = buurt_cells[street_buurt[orid]]
        x, y = cell[0] + rng.uniform(100, WIJK_KM - 100), cell[1] + rng.uniform(100, WIJK_KM - 100)
        pid = ids.bag("10")
        panden[pid] = Pand(pid, _pick_weighted(rng, (rng.randint(1890, 1939), rng.randint(1940, 1999),
                                                     rng.randint(2000, 2024)), (2, 5, 3)))
        huisnummers[orid] += 1 + (rng.random() < 0.3)
        nr = huisnummers[orid]
        roll = rng.random()
        gebruik = ["woonfunctie"] if roll < 0.88 else [rng.choice(("kantoorfunctie", "winkelfunctie",
                                                                "bijeenkomstfunctie"))]
        if roll < 0.12:  # an apartment building: several units, told apart by toevoeging
            for t in range(1, rng.randint(2, 6)):
                add_address(orid, nr, None, str(t), pid, (x + t, y + t), ["woonfunctie"])
        else:
            add_address(orid, nr, None, None, pid, (x, y), gebruik)
            if rng.random() < 0.08:
                add_address(orid, nr, "A", None, pid, (x + 2, y), ["woonfunctie"])

    # --- BRP: households at residential addresses ---------------------------------------------
    personen: dict[str, Persoon] = {}
    residential = [v for v in verblijfsobjecten.values() if v.gebruiksdoelen == ["woonfunctie"]]
    rng.shuffle(residential)

    def new_person(geslacht: str, born: dt.date, achternaam: tuple[str | None, str], vo: Verblijfsobject,
                   since: dt.date) -> Persoon:
        voornamen = rng.choice(VOORNAMEN_V if geslacht == "V" else VOORNAMEN_M)
        if rng.random() < 0.5:
            voornamen += " " + rng.choice(VOORNAMEN_V if geslacht == "V" else VOORNAMEN_M)
        p = Persoon(
            bsn=ids.bsn(), a_nummer=str(rng.randint(1_000_000_000, 9_999_999_999)), voornamen=voornamen,
            voorvoegsel=achternaam[0], geslachtsnaam=achternaam[1], geslacht=geslacht, geboortedatum=born,
            geboorteplaats=_pick_weighted(rng, GEBOORTEPLAATSEN, (6, 2, 2, 2, 1, 1, 1)),
            nummeraanduiding_id=vo.hoofdadres_id, adresseerbaar_object_id=vo.identificatie,
            datum_aanvang_adreshouding=max(since, born),
        )
        personen[p.bsn] = p
        return p

    household = 0
    while len(personen) < n_persons:
        vo = residential[household % len(residential)]
        household += 1
        since = _date_between(rng, dt.date(1990, 1, 1), ANCHOR - dt.timedelta(days=30))
        family = rng.choice(ACHTERNAMEN)
        kind = rng.random()
        adults: list[Persoon] = []
        first_born = _date_between(rng, dt.date(1940, 1, 1), dt.date(2004, 12, 31))
        first = new_person(rng.choice("MV"), first_born, family, vo, since)
        adults.append(first)
        if kind < 0.55:  # a couple
            partner_family = rng.choice(ACHTERNAMEN)
            partner = new_person("V" if first.geslacht == "M" else "M",
                                 first_born + dt.timedelta(days=rng.randint(-2500, 2500)), partner_family, vo, since)
            married = rng.random() < 0.7
            if married:
                first.partner_bsns.append(partner.bsn)
                partner.partner_bsns.append(first.bsn)
                first.burgerlijke_staat = partner.burgerlijke_staat = "gehuwd"
            adults.append(partner)
        if kind < 0.75 and first_born.year < 1995:
            youngest_parent = max(a.geboortedatum for a in adults)
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                earliest = youngest_parent + dt.timedelta(days=20 * 365)
                latest = min(ANCHOR - dt.timedelta(days=60), youngest_parent + dt.timedelta(days=42 * 365))
                if earliest >= latest:
                    break
                child = new_person(rng.choice("MV"), _date_between(rng, earliest, latest), family, vo, since)
                for parent in adults:
                    child.ouder_bsns.append(parent.bsn)
                    parent.kind_bsns.append(child.bsn)

    for p in personen.values():
        roll = rng.random()
        if roll < 0.02 and p.geboortedatum < dt.date(1960, 1, 1):
            p.overlijdensdatum = _date_between(rng, dt.date(2015, 1, 1), ANCHOR - dt.timedelta(days=10))
        elif roll < 0.035:
            p.geheimhouding = rng.randint(1, 7)
        elif roll < 0.06:
            p.in_onderzoek = [rng.choice(("naam.geslachtsnaam", "geboorte.datum", "verblijfplaats"))]

    def age(p: Persoon, on: dt.date = ANCHOR) -> int:
        born = p.geboortedatum
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    living_adults = [p for p in personen.values() if p.overlijdensdatum is None and age(p) >= 18]

    # --- ZGW catalogue ---------------------------------------------------------------------------
    rsin = _rsin(ids)
    iotypen = [InformatieObjectType(ids.uuid(), naam, vertr) for naam, vertr in INFORMATIEOBJECTTYPEN]
    besluittypen = [BesluitType(ids.uuid(), naam) for naam in BESLUITTYPEN]
    zaaktypen: list[ZaakType] = []
    weights: list[int] = []
    for ident, omschr, doel, dagen, stati, resultaten, weight, met_besluit in ZAAKTYPEN:
        zaaktypen.append(ZaakType(
            uuid=ids.uuid(), identificatie=ident, omschrijving=omschr, doel=doel, doorlooptijd_dagen=dagen,
            statustypen=[StatusType(ids.uuid(), s, i + 1, i == len(stati) - 1) for i, s in enumerate(stati)],
            roltypen=[RolType(ids.uuid(), "Aanvrager", "initiator"), RolType(ids.uuid(), "Behandelaar", "behandelaar"),
                      RolType(ids.uuid(), "Belanghebbende", "belanghebbende")],
            resultaattypen=[ResultaatType(ids.uuid(), r, r) for r in resultaten],
            informatieobjecttype_uuids=[t.uuid for t in iotypen[:4]],
            besluittype_uuids=[besluittypen[1 if ident == "ZT-BEZW" else 0].uuid] if met_besluit else [],
        ))
        weights.append(weight)
    ident, omschr, doel, dagen = CONCEPT_ZAAKTYPE
    zaaktypen.append(ZaakType(
        uuid=ids.uuid(), identificatie=ident, omschrijving=omschr, doel=doel, doorlooptijd_dagen=dagen,
        statustypen=[StatusType(ids.uuid(), "Ontvangen", 1, False), StatusType(ids.uuid(), "Afgehandeld", 2, True)],
        roltypen=[RolType(ids.uuid(), "Aanvrager", "initiator")], resultaattypen=[ResultaatType(ids.uuid(), "Verleend",
                                                                                                 "Verleend")],
        informatieobjecttype_uuids=[iotypen[0].uuid], besluittype_uuids=[], concept=True,
        begin_geldigheid=dt.date(2026, 1, 1), versiedatum=dt.date(2026, 1, 1),
    ))
    catalogus = Catalogus(ids.uuid(), "GRAAF", rsin, "Team Informatiebeheer", zaaktypen, iotypen, besluittypen)
    published = zaaktypen[:-1]

    # --- Objecten: a tree register and a street-light register ---------------------------------
    boom_type = ObjectType(ids.uuid(), "Boom", "Bomen", "Bomen in beheer van de gemeente", {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "required": ["boomnummer", "soort"],
        "properties": {"boomnummer": {"type": "string"}, "soort": {"type": "string"},
                       "plantjaar": {"type": "integer"}, "hoogte": {"type": "number"},
                       "buurtcode": {"type": "string"}},
    })
    lamp_type = ObjectType(ids.uuid(), "Lantaarnpaal", "Lantaarnpalen", "Openbare verlichting", {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["paalnummer"],
        "properties": {"paalnummer": {"type": "string"}, "lamptype": {"type": "string"},
                       "vermogen": {"type": "integer"}, "buurtcode": {"type": "string"}},
    })
    objecttypen = {t.uuid: t for t in (boom_type, lamp_type)}
    objecten: dict[str, Object] = {}
    for i in range(max(20, round(400 * scale))):
        vo = rng.choice(list(verblijfsobjecten.values()))
        lat, lon = rd_to_wgs84(vo.rd[0] + rng.uniform(-30, 30), vo.rd[1] + rng.uniform(-30, 30))
        data: dict[str, object]
        if i % 3:
            otype, data = boom_type, {
                "boomnummer": f"B{i + 1:06d}", "soort": rng.choice(("Quercus robur", "Tilia cordata",
                                                                     "Platanus acerifolia", "Acer campestre")),
                "plantjaar": rng.randint(1950, 2022), "hoogte": round(rng.uniform(3, 25), 1),
                "buurtcode": vo.buurt_code}
        else:
            otype, data = lamp_type, {"paalnummer": f"L{i + 1:06d}", "lamptype": rng.choice(("LED", "SOX", "PL")),
                                      "vermogen": rng.choice((18, 35, 70)), "buurtcode": vo.buurt_code}
        start = _date_between(rng, dt.date(2015, 1, 1), ANCHOR)
        obj = Object(ids.uuid(), otype.uuid, data, (lat, lon), [], start, start)
        objecten[obj.uuid] = obj
    bomen = [o for o in objecten.values() if o.objecttype_uuid == boom_type.uuid]

    # --- Zaken with their statuses, roles, objects, documents and decisions ---------------------
    zaken: dict[str, Zaak] = {}
    documenten: dict[str, Document] = {}
    besluiten: dict[str, Besluit] = {}
    doc_serial = itertools.count(1)
    besluit_serial = itertools.count(1)
    zaak_dates = sorted(_date_between(rng, ANCHOR - dt.timedelta(days=730), ANCHOR) for _ in range(n_zaken))
    for n, startdatum in enumerate(zaak_dates, start=1):
        zt = _pick_weighted(rng, published, weights)
        zaak_uuid = ids.uuid()
        initiator = rng.choice(living_adults)
        progress = rng.randint(1, len(zt.statustypen))
        moments: list[dt.date] = [startdatum]
        for _ in range(progress - 1):
            moments.append(min(ANCHOR, moments[-1] + dt.timedelta(days=rng.randint(1, max(2, zt.doorlooptijd_dagen
                                                                                            // 2)))))
        statussen = [Status(ids.uuid(), zt.statustypen[i].uuid, _moment(rng, d)) for i, d in enumerate(moments)]
        closed = zt.statustypen[progress - 1].is_eindstatus
        resultaat = Resultaat(ids.uuid(), rng.choice(zt.resultaattypen).uuid) if closed else None
        rol_types = {r.omschrijving_generiek: r for r in zt.roltypen}
        medewerker = rng.choice(MEDEWERKERS)
        rollen = [
            Rol(ids.uuid(), rol_types["initiator"].uuid, "initiator", "natuurlijk_persoon", bsn=initiator.bsn,
                registratiedatum=_moment(rng, startdatum)),
            Rol(ids.uuid(), rol_types["behandelaar"].uuid, "behandelaar", "medewerker", medewerker_id=medewerker[0],
                medewerker_naam=medewerker[1], registratiedatum=_moment(rng, startdatum)),
        ]
        if rng.random() < 0.2:
            other = rng.choice(living_adults)
            if other.bsn != initiator.bsn:
                rollen.append(Rol(ids.uuid(), rol_types["belanghebbende"].uuid, "belanghebbende", "natuurlijk_persoon",
                                  bsn=other.bsn, registratiedatum=_moment(rng, startdatum)))
        zaakobjecten: list[ZaakObject] = []
        if zt.identificatie == "ZT-KAPV" and bomen:
            boom = rng.choice(bomen)
            boom.zaak_uuids.append(zaak_uuid)
            zaakobjecten.append(ZaakObject(ids.uuid(), "overige", object_uuid=boom.uuid))
        if zt.identificatie in ("ZT-OMGV", "ZT-PARK", "ZT-VERH", "ZT-KAPV") or rng.random() < 0.3:
            zaakobjecten.append(ZaakObject(ids.uuid(), "adres", nummeraanduiding_id=initiator.nummeraanduiding_id))
        zaak = Zaak(
            uuid=zaak_uuid, identificatie=f"ZAAK-{startdatum.year}-{n:07d}", bronorganisatie=rsin,
            omschrijving=f"{zt.omschrijving} {initiator.geslachtsnaam}", toelichting="",
            zaaktype_uuid=zt.uuid, registratiedatum=startdatum, startdatum=startdatum,
            einddatum_gepland=startdatum + dt.timedelta(days=zt.doorlooptijd_dagen),
            einddatum=moments[-1] if closed else None,
            vertrouwelijkheidaanduiding=rng.choice(("openbaar", "zaakvertrouwelijk", "vertrouwelijk")),
            statussen=statussen, resultaat=resultaat, rollen=rollen, zaakobjecten=zaakobjecten,
            document_uuids=[], besluit_uuids=[],
        )
        if initiator.adresseerbaar_object_id:
            zaak.geometrie = verblijfsobjecten[initiator.adresseerbaar_object_id].wgs84
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            iot = rng.choice([t for t in iotypen if t.uuid in zt.informatieobjecttype_uuids])
            doc_nr = next(doc_serial)
            inhoud = f"{iot.omschrijving} bij {zaak.identificatie}\n".encode()
            doc = Document(
                ids.uuid(), f"DOC-{startdatum.year}-{doc_nr:07d}", f"{iot.omschrijving} {zaak.identificatie}",
                iot.uuid, startdatum, f"{iot.omschrijving.lower()}-{doc_nr}.txt", "text/plain", inhoud,
                medewerker[1], iot.vertrouwelijkheidaanduiding, zaak_uuid, ids.uuid(), _moment(rng, startdatum),
            )
            documenten[doc.uuid] = doc
            zaak.document_uuids.append(doc.uuid)
        if closed and zt.besluittype_uuids and rng.random() < 0.6:
            datum = moments[-1]
            besluit = Besluit(ids.uuid(), f"BESLUIT-{datum.year}-{next(besluit_serial):06d}", zt.besluittype_uuids[0],
                              zaak_uuid, datum, datum + dt.timedelta(days=1))
            besluiten[besluit.uuid] = besluit
            zaak.besluit_uuids.append(besluit.uuid)
        zaken[zaak_uuid] = zaak

    # --- Signalen: meldingen at addresses -----------------------------------------------------
    categorieen = [Categorie(m, mn, s, sn, list(d)) for m, mn, s, sn, d in CATEGORIEEN]
    addresses = list(nummeraanduidingen.values())
    meldingen: dict[int, Melding] = {}
    created = sorted(_moment(rng, _date_between(rng, ANCHOR - dt.timedelta(days=365), ANCHOR))
                     for _ in range(n_meldingen))
    for i, at in enumerate(created, start=1):
        cat = rng.choice(categorieen)
        na = rng.choice(addresses)
        vo = verblijfsobjecten[na.adresseerbaar_object_id]
        lat, lon = rd_to_wgs84(vo.rd[0] + rng.uniform(-15, 15), vo.rd[1] + rng.uniform(-15, 15))
        chain = [MeldingStatus("m", "", at)]
        age_days = (ANCHOR - at.date()).days
        if age_days > 2 or rng.random() < 0.5:
            step = rng.random()
            moment = at + dt.timedelta(hours=rng.randint(2, 48))
            if step < 0.05:
                chain.append(MeldingStatus("a", "Dubbele melding.", moment, "behandelaar@graafland.example"))
            else:
                chain.append(MeldingStatus("b", "", moment, "behandelaar@graafland.example"))
                if age_days > 7 and rng.random() < 0.85:
                    moment += dt.timedelta(days=rng.randint(1, 6))
                    chain.append(MeldingStatus("o", "Bedankt voor uw melding. Het probleem is opgelost.", moment,
                                               "behandelaar@graafland.example"))
                    if rng.random() < 0.03:
                        chain.append(MeldingStatus("reopened", "", moment + dt.timedelta(days=2)))
        buurt = buurten[vo.buurt_code]
        meldingen[i] = Melding(
            id=i, signal_id=ids.uuid(), text=MELDING_TEKSTEN[cat.sub_slug], categorie=cat, statussen=chain,
            nummeraanduiding_id=na.identificatie, wgs84=(lat, lon), buurt_code=buurt.code, stadsdeel=buurt.wijk,
            created_at=at, incident_date_start=at - dt.timedelta(hours=rng.randint(0, 24)),
            source=_pick_weighted(rng, ("online", "Telefoon – Adoptant", "Telefoon – CCA", "app"), (6, 1, 2, 2)),
            priority="high" if rng.random() < 0.05 else "normal",
            reporter_email=f"melder{i}@example.org" if rng.random() < 0.6 else None,
        )

    # --- Open Klant: partijen for a share of adults, klantcontacten about their zaken ---------
    initiator_zaken: dict[str, list[str]] = {}
    for zaak in zaken.values():
        for rol in zaak.rollen:
            if rol.bsn and rol.omschrijving_generiek == "initiator":
                initiator_zaken.setdefault(rol.bsn, []).append(zaak.uuid)
    partijen: dict[str, Partij] = {}
    klantcontacten: dict[str, Klantcontact] = {}
    kc_serial = itertools.count(1)
    for n, p in enumerate(rng.sample(living_adults, k=min(len(living_adults), max(20, round(300 * scale)))), 1):
        partij = Partij(ids.uuid(), f"{n:010d}", p.bsn, p.voornamen.split()[0], p.voorvoegsel, p.geslachtsnaam,
                        p.nummeraanduiding_id, ids.uuid(),
                        f"{p.voornamen.split()[0].lower()}.{p.geslachtsnaam.lower().replace(' ', '')}@example.org")
        partijen[partij.uuid] = partij
        own = initiator_zaken.get(p.bsn, [])
        for _ in range(rng.choice((1, 1, 2, 3))):
            about = rng.choice(own) if own and rng.random() < 0.8 else None
            onderwerp = "Vraag over mijn zaak" if about else rng.choice(("Vraag over afvalinzameling",
                                                                             "Vraag over parkeren", "Klacht"))
            when = _moment(rng, _date_between(rng, ANCHOR - dt.timedelta(days=365), ANCHOR))
            kc = Klantcontact(ids.uuid(), f"{next(kc_serial):010d}", rng.choice(("telefoon", "e-mail", "balie")),
                              onderwerp, f"{onderwerp}: de klant is geholpen.", partij.uuid, ids.uuid(), about,
                              ids.uuid() if about else None, when, rng.random() < 0.9)
            klantcontacten[kc.uuid] = kc

    # --- Vakantieverhuur: registrations by residents for their own address ----------------------
    vakantieverhuur: dict[str, VakantieverhuurRegistratie] = {}
    for p in rng.sample(living_adults, k=min(len(living_adults), max(10, round(80 * scale)))):
        for _ in range(1 + (rng.random() < 0.1)):
            number = " ".join("".join(rng.choices(string.ascii_uppercase[:6] + string.digits, k=4)) for _ in range(5))
            created_at = _moment(rng, _date_between(rng, dt.date(2019, 1, 1), ANCHOR))
            assert p.nummeraanduiding_id is not None
            vakantieverhuur[number] = VakantieverhuurRegistratie(
                number, p.bsn, p.nummeraanduiding_id, created_at, created_at + dt.timedelta(days=rng.randint(0, 3)),
                f"verhuur.{p.geslachtsnaam.lower().replace(' ', '')}@example.org")

    # --- Huishoudboekje: burgers with accounts, agreements and monthly transactions ----------
    rekeningen: dict[int, Rekening] = {}
    rekening_serial = itertools.count(1)
    org_rekeningen: list[tuple[Rekening, str, int, bool]] = []
    for naam, rubriek, bedrag, credit in ORGANISATIE_REKENINGEN:
        rek = Rekening(next(rekening_serial), iban(rng, rng.choice(BANKEN)), naam)
        rekeningen[rek.id] = rek
        org_rekeningen.append((rek, rubriek, bedrag, credit))
    burgers: dict[int, Burger] = {}
    afspraken: dict[int, Afspraak] = {}
    transacties: dict[int, Transactie] = {}
    afspraak_serial, transactie_serial = itertools.count(1), itertools.count(1)
    huishoudens: dict[str, int] = {}
    for n, p in enumerate(rng.sample(living_adults, k=min(len(living_adults), max(10, round(60 * scale)))), 1):
        assert p.nummeraanduiding_id is not None
        na = nummeraanduidingen[p.nummeraanduiding_id]
        straat = openbare_ruimten[na.openbare_ruimte_id]
        rek = Rekening(next(rekening_serial), iban(rng, rng.choice(BANKEN)), f"{p.voornamen[0]}. {p.geslachtsnaam}")
        rekeningen[rek.id] = rek
        huishouden_id = huishoudens.setdefault(p.nummeraanduiding_id, len(huishoudens) + 1)
        toevoeging = f"-{na.huisnummertoevoeging}" if na.huisnummertoevoeging else ""
        huisnummer = f"{na.huisnummer}{na.huisletter or ''}{toevoeging}"
        burger = Burger(n, int(p.bsn), p.voornamen, " ".join(x for x in (p.voorvoegsel, p.geslachtsnaam) if x),
                        p.geboortedatum, straat.naam, huisnummer, na.postcode, woonplaatsen[straat.woonplaats_id].naam,
                        f"burger{n}@example.org" if rng.random() < 0.7 else None, [rek.id], huishouden_id)
        burgers[burger.id] = burger
        for org, rubriek, bedrag, credit in rng.sample(org_rekeningen, k=rng.randint(3, len(org_rekeningen))):
            valid_from = _date_between(rng, dt.date(2024, 1, 1), ANCHOR - dt.timedelta(days=200)).replace(day=1)
            afspraak = Afspraak(next(afspraak_serial), ids.uuid(), burger.id, f"{rubriek} {org.rekeninghouder}",
                                bedrag + rng.randint(-20, 20) * 100, credit, rubriek, org.id, valid_from, None)
            afspraken[afspraak.id] = afspraak
            for month in range(6):
                booked = (ANCHOR.replace(day=1) - dt.timedelta(days=31 * (month + 1))).replace(day=rng.randint(1, 28))
                tx = Transactie(next(transactie_serial), ids.uuid(), afspraak.id,
                                afspraak.bedrag if credit else -afspraak.bedrag, booked, org.iban)
                transacties[tx.id] = tx

    return Municipality(
        seed=seed, scale=scale, gemeentecode=code, gemeentenaam=place.gemeentenaam, rsin=rsin,
        woonplaatsen=woonplaatsen, buurten=buurten, openbare_ruimten=openbare_ruimten, panden=panden,
        nummeraanduidingen=nummeraanduidingen, verblijfsobjecten=verblijfsobjecten, personen=personen,
        catalogus=catalogus, zaken=zaken, documenten=documenten, besluiten=besluiten, categorieen=categorieen,
        meldingen=meldingen, partijen=partijen, klantcontacten=klantcontacten, objecttypen=objecttypen,
        objecten=objecten, vakantieverhuur=vakantieverhuur, rekeningen=rekeningen, burgers=burgers,
        afspraken=afspraken, transacties=transacties,
    )


def national(first: Municipality, *others: Municipality) -> Municipality:
    """``first`` with a national BRP and BAG: its persons and addresses and those of ``others`` (generated at
    other ``Place``s, so no id meets another). Only the registers the BRP and BAG serve are joined; zaken,
    meldingen and the rest stay ``first``'s own, as each municipality keeps its own."""
    every = (first, *others)
    return replace(
        first,
        woonplaatsen={k: v for m in every for k, v in m.woonplaatsen.items()},
        buurten={k: v for m in every for k, v in m.buurten.items()},
        openbare_ruimten={k: v for m in every for k, v in m.openbare_ruimten.items()},
        panden={k: v for m in every for k, v in m.panden.items()},
        nummeraanduidingen={k: v for m in every for k, v in m.nummeraanduidingen.items()},
        verblijfsobjecten={k: v for m in every for k, v in m.verblijfsobjecten.items()},
        personen={k: v for m in every for k, v in m.personen.items()},
    )


def _rsin(ids: _Ids) -> str:
    """The municipality's RSIN: a nine-digit number that passes the eleven-test, like a BSN."""
    while True:
        candidate = f"{ids.rng.randint(1_000_000, 99_999_999):09d}"
        if elfproef(candidate):
            return candidate
