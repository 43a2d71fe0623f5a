#!/usr/bin/env bash
# The image's install steps (docker/Dockerfile) in a clean venv, for machines without a Docker engine: the
# lock with hashes and no dependency resolution, the project with --no-deps, GraphiQL's files fetched and
# verified, then the installed gateway imported and its CLI started, and the compose file checked against the
# gateway's own configuration code (docker/check_compose.py). Exits non-zero at the first failure.
# Usage: docker/verify.sh (PYTHON=python3.11 by default: the image's Python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || { echo "docker/verify.sh: no $PYTHON (the image's Python; set PYTHON)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { printf '== %s (%ss)\n' "$1" $((SECONDS - started)); }

step "venv ($("$PYTHON" -V))"
"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/pip" --quiet --no-cache-dir --disable-pip-version-check)

step "lock, hashes required, no resolution"
"${pip[@]}" install --require-hashes --no-deps -r docker/requirements.lock

step "the project, as the Dockerfile copies it (no tests, no fetched files)"
mkdir "$work/src"
cp pyproject.toml README.md "$work/src/"
tar -cf - --exclude=__pycache__ --exclude='graph/static/vendor' graph resolvers schema demo | tar -xf - -C "$work/src"
"${pip[@]}" install --no-deps --no-build-isolation "$work/src"
"${pip[@]}" uninstall --yes setuptools

step "every installed distribution has what it requires (pip check)"
"$work/venv/bin/pip" check

# from outside the work tree, so only the installed packages can be imported
repo=$(pwd)
cd "$work"
step "browser assets into the installed package"
venv/bin/python -m graph.assets
venv/bin/python -m graph.assets --check

step "import and CLI"
venv/bin/python -c "import graph.app, schema.root, demo.runner"
venv/bin/gemeentegraaf --help >/dev/null

step "compose: both replicas on Redis, the proxy sending to both (docker/check_compose.py)"
venv/bin/python "$repo/docker/check_compose.py" "$repo/docker/compose.yaml"
step "ok"
