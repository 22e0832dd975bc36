# Two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= out/demo
FIXDATA := tests/data/fix

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lpscore ingest \
		$(FIXDATA)/fix-moex-uat-pashenkogleb/*.log \
		$(FIXDATA)/fix-fixsim-quantifeed-joannazhx/FIX.09-Jan-2018.log \
		--quotes tests/data/quotes/AMZN_2012-06-21_34200000_57600000_message_1.csv \
		--out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fix_ingest.py --write-results

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
