"""The synthetic municipality as plain records, independent of any API's wire format.

Every simulator renders these records in its own API's shape, so one person, address or case is the
same object in every source. Identifiers are stored in the form their home register uses (BAG ids as
16-digit strings, BSNs as 9-digit strings, ZGW objects by UUID); URLs are made by the simulators.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# --- BAG -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Woonplaats:
    identificatie: str  # 4 digits
    naam: str
    gemeentecode: str  # 4 digits
    gemeentenaam: str


@dataclass(slots=True)
class Buurt:
    code: str  # CBS buurtcode, "BU" + gemeentecode + 4 digits
    naam: str
    wijk: str  # stadsdeel / wijk name, as Signalen calls it


@dataclass(slots=True)
class OpenbareRuimte:
    identificatie: str  # 16 digits, type code 30
    naam: str
    korte_naam: str
    woonplaats_id: str
    type: str = "Weg"


@dataclass(slots=True)
class Pand:
    identificatie: str  # 16 digits, type code 10
    oorspronkelijk_bouwjaar: int
    status: str = "Pand in gebruik"


@dataclass(slots=True)
class Nummeraanduiding:
    identificatie: str  # 16 digits, type code 20
    huisnummer: int
    huisletter: str | None
    huisnummertoevoeging: str | None
    postcode: str  # "1234AB"
    openbare_ruimte_id: str
    adresseerbaar_object_id: str
    type_adresseerbaar_object: str = "Verblijfsobject"


@dataclass(slots=True)
class Verblijfsobject:
    identificatie: str  # 16 digits, type code 01
    hoofdadres_id: str  # nummeraanduiding
    pand_ids: list[str]
    oppervlakte: int
    gebruiksdoelen: list[str]
    rd: tuple[float, float]  # RD New (EPSG:28992) x, y
    wgs84: tuple[float, float]  # (lat, lon)
    buurt_code: str
    status: str = "Verblijfsobject in gebruik"


# --- BRP -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Persoon:
    bsn: str
    a_nummer: str
    voornamen: str
    voorvoegsel: str | None
    geslachtsnaam: str
    geslacht: str  # "M", "V" or "O"
    geboortedatum: dt.date
    geboorteplaats: str
    nummeraanduiding_id: str | None  # None only for persons who left (not generated now)
    adresseerbaar_object_id: str | None
    datum_aanvang_adreshouding: dt.date
    overlijdensdatum: dt.date | None = None
    partner_bsns: list[str] = field(default_factory=list)
    ouder_bsns: list[str] = field(default_factory=list)
    kind_bsns: list[str] = field(default_factory=list)
    geheimhouding: int = 0  # 0 = none, 1..7 = indicatie geheimhouding persoonsgegevens
    in_onderzoek: list[str] = field(default_factory=list)  # BRP field paths under investigation
    nationaliteit: str = "0001"  # code table: 0001 = Nederlandse
    burgerlijke_staat: str = "ongehuwd"


# --- ZGW -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class StatusType:
    uuid: str
    omschrijving: str
    volgnummer: int
    is_eindstatus: bool


@dataclass(slots=True)
class RolType:
    uuid: str
    omschrijving: str
    omschrijving_generiek: str  # initiator, behandelaar, belanghebbende, ...


@dataclass(slots=True)
class ResultaatType:
    uuid: str
    omschrijving: str
    resultaattypeomschrijving: str  # URL into the Selectielijst API in real data; free text here


@dataclass(slots=True)
class InformatieObjectType:
    uuid: str
    omschrijving: str
    vertrouwelijkheidaanduiding: str
    concept: bool = False


@dataclass(slots=True)
class BesluitType:
    uuid: str
    omschrijving: str
    concept: bool = False


@dataclass(slots=True)
class ZaakType:
    uuid: str
    identificatie: str
    omschrijving: str
    doel: str
    doorlooptijd_dagen: int
    statustypen: list[StatusType]
    roltypen: list[RolType]
    resultaattypen: list[ResultaatType]
    informatieobjecttype_uuids: list[str]
    besluittype_uuids: list[str]
    concept: bool = False
    begin_geldigheid: dt.date = dt.date(2020, 1, 1)
    versiedatum: dt.date = dt.date(2020, 1, 1)


@dataclass(slots=True)
class Catalogus:
    uuid: str
    domein: str
    rsin: str
    contactpersoon_beheer_naam: str
    zaaktypen: list[ZaakType]
    informatieobjecttypen: list[InformatieObjectType]
    besluittypen: list[BesluitType]


@dataclass(slots=True)
class Status:
    uuid: str
    statustype_uuid: str
    datum_status_gezet: dt.datetime
    statustoelichting: str = ""


@dataclass(slots=True)
class Resultaat:
    uuid: str
    resultaattype_uuid: str
    toelichting: str = ""


@dataclass(slots=True)
class Rol:
    uuid: str
    roltype_uuid: str
    omschrijving_generiek: str
    betrokkene_type: str  # natuurlijk_persoon or medewerker
    bsn: str | None = None  # natuurlijk_persoon: inpBsn of a BRP person
    medewerker_id: str | None = None
    medewerker_naam: str | None = None
    registratiedatum: dt.datetime | None = None


@dataclass(slots=True)
class ZaakObject:
    uuid: str
    object_type: str  # "adres" (BAG nummeraanduiding / adres) or "overige" (Objecten object)
    nummeraanduiding_id: str | None = None
    object_uuid: str | None = None  # Objecten object uuid for "overige"


@dataclass(slots=True)
class Document:
    """An enkelvoudig informatieobject in Documenten, linked to one zaak."""

    uuid: str
    identificatie: str
    titel: str
    informatieobjecttype_uuid: str
    creatiedatum: dt.date
    bestandsnaam: str
    formaat: str
    inhoud: bytes
    auteur: str
    vertrouwelijkheidaanduiding: str
    zaak_uuid: str
    zio_uuid: str  # the zaakinformatieobject linking it to the zaak
    registratiedatum: dt.datetime


@dataclass(slots=True)
class Besluit:
    uuid: str
    identificatie: str
    besluittype_uuid: str
    zaak_uuid: str
    datum: dt.date
    ingangsdatum: dt.date
    toelichting: str = ""


@dataclass(slots=True)
class Zaak:
    uuid: str
    identificatie: str
    bronorganisatie: str  # RSIN
    omschrijving: str
    toelichting: str
    zaaktype_uuid: str
    registratiedatum: dt.date
    startdatum: dt.date
    einddatum_gepland: dt.date
    einddatum: dt.date | None
    vertrouwelijkheidaanduiding: str
    statussen: list[Status]  # oldest first; the last one is the current status
    resultaat: Resultaat | None
    rollen: list[Rol]
    zaakobjecten: list[ZaakObject]
    document_uuids: list[str]
    besluit_uuids: list[str]
    geometrie: tuple[float, float] | None = None  # (lat, lon)


# --- Signalen --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Categorie:
    main_slug: str
    main_name: str
    sub_slug: str
    sub_name: str
    departments: list[str]


@dataclass(slots=True)
class MeldingStatus:
    state: str  # m, i, b, h, o, a, reopened, ...
    text: str
    created_at: dt.datetime
    user: str | None = None


@dataclass(slots=True)
class Melding:
    id: int
    signal_id: str  # uuid
    text: str
    categorie: Categorie
    statussen: list[MeldingStatus]  # oldest first; the last one is the current status
    nummeraanduiding_id: str  # where it was reported; Signalen itself only knows the address text
    wgs84: tuple[float, float]  # (lat, lon)
    buurt_code: str
    stadsdeel: str
    created_at: dt.datetime
    incident_date_start: dt.datetime
    source: str
    priority: str = "normal"
    type: str = "SIG"
    reporter_email: str | None = None
    reporter_phone: str | None = None


# --- Open Klant ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Partij:
    uuid: str
    nummer: str
    bsn: str
    voornaam: str
    voorvoegsel: str | None
    achternaam: str
    nummeraanduiding_id: str | None  # bezoekadres
    identificator_uuid: str
    emailadres: str | None = None


@dataclass(slots=True)
class Klantcontact:
    uuid: str
    nummer: str
    kanaal: str
    onderwerp: str
    inhoud: str
    partij_uuid: str
    betrokkene_uuid: str
    zaak_uuid: str | None  # onderwerpobject
    onderwerpobject_uuid: str | None
    plaatsgevonden_op: dt.datetime
    indicatie_contact_gelukt: bool = True


# --- Objecten --------------------------------------------------------------------------------------


@dataclass(slots=True)
class ObjectType:
    uuid: str
    name: str
    name_plural: str
    description: str
    json_schema: dict[str, object]


@dataclass(slots=True)
class Object:
    uuid: str
    objecttype_uuid: str
    data: dict[str, object]
    wgs84: tuple[float, float]  # (lat, lon)
    zaak_uuids: list[str]
    start_at: dt.date
    registration_at: dt.date


# --- Vakantieverhuur (LVV) -------------------------------------------------------------------------


@dataclass(slots=True)
class VakantieverhuurRegistratie:
    registration_number: str  # "AAAA AAAA AAAA AAAA AAAA"
    bsn: str
    nummeraanduiding_id: str
    created_at: dt.datetime
    agreement_date: dt.datetime
    email: str


# --- Huishoudboekje --------------------------------------------------------------------------------


@dataclass(slots=True)
class Rekening:
    id: int
    iban: str
    rekeninghouder: str


@dataclass(slots=True)
class Afspraak:
    id: int
    uuid: str
    burger_id: int
    omschrijving: str
    bedrag: int  # euro cents
    credit: bool
    rubriek: str
    tegen_rekening_id: int
    valid_from: dt.date
    valid_through: dt.date | None


@dataclass(slots=True)
class Transactie:
    id: int
    uuid: str
    afspraak_id: int
    bedrag: int  # euro cents, negative for debit
    transactie_datum: dt.date
    tegen_rekening_iban: str
    is_geboekt: bool = True


@dataclass(slots=True)
class Burger:
    id: int
    bsn: int  # Huishoudboekje stores the BSN as an integer: leading zeros are lost
    voornamen: str
    achternaam: str
    geboortedatum: dt.date
    straatnaam: str
    huisnummer: str
    postcode: str
    plaatsnaam: str
    email: str | None
    rekening_ids: list[int]
    huishouden_id: int


# --- The whole municipality ------------------------------------------------------------------------


@dataclass(slots=True)
class Municipality:
    seed: int
    scale: float
    gemeentecode: str
    gemeentenaam: str
    rsin: str
    woonplaatsen: dict[str, Woonplaats]
    buurten: dict[str, Buurt]
    openbare_ruimten: dict[str, OpenbareRuimte]
    panden: dict[str, Pand]
    nummeraanduidingen: dict[str, Nummeraanduiding]
    verblijfsobjecten: dict[str, Verblijfsobject]
    personen: dict[str, Persoon]  # by BSN
    catalogus: Catalogus
    zaken: dict[str, Zaak]  # by uuid, in identificatie order
    documenten: dict[str, Document]  # by uuid
    besluiten: dict[str, Besluit]  # by uuid
    categorieen: list[Categorie]
    meldingen: dict[int, Melding]  # by id
    partijen: dict[str, Partij]  # by uuid
    klantcontacten: dict[str, Klantcontact]  # by uuid
    objecttypen: dict[str, ObjectType]
    objecten: dict[str, Object]
    vakantieverhuur: dict[str, VakantieverhuurRegistratie]  # by registration number
    rekeningen: dict[int, Rekening]
    burgers: dict[int, Burger]
    afspraken: dict[int, Afspraak]
    transacties: dict[int, Transactie]

    def zaaktype(self, uuid: str) -> ZaakType:
        for zt in self.catalogus.zaaktypen:
            if zt.uuid == uuid:
                return zt
        raise KeyError(uuid)
