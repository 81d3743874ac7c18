"""method="auto": Laplace when its verdict allows, else NUTS from the same mode."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bayescore as bs


def _logistic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ [1.5, -1.0, 0.5] + rng.logistic(size=n) > 0).astype(int)
    return X, y


def test_large_n_takes_laplace_and_gives_its_draws():
    """At N = 5,000 the posterior is Gaussian to the verdict's tolerance: the fit is the
    Laplace fit's draws (same seed), moved to the posterior mean to second order, and the
    choice is recorded."""
    from bayescore.inference.laplace import find_mode, second_order_mean
    from bayescore.inference.posterior import Posterior
    from bayescore.models import model_spec

    model = bs.build_model(*_logistic(5000))
    auto = bs.fit(model, random_seed=3, warn=False)
    laplace = bs.fit(model, "laplace", random_seed=3, warn=False)
    assert auto.posterior.attrs["bayescore_method"] == "laplace"
    record = json.loads(auto.posterior.attrs["bayescore_auto"])
    assert record["choice"] == "laplace" and record["laplace_verdict"] == "usable as is"
    assert record["centred_at_posterior_mean"] and 0.01 < record["mean_correction"] < 0.2
    post = Posterior(model_spec(model))
    mode = find_mode(post)
    moved = second_order_mean(post, mode) - mode.theta
    shift = (auto.posterior["coef"] - laplace.posterior["coef"]).values.reshape(-1, 3)
    np.testing.assert_allclose(shift, np.broadcast_to(moved[1:], shift.shape), atol=1e-10)
    d = bs.diagnose(auto)
    assert d.ok and d.auto["choice"] == "laplace" and "method='auto' chose laplace" in str(d)


def test_small_skewed_data_take_nuts_warm_started_from_the_same_mode():
    """At N = 40 a mean is ~0.5 sd from the Laplace Gaussian: NUTS runs, from the mode the
    Laplace step found, so its draws are those of method="nuts" with the same seed."""
    model = bs.build_model(*_logistic(40))
    kw = {"draws": 200, "tune": 200, "random_seed": 5, "warn": False}
    auto = bs.fit(model, **kw)
    nuts = bs.fit(model, "nuts", **kw)
    assert auto.posterior.attrs["bayescore_method"] == "nuts"
    assert auto.posterior.attrs["bayescore_warm_start"] == "laplace"
    np.testing.assert_array_equal(auto.posterior["coef"], nuts.posterior["coef"])
    record = json.loads(auto.posterior.attrs["bayescore_auto"])
    assert record["choice"] == "nuts" and record["laplace_verdict"] != "usable as is"
    assert record["mean_shift"] > 0.2 and "sd from the Laplace Gaussian" in record["reason"]


def _grid_posterior_moments(model) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and sds of a two-parameter model by quadrature (401 x 401 points
    over +-9 Laplace sds): the exact answer, independent of any sampler."""
    from bayescore.inference.laplace import find_mode
    from bayescore.inference.posterior import Posterior
    from bayescore.models import model_spec

    post = Posterior(model_spec(model))
    mode = find_mode(post)
    sd = np.sqrt(np.diag(mode.covariance()))
    axes = [m + s * np.linspace(-9.0, 9.0, 401) for m, s in zip(mode.theta, sd, strict=True)]
    theta = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    log_p = post.log_joint(theta)
    w = np.exp(log_p - log_p.max())
    w /= w.sum()
    mean = w @ theta
    return mean, np.sqrt(w @ (theta - mean) ** 2)


def test_a_skewed_posterior_gets_the_gaussian_centred_at_its_mean():
    """N = 150, one feature: the mode lies ~0.17 sd from the posterior mean, usable as is
    but not accurate. auto centres the Gaussian at the second-order posterior mean, and its
    draws' means come within 0.08 sd of the exact (quadrature) means (2,000 draws: Monte
    Carlo error ~0.02 sd), where the Laplace fit's are over 0.1 sd off."""
    from bayescore.inference.tree import flat_draws, spec_from_tree

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 1))
    y = (rng.random(150) < 1 / (1 + np.exp(-(1.0 + 2.0 * X[:, 0])))).astype(int)
    model = bs.build_model(X, y)
    mean, sd = _grid_posterior_moments(model)

    def error(fit) -> np.ndarray:
        draws = flat_draws(spec_from_tree(fit), fit["posterior"].to_dataset())
        return np.abs(draws.reshape(-1, 2).mean(axis=0) - mean) / sd

    auto = bs.fit(model, draws=2000, random_seed=1, warn=False)
    laplace = bs.fit(model, "laplace", draws=2000, random_seed=1, warn=False)
    record = json.loads(auto.posterior.attrs["bayescore_auto"])
    assert record["choice"] == "laplace" and record["centred_at_posterior_mean"]
    assert record["mean_correction"] > 0.1
    assert error(laplace).max() > 0.1
    assert error(auto).max() < 0.08
    d = bs.diagnose(auto)
    assert d.ok and d.verdict.decision == "usable as is"


@pytest.mark.parametrize("n", [50, 150, 400])
def test_second_order_mean_is_the_exact_posterior_mean(n):
    """Logistic regression, one feature, against quadrature: the mode is 0.07-0.3 sd off,
    the second-order mean within 0.01 sd (deterministic, no Monte Carlo error)."""
    from bayescore.inference.laplace import find_mode, second_order_mean
    from bayescore.inference.posterior import Posterior
    from bayescore.models import model_spec

    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 1))
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.0 + 2.0 * X[:, 0])))).astype(int)
    model = bs.build_model(X, y)
    mean, sd = _grid_posterior_moments(model)
    post = Posterior(model_spec(model))
    mode = find_mode(post)
    assert (np.abs(mode.theta - mean) / sd).max() > 0.1
    assert (np.abs(second_order_mean(post, mode) - mean) / sd).max() < 0.01


def test_models_outside_the_closed_form_go_to_nuts():
    X, y = _logistic(60)
    model = bs.build_model(
        X, np.where(y == 1, "b", np.where(X[:, 2] > 0, "a", "c")), kind="softmax", coding="zerosum"
    )
    fit = bs.fit(model, draws=50, tune=50, chains=1, random_seed=0, warn=False)
    record = json.loads(fit.posterior.attrs["bayescore_auto"])
    assert record["choice"] == "nuts" and "closed form" in record["reason"]
    assert fit.posterior.attrs["bayescore_sampler"] == "pymc"


def test_estimators_default_to_auto_and_take_nuts_options():
    clf = bs.BayesianLogisticClassifier()
    assert clf.get_params()["method"] == "auto"
    X, y = _logistic(3000)
    clf = bs.BayesianLogisticClassifier(target_accept=0.9, random_seed=0).fit(X, y)
    assert clf.idata_.posterior.attrs["bayescore_method"] == "laplace"
    with pytest.raises(ValueError, match="unknown options \\['tol'\\]"):
        bs.fit(bs.build_model(X, y), tol=1e-3)
