"""What a Dask worker computes on one partition of the rows (numpy only).

The fit of a Dask array (:mod:`bayescore.inference.cluster`) sends these functions to the
workers with each partition of X and y: the statistics of the standardisation, the check
for non-finite values and unknown labels, and the block sums of the likelihood
(:mod:`bayescore._likelihood`). They import numpy only, so a worker holds little beyond
its data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from bayescore._likelihood import Labels, design

__all__ = ["check_and_extremes", "encode", "on_partition", "scaled_squares", "scaled_sums"]

Floats = NDArray[np.float64]


def check_and_extremes(X: Floats) -> tuple[Floats, Floats, int, int]:
    """Column maxima and minima, and the first non-finite entry as (row, column), or -1s.

    Examples
    --------
    >>> check_and_extremes(np.array([[1.0, 2.0], [np.nan, 0.0]]))[2:]
    (1, 0)
    """
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.unravel_index(int(np.flatnonzero(bad)[0]), X.shape)
        return np.full(X.shape[1], np.nan), np.full(X.shape[1], np.nan), int(row), int(col)
    return X.max(axis=0), X.min(axis=0), -1, -1


def scaled_sums(X: Floats, size: Floats) -> Floats:
    """Column sums of ``X / size`` (the first pass of the standardisation)."""
    return np.asarray((X / size).sum(axis=0))


def scaled_squares(X: Floats, size: Floats, unit_mean: Floats) -> Floats:
    """Column sums of ``(X / size - unit_mean)^2`` (its second pass)."""
    return np.asarray(((X / size - unit_mean) ** 2).sum(axis=0))


def encode(y: NDArray[np.generic], classes: NDArray[np.generic]) -> tuple[NDArray[np.int64], int]:
    """Class indices of labels ``y`` by value, and the first row whose label is unknown (-1).

    An unknown label's index is meaningless: the caller refuses the data when the row is
    not -1.

    Examples
    --------
    >>> encode(np.array(["b", "a", "c"]), np.array(["a", "b"]))[1]
    2
    >>> encode(np.array(["b", "a", "b"]), np.array(["a", "b"]))
    (array([1, 0, 1]), -1)
    """
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, classes.size - 1)
    unknown = np.flatnonzero(classes[idx] != y)
    return idx.astype(np.int64), int(unknown[0]) if unknown.size else -1


def on_partition[T](
    fn: Callable[..., T],
    X: Floats,
    y: NDArray[np.int64],
    mean: Floats,
    scale: Floats,
    *args: object,
) -> T:
    """``fn(Z^T, labels, *args)`` of one partition: its design built here, on the worker."""
    return fn(design(np.asarray(X, dtype=np.float64), mean, scale), Labels.of(y), *args)
