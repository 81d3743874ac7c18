"""Warm-started NUTS and sampler="auto".

References are independent of the code under test: PyMC's own compiled log density and
gradient, finite differences, PyMC's deterministics, and cold-started PyMC NUTS (compared
within Monte Carlo error).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from arviz_stats import ess, mcse
from problems import make_data, pymc_free_names

import bayescore as bs
from bayescore.inference.nuts import spread_rotation
from bayescore.inference.posterior import Posterior
from bayescore.inference.tree import data_groups, posterior_dataset
from bayescore.models import model_spec


@pytest.mark.parametrize("kind", ["logistic", "softmax"])
def test_posterior_groups_match_pymc(kind):
    X, y = make_data(kind, n=80)
    model = bs.build_model(X, y, kind=kind)
    idata = bs.fit(
        model,
        "nuts",
        draws=30,
        tune=30,
        chains=1,
        random_seed=0,
        warn=False,
        sampler="pymc",
        warm_start=False,
    )
    post = idata.posterior.to_dataset()
    names = pymc_free_names(model)
    theta = np.concatenate([post[n].values.reshape(1, 30, -1) for n in names], axis=2)
    ours = posterior_dataset(model_spec(model), theta)
    assert set(ours.data_vars) == set(post.data_vars)
    for name in post.data_vars:
        xr.testing.assert_allclose(ours[name], post[name].transpose(*ours[name].dims))
    groups = data_groups(model_spec(model))
    for name in ("X", "x_mean", "x_scale"):
        np.testing.assert_array_equal(groups["constant_data"][name], idata.constant_data[name])
    np.testing.assert_array_equal(groups["observed_data"]["y"], idata.observed_data["y"])


def _agree_within_mc_error(a: xr.DataTree, b: xr.DataTree, names: list[str], z: float = 4.0):
    pa, pb = a.posterior.to_dataset()[names], b.posterior.to_dataset()[names]
    ea, eb = mcse(pa, method="mean"), mcse(pb, method="mean")
    for name in names:
        diff = np.abs(pa[name].mean(("chain", "draw")) - pb[name].mean(("chain", "draw")))
        se = np.sqrt(ea[name] ** 2 + eb[name] ** 2)
        assert float((diff / se).max()) < z, name
        # and the spread: posterior sds within 15 %
        ratio = pa[name].std(("chain", "draw")) / pb[name].std(("chain", "draw"))
        assert float(np.abs(ratio - 1).max()) < 0.15, name


@pytest.fixture(scope="module")
def softmax_fits():
    X, y = make_data("softmax", n=300)
    model = bs.build_model(X, y, kind="softmax")
    kw = {"draws": 600, "tune": 600, "chains": 2, "warn": False}
    auto = bs.fit(model, "nuts", random_seed=1, **kw)
    cold = bs.fit(model, "nuts", random_seed=2, sampler="pymc", warm_start=False, **kw)
    warm_pymc = bs.fit(model, "nuts", random_seed=3, sampler="pymc", **kw)
    return model, auto, cold, warm_pymc


def test_auto_picks_nutpie_with_the_warm_start(softmax_fits):
    _, auto, cold, warm_pymc = softmax_fits
    assert auto.posterior.attrs["bayescore_sampler"] == "nutpie"
    assert auto.posterior.attrs["bayescore_warm_start"] == "laplace"
    assert cold.posterior.attrs["bayescore_warm_start"] == "none"
    assert warm_pymc.posterior.attrs["bayescore_sampler"] == "pymc"
    assert bs.diagnose(auto).ok


def test_auto_equals_pymc_nuts_within_mc_error(softmax_fits):
    model, auto, cold, _ = softmax_fits
    _agree_within_mc_error(auto, cold, ["intercept_free", "coef_free", "coef_original"])
    # The warm start is at least as efficient as the cold PyMC run per draw.
    names = ["intercept_free", "coef_free"]
    ess_auto = min(float(ess(auto.posterior.to_dataset()[names])[n].min()) for n in names)
    ess_cold = min(float(ess(cold.posterior.to_dataset()[names])[n].min()) for n in names)
    assert ess_auto > 0.8 * ess_cold


def test_warm_start_equals_cold_start_within_mc_error(softmax_fits):
    _, _, cold, warm_pymc = softmax_fits
    _agree_within_mc_error(warm_pymc, cold, ["intercept_free", "coef_free"])


def test_row_blocks_sample_the_same_posterior(softmax_fits, monkeypatch):
    """Designs too large to keep go through nutpie's Python callback, block by block."""
    model, auto, _, _ = softmax_fits
    monkeypatch.setattr(Posterior, "KEEP", 16)
    monkeypatch.setattr(Posterior, "BLOCK", 50 * 4)  # 50-row blocks (D + 1 = 4)
    blocked = bs.fit(model, "nuts", draws=600, tune=600, chains=2, random_seed=4, warn=False)
    assert blocked.posterior.attrs["bayescore_sampler"] == "nutpie"
    _agree_within_mc_error(blocked, auto, ["intercept_free", "coef_free"])


def test_same_seed_same_draws_across_calls():
    X, y = make_data("logistic", n=150)
    model = bs.build_model(X, y, kind="logistic")
    a = bs.fit(model, "nuts", draws=50, tune=50, random_seed=7, warn=False)
    b = bs.fit(model, "nuts", draws=50, tune=50, random_seed=7, warn=False)
    np.testing.assert_array_equal(a.posterior["coef"].values, b.posterior["coef"].values)


def test_zerosum_falls_back_to_pymc():
    X, y = make_data("softmax", n=100)
    model = bs.build_model(X, y, kind="softmax", coding="zerosum")
    idata = bs.fit(model, "nuts", draws=40, tune=40, random_seed=0, warn=False)
    assert idata.posterior.attrs["bayescore_sampler"] == "pymc"
    assert idata.posterior.attrs["bayescore_warm_start"] == "none"


def test_cross_validation_compiles_nothing_per_fold(monkeypatch):
    import pytensor.compile.maker as types

    X, y = make_data("logistic", n=200)
    calls = []
    real = types.FunctionMaker.create

    def counting(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(types.FunctionMaker, "create", counting)
    est = bs.BayesianLogisticClassifier(draws=1000, tune=500, random_seed=0)
    result = bs.cross_validate({"nuts": est}, X, y, cv=5)
    # Every held-out row was scored, better than the coin-flip baseline log 2.
    assert np.isfinite(result["nll_pointwise"]).all()
    assert float(result["nll"][0]) < np.log(2)
    # The warm-started NUTS runs on bayescore's numpy density: no PyTensor function is
    # compiled in any fold (a cold pm.sample compiles at least one per fold).
    assert len(calls) <= 1


def test_spread_rotation_spreads_frequencies_no_diagonal_can_undo():
    S, S_inv = spread_rotation(40, 4.0)
    np.testing.assert_allclose(S @ S_inv, np.eye(40), atol=1e-12)
    np.testing.assert_allclose(S, S.T, atol=1e-14)
    cov = S_inv @ S_inv  # the covariance of the sampler's coordinates w = S^-1 z
    eig = np.linalg.eigvalsh(cov)
    np.testing.assert_allclose(eig, np.geomspace(0.5, 2.0, 40), rtol=1e-10)
    # In a rotated basis: the variances nutpie's diagonal adaptation sees are all close to
    # 1, so it cannot take the spread back (without the rotation they would span 0.5-2).
    assert float(np.diag(cov).max() / np.diag(cov).min()) < 1.6
    # The same rotation in every call (and process): draws are reproducible.
    np.testing.assert_array_equal(spread_rotation(40, 4.0)[0], S)
    np.testing.assert_array_equal(spread_rotation(40, 1.0)[0], np.eye(40))


def test_spread_metric_decorrelates_the_squares():
    """On a whitened target NUTS flips every direction together: the squares mix slowly.
    The spread metric raises the folded (scale) ESS, and samples the same posterior."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 30))
    y = rng.random(2000) < 1 / (1 + np.exp(-X @ rng.normal(scale=0.3, size=30)))
    model = bs.build_model(X, y.astype(int), kind="logistic")
    kw = {"draws": 1000, "tune": 1000, "chains": 2, "random_seed": 5, "warn": False}
    exact = bs.fit(model, "nuts", metric_spread=1.0, **kw)
    spread = bs.fit(model, "nuts", **kw)
    assert exact.posterior.attrs["metric_spread"] == 1.0
    assert spread.posterior.attrs["metric_spread"] == 4.0
    names = ["intercept", "coef"]

    def folded_ess(idata: xr.DataTree) -> float:
        post = idata.posterior.to_dataset()[names]
        values = ess(post, method="folded")
        return float(np.mean(np.concatenate([np.ravel(values[n].values) for n in names])))

    assert folded_ess(spread) > 1.2 * folded_ess(exact)
    _agree_within_mc_error(spread, exact, names)
