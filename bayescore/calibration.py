r"""Calibration: reliability tables, the ECE family, and recalibration fitted by NLL.

Top-label calibration (SPEC §3): confidence :math:`c_n = \max_k p_{nk}`, correct
:math:`= [\arg\max_k p_{nk} = y_n]`. With ``strategy="uniform"`` bin :math:`b` of :math:`B`
holds :math:`b/B < c \le (b+1)/B` (bin 0 also holds 0); ``"quantile"`` makes :math:`B` bins
of (nearly) equal count. :math:`\mathrm{ECE} = \sum_b (n_b/N)\,|\mathrm{acc}_b -
\mathrm{conf}_b|`, MCE is the largest gap over non-empty bins. Accuracy above confidence
means the model is **under-confident** there; below means over-confident.

Everything works on any model's probabilities. Inputs with ``chain, draw`` dims give one
value per draw. Nothing here imports PyMC.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_softmax, logsumexp, softmax
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from bayescore._names import BIN, CLASS, OBS
from bayescore._scoring_kernels import true_class
from bayescore._validation import (
    SUM_TOL,
    check_choice,
    check_consistent_length,
    check_int,
    check_label_range,
    check_probs,
)
from bayescore.scoring import _as_draws, _class_coord, _point_probs, _resolve_y

__all__ = [
    "CalibratedBayesianClassifier",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
    "bootstrap_calibration_error",
    "brier_decomposition",
    "calibration_drift",
    "classwise_calibration_error",
    "expected_calibration_error",
    "log_loss_decomposition",
    "maximum_calibration_error",
    "posterior_calibration_error",
    "reliability_table",
    "smooth_calibration_error",
]

STRATEGIES = ("uniform", "quantile")
_EPS = float(np.finfo(float).eps)
#: Probabilities of exactly 0 or 1 map to this logit: beyond it float64 cannot tell p from 1.
_MAX_LOGIT = float(-np.log(_EPS))

# ------------------------------------------------------------------ kernels


def _bin_index(conf: np.ndarray, n_bins: int, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    """Bin of each confidence and the bin edges (length n_bins + 1)."""
    if strategy == "uniform":
        # b / B exactly (not linspace, whose 3 * 0.2 is 0.6000000000000001), so that a
        # confidence of exactly (b + 1) / B falls in bin b as the convention says.
        edges = np.arange(n_bins + 1) / n_bins
        idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
        return idx, edges
    order = np.argsort(conf, kind="stable")
    idx = np.empty(conf.size, dtype=np.int64)
    edges = np.empty(n_bins + 1)
    edges[0], edges[-1] = 0.0, 1.0
    for b, members in enumerate(np.array_split(order, n_bins)):
        idx[members] = b
        if b > 0:
            edges[b] = conf[members[0]] if members.size else edges[b - 1]
    return idx, edges


def _bin_stats(conf: np.ndarray, correct: np.ndarray, idx: np.ndarray, n_bins: int):
    count = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return count, mean_conf, acc


def _ece_mce(conf: np.ndarray, correct: np.ndarray, n_bins: int, strategy: str):
    idx, _ = _bin_index(conf, n_bins, strategy)
    count, mean_conf, acc = _bin_stats(conf, correct, idx, n_bins)
    gap = np.abs(acc - mean_conf)
    filled = count > 0
    ece = float(np.sum(count[filled] / conf.size * gap[filled]))
    return ece, float(gap[filled].max())


def _top_label(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.argmax(probs, axis=-1)
    return np.take_along_axis(probs, pred[..., None], axis=-1)[..., 0], (pred == y).astype(float)


def _wilson(successes: np.ndarray, n: np.ndarray, level: float = 0.95):
    """Wilson score interval for a binomial proportion (NaN for empty bins)."""
    z = norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        phat = successes / n
        denom = 1 + z**2 / n
        centre = (phat + z**2 / (2 * n)) / denom
        half = z * np.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


# --------------------------------------------------------------- inputs


def _prepare(y: Any, probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Validated probabilities (..., N, K), class indices and an xarray template."""
    arr, template = _point_probs(probs)
    y_idx = _resolve_y(y, arr.shape[-1], labels, _class_coord(probs))
    check_consistent_length(y_idx.shape[0], arr.shape[-2], "y", "probs")
    return arr, y_idx, template


def _check_bins(n_bins: int, strategy: str, func: str) -> None:
    check_int("n_bins", n_bins, min_value=1, func=func)
    check_choice("strategy", strategy, STRATEGIES, func)


def _per_draw(values_fn, arr: np.ndarray, y: np.ndarray, template: Any, name: str) -> Any:
    """Apply a (N, K) -> float function to each leading index; wrap like the input."""
    lead = arr.shape[:-2]
    flat = arr.reshape((-1,) + arr.shape[-2:])
    out = np.array([values_fn(p, y) for p in flat]).reshape(lead)
    if template is not None:
        reduced = template.isel({OBS: 0}, drop=True) if OBS in template.dims else template
        return reduced.copy(data=out).rename(name)
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------- error measures


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
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray
        With extra dims (e.g. ``chain, draw``) the result has one ECE per index.
    n_bins : int, default 15
    strategy : {"uniform", "quantile"}, default "uniform"
    labels : array-like, optional
        Class order of the columns, if ``y`` holds labels.

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
    _check_bins(n_bins, strategy, "expected_calibration_error")
    arr, y_idx, template = _prepare(y, probs, labels)
    return _per_draw(
        lambda p, yy: _ece_mce(*_top_label(p, yy), n_bins, strategy)[0],
        arr,
        y_idx,
        template,
        "ece",
    )


def maximum_calibration_error(
    y: Any, probs: Any, n_bins: int = 15, strategy: str = "uniform", *, labels: Any = None
) -> Any:
    r"""Largest top-label calibration gap over non-empty bins.

    .. math:: \mathrm{MCE} = \max_{b:\,n_b > 0} |\mathrm{acc}_b - \mathrm{conf}_b|

    Examples
    --------
    >>> round(maximum_calibration_error([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.3], n_bins=2), 4)
    0.25
    """
    _check_bins(n_bins, strategy, "maximum_calibration_error")
    arr, y_idx, template = _prepare(y, probs, labels)
    return _per_draw(
        lambda p, yy: _ece_mce(*_top_label(p, yy), n_bins, strategy)[1],
        arr,
        y_idx,
        template,
        "mce",
    )


def classwise_calibration_error(
    y: Any, probs: Any, n_bins: int = 15, strategy: str = "uniform", *, labels: Any = None
) -> float:
    r"""Class-wise ECE (Kull et al., 2019): the mean over classes of each class's ECE.

    .. math:: \frac1K\sum_k\sum_b \frac{n_{kb}}{N}\,|\bar y_{kb} - \bar p_{kb}|

    with bins over :math:`p_{nk}` and frequencies of :math:`[y_n = k]`.

    Examples
    --------
    >>> round(classwise_calibration_error([0, 1], [[0.8, 0.2], [0.3, 0.7]], n_bins=2), 4)
    0.25
    """
    _check_bins(n_bins, strategy, "classwise_calibration_error")
    arr, y_idx, _ = _prepare(y, probs, labels)
    if arr.ndim != 2:
        raise ValueError("classwise_calibration_error takes one set of probabilities (N, K).")
    values = [
        _ece_mce(arr[:, k], (y_idx == k).astype(float), n_bins, strategy)[0]
        for k in range(arr.shape[1])
    ]
    return float(np.mean(values))


def reliability_table(
    y: Any,
    probs: Any,
    n_bins: int = 15,
    strategy: str = "uniform",
    *,
    classwise: bool = False,
    labels: Any = None,
    level: float = 0.95,
) -> xr.Dataset:
    """Per-bin confidence, accuracy and gap, with Wilson intervals for the accuracy.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray (obs, class)
    n_bins : int, default 15
    strategy : {"uniform", "quantile"}, default "uniform"
    classwise : bool, default False
        One table per class (dims ``class, bin``): bins over :math:`p_{nk}`, "accuracy" is
        the frequency of class k.
    labels : array-like, optional
    level : float, default 0.95
        Coverage of the Wilson score interval for each bin's accuracy.

    Returns
    -------
    Dataset over dim ``bin`` (always ``n_bins`` rows; empty bins have count 0 and NaN)
        ``lower``/``upper`` edges, ``count``, ``confidence`` (mean), ``accuracy``, ``gap``
        (accuracy - confidence: > 0 under-confident, < 0 over-confident),
        ``accuracy_low``/``accuracy_high``; attrs ``ece``, ``mce``, ``n_obs``, ``strategy``.

    Examples
    --------
    >>> t = reliability_table([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.3], n_bins=2)
    >>> t["count"].values.tolist(), t["accuracy"].values.tolist()
    ([0.0, 4.0], [nan, 1.0])
    """
    _check_bins(n_bins, strategy, "reliability_table")
    arr, y_idx, _ = _prepare(y, probs, labels)
    if arr.ndim != 2:
        raise ValueError(
            "reliability_table takes one set of probabilities (N, K); average "
            "draws first or use posterior_calibration_error."
        )
    if classwise:
        tables = [
            _table(arr[:, k], (y_idx == k).astype(float), n_bins, strategy, level)
            for k in range(arr.shape[1])
        ]
        classes = labels if labels is not None else np.arange(arr.shape[1])
        out = xr.concat(tables, dim=CLASS).assign_coords({CLASS: np.asarray(classes)})
        out.attrs = {
            "ece": float(np.mean([t.attrs["ece"] for t in tables])),
            "n_obs": int(y_idx.size),
            "strategy": strategy,
            "kind": "classwise",
        }
        return out
    conf, correct = _top_label(arr, y_idx)
    out = _table(conf, correct, n_bins, strategy, level)
    out.attrs["kind"] = "top-label"
    return out


def _table(conf, correct, n_bins, strategy, level) -> xr.Dataset:
    idx, edges = _bin_index(conf, n_bins, strategy)
    count, mean_conf, acc = _bin_stats(conf, correct, idx, n_bins)
    low, high = _wilson(acc * count, count, level)
    gap = acc - mean_conf
    filled = count > 0
    return xr.Dataset(
        {
            "lower": ((BIN,), edges[:-1]),
            "upper": ((BIN,), edges[1:]),
            "count": ((BIN,), count),
            "confidence": ((BIN,), mean_conf),
            "accuracy": ((BIN,), acc),
            "gap": ((BIN,), gap),
            "accuracy_low": ((BIN,), low),
            "accuracy_high": ((BIN,), high),
        },
        coords={BIN: np.arange(n_bins)},
        attrs={
            "ece": float(np.sum(count[filled] / conf.size * np.abs(gap[filled]))),
            "mce": float(np.abs(gap[filled]).max()),
            "n_obs": int(conf.size),
            "strategy": strategy,
        },
    )


def smooth_calibration_error(
    y: Any, probs: Any, *, labels: Any = None, n_grid: int = 501
) -> float:
    r"""Binning-free smooth ECE (smECE; Blasiok & Nakkiran, 2023) of the top label.

    Kernel-smooths the residuals :math:`r_n = [\text{correct}_n] - c_n` with a Gaussian
    kernel reflected at 0 and 1,

    .. math:: \mathrm{smECE}_\sigma = \int_0^1 \Big|\frac1N\sum_n K_\sigma(t, c_n)\,r_n\Big|\,dt,

    and reports it at the bandwidth :math:`\sigma^*` solving
    :math:`\mathrm{smECE}_{\sigma^*} = \sigma^*` (found by bisection), as relplot does.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.5, 1, 5000)
    >>> y = (rng.random(5000) < p).astype(int)  # calibrated positive-class probabilities
    >>> smooth_calibration_error(y, p) < 0.03
    True
    """
    arr, y_idx, _ = _prepare(y, probs, labels)
    if arr.ndim != 2:
        raise ValueError("smooth_calibration_error takes one set of probabilities (N, K).")
    conf, correct = _top_label(arr, y_idx)
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
        mid = np.sqrt(lo * hi)
        if sm_ece(mid) > mid:
            lo = mid
        else:
            hi = mid
    return sm_ece(np.sqrt(lo * hi))


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
    level : float, default 0.95
        Credible interval of the per-draw ECE.

    Returns
    -------
    Dataset
        ``ece_draws`` (one per draw; dims ``chain, draw`` for DataArray input, else
        ``sample``), ``ece_of_mean`` (ECE of the posterior-mean probabilities),
        ``ece_mean``, ``lower``, ``upper`` (equal-tailed interval over draws).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> draws = rng.dirichlet([2, 2], size=(50, 200))
    >>> out = posterior_calibration_error(rng.integers(0, 2, 200), draws, n_bins=5)
    >>> bool(out["lower"] <= out["ece_mean"] <= out["upper"])
    True
    """
    _check_bins(n_bins, strategy, "posterior_calibration_error")
    d = _as_draws(draws)
    values = np.asarray(d.values)
    y_idx = _resolve_y(y, values.shape[-1], labels, d.classes)
    check_consistent_length(y_idx.shape[0], values.shape[1], "y", "draws")
    for s in range(values.shape[0]):
        check_probs(values[s], f"draws[{s}]")
    eces = np.array([_ece_mce(*_top_label(p, y_idx), n_bins, strategy)[0] for p in values])
    mean_ece = _ece_mce(*_top_label(values.mean(axis=0), y_idx), n_bins, strategy)[0]
    alpha = (1 - level) / 2
    if d.is_xarray and d.draw_dims:
        shape = tuple(draws.sizes[dim] for dim in d.draw_dims)
        ece_draws = xr.DataArray(
            eces.reshape(shape),
            dims=d.draw_dims,
            coords={k: draws[k].values for k in d.draw_dims if k in draws.coords},
        )
    else:
        ece_draws = xr.DataArray(eces, dims=("sample",))
    return xr.Dataset(
        {
            "ece_draws": ece_draws,
            "ece_of_mean": mean_ece,
            "ece_mean": float(eces.mean()),
            "lower": float(np.quantile(eces, alpha)),
            "upper": float(np.quantile(eces, 1 - alpha)),
        },
        attrs={"n_bins": n_bins, "strategy": strategy, "level": level, "n_obs": y_idx.size},
    )


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
    _check_bins(n_bins, strategy, "bootstrap_calibration_error")
    check_int("n_boot", n_boot, min_value=2, func="bootstrap_calibration_error")
    arr, y_idx, _ = _prepare(y, probs, labels)
    conf, correct = _top_label(arr, y_idx)
    rng = np.random.default_rng(random_seed)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        rows = rng.integers(0, conf.size, conf.size)
        boots[b] = _ece_mce(conf[rows], correct[rows], n_bins, strategy)[0]
    alpha = (1 - level) / 2
    return xr.Dataset(
        {
            "ece": _ece_mce(conf, correct, n_bins, strategy)[0],
            "lower": float(np.quantile(boots, alpha)),
            "upper": float(np.quantile(boots, 1 - alpha)),
            "se": float(boots.std(ddof=1)),
            "ece_boot": (("boot",), boots),
        },
        attrs={"n_boot": n_boot, "level": level, "n_bins": n_bins, "strategy": strategy},
    )


# --------------------------------------------------------- decompositions


def brier_decomposition(y: Any, probs: Any, n_bins: int = 15, *, labels: Any = None) -> xr.Dataset:
    r"""Murphy decomposition of the Brier score: reliability - resolution + uncertainty.

    For each class k the forecasts :math:`p_{nk}` are binned (uniform bins) and

    .. math::

        \mathrm{REL} = \sum_b \frac{n_b}{N}(\bar p_b - \bar o_b)^2,\quad
        \mathrm{RES} = \sum_b \frac{n_b}{N}(\bar o_b - \bar o)^2,\quad
        \mathrm{UNC} = \bar o (1 - \bar o),

    summed over classes (1-D binary input: the positive class only, matching
    ``brier_score``'s binary convention). ``brier = REL - RES + UNC + within_bin``, where the
    within-bin term vanishes when forecasts are constant within bins.

    Returns
    -------
    Dataset
        ``brier``, ``reliability`` (lower is better), ``resolution`` (higher is better),
        ``uncertainty``, ``within_bin``.

    Examples
    --------
    >>> out = brier_decomposition([0, 1, 1, 1], [0.5, 0.5, 0.9, 0.9], n_bins=10)
    >>> round(float(out["reliability"] - out["resolution"] + out["uncertainty"]), 6)
    0.13
    """
    check_int("n_bins", n_bins, min_value=1, func="brier_decomposition")
    binary_1d = np.ndim(getattr(probs, "values", probs)) == 1
    arr, y_idx, _ = _prepare(y, probs, labels)
    columns = [1] if binary_1d else range(arr.shape[1])
    parts = np.zeros(4)
    for k in columns:
        p, o = arr[:, k], (y_idx == k).astype(float)
        idx, _ = _bin_index(p, n_bins, "uniform")
        count, p_bar, o_bar = _bin_stats(p, o, idx, n_bins)
        filled = count > 0
        w = count[filled] / p.size
        rel = np.sum(w * (p_bar[filled] - o_bar[filled]) ** 2)
        res = np.sum(w * (o_bar[filled] - o.mean()) ** 2)
        unc = o.mean() * (1 - o.mean())
        brier = np.mean((p - o) ** 2)
        parts += [brier, rel, res, unc]
    brier, rel, res, unc = parts
    return xr.Dataset(
        {
            "brier": brier,
            "reliability": rel,
            "resolution": res,
            "uncertainty": unc,
            "within_bin": brier - (rel - res + unc),
        },
        attrs={"n_bins": n_bins},
    )


def log_loss_decomposition(
    y: Any, probs: Any, *, method: str = "isotonic", labels: Any = None
) -> xr.Dataset:
    r"""Split the log loss into miscalibration and refinement by recalibrating in-sample.

    .. math::

        \mathrm{NLL}(p) = \underbrace{\mathrm{NLL}(p) - \mathrm{NLL}(\hat r(p))}_{\text{MCB}}
        + \underbrace{\mathrm{NLL}(\hat r(p))}_{\text{refinement}},\qquad
        \mathrm{DSC} = \mathrm{UNC} - \text{refinement}

    with :math:`\hat r` the recalibration map fitted on the same data (isotonic, as in
    CORP (Dimitriadis et al., 2021), or temperature scaling) and UNC the entropy of the label
    frequencies.

    Returns
    -------
    Dataset
        ``nll``, ``miscalibration``, ``refinement``, ``discrimination``, ``uncertainty``.

    Examples
    --------
    >>> out = log_loss_decomposition([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], method="temperature")
    >>> round(float(out["miscalibration"] + out["refinement"] - out["nll"]), 12)
    0.0
    """
    from bayescore.scoring import log_loss

    check_choice("method", method, ("isotonic", "temperature"), "log_loss_decomposition")
    arr, y_idx, _ = _prepare(y, probs, labels)
    recal = IsotonicCalibration() if method == "isotonic" else TemperatureScaling()
    fitted = recal.fit(arr, y_idx).transform(arr)
    nll = log_loss(y_idx, arr)
    refinement = log_loss(y_idx, fitted)
    freq = np.bincount(y_idx, minlength=arr.shape[1]) / y_idx.size
    unc = float(-np.sum(freq[freq > 0] * np.log(freq[freq > 0])))
    return xr.Dataset(
        {
            "nll": nll,
            "miscalibration": nll - refinement,
            "refinement": refinement,
            "discrimination": unc - refinement,
            "uncertainty": unc,
        },
        attrs={"method": method, "units": "nats"},
    )


def calibration_drift(
    y_ref: Any,
    p_ref: Any,
    y_new: Any,
    p_new: Any,
    *,
    n_bins: int = 15,
    labels: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    random_seed: int | None = 0,
) -> xr.Dataset:
    """Change in ECE and NLL between a reference window and a new one, with a verdict.

    Each window is resampled independently (bootstrap over observations); the change is
    called drift when its interval excludes 0.

    Returns
    -------
    Dataset
        ``ece_ref``, ``ece_new``, ``d_ece`` with ``d_ece_lower``/``d_ece_upper``,
        ``nll_ref``, ``nll_new``, ``d_nll`` with its interval; attr ``verdict``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000); y = (rng.random(2000) < p).astype(int)
    >>> out = calibration_drift(y, p, y, np.clip(p * 1.6 - 0.3, 0.01, 0.99), n_boot=200)
    >>> out.attrs["verdict"].startswith("drift")
    True
    """
    check_int("n_boot", n_boot, min_value=2, func="calibration_drift")
    ref, y_r, _ = _prepare(y_ref, p_ref, labels)
    new, y_n, _ = _prepare(y_new, p_new, labels)
    if ref.shape[-1] != new.shape[-1]:
        raise ValueError(f"p_ref has {ref.shape[-1]} classes but p_new has {new.shape[-1]}.")
    eps = np.finfo(float).eps

    def stats(p, yy):
        conf, correct = _top_label(p, yy)
        nll = -np.log(np.clip(p[np.arange(yy.size), yy], eps, 1 - eps))
        return conf, correct, nll

    cr, kr, lr = stats(ref, y_r)
    cn, kn, ln = stats(new, y_n)
    rng = np.random.default_rng(random_seed)
    d_ece, d_nll = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        i = rng.integers(0, cr.size, cr.size)
        j = rng.integers(0, cn.size, cn.size)
        d_ece[b] = (
            _ece_mce(cn[j], kn[j], n_bins, "uniform")[0]
            - _ece_mce(cr[i], kr[i], n_bins, "uniform")[0]
        )
        d_nll[b] = ln[j].mean() - lr[i].mean()
    alpha = (1 - level) / 2
    ece_ref = _ece_mce(cr, kr, n_bins, "uniform")[0]
    ece_new = _ece_mce(cn, kn, n_bins, "uniform")[0]
    out = {
        "ece_ref": ece_ref,
        "ece_new": ece_new,
        "d_ece": ece_new - ece_ref,
        "d_ece_lower": np.quantile(d_ece, alpha),
        "d_ece_upper": np.quantile(d_ece, 1 - alpha),
        "nll_ref": lr.mean(),
        "nll_new": ln.mean(),
        "d_nll": ln.mean() - lr.mean(),
        "d_nll_lower": np.quantile(d_nll, alpha),
        "d_nll_upper": np.quantile(d_nll, 1 - alpha),
    }
    worse = out["d_ece_lower"] > 0 or out["d_nll_lower"] > 0
    better = out["d_ece_upper"] < 0 and out["d_nll_upper"] < 0
    verdict = (
        "drift: calibration got worse"
        if worse
        else "drift: calibration improved"
        if better
        else "no evidence of drift"
    )
    return xr.Dataset(
        {k: float(v) for k, v in out.items()},
        attrs={"verdict": verdict, "level": level, "n_boot": n_boot},
    )


# ---------------------------------------------------------- recalibrators


def _as_log_probs(values: Any, input: str) -> tuple[np.ndarray, Any]:
    """Log-probabilities (or logits) with classes last, and an xarray template."""
    template = values if isinstance(values, xr.DataArray) else None
    if template is not None:
        other = [d for d in values.dims if d not in (OBS, CLASS)]
        template = values.transpose(*other, OBS, CLASS)
        values = template.values
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        if input == "logits":
            arr = np.stack([np.zeros_like(arr), arr], axis=-1)
        else:
            arr = check_probs(arr, "probs")
    is_probs = input == "probs" or (
        input == "auto" and np.all(arr >= 0) and np.all(np.abs(arr.sum(axis=-1) - 1) <= SUM_TOL)
    )
    if is_probs:
        arr = check_probs(arr, "probs")
        with np.errstate(divide="ignore"):
            return np.log(arr), template
    if not np.isfinite(arr).all():
        raise ValueError("logits must be finite.")
    return arr, template


def _wrap(values: np.ndarray, template: Any) -> Any:
    return values if template is None else template.copy(data=values)


class TemperatureScaling(BaseEstimator):
    r"""Temperature scaling (Guo et al., 2017): divide logits by :math:`T` fitted by NLL.

    .. math:: \hat p_n = \mathrm{softmax}(z_n / T),\qquad
              T = \arg\min_{T>0} -\sum_n \log \hat p_n(y_n)

    Probabilities are accepted too (their logs are the logits up to a constant).

    Parameters
    ----------
    input : {"auto", "logits", "probs"}, default "auto"
        ``auto`` treats non-negative rows summing to 1 as probabilities.
    apply_to : {"draws", "mean"}, default "draws"
        For posterior draws (leading dims before ``obs, class``): ``draws`` tempers every
        draw and fits T by the posterior predictive NLL of the tempered draws; ``mean``
        fits and applies T to the draw-averaged probabilities (and returns those).

    Attributes
    ----------
    temperature_ : float
        > 1 softens over-confident forecasts, < 1 sharpens under-confident ones.

    Examples
    --------
    >>> ts = TemperatureScaling().fit([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0]], [0, 1, 1])
    >>> ts.temperature_ > 1
    True
    """

    def __init__(self, input: str = "auto", apply_to: str = "draws") -> None:
        self.input = input
        self.apply_to = apply_to

    def _logits(self, values: Any) -> tuple[np.ndarray, Any]:
        check_choice("input", self.input, ("auto", "logits", "probs"), "TemperatureScaling")
        check_choice("apply_to", self.apply_to, ("draws", "mean"), "TemperatureScaling")
        z, template = _as_log_probs(values, self.input)
        if z.ndim > 2 and self.apply_to == "mean":
            lead = tuple(range(z.ndim - 2))
            z = logsumexp(log_softmax(z, axis=-1), axis=lead) - np.log(
                np.prod([z.shape[i] for i in lead])
            )
            template = (
                None
                if template is None
                else template.isel({dim: 0 for dim in template.dims[: len(lead)]}, drop=True)
            )
        return z, template

    def fit(self, logits_or_probs: Any, y: Any) -> TemperatureScaling:
        """Fit the temperature by minimising the NLL of ``y``."""
        z, _ = self._logits(logits_or_probs)
        y_idx = _resolve_y(y, z.shape[-1], None, None)
        check_consistent_length(y_idx.shape[0], z.shape[-2], "y", "logits_or_probs")
        z = np.where(np.isneginf(z), -1e300, z)  # log(0): finite but decisive

        def nll(log_t: float) -> float:
            ll = true_class(log_softmax(z / np.exp(log_t), axis=-1), y_idx)
            if ll.ndim > 1:  # draws: posterior predictive log-likelihood
                lead = tuple(range(ll.ndim - 1))
                ll = logsumexp(ll, axis=lead) - np.log(np.prod(ll.shape[:-1]))
            return -float(ll.sum())

        res = minimize_scalar(
            nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded", options={"xatol": 1e-10}
        )
        self.temperature_ = float(np.exp(res.x))
        self.n_classes_ = z.shape[-1]
        return self

    def transform(self, logits_or_probs: Any) -> Any:
        """Recalibrated probabilities (same shape and kind as the input)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "temperature_")
        z, template = self._logits(logits_or_probs)
        z = np.where(np.isneginf(z), -1e300, z)
        return _wrap(softmax(z / self.temperature_, axis=-1), template)

    predict_proba = transform


class PlattScaling(BaseEstimator):
    r"""Platt scaling for binary problems: :math:`\hat p = \sigma(a s + b)` fitted by NLL.

    ``s`` is the score: the logit of the positive-class probability for probability input,
    or the given decision values / logits. As Platt (1999) and scikit-learn's
    ``CalibratedClassifierCV(method="sigmoid")``, the targets are shrunk to
    :math:`(N_+ + 1)/(N_+ + 2)` and :math:`1/(N_- + 2)` when ``prior_correction=True``.

    Parameters
    ----------
    input : {"auto", "logits", "probs"}, default "auto"
    prior_correction : bool, default True

    Attributes
    ----------
    a_, b_ : float

    Examples
    --------
    >>> ps = PlattScaling().fit([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> ps.transform([0.5]).shape
    (1, 2)
    """

    def __init__(self, input: str = "auto", prior_correction: bool = True) -> None:
        self.input = input
        self.prior_correction = prior_correction

    def _scores(self, values: Any) -> np.ndarray:
        check_choice("input", self.input, ("auto", "logits", "probs"), "PlattScaling")
        arr = np.asarray(getattr(values, "values", values), dtype=np.float64)
        if arr.ndim == 2:
            if arr.shape[1] != 2:
                raise ValueError(
                    f"PlattScaling is binary; got {arr.shape[1]} classes. Use "
                    "TemperatureScaling or IsotonicCalibration."
                )
            z, _ = _as_log_probs(arr, self.input)
            return np.clip(z[:, 1] - z[:, 0], -_MAX_LOGIT, _MAX_LOGIT)
        if self.input == "logits" or (self.input == "auto" and (arr.min() < 0 or arr.max() > 1)):
            return arr
        p = check_probs(arr, "probs")[:, 1]
        return np.clip(np.log(p + _EPS) - np.log1p(-p + _EPS), -_MAX_LOGIT, _MAX_LOGIT)

    def fit(self, scores_or_probs: Any, y: Any) -> PlattScaling:
        """Fit ``a`` and ``b`` by minimising the (Platt-target) cross-entropy."""
        s = self._scores(scores_or_probs)
        y_idx = check_label_range(_resolve_y(y, 2, None, None), 2)
        check_consistent_length(y_idx.size, s.size, "y", "scores_or_probs")
        n_pos = float(y_idx.sum())
        n_neg = y_idx.size - n_pos
        t = y_idx.astype(float)
        if self.prior_correction:
            t = np.where(y_idx == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

        def loss(ab):
            eta = ab[0] * s + ab[1]
            # Cross-entropy -t log sigma(eta) - (1 - t) log sigma(-eta), stably.
            value = np.sum(np.logaddexp(0, -eta) * t + np.logaddexp(0, eta) * (1 - t))
            g = expit(eta) - t
            return value, np.array([g @ s, g.sum()])

        x0 = np.array([1.0, np.log((n_pos + 1) / (n_neg + 1))])
        res = minimize(
            loss,
            x0,
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000},
        )
        self.a_, self.b_ = float(res.x[0]), float(res.x[1])
        return self

    def transform(self, scores_or_probs: Any) -> np.ndarray:
        """Recalibrated probabilities, shape (n_obs, 2)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "a_")
        p1 = expit(self.a_ * self._scores(scores_or_probs) + self.b_)
        return np.stack([1 - p1, p1], axis=-1)

    predict_proba = transform


class IsotonicCalibration(BaseEstimator):
    """Isotonic recalibration: binary, or one-vs-rest with renormalisation for K > 2.

    Each class's probability is mapped through a monotone step function fitted by
    :class:`sklearn.isotonic.IsotonicRegression` (the NLL-optimal monotone map for binary
    outcomes, as it is also the Brier-optimal one); rows are renormalised to sum to 1.

    Examples
    --------
    >>> iso = IsotonicCalibration().fit([0.1, 0.3, 0.6, 0.9], [0, 1, 0, 1])
    >>> iso.transform([0.2, 0.7])[:, 1].round(4).tolist()  # interpolates the steps
    [0.25, 0.6667]
    """

    def fit(self, probs: Any, y: Any) -> IsotonicCalibration:
        """Fit one isotonic map per class (one for binary problems)."""
        from sklearn.isotonic import IsotonicRegression

        arr = check_probs(probs, "probs")
        y_idx = _resolve_y(y, arr.shape[-1], None, None)
        check_consistent_length(y_idx.size, arr.shape[0], "y", "probs")
        columns = [1] if arr.shape[1] == 2 else range(arr.shape[1])
        self.maps_ = {
            k: IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                arr[:, k], (y_idx == k).astype(float)
            )
            for k in columns
        }
        self.n_classes_ = arr.shape[1]
        return self

    def transform(self, probs: Any) -> np.ndarray:
        """Recalibrated probabilities, shape (n_obs, n_classes)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "maps_")
        arr = check_probs(probs, "probs")
        if self.n_classes_ == 2:
            p1 = self.maps_[1].predict(arr[:, 1])
            return np.stack([1 - p1, p1], axis=-1)
        out = np.stack([self.maps_[k].predict(arr[:, k]) for k in range(arr.shape[1])], axis=1)
        sums = out.sum(axis=1, keepdims=True)
        return np.where(sums > 0, out / np.where(sums > 0, sums, 1), 1.0 / arr.shape[1])

    predict_proba = transform


_RECALIBRATORS = {
    "temperature": TemperatureScaling,
    "platt": PlattScaling,
    "isotonic": IsotonicCalibration,
}


class CalibratedBayesianClassifier(ClassifierMixin, BaseEstimator):
    """A classifier and a recalibrator fitted on separate splits of the training data.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        A bayescore estimator or any scikit-learn classifier (cloned before fitting).
    method : {"temperature", "platt", "isotonic"}, default "temperature"
    calibration_size : float, default 0.25
        Share of the training rows (stratified) held out to fit the recalibrator.
    random_state : int, default 0

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("breast_cancer")
    >>> clf = CalibratedBayesianClassifier(LogisticRegression(max_iter=5000)).fit(ds.X, ds.y)
    >>> clf.predict_proba(ds.X.iloc[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        estimator: Any = None,
        method: str = "temperature",
        calibration_size: float = 0.25,
        random_state: int | None = 0,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> CalibratedBayesianClassifier:
        """Fit the estimator on one split and the recalibrator on the other."""
        from sklearn.model_selection import train_test_split

        check_choice("method", self.method, _RECALIBRATORS, "CalibratedBayesianClassifier")
        if self.estimator is None:
            raise ValueError("CalibratedBayesianClassifier needs an estimator.")
        X_fit, X_cal, y_fit, y_cal = train_test_split(
            X, y, test_size=self.calibration_size, stratify=y, random_state=self.random_state
        )
        self.estimator_ = clone(self.estimator).fit(X_fit, y_fit)
        self.classes_ = self.estimator_.classes_
        y_cal_idx = np.searchsorted(self.classes_, np.asarray(y_cal))
        self.calibrator_ = _RECALIBRATORS[self.method]().fit(
            self.estimator_.predict_proba(X_cal), y_cal_idx
        )
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Recalibrated class probabilities, shape (n_obs, n_classes)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "calibrator_")
        return np.asarray(self.calibrator_.transform(self.estimator_.predict_proba(X)))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class after recalibration."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
