# The two commands of the README: `make run` and `make test`. Both set up .venv on a fresh machine,
# from the hash-checked lock files (pip-tools): requirements-run.lock for `run`, requirements.lock
# (runtime, [test] and [postgres]) for `test`. `make lock` writes them again from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint setup lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements-run.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-run.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(RUN_STAMP)

# The browser tests drive Debian's chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests (needs root)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

setup: $(STAMP) $(CHROMIUM)

run: $(RUN_STAMP)
	$(BIN)/digest init --demo
	$(BIN)/digest run --host $(HOST) --port $(PORT)

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

# After a change to the dependencies in pyproject.toml; LOCK_FLAGS=--upgrade (or -P NAME) moves pins on.
LOCK_VENV := .venv-lock
LOCK_FLAGS ?=
COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
	--no-emit-find-links $(LOCK_FLAGS)
lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip-tools
	$(COMPILE) --extra test --extra postgres -o requirements.lock pyproject.toml
	$(COMPILE) --constraint requirements.lock -o requirements-run.lock pyproject.toml

clean:
	rm -rf $(VENV) $(LOCK_VENV) var .pytest_cache .ruff_cache
