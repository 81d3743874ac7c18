r"""Which model predicts better, and how sure? Held-out scores with paired SEs.

Models are ranked by held-out posterior predictive NLL. Because every model is scored on
the same observations, the uncertainty of a *difference* is the standard error of the paired
per-observation differences,

.. math:: \mathrm{SE}(\Delta) = \mathrm{sd}_n\big(\mathrm{NLL}_{mn} - \mathrm{NLL}_{bn}\big)
          / \sqrt{N},

which is usually far smaller than either model's own SE. ``p_worse_nll`` is the normal
approximation :math:`\Phi(\Delta / \mathrm{SE}(\Delta))` of the probability that model m is
truly worse than the best. The same holds for every metric of ``metrics=``
(:func:`compare`); the ECE gets a paired bootstrap, the AURC influence-function
pseudo-values. Differences below the inputs' numerical floor are "no difference", and the
Monte Carlo error of a difference is paired when the models' draws are.

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
from bayescore._inputs import match_rows, row_labels, rows_in_y_order
from bayescore._names import CLASS, OBS
from bayescore._validation import N_BINS, Interval, Options, validate_params
from bayescore.comparison._parallel import run_tasks
from bayescore.comparison._selective import BY, SCORES, area_pseudo_values_of
from bayescore.comparison._table import ModelScores, check_metrics, comparison_table
from bayescore.scoring import PointwiseScores, pointwise_scores

__all__ = ["SEED", "compare", "model_names", "predictions_of"]

#: Bootstrap resamples of the ECE's paired SE.
N_BOOT = Interval(numbers.Integral, 2, None, "left")
#: Seeds of random number generators (NumPy's ``default_rng`` takes integers >= 0).
SEED = Interval(numbers.Integral, 0, None, "left")


def predictions_of(model: Any, X: Any) -> tuple[Any, Any]:
    """Draws or probabilities of a model, and the class labels of its columns.

    A fitted model's predictions come back as a DataArray whose ``class`` coordinate is
    the model's own ``classes_`` and whose ``obs`` coordinate is the row labels of ``X``
    (a DataFrame's index), so they are matched to ``y`` by value, rows and labels alike.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0]}, index=[5, 6, 7])
    >>> model = DummyClassifier().fit(X, ["no", "yes", "yes"])
    >>> preds, classes = predictions_of(model, X)
    >>> preds.dims, preds["obs"].values.tolist(), classes.tolist()
    (('obs', 'class'), [5, 6, 7], ['no', 'yes'])
    """
    if hasattr(model, "predict_proba_draws"):
        if X is None:
            raise ValueError("Estimators need X= to predict the held-out rows.")
        draws = model.predict_proba_draws(X)
        return draws, draws[CLASS].values
    if hasattr(model, "predict_proba"):
        if X is None:
            raise ValueError("Estimators need X= to predict the held-out rows.")
        probs = np.asarray(model.predict_proba(X))
        classes = getattr(model, "classes_", None)
        coords: dict[str, Any] = {}
        if classes is not None:
            coords[CLASS] = np.asarray(classes)
        rows = row_labels(X)
        if rows is not None:
            coords[OBS] = rows
        if probs.ndim != 2:
            return probs, classes
        return xr.DataArray(probs, dims=(OBS, CLASS), coords=coords), classes
    classes = None
    if isinstance(model, xr.DataArray) and CLASS in model.coords:
        classes = model[CLASS].values
    return model, classes


def model_names(models: Any, func: str, what: str = "models") -> dict[str, Any]:
    """``models`` with every name as ``str`` (names are labels of the table's ``model`` dim).

    Any hashable name is accepted and converted with ``str`` once, here, so the table,
    its coordinates and messages all use the same text; two names that become the same
    text raise.

    Examples
    --------
    >>> list(model_names({1: "a", ("b", 2): "b"}, "compare"))
    ['1', "('b', 2)"]
    >>> model_names({1: "a", "1": "b"}, "compare")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The model names 1 and '1' of compare are the same text '1'; give them ...
    """
    if not isinstance(models, Mapping) or not models:
        kind = "model or predictions" if what == "models" else "estimator"
        got = "an empty dict" if isinstance(models, Mapping) else type(models).__name__
        raise TypeError(f"{what} must be a non-empty dict of name -> {kind}; got {got}.")
    out: dict[str, Any] = {}
    given: dict[str, Any] = {}
    for name, model in models.items():
        text = str(name)
        if text in out:
            raise ValueError(
                f"The model names {given[text]!r} and {name!r} of {func} are the same text "
                f"{text!r}; give them distinct names."
            )
        out[text], given[text] = model, name
    return out


def _var_name(var_name: str | Mapping[str, str] | None, name: str) -> str | None:
    if isinstance(var_name, Mapping):
        return var_name.get(name)
    return var_name


def _model_scores(
    name: str, pw: PointwiseScores, metrics: tuple[str, ...], n_bins: int, aurc: tuple[str, str]
) -> tuple[ModelScores, dict[str, float]]:
    """One model's table inputs, in ``y``'s row order, and its brier/ece/accuracy columns."""
    if pw.mean_probs is None:  # a pointwise log-likelihood: NLL only
        needs = [m for m in metrics if m != "nll"]
        if needs:
            raise ValueError(
                f"Model {name!r} is a pointwise log-likelihood, which gives the NLL only; "
                f"metrics {needs} need class probabilities. Pass metrics=('nll',), or "
                "var_name= naming the model's probability variable."
            )
        nan = float("nan")
        return ModelScores(
            {"nll": pw.values["nll"]},
            nll_mcse=pw.nll_mcse,
            precision=pw.precision,
            nll_mc=pw.nll_mc,
        ), {
            "brier": nan,
            "ece": nan,
            "accuracy": nan,
        }
    assert pw.y_idx is not None
    # Every model's rows in y's order, so the paired differences (and bootstrap) pair the
    # same rows, and sums over rows run in the same order whatever the model's row order.
    conf, correct = (
        rows_in_y_order(a, pw.y_rows) for a in binning.top_label(pw.mean_probs, pw.y_idx)
    )
    ece = binning.ece_mce(conf, correct, n_bins).ece
    pointwise = {
        k: rows_in_y_order(pw.values[k], pw.y_rows)
        for k in ("nll", "brier", "spherical", "accuracy")
    }
    if "aurc" in metrics:
        by, score = aurc
        if by == "epistemic" and pw.n_draws == 1:
            raise ValueError(
                f"Model {name!r} has point probabilities, which carry no epistemic "
                "uncertainty: the 'aurc' metric with aurc_by='epistemic' needs posterior "
                "draws. Pass draws, or aurc_by='total' or aurc_by='max_prob'."
            )
        pointwise["aurc"] = rows_in_y_order(
            area_pseudo_values_of(pw, by=by, score=score), pw.y_rows
        )
    return ModelScores(
        pointwise,
        conf,
        correct,
        ece,
        nll_mcse=pw.nll_mcse,
        precision=pw.precision,
        nll_mc=pw.nll_mc,
    ), {
        "brier": float(pw.values["brier"].mean()),
        "ece": ece,
        "accuracy": float(pw.values["accuracy"].mean()),
    }


def _check_classes(name: str, classes: Any, labels: Any) -> None:
    """A fitted model's own classes name its columns: ``labels=`` may not relabel them."""
    if labels is None or classes is None:
        return
    mine, theirs = np.asarray(labels).tolist(), np.asarray(classes).tolist()
    if mine != theirs:
        same = sorted(map(repr, mine)) == sorted(map(repr, theirs))
        why = "the same classes in another order" if same else "different classes"
        raise ValueError(
            f"labels={mine!r} disagrees with the classes_ {theirs!r} of model {name!r} "
            f"({why}). A fitted model's classes_ name its probability columns; drop labels= "
            "(it is for arrays of probabilities without class labels)."
        )


def _check_rows(rows: dict[str, Any]) -> None:
    """Without row labels on ``y``, models naming their rows must name them alike."""
    named = {name: r for name, r in rows.items() if r is not None}
    if len(named) < 2:
        return
    (first, ref), *others = named.items()
    for name, r in others:
        order = match_rows(
            ref,
            r,
            y_name=f"model {first!r}",
            name=f"model {name!r}",
            y_source="'obs' coordinate",
        )
        if order is not None:
            raise ValueError(
                f"Models {first!r} and {name!r} list the same rows in different orders, and "
                "y has no row labels to match either by. Pass y as a pandas Series or a "
                "DataArray with an 'obs' coordinate, or give the models the same row order."
            )


def _pointwise_of(
    name: str, model: Any, y: Any, X: Any, labels: Any, var_name: str | None, group: str | None
) -> tuple[PointwiseScores, bool]:
    """One model's per-observation scores (and whether it was a DataTree): one pass."""
    preds, classes = predictions_of(model, X)
    if preds is not model:  # a fitted model: its own classes_ label its columns
        _check_classes(name, classes, labels)
    tree = is_tree(preds)
    # One validated pass over each model's draws gives every column of the table.
    pw = pointwise_scores(
        y,
        preds,
        labels=labels,
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
    tasks = [(n, models[n], y, X, labels, None, None) for n in fitted]
    return dict(zip(fitted, run_tasks(_pointwise_of, tasks, n_jobs), strict=True))


@validate_params(
    {
        "n_bins": N_BINS,
        "n_boot": N_BOOT,
        "random_seed": SEED,
        "aurc_by": Options(BY),
        "aurc_score": Options(SCORES),
    }
)
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
    aurc_by: str = "total",
    aurc_score: str = "nll",
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
        Names may be any hashable; the table labels models by ``str(name)``.
        Fitted bayescore or scikit-learn classifiers (predicted on ``X``), posterior draws
        (DataArray ``(chain, draw, obs, class)`` or ndarray ``(S, N, K)``), probabilities
        ``(N, K)``, or ArviZ results from PyMC or Bambi (see ``var_name``), all for the
        same held-out rows.
    y : array-like of shape (n_obs,)
        Held-out labels. A pandas Series (or a DataArray with an ``obs`` coordinate) is
        matched row by row to each model's rows (the ``obs`` coordinate of its draws, the
        index of a DataFrame ``X``), so models listing the rows in different orders are
        still paired row by row; without row labels on ``y`` the rows are positional, and
        models that name their rows must then name them in the same order.
    X : array-like, optional
        Held-out features, needed for estimators.
    metrics : str or tuple of str, default ("nll", "brier", "ece")
        Among ``nll``, ``brier``, ``ece``, ``aurc`` (lower is better), ``spherical``,
        ``accuracy`` (higher is better). ``nll`` is always included: the table is ranked by it.
    labels : array-like, optional
        Class order of array inputs whose ``y`` holds labels. Fitted models and DataArrays
        with a ``class`` coordinate name their own classes; a ``labels=`` that disagrees
        with them raises ``ValueError``.
    n_bins : int, default 15
        Bins of the ECE (uniform).
    n_boot : int, default 1000
        Bootstrap resamples of the ECE's SEs.
    random_seed : int >= 0 or None, default 0
        Seed of the bootstrap (the same seed gives the same table).
    var_name : str or dict of name -> str, optional
        DataTree models: the variable of class probabilities (e.g. ``"p"``) in the
        ``predictions`` or ``posterior`` group, or of the ``log_likelihood`` group (then
        only ``metrics=("nll",)`` is possible); default the single ``log_likelihood``
        variable. A dict gives one per model.
    group : str, optional
        DataTree models: the group holding ``var_name``, when it is in several.
    aurc_by, aurc_score : str, default "total" and "nll"
        Uncertainty measure and per-row score of the ``aurc`` metric
        (:func:`bayescore.selective_risk`); its SEs come from influence-function
        pseudo-values per row, paired across models.
    n_jobs : int, optional
        Predict and score the fitted models (estimators) on ``X`` in parallel with joblib
        (``-1``: every core); with an active ``dask.distributed`` client, on its cluster.
        Each task returns per-observation scores, so the table equals the serial one.
        Arrays and DataTrees are scored here, and a Dask ``X`` predicts on its cluster.

    Returns
    -------
    Dataset over dim ``model``, sorted by ``nll`` (best first)
        For each metric ``m`` of ``metrics``: ``m`` (its value), ``m_se`` (SE over
        observations), ``d_m`` (difference to the best model on ``m``, oriented so that
        ``>= 0`` means worse), ``d_m_se`` (SE of the paired per-observation differences;
        paired bootstrap for the ECE) and ``p_worse_m`` (probability that the model is
        worse than the best on ``m``: NaN on the best row, 0.5 where the difference is below
        the numerical floor of the inputs). ``brier``, ``ece`` and ``accuracy`` of the
        draw-averaged probabilities are always there (NaN for a log-likelihood).
        ``nll_mcse``: Monte Carlo SE of each model's NLL from its finite draws (batch means
        within chains; 0 for point probabilities, NaN for an infinite NLL);
        ``d_nll_mcse``: that of the difference to the best, from paired per-draw-block
        differences when the two models have the same number of chains and draws, else
        :math:`\sqrt{\mathrm{mcse}^2 + \mathrm{mcse}_\mathrm{best}^2}`. ``diag``: flags per
        model, ``no difference`` (rounding noise, :math:`|d| \le 16\,\epsilon\,
        \overline{(1 + |s_m| + |s_b|)}`, or the same forecasts, every row's scores within
        :math:`\sqrt\epsilon\,(1 + |s_m| + |s_b|)`; :math:`\epsilon` the inputs' machine
        epsilon),
        ``N < 100``, ``|d_nll| < 2 d_se`` and ``nll_mcse not small`` (more draws could
        carry :math:`|d|` across :math:`2\,\mathrm{SE}`; this one also warns,
        :class:`~bayescore.comparison.ComparisonWarning`, at the caller's line).
        ``.to_pandas()`` gives a table.

        .. deprecated:: 0.3
            ``se``, ``d_se``, ``prob_better`` and ``z`` are kept for one release and
            removed in 0.4: use ``nll_se``, ``d_nll_se``, ``p_worse_nll`` and
            ``d_nll / d_nll_se``. ``prob_better`` on a model's row is the probability that
            the *best* model is better than this one (the same number as ``p_worse_nll``),
            not that this model is better. Each carries ``attrs["deprecated"]``.

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
    models = model_names(models, "compare")
    chosen = check_metrics(metrics)
    scores: dict[str, ModelScores] = {}
    extra: dict[str, dict[str, float]] = {}
    rows: dict[str, Any] = {}
    trees = 0
    ran = _predict_in_parallel(models, y, X, labels, n_jobs)
    for name, model in models.items():
        if name in ran:
            pw, tree = ran[name]
        else:
            pw, tree = _pointwise_of(name, model, y, X, labels, _var_name(var_name, name), group)
        trees += tree
        scores[name], extra[name] = _model_scores(name, pw, chosen, n_bins, (aurc_by, aurc_score))
        rows[name] = pw.rows
    if (var_name is not None or group is not None) and not trees:
        raise TypeError("var_name= and group= apply to DataTree models; none was given.")
    if row_labels(y) is None:
        _check_rows(rows)
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
        attrs={"aurc": f"by={aurc_by}, score={aurc_score}"} if "aurc" in chosen else None,
    )
