"""The subsampled log-likelihood of many draws: close to the exact sums, honest about its error.

The reference is always the exact log-likelihood summed over every row
(:meth:`Posterior.log_likelihood`, itself checked against PyMC in test_posterior).
"""

from __future__ import annotations

import numpy as np
import pytest

from bayescore.inference.laplace import find_mode
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import elbo_of_gaussians
from bayescore.inference.subsample import (
    BUDGET,
    FAR,
    MIN_ROWS,
    ROWS,
    SubsampledLikelihood,
    draws_density,
)
from bayescore.inference.verdict import judge
from bayescore.models import make_spec


def _posterior(n: int, k: int, d: int = 5, seed: int = 0) -> Posterior:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 3.0 + 10.0
    B = rng.normal(scale=0.4, size=(d, k))
    logits = ((X - 10.0) / 3.0) @ B
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    kind = "logistic" if k == 2 else "softmax"
    return Posterior(make_spec(X, y.astype(np.int64), np.arange(k), kind=kind))


@pytest.fixture(scope="module")
def logistic():
    post = _posterior(150_000, 2)
    return post, find_mode(post)


@pytest.mark.parametrize("k", [2, 3])
def test_estimates_are_within_their_se_of_the_exact_sums(k, logistic):
    post, mode = logistic if k == 2 else (p := _posterior(60_000, 3), find_mode(p))
    rng = np.random.default_rng(1)
    lik = SubsampledLikelihood(post, mode.theta, mode.precision, rng, rows=10_000)
    q = mode.gaussian()
    theta = q.draw(rng, 300)[0]
    estimate, se = lik.estimate(theta)
    exact = post.log_likelihood(theta)
    z = (estimate - exact) / se
    # At draws of the Laplace Gaussian the error is a few thousandths of a nat, and the SE
    # says how large: standardised errors have unit spread and no outliers.
    assert np.abs(estimate - exact).max() < 0.01
    assert 0.7 < np.sqrt(np.mean(z**2)) < 1.3
    assert np.abs(z).max() < 5.0


def test_the_estimate_is_unbiased_over_subsamples(logistic):
    post, mode = logistic
    q = mode.gaussian()
    # A point 2.5 sd out in every coordinate, where the Taylor expansion is poor.
    far = (q.mean + 2.5 * np.sqrt(np.diag(q.cov)))[None]
    exact = float(post.log_likelihood(far)[0])
    estimates = np.array(
        [
            SubsampledLikelihood(
                post, mode.theta, mode.precision, np.random.default_rng(seed), rows=2_000
            ).estimate(far)[0][0]
            for seed in range(40)
        ]
    )
    assert abs(estimates.mean() - exact) < 3.5 * estimates.std(ddof=1) / np.sqrt(40)
    assert estimates.std(ddof=1) > 0  # not the exact value by construction


def test_draws_whose_error_is_not_small_are_recomputed_exactly(logistic):
    post, mode = logistic
    lik = SubsampledLikelihood(post, mode.theta, mode.precision, np.random.default_rng(2))
    q = mode.gaussian()
    sd = np.sqrt(np.diag(q.cov))
    theta = np.stack([q.mean, q.mean + 40 * sd])  # the mode, and a point far in the tails
    _, se = lik.estimate(theta)
    assert se[0] < FAR < se[1]
    values = lik.log_likelihood(theta)
    assert lik.n_exact == 1
    assert values[1] == pytest.approx(float(post.log_likelihood(theta[1:])[0]), abs=1e-6)
    assert values[0] == pytest.approx(float(post.log_likelihood(theta[:1])[0]), abs=1e-6)


def test_elbo_and_verdict_agree_with_the_exact_likelihood_within_the_error(logistic):
    post, mode = logistic
    q = mode.gaussian()
    rng = np.random.default_rng(3)
    z, log_q = q.draw(rng, 1000)
    lik = draws_density(post, mode.theta, np.random.default_rng(4), mode.precision)
    assert isinstance(lik, SubsampledLikelihood) and 0 < lik.error <= 1.25 * BUDGET
    variance = post.prior.variance()
    sub, sub_ratios = elbo_of_gaussians(
        lik, [q], z, log_q, prior_variance=variance, flat_prior=False
    )
    full, full_ratios = elbo_of_gaussians(
        post, [q], z, log_q, prior_variance=variance, flat_prior=False
    )
    # The measured error is the RMS of the estimates' errors at q's draws.
    rms = float(np.sqrt(np.mean((sub_ratios - full_ratios) ** 2)))
    assert 0.5 * lik.error < rms < 2.0 * lik.error
    assert sub.elbo == pytest.approx(full.elbo, abs=lik.error)
    assert sub.pareto_k == pytest.approx(full.pareto_k, abs=0.05)
    # Same seed, same proposal draws: the estimates move the verdict's moments by less
    # than the bound the verdict allows for (error x sd ratio), and not to another decision.
    a = judge(lik, q.mean, q.cov, np.random.default_rng(5))
    b = judge(post, q.mean, q.cov, np.random.default_rng(5))
    assert a.decision == b.decision == "usable as is"
    assert a.mean_shift == pytest.approx(b.mean_shift, abs=lik.error * b.sd_ratio_high)
    assert a.sd_ratio_high == pytest.approx(b.sd_ratio_high, abs=lik.error * b.sd_ratio_high)


class _Counted:
    """The exact posterior, counting the draws whose log-likelihood it is asked for."""

    def __init__(self, post: Posterior) -> None:
        self.post, self.draws = post, 0

    def log_likelihood(self, theta: np.ndarray) -> np.ndarray:
        self.draws += len(theta)
        return self.post.log_likelihood(theta)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        return self.post.log_prior(theta)


def test_the_verdict_is_taken_on_every_row_when_the_error_could_flip_it(logistic):
    post, mode = logistic
    q = mode.gaussian()
    lik = draws_density(post, mode.theta, np.random.default_rng(4), mode.precision)
    clear = judge(lik, q.mean, q.cov, np.random.default_rng(5))
    assert clear.mean_shift < 0.1  # far from the 0.2 sd threshold
    # An error within reach of the threshold sends the verdict to the exact sums ...
    exact = _Counted(post)
    near = 1.5 * (0.2 - clear.mean_shift)  # the sd ratios near 1 scale it by at least 0.9
    verdict = judge(lik, q.mean, q.cov, np.random.default_rng(5), error=near, exact=exact)
    assert exact.draws >= 1000
    reference = judge(post, q.mean, q.cov, np.random.default_rng(5))
    assert verdict.decision == reference.decision
    # ... one the decision's margin dwarfs does not.
    exact = _Counted(post)
    judge(lik, q.mean, q.cov, np.random.default_rng(5), error=lik.error, exact=exact)
    assert lik.error < 0.2 - clear.mean_shift and exact.draws == 0


def test_small_data_are_summed_whole_and_the_caller_rng_is_untouched(logistic):
    post, mode = logistic
    small = _posterior(2_000, 2)
    rng = np.random.default_rng(6)
    assert draws_density(small, np.zeros(small.size), rng) is small
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    assert post.n_obs >= MIN_ROWS
    density = draws_density(post, mode.theta, a, mode.precision)
    assert isinstance(density, SubsampledLikelihood) and ROWS <= density.n_rows < post.n_obs
    assert a.random() == b.random()  # the subsample came from a spawned stream


def test_a_subsample_of_a_dask_array_is_the_same_rows():
    da = pytest.importorskip("dask.array")
    import dask

    from bayescore.inference.cluster import PartitionedRows
    from bayescore.inference.rows import InMemoryRows

    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(1_000, 3)), rng.integers(0, 2, size=1_000)
    spec = make_spec(X, y, np.arange(2))
    index = np.sort(rng.choice(1_000, size=137, replace=False))
    with dask.config.set(scheduler="synchronous"):
        rows = PartitionedRows(
            da.from_array(X, chunks=90), da.from_array(y, chunks=90), spec.standardization
        )
        taken = rows.take(index)
    local = InMemoryRows(X[index], y[index], spec.standardization)
    [(ZT, labels)] = list(taken.designs())
    [(ZT_ref, labels_ref)] = list(local.designs())
    np.testing.assert_array_equal(ZT, ZT_ref)
    np.testing.assert_array_equal(labels.y, labels_ref.y)
