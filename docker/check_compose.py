"""docker/compose.yaml checked without a Docker engine (`make docker-check` runs it with the image's packages;
tests/test_docker.py too): every gateway replica really uses Redis (as the gateway's own configuration code
reads the mounted file and the environment), the replicas listen on ports of their own, and the proxy sends
to exactly those ports on the port that is published and that the Notificaties API calls back.

Usage: python docker/check_compose.py [docker/compose.yaml]; prints one line per problem, exits 1 if any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from graph.cache import cache_settings
from graph.config import ConfigError, GatewayConfig, load


def replicas(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run ``gemeentegraaf serve``."""
    return {name: service for name, service in compose.get("services", {}).items()
            if service.get("command", [])[:2] == ["gemeentegraaf", "serve"]}


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def configuration(service: dict[str, Any], directory: Path) -> tuple[GatewayConfig, dict[str, str]]:
    """What ``gemeentegraaf serve`` in this service reads: the mounted file, with the service's environment."""
    config_path = option(service["command"], "--config")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}
    if config_path not in mounts:
        raise ConfigError(f"the configuration {config_path} is not mounted")
    environment = {k: str(v) for k, v in (service.get("environment") or {}).items()}
    return load(directory / mounts[config_path], environ=environment), environment


def upstream_ports(nginx_conf: str) -> list[int]:
    block = re.search(r"upstream\s+\S+\s*\{(.*?)\}", nginx_conf, re.DOTALL)
    return [int(p) for p in re.findall(r"^\s*server\s+127\.0\.0\.1:(\d+)", block[1], re.MULTILINE)] if block else []


def problems(compose: dict[str, Any], directory: Path) -> list[str]:
    found: list[str] = []
    services = compose.get("services", {})
    gateways = replicas(compose)
    if len(gateways) < 2:
        return [f"two gateway replicas expected, found {sorted(gateways)}"]
    ports: dict[str, int] = {}
    callbacks: set[int] = set()
    for name, service in gateways.items():
        try:
            config, environment = configuration(service, directory)
            settings = cache_settings(config, environ=environment)
        except ConfigError as exc:
            found.append(f"{name}: {exc}")
            continue
        if settings.backend != "redis" or not settings.url:
            found.append(f"{name}: the cache is not Redis, so it shares nothing with the other replicas")
        elif urlsplit(settings.url).hostname not in services:
            found.append(f"{name}: Redis at {settings.url} is no service of this file")
        ports[name] = int(option(service["command"], "--port") or config.port)
        notifications = config.options.get("notifications")
        if isinstance(notifications, dict) and notifications.get("callback_url"):
            callbacks.add(urlsplit(str(notifications["callback_url"])).port or 80)
        if service.get("network_mode") != "service:sources":
            found.append(f"{name}: not in the sources' network namespace, where the demo sources listen")
    if len(set(ports.values())) != len(ports):
        found.append(f"the replicas share a port: {ports}")
    proxies = [s for s in services.values() if any(str(v).endswith(":/etc/nginx/nginx.conf:ro")
                                                   for v in s.get("volumes", []))]
    if len(proxies) != 1:
        return [*found, "one nginx proxy with docker/nginx.conf mounted expected"]
    proxy = proxies[0]
    if proxy.get("network_mode") != "service:sources":
        found.append("the proxy is not in the replicas' network namespace")
    mount = next(str(v) for v in proxy["volumes"] if str(v).endswith(":/etc/nginx/nginx.conf:ro"))
    nginx_conf = (directory / mount.split(":")[0]).read_text(encoding="utf-8")
    if sorted(upstream_ports(nginx_conf)) != sorted(ports.values()):
        found.append(f"the proxy sends to ports {upstream_ports(nginx_conf)}, the replicas listen on {ports}")
    listen = {int(p) for p in re.findall(r"^\s*listen\s+(\d+)\s*;", nginx_conf, re.MULTILINE)}
    published = {int(p.rsplit(":", 1)[1]) for p in services.get("sources", {}).get("ports", [])}
    if not listen or not listen <= published:
        found.append(f"the proxy listens on {sorted(listen)}, the published ports are {sorted(published)}")
    if callbacks and not callbacks <= listen:
        found.append(f"the Notificaties API calls back on {sorted(callbacks)}, where the proxy does not listen")
    if not re.search(r"^\s*access_log\s+off\s*;", nginx_conf, re.MULTILINE):
        found.append("the proxy logs requests (a GET query string can hold a BSN): access_log off")
    return found


def main(path: Path) -> int:
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = problems(compose, path.parent)
    for problem in found:
        print(f"{path}: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("compose.yaml")))
