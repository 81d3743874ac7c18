r"""One object per model kind: how each builds its PyMC graph and predicts from its draws.

Behaviour by kind lives here, as Bambi keeps one class per likelihood family, instead of
``if kind == "logistic"`` across modules:

- :class:`Logistic`: ``y ~ Bernoulli(sigmoid(alpha + x beta))``, exactly two classes. For
  prediction it is written as a two-class softmax with class 0 as the reference (logits
  ``(0, eta)``), so every consumer sees ``(draw, obs, class)`` arrays.
- :class:`Softmax`: ``y ~ Categorical(softmax(alpha + x B))``, K >= 2 classes, the first
  class as reference (its logits fixed at 0) or sum-to-zero coding.

The numpy parts (linear predictor, probabilities, log-likelihood) need no PyMC; the graph
builder receives the ``pymc`` and ``pytensor.tensor`` modules from its caller, so importing
this module never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

import numpy as np
import xarray as xr
from scipy.special import expit, log_expit, softmax

from bayescore._names import CHAIN, CLASS, DRAW, FEATURE, FREE_CLASS

__all__ = ["FAMILIES", "Family", "Logistic", "PriorSettings", "Softmax", "family"]


class PriorSettings(Protocol):
    """What a family needs of a model specification to set its priors (read-only)."""

    @property
    def prior(self) -> str: ...  # noqa: D102
    @property
    def prior_scale(self) -> float: ...  # noqa: D102
    @property
    def intercept_prior_scale(self) -> float: ...  # noqa: D102
    @property
    def prior_nu(self) -> float: ...  # noqa: D102
    @property
    def flat_intercept(self) -> bool: ...  # noqa: D102
    @property
    def coding(self) -> str: ...  # noqa: D102
    @property
    def classes(self) -> np.ndarray: ...  # noqa: D102


def _coef_prior(pm: Any, name: str, spec: PriorSettings, dims: Any) -> Any:
    if spec.prior == "student_t":
        return pm.StudentT(name, nu=spec.prior_nu, mu=0.0, sigma=spec.prior_scale, dims=dims)
    return pm.Normal(name, mu=0.0, sigma=spec.prior_scale, dims=dims)


def _intercept_prior(pm: Any, name: str, spec: PriorSettings, dims: Any) -> Any:
    if spec.flat_intercept:
        return pm.Flat(name, dims=dims)
    return pm.Normal(name, mu=0.0, sigma=spec.intercept_prior_scale, dims=dims)


class Family(ABC):
    """A model kind: its classes, PyMC graph, and numpy predictive maths."""

    name: ClassVar[str]

    @abstractmethod
    def check_classes(self, classes: np.ndarray) -> None:
        """Raise ``ValueError`` when this kind cannot model these classes."""

    @abstractmethod
    def coords(self, spec: PriorSettings) -> dict[str, list[Any]]:
        """Extra model coordinates (beyond ``obs`` and ``feature``)."""

    @abstractmethod
    def free_names(self, spec: PriorSettings) -> tuple[str, str]:
        """Names of the free variables :meth:`define` adds: (intercepts, coefficients)."""

    @abstractmethod
    def define(
        self, pm: Any, pt: Any, spec: PriorSettings, Xs: Any, y_obs: Any, obs_kwargs: Any
    ) -> tuple[Any, Any]:
        """Add priors and likelihood inside an open ``pm.Model``; return (intercept, coef).

        ``Xs`` is the standardised design matrix; the returned intercept and coefficients
        are on the standardised scale, as ``coef`` has dims ``(feature[, class])``.
        """

    @abstractmethod
    def linear_draws(self, posterior: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Intercepts ``(S, K)`` and coefficients ``(S, D, K)`` of every posterior draw."""

    @abstractmethod
    def probs(self, logits: np.ndarray, out: np.ndarray) -> None:
        """Class probabilities of ``(S, N, K)`` logits, written into ``out``."""

    @abstractmethod
    def log_likelihood(self, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log p(y_n | theta_s)`` of ``(S, N, K)`` logits, shape ``(S, N)``."""

    @abstractmethod
    def point_coefficients(
        self, coef: xr.DataArray, intercept: xr.DataArray
    ) -> tuple[np.ndarray, np.ndarray]:
        """scikit-learn's ``coef_`` and ``intercept_`` from posterior-mean coefficients."""

    def closed_form_kl(self, spec: PriorSettings) -> bool:
        """Whether the free variables' priors are plain Normals (closed-form KL to q)."""
        return spec.prior == "normal" and not spec.flat_intercept


class Logistic(Family):
    """Bernoulli likelihood on the logit of the second class; exactly two classes."""

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

    def coords(self, spec: PriorSettings) -> dict[str, list[Any]]:  # noqa: D102
        return {}

    def free_names(self, spec: PriorSettings) -> tuple[str, str]:  # noqa: D102
        return ("intercept", "coef")

    def define(  # noqa: D102
        self, pm: Any, pt: Any, spec: PriorSettings, Xs: Any, y_obs: Any, obs_kwargs: Any
    ) -> tuple[Any, Any]:
        intercept = _intercept_prior(pm, "intercept", spec, None)
        coef = _coef_prior(pm, "coef", spec, FEATURE)
        pm.Bernoulli("y", logit_p=intercept + pt.dot(Xs, coef), observed=y_obs, **obs_kwargs)
        return intercept, coef

    def linear_draws(self, posterior: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:  # noqa: D102
        n_draws = posterior.sizes[CHAIN] * posterior.sizes[DRAW]
        alpha = posterior["intercept"].transpose(CHAIN, DRAW).values.reshape(n_draws)
        beta = posterior["coef"].transpose(CHAIN, DRAW, FEATURE).values.reshape(n_draws, -1)
        ref = np.array([0.0, 1.0])  # class 0 is the reference: logits (0, eta)
        return alpha[:, None] * ref, beta[:, :, None] * ref

    def probs(self, logits: np.ndarray, out: np.ndarray) -> None:  # noqa: D102
        eta = logits[..., 1]
        out[..., 1] = expit(eta)
        out[..., 0] = expit(-eta)  # not 1 - p: keeps tiny probabilities exact

    def log_likelihood(self, logits: np.ndarray, y: np.ndarray) -> np.ndarray:  # noqa: D102
        sign = np.where(y == 1, 1.0, -1.0)
        return np.asarray(log_expit(sign * logits[..., 1]))

    def point_coefficients(  # noqa: D102
        self, coef: xr.DataArray, intercept: xr.DataArray
    ) -> tuple[np.ndarray, np.ndarray]:
        return coef.values[None, :], np.atleast_1d(intercept.values)


class Softmax(Family):
    """Categorical likelihood on softmax logits; reference or zero-sum coding."""

    name = "softmax"

    def check_classes(self, classes: np.ndarray) -> None:  # noqa: D102
        if len(classes) < 2:
            raise ValueError(f"kind='softmax' needs at least 2 classes; y has {len(classes)}.")

    def coords(self, spec: PriorSettings) -> dict[str, list[Any]]:  # noqa: D102
        coords = {CLASS: spec.classes.tolist()}
        if spec.coding == "reference":
            coords[FREE_CLASS] = spec.classes[1:].tolist()
        return coords

    def free_names(self, spec: PriorSettings) -> tuple[str, str]:  # noqa: D102
        if spec.coding == "zerosum":
            return ("intercept", "coef")
        return ("intercept_free", "coef_free")

    def define(  # noqa: D102
        self, pm: Any, pt: Any, spec: PriorSettings, Xs: Any, y_obs: Any, obs_kwargs: Any
    ) -> tuple[Any, Any]:
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

    def linear_draws(self, posterior: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:  # noqa: D102
        n_draws = posterior.sizes[CHAIN] * posterior.sizes[DRAW]
        alpha = posterior["intercept"].transpose(CHAIN, DRAW, CLASS).values.reshape(n_draws, -1)
        beta = posterior["coef"].transpose(CHAIN, DRAW, FEATURE, CLASS).values
        return alpha, beta.reshape(n_draws, beta.shape[2], -1)

    def probs(self, logits: np.ndarray, out: np.ndarray) -> None:  # noqa: D102
        out[...] = softmax(logits, axis=-1)

    def log_likelihood(self, logits: np.ndarray, y: np.ndarray) -> np.ndarray:  # noqa: D102
        # log p(y) = -log sum_k exp(z_k - z_y): stable after subtracting the row max of
        # z - z_y (>= 0), and cheaper than a full log_softmax followed by a gather.
        rows = np.arange(logits.shape[-2])
        diff = logits - logits[:, rows, y][..., None]
        top = diff.max(axis=-1)
        np.subtract(diff, top[..., None], out=diff)
        np.exp(diff, out=diff)
        return np.asarray(-(top + np.log(diff.sum(axis=-1))))

    def point_coefficients(  # noqa: D102
        self, coef: xr.DataArray, intercept: xr.DataArray
    ) -> tuple[np.ndarray, np.ndarray]:
        return coef.transpose(CLASS, FEATURE).values, intercept.values

    def closed_form_kl(self, spec: PriorSettings) -> bool:  # noqa: D102
        # ZeroSumNormal lives in a transformed space: its KL is estimated by Monte Carlo.
        return super().closed_form_kl(spec) and spec.coding == "reference"


#: The registry of model kinds, by name.
FAMILIES: dict[str, Family] = {f.name: f for f in (Logistic(), Softmax())}


def family(kind: Any) -> Family:
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
        return FAMILIES[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown model kind {kind!r}; bayescore fits {sorted(FAMILIES)}."
        ) from None
