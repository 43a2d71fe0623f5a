"""What a Zaken source accepts where ZGW products differ, learned once per source from its own OpenAPI document.

A municipality may run any ZGW product. The gateway sends what the standard (Zaken 1.5.1) allows and uses
a product's extension only when the product's document declares it. Two places matter:

- ``POST /zaken/_zoek`` ``expand``: the standard has it in the body as a comma-separated string (1.7.0 adds
  an ``expand`` query parameter); Open Zaak 1.30 declares an array in the body and the query parameter, and
  answers a string in the body with HTTP 500. The gateway uses the query parameter where declared, else
  the body member in its declared type, else no expand at all.
- ``pageSize``: an Open Zaak extension (default 100, maximum 500) on ``/zaken`` and ``_zoek``; a standard
  source pages by its own size. The gateway asks for a size only where declared, and whatever it expects
  is checked against the answers (``graph.paging``).

Where the document lives: Open Zaak (1.30) and the VNG reference implementations publish it at
``{root}/schema/openapi.yaml`` (YAML); the NL API design rules (and the demo) at ``{root}/openapi.json``.
Both are tried, in that order. When neither can be read, the standard's forms are assumed; should a
``_zoek`` with the assumed expand form then fail with a 5xx while the same search without it succeeds,
the source gets no expand on ``_zoek`` from then on.

``[sources.zaken]`` options: ``product = "open-zaak"`` or ``"standard"`` skips reading the document and uses
that product's documented forms; ``page_size = <n>`` names the size the source pages by when it chooses
(otherwise learned from its first full page).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graph.once import PerSource
from graph.openapi import Document, body_property, parameter, read_document, resolve, schema_type
from graph.paging import PageSizes
from graph.source import Source

log = logging.getLogger("gemeentegraaf.zgw")

DOCUMENT_PATHS = ("/schema/openapi.yaml", "/openapi.json")
PAGE_SIZE = 100  # the standard leaves the size to the server; Open Zaak and the VNG reference use 100
MAX_PAGE_SIZE = 500  # Open Zaak's largest ``pageSize``, when a document declares the parameter without one
ZoekExpand = Literal["query", "array", "string", "none"]


@dataclass(slots=True)
class ZakenForms:
    """How to ask one Zaken source; ``confirmed`` when its document or the configuration said so."""

    zoek_expand: ZoekExpand
    confirmed: bool
    lists: PageSizes  # GET /zaken
    zoek: PageSizes  # POST /zaken/_zoek


def standard(confirmed: bool, page_size: int | None = None) -> ZakenForms:
    """Zaken 1.5.1 as the VNG publishes it: expand a string in the ``_zoek`` body, no ``pageSize``."""
    return ZakenForms("string", confirmed, PageSizes(PAGE_SIZE, 0, page_size), PageSizes(PAGE_SIZE, 0, page_size))


def open_zaak(page_size: int | None = None) -> ZakenForms:
    """Open Zaak 1.30's own documents: ``_zoek?expand=`` (and an array in the body), ``pageSize`` up to 500."""
    return ZakenForms(
        "query", True, PageSizes(PAGE_SIZE, MAX_PAGE_SIZE, page_size), PageSizes(PAGE_SIZE, MAX_PAGE_SIZE, page_size)
    )


def from_document(document: Document, page_size: int | None = None) -> ZakenForms:
    """The forms a Zaken OpenAPI document declares."""
    if parameter(document, "/zaken/_zoek", "post", "expand") is not None:
        zoek_expand: ZoekExpand = "query"
    else:
        kind = schema_type(document, body_property(document, "/zaken/_zoek", "post", "expand"))
        zoek_expand = "array" if kind == "array" else "string" if kind == "string" else "none"
    return ZakenForms(
        zoek_expand,
        True,
        PageSizes(PAGE_SIZE, _max_page_size(document, "/zaken", "get"), page_size),
        PageSizes(PAGE_SIZE, _max_page_size(document, "/zaken/_zoek", "post"), page_size),
    )


def _max_page_size(document: Document, path: str, method: str) -> int:
    """The largest ``pageSize`` the operation allows; 0 when it has no such parameter."""
    param = parameter(document, path, method, "pageSize")
    if param is None:
        return 0
    schema = resolve(document, param.get("schema"))
    maximum = schema.get("maximum") if isinstance(schema, Mapping) else None
    return maximum if isinstance(maximum, int) and maximum > 0 else MAX_PAGE_SIZE


def _configured_page_size(source: Source) -> int | None:
    raw = source.config.option("page_size")
    try:
        size = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        size = None
    if raw is not None and (size is None or size < 1):
        log.warning("[sources.%s] page_size must be a positive number; ignored", source.name)
        return None
    return size


async def _detect(source: Source, context: Any) -> ZakenForms:
    page_size = _configured_page_size(source)
    product = source.config.option("product")
    if product == "open-zaak":
        return open_zaak(page_size)
    if product == "standard":
        return standard(True, page_size)
    if product is not None:
        log.warning("[sources.%s] product %r is not 'open-zaak' or 'standard'; reading its document", source.name,
                    product)
    document = await read_document(source, DOCUMENT_PATHS, context)
    if document is None:
        log.warning("source %s publishes no readable OpenAPI document; using the standard's forms", source.name)
        return standard(False, page_size)
    forms = from_document(document, page_size)
    log.info("source %s: _zoek expand as %s, pageSize on lists %s", source.name, forms.zoek_expand,
             "declared" if forms.lists.maximum else "not declared")
    return forms


FORMS: PerSource[ZakenForms] = PerSource(_detect, lambda source: standard(False, _configured_page_size(source)))
