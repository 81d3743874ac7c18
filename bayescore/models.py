r"""PyMC models for classification: Bayesian logistic and softmax regression.

.. math::

    \text{logistic:}\quad y_n \sim \mathrm{Bernoulli}(\sigma(\alpha + \tilde x_n \beta))
    \qquad
    \text{softmax:}\quad y_n \sim \mathrm{Categorical}(\mathrm{softmax}(\alpha + \tilde x_n B))

with :math:`\tilde x = (x - \bar x) / s` standardised inside the model by the training mean
and population sd (ddof=0; constant columns keep scale 1). Default priors are
``Normal(0, 2.5)`` on the intercept(s) and on the standardised coefficients (SPEC §3).
Coefficients are also reported on the original feature scale as deterministics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bayescore._families import FAMILIES, family
from bayescore._inputs import encode_labels
from bayescore._names import CLASS, FEATURE, OBS
from bayescore._pymc import import_pymc
from bayescore._validation import check_choice, check_int, check_positive
from bayescore.data import Standardization, encode_classes, feature_names_of, validate_X

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "KINDS",
    "ModelSpec",
    "build_from_spec",
    "build_model",
    "free_names",
    "make_spec",
    "model_spec",
    "pymc_model",
]

KINDS = tuple(FAMILIES)
PRIORS = ("normal", "student_t")
CODINGS = ("reference", "zerosum")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a bayescore model and to predict from its draws.

    Attributes
    ----------
    kind : {"logistic", "softmax"}
    classes : ndarray
        Sorted class labels; ``y`` is stored as indices into it.
    feature_names : ndarray of str
    standardization : Standardization
    prior : {"normal", "student_t"}
    prior_scale, intercept_prior_scale, prior_nu : float
    flat_intercept : bool
    coding : {"reference", "zerosum"}
    X : ndarray (n_obs, n_features)
        Raw training features.
    y : ndarray of int (n_obs,)
        Training labels as class indices.
    """

    kind: str
    classes: np.ndarray
    feature_names: np.ndarray
    standardization: Standardization
    prior: str = "normal"
    prior_scale: float = 2.5
    intercept_prior_scale: float = 2.5
    prior_nu: float = 3.0
    flat_intercept: bool = False
    coding: str = "reference"
    X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    y: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return int(len(self.classes))

    def settings(self) -> dict[str, Any]:
        """Return the prior and coding settings as a JSON-friendly dict."""
        return {
            "kind": self.kind,
            "prior": self.prior,
            "prior_scale": self.prior_scale,
            "intercept_prior_scale": self.intercept_prior_scale,
            "prior_nu": self.prior_nu,
            "flat_intercept": self.flat_intercept,
            "coding": self.coding,
        }


def model_spec(model: pm.Model | ModelSpec) -> ModelSpec | None:
    """The :class:`ModelSpec` of a model made by :func:`build_model` (else None).

    A :class:`ModelSpec` is its own specification.
    """
    if isinstance(model, ModelSpec):
        return model
    return getattr(model, "_bayescore_spec", None)


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
    coords: dict[str, Any] = {FEATURE: spec.feature_names.tolist(), **fam.coords(spec)}
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
            obs_kwargs: dict[str, Any] = {"dims": OBS}
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
    model._bayescore_spec = spec
    return model


def build_model(
    X: Any,
    y: Any,
    kind: str = "logistic",
    *,
    prior_scale: float = 2.5,
    intercept_prior_scale: float = 2.5,
    prior: str = "normal",
    prior_nu: float = 3.0,
    flat_intercept: bool = False,
    coding: str = "reference",
    classes: Any = None,
    feature_names: Any = None,
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
        check_int("batch_size", batch_size, min_value=1, func="build_model")
    X_arr = validate_X(X)
    if classes is None:
        y_idx, classes_arr = encode_classes(y)
    else:
        classes_arr = np.asarray(classes)
        y_idx = encode_labels(y, classes_arr)  # by value; unknown labels raise
    if feature_names is None:
        feature_names = feature_names_of(X)
    spec = make_spec(
        X_arr,
        y_idx,
        classes_arr,
        kind=kind,
        feature_names=feature_names,
        prior_scale=prior_scale,
        intercept_prior_scale=intercept_prior_scale,
        prior=prior,
        prior_nu=prior_nu,
        flat_intercept=flat_intercept,
        coding=coding,
    )
    return build_from_spec(spec, batch_size=batch_size)


def make_spec(
    X: np.ndarray,
    y_idx: np.ndarray,
    classes: np.ndarray,
    *,
    kind: str = "logistic",
    feature_names: Any = None,
    prior_scale: float = 2.5,
    intercept_prior_scale: float = 2.5,
    prior: str = "normal",
    prior_nu: float = 3.0,
    flat_intercept: bool = False,
    coding: str = "reference",
) -> ModelSpec:
    """A :class:`ModelSpec` from validated arrays: float ``X`` and class indices ``y_idx``.

    :func:`build_model` validates user input and calls this; the estimators call it on the
    arrays that scikit-learn's validation returned, so ``X`` is validated once per fit. The
    prior settings are checked here.

    Examples
    --------
    >>> import numpy as np
    >>> spec = make_spec(np.eye(3), np.array([0, 1, 1]), np.array(["a", "b"]))
    >>> spec.kind, spec.feature_names.tolist()
    ('logistic', ['x0', 'x1', 'x2'])
    """
    check_choice("kind", kind, KINDS, "build_model")
    check_choice("prior", prior, PRIORS, "build_model")
    check_choice("coding", coding, CODINGS, "build_model")
    check_positive("prior_scale", prior_scale, func="build_model")
    check_positive("intercept_prior_scale", intercept_prior_scale, func="build_model")
    check_positive("prior_nu", prior_nu, func="build_model")
    if coding == "zerosum" and (prior != "normal" or flat_intercept):
        raise ValueError(
            "coding='zerosum' uses pm.ZeroSumNormal, which needs prior='normal' and "
            f"flat_intercept=False; got prior={prior!r}, flat_intercept={flat_intercept!r}."
        )
    if y_idx.shape[0] != X.shape[0]:
        raise ValueError(
            f"Shape mismatch: X has {X.shape[0]} rows but y has {y_idx.shape[0]} labels."
        )
    family(kind).check_classes(classes)
    if feature_names is None:
        names = np.asarray([f"x{i}" for i in range(X.shape[1])], dtype=object)
    else:
        names = np.asarray([str(n) for n in feature_names], dtype=object)
        if names.shape != (X.shape[1],):
            raise ValueError(f"feature_names has {names.size} names for X's {X.shape[1]} columns.")
    return ModelSpec(
        kind=kind,
        classes=np.asarray(classes),
        feature_names=names,
        standardization=Standardization.fit(X),
        prior=prior,
        prior_scale=float(prior_scale),
        intercept_prior_scale=float(intercept_prior_scale),
        prior_nu=float(prior_nu),
        flat_intercept=bool(flat_intercept),
        coding=coding,
        X=X,
        y=y_idx,
    )
