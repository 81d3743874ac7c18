"""Dask inputs of prediction: row partitions checked, aligned and mapped lazily.

A Dask ``X`` (array, DataFrame, or a DataArray over one) is predicted partition by
partition: :func:`map_rows` builds one task per row partition of ``X`` with
:func:`dask.array.blockwise`, the posterior's small arrays going to every task as one
shared argument (one key in the graph, sent once to each worker), so nothing larger than
a partition's own result exists in one place. The tasks check their rows on the way, so
bad values found at compute time are named as in memory, with the partition and the row's
global number.

Rows are positional on this path: a Dask DataFrame's index is often not unique (each
partition of ``read_csv`` restarts at 0) and reading it would mean a pass over the data.
``dask`` is imported only inside these functions; detecting a Dask object never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bayescore._names import FEATURE, OBS

__all__ = ["DaskRows", "dask_labels", "dask_rows", "is_dask", "map_rows", "partition_of"]


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection, or a DataArray over one (imports nothing).

    Examples
    --------
    >>> is_dask(np.zeros(2)), is_dask(xr.DataArray(np.zeros(2)))
    (False, False)
    """
    if isinstance(obj, xr.DataArray | xr.Variable):
        obj = obj.data
    return type(obj).__module__.split(".")[0] == "dask"


def _is_dask_frame(obj: Any) -> bool:
    return is_dask(obj) and hasattr(obj, "to_dask_array")


@dataclass(frozen=True)
class DaskRows:
    """A Dask feature matrix ready to predict from.

    Attributes
    ----------
    data : dask.array.Array of shape (n_obs, n_features), float64
        Known row chunks (one per partition) and a single chunk over the columns.
    columns : ndarray or None
        Column names of a DataFrame (or the ``feature`` coordinate of a DataArray).
    obs : ndarray or None
        The ``obs`` coordinate of a DataArray (in memory); None otherwise.
    """

    data: Any
    columns: np.ndarray | None = None
    obs: np.ndarray | None = None

    @property
    def chunks(self) -> tuple[int, ...]:
        """Rows of each partition."""
        return tuple(int(c) for c in self.data.chunks[0])

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.data.shape[0])

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return int(self.data.shape[1])


def _unknown_chunks(name: str, chunks: tuple[float, ...]) -> ValueError:
    shown = ", ".join("nan" if np.isnan(c) else str(int(c)) for c in chunks[:5])
    return ValueError(
        f"{name} has unknown chunk sizes (rows per partition: ({shown}"
        f"{', ...' if len(chunks) > 5 else ''})), so its rows cannot be numbered or lined "
        f"up with other arrays. Call {name}.compute_chunk_sizes() first, or build it from a "
        f"Dask DataFrame with .to_dask_array(lengths=True)."
    )


def dask_rows(X: Any, name: str = "X") -> DaskRows:
    """Check a Dask ``X`` and return it as float64 rows with known partitions.

    A Dask DataFrame's numeric columns become an array with ``to_dask_array(lengths=True)``,
    which counts the rows of each partition (one pass; convert it yourself, or persist it,
    to do that once). Non-finite values are checked later, per partition, by the tasks.

    Raises
    ------
    ValueError
        Not 2-D, empty, non-numeric columns, or unknown chunk sizes; each names the fix.

    Examples
    --------
    >>> import dask.array as da
    >>> rows = dask_rows(da.ones((10, 3), chunks=(4, 2), dtype=int))
    >>> rows.chunks, rows.data.chunks[1], rows.data.dtype
    ((4, 4, 2), (3,), dtype('float64'))
    """
    columns = obs = None
    if isinstance(X, xr.DataArray):
        if X.ndim == 2 and OBS in X.dims and FEATURE in X.dims:
            X = X.transpose(OBS, FEATURE)
        if OBS in X.coords:
            obs = np.asarray(X.coords[OBS].values)
        if FEATURE in X.coords:
            columns = np.asarray([str(c) for c in X.coords[FEATURE].values], dtype=object)
        X = X.data
    if _is_dask_frame(X):
        if X.ndim != 2:
            raise ValueError(
                f"Expected 2D data for {name}, got a Dask Series (1D). Pass a DataFrame of "
                "the features, e.g. series.to_frame()."
            )
        from pandas.api.types import is_numeric_dtype

        text = [str(c) for c, t in X.dtypes.items() if not is_numeric_dtype(t)]
        if text:
            raise ValueError(
                f"{name} has non-numeric columns {text}; predictions need numbers. Encode "
                "or drop them first."
            )
        columns = np.asarray([str(c) for c in X.columns], dtype=object)
        X = X.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array for {name}, got {X.ndim}D array of shape {X.shape} instead. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
        )
    if any(np.isnan(c) for c in X.chunks[0]):
        raise _unknown_chunks(name, X.chunks[0])
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got dtype {X.dtype}.")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); it needs at least one value.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # one task per row partition sees all its features
    return DaskRows(X.astype(np.float64), columns, obs)


def dask_labels(y: Any, chunks: tuple[int, ...], name: str = "y") -> Any:
    """``y`` as a 1-D Dask array chunked exactly like the rows of ``X`` (``chunks``).

    Rows are matched by position. Numpy or pandas ``y`` is split at ``X``'s partition
    boundaries; a Dask ``y`` of the same length but other partitions is rechunked to them.
    A Dask Series' partitions are counted first (``to_dask_array(lengths=True)``).

    Raises
    ------
    ValueError
        ``y`` not 1-D, of another length than ``X`` (naming both partitionings), or with
        unknown chunk sizes.

    Examples
    --------
    >>> dask_labels(["a", "b", "c"], (2, 1)).chunks
    ((2, 1),)
    """
    import dask.array as da

    if isinstance(y, xr.DataArray):
        y = y.data
    if _is_dask_frame(y):
        if y.ndim == 2 and len(y.columns) == 1:
            y = y[y.columns[0]]
        y = y.to_dask_array(lengths=True)
    if not is_dask(y):
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one label per row); got shape {arr.shape}.")
        y = da.from_array(arr, chunks=(arr.shape[0],) if arr.shape[0] == 0 else -1)
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row); got shape {y.shape}.")
    if any(np.isnan(c) for c in y.chunks[0]):
        raise _unknown_chunks(name, y.chunks[0])
    n = int(sum(chunks))
    if int(y.shape[0]) != n:
        raise ValueError(
            f"{name} has {int(y.shape[0])} rows in {_partitions(y.chunks[0])}, but X has "
            f"{n} rows in {_partitions(chunks)}; pass the labels of the same rows."
        )
    if tuple(int(c) for c in y.chunks[0]) != tuple(chunks):
        y = y.rechunk((chunks,))  # rows are positional: line y's partitions up with X's
    return y


def _partitions(chunks: tuple[float, ...]) -> str:
    """``"3 partitions (10, 10, 10)"``: how many, and their rows (the first five)."""
    shown = ", ".join(str(int(c)) for c in chunks[:5])
    plural = "s" if len(chunks) != 1 else ""
    return f"{len(chunks)} partition{plural} ({shown}{', ...' if len(chunks) > 5 else ''})"


def partition_of(start: int, bounds: np.ndarray) -> int:
    """Index of the partition whose rows begin at global row ``start``.

    Examples
    --------
    >>> partition_of(4, np.array([0, 4, 8, 10]))
    1
    """
    return int(np.searchsorted(bounds, start, side="right") - 1)


def check_finite_rows(block: np.ndarray, start: int, bounds: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming the first NaN/inf of a partition: global row and partition.

    Examples
    --------
    >>> block = np.array([[0.0, 1.0], [np.nan, 2.0]])
    >>> check_finite_rows(block, 4, np.array([0, 4, 6]), "X")
    Traceback (most recent call last):
    ...
    ValueError: Input X contains NaN at row 5, column 0 (value nan): partition 1 of 2, its row 1. Remove or impute non-finite values before calling.
    """  # noqa: E501
    bad = ~np.isfinite(block)
    if bad.any():
        i, j = np.unravel_index(int(np.flatnonzero(bad)[0]), block.shape)
        value = float(block[i, j])
        what = "NaN" if np.isnan(value) else "inf"
        raise ValueError(
            f"Input {name} contains {what} at row {start + int(i)}, column {int(j)} (value "
            f"{value!r}): partition {partition_of(start, bounds)} of {bounds.size - 1}, its "
            f"row {int(i)}. Remove or impute non-finite values before calling."
        )


def map_rows(
    func: Callable[..., np.ndarray],
    rows: DaskRows,
    out: str,
    *,
    labels: Any = None,
    shared: Any = None,
    new_axes: dict[str, int] | None = None,
    dtype: Any = np.float64,
    name: str = "X",
) -> Any:
    """One lazy task per row partition: ``func(block, start, bounds, [y_block,] shared)``.

    Parameters
    ----------
    func : callable
        Module-level (pickled by reference). Gets the partition's float64 rows, its first
        global row, the partition boundaries, the partition's labels when ``labels`` is
        given, and ``shared``. It returns the partition's result with its rows on the axis
        ``"n"`` of ``out``.
    rows : DaskRows
    out : str
        Index letters of the result (``"n"``: rows, other letters: ``new_axes``), e.g.
        ``"cdnk"`` for ``(chain, draw, obs, class)``.
    labels : dask array, optional
        Chunked like the rows (:func:`dask_labels`).
    shared : object, optional
        Sent once to every worker (one key of the graph), e.g. the posterior's intercepts
        and coefficients.
    new_axes : dict of str to int, optional
        Sizes of the result's axes that are not rows; each is one chunk.
    dtype : dtype
    name : str
        Name of the rows argument in error messages.

    Returns
    -------
    dask.array.Array
        Chunked along ``"n"`` like the rows of ``X``; nothing is computed.
    """
    import dask
    import dask.array as da

    chunks = rows.chunks
    bounds = np.cumsum((0, *chunks))
    # Global row numbers, made on the workers: each task reads its first row from them.
    positions = da.arange(rows.n_rows, chunks=(chunks,))
    args: list[Any] = [rows.data, "nf", positions, "n"]
    if labels is not None:
        args += [labels, "n"]
    # One key for the shared arguments: every task depends on it, and each worker gets it once.
    args += [dask.delayed((func, bounds, name, shared), pure=True), None]
    return da.blockwise(
        _call_on_rows,
        out,
        *args,
        new_axes=new_axes or {},
        concatenate=True,
        dtype=dtype,
        meta=np.empty((0,) * len(out), dtype=dtype),
    )


def _call_on_rows(block: np.ndarray, positions: np.ndarray, *rest: Any) -> np.ndarray:
    """Run on a worker: check the partition's rows, then hand them to the caller's func."""
    *labels, (func, bounds, name, shared) = rest
    first = int(positions[0])
    check_finite_rows(block, first, bounds, name)
    return func(block, first, bounds, *labels, shared)
