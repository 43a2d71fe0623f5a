"""The image and the compose file, checked without a Docker engine: what they name exists, the gateway really
uses Redis, the image runs as a user without privileges and installs only the hashed lock, and that lock
still covers pyproject's dependencies. ``docker/verify.sh`` runs the image's install steps themselves."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from graph.cache import cache_settings
from graph.config import load

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
LOCK = DOCKER / "requirements.lock"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]  # type: ignore[no-any-return]


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text(encoding="utf-8"))
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(dockerfile):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def python_one_liner(test: list[str]) -> str:
    """The code of a ``["CMD", "python", "-c", code]`` health check."""
    assert test[:3] == ["CMD", "python", "-c"], test
    return test[3]


def pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of the lock."""
    found: dict[str, tuple[str, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text(encoding="utf-8")):
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if match:
            found[canonicalize_name(match[1])] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return found


# -- compose ------------------------------------------------------------------------------------------------

REPLICAS = ("gateway-a", "gateway-b")


def check_compose() -> Any:
    """docker/check_compose.py, the check `make docker-check` runs, as a module."""
    spec = importlib.util.spec_from_file_location("check_compose", DOCKER / "check_compose.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compose_runs_two_gateway_replicas_a_proxy_the_demo_sources_and_redis() -> None:
    assert {*REPLICAS, "proxy", "sources", "redis"} <= set(services())
    assert sorted(check_compose().replicas(compose())) == sorted(REPLICAS)


@pytest.mark.parametrize("name", [*REPLICAS, "sources"])
def test_compose_builds_from_files_that_exist(name: str) -> None:
    build = services()[name]["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).is_file()


@pytest.mark.parametrize("name", [*REPLICAS, "proxy"])
def test_what_compose_mounts_exists(name: str) -> None:
    for volume in services()[name].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):  # a bind mount; the rest are named volumes
            assert (COMPOSE.parent / source).is_file(), volume
        else:
            assert source in compose().get("volumes", {}), volume


def test_every_service_has_a_health_check_and_each_waits_for_what_it_needs() -> None:
    for name, service in services().items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        test = service["healthcheck"]["test"]
        if test[1] == "python":
            compile(python_one_liner(test), f"{name} healthcheck", "exec")
    for name in REPLICAS:
        depends = services()[name]["depends_on"]
        assert depends == {"sources": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
        assert "/ready" in python_one_liner(services()[name]["healthcheck"]["test"])
    assert services()["proxy"]["depends_on"] == {name: {"condition": "service_healthy"} for name in REPLICAS}


def test_the_compose_check_passes() -> None:
    """Each replica really uses Redis (the gateway's own configuration code on the mounted file and the
    service's environment), listens on a port of its own, and the proxy sends to exactly those ports."""
    assert check_compose().problems(compose(), DOCKER) == []


@pytest.mark.parametrize("name", REPLICAS)
def test_each_replica_uses_redis_and_runs_several_workers(name: str) -> None:
    check = check_compose()
    config, environment = check.configuration(services()[name], DOCKER)
    settings = cache_settings(config, environ=environment)
    assert settings.backend == "redis"
    assert re.match(r"redis://([^:/]+)", settings.url)[1] in services()  # type: ignore[arg-type, index]
    command = services()[name]["command"]
    assert int(check.option(command, "--workers")) > 1  # serve refuses that without Redis: it is shared
    mounts = {v.split(":")[1] for v in services()[name]["volumes"]}
    assert (Path(check.option(command, "--config")).parent / "verwerkingsactiviteiten.toml").as_posix() in mounts


@pytest.mark.parametrize("broken", ["memory", "not-serving", "same-port"])
def test_the_compose_check_finds_a_replica_left_out(broken: str) -> None:
    """What the check is for: a replica that would keep its own cache and limits, or that no request reaches."""
    altered = copy.deepcopy(compose())
    replica = altered["services"][REPLICAS[1]]
    if broken == "memory":
        replica["environment"]["GEMEENTEGRAAF_GATEWAY_CACHE_BACKEND"] = "memory"
    elif broken == "same-port":
        replica["environment"]["GEMEENTEGRAAF_GATEWAY_PORT"] = services()[REPLICAS[0]]["environment"][
            "GEMEENTEGRAAF_GATEWAY_PORT"]
    else:
        altered["services"][REPLICAS[1]] = {**replica, "command": ["gemeentegraaf", "sources"]}
    assert check_compose().problems(altered, DOCKER)


def test_the_proxy_reaches_both_replicas_where_clients_and_the_callback_reach_it() -> None:
    """It shares the sources' network namespace with the replicas, so its port is published there, and it is
    where the Notificaties API calls back: whichever replica answers, the one abonnement serves them all."""
    assert services()["proxy"]["network_mode"] == "service:sources"
    nginx = (DOCKER / "nginx.conf").read_text(encoding="utf-8")
    ports = {int(services()[name]["environment"]["GEMEENTEGRAAF_GATEWAY_PORT"]) for name in REPLICAS}
    assert len(ports) == 2 and set(check_compose().upstream_ports(nginx)) == ports
    demo = load(ROOT / "demo" / "gemeentegraaf.toml", environ={})
    assert any(p.endswith(f":{demo.port}:{demo.port}") for p in services()["sources"]["ports"])
    assert re.search(rf"^\s*listen\s+{demo.port}\s*;", nginx, re.MULTILINE)
    assert f":{demo.port}/" in demo.options["notifications"]["callback_url"]


# -- the Dockerfile -----------------------------------------------------------------------------------------


def test_the_image_is_built_in_two_stages_and_runs_without_privileges() -> None:
    built = stages(DOCKER / "Dockerfile")
    assert len(built) >= 2
    runtime = built[-1]
    users = [args for word, args in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(word == "COPY" and "--from=build" in args for word, args in runtime)
    assert not any(word == "RUN" and "pip install" in args for word, args in runtime)  # nothing resolved there


def test_the_image_installs_only_the_hashed_lock_then_the_project_alone() -> None:
    runs = [args for word, args in instructions(DOCKER / "Dockerfile") if word == "RUN"]
    installs = [shlex.split(args) for args in runs if "pip install" in args]
    first = installs[0]
    assert {"--require-hashes", "--no-deps"} <= set(first)
    assert first[first.index("-r") + 1].endswith("requirements.lock")
    assert all("--no-deps" in args for args in installs)
    assert any("graph.assets" in args for args in runs)  # GraphiQL's files, fetched and verified in the image


def test_graphiql_files_go_into_the_installed_package() -> None:
    """``python -m graph.assets`` run where the sources were copied would import that copy and fill its vendor/,
    which the runtime stage never gets."""
    workdir, sources = "/", None
    for word, args in stages(DOCKER / "Dockerfile")[0]:
        if word == "WORKDIR":
            workdir = args
        if word == "COPY" and args.split()[0] == "graph":
            sources = workdir
        if word == "RUN" and "-m graph.assets" in args:
            assert sources is not None and workdir != sources, f"graph.assets runs in {workdir}, beside the sources"
            return
    pytest.fail("the build stage never runs python -m graph.assets")


def test_the_image_checks_its_health_on_ready() -> None:
    checks = [args for word, args in instructions(DOCKER / "Dockerfile") if word == "HEALTHCHECK"]
    assert len(checks) == 1
    test = json.loads(checks[0][checks[0].index("CMD") + len("CMD") :])
    assert "/ready" in test[2]
    compile(python_one_liner(["CMD", *test]), "HEALTHCHECK", "exec")


def test_what_the_image_copies_exists_and_is_not_ignored() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    ignored -= {""}
    ignored = {line for line in ignored if not line.startswith("#")}
    assert {".venv", ".git", "graph/static/vendor", "tests", "var", "bench", "docs"} <= ignored
    copies = [shlex.split(args) for word, args in instructions(DOCKER / "Dockerfile") if word == "COPY"]
    for args in copies:
        if any(a.startswith("--from=") for a in args):
            continue
        for source in args[:-1]:
            assert (ROOT / source).exists(), source
            assert source not in ignored, source


# -- the lock -----------------------------------------------------------------------------------------------


def test_the_lock_pins_every_dependency_of_pyproject_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pinned = pins()
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]  # the image builds without isolation
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in docker/requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pinned[name][0], prereleases=True), (
            f"{requirement} does not allow the locked {pinned[name][0]}: run `make lock`")
    for locked, (_version, hashes) in pinned.items():
        assert hashes, f"{locked} has no hash in the lock"


def test_the_lock_names_no_index_or_machine_path() -> None:
    text = LOCK.read_text(encoding="utf-8")
    assert not re.search(r"^\s*-(-index-url|-extra-index-url|-find-links|i|f)\b", text, re.MULTILINE)
    assert "file://" not in text
    assert not re.search(r"(?:^|[\s(])/\w", text, re.MULTILINE), "an absolute path: whose machine made the lock?"
