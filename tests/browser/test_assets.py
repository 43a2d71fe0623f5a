"""GraphiQL's assets without a browser: the fetcher's checks (against a registry served by a mock transport), the
routes that serve them, the page without them, and the page's first query against the README's."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import httpx
import pytest

from graph import assets, graphiql
from graph.assets import AssetError, Package
from tests.browser.test_graphiql import readme_first_query
from tests.conftest import Gateway

REGISTRY = "http://127.0.0.1:9/npm/"  # answered by the mock transport; nothing listens there


def tarball(files: dict[str, bytes], top: str = "package") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo(f"{top}/link.js")  # a link is never followed, even when the lock names it
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    return buffer.getvalue()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class Registry:
    """Serves one tarball at its registry path and counts the requests."""

    def __init__(self, package: Package, data: bytes) -> None:
        self.path = httpx.URL(package.tarball_url(REGISTRY)).path
        self.data = data
        self.requests: list[str] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        return httpx.Response(200, content=self.data) if request.url.path == self.path else httpx.Response(404)


def test_fetches_verifies_and_extracts_only_the_pinned_files(tmp_path: Path) -> None:
    data = tarball({"dist/app.js": b"app()", "dist/other.js": b"other()", "README.md": b"#"})
    package = Package("@scope/widget", "1.2.3", integrity(data), ("dist/app.js",))
    registry = Registry(package, data)
    assert registry.path == "/npm/@scope/widget/-/widget-1.2.3.tgz"  # the registry's path for scoped packages

    assert assets.install(package, registry.client, REGISTRY, tmp_path)
    folder = tmp_path / "@scope" / "widget@1.2.3"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        assets.MANIFEST, "dist/app.js"]
    assert (folder / "dist/app.js").read_bytes() == b"app()"
    assert assets.verified(package, tmp_path)

    assert not assets.install(package, registry.client, REGISTRY, tmp_path)  # present and verified: no request
    assert len(registry.requests) == 1

    (folder / "dist/app.js").write_bytes(b"altered()")  # a changed file is fetched again
    assert not assets.verified(package, tmp_path)
    assert assets.install(package, registry.client, REGISTRY, tmp_path)
    assert (folder / "dist/app.js").read_bytes() == b"app()"


def test_a_tarball_that_does_not_match_its_pin_is_refused_unopened(tmp_path: Path) -> None:
    data = tarball({"app.js": b"app()"})
    package = Package("widget", "1.0.0", integrity(b"something else"), ("app.js",))
    with pytest.raises(AssetError, match="integrity mismatch"):
        assets.install(package, Registry(package, data).client, REGISTRY, tmp_path)
    assert not any(tmp_path.iterdir())  # not even a staging folder is left


def test_a_pinned_file_must_be_a_regular_file_of_the_tarball(tmp_path: Path) -> None:
    data = tarball({"app.js": b"app()"})
    for files in (("missing.js",), ("link.js",)):
        package = Package("widget", "1.0.0", integrity(data), files)
        with pytest.raises(AssetError, match="has no file"):
            assets.install(package, Registry(package, data).client, REGISTRY, tmp_path)
    assert not any(tmp_path.iterdir())


def test_lock_entries_stay_inside_their_folder(tmp_path: Path) -> None:
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps({"packages": {"x": {"version": "1", "integrity": "sha512-AA==", "files": ["../x.js"]}}}))
    with pytest.raises(AssetError, match="inside the package"):
        assets.load_lock(lock)


def test_registry_as_npm_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("npm_config_registry", raising=False)
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    assert assets.registry() == assets.DEFAULT_REGISTRY
    monkeypatch.setenv("npm_config_registry", REGISTRY)
    assert assets.registry() == REGISTRY


def test_prune_removes_versions_the_lock_no_longer_names(tmp_path: Path) -> None:
    kept = Package("@scope/widget", "2.0.0", "sha512-AA==", ("a.js",))
    for folder in ("@scope/widget@2.0.0", "@scope/widget@1.0.0", "react@17.0.0", ".staging-x"):
        (tmp_path / folder).mkdir(parents=True)
    assert sorted(assets.prune([kept], tmp_path)) == [".staging-x", "@scope/widget@1.0.0", "react@17.0.0"]
    assert (tmp_path / "@scope/widget@2.0.0").is_dir()


def test_every_file_the_page_loads_is_pinned() -> None:
    packages = assets.load_lock()
    for name, file in (*graphiql.STYLES, *graphiql.SCRIPTS):
        assert assets.asset_path(name, file, packages).startswith(f"vendor/{packages[name].folder}/")


def test_the_page_opens_with_the_readmes_first_query() -> None:
    assert graphiql.FIRST_QUERY.read_text(encoding="utf-8") == readme_first_query()


async def test_assets_are_served_with_cache_headers_that_fit(gateway: Gateway) -> None:
    if assets.missing(vendor=assets.VENDOR):
        pytest.fail("GraphiQL's assets are not installed: `make test` installs them, or `python -m graph.assets`")
    page = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"  # it holds the configured headers
    assert "unpkg" not in page.text and "https://" not in page.text
    react = assets.load_lock()["react"]
    vendored = await gateway.client.get(f"/graphiql/assets/vendor/{react.folder}/umd/react.production.min.js")
    assert vendored.status_code == 200
    assert vendored.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert vendored.headers["content-type"].startswith("text/javascript")
    own = await gateway.client.get(f"/graphiql/assets/{graphiql.PAGE_SCRIPT}")
    assert own.headers["cache-control"] == "no-cache"  # changes with the gateway: revalidated by its ETag
    again = await gateway.client.get(f"/graphiql/assets/{graphiql.PAGE_SCRIPT}",
                                     headers={"If-None-Match": own.headers["etag"]})
    assert again.status_code == 304


async def test_without_assets_the_page_says_how_to_install_them(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graphiql, "VENDOR", tmp_path)
    page = await gateway.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert "make demo" in page.text and "python -m graph.assets" in page.text
    assert "graphiql@" in page.text
    assert "<script" not in page.text
