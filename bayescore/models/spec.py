r"""The specification of a bayescore model: data, priors and coding, in numpy.

A :class:`ModelSpec` is everything the engine needs to fit a logistic or softmax regression
and to predict from its draws: the validated training data, the standardisation, the class
labels and the prior settings. The numpy fitters work on it directly; the PyMC graph is
built from it only by the routes that run PyMC (:mod:`bayescore.models.graph`). Importing
this module imports neither PyMC nor PyTensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray

from bayescore.data import Standardization

__all__ = ["CODINGS", "PRIORS", "Coding", "Kind", "ModelSpec", "PriorFamily"]

#: Model kinds: Bernoulli on a logit, or Categorical on softmax logits.
Kind = Literal["logistic", "softmax"]
#: Families of the coefficient prior.
PriorFamily = Literal["normal", "student_t"]
#: Identification of the softmax model: first class as reference, or sum-to-zero.
Coding = Literal["reference", "zerosum"]

PRIORS: tuple[PriorFamily, ...] = get_args(PriorFamily)
CODINGS: tuple[Coding, ...] = get_args(Coding)


def _empty_X() -> NDArray[np.float64]:
    return np.empty((0, 0))


def _empty_y() -> NDArray[np.int64]:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a bayescore model and to predict from its draws.

    Attributes
    ----------
    kind : {"logistic", "softmax"}
    classes : ndarray
        Class labels; ``y`` holds indices into it.
    feature_names : ndarray of str
    standardization : Standardization
        Training mean and population sd of each feature.
    prior : {"normal", "student_t"}
        Family of the prior on the standardised coefficients.
    prior_scale, intercept_prior_scale, prior_nu : float
    flat_intercept : bool
        An improper flat prior on the intercept(s).
    coding : {"reference", "zerosum"}
    X : ndarray of float64, shape (n_obs, n_features)
        Raw training features (a Dask array for a fit on a cluster, whose rows are never
        gathered: :mod:`bayescore.inference.cluster`).
    y : ndarray of int64, shape (n_obs,)
        Training labels as class indices (a Dask array alike).

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> spec = make_spec(np.eye(3), np.array([0, 1, 2]), np.array(["a", "b", "c"]),
    ...                  kind="softmax")
    >>> spec.n_classes, spec.n_free, spec.closed_form
    (3, 2, True)
    """

    kind: Kind
    classes: np.ndarray
    feature_names: NDArray[np.object_]
    standardization: Standardization
    prior: PriorFamily = "normal"
    prior_scale: float = 2.5
    intercept_prior_scale: float = 2.5
    prior_nu: float = 3.0
    flat_intercept: bool = False
    coding: Coding = "reference"
    X: NDArray[np.float64] = field(default_factory=_empty_X, repr=False)
    y: NDArray[np.int64] = field(default_factory=_empty_y, repr=False)

    @property
    def n_classes(self) -> int:
        """Number of classes K."""
        return int(len(self.classes))

    @property
    def n_obs(self) -> int:
        """Number of training rows N."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return int(self.X.shape[1])

    @property
    def n_free(self) -> int:
        """Free logit columns: K - 1 (the first class is the reference; logistic: 1)."""
        return self.n_classes - 1

    @property
    def closed_form(self) -> bool:
        """Whether bayescore's numpy posterior covers this model (all but zero-sum coding).

        Zero-sum coefficients live in a transformed space of PyMC's; those models are
        fitted through their PyMC graph.
        """
        return not (self.kind == "softmax" and self.coding == "zerosum")

    @property
    def distributed(self) -> bool:
        """Whether the training rows are a Dask array (a fit on a cluster)."""
        return type(self.X).__module__.split(".")[0] == "dask"

    @property
    def normal_priors(self) -> bool:
        """Whether every free parameter has a proper Normal prior (closed-form KL to q)."""
        return self.prior == "normal" and not self.flat_intercept and self.closed_form

    def settings(self) -> dict[str, str | float | bool]:
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
