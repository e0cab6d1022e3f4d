# The two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
PIP_VERSION := 26.3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export PYTHONPATH := $(CURDIR)

# The lock files (requirements.txt, requirements-dev.txt) pin every package, transitive ones included, to one exact
# version (`name==version`, a line each and nothing else); they are compiled by `make lock` from requirements.in and
# requirements-dev.in, which pin each direct dependency exactly too (an upgrade is an edit there, then `make lock`).
PIP_COMPILE_ARGS := --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-annotate --no-header

.PHONY: run test install install-dev lint lock check-lock bench seed-large clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(FLASK) cms init
	$(FLASK) cms seed
	$(FLASK) run --host 127.0.0.1 --port 5000

lock: install-dev
	$(BIN)/pip-compile $(PIP_COMPILE_ARGS) --output-file requirements.txt requirements.in
	$(BIN)/pip-compile $(PIP_COMPILE_ARGS) --output-file requirements-dev.txt requirements-dev.in

check-lock: install-dev
	LOCK_COMPILER="$(CURDIR)/$(BIN)/pip-compile $(PIP_COMPILE_ARGS)" bash .ci/check-lock

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy cms admin_views worker.py wsgi.py settings.py
	$(BIN)/bandit -q -r cms admin_views worker.py -ll

test: install-dev lint
	bash .ci/test-tools
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# `make bench` runs every benchmark; `make bench BENCH=console` (or BENCH="console public_pages") only those.
bench: install-dev
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python benchmarks/run.py $(BENCH)

seed-large: install
	$(FLASK) cms init
	$(FLASK) cms seed --force --users 10000 --posts 20000 --comments 1000000 --follows 50000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
