"""What the report computes per model: parameter summary, coefficients, classification.

Compute only (no matplotlib): each function returns a small frozen dataclass of numbers that
the template and the figures of :mod:`bayescore.reporting._figures` draw.

- :func:`parameter_summary`: arviz-stats' ``summary`` of the free parameters (those
  :func:`bayescore.diagnose` judges): mean, sd, equal-tailed interval, bulk and tail ESS,
  R-hat, and the worst parameter for each of the last three;
- :func:`coefficients`: ``coef_original`` (per unit of each feature) with its posterior
  mean and equal-tailed interval from the draws;
- :func:`classification`: confusion matrix and per-class precision, recall and F1 of the
  predicted class (argmax of the mean probabilities), ROC and precision-recall curves with
  their areas for each class one-vs-rest (the positive class alone for two classes), and
  for draws the spread of each draw's curve and areas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bayescore._array.ranking import Ranking, confusion, per_class, precision_at, ranking, tpr_at
from bayescore._names import ATTR_FREE_VARS, CHAIN, CLASS, DRAW, FEATURE, POSTERIOR

__all__ = [
    "Classification",
    "Coefficients",
    "Curve",
    "ParameterSummary",
    "classification",
    "coefficients",
    "parameter_summary",
]

Floats = NDArray[np.float64]
#: Coverage of the parameter and coefficient intervals (ArviZ's customary 94 %).
CI_PROB = 0.94
#: Posterior draws behind the ROC / PR bands at most (evenly thinned beyond).
BAND_DRAWS = 400
#: Points of the grids the bands are read on.
GRID = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True)
class ParameterSummary:
    """arviz-stats' summary of the free parameters, one row per scalar parameter.

    ``columns`` name the statistics of each row of ``values`` (``mean``, ``sd``, ``low``,
    ``high``, ``ess_bulk``, ``ess_tail``, ``r_hat``); ``worst`` maps ``r_hat`` (largest),
    ``ess_bulk`` and ``ess_tail`` (smallest) to the parameter and its value (None where
    every value is NaN, e.g. R-hat of a single chain).
    """

    labels: list[str]
    columns: tuple[str, ...]
    values: Floats
    ci_prob: float
    n_chains: int
    worst: dict[str, tuple[str, float] | None]


def parameter_summary(idata: Any) -> ParameterSummary:
    """Summary of the free parameters of a fit (arviz-stats), with the worst named.

    Examples
    --------
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> clf = bs.BayesianSoftmaxClassifier(method="laplace", draws=100, fit_kwargs={"warn": False})
    >>> clf = clf.fit(ds.X, ds.y)
    >>> s = parameter_summary(clf.idata_)
    >>> s.labels[0], s.values.shape, s.worst["r_hat"]  # one chain: no R-hat
    ('intercept_free[versicolor]', (10, 7), None)
    """
    import arviz_stats as azs

    post = idata[POSTERIOR]
    names = json.loads(post.attrs.get(ATTR_FREE_VARS, '["intercept", "coef"]'))
    table = azs.summary(idata, var_names=names, ci_prob=CI_PROB, round_to="none")
    pct = f"{round(CI_PROB * 100)}"
    source = ("mean", "sd", f"eti{pct}_lb", f"eti{pct}_ub", "ess_bulk", "ess_tail", "r_hat")
    columns = ("mean", "sd", "low", "high", "ess_bulk", "ess_tail", "r_hat")
    values = table[list(source)].to_numpy(dtype=np.float64)
    labels = [str(i) for i in table.index]
    worst: dict[str, tuple[str, float] | None] = {}
    for column, pick in (("r_hat", np.nanargmax), ("ess_bulk", np.nanargmin),
                         ("ess_tail", np.nanargmin)):  # fmt: skip
        col = values[:, columns.index(column)]
        if np.isnan(col).all():
            worst[column] = None
        else:
            i = int(pick(col))
            worst[column] = (labels[i], float(col[i]))
    n_chains = int(post.sizes.get(CHAIN, 1))
    return ParameterSummary(labels, columns, values, CI_PROB, n_chains, worst)


@dataclass(frozen=True)
class Coefficients:
    """Original-scale coefficients: posterior mean and equal-tailed interval.

    ``mean``/``low``/``high`` are ``(n_features, n_columns)``: one column for a logistic
    model, else one per class shown (``classes``); a reference class, whose coefficients are
    0 by construction, is left out and named in ``reference``. ``intercept`` holds the
    original-scale intercept's (mean, low, high) per column.
    """

    features: list[str]
    classes: list[str] | None
    mean: Floats
    low: Floats
    high: Floats
    intercept: Floats
    ci_prob: float
    reference: str | None = None


def _interval(draws: Any) -> tuple[Floats, Floats, Floats]:
    """Mean and equal-tailed ``CI_PROB`` interval over ``(chain, draw)``."""
    alpha = (1 - CI_PROB) / 2
    values = np.asarray(draws.transpose(CHAIN, DRAW, ...).values, dtype=np.float64)
    flat = values.reshape((-1,) + values.shape[2:])
    low, high = np.quantile(flat, [alpha, 1 - alpha], axis=0)
    return flat.mean(axis=0), low, high


def coefficients(idata: Any) -> Coefficients:
    """Mean and 94 % interval of ``coef_original`` and ``intercept_original``.

    Examples
    --------
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> clf = bs.BayesianSoftmaxClassifier(method="laplace", draws=100, fit_kwargs={"warn": False})
    >>> clf = clf.fit(ds.X, ds.y)
    >>> c = coefficients(clf.idata_)
    >>> c.classes, c.reference, c.mean.shape
    (['versicolor', 'virginica'], 'setosa', (4, 2))
    """
    post = idata[POSTERIOR]
    coef = post["coef_original"]
    intercept = post["intercept_original"]
    features = [str(f) for f in coef[FEATURE].values]
    mean, low, high = _interval(coef)
    i_mean, i_low, i_high = _interval(intercept)
    if CLASS not in coef.dims:
        return Coefficients(
            features, None, mean[:, None], low[:, None], high[:, None],
            np.array([[i_mean, i_low, i_high]]), CI_PROB,
        )  # fmt: skip
    classes = [str(c) for c in coef[CLASS].values]
    values = np.asarray(coef.values)
    # Reference coding: the first class's coefficients are exactly 0 in every draw.
    zero = [k for k in range(len(classes)) if not np.any(values[..., k])]
    keep = [k for k in range(len(classes)) if k not in zero]
    reference = classes[zero[0]] if zero else None
    intercepts = np.stack([i_mean, i_low, i_high], axis=-1)[keep]
    return Coefficients(
        features, [classes[k] for k in keep], mean[:, keep], low[:, keep], high[:, keep],
        intercepts, CI_PROB, reference,
    )  # fmt: skip


@dataclass(frozen=True)
class Curve:
    """ROC and PR curves of one class one-vs-rest, with the spread over posterior draws.

    ``curve`` is that of the mean probabilities. With draws: ``auc_interval`` and
    ``ap_interval`` (equal-tailed, ``level``) of the per-draw areas, and the per-draw
    curves read on ``GRID`` (false-positive rate, resp. recall), their quantiles
    ``tpr_band`` and ``precision_band`` (2, len(GRID)).
    """

    positive: str
    prevalence: float
    curve: Ranking
    auc_interval: tuple[float, float] | None = None
    ap_interval: tuple[float, float] | None = None
    tpr_band: Floats | None = None
    precision_band: Floats | None = None


@dataclass(frozen=True)
class Classification:
    """Hard predictions and rankings of one model on one data split."""

    classes: list[str]
    confusion: NDArray[np.int64]
    precision: Floats
    recall: Floats
    f1: Floats
    support: NDArray[np.int64]
    accuracy: float
    curves: list[Curve] = field(default_factory=list)
    macro_auc: float | None = None
    level: float = 0.9
    n_draws: int | None = None


def _thin(draws: Floats) -> Floats:
    """At most ``BAND_DRAWS`` draws, evenly spaced (all of them when fewer)."""
    if draws.shape[0] <= BAND_DRAWS:
        return draws
    return draws[np.linspace(0, draws.shape[0] - 1, BAND_DRAWS).round().astype(int)]


def _curve(
    k: int, name: str, mean: Floats, draws: Floats | None, y_idx: NDArray[np.int64], level: float
) -> Curve:
    positive = (y_idx == k).astype(np.float64)
    curve = ranking(mean[:, k], positive)
    if draws is None:
        return Curve(name, float(positive.mean()), curve)
    per_draw = [ranking(d[:, k], positive) for d in draws]
    alpha = (1 - level) / 2
    q = [alpha, 1 - alpha]
    auc = np.quantile([r.auc for r in per_draw], q)
    ap = np.quantile([r.ap for r in per_draw], q)
    tpr = np.quantile([tpr_at(GRID, r) for r in per_draw], q, axis=0)
    precision = np.quantile([precision_at(GRID, r) for r in per_draw], q, axis=0)
    return Curve(
        name, float(positive.mean()), curve, (float(auc[0]), float(auc[1])),
        (float(ap[0]), float(ap[1])), tpr, precision,
    )  # fmt: skip


def classification(
    mean: Floats,
    y_idx: NDArray[np.int64],
    classes: list[str],
    draws: Floats | None = None,
    level: float = 0.9,
) -> Classification:
    """Confusion matrix, per-class metrics and ROC / PR curves of one model on one split.

    Parameters
    ----------
    mean : ndarray of shape (n_obs, n_classes)
        Mean predicted probabilities (the point forecast).
    y_idx : ndarray of int, shape (n_obs,)
        True class of each row (column index).
    classes : list of str
        Class labels, in column order.
    draws : ndarray of shape (S, n_obs, n_classes), optional
        Posterior draws: the bands of the curves and the intervals of their areas (at
        most ``BAND_DRAWS`` draws, evenly thinned).
    level : float
        Coverage of those bands and intervals.

    Returns
    -------
    Classification

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    >>> c = classification(p, np.array([0, 1, 1, 1]), ["no", "yes"])
    >>> c.confusion.tolist(), c.accuracy, [round(cv.curve.auc, 4) for cv in c.curves]
    ([[1, 0], [1, 2]], 0.75, [1.0])
    """
    n_classes = len(classes)
    predicted = np.argmax(mean, axis=1)
    matrix = confusion(y_idx, predicted, n_classes)
    metrics = per_class(matrix)
    thinned = None if draws is None else _thin(np.asarray(draws, dtype=np.float64))
    # Two classes: one curve, of the positive class (the second column), as scikit-learn.
    shown = [1] if n_classes == 2 else list(range(n_classes))
    curves = [_curve(k, classes[k], mean, thinned, y_idx, level) for k in shown]
    macro = None
    if n_classes > 2:
        macro = float(np.mean([c.curve.auc for c in curves]))
    return Classification(
        classes, matrix, metrics.precision, metrics.recall, metrics.f1, metrics.support,
        float(np.mean(predicted == y_idx)), curves, macro, level,
        None if thinned is None else int(thinned.shape[0]),
    )  # fmt: skip
