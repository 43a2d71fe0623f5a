"""The ``gemeentegraaf`` command as operators run it: a bad configuration is one line per problem, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMMAND = str(Path(sys.executable).parent / "gemeentegraaf")  # the installed entry point, as operators run it

BAD = """
[gateway.auth]
anonymous = true

[sources.brpp]
url = "http://127.0.0.1:9/brp"

[sources.brp]
url = "http://127.0.0.1:9/brp"
auth = "magic"
timeout = 5
retries = "many"
"""

GOOD = """
[gateway.auth]
anonymous = true

[sources.brp]
url = "http://127.0.0.1:9/brp"
auth = "api-key"
key = "k"
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # help text unwrapped
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=60, env=env)


def test_serve_refuses_a_bad_configuration_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(BAD)
    for command in ("serve", "check"):
        done = run(command, "--config", str(config))
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines() == [
            f"{config}: unknown source 'brpp' (did you mean 'brp'?)",
            f"{config}: [sources.brp] unknown auth 'magic'; one of api-key, bearer, caller-session, cookie, none, "
            "oauth2-client-credentials, token, zgw-jwt",
            f"{config}: [sources.brp] unknown key 'timeout' (did you mean 'timeout_s'?)",
            f"{config}: [sources.brp] retries must be a whole number >= 0",
        ]


def test_serve_names_a_missing_url(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(GOOD.replace('url = "http://127.0.0.1:9/brp"\n', ""))
    done = run("serve", "--config", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"{config}: [sources.brp] url is missing (the source's base URL, http:// or https://)"


def test_check_tries_every_source(tmp_path: Path) -> None:
    config = tmp_path / "good.toml"
    config.write_text(GOOD)  # port 9 (discard) answers nothing on 127.0.0.1
    done = run("check", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [f"{config}: configuration is valid", "  brp                  NOT reachable: "
                                        "cannot be reached"]


def test_help_shows_the_tables() -> None:
    done = run("serve", "--help")
    assert "[gateway]" in done.stdout and "[sources.<name>]" in done.stdout
