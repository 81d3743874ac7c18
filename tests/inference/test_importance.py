"""Importance ratios of an approximation's own draws, against scipy and PyMC by hand."""

from __future__ import annotations

import numpy as np
import pytest
from problems import make_data, pymc_point
from scipy import stats

import bayescore as bs
from bayescore.inference.importance import log_ratios


@pytest.mark.parametrize(
    ("method", "options"),
    [("laplace", {}), ("advi", {}), ("fullrank_advi", {}), ("pathfinder", {"num_paths": 1})],
)
def test_log_ratios_equal_pymc_log_joint_minus_scipy_log_q(method, options, tmp_path):
    """log p(theta, y) by PyMC's compiled graph (its own normalising constants) minus the
    recorded q's density by scipy, at the fit's draws; the same after a save and load."""
    X, y = make_data("softmax", n=150)
    model = bs.build_model(X, y, kind="softmax")
    fit = bs.fit(model, method, draws=60, random_seed=2, warn=False, **options)
    got = log_ratios(fit)
    assert got.dims == ("chain", "draw") and got.shape == (1, 60)
    vi = fit.variational
    mean, scale = vi["q_mean"].values, vi["q_scale"].values
    q = stats.multivariate_normal(mean, scale @ scale.T)
    logp = model.compile_logp()
    free = ["intercept_free", "coef_free"]
    theta = np.concatenate(
        [fit.posterior[free[0]].values[0], fit.posterior[free[1]].values[0].reshape(60, -1)],
        axis=1,
    )
    by_hand = np.array([float(logp(pymc_point(model, t))) for t in theta]) - q.logpdf(theta)
    # PyMC's graph carries its normalising constants in float32: compare up to a constant.
    diff = got.values[0] - by_hand
    np.testing.assert_allclose(diff - diff.mean(), 0.0, atol=1e-6)
    assert abs(diff.mean()) < 1e-3
    path = tmp_path / "fit.nc"
    bs.save(fit, path)
    np.testing.assert_allclose(log_ratios(bs.load(path).idata_), got, rtol=1e-12)


def test_no_ratios_for_exact_or_resampled_draws():
    X, y = make_data("logistic", n=100)
    model = bs.build_model(X, y)
    nuts = bs.fit(model, "nuts", draws=30, tune=30, random_seed=0, warn=False)
    pooled = bs.fit(model, "pathfinder", draws=30, random_seed=0, warn=False)
    assert log_ratios(nuts) is None
    assert log_ratios(pooled) is None and pooled.variational.attrs["resampled"] == 1
