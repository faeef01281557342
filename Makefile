# Two entry points: `make plan STACK=dev` and `make test`. Both create ./venv when missing.
# `make scan` runs checkov over the rendered release (its own ./venv-scan; README, "Pod security").
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= dev
PLAN_JSON ?=
PACK_CONFIG ?=
SCAN_VENV := venv-scan
SCAN_DIR ?= build/scan

.PHONY: install plan test lint typecheck unit scan clean

$(BIN)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

plan: $(BIN)/.installed
	$(BIN)/python -m tools.plan --stack $(STACK) $(if $(PLAN_JSON),--json $(PLAN_JSON)) \
		$(if $(PACK_CONFIG),--pack-config $(PACK_CONFIG))

lint: $(BIN)/.installed
	$(BIN)/ruff check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy .

unit: $(BIN)/.installed
	$(BIN)/python -m pytest

test: lint typecheck unit

$(SCAN_VENV)/bin/.installed: requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	touch $@

# The release as every supported chart line and stack renders it, through checkov's kubernetes
# framework; fails on a finding tools/scan.py does not accept, or an accepted one that is gone.
scan: $(BIN)/.installed $(SCAN_VENV)/bin/.installed
	rm -rf $(SCAN_DIR)
	$(BIN)/python -m tools.scan render $(SCAN_DIR)/manifests
	$(SCAN_VENV)/bin/checkov --directory $(SCAN_DIR)/manifests --framework kubernetes --skip-download --output json \
		--soft-fail > $(SCAN_DIR)/checkov.json
	$(BIN)/python -m tools.scan report $(SCAN_DIR)/checkov.json

clean:
	rm -rf $(VENV) $(SCAN_VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis
