# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
ifndef PYTHON
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin
# GraphiQL and what it runs on, pinned in the lock and served by the gateway itself (python -m graph.assets)
ASSETS := graph/static/vendor/.installed
SETUP := $(BIN)/gemeentegraaf $(ASSETS)

.PHONY: demo sources test lint schema clean

$(BIN)/gemeentegraaf: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# fetched from the npm registry (or $$npm_config_registry) without Node, each tarball checked against its pin
$(ASSETS): graph/static/assets.lock.json $(BIN)/gemeentegraaf
	$(BIN)/python -m graph.assets
	@touch $@

demo: $(SETUP)
	$(BIN)/gemeentegraaf demo

sources: $(SETUP)
	$(BIN)/gemeentegraaf sources

lint: $(SETUP)
	$(BIN)/ruff check .
	$(BIN)/mypy graph resolvers schema demo

test: lint
	$(BIN)/python -m pytest -q

# The composer and router tests/gateway/test_federation.py runs (pinned, npm ci), installed when npm is here;
# without Node that one test skips, saying why.
FEDERATION_PEERS := $(if $(shell command -v npm 2>/dev/null),tests/federation/node_modules/.installed)
test: $(FEDERATION_PEERS)

tests/federation/node_modules/.installed: tests/federation/package.json tests/federation/package-lock.json
	cd tests/federation && npm ci --no-audit --no-fund
	@touch $@

schema: $(SETUP)
	$(BIN)/gemeentegraaf export-schema > schema.graphql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info graph/static/vendor

# Speed, as ratios against a hand-written minimum over the demo sources (bench/README.md); about 2.5 minutes.
.PHONY: bench
bench: $(SETUP)
	$(BIN)/python -m bench.run

# Side by side with Hive Gateway and Tailcall (bench/PEERS.md): installs wrk and the pinned peers (npm ci), about
# 8 minutes; `make bench-peers PEERS_ARGS=--quick` for a 2-minute run.
.PHONY: bench-peers
bench-peers: $(SETUP) bench/gateways/node_modules/.installed
	command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.peers $(PEERS_ARGS)

bench/gateways/node_modules/.installed: bench/gateways/package.json bench/gateways/package-lock.json
	cd bench/gateways && npm ci --no-audit --no-fund
	@touch $@

# The issue's performance targets P3, P5, P6 and P7, Gemeentegraaf alone (bench/README.md): about 13 minutes, ten of
# them the P5 soak; `make bench-targets TARGETS_ARGS=--quick` about 2.5. Installs wrk, and matplotlib for the RSS chart.
.PHONY: bench-targets
bench-targets: $(SETUP)
	command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.targets $(TARGETS_ARGS)

# The image's Python packages (docker/): pinned with hashes from pyproject's dependencies, by the image's Python.
# pip-tools runs from a throwaway venv, so neither .venv nor pyproject needs it. Pins stay as they are unless a
# dependency needs otherwise; `make lock LOCK_ARGS=--upgrade` moves every pin to the newest allowed release.
LOCK_PYTHON ?= python3.11
.PHONY: lock docker-check
lock:
	@tools=$$(mktemp -d) && trap 'rm -rf "$$tools"' EXIT && \
	$(LOCK_PYTHON) -m venv "$$tools" && "$$tools/bin/pip" install --quiet 'pip-tools>=7.4' && \
	CUSTOM_COMPILE_COMMAND="make lock" "$$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
		--strip-extras --build-deps-for wheel --no-emit-index-url --no-emit-find-links \
		$(LOCK_ARGS) --output-file docker/requirements.lock pyproject.toml

# The Dockerfile's install steps in a clean venv (no Docker engine needed); about half a minute.
docker-check:
	PYTHON=$(LOCK_PYTHON) bash docker/verify.sh
