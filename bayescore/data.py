"""Feature and label handling: validation, label encoding, standardisation, feature names.

Accepts numpy arrays, pandas DataFrames (column names kept) and xarray DataArrays with dims
``(obs, feature)``. Labels may be any hashable type; classes are sorted like scikit-learn's
``np.unique``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bayescore._memory import WORK_ELEMENTS, rows_per_block
from bayescore._names import FEATURE, OBS
from bayescore._validation import as_float_array, check_finite

__all__ = ["Standardization", "encode_classes", "feature_names_of", "validate_X"]


def feature_names_of(X: Any) -> np.ndarray | None:
    """Return the column names of a DataFrame or the ``feature`` coord of a DataArray.

    Examples
    --------
    >>> import pandas as pd
    >>> feature_names_of(pd.DataFrame({"a": [1.0], "b": [2.0]})).tolist()
    ['a', 'b']
    """
    columns = getattr(X, "columns", None)
    if columns is not None:
        names = np.asarray([str(c) for c in columns], dtype=object)
        return names
    dims = getattr(X, "dims", None)
    if dims is not None and FEATURE in dims and FEATURE in getattr(X, "coords", {}):
        return np.asarray([str(c) for c in X.coords[FEATURE].values], dtype=object)
    return None


def validate_X(X: Any, name: str = "X") -> np.ndarray:
    """Validate a feature matrix and return it as a float64 array of shape (n_obs, n_features).

    Parameters
    ----------
    X : array-like of shape (n_obs, n_features), DataFrame or DataArray (obs, feature)
    name : str
        Argument name used in error messages.

    Returns
    -------
    ndarray of float64, shape (n_obs, n_features)

    Raises
    ------
    ValueError
        Not 2-D, empty, non-numeric, or containing NaN/inf (the message names the row).

    Examples
    --------
    >>> validate_X([[1, 2], [3, 4]]).dtype
    dtype('float64')
    """
    if hasattr(X, "dims") and hasattr(X, "transpose") and OBS in X.dims and FEATURE in X.dims:
        X = X.transpose(OBS, FEATURE)
    arr = np.asarray(X.values if hasattr(X, "values") and not isinstance(X, np.ndarray) else X)
    if arr.ndim != 2:
        raise ValueError(
            f"Expected 2D array for {name}, got {arr.ndim}D array of shape {arr.shape} instead. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
        )
    arr = as_float_array(arr, name, ndim=(2,))
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has 0 features (shape {arr.shape}); at least one is required.")
    return check_finite(arr, name)


def encode_classes(y: Any, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Encode labels of any hashable type to indices; return ``(y_idx, classes)``.

    Classes are sorted (``np.unique``), as in scikit-learn, and at least two are required.

    Examples
    --------
    >>> y_idx, classes = encode_classes(["b", "a", "b"])
    >>> y_idx.tolist(), classes.tolist()
    ([1, 0, 1], ['a', 'b'])
    """
    arr = np.asarray(y.values if hasattr(y, "values") and not isinstance(y, np.ndarray) else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row); got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; at least two observations are needed.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"Input {name} contains NaN or inf at row {i} (value {arr[i]!r}).")
    if arr.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in arr):
            i = next(i for i, v in enumerate(arr) if v is None or v != v)
            raise ValueError(f"Input {name} contains a missing label at row {i} ({arr[i]!r}).")
        kinds = {type(v) for v in arr}
        if len(kinds) > 1:
            raise TypeError(
                f"{name} mixes label types {sorted(k.__name__ for k in kinds)}; use one type."
            )
    try:
        classes, y_idx = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"{name} labels cannot be sorted: {exc}") from exc
    if classes.size < 2:
        raise ValueError(
            f"{name} must contain at least 2 classes; got 1 class ({classes.tolist()[0]!r}). "
            "A classifier needs samples of at least 2 classes in the data."
        )
    return y_idx.astype(np.int64).reshape(-1), classes


@dataclass(frozen=True)
class Standardization:
    """Training mean and population sd (ddof=0) of each feature.

    Constant columns (all values equal) keep scale 1 so they stay unscaled. Exact
    for features of any finite size, from 1e-300 to 1e300.

    Examples
    --------
    >>> s = Standardization.fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.mean.tolist(), s.scale.tolist()
    ([1.0, 5.0], [1.0, 1.0])
    >>> s.transform(np.array([[2.0, 5.0]])).tolist()
    [[1.0, 0.0]]
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardization:
        """Compute the statistics from a validated training matrix."""
        # Scale each column by its largest magnitude first, so that features of size 1e300
        # do not overflow the sum of squares and features of size 1e-300 do not underflow
        # it: mean and sd are then exact for any finite scale. Two passes over row blocks
        # keep the temporaries small (no full-size copy of X at N = 10^6).
        high, low = X.max(axis=0), X.min(axis=0)
        size = np.maximum(np.abs(high), np.abs(low))
        size = np.where(size > 0, size, 1.0)
        n, rows = X.shape[0], rows_per_block(X.shape[1], WORK_ELEMENTS)
        total = np.zeros(X.shape[1])
        for start in range(0, n, rows):
            total += (X[start : start + rows] / size).sum(axis=0)
        unit_mean = total / n
        squares = np.zeros(X.shape[1])
        for start in range(0, n, rows):
            squares += ((X[start : start + rows] / size - unit_mean) ** 2).sum(axis=0)
        mean = unit_mean * size
        sd = np.sqrt(squares / n) * size
        # A column is constant only when all its values are equal, however small they are.
        constant = high == low
        return cls(mean=mean, scale=np.where(constant | ~(sd > 0), 1.0, sd))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return ``(X - mean) / scale``."""
        return (X - self.mean) / self.scale
