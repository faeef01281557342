# Two entry points: `make plan STACK=dev` and `make test`. Both create ./venv when missing.
# `make scan` runs checkov over the rendered release (its own ./venv-scan; README, "Pod security").
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
# Flask AppBuilder of the Airflow 2 image, apart from the venv's (tests/test_sso_app.py).
FAB_AIRFLOW2 := $(VENV)/fab-airflow2
STACK ?= dev
PLAN_JSON ?=
PACK_CONFIG ?=
SCAN_VENV := venv-scan
SCAN_DIR ?= build/scan

.PHONY: install compile plan test lint lint-ci typecheck unit bench scan clean

$(BIN)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# pip --target moves the files after compiling them, so its bytecode is stale on arrival: without
# the compileall, the test's subprocess compiles all of Flask AppBuilder's stack (~3 s) every run.
$(FAB_AIRFLOW2)/.installed: requirements-fab-airflow2.txt $(BIN)/.installed
	$(BIN)/python -m pip install --quiet --target $(FAB_AIRFLOW2) -r requirements-fab-airflow2.txt
	$(BIN)/python -m compileall -q $(FAB_AIRFLOW2)
	touch $@

install: $(BIN)/.installed $(FAB_AIRFLOW2)/.installed

# The project's bytecode, written even where PYTHONDONTWRITEBYTECODE is set: otherwise every
# plan compiles ~400 kB of source before it starts (~0.15 s on a 2-core machine). Quick when
# nothing changed.
compile: $(BIN)/.installed
	$(BIN)/python -m compileall -q airflow_on_k8s components policies tools

plan: $(BIN)/.installed compile
	$(BIN)/python -m tools.plan --stack $(STACK) $(if $(PLAN_JSON),--json $(PLAN_JSON)) \
		$(if $(PACK_CONFIG),--pack-config $(PACK_CONFIG))

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# The workflows (actionlint, with shellcheck on every `run:` step) and the image's Dockerfile.
lint-ci: $(BIN)/.installed
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/actionlint
	$(BIN)/hadolint image/Dockerfile

typecheck: $(BIN)/.installed
	$(BIN)/mypy .

# pytest starts a worker per core (pyproject.toml); each imports the project, so compile it once.
unit: $(BIN)/.installed $(FAB_AIRFLOW2)/.installed compile
	$(BIN)/python -m pytest

test: lint lint-ci typecheck unit

# Not part of `test`: timings on a shared machine are noise, not a pass/fail signal for a PR.
BENCH_STACK ?= prod
bench: $(BIN)/.installed compile
	$(BIN)/python bench/run.py --stack $(BENCH_STACK) $(if $(BENCH_RUNS),--runs $(BENCH_RUNS))

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
