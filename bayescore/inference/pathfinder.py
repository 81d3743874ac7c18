r"""Pathfinder's building blocks in numpy: the L-BFGS path and a Gaussian at every iterate.

Zhang, Carpenter, Gelman & Vehtari (2022), "Pathfinder: Parallel quasi-Newton variational
inference", JMLR 23(306), Algorithms 1, 3 and 4. L-BFGS minimises :math:`-\log p(\theta
\mid y)`; at iterate :math:`x_l` with :math:`g_l = \nabla \log p(x_l \mid y)` the last
:math:`m \le J` accepted position and gradient changes
:math:`s_i = x_{i} - x_{i-1}`, :math:`z_i = g_{i-1} - g_{i}` (the change of the gradient of
:math:`-\log p`) are kept as columns of :math:`S, Z \in \mathbb{R}^{P \times m}`, oldest
first. A pair is accepted when its curvature is positive and tame,
:math:`s^\top z > 0` and :math:`\|z\|^2 \le 10^{12}\, s^\top z` (as Stan does). The
diagonal :math:`\alpha` of the initial inverse Hessian follows the update of Gilbert &
Lemaréchal (1989, eq. 4.9) with each accepted pair,

.. math::

    \frac{1}{\alpha_{\mathrm{new}}} = \frac{z^\top \operatorname{diag}(\alpha) z}
    {s^\top z\;\alpha} + \frac{z^2}{s^\top z}
    - \frac{z^\top \operatorname{diag}(\alpha) z}{s^\top z}\,
    \frac{(s / \alpha)^2}{s^\top \operatorname{diag}(1/\alpha)\, s}

(elementwise), and the inverse Hessian is the compact L-BFGS form (Byrd, Nocedal &
Schnabel 1994) started at :math:`\operatorname{diag}(\alpha)`:

.. math::

    \Sigma = \operatorname{diag}(\alpha) + \beta \gamma \beta^\top, \quad
    \beta = [\operatorname{diag}(\alpha) Z,\; S], \quad
    \gamma = \begin{pmatrix} 0 & -R^{-1} \\ -R^{-\top} &
    R^{-\top}(E + Z^\top \operatorname{diag}(\alpha) Z) R^{-1} \end{pmatrix},

with :math:`R` the upper triangle of :math:`S^\top Z` and :math:`E` its diagonal: exactly
:math:`m` BFGS updates of :math:`\operatorname{diag}(\alpha)`. The iterate's Gaussian is
:math:`N(x_l + \Sigma g_l, \Sigma)`, drawn through the thin QR factorisation
:math:`\operatorname{diag}(\alpha)^{-1/2} \beta = Q R_\beta` and the Cholesky factor
:math:`L L^\top = I + R_\beta \gamma R_\beta^\top`:
:math:`\theta = \mu + \operatorname{diag}(\sqrt\alpha)\,(Q (L - I) Q^\top u + u)`,
:math:`\log\det\Sigma = \sum \log \alpha + 2 \sum \log L_{ii}` (Algorithm 4).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.linalg import solve_triangular
from scipy.optimize import OptimizeResult, minimize

from bayescore._progress import current
from bayescore._validation import Interval
from bayescore.inference.gaussian import Gaussian
from bayescore.inference.laplace import N_MC
from bayescore.inference.options import FitSettings, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.inference.psis import psis
from bayescore.inference.record import (
    Optimisation,
    PathRecord,
    VariationalRecord,
    elbo_of_gaussians,
)
from bayescore.inference.tree import approximation_tree
from bayescore.inference.verdict import judge, proposal_nu, weighted_moments
from bayescore.models import ModelSpec

__all__ = [
    "Iterate",
    "LBFGSPath",
    "PathResult",
    "PathfinderOptions",
    "fit_pathfinder",
    "gaussian_at",
    "inverse_hessian_factors",
    "iterate_gaussians",
    "lbfgs_path",
    "single_path",
    "update_diagonal",
]

Floats = NDArray[np.float64]

#: Largest ``|z|^2 / s^T z`` of an accepted pair (Stan's curvature check).
MAX_CURVATURE = 1e12

_POSITIVE_INT = Interval(numbers.Integral, 1, None, "left")


@dataclass(frozen=True)
class PathfinderOptions(MethodOptions):
    """Options of ``method="pathfinder"``."""

    method = "pathfinder"

    num_paths: int = option(
        4, _POSITIVE_INT, "Single paths; 1 is single-path Pathfinder (no resampling)."
    )
    max_iter: int = option(1000, _POSITIVE_INT, "L-BFGS iterations per path.")
    history_size: int = option(6, _POSITIVE_INT, "Pairs kept for the inverse Hessian.")
    num_elbo_draws: int = option(25, _POSITIVE_INT, "Draws per iterate for its ELBO.")
    n_mc: int = option(
        1000, N_MC, "Draws per path for the pool, the ELBO split and the Pareto k-hat."
    )


@dataclass(frozen=True)
class LBFGSPath:
    """The iterates of one L-BFGS run on ``-log p`` and the gradients of ``log p`` there.

    Attributes
    ----------
    x, grad : ndarray (L + 1, P)
        Row 0 is the starting point.
    converged : bool
        Whether L-BFGS met its tolerances before ``max_iter``.
    """

    x: Floats
    grad: Floats
    converged: bool

    @property
    def n_iterations(self) -> int:
        """Number of L-BFGS iterations L."""
        return self.x.shape[0] - 1


def lbfgs_path(
    value_and_grad: Callable[[Floats], tuple[float, Floats]],
    x0: Floats,
    *,
    max_iter: int,
    history_size: int,
) -> LBFGSPath:
    """Maximise ``log p`` by L-BFGS from ``x0`` and record every iterate and gradient.

    ``value_and_grad`` returns ``log p`` (up to a constant) and its gradient. Stan's
    Pathfinder tolerances: relative objective change 1e4 machine epsilons, gradient 1e-8.

    Examples
    --------
    >>> path = lbfgs_path(lambda x: (-0.5 * x @ x, -x), np.ones(2), max_iter=50, history_size=6)
    >>> path.converged, bool(np.abs(path.x[-1]).max() < 1e-6)
    (True, True)
    """
    seen: dict[bytes, Floats] = {}

    def objective(x: Floats) -> tuple[float, Floats]:
        value, grad = value_and_grad(x)
        seen[x.tobytes()] = grad
        return -value, -grad

    xs = [np.array(x0, dtype=np.float64)]
    grads = [value_and_grad(xs[0])[1]]

    def record(intermediate_result: OptimizeResult) -> None:
        # L-BFGS-B evaluates every accepted point during its line search.
        x = np.array(intermediate_result.x, dtype=np.float64)
        grad = seen.get(x.tobytes())
        xs.append(x)
        grads.append(value_and_grad(x)[1] if grad is None else grad)
        seen.clear()

    res = minimize(
        objective,
        xs[0],
        jac=True,
        method="L-BFGS-B",
        callback=record,
        options={
            "maxiter": max_iter,
            "maxcor": history_size,
            "ftol": 1e4 * np.finfo(np.float64).eps,
            "gtol": 1e-8,
        },
    )
    return LBFGSPath(np.array(xs), np.array(grads), bool(res.success))


def update_diagonal(alpha: Floats, s: Floats, z: Floats) -> Floats:
    """Gilbert & Lemaréchal's diagonal update with the pair ``(s, z)`` (see module doc).

    Examples
    --------
    >>> s = np.array([1.0, 0.0]); z = np.array([2.0, 0.0])  # curvature 2 along axis 0
    >>> update_diagonal(np.ones(2), s, z).tolist()  # the unexplored axis takes its scale
    [0.5, 0.5]
    """
    z_alpha_z = float(z @ (alpha * z))
    s_z = float(s @ z)
    s_alpha_s = float(s @ (s / alpha))
    inverse = (
        z_alpha_z / (s_z * alpha) + z**2 / s_z - z_alpha_z / s_z * (s / alpha) ** 2 / s_alpha_s
    )
    return 1.0 / inverse


def inverse_hessian_factors(alpha: Floats, S: Floats, Z: Floats) -> tuple[Floats, Floats]:
    r"""The factors of the L-BFGS inverse Hessian: ``beta`` (P, 2m) and ``gamma`` (2m, 2m).

    :math:`\Sigma = \mathrm{diag}(\alpha) + \beta\gamma\beta^\top`; ``S`` and ``Z`` hold
    the accepted pairs as columns, oldest first.

    Examples
    --------
    >>> beta, gamma = inverse_hessian_factors(np.ones(1), np.array([[1.0]]), np.array([[4.0]]))
    >>> 1.0 + (beta @ gamma @ beta.T).item()   # one BFGS update on a 1-D quadratic: 1 / 4
    0.25
    """
    m = S.shape[1]
    s_z = S.T @ Z
    R = np.triu(s_z)
    R_inv = solve_triangular(R, np.eye(m))
    alpha_z = alpha[:, None] * Z
    beta = np.hstack([alpha_z, S])
    lower = R_inv.T @ (np.diag(np.diag(s_z)) + Z.T @ alpha_z) @ R_inv
    gamma = np.block([[np.zeros((m, m)), -R_inv], [-R_inv.T, lower]])
    return beta, gamma


def gaussian_at(x: Floats, grad: Floats, alpha: Floats, S: Floats, Z: Floats) -> Gaussian:
    """The Gaussian ``N(x + Sigma grad, Sigma)`` of an iterate (Algorithm 4, thin QR)."""
    sqrt_alpha = np.sqrt(alpha)
    if S.shape[1] == 0:  # no accepted pair yet: Sigma = diag(alpha)
        return Gaussian(x + alpha * grad, np.diag(sqrt_alpha), float(np.log(alpha).sum()))
    beta, gamma = inverse_hessian_factors(alpha, S, Z)
    Q, R_beta = np.linalg.qr(beta / sqrt_alpha[:, None])
    L = np.linalg.cholesky(np.eye(R_beta.shape[0]) + R_beta @ gamma @ R_beta.T)
    mean = x + alpha * grad + beta @ (gamma @ (beta.T @ grad))
    inner = np.eye(x.size) + Q @ (L - np.eye(L.shape[0])) @ Q.T
    logdet = float(np.log(alpha).sum() + 2.0 * np.log(np.diag(L)).sum())
    return Gaussian(mean, sqrt_alpha[:, None] * inner, logdet)


@dataclass(frozen=True)
class Iterate:
    """One iterate's inverse-Hessian ingredients and its Gaussian (None if not PD)."""

    index: int
    alpha: Floats
    S: Floats
    Z: Floats
    q: Gaussian | None


def iterate_gaussians(path: LBFGSPath, history_size: int) -> Iterator[Iterate]:
    """The Gaussian at every iterate ``l = 1 .. L`` of ``path`` (Algorithm 3)."""
    size = path.x.shape[1]
    alpha = np.ones(size)
    pairs: list[tuple[Floats, Floats]] = []
    for index in range(1, path.x.shape[0]):
        s = path.x[index] - path.x[index - 1]
        z = path.grad[index - 1] - path.grad[index]
        s_z = float(s @ z)
        if s_z > 0 and float(z @ z) <= MAX_CURVATURE * s_z:
            alpha = update_diagonal(alpha, s, z)
            pairs = [*pairs, (s, z)][-history_size:]
        S = np.array([p[0] for p in pairs]).reshape(-1, size).T
        Z = np.array([p[1] for p in pairs]).reshape(-1, size).T
        try:
            q: Gaussian | None = gaussian_at(path.x[index], path.grad[index], alpha, S, Z)
        except np.linalg.LinAlgError:
            q = None
        yield Iterate(index, alpha, S, Z, q)


@dataclass(frozen=True)
class PathResult:
    """A single-path Pathfinder: the Gaussian of largest ELBO along one L-BFGS path.

    Attributes
    ----------
    q : Gaussian or None
        None when no iterate had a finite ELBO.
    iteration : int
        The chosen iterate (1 .. n_iterations; 0 when none).
    elbo : float
        Its ELBO estimate from the ``num_elbo_draws`` draws (-inf when none).
    n_iterations : int
    converged : bool
    """

    q: Gaussian | None
    iteration: int
    elbo: float
    n_iterations: int
    converged: bool


def single_path(
    value_and_grad: Callable[[Floats], tuple[float, Floats]],
    log_density: Callable[[Floats], Floats],
    x0: Floats,
    rng: np.random.Generator,
    *,
    max_iter: int,
    history_size: int,
    num_elbo_draws: int,
) -> PathResult:
    r"""Run L-BFGS from ``x0`` and keep the iterate's Gaussian of largest ELBO.

    The ELBO of :math:`q_l` is estimated as the mean of
    :math:`\log p(\theta, y) - \log q_l(\theta)` over ``num_elbo_draws`` draws;
    ``log_density`` evaluates :math:`\log p(\theta, y)` at the rows of an (n, P) array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = single_path(lambda x: (-0.5 * x @ x, -x),
    ...                   lambda z: -0.5 * (z**2).sum(1) - np.log(2 * np.pi), np.ones(2), rng,
    ...                   max_iter=50, history_size=6, num_elbo_draws=25)
    >>> np.allclose(res.q.mean, 0.0), np.allclose(res.q.cov, np.eye(2)), round(res.elbo, 12)
    (True, True, 0.0)
    """
    path = lbfgs_path(value_and_grad, x0, max_iter=max_iter, history_size=history_size)
    best = PathResult(None, 0, -np.inf, path.n_iterations, path.converged)
    for it in iterate_gaussians(path, history_size):
        if it.q is None:
            continue
        z, log_q = it.q.draw(rng, num_elbo_draws)
        elbo = float(np.mean(log_density(z) - log_q))
        if np.isfinite(elbo) and elbo > best.elbo:
            best = PathResult(it.q, it.index, elbo, path.n_iterations, path.converged)
    return best


def fit_pathfinder(
    spec: ModelSpec, settings: FitSettings, options: PathfinderOptions
) -> xr.DataTree:
    """Single- or multi-path Pathfinder (Zhang et al. 2022) as a fit, judged by k-hat.

    Each of ``num_paths`` L-BFGS runs starts uniformly in [-2, 2] on the unconstrained
    (standardised) parameters, as Stan does, and keeps the Gaussian of largest ELBO along
    its path (``num_elbo_draws`` draws per iterate). Each path's Gaussian gives ``n_mc``
    draws; the ELBO split and the Pareto k-hat use them all. One path returns ``draws``
    fresh draws of its Gaussian; several paths importance-resample ``draws`` of the pooled
    draws with replacement, with Pareto-smoothed weights ``p(theta, y) / q_i(theta)`` (each
    draw against the path that drew it, as Stan and the paper do).
    """
    post = Posterior(spec)
    num_paths, n_mc = options.num_paths, options.n_mc
    # One stream per path and one for the final draws: the same seed gives the same fit.
    streams = [
        np.random.default_rng(s)
        for s in np.random.SeedSequence(settings.random_seed).spawn(num_paths + 1)
    ]
    paths: list[PathResult] = []
    with current().phase("Pathfinder paths", total=num_paths) as task:
        for rng in streams[:-1]:
            x0 = rng.uniform(-2.0, 2.0, size=post.size)
            paths.append(
                single_path(
                    post.value_and_grad,
                    post.log_joint,
                    x0,
                    rng,
                    max_iter=options.max_iter,
                    history_size=options.history_size,
                    num_elbo_draws=options.num_elbo_draws,
                )
            )
            task.advance()
    qs = [p.q for p in paths if p.q is not None]
    if not qs:
        raise RuntimeError(
            f"Pathfinder found no Gaussian with a finite ELBO on any of its {num_paths} "
            "paths; use method='laplace' or method='nuts'."
        )
    rng = streams[-1]
    pooled = [q.draw(rng, n_mc) for q in qs]
    z = np.concatenate([d[0] for d in pooled])
    log_q = np.concatenate([d[1] for d in pooled])
    parts, log_ratios = elbo_of_gaussians(
        post,
        qs,
        z,
        log_q,
        prior_variance=post.prior.variance(),
        flat_prior=spec.flat_intercept,
    )
    if len(qs) == 1:
        theta, _ = qs[0].draw(rng, settings.draws)
        verdict = judge(post, qs[0].mean, qs[0].cov, rng, nu=proposal_nu(spec))
    else:
        log_w, _ = psis(log_ratios)
        weights = np.exp(log_w)
        chosen = rng.choice(
            z.shape[0], size=settings.draws, replace=True, p=weights / weights.sum()
        )
        theta = z[chosen]
        # The returned draws are importance-resampled from the pool: judged by their own
        # moments, which carry the pool's importance-sampling error.
        w = weights / weights.sum()
        pool_ess = float(1.0 / (w @ w))
        mean, cov = _judged_moments(theta, z, w, qs)
        verdict = judge(
            post,
            mean,
            cov,
            rng,
            sample_size=min(settings.draws, pool_ess),
            reweighted=True,
            nu=proposal_nu(spec),
        )
    optimisation = Optimisation(
        converged=all(p.converged for p in paths),
        n_iterations=int(sum(p.n_iterations for p in paths)),
    )
    record = VariationalRecord(
        "pathfinder",
        parts,
        optimisation,
        paths=PathRecord(
            history_size=options.history_size,
            num_elbo_draws=options.num_elbo_draws,
            resampled=len(qs) > 1,
            elbo=np.array([p.elbo for p in paths]),
            iteration=np.array([p.iteration for p in paths], dtype=np.int64),
            n_iterations=np.array([p.n_iterations for p in paths], dtype=np.int64),
            converged=np.array([p.converged for p in paths]),
        ),
        # One path's draws are its Gaussian's; pooled paths are importance-resampled
        # towards the posterior, and no single q describes them.
        q=qs[0] if len(qs) == 1 else None,
        verdict=verdict,
    )
    return approximation_tree(spec, theta, record)


def _positive_definite(cov: Floats) -> bool:
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return False
    return True


def _judged_moments(
    theta: Floats, pool: Floats, weights: Floats, qs: list[Gaussian]
) -> tuple[Floats, Floats]:
    """Mean and covariance the verdict judges multi-path Pathfinder's draws by.

    The draws' own moments; with too few distinct draws for a covariance (no more draws
    than parameters, or resampled repeats) those of the importance-weighted pool they were
    resampled from, and failing that (pool weights on too few draws) the equal-weight
    mixture of the paths' Gaussians, whose covariance is always positive definite.
    """
    mean, cov = theta.mean(axis=0), np.cov(theta.T)
    if theta.shape[0] > theta.shape[1] and _positive_definite(cov):
        return mean, cov
    mean, cov = weighted_moments(pool, weights)
    if _positive_definite(cov):
        return mean, cov
    means = np.stack([q.mean for q in qs])
    mean = means.mean(axis=0)
    spread = means - mean
    cov = np.mean([q.cov for q in qs], axis=0) + spread.T @ spread / len(qs)
    return mean, cov
