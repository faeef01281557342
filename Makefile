# Two entry points: `make plan STACK=dev` and `make test`. Both create ./venv when missing.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
# Flask AppBuilder of the Airflow 2 image, apart from the venv's (tests/test_sso_app.py).
FAB_AIRFLOW2 := $(VENV)/fab-airflow2
STACK ?= dev
PLAN_JSON ?=
PACK_CONFIG ?=

.PHONY: install plan test lint typecheck unit clean

$(BIN)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(FAB_AIRFLOW2)/.installed: requirements-fab-airflow2.txt $(BIN)/.installed
	$(BIN)/python -m pip install --quiet --target $(FAB_AIRFLOW2) -r requirements-fab-airflow2.txt
	touch $@

install: $(BIN)/.installed $(FAB_AIRFLOW2)/.installed

plan: $(BIN)/.installed
	$(BIN)/python -m tools.plan --stack $(STACK) $(if $(PLAN_JSON),--json $(PLAN_JSON)) \
		$(if $(PACK_CONFIG),--pack-config $(PACK_CONFIG))

lint: $(BIN)/.installed
	$(BIN)/ruff check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy .

unit: $(BIN)/.installed $(FAB_AIRFLOW2)/.installed
	$(BIN)/python -m pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
