# Quick start: `make demo`, then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# pytest-xdist workers for `make test`, `make test-quick` and `make test-installed`: one per CPU by
# default (`auto`), each taking whole test files (`--dist loadfile`) in collection order, where
# tests/conftest.py puts the long poles first; PYTEST_WORKERS=0 runs the suite
# in one process.  PYTEST_ARGS is passed on (e.g. PYTEST_ARGS='-k canaries --durations=20').
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# The suite starts a few hundred Python processes (baker commands, CI steps, workers).  With bytecode
# writing off (PYTHONDONTWRITEBYTECODE, set on some CI machines) each would compile baker from source
# (~0.2 s of CPU a process) and pytest would rewrite every test module in every worker: the tests run
# with it unset, so the first process writes __pycache__/ (git ignores it) and the rest read it.
PYTEST_ENV = env -u PYTHONDONTWRITEBYTECODE

.PHONY: demo test test-quick test-installed lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check baker tests benchmarks examples templates
	$(BIN)/ruff format --check baker tests benchmarks examples templates

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(PYTEST_ENV) $(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The unit tests alone (fakes at the seams, no engine or registry): the quick loop while editing.
test-quick: $(STAMP)
	$(PYTEST_ENV) $(BIN)/pytest tests/unit -q $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The suite against a plain (non-editable) install: a fresh venv gets `pip install '.[dev]'`, and the
# tests run from a temporary copy of tests/, examples/, benchmarks/, README.md and pyproject.toml
# without baker/, so `baker` (templates included) is imported from site-packages.
test-installed:
	set -e; dir=$$(mktemp -d "$${TMPDIR:-/tmp}/baker-installed.XXXXXX"); \
	trap 'rm -rf "$$dir"' EXIT; \
	$(PYTHON) -m venv "$$dir/venv"; \
	"$$dir/venv/bin/pip" install --quiet '.[dev]'; \
	mkdir "$$dir/run"; cp -R tests examples benchmarks README.md pyproject.toml "$$dir/run/"; \
	cd "$$dir/run"; \
	"$$dir/venv/bin/python" -c 'import baker, sys; f = baker.__file__; print("baker from", f); sys.exit("site-packages" not in f)'; \
	$(PYTEST_ENV) "$$dir/venv/bin/pytest" -q $(PYTEST_PARALLEL) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/resolve.py
	$(BIN)/python benchmarks/redact.py
	$(BIN)/python benchmarks/inregistry.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/find.py
	$(BIN)/python benchmarks/engine_bake.py
	$(BIN)/python benchmarks/manifest.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .demo
