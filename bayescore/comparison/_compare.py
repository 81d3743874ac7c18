r"""Which model predicts better, and how sure? Held-out scores with paired SEs.

Models are ranked by held-out posterior predictive NLL. Because every model is scored on
the same observations, the uncertainty of a *difference* is the standard error of the paired
per-observation differences,

.. math:: \mathrm{SE}(\Delta) = \mathrm{sd}_n\big(\mathrm{NLL}_{mn} - \mathrm{NLL}_{bn}\big)
          / \sqrt{N},

which is usually far smaller than either model's own SE. ``prob_better`` is the normal
approximation :math:`\Phi(\Delta / \mathrm{SE}(\Delta))` of the probability that the best
model is truly better than model m. The same holds for every metric of ``metrics=``
(:func:`compare`); the ECE gets a paired bootstrap.

Any model's posterior can be compared: bayescore and scikit-learn estimators, arrays of
draws or probabilities, and ArviZ results (``xarray.DataTree``) from PyMC or Bambi.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from bayescore._array import binning
from bayescore._dask import is_dask
from bayescore._datatree import is_tree
from bayescore._names import CLASS
from bayescore._validation import N_BINS, Interval, validate_params
from bayescore.comparison._parallel import run_tasks
from bayescore.comparison._table import ModelScores, check_metrics, comparison_table
from bayescore.scoring import PointwiseScores, pointwise_scores

__all__ = ["compare", "predictions_of"]

#: Bootstrap resamples of the ECE's paired SE.
N_BOOT = Interval(numbers.Integral, 2, None, "left")


def predictions_of(model: Any, X: Any) -> tuple[Any, Any]:
    """Draws or probabilities of a model, and the class labels of its columns."""
    if hasattr(model, "predict_proba_draws"):
        if X is None:
            raise ValueError("Estimators need X= to predict the held-out rows.")
        draws = model.predict_proba_draws(X)
        return draws, draws[CLASS].values
    if hasattr(model, "predict_proba"):
        if X is None:
            raise ValueError("Estimators need X= to predict the held-out rows.")
        return np.asarray(model.predict_proba(X)), getattr(model, "classes_", None)
    classes = None
    if isinstance(model, xr.DataArray) and CLASS in model.coords:
        classes = model[CLASS].values
    return model, classes


def _var_name(var_name: str | Mapping[str, str] | None, name: str) -> str | None:
    if isinstance(var_name, Mapping):
        return var_name.get(name)
    return var_name


def _model_scores(
    name: str, pw: Any, metrics: tuple[str, ...], n_bins: int
) -> tuple[ModelScores, dict[str, float]]:
    """One model's table inputs, and its brier/ece/accuracy columns."""
    if pw.mean_probs is None:  # a pointwise log-likelihood: NLL only
        needs = [m for m in metrics if m != "nll"]
        if needs:
            raise ValueError(
                f"Model {name!r} is a pointwise log-likelihood, which gives the NLL only; "
                f"metrics {needs} need class probabilities. Pass metrics=('nll',), or "
                "var_name= naming the model's probability variable."
            )
        nan = float("nan")
        return ModelScores({"nll": pw.values["nll"]}, nll_mcse=pw.nll_mcse), {
            "brier": nan,
            "ece": nan,
            "accuracy": nan,
        }
    conf, correct = binning.top_label(pw.mean_probs, pw.y_idx)
    ece = binning.ece_mce(conf, correct, n_bins).ece
    pointwise = {k: pw.values[k] for k in ("nll", "brier", "spherical", "accuracy")}
    return ModelScores(pointwise, conf, correct, ece, pw.nll_mcse), {
        "brier": float(pw.values["brier"].mean()),
        "ece": ece,
        "accuracy": float(pw.values["accuracy"].mean()),
    }


def _pointwise_of(
    model: Any, y: Any, X: Any, labels: Any, var_name: str | None, group: str | None
) -> tuple[PointwiseScores, bool]:
    """One model's per-observation scores (and whether it was a DataTree): one pass."""
    preds, classes = predictions_of(model, X)
    tree = is_tree(preds)
    # One validated pass over each model's draws gives every column of the table.
    pw = pointwise_scores(
        y,
        preds,
        labels=labels if labels is not None else classes,
        var_name=var_name if tree else None,
        group=group if tree else None,
    )
    return pw, tree


def _predict_in_parallel(
    models: dict[str, Any], y: Any, X: Any, labels: Any, n_jobs: int | None
) -> dict[str, tuple[PointwiseScores, bool]]:
    """The fitted models' predictions and scores on ``n_jobs`` workers (see ``n_jobs``).

    Only models that predict from ``X`` go: each task returns per-observation scores, not
    its draws, and arrays of draws would cost more to ship than to score where they are.
    A Dask ``X`` already runs its predictions on the cluster.
    """
    fitted = [n for n, m in models.items() if hasattr(m, "predict_proba")]
    if n_jobs == 1 or len(fitted) < 2 or X is None or is_dask(X):
        return {}
    tasks = [(models[n], y, X, labels, None, None) for n in fitted]
    return dict(zip(fitted, run_tasks(_pointwise_of, tasks, n_jobs), strict=True))


@validate_params({"n_bins": N_BINS, "n_boot": N_BOOT})
def compare(
    models: dict[str, Any],
    y: Any,
    X: Any = None,
    *,
    metrics: str | tuple[str, ...] = ("nll", "brier", "ece"),
    labels: Any = None,
    n_bins: int = 15,
    n_boot: int = 1000,
    random_seed: int | None = 0,
    var_name: str | Mapping[str, str] | None = None,
    group: str | None = None,
    n_jobs: int | None = None,
) -> xr.Dataset:
    r"""Rank models by held-out posterior predictive NLL, with paired SEs for every metric.

    For each metric :math:`m` the difference to the best model on :math:`m` is oriented so
    that :math:`d_m \ge 0` means worse; its SE is that of the paired per-observation
    differences (NLL, Brier, spherical, accuracy) or of a paired bootstrap over
    observations (ECE: the same resampled rows for every model, seeded), and
    ``p_worse_m`` :math:`= \Phi(d_m / \mathrm{SE}(d_m))` is the normal-approximation
    probability that the model is worse than the best (arviz-stats' convention; NaN for
    the best model).

    Parameters
    ----------
    models : dict of name -> estimator, draws, probabilities or DataTree
        Fitted bayescore or scikit-learn classifiers (predicted on ``X``), posterior draws
        (DataArray ``(chain, draw, obs, class)`` or ndarray ``(S, N, K)``), probabilities
        ``(N, K)``, or ArviZ results from PyMC or Bambi (see ``var_name``), all for the
        same held-out rows.
    y : array-like of shape (n_obs,)
        Held-out labels.
    X : array-like, optional
        Held-out features, needed for estimators.
    metrics : str or tuple of str, default ("nll", "brier", "ece")
        Among ``nll``, ``brier``, ``ece`` (lower is better), ``spherical``, ``accuracy``
        (higher is better). ``nll`` is always included: the table is ranked by it.
    labels : array-like, optional
        Class order of array inputs whose ``y`` holds labels.
    n_bins : int, default 15
        Bins of the ECE (uniform).
    n_boot : int, default 1000
        Bootstrap resamples of the ECE's SEs.
    random_seed : int, optional, default 0
        Seed of the bootstrap (the same seed gives the same table).
    var_name : str or dict of name -> str, optional
        DataTree models: the variable of class probabilities (e.g. ``"p"``) in the
        ``predictions`` or ``posterior`` group, or of the ``log_likelihood`` group (then
        only ``metrics=("nll",)`` is possible); default the single ``log_likelihood``
        variable. A dict gives one per model.
    group : str, optional
        DataTree models: the group holding ``var_name``, when it is in several.
    n_jobs : int, optional
        Predict and score the fitted models (estimators) on ``X`` in parallel with joblib
        (``-1``: every core); with an active ``dask.distributed`` client, on its cluster.
        Each task returns per-observation scores, so the table equals the serial one.
        Arrays and DataTrees are scored here, and a Dask ``X`` predicts on its cluster.

    Returns
    -------
    Dataset over dim ``model``, sorted by ``nll`` (best first)
        ``nll`` and ``se``; ``d_nll`` (difference to the best, >= 0) and ``d_se`` (SE of the
        paired per-observation differences); ``z = d_nll / d_se``; ``prob_better``
        (normal-approximation probability that the best model is truly better); ``brier``,
        ``ece`` and ``accuracy`` of the draw-averaged probabilities (NaN for a
        log-likelihood). For each metric ``m``: ``m``, ``m_se``, ``d_m``, ``d_m_se``,
        ``p_worse_m`` (so ``nll_se``, ``d_nll_se`` and ``p_worse_nll`` repeat ``se``,
        ``d_se`` and ``prob_better``). ``nll_mcse``: Monte Carlo SE of each model's NLL from
        its finite draws (batch means within chains; 0 for point probabilities, NaN for an
        infinite NLL) and ``d_nll_mcse``, that of the difference to the best,
        :math:`\sqrt{\mathrm{mcse}^2 + \mathrm{mcse}_\mathrm{best}^2}`. ``diag``: flags per
        model, ``N < 100``, ``|d_nll| < 2 d_se``, and ``nll_mcse not small`` when
        ``d_nll_mcse`` exceeds both ``d_se / 4`` and ``|d_nll| / 10`` (this one also warns,
        :class:`~bayescore.comparison.ComparisonWarning`).
        ``.to_pandas()`` gives a table.

    Raises
    ------
    ValueError
        Unknown or repeated metrics; models predicting different numbers of rows;
        probability metrics asked of a log-likelihood.

    Examples
    --------
    >>> y = [0, 1, 1, 0]
    >>> table = compare({"sharp": [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2]],
    ...                  "flat": [[0.5, 0.5]] * 4}, y, n_boot=200)
    >>> table["model"].values.tolist(), round(float(table["d_nll"][1]), 4)
    (['sharp', 'flat'], 0.4661)
    >>> round(float(table["d_brier"][1]), 4), table["p_worse_brier"].values.round(3).tolist()
    (0.41, [nan, 1.0])
    >>> table["diag"].values.tolist()
    ['', 'N < 100']
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict of name -> model or predictions.")
    chosen = check_metrics(metrics)
    scores: dict[str, ModelScores] = {}
    extra: dict[str, dict[str, float]] = {}
    trees = 0
    ran = _predict_in_parallel(models, y, X, labels, n_jobs)
    for name, model in models.items():
        if name in ran:
            pw, tree = ran[name]
        else:
            pw, tree = _pointwise_of(model, y, X, labels, _var_name(var_name, name), group)
        trees += tree
        scores[name], extra[name] = _model_scores(name, pw, chosen, n_bins)
    if (var_name is not None or group is not None) and not trees:
        raise TypeError("var_name= and group= apply to DataTree models; none was given.")
    sizes = {n: s.pointwise["nll"].size for n, s in scores.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"All models must predict the same observations; got sizes {sizes}.")
    return comparison_table(
        scores,
        metrics=chosen,
        extra=extra,
        n_bins=n_bins,
        n_boot=n_boot,
        random_seed=random_seed,
        stacklevel=4,  # comparison_table, compare, validate_params' wrapper, the caller
    )
