"""The ``gemeentegraaf`` command: serve the gateway, run the demo municipality, export the schema."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import typer
import uvicorn

from demo.issuer import DEMO_PURPOSE, IssuerSimulator
from demo.runner import Municipal, announced
from demo.runner import serve as serve_world
from demo.simulator import load_config
from demo.zgw_profile import PROFILES
from graph.app import create_app
from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError, from_mapping, load
from schema.root import schema


def _logging() -> None:
    """INFO for the gateway's own records; httpx logs every URL it fetches, and a URL can hold a BSN (Open
    Klant filters by it), so the HTTP client libraries only speak up on warnings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


app = typer.Typer(
    help="Gemeentegraaf: one GraphQL endpoint over a municipality's source APIs.",
    no_args_is_help=True,
    add_completion=False,
)


ZGW_PROFILE = typer.Option(
    None,
    "--zgw-profile",
    help="ZGW product to imitate: 'openzaak' (Open Zaak 1.30) or 'standard' (the VNG standard, no extensions). "
    "Default: [demo.zgw] profile in demo/gemeentegraaf.toml.",
)


@app.command()
def serve(
    config: Path = typer.Option(
        ..., "--config", "-c", exists=True, dir_okay=False, help="TOML file with [gateway] and [sources.<name>] tables."
    ),
    host: str | None = typer.Option(None, help="Overrides [gateway] host."),
    port: int | None = typer.Option(None, help="Overrides [gateway] port."),
) -> None:
    """Run the gateway over the sources named in a configuration file."""
    _logging()
    try:
        settings = load(config)
        gateway = create_app(settings)
    except ConfigError as exc:
        typer.echo(f"{config}: {exc}", err=True)
        raise typer.Exit(2) from None
    # no access log: a GET query string can hold a BSN, and logs must not collect personal data
    uvicorn.run(gateway, host=host or settings.host, port=port or settings.port, log_level="info", access_log=False)


@app.command()
def sources(
    scale: float = typer.Option(1.0, help="Size of the municipality; 1 is about 2,000 persons."),
    seed: int = typer.Option(1, help="Seed of the generated data; the same seed gives the same municipality."),
    zgw_profile: str | None = ZGW_PROFILE,
) -> None:
    """Run every simulated source API (ports 8101-8109) in one process."""
    asyncio.run(serve_world(_world(seed, scale, zgw_profile)))


@app.command()
def demo(
    scale: float = typer.Option(1.0, help="Size of the municipality."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
    zgw_profile: str | None = ZGW_PROFILE,
) -> None:
    """Run the demo municipality's sources and the gateway on :8000 (GraphiQL at /graphql)."""
    _logging()
    asyncio.run(_demo(_world(seed, scale, zgw_profile)))


def _world(seed: int, scale: float, zgw_profile: str | None) -> Municipal:
    if zgw_profile is not None and zgw_profile not in PROFILES:
        raise typer.BadParameter(f"must be one of {', '.join(PROFILES)}", param_hint="--zgw-profile")
    return announced(seed, scale, zgw_profile)


DEMO_TOKEN_S = 7 * 86400  # as long as anyone runs a demo; the issuer's keys die with the process anyway


async def _demo(world: Municipal) -> None:
    issuer = world.simulators["issuer"]
    assert isinstance(issuer, IssuerSimulator)
    # GraphiQL opens ready to query: a demo employee's token and the demo purpose, set here at run time only
    world.config["gateway"]["graphiql_headers"] = {
        "Authorization": f"Bearer {issuer.mint(lifetime_s=DEMO_TOKEN_S)}", PURPOSE_HEADER: DEMO_PURPOSE}
    settings = from_mapping(world.config)
    gateway = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
    )
    print(f"\n  GraphiQL: http://{settings.host}:{settings.port}/graphql (opens with a demo employee's token)"
          "\n  Other tokens: gemeentegraaf token --help\n")
    await asyncio.gather(serve_world(world), gateway.serve())


@app.command()
def token(
    scope: list[str] | None = typer.Option(
        None, "--scope", "-s", help="A scope the token holds (repeat for more). Default: every scope of the demo."),
    bsn: str | None = typer.Option(None, help="A citizen's token: the subject is this BSN."),
    subject: str | None = typer.Option(None, help="The subject (sub). Default: the demo employee."),
    audience: str | None = typer.Option(None, help="The audience (aud). Default: the demo gateway's."),
    expired: bool = typer.Option(False, "--expired", help="A token that has already expired (to see the 401)."),
    issuer: str | None = typer.Option(None, help="The demo issuer's URL. Default: [sources.issuer] of the demo."),
) -> None:
    """Print a bearer token from the running demo issuer (`make demo` or `gemeentegraaf sources`)."""
    url = (issuer or str(load_config()["sources"]["issuer"]["url"])).rstrip("/")
    body: dict[str, object] = {"expired": expired}
    for key, value in (("scope", scope or None), ("bsn", bsn), ("subject", subject), ("audience", audience)):
        if value is not None:
            body[key] = value
    try:
        answer = httpx.post(f"{url}/_demo/token", json=body, timeout=10)
    except httpx.HTTPError:
        typer.echo(f"The demo token issuer is not running at {url}: start it with `make demo` or "
                   "`gemeentegraaf sources`.", err=True)
        raise typer.Exit(1) from None
    if answer.status_code != 200:
        typer.echo(f"The demo token issuer refused: {answer.text}", err=True)
        raise typer.Exit(1)
    typer.echo(answer.json()["access_token"])


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL)."""
    typer.echo(schema.as_str())
