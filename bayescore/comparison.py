r"""Which model predicts better, and how sure? Held-out scores with paired SEs, CV, LOO.

Models are ranked by held-out posterior predictive NLL. Because every model is scored on
the same observations, the uncertainty of a *difference* is the standard error of the paired
per-observation differences,

.. math:: \mathrm{SE}(\Delta) = \mathrm{sd}_n\big(\mathrm{NLL}_{mn} - \mathrm{NLL}_{bn}\big)
          / \sqrt{N},

which is usually far smaller than either model's own SE. ``prob_better`` is the normal
approximation :math:`\Phi(\Delta / \mathrm{SE}(\Delta))` of the probability that the best
model is truly better than model m. The same holds for every metric of ``metrics=``
(:mod:`bayescore._comparison_table`); the ECE gets a paired bootstrap.

Any model's posterior can be compared: bayescore and scikit-learn estimators, arrays of
draws or probabilities, and ArviZ results (``xarray.DataTree``) from PyMC or Bambi.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bayescore._array import binning
from bayescore._array.scores import log_mean_exp, true_class
from bayescore._comparison_table import (
    ComparisonWarning,
    ModelScores,
    check_metrics,
    comparison_table,
)
from bayescore._datatree import LOG_LIK, is_tree, tree_forecast
from bayescore._inputs import prepare_draws, reduce_draws
from bayescore._names import (
    ATTR_KIND,
    CLASS,
    CONSTANT_DATA,
    LOG_LIKELIHOOD,
    MODEL,
    OBS,
    POSTERIOR,
    as_idata,
    has_group,
)
from bayescore._progress import resolve as resolve_progress
from bayescore._validation import N_BINS, Interval, validate_params
from bayescore.scoring import pointwise_scores, posterior_predictive_nll

__all__ = [
    "WAIC",
    "ComparisonWarning",
    "ParetoKWarning",
    "compare",
    "cross_validate",
    "loo",
    "loo_compare",
    "waic",
]

#: Bootstrap resamples of the ECE's paired SE.
N_BOOT = Interval(numbers.Integral, 2, None, "left")


class ParetoKWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above 0.7)."""


def _predictions(model: Any, X: Any) -> tuple[Any, Any]:
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
        :class:`ComparisonWarning`; see :mod:`bayescore._comparison_table`).
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
    for name, model in models.items():
        preds, classes = _predictions(model, X)
        tree = is_tree(preds)
        trees += tree
        # One validated pass over each model's draws gives every column of the table.
        pw = pointwise_scores(
            y,
            preds,
            labels=labels if labels is not None else classes,
            var_name=_var_name(var_name, name) if tree else None,
            group=group if tree else None,
        )
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


def _fold_nll(estimator: Any, X: Any, y: Any, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.base import clone

    def rows(data, idx):
        return data.iloc[idx] if hasattr(data, "iloc") else np.asarray(data)[idx]

    fitted = clone(estimator).fit(rows(X, train), rows(y, train))
    preds, classes = _predictions(fitted, rows(X, test))
    return np.asarray(
        posterior_predictive_nll(rows(y, test), preds, labels=classes, pointwise=True), dtype=float
    )


def cross_validate(
    estimators: dict[str, Any],
    X: Any,
    y: Any,
    cv: int | Any = 5,
    *,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """K-fold held-out NLL per observation for every estimator, on identical folds.

    Every estimator sees the same stratified, seeded folds, so each observation gets one
    held-out NLL per estimator and the paired standard errors of :func:`compare` apply.

    Parameters
    ----------
    estimators : dict of name -> unfitted estimator
        bayescore or scikit-learn classifiers (cloned for each fold).
    X, y : training data
    cv : int or scikit-learn splitter, default 5
        ``int`` -> ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``.
    random_state : int, default 0
    n_jobs : int, optional
        Fit (estimator, fold) pairs in parallel with joblib; with an active
        ``dask.distributed`` client the work goes to the cluster.
    progress : bool or None, default None
        Show a progress bar over the (estimator, fold) fits; None: in an interactive
        terminal or a notebook only.

    Returns
    -------
    Dataset
        The :func:`compare` table over ``model`` plus ``nll_pointwise`` (model, obs) and
        ``fold`` (obs).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.dummy import DummyClassifier
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> cv = cross_validate({"lr": LogisticRegression(max_iter=1000),
    ...                      "prior": DummyClassifier()}, ds.X, ds.y, cv=3)
    >>> cv["model"].values.tolist()
    ['lr', 'prior']
    """
    import joblib
    from sklearn.model_selection import StratifiedKFold

    if not isinstance(estimators, dict) or not estimators:
        raise TypeError("estimators must be a non-empty dict of name -> estimator.")
    splitter = (
        StratifiedKFold(cv, shuffle=True, random_state=random_state)
        if isinstance(cv, int | np.integer)
        else cv
    )
    y_arr = np.asarray(y)
    folds = list(splitter.split(np.zeros((y_arr.size, 1)), y_arr))
    tasks = [(name, k) for name in estimators for k in range(len(folds))]
    backend = "loky"
    try:  # an active dask.distributed client takes the work
        from distributed import get_client

        get_client()
        backend = "dask"
    except (ImportError, ValueError):
        pass
    with joblib.parallel_config(backend=backend, n_jobs=n_jobs):
        results = joblib.Parallel(return_as="generator")(
            joblib.delayed(_fold_nll)(estimators[name], X, y, *folds[k]) for name, k in tasks
        )
        results = list(_progress(results, len(tasks), resolve_progress(progress)))
    pointwise = {name: np.empty(y_arr.size) for name in estimators}
    fold_of = np.empty(y_arr.size, dtype=np.int64)
    for (name, k), values in zip(tasks, results, strict=True):
        test = folds[k][1]
        pointwise[name][test] = values
        fold_of[test] = k
    table = comparison_table({name: ModelScores({"nll": v}) for name, v in pointwise.items()})
    table["nll_pointwise"] = ((MODEL, OBS), np.stack([pointwise[m] for m in table[MODEL].values]))
    table["fold"] = ((OBS,), fold_of)
    table.attrs["n_folds"] = len(folds)
    return table


def _progress(results, total: int, show: bool):
    if not show:
        yield from results
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("cross-validating", total=total)
        for item in results:
            bar.advance(task)
            yield item


def _is_bayescore_fit(idata: Any) -> bool:
    return (
        has_group(idata, POSTERIOR)
        and has_group(idata, CONSTANT_DATA)
        and ATTR_KIND in idata[POSTERIOR].attrs
    )


def _external_log_likelihood(
    idata: xr.DataTree, var_name: str | None, y: Any, labels: Any
) -> xr.DataArray:
    """Pointwise log-likelihood ``(chain, draw, obs)`` of a PyMC/Bambi DataTree."""
    group = None
    if var_name is not None and not (
        has_group(idata, LOG_LIKELIHOOD) and var_name in idata[LOG_LIKELIHOOD].data_vars
    ):
        group = POSTERIOR  # LOO is about the fitted rows, never the predictions group
    forecast = tree_forecast(idata, var_name, group=group)
    if forecast.kind == LOG_LIK:
        if y is not None:
            raise ValueError(
                f"y= is not used with {forecast.source}: a log-likelihood already holds the "
                "observed labels. Drop y=, or pass var_name= naming a probability variable."
            )
        return forecast.draws
    if y is None:
        instead = (
            "or drop var_name= to use its log_likelihood group"
            if has_group(idata, LOG_LIKELIHOOD)
            else "this DataTree has no log_likelihood group to use instead"
        )
        raise ValueError(
            f"loo needs the training labels y= to score the probabilities in "
            f"{forecast.source} ({instead})."
        )
    probs = forecast.draws
    d = prepare_draws(y, probs, labels=labels, name=forecast.source)
    reduce_draws(d, frozenset(), name=forecast.source)  # checks every row is a probability
    assert d.y_idx is not None
    with np.errstate(divide="ignore"):
        ll = np.log(true_class(np.asarray(d.values, dtype=np.float64), d.y_idx))
    dims = [dim for dim in probs.dims if dim != CLASS]
    shape = [probs.sizes[dim] for dim in dims]
    return xr.DataArray(ll.reshape(shape), dims=dims, coords=probs.drop_vars(CLASS).coords)


def _with_log_likelihood(
    obj: Any, var_name: str | None = None, y: Any = None, labels: Any = None
) -> xr.DataTree:
    """A DataTree with a ``log_likelihood`` group: bayescore's own, or the model's."""
    idata = as_idata(obj)
    if _is_bayescore_fit(idata) and var_name is None and y is None:
        from bayescore.predictive import log_likelihood_draws

        ll = log_likelihood_draws(idata).drop_vars(OBS)
    elif is_tree(idata):
        ll = _external_log_likelihood(idata, var_name, y, labels)
    else:
        raise TypeError(
            "loo needs a fitted bayescore estimator or an ArviZ DataTree (PyMC, Bambi); got "
            f"{type(obj).__name__}."
        )
    groups = {LOG_LIKELIHOOD: xr.Dataset({"y": ll})}
    if has_group(idata, POSTERIOR):
        # A new tree sharing the posterior: no deep copy of the fit's groups.
        groups[POSTERIOR] = idata[POSTERIOR].to_dataset()
    return xr.DataTree.from_dict(groups)


def _surface_pareto(elpd: Any) -> Any:
    k = np.asarray(getattr(elpd, "pareto_k", []))
    good_k = float(getattr(elpd, "good_k", 0.7))
    bad = int(np.sum(k > good_k))
    if bad:
        warnings.warn(
            f"PSIS-LOO is unreliable for {bad} of {k.size} observations (Pareto k > "
            f"{good_k:.2f}): those points are highly influential. Trust K-fold "
            "cross_validate instead, or refit without them to check.",
            ParetoKWarning,
            stacklevel=3,
        )
    return elpd


def loo(
    estimator_or_idata: Any,
    *,
    var_name: str | None = None,
    y: Any = None,
    labels: Any = None,
    pointwise: bool = True,
) -> Any:
    r"""PSIS-LOO from bayescore's own pointwise log-likelihood, or any PyMC/Bambi result.

    A bayescore fit needs no PyMC round trip: the log-likelihood is computed here. Any other
    ArviZ DataTree gives its ``log_likelihood`` group (PyMC's
    ``idata_kwargs={"log_likelihood": True}`` or ``pm.compute_log_likelihood``), or the
    class probabilities ``var_name`` of its ``posterior`` group scored at the training
    labels ``y`` (:math:`\log p_{sn}(y_n)`, labels matched by value).

    Parameters
    ----------
    estimator_or_idata : fitted bayescore estimator or DataTree
    var_name : str, optional
        A variable of the ``log_likelihood`` group, or of class probabilities in
        ``posterior`` (e.g. Bambi's ``"p"``); default the single ``log_likelihood``
        variable.
    y : array-like of shape (n_obs,), optional
        Training labels, needed with a probability variable.
    labels : array-like, optional
        Class order of the probabilities, when their class dim has no labels.
    pointwise : bool, default True
        Keep the per-observation elpd and Pareto k.

    Returns
    -------
    arviz_stats.ELPDData
        ``elpd`` (expected log pointwise predictive density, higher is better), ``se``,
        ``p`` (effective number of parameters), ``elpd_i`` and ``pareto_k`` per observation,
        ``good_k`` (the sample-size dependent Pareto k threshold). Observations above
        ``good_k`` raise a :class:`ParetoKWarning` in plain words.
    """
    import arviz_stats

    idata = _with_log_likelihood(estimator_or_idata, var_name, y, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's k warning, re-said below
        result = arviz_stats.loo(idata, pointwise=pointwise)
    return _surface_pareto(result)


@dataclass(frozen=True)
class WAIC:
    """Widely applicable information criterion on the log score (higher ``elpd`` is better).

    Attributes
    ----------
    elpd, se : float
        ``lppd - p`` and the SE of its pointwise terms (``sd * sqrt(N)``, as ArviZ).
    p : float
        Effective number of parameters: the summed posterior variance of the log-likelihood.
    elpd_i : DataArray over ``obs``
    warning : bool
        True when some pointwise variance exceeds 0.4 (Vehtari, Gelman & Gabry 2017).
    """

    elpd: float
    se: float
    p: float
    elpd_i: xr.DataArray
    warning: bool


def waic(estimator_or_idata: Any) -> WAIC:
    r"""WAIC from bayescore's own pointwise log-likelihood (see :func:`loo`).

    .. math:: \mathrm{elpd}_\mathrm{WAIC} = \sum_n \Big[\log \frac1S \sum_s
              p(y_n \mid \theta_s) - \mathrm{Var}_s \log p(y_n \mid \theta_s)\Big]

    ArviZ 1.x dropped WAIC in favour of PSIS-LOO, which is more reliable; it is kept here
    for comparison with published results.
    """
    from bayescore.predictive import log_likelihood_draws

    ll = log_likelihood_draws(as_idata(estimator_or_idata))
    values = ll.values.reshape(-1, ll.sizes[OBS])
    lppd_i = log_mean_exp(values, axis=0)
    var_i = values.var(axis=0, ddof=1)
    elpd_i = lppd_i - var_i
    return WAIC(
        elpd=float(elpd_i.sum()),
        se=float(elpd_i.std(ddof=0) * np.sqrt(elpd_i.size)),
        p=float(var_i.sum()),
        elpd_i=xr.DataArray(elpd_i, dims=(OBS,), coords={OBS: ll[OBS].values}, name="elpd_i"),
        warning=bool((var_i > 0.4).any()),
    )


def loo_compare(models: dict[str, Any]) -> Any:
    """Compare fitted models by PSIS-LOO with arviz-stats' ``compare``.

    The models must be fitted to the same training rows. Returns arviz-stats' DataFrame
    (rank, elpd, p, elpd difference with its paired SE ``dse``, ``p_worse``, weight,
    warnings).
    """
    import arviz_stats

    data = {name: _with_log_likelihood(m) for name, m in models.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's own k warning, re-said below
        table = arviz_stats.compare(data)
    flagged = [str(n) for n in table.index[table["diag_elpd"].astype(str).str.len() > 0]]
    if flagged:
        warnings.warn(
            f"LOO is unreliable for model(s) {flagged} (high Pareto k): prefer K-fold "
            "cross_validate for these.",
            ParetoKWarning,
            stacklevel=2,
        )
    return table
