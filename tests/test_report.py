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

The numbers on the page are read back from its ``data-*`` attributes (full precision) and
compared with independent references: scikit-learn (``confusion_matrix``, ``roc_auc_score``,
``average_precision_score``, ``precision_recall_curve``, ``precision_recall_fscore_support``,
``log_loss``), arviz-stats (``rhat``, ``ess``), numpy on the posterior draws, pandas for which
rows were training rows, and bayescore's own public API for its scores and comparison.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from chromium import probe, run, with_probe
from markupsafe import escape
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.model_selection import train_test_split

import bayescore as bs

#: A model name that matplotlib would read as (broken) mathtext if it were not escaped.
LR = r"lr $\frac{1$"
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}
KEYS = ("data-model", "data-split", "data-parameter", "data-feature", "data-class")


class Page(HTMLParser):
    """Every element with a ``data-value``, ``data-status`` or ``data-flags``, with the
    ``data-model``/``data-split``/... of its ancestors; every src and href."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._open: list[dict[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if "src" in attrs:
            self.srcs.append(attrs["src"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        context = dict(self._stack[-1][1]) if self._stack else {}
        context.update({k: v for k, v in attrs.items() if k in KEYS})
        if any(k in attrs for k in ("data-value", "data-status", "data-flags")):
            cell = {**context, **attrs, "tag": tag, "text": ""}
            self.cells.append(cell)
            self._open.append(cell)
        if tag not in VOID:
            self._stack.append((tag, context))

    def handle_data(self, data):
        for cell in self._open:
            cell["text"] += data

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self._stack:
            open_tag, _ = self._stack.pop()
            if self._open and self._open[-1]["tag"] == open_tag:
                self._open.pop()
            if open_tag == tag:
                break

    def find(self, **want: str) -> list[dict[str, str]]:
        keys = {
            k if k == "id" else f"data-{k.rstrip('_').replace('_', '-')}": v
            for k, v in want.items()
        }
        return [c for c in self.cells if all(c.get(k) == v for k, v in keys.items())]

    def one(self, **want: str) -> dict[str, str]:
        found = self.find(**want)
        assert len(found) == 1, (want, found)
        return found[0]

    def status(self, model: str, split: str) -> dict[str, str]:
        """The data section's cell of ``model`` on ``split``."""
        [cell] = [c for c in self.find(model=model, split=split) if "data-status" in c]
        return cell

    def value(self, **want: str) -> float:
        return float(self.one(**want)["data-value"])


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
            method="nuts", draws=150, tune=150, random_seed=1, fit_kwargs=quiet
        ).fit(X_train, y_train),
        LR: LogisticRegression(max_iter=5000).fit(X_train, y_train),
    }
    return models, X_test, y_test, X_train, y_train


@pytest.fixture(scope="module")
def page(fitted, tmp_path_factory):
    models, X_test, y_test, X_train, y_train = fitted
    path = bs.report(
        models, X_test, y_test, tmp_path_factory.mktemp("report") / "r.html",
        train=(X_train, y_train), held_out={LR: True},
    )  # fmt: skip
    html = path.read_text()
    return path, html, Page(html)


def _splits(fitted):
    _, X_test, y_test, X_train, y_train = fitted
    return {"scored": (X_test, y_test), "train": (X_train, y_train)}


def test_report_renders_offline_in_headless_chromium(page, tmp_path):
    path, html, _ = page
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
    # Per model a reliability diagram and ROC / PR curves; per posterior a coefficient
    # forest plot and uncertainty histograms; one comparison chart: 3 + 3 + 2 + 2 + 1.
    assert len(found["widths"]) == 11
    assert all(w > 100 for w in found["widths"]), found
    assert found["errors"] == [] and found["violations"] == []
    assert console == []


def test_the_page_reaches_for_nothing_outside_itself(page):
    _, html, parsed = page
    assert parsed.srcs and all(s.startswith("data:image/png;base64,") for s in parsed.srcs)
    assert parsed.hrefs and all(h.startswith("#") for h in parsed.hrefs)
    assert "http://" not in html and "https://" not in html
    assert re.search(r"<(script|link|iframe|object|embed)\b", html) is None
    assert "default-src 'none'" in html


def test_data_section_says_which_rows_each_model_was_fitted_on(fitted, page):
    _, X_test, _, X_train, _ = fitted
    parsed = page[2]
    for name in ("laplace", "nuts"):
        held = parsed.status(name, "scored")
        assert held["data-status"] == "held-out"
        assert (held["data-in-training"], held["data-rows"]) == ("0", str(len(X_test)))
        assert "detected" in held["text"]
        train = parsed.status(name, "train")
        assert train["data-status"] == "in-sample"
        assert train["data-in-training"] == train["data-rows"] == str(len(X_train))
    said = parsed.status(LR, "scored")
    assert said["data-status"] == "held-out" and "said by the caller (held_out=)" in said["text"]
    assert parsed.status(LR, "train")["data-status"] == "in-sample"
    assert "was fitted on" not in page[1]  # no model was fitted on the scored rows


def test_partly_in_sample_and_not_known_rows(fitted):
    from bayescore.reporting import prepare_report

    models, X_test, y_test, X_train, y_train = fitted
    mixed = pd.concat([X_train.iloc[:20], X_test.iloc[:30]])
    y_mixed = pd.concat([y_train.iloc[:20], y_test.iloc[:30]])
    # The reference: rows shared by index with the training rows (the report hashes values).
    k = len(mixed.index.intersection(X_train.index))
    data = prepare_report({"laplace": models["laplace"], LR: models[LR]}, mixed, y_mixed)
    laplace, lr = data.models
    assert laplace.status["scored"].text == f"partly in-sample ({k} of {len(mixed)} rows)"
    assert laplace.status["scored"].n_in_training == k == 20
    assert lr.status["scored"].text == "not known"
    # Said held out, detected otherwise: shown as a disagreement.
    data = prepare_report(models["laplace"], X_train, y_train, held_out=True)
    status = data.models[0].status["scored"]
    assert status.text == "in-sample"
    n = len(X_train)
    assert (
        status.note == f"held_out= said held out, but {n} of {n} rows are among the training rows"
    )


def test_models_fitted_on_different_columns_of_one_table_share_a_report(fitted):
    from bayescore.reporting import prepare_report

    _, X_test, y_test, X_train, y_train = fitted
    first, last = list(X_train.columns[:3]), list(X_train.columns[1:][::-1])
    bayes = bs.BayesianLogisticClassifier(method="laplace", draws=100, fit_kwargs={"warn": False})
    models = {
        "first three": bayes.fit(X_train[first], y_train),
        "last three": LogisticRegression(max_iter=5000).fit(X_train[last], y_train),
    }
    data = prepare_report(models, X_test, y_test, train=(X_train, y_train))
    for report, columns in zip(data.models, (first, last), strict=True):
        model = models[report.name]
        expected = model.predict(X_test[columns])
        matrix = confusion_matrix(y_test, expected, labels=model.classes_)
        np.testing.assert_array_equal(report.classification["scored"].confusion, matrix)
    # The fingerprints of the model's own columns: the training rows are found again.
    status = data.models[0].status
    assert (status["scored"].text, status["train"].n_in_training) == ("held-out", len(X_train))


def test_a_report_on_the_training_rows_says_in_sample_and_rewrites_in_place(fitted, tmp_path):
    models, _, _, X_train, y_train = fitted
    path = tmp_path / "one.html"
    path.write_text("old report")
    out = bs.report(models["laplace"], X_train, y_train, path, title="Laplace only")
    html = out.read_text()
    parsed = Page(html)
    assert out == path.resolve() and "<title>Laplace only</title>" in html
    assert parsed.status("BayesianLogisticClassifier", "scored")["data-status"] == "in-sample"
    assert "<strong>BayesianLogisticClassifier</strong> was fitted on these rows" in html
    assert 'id="comparison"' not in html  # one model: nothing to compare
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.html"]  # no temp file left


def test_score_table_holds_the_values_of_bs_score(fitted, page):
    models = fitted[0]
    y_train = fitted[4]
    parsed = page[2]
    for split, (X, y) in _splits(fitted).items():
        for name, model in models.items():
            preds = (
                model.predict_proba_draws(X)
                if hasattr(model, "predict_proba_draws")
                else model.predict_proba(X)
            )
            expected = bs.score(y, preds, labels=model.classes_, y_train=y_train)
            for key in ("nll", "brier", "spherical", "accuracy", "ece", "perplexity"):
                cell = parsed.one(model=name, split=split, score=key)
                value = float(expected[key])
                assert float(cell["data-value"]) == pytest.approx(value, rel=1e-12, abs=1e-15)
                assert cell["text"].strip().startswith(f"{value:.4g}")
                if f"{key}_se" in expected:
                    assert float(cell["data-se"]) == pytest.approx(float(expected[f"{key}_se"]))
            gibbs = parsed.find(model=name, split=split, score="gibbs_nll")
            assert len(gibbs) == (1 if hasattr(model, "idata_") else 0)
    # An independent reference: scikit-learn's own log loss of its own model.
    lr = models[LR]
    X_test, y_test = _splits(fitted)["scored"]
    sk = sk_log_loss(y_test, lr.predict_proba(X_test), labels=lr.classes_)
    assert parsed.value(model=LR, split="scored", score="nll") == pytest.approx(sk)
    # Baselines: log 2, and the test labels' cross-entropy under the training frequencies.
    assert float(parsed.one(id="baseline-uniform")["data-value"]) == pytest.approx(np.log(2))
    train_freq = y_train.value_counts(normalize=True)
    prior = -np.mean(np.log(train_freq[np.asarray(y_test)].values))
    assert float(parsed.one(id="baseline-class-prior")["data-value"]) == pytest.approx(prior)


def test_comparison_with_its_flags_and_diagnostics_match_the_api(fitted, page):
    models, X_test, y_test, _, _ = fitted
    html, parsed = page[1], page[2]
    table = bs.compare(models, y_test, X=X_test)
    for m in table["model"].values:
        for key in ("nll", "d_nll", "brier", "accuracy"):
            got = parsed.value(model=str(m), column=key)
            assert got == pytest.approx(float(table[key].sel(model=m)))
        flags = parsed.one(model=str(m), column="diag")["data-flags"]
        assert flags == str(table["diag"].sel(model=m).values)
    assert any(
        parsed.one(model=str(m), column="diag")["data-flags"] for m in table["model"].values[1:]
    )
    # Rows in the order of bs.compare (best first).
    order = re.findall(r'data-model="([^"]+)" data-column="nll"', html)
    assert order == [str(escape(m)) for m in table["model"].values]
    for name in ("laplace", "nuts"):
        d = bs.diagnose(models[name])
        section = html.split(f"<h3>{name}", 1)[1].split("<h3>", 1)[0]
        assert ("all checks passed" in section) is d.ok
        for message in d.messages:
            assert str(escape(message)) in section
    assert "no posterior: checks do not apply" in html.split(f"<h3>{escape(LR)}", 1)[1]


def test_parameter_summary_matches_arviz_stats_and_the_draws(fitted, page):
    import arviz_stats as azs

    parsed = page[2]
    idata = fitted[0]["nuts"].idata_
    post = idata.posterior
    rhat = azs.rhat(idata, var_names=["intercept", "coef"])
    bulk = azs.ess(idata, var_names=["intercept", "coef"], method="bulk")
    tail = azs.ess(idata, var_names=["intercept", "coef"], method="tail")
    labels = ["intercept"] + [f"coef[{f}]" for f in post["coef"]["feature"].values]
    expected_rhat = {}
    for label in labels:
        var, sel = (
            ("intercept", {}) if label == "intercept" else ("coef", {"feature": label[5:-1]})
        )
        draws = post[var].sel(sel).values.ravel()
        row = {
            c["data-stat"]: float(c["data-value"])
            for c in parsed.find(model="nuts", parameter=label)
            if "data-stat" in c  # not the worst-parameter line above the table
        }
        assert row["mean"] == pytest.approx(draws.mean(), rel=1e-10)
        assert row["sd"] == pytest.approx(draws.std(ddof=1), rel=1e-10)
        assert row["low"] == pytest.approx(np.quantile(draws, 0.03), rel=1e-10)
        assert row["high"] == pytest.approx(np.quantile(draws, 0.97), rel=1e-10)
        assert row["r_hat"] == pytest.approx(float(rhat[var].sel(sel)), rel=1e-10)
        assert row["ess_bulk"] == pytest.approx(float(bulk[var].sel(sel)), rel=1e-10)
        assert row["ess_tail"] == pytest.approx(float(tail[var].sel(sel)), rel=1e-10)
        expected_rhat[label] = row["r_hat"]
    worst = parsed.one(model="nuts", worst="r_hat")
    assert worst["data-parameter"] == max(expected_rhat, key=expected_rhat.get)
    assert float(worst["data-value"]) == max(expected_rhat.values())
    # One chain (Laplace): no R-hat, and the page says why.
    assert "largest R-hat: – (needs two or more chains; this fit has 1)" in page[1]


def test_coefficients_are_the_original_scale_draws_mean_and_94_interval(fitted, page):
    parsed = page[2]
    for name in ("laplace", "nuts"):
        coef = fitted[0][name].idata_.posterior["coef_original"]
        for feature in coef["feature"].values:
            draws = coef.sel(feature=feature).values.ravel()
            row = {c["data-stat"]: float(c["data-value"])
                   for c in parsed.find(model=name, feature=str(feature))}  # fmt: skip
            assert row["mean"] == pytest.approx(draws.mean(), rel=1e-10)
            assert row["low"] == pytest.approx(np.quantile(draws, 0.03), rel=1e-10)
            assert row["high"] == pytest.approx(np.quantile(draws, 0.97), rel=1e-10)


def test_confusion_per_class_metrics_and_curves_match_scikit_learn(fitted, page):
    parsed = page[2]
    for split, (X, y) in _splits(fitted).items():
        for name, model in fitted[0].items():
            classes = list(model.classes_)
            predicted = model.predict(X)
            matrix = confusion_matrix(y, predicted, labels=classes)
            for i, t in enumerate(classes):
                for j, p in enumerate(classes):
                    cell = [c for c in parsed.find(model=name, split=split, true=t, pred=p)]
                    assert len(cell) == 1 and int(cell[0]["data-value"]) == matrix[i, j]
            prec, rec, f1, support = precision_recall_fscore_support(
                y, predicted, labels=classes, zero_division=0
            )
            for i, c in enumerate(classes):
                cells = parsed.find(model=name, split=split, class_=c)
                row = {x["data-stat"]: float(x["data-value"]) for x in cells}
                assert row["precision"] == pytest.approx(prec[i], rel=1e-12)
                assert row["recall"] == pytest.approx(rec[i], rel=1e-12)
                assert row["f1"] == pytest.approx(f1[i], rel=1e-12)
                assert row["support"] == support[i]
            # Two classes: the curves of the positive class ('malignant').
            p = model.predict_proba(X)[:, 1]
            positive = np.asarray(y) == classes[1]
            row = {
                x["data-stat"]: x for x in parsed.find(model=name, split=split, class_=classes[1])
            }
            assert float(row["auc"]["data-value"]) == pytest.approx(
                roc_auc_score(positive, p), rel=1e-10
            )
            assert float(row["ap"]["data-value"]) == pytest.approx(
                average_precision_score(positive, p), rel=1e-10
            )
            acc = parsed.value(model=name, split=split, stat="accuracy")
            assert acc == pytest.approx(np.mean(predicted == np.asarray(y)))


def test_auc_and_ap_intervals_are_those_of_single_draws(fitted, page):
    parsed = page[2]
    model = fitted[0]["laplace"]  # 200 draws: all of them make the bands
    X, y = _splits(fitted)["scored"]
    draws = model.predict_proba_draws(X).values.reshape(-1, len(y), 2)[:, :, 1]
    positive = np.asarray(y) == "malignant"
    aucs = [roc_auc_score(positive, d) for d in draws]
    aps = [average_precision_score(positive, d) for d in draws]
    row = {
        x["data-stat"]: x for x in parsed.find(model="laplace", split="scored", class_="malignant")
    }
    for stat, values in (("auc", aucs), ("ap", aps)):
        low, high = np.quantile(values, [0.05, 0.95])
        assert float(row[stat]["data-low"]) == pytest.approx(low, rel=1e-10)
        assert float(row[stat]["data-high"]) == pytest.approx(high, rel=1e-10)


def test_multiclass_curves_are_one_vs_rest_as_scikit_learn():
    from bayescore.reporting import prepare_report

    ds = bs.load_dataset("wine")
    X_train, X_test, y_train, y_test = train_test_split(
        ds.X, ds.y, test_size=60, random_state=1, stratify=ds.y
    )
    softmax = bs.BayesianSoftmaxClassifier(method="laplace", draws=100, fit_kwargs={"warn": False})
    data = prepare_report(softmax.fit(X_train, y_train), X_test, y_test)
    result = data.models[0].classification["scored"]
    probs = softmax.predict_proba(X_test)
    classes = list(softmax.classes_)
    assert [c.positive for c in result.curves] == classes
    for k, curve in enumerate(result.curves):
        positive = np.asarray(y_test) == classes[k]
        assert curve.curve.auc == pytest.approx(roc_auc_score(positive, probs[:, k]), rel=1e-10)
        assert curve.curve.ap == pytest.approx(
            average_precision_score(positive, probs[:, k]), rel=1e-10
        )
        # scikit-learn's PR points, reversed (without its end point (recall 0, precision 1);
        # versions that stop at the first full recall give a prefix of ours).
        precision, recall, _ = precision_recall_curve(positive, probs[:, k])
        n = recall.size - 1
        np.testing.assert_allclose(curve.curve.recall[:n], recall[:-1][::-1], rtol=1e-12)
        np.testing.assert_allclose(curve.curve.precision[:n], precision[:-1][::-1], rtol=1e-12)
    macro = roc_auc_score(y_test, probs, multi_class="ovr", average="macro", labels=classes)
    assert result.macro_auc == pytest.approx(macro, rel=1e-10)
    # The coefficients leave out the reference class, whose coefficients are 0.
    assert data.models[0].coefficients.reference == classes[0]
    assert data.models[0].coefficients.classes == classes[1:]


def test_user_text_is_escaped_and_never_read_as_mathtext(page):
    html = page[1]
    assert f"<h3>{LR}</h3>" in html  # no HTML special characters in it: shown as given
    assert f'alt="CORP reliability diagram of {LR}"' in html  # its figures were drawn


@pytest.mark.parametrize(
    "models, kwargs, error, match",
    [
        ({}, {}, TypeError, "got an empty dict"),
        ({"a": np.zeros((3, 2))}, {}, TypeError, r"models\['a'\] is ndarray"),
        (LogisticRegression(), {}, TypeError, r"\(LogisticRegression\) is not fitted"),
        ("lr", {"held_out": "yes"}, TypeError, "'held_out' parameter of report must be True"),
        ("lr", {"held_out": {"other": True}}, ValueError, r"held_out names models .*\['other'\]"),
        ("lr", {"train": "X"}, TypeError, r"'train' parameter of report must be a pair"),
        ("lr", {"level": 1.5}, ValueError, "'level' parameter of report"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    models, kwargs, error, match, fitted, tmp_path
):
    _, X_test, y_test, _, _ = fitted
    if models == "lr":
        models = {"lr": fitted[0][LR]}
    with pytest.raises(error, match=match):
        bs.report(models, X_test, y_test, tmp_path / "r.html", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_model_card_says_what_auto_chose_and_why_and_takes_a_cluster_fit():
    from bayescore.reporting._cards import model_card, versions

    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    y = (X @ [1.0, -0.5, 0.0] + rng.logistic(size=400) > 0).astype(int)
    quiet = {"warn": False}
    auto = bs.BayesianLogisticClassifier(draws=200, fit_kwargs=quiet).fit(X, y)
    rows = dict(model_card(auto, versions()))
    choice = bs.diagnose(auto).auto
    assert rows["method='auto'"] == f"chose {choice['choice']}: {choice['reason']}"
    assert rows["inference"] == choice["choice"] == "laplace"
    assert rows["training data"] == "400 rows × 3 features"
    on_dask = bs.BayesianLogisticClassifier(method="laplace", draws=200, fit_kwargs=quiet)
    on_dask.fit(da.from_array(X, chunks=100), da.from_array(y, chunks=100))
    card = dict(model_card(on_dask, versions()))
    assert card["training data"] == "400 rows on a Dask cluster (not stored)"
    assert "method='auto'" not in card
