r"""Pareto-smoothed importance sampling of the posterior from an approximation's draws.

For draws :math:`\theta_s \sim q` the importance ratios :math:`r_s = p(\theta_s, y) /
q(\theta_s)` reweight them to the posterior. PSIS (Vehtari, Simpson, Gelman, Yao & Gabry
2024, "Pareto smoothed importance sampling", JMLR 25(72)) replaces the largest ratios by the
quantiles of a generalised Pareto fitted to them; the fitted shape :math:`\hat k` says how
heavy-tailed the ratios are (Yao, Vehtari, Simpson & Gelman 2018: below 0.5 the ratios
have finite variance, up to 0.7 importance sampling still works).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["psis"]

Floats = NDArray[np.float64]


def psis(log_ratios: Floats) -> tuple[Floats, float]:
    r"""Pareto-smoothed normalised log weights and :math:`\hat k` (NaN if a ratio is not finite).

    Parameters
    ----------
    log_ratios : ndarray (n,)
        :math:`\log p(\theta_s, y) - \log q(\theta_s)`, up to a constant.

    Returns
    -------
    log_weights : ndarray (n,)
        Normalised: their exponentials sum to 1.
    k_hat : float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> log_w, k = psis(0.1 * rng.standard_normal(1000))  # q close to p: near-equal weights
    >>> round(float(np.exp(log_w).sum()), 12), k < 0.5
    (1.0, True)
    >>> x = rng.standard_normal(4000)     # q = N(0, 1) far too narrow for p = N(0, 10^2):
    >>> psis(0.495 * x**2 - np.log(10))[1] > 0.7    # the tail shape is 1 - 1/100
    True
    """
    from arviz_stats.base import array_stats

    ratios = np.asarray(log_ratios, dtype=np.float64)
    if not np.isfinite(ratios).all():
        return np.full(ratios.shape, np.nan), np.nan
    # arviz-stats' psislw takes log-likelihoods (LOO's convention, where the ratios are
    # 1 / p(y_i | theta)): it smooths exp(-input). Minus the log ratios gives the weights p/q.
    log_w, k = array_stats.psislw(-ratios, r_eff=1.0)
    return np.asarray(log_w), float(k)
