"""Data handling: label encoding, standardisation, bundled data sets, light imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescore.data import Standardization, encode_classes, feature_names_of, validate_X
from bayescore.datasets import list_datasets, load_dataset


def test_import_does_not_load_pymc_or_pytensor():
    code = (
        "import sys, bayescore as bs\n"
        "bs.log_loss([0, 1], [[0.8, 0.2], [0.3, 0.7]])\n"
        "bs.brier_score([0, 1], [[0.8, 0.2], [0.3, 0.7]])\n"
        "heavy = [m for m in ('pymc', 'pytensor') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_the_prediction_and_comparison_side_does_not_load_dask():
    # Dask is an optional extra (bayescore[dask]): bayescore imports it only for a Dask
    # input. (xarray itself imports an installed dask on its first operations.)
    code = (
        "import sys, bayescore as bs\n"
        "import bayescore.predictive, bayescore.estimators, bayescore.comparison\n"
        "bs.predict_proba_draws, bs.cross_validate, bs.BayesianSoftmaxClassifier\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "y, classes",
    [
        (["b", "a", "c", "a"], ["a", "b", "c"]),
        ([3, -1, 3, 10], [-1, 3, 10]),
        ([True, False, True], [False, True]),
        (pd.Series(["x", "y"], index=[5, 9]), ["x", "y"]),
    ],
)
def test_encode_classes_sorted_like_sklearn(y, classes):
    from sklearn.preprocessing import LabelEncoder

    y_idx, found = encode_classes(y)
    assert found.tolist() == classes
    np.testing.assert_array_equal(y_idx, LabelEncoder().fit_transform(np.asarray(y)))


def test_standardization_matches_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.0] + [0.0, 3.0, 2.0]
    s = Standardization.fit(X)
    np.testing.assert_allclose(s.mean, X.mean(0))
    np.testing.assert_allclose(s.scale, [X[:, 0].std(), X[:, 1].std(), 1.0])
    np.testing.assert_allclose(s.transform(X)[:, :2].std(0), 1.0)


def test_feature_names_from_dataframe_and_dataarray():
    df = pd.DataFrame({"a": [1.0], "b": [2.0]})
    assert feature_names_of(df).tolist() == ["a", "b"]
    da = xr.DataArray([[1.0, 2.0]], dims=("obs", "feature"), coords={"feature": ["u", "v"]})
    assert feature_names_of(da).tolist() == ["u", "v"]
    np.testing.assert_array_equal(validate_X(da.T), [[1.0, 2.0]])  # transposed back
    assert feature_names_of(np.zeros((1, 2))) is None


@pytest.mark.parametrize(
    "X, match",
    [
        ([[1.0, np.nan]], "NaN at row 0, column 1"),
        (np.zeros((0, 2)), "is empty"),
        (np.zeros((3, 0)), r"X is empty \(shape \(3, 0\)\)"),
        ([[1 + 2j]], "Complex data not supported"),
        ([["a", "b"]], "must be numeric"),
    ],
)
def test_validate_X_errors(X, match):
    with pytest.raises(ValueError, match=match):
        validate_X(X)


@pytest.mark.parametrize(
    "name, shape, n_classes",
    [
        ("breast_cancer", (569, 30), 2),
        ("wine", (178, 13), 3),
        ("iris", (150, 4), 3),
        ("digits", (1797, 64), 10),
    ],
)
def test_bundled_datasets(name, shape, n_classes):
    from sklearn import datasets

    ds = load_dataset(name)
    assert name in list_datasets()
    assert isinstance(ds.X, pd.DataFrame) and ds.X.shape == shape
    assert ds.y.nunique() == n_classes
    ref = getattr(datasets, f"load_{name}")()
    np.testing.assert_array_equal(ds.X.values, ref.data)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="Unknown data set 'titanic'; available"):
        load_dataset("titanic")


@pytest.mark.parametrize("factor", [1e300, 1e-300, 1e-13, 1e13])
def test_standardisation_is_exact_at_any_feature_scale(factor):
    """Features of size 1e300 or 1e-300 are standardised exactly, never called constant."""
    from bayescore.data import Standardization

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.1] + [0.0, 3.0, -1.0]
    ref = Standardization.fit(X)
    scaled = Standardization.fit(X * factor)
    np.testing.assert_allclose(scaled.scale / factor, X.std(axis=0), rtol=1e-13)
    np.testing.assert_allclose(scaled.mean / factor, X.mean(axis=0), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(scaled.transform(X * factor), ref.transform(X), atol=1e-12)
    # Only columns whose values are all equal are constant, however small they are.
    tiny_constant = np.column_stack([X[:, 0] * factor, np.full(200, 3e-300)])
    assert Standardization.fit(tiny_constant).scale.tolist()[1] == 1.0


@pytest.mark.parametrize("factor", [1e300, 1e-300, 1e-13])
def test_fit_on_extreme_feature_scales_predicts_as_on_unit_scale(factor):
    """The same seed on X and X * factor gives the same posterior on the standardised scale."""
    import bayescore as bs

    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=120) > 0).astype(int)

    def fitted(data):
        return bs.BayesianLogisticClassifier(
            method="advi", draws=200, random_seed=0, fit_kwargs={"warn": False}
        ).fit(data, y)

    base, scaled = fitted(X), fitted(X * factor)
    np.testing.assert_allclose(
        scaled.predict_proba(X * factor), base.predict_proba(X), rtol=1e-9, atol=1e-12
    )
    assert base.score(X, y) > 0.7 and scaled.score(X * factor, y) == base.score(X, y)
    coef = scaled.idata_["posterior"]["coef"].mean(("chain", "draw")).values
    assert np.all(np.abs(coef) > 0.3)  # no feature disabled
