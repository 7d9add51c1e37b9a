# Two commands matter: `make demo` and `make test`. Both create .venv when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest's exit status is kept in $(VENV)/.pytest-exit so that .ci/run can tell
# "no tests collected" (5) from a failure. Two pytest-xdist workers; the tests that
# measure real time across processes keep to one of them (tests/conftest.py).
unit: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup; status=$$?; echo $$status > $(VENV)/.pytest-exit; exit $$status

bench-smoke: $(STAMP)
	$(BIN)/python -m benchmarks journal --smoke

demo: $(STAMP)
	$(BIN)/automations demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
