# Two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= out/demo
FIXDATA := tests/data/fix
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo: four LPs trading AMZN against the real LOBSTER book (a log our generator wrote,
# tests/data/fix/generated/PROVENANCE.md) plus the real Moscow Exchange UAT logs (rejects,
# session rejects, clock skew); KPIs per LP, files and an HTML report under $(DEMO_OUT); then
# the four AMZN LPs ranked under the block profile (docs/scoring.md); then a 20,000-share buy
# routed on those scores, split across the top three (docs/routing.md); the same log through
# the live pipeline, scored incrementally (docs/stream.md); then the ACME
# scenario through the closed loop (router -> FIX -> simulated LPs -> scorecard -> router),
# the scorecard of that simulated session, and routing policies compared on the same seeds
# (docs/simulator.md).
demo: $(STAMP)
	$(BIN)/lpscore kpis \
		$(FIXDATA)/generated/demo-amzn-lps.log \
		$(FIXDATA)/fix-moex-uat-pashenkogleb/*.log \
		--quotes tests/data/quotes/AMZN_2012-06-21_34200000_57600000_message_1.csv \
		--out $(DEMO_OUT) --html
	$(BIN)/lpscore score $(FIXDATA)/generated/demo-amzn-lps.log \
		--quotes tests/data/quotes/AMZN_2012-06-21_34200000_57600000_message_1.csv \
		--profile block --out $(DEMO_OUT)/score
	$(BIN)/lpscore stream --source file://$(FIXDATA)/generated/demo-amzn-lps.log \
		--quotes tests/data/quotes/AMZN_2012-06-21_34200000_57600000_message_1.csv \
		--profile block --until-idle 1
	$(BIN)/lpscore route $(FIXDATA)/generated/demo-amzn-lps.log \
		--quotes tests/data/quotes/AMZN_2012-06-21_34200000_57600000_message_1.csv \
		--symbol AMZN --side buy --qty 20000 --price 220 --profile block --policy spray \
		--decisions $(DEMO_OUT)/decisions.jsonl
	$(BIN)/lpscore simulate --scenario acme --out $(DEMO_OUT)/sim
	$(BIN)/lpscore score $(DEMO_OUT)/sim/fix.log --quotes $(DEMO_OUT)/sim/quotes.parquet \
		--profile block
	$(BIN)/lpscore bench-routing --scenario default --seeds 4
	@echo "reports: $(DEMO_OUT)/report.html (the bundled logs), $(DEMO_OUT)/sim/kpis/report.html (the simulated session)"
	@echo "console: $(BIN)/lpscore users add admin --role admin --data $(DEMO_OUT)   (asks for a password)"
	@echo "         $(BIN)/lpscore serve --data $(DEMO_OUT) --port 8000   then open http://127.0.0.1:8000/ (docs/console.md)"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck | $(CHROMIUM)
	$(BIN)/pytest -q -n 2

# The console's browser tests drive Debian's chromium (tests/e2e/test_console_browser.py).
# A fresh machine lacks it: installed here when apt-get can (as root, ~20 s); where it
# cannot, those tests skip and say so.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium >/dev/null) || echo "chromium could not be installed: browser tests skip"; \
	else \
		echo "no $(CHROMIUM) and no root apt-get: the browser tests skip"; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fix_ingest.py --write-results
	$(BIN)/python benchmarks/bench_routing.py --write-results

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
