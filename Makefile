# The one command surface: people and CI run the same targets.
#   make run    install, create the demo tenants (once), then serve on http://127.0.0.1:8000
#               (embedded PostgreSQL, in-process jobs)
#   make test   install (and Debian's Chromium for the browser tests), then run the tests
#               (embedded PostgreSQL and stub broker unless RENSHI_TEST_POSTGRES / BROKER_URL
#               name real services)

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install browser run test lint format bench worker migrate clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Renshi needs $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/renshi demo --serve --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/renshi worker

migrate: install
	$(BIN)/renshi migrate

# Debian's Chromium for tests/web and redis-server for the fault tests (apt-get as root,
# sudo -n otherwise; fails with the command to run when neither is possible: those tests must
# not be skipped).
browser:
	@scripts/ensure-test-packages

test: install browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m bench.api --json
	$(BIN)/python -m bench.records --json
	$(BIN)/python -m bench.scoring --json
	$(BIN)/python -m bench.matching --json
	$(BIN)/python -m bench.imports --json
	$(BIN)/python -m bench.dashboards --json
	$(BIN)/python -m bench.load --json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
