"""Scaling out on a Dask LocalCluster: lazy prediction, scoring and folds on the workers.

A Bayesian logistic regression is fitted on the bundled breast-cancer data (Laplace), then
predicts a table of new rows too wide to want every draw in memory at once, held as a
Dask array of row partitions: ``predict_proba`` and ``predict_proba_draws`` return lazy
results chunked like X, and ``bs.score`` reduces the draws on the workers. Last, 5-fold
cross-validation of two priors and scikit-learn's logistic regression runs its fits on
the cluster (joblib's Dask backend) and gives the serial table exactly.

Usage: ``python examples/scaling_out.py [--rows 400000] [--workers 2]``. See the guide page
docs/guide/scaling.md for chunk sizes and memory per worker.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import bayescore as bs


def new_rows(X: np.ndarray, n: int, chunk: int, seed: int = 0):
    """``n`` new rows like those of ``X`` (resampled, jittered), made on the workers."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    picks = rng.integers(0, X.shape[0], size=n, chunks=chunk)
    rows = da.from_array(X)[picks]  # one gather per partition, on the workers
    noise = rng.normal(0.0, 0.05, size=rows.shape, chunks=(chunk, X.shape[1]))
    return rows * (1.0 + noise), picks


def predict_and_score(clf, X: np.ndarray, y: np.ndarray, n: int, chunk: int) -> None:
    Xd, picks = new_rows(X, n, chunk)
    y_new = da_take(y, picks)
    proba = clf.predict_proba(Xd)  # lazy: nothing has run
    draws = clf.predict_proba_draws(Xd, draws=250, dtype=np.float32)  # lazy too
    size = draws.size * draws.dtype.itemsize
    print(
        f"{n:,} rows in {len(Xd.chunks[0])} partitions of {chunk:,}: predict_proba is a "
        f"Dask {type(proba).__name__} {proba.shape}, the draws a lazy "
        f"{dict(draws.sizes)} ({size / 1e9:.1f} GB if materialised)"
    )
    start = time.perf_counter()
    mean = proba.mean(axis=0).compute()
    print(
        f"mean predicted probabilities {np.round(mean, 4).tolist()} "
        f"({time.perf_counter() - start:.1f} s on the cluster)"
    )
    start = time.perf_counter()
    scores = bs.score(y_new, draws)  # reduced over the draws on the workers
    print(
        f"held-out NLL {float(scores['nll']):.4f} +/- {float(scores['nll_se']):.4f}, "
        f"accuracy {float(scores['accuracy']):.3f}, ECE {float(scores['ece']):.4f} "
        f"({time.perf_counter() - start:.1f} s)"
    )
    accuracy = clf.score(Xd, y_new).compute()
    print(f"clf.score (scikit-learn's accuracy) {float(accuracy):.3f}")


def da_take(y: np.ndarray, picks):
    """The labels of the picked rows, as a Dask array chunked like them."""
    return picks.map_blocks(lambda idx: y[idx], dtype=y.dtype)


#: Laplace's k-hat on this data is borderline (about 0.71, `bs.diagnose` says so); the
#: example is about where the work runs, so the fits do not warn.
QUIET = {"warn": False}


def cross_validation(X, y, folds: int) -> xr.Dataset:
    models = {
        "Bayes, prior 2.5": bs.BayesianLogisticClassifier(
            method="laplace", draws=300, fit_kwargs=QUIET
        ),
        "Bayes, prior 0.1": bs.BayesianLogisticClassifier(
            method="laplace", draws=300, prior_scale=0.1, fit_kwargs=QUIET
        ),
        "sklearn LogisticRegression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=5000)
        ),
    }
    start = time.perf_counter()
    on_cluster = bs.cross_validate(models, X, y, cv=folds)  # an active client: the cluster
    seconds = time.perf_counter() - start
    serial = bs.cross_validate(models, X, y, cv=folds, n_jobs=1)
    xr.testing.assert_identical(on_cluster, serial)  # the same folds and seeds: exactly
    print(
        f"\n{folds}-fold cross-validation on the cluster ({seconds:.1f} s), "
        "identical to the serial run:"
    )
    print(on_cluster[["nll", "nll_se", "d_nll", "d_nll_se"]].to_pandas().round(4))
    return on_cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    ds = bs.load_dataset("breast_cancer")
    X, y = ds.X.to_numpy(), ds.y.to_numpy()
    clf = bs.BayesianLogisticClassifier(
        method="laplace", draws=1000, random_seed=0, fit_kwargs=QUIET
    )
    clf.fit(X, y)
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            memory_limit="2GB",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"LocalCluster: {len(client.scheduler_info()['workers'])} workers, 2 GB each\n")
        predict_and_score(clf, X, y, args.rows, args.chunk)
        cross_validation(ds.X, ds.y, args.folds)
        # Fitting on the cluster (Laplace / fixed-draw ADVI by map-reduce over a Dask X):
        # see docs/guide/scaling.md, "Fitting on a cluster".


if __name__ == "__main__":
    main()
