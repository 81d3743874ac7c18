r"""Numpy kernels of selective prediction: risk-coverage curves and their areas.

Rows are sorted from most to least certain and accepted in that order; at coverage
:math:`k/N` the :math:`k` most certain rows are kept. With :math:`s_{(i)}` the score (a loss:
NLL, Brier or 0-1) of the :math:`i`-th most certain row,

.. math::

    R_k = \frac1k \sum_{i \le k} s_{(i)} \quad\text{(selective risk)}, \qquad
    G_k = \frac1N \sum_{i \le k} s_{(i)} \quad\text{(generalised risk)},

    \mathrm{AURC} = \frac1N \sum_{k=1}^N R_k, \qquad
    \mathrm{AUGRC} = \frac1N \sum_{k=1}^N G_k

(Geifman, Uziel & El-Yaniv 2019 for the AURC; Traub et al. 2024, "Overcoming common flaws in
the evaluation of selective classification systems", for the generalised risk, the joint
probability of accepting a row and failing on it). Both areas are linear in the sorted
scores, :math:`\frac1N \sum_i s_{(i)} w_i` with :math:`w_i = \sum_{k \ge i} c_k`,
:math:`c_k = 1/k` (AURC) or :math:`1/N` (AUGRC): an L-statistic whose influence function
gives a standard error over rows (:func:`area_pseudo_values`).

Conventions: the row axis is last; leading axes (posterior draws, replications) are
batches. Input is valid; nothing here validates or knows about xarray.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "AREAS",
    "area",
    "area_pseudo_values",
    "coverage_weights",
    "generalized_risk_curve",
    "risk_curve",
    "selection_order",
]

Floats = NDArray[np.floating[Any]]
Area = Literal["aurc", "augrc"]
#: The two areas under a risk-coverage curve.
AREAS: tuple[Area, ...] = ("aurc", "augrc")


def selection_order(measure: Floats, *, descending: bool = False) -> NDArray[np.intp]:
    """Indices that sort rows from most to least certain, along the last axis.

    Ascending for an uncertainty (entropy: low is certain), descending for a confidence
    (``max_prob``); ties keep their row order (a stable sort), so the order is reproducible.

    Examples
    --------
    >>> selection_order(np.array([0.3, 0.1, 0.3, 0.0])).tolist()
    [3, 1, 0, 2]
    >>> selection_order(np.array([0.6, 0.9, 0.6]), descending=True).tolist()
    [1, 0, 2]
    """
    key = -measure if descending else measure
    return np.argsort(key, axis=-1, kind="stable")


def risk_curve(sorted_scores: Floats) -> NDArray[np.float64]:
    """Selective risk :math:`R_k` at every coverage ``k/N``, ``k = 1..N`` (last axis).

    Examples
    --------
    >>> risk_curve(np.array([0.0, 1.0, 1.0, 0.0])).tolist()
    [0.0, 0.5, 0.6666666666666666, 0.5]
    """
    n = sorted_scores.shape[-1]
    return np.cumsum(sorted_scores, axis=-1, dtype=np.float64) / np.arange(1, n + 1)


def generalized_risk_curve(sorted_scores: Floats) -> NDArray[np.float64]:
    """Generalised risk :math:`G_k` (Traub et al. 2024) at every coverage ``k/N``.

    Examples
    --------
    >>> generalized_risk_curve(np.array([0.0, 1.0, 1.0, 0.0])).tolist()
    [0.0, 0.25, 0.5, 0.5]
    """
    n = sorted_scores.shape[-1]
    return np.cumsum(sorted_scores, axis=-1, dtype=np.float64) / n


def coverage_weights(n: int, kind: Area) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""``(c, w)``: weight :math:`c_k` of each coverage and :math:`w_i = \sum_{k \ge i} c_k`.

    So that ``area = mean(sorted_scores * w)``.

    Examples
    --------
    >>> c, w = coverage_weights(3, "aurc")
    >>> w.round(6).tolist()  # 1 + 1/2 + 1/3, 1/2 + 1/3, 1/3
    [1.833333, 0.833333, 0.333333]
    >>> coverage_weights(4, "augrc")[1].tolist()
    [1.0, 0.75, 0.5, 0.25]
    """
    k = np.arange(1, n + 1, dtype=np.float64)
    c = 1.0 / k if kind == "aurc" else np.full(n, 1.0 / n)
    # Reverse cumulative sum, smallest terms first (the harmonic tail stays accurate).
    w = np.cumsum(c[::-1])[::-1]
    return c, w


def area(sorted_scores: Floats, kind: Area) -> NDArray[np.float64]:
    """AURC or AUGRC over the last axis: the mean of the curve over ``k = 1..N``.

    Examples
    --------
    >>> float(area(np.array([0.0, 1.0, 1.0, 0.0]), "aurc"))  # mean(0, .5, 2/3, .5)
    0.4166666666666667
    """
    _, w = coverage_weights(sorted_scores.shape[-1], kind)
    return np.asarray(np.einsum("...n,n->...", sorted_scores, w) / sorted_scores.shape[-1])


def area_pseudo_values(sorted_scores: Floats, kind: Area) -> NDArray[np.float64]:
    r"""Influence-function pseudo-values of the area, one per row (in sorted order).

    The area is :math:`T = \int s\, W(G(u))\, dF` in the limit, with :math:`G` the
    distribution of the uncertainty measure :math:`u` and :math:`W(v) = \int_v^1 c(t)\,dt`.
    Perturbing :math:`F` towards the row :math:`(u_i, s_i)` gives the influence function

    .. math:: \mathrm{IF}_i = s_i W(G(u_i)) - T
              - \mathbb E\big[s\, c(G(u))\,(1\{u_i \le u\} - G(u))\big],

    whose empirical version, with the exact finite weights, is
    :math:`v_i - T` where

    .. math:: v_i = s_{(i)} w_i - \sum_{j \ge i} s_{(j)} c_j
              + \frac1N \sum_j j\, c_j\, s_{(j)}.

    The pseudo-values :math:`v_i` average to :math:`T` exactly, so
    :math:`\mathrm{sd}(v)/\sqrt N` is the (delta-method) SE of the area over rows, and the
    per-row differences of two models' pseudo-values give the *paired* SE of their
    difference, as for any score that is a mean over rows. The measure of each row is held
    as the row's own attribute: the row :math:`(u_i, s_i)` is the resampled unit.

    Examples
    --------
    >>> s = np.array([0.0, 1.0, 1.0, 0.0])
    >>> v = area_pseudo_values(s, "aurc")
    >>> bool(np.isclose(v.mean(), area(s, "aurc")))
    True
    """
    n = sorted_scores.shape[-1]
    c, w = coverage_weights(n, kind)
    weighted = sorted_scores * c
    tail = np.cumsum(weighted[..., ::-1], axis=-1)[..., ::-1]
    centre = np.einsum("...n,n->...", weighted, np.arange(1, n + 1)) / n
    return np.asarray(sorted_scores * w - tail + centre[..., None], dtype=np.float64)
