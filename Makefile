# Two commands do everything on a fresh machine:
#   make run   - create .venv, install, start the app on the embedded SQLite default
#   make test  - create/update .venv, lint (architecture rules included), run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements

.PHONY: run test lint venv bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m db init
	$(BIN)/streamlit run app.py

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_scoring.py
	$(BIN)/python bench/bench_storage.py
	$(BIN)/python bench/bench_form.py
	$(BIN)/python bench/bench_analytics.py
	$(BIN)/python bench/bench_exports.py

clean:
	rm -rf $(VENV)
