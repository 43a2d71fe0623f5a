"""The ZGW simulator's own view of the municipality: indexes over the shared records plus an overlay.

Other simulators read the same ``Municipality``; a write here must never change what they see. So a
write replaces a ``Zaak`` in this store's own dict with a modified copy (``dataclasses.replace`` with
fresh lists) and updates the indexes, leaving the shared record untouched.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from demo.model import (
    BesluitType,
    Document,
    InformatieObjectType,
    Municipality,
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


def derived_uuid(source: str, kind: str) -> str:
    """A stable uuid for a relation object the model does not store (zaakbesluit, objectinformatieobject)."""
    return str(uuid.uuid5(uuid.UUID(source), kind))


class ZgwStore:
    """Lookups by uuid for every ZGW resource; lists keep Open Zaak's default order (newest zaak first)."""

    def __init__(self, data: Municipality) -> None:
        self.data = data
        self.reset()

    def reset(self) -> None:
        """(Re)build everything from the shared records, forgetting every write."""
        data = self.data
        cat = data.catalogus
        self.zaken: dict[str, Zaak] = dict(data.zaken)
        self.order: list[str] = list(reversed(data.zaken))  # Open Zaak orders zaken by -pk
        self.zaaktypen: dict[str, ZaakType] = {zt.uuid: zt for zt in cat.zaaktypen}
        self.statustypen: dict[str, tuple[ZaakType, StatusType]] = {
            st.uuid: (zt, st) for zt in cat.zaaktypen for st in zt.statustypen}
        self.roltypen: dict[str, tuple[ZaakType, RolType]] = {
            rt.uuid: (zt, rt) for zt in cat.zaaktypen for rt in zt.roltypen}
        self.resultaattypen: dict[str, tuple[ZaakType, ResultaatType]] = {
            rt.uuid: (zt, rt) for zt in cat.zaaktypen for rt in zt.resultaattypen}
        self.iotypen: dict[str, InformatieObjectType] = {t.uuid: t for t in cat.informatieobjecttypen}
        self.besluittypen: dict[str, BesluitType] = {t.uuid: t for t in cat.besluittypen}
        self.documenten: dict[str, Document] = data.documenten
        self.doc_of_zio: dict[str, str] = {d.zio_uuid: d.uuid for d in data.documenten.values()}
        self.doc_of_oio: dict[str, str] = {derived_uuid(d.zio_uuid, "oio"): d.uuid for d in data.documenten.values()}
        self.zaakbesluiten: dict[str, str] = {derived_uuid(b, "zaakbesluit"): b for b in data.besluiten}
        self.by_identificatie: dict[tuple[str, str], str] = {}
        self.by_zaaktype: dict[str, set[str]] = defaultdict(set)
        self.by_bsn: dict[str, set[str]] = defaultdict(set)
        self.by_medewerker: dict[str, set[str]] = defaultdict(set)
        self.zaak_of: dict[str, str] = {}  # status/rol/resultaat/zaakobject uuid -> zaak uuid
        self._memo: dict[str, list[Any]] = {}
        for zaak in self.zaken.values():
            self._index(zaak)

    def _index(self, zaak: Zaak) -> None:
        self.by_identificatie[(zaak.bronorganisatie, zaak.identificatie)] = zaak.uuid
        self.by_zaaktype[zaak.zaaktype_uuid].add(zaak.uuid)
        for rol in zaak.rollen:
            if rol.bsn:
                self.by_bsn[rol.bsn].add(zaak.uuid)
            if rol.medewerker_id:
                self.by_medewerker[rol.medewerker_id].add(zaak.uuid)
        children: list[Status | Rol | ZaakObject] = [*zaak.statussen, *zaak.rollen, *zaak.zaakobjecten]
        for child in children:
            self.zaak_of[child.uuid] = zaak.uuid
        if zaak.resultaat:
            self.zaak_of[zaak.resultaat.uuid] = zaak.uuid

    # -- reads ---------------------------------------------------------------------------------------

    def child(self, kind: str, child_uuid: str) -> tuple[Zaak, Status | Rol | ZaakObject | Resultaat] | None:
        """(zaak, status|rol|resultaat|zaakobject) for a child uuid of the given kind, or None."""
        zaak = self.zaken.get(self.zaak_of.get(child_uuid, ""))
        if zaak is None:
            return None
        candidates: list[Status | Rol | ZaakObject | Resultaat] = []
        if kind == "status":
            candidates.extend(zaak.statussen)
        elif kind == "rol":
            candidates.extend(zaak.rollen)
        elif kind == "zaakobject":
            candidates.extend(zaak.zaakobjecten)
        elif kind == "resultaat" and zaak.resultaat:
            candidates.append(zaak.resultaat)
        for item in candidates:
            if item.uuid == child_uuid:
                return zaak, item
        return None

    def memo(self, key: str, build: Callable[[], list[Any]]) -> list[Any]:
        """A derived list kept until the next write; building big lists per request is what costs."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = build()
        return found

    def ordered(self, uuids: set[str] | None = None) -> list[Zaak]:
        """Zaken in default order, optionally only those in ``uuids``."""
        if uuids is None:
            return self.memo("zaken", lambda: [self.zaken[u] for u in self.order])
        return [self.zaken[u] for u in self.order if u in uuids]

    def documents_of(self, zaak: Zaak) -> list[Document]:
        return [self.documenten[d] for d in zaak.document_uuids if d in self.documenten]

    # -- writes (overlay only) -----------------------------------------------------------------------

    def add_zaak(self, zaak: Zaak) -> None:
        self._memo.clear()
        self.zaken[zaak.uuid] = zaak
        self.order.insert(0, zaak.uuid)
        self._index(zaak)

    def replace_zaak(self, zaak: Zaak, **changes: object) -> Zaak:
        """Store a modified copy; the lists are copied too so the shared record stays as it was."""
        copy = dataclasses.replace(zaak, statussen=list(zaak.statussen), rollen=list(zaak.rollen),
                                   zaakobjecten=list(zaak.zaakobjecten), document_uuids=list(zaak.document_uuids),
                                   besluit_uuids=list(zaak.besluit_uuids))
        for name, value in changes.items():
            setattr(copy, name, value)
        self._memo.clear()
        if (zaak.bronorganisatie, zaak.identificatie) != (copy.bronorganisatie, copy.identificatie):
            self.by_identificatie.pop((zaak.bronorganisatie, zaak.identificatie), None)
        self.zaken[copy.uuid] = copy
        self._index(copy)
        return copy
