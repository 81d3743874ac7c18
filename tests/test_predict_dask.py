"""Prediction on a Dask X (issue 20): lazy, chunked like X, computed on a LocalCluster.

Every result is built without running anything (the scheduler receives no graph until a
result is computed), is chunked along ``obs`` like X's row partitions, and equals the
in-memory result to 1e-12. Bad input gets the in-memory errors, naming the partition and
the global row when it is found by a task.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescore as bs

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from distributed.diagnostics.plugin import SchedulerPlugin  # noqa: E402

#: Memory limit of each of the two worker processes (a worker with dask and bayescore
#: imported holds ~300 MB; the partitions here are small).
WORKER_MEMORY = 1e9
ROWS = (300, 300, 300, 137)  # X's row partitions: uneven, as real data's are


class CountGraphs(SchedulerPlugin):
    """Counts the graphs the scheduler is sent: one per compute (or persist) call."""

    name = "count-graphs"

    def __init__(self) -> None:
        self.graphs = 0

    def update_graph(self, scheduler, **kwargs) -> None:  # noqa: D102
        self.graphs += 1


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=WORKER_MEMORY,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.register_plugin(CountGraphs())
        yield client


def graphs(client) -> int:
    """Graphs sent to the scheduler so far."""
    return client.run_on_scheduler(
        lambda dask_scheduler: dask_scheduler.plugins["count-graphs"].graphs
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = sum(ROWS)
    X = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5] + [0.0, 1.0, -2.0]
    logits = X @ np.array([[0.0, 1.0, -1.0], [0.0, -0.3, 0.2], [0.0, 0.8, 1.5]])
    u = rng.random(n)[:, None]
    p = np.exp(logits - logits.max(1, keepdims=True))
    y = np.array(["ash", "elm", "oak"])[(u > np.cumsum(p / p.sum(1, keepdims=True), 1)).sum(1)]
    return X, y


@pytest.fixture(scope="module")
def softmax_clf(data):
    X, y = data  # NUTS: two chains, so the draws keep (chain, draw)
    clf = bs.BayesianSoftmaxClassifier(
        draws=100, tune=100, chains=2, random_seed=1, fit_kwargs={"warn": False}
    )
    return clf.fit(X, y)


@pytest.fixture(scope="module")
def logistic_clf(data):
    X, y = data
    clf = bs.BayesianLogisticClassifier(
        method="laplace", draws=200, random_seed=2, fit_kwargs={"warn": False}
    )
    return clf.fit(X, np.where(y == "oak", "oak", "other"))


def lazy_X(X: np.ndarray):
    return da.from_array(X, chunks=(ROWS, 3))


@pytest.mark.parametrize("which", ["softmax", "logistic"])
def test_estimator_predictions_are_lazy_and_equal_the_in_memory_ones(
    client, data, softmax_clf, logistic_clf, which
):
    clf = softmax_clf if which == "softmax" else logistic_clf
    X, y = data
    y = y if which == "softmax" else np.where(y == "oak", "oak", "other")
    Xd, yd = lazy_X(X), da.from_array(y, chunks=500)  # y split elsewhere than X
    before = graphs(client)
    lazy = {
        "proba": clf.predict_proba(Xd),
        "log_proba": clf.predict_log_proba(Xd),
        "labels": clf.predict(Xd),
        "accuracy": clf.score(Xd, yd),
        "weighted": clf.score(Xd, y, sample_weight=np.linspace(0.5, 2.0, y.size)),
    }
    draws = clf.predict_proba_draws(Xd)
    thin = clf.predict_proba_draws(Xd, draws=20, dtype=np.float32)
    assert graphs(client) == before  # nothing ran
    k = clf.classes_.size
    assert lazy["proba"].chunks == (ROWS, (k,)) and lazy["labels"].chunks == (ROWS,)
    assert isinstance(lazy["accuracy"], da.Array) and lazy["accuracy"].ndim == 0
    assert isinstance(draws, xr.DataArray) and isinstance(draws.data, da.Array)
    n_chains, n_draws = draws.sizes["chain"], draws.sizes["draw"]
    assert draws.chunks == ((n_chains,), (n_draws,), ROWS, (k,))
    assert thin.dtype == np.float32 and thin.chunks[2] == ROWS

    proba = clf.predict_proba(X)
    np.testing.assert_allclose(lazy["proba"].compute(), proba, rtol=1e-12, atol=1e-15)
    assert graphs(client) == before + 1  # computed on the cluster, when asked
    np.testing.assert_allclose(
        lazy["log_proba"].compute(), clf.predict_log_proba(X), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_array_equal(lazy["labels"].compute(), clf.predict(X))
    assert float(lazy["accuracy"].compute()) == pytest.approx(clf.score(X, y), abs=1e-12)
    weights = np.linspace(0.5, 2.0, y.size)
    assert float(lazy["weighted"].compute()) == pytest.approx(
        clf.score(X, y, sample_weight=weights), abs=1e-12
    )
    in_memory = clf.predict_proba_draws(X)
    np.testing.assert_allclose(draws.values, in_memory.values, rtol=1e-12, atol=1e-15)
    assert draws["obs"].values.tolist() == list(range(X.shape[0]))
    assert draws.attrs == in_memory.attrs
    np.testing.assert_array_equal(
        thin.values, clf.predict_proba_draws(X, draws=20, dtype=np.float32).values
    )


def test_public_functions_are_lazy_and_equal_the_in_memory_ones(client, data, softmax_clf):
    from bayescore.predictive import predict_logits_draws

    X, y = data
    idata = softmax_clf.idata_
    before = graphs(client)
    probs = bs.predict_proba_draws(idata, lazy_X(X), draws=slice(None, None, 3))
    logits = predict_logits_draws(idata, lazy_X(X), dtype=np.float32)
    ll_numpy_y = bs.log_likelihood_draws(idata, lazy_X(X), y)
    ll_dask_y = bs.log_likelihood_draws(idata, lazy_X(X), da.from_array(y, chunks=250))
    assert graphs(client) == before
    chains, per_chain = idata["posterior"].sizes["chain"], idata["posterior"].sizes["draw"]
    assert probs.chunks[2] == ROWS and ll_dask_y.chunks == ((chains,), (per_chain,), ROWS)
    np.testing.assert_allclose(
        probs.values,
        bs.predict_proba_draws(idata, X, draws=slice(None, None, 3)).values,
        rtol=1e-12,
        atol=1e-15,
    )
    np.testing.assert_array_equal(
        logits.values, predict_logits_draws(idata, X, dtype=np.float32).values
    )
    reference = bs.log_likelihood_draws(idata, X, y).values
    np.testing.assert_allclose(ll_numpy_y.values, reference, rtol=1e-12)
    np.testing.assert_allclose(ll_dask_y.values, reference, rtol=1e-12)
    # A DataArray over Dask (feature, obs): its obs coordinate names the rows, as in memory.
    ids = np.arange(X.shape[0]) * 10 + 7
    wrapped = xr.DataArray(lazy_X(X).T, dims=("feature", "obs"), coords={"obs": ids})
    named = bs.predict_proba_draws(idata, wrapped)
    assert isinstance(named.data, da.Array) and named["obs"].values.tolist() == ids.tolist()
    in_memory = bs.predict_proba_draws(idata, xr.DataArray(X.T, dims=("feature", "obs")))
    np.testing.assert_allclose(named.values, in_memory.values, rtol=1e-12, atol=1e-15)


def test_scores_and_comparisons_reduce_lazy_draws_to_the_in_memory_numbers(
    client, data, softmax_clf
):
    X, y = data
    draws = softmax_clf.predict_proba_draws(lazy_X(X))
    ref = bs.score(y, softmax_clf.predict_proba_draws(X))
    for labels in (y, da.from_array(y, chunks=400)):
        got = bs.score(labels, draws)
        for name in ("nll", "gibbs_nll", "brier", "ece", "nll_mcse", "epistemic", "accuracy"):
            assert float(got[name]) == pytest.approx(float(ref[name]), rel=1e-12, abs=1e-15)
    shrunk = bs.BayesianSoftmaxClassifier(
        method="laplace", draws=200, prior_scale=0.05, random_seed=3, fit_kwargs={"warn": False}
    ).fit(X, y)
    models = {"nuts": softmax_clf, "shrunk": shrunk}
    # Estimators with a Dask X: compare predicts them lazily and reduces on the cluster.
    table = bs.compare(models, da.from_array(y, chunks=300), X=lazy_X(X), n_boot=200)
    expected = bs.compare(models, y, X=X, n_boot=200)
    assert (
        table["model"].values.tolist()
        == expected["model"].values.tolist()
        == [
            "nuts",
            "shrunk",
        ]
    )
    for col in ("nll", "d_nll", "d_se", "brier", "ece", "nll_mcse"):
        np.testing.assert_allclose(table[col].values, expected[col].values, rtol=1e-12)


def test_dask_dataframe_rows_are_counted_once_then_lazy(client, data, softmax_clf):
    X, y = data
    names = ["a", "b", "c"]
    named = bs.BayesianSoftmaxClassifier(
        method="laplace", draws=100, random_seed=4, fit_kwargs={"warn": False}
    ).fit(pd.DataFrame(X, columns=names), y)
    ddf = dd.from_pandas(pd.DataFrame(X, columns=names), npartitions=4)
    before = graphs(client)
    lazy = named.predict_proba(ddf)
    assert graphs(client) == before + 1  # the partition lengths (to_dask_array(lengths=True))
    assert lazy.chunks[0] == tuple(len(part) for part in ddf.partitions)
    expected = named.predict_proba(pd.DataFrame(X, columns=names))
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12)
    renamed = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "z"]), npartitions=2)
    with pytest.raises(ValueError, match="feature names should match.*'z'"):
        named.predict_proba(renamed)
    with pytest.raises(ValueError, match="X has 2 features, but BayesianSoftmaxClassifier"):
        named.predict(ddf[["a", "b"]])
    text = dd.from_pandas(pd.DataFrame({"a": ["x"] * 4, "b": 1.0, "c": 1.0}), npartitions=2)
    with pytest.raises(ValueError, match=r"non-numeric columns \['a'\]"):
        named.predict_proba(text)


def test_bad_input_is_named_as_in_memory(client, data, softmax_clf):
    X, y = data
    bad = X.copy()
    bad[700, 1] = np.nan  # row 700: partition 2 (rows 600-899), its row 100
    lazy = softmax_clf.predict_proba(lazy_X(bad))  # found only when a task reads it
    with pytest.raises(
        ValueError, match=r"NaN at row 700, column 1 .*partition 2 of 4, its row 100"
    ):
        lazy.compute()
    with pytest.raises(ValueError, match=r"NaN at row 700, column 1"):
        softmax_clf.predict_proba(bad)  # the same row, in memory
    masked = lazy_X(X)[lazy_X(X)[:, 0] > -100]  # a boolean mask: unknown chunk sizes
    with pytest.raises(ValueError, match=r"unknown chunk sizes .*compute_chunk_sizes\(\)"):
        softmax_clf.predict_proba_draws(masked)
    with pytest.raises(
        ValueError,
        match=r"y has 1000 rows in 2 partitions \(500, 500\), but X "
        r"has 1037 rows in 4 partitions \(300, 300, 300, 137\)",
    ):
        softmax_clf.score(lazy_X(X), da.from_array(y[:1000], chunks=500))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        softmax_clf.score(lazy_X(X), da.from_array(y, chunks=500)[da.from_array(y) != "x"])
    wrong = y.astype(object)
    wrong[650] = "pine"
    ll = bs.log_likelihood_draws(softmax_clf, lazy_X(X), da.from_array(wrong, chunks=400))
    with pytest.raises(
        ValueError, match=r"label 'pine' at row 650 \(partition 2 of 4, its row 50"
    ):
        ll.compute()
    with pytest.raises(ValueError, match="label 'pine' at row 650"):  # numpy y: at the call
        bs.log_likelihood_draws(softmax_clf, lazy_X(X), wrong)
    with pytest.raises(ValueError, match="X has 2 features, but BayesianSoftmaxClassifier"):
        softmax_clf.predict_proba(lazy_X(X)[:, :2])
    with pytest.raises(ValueError, match="Expected 2D array for X, got 1D"):
        bs.predict_proba_draws(softmax_clf, lazy_X(X)[:, 0])
