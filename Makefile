# Two commands for a fresh machine: `make run` (the dashboard) and `make test`.
# Both create .venv (if missing) and install mailplan into it with every extra and its dev
# tools. `make test` is what CI runs (.ci/run): lint, type-check, the whole suite. `make unit`
# runs the tests that need nothing outside Python: not the ones marked `peers` (Postfix,
# Dovecot, swaks, msmtp, fetchmail, mpop, pdftotext) or `browser` (Chromium).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The suite runs on this many processes (pytest-xdist); tests wait for conditions and take
# free ports, so they run side by side. WORKERS=0 runs it in one process.
WORKERS ?= 2
XDIST := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist worksteal)

.PHONY: install run test lint typecheck unit suite clean

# uv installs the same packages from the same index as pip, in parallel: about 30 s against
# pip's 70 s here. Byte-code is compiled at install time, as pip does, so a test importing a
# package never compiles it under the suite's warnings-as-errors.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --browser.gatherUsageStats false

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest $(XDIST) -m 'not peers and not browser'

suite: $(STAMP)
	$(BIN)/pytest $(XDIST)

test: lint typecheck suite

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache .hypothesis
