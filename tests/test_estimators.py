"""scikit-learn compatibility and end-to-end behaviour of the estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

from bayescore import BayesianLogisticClassifier, BayesianSoftmaxClassifier

SMALL = {"draws": 100, "tune": 100, "chains": 1, "fit_kwargs": {"warn": False}}


def _sklearn_checks():
    """scikit-learn's estimator checks, minus the array-API one.

    ``check_array_api_input`` only runs with SCIPY_ARRAY_API=1 and array-api-strict, and
    tests a capability these estimators do not claim (their ``array_api_support`` tag is
    False): left in, it would be reported as skipped, not passed.
    """
    for est in (BayesianLogisticClassifier(**SMALL), BayesianSoftmaxClassifier(**SMALL)):
        for estimator, check in estimator_checks_generator(est):
            name = getattr(check, "func", check).__name__
            if name != "check_array_api_input":
                yield pytest.param(estimator, check, id=f"{type(est).__name__}-{name}")


@pytest.mark.parametrize("estimator, check", _sklearn_checks())
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def wine():
    from bayescore.datasets import load_dataset

    return load_dataset("wine")


@pytest.fixture(scope="module")
def wine_fit(wine):
    clf = BayesianSoftmaxClassifier(draws=200, tune=200, random_seed=3, fit_kwargs={"warn": False})
    return clf.fit(wine.X, wine.y)


def test_draws_sum_to_one_and_average_to_predict_proba(wine_fit, wine):
    draws = wine_fit.predict_proba_draws(wine.X.iloc[:20])
    assert isinstance(draws, xr.DataArray)
    assert draws.dims == ("chain", "draw", "obs", "class")
    assert draws["class"].values.tolist() == wine_fit.classes_.tolist()
    np.testing.assert_allclose(draws.sum("class"), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        draws.mean(("chain", "draw")).values, wine_fit.predict_proba(wine.X.iloc[:20])
    )
    np.testing.assert_allclose(
        np.exp(wine_fit.predict_log_proba(wine.X.iloc[:20])),
        wine_fit.predict_proba(wine.X.iloc[:20]),
        rtol=1e-10,
    )


def test_dataframe_keeps_feature_names_and_xarray_input_works(wine_fit, wine):
    assert wine_fit.feature_names_in_.tolist() == list(wine.X.columns)
    assert wine_fit.n_features_in_ == 13
    da = xr.DataArray(
        wine.X.values[:5], dims=("obs", "feature"), coords={"feature": list(wine.X.columns)}
    )
    np.testing.assert_allclose(wine_fit.predict_proba(da), wine_fit.predict_proba(wine.X[:5]))
    assert wine_fit.coef_.shape == (3, 13) and wine_fit.intercept_.shape == (3,)


def test_predictions_beat_chance_and_match_sklearn(wine_fit, wine):
    from sklearn.linear_model import LogisticRegression

    ref = make_pipeline(StandardScaler(), LogisticRegression()).fit(wine.X, wine.y)
    agree = np.mean(wine_fit.predict(wine.X) == ref.predict(wine.X))
    assert agree > 0.97
    assert wine_fit.score(wine.X, wine.y) > 0.97


@pytest.mark.parametrize(
    "y_kind",
    ["str", "int", "bool"],
)
def test_label_types_end_to_end(y_kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    raw = X[:, 0] + 0.5 * rng.normal(size=120) > 0
    y = {"str": np.where(raw, "yes", "no"), "int": np.where(raw, 10, -3), "bool": raw}[y_kind]
    clf = BayesianLogisticClassifier(method="advi", draws=200, fit_kwargs={"warn": False})
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))  # sorted like sklearn
    pred = clf.predict(X)
    assert pred.dtype == np.asarray(y).dtype
    assert np.mean(pred == y) > 0.8


def test_multiclass_string_labels_sorted():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 2))
    y = np.array(["zebra", "apple", "mango"])[np.argmax(X @ [[1, -1, 0], [0, 1, -1]], axis=1)]
    clf = BayesianSoftmaxClassifier(method="advi", draws=100, fit_kwargs={"warn": False})
    clf.fit(X, y)
    assert clf.classes_.tolist() == ["apple", "mango", "zebra"]
    assert clf.predict_proba_draws(X[:2])["class"].values.tolist() == clf.classes_.tolist()


@pytest.mark.parametrize("method", ["nuts", "advi"])
def test_same_seed_same_predictions(method, wine):
    kw = {
        "method": method,
        "draws": 60,
        "tune": 60,
        "random_seed": 5,
        "fit_kwargs": {"warn": False},
    }
    a = BayesianSoftmaxClassifier(**kw).fit(wine.X, wine.y).predict_proba(wine.X)
    b = BayesianSoftmaxClassifier(**kw).fit(wine.X, wine.y).predict_proba(wine.X)
    np.testing.assert_array_equal(a, b)


def test_pipeline_cross_val_score_and_grid_search(wine):
    base = BayesianSoftmaxClassifier(method="advi", draws=100, fit_kwargs={"warn": False})
    pipe = make_pipeline(StandardScaler(), base)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, wine.X, wine.y, cv=cv, scoring="neg_log_loss")
    assert scores.shape == (3,) and np.all(scores < 0) and np.all(scores > -0.5)
    grid = GridSearchCV(
        clone(base), {"prior_scale": [0.01, 2.5]}, cv=cv, scoring="neg_log_loss"
    ).fit(wine.X, wine.y)
    # A prior sd of 0.01 on standardised coefficients forces near-uniform predictions.
    assert grid.best_params_ == {"prior_scale": 2.5}
    assert grid.cv_results_["mean_test_score"][0] < np.log(1 / 3) + 0.2


def test_clone_keeps_params_and_drops_fit(wine_fit):
    c = clone(wine_fit)
    assert c.get_params() == wine_fit.get_params()
    assert not hasattr(c, "idata_")


@pytest.mark.parametrize(
    "est, X, y, match",
    [
        (BayesianLogisticClassifier(), [[0.0], [1.0], [2.0]], [0, 1, 2], "Only binary"),
        (BayesianSoftmaxClassifier(), [[0.0], [1.0]], ["a", "a"], "1 class"),
        (BayesianSoftmaxClassifier(), [[0.0], [np.nan]], ["a", "b"], "NaN at row 1, column 0"),
        (BayesianSoftmaxClassifier(), [[0.0], [1.0]], [0.5, 1.5], "Unknown label type"),
        (BayesianSoftmaxClassifier(), [[0.0], [1.0], [1.0]], ["a", "b"], "inconsistent numbers"),
    ],
)
def test_fit_errors(est, X, y, match):
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_predict_errors(wine_fit, wine):
    with pytest.raises(ValueError, match="X has 3 features, but BayesianSoftmaxClassifier"):
        wine_fit.predict_proba(np.zeros((2, 3)))
    bad = wine.X.iloc[:3].copy()
    bad.iloc[2, 4] = np.inf
    # A DataFrame's column is named by its name (a CSV header), not its position.
    with pytest.raises(ValueError, match="inf at row 2, column 'magnesium' \\(value inf\\)"):
        wine_fit.predict(bad)
    renamed = pd.DataFrame(wine.X.values[:2], columns=[f"c{i}" for i in range(13)])
    with pytest.raises(ValueError, match="feature names should match"):
        wine_fit.predict(renamed)


def test_a_wider_table_gives_the_model_its_own_columns_by_name(wine_fit, wine):
    """Extra columns (a label, another model's features) are ignored; order does not matter."""
    X = wine.X.iloc[:5]
    wider = X.assign(label=wine.y.iloc[:5], note="text")
    wider = wider[["note", *reversed(X.columns), "label"]]
    np.testing.assert_array_equal(wine_fit.predict_proba(wider), wine_fit.predict_proba(X))
    # Exactly the fitted columns in another order stay an error (scikit-learn's contract).
    with pytest.raises(ValueError, match="same order as they were in fit"):
        wine_fit.predict(X[X.columns[::-1]])
    with pytest.raises(ValueError, match="yet now missing"):
        wine_fit.predict(wider.drop(columns=["alcohol"]))


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda X, y: (X.assign(island="Dream"), y),
            r"X column 'island' holds text \(e.g. 'Dream'\), not numbers",
        ),
        (
            lambda X, y: (X, y.astype(object).where(np.arange(len(y)) != 7, None)),
            r"Input y \(column 'label'\) contains a missing label \(None\) at row 7",
        ),
        (
            lambda X, y: (X, pd.Series(np.where(np.arange(len(y)) == 3, np.nan, 1.0), name="y")),
            r"Input y \(column 'y'\) contains NaN at row 3; every row needs a label",
        ),
    ],
    ids=["text column", "None label", "NaN label"],
)
def test_fit_names_text_columns_and_missing_labels(edit, match, wine):
    X, y = edit(wine.X.iloc[:40], wine.y.iloc[:40].rename("label"))
    with pytest.raises(ValueError, match=match):
        BayesianSoftmaxClassifier(method="laplace", draws=20).fit(X, y)


def test_laplace_fits_feed_every_scoring_calibration_and_comparison_function():
    """A Laplace fit has ADVI's format: scores, calibration, comparison and diagnose take it."""
    import bayescore as bs

    ds = bs.load_dataset("wine")
    clf = bs.BayesianSoftmaxClassifier(method="laplace", draws=300, fit_kwargs={"warn": False})
    clf.fit(ds.X, ds.y)
    draws = clf.predict_proba_draws(ds.X)
    assert draws.dims == ("chain", "draw", "obs", "class") and draws.sizes["draw"] == 300
    scores = bs.score(ds.y, draws)
    by_hand = -np.mean(
        np.log(
            draws.mean(("chain", "draw")).values[
                np.arange(len(ds.y)), np.searchsorted(clf.classes_, ds.y)
            ]
        )
    )
    assert float(scores["nll"]) == pytest.approx(by_hand, rel=1e-12)
    flat = np.full((len(ds.y), 3), 1 / 3)
    table = bs.compare({"laplace": clf, "flat": flat}, ds.y, X=ds.X, labels=clf.classes_)
    assert table["model"].values.tolist() == ["laplace", "flat"]
    assert bs.reliability_table(ds.y, clf.predict_proba(ds.X), labels=clf.classes_).sizes["bin"]
    # On its own training rows every top class of the mean forecast is right: T has no
    # finite optimum, and says so. Its draws put another class on top now and then (their
    # predictive NLL has a finite optimum), sharp all the same.
    probs = clf.predict_proba(ds.X)
    with pytest.warns(bs.CalibrationWarning, match="every forecast's top class is right"):
        scaled = bs.TemperatureScaling().fit(probs, ds.y, labels=clf.classes_)
        assert scaled.temperature_ < 0.05
    assert bs.TemperatureScaling().fit(draws, ds.y).temperature_ < 0.05
    assert np.isfinite(bs.loo(clf).elpd)
    d = bs.diagnose(clf)
    assert d.method == "laplace" and "pareto_k" in d.table["check"].values


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (
            np.array(["a", None] * 15, dtype=object),
            ValueError,
            r"missing label \(None\) at row 1 and 14 more",
        ),
        (
            np.array(["a", np.nan] * 15, dtype=object),
            ValueError,
            r"Input y contains NaN at row 1 and 14 more",
        ),
        (
            np.array(["a", 1] * 15, dtype=object),
            TypeError,
            r"y mixes label types \['int', 'str'\]",
        ),
    ],
)
def test_missing_or_mixed_labels_are_named_not_sorted(labels, error, match):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(error, match=match):
        BayesianLogisticClassifier(method="laplace", draws=20).fit(X, labels)
