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

.PHONY: run test lint browser bench ui clean

# Installs the platform with the embedded model (llama-cpp-python builds from source the first
# time, about 5 minutes on 2 cores; pip caches the wheel for later installs).
$(BIN)/.run-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local]'
	$(BIN)/python -m compileall -q app chains  # as an installed package is: a quicker start
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

test: $(BIN)/.test-installed browser tests/js/node_modules/.package-lock.json lint
	$(BIN)/python -m pytest

# The JavaScript clients the tests run against the platform (tests/js/package-lock.json);
# Node.js from Debian's packages if the machine has none.
tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

# Overhead, throughput, open streams and model speed next to plain LangServe, LiteLLM
# (installed into bench/.venvs the first time), the bare forwarder and the previous head (the
# commit that last wrote docs/benchmarks.json, from a git worktree); writes docs/benchmarks.md.
# About 12 minutes.
bench: $(BIN)/.bench-installed
	@command -v wrk >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m bench.run

# The console's browser libraries (Chart.js, marked, DOMPurify), from ui/package-lock.json into
# app/console/vendor/ with their checksums in ui/vendor.sha256. Needs Node; `make run` does not:
# the copied files are committed, and a test checks them against the lockfile.
UI_FILES := chart.js/dist/chart.umd.min.js marked/lib/marked.umd.js dompurify/dist/purify.min.js
ui:
	cd ui && npm ci --no-audit --no-fund
	mkdir -p app/console/vendor
	for file in $(UI_FILES); do cp ui/node_modules/$$file app/console/vendor/; done
	cd app/console/vendor && sha256sum $(notdir $(UI_FILES)) > ../../../ui/vendor.sha256

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
