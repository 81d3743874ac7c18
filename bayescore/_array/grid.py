r"""A one-dimensional posterior on a grid: normalised density, moments and inverse-CDF draws.

For a scalar parameter the posterior needs no sampler: evaluate the unnormalised log
density on a grid that covers all but a negligible part of the mass, normalise with a
log-sum-exp of the trapezoid rule (exponentially accurate for smooth densities that have
decayed at both ends), and draw by inverting the cumulative trapezoid integral.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

Floats = NDArray[np.floating[Any]]

__all__ = ["GridPosterior", "grid_posterior"]


class GridPosterior(NamedTuple):
    """A normalised density on an increasing grid.

    Attributes
    ----------
    grid : ndarray of shape (n_grid,)
    pdf : ndarray of shape (n_grid,)
        Density at the grid points; its trapezoid integral is 1.
    cdf : ndarray of shape (n_grid,)
        Cumulative trapezoid integral of ``pdf``, from 0 to 1.
    mean, sd : float
        Moments of the density (trapezoid rule).
    mode : float
        Where the log density peaks (as given to :func:`grid_posterior`).
    """

    grid: Floats
    pdf: Floats
    cdf: Floats
    mean: float
    sd: float
    mode: float

    def draws(self, u: Floats) -> Floats:
        """Inverse-CDF draws: the quantiles at uniform variates ``u`` in [0, 1).

        The CDF is interpolated linearly between grid points, i.e. the density is taken as
        constant within each cell.

        Examples
        --------
        >>> from scipy.stats import norm
        >>> post = grid_posterior(norm.logpdf, 0.0)
        >>> [round(float(q), 3) for q in post.draws(np.array([0.025, 0.5, 0.975]))]
        [-1.96, 0.0, 1.96]
        """
        return np.interp(u, self.cdf, self.grid)


def _curvature_scale(log_density: Callable[[float], float], mode: float) -> float:
    """``1 / sqrt(-d2 log p)`` at the mode by central differences (1 if not concave)."""
    h = 1e-3 * max(1.0, abs(mode))
    d2 = (log_density(mode + h) - 2 * log_density(mode) + log_density(mode - h)) / h**2
    return float(1 / np.sqrt(-d2)) if np.isfinite(d2) and d2 < 0 else 1.0


def _edge(log_density: Callable[[float], float], mode: float, step: float, floor: float) -> float:
    """Walk from the mode by doubling steps until the log density is below ``floor``."""
    for _ in range(60):
        if log_density(mode + step) < floor:
            return mode + step
        step *= 2
    return mode + step  # pragma: no cover - a density that never decays


def grid_posterior(
    log_density: Callable[[float], float],
    mode: float,
    n_grid: int = 401,
    *,
    drop: float = 30.0,
) -> GridPosterior:
    r"""Normalise a scalar log density on an adaptive grid around its mode.

    The range reaches from the mode, in steps of ten curvature scales doubled as needed,
    to where the log density is ``drop`` below its peak on each side (relative density
    :math:`e^{-30} \approx 10^{-13}`: no visible mass is cut off). If the mass then fills
    less than half the range (a curvature scale that overstated the width), the range is
    trimmed to where the density exceeds that level on the first grid and evaluated again,
    so the grid resolves the bulk. With :math:`w_g` the trapezoid weights,

    .. math:: p(u_g) = \exp\big(\ell(u_g) - \log\textstyle\sum_g w_g e^{\ell(u_g)}\big).

    Parameters
    ----------
    log_density : callable float -> float
        Unnormalised log density (finite near the mode).
    mode : float
        Its maximiser (or a point near it).
    n_grid : int, default 401
        Points of the grid (each costs one evaluation; twice when trimmed).
    drop : float, default 30
        How far below the peak (in log units) the ends must lie.

    Returns
    -------
    GridPosterior

    Examples
    --------
    >>> from scipy.stats import norm
    >>> post = grid_posterior(lambda u: norm.logpdf(u, 1.0, 0.2), 1.0)
    >>> round(post.mean, 8), round(post.sd, 8)
    (1.0, 0.2)
    """
    peak = log_density(mode)
    floor = peak - drop
    step = 10 * _curvature_scale(log_density, mode)
    lo, hi = _edge(log_density, mode, -step, floor), _edge(log_density, mode, step, floor)
    grid = np.linspace(lo, hi, n_grid)
    logd = np.array([log_density(float(g)) for g in grid])
    inside = grid[logd >= logd.max() - drop]
    if inside[-1] - inside[0] < 0.5 * (hi - lo):
        cell = grid[1] - grid[0]
        grid = np.linspace(max(lo, inside[0] - cell), min(hi, inside[-1] + cell), n_grid)
        logd = np.array([log_density(float(g)) for g in grid])
    dx = np.diff(grid)
    weights = np.zeros_like(grid)
    weights[:-1] += dx / 2
    weights[1:] += dx / 2
    pdf = np.exp(logd - logsumexp(logd, b=weights))
    cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * dx)])
    cdf /= cdf[-1]
    mean = float(np.sum(weights * grid * pdf))
    sd = float(np.sqrt(np.sum(weights * (grid - mean) ** 2 * pdf)))
    return GridPosterior(grid=grid, pdf=pdf, cdf=cdf, mean=mean, sd=sd, mode=float(mode))
