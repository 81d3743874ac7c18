"""Model files whose parts disagree are refused on load; paths and parameters that save.

Each corrupt file is made from a good one by the edit a broken writer (or a hand edit)
could make; the good file is checked first to load with the predictions it was saved with.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sklearn.model_selection import GridSearchCV

import bayescore as bs

QUIET = {"warn": False}


@pytest.fixture(scope="module")
def iris_file(tmp_path_factory):
    ds = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(method="laplace", draws=60, fit_kwargs=QUIET)
    clf.fit(ds.X, ds.y)
    path = bs.save(clf, tmp_path_factory.mktemp("files") / "iris.nc")
    return ds, clf, path


def _edited(path: Path, tmp_path: Path, edit) -> Path:
    with xr.open_datatree(path, engine="h5netcdf") as opened:
        tree = opened.load().copy()
    edit(tree)
    out = tmp_path / "edited.nc"
    tree.to_netcdf(out, engine="h5netcdf", mode="w")
    return out


def _set_group(tree, group, ds):
    tree[group] = xr.DataTree(ds, name=group)


def _permute_classes(tree):
    const = tree["constant_data"].to_dataset()
    const["classes"] = ("class", const["classes"].values[[1, 0, 2]])
    _set_group(tree, "constant_data", const)


def _reverse_feature_names(tree):
    names = json.loads(tree["posterior"].attrs["bayescore_feature_names_in"])
    tree["posterior"].attrs["bayescore_feature_names_in"] = json.dumps(names[::-1])


def _feature_names_not_json(tree):
    tree["posterior"].attrs["bayescore_feature_names_in"] = "sepal, petal"


def _drop(name):
    def edit(tree):
        _set_group(tree, "posterior", tree["posterior"].to_dataset().drop_vars(name))

    return edit


def _fewer_posterior_features(tree):
    _set_group(tree, "posterior", tree["posterior"].to_dataset().isel(feature=slice(0, 3)))


def _fewer_standardised_features(tree):
    _set_group(tree, "constant_data", tree["constant_data"].to_dataset().isel(feature=slice(0, 3)))


def _rename_posterior_features(tree):
    post = tree["posterior"].to_dataset()
    _set_group(tree, "posterior", post.assign_coords(feature=["a", "b", "c", "d"]))


def _permute_free_classes(tree):
    post = tree["posterior"].to_dataset()
    free = post["class_free"].values[::-1]
    _set_group(tree, "posterior", post.assign_coords(class_free=free))


def test_the_unedited_file_loads_with_the_same_predictions(iris_file):
    ds, clf, path = iris_file
    loaded = bs.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(ds.X), clf.predict_proba(ds.X))
    assert loaded.predict(ds.X).tolist() == clf.predict(ds.X).tolist()
    assert loaded.feature_names_in_.tolist() == ds.X.columns.tolist()


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            _permute_classes,
            r"the class list \['versicolor', 'setosa', 'virginica'\] of constant_data "
            r"disagrees with the posterior's 'class' coordinate \['setosa', 'versicolor', "
            r"'virginica'\] \(predictions would be relabelled\)",
        ),
        (
            _permute_free_classes,
            r"the class list .* disagrees with the posterior's 'class_free' coordinate "
            r"\['virginica', 'versicolor'\]",
        ),
        (
            _reverse_feature_names,
            r"its feature names \['petal width \(cm\)', .* disagree with the posterior's "
            r"'feature' coordinate \['sepal length \(cm\)', .*\(columns would be swapped\)",
        ),
        (_feature_names_not_json, r"its 'bayescore_feature_names_in' attribute 'sepal, petal'"),
        (_drop("coef_original"), r"its posterior lacks \['coef_original'\]"),
        (_drop("intercept_original"), r"its posterior lacks \['intercept_original'\]"),
        (
            _fewer_posterior_features,
            r"posterior 'coef' has dims \{'chain': 1, 'draw': 60, 'feature': 3, 'class': 3\} "
            r"but the file standardises 4 features",
        ),
        (_fewer_standardised_features, r"posterior 'coef' .*'feature': 4, .* standardises 3"),
        (
            _rename_posterior_features,
            r"the posterior's features \['a', 'b', 'c', 'd'\] disagree with the training "
            r"data's \['sepal length \(cm\)'",
        ),
    ],
)
def test_files_whose_parts_disagree_are_refused(iris_file, tmp_path, edit, match):
    _, _, path = iris_file
    bad = _edited(path, tmp_path, edit)
    with pytest.raises(ValueError, match=r"is corrupt: " + match):
        bs.load(bad)


def test_a_logistic_file_checks_its_feature_names_too(tmp_path):
    ds = bs.load_dataset("breast_cancer")
    X, y = ds.X.iloc[:, :3], ds.y
    clf = bs.BayesianLogisticClassifier(method="laplace", draws=40, fit_kwargs=QUIET).fit(X, y)
    path = bs.save(clf, tmp_path / "bc.nc")
    np.testing.assert_array_equal(bs.load(path).predict_proba(X), clf.predict_proba(X))
    bad = _edited(path, tmp_path, _reverse_feature_names)
    with pytest.raises(ValueError, match=r"columns would be swapped"):
        bs.load(bad)


# ------------------------------------------------------------------ saving: paths


@pytest.mark.parametrize(
    "path, error, match",
    [
        ("", ValueError, r"The 'path' parameter of save must name a file. Got '' instead."),
        ("   ", ValueError, r"The 'path' parameter of save must name a file"),
        (3, TypeError, r"The 'path' parameter of save must be a str or path-like. Got 3"),
        ("DIR", ValueError, r"The 'path' parameter of save is a directory \('.*'\); give a"),
        ("DIR/", ValueError, r"The 'path' parameter of save is a directory"),
    ],
)
def test_a_path_that_cannot_be_a_file_is_refused_before_writing(
    iris_file, tmp_path, path, error, match, monkeypatch
):
    _, clf, _ = iris_file
    monkeypatch.chdir(tmp_path)
    (tmp_path / "DIR").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for save in (clf.save, lambda p: bs.save(clf, p), lambda p: bs.save(clf.idata_, p)):
        with pytest.raises(error, match=match):
            save(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


# ------------------------------------------------------- saving: NumPy parameters


def test_numpy_scalar_parameters_save_as_python_numbers(tmp_path):
    ds = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(
        method="laplace",
        draws=np.int64(40),
        prior_scale=np.float64(2.0),
        random_seed=np.int32(3),
        fit_kwargs=QUIET,
    ).fit(ds.X, ds.y)
    path = bs.save(clf, tmp_path / "numpy.nc")
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        params = json.loads(tree["posterior"].attrs["bayescore_params"])
    assert params["draws"] == 40 and type(params["draws"]) is int
    assert params["prior_scale"] == 2.0 and type(params["prior_scale"]) is float
    loaded = bs.load(path)
    assert loaded.get_params()["random_seed"] == 3
    np.testing.assert_array_equal(loaded.predict_proba(ds.X), clf.predict_proba(ds.X))


def test_the_best_estimator_of_a_grid_search_over_arange_saves(tmp_path):
    ds = bs.load_dataset("iris")
    search = GridSearchCV(
        bs.BayesianSoftmaxClassifier(method="laplace", fit_kwargs=QUIET),
        {"draws": np.arange(20, 41, 20)},
        cv=2,
    ).fit(ds.X, ds.y)
    best = search.best_estimator_
    assert isinstance(best.draws, np.integer)  # what GridSearchCV sets
    loaded = bs.load(bs.save(best, tmp_path / "best.nc"))
    assert loaded.draws == int(best.draws) and type(loaded.draws) is int
    np.testing.assert_array_equal(loaded.predict_proba(ds.X), best.predict_proba(ds.X))


def test_parameters_that_are_not_json_are_still_refused(tmp_path):
    ds = bs.load_dataset("iris")
    clf = bs.BayesianSoftmaxClassifier(method="laplace", draws=20, fit_kwargs=QUIET)
    clf.fit(ds.X, ds.y)
    clf.fit_kwargs = {"warn": False, "callback": object()}
    with pytest.raises(TypeError, match=r"must be JSON-serialisable to be saved; Object of"):
        clf.save(tmp_path / "x.nc")
