"""Codes shared by the numpy posterior and its compiled twin: each parameter's prior family.

A module of its own so that :mod:`bayescore.inference.posterior` can use the compiled
kernels (:mod:`bayescore.inference.kernels`) that read the same codes without a cycle.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FLAT", "NORMAL", "STUDENT_T"]

#: ``Normal(0, scale)``.
NORMAL: Final = 0
#: ``StudentT(nu, 0, scale)``.
STUDENT_T: Final = 1
#: Improper flat (an intercept with ``flat_intercept=True``).
FLAT: Final = 2
