"""Credentials as production sources need them, against real servers on loopback: an OAuth 2.0 token
endpoint with a protected API behind it, a TLS server that wants the gateway's client certificate, and
secrets read from files."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demo.runner import free_port
from graph.config import ConfigError, from_mapping
from graph.errors import SourceError
from graph.source import Source


@contextlib.contextmanager
def serving(app: Starlette, **ssl_options: Any) -> Iterator[int]:
    """``app`` under uvicorn on a free loopback port, in a thread of its own."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                           **ssl_options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)


class Provider:
    """A token endpoint (client credentials, HTTP Basic) and an API that accepts only its live tokens."""

    def __init__(self, lifetime_s: int = 3600) -> None:
        self.lifetime_s = lifetime_s
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        self.app = Starlette(routes=[Route("/token", self.token, methods=["POST"]), Route("/api/x", self.api)])

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        user, _, password = base64.b64decode(request.headers["Authorization"].split()[1]).decode().partition(":")
        if (user, password) != ("gemeentegraaf", "s3cret") or form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_client"}, 401)
        token = f"token-{len(self.issued)}"
        self.issued.append(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime_s})

    async def api(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.issued or token in self.revoked:
            return JSONResponse({"detail": "invalid token"}, 401)
        return JSONResponse({"ok": token})


def oauth_source(port: int, secret: str = "s3cret") -> Source:
    config = from_mapping({"sources": {"signalen": {
        "url": f"http://127.0.0.1:{port}/api", "auth": "oauth2-client-credentials",
        "token_url": f"http://127.0.0.1:{port}/token", "client_id": "gemeentegraaf", "client_secret": secret,
        "scope": "signals:read"}}})
    return Source(config.sources["signalen"])


async def test_a_token_is_fetched_once_shared_and_renewed_after_a_401() -> None:
    provider = Provider()
    with serving(provider.app) as port:
        source = oauth_source(port)
        try:
            answers = await asyncio.gather(*(source.get("/x") for _ in range(8)))
            assert {a["ok"] for a in answers} == {"token-0"}
            assert len(provider.token_requests) == 1  # eight calls at once, one token request
            assert provider.token_requests[0] == {"grant_type": "client_credentials", "scope": "signals:read"}
            provider.revoked.add("token-0")  # the provider ends it early: one new token, the call retried
            assert (await source.get("/x"))["ok"] == "token-1"
            assert len(provider.token_requests) == 2
        finally:
            await source.aclose()


async def test_a_token_about_to_expire_is_renewed_first() -> None:
    provider = Provider(lifetime_s=10)  # within the renewal margin from the start
    with serving(provider.app) as port:
        source = oauth_source(port)
        try:
            await source.get("/x")
            await source.get("/x")
        finally:
            await source.aclose()
    assert len(provider.token_requests) == 2


async def test_a_refused_client_is_a_clear_error_without_the_secret() -> None:
    with serving(Provider().app) as port:
        source = oauth_source(port, secret="wrong-secret")
        try:
            with pytest.raises(SourceError) as caught:
                await source.get("/x")
        finally:
            await source.aclose()
    assert caught.value.code == "UPSTREAM_REFUSED"
    assert "wrong-secret" not in caught.value.message


# -- mutual TLS -------------------------------------------------------------------------------------------


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None = None,
                 ca: bool = False) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
               .not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A private CA, a server certificate for localhost and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Test CA", ca_key, ca=True)
    files: dict[str, Path] = {}
    for who in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate("localhost" if who == "server" else "gemeentegraaf", key, (ca.subject, ca_key))
        files[f"{who}_cert"] = folder / f"{who}.pem"
        files[f"{who}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{who}_key"] = folder / f"{who}.key"
        files[f"{who}_key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    files["ca"] = folder / "ca.pem"
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


async def test_mutual_tls_presents_the_client_certificate(pki: dict[str, Path]) -> None:
    async def whoami(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/brp/personen", whoami)])
    options = {"ssl_certfile": str(pki["server_cert"]), "ssl_keyfile": str(pki["server_key"]),
               "ssl_ca_certs": str(pki["ca"]), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    with serving(app, **options) as port:
        table = {"url": f"https://localhost:{port}/brp", "ca_bundle": str(pki["ca"])}
        with_cert = Source(from_mapping({"sources": {"brp": {
            **table, "client_cert": str(pki["client_cert"]), "client_key": str(pki["client_key"])}}}).sources["brp"])
        without = Source(from_mapping({"sources": {"brp": table}}).sources["brp"])
        try:
            assert await with_cert.get("/personen") == {"ok": True}
            with pytest.raises(SourceError) as caught:
                await without.get("/personen")
            assert caught.value.code == "UPSTREAM_UNAVAILABLE"  # the handshake fails: no answer at all
        finally:
            await with_cert.aclose()
            await without.aclose()


def test_unusable_tls_files_are_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate")
    bad = str(tmp_path / "bad.pem")
    config = from_mapping({"sources": {"brp": {"url": "https://brp.example", "client_cert": bad}}})
    with pytest.raises(ConfigError, match=r"\[sources.brp\] TLS"):
        Source(config.sources["brp"])


# -- secrets from files -------------------------------------------------------------------------------------


def test_secrets_come_from_files_and_never_show(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("file-secret-value\n")
    config = from_mapping({"sources": {"bag": {"url": "https://bag.example", "auth": "api-key",
                                               "key_file": str(tmp_path / "key")}}},
                          {"GEMEENTEGRAAF_BRP_URL": "https://brp.example"})
    assert config.sources["bag"].option("key") == "file-secret-value"
    assert "file-secret-value" not in repr(config.sources["bag"])
    with pytest.raises(ConfigError, match="key_file"):
        from_mapping({"sources": {"bag": {"url": "https://bag.example", "key_file": str(tmp_path / "missing")}}})


async def test_a_secret_from_a_file_is_sent_to_its_source_only(tmp_path: Path) -> None:
    seen: list[httpx.Headers] = []

    async def echo(request: Request) -> Response:
        seen.append(httpx.Headers(request.headers.raw))
        return JSONResponse({})

    (tmp_path / "key").write_text("file-secret-value")
    with serving(Starlette(routes=[Route("/bag/x", echo)])) as port:
        config = from_mapping({"sources": {"bag": {"url": f"http://127.0.0.1:{port}/bag", "auth": "api-key",
                                                   "key_file": str(tmp_path / "key")}}})
        source = Source(config.sources["bag"])
        try:
            await source.get("/x")
        finally:
            await source.aclose()
    assert seen[0]["X-Api-Key"] == "file-secret-value"
