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

Several municipalities in one graph: ``[municipalities.<gemeentecode>]`` names a municipality and maps the roles
of its own sources (``zaken``, ``signalen``, …: the names the resolvers ask for) to ``[sources.<name>]`` tables;
every source no municipality names is national (BRP, BAG) and shared by all::

    [municipalities]
    default = "0999"          # the municipality the top-level fields (zaken, meldingen, …) serve
    [municipalities.0999]
    naam = "Graafland"
    sources = { zaken = "zaken", signalen = "signalen" }
    [municipalities.0998]
    naam = "Graafmeer"
    sources = { zaken = "zaken_0998", signalen = "signalen_0998" }

Without the table the gateway is one municipality, its sources named by their roles.

``GEMEENTEGRAAF_<SOURCE>_<KEY>`` overrides one value (``GEMEENTEGRAAF_BRP_KEY=...``), so secrets can come
from the environment instead of the file; ``GEMEENTEGRAAF_GATEWAY_PORT`` likewise for the gateway, and
``GEMEENTEGRAAF_AUTH_<KEY>`` for its ``[gateway.auth]`` table (``graph.authn``).

Every key is declared where it is read: engine modules call ``declare_source_keys``/``declare_gateway_keys``
at import, each resolvers module ``declare_source`` with its source's name and own keys, ``graph.auth`` each
scheme's keys. ``validate`` checks a configuration against those declarations once everything is imported
(``graph.app.create_app``), so a typo is one line at start-up instead of a setting silently ignored. Keys
beginning ``demo_`` belong to the demo's simulators (which read the same file) and are not the gateway's.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from graph.limits import Limits

SECRET_KEYS = frozenset({"secret", "key", "token", "password", "client_secret", "client_key_password"})
ENV_PREFIX = "GEMEENTEGRAAF_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the table and key, one line per problem."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


# -- what may stand in the file, declared by the modules that read it ---------------------------------------

Kind = Literal["number", "int", "bool", "str", "strings", "table", "any"]
"""``number``/``int``/``bool`` also accept their text (the environment gives text); ``strings`` is a list of
strings or a comma-separated string."""

DEMO_PREFIX = "demo_"  # keys of the demo's simulators in a [sources.<name>] table; the gateway never reads them
TOP_LEVEL = ("gateway", "sources", "demo", "municipalities")  # [demo.*] tables are the simulators' own

_source_keys: dict[str, Kind] = {"url": "str", "auth": "str", "timeout_s": "number", "max_concurrency": "int",
                                 "demo_only": "bool"}
_sources: dict[str, dict[str, Kind]] = {}  # source name -> its own keys, declared by its resolvers module
_schemes: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # auth scheme -> (its keys, the required ones)
_gateway_keys: dict[str, Kind] = {"host": "str", "port": "int", "config_dir": "str"}
_gateway_tables: dict[str, frozenset[str] | None] = {}  # [gateway.<table>] -> its keys (None: it checks them)
_checks: list[tuple[str, Callable[[GatewayConfig], object]]] = []  # (the table it reads, the reader)
_source_checks: list[Callable[[SourceConfig], object]] = []


# [gateway.limits] and its two switches: read by graph.limits, which this module already asks in from_mapping
_gateway_keys.update(introspection="bool", graphiql="bool")
_gateway_tables["limits"] = frozenset(Limits.__dataclass_fields__) - {"introspection", "graphiql"}
_gateway_keys["limits"] = "table"


def declare_source_keys(**kinds: Kind) -> None:
    """Keys every ``[sources.<name>]`` table may hold, declared by the engine module that reads them."""
    _source_keys.update(kinds)


def declare_source(name: str, **kinds: Kind) -> None:
    """A source the product serves (called by its resolvers module), with the keys only it reads."""
    _sources.setdefault(name, {}).update(kinds)


def declare_auth(scheme: str, required: Iterable[str] = (), optional: Iterable[str] = ()) -> None:
    """An ``auth`` scheme and the keys it reads; only the chosen scheme's keys may stand in a table."""
    needed = frozenset(required)
    _schemes[scheme] = (needed | frozenset(optional), needed)


def declare_source_check(check: Callable[[SourceConfig], object]) -> None:
    """A reader of a source's table that raises ``ConfigError`` on a bad value (``stages``, TLS files, …)."""
    _source_checks.append(check)


def declare_gateway_keys(**kinds: Kind) -> None:
    """Keys of the ``[gateway]`` table itself, declared by the module that reads them."""
    _gateway_keys.update(kinds)


def declare_gateway_table(
    name: str, keys: Iterable[str] | None = None, check: Callable[[GatewayConfig], object] | None = None
) -> None:
    """``[gateway.<name>]``: its keys (``GEMEENTEGRAAF_GATEWAY_<NAME>_<KEY>`` arrives as ``<name>_<key>``), and
    the reader that refuses its values, run by ``validate`` so every table's problems show at once."""
    _gateway_tables[name] = None if keys is None else frozenset(keys)
    _gateway_keys[name] = "table"
    if check is not None:
        _checks.append((name, check))


def known_sources() -> list[str]:
    return sorted(_sources)


def _suggest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_problem(kind: Kind, value: Any) -> str | None:
    """What is wrong with ``value`` for ``kind``, or None."""
    text = isinstance(value, str)
    if kind == "number":
        try:
            ok = not isinstance(value, bool) and float(value) >= 0
        except (TypeError, ValueError):
            ok = False
        return None if ok else "must be a number >= 0"
    if kind == "int":
        try:
            ok = not isinstance(value, (bool, float)) and int(value) >= 0
        except (TypeError, ValueError):
            ok = False
        return None if ok else "must be a whole number >= 0"
    if kind == "bool":
        ok = isinstance(value, bool) or (text and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"})
        return None if ok else "must be true or false"
    if kind == "str":
        return None if text else "must be a string"
    if kind == "strings":
        ok = text or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        return None if ok else "must be a list of strings"
    if kind == "table":
        return None if isinstance(value, Mapping) or text else "must be a table"
    return None


def _source_problems(config: SourceConfig, named: frozenset[str], role: str | None = None) -> list[str]:
    """``role``: what a municipality uses the source as (``zaken`` for ``zaken_0998``), whose keys it may hold."""
    declared = role or config.name
    if declared not in _sources and config.name not in named:
        if role is not None:
            return []  # the municipality's table says the role is unknown
        known = sorted({*_sources, *named})
        hint = _suggest(config.name, known) or f"; known: {', '.join(known)}"
        return [f"unknown source {config.name!r}{hint}"]
    where = f"[sources.{config.name}]"
    problems: list[str] = []
    scheme = _schemes.get(config.auth)
    if scheme is None:
        problems.append(f"{where} unknown auth {config.auth!r}{_suggest(config.auth, _schemes)}; "
                        f"one of {', '.join(sorted(_schemes))}")
    chosen = scheme[0] if scheme else frozenset()
    allowed: dict[str, Kind] = {**_source_keys, **_sources.get(declared, {}), **dict.fromkeys(chosen, "str")}
    others = frozenset().union(*(keys for keys, _ in _schemes.values())) - allowed.keys()
    for key, value in config.options.items():
        if key.startswith(DEMO_PREFIX):
            continue
        kind = allowed.get(key)
        if kind is None and key in others:
            if scheme is not None:
                reads = f"; it reads {', '.join(sorted(chosen))}" if chosen else ""
                problems.append(f"{where} {key!r} is not read by auth = {config.auth!r}{reads}")
        elif kind is None:
            secrets = [f"{k}_file" for k in chosen & SECRET_KEYS]
            problems.append(f"{where} unknown key {key!r}{_suggest(key, [*allowed, *secrets])}")
        elif (wrong := _type_problem(kind, value)) is not None:
            problems.append(f"{where} {key} {wrong}")
    for key in sorted(scheme[1] if scheme else ()):
        if not config.options.get(key):
            also = f" (or {key}_file)" if key in SECRET_KEYS else ""
            problems.append(f"{where} auth = {config.auth!r} needs {key}{also}")
    if not problems:
        problems += _run(_source_checks, config)
    return problems


def _run(checks: Iterable[Callable[[Any], object]], config: Any) -> list[str]:
    """The problems the readers raise: they assume known keys of the right kinds, so they run after those."""
    problems: list[str] = []
    for check in checks:
        try:
            check(config)
        except ConfigError as exc:
            problems += exc.problems
        except ValueError as exc:  # graph.limits speaks ValueError
            problems.append(str(exc))
    return problems


def _gateway_problems(options: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    flattened = sorted(_gateway_tables, key=len, reverse=True)  # response_cache_ before cache_ … longest first
    for key, value in options.items():
        if key in _gateway_keys:
            kind = _gateway_keys[key]
            keys = _gateway_tables.get(key) if kind == "table" else None
            if kind == "table" and not isinstance(value, Mapping):
                problems.append(f"[gateway.{key}] must be a table")
            elif kind == "table" and keys is not None:
                problems += [f"[gateway.{key}] unknown key {k!r}{_suggest(k, keys)}" for k in value if k not in keys]
            elif (wrong := _type_problem(kind, value)) is not None:
                problems.append(f"[gateway] {key} {wrong}")
            continue
        table = next((t for t in flattened if key.startswith(t + "_")), None)
        if table is not None:  # from GEMEENTEGRAAF_GATEWAY_<TABLE>_<KEY>
            keys, inner = _gateway_tables[table], key[len(table) + 1 :]
            if keys is not None and inner not in keys:
                problems.append(f"[gateway.{table}] unknown key {inner!r}{_suggest(inner, keys)}")
            continue
        problems.append(f"[gateway] unknown key {key!r}{_suggest(key, _gateway_keys)}")
    return problems


def problems_of(config: GatewayConfig, skip: Iterable[str] = ()) -> list[str]:
    """Every problem of ``config`` against the declarations, one line each (an empty list: it can be served).
    Runs the declared readers too, so a bad value in one table does not hide another table's; ``skip`` names
    ``[gateway.<table>]`` readers not to run (a test's app given its own authenticator needs no auth table)."""
    notifications = config.options.get("notifications", {})
    named = frozenset({str(notifications["source"])} if isinstance(notifications, Mapping)
                      and isinstance(notifications.get("source"), str) else ())
    named |= {str(v) for k, v in config.options.items() if k == "notifications_source"}
    problems = _gateway_problems(config.options)
    roles: dict[str, str] = {}
    for municipality in config.municipalities.values():
        for role, name in municipality.sources.items():
            roles.setdefault(name, role)
            if role not in _sources:
                problems.append(f"[municipalities.{municipality.code}.sources] unknown role {role!r}"
                                f"{_suggest(role, _sources) or '; known: ' + ', '.join(sorted(_sources))}")
    for source in config.sources.values():
        problems += _source_problems(source, named, roles.get(source.name))
    said = {p.split("]", 1)[0] + "]" for p in problems} | {f"[gateway.{t}]" for t in skip}
    problems += _run([c for t, c in _checks if f"[gateway.{t}]" not in said], config)
    return list(dict.fromkeys(problems))


def validate(config: GatewayConfig, skip: Iterable[str] = ()) -> None:
    """Raises one ``ConfigError`` holding every problem, or returns: call it once every module is imported."""
    problems = problems_of(config, skip)
    if problems:
        raise ConfigError(*problems)


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
        shown = {k: ("***" if k.removeprefix(DEMO_PREFIX) in SECRET_KEYS else v) for k, v in self.options.items()}
        return f"SourceConfig(name={self.name!r}, url={self.url!r}, auth={self.auth!r}, options={shown!r})"


@dataclass(frozen=True, slots=True)
class MunicipalityConfig:
    """One ``[municipalities.<code>]`` table: ``sources`` maps a role (``zaken``) to a ``[sources.<name>]``."""

    code: str
    naam: str
    sources: Mapping[str, str] = field(default_factory=dict)


class SourceTables(dict[str, SourceConfig]):
    """The ``[sources.<name>]`` tables by name, with the municipalities that group them: the source pool
    (``graph.source.Sources.from_config``) is built from this one mapping, so it learns of them here."""

    def __init__(
        self,
        tables: Mapping[str, SourceConfig],
        municipalities: Mapping[str, MunicipalityConfig] | None = None,
        default: str | None = None,
    ) -> None:
        super().__init__(tables)
        self.municipalities: dict[str, MunicipalityConfig] = dict(municipalities or {})
        self.default_municipality = default


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def municipalities(self) -> Mapping[str, MunicipalityConfig]:
        """``[municipalities.<code>]`` by code, in the file's order; empty for a one-municipality gateway."""
        return self.sources.municipalities if isinstance(self.sources, SourceTables) else {}


def load(path: str | Path, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    try:
        with Path(path).open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read it ({exc.strerror})") from None
    # paths in [gateway] (such as verwerkingsactiviteiten) are relative to the file that names them
    raw.setdefault("gateway", {}).setdefault("config_dir", str(Path(path).resolve().parent))
    return from_mapping(raw, os.environ if environ is None else environ)


def from_mapping(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """The configuration from its tables, the environment's values applied; a ``ConfigError`` holds every
    problem of the file's shape (unknown tables, missing URLs, wrong numbers), one line each. Keys are checked
    against their declarations later, by ``validate``, once the modules that declare them are imported."""
    env = environ or {}
    problems = [f"unknown table [{name}]{_suggest(name, TOP_LEVEL)}" for name in raw if name not in TOP_LEVEL]
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
            problems.append(f"[sources.{name}] must be a table")
            continue
        if table.get("demo_only") is True:
            continue  # a host of the simulated municipality that is no source of the gateway (the token issuer)
        entry = dict(table)
        _apply_env(entry, name.upper(), env)
        try:
            sources[name] = _source(name, entry)
        except ConfigError as exc:
            problems += exc.problems
    municipalities, default = _municipalities(raw.get("municipalities", {}), sources, problems)
    try:
        Limits.from_options(gateway)  # [gateway.limits]: refuse a wrong value at start-up, naming the key
    except ValueError as exc:
        problems.append(str(exc))
    port = gateway.pop("port", 8000)
    if _type_problem("int", port) is not None or not 0 < int(port) < 65536:
        problems.append("[gateway] port must be a whole number from 1 to 65535")
    if problems:
        raise ConfigError(*problems)
    return GatewayConfig(host=str(gateway.pop("host", "127.0.0.1")), port=int(port),
                         sources=SourceTables(sources, municipalities, default), options=gateway)


MUNICIPALITY_KEYS = ("naam", "sources")


def _municipalities(
    raw: Any, sources: Mapping[str, SourceConfig], problems: list[str]
) -> tuple[dict[str, MunicipalityConfig], str | None]:
    """``[municipalities]``: each ``[municipalities.<code>]`` checked (a CBS gemeentecode, a name, sources that
    exist); problems are appended one line each. Roles are checked by ``validate``, once they are declared."""
    if not isinstance(raw, Mapping):
        problems.append("[municipalities] must be a table of [municipalities.<gemeentecode>] tables")
        return {}, None
    found: dict[str, MunicipalityConfig] = {}
    default = raw.get("default")
    for code, table in raw.items():
        if code == "default":
            continue
        where = f"[municipalities.{code}]"
        if not isinstance(table, Mapping):
            problems.append(f"{where} must be a table (naam, sources)")
            continue
        if not (len(code) == 4 and code.isdigit()):
            problems.append(f"{where} {code!r} is not a CBS gemeentecode (four digits, such as '0363')")
        problems += [f"{where} unknown key {k!r}{_suggest(k, MUNICIPALITY_KEYS)}" for k in table
                     if k not in MUNICIPALITY_KEYS]
        naam = table.get("naam")
        if not isinstance(naam, str) or not naam.strip():
            problems.append(f"{where} naam is missing (the municipality's name)")
        roles = table.get("sources", {})
        if not isinstance(roles, Mapping) or not roles or not all(isinstance(v, str) for v in roles.values()):
            problems.append(f"{where} sources must be a table of roles to source names (zaken = \"zaken_{code}\")")
            roles = {}
        for role, name in roles.items():
            if isinstance(name, str) and name not in sources:
                close = difflib.get_close_matches(name, list(sources), n=1, cutoff=0.85)  # zaken_0998 is close
                hint = f" (did you mean {close[0]!r}?)" if close else f"; no [sources.{name}] table"  # to signalen_0998
                problems.append(f"[municipalities.{code}.sources] {role} = {name!r}: unknown source{hint}")
        found[code] = MunicipalityConfig(code, str(naam or "").strip(), {str(k): str(v) for k, v in roles.items()})
    if default is not None and (not isinstance(default, str) or default not in found):
        problems.append(f"[municipalities] default = {default!r} is not one of the municipalities "
                        f"({', '.join(found) or 'none'})")
        default = None
    return found, default


def _apply_env(entry: dict[str, Any], table: str, env: Mapping[str, str]) -> None:
    prefix = f"{ENV_PREFIX}{table}_"
    for var, value in env.items():
        if var.startswith(prefix):
            entry[var[len(prefix) :].lower()] = value


def read_secret_files(table: str, entry: dict[str, Any], secrets: frozenset[str] = SECRET_KEYS) -> None:
    """``<secret>_file = "/run/secrets/…"`` puts the file's content in ``<secret>`` (Docker and Kubernetes
    mount secrets as files), so no secret needs to stand in the configuration or the environment. ``table``
    names where the entry stands (``sources.brp``), for the error."""
    for key in [k for k in entry if k.endswith("_file") and k[: -len("_file")] in secrets]:
        path = entry.pop(key)
        try:
            entry[key[: -len("_file")]] = Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"[{table}] {key}: cannot read {path} ({exc.strerror})") from None


def _source(name: str, entry: dict[str, Any]) -> SourceConfig:
    """One source's table; a ``ConfigError`` holding every problem of its required values."""
    where, problems = f"[sources.{name}]", []
    url = entry.pop("url", None)
    if url is None:
        problems.append(f"{where} url is missing (the source's base URL, http:// or https://)")
    elif not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.append(f"{where} url must be an http(s) URL")
    timeout_s, max_concurrency = entry.pop("timeout_s", 10.0), entry.pop("max_concurrency", 10)
    if _type_problem("number", timeout_s) or float(timeout_s) == 0:
        problems.append(f"{where} timeout_s must be a number > 0 (seconds)")
    if _type_problem("int", max_concurrency) or int(max_concurrency) < 1:
        problems.append(f"{where} max_concurrency must be a whole number >= 1")
    auth = entry.pop("auth", "none")
    if not isinstance(auth, str):
        problems.append(f"{where} auth must be a string")
    public = entry.get("public_urls", [])
    listed = public.split(",") if isinstance(public, str) else public
    if not isinstance(listed, list) or not all(
        isinstance(u, str) and u.strip().startswith(("http://", "https://")) for u in listed
    ):
        problems.append(f"{where} public_urls must be a list of http(s) URL prefixes")
    try:
        read_secret_files(f"sources.{name}", entry)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(*problems)
    return SourceConfig(
        name=name,
        url=str(url).rstrip("/"),
        auth=str(auth),
        timeout_s=float(timeout_s),
        max_concurrency=int(max_concurrency),
        options=entry,
    )
