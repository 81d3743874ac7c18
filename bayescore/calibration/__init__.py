r"""Calibration: reliability tables, the ECE family, decompositions and recalibration.

Top-label calibration: confidence :math:`c_n = \max_k p_{nk}`, correct
:math:`= [\arg\max_k p_{nk} = y_n]`; ECE :math:`= \sum_b (n_b/N)|\mathrm{acc}_b -
\mathrm{conf}_b|`. Everything works on any model's probabilities; nothing here imports
PyMC, PyTensor or ArviZ.

Submodules: :mod:`~bayescore.calibration.metrics` (ECE family, reliability tables),
:mod:`~bayescore.calibration.corp` (CORP: PAV reliability tables, score decomposition),
:mod:`~bayescore.calibration.decomposition` (Brier and log-loss splits, drift),
:mod:`~bayescore.calibration.recalibrate` (temperature, Platt, isotonic) and
:mod:`~bayescore.calibration.classifier` (a calibrated meta-estimator). Every public
function validates its input through :mod:`bayescore._inputs` (labels matched by value) and
computes with the kernels of :mod:`bayescore._array`.
"""

from __future__ import annotations

from bayescore.calibration.classifier import CalibratedBayesianClassifier
from bayescore.calibration.corp import score_decomposition
from bayescore.calibration.decomposition import (
    brier_decomposition,
    calibration_drift,
    log_loss_decomposition,
)
from bayescore.calibration.metrics import (
    bootstrap_calibration_error,
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
    posterior_calibration_error,
    reliability_table,
    smooth_calibration_error,
)
from bayescore.calibration.recalibrate import (
    CalibrationWarning,
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
)

__all__ = [
    "CalibratedBayesianClassifier",
    "CalibrationWarning",
    "IsotonicCalibration",
    "PlattScaling",
    "TemperatureScaling",
    "bootstrap_calibration_error",
    "brier_decomposition",
    "calibration_drift",
    "classwise_calibration_error",
    "expected_calibration_error",
    "log_loss_decomposition",
    "maximum_calibration_error",
    "posterior_calibration_error",
    "reliability_table",
    "score_decomposition",
    "smooth_calibration_error",
]
