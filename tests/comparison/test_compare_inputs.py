"""compare's inputs: model names, seeds, a model's own classes, zero probabilities; loo draws.

Numbers are checked against scikit-learn's log_loss and closed forms written here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as sk_log_loss

import bayescore as bs

P = np.array([[0.8, 0.2], [0.3, 0.7]])
Q = np.array([[0.6, 0.4], [0.5, 0.5]])
Y = np.array([0, 1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"random_seed": -1}, ValueError, r"'random_seed' parameter of compare must be an int"),
        ({"random_seed": 2.5}, TypeError, r"'random_seed' parameter of compare must be an int"),
        ({"random_seed": "0"}, TypeError, r"'random_seed' parameter of compare must be an int"),
        ({"models": {1: P, "1": Q}}, ValueError, r"model names 1 and '1' of compare are the"),
        ({"models": [P]}, TypeError, r"models must be a non-empty dict of name -> model"),
    ],
)
def test_compare_arguments_are_checked(kwargs, error, match):
    call = {"models": {"p": P, "q": Q}, "y": Y, **kwargs}
    with pytest.raises(error, match=match):
        bs.compare(**call)


def test_any_hashable_model_name_is_its_text():
    names = {1: P, ("q", 2): Q, None: P[:, ::-1]}
    table = bs.compare(names, Y, n_boot=20)
    assert sorted(table["model"].values.tolist()) == ["('q', 2)", "1", "None"]
    assert table["model"].dtype.kind == "U"
    expected = sk_log_loss(Y, P)
    assert float(table.sel(model="1")["nll"]) == pytest.approx(expected, rel=1e-12)


def test_a_seed_gives_the_same_table_and_numpy_seeds_are_accepted():
    a = bs.compare({"p": P, "q": Q}, Y, random_seed=np.int64(3), n_boot=50)
    b = bs.compare({"p": P, "q": Q}, Y, random_seed=3, n_boot=50)
    np.testing.assert_array_equal(a["ece_se"].values, b["ece_se"].values)


@pytest.fixture(scope="module")
def iris_lr():
    ds = bs.load_dataset("iris")
    return ds, LogisticRegression(max_iter=2000).fit(ds.X, ds.y)


def test_labels_cannot_relabel_a_fitted_models_classes(iris_lr):
    ds, lr = iris_lr
    with pytest.raises(ValueError, match=r"disagrees with the classes_ \['setosa', 'versicolor'"):
        bs.compare({"lr": lr}, ds.y, X=ds.X, labels=lr.classes_[::-1])
    # labels equal to the model's classes are harmless, and the NLL is scikit-learn's
    table = bs.compare({"lr": lr}, ds.y, X=ds.X, labels=lr.classes_, n_boot=20)
    expected = sk_log_loss(ds.y, lr.predict_proba(ds.X), labels=lr.classes_)
    assert float(table["nll"][0]) == pytest.approx(expected, rel=1e-10)


def test_labels_still_name_the_columns_of_plain_arrays(iris_lr):
    ds, lr = iris_lr
    probs = lr.predict_proba(ds.X)
    table = bs.compare({"arr": probs[:, ::-1]}, ds.y, labels=lr.classes_[::-1], n_boot=20)
    expected = sk_log_loss(ds.y, probs, labels=lr.classes_)
    assert float(table["nll"][0]) == pytest.approx(expected, rel=1e-10)


# ------------------------------------------------------------- zero probabilities


def test_two_models_with_p_zero_on_the_same_row_are_ranked_by_a_defined_rule():
    y = np.array([1, 1, 0, 0])
    a = np.array([[1.0, 0.0], [0.3, 0.7], [0.6, 0.4], [0.7, 0.3]])
    b = np.array([[1.0, 0.0], [0.1, 0.9], [0.9, 0.1], [0.8, 0.2]])
    with pytest.warns(bs.ComparisonWarning, match=r"probability 0 to the true class .*'a': 1"):
        table = bs.compare({"a": a, "b": b}, y, n_boot=20)
    # both have one zero row (row 0); on rows 1-3 b is better: it ranks first
    assert table["model"].values.tolist() == ["b", "a"]
    assert np.isinf(table["nll"].values).all()
    common = [1, 2, 3]
    nll = {name: -np.log(m[common, y[common]]) for name, m in {"a": a, "b": b}.items()}
    diff = nll["a"] - nll["b"]
    row = table.sel(model="a")
    assert float(row["d_nll"]) == pytest.approx(diff.mean(), rel=1e-12)
    assert float(row["d_se"]) == pytest.approx(diff.std() / np.sqrt(3), rel=1e-12)
    assert table["n_zero_prob"].values.tolist() == [1, 1]
    assert table["diag"].values.tolist() == ["p = 0 on 1 rows", "p = 0 on 1 rows; N < 100"]
    assert not np.isnan(table["d_nll"].values).any()
    # the order of the dict does not change the ranking
    with pytest.warns(bs.ComparisonWarning):
        swapped = bs.compare({"b": b, "a": a}, y, n_boot=20)
    assert swapped["model"].values.tolist() == ["b", "a"]


def test_more_zero_probability_rows_rank_last_and_are_infinitely_worse():
    y = np.array([1, 1, 0])
    sharp = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # p = 0 on row 0 only
    worse = np.array([[1.0, 0.0], [1.0, 0.0], [0.99, 0.01]])  # p = 0 on rows 0 and 1
    with pytest.warns(bs.ComparisonWarning):
        table = bs.compare({"worse": worse, "sharp": sharp}, y, n_boot=20)
    assert table["model"].values.tolist() == ["sharp", "worse"]
    row = table.sel(model="worse")
    assert float(row["d_nll"]) == np.inf and float(row["p_worse_nll"]) == 1.0
    assert float(row["z"]) == np.inf and float(row["prob_better"]) == 1.0


def test_no_zero_probability_keeps_the_plain_table():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = bs.compare({"p": P, "q": Q}, Y, n_boot=20)
    nll_p = -np.log([0.8, 0.7])
    nll_q = -np.log([0.6, 0.5])
    assert float(table.sel(model="q")["d_nll"]) == pytest.approx((nll_q - nll_p).mean())
    assert table["n_zero_prob"].values.tolist() == [0, 0]


# ---------------------------------------------------------------------------- loo


@pytest.fixture(scope="module")
def small_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("draws, chains, total", [(2, 2, 4), (12, 2, 24), (3, 1, 3)])
def test_loo_on_too_few_draws_says_so(small_data, draws, chains, total):
    X, y = small_data
    clf = bs.BayesianLogisticClassifier(
        method="nuts", draws=draws, tune=50, chains=chains, fit_kwargs={"warn": False}
    ).fit(X, y)
    match = rf"loo needs at least 25 posterior draws .*; this fit has {total}\. Refit"
    with pytest.raises(ValueError, match=match):
        bs.loo(clf)
    with pytest.raises(ValueError, match=r"model 'm' has"):
        bs.loo_compare({"m": clf})


def test_loo_at_the_minimum_number_of_draws_matches_arviz(small_data):
    import arviz_stats
    import xarray as xr

    X, y = small_data
    # NUTS: plain PSIS-LOO (an approximate fit's LOO is weighted by p/q, tested elsewhere).
    clf = bs.BayesianLogisticClassifier(
        method="nuts", draws=25, tune=100, chains=1, fit_kwargs={"warn": False}
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ParetoKWarning)
        ours = bs.loo(clf)
    ll = bs.log_likelihood_draws(clf)
    tree = xr.DataTree.from_dict(
        {
            "log_likelihood": xr.Dataset({"y": ll}),
            "posterior": clf.idata_["posterior"].to_dataset(),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reference = arviz_stats.loo(tree)
    assert ours.elpd == pytest.approx(reference.elpd, rel=1e-12)
