"""Which ZGW product the simulator imitates: Open Zaak 1.30 itself, or a product that follows the standard.

A municipality may run any ZGW implementation, so the gateway must work with what the standard promises
and use a product's extensions only after checking for them. The two profiles differ exactly where
Open Zaak's own OpenAPI documents differ from the VNG standard documents:

=====================  ===============================================  ==================================
                       ``openzaak`` (default)                          ``standard``
=====================  ===============================================  ==================================
``pageSize``           honoured on lists and ``_zoek`` (100, max 500)   ignored: fixed pages (100)
``_zoek`` body expand  an array; a string is answered with HTTP 500     a comma-separated string; an array
                       (measured on 1.30.0)                             is a 400 ValidatieFout
``_zoek?expand=``      accepted (merged with the body's)                refused (unknown parameter)
API versions           Zaken 1.5.1, Catalogi 1.3.1, Documenten 1.4.2,   Zaken 1.5.1, Catalogi 1.3.3,
                       Besluiten 1.1.0                                  Documenten 1.7.0, Besluiten 1.1.0
OpenAPI documents      ``zgw/openzaak-1.30.0/<api>.openapi.yaml``       the VNG documents of those versions
=====================  ===============================================  ==================================

The profile is simulator-only configuration (``[demo.zgw] profile`` in ``demo/gemeentegraaf.toml``, or
``gemeentegraaf sources --zgw-profile``); the gateway never reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APIS = ("zaken", "catalogi", "documenten", "besluiten")
BASES = {api: f"/{api}/api/v1" for api in APIS}


@dataclass(frozen=True, slots=True)
class Profile:
    """How one ZGW product answers where products differ."""

    name: str
    label: str
    api_versions: Mapping[str, str]
    documents: Mapping[str, str]  # api -> its OpenAPI document, relative to the shared specs folder
    page_size_param: bool  # whether ``pageSize`` is honoured (else ignored)
    zoek_expand_array: bool  # the ``_zoek`` body's ``expand`` is an array (else a comma-separated string)
    zoek_expand_query: bool  # ``POST /zaken/_zoek?expand=`` is accepted

    def specs(self) -> dict[str, tuple[str, ...]]:
        """The official document of each API by base path: what requests are checked against
        (``demo.conformance``) and what ``{base}/openapi.json`` serves."""
        return {BASES[api]: (self.documents[api],) for api in APIS}


OPENZAAK = Profile(
    name="openzaak",
    label="Open Zaak 1.30",
    api_versions={"zaken": "1.5.1", "catalogi": "1.3.1", "documenten": "1.4.2", "besluiten": "1.1.0"},
    documents={api: f"zgw/openzaak-1.30.0/{api}.openapi.yaml" for api in APIS},
    page_size_param=True,
    zoek_expand_array=True,
    zoek_expand_query=True,
)
STANDARD = Profile(
    name="standard",
    label="a ZGW product that follows the standard",
    api_versions={"zaken": "1.5.1", "catalogi": "1.3.3", "documenten": "1.7.0", "besluiten": "1.1.0"},
    documents={
        "zaken": "zgw/zaken-api-1.5.1/openapi.yaml",
        "catalogi": "zgw/standaard/catalogi/ztc/1.3.x/1.3.3/openapi.yaml",
        "documenten": "zgw/standaard/documenten/drc/1.7.x/1.7.0/openapi.yaml",
        "besluiten": "zgw/standaard/besluiten/brc/1.1.0/openapi.yaml",
    },
    page_size_param=False,
    zoek_expand_array=False,
    zoek_expand_query=False,
)
PROFILES = {p.name: p for p in (OPENZAAK, STANDARD)}


def profile_of(config: Mapping[str, Any]) -> Profile:
    """The profile the demo configuration names in ``[demo.zgw] profile`` (Open Zaak when absent)."""
    demo = config.get("demo", {})
    table = demo.get("zgw", {}) if isinstance(demo, Mapping) else {}
    name = table.get("profile", OPENZAAK.name) if isinstance(table, Mapping) else OPENZAAK.name
    if name not in PROFILES:
        raise ValueError(f"[demo.zgw] profile must be one of {', '.join(PROFILES)}, not {name!r}")
    return PROFILES[name]


def with_profile(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A copy of the demo configuration whose ``[demo.zgw]`` table names profile ``name``."""
    if name not in PROFILES:
        raise ValueError(f"the ZGW profile must be one of {', '.join(PROFILES)}, not {name!r}")
    copied = dict(config)
    demo = dict(copied.get("demo", {}))
    demo["zgw"] = {**demo.get("zgw", {}), "profile": name}
    copied["demo"] = demo
    return copied
