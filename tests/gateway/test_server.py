"""The gateway as it runs for users: uvicorn on a loopback port, real HTTP all the way, clean shutdown."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from demo.runner import Municipal, free_port
from graph.app import create_app
from tests.conftest import employee_headers, gateway_settings


def test_serves_over_http_and_shuts_down_cleanly(demo: Municipal) -> None:
    app = create_app(gateway_settings(demo.config))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        base = f"http://127.0.0.1:{port}"
        answer = httpx.post(f"{base}/graphql", json={"query": "{ zaken(first: 3) { nodes { identificatie } } }"},
                            headers=employee_headers(demo))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        assert len(answer.json()["data"]["zaken"]["nodes"]) == 3
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
        page = httpx.get(f"{base}/graphql", headers={"accept": "text/html"})
        assert "graphiql" in page.text.lower()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
    pool = app.state.sources
    assert all(pool[name].client.is_closed for name in pool.names())  # every source client was closed
