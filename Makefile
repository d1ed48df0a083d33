# Quick start: `make run` launches wirelab, `make test` runs the whole suite.
# Both create .venv on first use and install the project (editable) into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=
FUZZ_SECONDS ?= 60

.PHONY: run test test-fast lint typecheck unit bench bench-tools fuzz clean test-tools

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "wirelab needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/wirelab $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check simulator tests bench fuzz
	$(BIN)/ruff format --check simulator tests bench fuzz

typecheck: $(STAMP)
	$(BIN)/mypy simulator tests bench fuzz

test-tools:
	@scripts/test-tools

# Two workers: the suite takes about half as long on two cores (about 5 minutes).
unit: $(STAMP) test-tools
	$(BIN)/pytest -n 2

test: lint typecheck unit

# The fast part alone (tests/conftest.py says what is slow): under a minute, for while you work.
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow"

bench-tools:
	@scripts/bench-tools

bench: $(STAMP) bench-tools
	$(BIN)/python bench/echo.py $(ARGS)

# Every fuzz harness (fuzz/README.md) for FUZZ_SECONDS each; findings go to fuzz/crashes/.
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS) $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache fuzz/.work
