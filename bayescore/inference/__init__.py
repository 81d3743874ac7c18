"""The inference engine: :func:`fit` and the methods behind it.

One numpy posterior serves every numpy fitter and its compiled twin serves NUTS; one
Gaussian toolkit, one PSIS and one record of approximate fits; one module per method, each
with an options dataclass:

- :mod:`~bayescore.inference.posterior`: the log posterior, gradient and Hessian
  (:class:`~bayescore.inference.posterior.Posterior`); :mod:`~bayescore.inference.kernels`
  its compiled twin for NUTS.
- :mod:`~bayescore.inference.gaussian`, :mod:`~bayescore.inference.psis`,
  :mod:`~bayescore.inference.record`: q, its importance weights, what a fit records.
- :mod:`~bayescore.inference.laplace`, :mod:`~bayescore.inference.advi` (fixed draws),
  :mod:`~bayescore.inference.advi_pymc` (stochastic gradients),
  :mod:`~bayescore.inference.pathfinder`, :mod:`~bayescore.inference.nuts`: the methods.
- :mod:`~bayescore.inference.options`: the options machinery;
  :mod:`~bayescore.inference.api`: :func:`fit` and the registry of methods.

PyMC is imported only by the routes that run it; numba only by NUTS.
"""

from __future__ import annotations

from bayescore.inference.advi_pymc import elbo_parts
from bayescore.inference.api import METHODS, Method, fit, run
from bayescore.inference.nuts import SAMPLERS
from bayescore.inference.options import FitSettings
from bayescore.inference.record import ELBOParts, VariationalRecord

__all__ = [
    "METHODS",
    "SAMPLERS",
    "ELBOParts",
    "FitSettings",
    "Method",
    "VariationalRecord",
    "elbo_parts",
    "fit",
    "run",
]
