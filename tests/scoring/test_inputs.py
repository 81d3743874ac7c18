"""The label rule (SPEC §2): by value against labels= or the class coordinate, never by order.

Every property test computes the expected column of each label itself, with a plain loop
over Python equality, and requires the library to give exactly that score or a ValueError.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import bayescore as bs
from bayescore._inputs import class_last, known_classes, prepare, resolve_labels, wrap

EPS = np.finfo(np.float64).eps


def expected_columns(y, classes):
    """Column of each label by value, or None when a label is not a class (the reference)."""
    out = []
    for label in y:
        hits = [j for j, c in enumerate(classes) if c == label]
        if not hits:
            return None
        out.append(hits[0])
    return np.array(out)


def reference_log_loss(probs, cols):
    p = np.clip(probs[np.arange(len(cols)), cols], EPS, 1 - EPS)
    return float(np.mean(-np.log(p)))


@st.composite
def labelled_problem(draw):
    kind = draw(st.sampled_from(["int", "str", "bool", "float"]))
    if kind == "bool":
        classes = draw(st.permutations([False, True]))
    elif kind == "int":
        classes = draw(st.lists(st.integers(-3, 9), min_size=2, max_size=5, unique=True))
    elif kind == "float":
        values = st.sampled_from([0.5, 1.0, 2.0, -1.5, 3.25])
        classes = draw(st.lists(values, min_size=2, max_size=5, unique=True))
    else:
        words = st.sampled_from(["a", "b", "A", "pos", "POS", "neg", "cat", "dog", "0", "1"])
        classes = draw(st.lists(words, min_size=2, max_size=5, unique=True))
    n = draw(st.integers(1, 12))
    cols = draw(st.lists(st.integers(0, len(classes) - 1), min_size=n, max_size=n))
    y = [classes[j] for j in cols]
    if draw(st.booleans()):  # sometimes a label that may or may not be a class
        pool = {
            "int": st.integers(-4, 10),
            "float": st.floats(-2, 4, allow_nan=False),
            "bool": st.sampled_from([0, 1, 2, "True"]),
            "str": st.sampled_from(["A", "Pos", "cat ", "b", "1", ""]),
        }[kind]
        y[draw(st.integers(0, n - 1))] = draw(pool)
    seed = draw(st.integers(0, 2**16))
    perm = draw(st.permutations(range(len(classes))))
    return classes, y, seed, list(perm)


@settings(max_examples=200, deadline=None)
@given(problem=labelled_problem(), as_array=st.sampled_from(["list", "numpy", "object"]))
def test_labels_argument_matches_by_value_or_raises(problem, as_array):
    classes, y, seed, _ = problem
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(classes)), size=len(y))
    y_in = y if as_array == "list" else np.array(y, dtype=object if as_array == "object" else None)
    # The numpy coercion of a mixed list can itself change a label (e.g. 1 -> '1'); the
    # reference then uses what the library is actually given.
    given_y = list(np.asarray(y_in).tolist()) if as_array != "list" else y
    cols = expected_columns(given_y, classes)
    if cols is None:
        with pytest.raises(ValueError, match="not among the classes"):
            bs.log_loss(y_in, probs, labels=classes)
        return
    assert bs.log_loss(y_in, probs, labels=classes) == reference_log_loss(probs, cols)


@settings(max_examples=200, deadline=None)
@given(problem=labelled_problem())
def test_class_coordinate_matches_by_value_in_any_class_order(problem):
    classes, y, seed, perm = problem
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(classes)), size=len(y))
    da = xr.DataArray(probs, dims=("obs", "class"), coords={"class": np.array(classes)})
    coord = da["class"].values.tolist()  # as stored (numpy may normalise the dtype)
    cols = expected_columns(y, coord)
    moved = da.isel({"class": perm}).transpose("class", "obs")  # permuted and transposed
    if cols is None:
        with pytest.raises(ValueError, match="not among the classes"):
            bs.log_loss(y, moved)
        return
    expected = reference_log_loss(probs, cols)
    assert float(bs.log_loss(y, da)) == expected
    assert float(bs.log_loss(y, moved)) == pytest.approx(expected, rel=1e-15, abs=0)
    # Brier over a permuted class axis: the same forecast, the same number.
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(cols)), cols] = 1.0
    brier = float(np.mean(((probs - onehot) ** 2).sum(axis=1)))
    assert float(bs.brier_score(y, moved)) == pytest.approx(brier, rel=1e-14, abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(2, 5),
    n=st.integers(1, 10),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(["int64", "int32", "uint8", "float64", "bool"]),
)
def test_without_labels_integer_y_is_positional(k, n, seed, dtype):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    raw = rng.integers(0, 2 if dtype == "bool" else k + 1, n)  # k itself is out of range
    y = raw.astype(dtype)
    cols = raw if dtype != "bool" else raw.astype(bool).astype(int)
    if (cols >= k).any():
        with pytest.raises(ValueError, match=f"class index {k} at row"):
            bs.log_loss(y, probs)
        return
    assert bs.log_loss(y, probs) == reference_log_loss(probs, cols)
    draws = np.stack([probs, probs])
    assert bs.posterior_predictive_nll(y, draws) == pytest.approx(
        float(np.mean(-np.log(probs[np.arange(n), cols]))), rel=1e-14
    )


@settings(max_examples=200, deadline=None)
@given(problem=labelled_problem())
def test_draws_and_score_use_the_same_rule(problem):
    classes, y, seed, perm = problem
    rng = np.random.default_rng(seed)
    draws = rng.dirichlet(np.ones(len(classes)), size=(3, len(y)))
    da = xr.DataArray(draws, dims=("sample", "obs", "class"), coords={"class": np.array(classes)})
    coord = da["class"].values.tolist()
    cols = expected_columns(y, coord)
    moved = da.isel({"class": perm})
    if cols is None:
        with pytest.raises(ValueError, match="not among the classes"):
            bs.score(y, moved)
        return
    p_true = draws[:, np.arange(len(cols)), cols]
    expected = float(np.mean(-np.log(p_true.mean(axis=0))))
    assert float(bs.posterior_predictive_nll(y, moved)) == pytest.approx(expected, rel=1e-13)
    assert float(bs.score(y, moved)["nll"]) == pytest.approx(expected, rel=1e-13)


# ------------------------------------------------------------------ explicit cases


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: bs.log_loss(["cat", "emu"], [[0.5, 0.5]] * 2, labels=["cat", "dog"]),
            r"label 'emu' at row 1, not among the classes \['cat', 'dog'\]",
        ),
        (
            lambda: bs.log_loss(["POS", "neg"], [[0.5, 0.5]] * 2, labels=["neg", "pos"]),
            r"label 'POS' at row 0.*did you mean 'pos'",
        ),
        (
            lambda: bs.log_loss(
                [0, 1, 2],
                xr.DataArray(
                    np.full((3, 3), 1 / 3), dims=("obs", "class"), coords={"class": [1, 2, 3]}
                ),
            ),
            r"label 0 at row 0, not among the classes \[1, 2, 3\]",
        ),
        (
            lambda: bs.log_loss(["a"], [[0.5, 0.5]], labels=["a", "a"]),
            r"labels has duplicated values \['a'\]",
        ),
        (
            lambda: bs.log_loss([1], [[0.2, 0.3, 0.5]], labels=[1, 2, 1.0]),
            r"labels has duplicated values \[1\.0\]",
        ),
        (
            lambda: bs.log_loss(["a"], [[0.2, 0.3, 0.5]], labels=["a", "b"]),
            "labels has 2 entries but probs has 3 classes",
        ),
        (
            lambda: bs.log_loss(["b", "a"], [[0.5, 0.5]] * 2),
            "no class labels are known.*never mapped by sort order",
        ),
        (
            lambda: bs.log_loss(
                ["a"],
                xr.DataArray([[0.4, 0.6]], dims=("obs", "class"), coords={"class": ["a", "b"]}),
                labels=["b", "a"],
            ),
            "disagrees with the 'class' coordinate.*same classes in another order",
        ),
        (
            lambda: bs.posterior_predictive_nll(
                ["x"],
                xr.DataArray(
                    np.full((2, 1, 2), 0.5),
                    dims=("sample", "obs", "class"),
                    coords={"class": [0, 1]},
                ),
                labels=["x", "y"],
            ),
            "disagrees with the 'class' coordinate.*different classes",
        ),
        (lambda: bs.log_loss([0.5], [[0.5, 0.5]]), "integer class indices.*row 0 is 0.5"),
        (lambda: bs.class_prior_baseline(["a", "b"], ["a"]), "pass labels=|Pass labels="),
        (
            lambda: bs.class_prior_baseline(["a"], ["c"], labels=["a", "b"]),
            "y_test contains label 'c'",
        ),
    ],
)
def test_label_errors_name_the_values(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_int_labels_against_int_coord_are_values_not_positions():
    probs = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    da = xr.DataArray(probs, dims=("obs", "class"), coords={"class": [3, 1, 2]})
    # y = 1 is the column whose class is 1 (column 1), not column 1 by position... and y = 3
    # is column 0, which a positional reading would reject as out of range.
    assert float(bs.log_loss([3, 1], da)) == pytest.approx(-np.mean(np.log([0.1, 0.3])))
    assert bs.log_loss([3, 1], probs, labels=[3, 1, 2]) == pytest.approx(
        -np.mean(np.log([0.1, 0.3]))
    )


def test_bool_and_integral_float_y_without_labels_are_positional():
    probs = np.array([[0.8, 0.2], [0.3, 0.7]])
    expected = -np.mean(np.log([0.8, 0.7]))
    assert bs.log_loss([False, True], probs) == pytest.approx(expected)
    assert bs.log_loss([0.0, 1.0], probs) == pytest.approx(expected)
    assert bs.log_loss(np.array([0, 1], dtype=object), probs) == pytest.approx(expected)


def test_class_prior_baseline_by_value():
    # Labels given out of sorted order: the baseline must not depend on sorting.
    expected = -(1 / 3 * np.log(2 / 3) + 2 / 3 * np.log(1 / 3))
    got = bs.class_prior_baseline(["z", "z", "a"], ["z", "a", "a"], labels=["z", "a"])
    assert got == pytest.approx(expected)
    assert bs.class_prior_baseline([1, 1, 0], [1, 0, 0]) == pytest.approx(expected)


def test_calibrated_classifier_maps_calibration_labels_by_value():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=400) > 0, "yes", "no")
    clf = bs.CalibratedBayesianClassifier(LogisticRegression(), method="platt").fit(X, y)
    assert clf.classes_.tolist() == ["no", "yes"]
    # The recalibrator saw 1 for "yes": recalibrated P(yes) rises with x0.
    p = clf.predict_proba(np.array([[-2.0, 0.0], [2.0, 0.0]]))
    assert p[0, 1] < 0.2 < 0.8 < p[1, 1]
    assert clf.predict(np.array([[2.0, 0.0]])).tolist() == ["yes"]


def test_resolve_labels_and_known_classes_directly():
    assert resolve_labels(["b", "a"], 2, ["a", "b"]).tolist() == [1, 0]
    assert resolve_labels([2, 0], None).tolist() == [2, 0]
    assert known_classes(3) is None
    with pytest.raises(ValueError, match=r"class index -1 at row 0"):
        resolve_labels([-1], None)


def test_prepare_and_wrap_round_trip_coords_and_attrs():
    da = xr.DataArray(
        np.full((2, 3, 2), 0.5),
        dims=("class", "obs", "draw"),
        coords={"class": ["n", "y"], "obs": [10, 11, 12]},
        attrs={"source": "test"},
    )
    p = prepare(["y", "n", "y"], da)
    assert p.template.dims == ("draw", "obs", "class") == class_last(da).dims
    assert p.y_idx.tolist() == [1, 0, 1] and p.classes.tolist() == ["n", "y"]
    per_obs = wrap(np.ones((2, 3)), p.template, "v")
    assert per_obs.dims == ("draw", "obs") and per_obs["obs"].values.tolist() == [10, 11, 12]
    assert per_obs.attrs["source"] == "test"
    assert wrap(np.ones(2), p.template, "v").dims == ("draw",)
