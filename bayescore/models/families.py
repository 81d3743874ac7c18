r"""One object per model kind: its likelihood in numpy, its PyMC graph, its predictions.

Behaviour by kind lives here, as Bambi keeps one class per likelihood family, instead of
``if kind == "logistic"`` across modules:

- :class:`Logistic`: ``y ~ Bernoulli(sigmoid(alpha + x beta))``, exactly two classes.
- :class:`Softmax`: ``y ~ Categorical(softmax(alpha + x B))``, K >= 2 classes, the first
  class as reference (its logits fixed at 0) or sum-to-zero coding.

Both are written on the *free logits* :math:`\eta_{nc}`, the logits of classes
:math:`c = 1..K-1` relative to class 0 (logistic: the one logit of class 1). The family's
:meth:`Family.log_likelihood` is the package's one numpy implementation of the likelihood:
the fitters' log posterior (:class:`bayescore.inference.posterior.Posterior`) sums it over
rows, with or without the gradient's residuals, and prediction evaluates it per row
(:mod:`bayescore.predictive`). The compiled twin for NUTS (:mod:`bayescore.inference.kernels`)
is tested against it.

The PyMC graph builder receives the ``pymc`` and ``pytensor.tensor`` modules from its
caller, so importing this module never imports them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.special import expit, softmax

from bayescore._names import CHAIN, CLASS, DRAW, FEATURE, FREE_CLASS

if TYPE_CHECKING:
    from pytensor.tensor.variable import TensorVariable

    from bayescore.models.spec import ModelSpec

__all__ = ["FAMILIES", "Family", "Labels", "Logistic", "Softmax", "family", "log_sigmoid_sums"]

Floats = NDArray[np.float64]

#: Rows of :math:`1 + e^{-|s|} \in (1, 2]` whose product is logged at once (at most 2^512).
_PRODUCT_ROWS = 512


def log_sigmoid_sums(s: Floats) -> Floats:
    r"""Sums over the last axis of :math:`\log\sigma(s)`; overwrites ``s``.

    :math:`\log\sigma(s) = \min(s, 0) - \log(1 + e^{-|s|})`; the second terms lie in
    :math:`(0, \log 2]`, so 512 rows' are summed as the log of their product: one ``exp``
    per element and one ``log`` per 512 rows, 3x faster than ``scipy.special.log_expit``
    and as accurate (relative error ~1e-13 of the sum).

    Examples
    --------
    >>> s = np.array([[0.0, -3.0], [50.0, 2.0]])
    >>> np.allclose(log_sigmoid_sums(s.copy()), -np.log1p(np.exp(-s)).sum(axis=-1))
    True
    """
    u = np.abs(s)
    np.negative(u, out=u)
    np.exp(u, out=u)
    u += 1.0
    total = np.minimum(s, 0.0, out=s).sum(axis=-1)
    for start in range(0, u.shape[-1], _PRODUCT_ROWS):
        total -= np.log(u[..., start : start + _PRODUCT_ROWS].prod(axis=-1))
    return np.asarray(total)


@dataclass(frozen=True)
class Labels:
    r"""Class indices of N rows, prepared once for the likelihood kernels.

    Attributes
    ----------
    y : ndarray of int64 (N,)
        Class indices, C-contiguous (the compiled kernels read them too).
    sign : ndarray (N,)
        +1 for class 1, else -1: :math:`\log p(y_n) = \log\sigma(\mathrm{sign}_n \eta_n)`
        in the logistic model.
    chosen : ndarray of intp
        Rows whose label is not the reference class 0.
    chosen_at : ndarray of intp
        Flat index of those rows' label logit in the raveled ``(K - 1, N)`` free logits.
    """

    y: NDArray[np.int64]
    sign: Floats
    chosen: NDArray[np.intp]
    chosen_at: NDArray[np.intp]

    @classmethod
    def of(cls, y: NDArray[np.integer]) -> Labels:
        """The label terms of class indices ``y``.

        Examples
        --------
        >>> Labels.of(np.array([0, 2, 1])).chosen_at.tolist()   # (class - 1) * N + row
        [4, 2]
        """
        y64: NDArray[np.int64] = np.ascontiguousarray(y, dtype=np.int64)
        chosen = np.flatnonzero(y64 > 0)
        sign = np.where(y64 == 1, 1.0, -1.0)
        return cls(y64, sign, chosen, (y64[chosen] - 1) * y64.size + chosen)


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
        s = eta
        s *= labels.sign  # log p(y_n) = log sigmoid(s_n), s_n = +-eta_n
        if residual:
            # log sigmoid(s) = min(s, 0) - log(1 + t), t = exp(-|s|), and
            # d/ds log sigmoid(s) = sigmoid(-s) = (s > 0 ? t : 1) / (1 + t).
            t = np.exp(-np.abs(s))
            u = 1.0 + t
            value = np.minimum(s, 0.0).sum(axis=-1) - np.log(u).sum(axis=-1)
            r = np.where(s > 0, t, 1.0)
            r /= u
            r *= labels.sign
            eta[...] = r
            return np.asarray(value)
        if reduce:
            return log_sigmoid_sums(s)
        return np.asarray(np.minimum(s, 0.0) - np.log1p(np.exp(-np.abs(s))))

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
        # log p(y_n) = eta_{n y_n} - log(1 + sum_c exp(eta_nc)), stable after subtracting
        # top_n = max(0, max_c eta_nc): the reference class's logit is 0.
        n = eta.shape[-1]
        flat = eta.reshape(*eta.shape[:-2], -1)
        if reduce or residual:
            chosen = flat[..., labels.chosen_at].sum(axis=-1)
        else:
            chosen = np.zeros((*eta.shape[:-2], n))
            chosen[..., labels.chosen] = flat[..., labels.chosen_at]
        top = np.maximum(eta.max(axis=-2), 0.0)
        eta -= top[..., None, :]
        np.exp(eta, out=eta)
        total = eta.sum(axis=-2)
        total += np.exp(-top)
        if not (reduce or residual):
            return np.asarray(chosen - top - np.log(total))
        value = chosen - top.sum(axis=-1) - np.log(total).sum(axis=-1)
        if residual:
            eta /= total[..., None, :]  # probabilities of the free classes
            np.negative(eta, out=eta)
            flat[..., labels.chosen_at] += 1.0  # onehot - p
        return np.asarray(value)

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
