# Two entry points for a fresh machine (Python >= 3.11):
#   make app    install what serving needs (no torch) and run the app on http://127.0.0.1:7860
#   make test   install everything (torch 2.13.0 CPU, onnx, Ray, test tools) and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 7860

.PHONY: app test clean

app: $(VENV)/.serve-installed
	$(BIN)/drugresponse serve --port $(PORT)

test: $(VENV)/.dev-installed examples/node/node_modules/.installed examples/web/node_modules/.installed
	$(BIN)/python -m pytest

$(VENV)/.serve-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,scale,dev]'
	touch $@ $(VENV)/.serve-installed

# onnxruntime-node / onnxruntime-web for the cross-runtime checks; onnxruntime-node's install script downloads
# extra binaries the CPU build does not need, hence --ignore-scripts. Without npm those tests are skipped.
examples/%/node_modules/.installed: examples/%/package.json examples/%/package-lock.json
	if command -v npm >/dev/null; then cd examples/$* && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; fi
	mkdir -p examples/$*/node_modules && touch $@

clean:
	rm -rf $(VENV) examples/node/node_modules examples/web/node_modules examples/web/site test-artifacts
