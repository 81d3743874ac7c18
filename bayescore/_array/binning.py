r"""Numpy kernels for calibration: binning, bin statistics, ECE/MCE, Wilson intervals, PAV.

Valid input is assumed (probabilities in [0, 1], integer class indices); nothing here knows
about xarray. Top-label convention: confidence :math:`c_n = \max_k p_{nk}`,
correct :math:`= [\arg\max_k p_{nk} = y_n]`; with ``"uniform"`` bins, bin :math:`b` of
:math:`B` holds :math:`b/B < c \le (b+1)/B` (bin 0 also holds 0).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import isotonic_regression
from scipy.stats import norm

Floats = NDArray[np.floating[Any]]
Ints = NDArray[np.integer[Any]]

STRATEGIES = ("uniform", "quantile")


class BinStats(NamedTuple):
    """Per-bin number of forecasts, mean forecast and mean outcome (NaN where empty)."""

    n: NDArray[np.float64]
    mean_conf: NDArray[np.float64]
    accuracy: NDArray[np.float64]


class EceMce(NamedTuple):
    """Expected and maximum calibration error of one set of forecasts."""

    ece: float
    mce: float


def bin_index(
    conf: Floats, n_bins: int, strategy: str = "uniform"
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Bin of each forecast in [0, 1] and the bin edges (length ``n_bins + 1``).

    Examples
    --------
    >>> idx, edges = bin_index(np.array([0.0, 0.5, 0.51, 1.0]), 2)
    >>> idx.tolist(), edges.tolist()
    ([0, 0, 1, 1], [0.0, 0.5, 1.0])
    """
    if strategy == "uniform":
        # b / B exactly (not linspace, whose 3 * 0.2 is 0.6000000000000001), so that a
        # confidence of exactly (b + 1) / B falls in bin b as the convention says.
        edges = np.arange(n_bins + 1) / n_bins
        return bin_by_edges(conf, edges, strategy), edges
    order = np.argsort(conf, kind="stable")
    idx = np.empty(conf.size, dtype=np.int64)
    edges = np.empty(n_bins + 1)
    edges[0], edges[-1] = 0.0, 1.0
    for b, members in enumerate(np.array_split(order, n_bins)):
        idx[members] = b
        if b > 0:
            edges[b] = conf[members[0]] if members.size else edges[b - 1]
    return idx, edges


def bin_by_edges(values: Floats, edges: Floats, strategy: str = "uniform") -> NDArray[np.int64]:
    """Bin of each value for given edges (of a table made on other forecasts).

    ``"uniform"`` follows the convention of :func:`bin_index` (bin :math:`b` holds
    ``edges[b] < c <= edges[b + 1]``, bin 0 also its lower edge); ``"quantile"`` edges are
    the first forecast of each bin, so bin :math:`b` holds ``edges[b] <= c < edges[b + 1]``.
    Values beyond the outer edges go to the outer bins. Any leading shape.

    Examples
    --------
    >>> edges = np.array([0.0, 0.5, 1.0])
    >>> bin_by_edges(np.array([[0.0, 0.5, 0.51, 1.0]]), edges).tolist()
    [[0, 0, 1, 1]]
    >>> bin_by_edges(np.array([0.2, 0.5, 0.7]), np.array([0.0, 0.5, 1.0]), "quantile").tolist()
    [0, 1, 1]
    """
    side: Literal["left", "right"] = "left" if strategy == "uniform" else "right"
    idx = np.searchsorted(edges, values, side=side) - 1
    return np.clip(idx, 0, edges.size - 2).astype(np.int64)


def bin_stats(conf: Floats, outcome: Floats, idx: Ints, n_bins: int) -> BinStats:
    """Count, mean forecast and mean outcome of every bin (empty bins: count 0, NaN).

    Examples
    --------
    >>> s = bin_stats(np.array([0.2, 0.4]), np.array([0.0, 1.0]), np.array([0, 0]), 2)
    >>> s.n.tolist(), s.mean_conf.round(6).tolist()[0], np.isnan(s.accuracy[1])
    ([2.0, 0.0], 0.3, np.True_)
    """
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=outcome, minlength=n_bins) / count
    return BinStats(count, mean_conf, acc)


def ece_mce(conf: Floats, outcome: Floats, n_bins: int, strategy: str = "uniform") -> EceMce:
    r"""ECE :math:`\sum_b (n_b/N)|\bar o_b - \bar c_b|` and MCE (largest gap, non-empty bins).

    Examples
    --------
    >>> ece_mce(np.array([0.6, 0.8]), np.array([1.0, 0.0]), 1)
    EceMce(ece=0.2, mce=0.2)
    """
    idx, _ = bin_index(conf, n_bins, strategy)
    stats = bin_stats(conf, outcome, idx, n_bins)
    gap = np.abs(stats.accuracy - stats.mean_conf)
    filled = stats.n > 0
    ece = float(np.sum(stats.n[filled] / conf.size * gap[filled]))
    return EceMce(ece, float(gap[filled].max()))


def ece_resampled(idx: Ints, gap: Floats, rows: Ints, n_bins: int) -> NDArray[np.float64]:
    r"""ECE of each resample ``rows[r]`` of the observations, with bins fixed per observation.

    .. math:: \mathrm{ECE}_r = \frac1N \sum_b \Big|\sum_{i:\ b(n_{ri}) = b}
              (o_{n_{ri}} - c_{n_{ri}})\Big|

    equals :func:`ece_mce` on the resampled rows for ``"uniform"`` bins (an observation's
    bin depends on its own confidence only). ``idx``: bin of each observation; ``gap``:
    outcome minus confidence; ``rows``: ``(R, N)`` row indices. One ``bincount`` for all
    resamples, so a paired bootstrap of several models costs O(R N) each.

    Examples
    --------
    >>> conf, correct = np.array([0.6, 0.8]), np.array([1.0, 0.0])
    >>> idx, _ = bin_index(conf, 1)
    >>> ece_resampled(idx, correct - conf, np.array([[0, 1], [0, 0]]), 1).round(6).tolist()
    [0.2, 0.4]
    """
    n_resamples, n_obs = rows.shape
    flat = (np.arange(n_resamples)[:, None] * n_bins + idx[rows]).ravel()
    sums = np.bincount(flat, weights=gap[rows].ravel(), minlength=n_resamples * n_bins)
    return np.abs(sums.reshape(n_resamples, n_bins)).sum(axis=1) / n_obs


def top_label(probs: Floats, y: Ints) -> tuple[Floats, NDArray[np.float64]]:
    """Confidence ``max_k p`` and correctness ``argmax == y`` (as 0.0/1.0) per row.

    Examples
    --------
    >>> conf, correct = top_label(np.array([[0.3, 0.7], [0.6, 0.4]]), np.array([1, 1]))
    >>> conf.tolist(), correct.tolist()
    ([0.7, 0.6], [1.0, 0.0])
    """
    pred = np.argmax(probs, axis=-1)
    conf = np.take_along_axis(probs, pred[..., None], axis=-1)[..., 0]
    return conf, (pred == y).astype(np.float64)


def wilson(
    successes: Floats, n: Floats, level: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Wilson score interval for a binomial proportion (NaN where ``n`` is 0).

    .. math:: \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n}
              + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}

    The bounds are clipped so that they contain :math:`\hat p` and lie in [0, 1]: at
    :math:`\hat p = 1` the upper bound is 1 in exact arithmetic, but comes out as
    :math:`1 - 10^{-16}` in floating point, below the estimate it bounds (and a negative
    error bar, which matplotlib refuses, for every bin a model gets all right).

    Examples
    --------
    >>> low, high = wilson(np.array([5.0]), np.array([10.0]))
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.2366, 0.7634)
    >>> low, high = wilson(np.array([7.0, 0.0]), np.array([7.0, 7.0]))
    >>> high.tolist()[0], low.tolist()[1]  # all right, all wrong: the bound is the estimate
    (1.0, 0.0)
    """
    z = float(norm.ppf(0.5 + level / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        phat = successes / n
        denom = 1 + z**2 / n
        centre = (phat + z**2 / (2 * n)) / denom
        half = z * np.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2)) / denom
        # fmin/fmax keep NaN (empty bins) where the estimate is NaN, as np.clip would not.
        low = np.fmax(np.fmin(centre - half, phat), 0.0)
        high = np.fmin(np.fmax(centre + half, phat), 1.0)
    low = np.where(np.isnan(phat), np.nan, low)
    high = np.where(np.isnan(phat), np.nan, high)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


class PavCurve(NamedTuple):
    """A PAV fit on the distinct forecasts: sorted values, their weight, recalibrated value.

    ``inverse`` maps each observation to its distinct forecast, so ``fitted[inverse]`` is
    the recalibrated value of every observation.
    """

    x: NDArray[np.float64]
    weight: NDArray[np.float64]
    fitted: NDArray[np.float64]
    inverse: NDArray[np.int64]


def pav_curve(x: Floats, y: Floats, weights: Floats | None = None) -> PavCurve:
    """Isotonic (non-decreasing) regression of ``y`` on ``x``, one value per distinct ``x``.

    Ties in ``x`` are pooled first (one tie group per distinct forecast, as CORP requires:
    Dimitriadis, Gneiting & Jordan 2021), then the tie-group means are pooled by
    pool-adjacent-violators with the group weights (scipy's compiled PAV).

    Examples
    --------
    >>> c = pav_curve(np.array([0.5, 0.5, 0.1]), np.array([1.0, 0.0, 1.0]))
    >>> c.x.tolist(), c.weight.tolist(), c.fitted.round(4).tolist(), c.inverse.tolist()
    ([0.1, 0.5], [1.0, 2.0], [0.6667, 0.6667], [1, 1, 0])
    """
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=np.float64)
    uniq, inverse = np.unique(x, return_inverse=True)
    tot_w = np.bincount(inverse, weights=w, minlength=uniq.size)
    tot_wy = np.bincount(inverse, weights=w * y, minlength=uniq.size)
    fitted = isotonic_regression(tot_wy / tot_w, weights=tot_w).x
    return PavCurve(
        np.asarray(uniq, dtype=np.float64),
        tot_w,
        np.asarray(fitted, dtype=np.float64),
        inverse.astype(np.int64).reshape(-1),
    )


def pav(x: Floats, y: Floats, weights: Floats | None = None) -> NDArray[np.float64]:
    """Isotonic (non-decreasing) regression of ``y`` on ``x`` by pool-adjacent-violators.

    Ties in ``x`` are pooled first (see :func:`pav_curve`), so equal forecasts always get
    equal recalibrated values. Returns the fitted values in the original order of ``x``;
    they minimise the weighted squared error, and hence every proper score of binary
    outcomes, among non-decreasing functions of ``x``.

    Examples
    --------
    >>> pav(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0])).tolist()
    [0.0, 0.5, 0.5, 1.0]
    >>> pav(np.array([0.5, 0.5, 0.1]), np.array([1.0, 0.0, 1.0])).tolist()  # tie pooled
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    """
    curve = pav_curve(x, y, weights)
    return curve.fitted[curve.inverse]


__all__ = [
    "STRATEGIES",
    "BinStats",
    "EceMce",
    "PavCurve",
    "bin_by_edges",
    "bin_index",
    "bin_stats",
    "ece_mce",
    "ece_resampled",
    "pav",
    "pav_curve",
    "top_label",
    "wilson",
]
