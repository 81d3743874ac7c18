r"""Proper scores for probabilistic classifiers, over numpy arrays and xarray objects.

Every model's predictions, and any external model's probabilities, are scored here. All
scores are in nats (natural log) unless ``base=2`` asks for bits; lower is better except
for the spherical score and accuracy.

Inputs follow SPEC §2-§4: ``probs`` is ``(n_obs, n_classes)`` (or 1-D positive-class
probabilities for binary problems); posterior ``draws`` are ``(S, n_obs, n_classes)``,
``(chain, draw, n_obs, n_classes)`` or a DataArray with dims ``(chain, draw, obs, class)``,
``(sample, obs, class)`` or ``(obs, class)``, possibly dask-backed. ``y`` holds integer class
indices, or labels resolved through ``labels=`` or the DataArray's ``class`` coordinate.

This module imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from bayescore import _scoring_kernels as K
from bayescore._names import CLASS, OBS
from bayescore._validation import (
    SUM_TOL,
    check_choice,
    check_consistent_length,
    check_label_range,
    check_logits,
    check_positive,
    check_probs,
    check_sample_weight,
    encode_labels,
)

__all__ = [
    "Estimate",
    "brier_score",
    "class_prior_baseline",
    "class_weighted_nll",
    "focal_loss",
    "gibbs_nll",
    "label_smoothing_nll",
    "log_loss",
    "nll_from_logits",
    "perplexity",
    "pointwise_nll",
    "posterior_predictive_nll",
    "score",
    "spherical_score",
    "uncertainty_decomposition",
    "uniform_baseline",
]


class Estimate(NamedTuple):
    """A mean over observations and its standard error ``sd / sqrt(N)``."""

    mean: float
    se: float

    @classmethod
    def of(cls, values: np.ndarray) -> Estimate:
        """Mean and SE of per-observation values (numpy's ``std``, ddof=0, as ArviZ)."""
        values = np.asarray(values, dtype=np.float64)
        return cls(float(values.mean()), float(values.std() / np.sqrt(values.size)))


# --------------------------------------------------------------------------- inputs


def _units(base: float | None) -> tuple[float, str]:
    if base is None or base == np.e:
        return 1.0, "nats"
    check_positive("base", base)
    if base == 1:
        raise ValueError("The 'base' parameter must be > 0 and != 1. Got 1 instead.")
    return float(np.log(base)), "bits" if base == 2 else f"log base {base:g}"


def _class_coord(probs: Any) -> np.ndarray | None:
    if isinstance(probs, xr.DataArray) and CLASS in probs.coords:
        return np.asarray(probs.coords[CLASS].values)
    return None


def _resolve_y(y: Any, n_classes: int, labels: Any, coord: np.ndarray | None) -> np.ndarray:
    """Class indices for ``y`` (see module docstring for the rules)."""
    if isinstance(y, xr.DataArray):
        y = y.values
    y_arr = np.asarray(y)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.size != n_classes:
            raise ValueError(
                f"labels has {labels.size} entries but the probabilities have {n_classes} "
                f"classes; labels gives the class order of the columns."
            )
        return encode_labels(y_arr, labels)
    if coord is not None and y_arr.dtype.kind not in "f":
        known = set(coord.tolist())
        values = y_arr.ravel().tolist()
        if all(v in known for v in values):
            return encode_labels(y_arr, coord)
    if y_arr.dtype.kind in "biuf":
        return check_label_range(encode_labels(y_arr, None), n_classes)
    found = np.unique(y_arr)
    if found.size == n_classes:
        # As scikit-learn: labels that are not indices map to sorted unique labels.
        return encode_labels(y_arr, found)
    raise ValueError(
        f"y holds labels {found.tolist()[:10]!r} that are not class indices; "
        f"{found.size} distinct labels for {n_classes} classes. Pass labels= with the class "
        "order of the probability columns."
    )


def _point_probs(
    probs: Any, name: str = "probs", check: Any = check_probs
) -> tuple[np.ndarray, Any]:
    """Validated values as (..., N, K) float64 plus a template to rebuild xarray output.

    ``check`` is :func:`check_probs` for probabilities or :func:`check_logits` for scores.
    """
    if isinstance(probs, xr.DataArray):
        if CLASS in probs.dims:
            other = [d for d in probs.dims if d not in (OBS, CLASS)]
            obs = [OBS] if OBS in probs.dims else []
            da = probs.transpose(*other, *obs, CLASS)
            return check(da.values, name), da.isel({CLASS: 0}, drop=True)
        return check(probs.values, name), probs  # 1-D binary
    return check(probs, name), None


def _nll_eps(eps: Any, dtype: np.dtype) -> float:
    if isinstance(eps, str):
        check_choice("eps", eps, ("auto",), "log_loss")
        return float(np.finfo(dtype).eps)
    return check_positive("eps", eps, func="log_loss", allow_zero=True)


def _reduce(
    pointwise: np.ndarray,
    template: Any,
    sample_weight: np.ndarray | None,
    return_pointwise: bool,
    name: str,
    attrs: dict[str, Any],
) -> Any:
    """Average over observations (last axis) and wrap like the input."""
    if return_pointwise:
        out = pointwise
        if template is not None:
            return template.copy(data=out).rename(name).assign_attrs(attrs)
        return out
    if sample_weight is None:
        out = pointwise.mean(axis=-1)
    else:
        out = (pointwise * sample_weight).sum(axis=-1) / sample_weight.sum()
    if template is not None:
        reduced = template.isel({OBS: 0}, drop=True) if OBS in template.dims else template
        return reduced.copy(data=out).rename(name).assign_attrs(attrs)
    return float(out) if np.ndim(out) == 0 else out


def _point_score(
    kernel,
    y,
    probs,
    labels,
    sample_weight,
    pointwise,
    name,
    scale=1.0,
    units="nats",
    check=check_probs,
    arg="probs",
):
    """Validate, apply a per-observation ``kernel(values, y_idx)``, average, wrap."""
    arr, template = _point_probs(probs, arg, check)
    y_idx = _resolve_y(y, arr.shape[-1], labels, _class_coord(probs))
    check_consistent_length(y_idx.shape[0], arr.shape[-2], "y", arg)
    w = check_sample_weight(sample_weight, y_idx.shape[0])
    values = kernel(arr, y_idx) / scale
    return _reduce(values, template, w, pointwise, name, {"units": units})


# ----------------------------------------------------------------- point scores


def log_loss(
    y: Any,
    probs: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    eps: float | str = "auto",
    base: float | None = None,
    pointwise: bool = False,
) -> Any:
    r"""Negative log-likelihood (log loss, cross-entropy) of predicted probabilities.

    .. math:: \mathrm{NLL} = -\frac{1}{N}\sum_n \log p_n(y_n)

    Agrees with :func:`sklearn.metrics.log_loss` to 1e-10 on valid input.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Class indices, or labels (see ``labels``).
    probs : array-like of shape (n_obs, n_classes) or (n_obs,), or DataArray
        Probabilities; 1-D means the positive class of a binary problem. A DataArray with
        extra dims (e.g. ``chain, draw``) gives one log loss per extra index.
    labels : array-like, optional
        Class order of the columns of ``probs``.
    sample_weight : array-like of shape (n_obs,), optional
    eps : "auto" or float, default "auto"
        Clip probabilities to ``[eps, 1 - eps]``; ``"auto"`` uses the dtype's machine
        epsilon (as scikit-learn); ``0`` does not clip, so a zero on the true class gives
        ``inf``.
    base : float, optional
        Logarithm base (``2`` for bits); natural log by default.
    pointwise : bool, default False
        Return the per-observation values instead of their mean.

    Returns
    -------
    float, ndarray or DataArray
        Lower is better; 0 for a perfect forecast.

    See Also
    --------
    nll_from_logits, posterior_predictive_nll

    Examples
    --------
    >>> round(log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.164252
    >>> round(log_loss(["cat", "dog"], [0.1, 0.8], labels=["cat", "dog"], base=2), 6)
    0.236966
    """
    scale, units = _units(base)
    e = _nll_eps(eps, np.dtype(np.float64))  # validated probabilities are float64
    return _point_score(
        lambda arr, y_idx: K.nll_pointwise(arr, y_idx, e),
        y,
        probs,
        labels,
        sample_weight,
        pointwise,
        "log_loss",
        scale=scale,
        units=units,
    )


def nll_from_logits(
    y: Any,
    logits: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    base: float | None = None,
    pointwise: bool = False,
) -> Any:
    r"""Negative log-likelihood from unnormalised scores (logits), computed stably.

    .. math:: \mathrm{NLL}_n = \log\sum_k e^{z_{nk}} - z_{n y_n}

    Exact and finite for logits of any magnitude (1e4 and beyond).

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    logits : array-like of shape (n_obs, n_classes) or (n_obs,), or DataArray
        1-D input is a binary logit ``log(p1 / p0)``.
    labels, sample_weight, base, pointwise
        As in :func:`log_loss`.

    Returns
    -------
    float, ndarray or DataArray
        Lower is better.

    Examples
    --------
    >>> nll_from_logits([0, 1], [[1e4, 0.0], [0.0, 1e4]])
    0.0
    >>> round(nll_from_logits([1], [[1e4, 0.0]]), 1)
    10000.0
    """
    scale, units = _units(base)
    return _point_score(
        K.nll_from_logits_pointwise,
        y,
        logits,
        labels,
        sample_weight,
        pointwise,
        "nll",
        scale=scale,
        units=units,
        check=check_logits,
        arg="logits",
    )


def brier_score(
    y: Any, probs: Any, *, labels: Any = None, sample_weight: Any = None, pointwise: bool = False
) -> Any:
    r"""Brier score (quadratic score) of predicted probabilities.

    .. math:: \mathrm{BS} = \frac{1}{N}\sum_n \sum_k (p_{nk} - 1[y_n = k])^2

    ranges from 0 to 2. For 1-D binary input it is :math:`\frac1N\sum_n (p_n - y_n)^2`
    (0 to 1), equal to :func:`sklearn.metrics.brier_score_loss`.

    Parameters
    ----------
    y, probs, labels, sample_weight, pointwise
        As in :func:`log_loss`.

    Returns
    -------
    float, ndarray or DataArray
        Lower is better.

    Examples
    --------
    >>> round(brier_score([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.05
    >>> round(brier_score([0, 1], [0.1, 0.8]), 6)
    0.025
    """
    binary_1d = np.ndim(getattr(probs, "values", probs)) == 1
    return _point_score(
        K.brier_pointwise,
        y,
        probs,
        labels,
        sample_weight,
        pointwise,
        "brier",
        scale=2.0 if binary_1d else 1.0,
        units="squared probability",
    )


def spherical_score(
    y: Any, probs: Any, *, labels: Any = None, sample_weight: Any = None, pointwise: bool = False
) -> Any:
    r"""Spherical score: probability of the true class over the norm of the forecast.

    .. math:: \mathrm{SS} = \frac{1}{N}\sum_n \frac{p_n(y_n)}{\lVert p_n \rVert_2}

    A strictly proper score between 0 and 1; **higher is better**.

    Parameters
    ----------
    y, probs, labels, sample_weight, pointwise
        As in :func:`log_loss`.

    Examples
    --------
    >>> round(spherical_score([0], [[0.6, 0.4]]), 6)  # 0.6 / sqrt(0.36 + 0.16)
    0.83205
    """
    return _point_score(
        K.spherical_pointwise,
        y,
        probs,
        labels,
        sample_weight,
        pointwise,
        "spherical",
        units="unitless",
    )


def label_smoothing_nll(
    y: Any,
    probs: Any,
    *,
    alpha: float = 0.1,
    labels: Any = None,
    sample_weight: Any = None,
    pointwise: bool = False,
) -> Any:
    r"""Cross-entropy against label-smoothed targets (a training loss, for comparison).

    .. math:: -\frac1N\sum_n\sum_k t_{nk}\log p_{nk},\quad
              t_n = (1-\alpha)\,\mathrm{onehot}(y_n) + \alpha / K

    Not a proper score of the forecast: it rewards hedging towards uniform.

    Examples
    --------
    >>> round(label_smoothing_nll([0], [[0.5, 0.5]], alpha=0.2), 6)
    0.693147
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"The 'alpha' parameter must lie in [0, 1]. Got {alpha!r} instead.")

    def kernel(arr, y_idx):
        n_classes = arr.shape[-1]
        logp = np.log(np.clip(arr, np.finfo(arr.dtype).eps, 1.0))
        smooth = -(alpha / n_classes) * logp.sum(axis=-1)
        return (1.0 - alpha) * -K.true_class(logp, y_idx) + smooth

    return _point_score(kernel, y, probs, labels, sample_weight, pointwise, "label_smoothing")


def class_weighted_nll(
    y: Any,
    probs: Any,
    *,
    class_weight: str | dict | Any = "balanced",
    labels: Any = None,
    pointwise: bool = False,
) -> Any:
    r"""NLL with observations weighted by their class (a training loss, for comparison).

    .. math:: \frac{\sum_n w_{y_n}(-\log p_n(y_n))}{\sum_n w_{y_n}}

    ``class_weight="balanced"`` uses :math:`w_k = N / (K n_k)`, as scikit-learn.

    Examples
    --------
    >>> round(class_weighted_nll([0, 0, 0, 1], [[0.9, 0.1]] * 3 + [[0.5, 0.5]]), 6)
    0.399254
    """
    arr, template = _point_probs(probs)
    y_idx = _resolve_y(y, arr.shape[-1], labels, _class_coord(probs))
    check_consistent_length(y_idx.shape[0], arr.shape[-2], "y", "probs")
    n_classes = arr.shape[-1]
    if isinstance(class_weight, str):
        check_choice("class_weight", class_weight, ("balanced",), "class_weighted_nll")
        counts = np.bincount(y_idx, minlength=n_classes).astype(float)
        weights = np.where(counts > 0, y_idx.size / (n_classes * np.maximum(counts, 1)), 0.0)
    elif isinstance(class_weight, dict):
        order = labels if labels is not None else _class_coord(probs)
        keys = list(range(n_classes)) if order is None else list(np.asarray(order).tolist())
        weights = np.array([float(class_weight.get(k, 1.0)) for k in keys])
    else:
        weights = np.asarray(class_weight, dtype=float)
        if weights.shape != (n_classes,):
            raise ValueError(
                f"class_weight must have one entry per class ({n_classes}); got shape "
                f"{weights.shape}."
            )
    w = check_sample_weight(weights[y_idx], y_idx.size)
    values = K.nll_pointwise(arr, y_idx, float(np.finfo(arr.dtype).eps))
    return _reduce(values, template, w, pointwise, "class_weighted_nll", {"units": "nats"})


def focal_loss(
    y: Any,
    probs: Any,
    *,
    gamma: float = 2.0,
    labels: Any = None,
    sample_weight: Any = None,
    pointwise: bool = False,
) -> Any:
    r"""Focal loss (Lin et al., 2017), a training loss offered for comparison.

    .. math:: \mathrm{FL} = \frac1N\sum_n (1 - p_n(y_n))^\gamma\,(-\log p_n(y_n))

    ``gamma=0`` is the log loss. Not a proper score for ``gamma > 0``.

    Examples
    --------
    >>> round(focal_loss([0], [[0.5, 0.5]], gamma=1.0), 6)
    0.346574
    """
    check_positive("gamma", gamma, func="focal_loss", allow_zero=True)

    def kernel(arr, y_idx):
        p = np.clip(K.true_class(arr, y_idx), np.finfo(arr.dtype).eps, 1.0)
        return (1.0 - p) ** gamma * -np.log(p)

    return _point_score(kernel, y, probs, labels, sample_weight, pointwise, "focal_loss")


# -------------------------------------------------------------- posterior draws


class _Draws(NamedTuple):
    """Draws as one (S, N, K) array (numpy or dask) with what is needed to wrap results."""

    values: Any
    is_dask: bool
    obs: np.ndarray | None
    classes: np.ndarray | None
    is_xarray: bool
    draw_dims: tuple[str, ...]


def _as_draws(draws: Any, name: str = "draws") -> _Draws:
    if isinstance(draws, xr.DataArray):
        if CLASS not in draws.dims or OBS not in draws.dims:
            raise ValueError(
                f"{name} must have dims 'obs' and 'class' (plus draw dims such as "
                f"'chain', 'draw' or 'sample'); got dims {draws.dims}."
            )
        draw_dims = tuple(d for d in draws.dims if d not in (OBS, CLASS))
        da = draws.transpose(*draw_dims, OBS, CLASS)
        data = da.data
        n_obs, n_classes = da.sizes[OBS], da.sizes[CLASS]
        values = data.reshape((-1, n_obs, n_classes))
        is_dask = type(data).__module__.startswith("dask")
        obs = np.asarray(da[OBS].values) if OBS in da.coords else None
        return _Draws(values, is_dask, obs, _class_coord(da), True, draw_dims)
    arr = np.asarray(draws)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim == 1:
        arr = check_probs(arr, name)
    if arr.ndim < 2:
        raise ValueError(f"{name} must be (S, N, K), (C, D, N, K) or (N, K); got {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    return _Draws(arr.reshape((-1,) + arr.shape[-2:]), False, None, None, False, ())


def _check_draw(draw: np.ndarray, s: int, name: str) -> None:
    try:
        check_probs(draw, name)
    except ValueError as exc:
        raise ValueError(f"{name} draw {s}: {exc}") from None


def _draw_sums(
    y: Any,
    d: _Draws,
    want: frozenset[str],
    labels: Any,
    validate: bool = True,
    name: str = "draws",
) -> tuple:
    """Reduce the draws in one pass; with ``validate`` the rows are checked on the way."""
    y_idx = None
    if y is not None:
        y_idx = _resolve_y(y, d.values.shape[-1], labels, d.classes)
        check_consistent_length(y_idx.shape[0], d.values.shape[1], "y", name)
    tol = SUM_TOL if validate else 0.0
    if d.is_dask:
        sums = K.dask_draw_sums(d.values, y_idx, want, tol=tol)
    else:
        sums = K.draw_sums(d.values, y_idx, want, tol=tol)
    if sums.first_invalid is not None:
        # Error path only: name the first offending draw, row and value.
        for s in range(sums.first_invalid, d.values.shape[0]):
            _check_draw(np.asarray(d.values[s]), s, name)
    return sums, y_idx


def _per_obs(values: np.ndarray, d: _Draws, name: str, units: str) -> Any:
    if not d.is_xarray:
        return values
    coords = {OBS: d.obs} if d.obs is not None else {}
    return xr.DataArray(values, dims=(OBS,), coords=coords, name=name, attrs={"units": units})


def _scalar(value: float, d: _Draws, name: str, attrs: dict[str, Any]) -> Any:
    if d.is_xarray:
        return xr.DataArray(value, name=name, attrs=attrs)
    return float(value)


def _ppd_pointwise(sums: K.DrawSums) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -np.log(sums.p_true / sums.n_draws)


def posterior_predictive_nll(
    y: Any,
    draws: Any,
    *,
    labels: Any = None,
    base: float | None = None,
    pointwise: bool = False,
    validate: bool = True,
) -> Any:
    r"""Posterior predictive NLL: minus the log of the draw-averaged probability.

    .. math:: -\frac1N\sum_n \log\Big(\frac1S\sum_s p_{sn}(y_n)\Big)

    ``-N`` times it is ArviZ's ``lppd``. The average is taken in probability space, which is
    exact for probabilities (no log of every entry is needed), in cache-sized chunks over
    draws on all cores; dask-backed input is reduced lazily.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    draws : array-like (S, N, K), (C, D, N, K) or (N, K), or DataArray
        Dims ``(chain, draw, obs, class)``, ``(sample, obs, class)`` or ``(obs, class)``.
    labels : array-like, optional
        Class order, if ``y`` holds labels and ``draws`` has no ``class`` coordinate.
    base : float, optional
        ``2`` for bits.
    pointwise : bool, default False
        Return the per-observation values (for standard errors and paired comparisons).
    validate : bool, default True
        Check that every row is a probability vector (done chunk by chunk during the same
        pass, while the chunk is in cache).

    Returns
    -------
    float, ndarray or DataArray
        Lower is better.

    See Also
    --------
    gibbs_nll : the draw-averaged NLL, never smaller (Jensen).

    Examples
    --------
    >>> draws = [[[0.9, 0.1]], [[0.5, 0.5]]]  # 2 draws, 1 observation
    >>> round(posterior_predictive_nll([0], draws), 6)  # -log(0.7)
    0.356675
    """
    scale, units = _units(base)
    d = _as_draws(draws)
    sums, _ = _draw_sums(y, d, frozenset({"p_true"}), labels, validate)
    values = _ppd_pointwise(sums) / scale
    if pointwise:
        return _per_obs(values, d, "nll", units)
    return _scalar(values.mean(), d, "nll", {"units": units, "n_draws": sums.n_draws})


def gibbs_nll(
    y: Any,
    draws: Any,
    *,
    labels: Any = None,
    base: float | None = None,
    pointwise: bool = False,
    validate: bool = True,
) -> Any:
    r"""Draw-averaged ("Gibbs") NLL: the mean over draws of each draw's NLL.

    .. math:: -\frac1N\sum_n \frac1S\sum_s \log p_{sn}(y_n)

    By Jensen's inequality it is never smaller than :func:`posterior_predictive_nll`.

    Parameters
    ----------
    y, draws, labels, base, pointwise, validate
        As in :func:`posterior_predictive_nll`.

    Examples
    --------
    >>> round(gibbs_nll([0], [[[0.9, 0.1]], [[0.5, 0.5]]]), 6)  # -(log 0.9 + log 0.5) / 2
    0.399254
    """
    scale, units = _units(base)
    d = _as_draws(draws)
    sums, _ = _draw_sums(y, d, frozenset({"log_p_true"}), labels, validate)
    values = -sums.log_p_true / sums.n_draws / scale
    if pointwise:
        return _per_obs(values, d, "gibbs_nll", units)
    return _scalar(values.mean(), d, "gibbs_nll", {"units": units, "n_draws": sums.n_draws})


def pointwise_nll(
    y: Any, probs_or_draws: Any, *, labels: Any = None, base: float | None = None
) -> Any:
    """Per-observation NLL: of the draw-averaged probabilities for draws, else log loss.

    Examples
    --------
    >>> pointwise_nll([0, 1], [[0.5, 0.5], [0.0, 1.0]]).round(6).tolist()
    [0.693147, 0.0]
    """
    return posterior_predictive_nll(y, probs_or_draws, labels=labels, base=base, pointwise=True)


def uncertainty_decomposition(draws: Any, *, base: float | None = None) -> xr.Dataset:
    r"""Split predictive entropy into aleatoric and epistemic parts, per observation.

    .. math::

        \underbrace{H\big(\tfrac1S\textstyle\sum_s p_s\big)}_{\text{total}}
        = \underbrace{\tfrac1S\textstyle\sum_s H(p_s)}_{\text{aleatoric}}
        + \underbrace{\text{epistemic}}_{\text{mutual information}\ \ge 0}

    Parameters
    ----------
    draws : array-like (S, N, K) or DataArray (chain, draw, obs, class)
    base : float, optional
        ``2`` for bits.

    Returns
    -------
    Dataset
        ``total``, ``aleatoric``, ``epistemic`` over dim ``obs``.

    Examples
    --------
    >>> split = uncertainty_decomposition([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> [round(float(split[v][0]), 6) for v in ("total", "aleatoric", "epistemic")]
    [0.693147, 0.0, 0.693147]
    """
    scale, units = _units(base)
    d = _as_draws(draws)
    sums, _ = _draw_sums(None, d, frozenset({"probs", "entropy"}), None)
    total = K.entropy(sums.probs / sums.n_draws) / scale
    aleatoric = sums.entropy / sums.n_draws / scale
    # Mutual information is >= 0; rounding can leave -1e-16 when draws are identical.
    epistemic = np.maximum(total - aleatoric, 0.0)
    coords = {OBS: d.obs} if d.obs is not None else {}
    return xr.Dataset(
        {
            "total": ((OBS,), total),
            "aleatoric": ((OBS,), aleatoric),
            "epistemic": ((OBS,), epistemic),
        },
        coords=coords,
        attrs={"units": units, "n_draws": sums.n_draws},
    )


def perplexity(y: Any, probs_or_draws: Any, *, labels: Any = None) -> float:
    r"""Perplexity :math:`\exp(\mathrm{NLL})`: the effective number of equally likely classes.

    For posterior draws the NLL is the posterior predictive one.

    Examples
    --------
    >>> round(perplexity([0, 1], [[0.5, 0.5], [0.5, 0.5]]), 6)
    2.0
    """
    return float(np.exp(posterior_predictive_nll(y, probs_or_draws, labels=labels)))


def uniform_baseline(n_classes: int, *, base: float | None = None) -> float:
    """NLL of the uniform forecast, ``log K``: any useful model must beat it.

    Examples
    --------
    >>> round(uniform_baseline(4, base=2), 6)
    2.0
    """
    from bayescore._validation import check_int

    check_int("n_classes", n_classes, min_value=1, func="uniform_baseline")
    scale, _ = _units(base)
    return float(np.log(n_classes) / scale)


def class_prior_baseline(
    y_train: Any, y_test: Any, *, labels: Any = None, base: float | None = None
) -> float:
    r"""NLL of always predicting the training class frequencies.

    .. math:: -\sum_k \hat q_k \log \hat\pi_k

    with :math:`\hat q` the test label frequencies and :math:`\hat\pi` the training ones
    (clipped at machine epsilon, so a class unseen in training gives a large finite value).

    Examples
    --------
    >>> round(class_prior_baseline([0, 0, 1, 1], [0, 1]), 6)
    0.693147
    """
    scale, _ = _units(base)
    if labels is None:
        labels = np.unique(np.concatenate([np.asarray(y_train), np.asarray(y_test)]))
    labels = np.asarray(labels)
    train = np.bincount(encode_labels(y_train, labels, "y_train"), minlength=labels.size)
    test = np.bincount(encode_labels(y_test, labels, "y_test"), minlength=labels.size)
    prior = np.clip(train / train.sum(), np.finfo(float).eps, 1.0)
    return float(-(test / test.sum() * np.log(prior)).sum() / scale)


# ------------------------------------------------------------------- summary


def score(
    y: Any,
    probs_or_draws: Any,
    *,
    labels: Any = None,
    y_train: Any = None,
    n_bins: int = 15,
    base: float | None = None,
) -> xr.Dataset:
    """Every score of probabilities or posterior draws in one Dataset, with standard errors.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    probs_or_draws : probabilities (N, K) / (N,) or draws (S, N, K), (C, D, N, K), DataArray
    labels : array-like, optional
    y_train : array-like, optional
        Training labels for the class-prior baseline (default: the test labels' own
        frequencies, i.e. the label entropy).
    n_bins : int, default 15
        Bins of the expected calibration error.
    base : float, optional
        ``2`` for bits.

    Returns
    -------
    Dataset
        ``nll`` (posterior predictive NLL for draws, log loss for probabilities),
        ``gibbs_nll`` (draws only), ``brier``, ``spherical``, ``accuracy`` (of the
        draw-averaged probabilities), each with ``<name>_se``; ``ece``, ``perplexity``,
        ``baseline_uniform``, ``baseline_class_prior``, and the means of ``total``,
        ``aleatoric`` and ``epistemic`` uncertainty (with SEs). Attributes: ``units``,
        ``n_obs``, ``n_classes``, ``n_draws``.

    Examples
    --------
    >>> s = score([0, 1], [[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.4, 0.6]]])
    >>> round(float(s["nll"]), 4), round(float(s["gibbs_nll"]), 4)
    (0.2899, 0.299)
    """
    from bayescore.calibration import expected_calibration_error

    scale, units = _units(base)
    d = _as_draws(probs_or_draws, "probs_or_draws")
    want = frozenset({"p_true", "log_p_true", "probs", "entropy"})
    sums, y_idx = _draw_sums(y, d, want, labels, name="probs_or_draws")
    S, N, n_classes = sums.n_draws, d.values.shape[1], d.values.shape[2]
    mean_probs = sums.probs / S
    per_obs = {
        "nll": _ppd_pointwise(sums) / scale,
        "brier": K.brier_pointwise(mean_probs, y_idx),
        "spherical": K.spherical_pointwise(mean_probs, y_idx),
        "accuracy": (np.argmax(mean_probs, axis=-1) == y_idx).astype(float),
        "total": K.entropy(mean_probs) / scale,
        "aleatoric": sums.entropy / S / scale,
    }
    if S > 1:
        per_obs["gibbs_nll"] = -sums.log_p_true / S / scale
    per_obs["epistemic"] = np.maximum(per_obs["total"] - per_obs["aleatoric"], 0.0)
    data: dict[str, Any] = {}
    for name, values in per_obs.items():
        est = Estimate.of(values)
        data[name], data[f"{name}_se"] = est.mean, est.se
    data["ece"] = expected_calibration_error(y_idx, mean_probs, n_bins=n_bins)
    data["perplexity"] = float(np.exp(data["nll"] * scale))
    data["baseline_uniform"] = float(np.log(n_classes) / scale)
    train_idx = y_idx if y_train is None else _resolve_y(y_train, n_classes, labels, d.classes)
    data["baseline_class_prior"] = class_prior_baseline(
        train_idx, y_idx, labels=np.arange(n_classes), base=base
    )
    return xr.Dataset(
        {k: ((), v) for k, v in data.items()},
        attrs={
            "units": units,
            "n_obs": N,
            "n_classes": n_classes,
            "n_draws": S,
            "nll_kind": "posterior predictive" if S > 1 else "point",
        },
    )
