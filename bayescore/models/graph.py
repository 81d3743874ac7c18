r"""The PyMC graph of a bayescore model: Bayesian logistic and softmax regression.

.. math::

    \text{logistic:}\quad y_n \sim \mathrm{Bernoulli}(\sigma(\alpha + \tilde x_n \beta))
    \qquad
    \text{softmax:}\quad y_n \sim \mathrm{Categorical}(\mathrm{softmax}(\alpha + \tilde x_n B))

with :math:`\tilde x = (x - \bar x) / s` standardised inside the model by the training mean
and population sd (ddof=0; constant columns keep scale 1). Default priors are
``Normal(0, 2.5)`` on the intercept(s) and on the standardised coefficients.
Coefficients are also reported on the original feature scale as deterministics.

The graph is built from a :class:`~bayescore.models.spec.ModelSpec`, and only by the routes
that run PyMC (NUTS through PyMC or numpyro, stochastic ADVI, zero-sum models); the numpy
fitters work on the specification alone. Each model built here remembers its
specification (:func:`model_spec`), so a hand-built :func:`build_model` result is fitted
exactly as the specification would be.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bayescore._inputs import encode_labels
from bayescore._names import CLASS, FEATURE, OBS
from bayescore._pymc import import_pymc
from bayescore._validation import Interval
from bayescore.data import encode_classes, feature_names_of, validate_X
from bayescore.models.build import make_spec
from bayescore.models.families import family
from bayescore.models.spec import ModelSpec

if TYPE_CHECKING:
    import pymc as pm
    from numpy.typing import ArrayLike

__all__ = ["build_from_spec", "build_model", "free_names", "model_spec", "pymc_model"]

#: The specification of every model built here (weakly held: it goes with its model).
_SPECS: weakref.WeakKeyDictionary[pm.Model, ModelSpec] = weakref.WeakKeyDictionary()

BATCH_SIZE = Interval(numbers.Integral, 1, None, "left")


def model_spec(model: pm.Model | ModelSpec) -> ModelSpec | None:
    """The :class:`ModelSpec` of a model made by :func:`build_model` (else None).

    A :class:`ModelSpec` is its own specification.
    """
    if isinstance(model, ModelSpec):
        return model
    return _SPECS.get(model)


def pymc_model(model: pm.Model | ModelSpec) -> pm.Model:
    """``model`` itself, or the PyMC model of a :class:`ModelSpec` (built now)."""
    return build_from_spec(model) if isinstance(model, ModelSpec) else model


def free_names(model: pm.Model | ModelSpec) -> list[str]:
    """Names of the model's free random variables."""
    if isinstance(model, ModelSpec):
        return list(family(model.kind).free_names(model))
    return [rv.name for rv in model.free_RVs]


def build_from_spec(
    spec: ModelSpec, batch_size: int | None = None, data_from: pm.Model | None = None
) -> pm.Model:
    """Build the PyMC model for ``spec``; with ``batch_size`` the likelihood is minibatched.

    :func:`build_model` validates the user's input into a :class:`ModelSpec` and calls
    this; inference calls it again to rebuild a model around a minibatch likelihood, passing
    the full-data model as ``data_from`` so that the minibatches are drawn from that model's
    data containers instead of new copies of ``X`` (at N = 10^6 each copy is 8 N D bytes).
    """
    pm = import_pymc()
    import pytensor
    import pytensor.tensor as pt

    fam = family(spec.kind)
    n_obs, _ = spec.X.shape
    coords: dict[str, object] = {FEATURE: spec.feature_names.tolist(), **fam.coords(spec)}
    if batch_size is None:
        coords[OBS] = np.arange(n_obs)

    with pm.Model(coords=coords) as model:
        x_mean = pm.Data("x_mean", spec.standardization.mean, dims=FEATURE)
        x_scale = pm.Data("x_scale", spec.standardization.scale, dims=FEATURE)
        if batch_size is None:
            # pm.Data would store a copy (8 N D bytes: 160 MB at N = 10^6, D = 20); the
            # model never writes to X, so a shared variable borrows the validated array.
            X = pytensor.shared(spec.X, "X", borrow=True)
            model.register_data_var(X, dims=(OBS, FEATURE))
            # int32 labels: what pm.Minibatch needs, so a minibatch model can share them.
            y_obs = pm.Data("y_obs", spec.y.astype(np.int32), dims=OBS)
            obs_kwargs: dict[str, object] = {"dims": OBS}
        else:
            if data_from is not None and "X" in data_from.named_vars:
                full_X, full_y = data_from["X"], data_from["y_obs"]
            else:  # pm.Minibatch rejects int64 labels: int32
                full_X, full_y = np.asarray(spec.X, np.float64), spec.y.astype(np.int32)
            X, y_obs = pm.Minibatch(full_X, full_y, batch_size=batch_size)
            obs_kwargs = {"total_size": n_obs}
        Xs = (X - x_mean) / x_scale
        intercept, coef = fam.define(pm, pt, spec, Xs, y_obs, obs_kwargs)
        # Coefficients on the original feature scale: x beta_s = ((x - m) / s) beta_s.
        multiclass = coef.ndim == 2  # (feature, class) for softmax, (feature,) logistic
        scale = x_scale[:, None] if multiclass else x_scale
        pm.Deterministic(
            "coef_original", coef / scale, dims=(FEATURE, CLASS) if multiclass else FEATURE
        )
        pm.Deterministic(
            "intercept_original",
            intercept - pt.sum(coef * (x_mean[:, None] if multiclass else x_mean) / scale, axis=0),
            dims=CLASS if multiclass else None,
        )
    _SPECS[model] = spec
    return model


def build_model(
    X: ArrayLike,
    y: ArrayLike,
    kind: str = "logistic",
    *,
    prior_scale: float = 2.5,
    intercept_prior_scale: float = 2.5,
    prior: str = "normal",
    prior_nu: float = 3.0,
    flat_intercept: bool = False,
    coding: str = "reference",
    classes: ArrayLike | None = None,
    feature_names: Sequence[object] | None = None,
    batch_size: int | None = None,
) -> pm.Model:
    r"""Build a Bayesian logistic or softmax regression as a :class:`pymc.Model`.

    .. math::

        \eta_n = \alpha + \frac{x_n - \bar x}{s} B, \qquad
        p(y_n = k) = \mathrm{softmax}(\eta_n)_k

    Parameters
    ----------
    X : array-like of shape (n_obs, n_features), DataFrame or DataArray (obs, feature)
        Raw features; they are standardised inside the model with the training mean and
        population sd (constant columns keep scale 1).
    y : array-like of shape (n_obs,)
        Labels of any hashable type (sorted into ``classes`` like scikit-learn).
    kind : {"logistic", "softmax"}
        ``logistic``: Bernoulli on ``sigmoid(intercept + x coef)`` for two classes.
        ``softmax``: Categorical on ``softmax(intercept + x coef)`` for K >= 2 classes.
    prior_scale : float, default 2.5
        Scale of the prior on the standardised coefficients.
    intercept_prior_scale : float, default 2.5
        Scale of the Normal prior on the intercept(s).
    prior : {"normal", "student_t"}, default "normal"
        Family of the coefficient prior; ``student_t`` uses ``prior_nu`` degrees of freedom.
    prior_nu : float, default 3.0
    flat_intercept : bool, default False
        Use an improper flat prior on the intercept(s) (e.g. to match an unpenalised
        intercept in scikit-learn's ``LogisticRegression``).
    coding : {"reference", "zerosum"}, default "reference"
        Softmax identification: the first class's logits fixed at 0, or sum-to-zero
        coefficients with :class:`pymc.ZeroSumNormal` (Normal prior only).
    classes : array-like, optional
        Class order to use instead of the sorted unique labels of ``y``.
    feature_names : sequence of str, optional
        Names of the columns (default: a DataFrame's columns, a DataArray's ``feature``
        coordinate, else ``x0, x1, ...``).
    batch_size : int, optional
        Build a minibatch likelihood (:class:`pymc.Minibatch`, scaled by ``total_size``)
        for ADVI on large data. Usually set through :func:`bayescore.fit`.

    Returns
    -------
    pymc.Model
        Named dims ``obs``, ``feature`` (and ``class``); data containers ``X``, ``y_obs``,
        ``x_mean`` and ``x_scale``; free variables ``intercept``/``coef`` (reference coding:
        ``intercept_free``/``coef_free`` over ``class_free`` plus deterministic full
        ``intercept``/``coef``); deterministics ``intercept_original``/``coef_original``.

    See Also
    --------
    bayescore.fit : sample or approximate the posterior.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> model = build_model(X, ["no", "no", "yes", "yes"], kind="logistic")
    >>> sorted(v.name for v in model.free_RVs)
    ['coef', 'intercept']
    """
    if batch_size is not None:
        batch_size = BATCH_SIZE.check("batch_size", batch_size, "build_model")
    X_arr = validate_X(X)
    if classes is None:
        y_idx, classes_arr = encode_classes(y)
    else:
        classes_arr = np.asarray(classes)
        y_idx = encode_labels(y, classes_arr)  # by value; unknown labels raise
    names = feature_names_of(X) if feature_names is None else feature_names
    spec = make_spec(
        X_arr,
        y_idx,
        classes_arr,
        kind=kind,
        feature_names=names,
        prior_scale=prior_scale,
        intercept_prior_scale=intercept_prior_scale,
        prior=prior,
        prior_nu=prior_nu,
        flat_intercept=flat_intercept,
        coding=coding,
    )
    return build_from_spec(spec, batch_size=batch_size)
