# Two commands do everything on a fresh machine:
#   make run   - create .venv, install, start the app on the embedded SQLite default
#   make test  - create/update .venv, lint (architecture rules included), run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements

.PHONY: run test lint venv bench clean demo

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m db init
	$(BIN)/streamlit run app.py

# A synthetic demo study in $SCALEBOOK_DB (or the default file), then `make run` shows it.
# Prints the demo accounts (demo-only passwords); refuses a database holding other data.
demo: $(STAMP)
	$(BIN)/python -m demo

# Guard rails, each failing the build (tests/test_guard_rails.py plants a violation of each):
#   ruff check          banned imports per folder (streamlit at the edge, SQLite only in db/), style, bugs
#   ruff format --check one layout, so a diff shows what changed and not how it was laid out
#   lint-imports        one-way layers ([tool.importlinter] in pyproject.toml): no upward import
#   mypy                types on the packages ([tool.mypy]): a None or wrong argument found before a user does
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Tests without a browser run on two workers (pytest-xdist: each test has its own database and
# ports); the browser tests run one at a time, since Chromium and the server share the cores.
test: lint
	$(BIN)/python -m pytest -n 2 -m "not browser"
	$(BIN)/python -m pytest -m browser

# Every benchmark in bench/, one table (also bench/report.md); BENCH_QUICK=1 for the short run.
bench: $(STAMP)
	BENCH_QUICK=$(BENCH_QUICK) $(BIN)/python -m bench.report

clean:
	rm -rf $(VENV)
