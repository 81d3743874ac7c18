"""Saving and loading: netCDF round trips, atomic writes, clear errors, no pickle."""

from __future__ import annotations

import os

import numpy as np
import pytest

import bayescore as bs


@pytest.fixture(scope="module")
def fitted():
    ds = bs.load_dataset("breast_cancer")
    X, y = ds.X.iloc[:, :6], ds.y
    clf = bs.BayesianLogisticClassifier(
        draws=100, tune=100, random_seed=2, fit_kwargs={"warn": False}
    )
    return clf.fit(X, y), X


def test_round_trip_gives_identical_predictions(fitted, tmp_path):
    clf, X = fitted
    path = bs.save(clf, tmp_path / "model.nc")
    loaded = bs.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params() == clf.get_params()
    assert loaded.classes_.tolist() == clf.classes_.tolist()
    assert loaded.feature_names_in_.tolist() == clf.feature_names_in_.tolist()
    np.testing.assert_array_equal(loaded.coef_, clf.coef_)
    assert type(loaded) is type(clf)
    # Only the final file is left behind: the temporary file was renamed into place.
    assert os.listdir(tmp_path) == ["model.nc"]


def test_save_of_bare_idata_loads_as_estimator(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = np.where(X[:, 0] > 0, "b", "a")
    idata = bs.fit(bs.build_model(X, y), "advi", draws=50, random_seed=0, warn=False)
    loaded = bs.load(bs.save(idata, tmp_path / "idata.nc"))
    assert isinstance(loaded, bs.BayesianLogisticClassifier)
    assert loaded.method == "advi"
    np.testing.assert_allclose(
        loaded.predict_proba(X), bs.predict_proba_draws(idata, X).mean(("chain", "draw"))
    )
    assert "variational" in loaded.idata_.groups()


def test_failed_save_leaves_existing_file_intact(fitted, tmp_path, monkeypatch):
    clf, _ = fitted
    path = bs.save(clf, tmp_path / "model.nc")
    before = path.read_bytes()

    def boom(self, filename, **kwargs):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    import arviz as az

    monkeypatch.setattr(az.InferenceData, "to_netcdf", boom)
    with pytest.raises(OSError, match="disk full"):
        bs.save(clf, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.nc"]


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x80\x04\x95pickle-bytes", "not a bayescore model file"),
        (b"col1,col2\n1,2\n", "not a bayescore model file"),
    ],
)
def test_load_rejects_foreign_files(content, match, tmp_path):
    path = tmp_path / "foreign.nc"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        bs.load(path)


def test_load_rejects_netcdf_that_is_not_a_model(tmp_path):
    import xarray as xr

    path = tmp_path / "other.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError, match="netCDF file but not a bayescore model"):
        bs.load(path)


def test_load_missing_file_and_save_unfitted(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such model file"):
        bs.load(tmp_path / "missing.nc")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        bs.save(bs.BayesianSoftmaxClassifier(), tmp_path / "x.nc")
    with pytest.raises(TypeError, match="takes a fitted bayescore estimator"):
        bs.save({"not": "a model"}, tmp_path / "x.nc")
