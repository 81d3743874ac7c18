"""Folds and models in parallel (issue 20): joblib's processes and a Dask cluster give the
serial results exactly, for cross_validate, compare, nll_crosscheck and GridSearchCV.

Every task carries its estimator, rows and seed, so where it runs cannot change a number:
the tables are compared with ``xarray.testing.assert_identical`` (values, coordinates and
attributes, bit for bit), not with a tolerance.
"""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import xarray as xr
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import bayescore as bs

distributed = pytest.importorskip("distributed")

# 200 Laplace draws leave a Monte Carlo error that compare rightly warns about; the
# warning concerns these models, not where they ran, and is the same in every run here.
pytestmark = pytest.mark.filterwarnings("ignore::bayescore.comparison.ComparisonWarning")


@pytest.fixture(scope="module")
def data():
    from conftest import simulate_logistic

    X, y, _, _ = simulate_logistic(360, seed=5)
    return X, np.where(y == 1, "yes", "no")


def laplace(**kw):
    return bs.BayesianLogisticClassifier(
        method="laplace", draws=200, random_seed=7, fit_kwargs={"warn": False}, **kw
    )


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=1e9,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def serial(data):
    """Every result computed in this process, one task after another."""
    X, y = data
    estimators = {"laplace": laplace(), "wide prior": laplace(prior_scale=10.0)}
    estimators["sklearn"] = LogisticRegression()
    fitted = {name: est.fit(X[:240], y[:240]) for name, est in estimators.items()}
    grid = GridSearchCV(laplace(), {"prior_scale": [0.05, 2.5]}, cv=3, scoring="neg_log_loss")
    return {
        "cv": bs.cross_validate(estimators, X, y, cv=4, n_jobs=1),
        "compare": bs.compare(fitted, y[240:], X=X[240:], n_jobs=1),
        "crosscheck": bs.nll_crosscheck(laplace(), X, y, cv=3, n_jobs=1).table,
        "grid": grid.fit(X, y).cv_results_,
        "estimators": estimators,
        "fitted": fitted,
    }


def _same_grid(a: dict, b: dict) -> None:
    for key in ("mean_test_score", "std_test_score", "split0_test_score", "rank_test_score"):
        np.testing.assert_array_equal(a[key], b[key])


def test_processes_give_the_serial_results_exactly(data, serial):
    X, y = data
    cv = bs.cross_validate(serial["estimators"], X, y, cv=4, n_jobs=2)
    xr.testing.assert_identical(cv, serial["cv"])
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    for k, (_, test) in enumerate(folds):  # the same folds: the default splitter's
        assert (cv["fold"].values[test] == k).all()
    table = bs.compare(serial["fitted"], y[240:], X=X[240:], n_jobs=2)
    xr.testing.assert_identical(table, serial["compare"])
    check = bs.nll_crosscheck(laplace(), X, y, cv=3, n_jobs=2)
    xr.testing.assert_identical(check.table, serial["crosscheck"])
    grid = GridSearchCV(
        laplace(), {"prior_scale": [0.05, 2.5]}, cv=3, scoring="neg_log_loss", n_jobs=2
    )
    _same_grid(grid.fit(X, y).cv_results_, serial["grid"])
    assert grid.best_params_ == {"prior_scale": 2.5}


def test_a_dask_cluster_gives_the_serial_results_exactly(client, data, serial):
    X, y = data
    client.register_plugin(_Recorder(), name="record")
    # An active client is the request for a cluster: n_jobs=None sends the tasks there.
    cv = bs.cross_validate(serial["estimators"], X, y, cv=4)
    xr.testing.assert_identical(cv, serial["cv"])
    table = bs.compare(serial["fitted"], y[240:], X=X[240:], n_jobs=-1)
    xr.testing.assert_identical(table, serial["compare"])
    check = bs.nll_crosscheck(laplace(), X, y, cv=3)
    xr.testing.assert_identical(check.table, serial["crosscheck"])
    with joblib.parallel_config(backend="dask"):
        grid = GridSearchCV(
            laplace(), {"prior_scale": [0.05, 2.5]}, cv=3, scoring="neg_log_loss", n_jobs=-1
        ).fit(X, y)
    _same_grid(grid.cv_results_, serial["grid"])
    # The fits ran on the cluster's workers: their task counts grew.
    ran = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins["record"].n)
    assert ran >= 12 + 2 + 3 + 6  # cv (3 models x 4 folds), compare, crosscheck, grid


class _Recorder(SchedulerPlugin):
    """Counts the tasks that finished on the cluster."""

    def __init__(self) -> None:
        self.n = 0

    def transition(self, key, start, finish, *args, **kwargs) -> None:  # noqa: D102
        if finish == "memory":
            self.n += 1
