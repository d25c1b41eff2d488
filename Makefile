# tgo-host — every target does its own set-up from a clean clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_DIR := $(CURDIR)/.run
HTTP ?= 127.0.0.1:8090

.PHONY: install run test check clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: install
	@mkdir -p $(RUN_DIR)
	@echo "tgo-host: plugin socket $(RUN_DIR)/tgo.sock, HTTP API http://$(HTTP)"
	TGO_SOCKET_PATH=$(RUN_DIR)/tgo.sock $(BIN)/tgo-host run --http $(HTTP)

test: install
	$(BIN)/python -m pytest

check: install
	$(BIN)/tgo-host check

clean:
	rm -rf $(VENV) $(RUN_DIR) .pytest_cache *.egg-info
