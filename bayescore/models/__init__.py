"""Bayesian logistic and softmax regression: specification, families, PyMC graph.

- :mod:`~bayescore.models.spec`: :class:`ModelSpec`, the numpy-only description of a
  model (data, standardisation, classes, priors) that the engine fits.
- :mod:`~bayescore.models.families`: one object per model kind, holding its likelihood
  in numpy, its PyMC graph and its predictive maths.
- :mod:`~bayescore.models.build`: :func:`make_spec`, the settings checked once.
- :mod:`~bayescore.models.graph`: :func:`build_model`, the PyMC model (imports PyMC when
  called, never at import).
"""

from __future__ import annotations

from bayescore.models.build import KINDS, MODEL_CONSTRAINTS, make_spec
from bayescore.models.families import FAMILIES, Family, Labels, Logistic, Softmax, family
from bayescore.models.graph import (
    build_from_spec,
    build_model,
    free_names,
    model_spec,
    pymc_model,
)
from bayescore.models.spec import CODINGS, PRIORS, ModelSpec

__all__ = [
    "CODINGS",
    "FAMILIES",
    "KINDS",
    "MODEL_CONSTRAINTS",
    "PRIORS",
    "Family",
    "Labels",
    "Logistic",
    "ModelSpec",
    "Softmax",
    "build_from_spec",
    "build_model",
    "family",
    "free_names",
    "make_spec",
    "model_spec",
    "pymc_model",
]
