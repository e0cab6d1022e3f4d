# The two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export PYTHONPATH := $(CURDIR)

.PHONY: run test install install-dev lint bench seed-large clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

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

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy cms

test: install-dev lint
	bash .ci/test-tools
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: install-dev
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python benchmarks/run.py

seed-large: install
	$(FLASK) cms init
	$(FLASK) cms seed --users 10000 --posts 20000 --comments 1000000 --follows 50000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
