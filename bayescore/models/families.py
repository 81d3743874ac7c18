r"""One object per model kind: its likelihood in numpy, its PyMC graph, its predictions.

Behaviour by kind lives here, as Bambi keeps one class per likelihood family, instead of
``if kind == "logistic"`` across modules:

- :class:`Logistic`: ``y ~ Bernoulli(sigmoid(alpha + x beta))``, exactly two classes.
- :class:`Softmax`: ``y ~ Categorical(softmax(alpha + x B))``, K >= 2 classes, the first
  class as reference (its logits fixed at 0) or sum-to-zero coding.

Both are written on the *free logits* :math:`\eta_{nc}`, the logits of classes
:math:`c = 1..K-1` relative to class 0 (logistic: the one logit of class 1). The family's
:meth:`Family.log_likelihood` is the package's one numpy implementation of the likelihood
(its code lives in :mod:`bayescore._likelihood`, which imports numpy only, so a Dask worker
can sum it): the fitters' log posterior (:class:`bayescore.inference.posterior.Posterior`)
sums it over rows, with or without the gradient's residuals, and prediction evaluates it
per row (:mod:`bayescore.predictive`). The compiled twin for NUTS
(:mod:`bayescore.inference.kernels`) is tested against it.

The PyMC graph builder receives the ``pymc`` and ``pytensor.tensor`` modules from its
caller, so importing this module never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.special import expit, softmax

from bayescore._likelihood import (
    Labels,
    logistic_log_likelihood,
    softmax_log_likelihood,
)
from bayescore._names import CHAIN, CLASS, DRAW, FEATURE, FREE_CLASS

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable

    from bayescore.models.spec import ModelSpec

__all__ = ["FAMILIES", "Family", "Labels", "Logistic", "Softmax", "family"]

Floats = NDArray[np.float64]


class Family(ABC):
    """A model kind: its classes, likelihood, PyMC graph and predictive maths."""

    name: ClassVar[str]

    @abstractmethod
    def check_classes(self, classes: np.ndarray) -> None:
        """Raise ``ValueError`` when this kind cannot model these classes."""

    @abstractmethod
    def coords(self, spec: ModelSpec) -> dict[str, list[object]]:
        """Extra model coordinates (beyond ``obs`` and ``feature``)."""

    @abstractmethod
    def free_names(self, spec: ModelSpec) -> tuple[str, str]:
        """Names of the free variables :meth:`define` adds: (intercepts, coefficients)."""

    @abstractmethod
    def log_likelihood(
        self, eta: Floats, labels: Labels, *, reduce: bool = True, residual: bool = False
    ) -> Floats:
        r"""``log p(y_n | eta_n)`` of free logits ``eta``; overwrites ``eta``.

        Parameters
        ----------
        eta : ndarray
            Free logits with the rows on the last axis: ``(..., N)`` (logistic) or
            ``(..., K - 1, N)`` (softmax). Used as scratch space.
        labels : Labels
        reduce : bool, default True
            Sum over the rows (``(...)``) instead of one value per row (``(..., N)``).
        residual : bool, default False
            Also leave in ``eta`` the derivative of the summed log-likelihood in ``eta``,
            :math:`\mathbb{1}[y_n = c] - p_{nc}` (the gradient is then
            :math:`Z^\top` times it); implies ``reduce``.
        """

    @abstractmethod
    def define(
        self,
        pm: ModuleType,
        pt: ModuleType,
        spec: ModelSpec,
        Xs: TensorVariable,
        y_obs: TensorVariable,
        obs_kwargs: dict[str, object],
    ) -> tuple[TensorVariable, TensorVariable]:
        """Add priors and likelihood inside an open ``pm.Model``; return (intercept, coef).

        ``Xs`` is the standardised design matrix; the returned intercept and coefficients
        are on the standardised scale, as ``coef`` has dims ``(feature[, class])``.
        """

    @abstractmethod
    def linear_draws(self, posterior: xr.Dataset) -> tuple[Floats, Floats]:
        """Intercepts ``(S, K)`` and coefficients ``(S, D, K)`` of every posterior draw."""

    @abstractmethod
    def point_coefficients(
        self, coef: xr.DataArray, intercept: xr.DataArray
    ) -> tuple[Floats, Floats]:
        """scikit-learn's ``coef_`` and ``intercept_`` from posterior-mean coefficients."""

    def probs(self, logits: Floats, out: Floats) -> None:
        """Class probabilities of ``(S, N, K)`` logits, written into ``out``."""
        out[...] = softmax(logits, axis=-1)

    def free_logits(self, logits: Floats) -> Floats:
        """The free logits, rows last, of full ``(S, N, K)`` logits: ``(S, K - 1, N)``."""
        return np.ascontiguousarray((logits[..., 1:] - logits[..., :1]).transpose(0, 2, 1))


def _coef_prior(pm: ModuleType, name: str, spec: ModelSpec, dims: object) -> TensorVariable:
    if spec.prior == "student_t":
        return pm.StudentT(name, nu=spec.prior_nu, mu=0.0, sigma=spec.prior_scale, dims=dims)
    return pm.Normal(name, mu=0.0, sigma=spec.prior_scale, dims=dims)


def _intercept_prior(pm: ModuleType, name: str, spec: ModelSpec, dims: object) -> TensorVariable:
    if spec.flat_intercept:
        return pm.Flat(name, dims=dims)
    return pm.Normal(name, mu=0.0, sigma=spec.intercept_prior_scale, dims=dims)


class Logistic(Family):
    """Bernoulli likelihood on the logit of the second class; exactly two classes.

    For prediction it is a two-class softmax with class 0 as the reference (logits
    ``(0, eta)``), so every consumer sees ``(draw, obs, class)`` arrays.
    """

    name = "logistic"

    def check_classes(self, classes: np.ndarray) -> None:  # noqa: D102
        if len(classes) != 2:
            # The first sentence is scikit-learn's wording for binary-only classifiers.
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"multiclass: kind='logistic' needs exactly 2 classes; y has {len(classes)} "
                f"({np.asarray(classes).tolist()!r}). Use kind='softmax' "
                "(BayesianSoftmaxClassifier) for more."
            )

    def coords(self, spec: ModelSpec) -> dict[str, list[object]]:  # noqa: D102
        return {}

    def free_names(self, spec: ModelSpec) -> tuple[str, str]:  # noqa: D102
        return ("intercept", "coef")

    def log_likelihood(  # noqa: D102
        self, eta: Floats, labels: Labels, *, reduce: bool = True, residual: bool = False
    ) -> Floats:
        return logistic_log_likelihood(eta, labels, reduce=reduce, residual=residual)

    def define(  # noqa: D102
        self,
        pm: ModuleType,
        pt: ModuleType,
        spec: ModelSpec,
        Xs: TensorVariable,
        y_obs: TensorVariable,
        obs_kwargs: dict[str, object],
    ) -> tuple[TensorVariable, TensorVariable]:
        intercept = _intercept_prior(pm, "intercept", spec, None)
        coef = _coef_prior(pm, "coef", spec, FEATURE)
        pm.Bernoulli("y", logit_p=intercept + pt.dot(Xs, coef), observed=y_obs, **obs_kwargs)
        return intercept, coef

    def linear_draws(self, posterior: xr.Dataset) -> tuple[Floats, Floats]:  # noqa: D102
        n_draws = posterior.sizes[CHAIN] * posterior.sizes[DRAW]
        alpha = posterior["intercept"].transpose(CHAIN, DRAW).values.reshape(n_draws)
        beta = posterior["coef"].transpose(CHAIN, DRAW, FEATURE).values.reshape(n_draws, -1)
        ref = np.array([0.0, 1.0])  # class 0 is the reference: logits (0, eta)
        return alpha[:, None] * ref, beta[:, :, None] * ref

    def probs(self, logits: Floats, out: Floats) -> None:  # noqa: D102
        eta = logits[..., 1]
        out[..., 1] = expit(eta)
        out[..., 0] = expit(-eta)  # not 1 - p: keeps tiny probabilities exact

    def free_logits(self, logits: Floats) -> Floats:  # noqa: D102
        return np.asarray(logits[..., 1] - logits[..., 0])  # (S, N)

    def point_coefficients(  # noqa: D102
        self, coef: xr.DataArray, intercept: xr.DataArray
    ) -> tuple[Floats, Floats]:
        return coef.values[None, :], np.atleast_1d(intercept.values)


class Softmax(Family):
    """Categorical likelihood on softmax logits; reference or zero-sum coding."""

    name = "softmax"

    def check_classes(self, classes: np.ndarray) -> None:  # noqa: D102
        if len(classes) < 2:
            raise ValueError(f"kind='softmax' needs at least 2 classes; y has {len(classes)}.")

    def coords(self, spec: ModelSpec) -> dict[str, list[object]]:  # noqa: D102
        coords = {CLASS: spec.classes.tolist()}
        if spec.coding == "reference":
            coords[FREE_CLASS] = spec.classes[1:].tolist()
        return coords

    def free_names(self, spec: ModelSpec) -> tuple[str, str]:  # noqa: D102
        if spec.coding == "zerosum":
            return ("intercept", "coef")
        return ("intercept_free", "coef_free")

    def log_likelihood(  # noqa: D102
        self, eta: Floats, labels: Labels, *, reduce: bool = True, residual: bool = False
    ) -> Floats:
        return softmax_log_likelihood(eta, labels, reduce=reduce, residual=residual)

    def define(  # noqa: D102
        self,
        pm: ModuleType,
        pt: ModuleType,
        spec: ModelSpec,
        Xs: TensorVariable,
        y_obs: TensorVariable,
        obs_kwargs: dict[str, object],
    ) -> tuple[TensorVariable, TensorVariable]:
        if spec.coding == "zerosum":
            intercept = pm.ZeroSumNormal("intercept", sigma=spec.intercept_prior_scale, dims=CLASS)
            coef = pm.ZeroSumNormal(
                "coef", sigma=spec.prior_scale, dims=(FEATURE, CLASS), n_zerosum_axes=1
            )
        else:
            # The first class is the reference: its logits are fixed at 0, which identifies
            # the remaining K - 1 columns.
            a_free = _intercept_prior(pm, "intercept_free", spec, FREE_CLASS)
            b_free = _coef_prior(pm, "coef_free", spec, (FEATURE, FREE_CLASS))
            intercept = pm.Deterministic(
                "intercept", pt.concatenate([pt.zeros(1), a_free]), dims=CLASS
            )
            coef = pm.Deterministic(
                "coef",
                pt.concatenate([pt.zeros((b_free.shape[0], 1)), b_free], axis=1),
                dims=(FEATURE, CLASS),
            )
        pm.Categorical("y", logit_p=intercept + pt.dot(Xs, coef), observed=y_obs, **obs_kwargs)
        return intercept, coef

    def linear_draws(self, posterior: xr.Dataset) -> tuple[Floats, Floats]:  # noqa: D102
        n_draws = posterior.sizes[CHAIN] * posterior.sizes[DRAW]
        alpha = posterior["intercept"].transpose(CHAIN, DRAW, CLASS).values.reshape(n_draws, -1)
        beta = posterior["coef"].transpose(CHAIN, DRAW, FEATURE, CLASS).values
        return alpha, beta.reshape(n_draws, beta.shape[2], -1)

    def point_coefficients(  # noqa: D102
        self, coef: xr.DataArray, intercept: xr.DataArray
    ) -> tuple[Floats, Floats]:
        return coef.transpose(CLASS, FEATURE).values, intercept.values


#: The registry of model kinds, by name.
FAMILIES: dict[str, Family] = {f.name: f for f in (Logistic(), Softmax())}


def family(kind: object) -> Family:
    """The :class:`Family` named ``kind``; unknown names raise ``ValueError`` listing them.

    Examples
    --------
    >>> family("softmax").name
    'softmax'
    >>> family("probit")
    Traceback (most recent call last):
    ...
    ValueError: Unknown model kind 'probit'; bayescore fits ['logistic', 'softmax'].
    """
    try:
        return FAMILIES[kind]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown model kind {kind!r}; bayescore fits {sorted(FAMILIES)}."
        ) from None
