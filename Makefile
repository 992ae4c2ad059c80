# Each target bootstraps .venv itself: a fresh machine needs only python3, pip and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: report test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,plot]'
	touch $(STAMP)

## report: verify every derivation, print the summary, write build/derivations.{tex,md}
report: $(STAMP)
	$(BIN)/verigrad report -o build

## test: the whole test suite (HYPOTHESIS_PROFILE=ci for the CI profile)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## lint: ruff (check and format) and mypy on numeric
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy numeric

## bench: speed and accuracy comparisons (PyTorch optional)
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis
