r"""Draws of the posterior from an approximation, by importance resampling.

When the verdict on an approximation is "usable after reweighting"
(:mod:`bayescore.inference.verdict`), its posterior is recovered by Pareto-smoothed
importance sampling from the verdict's Student-t proposal built around q, and resampling
(Rubin 1988; the resampling step of Stan's Pathfinder): the draws of :func:`reweight` are
the posterior to use, at the cost of one evaluation of the log posterior per proposal draw.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np
import xarray as xr

from bayescore._names import POSTERIOR, VARIATIONAL, as_idata, has_group
from bayescore._validation import Interval, check_params
from bayescore.inference.options import SEED
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import VariationalRecord
from bayescore.inference.subsample import BUDGET, draws_density
from bayescore.inference.threads import one_blas_thread
from bayescore.inference.tree import flat_draws, posterior_dataset, spec_from_tree
from bayescore.inference.verdict import judge, posterior_sample, proposal_nu

__all__ = ["reweight"]

#: Proposal draws per returned draw.
_OVERSAMPLE = 4

_CONSTRAINTS = {"draws": Interval(numbers.Integral, 1, None, "left"), "random_seed": SEED}


@one_blas_thread
def reweight(
    fit: object, *, draws: int | None = None, random_seed: int | None = None
) -> xr.DataTree:
    """The posterior of an approximate fit, importance-resampled: a new fit to use instead.

    Parameters
    ----------
    fit : DataTree or fitted estimator
        A Laplace, ADVI or Pathfinder fit of a bayescore model.
    draws : int, optional
        Draws to return (default: as many as the fit has).
    random_seed : int, optional

    Returns
    -------
    xarray.DataTree
        The fit with its ``posterior`` replaced by the resampled draws and its
        ``variational`` record marked ``reweighted``, with a new verdict on these draws.

    Raises
    ------
    ValueError
        When the posterior cannot be reached by importance sampling from this approximation
        (Pareto k-hat above 0.7 or a tiny ESS: use ``method="nuts"``), or for a fit that is
        not an approximation of a bayescore model.

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = (X[:, 0] + rng.normal(size=40) > 0).astype(int)
    >>> fit = bs.fit(bs.build_model(X, y), "advi", draws=200, random_seed=0, warn=False)
    >>> better = bs.reweight(fit, random_seed=1)
    >>> better.posterior.sizes["draw"], bool(better.variational.attrs["reweighted"])
    (200, True)
    """
    idata = as_idata(fit)
    if not (has_group(idata, VARIATIONAL) and has_group(idata, POSTERIOR)):
        raise ValueError(
            "reweight needs an approximate fit (Laplace, ADVI or Pathfinder) with a "
            f"variational group; got {type(fit).__name__} without one."
        )
    checked = check_params(_CONSTRAINTS, {"draws": draws, "random_seed": random_seed}, "reweight")
    spec = spec_from_tree(idata)
    if not spec.closed_form:
        raise ValueError(
            "reweight covers bayescore's logistic and reference-coded softmax models; "
            "fit this one with method='nuts'."
        )
    record = VariationalRecord.from_dataset(idata[VARIATIONAL].to_dataset())
    post = Posterior(spec)
    own = flat_draws(spec, idata[POSTERIOR].to_dataset())
    own = own.reshape(-1, own.shape[-1])
    n = own.shape[0] if checked["draws"] is None else int(checked["draws"])
    if record.q is not None:
        mean, cov = record.q.mean, record.q.cov
    else:
        mean, cov = own.mean(axis=0), np.atleast_2d(np.cov(own.T))
    rng = np.random.default_rng(checked["random_seed"])
    nu = proposal_nu(spec)
    # The resampled draws are the posterior itself: a fifth of a verdict's error budget.
    density = draws_density(post, mean, rng, budget=BUDGET / 5)
    sample = posterior_sample(density, mean, cov, rng, max(_OVERSAMPLE * n, 1000), nu=nu)
    if not sample.reliable:
        raise ValueError(
            f"This {record.method} fit cannot be reweighted to the posterior reliably "
            f"(Pareto k-hat {sample.k_hat:.2f}, importance-sampling ESS {sample.ess:.0f}): "
            "use method='nuts'."
        )
    weights = np.exp(sample.log_weights)
    theta = sample.theta[rng.choice(sample.theta.shape[0], size=n, p=weights / weights.sum())]
    verdict = judge(
        density,
        theta.mean(axis=0),
        np.atleast_2d(np.cov(theta.T)),
        rng,
        sample_size=min(n, sample.ess),
        reweighted=True,
        nu=nu,
    )
    new = dataclasses.replace(record, verdict=verdict, reweighted=True)
    tree = idata.copy()
    attrs = dict(idata[POSTERIOR].attrs)
    tree[POSTERIOR] = xr.DataTree(posterior_dataset(spec, theta[None]))
    tree[POSTERIOR].attrs.update(attrs)
    tree[VARIATIONAL] = xr.DataTree(new.to_dataset())
    return tree
