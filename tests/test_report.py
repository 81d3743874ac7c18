"""bs.report writes one self-contained page that a real browser renders offline.

The page is opened in headless Chromium (``make test`` installs it when missing; see
tests/chromium.py):

- a screenshot must not be blank (pixel variance of the PNG, decoded by matplotlib);
- ``--dump-dom`` of a probe copy: a script inserted at the top of ``<head>``, before the
  page's Content-Security-Policy takes effect, records every ``error`` event (script errors
  and failed image/resource loads, caught in the capture phase), every CSP violation (any
  attempt to reach the network), and on ``load`` writes the ``naturalWidth`` of every image
  into a hidden ``<pre>`` that the dumped DOM carries back;
- ``--enable-logging=stderr --v=0`` prints every console message as a ``:CONSOLE`` line on
  stderr (including the CSP's own "Refused to load" reports); there must be none.

The numbers in the tables are read back from the HTML and compared with the public API.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from chromium import probe, run, with_probe
from markupsafe import escape
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.model_selection import train_test_split

import bayescore as bs


class Cells(HTMLParser):
    """Attributes and text of the elements with a data-value; every src and href."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if "src" in attrs:
            self.srcs.append(attrs["src"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if "data-value" in attrs:
            self._open = {**attrs, "tag": tag, "text": ""}
            self.cells.append(self._open)

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if self._open is not None and tag == self._open["tag"]:  # no cell nests its own tag
            self._open = None


@pytest.fixture(scope="module")
def fitted():
    ds = bs.load_dataset("breast_cancer")
    X = ds.X.iloc[:, :4]
    X_train, X_test, y_train, y_test = train_test_split(
        X, ds.y, test_size=150, random_state=0, stratify=ds.y
    )
    quiet = {"warn": False}
    models = {
        "laplace": bs.BayesianLogisticClassifier(
            method="laplace", draws=200, fit_kwargs=quiet
        ).fit(X_train, y_train),
        "nuts": bs.BayesianLogisticClassifier(
            draws=150, tune=150, random_seed=1, fit_kwargs=quiet
        ).fit(X_train, y_train),
        "sklearn lr": LogisticRegression(max_iter=5000).fit(X_train, y_train),
    }
    return models, X_test, y_test, y_train


@pytest.fixture(scope="module")
def page(fitted, tmp_path_factory):
    models, X_test, y_test, _ = fitted
    path = bs.report(models, X_test, y_test, tmp_path_factory.mktemp("report") / "r.html")
    return path, path.read_text()


def test_report_renders_offline_in_headless_chromium(page, tmp_path):
    path, html = page
    shot = tmp_path / "shot.png"
    run(path.resolve().as_uri(), f"--screenshot={shot}", "--window-size=1200,3000",
        profile=tmp_path / "a")  # fmt: skip
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (3000, 1200)
    # Blank: std 0; a white page with one heading: 0.011; a one-model report: 0.098.
    assert pixels[..., :3].std() > 0.05
    # The probe goes before the page's CSP meta, so it runs; everything after is policed.
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(with_probe(html))
    found, console = probe(probe_page.as_uri(), profile=tmp_path / "b")
    # 3 reliability diagrams, 2 uncertainty figures (the two posteriors), 1 comparison chart.
    assert len(found["widths"]) == 6
    assert all(w > 100 for w in found["widths"]), found
    assert found["errors"] == [] and found["violations"] == []
    assert console == []


def test_the_page_reaches_for_nothing_outside_itself(page):
    _, html = page
    parser = Cells()
    parser.feed(html)
    assert parser.srcs and all(s.startswith("data:image/png;base64,") for s in parser.srcs)
    assert parser.hrefs and all(h.startswith("#") for h in parser.hrefs)
    assert "http://" not in html and "https://" not in html
    assert re.search(r"<(script|link|iframe|object|embed)\b", html) is None
    assert "default-src 'none'" in html


def _cells(html: str) -> dict[tuple[str, str], dict[str, str]]:
    parser = Cells()
    parser.feed(html)
    out = {}
    for cell in parser.cells:
        key = cell.get("data-score") or cell.get("data-column") or cell.get("id")
        section = "scores" if "data-score" in cell else "compare"
        out[(section, cell.get("data-model", ""), key)] = cell
    return out


def test_score_table_holds_the_values_of_bs_score(fitted, page):
    models, X_test, y_test, y_train = fitted
    cells = _cells(page[1])
    for name, model in models.items():
        preds = (
            model.predict_proba_draws(X_test)
            if hasattr(model, "predict_proba_draws")
            else model.predict_proba(X_test)
        )
        expected = bs.score(y_test, preds, labels=model.classes_, y_train=y_train)
        for key in ("nll", "brier", "spherical", "accuracy", "ece", "perplexity"):
            cell = cells[("scores", name, key)]
            value = float(expected[key])
            assert float(cell["data-value"]) == pytest.approx(value, rel=1e-12, abs=1e-15)
            assert cell["text"].strip().startswith(f"{value:.4g}")
            if f"{key}_se" in expected:
                assert float(cell["data-se"]) == pytest.approx(float(expected[f"{key}_se"]))
        assert ("scores", name, "gibbs_nll") in cells or not hasattr(model, "idata_")
    # An independent reference: scikit-learn's own log loss of its own model.
    lr = models["sklearn lr"]
    sk = sk_log_loss(y_test, lr.predict_proba(X_test), labels=lr.classes_)
    assert float(cells[("scores", "sklearn lr", "nll")]["data-value"]) == pytest.approx(sk)
    # Baselines: log 2, and the test labels' cross-entropy under the training frequencies.
    uniform = [c for c in _cells(page[1]).values() if c.get("id") == "baseline-uniform"]
    assert float(uniform[0]["data-value"]) == pytest.approx(np.log(2), rel=1e-14)
    train_freq = y_train.value_counts(normalize=True)
    prior = -np.mean(np.log(train_freq[np.asarray(y_test)].values))
    cls = [c for c in _cells(page[1]).values() if c.get("id") == "baseline-class-prior"]
    assert float(cls[0]["data-value"]) == pytest.approx(prior, rel=1e-12)


def test_comparison_and_diagnostics_match_the_api(fitted, page):
    models, X_test, y_test, _ = fitted
    html = page[1]
    cells = _cells(html)
    table = bs.compare(models, y_test, X=X_test)
    for m in table["model"].values:
        for key in ("nll", "d_nll", "d_se", "brier", "accuracy"):
            cell = cells[("compare", str(m), key)]
            assert float(cell["data-value"]) == pytest.approx(float(table[key].sel(model=m)))
    # Rows in the order of bs.compare (best first).
    order = re.findall(r'data-model="([^"]+)" data-column="nll"', html)
    assert order == [str(m) for m in table["model"].values]
    for name in ("laplace", "nuts"):
        d = bs.diagnose(models[name])
        section = html.split(f"<h3>{name}", 1)[1].split("<h3>", 1)[0]
        assert ("all checks passed" in section) is d.ok
        for message in d.messages:
            assert str(escape(message)) in section
    assert "no posterior: checks do not apply" in html.split("<h3>sklearn lr", 1)[1]


def test_single_model_page_and_rewrite_in_place(fitted, tmp_path):
    models, X_test, y_test, _ = fitted
    path = tmp_path / "one.html"
    path.write_text("old report")
    out = bs.report(models["laplace"], X_test, y_test, path, title="Laplace only")
    html = out.read_text()
    assert out == path.resolve() and "<title>Laplace only</title>" in html
    assert 'data-model="BayesianLogisticClassifier"' in html
    assert 'id="comparison"' not in html  # one model: nothing to compare
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.html"]  # no temp file left


@pytest.mark.parametrize(
    "models, match",
    [
        ({}, "got an empty dict"),
        ({"a": np.zeros((3, 2))}, r"models\['a'\] is ndarray"),
        (LogisticRegression(), r"\(LogisticRegression\) is not fitted"),
    ],
)
def test_bad_models_are_refused_before_anything_is_written(models, match, fitted, tmp_path):
    _, X_test, y_test, _ = fitted
    with pytest.raises(TypeError, match=match):
        bs.report(models, X_test, y_test, tmp_path / "r.html")
    assert list(tmp_path.iterdir()) == []
