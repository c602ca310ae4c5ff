# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11+ and make needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install bench clean demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Install if needed, migrate, start gateway, registry and scheduler (Ctrl-C stops all).
run: $(STAMP)
	$(BIN)/safework up

## Demo data for a newcomer: a small synthetic province (seed 1), then `make run` to explore it.
demo: $(STAMP)
	$(BIN)/safework seed --people 2000 --enterprises 40 --seed 1

## Install if needed, then lint, type-check and run the whole suite against real PostgreSQL, one
## pytest-xdist worker per core (PYTEST_XDIST= runs it in one process); prints the elapsed time
## and the CPU time (user, sys) the commands took. Bytecode is written even where the environment
## says not to (PYTHONDONTWRITEBYTECODE=1 in some CI images): the xdist workers and the service
## processes the tests start then read what the first compiled, and pytest's rewritten tests too.
## mypy runs beside pytest (its output printed at the end; either failing fails the target): the
## suite leaves a core idle much of the time, waiting on the processes and servers tests start.
PYTEST_XDIST ?= -n auto --dist loadfile
test: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/ruff check services tests bench migrations || exit 1; \
	typing=$$(mktemp); $(BIN)/mypy > $$typing 2>&1 & mypy=$$!; \
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS); status=$$?; \
	wait $$mypy; typed=$$?; echo "mypy:"; cat $$typing; rm -f $$typing; \
	if [ $$status -eq 0 ]; then status=$$typed; fi; \
	echo "make test: $$(( $$(date +%s) - start )) s elapsed; CPU time (user sys) of make's shell, then of the commands:"; \
	times; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check services tests bench migrations
	$(BIN)/ruff format --check services tests bench migrations
	$(BIN)/mypy

## Benchmarks: `make bench` for all, `make bench QUICK=1` for a seconds-long smoke run.
bench: $(STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
