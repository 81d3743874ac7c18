"""K-fold cross-validation: every estimator on the same folds, held-out NLL per row.

The folds are checked before any model is fitted (:func:`split_folds`): every row must be
tested exactly once, as KFold, StratifiedKFold or GroupKFold do, so each row has one
held-out score per model and the paired standard errors of :func:`bayescore.compare`
apply. Splitters that test a row twice (ShuffleSplit) or train on the rows they test raise
``ValueError`` naming the rows, in the numbering of the given ``X`` and ``y``.
Forward-chaining splitters (TimeSeriesSplit) test disjoint folds that leave the first rows
untested: they are scored on the rows they do test, and the result says so (``fold`` is
-1 and the NLL NaN for untested rows; attributes ``n_tested`` and ``all_rows_tested``).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._inputs import align_y
from bayescore._names import MODEL, OBS
from bayescore._progress import resolve as resolve_progress
from bayescore._validation import Interval, validate_params
from bayescore.comparison._compare import SEED, model_names, predictions_of
from bayescore.comparison._parallel import run_tasks
from bayescore.comparison._table import ModelScores, comparison_table
from bayescore.data import encode_classes
from bayescore.scoring import posterior_predictive_nll

__all__ = ["Folds", "check_cv", "cross_validate", "split_folds"]

Indices = NDArray[np.int64]

#: An int ``cv`` is the number of stratified folds.
N_FOLDS = Interval(numbers.Integral, 2, None, "left")


class Folds(NamedTuple):
    """Checked train/test splits of ``n`` rows.

    Attributes
    ----------
    splits : list of (train, test) int64 arrays
        Row numbers of the given data.
    fold : ndarray of int64 (n,)
        The test fold of each row; -1 for rows no fold tests (forward-chaining splitters).
    """

    splits: list[tuple[Indices, Indices]]
    fold: Indices

    @property
    def tested(self) -> NDArray[np.bool_]:
        """Rows some fold tests."""
        return self.fold >= 0

    @property
    def all_rows_tested(self) -> bool:
        """Whether the test folds partition the rows (every row tested once)."""
        return bool(self.tested.all())


def check_cv(cv: Any, func: str = "cross_validate", random_state: int | None = 0) -> Any:
    """The splitter ``cv`` names: an int gives seeded, shuffled ``StratifiedKFold`` folds.

    Also accepted: a scikit-learn splitter (anything with ``split``) or an iterable of
    ``(train, test)`` index arrays, as scikit-learn's ``cv=``.

    Examples
    --------
    >>> check_cv(3).get_n_splits()
    3
    >>> check_cv("5")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: The 'cv' parameter of cross_validate must be an int >= 2, a scikit-learn ...
    """
    from sklearn.model_selection import StratifiedKFold

    message = (
        f"The 'cv' parameter of {func} must be an int >= 2, a scikit-learn splitter (with a "
        f"split method) or a list of (train, test) index arrays. Got {cv!r} instead."
    )
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        n = N_FOLDS.check("cv", cv, func)
        return StratifiedKFold(n, shuffle=True, random_state=random_state)
    if isinstance(cv, str | bytes):  # str has a split method too
        raise TypeError(message)
    if hasattr(cv, "split"):
        return cv
    if isinstance(cv, Iterable):
        splits = list(cv)
        if all(isinstance(s, tuple | list) and len(s) == 2 for s in splits):
            return splits
    raise TypeError(message)


def _indices(rows: Any, n: int, fold: int, part: str, func: str) -> Indices:
    """One fold's row numbers, checked to lie in ``[0, n)`` (boolean masks accepted)."""
    arr = np.asarray(rows)
    if arr.dtype == bool and arr.shape == (n,):
        return np.flatnonzero(arr).astype(np.int64)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(
            f"The {part} rows of fold {fold} of {func}'s cv are not row numbers: got "
            f"{arr.dtype} values of shape {arr.shape}."
        )
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise ValueError(
            f"Fold {fold} of {func}'s cv lists {part} row {int(bad[0])}, but the data has "
            f"{n} rows (0 to {n - 1})."
        )
    return arr.astype(np.int64)


def _shown(rows: Indices, limit: int = 10) -> str:
    text = ", ".join(str(int(r)) for r in rows[:limit])
    return f"[{text}{', ...' if rows.size > limit else ''}]"


def split_folds(splitter: Any, X: Any, y: NDArray[Any], *, func: str = "cross_validate") -> Folds:
    """Split the rows and check the folds (see the module docstring).

    Parameters
    ----------
    splitter : splitter or list of (train, test)
        From :func:`check_cv`.
    X : array-like
        The features (unused: splitters see the number of rows and ``y``).
    y : ndarray of shape (n_obs,)
        Labels: stratified splitters use them, and every test label must occur in its
        fold's training rows (else the fold's model has no column for it).
    func : str
        The public function, for messages.

    Returns
    -------
    Folds

    Examples
    --------
    >>> from sklearn.model_selection import ShuffleSplit, TimeSeriesSplit
    >>> y = np.array([0, 1] * 4)
    >>> split_folds(TimeSeriesSplit(3), np.zeros((8, 1)), y).fold.tolist()
    [-1, -1, 0, 0, 1, 1, 2, 2]
    >>> resampled = ShuffleSplit(3, test_size=0.5, random_state=0)
    >>> split_folds(resampled, np.zeros((8, 1)), y)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The test folds of cross_validate's cv must test every row once; rows [...
    """
    encode_classes(y)  # missing (None, NaN) or mixed-type labels, named by row
    n = int(y.shape[0])
    # Splitters see placeholder features: they split on the number of rows and on y.
    splits_given = splitter if isinstance(splitter, list) else splitter.split(np.zeros((n, 1)), y)
    splits: list[tuple[Indices, Indices]] = []
    fold = np.full(n, -1, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for k, (train, test) in enumerate(splits_given):
        train_idx = _indices(train, n, k, "training", func)
        test_idx = _indices(test, n, k, "test", func)
        both = np.intersect1d(train_idx, test_idx)
        if both.size:
            raise ValueError(
                f"Fold {k} of {func}'s cv trains on rows it tests ({_shown(both)}): its "
                "held-out scores would not be held out. Use a splitter whose training and "
                "test rows are disjoint."
            )
        np.add.at(count, test_idx, 1)
        fold[test_idx] = k
        splits.append((train_idx, test_idx))
    if not splits:
        raise ValueError(f"{func}'s cv gave no folds.")
    twice = np.flatnonzero(count > 1)
    if twice.size:
        raise ValueError(
            f"The test folds of {func}'s cv must test every row once; rows {_shown(twice)} "
            f"are tested more than once (row {int(twice[0])} by folds "
            f"{[k for k, (_, te) in enumerate(splits) if twice[0] in te]}), so their scores "
            "would overwrite each other. Use KFold, StratifiedKFold or GroupKFold "
            "(ShuffleSplit-like splitters resample rows)."
        )
    _check_fold_labels(splits, y, func)
    return Folds(splits, fold)


def _check_fold_labels(splits: list[tuple[Indices, Indices]], y: NDArray[Any], func: str) -> None:
    """Every label a fold tests must occur in its training rows (named by row number)."""
    labels = y.tolist()
    for k, (train, test) in enumerate(splits):
        seen = {labels[i] for i in train.tolist()}
        unseen = [i for i in test.tolist() if labels[i] not in seen]
        if unseen:
            rows = np.asarray(unseen, dtype=np.int64)
            raise ValueError(
                f"Fold {k} of {func}'s cv tests rows {_shown(rows)} with label "
                f"{labels[unseen[0]]!r}, which its training rows never show, so its model "
                "cannot predict that class. Use fewer folds or a stratified splitter, or "
                "drop classes this rare."
            )


def _rows(data: Any, idx: Indices) -> Any:
    return data.iloc[idx] if hasattr(data, "iloc") else np.asarray(data)[idx]


def _fold_nll(estimator: Any, X: Any, y: Any, train: Indices, test: Indices) -> np.ndarray:
    from sklearn.base import clone

    fitted = clone(estimator).fit(_rows(X, train), _rows(y, train))
    preds, _ = predictions_of(fitted, _rows(X, test))
    # The predictions carry the fitted model's classes (and X's row labels) as coordinates.
    return np.asarray(posterior_predictive_nll(_rows(y, test), preds, pointwise=True), dtype=float)


@validate_params({"random_state": SEED})
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
        bayescore or scikit-learn classifiers (cloned for each fold). Names may be any
        hashable; the table labels models by ``str(name)``.
    X, y : training data
        When both carry row labels (a DataFrame's and a Series' index), ``y`` is matched
        to ``X``'s rows by label; rows on one side only raise ``ValueError``.
    cv : int, scikit-learn splitter or list of (train, test), default 5
        ``int`` -> ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``. The
        test folds must test every row once (KFold-like), or be disjoint and leave rows
        untested (forward chaining, e.g. ``TimeSeriesSplit``: scored on the rows tested).
    random_state : int >= 0 or None, default 0
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
        The :func:`compare` table over ``model`` (on the rows tested) plus
        ``nll_pointwise`` (model, obs; NaN for rows no fold tests) and ``fold`` (obs; -1
        for rows no fold tests). Attributes ``n_folds``, ``n_tested`` and
        ``all_rows_tested`` (1 when the folds partition the rows, 0 for forward chaining).

    Raises
    ------
    ValueError
        Folds testing a row twice, training on rows they test, or testing a label their
        training rows lack (rows named by their number in ``X``, ``y``); ``X`` and ``y``
        naming different rows.
    TypeError
        ``cv`` neither an int, a splitter nor a list of splits.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.dummy import DummyClassifier
    >>> import bayescore as bs
    >>> ds = bs.load_dataset("iris")
    >>> cv = cross_validate({"lr": LogisticRegression(max_iter=1000),
    ...                      "prior": DummyClassifier()}, ds.X, ds.y, cv=3)
    >>> cv["model"].values.tolist(), cv.attrs["all_rows_tested"]
    (['lr', 'prior'], 1)
    """
    estimators = model_names(estimators, "cross_validate", what="estimators")
    splitter = check_cv(cv, "cross_validate", random_state)
    y, _ = align_y(y, X, "X")  # rows by label when X and y both name them
    y_arr = np.asarray(getattr(y, "values", y))
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    folds = split_folds(splitter, X, y_arr)
    tasks = [(name, k) for name in estimators for k in range(len(folds.splits))]
    show = resolve_progress(progress)
    results = run_tasks(
        _fold_nll,
        [(estimators[name], X, y, *folds.splits[k]) for name, k in tasks],
        n_jobs,
        progress=lambda items, total: _with_progress_bar(items, total, show),
    )
    # NaN, never uninitialised memory, for rows no fold tests.
    pointwise = {name: np.full(y_arr.size, np.nan) for name in estimators}
    for (name, k), values in zip(tasks, results, strict=True):
        pointwise[name][folds.splits[k][1]] = values
    tested = folds.tested
    table = comparison_table(
        {name: ModelScores({"nll": v[tested]}) for name, v in pointwise.items()}
    )
    table["nll_pointwise"] = ((MODEL, OBS), np.stack([pointwise[m] for m in table[MODEL].values]))
    table["fold"] = ((OBS,), folds.fold)
    table.attrs.update(
        n_folds=len(folds.splits),
        n_tested=int(tested.sum()),
        all_rows_tested=int(folds.all_rows_tested),
    )
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
