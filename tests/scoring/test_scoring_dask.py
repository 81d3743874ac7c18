"""Dask-backed draws: lazily reduced on a LocalCluster, same numbers as in memory."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import bayescore as bs

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

# A LocalCluster of worker processes: minutes on 2 cores.
pytestmark = pytest.mark.slow


def lazy_draws(s: int, n: int, k: int):
    """Probabilities built lazily from uniforms: no chunk is ever materialised up front."""
    raw = da.random.default_rng(0).random((s, n, k), chunks=(25, n, k)) + 0.05
    return raw / raw.sum(axis=-1, keepdims=True)


#: Worker memory limit. A worker that has imported dask.array already holds ~260 MB here
#: (dask.array pulls in pandas, pyarrow and numba through ``sparse``), so the limit sits
#: 350 MB above that; the draws stay more than twice the limit.
WORKER_MEMORY = 600e6


def test_dask_draws_larger_than_worker_memory_match_numpy():
    s, n, k = 1600, 20_000, 5  # 1.28 GB of float64, over twice a worker's memory limit
    lazy = lazy_draws(s, n, k)
    y = np.random.default_rng(1).integers(0, k, n)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=WORKER_MEMORY,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
    ):
        arr = xr.DataArray(lazy, dims=("sample", "obs", "class"))
        scores = bs.score(y, arr)
        split = bs.uncertainty_decomposition(arr)
    in_memory = lazy.compute()
    assert in_memory.nbytes > 2 * WORKER_MEMORY
    ref = bs.score(y, in_memory)
    for name in ("nll", "gibbs_nll", "brier", "aleatoric", "epistemic", "ece"):
        assert float(scores[name]) == pytest.approx(float(ref[name]), rel=1e-10), name
    np.testing.assert_allclose(
        split["epistemic"],
        bs.uncertainty_decomposition(in_memory)["epistemic"],
        rtol=1e-9,
        atol=1e-15,
    )


def test_dask_invalid_rows_are_named():
    bad = np.full((4, 3, 2), 0.5)
    bad[2, 1] = [0.9, 0.3]
    arr = xr.DataArray(da.from_array(bad, chunks=(2, 3, 2)), dims=("sample", "obs", "class"))
    with pytest.raises(ValueError, match="draw 2: .*row 1 sums to 1.2"):
        bs.posterior_predictive_nll([0, 1, 0], arr)
