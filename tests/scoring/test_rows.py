"""The row rule (SPEC §3): rows matched by label when y and the forecast both name them.

The property test permutes the rows of ``y`` (numpy, pandas, xarray) and requires every
score, comparison and calibration to be exactly what it is on the unpermuted input, which
is itself checked against scikit-learn and closed forms; a ``y`` whose row labels cannot be
matched must raise a ValueError naming the disagreement.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

import bayescore as bs
from bayescore._inputs import match_rows, row_labels

ROW_ERROR = r"disagree|more than once"


@st.composite
def problem(draw):
    n = draw(st.integers(2, 25))
    k = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c", "d"][:k]
    probs = rng.dirichlet(np.ones(k), size=(3, n))  # 3 draws of (n, k)
    y = np.array(classes)[rng.integers(0, k, n)]
    ids = draw(st.sampled_from(["int", "str", "shifted"]))
    rows = {
        "int": np.arange(n),
        "str": np.array([f"r{i}" for i in range(n)], dtype=object),
        "shifted": np.arange(n) * 7 + 100,
    }[ids]
    perm = np.array(draw(st.permutations(range(n))))
    return classes, y, probs, rows, perm


def _scores(y, point, draws):
    """Everything the row rule must leave unchanged (numbers only, for comparison)."""
    table = bs.score(y, draws)
    ts = bs.TemperatureScaling().fit(point, y)
    reliability = bs.reliability_table(y, point, n_bins=5)
    return {
        "log_loss": float(bs.log_loss(y, point)),
        "brier": float(bs.brier_score(y, point)),
        "nll": float(table["nll"]),
        "gibbs_nll": float(table["gibbs_nll"]),
        "ece": float(bs.expected_calibration_error(y, point, n_bins=5)),
        "score_ece": float(table["ece"]),
        "temperature": float(ts.temperature_),
        "counts": reliability["count"].values.tolist(),
    }


def _reference(classes, y, probs):
    """The unpermuted scores, checked against scikit-learn first."""
    mean = probs.mean(axis=0)
    labels = np.array(classes, dtype=object)
    point = xr.DataArray(mean, dims=("obs", "class"), coords={"class": labels})
    draws = xr.DataArray(probs, dims=("draw", "obs", "class"), coords={"class": labels})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.CalibrationWarning)  # T may run to a bound
        ref = _scores(y, point, draws)
    cols = np.array([classes.index(v) for v in y])
    assert ref["log_loss"] == pytest.approx(sk_log_loss(y, mean, labels=classes), rel=1e-10)
    expected_brier = np.mean(np.sum((mean - np.eye(len(classes))[cols]) ** 2, axis=1))
    assert ref["brier"] == pytest.approx(expected_brier, rel=1e-10)
    ppd = -np.mean(np.log(probs[:, np.arange(len(y)), cols].mean(axis=0)))
    assert ref["nll"] == pytest.approx(ppd, rel=1e-10)
    return ref


def _permuted_inputs(container, classes, y, probs, rows, perm):
    """``y`` with its rows permuted; forecasts in the original order (named alike)."""
    labels = np.array(classes, dtype=object)
    mean = probs.mean(axis=0)
    if container == "numpy":
        # No row labels anywhere: positional, so the forecasts are permuted with y.
        point = xr.DataArray(mean[perm], dims=("obs", "class"), coords={"class": labels})
        draws = xr.DataArray(
            probs[:, perm], dims=("draw", "obs", "class"), coords={"class": labels}
        )
        return y[perm], point, draws
    coords = {"obs": rows, "class": labels}
    point = xr.DataArray(mean, dims=("obs", "class"), coords=coords)
    draws = xr.DataArray(probs, dims=("draw", "obs", "class"), coords=coords)
    if container == "pandas":
        return pd.Series(y[perm], index=rows[perm]), point, draws
    return xr.DataArray(y[perm], dims="obs", coords={"obs": rows[perm]}), point, draws


@settings(max_examples=60, deadline=None)
@given(case=problem(), container=st.sampled_from(["numpy", "pandas", "xarray"]))
def test_any_row_permutation_gives_the_same_scores(case, container):
    classes, y, probs, rows, perm = case
    ref = _reference(classes, y, probs)
    y_in, point, draws = _permuted_inputs(container, classes, y, probs, rows, perm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.CalibrationWarning)
        got = _scores(y_in, point, draws)
    for key, value in ref.items():
        if key == "temperature":
            # Labelled rows are reordered to the forecast's order: the same sums exactly.
            # Permuted arrays sum in another order, which moves a flat optimum slightly.
            assert got[key] == pytest.approx(value, rel=1e-4 if container == "numpy" else 1e-12)
        elif key == "counts":
            assert got[key] == value
        else:
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


@settings(max_examples=40, deadline=None)
@given(case=problem(), container=st.sampled_from(["pandas", "xarray"]))
def test_compare_of_a_model_with_its_own_row_permutation_is_a_tie(case, container):
    classes, y, probs, rows, perm = case
    labels = np.array(classes, dtype=object)
    coords = {"obs": rows, "class": labels}
    draws = xr.DataArray(probs, dims=("draw", "obs", "class"), coords=coords)
    y_in = pd.Series(y, index=rows) if container == "pandas" else y
    if container == "xarray":
        y_in = xr.DataArray(y, dims="obs", coords={"obs": rows})
    table = bs.compare({"a": draws, "b": draws.isel(obs=perm)}, y_in, n_boot=20)
    assert table["d_nll"].values.tolist() == [0.0, 0.0]
    assert table["d_se"].values.tolist() == [0.0, 0.0]
    assert table["d_brier"].values.tolist() == [0.0, 0.0]
    assert table["d_ece"].values.tolist() == [0.0, 0.0]
    ppd = bs.posterior_predictive_nll(np.asarray(y), draws.values, labels=classes)
    assert table["nll"].values == pytest.approx([ppd, ppd], rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    case=problem(),
    container=st.sampled_from(["pandas", "xarray"]),
    fault=st.sampled_from(["missing", "extra", "duplicate", "renamed"]),
)
def test_rows_that_cannot_be_matched_raise_naming_the_disagreement(case, container, fault):
    classes, y, probs, rows, perm = case
    ids = rows[perm].copy()
    y_perm = y[perm]
    if fault == "missing":
        ids, y_perm = ids[1:], y_perm[1:]
        culprit = rows[perm].tolist()[0]
    elif fault == "extra":
        culprit = "zz-extra"
        ids = np.append(ids.astype(object), culprit)
        y_perm = np.append(y_perm, y_perm[0])
    elif fault == "duplicate":
        ids = ids.astype(object)
        culprit = ids.tolist()[0]
        ids[-1] = culprit
    else:
        ids = ids.astype(object)
        culprit = "renamed"
        ids[0] = culprit
    labels = np.array(classes, dtype=object)
    draws = xr.DataArray(
        probs, dims=("draw", "obs", "class"), coords={"obs": rows, "class": labels}
    )
    if container == "pandas":
        y_in = pd.Series(y_perm, index=ids)
    else:
        y_in = xr.DataArray(y_perm, dims="obs", coords={"obs": ids})
    calls = [
        lambda: bs.log_loss(y_in, draws.mean("draw")),
        lambda: bs.score(y_in, draws),
        lambda: bs.compare({"m": draws}, y_in, n_boot=20),
        lambda: bs.expected_calibration_error(y_in, draws.mean("draw")),
        lambda: bs.TemperatureScaling().fit(draws.mean("draw"), y_in),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=ROW_ERROR) as info:
            call()
        assert repr(culprit) in str(info.value)


# ------------------------------------------------------------------ the cases


def test_dataarrays_with_rows_in_another_order_are_matched_by_obs():
    probs = xr.DataArray([[0.9, 0.1], [0.2, 0.8]], dims=("obs", "class"), coords={"obs": [10, 11]})
    y = xr.DataArray([1, 0], dims="obs", coords={"obs": [11, 10]})
    expected = -(np.log(0.9) + np.log(0.8)) / 2  # row 10 is class 0, row 11 class 1
    assert float(bs.log_loss(y, probs)) == pytest.approx(expected, rel=1e-12)
    pointwise = bs.log_loss(y, probs, pointwise=True)
    assert pointwise["obs"].values.tolist() == [10, 11]  # the forecast's order and coords
    assert pointwise.values == pytest.approx([-np.log(0.9), -np.log(0.8)], rel=1e-12)


def test_sample_weight_follows_y_when_y_is_reordered():
    probs = pd.DataFrame([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], index=["u", "v", "w"])
    y = pd.Series([1, 0, 0], index=["v", "u", "w"])
    weights = [3.0, 1.0, 2.0]  # for v, u, w: in y's order
    p_true = {"u": 0.9, "v": 0.8, "w": 0.6}
    expected = -(3 * np.log(p_true["v"]) + np.log(p_true["u"]) + 2 * np.log(p_true["w"])) / 6
    got = bs.log_loss(y, probs, sample_weight=weights)
    assert got == pytest.approx(expected, rel=1e-12)
    y_pos = [0, 1, 0]  # the same rows in the forecast's order, positional
    assert got == pytest.approx(
        sk_log_loss(y_pos, probs.to_numpy(), sample_weight=[1.0, 3.0, 2.0]), rel=1e-10
    )


@pytest.fixture(scope="module")
def iris_fit():
    ds = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(
        method="laplace", draws=200, random_seed=0, fit_kwargs={"warn": False}
    )
    return ds, clf.fit(ds.X, ds.y)


def test_shuffled_series_against_draws_of_a_dataframe(iris_fit):
    ds, clf = iris_fit
    draws = clf.predict_proba_draws(ds.X)
    shuffled = ds.y.sample(frac=1.0, random_state=0)
    cols = np.searchsorted(clf.classes_, ds.y.to_numpy())
    p = draws.values[..., np.arange(ds.y.size), cols].reshape(-1, ds.y.size)
    expected = -np.mean(np.log(p.mean(axis=0)))
    assert float(bs.posterior_predictive_nll(shuffled, draws)) == pytest.approx(expected)
    assert float(bs.score(shuffled, draws)["nll"]) == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_array_rows_have_no_made_up_labels(iris_fit):
    ds, clf = iris_fit
    draws = clf.predict_proba_draws(ds.X.to_numpy())
    assert "obs" not in draws.coords and row_labels(draws) is None
    # so a Series whose index is a permutation of 0..n-1 stays positional against them
    y = ds.y.sample(frac=1.0, random_state=1).reset_index(drop=True)
    y.index = np.random.default_rng(0).permutation(y.size)
    proba = clf.predict_proba(ds.X.to_numpy())
    expected = sk_log_loss(y.to_numpy(), proba, labels=clf.classes_)
    assert bs.log_loss(y, proba, labels=clf.classes_) == pytest.approx(expected, rel=1e-10)


def test_compare_pairs_sklearn_and_bayescore_rows_through_X(iris_fit):
    ds, clf = iris_fit
    lr = LogisticRegression(max_iter=2000).fit(ds.X, ds.y)
    shuffled = ds.y.sample(frac=1.0, random_state=2)
    table = bs.compare({"lr": lr, "bayes": clf}, shuffled, X=ds.X, n_boot=50)
    expected = sk_log_loss(ds.y, lr.predict_proba(ds.X), labels=lr.classes_)
    assert float(table.sel(model="lr")["nll"]) == pytest.approx(expected, rel=1e-10)
    binary = (ds.y == "setosa").to_numpy().astype(int)
    assert float(table.sel(model="lr")["brier"]) == pytest.approx(
        np.mean(np.sum((lr.predict_proba(ds.X) - pd.get_dummies(ds.y).to_numpy()) ** 2, 1))
    )
    assert brier_score_loss(binary, lr.predict_proba(ds.X)[:, 0]) >= 0  # sanity of classes
    unshuffled = bs.compare({"lr": lr, "bayes": clf}, ds.y, X=ds.X, n_boot=50)
    for key in ("nll", "d_nll", "d_se", "brier", "d_brier_se"):
        np.testing.assert_allclose(table[key].values, unshuffled[key].values, rtol=1e-12)


def test_models_in_different_row_orders_need_row_labels_on_y():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1, 1], size=(2, 6))
    a = xr.DataArray(probs, dims=("draw", "obs", "class"), coords={"obs": np.arange(6)})
    y = rng.integers(0, 2, 6)
    with pytest.raises(ValueError, match="list the same rows in different orders"):
        bs.compare({"a": a, "b": a.isel(obs=[5, 4, 3, 2, 1, 0])}, y)
    # the same order is fine, and positional
    table = bs.compare({"a": a, "b": a}, y, n_boot=20)
    assert table["d_nll"].values.tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "y_rows, rows, match",
    [
        ([1, 2, 2], [1, 2, 3], r"The index of y names rows \[2\] more than once"),
        ([1, 2, 3], [3, 3, 1], r"'obs' coordinate of probs names rows \[3\] more than once"),
        ([1, 2], [1, 2, 3], r"probs has rows \[3\] that y lacks \(probs: 3 rows, y: 2\)"),
        (["a", "b"], ["a", "c"], r"probs has rows \['c'\] that y lacks; y has rows \['b'\]"),
        ([0, 1], ["0", "1"], r"probs has rows \['0', '1'\] that y lacks"),
    ],
)
def test_match_rows_names_the_disagreement(y_rows, rows, match):
    with pytest.raises(ValueError, match=match):
        match_rows(np.array(y_rows, dtype=object), np.array(rows, dtype=object))


def test_match_rows_reorders_by_value():
    order = match_rows(np.array(["c", "a", "b"]), np.array(["a", "b", "c"]))
    assert order.tolist() == [1, 2, 0]
    assert match_rows(None, np.arange(3)) is None and match_rows(np.arange(3), None) is None
