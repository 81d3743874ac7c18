r"""Calibration error measures: the ECE family, reliability tables, smooth and posterior ECE.

Top-label calibration: confidence :math:`c_n = \max_k p_{nk}`, correct
:math:`= [\arg\max_k p_{nk} = y_n]`. With ``strategy="uniform"`` bin :math:`b` of :math:`B`
holds :math:`b/B < c \le (b+1)/B` (bin 0 also holds 0); ``"quantile"`` makes :math:`B` bins
of (nearly) equal count. :math:`\mathrm{ECE} = \sum_b (n_b/N)\,|\mathrm{acc}_b -
\mathrm{conf}_b|`, MCE is the largest gap over non-empty bins. Accuracy above confidence
means the model is **under-confident** there; below means over-confident.

Same kind in, same kind out: a single number is a float for numpy input and a 0-d
DataArray for DataArray input (one value per extra leading index, e.g. ``chain, draw``, in
either case); tables are Datasets.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.stats import norm

from bayescore._array import binning
from bayescore._inputs import Prepared, prepare, prepare_draws, reduce_draws, wrap
from bayescore._names import BIN, CLASS, SAMPLE
from bayescore._validation import LEVEL, N_BINS, Interval, Options, validate_params
from bayescore.calibration.corp import N_RESAMPLES, corp_table, read_forecasts

__all__ = [
    "bootstrap_calibration_error",
    "classwise_calibration_error",
    "expected_calibration_error",
    "maximum_calibration_error",
    "posterior_calibration_error",
    "reliability_table",
    "smooth_calibration_error",
]

STRATEGY = Options(binning.STRATEGIES)
N_BOOT = Interval(numbers.Integral, 2, None, "left")
Floats = NDArray[np.floating[Any]]


def _prepared(y: Any, probs: Any, labels: Any) -> tuple[Prepared, NDArray[np.int64]]:
    p = prepare(y, probs, labels=labels)
    assert p.y_idx is not None
    return p, p.y_idx


def _one_set(p: Prepared, func: str, hint: str = "") -> None:
    if p.values.ndim != 2:
        raise ValueError(
            f"{func} takes one set of probabilities (n_obs, n_classes); got shape "
            f"{p.values.shape}.{hint}"
        )


def _per_draw(
    value_fn: Callable[[Floats, NDArray[np.int64]], float], p: Prepared, name: str
) -> Any:
    """Apply a (N, K) -> float function to each leading index; wrap like the input."""
    assert p.y_idx is not None
    lead = p.values.shape[:-2]
    flat = p.values.reshape((-1,) + p.values.shape[-2:])
    out = np.array([value_fn(v, p.y_idx) for v in flat]).reshape(lead)
    return wrap(out, p.template, name)


def _scalar(value: float, p: Prepared, name: str) -> Any:
    return wrap(np.float64(value), p.template, name, dims=())


@validate_params({"n_bins": N_BINS, "strategy": STRATEGY})
def expected_calibration_error(
    y: Any,
    probs: Any,
    n_bins: int = 15,
    strategy: str = "uniform",
    *,
    labels: Any = None,
) -> Any:
    r"""Expected calibration error of the top label.

    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{N}\,|\mathrm{acc}_b - \mathrm{conf}_b|

    ``strategy="quantile"`` gives the adaptive ECE (equal-count bins).

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Labels, matched by value against ``labels`` or the ``class`` coordinate.
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray
        With extra dims (e.g. ``chain, draw``) the result has one ECE per index.
    n_bins : int, default 15
    strategy : {"uniform", "quantile"}, default "uniform"
    labels : array-like, optional
        The class of each column of ``probs``.

    Returns
    -------
    float, ndarray or DataArray
        Between 0 and 1; lower is better.

    See Also
    --------
    reliability_table, maximum_calibration_error, posterior_calibration_error

    Examples
    --------
    >>> round(expected_calibration_error([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.3], n_bins=2), 4)
    0.25
    """
    p, _ = _prepared(y, probs, labels)
    return _per_draw(
        lambda v, yy: binning.ece_mce(*binning.top_label(v, yy), n_bins, strategy).ece, p, "ece"
    )


@validate_params({"n_bins": N_BINS, "strategy": STRATEGY})
def maximum_calibration_error(
    y: Any, probs: Any, n_bins: int = 15, strategy: str = "uniform", *, labels: Any = None
) -> Any:
    r"""Largest top-label calibration gap over non-empty bins.

    .. math:: \mathrm{MCE} = \max_{b:\,n_b > 0} |\mathrm{acc}_b - \mathrm{conf}_b|

    Parameters
    ----------
    y, probs, n_bins, strategy, labels
        As in :func:`expected_calibration_error`.

    Returns
    -------
    float, ndarray or DataArray
        Between 0 and 1; lower is better.

    Examples
    --------
    >>> round(maximum_calibration_error([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.3], n_bins=2), 4)
    0.25
    """
    p, _ = _prepared(y, probs, labels)
    return _per_draw(
        lambda v, yy: binning.ece_mce(*binning.top_label(v, yy), n_bins, strategy).mce, p, "mce"
    )


@validate_params({"n_bins": N_BINS, "strategy": STRATEGY})
def classwise_calibration_error(
    y: Any, probs: Any, n_bins: int = 15, strategy: str = "uniform", *, labels: Any = None
) -> Any:
    r"""Class-wise ECE (Kull et al., 2019): the mean over classes of each class's ECE.

    .. math:: \frac1K\sum_k\sum_b \frac{n_{kb}}{N}\,|\bar y_{kb} - \bar p_{kb}|

    with bins over :math:`p_{nk}` and frequencies of :math:`[y_n = k]`.

    Parameters
    ----------
    y, probs, n_bins, strategy, labels
        As in :func:`expected_calibration_error`; one set of probabilities (N, K).

    Returns
    -------
    float, or 0-d DataArray for DataArray input
        Lower is better.

    Examples
    --------
    >>> round(classwise_calibration_error([0, 1], [[0.8, 0.2], [0.3, 0.7]], n_bins=2), 4)
    0.25
    """
    p, y_idx = _prepared(y, probs, labels)
    _one_set(p, "classwise_calibration_error")
    values = [
        binning.ece_mce(p.values[:, k], (y_idx == k).astype(float), n_bins, strategy).ece
        for k in range(p.values.shape[1])
    ]
    return _scalar(float(np.mean(values)), p, "classwise_ece")


@validate_params(
    {
        "n_bins": N_BINS,
        "strategy": Options((*binning.STRATEGIES, "pav")),
        "level": LEVEL,
        "n_resamples": N_RESAMPLES,
    }
)
def reliability_table(
    y: Any,
    probs: Any,
    n_bins: int = 15,
    strategy: str = "uniform",
    *,
    classwise: bool = False,
    labels: Any = None,
    level: float = 0.95,
    n_resamples: int = 1000,
    random_seed: int | None = 0,
) -> xr.Dataset:
    r"""Reliability table: per bin (or per PAV block) confidence, accuracy and gap.

    ``strategy="uniform"``/``"quantile"`` bin the forecasts and give Wilson intervals for
    each bin's accuracy. ``strategy="pav"`` is the CORP table (Dimitriadis, Gneiting &
    Jordan 2021): one row per block of the PAV (isotonic) recalibration of the outcomes on
    the forecasts, ties pooled, with a consistency band under the hypothesis of
    calibration, as R's ``reliabilitydiag``.

    Posterior draws are judged through their posterior-predictive mean forecast (the table
    is that forecast's), with a posterior band beside it: each draw's own accuracy per bin
    (binned, in the bins of the mean forecast) or its own PAV curve (``"pav"``).

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray (obs, class)
        Or posterior draws: ``(S, n_obs, n_classes)`` or a DataArray
        ``(chain, draw, obs, class)``; the table is that of the posterior-predictive mean
        forecast, with a posterior band.
    n_bins : int, default 15
        Number of bins (not used by ``"pav"``, whose blocks PAV chooses).
    strategy : {"uniform", "quantile", "pav"}, default "uniform"
    classwise : bool, default False
        One table per class (dims ``class, bin``): bins over :math:`p_{nk}`, "accuracy" is
        the frequency of class k. The ``class`` coordinate holds the class labels (from
        ``labels=`` or the DataArray's coordinate), else the column indices. With
        ``"pav"``, classes with fewer blocks end in empty rows (count 0, NaN).
    labels : array-like, optional
    level : float in (0, 1), default 0.95
        Coverage of the Wilson score interval for each bin's accuracy; with ``"pav"``, of
        the consistency band and of the posterior band.
    n_resamples : int >= 2, default 1000
        ``"pav"``: resamples behind the consistency band.
    random_seed : int, optional
        ``"pav"``: seed of the resampling (the default 0 makes tables reproducible).

    Returns
    -------
    Dataset over dim ``bin``
        Binned (always ``n_bins`` rows; empty bins have count 0 and NaN): ``lower``/
        ``upper`` edges, ``count``, ``confidence`` (mean), ``accuracy``, ``gap``
        (accuracy - confidence: > 0 under-confident, < 0 over-confident),
        ``accuracy_low``/``accuracy_high`` (the Wilson interval, which always contains
        ``accuracy``); attrs ``ece``, ``mce``, ``n_obs``, ``strategy``, ``kind``, ``level``.
        Draws add ``posterior_low``/``posterior_high``: the equal-tailed ``level`` interval
        over draws of each draw's accuracy in the bin (each draw's forecasts binned by the
        table's edges; draws with nothing in a bin are left out, NaN where no draw has
        anything there), and attr ``n_draws``.

        ``"pav"`` (one row per PAV block, in increasing order of forecast):

        - ``lower``/``upper``: smallest and largest forecast in the block;
        - ``count``: observations in the block;
        - ``confidence``: the block's mean forecast (for binary problems the probability
          of the second class, the positive class; else the top-label confidence);
        - ``accuracy``: the recalibrated frequency, i.e. the PAV value, which is the
          observed frequency of the outcome in the block;
        - ``gap``: accuracy - confidence;
        - ``consistency_low``/``consistency_high``: the ``level`` consistency band at
          ``confidence``: outcomes drawn as :math:`o^* \sim \mathrm{Bernoulli}(x)` on the
          observed forecasts ``n_resamples`` times, each recalibrated by PAV and read at
          ``confidence`` (linear between distinct forecasts), equal-tailed quantiles. A
          calibrated forecaster's ``accuracy`` lies inside for about ``level`` of blocks;
        - draws only: ``posterior_low``/``posterior_high``, the equal-tailed ``level``
          interval over draws of each draw's own PAV curve read at ``confidence``.

        Attrs ``strategy``, ``kind`` ("binary", "top-label" or "classwise"), ``n_obs``,
        ``level``, ``n_resamples`` (and ``n_draws``), ``positive_class`` (binary, when the
        class labels are known: the label of the second column), and the CORP Brier
        decomposition
        ``brier_score``, ``brier_miscalibration``, ``brier_discrimination``,
        ``brier_uncertainty`` (see :func:`~bayescore.score_decomposition`).

    Examples
    --------
    >>> t = reliability_table([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.3], n_bins=2)
    >>> t["count"].values.tolist(), t["accuracy"].values.tolist()
    ([0.0, 4.0], [nan, 1.0])
    >>> t = reliability_table([0, 1, 0, 1], [0.1, 0.4, 0.4, 0.9], strategy="pav")
    >>> t["confidence"].values.tolist(), t["accuracy"].values.tolist()
    ([0.1, 0.4, 0.9], [0.0, 0.5, 1.0])
    """
    if strategy == "pav":
        return corp_table(
            y,
            probs,
            labels=labels,
            multiclass="classwise" if classwise else "top-label",
            level=level,
            n_resamples=n_resamples,
            random_seed=random_seed,
        )
    inp = read_forecasts(y, probs, labels)
    arr, y_idx, d = inp.mean, inp.y_idx, inp.draws
    if classwise:
        tables = []
        for k in range(arr.shape[1]):
            one_vs_rest = functools.partial(_classwise, y_idx=y_idx, k=k)
            sets = None if d is None else _draw_sets(d, one_vs_rest)
            tables.append(_table(*one_vs_rest(arr), n_bins, strategy, level, sets))
        classes = inp.classes if inp.classes is not None else np.arange(arr.shape[1])
        out = xr.concat(tables, dim=CLASS).assign_coords({CLASS: classes})
        out.attrs = {
            "ece": float(np.mean([t.attrs["ece"] for t in tables])),
            "n_obs": int(y_idx.size),
            "strategy": strategy,
            "kind": "classwise",
            "level": level,
        }
    else:
        sets = None if d is None else _draw_sets(d, lambda v: binning.top_label(v, y_idx))
        out = _table(*binning.top_label(arr, y_idx), n_bins, strategy, level, sets)
        out.attrs["kind"] = "top-label"
    if d is not None:
        out.attrs["n_draws"] = d.n_draws
    return out


def _classwise(values: Floats, y_idx: NDArray[np.int64], k: int) -> tuple[Floats, Floats]:
    """Forecasts of class ``k`` and whether it happened: one-vs-rest problem ``k``."""
    return values[..., k], (y_idx == k).astype(np.float64)


def _draw_sets(
    d: Any, sets: Callable[[Floats], tuple[Floats, Floats]]
) -> Iterator[tuple[Floats, Floats]]:
    """(forecast, outcome) of each posterior draw in turn (one draw in memory at a time)."""
    for s in range(d.n_draws):
        yield sets(np.asarray(d.values[s], dtype=np.float64))


def _table(
    conf: Floats,
    correct: Floats,
    n_bins: int,
    strategy: str,
    level: float,
    draws: Iterable[tuple[Floats, Floats]] | None = None,
) -> xr.Dataset:
    idx, edges = binning.bin_index(conf, n_bins, strategy)
    stats = binning.bin_stats(conf, correct, idx, n_bins)
    low, high = binning.wilson(stats.accuracy * stats.n, stats.n, level)
    gap = stats.accuracy - stats.mean_conf
    filled = stats.n > 0
    data = {
        "lower": ((BIN,), edges[:-1]),
        "upper": ((BIN,), edges[1:]),
        "count": ((BIN,), stats.n),
        "confidence": ((BIN,), stats.mean_conf),
        "accuracy": ((BIN,), stats.accuracy),
        "gap": ((BIN,), gap),
        "accuracy_low": ((BIN,), low),
        "accuracy_high": ((BIN,), high),
    }
    if draws is not None:
        # Each draw's accuracy per bin, its forecasts binned by the mean forecast's edges.
        per_draw = np.array(
            [
                binning.bin_stats(c, o, binning.bin_by_edges(c, edges, strategy), n_bins).accuracy
                for c, o in draws
            ]
        )
        alpha = (1 - level) / 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a bin no draw reaches: NaN
            band = np.nanquantile(per_draw, [alpha, 1 - alpha], axis=0)
        data["posterior_low"], data["posterior_high"] = ((BIN,), band[0]), ((BIN,), band[1])
    return xr.Dataset(
        data,
        coords={BIN: np.arange(n_bins)},
        attrs={
            "ece": float(np.sum(stats.n[filled] / conf.size * np.abs(gap[filled]))),
            "mce": float(np.abs(gap[filled]).max()),
            "n_obs": int(conf.size),
            "strategy": strategy,
            "level": level,
        },
    )


@validate_params({"n_grid": Interval(numbers.Integral, 2, None, "left")})
def smooth_calibration_error(y: Any, probs: Any, *, labels: Any = None, n_grid: int = 501) -> Any:
    r"""Binning-free smooth ECE (smECE; Blasiok & Nakkiran, 2023) of the top label.

    Kernel-smooths the residuals :math:`r_n = [\text{correct}_n] - c_n` with a Gaussian
    kernel reflected at 0 and 1,

    .. math:: \mathrm{smECE}_\sigma = \int_0^1 \Big|\frac1N\sum_n K_\sigma(t, c_n)\,r_n\Big|\,dt,

    and reports it at the bandwidth :math:`\sigma^*` solving
    :math:`\mathrm{smECE}_{\sigma^*} = \sigma^*` (found by bisection), as relplot does.

    Parameters
    ----------
    y, probs, labels
        As in :func:`expected_calibration_error`; one set of probabilities (N, K).
    n_grid : int, default 501
        Grid points on [0, 1].

    Returns
    -------
    float, or 0-d DataArray for DataArray input
        Lower is better.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1, 5000)
    >>> y = (rng.random(5000) < p).astype(int)  # calibrated positive-class probabilities
    >>> smooth_calibration_error(y, p) < 0.03
    True
    """
    p, y_idx = _prepared(y, probs, labels)
    _one_set(p, "smooth_calibration_error")
    conf, correct = binning.top_label(p.values, y_idx)
    grid = np.linspace(0.0, 1.0, n_grid)
    # Residuals accumulated on the grid first (as relplot does): each bandwidth then costs
    # O(n_grid^2) instead of O(n_grid * N).
    where = np.rint(conf * (n_grid - 1)).astype(np.int64)
    resid = np.bincount(where, weights=correct - conf, minlength=n_grid) / conf.size
    diff = grid[:, None] - grid[None, :]
    mirrored = (grid[:, None] + grid[None, :], 2.0 - grid[:, None] - grid[None, :])

    def sm_ece(sigma: float) -> float:
        kern = norm.pdf(diff / sigma)
        for d in mirrored:  # reflections at 0 and 1 keep the kernel's mass inside [0, 1]
            kern += norm.pdf(d / sigma)
        return float(np.trapezoid(np.abs(kern @ resid / sigma), grid))

    lo, hi = 1e-5, 1.0
    for _ in range(40):
        mid = float(np.sqrt(lo * hi))
        if sm_ece(mid) > mid:
            lo = mid
        else:
            hi = mid
    return _scalar(sm_ece(float(np.sqrt(lo * hi))), p, "smooth_ece")


@validate_params({"n_bins": N_BINS, "strategy": STRATEGY, "level": LEVEL})
def posterior_calibration_error(
    y: Any,
    draws: Any,
    n_bins: int = 15,
    strategy: str = "uniform",
    *,
    labels: Any = None,
    level: float = 0.95,
) -> xr.Dataset:
    """Calibration error with posterior uncertainty: the ECE of every posterior draw.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    draws : array-like (S, N, K) / (C, D, N, K), or DataArray (chain, draw, obs, class)
    n_bins, strategy, labels
        As in :func:`expected_calibration_error`.
    level : float in (0, 1), default 0.95
        Credible interval of the per-draw ECE.

    Returns
    -------
    Dataset
        ``ece_draws`` (one per draw; the draw dims and coords of DataArray input, else
        dim ``sample``), ``ece_of_mean`` (ECE of the posterior-mean probabilities),
        ``ece_mean``, ``lower``, ``upper`` (equal-tailed interval over draws).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> draws = rng.dirichlet([2, 2], size=(50, 200))
    >>> out = posterior_calibration_error(rng.integers(0, 2, 200), draws, n_bins=5)
    >>> bool(out["lower"] <= out["ece_mean"] <= out["upper"])
    True
    """
    d = prepare_draws(y, draws, labels=labels)
    assert d.y_idx is not None
    sums = reduce_draws(d, frozenset({"probs"}))  # checks every row on the way
    assert sums.probs is not None

    def ece(p: Floats) -> float:
        assert d.y_idx is not None
        return binning.ece_mce(*binning.top_label(p, d.y_idx), n_bins, strategy).ece

    eces = np.array([ece(np.asarray(d.values[s])) for s in range(d.n_draws)])
    alpha = (1 - level) / 2
    if d.template is not None and d.draw_dims:
        shape = tuple(d.template.sizes[dim] for dim in d.draw_dims)
        ece_draws = wrap(eces.reshape(shape), d.template, "ece_draws", dims=d.draw_dims)
    else:
        ece_draws = xr.DataArray(eces, dims=(SAMPLE,), name="ece_draws")
    return xr.Dataset(
        {
            "ece_draws": ece_draws,
            "ece_of_mean": ece(sums.probs / sums.n_draws),
            "ece_mean": float(eces.mean()),
            "lower": float(np.quantile(eces, alpha)),
            "upper": float(np.quantile(eces, 1 - alpha)),
        },
        attrs={"n_bins": n_bins, "strategy": strategy, "level": level, "n_obs": d.n_obs},
    )


@validate_params({"n_bins": N_BINS, "strategy": STRATEGY, "level": LEVEL, "n_boot": N_BOOT})
def bootstrap_calibration_error(
    y: Any,
    probs: Any,
    n_bins: int = 15,
    strategy: str = "uniform",
    *,
    labels: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    random_seed: int | None = 0,
) -> xr.Dataset:
    """ECE with a bootstrap interval over observations (any model's probabilities).

    Parameters
    ----------
    y, probs, n_bins, strategy, labels
        As in :func:`expected_calibration_error`.
    n_boot : int, default 1000
        Bootstrap resamples (>= 2).
    level : float in (0, 1), default 0.95
    random_seed : int, optional

    Returns
    -------
    Dataset
        ``ece`` (on all rows), ``lower``, ``upper``, ``se`` and ``ece_boot`` (dim ``boot``).

    Examples
    --------
    >>> out = bootstrap_calibration_error([0, 1] * 50, [0.3, 0.8] * 50, n_bins=5, n_boot=200)
    >>> round(float(out["ece"]), 4)
    0.25
    """
    p, y_idx = _prepared(y, probs, labels)
    _one_set(p, "bootstrap_calibration_error")
    conf, correct = binning.top_label(p.values, y_idx)
    rng = np.random.default_rng(random_seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        rows = rng.integers(0, conf.size, conf.size)
        boots[b] = binning.ece_mce(conf[rows], correct[rows], n_bins, strategy).ece
    alpha = (1 - level) / 2
    return xr.Dataset(
        {
            "ece": binning.ece_mce(conf, correct, n_bins, strategy).ece,
            "lower": float(np.quantile(boots, alpha)),
            "upper": float(np.quantile(boots, 1 - alpha)),
            "se": float(boots.std(ddof=1)),
            "ece_boot": (("boot",), boots),
        },
        attrs={"n_boot": n_boot, "level": level, "n_bins": n_bins, "strategy": strategy},
    )
