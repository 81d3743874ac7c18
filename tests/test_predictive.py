"""Posterior predictive probabilities and log-likelihood against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, log_softmax, softmax

from bayescore.predictive import log_likelihood_draws, predict_logits_draws, predict_proba_draws


def _manual_softmax_probs(idata, X):
    post = idata.posterior
    a = post["intercept"].values  # (chain, draw, class)
    B = post["coef"].values  # (chain, draw, feature, class)
    Xs = (X - X.mean(0)) / X.std(0)
    return softmax(a[:, :, None, :] + np.einsum("nf,cdfk->cdnk", Xs, B), axis=-1)


def test_softmax_probabilities_match_direct_formula(softmax_nuts, softmax_data):
    X, *_ = softmax_data
    probs = predict_proba_draws(softmax_nuts, X[:50])
    assert probs.dims == ("chain", "draw", "obs", "class")
    np.testing.assert_allclose(probs.values, _manual_softmax_probs(softmax_nuts, X)[:, :, :50])
    np.testing.assert_allclose(probs.sum("class"), 1.0, atol=1e-12)
    assert probs["class"].values.tolist() == [0, 1, 2]


def test_original_scale_coefficients_give_same_probabilities(logistic_nuts, logistic_data):
    X, *_ = logistic_data
    post = logistic_nuts.posterior
    eta = post["intercept_original"].values[..., None] + np.einsum(
        "nf,cdf->cdn", X[:40], post["coef_original"].values
    )
    probs = predict_proba_draws(logistic_nuts, X[:40])
    np.testing.assert_allclose(probs.sel({"class": 1}).values, expit(eta), rtol=1e-10)


def test_chunking_does_not_change_results(softmax_nuts, softmax_data):
    X, *_ = softmax_data
    a = predict_proba_draws(softmax_nuts, X[:30])
    b = predict_proba_draws(softmax_nuts, X[:30], chunk_size=7)
    np.testing.assert_array_equal(a.values, b.values)


def test_log_likelihood_matches_log_softmax_and_defaults_to_training(softmax_nuts, softmax_data):
    X, y, *_ = softmax_data
    ll = log_likelihood_draws(softmax_nuts)
    manual = log_softmax(np.log(_manual_softmax_probs(softmax_nuts, X)), axis=-1)
    expected = np.take_along_axis(manual, y[None, None, :, None], axis=-1)[..., 0]
    np.testing.assert_allclose(ll.values, expected, atol=1e-10)
    again = log_likelihood_draws(softmax_nuts, X, y)
    np.testing.assert_array_equal(ll.values, again.values)


def test_logistic_log_likelihood_is_finite_for_huge_logits(logistic_nuts):
    X = np.array([[1e6, 0.0, 0.0], [-1e6, 0.0, 0.0]])
    ll = log_likelihood_draws(logistic_nuts, X, [0, 0])
    logits = predict_logits_draws(logistic_nuts, X).values
    expected = log_softmax(logits, axis=-1)[..., 0]
    assert np.isfinite(ll.values).all()
    np.testing.assert_allclose(ll.values, expected, rtol=1e-12)


def test_dataframe_index_becomes_obs_coord(logistic_nuts, logistic_data):
    X, *_ = logistic_data
    frame = pd.DataFrame(X[:3], index=["a", "b", "c"])
    probs = predict_proba_draws(logistic_nuts, frame)
    assert probs["obs"].values.tolist() == ["a", "b", "c"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda i: predict_proba_draws(i, np.zeros((2, 5))), "X has 5 features, but the model"),
        (lambda i: predict_proba_draws(i, np.zeros((2, 3)), chunk_size=0), "'chunk_size'"),
        (lambda i: log_likelihood_draws(i, np.zeros((2, 3)), [0, 7]), "label 7 at row 1"),
        (lambda i: log_likelihood_draws(i, np.zeros((2, 3))), "Pass both X and y"),
        (lambda i: predict_proba_draws(object(), np.zeros((2, 3))), "Expected a fitted"),
    ],
)
def test_predictive_errors(call, match, logistic_nuts):
    with pytest.raises((ValueError, TypeError), match=match):
        call(logistic_nuts)
