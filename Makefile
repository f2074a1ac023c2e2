# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-smoke clean services

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[cloud,dev]"
	touch $(STAMP)

install: $(STAMP)

services:
	bash infra/dev/ensure-services.sh

demo: $(STAMP) services
	$(BIN)/vsc up
	$(BIN)/vsc demo

# Three workers on two cores: most tests wait on Temporal, the databases or a child process.
test: $(STAMP) services
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 3

lint: $(STAMP)
	$(BIN)/ruff check workflows activities workers console_api mini_connector sdkgen infra bench tests
	$(BIN)/mypy workflows activities workers console_api mini_connector sdkgen infra

bench: $(STAMP) services
	$(BIN)/python -m bench.run

bench-smoke: $(STAMP) services
	$(BIN)/python -m bench.run --smoke

clean:
	-$(BIN)/vsc down
	rm -rf .vsc
