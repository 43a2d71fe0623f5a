"""Configuration: one TOML file, with environment variables overriding single values.

The file has a ``[gateway]`` table and one ``[sources.<name>]`` table per source API::

    [sources.brp]
    url = "https://brp.example.nl/haalcentraal/api/brp"
    auth = "api-key"          # zgw-jwt | api-key | bearer | token | cookie | none
    header = "X-API-KEY"
    key = "..."
    timeout_s = 10
    max_concurrency = 10
    public_urls = ["https://brp.example.nl/haalcentraal/api/brp"]  # links it writes, if not by ``url``

``GEMEENTEGRAAF_<SOURCE>_<KEY>`` overrides one value (``GEMEENTEGRAAF_BRP_KEY=...``), so secrets can come
from the environment instead of the file; ``GEMEENTEGRAAF_GATEWAY_PORT`` likewise for the gateway, and
``GEMEENTEGRAAF_AUTH_<KEY>`` for its ``[gateway.auth]`` table (``graph.authn``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.limits import Limits

SECRET_KEYS = frozenset({"secret", "key", "token", "password", "client_secret", "client_key_password"})
ENV_PREFIX = "GEMEENTEGRAAF_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the table and key."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    url: str
    auth: str = "none"
    timeout_s: float = 10.0
    max_concurrency: int = 10
    options: Mapping[str, Any] = field(default_factory=dict)  # credentials and source-specific settings

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def number(self, key: str, default: float) -> float:
        """A non-negative number option (from the file, or as text from the environment)."""
        try:
            value = float(self.options.get(key, default))
        except (TypeError, ValueError):
            raise ConfigError(f"[sources.{self.name}] {key} must be a number") from None
        if value < 0:
            raise ConfigError(f"[sources.{self.name}] {key} must be >= 0")
        return value

    def flag(self, key: str, default: bool) -> bool:
        """A true/false option (from the file, or as text from the environment)."""
        value = self.options.get(key, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
            return value.strip().lower() in {"true", "1", "yes"}
        raise ConfigError(f"[sources.{self.name}] {key} must be true or false")

    def __repr__(self) -> str:  # never show credentials in logs or tracebacks
        shown = {k: ("***" if k in SECRET_KEYS else v) for k, v in self.options.items()}
        return f"SourceConfig(name={self.name!r}, url={self.url!r}, auth={self.auth!r}, options={shown!r})"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


def load(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    with Path(path).open("rb") as f:
        raw = tomllib.load(f)
    # paths in [gateway] (such as verwerkingsactiviteiten) are relative to the file that names them
    raw.setdefault("gateway", {}).setdefault("config_dir", str(Path(path).resolve().parent))
    return from_mapping(raw, os.environ if environ is None else environ)


def from_mapping(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> GatewayConfig:
    env = environ or {}
    gateway = dict(raw.get("gateway", {}))
    _apply_env(gateway, "GATEWAY", env)
    if isinstance(gateway.get("auth", {}), Mapping):  # [gateway.auth] (graph.authn): GEMEENTEGRAAF_AUTH_<KEY>
        auth = dict(gateway.get("auth", {}))
        _apply_env(auth, "AUTH", env)
        if auth or "auth" in gateway:
            gateway["auth"] = auth
    tables = raw.get("sources", {})
    if not isinstance(tables, Mapping):
        raise ConfigError("[sources] must be a table of [sources.<name>] tables")
    sources: dict[str, SourceConfig] = {}
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise ConfigError(f"[sources.{name}] must be a table")
        if table.get("demo_only") is True:
            continue  # a host of the simulated municipality that is no source of the gateway (the token issuer)
        entry = dict(table)
        _apply_env(entry, name.upper(), env)
        sources[name] = _source(name, entry)
    try:
        Limits.from_options(gateway)  # [gateway.limits]: refuse a wrong value at start-up, naming the key
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        port = int(gateway.pop("port", 8000))
    except (TypeError, ValueError) as exc:
        raise ConfigError("[gateway] port must be a number") from exc
    return GatewayConfig(host=str(gateway.pop("host", "127.0.0.1")), port=port, sources=sources, options=gateway)


def _apply_env(entry: dict[str, Any], table: str, env: Mapping[str, str]) -> None:
    prefix = f"{ENV_PREFIX}{table}_"
    for var, value in env.items():
        if var.startswith(prefix):
            entry[var[len(prefix) :].lower()] = value


def _read_secret_files(name: str, entry: dict[str, Any]) -> None:
    """``<secret>_file = "/run/secrets/…"`` puts the file's content in ``<secret>`` (Docker and Kubernetes
    mount secrets as files), so no secret needs to stand in the configuration or the environment."""
    for key in [k for k in entry if k.endswith("_file") and k[: -len("_file")] in SECRET_KEYS]:
        path = entry.pop(key)
        try:
            entry[key[: -len("_file")]] = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[sources.{name}] {key}: cannot read {path} ({exc.strerror})") from None


def _source(name: str, entry: dict[str, Any]) -> SourceConfig:
    url = entry.pop("url", None)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"[sources.{name}] url must be an http(s) URL")
    try:
        timeout_s = float(entry.pop("timeout_s", 10.0))
        max_concurrency = int(entry.pop("max_concurrency", 10))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[sources.{name}] timeout_s and max_concurrency must be numbers") from exc
    if timeout_s <= 0 or max_concurrency < 1:
        raise ConfigError(f"[sources.{name}] timeout_s must be > 0 and max_concurrency >= 1")
    public = entry.get("public_urls", [])
    listed = public.split(",") if isinstance(public, str) else public
    if not isinstance(listed, list) or not all(
        isinstance(u, str) and u.strip().startswith(("http://", "https://")) for u in listed
    ):
        raise ConfigError(f"[sources.{name}] public_urls must be a list of http(s) URL prefixes")
    _read_secret_files(name, entry)
    return SourceConfig(
        name=name,
        url=url.rstrip("/"),
        auth=str(entry.pop("auth", "none")),
        timeout_s=timeout_s,
        max_concurrency=max_concurrency,
        options=entry,
    )
