"""The ``gemeentegraaf`` command: serve the gateway, run the demo municipality, export the schema."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer
import uvicorn

from demo.runner import Municipal, announced
from demo.runner import serve as serve_world
from demo.zgw_profile import PROFILES
from graph.app import create_app
from graph.config import from_mapping, load
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
    settings = load(config)
    # no access log: a GET query string can hold a BSN, and logs must not collect personal data
    uvicorn.run(
        create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info", access_log=False
    )


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


async def _demo(world: Municipal) -> None:
    settings = from_mapping(world.config)
    gateway = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
    )
    print(f"\n  GraphiQL: http://{settings.host}:{settings.port}/graphql\n")
    await asyncio.gather(serve_world(world), gateway.serve())


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL schema (SDL)."""
    typer.echo(schema.as_str())
