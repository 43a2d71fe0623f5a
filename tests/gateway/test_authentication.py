"""Who may ask at all: bearer tokens of the configured issuer, checked before any operation runs.

The gateway runs in-process (ASGI); the issuer is the demo's, on its own port over real HTTP, so discovery,
the JWKS fetch and its re-fetch after a key rotation are real requests that the issuer counts.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from demo.issuer import EMPLOYEE_SCOPES, IssuerSimulator
from demo.model import Municipality
from demo.runner import Municipal, free_port, running_alone
from graph.app import create_app
from graph.authn import Authenticator, AuthError, auth_settings
from graph.config import ConfigError, GatewayConfig
from tests.conftest import PURPOSE, Gateway, gateway_settings

QUERY = "{ __typename }"
PURPOSE_HEADERS = {"X-Verwerkingsactiviteit": PURPOSE}


class Clock:
    """Time the gateway's key cache sees; moved by hand so the re-fetch limit is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer_world(municipality: Municipality) -> Iterator[Municipal]:
    """An issuer of this module's own, so rotating its keys leaves the session's tokens alone."""
    with running_alone(IssuerSimulator, municipality) as world:
        yield world


@pytest.fixture
def issuer(issuer_world: Municipal) -> IssuerSimulator:
    sim = issuer_world.simulators["issuer"]
    assert isinstance(sim, IssuerSimulator)
    sim.reset_counts()
    return sim


def settings_for(demo: Municipal, issuer: IssuerSimulator, **auth: Any) -> GatewayConfig:
    """The demo's gateway configuration, trusting this module's issuer, with ``auth`` changed."""
    config = gateway_settings(demo.config)
    table = {**config.options["auth"], "issuer": issuer.issuer, **auth}
    return dataclasses.replace(config, options={**config.options, "auth": table})


@dataclasses.dataclass
class Client:
    app: Starlette
    http: httpx.AsyncClient
    clock: Clock
    authenticator: Authenticator

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.authenticator.aclose()
        await self.app.state.sources.aclose()

    async def ask(self, token: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {**PURPOSE_HEADERS, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return await self.http.post("/graphql", json={"query": QUERY}, headers=sent)


@pytest.fixture
async def client(demo: Municipal, issuer: IssuerSimulator) -> AsyncIterator[Client]:
    made = await _client(settings_for(demo, issuer))
    yield made
    await made.aclose()


async def _client(settings: GatewayConfig) -> Client:
    clock = Clock()
    authenticator = Authenticator(auth_settings(settings), clock=clock)
    app = create_app(settings, authenticator=authenticator)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    return Client(app, http, clock, authenticator)


def made_up_kid(issuer: IssuerSimulator, n: int) -> str:
    """A real token of the issuer whose header names a key id the issuer never published."""
    token = issuer.mint()
    head = base64.urlsafe_b64encode(orjson.dumps({"alg": "RS256", "kid": f"verzonnen-{n}", "typ": "JWT"}))
    return head.rstrip(b"=").decode() + token[token.index("."):]


def assert_refused(response: httpx.Response, token: str | None, said: str) -> None:
    assert response.status_code == 401, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert said in error["message"]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    if token is not None:
        assert 'error="invalid_token"' in challenge and said in challenge
        assert token not in response.text and token.split(".")[1] not in response.text
        assert token not in challenge


async def test_a_valid_token_of_either_algorithm_is_accepted(client: Client, issuer: IssuerSimulator) -> None:
    for algorithm in ("RS256", "ES256"):
        response = await client.ask(issuer.mint(algorithm=algorithm))
        assert response.status_code == 200, response.text
        assert response.json() == {"data": {"__typename": "Query"}}
    assert issuer.counts == {"GET /.well-known/openid-configuration": 1, "GET /jwks": 1}  # discovered, then cached


async def test_a_cold_gateway_lets_concurrent_requests_wait_for_its_one_key_read(
    client: Client, issuer: IssuerSimulator
) -> None:
    """A dashboard opening five charts at once on a fresh gateway: every request waits for the one JWKS read."""
    token = issuer.mint()
    answers = await asyncio.gather(*(client.ask(token) for _ in range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert issuer.counts == {"GET /.well-known/openid-configuration": 1, "GET /jwks": 1}


async def test_no_token_is_refused_without_running_anything(client: Client, demo: Municipal) -> None:
    zgw = demo.simulators["zaken"]
    zgw.reset_counts()
    response = await client.http.post("/graphql", json={"query": "{ zaken(first: 1) { totalCount } }"},
                                      headers=PURPOSE_HEADERS)
    assert_refused(response, None, "needs a bearer token")
    assert response.headers["www-authenticate"] == 'Bearer realm="gemeentegraaf"'  # RFC 6750: no error code
    assert not zgw.counts
    get = await client.http.get("/graphql", params={"query": QUERY})  # a GET operation is an operation too
    assert get.status_code == 401


@pytest.mark.parametrize(("mint", "said"), [
    ({"expired": True}, "expired"),
    ({"not_before_s": 3600}, "not valid yet"),
    ({"audience": "een-andere-api"}, "audience"),
    ({"issuer": "https://login.elders.example"}, "does not trust"),
])
async def test_tokens_that_do_not_hold_are_refused(
    client: Client, issuer: IssuerSimulator, mint: dict[str, Any], said: str
) -> None:
    token = issuer.mint(**mint)
    assert_refused(await client.ask(token), token, said)


async def test_a_tampered_token_is_refused(client: Client, issuer: IssuerSimulator) -> None:
    token = issuer.mint(scopes=["bag:lezen"])
    other = issuer.mint()  # every scope: its claims on the first token's signature
    head, _, signature = token.split(".")
    forged = ".".join((head, other.split(".")[1], signature))
    assert_refused(await client.ask(forged), forged, "signature does not verify")
    broken = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    assert_refused(await client.ask(broken), broken, "signature does not verify")


@pytest.mark.parametrize("value", ["Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"])
async def test_malformed_credentials_are_refused(client: Client, value: str) -> None:
    response = await client.ask(headers={"Authorization": value})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_key_rotation_is_followed_once_and_made_up_keys_fetch_nothing(
    client: Client, issuer: IssuerSimulator
) -> None:
    assert (await client.ask(issuer.mint())).status_code == 200
    assert issuer.counts["GET /jwks"] == 1
    client.clock.now += 31  # past jwks_refresh_s since the last read
    issuer.rotate()
    rotated = issuer.mint(algorithm="ES256")
    assert (await client.ask(rotated)).status_code == 200  # an unknown kid: the keys are read again, once
    assert issuer.counts["GET /jwks"] == 2
    for n in range(25):  # tokens naming keys that do not exist, right after that read
        fake = made_up_kid(issuer, n)
        assert_refused(await client.ask(fake), fake, "key the issuer does not publish")
    assert issuer.counts["GET /jwks"] == 2, "made-up key ids must not make the gateway hammer the issuer"
    assert (await client.ask(issuer.mint())).status_code == 200  # the old keys: still published, still cached
    client.clock.now += 31
    assert_refused(await client.ask(fake), fake, "does not publish")  # after the pause: one more read, no more
    assert_refused(await client.ask(fake), fake, "does not publish")
    assert issuer.counts["GET /jwks"] == 3


async def test_anonymous_callers_when_the_configuration_allows_them(
    demo: Municipal, issuer: IssuerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graph.app import GraphQLEndpoint

    seen: list[Any] = []
    original = GraphQLEndpoint.authenticate

    async def spy(self: GraphQLEndpoint, request: Any) -> Any:
        caller = await original(self, request)
        seen.append(caller)
        return caller

    monkeypatch.setattr(GraphQLEndpoint, "authenticate", spy)
    client = await _client(settings_for(demo, issuer, anonymous=True, anonymous_scopes=["bag:lezen"]))
    try:
        assert (await client.ask()).status_code == 200
        assert seen[-1].anonymous and seen[-1].scopes == {"bag:lezen"}
        assert (await client.ask(issuer.mint())).status_code == 200  # a token still counts when sent
        assert seen[-1].subject == "demo-medewerker" and seen[-1].scopes == set(EMPLOYEE_SCOPES)
        assert (await client.ask(issuer.mint(expired=True))).status_code == 401  # never a silent downgrade
    finally:
        await client.aclose()


async def test_a_citizen_token_names_the_citizen(demo: Municipal, issuer: IssuerSimulator) -> None:
    from graph.authn import caller_of

    bsn = next(iter(demo.data.personen.values())).bsn
    authenticator = Authenticator(auth_settings(settings_for(demo, issuer)))
    try:
        caller = await authenticator.authenticate(f"Bearer {issuer.mint(bsn=bsn, scopes=['brp:lezen'])}")
    finally:
        await authenticator.aclose()
    assert (caller.subject, caller.bsn, caller.scopes) == (bsn, bsn, {"brp:lezen"})
    assert caller_of({"sub": "x", "scp": ["a", "b"], "preferred_username": "p"}).scopes == {"a", "b"}


def test_a_gateway_without_an_auth_table_does_not_start(demo: Municipal) -> None:
    config = gateway_settings(demo.config)
    bare = dataclasses.replace(config, options={k: v for k, v in config.options.items() if k != "auth"})
    with pytest.raises(ConfigError, match=r"\[gateway.auth\] is missing.*issuer and audience.*anonymous = true"):
        create_app(bare)
    for table, said in (({"issuer": "http://login.example"}, "needs issuer and audience"),
                        ({"issuer": "http://login.example", "audience": "a"}, "https"),
                        ({"anonymous": True, "algorithms": ["HS256"]}, "asymmetric"),
                        ({"anonymous": True, "anonymous_scopes": ["brp:lezen"]}, "personal")):
        with pytest.raises(ConfigError, match=said):
            create_app(dataclasses.replace(config, options={**config.options, "auth": table}))


async def test_the_graphiql_page_needs_no_token_and_opens_with_the_configured_headers(
    demo: Municipal, issuer: IssuerSimulator
) -> None:
    plain = await _client(settings_for(demo, issuer))
    token = issuer.mint()
    config = settings_for(demo, issuer)
    filled = await _client(dataclasses.replace(config, options={
        **config.options, "graphiql_headers": {"Authorization": f"Bearer {token}", **PURPOSE_HEADERS}}))
    try:
        page = await plain.http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower() and "Bearer" not in page.text
        page = await filled.http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and token in page.text and PURPOSE in page.text
        assert page.headers["cache-control"] == "no-store"
    finally:
        await plain.aclose()
        await filled.aclose()


async def test_the_session_gateway_sends_a_token_and_can_send_others(gateway: Gateway) -> None:
    assert (await gateway.query(QUERY)) == {"data": {"__typename": "Query"}}
    refused = await gateway.client.post("/graphql", json={"query": QUERY}, headers={"Authorization": "Bearer x"})
    assert refused.status_code == 401


def test_the_token_command_prints_a_token_that_works(demo: Municipal, issuer_world: Municipal) -> None:
    from graph.cli import app

    issuer = issuer_world.simulators["issuer"]
    assert isinstance(issuer, IssuerSimulator)
    result = CliRunner().invoke(app, ["token", "--issuer", issuer.issuer, "--scope", "bag:lezen"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()

    async def check() -> None:
        authenticator = Authenticator(auth_settings(settings_for(demo, issuer)))
        try:
            caller = await authenticator.authenticate(f"Bearer {token}")
        finally:
            await authenticator.aclose()
        assert caller.scopes == {"bag:lezen"}

    asyncio.run(check())
    expired = CliRunner().invoke(app, ["token", "--issuer", issuer.issuer, "--expired"])
    assert expired.exit_code == 0 and expired.output.strip() != token


def test_the_token_command_says_when_the_issuer_is_not_running() -> None:
    command = [sys.executable, "-c", "from graph.cli import app; app()", "token",
               "--issuer", f"http://127.0.0.1:{free_port()}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "not running" in done.stderr and "make demo" in done.stderr


async def test_a_verified_token_is_remembered_until_it_expires(
    demo: Municipal, issuer: IssuerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same token again is not verified again (its signature checked once), but it still stops at its own
    ``exp``: remembering never stretches a token's life. A tampered copy is a different token, checked anew."""
    import graph.authn

    checked: list[str] = []
    decode = graph.authn.jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(graph.authn.jwt, "decode", counting)
    authenticator = Authenticator(auth_settings(settings_for(demo, issuer, leeway_s=0)))
    try:
        token = issuer.mint(lifetime_s=2)
        callers = [await authenticator.authenticate(f"Bearer {token}") for _ in range(5)]
        assert len(checked) == 1 and len({c.subject for c in callers}) == 1
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        with pytest.raises(AuthError):
            await authenticator.authenticate(f"Bearer {tampered}")
        await asyncio.sleep(2.1)
        with pytest.raises(AuthError):
            await authenticator.authenticate(f"Bearer {token}")
    finally:
        await authenticator.aclose()
