"""Runs the simulated municipality: every simulator in one process, each on its own port."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import socket
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from demo.generate import OTHER_PLACES, Place, generate, national
from demo.model import Municipality
from demo.simulator import Simulator, load_config
from demo.zgw_profile import with_profile

log = logging.getLogger(__name__)

# One line per simulated host; adding a source adds a line here and a module beside this one.
SIMULATORS: tuple[str, ...] = (
    "demo.zgw:ZgwSimulator",
    "demo.brp:BrpSimulator",
    "demo.bag:BagSimulator",
    "demo.signalen:SignalenSimulator",
    "demo.klantinteracties:KlantinteractiesSimulator",
    "demo.objecten:ObjectenSimulator",
    "demo.vakantieverhuur:VakantieverhuurSimulator",
    "demo.huishoudboekje:HuishoudboekjeSimulator",
    "demo.notificaties:NotificatiesSimulator",
    "demo.issuer:IssuerSimulator",
)


def simulator_classes() -> list[type[Simulator]]:
    classes = []
    for spec in SIMULATORS:
        module, _, name = spec.partition(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


@dataclass
class Municipal:
    """The running simulators, their data and the configuration that points at them."""

    data: Municipality
    config: dict[str, Any]
    simulators: dict[str, Simulator] = field(default_factory=dict)  # by source name (all names served)
    servers: list[uvicorn.Server] = field(default_factory=list)
    others: dict[str, Municipality] = field(default_factory=dict)  # the other municipalities' data, by code

    @property
    def urls(self) -> dict[str, str]:
        return {name: str(entry["url"]) for name, entry in self.config["sources"].items()}


def build(
    data: Municipality, config: Mapping[str, Any] | None = None, ephemeral_ports: bool = False
) -> Municipal:
    """Create every simulator; with ``ephemeral_ports`` each host gets a free port (for tests)."""
    cfg: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (config or load_config()).items()}
    cfg["sources"] = {name: dict(entry) for name, entry in cfg["sources"].items()}
    if ephemeral_ports:
        remap: dict[int, int] = {}
        for entry in cfg["sources"].values():
            old = port_of(entry["url"])
            remap.setdefault(old, free_port())
            entry["url"] = with_port(entry["url"], remap[old])
    urls = {name: str(entry["url"]) for name, entry in cfg["sources"].items()}
    world = Municipal(data=data, config=cfg)
    for cls in simulator_classes():
        sim = cls(data, cfg, urls)
        for name in served_sources(sim):
            world.simulators[name] = sim
    return world


def served_sources(sim: Simulator) -> tuple[str, ...]:
    return tuple(getattr(sim, "serves", (sim.name,)))


def unique_simulators(world: Municipal) -> list[Simulator]:
    seen: dict[int, Simulator] = {}
    for sim in world.simulators.values():
        seen.setdefault(id(sim), sim)
    return list(seen.values())


async def serve(world: Municipal, log_level: str = "warning") -> None:
    """Serve every simulator until cancelled."""
    for sim in unique_simulators(world):
        port = port_of(sim.urls[sim.name])  # its own URL: another municipality's simulator has its own
        cfg = uvicorn.Config(sim.app, host="127.0.0.1", port=port, log_level=log_level, lifespan="off",
                             access_log=False, timeout_graceful_shutdown=1)  # a "hang" must not hold up shutdown
        world.servers.append(uvicorn.Server(cfg))
    await asyncio.gather(*(server.serve() for server in world.servers))


@contextlib.contextmanager
def running_in_thread(world: Municipal, timeout_s: float = 15.0) -> Iterator[Municipal]:
    """Serve the simulators from a background thread (for tests and benchmarks)."""
    loop = asyncio.new_event_loop()
    task: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        task.append(loop.create_task(serve(world)))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task[0])

    thread = threading.Thread(target=run, name="demo-sources", daemon=True)
    thread.start()
    deadline = threading.Event()
    for _ in range(int(timeout_s / 0.05)):
        if world.servers and len(world.servers) == len(unique_simulators(world)) and all(
            s.started for s in world.servers
        ):
            break
        deadline.wait(0.05)
    else:
        raise RuntimeError("demo sources did not start in time")
    try:
        yield world
    finally:
        for server in world.servers:
            server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def running_alone(cls: type[Simulator], data: Municipality) -> Iterator[Municipal]:
    """One simulator on a free port with its own state (tests of one source, apart from the others)."""
    config = load_config()
    entry = config["sources"][cls.name]
    entry["url"] = with_port(entry["url"], free_port())
    urls = {name: str(e["url"]) for name, e in config["sources"].items()}
    world = Municipal(data=data, config=config)
    world.simulators[cls.name] = cls(data, config, urls)
    with running_in_thread(world) as running:
        yield running


def announced(
    seed: int = 1, scale: float = 1.0, zgw_profile: str | None = None, municipalities: int = 1
) -> Municipal:
    """The municipality for ``gemeentegraaf sources`` and ``demo``, its hosts printed; ``zgw_profile`` overrides
    ``[demo.zgw] profile``; ``municipalities`` (1 to 3) adds the demo's others (``several``)."""
    config = load_config()
    if zgw_profile is not None:
        config = with_profile(config, zgw_profile)
    first = generate(seed=seed, scale=scale)
    world = several(first, others(seed, scale, municipalities - 1), config) if municipalities > 1 else build(
        first, config)
    gc.freeze()  # the municipality lives as long as the process: keep the collector from rescanning it
    for sim in unique_simulators(world):
        print(f"  {sim.banner:<44} {sim.urls[sim.name]}")
    return world


# -- several municipalities over one national BRP and BAG ---------------------------------------------------------

GEMEENTEN_FILE = Path(__file__).with_name("gemeenten.toml")
# the simulators each municipality runs for itself; every other host (BRP, BAG, ...) is the first's
MUNICIPAL_SIMULATORS: tuple[str, ...] = (
    "demo.zgw:ZgwSimulator",
    "demo.signalen:SignalenSimulator",
    "demo.klantinteracties:KlantinteractiesSimulator",
    "demo.objecten:ObjectenSimulator",
)
# the others' seeds (after the first's) and sizes (of the first's): different municipalities, smaller ones
OTHER_SEEDS_AND_SCALES = ((1, 0.4), (2, 0.25))


def others(seed: int, scale: float, count: int) -> list[tuple[Place, Municipality]]:
    """The demo's other municipalities (at most two), each generated at its own ``Place``."""
    chosen = list(zip(OTHER_PLACES, OTHER_SEEDS_AND_SCALES, strict=True))[: max(0, count)]
    return [(place, generate(seed + offset, scale * share, place)) for place, (offset, share) in chosen]


def with_municipalities(config: Mapping[str, Any], path: Path = GEMEENTEN_FILE) -> dict[str, Any]:
    """``config`` with ``demo/gemeenten.toml``'s ``[municipalities]`` and the other municipalities' sources."""
    with path.open("rb") as f:
        extra = tomllib.load(f)
    merged = dict(config)
    merged["sources"] = {**config["sources"], **extra.get("sources", {})}
    merged["municipalities"] = extra["municipalities"]
    return merged


def several(
    first: Municipality,
    rest: list[tuple[Place, Municipality]],
    config: Mapping[str, Any] | None = None,
    ephemeral_ports: bool = False,
) -> Municipal:
    """The first municipality's world, its BRP and BAG national (everyone's persons and addresses), and each other
    municipality's own simulators (``MUNICIPAL_SIMULATORS``) on the ports ``demo/gemeenten.toml`` gives them
    (free ones with ``ephemeral_ports``). ``simulators`` holds every source by its configured name
    (``zaken_0998``), so tests can break one municipality's source alone."""
    cfg = with_municipalities(config or load_config())
    cfg["sources"] = {name: dict(entry) for name, entry in cfg["sources"].items()}
    if ephemeral_ports:
        remap: dict[int, int] = {}
        for entry in cfg["sources"].values():
            old = port_of(entry["url"])
            remap.setdefault(old, free_port())
            entry["url"] = with_port(entry["url"], remap[old])
    world = build(national(first, *(data for _, data in rest)), cfg)
    for place, data in rest:
        roles: dict[str, str] = dict(cfg["municipalities"][place.gemeentecode]["sources"])
        own = {name: entry for name, entry in cfg["sources"].items() if name != "notificaties"}
        own.update({role: cfg["sources"][name] for role, name in roles.items()})
        local = {**cfg, "sources": own}
        urls = {name: str(entry["url"]) for name, entry in own.items()}
        for spec in MUNICIPAL_SIMULATORS:
            module, _, name = spec.partition(":")
            sim: Simulator = getattr(importlib.import_module(module), name)(data, local, urls)
            for role in served_sources(sim):
                world.simulators[roles[role]] = sim
        world.others[place.gemeentecode] = data
    return world
