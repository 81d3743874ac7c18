r"""Gaussian approximations of a bayescore posterior in numpy: Laplace and Pathfinder.

Both fits approximate the posterior of the flat free parameters (the layout of
:class:`bayescore._density.Posterior`) by Gaussians, built from the closed-form log posterior
and its gradient; no PyMC graph is compiled.

- ``laplace``: :math:`q = N(\hat\theta, H^{-1})`, the mode found by L-BFGS and minus the
  Hessian there (:func:`bayescore._laplace.laplace`).
- ``pathfinder`` (Zhang, Carpenter, Gelman & Vehtari 2022, "Pathfinder: Parallel
  quasi-Newton variational inference", JMLR 23(306)): every iterate :math:`x_l` of an
  L-BFGS run on :math:`-\log p(\theta \mid y)` gives a Gaussian
  :math:`q_l = N(x_l + \Sigma_l g_l, \Sigma_l)`, with :math:`g_l = \nabla \log p(x_l \mid y)`
  and :math:`\Sigma_l` the L-BFGS inverse Hessian (:mod:`bayescore._pathfinder`); the
  :math:`q_l` of largest ELBO is the path's approximation. Multi-path Pathfinder pools
  draws from several paths and importance-resamples them with Pareto-smoothed weights.

Every fit is judged as ADVI is (:mod:`bayescore._vi`):

.. math::

    \mathrm{ELBO} = \mathbb{E}_q[\log p(y \mid \theta)] - \mathrm{KL}(q \,\|\, p),

the expectation by Monte Carlo over ``n_mc`` draws, the KL in closed form for Normal priors
(a Monte Carlo estimate under Student-t priors, undefined under a flat intercept prior), and
the Pareto :math:`\hat k` of the importance ratios :math:`\log p(\theta, y) - \log q(\theta)`
over the same draws (Yao, Vehtari, Simpson & Gelman 2018).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from threadpoolctl import ThreadpoolController

from bayescore._dadvi import fit_gaussian
from bayescore._density import Posterior, supports
from bayescore._families import family
from bayescore._groups import data_groups, posterior_dataset
from bayescore._laplace import NumpyDensity, laplace
from bayescore._names import ITERATION, PATH, POSTERIOR, VARIATIONAL
from bayescore._pathfinder import Gaussian, PathResult, single_path
from bayescore._validation import check_int
from bayescore._vi import ELBOParts, split_from_draws
from bayescore.models import ModelSpec, model_spec

__all__ = [
    "elbo_split",
    "fit_advi_fixed",
    "fit_laplace",
    "fit_pathfinder",
    "kl_gaussian",
    "numpy_density",
    "psis",
]


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's thread pools (BLAS, OpenMP), found once: a scan of the loaded libraries."""
    return ThreadpoolController()


def _one_blas_thread[**P, R](fit: Callable[P, R]) -> Callable[P, R]:
    """Run ``fit`` with BLAS on one thread.

    The fitters' matrix products are many and mid-sized (points x row blocks), where
    OpenBLAS's threads cost more than they give, and numpy's and scipy's two OpenBLAS pools
    spin against each other between L-BFGS steps. Measured on 2 cores (N = 5,000, D = 20):
    fixed-draw ADVI 0.30 s -> 0.17 s, the log-likelihood of 1,000 draws 1.5x faster.
    """

    @functools.wraps(fit)
    def serial(*args: P.args, **kwargs: P.kwargs) -> R:
        with _threadpools().limit(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return serial


def _spec_of(model: Any, method: str) -> ModelSpec:
    """The model's specification, when the closed-form posterior covers it."""
    spec = model_spec(model)
    if spec is None or not supports(spec):
        raise ValueError(
            f"method={method!r} needs a logistic or reference-coded softmax model from "
            "bayescore.build_model; use method='fullrank_advi' for this one."
        )
    return spec


def numpy_density(post: Posterior) -> NumpyDensity:
    """The normalised log-likelihood and log prior in the layout of ``post``."""
    k = post.n_free
    ordering = {
        post.names[0]: (post.names[0], slice(0, k), post.shapes[0], None),
        post.names[1]: (post.names[1], slice(k, post.size), post.shapes[1], None),
    }
    return NumpyDensity(post.spec, ordering)


def _prior_variance(spec: ModelSpec, size: int) -> np.ndarray | None:
    """Prior variance per flat coordinate when every prior is a proper Normal, else None."""
    if not family(spec.kind).closed_form_kl(spec):
        return None
    var = np.full(size, float(spec.prior_scale) ** 2)
    var[: spec.n_classes - 1] = float(spec.intercept_prior_scale) ** 2  # intercepts first
    return var


def kl_gaussian(q: Gaussian, prior_var: np.ndarray) -> float:
    r"""KL(q || N(0, diag(prior_var))) in closed form.

    .. math::

        \tfrac12 \Big[\sum_i \frac{\Sigma_{ii} + \mu_i^2}{v_i} - P
        + \sum_i \log v_i - \log\det\Sigma\Big]

    Examples
    --------
    >>> q = Gaussian.from_cov(np.zeros(2), np.eye(2))
    >>> kl_gaussian(q, np.ones(2))                      # q equals the prior
    0.0
    """
    return 0.5 * float(
        np.sum((q.variance + q.mean**2) / prior_var)
        - q.mean.size
        + np.sum(np.log(prior_var))
        - q.logdet
    )


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    r"""Pareto-smoothed normalised log weights and :math:`\hat k` (NaN if a ratio is not finite).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> log_w, k = psis(0.1 * rng.standard_normal(1000))  # q close to p: near-equal weights
    >>> round(float(np.exp(log_w).sum()), 12), k < 0.5
    (1.0, True)
    """
    from arviz_stats.base import array_stats

    ratios = np.asarray(log_ratios, dtype=np.float64)
    if not np.isfinite(ratios).all():
        return np.full(ratios.shape, np.nan), np.nan
    # psislw smooths exp(-input) (LOO's convention: it takes log-likelihoods).
    log_w, k = array_stats.psislw(-ratios, r_eff=1.0)
    return np.asarray(log_w), float(k)


def elbo_split(
    spec: ModelSpec,
    density: NumpyDensity,
    qs: list[Gaussian],
    z: np.ndarray,
    log_q: np.ndarray,
) -> tuple[ELBOParts, np.ndarray]:
    r"""The ELBO split and the log importance ratios of draws from Gaussians ``qs``.

    ``z`` holds the same number of draws from each ``q`` in ``qs``, stacked in that order,
    and ``log_q`` each draw's log density under the ``q`` that drew it. With one ``q`` this
    is the ELBO of ``q``; with several it is their mean (the pool is an equal mixture and
    every draw is judged by the ``q`` it came from, as the importance ratios are).

    Returns
    -------
    ELBOParts
    log_ratios : ndarray (n,)
        :math:`\log p(\theta, y) - \log q(\theta)` at each draw.
    """
    loglik = density.log_likelihood(z)
    log_prior = density.log_prior(z)
    log_ratios = loglik + log_prior - log_q
    _, k_hat = psis(log_ratios)
    prior_var = None if spec.flat_intercept else _prior_variance(spec, z.shape[1])
    closed = None
    if prior_var is not None:
        closed = float(np.mean([kl_gaussian(q, prior_var) for q in qs]))
    parts = split_from_draws(
        loglik, log_prior, log_q, k_hat, flat_prior=spec.flat_intercept, closed_form_kl=closed
    )
    return parts, log_ratios


def _variational(parts: ELBOParts, attrs: dict[str, Any], **extra: Any) -> xr.Dataset:
    data = {
        "elbo": parts.elbo,
        "expected_log_likelihood": parts.expected_log_likelihood,
        "kl": parts.kl,
        "mc_se": parts.mc_se,
        "pareto_k": parts.pareto_k,
        **extra,
    }
    return xr.Dataset(data, attrs={**attrs, "kl_method": parts.kl_method})


def _tree(spec: ModelSpec, theta: np.ndarray, variational: xr.Dataset) -> xr.DataTree:
    """The fit's DataTree: one chain of flat draws ``theta`` (draws, P) in PyMC's layout."""
    tree = xr.DataTree()
    tree[POSTERIOR] = xr.DataTree(posterior_dataset(spec, theta[None]))
    for group, ds in data_groups(spec).items():
        tree[group] = xr.DataTree(ds)
    tree[VARIATIONAL] = xr.DataTree(variational)
    tree[POSTERIOR].attrs["inference_library"] = "bayescore"
    return tree


@_one_blas_thread
def fit_laplace(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    n_mc: int = 1000,
) -> xr.DataTree:
    """The Laplace approximation ``N(mode, H^-1)`` as a fit, judged like ADVI (k-hat).

    The mode and Hessian come in closed form from :mod:`bayescore._laplace`; the draws, the
    ELBO split and the Pareto k-hat are computed in numpy (``n_mc`` further draws), with
    ``np.random.default_rng(random_seed)``. See :func:`bayescore.fit` for the options.
    """
    del tune, chains, progressbar  # one Gaussian, one chain of independent draws
    check_int("draws", draws, min_value=1, func="fit")
    check_int("n_mc", n_mc, min_value=2, func="fit")
    spec = _spec_of(model, "laplace")
    post = Posterior(spec)
    lap = laplace(spec, posterior=post)
    q = Gaussian.from_cov(*lap.flat())
    rng = np.random.default_rng(random_seed)
    theta, _ = q.draw(rng, draws)
    z, log_q = q.draw(rng, n_mc)
    parts, _ = elbo_split(spec, numpy_density(post), [q], z, log_q)
    attrs = {
        "method": "laplace",
        "converged": int(lap.converged),
        "n_iterations": lap.n_iterations,
        "n_mc": n_mc,
    }
    return _tree(spec, theta, _variational(parts, attrs))


@_one_blas_thread
def fit_advi_fixed(
    model: Any,
    *,
    method: str,
    draws: int,
    random_seed: int | None,
    n_mc: int = 1000,
    n_points: int | None = None,
    max_iter: int = 1000,
) -> xr.DataTree:
    """Mean-field or full-rank ADVI on fixed moment-matched draws (:mod:`bayescore._dadvi`).

    q starts at the Laplace approximation and L-BFGS maximises the fixed-draw ELBO; the
    final ELBO split and the Pareto k-hat use ``n_mc`` fresh draws from q, as for every
    approximation. The ``variational`` group has ADVI's format: ``elbo_history`` holds the
    fixed-draw ELBO at each L-BFGS iteration, on the scale of the reported ELBO.
    """
    check_int("draws", draws, min_value=1, func="fit")
    check_int("n_mc", n_mc, min_value=2, func="fit")
    check_int("max_iter", max_iter, min_value=1, func="fit")
    spec = _spec_of(model, method)
    post = Posterior(spec)
    lap = laplace(spec, posterior=post)
    mean, cov = lap.flat()
    if n_points is not None:
        check_int("n_points", n_points, min_value=2 * mean.size, func="fit")
    fit = fit_gaussian(
        post,
        mean,
        cov,
        full_rank=method == "fullrank_advi",
        seed=random_seed,
        n_points=n_points,
        max_iter=max_iter,
    )
    q = Gaussian(fit.mean, fit.chol, 2.0 * float(np.log(np.diag(fit.chol)).sum()))
    rng = np.random.default_rng(random_seed)
    theta, _ = q.draw(rng, draws)
    z, log_q = q.draw(rng, n_mc)
    density = numpy_density(post)
    parts, _ = elbo_split(spec, density, [q], z, log_q)
    # The fixed-draw objective leaves out constants; restore them so that the history is
    # on the scale of the reported ELBO: the log density's normalising constants (the same
    # at every point) and the Gaussian entropy's P/2 log(2 pi e).
    normalising = float(density.log_joint(fit.mean[None])[0] - post.value_and_grad(fit.mean)[0])
    history = fit.history + normalising + 0.5 * fit.mean.size * (np.log(2 * np.pi) + 1.0)
    last = history[-2:] if history.size >= 2 else np.array([np.nan, np.nan])
    attrs = {
        "method": method,
        "converged": int(fit.converged),
        "converged_at": fit.n_iterations if fit.converged else -1,
        "n_iterations": fit.n_iterations,
        "relative_change": float(abs(last[1] - last[0]) / max(abs(last[1]), 1e-300)),
        "optimizer": "lbfgs",
        "objective": "fixed moment-matched draws (DADVI)",
        "n_points": fit.n_points,
        "start": "laplace",
        "batch_size": -1,
        "n_mc": n_mc,
    }
    variational = _variational(parts, attrs, elbo_history=((ITERATION,), history)).assign_coords(
        {ITERATION: np.arange(1, history.size + 1)}
    )
    return _tree(spec, theta, variational)


@_one_blas_thread
def fit_pathfinder(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    num_paths: int = 4,
    max_iter: int = 1000,
    history_size: int = 6,
    num_elbo_draws: int = 25,
    n_mc: int = 1000,
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
    del tune, chains, progressbar
    check_int("draws", draws, min_value=1, func="fit")
    check_int("num_paths", num_paths, min_value=1, func="fit")
    check_int("max_iter", max_iter, min_value=1, func="fit")
    check_int("history_size", history_size, min_value=1, func="fit")
    check_int("num_elbo_draws", num_elbo_draws, min_value=1, func="fit")
    check_int("n_mc", n_mc, min_value=2, func="fit")
    spec = _spec_of(model, "pathfinder")
    post = Posterior(spec)
    density = numpy_density(post)
    # One stream per path and one for the final draws: the same seed gives the same fit.
    streams = [
        np.random.default_rng(s) for s in np.random.SeedSequence(random_seed).spawn(num_paths + 1)
    ]
    paths: list[PathResult] = []
    for rng in streams[:-1]:
        x0 = rng.uniform(-2.0, 2.0, size=post.size)
        paths.append(
            single_path(
                post.value_and_grad,
                density.log_joint,
                x0,
                rng,
                max_iter=max_iter,
                history_size=history_size,
                num_elbo_draws=num_elbo_draws,
            )
        )
    usable = [p for p in paths if p.q is not None]
    if not usable:
        raise RuntimeError(
            f"Pathfinder found no Gaussian with a finite ELBO on any of its {num_paths} "
            "paths; use method='laplace' or method='nuts'."
        )
    qs = [p.q for p in usable if p.q is not None]
    rng = streams[-1]
    pooled = [q.draw(rng, n_mc) for q in qs]
    z = np.concatenate([d[0] for d in pooled])
    log_q = np.concatenate([d[1] for d in pooled])
    parts, log_ratios = elbo_split(spec, density, qs, z, log_q)
    if len(qs) == 1:
        theta, _ = qs[0].draw(rng, draws)
    else:
        log_w, _ = psis(log_ratios)
        weights = np.exp(log_w)
        theta = z[rng.choice(z.shape[0], size=draws, replace=True, p=weights / weights.sum())]
    attrs = {
        "method": "pathfinder",
        "converged": int(all(p.converged for p in paths)),
        "n_iterations": int(sum(p.n_iterations for p in paths)),
        "num_paths": num_paths,
        "history_size": history_size,
        "num_elbo_draws": num_elbo_draws,
        "n_mc": n_mc,
        "resampled": int(len(qs) > 1),
    }
    per_path = {
        "path_elbo": ((PATH,), np.array([p.elbo for p in paths])),
        "path_iteration": ((PATH,), np.array([p.iteration for p in paths])),
        "path_n_iterations": ((PATH,), np.array([p.n_iterations for p in paths])),
        "path_converged": ((PATH,), np.array([int(p.converged) for p in paths])),
    }
    variational = _variational(parts, attrs, **per_path)
    variational = variational.assign_coords({PATH: np.arange(num_paths)})
    return _tree(spec, theta, variational)
