"""One place for input checks and clear error messages.

Every public function calls these at its top and works on the normalised value they
return. Messages name the argument, show the offending value and position, and say how to
fix it. Nothing here imports PyMC or PyTensor.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import numpy as np

_P = ParamSpec("_P")
_R = TypeVar("_R")

#: Tolerance for "rows sum to 1".
SUM_TOL = 1e-6


def _where(index: tuple[Any, ...] | int, kind: str = "row") -> str:
    """Format a position for an error message ("row 17", "row 17, column 2")."""
    if isinstance(index, tuple):
        if len(index) == 1:
            return f"{kind} {int(index[0])}"
        if len(index) == 2:
            return f"{kind} {int(index[0])}, column {int(index[1])}"
        return "position " + str(tuple(int(i) for i in index))
    return f"{kind} {int(index)}"


def _number(x: float | None) -> str:
    """A bound as written in messages: integers in full, other numbers with ``:g``."""
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Interval:
    """A declarative range check for one numeric parameter (as scikit-learn's ``Interval``).

    Parameters
    ----------
    kind : type
        ``numbers.Integral`` (ints only, not bools) or ``numbers.Real``.
    low, high : float or None
        Bounds; ``None`` is unbounded.
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the range.

    Examples
    --------
    >>> Interval(numbers.Real, 0, 1, "neither").describe()
    'a real number in (0, 1)'
    >>> Interval(numbers.Integral, 1, None, "left").describe()
    'an int >= 1'
    >>> Interval(numbers.Real).check("cost", float("nan"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The 'cost' parameter must be a finite real number. Got nan instead.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def describe(self) -> str:
        """The allowed values in words, for error messages."""
        what = "an int" if self.kind is numbers.Integral else "a real number"
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            lo, hi = "[" if left else "(", "]" if right else ")"
            return f"{what} in {lo}{low}, {high}{hi}"
        if self.low is not None:
            return f"{what} {'>=' if left else '>'} {low}"
        if self.high is not None:
            return f"{what} {'<=' if right else '<'} {high}"
        return f"a finite {what.removeprefix('a ')}" if self.kind is numbers.Real else what

    def check(self, name: str, value: Any, func: str = "") -> Any:
        """Return ``value`` if allowed; else raise naming ``name``, ``func`` and the range."""
        where = f" of {func}" if func else ""
        msg = f"The {name!r} parameter{where} must be {self.describe()}. Got {value!r} instead."
        if isinstance(value, bool) or not isinstance(value, self.kind):
            raise TypeError(msg)
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        number = float(value)  # type: ignore[arg-type]  # a numbers.Real by now
        ok = bool(np.isfinite(number))  # NaN passes no comparison; inf no real parameter
        if self.low is not None:
            ok = ok and (number >= self.low if left else number > self.low)
        if self.high is not None:
            ok = ok and (number <= self.high if right else number < self.high)
        if not ok:
            raise ValueError(msg)
        return int(value) if self.kind is numbers.Integral else number  # type: ignore[call-overload]


@dataclass(frozen=True)
class Options:
    """A declarative choice among strings (``Options(("uniform", "quantile"))``).

    Examples
    --------
    >>> Options(("a", "b")).check("strategy", "c", "table")
    Traceback (most recent call last):
    ...
    ValueError: The 'strategy' parameter of table must be one of ('a', 'b'). Got 'c' instead.
    """

    values: tuple[str, ...]

    def describe(self) -> str:
        """The allowed values in words, for error messages."""
        return f"one of {self.values}"

    def check(self, name: str, value: Any, func: str = "") -> str:
        """Return ``value`` if it is one of the options; else raise listing them."""
        if not isinstance(value, str) or value not in self.values:
            where = f" of {func}" if func else ""
            raise ValueError(
                f"The {name!r} parameter{where} must be {self.describe()}. Got {value!r} instead."
            )
        return value


@dataclass(frozen=True)
class Boolean:
    """A declarative check that a parameter is ``True`` or ``False`` (NumPy's bool too).

    Examples
    --------
    >>> Boolean().check("warm_start", "yes", "fit")
    Traceback (most recent call last):
    ...
    TypeError: The 'warm_start' parameter of fit must be True or False. Got 'yes' instead.
    """

    def describe(self) -> str:
        """The allowed values in words, for error messages."""
        return "True or False"

    def check(self, name: str, value: Any, func: str = "") -> bool:
        """Return ``value`` as a bool if it is one; else raise ``TypeError``."""
        if not isinstance(value, bool | np.bool_):
            where = f" of {func}" if func else ""
            raise TypeError(
                f"The {name!r} parameter{where} must be {self.describe()}. Got {value!r} instead."
            )
        return bool(value)


@dataclass(frozen=True)
class FloatDType:
    """A declarative choice of the float type results are stored in: float32 or float64.

    Examples
    --------
    >>> FloatDType().check("dtype", "float32")
    dtype('float32')
    >>> FloatDType().check("dtype", np.int64, "predict_proba_draws")
    Traceback (most recent call last):
    ...
    ValueError: The 'dtype' parameter of predict_proba_draws must be np.float32 or np.float64. Got <class 'numpy.int64'> instead.
    """  # noqa: E501

    def describe(self) -> str:
        """The allowed values in words, for error messages."""
        return "np.float32 or np.float64"

    def check(self, name: str, value: Any, func: str = "") -> np.dtype[Any]:
        """Return ``value`` as a NumPy dtype if it is float32 or float64; else raise."""
        try:
            dtype = np.dtype(value)
        except TypeError:
            dtype = None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            where = f" of {func}" if func else ""
            raise ValueError(
                f"The {name!r} parameter{where} must be {self.describe()}. Got {value!r} instead."
            )
        return dtype


#: A declarative rule for one parameter.
Rule = Interval | Options | Boolean | FloatDType


def check_params(
    constraints: Mapping[str, Rule], values: Mapping[str, Any], func: str
) -> dict[str, Any]:
    """Check ``values`` against ``constraints``; return them normalised.

    ``None`` passes unchecked (optional parameters); NumPy scalars come back as Python
    ``int``, ``float`` and ``bool``, so a ``np.int64(500)`` from ``np.arange`` is stored as
    ``500`` (JSON-serialisable, as files need).

    Examples
    --------
    >>> check_params({"draws": Interval(numbers.Integral, 1, None, "left")},
    ...              {"draws": np.int64(500)}, "fit")
    {'draws': 500}
    """
    out = dict(values)
    for name, rule in constraints.items():
        if name in values and values[name] is not None:
            out[name] = rule.check(name, values[name], func)
    return out


#: Ranges shared by several public functions.
N_BINS = Interval(numbers.Integral, 1, None, "left")
LEVEL = Interval(numbers.Real, 0, 1, "neither")
#: NUTS's target acceptance rate: a probability strictly between 0 and 1.
TARGET_ACCEPT = LEVEL
#: A finite real number > 0 (scales, tolerances, learning rates).
POSITIVE = Interval(numbers.Real, 0, None, "neither")
#: ``log_loss`` clips to ``[eps, 1 - eps]``: beyond 1/2 the clip range is empty.
EPS = Interval(numbers.Real, 0, 0.5, "left")


def validate_params(
    constraints: Mapping[str, Rule],
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Check the named arguments of a function against declared constraints on every call.

    ``None`` passes unchecked (for optional parameters). Error messages name the function,
    the parameter, the allowed values and the value given.

    Examples
    --------
    >>> @validate_params({"n_bins": N_BINS})
    ... def table(n_bins=15):
    ...     return n_bins
    >>> table(3)
    3
    >>> table(0)
    Traceback (most recent call last):
    ...
    ValueError: The 'n_bins' parameter of table must be an int >= 1. Got 0 instead.
    """

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        sig = inspect.signature(func)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:  # pragma: no cover - programming error
            raise TypeError(f"{func.__name__} has no parameters {sorted(unknown)}.")
        name = func.__qualname__.replace(".__init__", "")

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            bound = sig.bind(*args, **kwargs)
            bound.arguments.update(check_params(constraints, bound.arguments, name))
            return func(*bound.args, **bound.kwargs)

        return wrapper

    return decorate


def check_finite(
    arr: np.ndarray, name: str, *, columns: Sequence[Any] | np.ndarray | None = None
) -> np.ndarray:
    """Raise ``ValueError`` naming the first NaN or infinite entry of ``arr``.

    ``columns`` (the names of a 2-D array's columns, e.g. a DataFrame's) names the column
    in the message instead of its position.

    Examples
    --------
    >>> check_finite(np.array([[1.0, 2.0], [3.0, np.nan]]), "X", columns=["age", "bill"])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Input X contains NaN at row 1, column 'bill' (value nan). Remove or impute ...
    """
    if arr.dtype.kind in "fc":
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = np.unravel_index(int(np.flatnonzero(bad)[0]), arr.shape)
            value = complex(arr[idx]) if arr.dtype.kind == "c" else float(arr[idx])
            what = "NaN" if np.isnan(value) else "inf"
            where = _where(idx)
            if columns is not None and len(idx) == 2 and len(columns) == arr.shape[1]:
                where = f"row {int(idx[0])}, column {str(columns[int(idx[1])])!r}"
            raise ValueError(
                f"Input {name} contains {what} at {where} (value {value!r}). "
                f"Remove or impute non-finite values before calling."
            )
    return arr


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and np.isnan(value))


def check_labels_present(y: Any, name: str = "y") -> None:
    """Raise ``ValueError`` naming the first missing label (NaN or None) of ``y``.

    A pandas Series is named by its name too (the CSV column it came from).

    Examples
    --------
    >>> import pandas as pd
    >>> check_labels_present(pd.Series(["a", None, "b"], name="species"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Input y (column 'species') contains NaN at row 1; every row needs a label. ...
    """
    values = np.asarray(getattr(y, "values", y)).reshape(-1)
    if values.dtype.kind in "iubUS":
        return  # integers, booleans and numpy strings cannot be missing
    if values.dtype.kind in "fc":
        missing = np.flatnonzero(np.isnan(values)).tolist()
    else:
        missing = [i for i, v in enumerate(values) if _missing(v)]
    if missing:
        column = getattr(y, "name", None)
        label = f"{name} (column {str(column)!r})" if column is not None else name
        extra = f" and {len(missing) - 1} more row(s)" if len(missing) > 1 else ""
        first = values[missing[0]]
        what = "a missing label (None)" if first is None else "NaN"
        raise ValueError(
            f"Input {label} contains {what} at row {missing[0]}{extra}; every row needs a "
            "label. Remove those rows or fill in their labels."
        )


def text_columns(frame: Any) -> list[tuple[str, Any]]:
    """``(name, a text value)`` of each DataFrame column holding text, not numbers.

    Numbers stored as text (``"1.5"``) and missing values are not text; other inputs than
    DataFrames have no such columns.

    Examples
    --------
    >>> import pandas as pd
    >>> text_columns(pd.DataFrame({"a": [1.0], "b": ["x"], "c": ["2.5"]}))
    [('b', 'x')]
    """
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None or not hasattr(frame, "columns") or not hasattr(frame, "iloc"):
        return []
    import pandas as pd

    found = []
    for position, dtype in enumerate(dtypes):
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            continue
        column = frame.iloc[:, position]
        bad = column[pd.to_numeric(column, errors="coerce").isna() & column.notna()]
        if len(bad):
            found.append((str(frame.columns[position]), bad.iloc[0]))
    return found


def check_numeric_columns(frame: Any, name: str = "X") -> None:
    """Raise ``ValueError`` naming the columns of a DataFrame that hold text, not numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> check_numeric_columns(pd.DataFrame({"bill": [39.1], "island": ["Torgersen"]}))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X column 'island' holds text (e.g. 'Torgersen'), not numbers. bayescore ...
    """
    text = text_columns(frame)
    if text:
        names = ", ".join(repr(c) for c, _ in text)
        examples = ", ".join(repr(v) for _, v in text)
        plural = len(text) > 1
        raise ValueError(
            f"{name} column{'s' if plural else ''} {names} hold{'' if plural else 's'} text "
            f"(e.g. {examples}), not numbers. bayescore models take numeric features: leave "
            f"the column{'s' if plural else ''} out, or encode {'them' if plural else 'it'} "
            "as numbers (e.g. one-hot) first."
        )


def as_float_array(values: Any, name: str, *, ndim: Sequence[int] | None = None) -> np.ndarray:
    """Convert to a float64 ndarray, rejecting complex, object and empty input."""
    if hasattr(values, "values") and not isinstance(values, np.ndarray):
        values = values.values  # pandas / xarray
    try:
        arr = np.asarray(values)
    except Exception as exc:  # pragma: no cover - exotic containers
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported in {name}; got dtype {arr.dtype}.")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} must be numeric; got dtype {arr.dtype} that cannot be cast to float "
                f"({exc})."
            ) from exc
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim not in tuple(ndim):
        raise ValueError(
            f"{name} must have {' or '.join(str(d) for d in ndim)} dimensions; "
            f"got shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one value.")
    return arr


def check_probs(
    probs: Any,
    name: str = "probs",
    *,
    class_axis: int = -1,
    atol: float = SUM_TOL,
    hint: str = "Pass probabilities, or use nll_from_logits for raw scores.",
) -> np.ndarray:
    """Validate an array of class probabilities and return it as float64.

    A 1-D array (or one with a missing class axis, ``ndim == 1``) is read as the positive
    class probability of a binary problem and expanded to ``(..., 2)`` with class 1 last.

    Raises
    ------
    ValueError
        NaN/inf, negative values, values above 1, or rows that do not sum to 1 within
        ``atol``; the message names the first offending row and its value.
    """
    arr = as_float_array(probs, name)
    check_finite(arr, name)
    if arr.ndim == 1:
        if arr.min() < 0 or arr.max() > 1:
            i = int(np.flatnonzero((arr < 0) | (arr > 1))[0])
            raise ValueError(
                f"{name} holds binary positive-class probabilities and must lie in [0, 1]; "
                f"row {i} is {float(arr[i])!r}. {hint}"
            )
        return np.stack([1.0 - arr, arr], axis=-1)
    arr = np.moveaxis(arr, class_axis, -1) if class_axis != -1 else arr
    if arr.min() < 0:
        idx = np.unravel_index(int(np.flatnonzero(arr < 0)[0]), arr.shape)
        raise ValueError(
            f"{name} must be non-negative; {_where(idx[:-1])}, class {idx[-1]} is "
            f"{float(arr[idx])!r}. {hint}"
        )
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        idx = np.unravel_index(int(np.flatnonzero(bad)[0]), sums.shape)
        raise ValueError(
            f"{name} rows must sum to 1 (tolerance {atol:g}); {_where(idx)} sums to "
            f"{sums[idx]:.6g}. {hint}"
        )
    return arr


def check_logits(logits: Any, name: str = "logits") -> np.ndarray:
    """Validate real-valued scores; 1-D input is a binary logit ``log(p1 / p0)``."""
    arr = as_float_array(logits, name)
    check_finite(arr, name)
    if arr.ndim == 1:
        return np.stack([np.zeros_like(arr), arr], axis=-1)
    return arr


def check_label_range(y_idx: np.ndarray, n_classes: int, name: str = "y") -> np.ndarray:
    """Check integer class indices lie in ``[0, n_classes)``."""
    bad = (y_idx < 0) | (y_idx >= n_classes)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} contains class index {int(y_idx[i])} at row {i}, outside [0, {n_classes}) "
            f"for {n_classes} classes. Pass labels= to map labels to columns."
        )
    return y_idx


def check_consistent_length(n_expected: int, n_got: int, name_a: str, name_b: str) -> None:
    """Raise when two inputs disagree on the number of observations."""
    if n_expected != n_got:
        raise ValueError(
            f"Shape mismatch: {name_a} has {n_expected} observations but {name_b} has {n_got}."
        )


def check_sample_weight(sample_weight: Any, n_obs: int) -> np.ndarray | None:
    """Validate non-negative, finite weights of length ``n_obs`` (None passes through)."""
    if sample_weight is None:
        return None
    w = as_float_array(sample_weight, "sample_weight", ndim=(1,))
    check_finite(w, "sample_weight")
    check_consistent_length(n_obs, w.shape[0], "y", "sample_weight")
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"sample_weight must be non-negative; row {i} is {float(w[i])!r}.")
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to 0; at least one weight must be positive.")
    return w


__all__ = [
    "EPS",
    "LEVEL",
    "N_BINS",
    "SUM_TOL",
    "POSITIVE",
    "Boolean",
    "FloatDType",
    "Interval",
    "Options",
    "Rule",
    "as_float_array",
    "check_consistent_length",
    "check_finite",
    "check_label_range",
    "check_labels_present",
    "check_logits",
    "check_numeric_columns",
    "check_params",
    "check_probs",
    "check_sample_weight",
    "text_columns",
    "validate_params",
]
