"""Small problems shared by the engine's tests: data with known structure, prior settings."""

from __future__ import annotations

import numpy as np


def make_data(kind: str, n: int = 300, d: int = 3, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    eta = rng.normal(scale=0.8, size=(d, k))
    logits = ((X - X.mean(0)) / X.std(0)) @ eta
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    if kind == "logistic":
        y = (y > 0).astype(int)
    return X, np.array(["a", "b", "c"])[y]


SETTINGS = [
    ("logistic", {}),
    ("softmax", {}),
    ("logistic", {"prior": "student_t", "flat_intercept": True}),
    ("softmax", {"prior": "student_t", "prior_scale": 1.0, "intercept_prior_scale": 4.0}),
]


def pymc_free_names(model) -> list[str]:
    return [v.name for v in model.free_RVs]


def pymc_point(model, theta: np.ndarray) -> dict[str, np.ndarray]:
    """``theta`` (the density's flat layout) as a point of the PyMC model's free variables."""
    point, at = {}, 0
    for name in pymc_free_names(model):
        shape = model.initial_point()[name].shape
        size = int(np.prod(shape))
        point[name] = theta[at : at + size].reshape(shape)
        at += size
    return point
