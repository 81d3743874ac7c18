r"""Selective prediction: abstain on the most uncertain rows, and see what it buys.

A model that may abstain keeps the rows it is most certain about. Sorting rows by an
uncertainty measure (ascending; ``max_prob``, a confidence, descending), the selective risk
at coverage :math:`k/N` is the mean score of the :math:`k` most certain rows,

.. math:: R_k = \frac1k \sum_{i \le k} s_{(i)}, \qquad
          \mathrm{AURC} = \frac1N \sum_{k=1}^N R_k,

and the generalised risk :math:`G_k = \frac1N \sum_{i \le k} s_{(i)}` (Traub et al. 2024)
has the area AUGRC (the kernels and their references are in
:mod:`bayescore._array.selective`). Lower is better for every quantity here.

Uncertainty measures (SPEC §3, :func:`bayescore.uncertainty_decomposition`): ``total``
(entropy of the posterior predictive), ``aleatoric`` (expected entropy over draws),
``epistemic`` (their difference, the mutual information) and ``max_prob`` (the top-label
probability of the posterior predictive). Scores of each row: ``nll``
:math:`-\log \bar p_n(y_n)`, ``brier`` :math:`\sum_k (\bar p_{nk} - 1[y_n = k])^2` and
``zero_one`` :math:`1[\arg\max_k \bar p_{nk} \ne y_n]`, all of the posterior predictive
(draw-averaged) probabilities :math:`\bar p`.

Uncertainty of the areas, two kinds:

- **over rows** (``aurc_se``, ``augrc_se``): the SE of the influence-function
  pseudo-values (:func:`bayescore._array.selective.area_pseudo_values`), the delta-method SE
  of an L-statistic; it says how much the area would change on another sample of rows.
- **over the posterior** (``aurc_lower``, ``aurc_upper``, ``risk_lower``, ``risk_upper``;
  draws only): the abstention order is held fixed (chosen from the posterior predictive)
  and every posterior draw's own forecasts are scored on it; the equal-tailed ``level``
  interval of the per-draw curves and areas. For the NLL a single draw scores worse than the
  posterior predictive (Jensen), so this interval can sit above ``aurc``.

Baselines: the **oracle** sorts rows by their own score (the best any measure can do on
these scores) and the **random** order abstains blindly (its expected curve is flat at the
mean score; expected AUGRC :math:`\bar s\,(N+1)/(2N)`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from bayescore._array import scores as K
from bayescore._array import selective as S
from bayescore._datatree import is_tree, probability_draws
from bayescore._inputs import PreparedDraws, prepare_draws, reduce_draws
from bayescore._names import OBS
from bayescore._pointwise import PointwiseScores
from bayescore._validation import LEVEL, Options, validate_params

__all__ = ["BY", "SCORES", "area_pseudo_values_of", "selective_risk"]

#: Uncertainty measures rows can be sorted by.
BY = ("total", "epistemic", "aleatoric", "max_prob")
#: Per-row scores (losses) of the risk.
SCORES = ("nll", "brier", "zero_one")
#: Dim of the risk-coverage curves.
COVERAGE = "coverage"
#: Largest draws x rows held at once for the per-draw curves (float64: 256 MB).
_CURVE_ELEMENTS = 1 << 25


def _row_scores(
    p_true: np.ndarray, probs: np.ndarray, y_idx: np.ndarray, score: str
) -> np.ndarray:
    """Per-row loss of probabilities ``(..., N, K)``: nll, brier or zero_one."""
    if score == "nll":
        with np.errstate(divide="ignore"):
            return np.asarray(-np.log(p_true), dtype=np.float64)
    if score == "brier":
        return np.asarray(K.brier_pointwise(probs, y_idx), dtype=np.float64)
    return (np.argmax(probs, axis=-1) != y_idx).astype(np.float64)


def _measures(d: PreparedDraws, arg: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Every uncertainty measure, the posterior predictive probabilities and p(y)."""
    sums = reduce_draws(d, frozenset({"p_true", "probs", "entropy"}), name=arg)
    assert sums.probs is not None and sums.entropy is not None and sums.p_true is not None
    n = sums.n_draws
    mean_probs = sums.probs / n
    total = K.entropy(mean_probs)
    aleatoric = sums.entropy / n
    measures = {
        "total": total,
        "aleatoric": aleatoric,
        # Mutual information >= 0; rounding can leave -1e-16 for identical draws.
        "epistemic": np.maximum(total - aleatoric, 0.0),
        "max_prob": mean_probs.max(axis=-1),
    }
    return measures, mean_probs, sums.p_true / n


def _prepare(
    y: Any, probs_or_draws: Any, by: str, labels: Any, var_name: str | None, group: str | None
) -> tuple[PreparedDraws, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    arg = "probs_or_draws"
    if is_tree(probs_or_draws):
        probs_or_draws = probability_draws(
            probs_or_draws, var_name, group=group, func="selective_risk"
        )
    elif var_name is not None or group is not None:
        raise TypeError(
            "var_name= and group= of selective_risk apply to DataTree input (an ArviZ "
            f"result); got {type(probs_or_draws).__name__}."
        )
    d = prepare_draws(y, probs_or_draws, labels=labels, name=arg)
    if by == "epistemic" and d.n_draws == 1:
        raise ValueError(
            "by='epistemic' needs posterior draws: point probabilities have no epistemic "
            "uncertainty (0 for every row), so the order would be arbitrary. Pass draws "
            "(chain, draw, obs, class), or by='total' or by='max_prob'."
        )
    measures, mean_probs, p_true = _measures(d, arg)
    return d, measures, mean_probs, p_true


def area_pseudo_values_of(
    pw: PointwiseScores, *, by: str = "total", score: str = "nll", kind: S.Area = "aurc"
) -> np.ndarray:
    """Per-row influence pseudo-values of the AURC or AUGRC, in the rows' own order.

    From the one pass of :func:`bayescore.scoring.pointwise_scores` (its ``nll``,
    ``brier``, ``accuracy`` and uncertainty split are the scores and measures of
    :func:`selective_risk`). Their mean is the area; differences of two models' values give
    the paired SE of the difference of their areas (:func:`bayescore.compare`).

    Examples
    --------
    >>> from bayescore.scoring import pointwise_scores
    >>> y, probs = [0, 1, 1], [[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]]
    >>> v = area_pseudo_values_of(pointwise_scores(y, probs))
    >>> bool(np.isclose(v.mean(), float(selective_risk(y, probs)["aurc"]), rtol=1e-12))
    True
    """
    if pw.mean_probs is None:
        raise ValueError("the AURC needs class probabilities, not a log-likelihood.")
    if by == "epistemic" and pw.n_draws == 1:
        raise ValueError(
            "by='epistemic' needs posterior draws: point probabilities have no epistemic "
            "uncertainty (0 for every row). Pass draws, or by='total' or by='max_prob'."
        )
    values = pw.values
    row = {"nll": values["nll"], "brier": values["brier"], "zero_one": 1.0 - values["accuracy"]}[
        score
    ]
    measure = pw.mean_probs.max(axis=-1) if by == "max_prob" else values[by]
    order = S.selection_order(measure, descending=by == "max_prob")
    out = np.empty(row.size)
    out[order] = S.area_pseudo_values(row[order], kind)
    return out


def _per_draw(
    d: PreparedDraws, order: np.ndarray, score: str, level: float
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Equal-tailed intervals over draws of the areas and of the risk curve."""
    assert d.y_idx is not None
    n_draws, n_obs = d.n_draws, d.n_obs
    # The curves of every draw are kept only up to a memory budget: beyond it, evenly
    # spaced draws give the curve's interval (every draw still gives the areas').
    keep_every = max(1, -(-n_draws * n_obs // _CURVE_ELEMENTS))
    curve_rows = np.arange(0, n_draws, keep_every)
    curves = np.empty((curve_rows.size, n_obs))
    areas = {kind: np.empty(n_draws) for kind in S.AREAS}
    weights = {kind: S.coverage_weights(n_obs, kind)[1] / n_obs for kind in S.AREAS}
    step = max(1, K.CHUNK_ELEMENTS // max(1, n_obs * d.n_classes))
    y_sorted = d.y_idx[order]
    for start in range(0, n_draws, step):
        chunk = np.asarray(d.values[start : start + step], dtype=np.float64)[:, order]
        p_true = K.true_class(chunk, y_sorted)
        sorted_scores = _row_scores(p_true, chunk, y_sorted, score)
        for kind in S.AREAS:
            areas[kind][start : start + chunk.shape[0]] = sorted_scores @ weights[kind]
        picked = (curve_rows >= start) & (curve_rows < start + chunk.shape[0])
        if picked.any():
            curves[picked] = S.risk_curve(sorted_scores[curve_rows[picked] - start])
    q = [(1 - level) / 2, (1 + level) / 2]
    bounds: dict[str, np.ndarray] = {str(kind): np.quantile(a, q) for kind, a in areas.items()}
    return bounds, np.quantile(curves, q, axis=0), int(curve_rows.size)


@validate_params({"by": Options(BY), "score": Options(SCORES), "level": LEVEL})
def selective_risk(
    y: Any,
    probs_or_draws: Any,
    *,
    by: str = "total",
    score: str = "nll",
    labels: Any = None,
    level: float = 0.9,
    var_name: str | None = None,
    group: str | None = None,
) -> xr.Dataset:
    r"""Risk-coverage curve, AURC and AUGRC of abstaining on the most uncertain rows.

    Rows are sorted by the uncertainty measure ``by`` (ascending; ``max_prob`` descending,
    ties in row order) and accepted in that order; the risk at coverage :math:`k/N` is the
    mean ``score`` of the :math:`k` most certain rows:

    .. math:: R_k = \frac1k \sum_{i \le k} s_{(i)}, \qquad
              \mathrm{AURC} = \frac1N \sum_{k=1}^N R_k, \qquad
              \mathrm{AUGRC} = \frac1N \sum_{k=1}^N \frac1N \sum_{i \le k} s_{(i)}.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Labels, matched by value against ``labels=`` or the ``class`` coordinate.
    probs_or_draws : array-like or DataArray or DataTree
        Probabilities ``(N, K)`` / ``(N,)`` or posterior draws ``(S, N, K)``,
        ``(C, D, N, K)`` or a DataArray ``(chain, draw, obs, class)``; or an ArviZ result
        with class probabilities (``var_name=``).
    by : {"total", "epistemic", "aleatoric", "max_prob"}, default "total"
        The uncertainty measure (:func:`bayescore.uncertainty_decomposition`; ``max_prob``
        is the top-label probability). ``epistemic`` needs draws.
    score : {"nll", "brier", "zero_one"}, default "nll"
        The per-row loss, of the posterior predictive probabilities.
    labels : array-like, optional
        Class order of array inputs whose ``y`` holds labels.
    level : float, default 0.9
        Probability of the posterior intervals (draws only).
    var_name, group : str, optional
        DataTree input: the probability variable and its group.

    Returns
    -------
    Dataset
        Over ``coverage`` (``k/N``, ``k = 1..N``): ``risk``, ``generalized_risk``, their
        ``_oracle`` (rows sorted by their own score) and ``_random`` (expected under a
        random order) baselines, ``threshold`` (the measure of the last row accepted: abstain
        above it, or below it for ``max_prob``) and, from draws, ``risk_lower`` /
        ``risk_upper``. Over ``obs``: ``uncertainty`` (the measure) and ``score``. Scalars:
        ``aurc`` and ``augrc`` with ``_se`` (influence function over rows), ``_oracle``,
        ``_random`` and, from draws, ``_lower`` / ``_upper``; ``mean_score`` (the risk at
        full coverage). Lower is better throughout. Attributes: ``by``, ``score``,
        ``level``, ``n_draws``, ``se_method``.

    Raises
    ------
    ValueError
        An unknown ``by`` or ``score``; ``by="epistemic"`` with point probabilities; the
        usual input errors of probabilities and labels.

    See Also
    --------
    bayescore.uncertainty_decomposition, bayescore.decide, bayescore.compare

    Examples
    --------
    >>> import bayescore as bs
    >>> y = [0, 1, 1, 0]
    >>> probs = [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.45, 0.55]]
    >>> sr = bs.selective_risk(y, probs, by="max_prob", score="zero_one")
    >>> sr["risk"].values.tolist()  # accept 0.9, then 0.7, 0.6, 0.55: the last is wrong
    [0.0, 0.0, 0.0, 0.25]
    >>> float(sr["aurc"]), float(sr["aurc_random"])
    (0.0625, 0.25)
    """
    d, measures, mean_probs, p_true = _prepare(y, probs_or_draws, by, labels, var_name, group)
    assert d.y_idx is not None
    n = d.n_obs
    row = _row_scores(p_true, mean_probs, d.y_idx, score)
    measure = measures[by]
    order = S.selection_order(measure, descending=by == "max_prob")
    ranked = row[order]
    oracle = np.sort(row, kind="stable")
    mean_score = float(row.mean())
    coverage = np.arange(1, n + 1) / n
    curve: dict[str, Any] = {
        "risk": S.risk_curve(ranked),
        "generalized_risk": S.generalized_risk_curve(ranked),
        "risk_oracle": S.risk_curve(oracle),
        "generalized_risk_oracle": S.generalized_risk_curve(oracle),
        "risk_random": np.full(n, mean_score),
        "generalized_risk_random": coverage * mean_score,
        "threshold": measure[order],
    }
    scalars: dict[str, float] = {"mean_score": mean_score}
    for kind in S.AREAS:
        pseudo = S.area_pseudo_values(ranked, kind)
        scalars[kind] = float(S.area(ranked, kind))
        scalars[f"{kind}_se"] = float(pseudo.std() / np.sqrt(n))
        scalars[f"{kind}_oracle"] = float(S.area(oracle, kind))
    scalars["aurc_random"] = mean_score
    scalars["augrc_random"] = mean_score * (n + 1) / (2 * n)
    attrs: dict[str, Any] = {
        "by": by,
        "score": score,
        "level": float(level),
        "n_draws": d.n_draws,
        "units": "nats"
        if score == "nll"
        else ("squared probability" if score == "brier" else "error rate"),
        "se_method": "influence function (delta method) over rows",
        "orientation": "lower is better",
    }
    if d.n_draws > 1:
        bounds, band, used = _per_draw(d, order, score, level)
        for kind in S.AREAS:
            scalars[f"{kind}_lower"], scalars[f"{kind}_upper"] = map(float, bounds[kind])
        curve["risk_lower"], curve["risk_upper"] = band[0], band[1]
        attrs["interval"] = (
            f"equal-tailed {level:g} interval over posterior draws of the per-draw scores on "
            f"the posterior predictive order ({used} of {d.n_draws} draws for the curve)"
        )
    obs_coords: dict[Any, Any] = {}
    if d.template is not None:
        obs_coords = {k: c.variable for k, c in d.template.coords.items() if set(c.dims) <= {OBS}}
    data: dict[str, Any] = {k: ((COVERAGE,), v) for k, v in curve.items()}
    data.update({k: ((), v) for k, v in scalars.items()})
    data["uncertainty"] = ((OBS,), measure)
    data["score"] = ((OBS,), row)
    return xr.Dataset(data, coords={COVERAGE: coverage, **obs_coords}, attrs=attrs)
