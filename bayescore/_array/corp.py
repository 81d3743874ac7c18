r"""Numpy kernels for CORP (Dimitriadis, Gneiting & Jordan 2021, PNAS 118: e2016191118).

CORP reads calibration off the PAV recalibration of binary outcomes :math:`o_n` on their
forecasts :math:`x_n` (ties pooled, :func:`~bayescore._array.binning.pav_curve`): consistent,
optimally binned and reproducible. A proper score :math:`S` then splits exactly as

.. math::

    \bar S(x) = \mathrm{MCB} - \mathrm{DSC} + \mathrm{UNC},\quad
    \mathrm{MCB} = \bar S(x) - \bar S(\hat x),\quad
    \mathrm{DSC} = \bar S(\bar o) - \bar S(\hat x),\quad
    \mathrm{UNC} = \bar S(\bar o),

with :math:`\hat x` the PAV-recalibrated forecasts and :math:`\bar o` the climatology (the
outcome frequency). Valid input is assumed: forecasts in [0, 1], outcomes 0.0 or 1.0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import isotonic_regression
from scipy.special import xlogy

from bayescore._array.binning import PavCurve, pav_curve

Floats = NDArray[np.floating[Any]]
F64 = NDArray[np.float64]

__all__ = [
    "SCORES",
    "Decomposition",
    "PavBlocks",
    "brier_binary",
    "consistency_band",
    "curve_at",
    "decompose",
    "log_binary",
    "pav_blocks",
]


def brier_binary(forecast: Floats, outcome: Floats) -> F64:
    """Brier score of binary outcomes per observation, :math:`(x - o)^2`.

    Examples
    --------
    >>> brier_binary(np.array([0.8, 0.3]), np.array([1.0, 1.0])).round(4).tolist()
    [0.04, 0.49]
    """
    return np.asarray((forecast - outcome) ** 2, dtype=np.float64)


def log_binary(forecast: Floats, outcome: Floats) -> F64:
    r"""Log score of binary outcomes per observation, :math:`-o\log x - (1-o)\log(1-x)`.

    ``xlogy`` makes :math:`0 \log 0 = 0`, so recalibrated values of exactly 0 or 1 (a PAV
    block whose outcomes all agree) score 0 where they are right; a forecast of 0 for an
    outcome that happened scores ``inf``.

    Examples
    --------
    >>> log_binary(np.array([1.0, 0.5, 0.0]), np.array([1.0, 0.0, 1.0])).round(4).tolist()
    [-0.0, 0.6931, inf]
    """
    with np.errstate(divide="ignore"):
        return np.asarray(-(xlogy(outcome, forecast) + xlogy(1 - outcome, 1 - forecast)))


#: Scores of binary outcomes by name (lower is better).
SCORES: dict[str, Callable[[Floats, Floats], F64]] = {"brier": brier_binary, "log": log_binary}


class Decomposition(NamedTuple):
    """Mean score and its CORP parts: ``score = miscalibration - discrimination + uncertainty``."""

    score: float
    miscalibration: float
    discrimination: float
    uncertainty: float


def decompose(forecast: Floats, outcome: Floats, score: str = "brier") -> Decomposition:
    r"""CORP decomposition of one set of binary forecasts under ``score`` ("brier" or "log").

    Examples
    --------
    >>> d = decompose(np.array([0.1, 0.4, 0.4, 0.9]), np.array([0.0, 1.0, 0.0, 1.0]))
    >>> [round(v, 4) for v in d]
    [0.135, 0.01, 0.125, 0.25]
    """
    fn = SCORES[score]
    curve = pav_curve(forecast, outcome)
    recal = curve.fitted[curve.inverse]
    s_x = float(fn(forecast, outcome).mean())
    s_r = float(fn(recal, outcome).mean())
    s_c = float(fn(np.full(outcome.shape, outcome.mean()), outcome).mean())
    return Decomposition(s_x, s_x - s_r, s_c - s_r, s_c)


class PavBlocks(NamedTuple):
    """One row per PAV block (adjacent distinct forecasts with one recalibrated value)."""

    lower: F64
    upper: F64
    mean_forecast: F64
    value: F64
    n: F64


def pav_blocks(curve: PavCurve) -> PavBlocks:
    """Blocks of a PAV fit: forecast range, weighted mean forecast, value and weight.

    Adjacent distinct forecasts with the same recalibrated value form one block (as the
    bins of R's ``reliabilitydiag``).

    Examples
    --------
    >>> c = pav_curve(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0]))
    >>> b = pav_blocks(c)
    >>> b.lower.tolist(), b.upper.tolist(), b.value.tolist(), b.n.tolist()
    ([0.1, 0.2, 0.4], [0.1, 0.3, 0.4], [0.0, 0.5, 1.0], [1.0, 2.0, 1.0])
    """
    starts = np.flatnonzero(np.r_[True, np.diff(curve.fitted) != 0])
    ends = np.r_[starts[1:], curve.x.size] - 1
    count = np.add.reduceat(curve.weight, starts)
    mean = np.add.reduceat(curve.weight * curve.x, starts) / count
    # Keep the mean inside the block's range where rounding would push it out.
    mean = np.clip(mean, curve.x[starts], curve.x[ends])
    return PavBlocks(curve.x[starts], curve.x[ends], mean, curve.fitted[starts], count)


def curve_at(at: Floats, x: Floats, fitted: Floats) -> F64:
    """Recalibration curves evaluated at ``at`` by linear interpolation between forecasts.

    ``fitted`` is ``(..., U)`` over the sorted distinct forecasts ``x``; the result is
    ``(..., len(at))``. Outside ``[x[0], x[-1]]`` the end values are kept (a constant
    extension, as scikit-learn's ``out_of_bounds="clip"``). Between two distinct forecasts
    the curve is linear, as CORP reliability diagrams draw it.

    Examples
    --------
    >>> curve_at(np.array([0.0, 0.3, 0.9]), np.array([0.2, 0.4]), np.array([[0.0, 1.0]]))
    array([[0. , 0.5, 1. ]])
    """
    fitted = np.asarray(fitted, dtype=np.float64)
    if x.size == 1:
        return np.repeat(fitted[..., :1], at.size, axis=-1)
    pos = np.clip(np.searchsorted(x, at, side="right") - 1, 0, x.size - 2)
    frac = np.clip((at - x[pos]) / (x[pos + 1] - x[pos]), 0.0, 1.0)
    return np.asarray(fitted[..., pos] * (1 - frac) + fitted[..., pos + 1] * frac)


def consistency_band(
    curve: PavCurve,
    at: Floats,
    level: float,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    chunk_cells: int = 1 << 22,
) -> tuple[F64, F64]:
    r"""Pointwise consistency band of the PAV curve under the hypothesis of calibration.

    Conditional on the forecasts, calibration means :math:`o_n \sim \mathrm{Bernoulli}(x_n)`
    independently, so the outcomes at a distinct forecast :math:`x_u` held by :math:`n_u`
    observations sum to a :math:`\mathrm{Binomial}(n_u, x_u)` draw. Each resample draws
    those sums, fits PAV and evaluates the curve at ``at`` (:func:`curve_at`); the band is
    the equal-tailed ``level`` interval of the resampled values at each point. R's
    ``reliabilitydiag`` also resamples the forecasts with replacement; drawing only the
    outcomes keeps the observed forecasts, so the band is the exact null distribution of
    the observed curve (up to Monte Carlo error). Resamples are drawn in chunks of about
    ``chunk_cells`` numbers, so memory stays ``O(n_resamples * len(at))``.

    ``curve.weight`` must hold integer counts (unweighted observations).

    Examples
    --------
    >>> c = pav_curve(np.array([0.2, 0.2, 0.8, 0.8]), np.array([0.0, 1.0, 1.0, 1.0]))
    >>> low, high = consistency_band(c, c.x, 0.9, 200, np.random.default_rng(0))
    >>> bool((low <= c.x).all() and (c.x <= high).all())
    True
    """
    counts = np.rint(curve.weight).astype(np.int64)
    values = np.empty((n_resamples, at.size))
    chunk = max(1, chunk_cells // max(1, curve.x.size))
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        freq = rng.binomial(counts, curve.x, size=(stop - start, curve.x.size)) / counts
        fitted = np.stack([isotonic_regression(row, weights=curve.weight).x for row in freq])
        values[start:stop] = curve_at(at, curve.x, fitted)
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha], axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
