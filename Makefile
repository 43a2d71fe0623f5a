# The two commands of the README: `make demo` and `make test`. Both set up .venv on first use.
ifndef PYTHON
PYTHON := $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo sources test lint schema clean

$(BIN)/gemeentegraaf: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(BIN)/gemeentegraaf
	$(BIN)/gemeentegraaf demo

sources: $(BIN)/gemeentegraaf
	$(BIN)/gemeentegraaf sources

lint: $(BIN)/gemeentegraaf
	$(BIN)/ruff check .
	$(BIN)/mypy graph resolvers schema demo

test: lint
	$(BIN)/python -m pytest -q

schema: $(BIN)/gemeentegraaf
	$(BIN)/gemeentegraaf export-schema > schema.graphql

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info

# Speed, as ratios against a hand-written minimum over the demo sources (bench/README.md); about 2.5 minutes.
.PHONY: bench
bench: $(BIN)/gemeentegraaf
	$(BIN)/python -m bench.run
