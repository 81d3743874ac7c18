"""The verdict on approximations: against a long NUTS run, by hand, across seeds, in files.

References: a long NUTS run of the same model (4 chains x 4,000 draws), closed-form
Gaussian targets, and scipy's densities.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayescore as bs
from bayescore.inference.verdict import (
    SD_RATIO,
    SHIFT_MAX,
    judge,
    posterior_sample,
)


class Gaussian:
    """A posterior N(m, S) as a density (log likelihood + a flat prior)."""

    def __init__(self, mean, cov):
        self.mean, self.prec = np.asarray(mean, float), np.linalg.inv(cov)

    def log_likelihood(self, theta):
        d = theta - self.mean
        return -0.5 * np.einsum("ij,jk,ik->i", d, self.prec, d)

    def log_prior(self, theta):
        return np.zeros(theta.shape[0])


@pytest.mark.parametrize(
    ("shift", "scale", "decision"),
    [
        (0.0, 1.0, "usable as is"),
        (0.1, 1.1, "usable as is"),
        (0.35, 1.0, "usable after reweighting"),  # a mean off by 0.35 sd
        (0.0, 1.5, "usable after reweighting"),  # q too narrow by 1.5
        (0.0, 0.6, "usable after reweighting"),  # q too wide
    ],
)
def test_decision_on_known_gaussian_targets(shift, scale, decision):
    """q = N(0, I) against p = N((shift, 0, 0), diag(scale^2, 1, 1)): the estimated moments
    are the known ones within their Monte Carlo error, and the decision follows the rule."""
    p = Gaussian([shift, 0.0, 0.0], np.diag([scale**2, 1.0, 1.0]))
    v = judge(p, np.zeros(3), np.eye(3), np.random.default_rng(0))
    assert v.decision == decision
    assert v.k_hat < 0.7 and v.ess > 200
    assert abs(v.mean_shift - shift) < 4 * v.mean_shift_se + 0.02
    assert v.sd_ratio_low == pytest.approx(min(scale, 1.0), abs=0.08)
    assert v.sd_ratio_high == pytest.approx(max(scale, 1.0), abs=0.08)


def test_importance_sample_reaches_a_far_posterior_by_adapting():
    """q 3 sd off and 3 times too narrow: the first proposal's weights collapse, the adapted
    proposal finds the posterior's moments."""
    p = Gaussian([3.0, -1.0], np.diag([9.0, 1.0]))
    sample = posterior_sample(p, np.zeros(2), 0.5 * np.eye(2), np.random.default_rng(1), 4000)
    mean, sd, mean_se, _ = sample.moments()
    assert sample.reliable
    np.testing.assert_allclose(mean, [3.0, -1.0], atol=4 * mean_se.max() + 0.02)
    np.testing.assert_allclose(sd, [3.0, 1.0], rtol=0.06)


@pytest.fixture(scope="module")
def skewed():
    """40 rows, 2 features: the Laplace approximation is about 0.4 sd off (a skewed
    posterior); the reference is a long NUTS run."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 2))
    y = (1.5 * X[:, 0] - 1.0 * X[:, 1] + rng.logistic(size=40) > 0).astype(int)
    model = bs.build_model(X, y)
    ref = bs.fit(model, "nuts", draws=4000, tune=1000, chains=4, random_seed=1, warn=False)
    return model, _flat(ref)


def _flat(idata) -> np.ndarray:
    post = idata.posterior
    return np.column_stack([post["intercept"].values.ravel(), post["coef"].values.reshape(-1, 2)])


def _errors(draws: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    err = np.abs(draws.mean(0) - ref.mean(0)) / ref.std(0)
    ratio = draws.std(0) / ref.std(0)
    return float(err.max()), float(ratio.min()), float(ratio.max())


def test_off_laplace_is_usable_after_reweighting_and_the_reweighted_draws_are_right(skewed):
    model, ref = skewed
    lap = bs.fit(model, "laplace", draws=1000, random_seed=0, warn=False)
    err, _, _ = _errors(_flat(lap), ref)
    assert err > 0.3  # the raw draws are off
    d = bs.diagnose(lap)
    assert not d.ok and d.verdict.decision == "usable after reweighting"
    assert d.verdict.mean_shift == pytest.approx(err, abs=0.1)
    assert any("bs.reweight(fit)" in m and "coef[x0]" in m for m in d.messages), d.messages
    better = bs.reweight(lap, random_seed=3)
    err, low, high = _errors(_flat(better), ref)
    assert err < 0.1 and 0.9 < low and high < 1.1  # the reweighted draws are the posterior
    again = bs.diagnose(better)
    assert again.ok and again.verdict.reweighted and again.verdict.usable
    assert bool(better.variational.attrs["reweighted"])


def test_the_verdict_does_not_depend_on_the_seed_far_from_its_threshold(skewed):
    """Laplace's q does not depend on the seed; the verdict's own draws do: ten seeds, one
    decision (or a borderline flag)."""
    model, _ = skewed
    verdicts = [
        bs.diagnose(bs.fit(model, "laplace", draws=100, random_seed=s, warn=False)).verdict
        for s in range(10)
    ]
    decisions = {v.decision for v in verdicts}
    assert decisions == {"usable after reweighting"} or any(v.borderline for v in verdicts)
    shifts = [v.mean_shift for v in verdicts]
    assert np.std(shifts) < 3 * np.mean([v.mean_shift_se for v in verdicts])


def test_accurate_fit_is_usable_as_is_and_the_verdict_survives_a_file(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 3))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(0.2 + X @ [0.5, -0.3, 0.1])))).astype(int)
    fit = bs.fit(bs.build_model(X, y), "laplace", draws=200, random_seed=0, warn=False)
    d = bs.diagnose(fit)
    assert d.ok and d.verdict.usable and d.verdict.mean_shift < SHIFT_MAX
    assert SD_RATIO[0] < d.verdict.sd_ratio_low and d.verdict.sd_ratio_high < SD_RATIO[1]
    assert {"pareto_k", "is_ess", "mean_shift_max", "sd_ratio_min", "sd_ratio_max"} <= set(
        d.table["check"].values
    )
    bs.save(fit, tmp_path / "fit.nc")
    assert bs.diagnose(bs.load(tmp_path / "fit.nc")).verdict == d.verdict


def test_reweight_refuses_what_it_cannot_do():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = (X[:, 0] > 0).astype(int)
    nuts = bs.fit(bs.build_model(X, y), "nuts", draws=20, tune=20, random_seed=0, warn=False)
    with pytest.raises(ValueError, match="reweight needs an approximate fit"):
        bs.reweight(nuts)
    lap = bs.fit(bs.build_model(X, y), "laplace", draws=20, random_seed=0, warn=False)
    with pytest.raises(ValueError, match="'draws' parameter of reweight must be an int >= 1"):
        bs.reweight(lap, draws=0)
