# Entry points for a fresh machine with Python 3.11 and pip.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
DEMO_DIR ?= demo/dagster-crypto-data
DEMO_DAY ?= 2024-01-02
BENCH_ROWS ?= 1000000
BENCH_REPEATS ?= 5
export UV_CACHE_DIR ?= $(CURDIR)/.cache/uv

.PHONY: bootstrap browser demo test lint bench screenshots dev-render clean

bootstrap:  ## install uv (if missing) and the template's own tooling
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.13,<0.14"
	$(UV) sync --locked --quiet

demo: bootstrap  ## scaffold the default project, materialize one day offline, show where the data is
	rm -rf $(DEMO_DIR)
	$(UV) run copier copy --trust --defaults --vcs-ref HEAD . $(DEMO_DIR)
	cd $(DEMO_DIR) && $(UV) sync --quiet && $(UV) run python -m dagster_crypto_data.demo --date $(DEMO_DAY)

browser:  ## Debian's Chromium for the UI test (Playwright drives it; it downloads no browser)
	@command -v chromium >/dev/null 2>&1 || { \
		[ "$$(id -u)" = 0 ] || { echo "chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 2; }; \
		apt-get update -qq && apt-get install -y -qq chromium; }

test: lint browser  ## every test: template checks, renders of each answer set and their own suites
	$(UV) run pytest -n 2 --dist loadgroup tests

lint: bootstrap  ## ruff on the template's own Python (tests, hooks, benchmarks)
	$(UV) run ruff check . && $(UV) run ruff format --check .

bench: bootstrap  ## IO managers against their peers: writes benchmarks/results.json, docs/performance.md
	$(UV) run python -m benchmarks.run --rows $(BENCH_ROWS) --repeats $(BENCH_REPEATS)

screenshots: bootstrap browser  ## the UI test in headless Chromium; copies its screenshots into docs/images/ and template/docs/images/
	UPDATE_SCREENSHOTS=1 $(UV) run pytest -p no:xdist tests/test_ui_charts.py

dev-render: bootstrap  ## render the working tree with defaults into DEST (keeps DEST/.venv)
	@test -n "$(DEST)" || (echo "usage: make dev-render DEST=/tmp/render" && exit 2)
	$(UV) run copier copy --trust --defaults --overwrite --vcs-ref HEAD . $(DEST)
	cd $(DEST) && $(UV) sync --quiet

clean:
	rm -rf demo .cache build
