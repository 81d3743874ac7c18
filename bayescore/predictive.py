r"""Posterior predictive class probabilities and pointwise log-likelihood, computed with numpy.

For each posterior draw :math:`s` the logits of new rows are
:math:`\eta_{sn} = \alpha_s + \tilde x_n B_s` with :math:`\tilde x` standardised by the
*training* mean and scale stored in the fit. The work is vectorised and chunked over draws,
with no ``pm.sample_posterior_predictive`` round trip, so it needs neither PyMC nor a compile.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy.special import expit, log_expit, softmax

from bayescore._names import (
    ATTR_KIND,
    CHAIN,
    CLASS,
    CONSTANT_DATA,
    DRAW,
    FEATURE,
    OBS,
    OBSERVED_DATA,
    POSTERIOR,
    as_idata,
    has_group,
)
from bayescore._validation import check_int, encode_labels
from bayescore.data import validate_X

__all__ = ["log_likelihood_draws", "predict_logits_draws", "predict_proba_draws"]

#: Elements per chunk of the (draws, obs, class) logits: ~32 MB of float64, cache-friendly
#: enough and small beside the output.
_CHUNK_ELEMENTS = 1 << 22


class _Posterior:
    """The pieces of a bayescore fit needed to predict: draws, standardisation, classes."""

    def __init__(self, idata_or_estimator: Any) -> None:
        idata = as_idata(idata_or_estimator)
        if not (has_group(idata, POSTERIOR) and has_group(idata, CONSTANT_DATA)):
            raise TypeError(
                "Expected a fitted bayescore estimator or the DataTree returned by "
                f"bayescore.fit; got {type(idata_or_estimator).__name__} without "
                "posterior/constant_data groups."
            )
        post, const = idata[POSTERIOR], idata[CONSTANT_DATA]
        self.kind = post.attrs.get(ATTR_KIND)
        missing = [v for v in ("intercept", "coef") if v not in post]
        missing += [v for v in ("x_mean", "x_scale", "classes") if v not in const]
        if self.kind not in ("logistic", "softmax") or missing:
            raise ValueError(
                "This DataTree was not made by bayescore.fit on a bayescore model "
                f"(kind={self.kind!r}, missing {missing}); predictions need its posterior "
                "'intercept'/'coef' and the stored standardisation."
            )
        self.idata = idata
        self.chains = post.sizes[CHAIN]
        self.draws = post.sizes[DRAW]
        self.mean = np.asarray(const["x_mean"].values, dtype=np.float64)
        self.scale = np.asarray(const["x_scale"].values, dtype=np.float64)
        self.classes = np.asarray(const["classes"].values)
        n_draws = self.chains * self.draws
        coef = post["coef"]
        intercept = post["intercept"]
        if self.kind == "logistic":
            # A 2-class problem as logits (0, eta): class 0 is the reference.
            self.intercept = intercept.values.reshape(n_draws)[:, None] * np.array([0.0, 1.0])
            beta = coef.transpose(CHAIN, DRAW, FEATURE).values.reshape(n_draws, -1)
            self.coef = beta[:, :, None] * np.array([0.0, 1.0])
        else:
            self.intercept = intercept.transpose(CHAIN, DRAW, CLASS).values.reshape(n_draws, -1)
            self.coef = coef.transpose(CHAIN, DRAW, FEATURE, CLASS).values.reshape(
                n_draws, self.mean.size, -1
            )

    @property
    def n_features(self) -> int:
        return int(self.mean.size)

    def standardise(self, X: Any) -> np.ndarray:
        X_arr = validate_X(X)
        if X_arr.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X_arr.shape[1]} features, but the model was fitted with "
                f"{self.n_features} features."
            )
        return (X_arr - self.mean) / self.scale

    def logits_chunks(self, Xs: np.ndarray, chunk_size: int | None):
        """Yield ``(slice, logits)`` with logits of shape (draws_in_chunk, obs, class)."""
        n_draws = self.intercept.shape[0]
        n_obs, k = Xs.shape[0], self.intercept.shape[1]
        if chunk_size is None:
            chunk_size = max(1, _CHUNK_ELEMENTS // max(1, n_obs * k))
        for start in range(0, n_draws, chunk_size):
            sl = slice(start, min(start + chunk_size, n_draws))
            logits = np.einsum("nf,sfk->snk", Xs, self.coef[sl], optimize=True)
            logits += self.intercept[sl][:, None, :]
            yield sl, logits

    def obs_coord(self, X: Any, n_obs: int) -> np.ndarray:
        index = getattr(X, "index", None)
        if index is not None and len(index) == n_obs:
            return np.asarray(index)
        if hasattr(X, "coords") and OBS in getattr(X, "coords", {}):
            return np.asarray(X.coords[OBS].values)
        return np.arange(n_obs)

    def wrap(self, values: np.ndarray, X: Any, with_class: bool, name: str) -> xr.DataArray:
        n_obs = values.shape[1]
        shape = (self.chains, self.draws) + values.shape[1:]
        coords: dict[str, Any] = {
            CHAIN: self.idata[POSTERIOR][CHAIN].values,
            DRAW: self.idata[POSTERIOR][DRAW].values,
            OBS: self.obs_coord(X, n_obs),
        }
        dims: tuple[str, ...] = (CHAIN, DRAW, OBS)
        if with_class:
            dims += (CLASS,)
            coords[CLASS] = self.classes
        return xr.DataArray(
            values.reshape(shape),
            dims=dims,
            coords=coords,
            name=name,
            attrs={"model": self.kind, "n_draws": self.chains * self.draws},
        )


def _check_chunk(chunk_size: int | None) -> int | None:
    if chunk_size is not None:
        check_int("chunk_size", chunk_size, min_value=1)
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
    post = _Posterior(idata)
    Xs = post.standardise(X)
    out = np.empty((post.intercept.shape[0], Xs.shape[0], post.classes.size))
    for sl, logits in post.logits_chunks(Xs, _check_chunk(chunk_size)):
        out[sl] = logits
    return post.wrap(out, X, with_class=True, name="logits")


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
    post = _Posterior(idata)
    Xs = post.standardise(X)
    out = np.empty((post.intercept.shape[0], Xs.shape[0], post.classes.size))
    for sl, logits in post.logits_chunks(Xs, _check_chunk(chunk_size)):
        if post.kind == "logistic":
            eta = logits[..., 1]
            out[sl, :, 1] = expit(eta)
            out[sl, :, 0] = expit(-eta)
        else:
            out[sl] = softmax(logits, axis=-1)
    return post.wrap(out, X, with_class=True, name="probs")


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
    post = _Posterior(idata)
    if (X is None) != (y is None):
        raise ValueError("Pass both X and y, or neither (to use the training data).")
    if X is None:
        X = post.idata[CONSTANT_DATA]["X"].values
        y_idx = np.asarray(post.idata[OBSERVED_DATA]["y"].values, dtype=np.int64)
    else:
        y_idx = encode_labels(y, post.classes, name="y")
    Xs = post.standardise(X)
    if y_idx.shape[0] != Xs.shape[0]:
        raise ValueError(
            f"Shape mismatch: X has {Xs.shape[0]} rows but y has {y_idx.shape[0]} labels."
        )
    out = np.empty((post.intercept.shape[0], Xs.shape[0]))
    rows = np.arange(Xs.shape[0])
    for sl, logits in post.logits_chunks(Xs, _check_chunk(chunk_size)):
        if post.kind == "logistic":
            sign = np.where(y_idx == 1, 1.0, -1.0)
            out[sl] = log_expit(sign * logits[..., 1])
        else:
            # log p(y) = -log sum_k exp(z_k - z_y): stable after subtracting the row max of
            # z - z_y (>= 0), and cheaper than a full log_softmax followed by a gather.
            diff = logits - logits[:, rows, y_idx][..., None]
            top = diff.max(axis=-1)
            np.subtract(diff, top[..., None], out=diff)
            np.exp(diff, out=diff)
            out[sl] = -(top + np.log(diff.sum(axis=-1)))
    return post.wrap(out, X, with_class=False, name="log_likelihood")
