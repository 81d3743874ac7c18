"""The point-score pipeline (validate, kernel, average, wrap), training losses, baselines.

:func:`point_score` is the body of every point scorer in :mod:`bayescore.scoring`: one call
to :func:`bayescore._inputs.prepare`, one kernel from :mod:`bayescore._array.scores`, one
:func:`summarise`. The training losses offered for comparison (label smoothing, class
weights, focal loss) are built on it here and, with the uniform and class-prior
baselines, re-exported by :mod:`bayescore.scoring`, their public home.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from bayescore._array import scores as K
from bayescore._inputs import prepare, resolve_labels, wrap
from bayescore._validation import (
    EPS,
    POSITIVE,
    Interval,
    Options,
    check_probs,
    check_sample_weight,
    validate_params,
)

__all__ = [
    "Estimate",
    "class_prior_baseline",
    "class_weighted_nll",
    "focal_loss",
    "label_smoothing_nll",
    "nll_eps",
    "point_score",
    "prior_nll",
    "summarise",
    "training_prior_nll",
    "uniform_baseline",
    "units_of",
]

#: Number of classes of a baseline.
N_CLASSES = Interval(numbers.Integral, 1, None, "left")

Floats = NDArray[np.floating[Any]]
Kernel = Callable[[Floats, NDArray[np.int64]], Floats]


class Estimate(NamedTuple):
    """A mean over observations and its standard error ``sd / sqrt(N)``."""

    mean: float
    se: float

    @classmethod
    def of(cls, values: ArrayLike) -> Estimate:
        """Mean and SE of per-observation values (numpy's ``std``, ddof=0, as ArviZ).

        Examples
        --------
        >>> est = Estimate.of([1.0, 3.0])
        >>> est.mean, round(est.se, 6)
        (2.0, 0.707107)
        """
        arr = np.asarray(values, dtype=np.float64)
        return cls(float(arr.mean()), float(arr.std() / np.sqrt(arr.size)))


def units_of(base: float | None) -> tuple[float, str]:
    if base is None or base == math.e:
        return 1.0, "nats"
    POSITIVE.check("base", base)
    if base == 1:
        raise ValueError("The 'base' parameter must be > 0 and != 1. Got 1 instead.")
    return float(np.log(base)), "bits" if base == 2 else f"log base {base:g}"


def nll_eps(eps: float | str) -> float:
    """Clipping threshold of the log loss: "auto" is float64's machine epsilon."""
    if isinstance(eps, str):
        Options(("auto",)).check("eps", eps, "log_loss")
        return float(np.finfo(np.float64).eps)  # validated probabilities are float64
    return float(EPS.check("eps", eps, "log_loss"))


def summarise(
    pointwise: Floats,
    template: xr.DataArray | None,
    weights: Floats | None,
    return_pointwise: bool,
    name: str,
    attrs: dict[str, Any],
) -> Any:
    """Average over observations (last axis) unless ``return_pointwise``; wrap like the input."""
    if return_pointwise:
        return wrap(pointwise, template, name, attrs)
    if weights is None:
        out = pointwise.mean(axis=-1)
    else:
        out = (pointwise * weights).sum(axis=-1) / weights.sum()
    return wrap(out, template, name, attrs)


def point_score(
    kernel: Kernel,
    y: Any,
    probs: Any,
    *,
    labels: Any,
    sample_weight: Any,
    pointwise: bool,
    name: str,
    scale: float = 1.0,
    units: str = "nats",
    check: Callable[..., NDArray[np.float64]] = check_probs,
    arg: str = "probs",
) -> Any:
    """Validate, apply a per-observation ``kernel(values, y_idx)``, average, wrap."""
    p = prepare(y, probs, labels=labels, name=arg, check=check)
    assert p.y_idx is not None
    w = check_sample_weight(sample_weight, p.y_idx.shape[0])
    if w is not None and p.y_rows is not None:
        w = w[p.y_rows]  # sample_weight goes with y: reordered with it to the forecast's rows
    values = kernel(p.values, p.y_idx) / scale
    return summarise(values, p.template, w, pointwise, name, {"units": units})


@validate_params({"alpha": Interval(numbers.Real, 0, 1, "both")})
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

    def kernel(arr: Floats, y_idx: NDArray[np.int64]) -> Floats:
        n_classes = arr.shape[-1]
        logp = np.log(np.clip(arr, np.finfo(arr.dtype).eps, 1.0))
        smooth = -(alpha / n_classes) * logp.sum(axis=-1)
        return (1.0 - alpha) * -K.true_class(logp, y_idx) + smooth

    return point_score(
        kernel,
        y,
        probs,
        labels=labels,
        sample_weight=sample_weight,
        pointwise=pointwise,
        name="label_smoothing",
    )


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
    p = prepare(y, probs, labels=labels)
    arr, y_idx = p.values, p.y_idx
    assert y_idx is not None
    n_classes = arr.shape[-1]
    if isinstance(class_weight, str):
        Options(("balanced",)).check("class_weight", class_weight, "class_weighted_nll")
        counts = np.bincount(y_idx, minlength=n_classes).astype(float)
        weights = np.where(counts > 0, y_idx.size / (n_classes * np.maximum(counts, 1)), 0.0)
    elif isinstance(class_weight, dict):
        # Keys are class labels when they are known (by value), else column indices.
        keys = list(range(n_classes)) if p.classes is None else p.classes.tolist()
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
    return summarise(values, p.template, w, pointwise, "class_weighted_nll", {"units": "nats"})


@validate_params({"gamma": Interval(numbers.Real, 0, None, "left")})
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

    def kernel(arr: Floats, y_idx: NDArray[np.int64]) -> Floats:
        p = np.clip(K.true_class(arr, y_idx), np.finfo(arr.dtype).eps, 1.0)
        return (1.0 - p) ** gamma * -np.log(p)

    return point_score(
        kernel,
        y,
        probs,
        labels=labels,
        sample_weight=sample_weight,
        pointwise=pointwise,
        name="focal_loss",
    )


def uniform_baseline(n_classes: int, *, base: float | None = None) -> float:
    """NLL of the uniform forecast, ``log K``: any useful model must beat it.

    Examples
    --------
    >>> round(uniform_baseline(4, base=2), 6)
    2.0
    """
    n_classes = N_CLASSES.check("n_classes", n_classes, "uniform_baseline")
    scale, _ = units_of(base)
    return float(np.log(n_classes) / scale)


def class_prior_baseline(
    y_train: Any, y_test: Any, *, labels: Any = None, base: float | None = None
) -> float:
    r"""NLL of always predicting the training class frequencies.

    .. math:: -\sum_k \hat q_k \log \hat\pi_k

    with :math:`\hat q` the test label frequencies and :math:`\hat\pi` the training ones
    (clipped at machine epsilon, so a class unseen in training gives a large finite value).

    Parameters
    ----------
    y_train, y_test : array-like of shape (n_obs,)
        Labels matched by value against ``labels``; without ``labels`` they must be class
        indices (labels are never mapped by sort order).
    labels : array-like, optional
        The classes.
    base : float, optional
        ``2`` for bits.

    Examples
    --------
    >>> round(class_prior_baseline([0, 0, 1, 1], [0, 1]), 6)
    0.693147
    >>> round(class_prior_baseline(["a", "a", "b"], ["b"], labels=["a", "b"]), 6)
    1.098612
    """
    scale, _ = units_of(base)
    train_idx = resolve_labels(y_train, None, labels, name="y_train")
    test_idx = resolve_labels(y_test, None, labels, name="y_test")
    n_classes = int(max(train_idx.max(), test_idx.max())) + 1
    if labels is not None:
        n_classes = int(np.asarray(labels).size)
    return prior_nll(train_idx, test_idx, n_classes) / scale


def training_prior_nll(y_train: Any, test_idx: NDArray[np.int64], classes: np.ndarray) -> float:
    r"""NLL of the training class frequencies on test labels, training labels by value.

    The class-prior baseline of :func:`bayescore.score` when the forecast's classes are
    known. It is a property of the labels, not of a model: a training label the forecast
    has no column for is still a class of the problem, so it counts in the frequencies
    (taking its share of the prior) instead of being refused as if it were a typo in
    ``y``. Only a ``y_train`` sharing *no* label with the classes raises: then the two
    are not labels of the same problem (e.g. ``0/1`` against ``"no"/"yes"``).

    Examples
    --------
    >>> classes = np.array(["a", "b"])
    >>> round(training_prior_nll(["a", "a", "b", "c"], np.array([0, 1]), classes), 6)
    1.039721
    >>> training_prior_nll([0, 1], np.array([0]), classes)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y_train shares no label with the classes ['a', 'b'] of the forecasts ...
    """
    labels = np.asarray(getattr(y_train, "values", y_train))
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            f"y_train must be a non-empty 1-D array of labels; got shape {labels.shape}."
        )
    counts: dict[Any, int] = {}
    for row, label in enumerate(labels.tolist()):
        if label is None or (isinstance(label, float) and np.isnan(label)):
            raise ValueError(f"y_train contains a missing label at row {row} ({label!r}).")
        try:
            counts[label] = counts.get(label, 0) + 1
        except TypeError:
            raise ValueError(
                f"y_train contains an unhashable label {label!r} at row {row}."
            ) from None
    known = np.array([counts.get(c, 0) for c in classes.tolist()], dtype=np.float64)
    if known.sum() == 0:
        raise ValueError(
            f"y_train shares no label with the classes {classes.tolist()!r} of the forecasts "
            f"(it holds {sorted(map(repr, counts))[:10]}); labels are matched by value, so "
            "pass the training labels as the same values as y."
        )
    prior = np.clip(known / labels.size, np.finfo(np.float64).eps, 1.0)
    test = np.bincount(test_idx, minlength=classes.size)
    return float(-(test / test.sum() * np.log(prior)).sum())


def prior_nll(train_idx: NDArray[np.int64], test_idx: NDArray[np.int64], n_classes: int) -> float:
    train = np.bincount(train_idx, minlength=n_classes)
    test = np.bincount(test_idx, minlength=n_classes)
    prior = np.clip(train / train.sum(), np.finfo(np.float64).eps, 1.0)
    return float(-(test / test.sum() * np.log(prior)).sum())
