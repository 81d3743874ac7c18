"""A :class:`~bayescore.models.spec.ModelSpec` from validated arrays, its settings checked once.

Numpy only: the estimators and :func:`bayescore.build_model` both end here, and the numpy
fitters never need more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from bayescore._validation import POSITIVE, Boolean, Options, Rule, check_params
from bayescore.data import Standardization
from bayescore.models.families import FAMILIES, family
from bayescore.models.spec import CODINGS, PRIORS, Coding, Kind, ModelSpec, PriorFamily

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["KINDS", "MODEL_CONSTRAINTS", "make_spec"]

#: The model kinds bayescore fits.
KINDS: tuple[str, ...] = tuple(FAMILIES)

#: Allowed values of the model settings (shared by :func:`bayescore.build_model` and the
#: estimators' parameters).
MODEL_CONSTRAINTS: dict[str, Rule] = {
    "kind": Options(KINDS),
    "prior": Options(PRIORS),
    "coding": Options(CODINGS),
    "prior_scale": POSITIVE,
    "intercept_prior_scale": POSITIVE,
    "prior_nu": POSITIVE,
    "flat_intercept": Boolean(),
}


def make_spec(
    X: NDArray[np.float64] | da.Array,
    y_idx: NDArray[np.integer] | da.Array,
    classes: np.ndarray,
    *,
    kind: str = "logistic",
    feature_names: Sequence[object] | np.ndarray | None = None,
    prior_scale: float = 2.5,
    intercept_prior_scale: float = 2.5,
    prior: str = "normal",
    prior_nu: float = 3.0,
    flat_intercept: bool = False,
    coding: str = "reference",
    func: str = "build_model",
    standardization: Standardization | None = None,
) -> ModelSpec:
    """A :class:`ModelSpec` from validated arrays: float ``X`` and class indices ``y_idx``.

    :func:`bayescore.build_model` validates user input and calls this; the estimators call
    it on the arrays that scikit-learn's validation returned, so ``X`` is validated once per
    fit. The model settings are checked here (errors name ``func``). ``standardization``,
    when given, was computed elsewhere (over the partitions of a Dask X, which is then
    ``X``); otherwise it is fitted to ``X``.

    Examples
    --------
    >>> spec = make_spec(np.eye(3), np.array([0, 1, 1]), np.array(["a", "b"]))
    >>> spec.kind, spec.feature_names.tolist()
    ('logistic', ['x0', 'x1', 'x2'])
    >>> make_spec(np.eye(3), np.array([0, 1, 1]), np.array(["a", "b"]), prior_scale=0)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The 'prior_scale' parameter of build_model must be a real number > 0. Got 0...
    """
    settings = check_params(
        MODEL_CONSTRAINTS,
        {
            "kind": kind,
            "prior": prior,
            "coding": coding,
            "prior_scale": prior_scale,
            "intercept_prior_scale": intercept_prior_scale,
            "prior_nu": prior_nu,
            "flat_intercept": flat_intercept,
        },
        func,
    )
    if settings["coding"] == "zerosum" and (
        settings["prior"] != "normal" or settings["flat_intercept"]
    ):
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
        kind=cast(Kind, settings["kind"]),
        classes=np.asarray(classes),
        feature_names=names,
        standardization=(
            Standardization.fit(cast(NDArray[np.float64], X))
            if standardization is None
            else standardization
        ),
        prior=cast(PriorFamily, settings["prior"]),
        prior_scale=float(settings["prior_scale"]),
        intercept_prior_scale=float(settings["intercept_prior_scale"]),
        prior_nu=float(settings["prior_nu"]),
        flat_intercept=bool(settings["flat_intercept"]),
        coding=cast(Coding, settings["coding"]),
        X=cast(NDArray[np.float64], X),  # or a Dask array: ModelSpec.distributed
        # A Dask y (with its standardisation computed over the partitions) stays lazy.
        y=cast(NDArray[np.int64], y_idx)
        if standardization is not None
        else np.asarray(y_idx, dtype=np.int64),
    )
