# Every target that needs Python builds .venv first, so `make run` and `make test`
# work on a fresh clone with no other step.
#
#   make run     start the bot (reads .env; see .env.example); without Slack
#                tokens, the offline console
#   make test    run the test suite
#   make test-postgres
#                the same suite on PostgreSQL: set UNDERSIGNED_TEST_PG_URL to a role
#                that may create databases (.ci/postgres start DIR starts a
#                throwaway server and prints one)
#   make lint    ruff check + ruff format --check + lint-imports (the layers,
#                ARCHITECTURE.md) + mypy --strict on petition/ and storage/
#   make mutation
#                mutation testing of the core modules (tools/mutation.py; slow, a
#                module at a time): MODULES="keyring db" picks some, and
#                MUTATION_ARGS="--max-children 2" uses both cores; results in
#                tests/MUTATION.md
#   make keygen  print a fresh SIGNER_KEY line for .env
#
# PYTHON picks the interpreter that creates .venv (it must be 3.11 or newer); when
# it is older or missing, the newest of python3.13, python3.12, python3.11 is used.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Reinstalls whenever pyproject.toml changes (or .venv is removed).
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test test-postgres lint keygen mutation

help:
	@echo "make run     start the bot (without Slack tokens in .env: the offline console)"
	@echo "make test    run the tests"
	@echo "make test-postgres  the tests on PostgreSQL (UNDERSIGNED_TEST_PG_URL)"
	@echo "make lint    ruff check, ruff format --check, lint-imports (the layers), mypy"
	@echo "make keygen  print a fresh SIGNER_KEY"
	@echo "make mutation  mutation testing of the core modules (MODULES=..., MUTATION_ARGS=...)"
	@echo "make setup   create .venv and install the project (the targets above do it)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x "$(VPY)" ]; then \
	  py=""; \
	  for c in "$(PYTHON)" python3.13 python3.12 python3.11; do \
	    if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
	      py="$$c"; break; \
	    fi; \
	  done; \
	  if [ -z "$$py" ]; then \
	    echo "error: Python 3.11 or newer is needed; install it or run make PYTHON=/path/to/python3.11" >&2; \
	    exit 1; \
	  fi; \
	  echo "creating $(VENV) with $$py ($$("$$py" -c 'import platform; print(platform.python_version())'))"; \
	  "$$py" -m venv "$(VENV)" || { \
	    echo "error: '$$py -m venv' failed; on Debian or Ubuntu: apt-get install python3-venv" >&2; \
	    rm -rf "$(VENV)"; exit 1; }; \
	fi
	$(VPY) -m pip install --disable-pip-version-check --quiet -e '.[dev]'
	@touch "$(STAMP)"

run: $(STAMP)
	$(VPY) -m bot run

test: $(STAMP)
	$(VPY) -m pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	@if [ -z "$$UNDERSIGNED_TEST_PG_URL" ]; then \
	  echo "error: set UNDERSIGNED_TEST_PG_URL=postgresql+psycopg://USER:PASSWORD@127.0.0.1:5432/postgres" \
	    "(a role that may create databases); .ci/postgres start DIR starts a server and prints one" >&2; \
	  exit 2; \
	fi
	UNDERSIGNED_TEST_DATABASE=postgresql $(VPY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy --strict petition storage

# Its own stamp: mutmut is not part of what `make test` installs.
MUTATION_STAMP := $(VENV)/.installed-mutation

$(MUTATION_STAMP): $(STAMP)
	$(VPY) -m pip install --disable-pip-version-check --quiet -e '.[dev,mutation]'
	@touch "$(MUTATION_STAMP)"

mutation: $(MUTATION_STAMP)
	$(VPY) tools/mutation.py $(MODULES) $(MUTATION_ARGS)

keygen: $(STAMP)
	@$(VPY) -m bot keygen
