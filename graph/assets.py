"""Browser packages the gateway serves itself (GraphiQL and what it runs on), fetched without Node.

Pages must work offline and under a Content-Security-Policy that names no other host, and a user may have
Python but no Node, so nothing here needs npm. ``graph/static/assets.lock.json`` pins each package's version,
the registry's ``dist.integrity`` (sha512 of the tarball) and the few files a page needs. ``python -m
graph.assets`` downloads each tarball from the npm registry (``npm_config_registry`` overrides it, as for npm),
refuses it unless the hash matches before anything is read from it, and extracts only those files into
``graph/static/vendor/<name>@<version>/`` (git-ignored). A version in the path means a page can let browsers
keep a file for good. Running it again re-hashes what is there and fetches only what is missing or altered.

Adding a package is one lock entry; a page then names its files with ``asset_path``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

import httpx

STATIC = Path(__file__).parent / "static"
LOCK = STATIC / "assets.lock.json"
VENDOR = STATIC / "vendor"
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
REGISTRY_VARIABLES = ("npm_config_registry", "NPM_CONFIG_REGISTRY")
MANIFEST = ".verified.json"  # per package folder: the tarball's integrity and each extracted file's sha256
MAX_TARBALL_BYTES = 50 * 1024 * 1024  # GraphiQL's is about 5 MB; anything far larger is not what we pinned


class AssetError(Exception):
    """A package that could not be fetched or did not match its pin; the message says which and why."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str
    files: tuple[str, ...]

    @property
    def folder(self) -> str:
        """``react@18.3.1``, ``@graphiql/plugin-explorer@3.2.6``: where it lives under ``vendor/`` and the URL."""
        return f"{self.name}@{self.version}"

    def tarball_url(self, registry: str) -> str:
        """The registry's tarball path, the same for scoped packages (``@scope/name/-/name-1.0.0.tgz``)."""
        return f"{registry.rstrip('/')}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


def load_lock(path: Path = LOCK) -> dict[str, Package]:
    """The pinned packages by name; a malformed entry is an ``AssetError`` naming it."""
    entries = json.loads(path.read_text(encoding="utf-8"))["packages"]
    packages = {}
    for name, entry in entries.items():
        files = tuple(entry.get("files", ()))
        if not str(entry.get("integrity", "")).startswith("sha512-") or not files:
            raise AssetError(f"{path.name}: {name} needs a sha512 integrity and at least one file")
        for file in files:
            pure = PurePosixPath(file)
            if pure.is_absolute() or ".." in pure.parts:  # the lock decides where files land: keep them inside
                raise AssetError(f"{path.name}: {name}: {file!r} must be a relative path inside the package")
        packages[name] = Package(name, str(entry["version"]), str(entry["integrity"]), files)
    return packages


def asset_path(name: str, file: str, packages: Mapping[str, Package] | None = None) -> str:
    """A file of a pinned package as a path under the static mount: ``vendor/<name>@<version>/<file>``."""
    package = (packages if packages is not None else load_lock())[name]
    if file not in package.files:
        raise AssetError(f"{file} of {name} is not in the lock's files")
    return f"vendor/{package.folder}/{file}"


def registry() -> str:
    """As npm reads it: ``npm_config_registry`` (npm takes its config variables in either case)."""
    return next((os.environ[name] for name in REGISTRY_VARIABLES if os.environ.get(name)), DEFAULT_REGISTRY)


def present(package: Package, vendor: Path = VENDOR) -> bool:
    """Cheap enough for every page request: the package's folder holds its manifest and every file."""
    folder = vendor / package.folder
    return (folder / MANIFEST).is_file() and all((folder / file).is_file() for file in package.files)


def verified(package: Package, vendor: Path = VENDOR) -> bool:
    """Present, extracted from the pinned tarball, and no file changed since."""
    folder = vendor / package.folder
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return manifest.get("integrity") == package.integrity and manifest.get("files", {}).keys() == set(
            package.files) and all(_sha256((folder / f).read_bytes()) == h for f, h in manifest["files"].items())
    except (OSError, ValueError, AttributeError):
        return False


def missing(packages: Iterable[Package] | None = None, vendor: Path = VENDOR) -> list[str]:
    """``name@version`` of each pinned package that is not installed."""
    chosen = packages if packages is not None else load_lock().values()
    return [p.folder for p in chosen if not present(p, vendor)]


def check_integrity(data: bytes, integrity: str) -> None:
    """Subresource-integrity form, as npm records it: ``sha512-<base64>`` (several may be listed)."""
    wanted = [item.split("-", 1)[1] for item in integrity.split() if item.startswith("sha512-")]
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual not in wanted:
        raise AssetError(f"integrity mismatch: expected {integrity}, got sha512-{actual}")


def install(package: Package, client: httpx.Client, registry_url: str, vendor: Path = VENDOR) -> bool:
    """Fetch, verify and extract one package unless it is already there and verified; True if it fetched."""
    if verified(package, vendor):
        return False
    url = package.tarball_url(registry_url)
    data = _download(client, url, package)
    check_integrity(data, package.integrity)  # before the archive is opened at all
    target = vendor / package.folder
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=vendor))
    try:
        hashes = _extract(data, package, staging)
        (staging / MANIFEST).write_text(json.dumps({"integrity": package.integrity, "files": hashes}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # the folder appears whole or not at all
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def prune(packages: Iterable[Package], vendor: Path = VENDOR) -> list[str]:
    """Remove folders of versions the lock no longer names, so only pinned code is ever served."""
    keep = {p.folder for p in packages}
    removed = []
    for folder in _package_folders(vendor):
        name = folder.relative_to(vendor).as_posix()
        if name not in keep:
            shutil.rmtree(folder)
            removed.append(name)
    return removed


def install_all(vendor: Path = VENDOR, lock: Path = LOCK, out: TextIO | None = None) -> None:
    """What ``python -m graph.assets`` does: every pinned package present and verified, nothing else."""
    packages = load_lock(lock)
    url = registry()
    vendor.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        for package in packages.values():
            if install(package, client, url, vendor):
                print(f"{package.folder}: fetched and verified", file=out or sys.stdout)
    for name in prune(packages.values(), vendor):
        print(f"{name}: removed (no longer in the lock)", file=out or sys.stdout)
    print(f"browser assets: {len(packages)} packages verified in {vendor}", file=out or sys.stdout)


def _download(client: httpx.Client, url: str, package: Package) -> bytes:
    shown = str(httpx.URL(url).copy_with(username=None, password=None))  # a mirror's URL may hold a password
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise AssetError(f"{package.folder}: {shown} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_TARBALL_BYTES:
                    raise AssetError(f"{package.folder}: {shown} is larger than {MAX_TARBALL_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise AssetError(f"{package.folder}: cannot reach {shown}: {exc}") from None


def _extract(data: bytes, package: Package, into: Path) -> dict[str, str]:
    """Only the lock's files, read as regular members of the archive: no links, nothing written elsewhere.
    npm tarballs put everything under one top folder (``package/`` by convention, not always)."""
    hashes = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = {PurePosixPath(m.name).relative_to(PurePosixPath(m.name).parts[0]).as_posix(): m
                   for m in archive.getmembers() if m.isfile() and len(PurePosixPath(m.name).parts) > 1}
        for file in package.files:
            member = members.get(file)
            reader = archive.extractfile(member) if member is not None else None
            if reader is None:
                raise AssetError(f"{package.folder}: the tarball has no file {file}")
            content = reader.read()
            destination = into / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(content)
            hashes[file] = _sha256(content)
    return hashes


def _package_folders(vendor: Path) -> list[Path]:
    """``vendor/name@v`` and ``vendor/@scope/name@v``; staging folders of an interrupted run count too."""
    if not vendor.is_dir():
        return []
    found = []
    for entry in vendor.iterdir():
        if entry.is_dir() and entry.name.startswith("@"):
            found += [sub for sub in entry.iterdir() if sub.is_dir()]
        elif entry.is_dir():
            found.append(entry)
    return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graph.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="Only verify what is installed; no network.")
    args = parser.parse_args(argv)
    try:
        if args.check:
            bad = [p.folder for p in load_lock().values() if not verified(p)]
            for folder in bad:
                print(f"{folder}: missing or altered; run `python -m graph.assets`", file=sys.stderr)
            return 1 if bad else 0
        install_all()
    except AssetError as exc:
        print(f"graph.assets: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
