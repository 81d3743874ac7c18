"""bayescore: uncertainty-aware Bayesian classification.

Fit Bayesian logistic and softmax classifiers with PyMC, score their probabilities with
proper scoring rules, check calibration, and compare models by held-out NLL with paired
standard errors.

Importing the package is light: PyMC and PyTensor load only when a model is built or fitted,
and the scoring functions need nothing beyond numpy, scipy and xarray.

Examples
--------
>>> import bayescore as bs
>>> round(float(bs.log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]])), 6)
0.164252
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# Public name -> module that defines it. Modules load on first attribute access
# (PEP 562), so `import bayescore` stays cheap and never imports pymc.
_LAZY: dict[str, tuple[str, ...]] = {
    "datasets": ("load_dataset", "list_datasets"),
    "models": ("build_model",),
    "inference": ("fit",),
    "inference.resample": ("reweight",),
    "predictive": ("predict_proba_draws", "log_likelihood_draws"),
    "estimators": ("BayesianLogisticClassifier", "BayesianSoftmaxClassifier"),
    "io": ("save", "load"),
    "scoring": (
        "log_loss",
        "nll_from_logits",
        "posterior_predictive_nll",
        "gibbs_nll",
        "brier_score",
        "spherical_score",
        "uncertainty_decomposition",
        "perplexity",
        "uniform_baseline",
        "class_prior_baseline",
        "label_smoothing_nll",
        "class_weighted_nll",
        "focal_loss",
        "pointwise_nll",
        "score",
        "Estimate",
    ),
    "calibration": (
        "reliability_table",
        "expected_calibration_error",
        "maximum_calibration_error",
        "classwise_calibration_error",
        "smooth_calibration_error",
        "posterior_calibration_error",
        "bootstrap_calibration_error",
        "brier_decomposition",
        "log_loss_decomposition",
        "calibration_drift",
        "score_decomposition",
        "TemperatureScaling",
        "CalibrationWarning",
        "PlattScaling",
        "IsotonicCalibration",
        "CalibratedBayesianClassifier",
    ),
    "diagnostics": ("diagnose", "Diagnosis", "ConvergenceWarning"),
    "plots": (
        "reliability_diagram",
        "recalibration_plot",
        "comparison_chart",
        "elbo_trace",
        "risk_coverage_plot",
    ),
    "comparison": (
        "compare",
        "cross_validate",
        "loo",
        "waic",
        "WAIC",
        "loo_compare",
        "ParetoKWarning",
        "ComparisonWarning",
        "nll_crosscheck",
        "NLLCrosscheck",
        "selective_risk",
        "decide",
    ),
    "reporting": ("report",),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted(_WHERE) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bayescore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bayescore.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The public API only: not the helpers this module uses (importlib, Any, annotations).
    return sorted(__all__)
