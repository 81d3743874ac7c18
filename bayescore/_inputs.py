"""The one input path: labels ``y`` plus probabilities or draws -> indices, arrays, classes.

Every scorer, calibrator and comparison calls :func:`prepare` (point probabilities or
logits) or :func:`prepare_draws` (posterior draws), then a numpy kernel from
:mod:`bayescore._array`, then :func:`wrap` to give back the kind of object it was given.

Label rule. When class labels are known, from ``labels=`` or the ``class``
coordinate of a DataArray, ``y`` is matched against them **by value**, whatever the type or
order of either: integers against a coordinate ``[1, 2, 3]`` are values, not positions. Only
when no class labels are known is ``y`` positional (integer, bool or integral-float class
indices). Labels are never mapped by sort order. Duplicated or unknown labels, a ``labels=``
of the wrong length, and a ``labels=`` that disagrees with the coordinate raise
``ValueError`` naming the values.

Row rule (SPEC §3). Rows, like labels, are matched by value when both sides name them: a
pandas ``y`` by its index, an xarray ``y`` by its ``obs`` coordinate, against the ``obs``
coordinate of a DataArray of probabilities or draws (or a DataFrame's index). ``y`` is then
reordered to the forecast's rows (:func:`match_rows`), so results keep the forecast's order
and coordinates. Rows that cannot be matched (an id on one side only, or an id given
twice) raise ``ValueError`` naming them. When either side has no row labels (numpy arrays,
lists, a DataArray without an ``obs`` coordinate) rows are positional.

This module imports neither PyMC, PyTensor nor ArviZ.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._array.scores import DrawSums, batch_layout, dask_draw_sums, draw_sums
from bayescore._names import CHAIN, CLASS, OBS
from bayescore._validation import (
    SUM_TOL,
    check_consistent_length,
    check_label_range,
    check_probs,
)

Indices = NDArray[np.int64]

__all__ = [
    "Prepared",
    "PreparedDraws",
    "align_y",
    "class_coord",
    "class_last",
    "encode_labels",
    "known_classes",
    "match_rows",
    "prepare",
    "prepare_draws",
    "reduce_draws",
    "resolve_labels",
    "row_labels",
    "rows_in_y_order",
    "sum_tolerance",
    "wrap",
]


class Prepared(NamedTuple):
    """Validated point forecasts and labels, with what is needed to wrap results.

    Attributes
    ----------
    values : ndarray of shape (..., n_obs, n_classes), float64
        Validated probabilities (or logits); 1-D binary input is expanded to 2 columns.
    y_idx : ndarray of int64, shape (n_obs,), or None
        Column index of each observation's class (None when no ``y`` was given).
    classes : ndarray or None
        The known class labels in column order (``labels=`` or the ``class`` coordinate).
    template : DataArray or None
        The input with ``class`` last (for :func:`wrap`); None for numpy input.
    y_rows : ndarray of int64 or None
        Row matching (:func:`match_rows`): ``y_idx[i]`` is the label of row ``y_rows[i]`` of
        the given ``y``. None when rows are positional (or already in the same order), so
        inputs that go with ``y`` (``sample_weight``) need ``[y_rows]`` only when it is set.
    """

    values: NDArray[np.float64]
    y_idx: Indices | None
    classes: np.ndarray | None
    template: xr.DataArray | None
    y_rows: Indices | None = None


class PreparedDraws(NamedTuple):
    """Posterior draws as one ``(S, n_obs, n_classes)`` array, numpy or dask.

    ``values`` keeps float32 input as float32 (no full float64 copy); ``template`` is the
    (lazy) input transposed to ``(*draw_dims, obs, class)``, used for its coords only.
    ``n_chains`` chains of equal length lie one after the other along the draw axis (a
    ``chain`` dim, or the first axis of a 4-D array); 1 when unknown. ``y_rows`` as in
    :class:`Prepared`; ``rows`` are the forecast's row labels (its ``obs`` coordinate), None
    when it has none.
    """

    values: Any
    y_idx: Indices | None
    classes: np.ndarray | None
    template: xr.DataArray | None
    draw_dims: tuple[str, ...]
    is_dask: bool
    n_chains: int = 1
    y_rows: Indices | None = None
    rows: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        """Number of draws ``S`` (all draw dims flattened)."""
        return int(self.values.shape[0])

    @property
    def n_obs(self) -> int:
        """Number of observations ``N``."""
        return int(self.values.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes ``K``."""
        return int(self.values.shape[2])


# ------------------------------------------------------------------------- xarray


def class_coord(obj: Any) -> np.ndarray | None:
    """The ``class`` coordinate of a DataArray (None for anything else or no coordinate).

    Examples
    --------
    >>> da = xr.DataArray([[0.2, 0.8]], dims=("obs", "class"), coords={"class": ["a", "b"]})
    >>> class_coord(da).tolist(), class_coord(np.ones((1, 2)))
    (['a', 'b'], None)
    """
    if isinstance(obj, xr.DataArray) and CLASS in obj.coords:
        return np.asarray(obj.coords[CLASS].values)
    return None


def class_last(da: xr.DataArray) -> xr.DataArray:
    """Transpose to ``(*other dims, obs, class)`` (dims absent from ``da`` are skipped).

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((3, 2, 4)), dims=("class", "obs", "draw"))
    >>> class_last(da).dims
    ('draw', 'obs', 'class')
    """
    tail = [d for d in (OBS, CLASS) if d in da.dims]
    other = [d for d in da.dims if d not in tail]
    return da.transpose(*other, *tail)


def wrap(
    values: Any,
    template: xr.DataArray | None,
    name: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    *,
    dims: tuple[Hashable, ...] | None = None,
) -> Any:
    """Give a kernel's numpy result back as the kind of object the caller was given.

    Parameters
    ----------
    values : ndarray
        The result; its axes are a prefix of the template's dims (a reduction over trailing
        axes such as ``class`` or ``obs``), or the template's dims plus a trailing ``class``.
    template : DataArray or None
        ``None`` (numpy input): return ``values``, as a float when 0-d.
    name : str, optional
        Name of the returned DataArray.
    attrs : mapping, optional
        Added to the template's attrs.
    dims : tuple of str, optional
        Explicit dims of ``values`` (e.g. ``("obs",)`` after reducing over draws).

    Returns
    -------
    float, ndarray or DataArray
        With the template's coordinates along the kept dims.

    Examples
    --------
    >>> t = xr.DataArray(np.zeros((2, 3)), dims=("obs", "class"), coords={"obs": [7, 8]})
    >>> wrap(np.array([1.0, 2.0]), t, "nll")["obs"].values.tolist()
    [7, 8]
    >>> wrap(np.array(1.5), None)
    1.5
    """
    values = np.asarray(values)
    if template is None:
        return float(values) if values.ndim == 0 else values
    if dims is None:
        if values.ndim <= template.ndim:
            dims = tuple(template.dims[: values.ndim])
        elif values.ndim == template.ndim + 1:
            dims = (*template.dims, CLASS)
        else:  # pragma: no cover - programming error
            raise ValueError(f"cannot wrap shape {values.shape} like dims {template.dims}.")
    sizes = dict(zip(dims, values.shape, strict=True))
    coords = {
        key: coord.variable
        for key, coord in template.coords.items()
        if set(coord.dims) <= set(dims) and all(template.sizes[d] == sizes[d] for d in coord.dims)
    }
    out_attrs = {**template.attrs, **(attrs or {})}
    return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=out_attrs)


# ------------------------------------------------------------------------- labels


def _as_1d(y: Any, name: str) -> np.ndarray:
    y_arr = np.asarray(y.values if isinstance(y, xr.DataArray) else y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = y_arr[:, 0]
    if y_arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one label per observation); got shape {y_arr.shape}."
        )
    if y_arr.size == 0:
        raise ValueError(f"{name} is empty; at least one observation is needed.")
    return y_arr


def _shown(values: list[Any], limit: int = 10) -> str:
    text = ", ".join(repr(v) for v in values[:limit])
    return f"[{text}{', ...' if len(values) > limit else ''}]"


def known_classes(
    n_classes: int, labels: Any = None, coord: np.ndarray | None = None, name: str = "probs"
) -> np.ndarray | None:
    """The class labels of the columns, checked: from ``labels=``, the coordinate, or None.

    Raises ``ValueError`` when ``labels=`` has the wrong length or duplicates, or when it
    disagrees with the ``class`` coordinate (neither is silently preferred).

    Examples
    --------
    >>> known_classes(2, labels=["no", "yes"]).tolist()
    ['no', 'yes']
    >>> known_classes(2, labels=["a", "a"])
    Traceback (most recent call last):
    ...
    ValueError: labels has duplicated values ['a']; each class must appear once.
    """
    if labels is None and coord is None:
        return None
    source = "labels" if labels is not None else f"the 'class' coordinate of {name}"
    classes = np.asarray(labels if labels is not None else coord)
    if classes.ndim != 1:
        raise ValueError(f"{source} must be 1-D; got shape {classes.shape}.")
    if classes.size != n_classes:
        raise ValueError(
            f"labels has {classes.size} entries but {name} has {n_classes} classes; labels "
            f"gives the class of each column, so it needs {n_classes} entries."
        )
    seen: dict[Any, int] = {}
    dup: list[Any] = []
    for value in classes.tolist():
        try:
            seen[value] = seen.get(value, 0) + 1
        except TypeError:
            raise ValueError(f"{source} holds an unhashable value {value!r}.") from None
        if seen[value] == 2:
            dup.append(value)
    if dup:
        raise ValueError(
            f"{'labels' if labels is not None else source} has duplicated values "
            f"{_shown(dup)}; each class must appear once."
        )
    if labels is not None and coord is not None:
        mine, theirs = classes.tolist(), np.asarray(coord).tolist()
        if mine != theirs:
            same_set = len(mine) == len(theirs) and all(v in seen for v in theirs)
            why = "the same classes in another order" if same_set else "different classes"
            raise ValueError(
                f"labels={_shown(mine)} disagrees with the 'class' coordinate of {name} "
                f"{_shown(theirs)} ({why}). The coordinate already names the columns: drop "
                f"labels=, or reorder the DataArray with .sel(class=...)."
            )
    return classes


def _encode(y_arr: np.ndarray, classes: np.ndarray, name: str, source: str) -> Indices:
    """Column index of each label, matched by value (Python equality, as ``==``)."""
    lookup = {value: i for i, value in enumerate(classes.tolist())}
    out = np.empty(y_arr.shape[0], dtype=np.int64)
    missing: dict[Any, int] = {}
    for i, label in enumerate(y_arr.tolist()):
        try:
            out[i] = lookup[label]
        except (KeyError, TypeError):
            if len(missing) < 10 and repr(label) not in {repr(m) for m in missing}:
                missing[label] = i
    if missing:
        first, row = next(iter(missing.items()))
        known = classes.tolist()
        others = list(missing)[1:]
        more = f" Other unknown labels: {_shown(others)}." if others else ""
        hint = ""
        if isinstance(first, str):
            close = [c for c in known if isinstance(c, str) and c.lower() == first.lower()]
            if close:
                hint = f" Labels are matched exactly (by value); did you mean {close[0]!r}?"
        raise ValueError(
            f"{name} contains label {first!r} at row {row}, not among the classes "
            f"{_shown(known, 20)} ({source}).{more}{hint}"
        )
    return out


def _positional(y_arr: np.ndarray, n_classes: int | None, name: str) -> Indices:
    kind = y_arr.dtype.kind
    if kind == "O" and all(isinstance(v, numbers.Integral) for v in y_arr.tolist()):
        y_arr = y_arr.astype(np.int64)
        kind = "i"
    if kind == "f":
        finite = np.isfinite(y_arr)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"{name} contains {float(y_arr[i])!r} at row {i}.")
        if not np.all(y_arr == np.round(y_arr)):
            i = int(np.flatnonzero(y_arr != np.round(y_arr))[0])
            raise ValueError(
                f"{name} must hold integer class indices (or pass labels=); row {i} is "
                f"{float(y_arr[i])!r}."
            )
    elif kind not in "biu":
        raise ValueError(
            f"{name} holds labels of dtype {y_arr.dtype} (e.g. {y_arr.tolist()[0]!r}) but no "
            "class labels are known to match them against. Pass labels= with the class of each "
            "probability column, or a DataArray with a 'class' coordinate (labels are never "
            "mapped by sort order)."
        )
    y_idx = y_arr.astype(np.int64)
    if n_classes is None:
        if (y_idx < 0).any():
            i = int(np.flatnonzero(y_idx < 0)[0])
            raise ValueError(f"{name} contains class index {int(y_idx[i])} at row {i}.")
        return y_idx
    return check_label_range(y_idx, n_classes, name)


def resolve_labels(
    y: Any,
    n_classes: int | None,
    labels: Any = None,
    classes_coord: np.ndarray | None = None,
    *,
    name: str = "y",
    probs_name: str = "probs",
) -> Indices:
    """Column indices of ``y`` by the label rule of the module docstring.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Labels, or class indices when no class labels are known.
    n_classes : int or None
        Number of columns; ``None`` (only without labels) skips the upper range check.
    labels : array-like, optional
        The class of each column.
    classes_coord : ndarray, optional
        The ``class`` coordinate of the forecasts (see :func:`class_coord`).
    name, probs_name : str
        Argument names used in messages.

    Returns
    -------
    ndarray of int64, shape (n_obs,)

    Examples
    --------
    >>> resolve_labels([3, 1], 3, classes_coord=np.array([1, 2, 3])).tolist()  # by value
    [2, 0]
    >>> resolve_labels([True, False], 2).tolist()  # no labels known: positional
    [1, 0]
    >>> resolve_labels(["b"], 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: y holds labels of dtype <U1 (e.g. 'b') but no class labels are known ...
    """
    if n_classes is None and labels is not None:
        n_classes = int(np.asarray(labels).size)
    if n_classes is None:
        return _positional(_as_1d(y, name), None, name)
    classes = known_classes(n_classes, labels, classes_coord, probs_name)
    return _indices(y, n_classes, classes, labels is not None, name, probs_name)


def _indices(
    y: Any, n_classes: int, classes: np.ndarray | None, from_labels: bool, name: str, probs: str
) -> Indices:
    """``y`` by value against checked ``classes``, or positional when they are None."""
    if classes is None:
        return _positional(_as_1d(y, name), n_classes, name)
    source = "labels=" if from_labels else f"the 'class' coordinate of {probs}"
    return encode_labels(y, classes, name=name, source=source)


def encode_labels(y: Any, classes: Any, *, name: str = "y", source: str = "classes=") -> Indices:
    """Index of each label of ``y`` in ``classes``, matched by value.

    The one label encoder: the scorers reach it through :func:`resolve_labels`; the fitting
    side calls it with the classes of a model (``build_model(classes=...)``, new labels for
    a fitted posterior). A label not among the classes raises ``ValueError`` naming it,
    ``source`` saying where the classes came from.

    Examples
    --------
    >>> encode_labels(["b", "a", "b"], np.array(["a", "b"])).tolist()
    [1, 0, 1]
    """
    return _encode(_as_1d(y, name), np.asarray(classes), name, source)


# ------------------------------------------------------------------------- rows


def row_labels(obj: Any) -> np.ndarray | None:
    """The row labels of ``obj``: a pandas index, or the ``obs`` coordinate of a DataArray.

    None for anything else (numpy arrays, lists, a DataArray whose ``obs`` dim has no
    coordinate): such rows are positional.

    Examples
    --------
    >>> import pandas as pd
    >>> row_labels(pd.Series(["a", "b"], index=[7, 3])).tolist(), row_labels(np.zeros(2))
    ([7, 3], None)
    >>> da = xr.DataArray(np.zeros((2, 2)), dims=("obs", "class"))
    >>> row_labels(da), row_labels(da.assign_coords(obs=["u", "v"])).tolist()
    (None, ['u', 'v'])
    """
    if isinstance(obj, xr.DataArray):
        if OBS in obj.dims and OBS in obj.coords:
            return np.asarray(obj.coords[OBS].values)
        return None
    # pandas Series and DataFrames (duck-typed: this module does not import pandas)
    if hasattr(obj, "iloc") and hasattr(obj, "index"):
        return np.asarray(obj.index)
    return None


def _row_source(obj: Any) -> str:
    return "'obs' coordinate" if isinstance(obj, xr.DataArray) else "index"


def _counted(values: np.ndarray, name: str) -> tuple[dict[Any, int], list[Any]]:
    """Position of each row label (the first one) and the labels given more than once."""
    where: dict[Any, int] = {}
    dup: list[Any] = []
    for i, value in enumerate(values.tolist()):
        try:
            if value in where:
                if value not in dup:
                    dup.append(value)
            else:
                where[value] = i
        except TypeError:
            raise ValueError(f"{name} holds an unhashable row label {value!r}.") from None
    return where, dup


def match_rows(
    y_rows: np.ndarray | None,
    rows: np.ndarray | None,
    *,
    y_name: str = "y",
    name: str = "probs",
    y_source: str = "index",
    source: str = "'obs' coordinate",
) -> Indices | None:
    """Position in ``y`` of each forecast row, matched by row label (the row rule above).

    Parameters
    ----------
    y_rows, rows : ndarray or None
        Row labels of ``y`` and of the forecast (:func:`row_labels`); None: positional.
    y_name, name : str
        Argument names used in messages.
    y_source, source : str
        Where each side's labels come from ("index", "'obs' coordinate"), for messages.

    Returns
    -------
    ndarray of int64 or None
        ``order`` such that ``y[order]`` lines up with the forecast's rows; None when either
        side has no labels or both list the same rows in the same order.

    Raises
    ------
    ValueError
        A row label given twice on either side, or rows present on one side only; the
        message shows examples of each.

    Examples
    --------
    >>> match_rows(np.array([11, 10]), np.array([10, 11])).tolist()
    [1, 0]
    >>> match_rows(np.array([1, 2]), np.array([1, 2])) is None
    True
    >>> match_rows(np.array([1, 2]), np.array([1, 3]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The rows of y and probs disagree: probs has rows [3] that y lacks; y has ...
    """
    if y_rows is None or rows is None:
        return None
    if y_rows.shape == rows.shape:  # the common case: the same rows in the same order
        plain = y_rows.dtype != object and rows.dtype != object
        if np.array_equal(y_rows, rows) if plain else y_rows.tolist() == rows.tolist():
            return None
    y_where, y_dup = _counted(y_rows, f"The {y_source} of {y_name}")
    where, dup = _counted(rows, f"The {source} of {name}")
    fix = (
        f" Rows are matched by label when both {y_name} (its {y_source}) and {name} (its "
        f"{source}) carry them; to match them by position instead, pass "
        f"{y_name} as a plain array (e.g. {y_name}.to_numpy())."
    )
    for who, what, twice in ((y_name, y_source, y_dup), (name, source, dup)):
        if twice:
            raise ValueError(
                f"The {what} of {who} names rows {_shown(twice)} more than once, so the rows "
                f"of {y_name} and {name} cannot be matched by label.{fix}"
            )
    missing = [r for r in rows.tolist() if r not in y_where]
    extra = [r for r in y_rows.tolist() if r not in where]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{name} has rows {_shown(missing)} that {y_name} lacks")
        if extra:
            parts.append(f"{y_name} has rows {_shown(extra)} that {name} lacks")
        raise ValueError(
            f"The rows of {y_name} and {name} disagree: {'; '.join(parts)} ({name}: "
            f"{len(rows)} rows, {y_name}: {len(y_rows)}).{fix}"
        )
    return np.fromiter((y_where[r] for r in rows.tolist()), dtype=np.int64, count=len(rows))


def align_y(y: Any, forecast: Any, name: str = "probs") -> tuple[Any, Indices | None]:
    """``y`` reordered to the forecast's rows when both carry row labels (else as given).

    Returns the (possibly reordered, then 1-D numpy) ``y`` and the order applied
    (:func:`match_rows`; None when nothing was reordered).

    Examples
    --------
    >>> y = xr.DataArray(["b", "a"], dims="obs", coords={"obs": [2, 1]})
    >>> p = xr.DataArray(np.eye(2), dims=("obs", "class"), coords={"obs": [1, 2]})
    >>> y2, order = align_y(y, p)
    >>> y2.tolist(), order.tolist()
    (['a', 'b'], [1, 0])
    """
    order = match_rows(
        row_labels(y),
        row_labels(forecast),
        name=name,
        y_source=_row_source(y),
        source=_row_source(forecast),
    )
    if order is None:
        return y, None
    return _as_1d(y, "y")[order], order


def rows_in_y_order(values: NDArray[Any], y_rows: Indices | None) -> NDArray[Any]:
    """Per-row values computed in the forecast's row order, put back in ``y``'s order.

    The inverse of the permutation :func:`match_rows` applied to ``y``, along the first
    axis; ``values`` unchanged when ``y_rows`` is None. Lets several forecasts of the same
    ``y``, each with its own row order, be paired row by row (:func:`bayescore.compare`).

    Examples
    --------
    >>> rows_in_y_order(np.array([0.5, 0.1]), np.array([1, 0])).tolist()
    [0.1, 0.5]
    """
    if y_rows is None:
        return values
    out = np.empty_like(values)
    out[y_rows] = values
    return out


# ------------------------------------------------------------------------- prepare


def prepare(
    y: Any,
    probs: Any,
    *,
    labels: Any = None,
    name: str = "probs",
    check: Callable[..., NDArray[np.float64]] = check_probs,
) -> Prepared:
    """Validate point forecasts (``check``: probabilities or logits) and resolve ``y``.

    Parameters
    ----------
    y : array-like of shape (n_obs,) or None
        A pandas Series or a DataArray with an ``obs`` coordinate is matched to the rows of
        a ``probs`` that names its rows too (the row rule of the module docstring).
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray
        A DataArray may hold extra leading dims (e.g. ``chain, draw``) and any dim order.
    labels : array-like, optional
    name : str
        Argument name used in messages.
    check : callable
        ``check_probs`` (default) or ``check_logits`` from :mod:`bayescore._validation`.

    Returns
    -------
    Prepared

    Examples
    --------
    >>> p = prepare(["b", "a"], [[0.9, 0.1], [0.2, 0.8]], labels=["b", "a"])
    >>> p.y_idx.tolist(), p.values.shape, p.template is None
    ([0, 1], (2, 2), True)
    """
    template: xr.DataArray | None = None
    if isinstance(probs, xr.DataArray):
        template = class_last(probs)
        values = check(template.values, name)
    else:
        values = check(probs, name)
    n_classes = int(values.shape[-1])
    classes = known_classes(n_classes, labels, class_coord(probs), name)
    y_idx, y_rows = None, None
    if y is not None:
        y, y_rows = align_y(y, probs, name)
        y_idx = _indices(y, n_classes, classes, labels is not None, "y", name)
        check_consistent_length(y_idx.shape[0], values.shape[-2], "y", name)
    return Prepared(values, y_idx, classes, template, y_rows)


def prepare_draws(y: Any, draws: Any, *, labels: Any = None, name: str = "draws") -> PreparedDraws:
    """Posterior draws as one ``(S, N, K)`` array (numpy or dask) and resolved ``y``.

    Parameters
    ----------
    y : array-like of shape (n_obs,) or None
        Matched to the rows of ``draws`` by label when both carry them (see :func:`prepare`).
    draws : array-like (S, N, K), (C, D, N, K) or (N, K), or DataArray
        A DataArray needs dims ``obs`` and ``class``; every other dim indexes draws. It may
        be dask-backed (left lazy). float32 stays float32.
    labels : array-like, optional
    name : str
        Argument name used in messages.

    Returns
    -------
    PreparedDraws
        Rows are *not* validated here: :func:`reduce_draws` checks them in the same pass
        that reduces them.

    Examples
    --------
    >>> d = prepare_draws([1], np.full((4, 1, 2), 0.5, dtype=np.float32))
    >>> d.values.shape, d.values.dtype, d.y_idx.tolist()
    ((4, 1, 2), dtype('float32'), [1])
    """
    if isinstance(draws, xr.DataArray):
        if CLASS not in draws.dims or OBS not in draws.dims:
            raise ValueError(
                f"{name} must have dims 'obs' and 'class' (plus draw dims such as "
                f"'chain', 'draw' or 'sample'); got dims {draws.dims}."
            )
        draw_dims = tuple(str(d) for d in draws.dims if d not in (OBS, CLASS))
        # Chains first, so each chain's draws are consecutive after flattening.
        draw_dims = tuple(sorted(draw_dims, key=lambda dim: dim != CHAIN))
        n_chains = int(draws.sizes[CHAIN]) if CHAIN in draw_dims else 1
        template = draws.transpose(*draw_dims, OBS, CLASS)
        data = template.data
        is_dask = type(data).__module__.startswith("dask")
        if not is_dask:
            data = _float_draws(np.asarray(data), name)
        values = data.reshape((-1, template.sizes[OBS], template.sizes[CLASS]))
        coord = class_coord(draws)
    else:
        arr = np.asarray(draws)
        if arr.ndim == 1:
            arr = check_probs(arr, name)
        if arr.ndim < 2:
            raise ValueError(f"{name} must be (S, N, K), (C, D, N, K) or (N, K); got {arr.shape}.")
        arr = np.ascontiguousarray(_float_draws(arr, name))
        values = arr.reshape((-1,) + arr.shape[-2:])
        template, draw_dims, is_dask, coord = None, (), False, None
        n_chains = int(arr.shape[0]) if arr.ndim == 4 else 1
    if values.size == 0:
        raise ValueError(f"{name} is empty (shape {values.shape}).")
    n_classes = int(values.shape[-1])
    classes = known_classes(n_classes, labels, coord, name)
    y_idx, y_rows = None, None
    if y is not None:
        y, y_rows = align_y(y, draws, name)
        y_idx = _indices(y, n_classes, classes, labels is not None, "y", name)
        check_consistent_length(y_idx.shape[0], int(values.shape[1]), "y", name)
    rows = row_labels(draws)
    return PreparedDraws(
        values, y_idx, classes, template, draw_dims, is_dask, n_chains, y_rows, rows
    )


def _float_draws(arr: np.ndarray, name: str) -> np.ndarray:
    """float32/float64 kept as they are (no copy); other numeric dtypes as float64."""
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.dtype in (np.float32, np.float64):
        return arr
    return arr.astype(np.float64)


def sum_tolerance(dtype: np.dtype[Any], n_classes: int) -> float:
    """Tolerance of "rows sum to 1": 1e-6, wider only where float32 cannot do it.

    A float32 row of K probabilities that sum to 1 exactly in real numbers sums to 1 only
    within about ``K * eps_float32`` after rounding (softmax in float32 with K = 100 is off
    by ~1e-6), so float32 draws get ``max(1e-6, 4 K eps)``.

    Examples
    --------
    >>> sum_tolerance(np.dtype(np.float64), 10), sum_tolerance(np.dtype(np.float32), 100)
    (1e-06, 4.76837158203125e-05)
    """
    eps = float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else 0.0
    return max(SUM_TOL, 4 * n_classes * eps)


def reduce_draws(
    d: PreparedDraws, want: frozenset[str], *, validate: bool = True, name: str = "draws"
) -> DrawSums:
    """Sums over draws in one pass (see :class:`~bayescore._array.scores.DrawSums`).

    With ``validate`` every row is checked on the way (non-negative, summing to 1 within
    1e-6); the first offending draw, row and value are named in the ``ValueError``.
    ``"p_true_batches"`` in ``want`` also sums the true-class probabilities per batch of
    draws within each chain (for the Monte Carlo SE of the NLL).

    Examples
    --------
    >>> d = prepare_draws([0], [[[0.9, 0.1]], [[0.5, 0.5]]])
    >>> s = reduce_draws(d, frozenset({"p_true"}))
    >>> s.n_draws, s.p_true.round(6).tolist()
    (2, [1.4])
    """
    tol = sum_tolerance(d.values.dtype, d.n_classes) if validate else 0.0
    batches = None
    if "p_true_batches" in want:
        batches = batch_layout(d.n_chains, d.n_draws // d.n_chains)
    if d.is_dask:
        sums = dask_draw_sums(d.values, d.y_idx, want, tol=tol, batches=batches)
    else:
        sums = draw_sums(d.values, d.y_idx, want, tol=tol, batches=batches)
    if sums.first_invalid is not None:
        # Error path only: name the first offending draw, row and value.
        for s in range(sums.first_invalid, d.n_draws):
            try:
                check_probs(np.asarray(d.values[s]), name, atol=tol)
            except ValueError as exc:
                raise ValueError(f"{name} draw {s}: {exc}") from None
    return sums
