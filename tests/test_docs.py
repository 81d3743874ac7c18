"""The documentation stays complete and current: API pages, CLI reference, guide examples.

The site itself is built by ``make docs`` (``mkdocs build --strict``, run by CI); these tests
check what a successful build cannot: that every public name has an API entry pointing at
the right object, that docs/cli.md is what the Typer app generates today, that the examples
in the guide run, and that README.md links only to files inside the repository.
"""

from __future__ import annotations

import doctest
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bayescore

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_PAGES = sorted((DOCS / "api").glob("*.md"))

# Every `bs.<name>` of the code block of SPEC §2 ("Public API"), the product contract kept
# beside the repository as ../shared/SPEC.md (not in a CI clone, hence copied here).
SPEC_NAMES = (
    "BayesianLogisticClassifier",
    "BayesianSoftmaxClassifier",
    "TemperatureScaling",
    "brier_score",
    "build_model",
    "compare",
    "cross_validate",
    "diagnose",
    "expected_calibration_error",
    "fit",
    "load",
    "log_loss",
    "loo",
    "maximum_calibration_error",
    "nll_crosscheck",
    "nll_from_logits",
    "posterior_predictive_nll",
    "reliability_table",
    "report",
    "score",
    "score_decomposition",
    "spherical_score",
    "uncertainty_decomposition",
)
PUBLIC = sorted(set(SPEC_NAMES) | (set(bayescore.__all__) - {"__version__"}))

# `::: bayescore.module.name` lines: what mkdocstrings renders from the docstrings.
DIRECTIVE = re.compile(r"^::: (bayescore(?:\.\w+)+)\s*$", re.MULTILINE)


def _entries() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for page in API_PAGES:
        for path in DIRECTIVE.findall(page.read_text()):
            entries.setdefault(path.rsplit(".", 1)[1], []).append(path)
    return entries


ENTRIES = _entries()


def test_spec_names_are_public():
    assert set(SPEC_NAMES) <= set(bayescore.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_one_api_entry_for_that_object(name):
    assert len(ENTRIES.get(name, [])) == 1, f"bs.{name}: API entries {ENTRIES.get(name)}"
    module, _, attr = ENTRIES[name][0].rpartition(".")
    assert getattr(importlib.import_module(module), attr) is getattr(bayescore, name)


def test_the_api_overview_lists_every_public_name():
    listed = set(re.findall(r"`(\w+)`", (DOCS / "api" / "index.md").read_text()))
    assert set(PUBLIC) - listed == set()


def test_every_api_entry_is_a_public_name_of_its_module():
    for path in (path for paths in ENTRIES.values() for path in paths):
        module, _, attr = path.rpartition(".")
        assert attr in importlib.import_module(module).__all__, path


def test_cli_reference_is_what_the_typer_app_generates(tmp_path):
    # The same command as `make cli-docs`.
    fresh = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "bayescore.cli", "utils", "docs", "--name",
         "bayescore", "--title", "CLI reference", "--output", str(fresh)],
        check=True, capture_output=True, cwd=ROOT,
    )  # fmt: skip
    committed = (DOCS / "cli.md").read_text()
    assert committed == fresh.read_text(), "docs/cli.md is stale: run `make cli-docs`"
    for command in ("fit", "predict", "score", "diagnose", "compare", "datasets"):
        assert f"## `bayescore {command}`" in committed


@pytest.mark.parametrize(
    "page",
    [
        "guide/conventions.md",
        "guide/labels-and-shapes.md",
        "guide/evaluation.md",
        "guide/scaling.md",
    ],
)
def test_guide_examples_run(page):
    # Fence lines become blank lines, so that a closing ``` does not read as expected output.
    text = re.sub(r"(?m)^```.*$", "", (DOCS / page).read_text())
    test = doctest.DocTestParser().get_doctest(text, {}, page, page, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test)
    assert result.attempted >= 2
    assert result.failed == 0


def test_readme_links_stay_inside_the_repository():
    text = (ROOT / "README.md").read_text()
    assert "../" not in text
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert {"docs/index.md", "docs/errors.md"} <= set(local)
    for link in local:
        target = (ROOT / link).resolve()
        assert target.is_relative_to(ROOT) and target.exists(), link
