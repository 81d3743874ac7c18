"""K-fold cross-validation: every estimator on the same folds, held-out NLL per row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import xarray as xr

from bayescore._names import MODEL, OBS
from bayescore._progress import resolve as resolve_progress
from bayescore.comparison._compare import predictions_of
from bayescore.comparison._parallel import run_tasks
from bayescore.comparison._table import ModelScores, comparison_table
from bayescore.scoring import posterior_predictive_nll

__all__ = ["cross_validate"]


def _fold_nll(estimator: Any, X: Any, y: Any, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.base import clone

    def rows(data, idx):
        return data.iloc[idx] if hasattr(data, "iloc") else np.asarray(data)[idx]

    fitted = clone(estimator).fit(rows(X, train), rows(y, train))
    preds, classes = predictions_of(fitted, rows(X, test))
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
        Fit (estimator, fold) pairs in parallel with joblib (``-1``: every core); with an
        active ``dask.distributed`` client the work goes to its cluster (joblib's Dask
        backend). The same folds and seeds in every task: the table equals the serial one.
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
    show = resolve_progress(progress)
    results = run_tasks(
        _fold_nll,
        [(estimators[name], X, y, *folds[k]) for name, k in tasks],
        n_jobs,
        progress=lambda items, total: _with_progress_bar(items, total, show),
    )
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


def _with_progress_bar(results: Iterable[Any], total: int, show: bool) -> Iterator[Any]:
    if not show:
        yield from results
        return
    from rich.progress import Progress

    with Progress() as bar:
        task = bar.add_task("cross-validating", total=total)
        for item in results:
            bar.advance(task)
            yield item
