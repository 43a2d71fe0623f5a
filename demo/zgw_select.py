"""The list filters of the simulated ZGW APIs and the selections they make.

Filter names and value types follow the Zaken 1.5.1 / Catalogi / Documenten / Besluiten OAS. As in
django-filter, every rol filter on ``/zaken`` is its own join: a zaak matches when *some* rol has the
type and *some* rol has the BSN. A URL filter compares the path only (so any host spelling of this
server works) and a URL that names nothing here matches nothing rather than failing.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from typing import Any

from demo.model import Besluit, Document, Rol, Status, Zaak, ZaakObject, ZaakType
from demo.zgw_query import Filter, apply_ordering, uuid_from_url
from demo.zgw_store import ZgwStore

Predicate = Callable[[Any], bool]

VERTROUWELIJKHEID = ("openbaar", "beperkt_openbaar", "intern", "zaakvertrouwelijk", "vertrouwelijk",
                     "confidentieel", "geheim", "zeer_geheim")
BETROKKENE_TYPES = ("natuurlijk_persoon", "niet_natuurlijk_persoon", "vestiging", "organisatorische_eenheid",
                    "medewerker")
ROL_GENERIEK = ("adviseur", "behandelaar", "belanghebbende", "beslisser", "initiator", "klantcontacter",
                "zaakcoordinator", "mede_initiator")
OBJECT_TYPES = ("adres", "besluit", "buurt", "enkelvoudig_document", "gemeente", "gemeentelijke_openbare_ruimte",
                "huishouden", "inrichtingselement", "kadastrale_onroerende_zaak", "kunstwerkdeel",
                "maatschappelijke_activiteit", "medewerker", "natuurlijk_persoon", "niet_natuurlijk_persoon",
                "openbare_ruimte", "organisatorische_eenheid", "pand", "spoorbaandeel", "status", "terreindeel",
                "terrein_gebouwd_object", "vestiging", "waterdeel", "wegdeel", "wijk", "woonplaats", "woz_deelobject",
                "woz_object", "woz_waarde", "zakelijk_recht", "overige")
ZAAK_ORDERING = ("startdatum", "einddatum", "publicatiedatum", "archiefactiedatum", "registratiedatum",
                 "identificatie")
CATALOGUS_STATUS = Filter("status", "choice", ("alles", "concept", "definitief"))

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
_ZAAK_DATES: dict[str, tuple[tuple[str, ...], Callable[[Zaak], dt.date | None]]] = {
    "startdatum": (("", "gt", "gte", "lt", "lte"), lambda z: z.startdatum),
    "registratiedatum": (("", "gt", "lt"), lambda z: z.registratiedatum),
    "einddatum": (("", "gt", "lt"), lambda z: z.einddatum),
    "einddatumGepland": (("", "gt", "lt"), lambda z: z.einddatum_gepland),
    "uiterlijkeEinddatumAfdoening": (("", "gt", "lt"), lambda z: z.einddatum_gepland),
    "archiefactiedatum": (("", "lt", "gt"), lambda z: None),
}
# betrokkeneIdentificatie filters: name -> (max length, value of a rol)
_ROL_IDENTIFIERS: dict[str, tuple[int | None, Callable[[ZgwStore, Rol], str | None]]] = {
    "natuurlijkPersoon__inpBsn": (9, lambda s, r: r.bsn),
    "natuurlijkPersoon__anpIdentificatie": (17, lambda s, r: None),
    "natuurlijkPersoon__inpA_nummer": (10, lambda s, r: s.data.personen[r.bsn].a_nummer
                                       if r.bsn in s.data.personen else None),
    "nietNatuurlijkPersoon__innNnpId": (None, lambda s, r: None),
    "nietNatuurlijkPersoon__annIdentificatie": (17, lambda s, r: None),
    "vestiging__vestigingsNummer": (24, lambda s, r: None),
    "medewerker__identificatie": (24, lambda s, r: r.medewerker_id),
    "organisatorischeEenheid__identificatie": (None, lambda s, r: None),
}


def _date_filters() -> list[Filter]:
    return [Filter(f"{name}__{op}" if op else name, "date")
            for name, (ops, _) in _ZAAK_DATES.items() for op in ops]


ZAAK_FILTERS: tuple[Filter, ...] = (
    Filter("identificatie"), Filter("bronorganisatie"), Filter("bronorganisatie__in", "strs"),
    Filter("zaaktype", "url"),
    Filter("archiefnominatie", "choice", ("blijvend_bewaren", "vernietigen")), Filter("archiefnominatie__in", "strs"),
    Filter("archiefstatus", "choice", ("nog_te_archiveren", "gearchiveerd", "gearchiveerd_procestermijn_onbekend",
                                       "overgedragen")),
    Filter("archiefstatus__in", "strs"),
    *_date_filters(), Filter("einddatum__isnull", "bool"), Filter("archiefactiedatum__isnull", "bool"),
    Filter("rol__betrokkeneType", "choice", BETROKKENE_TYPES), Filter("rol__betrokkene", "url"),
    Filter("rol__omschrijvingGeneriek", "choice", ROL_GENERIEK),
    Filter("maximaleVertrouwelijkheidaanduiding", "choice", VERTROUWELIJKHEID),
    *(Filter(f"rol__betrokkeneIdentificatie__{name}", max_length=size)
      for name, (size, _) in _ROL_IDENTIFIERS.items()),
)
ZAAK_ZOEK_FILTERS: tuple[Filter, ...] = (*ZAAK_FILTERS, Filter("uuid__in", "uuids"), Filter("zaaktype__in", "urls"))

STATUS_FILTERS = (Filter("zaak", "url"), Filter("statustype", "url"), Filter("indicatieLaatstGezetteStatus", "bool"))
RESULTAAT_FILTERS = (Filter("zaak", "url"), Filter("resultaattype", "url"))
ROL_FILTERS = (
    Filter("zaak", "url"), Filter("betrokkene", "url"), Filter("betrokkeneType", "choice", BETROKKENE_TYPES),
    *(Filter(f"betrokkeneIdentificatie__{name}", max_length=size) for name, (size, _) in _ROL_IDENTIFIERS.items()),
    Filter("roltype", "url"), Filter("omschrijving"), Filter("omschrijvingGeneriek", "choice", ROL_GENERIEK),
)
ZAAKOBJECT_FILTERS = (Filter("zaak", "url"), Filter("object", "url"), Filter("objectType", "choice", OBJECT_TYPES))
ZIO_FILTERS = (Filter("zaak", "url"), Filter("informatieobject", "url"))

_TYPE_FILTERS = (Filter("zaaktype", "url"), Filter("zaaktypeIdentificatie"), CATALOGUS_STATUS,
                 Filter("datumGeldigheid", "date"))
CATALOGUS_FILTERS = (Filter("domein"), Filter("domein__in", "strs"), Filter("rsin"), Filter("rsin__in", "strs"))
ZAAKTYPE_FILTERS = (Filter("catalogus", "url"), Filter("identificatie"), Filter("trefwoorden", "strs"),
                    CATALOGUS_STATUS, Filter("datumGeldigheid", "date"))
STATUSTYPE_FILTERS = _TYPE_FILTERS
RESULTAATTYPE_FILTERS = _TYPE_FILTERS
EIGENSCHAP_FILTERS = _TYPE_FILTERS
ROLTYPE_FILTERS = (*_TYPE_FILTERS, Filter("omschrijvingGeneriek", "choice", ROL_GENERIEK))
IOTYPE_FILTERS = (Filter("catalogus", "url"), CATALOGUS_STATUS, Filter("datumGeldigheid", "date"),
                  Filter("omschrijving"))
BESLUITTYPE_FILTERS = (Filter("catalogus", "url"), Filter("zaaktypen", "url"), Filter("informatieobjecttypen", "url"),
                       CATALOGUS_STATUS, Filter("omschrijving"), Filter("datumGeldigheid", "date"))

EIO_FILTERS = (Filter("identificatie"), Filter("bronorganisatie"))
OIO_FILTERS = (Filter("object", "url"), Filter("informatieobject", "url"))
BESLUIT_FILTERS = (Filter("identificatie"), Filter("verantwoordelijkeOrganisatie"), Filter("besluittype", "url"),
                   Filter("zaak", "url"))
BIO_FILTERS = (Filter("besluit", "url"), Filter("informatieobject", "url"))


def _ref(url: str, path: str) -> str:
    """The uuid a URL filter names, or a value that matches nothing."""
    return uuid_from_url(url, path) or "-"


# --- Zaken -----------------------------------------------------------------------------------------


def select_zaken(store: ZgwStore, values: Mapping[str, Any]) -> list[Zaak]:
    """The zaken matching the filters (query or ``_zoek`` body), in the requested or default order."""
    candidates: set[str] | None = None

    def narrow(uuids: set[str]) -> None:
        nonlocal candidates
        candidates = uuids if candidates is None else candidates & uuids

    bsn = values.get("rol__betrokkeneIdentificatie__natuurlijkPersoon__inpBsn")
    if bsn is not None:
        narrow(store.by_bsn.get(bsn, set()))
    if "zaaktype" in values:
        narrow(store.by_zaaktype.get(_ref(values["zaaktype"], "/zaaktypen"), set()))
    if "zaaktype__in" in values:
        narrow(set().union(*(store.by_zaaktype.get(_ref(u, "/zaaktypen"), set()) for u in values["zaaktype__in"])))
    if "uuid__in" in values:
        narrow(set(values["uuid__in"]))
    predicates = _zaak_predicates(store, values)
    ordering: list[str] = values.get("ordering") or []
    base = store.memo("zaken:" + ",".join(ordering), lambda: apply_ordering(
        store.ordered(), ordering, lambda z, name: getattr(z, name, None))) if ordering else store.ordered()
    if candidates is not None:
        base = [z for z in base if z.uuid in candidates]
    for predicate in predicates:  # one pass per filter is cheaper than all() per zaak
        base = [z for z in base if predicate(z)]
    return base


def _zaak_predicates(store: ZgwStore, values: Mapping[str, Any]) -> list[Predicate]:
    found = (_zaak_predicate(store, name, value) for name, value in values.items())
    return [p for p in found if p is not None]


def _zaak_predicate(store: ZgwStore, name: str, value: Any) -> Predicate | None:
    field, _, op = name.partition("__")
    if field in _ZAAK_DATES and (op in _OPS or op == "isnull"):
        getter = _ZAAK_DATES[field][1]
        if op == "isnull":
            return lambda z: (getter(z) is None) == value
        return _date_predicate(getter, _OPS[op], value)
    if name == "identificatie":
        return lambda z: z.identificatie == value
    if name == "bronorganisatie":
        return lambda z: z.bronorganisatie == value
    if name == "bronorganisatie__in":
        return lambda z: z.bronorganisatie in value
    if name in ("archiefnominatie", "archiefnominatie__in"):
        return lambda z: False  # no zaak has an archiefnominatie yet
    if name == "archiefstatus":
        return lambda z: value == "nog_te_archiveren"
    if name == "archiefstatus__in":
        return lambda z: "nog_te_archiveren" in value
    if name == "maximaleVertrouwelijkheidaanduiding":
        limit = VERTROUWELIJKHEID.index(value)
        return lambda z: VERTROUWELIJKHEID.index(z.vertrouwelijkheidaanduiding) <= limit
    rol_pred = _rol_predicate(store, name[len("rol__"):], value) if name.startswith("rol__") else None
    if rol_pred is not None:
        return lambda z: any(rol_pred(r) for r in z.rollen)
    return None


def _date_predicate(getter: Callable[[Zaak], dt.date | None], op: Callable[[Any, Any], bool],
                    value: dt.date) -> Predicate:
    def pred(zaak: Zaak) -> bool:
        day = getter(zaak)
        return day is not None and op(day, value)
    return pred


def _rol_predicate(store: ZgwStore, name: str, value: Any) -> Callable[[Rol], bool] | None:
    if name == "betrokkeneType":
        return lambda r: r.betrokkene_type == value
    if name == "omschrijvingGeneriek":
        return lambda r: r.omschrijving_generiek == value
    if name == "betrokkene":
        return lambda r: False  # Open Zaak stores betrokkene as "" for every rol here
    if name == "roltype":
        return lambda r: r.roltype_uuid == _ref(value, "/roltypen")
    if name == "omschrijving":
        return lambda r: store.roltypen[r.roltype_uuid][1].omschrijving == value
    ident = name.removeprefix("betrokkeneIdentificatie__")
    if ident in _ROL_IDENTIFIERS:
        getter = _ROL_IDENTIFIERS[ident][1]
        return lambda r: getter(store, r) == value
    return None


# --- Zaken sub-resources ---------------------------------------------------------------------------


_CHILDREN: dict[str, Callable[[ZgwStore, Zaak], list[Any]]] = {
    "statussen": lambda s, z: z.statussen,
    "resultaten": lambda s, z: [z.resultaat] if z.resultaat else [],
    "rollen": lambda s, z: z.rollen,
    "zaakobjecten": lambda s, z: z.zaakobjecten,
    "zaakinformatieobjecten": lambda s, z: s.documents_of(z),
}


def _children(store: ZgwStore, values: Mapping[str, Any], kind: str) -> list[tuple[Zaak, Any]]:
    """(zaak, child) pairs of one zaak (``zaak`` filter) or of all zaken, in default order."""
    def pairs(zaken: list[Zaak]) -> list[tuple[Zaak, Any]]:
        return [(z, c) for z in zaken for c in _CHILDREN[kind](store, z)]

    if "zaak" not in values:
        return store.memo(kind, lambda: pairs(store.ordered()))
    zaak = store.zaken.get(_ref(values["zaak"], "/zaken"))
    return pairs([zaak]) if zaak else []


def select_statussen(store: ZgwStore, values: Mapping[str, Any]) -> list[tuple[Zaak, Status]]:
    found = _children(store, values, "statussen")
    if "statustype" in values:
        wanted = _ref(values["statustype"], "/statustypen")
        found = [(z, s) for z, s in found if s.statustype_uuid == wanted]
    if "indicatieLaatstGezetteStatus" in values:
        found = [(z, s) for z, s in found if (s is z.statussen[-1]) == values["indicatieLaatstGezetteStatus"]]
    return found


def select_resultaten(store: ZgwStore, values: Mapping[str, Any]) -> list[tuple[Zaak, Any]]:
    found = _children(store, values, "resultaten")
    if "resultaattype" in values:
        wanted = _ref(values["resultaattype"], "/resultaattypen")
        found = [(z, r) for z, r in found if r.resultaattype_uuid == wanted]
    return found


def select_rollen(store: ZgwStore, values: Mapping[str, Any]) -> list[tuple[Zaak, Rol]]:
    found = _children(store, values, "rollen")
    for name, value in values.items():
        pred = _rol_predicate(store, name, value) if name != "zaak" else None
        if pred:
            found = [(z, r) for z, r in found if pred(r)]
    return found


def select_zaakobjecten(store: ZgwStore, values: Mapping[str, Any], object_url: Callable[[ZaakObject], str]
                        ) -> list[tuple[Zaak, ZaakObject]]:
    found = _children(store, values, "zaakobjecten")
    if "objectType" in values:
        found = [(z, o) for z, o in found if o.object_type == values["objectType"]]
    if "object" in values:
        found = [(z, o) for z, o in found if object_url(o) == values["object"]]
    return found


def select_zios(store: ZgwStore, values: Mapping[str, Any]) -> list[tuple[Zaak, Any]]:
    found = _children(store, values, "zaakinformatieobjecten")
    if "informatieobject" in values:
        wanted = _ref(values["informatieobject"], "/enkelvoudiginformatieobjecten")
        found = [(z, d) for z, d in found if d.uuid == wanted]
    return found


# --- Catalogi --------------------------------------------------------------------------------------


def published(status: str | None, concept: bool) -> bool:
    """Catalogi lists show only published types unless ``status=alles`` or ``status=concept``."""
    return status == "alles" or concept == (status == "concept")


def select_zaaktypen(store: ZgwStore, values: Mapping[str, Any]) -> list[ZaakType]:
    cat_uuid = store.data.catalogus.uuid
    return [zt for zt in store.zaaktypen.values()
            if published(values.get("status"), zt.concept)
            and ("catalogus" not in values or _ref(values["catalogus"], "/catalogussen") == cat_uuid)
            and values.get("identificatie", zt.identificatie) == zt.identificatie
            and ("trefwoorden" not in values)  # no zaaktype has trefwoorden
            and ("datumGeldigheid" not in values or zt.begin_geldigheid <= values["datumGeldigheid"])]


def select_type_children(store: ZgwStore, values: Mapping[str, Any], attr: str) -> list[tuple[ZaakType, Any]]:
    """Statustypen, roltypen or resultaattypen (``attr``) of the zaaktypen the filters select."""
    zaaktypen = select_zaaktypen(store, {k: v for k, v in values.items() if k in ("status", "datumGeldigheid")})
    if "zaaktype" in values:
        zaaktypen = [zt for zt in zaaktypen if zt.uuid == _ref(values["zaaktype"], "/zaaktypen")]
    if "zaaktypeIdentificatie" in values:
        zaaktypen = [zt for zt in zaaktypen if zt.identificatie == values["zaaktypeIdentificatie"]]
    found = [(zt, t) for zt in zaaktypen for t in getattr(zt, attr)]
    if "omschrijvingGeneriek" in values:
        found = [(zt, t) for zt, t in found if t.omschrijving_generiek == values["omschrijvingGeneriek"]]
    return found


def select_catalogus_types(store: ZgwStore, values: Mapping[str, Any], items: list[Any], attr: str) -> list[Any]:
    """Informatieobjecttypen or besluittypen; ``attr`` is the zaaktype field that lists them."""
    cat_uuid = store.data.catalogus.uuid
    found = [t for t in items if published(values.get("status"), t.concept)
             and ("catalogus" not in values or _ref(values["catalogus"], "/catalogussen") == cat_uuid)
             and values.get("omschrijving", t.omschrijving) == t.omschrijving]
    if "zaaktypen" in values:
        zt = store.zaaktypen.get(_ref(values["zaaktypen"], "/zaaktypen"))
        found = [t for t in found if zt and t.uuid in getattr(zt, attr)]
    if "informatieobjecttypen" in values:
        found = []  # no besluittype names informatieobjecttypen here
    if "datumGeldigheid" in values and values["datumGeldigheid"] < dt.date(2020, 1, 1):
        found = []
    return found


# --- Documenten and Besluiten ----------------------------------------------------------------------


def select_eios(store: ZgwStore, values: Mapping[str, Any]) -> list[Document]:
    return [d for d in store.documenten.values()
            if values.get("identificatie", d.identificatie) == d.identificatie
            and values.get("bronorganisatie", store.data.rsin) == store.data.rsin]


def select_oios(store: ZgwStore, values: Mapping[str, Any]) -> list[Document]:
    docs = list(store.documenten.values())
    if "object" in values:
        docs = [d for d in docs if d.zaak_uuid == _ref(values["object"], "/zaken")]
    if "informatieobject" in values:
        docs = [d for d in docs if d.uuid == _ref(values["informatieobject"], "/enkelvoudiginformatieobjecten")]
    return docs


def select_besluiten(store: ZgwStore, values: Mapping[str, Any]) -> list[Besluit]:
    return [b for b in store.data.besluiten.values()
            if values.get("identificatie", b.identificatie) == b.identificatie
            and values.get("verantwoordelijkeOrganisatie", store.data.rsin) == store.data.rsin
            and ("besluittype" not in values or b.besluittype_uuid == _ref(values["besluittype"], "/besluittypen"))
            and ("zaak" not in values or b.zaak_uuid == _ref(values["zaak"], "/zaken"))]
