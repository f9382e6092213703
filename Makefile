# Two entry points for a fresh machine (Python >= 3.11):
#   make app    install what serving needs (no torch) and run the app on http://127.0.0.1:7860
#   make test   install everything (torch 2.13.0 CPU, onnx, test tools) and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: app test clean

app: $(VENV)/.serve-installed
	$(BIN)/drugresponse serve

test: $(VENV)/.dev-installed examples/node/node_modules/.installed
	$(BIN)/python -m pytest

$(VENV)/.serve-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,dev]'
	touch $@ $(VENV)/.serve-installed

# onnxruntime-node for the cross-runtime check; its install script downloads extra binaries the CPU
# build does not need, hence --ignore-scripts. Without npm the Node.js test is skipped.
examples/node/node_modules/.installed: examples/node/package.json examples/node/package-lock.json
	if command -v npm >/dev/null; then cd examples/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; fi
	mkdir -p examples/node/node_modules && touch $@

clean:
	rm -rf $(VENV) examples/node/node_modules test-artifacts
