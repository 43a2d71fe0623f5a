"""The ``gemeentegraaf`` command: serve the gateway, run the demo municipality, export the schema."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import typer
import uvicorn
from starlette.applications import Starlette

from graph.app import create_app
from graph.cache import RedisStore
from graph.caller import PURPOSE_HEADER
from graph.config import ConfigError, GatewayConfig, from_mapping, load
from graph.oplog import JsonLines
from schema.root import schema

if TYPE_CHECKING:  # the demo is imported by the commands that run it, so `serve` carries none of it (memory)
    from demo.runner import Municipal


def _logging(form: str = "text") -> None:
    """INFO for the gateway's own records; httpx logs every URL it fetches, and a URL can hold a BSN (Open
    Klant filters by it), so the HTTP client libraries only speak up on warnings."""
    if form not in ("json", "text"):
        raise typer.BadParameter("must be json or text", param_hint="--log-format")
    handler = logging.StreamHandler()
    if form == "json":
        handler.setFormatter(JsonLines())  # graph.oplog: one object per line, structured fields included
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])  # a no-op when logging is set up already
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _refuse(config: Path | str, exc: ConfigError) -> NoReturn:
    """Every problem on a line of its own, naming the file, and exit 2: no traceback for a configuration."""
    for problem in exc.problems or [str(exc)]:
        typer.echo(f"{config}: {problem}", err=True)
    raise typer.Exit(2)


CONFIG_FILE = typer.Option(
    ..., "--config", "-c", exists=True, dir_okay=False,
    help="TOML file with \\[gateway] and \\[sources.<name>] tables.",  # \\[: rich would take [..] for markup
)


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


# what `serve --workers N` hands each worker process (uvicorn starts them afresh, so through the environment);
# also for running `uvicorn --factory graph.cli:worker_app` or another ASGI server directly
CONFIG_VARIABLE = "GEMEENTEGRAAF_CONFIG"
LOG_FORMAT_VARIABLE = "GEMEENTEGRAAF_LOG_FORMAT"


@app.command()
def serve(
    config: Path = CONFIG_FILE,
    host: str | None = typer.Option(None, help="Overrides \\[gateway] host."),
    port: int | None = typer.Option(None, help="Overrides \\[gateway] port."),
    log_format: str = typer.Option("json", "--log-format", help="json: one JSON object per line (for log "
                                   "collectors); text: for people."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes on the one port. More than 1 "
                                "needs \\[gateway.cache] backend = \"redis\": the workers share cache, rate "
                                "limits and circuit breakers there."),
) -> None:
    """Run the gateway over the sources named in a configuration file."""
    _logging(log_format)
    try:
        settings = load(config)
        gateway = create_app(settings)
    except ConfigError as exc:
        _refuse(config, exc)
    # no access log: a GET query string can hold a BSN, and logs must not collect personal data
    server: dict[str, Any] = {"host": host or settings.host, "port": port or settings.port, "access_log": False}
    if workers == 1:
        uvicorn.run(gateway, **server, log_level="info")
        return
    shared = isinstance(gateway.state.cache, RedisStore)
    asyncio.run(_close(gateway))  # it only checked the configuration: each worker builds its own app
    if not shared:
        _refuse(config, ConfigError(
            f"--workers {workers} needs [gateway.cache] backend = \"redis\" (or GEMEENTEGRAAF_GATEWAY_CACHE_BACKEND"
            "=redis with REDIS_URL): with the in-process cache each worker would keep its own cache, rate limits "
            "and circuit breakers, together pass a source's rate limit, and each keep its own Notificaties "
            "abonnement"))
    os.environ[CONFIG_VARIABLE] = str(config.resolve())  # the workers inherit the environment, overrides included
    os.environ[LOG_FORMAT_VARIABLE] = log_format
    uvicorn.run("graph.cli:worker_app", factory=True, workers=workers, **server, log_level="info")


def worker_app() -> Starlette:
    """The app of one worker process of ``serve --workers N``, built from the same file and environment as
    the parent checked. Each worker runs its own lifespan (clients, the Notificaties subscriber, which takes
    turns through the store), and reads ``graphiql_headers`` from the file like every other key: the demo's
    minted token exists only in ``gemeentegraaf demo``, which runs one process."""
    path = os.environ.get(CONFIG_VARIABLE)
    if not path:
        raise RuntimeError(f"{CONFIG_VARIABLE} must name the gateway's configuration file")
    _logging(os.environ.get(LOG_FORMAT_VARIABLE, "json"))
    return create_app(load(path))


async def _close(gateway: Starlette) -> None:
    """What an app opened without serving (``check``, and ``serve`` checking for its workers): its lifespan,
    which would close them, never ran."""
    await gateway.state.sources.aclose()
    await gateway.state.authenticator.aclose()
    await gateway.state.responses.aclose()
    await gateway.state.cache.aclose()
    if gateway.state.tracing is not None:
        gateway.state.tracing.shutdown()


@app.command()
def check(config: Path = CONFIG_FILE) -> None:
    """Check a configuration file, then ask every source once (its base URL, without credentials): one line
    per problem and per source; exit 1 when a source cannot be reached, 2 when the file has problems."""
    _logging("text")
    try:
        gateway = create_app(load(config))
    except ConfigError as exc:
        _refuse(config, exc)
    typer.echo(f"{config}: configuration is valid")
    body = asyncio.run(_probe(gateway))
    failed = 0
    for name, result in sorted(body["sources"].items()):
        if result["ready"]:
            typer.echo(f"  {name:<20} reachable ({result['ms']} ms)")
        else:
            failed += 1
            typer.echo(f"  {name:<20} NOT reachable: {result['reason']}")
    if "cache" in body:
        typer.echo(f"  {'cache (redis)':<20} {'reachable' if body['cache']['ready'] else 'NOT reachable'}")
        failed += not body["cache"]["ready"]
    if failed:
        raise typer.Exit(1)


async def _probe(gateway: Starlette) -> dict[str, Any]:
    """One round of the readiness probe (``graph.readiness``), then the app's clients closed."""
    try:
        body: dict[str, Any] = (await gateway.state.readiness.check())[1]
        return body
    finally:
        await _close(gateway)


@app.command()
def sources(
    scale: float = typer.Option(1.0, help="Size of the municipality; 1 is about 2,000 persons."),
    seed: int = typer.Option(1, help="Seed of the generated data; the same seed gives the same municipality."),
    zgw_profile: str | None = ZGW_PROFILE,
    municipalities: int = typer.Option(
        1, min=1, max=3, help="Municipalities: 2 or 3 adds the others of demo/gemeenten.toml (ports 8111-8124)."),
) -> None:
    """Run every simulated source API (ports 8101-8110) in one process."""
    from demo.runner import serve as serve_world

    asyncio.run(serve_world(_world(seed, scale, zgw_profile, municipalities)))


@app.command()
def demo(
    scale: float = typer.Option(1.0, help="Size of the municipality."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
    zgw_profile: str | None = ZGW_PROFILE,
    port: int | None = typer.Option(None, help="The gateway's port. Default: \\[gateway] port (8000)."),
    municipalities: int = typer.Option(
        3, min=1, max=3, help="Municipalities in the graph (demo/gemeenten.toml): Graafland, then Graafmeer and "
        "Graafsloot, smaller, over one national BRP and BAG."),
) -> None:
    """Run the demo municipalities' sources and the gateway (GraphiQL at /graphql). GEMEENTEGRAAF_* variables
    override the demo's configuration as they do for `serve`."""
    _logging()
    world = _world(seed, scale, zgw_profile, municipalities)
    try:
        settings = _demo_settings(world, port)
    except ConfigError as exc:
        _refuse("demo/gemeentegraaf.toml", exc)
    asyncio.run(_demo(world, settings))


def _world(seed: int, scale: float, zgw_profile: str | None, municipalities: int = 1) -> Municipal:
    from demo.runner import announced
    from demo.zgw_profile import PROFILES

    if zgw_profile is not None and zgw_profile not in PROFILES:
        raise typer.BadParameter(f"must be one of {', '.join(PROFILES)}", param_hint="--zgw-profile")
    typer.echo(f"Generating the demo municipality (seed {seed}, scale {scale}: about {round(2000 * scale):,} "
               f"persons){' and ' + str(municipalities - 1) + ' smaller ones' if municipalities > 1 else ''} …")
    return announced(seed, scale, zgw_profile, municipalities)


DEMO_TOKEN_S = 7 * 86400  # as long as anyone runs a demo; the issuer's keys die with the process anyway


def _demo_settings(world: Municipal, port: int | None) -> GatewayConfig:
    """The demo's configuration with the environment's overrides and ``--port``; the Notificaties simulator
    calls the gateway back, so a gateway on another port moves the callback URL along."""
    from demo.issuer import DEMO_PURPOSE, IssuerSimulator
    from demo.runner import with_port

    issuer = world.simulators["issuer"]
    assert isinstance(issuer, IssuerSimulator)
    # GraphiQL opens ready to query: a demo employee's token and the demo purpose, set here at run time only
    gateway = world.config["gateway"]
    gateway["graphiql_headers"] = {
        "Authorization": f"Bearer {issuer.mint(lifetime_s=DEMO_TOKEN_S)}", PURPOSE_HEADER: DEMO_PURPOSE}
    settings = from_mapping(world.config, os.environ)
    chosen = port or settings.port
    notifications = gateway.get("notifications")
    if isinstance(notifications, dict) and isinstance(notifications.get("callback_url"), str):
        notifications["callback_url"] = with_port(notifications["callback_url"], chosen)
    gateway["port"] = chosen
    return from_mapping(world.config, {k: v for k, v in os.environ.items() if k != "GEMEENTEGRAAF_GATEWAY_PORT"})


async def _demo(world: Municipal, settings: GatewayConfig) -> None:
    from demo.runner import serve as serve_world
    from demo.runner import unique_simulators

    try:
        app = create_app(settings)
    except ConfigError as exc:
        _refuse("demo/gemeentegraaf.toml", exc)
    gateway = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
    typer.echo(f"Starting {len(unique_simulators(world))} simulated sources and the gateway …")
    running = asyncio.gather(serve_world(world), gateway.serve())
    # uvicorn.Server has no start event, only its started flag
    while not running.done() and not (gateway.started and all(s.started for s in world.servers)):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if gateway.started:
        typer.echo(f"Sources and gateway are up.\n\n  GraphiQL: http://{settings.host}:{settings.port}/graphql "
                   "(opens with a demo employee's token)\n  Other tokens: gemeentegraaf token --help\n")
    await running


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
    from demo.simulator import load_config

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
