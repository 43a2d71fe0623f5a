"""Renders the ZGW records the way Open Zaak 1.30 serialises them.

Every relation is an absolute URL, also across APIs (zaaktype -> Catalogi, informatieobject ->
Documenten, zaakobject -> BAG or Objecten). Catalogi, Documenten and Besluiten resources have a ``url``
but no ``uuid`` field, as in the standard; Zaken resources have both.

Open Zaak deviations from the official OAS that are reproduced on purpose (a gateway must survive them):

- ``Status.gezetdoor`` is ``null`` (the OAS declares a non-nullable URI);
- ``ZaakObject.zaakobjecttype`` is ``null`` (non-nullable URI in the OAS);
- ``ZaakObject.objectTypeOverige`` is ``""`` for non-"overige" objects (the OAS pattern needs a letter);
- empty strings where the OAS demands an e-mail address, URI or pattern: ``Zaak.selectielijstklasse``,
  ``Zaak.communicatiekanaal``, ``Rol.betrokkene``, ``Rol.contactpersoonRol.emailadres``,
  ``Catalogus.contactpersoonBeheerEmailadres``, ``ZaakType.selectielijstProcestype``,
  ``ResultaatType.selectielijstklasse``;
- empty "gegevensgroepen" instead of ``null``: ``Zaak.verlenging = {"reden": "", "duur": null}``,
  ``EnkelvoudigInformatieObject.ondertekening = {"soort": "", "datum": null}`` and
  ``.integriteit = {"algoritme": "", "waarde": "", "datum": null}`` (non-nullable members / enums);
- ``Besluit.vervalreden`` and ``vervalredenWeergave`` are ``""`` when not expired (enum / minLength 1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from demo.model import (
    Besluit,
    BesluitType,
    Document,
    InformatieObjectType,
    Resultaat,
    ResultaatType,
    Rol,
    RolType,
    Status,
    StatusType,
    Zaak,
    ZaakObject,
    ZaakType,
)
from demo.zgw_store import ZgwStore, derived_uuid

Json = dict[str, Any]
UrlFor = Callable[[str, str], str]  # (path, source) -> absolute URL

SELECTIELIJST = "https://selectielijst.openzaak.nl/api/v1"
AARD_RELATIE_ZAAK = "Hoort bij, omgekeerd: kent"


def iso_datetime(moment: dt.datetime) -> str:
    """DRF renders UTC as ``Z``."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def iso_date(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def voorletters(voornamen: str) -> str:
    return "".join(f"{name[0]}." for name in voornamen.split() if name)


class Renderer:
    """Turns store records into API JSON; ``url_for(path, source)`` makes the absolute links."""

    def __init__(self, store: ZgwStore, url_for: UrlFor) -> None:
        self.store = store
        self.url_for = url_for

    # -- URLs --------------------------------------------------------------------------------------

    def zrc(self, path: str) -> str:
        return self.url_for(path, "zaken")

    def ztc(self, path: str) -> str:
        return self.url_for(path, "catalogi")

    def drc(self, path: str) -> str:
        return self.url_for(path, "documenten")

    def brc(self, path: str) -> str:
        return self.url_for(path, "besluiten")

    def zaak_url(self, zaak_uuid: str) -> str:
        return self.zrc(f"/zaken/{zaak_uuid}")

    def eio_url(self, doc_uuid: str) -> str:
        return self.drc(f"/enkelvoudiginformatieobjecten/{doc_uuid}")

    # -- Zaken ---------------------------------------------------------------------------------------

    def zaak(self, zaak: Zaak) -> Json:
        zt = self.store.zaaktypen[zaak.zaaktype_uuid]
        return {
            "url": self.zaak_url(zaak.uuid),
            "uuid": zaak.uuid,
            "identificatie": zaak.identificatie,
            "bronorganisatie": zaak.bronorganisatie,
            "omschrijving": zaak.omschrijving,
            "toelichting": zaak.toelichting,
            "zaaktype": self.ztc(f"/zaaktypen/{zt.uuid}"),
            "registratiedatum": iso_date(zaak.registratiedatum),
            "verantwoordelijkeOrganisatie": zaak.bronorganisatie,
            "startdatum": iso_date(zaak.startdatum),
            "einddatum": iso_date(zaak.einddatum),
            "einddatumGepland": iso_date(zaak.einddatum_gepland),
            "uiterlijkeEinddatumAfdoening": iso_date(zaak.einddatum_gepland),
            "publicatiedatum": None,
            "communicatiekanaal": "",
            "productenOfDiensten": [],
            "vertrouwelijkheidaanduiding": zaak.vertrouwelijkheidaanduiding,
            "betalingsindicatie": "",
            "betalingsindicatieWeergave": "",
            "laatsteBetaaldatum": None,
            "zaakgeometrie": {"type": "Point", "coordinates": [zaak.geometrie[1], zaak.geometrie[0]]}
            if zaak.geometrie else None,
            "verlenging": {"reden": "", "duur": None},
            "opschorting": {"indicatie": False, "reden": ""},
            "selectielijstklasse": "",
            "hoofdzaak": None,
            "deelzaken": [],
            "relevanteAndereZaken": [],
            "eigenschappen": [],
            "rollen": [self.zrc(f"/rollen/{r.uuid}") for r in zaak.rollen],
            "status": self.zrc(f"/statussen/{zaak.statussen[-1].uuid}") if zaak.statussen else None,
            "zaakinformatieobjecten": [self.zrc(f"/zaakinformatieobjecten/{d.zio_uuid}")
                                       for d in self.store.documents_of(zaak)],
            "zaakobjecten": [self.zrc(f"/zaakobjecten/{o.uuid}") for o in zaak.zaakobjecten],
            "kenmerken": [],
            "archiefnominatie": "",
            "archiefstatus": "nog_te_archiveren",
            "archiefactiedatum": None,
            "resultaat": self.zrc(f"/resultaten/{zaak.resultaat.uuid}") if zaak.resultaat else None,
            "opdrachtgevendeOrganisatie": "",
            "processobjectaard": "",
            "startdatumBewaartermijn": None,
            "processobject": {"datumkenmerk": "", "identificatie": "", "objecttype": "", "registratie": ""},
        }

    def status(self, zaak: Zaak, status: Status) -> Json:
        return {
            "url": self.zrc(f"/statussen/{status.uuid}"),
            "uuid": status.uuid,
            "zaak": self.zaak_url(zaak.uuid),
            "statustype": self.ztc(f"/statustypen/{status.statustype_uuid}"),
            "datumStatusGezet": iso_datetime(status.datum_status_gezet),
            "statustoelichting": status.statustoelichting,
            "indicatieLaatstGezetteStatus": status is zaak.statussen[-1],
            "gezetdoor": None,
            "zaakinformatieobjecten": [],
        }

    def resultaat(self, zaak: Zaak, resultaat: Resultaat) -> Json:
        return {
            "url": self.zrc(f"/resultaten/{resultaat.uuid}"),
            "uuid": resultaat.uuid,
            "zaak": self.zaak_url(zaak.uuid),
            "resultaattype": self.ztc(f"/resultaattypen/{resultaat.resultaattype_uuid}"),
            "toelichting": resultaat.toelichting,
        }

    def rol(self, zaak: Zaak, rol: Rol) -> Json:
        _, roltype = self.store.roltypen[rol.roltype_uuid]
        return {
            "url": self.zrc(f"/rollen/{rol.uuid}"),
            "uuid": rol.uuid,
            "zaak": self.zaak_url(zaak.uuid),
            "betrokkene": "",
            "betrokkeneType": rol.betrokkene_type,
            "afwijkendeNaamBetrokkene": "",
            "roltype": self.ztc(f"/roltypen/{roltype.uuid}"),
            "omschrijving": roltype.omschrijving,
            "omschrijvingGeneriek": rol.omschrijving_generiek,
            "roltoelichting": roltype.omschrijving,
            "registratiedatum": iso_datetime(rol.registratiedatum or dt.datetime.combine(
                zaak.registratiedatum, dt.time(), dt.UTC)),
            "indicatieMachtiging": "",
            "contactpersoonRol": {"emailadres": "", "functie": "", "telefoonnummer": "", "naam": ""},
            "statussen": [],
            "betrokkeneIdentificatie": self._betrokkene(rol),
        }

    def _betrokkene(self, rol: Rol) -> Json:
        if rol.betrokkene_type == "medewerker":
            naam = rol.medewerker_naam or ""
            initials, _, achternaam = naam.rpartition(" ")
            return {"identificatie": rol.medewerker_id or "", "achternaam": achternaam,
                    "voorletters": initials, "voorvoegselAchternaam": ""}
        person = self.store.data.personen.get(rol.bsn or "")
        if person is None:
            return {"inpBsn": rol.bsn or "", "anpIdentificatie": "", "inpA_nummer": "", "geslachtsnaam": "",
                    "voorvoegselGeslachtsnaam": "", "voorletters": "", "voornamen": "", "geslachtsaanduiding": "",
                    "geboortedatum": "", "verblijfsadres": None, "subVerblijfBuitenland": None}
        adres = self._adres(person.nummeraanduiding_id)
        return {
            "inpBsn": person.bsn,
            "anpIdentificatie": "",
            "inpA_nummer": person.a_nummer,
            "geslachtsnaam": person.geslachtsnaam,
            "voorvoegselGeslachtsnaam": person.voorvoegsel or "",
            "voorletters": voorletters(person.voornamen),
            "voornamen": person.voornamen,
            "geslachtsaanduiding": person.geslacht.lower(),
            "geboortedatum": person.geboortedatum.isoformat(),
            "verblijfsadres": {
                "aoaIdentificatie": adres["identificatie"], "wplWoonplaatsNaam": adres["wplWoonplaatsNaam"],
                "gorOpenbareRuimteNaam": adres["gorOpenbareRuimteNaam"], "aoaPostcode": adres["postcode"],
                "aoaHuisnummer": adres["huisnummer"], "aoaHuisletter": adres["huisletter"],
                "aoaHuisnummertoevoeging": adres["huisnummertoevoeging"], "inpLocatiebeschrijving": "",
            } if adres else None,
            "subVerblijfBuitenland": None,
        }

    def _adres(self, nummeraanduiding_id: str | None) -> Json | None:
        """The ``ObjectAdres`` snapshot Open Zaak keeps of a BAG address."""
        data = self.store.data
        na = data.nummeraanduidingen.get(nummeraanduiding_id or "")
        if na is None:
            return None
        ruimte = data.openbare_ruimten[na.openbare_ruimte_id]
        return {
            "identificatie": na.identificatie,
            "wplWoonplaatsNaam": data.woonplaatsen[ruimte.woonplaats_id].naam,
            "gorOpenbareRuimteNaam": ruimte.naam,
            "huisnummer": na.huisnummer,
            "huisletter": na.huisletter or "",
            "huisnummertoevoeging": na.huisnummertoevoeging or "",
            "postcode": na.postcode,
        }

    def zaakobject(self, zaak: Zaak, obj: ZaakObject) -> Json:
        body: Json = {
            "url": self.zrc(f"/zaakobjecten/{obj.uuid}"),
            "uuid": obj.uuid,
            "zaak": self.zaak_url(zaak.uuid),
            "object": "",  # set below
            "zaakobjecttype": None,
            "objectType": obj.object_type,
            "objectTypeOverige": "",
            "objectTypeOverigeDefinitie": None,
            "relatieomschrijving": "",
        }
        body["object"] = self.object_url(obj)
        if obj.object_type == "adres":
            body["objectIdentificatie"] = self._adres(obj.nummeraanduiding_id)
        elif obj.object_uuid:
            record = self.store.data.objecten.get(obj.object_uuid)
            otype = self.store.data.objecttypen.get(record.objecttype_uuid) if record else None
            body["objectTypeOverige"] = otype.name.lower() if otype else "object"
        return body

    def object_url(self, obj: ZaakObject) -> str:
        """A BAG address for ``adres``, an Objecten object for ``overige``."""
        if obj.object_type == "adres":
            return self.url_for(f"/adressen/{obj.nummeraanduiding_id}", "bag")
        return self.url_for(f"/objects/{obj.object_uuid}", "objecten") if obj.object_uuid else ""

    def zaakinformatieobject(self, zaak: Zaak, doc: Document) -> Json:
        return {
            "url": self.zrc(f"/zaakinformatieobjecten/{doc.zio_uuid}"),
            "uuid": doc.zio_uuid,
            "informatieobject": self.eio_url(doc.uuid),
            "zaak": self.zaak_url(zaak.uuid),
            "aardRelatieWeergave": AARD_RELATIE_ZAAK,
            "titel": "",
            "beschrijving": "",
            "registratiedatum": iso_datetime(doc.registratiedatum),
            "vernietigingsdatum": None,
            "status": None,
        }

    def zaakbesluit(self, zaak: Zaak, besluit_uuid: str) -> Json:
        zb_uuid = derived_uuid(besluit_uuid, "zaakbesluit")
        return {"url": self.zrc(f"/zaken/{zaak.uuid}/besluiten/{zb_uuid}"), "uuid": zb_uuid,
                "besluit": self.brc(f"/besluiten/{besluit_uuid}")}

    # -- Catalogi ------------------------------------------------------------------------------------

    def catalogus(self) -> Json:
        cat = self.store.data.catalogus
        return {
            "url": self.ztc(f"/catalogussen/{cat.uuid}"),
            "domein": cat.domein,
            "rsin": cat.rsin,
            "contactpersoonBeheerNaam": cat.contactpersoon_beheer_naam,
            "contactpersoonBeheerTelefoonnummer": "",
            "contactpersoonBeheerEmailadres": "",
            "zaaktypen": [self.ztc(f"/zaaktypen/{zt.uuid}") for zt in cat.zaaktypen],
            "besluittypen": [self.ztc(f"/besluittypen/{t.uuid}") for t in cat.besluittypen],
            "besluittypeOmschrijving": [t.omschrijving for t in cat.besluittypen],
            "informatieobjecttypen": [self.ztc(f"/informatieobjecttypen/{t.uuid}") for t in cat.informatieobjecttypen],
            "informatieobjecttypeOmschrijving": [t.omschrijving for t in cat.informatieobjecttypen],
            "naam": f"Zaaktypecatalogus {self.store.data.gemeentenaam}",
            "versie": "",
            "begindatumVersie": None,
        }

    def _catalogus_url(self) -> str:
        return self.ztc(f"/catalogussen/{self.store.data.catalogus.uuid}")

    def _geldigheid(self, begin: dt.date | None) -> Json:
        return {"beginGeldigheid": iso_date(begin), "eindeGeldigheid": None, "beginObject": iso_date(begin),
                "eindeObject": None}

    def zaaktype(self, zt: ZaakType) -> Json:
        iotypen = [self.store.iotypen[u] for u in zt.informatieobjecttype_uuids]
        besluittypen = [self.store.besluittypen[u] for u in zt.besluittype_uuids]
        return {
            "url": self.ztc(f"/zaaktypen/{zt.uuid}"),
            "identificatie": zt.identificatie,
            "omschrijving": zt.omschrijving,
            "omschrijvingGeneriek": "",
            "vertrouwelijkheidaanduiding": "zaakvertrouwelijk",
            "doel": zt.doel,
            "aanleiding": zt.doel,
            "toelichting": "",
            "indicatieInternOfExtern": "extern",
            "handelingInitiator": "Aanvragen",
            "onderwerp": zt.omschrijving[:80],
            "handelingBehandelaar": "Behandelen",
            "doorlooptijd": f"P{zt.doorlooptijd_dagen}D",
            "servicenorm": None,
            "opschortingEnAanhoudingMogelijk": False,
            "verlengingMogelijk": False,
            "verlengingstermijn": None,
            "trefwoorden": [],
            "publicatieIndicatie": False,
            "publicatietekst": "",
            "verantwoordingsrelatie": [],
            "productenOfDiensten": [],
            "selectielijstProcestype": "",
            "referentieproces": {"naam": "", "link": ""},
            "verantwoordelijke": self.store.data.gemeentenaam,
            "zaakobjecttypen": [],
            "catalogus": self._catalogus_url(),
            "statustypen": [self.ztc(f"/statustypen/{s.uuid}") for s in zt.statustypen],
            "resultaattypen": [self.ztc(f"/resultaattypen/{r.uuid}") for r in zt.resultaattypen],
            "resultaattypeOmschrijving": [r.omschrijving for r in zt.resultaattypen],
            "eigenschappen": [],
            "informatieobjecttypen": [self.ztc(f"/informatieobjecttypen/{t.uuid}") for t in iotypen],
            "informatieobjecttypeOmschrijving": [t.omschrijving for t in iotypen],
            "roltypen": [self.ztc(f"/roltypen/{r.uuid}") for r in zt.roltypen],
            "besluittypen": [self.ztc(f"/besluittypen/{t.uuid}") for t in besluittypen],
            "besluittypeOmschrijving": [t.omschrijving for t in besluittypen],
            "deelzaaktypen": [],
            "deelzaaktypeIdentificaties": [],
            "gerelateerdeZaaktypen": [],
            **self._geldigheid(zt.begin_geldigheid),
            "versiedatum": iso_date(zt.versiedatum),
            "concept": zt.concept,
        }

    def _zaaktype_ref(self, zt: ZaakType) -> Json:
        return {"zaaktype": self.ztc(f"/zaaktypen/{zt.uuid}"), "zaaktypeIdentificatie": zt.identificatie,
                "catalogus": self._catalogus_url()}

    def statustype(self, zt: ZaakType, st: StatusType) -> Json:
        return {
            "url": self.ztc(f"/statustypen/{st.uuid}"),
            "omschrijving": st.omschrijving,
            "omschrijvingGeneriek": "",
            "statustekst": "",
            **self._zaaktype_ref(zt),
            "volgnummer": st.volgnummer,
            "isEindstatus": st.is_eindstatus,
            "informeren": False,
            "doorlooptijd": None,
            "toelichting": None,
            "checklistitemStatustype": [],
            "eigenschappen": [],
            **self._geldigheid(zt.begin_geldigheid),
        }

    def roltype(self, zt: ZaakType, rt: RolType) -> Json:
        return {"url": self.ztc(f"/roltypen/{rt.uuid}"), **self._zaaktype_ref(zt), "omschrijving": rt.omschrijving,
                "omschrijvingGeneriek": rt.omschrijving_generiek, **self._geldigheid(zt.begin_geldigheid)}

    def resultaattype(self, zt: ZaakType, rt: ResultaatType) -> Json:
        return {
            "url": self.ztc(f"/resultaattypen/{rt.uuid}"),
            **self._zaaktype_ref(zt),
            "omschrijving": rt.omschrijving[:30],
            "resultaattypeomschrijving": f"{SELECTIELIJST}/resultaattypeomschrijvingen/"
                                         f"{uuid.uuid5(uuid.NAMESPACE_URL, rt.resultaattypeomschrijving)}",
            "omschrijvingGeneriek": rt.resultaattypeomschrijving,
            "selectielijstklasse": "",
            "toelichting": "",
            "archiefnominatie": "vernietigen",
            "archiefactietermijn": "P10Y",
            "brondatumArchiefprocedure": {"afleidingswijze": "afgehandeld", "datumkenmerk": "",
                                          "einddatumBekend": False, "objecttype": "", "registratie": "",
                                          "procestermijn": None},
            "procesobjectaard": "",
            "indicatieSpecifiek": None,
            "procestermijn": None,
            "besluittypen": [],
            "besluittypeOmschrijving": [],
            "informatieobjecttypen": [],
            "informatieobjecttypeOmschrijving": [],
            **self._geldigheid(zt.begin_geldigheid),
        }

    def _zaaktypen_with(self, attr: str, type_uuid: str) -> list[ZaakType]:
        return [zt for zt in self.store.zaaktypen.values() if type_uuid in getattr(zt, attr)]

    def informatieobjecttype(self, iot: InformatieObjectType) -> Json:
        zaaktypen = self._zaaktypen_with("informatieobjecttype_uuids", iot.uuid)
        return {
            "url": self.ztc(f"/informatieobjecttypen/{iot.uuid}"),
            "catalogus": self._catalogus_url(),
            "omschrijving": iot.omschrijving,
            "vertrouwelijkheidaanduiding": iot.vertrouwelijkheidaanduiding,
            **self._geldigheid(dt.date(2020, 1, 1)),
            "concept": iot.concept,
            "zaaktypen": [self.ztc(f"/zaaktypen/{zt.uuid}") for zt in zaaktypen],
            "zaaktypeIdentificaties": sorted({zt.identificatie for zt in zaaktypen}),
            "besluittypen": [],
            "besluittypeOmschrijving": [],
            "informatieobjectcategorie": iot.omschrijving,
            "trefwoord": [],
            "omschrijvingGeneriek": {"informatieobjecttypeOmschrijvingGeneriek": "", **{
                f"{part}InformatieobjecttypeOmschrijvingGeneriek": "" for part in
                ("definitie", "herkomst", "hierarchie", "opmerking")}},
        }

    def besluittype(self, bt: BesluitType) -> Json:
        zaaktypen = self._zaaktypen_with("besluittype_uuids", bt.uuid)
        return {
            "url": self.ztc(f"/besluittypen/{bt.uuid}"),
            "catalogus": self._catalogus_url(),
            "zaaktypen": [self.ztc(f"/zaaktypen/{zt.uuid}") for zt in zaaktypen],
            "zaaktypeIdentificaties": sorted({zt.identificatie for zt in zaaktypen}),
            "omschrijving": bt.omschrijving,
            "omschrijvingGeneriek": "",
            "besluitcategorie": "",
            "reactietermijn": "P6W",
            "publicatieIndicatie": False,
            "publicatietekst": "",
            "publicatietermijn": None,
            "toelichting": "",
            "informatieobjecttypen": [],
            "informatieobjecttypeOmschrijvingen": [],
            **self._geldigheid(dt.date(2020, 1, 1)),
            "concept": bt.concept,
            "resultaattypen": [],
            "resultaattypenOmschrijving": [],
            "vastgelegdIn": [],
        }

    # -- Documenten ----------------------------------------------------------------------------------

    def eio(self, doc: Document) -> Json:
        url = self.eio_url(doc.uuid)
        return {
            "url": url,
            "identificatie": doc.identificatie,
            "bronorganisatie": self.store.data.rsin,
            "creatiedatum": iso_date(doc.creatiedatum),
            "titel": doc.titel,
            "vertrouwelijkheidaanduiding": doc.vertrouwelijkheidaanduiding,
            "auteur": doc.auteur,
            "status": "definitief",
            "formaat": doc.formaat,
            "taal": "dut",
            "versie": 1,
            "beginRegistratie": iso_datetime(doc.registratiedatum),
            "bestandsnaam": doc.bestandsnaam,
            "inhoud": f"{url}/download?versie=1",
            "bestandsomvang": len(doc.inhoud),
            "link": "",
            "beschrijving": "",
            "ontvangstdatum": None,
            "verzenddatum": None,
            "indicatieGebruiksrecht": None,
            "verschijningsvorm": "",
            "ondertekening": {"soort": "", "datum": None},
            "integriteit": {"algoritme": "", "waarde": "", "datum": None},
            "informatieobjecttype": self.ztc(f"/informatieobjecttypen/{doc.informatieobjecttype_uuid}"),
            "locked": False,
            "bestandsdelen": [],
            "trefwoorden": [],
        }

    def oio(self, doc: Document) -> Json:
        return {"url": self.drc(f"/objectinformatieobjecten/{derived_uuid(doc.zio_uuid, 'oio')}"),
                "informatieobject": self.eio_url(doc.uuid), "object": self.zaak_url(doc.zaak_uuid),
                "objectType": "zaak"}

    # -- Besluiten -----------------------------------------------------------------------------------

    def besluit(self, besluit: Besluit) -> Json:
        return {
            "url": self.brc(f"/besluiten/{besluit.uuid}"),
            "identificatie": besluit.identificatie,
            "verantwoordelijkeOrganisatie": self.store.data.rsin,
            "besluittype": self.ztc(f"/besluittypen/{besluit.besluittype_uuid}"),
            "zaak": self.zaak_url(besluit.zaak_uuid) if besluit.zaak_uuid else "",
            "datum": iso_date(besluit.datum),
            "toelichting": besluit.toelichting,
            "bestuursorgaan": "",
            "ingangsdatum": iso_date(besluit.ingangsdatum),
            "vervaldatum": None,
            "vervalreden": "",
            "vervalredenWeergave": "",
            "publicatiedatum": None,
            "verzenddatum": None,
            "uiterlijkeReactiedatum": None,
        }
