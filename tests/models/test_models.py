"""Model construction and correctness against independent references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from bayescore._pymc import import_pymc
from bayescore.models import build_model, model_spec


def test_logistic_map_equals_sklearn_l2(logistic_data):
    """MAP with Normal(0, s) coefficient priors and a flat intercept is sklearn's L2 fit.

    sklearn minimises 0.5 ||w||^2 + C sum(loss); the log posterior is
    -||w||^2 / (2 s^2) - sum(loss), so C = s^2 on the same standardised features.
    """
    pm = import_pymc()
    X, y, _, _ = logistic_data
    s = 0.3  # small enough that the prior visibly shrinks the coefficients
    model = build_model(X, y, prior_scale=s, flat_intercept=True)
    with model:
        map_point = pm.find_MAP(progressbar=False, method="BFGS", options={"gtol": 1e-10})
    Xs = (X - X.mean(0)) / X.std(0)
    ref = LogisticRegression(C=s**2, tol=1e-12, max_iter=10_000).fit(Xs, y)
    np.testing.assert_allclose(map_point["coef"], ref.coef_[0], atol=1e-4)
    np.testing.assert_allclose(map_point["intercept"], ref.intercept_[0], atol=1e-4)
    unpenalised = LogisticRegression(C=1e6, tol=1e-12, max_iter=10_000).fit(Xs, y)
    assert np.abs(unpenalised.coef_[0] - map_point["coef"]).max() > 0.01  # prior matters


def test_standardisation_uses_population_sd_and_keeps_constant_columns():
    X = np.array([[1.0, 7.0, 0.0], [3.0, 7.0, 2.0], [5.0, 7.0, 4.0], [7.0, 7.0, 6.0]])
    model = build_model(X, [0, 1, 0, 1])
    std = model_spec(model).standardization
    np.testing.assert_allclose(std.mean, X.mean(0))
    np.testing.assert_allclose(std.scale, [np.std(X[:, 0], ddof=0), 1.0, np.std(X[:, 2])])


def test_original_scale_coefficients_reproduce_logits(logistic_data):
    """coef_original/intercept_original give the same linear predictor on raw features."""
    pm = import_pymc()
    X, y, _, _ = logistic_data
    model = build_model(X, y)
    with model:
        point = pm.find_MAP(progressbar=False)
    Xs = (X - X.mean(0)) / X.std(0)
    eta_std = point["intercept"] + Xs @ point["coef"]
    eta_raw = point["intercept_original"] + X @ point["coef_original"]
    np.testing.assert_allclose(eta_raw, eta_std, atol=1e-8)


def test_softmax_reference_coding_and_zerosum():
    pm = import_pymc()
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    y = np.array(["a", "b", "c"] * 10)
    ref = build_model(X, y, kind="softmax")
    assert sorted(v.name for v in ref.free_RVs) == ["coef_free", "intercept_free"]
    assert list(ref.coords["class"]) == ["a", "b", "c"]
    with ref:
        draw = pm.sample_prior_predictive(draws=5, random_seed=1).prior
    np.testing.assert_array_equal(draw["intercept"].values[..., 0], 0.0)
    np.testing.assert_array_equal(draw["coef"].values[..., 0], 0.0)
    zs = build_model(X, y, kind="softmax", coding="zerosum")
    with zs:
        draw = pm.sample_prior_predictive(draws=5, random_seed=1).prior
    np.testing.assert_allclose(draw["intercept"].sum("class"), 0.0, atol=1e-12)
    np.testing.assert_allclose(draw["coef"].sum("class"), 0.0, atol=1e-12)


def test_prior_scales_and_student_t_are_configurable():
    pm = import_pymc()
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = [0, 1] * 10
    model = build_model(X, y, prior_scale=0.7, intercept_prior_scale=4.0)
    with model:
        prior = pm.sample_prior_predictive(draws=4000, random_seed=2).prior
    assert prior["coef"].std() == pytest.approx(0.7, rel=0.05)
    assert prior["intercept"].std() == pytest.approx(4.0, rel=0.05)
    t_model = build_model(X, y, prior="student_t", prior_nu=3.0, prior_scale=1.0)
    with t_model:
        t_prior = pm.sample_prior_predictive(draws=4000, random_seed=2).prior
    # Student-t(3) quartiles are +-0.7649 (scipy.stats.t.ppf(0.75, 3)).
    q = np.quantile(t_prior["coef"].values, 0.75)
    assert q == pytest.approx(0.7649, abs=0.04)


def test_minibatch_likelihood_is_unbiased_for_full_data(logistic_data):
    """Minibatch log-likelihood, scaled by total_size, averages to the full-data value."""
    X, y, _, _ = logistic_data
    full = build_model(X, y)
    mini = build_model(X, y, batch_size=150)
    point = {"intercept": np.array(0.3), "coef": np.array([0.5, -0.5, 1.0])}
    full_ll = full.compile_fn(full.logp(vars=full.observed_RVs), inputs=full.value_vars)(point)
    mini_fn = mini.compile_fn(mini.logp(vars=mini.observed_RVs), inputs=mini.value_vars)
    draws = np.array([mini_fn(point) for _ in range(400)])
    assert draws.std() > 0  # the batches really differ
    se = draws.std() / np.sqrt(draws.size)
    assert abs(draws.mean() - full_ll) < 4 * se


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "probit"}, "'kind' parameter of build_model must be one of"),
        ({"prior_scale": 0}, "'prior_scale' parameter of build_model must be a real number > 0"),
        ({"prior": "laplace"}, "'prior' parameter of build_model"),
        ({"coding": "zerosum", "prior": "student_t"}, "coding='zerosum'"),
        ({"y": [0, 1, 2, 0]}, "kind='logistic' needs exactly 2 classes"),
        ({"y": [0, 0, 0, 0]}, "at least 2 classes; got 1 class"),
        ({"y": [0, 1, 0]}, "Shape mismatch: X has 4 rows but y has 3"),
        ({"X": [[0.0], [np.nan], [1.0], [2.0]]}, "Input X contains NaN at row 1, column 0"),
        ({"X": [[0.0], [1.0], [np.inf], [2.0]]}, "Input X contains inf at row 2, column 0"),
        ({"X": [0.0, 1.0, 2.0, 3.0]}, "Expected 2D array"),
        ({"y": np.array(["a", 1, "b", 2], dtype=object)}, "mixes label types"),
        (
            {"classes": ["a", "b"], "y": ["a", "b", "c", "a"]},
            "label 'c' at row 2, not among the classes",
        ),
    ],
)
def test_build_model_errors(kwargs, match):
    args = {"X": [[0.0], [1.0], [2.0], [3.0]], "y": [0, 1, 0, 1], **kwargs}
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises((ValueError, TypeError), match=match):
        build_model(X, y, **args)
