r"""Posterior predictive class probabilities and pointwise log-likelihood, computed with numpy.

For each posterior draw :math:`s` the logits of new rows are
:math:`\eta_{sn} = \alpha_s + \tilde x_n B_s` with :math:`\tilde x` standardised by the
*training* mean and scale stored in the fit, with no ``pm.sample_posterior_predictive``
round trip, so it needs neither PyMC nor a compile.

The work goes over tiles of rows x draws (:mod:`bayescore._rowblocks`): the posterior
predictive mean of any number of rows needs a few tiles of memory beside its ``(n_obs,
n_classes)`` result, and arrays of every draw are filled tile by tile, in float32 on
request. ``draws=`` thins the posterior first.

A Dask ``X`` (array, DataFrame, or a DataArray over one) gives lazy results instead, one
task per row partition of ``X`` (:mod:`bayescore._dask`): DataArrays over Dask chunked
along ``obs`` like ``X``, which compute on the active scheduler (a ``distributed.Client``
or Dask's local threads).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._dask import DaskRows, dask_labels, dask_rows, is_dask, map_rows
from bayescore._inputs import encode_labels
from bayescore._names import (
    ATTR_KIND,
    CHAIN,
    CLASS,
    CONSTANT_DATA,
    DRAW,
    OBS,
    OBSERVED_DATA,
    POSTERIOR,
    as_idata,
    has_group,
)
from bayescore._rowblocks import (
    LinearDraws,
    draws_task,
    log_likelihood_task,
    mean_log_proba_task,
    mean_proba_task,
)
from bayescore._validation import FloatDType, Interval, Rule, validate_params
from bayescore.data import validate_X
from bayescore.models import FAMILIES

__all__ = [
    "PosteriorPredictor",
    "draw_positions",
    "log_likelihood_draws",
    "predict_logits_draws",
    "predict_proba_draws",
]

Positions = NDArray[np.intp]

#: Rules of the keyword arguments shared by the public functions below.
_CONSTRAINTS: dict[str, Rule] = {
    "chunk_size": Interval(numbers.Integral, 1, None, "left"),
    "dtype": FloatDType(),
}


def draw_positions(draws: Any, n_per_chain: int, func: str = "predict_proba_draws") -> Positions:
    """Positions along ``draw`` (the same in every chain) that ``draws=`` keeps.

    Parameters
    ----------
    draws : None, int, slice or sequence of int
        ``None``: every draw. An int ``n``: ``n`` draws **per chain**, evenly spaced from
        the chain's first draw to its last (``round(linspace(0, n_draws - 1, n))``), so
        every chain keeps its length and the ``draw`` coordinate says which were kept.
        A slice (``slice(None, None, 10)``: every 10th) or a sequence of positions selects
        them as NumPy indexing would; positions may not repeat.
    n_per_chain : int
        Draws per chain of the fit.
    func : str
        Name used in error messages.

    Returns
    -------
    ndarray of intp

    Examples
    --------
    >>> draw_positions(5, 1000).tolist()
    [0, 250, 500, 749, 999]
    >>> draw_positions(slice(None, None, 400), 1000).tolist()
    [0, 400, 800]
    >>> draw_positions(1001, 1000)
    Traceback (most recent call last):
    ...
    ValueError: The 'draws' parameter of predict_proba_draws must be an int in [1, 1000]. Got 1001 instead.
    """  # noqa: E501
    every = np.arange(n_per_chain)
    if draws is None:
        return every
    if isinstance(draws, numbers.Integral) and not isinstance(draws, bool | np.bool_):
        n = Interval(numbers.Integral, 1, n_per_chain, "both").check("draws", int(draws), func)
        return np.round(np.linspace(0, n_per_chain - 1, n)).astype(np.intp)
    if isinstance(draws, slice):
        positions = every[draws]
    else:
        arr = np.asarray(draws)
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise TypeError(
                f"The 'draws' parameter of {func} must be None, an int (draws per chain), a "
                f"slice or a 1-D sequence of int positions along 'draw'. Got {draws!r} instead."
            )
        out = (arr >= n_per_chain) | (arr < -n_per_chain)
        if out.any():
            raise ValueError(
                f"The 'draws' parameter of {func} holds position {int(arr[out][0])}, but each "
                f"chain has {n_per_chain} draws (positions 0 to {n_per_chain - 1})."
            )
        positions = every[arr]
        if np.unique(positions).size != positions.size:
            raise ValueError(
                f"The 'draws' parameter of {func} repeats draws; each draw may be kept once "
                "(a repeated draw would count twice in every mean over draws)."
            )
    if positions.size == 0:
        raise ValueError(f"The 'draws' parameter of {func} selects no draws ({draws!r}).")
    return np.asarray(positions, dtype=np.intp)


class PosteriorPredictor:
    """Predictions from a bayescore fit for rows that are already validated.

    The public functions below validate ``X`` and call this; the estimators validate ``X``
    once with scikit-learn and call it directly, passing the row labels they found.

    Parameters
    ----------
    idata_or_estimator : DataTree or fitted estimator
        From :func:`bayescore.fit` on a :func:`bayescore.build_model` model.

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = np.where(X[:, 0] > 0, "yes", "no")
    >>> idata = bs.fit(bs.build_model(X, y), "advi", draws=20, random_seed=0, warn=False)
    >>> PosteriorPredictor(idata).proba(X[:3]).sizes["class"]
    2
    """

    def __init__(self, idata_or_estimator: Any) -> None:
        idata = as_idata(idata_or_estimator)
        if not (has_group(idata, POSTERIOR) and has_group(idata, CONSTANT_DATA)):
            raise TypeError(
                "Expected a fitted bayescore estimator or the DataTree returned by "
                f"bayescore.fit; got {type(idata_or_estimator).__name__} without "
                "posterior/constant_data groups."
            )
        post, const = idata[POSTERIOR].to_dataset(), idata[CONSTANT_DATA]
        kind = post.attrs.get(ATTR_KIND)
        missing = [v for v in ("intercept", "coef") if v not in post]
        missing += [v for v in ("x_mean", "x_scale", "classes") if v not in const]
        if kind not in FAMILIES or missing:
            raise ValueError(
                "This DataTree was not made by bayescore.fit on a bayescore model "
                f"(kind={kind!r}, missing {missing}); predictions need its posterior "
                "'intercept'/'coef' and the stored standardisation."
            )
        self.idata = idata
        self.family = FAMILIES[kind]
        self.chain_coord = post[CHAIN].values
        self.draw_coord = post[DRAW].values
        self.classes = np.asarray(const["classes"].values)
        intercept, coef = self.family.linear_draws(post)
        self.linear = LinearDraws(
            self.family,
            np.ascontiguousarray(intercept, dtype=np.float64),
            np.ascontiguousarray(coef, dtype=np.float64),
            np.asarray(const["x_mean"].values, dtype=np.float64),
            np.asarray(const["x_scale"].values, dtype=np.float64),
        )

    @property
    def n_features(self) -> int:
        """Number of features the model was fitted with."""
        return self.linear.n_features

    def check_features(self, n_features: int) -> None:
        """Raise ``ValueError`` unless rows have the model's number of features."""
        if n_features != self.n_features:
            raise ValueError(
                f"X has {n_features} features, but the model was fitted with "
                f"{self.n_features} features."
            )

    def _check(self, X: np.ndarray) -> np.ndarray:
        self.check_features(X.shape[-1] if X.ndim == 2 else 0)
        return X

    def select(
        self, draws: Any = None, chunk_size: int | None = None, func: str = "predict_proba_draws"
    ) -> tuple[LinearDraws, np.ndarray]:
        """The linear draws kept by ``draws=`` (see :func:`draw_positions`) and their coords."""
        n_chains, n_per_chain = self.chain_coord.size, self.draw_coord.size
        positions = draw_positions(draws, n_per_chain, func)
        linear = self.linear
        if positions.size != n_per_chain:
            flat = (np.arange(n_chains)[:, None] * n_per_chain + positions).ravel()
            linear = linear.take(flat)
        return linear.with_tile_cap(chunk_size), self.draw_coord[positions]

    def _wrap(
        self, values: Any, obs: Any, with_class: bool, name: str, draw_coord: np.ndarray
    ) -> xr.DataArray:
        """(S, N[, K]) values (numpy or dask, already (C, D, ...) for dask) as a DataArray."""
        tail = values.shape[-2:] if with_class else values.shape[-1:]
        shape = (self.chain_coord.size, draw_coord.size, *tail)
        coords: dict[str, Any] = {CHAIN: self.chain_coord, DRAW: draw_coord}
        if obs is not None:
            # Only real row labels (a DataFrame's index, an obs coordinate) become the obs
            # coordinate: scorers match rows by it, so made-up labels 0..n-1 would reorder
            # a y whose own index happens to be a permutation of them.
            coords[OBS] = np.asarray(obs)
        dims: tuple[str, ...] = (CHAIN, DRAW, OBS)
        if with_class:
            dims += (CLASS,)
            coords[CLASS] = self.classes
        return xr.DataArray(
            values.reshape(shape),
            dims=dims,
            coords=coords,
            name=name,
            attrs={"model": self.family.name, "n_draws": int(shape[0] * shape[1])},
        )

    # ------------------------------------------------------------------ in memory

    def mean_proba(self, X: np.ndarray) -> np.ndarray:
        """Posterior predictive mean probabilities ``(n_obs, n_classes)`` of validated rows."""
        return self.linear.mean_proba(self._check(X))

    def mean_log_proba(self, X: np.ndarray) -> np.ndarray:
        """Log of :meth:`mean_proba`, computed in log space (log-mean-exp over draws)."""
        return self.linear.mean_log_proba(self._check(X))

    def logits(
        self,
        X: np.ndarray,
        obs: Any = None,
        chunk_size: int | None = None,
        *,
        draws: Any = None,
        dtype: Any = None,
    ) -> xr.DataArray:
        """Logits ``(chain, draw, obs, class)`` of validated float rows ``X``."""
        return self._per_class(X, obs, chunk_size, draws, dtype, "logits")

    def proba(
        self,
        X: np.ndarray,
        obs: Any = None,
        chunk_size: int | None = None,
        *,
        draws: Any = None,
        dtype: Any = None,
    ) -> xr.DataArray:
        """Probabilities ``(chain, draw, obs, class)`` of validated float rows ``X``."""
        return self._per_class(X, obs, chunk_size, draws, dtype, "probs")

    def _per_class(
        self, X: np.ndarray, obs: Any, chunk_size: int | None, draws: Any, dtype: Any, name: str
    ) -> xr.DataArray:
        """Logits or probabilities of every kept draw, filled tile by tile into one array."""
        func = "predict_logits_draws" if name == "logits" else "predict_proba_draws"
        linear, draw_coord = self.select(draws, chunk_size, func)
        out = np.empty((linear.n_draws, self._check(X).shape[0], linear.n_classes), _dtype(dtype))
        fill = linear.fill_logits if name == "logits" else linear.fill_proba
        fill(X, out)
        return self._wrap(out, obs, True, name, draw_coord)

    def log_likelihood(
        self,
        X: np.ndarray,
        y_idx: np.ndarray,
        obs: Any = None,
        chunk_size: int | None = None,
        *,
        draws: Any = None,
        dtype: Any = None,
    ) -> xr.DataArray:
        """``log p(y_n | theta_s)`` ``(chain, draw, obs)`` of validated rows and indices."""
        self._check(X)
        if y_idx.shape[0] != X.shape[0]:
            raise ValueError(
                f"Shape mismatch: X has {X.shape[0]} rows but y has {y_idx.shape[0]} labels."
            )
        linear, draw_coord = self.select(draws, chunk_size, "log_likelihood_draws")
        out = np.empty((linear.n_draws, X.shape[0]), _dtype(dtype))
        linear.fill_log_likelihood(X, np.asarray(y_idx, dtype=np.int64), out)
        return self._wrap(out, obs, False, "log_likelihood", draw_coord)

    # ------------------------------------------------------------------ lazy (Dask X)

    def lazy_mean_proba(self, rows: DaskRows) -> Any:
        """:meth:`mean_proba` of Dask rows: a Dask array ``(n_obs, n_classes)``, not computed."""
        self.check_features(rows.n_features)
        return map_rows(mean_proba_task, rows, "nk", shared=self.linear, new_axes=self._k())

    def lazy_mean_log_proba(self, rows: DaskRows) -> Any:
        """:meth:`mean_log_proba` of Dask rows: a Dask array, not computed."""
        self.check_features(rows.n_features)
        return map_rows(mean_log_proba_task, rows, "nk", shared=self.linear, new_axes=self._k())

    def _k(self) -> dict[str, int]:
        return {"k": int(self.classes.size)}

    def lazy_draws(
        self,
        rows: DaskRows,
        what: str,
        *,
        chunk_size: int | None = None,
        draws: Any = None,
        dtype: Any = None,
    ) -> xr.DataArray:
        """``"proba"`` or ``"logits"`` of Dask rows: a DataArray over Dask, chunked like X."""
        self.check_features(rows.n_features)
        func = "predict_proba_draws" if what == "proba" else "predict_logits_draws"
        linear, draw_coord = self.select(draws, chunk_size, func)
        out_dtype = _dtype(dtype)
        lazy = map_rows(
            draws_task,
            rows,
            "cdnk",
            shared=(linear, what, out_dtype, self.chain_coord.size),
            new_axes={"c": self.chain_coord.size, "d": draw_coord.size, **self._k()},
            dtype=out_dtype,
        )
        name = "probs" if what == "proba" else "logits"
        return self._wrap(lazy, rows.obs, True, name, draw_coord)

    def lazy_log_likelihood(
        self,
        rows: DaskRows,
        y: Any,
        *,
        chunk_size: int | None = None,
        draws: Any = None,
        dtype: Any = None,
    ) -> xr.DataArray:
        """:meth:`log_likelihood` of Dask rows and labels ``y`` (numpy or Dask), lazily.

        Numpy labels are encoded now (errors at the call); Dask labels in each task, whose
        errors name the partition and the global row.
        """
        self.check_features(rows.n_features)
        linear, draw_coord = self.select(draws, chunk_size, "log_likelihood_draws")
        encoded = not is_dask(y)
        if encoded:
            y = encode_labels(y, self.classes, source="the classes of the fit")
        labels = dask_labels(y, rows.chunks)
        out_dtype = _dtype(dtype)
        lazy = map_rows(
            log_likelihood_task,
            rows,
            "cdn",
            labels=labels,
            shared=(linear, self.classes, encoded, out_dtype, self.chain_coord.size),
            new_axes={"c": self.chain_coord.size, "d": draw_coord.size},
            dtype=out_dtype,
        )
        return self._wrap(lazy, rows.obs, False, "log_likelihood", draw_coord)


def _dtype(dtype: Any, func: str = "predict_proba_draws") -> np.dtype[Any]:
    return np.dtype(np.float64) if dtype is None else FloatDType().check("dtype", dtype, func)


# ---------------------------------------------------------------------- public functions


def _rows(X: Any) -> tuple[np.ndarray, Any]:
    """Validated float rows of ``X`` and its row labels (DataFrame index, ``obs`` coord)."""
    index = getattr(X, "index", None)
    if index is None and isinstance(X, xr.DataArray) and OBS in X.coords:
        index = X.coords[OBS].values
    return validate_X(X), None if index is None else np.asarray(index)


@validate_params(_CONSTRAINTS)
def predict_logits_draws(
    idata: Any,
    X: Any,
    *,
    draws: Any = None,
    dtype: Any = None,
    chunk_size: int | None = None,
) -> xr.DataArray:
    r"""Logits of every class for every posterior draw and row of ``X``.

    For logistic models class 0 is the reference (logit 0) and class 1 has
    :math:`\alpha + \tilde x \beta`, so ``softmax`` of the result gives the probabilities.

    Parameters
    ----------
    idata : DataTree or fitted estimator
        From :func:`bayescore.fit` on a :func:`bayescore.build_model` model.
    X : array-like of shape (n_obs, n_features), DataFrame, DataArray, or Dask array/DataFrame
    draws, dtype
        As in :func:`predict_proba_draws`.
    chunk_size : int, optional
        Most draws computed in one tile (default: as the memory budget allows).

    Returns
    -------
    DataArray
        Dims ``(chain, draw, obs, class)``; over Dask, chunked along ``obs`` like ``X``.
    """
    predictor = PosteriorPredictor(idata)
    if is_dask(X):
        rows = dask_rows(X)
        return predictor.lazy_draws(
            rows, "logits", chunk_size=chunk_size, draws=draws, dtype=dtype
        )
    X_arr, obs = _rows(X)
    return predictor.logits(X_arr, obs, chunk_size, draws=draws, dtype=dtype)


@validate_params(_CONSTRAINTS)
def predict_proba_draws(
    idata: Any,
    X: Any,
    *,
    draws: Any = None,
    dtype: Any = None,
    chunk_size: int | None = None,
) -> xr.DataArray:
    r"""Posterior class probabilities for new rows, one set per posterior draw.

    .. math::

        p_{snk} = \mathrm{softmax}_k(\alpha_s + \tilde x_n B_s)

    The result holds ``chains x draws x n_obs x n_classes`` numbers (8 bytes each, 4 with
    ``dtype=np.float32``): for the posterior predictive mean alone, use an estimator's
    ``predict_proba``, which needs no such array.

    Parameters
    ----------
    idata : DataTree or fitted estimator
        From :func:`bayescore.fit` on a :func:`bayescore.build_model` model.
    X : array-like of shape (n_obs, n_features), DataFrame or DataArray (obs, feature)
        Raw features; the training standardisation is applied. A Dask array or DataFrame
        (or a DataArray over one) gives a lazy result (see Returns); a Dask DataFrame's
        partitions are counted first (``to_dask_array(lengths=True)``), and its rows are
        positional (no ``obs`` coordinate).
    draws : None, int, slice or sequence of int, optional
        Thin the posterior first. An int ``n`` keeps ``n`` draws **per chain**, evenly
        spaced over each chain; a slice or positions select along ``draw`` in every chain
        (see :func:`draw_positions`). The ``draw`` coordinate names the draws kept.
    dtype : np.float32 or np.float64, optional
        Type of the stored result (default float64). float32 halves the memory; each tile
        is still computed in float64 and rounded once.
    chunk_size : int, optional
        Most draws computed in one tile (default: as the memory budget allows).

    Returns
    -------
    DataArray
        Dims ``(chain, draw, obs, class)``, ``class`` coord = class labels, rows sum to 1.
        The ``obs`` coordinate is the row labels of ``X`` (a DataFrame's index, a
        DataArray's ``obs`` coordinate); array rows get none, so they stay positional.
        The mean over ``chain, draw`` is the posterior predictive probability. For a Dask
        ``X``: a DataArray over a Dask array with one chunk per row partition of ``X``
        (all draws and classes of those rows), computed on the active scheduler when
        asked (``.compute()``, or by :func:`bayescore.score`, which reduces it lazily).

    See Also
    --------
    log_likelihood_draws, bayescore.posterior_predictive_nll

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = np.where(X[:, 0] > 0, "yes", "no")
    >>> idata = bs.fit(bs.build_model(X, y), "advi", draws=50, random_seed=0, warn=False)
    >>> probs = bs.predict_proba_draws(idata, X[:3])
    >>> probs.dims, probs["class"].values.tolist()
    (('chain', 'draw', 'obs', 'class'), ['no', 'yes'])
    >>> thin = bs.predict_proba_draws(idata, X[:3], draws=5, dtype=np.float32)
    >>> thin["draw"].values.tolist(), thin.dtype
    ([0, 12, 24, 37, 49], dtype('float32'))
    """
    predictor = PosteriorPredictor(idata)
    if is_dask(X):
        rows = dask_rows(X)
        return predictor.lazy_draws(rows, "proba", chunk_size=chunk_size, draws=draws, dtype=dtype)
    X_arr, obs = _rows(X)
    return predictor.proba(X_arr, obs, chunk_size, draws=draws, dtype=dtype)


@validate_params(_CONSTRAINTS)
def log_likelihood_draws(
    idata: Any,
    X: Any = None,
    y: Any = None,
    *,
    draws: Any = None,
    dtype: Any = None,
    chunk_size: int | None = None,
) -> xr.DataArray:
    r"""Pointwise log-likelihood :math:`\log p(y_n \mid \theta_s)` for every draw.

    Computed in log space (``log_softmax``/``log_expit``), so it is exact and finite for
    logits of any size. This is what PSIS-LOO and WAIC consume.

    Parameters
    ----------
    idata : DataTree or fitted estimator
    X : array-like of shape (n_obs, n_features), optional
        Defaults to the training features stored in the fit's ``constant_data`` group. A
        Dask ``X`` gives a lazy result chunked like it (``y`` then may be numpy or Dask,
        lined up with ``X``'s partitions by position).
    y : array-like of shape (n_obs,), optional
        Labels (class labels of the fit); defaults to the training labels. Labels not seen
        in training raise ``ValueError`` (for Dask labels, when computed, naming the
        partition).
    draws, dtype
        As in :func:`predict_proba_draws`.
    chunk_size : int, optional
        Most draws computed in one tile.

    Returns
    -------
    DataArray
        Dims ``(chain, draw, obs)``, in nats (higher is better).

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2)); y = (X[:, 0] > 0).astype(int)
    >>> idata = bs.fit(bs.build_model(X, y), "advi", draws=50, random_seed=0, warn=False)
    >>> bool((bs.log_likelihood_draws(idata) <= 0).all())
    True
    """
    predictor = PosteriorPredictor(idata)
    if (X is None) != (y is None):
        raise ValueError("Pass both X and y, or neither (to use the training data).")
    if X is None:
        X_arr = np.asarray(predictor.idata[CONSTANT_DATA]["X"].values, dtype=np.float64)
        y_idx = np.asarray(predictor.idata[OBSERVED_DATA]["y"].values, dtype=np.int64)
        obs = None
    elif is_dask(X):
        return predictor.lazy_log_likelihood(
            dask_rows(X), y, chunk_size=chunk_size, draws=draws, dtype=dtype
        )
    else:
        X_arr, obs = _rows(X)
        y_idx = encode_labels(y, predictor.classes, source="the classes of the fit")
    return predictor.log_likelihood(X_arr, y_idx, obs, chunk_size, draws=draws, dtype=dtype)
