# Two commands do everything on a fresh machine: `make demo` and `make test`.
# A Python >= 3.12 (PyMC 6 needs it), found on PATH or under pyenv; override with PYTHON=...
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test test-fast chromium lint format bench docs cli-docs install install-dev clean

$(PY):
	@base="$$(PYTHON='$(PYTHON)' .ci/find-python)" || exit 1; \
	echo "creating $(VENV) with $$base ($$("$$base" --version))"; \
	"$$base" -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Stamp files re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(PY) examples/demo.py

# The report and documentation tests render pages in headless Chromium: `chromium` installs
# Debian's package when it is missing and this machine can (root with apt-get), else stops
# here with one line saying what to install (.ci/ensure-chromium). It comes first, so a
# machine without a browser learns it before the install. tests/test_docs_site.py builds the
# documentation site itself (mkdocs build --strict into a temporary folder) and opens every
# page in Chromium.
# The notebooks run with 1000 NUTS draws after 300 tuning steps per chain ("draws,tune"; unset,
# they use the library defaults, 1000 and 1000): see the first cell of each notebook.
test: chromium $(VENV)/.installed-dev
	$(PY) -m pytest
	BAYESCORE_NOTEBOOK_DRAWS=1000,300 $(PY) -m pytest --nbmake notebooks -p no:cacheprovider \
		-o addopts="" -o testpaths=notebooks

# The fast lane for daily work: everything but the tests marked slow (long sampling runs, the
# Dask cluster, headless Chromium, fresh processes that compile); CI runs the whole suite.
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not slow"

chromium:
	@.ci/ensure-chromium

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check bayescore tests benchmarks examples docs
	$(VENV)/bin/ruff format --check bayescore tests benchmarks examples docs
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format bayescore tests benchmarks examples docs
	$(VENV)/bin/ruff check --fix bayescore tests benchmarks examples docs

# The documentation site (MkDocs + mkdocstrings, from the docstrings) into site/; --strict
# turns every warning (a broken link, an unknown API name, a page left out of the nav)
# into a failure. NO_MKDOCS_2_WARNING silences mkdocs-material's banner about MkDocs 2.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Regenerate docs/cli.md from the Typer app (tests/test_docs.py checks it is current).
cli-docs: $(VENV)/.installed
	$(PY) -m typer bayescore.cli utils docs --name bayescore --title "CLI reference" \
		--output docs/cli.md

# The benchmarks compare against NumPyro too: the [fast] extra.
bench: $(VENV)/.installed-dev
	$(PIP) install -q -e '.[dev,fast]'
	$(PY) benchmarks/bench_scoring.py
	$(PY) benchmarks/bench_loo.py
	$(PY) benchmarks/bench_fit.py
	$(PY) benchmarks/bench_scaling.py
	$(PY) benchmarks/bench_gradient.py
	$(PY) benchmarks/bench_predict.py
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/bench_verdict.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis out site
