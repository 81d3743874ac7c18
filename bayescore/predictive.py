r"""Posterior predictive class probabilities and pointwise log-likelihood, computed with numpy.

For each posterior draw :math:`s` the logits of new rows are
:math:`\eta_{sn} = \alpha_s + \tilde x_n B_s` with :math:`\tilde x` standardised by the
*training* mean and scale stored in the fit. The work is vectorised and chunked over draws,
with no ``pm.sample_posterior_predictive`` round trip, so it needs neither PyMC nor a compile.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr

from bayescore._inputs import encode_labels
from bayescore._memory import PREDICT_ELEMENTS
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
from bayescore._validation import Interval
from bayescore.data import validate_X
from bayescore.models import FAMILIES, Labels

__all__ = [
    "PosteriorPredictor",
    "log_likelihood_draws",
    "predict_logits_draws",
    "predict_proba_draws",
]


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
        self.mean = np.asarray(const["x_mean"].values, dtype=np.float64)
        self.scale = np.asarray(const["x_scale"].values, dtype=np.float64)
        self.classes = np.asarray(const["classes"].values)
        self.intercept, self.coef = self.family.linear_draws(post)

    @property
    def n_features(self) -> int:
        """Number of features the model was fitted with."""
        return int(self.mean.size)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[-1] if X.ndim else 0} features, but the model was fitted "
                f"with {self.n_features} features."
            )
        return (X - self.mean) / self.scale

    def _logits_chunks(
        self, Xs: np.ndarray, chunk_size: int | None
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield ``(slice, logits)`` with logits of shape (draws_in_chunk, obs, class)."""
        n_draws = self.intercept.shape[0]
        n_obs, k = Xs.shape[0], self.intercept.shape[1]
        if chunk_size is None:
            chunk_size = max(1, PREDICT_ELEMENTS // max(1, n_obs * k))
        for start in range(0, n_draws, chunk_size):
            sl = slice(start, min(start + chunk_size, n_draws))
            logits = np.einsum("nf,sfk->snk", Xs, self.coef[sl], optimize=True)
            logits += self.intercept[sl][:, None, :]
            yield sl, logits

    def _wrap(self, values: np.ndarray, obs: Any, with_class: bool, name: str) -> xr.DataArray:
        shape = (self.chain_coord.size, self.draw_coord.size) + values.shape[1:]
        coords: dict[str, Any] = {CHAIN: self.chain_coord, DRAW: self.draw_coord}
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
            attrs={"model": self.family.name, "n_draws": int(values.shape[0])},
        )

    def logits(
        self, X: np.ndarray, obs: Any = None, chunk_size: int | None = None
    ) -> xr.DataArray:
        """Logits ``(chain, draw, obs, class)`` of validated float rows ``X``."""
        Xs = self._standardise(X)
        out = np.empty((self.intercept.shape[0], Xs.shape[0], self.classes.size))
        for sl, logits in self._logits_chunks(Xs, chunk_size):
            out[sl] = logits
        return self._wrap(out, obs, with_class=True, name="logits")

    def proba(self, X: np.ndarray, obs: Any = None, chunk_size: int | None = None) -> xr.DataArray:
        """Probabilities ``(chain, draw, obs, class)`` of validated float rows ``X``."""
        Xs = self._standardise(X)
        out = np.empty((self.intercept.shape[0], Xs.shape[0], self.classes.size))
        for sl, logits in self._logits_chunks(Xs, chunk_size):
            self.family.probs(logits, out[sl])
        return self._wrap(out, obs, with_class=True, name="probs")

    def log_likelihood(
        self, X: np.ndarray, y_idx: np.ndarray, obs: Any = None, chunk_size: int | None = None
    ) -> xr.DataArray:
        """``log p(y_n | theta_s)`` ``(chain, draw, obs)`` of validated rows and indices."""
        Xs = self._standardise(X)
        if y_idx.shape[0] != Xs.shape[0]:
            raise ValueError(
                f"Shape mismatch: X has {Xs.shape[0]} rows but y has {y_idx.shape[0]} labels."
            )
        out = np.empty((self.intercept.shape[0], Xs.shape[0]))
        labels = Labels.of(y_idx)
        for sl, logits in self._logits_chunks(Xs, chunk_size):
            eta = self.family.free_logits(logits)
            out[sl] = self.family.log_likelihood(eta, labels, reduce=False)
        return self._wrap(out, obs, with_class=False, name="log_likelihood")


def _rows(X: Any) -> tuple[np.ndarray, Any]:
    """Validated float rows of ``X`` and its row labels (DataFrame index, ``obs`` coord)."""
    index = getattr(X, "index", None)
    if index is None and isinstance(X, xr.DataArray) and OBS in X.coords:
        index = X.coords[OBS].values
    return validate_X(X), None if index is None else np.asarray(index)


def _check_chunk(chunk_size: int | None) -> int | None:
    if chunk_size is not None:
        return int(Interval(numbers.Integral, 1, None, "left").check("chunk_size", chunk_size))
    return chunk_size


def predict_logits_draws(idata: Any, X: Any, *, chunk_size: int | None = None) -> xr.DataArray:
    r"""Logits of every class for every posterior draw and row of ``X``.

    For logistic models class 0 is the reference (logit 0) and class 1 has
    :math:`\alpha + \tilde x \beta`, so ``softmax`` of the result gives the probabilities.

    Parameters
    ----------
    idata : DataTree or fitted estimator
        From :func:`bayescore.fit` on a :func:`bayescore.build_model` model.
    X : array-like of shape (n_obs, n_features), DataFrame or DataArray
    chunk_size : int, optional
        Draws per chunk (default: about 4 million logits per chunk).

    Returns
    -------
    DataArray
        Dims ``(chain, draw, obs, class)``.
    """
    X_arr, obs = _rows(X)
    return PosteriorPredictor(idata).logits(X_arr, obs, _check_chunk(chunk_size))


def predict_proba_draws(idata: Any, X: Any, *, chunk_size: int | None = None) -> xr.DataArray:
    r"""Posterior class probabilities for new rows, one set per posterior draw.

    .. math::

        p_{snk} = \mathrm{softmax}_k(\alpha_s + \tilde x_n B_s)

    Parameters
    ----------
    idata : DataTree or fitted estimator
        From :func:`bayescore.fit` on a :func:`bayescore.build_model` model.
    X : array-like of shape (n_obs, n_features), DataFrame or DataArray (obs, feature)
        Raw features; the training standardisation is applied.
    chunk_size : int, optional
        Draws per chunk (default: about 4 million logits per chunk).

    Returns
    -------
    DataArray
        Dims ``(chain, draw, obs, class)``, ``class`` coord = class labels, rows sum to 1.
        The ``obs`` coordinate is the row labels of ``X`` (a DataFrame's index, a
        DataArray's ``obs`` coordinate); array rows get none, so they stay positional.
        The mean over ``chain, draw`` is the posterior predictive probability.

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
    """
    X_arr, obs = _rows(X)
    return PosteriorPredictor(idata).proba(X_arr, obs, _check_chunk(chunk_size))


def log_likelihood_draws(
    idata: Any, X: Any = None, y: Any = None, *, chunk_size: int | None = None
) -> xr.DataArray:
    r"""Pointwise log-likelihood :math:`\log p(y_n \mid \theta_s)` for every draw.

    Computed in log space (``log_softmax``/``log_expit``), so it is exact and finite for
    logits of any size. This is what PSIS-LOO and WAIC consume.

    Parameters
    ----------
    idata : DataTree or fitted estimator
    X : array-like of shape (n_obs, n_features), optional
        Defaults to the training features stored in the fit's ``constant_data`` group.
    y : array-like of shape (n_obs,), optional
        Labels (class labels of the fit); defaults to the training labels. Labels not seen
        in training raise ``ValueError``.
    chunk_size : int, optional

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
    else:
        X_arr, obs = _rows(X)
        y_idx = encode_labels(y, predictor.classes, source="the classes of the fit")
    return predictor.log_likelihood(X_arr, y_idx, obs, _check_chunk(chunk_size))
