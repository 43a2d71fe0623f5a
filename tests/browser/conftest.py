"""The browser tests' world: the gateway on a real loopback port (a browser cannot use an in-process ASGI client)
over the demo sources, and Debian's Chromium driven by Playwright.

Playwright's own browser download cannot be used here, so the tests launch the system's ``chromium``
(``GEMEENTEGRAAF_CHROMIUM`` names another); without it they skip, saying so. ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from demo.runner import Municipal
from graph.app import create_app
from tests.conftest import employee_headers, gateway_settings, serving

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path(os.environ.get("GEMEENTEGRAAF_CHROMIUM", "/usr/bin/chromium"))
HAVE_CHROMIUM = os.access(CHROMIUM, os.X_OK)
# quiet and self-contained: no sandbox (CI runs as root), no GPU, and none of Chromium's own calls home
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass(frozen=True)
class Served:
    url: str  # http://127.0.0.1:<port>
    headers: dict[str, str]  # what the GraphiQL page's headers pane opens with, as `make demo` sets it


@pytest.fixture(scope="session")
def served(demo: Municipal) -> Iterator[Served]:
    """The gateway under uvicorn on 127.0.0.1, GraphiQL's headers pane filled with an employee's token and the
    demo purpose through ``[gateway] graphiql_headers``, the way ``gemeentegraaf demo`` fills it."""
    headers = employee_headers(demo)
    config: dict[str, Any] = dict(demo.config)
    config["gateway"] = {**config.get("gateway", {}), "graphiql_headers": headers}
    with serving(create_app(gateway_settings(config))) as url:
        yield Served(url, headers)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does) or set "
                    "GEMEENTEGRAAF_CHROMIUM")
    playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is in the dev extras")
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
