# Two commands on a fresh machine: `make demo` (the main job on embedded defaults) and `make test`.
# Both create .venv and install mlgate into it first.
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
ENV ?= prod

.PHONY: demo test lint install clean

$(BIN)/mlgate: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/mlgate

demo: install
	$(BIN)/mlgate plan --env $(ENV) --out plan.$(ENV).json
	@if [ -d $(SHARED)/crds ]; then $(BIN)/mlgate validate --env $(ENV) --plan plan.$(ENV).json --crds $(SHARED)/crds; \
	else echo "($(SHARED)/crds not found: skipping CRD validation)"; fi
	@# The example catalog is built so that three prod models fail the gate: exit 1 is the expected
	@# verdict here; only exit 2 (bad input, engine error) fails the demo.
	@code=0; $(BIN)/mlgate check --env $(ENV) --plan plan.$(ENV).json || code=$$?; \
	echo "mlgate check exit code: $$code"; [ $$code -ne 2 ]
	@# The check recorded its run in .mlgate/ledger.db: render it for an auditor and prove the chain holds.
	$(BIN)/mlgate report --env $(ENV) --out report.$(ENV).pdf
	$(BIN)/mlgate ledger verify

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check compliance components
	$(BIN)/mypy

clean:
	rm -rf $(VENV) plan.*.json report.*.pdf
