"""Monte Carlo SE of the posterior predictive NLL, validated by simulation.

The MCSE claims the spread the NLL would show over independent sets of posterior draws; the
simulations draw many such sets from one known distribution and compare.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

import bayescore as bs
from bayescore._array import scores as K

N_OBS = 100


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    x = rng.normal(size=N_OBS)
    y = (rng.random(N_OBS) < expit(0.3 + x)).astype(int)
    return x, y


def draws_of(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Binary probabilities (chain, draw, obs, 2) of a logistic model at draws theta."""
    p1 = expit(theta[..., :1] + theta[..., 1:] * x)
    return np.stack([1 - p1, p1], axis=-1)


def ar1(rng, n_chains: int, n_draws: int, rho: float) -> np.ndarray:
    """Stationary AR(1) chains of (intercept, slope) around (0.3, 1), sd 0.3."""
    theta = np.empty((n_chains, n_draws, 2))
    theta[:, 0] = rng.normal(size=(n_chains, 2))
    for t in range(1, n_draws):
        eps = rng.normal(size=(n_chains, 2))
        theta[:, t] = rho * theta[:, t - 1] + np.sqrt(1 - rho**2) * eps
    return np.array([0.3, 1.0]) + 0.3 * theta


def replicate(problem, rho: float, n_rep: int, n_draws: int, seed: int):
    x, y = problem
    rng = np.random.default_rng(seed)
    nll, mcse, naive = [], [], []
    for _ in range(n_rep):
        p = draws_of(ar1(rng, 2, n_draws, rho), x)
        s = bs.score(y, p)
        nll.append(float(s["nll"]))
        mcse.append(float(s["nll_mcse"]))
        # The same linearisation with an iid formula: blind to autocorrelation.
        p_true = p[..., np.arange(N_OBS), y].reshape(-1, N_OBS)
        g = -(p_true / p_true.mean(axis=0)).mean(axis=1)
        naive.append(g.std(ddof=1) / np.sqrt(g.size))
    spread = np.std(nll, ddof=1)
    return np.mean(mcse) / spread, np.mean(naive) / spread


def test_mcse_equals_the_spread_over_independent_draw_sets(problem):
    # 300 independent sets of 2 x 200 iid draws: the MCSE must match the empirical sd of
    # the NLL estimates (sd of that sd: ~4 %).
    ratio, _ = replicate(problem, rho=0.0, n_rep=300, n_draws=200, seed=1)
    assert 0.88 <= ratio <= 1.12


def test_mcse_accounts_for_autocorrelated_chains(problem):
    # AR(1) draws with rho = 0.5 inflate the variance by (1 + rho) / (1 - rho) = 3: batch
    # means see it (up to their small downward bias), an iid formula does not.
    ratio, naive = replicate(problem, rho=0.5, n_rep=200, n_draws=400, seed=2)
    assert 0.85 <= ratio <= 1.15
    assert naive / ratio == pytest.approx(1 / np.sqrt(3), rel=0.15)


def test_batch_sums_agree_across_engines_and_with_a_direct_sum(problem):
    x, y = problem
    p = draws_of(ar1(np.random.default_rng(3), 3, 50, 0.3), x).reshape(150, N_OBS, 2)
    batches = K.batch_layout(3, 50)  # b = 7: 7 batches per chain, 1 draw left over
    want = frozenset({"p_true", "p_true_batches"})
    direct = np.zeros((batches.n_batches, N_OBS))
    for s, batch in enumerate(batches.ids):
        if batch >= 0:
            direct[batch] += p[s, np.arange(N_OBS), y]
    for engine in ("numpy", "numba"):
        sums = K.draw_sums(p, y, want, engine=engine, batches=batches, n_threads=2)
        np.testing.assert_allclose(sums.p_true_batches, direct, rtol=1e-12)
    import dask.array as da

    lazy = K.dask_draw_sums(da.from_array(p, chunks=(40, N_OBS, 2)), y, want, batches=batches)
    np.testing.assert_allclose(lazy.p_true_batches, direct, rtol=1e-12)
    assert (batches.ids == -1).sum() == 3 and batches.size == 7


def test_mcse_follows_chains_not_dim_order_and_equals_the_log_likelihood_route(problem):
    x, y = problem
    p = draws_of(ar1(np.random.default_rng(4), 2, 64, 0.6), x)
    da = xr.DataArray(p, dims=("chain", "draw", "obs", "class"))
    base = float(bs.score(y, da)["nll_mcse"])
    assert float(bs.score(y, da.transpose("draw", "chain", "obs", "class"))["nll_mcse"]) == (
        pytest.approx(base, rel=1e-12)
    )
    assert float(bs.score(y, p)["nll_mcse"]) == pytest.approx(base, rel=1e-12)  # (C, D, N, K)
    ll = xr.DataArray(np.log(p[..., np.arange(N_OBS), y]), dims=("chain", "draw", "row"))
    tree = xr.DataTree.from_dict({"log_likelihood": xr.Dataset({"y": ll})})
    from_ll = bs.score(None, tree)
    assert float(from_ll["nll_mcse"]) == pytest.approx(base, rel=1e-9)
    assert float(from_ll["nll"]) == pytest.approx(float(bs.score(y, p)["nll"]), rel=1e-12)
    # One chain of the same draws is a different batch layout, hence another estimate.
    assert float(bs.score(y, p.reshape(128, N_OBS, 2))["nll_mcse"]) != pytest.approx(base)
    # Point probabilities have no Monte Carlo error.
    assert float(bs.score(y, p[0, 0])["nll_mcse"]) == 0.0
    assert float(bs.score(y, p, base=2)["nll_mcse"]) == pytest.approx(base / np.log(2))
