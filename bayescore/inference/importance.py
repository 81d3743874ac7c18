r"""Importance ratios of an approximate fit's own draws: how far q is from the posterior.

An approximation whose draws come from one Gaussian :math:`q` (Laplace, ADVI, single-path
Pathfinder) records :math:`q` with the fit (:class:`~bayescore.inference.record.
VariationalRecord`); with the closed-form posterior rebuilt from the fit's data, every draw
gets its log importance ratio

.. math:: \log r_s = \log p(\theta_s, y) - \log q(\theta_s),

which PSIS-LOO for approximate posteriors (arviz-stats' ``loo_approximate_posterior``) and
the approximation's verdict need.
"""

from __future__ import annotations

import xarray as xr

from bayescore._names import CHAIN, DRAW, POSTERIOR, VARIATIONAL, has_group
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import VariationalRecord
from bayescore.inference.tree import flat_draws, spec_from_tree

__all__ = ["log_ratios"]


def log_ratios(idata: xr.DataTree) -> xr.DataArray | None:
    """``log p(theta, y) - log q(theta)`` at each posterior draw, ``(chain, draw)``.

    None for fits that are not one Gaussian's draws: NUTS (exact draws), multi-path
    Pathfinder (importance-resampled towards the posterior), models outside the closed form,
    and files written before bayescore recorded q.

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> fit = bs.fit(bs.build_model(X, y), "laplace", draws=100, random_seed=0, warn=False)
    >>> r = log_ratios(fit)
    >>> r.dims, bool(r.std() < 0.5)          # a near-Gaussian posterior: ratios nearly flat
    (('chain', 'draw'), True)
    """
    if not has_group(idata, VARIATIONAL):
        return None
    record = VariationalRecord.from_dataset(idata[VARIATIONAL].to_dataset())
    if record.q is None:
        return None
    spec = spec_from_tree(idata)
    if not spec.closed_form:
        return None
    posterior = idata[POSTERIOR].to_dataset()
    theta = flat_draws(spec, posterior)
    n_chains, n_draws, size = theta.shape
    flat = theta.reshape(-1, size)
    values = Posterior(spec).log_joint(flat) - record.q.log_density(flat)
    return xr.DataArray(
        values.reshape(n_chains, n_draws),
        dims=(CHAIN, DRAW),
        coords={CHAIN: posterior[CHAIN].values, DRAW: posterior[DRAW].values},
        name="log_ratio",
    )
