r"""Can an approximation's draws be used as they are? A verdict from importance sampling.

The question a user asks of a Laplace, ADVI or Pathfinder fit is whether its draws are close
enough to the posterior to be used as they are. The Pareto :math:`\hat k` of q's own
importance ratios :math:`p/q` does not answer it: from 1,000 draws it is noisy, and
:math:`\hat k \le 0.7` says that importance sampling *can correct* q (Yao, Vehtari,
Simpson & Gelman 2018), not that q needs no correction (Laplace fits 0.4-0.7 posterior sd
off passed it); conversely a q whose bulk matches the posterior can have a heavy-tailed
:math:`p/q` (a skewed posterior's long tail against a Gaussian's), and fail it.

The verdict measures what the user cares about: the posterior's means and sds against the
approximation's. They are estimated by Pareto-smoothed importance sampling
(:func:`bayescore.inference.psis.psis`) from a *proposal built to estimate them*, not from q:
a defensive mixture of the approximation's Gaussian and a multivariate Student-t with the
same location and scale (:class:`Proposal`), whose t half covers tails heavier than q's (a
log-concave posterior's, or a Student-t prior's: :func:`proposal_nu`); when its ratios are
heavy-tailed or its ESS low, the proposal moves to the reweighted moments and the draws are
taken again (adaptive importance sampling, at most :data:`ROUNDS` rounds). With
normalised weights :math:`w_s` and the approximation's means :math:`m_j` and sds
:math:`s_j`,

.. math::

    \Delta_j = \frac{\sum_s w_s \theta_{sj} - m_j}{s_j}, \qquad
    \rho_j = \frac{\big(\sum_s w_s (\theta_{sj} - \hat\mu_j)^2\big)^{1/2}}{s_j},

with Monte Carlo SEs from the self-normalised estimator's delta method. Then

- **not usable** when the final proposal's :math:`\hat k > 0.7` or its ESS is below
  :data:`ESS_MIN`: the posterior's moments cannot be estimated reliably, nothing is verified;
- **usable as is** when every :math:`|\Delta_j| \le 0.2` and :math:`0.8 \le \rho_j \le 1.25`
  (the draws' means within a fifth of an sd, their sds within 20-25 %);
- **usable after reweighting** otherwise: the importance-resampled draws
  (:func:`bayescore.reweight`) are the posterior to use.

The first evaluation takes :data:`MIN_DRAWS` draws; while the decision is within two Monte
Carlo errors of a threshold the draws are doubled (up to :data:`MAX_DRAWS`), and a decision
still that close is reported as borderline. The thresholds sit between "accurate" (means
within 0.1 sd, sds within 15 %) and "off" (0.3 sd, 30 %) and were checked against long NUTS
runs on simulated and real data (``benchmarks/bench_verdict.py``; its table is in the
inference guide).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from bayescore._progress import Task, current
from bayescore.inference.psis import psis
from bayescore.models import ModelSpec

__all__ = [
    "ESS_MIN",
    "K_MAX",
    "MAX_DRAWS",
    "MIN_DRAWS",
    "NU",
    "SD_RATIO",
    "SHIFT_MAX",
    "Density",
    "ImportanceSample",
    "Proposal",
    "Verdict",
    "judge",
    "weighted_moments",
    "posterior_sample",
    "proposal_nu",
]

Floats = NDArray[np.float64]

#: Largest Pareto k-hat for which importance sampling is trusted.
K_MAX = 0.7
#: Smallest importance-sampling ESS for which the posterior's moments are estimated.
ESS_MIN = 100.0
#: Largest shift of a posterior mean from the approximation's, in its sd, for "as is".
SHIFT_MAX = 0.2
#: Range of the ratio of a posterior sd to the approximation's for "as is".
SD_RATIO = (0.8, 1.25)
#: Degrees of freedom of the proposal's Student-t half.
NU = 5.0
#: Rounds of adaptive importance sampling (the proposal moved to the reweighted moments).
ROUNDS = 3
#: Draws of a first evaluation and the most an evaluation grows to.
MIN_DRAWS = 1000
MAX_DRAWS = 32000

Decision = Literal["usable as is", "usable after reweighting", "not usable"]


class Density(Protocol):
    """The log densities an approximation is judged by, at each row of ``(M, P)`` points.

    A density whose log-likelihoods are estimated (a row subsample:
    :class:`~bayescore.inference.subsample.SubsampledLikelihood`) also carries ``error``,
    their RMS error in nats near the approximation, and ``exact``, the density it estimates:
    :func:`judge` reads both.
    """

    def log_likelihood(self, theta: Floats) -> Floats:
        """``log p(y | theta)``, (M,)."""
        ...

    def log_prior(self, theta: Floats) -> Floats:
        """Normalised ``log p(theta)``, (M,)."""
        ...


@dataclass(frozen=True)
class Proposal:
    r"""The defensive mixture :math:`r = \tfrac12 N(\mu, LL^\top) + \tfrac12 t_\nu(\mu, LL^\top)`.

    The Gaussian half keeps the ratios :math:`p/r` nearly flat when the approximation is
    close (a Student-t alone wastes draws in its wide shells, more so in many dimensions);
    the Student-t half covers tails heavier than the approximation's, so :math:`p/r \le
    2\,p/t_\nu` there (Hesterberg 1995, defensive importance sampling).

    Examples
    --------
    >>> from scipy import stats
    >>> r = Proposal(np.zeros(2), np.diag([2.0, 0.5]), 5.0)
    >>> theta, log_r = r.draw(np.random.default_rng(0), 4)
    >>> cov = np.diag([4.0, 0.25])
    >>> ref = np.log(0.5 * stats.multivariate_normal(np.zeros(2), cov).pdf(theta)
    ...              + 0.5 * stats.multivariate_t(np.zeros(2), cov, df=5).pdf(theta))
    >>> np.allclose(log_r, ref)
    True
    """

    mean: Floats
    chol: Floats
    nu: float

    def draw(self, rng: np.random.Generator, n: int) -> tuple[Floats, Floats]:
        """``n`` draws (n, P) and the log density of each."""
        p = self.mean.size
        u = rng.standard_normal((n, p))
        g = rng.chisquare(self.nu, n) / self.nu
        g[rng.random(n) < 0.5] = 1.0  # the Gaussian half
        theta = self.mean + (u @ self.chol.T) / np.sqrt(g)[:, None]
        d2 = np.einsum("ij,ij->i", u, u) / g  # squared Mahalanobis distance of theta
        logdet = 2.0 * float(np.log(np.diag(self.chol)).sum())
        log_t = (
            gammaln((self.nu + p) / 2)
            - gammaln(self.nu / 2)
            - 0.5 * p * np.log(self.nu * np.pi)
            - 0.5 * logdet
            - 0.5 * (self.nu + p) * np.log1p(d2 / self.nu)
        )
        log_n = -0.5 * (p * np.log(2 * np.pi) + logdet + d2)
        return theta, np.asarray(np.logaddexp(log_t, log_n) - np.log(2.0))


@dataclass(frozen=True)
class ImportanceSample:
    """Draws of a proposal reweighted to the posterior (PSIS).

    Attributes
    ----------
    theta : ndarray (S, P)
    log_ratios : ndarray (S,)
        ``log p(theta, y) - log r(theta)`` of the proposal r.
    log_weights : ndarray (S,)
        Pareto-smoothed, normalised.
    k_hat : float
    ess : float
        ``1 / sum w^2``.
    proposal : Proposal
    """

    theta: Floats
    log_ratios: Floats
    log_weights: Floats
    k_hat: float
    ess: float
    proposal: Proposal

    @property
    def reliable(self) -> bool:
        """Whether the weighted draws can stand for the posterior."""
        return bool(self.k_hat <= K_MAX and self.ess >= ESS_MIN)

    def moments(self) -> tuple[Floats, Floats, Floats, Floats]:
        """Posterior means and sds, and their Monte Carlo SEs (delta method)."""
        w = np.exp(self.log_weights)
        mean = w @ self.theta
        centred2 = (self.theta - mean) ** 2
        var = w @ centred2
        sd = np.sqrt(var)
        mean_se = np.sqrt((w**2) @ centred2)
        sd_se = np.sqrt((w**2) @ (centred2 - var) ** 2) / (2 * sd)
        return mean, sd, mean_se, sd_se


def _weigh(
    density: Density, proposal: Proposal, rng: np.random.Generator, n: int
) -> tuple[Floats, Floats]:
    theta, log_r = proposal.draw(rng, n)
    return theta, density.log_likelihood(theta) + density.log_prior(theta) - log_r


def _sample(theta: Floats, log_ratios: Floats, proposal: Proposal) -> ImportanceSample:
    log_w, k = psis(log_ratios)
    ess = float(1.0 / np.exp(2 * log_w).sum()) if np.isfinite(k) else 0.0
    return ImportanceSample(theta, log_ratios, log_w, k, ess, proposal)


def proposal_nu(spec: ModelSpec) -> float:
    """Degrees of freedom of the proposal's t half: :data:`NU`, or fewer under a t prior.

    Where the likelihood is flat (a constant column, a direction the data do not inform)
    the posterior keeps its prior's tails; a proposal with as many degrees of freedom as a
    Student-t prior covers them (the ratio of the two densities stays bounded).
    """
    return min(NU, spec.prior_nu) if spec.prior == "student_t" else NU


def weighted_moments(theta: Floats, weights: Floats) -> tuple[Floats, Floats]:
    """Mean and covariance of draws ``theta`` (S, P) under normalised ``weights`` (S,).

    Examples
    --------
    >>> theta = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> mean, cov = weighted_moments(theta, np.array([0.5, 0.5]))
    >>> mean.tolist(), cov.tolist()
    ([1.0, 2.0], [[1.0, 1.0], [1.0, 1.0]])
    """
    mean = weights @ theta
    diff = theta - mean
    return mean, (diff.T * weights) @ diff


def posterior_sample(
    density: Density,
    mean: Floats,
    cov: Floats,
    rng: np.random.Generator,
    n: int = MIN_DRAWS,
    *,
    nu: float = NU,
) -> ImportanceSample:
    """Importance draws of the posterior from a proposal started at ``(mean, cov)``.

    Up to :data:`ROUNDS` rounds: while the ratios are heavy-tailed or the ESS is low, and
    the ESS suffices to estimate a covariance (ten per parameter), the proposal moves to the
    reweighted mean and covariance (sds inflated by 1.2). The round with the largest ESS is
    kept.
    """
    p = mean.size
    proposal = Proposal(np.asarray(mean, float), np.linalg.cholesky(cov), nu)
    best = sample = _sample(*_weigh(density, proposal, rng, n), proposal)
    for _ in range(ROUNDS - 1):
        if sample.k_hat <= 0.5 and sample.ess >= n / 4:
            break
        if not (np.isfinite(sample.k_hat) and sample.ess >= 10 * p):
            break
        centre, cov = weighted_moments(sample.theta, np.exp(sample.log_weights))
        scale = np.linalg.cholesky(1.44 * cov + 1e-12 * np.eye(p))
        proposal = Proposal(centre, scale, nu)
        sample = _sample(*_weigh(density, proposal, rng, n), proposal)
        if sample.ess > best.ess:
            best = sample
    return best


@dataclass(frozen=True)
class Verdict:
    """Whether an approximation's draws can be used as they are, and the evidence.

    Attributes
    ----------
    decision : {"usable as is", "usable after reweighting", "not usable"}
    k_hat : float
        Pareto k-hat of the final proposal's importance ratios.
    k_hat_spread : float
        Its Monte Carlo spread: the sd of k-hat over four disjoint quarters of the draws,
        halved (the sd of their mean).
    ess : float
        Importance-sampling effective sample size of the final proposal.
    n_draws : int
        Draws of the final proposal.
    mean_shift : float
        Largest ``|Delta_j|``: a posterior mean's distance from the approximation's, in the
        approximation's sd (NaN when the moments could not be estimated).
    mean_shift_se : float
        Its Monte Carlo SE.
    sd_ratio_low, sd_ratio_high : float
        Smallest and largest posterior sd over the approximation's.
    worst : int
        Flat index of the parameter with the largest shift (-1 when not computed).
    borderline : bool
        The decision is within two Monte Carlo errors of a threshold: another seed could
        flip it.
    reweighted : bool
        The judged draws were already reweighted towards the posterior.
    """

    decision: Decision
    k_hat: float
    k_hat_spread: float
    ess: float
    n_draws: int
    mean_shift: float = np.nan
    mean_shift_se: float = np.nan
    sd_ratio_low: float = np.nan
    sd_ratio_high: float = np.nan
    worst: int = -1
    borderline: bool = False
    reweighted: bool = False

    @property
    def usable(self) -> bool:
        """Whether the draws can be used as they are."""
        return self.decision == "usable as is"


def _k_hat_spread(sample: ImportanceSample) -> float:
    quarters = np.array_split(sample.log_ratios, 4)
    ks = np.array([psis(q)[1] for q in quarters])
    return float(np.std(ks, ddof=1) / 2.0) if np.isfinite(ks).all() else np.nan


def _decide(
    sample: ImportanceSample,
    mean: Floats,
    sd: Floats,
    own_se: float,
    reweighted: bool,
    error: float = 0.0,
) -> tuple[Verdict, bool]:
    """The verdict on ``sample``, and whether a log-likelihood ``error`` could flip it.

    ``error`` is the RMS error (nats) of the log-likelihood estimates behind the ratios: it
    moves a weighted mean by at most ``error`` posterior sds and a weighted sd by about
    ``error / sqrt(2)`` of itself (Cauchy-Schwarz; the second for near-Gaussian draws).
    """
    spread = _k_hat_spread(sample)
    n = int(sample.theta.shape[0])
    near_k = bool(abs(sample.k_hat - K_MAX) < 2 * spread)
    if not sample.reliable:
        near_ess = bool(abs(sample.ess - ESS_MIN) < 0.2 * ESS_MIN)
        verdict = Verdict(
            "not usable",
            sample.k_hat,
            spread,
            sample.ess,
            n,
            borderline=near_k or near_ess,
            reweighted=reweighted,
        )
        return verdict, error > 0
    post_mean, post_sd, mean_se, sd_se = sample.moments()
    shift = (post_mean - mean) / sd
    shift_se = np.hypot(mean_se / sd, own_se)
    ratio = post_sd / sd
    ratio_se = np.hypot(sd_se / sd, own_se * ratio / np.sqrt(2))
    worst = int(np.argmax(np.abs(shift)))
    low, high = float(ratio.min()), float(ratio.max())
    close = bool(np.all(np.abs(shift) <= SHIFT_MAX)) and SD_RATIO[0] <= low and high <= SD_RATIO[1]
    near = bool(
        np.any(np.abs(np.abs(shift) - SHIFT_MAX) < 2 * shift_se)
        or np.any(np.abs(ratio - SD_RATIO[0]) < 2 * ratio_se)
        or np.any(np.abs(ratio - SD_RATIO[1]) < 2 * ratio_se)
    )
    # Where k-hat and the ESS are near their limits the draws' ratios themselves are in
    # doubt: with estimated log-likelihoods, look again on every row.
    doubtful_tail = abs(sample.k_hat - K_MAX) < 0.1 or sample.ess < 2 * ESS_MIN
    moved = error * ratio  # the most the error can move each shift; sd ratios move 1/sqrt(2) of it
    flippable = error > 0 and bool(
        doubtful_tail
        or np.any(np.abs(np.abs(shift) - SHIFT_MAX) < moved)
        or np.any(np.abs(ratio - SD_RATIO[0]) < moved / np.sqrt(2))
        or np.any(np.abs(ratio - SD_RATIO[1]) < moved / np.sqrt(2))
    )
    verdict = Verdict(
        "usable as is" if close else "usable after reweighting",
        sample.k_hat,
        spread,
        sample.ess,
        n,
        mean_shift=float(np.abs(shift[worst])),
        mean_shift_se=float(shift_se[worst]),
        sd_ratio_low=low,
        sd_ratio_high=high,
        worst=worst,
        borderline=near or near_k,
        reweighted=reweighted,
    )
    return verdict, flippable


def judge(
    density: Density,
    mean: Floats,
    cov: Floats,
    rng: np.random.Generator,
    *,
    sample_size: float | None = None,
    reweighted: bool = False,
    nu: float = NU,
    min_draws: int = MIN_DRAWS,
    max_draws: int = MAX_DRAWS,
    error: float | None = None,
    exact: Density | None = None,
) -> Verdict:
    """The verdict on an approximation with means ``mean`` and covariance ``cov``.

    Parameters
    ----------
    density : Density
        The model's log likelihood and normalised log prior at flat points.
    mean, cov : ndarray (P,), (P, P)
        The approximation's moments: exact for a Gaussian q, or those of its draws.
    rng : numpy.random.Generator
    sample_size : float, optional
        When ``mean`` and ``cov`` come from draws: their effective number, whose own Monte
        Carlo error then enters the comparison.
    reweighted : bool, default False
        The draws were already reweighted towards the posterior (recorded in the verdict).
    nu : float, default NU
        Degrees of freedom of the proposal's t half (:func:`proposal_nu`).
    min_draws, max_draws : int
        Draws of the first evaluation, and the most the doubling of borderline ones reaches.
    error : float, optional
        RMS error (nats) of ``density``'s log-likelihoods near ``mean``; by default the
        density's own ``error`` (0 for exact sums).
    exact : Density, optional
        The exact density, by default the density's own ``exact``: when the estimates'
        ``error`` could flip the decision (a shift or sd ratio within the error's reach of a
        threshold, k-hat within 0.1 of :data:`K_MAX`, or a low ESS), the verdict is taken
        again with it.

    Examples
    --------
    >>> class Normal:                        # posterior N((0.5, 0), I)
    ...     def log_likelihood(self, t): return -0.5 * ((t - [0.5, 0.0]) ** 2).sum(1)
    ...     def log_prior(self, t): return np.zeros(len(t))
    >>> rng = np.random.default_rng(0)
    >>> judge(Normal(), np.zeros(2), np.eye(2), rng).decision        # q = N(0, I)
    'usable after reweighting'
    >>> judge(Normal(), np.array([0.5, 0.0]), np.eye(2), rng).decision
    'usable as is'
    """
    sd = np.sqrt(np.diag(cov))
    own_se = 0.0 if sample_size is None else 1.0 / np.sqrt(sample_size)
    error = float(getattr(density, "error", 0.0)) if error is None else error
    exact = getattr(density, "exact", None) if exact is None else exact
    args = (mean, cov, sd, own_se, rng, reweighted, nu, min_draws, max_draws)
    with current().phase("checking the approximation (importance sampling)") as task:
        verdict, flippable = _judge(density, *args, task, error)
        if flippable and exact is not None:
            verdict, _ = _judge(exact, *args, task, 0.0)
    return verdict


def _judge(
    density: Density,
    mean: Floats,
    cov: Floats,
    sd: Floats,
    own_se: float,
    rng: np.random.Generator,
    reweighted: bool,
    nu: float,
    min_draws: int,
    max_draws: int,
    task: Task,
    error: float,
) -> tuple[Verdict, bool]:
    sample = posterior_sample(density, mean, cov, rng, min_draws, nu=nu)
    verdict, flippable = _decide(sample, mean, sd, own_se, reweighted, error)
    task.advance(sample.theta.shape[0], note=f"k-hat {verdict.k_hat:.2f}, ESS {verdict.ess:.0f}")
    while verdict.borderline and sample.theta.shape[0] < max_draws:
        # Twice the draws of the final proposal: the proposal is kept, its estimate refined.
        theta, log_r = _weigh(density, sample.proposal, rng, sample.theta.shape[0])
        theta = np.concatenate([sample.theta, theta])
        sample = _sample(theta, np.concatenate([sample.log_ratios, log_r]), sample.proposal)
        verdict, flippable = _decide(sample, mean, sd, own_se, reweighted, error)
        task.advance(log_r.size, note=f"k-hat {verdict.k_hat:.2f}, ESS {verdict.ess:.0f}")
    return verdict, flippable
