# churnlab — two commands: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/sample/accounts.parquet

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format lab sample browser postgres java clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the package metadata changes: a rerun with nothing changed is quick.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name churnlab --display-name "churnlab (Python 3.11)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install churnlab with its dependencies

$(SAMPLE): $(STAMP)
	$(BIN)/churnlab sample

sample: $(STAMP)  ## (re)generate the built-in sample data under data/sample
	$(BIN)/churnlab sample

demo: $(SAMPLE)  ## set up, generate the sample data and run the main job (prints the report's path)
	$(BIN)/churnlab validate
	$(BIN)/churnlab run

browser:  ## install headless Chromium + ChromeDriver and a Japanese font (Debian packages) when missing
	@bash scripts/ensure-chromium.sh
	@bash scripts/ensure-cjk-font.sh

postgres:  ## install Debian's PostgreSQL server when missing (the export tests start their own)
	@bash scripts/ensure-postgres.sh

java:  ## install Debian's default-jre-headless when no Java 17+ is found (Spark, features.engine: spark)
	@bash scripts/ensure-java.sh

test: $(STAMP) browser postgres java  ## set up and run lint + the test suite
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

lab: $(STAMP)  ## open JupyterLab at the project root (params.yaml, reports/), notebooks/ first
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root)

clean:  ## remove the virtual environment (data and reports are kept)
	rm -rf $(VENV)
