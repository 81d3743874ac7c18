"""Folds of cross_validate and nll_crosscheck: a partition, forward chaining, or an error.

Every number is checked against folds fitted by hand with scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, ShuffleSplit, TimeSeriesSplit

import bayescore as bs
from bayescore.comparison._cv import split_folds


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    return X, y


def _by_hand(estimator, X, y, splits):
    """Held-out NLL per row from scikit-learn fits, NaN for rows no fold tests."""
    out = np.full(y.size, np.nan)
    for train, test in splits:
        model = clone(estimator).fit(X[train], y[train])
        p = model.predict_proba(X[test])
        cols = np.searchsorted(model.classes_, y[test])
        out[test] = -np.log(p[np.arange(test.size), cols])
    return out


def test_forward_chaining_is_scored_on_the_rows_it_tests(data):
    X, y = data
    lr = LogisticRegression()
    splitter = TimeSeriesSplit(3)
    table = bs.cross_validate({"lr": lr}, X, y, cv=splitter)
    expected = _by_hand(lr, X, y, splitter.split(X))
    tested = ~np.isnan(expected)
    assert tested.sum() == 45  # TimeSeriesSplit(3) of 60 rows leaves the first 15 untested
    got = table["nll_pointwise"].sel(model="lr").values
    np.testing.assert_allclose(got[tested], expected[tested], rtol=1e-10)
    assert np.isnan(got[~tested]).all()
    fold = table["fold"].values
    assert (fold[~tested] == -1).all() and fold[tested].tolist() == [0] * 15 + [1] * 15 + [2] * 15
    assert float(table["nll"].sel(model="lr")) == pytest.approx(expected[tested].mean())
    assert float(table["se"].sel(model="lr")) == pytest.approx(
        expected[tested].std() / np.sqrt(45)
    )
    assert table.attrs["n_tested"] == 45 and table.attrs["all_rows_tested"] == 0
    assert table.attrs["n_obs"] == 45


def test_a_partition_tests_every_row_once(data):
    X, y = data
    lr = LogisticRegression()
    splitter = KFold(4, shuffle=True, random_state=3)
    table = bs.cross_validate({"lr": lr}, X, y, cv=splitter)
    expected = _by_hand(lr, X, y, splitter.split(X))
    np.testing.assert_allclose(table["nll_pointwise"].values[0], expected, rtol=1e-10)
    folds = np.empty(y.size, dtype=int)
    for k, (_, test) in enumerate(splitter.split(X)):
        folds[test] = k
    assert table["fold"].values.tolist() == folds.tolist()
    assert table.attrs["all_rows_tested"] == 1 and table.attrs["n_tested"] == 60


def _unseen_label_case():
    """y with one row of a third class; the fold that tests it cannot have trained on it."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2))
    y = np.where(X[:, 0] > 0, "a", "b").astype(object)
    y[17] = "c"
    return X, y


@pytest.mark.parametrize(
    "cv, error, match",
    [
        (ShuffleSplit(3, random_state=0), ValueError, r"must test every row once; rows \[7, "),
        ([(np.arange(30), np.arange(20, 60))], ValueError, r"trains on rows it tests \(\[20, 21"),
        ([(np.arange(50), np.arange(50, 61))], ValueError, r"lists test row 60, but the data"),
        ("5", TypeError, r"'cv' parameter of cross_validate must be an int >= 2, .* Got '5'"),
        (5.0, TypeError, r"'cv' parameter of cross_validate must be an int >= 2.* Got 5.0"),
        (True, TypeError, r"'cv' parameter of cross_validate must be an int >= 2.* Got True"),
        (1, ValueError, r"'cv' parameter of cross_validate must be an int >= 2. Got 1"),
        ([], ValueError, r"cross_validate's cv gave no folds"),
    ],
)
def test_splitters_that_are_not_partitions_are_refused(cv, error, match, data):
    X, y = data
    with pytest.raises(error, match=match):
        bs.cross_validate({"lr": LogisticRegression()}, X, y, cv=cv)


def test_shuffle_split_names_rows_tested_twice(data):
    X, y = data
    splits = list(ShuffleSplit(3, random_state=0).split(X))
    count = np.zeros(60, int)
    for _, test in splits:
        count[test] += 1
    twice = np.flatnonzero(count > 1)
    with pytest.raises(ValueError) as info:
        split_folds(ShuffleSplit(3, random_state=0), X, y)
    assert f"rows [{', '.join(map(str, twice[:10]))}" in str(info.value)


def test_a_label_no_training_fold_saw_names_its_original_row():
    X, y = _unseen_label_case()
    splitter = KFold(3, shuffle=True, random_state=0)
    fold = next(k for k, (_, test) in enumerate(splitter.split(X)) if 17 in test)
    position = list(next(t for k, (_, t) in enumerate(splitter.split(X)) if k == fold)).index(17)
    assert position != 17  # the fold-relative number would be wrong
    match = rf"Fold {fold} of cross_validate's cv tests rows \[17\] with label 'c'"
    with pytest.raises(ValueError, match=match):
        bs.cross_validate({"lr": LogisticRegression()}, X, y, cv=splitter)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"random_state": -1}, ValueError, r"'random_state' parameter of cross_validate must"),
        ({"random_state": 2.5}, TypeError, r"'random_state' parameter of cross_validate must"),
        ({"estimators": []}, TypeError, r"estimators must be a non-empty dict"),
        (
            {"estimators": {1: LogisticRegression(), "1": LogisticRegression()}},
            ValueError,
            r"The model names 1 and '1' of cross_validate are the same text '1'",
        ),
    ],
)
def test_cross_validate_arguments_are_checked(kwargs, error, match, data):
    X, y = data
    call = {"estimators": {"lr": LogisticRegression()}, "X": X, "y": y, "cv": 3, **kwargs}
    with pytest.raises(error, match=match):
        bs.cross_validate(**call)


def test_missing_labels_are_named_before_any_split(data):
    X, y = data
    labels = np.where(y == 1, "a", None).astype(object)
    first = int(np.flatnonzero(y == 0)[0])
    with pytest.raises(ValueError, match=rf"contains a missing label at row {first} \(None\)"):
        bs.cross_validate({"lr": LogisticRegression()}, X, labels, cv=3)


def test_hashable_model_names_become_text(data):
    X, y = data
    table = bs.cross_validate(
        {1: LogisticRegression(), ("b", 2): LogisticRegression(C=0.01)}, X, y, cv=3
    )
    assert sorted(table["model"].values.tolist()) == ["('b', 2)", "1"]
    assert table["model"].dtype.kind == "U"


def test_y_is_matched_to_the_rows_of_a_dataframe_X(data):
    X, y = data
    frame = pd.DataFrame(X, index=[f"r{i}" for i in range(60)])
    aligned = pd.Series(y, index=frame.index)
    shuffled = aligned.sample(frac=1.0, random_state=0)
    lr = LogisticRegression()
    got = bs.cross_validate({"lr": lr}, frame, shuffled, cv=KFold(3))
    expected = _by_hand(lr, X, y, KFold(3).split(X))
    np.testing.assert_allclose(got["nll_pointwise"].values[0], expected, rtol=1e-10)
    with pytest.raises(ValueError, match=r"X has rows \['r0'\] that y lacks"):
        bs.cross_validate({"lr": lr}, frame, aligned.rename({"r0": "zz"}), cv=KFold(3))


# ------------------------------------------------------------------------ nll_crosscheck

LAPLACE = bs.BayesianLogisticClassifier(method="laplace", draws=300, fit_kwargs={"warn": False})


def test_crosscheck_with_forward_chaining_pairs_kfold_and_loo_on_tested_rows(data):
    X, y = data
    check = bs.nll_crosscheck(LAPLACE, X, y, cv=TimeSeriesSplit(3))
    t = check.table
    fold = t["fold"].values
    tested = fold >= 0
    assert tested.sum() == 45 and t.attrs["n_kfold_tested"] == 45
    assert np.isnan(t["nll_kfold"].values[~tested]).all()
    assert np.isfinite(t["nll_kfold"].values[tested]).all()
    kfold = t["nll_kfold"].values[tested]
    loo = t["nll_loo"].values
    assert float(t["nll"].sel(estimate="kfold")) == pytest.approx(kfold.mean())
    assert float(t["nll"].sel(estimate="loo")) == pytest.approx(loo.mean())
    d = kfold - loo[tested]
    assert float(t["d_nll"].sel(pair="kfold-loo")) == pytest.approx(d.mean())
    assert float(t["d_se_paired"].sel(pair="kfold-loo")) == pytest.approx(
        d.std() / np.sqrt(d.size)
    )
    # each fold's K-fold NLL from a refit on the rows before it
    for train, test in TimeSeriesSplit(3).split(X):
        refit = clone(LAPLACE).fit(X[train], y[train])
        ref = bs.posterior_predictive_nll(
            y[test], refit.predict_proba_draws(X[test]), pointwise=True
        )
        np.testing.assert_allclose(t["nll_kfold"].values[test], ref, rtol=1e-10)


@pytest.mark.parametrize(
    "cv, error, match",
    [
        (ShuffleSplit(3, random_state=0), ValueError, r"cv must test every row once"),
        ("5", TypeError, r"'cv' parameter of nll_crosscheck must be an int >= 2"),
        (True, TypeError, r"'cv' parameter of nll_crosscheck must be an int >= 2"),
    ],
)
def test_crosscheck_refuses_bad_folds_before_fitting(cv, error, match, data):
    X, y = data

    class Unfittable(bs.BayesianLogisticClassifier):
        def fit(self, X, y):  # the folds must be refused before any fit
            raise AssertionError("fitted before the folds were checked")

    with pytest.raises(error, match=match):
        bs.nll_crosscheck(Unfittable(), X, y, cv=cv)
