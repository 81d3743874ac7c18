r"""Fits on a Dask array: the posterior's sums over rows computed on the workers.

The closed-form posterior of logistic and softmax regression needs only sums over rows:
the log density and its gradient at each L-BFGS step, the Hessian :math:`Z^\top W Z` at the
mode, the log-likelihood of many draws for the ELBO and the verdict, and the
standardisation's moments. :class:`PartitionedRows` computes each as a map-reduce over the
partitions of X (and y): every partition's share is computed where the partition lives
(:mod:`bayescore._partitions`, numpy only) and the small results are summed in the
driver, in partition order, so the fit is reproducible and equal to the in-memory one up
to the order of floating-point sums. X is never gathered.

Which methods run this way: the Laplace approximation, ADVI on fixed draws and Pathfinder
(each needs a few dozen to a few hundred of these sums), and ``method="auto"`` among them.
NUTS does not: a trajectory needs thousands of sequential gradients, each a cluster round
trip of tens of milliseconds (measured: the benchmarks' "Dask" rows), against microseconds
in memory, so it refuses with a clear message instead.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from bayescore._dask import dask_labels, dask_rows
from bayescore._partitions import (
    check_and_extremes,
    encode,
    on_partition,
    scaled_squares,
    scaled_sums,
)
from bayescore.data import Standardization

if TYPE_CHECKING:
    import dask.array as da

    from bayescore.inference.rows import InMemoryRows

__all__ = ["DASK_METHODS", "PartitionedRows", "encode_labels", "standardize", "validate"]

Floats = NDArray[np.float64]
T = TypeVar("T")

#: The methods that fit a Dask array.
DASK_METHODS = ("auto", "laplace", "advi", "fullrank_advi", "pathfinder")


def _offsets(chunks: tuple[int, ...]) -> NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum(chunks)])[:-1].astype(np.int64)


def validate(X: object, y: object) -> tuple[da.Array, da.Array]:
    """X as float64 rows in one column chunk, and y lined up with X's row chunks.

    Checked as for prediction (:func:`bayescore._dask.dask_rows`, ``dask_labels``).
    """
    rows = dask_rows(X, "X")
    return rows.data, dask_labels(y, rows.chunks)


def standardize(X: da.Array) -> Standardization:
    """The standardisation of a Dask X (as :meth:`Standardization.fit` in memory), checked.

    Three passes over the partitions: column extremes (and the first NaN or inf, named by
    its partition and row), the scaled sums, the scaled squares.
    """
    import dask

    parts = X.to_delayed().ravel()
    offsets = _offsets(X.chunks[0])
    stats = dask.compute(*[dask.delayed(check_and_extremes)(p) for p in parts])
    for i, (_, _, row, col) in enumerate(stats):
        if row >= 0:
            raise ValueError(
                f"Input X contains NaN or inf in partition {i} at row {offsets[i] + row} "
                f"(row {row} of the partition), column {col}. Remove or impute non-finite "
                "values before calling."
            )
    high = np.max([s[0] for s in stats], axis=0)
    low = np.min([s[1] for s in stats], axis=0)
    size = np.maximum(np.abs(high), np.abs(low))
    size = np.where(size > 0, size, 1.0)
    n = X.shape[0]
    total = np.sum(dask.compute(*[dask.delayed(scaled_sums)(p, size) for p in parts]), axis=0)
    unit_mean = total / n
    squares = np.sum(
        dask.compute(*[dask.delayed(scaled_squares)(p, size, unit_mean) for p in parts]), axis=0
    )
    mean = unit_mean * size
    sd = np.sqrt(squares / n) * size
    constant = high == low
    return Standardization(mean=mean, scale=np.where(constant | ~(sd > 0), 1.0, sd))


def encode_labels(y: da.Array) -> tuple[da.Array, np.ndarray]:
    """Class indices of a Dask y (lazily, by value) and the sorted classes (computed)."""
    import dask
    import dask.array as da

    classes = np.unique(da.unique(y).compute())
    if classes.size < 2:
        raise ValueError(
            f"y must contain at least 2 classes; got {classes.size} ({classes.tolist()!r})."
        )
    parts = y.to_delayed().ravel()
    encoded = [dask.delayed(encode, nout=2)(p, classes) for p in parts]
    blocks = [
        da.from_delayed(e[0], shape=(c,), dtype=np.int64)
        for e, c in zip(encoded, y.chunks[0], strict=True)
    ]
    return da.concatenate(blocks), classes


def _rows(part: NDArray[np.generic], local: NDArray[np.intp]) -> NDArray[np.generic]:
    return np.asarray(part)[local]


class PartitionedRows:
    """The rows of a Dask array: the posterior's sums computed on the partitions' workers.

    Parameters
    ----------
    X : dask.array.Array (N, D)
        Float64, rows in partitions, one column chunk (:func:`validate`).
    y : dask.array.Array (N,)
        Class indices in X's row partitions.
    standardization : Standardization
    """

    def __init__(self, X: da.Array, y: da.Array, standardization: Standardization) -> None:
        import dask

        if not isinstance(X.shape[0], numbers.Integral):
            raise ValueError("X must have a known number of rows.")
        self.n_obs = int(X.shape[0])
        self._standardization = standardization
        self._offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
        self._parts = list(zip(X.to_delayed().ravel(), y.to_delayed().ravel(), strict=True))
        # The standardisation is sent once, as one key every partition's task refers to.
        self._mean = dask.delayed(np.asarray(standardization.mean))
        self._scale = dask.delayed(np.asarray(standardization.scale))

    @property
    def n_partitions(self) -> int:
        """Number of row partitions."""
        return len(self._parts)

    def _local(
        self, index: NDArray[np.intp]
    ) -> list[tuple[tuple[object, object], NDArray[np.intp]]]:
        """Each partition holding rows of the sorted ``index``, with their local positions."""
        bounds = np.searchsorted(index, self._offsets)
        return [
            (part, index[lo:hi] - start)
            for part, start, lo, hi in zip(
                self._parts, self._offsets[:-1], bounds[:-1], bounds[1:], strict=True
            )
            if hi > lo
        ]

    def take(self, index: NDArray[np.intp]) -> InMemoryRows:  # noqa: D102
        import dask

        from bayescore.inference.rows import InMemoryRows

        # Each partition sends only its rows of the sample.
        tasks = [
            (dask.delayed(_rows)(X, local), dask.delayed(_rows)(y, local))
            for (X, y), local in self._local(index)
        ]
        parts = dask.compute(*tasks)
        X = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        return InMemoryRows(X, y, self._standardization)

    def sum(self, fn: Callable[..., T], *args: object) -> T:  # noqa: D102
        import dask

        from bayescore.inference.rows import add

        shared = [dask.delayed(a) if isinstance(a, np.ndarray) else a for a in args]
        tasks = [
            dask.delayed(on_partition)(fn, X, y, self._mean, self._scale, *shared)
            for X, y in self._parts
        ]
        total = None
        for part in dask.compute(*tasks):  # summed here, in partition order: reproducible
            total = add(total, part)
        assert total is not None
        return total
