"""CSV tables in and out: the command line's data, columns chosen by name, outputs made safe.

Reading (:func:`read_table`, :func:`read_probabilities`) refuses what pandas would pass on
silently or report without a name: a file that is not a regular file, duplicate column
names (pandas renames the second ``a`` to ``a.1``), a header without rows, a label column
with missing labels, and, for fitting, text or missing values among the features. Every
message names the file, the column and the rows. Columns are chosen with ``features`` (keep
these) or ``drop`` (all but these); a model then takes its own columns from a wider table
by name (:meth:`bayescore.BayesianSoftmaxClassifier.predict_proba`).

Text columns are refused rather than one-hot encoded. Encoding is a modelling choice the
data reader should not make silently: the model standardises each feature and puts a
``Normal(0, prior_scale)`` prior on its coefficient, so a 0/1 dummy's prior would depend on
how common its category is; a reference category must be chosen (all dummies plus the
intercept are collinear); and categories unseen in training, or missing, need a policy at
prediction time. Encode such columns on purpose (e.g. scikit-learn's ``OneHotEncoder``)
and save the result as numbers.

Writing (:func:`write_csv`) is atomic (:func:`bayescore._atomic.atomic_write`) and, unless
``raw=True``, neutralises every text cell and column name that a spreadsheet would run as a
formula (:func:`bayescore._text.csv_cell`, OWASP's rule).
"""

from __future__ import annotations

import csv
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescore._atomic import atomic_write
from bayescore._text import csv_cell, csv_uncell
from bayescore._validation import text_columns

__all__ = [
    "ColumnError",
    "Table",
    "frame_table",
    "model_columns",
    "probability_table",
    "read_csv",
    "read_probabilities",
    "read_table",
    "select_columns",
    "shared_columns",
    "write_csv",
]

#: Rows listed in a message before "and N more".
_SHOWN = 5


class ColumnError(ValueError):
    """A column named by the caller (target, features, drop) does not fit the table."""


@dataclass(frozen=True)
class Table:
    """Features, labels (None without a target) and where they came from."""

    X: pd.DataFrame
    y: pd.Series | None
    source: str


def _rows(positions: Sequence[int]) -> str:
    shown = ", ".join(str(int(p)) for p in positions[:_SHOWN])
    more = f" and {len(positions) - _SHOWN} more" if len(positions) > _SHOWN else ""
    return f"row{'s' if len(positions) > 1 else ''} {shown}{more}"


def _names(values: Sequence[Any]) -> str:
    return "[" + ", ".join(repr(str(v)) for v in values) + "]"


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    r"""A CSV file as a DataFrame, with distinct column names and at least one row.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a regular file, not readable as CSV, a column name given twice, or no rows.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b,a\n1,2,3\n")
    >>> read_csv(path)
    Traceback (most recent call last):
    ...
    ValueError: t.csv names column 'a' twice; give every column its own name.
    """
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "No such file", os.fspath(path)) from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{os.fspath(path)} is not a regular file; give a CSV file.")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read {name} as CSV: {' '.join(str(exc).split())}") from None
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise ValueError(
                f"{name} names column {column!r} twice; give every column its own name."
            )
        seen.add(column)
    if len(frame) == 0:
        raise ValueError(f"{name} has a header but no rows.")
    return frame


def select_columns(
    frame: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    target: str | None = None,
    source: str = "the table",
) -> pd.DataFrame:
    """The feature columns of ``frame``: ``features`` (in that order), or all but ``drop``.

    ``target`` is never a feature. Every name must be a column.

    Raises
    ------
    ColumnError
        ``features`` and ``drop`` both given, a name that is not a column, the target among
        them, or no feature column left.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1], "b": [2], "y": ["x"]})
    >>> select_columns(frame, drop=["b"], target="y").columns.tolist()
    ['a']
    >>> select_columns(frame, features=["c"], target="y", source="t.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bayescore._tables.ColumnError: features=['c'] names no column of t.csv; its columns: ...
    """
    if features and drop:
        raise ColumnError(
            f"features={_names(features)} and drop={_names(drop)} cannot be combined; give "
            "the columns to keep or the ones to leave out."
        )
    columns = [str(c) for c in frame.columns]
    for option, names in (("features", features), ("drop", drop)):
        unknown = [n for n in names or () if n not in columns]
        if unknown:
            raise ColumnError(
                f"{option}={_names(unknown)} names no column of {source}; its columns: "
                f"{_names(columns)}."
            )
        if target is not None and target in (names or ()):
            raise ColumnError(
                f"{option}={_names([target])} names the label column target={target!r}; the "
                "label is never a feature."
            )
    if features:
        if len(set(features)) != len(features):
            twice = sorted({f for f in features if list(features).count(f) > 1})
            raise ColumnError(f"features={_names(twice)} is given twice.")
        keep = list(features)
    else:
        keep = [c for c in columns if c != target and c not in set(drop or ())]
    if not keep:
        raise ColumnError(
            f"no feature column is left in {source} (columns {_names(columns)}); a model needs "
            "at least one."
        )
    position = {c: i for i, c in enumerate(columns)}
    return frame.iloc[:, [position[c] for c in keep]]


def _check_fit_features(X: pd.DataFrame, source: str) -> None:
    """Features a model can be fitted on: numbers, none missing (named by column)."""
    found = text_columns(X)
    if found:
        text = [c for c, _ in found]
        examples = ", ".join(repr(v) for _, v in found)
        plural = len(text) > 1
        raise ValueError(
            f"column{'s' if plural else ''} {', '.join(repr(c) for c in text)} of "
            f"{source} hold{'' if plural else 's'} text (e.g. {examples}), not numbers; "
            f"bayescore models take numeric features. Leave {'them' if plural else 'it'} out "
            f"with drop={_names(text)}, or encode {'them' if plural else 'it'} as numbers "
            "first."
        )
    for column in X.columns:
        missing = np.flatnonzero(pd.to_numeric(X[column], errors="coerce").isna().to_numpy())
        if missing.size:
            raise ValueError(
                f"column {str(column)!r} of {source} has no value in {_rows(missing.tolist())} "
                f"(rows count from 0 below the header). Remove or fill those rows, or leave "
                f"the column out with drop={_names([column])}."
            )


def read_table(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    features: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    for_fit: bool = False,
) -> Table:
    """Features and labels from a CSV file, checked and named by column.

    Parameters
    ----------
    path : str or path-like
    target : str, optional
        The label column; every row needs a label.
    features, drop : sequence of str, optional
        The feature columns to keep, or to leave out (see :func:`select_columns`).
    for_fit : bool, default False
        Also require the features to be numbers with none missing (a model to fit needs
        them all). Otherwise each model checks the columns it takes.

    Returns
    -------
    Table

    Raises
    ------
    ColumnError
        ``target``, ``features`` or ``drop`` does not fit the file's columns.
    ValueError
        The file cannot be read, or (named by column and rows) labels are missing, or with
        ``for_fit`` a feature holds text or has missing values.
    """
    source = os.path.basename(os.fspath(path)) or os.fspath(path)
    frame = read_csv(path)
    return frame_table(
        frame, target=target, features=features, drop=drop, for_fit=for_fit, source=source
    )


def frame_table(
    frame: pd.DataFrame,
    *,
    target: str | pd.Series | None = None,
    features: Sequence[str] | None = None,
    drop: Sequence[str] | None = None,
    for_fit: bool = False,
    source: str = "the table",
) -> Table:
    """:func:`read_table` of a DataFrame; ``target`` may also be the labels themselves.

    Examples
    --------
    >>> t = frame_table(pd.DataFrame({"a": [1.0, 2.0], "y": ["p", "q"]}), target="y")
    >>> t.X.columns.tolist(), t.y.tolist()
    (['a'], ['p', 'q'])
    """
    columns = [str(c) for c in frame.columns]
    y = None
    name = None
    if isinstance(target, pd.Series):
        y = target
    elif target is not None:
        if target not in columns:
            raise ColumnError(
                f"target={target!r} is not a column of {source}; its columns: {_names(columns)}."
            )
        name = target
        y = frame.iloc[:, columns.index(target)]
    X = select_columns(frame, features=features, drop=drop, target=name, source=source)
    if y is not None:
        missing = np.flatnonzero(y.isna().to_numpy())
        if missing.size:
            raise ValueError(
                f"the label column {str(y.name)!r} of {source} has no label in "
                f"{_rows(missing.tolist())} (rows count from 0 below the header); every row "
                "needs one. Remove those rows or fill in their labels."
            )
    if for_fit:
        _check_fit_features(X, source)
    return Table(X=X, y=y, source=source)


def model_columns(
    X: pd.DataFrame, names: Sequence[str] | None, *, source: str, model: str
) -> pd.DataFrame:
    """The columns a model was fitted on, by name and in its order; ``X`` if it has no names.

    Raises
    ------
    ValueError
        ``X`` lacks some of them (named, with the model's full list).

    Examples
    --------
    >>> X = pd.DataFrame({"mass": [2.0], "bill": [1.0], "island": ["Dream"]})
    >>> model_columns(X, ["bill", "mass"], source="test.csv", model="b.nc").columns.tolist()
    ['bill', 'mass']
    >>> model_columns(X, ["bill", "flipper"], source="test.csv", model="b.nc")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: b.nc needs columns that test.csv lacks (or that were left out): ['flipper']; ...
    """
    if names is None:
        return X
    columns = [str(c) for c in X.columns]
    missing = [str(n) for n in names if str(n) not in columns]
    if missing:
        raise ValueError(
            f"{model} needs columns that {source} lacks (or that were left out): "
            f"{_names(missing)}; it was fitted on {_names(list(names))}."
        )
    position = {c: i for i, c in enumerate(columns)}
    return X.iloc[:, [position[str(n)] for n in names]]


def shared_columns(X: pd.DataFrame, feature_lists: Sequence[Sequence[str] | None]) -> pd.DataFrame:
    """One table for several models: a model fitted on all of ``X``'s columns gets its order.

    Each model takes its own columns from a wider table by name; one whose columns are
    exactly ``X``'s would be held to their order (scikit-learn's rule), so ``X`` is put in
    that order.

    Examples
    --------
    >>> X = pd.DataFrame({"b": [1.0], "a": [2.0]})
    >>> shared_columns(X, [["a"], ["a", "b"]]).columns.tolist()
    ['a', 'b']
    """
    for names in feature_lists:
        columns = [str(c) for c in X.columns]
        if names is not None and set(map(str, names)) == set(columns) and list(names) != columns:
            X = model_columns(X, names, source="", model="")
    return X


def probability_table(
    probs: np.ndarray, classes: Sequence[Any], *, prediction: str = "prediction"
) -> pd.DataFrame:
    """Predicted class (column ``prediction``) then one probability column per class label.

    Raises
    ------
    ColumnError
        A class label is also the name of the prediction column: the table would be
        ambiguous.

    Examples
    --------
    >>> probability_table(np.array([[0.2, 0.8]]), ["a", "b"]).to_dict("records")
    [{'prediction': 'b', 'a': 0.2, 'b': 0.8}]
    >>> probability_table(np.array([[0.2, 0.8]]), ["prediction", "other"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bayescore._tables.ColumnError: The model has a class labelled 'prediction', the name of ...
    """
    labels = [str(c) for c in classes]
    if prediction in labels:
        raise ColumnError(
            f"The model has a class labelled {prediction!r}, the name of the predicted-class "
            "column; give that column another name, e.g. prediction='predicted_class'."
        )
    frame = pd.DataFrame(np.asarray(probs, dtype=float), columns=labels)
    frame.insert(0, prediction, np.asarray(classes)[np.argmax(probs, axis=1)])
    return frame


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *, raw: bool = False) -> Path:
    """Write ``frame`` (no index) to ``path`` atomically; text made inert unless ``raw``.

    Every text cell and column name that a spreadsheet would run as a formula gets OWASP's
    leading ``'`` (:func:`bayescore._text.csv_cell`); ``raw=True`` writes them as they are.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "p.csv")
    >>> print(write_csv(pd.DataFrame({"=cmd": ["@SUM(A1)"], "p": [0.5]}), path).read_text())
    '=cmd,p
    '@SUM(A1),0.5
    <BLANKLINE>
    """
    if not raw:
        frame = frame.rename(columns=csv_cell)
        text = [c for c in frame.columns if frame[c].dtype.kind not in "biufc"]
        frame = frame.assign(**{str(c): frame[c].map(csv_cell) for c in text}) if text else frame
    return atomic_write(path, frame.to_csv(index=False, lineterminator="\n"))


def read_probabilities(
    path: str | os.PathLike[str], *, prediction: str = "prediction", labels: Sequence[Any] = ()
) -> pd.DataFrame:
    """Class probabilities from a CSV: one numeric column per class label.

    The predicted-class column ``prediction`` (as :func:`probability_table` writes) is left
    out, unless it is one of ``labels`` (then the file is ambiguous and refused). Column
    names neutralised for spreadsheets are read back as the labels they were.

    Raises
    ------
    ColumnError
        ``prediction`` is also a class label.
    ValueError
        The file cannot be read, or a column holds anything but numbers (named).
    """
    name = os.path.basename(os.fspath(path)) or os.fspath(path)
    frame = read_csv(path)
    frame = frame.rename(columns=lambda c: csv_uncell(str(c)))
    if prediction in {str(label) for label in labels}:
        raise ColumnError(
            f"{prediction!r} is a class label and the name of the predicted-class column to "
            f"leave out of {name}; give the name the file uses for that column, e.g. "
            "prediction='predicted_class'."
        )
    frame = frame.drop(columns=[prediction], errors="ignore")
    text = [str(c) for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise ValueError(
            f"{name} must hold one column of probabilities per class; column"
            f"{'s' if len(text) > 1 else ''} {_names(text)} "
            f"{'are' if len(text) > 1 else 'is'} not numeric."
        )
    return frame
