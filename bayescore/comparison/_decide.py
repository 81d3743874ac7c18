r"""Bayes-optimal decisions under a cost matrix, with the posterior spread of their cost.

With ``cost_matrix[t, j]`` the cost of predicting class :math:`j` when the truth is
:math:`t`, the expected cost of predicting :math:`j` for row :math:`n` under the posterior
predictive :math:`\bar p_n = \frac1S \sum_s p_{sn}` is

.. math:: \bar C_{nj} = \sum_t \bar p_{nt}\, C_{tj}, \qquad
          \hat j_n = \arg\min_j \bar C_{nj}

(Bayes' rule: the decision minimising posterior expected loss; Berger 1985, ch. 4). The
expected cost is linear in the probabilities, so averaging over the posterior first loses
nothing: :math:`\bar C_{nj}` is the posterior mean of the per-draw expected costs
:math:`C^{(s)}_{nj} = \sum_t p_{snt} C_{tj}`, whose spread over draws, at the chosen
decision, is the posterior interval of the cost (epistemic uncertainty about the cost of
acting).

**Abstaining.** With an abstention cost :math:`a` (a referral to a human, a second test),
the rule abstains where :math:`\min_j \bar C_{nj} > a`; the *value of abstaining* is the
expected saving per row, :math:`\frac1N \sum_n \max(0, \min_j \bar C_{nj} - a)`.

For two classes the rule is a threshold on :math:`\bar p_{n1}`: predict class 1 when

.. math:: \bar p_{n1} > t^\ast = \frac{C_{01} - C_{00}}{(C_{01} - C_{00}) + (C_{10} - C_{11})},

the threshold scikit-learn's ``TunedThresholdClassifierCV`` searches for empirically.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import xarray as xr

from bayescore._array import scores as K
from bayescore._datatree import is_tree, probability_draws
from bayescore._inputs import prepare_draws, reduce_draws, resolve_labels
from bayescore._names import CLASS, OBS
from bayescore._point_scores import Estimate
from bayescore._validation import LEVEL, Interval, as_float_array, check_finite, validate_params

__all__ = ["decide"]

_REAL = Interval(numbers.Real, None, None, "neither")


def _cost_matrix(cost_matrix: Any, n_classes: int) -> np.ndarray:
    costs = as_float_array(cost_matrix, "cost_matrix")
    if costs.shape != (n_classes, n_classes):
        raise ValueError(
            f"cost_matrix must be square with one row and column per class, "
            f"(n_classes, n_classes) = ({n_classes}, {n_classes}); got shape {costs.shape}. "
            "Its entry [t, j] is the cost of predicting class j when the truth is t."
        )
    return check_finite(costs, "cost_matrix")


def binary_threshold(costs: np.ndarray) -> float:
    """``t*``: P(class 1) above which class 1 is the cheaper decision (NaN if no threshold).

    Examples
    --------
    >>> binary_threshold(np.array([[0.0, 1.0], [5.0, 0.0]]))  # a miss costs 5 false alarms
    0.16666666666666666
    """
    gain_0 = costs[0, 1] - costs[0, 0]  # extra cost of predicting 1 on a true 0
    gain_1 = costs[1, 0] - costs[1, 1]  # extra cost of predicting 0 on a true 1
    if gain_0 + gain_1 <= 0 or gain_0 < 0 or gain_1 < 0:
        return float("nan")
    return float(gain_0 / (gain_0 + gain_1))


@validate_params({"abstain_cost": _REAL, "level": LEVEL})
def decide(
    probs_or_draws: Any,
    cost_matrix: Any,
    abstain_cost: float | None = None,
    *,
    y: Any = None,
    labels: Any = None,
    level: float = 0.9,
    var_name: str | None = None,
    group: str | None = None,
) -> xr.Dataset:
    r"""Bayes-optimal class per row under a cost matrix, and the posterior spread of its cost.

    .. math:: \hat j_n = \arg\min_j \sum_t \bar p_{nt}\, C_{tj}, \qquad
              \bar p_n = \frac1S \sum_s p_{sn}

    Parameters
    ----------
    probs_or_draws : array-like or DataArray or DataTree
        Probabilities ``(N, K)`` / ``(N,)`` or posterior draws ``(S, N, K)``,
        ``(C, D, N, K)``, a DataArray ``(chain, draw, obs, class)``, or an ArviZ result
        (``var_name=``).
    cost_matrix : array-like of shape (n_classes, n_classes)
        ``cost_matrix[t, j]``: cost of predicting class ``j`` when the truth is ``t``, in the
        column order of the probabilities (the ``class`` coordinate, or ``labels=``).
    abstain_cost : float, optional
        Cost of abstaining on a row. Rows whose cheapest decision costs more are abstained
        on; ``value_of_abstaining`` is the expected saving per row.
    y : array-like of shape (n_obs,), optional
        True labels: adds the cost actually incurred (``realized_cost``).
    labels : array-like, optional
        Class labels of the columns (for ``y`` and the ``decision`` values).
    level : float, default 0.9
        Probability of the equal-tailed posterior intervals over draws.
    var_name, group : str, optional
        DataTree input: the probability variable and its group.

    Returns
    -------
    Dataset
        Over ``obs``: ``decision`` (class label, or index when no labels are known),
        ``expected_cost`` (of the decision under the posterior predictive, lower is better)
        with ``expected_cost_lower`` / ``_upper`` over draws; with ``abstain_cost``,
        ``abstain`` (bool) and ``expected_cost_abstaining`` (:math:`\min(\bar C, a)`); with
        ``y``, ``realized_cost``. Over ``obs, class``: ``class_cost``, the expected cost of
        every decision. Scalars: ``mean_expected_cost`` with ``_lower`` / ``_upper`` (over
        draws, the decisions held fixed) and, with ``abstain_cost``, ``abstain_rate`` and
        ``value_of_abstaining``; with ``y``, ``mean_realized_cost`` and its SE over rows.
        Binary problems: ``attrs["threshold"]``, the :math:`t^\ast` of the module doc.

    Raises
    ------
    ValueError
        A cost matrix that is not ``(K, K)`` or not finite; a non-finite ``abstain_cost``;
        the usual input errors of probabilities and labels.

    See Also
    --------
    bayescore.selective_risk : abstaining by uncertainty rather than by cost.

    Examples
    --------
    >>> import bayescore as bs
    >>> costs = [[0, 1], [5, 0]]            # missing a positive costs 5 false alarms
    >>> out = bs.decide([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]], costs, abstain_cost=0.5)
    >>> out["decision"].values.tolist(), out["expected_cost"].values.round(2).tolist()
    ([0, 1, 1], [0.5, 0.7, 0.2])
    >>> out["abstain"].values.tolist(), round(float(out["value_of_abstaining"]), 4)
    ([False, True, False], 0.0667)
    >>> round(out.attrs["threshold"], 4)
    0.1667
    """
    arg = "probs_or_draws"
    if is_tree(probs_or_draws):
        probs_or_draws = probability_draws(probs_or_draws, var_name, group=group, func="decide")
    elif var_name is not None or group is not None:
        raise TypeError(
            "var_name= and group= of decide apply to DataTree input (an ArviZ result); got "
            f"{type(probs_or_draws).__name__}."
        )
    d = prepare_draws(None, probs_or_draws, labels=labels, name=arg)
    costs = _cost_matrix(cost_matrix, d.n_classes)
    sums = reduce_draws(d, frozenset({"probs"}), name=arg)
    assert sums.probs is not None
    mean_probs = sums.probs / sums.n_draws
    class_cost = mean_probs @ costs  # (N, K): expected cost of each decision
    choice = np.argmin(class_cost, axis=-1)
    rows = np.arange(d.n_obs)
    expected = class_cost[rows, choice]
    # Per draw, the cost of the decisions taken: a chunked pass, O(chunk) memory.
    per_draw = np.empty((d.n_draws, d.n_obs))
    step = max(1, K.CHUNK_ELEMENTS // max(1, d.n_obs * d.n_classes))
    chosen_costs = costs[:, choice].T  # (N, K_true): cost of the decision per true class
    for start in range(0, d.n_draws, step):
        chunk = np.asarray(d.values[start : start + step], dtype=np.float64)
        per_draw[start : start + chunk.shape[0]] = np.einsum("snk,nk->sn", chunk, chosen_costs)
    q = [(1 - level) / 2, (1 + level) / 2]
    row_band = np.quantile(per_draw, q, axis=0)
    mean_band = np.quantile(per_draw.mean(axis=1), q)
    classes = d.classes
    decision = classes[choice] if classes is not None else choice
    data: dict[str, Any] = {
        "decision": ((OBS,), decision),
        "expected_cost": ((OBS,), expected),
        "expected_cost_lower": ((OBS,), row_band[0]),
        "expected_cost_upper": ((OBS,), row_band[1]),
        "class_cost": ((OBS, CLASS), class_cost),
        "mean_expected_cost": ((), float(expected.mean())),
        "mean_expected_cost_lower": ((), float(mean_band[0])),
        "mean_expected_cost_upper": ((), float(mean_band[1])),
    }
    if abstain_cost is not None:
        a = float(abstain_cost)
        abstain = expected > a
        data["abstain"] = ((OBS,), abstain)
        data["expected_cost_abstaining"] = ((OBS,), np.minimum(expected, a))
        data["abstain_rate"] = ((), float(abstain.mean()))
        data["value_of_abstaining"] = ((), float(np.maximum(expected - a, 0.0).mean()))
    if y is not None:
        y_idx = resolve_labels(y, d.n_classes, classes_coord=classes, probs_name=arg)
        if y_idx.size != d.n_obs:
            raise ValueError(
                f"y has {y_idx.size} labels but {arg} has {d.n_obs} rows; pass one label per row."
            )
        realized = costs[y_idx, choice]
        est = Estimate.of(realized)
        data["realized_cost"] = ((OBS,), realized)
        data["mean_realized_cost"] = ((), est.mean)
        data["mean_realized_cost_se"] = ((), est.se)
    coords: dict[Any, Any] = {}
    if classes is not None:
        coords[CLASS] = classes
    if d.template is not None:
        coords.update(
            {k: c.variable for k, c in d.template.coords.items() if set(c.dims) <= {OBS}}
        )
    attrs: dict[str, Any] = {
        "cost_matrix": "cost_matrix[true, predicted]",
        "level": float(level),
        "n_draws": d.n_draws,
        "orientation": "lower cost is better",
    }
    if d.n_classes == 2:
        attrs["threshold"] = binary_threshold(costs)
    if abstain_cost is not None:
        attrs["abstain_cost"] = float(abstain_cost)
    return xr.Dataset(data, coords=coords, attrs=attrs)
