# Two commands for a newcomer: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)

.PHONY: demo test lint install install-dev web peers postgres clean

$(BIN)/python:
	@echo "==> making the Python environment $(VENV) (python3 -m venv)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The package and its runtime dependencies: enough for the demo and the live node.
# The tracker's compiled loops (numba) are built once here and cached, not in the first scan.
WARM_UP := $(BIN)/python -c "import luchtwacht.tracking.kernels as k, luchtwacht.tracking.imm_kernels as i; k.warm_up(); i.warm_up()"

$(RUN_STAMP): $(BIN)/python pyproject.toml
	@echo "==> installing Luchtwacht and its pinned dependencies into $(VENV) (pip; 1-3 minutes the first time)"
	$(BIN)/python -m pip install --quiet -e .
	@echo "==> compiling the tracker's kernels (numba; once, a minute or two)"
	$(WARM_UP)
	rm -f $(VENV)/.installed-run-*
	touch $(RUN_STAMP)

# Tests also need the dev tools and the peers they are checked against (Stone Soup).
$(DEV_STAMP): $(BIN)/python pyproject.toml
	@echo "==> installing Luchtwacht with its test tools and Stone Soup into $(VENV) (pip; a few minutes the first time)"
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@echo "==> compiling the tracker's kernels (numba; once, a minute or two)"
	$(WARM_UP)
	rm -f $(VENV)/.installed-dev-* $(VENV)/.installed-run-*
	touch $(DEV_STAMP) $(RUN_STAMP)

# Peers the publishers are tested against, each in a venv of its own (they cannot share one
# with Luchtwacht: asterix-decoder installs an `asterix` package as libasterix does; taky pins
# its own dependencies). The tests start them; `make clean` removes them with .venv.
PEERS := $(VENV)/peers
TAKY_PIN := taky==0.10
ASTERIX_DECODER_PIN := asterix-decoder==0.7.11
PEERS_STAMP := $(PEERS)/.installed-$(shell echo "$(TAKY_PIN) $(ASTERIX_DECODER_PIN)" | sha1sum | cut -c1-12)

$(PEERS_STAMP): $(BIN)/python
	rm -rf $(PEERS)
	$(BIN)/python -m venv $(PEERS)/taky
	$(PEERS)/taky/bin/python -m pip install --quiet $(TAKY_PIN)
	$(BIN)/python -m venv $(PEERS)/asterix-decoder
	$(PEERS)/asterix-decoder/bin/python -m pip install --quiet $(ASTERIX_DECODER_PIN)
	touch $@

peers: $(PEERS_STAMP)

# The operator console's web client: web/ bundled with npm into web/dist (not committed), which
# the console serves at /. Without npm the console serves its API alone.
NPM := $(shell command -v npm 2>/dev/null)
WEB_SOURCES := web/build.mjs $(wildcard web/src/*)

web/node_modules/.ci-stamp: web/package.json web/package-lock.json
	@echo "==> installing the web console's npm packages (pinned by web/package-lock.json)"
	cd web && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: web/node_modules/.ci-stamp $(WEB_SOURCES)
	@echo "==> building the web console (web/dist)"
	cd web && $(NPM) run --silent build

ifdef NPM
web: web/dist/index.html
else
web:
	@echo "npm not found: the console's web client is not built (apt-get install nodejs npm)"
endif

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

# PostgreSQL + PostGIS for the store's integration tests: Debian's server and the PostGIS of its
# version, installed when missing (needs root and apt-get; .ci/postgres). The tests start a
# throwaway cluster on 127.0.0.1 from them and stop it afterwards (tests/pg.py).
postgres:
	.ci/postgres

demo: install web
	@echo "==> starting the demo: open the console URL it prints, Ctrl-C to stop"
	$(BIN)/luchtwacht demo

test: lint web peers postgres
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check src tests bench examples scripts
	$(BIN)/ruff format --check src tests bench examples scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
