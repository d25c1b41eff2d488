# tgo-host — every target does its own set-up from a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
RUN_DIR ?= $(CURDIR)/.run
HTTP ?= 127.0.0.1:8090
# `make run` serves the plugin socket at the path the plugin docs give (the official Go SDK
# dials only that one) when it can — as root, or with the directory writable — else at
# $(RUN_DIR)/tgo.sock, and says so. PLUGINS_DIR: what `make run` launches.
SOCKET ?= /var/run/tgo/tgo.sock
PLUGINS_DIR ?= $(CURDIR)/plugins_examples

.PHONY: install install-dev bench-deps system-deps run test typecheck check clean bench fuzz soak screenshot mutants

# `install`: what running needs (requirements.lock); `install-dev`: plus the test tools
# (requirements-dev.lock). `make run` installs only the first, `make test` both.
install: $(STAMP)
install-dev: $(DEV_STAMP)

# Debian packages the tests use: Chromium for the console's browser tests, Node.js (and npm) for
# the Node example plugin and Node installs, Go for Go installs, wrk for the benchmark smoke
# test's HTTP rows, PostgreSQL's server for the PostgreSQL store tests (a throw-away cluster each).
# Installed only when running as root and missing.
system-deps:
	@if [ "$$(id -u)" = 0 ]; then \
		missing=""; \
		command -v chromium >/dev/null || missing="$$missing chromium"; \
		command -v node >/dev/null || missing="$$missing nodejs"; \
		command -v npm >/dev/null || missing="$$missing npm"; \
		command -v go >/dev/null || missing="$$missing golang-go"; \
		command -v wrk >/dev/null || missing="$$missing wrk"; \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		fi; \
	fi

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $(DEV_STAMP)

# The benchmarks' own dependencies (matplotlib for the chart, profilers); the benchmark smoke
# test in `make test` draws the chart too.
bench-deps: $(BENCH_STAMP)
$(BENCH_STAMP): $(STAMP) bench/requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.lock
	touch $(BENCH_STAMP)

run: install
	@mkdir -p $(RUN_DIR)
	@echo "tgo-host: HTTP API http://$(HTTP) (console: http://$(HTTP)/console)"
	@echo "          launching every plugin in $(PLUGINS_DIR); try:"
	@echo "          curl -s -X POST $(HTTP)/plugins/visitor-panel/render -H 'content-type: application/json' -d '{\"visitor_id\":\"v1\"}'"
	@echo "          control plane (install/uninstall/start/stop/restart/fetch-info$(if $(TGO_ADMIN_TOKEN),; admin token from TGO_ADMIN_TOKEN,; set TGO_ADMIN_TOKEN to require a token)):"
	@echo "          curl -s -X POST $(HTTP)/plugins/com.example.quick-reply/restart$(if $(TGO_ADMIN_TOKEN), -H \"Authorization: Bearer \$$TGO_ADMIN_TOKEN\")"
	@echo "          curl -s -X POST $(HTTP)/plugins/install -H 'content-type: application/json'$(if $(TGO_ADMIN_TOKEN), -H \"Authorization: Bearer \$$TGO_ADMIN_TOKEN\") -d '{\"path\":\"DIR\"}'"
	@echo "          installs only from install_sources: $(CURDIR)/plugins_examples and https://github.com/, https://gitee.com/, https://raw.githubusercontent.com/"
	TICKET_DB=$(RUN_DIR)/tickets.db CUSTOM_IM_OUTBOX=$(RUN_DIR)/outbox.jsonl \
		exec $(BIN)/tgo-host run --http $(HTTP) --socket $(SOCKET) --socket-fallback $(RUN_DIR)/tgo.sock \
		--plugins-dir $(PLUGINS_DIR) --managed-plugins-dir $(RUN_DIR)/installed \
		--install-source $(CURDIR)/plugins_examples

# The suite leaves the working tree as it found it: a snapshot of `git status` and of the
# tracked files' diff is taken before and compared after (outside a git checkout: skipped).
TREE_STATE = { git status --porcelain --untracked-files=all && git diff --binary; } 2>/dev/null | sha256sum
test: install-dev bench-deps system-deps typecheck
	@mkdir -p $(RUN_DIR) && $(TREE_STATE) > $(RUN_DIR)/tree-before
	$(BIN)/python -m pytest
	@$(TREE_STATE) | cmp -s - $(RUN_DIR)/tree-before || { \
		echo "make test: the test run changed the working tree:"; git status --short; exit 1; }

# Static types: mypy, strict on tgo_host/ and tgo_plugin/ (config in pyproject.toml, pinned in requirements-dev.lock);
# `make test` runs it first, so a type error fails the suite before any test runs.
typecheck: install-dev
	$(BIN)/python -m mypy

# The README's console screenshot (docs/console.png), taken by the workspace browser test.
screenshot: install-dev system-deps
	TGO_SCREENSHOT=$(CURDIR)/docs/console.png $(BIN)/python -m pytest -q \
		tests/test_console.py -k takes_the_readme_screenshot

# Benchmarks (bench/README.md): ~4 minutes; `make bench BENCH_ARGS=--quick` for a smoke run.
BENCH_ARGS ?=
bench: install bench-deps
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } || echo "make bench: wrk is not installed; the HTTP rows will be skipped (Debian: apt-get install wrk)"
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Longer reliability runs (docs/reliability.md); `make test` runs short versions of both.
fuzz: install-dev
	mkdir -p $(RUN_DIR)/fuzz-corpus
	$(BIN)/python tests/fuzz/fuzz_wire.py $(RUN_DIR)/fuzz-corpus tests/fuzz/corpus -dict=tests/fuzz/wire.dict \
		-max_total_time=300 -artifact_prefix=$(RUN_DIR)/fuzz-

soak: install-dev
	TGO_SOAK_SECONDS=600 $(BIN)/python -m pytest tests/test_soak.py -s
	TGO_FLOOD_CONNECTIONS=5000 TGO_NOREADER_PLUGINS=300 TGO_NOREADER_REQUESTS=80 \
		$(BIN)/python -m pytest tests/test_budgets.py -s -k "flood or never_read" -o timeout=900

# Mutation check (tests/mutants.py): each named mutant breaks one promise in a temporary copy
# and must make its tests fail. ~10 minutes; not part of `make test`. MUTANTS="a b" to pick.
MUTANTS ?=
mutants: install-dev
	$(BIN)/python tests/mutants.py $(MUTANTS)

check: install
	$(BIN)/tgo-host check

clean:
	rm -rf $(VENV) $(RUN_DIR) .pytest_cache .mypy_cache *.egg-info
