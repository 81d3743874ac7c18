"""Recalibrators with input="auto": probabilities rounded to a few decimals are not logits.

The reference temperature is the NLL minimiser computed here with scipy, on the values
read the way the test says they must be read.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

import bayescore as bs
from bayescore.calibration.recalibrate import _decimals


def _reference_temperature(log_values, y):
    """argmin_T of -sum log softmax(z / T)[y], with z the given log-probabilities/logits."""

    def nll(log_t):
        logp = log_softmax(log_values / np.exp(log_t), axis=1)
        return -logp[np.arange(y.size), y].sum()

    res = minimize_scalar(nll, bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
    return float(np.exp(res.x))


@pytest.fixture(scope="module")
def forecasts():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 3)) * 2
    y = np.array([rng.choice(3, p=row) for row in softmax(z, axis=1)])
    return softmax(z, axis=1), y


@pytest.mark.parametrize("decimals", [2, 3, 4, 6])
def test_rounded_probabilities_are_read_as_probabilities(forecasts, decimals):
    probs, y = forecasts
    rounded = np.round(probs, decimals)
    assert np.abs(rounded.sum(axis=1) - 1).max() > 1e-6  # not probabilities to 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning: the rounding explains the sums
        fitted = bs.TemperatureScaling().fit(rounded, y)
    with np.errstate(divide="ignore"):
        expected = _reference_temperature(np.maximum(np.log(rounded), -1e300), y)
    assert fitted.temperature_ == pytest.approx(expected, rel=1e-5)
    exact = bs.TemperatureScaling().fit(probs, y).temperature_
    assert fitted.temperature_ == pytest.approx(exact, rel=0.05)  # rounding moves T little
    # input="probs" accepts the same rounding
    explicit = bs.TemperatureScaling(input="probs").fit(rounded, y)
    assert explicit.temperature_ == pytest.approx(fitted.temperature_, rel=1e-12)


def test_values_in_the_unit_interval_whose_rows_are_far_from_one_are_logits(forecasts):
    probs, y = forecasts
    logits = 0.5 * probs + 0.25  # informative scores in [0.25, 0.75]; rows sum to 1.25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = bs.TemperatureScaling().fit(logits, y)
    assert fitted.temperature_ == pytest.approx(_reference_temperature(logits, y), rel=1e-5)


def test_rows_near_one_beyond_rounding_warn_and_are_read_as_probabilities(forecasts):
    probs, y = forecasts
    noisy = probs * (1 - np.random.default_rng(2).uniform(0, 0.02, size=(y.size, 1)))
    assert _decimals(noisy) is None
    with pytest.warns(bs.CalibrationWarning, match=r"cannot tell whether these values are"):
        fitted = bs.TemperatureScaling().fit(noisy, y)
    assert fitted.temperature_ == pytest.approx(_reference_temperature(np.log(noisy), y), 1e-5)


def test_explicit_input_decides_without_a_warning(forecasts):
    probs, y = forecasts
    noisy = probs * (1 - np.random.default_rng(2).uniform(0, 0.02, size=(y.size, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        as_logits = bs.TemperatureScaling(input="logits").fit(noisy, y)
    assert as_logits.temperature_ == pytest.approx(_reference_temperature(noisy, y), 1e-5)
    with pytest.raises(ValueError, match=r"probs rows must sum to 1 \(tolerance"):
        bs.TemperatureScaling(input="probs").fit(noisy, y)


def test_platt_scaling_reads_rounded_binary_probabilities_too():
    rng = np.random.default_rng(3)
    p1 = rng.uniform(0.05, 0.95, 300)
    y = (rng.random(300) < p1).astype(int)
    probs = np.column_stack([1 - p1, p1])
    rounded = np.round(probs, 3)
    # rows now sum to 1 +- 1e-3, as two entries rounded to 3 decimals independently may
    rounded[:, 0] = np.round(rounded[:, 0] + rng.choice([-0.001, 0.0, 0.001], 300), 3)
    assert np.abs(rounded.sum(axis=1) - 1).max() > 1e-6
    platt = bs.PlattScaling(prior_correction=False).fit(rounded, y)
    # as probabilities, the score is the logit log p1 - log p0 of the rounded values
    s = np.log(rounded[:, 1]) - np.log(rounded[:, 0])
    as_logits = bs.PlattScaling(input="logits", prior_correction=False).fit(s, y)
    assert (platt.a_, platt.b_) == pytest.approx((as_logits.a_, as_logits.b_), rel=1e-6)


def test_decimals_of_rounded_values():
    assert _decimals(np.round(np.random.default_rng(0).random(50), 4)) in (3, 4)
    assert _decimals(np.array([0.5, 0.25])) == 2
    assert _decimals(np.array([1 / 3, 0.5])) is None
