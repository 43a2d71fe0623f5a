"""Cold statistics read no more from the sources than they need (issue 10, P7), counted at the sources.

Where the Zaken source can be asked for a page of one (Open Zaak's ``pageSize``), groups by zaaktype and open/
closed are counted, one call per group, instead of reading every zaak; the lead times need every closed zaak,
and a source without ``pageSize`` answers a count with a page as large as a scan's, so those still scan.
Expected numbers come from the Zaken source's own REST answers.
"""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import parse_qs

from tests.conftest import Gateway
from tests.gateway.test_zaken import Rest, profile

COUNTED = "{ zakenStatistiek(groepeerOp: [ZAAKTYPE, OPEN]) { totaal groepen { zaaktypeUrl open aantal } } }"
WITH_LEAD_TIMES = ("{ zakenStatistiek(groepeerOp: [ZAAKTYPE, OPEN]) { totaal groepen { zaaktypeUrl open aantal "
                   "gemiddeldeDoorlooptijdDagen } } }")


async def every_zaak(gw: Gateway) -> list[dict[str, object]]:
    async with Rest(gw.world) as rest:
        return await rest.every(f"{gw.world.urls['zaken']}/zaken")


def page_sizes(gw: Gateway) -> list[str]:
    """The ``pageSize`` of every zaken list call the source got (``-`` where none was asked)."""
    lists = [c for c in gw.calls("zaken") if c["method"] == "GET" and c["path"].endswith("/zaken")]
    return [parse_qs(c["query"]).get("pageSize", ["-"])[0] for c in lists]


async def test_groups_by_zaaktype_and_open_are_counted_not_read(zgw: Gateway) -> None:
    zaken = await every_zaak(zgw)
    expected = Counter((str(z["zaaktype"]), z.get("einddatum") in (None, "")) for z in zaken)
    zgw.reset_counts()

    answer = await zgw.query(COUNTED)

    assert "errors" not in answer, answer.get("errors")
    stats = answer["data"]["zakenStatistiek"]
    assert stats["totaal"] == len(zaken)
    assert Counter({(g["zaaktypeUrl"], g["open"]): g["aantal"] for g in stats["groepen"]}) == expected
    sizes = page_sizes(zgw)
    if profile(zgw) == "openzaak":  # pageSize: the whole, then each zaaktype open and closed, one item each
        async with Rest(zgw.world) as rest:
            types = await rest.every(f"{zgw.world.urls['catalogi']}/zaaktypen", {"status": "alles"})
        assert sizes == ["1"] * (1 + 2 * len(types)), sizes
    else:  # no pageSize: a count would read a full page anyway, so every page is read once
        assert len(sizes) == math.ceil(len(zaken) / 100), sizes


async def test_lead_times_need_every_zaak_read(zgw: Gateway) -> None:
    zaken = await every_zaak(zgw)
    zgw.reset_counts()

    answer = await zgw.query(WITH_LEAD_TIMES)

    assert "errors" not in answer, answer.get("errors")
    assert answer["data"]["zakenStatistiek"]["totaal"] == len(zaken)
    assert "1" not in page_sizes(zgw)  # no counting: the pages are read
