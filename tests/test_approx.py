"""Laplace and Pathfinder in numpy: against PyMC's density, by-hand formulas and NUTS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bayescore._vi import pareto_k_hat


def test_pareto_k_hat_measures_the_tail_of_p_over_q():
    """q = N(0, 1), p = N(0, s^2): p/q has Pareto tail shape 1 - 1/s^2 when s > 1 (closed
    form), light tails when s < 1."""
    x = np.random.default_rng(0).standard_normal(20_000)
    for s in (1.5, 3.0):
        ratios = stats.norm.logpdf(x, scale=s) - stats.norm.logpdf(x)
        assert pareto_k_hat(ratios) == pytest.approx(1 - 1 / s**2, abs=0.15)
    narrow = stats.norm.logpdf(x, scale=0.7) - stats.norm.logpdf(x)
    assert pareto_k_hat(narrow) < 0.5
