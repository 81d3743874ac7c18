r"""Which model predicts better, and how sure are we? Held-out NLL with paired SEs, CV, LOO.

Models are ranked by held-out posterior predictive NLL. Because every model is scored on
the same observations, the uncertainty of a *difference* is the standard error of the paired
per-observation differences,

.. math:: \mathrm{SE}(\Delta) = \mathrm{sd}_n\big(\mathrm{NLL}_{mn} - \mathrm{NLL}_{bn}\big)
          / \sqrt{N},

which is usually far smaller than either model's own SE. ``prob_better`` is the normal
approximation :math:`\Phi(\Delta / \mathrm{SE}(\Delta))` of the probability that the best
model is truly better than model m.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy.stats import norm

from bayescore._array import binning
from bayescore._array.scores import log_mean_exp
from bayescore._names import CLASS, LOG_LIKELIHOOD, MODEL, OBS, POSTERIOR, as_idata
from bayescore.scoring import Estimate, pointwise_scores, posterior_predictive_nll

__all__ = ["WAIC", "ParetoKWarning", "compare", "cross_validate", "loo", "loo_compare", "waic"]


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


def _table(
    pointwise: dict[str, np.ndarray], extra: dict[str, dict[str, float]], units: str
) -> xr.Dataset:
    names = list(pointwise)
    nll = np.array([pointwise[n].mean() for n in names])
    order = np.argsort(nll, kind="stable")
    names = [names[i] for i in order]
    best = pointwise[names[0]]
    rows: dict[str, list[float]] = {
        k: [] for k in ("nll", "se", "d_nll", "d_se", "z", "prob_better")
    }
    for name in names:
        est = Estimate.of(pointwise[name])
        diff = Estimate.of(pointwise[name] - best)
        rows["nll"].append(est.mean)
        rows["se"].append(est.se)
        rows["d_nll"].append(diff.mean)
        rows["d_se"].append(diff.se)
        z = diff.mean / diff.se if diff.se > 0 else np.nan
        rows["z"].append(z)
        rows["prob_better"].append(float(norm.cdf(z)) if np.isfinite(z) else np.nan)
    data = {k: ((MODEL,), np.asarray(v)) for k, v in rows.items()}
    for key in next(iter(extra.values()), {}):
        data[key] = ((MODEL,), np.asarray([extra[n][key] for n in names]))
    return xr.Dataset(
        data,
        coords={MODEL: names},
        attrs={"units": units, "n_obs": int(best.size), "sorted_by": "nll"},
    )


def compare(
    models: dict[str, Any],
    y: Any,
    X: Any = None,
    *,
    labels: Any = None,
    n_bins: int = 15,
) -> xr.Dataset:
    """Rank models by held-out posterior predictive NLL with paired standard errors.

    Parameters
    ----------
    models : dict of name -> estimator, draws or probabilities
        Fitted bayescore or scikit-learn classifiers (predicted on ``X``), posterior draws
        (DataArray ``(chain, draw, obs, class)`` or ndarray ``(S, N, K)``) or probabilities
        ``(N, K)``, all for the same held-out rows.
    y : array-like of shape (n_obs,)
        Held-out labels.
    X : array-like, optional
        Held-out features, needed for estimators.
    labels : array-like, optional
        Class order of array inputs whose ``y`` holds labels.
    n_bins : int, default 15
        Bins of the ECE column.

    Returns
    -------
    Dataset over dim ``model``, sorted by ``nll`` (best first)
        ``nll`` and ``se``; ``d_nll`` (difference to the best, >= 0) and ``d_se`` (SE of the
        paired per-observation differences); ``z = d_nll / d_se``; ``prob_better``
        (normal-approximation probability that the best model is truly better); ``brier``,
        ``ece`` and ``accuracy`` of the draw-averaged probabilities. ``.to_pandas()`` gives a
        table.

    Examples
    --------
    >>> y = [0, 1, 1, 0]
    >>> table = compare({"sharp": [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2]],
    ...                  "flat": [[0.5, 0.5]] * 4}, y)
    >>> table["model"].values.tolist(), round(float(table["d_nll"][1]), 4)
    (['sharp', 'flat'], 0.4661)
    """
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a non-empty dict of name -> model or predictions.")
    pointwise: dict[str, np.ndarray] = {}
    extra: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        preds, classes = _predictions(model, X)
        # One validated pass over each model's draws gives every column of the table.
        pw = pointwise_scores(y, preds, labels=labels if labels is not None else classes)
        pointwise[name] = pw.values["nll"]
        extra[name] = {
            "brier": float(pw.values["brier"].mean()),
            "ece": binning.ece_mce(*binning.top_label(pw.mean_probs, pw.y_idx), n_bins).ece,
            "accuracy": float(pw.values["accuracy"].mean()),
        }
    sizes = {n: v.size for n, v in pointwise.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"All models must predict the same observations; got sizes {sizes}.")
    return _table(pointwise, extra, "nats")


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
    progress: bool = False,
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
    progress : bool, default False
        Show a rich progress bar.

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
        results = list(_progress(results, len(tasks), progress))
    pointwise = {name: np.empty(y_arr.size) for name in estimators}
    fold_of = np.empty(y_arr.size, dtype=np.int64)
    for (name, k), values in zip(tasks, results, strict=True):
        test = folds[k][1]
        pointwise[name][test] = values
        fold_of[test] = k
    extra: dict[str, dict[str, float]] = {name: {} for name in estimators}
    table = _table(pointwise, extra, "nats")
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


def _with_log_likelihood(obj: Any) -> xr.DataTree:
    """A DataTree with a ``log_likelihood`` group computed by bayescore's own code."""
    from bayescore.predictive import log_likelihood_draws

    idata = as_idata(obj)
    ll = log_likelihood_draws(idata)
    # A new tree sharing the posterior: no deep copy of the fit's groups.
    return xr.DataTree.from_dict(
        {
            POSTERIOR: idata[POSTERIOR].to_dataset(),
            LOG_LIKELIHOOD: xr.Dataset({"y": ll.drop_vars(OBS)}),
        }
    )


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


def loo(estimator_or_idata: Any, *, pointwise: bool = True) -> Any:
    """PSIS-LOO from bayescore's own pointwise log-likelihood (no PyMC round trip).

    Parameters
    ----------
    estimator_or_idata : fitted bayescore estimator or DataTree from bayescore.fit
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

    idata = _with_log_likelihood(estimator_or_idata)
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
