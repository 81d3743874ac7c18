r"""Numpy kernels for hard predictions and rankings: confusion, per-class metrics, ROC, PR.

Valid input is assumed: class indices in ``[0, K)``, scores (probabilities of one class)
and 0/1 outcomes of the same length. Conventions are scikit-learn's, so its functions are
the references in the tests:

- confusion matrix: rows are the true class, columns the predicted one;
- precision, recall, F1 per class with 0 where a ratio has nothing to divide by
  (``zero_division=0``);
- ROC and PR curves have one point per distinct score (threshold), highest first, and
  the ROC curve starts at (0, 0). AUC is the trapezoidal area under the ROC points;
  average precision is :math:`\mathrm{AP} = \sum_n (R_n - R_{n-1}) P_n` over those
  thresholds, without interpolation (``average_precision_score``).

A curve needs both outcomes: with only one, the rates it divides by are 0 and the curve and
its area are NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

__all__ = [
    "PerClass",
    "Ranking",
    "confusion",
    "per_class",
    "precision_at",
    "ranking",
    "tpr_at",
]


def confusion(y_true: Ints, y_pred: Ints, n_classes: int) -> Ints:
    """Counts of (true class, predicted class), shape ``(K, K)``.

    Examples
    --------
    >>> confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]), 3).tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    """
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


class PerClass(NamedTuple):
    """Precision, recall, F1 and support (true rows) of each class."""

    precision: Floats
    recall: Floats
    f1: Floats
    support: Ints


def _ratio(num: Floats, den: Floats) -> Floats:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class(matrix: Ints) -> PerClass:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined).

    Examples
    --------
    >>> m = per_class(np.array([[3, 1], [0, 2]]))
    >>> m.precision.tolist(), m.recall.tolist(), m.f1.round(4).tolist(), m.support.tolist()
    ([1.0, 0.6666666666666666], [0.75, 1.0], [0.8571, 0.8], [4, 2])
    """
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support.astype(np.float64))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return PerClass(precision, recall, f1, support.astype(np.int64))


class Ranking(NamedTuple):
    """ROC and PR points of one score against 0/1 outcomes, highest threshold first.

    ``fpr``/``tpr`` start with (0, 0); ``precision``/``recall`` have one point per distinct
    score (no artificial end point); ``auc`` and ``ap`` are the areas.
    """

    fpr: Floats
    tpr: Floats
    precision: Floats
    recall: Floats
    auc: float
    ap: float


def ranking(score: Floats, positive: Floats) -> Ranking:
    """ROC and precision-recall curves of ``score`` for the outcomes ``positive`` (0/1).

    Examples
    --------
    >>> r = ranking(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.0, 0.0, 1.0, 1.0]))
    >>> r.auc, round(r.ap, 4)
    (0.75, 0.8333)
    >>> r.fpr.tolist(), r.tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    order = np.argsort(-score, kind="mergesort")
    s, pos = score[order], positive[order].astype(np.float64)
    # The last row of each run of equal scores: one threshold per distinct score.
    last = np.append(np.flatnonzero(np.diff(s)), s.size - 1)
    tps = np.cumsum(pos)[last]
    fps = (last + 1) - tps
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.concatenate([[0.0], tps / tps[-1]])
        fpr = np.concatenate([[0.0], fps / fps[-1]])
        precision = tps / (tps + fps)
        recall = tps / tps[-1]
    auc = float(np.trapezoid(tpr, fpr))
    ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
    return Ranking(fpr, tpr, precision, recall, auc, ap)


def tpr_at(grid: Floats, curve: Ranking) -> Floats:
    """The ROC curve read at false-positive rates ``grid`` (linear between its points).

    Where the curve rises straight up at one rate, the highest rate of that step is read.

    Examples
    --------
    >>> r = ranking(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.0, 0.0, 1.0, 1.0]))
    >>> tpr_at(np.array([0.0, 0.25, 0.5, 1.0]), r).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    # np.interp takes the right-most of equal x values: the top of a vertical step.
    return np.asarray(np.interp(grid, curve.fpr, curve.tpr), dtype=np.float64)


def precision_at(grid: Floats, curve: Ranking) -> Floats:
    """The PR curve read at recalls ``grid``, as the step function that AP integrates.

    At each recall: the precision of the first threshold (highest score) that reaches it.

    Examples
    --------
    >>> r = ranking(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.0, 0.0, 1.0, 1.0]))
    >>> precision_at(np.array([0.25, 0.5, 0.75, 1.0]), r).round(4).tolist()
    [1.0, 1.0, 0.6667, 0.6667]
    """
    at = np.searchsorted(curve.recall, grid, side="left")
    return np.asarray(curve.precision[np.minimum(at, curve.recall.size - 1)], np.float64)
