"""Shared fixtures: synthetic data with known parameters and fits reused across tests.

Each PyMC graph is compiled once per session (a cold compile costs ~10 s); fits use small
draws so the suite stays fast on 2 cores.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def simulate_logistic(n: int, seed: int = 0):
    """Binary data with known original-scale intercept and coefficients."""
    rng = np.random.default_rng(seed)
    # Different locations and scales so the in-model standardisation matters.
    X = rng.normal(size=(n, 3)) * np.array([1.0, 4.0, 0.25]) + np.array([0.0, 2.0, -1.0])
    intercept, coef = 0.5, np.array([1.0, -0.3, 2.0])
    p = 1.0 / (1.0 + np.exp(-(intercept + X @ coef)))
    y = (rng.random(n) < p).astype(int)
    return X, y, intercept, coef


def simulate_softmax(n: int, seed: int = 1):
    """Three-class data with known reference-coded original-scale parameters."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * np.array([1.0, 3.0]) + np.array([1.0, 0.0])
    intercept = np.array([0.0, 0.5, -0.5])
    coef = np.array([[0.0, 1.5, -1.0], [0.0, -0.2, 0.4]])
    logits = intercept + X @ coef
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    return X, y, intercept, coef


@pytest.fixture(scope="session")
def logistic_data():
    return simulate_logistic(1500)


@pytest.fixture(scope="session")
def softmax_data():
    return simulate_softmax(1500)


@pytest.fixture(scope="session")
def logistic_model(logistic_data):
    from bayescore.models import build_model

    X, y, _, _ = logistic_data
    return build_model(X, y, kind="logistic")


@pytest.fixture(scope="session")
def logistic_nuts(logistic_model):
    from bayescore.inference import fit

    return fit(logistic_model, "nuts", draws=500, tune=500, chains=2, random_seed=11, warn=False)


@pytest.fixture(scope="session")
def softmax_nuts(softmax_data):
    from bayescore.inference import fit
    from bayescore.models import build_model

    X, y, _, _ = softmax_data
    model = build_model(X, y, kind="softmax")
    return fit(model, "nuts", draws=500, tune=500, chains=2, random_seed=12, warn=False)
